/* Index arithmetic shared by the CUDA kernels and the CPU-side test (tests/test_cuda_math.c), so
 * the parts most easy to get wrong are checked against ref.c without a GPU. */
#ifndef IB_CUDA_MATH_H
#define IB_CUDA_MATH_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "philox.h" /* IB_HD */

/* dx at flat input index idx (over batch * c planes of in_h x in_w): the gather form of ref.c's
 * scatter. The input cell adds, in increasing output order, the gradients of the outputs whose
 * winner it is, starting from 0 as ref.c does: the same sum in the same order, so the same bits.
 * Output row i covers input rows i*stride - pad_top .. + k-1. */
static inline IB_HD float ib_pool_backward_at(const ib_pool_shape *s, size_t idx, const float *dy,
                                              const int32_t *argmax) {
    const int IH = s->in_h, IW = s->in_w, OH = s->out_h, OW = s->out_w;
    const int xj = (int)(idx % (size_t)IW);
    const size_t r = idx / (size_t)IW;
    const int yi = (int)(r % (size_t)IH);
    const size_t p = r / (size_t)IH;
    const int self = yi * IW + xj;
    int lo_i = yi + s->pad_top - s->k + 1, hi_i = (yi + s->pad_top) / s->stride;
    int lo_j = xj + s->pad_left - s->k + 1, hi_j = (xj + s->pad_left) / s->stride;
    lo_i = lo_i <= 0 ? 0 : (lo_i + s->stride - 1) / s->stride;
    lo_j = lo_j <= 0 ? 0 : (lo_j + s->stride - 1) / s->stride;
    if (hi_i > OH - 1) hi_i = OH - 1;
    if (hi_j > OW - 1) hi_j = OW - 1;
    float acc = 0.0f;
    for (int i = lo_i; i <= hi_i; i++)
        for (int j = lo_j; j <= hi_j; j++) {
            size_t o = (p * (size_t)OH + (size_t)i) * (size_t)OW + (size_t)j;
            if (argmax[o] == self) acc += dy[o];
        }
    return acc;
}

#endif
