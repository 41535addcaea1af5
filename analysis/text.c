#include "text.h"

#include <math.h>

const char *ib_sig3(double v) {
    static char ring[64][32];
    static int next;
    char *buf = ring[next++ & 63];
    if (isnan(v)) return strcpy(buf, "n/a");
    ib_snprintf(buf, 32, "%.3g", v);
    return buf;
}

void ib_html_escape(ib_strbuf *b, const char *s) {
    for (; *s; s++) switch (*s) {
        case '<': ib_strbuf_append(b, "&lt;"); break;
        case '>': ib_strbuf_append(b, "&gt;"); break;
        case '&': ib_strbuf_append(b, "&amp;"); break;
        case '"': ib_strbuf_append(b, "&quot;"); break;
        case '\'': ib_strbuf_append(b, "&#39;"); break;
        default: ib_strbuf_append_n(b, s, 1);
        }
}

void ib_md_text(ib_strbuf *b, const char *s) {
    for (; *s; s++) switch (*s) {
        case '<': ib_strbuf_append(b, "&lt;"); break;
        case '>': ib_strbuf_append(b, "&gt;"); break;
        case '&': ib_strbuf_append(b, "&amp;"); break;
        case '\r':
        case '\n': ib_strbuf_append(b, " "); break;
        case '\\': case '`': case '[': case ']': case '|': case '*': case '_':
            ib_strbuf_append(b, "\\");
            ib_strbuf_append_n(b, s, 1);
            break;
        default: ib_strbuf_append_n(b, s, 1);
        }
}

void ib_md_code(ib_strbuf *b, const char *s) {
    int longest = 0, run = 0;
    for (const char *p = s; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest) longest = run;
    }
    for (int i = 0; i <= longest; i++) ib_strbuf_append(b, "`");
    ib_strbuf_append(b, " ");
    for (; *s; s++) ib_strbuf_append_n(b, *s == '\r' || *s == '\n' ? " " : s, 1);
    ib_strbuf_append(b, " ");
    for (int i = 0; i <= longest; i++) ib_strbuf_append(b, "`");
}

void ib_csv_field(ib_strbuf *b, const char *s) {
    size_t n = strlen(s);
    if (!strpbrk(s, ",\"\r\n") && !(n && (s[0] == ' ' || s[n - 1] == ' '))) {
        ib_strbuf_append(b, s);
        return;
    }
    ib_strbuf_append(b, "\"");
    for (; *s; s++) {
        if (*s == '"') ib_strbuf_append(b, "\"");
        ib_strbuf_append_n(b, s, 1);
    }
    ib_strbuf_append(b, "\"");
}

int ib_write_strbuf(const char *dir, const char *name, const ib_strbuf *b, ib_err *err) {
    char path[4600];
    ib_snprintf(path, sizeof path, "%s/%s", dir, name);
    return ib_write_file_atomic(path, ib_strbuf_str(b), b->len, err);
}
