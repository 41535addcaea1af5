/* The probe report (probe_report.h): read the probe, derive theory's prediction per configuration
 * and the panels (probe_panel.h), then write phase.csv, index.html with its figures
 * (probe_figures.h) and sections (probe_sections.h), and summary.md. */
#include "probe_report.h"
#include "page.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gnuplot.h"
#include "probe_data.h"
#include "probe_figures.h"
#include "probe_panel.h"
#include "probe_sections.h"
#include "strbuf.h"
#include "text.h"
#include "theory.h"

/* ---- phase.csv ----------------------------------------------------------------------------------------- */

static void csv_num(ib_strbuf *b, double v) {
    ib_strbuf_append(b, ",");
    if (!isnan(v)) ib_strbuf_appendf(b, "%.9g", v);
}

static void phase_csv(ib_strbuf *b, const ib_probe_data *p, const ib_probe_derived *d) {
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

static void page_build(ib_plotter *P, const ib_probe_data *p, const ib_probe_panel *pn, int npn, const char *command,
                       ib_strbuf *h, ib_strbuf *md) {
    int single_depth = 1;
    for (int k = 0; k < npn; k++) single_depth &= pn[k].nd == 1;
    char opts[16][32];
    int n_opts = ib_probe_optimizers_of(p, opts, 16);
    page_head(h, md, p, command, single_depth);
    ib_strbuf_append(md, "## Measurement against theory\n\n");
    for (int k = 0; k < npn; k++) {
        const ib_probe_panel *q = &pn[k];
        ib_strbuf_append(h, "<h2>");
        ib_html_escape(h, ib_mf_act_name(q->first->act));
        ib_strbuf_append(h, ", init ");
        ib_html_escape(h, q->first->init);
        ib_strbuf_append(h, "</h2>\n<p>Net <code>");
        ib_html_escape(h, q->first->net);
        ib_strbuf_appendf(h, "</code>, width %d; %d configurations over %d values of %s and %d depths.</p>\n",
                          q->first->width, q->n_rows, q->nx, ib_probe_x_plain[q->xkind], q->nd);
        if (!q->nx) {
            ib_strbuf_append(h, "<p class=note>No configuration of this panel has a positive x value: nothing to "
                                "plot.</p>\n");
            continue;
        }
        if (single_depth) {
            ib_probe_fig_lines(P, h, p, q, k, opts, n_opts);
        } else {
            ib_strbuf_append(h, "<div class=grid>\n");
            ib_probe_fig_heatmap(P, h, q, k, 0);
            ib_probe_fig_heatmap(P, h, q, k, 1);
            ib_strbuf_append(h, "</div>\n");
        }
        if (q->theory) ib_probe_disagreement(h, md, q);
        else ib_strbuf_append(h, "<p>No theory comparison: mean-field theory is computed for the fc and conv "
                                 "families (equal hidden layers) with finite sigma_w2 and q1.</p>\n");
    }
    ib_probe_forecast_section(P, h, md, p, pn, npn, opts, n_opts, !single_depth);
    ib_probe_validation_section(h, md, p);
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
    ib_probe_derived *d = ib_xcalloc((size_t)p.n, sizeof *d);
    ib_probe_derive(&p, d);
    int npn;
    ib_probe_panel *pn = ib_probe_panels_make(&p, d, &npn);
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
    for (int k = 0; k < npn; k++) ib_probe_panel_free(&pn[k]);
    free(pn);
    free(d);
    ib_probe_free(&p);
    return rc;
}
