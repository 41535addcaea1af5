/* Aggregation of a sweep directory: every run's curve.csv, run.json and stats.csv read into
 * memory (read and validated by src/rundir: rundir.h, runfiles.h; runs read in parallel), then
 * grouped per stddev: means, stds and
 * minima over repeats, steps to accuracy thresholds, stuck / diverged / failed / missing counts,
 * and per-layer gradient-flow statistics averaged over repeats. Nothing is dropped silently:
 * every task of the manifest appears in `runs` with a status. */
#ifndef IB_AGGREGATE_H
#define IB_AGGREGATE_H

#include "rundir.h"
#include "util.h"

#define IB_AGG_MAX_LAYERS 32
#define IB_AGG_NTHR 3

/* The run states (src/rundir's one enum) in the order of the report's per-state columns; pending
 * never appears in a sweep's files. */
#define IB_REPORT_NSTATES 6
extern const ib_run_state ib_report_state_order[IB_REPORT_NSTATES];

/* What the report uses of stats.csv, per (recorded step, layer). NAN where not recorded. */
typedef enum ib_stat_field {
    IB_F_W_L2,        /* weight l2 */
    IB_F_W_RMS,       /* weight rms */
    IB_F_B_MEAN,      /* bias mean */
    IB_F_PRE_STD,     /* preact std */
    IB_F_PRE_MAXABS,  /* preact max |x| (logits for the last layer) */
    IB_F_ACT_STD,     /* act std */
    IB_F_ACT_MEAN,    /* act mean */
    IB_F_ACT_ZERO,    /* act frac_zero (dead ReLUs) */
    IB_F_ACT_SAT,     /* act frac_saturated (tanh/sigmoid) */
    IB_F_AG_L2,       /* act_grad l2 (backpropagated signal) */
    IB_F_WG_L2,       /* weight_grad l2 */
    IB_F_WG_RMS,      /* weight_grad rms */
    IB_F_UPD_RMS,     /* update rms */
    IB_F_UPD_RATIO,   /* update update_ratio */
    IB_F_SQRTV_RMS,   /* update sqrt_v_rms */
    IB_F_BELOW_EPS,   /* update frac_sqrt_v_below_eps */
    IB_F_W_N,         /* weight element count */
    IB_F_NONFINITE,   /* max frac_nonfinite over the layer's tensors */
    IB_NFIELDS
} ib_stat_field;
extern const char *const ib_stat_field_names[IB_NFIELDS];

typedef struct ib_run {
    int index, repeat;
    double stddev, bias_init;
    char seed[32];
    char rel[512];   /* dir as in the manifest (relative to the sweep) */
    char path[4200]; /* sweep dir + rel */
    ib_run_state status;
    long long diverged_step;
    char reason[512];
    /* curve.csv */
    int n_curve;
    long long *step;
    double *acc, *loss, *train_loss;
    double final_acc;       /* last curve row's test accuracy (NAN without a curve) */
    long long final_step;
    int stuck;              /* complete and final_acc < stuck_below */
    long long reach[IB_AGG_NTHR]; /* first step with accuracy >= threshold, -1 if never */
    /* stats.csv */
    int n_sstep;
    long long *sstep;
    double *stats;          /* [n_sstep][n_layers][IB_NFIELDS] */
} ib_run;

/* Per stddev: the runs and what they say together. */
typedef struct ib_group {
    double stddev;
    int n_runs, *runs;                /* indices into sweep->runs */
    int count[IB_RUN_NSTATES];
    int n_stuck;
    int n_final;                      /* complete runs behind the final-accuracy figures */
    double final_mean, final_std, final_min, final_max;
    int n_reach[IB_AGG_NTHR];         /* complete runs that reached the threshold */
    double reach_mean[IB_AGG_NTHR], reach_min[IB_AGG_NTHR], reach_max[IB_AGG_NTHR];
    /* mean curve over the runs that have each step */
    int n_points;
    long long *step;
    double *mean, *std;
    int *n;
    /* stats averaged over the runs that recorded them (arithmetic mean; NAN if none) */
    int n_sstep;
    long long *sstep;
    double *stats;                    /* [n_sstep][n_layers][IB_NFIELDS] */
    int *stats_n;                     /* runs behind each recorded step */
} ib_group;

typedef struct ib_sweep_agg {
    char dir[4096];
    char label[256];      /* e.g. "adam, original" (+ preset) */
    char preset[64], optimizer[64], net[512], net_given[128], init_scheme[64];
    double lr, eps;
    long long steps;
    int n_layers;
    char layer[IB_AGG_MAX_LAYERS][32];
    int n_runs;
    ib_run *runs;
    int n_groups;
    ib_group *groups;     /* ascending stddev */
    double thresholds[IB_AGG_NTHR];
    double stuck_below;
    double seconds;       /* time spent reading and aggregating */
} ib_sweep_agg;

/* Read DIR/sweep.json (ib_manifest_read, src/rundir) and every run it lists. Bad input (no
 * sweep.json, unreadable or invalid JSON, no tasks, a malformed task, or any file of a run or task
 * record that src/rundir refuses: a field that breaks its rule, an existing file that cannot be
 * read) fails with IB_EXIT_USAGE naming the file and field (the first such run by index); states
 * of single runs (missing, running, a run.json that is not JSON) are recorded in the run. */
int ib_sweep_load(const char *dir, double stuck_below, ib_sweep_agg *out, ib_err *err);
void ib_sweep_free(ib_sweep_agg *s);

/* stats value of a run / a group at (recorded step k, layer l, field f) */
static inline double ib_run_stat(const ib_sweep_agg *s, const ib_run *r, int k, int l, int f) {
    return r->stats[((size_t)k * s->n_layers + l) * IB_NFIELDS + f];
}
static inline double ib_group_stat(const ib_sweep_agg *s, const ib_group *g, int k, int l, int f) {
    return g->stats[((size_t)k * s->n_layers + l) * IB_NFIELDS + f];
}

#endif
