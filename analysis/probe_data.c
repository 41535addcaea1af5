/* probe.json and configs.csv read back and checked (probe_data.h). */
#include "probe_data.h"
#include "runfiles.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

const char *const ib_probe_class_names[IB_CLASS_N] = {"trains", "at_risk", "will_not_train", "none"};
const char *const ib_probe_outcome_names[IB_OUTCOME_N] = {"trained", "partial", "stuck", "diverged", "not_run"};

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

/* ---- validate[-S]/validation.csv ---------------------------------------------------------------------------- */

static int name_index(const char *const *names, int n, const char *s, size_t len) {
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], s, len)) return i;
    return -1;
}

/* validate or validate-N (N decimal, 1 to 9 digits): the directories `probe --validate` writes */
static int validation_dir_name(const char *s) {
    if (strncmp(s, "validate", 8)) return 0;
    if (!s[8]) return 1;
    if (s[8] != '-' || !s[9] || strlen(s + 9) > 9) return 0;
    for (const char *q = s + 9; *q; q++)
        if (*q < '0' || *q > '9') return 0;
    return 1;
}

static const char *const vcols[] = {"config", "forecast", "outcome", "miss", "final_test_accuracy", "reason"};
enum { V_CONFIG, V_FORECAST, V_OUTCOME, V_MISS, V_ACC, V_REASON, V_NCOLS };

static int read_validation(const char *path, ib_probe_data *p, ib_probe_validation *v, ib_err *err) {
    uint8_t *data;
    size_t len;
    if (ib_read_file(path, &data, &len, err)) return err->code = IB_EXIT_USAGE;
    csvr c = {(char *)data, (char *)data + len, 1, path, NULL, NULL, 0};
    char *f[16];
    size_t fl[16];
    long line;
    int at[V_NCOLS], rc = 0, nf = ib_csv_record(&c, f, fl, 16, &line, err), ncols = nf;
    if (nf <= 0 || nf > 16) {
        free(data);
        return nf < 0 ? err->code : ib_fail(err, IB_EXIT_USAGE, "%s: line 1: no header of at most 16 fields", path);
    }
    for (int k = 0; k < V_NCOLS; k++) {
        at[k] = -1;
        for (int i = 0; i < ncols; i++)
            if (fl[i] == strlen(vcols[k]) && !memcmp(f[i], vcols[k], fl[i])) at[k] = i;
        if (at[k] < 0) {
            free(data);
            return ib_fail(err, IB_EXIT_USAGE, "%s: line 1: the header has no column '%s'", path, vcols[k]);
        }
    }
    while (!rc && (nf = ib_csv_record(&c, f, fl, 16, &line, err)) > 0) {
        if (nf != ncols) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: %d fields, the header has %d", path, line, nf, ncols);
            break;
        }
        if (v->n >= p->n) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: more checks than the probe's %d configurations", path, line,
                         p->n);
            break;
        }
        ib_probe_check *k = &v->checks[v->n];
        memset(k, 0, sizeof *k);
        unsigned long long id;
        double acc;
        const char *why = NULL;
        int col = -1;
        if (!ib_parse_u64(f[at[V_CONFIG]], fl[at[V_CONFIG]], &id) || id >= (unsigned long long)p->n)
            col = V_CONFIG, why = "not a configuration of the probe";
        else if ((k->forecast = name_index(ib_probe_class_names, IB_CLASS_NONE, f[at[V_FORECAST]], fl[at[V_FORECAST]])) < 0)
            col = V_FORECAST, why = "not trains, at_risk or will_not_train";
        else if ((k->outcome = name_index(ib_probe_outcome_names, IB_OUTCOME_N, f[at[V_OUTCOME]], fl[at[V_OUTCOME]])) < 0)
            col = V_OUTCOME, why = "not trained, partial, stuck, diverged or not_run";
        else if (fl[at[V_MISS]] != 1 || (f[at[V_MISS]][0] != '0' && f[at[V_MISS]][0] != '1'))
            col = V_MISS, why = "not 0 or 1";
        else if (!ib_parse_csv_number(f[at[V_ACC]], fl[at[V_ACC]], &acc) || !(isnan(acc) || (acc >= 0 && acc <= 1)))
            col = V_ACC, why = "not a fraction (or nan)";
        else if (!(k->reason = text_copy(f[at[V_REASON]], fl[at[V_REASON]])))
            col = V_REASON, why = "too long";
        if (why) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: field '%s': %s", path, line, vcols[col], why);
            break;
        }
        k->config = (int)id, k->miss = f[at[V_MISS]][0] == '1', k->accuracy = acc;
        v->n++;
    }
    if (nf < 0 && !rc) rc = err->code;
    free(data);
    return rc;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const ib_probe_validation *)a)->name, ((const ib_probe_validation *)b)->name);
}

/* Every validate[-S]/validation.csv of the probe (a validation still running has none yet). */
static int read_validations(const char *dir, ib_probe_data *p, ib_err *err) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d)) && !rc;) {
        if (!validation_dir_name(e->d_name)) continue;
        char path[4400];
        struct stat st;
        ib_snprintf(path, sizeof path, "%s/%s/validation.csv", dir, e->d_name);
        if (lstat(path, &st) != 0) continue;
        if (!S_ISREG(st.st_mode)) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: not a regular file", path);
            break;
        }
        if (p->n_validations == IB_PROBE_MAX_VALIDATIONS) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: more than %d validations", dir, IB_PROBE_MAX_VALIDATIONS);
            break;
        }
        ib_probe_validation *v = &p->validations[p->n_validations++];
        ib_snprintf(v->name, sizeof v->name, "%s", e->d_name);
        v->checks = ib_xcalloc((size_t)p->n, sizeof *v->checks);
        rc = read_validation(path, p, v, err);
    }
    closedir(d);
    qsort(p->validations, (size_t)p->n_validations, sizeof p->validations[0], cmp_name);
    return rc;
}

int ib_probe_read(const char *dir, ib_probe_data *p, ib_err *err) {
    memset(p, 0, sizeof *p);
    ib_snprintf(p->dir, sizeof p->dir, "%s", dir);
    int rc = read_json(dir, p, err);
    if (!rc) rc = read_configs(dir, p, err);
    if (!rc) rc = read_validations(dir, p, err);
    if (rc) ib_probe_free(p);
    return rc;
}

void ib_probe_free(ib_probe_data *p) {
    for (int i = 0; i < p->n; i++) {
        free(p->rows[i].net);
        free(p->rows[i].reason);
    }
    free(p->rows);
    for (int v = 0; v < p->n_validations; v++) {
        for (int i = 0; i < p->validations[v].n; i++) free(p->validations[v].checks[i].reason);
        free(p->validations[v].checks);
    }
    free(p->status);
    free(p->command);
    free(p->preset);
    free(p->rule);
    memset(p, 0, sizeof *p);
}
