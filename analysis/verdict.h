/* The diagnosis per stddev, from step-0 statistics averaged over repeats, by the stated criteria
 * below (docs/REPORT.md, "Verdicts"). Internal to analysis/. */
#ifndef IB_VERDICT_H
#define IB_VERDICT_H

#include "aggregate.h"

/* ---- criteria (docs/REPORT.md) ---- */
#define VANISH_GRAD_RATIO 1e-2   /* first/last weight-gradient L2 at step 0 below this: vanishing */
#define EXPLODE_GRAD_RATIO 1e2   /* ... above this: exploding */
#define ACT_COLLAPSE_RATIO 1e-2  /* last hidden / first activation std below this: vanishing */
#define ACT_BLOWUP_RATIO 1e2     /* ... above this: exploding */
#define LOGIT_EXPLODE 1e3        /* max |logit| at step 0 above this: exploding (softmax saturated) */
#define EPS_BINDS_FRAC 0.1       /* frac_sqrt_v_below_eps above this: epsilon stops the normalisation */

typedef enum ib_verdict_kind { IB_V_HEALTHY, IB_V_VANISHING, IB_V_EXPLODING, IB_V_UNKNOWN } ib_verdict_kind;
extern const char *const ib_verdict_names[]; /* "healthy", "vanishing", "exploding", "unknown" */

typedef struct ib_verdict {
    ib_verdict_kind kind;
    double grad_ratio;  /* first / last weight-gradient L2, step 0 */
    double per_layer;   /* grad_ratio^(1/(L-1)) */
    double act_ratio;   /* last hidden / first activation std, step 0 */
    double logit_max;   /* max |preact| of the last layer, step 0 */
    double nonfinite;   /* max frac_nonfinite at step 0 */
    char why[512];      /* the criteria met, or why there is no verdict */
} ib_verdict;

/* The verdict of group g of sweep s; IB_V_UNKNOWN (numbers NAN) without step-0 statistics. */
ib_verdict ib_verdict_of(const ib_sweep_agg *s, const ib_group *g);

#endif
