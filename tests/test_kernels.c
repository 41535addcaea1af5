/* RNG known answers and distributions, initialisers, gradient checks of every op and of whole
 * networks against finite differences (reference backend; conv and fc of the fast CPU backend
 * too), and each optimiser against a hand-computed step. Backends against each other:
 * tests/kernels/test_backend_ops.c. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "init.h"
#include "net.h"
#include "rng.h"
#include "spec.h"

static float frand(uint64_t i, uint32_t stream) { return 2.0f * ib_uniform_at(99, ib_stream(IB_RNG_TEST, 0, stream), i) - 1.0f; }
static void fill_rand(float *x, size_t n, uint32_t stream, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * frand(i, stream);
}

/* ---------------- RNG ---------------- */
static void test_philox_known_answers(void) {
    /* Random123's kat_vectors for philox4x32-10 (counter words, key words -> output). */
    uint32_t out[4];
    ib_philox(0, 0, 0, out);
    CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu && out[3] == 0x9b00dbd8u,
          "zero counter/key gave %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    ib_philox(0xffffffffffffffffull, 0xffffffffffffffffull, 0xffffffffffffffffull, out);
    CHECK(out[0] == 0x408f276du && out[1] == 0x41c83b0eu && out[2] == 0xa20bc7c6u && out[3] == 0x6d5451fdu,
          "all-ones gave %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    ib_philox(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull, out);
    CHECK(out[0] == 0xd16cfe09u && out[1] == 0x94fdccebu && out[2] == 0x5001e420u && out[3] == 0x24126ea1u,
          "pi digits gave %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
}

static void test_uniform_distribution(void) {
    /* chi-square over 100 bins, 1e6 draws: 99 dof, 99.9th percentile about 148 */
    enum { BINS = 100, N = 1000000 };
    static int hist[BINS];
    memset(hist, 0, sizeof hist);
    for (int i = 0; i < N; i++) {
        float u = ib_uniform_at(7, ib_stream(IB_RNG_TEST, 1, 2), (uint64_t)i);
        CHECK(u >= 0.0f && u < 1.0f, "uniform out of [0,1): %g", u);
        hist[(int)(u * BINS)]++;
    }
    double chi2 = 0, e = (double)N / BINS;
    for (int b = 0; b < BINS; b++) chi2 += (hist[b] - e) * (hist[b] - e) / e;
    CHECK(chi2 < 148.0, "uniform chi-square %.1f over 99 dof", chi2);
    /* different streams and seeds give different sequences */
    CHECK(ib_uniform_at(7, 1, 0) != ib_uniform_at(7, 2, 0) || ib_uniform_at(7, 1, 1) != ib_uniform_at(7, 2, 1),
          "streams 1 and 2 coincide");
}

/* Standard normal CDF and the truncated normal's CDF on [-2, 2]. */
static double phi_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

static void test_truncated_normal(void) {
    enum { N = 200000 };
    const double s = 0.37;
    int64_t shape[2] = {400, 500};
    float *w = malloc(sizeof(float) * N);
    ib_init_config cfg = {.scheme = IB_INIT_TRUNCNORMAL, .stddev = s};
    ib_init_weight(&cfg, 123, 0, shape, 2, w);
    double sum = 0, sum2 = 0, sum4 = 0, maxabs = 0;
    for (int i = 0; i < N; i++) {
        double x = w[i] / s;
        sum += x, sum2 += x * x, sum4 += x * x * x * x;
        maxabs = fmax(maxabs, fabs(x));
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    /* docs/THEORY.md, "TensorFlow's truncated normal": realised std = s * sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)) = 0.8796 s */
    double z = 2.0, pdf2 = exp(-2.0) / sqrt(2 * M_PI), mass = 2 * phi_cdf(z) - 1;
    double var_theory = 1 - 2 * z * pdf2 / mass;
    CHECK(maxabs <= 2.0 + 1e-6, "a draw lies beyond 2 stddev: %g", maxabs);
    CHECK(fabs(mean) < 4 * sqrt(var_theory / N), "mean %.5f too far from 0", mean);
    CHECK_REL(sqrt(var), 0.87962566, 0.005, 0);
    CHECK_REL(var, var_theory, 0.01, 0);
    /* kurtosis of the 2-sigma truncated normal is about 2.37 (a plain normal's is 3) */
    double kurt = (sum4 / N) / (var * var);
    CHECK(kurt > 2.2 && kurt < 2.55, "kurtosis %.3f not that of a truncated normal", kurt);
    /* Kolmogorov-Smirnov against the truncated CDF: critical value 1.63/sqrt(N) at 1% */
    float *sorted = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) sorted[i] = (float)(w[i] / s);
    int cmp(const void *a, const void *b);
    qsort(sorted, N, sizeof(float), (int (*)(const void *, const void *))cmp);
    double dmax = 0;
    for (int i = 0; i < N; i++) {
        double F = (phi_cdf(sorted[i]) - phi_cdf(-2)) / mass;
        dmax = fmax(dmax, fmax(fabs(F - (double)i / N), fabs(F - (double)(i + 1) / N)));
    }
    CHECK(dmax < 1.63 / sqrt((double)N), "KS distance %.5f against the truncated normal", dmax);
    /* same seed, same parameter index: identical; another index: different */
    float *w2 = malloc(sizeof(float) * N);
    ib_init_weight(&cfg, 123, 0, shape, 2, w2);
    CHECK(memcmp(w, w2, sizeof(float) * N) == 0, "init not reproducible");
    ib_init_weight(&cfg, 123, 1, shape, 2, w2);
    CHECK(memcmp(w, w2, sizeof(float) * N) != 0, "parameter streams coincide");
    free(w), free(w2), free(sorted);
}
int cmp(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double sample_var(const float *x, size_t n) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += x[i], s2 += (double)x[i] * x[i];
    return s2 / n - (s / n) * (s / n);
}

static void test_scaled_initialisers(void) {
    int64_t conv[4] = {64, 32, 5, 5}; /* fan_in 800, fan_out 1600 */
    size_t n = 64 * 32 * 25;
    float *w = malloc(sizeof(float) * n);
    struct { ib_init_scheme s; double var; const char *name; } cases[] = {
        {IB_INIT_HE_NORMAL, 2.0 / 800, "he_normal"},
        {IB_INIT_HE_UNIFORM, 2.0 / 800, "he_uniform"},
        {IB_INIT_LECUN_NORMAL, 1.0 / 800, "lecun_normal"},
        {IB_INIT_LECUN_UNIFORM, 1.0 / 800, "lecun_uniform"},
        {IB_INIT_GLOROT_NORMAL, 2.0 / 2400, "glorot_normal"},
        {IB_INIT_GLOROT_UNIFORM, 2.0 / 2400, "glorot_uniform"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ib_init_config cfg = {.scheme = cases[c].s};
        ib_init_weight(&cfg, 5, 3, conv, 4, w);
        double v = sample_var(w, n);
        /* 51200 draws: the sample variance is within 3% with overwhelming probability */
        CHECK(fabs(v / cases[c].var - 1) < 0.03, "%s: variance %.4g, expected %.4g", cases[c].name, v, cases[c].var);
    }
    ib_init_config u = {.scheme = IB_INIT_UNIFORM, .stddev = 0.5};
    ib_init_weight(&u, 5, 3, conv, 4, w);
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(w[i]));
    CHECK(mx <= 0.5 * sqrt(3.0) + 1e-6 && mx > 0.85, "uniform bound %g", mx);
    CHECK(fabs(sample_var(w, n) / 0.25 - 1) < 0.03, "uniform variance %g", sample_var(w, n));
    ib_init_config vs = {.scheme = IB_INIT_VARIANCE_SCALING, .scale = 3.0, .mode = IB_FAN_OUT,
                         .distribution = IB_DIST_NORMAL};
    ib_init_weight(&vs, 5, 3, conv, 4, w);
    CHECK(fabs(sample_var(w, n) / (3.0 / 1600) - 1) < 0.03, "variance_scaling fan_out variance %g", sample_var(w, n));
    free(w);

    /* orthogonal: rows orthonormal (wide) or columns orthonormal (tall), times the gain */
    int64_t shapes[2][2] = {{20, 50}, {50, 20}};
    for (int s = 0; s < 2; s++) {
        int r = (int)shapes[s][0], cdim = (int)shapes[s][1];
        float *q = malloc(sizeof(float) * r * cdim);
        ib_init_config o = {.scheme = IB_INIT_ORTHOGONAL, .scale = 1.5};
        ib_init_weight(&o, 9, 0, shapes[s], 2, q);
        double worst = 0;
        int small = r < cdim ? r : cdim;
        for (int a = 0; a < small; a++)
            for (int b = 0; b < small; b++) {
                double dot = 0;
                for (int k = 0; k < (r < cdim ? cdim : r); k++)
                    dot += r < cdim ? (double)q[a * cdim + k] * q[b * cdim + k] : (double)q[k * cdim + a] * q[k * cdim + b];
                worst = fmax(worst, fabs(dot - (a == b ? 2.25 : 0.0)));
            }
        CHECK(worst < 1e-5, "orthogonal %dx%d: Gram matrix off gain^2 I by %g", r, cdim, worst);
        free(q);
    }
}

/* ---------------- gradient checks (reference backend) ---------------- */
static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Compare an analytic gradient with central differences of L(x) = <r, f(x)>. */
typedef void (*fwd_fn)(void *ctx, const float *x, float *y);
static double numeric_grad(void *ctx, fwd_fn f, float *x, size_t i, const float *r, float *y, size_t ny, float h) {
    float saved = x[i];
    x[i] = saved + h;
    f(ctx, x, y);
    double lp = dot(r, y, ny);
    x[i] = saved - h;
    f(ctx, x, y);
    double lm = dot(r, y, ny);
    x[i] = saved;
    return (lp - lm) / (2.0 * (double)h);
}

static void check_grad_vector(const char *what, const float *analytic, const double *numeric, size_t n, double tol) {
    double scale = 1e-6, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(numeric[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs(analytic[i] - numeric[i]) / scale;
        if (e > worst) worst = e, at = i;
    }
    CHECK(worst <= tol, "%s: gradient error %.3g at %zu (analytic %.6g, numeric %.6g)", what, worst, at,
          (double)analytic[at], numeric[at]);
}

typedef struct conv_ctx {
    ib_backend *be;
    void *plan;
    int batch;
    float *x, *w, *b;
    int which; /* 0: vary x, 1: vary w, 2: vary b */
} conv_ctx;

static void conv_fwd_vary(void *vctx, const float *v, float *y) {
    conv_ctx *c = vctx;
    const float *x = c->which == 0 ? v : c->x, *w = c->which == 1 ? v : c->w, *b = c->which == 2 ? v : c->b;
    c->be->conv_forward(c->be, c->plan, c->batch, x, w, b, y);
}

static void test_conv_gradients(ib_backend *be, int k) {
    ib_conv_shape s = {2, 3, 7, 6, 4, k};
    size_t nx = 2 * 3 * 7 * 6, nw = 4 * 3 * k * k, nb = 4, ny = 2 * 4 * 7 * 6;
    float *x = malloc(4 * nx), *w = malloc(4 * nw), *b = malloc(4 * nb), *y = malloc(4 * ny), *r = malloc(4 * ny);
    float *dx = malloc(4 * nx), *dw = malloc(4 * nw), *db = malloc(4 * nb);
    fill_rand(x, nx, 1, 1), fill_rand(w, nw, 2, 0.5f), fill_rand(b, nb, 3, 0.5f), fill_rand(r, ny, 4, 1);
    void *plan = be->conv_plan(be, &s);
    be->conv_backward(be, plan, 2, x, w, r, dx, dw, db);
    conv_ctx ctx = {be, plan, 2, x, w, b, 0};
    float *vars[3] = {x, w, b}, *grads[3] = {dx, dw, db};
    size_t sizes[3] = {nx, nw, nb};
    const char *names[3] = {"conv dx", "conv dw", "conv db"};
    for (int v = 0; v < 3; v++) {
        ctx.which = v;
        double *num = malloc(sizeof(double) * sizes[v]);
        for (size_t i = 0; i < sizes[v]; i++) num[i] = numeric_grad(&ctx, conv_fwd_vary, vars[v], i, r, y, ny, 1e-2f);
        char what[64];
        snprintf(what, sizeof what, "%s (%s, k=%d)", names[v], be->name, k);
        check_grad_vector(what, grads[v], num, sizes[v], 2e-3);
        free(num);
    }
    be->conv_plan_free(be, plan);
    free(x), free(w), free(b), free(y), free(r), free(dx), free(dw), free(db);
}

typedef struct fc_ctx {
    ib_backend *be;
    int batch, in, out, which;
    float *x, *w, *b;
} fc_ctx;

static void fc_fwd_vary(void *vctx, const float *v, float *y) {
    fc_ctx *c = vctx;
    c->be->fc_forward(c->be, c->batch, c->in, c->out, c->which == 0 ? v : c->x, c->which == 1 ? v : c->w,
                      c->which == 2 ? v : c->b, y);
}

static void test_fc_gradients(ib_backend *be) {
    int B = 3, I = 17, O = 5;
    float *x = malloc(4 * B * I), *w = malloc(4 * O * I), *b = malloc(4 * O), *y = malloc(4 * B * O), *r = malloc(4 * B * O);
    float *dx = malloc(4 * B * I), *dw = malloc(4 * O * I), *db = malloc(4 * O);
    fill_rand(x, B * I, 5, 1), fill_rand(w, O * I, 6, 1), fill_rand(b, O, 7, 1), fill_rand(r, B * O, 8, 1);
    be->fc_backward(be, B, I, O, x, w, r, dx, dw, db);
    fc_ctx ctx = {be, B, I, O, 0, x, w, b};
    float *vars[3] = {x, w, b}, *grads[3] = {dx, dw, db};
    size_t sizes[3] = {(size_t)B * I, (size_t)O * I, (size_t)O};
    const char *names[3] = {"fc dx", "fc dw", "fc db"};
    for (int v = 0; v < 3; v++) {
        ctx.which = v;
        double *num = malloc(sizeof(double) * sizes[v]);
        for (size_t i = 0; i < sizes[v]; i++) num[i] = numeric_grad(&ctx, fc_fwd_vary, vars[v], i, r, y, B * O, 1e-2f);
        char what[64];
        snprintf(what, sizeof what, "%s (%s)", names[v], be->name);
        check_grad_vector(what, grads[v], num, sizes[v], 2e-3);
        free(num);
    }
    free(x), free(w), free(b), free(y), free(r), free(dx), free(dw), free(db);
}

typedef struct pool_ctx {
    ib_backend *be;
    ib_pool_shape s;
    int batch;
    int32_t *argmax;
} pool_ctx;

static void pool_fwd(void *vctx, const float *x, float *y) {
    pool_ctx *c = vctx;
    c->be->pool_forward(c->be, &c->s, c->batch, x, y, c->argmax);
}

static void test_pool_gradients(ib_backend *be) {
    /* odd sizes exercise TF's SAME padding; k=3/s=2 overlapping windows */
    int dims[][4] = {{7, 5, 2, 2}, {8, 8, 2, 2}, {7, 7, 3, 2}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        ib_pool_shape s = ib_pool_make(3, dims[d][0], dims[d][1], dims[d][2], dims[d][3]);
        int B = 2;
        size_t nx = (size_t)B * 3 * s.in_h * s.in_w, ny = (size_t)B * 3 * s.out_h * s.out_w;
        float *x = malloc(4 * nx), *y = malloc(4 * ny), *r = malloc(4 * ny), *dx = malloc(4 * nx);
        int32_t *am = malloc(4 * ny);
        /* distinct values spaced 1e-2 apart so a 1e-3 nudge never changes a winner */
        for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 7919) % nx) * 1e-2f - 0.3f;
        fill_rand(r, ny, 9, 1);
        pool_ctx ctx = {be, s, B, am};
        pool_fwd(&ctx, x, y);
        CHECK(s.out_h == (dims[d][0] + dims[d][3] - 1) / dims[d][3], "SAME output height %d", s.out_h);
        be->pool_backward(be, &s, B, r, am, dx);
        double *num = malloc(sizeof(double) * nx);
        for (size_t i = 0; i < nx; i++) num[i] = numeric_grad(&ctx, pool_fwd, x, i, r, y, ny, 1e-3f);
        char what[64];
        snprintf(what, sizeof what, "maxpool %dx%d k%d s%d", dims[d][0], dims[d][1], dims[d][2], dims[d][3]);
        check_grad_vector(what, dx, num, nx, 1e-2);
        free(x), free(y), free(r), free(dx), free(am), free(num);
    }
}

typedef struct act_ctx {
    ib_backend *be;
    ib_act act;
    size_t n;
} act_ctx;
static void act_fwd(void *vctx, const float *x, float *y) {
    act_ctx *c = vctx;
    c->be->act_forward(c->be, c->act, c->n, x, y);
}

static void test_act_gradients(ib_backend *be) {
    const char *names[] = {"relu", "tanh", "sigmoid"};
    for (int a = 0; a < 3; a++) {
        size_t n = 200;
        float *x = malloc(4 * n), *y = malloc(4 * n), *r = malloc(4 * n), *dx = malloc(4 * n);
        fill_rand(x, n, 10, 3);
        for (size_t i = 0; i < n; i++)
            if (fabsf(x[i]) < 0.05f) x[i] = 0.1f; /* keep relu's kink out of reach of the nudge */
        fill_rand(r, n, 11, 1);
        act_ctx ctx = {be, (ib_act)a, n};
        act_fwd(&ctx, x, y);
        be->act_backward(be, (ib_act)a, n, y, r, dx);
        double *num = malloc(sizeof(double) * n);
        for (size_t i = 0; i < n; i++) num[i] = numeric_grad(&ctx, act_fwd, x, i, r, y, n, 1e-3f);
        check_grad_vector(names[a], dx, num, n, 5e-3);
        free(x), free(y), free(r), free(dx), free(num);
    }
}

static void test_dropout(ib_backend *be) {
    size_t n = 100000;
    float keep = 0.5f;
    float *x = malloc(4 * n), *y = malloc(4 * n), *dy = malloc(4 * n), *dx = malloc(4 * n);
    for (size_t i = 0; i < n; i++) x[i] = 1.0f + (float)(i % 7), dy[i] = 2.0f;
    uint64_t stream = ib_stream(IB_RNG_DROPOUT, 8, 42);
    be->dropout_forward(be, n, keep, 3, stream, x, y);
    be->dropout_backward(be, n, keep, 3, stream, dy, dx);
    size_t kept = 0;
    int consistent = 1, scaled = 1;
    for (size_t i = 0; i < n; i++) {
        int k = y[i] != 0.0f;
        kept += k;
        if (k != (dx[i] != 0.0f)) consistent = 0;
        if (k && (y[i] != x[i] * 2.0f || dx[i] != 4.0f)) scaled = 0;
    }
    /* binomial(1e5, 0.5): 4.5 sigma is about 711 */
    CHECK(labs((long)kept - 50000) < 711, "dropout kept %zu of 100000 at keep 0.5", kept);
    CHECK(consistent, "backward mask differs from forward mask");
    CHECK(scaled, "kept units not scaled by 1/keep");
    be->dropout_forward(be, n, keep, 3, ib_stream(IB_RNG_DROPOUT, 8, 43), x, dx);
    CHECK(memcmp(y, dx, 4 * n) != 0, "dropout masks of consecutive steps coincide");
    free(x), free(y), free(dy), free(dx);
}

typedef struct xent_ctx {
    ib_backend *be;
    int batch, classes;
    int32_t *labels;
} xent_ctx;
static void xent_fwd(void *vctx, const float *z, float *y) {
    xent_ctx *c = vctx;
    double loss;
    int right;
    c->be->softmax_xent(c->be, c->batch, c->classes, z, c->labels, 1.0f, NULL, &loss, &right);
    y[0] = (float)(loss / c->batch);
}

static void test_softmax_xent(ib_backend *be) {
    int B = 4, C = 10;
    float z[40], dz[40], y[1], r[1] = {1.0f};
    int32_t labels[4] = {3, 0, 9, 3};
    fill_rand(z, 40, 12, 4);
    xent_ctx ctx = {be, B, C, labels};
    double loss;
    int right;
    be->softmax_xent(be, B, C, z, labels, 1.0f / B, dz, &loss, &right);
    double num[40];
    for (int i = 0; i < 40; i++) num[i] = numeric_grad(&ctx, xent_fwd, z, (size_t)i, r, y, 1, 1e-2f);
    check_grad_vector("softmax cross-entropy", dz, num, 40, 5e-3);
    /* huge logits (w = 1 reaches 1e5): finite loss, exact when one logit dominates */
    float big[10] = {0};
    big[2] = 1e5f;
    int32_t l0[1] = {0}, l2[1] = {2};
    be->softmax_xent(be, 1, 10, big, l0, 1.0f, NULL, &loss, &right);
    CHECK(isfinite(loss) && fabs(loss - 1e5) < 1e-6 * 1e5, "loss at logit 1e5: %g", loss);
    be->softmax_xent(be, 1, 10, big, l2, 1.0f, NULL, &loss, &right);
    CHECK(loss >= 0 && loss < 1e-30 + 1e-12 && right == 1, "loss when right with logit 1e5: %g", loss);
}

/* Whole network: mean cross-entropy through every layer kind, dropout included (its mask is a
 * fixed function of (seed, step)), checked against central differences for every parameter. */
static void test_network_gradient(const char *spec_text, int in_hw) {
    ib_err err;
    ib_net_spec spec;
    CHECK(ib_spec_parse(spec_text, &spec, &err) == 0, "spec: %s", err.msg);
    ib_backend *be = ib_backend_ref_create(1);
    ib_net net;
    int B = 3;
    CHECK(ib_net_build(&net, &spec, 1, in_hw, in_hw, 10, B, be, &err) == 0, "build: %s", err.msg);
    ib_init_config ic = {.scheme = IB_INIT_GLOROT_NORMAL, .bias = 0.05};
    ib_net_init_params(&net, &ic, 17);
    fill_rand(net.input, (size_t)B * in_hw * in_hw, 13, 1);
    for (int b = 0; b < B; b++) net.labels[b] = (b * 7) % 10;
    ib_net_forward(&net, B, 1, 5, 3);
    double loss;
    int right;
    ib_net_loss(&net, B, 1, &loss, &right);
    ib_net_backward(&net, B, 5, 3);
    /* h small enough that no pooling window changes its winner, large enough for float */
    const float h = 1e-4f;
    double worst = 0;
    const char *worst_name = "";
    for (int p = 0; p < net.n_params; p++) {
        const ib_param *P = &net.params[p];
        double scale = 1e-8;
        double *num = malloc(sizeof(double) * P->count);
        for (size_t i = 0; i < P->count; i++) {
            float *v = net.param + P->offset + i, saved = *v;
            double lp, lm;
            *v = saved + h;
            ib_net_forward(&net, B, 1, 5, 3);
            ib_net_loss(&net, B, 0, &lp, &right);
            *v = saved - h;
            ib_net_forward(&net, B, 1, 5, 3);
            ib_net_loss(&net, B, 0, &lm, &right);
            *v = saved;
            num[i] = (lp - lm) / B / (2.0 * (double)h);
            scale = fmax(scale, fabs(num[i]));
        }
        for (size_t i = 0; i < P->count; i++) {
            double e = fabs(net.grad[P->offset + i] - num[i]) / scale;
            if (e > worst) worst = e, worst_name = P->name;
        }
        free(num);
    }
    /* second-order terms of the nonlinearities at h = 1e-2 bound the agreement */
    CHECK(worst < 2e-2, "network %s: worst relative gradient error %.3g in %s", spec_text, worst, worst_name);
    ib_net_free(&net);
    be->destroy(be);
}

/* ---------------- optimisers against hand-computed steps ---------------- */
static void test_optimisers(void) {
    ib_backend *be = ib_backend_ref_create(1);
    const float g1[3] = {0.5f, -2e-3f, 1e-12f}, g2[3] = {-0.25f, 1e-3f, 1e-12f};
    const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (int kind = 0; kind < 6; kind++) {
        ib_optim_hparams hp = {.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .momentum = 0.8, .rho = 0.95};
        hp.kind = kind == 5 ? IB_OPT_MOMENTUM : (ib_optim_kind)kind;
        hp.nesterov = kind == 5;
        float p[3] = {1.0f, -1.0f, 0.0f}, m[3] = {0}, v[3] = {0}, upd[3];
        double ep[3] = {1.0, -1.0, 0.0}, em[3] = {0}, ev[3] = {0};
        for (int t = 1; t <= 2; t++) {
            const float *g = t == 1 ? g1 : g2;
            be->optim_update(be, &hp, t, 3, p, g, m, v, upd);
            for (int i = 0; i < 3; i++) {
                double gi = g[i], d = 0;
                switch (hp.kind) {
                case IB_OPT_ADAM_TF:
                    em[i] = b1 * em[i] + (1 - b1) * gi, ev[i] = b2 * ev[i] + (1 - b2) * gi * gi;
                    d = -lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t)) * em[i] / (sqrt(ev[i]) + eps);
                    break;
                case IB_OPT_ADAM_PT:
                    em[i] = b1 * em[i] + (1 - b1) * gi, ev[i] = b2 * ev[i] + (1 - b2) * gi * gi;
                    d = -lr * (em[i] / (1 - pow(b1, t))) / (sqrt(ev[i] / (1 - pow(b2, t))) + eps);
                    break;
                case IB_OPT_SGD: d = -lr * gi; break;
                case IB_OPT_MOMENTUM:
                    em[i] = 0.8 * em[i] + gi;
                    d = hp.nesterov ? -lr * (gi + 0.8 * em[i]) : -lr * em[i];
                    break;
                case IB_OPT_RMSPROP:
                    ev[i] = 0.95 * ev[i] + 0.05 * gi * gi;
                    d = -lr * gi / (sqrt(ev[i]) + eps);
                    break;
                }
                ep[i] += d;
                CHECK_REL(upd[i], d, 1e-5, 1e-30);
                CHECK_REL(p[i], ep[i], 1e-6, 1e-30);
            }
        }
    }
    /* Adam's regimes (docs/THEORY.md, "Adam and epsilon"): the first step is about -lr * sign(g)
     * while |g| >> eps / sqrt(1 - beta2), and -lr * sqrt(1 - beta2) * g / eps (SGD with rate
     * lr * sqrt(1 - beta2) / eps) once |g| << eps / sqrt(1 - beta2). */
    ib_optim_hparams hp = {.kind = IB_OPT_ADAM_TF, .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    float p[2] = {0, 0}, m[2] = {0}, v[2] = {0}, upd[2];
    const float g[2] = {3e-3f, 1e-12f};
    be->optim_update(be, &hp, 1, 2, p, g, m, v, upd);
    CHECK_REL(upd[0], -1e-4, 1e-4, 0);
    double lr_t = 1e-4 * sqrt(1 - 0.999) / (1 - 0.9);
    CHECK_REL(upd[1], -lr_t * 0.1 * 1e-12 / (sqrt(0.001) * 1e-12 + 1e-8), 1e-4, 0);
    CHECK(fabs(upd[1]) < 1e-5 * 1e-4, "tiny-gradient step %g should be far below lr", (double)upd[1]);
    be->destroy(be);
}

/* ---------------- statistics reductions ---------------- */
static void test_tensor_stats(void) {
    ib_backend *one = ib_backend_ref_create(1);
    float x[10] = {0.0f, 0.5f, -2.0f, 3e-7f, 0.995f, -0.999f, NAN, 0.0f, 1.0f, INFINITY};
    ib_stats_request req = {.saturation = 1, .below = 1e-6, .histogram = 1};
    ib_tensor_stats s;
    one->tensor_stats(one, x, 10, &req, &s);
    double sum = 0.5 - 2.0 + 3e-7 + 0.995 - 0.999 + 1.0;
    CHECK(s.n == 8 && s.nonfinite == 2, "n %g nonfinite %g", s.n, s.nonfinite);
    CHECK_REL(s.sum, sum, 1e-7, 1e-12);
    CHECK(s.min == -2.0 && s.max == 1.0, "min %g max %g", s.min, s.max);
    CHECK(s.zeros == 2, "zeros %g", s.zeros);
    CHECK(s.saturated == 4, "tanh-saturated %g (|x| > 0.99: -2, 0.995, -0.999, 1)", s.saturated);
    CHECK(s.below == 3, "below 1e-6: %g (two zeros and 3e-7)", s.below);
    CHECK(s.hist[0] == 2, "zero bin %g", s.hist[0]);
    CHECK(s.hist[2 + (-7 - IB_HIST_LO)] == 1, "3e-7 in the 1e-7 decade");
    CHECK(s.hist[2 + (0 - IB_HIST_LO)] == 2 && s.hist[2 + (-1 - IB_HIST_LO)] == 3, "decades 1e0 and 1e-1");
    ib_stats_request sig = {.saturation = 2};
    one->tensor_stats(one, x, 10, &sig, &s);
    CHECK(s.saturated == 7, "sigmoid-saturated %g (x < 0.01 or > 0.99: 0, 3e-7, 0.995, 0, 1, -2, -0.999)",
          s.saturated);
    /* the same bits for 1 and 2 threads over a long vector */
    size_t n = 1000003;
    float *v = malloc(4 * n);
    fill_rand(v, n, 30, 3);
    ib_backend *two = ib_backend_ref_create(2);
    ib_tensor_stats a, b;
    ib_stats_request plain = {.histogram = 1};
    omp_set_num_threads(1); /* the thread count is process-wide */
    one->tensor_stats(one, v, n, &plain, &a);
    omp_set_num_threads(2);
    two->tensor_stats(two, v, n, &plain, &b);
    CHECK(memcmp(&a, &b, sizeof a) == 0, "statistics differ between 1 and 2 threads");
    free(v);
    one->destroy(one), two->destroy(two);
}

int main(void) {
    test_tensor_stats();
    test_philox_known_answers();
    test_uniform_distribution();
    test_truncated_normal();
    test_scaled_initialisers();
    ib_backend *ref = ib_backend_ref_create(1), *cpu = ib_backend_cpu_create(0);
    for (int k = 2; k <= 5; k++) test_conv_gradients(ref, k);
    test_conv_gradients(cpu, 5);
    test_fc_gradients(ref);
    test_fc_gradients(cpu);
    test_pool_gradients(ref);
    test_act_gradients(ref);
    test_dropout(ref);
    test_softmax_xent(ref);
    ref->destroy(ref), cpu->destroy(cpu);
    test_network_gradient("conv3x3:4,relu,maxpool2,conv3x3:4,tanh,maxpool2,fc:8,sigmoid,dropout:0.7,fc:10", 8);
    test_network_gradient("conv5x5:3,tanh,maxpool2/2,fc:6,tanh,fc:10", 7);
    test_network_gradient("conv5x5:3,tanh,fc:10", 7);
    test_network_gradient("conv5x5:3,fc:10", 7);
    test_network_gradient("fc:6,tanh,fc:10", 7);
    test_optimisers();
    return check_finish("test_kernels");
}
