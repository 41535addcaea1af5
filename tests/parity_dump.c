/* Dumps one training step's inputs and results for the PyTorch parity check (parity_torch.py):
 * the initial parameters, the batch, every dropout mask, the loss and every parameter gradient.
 * usage: parity_dump OUT_DIR [train flags ...] */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "safetensors.h"
#include "train.h"
#include "train_setup.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: parity_dump OUT_DIR [train flags]\n");
        return 2;
    }
    const char *out = argv[1];
    ib_train_config cfg;
    ib_dataset ds;
    if (test_train_setup(argc, argv, 2, &cfg, &ds)) return 77;
    ib_err err = {0};
    ib_trainer t;
    if (ib_trainer_init(&t, &cfg, &ds, &err)) ib_exit_err(&err);
    if (ib_mkdir_p(out, &err)) ib_exit_err(&err);
    char path[4200];
    snprintf(path, sizeof path, "%s/params.safetensors", out);
    if (ib_save_params(&t.net, path, &cfg, 0, &err)) ib_exit_err(&err);

    ib_net *net = &t.net;
    const int B = cfg.batch;
    ib_trainer_load_batch(&t, 0);
    ib_net_forward(net, B, 1, cfg.seed, 0);
    double loss_sum;
    int right;
    ib_net_loss(net, B, 1, &loss_sum, &right);
    ib_net_backward(net, B, cfg.seed, 0);

    /* batch and dropout masks (0 or 1/keep, from the very counters the forward pass used) */
    ib_st_tensor ts[2 + IB_MAX_LAYERS];
    int nt = 0;
    /* the batch as the network saw it, from backend memory */
    float *labels = malloc(sizeof(float) * B), *x = malloc(sizeof(float) * (size_t)B * ds.train.rows * ds.train.cols);
    int32_t *y = malloc(sizeof(int32_t) * B);
    t.be->download(t.be, x, net->input, sizeof(float) * (size_t)B * ds.train.rows * ds.train.cols);
    t.be->download(t.be, y, net->labels, sizeof(int32_t) * B);
    for (int b = 0; b < B; b++) labels[b] = (float)y[b];
    free(y);
    ts[nt++] = (ib_st_tensor){"x", 4, {B, 1, ds.train.rows, ds.train.cols}, x};
    ts[nt++] = (ib_st_tensor){"y", 1, {B}, labels};
    float *ones = NULL;
    for (int i = 0; i < net->n_layers; i++) {
        const ib_layer *L = &net->layers[i];
        if (L->spec.kind != IB_L_DROPOUT) continue;
        size_t cnt = L->out_size * B;
        ones = realloc(ones, sizeof(float) * cnt);
        for (size_t k = 0; k < cnt; k++) ones[k] = 1.0f;
        float *mask = malloc(sizeof(float) * cnt);
        t.be->dropout_forward(t.be, cnt, L->spec.keep, cfg.seed, ib_stream(IB_RNG_DROPOUT, (uint32_t)i, 0), ones, mask);
        ib_st_tensor m = {"", 2, {B, (int64_t)L->out_size}, mask};
        snprintf(m.name, sizeof m.name, "mask.%d", i);
        ts[nt++] = m;
    }
    snprintf(path, sizeof path, "%s/batch.safetensors", out);
    if (ib_safetensors_write(path, ts, nt, NULL, NULL, 0, &err)) ib_exit_err(&err);
    for (int k = 2; k < nt; k++) free(ts[k].data);
    free(ones);
    free(labels);
    free(x);

    /* gradients under the parameter names, and the mean loss */
    ib_st_tensor *gs = calloc((size_t)net->n_params + 1, sizeof *gs);
    float loss = (float)(loss_sum / B);
    for (int p = 0; p < net->n_params; p++) {
        const ib_param *P = &net->params[p];
        snprintf(gs[p].name, sizeof gs[p].name, "%s", P->name);
        gs[p].ndim = P->ndim;
        memcpy(gs[p].shape, P->shape, sizeof(int64_t) * P->ndim);
        gs[p].data = net->grad + P->offset;
    }
    gs[net->n_params] = (ib_st_tensor){"loss", 1, {1}, &loss};
    snprintf(path, sizeof path, "%s/grads.safetensors", out);
    if (ib_safetensors_write(path, gs, net->n_params + 1, NULL, NULL, 0, &err)) ib_exit_err(&err);
    snprintf(path, sizeof path, "%s/spec.txt", out);
    if (ib_write_file_atomic(path, cfg.spec_text, strlen(cfg.spec_text), &err)) ib_exit_err(&err);
    free(gs);
    ib_trainer_free(&t);
    ib_dataset_free(&ds);
    printf("dumped %s: loss %.6f\n", out, (double)loss);
    return 0;
}
