#include "task_state.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "runinfo.h"
#include "slurm.h"
#include "sweep_json.h"

const char *const sweep_state_names[ST__N] = {"complete",    "diverged", "running", "pending",
                                              "interrupted", "failed",   "missing"};

/* ---- the task record ------------------------------------------------------------------------ */

static void record_path(const sweep *sw, int i, char *buf, size_t len) { sweep_path(sw, buf, len, "tasks/%04d.json", i); }

static void slurm_job_label(char *buf, size_t len) {
    const char *aj = getenv("SLURM_ARRAY_JOB_ID"), *at = getenv("SLURM_ARRAY_TASK_ID"), *j = getenv("SLURM_JOB_ID");
    if (aj && at) snprintf(buf, len, "%s_%s", aj, at);
    else if (j) snprintf(buf, len, "%s", j);
    else buf[0] = 0;
}

int sweep_write_record(const sweep *sw, const sweep_task *t, const char *status, const char *reason, int exit_status,
                       const char *log, const char *started, ib_err *err) {
    char path[4200], host[256] = "", job[64], now[32];
    sweep_path(sw, path, sizeof path, "tasks");
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
    int ret = sweep_write_json(path, r, err);
    cJSON_Delete(r);
    return ret;
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

cJSON *sweep_read_submissions(const sweep *sw) {
    char path[4200];
    sweep_path(sw, path, sizeof path, "slurm/submissions.json");
    return sweep_read_json(path);
}

/* Line a (0-based) of the list file: the task indices of array index a. */
static int list_line(const sweep *sw, const char *list, int a, int *idx, int max) {
    char path[4200];
    sweep_path(sw, path, sizeof path, "%s", list);
    FILE *fp = fopen(path, "r");
    if (!fp) return -1;
    char line[65536];
    int k = -1;
    for (int i = 0; fgets(line, sizeof line, fp); i++)
        if (i == a) {
            line[strcspn(line, "\r\n")] = 0;
            k = sweep_parse_index_list(line, INT_MAX, idx, max);
            break;
        }
    fclose(fp);
    return k;
}

/* A Slurm job state as ST_PENDING, ST_RUNNING, or -1 (finished: not queued any more). */
static int squeue_state(const char *st) {
    if (!strcmp(st, "PENDING") || !strncmp(st, "REQUEUE", 7) || !strcmp(st, "SPECIAL_EXIT")) return ST_PENDING;
    if (!strcmp(st, "RUNNING") || !strcmp(st, "COMPLETING") || !strcmp(st, "CONFIGURING") || !strcmp(st, "SUSPENDED") ||
        !strcmp(st, "STOPPED") || !strcmp(st, "SIGNALING") || !strcmp(st, "RESIZING") || !strcmp(st, "STAGE_OUT"))
        return ST_RUNNING;
    return -1;
}

/* One squeue line "JOBID|ARRAYINDEX|STATE|REASON": mark the tasks of that array element when the
 * job is one of the sweep's submissions (subs). idx is scratch space for sw->n indices. */
static void mark_queued(const sweep *sw, queue_view *q, const cJSON *subs, char *line, int *idx) {
    char *f[4] = {0};
    int nf = 0;
    for (char *save = NULL, *tok = strtok_r(line, "|", &save); tok && nf < 4; tok = strtok_r(NULL, "|", &save))
        f[nf++] = tok;
    if (nf < 3) return;
    char *end;
    long a = strtol(f[1], &end, 10);
    if (end == f[1] || *end) return; /* not an array element */
    const cJSON *s;
    cJSON_ArrayForEach(s, subs) {
        const char *jid = jstr(s, "job_id"), *list = jstr(s, "list");
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
    cJSON *subs = sweep_read_submissions(sw);
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
    int rc = ib_proc_run(argv, 15, &out, &errs);
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
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        mark_queued(sw, q, arr, line, idx);
    free(idx);
    free(out);
    free(errs);
    cJSON_Delete(subs);
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

task_state sweep_classify(const sweep *sw, int i, const queue_view *q, char *detail, size_t len) {
    const sweep_task *t = &sw->tasks[i];
    char path[4200];
    sweep_path(sw, path, sizeof path, "%s/run.json", t->dir);
    cJSON *rj = sweep_read_json(path);
    record_path(sw, i, path, sizeof path);
    cJSON *rec = sweep_read_json(path);
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

task_state *sweep_all_states(const sweep *sw, const queue_view *q, char (**details)[1200]) {
    task_state *st = ib_xmalloc((size_t)sw->n * sizeof *st);
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
        task_state s = sweep_classify(sw, i, q, d, sizeof d);
        if (state_done(s)) (*n_done)++;
        else if (state_active(s)) (*n_active)++;
        else todo[(*n_todo)++] = i;
    }
    return todo;
}
