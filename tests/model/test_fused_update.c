/* The optimiser fused into backward (ib_net_backward_update) leaves the same bits as backward
 * followed by the separate whole-buffer pass (ib_net_backward + ib_net_update): parameters,
 * gradients, optimiser state and the recorded update, tensor by tensor, after several steps, for
 * every optimiser, on every CPU backend, at networks whose fully connected layers take each of
 * the blocked weight gradient's paths (row blocks, the last one partial, one block; column
 * blocks where oneDNN runs AVX2), with 1 and 2 threads. Also checks that the fused path really
 * ran (the backend allows it) and that a step changed the parameters (so equal bits are not two
 * untouched buffers). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cpu_ops.h"
#include "net.h"
#include "rng.h"

typedef struct net_case {
    const char *spec;
    int hw, batch;
} net_case;

typedef struct side {
    ib_net net;
    float *update;
} side;

static const net_case CASES[] = {
    /* the original network: fc1 3136 -> 1024 (dW in 32-row blocks, or in 784-column blocks where
     * oneDNN runs AVX2: CI's second numerics pass) and fc2 1024 -> 10 (one block) */
    {"original", 28, 50},
    /* fc 196 -> 300 (10 row blocks, the last partial), 300 -> 40 (2), 40 -> 10 (one block), tanh */
    {"conv3x3:4,tanh,maxpool2,maxpool2,fc:300,relu,dropout:0.7,fc:40,sigmoid,fc:10", 28, 7},
};

static const char *OPT_NAMES[] = {"adam", "adam-pt", "sgd", "momentum", "nesterov", "rmsprop"};

static ib_optim_hparams optimiser(int k) {
    ib_optim_hparams hp = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .momentum = 0.9, .rho = 0.9};
    const ib_optim_kind kinds[] = {IB_OPT_ADAM_TF, IB_OPT_ADAM_PT, IB_OPT_SGD, IB_OPT_MOMENTUM, IB_OPT_MOMENTUM,
                                   IB_OPT_RMSPROP};
    hp.kind = kinds[k];
    hp.nesterov = k == 4;
    if (hp.kind == IB_OPT_SGD) hp.lr = 0.05; /* large enough that every step moves every weight */
    return hp;
}

static void setup(side *s, ib_backend *be, const net_case *c) {
    ib_err err;
    ib_net_spec spec;
    CHECK(ib_spec_parse(c->spec, &spec, &err) == 0, "spec %s: %s", c->spec, err.msg);
    CHECK(ib_net_build(&s->net, &spec, 1, c->hw, c->hw, 10, c->batch, be, &err) == 0, "build: %s", err.msg);
    ib_init_config ic = {.scheme = IB_INIT_GLOROT_NORMAL, .bias = 0.01};
    ib_net_init_params(&s->net, &ic, 3);
    s->update = be->alloc(be, s->net.param_count);
}

/* One training step on a fixed pseudo-random batch of its own (the same for both sides). */
static void step(side *s, const net_case *c, long t, const ib_optim_hparams *hp, int fused, int record) {
    ib_net *net = &s->net;
    const size_t n_in = (size_t)c->batch * c->hw * c->hw;
    for (size_t i = 0; i < n_in; i++) net->input[i] = ib_uniform_at(11, ib_stream(IB_RNG_TEST, 7, (uint32_t)t), i);
    for (int b = 0; b < c->batch; b++) net->labels[b] = (int32_t)((b * 3 + t) % 10);
    double loss;
    int right;
    ib_net_forward(net, c->batch, 1, 5, t);
    ib_net_loss(net, c->batch, 1, &loss, &right);
    if (fused) {
        ib_net_backward_update(net, c->batch, 5, t, hp, t + 1, record ? s->update : NULL);
    } else {
        ib_net_backward(net, c->batch, 5, t);
        ib_net_update(net, hp, t + 1, record ? s->update : NULL);
    }
}

/* Compare tensor by tensor (the padding between tensors is no parameter). */
static int same_bits(const side *a, const side *b, const char *what, const char *ctx, int with_update) {
    const ib_net *x = &a->net, *y = &b->net;
    int same = 1;
    for (int p = 0; p < x->n_params; p++) {
        const ib_param *P = &x->params[p];
        const size_t bytes = P->count * sizeof(float), k = P->offset;
        const float *pairs[][2] = {{x->param + k, y->param + k},
                                   {x->grad + k, y->grad + k},
                                   {x->opt_m + k, y->opt_m + k},
                                   {x->opt_v + k, y->opt_v + k},
                                   {a->update + k, b->update + k}};
        const char *names[] = {"param", "grad", "m", "v", "update"};
        for (int q = 0; q < (with_update ? 5 : 4); q++)
            if (memcmp(pairs[q][0], pairs[q][1], bytes)) {
                CHECK(0, "%s %s: %s of %s differs between fused and unfused", what, ctx, names[q], P->name);
                same = 0;
            }
    }
    return same;
}

static void run_case(ib_backend *be, const char *be_name, const net_case *c, int opt, int threads) {
    const ib_optim_hparams hp = optimiser(opt);
    side u, f;
    setup(&u, be, c);
    setup(&f, be, c);
    float *before = malloc(u.net.param_count * sizeof(float));
    memcpy(before, u.net.param, u.net.param_count * sizeof(float));
    char ctx[160];
    snprintf(ctx, sizeof ctx, "[%s, %s, %s, %d threads]", be_name, c->spec, OPT_NAMES[opt], threads);
    for (long t = 0; t < 3; t++) {
        const int record = t == 1; /* a statistics step keeps the applied update */
        step(&u, c, t, &hp, 0, record);
        step(&f, c, t, &hp, 1, record);
        char what[32];
        snprintf(what, sizeof what, "step %ld", t);
        if (!same_bits(&u, &f, what, ctx, record)) break;
    }
    /* every tensor moved: equal bits are not two untouched buffers */
    for (int p = 0; p < u.net.n_params; p++) {
        const ib_param *P = &u.net.params[p];
        CHECK(memcmp(before + P->offset, u.net.param + P->offset, P->count * sizeof(float)) != 0,
              "%s: %s did not change in 3 steps", ctx, P->name);
    }
    free(before);
    be->release(be, u.update), be->release(be, f.update);
    ib_net_free(&u.net), ib_net_free(&f.net);
}

int main(void) {
    struct {
        const char *name;
        ib_backend *(*make)(int threads);
    } backends[] = {{"ref", ib_backend_ref_create}, {"cpu", ib_backend_cpu_create}};
    for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++)
        for (int threads = 1; threads <= 2; threads++) {
            ib_backend *be = backends[b].make(threads);
            CHECK(be->fuse_update && be->fc_backward_update, "%s: the fused update is not offered", backends[b].name);
            for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
                /* ref's plain loops take seconds per step of the original network: the small one only */
                if (b == 0 && c == 0) continue;
                for (int opt = 0; opt < 6; opt++) run_case(be, backends[b].name, &CASES[c], opt, threads);
            }
            be->destroy(be);
        }
    /* the im2col + SGEMM convolutions (the cpu backend without oneDNN) fuse the same way */
    if (ib_cpu_have_dnnl()) {
        ib_backend *be = ib_backend_cpu_create_variant(2, IB_CPU_CONV_GEMM);
        for (int opt = 0; opt < 6; opt += 5) run_case(be, "cpu-gemm", &CASES[0], opt, 2);
        be->destroy(be);
    }
    return check_finish("test_fused_update");
}
