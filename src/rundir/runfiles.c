/* curve.csv and stats.csv read back (see runfiles.h). */
#include "runfiles.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ib_stats_tensor_names[IB_STATS_NTENSORS] = {
    "weight", "bias", "preact", "act", "act_grad", "weight_grad", "bias_grad", "update", "bias_update"};
const char *const ib_stats_col_names[IB_STATS_NCOLS] = {
    "n",   "l2",        "rms",            "mean",           "std",          "min",       "max",
    "frac_zero", "frac_saturated", "frac_nonfinite", "update_ratio", "sqrt_v_rms", "frac_sqrt_v_below_eps"};

#define CSV_MAX_COLS 64 /* columns of a header (the writers use 16) */

/* ---- RFC 4180, in place ------------------------------------------------------------------------ */

typedef ib_csv csv;

/* "PATH: line N: field 'NAME'" (or "field K" before the header is known) and the rule broken. */
static int csv_fail(const csv *c, ib_err *err, long line, int col, const char *rule) {
    if (c->names && col >= 0 && col < c->n_names)
        return ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: field '%.*s': %s", c->path, line, (int)c->name_len[col],
                       c->names[col], rule);
    return ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: field %d: %s", c->path, line, col + 1, rule);
}

/* The bytes that end an unquoted field (or are not allowed in one). */
static const unsigned char csv_special[256] = {[','] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1};

int ib_csv_record(csv *c, char **f, size_t *fl, int max, long *line, ib_err *err) {
    char *p = c->p, *end = c->end;
    while (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))) {
        p += *p == '\r' ? 2 : 1;
        c->line++;
    }
    if (p >= end) {
        c->p = p;
        return 0;
    }
    *line = c->line;
    int n = 0;
    for (;;) {
        char *start, *stop;
        if (p < end && *p == '"') {
            char *w = start = ++p;
            for (;;) {
                if (p >= end) return csv_fail(c, err, *line, n, "a quoted field is not closed"), -1;
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (*p == '\n') c->line++;
                *w++ = *p++;
            }
            stop = w;
        } else {
            start = p;
            while (p < end && !csv_special[(unsigned char)*p]) p++;
            if (p < end && *p == '"') return csv_fail(c, err, *line, n, "a quote inside an unquoted field"), -1;
            stop = p;
        }
        if (n < max) {
            f[n] = start;
            fl[n] = (size_t)(stop - start);
        }
        n++;
        if (p >= end) break;
        if (*p == ',') { /* at the very end ("a,b,"): the loop adds the last, empty, field */
            p++;
            continue;
        }
        if (*p == '\r') {
            if (p + 1 >= end || p[1] != '\n')
                return csv_fail(c, err, *line, n - 1, "a carriage return without a newline"), -1;
            p++;
        }
        if (*p == '\n') {
            p++;
            c->line++;
            break;
        }
        return csv_fail(c, err, *line, n - 1, "text after a closing quote"), -1;
    }
    c->p = p;
    return n;
}

/* PATH = DIR/NAME read whole into *data when it exists (*present). */
static int read_csv_file(const char *run_dir, const char *name, char *path, size_t plen, char **data, size_t *len,
                         int *present, ib_err *err) {
    *data = NULL;
    *present = 0;
    if (ib_snprintf(path, plen, "%s/%s", run_dir, name) >= (int)plen)
        return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", run_dir);
    if (!ib_path_exists(path)) return 0;
    *present = 1;
    uint8_t *d;
    if (ib_read_file(path, &d, len, err)) return err->code;
    if (memchr(d, 0, *len)) {
        free(d);
        return ib_fail(err, IB_EXIT_USAGE, "%s: holds a NUL byte (not a CSV file)", path);
    }
    *data = (char *)d;
    return 0;
}

/* The header: every name a name, none twice. Sets c->names for messages; finds each of want[]
 * (col[k], -1 when absent). */
static int read_header(csv *c, char **f, size_t *fl, int *ncols, const char *const *want, int nwant, int *col,
                       ib_err *err) {
    long line = 1;
    int n = ib_csv_record(c, f, fl, CSV_MAX_COLS, &line, err);
    if (n < 0) return err->code;
    if (n == 0) return ib_fail(err, IB_EXIT_USAGE, "%s: line 1: no header", c->path);
    if (n > CSV_MAX_COLS)
        return ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: header: more than %d columns", c->path, line, CSV_MAX_COLS);
    for (int k = 0; k < nwant; k++) col[k] = -1;
    for (int i = 0; i < n; i++) {
        if (!ib_name_ok_n(f[i], fl[i]))
            return csv_fail(c, err, line, i, "a column name must be a name ([A-Za-z0-9_.-], 1 to 31 characters)");
        for (int j = 0; j < i; j++)
            if (fl[j] == fl[i] && !memcmp(f[j], f[i], fl[i]))
                return ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: header: column '%.*s' twice", c->path, line,
                               (int)fl[i], f[i]);
        for (int k = 0; k < nwant; k++)
            if (strlen(want[k]) == fl[i] && !memcmp(want[k], f[i], fl[i])) col[k] = i;
    }
    c->names = f;
    c->name_len = fl;
    c->n_names = n;
    *ncols = n;
    return 0;
}

/* Rows a file of len bytes can hold: at most one per newline, plus a last one without. */
static size_t max_rows(const char *data, size_t len) {
    size_t n = 1;
    for (const char *p = data, *e = data + len; (p = memchr(p, '\n', (size_t)(e - p))); p++) n++;
    return n;
}

/* ---- rows: each field's role, one reader for both files ------------------------------------------ */

/* What a column holds: a number (its index into the row's numbers, >= 0) or one of these. */
enum { ROLE_SKIP = -1, ROLE_STEP = -2, ROLE_LAYER = -3, ROLE_TENSOR = -4 };

typedef struct row {
    long line;
    long long step;
    const char *layer, *tensor; /* in the file's buffer, not NUL-terminated */
    size_t layer_len, tensor_len;
    double *num; /* the caller's, one per number column; NAN where the file has no such column */
} row;

/* The common case, parsed as it is scanned: a row of plain fields (no quotes) that are all
 * valid. Returns 1 with the row read, 0 to leave it to slow_row, which says what is wrong with it
 * (or reads its quoted fields); nothing is consumed then. */
static int fast_row(csv *c, const int *role, int ncols, row *o) {
    const char *p = c->p, *end = c->end;
    if (p >= end || *p == '\n' || *p == '\r') return 0;
    for (int i = 0; i < ncols; i++) {
        const char *f = p;
        int r = role[i];
        if (r >= 0) {
            if (p < end && *p != ',' && *p != '\n' && *p != '\r') {
                p = ib_parse_real_prefix(p, end, &o->num[r]);
                if (!p) return 0; /* nan, inf or no number: slow_row decides */
            } else {
                o->num[r] = NAN; /* empty */
            }
        } else if (r == ROLE_STEP) {
            long long v = 0;
            while (p < end && (unsigned)(*p - '0') < 10 && p - f < 15) v = v * 10 + (*p++ - '0');
            if (p == f) return 0;
            o->step = v;
        } else {
            p += strcspn(p, ",\n\r\""); /* the buffer ends in a NUL and holds no other */
            if (r == ROLE_LAYER) o->layer = f, o->layer_len = (size_t)(p - f);
            if (r == ROLE_TENSOR) o->tensor = f, o->tensor_len = (size_t)(p - f);
        }
        if (i < ncols - 1) {
            if (p >= end || *p != ',') return 0;
            p++;
        } else if (p < end) {
            if (*p == '\r' && p + 1 < end && p[1] == '\n') p++;
            if (*p != '\n') return 0;
            p++;
        }
    }
    o->line = c->line;
    c->line += p[-1] == '\n';
    c->p = (char *)p;
    return 1;
}

/* The general case (quoted fields, and every row fast_row leaves): the next record through the
 * RFC 4180 reader, each field converted by its role. Returns 1 with the row read, 0 at the end,
 * -1 (err naming file, line and field) when the row breaks a rule. */
static int slow_row(csv *c, char **f, size_t *fl, const int *role, int ncols, row *o, ib_err *err) {
    int n = ib_csv_record(c, f, fl, ncols, &o->line, err);
    if (n <= 0) return n;
    if (n != ncols) {
        ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: %d fields, the header has %d", c->path, o->line, n, ncols);
        return -1;
    }
    for (int i = 0; i < ncols; i++) {
        int r = role[i];
        if (r >= 0 && !ib_parse_csv_number(f[i], fl[i], &o->num[r]))
            return csv_fail(c, err, o->line, i, "not a number (a decimal number, nan, inf or empty)"), -1;
        if (r == ROLE_STEP && !ib_parse_step(f[i], fl[i], &o->step))
            return csv_fail(c, err, o->line, i, "not a step (a whole number from 0 to 10^15 - 1, digits only)"), -1;
        if (r == ROLE_LAYER) o->layer = f[i], o->layer_len = fl[i];
        if (r == ROLE_TENSOR) o->tensor = f[i], o->tensor_len = fl[i];
    }
    return 1;
}

/* The next row: 1, 0 at the end, -1 with err set. Steps never decrease (*prev: the last one). */
static int next_row(csv *c, char **f, size_t *fl, const int *role, int step_col, int ncols, long long *prev, row *o,
                    ib_err *err) {
    int rc = fast_row(c, role, ncols, o);
    if (!rc && (rc = slow_row(c, f, fl, role, ncols, o, err)) <= 0) return rc;
    if (o->step < *prev)
        return csv_fail(c, err, o->line, step_col, "smaller than the step of the row before (steps never decrease)"),
               -1;
    *prev = o->step;
    return 1;
}

/* ---- curve.csv --------------------------------------------------------------------------------- */

void ib_curve_free(ib_curve *c) {
    free(c->step);
    free(c->test_accuracy);
    free(c->test_loss);
    free(c->train_loss);
    free(c->train_accuracy);
    free(c->elapsed_s);
    memset(c, 0, sizeof *c);
}

int ib_curve_read(const char *run_dir, ib_curve *c, ib_err *err) {
    memset(c, 0, sizeof *c);
    char path[4200], *data;
    size_t len;
    if (read_csv_file(run_dir, "curve.csv", path, sizeof path, &data, &len, &c->present, err)) return err->code;
    if (!c->present) return 0;
    enum { STEP, ACC, LOSS, TLOSS, TACC, ELAPSED, NWANT };
    static const char *const want[NWANT] = {"step", "test_accuracy", "test_loss", "train_loss", "train_accuracy",
                                            "elapsed_s"};
    char *f[CSV_MAX_COLS];
    size_t fl[CSV_MAX_COLS];
    int col[NWANT], ncols = 0, rc = 0;
    csv cv = {.p = data, .end = data + len, .line = 1, .path = path};
    if ((rc = read_header(&cv, f, fl, &ncols, want, NWANT, col, err))) goto done;
    if (col[STEP] < 0 || col[ACC] < 0) {
        rc = ib_fail(err, IB_EXIT_USAGE, "%s: line 1: header: no column '%s'", path,
                     col[STEP] < 0 ? "step" : "test_accuracy");
        goto done;
    }
    int role[CSV_MAX_COLS];
    for (int i = 0; i < ncols; i++) role[i] = ROLE_SKIP;
    role[col[STEP]] = ROLE_STEP;
    for (int k = ACC; k < NWANT; k++)
        if (col[k] >= 0) role[col[k]] = k - ACC;
    /* the header's names stay in f[] for messages: rows are split into rf[] */
    char *rf[CSV_MAX_COLS];
    size_t rfl[CSV_MAX_COLS];
    size_t cap = max_rows(data, len);
    c->step = ib_xmalloc(cap * sizeof *c->step);
    double **out[NWANT - ACC] = {&c->test_accuracy, &c->test_loss, &c->train_loss, &c->train_accuracy, &c->elapsed_s};
    for (int k = 0; k < NWANT - ACC; k++) *out[k] = ib_xmalloc(cap * sizeof **out[k]);
    double num[NWANT - ACC];
    for (int k = 0; k < NWANT - ACC; k++) num[k] = NAN; /* columns the file lacks stay NAN */
    row r = {.num = num};
    long long prev = 0;
    int got;
    while ((got = next_row(&cv, rf, rfl, role, col[STEP], ncols, &prev, &r, err)) > 0) {
        c->step[c->n] = r.step;
        for (int k = 0; k < NWANT - ACC; k++) (*out[k])[c->n] = num[k];
        c->n++;
    }
    if (got < 0) rc = err->code;
done:
    free(data);
    if (rc) {
        ib_curve_free(c);
        c->present = 1;
    }
    return rc;
}

/* ---- stats.csv --------------------------------------------------------------------------------- */

void ib_stats_free(ib_stats *s) {
    free(s->rows);
    memset(s, 0, sizeof *s);
}

/* a[0..n) == b[0..n), n small: a loop, not a call (memcmp is intercepted in sanitizer builds) */
static inline int same_bytes(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static int tensor_of(const char *t, size_t len) {
    static const unsigned char name_len[IB_STATS_NTENSORS] = {6, 4, 6, 3, 8, 11, 9, 6, 11}; /* checked in the tests */
    for (int i = 0; i < IB_STATS_NTENSORS; i++)
        if (name_len[i] == len && same_bytes(ib_stats_tensor_names[i], t, len)) return i;
    return -1;
}

/* The index of layer name in s, added when new; -1 when the file has too many. */
static int layer_index(ib_stats *s, const char *name, size_t len) {
    for (int i = s->n_layers - 1; i >= 0; i--) /* rows of one layer come together: look at the last first */
        if (!s->layer[i][len] && same_bytes(s->layer[i], name, len)) return i;
    if (s->n_layers == IB_STATS_MAX_LAYERS) return -1;
    memcpy(s->layer[s->n_layers], name, len);
    s->layer[s->n_layers][len] = 0;
    return s->n_layers++;
}

int ib_stats_read(const char *run_dir, ib_stats *s, ib_err *err) {
    memset(s, 0, sizeof *s);
    char path[4200], *data;
    size_t len;
    if (read_csv_file(run_dir, "stats.csv", path, sizeof path, &data, &len, &s->present, err)) return err->code;
    if (!s->present) return 0;
    enum { STEP, LAYER, TENSOR, NFIXED };
    const char *want[NFIXED + IB_STATS_NCOLS] = {"step", "layer", "tensor"};
    for (int k = 0; k < IB_STATS_NCOLS; k++) want[NFIXED + k] = ib_stats_col_names[k];
    char *f[CSV_MAX_COLS];
    size_t fl[CSV_MAX_COLS];
    int col[NFIXED + IB_STATS_NCOLS], ncols = 0, rc = 0;
    csv cv = {.p = data, .end = data + len, .line = 1, .path = path};
    if ((rc = read_header(&cv, f, fl, &ncols, want, NFIXED + IB_STATS_NCOLS, col, err))) goto done;
    for (int k = 0; k < NFIXED; k++)
        if (col[k] < 0) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: line 1: header: no column '%s'", path, want[k]);
            goto done;
        }
    int role[CSV_MAX_COLS];
    for (int i = 0; i < ncols; i++) role[i] = ROLE_SKIP;
    role[col[STEP]] = ROLE_STEP, role[col[LAYER]] = ROLE_LAYER, role[col[TENSOR]] = ROLE_TENSOR;
    for (int k = 0; k < IB_STATS_NCOLS; k++)
        if (col[NFIXED + k] >= 0) role[col[NFIXED + k]] = k;
    char *rf[CSV_MAX_COLS];
    size_t rfl[CSV_MAX_COLS];
    s->rows = ib_xmalloc(max_rows(data, len) * sizeof *s->rows);
    double num[IB_STATS_NCOLS];
    for (int k = 0; k < IB_STATS_NCOLS; k++) num[k] = NAN; /* columns the file lacks stay NAN */
    row r = {.num = num};
    long long prev = 0;
    int got;
    while ((got = next_row(&cv, rf, rfl, role, col[STEP], ncols, &prev, &r, err)) > 0) {
        ib_stats_row *x = &s->rows[s->n];
        x->step = r.step;
        if (!ib_name_ok_n(r.layer, r.layer_len)) {
            rc = csv_fail(&cv, err, r.line, col[LAYER], "not a layer name ([A-Za-z0-9_.-], 1 to 31 characters)");
            break;
        }
        if ((x->layer = layer_index(s, r.layer, r.layer_len)) < 0) {
            rc = csv_fail(&cv, err, r.line, col[LAYER], "more than 64 different layers");
            break;
        }
        if ((x->tensor = tensor_of(r.tensor, r.tensor_len)) < 0) {
            rc = csv_fail(&cv, err, r.line, col[TENSOR],
                          "not a tensor the trainer records (weight, bias, preact, act, act_grad, weight_grad, "
                          "bias_grad, update, bias_update)");
            break;
        }
        memcpy(x->v, num, sizeof x->v);
        s->n++;
    }
    if (got < 0) rc = err->code;
done:
    free(data);
    if (rc) {
        ib_stats_free(s);
        s->present = 1;
    }
    return rc;
}
