/* Reference CPU backend: plain loops that read like the maths, accumulating in double.
 * It is the oracle the fast backends are tested against, not a production path. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"
#include "rng.h"
#include "softmax_xent.h"

/* 64-byte alignment for AVX-512 loads; zeroed as the interface promises. Through calloc, so
 * that large buffers come as fresh zero pages from mmap and only the pages a run touches count
 * in its resident memory (buffers sized for the evaluation batch are mostly untouched by
 * training). The offset to calloc's pointer is kept in the 8 bytes before the aligned one. */
void *ib_cpu_alloc(ib_backend *be, size_t count) {
    (void)be;
    size_t bytes = ((count * sizeof(float)) + 63) & ~(size_t)63;
    char *raw = calloc(1, (bytes ? bytes : 64) + 64);
    if (!raw) abort();
    char *p = (char *)(((uintptr_t)raw + 64) & ~(uintptr_t)63);
    ((size_t *)p)[-1] = (size_t)(p - raw);
    return p;
}
void ib_cpu_release(ib_backend *be, void *p) {
    (void)be;
    if (p) free((char *)p - ((size_t *)p)[-1]);
}
void ib_cpu_copy(ib_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (dst != src && bytes) memcpy(dst, src, bytes);
}
void ib_cpu_zero(ib_backend *be, float *x, size_t n) { (void)be; memset(x, 0, n * sizeof(float)); }

/* ---- convolution: y[n,o,i,j] = b[o] + sum_{c,u,v} x[n,c,i+u-p,j+v-p] w[o,c,u,v] ---- */
static void *ref_conv_plan(ib_backend *be, const ib_conv_shape *shape) {
    (void)be;
    ib_conv_shape *p = malloc(sizeof *p);
    if (!p) abort();
    *p = *shape;
    return p;
}
static void ref_conv_plan_free(ib_backend *be, void *plan) { (void)be; free(plan); }

static void ref_conv_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                             const float *b, float *y) {
    (void)be;
    const ib_conv_shape *s = plan;
    const int C = s->in_c, O = s->out_c, H = s->h, W = s->w, K = s->k, P = ib_conv_pad_before(K);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int o = 0; o < O; o++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    double acc = b[o];
                    for (int c = 0; c < C; c++)
                        for (int u = 0; u < K; u++) {
                            int yi = i + u - P;
                            if (yi < 0 || yi >= H) continue;
                            for (int v = 0; v < K; v++) {
                                int xj = j + v - P;
                                if (xj < 0 || xj >= W) continue;
                                acc += (double)x[((size_t)(n * C + c) * H + yi) * W + xj] *
                                       w[((size_t)(o * C + c) * K + u) * K + v];
                            }
                        }
                    y[((size_t)(n * O + o) * H + i) * W + j] = (float)acc;
                }
}

static void ref_conv_backward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db) {
    (void)be;
    const ib_conv_shape *s = plan;
    const int C = s->in_c, O = s->out_c, H = s->h, W = s->w, K = s->k, P = ib_conv_pad_before(K);
    /* db[o] = sum_{n,i,j} dy[n,o,i,j];  dw[o,c,u,v] = sum_{n,i,j} dy[n,o,i,j] x[n,c,i+u-P,j+v-P] */
#pragma omp parallel for schedule(static)
    for (int o = 0; o < O; o++) {
        double bsum = 0;
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < H * W; i++) bsum += dy[(size_t)(n * O + o) * H * W + i];
        db[o] = (float)bsum;
        for (int c = 0; c < C; c++)
            for (int u = 0; u < K; u++)
                for (int v = 0; v < K; v++) {
                    double acc = 0;
                    for (int n = 0; n < batch; n++)
                        for (int i = 0; i < H; i++) {
                            int yi = i + u - P;
                            if (yi < 0 || yi >= H) continue;
                            for (int j = 0; j < W; j++) {
                                int xj = j + v - P;
                                if (xj < 0 || xj >= W) continue;
                                acc += (double)dy[((size_t)(n * O + o) * H + i) * W + j] *
                                       x[((size_t)(n * C + c) * H + yi) * W + xj];
                            }
                        }
                    dw[((size_t)(o * C + c) * K + u) * K + v] = (float)acc;
                }
    }
    if (!dx) return;
    /* dx[n,c,yi,xj] = sum_{o,u,v} dy[n,o,yi-u+P,xj-v+P] w[o,c,u,v] */
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < C; c++)
            for (int yi = 0; yi < H; yi++)
                for (int xj = 0; xj < W; xj++) {
                    double acc = 0;
                    for (int o = 0; o < O; o++)
                        for (int u = 0; u < K; u++) {
                            int i = yi - u + P;
                            if (i < 0 || i >= H) continue;
                            for (int v = 0; v < K; v++) {
                                int j = xj - v + P;
                                if (j < 0 || j >= W) continue;
                                acc += (double)dy[((size_t)(n * O + o) * H + i) * W + j] *
                                       w[((size_t)(o * C + c) * K + u) * K + v];
                            }
                        }
                    dx[((size_t)(n * C + c) * H + yi) * W + xj] = (float)acc;
                }
}

/* ---- fully connected: y[n,o] = b[o] + sum_i x[n,i] w[o,i] ---- */
static void ref_fc_forward(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                           const float *b, float *y) {
    (void)be;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int o = 0; o < out; o++) {
            double acc = b[o];
            for (int i = 0; i < in; i++) acc += (double)x[(size_t)n * in + i] * w[(size_t)o * in + i];
            y[(size_t)n * out + o] = (float)acc;
        }
}

static void ref_fc_backward(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db) {
    (void)be;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < out; o++) {
        double bsum = 0;
        for (int n = 0; n < batch; n++) bsum += dy[(size_t)n * out + o];
        db[o] = (float)bsum;
        for (int i = 0; i < in; i++) {
            double acc = 0;
            for (int n = 0; n < batch; n++) acc += (double)dy[(size_t)n * out + o] * x[(size_t)n * in + i];
            dw[(size_t)o * in + i] = (float)acc;
        }
    }
    if (!dx) return;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int i = 0; i < in; i++) {
            double acc = 0;
            for (int o = 0; o < out; o++) acc += (double)dy[(size_t)n * out + o] * w[(size_t)o * in + i];
            dx[(size_t)n * in + i] = (float)acc;
        }
}

/* ---- max pooling; the first maximum in scan order wins, as in PyTorch; NaN propagates ---- */
void ib_ref_pool_forward(ib_backend *be, const ib_pool_shape *s, int batch, const float *x, float *y,
                         int32_t *argmax) {
    (void)be;
    const int planes = batch * s->c, IH = s->in_h, IW = s->in_w, OH = s->out_h, OW = s->out_w;
#pragma omp parallel for schedule(static)
    for (int p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * IH * IW;
        for (int i = 0; i < OH; i++)
            for (int j = 0; j < OW; j++) {
                float best = -INFINITY;
                int best_at = -1;
                for (int u = 0; u < s->k; u++) {
                    int yi = i * s->stride + u - s->pad_top;
                    if (yi < 0 || yi >= IH) continue;
                    for (int v = 0; v < s->k; v++) {
                        int xj = j * s->stride + v - s->pad_left;
                        if (xj < 0 || xj >= IW) continue;
                        float val = xp[yi * IW + xj];
                        if (best_at < 0 || val > best || (isnan(val) && !isnan(best))) {
                            best = val;
                            best_at = yi * IW + xj;
                        }
                    }
                }
                y[((size_t)p * OH + i) * OW + j] = best;
                argmax[((size_t)p * OH + i) * OW + j] = best_at;
            }
    }
}

void ib_ref_pool_backward(ib_backend *be, const ib_pool_shape *s, int batch, const float *dy,
                          const int32_t *argmax, float *dx) {
    (void)be;
    const int planes = batch * s->c, in_sz = s->in_h * s->in_w, out_sz = s->out_h * s->out_w;
#pragma omp parallel for schedule(static)
    for (int p = 0; p < planes; p++) {
        float *dxp = dx + (size_t)p * in_sz;
        memset(dxp, 0, (size_t)in_sz * sizeof(float));
        for (int o = 0; o < out_sz; o++) dxp[argmax[(size_t)p * out_sz + o]] += dy[(size_t)p * out_sz + o];
    }
}

/* ---- activations ---- */
void ib_ref_act_forward(ib_backend *be, ib_act act, size_t n, const float *x, float *y) {
    (void)be;
    switch (act) {
    case IB_ACT_RELU:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = (x[i] > 0.0f || x[i] != x[i]) ? x[i] : 0.0f; /* NaN propagates, as in PyTorch */
        break;
    case IB_ACT_TANH:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    case IB_ACT_SIGMOID:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    }
}

void ib_ref_act_backward(ib_backend *be, ib_act act, size_t n, const float *y, const float *dy, float *dx) {
    (void)be;
    switch (act) {
    case IB_ACT_RELU:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case IB_ACT_TANH:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case IB_ACT_SIGMOID:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    }
}

/* ---- dropout: one Philox block gives the uniforms of four consecutive elements ---- */
static void dropout_apply(size_t n, float keep, uint64_t seed, uint64_t stream, const float *in, float *out) {
    const float scale = 1.0f / keep;
    const size_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < blocks; blk++) {
        uint32_t r[4];
        ib_philox(seed, stream, blk, r);
        for (size_t k = 0; k < 4 && blk * 4 + k < n; k++) {
            size_t i = blk * 4 + k;
            out[i] = ib_u01(r[k]) < keep ? in[i] * scale : 0.0f;
        }
    }
}

void ib_ref_dropout_forward(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream,
                            const float *x, float *y) {
    (void)be;
    dropout_apply(n, keep, seed, stream, x, y);
}

void ib_ref_dropout_backward(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream,
                             const float *dy, float *dx) {
    (void)be;
    dropout_apply(n, keep, seed, stream, dy, dx);
}

/* ---- softmax cross-entropy through log-softmax (logits reach 1e5 at w = 1) ---- */
void ib_ref_softmax_xent(ib_backend *be, int batch, int classes, const float *logits,
                         const int32_t *labels, float grad_scale, float *dlogits, double *loss_sum,
                         int *correct) {
    (void)be;
    double total = 0;
    int right = 0;
    for (int n = 0; n < batch; n++) { /* sequential: the loss sum's order must not vary */
        int ok;
        total += ib_xent_row(logits + (size_t)n * classes, classes, labels[n], grad_scale,
                             dlogits ? dlogits + (size_t)n * classes : NULL, &ok);
        right += ok;
    }
    *loss_sum = total;
    *correct = right;
}

/* ---- optimisers: kernels/cpu/optim.c ---- */

/* ---- statistics: partial results per fixed chunk, combined in chunk order ---- */
#define STATS_CHUNK 8192

static void stats_chunk(const float *x, size_t n, const ib_stats_request *req, ib_tensor_stats *s) {
    memset(s, 0, sizeof *s);
    s->min = INFINITY, s->max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) {
            s->nonfinite++;
            continue;
        }
        double d = v;
        s->n++;
        s->sum += d, s->sum_sq += d * d;
        if (d < s->min) s->min = d;
        if (d > s->max) s->max = d;
        if (v == 0.0f) s->zeros++;
        if ((req->saturation == 1 && fabsf(v) > 0.99f) || (req->saturation == 2 && (v < 0.01f || v > 0.99f)))
            s->saturated++;
        if (req->below > 0 && fabs(d) < req->below) s->below++;
        if (req->histogram) {
            if (v == 0.0f) {
                s->hist[0]++;
            } else {
                int b = (int)floor(log10(fabs(d))) - IB_HIST_LO;
                if (b < 0) s->hist[1]++;
                else s->hist[2 + (b < IB_HIST_BINS ? b : IB_HIST_BINS - 1)]++;
            }
        }
    }
}

void ib_ref_tensor_stats(ib_backend *be, const float *x, size_t n, const ib_stats_request *req,
                         ib_tensor_stats *out) {
    (void)be;
    const size_t chunks = (n + STATS_CHUNK - 1) / STATS_CHUNK;
    ib_tensor_stats *part = malloc(sizeof *part * (chunks ? chunks : 1));
    if (!part) abort();
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = c * STATS_CHUNK, len = n - lo < STATS_CHUNK ? n - lo : STATS_CHUNK;
        stats_chunk(x + lo, len, req, &part[c]);
    }
    memset(out, 0, sizeof *out);
    out->min = INFINITY, out->max = -INFINITY;
    for (size_t c = 0; c < chunks; c++) {
        const ib_tensor_stats *p = &part[c];
        out->n += p->n, out->sum += p->sum, out->sum_sq += p->sum_sq;
        out->zeros += p->zeros, out->saturated += p->saturated, out->below += p->below;
        out->nonfinite += p->nonfinite;
        if (p->min < out->min) out->min = p->min;
        if (p->max > out->max) out->max = p->max;
        for (int b = 0; b < IB_HIST_BINS + 2; b++) out->hist[b] += p->hist[b];
    }
    free(part);
}

/* The dataset stays where it is: a CPU backend's memory is the host's. */
typedef struct cpu_images {
    const uint8_t *pixels, *labels;
    size_t n, size;
} cpu_images;

static void *cpu_images_open(ib_backend *be, const uint8_t *pixels, const uint8_t *labels, size_t n, size_t size) {
    (void)be;
    cpu_images *im = malloc(sizeof *im);
    if (!im) abort();
    *im = (cpu_images){pixels, labels, n, size};
    return im;
}

static void cpu_images_close(ib_backend *be, void *images) {
    (void)be;
    free(images);
}

static void cpu_gather_batch(ib_backend *be, void *images, const int64_t *index, int batch, float *x, int32_t *y) {
    (void)be;
    const cpu_images *im = images;
    for (int b = 0; b < batch; b++) {
        const uint8_t *src = im->pixels + (size_t)index[b] * im->size;
        float *dst = x + (size_t)b * im->size;
        for (size_t i = 0; i < im->size; i++) dst[i] = (float)src[i] * (1.0f / 255.0f);
        y[b] = im->labels[index[b]];
    }
}

static void cpu_destroy(ib_backend *be) { free(be); }

void ib_cpu_fill_common(ib_backend *be, int threads) {
    if (threads <= 0) threads = omp_get_num_procs();
    omp_set_num_threads(threads);
    be->threads = threads;
    be->destroy = cpu_destroy;
    be->alloc = ib_cpu_alloc;
    be->release = ib_cpu_release;
    be->upload = ib_cpu_copy;
    be->download = ib_cpu_copy;
    be->copy = ib_cpu_copy;
    be->zero = ib_cpu_zero;
    be->pool_forward = ib_ref_pool_forward;
    be->pool_backward = ib_ref_pool_backward;
    be->act_forward = ib_ref_act_forward;
    be->act_backward = ib_ref_act_backward;
    be->dropout_forward = ib_ref_dropout_forward;
    be->dropout_backward = ib_ref_dropout_backward;
    be->softmax_xent = ib_ref_softmax_xent;
    be->optim_update = ib_ref_optim_update;
    be->fuse_update = 1; /* the update may run inside backward (optim.c) */
    be->tensor_stats = ib_ref_tensor_stats;
    be->images_open = cpu_images_open;
    be->images_close = cpu_images_close;
    be->gather_batch = cpu_gather_batch;
}

ib_backend *ib_backend_ref_create(int threads) {
    ib_backend *be = calloc(1, sizeof *be);
    if (!be) abort();
    be->name = "ref";
    ib_cpu_fill_common(be, threads);
    be->conv_plan = ref_conv_plan;
    be->conv_plan_free = ref_conv_plan_free;
    be->conv_forward = ref_conv_forward;
    be->conv_backward = ref_conv_backward;
    be->fc_forward = ref_fc_forward;
    be->fc_backward = ref_fc_backward;
    ib_backend_complete(be); /* the fused ops, composed */
    return be;
}
