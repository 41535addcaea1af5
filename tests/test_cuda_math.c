/* CPU-side checks of the CUDA backend's index schemes, against the ref backend (no GPU needed):
 * - pooling backward as a gather (kernels/cuda/cuda_math.h, the very function the kernel runs)
 *   equals ref.c's scatter bit for bit, for overlapping and padded windows;
 * - SAME convolution through a symmetric-padding convolution, as cuDNN computes it: odd k with
 *   padding (k-1)/2; even k with padding k/2 into an (H+1) x (W+1) output cropped at offset 1, and
 *   backward through dy embedded at offset 1 in a zero border. The symmetric convolution here is
 *   a plain loop standing in for cuDNN (which this test does not run). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "check.h"
#include "cuda/cuda_math.h"
#include "rng.h"

static float *rnd(size_t n, uint32_t stream, float scale) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0f * ib_uniform_at(5, stream, i) - 1.0f);
    return x;
}
static double relerr(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= num)) num = d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / (den > 0 ? den : 1e-30);
}

static void pool_case(ib_backend *R, int batch, int c, int h, int w, int k, int s) {
    ib_pool_shape ps = ib_pool_make(c, h, w, k, s);
    size_t nx = (size_t)batch * c * h * w, ny = (size_t)batch * c * ps.out_h * ps.out_w;
    float *x = rnd(nx, 1, 2), *dy = rnd(ny, 2, 1), *y = malloc(ny * sizeof(float)), *rdx = malloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = roundf(x[i] * 2) / 2; /* ties */
    int32_t *am = malloc(ny * sizeof(int32_t));
    R->pool_forward(R, &ps, batch, x, y, am);
    R->pool_backward(R, &ps, batch, dy, am, rdx);
    long bad = 0;
    for (size_t i = 0; i < nx; i++) {
        float g = ib_pool_backward_at(&ps, i, dy, am);
        bad += memcmp(&g, &rdx[i], sizeof g) != 0;
    }
    CHECK(bad == 0, "pool gather k%d s%d %dx%d: %ld of %zu differ from ref's scatter", k, s, h, w, bad, nx);
    free(x), free(dy), free(y), free(rdx), free(am);
}

/* cuDNN-style cross-correlation with symmetric padding P: out planes OH x OW = H+2P-k+1 ... */
static void sym_forward(int N, int C, int H, int W, int O, int k, int P, const float *x, const float *w, float *y) {
    const int OH = H + 2 * P - k + 1, OW = W + 2 * P - k + 1;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++) {
                    double acc = 0;
                    for (int c = 0; c < C; c++)
                        for (int u = 0; u < k; u++)
                            for (int v = 0; v < k; v++) {
                                int a = i + u - P, b = j + v - P;
                                if (a < 0 || a >= H || b < 0 || b >= W) continue;
                                acc += (double)x[((size_t)(n * C + c) * H + a) * W + b] * w[((size_t)(o * C + c) * k + u) * k + v];
                            }
                    y[((size_t)(n * O + o) * OH + i) * OW + j] = (float)acc;
                }
}
static void sym_backward(int N, int C, int H, int W, int O, int k, int P, const float *x, const float *w,
                         const float *dy, float *dx, float *dw) {
    const int OH = H + 2 * P - k + 1, OW = W + 2 * P - k + 1;
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++)
            for (int u = 0; u < k; u++)
                for (int v = 0; v < k; v++) {
                    double acc = 0;
                    for (int n = 0; n < N; n++)
                        for (int i = 0; i < OH; i++)
                            for (int j = 0; j < OW; j++) {
                                int a = i + u - P, b = j + v - P;
                                if (a < 0 || a >= H || b < 0 || b >= W) continue;
                                acc += (double)dy[((size_t)(n * O + o) * OH + i) * OW + j] * x[((size_t)(n * C + c) * H + a) * W + b];
                            }
                    dw[((size_t)(o * C + c) * k + u) * k + v] = (float)acc;
                }
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int a = 0; a < H; a++)
                for (int b = 0; b < W; b++) {
                    double acc = 0;
                    for (int o = 0; o < O; o++)
                        for (int u = 0; u < k; u++)
                            for (int v = 0; v < k; v++) {
                                int i = a - u + P, j = b - v + P;
                                if (i < 0 || i >= OH || j < 0 || j >= OW) continue;
                                acc += (double)dy[((size_t)(n * O + o) * OH + i) * OW + j] * w[((size_t)(o * C + c) * k + u) * k + v];
                            }
                    dx[((size_t)(n * C + c) * H + a) * W + b] = (float)acc;
                }
}

static void conv_case(ib_backend *R, int N, int C, int H, int W, int O, int k) {
    const int even = k % 2 == 0, P = even ? k / 2 : (k - 1) / 2, off = even ? 1 : 0;
    const int OH = H + 2 * P - k + 1, OW = W + 2 * P - k + 1;
    CHECK(OH == H + off && OW == W + off, "k %d: symmetric output %dx%d for %dx%d", k, OH, OW, H, W);
    size_t nx = (size_t)N * C * H * W, ny = (size_t)N * O * H * W, nw = (size_t)O * C * k * k,
           nbig = (size_t)N * O * OH * OW;
    float *x = rnd(nx, 3, 1), *w = rnd(nw, 4, 0.3f), *b = rnd(O, 5, 0.1f), *dy = rnd(ny, 6, 1);
    float *ry = malloc(ny * 4), *rdx = malloc(nx * 4), *rdw = malloc(nw * 4), *rdb = malloc(O * 4);
    ib_conv_shape cs = {N, C, H, W, O, k};
    void *plan = R->conv_plan(R, &cs);
    R->conv_forward(R, plan, N, x, w, b, ry);
    R->conv_backward(R, plan, N, x, w, dy, rdx, rdw, rdb);
    R->conv_plan_free(R, plan);
    /* forward: symmetric conv, then crop at offset `off` adding the bias (the bias kernel's indexing) */
    float *big = malloc(nbig * 4), *y = malloc(ny * 4);
    sym_forward(N, C, H, W, O, k, P, x, w, big);
    for (size_t idx = 0; idx < ny; idx++) {
        int j = (int)(idx % W);
        size_t r = idx / W;
        int i = (int)(r % H);
        size_t plane = r / H;
        y[idx] = big[(plane * OH + (size_t)(i + off)) * OW + (size_t)(j + off)] + b[plane % O];
    }
    /* backward: dy embedded at offset `off` in a zero border (the embed kernel's indexing) */
    float *g = calloc(nbig, 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4);
    for (size_t idx = 0; idx < nbig; idx++) {
        int j = (int)(idx % OW);
        size_t r = idx / OW;
        int i = (int)(r % OH);
        size_t plane = r / OH;
        g[idx] = (off && (i == 0 || j == 0)) ? 0.0f : dy[(plane * H + (size_t)(i - off)) * W + (size_t)(j - off)];
    }
    sym_backward(N, C, H, W, O, k, P, x, w, g, dx, dw);
    double ef = relerr(y, ry, ny), ex = relerr(dx, rdx, nx), ew = relerr(dw, rdw, nw);
    CHECK(ef <= 1e-6 && ex <= 1e-6 && ew <= 1e-6, "conv k%d %dx%d: forward %.2g, dx %.2g, dw %.2g", k, H, W, ef, ex, ew);
    printf("  conv k%d %dx%dx%d->%d via symmetric padding %d, crop %d: forward %.1e, dx %.1e, dw %.1e\n", k, C, H, W,
           O, P, off, ef, ex, ew);
    void *f[] = {x, w, b, dy, ry, rdx, rdw, rdb, big, y, g, dx, dw};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(f[i]);
}

int main(void) {
    ib_backend *R = ib_backend_ref_create(1);
    pool_case(R, 2, 3, 7, 7, 2, 2);
    pool_case(R, 2, 2, 8, 8, 3, 2);
    pool_case(R, 2, 2, 5, 6, 3, 1);
    pool_case(R, 1, 2, 9, 11, 5, 3);
    pool_case(R, 1, 1, 4, 4, 4, 4);
    pool_case(R, 2, 4, 28, 28, 2, 2);
    for (int k = 1; k <= 6; k++) conv_case(R, 2, 2, 7, 6, 3, k);
    conv_case(R, 1, 3, 4, 5, 2, 4);
    R->destroy(R);
    return check_finish("cuda index schemes (CPU)");
}
