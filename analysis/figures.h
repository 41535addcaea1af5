/* The report's figures (internal to analysis/): what each one plots, from the aggregated
 * sweeps; drawn by the plotter (gnuplot.h) into the page. Figure names (OUT/figures/NAME.F) are
 * s<sweep index>_<what>, and cmp_<what> for the comparison of several sweeps. */
#ifndef IB_FIGURES_H
#define IB_FIGURES_H

#include "aggregate.h"
#include "gnuplot.h"

/* Learning curves of sweep S[si] (= s): the original figure (mean test accuracy, y from 0.9),
 * the full range with +/- one std, every run's curve, and final accuracy per stddev. */
void ib_fig_learning(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si);

/* Gradient flow of sweep s: step-0 weight-gradient norms against the small-w prediction, per-stddev
 * heatmaps over training, activation std per layer, the first update-to-weight ratio, and for
 * adaptive optimizers the fraction of sqrt(v) below epsilon over time. */
void ib_fig_flow(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si);

/* Several sweeps side by side: final accuracy and the step-0 first/last gradient ratio. */
void ib_fig_comparison(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *S, int n);

#endif
