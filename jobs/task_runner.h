/* The task runner shared by both executors: `initbench sweep run-task DIR I[,J...]` runs each
 * task as one child `initbench train`, so a crash of one run never takes the sweep down, and
 * passes the stop signals on to it (ib_sweep_run_task in sweep.h is the command). */
#ifndef IB_SWEEP_TASK_RUNNER_H
#define IB_SWEEP_TASK_RUNNER_H

/* How long a task runner waits for another copy of its task by default (IB_LOCK_WAIT overrides). */
#define IB_TASK_COPY_WAIT_S 3600

/* From now on SIGTERM, SIGINT, SIGUSR1 and SIGHUP do not kill this process: they are recorded
 * (sweep_stop_signal) and passed on to the running train, which checkpoints and exits 75. */
void sweep_forward_signals(void);

/* The stop signal received since sweep_forward_signals, or 0. */
int sweep_stop_signal(void);

#endif
