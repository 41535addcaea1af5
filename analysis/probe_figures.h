/* The probe report's figures (probe_panel.h's panels): heatmaps with theory's critical line and
 * predicted contours, the forecast maps, and lines against x for a single-depth grid. */
#ifndef IB_PROBE_FIGURES_H
#define IB_PROBE_FIGURES_H

#include "gnuplot.h"
#include "probe_panel.h"
#include "strbuf.h"

/* A heatmap of the measured ratio m (0: log10 grad ratio, 1: log10 act ratio) of panel k. */
void ib_probe_fig_heatmap(ib_plotter *P, ib_strbuf *html, const ib_probe_panel *pn, int k, int m);
/* The forecast class per cell for optimizer opt (index oi): the worst class among the cell's rows. */
void ib_probe_fig_forecast_map(ib_plotter *P, ib_strbuf *html, const ib_probe_data *p, const ib_probe_panel *pn, int k,
                               const char *opt, int oi);
/* A single-depth panel: measured and predicted ratios against x, and the outcome per optimizer. */
void ib_probe_fig_lines(ib_plotter *P, ib_strbuf *html, const ib_probe_data *p, const ib_probe_panel *pn, int k,
                        char opts[][32], int n_opts);

#endif
