#include "page.h"

#include <time.h>

#include "answer.h"
#include "comparison.h"
#include "figures.h"
#include "sweep_facts.h"
#include "text.h"
#include "verdict.h"

static const char *CSS = IB_PAGE_CSS_BASE ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:.5em}"
    ".ev{color:#555;font-size:.88em}.v-vanishing{color:#a60}.v-exploding{color:#c00}.v-healthy{color:#080}"
    "li{margin-bottom:.6em}";

/* The title, when and how the report was made, the question, and the list of sweeps. */
static void page_head(ib_strbuf *h, ib_strbuf *md, const ib_sweep_agg *S, int n, const char *command,
                      double aggregate_seconds) {
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    ib_strbuf_appendf(h, "<!DOCTYPE html>\n<html lang=en><head><meta charset='utf-8'><title>initbench report</title>"
                      "<style>%s</style></head><body>\n<h1>initbench report: weight init stddev, training and gradient "
                      "flow</h1>\n", CSS);
    ib_strbuf_appendf(h, "<p>Generated %s", when);
    if (command) {
        ib_strbuf_append(h, " by <code>");
        ib_html_escape(h, command);
        ib_strbuf_append(h, "</code>");
    }
    ib_strbuf_appendf(h, ". Tables: <code>runs.csv</code>, <code>final_accuracy.csv</code>, "
                      "<code>steps_to_threshold.csv</code>, <code>curves_mean.csv</code>, <code>gradient_flow.csv</code>, "
                      "<code>verdicts.csv</code>; summary: <code>summary.md</code>. Reading and aggregating took %.2f s."
                      "</p>\n<ul>\n", aggregate_seconds);
    ib_strbuf_appendf(md, "# initbench report\n\nGenerated %s", when);
    if (command) {
        ib_strbuf_append(md, " by ");
        ib_md_code(md, command);
    }
    ib_strbuf_append(md, ". Question: why does this network train at every init stddev, although signal propagation "
                         "predicts vanishing or exploding gradients?\n\n");
    for (int si = 0; si < n; si++) {
        const ib_sweep_agg *s = &S[si];
        ib_strbuf_appendf(h, "<li><a href='#sweep%d'>", si + 1);
        ib_html_escape(h, s->label);
        ib_strbuf_append(h, "</a>: <code>");
        ib_html_escape(h, s->dir);
        ib_strbuf_appendf(h, "</code>, %d runs</li>\n", s->n_runs);
    }
    if (n > 1) ib_strbuf_append(h, "<li><a href='#comparison'>Comparison of the sweeps</a></li>\n");
    ib_strbuf_append(h, "</ul>\n");
}

/* The sweep's heading and settings. */
static void sweep_intro(ib_strbuf *h, ib_strbuf *md, const ib_sweep_agg *s, int si) {
    ib_strbuf_appendf(h, "<h2 id='sweep%d'>", si + 1);
    ib_html_escape(h, s->label);
    ib_strbuf_append(h, "</h2>\n<p>Sweep <code>");
    ib_html_escape(h, s->dir);
    ib_strbuf_append(h, "</code>: preset ");
    ib_html_escape(h, s->preset);
    ib_strbuf_append(h, "; optimizer ");
    ib_html_escape(h, s->optimizer);
    ib_strbuf_appendf(h, " (lr %g, eps %g); init ", s->lr, s->eps);
    ib_html_escape(h, s->init_scheme);
    ib_strbuf_appendf(h, " with bias %s; net <code>", ib_sweep_bias_is_w(s) ? "= w" : "!= w");
    ib_html_escape(h, s->net);
    ib_strbuf_appendf(h, "</code>; %lld steps; %d runs over %d stddevs; weight layers:", s->steps, s->n_runs,
                      s->n_groups);
    for (int l = 0; l < s->n_layers; l++) {
        ib_strbuf_append(h, " ");
        ib_html_escape(h, s->layer[l]);
    }
    ib_strbuf_append(h, ".</p>\n");
    ib_strbuf_append(md, "## ");
    ib_md_text(md, s->label);
    ib_strbuf_append(md, "\n\nSweep ");
    ib_md_code(md, s->dir);
    ib_strbuf_append(md, ": optimizer ");
    ib_md_text(md, s->optimizer);
    ib_strbuf_appendf(md, " (lr %g, eps %g), net ", s->lr, s->eps);
    ib_md_code(md, s->net);
    ib_strbuf_appendf(md, ", %lld steps, %d runs.\n\n", s->steps, s->n_runs);
}

/* Per stddev: every task counted in one status column, final accuracy, steps to thresholds. */
static void group_table(ib_strbuf *h, ib_strbuf *md, const ib_sweep_agg *s) {
    ib_strbuf_append(h, "<table><tr><th>stddev</th><th>runs</th><th>complete</th><th>diverged</th><th>failed</th>"
                        "<th>interrupted</th><th>running</th><th>missing</th><th>stuck (&lt; ");
    ib_strbuf_appendf(h, "%g)</th><th>final acc mean</th><th>std</th><th>min</th><th>steps to 0.90</th><th>to 0.97</th>"
                      "<th>to 0.99</th></tr>\n", s->stuck_below);
    ib_strbuf_appendf(md, "| stddev | runs | complete | diverged | failed | interrupted | running | missing | stuck | "
                      "final mean | std | min | to 0.90 | to 0.97 | to 0.99 |\n"
                      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        ib_strbuf_appendf(h, "<tr><td>%g</td><td>%d</td>", g->stddev, g->n_runs);
        ib_strbuf_appendf(md, "| %g | %d |", g->stddev, g->n_runs);
        for (int k = 0; k < IB_REPORT_NSTATES; k++) {
            ib_strbuf_appendf(h, "<td>%d</td>", g->count[ib_report_state_order[k]]);
            ib_strbuf_appendf(md, " %d |", g->count[ib_report_state_order[k]]);
        }
        ib_strbuf_appendf(h, "<td>%d</td><td>%s</td><td>%s</td><td>%s</td>", g->n_stuck, ib_sig3(g->final_mean),
                          ib_sig3(g->final_std), ib_sig3(g->final_min));
        ib_strbuf_appendf(md, " %d | %s | %s | %s |", g->n_stuck, ib_sig3(g->final_mean), ib_sig3(g->final_std),
                          ib_sig3(g->final_min));
        for (int t = 0; t < IB_AGG_NTHR; t++) {
            ib_strbuf_appendf(h, "<td>%s (%d/%d)</td>", ib_sig3(g->reach_mean[t]), g->n_reach[t], g->n_final);
            ib_strbuf_appendf(md, " %s (%d/%d) |", ib_sig3(g->reach_mean[t]), g->n_reach[t], g->n_final);
        }
        ib_strbuf_append(h, "</tr>\n");
        ib_strbuf_append(md, "\n");
    }
    ib_strbuf_append(h, "</table>\n<p class=caption>Final accuracy over complete runs; steps to a threshold: mean over "
                        "the complete runs that reached it (reached / complete). Every task of the manifest is counted "
                        "in exactly one status column.</p>\n");
}

/* The runs that are not complete, or stuck at chance, with the reason. */
static void problem_runs_table(ib_strbuf *h, ib_strbuf *md, const ib_sweep_agg *s) {
    int problems = 0;
    for (int i = 0; i < s->n_runs; i++) {
        const ib_run *r = &s->runs[i];
        if (r->status == IB_RUN_COMPLETE && !r->stuck) continue;
        if (!problems++) {
            ib_strbuf_append(h, "<table><tr><th class=l>run</th><th>stddev</th><th>repeat</th><th class=l>status</th>"
                                "<th>last step</th><th>last accuracy</th><th class=l>reason</th></tr>\n");
            ib_strbuf_append(md, "\nRuns not complete, or stuck at chance:\n\n");
        }
        const char *st = r->stuck ? "complete, stuck at chance" : ib_run_state_names[r->status];
        ib_strbuf_append(h, "<tr><td class=l>");
        ib_html_escape(h, r->rel);
        ib_strbuf_appendf(h, "</td><td>%g</td><td>%d</td><td class=l>", r->stddev, r->repeat);
        ib_html_escape(h, st);
        ib_strbuf_append(h, "</td><td>");
        if (r->final_step >= 0) ib_strbuf_appendf(h, "%lld", r->final_step);
        ib_strbuf_appendf(h, "</td><td>%s</td><td class=l>", ib_sig3(r->final_acc));
        ib_html_escape(h, r->diverged_step >= 0 && !r->reason[0] ? "diverged" : r->reason);
        if (r->diverged_step >= 0) ib_strbuf_appendf(h, " (diverged at step %lld)", r->diverged_step);
        ib_strbuf_append(h, "</td></tr>\n");
        ib_strbuf_append(md, "- ");
        ib_md_text(md, r->rel);
        ib_strbuf_appendf(md, " (w = %g, repeat %d): ", r->stddev, r->repeat);
        ib_md_text(md, st);
        ib_strbuf_appendf(md, ", last accuracy %s%s", ib_sig3(r->final_acc), r->reason[0] ? ": " : "");
        ib_md_text(md, r->reason);
        ib_strbuf_append(md, "\n");
    }
    if (problems) ib_strbuf_append(h, "</table>\n");
    else ib_strbuf_append(h, "<p>Every run is complete and none is stuck at chance.</p>\n");
}

/* The verdict per stddev, with the numbers behind it and the criteria stated. */
static void verdict_table(ib_strbuf *h, ib_strbuf *md, const ib_sweep_agg *s) {
    ib_strbuf_append(h, "<table><tr><th>stddev</th><th class=l>verdict</th><th>first/last grad L2</th>"
                        "<th>factor per layer</th><th>act std last hidden/first</th><th>max |logit|</th>"
                        "<th class=l>criteria met</th></tr>\n");
    ib_strbuf_append(md, "| stddev | verdict | first/last grad L2 | per layer | act std ratio | max abs logit | criteria |\n"
                         "|---|---|---|---|---|---|---|\n");
    for (int gi = 0; gi < s->n_groups; gi++) {
        ib_verdict v = ib_verdict_of(s, &s->groups[gi]);
        const char *kind = ib_verdict_names[v.kind];
        ib_strbuf_appendf(h, "<tr><td>%g</td><td class='l v-%s'><b>%s</b></td><td>%s</td><td>%s</td><td>%s</td>"
                          "<td>%s</td><td class=l>", s->groups[gi].stddev, kind, kind, ib_sig3(v.grad_ratio),
                          ib_sig3(v.per_layer), ib_sig3(v.act_ratio), ib_sig3(v.logit_max));
        ib_html_escape(h, v.why);
        ib_strbuf_append(h, "</td></tr>\n");
        ib_strbuf_appendf(md, "| %g | **%s** | %s | %s | %s | %s | ", s->groups[gi].stddev, kind,
                          ib_sig3(v.grad_ratio), ib_sig3(v.per_layer), ib_sig3(v.act_ratio), ib_sig3(v.logit_max));
        ib_md_text(md, v.why);
        ib_strbuf_append(md, " |\n");
    }
    ib_strbuf_appendf(h, "</table>\n<p class=caption>Criteria, all from step-0 statistics averaged over repeats "
                      "(stats.csv): <b>exploding</b> if any value is non-finite, or the first layer's weight-gradient L2 "
                      "is more than %g times the last layer's, or the std of the last hidden layer's activations is "
                      "more than %g times the first's, or max |logit| &gt; %g; <b>vanishing</b> if that gradient ratio "
                      "is below %g or that activation ratio below %g; <b>healthy</b> otherwise.</p>\n",
                      EXPLODE_GRAD_RATIO, ACT_BLOWUP_RATIO, LOGIT_EXPLODE, VANISH_GRAD_RATIO, ACT_COLLAPSE_RATIO);
}

/* The answer's claims as a numbered list, each with its measurement. */
static void claims_list(ib_strbuf *h, ib_strbuf *md, const ib_claims *C) {
    ib_strbuf_append(h, "<ol class=answer>\n");
    for (int i = 0; i < C->n; i++) {
        ib_strbuf_append(h, "<li>");
        ib_html_escape(h, C->c[i].text);
        ib_strbuf_append(h, "<br><span class=ev>Measured: ");
        ib_html_escape(h, C->c[i].evidence);
        ib_strbuf_append(h, "</span></li>\n");
        ib_strbuf_appendf(md, "%d. ", i + 1);
        ib_md_text(md, C->c[i].text);
        ib_strbuf_append(md, "\n   *Measured:* ");
        ib_md_text(md, C->c[i].evidence);
        ib_strbuf_append(md, "\n");
    }
    ib_strbuf_append(h, "</ol>\n");
}

static void sweep_section(ib_plotter *P, ib_strbuf *h, ib_strbuf *md, const ib_sweep_agg *S, int n, int si) {
    const ib_sweep_agg *s = &S[si];
    sweep_intro(h, md, s, si);
    ib_strbuf_append(h, "<h3>Runs and final accuracy</h3>\n");
    group_table(h, md, s);
    problem_runs_table(h, md, s);
    ib_strbuf_append(h, "<h3>Learning curves</h3>\n");
    ib_fig_learning(P, h, s, si);
    ib_strbuf_append(h, "<h3>Gradient flow</h3>\n");
    ib_fig_flow(P, h, s, si);
    ib_strbuf_append(h, "<h3>Diagnosis per stddev</h3>\n");
    ib_strbuf_append(md, "\n### Diagnosis per stddev\n\n");
    verdict_table(h, md, s);
    ib_strbuf_append(h, "<h3>Why no vanishing? The answer from this sweep's data</h3>\n");
    ib_strbuf_append(md, "\n### Why no vanishing? The answer from this sweep's data\n\n");
    ib_claims C = {0};
    ib_answer(S, n, si, &C);
    claims_list(h, md, &C);
    ib_claims_free(&C);
    ib_strbuf_append(md, "\n");
}

void ib_page_build(ib_plotter *P, const ib_sweep_agg *S, int n, const char *command, double aggregate_seconds,
                   ib_strbuf *html, ib_strbuf *md) {
    page_head(html, md, S, n, command, aggregate_seconds);
    for (int si = 0; si < n; si++) sweep_section(P, html, md, S, n, si);
    if (n > 1) ib_comparison_section(P, html, md, S, n);
    ib_strbuf_appendf(html, "<p class=caption>%d figures%s.</p>\n</body></html>\n", P->n_plots,
                      P->n_failed ? ", some failed (see the notes above)" : "");
}
