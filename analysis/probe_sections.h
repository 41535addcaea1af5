/* The probe report's text sections: where measurement and theory part, the trainability forecast,
 * and the forecast against training (probe --validate); each into the page (h) and summary.md (md). */
#ifndef IB_PROBE_SECTIONS_H
#define IB_PROBE_SECTIONS_H

#include "gnuplot.h"
#include "probe_panel.h"
#include "strbuf.h"

/* The cells of a theory panel where measurement and theory part, largest gap first. */
void ib_probe_disagreement(ib_strbuf *h, ib_strbuf *md, const ib_probe_panel *pn);
/* The distinct optimizers of p's rows, in order of appearance, at most max. */
int ib_probe_optimizers_of(const ib_probe_data *p, char opts[][32], int max);
/* The rule, the forecast per class and optimizer, and its maps where heatmaps are drawn. */
void ib_probe_forecast_section(ib_plotter *P, ib_strbuf *h, ib_strbuf *md, const ib_probe_data *p,
                               const ib_probe_panel *pn, int npn, char opts[][32], int n_opts, int heatmaps);
/* Each validation's confusion matrix and misses; nothing when the probe has none. */
void ib_probe_validation_section(ib_strbuf *h, ib_strbuf *md, const ib_probe_data *p);

#endif
