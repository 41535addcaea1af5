/* Running what is left of a sweep: shared by `initbench sweep` (a new or rerun grid) and
 * `sweep resume`; the commands status, resume and collect themselves are in sweep.h. */
#ifndef IB_SWEEP_STATUS_H
#define IB_SWEEP_STATUS_H

#include "executor_slurm.h"
#include "manifest.h"

/* Start the tasks neither finished nor queued/running with the executor ("local": jobs at a
 * time; "slurm": with options o). ignore_queue: do not ask Slurm (that cluster is gone).
 * print_table: the local executor prints the summary table at the end. *status: the executor's
 * exit status (0, 75 interrupted, 1 a task failed). */
int sweep_execute(const sweep *sw, const char *executor, int jobs, const slurm_opts *o, int ignore_queue,
                  int print_table, int *status, ib_err *err);

#endif
