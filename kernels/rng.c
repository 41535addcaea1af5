#include "rng.h"

#include "philox.h"

#include <math.h>

/* The generator itself is philox.h's, the one the CUDA kernels compile too. */
void ib_philox(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]) {
    ib_philox4x32(seed, stream, index, out);
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
