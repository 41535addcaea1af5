/* `initbench probe`: step-0 gradient flow over a grid of configurations (docs/THEORY.md, "The
 * phase diagram" and "The trainability forecast"). Each configuration is built, initialised and
 * stepped (forward, backward, optimiser update) by the same trainer `train` uses, with the same
 * statistics recorder, so its numbers are stats.csv's step-0 rows of the equivalent `train`.
 *
 * The probe directory (a directory claimed as kind "probe"):
 *   probe.json    the grid, the forecast rule, timings, environment, status (running|complete)
 *   configs.csv   one row per configuration: the grid point, summaries (median over seeds), forecast
 *   probe.csv     tidy: config,seed,step,layer,metric,value
 *   parts/        per-group pieces while running; a rerun of the same command resumes from them */
#ifndef IB_PROBE_H
#define IB_PROBE_H

#include <stdint.h>

#include "backend.h"
#include "cli.h"
#include "util.h"

#define IB_PROBE_MAX_AXIS 64
#define IB_PROBE_UNIT 13 /* the original preset's 50 configurations: 4 units, 2 per worker on 2 cores */

typedef struct ib_probe_grid {
    const char *preset;          /* phase | original | NULL (custom) */
    const char *net;             /* fc | conv | original | a spec: the network family */
    int width;                   /* hidden width of fc/conv blocks */
    int n_depths, depths[IB_PROBE_MAX_AXIS];
    ib_double_list stddevs;      /* for initialisers that take --stddev */
    ib_double_list init_scales;  /* for the others (he_normal, glorot_*, orthogonal ...) */
    int n_inits;
    char inits[8][24];
    int n_acts;
    ib_act acts[3];
    int n_opts;
    char optimizers[5][16];
    int n_seeds;
    uint64_t seeds[IB_PROBE_MAX_AXIS];
    const char *dataset, *data_dir, *backend;
    int steps;          /* training steps per configuration, statistics at each (>= 1) */
    long long budget;   /* the step budget the forecast speaks of */
    int batch, threads, jobs, all_metrics;
    double lr, eps, bias_init; /* NAN: train's default (bias = stddev, as the original) */
    int validate;              /* --validate K: train K drawn configurations after the probe */
    long long validate_seed;   /* which draw (1: the first) */
    double trained_above;      /* the test accuracy that counts as trained */
    const char *executor;      /* local | slurm | none: how the validation sweeps run */
} ib_probe_grid;

/* One configuration of the grid (seeds are inside it). */
typedef struct ib_probe_config {
    int id, group;      /* group: configurations sharing one network */
    int unit;           /* the piece of work (a run of at most IB_PROBE_UNIT configurations of one group):
                         * what a worker takes, what a part file holds, what a resume skips */
    int depth;
    ib_act act;
    int init, opt;      /* indices into grid->inits, grid->optimizers */
    double stddev, init_scale; /* NAN where the initialiser does not take it */
} ib_probe_config;

/* Parse the probe's command line (flags after `probe`) into a grid and the output directory;
 * --preset fills the axes not given. Bad values: IB_EXIT_USAGE naming the flag. help is set for
 * --help (usage printed by the caller with ib_probe_usage). */
int ib_probe_parse(int argc, char **argv, ib_probe_grid *g, const char **out, int *help, ib_err *err);
void ib_probe_usage(FILE *fp);

/* The grid's configurations in run order; *n set. Caller frees. */
ib_probe_config *ib_probe_configs(const ib_probe_grid *g, int *n);

/* The network spec text of a configuration (depth, activation over the grid's family). */
int ib_probe_spec(const ib_probe_grid *g, int depth, ib_act act, char *buf, size_t len, ib_err *err);

/* The `train` flags of one configuration and seed (without --out, --steps, --stats-every): what the
 * probe resolves into its training config, and what --validate hands to sweeps. Caller frees the
 * array and its strings with ib_argv_free. */
char **ib_probe_train_argv(const ib_probe_grid *g, const ib_probe_config *c, uint64_t seed, int *argc_out);

/* The training config of one configuration and seed, resolved by train's own flag table from
 * ib_probe_train_argv plus --threads and --stats-every 1. cfg points into *argv_keep, which the
 * caller frees (ib_argv_free) after the last use of cfg. */
struct ib_train_config;
int ib_probe_train_config(const ib_probe_grid *g, const ib_probe_config *c, uint64_t seed, struct ib_train_config *cfg,
                          char ***argv_keep, int *argc_keep, ib_err *err);

/* v with the fewest digits that read back as v (a stddev on a command line, a directory name). */
void ib_probe_format_double(char *buf, size_t len, double v);

/* Run the probe into out_dir (claim, lock, resume, atomic files). command is recorded in probe.json. */
int ib_probe_run(const ib_probe_grid *g, const char *out_dir, const char *command, int quiet, ib_err *err);

/* --validate: K configurations of the finished probe in out_dir, drawn across the forecast classes,
 * trained for the budget by `initbench sweep` (one per network and optimiser, over the drawn
 * stddevs), outcomes set beside forecasts in out_dir/validate/. */
int ib_probe_validate(const ib_probe_grid *g, const char *out_dir, int k, double trained_above, const char *executor,
                      int quiet, ib_err *err); /* the draw: g->validate_seed */

#endif
