#include "comparison.h"

#include <string.h>

#include "figures.h"
#include "sweep_facts.h"
#include "text.h"
#include "verdict.h"

/* Trained: complete runs whose mean final accuracy is at least 0.5, none stuck at chance. */
static int group_trained(const ib_group *g) { return g->n_final > 0 && g->final_mean >= 0.5 && g->n_stuck == 0; }

/* "w = a, b (2 of 5 stddevs)" for the groups of s that pass `keep` (NULL: all); only stddevs
 * that `other` also has (when given) count, and with only_vanishing only those whose verdict is
 * vanishing. */
static void stddev_list(char *buf, size_t len, const ib_sweep_agg *s, const ib_sweep_agg *other,
                        int (*keep)(const ib_group *), int only_vanishing) {
    buf[0] = 0;
    int k = 0, of = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        int shared = !other;
        for (int q = 0; other && q < other->n_groups; q++) shared |= other->groups[q].stddev == g->stddev;
        if (!shared || (only_vanishing && ib_verdict_of(s, g).kind != IB_V_VANISHING)) continue;
        of++;
        if (keep && !keep(g)) continue;
        ib_snprintf(buf + strlen(buf), len - strlen(buf), "%s%g", k++ ? ", " : "w = ", g->stddev);
    }
    ib_snprintf(buf + strlen(buf), len - strlen(buf), "%s(%d of %d stddev%s)", k ? " " : "none ", k, of,
                of == 1 ? "" : "s");
}

/* Same network, two optimisers: where each trained, over all shared stddevs and over those whose
 * gradients vanish. */
static void same_net_sentence(char *para, size_t len, const ib_sweep_agg *A, const ib_sweep_agg *B) {
    char ta[400], tb[400], va[400], vb[400];
    stddev_list(ta, sizeof ta, A, B, group_trained, 0);
    stddev_list(tb, sizeof tb, B, A, group_trained, 0);
    stddev_list(va, sizeof va, A, B, group_trained, 1);
    stddev_list(vb, sizeof vb, B, A, group_trained, 1);
    ib_snprintf(para + strlen(para), len - strlen(para),
                "Same network (%s) and the same initialisations, two optimisers: %s trained at %s, %s at %s. "
                "Where the step-0 gradients vanish, %s trained at %s and %s at %s: the gradients vanish "
                "for both, so what differs is how each optimiser turns a vanished gradient into a step. ",
                A->net_given, A->optimizer, ta, B->optimizer, tb, A->optimizer, va, B->optimizer, vb);
}

/* Same optimiser, a deeper network B: where each trained, and at the smallest w the gradient
 * ratio and the first update of both. */
static void same_optimizer_sentence(char *para, size_t len, const ib_sweep_agg *A, const ib_sweep_agg *B) {
    char ta[400], tb[400];
    stddev_list(ta, sizeof ta, A, B, group_trained, 0);
    stddev_list(tb, sizeof tb, B, A, group_trained, 0);
    const ib_group *ga = ib_first_step0_group(A, 0), *gb = ib_first_step0_group(B, 0);
    ib_snprintf(para + strlen(para), len - strlen(para),
                "Same optimiser (%s), another network: %s (%d weight layers) trained at %s, %s (%d weight "
                "layers) at %s. ",
                A->optimizer, A->net_given, A->n_layers, ta, B->net_given, B->n_layers, tb);
    if (ga && gb && ga->stddev == gb->stddev && A->lr > 0 && B->lr > 0)
        ib_snprintf(para + strlen(para), len - strlen(para),
                    "At w = %g the step-0 first/last gradient ratio is %s in %s and %s in %s, and the first "
                    "layer's first update is %s lr and %s lr: where the gradient is that small, sqrt(v) is "
                    "below epsilon and the step shrinks with the gradient, so the normalisation no longer "
                    "rescues it. ",
                    ga->stddev, ib_sig3(ib_verdict_of(A, ga).grad_ratio), A->net_given,
                    ib_sig3(ib_verdict_of(B, gb).grad_ratio), B->net_given,
                    ib_sig3(ib_group_stat(A, ga, 0, 0, IB_F_UPD_RMS) / A->lr),
                    ib_sig3(ib_group_stat(B, gb, 0, 0, IB_F_UPD_RMS) / B->lr));
}

/* The sweeps read against each other in a few sentences, one per pair that differs in exactly
 * one of net and optimizer. */
static void in_short(ib_strbuf *h, ib_strbuf *md, const ib_sweep_agg *S, int n) {
    char para[4000] = "";
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            if (a == b) continue;
            const ib_sweep_agg *A = &S[a], *B = &S[b];
            if (!strcmp(A->net, B->net) && strcmp(A->optimizer, B->optimizer) && a < b)
                same_net_sentence(para, sizeof para, A, B);
            if (!strcmp(A->optimizer, B->optimizer) && strcmp(A->net, B->net) && A->n_layers < B->n_layers)
                same_optimizer_sentence(para, sizeof para, A, B);
        }
    if (!para[0]) return;
    ib_strbuf_append(h, "<p><b>In short.</b> ");
    ib_html_escape(h, para);
    ib_strbuf_append(h, "(Trained: mean final accuracy at least 0.5 and no run stuck at chance; final_accuracy.csv, "
                        "verdicts.csv.)</p>\n");
    ib_strbuf_append(md, "**In short.** ");
    ib_md_text(md, para);
    ib_strbuf_append(md, "(Trained: mean final accuracy at least 0.5 and no run stuck at chance; final_accuracy.csv, "
                         "verdicts.csv.)\n\n");
}

/* Every sweep's verdict per stddev beside its final accuracy and problem runs. */
static void verdict_outcome_table(ib_strbuf *h, ib_strbuf *md, const ib_sweep_agg *S, int n) {
    ib_strbuf_append(h, "<table><tr><th class=l>sweep</th><th>stddev</th><th class=l>verdict</th><th>first/last grad</th>"
                        "<th>final acc</th><th>stuck</th><th>diverged</th><th>missing/running/failed</th></tr>\n");
    ib_strbuf_append(md, "| sweep | stddev | verdict | first/last grad | final acc | stuck | diverged | "
                         "missing/running/failed |\n|---|---|---|---|---|---|---|---|\n");
    for (int si = 0; si < n; si++) {
        const ib_sweep_agg *s = &S[si];
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            ib_verdict v = ib_verdict_of(s, g);
            const char *kind = ib_verdict_names[v.kind];
            int other = g->count[IB_RUN_MISSING] + g->count[IB_RUN_RUNNING] + g->count[IB_RUN_FAILED] +
                        g->count[IB_RUN_INTERRUPTED];
            ib_strbuf_append(h, "<tr><td class=l>");
            ib_html_escape(h, s->label);
            ib_strbuf_appendf(h, "</td><td>%g</td><td class='l v-%s'>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td>"
                              "<td>%d</td></tr>\n", g->stddev, kind, kind, ib_sig3(v.grad_ratio),
                              ib_sig3(g->final_mean), g->n_stuck, g->count[IB_RUN_DIVERGED], other);
            ib_strbuf_append(md, "| ");
            ib_md_text(md, s->label);
            ib_strbuf_appendf(md, " | %g | %s | %s | %s | %d | %d | %d |\n", g->stddev, kind, ib_sig3(v.grad_ratio),
                              ib_sig3(g->final_mean), g->n_stuck, g->count[IB_RUN_DIVERGED], other);
        }
    }
    ib_strbuf_append(h, "</table>\n");
}

/* Lists of " sweep N w = W (...)" items, ";"-separated, for the sentence below the table. */
typedef struct outcome_lists {
    char stopped[1500];     /* vanishing or exploding, and not trained */
    char fine[1500];        /* vanishing or exploding, trained anyway */
    char unexplained[1500]; /* healthy or unknown, and not trained */
} outcome_lists;

static void collect_outcomes(outcome_lists *o, const ib_sweep_agg *S, int n) {
    o->stopped[0] = o->fine[0] = o->unexplained[0] = 0;
    for (int si = 0; si < n; si++)
        for (int gi = 0; gi < S[si].n_groups; gi++) {
            const ib_group *g = &S[si].groups[gi];
            ib_verdict v = ib_verdict_of(&S[si], g);
            if (g->n_final == 0) continue;
            int bad = g->final_mean < 0.5 || g->n_stuck > 0;
            char item[200];
            if (v.kind != IB_V_VANISHING && v.kind != IB_V_EXPLODING) {
                if (!bad) continue;
                ib_snprintf(item, sizeof item, " sweep %d w = %g (final %s%s)", si + 1, g->stddev,
                            ib_sig3(g->final_mean), g->n_stuck ? ", stuck runs" : "");
                IB_STRCATF(o->unexplained, "%s%s", o->unexplained[0] ? ";" : "", item);
                continue;
            }
            ib_snprintf(item, sizeof item, " sweep %d w = %g (%s, final %s%s)", si + 1, g->stddev,
                        ib_verdict_names[v.kind], ib_sig3(g->final_mean), g->n_stuck ? ", stuck runs" : "");
            if (bad) IB_STRCATF(o->stopped, "%s%s", o->stopped[0] ? ";" : "", item);
            else IB_STRCATF(o->fine, "%s%s", o->fine[0] ? ";" : "", item);
        }
}

/* Where a vanishing or exploding verdict stopped training, where it did not, and which healthy
 * verdicts did not train anyway (the step-0 statistics cannot explain those). */
static void outcome_sentence(ib_strbuf *h, ib_strbuf *md, const ib_sweep_agg *S, int n) {
    outcome_lists o;
    collect_outcomes(&o, S, n);
    const char *stopped = o.stopped[0] ? o.stopped : " nowhere in these sweeps";
    const char *fine = o.fine[0] ? o.fine : " nowhere in these sweeps";
    ib_strbuf_append(h, "<p>Where a vanishing or exploding verdict stopped training (final accuracy below 0.5, or a run "
                        "stuck at chance):");
    ib_html_escape(h, stopped);
    ib_strbuf_append(h, ". Where it did not:");
    ib_html_escape(h, fine);
    ib_strbuf_append(h, ".");
    if (o.unexplained[0]) {
        ib_strbuf_append(h, " Healthy at step 0 by the verdict, yet not trained (the step-0 gradients do not explain it; "
                            "the learning curves and later statistics do):");
        ib_html_escape(h, o.unexplained);
        ib_strbuf_append(h, ".");
    }
    ib_strbuf_append(h, " (final_accuracy.csv, verdicts.csv)</p>\n");
    ib_strbuf_append(md, "\nWhere a vanishing or exploding verdict stopped training (final accuracy below 0.5, or a run "
                         "stuck at chance):");
    ib_md_text(md, stopped);
    ib_strbuf_append(md, ". Where it did not:");
    ib_md_text(md, fine);
    ib_strbuf_append(md, ".");
    if (o.unexplained[0]) {
        ib_strbuf_append(md, " Healthy at step 0 by the verdict, yet not trained (the step-0 gradients do not explain "
                             "it; the learning curves and later statistics do):");
        ib_md_text(md, o.unexplained);
        ib_strbuf_append(md, ".");
    }
    ib_strbuf_append(md, " (final_accuracy.csv, verdicts.csv)\n");
}

void ib_comparison_section(ib_plotter *P, ib_strbuf *html, ib_strbuf *md, const ib_sweep_agg *S, int n) {
    ib_strbuf_append(html, "<h2 id=comparison>Comparison of the sweeps</h2>\n");
    ib_strbuf_append(md, "\n## Comparison of the sweeps\n\n");
    in_short(html, md, S, n);
    ib_fig_comparison(P, html, S, n);
    verdict_outcome_table(html, md, S, n);
    outcome_sentence(html, md, S, n);
}
