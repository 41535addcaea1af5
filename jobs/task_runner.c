#include "task_runner.h"
#include "lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "manifest.h"
#include "proc.h"
#include "runinfo.h"
#include "slurm.h"
#include "rundir.h"
#include "submissions.h"
#include "sweep.h"
#include "task_state.h"
#include "train.h"

/* ---- signals: passed on to the running train ------------------------------------------------ */

static volatile sig_atomic_t rt_stop = 0;
static volatile pid_t rt_child = 0;

static void rt_on_signal(int sig) {
    rt_stop = sig;
    pid_t c = rt_child;
    if (c > 0) kill(c, sig);
}

void sweep_forward_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = rt_on_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

int sweep_stop_signal(void) { return rt_stop; }

/* ---- one task ------------------------------------------------------------------------------- */

/* The last "initbench: ..." line of a log (what a failing train printed), else its last line. */
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

/* train.log in the run directory out, or beside the task record when the run directory refuses
 * files. Returns the descriptor (-1: none, train's output is lost) and the path in log. */
static int open_task_log(const sweep *sw, const sweep_task *t, const char *out, char *log, size_t len) {
    snprintf(log, len, "%s/train.log", out);
    /* never through a planted link: the log would land in whatever file it points at */
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        sweep_path(sw, log, len, "tasks/%04d.log", t->index);
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    }
    return fd;
}

/* `initbench train` with the task's flags, into out; threads_arg holds the --threads value. */
static char **train_argv(const sweep_task *t, const char *self, const char *out, int threads, char threads_arg[16]) {
    snprintf(threads_arg, 16, "%d", threads);
    char **argv = ib_xcalloc((size_t)t->argc + 10, sizeof(char *));
    int k = 0;
    argv[k++] = (char *)self;
    for (int i = 0; i < t->argc; i++) argv[k++] = t->argv[i];
    argv[k++] = "--out";
    argv[k++] = (char *)out;
    if (threads > 0) { /* otherwise train's default: $SLURM_CPUS_PER_TASK or all cores */
        argv[k++] = "--threads";
        argv[k++] = threads_arg;
    }
    argv[k++] = "--progress";
    argv[k++] = "log";
    argv[k] = NULL;
    return argv;
}

/* train exited 0: done when its run.json says complete or diverged. Returns 0 or 1 (failed). */
static int record_finished(const sweep *sw, const sweep_task *t, const char *out, const char *rel_log,
                           const char *started, int quiet) {
    char path[4300], reason[1200];
    ib_err err;
    snprintf(path, sizeof path, "%s/run.json", out);
    ib_run_record rj;
    ib_run_record_read(out, &rj, &err); /* unreadable: no status, said below */
    int ok = rj.state >= 0 && ib_run_state_final((ib_run_state)rj.state);
    if (ok) {
        const char *rs = ib_run_state_names[rj.state];
        sweep_write_record(sw, t, rs, rj.reason, 0, rel_log, started, &err);
        if (!quiet) fprintf(stderr, "task %d %s: %s\n", t->index, t->dir, rs);
    } else {
        snprintf(reason, sizeof reason, "train exited 0 but %.900s says '%s'", path,
                 rj.status ? rj.status : "(nothing)");
        sweep_write_record(sw, t, "failed", reason, 0, rel_log, started, &err);
    }
    ib_run_record_free(&rj);
    return ok ? 0 : 1;
}

static void record_interrupted(const sweep *sw, const sweep_task *t, const char *reason, int exit_status,
                               const char *rel_log, const char *started, int quiet) {
    ib_err err;
    sweep_write_record(sw, t, "interrupted", reason, exit_status, rel_log, started, &err);
    if (!quiet) fprintf(stderr, "task %d %s: interrupted (%s)\n", t->index, t->dir, reason);
}

/* Record how train ended (code: its exit status, -1 when signal sig killed it) and say so
 * unless quiet. Returns 0 done (complete/diverged), 75 interrupted by a signal, 1 failed. */
static int record_outcome(const sweep *sw, const sweep_task *t, const char *out, const char *log,
                          const char *started, int code, int sig, int quiet) {
    char rel_log[4300], reason[1200];
    snprintf(rel_log, sizeof rel_log, "%s", log + strlen(sw->dir) + 1);
    if (code == 0) return record_finished(sw, t, out, rel_log, started, quiet);
    if (code == 75) {
        ib_run_record rj;
        ib_err rerr;
        ib_run_record_read(out, &rj, &rerr);
        snprintf(reason, sizeof reason, "%s", rj.reason ? rj.reason : "interrupted by a signal");
        ib_run_record_free(&rj);
        record_interrupted(sw, t, reason, 75, rel_log, started, quiet);
        return 75;
    }
    if (sig && rt_stop && sig == rt_stop) {
        /* the stop signal reached train before it could install its handler (still starting) */
        snprintf(reason, sizeof reason, "stopped by signal %d (%s) while starting; rerun starts it again", sig,
                 strsignal(sig));
        record_interrupted(sw, t, reason, 128 + sig, rel_log, started, quiet);
        return 75;
    }
    char why[1000];
    failure_reason_from_log(log, why, sizeof why);
    if (sig) snprintf(reason, sizeof reason, "killed by signal %d (%s)", sig, strsignal(sig));
    else snprintf(reason, sizeof reason, "%.600s (train exit %d; log %.400s)", *why ? why : "train failed", code, rel_log);
    ib_err err;
    sweep_write_record(sw, t, "failed", reason, code, rel_log, started, &err);
    if (!quiet) fprintf(stderr, "task %d %s: failed: %s\n", t->index, t->dir, reason);
    return 1;
}

/* Run task t: 0 done (complete/diverged), 75 interrupted by a signal, 1 failed. */
static int run_one(const sweep *sw, const sweep_task *t, const char *self, int threads, int quiet) {
    char out[4200], log[4300], started[32], reason[1200];
    ib_err err = {0};
    ib_iso_time(started, sizeof started);
    sweep_path(sw, out, sizeof out, "%s", t->dir);
    if (sweep_write_record(sw, t, "running", NULL, -1, NULL, started, &err)) {
        fprintf(stderr, "initbench: task %d: cannot write its record: %s\n", t->index, err.msg);
        return 1;
    }
    if (ib_train_claim_out(out, &err)) { /* the marker before train.log, the directory's first file */
        ib_err e2;
        sweep_write_record(sw, t, "failed", err.msg, -1, NULL, started, &e2);
        if (!quiet) fprintf(stderr, "task %d %s: failed: %s\n", t->index, t->dir, err.msg);
        return 1;
    }
    int fd = open_task_log(sw, t, out, log, sizeof log);
    char threads_arg[16];
    char **argv = train_argv(t, self, out, threads, threads_arg);
    rt_child = 0;
    pid_t pid = ib_proc_start(argv, fd, &err);
    free(argv);
    if (fd >= 0) close(fd);
    if (pid < 0) {
        snprintf(reason, sizeof reason, "%s", err.msg);
        sweep_write_record(sw, t, "failed", reason, -1, NULL, started, &err);
        return 1;
    }
    rt_child = pid;
    if (rt_stop) kill(pid, rt_stop); /* a signal that came before the child existed */
    int sig;
    int status = ib_proc_wait(pid, &sig);
    rt_child = 0;
    return record_outcome(sw, t, out, log, started, sig ? -1 : status, sig, quiet);
}

/* ---- the run-task command ------------------------------------------------------------------- */

/* The note a copy leaves while it waits for another copy of its task (tasks/NNNN.waiter, its own
 * claim text, its mtime refreshed each heartbeat): what `sweep status` reads as "running twice". */
typedef struct waiter_note {
    char path[4300];
    int written, beat;
    double last;
} waiter_note;

static void waiter_waiting(void *arg, const ib_claim *holder) {
    (void)holder;
    waiter_note *w = arg;
    double now = ib_now();
    if (!w->written) {
        ib_err e;
        w->written = ib_claim_write_self(w->path, &e) == 0;
        w->last = now;
    } else if (w->beat > 0 && now - w->last >= w->beat) {
        ib_err e; /* a third copy that stopped waiting took the note away: it is written again */
        if (utimensat(AT_FDCWD, w->path, NULL, AT_SYMLINK_NOFOLLOW) != 0) w->written = ib_claim_write_self(w->path, &e) == 0;
        w->last = now;
    }
}

static void waiter_done(void *arg, int taken) {
    (void)taken;
    waiter_note *w = arg;
    ib_claim note;
    char self[512], host[256] = "";
    ib_claim_describe_self(self, sizeof self);
    (void)sscanf(self, "host=%255s", host);
    /* only its own note: another copy may be waiting too */
    if (w->written && ib_claim_read(w->path, &note, NULL) == 0 && note.pid == (long)getpid() && !strcmp(note.host, host))
        unlink(w->path);
    w->written = 0;
}

static int waiter_stop(void *arg) {
    (void)arg;
    return rt_stop != 0;
}

/* Claim task t (its lock tasks/NNNN.lock): two runners given the same index (a requeued array
 * task whose first instance still runs, a duplicated submission) would otherwise both run it. A
 * copy that may be alive is waited for, up to wait_s (docs/RELIABILITY.md, "Copies of one task").
 * *lock_fd gets the lock, or -1 when another runner still holds it (said on stderr). */
static int claim_task(const sweep *sw, const sweep_task *t, int wait_s, int *lock_fd, ib_err *err) {
    char lock[4300], subject[4200], tasks_dir[4200];
    sweep_path(sw, tasks_dir, sizeof tasks_dir, "tasks");
    if (ib_mkdir_p(tasks_dir, err)) return err->code;
    sweep_path(sw, lock, sizeof lock, "tasks/%04d.lock", t->index);
    snprintf(subject, sizeof subject, "task %d (%s)", t->index, t->dir);
    waiter_note w = {.beat = ib_claim_beat_s()};
    sweep_path(sw, w.path, sizeof w.path, "tasks/%04d.waiter", t->index);
    ib_lock_wait_report report = {waiter_waiting, waiter_done, waiter_stop, &w};
    ib_err busy;
    *lock_fd = ib_lock_file_wait(lock, subject, "initbench task runner", wait_s, &report, &busy);
    if (*lock_fd < 0) {
        fprintf(stderr, "initbench: %s\n", busy.msg);
        return 0;
    }
    char record_name[32];
    snprintf(record_name, sizeof record_name, "%04d.json", t->index);
    ib_remove_stale_temps(tasks_dir, record_name); /* a runner killed while writing the record */
    return 0;
}

/* A copy that lost its claim to another (lock.h) stops its train before it ends: the train would
 * stop by itself at its own claim's next check, but nothing of this copy should run on. */
static void stop_child_on_lost(void) {
    pid_t c = rt_child;
    if (c > 0) kill(c, SIGKILL);
}

/* Run the tasks idx[0..k) one after another, skipping finished ones; no further task starts
 * after a stop signal. *status: 75 interrupted, else 1 when a task failed, else 2 when one was
 * claimed by another runner, else 0. */
static int run_tasks(const sweep *sw, const int *idx, int k, const char *self, int threads, int wait_s, int quiet,
                     int *status, ib_err *err) {
    int failed = 0, interrupted = 0, busy = 0;
    for (int m = 0; m < k; m++) {
        if (rt_stop) {
            interrupted = 1;
            break;
        }
        const sweep_task *t = &sw->tasks[idx[m]];
        int claim = -1;
        if (claim_task(sw, t, wait_s, &claim, err)) return err->code;
        if (claim < 0) {
            if (rt_stop) { /* stopped while it waited for another copy */
                interrupted = 1;
                break;
            }
            busy++;
            continue;
        }
        char detail[1200];
        ib_run_state st = sweep_classify(sw, t->index, NULL, detail, sizeof detail);
        if (ib_run_state_final(st)) {
            if (!quiet) fprintf(stderr, "task %d %s: already %s\n", t->index, t->dir, ib_run_state_names[st]);
            ib_unlock_dir(claim);
            continue;
        }
        int rc = run_one(sw, t, self, threads, quiet);
        ib_unlock_dir(claim);
        if (rc == 75) {
            interrupted = 1;
            break;
        }
        if (rc) failed++;
    }
    *status = interrupted ? 75 : failed ? IB_EXIT_INTERNAL : busy ? IB_EXIT_USAGE : 0;
    return 0;
}

int ib_sweep_run_task(int argc, char **argv, int *status, ib_err *err) {
    int threads = 0, quiet = 0, help = 0, array_index = -1;
    const char *task_list = NULL;
    ib_flag flags[] = {
        {"threads", IB_FLAG_INT, &threads, 0, 4096, 0, NULL, "T", "threads per run (default 0: $SLURM_CPUS_PER_TASK or all cores)", 0},
        {"task-list", IB_FLAG_STRING, &task_list, 0, 0, 0, NULL, "FILE",
         "run the tasks on line N+1 of FILE (a slurm/sub-NNN.tasks list) instead of INDEX", 0},
        {"array-index", IB_FLAG_INT, &array_index, 0, 100000000, 0, NULL, "N", "with --task-list: the array index N", 0},
        {"quiet", IB_FLAG_BOOL, &quiet, 0, 0, 0, NULL, NULL, "print nothing but errors", 0},
        {"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0},
    };
    const int nf = (int)(sizeof flags / sizeof flags[0]);
    char *pos[2];
    int npos = 0;
    if (ib_flags_parse(flags, nf, argc, argv, 1, pos, 2, &npos, err)) return err->code;
    if (help || npos != (task_list ? 1 : 2) || (task_list != NULL) != (array_index >= 0)) {
        FILE *fp = help ? stdout : stderr;
        fprintf(fp, "usage: initbench sweep run-task DIR INDEX[,INDEX...] [--threads T] [--quiet]\n"
                    "       initbench sweep run-task DIR --task-list FILE --array-index N [--threads T] [--quiet]\n\n"
                    "Runs the given tasks of the sweep in DIR one after another (what each Slurm array task\n"
                    "and each local sweep slot runs). A finished task is skipped; an interrupted one resumes\n"
                    "from its checkpoint. A task another copy runs is waited for (IB_LOCK_WAIT seconds, default\n"
                    "%d): done when that copy completes it, taken over when it is gone or its claim's heartbeat\n"
                    "stops. SIGTERM/SIGINT/SIGUSR1 are passed to the running train, which\n"
                    "checkpoints; no further task is started. Exit 0 all done, 75 interrupted, 1 a task failed,\n"
                    "2 a bad task list (the whole list is checked: file and line are named) or a task still held\n"
                    "by another copy after the wait, 76 this copy lost its task to another (lock.h).\n\n",
                    IB_TASK_COPY_WAIT_S);
        ib_flags_print_help(fp, flags, nf);
        *status = help ? 0 : IB_EXIT_USAGE;
        return 0;
    }
    sweep sw;
    if (sweep_load(pos[0], &sw, err)) return err->code;
    int *idx = NULL, k = 0, rc = 0;
    if (task_list) { /* the list is data from the sweep directory: checked whole before any task runs */
        rc = ib_tasklist_read(task_list, sw.n, array_index, &idx, &k, err);
    } else {
        idx = ib_xmalloc((size_t)sw.n * 4 * sizeof(int));
        k = sweep_parse_index_list(pos[1], sw.n, idx, sw.n * 4);
        if (k <= 0)
            rc = ib_fail(err, IB_EXIT_USAGE, "run-task: '%s' is not a list of task indices in 0..%d", pos[1], sw.n - 1);
    }
    char self[4096];
    if (!rc && !(rc = ib_proc_self_exe(self, sizeof self, err))) {
        sweep_forward_signals();
        ib_lock_on_lost(stop_child_on_lost);
        /* train's own lock on the run directory waits as long: a copy's orphaned train may still run */
        int wait_s = ib_lock_wait_s(IB_TASK_COPY_WAIT_S);
        char wait_arg[16];
        snprintf(wait_arg, sizeof wait_arg, "%d", wait_s);
        setenv("IB_LOCK_WAIT", wait_arg, 1);
        rc = run_tasks(&sw, idx, k, self, threads, wait_s, quiet, status, err);
    }
    free(idx);
    sweep_free(&sw);
    return rc;
}
