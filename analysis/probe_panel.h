/* The probe report's model (internal to analysis/): theory's prediction per configuration
 * (theory.h) and the panels, one per (net, width, activation, init), whose cells are (x, depth)
 * with medians over their rows. probe_figures.c draws them, probe_sections.c writes the text
 * sections, probe_report.c writes phase.csv and the page. */
#ifndef IB_PROBE_PANEL_H
#define IB_PROBE_PANEL_H

#include "probe_data.h"

typedef struct ib_probe_derived {
    int theory;                /* theory applies: an fc or conv net of equal widths, inputs finite */
    double pred_g, pred_a, chi1;
    double gap_g, gap_a;       /* measured - predicted (NAN where either is missing) */
    int parts;                 /* |gap| > IB_PROBE_PART_DECADES in either ratio */
} ib_probe_derived;

enum { IB_PROBE_X_STDDEV, IB_PROBE_X_INIT_SCALE, IB_PROBE_X_SIGMA_W2 };

typedef struct ib_probe_panel {
    const ib_probe_row *first;
    int xkind, theory;   /* theory: it applies to every row */
    int n_rows, *rows;   /* indices into the probe's rows */
    int nx, nd;
    double *xs;          /* sorted distinct x values */
    int *depths;         /* sorted distinct depths */
    double *sw2, *bias, *q1; /* per x column: medians over its rows (NAN where none) */
    double *meas_g, *meas_a, *pred_g, *pred_a; /* per cell [xi * nd + di]: medians over its rows */
} ib_probe_panel;

/* Beyond this many decades a float32 ratio of RMS values cannot be measured: one of them has left
 * float32's range (normal numbers span 1.2e-38 .. 3.4e38), so the probe reads 0, inf or nan. */
#define IB_PROBE_FLOAT32_DECADES 37.0

/* A measured value lost to float32's range where theory predicts one beyond it. */
int ib_probe_beyond_float32(double meas, double pred);
/* measured - predicted in decades; NAN where nothing was measurable or predicted. */
double ib_probe_gap(double meas, double pred);
/* Theory's prediction for each of p's rows into d[p->n]. */
void ib_probe_derive(const ib_probe_data *p, ib_probe_derived *d);

/* The x axis per kind: for figures (gnuplot text) and for prose. */
extern const char *const ib_probe_x_names[];
extern const char *const ib_probe_x_plain[];
double ib_probe_x_of(const ib_probe_panel *pn, const ib_probe_row *r);
/* The median of the values that are not NAN (inf counts); NAN when there is none. Sorts v. */
double ib_probe_median(double *v, int n);
/* The index of x in v[n], or -1. */
int ib_probe_find_double(const double *v, int n, double x);
int ib_probe_find_int(const int *v, int n, int x);

/* The panels of p's rows (*n_out of them); free each with ib_probe_panel_free, then the array. */
ib_probe_panel *ib_probe_panels_make(const ib_probe_data *p, const ib_probe_derived *d, int *n_out);
void ib_probe_panel_free(ib_probe_panel *pn);

#endif
