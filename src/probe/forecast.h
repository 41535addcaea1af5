/* The probe's per-configuration summary of step-0 statistics and the trainability forecast drawn
 * from it (docs/THEORY.md, "The trainability forecast": the rule and where it comes from). */
#ifndef IB_FORECAST_H
#define IB_FORECAST_H

#include <stddef.h>

#include "backend.h"

/* One configuration and seed at step 0 (or the median over seeds). NAN: not applicable. */
typedef struct ib_probe_summary {
    double loss0;
    double q1;                /* mean z^2 of the first weight layer's preactivation */
    double log10_grad_ratio;  /* rms dL/dz: first hidden layer over last hidden layer */
    double log10_act_ratio;   /* rms activation: last hidden over first hidden */
    double log10_wgrad_ratio; /* ||dL/dW||: first weight layer over last */
    double min_update_ratio, max_update_ratio; /* ||update|| / ||W|| over weight layers */
    double sum_update_ratio;  /* ... summed: to first order, the relative change of the network's
                               * output per step (a product of the layers) is at most this */
    double log_classes;       /* ln C: the loss of uniform outputs */
    int min_update_layer, max_update_layer;     /* weight-layer index (0-based) of each */
    double max_frac_below_eps; /* adaptive optimisers: largest fraction of sqrt(v) < eps over layers */
    double sqrt_v_rms_at;      /* ... and the smallest RMS of sqrt(v) over layers, */
    int below_eps_layer;       /* in this layer */
    double max_frac_dead, max_frac_saturated; /* hidden activations */
    int dead_layer, saturated_layer;
    double descent;            /* -sum(grad * update): the first step's first-order loss decrease */
    int nonfinite;             /* the step saw NaN/Inf (loss or statistics) */
} ib_probe_summary;

typedef enum ib_forecast { IB_FORECAST_TRAINS, IB_FORECAST_AT_RISK, IB_FORECAST_WILL_NOT_TRAIN } ib_forecast;
extern const char *const ib_forecast_names[3];

/* Constants of the rule, named in the reasons and in probe.json. */
#define IB_FC_FLOAT_RESOLUTION 5.9604644775390625e-8 /* 2^-24: a relative change below it rounds away */
#define IB_FC_LINEAR_DROP 0.1  /* first-order loss drop over the budget, as a fraction of loss0 */
#define IB_FC_EPS_FRACTION 0.5 /* Adam: a layer's typical first step below half of lr */
#define IB_FC_DEAD 0.99        /* a hidden layer with this fraction of exact zeros passes no signal */
#define IB_FC_SATURATED 0.9    /* ... or this fraction of saturated units */
#define IB_FC_RATIO_DECADES 3  /* SGD: first/last gradient ratio beyond 10^+-3 */
#define IB_FC_SATURATED_LOSS 2 /* an initial loss above 2 ln C: logits far from 0, the softmax saturated */
#define IB_FC_RULE_VERSION 3   /* probe.json's forecast.version; docs/THEORY.md gives the history */

/* The median of each field over n summaries (the fields are independent). */
void ib_probe_summary_median(const ib_probe_summary *s, int n, ib_probe_summary *out);

/* The forecast for a summary under optimiser `opt` (with its eps and the TF form's first-step
 * eps / sqrt(1 - beta2)) and a budget of `budget` steps; reason gets the evidence as text. */
ib_forecast ib_probe_forecast(const ib_probe_summary *s, ib_optim_kind opt, double eps_first_step, long long budget,
                              const char *const *layer_names, char *reason, size_t len);

/* The rule as text, for probe.json and the report. */
const char *ib_probe_forecast_rule(void);

#endif
