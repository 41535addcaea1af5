/* The reference CPU ops, exported so the fast CPU backend can reuse the ones it does not
 * replace. Outer loops run under OpenMP only where each thread owns its outputs, so results
 * do not depend on the thread count. */
#ifndef IB_CPU_OPS_H
#define IB_CPU_OPS_H

#include "backend.h"

void *ib_cpu_alloc(ib_backend *be, size_t count);
void ib_cpu_release(ib_backend *be, void *p);
void ib_cpu_copy(ib_backend *be, void *dst, const void *src, size_t bytes);
void ib_cpu_zero(ib_backend *be, float *x, size_t n);

void ib_ref_pool_forward(ib_backend *be, const ib_pool_shape *s, int batch, const float *x, float *y,
                         int32_t *argmax);
void ib_ref_pool_backward(ib_backend *be, const ib_pool_shape *s, int batch, const float *dy,
                          const int32_t *argmax, float *dx);
void ib_ref_act_forward(ib_backend *be, ib_act act, size_t n, const float *x, float *y);
void ib_ref_act_backward(ib_backend *be, ib_act act, size_t n, const float *y, const float *dy, float *dx);
void ib_ref_dropout_forward(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream,
                            const float *x, float *y);
void ib_ref_dropout_backward(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream,
                             const float *dy, float *dx);
void ib_ref_softmax_xent(ib_backend *be, int batch, int classes, const float *logits,
                         const int32_t *labels, float grad_scale, float *dlogits, double *loss_sum,
                         int *correct);
/* The optimisers (optim.c): the whole-buffer step, and the serial kernel it shares with the fused
 * update, on the n contiguous gradients at grad, a range of opt->grad whose state sits at the
 * same places in opt's parallel arrays. */
void ib_ref_optim_update(ib_backend *be, const ib_optim_hparams *hp, long t, size_t n, float *param,
                         const float *grad, float *m, float *v, float *update);
void ib_cpu_optim_apply_range(const ib_optim_step *opt, const float *grad, size_t n);
/* The same on a block of rows x cols gradients whose rows are ld apart. */
void ib_cpu_optim_apply_rows(const ib_optim_step *opt, const float *grad, int rows, size_t cols, size_t ld);

void ib_ref_tensor_stats(ib_backend *be, const float *x, size_t n, const ib_stats_request *req,
                         ib_tensor_stats *out);

/* 2x2/stride-2 max pooling without padding over even sizes (blas.c), the reference's results bit
 * for bit: applies() says whether a shape is one; rows() computes output rows [row0, row0 + rows)
 * of the batch's planes taken as one stack of rows, serially (callers parallelise). */
int ib_cpu_pool2x2_applies(const ib_pool_shape *s);
void ib_cpu_pool2x2_rows(const ib_pool_shape *s, size_t row0, size_t rows, const float *x, float *y,
                         int32_t *argmax);

/* Convolution through oneDNN (kernels/cpu/dnnl_*.c; built when IB_HAVE_DNNL is defined). */
void *ib_dnnl_conv_plan(ib_backend *be, const ib_conv_shape *shape);
void ib_dnnl_conv_plan_free(ib_backend *be, void *plan);
void ib_dnnl_conv_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *b,
                          float *y);
void ib_dnnl_conv_backward(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db);
void ib_dnnl_conv_forward_act(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *b,
                              ib_act act, float *y);
void ib_dnnl_conv_act_pool_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                   const float *b, ib_act act, const ib_pool_shape *pool, float *y);
void ib_dnnl_conv_act_pool_forward_train(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                         const float *b, ib_act act, const ib_pool_shape *pool, float *act_out,
                                         float *pool_out, int32_t *argmax);

/* The fast CPU backend with a chosen convolution: IB_CPU_CONV_DNNL (the default where oneDNN
 * is built in) or IB_CPU_CONV_GEMM (im2col + SGEMM). Benchmarks and tests compare the two. */
enum { IB_CPU_CONV_DEFAULT, IB_CPU_CONV_GEMM, IB_CPU_CONV_DNNL };
ib_backend *ib_backend_cpu_create_variant(int threads, int conv);
int ib_cpu_have_dnnl(void);
/* Whether oneDNN runs its AVX-512 (core) kernels here: some block and layout rules depend on it. */
int ib_cpu_dnnl_avx512(void);

/* Fill the shared parts of a backend table (memory and the ops above). */
void ib_cpu_fill_common(ib_backend *be, int threads);
/* The fast backend's dropout and fused pool + activation backward (elementwise.c). */
void ib_cpu_fill_elementwise(ib_backend *be);

#endif
