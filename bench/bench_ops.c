/* Google Benchmark (through the C shim, gbench.h) of every op of every backend at the original
 * network's shapes and a few batch sizes, plus a whole training step, a forward-only evaluation
 * batch, and the machine's sgemm peak (the yardstick: summarize.py divides each op's FLOP/s by it).
 *
 *   build/bench/initbench_bench --benchmark_filter=conv --benchmark_repetitions=5 \
 *       --benchmark_out=bench.json --benchmark_out_format=json
 *
 * Backends: ref (plain loops), cpu (the fast path: oneDNN convolutions where built in), and
 * cpu-gemm (the fast path with im2col + SGEMM convolutions, for comparison; conv ops only).
 * INITBENCH_BENCH_THREADS sets the thread count (default: all cores). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu/cpu_ops.h"
#include "gbench.h"
#include "init.h"
#include "net.h"
#include "rng.h"
#include "spec.h"
#ifdef IB_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

enum op {
    OP_CONV_FWD, OP_CONV_BWD, OP_FC_FWD, OP_FC_BWD, OP_POOL_FWD, OP_POOL_BWD, OP_ACT_FWD, OP_ACT_BWD,
    OP_DROPOUT_FWD, OP_DROPOUT_BWD, OP_XENT, OP_OPTIM, OP_STATS, OP_STEP, OP_EVAL, OP_SGEMM,
    OP_CONV_FWD_ACT, OP_CONV_ACT_POOL, OP_EVAL_FUSED, OP_SGEMM_DNNL,
};

typedef struct bench_arg {
    int backend; /* 0 ref, 1 cpu, 2 cpu-gemm */
    enum op op;
    int layer;   /* index into the shape tables below */
    int batch;
} bench_arg;

static const char *backend_names[3] = {"ref", "cpu", "cpu-gemm"};
static int g_threads = 0;

/* The original network: conv1 1x28x28 -> 32, conv2 32x14x14 -> 64 (5x5 SAME); pools 2x2/2;
 * fc1 3136 -> 1024, fc2 1024 -> 10; ReLU after conv1, conv2, fc1; dropout after fc1. */
static const ib_conv_shape conv_shapes[2] = {{0, 1, 28, 28, 32, 5}, {0, 32, 14, 14, 64, 5}};
static const char *conv_names[2] = {"conv1", "conv2"};
static const int fc_shapes[2][2] = {{3136, 1024}, {1024, 10}};
static const char *fc_names[2] = {"fc1", "fc2"};
static const int pool_shapes[2][3] = {{32, 28, 28}, {64, 14, 14}};
static const char *pool_names[2] = {"pool1", "pool2"};
static const size_t act_sizes[3] = {32 * 28 * 28, 64 * 14 * 14, 1024};
static const char *act_names[3] = {"relu1", "relu2", "relu3"};

static ib_backend *make_backend(int which) {
    if (which == 0) return ib_backend_ref_create(g_threads);
    return ib_backend_cpu_create_variant(g_threads, which == 2 ? IB_CPU_CONV_GEMM : IB_CPU_CONV_DEFAULT);
}

static float *rnd(ib_backend *be, size_t n, uint32_t stream, float scale) {
    float *host = malloc(n * sizeof(float));
    if (!host) abort();
    for (size_t i = 0; i < n; i++)
        host[i] = scale * (2.0f * ib_uniform_at(11, ib_stream(IB_RNG_TEST, 9, stream), i) - 1.0f);
    float *dev = be->alloc(be, n);
    be->upload(be, dev, host, n * sizeof(float));
    free(host);
    return dev;
}

static void bm_conv(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    ib_conv_shape cs = conv_shapes[a->layer];
    cs.batch = a->batch;
    const int B = a->batch;
    size_t nx = (size_t)B * cs.in_c * cs.h * cs.w, nw = (size_t)cs.out_c * cs.in_c * cs.k * cs.k;
    size_t ny = (size_t)B * cs.out_c * cs.h * cs.w;
    float *x = rnd(be, nx, 1, 1), *w = rnd(be, nw, 2, 0.1f), *b = rnd(be, cs.out_c, 3, 0.1f), *dy = rnd(be, ny, 4, 1);
    float *y = be->alloc(be, ny), *dx = a->layer ? be->alloc(be, nx) : NULL, *dw = be->alloc(be, nw),
          *db = be->alloc(be, cs.out_c);
    void *plan = be->conv_plan(be, &cs);
    double fwd = 2.0 * B * cs.out_c * cs.in_c * cs.k * cs.k * cs.h * cs.w;
    ib_pool_shape ps = ib_pool_make(cs.out_c, cs.h, cs.w, 2, 2);
    if (a->op == OP_CONV_FWD) {
        be->conv_forward(be, plan, B, x, w, b, y); /* warm-up (first call at a batch size plans it) */
        while (ib_bench_keep_running(st)) be->conv_forward(be, plan, B, x, w, b, y);
        ib_bench_set_flops(st, fwd);
    } else if (a->op == OP_CONV_FWD_ACT) {
        be->conv_forward_act(be, plan, B, x, w, b, IB_ACT_RELU, y);
        while (ib_bench_keep_running(st)) be->conv_forward_act(be, plan, B, x, w, b, IB_ACT_RELU, y);
        ib_bench_set_flops(st, fwd);
        ib_bench_set_label(st, "conv + bias + relu");
    } else if (a->op == OP_CONV_ACT_POOL) {
        be->conv_act_pool_forward(be, plan, B, x, w, b, IB_ACT_RELU, &ps, y);
        while (ib_bench_keep_running(st)) be->conv_act_pool_forward(be, plan, B, x, w, b, IB_ACT_RELU, &ps, y);
        ib_bench_set_flops(st, fwd);
        ib_bench_set_label(st, "conv + bias + relu + maxpool 2x2 (forward only)");
    } else {
        /* the first layer needs no input gradient (as in training) */
        be->conv_backward(be, plan, B, x, w, dy, dx, dw, db);
        while (ib_bench_keep_running(st)) be->conv_backward(be, plan, B, x, w, dy, dx, dw, db);
        ib_bench_set_flops(st, dx ? 2 * fwd : fwd);
        ib_bench_set_label(st, dx ? "dx+dw+db" : "dw+db (first layer: no dx)");
    }
    be->conv_plan_free(be, plan);
    float *bufs[] = {x, w, b, dy, y, dx, dw, db};
    for (size_t i = 0; i < 8; i++)
        if (bufs[i]) be->release(be, bufs[i]);
}

static void bm_fc(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    const int B = a->batch, IN = fc_shapes[a->layer][0], O = fc_shapes[a->layer][1];
    float *x = rnd(be, (size_t)B * IN, 1, 1), *w = rnd(be, (size_t)O * IN, 2, 0.05f), *b = rnd(be, O, 3, 0.1f);
    float *dy = rnd(be, (size_t)B * O, 4, 1), *y = be->alloc(be, (size_t)B * O), *dx = be->alloc(be, (size_t)B * IN);
    float *dw = be->alloc(be, (size_t)O * IN), *db = be->alloc(be, O);
    double fwd = 2.0 * B * IN * O;
    if (a->op == OP_FC_FWD) {
        while (ib_bench_keep_running(st)) be->fc_forward(be, B, IN, O, x, w, b, y);
        ib_bench_set_flops(st, fwd);
    } else {
        while (ib_bench_keep_running(st)) be->fc_backward(be, B, IN, O, x, w, dy, dx, dw, db);
        ib_bench_set_flops(st, 2 * fwd);
    }
    float *bufs[] = {x, w, b, dy, y, dx, dw, db};
    for (size_t i = 0; i < 8; i++) be->release(be, bufs[i]);
}

static void bm_pool(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    ib_pool_shape ps = ib_pool_make(pool_shapes[a->layer][0], pool_shapes[a->layer][1], pool_shapes[a->layer][2], 2, 2);
    const int B = a->batch;
    size_t nx = (size_t)B * ps.c * ps.in_h * ps.in_w, ny = (size_t)B * ps.c * ps.out_h * ps.out_w;
    float *x = rnd(be, nx, 1, 1), *y = be->alloc(be, ny), *dy = rnd(be, ny, 2, 1), *dx = be->alloc(be, nx);
    int32_t *am = be->alloc(be, ny);
    be->pool_forward(be, &ps, B, x, y, am);
    if (a->op == OP_POOL_FWD) {
        while (ib_bench_keep_running(st)) be->pool_forward(be, &ps, B, x, y, am);
        ib_bench_set_bytes(st, 4.0 * (nx + 2 * ny));
    } else {
        while (ib_bench_keep_running(st)) be->pool_backward(be, &ps, B, dy, am, dx);
        ib_bench_set_bytes(st, 4.0 * (nx + 2 * ny));
    }
    be->release(be, x), be->release(be, y), be->release(be, dy), be->release(be, dx), be->release(be, am);
}

static void bm_elementwise(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    const size_t n = (a->op == OP_DROPOUT_FWD || a->op == OP_DROPOUT_BWD ? 1024 : act_sizes[a->layer]) * a->batch;
    float *x = rnd(be, n, 1, 1), *y = be->alloc(be, n), *dy = rnd(be, n, 2, 1), *dx = be->alloc(be, n);
    be->act_forward(be, IB_ACT_RELU, n, x, y);
    switch (a->op) {
    case OP_ACT_FWD: while (ib_bench_keep_running(st)) be->act_forward(be, IB_ACT_RELU, n, x, y); break;
    case OP_ACT_BWD: while (ib_bench_keep_running(st)) be->act_backward(be, IB_ACT_RELU, n, y, dy, dx); break;
    case OP_DROPOUT_FWD: while (ib_bench_keep_running(st)) be->dropout_forward(be, n, 0.5f, 1, 2, x, y); break;
    default: while (ib_bench_keep_running(st)) be->dropout_backward(be, n, 0.5f, 1, 2, dy, dx); break;
    }
    ib_bench_set_bytes(st, (a->op == OP_ACT_BWD ? 12.0 : 8.0) * n);
    be->release(be, x), be->release(be, y), be->release(be, dy), be->release(be, dx);
}

static void bm_xent(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    const int B = a->batch;
    float *z = rnd(be, (size_t)B * 10, 1, 5), *dz = be->alloc(be, (size_t)B * 10);
    int32_t *lab = be->alloc(be, (size_t)B);
    double loss;
    int right;
    while (ib_bench_keep_running(st)) be->softmax_xent(be, B, 10, z, lab, 1.0f / B, dz, &loss, &right);
    ib_bench_set_bytes(st, 8.0 * B * 10);
    be->release(be, z), be->release(be, dz), be->release(be, lab);
}

#define N_PARAMS 3274634 /* the original network: 800+32 + 51200+64 + 3211264+1024 + 10240+10 */

static void bm_optim(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    (void)a;
    const size_t n = N_PARAMS;
    float *p = rnd(be, n, 1, 0.1f), *g = rnd(be, n, 2, 1e-3f), *m = be->alloc(be, n), *v = be->alloc(be, n);
    ib_optim_hparams hp = {.kind = IB_OPT_ADAM_TF, .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    long t = 1;
    while (ib_bench_keep_running(st)) be->optim_update(be, &hp, t++, n, p, g, m, v, NULL);
    ib_bench_set_bytes(st, 4.0 * 7 * n); /* read p g m v, write p m v */
    ib_bench_set_label(st, "Adam (TF form), all 3.27M parameters");
    be->release(be, p), be->release(be, g), be->release(be, m), be->release(be, v);
}

static void bm_stats(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    (void)a;
    const size_t n = 3136 * 1024;
    float *x = rnd(be, n, 1, 0.1f);
    ib_stats_request req = {.histogram = 1};
    ib_tensor_stats out;
    while (ib_bench_keep_running(st)) be->tensor_stats(be, x, n, &req, &out);
    ib_bench_set_bytes(st, 4.0 * n);
    ib_bench_set_label(st, "fc1.weight, with histogram");
    be->release(be, x);
}

/* The original network at batch a->batch with the original init and a fixed batch of inputs
 * and labels in backend memory, as the trainer would leave it. Returns 0, or skips. */
static int original_net(ib_bench_state *st, const bench_arg *a, ib_backend *be, ib_net *net) {
    ib_net_spec spec;
    ib_err err;
    if (ib_spec_parse("original", &spec, &err) || ib_net_build(net, &spec, 1, 28, 28, 10, a->batch, be, &err)) {
        ib_bench_skip(st, err.msg);
        return -1;
    }
    ib_init_config ic = {.scheme = IB_INIT_TRUNCNORMAL, .stddev = 0.1, .bias = 0.1};
    ib_net_init_params(net, &ic, 1);
    const int B = a->batch;
    float *x = malloc(sizeof(float) * 784 * B);
    int32_t *lab = malloc(sizeof(int32_t) * B);
    for (int i = 0; i < 784 * B; i++) x[i] = ib_uniform_at(1, 1, (uint64_t)i);
    for (int i = 0; i < B; i++) lab[i] = i % 10;
    be->upload(be, net->input, x, sizeof(float) * 784 * B);
    be->upload(be, net->labels, lab, sizeof(int32_t) * B);
    free(x), free(lab);
    return 0;
}

/* A whole training step of the original network (forward, loss, backward, Adam) or a
 * forward-only evaluation batch, through src/model/net.c exactly as the trainer calls it. */
static void bm_net(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    ib_net net;
    if (original_net(st, a, be, &net)) return;
    const int B = a->batch;
    ib_optim_hparams hp = {.kind = IB_OPT_ADAM_TF, .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    long step = 0;
    double loss;
    int right;
    ib_net_forward(&net, B, a->op == OP_STEP, 1, 0); /* warm-up: plans the batch size */
    while (ib_bench_keep_running(st)) {
        if (a->op == OP_STEP) {
            ib_net_forward(&net, B, 1, 1, step);
            ib_net_loss(&net, B, 1, &loss, &right);
            ib_net_backward(&net, B, 1, step);
            be->optim_update(be, &hp, step + 1, net.param_count, net.param, net.grad, net.opt_m, net.opt_v, NULL);
            step++;
        } else {
            ib_net_forward(&net, B, 0, 1, 0);
            ib_net_loss(&net, B, 0, &loss, &right);
        }
    }
    /* backward counted as twice the forward (docs/TOOLCHAIN.md, "Counting FLOPs": 4.18 GFLOP per step at 50) */
    ib_bench_set_flops(st, net.flops_forward_per_sample * B * (a->op == OP_STEP ? 3 : 1));
    if (a->op == OP_EVAL) ib_bench_set_counter(st, "images", B);
    ib_net_free(&net);
}

/* The evaluation path the trainer takes (ib_net_forward_eval: conv + act + pool fused, fc + act
 * fused, dropout skipped), next to bm_net's unfused OP_EVAL; records how far its logits are
 * from the unfused forward's. */
static void bm_eval_fused(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    ib_net net;
    if (original_net(st, a, be, &net)) return;
    const int B = a->batch;
    double loss;
    int right;
    const float *logits = ib_net_forward_eval(&net, B); /* warm-up; and check it against ib_net_forward */
    float *first = malloc(sizeof(float) * 10 * B);
    be->download(be, first, logits, sizeof(float) * 10 * B);
    const float *ref = ib_net_forward(&net, B, 0, 1, 0);
    float *second = malloc(sizeof(float) * 10 * B);
    be->download(be, second, ref, sizeof(float) * 10 * B);
    double worst = 0, scale = 1e-12;
    for (int i = 0; i < 10 * B; i++) worst = fmax(worst, fabs(first[i] - second[i])), scale = fmax(scale, fabs(second[i]));
    ib_bench_set_counter(st, "max_rel_diff_vs_unfused", worst / scale);
    while (ib_bench_keep_running(st)) {
        ib_net_forward_eval(&net, B);
        ib_net_loss(&net, B, 0, &loss, &right); /* reads the logits ib_net_forward_eval left in the last layer */
    }
    ib_bench_set_flops(st, net.flops_forward_per_sample * B);
    ib_bench_set_counter(st, "images", B);
    free(first), free(second);
    ib_net_free(&net);
}

/* The yardstick: OpenBLAS sgemm 1024^3 with its own threading (all threads). */
static void bm_sgemm(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    (void)be;
    const int n = a->batch;
    float *A = calloc((size_t)n * n, 4), *Bm = calloc((size_t)n * n, 4), *C = calloc((size_t)n * n, 4);
    for (size_t i = 0; i < (size_t)n * n; i++) A[i] = (float)(i % 7) * 0.1f, Bm[i] = (float)(i % 5) * 0.1f;
    while (ib_bench_keep_running(st))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, Bm, n, 0.0f, C, n);
    ib_bench_set_flops(st, 2.0 * n * n * n);
    ib_bench_set_label(st, "OpenBLAS own threading (not thread-count deterministic): the peak");
    free(A), free(Bm), free(C);
}

#ifdef IB_HAVE_DNNL
/* The same through oneDNN's sgemm (AVX-512 kernels), its own threading: the machine's real peak. */
static void bm_sgemm_dnnl(ib_bench_state *st, const bench_arg *a, ib_backend *be) {
    (void)be;
    const int n = a->batch;
    float *A = calloc((size_t)n * n, 4), *Bm = calloc((size_t)n * n, 4), *C = calloc((size_t)n * n, 4);
    for (size_t i = 0; i < (size_t)n * n; i++) A[i] = (float)(i % 7) * 0.1f, Bm[i] = (float)(i % 5) * 0.1f;
    while (ib_bench_keep_running(st)) dnnl_sgemm('N', 'N', n, n, n, 1.0f, A, n, Bm, n, 0.0f, C, n);
    ib_bench_set_flops(st, 2.0 * n * n * n);
    ib_bench_set_label(st, "oneDNN sgemm, own threading");
    free(A), free(Bm), free(C);
}
#endif

static void run_bench(ib_bench_state *st, void *varg) {
    const bench_arg *a = varg;
    ib_backend *be = make_backend(a->backend);
    if (!be) {
        ib_bench_skip(st, "backend not built in");
        return;
    }
    switch (a->op) {
    case OP_CONV_FWD: case OP_CONV_BWD: bm_conv(st, a, be); break;
    case OP_FC_FWD: case OP_FC_BWD: bm_fc(st, a, be); break;
    case OP_POOL_FWD: case OP_POOL_BWD: bm_pool(st, a, be); break;
    case OP_ACT_FWD: case OP_ACT_BWD: case OP_DROPOUT_FWD: case OP_DROPOUT_BWD: bm_elementwise(st, a, be); break;
    case OP_XENT: bm_xent(st, a, be); break;
    case OP_OPTIM: bm_optim(st, a, be); break;
    case OP_STATS: bm_stats(st, a, be); break;
    case OP_STEP: case OP_EVAL: bm_net(st, a, be); break;
    case OP_SGEMM: bm_sgemm(st, a, be); break;
    case OP_CONV_FWD_ACT: case OP_CONV_ACT_POOL: bm_conv(st, a, be); break;
    case OP_EVAL_FUSED: bm_eval_fused(st, a, be); break;
    case OP_SGEMM_DNNL:
#ifdef IB_HAVE_DNNL
        bm_sgemm_dnnl(st, a, be);
#endif
        break;
    }
    be->destroy(be);
}

static bench_arg args[1024];
static int n_args = 0;

static void add(int backend, enum op op, int layer, int batch, const char *opname, const char *lname) {
    if (n_args == (int)(sizeof args / sizeof args[0])) abort();
    bench_arg *a = &args[n_args++];
    a->backend = backend, a->op = op, a->layer = layer, a->batch = batch;
    char name[160];
    if (op == OP_OPTIM || op == OP_STATS) snprintf(name, sizeof name, "%s/%s/%s", opname, backend_names[backend], lname);
    else if (op == OP_SGEMM || op == OP_SGEMM_DNNL) snprintf(name, sizeof name, "%s/n:%d", opname, batch);
    else snprintf(name, sizeof name, "%s/%s/%s/batch:%d", opname, backend_names[backend], lname, batch);
    ib_bench_register(name, run_bench, a);
}

int main(int argc, char **argv) {
    const char *t = getenv("INITBENCH_BENCH_THREADS");
    g_threads = t ? atoi(t) : 0;
    if (g_threads <= 0) g_threads = omp_get_num_procs();
    omp_set_num_threads(g_threads);
    char buf[256];
    snprintf(buf, sizeof buf, "%d", g_threads);
    ib_bench_add_context("initbench_threads", buf);
    ib_bench_add_context("openblas_config", openblas_get_config());
    ib_bench_add_context("OPENBLAS_CORETYPE", getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
    ib_bench_add_context("OPENBLAS_L2_SIZE", getenv("OPENBLAS_L2_SIZE") ? getenv("OPENBLAS_L2_SIZE") : "(unset)");
#ifdef IB_HAVE_DNNL
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "%d.%d.%d (%s)", v->major, v->minor, v->patch, v->hash);
    ib_bench_add_context("onednn", buf);
#else
    ib_bench_add_context("onednn", "not built in");
#endif

    add(1, OP_SGEMM, 0, 1024, "sgemm_peak", "");
#ifdef IB_HAVE_DNNL
    add(1, OP_SGEMM_DNNL, 0, 1024, "sgemm_peak_onednn", "");
#endif
    const int cpu_batches[3] = {10, 50, 500}, ref_batches[2] = {10, 50};
    for (int be = 0; be < 3; be++) {
        const int *batches = be == 0 ? ref_batches : cpu_batches, nb = be == 0 ? 2 : 3;
        for (int bi = 0; bi < nb; bi++) {
            int B = batches[bi];
            for (int l = 0; l < 2; l++) {
                add(be, OP_CONV_FWD, l, B, "conv_fwd", conv_names[l]);
                add(be, OP_CONV_BWD, l, B, "conv_bwd", conv_names[l]);
                if (be != 0) {
                    add(be, OP_CONV_FWD_ACT, l, B, "conv_fwd_act", conv_names[l]);
                    add(be, OP_CONV_ACT_POOL, l, B, "conv_act_pool_fwd", conv_names[l]);
                }
            }
            if (be == 2) continue; /* cpu-gemm differs from cpu only in convolutions */
            for (int l = 0; l < 2; l++) {
                add(be, OP_FC_FWD, l, B, "fc_fwd", fc_names[l]);
                add(be, OP_FC_BWD, l, B, "fc_bwd", fc_names[l]);
                add(be, OP_POOL_FWD, l, B, "pool_fwd", pool_names[l]);
                add(be, OP_POOL_BWD, l, B, "pool_bwd", pool_names[l]);
            }
            for (int l = 0; l < 3; l++) {
                add(be, OP_ACT_FWD, l, B, "act_fwd", act_names[l]);
                add(be, OP_ACT_BWD, l, B, "act_bwd", act_names[l]);
            }
            add(be, OP_DROPOUT_FWD, 0, B, "dropout_fwd", "dropout1");
            add(be, OP_DROPOUT_BWD, 0, B, "dropout_bwd", "dropout1");
            add(be, OP_XENT, 0, B, "softmax_xent", "logits");
        }
        if (be != 2) {
            add(be, OP_OPTIM, 0, 0, "optim_update", "adam_tf");
            add(be, OP_STATS, 0, 0, "tensor_stats", "fc1.weight");
        }
    }
    /* whole steps and evaluation batches (ref: one small step, for scale) */
    add(0, OP_STEP, 0, 10, "train_step", "original");
    for (int be = 1; be < 3; be++) {
        add(be, OP_STEP, 0, 50, "train_step", "original");
        add(be, OP_EVAL, 0, 500, "eval_forward", "original");
        add(be, OP_EVAL, 0, 2000, "eval_forward", "original");
        add(be, OP_EVAL_FUSED, 0, 500, "eval_forward_fused", "original");
        add(be, OP_EVAL_FUSED, 0, 2000, "eval_forward_fused", "original");
    }
    return ib_bench_main(argc, argv);
}
