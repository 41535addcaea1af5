/* Philox4x32-10 (Salmon et al. 2011), the one copy of the generator: host C (kernels/rng.c builds
 * the initialisers' and the CPU backends' draws on it) and CUDA device code include it, so the GPU
 * draws the very same dropout masks. tests/test_philox.c checks it against the published
 * known-answer vectors and the device copy against the host word for word. */
#ifndef IB_PHILOX_H
#define IB_PHILOX_H

#include <stdint.h>

#if defined(__CUDACC__)
#define IB_HD __host__ __device__
#else
#define IB_HD
#endif

#define IB_PHILOX_M0 0xD2511F53u
#define IB_PHILOX_M1 0xCD9E8D57u
#define IB_PHILOX_W0 0x9E3779B9u
#define IB_PHILOX_W1 0xBB67AE85u

/* Four 32-bit words for block `index` of stream `stream` under key `seed` (= ib_philox). */
static inline IB_HD void ib_philox4x32(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = (uint32_t)stream,
             c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)IB_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)IB_PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += IB_PHILOX_W0;
        k1 += IB_PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Uniform in [0, 1) with 24 random bits (= ib_u01): exact in float, no rounding involved. */
static inline IB_HD float ib_philox_u01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

#endif

