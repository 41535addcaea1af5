/* `initbench report PROBE_DIR`: the phase-diagram report of a probe directory (docs/REPORT.md,
 * "The probe report"): OUT/index.html (self-contained, figures inline SVG), OUT/phase.csv (per
 * configuration: measured and predicted log10 ratios, chi_1, the forecast) and OUT/summary.md.
 * Heatmaps over (stddev or init scale, log axis) x depth per activation with theory's critical
 * line and predicted contours (theory.h); line plots against the stddev for a single-depth grid;
 * where measurement and theory part; the trainability forecast per optimizer. */
#ifndef IB_PROBE_REPORT_H
#define IB_PROBE_REPORT_H

#include "report.h"
#include "util.h"

/* Read PROBE_DIR (probe_data.h) and write the report into out_dir (a missing, empty or
 * report-marked directory, ib_outdir_claim). Bad input -> IB_EXIT_USAGE naming file, line and
 * field, and nothing written: every input is read and checked before out_dir is touched. Without
 * gnuplot the table, the summary and a page without plots are written. */
int ib_probe_report_write(const char *probe_dir, const char *out_dir, const ib_report_options *opt, ib_err *err);

/* The threshold, in decades, beyond which a measured ratio and theory's are said to part. */
#define IB_PROBE_PART_DECADES 0.5

#endif
