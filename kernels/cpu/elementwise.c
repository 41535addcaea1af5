/* The fast CPU backend's own memory-bound ops, the reference's results bit for bit:
 * - dropout with Philox computed for 16 blocks at once, lane by lane, so that the compiler
 *   vectorises the generator (the reference calls it once per 4 elements, serially: 0.25-0.3 ms
 *   per pass at the network's 50 x 1024, more than fc2's forward and backward together);
 * - max-pool backward and ReLU backward in one pass for 2x2/stride-2 pooling, so the full-size
 *   gradient is written once instead of written, read and written again. */
#include <omp.h>
#include <string.h>

#include "cpu_ops.h"
#include "philox.h"
#include "rng.h"

/* ---- dropout ---- */
#ifdef __clang__
/* clang warns when it cannot honour `omp simd` (it cannot under the sanitizers); a lost speed-up,
 * never a wrong result, so no error under -Werror */
#pragma clang diagnostic ignored "-Wpass-failed"
#endif
#define PHILOX_LANES 16
#define DROPOUT_GROUP (4 * PHILOX_LANES) /* elements per group of lanes */

/* Blocks first .. first + PHILOX_LANES - 1 of ib_philox4x32: the same rounds, each lane one
 * block, word k of lane j at w[4 j + k] (the order of the elements they decide). Integer
 * arithmetic only, so the words are ib_philox4x32's exactly. */
static void philox_lanes(uint64_t seed, uint64_t stream, uint64_t first, uint32_t w[4 * PHILOX_LANES]) {
    uint32_t c0[PHILOX_LANES], c1[PHILOX_LANES], c2[PHILOX_LANES], c3[PHILOX_LANES];
    for (int j = 0; j < PHILOX_LANES; j++) {
        const uint64_t index = first + (uint64_t)j;
        c0[j] = (uint32_t)index, c1[j] = (uint32_t)(index >> 32);
        c2[j] = (uint32_t)stream, c3[j] = (uint32_t)(stream >> 32);
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
#pragma omp simd
        for (int j = 0; j < PHILOX_LANES; j++) {
            const uint64_t p0 = (uint64_t)IB_PHILOX_M0 * c0[j], p1 = (uint64_t)IB_PHILOX_M1 * c2[j];
            const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[j] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3[j] ^ k1;
            c0[j] = n0, c1[j] = (uint32_t)p1, c2[j] = n2, c3[j] = (uint32_t)p0;
        }
        k0 += IB_PHILOX_W0;
        k1 += IB_PHILOX_W1;
    }
    for (int j = 0; j < PHILOX_LANES; j++) w[4 * j] = c0[j], w[4 * j + 1] = c1[j], w[4 * j + 2] = c2[j], w[4 * j + 3] = c3[j];
}

/* ib_ref_dropout_*'s rule: element i is kept when ib_u01(word i % 4 of block i / 4) < keep. */
static void dropout_lanes(size_t n, float keep, uint64_t seed, uint64_t stream, const float *in, float *out) {
    const float scale = 1.0f / keep;
    const long groups = (long)((n + DROPOUT_GROUP - 1) / DROPOUT_GROUP);
#pragma omp parallel for schedule(static)
    for (long g = 0; g < groups; g++) {
        uint32_t w[DROPOUT_GROUP];
        philox_lanes(seed, stream, (uint64_t)g * PHILOX_LANES, w);
        const size_t i0 = (size_t)g * DROPOUT_GROUP;
        const size_t len = n - i0 < DROPOUT_GROUP ? n - i0 : DROPOUT_GROUP;
        for (size_t e = 0; e < len; e++) out[i0 + e] = ib_u01(w[e]) < keep ? in[i0 + e] * scale : 0.0f;
    }
}

static void cpu_dropout_forward(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream, const float *x,
                                float *y) {
    (void)be;
    dropout_lanes(n, keep, seed, stream, x, y);
}

static void cpu_dropout_backward(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream,
                                 const float *dy, float *dx) {
    (void)be;
    dropout_lanes(n, keep, seed, stream, dy, dx);
}

/* ---- max-pool backward + activation backward ---- */
/* ReLU after 2x2/stride-2 pooling: the windows do not overlap, so the reference's pool backward
 * leaves 0 + dy[o] at the winner of window o and +0 elsewhere, and its ReLU backward keeps a
 * value where y > 0: +0 everywhere but at winners with y > 0, which are those whose pooled
 * value is > 0 (it is the winner's). So act_y is not read at all: in a training step it comes
 * from memory, four times the pooled output's bytes. Planes are a few KiB: each is zeroed and
 * filled while in L1. */
static void cpu_act_pool_backward(ib_backend *be, ib_act act, const ib_pool_shape *s, int batch, const float *act_y,
                                  const float *pool_y, const float *dy, const int32_t *argmax, float *dx) {
    if (act != IB_ACT_RELU || !ib_cpu_pool2x2_applies(s)) {
        be->pool_backward(be, s, batch, dy, argmax, dx);
        be->act_backward(be, act, (size_t)batch * s->c * s->in_h * s->in_w, act_y, dx, dx);
        return;
    }
    const long planes = (long)batch * s->c;
    const size_t in_sz = (size_t)s->in_h * s->in_w, out_sz = (size_t)s->out_h * s->out_w;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        float *dxp = dx + (size_t)p * in_sz;
        const float *pyp = pool_y + (size_t)p * out_sz, *dyp = dy + (size_t)p * out_sz;
        const int32_t *ap = argmax + (size_t)p * out_sz;
        memset(dxp, 0, in_sz * sizeof(float));
        for (size_t o = 0; o < out_sz; o++) {
            dxp[ap[o]] = pyp[o] > 0.0f ? 0.0f + dyp[o] : 0.0f;
        }
    }
}

void ib_cpu_fill_elementwise(ib_backend *be) {
    be->dropout_forward = cpu_dropout_forward;
    be->dropout_backward = cpu_dropout_backward;
    be->act_pool_backward = cpu_act_pool_backward;
}
