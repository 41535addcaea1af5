/* The probe report's text sections (probe_sections.h). */
#include "probe_sections.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "probe_figures.h"
#include "probe_report.h"
#include "text.h"
#include "theory.h"

/* ---- where measurement and theory part ---------------------------------------------------------------- */

typedef struct cellgap {
    int xi, di;
    double worst;
} cellgap;

static int cmp_gap(const void *a, const void *b) {
    double x = ((const cellgap *)a)->worst, y = ((const cellgap *)b)->worst;
    return (x < y) - (x > y); /* largest first */
}

void ib_probe_disagreement(ib_strbuf *h, ib_strbuf *md, const ib_probe_panel *pn) {
    if (!pn->theory) return;
    int cells = 0, part_g = 0, part_a = 0, parts = 0, lost = 0;
    cellgap *cg = ib_xcalloc((size_t)(pn->nx * pn->nd) + 1, sizeof *cg);
    for (int xi = 0; xi < pn->nx; xi++)
        for (int di = 0; di < pn->nd; di++) {
            int c = xi * pn->nd + di;
            double gg = ib_probe_gap(pn->meas_g[c], pn->pred_g[c]), ga = ib_probe_gap(pn->meas_a[c], pn->pred_a[c]);
            lost += ib_probe_beyond_float32(pn->meas_g[c], pn->pred_g[c]) || ib_probe_beyond_float32(pn->meas_a[c], pn->pred_a[c]);
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
                    "and the measurement under- or overflowed, as it must.", lost, IB_PROBE_FLOAT32_DECADES);
    ib_snprintf(s, sizeof s, "Measurement and theory part by more than %g decades in %d of %d cells (%s, init %s): the "
                "gradient ratio in %d, the activation ratio in %d.%s", IB_PROBE_PART_DECADES, parts, cells,
                ib_mf_act_name(pn->first->act), pn->first->init, part_g, part_a, beyond);
    ib_strbuf_append(h, "<p>");
    ib_html_escape(h, s);
    ib_strbuf_append(md, "- ");
    ib_md_text(md, s);
    if (parts) {
        ib_strbuf_append(h, " The worst cells:</p>\n<table><tr><th>");
        ib_html_escape(h, ib_probe_x_plain[pn->xkind]);
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
                                  i ? ";" : " Worst:", ib_probe_x_plain[pn->xkind], ib_sig3(pn->xs[cg[i].xi]), pn->depths[cg[i].di],
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

int ib_probe_optimizers_of(const ib_probe_data *p, char opts[][32], int max) {
    int n = 0;
    for (int i = 0; i < p->n; i++) {
        int k = 0;
        while (k < n && strcmp(opts[k], p->rows[i].optimizer)) k++;
        if (k == n && n < max) ib_snprintf(opts[n++], 32, "%s", p->rows[i].optimizer);
    }
    return n;
}

void ib_probe_forecast_section(ib_plotter *P, ib_strbuf *h, ib_strbuf *md, const ib_probe_data *p,
                               const ib_probe_panel *pn, int npn, char opts[][32], int n_opts, int heatmaps) {
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
            for (int o = 0; o < n_opts; o++) ib_probe_fig_forecast_map(P, h, p, &pn[k], k, opts[o], o);
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

void ib_probe_validation_section(ib_strbuf *h, ib_strbuf *md, const ib_probe_data *p) {
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
