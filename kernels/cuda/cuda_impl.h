/* The CUDA backend's internals, shared by the module's own sources and by nothing else:
 *   cuda_backend.c  checks, memory, dataset, fully connected, pooling/activations/dropout, loss,
 *                   optimiser, statistics, lifetime, the constructor
 *   cuda_conv.c     convolutions (cuDNN), the fused convolution ops
 *   cuda_graphs.c   the CUDA-graph glue and the segments
 * The module is built with hidden visibility (kernels/cuda/cuda.cmake); IB_CU_INTERNAL says so
 * on every symbol declared here as well, so ib_cuda_module_create stays its one export. */
#ifndef IB_CUDA_IMPL_H
#define IB_CUDA_IMPL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_kernels.h"
#include "cuda/graph_tape.h"

#define IB_CU_INTERNAL __attribute__((visibility("hidden")))

/* ---- checks (cuda_backend.c) ---- */
/* The tape of the segment being captured, if any (set and cleared by the segments). */
IB_CU_INTERNAL extern ib_tape *g_capturing;
/* A failed check: prints the call, file and line and exits 1; while capturing, poisons the
 * segment instead and returns. */
IB_CU_INTERNAL void cuda_die(const char *lib, const char *call, const char *file, int line, const char *name,
                             const char *what);
#define IB_CU_CHECK(call)                                                                                  \
    do {                                                                                                   \
        cudaError_t e_ = (call);                                                                           \
        if (e_ != cudaSuccess) cuda_die("CUDA", #call, __FILE__, __LINE__, cudaGetErrorName(e_), cudaGetErrorString(e_)); \
    } while (0)
#define IB_CUDNN_CHECK(call)                                                                               \
    do {                                                                                                   \
        cudnnStatus_t s_ = (call);                                                                         \
        if (s_ != CUDNN_STATUS_SUCCESS) cuda_die("cuDNN", #call, __FILE__, __LINE__, "cudnnStatus_t", cudnnGetErrorString(s_)); \
    } while (0)
#define IB_CUBLAS_CHECK(call)                                                                              \
    do {                                                                                                   \
        cublasStatus_t s_ = (call);                                                                        \
        if (s_ != CUBLAS_STATUS_SUCCESS) cuda_die("cuBLAS", #call, __FILE__, __LINE__, cublasGetStatusName(s_), cublasGetStatusString(s_)); \
    } while (0)

typedef struct cuda_impl {
    int device, tf32;
    char device_name[320];
    cudaStream_t st;
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    void *ws; /* cuDNN workspace shared by all plans (ops run in order on one stream) */
    size_t ws_size;
    double *d_loss, *h_loss; /* softmax_xent per-sample outputs */
    int *d_correct, *h_correct;
    int xent_cap;
    ibk_stats_part *d_parts, *h_parts; /* tensor_stats per-chunk partials */
    size_t parts_cap;
    void *blas_ws; /* cuBLAS's workspace, ours: nothing is allocated inside a capture */
    ib_tape tape;  /* CUDA graphs of the segments */
    long graphs_captured;
} cuda_impl;

static inline cuda_impl *IMPL(ib_backend *be) { return (cuda_impl *)be->impl; }

/* ---- CUDA graphs: glue (cuda_graphs.c; the rules are in graph_tape.h) ---- */
IB_CU_INTERNAL void graphs_invalidate(cuda_impl *im);
IB_CU_INTERNAL void no_segment(cuda_impl *im, const char *op);
IB_CU_INTERNAL void *step_values(cuda_impl *im, const void *src, size_t bytes, int *skip);
/* Every op starts here with a fingerprint of its structural arguments: 1 if it enqueues its work
 * now, 0 if not (a replay: the graph does it; or the segment is unusable). */
static inline int op_enter(cuda_impl *im, uint64_t fingerprint) { return ib_tape_op(&im->tape, fingerprint); }
/* In a capture or replay, lazily growing a buffer is not possible: returns 1 (the segment is
 * unusable now; it reruns eagerly, where the growth happens). */
static inline int growth_forbidden(cuda_impl *im, const char *what) { return ib_tape_forbid(&im->tape, what); }

/* ---- fingerprints: the ops' ids and the shared helpers ---- */
enum { OP_COPY = 1, OP_ZERO, OP_GATHER, OP_CONV_FWD, OP_CONV_BWD, OP_FC_FWD, OP_FC_BWD, OP_POOL_FWD, OP_POOL_BWD,
       OP_ACT_FWD, OP_ACT_BWD, OP_DROPOUT_FWD, OP_DROPOUT_BWD, OP_XENT, OP_OPTIM, OP_CONV_ACT_POOL };
static inline uint64_t fp_pool(int op, const ib_pool_shape *s, int batch, const void *a, const void *b, const void *c) {
    uint64_t fp = ib_fp_add(IB_FP_INIT, s, sizeof *s);
    IB_FP(fp, op), IB_FP(fp, batch), IB_FP(fp, a), IB_FP(fp, b), IB_FP(fp, c);
    return fp;
}
static inline uint64_t fp_elementwise(int op, int kind, size_t n, const void *a, const void *b, const void *c) {
    uint64_t fp = IB_FP_INIT;
    IB_FP(fp, op), IB_FP(fp, kind), IB_FP(fp, n), IB_FP(fp, a), IB_FP(fp, b), IB_FP(fp, c);
    return fp;
}

/* ---- ops defined in one file and used in another ---- */
/* cuda_backend.c */
IB_CU_INTERNAL void *cu_alloc(ib_backend *be, size_t count);
IB_CU_INTERNAL void cu_release(ib_backend *be, void *p);
/* cuda_conv.c */
IB_CU_INTERNAL void *cu_conv_plan(ib_backend *be, const ib_conv_shape *shape);
IB_CU_INTERNAL void cu_conv_plan_free(ib_backend *be, void *plan);
IB_CU_INTERNAL void cu_conv_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                    const float *b, float *y);
IB_CU_INTERNAL void cu_conv_backward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                     const float *dy, float *dx, float *dw, float *db);
IB_CU_INTERNAL void cu_conv_forward_act(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                        const float *b, ib_act act, float *y);
IB_CU_INTERNAL void cu_conv_act_pool_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                             const float *b, ib_act act, const ib_pool_shape *pool, float *y);
/* cuda_graphs.c */
IB_CU_INTERNAL void cu_segment_begin(ib_backend *be, int id);
IB_CU_INTERNAL int cu_segment_end(ib_backend *be, int id);

#endif
