/* The local executor: the sweep's tasks run here, J task runners at a time. */
#ifndef IB_SWEEP_EXECUTOR_LOCAL_H
#define IB_SWEEP_EXECUTOR_LOCAL_H

#include "manifest.h"

/* Run the tasks todo[0..n_todo) (n_done finished already, n_active queued or running elsewhere),
 * `jobs` at a time, each through `initbench sweep run-task DIR I`, holding the sweep directory's
 * lock; then the summary table (print_table), the closing line and DIR/summary.csv with the
 * report. *status: 0 all done, 75 interrupted, 1 a task failed. */
int sweep_execute_local(const sweep *sw, const int *todo, int n_todo, int n_done, int n_active, int jobs,
                        int print_table, int *status, ib_err *err);

#endif
