/* Launchers of the CUDA backend's own kernels (kernels/cuda/cuda_kernels.cu), callable from C.
 * Each enqueues on `st` and returns cudaGetLastError() (the launch status), which the caller
 * checks with IB_CU_CHECK so that a failure names the launcher, file and line. Semantics follow
 * kernels/cpu/ref.c; see docs/CUDA.md. */
#ifndef IB_CUDA_KERNELS_H
#define IB_CUDA_KERNELS_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-chunk partial statistics (IB_CUDA_STATS_CHUNK elements each, the same chunking as ref.c),
 * combined on the host in chunk order. */
#define IB_CUDA_STATS_CHUNK 8192
typedef struct ibk_stats_part {
    double sum, sum_sq, min, max;
    unsigned long long n, zeros, saturated, below, nonfinite;
    unsigned long long hist[IB_HIST_BINS + 2];
} ibk_stats_part;

/* A trivial kernel: succeeds only when the binary carries code for this GPU. */
cudaError_t ibk_probe(cudaStream_t st, int *flag);

/* y[n,o,i,j] = act(src[n,o,i+off,j+off] + b[o]) for i < h, j < w, src planes sh x sw; y may equal
 * src when off == 0 and (sh, sw) == (h, w). act < 0: none. */
cudaError_t ibk_bias_act_nchw(cudaStream_t st, int batch, int c, int h, int w, const float *src, int sh,
                              int sw, int off, const float *b, int act, float *y);
/* dst planes (h+1) x (w+1) = dy shifted by one row and column, zero in row 0 and column 0. */
cudaError_t ibk_embed_shift1(cudaStream_t st, int batch, int c, int h, int w, const float *dy, float *dst);
/* db[c] = sum over n < batch, s < spatial of dy[(n * C + c) * spatial + s] (double accumulation,
 * fixed order: the same bits every run). */
cudaError_t ibk_channel_sum(cudaStream_t st, int batch, int c, int spatial, const float *dy, float *db);
/* y[n, o] = act(y[n, o] + b[o]) */
cudaError_t ibk_bias_act_rows(cudaStream_t st, int batch, int out, const float *b, int act, float *y);

cudaError_t ibk_pool_forward(cudaStream_t st, const ib_pool_shape *s, int batch, const float *x, float *y,
                             int32_t *argmax /* may be NULL */);
cudaError_t ibk_pool_backward(cudaStream_t st, const ib_pool_shape *s, int batch, const float *dy,
                              const int32_t *argmax, float *dx);

/* x[b][i] = pixels[index[b] * size + i] / 255, y[b] = labels[index[b]], b < batch (the batch
 * gathered on the device from the resident dataset; index is device memory). */
cudaError_t ibk_gather_u8(cudaStream_t st, int batch, size_t size, const uint8_t *pixels, const uint8_t *labels,
                          const int64_t *index, float *x, int32_t *y);

cudaError_t ibk_act_forward(cudaStream_t st, int act, size_t n, const float *x, float *y);
cudaError_t ibk_act_backward(cudaStream_t st, int act, size_t n, const float *y, const float *dy, float *dx);

/* seed_stream: NULL, or device memory {seed, stream} that overrides the arguments (CUDA graphs:
 * the value is read when the kernel runs, not when it was captured). */
cudaError_t ibk_dropout(cudaStream_t st, size_t n, float keep, uint64_t seed, uint64_t stream,
                        const uint64_t *seed_stream, const float *in, float *out);
/* out[4 * b + k] = word k of Philox block b, b < blocks (for the parity test). */
cudaError_t ibk_philox_words(cudaStream_t st, uint64_t seed, uint64_t stream, size_t blocks, uint32_t *out);
/* The same words, computed on the host through the nvcc-compiled __host__ __device__ function. */
void ibk_philox_host(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]);

/* Per sample: loss[n] = logsumexp(z) - z[label] (double), correct[n] = argmax == label;
 * dlogits (may be NULL) = (softmax - onehot) * grad_scale. */
cudaError_t ibk_softmax_xent(cudaStream_t st, int batch, int classes, const float *logits, const int32_t *labels,
                             float grad_scale, float *dlogits, double *loss, int *correct);

/* One fused optimiser step; lr_t/c1/c2 are computed by the caller in double exactly as ref.c.
 * step_consts: NULL, or device memory {lr_t, c1, c2} that overrides them (CUDA graphs). */
cudaError_t ibk_optim(cudaStream_t st, int kind, size_t n, float lr, float b1, float b2, float eps, float lr_t,
                      float c1, float c2, float mu, int nesterov, float rho, const float *step_consts, float *param,
                      const float *grad, float *m, float *v, float *update);

cudaError_t ibk_tensor_stats(cudaStream_t st, const float *x, size_t n, int saturation, double below, int histogram,
                             ibk_stats_part *parts /* ceil(n / chunk) of them */);

#ifdef __cplusplus
}
#endif

#endif
