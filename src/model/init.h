/* Weight initialisers. Every draw comes from the counter-based RNG with stream
 * (IB_RNG_INIT, parameter index), so a parameter's values depend only on (seed, index, scheme). */
#ifndef IB_INIT_H
#define IB_INIT_H

#include <stdint.h>
#include "util.h"

typedef enum ib_init_scheme {
    IB_INIT_TRUNCNORMAL,  /* TF truncated_normal(stddev): |z| > 2 redrawn; realised std 0.88 s */
    IB_INIT_NORMAL,       /* N(0, stddev^2) */
    IB_INIT_UNIFORM,      /* U(-sqrt(3) s, sqrt(3) s): its stddev is s */
    IB_INIT_GLOROT_UNIFORM, IB_INIT_GLOROT_NORMAL,
    IB_INIT_HE_NORMAL, IB_INIT_HE_UNIFORM,
    IB_INIT_LECUN_NORMAL, IB_INIT_LECUN_UNIFORM,
    IB_INIT_VARIANCE_SCALING, /* scale, mode and distribution given explicitly */
    IB_INIT_ORTHOGONAL,       /* gain * Q from the QR of a Gaussian matrix (Saxe et al. 2014) */
} ib_init_scheme;

typedef enum ib_fan_mode { IB_FAN_IN, IB_FAN_OUT, IB_FAN_AVG } ib_fan_mode;
typedef enum ib_distribution { IB_DIST_TRUNCATED, IB_DIST_NORMAL, IB_DIST_UNIFORM } ib_distribution;

typedef struct ib_init_config {
    ib_init_scheme scheme;
    double stddev;   /* for truncnormal, normal, uniform */
    double scale;    /* variance scaling factor; orthogonal gain */
    ib_fan_mode mode;
    ib_distribution distribution;
    double bias;     /* constant bias value */
} ib_init_config;

int ib_init_parse_scheme(const char *name, ib_init_scheme *out, ib_err *err);
const char *ib_init_scheme_name(ib_init_scheme s);
const char *ib_init_scheme_names(void);
/* 1 when the scheme takes its scale from --stddev (the sweep parameter). */
int ib_init_uses_stddev(ib_init_scheme s);
/* Resolve aliases (glorot_*, he_*, lecun_*) to variance scaling parameters. */
void ib_init_resolve(ib_init_config *cfg);

/* Fill a weight tensor of PyTorch layout [out, in, (k, k)]; fans from the shape. */
void ib_init_weight(const ib_init_config *cfg, uint64_t seed, uint32_t param_index, const int64_t *shape,
                    int ndim, float *out);
/* The variance of each weight of a tensor of this shape as the initialiser draws it (the truncated
 * normal's realised 0.774 s^2, variance scaling's scale / fan, orthogonal's gain^2 / max(rows, cols)):
 * what mean-field theory calls sigma_w^2 / fan_in. */
double ib_init_weight_variance(const ib_init_config *cfg, const int64_t *shape, int ndim);
void ib_fans(const int64_t *shape, int ndim, double *fan_in, double *fan_out);

#endif
