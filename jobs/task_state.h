/* What state each task of a sweep is in. A task's outcome lives in its run directory (run.json,
 * written atomically by train) and in DIR/tasks/NNNN.json, the task runner's record
 * (running/complete/diverged/failed/interrupted, reason, where it ran), also written atomically
 * and keyed by task index, never by job id; for Slurm submissions squeue adds what is queued. */
#ifndef IB_SWEEP_TASK_STATE_H
#define IB_SWEEP_TASK_STATE_H

#include <stddef.h>

#include "manifest.h"
#include "rundir.h"

/* A task's state is a run state (ib_run_state, src/rundir): finished with a result is
 * ib_run_state_final; queued or running somewhere is this. */
static inline int sweep_state_active(ib_run_state s) { return s == IB_RUN_RUNNING || s == IB_RUN_PENDING; }

/* Write task t's record DIR/tasks/NNNN.json (ib_task_record_write): status, reason (optional),
 * exit_status (when >= 0), where it runs (host, pid, Slurm job), its log (optional), started
 * (NULL: now) and, for any status but running, finished now. */
int sweep_write_record(const sweep *sw, const sweep_task *t, const char *status, const char *reason, int exit_status,
                       const char *log, const char *started, ib_err *err);

/* What squeue says about the sweep's array jobs, per task. */
typedef struct queue_view {
    int asked;       /* there were Slurm submissions to ask about */
    int ok;          /* squeue answered */
    char why[600];   /* why it did not */
    int *state;      /* per task: -1 not queued, IB_RUN_RUNNING or IB_RUN_PENDING */
    int *elem_tasks; /* how many tasks the array element holding it runs */
    char (*job)[48];
    char (*reason)[64];
} queue_view;

/* Ask squeue about the sweep's submissions (DIR/slurm/submissions.json; none: q->ok without
 * asking; a record that cannot be read: q->asked without q->ok, q->why says why). */
void sweep_queue_query(const sweep *sw, queue_view *q);
/* A view in which nothing is queued, for when the cluster is known to be gone. */
void sweep_queue_empty(const sweep *sw, queue_view *q);
void sweep_queue_free(queue_view *q);

/* Every task's run.json and task record read once through src/rundir's readers: 0, or the first
 * refusal (IB_EXIT_USAGE, naming the file and the field). The commands that judge a sweep
 * (status, collect, resume) refuse it whole rather than mistake a planted file for a state. */
int sweep_files_check(const sweep *sw, ib_err *err);

/* The state of task i from its files and (when q is given) the queue; detail says why. */
ib_run_state sweep_classify(const sweep *sw, int i, const queue_view *q, char *detail, size_t len);

/* Every task's state (the caller frees it); *details (optional, caller frees) gets each detail. */
ib_run_state *sweep_all_states(const sweep *sw, const queue_view *q, char (**details)[1200]);

/* Tasks neither finished nor queued/running: what an executor should (re)start (caller frees). */
int *sweep_tasks_to_run(const sweep *sw, const queue_view *q, int *n_todo, int *n_done, int *n_active);

#endif
