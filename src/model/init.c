#include "init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* Stddev of a standard normal truncated to [-2, 2]; Keras divides by it so that the
 * truncated variance-scaling draws have the intended variance. */
#define TRUNC2_STD 0.87962566103423978

static const char *const scheme_names[] = {
    "truncnormal", "normal", "uniform", "glorot_uniform", "glorot_normal", "he_normal",
    "he_uniform", "lecun_normal", "lecun_uniform", "variance_scaling", "orthogonal",
};

const char *ib_init_scheme_name(ib_init_scheme s) { return scheme_names[s]; }
const char *ib_init_scheme_names(void) {
    return "truncnormal, normal, uniform, glorot_uniform, glorot_normal, he_normal, he_uniform, "
           "lecun_normal, lecun_uniform, variance_scaling, orthogonal";
}

int ib_init_parse_scheme(const char *name, ib_init_scheme *out, ib_err *err) {
    for (size_t i = 0; i < sizeof scheme_names / sizeof scheme_names[0]; i++)
        if (!strcmp(name, scheme_names[i])) {
            *out = (ib_init_scheme)i;
            return 0;
        }
    return ib_fail(err, IB_EXIT_USAGE, "--init: unknown scheme '%s' (known: %s)", name, ib_init_scheme_names());
}

int ib_init_uses_stddev(ib_init_scheme s) {
    return s == IB_INIT_TRUNCNORMAL || s == IB_INIT_NORMAL || s == IB_INIT_UNIFORM;
}

void ib_init_resolve(ib_init_config *c) {
    switch (c->scheme) {
    case IB_INIT_GLOROT_UNIFORM: c->scale = 1, c->mode = IB_FAN_AVG, c->distribution = IB_DIST_UNIFORM; break;
    case IB_INIT_GLOROT_NORMAL: c->scale = 1, c->mode = IB_FAN_AVG, c->distribution = IB_DIST_TRUNCATED; break;
    case IB_INIT_HE_NORMAL: c->scale = 2, c->mode = IB_FAN_IN, c->distribution = IB_DIST_TRUNCATED; break;
    case IB_INIT_HE_UNIFORM: c->scale = 2, c->mode = IB_FAN_IN, c->distribution = IB_DIST_UNIFORM; break;
    case IB_INIT_LECUN_NORMAL: c->scale = 1, c->mode = IB_FAN_IN, c->distribution = IB_DIST_TRUNCATED; break;
    case IB_INIT_LECUN_UNIFORM: c->scale = 1, c->mode = IB_FAN_IN, c->distribution = IB_DIST_UNIFORM; break;
    default: break;
    }
}

void ib_fans(const int64_t *shape, int ndim, double *fan_in, double *fan_out) {
    double receptive = 1;
    for (int d = 2; d < ndim; d++) receptive *= (double)shape[d];
    *fan_in = (ndim > 1 ? (double)shape[1] : 1.0) * receptive;
    *fan_out = (double)shape[0] * receptive;
}

/* LAPACK (from OpenBLAS) for the QR factorisation of the orthogonal initialiser. */
extern void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau, double *work,
                    const int *lwork, int *info);
extern void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda, const double *tau,
                    double *work, const int *lwork, int *info);

static void init_orthogonal(double gain, uint64_t seed, uint64_t stream, int rows, int cols, float *out) {
    /* As PyTorch's orthogonal_: QR of the taller orientation, signs fixed by diag(R). */
    const int m = rows >= cols ? rows : cols, n = rows >= cols ? cols : rows;
    double *a = ib_xmalloc((size_t)m * n * sizeof(double)), *tau = ib_xmalloc((size_t)n * sizeof(double));
    for (size_t i = 0; i < (size_t)m * n; i++) a[i] = ib_normal_at(seed, stream, i);
    int info = 0, lwork = -1;
    double wq;
    dgeqrf_(&m, &n, a, &m, tau, &wq, &lwork, &info);
    lwork = (int)wq;
    double *work = ib_xmalloc((size_t)(lwork > 1 ? lwork : 1) * sizeof(double));
    dgeqrf_(&m, &n, a, &m, tau, work, &lwork, &info);
    if (info) ib_die(IB_EXIT_INTERNAL, "orthogonal init: dgeqrf failed (info %d)", info);
    double *sign = ib_xmalloc((size_t)n * sizeof(double));
    for (int j = 0; j < n; j++) sign[j] = a[j + (size_t)j * m] < 0 ? -1.0 : 1.0;
    dorgqr_(&m, &n, &n, a, &m, tau, work, &lwork, &info);
    if (info) ib_die(IB_EXIT_INTERNAL, "orthogonal init: dorgqr failed (info %d)", info);
    /* a is Q (m x n, column-major), orthonormal columns */
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double q = rows >= cols ? a[r + (size_t)c * m] * sign[c] : a[c + (size_t)r * m] * sign[r];
            out[(size_t)r * cols + c] = (float)(gain * q);
        }
    free(a);
    free(tau);
    free(work);
    free(sign);
}

void ib_init_weight(const ib_init_config *cfg, uint64_t seed, uint32_t param_index, const int64_t *shape,
                    int ndim, float *out) {
    ib_init_config c = *cfg;
    ib_init_resolve(&c);
    const uint64_t stream = ib_stream(IB_RNG_INIT, 0, param_index);
    size_t count = 1;
    for (int d = 0; d < ndim; d++) count *= (size_t)shape[d];

    double std = c.stddev;
    ib_distribution dist = c.scheme == IB_INIT_TRUNCNORMAL ? IB_DIST_TRUNCATED
                         : c.scheme == IB_INIT_NORMAL      ? IB_DIST_NORMAL
                                                            : IB_DIST_UNIFORM;
    if (c.scheme == IB_INIT_ORTHOGONAL) {
        init_orthogonal(c.scale, seed, stream, (int)shape[0], (int)(count / (size_t)shape[0]), out);
        return;
    }
    if (!ib_init_uses_stddev(c.scheme)) {
        double fan_in, fan_out;
        ib_fans(shape, ndim, &fan_in, &fan_out);
        double fan = c.mode == IB_FAN_IN ? fan_in : c.mode == IB_FAN_OUT ? fan_out : 0.5 * (fan_in + fan_out);
        std = sqrt(c.scale / fan);
        dist = c.distribution;
        if (dist == IB_DIST_TRUNCATED) std /= TRUNC2_STD;
    }
    for (size_t i = 0; i < count; i++) {
        double z;
        switch (dist) {
        case IB_DIST_TRUNCATED: z = ib_truncnormal_at(seed, stream, i); break;
        case IB_DIST_NORMAL: z = ib_normal_at(seed, stream, i); break;
        default: z = sqrt(3.0) * (2.0 * (double)ib_uniform_at(seed, stream, i) - 1.0); break;
        }
        out[i] = (float)(std * z);
    }
}

double ib_init_weight_variance(const ib_init_config *cfg, const int64_t *shape, int ndim) {
    ib_init_config c = *cfg;
    ib_init_resolve(&c);
    double fan_in, fan_out;
    ib_fans(shape, ndim, &fan_in, &fan_out);
    if (c.scheme == IB_INIT_ORTHOGONAL) /* rows (or columns) of norm gain: gain^2 over the longer side */
        return c.scale * c.scale / fmax((double)shape[0], fan_in);
    if (ib_init_uses_stddev(c.scheme))
        return c.scheme == IB_INIT_TRUNCNORMAL ? (TRUNC2_STD * c.stddev) * (TRUNC2_STD * c.stddev) : c.stddev * c.stddev;
    double fan = c.mode == IB_FAN_IN ? fan_in : c.mode == IB_FAN_OUT ? fan_out : 0.5 * (fan_in + fan_out);
    return c.scale / fan; /* truncated draws are rescaled to this variance */
}
