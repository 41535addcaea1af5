/* The probe report (probe_report.h): derive theory's prediction per configuration (theory.h),
 * gather the configurations into panels (net, width, activation, init) over (x, depth) cells,
 * then write phase.csv, the figures, index.html and summary.md. */
#include "probe_report.h"
#include "page.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gnuplot.h"
#include "probe_data.h"
#include "strbuf.h"
#include "text.h"
#include "theory.h"

/* ---- per configuration: theory ------------------------------------------------------------------ */

typedef struct derived {
    int theory;                /* theory applies: an fc or conv net of equal widths, inputs finite */
    double pred_g, pred_a, chi1;
    double gap_g, gap_a;       /* measured - predicted (NAN where either is missing) */
    int parts;                 /* |gap| > IB_PROBE_PART_DECADES in either ratio */
} derived;

typedef struct chi1_cache {
    int n, cap;
    struct { ib_mf_act a; double sw2, bias, chi1; } *e;
} chi1_cache;

/* chi_1 with the constant bias, computed once per (activation, sigma_w2, bias): a grid has a few
 * dozen distinct ones, and each costs a root search. */
static double chi1_cached(chi1_cache *c, ib_mf_act a, double sw2, double bias) {
    for (int i = 0; i < c->n; i++)
        if (c->e[i].a == a && c->e[i].sw2 == sw2 && c->e[i].bias == bias) return c->e[i].chi1;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        void *more = realloc(c->e, (size_t)c->cap * sizeof *c->e);
        if (!more) ib_die(IB_EXIT_INTERNAL, "out of memory");
        c->e = more;
    }
    double v = ib_mf_chi1_bias(a, sw2, bias);
    c->e[c->n].a = a, c->e[c->n].sw2 = sw2, c->e[c->n].bias = bias, c->e[c->n].chi1 = v;
    c->n++;
    return v;
}

static double bias_of(const ib_probe_row *r) { return isnan(r->bias_init) ? 0 : r->bias_init; }

/* Mean-field theory speaks of equal hidden layers: the fc and conv families, not a fixed spec. */
static int theory_applies(const ib_probe_row *r) {
    return (!strcmp(r->net, "fc") || !strcmp(r->net, "conv")) && r->sigma_w2 > 0 && isfinite(r->sigma_w2) &&
           r->q1 >= 0 && isfinite(r->q1) && isfinite(bias_of(r));
}

/* Beyond this many decades a float32 ratio of RMS values cannot be measured: one of them has left
 * float32's range (normal numbers span 1.2e-38 .. 3.4e38), so the probe reads 0, inf or nan. */
#define FLOAT32_DECADES 37.0

/* A measured value lost to float32's range where theory predicts one beyond it. */
static int beyond_float32(double meas, double pred) { return !isfinite(meas) && fabs(pred) > FLOAT32_DECADES; }

static double gap(double meas, double pred) {
    if (isnan(pred) || beyond_float32(meas, pred)) return NAN; /* not a disagreement: nothing was measurable */
    if (isnan(meas)) return NAN;
    if (isinf(meas) && isinf(pred) && (meas > 0) == (pred > 0)) return 0;
    return meas - pred;
}

static void derive(const ib_probe_data *p, derived *d) {
    chi1_cache cache = {0};
    int maxd = 1;
    for (int i = 0; i < p->n; i++)
        if (p->rows[i].depth > maxd) maxd = p->rows[i].depth;
    double *g = ib_xcalloc((size_t)maxd, sizeof *g), *a = ib_xcalloc((size_t)maxd, sizeof *a);
    for (int i = 0; i < p->n; i++) {
        const ib_probe_row *r = &p->rows[i];
        derived *o = &d[i];
        o->pred_g = o->pred_a = o->chi1 = o->gap_g = o->gap_a = NAN;
        o->theory = theory_applies(r);
        if (!o->theory) continue;
        if (ib_mf_predict(r->act, r->sigma_w2, bias_of(r), r->q1, r->depth, g, a)) {
            o->theory = 0;
            continue;
        }
        o->pred_g = g[r->depth - 1];
        o->pred_a = a[r->depth - 1];
        o->chi1 = chi1_cached(&cache, r->act, r->sigma_w2, bias_of(r));
        o->gap_g = gap(r->log10_grad_ratio, o->pred_g);
        o->gap_a = gap(r->log10_act_ratio, o->pred_a);
        o->parts = fabs(o->gap_g) > IB_PROBE_PART_DECADES || fabs(o->gap_a) > IB_PROBE_PART_DECADES;
    }
    free(g);
    free(a);
    free(cache.e);
}

/* ---- panels: (net, width, activation, init) over (x, depth) --------------------------------------- */

enum { X_STDDEV, X_INIT_SCALE, X_SIGMA_W2 };
static const char *const x_names[] = {"stddev", "init scale", "sigma_w^2"};
static const char *const x_plain[] = {"stddev", "init scale", "sigma_w2"};

typedef struct panel {
    const ib_probe_row *first;
    int xkind, theory;   /* theory: it applies to every row */
    int n_rows, *rows;   /* indices into the probe's rows */
    int nx, nd;
    double *xs;          /* sorted distinct x values */
    int *depths;         /* sorted distinct depths */
    double *sw2, *bias, *q1; /* per x column: medians over its rows (NAN where none) */
    double *meas_g, *meas_a, *pred_g, *pred_a; /* per cell [xi * nd + di]: medians over its rows */
} panel;

static double x_of(const panel *pn, const ib_probe_row *r) {
    return pn->xkind == X_STDDEV ? r->stddev : pn->xkind == X_INIT_SCALE ? r->init_scale : r->sigma_w2;
}

static int same_panel(const ib_probe_row *a, const ib_probe_row *b) {
    return a->act == b->act && a->width == b->width && !strcmp(a->init, b->init) && !strcmp(a->net, b->net);
}

/* The median of the values that are not NAN (inf counts); NAN when there is none. Sorts v. */
static double median(double *v, int n) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) v[m++] = v[i];
    if (!m) return NAN;
    qsort(v, (size_t)m, sizeof *v, ib_cmp_double);
    return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

static int find_double(const double *v, int n, double x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return i;
    return -1;
}

static int find_int(const int *v, int n, int x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return i;
    return -1;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static void panel_build(panel *pn, const ib_probe_data *p, const derived *d) {
    int all_sd = 1, all_sc = 1;
    pn->theory = 1;
    for (int k = 0; k < pn->n_rows; k++) {
        const ib_probe_row *r = &p->rows[pn->rows[k]];
        all_sd &= r->stddev > 0;
        all_sc &= r->init_scale > 0;
        pn->theory &= d[pn->rows[k]].theory;
    }
    pn->xkind = all_sd ? X_STDDEV : all_sc ? X_INIT_SCALE : X_SIGMA_W2;
    pn->xs = ib_xcalloc((size_t)pn->n_rows, sizeof *pn->xs);
    pn->depths = ib_xcalloc((size_t)pn->n_rows, sizeof *pn->depths);
    for (int k = 0; k < pn->n_rows; k++) {
        const ib_probe_row *r = &p->rows[pn->rows[k]];
        double x = x_of(pn, r);
        if (x > 0 && isfinite(x) && find_double(pn->xs, pn->nx, x) < 0) pn->xs[pn->nx++] = x;
        if (find_int(pn->depths, pn->nd, r->depth) < 0) pn->depths[pn->nd++] = r->depth;
    }
    qsort(pn->xs, (size_t)pn->nx, sizeof *pn->xs, ib_cmp_double);
    qsort(pn->depths, (size_t)pn->nd, sizeof *pn->depths, cmp_int);
    size_t cells = (size_t)(pn->nx ? pn->nx : 1) * (size_t)pn->nd;
    double *vals = ib_xcalloc((size_t)pn->n_rows, sizeof *vals);
    double **outs[] = {&pn->meas_g, &pn->meas_a, &pn->pred_g, &pn->pred_a};
    for (int o = 0; o < 4; o++) *outs[o] = ib_xcalloc(cells, sizeof(double));
    double **cols[] = {&pn->sw2, &pn->bias, &pn->q1};
    for (int o = 0; o < 3; o++) *cols[o] = ib_xcalloc((size_t)(pn->nx ? pn->nx : 1), sizeof(double));
    for (int xi = 0; xi < pn->nx; xi++) {
        /* depth 1's sigma_w2 is its input layer's (fan_in Var(W)); the hidden layers' where there are any */
        int deep = pn->nd > 1 && pn->depths[pn->nd - 1] > 1;
        for (int o = 0; o < 3; o++) {
            int m = 0;
            for (int k = 0; k < pn->n_rows; k++) {
                const ib_probe_row *r = &p->rows[pn->rows[k]];
                if (x_of(pn, r) == pn->xs[xi] && (!deep || r->depth > 1))
                    vals[m++] = o == 0 ? r->sigma_w2 : o == 1 ? bias_of(r) : r->q1;
            }
            (*cols[o])[xi] = median(vals, m);
        }
        for (int di = 0; di < pn->nd; di++)
            for (int o = 0; o < 4; o++) {
                int m = 0;
                for (int k = 0; k < pn->n_rows; k++) {
                    int i = pn->rows[k];
                    const ib_probe_row *r = &p->rows[i];
                    if (x_of(pn, r) != pn->xs[xi] || r->depth != pn->depths[di]) continue;
                    vals[m++] = o == 0 ? r->log10_grad_ratio : o == 1 ? r->log10_act_ratio : o == 2 ? d[i].pred_g : d[i].pred_a;
                }
                (*outs[o])[xi * pn->nd + di] = median(vals, m);
            }
    }
    free(vals);
}

static void panel_free(panel *pn) {
    free(pn->rows);
    free(pn->xs);
    free(pn->depths);
    free(pn->sw2);
    free(pn->bias);
    free(pn->q1);
    free(pn->meas_g);
    free(pn->meas_a);
    free(pn->pred_g);
    free(pn->pred_a);
}

static panel *panels_make(const ib_probe_data *p, const derived *d, int *n_out) {
    panel *pn = ib_xcalloc((size_t)p->n, sizeof *pn);
    int n = 0;
    int *which = ib_xcalloc((size_t)p->n, sizeof *which);
    for (int i = 0; i < p->n; i++) {
        int k = 0;
        while (k < n && !same_panel(pn[k].first, &p->rows[i])) k++;
        if (k == n) pn[n++].first = &p->rows[i];
        which[i] = k;
        pn[k].n_rows++;
    }
    for (int k = 0; k < n; k++) {
        pn[k].rows = ib_xcalloc((size_t)pn[k].n_rows, sizeof(int));
        pn[k].n_rows = 0;
    }
    for (int i = 0; i < p->n; i++) pn[which[i]].rows[pn[which[i]].n_rows++] = i;
    free(which);
    for (int k = 0; k < n; k++) panel_build(&pn[k], p, d);
    *n_out = n;
    return pn;
}

/* ---- theory lines over a panel ------------------------------------------------------------------- */

/* The x at which chi_1 = 1 over the panel's columns, interpolated in log-log; NAN when the grid
 * does not cross it. With bias 0 everywhere, the exact critical sigma_w2 mapped through the
 * columns' sigma_w2; else the columns' own chi_1 with their constant bias. */
static double critical_x(const panel *pn, int *with_bias) {
    int zero_bias = 1;
    for (int xi = 0; xi < pn->nx; xi++) zero_bias &= pn->bias[xi] == 0;
    *with_bias = !zero_bias;
    double crit = ib_mf_critical_sigma_w2(pn->first->act);
    for (int xi = 0; xi + 1 < pn->nx; xi++) {
        double y0, y1, t = NAN;
        if (zero_bias) {
            y0 = log(pn->sw2[xi] / crit), y1 = log(pn->sw2[xi + 1] / crit);
        } else {
            y0 = log(ib_mf_chi1_bias(pn->first->act, pn->sw2[xi], pn->bias[xi]));
            y1 = log(ib_mf_chi1_bias(pn->first->act, pn->sw2[xi + 1], pn->bias[xi + 1]));
        }
        if (!isfinite(y0) || !isfinite(y1)) continue;
        if (y0 == 0) return pn->xs[xi];
        if ((y0 < 0) != (y1 < 0) || y1 == 0) t = y0 / (y0 - y1);
        if (t >= 0 && t <= 1) return exp(log(pn->xs[xi]) + t * (log(pn->xs[xi + 1]) - log(pn->xs[xi])));
    }
    if (pn->nx && ((zero_bias && pn->sw2[pn->nx - 1] == crit))) return pn->xs[pn->nx - 1];
    return NAN;
}

/* The depth (fractional) at which the predicted ratio of a column first reaches `level` (its
 * value at depth 1 is 0), for depths 1 .. max_d; NAN when it does not within them. */
static double crossing_depth(const double *pred, int max_d, double level) {
    for (int d = 2; d <= max_d; d++) {
        double a = pred[d - 2], b = pred[d - 1];
        if (isnan(b)) return NAN;
        if ((level > 0 && b >= level) || (level < 0 && b <= level)) {
            if (!isfinite(b) || b == a) return d;
            return (d - 1) + (level - a) / (b - a);
        }
    }
    return NAN;
}

static const double levels[4] = {-3, -1, 1, 3};

/* Data blocks for the predicted contours of metric m (0 grad, 1 act): one block per level, each a
 * polyline over the columns (log10 x, depth), broken where a column does not reach the level.
 * Returns, per level, whether its block has any point (plot[4]). */
static void contour_blocks(ib_strbuf *dat, const panel *pn, int m, int plot[4]) {
    int maxd = pn->depths[pn->nd - 1];
    double *g = ib_xcalloc((size_t)maxd, sizeof *g), *a = ib_xcalloc((size_t)maxd, sizeof *a);
    double *cross = ib_xcalloc((size_t)pn->nx * 4, sizeof *cross);
    for (int xi = 0; xi < pn->nx; xi++) {
        int ok = ib_mf_predict(pn->first->act, pn->sw2[xi], pn->bias[xi], pn->q1[xi], maxd, g, a) == 0;
        for (int l = 0; l < 4; l++) cross[xi * 4 + l] = ok ? crossing_depth(m ? a : g, maxd, levels[l]) : NAN;
    }
    for (int l = 0; l < 4; l++) {
        plot[l] = 0;
        int open = 0;
        for (int xi = 0; xi < pn->nx; xi++) {
            double c = cross[xi * 4 + l];
            if (isnan(c)) {
                if (open) ib_strbuf_append(dat, "\n");
                open = 0;
                continue;
            }
            ib_strbuf_appendf(dat, "%.9g %.6g\n", log10(pn->xs[xi]), c);
            open = plot[l] = 1;
        }
        if (!plot[l]) ib_strbuf_append(dat, "nan nan\n"); /* a block of its own, even when empty */
        ib_strbuf_append(dat, "\n\n");
    }
    free(g);
    free(a);
    free(cross);
}

/* ---- figures -------------------------------------------------------------------------------------- */

/* xtics at whole decades of log10 x over [lo, hi] */
static void decade_tics(ib_strbuf *b, double lo, double hi) {
    ib_strbuf_append(b, "set xtics (");
    int first = 1;
    for (int k = (int)floor(lo); k <= (int)ceil(hi); k++) {
        if (k < lo - 1e-9 || k > hi + 1e-9) continue;
        ib_strbuf_appendf(b, "%s'10^{%d}' %d", first ? "" : ", ", k, k);
        first = 0;
    }
    if (first) ib_strbuf_appendf(b, "'%.3g' %.9g", pow(10, 0.5 * (lo + hi)), 0.5 * (lo + hi));
    ib_strbuf_append(b, ")\n");
}

/* Cell bounds: halfway to the neighbours (the grid may be uneven), half a step at the ends. */
static void bounds(const double *v, int n, int i, double *lo, double *hi) {
    double left = i > 0 ? v[i] - v[i - 1] : n > 1 ? v[1] - v[0] : 1;
    double right = i + 1 < n ? v[i + 1] - v[i] : n > 1 ? v[n - 1] - v[n - 2] : 1;
    *lo = v[i] - 0.5 * left;
    *hi = v[i] + 0.5 * right;
}

/* The cells of a panel as boxes (x y xlo xhi ylo yhi colour), x in log10; values through `val`. */
static void cell_block(ib_strbuf *dat, const panel *pn, const double *val, double clip, int *drawn) {
    double *lx = ib_xcalloc((size_t)pn->nx, sizeof *lx), *dd = ib_xcalloc((size_t)pn->nd, sizeof *dd);
    for (int xi = 0; xi < pn->nx; xi++) lx[xi] = log10(pn->xs[xi]);
    for (int di = 0; di < pn->nd; di++) dd[di] = pn->depths[di];
    *drawn = 0;
    for (int xi = 0; xi < pn->nx; xi++)
        for (int di = 0; di < pn->nd; di++) {
            double v = val[xi * pn->nd + di];
            if (isnan(v)) continue;
            v = fmax(-clip, fmin(clip, v)); /* +-inf: the end of the scale */
            double x0, x1, y0, y1;
            bounds(lx, pn->nx, xi, &x0, &x1);
            bounds(dd, pn->nd, di, &y0, &y1);
            ib_strbuf_appendf(dat, "%.9g %g %.9g %.9g %g %g %.6g\n", lx[xi], dd[di], x0, x1, y0, y1, v);
            (*drawn)++;
        }
    if (!*drawn) ib_strbuf_append(dat, "nan nan nan nan nan nan nan\n");
    ib_strbuf_append(dat, "\n\n");
    free(lx);
    free(dd);
}

static void axis_setup(ib_strbuf *body, const panel *pn) {
    double *lx = ib_xcalloc((size_t)pn->nx, sizeof *lx), *dd = ib_xcalloc((size_t)pn->nd, sizeof *dd);
    for (int xi = 0; xi < pn->nx; xi++) lx[xi] = log10(pn->xs[xi]);
    for (int di = 0; di < pn->nd; di++) dd[di] = pn->depths[di];
    double xa, xb, ya, yb, unused;
    bounds(lx, pn->nx, 0, &xa, &unused);
    bounds(lx, pn->nx, pn->nx - 1, &unused, &xb);
    bounds(dd, pn->nd, 0, &ya, &unused);
    bounds(dd, pn->nd, pn->nd - 1, &unused, &yb);
    ib_strbuf_appendf(body, "set xlabel '%s (log scale)'\nset ylabel 'depth (hidden layers)'\n"
                      "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\nset grid noxtics noytics\n"
                      "set key below horizontal\n", x_names[pn->xkind], xa, xb, ya, yb);
    decade_tics(body, lx[0], lx[pn->nx - 1]);
    free(lx);
    free(dd);
}

static double colour_range(const double *v, int n) {
    double r = 1;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]) && fabs(v[i]) > r) r = fabs(v[i]);
    return fmin(ceil(r), 12);
}

/* A heatmap of the measured ratio m (0: log10 grad ratio, 1: log10 act ratio) of panel k, with the
 * critical line and the predicted contours over it. */
static void fig_heatmap(ib_plotter *P, ib_strbuf *html, const panel *pn, int k, int m) {
    ib_strbuf dat = {0}, body = {0}, pl = {0};
    const double *meas = m ? pn->meas_a : pn->meas_g;
    int cells = pn->nx * pn->nd, drawn;
    double R = colour_range(meas, cells);
    cell_block(&dat, pn, meas, R, &drawn);
    ib_strbuf_appendf(&pl, "plot DAT index 0 using 1:2:3:4:5:6:7 with boxxyerror fs solid 1.0 noborder lc palette notitle");
    int block = 1, with_bias = 0;
    double xc = NAN;
    char cap[1200];
    ib_snprintf(cap, sizeof cap, "%s, init %s: measured log10 %s at step 0 (median over optimizers), over %s and depth; "
                "blue: %s, red: %s; colour scale clipped at +-%g.", ib_mf_act_name(pn->first->act), pn->first->init,
                m ? "(rms activation of the last hidden layer / the first)" : "(rms dL/dz of the first hidden layer / the last)",
                x_plain[pn->xkind], m ? "activations shrink with depth" : "gradients vanish towards the input",
                m ? "they grow" : "they explode", R);
    if (pn->theory) {
        xc = critical_x(pn, &with_bias);
        if (!isnan(xc)) {
            ib_strbuf_appendf(&dat, "%.9g %g\n%.9g %g\n\n\n", log10(xc), pn->depths[0] - 0.5, log10(xc),
                              pn->depths[pn->nd - 1] + 0.5);
            ib_strbuf_appendf(&pl, ", DAT index %d using 1:2 with lines lc rgb '#000000' lw 2.5 title 'critical: chi_1 = 1'",
                              block++);
        }
        int plot[4];
        contour_blocks(&dat, pn, m, plot);
        static const char *const style[4] = {"dt 3 lw 2 lc rgb '#08306b'", "dt 2 lw 2 lc rgb '#2171b5'",
                                             "dt 2 lw 2 lc rgb '#cb181d'", "dt 3 lw 2 lc rgb '#67000d'"};
        for (int l = 0; l < 4; l++, block++)
            if (plot[l])
                ib_strbuf_appendf(&pl, ", DAT index %d using 1:2 with lines %s title 'predicted %+g'", block, style[l],
                                  levels[l]);
        IB_STRCATF(cap, " Black: theory's critical line chi_1 = 1 (%s)%s; dashed and dotted: where theory's "
                   "finite-depth prediction reaches +-1 and +-3 decades (10x and 1000x).",
                   with_bias ? "with the configurations' constant bias" : "sigma_b = 0",
                   isnan(xc) ? ", not within this grid" : "");
    } else {
        IB_STRCATF(cap, " No theory lines: mean-field theory is drawn for the fc and conv families with a finite "
                   "sigma_w2 and q1 only.");
    }
    ib_strbuf_appendf(&body, "set palette defined (0 '#2166ac', 0.5 '#f7f7f7', 1 '#b2182b')\nset cbrange [%g:%g]\n"
                      "set cblabel 'log_{10} %s'\n", -R, R, m ? "act ratio" : "grad ratio");
    axis_setup(&body, pn);
    ib_strbuf_appendf(&body, "%s\n", pl.p);
    char name[64];
    ib_snprintf(name, sizeof name, "p%d_%s", k, m ? "act" : "grad");
    if (drawn) ib_figure(P, html, name, cap, 560, 440, &dat, body.p);
    else ib_strbuf_append(html, "<p class=note>No finite measurement in this panel: no heatmap.</p>\n");
    ib_strbuf_free(&dat);
    ib_strbuf_free(&body);
    ib_strbuf_free(&pl);
}

/* The forecast class per cell for optimizer opt: the worst class among the cell's rows. */
static void fig_forecast_map(ib_plotter *P, ib_strbuf *html, const ib_probe_data *p, const panel *pn, int k,
                             const char *opt, int oi) {
    double *cls = ib_xcalloc((size_t)(pn->nx * pn->nd), sizeof *cls);
    for (int c = 0; c < pn->nx * pn->nd; c++) cls[c] = NAN;
    for (int j = 0; j < pn->n_rows; j++) {
        const ib_probe_row *r = &p->rows[pn->rows[j]];
        if (strcmp(r->optimizer, opt) || r->forecast == IB_CLASS_NONE) continue;
        int xi = find_double(pn->xs, pn->nx, x_of(pn, r)), di = find_int(pn->depths, pn->nd, r->depth);
        if (xi < 0 || di < 0) continue;
        double *c = &cls[xi * pn->nd + di];
        if (isnan(*c) || r->forecast > *c) *c = r->forecast;
    }
    ib_strbuf dat = {0}, body = {0};
    int drawn;
    cell_block(&dat, pn, cls, 3, &drawn);
    ib_strbuf_append(&body, "set palette defined (0 '#1a9850', 1 '#fdae61', 2 '#d73027')\nset palette maxcolors 3\n"
                            "set cbrange [-0.5:2.5]\nset cbtics ('trains' 0, 'at risk' 1, 'will not train' 2)\n");
    axis_setup(&body, pn);
    ib_strbuf_append(&body, "set title '");
    ib_gp_text(&body, opt);
    ib_strbuf_append(&body, "'\nplot DAT index 0 using 1:2:3:4:5:6:7 with boxxyerror fs solid 1.0 noborder lc palette notitle\n");
    char name[64], cap[400];
    ib_snprintf(name, sizeof name, "p%d_forecast%d", k, oi);
    ib_snprintf(cap, sizeof cap, "Forecast under %s (the worst class where a cell has several rows).", opt);
    if (drawn) ib_figure(P, html, name, cap, 460, 380, &dat, body.p);
    ib_strbuf_free(&dat);
    ib_strbuf_free(&body);
    free(cls);
}

/* ---- single-depth grids: lines against x ------------------------------------------------------------ */

static void fig_lines(ib_plotter *P, ib_strbuf *html, const ib_probe_data *p, const panel *pn, int k, char opts[][32],
                      int n_opts) {
    char name[64], cap[600];
    const char *xl = x_names[pn->xkind];
    /* gradient ratios */
    ib_strbuf dat = {0}, body = {0}, pl = {0};
    int blocks = 0;
    for (int s = 0; s < 4; s++) {
        int any = 0;
        for (int xi = 0; xi < pn->nx; xi++) {
            double v = NAN;
            if (s == 0) v = pn->meas_g[xi * pn->nd];
            else if (s == 1) v = pn->pred_g[xi * pn->nd];
            else {
                double vals[64];
                int m = 0;
                for (int j = 0; j < pn->n_rows && m < 64; j++) {
                    const ib_probe_row *r = &p->rows[pn->rows[j]];
                    if (x_of(pn, r) == pn->xs[xi]) vals[m++] = s == 2 ? r->log10_wgrad_ratio : r->log10_act_ratio;
                }
                v = median(vals, m);
            }
            if (isfinite(v)) ib_strbuf_appendf(&dat, "%.9g %.9g\n", pn->xs[xi], v), any = 1;
        }
        if (!any) ib_strbuf_append(&dat, "nan nan\n");
        ib_strbuf_append(&dat, "\n\n");
        static const char *const t[4] = {"measured log10 rms dL/dz first/last hidden", "theory (finite depth)",
                                         "measured log10 weight-grad L2 first/last", "measured log10 act ratio"};
        if (any && s != 3)
            ib_strbuf_appendf(&pl, "%sDAT index %d using 1:2 with linespoints lt %d %stitle '%s'", blocks ? ", " : "plot ",
                              s, s + 1, s == 1 ? "dt 2 " : "", t[s]);
        if (any && s != 3) blocks++;
    }
    if (blocks) {
        ib_strbuf_appendf(&body, "set logscale x\nset format x '10^{%%L}'\nset xlabel '%s'\nset ylabel 'log_{10} ratio'\nset key below\n%s\n", xl, pl.p);
        ib_snprintf(name, sizeof name, "p%d_lines_grad", k);
        ib_snprintf(cap, sizeof cap, "%s, init %s, depth %d: gradient ratios at step 0 against %s (median over "
                    "optimizers).", ib_mf_act_name(pn->first->act), pn->first->init, pn->depths[0], x_plain[pn->xkind]);
        ib_figure(P, html, name, cap, 760, 400, &dat, body.p);
    }
    /* activation ratio: measured block 3, theory below */
    ib_strbuf_clear(&body);
    ib_strbuf_clear(&pl);
    int any = 0;
    for (int xi = 0; xi < pn->nx; xi++)
        if (isfinite(pn->pred_a[xi * pn->nd])) ib_strbuf_appendf(&dat, "%.9g %.9g\n", pn->xs[xi], pn->pred_a[xi * pn->nd]), any = 1;
    if (!any) ib_strbuf_append(&dat, "nan nan\n");
    ib_strbuf_append(&dat, "\n\n");
    ib_strbuf_appendf(&body, "set logscale x\nset format x '10^{%%L}'\nset xlabel '%s'\nset ylabel 'log_{10} rms act last/first hidden'\nset key below\n"
                      "plot DAT index 3 using 1:2 with linespoints lt 1 title 'measured'%s\n", xl,
                      any ? ", DAT index 4 using 1:2 with linespoints lt 2 dt 2 title 'theory (finite depth)'" : "");
    ib_snprintf(name, sizeof name, "p%d_lines_act", k);
    ib_snprintf(cap, sizeof cap, "Activation scale at step 0: log10 of the last hidden layer's rms activation over the "
                "first's, against %s.", x_plain[pn->xkind]);
    ib_figure(P, html, name, cap, 760, 360, &dat, body.p);
    /* min update ratio and forecast per optimizer */
    ib_strbuf_clear(&dat);
    ib_strbuf_clear(&body);
    ib_strbuf_clear(&pl);
    ib_strbuf fdat = {0}, fpl = {0};
    int ub = 0, fb = 0;
    for (int o = 0; o < n_opts; o++) {
        int au = 0, af = 0;
        for (int xi = 0; xi < pn->nx; xi++)
            for (int j = 0; j < pn->n_rows; j++) {
                const ib_probe_row *r = &p->rows[pn->rows[j]];
                if (x_of(pn, r) != pn->xs[xi] || strcmp(r->optimizer, opts[o])) continue;
                if (r->min_update_ratio > 0 && isfinite(r->min_update_ratio))
                    ib_strbuf_appendf(&dat, "%.9g %.9g\n", pn->xs[xi], r->min_update_ratio), au = 1;
                if (r->forecast != IB_CLASS_NONE)
                    ib_strbuf_appendf(&fdat, "%.9g %.3f\n", pn->xs[xi], r->forecast + 0.08 * (o - 0.5 * (n_opts - 1))), af = 1;
                break;
            }
        if (!au) ib_strbuf_append(&dat, "nan nan\n");
        if (!af) ib_strbuf_append(&fdat, "nan nan\n");
        ib_strbuf_append(&dat, "\n\n");
        ib_strbuf_append(&fdat, "\n\n");
        if (au) {
            ib_strbuf_appendf(&pl, "%sDAT index %d using 1:2 with linespoints lt %d title '", ub++ ? ", " : "plot ", o,
                              o % IB_NCOLOURS + 1);
            ib_gp_text(&pl, opts[o]);
            ib_strbuf_append(&pl, "'");
        }
        if (af) {
            ib_strbuf_appendf(&fpl, "%sDAT index %d using 1:2 with points lt %d ps 1.2 title '", fb++ ? ", " : "plot ", o,
                              o % IB_NCOLOURS + 1);
            ib_gp_text(&fpl, opts[o]);
            ib_strbuf_append(&fpl, "'");
        }
    }
    if (ub) {
        ib_strbuf_appendf(&body, "set logscale xy\nset format y '10^{%%L}'\nset format x '10^{%%L}'\nset xlabel '%s'\n"
                          "set ylabel 'min ||update|| / ||W|| over layers'\nset key below\n%s\n", xl, pl.p);
        ib_snprintf(name, sizeof name, "p%d_lines_update", k);
        ib_figure(P, html, name, "The smallest first-step relative update over the weight layers, per optimizer.", 760,
                  360, &dat, body.p);
    }
    if (fb) {
        ib_strbuf_clear(&body);
        ib_strbuf_appendf(&body, "set logscale x\nset format x '10^{%%L}'\nset xlabel '%s'\nset yrange [-0.5:2.5]\n"
                          "set ytics ('trains' 0, 'at risk' 1, 'will not train' 2)\nset key below\n%s\n", xl, fpl.p);
        ib_snprintf(name, sizeof name, "p%d_lines_forecast", k);
        ib_figure(P, html, name, "The trainability forecast per optimizer against the stddev.", 760, 300, &fdat, body.p);
    }
    ib_strbuf_free(&dat);
    ib_strbuf_free(&fdat);
    ib_strbuf_free(&body);
    ib_strbuf_free(&pl);
    ib_strbuf_free(&fpl);
}

/* ---- where measurement and theory part ---------------------------------------------------------------- */

typedef struct cellgap {
    int xi, di;
    double worst;
} cellgap;

static int cmp_gap(const void *a, const void *b) {
    double x = ((const cellgap *)a)->worst, y = ((const cellgap *)b)->worst;
    return (x < y) - (x > y); /* largest first */
}

static void disagreement(ib_strbuf *h, ib_strbuf *md, const panel *pn) {
    if (!pn->theory) return;
    int cells = 0, part_g = 0, part_a = 0, parts = 0, lost = 0;
    cellgap *cg = ib_xcalloc((size_t)(pn->nx * pn->nd) + 1, sizeof *cg);
    for (int xi = 0; xi < pn->nx; xi++)
        for (int di = 0; di < pn->nd; di++) {
            int c = xi * pn->nd + di;
            double gg = gap(pn->meas_g[c], pn->pred_g[c]), ga = gap(pn->meas_a[c], pn->pred_a[c]);
            lost += beyond_float32(pn->meas_g[c], pn->pred_g[c]) || beyond_float32(pn->meas_a[c], pn->pred_a[c]);
            if (isnan(gg) && isnan(ga)) continue;
            cells++;
            int pg = fabs(gg) > IB_PROBE_PART_DECADES, pa = fabs(ga) > IB_PROBE_PART_DECADES;
            part_g += pg, part_a += pa;
            if (pg || pa) cg[parts++] = (cellgap){xi, di, fmax(isnan(gg) ? 0 : fabs(gg), isnan(ga) ? 0 : fabs(ga))};
        }
    qsort(cg, (size_t)parts, sizeof *cg, cmp_gap);
    char s[600];
    char beyond[200] = "";
    if (lost)
        ib_snprintf(beyond, sizeof beyond, " In %d more, theory predicts a ratio beyond 10^%g, outside float32's range, "
                    "and the measurement under- or overflowed, as it must.", lost, FLOAT32_DECADES);
    ib_snprintf(s, sizeof s, "Measurement and theory part by more than %g decades in %d of %d cells (%s, init %s): the "
                "gradient ratio in %d, the activation ratio in %d.%s", IB_PROBE_PART_DECADES, parts, cells,
                ib_mf_act_name(pn->first->act), pn->first->init, part_g, part_a, beyond);
    ib_strbuf_append(h, "<p>");
    ib_html_escape(h, s);
    ib_strbuf_append(md, "- ");
    ib_md_text(md, s);
    if (parts) {
        ib_strbuf_append(h, " The worst cells:</p>\n<table><tr><th>");
        ib_html_escape(h, x_plain[pn->xkind]);
        ib_strbuf_append(h, "</th><th>depth</th><th>sigma_w2</th><th>bias</th><th>q1</th><th>grad ratio measured</th>"
                            "<th>predicted</th><th>act ratio measured</th><th>predicted</th></tr>\n");
        for (int i = 0; i < parts && i < 8; i++) {
            int c = cg[i].xi * pn->nd + cg[i].di;
            ib_strbuf_appendf(h, "<tr><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                              "<td>%s</td><td>%s</td></tr>\n", ib_sig3(pn->xs[cg[i].xi]), pn->depths[cg[i].di],
                              ib_sig3(pn->sw2[cg[i].xi]), ib_sig3(pn->bias[cg[i].xi]), ib_sig3(pn->q1[cg[i].xi]),
                              ib_sig3(pn->meas_g[c]), ib_sig3(pn->pred_g[c]), ib_sig3(pn->meas_a[c]), ib_sig3(pn->pred_a[c]));
            if (i < 3)
                ib_strbuf_appendf(md, "%s %s %s, depth %d: grad ratio %s measured vs %s predicted, act ratio %s vs %s",
                                  i ? ";" : " Worst:", x_plain[pn->xkind], ib_sig3(pn->xs[cg[i].xi]), pn->depths[cg[i].di],
                                  ib_sig3(pn->meas_g[c]), ib_sig3(pn->pred_g[c]), ib_sig3(pn->meas_a[c]),
                                  ib_sig3(pn->pred_a[c]));
        }
        ib_strbuf_append(h, "</table>\n<p class=caption>Ratios in decades (log10), medians over the cell's optimizers; "
                            "q1 is the measured second moment of the first hidden layer's preactivation.</p>\n");
    } else {
        ib_strbuf_append(h, "</p>\n");
    }
    ib_strbuf_append(md, "\n");
    free(cg);
}

/* ---- the forecast ------------------------------------------------------------------------------------ */

static int optimizers_of(const ib_probe_data *p, char opts[][32], int max) {
    int n = 0;
    for (int i = 0; i < p->n; i++) {
        int k = 0;
        while (k < n && strcmp(opts[k], p->rows[i].optimizer)) k++;
        if (k == n && n < max) ib_snprintf(opts[n++], 32, "%s", p->rows[i].optimizer);
    }
    return n;
}

static void forecast_section(ib_plotter *P, ib_strbuf *h, ib_strbuf *md, const ib_probe_data *p, const panel *pn,
                             int npn, char opts[][32], int n_opts, int heatmaps) {
    ib_strbuf_append(h, "<h2 id=forecast>The trainability forecast</h2>\n<p>The rule, as the probe states it:</p>\n"
                        "<blockquote class=rule>");
    ib_html_escape(h, p->rule[0] ? p->rule : "(probe.json gives no rule)");
    ib_strbuf_append(h, "</blockquote>\n");
    if (!isnan(p->budget_steps)) ib_strbuf_appendf(h, "<p>Budget the forecast speaks of: %g steps.</p>\n", p->budget_steps);
    ib_strbuf_append(md, "\n## The trainability forecast\n\nRule: ");
    ib_md_text(md, p->rule[0] ? p->rule : "(probe.json gives no rule)");
    ib_strbuf_append(md, "\n\n| activation | optimizer | trains | at risk | will not train | none |\n|---|---|---|---|---|---|\n");
    ib_strbuf_append(h, "<table><tr><th class=l>activation</th><th class=l>optimizer</th><th>trains</th><th>at risk</th>"
                        "<th>will not train</th><th>none</th></tr>\n");
    for (int a = 0; a < IB_MF_NACTS; a++)
        for (int o = 0; o < n_opts; o++) {
            int cnt[IB_CLASS_N] = {0}, any = 0;
            for (int i = 0; i < p->n; i++)
                if (p->rows[i].act == (ib_mf_act)a && !strcmp(p->rows[i].optimizer, opts[o]))
                    cnt[p->rows[i].forecast]++, any = 1;
            if (!any) continue;
            ib_strbuf_appendf(h, "<tr><td class=l>%s</td><td class=l>", ib_mf_act_name((ib_mf_act)a));
            ib_html_escape(h, opts[o]);
            ib_strbuf_appendf(md, "| %s | ", ib_mf_act_name((ib_mf_act)a));
            ib_md_text(md, opts[o]);
            ib_strbuf_append(md, " |");
            for (int c = 0; c < IB_CLASS_N; c++) {
                ib_strbuf_appendf(h, "</td><td>%d", cnt[c]);
                ib_strbuf_appendf(md, " %d |", cnt[c]);
            }
            ib_strbuf_append(h, "</td></tr>\n");
            ib_strbuf_append(md, "\n");
        }
    ib_strbuf_append(h, "</table>\n");
    if (heatmaps) {
        for (int k = 0; k < npn; k++) {
            ib_strbuf_append(h, "<h3>");
            ib_html_escape(h, ib_mf_act_name(pn[k].first->act));
            ib_strbuf_append(h, ", init ");
            ib_html_escape(h, pn[k].first->init);
            ib_strbuf_append(h, "</h3>\n<div class=grid>\n");
            for (int o = 0; o < n_opts; o++) fig_forecast_map(P, h, p, &pn[k], k, opts[o], o);
            ib_strbuf_append(h, "</div>\n");
        }
    }
    /* the reasons given, distinct per optimizer and class, with their counts */
    ib_strbuf_append(h, "<h3>Reasons given</h3>\n<table><tr><th class=l>optimizer</th><th class=l>forecast</th>"
                        "<th>configurations</th><th class=l>reason (first of its kind)</th></tr>\n");
    int *done = ib_xcalloc((size_t)p->n, sizeof *done), shown = 0;
    for (int i = 0; i < p->n && shown < 60; i++) {
        const ib_probe_row *r = &p->rows[i];
        if (done[i] || !r->reason[0]) continue;
        int count = 0;
        for (int j = i; j < p->n; j++)
            if (!done[j] && !strcmp(p->rows[j].reason, r->reason) && !strcmp(p->rows[j].optimizer, r->optimizer) &&
                p->rows[j].forecast == r->forecast)
                done[j] = 1, count++;
        ib_strbuf_append(h, "<tr><td class=l>");
        ib_html_escape(h, r->optimizer);
        ib_strbuf_appendf(h, "</td><td class=l>%s</td><td>%d</td><td class=l>", ib_probe_class_names[r->forecast], count);
        ib_html_escape(h, r->reason);
        ib_strbuf_append(h, "</td></tr>\n");
        shown++;
    }
    free(done);
    ib_strbuf_append(h, "</table>\n");
}

/* ---- the forecast against training (probe --validate) ---------------------------------------------------- */

static void validation_section(ib_strbuf *h, ib_strbuf *md, const ib_probe_data *p) {
    if (!p->n_validations) return;
    ib_strbuf_append(h, "<h2 id=validation>The forecast against training</h2>\n<p>Configurations drawn across the "
                        "forecast classes and trained for the budget (<code>initbench probe --validate</code>). A "
                        "miss: forecast trains but the run did not train, or forecast will_not_train but it learned; "
                        "at_risk is never a miss.</p>\n");
    ib_strbuf_append(md, "\n## The forecast against training\n");
    for (int v = 0; v < p->n_validations; v++) {
        const ib_probe_validation *val = &p->validations[v];
        int m[IB_CLASS_NONE][IB_OUTCOME_N] = {{0}}, misses = 0;
        for (int i = 0; i < val->n; i++) m[val->checks[i].forecast][val->checks[i].outcome]++, misses += val->checks[i].miss;
        ib_strbuf_append(h, "<h3>");
        ib_html_escape(h, val->name);
        ib_strbuf_appendf(h, ": %d configurations, %d miss%s</h3>\n<table><tr><th class=l>forecast \\ outcome</th>",
                          val->n, misses, misses == 1 ? "" : "es");
        ib_strbuf_append(md, "\n### ");
        ib_md_text(md, val->name);
        ib_strbuf_appendf(md, ": %d configurations, %d miss%s\n\n| forecast \\ outcome |", val->n, misses,
                          misses == 1 ? "" : "es");
        for (int o = 0; o < IB_OUTCOME_N; o++) {
            ib_strbuf_appendf(h, "<th>%s</th>", ib_probe_outcome_names[o]);
            ib_strbuf_appendf(md, " %s |", ib_probe_outcome_names[o]);
        }
        ib_strbuf_append(h, "</tr>\n");
        ib_strbuf_append(md, "\n|---|---|---|---|---|---|\n");
        for (int f = 0; f < IB_CLASS_NONE; f++) {
            ib_strbuf_appendf(h, "<tr><td class=l>%s</td>", ib_probe_class_names[f]);
            ib_strbuf_appendf(md, "| %s |", ib_probe_class_names[f]);
            for (int o = 0; o < IB_OUTCOME_N; o++) {
                ib_strbuf_appendf(h, "<td>%d</td>", m[f][o]);
                ib_strbuf_appendf(md, " %d |", m[f][o]);
            }
            ib_strbuf_append(h, "</tr>\n");
            ib_strbuf_append(md, "\n");
        }
        ib_strbuf_append(h, "</table>\n");
        if (!misses) continue;
        ib_strbuf_append(h, "<table><tr><th>config</th><th>depth</th><th class=l>activation</th><th>stddev</th>"
                            "<th class=l>optimizer</th><th class=l>forecast</th><th class=l>outcome</th><th>accuracy</th>"
                            "<th class=l>evidence at step 0</th></tr>\n");
        for (int i = 0; i < val->n; i++) {
            const ib_probe_check *k = &val->checks[i];
            if (!k->miss) continue;
            const ib_probe_row *r = &p->rows[k->config];
            ib_strbuf_appendf(h, "<tr><td>%d</td><td>%d</td><td class=l>%s</td><td>%s</td><td class=l>", k->config,
                              r->depth, ib_mf_act_name(r->act), ib_sig3(r->stddev));
            ib_html_escape(h, r->optimizer);
            ib_strbuf_appendf(h, "</td><td class=l>%s</td><td class=l>%s</td><td>%s</td><td class=l>",
                              ib_probe_class_names[k->forecast], ib_probe_outcome_names[k->outcome], ib_sig3(k->accuracy));
            ib_html_escape(h, k->reason[0] ? k->reason : "none: nothing in the first step looked wrong");
            ib_strbuf_append(h, "</td></tr>\n");
        }
        ib_strbuf_append(h, "</table>\n");
    }
}

/* ---- phase.csv ----------------------------------------------------------------------------------------- */

static void csv_num(ib_strbuf *b, double v) {
    ib_strbuf_append(b, ",");
    if (!isnan(v)) ib_strbuf_appendf(b, "%.9g", v);
}

static void phase_csv(ib_strbuf *b, const ib_probe_data *p, const derived *d) {
    ib_strbuf_append(b, "config,net,depth,width,activation,init,optimizer,stddev,init_scale,sigma_w2,bias_init,q1,"
                        "log10_grad_ratio,predicted_log10_grad_ratio,grad_gap,log10_act_ratio,predicted_log10_act_ratio,"
                        "act_gap,chi1,parts,forecast,reason\n");
    for (int i = 0; i < p->n; i++) {
        const ib_probe_row *r = &p->rows[i];
        ib_strbuf_appendf(b, "%d,", r->config);
        ib_csv_field(b, r->net);
        ib_strbuf_appendf(b, ",%d,%d,%s,", r->depth, r->width, ib_mf_act_name(r->act));
        ib_csv_field(b, r->init);
        ib_strbuf_append(b, ",");
        ib_csv_field(b, r->optimizer);
        const double v[] = {r->stddev, r->init_scale, r->sigma_w2, r->bias_init, r->q1, r->log10_grad_ratio, d[i].pred_g,
                            d[i].gap_g, r->log10_act_ratio, d[i].pred_a, d[i].gap_a, d[i].chi1};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) csv_num(b, v[k]);
        ib_strbuf_appendf(b, ",%d,%s,", d[i].parts, ib_probe_class_names[r->forecast]);
        ib_csv_field(b, r->reason);
        ib_strbuf_append(b, "\n");
    }
}

/* ---- the page ------------------------------------------------------------------------------------------- */

static const char *CSS = IB_PAGE_CSS_BASE ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:.5em}"
    "blockquote.rule{border-left:4px solid #ccc;margin:1em 0;padding:.3em 1em;background:#fafafa;white-space:pre-wrap}";

static void page_head(ib_strbuf *h, ib_strbuf *md, const ib_probe_data *p, const char *command, int single_depth) {
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    ib_strbuf_appendf(h, "<!DOCTYPE html>\n<html lang=en><head><meta charset='utf-8'><title>initbench probe report</title>"
                      "<style>%s</style></head><body>\n<h1>initbench probe report: the gradient-flow phase diagram</h1>\n"
                      "<p>Generated %s", CSS, when);
    if (command) {
        ib_strbuf_append(h, " by <code>");
        ib_html_escape(h, command);
        ib_strbuf_append(h, "</code>");
    }
    ib_strbuf_append(h, " from the probe directory <code>");
    ib_html_escape(h, p->dir);
    ib_strbuf_append(h, "</code>, made by <code>");
    ib_html_escape(h, p->command);
    ib_strbuf_appendf(h, "</code>: %d configurations", p->n);
    if (!isnan(p->wall_s)) ib_strbuf_appendf(h, " probed in %.1f s", p->wall_s);
    if (!isnan(p->ms_per_config)) ib_strbuf_appendf(h, " (%.1f ms each)", p->ms_per_config);
    ib_strbuf_append(h, ". Tables: <code>phase.csv</code>; summary: <code>summary.md</code>.</p>\n");
    if (strcmp(p->status, "complete")) {
        ib_strbuf_append(h, "<p class=note>The probe's status is '");
        ib_html_escape(h, p->status);
        ib_strbuf_append(h, "', not complete: this report shows the configurations written so far.</p>\n");
    }
    ib_strbuf_appendf(md, "# initbench probe report\n\nGenerated %s", when);
    if (command) {
        ib_strbuf_append(md, " by ");
        ib_md_code(md, command);
    }
    ib_strbuf_append(md, " from ");
    ib_md_code(md, p->dir);
    ib_strbuf_appendf(md, ": %d configurations, status ", p->n);
    ib_md_text(md, p->status);
    ib_strbuf_append(md, ".\n\n");
    ib_strbuf_appendf(h, "<p>%s Mean-field theory (docs/THEORY.md, \"The phase diagram\"): per hidden layer the "
                      "second moment of dL/dz is multiplied by chi = sigma_w2 E[f'(z)^2]; chi_1, its value at the fixed "
                      "point, is 1 on the critical line, at sigma_w2 = %s for ReLU, %s for tanh and %s for sigmoid "
                      "(sigma_b = 0). The finite-depth prediction starts from each configuration's measured q1 and "
                      "treats the constant bias as a shift of every preactivation's mean.</p>\n",
                      single_depth ? "A grid with a single depth: lines against the x axis instead of heatmaps."
                                   : "Heatmaps per activation over x (log scale) and depth.",
                      ib_sig3(ib_mf_critical_sigma_w2(IB_MF_RELU)), ib_sig3(ib_mf_critical_sigma_w2(IB_MF_TANH)),
                      ib_sig3(ib_mf_critical_sigma_w2(IB_MF_SIGMOID)));
    ib_strbuf_appendf(md, "Critical sigma_w2 (chi_1 = 1, sigma_b = 0): ReLU %s, tanh %s, sigmoid %s.\n\n",
                      ib_sig3(ib_mf_critical_sigma_w2(IB_MF_RELU)), ib_sig3(ib_mf_critical_sigma_w2(IB_MF_TANH)),
                      ib_sig3(ib_mf_critical_sigma_w2(IB_MF_SIGMOID)));
}

static void page_build(ib_plotter *P, const ib_probe_data *p, const panel *pn, int npn, const char *command,
                       ib_strbuf *h, ib_strbuf *md) {
    int single_depth = 1;
    for (int k = 0; k < npn; k++) single_depth &= pn[k].nd == 1;
    char opts[16][32];
    int n_opts = optimizers_of(p, opts, 16);
    page_head(h, md, p, command, single_depth);
    ib_strbuf_append(md, "## Measurement against theory\n\n");
    for (int k = 0; k < npn; k++) {
        const panel *q = &pn[k];
        ib_strbuf_append(h, "<h2>");
        ib_html_escape(h, ib_mf_act_name(q->first->act));
        ib_strbuf_append(h, ", init ");
        ib_html_escape(h, q->first->init);
        ib_strbuf_append(h, "</h2>\n<p>Net <code>");
        ib_html_escape(h, q->first->net);
        ib_strbuf_appendf(h, "</code>, width %d; %d configurations over %d values of %s and %d depths.</p>\n",
                          q->first->width, q->n_rows, q->nx, x_plain[q->xkind], q->nd);
        if (!q->nx) {
            ib_strbuf_append(h, "<p class=note>No configuration of this panel has a positive x value: nothing to "
                                "plot.</p>\n");
            continue;
        }
        if (single_depth) {
            fig_lines(P, h, p, q, k, opts, n_opts);
        } else {
            ib_strbuf_append(h, "<div class=grid>\n");
            fig_heatmap(P, h, q, k, 0);
            fig_heatmap(P, h, q, k, 1);
            ib_strbuf_append(h, "</div>\n");
        }
        if (q->theory) disagreement(h, md, q);
        else ib_strbuf_append(h, "<p>No theory comparison: mean-field theory is computed for the fc and conv "
                                 "families (equal hidden layers) with finite sigma_w2 and q1.</p>\n");
    }
    forecast_section(P, h, md, p, pn, npn, opts, n_opts, !single_depth);
    validation_section(h, md, p);
    ib_strbuf_appendf(h, "<p class=caption>%d figures%s.</p>\n</body></html>\n", P->n_plots,
                      P->n_failed ? ", some failed (see the notes above)" : "");
}

int ib_probe_report_write(const char *probe_dir, const char *out_dir, const ib_report_options *opt, ib_err *err) {
    ib_report_options dflt;
    if (!opt) {
        ib_report_options_default(&dflt);
        opt = &dflt;
    }
    double t0 = ib_now();
    ib_probe_data p;
    int rc = ib_probe_read(probe_dir, &p, err); /* everything read and checked before out_dir is touched */
    if (rc) return rc;
    derived *d = ib_xcalloc((size_t)p.n, sizeof *d);
    derive(&p, d);
    int npn;
    panel *pn = panels_make(&p, d, &npn);
    ib_strbuf csv = {0}, html = {0}, md = {0};
    phase_csv(&csv, &p, d);
    if (!(rc = ib_outdir_claim(out_dir, "report", err)) && !(rc = ib_write_strbuf(out_dir, "phase.csv", &csv, err))) {
        ib_plotter P;
        if (!(rc = ib_plotter_open(&P, opt->gnuplot, opt->format, out_dir, err))) {
            page_build(&P, &p, pn, npn, opt->command, &html, &md);
            if (!(rc = ib_write_strbuf(out_dir, "index.html", &html, err))) rc = ib_write_strbuf(out_dir, "summary.md", &md, err);
            if (!rc && !opt->quiet)
                fprintf(stderr, "report: wrote %s/index.html, summary.md and phase.csv (%d configurations, %d figures%s) "
                        "in %.2f s\n", out_dir, p.n, P.n_plots, P.available ? "" : ", no plots: gnuplot missing",
                        ib_now() - t0);
            ib_plotter_close(&P);
        }
    }
    ib_strbuf_free(&csv);
    ib_strbuf_free(&html);
    ib_strbuf_free(&md);
    for (int k = 0; k < npn; k++) panel_free(&pn[k]);
    free(pn);
    free(d);
    ib_probe_free(&p);
    return rc;
}
