/* Reading a sweep's run directories and aggregating them per stddev (see aggregate.h). */
#include "aggregate.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sweepdir.h"

const ib_run_state ib_report_state_order[IB_REPORT_NSTATES] = {IB_RUN_COMPLETE,    IB_RUN_DIVERGED, IB_RUN_FAILED,
                                                               IB_RUN_INTERRUPTED, IB_RUN_RUNNING,  IB_RUN_MISSING};
const char *const ib_stat_field_names[IB_NFIELDS] = {
    "weight_l2",  "weight_rms",  "bias_mean",   "preact_std",     "preact_maxabs", "act_std",
    "act_mean",   "act_frac_zero", "act_frac_saturated", "act_grad_l2", "weight_grad_l2", "weight_grad_rms",
    "update_rms", "update_ratio", "sqrt_v_rms", "frac_sqrt_v_below_eps", "weight_n", "frac_nonfinite"};

/* ---- small CSV helpers: the files are ours, simple and well formed, but never trusted ---- */

/* Split one line (ending at '\n' or NUL) at commas into up to max fields; returns the count and
 * sets *next to the start of the following line (NULL at the end). Fields are not copied. */
static int split_line(char *line, char **fields, int *lens, int max, char **next) {
    int n = 0;
    char *p = line, *start = line;
    for (;; p++) {
        if (*p == ',' || *p == '\n' || *p == '\r' || *p == 0) {
            if (n < max) {
                fields[n] = start;
                lens[n] = (int)(p - start);
            }
            n++;
            if (*p != ',') break;
            start = p + 1;
        }
    }
    while (*p == '\r') p++;
    *next = *p == '\n' ? (p[1] ? p + 1 : NULL) : NULL;
    return n;
}

/* Decimal floats as printf's %.9g / %f write them, parsed without strtod (several times faster;
 * exact to within an ulp or two, far below what a report shows). Anything else goes to strtod. */
static double num(const char *s, int len) {
    if (len <= 0) return NAN;
    const char *p = s, *end = s + len;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    uint64_t mant = 0;
    int digits = 0, exp10 = 0, any = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++, any = 1)
        if (digits < 19) mant = mant * 10 + (uint64_t)(*p - '0'), digits += mant > 0;
        else exp10++;
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, any = 1)
            if (digits < 19) mant = mant * 10 + (uint64_t)(*p - '0'), digits += mant > 0, exp10--;
    if (any && p < end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        int eneg = 0, e = 0, ed = 0;
        if (q < end && (*q == '-' || *q == '+')) eneg = *q++ == '-';
        for (; q < end && *q >= '0' && *q <= '9'; q++, ed++)
            if (e < 10000) e = e * 10 + (*q - '0');
        if (ed) {
            exp10 += eneg ? -e : e;
            p = q;
        }
    }
    if (!any || p != end || exp10 < -300 || exp10 > 300) {
        char buf[64];
        if (len >= (int)sizeof buf) return NAN;
        memcpy(buf, s, (size_t)len);
        buf[len] = 0;
        char *e2;
        double v = strtod(buf, &e2);
        return e2 == buf ? NAN : v;
    }
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    double v = (double)mant;
    int ax = exp10 < 0 ? -exp10 : exp10;
    double scale = ax <= 22 ? p10[ax] : pow(10.0, ax);
    v = exp10 < 0 ? v / scale : v * scale;
    return neg ? -v : v;
}

static int field_is(const char *f, int len, const char *name) {
    return (int)strlen(name) == len && !memcmp(f, name, (size_t)len);
}

static int header_index(char **f, int *len, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (field_is(f[i], len[i], name)) return i;
    return -1;
}

/* ---- one run ---- */

static void set_reason(ib_run *r, const char *fmt, const char *a) {
    if (!r->reason[0]) ib_snprintf(r->reason, sizeof r->reason, fmt, a);
}

static void load_curve(ib_run *r, double stuck_below, const double *thr) {
    char path[4300];
    ib_snprintf(path, sizeof path, "%s/curve.csv", r->path);
    uint8_t *data;
    size_t len;
    ib_err e;
    r->final_acc = NAN;
    r->final_step = -1;
    for (int t = 0; t < IB_AGG_NTHR; t++) r->reach[t] = -1;
    if (ib_read_file(path, &data, &len, &e)) return;
    char *f[16];
    int fl[16];
    char *line = (char *)data, *next;
    int nf = split_line(line, f, fl, 16, &next);
    if (nf > 16) nf = 16;
    int c_step = header_index(f, fl, nf, "step"), c_acc = header_index(f, fl, nf, "test_accuracy"),
        c_loss = header_index(f, fl, nf, "test_loss"), c_tl = header_index(f, fl, nf, "train_loss");
    if (c_step < 0 || c_acc < 0) {
        set_reason(r, "%s: no step/test_accuracy header", path);
        free(data);
        return;
    }
    size_t cap = 0;
    for (const char *p = (char *)data; *p; p++) cap += *p == '\n';
    r->step = ib_xmalloc((cap + 1) * sizeof *r->step);
    r->acc = ib_xmalloc((cap + 1) * sizeof *r->acc);
    r->loss = ib_xmalloc((cap + 1) * sizeof *r->loss);
    r->train_loss = ib_xmalloc((cap + 1) * sizeof *r->train_loss);
    for (line = next; line; line = next) {
        int n = split_line(line, f, fl, 16, &next);
        if (n <= c_step || n <= c_acc || fl[c_step] == 0) continue;
        int k = r->n_curve;
        if ((size_t)k > cap) break;
        r->step[k] = strtoll(f[c_step], NULL, 10);
        r->acc[k] = num(f[c_acc], fl[c_acc]);
        r->loss[k] = c_loss >= 0 && c_loss < n ? num(f[c_loss], fl[c_loss]) : NAN;
        r->train_loss[k] = c_tl >= 0 && c_tl < n ? num(f[c_tl], fl[c_tl]) : NAN;
        r->n_curve++;
    }
    free(data);
    if (r->n_curve > 0) {
        r->final_acc = r->acc[r->n_curve - 1];
        r->final_step = r->step[r->n_curve - 1];
        for (int t = 0; t < IB_AGG_NTHR; t++)
            for (int k = 0; k < r->n_curve; k++)
                if (r->acc[k] >= thr[t]) {
                    r->reach[t] = r->step[k];
                    break;
                }
    }
    r->stuck = r->status == IB_RUN_COMPLETE && r->n_curve > 0 && !(r->final_acc >= stuck_below);
}

/* Per-run stats with the run's own layer list (merged into the sweep's afterwards). */
typedef struct run_layers {
    int n;
    char name[IB_AGG_MAX_LAYERS][32];
} run_layers;

static int layer_of(run_layers *L, const char *s, int len) {
    for (int i = 0; i < L->n; i++)
        if (field_is(s, len, L->name[i])) return i;
    if (L->n >= IB_AGG_MAX_LAYERS || len >= 32) return -1;
    memcpy(L->name[L->n], s, (size_t)len);
    L->name[L->n][len] = 0;
    return L->n++;
}

static void load_stats(ib_run *r, run_layers *L) {
    char path[4300];
    ib_snprintf(path, sizeof path, "%s/stats.csv", r->path);
    uint8_t *data;
    size_t len;
    ib_err e;
    L->n = 0;
    if (ib_read_file(path, &data, &len, &e)) return;
    enum { MAXF = 24 };
    char *f[MAXF];
    int fl[MAXF];
    char *next;
    int nf = split_line((char *)data, f, fl, MAXF, &next);
    if (nf > MAXF) nf = MAXF;
    static const char *cols[] = {"step", "layer", "tensor", "n", "l2", "rms", "mean", "std", "min", "max",
                                 "frac_zero", "frac_saturated", "frac_nonfinite", "update_ratio", "sqrt_v_rms",
                                 "frac_sqrt_v_below_eps"};
    enum { C_STEP, C_LAYER, C_TENSOR, C_N, C_L2, C_RMS, C_MEAN, C_STD, C_MIN, C_MAX, C_ZERO, C_SAT, C_NONFIN,
           C_URATIO, C_SQRTV, C_BELOW, NC };
    int ci[NC];
    for (int c = 0; c < NC; c++) ci[c] = header_index(f, fl, nf, cols[c]);
    if (ci[C_STEP] < 0 || ci[C_LAYER] < 0 || ci[C_TENSOR] < 0) {
        set_reason(r, "%s: not a stats.csv header", path);
        free(data);
        return;
    }
    /* The first recorded step lists every layer: fix the layer list (and the row width) from it,
     * and size the arrays from the bytes that step takes. */
    long long first = -1;
    char *p1 = next, *step1_end = NULL;
    while (p1) {
        char *nx;
        int n = split_line(p1, f, fl, MAXF, &nx);
        if (n >= NC && fl[ci[C_STEP]] > 0) {
            long long st = strtoll(f[ci[C_STEP]], NULL, 10);
            if (first < 0) first = st;
            if (st != first) break;
            layer_of(L, f[ci[C_LAYER]], fl[ci[C_LAYER]]);
        }
        p1 = nx;
        step1_end = nx;
    }
    const int W = L->n;
    if (W == 0) {
        free(data);
        return;
    }
    size_t step_bytes = step1_end && next ? (size_t)(step1_end - next) : len;
    int cap = (int)(len / (step_bytes ? step_bytes : 1)) + 2;
    r->sstep = ib_xmalloc((size_t)cap * sizeof *r->sstep);
    r->stats = ib_xmalloc((size_t)cap * W * IB_NFIELDS * sizeof *r->stats);
    long long cur = -1;
    double *row = NULL;
    for (char *line = next; line;) {
        int n = split_line(line, f, fl, MAXF, &next);
        line = next;
        if (n < NC || fl[ci[C_STEP]] == 0) continue;
        long long step = strtoll(f[ci[C_STEP]], NULL, 10);
        if (step != cur) {
            cur = step;
            if (r->n_sstep == cap) {
                cap *= 2;
                r->sstep = realloc(r->sstep, (size_t)cap * sizeof *r->sstep);
                r->stats = realloc(r->stats, (size_t)cap * W * IB_NFIELDS * sizeof *r->stats);
                if (!r->sstep || !r->stats) abort();
            }
            r->sstep[r->n_sstep] = step;
            row = r->stats + (size_t)r->n_sstep * W * IB_NFIELDS;
            for (int i = 0; i < W * IB_NFIELDS; i++) row[i] = NAN;
            r->n_sstep++;
        }
        int l = -1;
        for (int i = 0; i < W; i++)
            if (field_is(f[ci[C_LAYER]], fl[ci[C_LAYER]], L->name[i])) {
                l = i;
                break;
            }
        if (l < 0) continue; /* a layer absent at the first recording: not ours to guess */
        double *o = row + (size_t)l * IB_NFIELDS;
        const char *t = f[ci[C_TENSOR]];
        int tl = fl[ci[C_TENSOR]];
#define V(c) (ci[c] >= 0 ? num(f[ci[c]], fl[ci[c]]) : NAN)
        double nonfin = V(C_NONFIN);
        if (!isnan(nonfin)) o[IB_F_NONFINITE] = isnan(o[IB_F_NONFINITE]) ? nonfin : fmax(o[IB_F_NONFINITE], nonfin);
        if (field_is(t, tl, "weight")) {
            o[IB_F_W_L2] = V(C_L2);
            o[IB_F_W_RMS] = V(C_RMS);
            o[IB_F_W_N] = V(C_N);
        } else if (field_is(t, tl, "bias")) {
            o[IB_F_B_MEAN] = V(C_MEAN);
        } else if (field_is(t, tl, "preact")) {
            o[IB_F_PRE_STD] = V(C_STD);
            o[IB_F_PRE_MAXABS] = fmax(fabs(V(C_MIN)), fabs(V(C_MAX)));
        } else if (field_is(t, tl, "act")) {
            o[IB_F_ACT_STD] = V(C_STD);
            o[IB_F_ACT_MEAN] = V(C_MEAN);
            o[IB_F_ACT_ZERO] = V(C_ZERO);
            o[IB_F_ACT_SAT] = V(C_SAT);
        } else if (field_is(t, tl, "act_grad")) {
            o[IB_F_AG_L2] = V(C_L2);
        } else if (field_is(t, tl, "weight_grad")) {
            o[IB_F_WG_L2] = V(C_L2);
            o[IB_F_WG_RMS] = V(C_RMS);
        } else if (field_is(t, tl, "update")) {
            o[IB_F_UPD_RMS] = V(C_RMS);
            o[IB_F_UPD_RATIO] = V(C_URATIO);
            o[IB_F_SQRTV_RMS] = V(C_SQRTV);
            o[IB_F_BELOW_EPS] = V(C_BELOW);
        }
#undef V
    }
    free(data);
}

/* A state read from a file; pending belongs to queues, anything unknown counts as failed. */
static ib_run_state state_from(const char *s) {
    int st = ib_run_state_parse(s);
    return st < 0 || st == IB_RUN_PENDING ? IB_RUN_FAILED : (ib_run_state)st;
}

static void load_run(const char *sweep_dir, ib_run *r, double stuck_below, const double *thr, run_layers *L) {
    ib_err e;
    r->status = IB_RUN_MISSING;
    r->diverged_step = -1;
    r->bias_init = NAN;
    ib_run_record rec;
    if (ib_run_record_read(r->path, &rec, &e) == 0 && rec.present) {
        if (!rec.parsed) {
            r->status = IB_RUN_FAILED;
            set_reason(r, "%s/run.json: not valid JSON", r->path);
        } else {
            r->status = rec.status ? state_from(rec.status) : IB_RUN_FAILED;
            if (rec.reason) set_reason(r, "%s", rec.reason);
            r->diverged_step = rec.diverged_step;
            r->bias_init = rec.bias_init;
        }
    }
    ib_run_record_free(&rec);
    /* The sweep's own record says more about runs that never wrote (or never finished) run.json. */
    if (r->status == IB_RUN_MISSING || r->status == IB_RUN_RUNNING) {
        ib_task_record rec;
        if (ib_task_record_read(sweep_dir, r->index, &rec, &e) == 0 && rec.status) {
            ib_run_state s = rec.state == IB_RUN_PENDING ? IB_RUN_MISSING : state_from(rec.status);
            if (s == IB_RUN_FAILED || s == IB_RUN_INTERRUPTED || (r->status == IB_RUN_MISSING && s == IB_RUN_RUNNING))
                r->status = s;
            if (rec.reason) set_reason(r, "%s", rec.reason);
        }
        ib_task_record_free(&rec);
    }
    load_curve(r, stuck_below, thr);
    load_stats(r, L);
}

/* ---- the sweep ---- */

static void aggregate_group(ib_sweep_agg *s, ib_group *g) {
    const int L = s->n_layers;
    double sum = 0, sum2 = 0;
    g->final_min = INFINITY;
    g->final_max = -INFINITY;
    for (int t = 0; t < IB_AGG_NTHR; t++) {
        g->reach_min[t] = INFINITY;
        g->reach_max[t] = -INFINITY;
    }
    double rsum[IB_AGG_NTHR] = {0};
    int longest = -1, lstats = -1;
    for (int i = 0; i < g->n_runs; i++) {
        const ib_run *r = &s->runs[g->runs[i]];
        g->count[r->status]++;
        g->n_stuck += r->stuck;
        if (longest < 0 || r->n_curve > s->runs[longest].n_curve) longest = g->runs[i];
        if (lstats < 0 || r->n_sstep > s->runs[lstats].n_sstep) lstats = g->runs[i];
        if (r->status != IB_RUN_COMPLETE || r->n_curve == 0 || isnan(r->final_acc)) continue;
        g->n_final++;
        sum += r->final_acc;
        sum2 += r->final_acc * r->final_acc;
        g->final_min = fmin(g->final_min, r->final_acc);
        g->final_max = fmax(g->final_max, r->final_acc);
        for (int t = 0; t < IB_AGG_NTHR; t++)
            if (r->reach[t] >= 0) {
                g->n_reach[t]++;
                rsum[t] += (double)r->reach[t];
                g->reach_min[t] = fmin(g->reach_min[t], (double)r->reach[t]);
                g->reach_max[t] = fmax(g->reach_max[t], (double)r->reach[t]);
            }
    }
    if (g->n_final > 0) {
        g->final_mean = sum / g->n_final;
        double var = g->n_final > 1 ? (sum2 - g->n_final * g->final_mean * g->final_mean) / (g->n_final - 1) : 0;
        g->final_std = sqrt(var > 0 ? var : 0);
    } else {
        g->final_mean = g->final_std = g->final_min = g->final_max = NAN;
    }
    for (int t = 0; t < IB_AGG_NTHR; t++) {
        g->reach_mean[t] = g->n_reach[t] ? rsum[t] / g->n_reach[t] : NAN;
        if (!g->n_reach[t]) g->reach_min[t] = g->reach_max[t] = NAN;
    }
    /* mean curve on the longest run's steps; each step averages the runs that have it */
    if (longest >= 0 && s->runs[longest].n_curve > 0) {
        const ib_run *lr = &s->runs[longest];
        int P = lr->n_curve;
        g->n_points = P;
        g->step = ib_xmalloc((size_t)P * sizeof *g->step);
        g->mean = ib_xcalloc((size_t)P, sizeof *g->mean);
        g->std = ib_xcalloc((size_t)P, sizeof *g->std);
        g->n = ib_xcalloc((size_t)P, sizeof *g->n);
        double *s2 = ib_xcalloc((size_t)P, sizeof *s2);
        memcpy(g->step, lr->step, (size_t)P * sizeof *g->step);
        for (int i = 0; i < g->n_runs; i++) {
            const ib_run *r = &s->runs[g->runs[i]];
            for (int k = 0, q = 0; k < r->n_curve && q < P; k++) {
                while (q < P && g->step[q] < r->step[k]) q++;
                if (q < P && g->step[q] == r->step[k] && !isnan(r->acc[k])) {
                    g->mean[q] += r->acc[k];
                    s2[q] += r->acc[k] * r->acc[k];
                    g->n[q]++;
                }
            }
        }
        for (int q = 0; q < P; q++) {
            if (g->n[q] == 0) {
                g->mean[q] = g->std[q] = NAN;
                continue;
            }
            g->mean[q] /= g->n[q];
            double v = g->n[q] > 1 ? (s2[q] - g->n[q] * g->mean[q] * g->mean[q]) / (g->n[q] - 1) : 0;
            g->std[q] = sqrt(v > 0 ? v : 0);
        }
        free(s2);
    }
    /* stats averaged over runs, on the steps of the run with the most recordings */
    if (lstats >= 0 && s->runs[lstats].n_sstep > 0) {
        const ib_run *lr = &s->runs[lstats];
        int K = lr->n_sstep;
        size_t cells = (size_t)K * L * IB_NFIELDS;
        g->n_sstep = K;
        g->sstep = ib_xmalloc((size_t)K * sizeof *g->sstep);
        memcpy(g->sstep, lr->sstep, (size_t)K * sizeof *g->sstep);
        g->stats = ib_xcalloc(cells, sizeof *g->stats);
        g->stats_n = ib_xcalloc((size_t)K, sizeof *g->stats_n);
        int *cnt = ib_xcalloc(cells, sizeof *cnt);
        for (int i = 0; i < g->n_runs; i++) {
            const ib_run *r = &s->runs[g->runs[i]];
            for (int k = 0, q = 0; k < r->n_sstep && q < K; k++) {
                while (q < K && g->sstep[q] < r->sstep[k]) q++;
                if (q >= K || g->sstep[q] != r->sstep[k]) continue;
                g->stats_n[q]++;
                const double *src = r->stats + (size_t)k * L * IB_NFIELDS;
                double *dst = g->stats + (size_t)q * L * IB_NFIELDS;
                int *c = cnt + (size_t)q * L * IB_NFIELDS;
                for (int j = 0; j < L * IB_NFIELDS; j++)
                    if (!isnan(src[j])) {
                        dst[j] += src[j];
                        c[j]++;
                    }
            }
        }
        for (size_t j = 0; j < cells; j++) g->stats[j] = cnt[j] ? g->stats[j] / cnt[j] : NAN;
        free(cnt);
    }
}

/* Put a run's stats (laid out with its own layer list, IB_AGG_MAX_LAYERS wide) onto the
 * sweep's layer list, compactly. */
static void remap_stats(const ib_sweep_agg *s, ib_run *r, const run_layers *L) {
    if (!r->n_sstep) return;
    int map[IB_AGG_MAX_LAYERS];
    int same = L->n == s->n_layers;
    for (int l = 0; l < s->n_layers; l++) {
        map[l] = -1;
        for (int i = 0; i < L->n; i++)
            if (!strcmp(L->name[i], s->layer[l])) map[l] = i;
        same &= map[l] == l;
    }
    if (same) return;
    double *out = ib_xmalloc((size_t)r->n_sstep * s->n_layers * IB_NFIELDS * sizeof *out);
    for (int k = 0; k < r->n_sstep; k++)
        for (int l = 0; l < s->n_layers; l++) {
            double *o = out + ((size_t)k * s->n_layers + l) * IB_NFIELDS;
            if (map[l] < 0) {
                for (int f = 0; f < IB_NFIELDS; f++) o[f] = NAN;
            } else {
                memcpy(o, r->stats + ((size_t)k * L->n + map[l]) * IB_NFIELDS, IB_NFIELDS * sizeof *o);
            }
        }
    free(r->stats);
    r->stats = out;
}

int ib_sweep_load(const char *dir, double stuck_below, ib_sweep_agg *s, ib_err *err) {
    double t0 = ib_now();
    memset(s, 0, sizeof *s);
    ib_snprintf(s->dir, sizeof s->dir, "%s", dir);
    size_t dl = strlen(s->dir);
    while (dl > 1 && s->dir[dl - 1] == '/') s->dir[--dl] = 0;
    s->thresholds[0] = 0.90;
    s->thresholds[1] = 0.97;
    s->thresholds[2] = 0.99;
    s->stuck_below = stuck_below;
    struct stat sb;
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode))
        return ib_fail(err, IB_EXIT_USAGE, "%s: not a directory (expected a sweep directory holding sweep.json)", dir);
    ib_manifest m; /* every field checked there: a bad task fails the load, naming the file */
    if (ib_manifest_read(s->dir, &m, err)) {
        if (m.problem != IB_MANIFEST_UNREADABLE) return err->code;
        return ib_fail(err, IB_EXIT_USAGE, "%s: not a sweep directory (cannot read %s/sweep.json)", dir, s->dir);
    }
    ib_snprintf(s->preset, sizeof s->preset, "%s", m.preset ? m.preset : "?");
    ib_snprintf(s->optimizer, sizeof s->optimizer, "%s", m.optimizer ? m.optimizer : "?");
    ib_snprintf(s->net, sizeof s->net, "%s", m.net ? m.net : "?");
    ib_snprintf(s->net_given, sizeof s->net_given, "%s", m.net_given ? m.net_given : s->net);
    ib_snprintf(s->init_scheme, sizeof s->init_scheme, "%s", m.init_scheme ? m.init_scheme : "?");
    s->lr = m.lr;
    s->eps = m.eps;
    s->steps = m.steps;
    ib_snprintf(s->label, sizeof s->label, "%s, %s (%s)", s->optimizer, s->net_given, s->preset);

    const int n = m.n;
    s->n_runs = n;
    s->runs = ib_xcalloc((size_t)n, sizeof *s->runs);
    for (int i = 0; i < n; i++) {
        const ib_sweep_task *t = &m.tasks[i];
        ib_run *r = &s->runs[i];
        r->index = t->index;
        r->stddev = t->stddev;
        r->repeat = t->repeat;
        if (t->has_seed) ib_snprintf(r->seed, sizeof r->seed, "%llu", t->seed);
        else ib_snprintf(r->seed, sizeof r->seed, "?");
        ib_snprintf(r->rel, sizeof r->rel, "%s", t->dir);
        ib_snprintf(r->path, sizeof r->path, "%s/%s", s->dir, t->dir);
    }
    ib_manifest_free(&m);

    run_layers *layers = ib_xcalloc((size_t)n, sizeof *layers);
#pragma omp parallel for schedule(dynamic, 4)
    for (int k = 0; k < n; k++) load_run(s->dir, &s->runs[k], stuck_below, s->thresholds, &layers[k]);
    /* the sweep's layers: in order of first appearance */
    for (int k = 0; k < n; k++)
        for (int l = 0; l < layers[k].n; l++) {
            int found = 0;
            for (int q = 0; q < s->n_layers; q++) found |= !strcmp(s->layer[q], layers[k].name[l]);
            if (!found && s->n_layers < IB_AGG_MAX_LAYERS) ib_snprintf(s->layer[s->n_layers++], 32, "%s", layers[k].name[l]);
        }
#pragma omp parallel for schedule(dynamic, 16)
    for (int k = 0; k < n; k++) remap_stats(s, &s->runs[k], &layers[k]);
    free(layers);

    /* groups by stddev, ascending */
    double *sd = ib_xmalloc((size_t)n * sizeof *sd);
    for (int k = 0; k < n; k++) sd[k] = s->runs[k].stddev;
    qsort(sd, (size_t)n, sizeof *sd, ib_cmp_double);
    s->groups = ib_xcalloc((size_t)n, sizeof *s->groups);
    for (int k = 0; k < n; k++)
        if (k == 0 || sd[k] != sd[k - 1]) s->groups[s->n_groups++].stddev = sd[k];
    free(sd);
    for (int gi = 0; gi < s->n_groups; gi++) {
        ib_group *g = &s->groups[gi];
        g->runs = ib_xmalloc((size_t)n * sizeof *g->runs);
        for (int k = 0; k < n; k++)
            if (s->runs[k].stddev == g->stddev) g->runs[g->n_runs++] = k;
        /* by repeat, so per-repeat listings read in order */
        for (int a = 1; a < g->n_runs; a++)
            for (int b = a; b > 0 && s->runs[g->runs[b]].repeat < s->runs[g->runs[b - 1]].repeat; b--) {
                int tmp = g->runs[b];
                g->runs[b] = g->runs[b - 1];
                g->runs[b - 1] = tmp;
            }
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int gi = 0; gi < s->n_groups; gi++) aggregate_group(s, &s->groups[gi]);
    s->seconds = ib_now() - t0;
    return 0;
}

void ib_sweep_free(ib_sweep_agg *s) {
    for (int i = 0; i < s->n_runs; i++) {
        ib_run *r = &s->runs[i];
        free(r->step);
        free(r->acc);
        free(r->loss);
        free(r->train_loss);
        free(r->sstep);
        free(r->stats);
    }
    for (int g = 0; g < s->n_groups; g++) {
        ib_group *G = &s->groups[g];
        free(G->runs);
        free(G->step);
        free(G->mean);
        free(G->std);
        free(G->n);
        free(G->sstep);
        free(G->stats);
        free(G->stats_n);
    }
    free(s->runs);
    free(s->groups);
    memset(s, 0, sizeof *s);
}
