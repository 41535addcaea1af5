/* CUDA backend: convolutions with cuDNN (plans, the algorithms chosen per batch size, the
 * workspace they share, forward and backward) and the fused convolution ops. */
#include "cuda/cuda_impl.h"

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
/* The cuDNN workspace shared by all plans, grown to the largest size an algorithm asked for. */
static void ensure_ws(cuda_impl *im, size_t bytes) {
    if (bytes <= im->ws_size) return;
    graphs_invalidate(im);
    IB_CU_CHECK(cudaStreamSynchronize(im->st));
    IB_CU_CHECK(cudaFree(im->ws));
    im->ws = NULL;
    IB_CU_CHECK(cudaMalloc(&im->ws, bytes));
    im->ws_size = bytes;
}

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

void *cu_conv_plan(ib_backend *be, const ib_conv_shape *shape) {
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

void cu_conv_plan_free(ib_backend *be, void *plan) {
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

void cu_conv_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *b,
                     float *y) {
    conv_forward_impl(be, plan, batch, x, w, b, -1, y);
}

void cu_conv_backward(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *dy,
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

/* ---- fused convolution ops ---- */
void cu_conv_forward_act(ib_backend *be, void *plan, int batch, const float *x, const float *w, const float *b,
                         ib_act act, float *y) {
    conv_forward_impl(be, plan, batch, x, w, b, (int)act, y);
}
void cu_conv_act_pool_forward(ib_backend *be, void *plan, int batch, const float *x, const float *w,
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
