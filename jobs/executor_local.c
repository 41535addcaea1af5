#include "executor_local.h"
#include "lock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "runinfo.h"
#include "summary.h"
#include "task_runner.h"
#include "task_state.h"

/* The executor's progress: which task runner holds which slot, and the counts so far. */
typedef struct local_run {
    const sweep *sw;
    const int *todo;
    int n_todo, jobs, threads;
    char self[4096];
    pid_t *pids;    /* per slot: its runner, or 0 when free */
    int *slot_task; /* per slot: the task its runner runs */
    double t0;
    int next, running, done, failed, interrupted;
} local_run;

/* Start task runners until every slot is busy, every task started, or a stop signal came. */
static void start_runners(local_run *r) {
    while (!sweep_stop_signal() && r->running < r->jobs && r->next < r->n_todo) {
        const sweep_task *t = &r->sw->tasks[r->todo[r->next++]];
        int slot = 0;
        while (r->pids[slot]) slot++;
        char idx[16], th[16];
        snprintf(idx, sizeof idx, "%d", t->index);
        snprintf(th, sizeof th, "%d", r->threads);
        char *argv[] = {r->self, "sweep", "run-task", (char *)r->sw->dir, idx, "--threads", th, "--quiet", NULL};
        ib_err err;
        pid_t pid = ib_proc_start(argv, -1, &err);
        if (pid < 0) {
            fprintf(stderr, "initbench: %s\n", err.msg);
            r->failed++;
            continue;
        }
        r->pids[slot] = pid, r->slot_task[slot] = t->index, r->running++;
        fprintf(stderr, "[%d/%d] started %s\n", r->done + r->failed + r->interrupted + r->running, r->n_todo, t->dir);
    }
}

/* The runner pid ended with exit code `code` (-1: killed): count its task and say how it went. */
static void finish_runner(local_run *r, pid_t pid, int code) {
    for (int s = 0; s < r->jobs; s++)
        if (r->pids[s] == pid) {
            const sweep_task *t = &r->sw->tasks[r->slot_task[s]];
            r->pids[s] = 0, r->running--;
            char detail[1200];
            ib_run_state st = sweep_classify(r->sw, t->index, NULL, detail, sizeof detail);
            if (code == 75 || st == IB_RUN_INTERRUPTED) r->interrupted++;
            else if (ib_run_state_final(st)) r->done++;
            else r->failed++;
            double el = ib_now() - r->t0;
            int finished = r->done + r->failed + r->interrupted;
            const int final = ib_run_state_final(st);
            fprintf(stderr, "[%d/%d] %s %s%s%s  elapsed %.0f s, ETA %.0f s\n", finished, r->n_todo, t->dir,
                    final ? ib_run_state_names[st] : st == IB_RUN_INTERRUPTED ? "INTERRUPTED" : "FAILED",
                    final ? "" : ": ", final ? "" : detail, el, finished ? el / finished * (r->n_todo - finished) : 0);
        }
}

/* Run the listed tasks here, J at a time, each through `initbench sweep run-task DIR I`. */
static int run_local(const sweep *sw, const int *todo, int n_todo, int jobs, int threads, int *status, ib_err *err) {
    local_run r = {.sw = sw, .todo = todo, .n_todo = n_todo, .jobs = jobs, .threads = threads};
    if (ib_proc_self_exe(r.self, sizeof r.self, err)) return err->code;
    sweep_forward_signals();
    r.pids = ib_xcalloc((size_t)jobs, sizeof(pid_t));
    r.slot_task = ib_xcalloc((size_t)jobs, sizeof(int));
    r.t0 = ib_now();
    for (;;) {
        start_runners(&r);
        if (!r.running) break;
        int code = 0, sig = 0;
        pid_t pid = ib_proc_wait_any(&code, &sig);
        if (pid < 0) {
            if (errno == EINTR) {
                for (int s = 0; s < jobs; s++) /* pass a stop signal on to every task runner */
                    if (r.pids[s] && sweep_stop_signal()) kill(r.pids[s], sweep_stop_signal());
                continue;
            }
            break;
        }
        finish_runner(&r, pid, sig ? -1 : code);
    }
    free(r.pids);
    free(r.slot_task);
    int stop = sweep_stop_signal();
    if (stop) {
        fprintf(stderr, "sweep %s: stopped by %s; %d task%s not started; rerun the same command (or 'initbench sweep "
                        "resume %s') to continue\n",
                sw->dir, strsignal(stop), n_todo - r.next, n_todo - r.next == 1 ? "" : "s", sw->dir);
        *status = 75;
    } else {
        *status = r.failed ? IB_EXIT_INTERNAL : r.interrupted ? 75 : 0;
    }
    return 0;
}

int sweep_execute_local(const sweep *sw, const int *todo, int n_todo, int n_done, int n_active, int jobs,
                        int print_table, int *status, ib_err *err) {
    /* one local executor per sweep directory (each run directory is locked by its run too) */
    int lock_fd = ib_lock_dir(sw->dir, "initbench sweep", err);
    if (lock_fd < 0) return err->code;
    int cores = ib_default_threads();
    int threads = cores / jobs > 0 ? cores / jobs : 1;
    fprintf(stderr, "sweep %s: %d runs (%d already finished%s), %d at a time with %d thread%s each\n", sw->dir, sw->n,
            n_done, n_active ? ", some queued or running elsewhere" : "", jobs, threads, threads == 1 ? "" : "s");
    double t0 = ib_now();
    if (run_local(sw, todo, n_todo, jobs, threads, status, err)) {
        ib_unlock_dir(lock_fd);
        return err->code;
    }
    ib_run_state *st = sweep_all_states(sw, NULL, NULL);
    if (print_table) sweep_print_summary_table(stdout, sw, st, 0);
    int count[IB_RUN_NSTATES] = {0};
    for (int i = 0; i < sw->n; i++) count[st[i]]++;
    printf("\nsweep wall time %.1f s; %d of %d runs finished, %d failed, %d interrupted, %d not run; results in %s\n",
           ib_now() - t0, count[IB_RUN_COMPLETE] + count[IB_RUN_DIVERGED], sw->n, count[IB_RUN_FAILED],
           count[IB_RUN_INTERRUPTED], count[IB_RUN_MISSING] + count[IB_RUN_RUNNING] + count[IB_RUN_PENDING], sw->dir);
    ib_err warn;
    if (sweep_write_summary(sw, st, &warn)) fprintf(stderr, "initbench: warning: %s\n", warn.msg);
    free(st);
    ib_unlock_dir(lock_fd);
    return 0;
}
