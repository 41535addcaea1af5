/* `initbench report`: one or more sweep directories -> OUT/index.html (self-contained, plots
 * inline as SVG), OUT/<table>.csv, OUT/summary.md, and with format png|pdf also
 * OUT/figures/<name>.png|pdf. Verdicts and the answer section are computed from the data. */
#ifndef IB_REPORT_H
#define IB_REPORT_H

#include "util.h"

typedef struct ib_report_options {
    const char *format;   /* "svg" (the page only, default), "png" or "pdf" (also OUT/figures/) */
    const char *gnuplot;  /* gnuplot executable (default "gnuplot" on PATH) */
    double stuck_below;   /* a complete run whose final accuracy is below this is stuck (0.2) */
    int quiet;            /* no progress lines on stderr */
    const char *command;  /* the command line, shown on the page (may be NULL) */
} ib_report_options;

void ib_report_options_default(ib_report_options *opt);

/* Aggregate the sweeps and write the report into out_dir: created if needed; an existing one must be
 * empty or an earlier report (ib_outdir_claim, util.h), else IB_EXIT_USAGE and nothing in it
 * touched. Bad input (not a sweep directory, unreadable manifest) -> IB_EXIT_USAGE naming the
 * path; partial sweeps
 * (missing, running, failed runs) are reported, not errors. Without gnuplot the tables, the
 * summary and a page without plots are still written (the page says why) and 0 is returned. */
int ib_report_write(const char *const *sweep_dirs, int n, const char *out_dir, const ib_report_options *opt,
                    ib_err *err);

/* The `initbench report` command (argv[0] == "report"). */

#endif
