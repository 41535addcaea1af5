#include "rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void philox_round(uint32_t c[4], const uint32_t k[2]) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0];
    uint32_t n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

void ib_philox(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]) {
    uint32_t c[4] = {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    uint32_t k[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int r = 0; r < 10; r++) {
        philox_round(c, k);
        k[0] += PHILOX_W0;
        k[1] += PHILOX_W1;
    }
    out[0] = c[0];
    out[1] = c[1];
    out[2] = c[2];
    out[3] = c[3];
}

float ib_uniform_at(uint64_t seed, uint64_t stream, uint64_t i) {
    uint32_t w[4];
    ib_philox(seed, stream, i >> 2, w);
    return ib_u01(w[i & 3]);
}

void ib_normal2(uint64_t seed, uint64_t stream, uint64_t index, double z[2]) {
    uint32_t w[4];
    ib_philox(seed, stream, index, w);
    /* 53-bit uniforms from word pairs: the normal's tails need more than 24 bits. */
    const double two53 = 9007199254740992.0;
    double u1 = ((double)((((uint64_t)w[0] << 32) | w[1]) >> 11) + 1.0) / two53; /* (0, 1] */
    double u2 = (double)((((uint64_t)w[2] << 32) | w[3]) >> 11) / two53;         /* [0, 1) */
    double r = sqrt(-2.0 * log(u1));
    z[0] = r * cos(2.0 * M_PI * u2);
    z[1] = r * sin(2.0 * M_PI * u2);
}

double ib_normal_at(uint64_t seed, uint64_t stream, uint64_t i) {
    double z[2];
    ib_normal2(seed, stream, i >> 1, z);
    return z[i & 1];
}

double ib_truncnormal_at(uint64_t seed, uint64_t stream, uint64_t i) {
    /* Attempt a uses block index (a << 40) | i: tensors stay far below 2^40 elements. */
    for (uint64_t a = 0;; a++) {
        double z[2];
        ib_normal2(seed, stream, (a << 40) | i, z);
        if (fabs(z[0]) <= 2.0) return z[0];
        if (fabs(z[1]) <= 2.0) return z[1];
    }
}
