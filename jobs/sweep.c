#include "sweep.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "data.h"
#include "runinfo.h"
#include "slurm.h"

static const double original_stddevs[] = {1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0};

typedef struct sweep_task {
    int index, repeat;
    double stddev;
    unsigned long long seed;
    char dir[64];  /* relative to the sweep directory */
    char **argv;   /* train argv (without --out/--threads/--progress) */
    int argc;
} sweep_task;

/* A loaded manifest: what every executor, status, resume and collect work from. */
typedef struct sweep {
    char dir[4096]; /* absolute */
    sweep_task *tasks;
    int n;
} sweep;

/* ---- small helpers -------------------------------------------------------------------------- */

static cJSON *read_json(const char *path) {
    uint8_t *data;
    size_t n;
    ib_err e;
    if (ib_read_file(path, &data, &n, &e)) return NULL;
    cJSON *j = cJSON_ParseWithLength((const char *)data, n);
    free(data);
    return j;
}

static int write_json_atomic(const char *path, const cJSON *j, ib_err *err) {
    char *text = cJSON_Print(j);
    if (!text) return ib_fail(err, IB_EXIT_INTERNAL, "cannot serialise %s", path);
    size_t len = strlen(text);
    char *t2 = ib_xmalloc(len + 2);
    memcpy(t2, text, len);
    t2[len] = '\n';
    free(text);
    int rc = ib_write_file_atomic(path, t2, len + 1, err);
    free(t2);
    return rc;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double def) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static void self_exe(char *buf, size_t len) {
    ssize_t sl = readlink("/proc/self/exe", buf, len - 1);
    if (sl <= 0) ib_die(IB_EXIT_INTERNAL, "cannot find the initbench executable: %s", strerror(errno));
    buf[sl] = 0;
}

static void path_of(const sweep *sw, char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void path_of(const sweep *sw, char *buf, size_t len, const char *fmt, ...) {
    int k = snprintf(buf, len, "%s/", sw->dir);
    va_list ap;
    va_start(ap, fmt);
    if (k > 0 && (size_t)k < len) vsnprintf(buf + k, len - (size_t)k, fmt, ap);
    va_end(ap);
}

/* Comma-separated task indices ("3", "0,4,5") into out[]; returns the count or -1. */
static int parse_index_list(const char *s, int n_tasks, int *out, int max) {
    int k = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v >= n_tasks || k >= max) return -1;
        out[k++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return k;
}

/* ---- the manifest --------------------------------------------------------------------------- */

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
    return write_json_atomic(path, m, err);
}

static void sweep_free(sweep *sw) {
    for (int i = 0; i < sw->n; i++) ib_argv_free(sw->tasks[i].argv, sw->tasks[i].argc);
    free(sw->tasks);
    sw->tasks = NULL;
    sw->n = 0;
}

/* Load DIR/sweep.json (written by `initbench sweep`); every failure names the file. */
static int load_manifest(const char *dir, sweep *sw, ib_err *err) {
    memset(sw, 0, sizeof *sw);
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) return ib_fail(err, IB_EXIT_USAGE, "sweep directory %s: %s", dir, strerror(errno));
    snprintf(sw->dir, sizeof sw->dir, "%s", abs);
    char path[4200];
    snprintf(path, sizeof path, "%s/sweep.json", sw->dir);
    uint8_t *data;
    size_t len;
    ib_err rerr;
    if (ib_read_file(path, &data, &len, &rerr))
        return ib_fail(err, IB_EXIT_USAGE, "%s: not a sweep directory (%s); start a sweep with 'initbench sweep --out %s'",
                       dir, rerr.msg, dir);
    cJSON *m = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    const cJSON *tasks = m ? cJSON_GetObjectItemCaseSensitive(m, "tasks") : NULL;
    if (!cJSON_IsArray(tasks) || cJSON_GetArraySize(tasks) < 1) {
        cJSON_Delete(m);
        return ib_fail(err, IB_EXIT_USAGE, "%s: not a sweep manifest (no tasks array)", path);
    }
    sw->n = cJSON_GetArraySize(tasks);
    sw->tasks = ib_xcalloc((size_t)sw->n, sizeof *sw->tasks);
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tasks) {
        sweep_task *st = &sw->tasks[i];
        const char *d = jstr(t, "dir");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(t, "argv");
        if (ib_num_to_ll(jnum(t, "index", -1), 0, INT_MAX, -1) != i || !d || strlen(d) >= sizeof st->dir || strstr(d, "..") || d[0] == '/' ||
            !cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1) {
            cJSON_Delete(m);
            sweep_free(sw);
            return ib_fail(err, IB_EXIT_USAGE, "%s: task %d is malformed", path, i);
        }
        st->index = i;
        st->stddev = jnum(t, "stddev", NAN);
        st->repeat = (int)ib_num_to_ll(jnum(t, "repeat", 0), 0, INT_MAX, 0);
        const char *seed = jstr(t, "seed");
        st->seed = seed ? strtoull(seed, NULL, 10) : 0;
        snprintf(st->dir, sizeof st->dir, "%s", d);
        st->argc = cJSON_GetArraySize(a);
        st->argv = ib_xcalloc((size_t)st->argc + 1, sizeof(char *));
        int k = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, a) {
            st->argv[k++] = ib_xstrdup(cJSON_IsString(s) ? s->valuestring : "");
        }
        i++;
    }
    cJSON_Delete(m);
    return 0;
}

/* ---- per-task state ------------------------------------------------------------------------- */
/* A task's outcome lives in its run directory (run.json, written atomically by train) and in
 * DIR/tasks/NNNN.json, the task runner's record (running/complete/diverged/failed/interrupted,
 * reason, where it ran), also written atomically and keyed by task index, never by job id. */

typedef enum { ST_COMPLETE, ST_DIVERGED, ST_RUNNING, ST_PENDING, ST_INTERRUPTED, ST_FAILED, ST_MISSING, ST__N } task_state;
static const char *const state_names[ST__N] = {"complete",    "diverged", "running", "pending",
                                               "interrupted", "failed",   "missing"};

static int state_done(task_state s) { return s == ST_COMPLETE || s == ST_DIVERGED; }
static int state_active(task_state s) { return s == ST_RUNNING || s == ST_PENDING; }

static void record_path(const sweep *sw, int i, char *buf, size_t len) { path_of(sw, buf, len, "tasks/%04d.json", i); }

static void slurm_job_label(char *buf, size_t len) {
    const char *aj = getenv("SLURM_ARRAY_JOB_ID"), *at = getenv("SLURM_ARRAY_TASK_ID"), *j = getenv("SLURM_JOB_ID");
    if (aj && at) snprintf(buf, len, "%s_%s", aj, at);
    else if (j) snprintf(buf, len, "%s", j);
    else buf[0] = 0;
}

static int write_record(const sweep *sw, const sweep_task *t, const char *status, const char *reason, int exit_status,
                        const char *log, const char *started, ib_err *err) {
    char path[4200], host[256] = "", job[64], now[32];
    path_of(sw, path, sizeof path, "tasks");
    if (ib_mkdir_p(path, err)) return err->code;
    record_path(sw, t->index, path, sizeof path);
    gethostname(host, sizeof host - 1);
    slurm_job_label(job, sizeof job);
    ib_iso_time(now, sizeof now);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "index", t->index);
    cJSON_AddStringToObject(r, "dir", t->dir);
    cJSON_AddStringToObject(r, "status", status);
    if (reason && *reason) cJSON_AddStringToObject(r, "reason", reason);
    if (exit_status >= 0) cJSON_AddNumberToObject(r, "exit_status", exit_status);
    cJSON_AddStringToObject(r, "host", host);
    cJSON_AddNumberToObject(r, "pid", (double)getpid());
    if (*job) cJSON_AddStringToObject(r, "slurm_job", job);
    const char *rc = getenv("SLURM_RESTART_COUNT");
    if (rc) cJSON_AddNumberToObject(r, "slurm_restart_count", atof(rc));
    if (log) cJSON_AddStringToObject(r, "log", log);
    cJSON_AddStringToObject(r, "started_at", started ? started : now);
    if (strcmp(status, "running") != 0) cJSON_AddStringToObject(r, "finished_at", now);
    int ret = write_json_atomic(path, r, err);
    cJSON_Delete(r);
    return ret;
}

/* What squeue says about the sweep's array jobs, per task. */
typedef struct queue_view {
    int asked;       /* there were Slurm submissions to ask about */
    int ok;          /* squeue answered */
    char why[600];   /* why it did not */
    int *state;      /* per task: -1 not queued, ST_RUNNING or ST_PENDING */
    int *elem_tasks; /* how many tasks the array element holding it runs */
    char (*job)[48];
    char (*reason)[64];
} queue_view;

static void queue_free(queue_view *q) {
    free(q->state);
    free(q->elem_tasks);
    free(q->job);
    free(q->reason);
    memset(q, 0, sizeof *q);
}

static cJSON *read_submissions(const sweep *sw) {
    char path[4200];
    path_of(sw, path, sizeof path, "slurm/submissions.json");
    return read_json(path);
}

/* Line a (0-based) of the list file: the task indices of array index a. */
static int list_line(const sweep *sw, const char *list, int a, int *idx, int max) {
    char path[4200];
    path_of(sw, path, sizeof path, "%s", list);
    FILE *fp = fopen(path, "r");
    if (!fp) return -1;
    char line[65536];
    int k = -1;
    for (int i = 0; fgets(line, sizeof line, fp); i++)
        if (i == a) {
            line[strcspn(line, "\r\n")] = 0;
            k = parse_index_list(line, INT_MAX, idx, max);
            break;
        }
    fclose(fp);
    return k;
}

static void queue_query(const sweep *sw, queue_view *q) {
    memset(q, 0, sizeof *q);
    q->state = ib_xmalloc((size_t)sw->n * sizeof(int));
    q->elem_tasks = ib_xcalloc((size_t)sw->n, sizeof(int));
    q->job = ib_xcalloc((size_t)sw->n, sizeof *q->job);
    q->reason = ib_xcalloc((size_t)sw->n, sizeof *q->reason);
    for (int i = 0; i < sw->n; i++) q->state[i] = -1;
    cJSON *subs = read_submissions(sw);
    const cJSON *arr = subs ? cJSON_GetObjectItemCaseSensitive(subs, "submissions") : NULL;
    if (!cJSON_IsArray(arr) || !cJSON_GetArraySize(arr)) {
        cJSON_Delete(subs);
        q->ok = 1;
        return;
    }
    q->asked = 1;
    if (ib_slurm_ping(q->why, sizeof q->why)) {
        cJSON_Delete(subs);
        return;
    }
    char *argv[] = {"squeue", "-h", "-r", "--me", "-o", "%F|%K|%T|%r", NULL};
    char *out = NULL, *errs = NULL;
    int rc = ib_run_capture(argv, 15, &out, &errs);
    if (rc != 0) {
        char line[400];
        ib_last_line(errs, line, sizeof line);
        snprintf(q->why, sizeof q->why, "squeue %s", rc == -2 ? "did not answer within 15 s" : *line ? line : "failed");
        free(out);
        free(errs);
        cJSON_Delete(subs);
        return;
    }
    q->ok = 1;
    int *idx = ib_xmalloc((size_t)sw->n * sizeof(int));
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[4] = {0};
        int nf = 0;
        for (char *s2 = NULL, *tok = strtok_r(line, "|", &s2); tok && nf < 4; tok = strtok_r(NULL, "|", &s2))
            f[nf++] = tok;
        if (nf < 3) continue;
        char *end;
        long a = strtol(f[1], &end, 10);
        if (end == f[1] || *end) continue; /* not an array element */
        const cJSON *s;
        cJSON_ArrayForEach(s, arr) {
            const char *jid = jstr(s, "job_id"), *list = jstr(s, "list");
            if (!jid || !list || strcmp(jid, f[0]) != 0) continue;
            int k = list_line(sw, list, (int)a, idx, sw->n);
            const char *st = f[2];
            int state = !strcmp(st, "PENDING") || !strncmp(st, "REQUEUE", 7) || !strcmp(st, "SPECIAL_EXIT")
                            ? ST_PENDING
                        : !strcmp(st, "RUNNING") || !strcmp(st, "COMPLETING") || !strcmp(st, "CONFIGURING") ||
                                  !strcmp(st, "SUSPENDED") || !strcmp(st, "STOPPED") || !strcmp(st, "SIGNALING") ||
                                  !strcmp(st, "RESIZING") || !strcmp(st, "STAGE_OUT")
                            ? ST_RUNNING
                            : -1;
            if (state < 0) continue;
            for (int m = 0; m < k; m++) {
                if (idx[m] < 0 || idx[m] >= sw->n) continue;
                q->state[idx[m]] = state;
                q->elem_tasks[idx[m]] = k;
                snprintf(q->job[idx[m]], sizeof q->job[0], "%s_%ld", f[0], a);
                snprintf(q->reason[idx[m]], sizeof q->reason[0], "%s", nf > 3 ? f[3] : "");
            }
        }
    }
    free(idx);
    free(out);
    free(errs);
    cJSON_Delete(subs);
}

/* A live (not zombie: a killed runner may await reaping) initbench process with this pid. */
static int pid_is_initbench(long pid) {
    char path[64], stat[512] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    size_t n = fread(stat, 1, sizeof stat - 1, fp);
    fclose(fp);
    stat[n] = 0;
    /* "PID (COMM) STATE ...": COMM may itself hold ')' so take the last one */
    const char *open = strchr(stat, '('), *close = strrchr(stat, ')');
    if (!open || !close || close < open || close[1] != ' ') return 0;
    char state = close[2];
    return state != 'Z' && state != 'X' && close - open - 1 == 9 && !strncmp(open + 1, "initbench", 9);
}

/* The state of task i from its files and (when q is given) the queue; detail says why. */
static task_state classify(const sweep *sw, int i, const queue_view *q, char *detail, size_t len) {
    const sweep_task *t = &sw->tasks[i];
    char path[4200];
    path_of(sw, path, sizeof path, "%s/run.json", t->dir);
    cJSON *rj = read_json(path);
    record_path(sw, i, path, sizeof path);
    cJSON *rec = read_json(path);
    const char *rs = jstr(rj, "status"), *cs = jstr(rec, "status");
    const cJSON *fin = rj ? cJSON_GetObjectItemCaseSensitive(rj, "final") : NULL;
    const char *rjob = jstr(rec, "slurm_job");
    task_state st = ST_MISSING;
    detail[0] = 0;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (rs && !strcmp(rs, "complete")) {
        st = ST_COMPLETE;
        snprintf(detail, len, "test accuracy %.4f", jnum(fin, "test_accuracy", NAN));
    } else if (rs && !strcmp(rs, "diverged")) {
        st = ST_DIVERGED;
        snprintf(detail, len, "non-finite loss at step %.0f", jnum(rj, "diverged_step", -1));
    } else if (q && q->state[i] == ST_RUNNING) {
        if (q->elem_tasks[i] <= 1 || (cs && !strcmp(cs, "running") && rjob && !strcmp(rjob, q->job[i]))) {
            st = ST_RUNNING;
            snprintf(detail, len, "Slurm job %s", q->job[i]);
        } else {
            st = ST_PENDING;
            snprintf(detail, len, "queued inside running Slurm job %s", q->job[i]);
        }
    } else if (q && q->state[i] == ST_PENDING) {
        st = ST_PENDING;
        snprintf(detail, len, "Slurm job %s (%s)", q->job[i], q->reason[i]);
    } else if (cs && !strcmp(cs, "running") && !rjob && jstr(rec, "host") && !strcmp(jstr(rec, "host"), host) &&
               pid_is_initbench((long)ib_num_to_ll(jnum(rec, "pid", 0), 1, INT_MAX, 0))) {
        st = ST_RUNNING;
        snprintf(detail, len, "local process %.0f", jnum(rec, "pid", 0));
    } else if (cs && !strcmp(cs, "failed")) {
        st = ST_FAILED;
        snprintf(detail, len, "%s", jstr(rec, "reason") ? jstr(rec, "reason") : "no reason recorded");
    } else if ((rs && !strcmp(rs, "interrupted")) || (cs && !strcmp(cs, "interrupted"))) {
        st = ST_INTERRUPTED;
        if (rs && !strcmp(rs, "interrupted"))
            snprintf(detail, len, "%s; checkpoint at step %.0f, resume continues from it",
                     jstr(rj, "reason") ? jstr(rj, "reason") : "stopped by a signal", jnum(fin, "step", 0));
        else
            snprintf(detail, len, "%s", jstr(rec, "reason") ? jstr(rec, "reason") : "stopped by a signal");
    } else if (rs && !strcmp(rs, "failed")) {
        st = ST_FAILED;
        snprintf(detail, len, "%s", jstr(rj, "reason") ? jstr(rj, "reason") : "train failed (see its train.log)");
    } else if ((cs && !strcmp(cs, "running")) || (rs && !strcmp(rs, "running"))) {
        if (q && q->asked && !q->ok && rjob) {
            st = ST_RUNNING;
            snprintf(detail, len, "Slurm job %s, unverified: %s", rjob, q->why);
        } else {
            st = ST_FAILED;
            snprintf(detail, len, "stopped without a result (%s%s ended while it ran; killed?)",
                     rjob ? "Slurm job " : "process ", rjob ? rjob : "");
        }
    } else if (rj || rs) {
        st = ST_FAILED;
        snprintf(detail, len, "run.json has status '%s'", rs ? rs : "(none)");
    } else if (ib_path_exists(path) && !rec) {
        st = ST_FAILED;
        snprintf(detail, len, "task record %.900s unreadable", path);
    }
    cJSON_Delete(rj);
    cJSON_Delete(rec);
    return st;
}

/* ---- the task runner (shared by both executors) ------------------------------------------- */

static volatile sig_atomic_t rt_stop = 0;
static volatile pid_t rt_child = 0;
static void rt_on_signal(int sig) {
    rt_stop = sig;
    pid_t c = rt_child;
    if (c > 0) kill(c, sig);
}

static void install_forwarding(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = rt_on_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

/* The last "initbench: ..." line of a log (what a failing train printed), else its last line. */
/* In a forked child before exec: stop when the parent dies (SIGTERM, so train checkpoints and
 * exits 75) rather than run on unwatched, holding its run's lock, after a sweep was killed. */
static void stop_with_parent(pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) raise(SIGTERM); /* the parent died before prctl took effect */
}

static void failure_reason_from_log(const char *log, char *buf, size_t len) {
    buf[0] = 0;
    uint8_t *data;
    size_t n;
    ib_err e;
    if (ib_read_file(log, &data, &n, &e)) return;
    const char *s = (const char *)data, *best = NULL;
    for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, "initbench: ", 11)) best = p + 11;
    if (best) {
        size_t k = strcspn(best, "\n");
        if (k >= len) k = len - 1;
        memcpy(buf, best, k);
        buf[k] = 0;
    } else {
        ib_last_line(s, buf, len);
    }
    free(data);
}

/* Run task t: 0 done (complete/diverged), 75 interrupted by a signal, 1 failed. */
static int run_one(const sweep *sw, const sweep_task *t, const char *self, int threads, int quiet) {
    char out[4200], log[4300], started[32], reason[1200];
    ib_err err = {0};
    ib_iso_time(started, sizeof started);
    path_of(sw, out, sizeof out, "%s", t->dir);
    if (write_record(sw, t, "running", NULL, -1, NULL, started, &err)) {
        fprintf(stderr, "initbench: task %d: cannot write its record: %s\n", t->index, err.msg);
        return 1;
    }
    if (ib_mkdir_p(out, &err)) {
        ib_err e2;
        write_record(sw, t, "failed", err.msg, -1, NULL, started, &e2);
        if (!quiet) fprintf(stderr, "task %d %s: failed: %s\n", t->index, t->dir, err.msg);
        return 1;
    }
    snprintf(log, sizeof log, "%s/train.log", out);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) { /* the run directory refuses files: log beside the task record */
        path_of(sw, log, sizeof log, "tasks/%04d.log", t->index);
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    char th[16];
    snprintf(th, sizeof th, "%d", threads);
    char **argv = ib_xcalloc((size_t)t->argc + 10, sizeof(char *));
    int k = 0;
    argv[k++] = (char *)self;
    for (int i = 0; i < t->argc; i++) argv[k++] = t->argv[i];
    argv[k++] = "--out";
    argv[k++] = out;
    if (threads > 0) { /* otherwise train's default: $SLURM_CPUS_PER_TASK or all cores */
        argv[k++] = "--threads";
        argv[k++] = th;
    }
    argv[k++] = "--progress";
    argv[k++] = "log";
    argv[k] = NULL;
    fflush(NULL);
    rt_child = 0;
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(reason, sizeof reason, "fork failed: %s", strerror(errno));
        free(argv);
        if (fd >= 0) close(fd);
        write_record(sw, t, "failed", reason, -1, NULL, started, &err);
        return 1;
    }
    if (pid == 0) {
        stop_with_parent(parent);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(self, argv);
        fprintf(stderr, "initbench: cannot run %s: %s\n", self, strerror(errno));
        _exit(IB_EXIT_INTERNAL);
    }
    rt_child = pid;
    if (rt_stop) kill(pid, rt_stop); /* a signal that came before the child existed */
    free(argv);
    if (fd >= 0) close(fd);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR) break;
    rt_child = 0;
    char rel_log[4300];
    snprintf(rel_log, sizeof rel_log, "%s", log + strlen(sw->dir) + 1);
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    if (code == 0) {
        char path[4300];
        snprintf(path, sizeof path, "%s/run.json", out);
        cJSON *rj = read_json(path);
        const char *rs = jstr(rj, "status");
        int ok = rs && (!strcmp(rs, "complete") || !strcmp(rs, "diverged"));
        if (ok) {
            write_record(sw, t, rs, jstr(rj, "reason"), 0, rel_log, started, &err);
            if (!quiet) fprintf(stderr, "task %d %s: %s\n", t->index, t->dir, rs);
        } else {
            snprintf(reason, sizeof reason, "train exited 0 but %.900s says '%s'", path, rs ? rs : "(nothing)");
            write_record(sw, t, "failed", reason, 0, rel_log, started, &err);
        }
        cJSON_Delete(rj);
        return ok ? 0 : 1;
    }
    if (code == 75) {
        char path[4300];
        snprintf(path, sizeof path, "%s/run.json", out);
        cJSON *rj = read_json(path);
        snprintf(reason, sizeof reason, "%s", jstr(rj, "reason") ? jstr(rj, "reason") : "interrupted by a signal");
        cJSON_Delete(rj);
        write_record(sw, t, "interrupted", reason, 75, rel_log, started, &err);
        if (!quiet) fprintf(stderr, "task %d %s: interrupted (%s)\n", t->index, t->dir, reason);
        return 75;
    }
    if (WIFSIGNALED(ws) && rt_stop && WTERMSIG(ws) == rt_stop) {
        /* the stop signal reached train before it could install its handler (still starting) */
        snprintf(reason, sizeof reason, "stopped by signal %d (%s) while starting; rerun starts it again",
                 WTERMSIG(ws), strsignal(WTERMSIG(ws)));
        write_record(sw, t, "interrupted", reason, 128 + WTERMSIG(ws), rel_log, started, &err);
        if (!quiet) fprintf(stderr, "task %d %s: interrupted (%s)\n", t->index, t->dir, reason);
        return 75;
    }
    char why[1000];
    failure_reason_from_log(log, why, sizeof why);
    if (WIFSIGNALED(ws))
        snprintf(reason, sizeof reason, "killed by signal %d (%s)", WTERMSIG(ws), strsignal(WTERMSIG(ws)));
    else
        snprintf(reason, sizeof reason, "%.600s (train exit %d; log %.400s)", *why ? why : "train failed", code, rel_log);
    write_record(sw, t, "failed", reason, code, rel_log, started, &err);
    if (!quiet) fprintf(stderr, "task %d %s: failed: %s\n", t->index, t->dir, reason);
    return 1;
}

static int cmd_run_task(int argc, char **argv) {
    int threads = 0, quiet = 0, help = 0;
    ib_flag flags[] = {
        {"threads", IB_FLAG_INT, &threads, 0, 4096, 0, NULL, "T", "threads per run (default 0: $SLURM_CPUS_PER_TASK or all cores)", 0},
        {"quiet", IB_FLAG_BOOL, &quiet, 0, 0, 0, NULL, NULL, "print nothing but errors", 0},
        {"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0},
    };
    const int nf = (int)(sizeof flags / sizeof flags[0]);
    ib_err err = {0};
    char *pos[2];
    int npos = 0;
    if (ib_flags_parse(flags, nf, argc, argv, 1, pos, 2, &npos, &err)) ib_exit_err(&err);
    if (help || npos != 2) {
        FILE *fp = help ? stdout : stderr;
        fprintf(fp, "usage: initbench sweep run-task DIR INDEX[,INDEX...] [--threads T] [--quiet]\n\n"
                    "Runs the given tasks of the sweep in DIR one after another (what each Slurm array task\n"
                    "and each local sweep slot runs). A finished task is skipped; an interrupted one resumes\n"
                    "from its checkpoint. SIGTERM/SIGINT/SIGUSR1 are passed to the running train, which\n"
                    "checkpoints; no further task is started. Exit 0 all done, 75 interrupted, 1 a task failed.\n\n");
        ib_flags_print_help(fp, flags, nf);
        return help ? 0 : IB_EXIT_USAGE;
    }
    sweep sw;
    if (load_manifest(pos[0], &sw, &err)) ib_exit_err(&err);
    int *idx = ib_xmalloc((size_t)sw.n * 4 * sizeof(int));
    int k = parse_index_list(pos[1], sw.n, idx, sw.n * 4);
    if (k <= 0) {
        int n_tasks = sw.n;
        sweep_free(&sw);
        ib_die(IB_EXIT_USAGE, "run-task: '%s' is not a list of task indices in 0..%d", pos[1], n_tasks - 1);
    }
    char self[4096];
    self_exe(self, sizeof self);
    install_forwarding();
    int failed = 0, interrupted = 0, busy = 0;
    for (int m = 0; m < k; m++) {
        if (rt_stop) {
            interrupted = 1;
            break;
        }
        const sweep_task *t = &sw.tasks[idx[m]];
        /* Claim the task: two runners given the same index (a requeued array task whose first
         * instance still runs, a duplicated submission) would otherwise both write its record. */
        char lock[4300], subject[4200], tasks_dir[4200];
        path_of(&sw, tasks_dir, sizeof tasks_dir, "tasks");
        if (ib_mkdir_p(tasks_dir, &err)) ib_exit_err(&err);
        path_of(&sw, lock, sizeof lock, "tasks/%04d.lock", t->index);
        snprintf(subject, sizeof subject, "task %d (%s)", t->index, t->dir);
        int claim = ib_lock_file(lock, subject, "initbench task runner", &err);
        if (claim < 0) {
            fprintf(stderr, "initbench: %s\n", err.msg);
            busy++;
            continue;
        }
        char record_name[32];
        snprintf(record_name, sizeof record_name, "%04d.json", t->index);
        ib_remove_stale_temps(tasks_dir, record_name); /* a runner killed while writing the record */
        char detail[1200];
        task_state st = classify(&sw, t->index, NULL, detail, sizeof detail);
        if (state_done(st)) {
            if (!quiet) fprintf(stderr, "task %d %s: already %s\n", t->index, t->dir, state_names[st]);
            ib_unlock_dir(claim);
            continue;
        }
        int rc = run_one(&sw, t, self, threads, quiet);
        ib_unlock_dir(claim);
        if (rc == 75) {
            interrupted = 1;
            break;
        }
        if (rc) failed++;
    }
    free(idx);
    sweep_free(&sw);
    return interrupted ? 75 : failed ? IB_EXIT_INTERNAL : busy ? IB_EXIT_USAGE : 0;
}

/* ---- the local executor --------------------------------------------------------------------- */

static void print_summary_table(FILE *fp, const sweep *sw, const task_state *states, int csv) {
    double *sd = ib_xmalloc((size_t)sw->n * sizeof(double));
    int ns = 0;
    for (int i = 0; i < sw->n; i++) {
        int seen = 0;
        for (int s = 0; s < ns; s++) seen |= sd[s] == sw->tasks[i].stddev;
        if (!seen) sd[ns++] = sw->tasks[i].stddev;
    }
    if (csv) fprintf(fp, "stddev,tasks,complete,diverged,failed,missing,acc_mean,acc_std,acc_min\n");
    else
        fprintf(fp, "\n%-10s %8s %10s %10s %10s %9s %7s %8s\n", "stddev", "runs", "acc_mean", "acc_std", "acc_min",
                "diverged", "failed", "missing");
    for (int s = 0; s < ns; s++) {
        double sum = 0, sum2 = 0, mn = INFINITY;
        int k = 0, total = 0, diverged = 0, failed = 0, missing = 0;
        for (int i = 0; i < sw->n; i++) {
            const sweep_task *t = &sw->tasks[i];
            if (t->stddev != sd[s]) continue;
            total++;
            if (states[i] == ST_DIVERGED) diverged++;
            else if (states[i] == ST_MISSING || state_active(states[i])) missing++;
            else if (states[i] != ST_COMPLETE) failed++;
            if (states[i] != ST_COMPLETE) continue;
            char path[4200];
            path_of(sw, path, sizeof path, "%s/run.json", t->dir);
            cJSON *rj = read_json(path);
            double a = jnum(rj ? cJSON_GetObjectItemCaseSensitive(rj, "final") : NULL, "test_accuracy", NAN);
            cJSON_Delete(rj);
            if (!isfinite(a)) continue;
            sum += a, sum2 += a * a, mn = a < mn ? a : mn, k++;
        }
        double mean = k ? sum / k : NAN;
        double sdv = k > 1 ? sqrt(fmax(0, (sum2 - k * mean * mean) / (k - 1))) : k ? 0 : NAN;
        if (csv) {
            fprintf(fp, "%.15g,%d,%d,%d,%d,%d,", sd[s], total, k, diverged, failed, missing);
            if (k) fprintf(fp, "%.6f,%.6f,%.6f\n", mean, sdv, mn);
            else fprintf(fp, ",,\n");
        } else {
            char runs[32];
            snprintf(runs, sizeof runs, "%d/%d", k, total);
            fprintf(fp, "%-10g %8s %10.4f %10.4f %10.4f %9d %7d %8d\n", sd[s], runs, mean, sdv, k ? mn : NAN, diverged,
                    failed, missing);
        }
    }
    free(sd);
}

/* Run the listed tasks here, J at a time, each through `initbench sweep run-task DIR I`. */
static int run_local(const sweep *sw, const int *todo, int n_todo, int jobs, int threads) {
    char self[4096];
    self_exe(self, sizeof self);
    install_forwarding();
    pid_t *pids = ib_xcalloc((size_t)jobs, sizeof(pid_t));
    int *slot_task = ib_xcalloc((size_t)jobs, sizeof(int));
    double t0 = ib_now();
    int next = 0, running = 0, done = 0, failed = 0, interrupted = 0;
    for (;;) {
        while (!rt_stop && running < jobs && next < n_todo) {
            const sweep_task *t = &sw->tasks[todo[next++]];
            int slot = 0;
            while (pids[slot]) slot++;
            char idx[16], th[16];
            snprintf(idx, sizeof idx, "%d", t->index);
            snprintf(th, sizeof th, "%d", threads);
            char *argv[] = {self, "sweep", "run-task", (char *)sw->dir, idx, "--threads", th, "--quiet", NULL};
            fflush(NULL);
            const pid_t parent = getpid();
            pid_t pid = fork();
            if (pid < 0) {
                fprintf(stderr, "initbench: fork failed: %s\n", strerror(errno));
                failed++;
                continue;
            }
            if (pid == 0) {
                stop_with_parent(parent);
                execv(self, argv);
                fprintf(stderr, "initbench: cannot run %s: %s\n", self, strerror(errno));
                _exit(IB_EXIT_INTERNAL);
            }
            pids[slot] = pid, slot_task[slot] = t->index, running++;
            fprintf(stderr, "[%d/%d] started %s\n", done + failed + interrupted + running, n_todo, t->dir);
        }
        if (!running) break;
        int ws;
        pid_t pid = wait(&ws);
        if (pid < 0) {
            if (errno == EINTR) {
                for (int s = 0; s < jobs; s++) /* pass a stop signal on to every task runner */
                    if (pids[s] && rt_stop) kill(pids[s], rt_stop);
                continue;
            }
            break;
        }
        for (int s = 0; s < jobs; s++)
            if (pids[s] == pid) {
                const sweep_task *t = &sw->tasks[slot_task[s]];
                pids[s] = 0, running--;
                char detail[1200];
                task_state st = classify(sw, t->index, NULL, detail, sizeof detail);
                int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
                if (code == 75 || st == ST_INTERRUPTED) interrupted++;
                else if (state_done(st)) done++;
                else failed++;
                double el = ib_now() - t0;
                int finished = done + failed + interrupted;
                fprintf(stderr, "[%d/%d] %s %s%s%s  elapsed %.0f s, ETA %.0f s\n", finished, n_todo, t->dir,
                        state_done(st) ? state_names[st] : st == ST_INTERRUPTED ? "INTERRUPTED" : "FAILED",
                        state_done(st) ? "" : ": ", state_done(st) ? "" : detail, el,
                        finished ? el / finished * (n_todo - finished) : 0);
            }
    }
    free(pids);
    free(slot_task);
    if (rt_stop) {
        fprintf(stderr, "sweep %s: stopped by %s; %d task%s not started; rerun the same command (or 'initbench sweep "
                        "resume %s') to continue\n",
                sw->dir, strsignal(rt_stop), n_todo - next, n_todo - next == 1 ? "" : "s", sw->dir);
        return 75;
    }
    return failed ? IB_EXIT_INTERNAL : interrupted ? 75 : 0;
}

/* ---- the Slurm executor --------------------------------------------------------------------- */

#define MAX_SBATCH_ARGS 64
typedef struct slurm_opts {
    const char *partition, *account, *time, *mem, *gres, *jobs_dir;
    int cpus_per_task, array_throttle, tasks_per_job, signal_lead, max_array_size;
    int n_extra;
    char *extra[MAX_SBATCH_ARGS];
} slurm_opts;

static void slurm_opts_defaults(slurm_opts *o) {
    memset(o, 0, sizeof *o);
    o->cpus_per_task = 1;
    o->tasks_per_job = 1;
    o->signal_lead = 120;
}

/* Remove every "--sbatch-arg X" / "--sbatch-arg=X" from argv (the flag table holds one value per
 * flag); returns the new argc. */
static int take_sbatch_args(int argc, char **argv, slurm_opts *o) {
    int w = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--sbatch-arg")) {
            if (i + 1 >= argc) ib_die(IB_EXIT_USAGE, "--sbatch-arg needs a value (one sbatch option, e.g. --qos=debug)");
            v = argv[++i];
        } else if (!strncmp(a, "--sbatch-arg=", 13)) {
            v = a + 13;
        }
        if (v) {
            if (o->n_extra >= MAX_SBATCH_ARGS) ib_die(IB_EXIT_USAGE, "--sbatch-arg: at most %d", MAX_SBATCH_ARGS);
            if (v[0] != '-') ib_die(IB_EXIT_USAGE, "--sbatch-arg '%s': expected an sbatch option starting with '-'", v);
            o->extra[o->n_extra++] = (char *)v;
            continue;
        }
        argv[w++] = argv[i];
    }
    return w;
}

static int add_slurm_flags(ib_flag *f, int n, slurm_opts *o) {
    f[n++] = (ib_flag){"partition", IB_FLAG_STRING, &o->partition, 0, 0, 0, NULL, "P", "Slurm partition", 0};
    f[n++] = (ib_flag){"account", IB_FLAG_STRING, &o->account, 0, 0, 0, NULL, "A", "Slurm account", 0};
    f[n++] = (ib_flag){"time", IB_FLAG_STRING, &o->time, 0, 0, 0, NULL, "T", "time limit per array task (sbatch --time)", 0};
    f[n++] = (ib_flag){"cpus-per-task", IB_FLAG_INT, &o->cpus_per_task, 1, 4096, 0, NULL, "C",
                       "cores per array task, also its training threads (default 1)", 0};
    f[n++] = (ib_flag){"mem", IB_FLAG_STRING, &o->mem, 0, 0, 0, NULL, "M", "memory per array task (sbatch --mem)", 0};
    f[n++] = (ib_flag){"gres", IB_FLAG_STRING, &o->gres, 0, 0, 0, NULL, "G", "generic resources (sbatch --gres)", 0};
    f[n++] = (ib_flag){"array-throttle", IB_FLAG_INT, &o->array_throttle, 0, 1000000, 0, NULL, "P",
                       "at most P array tasks running at once (sbatch --array=...%P; default 0: no limit)", 0};
    f[n++] = (ib_flag){"tasks-per-job", IB_FLAG_INT, &o->tasks_per_job, 1, 100000, 0, NULL, "K",
                       "(stddev, repeat) pairs run one after another per array task (default 1)", 0};
    f[n++] = (ib_flag){"signal-lead", IB_FLAG_INT, &o->signal_lead, 0, 86400, 0, NULL, "S",
                       "USR1 this many seconds before the time limit: checkpoint and requeue (default 120)", 0};
    f[n++] = (ib_flag){"max-array-size", IB_FLAG_INT, &o->max_array_size, 0, 100000000, 0, NULL, "N",
                       "split arrays at N tasks (default 0: the cluster's MaxArraySize)", 0};
    f[n++] = (ib_flag){"jobs-dir", IB_FLAG_STRING, &o->jobs_dir, 0, 0, 0, NULL, "DIR",
                       "where array.sbatch.in and collect.sbatch.in are (default $INITBENCH_JOBS_DIR or <checkout>/jobs)",
                       0};
    return n;
}

static cJSON *slurm_opts_json(const slurm_opts *o) {
    cJSON *j = cJSON_CreateObject();
    if (o->partition) cJSON_AddStringToObject(j, "partition", o->partition);
    if (o->account) cJSON_AddStringToObject(j, "account", o->account);
    if (o->time) cJSON_AddStringToObject(j, "time", o->time);
    if (o->mem) cJSON_AddStringToObject(j, "mem", o->mem);
    if (o->gres) cJSON_AddStringToObject(j, "gres", o->gres);
    cJSON_AddNumberToObject(j, "cpus_per_task", o->cpus_per_task);
    cJSON_AddNumberToObject(j, "array_throttle", o->array_throttle);
    cJSON_AddNumberToObject(j, "tasks_per_job", o->tasks_per_job);
    cJSON_AddNumberToObject(j, "signal_lead", o->signal_lead);
    cJSON_AddNumberToObject(j, "max_array_size", o->max_array_size);
    cJSON *e = cJSON_AddArrayToObject(j, "sbatch_args");
    for (int i = 0; i < o->n_extra; i++) cJSON_AddItemToArray(e, cJSON_CreateString(o->extra[i]));
    return j;
}

/* Options not given on this command line come from the last submission (resume). The strings
 * point into `rec`, which the caller keeps alive. */
static void slurm_opts_from_record(slurm_opts *o, ib_flag *f, int n, const cJSON *rec) {
    const cJSON *j = rec ? cJSON_GetObjectItemCaseSensitive(rec, "options") : NULL;
    if (!j) return;
    struct {
        const char *flag, *key;
        const char **dst;
    } s[] = {{"partition", "partition", &o->partition}, {"account", "account", &o->account},
             {"time", "time", &o->time},                {"mem", "mem", &o->mem},
             {"gres", "gres", &o->gres}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (!ib_flag_find(f, n, s[i].flag)->seen && jstr(j, s[i].key)) *s[i].dst = jstr(j, s[i].key);
    struct {
        const char *flag, *key;
        int *dst;
    } d[] = {{"cpus-per-task", "cpus_per_task", &o->cpus_per_task},
             {"array-throttle", "array_throttle", &o->array_throttle},
             {"tasks-per-job", "tasks_per_job", &o->tasks_per_job},
             {"signal-lead", "signal_lead", &o->signal_lead},
             {"max-array-size", "max_array_size", &o->max_array_size}};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (!ib_flag_find(f, n, d[i].flag)->seen) *d[i].dst = (int)ib_num_to_ll(jnum(j, d[i].key, *d[i].dst), 0, INT_MAX, *d[i].dst);
    if (!o->n_extra) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "sbatch_args"), *x;
        cJSON_ArrayForEach(x, e) {
            if (cJSON_IsString(x) && o->n_extra < MAX_SBATCH_ARGS) o->extra[o->n_extra++] = x->valuestring;
        }
    }
}

static void shell_quote(const char *s, char *out, size_t len) {
    size_t k = 0;
    if (k + 1 < len) out[k++] = '\'';
    for (; *s && k + 5 < len; s++) {
        if (*s == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else {
            out[k++] = *s;
        }
    }
    if (k + 1 < len) out[k++] = '\'';
    out[k] = 0;
}

/* DIR/slurm/NAME from jobs/NAME.in with @INITBENCH@, @SWEEP_DIR@ and @SIGNAL_LEAD@ filled in. */
static int instantiate_template(const sweep *sw, const slurm_opts *o, const char *name, const char *self, ib_err *err) {
    const char *jd = o->jobs_dir ? o->jobs_dir : getenv("INITBENCH_JOBS_DIR");
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/%s.in", jd ? jd : IB_SOURCE_DIR "/jobs", name);
    uint8_t *data;
    size_t n;
    if (ib_read_file(src, &data, &n, err))
        return ib_fail(err, IB_EXIT_USAGE, "job template %s: %s (set --jobs-dir or INITBENCH_JOBS_DIR)", src, err->msg);
    char q_self[8300], q_dir[8300], lead[32];
    shell_quote(self, q_self, sizeof q_self);
    shell_quote(sw->dir, q_dir, sizeof q_dir);
    snprintf(lead, sizeof lead, "%d", o->signal_lead);
    const char *keys[] = {"@INITBENCH@", "@SWEEP_DIR@", "@SIGNAL_LEAD@"};
    const char *vals[] = {q_self, q_dir, lead};
    size_t cap = n * 2 + 3 * 8300 * 8 + 1, k = 0;
    char *outp = ib_xmalloc(cap);
    for (const char *p = (const char *)data; *p;) {
        int hit = 0;
        for (int m = 0; m < 3; m++) {
            size_t kl = strlen(keys[m]);
            if (!strncmp(p, keys[m], kl)) {
                size_t vl = strlen(vals[m]);
                if (k + vl + 1 >= cap) break;
                memcpy(outp + k, vals[m], vl);
                k += vl, p += kl, hit = 1;
                break;
            }
        }
        if (!hit) {
            if (k + 2 >= cap) break;
            outp[k++] = *p++;
        }
    }
    free(data);
    path_of(sw, dst, sizeof dst, "slurm/%s", name);
    int rc = ib_write_file_atomic(dst, outp, k, err);
    free(outp);
    if (!rc) chmod(dst, 0755);
    return rc;
}

static int sbatch(char **argv, char *job_id, size_t len, ib_err *err) {
    char *out = NULL, *errs = NULL;
    int rc = ib_run_capture(argv, 60, &out, &errs);
    int ret = 0;
    if (rc == -1) ret = ib_fail(err, IB_EXIT_INTERNAL, "cannot run sbatch: %s", strerror(errno));
    else if (rc == -2) ret = ib_fail(err, IB_EXIT_INTERNAL, "sbatch did not answer within 60 s");
    else if (rc != 0) {
        char line[800];
        ib_last_line(errs && *errs ? errs : out, line, sizeof line);
        ret = ib_fail(err, IB_EXIT_USAGE, "sbatch refused the job: %s", *line ? line : "(no message)");
    } else {
        size_t k = strspn(out, "0123456789");
        if (!k || k >= len) ret = ib_fail(err, IB_EXIT_INTERNAL, "sbatch --parsable printed '%.100s'", out);
        else {
            memcpy(job_id, out, k);
            job_id[k] = 0;
        }
    }
    free(out);
    free(errs);
    return ret;
}

static void push_arg(char **argv, int *k, int max, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void push_arg(char **argv, int *k, int max, const char *fmt, ...) {
    if (*k >= max - 1) return;
    char buf[8300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    argv[(*k)++] = ib_xstrdup(buf);
    argv[*k] = NULL;
}

static void common_sbatch_args(char **a, int *k, int max, const slurm_opts *o) {
    if (o->partition) push_arg(a, k, max, "--partition=%s", o->partition);
    if (o->account) push_arg(a, k, max, "--account=%s", o->account);
    for (int i = 0; i < o->n_extra; i++) push_arg(a, k, max, "%s", o->extra[i]);
}

/* Submit the listed tasks as array job(s) and a collect job after them. */
static int submit_slurm(const sweep *sw, const int *todo, int n_todo, const slurm_opts *o, ib_err *err) {
    char why[600];
    if (ib_slurm_ping(why, sizeof why))
        return ib_fail(err, IB_EXIT_INTERNAL, "Slurm is not reachable: %s", why);
    char self[4096], path[4200];
    self_exe(self, sizeof self);
    path_of(sw, path, sizeof path, "slurm/logs");
    if (ib_mkdir_p(path, err)) return err->code;
    if (instantiate_template(sw, o, "array.sbatch", self, err) || instantiate_template(sw, o, "collect.sbatch", self, err))
        return err->code;
    int max_arr = ib_slurm_max_array_size();
    if (o->max_array_size > 0 && o->max_array_size < max_arr) max_arr = o->max_array_size;
    const int per = o->tasks_per_job;
    const int groups = (n_todo + per - 1) / per;

    cJSON *rec = read_submissions(sw);
    if (!rec) rec = cJSON_CreateObject();
    cJSON_DeleteItemFromObject(rec, "options");
    cJSON_AddItemToObject(rec, "options", slurm_opts_json(o));
    cJSON *subs = cJSON_GetObjectItemCaseSensitive(rec, "submissions");
    if (!cJSON_IsArray(subs)) {
        cJSON_DeleteItemFromObject(rec, "submissions");
        subs = cJSON_AddArrayToObject(rec, "submissions");
    }
    cJSON *collects = cJSON_GetObjectItemCaseSensitive(rec, "collect_jobs");
    if (!cJSON_IsArray(collects)) {
        cJSON_DeleteItemFromObject(rec, "collect_jobs");
        collects = cJSON_AddArrayToObject(rec, "collect_jobs");
    }
    char subs_path[4200];
    path_of(sw, subs_path, sizeof subs_path, "slurm/submissions.json");
    char deps[4096] = "afterany";
    int rc = 0;
    for (int g0 = 0; g0 < groups && !rc; g0 += max_arr) {
        int m = groups - g0 < max_arr ? groups - g0 : max_arr;
        int seq = cJSON_GetArraySize(subs) + 1;
        char list_rel[64], list_abs[4300];
        snprintf(list_rel, sizeof list_rel, "slurm/sub-%03d.tasks", seq);
        path_of(sw, list_abs, sizeof list_abs, "%s", list_rel);
        size_t cap = (size_t)m * (size_t)per * 12 + 16, len = 0;
        char *text = ib_xmalloc(cap);
        for (int g = g0; g < g0 + m; g++) {
            for (int j = 0; j < per && g * per + j < n_todo; j++)
                len += (size_t)snprintf(text + len, cap - len, "%s%d", j ? "," : "", todo[g * per + j]);
            len += (size_t)snprintf(text + len, cap - len, "\n");
        }
        rc = ib_write_file_atomic(list_abs, text, len, err);
        free(text);
        if (rc) break;
        char *a[MAX_SBATCH_ARGS + 32];
        int k = 0;
        const int max = (int)(sizeof a / sizeof a[0]);
        a[0] = NULL;
        push_arg(a, &k, max, "sbatch");
        push_arg(a, &k, max, "--parsable");
        if (o->array_throttle > 0) push_arg(a, &k, max, "--array=0-%d%%%d", m - 1, o->array_throttle);
        else push_arg(a, &k, max, "--array=0-%d", m - 1);
        const char *base = strrchr(sw->dir, '/');
        push_arg(a, &k, max, "--job-name=ib-sweep-%s", base ? base + 1 : sw->dir);
        push_arg(a, &k, max, "--chdir=%s", sw->dir);
        push_arg(a, &k, max, "--output=%s/slurm/logs/%%A_%%a.out", sw->dir);
        push_arg(a, &k, max, "--cpus-per-task=%d", o->cpus_per_task);
        if (o->time) push_arg(a, &k, max, "--time=%s", o->time);
        if (o->mem) push_arg(a, &k, max, "--mem=%s", o->mem);
        if (o->gres) push_arg(a, &k, max, "--gres=%s", o->gres);
        common_sbatch_args(a, &k, max, o);
        push_arg(a, &k, max, "%s/slurm/array.sbatch", sw->dir);
        push_arg(a, &k, max, "%s", list_abs);
        char jid[64];
        rc = sbatch(a, jid, sizeof jid, err);
        if (!rc) {
            cJSON *s = cJSON_CreateObject();
            cJSON_AddStringToObject(s, "job_id", jid);
            cJSON_AddStringToObject(s, "list", list_rel);
            cJSON_AddNumberToObject(s, "array_tasks", m);
            char when[32];
            ib_iso_time(when, sizeof when);
            cJSON_AddStringToObject(s, "submitted_at", when);
            cJSON *argj = cJSON_AddArrayToObject(s, "sbatch");
            for (int i = 0; i < k; i++) cJSON_AddItemToArray(argj, cJSON_CreateString(a[i]));
            cJSON_AddItemToArray(subs, s);
            size_t dl = strlen(deps);
            snprintf(deps + dl, sizeof deps - dl, ":%s", jid);
            int end = (g0 + m) * per < n_todo ? (g0 + m) * per : n_todo, nt = end - g0 * per;
            fprintf(stderr, "submitted array job %s: %d array task%s for %d sweep task%s (list %s)\n", jid, m,
                    m == 1 ? "" : "s", nt, nt == 1 ? "" : "s", list_rel);
            ib_err e2;
            if (write_json_atomic(subs_path, rec, &e2)) {
                rc = ib_fail(err, e2.code, "array job %s submitted, but recording it failed: %s", jid, e2.msg);
            }
        }
        for (int i = 0; i < k; i++) free(a[i]);
    }
    if (strcmp(deps, "afterany") != 0) { /* at least one array went in: collect after all of them */
        char *a[MAX_SBATCH_ARGS + 32];
        int k = 0;
        const int max = (int)(sizeof a / sizeof a[0]);
        push_arg(a, &k, max, "sbatch");
        push_arg(a, &k, max, "--parsable");
        push_arg(a, &k, max, "--dependency=%s", deps);
        push_arg(a, &k, max, "--job-name=ib-collect");
        push_arg(a, &k, max, "--chdir=%s", sw->dir);
        push_arg(a, &k, max, "--output=%s/slurm/logs/collect-%%j.out", sw->dir);
        push_arg(a, &k, max, "--cpus-per-task=1");
        common_sbatch_args(a, &k, max, o);
        push_arg(a, &k, max, "%s/slurm/collect.sbatch", sw->dir);
        char jid[64];
        ib_err cerr;
        if (sbatch(a, jid, sizeof jid, &cerr)) {
            fprintf(stderr, "initbench: warning: the collect job was not submitted (%s); run 'initbench sweep collect "
                            "%s' when the arrays are done\n", cerr.msg, sw->dir);
        } else {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "job_id", jid);
            cJSON_AddStringToObject(c, "dependency", deps);
            cJSON_AddItemToArray(collects, c);
            fprintf(stderr, "submitted collect job %s (%s)\n", jid, deps);
            ib_err e2;
            if (write_json_atomic(subs_path, rec, &e2) && !rc) rc = ib_fail(err, e2.code, "%s", e2.msg);
        }
        for (int i = 0; i < k; i++) free(a[i]);
    }
    cJSON_Delete(rec);
    return rc;
}

/* ---- status, resume, collect ---------------------------------------------------------------- */

static task_state *all_states(const sweep *sw, const queue_view *q, char (**details)[1200]) {
    task_state *st = ib_xmalloc((size_t)sw->n * sizeof *st);
    char(*d)[1200] = ib_xmalloc((size_t)sw->n * sizeof *d);
    for (int i = 0; i < sw->n; i++) st[i] = classify(sw, i, q, d[i], sizeof d[i]);
    if (details) *details = d;
    else free(d);
    return st;
}

int ib_sweep_scan(const char *dir, int counts[IB_SWEEP_NSTATES], ib_err *err) {
    _Static_assert(ST__N == IB_SWEEP_NSTATES, "sweep.h's state count");
    sweep sw;
    if (load_manifest(dir, &sw, err)) return -1;
    task_state *st = all_states(&sw, NULL, NULL);
    for (int s = 0; s < ST__N; s++) counts[s] = 0;
    for (int i = 0; i < sw.n; i++) counts[st[i]]++;
    int n = sw.n;
    free(st);
    sweep_free(&sw);
    return n;
}

static int cmd_status(int argc, char **argv) {
    int help = 0, quiet = 0;
    ib_flag flags[] = {
        {"quiet", IB_FLAG_BOOL, &quiet, 0, 0, 0, NULL, NULL, "only the summary line", 0},
        {"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0},
    };
    const int nf = (int)(sizeof flags / sizeof flags[0]);
    ib_err err = {0};
    char *pos[1];
    int npos = 0;
    if (ib_flags_parse(flags, nf, argc, argv, 1, pos, 1, &npos, &err)) ib_exit_err(&err);
    if (help || npos != 1) {
        FILE *fp = help ? stdout : stderr;
        fprintf(fp, "usage: initbench sweep status DIR [--quiet]\n\n"
                    "One line per task: INDEX DIR STATE DETAIL, STATE one of complete, diverged, running,\n"
                    "pending, interrupted, failed, missing; from the run directories, the task records and\n"
                    "(for Slurm submissions) squeue. Exit 0 when every task is complete (or diverged: a\n"
                    "finished result), 3 while some are not, 2 bad input, 1 internal error.\n\n");
        ib_flags_print_help(fp, flags, nf);
        return help ? 0 : IB_EXIT_USAGE;
    }
    sweep sw;
    if (load_manifest(pos[0], &sw, &err)) ib_exit_err(&err);
    queue_view q;
    queue_query(&sw, &q);
    char(*d)[1200];
    task_state *st = all_states(&sw, &q, &d);
    int count[ST__N] = {0};
    for (int i = 0; i < sw.n; i++) {
        count[st[i]]++;
        if (!quiet) printf("%4d  %-24s %-11s %s\n", i, sw.tasks[i].dir, state_names[st[i]], d[i]);
    }
    if (q.asked && !q.ok) printf("note: Slurm queue not consulted: %s\n", q.why);
    printf("%s: %d tasks:", sw.dir, sw.n);
    for (int s = 0; s < ST__N; s++)
        if (count[s]) printf(" %d %s", count[s], state_names[s]);
    printf("\n");
    int all = count[ST_COMPLETE] + count[ST_DIVERGED] == sw.n;
    free(st);
    free(d);
    queue_free(&q);
    sweep_free(&sw);
    return all ? 0 : 3;
}

static ib_sweep_reporter reporter;
void ib_sweep_set_reporter(ib_sweep_reporter write_report) { reporter = write_report; }

/* DIR/summary.csv, then the report DIR/report/ (a report problem is a warning: the runs are
 * what matters, and `initbench report DIR` can redo it). */
static int write_summary(const sweep *sw, const task_state *st, ib_err *err) {
    char path[4200];
    path_of(sw, path, sizeof path, "summary.csv");
    ib_atomic_file af;
    if (ib_atomic_open(&af, path, err)) return err->code;
    print_summary_table(af.fp, sw, st, 1);
    if (ib_atomic_commit(&af, err)) return err->code;
    path_of(sw, path, sizeof path, "report");
    const char *dirs[1] = {sw->dir};
    ib_err rerr = {0};
    if (!reporter)
        printf("report: initbench report %s --out %s\n", sw->dir, path);
    else if (reporter(dirs, 1, path, 1, &rerr))
        fprintf(stderr, "initbench: warning: report not written: %s\n", rerr.msg);
    else
        printf("report: %s/index.html\n", path);
    return 0;
}

static int cmd_collect(int argc, char **argv) {
    int help = 0;
    ib_flag flags[] = {{"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0}};
    ib_err err = {0};
    char *pos[1];
    int npos = 0;
    if (ib_flags_parse(flags, 1, argc, argv, 1, pos, 1, &npos, &err)) ib_exit_err(&err);
    if (help || npos != 1) {
        FILE *fp = help ? stdout : stderr;
        fprintf(fp, "usage: initbench sweep collect DIR\n\n"
                    "Aggregates the sweep into DIR/summary.csv: per stddev the number of tasks, complete,\n"
                    "diverged, failed (incl. interrupted) and missing runs, and the mean, sample std and min of\n"
                    "the final test accuracy over the complete runs. The Slurm executor runs it as a job\n"
                    "after the arrays (--dependency=afterany). From the files only (no squeue).\n");
        return help ? 0 : IB_EXIT_USAGE;
    }
    sweep sw;
    if (load_manifest(pos[0], &sw, &err)) ib_exit_err(&err);
    task_state *st = all_states(&sw, NULL, NULL);
    int rc = write_summary(&sw, st, &err);
    if (rc) {
        free(st);
        sweep_free(&sw);
        ib_exit_err(&err);
    }
    print_summary_table(stdout, &sw, st, 0);
    int count[ST__N] = {0};
    for (int i = 0; i < sw.n; i++) count[st[i]]++;
    printf("\nwrote %s/summary.csv (%d tasks: %d complete, %d diverged, %d failed, %d missing)\n", sw.dir, sw.n,
           count[ST_COMPLETE], count[ST_DIVERGED], count[ST_FAILED] + count[ST_INTERRUPTED],
           count[ST_MISSING] + count[ST_RUNNING] + count[ST_PENDING]);
    free(st);
    sweep_free(&sw);
    return 0;
}

/* Tasks neither finished nor queued/running: what an executor should (re)start. */
static int *tasks_to_run(const sweep *sw, const queue_view *q, int *n_todo, int *n_done, int *n_active) {
    int *todo = ib_xmalloc((size_t)sw->n * sizeof(int));
    *n_todo = *n_done = *n_active = 0;
    for (int i = 0; i < sw->n; i++) {
        char d[1200];
        task_state s = classify(sw, i, q, d, sizeof d);
        if (state_done(s)) (*n_done)++;
        else if (state_active(s)) (*n_active)++;
        else todo[(*n_todo)++] = i;
    }
    return todo;
}

/* Shared by `sweep` and `sweep resume`: run what is left with the chosen executor. */
static int execute(const sweep *sw, const char *executor, int jobs, const slurm_opts *o, int ignore_queue,
                   int print_table) {
    queue_view q;
    if (ignore_queue) { /* the cluster is gone: whatever it still shows as queued is not coming */
        memset(&q, 0, sizeof q);
        q.ok = 1;
        q.state = ib_xmalloc((size_t)sw->n * sizeof(int));
        for (int i = 0; i < sw->n; i++) q.state[i] = -1;
    } else {
        queue_query(sw, &q);
    }
    if (q.asked && !q.ok)
        ib_die(IB_EXIT_INTERNAL, "%s: cannot tell which tasks are queued in Slurm (%s); refusing to start tasks twice "
                                 "(--ignore-queue if that cluster is gone)", sw->dir, q.why);
    int n_todo, n_done, n_active;
    int *todo = tasks_to_run(sw, &q, &n_todo, &n_done, &n_active);
    queue_free(&q);
    int rc = 0;
    if (!strcmp(executor, "local")) {
        /* one local executor per sweep directory (each run directory is locked by its run too) */
        ib_err lerr = {0};
        int lock_fd = ib_lock_dir(sw->dir, "initbench sweep", &lerr);
        if (lock_fd < 0) {
            free(todo);
            ib_exit_err(&lerr);
        }
        int cores = ib_default_threads();
        int threads = cores / jobs > 0 ? cores / jobs : 1;
        fprintf(stderr, "sweep %s: %d runs (%d already finished%s), %d at a time with %d thread%s each\n", sw->dir,
                sw->n, n_done, n_active ? ", some queued or running elsewhere" : "", jobs, threads,
                threads == 1 ? "" : "s");
        double t0 = ib_now();
        rc = run_local(sw, todo, n_todo, jobs, threads);
        task_state *st = all_states(sw, NULL, NULL);
        if (print_table) print_summary_table(stdout, sw, st, 0);
        int count[ST__N] = {0};
        for (int i = 0; i < sw->n; i++) count[st[i]]++;
        printf("\nsweep wall time %.1f s; %d of %d runs finished, %d failed, %d interrupted, %d not run; results in %s\n",
               ib_now() - t0, count[ST_COMPLETE] + count[ST_DIVERGED], sw->n, count[ST_FAILED],
               count[ST_INTERRUPTED], count[ST_MISSING] + count[ST_RUNNING] + count[ST_PENDING], sw->dir);
        ib_err err;
        if (write_summary(sw, st, &err)) fprintf(stderr, "initbench: warning: %s\n", err.msg);
        free(st);
        ib_unlock_dir(lock_fd);
    } else {
        fprintf(stderr, "sweep %s: %d tasks: %d finished, %d queued or running, %d to submit\n", sw->dir, sw->n, n_done,
                n_active, n_todo);
        if (n_todo) {
            ib_err err = {0};
            if (submit_slurm(sw, todo, n_todo, o, &err)) {
                free(todo);
                ib_exit_err(&err);
            }
            printf("submitted %d task%s of %s; follow with: initbench sweep status %s\n", n_todo,
                   n_todo == 1 ? "" : "s", sw->dir, sw->dir);
        } else {
            printf("nothing to submit; see: initbench sweep status %s\n", sw->dir);
        }
    }
    free(todo);
    return rc;
}

static int cmd_resume(int argc, char **argv) {
    slurm_opts o;
    slurm_opts_defaults(&o);
    argc = take_sbatch_args(argc, argv, &o);
    ib_flag flags[32];
    const char *executor = NULL;
    int jobs = 1, help = 0, n = 0, ignore_queue = 0;
    flags[n++] = (ib_flag){"executor", IB_FLAG_CHOICE, &executor, 0, 0, 0, "local|slurm", NULL,
                           "where to run (default: slurm if the sweep was submitted to Slurm before, else local)", 0};
    flags[n++] = (ib_flag){"jobs", IB_FLAG_INT, &jobs, 1, 256, 0, NULL, "J", "local: runs at a time (default 1)", 0};
    flags[n++] = (ib_flag){"ignore-queue", IB_FLAG_BOOL, &ignore_queue, 0, 0, 0, NULL, NULL,
                           "do not ask Slurm which tasks are queued (that cluster is gone)", 0};
    n = add_slurm_flags(flags, n, &o);
    flags[n++] = (ib_flag){"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0};
    ib_err err = {0};
    char *pos[1];
    int npos = 0;
    if (ib_flags_parse(flags, n, argc, argv, 1, pos, 1, &npos, &err)) ib_exit_err(&err);
    if (help || npos != 1) {
        FILE *fp = help ? stdout : stderr;
        fprintf(fp, "usage: initbench sweep resume DIR [--executor local|slurm] [--jobs J] [Slurm options]\n"
                    "                     [--sbatch-arg OPT]...\n\n"
                    "Starts again only the tasks that are neither finished nor queued/running (failed,\n"
                    "interrupted, missing); interrupted ones continue from their checkpoints. Slurm options\n"
                    "not given default to those of the last submission.\n\n");
        ib_flags_print_help(fp, flags, n);
        return help ? 0 : IB_EXIT_USAGE;
    }
    sweep sw;
    if (load_manifest(pos[0], &sw, &err)) ib_exit_err(&err);
    cJSON *rec = read_submissions(&sw);
    if (!executor) executor = rec ? "slurm" : "local";
    slurm_opts_from_record(&o, flags, n, rec);
    int rc = execute(&sw, executor, jobs, &o, ignore_queue, 1);
    cJSON_Delete(rec);
    sweep_free(&sw);
    return rc;
}

static int cmd_grid(int argc, char **argv) {
    ib_train_config cfg;
    ib_train_config_defaults(&cfg);
    slurm_opts o;
    slurm_opts_defaults(&o);
    argc = take_sbatch_args(argc, argv, &o);
    ib_flag flags[IB_TRAIN_MAX_FLAGS + 32];
    int n = ib_train_flags(&cfg, flags);
    const char *preset = "original", *executor = "local";
    ib_double_list stddevs = {0};
    int repeats = 3, jobs = 1, help = 0;
    flags[n++] = (ib_flag){"preset", IB_FLAG_CHOICE, &preset, 0, 0, 0, "original|quick|explain", NULL,
                           "original: 9 stddevs x 3 repeats x 10000 steps; quick: 1 repeat, 1000 steps; explain: "
                           "Adam vs SGD vs deep-tanh, 5 stddevs x 2 repeats x 1000 steps, one report", 0};
    flags[n++] = (ib_flag){"stddevs", IB_FLAG_DOUBLE_LIST, &stddevs, 0, 100, IB_MIN_OPEN, NULL, "LIST",
                           "comma-separated stddevs (default: the preset's 1e-4 ... 1.0)", 0};
    flags[n++] = (ib_flag){"repeats", IB_FLAG_INT, &repeats, 1, 1000, 0, NULL, "R", "repeats per stddev", 0};
    flags[n++] = (ib_flag){"jobs", IB_FLAG_INT, &jobs, 1, 256, 0, NULL, "J", "local: runs at a time (default 1)", 0};
    flags[n++] = (ib_flag){"out", IB_FLAG_STRING, &cfg.out, 0, 0, 0, NULL, "DIR", "sweep directory (required)", 0};
    flags[n++] = (ib_flag){"executor", IB_FLAG_CHOICE, &executor, 0, 0, 0, "local|slurm|none", NULL,
                           "run here (default), submit Slurm array jobs, or none: only write DIR/sweep.json", 0};
    n = add_slurm_flags(flags, n, &o);
    flags[n++] = (ib_flag){"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0};
    ib_err err = {0};
    char *pos[1];
    int npos;
    if (ib_flags_parse(flags, n, argc, argv, 1, pos, 0, &npos, &err)) ib_exit_err(&err);
    if (help) {
        printf("usage: initbench sweep --out DIR [--preset original|quick] [--stddevs LIST] [--repeats R]\n"
               "                       [--executor local|slurm|none] [--jobs J] [Slurm options] [any train flag]\n"
               "       initbench sweep status DIR       one line per task; exit 0 when all are complete\n"
               "       initbench sweep resume DIR       restart the tasks that are not finished or queued\n"
               "       initbench sweep collect DIR      write DIR/summary.csv\n"
               "       initbench sweep run-task DIR I[,J...]   run tasks (what executors run)\n\n"
               "Runs every (stddev, repeat) pair as DIR/runs/<index>-w<stddev>-r<repeat>, skipping runs\n"
               "already complete (rerun the same command to resume). Repeat r uses seed --seed + r for\n"
               "every stddev (common random numbers: the stddevs differ only in scale). With --executor\n"
               "slurm, the tasks go to array jobs from jobs/array.sbatch.in (--sbatch-arg OPT, repeatable,\n"
               "passes any other sbatch option) and a collect job runs after them.\n\n");
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
        ib_die(IB_EXIT_USAGE, "sweep: --threads is set per run from --jobs (local) or --cpus-per-task (slurm)");
    if (ib_flag_find(flags, n, "progress")->seen)
        ib_die(IB_EXIT_USAGE, "sweep: --progress is fixed to 'log' for sweep runs (see each run's train.log)");
    if (ib_train_config_resolve(&cfg, flags, n, &err)) ib_exit_err(&err);
    if (!ib_init_uses_stddev(cfg.initc.scheme))
        ib_die(IB_EXIT_USAGE, "sweep: the grid varies the stddev; --init %s does not take one", cfg.init);
    /* Runs may start elsewhere (a Slurm node, another working directory): no relative data path. */
    char data_abs[PATH_MAX];
    if (cfg.data_dir) {
        if (!realpath(cfg.data_dir, data_abs)) ib_die(IB_EXIT_USAGE, "--data-dir %s: %s", cfg.data_dir, strerror(errno));
        cfg.data_dir = data_abs;
    }
    /* Data problems are reported before anything is written. */
    ib_dataset ds;
    if (ib_dataset_load(ib_data_dir_resolve(cfg.data_dir), cfg.dataset, &ds, &err)) ib_exit_err(&err);
    if (cfg.train_offset + cfg.train_size > ds.train.n || cfg.test_size > ds.test.n) {
        ib_dataset_free(&ds);
        ib_die(IB_EXIT_USAGE, "sweep: --train-offset/--train-size/--test-size exceed the dataset");
    }
    ib_dataset_free(&ds);
    if (strcmp(executor, "slurm")) {
        static const char *slurm_only[] = {"partition", "account",     "time",           "cpus-per-task",
                                           "mem",       "gres",        "array-throttle", "tasks-per-job",
                                           "signal-lead", "max-array-size", "jobs-dir"};
        for (size_t i = 0; i < sizeof slurm_only / sizeof slurm_only[0]; i++)
            if (ib_flag_find(flags, n, slurm_only[i])->seen)
                ib_die(IB_EXIT_USAGE, "sweep: --%s applies only to --executor slurm", slurm_only[i]);
        if (o.n_extra) ib_die(IB_EXIT_USAGE, "sweep: --sbatch-arg applies only to --executor slurm");
    }
    if (strcmp(executor, "local") && ib_flag_find(flags, n, "jobs")->seen) {
        ib_die(IB_EXIT_USAGE, "sweep: --jobs applies to --executor local; for Slurm use --array-throttle");
    }

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
    for (int i = 0; i < n_tasks; i++) ib_argv_free(tasks[i].argv, tasks[i].argc);
    free(tasks);
    if (rc) ib_exit_err(&err);

    sweep sw;
    if (load_manifest(cfg.out, &sw, &err)) ib_exit_err(&err);
    if (!strcmp(executor, "none")) {
        printf("%s: %d tasks in sweep.json, none started; run them with 'initbench sweep resume %s' or "
               "'initbench sweep run-task %s INDEX'\n",
               sw.dir, sw.n, cfg.out, cfg.out);
        sweep_free(&sw);
        return 0;
    }
    rc = execute(&sw, executor, jobs, &o, 0, 1);
    sweep_free(&sw);
    return rc;
}

/* --preset explain: the grid under Adam, under plain SGD, and on a deeper tanh network, each a
 * sweep of its own (DIR/adam, DIR/sgd, DIR/deep-tanh), then one report comparing them. Sized to
 * finish in about 20 minutes on 2 cores: 5 stddevs x 2 repeats x 1000 steps, 2000 test images. */
static int cmd_explain(int argc, char **argv, const char *out) {
    static const char *owned[] = {"--optimizer", "--net", "--lr", "--out", "--preset"};
    for (int i = 1; i < argc; i++)
        for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++) {
            size_t len = strlen(owned[k]);
            if (!strncmp(argv[i], owned[k], len) && (argv[i][len] == 0 || argv[i][len] == '=') &&
                strcmp(owned[k], "--out") != 0 && strcmp(owned[k], "--preset") != 0)
                ib_die(IB_EXIT_USAGE, "sweep --preset explain sets %s itself (Adam, SGD, deep-tanh variants)", owned[k]);
        }
    static const struct { const char *name, *optimizer, *lr, *net; } variants[] = {
        {"adam", "adam", "1e-4", "original"}, {"sgd", "sgd", "0.01", "original"}, {"deep-tanh", "adam", "1e-4", "deep-tanh"}};
    const int nv = (int)(sizeof variants / sizeof variants[0]);
    char self[4096];
    self_exe(self, sizeof self);
    char dirs[3][4200];
    int deferred = 0; /* the runs happen later (Slurm) or elsewhere (none): the report too */
    for (int i = 1; i < argc; i++) {
        const char *e = !strncmp(argv[i], "--executor=", 11) ? argv[i] + 11
                        : !strcmp(argv[i], "--executor") && i + 1 < argc ? argv[i + 1]
                                                                          : NULL;
        if (e && (!strcmp(e, "slurm") || !strcmp(e, "none"))) deferred = 1;
    }
    for (int v = 0; v < nv; v++) {
        snprintf(dirs[v], sizeof dirs[v], "%s/%s", out, variants[v].name);
        char **a = ib_xcalloc((size_t)argc + 32, sizeof(char *));
        int k = 0;
        a[k++] = self, a[k++] = "sweep", a[k++] = "--preset", a[k++] = "quick";
        a[k++] = "--optimizer", a[k++] = (char *)variants[v].optimizer, a[k++] = "--lr", a[k++] = (char *)variants[v].lr;
        a[k++] = "--net", a[k++] = (char *)variants[v].net, a[k++] = "--out", a[k++] = dirs[v];
        /* the preset's size, unless the user says otherwise */
        const char *defaults[][2] = {{"--stddevs", "1e-4,1e-3,0.01,0.1,1"}, {"--repeats", "2"}, {"--test-size", "2000"}};
        for (size_t d = 0; d < sizeof defaults / sizeof defaults[0]; d++) {
            int given = 0;
            for (int i = 1; i < argc; i++)
                if (!strncmp(argv[i], defaults[d][0], strlen(defaults[d][0]))) given = 1;
            if (!given) a[k++] = (char *)defaults[d][0], a[k++] = (char *)defaults[d][1];
        }
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "--preset")) {
                i++;
                continue;
            }
            if (!strncmp(argv[i], "--out=", 6) || !strncmp(argv[i], "--preset=", 9)) continue;
            a[k++] = argv[i];
        }
        a[k] = NULL;
        fprintf(stderr, "== explain: %s (%s, %s)\n", variants[v].name, variants[v].optimizer, variants[v].net);
        fflush(NULL);
        const pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) ib_die(IB_EXIT_INTERNAL, "fork failed: %s", strerror(errno));
        if (pid == 0) {
            stop_with_parent(parent);
            execv(self, a);
            _exit(IB_EXIT_INTERNAL);
        }
        free(a);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : IB_EXIT_INTERNAL;
            fprintf(stderr, "initbench: explain: the %s sweep did not finish (exit %d); rerun the same command to "
                    "resume\n", variants[v].name, code);
            return code == IB_EXIT_USAGE ? IB_EXIT_USAGE : IB_EXIT_INTERNAL;
        }
    }
    char report[4300];
    snprintf(report, sizeof report, "%s/report", out);
    if (deferred) {
        printf("explain sweeps set up; when their runs are done: initbench report %s %s %s --out %s\n", dirs[0],
               dirs[1], dirs[2], report);
        return 0;
    }
    const char *d[3] = {dirs[0], dirs[1], dirs[2]};
    ib_err err = {0};
    if (!reporter) {
        printf("explain sweeps done: initbench report %s %s %s --out %s\n", dirs[0], dirs[1], dirs[2], report);
        return 0;
    }
    if (reporter(d, nv, report, 0, &err)) ib_exit_err(&err);
    printf("explain report: %s/index.html\n", report);
    return 0;
}

int ib_cmd_sweep(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i++)
        if ((!strcmp(argv[i], "--preset") && !strcmp(argv[i + 1], "explain"))) {
            const char *out = NULL;
            for (int j = 1; j + 1 < argc; j++)
                if (!strcmp(argv[j], "--out")) out = argv[j + 1];
            for (int j = 1; j < argc; j++)
                if (!strncmp(argv[j], "--out=", 6)) out = argv[j] + 6;
            if (!out) ib_die(IB_EXIT_USAGE, "sweep: --out DIR is required");
            return cmd_explain(argc, argv, out);
        }
    if (argc >= 2) {
        const char *sub = argv[1];
        if (!strcmp(sub, "run-task")) return cmd_run_task(argc - 1, argv + 1);
        if (!strcmp(sub, "status")) return cmd_status(argc - 1, argv + 1);
        if (!strcmp(sub, "resume")) return cmd_resume(argc - 1, argv + 1);
        if (!strcmp(sub, "collect")) return cmd_collect(argc - 1, argv + 1);
        if (sub[0] != '-')
            ib_die(IB_EXIT_USAGE, "sweep: unknown subcommand '%s' (run-task, status, resume, collect; or flags to start "
                                  "a sweep)", sub);
    }
    return cmd_grid(argc, argv);
}
