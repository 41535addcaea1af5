/* The trainability forecast: first-order reasoning about the first step, stated in
 * docs/THEORY.md ("The trainability forecast"), not tuned to any outcome. */
#include "forecast.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ib_forecast_names[3] = {"trains", "at_risk", "will_not_train"};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of the values that are not NaN (NaN when none is). */
static double median(const double *v, int n) {
    double *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) s[k++] = v[i];
    qsort(s, (size_t)k, sizeof *s, cmp_double);
    double m = k == 0 ? NAN : k % 2 ? s[k / 2] : 0.5 * (s[k / 2 - 1] + s[k / 2]);
    free(s);
    return m;
}

void ib_probe_summary_median(const ib_probe_summary *s, int n, ib_probe_summary *out) {
    double v[256] = {0};
    if (n > 256) n = 256;
#define MED(f)                                        \
    do {                                              \
        for (int i = 0; i < n; i++) v[i] = s[i].f;    \
        out->f = median(v, n);                        \
    } while (0)
    MED(loss0);
    MED(q1);
    MED(log10_grad_ratio);
    MED(log10_act_ratio);
    MED(log10_wgrad_ratio);
    MED(min_update_ratio);
    MED(max_update_ratio);
    MED(sum_update_ratio);
    MED(max_frac_below_eps);
    MED(sqrt_v_rms_at);
    MED(max_frac_dead);
    MED(max_frac_saturated);
    MED(descent);
#undef MED
    /* the layers named are the first seed's; nonfinite if any seed saw it */
    out->min_update_layer = s[0].min_update_layer, out->max_update_layer = s[0].max_update_layer;
    out->below_eps_layer = s[0].below_eps_layer, out->dead_layer = s[0].dead_layer;
    out->saturated_layer = s[0].saturated_layer;
    out->log_classes = s[0].log_classes;
    out->nonfinite = 0;
    for (int i = 0; i < n; i++) out->nonfinite |= s[i].nonfinite;
}

static void add(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t len, const char *fmt, ...) {
    size_t at = strlen(buf);
    if (at + 3 >= len) return;
    if (at) at += (size_t)snprintf(buf + at, len - at, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + at, len - at, fmt, ap);
    va_end(ap);
}

static const char *layer(const char *const *names, int i) { return i >= 0 && names && names[i] ? names[i] : "?"; }

ib_forecast ib_probe_forecast(const ib_probe_summary *s, ib_optim_kind opt, double eps_first_step, long long budget,
                              const char *const *names, char *reason, size_t len) {
    const int adaptive = opt == IB_OPT_ADAM_TF || opt == IB_OPT_ADAM_PT || opt == IB_OPT_RMSPROP;
    const double T = (double)budget;
    reason[0] = 0;
    if (s->nonfinite || !isfinite(s->loss0)) {
        add(reason, len, "diverged at step 0: non-finite loss or statistics");
        return IB_FORECAST_WILL_NOT_TRAIN;
    }
    if (!adaptive && s->max_update_ratio >= 1) {
        add(reason, len, "the first step changes %s by %.3g times its own norm: the step overshoots",
            layer(names, s->max_update_layer), s->max_update_ratio);
        return IB_FORECAST_WILL_NOT_TRAIN;
    }
    const double drop = T * s->descent;
    if (T * s->sum_update_ratio < 1 && drop < IB_FC_LINEAR_DROP * s->loss0) {
        add(reason, len,
            "stays at its initialisation: over %lld steps the layers' relative updates add up to %.3g of their size "
            "(%.3g per step, largest %.3g in %s) and the first-order loss drop %.3g is below %.2g x loss0 (%.3g)",
            budget, T * s->sum_update_ratio, s->sum_update_ratio, s->max_update_ratio,
            layer(names, s->max_update_layer), drop, IB_FC_LINEAR_DROP, s->loss0);
        return IB_FORECAST_WILL_NOT_TRAIN;
    }
    /* a saturated softmax: the loss is about the logits' scale, which the updates change by at most
     * sum_update_ratio per step in log terms, so reaching chance-level logits takes at least this */
    const double escape = s->loss0 > IB_FC_SATURATED_LOSS * s->log_classes && s->sum_update_ratio > 0
                              ? log(s->loss0 / s->log_classes) / s->sum_update_ratio
                              : 0;
    /* only a risk: version 2 made it will_not_train, and the original CNN trained at w = 0.3 and 1
     * (loss0 863 and 1e5) within 1000 steps: learning which logit is largest does not need the
     * logits' scale to come down first (docs/THEORY.md) */
    if (escape > 0.1 * T)
        add(reason, len,
            "saturated output: the initial loss %.3g (ln C = %.3g) says the logits are huge; bringing their scale to "
            "chance level would take %.3g steps at the measured %.3g relative change per step",
            s->loss0, s->log_classes, escape, s->sum_update_ratio);
    if (drop < IB_FC_LINEAR_DROP * s->loss0)
        add(reason, len,
            "slow start: first-order loss drop over %lld steps %.3g < %.2g x loss0, though the weights move (relative "
            "updates add up to %.3g per step): it trains only if they grow out of the initial scale in time",
            budget, drop, IB_FC_LINEAR_DROP, s->sum_update_ratio);
    if (s->min_update_ratio < IB_FC_FLOAT_RESOLUTION)
        add(reason, len, "%s frozen: its relative update %.3g is below float32 resolution (2^-24)",
            layer(names, s->min_update_layer), s->min_update_ratio);
    /* the RMS of sqrt(v), not the fraction below eps: weights fed by always-zero pixels have v = 0
     * in any healthy network, and they do not matter */
    const double f = s->sqrt_v_rms_at / (s->sqrt_v_rms_at + eps_first_step);
    if (adaptive && f < IB_FC_EPS_FRACTION)
        add(reason, len, "sqrt(v) below eps in %s (RMS %.3g against eps %.3g at the first step): its first update is "
            "about %.2g of lr", layer(names, s->below_eps_layer), s->sqrt_v_rms_at, eps_first_step, f);
    if (s->max_frac_dead >= IB_FC_DEAD)
        add(reason, len, "%s is dead: %.1f%% of its activations are exactly 0", layer(names, s->dead_layer),
            100 * s->max_frac_dead);
    if (s->max_frac_saturated >= IB_FC_SATURATED)
        add(reason, len, "%s saturated: %.1f%% of its units", layer(names, s->saturated_layer),
            100 * s->max_frac_saturated);
    if (!adaptive && fabs(s->log10_grad_ratio) > IB_FC_RATIO_DECADES)
        add(reason, len, "gradients %s across the layers: first/last ratio 10^%.1f",
            s->log10_grad_ratio < 0 ? "vanish" : "explode", s->log10_grad_ratio);
    return reason[0] ? IB_FORECAST_AT_RISK : IB_FORECAST_TRAINS;
}

const char *ib_probe_forecast_rule(void) {
    return "Version 3. From the first step (step 0) alone, median over seeds, for a budget of B steps, with r_l the "
           "relative update ||update||/||W|| of weight layer l and D = -sum(grad*update) the first step's first-order "
           "loss decrease. will_not_train: the loss or a statistic is non-finite; or, for SGD/momentum, some r_l >= 1 "
           "(overshoot); or B x sum_l r_l < 1 (the output, a product of the layers, changes by less than its own size "
           "over the budget) and B x D < 0.1 x the initial loss L0. at_risk, with the reason: a saturated output "
           "(L0 > 2 ln C) whose logits' scale would take more than B/10 steps, ln(L0 / ln C) / sum_l r_l, to come down "
           "to chance level; B x D < 0.1 x L0 although the weights move (slow start); "
           "some r_l below 2^-24 (float32 resolution: the layer cannot move); for Adam/RMSProp a layer whose RMS of "
           "sqrt(v), s, makes s/(s+eps) below 1/2 (eps as the first step sees it: eps/sqrt(1-beta2) in the TF form); a "
           "hidden layer 99% dead or 90% saturated; for SGD/momentum a first/last gradient ratio beyond 10^3 either "
           "way. trains: none of these.";
}
