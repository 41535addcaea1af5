/* The probe report's figures (probe_figures.h). */
#include "probe_figures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "theory.h"

/* ---- theory lines over a panel ------------------------------------------------------------------- */

/* The x at which chi_1 = 1 over the panel's columns, interpolated in log-log; NAN when the grid
 * does not cross it. With bias 0 everywhere, the exact critical sigma_w2 mapped through the
 * columns' sigma_w2; else the columns' own chi_1 with their constant bias. */
static double critical_x(const ib_probe_panel *pn, int *with_bias) {
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
static void contour_blocks(ib_strbuf *dat, const ib_probe_panel *pn, int m, int plot[4]) {
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
static void cell_block(ib_strbuf *dat, const ib_probe_panel *pn, const double *val, double clip, int *drawn) {
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

static void axis_setup(ib_strbuf *body, const ib_probe_panel *pn) {
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
                      "set key below horizontal\n", ib_probe_x_names[pn->xkind], xa, xb, ya, yb);
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
void ib_probe_fig_heatmap(ib_plotter *P, ib_strbuf *html, const ib_probe_panel *pn, int k, int m) {
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
                ib_probe_x_plain[pn->xkind], m ? "activations shrink with depth" : "gradients vanish towards the input",
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
void ib_probe_fig_forecast_map(ib_plotter *P, ib_strbuf *html, const ib_probe_data *p, const ib_probe_panel *pn, int k,
                               const char *opt, int oi) {
    double *cls = ib_xcalloc((size_t)(pn->nx * pn->nd), sizeof *cls);
    for (int c = 0; c < pn->nx * pn->nd; c++) cls[c] = NAN;
    for (int j = 0; j < pn->n_rows; j++) {
        const ib_probe_row *r = &p->rows[pn->rows[j]];
        if (strcmp(r->optimizer, opt) || r->forecast == IB_CLASS_NONE) continue;
        int xi = ib_probe_find_double(pn->xs, pn->nx, ib_probe_x_of(pn, r)), di = ib_probe_find_int(pn->depths, pn->nd, r->depth);
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

void ib_probe_fig_lines(ib_plotter *P, ib_strbuf *html, const ib_probe_data *p, const ib_probe_panel *pn, int k,
                        char opts[][32], int n_opts) {
    char name[64], cap[600];
    const char *xl = ib_probe_x_names[pn->xkind];
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
                    if (ib_probe_x_of(pn, r) == pn->xs[xi]) vals[m++] = s == 2 ? r->log10_wgrad_ratio : r->log10_act_ratio;
                }
                v = ib_probe_median(vals, m);
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
                    "optimizers).", ib_mf_act_name(pn->first->act), pn->first->init, pn->depths[0], ib_probe_x_plain[pn->xkind]);
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
                "first's, against %s.", ib_probe_x_plain[pn->xkind]);
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
                if (ib_probe_x_of(pn, r) != pn->xs[xi] || strcmp(r->optimizer, opts[o])) continue;
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
