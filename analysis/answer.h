/* The answer to "why does this network train at every init stddev, although signal propagation
 * predicts vanishing or exploding gradients?", per sweep, from its data (internal to analysis/;
 * docs/REPORT.md, "The answer section"): a list of claims, each with the measurement behind it
 * (file, step, layer, quantity, the mean over repeats and the value in one named run). */
#ifndef IB_ANSWER_H
#define IB_ANSWER_H

#include "aggregate.h"

typedef struct ib_claim {
    char text[1400];
    char evidence[2000];
} ib_claim;

typedef struct ib_claims {
    int n, cap;
    ib_claim *c;
} ib_claims;

/* Append the claims of sweep S[si] to C; the other sweeps of S are what it is compared with
 * (a deeper net, plain SGD). */
void ib_answer(const ib_sweep_agg *S, int n, int si, ib_claims *C);
void ib_claims_free(ib_claims *C);

#endif
