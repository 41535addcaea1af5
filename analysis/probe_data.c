/* probe.json and configs.csv read back and checked (probe_data.h). */
#include "probe_data.h"
#include "runfiles.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const ib_probe_class_names[IB_CLASS_N] = {"trains", "at_risk", "will_not_train", "none"};

#define MAX_ROWS 10000000 /* configurations: far above any grid (the phase preset has 2400) */

int ib_probe_dir_is(const char *dir) {
    char path[4200];
    struct stat st;
    ib_snprintf(path, sizeof path, "%s/probe.json", dir);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A cleaned heap copy of free text (at most IB_TEXT_MAX bytes, control characters as spaces), or
 * NULL when it is longer. */
static char *text_copy(const char *s, size_t len) {
    if (len > IB_TEXT_MAX) return NULL;
    char *c = ib_xcalloc(len + 1, 1);
    memcpy(c, s, len);
    for (size_t i = 0; i < len; i++)
        if (!c[i]) c[i] = ' '; /* a NUL inside: a space, like the other control characters */
    ib_text_clean(c);
    return c;
}

/* ---- probe.json ---------------------------------------------------------------------------------- */

static char *json_text(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    const char *s = cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
    char *c = text_copy(s, strlen(s));
    return c ? c : ib_xstrdup("(too long)");
}

static double json_num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

static int read_json(const char *dir, ib_probe_data *p, ib_err *err) {
    char path[4200];
    ib_snprintf(path, sizeof path, "%s/probe.json", dir);
    uint8_t *data;
    size_t len;
    if (ib_read_file(path, &data, &len, err)) return err->code = IB_EXIT_USAGE; /* its message names the path */
    cJSON *j = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return ib_fail(err, IB_EXIT_USAGE, "%s: not a JSON object", path);
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "initbench-probe/1")) {
        cJSON_Delete(j);
        return ib_fail(err, IB_EXIT_USAGE, "%s: field 'format': not initbench-probe/1 (not a probe directory)", path);
    }
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(j, "grid");
    const cJSON *fc = cJSON_GetObjectItemCaseSensitive(j, "forecast");
    const cJSON *timing = cJSON_GetObjectItemCaseSensitive(j, "timing");
    p->status = json_text(j, "status");
    p->command = json_text(j, "command");
    p->preset = json_text(grid, "preset");
    p->rule = json_text(fc, "rule");
    p->budget_steps = json_num(fc, "budget_steps");
    p->wall_s = json_num(timing, "wall_s");
    p->ms_per_config = json_num(timing, "ms_per_config");
    cJSON_Delete(j);
    return 0;
}

/* ---- configs.csv: RFC 4180 records ------------------------------------------------------------- */

typedef ib_csv csvr; /* the one CSV reader, src/rundir/runfiles.h */

#define NCOLS 26
static const char *const cols[NCOLS] = {
    "config",           "dataset",          "net",           "depth",         "width",
    "activation",       "init",             "init_scale",    "stddev",        "bias_init",
    "sigma_w2",         "optimizer",        "lr",            "seeds",         "loss0",
    "log10_grad_ratio", "log10_act_ratio",  "log10_wgrad_ratio", "q1",        "min_update_ratio",
    "max_frac_below_eps", "max_frac_dead",  "max_frac_saturated", "descent",  "forecast",
    "reason"};
enum {
    C_CONFIG, C_DATASET, C_NET, C_DEPTH, C_WIDTH, C_ACT, C_INIT, C_INIT_SCALE, C_STDDEV, C_BIAS, C_SW2, C_OPT, C_LR,
    C_SEEDS, C_LOSS0, C_GRAD, C_ACTR, C_WGRAD, C_Q1, C_MINUPD, C_BELOW, C_DEAD, C_SAT, C_DESCENT, C_FORECAST, C_REASON
};

static int field_fail(const csvr *c, long line, int col, const char *why, ib_err *err) {
    return ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: field '%s': %s", c->path, line, cols[col], why);
}

/* A number field with its range: lo <= v <= hi; empty -> NAN only where `optional`; nan/inf only
 * where `nonfinite`. */
static int num_field(const csvr *c, long line, int col, const char *s, size_t len, double lo, double hi, int optional,
                     int nonfinite, double *v, ib_err *err) {
    if (!ib_parse_csv_number(s, len, v)) return field_fail(c, line, col, "not a number", err);
    if (len == 0) return optional ? 0 : field_fail(c, line, col, "empty", err);
    if (!isfinite(*v)) return nonfinite ? 0 : field_fail(c, line, col, "not finite", err);
    if (*v < lo || *v > hi) return field_fail(c, line, col, "out of range", err);
    return 0;
}

static int int_field(const csvr *c, long line, int col, const char *s, size_t len, long long lo, long long hi, int *v,
                     ib_err *err) {
    unsigned long long u;
    if (!ib_parse_u64(s, len, &u) || u < (unsigned long long)lo || u > (unsigned long long)hi)
        return field_fail(c, line, col, "not a whole number in range", err);
    *v = (int)u;
    return 0;
}

static int name_field(const csvr *c, long line, int col, const char *s, size_t len, char *dst, ib_err *err) {
    if (!ib_name_ok_n(s, len)) return field_fail(c, line, col, "not a name ([A-Za-z0-9_.-]{1,31})", err);
    memcpy(dst, s, len);
    dst[len] = 0;
    return 0;
}

static int parse_row(const csvr *c, long line, char **f, const size_t *fl, const int *at, ib_probe_row *r, ib_err *err) {
#define F(k) f[at[k]], fl[at[k]]
    int rc;
    if ((rc = int_field(c, line, C_CONFIG, F(C_CONFIG), 0, MAX_ROWS - 1, &r->config, err)) ||
        (rc = name_field(c, line, C_DATASET, F(C_DATASET), r->dataset, err)) ||
        (rc = int_field(c, line, C_DEPTH, F(C_DEPTH), 1, 100000, &r->depth, err)) ||
        (rc = int_field(c, line, C_WIDTH, F(C_WIDTH), 0, 100000000, &r->width, err)) ||
        (rc = name_field(c, line, C_INIT, F(C_INIT), r->init, err)) ||
        (rc = name_field(c, line, C_OPT, F(C_OPT), r->optimizer, err)) ||
        (rc = int_field(c, line, C_SEEDS, F(C_SEEDS), 1, 1000000, &r->seeds, err)))
        return rc;
    char act[IB_NAME_MAX + 1];
    if ((rc = name_field(c, line, C_ACT, F(C_ACT), act, err))) return rc;
    if (ib_mf_act_parse(act, &r->act)) return field_fail(c, line, C_ACT, "not relu, tanh or sigmoid", err);
    r->forecast = -1;
    for (int k = 0; k < IB_CLASS_N; k++)
        if (fl[at[C_FORECAST]] == strlen(ib_probe_class_names[k]) &&
            !memcmp(f[at[C_FORECAST]], ib_probe_class_names[k], fl[at[C_FORECAST]]))
            r->forecast = k;
    if (fl[at[C_FORECAST]] == 0) r->forecast = IB_CLASS_NONE;
    if (r->forecast < 0) return field_fail(c, line, C_FORECAST, "not trains, at_risk or will_not_train", err);
    /* the grid's inputs: positive and finite where given */
    if ((rc = num_field(c, line, C_INIT_SCALE, F(C_INIT_SCALE), 0, 1e30, 1, 0, &r->init_scale, err)) ||
        (rc = num_field(c, line, C_STDDEV, F(C_STDDEV), 0, 1e30, 1, 0, &r->stddev, err)) ||
        (rc = num_field(c, line, C_BIAS, F(C_BIAS), -1e30, 1e30, 1, 0, &r->bias_init, err)) ||
        (rc = num_field(c, line, C_SW2, F(C_SW2), 0, 1e300, 1, 0, &r->sigma_w2, err)) ||
        (rc = num_field(c, line, C_LR, F(C_LR), 0, 1e30, 1, 0, &r->lr, err)))
        return rc;
    /* measurements: any value, nan and inf included (an exploded network is a finding) */
    struct {
        int col;
        double lo, hi, *dst;
    } m[] = {{C_LOSS0, -HUGE_VAL, HUGE_VAL, &r->loss0},
             {C_GRAD, -HUGE_VAL, HUGE_VAL, &r->log10_grad_ratio},
             {C_ACTR, -HUGE_VAL, HUGE_VAL, &r->log10_act_ratio},
             {C_WGRAD, -HUGE_VAL, HUGE_VAL, &r->log10_wgrad_ratio},
             {C_Q1, 0, HUGE_VAL, &r->q1},
             {C_MINUPD, 0, HUGE_VAL, &r->min_update_ratio},
             {C_BELOW, 0, 1, &r->max_frac_below_eps},
             {C_DEAD, 0, 1, &r->max_frac_dead},
             {C_SAT, 0, 1, &r->max_frac_saturated},
             {C_DESCENT, -HUGE_VAL, HUGE_VAL, &r->descent}};
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++)
        if ((rc = num_field(c, line, m[k].col, F(m[k].col), m[k].lo, m[k].hi, 1, 1, m[k].dst, err))) return rc;
    if (!(r->net = text_copy(F(C_NET)))) return field_fail(c, line, C_NET, "too long", err);
    if (!(r->reason = text_copy(F(C_REASON)))) return field_fail(c, line, C_REASON, "too long", err);
    return 0;
#undef F
}

static int read_configs(const char *dir, ib_probe_data *p, ib_err *err) {
    char path[4200];
    ib_snprintf(path, sizeof path, "%s/configs.csv", dir);
    uint8_t *data;
    size_t len;
    if (ib_read_file(path, &data, &len, err)) return err->code = IB_EXIT_USAGE; /* its message names the path */
    csvr c = {(char *)data, (char *)data + len, 1, path, NULL, NULL, 0};
    char *f[64];
    size_t fl[64];
    long line;
    int at[NCOLS], rc = 0;
    int nf = ib_csv_record(&c, f, fl, 64, &line, err);
    if (nf <= 0) {
        free(data);
        return nf < 0 ? err->code : ib_fail(err, IB_EXIT_USAGE, "%s: empty (no header)", path);
    }
    int ncols = nf > 64 ? 64 : nf;
    for (int k = 0; k < NCOLS; k++) {
        at[k] = -1;
        for (int i = 0; i < ncols; i++)
            if (fl[i] == strlen(cols[k]) && !memcmp(f[i], cols[k], fl[i])) at[k] = i;
        if (at[k] < 0) {
            free(data);
            return ib_fail(err, IB_EXIT_USAGE, "%s: line 1: the header has no column '%s'", path, cols[k]);
        }
    }
    int cap = 256;
    p->rows = ib_xcalloc((size_t)cap, sizeof *p->rows);
    unsigned char *seen = NULL;
    while ((nf = ib_csv_record(&c, f, fl, 64, &line, err)) > 0) {
        if (nf != ncols) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: %d fields, the header has %d", path, line, nf, ncols);
            break;
        }
        if (p->n >= MAX_ROWS) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: more than %d configurations", path, line, MAX_ROWS);
            break;
        }
        if (p->n == cap) {
            ib_probe_row *more = realloc(p->rows, (size_t)(cap *= 2) * sizeof *more);
            if (!more) ib_die(IB_EXIT_INTERNAL, "out of memory reading %s", path);
            p->rows = more;
        }
        ib_probe_row *r = &p->rows[p->n];
        memset(r, 0, sizeof *r);
        p->n++; /* counted before it is filled, so that ib_probe_free frees its strings */
        if ((rc = parse_row(&c, line, f, fl, at, r, err))) break;
    }
    if (nf < 0) rc = err->code;
    if (!rc && p->n == 0) rc = ib_fail(err, IB_EXIT_USAGE, "%s: no configuration (only a header)", path);
    if (!rc) { /* config ids: each of 0 .. n-1 once */
        seen = ib_xcalloc((size_t)p->n, 1);
        for (int i = 0; i < p->n && !rc; i++) {
            int id = p->rows[i].config;
            if (id >= p->n || seen[id])
                rc = ib_fail(err, IB_EXIT_USAGE, "%s: configuration %d (row %d): field 'config': %s", path, id, i + 1,
                             id >= p->n ? "not below the number of rows" : "appears twice");
            else seen[id] = 1;
        }
    }
    free(seen);
    free(data);
    return rc;
}

int ib_probe_read(const char *dir, ib_probe_data *p, ib_err *err) {
    memset(p, 0, sizeof *p);
    ib_snprintf(p->dir, sizeof p->dir, "%s", dir);
    int rc = read_json(dir, p, err);
    if (!rc) rc = read_configs(dir, p, err);
    if (rc) ib_probe_free(p);
    return rc;
}

void ib_probe_free(ib_probe_data *p) {
    for (int i = 0; i < p->n; i++) {
        free(p->rows[i].net);
        free(p->rows[i].reason);
    }
    free(p->rows);
    free(p->status);
    free(p->command);
    free(p->preset);
    free(p->rule);
    memset(p, 0, sizeof *p);
}
