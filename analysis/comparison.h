/* The section that reads several sweeps against each other (internal to analysis/): a few
 * generated sentences ("In short"), the comparison figures, a table of verdicts beside final
 * accuracy, and where a vanishing or exploding verdict stopped training and where it did not.
 * Every number comes from the tables. */
#ifndef IB_COMPARISON_H
#define IB_COMPARISON_H

#include "aggregate.h"
#include "gnuplot.h"
#include "strbuf.h"

/* Append the section to the page (html) and to summary.md (md). */
void ib_comparison_section(ib_plotter *P, ib_strbuf *html, ib_strbuf *md, const ib_sweep_agg *S, int n);

#endif
