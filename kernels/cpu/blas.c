/* Fast CPU backend: convolution as im2col + SGEMM and fully connected layers as SGEMM, through
 * OpenBLAS's OpenMP build (one thread pool with our own loops). The remaining ops come from the
 * reference backend, whose loops are already parallel and memory-bound. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"

/* Cap on the im2col matrix: larger batches (evaluation) are processed in chunks of images. */
#define COL_BYTES_CAP (32u << 20)

typedef struct blas_conv_plan {
    ib_conv_shape s;
    int chunk;   /* images per GEMM */
    float *col;  /* [C*k*k, chunk*H*W] */
    float *tmp;  /* [O, chunk*H*W]: GEMM output, or dy gathered channel-major */
} blas_conv_plan;

static void *blas_conv_plan_create(ib_backend *be, const ib_conv_shape *shape) {
    blas_conv_plan *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->s = *shape;
    size_t per_image = (size_t)shape->in_c * shape->k * shape->k * shape->h * shape->w * sizeof(float);
    p->chunk = (int)(COL_BYTES_CAP / per_image);
    if (p->chunk < 1) p->chunk = 1;
    if (p->chunk > shape->batch) p->chunk = shape->batch;
    size_t cols = (size_t)p->chunk * shape->h * shape->w;
    p->col = ib_cpu_alloc(be, (size_t)shape->in_c * shape->k * shape->k * cols);
    p->tmp = ib_cpu_alloc(be, (size_t)shape->out_c * cols);
    return p;
}

static void blas_conv_plan_free(ib_backend *be, void *plan) {
    blas_conv_plan *p = plan;
    if (!p) return;
    ib_cpu_release(be, p->col);
    ib_cpu_release(be, p->tmp);
    free(p);
}

/* col[(c,u,v), (n,i,j)] = x[n, c, i+u-P, j+v-P] (0 outside) for images [n0, n0+nb) */
static void im2col(const ib_conv_shape *s, const float *x, int nb, float *col) {
    const int C = s->in_c, H = s->h, W = s->w, K = s->k, P = ib_conv_pad_before(K);
    const size_t cols = (size_t)nb * H * W;
#pragma omp parallel for collapse(3) schedule(static)
    for (int c = 0; c < C; c++)
        for (int u = 0; u < K; u++)
            for (int v = 0; v < K; v++) {
                float *row = col + ((size_t)(c * K + u) * K + v) * cols;
                for (int n = 0; n < nb; n++) {
                    const float *xp = x + (size_t)(n * C + c) * H * W;
                    float *rp = row + (size_t)n * H * W;
                    for (int i = 0; i < H; i++) {
                        int yi = i + u - P;
                        if (yi < 0 || yi >= H) {
                            memset(rp + i * W, 0, (size_t)W * sizeof(float));
                            continue;
                        }
                        for (int j = 0; j < W; j++) {
                            int xj = j + v - P;
                            rp[i * W + j] = (xj >= 0 && xj < W) ? xp[yi * W + xj] : 0.0f;
                        }
                    }
                }
            }
}

/* dx[n, c, i+u-P, j+v-P] += dcol[(c,u,v), (n,i,j)]; each thread owns whole (n, c) planes. */
static void col2im(const ib_conv_shape *s, const float *dcol, int nb, float *dx) {
    const int C = s->in_c, H = s->h, W = s->w, K = s->k, P = ib_conv_pad_before(K);
    const size_t cols = (size_t)nb * H * W;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < nb; n++)
        for (int c = 0; c < C; c++) {
            float *dxp = dx + (size_t)(n * C + c) * H * W;
            memset(dxp, 0, (size_t)H * W * sizeof(float));
            for (int u = 0; u < K; u++)
                for (int v = 0; v < K; v++) {
                    const float *rp = dcol + ((size_t)(c * K + u) * K + v) * cols + (size_t)n * H * W;
                    for (int i = 0; i < H; i++) {
                        int yi = i + u - P;
                        if (yi < 0 || yi >= H) continue;
                        for (int j = 0; j < W; j++) {
                            int xj = j + v - P;
                            if (xj >= 0 && xj < W) dxp[yi * W + xj] += rp[i * W + j];
                        }
                    }
                }
        }
}

static void blas_conv_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                              const float *b, float *y) {
    (void)be;
    blas_conv_plan *p = plan;
    const ib_conv_shape *s = &p->s;
    const int O = s->out_c, KK = s->in_c * s->k * s->k, HW = s->h * s->w;
    for (int n0 = 0; n0 < batch; n0 += p->chunk) {
        int nb = batch - n0 < p->chunk ? batch - n0 : p->chunk;
        const int cols = nb * HW;
        im2col(s, x + (size_t)n0 * s->in_c * HW, nb, p->col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, cols, KK, 1.0f, w, KK, p->col, cols,
                    0.0f, p->tmp, cols);
        float *yb = y + (size_t)n0 * O * HW;
#pragma omp parallel for collapse(2) schedule(static)
        for (int n = 0; n < nb; n++)
            for (int o = 0; o < O; o++) {
                const float *src = p->tmp + (size_t)o * cols + (size_t)n * HW;
                float *dst = yb + (size_t)(n * O + o) * HW;
                for (int i = 0; i < HW; i++) dst[i] = src[i] + b[o];
            }
    }
}

static void blas_conv_backward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                               const float *dy, float *dx, float *dw, float *db) {
    (void)be;
    blas_conv_plan *p = plan;
    const ib_conv_shape *s = &p->s;
    const int O = s->out_c, KK = s->in_c * s->k * s->k, HW = s->h * s->w;
    for (int n0 = 0; n0 < batch; n0 += p->chunk) {
        int nb = batch - n0 < p->chunk ? batch - n0 : p->chunk;
        const int cols = nb * HW;
        const float *dyb = dy + (size_t)n0 * O * HW;
        /* dy gathered channel-major: dyt[o, (n,i,j)] */
#pragma omp parallel for collapse(2) schedule(static)
        for (int o = 0; o < O; o++)
            for (int n = 0; n < nb; n++)
                memcpy(p->tmp + (size_t)o * cols + (size_t)n * HW, dyb + (size_t)(n * O + o) * HW,
                       (size_t)HW * sizeof(float));
        const float beta = n0 == 0 ? 0.0f : 1.0f;
#pragma omp parallel for schedule(static)
        for (int o = 0; o < O; o++) {
            float acc = 0.0f;
            const float *row = p->tmp + (size_t)o * cols;
            for (int i = 0; i < cols; i++) acc += row[i];
            db[o] = beta == 0.0f ? acc : db[o] + acc;
        }
        im2col(s, x + (size_t)n0 * s->in_c * HW, nb, p->col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, KK, cols, 1.0f, p->tmp, cols, p->col, cols,
                    beta, dw, KK);
        if (dx) {
            /* dcol = w^T dyt, written over col (no longer needed), then scattered back */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, KK, cols, O, 1.0f, w, KK, p->tmp, cols,
                        0.0f, p->col, cols);
            col2im(s, p->col, nb, dx + (size_t)n0 * s->in_c * HW);
        }
    }
}

static void blas_fc_forward(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                            const float *b, float *y) {
    (void)be;
    for (int n = 0; n < batch; n++) memcpy(y + (size_t)n * out, b, (size_t)out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, out, in, 1.0f, x, in, w, in, 1.0f, y, out);
}

static void blas_fc_backward(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db) {
    (void)be;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < out; o++) {
        float acc = 0.0f;
        for (int n = 0; n < batch; n++) acc += dy[(size_t)n * out + o];
        db[o] = acc;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, batch, 1.0f, dy, out, x, in, 0.0f, dw, in);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, in, out, 1.0f, dy, out, w, in, 0.0f, dx,
                    in);
}

ib_backend *ib_backend_cpu_create(int threads) {
    ib_backend *be = calloc(1, sizeof *be);
    if (!be) abort();
    be->name = "cpu";
    ib_cpu_fill_common(be, threads);
    openblas_set_num_threads(be->threads);
    be->conv_plan = blas_conv_plan_create;
    be->conv_plan_free = blas_conv_plan_free;
    be->conv_forward = blas_conv_forward;
    be->conv_backward = blas_conv_backward;
    be->fc_forward = blas_fc_forward;
    be->fc_backward = blas_fc_backward;
    return be;
}
