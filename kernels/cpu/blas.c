/* Fast CPU backend: convolution as im2col + SGEMM and fully connected layers as SGEMM, through
 * OpenBLAS's OpenMP build (one thread pool with our own loops). The remaining ops come from the
 * reference backend, whose loops are already parallel and memory-bound. */
#include <cblas.h>
#include <math.h>
#ifdef IB_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"

/* SGEMM whose result does not depend on the thread count. OpenBLAS's threaded SGEMM rounds
 * differently with 1 and 2 threads (measured: every shape of the original network), so the
 * output is cut into blocks fixed by the shape alone, each computed by a single-threaded SGEMM
 * under our OpenMP loop; a long reduction with a small output is cut along K into fixed chunks
 * whose partial products are summed in a fixed order. */
#define GEMM_BLOCK 128
#define GEMM_K_CHUNK 4096

/* One single-threaded SGEMM (row-major). With oneDNN built in, its sgemm (AVX-512 kernels;
 * measured 1.5-2.5x OpenBLAS's at the network's fully connected shapes on one thread, since this
 * machine's OpenBLAS runs its Haswell kernels) runs single-threaded inside our loops just the
 * same: nested in an OpenMP region, or with the thread count set to one. */
static inline void sgemm1(CBLAS_TRANSPOSE TA, CBLAS_TRANSPOSE TB, int M, int N, int K, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc) {
#ifdef IB_HAVE_DNNL
    if (dnnl_sgemm(TA == CblasTrans ? 'T' : 'N', TB == CblasTrans ? 'T' : 'N', M, N, K, 1.0f, A, lda, B, ldb, beta, C,
                   ldc) == dnnl_success)
        return;
#endif
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

static void gemm_det(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                     float beta, float *C, int ldc) {
    const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    if (N >= 2 * GEMM_BLOCK) {
        const int blocks = (N + GEMM_BLOCK - 1) / GEMM_BLOCK;
#pragma omp parallel for schedule(dynamic, 1)
        for (int b = 0; b < blocks; b++) {
            int n0 = b * GEMM_BLOCK, nb = N - n0 < GEMM_BLOCK ? N - n0 : GEMM_BLOCK;
            sgemm1(TA, TB, M, nb, K, A, lda, tb ? B + (size_t)n0 * ldb : B + n0, ldb, beta, C + n0, ldc);
        }
    } else if (M >= 2 * GEMM_BLOCK) {
        const int blocks = (M + GEMM_BLOCK - 1) / GEMM_BLOCK;
#pragma omp parallel for schedule(dynamic, 1)
        for (int b = 0; b < blocks; b++) {
            int m0 = b * GEMM_BLOCK, mb = M - m0 < GEMM_BLOCK ? M - m0 : GEMM_BLOCK;
            sgemm1(TA, TB, mb, N, K, ta ? A + m0 : A + (size_t)m0 * lda, lda, B, ldb, beta, C + (size_t)m0 * ldc, ldc);
        }
    } else if (K >= 2 * GEMM_K_CHUNK) {
        const int chunks = (K + GEMM_K_CHUNK - 1) / GEMM_K_CHUNK;
        float *part = malloc(sizeof(float) * (size_t)chunks * M * N);
        if (!part) abort();
#pragma omp parallel for schedule(dynamic, 1)
        for (int c = 0; c < chunks; c++) {
            int k0 = c * GEMM_K_CHUNK, kb = K - k0 < GEMM_K_CHUNK ? K - k0 : GEMM_K_CHUNK;
            sgemm1(TA, TB, M, N, kb, ta ? A + (size_t)k0 * lda : A + k0, lda, tb ? B + k0 : B + (size_t)k0 * ldb, ldb,
                   0.0f, part + (size_t)c * M * N, N);
        }
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                float acc = 0.0f;
                for (int c = 0; c < chunks; c++) acc += part[((size_t)c * M + m) * N + n];
                C[(size_t)m * ldc + n] = beta == 0.0f ? acc : beta * C[(size_t)m * ldc + n] + acc;
            }
        free(part);
    } else {
        /* small: one thread (OpenBLAS's OpenMP build takes its thread count from this ICV) */
        const int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        sgemm1(TA, TB, M, N, K, A, lda, B, ldb, beta, C, ldc);
        omp_set_num_threads(threads);
    }
}

/* A fully connected layer's weight gradient dw = dy^T x ([out, in]) in blocks fixed by the shape
 * and the ISA oneDNN runs (never by the thread count: the same bits for any), each one
 * single-threaded SGEMM that the fused update (opt not NULL) steps right after, while it is in
 * cache. Two block shapes:
 * - 32 whole rows (a block of fc1, 32 x 3136, is 400 KB, within a core's L2, and one stream for
 *   the update), with AVX-512 and without oneDNN;
 * - all rows by 784 columns where oneDNN runs AVX2 (or less), for fc1-sized layers: its AVX2
 *   sgemm packs x again for every call, which made 32-row blocks of fc1 1.7x slower than one call
 *   (5.5 against 3.2 ms on one thread; column blocks 3.2-3.6); with AVX-512 the rows were as fast
 *   as column blocks (1.9-2.0 ms) and stay. */
#define FC_DW_ROWS 32
#define FC_DW_COLS 784
static int dw_column_blocks(int in, int out) {
    return ib_cpu_have_dnnl() && !ib_cpu_dnnl_avx512() && in >= 2 * FC_DW_COLS && out >= 8 * FC_DW_ROWS;
}

static void fc_weight_grad(int batch, int in, int out, const float *dy, const float *x, float *dw,
                           const ib_optim_step *opt) {
    if (dw_column_blocks(in, out)) {
        const int blocks = (in + FC_DW_COLS - 1) / FC_DW_COLS;
#pragma omp parallel for schedule(dynamic, 1)
        for (int b = 0; b < blocks; b++) {
            const int c0 = b * FC_DW_COLS, cols = in - c0 < FC_DW_COLS ? in - c0 : FC_DW_COLS;
            sgemm1(CblasTrans, CblasNoTrans, out, cols, batch, dy, out, x + c0, in, 0.0f, dw + c0, in);
            if (opt) ib_cpu_optim_apply_rows(opt, dw + c0, out, (size_t)cols, (size_t)in);
        }
        return;
    }
    const int blocks = (out + FC_DW_ROWS - 1) / FC_DW_ROWS;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < blocks; b++) {
        const int r0 = b * FC_DW_ROWS, rows = out - r0 < FC_DW_ROWS ? out - r0 : FC_DW_ROWS;
        float *block = dw + (size_t)r0 * in;
        sgemm1(CblasTrans, CblasNoTrans, rows, in, batch, dy + r0, out, x, in, 0.0f, block, in);
        if (opt) ib_cpu_optim_apply_range(opt, block, (size_t)rows * in);
    }
}

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

/* Output columns j whose input column j+v-P lies inside [0, W): j in [lo, hi). */
static inline void valid_cols(int W, int v, int P, int *lo, int *hi) {
    *lo = P - v > 0 ? P - v : 0;
    *hi = W + P - v < W ? W + P - v : W;
}

/* col[(c,u,v), (n,i,j)] = x[n, c, i+u-P, j+v-P] (0 outside) for nb images */
static void im2col(const ib_conv_shape *s, const float *x, int nb, float *col) {
    const int C = s->in_c, H = s->h, W = s->w, K = s->k, P = ib_conv_pad_before(K);
    const size_t cols = (size_t)nb * H * W;
#pragma omp parallel for collapse(3) schedule(static)
    for (int c = 0; c < C; c++)
        for (int u = 0; u < K; u++)
            for (int v = 0; v < K; v++) {
                float *row = col + ((size_t)(c * K + u) * K + v) * cols;
                int lo, hi;
                valid_cols(W, v, P, &lo, &hi);
                for (int n = 0; n < nb; n++) {
                    const float *xp = x + (size_t)(n * C + c) * H * W;
                    float *rp = row + (size_t)n * H * W;
                    for (int i = 0; i < H; i++) {
                        float *dst = rp + (size_t)i * W;
                        int yi = i + u - P;
                        if (yi < 0 || yi >= H || hi <= lo) {
                            memset(dst, 0, (size_t)W * sizeof(float));
                            continue;
                        }
                        for (int j = 0; j < lo; j++) dst[j] = 0.0f;
                        memcpy(dst + lo, xp + (size_t)yi * W + lo + v - P, (size_t)(hi - lo) * sizeof(float));
                        for (int j = hi; j < W; j++) dst[j] = 0.0f;
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
                    int lo, hi;
                    valid_cols(W, v, P, &lo, &hi);
                    for (int i = 0; i < H; i++) {
                        int yi = i + u - P;
                        if (yi < 0 || yi >= H) continue;
                        float *d = dxp + (size_t)yi * W + v - P;
                        const float *r = rp + (size_t)i * W;
                        for (int j = lo; j < hi; j++) d[j] += r[j];
                    }
                }
        }
}

/* 2x2/2 max pooling over even sizes (the original network's): no padding, no bounds checks.
 * Same winner rule as the reference: the first maximum in scan order wins (ties, and +0 against
 * -0, keep the earlier cell), the first NaN wins over everything: a candidate v replaces the
 * best so far when v > best, or when v is NaN and best is not (the reference's test). Written
 * so that the compiler vectorises the loop over a row's outputs for whatever ISA it targets
 * (AVX2, AVX-512): conditional assignments it turns into selects, and no intrinsics. */
#define POOL_TAKES(v, best) ((v) > (best) || (isnan(v) && !isnan(best)))

/* n outputs of the row pair (top, bot = top + in_w); at: the top row's index in its plane. */
static inline void pool2x2_row(const float *restrict top, const float *restrict bot, float *restrict y,
                               int32_t *restrict argmax, int n, int in_w, int32_t at) {
    /* GCC vectorises this loop unasked (no `omp simd`: clang's sanitizer builds cannot, and
     * -Werror turns its warning into an error) */
    for (int j = 0; j < n; j++) {
        float best = top[2 * j];
        int32_t off = 0;
        if (POOL_TAKES(top[2 * j + 1], best)) best = top[2 * j + 1], off = 1;
        if (POOL_TAKES(bot[2 * j], best)) best = bot[2 * j], off = in_w;
        if (POOL_TAKES(bot[2 * j + 1], best)) best = bot[2 * j + 1], off = in_w + 1;
        y[j] = best;
        argmax[j] = at + 2 * j + off;
    }
}

int ib_cpu_pool2x2_applies(const ib_pool_shape *s) {
    return s->k == 2 && s->stride == 2 && !(s->in_h & 1) && !(s->in_w & 1) && s->pad_top == 0 && s->pad_left == 0;
}

/* With even sizes and no padding, the planes of a batch are one stack of rows: output row r
 * (over all planes) reads input rows 2r and 2r + 1, and its row in its plane is r % out_h.
 * The rows are short (14 and 7 outputs in the network), and a vectorised loop finishes a short
 * row in its scalar remainder (measured: no faster than the scalar loop). So every row but the
 * range's last computes a whole number of 8-wide vectors: the outputs past its end land on the
 * next row's first places, in range and rewritten when that row is computed just after. */
#define POOL_ROW_VECTOR 8
void ib_cpu_pool2x2_rows(const ib_pool_shape *s, size_t row0, size_t rows, const float *x, float *y,
                         int32_t *argmax) {
    const int IW = s->in_w, OW = s->out_w, OH = s->out_h;
    const int padded = (OW + POOL_ROW_VECTOR - 1) / POOL_ROW_VECTOR * POOL_ROW_VECTOR;
    const int spill = padded <= 2 * OW; /* the extra outputs (and their inputs) stay within the next row */
    for (size_t r = row0; r < row0 + rows; r++) {
        const float *top = x + 2 * r * (size_t)IW;
        const int n = spill && r + 1 < row0 + rows ? padded : OW;
        pool2x2_row(top, top + IW, y + r * (size_t)OW, argmax + r * (size_t)OW, n, IW,
                    (int32_t)(2 * (int)(r % (size_t)OH) * IW));
    }
}

/* Output rows per task of the parallel loop (each output is computed alone: any split gives the same bits). */
#define POOL_ROW_BLOCK 64

static void blas_pool_forward(ib_backend *be, const ib_pool_shape *s, int batch, const float *x, float *y,
                              int32_t *argmax) {
    if (!ib_cpu_pool2x2_applies(s)) {
        ib_ref_pool_forward(be, s, batch, x, y, argmax);
        return;
    }
    const size_t rows = (size_t)batch * s->c * s->out_h;
    const long blocks = (long)((rows + POOL_ROW_BLOCK - 1) / POOL_ROW_BLOCK);
#pragma omp parallel for schedule(static)
    for (long b = 0; b < blocks; b++) {
        const size_t r0 = (size_t)b * POOL_ROW_BLOCK;
        ib_cpu_pool2x2_rows(s, r0, rows - r0 < POOL_ROW_BLOCK ? rows - r0 : POOL_ROW_BLOCK, x, y, argmax);
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
        gemm_det(0, 0, O, cols, KK, w, KK, p->col, cols, 0.0f, p->tmp, cols);
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
        gemm_det(0, 1, O, KK, cols, p->tmp, cols, p->col, cols, beta, dw, KK);
        if (dx) {
            /* dcol = w^T dyt, written over col (no longer needed), then scattered back */
            gemm_det(1, 0, KK, cols, O, w, KK, p->tmp, cols, 0.0f, p->col, cols);
            col2im(s, p->col, nb, dx + (size_t)n0 * s->in_c * HW);
        }
    }
}

/* A fully connected forward at a training batch, where oneDNN runs AVX-512, is computed
 * transposed: y^T = w x^T in blocks of 256 weight rows, each one single-threaded sgemm whose
 * [rows, batch] result is written back transposed with the bias. y = x w^T with 50 rows made
 * oneDNN's AVX-512 sgemm pack every weight block for only 50 rows of x: fc1 at batch 50 took
 * 2.0-2.4 ms that way against 1.46-1.49 transposed (2 threads; one thread 4.1 against 2.8). With
 * AVX2 the transposed form was slower (2.2-2.5 against 2.0-2.1 ms), and at evaluation batches
 * (500, 2000) slower on both ISAs, so those keep y = x w^T. The blocks are fixed by the shape: the
 * same bits for any thread count. */
#define FC_FWD_T_ROWS 256
#define FC_FWD_T_MAX_BATCH 64
static int fc_forward_transposed(int batch, int in, int out) {
    return ib_cpu_dnnl_avx512() && batch <= FC_FWD_T_MAX_BATCH && out >= 2 * FC_FWD_T_ROWS && in >= FC_FWD_T_ROWS;
}

static void blas_fc_forward(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                            const float *b, float *y) {
    (void)be;
    if (fc_forward_transposed(batch, in, out)) {
        const int blocks = (out + FC_FWD_T_ROWS - 1) / FC_FWD_T_ROWS;
#pragma omp parallel for schedule(dynamic, 1)
        for (int blk = 0; blk < blocks; blk++) {
            float yt[FC_FWD_T_ROWS * FC_FWD_T_MAX_BATCH]; /* [rows, batch], 64 KB: within L2 */
            const int r0 = blk * FC_FWD_T_ROWS, rows = out - r0 < FC_FWD_T_ROWS ? out - r0 : FC_FWD_T_ROWS;
            sgemm1(CblasNoTrans, CblasTrans, rows, batch, in, w + (size_t)r0 * in, in, x, in, 0.0f, yt, batch);
            for (int n = 0; n < batch; n++)
                for (int r = 0; r < rows; r++) y[(size_t)n * out + r0 + r] = b[r0 + r] + yt[(size_t)r * batch + n];
        }
        return;
    }
    for (int n = 0; n < batch; n++) memcpy(y + (size_t)n * out, b, (size_t)out * sizeof(float));
    gemm_det(0, 1, batch, out, in, x, in, w, in, 1.0f, y, out);
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
    fc_weight_grad(batch, in, out, dy, x, dw, NULL);
    if (dx) gemm_det(0, 0, batch, in, out, dy, out, w, in, 0.0f, dx, in);
}

/* fc backward with the update fused: dx first (it reads the weights before any of them change),
 * then db and its step, then dw block by block, each block stepped while it is in cache. The
 * same blocks and the same elementwise step as the unfused path: the same bits. */
static void blas_fc_backward_update(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                                    const float *dy, float *dx, float *dw, float *db, const ib_optim_step *opt) {
    (void)be;
    if (dx) gemm_det(0, 0, batch, in, out, dy, out, w, in, 0.0f, dx, in);
#pragma omp parallel for schedule(static)
    for (int o = 0; o < out; o++) {
        float acc = 0.0f;
        for (int n = 0; n < batch; n++) acc += dy[(size_t)n * out + o];
        db[o] = acc;
    }
    ib_cpu_optim_apply_range(opt, db, (size_t)out);
    fc_weight_grad(batch, in, out, dy, x, dw, opt);
}

int ib_cpu_have_dnnl(void) {
#ifdef IB_HAVE_DNNL
    return 1;
#else
    return 0;
#endif
}

int ib_cpu_dnnl_avx512(void) {
#ifdef IB_HAVE_DNNL
    return (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
#else
    return 0;
#endif
}

ib_backend *ib_backend_cpu_create(int threads) { return ib_backend_cpu_create_variant(threads, IB_CPU_CONV_DEFAULT); }

ib_backend *ib_backend_cpu_create_variant(int threads, int conv) {
    if (conv == IB_CPU_CONV_DEFAULT) conv = ib_cpu_have_dnnl() ? IB_CPU_CONV_DNNL : IB_CPU_CONV_GEMM;
    if (conv == IB_CPU_CONV_DNNL && !ib_cpu_have_dnnl()) return NULL;
    ib_backend *be = calloc(1, sizeof *be);
    if (!be) abort();
    be->name = "cpu";
    ib_cpu_fill_common(be, threads);
    /* No openblas_set_num_threads(): in OpenBLAS's OpenMP build it sets the OpenMP thread count
     * of every loop. Inside our parallel regions OpenBLAS runs single-threaded by itself. */
    be->conv_plan = blas_conv_plan_create;
    be->conv_plan_free = blas_conv_plan_free;
    be->conv_forward = blas_conv_forward;
    be->conv_backward = blas_conv_backward;
    be->fc_forward = blas_fc_forward;
    be->fc_backward = blas_fc_backward;
    be->fc_backward_update = blas_fc_backward_update;
    be->pool_forward = blas_pool_forward;
    ib_cpu_fill_elementwise(be);
#ifdef IB_HAVE_DNNL
    if (conv == IB_CPU_CONV_DNNL) {
        /* oneDNN convolutions, one thread per chunk of images under our loop (dnnl_*.c) */
        be->conv_plan = ib_dnnl_conv_plan;
        be->conv_plan_free = ib_dnnl_conv_plan_free;
        be->conv_forward = ib_dnnl_conv_forward;
        be->conv_backward = ib_dnnl_conv_backward;
        be->conv_forward_act = ib_dnnl_conv_forward_act;
        be->conv_act_pool_forward = ib_dnnl_conv_act_pool_forward;
        be->conv_act_pool_forward_train = ib_dnnl_conv_act_pool_forward_train;
    }
#endif
    ib_backend_complete(be); /* the fused ops oneDNN does not provide, composed */
    return be;
}
