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
        default: ib_strbuf_append_n(b, s, 1);
        }
}

int ib_write_strbuf(const char *dir, const char *name, const ib_strbuf *b, ib_err *err) {
    char path[4600];
    ib_snprintf(path, sizeof path, "%s/%s", dir, name);
    return ib_write_file_atomic(path, ib_strbuf_str(b), b->len, err);
}
