/* The report's pages (internal to analysis/): index.html (self-contained: style and figures
 * inline) and summary.md, built side by side from the same numbers. Per sweep: its settings, the
 * runs and final accuracy, learning curves, gradient flow, verdicts and the answer; with several
 * sweeps, their comparison (comparison.h). */
#ifndef IB_PAGE_H
#define IB_PAGE_H

#include "aggregate.h"
#include "gnuplot.h"
#include "strbuf.h"

/* Append both pages to html and md. command: the command line shown on them (may be NULL);
 * aggregate_seconds: the time reading and aggregating took, shown on the page. */
void ib_page_build(ib_plotter *P, const ib_sweep_agg *S, int n, const char *command, double aggregate_seconds,
                   ib_strbuf *html, ib_strbuf *md);

#endif
