#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "stats.h"
#include "trace.h"

static int add_param(ib_net *net, int layer, const char *lname, int is_bias, int ndim, const int64_t *shape) {
    ib_param *p = &net->params[net->n_params];
    snprintf(p->name, sizeof p->name, "%s.%s", lname, is_bias ? "bias" : "weight");
    p->ndim = ndim;
    p->count = 1;
    for (int d = 0; d < ndim; d++) {
        p->shape[d] = shape[d];
        p->count *= (size_t)shape[d];
    }
    p->offset = net->param_count;
    p->layer = layer;
    p->is_bias = is_bias;
    /* keep every tensor 64-byte aligned inside the shared buffer */
    net->param_count += (p->count + 15) & ~(size_t)15;
    return net->n_params++;
}

int ib_net_build(ib_net *net, const ib_net_spec *spec, int in_c, int in_h, int in_w, int classes,
                 int max_batch, ib_backend *be, ib_err *err) {
    memset(net, 0, sizeof *net);
    net->be = be;
    net->max_batch = max_batch;
    net->classes = classes;
    net->in_c = in_c, net->in_h = in_h, net->in_w = in_w;
    int c = in_c, h = in_h, w = in_w, n_conv = 0, n_fc = 0, n_act = 0, n_pool = 0, n_drop = 0;
    int last_weight = -1;
    const size_t max_floats_per_sample = (size_t)1 << 28;
    for (int i = 0; i < spec->n; i++) {
        ib_layer *L = &net->layers[i];
        L->spec = spec->layers[i];
        L->in_c = c, L->in_h = h, L->in_w = w;
        L->weight = L->bias = L->owner = -1;
        switch (L->spec.kind) {
        case IB_L_CONV: {
            snprintf(L->name, sizeof L->name, "conv%d", ++n_conv);
            int64_t ws[4] = {L->spec.units, c, L->spec.k, L->spec.k}, bs[1] = {L->spec.units};
            L->weight = add_param(net, i, L->name, 0, 4, ws);
            L->bias = add_param(net, i, L->name, 1, 1, bs);
            net->flops_forward_per_sample += 2.0 * L->spec.units * c * L->spec.k * L->spec.k * h * w;
            c = L->spec.units;
            last_weight = i;
            break;
        }
        case IB_L_POOL:
            snprintf(L->name, sizeof L->name, "pool%d", ++n_pool);
            L->pool = ib_pool_make(c, h, w, L->spec.k, L->spec.stride);
            h = L->pool.out_h, w = L->pool.out_w;
            break;
        case IB_L_FC: {
            snprintf(L->name, sizeof L->name, "fc%d", ++n_fc);
            int features = c * h * w; /* flatten in NCHW order, as PyTorch's view(n, -1) */
            int64_t ws[2] = {L->spec.units, features}, bs[1] = {L->spec.units};
            L->weight = add_param(net, i, L->name, 0, 2, ws);
            L->bias = add_param(net, i, L->name, 1, 1, bs);
            net->flops_forward_per_sample += 2.0 * L->spec.units * features;
            c = L->spec.units, h = w = 1;
            last_weight = i;
            break;
        }
        case IB_L_ACT:
            snprintf(L->name, sizeof L->name, "%s%d",
                     L->spec.act == IB_ACT_RELU ? "relu" : L->spec.act == IB_ACT_TANH ? "tanh" : "sigmoid", ++n_act);
            L->owner = last_weight;
            break;
        case IB_L_DROPOUT:
            snprintf(L->name, sizeof L->name, "dropout%d", ++n_drop);
            L->owner = last_weight;
            break;
        }
        L->out_c = c, L->out_h = h, L->out_w = w;
        char name[sizeof L->name]; /* a copy: gcc's restrict check cannot see the fields apart */
        memcpy(name, L->name, sizeof name);
        snprintf(L->fwd_range, sizeof L->fwd_range, "fwd/%s", name);
        snprintf(L->bwd_range, sizeof L->bwd_range, "bwd/%s", name);
        L->in_size = (size_t)L->in_c * L->in_h * L->in_w;
        L->out_size = (size_t)c * h * w;
        if (L->out_size > max_floats_per_sample)
            return ib_fail(err, IB_EXIT_USAGE, "layer %d (%s): output of %zu floats per sample is too large", i + 1,
                           L->name, L->out_size);
    }
    net->n_layers = spec->n;
    const ib_layer *last = &net->layers[spec->n - 1];
    if ((int)last->out_size != classes)
        return ib_fail(err, IB_EXIT_USAGE, "the network's last layer has %zu outputs but the dataset has %d classes",
                       last->out_size, classes);

    /* Buffers. Activation layers run in place on their input. */
    size_t max_act = (size_t)in_c * in_h * in_w;
    for (int i = 0; i < net->n_layers; i++) {
        ib_layer *L = &net->layers[i];
        if (L->out_size > max_act) max_act = L->out_size;
        if (L->spec.kind == IB_L_ACT) {
            L->out = i ? net->layers[i - 1].out : NULL; /* resolved below for i == 0 */
            continue;
        }
        L->out = be->alloc(be, L->out_size * max_batch);
        if (L->spec.kind == IB_L_POOL) L->argmax = be->alloc(be, L->out_size * max_batch);
        if (L->spec.kind == IB_L_CONV) {
            ib_conv_shape cs = {max_batch, L->in_c, L->in_h, L->in_w, L->spec.units, L->spec.k};
            L->plan = be->conv_plan(be, &cs);
        }
    }
    net->input = be->alloc(be, (size_t)in_c * in_h * in_w * max_batch);
    for (int i = 0; i < net->n_layers && net->layers[i].spec.kind == IB_L_ACT; i++) net->layers[i].out = net->input;
    net->labels = be->alloc(be, (size_t)max_batch);
    net->dlogits = be->alloc(be, (size_t)classes * max_batch);
    net->grad_a = be->alloc(be, max_act * max_batch);
    net->grad_b = be->alloc(be, max_act * max_batch);
    net->param = be->alloc(be, net->param_count);
    net->grad = be->alloc(be, net->param_count);
    net->opt_m = be->alloc(be, net->param_count);
    net->opt_v = be->alloc(be, net->param_count);
    return 0;
}

void ib_net_free(ib_net *net) {
    ib_backend *be = net->be;
    if (!be) return;
    for (int i = 0; i < net->n_layers; i++) {
        ib_layer *L = &net->layers[i];
        if (L->spec.kind != IB_L_ACT) be->release(be, L->out);
        if (L->argmax) be->release(be, L->argmax);
        if (L->plan) be->conv_plan_free(be, L->plan);
    }
    void *bufs[] = {net->input, net->labels, net->dlogits, net->grad_a, net->grad_b,
                    net->param, net->grad, net->opt_m, net->opt_v};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) be->release(be, bufs[i]);
    memset(net, 0, sizeof *net);
}

void ib_net_init_params(ib_net *net, const ib_init_config *cfg, uint64_t seed) {
    float *host = ib_xcalloc(net->param_count, sizeof(float));
    for (int p = 0; p < net->n_params; p++) {
        const ib_param *P = &net->params[p];
        float *dst = host + P->offset;
        if (P->is_bias)
            for (size_t i = 0; i < P->count; i++) dst[i] = (float)cfg->bias;
        else
            ib_init_weight(cfg, seed, (uint32_t)p, P->shape, P->ndim, dst);
    }
    ib_net_params_from_host(net, host);
    free(host);
}

void ib_net_params_to_host(const ib_net *net, float *host) {
    net->be->download(net->be, host, net->param, net->param_count * sizeof(float));
}

void ib_net_params_from_host(ib_net *net, const float *host) {
    net->be->upload(net->be, net->param, host, net->param_count * sizeof(float));
}

static const float *layer_input(const ib_net *net, int i) { return i ? net->layers[i - 1].out : net->input; }

static float *pparam(const ib_net *net, int idx) { return net->param + net->params[idx].offset; }
static float *pgrad(const ib_net *net, int idx) { return net->grad + net->params[idx].offset; }

static int saturation_kind(ib_act act) { return act == IB_ACT_TANH ? 1 : act == IB_ACT_SIGMOID ? 2 : 0; }

/* Statistics after layer i's forward: a weight layer's output is its preact (and its act when no
 * activation follows); an activation's output is the act of the weight layer it follows. */
static void observe_forward(ib_net *net, int i, int batch) {
    const ib_layer *L = &net->layers[i];
    const size_t n = L->out_size * batch;
    const int next_is_act = i + 1 < net->n_layers && net->layers[i + 1].spec.kind == IB_L_ACT;
    if (L->weight >= 0) {
        ib_stats_record(net->stats, L->name, "preact", L->out, n, 0, 0);
        if (!next_is_act) ib_stats_record(net->stats, L->name, "act", L->out, n, 0, 1);
    } else if (L->spec.kind == IB_L_ACT && L->owner >= 0 && net->layers[L->owner].weight >= 0 &&
               net->layers[i - 1].weight >= 0) {
        ib_stats_record(net->stats, net->layers[L->owner].name, "act", L->out, n, saturation_kind(L->spec.act), 1);
    }
}

const float *ib_net_forward(ib_net *net, int batch, int training, uint64_t seed, long step) {
    ib_backend *be = net->be;
    for (int i = 0; i < net->n_layers; i++) {
        ib_layer *L = &net->layers[i];
        const float *x = layer_input(net, i);
        ib_trace_push(L->fwd_range);
        switch (L->spec.kind) {
        case IB_L_CONV:
            if (!net->stats && i + 1 < net->n_layers && net->layers[i + 1].spec.kind == IB_L_ACT) {
                /* conv + bias + activation in one pass; the activation layer (in place) is done */
                ib_layer *A = &net->layers[i + 1];
                if (i + 2 < net->n_layers && net->layers[i + 2].spec.kind == IB_L_POOL) {
                    /* and the max pooling after it, chunk by chunk while in cache (argmax kept) */
                    ib_layer *P = &net->layers[i + 2];
                    be->conv_act_pool_forward_train(be, L->plan, batch, x, pparam(net, L->weight),
                                                    pparam(net, L->bias), A->spec.act, &P->pool, L->out, P->out,
                                                    P->argmax);
                    ib_trace_pop();
                    i += 2;
                    continue;
                }
                be->conv_forward_act(be, L->plan, batch, x, pparam(net, L->weight), pparam(net, L->bias), A->spec.act,
                                     L->out);
                ib_trace_pop();
                i++;
                continue;
            }
            be->conv_forward(be, L->plan, batch, x, pparam(net, L->weight), pparam(net, L->bias), L->out);
            break;
        case IB_L_FC:
            be->fc_forward(be, batch, (int)L->in_size, (int)L->out_size, x, pparam(net, L->weight),
                           pparam(net, L->bias), L->out);
            break;
        case IB_L_POOL: be->pool_forward(be, &L->pool, batch, x, L->out, L->argmax); break;
        case IB_L_ACT: be->act_forward(be, L->spec.act, L->out_size * batch, x, L->out); break;
        case IB_L_DROPOUT:
            if (training && L->spec.keep < 1.0f)
                be->dropout_forward(be, L->out_size * batch, L->spec.keep, seed,
                                    ib_stream(IB_RNG_DROPOUT, (uint32_t)i, (uint32_t)step), x, L->out);
            else
                be->copy(be, L->out, x, L->out_size * batch * sizeof(float)); /* identity at test time */
            break;
        }
        ib_trace_pop();
        if (net->stats) observe_forward(net, i, batch);
    }
    return net->layers[net->n_layers - 1].out;
}

/* Forward only (evaluation): conv + act + pool fused (the full-size activations stay in cache and
 * no argmax is kept), fc + act fused, dropout the identity without a copy. The logits land in
 * the last layer's output, as ib_net_forward leaves them. With statistics on, the plain path. */
const float *ib_net_forward_eval(ib_net *net, int batch) {
    if (net->stats) return ib_net_forward(net, batch, 0, 0, 0);
    ib_backend *be = net->be;
    const float *x = net->input;
    const int n = net->n_layers;
    for (int i = 0; i < n; i++) {
        ib_layer *L = &net->layers[i];
        ib_layer *A = i + 1 < n && net->layers[i + 1].spec.kind == IB_L_ACT ? &net->layers[i + 1] : NULL;
        ib_layer *P = A && i + 2 < n && net->layers[i + 2].spec.kind == IB_L_POOL ? &net->layers[i + 2] : NULL;
        ib_trace_push(L->fwd_range);
        switch (L->spec.kind) {
        case IB_L_CONV:
            if (P) {
                be->conv_act_pool_forward(be, L->plan, batch, x, pparam(net, L->weight), pparam(net, L->bias),
                                          A->spec.act, &P->pool, P->out);
                x = P->out, i += 2;
            } else if (A) {
                be->conv_forward_act(be, L->plan, batch, x, pparam(net, L->weight), pparam(net, L->bias), A->spec.act,
                                     L->out);
                x = L->out, i += 1;
            } else {
                be->conv_forward(be, L->plan, batch, x, pparam(net, L->weight), pparam(net, L->bias), L->out);
                x = L->out;
            }
            break;
        case IB_L_FC:
            if (A) {
                be->fc_forward_act(be, batch, (int)L->in_size, (int)L->out_size, x, pparam(net, L->weight),
                                   pparam(net, L->bias), A->spec.act, L->out);
                i += 1;
            } else {
                be->fc_forward(be, batch, (int)L->in_size, (int)L->out_size, x, pparam(net, L->weight),
                               pparam(net, L->bias), L->out);
            }
            x = L->out;
            break;
        case IB_L_POOL: be->pool_forward(be, &L->pool, batch, x, L->out, L->argmax), x = L->out; break;
        case IB_L_ACT: be->act_forward(be, L->spec.act, L->out_size * batch, x, L->out), x = L->out; break;
        case IB_L_DROPOUT: /* identity at test time: no copy, unless the logits must land here */
            if (i == n - 1) be->copy(be, L->out, x, L->out_size * batch * sizeof(float));
            break;
        }
        ib_trace_pop();
    }
    return net->layers[n - 1].out;
}

void ib_net_loss(ib_net *net, int batch, int want_grad, double *loss_sum, int *correct) {
    ib_backend *be = net->be;
    be->softmax_xent(be, batch, net->classes, net->layers[net->n_layers - 1].out, net->labels, 1.0f / batch,
                     want_grad ? net->dlogits : NULL, loss_sum, correct);
}

/* The step on one parameter tensor (fused update of a layer whose backward is done). */
static void update_param(ib_net *net, int idx, const ib_optim_step *opt) {
    const size_t k = net->params[idx].offset;
    net->be->optim_update(net->be, opt->hp, opt->t, net->params[idx].count, net->param + k, net->grad + k,
                          net->opt_m + k, net->opt_v + k, opt->update ? opt->update + k : NULL);
}

static void backward(ib_net *net, int batch, uint64_t seed, long step, const ib_optim_step *opt) {
    ib_backend *be = net->be;
    const float *dy = net->dlogits;
    for (int i = net->n_layers - 1; i >= 0; i--) {
        ib_layer *L = &net->layers[i];
        const float *x = layer_input(net, i);
        /* The first weight layer needs no input gradient; neither does anything before it. */
        int need_dx = 0;
        for (int j = 0; j < i; j++)
            if (net->layers[j].weight >= 0) need_dx = 1;
        float *dx = need_dx ? (dy == net->grad_a ? net->grad_b : net->grad_a) : NULL;
        if (net->stats && L->weight >= 0) /* the signal arriving at the layer: dL/d(preact) */
            ib_stats_record(net->stats, L->name, "act_grad", dy, L->out_size * batch, 0, 0);
        ib_trace_push(L->bwd_range);
        switch (L->spec.kind) {
        case IB_L_CONV:
            be->conv_backward(be, L->plan, batch, x, pparam(net, L->weight), dy, dx, pgrad(net, L->weight),
                              pgrad(net, L->bias));
            if (opt) update_param(net, L->weight, opt), update_param(net, L->bias, opt);
            break;
        case IB_L_FC:
            if (opt)
                be->fc_backward_update(be, batch, (int)L->in_size, (int)L->out_size, x, pparam(net, L->weight), dy,
                                       dx, pgrad(net, L->weight), pgrad(net, L->bias), opt);
            else
                be->fc_backward(be, batch, (int)L->in_size, (int)L->out_size, x, pparam(net, L->weight), dy, dx,
                                pgrad(net, L->weight), pgrad(net, L->bias));
            break;
        case IB_L_POOL:
            if (dx && i > 0 && net->layers[i - 1].spec.kind == IB_L_ACT) {
                /* and the activation before it, in one pass (the act layer is done) */
                const ib_layer *A = &net->layers[i - 1];
                be->act_pool_backward(be, A->spec.act, &L->pool, batch, A->out, L->out, dy, L->argmax, dx);
                i--;
            } else if (dx) {
                be->pool_backward(be, &L->pool, batch, dy, L->argmax, dx);
            }
            break;
        case IB_L_ACT:
            if (dx) be->act_backward(be, L->spec.act, L->out_size * batch, L->out, dy, dx);
            break;
        case IB_L_DROPOUT:
            if (!dx) break;
            if (L->spec.keep < 1.0f)
                be->dropout_backward(be, L->out_size * batch, L->spec.keep, seed,
                                     ib_stream(IB_RNG_DROPOUT, (uint32_t)i, (uint32_t)step), dy, dx);
            else
                be->copy(be, dx, dy, L->out_size * batch * sizeof(float));
            break;
        }
        ib_trace_pop();
        if (net->stats && L->weight >= 0) {
            const ib_param *W = &net->params[L->weight], *B = &net->params[L->bias];
            ib_stats_record(net->stats, L->name, "weight_grad", net->grad + W->offset, W->count, 0, 1);
            ib_stats_record(net->stats, L->name, "bias_grad", net->grad + B->offset, B->count, 0, 0);
        }
        if (!dx) break;
        dy = dx;
    }
}

void ib_net_backward(ib_net *net, int batch, uint64_t seed, long step) { backward(net, batch, seed, step, NULL); }

void ib_net_backward_update(ib_net *net, int batch, uint64_t seed, long step, const ib_optim_hparams *hp, long t,
                            float *update) {
    const ib_optim_step opt = {hp, t, net->grad, net->param, net->opt_m, net->opt_v, update};
    backward(net, batch, seed, step, &opt);
}

void ib_net_update(ib_net *net, const ib_optim_hparams *hp, long t, float *update) {
    net->be->optim_update(net->be, hp, t, net->param_count, net->param, net->grad, net->opt_m, net->opt_v, update);
}
