/* A sweep's results per stddev: the table printed after a local sweep and by `sweep collect`,
 * DIR/summary.csv, and the report, whose writer the command layer lends (ib_sweep_set_reporter). */
#ifndef IB_SWEEP_SUMMARY_H
#define IB_SWEEP_SUMMARY_H

#include <stdio.h>

#include "manifest.h"
#include "sweep.h"
#include "task_state.h"

/* Per stddev: tasks, complete, diverged, failed, missing, and the final test accuracy's mean,
 * sample std and min over the complete runs; as CSV or as a table for people. */
void sweep_print_summary_table(FILE *fp, const sweep *sw, const ib_run_state *states, int csv);

/* DIR/summary.csv, then the report DIR/report/ (a report problem is a warning: the runs are what
 * matters, and `initbench report DIR` can redo it). Fails only on summary.csv. */
int sweep_write_summary(const sweep *sw, const ib_run_state *st, ib_err *err);

/* The report writer the command layer set, or NULL. */
ib_sweep_reporter sweep_reporter(void);

#endif
