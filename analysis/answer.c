#include "answer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_facts.h"
#include "text.h"
#include "verdict.h"

/* What every claim about sweep s reads. */
typedef struct answer_ctx {
    const ib_sweep_agg *S; /* all sweeps of the report */
    int n, si;
    const ib_sweep_agg *s; /* S[si] */
    int L;                 /* weight layers */
    const char *first, *last;  /* the first and last weight layer */
    const ib_group *lo, *hi;   /* smallest and largest stddev with step-0 statistics */
    const ib_run *rl, *rh;     /* a run of each to cite */
} answer_ctx;

/* A new empty claim. Pointers to earlier claims do not survive this call (the array grows). */
static ib_claim *claim_new(ib_claims *C) {
    if (C->n == C->cap) {
        int cap = C->cap ? C->cap * 2 : 16;
        ib_claim *c = realloc(C->c, (size_t)cap * sizeof *c);
        if (!c) ib_die(IB_EXIT_INTERNAL, "out of memory allocating %d claims", cap);
        C->c = c;
        C->cap = cap;
    }
    ib_claim *c = &C->c[C->n++];
    c->text[0] = c->evidence[0] = 0;
    return c;
}

void ib_claims_free(ib_claims *C) {
    free(C->c);
    memset(C, 0, sizeof *C);
}

/* a run of the group to cite: the first complete one with statistics, else any with statistics */
static const ib_run *cite_run(const ib_sweep_agg *s, const ib_group *g) {
    const ib_run *any = NULL;
    for (int i = 0; i < g->n_runs; i++) {
        const ib_run *r = &s->runs[g->runs[i]];
        if (r->n_sstep > 0 && r->sstep[0] == 0) {
            if (r->status == IB_RUN_COMPLETE) return r;
            if (!any) any = r;
        }
    }
    return any;
}

/* "SWEEP/runs/0003-w0.001-r0" */
static void cite(char *buf, size_t n, const ib_sweep_agg *s, const ib_run *r) {
    ib_snprintf(buf, n, "%s/%s", s->dir, r ? r->rel : "?");
}

/* a run's step-0 statistic, NAN without one */
static double run_stat0(const ib_sweep_agg *s, const ib_run *r, int l, int f) {
    return r && r->n_sstep > 0 && r->sstep[0] == 0 ? ib_run_stat(s, r, 0, l, f) : NAN;
}

/* 1. How far gradients vanish or explode across the layers, at the smallest and largest w. */
static void claim_gradient_ratio(const answer_ctx *a, ib_claims *C) {
    const ib_sweep_agg *s = a->s;
    ib_claim *k = claim_new(C);
    ib_verdict vl = ib_verdict_of(s, a->lo), vh = ib_verdict_of(s, a->hi);
    char where[4400];
    cite(where, sizeof where, s, a->rl);
    ib_snprintf(k->text, sizeof k->text,
             "At w = %g the first layer's (%s) step-0 weight gradient is %s times the last layer's (%s): a factor "
             "%s per layer over %d layer steps (verdict: %s). At w = %g the ratio is %s (factor %s per layer; "
             "verdict: %s).",
             a->lo->stddev, a->first, ib_sig3(vl.grad_ratio), a->last, ib_sig3(vl.per_layer), a->L - 1,
             ib_verdict_names[vl.kind], a->hi->stddev, ib_sig3(vh.grad_ratio), ib_sig3(vh.per_layer),
             ib_verdict_names[vh.kind]);
    ib_snprintf(k->evidence, sizeof k->evidence,
             "stats.csv, step 0, weight_grad l2, mean over %d runs: %s %s, %s %s at w = %g; run %s: %s %s, %s %s. "
             "Ratio per stddev:",
             a->lo->stats_n[0], a->first, ib_sig3(ib_group_stat(s, a->lo, 0, 0, IB_F_WG_L2)), a->last,
             ib_sig3(ib_group_stat(s, a->lo, 0, a->L - 1, IB_F_WG_L2)), a->lo->stddev, where, a->first,
             ib_sig3(run_stat0(s, a->rl, 0, IB_F_WG_L2)), a->last, ib_sig3(run_stat0(s, a->rl, a->L - 1, IB_F_WG_L2)));
    for (int gi = 0; gi < s->n_groups; gi++) {
        ib_verdict v = ib_verdict_of(s, &s->groups[gi]);
        if (!isnan(v.grad_ratio)) IB_STRCATF(k->evidence, " %g: %s;", s->groups[gi].stddev, ib_sig3(v.grad_ratio));
    }
    IB_STRCATF(k->evidence, " (verdicts.csv)");
}

/* 1b. The scaling of that ratio over small w (<= 0.01) against the prediction: a least-squares
 * slope on log-log axes. */
static void claim_ratio_scaling(const answer_ctx *a, ib_claims *C) {
    const ib_sweep_agg *s = a->s;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int m = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        ib_verdict v = ib_verdict_of(s, g);
        if (g->stddev > 0.01 || !(v.grad_ratio > 0)) continue;
        double x = log10(g->stddev), y = log10(v.grad_ratio);
        sx += x, sy += y, sxx += x * x, sxy += x * y, m++;
    }
    ib_claim *k = claim_new(C);
    const int bias_w = ib_sweep_bias_is_w(s);
    double pred = ib_predicted_grad_exponent(0, a->L, bias_w) - ib_predicted_grad_exponent(a->L - 1, a->L, bias_w);
    if (m >= 2 && m * sxx - sx * sx > 0) {
        double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
        ib_snprintf(k->text, sizeof k->text,
                 "Over w <= 0.01 the %s/%s ratio scales as w^%.2f; signal propagation predicts w^%g for this "
                 "%d-layer net with bias %s (docs/THEORY.md, \"Backward signal and weight gradients\": ratio ~ w^2 "
                 "for the original).",
                 a->first, a->last, slope, pred, a->L, bias_w ? "= w" : "!= w");
        ib_snprintf(k->evidence, sizeof k->evidence,
                 "least-squares slope of log10(ratio) on log10(w) over %d stddevs <= 0.01 (step-0 stats, "
                 "verdicts.csv column grad_ratio_first_last).", m);
    } else {
        ib_snprintf(k->text, sizeof k->text,
                 "The scaling of the %s/%s ratio with w (predicted w^%g) cannot be fitted here: fewer than two "
                 "stddevs <= 0.01 have step-0 statistics.", a->first, a->last, pred);
        ib_snprintf(k->evidence, sizeof k->evidence, "%d such stddevs in %s.", m, s->dir);
    }
}

/* 2. Does training work anyway? Per stddev, whether every complete run reached 0.90. */
static void claim_training_works(const answer_ctx *a, ib_claims *C) {
    const ib_sweep_agg *s = a->s;
    ib_claim *k = claim_new(C);
    int ok = 0, tot = 0, stuck = 0, nf = 0;
    char bad[512] = "";
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (g->n_final == 0) continue;
        tot++;
        stuck += g->n_stuck;
        nf += g->n_final;
        if (g->n_reach[0] == g->n_final) ok++;
        else IB_STRCATF(bad, " w = %g (%d of %d reached 0.90, %d stuck);", g->stddev, g->n_reach[0], g->n_final,
                        g->n_stuck);
    }
    if (tot == 0) {
        ib_snprintf(k->text, sizeof k->text, "No run of this sweep is complete yet: whether training works is not known.");
    } else if (ok == tot) {
        ib_snprintf(k->text, sizeof k->text,
                 "Training works anyway: at all %d stddevs every complete run (%d in all) reached 90%% test "
                 "accuracy, and none is stuck at chance.", tot, nf);
    } else {
        ib_snprintf(k->text, sizeof k->text,
                  "By the last step (%lld), %d of %d stddevs have every complete run above 90%% test accuracy; not "
                  "at%s %d run(s) stuck at chance (final accuracy < %g) in all.",
                  s->steps, ok, tot, bad, stuck, s->stuck_below);
    }
    ib_snprintf(k->evidence, sizeof k->evidence, "curve.csv, final test accuracy mean +/- std (min; steps to 0.90):");
    if (s->steps > 0 && s->steps < 10000)
        IB_STRCATF(k->text, " (This sweep ran %lld steps; the original protocol runs 10000.)", s->steps);
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (g->n_final == 0) continue;
        IB_STRCATF(k->evidence, " w = %g: %s +/- %s (%s; %s);", g->stddev, ib_sig3(g->final_mean),
                   ib_sig3(g->final_std), ib_sig3(g->final_min), ib_sig3(g->reach_mean[0]));
    }
    IB_STRCATF(k->evidence, " (final_accuracy.csv, steps_to_threshold.csv, runs.csv)");
}

/* The first layer's first update in units of lr, mean over the group's repeats. */
static double first_update_in_lr(const ib_sweep_agg *s, const ib_group *g) {
    return ib_group_stat(s, g, 0, 0, IB_F_UPD_RMS) / s->lr;
}

/* 3. The adaptive optimizer's per-parameter normalisation: where epsilon does not bind at the
 * first step the step no longer follows the gradient's scale; where it binds, it does. */
static void claim_normalised_step(const answer_ctx *a, ib_claims *C) {
    const ib_sweep_agg *s = a->s;
    const ib_group *n_lo = NULL, *n_hi = NULL; /* smallest and largest w where epsilon does not bind */
    char bound[600] = "";
    ib_claim *k = claim_new(C);
    ib_snprintf(k->evidence, sizeof k->evidence, "stats.csv step 0, %s, mean over repeats (weight_grad rms; update "
              "rms in units of lr = %g; frac_sqrt_v_below_eps):", a->first, s->lr);
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (ib_step0_index(g) != 0) continue;
        double gr = ib_group_stat(s, g, 0, 0, IB_F_WG_RMS), u = first_update_in_lr(s, g),
               be = ib_group_stat(s, g, 0, 0, IB_F_BELOW_EPS);
        IB_STRCATF(k->evidence, " w = %g: %s, %s lr, %s;", g->stddev, ib_sig3(gr), ib_sig3(u), ib_sig3(be));
        if (be < EPS_BINDS_FRAC) {
            if (!n_lo) n_lo = g;
            n_hi = g;
        } else {
            IB_STRCATF(bound, "%s w = %g (%s lr, %s of sqrt(v) < eps)", bound[0] ? ";" : "", g->stddev, ib_sig3(u),
                       ib_sig3(be));
        }
    }
    if (n_lo && n_hi != n_lo) {
        double gl = ib_group_stat(s, n_lo, 0, 0, IB_F_WG_RMS), gh = ib_group_stat(s, n_hi, 0, 0, IB_F_WG_RMS);
        ib_snprintf(k->text, sizeof k->text,
                  "Where epsilon does not bind, %s's per-parameter normalisation makes the step independent of the "
                  "gradient's scale: %s's step-0 weight-gradient RMS is %s times smaller at w = %g than at w = %g, "
                  "yet its first update RMS is %s lr and %s lr.",
                  s->optimizer, a->first, ib_sig3(gh / gl), n_lo->stddev, n_hi->stddev,
                  ib_sig3(first_update_in_lr(s, n_lo)), ib_sig3(first_update_in_lr(s, n_hi)));
    } else if (n_lo) {
        ib_snprintf(k->text, sizeof k->text, "At w = %g, where epsilon does not bind, %s's first update RMS is %s lr: "
                  "normalised.", n_lo->stddev, a->first, ib_sig3(first_update_in_lr(s, n_lo)));
    } else {
        ib_snprintf(k->text, sizeof k->text, "Epsilon binds for %s at every stddev with step-0 statistics: the "
                  "normalisation is not seen at the first step.", a->first);
    }
    if (bound[0])
        IB_STRCATF(k->text, " Where epsilon binds (more than %g of the layer's sqrt(v) below eps = %g) the first step "
                   "shrinks with the gradient:%s.", EPS_BINDS_FRAC, s->eps, bound);
    /* the smallest w later on: does the normalisation take over once the gradients grow? */
    const ib_group *lo = a->lo;
    if (lo->n_sstep > 1) {
        int kl = lo->n_sstep - 1;
        IB_STRCATF(k->evidence, " Later, at w = %g, step %lld: %s update rms %s lr, frac_sqrt_v_below_eps %s.",
                   lo->stddev, lo->sstep[kl], a->first, ib_sig3(ib_group_stat(s, lo, kl, 0, IB_F_UPD_RMS) / s->lr),
                   ib_sig3(ib_group_stat(s, lo, kl, 0, IB_F_BELOW_EPS)));
    }
    char where[4400];
    cite(where, sizeof where, s, a->rl);
    IB_STRCATF(k->evidence, " Run %s, step 0: weight_grad rms %s, update rms %s, frac_sqrt_v_below_eps %s.", where,
               ib_sig3(run_stat0(s, a->rl, 0, IB_F_WG_RMS)), ib_sig3(run_stat0(s, a->rl, 0, IB_F_UPD_RMS)),
               ib_sig3(run_stat0(s, a->rl, 0, IB_F_BELOW_EPS)));
}

/* 3b. The first step relative to the weights, against lr / (0.8796 w): a normalised step on
 * weights of realised std 0.8796 w (the truncated normal's). */
static void claim_relative_update(const answer_ctx *a, ib_claims *C) {
    const ib_sweep_agg *s = a->s;
    ib_claim *k = claim_new(C);
    char match[500] = "", shortfall[500] = "";
    ib_snprintf(k->evidence, sizeof k->evidence, "stats.csv step 0, %s update update_ratio, mean over repeats "
              "(measured vs lr / (0.8796 w)):", a->first);
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (ib_step0_index(g) != 0) continue;
        double m = ib_group_stat(s, g, 0, 0, IB_F_UPD_RATIO), p = s->lr / (0.8796 * g->stddev);
        IB_STRCATF(k->evidence, " w = %g: %s vs %s;", g->stddev, ib_sig3(m), ib_sig3(p));
        if (m > p / 2 && m < p * 2) IB_STRCATF(match, "%s %g", match[0] ? "," : "", g->stddev);
        else IB_STRCATF(shortfall, "%s w = %g (%s vs %s)", shortfall[0] ? "," : "", g->stddev, ib_sig3(m), ib_sig3(p));
    }
    ib_snprintf(k->text, sizeof k->text,
              "Relative to the weights, a normalised first step is lr / (0.88 w): about 1 for w = 1e-4, so small "
              "weights are rewritten within a few steps and their init scale is soon forgotten, and 1e-4 for w = 1, "
              "so large weights move slowly. Measured ratio within a factor 2 of it at w =%s%s%s.",
              match[0] ? match : " none", shortfall[0] ? "; off by more at" : "", shortfall);
    char where[4400];
    cite(where, sizeof where, s, a->rh);
    IB_STRCATF(k->evidence, " run %s: %s (gradient_flow.csv).", where, ib_sig3(run_stat0(s, a->rh, 0, IB_F_UPD_RATIO)));
}

/* 4. Where epsilon stops the normalisation: more than EPS_BINDS_FRAC of a layer's sqrt(v) below
 * eps, at the first step and still at the last recorded step (the layer where it is largest). */
static void claim_epsilon_binds(const answer_ctx *a, ib_claims *C) {
    const ib_sweep_agg *s = a->s;
    ib_claim *k = claim_new(C);
    char first_b[700] = "", last_b[700] = "";
    int any = 0;
    ib_snprintf(k->evidence, sizeof k->evidence, "stats.csv update rows, frac_sqrt_v_below_eps, mean over repeats, "
              "largest over the layers (step 0 / last recorded step):");
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (g->n_sstep == 0) continue;
        int kl = g->n_sstep - 1;
        double f0 = -1, fl = -1;
        int l0 = 0, l1 = 0;
        for (int l = 0; l < a->L; l++) {
            double a0 = ib_group_stat(s, g, 0, l, IB_F_BELOW_EPS), a1 = ib_group_stat(s, g, kl, l, IB_F_BELOW_EPS);
            if (a0 > f0) f0 = a0, l0 = l;
            if (a1 > fl) fl = a1, l1 = l;
        }
        if (f0 < 0) continue;
        any = 1;
        IB_STRCATF(k->evidence, " w = %g: %s (%s) / %s (%s, step %lld);", g->stddev, ib_sig3(f0), s->layer[l0],
                   ib_sig3(fl), s->layer[l1], g->sstep[kl]);
        if (f0 > EPS_BINDS_FRAC)
            IB_STRCATF(first_b, "%s w = %g (%s of %s)", first_b[0] ? "," : "", g->stddev, ib_sig3(f0), s->layer[l0]);
        if (kl > 0 && fl > EPS_BINDS_FRAC)
            IB_STRCATF(last_b, "%s w = %g (%s of %s at step %lld; steps to 0.90: %s)", last_b[0] ? "," : "", g->stddev,
                       ib_sig3(fl), s->layer[l1], g->sstep[kl], ib_sig3(g->reach_mean[0]));
    }
    IB_STRCATF(k->evidence, " A coordinate whose gradient is exactly 0 (behind a dead ReLU) also counts.");
    if (!any) {
        ib_snprintf(k->text, sizeof k->text, "Where epsilon stops the normalisation cannot be told: no update rows "
                  "with frac_sqrt_v_below_eps were recorded.");
    } else if (!first_b[0] && !last_b[0]) {
        ib_snprintf(k->text, sizeof k->text, "Epsilon (%g) never binds in this sweep: no layer has more than %g of "
                  "its weights with sqrt(v) < eps, so Adam normalised essentially every coordinate at every stddev.",
                  s->eps, EPS_BINDS_FRAC);
    } else {
        ib_snprintf(k->text, sizeof k->text,
                  "Epsilon (%g) stops the normalisation where gradients are tiny: with sqrt(v) < eps the step is "
                  "lr*m/eps, SGD with learning rate lr/eps, shrinking with the gradient again. More than %g of a "
                  "layer's weights are there at the first step at%s; still at the last recorded step at%s.",
                  s->eps, EPS_BINDS_FRAC, first_b[0] ? first_b : " no stddev", last_b[0] ? last_b : " no stddev");
    }
}

/* 3 (not adaptive). Under SGD-like optimizers the step is the gradient's own scale. */
static void claim_plain_step(const answer_ctx *a, ib_claims *C) {
    const ib_sweep_agg *s = a->s;
    ib_claim *k = claim_new(C);
    double gl = ib_group_stat(s, a->lo, 0, 0, IB_F_WG_RMS), ul = ib_group_stat(s, a->lo, 0, 0, IB_F_UPD_RMS);
    ib_snprintf(k->text, sizeof k->text,
             "Under %s the step is lr * g (no per-parameter normalisation): at w = %g %s's first update RMS is %s "
             "= %s lr, the gradient's own scale, so a vanished gradient gives a vanished step.",
             s->optimizer, a->lo->stddev, a->first, ib_sig3(ul), ib_sig3(ul / s->lr));
    char where[4400];
    cite(where, sizeof where, s, a->rl);
    ib_snprintf(k->evidence, sizeof k->evidence, "stats.csv step 0, %s: weight_grad rms %s, update rms %s (lr %g); run %s.",
             a->first, ib_sig3(gl), ib_sig3(ul), s->lr, where);
}

/* 5. Depth: the per-layer factor compounds; measured on a deeper sweep of the report if any. */
static void claim_depth(const answer_ctx *a, ib_claims *C) {
    const ib_sweep_agg *s = a->s;
    ib_claim *k = claim_new(C);
    ib_verdict vl = ib_verdict_of(s, a->lo);
    ib_snprintf(k->text, sizeof k->text,
             "Depth: this net has %d weight layers, so the per-layer factor compounds over %d layer steps: at w = %g a "
             "factor of %s per layer gives %s end to end. The same factor over 10 layers would give %s "
             "(extrapolated, not measured).",
             a->L, a->L - 1, a->lo->stddev, ib_sig3(vl.per_layer), ib_sig3(vl.grad_ratio),
             ib_sig3(pow(vl.per_layer, 9)));
    ib_snprintf(k->evidence, sizeof k->evidence, "step-0 ratio %s/%s from stats.csv (claim above); layers:", a->first,
                a->last);
    for (int l = 0; l < a->L; l++) IB_STRCATF(k->evidence, " %s", s->layer[l]);
    int deeper = -1; /* the last sweep with more layers */
    for (int j = 0; j < a->n; j++)
        if (j != a->si && a->S[j].n_layers > a->L) deeper = j;
    if (deeper < 0) {
        IB_STRCATF(k->evidence, ". No deeper-net sweep in this report: the effect of more depth is not measured here.");
        return;
    }
    const ib_sweep_agg *t = &a->S[deeper];
    const ib_group *tl = ib_first_step0_group(t, 0);
    if (!tl) return;
    ib_verdict tv = ib_verdict_of(t, tl);
    IB_STRCATF(k->evidence, ". Measured on the deeper sweep '%s' (%d weight layers): ratio %s (factor %s per layer, "
               "verdict %s) at w = %g; final accuracy there %s.",
               t->label, t->n_layers, ib_sig3(tv.grad_ratio), ib_sig3(tv.per_layer), ib_verdict_names[tv.kind],
               tl->stddev, ib_sig3(tl->final_mean));
}

/* 6. ReLU and the bias init: are the units open at tiny w, or saturated? */
static void claim_units_open(const answer_ctx *a, ib_claims *C) {
    const ib_sweep_agg *s = a->s;
    const ib_group *lo = a->lo;
    ib_claim *k = claim_new(C);
    int relu = strstr(s->net, "relu") != NULL;
    double zmax = 0, sat = 0; /* over the hidden layers */
    for (int l = 0; l + 1 < a->L; l++) {
        double z = ib_group_stat(s, lo, 0, l, IB_F_ACT_ZERO), t = ib_group_stat(s, lo, 0, l, IB_F_ACT_SAT);
        if (z > zmax) zmax = z;
        if (t > sat) sat = t;
    }
    double am = ib_group_stat(s, lo, 0, 0, IB_F_ACT_MEAN), bm = ib_group_stat(s, lo, 0, 0, IB_F_B_MEAN);
    if (relu && ib_sweep_bias_is_w(s)) {
        ib_snprintf(k->text, sizeof k->text,
                 "ReLU with bias = w keeps the units open at tiny w: at w = %g at most %s of any hidden layer's "
                 "outputs are zero at step 0, so every unit passes gradient with derivative 1 (a sigmoid passes at "
                 "most 0.25 per layer); the activations sit near the bias (%s's mean %s, bias %s).",
                 lo->stddev, ib_sig3(zmax), a->first, ib_sig3(am), ib_sig3(bm));
    } else if (relu) {
        ib_snprintf(k->text, sizeof k->text,
                 "ReLU without bias = w: at w = %g up to %s of a hidden layer's outputs are zero at step 0 (dead "
                 "units pass no gradient).", lo->stddev, ib_sig3(zmax));
    } else {
        ib_snprintf(k->text, sizeof k->text,
                 "This net has no ReLU (%s): at w = %g at most %s of any hidden layer's activations are saturated "
                 "and at most %s are exactly zero at step 0, so saturation does not explain the vanishing here; "
                 "the per-layer factor of claim 1 does.",
                 s->net_given, lo->stddev, ib_sig3(sat), ib_sig3(zmax));
    }
    char where[4400];
    cite(where, sizeof where, s, a->rl);
    ib_snprintf(k->evidence, sizeof k->evidence,
             "stats.csv step 0 act frac_zero / frac_saturated (max over hidden layers), %s act mean, bias mean; "
             "mean over repeats at w = %g; run %s: act frac_zero of %s %s.",
             a->first, lo->stddev, where, a->first, ib_sig3(run_stat0(s, a->rl, 0, IB_F_ACT_ZERO)));
}

/* 7. The contrast with plain SGD on a net as deep, measured when the report has such a sweep. */
static void claim_sgd_contrast(const answer_ctx *a, ib_claims *C) {
    const ib_sweep_agg *s = a->s;
    ib_claim *k = claim_new(C);
    int sgd = -1; /* the last such sweep */
    for (int j = 0; j < a->n; j++)
        if (j != a->si && ib_optimizer_is_sgd(a->S[j].optimizer) && a->S[j].n_layers == a->L) sgd = j;
    if (sgd < 0) {
        ib_snprintf(k->text, sizeof k->text,
                 "No SGD sweep (of a net this deep) in this report: that plain SGD would stall at small w, its step "
                 "being lr * g with %s's gradient RMS %s at w = %g, is predicted here, not measured.",
                 a->first, ib_sig3(ib_group_stat(s, a->lo, 0, 0, IB_F_WG_RMS)), a->lo->stddev);
        ib_snprintf(k->evidence, sizeof k->evidence, "optimizers of the sweeps in this report:");
        for (int j = 0; j < a->n; j++) IB_STRCATF(k->evidence, " %s (%s);", a->S[j].optimizer, a->S[j].dir);
        return;
    }
    const ib_sweep_agg *t = &a->S[sgd];
    ib_snprintf(k->text, sizeof k->text, "Plain SGD on the same net (sweep '%s'), final accuracy per stddev beside %s's:",
             t->label, s->optimizer);
    ib_snprintf(k->evidence, sizeof k->evidence, "final_accuracy.csv of both sweeps:");
    for (int gi = 0; gi < s->n_groups; gi++)
        for (int gj = 0; gj < t->n_groups; gj++) {
            const ib_group *g = &s->groups[gi], *h = &t->groups[gj];
            if (h->stddev != g->stddev) continue;
            IB_STRCATF(k->text, " w = %g: SGD %s vs %s %s;", g->stddev, ib_sig3(h->final_mean), s->optimizer,
                       ib_sig3(g->final_mean));
            IB_STRCATF(k->evidence, " w = %g: %d and %d complete runs, %d and %d stuck;", g->stddev, h->n_final,
                       g->n_final, h->n_stuck, g->n_stuck);
        }
}

void ib_answer(const ib_sweep_agg *S, int n, int si, ib_claims *C) {
    const ib_sweep_agg *s = &S[si];
    answer_ctx a = {S, n, si, s, s->n_layers, NULL, NULL, NULL, NULL, NULL, NULL};
    a.lo = ib_first_step0_group(s, 0);
    a.hi = ib_first_step0_group(s, 1);
    if (!a.lo || a.L < 2) {
        ib_claim *k = claim_new(C);
        ib_snprintf(k->text, sizeof k->text,
                 "No gradient-flow answer for this sweep: no run has step-0 statistics (stats.csv) yet.");
        ib_snprintf(k->evidence, sizeof k->evidence, "%d runs listed in %s/sweep.json; rerun with --stats-every > 0.",
                 s->n_runs, s->dir);
        return;
    }
    a.first = s->layer[0];
    a.last = s->layer[a.L - 1];
    a.rl = cite_run(s, a.lo);
    a.rh = cite_run(s, a.hi);
    claim_gradient_ratio(&a, C);
    claim_ratio_scaling(&a, C);
    claim_training_works(&a, C);
    if (ib_optimizer_is_adaptive(s->optimizer)) {
        claim_normalised_step(&a, C);
        claim_relative_update(&a, C);
        claim_epsilon_binds(&a, C);
    } else {
        claim_plain_step(&a, C);
    }
    claim_depth(&a, C);
    claim_units_open(&a, C);
    if (ib_optimizer_is_adaptive(s->optimizer)) claim_sgd_contrast(&a, C);
}
