/* Reading a sweep's run directories and aggregating them per stddev (see aggregate.h). */
#include "aggregate.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runfiles.h"
#include "sweepdir.h"

const ib_run_state ib_report_state_order[IB_REPORT_NSTATES] = {IB_RUN_COMPLETE,    IB_RUN_DIVERGED, IB_RUN_FAILED,
                                                               IB_RUN_INTERRUPTED, IB_RUN_RUNNING,  IB_RUN_MISSING};
const char *const ib_stat_field_names[IB_NFIELDS] = {
    "weight_l2",  "weight_rms",  "bias_mean",   "preact_std",     "preact_maxabs", "act_std",
    "act_mean",   "act_frac_zero", "act_frac_saturated", "act_grad_l2", "weight_grad_l2", "weight_grad_rms",
    "update_rms", "update_ratio", "sqrt_v_rms", "frac_sqrt_v_below_eps", "weight_n", "frac_nonfinite"};

/* ---- one run: its files as src/rundir reads and validates them (runfiles.h) ---- */

static void set_reason(ib_run *r, const char *fmt, const char *a) {
    if (!r->reason[0]) ib_snprintf(r->reason, sizeof r->reason, fmt, a);
}

/* curve.csv into the run (its arrays taken over); a missing file leaves the run without a curve. */
static int load_curve(ib_run *r, double stuck_below, const double *thr, ib_err *err) {
    r->final_acc = NAN;
    r->final_step = -1;
    for (int t = 0; t < IB_AGG_NTHR; t++) r->reach[t] = -1;
    ib_curve c;
    if (ib_curve_read(r->path, &c, err)) return err->code;
    r->n_curve = c.n;
    r->step = c.step, r->acc = c.test_accuracy, r->loss = c.test_loss, r->train_loss = c.train_loss;
    c.step = NULL, c.test_accuracy = c.test_loss = c.train_loss = NULL;
    ib_curve_free(&c);
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
    return 0;
}

/* Per-run stats with the run's own layer list (merged into the sweep's afterwards). */
typedef struct run_layers {
    int n;
    char name[IB_AGG_MAX_LAYERS][32];
} run_layers;

/* stats.csv into the run: per recorded step, per layer, the fields of ib_stat_field. The layers
 * are those of the first recorded step (it lists every layer), in their order there. */
static int load_stats(ib_run *r, run_layers *L, ib_err *err) {
    L->n = 0;
    ib_stats st;
    if (ib_stats_read(r->path, &st, err)) return err->code;
    if (st.n == 0) {
        ib_stats_free(&st);
        return 0;
    }
    int map[IB_STATS_MAX_LAYERS]; /* the file's layer index -> the run's, -1 when not at the first step */
    for (int i = 0; i < IB_STATS_MAX_LAYERS; i++) map[i] = -1;
    int n_steps = 0;
    for (int i = 0; i < st.n; i++) {
        if (i > 0 && st.rows[i].step != st.rows[i - 1].step) n_steps++;
        int fl = st.rows[i].layer;
        if (n_steps == 0 && map[fl] < 0 && L->n < IB_AGG_MAX_LAYERS) {
            map[fl] = L->n;
            ib_snprintf(L->name[L->n++], sizeof L->name[0], "%s", st.layer[fl]);
        }
    }
    n_steps++;
    const int W = L->n;
    r->sstep = ib_xmalloc((size_t)n_steps * sizeof *r->sstep);
    r->stats = ib_xmalloc((size_t)n_steps * W * IB_NFIELDS * sizeof *r->stats);
    for (size_t i = 0; i < (size_t)n_steps * W * IB_NFIELDS; i++) r->stats[i] = NAN;
    double *row = NULL;
    for (int i = 0; i < st.n; i++) {
        const ib_stats_row *x = &st.rows[i];
        if (i == 0 || x->step != st.rows[i - 1].step) {
            r->sstep[r->n_sstep] = x->step;
            row = r->stats + (size_t)r->n_sstep * W * IB_NFIELDS;
            r->n_sstep++;
        }
        int l = map[x->layer];
        if (l < 0) continue; /* a layer absent at the first recording: not ours to guess */
        double *o = row + (size_t)l * IB_NFIELDS;
        const double *v = x->v;
        double nonfin = v[IB_SCOL_FRAC_NONFINITE];
        if (!isnan(nonfin)) o[IB_F_NONFINITE] = isnan(o[IB_F_NONFINITE]) ? nonfin : fmax(o[IB_F_NONFINITE], nonfin);
        switch (x->tensor) {
        case IB_TENSOR_WEIGHT:
            o[IB_F_W_L2] = v[IB_SCOL_L2];
            o[IB_F_W_RMS] = v[IB_SCOL_RMS];
            o[IB_F_W_N] = v[IB_SCOL_N];
            break;
        case IB_TENSOR_BIAS: o[IB_F_B_MEAN] = v[IB_SCOL_MEAN]; break;
        case IB_TENSOR_PREACT:
            o[IB_F_PRE_STD] = v[IB_SCOL_STD];
            o[IB_F_PRE_MAXABS] = fmax(fabs(v[IB_SCOL_MIN]), fabs(v[IB_SCOL_MAX]));
            break;
        case IB_TENSOR_ACT:
            o[IB_F_ACT_STD] = v[IB_SCOL_STD];
            o[IB_F_ACT_MEAN] = v[IB_SCOL_MEAN];
            o[IB_F_ACT_ZERO] = v[IB_SCOL_FRAC_ZERO];
            o[IB_F_ACT_SAT] = v[IB_SCOL_FRAC_SATURATED];
            break;
        case IB_TENSOR_ACT_GRAD: o[IB_F_AG_L2] = v[IB_SCOL_L2]; break;
        case IB_TENSOR_WEIGHT_GRAD:
            o[IB_F_WG_L2] = v[IB_SCOL_L2];
            o[IB_F_WG_RMS] = v[IB_SCOL_RMS];
            break;
        case IB_TENSOR_UPDATE:
            o[IB_F_UPD_RMS] = v[IB_SCOL_RMS];
            o[IB_F_UPD_RATIO] = v[IB_SCOL_UPDATE_RATIO];
            o[IB_F_SQRTV_RMS] = v[IB_SCOL_SQRT_V_RMS];
            o[IB_F_BELOW_EPS] = v[IB_SCOL_FRAC_SQRT_V_BELOW_EPS];
            break;
        default: break; /* bias_grad, bias_update: not in the report */
        }
    }
    ib_stats_free(&st);
    return 0;
}

/* A state read from a file; pending belongs to queues, anything unknown counts as failed. */
static ib_run_state state_from(const char *s) {
    int st = ib_run_state_parse(s);
    return st < 0 || st == IB_RUN_PENDING ? IB_RUN_FAILED : (ib_run_state)st;
}

/* One run's files. A file that is missing is a fact of the run (missing, running); one that
 * src/rundir refuses fails the run, and with it the sweep's load (err names file and field). */
static int load_run(const char *sweep_dir, ib_run *r, double stuck_below, const double *thr, run_layers *L,
                    ib_err *err) {
    r->status = IB_RUN_MISSING;
    r->diverged_step = -1;
    r->bias_init = NAN;
    ib_run_record rec;
    if (ib_run_record_read(r->path, &rec, err)) {
        ib_run_record_free(&rec);
        return err->code;
    }
    if (rec.present) {
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
        ib_task_record trec;
        if (ib_task_record_read(sweep_dir, r->index, &trec, err)) {
            ib_task_record_free(&trec);
            return err->code;
        }
        if (trec.status) {
            ib_run_state s = trec.state == IB_RUN_PENDING ? IB_RUN_MISSING : state_from(trec.status);
            if (s == IB_RUN_FAILED || s == IB_RUN_INTERRUPTED || (r->status == IB_RUN_MISSING && s == IB_RUN_RUNNING))
                r->status = s;
            if (trec.reason) set_reason(r, "%s", trec.reason);
        }
        ib_task_record_free(&trec);
    }
    if (load_curve(r, stuck_below, thr, err) || load_stats(r, L, err)) return err->code;
    return 0;
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
    int refused = n; /* the first run (by index) whose files src/rundir refuses, and why */
    ib_err first;
#pragma omp parallel for schedule(dynamic, 4)
    for (int k = 0; k < n; k++) {
        ib_err e;
        if (load_run(s->dir, &s->runs[k], stuck_below, s->thresholds, &layers[k], &e)) {
#pragma omp critical(ib_sweep_load_refused)
            if (k < refused) {
                refused = k;
                first = e;
            }
        }
    }
    if (refused < n) {
        free(layers);
        ib_sweep_free(s);
        *err = first;
        return err->code;
    }
    /* the sweep's layers: in order of first appearance */
    for (int k = 0; k < n; k++)
        for (int l = 0; l < layers[k].n; l++) {
            int found = 0;
            for (int q = 0; q < s->n_layers; q++) found |= !strcmp(s->layer[q], layers[k].name[l]);
            if (!found && s->n_layers < IB_AGG_MAX_LAYERS)
                ib_snprintf(s->layer[s->n_layers++], 32, "%s", layers[k].name[l]);
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
