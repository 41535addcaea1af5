/* CUDA backend: cuDNN for convolutions, cuBLAS for fully connected layers, our own kernels
 * (cuda_kernels.cu) for everything else. Host C; all work is enqueued on one stream, so the ops
 * run in order; download() and the ops that return host values (softmax_xent, tensor_stats)
 * synchronise. Every CUDA, cuDNN and cuBLAS call is checked: a failure prints the call, file and
 * line and exits 1 (internal failure); the constructor instead returns NULL with the cause.
 *
 * Numerics: fp32 by default (cuDNN CUDNN_FMA_MATH, cuBLAS CUBLAS_DEFAULT_MATH, which never uses
 * TF32 for SGEMM); TF32 on request (see cuda_backend.h). Convolution algorithms are chosen once
 * per (plan, batch) among the deterministic ones, so a run is the same bits every time.
 *
 * CUDA graphs (IB_CUDA_GRAPH, default on): the trainer's segments (backend.h) are recorded on
 * their second run and replayed after that; graph_tape.h has the bookkeeping and the rules. */
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

#ifndef IB_CUDA_ARCHS
#define IB_CUDA_ARCHS "?"
#endif
/* cuBLAS's workspace, allocated once (32 MiB: NVIDIA's recommendation for Hopper) */
#define IB_CUBLAS_WORKSPACE ((size_t)32 << 20)

/* ---- checks ---- */
/* The tape of the segment being captured, if any: a failure while capturing (a library doing
 * something a graph cannot hold) does not end the run. Nothing ran yet, so the segment is marked
 * unusable, the rest of the capture is skipped, and the segment reruns eagerly (segment_end). */
static ib_tape *g_capturing;

static void cuda_die(const char *lib, const char *call, const char *file, int line, const char *name,
                     const char *what) {
    if (g_capturing) {
        char why[256];
        snprintf(why, sizeof why, "%s call failed while capturing: %s at %s:%d: %s (%s)", lib, call, file, line, name,
                 what);
        ib_tape_poison(g_capturing, why);
        return;
    }
    fprintf(stderr, "initbench: cuda backend: %s call failed: %s\n  at %s:%d: %s (%s)\n", lib, call, file, line, name,
            what);
    exit(1);
}
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

static cuda_impl *IMPL(ib_backend *be) { return (cuda_impl *)be->impl; }

/* ---- CUDA graphs: glue (the rules are in graph_tape.h) ---- */
/* A graph holds device addresses: memory it may use is about to be freed or replaced, so every
 * recorded segment is dropped and captured again on its next run. */
static void graphs_invalidate(cuda_impl *im) {
    for (int i = 0; i < IB_TAPE_SEGMENTS; i++) {
        ib_tape_segment *s = &im->tape.seg[i];
        if (s->exec) IB_CU_CHECK(cudaGraphExecDestroy((cudaGraphExec_t)s->exec));
        s->exec = NULL;
    }
}
/* Ops that hand back host data at once, allocate or free: not inside a segment (backend.h). */
static void no_segment(cuda_impl *im, const char *op) {
    if (!im->tape.cur) return;
    fprintf(stderr, "initbench: cuda backend: %s called inside segment %d; segments may not contain it "
            "(kernels/backend.h)\n", op, im->tape.cur->id);
    exit(1);
}
/* Every op starts here with a fingerprint of its structural arguments: 1 if it enqueues its work
 * now, 0 if not (a replay: the graph does it; or the segment is unusable). */
static int op_enter(cuda_impl *im, uint64_t fingerprint) { return ib_tape_op(&im->tape, fingerprint); }
/* Per-step values of an op (batch image numbers, dropout seed and stream, optimiser step
 * constants). Eagerly they travel as kernel arguments: NULL. In a capture or replay they are
 * written to the segment's pinned block at the op's offset, which a copy node of the graph
 * brings to the device when the graph runs: the device address. *skip: the segment is unusable,
 * the op must return. */
static void *step_values(cuda_impl *im, const void *src, size_t bytes, int *skip) {
    size_t off = ib_tape_slot(&im->tape, bytes);
    *skip = 0;
    if (off == IB_TAPE_NO_SLOT) {
        *skip = im->tape.cur && im->tape.mode != IB_TAPE_EAGER; /* poisoned */
        return NULL;
    }
    ib_tape_segment *s = im->tape.cur;
    memcpy(s->host + off, src, bytes);
    if (im->tape.mode == IB_TAPE_CAPTURE)
        IB_CU_CHECK(cudaMemcpyAsync((char *)s->dev + off, s->host + off, bytes, cudaMemcpyHostToDevice, im->st));
    return (char *)s->dev + off;
}
/* In a capture or replay, lazily growing a buffer is not possible: returns 1 (the segment is
 * unusable now; it reruns eagerly, where the growth happens). */
static int growth_forbidden(cuda_impl *im, const char *what) { return ib_tape_forbid(&im->tape, what); }

static void ensure_ws(cuda_impl *im, size_t bytes) {
    if (bytes <= im->ws_size) return;
    graphs_invalidate(im);
    IB_CU_CHECK(cudaStreamSynchronize(im->st));
    IB_CU_CHECK(cudaFree(im->ws));
    im->ws = NULL;
    IB_CU_CHECK(cudaMalloc(&im->ws, bytes));
    im->ws_size = bytes;
}

/* ---- memory ---- */
static void *cu_alloc(ib_backend *be, size_t count) {
    cuda_impl *im = IMPL(be);
    no_segment(im, "alloc");
    size_t bytes = (count ? count : 1) * sizeof(float);
    void *p = NULL;
    IB_CU_CHECK(cudaMalloc(&p, bytes));
    IB_CU_CHECK(cudaMemsetAsync(p, 0, bytes, im->st));
    return p;
}
static void cu_release(ib_backend *be, void *p) {
    no_segment(IMPL(be), "release");
    graphs_invalidate(IMPL(be));
    if (p) IB_CU_CHECK(cudaFree(p));
}
static void cu_upload(ib_backend *be, void *dst, const void *src, size_t bytes) {
    cuda_impl *im = IMPL(be);
    no_segment(im, "upload");
    if (!bytes) return;
    IB_CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, im->st));
    IB_CU_CHECK(cudaStreamSynchronize(im->st)); /* the caller may reuse src at once */
}
static void cu_download(ib_backend *be, void *dst, const void *src, size_t bytes) {
    cuda_impl *im = IMPL(be);
    no_segment(im, "download");
    if (!bytes) return;
    IB_CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, im->st));
    IB_CU_CHECK(cudaStreamSynchronize(im->st));
}
enum { OP_COPY = 1, OP_ZERO, OP_GATHER, OP_CONV_FWD, OP_CONV_BWD, OP_FC_FWD, OP_FC_BWD, OP_POOL_FWD, OP_POOL_BWD,
       OP_ACT_FWD, OP_ACT_BWD, OP_DROPOUT_FWD, OP_DROPOUT_BWD, OP_XENT, OP_OPTIM, OP_CONV_ACT_POOL };

static void cu_copy(ib_backend *be, void *dst, const void *src, size_t bytes) {
    if (dst == src || !bytes) return;
    uint64_t fp = IB_FP_INIT;
    const int op = OP_COPY;
    IB_FP(fp, op), IB_FP(fp, dst), IB_FP(fp, src), IB_FP(fp, bytes);
    if (!op_enter(IMPL(be), fp)) return;
    IB_CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, IMPL(be)->st));
}
static void cu_zero(ib_backend *be, float *x, size_t n) {
    if (!n) return;
    uint64_t fp = IB_FP_INIT;
    const int op = OP_ZERO;
    IB_FP(fp, op), IB_FP(fp, x), IB_FP(fp, n);
    if (!op_enter(IMPL(be), fp)) return;
    IB_CU_CHECK(cudaMemsetAsync(x, 0, n * sizeof(float), IMPL(be)->st));
}

/* ---- the dataset on the device: copied once, batches gathered there ---- */
typedef struct cuda_images {
    uint8_t *pixels, *labels;
    size_t n, size;
    int64_t *d_index; /* the batch's image numbers: the only data that crosses per step */
    int index_cap;
} cuda_images;

static void *cu_images_open(ib_backend *be, const uint8_t *pixels, const uint8_t *labels, size_t n, size_t size) {
    cuda_impl *im = IMPL(be);
    no_segment(im, "images_open");
    cuda_images *d = calloc(1, sizeof *d);
    if (!d) abort();
    d->n = n, d->size = size;
    IB_CU_CHECK(cudaMalloc((void **)&d->pixels, (n ? n : 1) * size));
    IB_CU_CHECK(cudaMalloc((void **)&d->labels, n ? n : 1));
    IB_CU_CHECK(cudaMemcpyAsync(d->pixels, pixels, n * size, cudaMemcpyHostToDevice, im->st));
    IB_CU_CHECK(cudaMemcpyAsync(d->labels, labels, n, cudaMemcpyHostToDevice, im->st));
    IB_CU_CHECK(cudaStreamSynchronize(im->st));
    return d;
}
static void cu_images_close(ib_backend *be, void *images) {
    no_segment(IMPL(be), "images_close");
    graphs_invalidate(IMPL(be));
    cuda_images *d = images;
    IB_CU_CHECK(cudaFree(d->pixels));
    IB_CU_CHECK(cudaFree(d->labels));
    IB_CU_CHECK(cudaFree(d->d_index));
    free(d);
}
static void cu_gather_batch(ib_backend *be, void *images, const int64_t *index, int batch, float *x, int32_t *y) {
    cuda_impl *im = IMPL(be);
    cuda_images *d = images;
    uint64_t fp = IB_FP_INIT;
    const int op = OP_GATHER;
    IB_FP(fp, op), IB_FP(fp, images), IB_FP(fp, batch), IB_FP(fp, x), IB_FP(fp, y);
    const int enqueue = op_enter(im, fp);
    if (batch > d->index_cap) {
        if (growth_forbidden(im, "growing the batch index buffer")) return;
        graphs_invalidate(im);
        IB_CU_CHECK(cudaStreamSynchronize(im->st));
        IB_CU_CHECK(cudaFree(d->d_index));
        IB_CU_CHECK(cudaMalloc((void **)&d->d_index, (size_t)batch * sizeof(int64_t)));
        d->index_cap = batch;
    }
    int skip;
    const int64_t *staged = step_values(im, index, (size_t)batch * sizeof(int64_t), &skip);
    if (!enqueue || skip) return;
    if (staged) { /* captured: the graph copies this step's numbers from the pinned block */
        IB_CU_CHECK(ibk_gather_u8(im->st, batch, d->size, d->pixels, d->labels, staged, x, y));
        return;
    }
    IB_CU_CHECK(cudaMemcpyAsync(d->d_index, index, (size_t)batch * sizeof(int64_t), cudaMemcpyHostToDevice, im->st));
    IB_CU_CHECK(ibk_gather_u8(im->st, batch, d->size, d->pixels, d->labels, d->d_index, x, y));
    /* the caller refills index for the next batch at once: the copy must have left it */
    IB_CU_CHECK(cudaStreamSynchronize(im->st));
}

/* ---- convolution (cuDNN) ----
 * Odd k: symmetric padding (k-1)/2, which is TF SAME. Even k: TF SAME puts the extra row/column
 * bottom/right; cuDNN pads symmetrically, so the plan convolves with padding k/2 into an
 * (H+1) x (W+1) buffer whose rows/columns 1.. are exactly TF's output (cropped while adding the
 * bias), and backward embeds dy at offset 1 in a zero-bordered buffer of that size. */
typedef struct conv_algo {
    int batch;
    unsigned long last_use; /* for eviction when more than PLAN_ALGOS batch sizes are seen */
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    cudnnMathType_t math_fwd, math_data, math_filter;
    size_t ws;
} conv_algo;

#define PLAN_ALGOS 8
typedef struct cuda_conv_plan {
    ib_conv_shape s;
    int pad, oh, ow, even;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    conv_algo algos[PLAN_ALGOS];
    int n_algos, desc_batch;
    unsigned long uses;
    float *tmp;     /* even k: the (H+1) x (W+1) output / shifted dy, for the plan's batch */
    float *act_tmp; /* conv_act_pool_forward: the full-size activations */
} cuda_conv_plan;

/* The first deterministic algorithm in cuDNN's heuristic order whose math mode is allowed (no
 * tensor-op math unless TF32 is on). In fp32 mode the algorithm then runs with CUDNN_FMA_MATH
 * (CUDNN_DEFAULT_MATH would permit TF32 on Ampere and later), as PyTorch does when TF32 is off.
 * With TF32 on, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION is still refused: it may round fp32
 * inputs down to fp16, which is not what --tf32 promises. */
#define PICK_ALGO(perf, n, tf32, out_algo, out_math, out_ws, what)                                       \
    do {                                                                                                 \
        int pick_ = -1;                                                                                  \
        for (int pass_ = 0; pass_ < 2 && pick_ < 0; pass_++)                                              \
            for (int i_ = 0; i_ < (n) && pick_ < 0; i_++) {                                              \
                if ((perf)[i_].status != CUDNN_STATUS_SUCCESS) continue;                                 \
                int det_ = (perf)[i_].determinism == CUDNN_DETERMINISTIC;                                \
                int ok_ = (perf)[i_].mathType == CUDNN_FMA_MATH || (perf)[i_].mathType == CUDNN_DEFAULT_MATH || \
                          ((tf32) && (perf)[i_].mathType == CUDNN_TENSOR_OP_MATH);                      \
                if (ok_ && (det_ || pass_ == 1)) {                                                       \
                    pick_ = i_;                                                                          \
                    if (!det_)                                                                           \
                        fprintf(stderr, "initbench: cuda backend: warning: %s: no deterministic algorithm; " \
                                "using algorithm %d, which is NOT deterministic\n", what, (int)(perf)[i_].algo); \
                }                                                                                        \
            }                                                                                            \
        if (pick_ < 0) {                                                                                 \
            fprintf(stderr, "initbench: cuda backend: cuDNN offers no usable %s algorithm for conv %dx%dx%d " \
                    "-> %d, k %d, batch %d\n", what, p->s.in_c, p->s.h, p->s.w, p->s.out_c, p->s.k, batch); \
            exit(1);                                                                                     \
        }                                                                                                \
        out_algo = (perf)[pick_].algo;                                                                   \
        out_math = (tf32) ? (perf)[pick_].mathType : CUDNN_FMA_MATH;                                     \
        if ((perf)[pick_].memory > out_ws) out_ws = (perf)[pick_].memory;                                \
    } while (0)

/* Set the descriptors for this batch and return its algorithms, chosen on first use. */
static const conv_algo *conv_for_batch(cuda_impl *im, cuda_conv_plan *p, int batch) {
    if (batch < 1 || batch > p->s.batch) {
        fprintf(stderr, "initbench: cuda backend: conv batch %d outside the plan's 1..%d\n", batch, p->s.batch);
        exit(1);
    }
    if (p->desc_batch != batch) {
        IB_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, batch, p->s.in_c, p->s.h,
                                                  p->s.w));
        IB_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, batch, p->s.out_c, p->oh,
                                                  p->ow));
        p->desc_batch = batch;
    }
    for (int i = 0; i < p->n_algos; i++)
        if (p->algos[i].batch == batch) {
            p->algos[i].last_use = ++p->uses;
            return &p->algos[i];
        }
    if (growth_forbidden(im, "choosing convolution algorithms for a new batch size")) return NULL;
    conv_algo a = {.batch = batch};
    const cudnnMathType_t want = im->tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
    int n = 0;
    IB_CUDNN_CHECK(cudnnSetConvolutionMathType(p->cd, want));
    {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        IB_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(im->dnn, p->xd, p->wd, p->cd, p->yd,
                                                              CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf));
        PICK_ALGO(perf, n, im->tf32, a.fwd, a.math_fwd, a.ws, "forward");
    }
    {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        IB_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(im->dnn, p->wd, p->yd, p->cd, p->xd,
                                                                   CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf));
        PICK_ALGO(perf, n, im->tf32, a.bwd_data, a.math_data, a.ws, "backward-data");
    }
    {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        IB_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(im->dnn, p->xd, p->yd, p->cd, p->wd,
                                                                     CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf));
        PICK_ALGO(perf, n, im->tf32, a.bwd_filter, a.math_filter, a.ws, "backward-filter");
    }
    /* The heuristics' memory figure is an estimate: ask for the exact sizes too. */
    size_t sz = 0;
    IB_CUDNN_CHECK(cudnnSetConvolutionMathType(p->cd, a.math_fwd));
    IB_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(im->dnn, p->xd, p->wd, p->cd, p->yd, a.fwd, &sz));
    if (sz > a.ws) a.ws = sz;
    IB_CUDNN_CHECK(cudnnSetConvolutionMathType(p->cd, a.math_data));
    IB_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(im->dnn, p->wd, p->yd, p->cd, p->xd, a.bwd_data, &sz));
    if (sz > a.ws) a.ws = sz;
    IB_CUDNN_CHECK(cudnnSetConvolutionMathType(p->cd, a.math_filter));
    IB_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(im->dnn, p->xd, p->yd, p->cd, p->wd, a.bwd_filter, &sz));
    if (sz > a.ws) a.ws = sz;
    ensure_ws(im, a.ws);
    /* more batch sizes than slots: replace the least recently used, so that the training batch
     * (used every step, and held by a captured graph) stays */
    int slot = 0;
    if (p->n_algos < PLAN_ALGOS) slot = p->n_algos++;
    else
        for (int i = 1; i < PLAN_ALGOS; i++)
            if (p->algos[i].last_use < p->algos[slot].last_use) slot = i;
    a.last_use = ++p->uses;
    p->algos[slot] = a;
    return &p->algos[slot];
}

static void *cu_conv_plan(ib_backend *be, const ib_conv_shape *shape) {
    cuda_impl *im = IMPL(be);
    no_segment(im, "conv_plan");
    cuda_conv_plan *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->s = *shape;
    const int k = shape->k;
    if (k < 1 || shape->batch < 1) {
        fprintf(stderr, "initbench: cuda backend: bad conv shape (k %d, batch %d)\n", k, shape->batch);
        exit(1);
    }
    p->even = k % 2 == 0;
    p->pad = p->even ? k / 2 : (k - 1) / 2;
    p->oh = shape->h + (p->even ? 1 : 0);
    p->ow = shape->w + (p->even ? 1 : 0);
    IB_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->xd));
    IB_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->yd));
    IB_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->wd));
    IB_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->cd));
    IB_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, shape->out_c, shape->in_c, k, k));
    IB_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->cd, p->pad, p->pad, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                                   CUDNN_DATA_FLOAT));
    int on, oc, oh, ow;
    IB_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, shape->batch, shape->in_c,
                                              shape->h, shape->w));
    IB_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->cd, p->xd, p->wd, &on, &oc, &oh, &ow));
    if (oh != p->oh || ow != p->ow || oc != shape->out_c) {
        fprintf(stderr, "initbench: cuda backend: cuDNN conv output %dx%dx%d, expected %dx%dx%d (k %d)\n", oc, oh, ow,
                shape->out_c, p->oh, p->ow, k);
        exit(1);
    }
    if (p->even) p->tmp = cu_alloc(be, (size_t)shape->batch * shape->out_c * p->oh * p->ow);
    conv_for_batch(im, p, shape->batch); /* the largest batch's algorithms and workspace, now */
    return p;
}

static void cu_conv_plan_free(ib_backend *be, void *plan) {
    cuda_conv_plan *p = plan;
    if (!p) return;
    no_segment(IMPL(be), "conv_plan_free");
    graphs_invalidate(IMPL(be));
    IB_CUDNN_CHECK(cudnnDestroyTensorDescriptor(p->xd));
    IB_CUDNN_CHECK(cudnnDestroyTensorDescriptor(p->yd));
    IB_CUDNN_CHECK(cudnnDestroyFilterDescriptor(p->wd));
    IB_CUDNN_CHECK(cudnnDestroyConvolutionDescriptor(p->cd));
    cu_release(be, p->tmp);
    cu_release(be, p->act_tmp);
    free(p);
}

static void conv_forward_impl(ib_backend *be, cuda_conv_plan *p, int batch, const float *x, const float *w,
                              const float *b, int act, float *y) {
    cuda_impl *im = IMPL(be);
    uint64_t fp = IB_FP_INIT;
    const int op = OP_CONV_FWD;
    IB_FP(fp, op), IB_FP(fp, p), IB_FP(fp, batch), IB_FP(fp, x), IB_FP(fp, w), IB_FP(fp, b), IB_FP(fp, act);
    IB_FP(fp, y);
    if (!op_enter(im, fp)) return;
    const conv_algo *a = conv_for_batch(im, p, batch);
    if (!a) return;
    const float one = 1.0f, zero = 0.0f;
    float *out = p->even ? p->tmp : y;
    IB_CUDNN_CHECK(cudnnSetConvolutionMathType(p->cd, a->math_fwd));
    IB_CUDNN_CHECK(cudnnConvolutionForward(im->dnn, &one, p->xd, x, p->wd, w, p->cd, a->fwd, im->ws, a->ws, &zero,
                                           p->yd, out));
    IB_CU_CHECK(ibk_bias_act_nchw(im->st, batch, p->s.out_c, p->s.h, p->s.w, out, p->oh, p->ow, p->even ? 1 : 0, b,
                                  act, y));
}

static void cu_conv_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *b,
                            float *y) {
    conv_forward_impl(be, plan, batch, x, w, b, -1, y);
}

static void cu_conv_backward(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *dy,
                             float *dx, float *dw, float *db) {
    cuda_impl *im = IMPL(be);
    cuda_conv_plan *p = plan;
    uint64_t fp = IB_FP_INIT;
    const int op = OP_CONV_BWD;
    IB_FP(fp, op), IB_FP(fp, p), IB_FP(fp, batch), IB_FP(fp, x), IB_FP(fp, w), IB_FP(fp, dy), IB_FP(fp, dx);
    IB_FP(fp, dw), IB_FP(fp, db);
    if (!op_enter(im, fp)) return;
    const conv_algo *a = conv_for_batch(im, p, batch);
    if (!a) return;
    const float one = 1.0f, zero = 0.0f;
    IB_CU_CHECK(ibk_channel_sum(im->st, batch, p->s.out_c, p->s.h * p->s.w, dy, db));
    const float *g = dy;
    if (p->even) {
        IB_CU_CHECK(ibk_embed_shift1(im->st, batch, p->s.out_c, p->s.h, p->s.w, dy, p->tmp));
        g = p->tmp;
    }
    IB_CUDNN_CHECK(cudnnSetConvolutionMathType(p->cd, a->math_filter));
    IB_CUDNN_CHECK(cudnnConvolutionBackwardFilter(im->dnn, &one, p->xd, x, p->yd, g, p->cd, a->bwd_filter, im->ws,
                                                  a->ws, &zero, p->wd, dw));
    if (!dx) return;
    IB_CUDNN_CHECK(cudnnSetConvolutionMathType(p->cd, a->math_data));
    IB_CUDNN_CHECK(cudnnConvolutionBackwardData(im->dnn, &one, p->wd, w, p->yd, g, p->cd, a->bwd_data, im->ws, a->ws,
                                                &zero, p->xd, dx));
}

/* ---- fully connected (cuBLAS, column-major): row-major y[batch,out] = x w^T is, read
 * column-major, y^T (out x batch) = w^T-as-stored^T ... i.e. gemm(T, N) on the stored arrays ---- */
static void fc_forward_impl(ib_backend *be, int batch, int in, int out, const float *x, const float *w, const float *b,
                            int act, float *y) {
    cuda_impl *im = IMPL(be);
    uint64_t fp = IB_FP_INIT;
    const int op = OP_FC_FWD;
    IB_FP(fp, op), IB_FP(fp, batch), IB_FP(fp, in), IB_FP(fp, out), IB_FP(fp, x), IB_FP(fp, w), IB_FP(fp, b);
    IB_FP(fp, act), IB_FP(fp, y);
    if (!op_enter(im, fp)) return;
    const float one = 1.0f, zero = 0.0f;
    /* y_cm (out x batch) = (w_cm: in x out)^T (x_cm: in x batch) */
    IB_CUBLAS_CHECK(cublasSgemm(im->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, batch, in, &one, w, in, x, in, &zero, y, out));
    IB_CU_CHECK(ibk_bias_act_rows(im->st, batch, out, b, act, y));
}
static void cu_fc_forward(ib_backend *be, int batch, int in, int out, const float *x, const float *w, const float *b,
                          float *y) {
    fc_forward_impl(be, batch, in, out, x, w, b, -1, y);
}
static void cu_fc_backward(ib_backend *be, int batch, int in, int out, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db) {
    cuda_impl *im = IMPL(be);
    uint64_t fp = IB_FP_INIT;
    const int op = OP_FC_BWD;
    IB_FP(fp, op), IB_FP(fp, batch), IB_FP(fp, in), IB_FP(fp, out), IB_FP(fp, x), IB_FP(fp, w), IB_FP(fp, dy);
    IB_FP(fp, dx), IB_FP(fp, dw), IB_FP(fp, db);
    if (!op_enter(im, fp)) return;
    const float one = 1.0f, zero = 0.0f;
    IB_CU_CHECK(ibk_channel_sum(im->st, batch, out, 1, dy, db));
    /* dw[out,in] = dy^T x:  dw_cm (in x out) = (x_cm: in x batch) (dy_cm: out x batch)^T */
    IB_CUBLAS_CHECK(cublasSgemm(im->blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, batch, &one, x, in, dy, out, &zero, dw, in));
    if (!dx) return;
    /* dx[batch,in] = dy w:  dx_cm (in x batch) = (w_cm: in x out) (dy_cm: out x batch) */
    IB_CUBLAS_CHECK(cublasSgemm(im->blas, CUBLAS_OP_N, CUBLAS_OP_N, in, batch, out, &one, w, in, dy, out, &zero, dx, in));
}

/* ---- pooling, activations, dropout ---- */
static uint64_t fp_pool(int op, const ib_pool_shape *s, int batch, const void *a, const void *b, const void *c) {
    uint64_t fp = ib_fp_add(IB_FP_INIT, s, sizeof *s);
    IB_FP(fp, op), IB_FP(fp, batch), IB_FP(fp, a), IB_FP(fp, b), IB_FP(fp, c);
    return fp;
}
static uint64_t fp_elementwise(int op, int kind, size_t n, const void *a, const void *b, const void *c) {
    uint64_t fp = IB_FP_INIT;
    IB_FP(fp, op), IB_FP(fp, kind), IB_FP(fp, n), IB_FP(fp, a), IB_FP(fp, b), IB_FP(fp, c);
    return fp;
}
static void cu_pool_forward(ib_backend *be, const ib_pool_shape *s, int batch, const float *x, float *y,
                            int32_t *argmax) {
    if (!op_enter(IMPL(be), fp_pool(OP_POOL_FWD, s, batch, x, y, argmax))) return;
    IB_CU_CHECK(ibk_pool_forward(IMPL(be)->st, s, batch, x, y, argmax));
}
static void cu_pool_backward(ib_backend *be, const ib_pool_shape *s, int batch, const float *dy, const int32_t *argmax,
                             float *dx) {
    if (!op_enter(IMPL(be), fp_pool(OP_POOL_BWD, s, batch, dy, argmax, dx))) return;
    IB_CU_CHECK(ibk_pool_backward(IMPL(be)->st, s, batch, dy, argmax, dx));
}
static void cu_act_forward(ib_backend *be, ib_act act, size_t n, const float *x, float *y) {
    if (!n || !op_enter(IMPL(be), fp_elementwise(OP_ACT_FWD, (int)act, n, x, y, NULL))) return;
    IB_CU_CHECK(ibk_act_forward(IMPL(be)->st, (int)act, n, x, y));
}
static void cu_act_backward(ib_backend *be, ib_act act, size_t n, const float *y, const float *dy, float *dx) {
    if (!n || !op_enter(IMPL(be), fp_elementwise(OP_ACT_BWD, (int)act, n, y, dy, dx))) return;
    IB_CU_CHECK(ibk_act_backward(IMPL(be)->st, (int)act, n, y, dy, dx));
}
/* The stream changes every step: a per-step value (so is the seed, for simplicity). */
static void dropout_impl(ib_backend *be, int op, size_t n, float keep, uint64_t seed, uint64_t stream, const float *in,
                         float *out) {
    cuda_impl *im = IMPL(be);
    if (!n) return;
    uint64_t fp = fp_elementwise(op, 0, n, in, out, NULL);
    IB_FP(fp, keep);
    const int enqueue = op_enter(im, fp);
    const uint64_t values[2] = {seed, stream};
    int skip;
    const uint64_t *staged = step_values(im, values, sizeof values, &skip);
    if (!enqueue || skip) return;
    IB_CU_CHECK(ibk_dropout(im->st, n, keep, seed, stream, staged, in, out));
}
static void cu_dropout_forward(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream, const float *x,
                               float *y) {
    dropout_impl(be, OP_DROPOUT_FWD, n, keep, seed, stream, x, y);
}
static void cu_dropout_backward(ib_backend *be, size_t n, float keep, uint64_t seed, uint64_t stream, const float *dy,
                                float *dx) {
    dropout_impl(be, OP_DROPOUT_BWD, n, keep, seed, stream, dy, dx);
}

/* ---- loss: per-sample values on the device, summed on the host in sample order (in a segment,
 * copied into the pinned block by the graph and summed after it ran: ib_tape_deliver) ---- */
static void cu_softmax_xent(ib_backend *be, int batch, int classes, const float *logits, const int32_t *labels,
                            float grad_scale, float *dlogits, double *loss_sum, int *correct) {
    cuda_impl *im = IMPL(be);
    uint64_t fp = IB_FP_INIT;
    const int op = OP_XENT;
    IB_FP(fp, op), IB_FP(fp, batch), IB_FP(fp, classes), IB_FP(fp, logits), IB_FP(fp, labels), IB_FP(fp, grad_scale);
    IB_FP(fp, dlogits);
    const int enqueue = op_enter(im, fp);
    if (batch > im->xent_cap) {
        if (growth_forbidden(im, "growing the loss buffers")) return;
        graphs_invalidate(im);
        IB_CU_CHECK(cudaStreamSynchronize(im->st));
        IB_CU_CHECK(cudaFree(im->d_loss));
        IB_CU_CHECK(cudaFree(im->d_correct));
        im->d_loss = NULL, im->d_correct = NULL;
        IB_CU_CHECK(cudaMalloc((void **)&im->d_loss, (size_t)batch * sizeof(double)));
        IB_CU_CHECK(cudaMalloc((void **)&im->d_correct, (size_t)batch * sizeof(int)));
        free(im->h_loss), free(im->h_correct);
        im->h_loss = malloc((size_t)batch * sizeof(double));
        im->h_correct = malloc((size_t)batch * sizeof(int));
        if (!im->h_loss || !im->h_correct) abort();
        im->xent_cap = batch;
    }
    if (batch <= 0) {
        *loss_sum = 0, *correct = 0;
        return;
    }
    /* room in the segment's pinned block for the per-sample outputs (counted when eager) */
    const size_t loss_off = ib_tape_slot(&im->tape, (size_t)batch * sizeof(double));
    const size_t correct_off = ib_tape_slot(&im->tape, (size_t)batch * sizeof(int));
    if (loss_off != IB_TAPE_NO_SLOT && correct_off != IB_TAPE_NO_SLOT) { /* capture or replay */
        ib_tape_defer_xent(&im->tape, loss_sum, correct, batch, loss_off, correct_off);
        if (!enqueue) return;
        unsigned char *block = im->tape.cur->host;
        IB_CU_CHECK(ibk_softmax_xent(im->st, batch, classes, logits, labels, grad_scale, dlogits, im->d_loss,
                                     im->d_correct));
        IB_CU_CHECK(cudaMemcpyAsync(block + loss_off, im->d_loss, (size_t)batch * sizeof(double),
                                    cudaMemcpyDeviceToHost, im->st));
        IB_CU_CHECK(cudaMemcpyAsync(block + correct_off, im->d_correct, (size_t)batch * sizeof(int),
                                    cudaMemcpyDeviceToHost, im->st));
        return;
    }
    if (!enqueue || (im->tape.cur && im->tape.mode != IB_TAPE_EAGER)) return; /* unusable segment */
    IB_CU_CHECK(ibk_softmax_xent(im->st, batch, classes, logits, labels, grad_scale, dlogits, im->d_loss,
                                 im->d_correct));
    IB_CU_CHECK(cudaMemcpyAsync(im->h_loss, im->d_loss, (size_t)batch * sizeof(double), cudaMemcpyDeviceToHost,
                                im->st));
    IB_CU_CHECK(cudaMemcpyAsync(im->h_correct, im->d_correct, (size_t)batch * sizeof(int), cudaMemcpyDeviceToHost,
                                im->st));
    IB_CU_CHECK(cudaStreamSynchronize(im->st));
    double total = 0;
    int right = 0;
    for (int n = 0; n < batch; n++) total += im->h_loss[n], right += im->h_correct[n];
    *loss_sum = total;
    *correct = right;
}

/* ---- optimiser: step constants in double exactly as ref.c, then one fused kernel ---- */
static void cu_optim_update(ib_backend *be, const ib_optim_hparams *hp, long t, size_t n, float *param,
                            const float *grad, float *m, float *v, float *update) {
    cuda_impl *im = IMPL(be);
    if (!n) return;
    uint64_t fp = IB_FP_INIT;
    const int op = OP_OPTIM;
    IB_FP(fp, op), IB_FP(fp, hp->kind), IB_FP(fp, hp->lr), IB_FP(fp, hp->beta1), IB_FP(fp, hp->beta2);
    IB_FP(fp, hp->eps), IB_FP(fp, hp->momentum), IB_FP(fp, hp->rho), IB_FP(fp, hp->nesterov), IB_FP(fp, n);
    IB_FP(fp, param), IB_FP(fp, grad), IB_FP(fp, m), IB_FP(fp, v), IB_FP(fp, update);
    const int enqueue = op_enter(im, fp);
    const float lr = (float)hp->lr, b1 = (float)hp->beta1, b2 = (float)hp->beta2, eps = (float)hp->eps;
    /* the step's constants: lr_t, c1, c2 (a per-step value) */
    const float k[3] = {(float)(hp->lr * sqrt(1.0 - pow(hp->beta2, (double)t)) / (1.0 - pow(hp->beta1, (double)t))),
                        (float)(1.0 / (1.0 - pow(hp->beta1, (double)t))),
                        (float)(1.0 / (1.0 - pow(hp->beta2, (double)t)))};
    int skip;
    const float *staged = step_values(im, k, sizeof k, &skip);
    if (!enqueue || skip) return;
    IB_CU_CHECK(ibk_optim(im->st, (int)hp->kind, n, lr, b1, b2, eps, k[0], k[1], k[2], (float)hp->momentum,
                          hp->nesterov, (float)hp->rho, staged, param, grad, m, v, update));
}

/* ---- statistics: per-chunk partials on the device, combined here in chunk order ---- */
static void cu_tensor_stats(ib_backend *be, const float *x, size_t n, const ib_stats_request *req,
                            ib_tensor_stats *out) {
    cuda_impl *im = IMPL(be);
    no_segment(im, "tensor_stats");
    const size_t chunks = (n + IB_CUDA_STATS_CHUNK - 1) / IB_CUDA_STATS_CHUNK;
    memset(out, 0, sizeof *out);
    out->min = INFINITY, out->max = -INFINITY;
    if (!chunks) return;
    if (chunks > im->parts_cap) {
        IB_CU_CHECK(cudaFree(im->d_parts));
        im->d_parts = NULL;
        IB_CU_CHECK(cudaMalloc((void **)&im->d_parts, chunks * sizeof(ibk_stats_part)));
        free(im->h_parts);
        im->h_parts = malloc(chunks * sizeof(ibk_stats_part));
        if (!im->h_parts) abort();
        im->parts_cap = chunks;
    }
    IB_CU_CHECK(ibk_tensor_stats(im->st, x, n, req->saturation, req->below, req->histogram, im->d_parts));
    IB_CU_CHECK(cudaMemcpyAsync(im->h_parts, im->d_parts, chunks * sizeof(ibk_stats_part), cudaMemcpyDeviceToHost,
                                im->st));
    IB_CU_CHECK(cudaStreamSynchronize(im->st));
    for (size_t c = 0; c < chunks; c++) {
        const ibk_stats_part *p = &im->h_parts[c];
        out->n += (double)p->n, out->sum += p->sum, out->sum_sq += p->sum_sq;
        out->zeros += (double)p->zeros, out->saturated += (double)p->saturated, out->below += (double)p->below;
        out->nonfinite += (double)p->nonfinite;
        if (p->min < out->min) out->min = p->min;
        if (p->max > out->max) out->max = p->max;
        for (int b = 0; b < IB_HIST_BINS + 2; b++) out->hist[b] += (double)p->hist[b];
    }
}

/* ---- fused forward ops ---- */
static void cu_conv_forward_act(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *b,
                                ib_act act, float *y) {
    conv_forward_impl(be, plan, batch, x, w, b, (int)act, y);
}
static void cu_conv_act_pool_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
                                     const float *b, ib_act act, const ib_pool_shape *pool, float *y) {
    cuda_impl *im = IMPL(be);
    cuda_conv_plan *p = plan;
    if (!p->act_tmp) { /* the full-size activations, allocated on first use */
        if (growth_forbidden(im, "allocating the fused pooling buffer")) return;
        const size_t bytes = (size_t)p->s.batch * p->s.out_c * p->s.h * p->s.w * sizeof(float);
        IB_CU_CHECK(cudaMalloc((void **)&p->act_tmp, bytes ? bytes : 1));
    }
    conv_forward_impl(be, p, batch, x, w, b, (int)act, p->act_tmp);
    if (!op_enter(im, fp_pool(OP_CONV_ACT_POOL, pool, batch, p->act_tmp, y, NULL))) return;
    IB_CU_CHECK(ibk_pool_forward(im->st, pool, batch, p->act_tmp, y, NULL));
}
static void cu_fc_forward_act(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                              const float *b, ib_act act, float *y) {
    fc_forward_impl(be, batch, in, out, x, w, b, (int)act, y);
}

/* ---- segments as CUDA graphs ---- */
static const char *segment_name(int id) {
    switch (id) {
    case IB_SEGMENT_FORWARD: return "forward";
    case IB_SEGMENT_BACKWARD: return "backward";
    case IB_SEGMENT_UPDATE: return "update";
    default: return "segment";
    }
}

static void cu_segment_begin(ib_backend *be, int id) {
    cuda_impl *im = IMPL(be);
    char err[256];
    const ib_tape_mode mode = ib_tape_begin(&im->tape, id, err, sizeof err);
    if (mode == IB_TAPE_OFF) {
        fprintf(stderr, "initbench: cuda backend: %s\n", err);
        exit(1);
    }
    if (mode != IB_TAPE_CAPTURE) return;
    ib_tape_segment *s = im->tape.cur;
    if (s->block_cap < s->slot_bytes || !s->host) { /* the pinned block the first run measured */
        const size_t bytes = s->slot_bytes ? s->slot_bytes : IB_TAPE_ALIGN;
        IB_CU_CHECK(cudaStreamSynchronize(im->st));
        if (s->host) IB_CU_CHECK(cudaFreeHost(s->host));
        if (s->dev) IB_CU_CHECK(cudaFree(s->dev));
        s->host = NULL, s->dev = NULL, s->block_cap = 0;
        IB_CU_CHECK(cudaMallocHost((void **)&s->host, bytes));
        IB_CU_CHECK(cudaMalloc(&s->dev, bytes));
        s->block_cap = bytes;
    }
    /* ThreadLocal: a call in this thread that a graph cannot hold (a synchronisation, an
     * allocation) fails instead of being silently left out. */
    const cudaError_t e = cudaStreamBeginCapture(im->st, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) { /* run it eagerly this time and from now on */
        char why[200];
        snprintf(why, sizeof why, "cudaStreamBeginCapture: %s", cudaGetErrorName(e));
        ib_tape_disable(s, why);
        im->tape.mode = IB_TAPE_EAGER;
        fprintf(stderr, "initbench: cuda backend: warning: the %s segment runs without a CUDA graph: %s\n",
                segment_name(id), why);
        return;
    }
    g_capturing = &im->tape;
}

static int cu_segment_end(ib_backend *be, int id) {
    cuda_impl *im = IMPL(be);
    ib_tape_segment *s = im->tape.cur;
    if (!s || s->id != id) {
        fprintf(stderr, "initbench: cuda backend: segment_end(%d) without its segment_begin\n", id);
        exit(1);
    }
    const ib_tape_mode mode = im->tape.mode;
    cudaGraph_t graph = NULL;
    if (mode == IB_TAPE_CAPTURE) {
        g_capturing = NULL;
        const cudaError_t e = cudaStreamEndCapture(im->st, &graph);
        if (e != cudaSuccess) {
            char why[200];
            snprintf(why, sizeof why, "cudaStreamEndCapture: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
            ib_tape_poison(&im->tape, why);
            (void)cudaGetLastError();
            graph = NULL;
        }
    }
    ib_tape_finish_action action = ib_tape_finish(&im->tape);
    if (action == IB_TAPE_LAUNCH && mode == IB_TAPE_CAPTURE) {
        cudaGraphExec_t exec = NULL;
        const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
        if (e != cudaSuccess) {
            char why[200];
            snprintf(why, sizeof why, "cudaGraphInstantiate: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
            ib_tape_disable(s, why);
            (void)cudaGetLastError();
            action = IB_TAPE_REDO;
        } else {
            s->exec = exec;
            im->graphs_captured++;
        }
    }
    if (graph) IB_CU_CHECK(cudaGraphDestroy(graph));
    if (action == IB_TAPE_REDO) {
        if (s->exec) IB_CU_CHECK(cudaGraphExecDestroy((cudaGraphExec_t)s->exec)); /* never used again */
        s->exec = NULL;
        fprintf(stderr, "initbench: cuda backend: warning: the %s segment runs without a CUDA graph from now on: %s\n",
                segment_name(id), s->why);
        ib_tape_close(&im->tape);
        return 1;
    }
    if (action == IB_TAPE_LAUNCH) {
        IB_CU_CHECK(cudaGraphLaunch((cudaGraphExec_t)s->exec, im->st));
        /* wait: the host outputs are read now, and the next fill of the pinned block must not
         * overtake this launch's copies of it */
        IB_CU_CHECK(cudaStreamSynchronize(im->st));
        ib_tape_deliver(&im->tape, s->host);
    }
    ib_tape_close(&im->tape);
    return 0;
}

/* ---- lifetime ---- */
static void impl_free(cuda_impl *im) {
    if (!im) return;
    /* Best effort, unchecked: this also runs after a failed initialisation. */
    if (im->st) cudaStreamSynchronize(im->st);
    for (int i = 0; i < IB_TAPE_SEGMENTS; i++) {
        ib_tape_segment *s = &im->tape.seg[i];
        if (s->exec) cudaGraphExecDestroy((cudaGraphExec_t)s->exec);
        if (s->host) cudaFreeHost(s->host);
        if (s->dev) cudaFree(s->dev);
    }
    ib_tape_free(&im->tape);
    if (im->blas) cublasDestroy(im->blas); /* before its workspace */
    cudaFree(im->blas_ws);
    cudaFree(im->ws), cudaFree(im->d_loss), cudaFree(im->d_correct), cudaFree(im->d_parts);
    free(im->h_loss), free(im->h_correct), free(im->h_parts);
    if (im->dnn) cudnnDestroy(im->dnn);
    if (im->st) cudaStreamDestroy(im->st);
    free(im);
}

static void cu_destroy(ib_backend *be) {
    impl_free(be->impl);
    free(be);
}


static int env_flag(const char *name, int dflt) {
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    return !(strcmp(v, "0") == 0 || strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0);
}

/* The module's one entry point, found by kernels/cuda/cuda_loader.c with dlsym. */
__attribute__((visibility("default"))) ib_backend *ib_cuda_module_create(int threads, int tf32, char *err_msg,
                                                                         size_t err_len);
ib_backend *ib_cuda_module_create(int threads, int tf32, char *err_msg, size_t err_len) {
    (void)threads;
    int count = 0; /* not written when the runtime fails */
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorInsufficientDriver) {
        snprintf(err_msg, err_len,
                 "cuda: no usable NVIDIA driver on this machine (cudaGetDeviceCount: %s: %s); use --backend cpu",
                 cudaGetErrorName(e), cudaGetErrorString(e));
        return NULL;
    }
    if (e == cudaErrorNoDevice || (e == cudaSuccess && count < 1)) {
        snprintf(err_msg, err_len, "cuda: no CUDA device visible (cudaGetDeviceCount: %s, %d devices); use --backend cpu",
                 e == cudaSuccess ? "cudaSuccess" : cudaGetErrorName(e), count);
        return NULL;
    }
    if (e != cudaSuccess) {
        snprintf(err_msg, err_len, "cuda: the CUDA runtime failed to initialise (cudaGetDeviceCount: %s: %s)",
                 cudaGetErrorName(e), cudaGetErrorString(e));
        return NULL;
    }
    cuda_impl *im = calloc(1, sizeof *im);
    if (!im) abort();
    ib_tape_init(&im->tape);
    const char *dev = getenv("IB_CUDA_DEVICE");
    char *end = NULL;
    long device = dev && *dev ? strtol(dev, &end, 10) : 0;
    if (dev && *dev && (*end || end == dev)) {
        snprintf(err_msg, err_len, "cuda: IB_CUDA_DEVICE=%s is not a device number (0..%d)", dev, count - 1);
        impl_free(im);
        return NULL;
    }
    im->device = device < 0 || device > 1 << 20 ? -1 : (int)device;
    if (im->device < 0 || im->device >= count) {
        snprintf(err_msg, err_len, "cuda: IB_CUDA_DEVICE=%s but %d device(s) are visible", dev, count);
        impl_free(im);
        return NULL;
    }
    im->tf32 = tf32 >= 0 ? tf32 : env_flag("IB_CUDA_TF32", 0);
    struct cudaDeviceProp prop;
#define TRY(call, what)                                                                                    \
    do {                                                                                                   \
        cudaError_t t_ = (call);                                                                           \
        if (t_ != cudaSuccess) {                                                                           \
            snprintf(err_msg, err_len, "cuda: %s failed on device %d (%s: %s: %s)", what, im->device, #call, \
                     cudaGetErrorName(t_), cudaGetErrorString(t_));                                        \
            impl_free(im);                                                                                 \
            return NULL;                                                                                   \
        }                                                                                                  \
    } while (0)
    TRY(cudaSetDevice(im->device), "selecting the device");
    TRY(cudaGetDeviceProperties(&prop, im->device), "reading the device properties");
    snprintf(im->device_name, sizeof im->device_name, "%.255s (sm_%d%d)", prop.name, prop.major, prop.minor);
    /* non-blocking: work on the legacy default stream (another library, another thread) neither
     * waits for ours nor breaks a capture on it */
    TRY(cudaStreamCreateWithFlags(&im->st, cudaStreamNonBlocking), "creating a stream");
    /* Does this binary carry code for this GPU? */
    int *flag = NULL;
    TRY(cudaMalloc((void **)&flag, sizeof(int)), "allocating device memory");
    e = ibk_probe(im->st, flag);
    if (e == cudaSuccess) e = cudaStreamSynchronize(im->st);
    cudaFree(flag);
    if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorUnsupportedPtxVersion || e == cudaErrorInvalidPtx) {
        snprintf(err_msg, err_len,
                 "cuda: no kernel image for %s: this build targets CUDA architectures %s; reconfigure with "
                 "-DCMAKE_CUDA_ARCHITECTURES=%d%d (%s)",
                 im->device_name, IB_CUDA_ARCHS, prop.major, prop.minor, cudaGetErrorName(e));
        impl_free(im);
        return NULL;
    }
    TRY(e, "running a probe kernel");
    cudnnStatus_t ds = cudnnCreate(&im->dnn);
    if (ds != CUDNN_STATUS_SUCCESS) {
        im->dnn = NULL;
        snprintf(err_msg, err_len, "cuda: cuDNN initialisation failed on %s (cudnnCreate: %s; library %zu, headers %d)",
                 im->device_name, cudnnGetErrorString(ds), cudnnGetVersion(), CUDNN_VERSION);
        impl_free(im);
        return NULL;
    }
    cublasStatus_t bs = cublasCreate(&im->blas);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        im->blas = NULL;
        snprintf(err_msg, err_len, "cuda: cuBLAS initialisation failed on %s (cublasCreate: %s: %s)", im->device_name,
                 cublasGetStatusName(bs), cublasGetStatusString(bs));
        impl_free(im);
        return NULL;
    }
    ds = cudnnSetStream(im->dnn, im->st);
    if (ds != CUDNN_STATUS_SUCCESS) {
        snprintf(err_msg, err_len, "cuda: cudnnSetStream failed on %s (%s)", im->device_name, cudnnGetErrorString(ds));
        impl_free(im);
        return NULL;
    }
    TRY(cudaMalloc(&im->blas_ws, IB_CUBLAS_WORKSPACE), "allocating cuBLAS's 32 MiB workspace");
#define TRY_BLAS(call)                                                                                     \
    do {                                                                                                   \
        cublasStatus_t b_ = (call);                                                                        \
        if (b_ != CUBLAS_STATUS_SUCCESS) {                                                                 \
            snprintf(err_msg, err_len, "cuda: %s failed on %s (%s: %s)", #call, im->device_name,           \
                     cublasGetStatusName(b_), cublasGetStatusString(b_));                                  \
            impl_free(im);                                                                                 \
            return NULL;                                                                                   \
        }                                                                                                  \
    } while (0)
    TRY_BLAS(cublasSetStream(im->blas, im->st)); /* this resets the workspace: set ours after it */
    TRY_BLAS(cublasSetWorkspace(im->blas, im->blas_ws, IB_CUBLAS_WORKSPACE));
    TRY_BLAS(cublasSetMathMode(im->blas, im->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
#undef TRY_BLAS
#undef TRY
    if (im->tf32) fprintf(stderr, "initbench: cuda backend: TF32 tensor-core math enabled (not fp32-exact)\n");

    ib_backend *be = calloc(1, sizeof *be);
    if (!be) abort();
    be->name = "cuda";
    be->impl = im;
    be->threads = 1;
    be->destroy = cu_destroy;
    be->alloc = cu_alloc;
    be->release = cu_release;
    be->upload = cu_upload;
    be->download = cu_download;
    be->copy = cu_copy;
    be->zero = cu_zero;
    be->conv_plan = cu_conv_plan;
    be->conv_plan_free = cu_conv_plan_free;
    be->conv_forward = cu_conv_forward;
    be->conv_backward = cu_conv_backward;
    be->fc_forward = cu_fc_forward;
    be->fc_backward = cu_fc_backward;
    be->pool_forward = cu_pool_forward;
    be->pool_backward = cu_pool_backward;
    be->act_forward = cu_act_forward;
    be->act_backward = cu_act_backward;
    be->dropout_forward = cu_dropout_forward;
    be->dropout_backward = cu_dropout_backward;
    be->softmax_xent = cu_softmax_xent;
    be->optim_update = cu_optim_update;
    be->tensor_stats = cu_tensor_stats;
    be->conv_forward_act = cu_conv_forward_act;
    be->conv_act_pool_forward = cu_conv_act_pool_forward;
    be->fc_forward_act = cu_fc_forward_act;
    be->images_open = cu_images_open;
    be->images_close = cu_images_close;
    be->gather_batch = cu_gather_batch;
    if (env_flag("IB_CUDA_GRAPH", 1)) { /* off: every op runs as it is called */
        be->segment_begin = cu_segment_begin;
        be->segment_end = cu_segment_end;
    }
    return be;
}
