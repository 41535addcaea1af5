/* libFuzzer harness: the report writer (analysis/) with arbitrary names. Every string a report
 * shows (preset, optimizer, init scheme, net, label, sweep dir, layer names, run dirs, reasons,
 * seeds, the command line) comes from the input; the shape and the numbers of one or two
 * aggregated sweeps come from its first 8 bytes. The writers run as `report` runs them (the
 * tables, index.html and summary.md, the gnuplot scripts through a plotter that only collects
 * them) and the outputs are checked; a violation aborts:
 *   - HTML: every '<' opens a tag the program writes, with only the program's attributes and
 *     plain values, and no '>' or stray '&' is outside a tag or entity;
 *   - Markdown: no '<' outside code spans, every line starts as one the program writes (no new
 *     block);
 *   - gnuplot: no backtick, double quote, backslash or '@' in any script line, '$' only as a
 *     column ($2), single quotes balanced, every word outside quotes a word the program writes,
 *     data lines only numbers;
 *   - CSV: parses as RFC 4180, and every record has the header's column count.
 *
 * Input: 8 bytes of shape (sweeps, layers, groups, runs per group, statistics steps, curve
 * points, format and NaN flags, a seed for the numbers), then the strings, separated by NUL
 * bytes, taken in order; missing ones are empty. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "gnuplot.h"
#include "page.h"
#include "strbuf.h"
#include "table.h"

/* The checks are the oracle, not code under test: no coverage feedback from their loops (it
 * would only slow the run and steer the fuzzer towards the checker). */
#define ORACLE __attribute__((no_sanitize("coverage")))

#define CHECK(cond, ...)                                                                                              \
    do {                                                                                                              \
        if (!(cond)) {                                                                                                \
            fprintf(stderr, "fuzz_report: " __VA_ARGS__);                                                             \
            fputc('\n', stderr);                                                                                      \
            abort();                                                                                                  \
        }                                                                                                             \
    } while (0)

/* ---- the input ---- */

typedef struct input {
    const char *p, *end;
    uint64_t rng;
} input;

/* the next NUL-separated string, copied into buf (truncated to n) */
static void next_str(input *in, char *buf, size_t n) {
    const char *q = in->p;
    while (q < in->end && *q) q++;
    size_t len = (size_t)(q - in->p);
    if (len >= n) len = n - 1;
    memcpy(buf, in->p, len);
    buf[len] = 0;
    in->p = q < in->end ? q + 1 : in->end;
}

static uint32_t rnd(input *in) { /* xorshift64* */
    in->rng ^= in->rng >> 12, in->rng ^= in->rng << 25, in->rng ^= in->rng >> 27;
    return (uint32_t)((in->rng * 2685821657736338717ULL) >> 32);
}

/* a value in (0, scale], NaN now and then when nan_ok */
static double value(input *in, double scale, int nan_ok) {
    uint32_t r = rnd(in);
    if (nan_ok && r % 17 == 0) return NAN;
    return scale * ((r % 1000) + 1) / 1000.0;
}

/* One sweep, laid out as ib_sweep_load leaves it (arrays from ib_xcalloc, freed by ib_sweep_free). */
static void build_sweep(ib_sweep_agg *s, input *in, const uint8_t *h) {
    memset(s, 0, sizeof *s);
    int nan_ok = h[6] & 8;
    next_str(in, s->preset, sizeof s->preset);
    next_str(in, s->optimizer, sizeof s->optimizer);
    next_str(in, s->init_scheme, sizeof s->init_scheme);
    next_str(in, s->net, sizeof s->net);
    next_str(in, s->net_given, sizeof s->net_given);
    next_str(in, s->label, sizeof s->label);
    next_str(in, s->dir, sizeof s->dir);
    s->lr = 1e-3, s->eps = 1e-8, s->steps = 100, s->stuck_below = 0.2;
    s->thresholds[0] = 0.90, s->thresholds[1] = 0.97, s->thresholds[2] = 0.99;
    s->n_layers = h[1] % 5;
    for (int l = 0; l < s->n_layers; l++) next_str(in, s->layer[l], sizeof s->layer[l]);
    const int G = 1 + h[2] % 3, R = 1 + h[3] % 2, K = h[4] % 3, C = h[5] % 4, L = s->n_layers;
    const long long s0 = h[4] & 16 ? 10 : 0; /* without step 0 now and then: no verdicts */
    s->n_runs = G * R;
    s->runs = ib_xcalloc((size_t)s->n_runs, sizeof *s->runs);
    s->n_groups = G;
    s->groups = ib_xcalloc((size_t)G, sizeof *s->groups);
    for (int gi = 0; gi < G; gi++) {
        ib_group *g = &s->groups[gi];
        g->stddev = pow(10, -4 + 2 * gi);
        g->n_runs = R;
        g->runs = ib_xcalloc((size_t)R, sizeof *g->runs);
        for (int k = 0; k < R; k++) {
            int i = gi * R + k;
            ib_run *r = &s->runs[i];
            g->runs[k] = i;
            r->index = i, r->repeat = k, r->stddev = g->stddev, r->bias_init = g->stddev;
            next_str(in, r->rel, sizeof r->rel);
            next_str(in, r->reason, sizeof r->reason);
            next_str(in, r->seed, sizeof r->seed);
            ib_snprintf(r->path, sizeof r->path, "%s/%s", s->dir, r->rel);
            r->status = (ib_run_state)(rnd(in) % IB_RUN_NSTATES);
            if (r->status == IB_RUN_PENDING) r->status = IB_RUN_MISSING;
            g->count[r->status]++;
            r->diverged_step = r->status == IB_RUN_DIVERGED ? 50 : -1;
            r->n_curve = C;
            r->step = ib_xcalloc((size_t)C + 1, sizeof *r->step);
            r->acc = ib_xcalloc((size_t)C + 1, sizeof *r->acc);
            r->loss = ib_xcalloc((size_t)C + 1, sizeof *r->loss);
            r->train_loss = ib_xcalloc((size_t)C + 1, sizeof *r->train_loss);
            for (int q = 0; q < C; q++) {
                r->step[q] = 50LL * q;
                r->acc[q] = value(in, 1, nan_ok);
                r->loss[q] = r->train_loss[q] = value(in, 3, nan_ok);
            }
            r->final_acc = C ? r->acc[C - 1] : NAN;
            r->final_step = C ? r->step[C - 1] : -1;
            r->stuck = r->status == IB_RUN_COMPLETE && r->final_acc < s->stuck_below;
            g->n_stuck += r->stuck;
            for (int t = 0; t < IB_AGG_NTHR; t++) r->reach[t] = C && r->final_acc >= s->thresholds[t] ? r->final_step : -1;
            r->n_sstep = K;
            r->sstep = ib_xcalloc((size_t)K + 1, sizeof *r->sstep);
            r->stats = ib_xcalloc((size_t)K * L * IB_NFIELDS + 1, sizeof *r->stats);
            for (int q = 0; q < K; q++) r->sstep[q] = s0 + 50LL * q;
            for (size_t j = 0; j < (size_t)K * L * IB_NFIELDS; j++) r->stats[j] = value(in, 1, nan_ok);
            if (r->status == IB_RUN_COMPLETE && C) {
                g->n_final++;
                for (int t = 0; t < IB_AGG_NTHR; t++) g->n_reach[t] += r->reach[t] >= 0;
            }
        }
        g->final_mean = g->n_final ? value(in, 1, nan_ok) : NAN;
        g->final_std = g->n_final ? value(in, 0.1, nan_ok) : NAN;
        g->final_min = g->n_final ? g->final_mean / 2 : NAN;
        g->final_max = g->n_final ? g->final_mean : NAN;
        for (int t = 0; t < IB_AGG_NTHR; t++) {
            g->reach_mean[t] = g->n_reach[t] ? 100 : NAN;
            g->reach_min[t] = g->reach_max[t] = g->reach_mean[t];
        }
        g->n_points = C;
        g->step = ib_xcalloc((size_t)C + 1, sizeof *g->step);
        g->mean = ib_xcalloc((size_t)C + 1, sizeof *g->mean);
        g->std = ib_xcalloc((size_t)C + 1, sizeof *g->std);
        g->n = ib_xcalloc((size_t)C + 1, sizeof *g->n);
        for (int q = 0; q < C; q++) {
            g->step[q] = 50LL * q;
            g->mean[q] = value(in, 1, nan_ok);
            g->std[q] = value(in, 0.1, nan_ok);
            g->n[q] = R;
        }
        g->n_sstep = K;
        g->sstep = ib_xcalloc((size_t)K + 1, sizeof *g->sstep);
        g->stats = ib_xcalloc((size_t)K * L * IB_NFIELDS + 1, sizeof *g->stats);
        g->stats_n = ib_xcalloc((size_t)K + 1, sizeof *g->stats_n);
        for (int q = 0; q < K; q++) g->sstep[q] = s0 + 50LL * q, g->stats_n[q] = R;
        for (size_t j = 0; j < (size_t)K * L * IB_NFIELDS; j++) g->stats[j] = value(in, 1, nan_ok);
    }
}

/* ---- HTML ---- */

static const char *const TAGS[] = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p",
                                   "ul", "ol", "li", "a", "code", "table", "tr", "th", "td", "b", "br",
                                   "span", "figure", "figcaption", "div", NULL};
static const char *const ATTRS[] = {"lang", "charset", "id", "href", "class", NULL};

ORACLE static int in_list(const char *const *list, const char *w, size_t n) {
    for (; *list; list++)
        if (strlen(*list) == n && !strncmp(*list, w, n)) return 1;
    return 0;
}

ORACLE static int is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* One tag from p ('<') to its '>': a known name, then known attributes with plain values. Returns
 * the position after '>'. */
ORACLE static const char *check_tag(const char *p) {
    static const char doctype[] = "<!DOCTYPE html>";
    if (!strncmp(p, doctype, sizeof doctype - 1)) return p + sizeof doctype - 1;
    const char *q = p + 1;
    if (*q == '/') q++;
    const char *name = q;
    while (is_alnum(*q)) q++;
    CHECK(in_list(TAGS, name, (size_t)(q - name)), "HTML: unknown tag at '%.60s'", p);
    for (;;) {
        if (*q == '>') return q + 1;
        CHECK(*q == ' ', "HTML: junk in tag at '%.60s'", p);
        q++;
        const char *an = q;
        while ((*q >= 'a' && *q <= 'z') || *q == '-') q++;
        CHECK(in_list(ATTRS, an, (size_t)(q - an)), "HTML: unknown attribute at '%.60s'", an);
        if (*q != '=') continue;
        q++;
        if (*q == '\'') {
            for (q++; *q != '\''; q++) CHECK(*q && (is_alnum(*q) || strchr("#-_ ", *q)), "HTML: attribute value at '%.60s'", an);
            q++;
        } else {
            for (; *q != ' ' && *q != '>'; q++) CHECK(*q && (is_alnum(*q) || strchr("#-_", *q)), "HTML: attribute value at '%.60s'", an);
        }
    }
}

ORACLE static void check_html(const char *html) {
    for (const char *p = html; *p;) {
        if (*p == '<' && !strncmp(p, "<style>", 7)) { /* the program's CSS, up to its end tag */
            const char *end = strstr(p, "</style>");
            CHECK(end && !memchr(p + 7, '<', (size_t)(end - p - 7)), "HTML: the style element");
            p = end;
        }
        if (*p == '<') {
            p = check_tag(p);
        } else if (*p == '&') {
            const char *q = p + 1;
            if (*q == '#') q++;
            while (is_alnum(*q)) q++;
            CHECK(q > p + 1 && *q == ';', "HTML: a bare '&' at '%.60s'", p);
            p = q + 1;
        } else {
            CHECK(*p != '>', "HTML: a '>' outside a tag at '%.60s'", p);
            p++;
        }
    }
}

/* ---- Markdown ---- */

ORACLE static void check_md(const char *md) {
    static const char *const starts[] = {"# initbench report", "## ", "### ", "Generated ", "Sweep ", "| ", "|---",
                                         "Runs not complete", "- ", "   *Measured:* ", "**In short.**",
                                         "Where a vanishing", NULL};
    /* no '<' outside code spans (a code span shows its text literally); a backslash escapes the
     * next character, so an escaped backtick opens no span */
    for (const char *p = md; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '`') {
            size_t k = strspn(p, "`");
            const char *q = p + k, *close = NULL;
            while ((q = strchr(q, '`'))) {
                size_t m = strspn(q, "`");
                if (m == k) {
                    close = q;
                    break;
                }
                q += m;
            }
            p = close ? close + k - 1 : p + k - 1;
        } else {
            CHECK(*p != '<', "Markdown: a '<' at '%.60s'", p);
        }
    }
    for (const char *line = md; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        int ok = n == 0;
        for (int i = 0; !ok && starts[i]; i++) ok = !strncmp(line, starts[i], strlen(starts[i]));
        if (!ok) { /* "N. " of the numbered claims */
            const char *q = line;
            while (*q >= '0' && *q <= '9') q++;
            ok = q > line && q[0] == '.' && q[1] == ' ';
        }
        CHECK(ok, "Markdown: a line the program does not write: '%.60s'", line);
        line += n + (nl ? 1 : 0);
    }
}

/* ---- gnuplot ---- */

/* the words the program writes outside quotes in its scripts (figures.c, gnuplot.c) */
static const char *const GP_WORDS[] = {
    "reset", "set", "unset", "plot", "DAT", "index", "using", "with", "lines", "linespoints", "points",
    "yerrorlines", "filledcurves", "image", "pixels", "title", "notitle", "lt", "lc", "lw", "dt", "pt", "ps",
    "fs", "transparent", "solid", "noborder", "rgb", "terminal", "svg", "pngcairo", "pdfcairo", "size",
    "dynamic", "enhanced", "font", "background", "output", "encoding", "utf8", "termoption", "linetype",
    "cycle", "grid", "noxtics", "noytics", "border", "key", "noautotitle", "xlabel", "ylabel", "cblabel",
    "yrange", "xrange", "cbrange", "logscale", "x", "y", "xy", "format", "offsets", "graph", "bottom",
    "top", "left", "right", "outside", "xtics", "ytics", "palette", "rgbformulae", "multiplot", "layout",
    "in", "e", NULL};

ORACLE static void check_script_line(const char *line, size_t n, const char *name) {
    int quoted = 0;
    for (size_t i = 0; i < n; i++) {
        char c = line[i];
        CHECK(c != '`' && c != '"' && c != '\\' && c != '@', "gnuplot %s: '%c' in '%.*s'", name, c, (int)n, line);
        if (c == '\'') {
            quoted = !quoted;
            continue;
        }
        if (quoted) continue;
        CHECK(c != '$' || (i + 1 < n && line[i + 1] >= '0' && line[i + 1] <= '9'), "gnuplot %s: '$' in '%.*s'", name,
              (int)n, line);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) { /* a word, unless inside a number (1e-05) */
            size_t j = i;
            while (j < n && ((line[j] >= 'a' && line[j] <= 'z') || (line[j] >= 'A' && line[j] <= 'Z') ||
                             (line[j] >= '0' && line[j] <= '9')))
                j++;
            int in_number = i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9';
            CHECK(in_number || in_list(GP_WORDS, line + i, j - i),
                  "gnuplot %s: word '%.*s' outside quotes in '%.*s'", name, (int)(j - i), line + i, (int)n, line);
            i = j - 1;
        }
    }
    CHECK(!quoted, "gnuplot %s: unbalanced quote in '%.*s'", name, (int)n, line);
}

ORACLE static void check_scripts(const char *all) {
    int section = 0; /* 1 data, 2 script */
    char name[80] = "";
    for (const char *line = all; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (!strncmp(line, "#### data ", 10) || !strncmp(line, "#### script ", 12)) {
            section = line[5] == 'd' ? 1 : 2;
            ib_snprintf(name, sizeof name, "%.*s", (int)n - 5, line + 5);
        } else if (section == 1) {
            for (size_t i = 0; i < n; i++)
                CHECK(strchr("0123456789.+-e nanif", line[i]), "gnuplot %s: data line '%.*s'", name, (int)n, line);
        } else {
            CHECK(section == 2, "gnuplot: text before the first section");
            check_script_line(line, n, name);
        }
        line += n + (nl ? 1 : 0);
    }
}

/* ---- CSV (RFC 4180) ---- */

ORACLE static void check_csv(const char *file, const char *t) {
    int header = -1, cols = 1, row = 0;
    const char *p = t;
    CHECK(*t && t[strlen(t) - 1] == '\n', "%s: does not end with a newline", file);
    while (*p) {
        if (*p == '"') { /* a quoted field: "" is a quote; the closing quote ends it */
            for (p++;; p++) {
                CHECK(*p, "%s row %d: unterminated quoted field", file, row);
                if (*p == '"') {
                    if (p[1] == '"') p++;
                    else break;
                }
            }
            p++;
            CHECK(*p == ',' || *p == '\n', "%s row %d: text after a quoted field", file, row);
        } else {
            while (*p && *p != ',' && *p != '\n') {
                CHECK(*p != '"' && *p != '\r', "%s row %d: a quote or CR in an unquoted field", file, row);
                p++;
            }
        }
        if (*p == ',') {
            cols++;
            p++;
        } else if (*p == '\n') {
            if (header < 0) header = cols;
            CHECK(cols == header, "%s row %d: %d columns, the header has %d", file, row, cols, header);
            row++, cols = 1, p++;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 8 || size > 1 << 14) return 0;
    input in = {(const char *)data + 8, (const char *)data + size, 0x9E3779B97F4A7C15ULL ^ data[7]};
    const int n = 1 + (data[0] & 1);
    ib_sweep_agg *S = ib_xcalloc((size_t)n, sizeof *S);
    for (int i = 0; i < n; i++) build_sweep(&S[i], &in, data);
    char command[512];
    next_str(&in, command, sizeof command);

    for (int t = 0; t < IB_N_TABLES; t++) {
        ib_strbuf b = {0};
        ib_table_build(t, S, n, &b);
        check_csv(ib_table_file(t), ib_strbuf_str(&b));
        ib_strbuf_free(&b);
    }
    static const char *const formats[] = {"svg", "png", "pdf"};
    ib_strbuf scripts = {0}, html = {0}, md = {0};
    ib_plotter P;
    ib_plotter_open_scripts(&P, formats[data[6] % 3], &scripts);
    ib_page_build(&P, S, n, command, 0.5, &html, &md);
    ib_plotter_close(&P);
    check_html(ib_strbuf_str(&html));
    check_md(ib_strbuf_str(&md));
    check_scripts(ib_strbuf_str(&scripts));
    ib_strbuf_free(&scripts);
    ib_strbuf_free(&html);
    ib_strbuf_free(&md);
    for (int i = 0; i < n; i++) ib_sweep_free(&S[i]);
    free(S);
    return 0;
}
