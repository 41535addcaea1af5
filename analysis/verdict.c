#include "verdict.h"

#include <math.h>
#include <string.h>

#include "sweep_facts.h"
#include "text.h"

const char *const ib_verdict_names[] = {"healthy", "vanishing", "exploding", "unknown"};

/* The step-0 numbers the criteria read (k: the index of step 0, L >= 2 layers). */
static void measure(const ib_sweep_agg *s, const ib_group *g, int k, ib_verdict *v) {
    const int L = s->n_layers;
    v->grad_ratio = ib_group_stat(s, g, k, 0, IB_F_WG_L2) / ib_group_stat(s, g, k, L - 1, IB_F_WG_L2);
    v->per_layer = pow(v->grad_ratio, 1.0 / (L - 1));
    int last_hidden = L >= 3 ? L - 2 : L - 1;
    v->act_ratio = ib_group_stat(s, g, k, last_hidden, IB_F_ACT_STD) / ib_group_stat(s, g, k, 0, IB_F_ACT_STD);
    v->logit_max = ib_group_stat(s, g, k, L - 1, IB_F_PRE_MAXABS);
    v->nonfinite = 0;
    for (int l = 0; l < L; l++) {
        double nf = ib_group_stat(s, g, k, l, IB_F_NONFINITE);
        if (nf > v->nonfinite) v->nonfinite = nf;
    }
}

/* Apply the criteria in the documented order: exploding, then vanishing, else healthy. */
static void judge(ib_verdict *v) {
    if (v->nonfinite > 0 || v->grad_ratio > EXPLODE_GRAD_RATIO || v->act_ratio > ACT_BLOWUP_RATIO ||
        v->logit_max > LOGIT_EXPLODE) {
        v->kind = IB_V_EXPLODING;
        ib_snprintf(v->why, sizeof v->why, "%s%s%s%s",
                 v->nonfinite > 0 ? "non-finite values; " : "",
                 v->grad_ratio > EXPLODE_GRAD_RATIO ? "first/last gradient ratio > 1e2; " : "",
                 v->act_ratio > ACT_BLOWUP_RATIO ? "activation std grows > 1e2 across layers; " : "",
                 v->logit_max > LOGIT_EXPLODE ? "max |logit| > 1e3 (softmax saturated); " : "");
    } else if (v->grad_ratio < VANISH_GRAD_RATIO || v->act_ratio < ACT_COLLAPSE_RATIO) {
        v->kind = IB_V_VANISHING;
        ib_snprintf(v->why, sizeof v->why, "%s%s",
                 v->grad_ratio < VANISH_GRAD_RATIO ? "first/last gradient ratio < 1e-2; " : "",
                 v->act_ratio < ACT_COLLAPSE_RATIO ? "activation std collapses < 1e-2 across layers; " : "");
    } else {
        v->kind = IB_V_HEALTHY;
        ib_snprintf(v->why, sizeof v->why,
                 "gradient ratio %s, activation ratio %s within [1e-2, 1e2], max |logit| %s <= 1e3; ",
                 ib_sig3(v->grad_ratio), ib_sig3(v->act_ratio), ib_sig3(v->logit_max));
    }
    size_t n = strlen(v->why); /* drop the last "; " */
    if (n >= 2) v->why[n - 2] = 0;
}

ib_verdict ib_verdict_of(const ib_sweep_agg *s, const ib_group *g) {
    ib_verdict v = {IB_V_UNKNOWN, NAN, NAN, NAN, NAN, NAN, ""};
    const int k = ib_step0_index(g);
    if (k < 0 || s->n_layers < 2) {
        ib_snprintf(v.why, sizeof v.why, "no step-0 statistics (stats.csv) in any run of this stddev");
        return v;
    }
    measure(s, g, k, &v);
    judge(&v);
    return v;
}
