/* Counter-based RNG (Philox4x32-10, Salmon et al. 2011): random = f(seed, stream, index).
 * No state is carried between draws, so any element can be drawn by any thread (or by the
 * GPU) and a run is bitwise reproducible whatever the thread count. */
#ifndef IB_RNG_H
#define IB_RNG_H

#include <stdint.h>

#include "philox.h"

/* Purposes, in the top byte of a stream id, keep the draws of different consumers apart. */
enum { IB_RNG_INIT = 1, IB_RNG_SHUFFLE = 2, IB_RNG_DROPOUT = 3, IB_RNG_TEST = 4 };

static inline uint64_t ib_stream(unsigned purpose, uint32_t a, uint32_t b) {
    return ((uint64_t)(purpose & 0xffu) << 56) | ((uint64_t)(a & 0xffffffu) << 32) | b;
}

/* Four 32-bit words for block `index` of stream `stream` under key `seed`. */
void ib_philox(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]);

/* Uniform in [0, 1) with 24 random bits (exactly representable as float): philox.h's. */
static inline float ib_u01(uint32_t x) { return ib_philox_u01(x); }
/* Uniform in (0, 1]: safe for log(). */
static inline double ib_u01_open0(uint32_t x) { return ((double)(x >> 8) + 1.0) * (1.0 / 16777216.0); }

/* Element i of a uniform [0,1) sequence: block i/4, word i%4. */
float ib_uniform_at(uint64_t seed, uint64_t stream, uint64_t i);

/* Two standard normals (Box-Muller) from block `index`. */
void ib_normal2(uint64_t seed, uint64_t stream, uint64_t index, double z[2]);

/* Element i of a standard normal sequence truncated to |z| <= 2 with TensorFlow's semantics:
 * draws outside the bounds are redrawn (not clipped). Attempts use disjoint counter ranges. */
double ib_truncnormal_at(uint64_t seed, uint64_t stream, uint64_t i);
double ib_normal_at(uint64_t seed, uint64_t stream, uint64_t i);

#endif
