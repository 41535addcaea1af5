/* One sample's softmax cross-entropy, shared by the ref backend and the CUDA kernel so that both
 * compute the very same expression (log-softmax in double). */
#ifndef IB_SOFTMAX_XENT_H
#define IB_SOFTMAX_XENT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "philox.h" /* IB_HD */

/* Returns logsumexp(z) - z[label]; *correct = (first argmax == label); unless dz is NULL,
 * dz = (softmax(z) - onehot(label)) * grad_scale. */
static inline IB_HD double ib_xent_row(const float *z, int classes, int label, float grad_scale, float *dz,
                                       int *correct) {
    int arg = 0;
    for (int c = 1; c < classes; c++)
        if (z[c] > z[arg]) arg = c;
    double zmax = z[arg], sum = 0;
    for (int c = 0; c < classes; c++) sum += exp((double)z[c] - zmax);
    double log_sum = log(sum);
    *correct = arg == label;
    if (dz)
        for (int c = 0; c < classes; c++) {
            double p = exp((double)z[c] - zmax - log_sum);
            dz[c] = (float)((p - (c == label)) * grad_scale);
        }
    return zmax + log_sum - (double)z[label];
}

#endif
