/* A network built from a layer spec on a backend: shapes, parameters, buffers, and the forward
 * and backward passes. Parameters live in one contiguous buffer (gradients and optimiser state
 * alike), in the order conv1.weight, conv1.bias, conv2.weight, ... so that one fused optimiser
 * call updates them all and safetensors output is a straight copy. */
#ifndef IB_NET_H
#define IB_NET_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "init.h"
#include "spec.h"

typedef struct ib_param {
    char name[32];     /* conv1.weight, fc2.bias ... (PyTorch state_dict names) */
    int ndim;
    int64_t shape[4];  /* PyTorch layout */
    size_t offset, count;
    int layer;         /* index into net->layers */
    int is_bias;
} ib_param;

typedef struct ib_layer {
    ib_layer_spec spec;
    char name[24];          /* conv1, fc2 for weight layers; relu1, pool2, dropout1 ... otherwise */
    int in_c, in_h, in_w;   /* per-sample input shape (fc: in_c = features, h = w = 1) */
    int out_c, out_h, out_w;
    size_t in_size, out_size; /* per sample */
    int weight, bias;       /* parameter indices, -1 if none */
    int owner;              /* the weight layer whose output this activation follows, or -1 */
    void *plan;             /* conv plan */
    ib_pool_shape pool;
    int32_t *argmax;        /* pooling winners, backend memory */
    float *out;             /* output activations (activation layers work in place) */
    char fwd_range[40], bwd_range[40]; /* NVTX range names: fwd/conv1, bwd/conv1 */
} ib_layer;

struct ib_stats_recorder;

typedef struct ib_net {
    ib_backend *be;
    int n_layers;
    ib_layer layers[IB_MAX_LAYERS];
    int n_params;
    ib_param params[2 * IB_MAX_LAYERS];
    size_t param_count;
    int max_batch, classes;
    int in_c, in_h, in_w;
    float *param, *grad, *opt_m, *opt_v; /* backend memory, param_count each */
    float *input;                        /* [max_batch, in_c, in_h, in_w] */
    int32_t *labels;                     /* [max_batch] */
    float *dlogits;                      /* [max_batch, classes] */
    float *grad_a, *grad_b;              /* ping-pong buffers for dL/d(activation) */
    double flops_forward_per_sample;
    /* When set (a statistics step), forward and backward record preact, act, act_grad,
     * weight_grad and bias_grad of every weight layer into it. */
    struct ib_stats_recorder *stats;
} ib_net;

int ib_net_build(ib_net *net, const ib_net_spec *spec, int in_c, int in_h, int in_w, int classes,
                 int max_batch, ib_backend *be, ib_err *err);
void ib_net_free(ib_net *net);

/* Draw every weight with the initialiser and set every bias to cfg->bias; uploads. */
void ib_net_init_params(ib_net *net, const ib_init_config *cfg, uint64_t seed);
void ib_net_params_to_host(const ib_net *net, float *host);
void ib_net_params_from_host(ib_net *net, const float *host);

/* Forward over net->input; training enables dropout, whose masks are drawn from
 * (seed, stream (dropout, layer, step)). Returns the logits buffer. */
const float *ib_net_forward(ib_net *net, int batch, int training, uint64_t seed, long step);
/* Forward only, for evaluation (no dropout, nothing kept for backward): fused ops where the
 * backend has them. The same logits as ib_net_forward(net, batch, 0, ...) up to rounding. */
const float *ib_net_forward_eval(ib_net *net, int batch);
/* Loss (summed over the batch) and correct count of the logits against net->labels; with
 * want_grad, also dL/dlogits of the mean loss into net->dlogits. */
void ib_net_loss(ib_net *net, int batch, int want_grad, double *loss_sum, int *correct);
/* Backward from net->dlogits: fills net->grad. Needs the activations of the last training forward. */
void ib_net_backward(ib_net *net, int batch, uint64_t seed, long step);
/* Backward with the optimiser step fused in (the backend must set fuse_update): each weight
 * layer's parameters are updated as soon as its gradients are complete, while they are in cache.
 * Afterwards param, grad, opt_m, opt_v (and `update`, the applied change, when not NULL) hold
 * the same bits as ib_net_backward followed by optim_update over the whole buffer. */
void ib_net_backward_update(ib_net *net, int batch, uint64_t seed, long step, const ib_optim_hparams *hp, long t,
                            float *update);
/* The unfused step: optim_update over every parameter, after ib_net_backward. */
void ib_net_update(ib_net *net, const ib_optim_hparams *hp, long t, float *update);

#endif
