/* Sweeps: the (stddev, repeat) grid as a manifest of tasks (DIR/sweep.json), executed by one
 * shared task runner (`initbench sweep run-task DIR I[,J...]`: one child `initbench train` per
 * task, so a crash of one run never takes the sweep down), either locally J at a time or as Slurm
 * array jobs; plus status, resume and collect over the same run directories. */
#ifndef IB_SWEEP_H
#define IB_SWEEP_H

#include "util.h"

/* The `initbench sweep` commands, each over its own argv (argv[0]: "sweep" for the grid, else
 * the subcommand's name): its flags, its --help, its work. Each returns 0 with the command's exit
 * status in *status (0; 2 after a usage message; 3 from status while tasks are unfinished; 75
 * interrupted; 1 a task failed), or an error code with err filled, for the command layer to print
 * and exit with. Nothing here exits the process. */
int ib_sweep_grid(int argc, char **argv, int *status, ib_err *err); /* also --preset explain */
int ib_sweep_run_task(int argc, char **argv, int *status, ib_err *err);
int ib_sweep_status(int argc, char **argv, int *status, ib_err *err);
int ib_sweep_resume(int argc, char **argv, int *status, ib_err *err);
int ib_sweep_collect(int argc, char **argv, int *status, ib_err *err);

/* Reports belong to analysis/, a layer above this one, so the command layer hands the sweep the
 * function that writes one (quiet: no progress lines). A sweep or collect without one only says
 * which `initbench report` command to run. */
typedef int (*ib_sweep_reporter)(const char *const *sweep_dirs, int n, const char *out_dir, int quiet, ib_err *err);
void ib_sweep_set_reporter(ib_sweep_reporter write_report);

/* What `sweep status` reads, without the queue and without printing: loads DIR/sweep.json and
 * classifies every task from its run.json and task record. counts gets one slot per state
 * (complete, diverged, running, pending, interrupted, failed, missing). Returns the number of
 * tasks, or -1 with err set. For the fuzz harnesses and tests. */
#define IB_SWEEP_NSTATES 7
int ib_sweep_scan(const char *dir, int counts[IB_SWEEP_NSTATES], ib_err *err);

#endif
