/* The report's CSV tables (internal to analysis/): runs.csv, final_accuracy.csv,
 * steps_to_threshold.csv, curves_mean.csv, gradient_flow.csv, verdicts.csv; every sweep's rows
 * in one file, told apart by the sweep and sweep_dir columns. Numbers at full precision (%.9g),
 * an empty field where there is none (NAN). */
#ifndef IB_TABLE_H
#define IB_TABLE_H

#include "aggregate.h"
#include "strbuf.h"

#define IB_N_TABLES 6

/* Table t (0 .. IB_N_TABLES-1, in the order above): its file name, and its text appended to b. */
const char *ib_table_file(int t);
void ib_table_build(int t, const ib_sweep_agg *S, int n, ib_strbuf *b);

/* Write the six tables into out_dir, in the order above, stopping at the first that fails. */
int ib_tables_write(const ib_sweep_agg *S, int n, const char *out_dir, ib_err *err);

#endif
