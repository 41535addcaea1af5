/* The CUDA backend's own kernels: bias (+ activation), bias gradients, max pooling with argmax,
 * activations, dropout from Philox, softmax cross-entropy, the fused optimiser update and the
 * statistics reductions. Each mirrors the loop of the same name in kernels/cpu/ref.c; this file
 * is compiled with --fmad=false so that elementwise float arithmetic rounds as on the CPU (no
 * contraction into FMA). No float atomics anywhere: every result is the same bits on every run. */
#include <math.h>
#include <stdint.h>

#include "cuda_kernels.h"
#include "softmax_xent.h"
#include "cuda_math.h"
#include "philox.h"

#define THREADS 256

static unsigned grid_for(size_t n) {
    size_t g = (n + THREADS - 1) / THREADS;
    if (g < 1) g = 1;
    if (g > (1u << 20)) g = 1u << 20; /* grid-stride loops cover the rest */
    return (unsigned)g;
}

#define GRID_STRIDE(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)blockDim.x * gridDim.x)

__device__ static inline float act_apply(int act, float x) {
    switch (act) {
    case IB_ACT_RELU: return (x > 0.0f || x != x) ? x : 0.0f; /* NaN propagates, as ref.c and PyTorch */
    case IB_ACT_TANH: return tanhf(x);
    case IB_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    default: return x;
    }
}

/* ---- probe ---- */
__global__ static void k_probe(int *flag) { *flag = 1; }
extern "C" cudaError_t ibk_probe(cudaStream_t st, int *flag) {
    k_probe<<<1, 1, 0, st>>>(flag);
    return cudaGetLastError();
}

/* ---- bias (+ activation), NCHW, optionally cropping a larger source plane ---- */
__global__ static void k_bias_act_nchw(size_t total, int c, int h, int w, const float *src, int sh, int sw, int off,
                                       const float *b, int act, float *y) {
    GRID_STRIDE(idx, total) {
        int j = (int)(idx % w);
        size_t r = idx / w;
        int i = (int)(r % h);
        size_t plane = r / h; /* n * c + o */
        int o = (int)(plane % c);
        float v = src[(plane * sh + (size_t)(i + off)) * sw + (size_t)(j + off)] + b[o];
        y[idx] = act >= 0 ? act_apply(act, v) : v;
    }
}
extern "C" cudaError_t ibk_bias_act_nchw(cudaStream_t st, int batch, int c, int h, int w, const float *src, int sh,
                                         int sw, int off, const float *b, int act, float *y) {
    size_t total = (size_t)batch * c * h * w;
    k_bias_act_nchw<<<grid_for(total), THREADS, 0, st>>>(total, c, h, w, src, sh, sw, off, b, act, y);
    return cudaGetLastError();
}

__global__ static void k_embed_shift1(size_t total, int h, int w, const float *dy, float *dst) {
    const int W1 = w + 1, H1 = h + 1;
    GRID_STRIDE(idx, total) { /* over dst */
        int j = (int)(idx % W1);
        size_t r = idx / W1;
        int i = (int)(r % H1);
        size_t plane = r / H1;
        dst[idx] = (i == 0 || j == 0) ? 0.0f : dy[(plane * h + (size_t)(i - 1)) * w + (size_t)(j - 1)];
    }
}
extern "C" cudaError_t ibk_embed_shift1(cudaStream_t st, int batch, int c, int h, int w, const float *dy, float *dst) {
    size_t total = (size_t)batch * c * (h + 1) * (w + 1);
    k_embed_shift1<<<grid_for(total), THREADS, 0, st>>>(total, h, w, dy, dst);
    return cudaGetLastError();
}

/* One block per channel; each thread sums a fixed strided subset in double, then a fixed tree. */
__global__ static void k_channel_sum(int batch, int c, int spatial, const float *dy, float *db) {
    __shared__ double part[THREADS];
    const int o = blockIdx.x;
    const size_t count = (size_t)batch * spatial;
    double acc = 0;
    for (size_t e = threadIdx.x; e < count; e += THREADS) {
        size_t n = e / spatial, s = e % spatial;
        acc += dy[(n * c + o) * spatial + s];
    }
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int half = THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) db[o] = (float)part[0];
}
extern "C" cudaError_t ibk_channel_sum(cudaStream_t st, int batch, int c, int spatial, const float *dy, float *db) {
    k_channel_sum<<<c, THREADS, 0, st>>>(batch, c, spatial, dy, db);
    return cudaGetLastError();
}

__global__ static void k_bias_act_rows(size_t total, int out, const float *b, int act, float *y) {
    GRID_STRIDE(idx, total) {
        float v = y[idx] + b[idx % out];
        y[idx] = act >= 0 ? act_apply(act, v) : v;
    }
}
extern "C" cudaError_t ibk_bias_act_rows(cudaStream_t st, int batch, int out, const float *b, int act, float *y) {
    size_t total = (size_t)batch * out;
    k_bias_act_rows<<<grid_for(total), THREADS, 0, st>>>(total, out, b, act, y);
    return cudaGetLastError();
}

/* ---- max pooling: TF SAME, padded cells never win, first maximum in scan order wins, NaN propagates ---- */
__global__ static void k_pool_forward(ib_pool_shape s, size_t total, const float *x, float *y, int32_t *argmax) {
    const int IH = s.in_h, IW = s.in_w, OH = s.out_h, OW = s.out_w;
    GRID_STRIDE(idx, total) {
        int j = (int)(idx % OW);
        size_t r = idx / OW;
        int i = (int)(r % OH);
        size_t p = r / OH;
        const float *xp = x + p * IH * IW;
        float best = -INFINITY;
        int best_at = -1;
        for (int u = 0; u < s.k; u++) {
            int yi = i * s.stride + u - s.pad_top;
            if (yi < 0 || yi >= IH) continue;
            for (int v = 0; v < s.k; v++) {
                int xj = j * s.stride + v - s.pad_left;
                if (xj < 0 || xj >= IW) continue;
                float val = xp[yi * IW + xj];
                if (best_at < 0 || val > best || (isnan(val) && !isnan(best))) {
                    best = val;
                    best_at = yi * IW + xj;
                }
            }
        }
        y[idx] = best;
        if (argmax) argmax[idx] = best_at;
    }
}
extern "C" cudaError_t ibk_pool_forward(cudaStream_t st, const ib_pool_shape *s, int batch, const float *x, float *y,
                                        int32_t *argmax) {
    size_t total = (size_t)batch * s->c * s->out_h * s->out_w;
    k_pool_forward<<<grid_for(total), THREADS, 0, st>>>(*s, total, x, y, argmax);
    return cudaGetLastError();
}

/* Gather form of ref.c's scatter: each input cell adds, in increasing output order, the
 * gradients of the outputs whose winner it is, starting from 0 as ref.c does: the same sum in
 * the same order, so the same bits. */
__global__ static void k_pool_backward(ib_pool_shape s, size_t total, const float *dy, const int32_t *argmax,
                                       float *dx) {
    GRID_STRIDE(idx, total) dx[idx] = ib_pool_backward_at(&s, idx, dy, argmax);
}
extern "C" cudaError_t ibk_pool_backward(cudaStream_t st, const ib_pool_shape *s, int batch, const float *dy,
                                         const int32_t *argmax, float *dx) {
    size_t total = (size_t)batch * s->c * s->in_h * s->in_w;
    k_pool_backward<<<grid_for(total), THREADS, 0, st>>>(*s, total, dy, argmax, dx);
    return cudaGetLastError();
}

/* ---- activations ---- */
__global__ static void k_act_forward(int act, size_t n, const float *x, float *y) {
    GRID_STRIDE(i, n) y[i] = act_apply(act, x[i]);
}
/* One thread per pixel of the batch; the same float expression as the CPU's gather
 * (uint8 -> float, times the float 1/255), so the inputs are bit-identical. */
__global__ static void k_gather_u8(size_t total, size_t size, const uint8_t *pixels, const uint8_t *labels,
                                   const int64_t *index, float *x, int32_t *y) {
    GRID_STRIDE(i, total) {
        size_t b = i / size, p = i % size;
        int64_t img = index[b];
        x[i] = (float)pixels[(size_t)img * size + p] * (1.0f / 255.0f);
        if (p == 0) y[b] = labels[img];
    }
}
extern "C" cudaError_t ibk_gather_u8(cudaStream_t st, int batch, size_t size, const uint8_t *pixels,
                                     const uint8_t *labels, const int64_t *index, float *x, int32_t *y) {
    size_t total = (size_t)batch * size;
    if (total) k_gather_u8<<<grid_for(total), THREADS, 0, st>>>(total, size, pixels, labels, index, x, y);
    return cudaGetLastError();
}

extern "C" cudaError_t ibk_act_forward(cudaStream_t st, int act, size_t n, const float *x, float *y) {
    k_act_forward<<<grid_for(n), THREADS, 0, st>>>(act, n, x, y);
    return cudaGetLastError();
}

__global__ static void k_act_backward(int act, size_t n, const float *y, const float *dy, float *dx) {
    GRID_STRIDE(i, n) {
        float yv = y[i], g = dy[i];
        switch (act) {
        case IB_ACT_RELU: dx[i] = yv > 0.0f ? g : 0.0f; break;
        case IB_ACT_TANH: dx[i] = g * (1.0f - yv * yv); break;
        default: dx[i] = g * yv * (1.0f - yv); break;
        }
    }
}
extern "C" cudaError_t ibk_act_backward(cudaStream_t st, int act, size_t n, const float *y, const float *dy, float *dx) {
    k_act_backward<<<grid_for(n), THREADS, 0, st>>>(act, n, y, dy, dx);
    return cudaGetLastError();
}

/* ---- dropout: one Philox block gives the uniforms of four consecutive elements (as ref.c) ---- */
__global__ static void k_dropout(size_t n, size_t blocks, float keep, float scale, uint64_t seed, uint64_t stream,
                                 const uint64_t *seed_stream, const float *in, float *out) {
    if (seed_stream) seed = seed_stream[0], stream = seed_stream[1]; /* a graph replay's values */
    GRID_STRIDE(blk, blocks) {
        uint32_t r[4];
        ib_philox4x32(seed, stream, blk, r);
        for (size_t k = 0; k < 4 && blk * 4 + k < n; k++) {
            size_t i = blk * 4 + k;
            out[i] = ib_philox_u01(r[k]) < keep ? in[i] * scale : 0.0f;
        }
    }
}
extern "C" cudaError_t ibk_dropout(cudaStream_t st, size_t n, float keep, uint64_t seed, uint64_t stream,
                                   const uint64_t *seed_stream, const float *in, float *out) {
    const float scale = 1.0f / keep;
    size_t blocks = (n + 3) / 4;
    k_dropout<<<grid_for(blocks), THREADS, 0, st>>>(n, blocks, keep, scale, seed, stream, seed_stream, in, out);
    return cudaGetLastError();
}

__global__ static void k_philox_words(uint64_t seed, uint64_t stream, size_t blocks, uint32_t *out) {
    GRID_STRIDE(b, blocks) {
        uint32_t r[4];
        ib_philox4x32(seed, stream, b, r);
        for (int k = 0; k < 4; k++) out[4 * b + k] = r[k];
    }
}
extern "C" cudaError_t ibk_philox_words(cudaStream_t st, uint64_t seed, uint64_t stream, size_t blocks,
                                        uint32_t *out) {
    k_philox_words<<<grid_for(blocks), THREADS, 0, st>>>(seed, stream, blocks, out);
    return cudaGetLastError();
}
extern "C" void ibk_philox_host(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]) {
    ib_philox4x32(seed, stream, index, out);
}

/* ---- softmax cross-entropy through log-softmax, one thread per sample, double as ref.c ---- */
__global__ static void k_softmax_xent(int batch, int classes, const float *logits, const int32_t *labels,
                                      float grad_scale, float *dlogits, double *loss, int *correct) {
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= batch) return;
    loss[n] = ib_xent_row(logits + (size_t)n * classes, classes, labels[n], grad_scale,
                          dlogits ? dlogits + (size_t)n * classes : NULL, &correct[n]);
}
extern "C" cudaError_t ibk_softmax_xent(cudaStream_t st, int batch, int classes, const float *logits,
                                        const int32_t *labels, float grad_scale, float *dlogits, double *loss,
                                        int *correct) {
    k_softmax_xent<<<(batch + 127) / 128, 128, 0, st>>>(batch, classes, logits, labels, grad_scale, dlogits, loss,
                                                         correct);
    return cudaGetLastError();
}

/* ---- optimisers: the formulas of ref.c, float state, host-computed step constants ---- */
__global__ static void k_optim(int kind, size_t n, float lr, float b1, float b2, float eps, float lr_t, float c1,
                               float c2, float mu, int nesterov, float rho, const float *step_consts, float *param,
                               const float *grad, float *m, float *v, float *update) {
    if (step_consts) lr_t = step_consts[0], c1 = step_consts[1], c2 = step_consts[2]; /* a graph replay's */
    GRID_STRIDE(i, n) {
        const float g = grad[i];
        float d;
        switch (kind) {
        case IB_OPT_ADAM_TF:
            m[i] = b1 * m[i] + (1.0f - b1) * g;
            v[i] = b2 * v[i] + (1.0f - b2) * g * g;
            d = -lr_t * m[i] / (sqrtf(v[i]) + eps);
            break;
        case IB_OPT_ADAM_PT:
            m[i] = b1 * m[i] + (1.0f - b1) * g;
            v[i] = b2 * v[i] + (1.0f - b2) * g * g;
            d = -lr * (m[i] * c1) / (sqrtf(v[i] * c2) + eps);
            break;
        case IB_OPT_SGD: d = -lr * g; break;
        case IB_OPT_MOMENTUM:
            m[i] = mu * m[i] + g;
            d = nesterov ? -lr * (g + mu * m[i]) : -lr * m[i];
            break;
        default: /* IB_OPT_RMSPROP */
            v[i] = rho * v[i] + (1.0f - rho) * g * g;
            d = -lr * g / (sqrtf(v[i]) + eps);
            break;
        }
        param[i] += d;
        if (update) update[i] = d;
    }
}
extern "C" cudaError_t ibk_optim(cudaStream_t st, int kind, size_t n, float lr, float b1, float b2, float eps,
                                 float lr_t, float c1, float c2, float mu, int nesterov, float rho,
                                 const float *step_consts, float *param, const float *grad, float *m, float *v,
                                 float *update) {
    k_optim<<<grid_for(n), THREADS, 0, st>>>(kind, n, lr, b1, b2, eps, lr_t, c1, c2, mu, nesterov, rho, step_consts,
                                             param, grad, m, v, update);
    return cudaGetLastError();
}

/* ---- statistics: one block per fixed chunk; sums through a fixed tree, counts as integers ---- */
__global__ static void k_tensor_stats(const float *x, size_t n, int saturation, double below, int histogram,
                                      ibk_stats_part *parts) {
    __shared__ double s_sum[THREADS], s_sq[THREADS], s_min[THREADS], s_max[THREADS];
    __shared__ unsigned long long s_cnt[5];
    __shared__ unsigned long long s_hist[IB_HIST_BINS + 2];
    const size_t lo = (size_t)blockIdx.x * IB_CUDA_STATS_CHUNK;
    const size_t len = n - lo < IB_CUDA_STATS_CHUNK ? n - lo : IB_CUDA_STATS_CHUNK;
    for (int b = threadIdx.x; b < IB_HIST_BINS + 2; b += THREADS) s_hist[b] = 0;
    if (threadIdx.x < 5) s_cnt[threadIdx.x] = 0;
    __syncthreads();
    double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY;
    unsigned long long cnt = 0, zeros = 0, sat = 0, bel = 0, nonfin = 0;
    for (size_t e = threadIdx.x; e < len; e += THREADS) {
        float v = x[lo + e];
        if (!isfinite(v)) {
            nonfin++;
            continue;
        }
        double d = v;
        cnt++;
        sum += d, sq += d * d;
        if (d < mn) mn = d;
        if (d > mx) mx = d;
        if (v == 0.0f) zeros++;
        if ((saturation == 1 && fabsf(v) > 0.99f) || (saturation == 2 && (v < 0.01f || v > 0.99f))) sat++;
        if (below > 0 && fabs(d) < below) bel++;
        if (histogram) {
            int bin;
            if (v == 0.0f) {
                bin = 0;
            } else {
                int b = (int)floor(log10(fabs(d))) - IB_HIST_LO;
                bin = b < 0 ? 1 : 2 + (b < IB_HIST_BINS ? b : IB_HIST_BINS - 1);
            }
            atomicAdd(&s_hist[bin], 1ull);
        }
    }
    s_sum[threadIdx.x] = sum, s_sq[threadIdx.x] = sq, s_min[threadIdx.x] = mn, s_max[threadIdx.x] = mx;
    atomicAdd(&s_cnt[0], cnt), atomicAdd(&s_cnt[1], zeros), atomicAdd(&s_cnt[2], sat);
    atomicAdd(&s_cnt[3], bel), atomicAdd(&s_cnt[4], nonfin);
    __syncthreads();
    for (int half = THREADS / 2; half > 0; half /= 2) {
        int t = threadIdx.x;
        if (t < half) {
            s_sum[t] += s_sum[t + half];
            s_sq[t] += s_sq[t + half];
            if (s_min[t + half] < s_min[t]) s_min[t] = s_min[t + half];
            if (s_max[t + half] > s_max[t]) s_max[t] = s_max[t + half];
        }
        __syncthreads();
    }
    ibk_stats_part *p = &parts[blockIdx.x];
    for (int b = threadIdx.x; b < IB_HIST_BINS + 2; b += THREADS) p->hist[b] = s_hist[b];
    if (threadIdx.x == 0) {
        p->sum = s_sum[0], p->sum_sq = s_sq[0], p->min = s_min[0], p->max = s_max[0];
        p->n = s_cnt[0], p->zeros = s_cnt[1], p->saturated = s_cnt[2], p->below = s_cnt[3], p->nonfinite = s_cnt[4];
    }
}
extern "C" cudaError_t ibk_tensor_stats(cudaStream_t st, const float *x, size_t n, int saturation, double below,
                                        int histogram, ibk_stats_part *parts) {
    size_t chunks = (n + IB_CUDA_STATS_CHUNK - 1) / IB_CUDA_STATS_CHUNK;
    if (!chunks) return cudaSuccess;
    k_tensor_stats<<<(unsigned)chunks, THREADS, 0, st>>>(x, n, saturation, below, histogram, parts);
    return cudaGetLastError();
}
