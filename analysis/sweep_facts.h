/* Facts about one aggregated sweep that several parts of the report read (internal to
 * analysis/): where the step-0 statistics are, the bias rule, the optimizer's class, and the
 * small-w prediction of signal propagation (docs/THEORY.md, "Backward signal and weight
 * gradients"). */
#ifndef IB_SWEEP_FACTS_H
#define IB_SWEEP_FACTS_H

#include "aggregate.h"

/* The index of step 0 among the group's recorded statistics steps: 0, or -1 without it. */
int ib_step0_index(const ib_group *g);

/* The group of smallest (from_end: largest) stddev that has step-0 statistics, or NULL. */
const ib_group *ib_first_step0_group(const ib_sweep_agg *s, int from_end);

/* Adam (every form) and RMSProp normalise each coordinate's step by sqrt(v); SGD does not. */
int ib_optimizer_is_adaptive(const char *optimizer);
int ib_optimizer_is_sgd(const char *optimizer);

/* Whether the sweep's runs initialise the bias to their stddev, as the original does (taken
 * from the first run that records a bias; 1 when none does). */
int ib_sweep_bias_is_w(const ib_sweep_agg *s);

/* The small-w prediction of the step-0 weight-gradient exponent of layer l (0-based) of L. */
double ib_predicted_grad_exponent(int l, int L, int bias_is_w);

#endif
