/* Google Benchmark (through the C shim, gbench.h) of every op of every backend at the original
 * network's shapes and a few batch sizes, plus a whole training step, a forward-only evaluation
 * batch, and the machine's yardsticks: the sgemm peak (OpenBLAS and oneDNN; summarize.py divides
 * each op's FLOP/s by it) and STREAM-style memory bandwidth (stream_copy, stream_triad), which
 * together give the step's floor in the same run (summarize.py).
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    OP_CONV_FWD, OP_CONV_BWD, OP_FC_FWD, OP_FC_BWD, OP_POOL_FWD, OP_POOL_BWD, OP_ACT_POOL_BWD, OP_ACT_FWD, OP_ACT_BWD,
    OP_DROPOUT_FWD, OP_DROPOUT_BWD, OP_XENT, OP_OPTIM, OP_STATS, OP_STEP, OP_EVAL, OP_SGEMM,
    OP_CONV_FWD_ACT, OP_CONV_ACT_POOL, OP_EVAL_FUSED, OP_SGEMM_DNNL, OP_STREAM_COPY, OP_STREAM_TRIAD,
    OP_CONV_ACT_POOL_TRAIN, OP_FC_BWD_UPDATE, OP_STEP_FUSED,
};

typedef struct bench_arg {
    int backend; /* 0 ref, 1 cpu, 2 cpu-gemm */
    enum op op;
    int layer;   /* index into the shape tables below */
    int batch;
} bench_arg;

static const char *backend_names[3] = {"ref", "cpu", "cpu-gemm"};
static int g_threads = 0;
static size_t g_stream_bytes = 0; /* per STREAM array (stream_array_bytes) */

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
    } else if (a->op == OP_CONV_ACT_POOL_TRAIN) {
        const size_t np = (size_t)B * ps.c * ps.out_h * ps.out_w;
        float *py = be->alloc(be, np);
        int32_t *am = be->alloc(be, np);
        be->conv_act_pool_forward_train(be, plan, B, x, w, b, IB_ACT_RELU, &ps, y, py, am);
        while (ib_bench_keep_running(st)) be->conv_act_pool_forward_train(be, plan, B, x, w, b, IB_ACT_RELU, &ps, y, py, am);
        be->release(be, py), be->release(be, am);
        ib_bench_set_flops(st, fwd);
        ib_bench_set_label(st, "conv + bias + relu, and maxpool 2x2 with argmax (training)");
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
    } else if (a->op == OP_FC_BWD_UPDATE) {
        /* backward with TF-form Adam fused in (the trainer's path on the cpu backends): the
         * gradient and the optimiser state laid out as in the network's parallel buffers */
        const size_t n = (size_t)O * IN + O;
        float *grad = be->alloc(be, n), *m = be->alloc(be, n), *v = be->alloc(be, n);
        float *param = be->alloc(be, n);
        be->copy(be, param, w, (size_t)O * IN * sizeof(float));
        be->copy(be, param + (size_t)O * IN, b, (size_t)O * sizeof(float));
        ib_optim_hparams hp = {.kind = IB_OPT_ADAM_TF, .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
        long t = 1;
        for (; t <= 2; t++) { /* warm-up: the first steps fault the state's fresh pages in */
            const ib_optim_step opt = {&hp, t, grad, param, m, v, NULL};
            be->fc_backward_update(be, B, IN, O, x, param, dy, dx, grad, grad + (size_t)O * IN, &opt);
        }
        while (ib_bench_keep_running(st)) {
            const ib_optim_step opt = {&hp, t++, grad, param, m, v, NULL};
            be->fc_backward_update(be, B, IN, O, x, param, dy, dx, grad, grad + (size_t)O * IN, &opt);
        }
        be->release(be, grad), be->release(be, m), be->release(be, v), be->release(be, param);
        ib_bench_set_flops(st, 2 * fwd);
        ib_bench_set_label(st, "dx+dw+db, then Adam on each block of dw as it is produced");
    } else {
        be->fc_backward(be, B, IN, O, x, w, dy, dx, dw, db); /* warm-up, as above */
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
    } else if (a->op == OP_ACT_POOL_BWD) { /* ReLU then pooling, as in the network: x is the act's output */
        be->act_forward(be, IB_ACT_RELU, nx, x, x);
        be->pool_forward(be, &ps, B, x, y, am);
        while (ib_bench_keep_running(st)) be->act_pool_backward(be, IB_ACT_RELU, &ps, B, x, y, dy, am, dx);
        ib_bench_set_bytes(st, 4.0 * (nx + 3 * ny));
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
    ib_bench_set_counter(st, "params", (double)n); /* summarize.py: the optimiser's bytes for the floor */
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

/* A training step's FLOPs counted layer by layer: each convolution and fully connected layer
 * does its forward, a weight gradient of the same count and an input gradient of the same count,
 * except the first weight layer, which needs no input gradient (ib_net_backward skips it).
 * Biases, activations, pooling and the loss are not counted (as in docs/PERFORMANCE.md, "The
 * floor": 4.10 GFLOP at batch 50 for the original network). */
static double exact_step_flops(const ib_net *net, int batch) {
    double total = 0;
    int first_weight_layer = 1;
    for (int i = 0; i < net->n_layers; i++) {
        const ib_layer *L = &net->layers[i];
        double fwd;
        if (L->spec.kind == IB_L_CONV)
            fwd = 2.0 * L->out_c * L->in_c * L->spec.k * L->spec.k * L->out_h * L->out_w;
        else if (L->spec.kind == IB_L_FC)
            fwd = 2.0 * (double)L->out_size * (double)L->in_size;
        else
            continue;
        total += (first_weight_layer ? 2 : 3) * fwd;
        first_weight_layer = 0;
    }
    return total * batch;
}

/* One training step as the trainer runs it: forward, loss, backward, Adam; with `fused`
 * (--update fused) Adam runs inside backward. */
static void train_step(ib_net *net, int batch, const ib_optim_hparams *hp, long step, int fused) {
    double loss;
    int right;
    ib_net_forward(net, batch, 1, 1, step);
    ib_net_loss(net, batch, 1, &loss, &right);
    if (fused) {
        ib_net_backward_update(net, batch, 1, step, hp, step + 1, NULL);
    } else {
        ib_net_backward(net, batch, 1, step);
        ib_net_update(net, hp, step + 1, NULL);
    }
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
    /* Warm-up, untimed: the first call of each op at a batch size creates its primitives (oneDNN
     * plans forward, backward-data and backward-weights separately), so a step warms up with whole
     * steps; a forward alone left the backward's planning to the first timed step. */
    const int is_step = a->op == OP_STEP || a->op == OP_STEP_FUSED;
    const int fused = a->op == OP_STEP_FUSED;
    if (fused && !be->fuse_update) {
        ib_bench_skip(st, "the backend keeps the separate optimiser pass");
        ib_net_free(&net);
        return;
    }
    if (is_step)
        for (; step < 2; step++) train_step(&net, B, &hp, step, fused);
    else
        ib_net_forward(&net, B, 0, 1, 0);
    while (ib_bench_keep_running(st)) {
        if (is_step) {
            train_step(&net, B, &hp, step, fused);
            step++;
        } else {
            ib_net_forward(&net, B, 0, 1, 0);
            ib_net_loss(&net, B, 0, &loss, &right);
        }
    }
    /* backward counted as twice the forward (docs/TOOLCHAIN.md, "Counting FLOPs": 4.18 GFLOP per step at 50) */
    ib_bench_set_flops(st, net.flops_forward_per_sample * B * (is_step ? 3 : 1));
    if (is_step) ib_bench_set_label(st, fused ? "Adam fused into backward" : "Adam as a separate pass");
    if (is_step) ib_bench_set_counter(st, "flop_exact_per_iter", exact_step_flops(&net, B));
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

/* Bytes per STREAM array: 4 x the last-level cache (STREAM's rule), at least 64 MiB. glibc may
 * report the whole package's L3, of which a VM's few cores reach only a slice (508 MiB on the
 * project's 2-vCPU EPYC VM), so the size is capped at 512 MiB and at 1/16 of the memory per
 * array; INITBENCH_STREAM_MIB overrides it. */
static size_t stream_array_bytes(void) {
    const char *env = getenv("INITBENCH_STREAM_MIB");
    if (env && *env) {
        char *end;
        long mib = strtol(env, &end, 10);
        if (*end || mib < 1 || mib > 65536) {
            fprintf(stderr, "initbench_bench: INITBENCH_STREAM_MIB=%s: want a whole number of MiB in [1, 65536]\n", env);
            exit(2);
        }
        return (size_t)mib << 20;
    }
    const size_t mib = (size_t)1 << 20;
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    size_t bytes = l3 > 0 ? 4 * (size_t)l3 : 0;
    if (bytes < 64 * mib) bytes = 64 * mib;
    if (bytes > 512 * mib) bytes = 512 * mib;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && bytes > (size_t)pages * (size_t)page / 16) bytes = (size_t)pages * (size_t)page / 16;
    return bytes & ~(size_t)63;
}

/* One STREAM pass: triad a = b + s*c, or copy a = b. */
static void stream_pass(int triad, int threads, size_t n, float *restrict a, const float *restrict b,
                        const float *restrict c, float s) {
    if (triad) {
#pragma omp parallel for schedule(static) num_threads(threads)
        for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
    } else {
#pragma omp parallel for schedule(static) num_threads(threads)
        for (size_t i = 0; i < n; i++) a[i] = b[i];
    }
}

/* STREAM-style memory bandwidth (McCalpin's copy and triad, in float): OpenMP over the same
 * threads as the other benchmarks, static schedule, arrays first touched in that same schedule
 * so each thread's pages sit where it works. Bytes counted as STREAM does: each array read or
 * written once per element (copy 2 x 4 B, triad 3 x 4 B); plain stores also read a[] into the
 * cache first (write-allocate), and that traffic is not counted. */
static void bm_stream(ib_bench_state *st, const bench_arg *arg, ib_backend *be) {
    (void)be;
    const size_t bytes = g_stream_bytes, n = bytes / sizeof(float);
    float *a = NULL, *b = NULL, *c = NULL;
    if (posix_memalign((void **)&a, 64, bytes) || posix_memalign((void **)&b, 64, bytes) ||
        posix_memalign((void **)&c, 64, bytes)) {
        free(a), free(b), free(c);
        ib_bench_skip(st, "stream: out of memory (set INITBENCH_STREAM_MIB lower)");
        return;
    }
    const int triad = arg->op == OP_STREAM_TRIAD, threads = g_threads;
    const float s = 3.0f;
    /* Small whole numbers (exact in float, so the check below is exact) that differ from page to
     * page: pages of one repeated value could be merged by the host (KSM) and read from cache. */
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < n; i++) a[i] = 0.0f, b[i] = (float)(i % 1021), c[i] = (float)(i / 1024 % 1019);
    stream_pass(triad, threads, n, a, b, c, s); /* warm-up */
    while (ib_bench_keep_running(st)) stream_pass(triad, threads, n, a, b, c, s);
    /* STREAM's check, which also keeps the compiler from dropping stores nobody reads */
    size_t wrong = 0;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(+ : wrong)
    for (size_t i = 0; i < n; i++) wrong += a[i] != (triad ? b[i] + s * c[i] : b[i]);
    if (wrong) ib_bench_skip(st, "stream: wrong results");
    ib_bench_set_bytes(st, (triad ? 3.0 : 2.0) * bytes);
    ib_bench_set_counter(st, "array_MiB", (double)bytes / (1 << 20));
    ib_bench_set_label(st, triad ? "a = b + s*c, float; STREAM bytes: 3 x 4 B/element, write-allocate not counted"
                                 : "a = b, float; STREAM bytes: 2 x 4 B/element, write-allocate not counted");
    free(a), free(b), free(c);
}

static void run_bench(ib_bench_state *st, void *varg) {
    const bench_arg *a = varg;
    ib_backend *be = make_backend(a->backend);
    if (!be) {
        ib_bench_skip(st, "backend not built in");
        return;
    }
    switch (a->op) {
    case OP_CONV_FWD: case OP_CONV_BWD: bm_conv(st, a, be); break;
    case OP_FC_FWD: case OP_FC_BWD: case OP_FC_BWD_UPDATE: bm_fc(st, a, be); break;
    case OP_POOL_FWD: case OP_POOL_BWD: case OP_ACT_POOL_BWD: bm_pool(st, a, be); break;
    case OP_ACT_FWD: case OP_ACT_BWD: case OP_DROPOUT_FWD: case OP_DROPOUT_BWD: bm_elementwise(st, a, be); break;
    case OP_XENT: bm_xent(st, a, be); break;
    case OP_OPTIM: bm_optim(st, a, be); break;
    case OP_STATS: bm_stats(st, a, be); break;
    case OP_STEP: case OP_STEP_FUSED: case OP_EVAL: bm_net(st, a, be); break;
    case OP_SGEMM: bm_sgemm(st, a, be); break;
    case OP_CONV_FWD_ACT: case OP_CONV_ACT_POOL: case OP_CONV_ACT_POOL_TRAIN: bm_conv(st, a, be); break;
    case OP_EVAL_FUSED: bm_eval_fused(st, a, be); break;
    case OP_SGEMM_DNNL:
#ifdef IB_HAVE_DNNL
        bm_sgemm_dnnl(st, a, be);
#endif
        break;
    case OP_STREAM_COPY: case OP_STREAM_TRIAD: bm_stream(st, a, be); break;
    }
    be->destroy(be);
}

#ifdef IB_HAVE_DNNL
static const char *dnnl_isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}
#endif

/* What the CPU offers, what each library runs, and what initbench's own code was compiled for,
 * in the JSON context: the figures of an AVX2 machine and of ONEDNN_MAX_CPU_ISA=AVX2 on an
 * AVX-512 one are told apart by these keys (summarize.py prints them first). */
static void add_isa_context(void) {
    char buf[256] = "", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            const char *value = strchr(line, ':') + 1;
            value += strspn(value, " \t");
            snprintf(buf, sizeof buf, "%s", value);
            buf[strcspn(buf, "\n")] = 0;
            break;
        }
    if (f) fclose(f);
    ib_bench_add_context("cpu_model", *buf ? buf : "(unknown)");
    __builtin_cpu_init();
    snprintf(buf, sizeof buf, "%s%s%s%s%s", __builtin_cpu_supports("avx512f") ? "avx512f " : "",
             __builtin_cpu_supports("avx512bw") ? "avx512bw " : "", __builtin_cpu_supports("avx512vl") ? "avx512vl " : "",
             __builtin_cpu_supports("avx2") ? "avx2 " : "", __builtin_cpu_supports("fma") ? "fma " : "");
    if (*buf) buf[strlen(buf) - 1] = 0;
    ib_bench_add_context("cpu_isa", *buf ? buf : "(no avx2, fma or avx512)");
    const char *max_isa = getenv("ONEDNN_MAX_CPU_ISA") ? getenv("ONEDNN_MAX_CPU_ISA") : getenv("DNNL_MAX_CPU_ISA");
    ib_bench_add_context("ONEDNN_MAX_CPU_ISA", max_isa ? max_isa : "(unset)");
#ifdef IB_HAVE_DNNL
    ib_bench_add_context("onednn_isa", dnnl_isa_name(dnnl_get_effective_cpu_isa()));
#else
    ib_bench_add_context("onednn_isa", "not built in");
#endif
    ib_bench_add_context("openblas_core", openblas_get_corename());
    const char *code_isa =
#if defined(__AVX512F__)
        "avx512f";
#elif defined(__AVX2__) && defined(__FMA__)
        "avx2 fma";
#elif defined(__AVX2__)
        "avx2";
#else
        "below avx2";
#endif
    snprintf(buf, sizeof buf, "%s (code for %s)", IB_BENCH_BUILT_NATIVE ? "-march=native" : "IB_NATIVE=OFF", code_isa);
    ib_bench_add_context("initbench_build", buf);
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
    else if (op == OP_STREAM_COPY || op == OP_STREAM_TRIAD) snprintf(name, sizeof name, "%s", opname);
    else snprintf(name, sizeof name, "%s/%s/%s/batch:%d", opname, backend_names[backend], lname, batch);
    ib_bench_register(name, run_bench, a);
}

int main(int argc, char **argv) {
    const char *t = getenv("INITBENCH_BENCH_THREADS");
    g_threads = t ? atoi(t) : 0;
    if (g_threads <= 0) g_threads = omp_get_num_procs();
    omp_set_num_threads(g_threads);
    g_stream_bytes = stream_array_bytes(); /* a bad INITBENCH_STREAM_MIB stops here, before any benchmark */
    char buf[256];
    snprintf(buf, sizeof buf, "%d", g_threads);
    ib_bench_add_context("initbench_threads", buf);
    ib_bench_add_context("openblas_config", openblas_get_config());
    ib_bench_add_context("OPENBLAS_CORETYPE", getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
    ib_bench_add_context("OPENBLAS_L2_SIZE", getenv("OPENBLAS_L2_SIZE") ? getenv("OPENBLAS_L2_SIZE") : "(unset)");
    add_isa_context();
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
    add(1, OP_STREAM_COPY, 0, 0, "stream_copy", "");
    add(1, OP_STREAM_TRIAD, 0, 0, "stream_triad", "");
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
                    add(be, OP_CONV_ACT_POOL_TRAIN, l, B, "conv_act_pool_fwd_train", conv_names[l]);
                }
            }
            if (be == 2) continue; /* cpu-gemm differs from cpu only in convolutions */
            for (int l = 0; l < 2; l++) {
                add(be, OP_FC_FWD, l, B, "fc_fwd", fc_names[l]);
                add(be, OP_FC_BWD, l, B, "fc_bwd", fc_names[l]);
                add(be, OP_FC_BWD_UPDATE, l, B, "fc_bwd_update", fc_names[l]);
                add(be, OP_POOL_FWD, l, B, "pool_fwd", pool_names[l]);
                add(be, OP_POOL_BWD, l, B, "pool_bwd", pool_names[l]);
                add(be, OP_ACT_POOL_BWD, l, B, "act_pool_bwd", pool_names[l]);
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
        add(be, OP_STEP_FUSED, 0, 50, "train_step_fused", "original");
        add(be, OP_EVAL, 0, 500, "eval_forward", "original");
        add(be, OP_EVAL, 0, 2000, "eval_forward", "original");
        add(be, OP_EVAL_FUSED, 0, 500, "eval_forward_fused", "original");
        add(be, OP_EVAL_FUSED, 0, 2000, "eval_forward_fused", "original");
    }
    return ib_bench_main(argc, argv);
}
