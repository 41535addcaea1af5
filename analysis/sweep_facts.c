#include "sweep_facts.h"

#include <math.h>
#include <string.h>

int ib_step0_index(const ib_group *g) { return g->n_sstep > 0 && g->sstep[0] == 0 ? 0 : -1; }

const ib_group *ib_first_step0_group(const ib_sweep_agg *s, int from_end) {
    for (int i = 0; i < s->n_groups; i++) {
        const ib_group *g = &s->groups[from_end ? s->n_groups - 1 - i : i];
        if (ib_step0_index(g) == 0) return g;
    }
    return NULL;
}

int ib_optimizer_is_adaptive(const char *optimizer) {
    return !strncmp(optimizer, "adam", 4) || !strcmp(optimizer, "rmsprop");
}

int ib_optimizer_is_sgd(const char *optimizer) { return !strcmp(optimizer, "sgd"); }

int ib_sweep_bias_is_w(const ib_sweep_agg *s) {
    for (int i = 0; i < s->n_runs; i++)
        if (!isnan(s->runs[i].bias_init))
            return fabs(s->runs[i].bias_init - s->runs[i].stddev) <= 1e-9 * fabs(s->runs[i].stddev) + 1e-30;
    return 1;
}

/* The gradient is (input activation) x (backpropagated signal); the signal carries one weight
 * factor per layer above (L-1-l); the input is the raw image for l = 0 and, with bias = w, a
 * bias-dominated activation ~ w above it; with zero bias the activations carry w^l. */
double ib_predicted_grad_exponent(int l, int L, int bias_is_w) {
    if (bias_is_w) return (l > 0 ? 1 : 0) + (L - 1 - l);
    return L - 1;
}
