#include "task_state.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lock.h"
#include "proc.h"
#include "runinfo.h"
#include "slurm.h"
#include "submissions.h"
#include "sweepdir.h"

/* ---- the task record ------------------------------------------------------------------------ */

static void slurm_job_label(char *buf, size_t len) {
    const char *aj = getenv("SLURM_ARRAY_JOB_ID"), *at = getenv("SLURM_ARRAY_TASK_ID"), *j = getenv("SLURM_JOB_ID");
    if (aj && at) snprintf(buf, len, "%s_%s", aj, at);
    else if (j) snprintf(buf, len, "%s", j);
    else buf[0] = 0;
}

int sweep_write_record(const sweep *sw, const sweep_task *t, const char *status, const char *reason, int exit_status,
                       const char *log, const char *started, ib_err *err) {
    char host[256] = "", job[64], now[32];
    gethostname(host, sizeof host - 1);
    slurm_job_label(job, sizeof job);
    ib_iso_time(now, sizeof now);
    const char *restarts = getenv("SLURM_RESTART_COUNT");
    ib_task_record r = {
        .index = t->index,
        .dir = t->dir,
        .status = status,
        .reason = reason && *reason ? reason : NULL,
        .exit_status = exit_status >= 0 ? exit_status : -1,
        .host = host,
        .pid = (long long)getpid(),
        .slurm_job = *job ? job : NULL,
        .slurm_restart_count = restarts ? ib_num_to_ll(atof(restarts), 0, INT_MAX, 0) : -1,
        .log = log,
        .started_at = started ? started : now,
        .finished_at = strcmp(status, "running") != 0 ? now : NULL,
    };
    return ib_task_record_write(sw->dir, &r, err);
}

/* ---- the Slurm queue ------------------------------------------------------------------------ */

static void queue_alloc(const sweep *sw, queue_view *q) {
    memset(q, 0, sizeof *q);
    q->state = ib_xmalloc((size_t)sw->n * sizeof(int));
    q->elem_tasks = ib_xcalloc((size_t)sw->n, sizeof(int));
    q->job = ib_xcalloc((size_t)sw->n, sizeof *q->job);
    q->reason = ib_xcalloc((size_t)sw->n, sizeof *q->reason);
    for (int i = 0; i < sw->n; i++) q->state[i] = -1;
}

void sweep_queue_empty(const sweep *sw, queue_view *q) {
    queue_alloc(sw, q);
    q->ok = 1;
}

void sweep_queue_free(queue_view *q) {
    free(q->state);
    free(q->elem_tasks);
    free(q->job);
    free(q->reason);
    memset(q, 0, sizeof *q);
}

/* Line a (0-based) of the list file: the task indices of array index a. */
/* The tasks of array index a in the task list (src/rundir's one reader; a list it refuses, or a
 * missing one, gives none: squeue's view of those tasks is then unknown, never guessed). */
static int list_line(const sweep *sw, const char *list, int a, int *idx, int max) {
    char path[4200];
    sweep_path(sw, path, sizeof path, "%s", list);
    int *tasks = NULL, k = 0;
    ib_err e;
    if (ib_tasklist_read(path, sw->n, a, &tasks, &k, &e)) return -1;
    if (k > max) k = max;
    memcpy(idx, tasks, (size_t)k * sizeof *idx);
    free(tasks);
    return k;
}

/* A Slurm job state as IB_RUN_PENDING, IB_RUN_RUNNING, or -1 (finished: not queued any more). */
static int squeue_state(const char *st) {
    if (!strcmp(st, "PENDING") || !strncmp(st, "REQUEUE", 7) || !strcmp(st, "SPECIAL_EXIT")) return IB_RUN_PENDING;
    if (!strcmp(st, "RUNNING") || !strcmp(st, "COMPLETING") || !strcmp(st, "CONFIGURING") || !strcmp(st, "SUSPENDED") ||
        !strcmp(st, "STOPPED") || !strcmp(st, "SIGNALING") || !strcmp(st, "RESIZING") || !strcmp(st, "STAGE_OUT"))
        return IB_RUN_RUNNING;
    return -1;
}

/* One squeue line "JOBID|ARRAYINDEX|STATE|REASON": mark the tasks of that array element when the
 * job is one of the sweep's submissions (subs). idx is scratch space for sw->n indices. */
static void mark_queued(const sweep *sw, queue_view *q, const ib_submissions *subs, char *line, int *idx) {
    char *f[4] = {0};
    int nf = 0;
    for (char *save = NULL, *tok = strtok_r(line, "|", &save); tok && nf < 4; tok = strtok_r(NULL, "|", &save))
        f[nf++] = tok;
    if (nf < 3) return;
    char *end;
    long a = strtol(f[1], &end, 10);
    if (end == f[1] || *end) return; /* not an array element */
    for (int j = 0; j < subs->n_subs; j++) {
        const char *jid = subs->subs[j].job_id, *list = subs->subs[j].list;
        if (!jid || !list || strcmp(jid, f[0]) != 0) continue;
        int k = list_line(sw, list, (int)a, idx, sw->n);
        int state = squeue_state(f[2]);
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

void sweep_queue_query(const sweep *sw, queue_view *q) {
    queue_alloc(sw, q);
    ib_submissions subs;
    ib_err rerr;
    if (ib_submissions_read(sw->dir, &subs, &rerr)) { /* a record there, but unusable: cannot tell */
        q->asked = 1;
        ib_snprintf(q->why, sizeof q->why, "%s", rerr.msg);
        return;
    }
    if (!subs.n_subs) {
        ib_submissions_free(&subs);
        q->ok = 1;
        return;
    }
    q->asked = 1;
    if (ib_slurm_ping(q->why, sizeof q->why)) {
        ib_submissions_free(&subs);
        return;
    }
    char *argv[] = {"squeue", "-h", "-r", "--me", "-o", "%F|%K|%T|%r", NULL};
    char *out = NULL, *errs = NULL;
    int rc = ib_proc_run(argv, 15, &out, &errs);
    if (rc != 0) {
        char line[400];
        ib_last_line(errs, line, sizeof line);
        snprintf(q->why, sizeof q->why, "squeue %s", rc == -2 ? "did not answer within 15 s" : *line ? line : "failed");
        free(out);
        free(errs);
        ib_submissions_free(&subs);
        return;
    }
    q->ok = 1;
    int *idx = ib_xmalloc((size_t)sw->n * sizeof(int));
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        mark_queued(sw, q, &subs, line, idx);
    free(idx);
    free(out);
    free(errs);
    ib_submissions_free(&subs);
}

/* ---- classification ------------------------------------------------------------------------- */

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

int sweep_files_check(const sweep *sw, ib_err *err) {
    for (int i = 0; i < sw->n; i++) {
        char run_dir[4200];
        sweep_path(sw, run_dir, sizeof run_dir, "%s", sw->tasks[i].dir);
        ib_run_record rj;
        int rc = ib_run_record_read(run_dir, &rj, err);
        ib_run_record_free(&rj);
        if (rc) return rc;
        ib_task_record rec;
        rc = ib_task_record_read(sw->dir, i, &rec, err);
        ib_task_record_free(&rec);
        if (rc) return rc;
    }
    return 0;
}

/* Two copies of one task (a requeued array task whose first instance runs on): the holder of
 * tasks/NNNN.lock.claim runs it while the other waits, having left tasks/NNNN.waiter. Both are
 * claims read as data (lock.h); a note whose writer is gone says nothing. */
static void copies_note(const sweep *sw, int i, ib_run_state *st, char *detail, size_t len) {
    char path[4300], holder_words[400] = "holder unknown", waiter_words[400];
    ib_claim holder, waiter;
    double age;
    sweep_path(sw, path, sizeof path, "tasks/%04d.waiter", i);
    if (ib_claim_read(path, &waiter, &age) != 0 || !ib_claim_alive(&waiter, age)) return;
    ib_claim_words(&waiter, waiter_words, sizeof waiter_words);
    sweep_path(sw, path, sizeof path, "tasks/%04d.lock.claim", i);
    int held = ib_claim_read(path, &holder, &age) == 0;
    if (held) ib_claim_words(&holder, holder_words, sizeof holder_words);
    size_t n = strlen(detail);
    if (held && ib_claim_alive(&holder, age)) {
        *st = IB_RUN_RUNNING;
        snprintf(detail + n, len - n, "%srunning twice: the copy of %s runs it, the copy of %s waits for it", n ? "; " : "",
                 holder_words, waiter_words);
    } else {
        snprintf(detail + n, len - n, "%swaiting on copy: the copy of %s waits for the copy of %s (%s)", n ? "; " : "",
                 waiter_words, holder_words, held ? "its heartbeat has stopped" : "its claim is gone");
    }
}

ib_run_state sweep_classify(const sweep *sw, int i, const queue_view *q, char *detail, size_t len) {
    const sweep_task *t = &sw->tasks[i];
    char run_dir[4200], path[4200];
    sweep_path(sw, run_dir, sizeof run_dir, "%s", t->dir);
    ib_run_record rj; /* an existing run.json that cannot be read reads as one that is not JSON */
    ib_err run_refused = {0}, rec_refused = {0};
    ib_run_record_read(run_dir, &rj, &run_refused);
    ib_task_record rec;
    int rec_bad = ib_task_record_read(sw->dir, i, &rec, &rec_refused) != 0 || (rec.present && !rec.parsed);
    ib_task_record_path(sw->dir, i, path, sizeof path);
    const char *rs = rj.status, *rjob = rec.slurm_job;
    ib_run_state st = IB_RUN_MISSING;
    detail[0] = 0;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (run_refused.code || rec_refused.code) { /* a file the readers refuse is never taken for a state */
        st = IB_RUN_FAILED;
        snprintf(detail, len, "refused: %s", run_refused.code ? run_refused.msg : rec_refused.msg);
    } else if (rj.state == IB_RUN_COMPLETE) {
        st = IB_RUN_COMPLETE;
        snprintf(detail, len, "test accuracy %.4f", rj.final_accuracy);
    } else if (rj.state == IB_RUN_DIVERGED) {
        st = IB_RUN_DIVERGED;
        snprintf(detail, len, "non-finite loss at step %lld", rj.diverged_step);
    } else if (q && q->state[i] == IB_RUN_RUNNING) {
        if (q->elem_tasks[i] <= 1 || (rec.state == IB_RUN_RUNNING && rjob && !strcmp(rjob, q->job[i]))) {
            st = IB_RUN_RUNNING;
            snprintf(detail, len, "Slurm job %s", q->job[i]);
        } else {
            st = IB_RUN_PENDING;
            snprintf(detail, len, "queued inside running Slurm job %s", q->job[i]);
        }
    } else if (q && q->state[i] == IB_RUN_PENDING) {
        st = IB_RUN_PENDING;
        snprintf(detail, len, "Slurm job %s (%s)", q->job[i], q->reason[i]);
    } else if (rec.state == IB_RUN_RUNNING && !rjob && rec.host && !strcmp(rec.host, host) &&
               pid_is_initbench((long)rec.pid)) {
        st = IB_RUN_RUNNING;
        snprintf(detail, len, "local process %lld", rec.pid);
    } else if (rec.state == IB_RUN_FAILED) {
        st = IB_RUN_FAILED;
        snprintf(detail, len, "%s", rec.reason ? rec.reason : "no reason recorded");
    } else if (rj.state == IB_RUN_INTERRUPTED || rec.state == IB_RUN_INTERRUPTED) {
        st = IB_RUN_INTERRUPTED;
        if (rj.state == IB_RUN_INTERRUPTED)
            snprintf(detail, len, "%s; checkpoint at step %lld, resume continues from it",
                     rj.reason ? rj.reason : "stopped by a signal", rj.final_step >= 0 ? rj.final_step : 0);
        else
            snprintf(detail, len, "%s", rec.reason ? rec.reason : "stopped by a signal");
    } else if (rj.state == IB_RUN_FAILED) {
        st = IB_RUN_FAILED;
        snprintf(detail, len, "%s", rj.reason ? rj.reason : "train failed (see its train.log)");
    } else if (rec.state == IB_RUN_RUNNING || rj.state == IB_RUN_RUNNING) {
        if (q && q->asked && !q->ok && rjob) {
            st = IB_RUN_RUNNING;
            snprintf(detail, len, "Slurm job %s, unverified: %s", rjob, q->why);
        } else {
            st = IB_RUN_FAILED;
            snprintf(detail, len, "stopped without a result (%s%s ended while it ran; killed?)",
                     rjob ? "Slurm job " : "process ", rjob ? rjob : "");
        }
    } else if (rj.parsed) {
        st = IB_RUN_FAILED;
        snprintf(detail, len, "run.json has status '%s'", rs ? rs : "(none)");
    } else if (rec_bad) {
        st = IB_RUN_FAILED;
        snprintf(detail, len, "task record %.900s unreadable", path);
    }
    ib_run_record_free(&rj);
    ib_task_record_free(&rec);
    if (!ib_run_state_final(st)) copies_note(sw, i, &st, detail, len);
    return st;
}

ib_run_state *sweep_all_states(const sweep *sw, const queue_view *q, char (**details)[1200]) {
    ib_run_state *st = ib_xmalloc((size_t)sw->n * sizeof *st);
    char(*d)[1200] = ib_xmalloc((size_t)sw->n * sizeof *d);
    for (int i = 0; i < sw->n; i++) st[i] = sweep_classify(sw, i, q, d[i], sizeof d[i]);
    if (details) *details = d;
    else free(d);
    return st;
}

int *sweep_tasks_to_run(const sweep *sw, const queue_view *q, int *n_todo, int *n_done, int *n_active) {
    int *todo = ib_xmalloc((size_t)sw->n * sizeof(int));
    *n_todo = *n_done = *n_active = 0;
    for (int i = 0; i < sw->n; i++) {
        char d[1200];
        ib_run_state s = sweep_classify(sw, i, q, d, sizeof d);
        if (ib_run_state_final(s)) (*n_done)++;
        else if (sweep_state_active(s)) (*n_active)++;
        else todo[(*n_todo)++] = i;
    }
    return todo;
}
