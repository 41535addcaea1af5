#include "figures.h"

#include <math.h>
#include <string.h>

#include "sweep_facts.h"
#include "text.h"
#include "verdict.h"

/* ---- helpers for gnuplot bodies ---- */

static void wlabel(char *buf, size_t n, double w) { ib_snprintf(buf, n, "w = %g", w); }

/* "plot " before the first series of a plot command, ", " before the others */
static const char *series_sep(int blocks) { return blocks ? ", " : "plot "; }

/* " title 'TEXT'": every title and tic label of a figure goes through ib_gp_text (gnuplot.h),
 * the one sanitiser of text for gnuplot; nothing else of a file or flag reaches a script. */
static void gp_title(ib_strbuf *b, const char *text) {
    ib_strbuf_append(b, " title '");
    ib_gp_text(b, text);
    ib_strbuf_append(b, "'");
}

static void layer_tics(ib_strbuf *b, const ib_sweep_agg *s, const char *axis) {
    ib_strbuf_appendf(b, "set %stics (", axis);
    for (int l = 0; l < s->n_layers; l++) {
        ib_strbuf_append(b, l ? ", '" : "'");
        ib_gp_text(b, s->layer[l]);
        ib_strbuf_appendf(b, "' %d", l);
    }
    ib_strbuf_append(b, ")\n");
}

/* One data block of (stddev, step-0 value of `field` in layer l) over the groups where it is
 * positive; *anchor, when given, gets the value at stddev w_anchor. Returns the point count. */
static int step0_vs_stddev(ib_strbuf *d, const ib_sweep_agg *s, int l, int field, double w_anchor, double *anchor) {
    int points = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (ib_step0_index(g) != 0) continue;
        double v = ib_group_stat(s, g, 0, l, field);
        if (!(v > 0)) continue;
        if (anchor && isnan(*anchor) && g->stddev == w_anchor) *anchor = v;
        ib_strbuf_appendf(d, "%.9g %.9g\n", g->stddev, v);
        points++;
    }
    return points;
}

/* End the data block just written and plot it as a line with points. */
static void add_series(ib_strbuf *d, ib_strbuf *pl, int *blocks, int colour, const char *title) {
    ib_strbuf_append(d, "\n\n");
    ib_strbuf_appendf(pl, "%sDAT index %d using 1:2 with linespoints lt %d", series_sep(*blocks), *blocks,
                      colour % IB_NCOLOURS + 1);
    gp_title(pl, title);
    (*blocks)++;
}

/* ---- learning curves ---- */

/* The original figure (y from 0.9) and the full range with a +/- std band, over one data file of
 * mean curves, one block per stddev that has any. */
static void fig_mean_curves(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si) {
    ib_strbuf d = {0}, body = {0}, plot_o = {0}, plot_f = {0};
    char name[64], lab[64];
    int blocks = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        int any = 0;
        for (int q = 0; q < g->n_points; q++)
            if (!isnan(g->mean[q])) {
                ib_strbuf_appendf(&d, "%lld %.9g %.9g\n", g->step[q], g->mean[q], g->std[q]);
                any = 1;
            }
        if (!any) continue;
        ib_strbuf_append(&d, "\n\n");
        wlabel(lab, sizeof lab, g->stddev);
        ib_strbuf_appendf(&plot_o, "%sDAT index %d using 1:2 with lines lt %d", series_sep(blocks), blocks,
                          gi % IB_NCOLOURS + 1);
        gp_title(&plot_o, lab);
        ib_strbuf_appendf(&plot_f, "%sDAT index %d using 1:($2-$3):($2+$3) with filledcurves lt %d fs transparent solid "
                          "0.18 noborder notitle, DAT index %d using 1:2 with lines lt %d",
                          series_sep(blocks), blocks, gi % IB_NCOLOURS + 1, blocks, gi % IB_NCOLOURS + 1);
        gp_title(&plot_f, lab);
        blocks++;
    }
    if (blocks) {
        ib_snprintf(name, sizeof name, "s%d_original", si);
        ib_strbuf_appendf(&body, "set xlabel 'step'\nset ylabel 'mean test accuracy'\nset yrange [0.9:1]\n"
                          "set key bottom right\n%s\n", plot_o.p);
        double best = -1;
        for (int gi = 0; gi < s->n_groups; gi++)
            for (int q = 0; q < s->groups[gi].n_points; q++)
                if (s->groups[gi].mean[q] > best) best = s->groups[gi].mean[q];
        char cap[400];
        ib_snprintf(cap, sizeof cap,
                  "The original figure: mean test accuracy over repeats per stddev, y from 0.9 to 1 (a curve below 0.9 "
                  "does not show here; see the full-range figure).%s",
                  best < 0.9 ? " No mean curve of this sweep reaches 0.9, so this figure is empty." : "");
        ib_figure(P, html, name, cap, 760, 420, &d, body.p);
        ib_strbuf_clear(&body);
        ib_snprintf(name, sizeof name, "s%d_curves_full", si);
        ib_strbuf_appendf(&body, "set xlabel 'step'\nset ylabel 'test accuracy'\nset yrange [0:1]\n"
                          "set key bottom right\n%s\n", plot_f.p);
        ib_figure(P, html, name, "Full range: mean test accuracy with a band of +/- one std over repeats.", 760, 420,
                  &d, body.p);
    } else {
        ib_strbuf_append(html, "<p class=note>No run of this sweep has a curve.csv yet: no learning curves.</p>\n");
    }
    ib_strbuf_free(&d);
    ib_strbuf_free(&body);
    ib_strbuf_free(&plot_o);
    ib_strbuf_free(&plot_f);
}

/* Every run's curve, coloured by stddev, one legend entry per stddev. */
static void fig_per_repeat(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si) {
    ib_strbuf d = {0}, body = {0}, pl = {0};
    char name[64], lab[64];
    int blocks = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        int titled = 0;
        for (int i = 0; i < g->n_runs; i++) {
            const ib_run *r = &s->runs[g->runs[i]];
            int any = 0;
            for (int k = 0; k < r->n_curve; k++)
                if (!isnan(r->acc[k])) {
                    ib_strbuf_appendf(&d, "%lld %.9g\n", r->step[k], r->acc[k]);
                    any = 1;
                }
            if (!any) continue;
            ib_strbuf_append(&d, "\n\n");
            wlabel(lab, sizeof lab, g->stddev);
            ib_strbuf_appendf(&pl, "%sDAT index %d using 1:2 with lines lt %d lw 1.2", series_sep(blocks), blocks,
                              gi % IB_NCOLOURS + 1);
            if (titled) ib_strbuf_append(&pl, " notitle");
            else gp_title(&pl, lab);
            titled = 1;
            blocks++;
        }
    }
    if (blocks) {
        ib_snprintf(name, sizeof name, "s%d_per_repeat", si);
        ib_strbuf_appendf(&body, "set xlabel 'step'\nset ylabel 'test accuracy'\nset yrange [0:1]\nset key bottom right\n%s\n",
                          pl.p);
        ib_figure(P, html, name,
                  "Every run's test accuracy (one line per repeat, coloured by stddev): a seed that stays at chance "
                  "shows as a flat line near 0.1, and is counted as stuck in the table above.", 760, 420, &d, body.p);
    }
    ib_strbuf_free(&d);
    ib_strbuf_free(&body);
    ib_strbuf_free(&pl);
}

static void fig_final(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si) {
    ib_strbuf d = {0}, body = {0};
    char name[64];
    int points = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (g->n_final == 0) continue;
        ib_strbuf_appendf(&d, "%.9g %.9g %.9g %.9g %.9g\n", g->stddev, g->final_mean, g->final_std, g->final_min,
                          g->final_max);
        points++;
    }
    if (points) {
        ib_snprintf(name, sizeof name, "s%d_final", si);
        ib_strbuf_appendf(&body, "set logscale x\nset format x '10^{%%L}'\nset xlabel 'weight init stddev w'\n"
                          "set ylabel 'final test accuracy'\nset yrange [0:1.02]\nset offsets graph 0.05, graph 0.05, 0, 0\n"
                          "set key bottom left\n"
                          "plot DAT using 1:2:3 with yerrorlines lt 1 title 'mean +/- std (complete runs)', "
                          "DAT using 1:4 with points lt 4 pt 6 ps 1.2 title 'min over repeats'\n");
        ib_figure(P, html, name,
                  "Final test accuracy per stddev over the complete runs: mean with +/- one std, and the minimum.",
                  760, 380, &d, body.p);
    }
    ib_strbuf_free(&d);
    ib_strbuf_free(&body);
}

void ib_fig_learning(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si) {
    fig_mean_curves(P, html, s, si);
    fig_per_repeat(P, html, s, si);
    fig_final(P, html, s, si);
}

/* ---- gradient flow ---- */

/* The prediction's dashed line for layer l: anchor * (w / w0)^p over [w0, wmax], as one block. */
static void prediction_series(ib_strbuf *d, ib_strbuf *pl, int *blocks, const ib_sweep_agg *s, int l, double p,
                              double w0, double wmax, double anchor) {
    for (int k = 0; k <= 20; k++) {
        double w = w0 * pow(wmax / w0, k / 20.0);
        ib_strbuf_appendf(d, "%.9g %.9g\n", w, anchor * pow(w / w0, p));
    }
    ib_strbuf_append(d, "\n\n");
    ib_strbuf_appendf(pl, ", DAT index %d using 1:2 with lines lt %d dt 2 lw 1.5 title '", *blocks, l % IB_NCOLOURS + 1);
    ib_gp_text(pl, s->layer[l]);
    ib_strbuf_appendf(pl, " theory ~w^{%g}'", p);
    (*blocks)++;
}

/* Step-0 weight-gradient L2 per layer against the stddev, with the small-w prediction anchored at
 * the smallest w and drawn up to the largest w <= 0.1 (or 100 times the smallest, when that is the
 * smallest itself). */
static void fig_grad_step0(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si) {
    const int L = s->n_layers, bias_w = ib_sweep_bias_is_w(s);
    ib_strbuf d = {0}, body = {0}, pl = {0};
    char name[64];
    int blocks = 0;
    double w0 = NAN, wmax_pred = 0;
    for (int gi = 0; gi < s->n_groups; gi++)
        if (ib_step0_index(&s->groups[gi]) == 0) {
            if (isnan(w0)) w0 = s->groups[gi].stddev;
            if (s->groups[gi].stddev <= 0.1) wmax_pred = s->groups[gi].stddev;
        }
    if (!isnan(w0) && wmax_pred <= w0) wmax_pred = w0 * 100;
    for (int l = 0; l < L; l++) {
        double anchor = NAN;
        if (!step0_vs_stddev(&d, s, l, IB_F_WG_L2, w0, &anchor)) continue;
        add_series(&d, &pl, &blocks, l, s->layer[l]);
        if (!isnan(anchor))
            prediction_series(&d, &pl, &blocks, s, l, ib_predicted_grad_exponent(l, L, bias_w), w0, wmax_pred, anchor);
    }
    if (blocks) {
        ib_snprintf(name, sizeof name, "s%d_grad_step0", si);
        ib_strbuf_appendf(&body, "set logscale xy\nset format x '10^{%%L}'\nset format y '10^{%%L}'\n"
                          "set xlabel 'weight init stddev w'\nset ylabel 'step-0 weight-gradient L2'\n"
                          "set key outside right\n%s\n", pl.p);
        char cap[512];
        ib_snprintf(cap, sizeof cap,
                 "Step-0 weight-gradient norm per layer against the stddev (mean over repeats), with the small-w "
                 "prediction of signal propagation drawn dashed, anchored at the smallest w (%s): layer l of L gets "
                 "one weight factor per layer above it, times its input (the image for the first layer, a %s activation above).",
                 bias_w ? "bias = w" : "bias != w", bias_w ? "bias-dominated ~w" : "~w^l");
        ib_figure(P, html, name, cap, 820, 440, &d, body.p);
    }
    ib_strbuf_free(&d);
    ib_strbuf_free(&body);
    ib_strbuf_free(&pl);
}

/* The range of log10 weight-gradient L2 over every group, step and layer: lo > hi when no value
 * is positive and finite. */
static void grad_log_range(const ib_sweep_agg *s, double *lo, double *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        for (int k = 0; k < g->n_sstep; k++)
            for (int l = 0; l < s->n_layers; l++) {
                double v = ib_group_stat(s, g, k, l, IB_F_WG_L2);
                if (v > 0 && isfinite(v)) {
                    *lo = fmin(*lo, log10(v));
                    *hi = fmax(*hi, log10(v));
                }
            }
    }
}

/* One heatmap panel: layer (rows) x recorded step (columns) of group gi, colour range [lo, hi]
 * (values that are not positive and finite drawn at lo). */
static void fig_heatmap_panel(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si, int gi, double lo,
                              double hi) {
    const ib_group *g = &s->groups[gi];
    const int L = s->n_layers;
    ib_strbuf d = {0}, body = {0};
    char name[64], lab[64];
    for (int k = 0; k < g->n_sstep; k++) {
        for (int l = 0; l < L; l++) {
            double v = ib_group_stat(s, g, k, l, IB_F_WG_L2);
            ib_strbuf_appendf(&d, "%d %d %.6g\n", k, l, v > 0 && isfinite(v) ? log10(v) : lo);
        }
        ib_strbuf_append(&d, "\n");
    }
    ib_snprintf(name, sizeof name, "s%d_heat%d", si, gi);
    wlabel(lab, sizeof lab, g->stddev);
    ib_strbuf_append(&body, "set title '");
    ib_gp_text(&body, lab);
    ib_strbuf_appendf(&body, "'\nset xlabel 'step'\nset cbrange [%.4g:%.4g]\n"
                      "set cblabel 'log_{10} weight-grad L2'\nset palette rgbformulae 33,13,10\n"
                      "set xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\n",
                      lo, hi, g->n_sstep - 1, L - 1);
    layer_tics(&body, s, "y");
    ib_strbuf_append(&body, "set xtics (");
    int ntics = g->n_sstep < 5 ? g->n_sstep : 5; /* up to 5 step labels, evenly spread */
    for (int t = 0; t < ntics; t++) {
        int k = ntics > 1 ? (int)((long long)t * (g->n_sstep - 1) / (ntics - 1)) : 0;
        ib_strbuf_appendf(&body, "%s'%lld' %d", t ? ", " : "", g->sstep[k], k);
    }
    ib_strbuf_append(&body, ")\nset grid noxtics noytics\nplot DAT using 1:2:3 with image pixels notitle\n");
    ib_figure(P, html, name, "", 420, 260, &d, body.p);
    ib_strbuf_free(&d);
    ib_strbuf_free(&body);
}

/* Heatmaps of log10 weight-gradient L2, one per stddev, on one shared colour scale. */
static void fig_grad_heatmaps(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si) {
    double lo, hi;
    grad_log_range(s, &lo, &hi);
    if (lo > hi) return;
    if (hi - lo < 1e-6) hi = lo + 1;
    ib_strbuf_append(html, "<div class=grid>\n");
    for (int gi = 0; gi < s->n_groups; gi++)
        if (s->groups[gi].n_sstep > 0) fig_heatmap_panel(P, html, s, si, gi, lo, hi);
    ib_strbuf_append(html, "</div>\n<p class=caption>Per stddev: log10 of the weight-gradient L2 per layer (rows) over "
                           "the recorded steps (columns), mean over repeats; one colour scale for all panels.</p>\n");
}

/* Activation std per layer at step 0, one line per stddev. */
static void fig_act_std(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si) {
    const int L = s->n_layers;
    ib_strbuf d = {0}, body = {0}, pl = {0};
    char name[64], lab[64];
    int blocks = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (ib_step0_index(g) != 0) continue;
        int any = 0;
        for (int l = 0; l < L; l++) {
            double v = ib_group_stat(s, g, 0, l, IB_F_ACT_STD);
            if (v > 0) {
                ib_strbuf_appendf(&d, "%d %.9g\n", l, v);
                any = 1;
            }
        }
        if (!any) continue;
        wlabel(lab, sizeof lab, g->stddev);
        add_series(&d, &pl, &blocks, gi, lab);
    }
    if (blocks) {
        ib_snprintf(name, sizeof name, "s%d_act_std", si);
        ib_strbuf_appendf(&body, "set logscale y\nset format y '10^{%%L}'\n"
                          "set xlabel 'layer (its output after the nonlinearity)'\n"
                          "set ylabel 'activation std, step 0'\nset key outside right\nset xrange [-0.2:%d.2]\n",
                          L - 1);
        layer_tics(&body, s, "x");
        ib_strbuf_appendf(&body, "%s\n", pl.p);
        ib_figure(P, html, name, "Activation std per layer at step 0 (mean over repeats), one line per stddev.", 760,
                  400, &d, body.p);
    }
    ib_strbuf_free(&d);
    ib_strbuf_free(&body);
    ib_strbuf_free(&pl);
}

/* Update-to-weight ratio per layer at the first step against the stddev, with lr / (0.8796 w)
 * for adaptive optimizers (a normalised step on weights of realised std 0.8796 w). */
static void fig_update_ratio(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si) {
    ib_strbuf d = {0}, body = {0}, pl = {0};
    char name[64];
    int blocks = 0;
    for (int l = 0; l < s->n_layers; l++) {
        if (!step0_vs_stddev(&d, s, l, IB_F_UPD_RATIO, NAN, NULL)) continue;
        add_series(&d, &pl, &blocks, l, s->layer[l]);
    }
    if (blocks && ib_optimizer_is_adaptive(s->optimizer) && s->lr > 0) {
        for (int gi = 0; gi < s->n_groups; gi++)
            ib_strbuf_appendf(&d, "%.9g %.9g\n", s->groups[gi].stddev, s->lr / (0.8796 * s->groups[gi].stddev));
        ib_strbuf_append(&d, "\n\n");
        ib_strbuf_appendf(&pl, ", DAT index %d using 1:2 with lines lc rgb '#000000' dt 2 lw 1.5 title 'lr / (0.88 w)'",
                          blocks);
    }
    if (blocks) {
        ib_snprintf(name, sizeof name, "s%d_update_ratio", si);
        ib_strbuf_appendf(&body, "set logscale xy\nset format x '10^{%%L}'\nset format y '10^{%%L}'\n"
                          "set xlabel 'weight init stddev w'\nset ylabel '||update|| / ||weight||, first step'\n"
                          "set key outside right\n%s\n", pl.p);
        ib_figure(P, html, name,
                  "Update-to-weight ratio per layer at the first step (mean over repeats). Dashed: lr / (0.88 w), what a "
                  "fully normalised Adam step (RMS lr per coordinate) gives on weights of realised std 0.88 w.",
                  820, 420, &d, body.p);
    }
    ib_strbuf_free(&d);
    ib_strbuf_free(&body);
    ib_strbuf_free(&pl);
}

/* The panel of layer l: one line per stddev that recorded frac_sqrt_v_below_eps, its data blocks
 * numbered on from *block. Returns whether the panel has any line. */
static int below_eps_panel(ib_strbuf *d, ib_strbuf *body, const ib_sweep_agg *s, int l, int *block) {
    ib_strbuf pl = {0};
    char lab[64];
    int lines = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        int any = 0;
        for (int k = 0; k < g->n_sstep; k++) {
            double v = ib_group_stat(s, g, k, l, IB_F_BELOW_EPS);
            if (!isnan(v)) {
                ib_strbuf_appendf(d, "%lld %.9g\n", g->sstep[k], v);
                any = 1;
            }
        }
        if (!any) continue;
        ib_strbuf_append(d, "\n\n");
        wlabel(lab, sizeof lab, g->stddev);
        ib_strbuf_appendf(&pl, "%sDAT index %d using 1:2 with lines lt %d", series_sep(lines), (*block)++,
                          gi % IB_NCOLOURS + 1);
        gp_title(&pl, lab);
        lines++;
    }
    if (lines) {
        ib_strbuf_append(body, "set title '");
        ib_gp_text(body, s->layer[l]);
        ib_strbuf_appendf(body, "'\n%s\n", pl.p);
    }
    ib_strbuf_free(&pl);
    return lines > 0;
}

/* The fraction of each layer's weights whose sqrt(v) is below epsilon over time: one multiplot,
 * a panel per layer, two panels a row. */
static void fig_below_eps(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si) {
    const int L = s->n_layers;
    if (!ib_optimizer_is_adaptive(s->optimizer)) {
        ib_strbuf_append(html, "<p class=note>Optimizer ");
        ib_html_escape(html, s->optimizer);
        ib_strbuf_append(html, " keeps no second moment: no sqrt(v) &lt; eps figure.</p>\n");
        return;
    }
    ib_strbuf d = {0}, body = {0};
    char name[64];
    int any_panel = 0, block = 0, rows = (L + 1) / 2;
    ib_strbuf_appendf(&body, "set multiplot layout %d,%d\nset yrange [-0.02:1.02]\nset xlabel 'step'\n"
                      "set ylabel 'frac sqrt(v) < eps'\nset key top right\n",
                      rows, L > 1 ? 2 : 1);
    for (int l = 0; l < L; l++)
        if (below_eps_panel(&d, &body, s, l, &block)) any_panel = 1;
    ib_strbuf_append(&body, "unset multiplot\n");
    if (any_panel) {
        ib_snprintf(name, sizeof name, "s%d_below_eps", si);
        ib_figure(P, html, name,
                  "Fraction of each layer's weights whose Adam sqrt(v) is below epsilon, over time (mean over repeats): "
                  "there the step is about lr * m / eps, no longer normalised.", 900, 300 * rows, &d, body.p);
    }
    ib_strbuf_free(&d);
    ib_strbuf_free(&body);
}

void ib_fig_flow(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *s, int si) {
    if (s->n_layers == 0) {
        ib_strbuf_append(html, "<p class=note>No run of this sweep has a stats.csv: no gradient-flow figures.</p>\n");
        return;
    }
    fig_grad_step0(P, html, s, si);
    fig_grad_heatmaps(P, html, s, si);
    fig_act_std(P, html, s, si);
    fig_update_ratio(P, html, s, si);
    fig_below_eps(P, html, s, si);
}

/* ---- several sweeps ---- */

static void fig_cmp_final(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *S, int n) {
    ib_strbuf d = {0}, body = {0}, pl = {0};
    int blocks = 0;
    for (int si = 0; si < n; si++) {
        const ib_sweep_agg *s = &S[si];
        int any = 0;
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            if (g->n_final) {
                ib_strbuf_appendf(&d, "%.9g %.9g %.9g\n", g->stddev, g->final_mean, g->final_std);
                any = 1;
            }
        }
        if (!any) continue;
        ib_strbuf_append(&d, "\n\n");
        ib_strbuf_appendf(&pl, "%sDAT index %d using 1:2:3 with yerrorlines lt %d", series_sep(blocks), blocks,
                          si % IB_NCOLOURS + 1);
        gp_title(&pl, s->label); /* the label already starts with the sweep's number */
        blocks++;
    }
    if (blocks) {
        ib_strbuf_appendf(&body, "set logscale x\nset format x '10^{%%L}'\nset xlabel 'weight init stddev w'\n"
                          "set ylabel 'final test accuracy'\nset yrange [0:1.02]\nset key bottom left\n"
                          "set offsets graph 0.05, graph 0.05, 0, 0\n%s\n", pl.p);
        ib_figure(P, html, "cmp_final",
                  "Final test accuracy per stddev, one line per sweep (mean +/- std over complete runs).", 820, 420, &d,
                  body.p);
    }
    ib_strbuf_free(&d);
    ib_strbuf_free(&body);
    ib_strbuf_free(&pl);
}

static void fig_cmp_grad_ratio(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *S, int n) {
    ib_strbuf d = {0}, body = {0}, pl = {0};
    int blocks = 0;
    for (int si = 0; si < n; si++) {
        const ib_sweep_agg *s = &S[si];
        int any = 0;
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            ib_verdict v = ib_verdict_of(s, g);
            if (v.grad_ratio > 0 && isfinite(v.grad_ratio)) {
                ib_strbuf_appendf(&d, "%.9g %.9g\n", g->stddev, v.grad_ratio);
                any = 1;
            }
        }
        if (!any) continue;
        ib_strbuf_append(&d, "\n\n");
        ib_strbuf_appendf(&pl, "%sDAT index %d using 1:2 with linespoints lt %d", series_sep(blocks), blocks,
                          si % IB_NCOLOURS + 1);
        gp_title(&pl, s->label);
        blocks++;
    }
    if (blocks) {
        ib_strbuf_appendf(&body, "set logscale xy\nset format x '10^{%%L}'\nset format y '10^{%%L}'\n"
                          "set xlabel 'weight init stddev w'\nset ylabel 'first / last layer weight-grad L2, step 0'\n"
                          "set key top left\n%s\n", pl.p);
        ib_figure(P, html, "cmp_grad_ratio",
                  "How far gradients vanish or explode across the layers at step 0, per sweep (sweeps of one net with "
                  "the same seeds start from the same parameters: their lines coincide).", 820, 420, &d, body.p);
    }
    ib_strbuf_free(&d);
    ib_strbuf_free(&body);
    ib_strbuf_free(&pl);
}

void ib_fig_comparison(ib_plotter *P, ib_strbuf *html, const ib_sweep_agg *S, int n) {
    fig_cmp_final(P, html, S, n);
    fig_cmp_grad_ratio(P, html, S, n);
}
