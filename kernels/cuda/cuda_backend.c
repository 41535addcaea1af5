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
 * their second run and replayed after that; graph_tape.h has the bookkeeping and the rules.
 *
 * The sources: this file (checks, memory, dataset, fully connected, pooling/activations/dropout,
 * loss, optimiser, statistics, lifetime, the constructor), cuda_conv.c (convolutions),
 * cuda_graphs.c (the CUDA-graph glue, segments); cuda_impl.h has what they share. */
#include "cuda/cuda_impl.h"

#ifndef IB_CUDA_ARCHS
#define IB_CUDA_ARCHS "?"
#endif
/* cuBLAS's workspace, allocated once (32 MiB: NVIDIA's recommendation for Hopper) */
#define IB_CUBLAS_WORKSPACE ((size_t)32 << 20)

/* ---- checks ---- */
/* The tape of the segment being captured, if any: a failure while capturing (a library doing
 * something a graph cannot hold) does not end the run. Nothing ran yet, so the segment is marked
 * unusable, the rest of the capture is skipped, and the segment reruns eagerly (segment_end). */
ib_tape *g_capturing;

void cuda_die(const char *lib, const char *call, const char *file, int line, const char *name,
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

/* ---- memory ---- */
void *cu_alloc(ib_backend *be, size_t count) {
    cuda_impl *im = IMPL(be);
    no_segment(im, "alloc");
    size_t bytes = (count ? count : 1) * sizeof(float);
    void *p = NULL;
    IB_CU_CHECK(cudaMalloc(&p, bytes));
    IB_CU_CHECK(cudaMemsetAsync(p, 0, bytes, im->st));
    return p;
}
void cu_release(ib_backend *be, void *p) {
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
static void cu_fc_forward_act(ib_backend *be, int batch, int in, int out, const float *x, const float *w,
                              const float *b, ib_act act, float *y) {
    fc_forward_impl(be, batch, in, out, x, w, b, (int)act, y);
}

/* ---- pooling, activations, dropout ---- */
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

/* ---- the constructor, in steps: each returns 0, or -1 with err_msg written; the constructor
 * then frees what was made (impl_free) and returns NULL ---- */

/* Step 1: how many devices the runtime sees (the no-driver / no-device / runtime diagnostics). */
static int probe_device_count(int *count, char *err_msg, size_t err_len) {
    cudaError_t e = cudaGetDeviceCount(count);
    if (e == cudaErrorInsufficientDriver) {
        snprintf(err_msg, err_len,
                 "cuda: no usable NVIDIA driver on this machine (cudaGetDeviceCount: %s: %s); use --backend cpu",
                 cudaGetErrorName(e), cudaGetErrorString(e));
        return -1;
    }
    if (e == cudaErrorNoDevice || (e == cudaSuccess && *count < 1)) {
        snprintf(err_msg, err_len, "cuda: no CUDA device visible (cudaGetDeviceCount: %s, %d devices); use --backend cpu",
                 e == cudaSuccess ? "cudaSuccess" : cudaGetErrorName(e), *count);
        return -1;
    }
    if (e != cudaSuccess) {
        snprintf(err_msg, err_len, "cuda: the CUDA runtime failed to initialise (cudaGetDeviceCount: %s: %s)",
                 cudaGetErrorName(e), cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

/* Step 2: the device number ($IB_CUDA_DEVICE, default 0) and the math mode. */
static int choose_device(cuda_impl *im, int count, int tf32, char *err_msg, size_t err_len) {
    const char *dev = getenv("IB_CUDA_DEVICE");
    char *end = NULL;
    long device = dev && *dev ? strtol(dev, &end, 10) : 0;
    if (dev && *dev && (*end || end == dev)) {
        snprintf(err_msg, err_len, "cuda: IB_CUDA_DEVICE=%s is not a device number (0..%d)", dev, count - 1);
        return -1;
    }
    im->device = device < 0 || device > 1 << 20 ? -1 : (int)device;
    if (im->device < 0 || im->device >= count) {
        snprintf(err_msg, err_len, "cuda: IB_CUDA_DEVICE=%s but %d device(s) are visible", dev, count);
        return -1;
    }
    im->tf32 = tf32 >= 0 ? tf32 : env_flag("IB_CUDA_TF32", 0);
    return 0;
}

/* A CUDA runtime call of steps 3 and 4: on failure, the message and -1. */
#define TRY(call, what)                                                                                    \
    do {                                                                                                   \
        cudaError_t t_ = (call);                                                                           \
        if (t_ != cudaSuccess) {                                                                           \
            snprintf(err_msg, err_len, "cuda: %s failed on device %d (%s: %s: %s)", what, im->device, #call, \
                     cudaGetErrorName(t_), cudaGetErrorString(t_));                                        \
            return -1;                                                                                     \
        }                                                                                                  \
    } while (0)

/* Step 3: select the device, read its name, create the stream and check that this binary carries
 * code for the GPU (a probe kernel). */
static int open_device(cuda_impl *im, char *err_msg, size_t err_len) {
    struct cudaDeviceProp prop;
    TRY(cudaSetDevice(im->device), "selecting the device");
    TRY(cudaGetDeviceProperties(&prop, im->device), "reading the device properties");
    snprintf(im->device_name, sizeof im->device_name, "%.255s (sm_%d%d)", prop.name, prop.major, prop.minor);
    /* non-blocking: work on the legacy default stream (another library, another thread) neither
     * waits for ours nor breaks a capture on it */
    TRY(cudaStreamCreateWithFlags(&im->st, cudaStreamNonBlocking), "creating a stream");
    /* Does this binary carry code for this GPU? */
    int *flag = NULL;
    TRY(cudaMalloc((void **)&flag, sizeof(int)), "allocating device memory");
    cudaError_t e = ibk_probe(im->st, flag);
    if (e == cudaSuccess) e = cudaStreamSynchronize(im->st);
    cudaFree(flag);
    if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorUnsupportedPtxVersion || e == cudaErrorInvalidPtx) {
        snprintf(err_msg, err_len,
                 "cuda: no kernel image for %s: this build targets CUDA architectures %s; reconfigure with "
                 "-DCMAKE_CUDA_ARCHITECTURES=%d%d (%s)",
                 im->device_name, IB_CUDA_ARCHS, prop.major, prop.minor, cudaGetErrorName(e));
        return -1;
    }
    TRY(e, "running a probe kernel");
    return 0;
}

/* Step 4: the cuDNN and cuBLAS handles on the stream, cuBLAS's workspace and math mode. */
static int create_libraries(cuda_impl *im, char *err_msg, size_t err_len) {
    cudnnStatus_t ds = cudnnCreate(&im->dnn);
    if (ds != CUDNN_STATUS_SUCCESS) {
        im->dnn = NULL;
        snprintf(err_msg, err_len, "cuda: cuDNN initialisation failed on %s (cudnnCreate: %s; library %zu, headers %d)",
                 im->device_name, cudnnGetErrorString(ds), cudnnGetVersion(), CUDNN_VERSION);
        return -1;
    }
    cublasStatus_t bs = cublasCreate(&im->blas);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        im->blas = NULL;
        snprintf(err_msg, err_len, "cuda: cuBLAS initialisation failed on %s (cublasCreate: %s: %s)", im->device_name,
                 cublasGetStatusName(bs), cublasGetStatusString(bs));
        return -1;
    }
    ds = cudnnSetStream(im->dnn, im->st);
    if (ds != CUDNN_STATUS_SUCCESS) {
        snprintf(err_msg, err_len, "cuda: cudnnSetStream failed on %s (%s)", im->device_name, cudnnGetErrorString(ds));
        return -1;
    }
    TRY(cudaMalloc(&im->blas_ws, IB_CUBLAS_WORKSPACE), "allocating cuBLAS's 32 MiB workspace");
#define TRY_BLAS(call)                                                                                     \
    do {                                                                                                   \
        cublasStatus_t b_ = (call);                                                                        \
        if (b_ != CUBLAS_STATUS_SUCCESS) {                                                                 \
            snprintf(err_msg, err_len, "cuda: %s failed on %s (%s: %s)", #call, im->device_name,           \
                     cublasGetStatusName(b_), cublasGetStatusString(b_));                                  \
            return -1;                                                                                     \
        }                                                                                                  \
    } while (0)
    TRY_BLAS(cublasSetStream(im->blas, im->st)); /* this resets the workspace: set ours after it */
    TRY_BLAS(cublasSetWorkspace(im->blas, im->blas_ws, IB_CUBLAS_WORKSPACE));
    TRY_BLAS(cublasSetMathMode(im->blas, im->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
#undef TRY_BLAS
    return 0;
}
#undef TRY

/* Step 5: the backend and its table of ops. */
static ib_backend *new_backend(cuda_impl *im) {
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

/* The module's one entry point, found by kernels/cuda/cuda_loader.c with dlsym. */
__attribute__((visibility("default"))) ib_backend *ib_cuda_module_create(int threads, int tf32, char *err_msg,
                                                                         size_t err_len);
ib_backend *ib_cuda_module_create(int threads, int tf32, char *err_msg, size_t err_len) {
    (void)threads;
    int count = 0; /* not written when the runtime fails */
    if (probe_device_count(&count, err_msg, err_len)) return NULL;
    cuda_impl *im = calloc(1, sizeof *im);
    if (!im) abort();
    ib_tape_init(&im->tape);
    if (choose_device(im, count, tf32, err_msg, err_len) || open_device(im, err_msg, err_len) ||
        create_libraries(im, err_msg, err_len)) {
        impl_free(im);
        return NULL;
    }
    if (im->tf32) fprintf(stderr, "initbench: cuda backend: TF32 tensor-core math enabled (not fp32-exact)\n");
    return new_backend(im);
}
