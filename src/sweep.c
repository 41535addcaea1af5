#include "sweep.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "data.h"
#include "runinfo.h"

static const double original_stddevs[] = {1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0};

typedef struct sweep_task {
    int index, repeat;
    double stddev;
    unsigned long long seed;
    char dir[64];  /* relative to the sweep directory */
    char **argv;   /* train argv (without --out/--threads) */
    int argc;
} sweep_task;

static int run_status(const char *sweep_dir, const sweep_task *t, char *status, size_t len) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s/run.json", sweep_dir, t->dir);
    snprintf(status, len, "missing");
    uint8_t *data;
    size_t n;
    ib_err err;
    if (ib_read_file(path, &data, &n, &err)) return 0;
    cJSON *j = cJSON_ParseWithLength((const char *)data, n);
    free(data);
    const cJSON *s = j ? cJSON_GetObjectItemCaseSensitive(j, "status") : NULL;
    snprintf(status, len, "%s", cJSON_IsString(s) ? s->valuestring : "unreadable");
    cJSON_Delete(j);
    return 1;
}

static double run_final_accuracy(const char *sweep_dir, const sweep_task *t) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s/run.json", sweep_dir, t->dir);
    uint8_t *data;
    size_t n;
    ib_err err;
    if (ib_read_file(path, &data, &n, &err)) return NAN;
    cJSON *j = cJSON_ParseWithLength((const char *)data, n);
    free(data);
    const cJSON *fin = j ? cJSON_GetObjectItemCaseSensitive(j, "final") : NULL;
    const cJSON *a = fin ? cJSON_GetObjectItemCaseSensitive(fin, "test_accuracy") : NULL;
    double acc = cJSON_IsNumber(a) ? a->valuedouble : NAN;
    cJSON_Delete(j);
    return acc;
}

static cJSON *manifest_json(const char *preset, unsigned long long base_seed, const ib_train_config *cfg,
                            const sweep_task *tasks, int n) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "manifest_version", 1);
    cJSON_AddStringToObject(m, "preset", preset);
    char s[32];
    snprintf(s, sizeof s, "%llu", base_seed);
    cJSON_AddStringToObject(m, "base_seed", s);
    cJSON_AddItemToObject(m, "config", ib_train_config_to_json(cfg));
    cJSON *arr = cJSON_AddArrayToObject(m, "tasks");
    for (int i = 0; i < n; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "index", tasks[i].index);
        cJSON_AddNumberToObject(t, "stddev", tasks[i].stddev);
        cJSON_AddNumberToObject(t, "repeat", tasks[i].repeat);
        snprintf(s, sizeof s, "%llu", tasks[i].seed);
        cJSON_AddStringToObject(t, "seed", s);
        cJSON_AddStringToObject(t, "dir", tasks[i].dir);
        cJSON *a = cJSON_AddArrayToObject(t, "argv");
        for (int k = 0; k < tasks[i].argc; k++) cJSON_AddItemToArray(a, cJSON_CreateString(tasks[i].argv[k]));
        cJSON_AddItemToArray(arr, t);
    }
    return m;
}

/* The manifest fixes the grid: rerunning with other settings on the same directory is refused
 * rather than silently mixing two experiments. */
static int write_or_check_manifest(const char *dir, cJSON *m, ib_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/sweep.json", dir);
    uint8_t *data;
    size_t n;
    ib_err rerr;
    if (ib_read_file(path, &data, &n, &rerr) == 0) {
        cJSON *old = cJSON_ParseWithLength((const char *)data, n);
        free(data);
        if (!old) return ib_fail(err, IB_EXIT_USAGE, "%s: not valid JSON; refusing to overwrite it", path);
        int same = cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old, "tasks"),
                                 cJSON_GetObjectItemCaseSensitive(m, "tasks"), 1);
        cJSON_Delete(old);
        if (!same)
            return ib_fail(err, IB_EXIT_USAGE,
                           "%s holds a sweep with different settings; use another --out, or the same flags to resume",
                           dir);
        return 0;
    }
    char *text = cJSON_Print(m);
    size_t len = strlen(text);
    text[len] = '\n';
    int rc = ib_write_file_atomic(path, text, len + 1, err);
    free(text);
    return rc;
}

static pid_t spawn_run(const char *self, const char *sweep_dir, const sweep_task *t, int threads, ib_err *err) {
    char out[4200], log[4300], th[16];
    snprintf(out, sizeof out, "%s/%s", sweep_dir, t->dir);
    if (ib_mkdir_p(out, err)) return -1;
    snprintf(log, sizeof log, "%s/train.log", out);
    snprintf(th, sizeof th, "%d", threads);
    char **argv = ib_xcalloc((size_t)t->argc + 10, sizeof(char *));
    int k = 0;
    argv[k++] = (char *)self;
    for (int i = 0; i < t->argc; i++) argv[k++] = t->argv[i];
    argv[k++] = "--out";
    argv[k++] = out;
    argv[k++] = "--threads";
    argv[k++] = th;
    argv[k++] = "--progress";
    argv[k++] = "log";
    argv[k] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(argv);
        ib_fail(err, IB_EXIT_INTERNAL, "fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(self, argv);
        fprintf(stderr, "initbench: cannot run %s: %s\n", self, strerror(errno));
        _exit(IB_EXIT_INTERNAL);
    }
    free(argv);
    return pid;
}

static void print_summary(const char *dir, const sweep_task *tasks, int n, const ib_double_list *stddevs) {
    printf("\n%-10s %8s %10s %10s %10s %9s\n", "stddev", "runs", "acc_mean", "acc_std", "acc_min", "diverged");
    for (int s = 0; s < stddevs->n; s++) {
        double sum = 0, sum2 = 0, mn = INFINITY;
        int k = 0, total = 0, diverged = 0;
        for (int i = 0; i < n; i++) {
            if (tasks[i].stddev != stddevs->v[s]) continue;
            total++;
            char st[32];
            run_status(dir, &tasks[i], st, sizeof st);
            if (!strcmp(st, "diverged")) diverged++;
            if (strcmp(st, "complete") != 0) continue;
            double a = run_final_accuracy(dir, &tasks[i]);
            if (!isfinite(a)) continue;
            sum += a, sum2 += a * a, mn = a < mn ? a : mn, k++;
        }
        double mean = k ? sum / k : NAN;
        double sd = k > 1 ? sqrt(fmax(0, (sum2 - k * mean * mean) / (k - 1))) : 0;
        char runs[32];
        snprintf(runs, sizeof runs, "%d/%d", k, total);
        printf("%-10g %8s %10.4f %10.4f %10.4f %9d\n", stddevs->v[s], runs, mean, sd, k ? mn : NAN, diverged);
    }
}

int ib_cmd_sweep(int argc, char **argv) {
    ib_train_config cfg;
    ib_train_config_defaults(&cfg);
    ib_flag flags[IB_TRAIN_MAX_FLAGS + 8];
    int n = ib_train_flags(&cfg, flags);
    const char *preset = "original";
    ib_double_list stddevs = {0};
    int repeats = 3, jobs = 1, help = 0;
    flags[n++] = (ib_flag){"preset", IB_FLAG_CHOICE, &preset, 0, 0, 0, "original|quick", NULL,
                           "original: 9 stddevs x 3 repeats x 10000 steps; quick: 1 repeat, 1000 steps", 0};
    flags[n++] = (ib_flag){"stddevs", IB_FLAG_DOUBLE_LIST, &stddevs, 0, 100, IB_MIN_OPEN, NULL, "LIST",
                           "comma-separated stddevs (default: the preset's 1e-4 ... 1.0)", 0};
    flags[n++] = (ib_flag){"repeats", IB_FLAG_INT, &repeats, 1, 1000, 0, NULL, "R", "repeats per stddev", 0};
    flags[n++] = (ib_flag){"jobs", IB_FLAG_INT, &jobs, 1, 256, 0, NULL, "J", "runs at a time (default 1)", 0};
    flags[n++] = (ib_flag){"out", IB_FLAG_STRING, &cfg.out, 0, 0, 0, NULL, "DIR", "sweep directory (required)", 0};
    flags[n++] = (ib_flag){"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0};
    ib_err err = {0};
    char *pos[1];
    int npos;
    if (ib_flags_parse(flags, n, argc, argv, 1, pos, 0, &npos, &err)) ib_exit_err(&err);
    if (help) {
        printf("usage: initbench sweep --out DIR [--preset original|quick] [--stddevs LIST] [--repeats R]\n"
               "                       [--jobs J] [any train flag]\n\n"
               "Runs every (stddev, repeat) pair as DIR/runs/<index>-w<stddev>-r<repeat>, skipping runs\n"
               "already complete (rerun the same command to resume). Repeat r uses seed --seed + r for\n"
               "every stddev (common random numbers: the stddevs differ only in scale).\n\n");
        ib_flags_print_help(stdout, flags, n);
        return 0;
    }
    if (!cfg.out) ib_die(IB_EXIT_USAGE, "sweep: --out DIR is required");
    if (!strcmp(preset, "quick")) {
        if (!ib_flag_find(flags, n, "repeats")->seen) repeats = 1;
        if (!ib_flag_find(flags, n, "steps")->seen) cfg.steps = 1000;
    }
    if (!stddevs.n) {
        stddevs.n = (int)(sizeof original_stddevs / sizeof original_stddevs[0]);
        memcpy(stddevs.v, original_stddevs, sizeof original_stddevs);
    }
    if (ib_flag_find(flags, n, "stddev")->seen) ib_die(IB_EXIT_USAGE, "sweep: use --stddevs LIST, not --stddev");
    if (ib_flag_find(flags, n, "threads")->seen)
        ib_die(IB_EXIT_USAGE, "sweep: --threads is set per run from --jobs and the cores available");
    if (ib_train_config_resolve(&cfg, flags, n, &err)) ib_exit_err(&err);
    if (!ib_init_uses_stddev(cfg.initc.scheme))
        ib_die(IB_EXIT_USAGE, "sweep: the grid varies the stddev; --init %s does not take one", cfg.init);
    /* Data problems are reported before anything is written. */
    ib_dataset ds;
    if (ib_dataset_load(ib_data_dir_resolve(cfg.data_dir), cfg.dataset, &ds, &err)) ib_exit_err(&err);
    if (cfg.train_offset + cfg.train_size > ds.train.n || cfg.test_size > ds.test.n) {
        ib_dataset_free(&ds);
        ib_die(IB_EXIT_USAGE, "sweep: --train-offset/--train-size/--test-size exceed the dataset");
    }
    ib_dataset_free(&ds);

    const int n_tasks = stddevs.n * repeats;
    sweep_task *tasks = ib_xcalloc((size_t)n_tasks, sizeof *tasks);
    const unsigned long long base_seed = cfg.seed;
    for (int s = 0, k = 0; s < stddevs.n; s++)
        for (int r = 0; r < repeats; r++, k++) {
            sweep_task *t = &tasks[k];
            t->index = k, t->repeat = r, t->stddev = stddevs.v[s], t->seed = base_seed + (unsigned long long)r;
            snprintf(t->dir, sizeof t->dir, "runs/%04d-w%g-r%d", k, t->stddev, r);
            ib_train_config c = cfg;
            c.stddev = t->stddev;
            c.seed = t->seed;
            if (!ib_flag_find(flags, n, "bias-init")->seen) c.bias_init = t->stddev;
            c.initc.stddev = c.stddev;
            c.initc.bias = c.bias_init;
            t->argv = ib_train_config_to_argv(&c, &t->argc);
        }
    if (ib_mkdir_p(cfg.out, &err)) ib_exit_err(&err);
    cJSON *manifest = manifest_json(preset, base_seed, &cfg, tasks, n_tasks);
    int rc = write_or_check_manifest(cfg.out, manifest, &err);
    cJSON_Delete(manifest);
    if (rc) ib_exit_err(&err);

    int cores = ib_default_threads();
    int threads = cores / jobs > 0 ? cores / jobs : 1;
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) ib_die(IB_EXIT_INTERNAL, "cannot find the initbench executable: %s", strerror(errno));
    self[sl] = 0;

    int todo = 0, skipped = 0, failed = 0, done = 0;
    for (int i = 0; i < n_tasks; i++) {
        char st[32];
        run_status(cfg.out, &tasks[i], st, sizeof st);
        if (!strcmp(st, "complete") || !strcmp(st, "diverged")) skipped++;
        else todo++;
    }
    fprintf(stderr, "sweep %s: %d runs (%d already finished), %d at a time with %d thread%s each\n", cfg.out,
            n_tasks, skipped, jobs, threads, threads == 1 ? "" : "s");
    pid_t *pids = ib_xcalloc((size_t)jobs, sizeof(pid_t));
    int *slot_task = ib_xcalloc((size_t)jobs, sizeof(int));
    double t0 = ib_now();
    int next = 0, running = 0;
    for (;;) {
        while (running < jobs && next < n_tasks) {
            sweep_task *t = &tasks[next++];
            char st[32];
            run_status(cfg.out, t, st, sizeof st);
            if (!strcmp(st, "complete") || !strcmp(st, "diverged")) continue;
            int slot = 0;
            while (pids[slot]) slot++;
            pid_t pid = spawn_run(self, cfg.out, t, threads, &err);
            if (pid < 0) {
                fprintf(stderr, "initbench: %s\n", err.msg);
                failed++;
                continue;
            }
            pids[slot] = pid, slot_task[slot] = t->index, running++;
            fprintf(stderr, "[%d/%d] started %s\n", done + failed + 1, todo, t->dir);
        }
        if (!running) break;
        int wstatus;
        pid_t pid = wait(&wstatus);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int s = 0; s < jobs; s++)
            if (pids[s] == pid) {
                const sweep_task *t = &tasks[slot_task[s]];
                pids[s] = 0, running--;
                char st[32];
                run_status(cfg.out, t, st, sizeof st);
                int ok = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
                if (ok) done++;
                else failed++;
                double el = ib_now() - t0;
                int finished = done + failed;
                fprintf(stderr, "[%d/%d] %s %s (%s)%s  elapsed %.0f s, ETA %.0f s\n", finished, todo, t->dir,
                        ok ? st : "FAILED",
                        ok ? "" : (WIFSIGNALED(wstatus) ? strsignal(WTERMSIG(wstatus)) : "non-zero exit"),
                        ok ? "" : "; see its train.log", el, finished ? el / finished * (todo - finished) : 0);
            }
    }
    free(pids);
    free(slot_task);
    print_summary(cfg.out, tasks, n_tasks, &stddevs);
    printf("\nsweep wall time %.1f s; %d run%s done now, %d skipped, %d failed; results in %s\n", ib_now() - t0, done,
           done == 1 ? "" : "s", skipped, failed, cfg.out);
    for (int i = 0; i < n_tasks; i++) ib_argv_free(tasks[i].argv, tasks[i].argc);
    free(tasks);
    return failed ? IB_EXIT_INTERNAL : 0;
}
