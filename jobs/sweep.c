/* `initbench sweep` itself: the (stddev, repeat) grid from the flags, written as the manifest and
 * handed to an executor; and --preset explain, three such sweeps and one report comparing them. */
#include "sweep.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "data.h"
#include "executor_slurm.h"
#include "manifest.h"
#include "proc.h"
#include "summary.h"
#include "sweep_status.h"

static const double original_stddevs[] = {1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0};

/* The grid command's flag table and what it sets. */
typedef struct grid_args {
    ib_train_config cfg;
    slurm_opts o;
    ib_flag flags[IB_TRAIN_MAX_FLAGS + 32];
    int n;
    const char *preset, *executor;
    ib_double_list stddevs;
    int repeats, jobs, help;
    char data_dir_abs[PATH_MAX];
} grid_args;

static void grid_flags(grid_args *g) {
    ib_train_config_defaults(&g->cfg);
    sweep_slurm_opts_defaults(&g->o);
    g->preset = "original", g->executor = "local";
    g->repeats = 3, g->jobs = 1;
    ib_flag *f = g->flags;
    int n = ib_train_flags(&g->cfg, f);
    f[n++] = (ib_flag){"preset", IB_FLAG_CHOICE, &g->preset, 0, 0, 0, "original|quick|explain", NULL,
                       "original: 9 stddevs x 3 repeats x 10000 steps; quick: 1 repeat, 1000 steps; explain: "
                       "Adam vs SGD vs deep-tanh, 5 stddevs x 2 repeats x 1000 steps, one report", 0};
    f[n++] = (ib_flag){"stddevs", IB_FLAG_DOUBLE_LIST, &g->stddevs, 0, 100, IB_MIN_OPEN, NULL, "LIST",
                       "comma-separated stddevs (default: the preset's 1e-4 ... 1.0)", 0};
    f[n++] = (ib_flag){"repeats", IB_FLAG_INT, &g->repeats, 1, 1000, 0, NULL, "R", "repeats per stddev", 0};
    f[n++] = (ib_flag){"jobs", IB_FLAG_INT, &g->jobs, 1, 256, 0, NULL, "J", "local: runs at a time (default 1)", 0};
    f[n++] = (ib_flag){"out", IB_FLAG_STRING, &g->cfg.out, 0, 0, 0, NULL, "DIR", "sweep directory (required)", 0};
    f[n++] = (ib_flag){"executor", IB_FLAG_CHOICE, &g->executor, 0, 0, 0, "local|slurm|none", NULL,
                       "run here (default), submit Slurm array jobs, or none: only write DIR/sweep.json", 0};
    n = sweep_add_slurm_flags(f, n, &g->o);
    f[n++] = (ib_flag){"help", IB_FLAG_BOOL, &g->help, 0, 0, 0, NULL, NULL, "this help", 0};
    g->n = n;
}

static int seen(grid_args *g, const char *name) { return ib_flag_find(g->flags, g->n, name)->seen; }

static void print_grid_help(const grid_args *g) {
    printf("usage: initbench sweep --out DIR [--preset original|quick] [--stddevs LIST] [--repeats R]\n"
           "                       [--executor local|slurm|none] [--jobs J] [Slurm options] [any train flag]\n"
           "       initbench sweep status DIR       one line per task; exit 0 when all are complete\n"
           "       initbench sweep resume DIR       restart the tasks that are not finished or queued\n"
           "       initbench sweep collect DIR      write DIR/summary.csv\n"
           "       initbench sweep run-task DIR I[,J...]   run tasks (what executors run)\n\n"
           "Runs every (stddev, repeat) pair as DIR/runs/<index>-w<stddev>-r<repeat>, skipping runs\n"
           "already complete (rerun the same command to resume). Repeat r uses seed --seed + r for\n"
           "every stddev (common random numbers: the stddevs differ only in scale). With --executor\n"
           "slurm, the tasks go to array jobs from jobs/array.sbatch.in and a collect job runs after\n"
           "them; --sbatch-arg=--NAME=VALUE (repeatable) passes any other sbatch option, as one argument\n"
           "with its value (e.g. --sbatch-arg=--qos=long).\n\n");
    ib_flags_print_help(stdout, g->flags, g->n);
}

/* ---- the grid ------------------------------------------------------------------------------- */

/* The preset's sizes where the flags leave them open; the flags the sweep sets per run itself. */
static int apply_preset(grid_args *g, ib_err *err) {
    if (!strcmp(g->preset, "quick")) {
        if (!seen(g, "repeats")) g->repeats = 1;
        if (!seen(g, "steps")) g->cfg.steps = 1000;
    }
    if (!g->stddevs.n) {
        g->stddevs.n = (int)(sizeof original_stddevs / sizeof original_stddevs[0]);
        memcpy(g->stddevs.v, original_stddevs, sizeof original_stddevs);
    }
    if (seen(g, "stddev")) return ib_fail(err, IB_EXIT_USAGE, "sweep: use --stddevs LIST, not --stddev");
    if (seen(g, "threads"))
        return ib_fail(err, IB_EXIT_USAGE, "sweep: --threads is set per run from --jobs (local) or --cpus-per-task (slurm)");
    if (seen(g, "progress"))
        return ib_fail(err, IB_EXIT_USAGE, "sweep: --progress is fixed to 'log' for sweep runs (see each run's train.log)");
    return 0;
}

/* The train configuration every run shares, checked against the data before anything is written. */
static int check_config(grid_args *g, ib_err *err) {
    ib_train_config *cfg = &g->cfg;
    if (ib_train_config_resolve(cfg, g->flags, g->n, err)) return err->code;
    if (!ib_init_uses_stddev(cfg->initc.scheme))
        return ib_fail(err, IB_EXIT_USAGE, "sweep: the grid varies the stddev; --init %s does not take one", cfg->init);
    /* Runs may start elsewhere (a Slurm node, another working directory): no relative data path. */
    if (cfg->data_dir) {
        if (!realpath(cfg->data_dir, g->data_dir_abs))
            return ib_fail(err, IB_EXIT_USAGE, "--data-dir %s: %s", cfg->data_dir, strerror(errno));
        cfg->data_dir = g->data_dir_abs;
    }
    ib_dataset ds;
    if (ib_dataset_load(ib_data_dir_resolve(cfg->data_dir), cfg->dataset, &ds, err)) return err->code;
    int too_big = cfg->train_offset + cfg->train_size > ds.train.n || cfg->test_size > ds.test.n;
    ib_dataset_free(&ds);
    if (too_big) return ib_fail(err, IB_EXIT_USAGE, "sweep: --train-offset/--train-size/--test-size exceed the dataset");
    return 0;
}

/* Each executor's own flags only with that executor. */
static int check_executor_flags(grid_args *g, ib_err *err) {
    if (strcmp(g->executor, "slurm") && sweep_refuse_slurm_flags(g->flags, g->n, &g->o, err)) return err->code;
    /* before sweep.json is written: a refused option leaves nothing behind */
    if (!strcmp(g->executor, "slurm") && sweep_slurm_check(&g->o, g->cfg.out, err)) return err->code;
    if (strcmp(g->executor, "local") && seen(g, "jobs"))
        return ib_fail(err, IB_EXIT_USAGE, "sweep: --jobs applies to --executor local; for Slurm use --array-throttle");
    return 0;
}

/* Task k = (stddev s, repeat r), k = s * repeats + r; repeat r has seed base + r for every stddev
 * (common random numbers), and the bias starts at the stddev unless --bias-init says otherwise. */
static sweep_task *grid_tasks(grid_args *g, int *n_tasks) {
    const int n = g->stddevs.n * g->repeats;
    sweep_task *tasks = ib_xcalloc((size_t)n, sizeof *tasks);
    const int bias_given = seen(g, "bias-init");
    for (int s = 0, k = 0; s < g->stddevs.n; s++)
        for (int r = 0; r < g->repeats; r++, k++) {
            sweep_task *t = &tasks[k];
            t->index = k, t->repeat = r, t->stddev = g->stddevs.v[s], t->seed = g->cfg.seed + (unsigned long long)r;
            snprintf(t->dir, sizeof t->dir, "runs/%04d-w%g-r%d", k, t->stddev, r);
            ib_train_config c = g->cfg;
            c.stddev = t->stddev;
            c.seed = t->seed;
            if (!bias_given) c.bias_init = t->stddev;
            c.initc.stddev = c.stddev;
            c.initc.bias = c.bias_init;
            t->argv = ib_train_config_to_argv(&c, &t->argc);
        }
    *n_tasks = n;
    return tasks;
}

/* DIR/sweep.json for the grid (or the check that the one there holds the same tasks). */
static int write_grid_manifest(grid_args *g, ib_err *err) {
    if (ib_mkdir_p(g->cfg.out, err)) return err->code;
    int n_tasks;
    sweep_task *tasks = grid_tasks(g, &n_tasks);
    int rc = sweep_write_or_check_manifest(g->cfg.out, g->preset, g->cfg.seed, &g->cfg, tasks, n_tasks, err);
    for (int i = 0; i < n_tasks; i++) ib_argv_free(tasks[i].argv, tasks[i].argc);
    free(tasks);
    return rc;
}

/* Write the manifest and run (or, with --executor none, only set up) the grid. */
static int run_grid(grid_args *g, int *status, ib_err *err) {
    if (apply_preset(g, err) || check_config(g, err) || check_executor_flags(g, err) || write_grid_manifest(g, err))
        return err->code;
    sweep sw;
    if (sweep_load(g->cfg.out, &sw, err)) return err->code;
    int rc = 0;
    *status = 0;
    if (!strcmp(g->executor, "none"))
        printf("%s: %d tasks in sweep.json, none started; run them with 'initbench sweep resume %s' or "
               "'initbench sweep run-task %s INDEX'\n",
               sw.dir, sw.n, g->cfg.out, g->cfg.out);
    else
        rc = sweep_execute(&sw, g->executor, g->jobs, &g->o, 0, 1, status, err);
    sweep_free(&sw);
    return rc;
}

/* ---- --preset explain ----------------------------------------------------------------------- */

/* The grid under Adam, under plain SGD, and on a deeper tanh network, each a sweep of its own
 * (DIR/adam, DIR/sgd, DIR/deep-tanh), then one report comparing them. Sized to finish in about
 * 20 minutes on 2 cores: 5 stddevs x 2 repeats x 1000 steps, 2000 test images. */
typedef struct explain_variant {
    const char *name, *optimizer, *lr, *net;
} explain_variant;
static const explain_variant variants[] = {
    {"adam", "adam", "1e-4", "original"}, {"sgd", "sgd", "0.01", "original"}, {"deep-tanh", "adam", "1e-4", "deep-tanh"}};
enum { N_VARIANTS = (int)(sizeof variants / sizeof variants[0]) };

/* How many tokens the flag at argv[i] spans, from the table: 2 when its value is the next one,
 * else 1 (a flag with "=VALUE", a boolean, a value). */
static int flag_span(grid_args *g, int argc, char **argv, int i) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0 || strchr(arg, '=') || i + 1 >= argc) return 1;
    if (!strcmp(arg, "--sbatch-arg")) return 2; /* taken out before the table sees it */
    const ib_flag *f = ib_flag_find(g->flags, g->n, arg + 2);
    return f && f->type != IB_FLAG_BOOL ? 2 : 1;
}

/* Whether arg is the flag --name, alone or with "=VALUE". */
static int is_flag(const char *arg, const char *name) {
    size_t n = strlen(name);
    return !strncmp(arg, "--", 2) && !strncmp(arg + 2, name, n) && (arg[n + 2] == 0 || arg[n + 2] == '=');
}

/* The argv of variant v's sweep: the variant's flags, the preset's sizes the user left open, then
 * the user's command line but --out and --preset. */
static char **variant_argv(grid_args *g, int argc, char **argv, const char *self, const explain_variant *v,
                           char *dir) {
    char **a = ib_xcalloc((size_t)argc + 32, sizeof(char *));
    int k = 0;
    a[k++] = (char *)self, a[k++] = "sweep", a[k++] = "--preset", a[k++] = "quick";
    a[k++] = "--optimizer", a[k++] = (char *)v->optimizer, a[k++] = "--lr", a[k++] = (char *)v->lr;
    a[k++] = "--net", a[k++] = (char *)v->net, a[k++] = "--out", a[k++] = dir;
    static const char *const sizes[][3] = {{"stddevs", "--stddevs", "1e-4,1e-3,0.01,0.1,1"},
                                           {"repeats", "--repeats", "2"},
                                           {"test-size", "--test-size", "2000"}};
    for (size_t d = 0; d < sizeof sizes / sizeof sizes[0]; d++)
        if (!seen(g, sizes[d][0])) a[k++] = (char *)sizes[d][1], a[k++] = (char *)sizes[d][2];
    for (int i = 1; i < argc;) {
        int span = flag_span(g, argc, argv, i);
        int drop = is_flag(argv[i], "out") || is_flag(argv[i], "preset");
        for (int j = 0; j < span; j++, i++)
            if (!drop) a[k++] = argv[i];
    }
    a[k] = NULL;
    return a;
}

/* Run variant v's sweep as a child `initbench sweep`; returns its exit status (1 when it did not
 * exit by itself), or -1 with err set when it could not be started. */
static int run_variant(grid_args *g, int argc, char **argv, const char *self, const explain_variant *v, char *dir,
                       ib_err *err) {
    char **a = variant_argv(g, argc, argv, self, v, dir);
    fprintf(stderr, "== explain: %s (%s, %s)\n", v->name, v->optimizer, v->net);
    pid_t pid = ib_proc_start(a, -1, err);
    free(a);
    if (pid < 0) return -1;
    int sig;
    int code = ib_proc_wait(pid, &sig);
    return sig || code < 0 ? IB_EXIT_INTERNAL : code;
}

/* The first flag on the command line that the variants set themselves, or NULL. */
static const char *variant_flag_given(grid_args *g, int argc, char **argv) {
    static const char *const owned[] = {"optimizer", "net", "lr"};
    for (int i = 1; i < argc; i += flag_span(g, argc, argv, i))
        for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++)
            if (is_flag(argv[i], owned[k])) return owned[k];
    return NULL;
}

static int run_explain(grid_args *g, int argc, char **argv, int *status, ib_err *err) {
    const char *owned = variant_flag_given(g, argc, argv);
    if (owned)
        return ib_fail(err, IB_EXIT_USAGE, "sweep --preset explain sets --%s itself (Adam, SGD, deep-tanh variants)", owned);
    char self[4096];
    if (ib_proc_self_exe(self, sizeof self, err)) return err->code;
    const char *out = g->cfg.out;
    char dirs[N_VARIANTS][4200];
    for (int v = 0; v < N_VARIANTS; v++) {
        snprintf(dirs[v], sizeof dirs[v], "%s/%s", out, variants[v].name);
        int code = run_variant(g, argc, argv, self, &variants[v], dirs[v], err);
        if (code < 0) return err->code;
        if (code != 0) {
            fprintf(stderr, "initbench: explain: the %s sweep did not finish (exit %d); rerun the same command to "
                    "resume\n", variants[v].name, code);
            *status = code == IB_EXIT_USAGE ? IB_EXIT_USAGE : IB_EXIT_INTERNAL;
            return 0;
        }
    }
    char report[4300];
    snprintf(report, sizeof report, "%s/report", out);
    *status = 0;
    /* the runs happen later (Slurm) or elsewhere (none): the report too */
    if (!strcmp(g->executor, "slurm") || !strcmp(g->executor, "none")) {
        printf("explain sweeps set up; when their runs are done: initbench report %s %s %s --out %s\n", dirs[0],
               dirs[1], dirs[2], report);
        return 0;
    }
    ib_sweep_reporter reporter = sweep_reporter();
    if (!reporter) {
        printf("explain sweeps done: initbench report %s %s %s --out %s\n", dirs[0], dirs[1], dirs[2], report);
        return 0;
    }
    const char *d[N_VARIANTS] = {dirs[0], dirs[1], dirs[2]};
    int rc = reporter(d, N_VARIANTS, report, 0, err);
    if (rc) return rc;
    printf("explain report: %s/index.html\n", report);
    return 0;
}

/* ---- the command ---------------------------------------------------------------------------- */

int ib_sweep_grid(int argc, char **argv, int *status, ib_err *err) {
    grid_args *g = ib_xcalloc(1, sizeof *g);
    grid_flags(g);
    /* --sbatch-arg out of a copy: explain passes the command line on as it is */
    char **args = ib_xcalloc((size_t)argc + 1, sizeof *args);
    memcpy(args, argv, (size_t)argc * sizeof *args);
    int nargs = argc, npos, rc;
    char *pos[1];
    *status = 0;
    if (!(rc = sweep_take_sbatch_args(&nargs, args, &g->o, err)) &&
        !(rc = ib_flags_parse(g->flags, g->n, nargs, args, 1, pos, 0, &npos, err))) {
        if (g->help) print_grid_help(g);
        else if (!g->cfg.out) rc = ib_fail(err, IB_EXIT_USAGE, "sweep: --out DIR is required");
        else if (!strcmp(g->preset, "explain")) rc = run_explain(g, argc, argv, status, err);
        else rc = run_grid(g, status, err);
    }
    free(args);
    free(g);
    return rc;
}
