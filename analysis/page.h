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

/* The reports' common style (the sweep page and the probe page look alike); each adds its own. */
#define IB_PAGE_CSS_BASE                                                                                          \
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}"     \
    "h1{font-size:1.6em}h2{border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:2em}"                      \
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .5em;" \
    "text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}"                                            \
    "figure{margin:1em 0}figure svg{width:100%;height:auto;max-width:900px;display:block}"                         \
    "figcaption,.caption{font-size:.85em;color:#555}.note{color:#a33}.grid figure{margin:0}"                      \
    "code{background:#f4f4f4;padding:0 .2em}"

#endif
