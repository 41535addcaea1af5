/* The trainer: one network on one backend over one dataset, stepped and evaluated. */
#include "train.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rng.h"
#include "runinfo.h"
#include "safetensors.h"
#include "trace.h"

int ib_trainer_init(ib_trainer *t, const ib_train_config *cfg, const ib_dataset *ds, ib_err *err) {
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->ds = ds;
    if (cfg->train_offset + cfg->train_size > ds->train.n)
        return ib_fail(err, IB_EXIT_USAGE, "--train-offset %lld + --train-size %lld exceeds the %d training images",
                       cfg->train_offset, cfg->train_size, ds->train.n);
    if (cfg->test_size > ds->test.n)
        return ib_fail(err, IB_EXIT_USAGE, "--test-size %lld exceeds the %d test images", cfg->test_size, ds->test.n);
    char msg[256];
    int threads = cfg->threads > 0 ? cfg->threads : ib_default_threads();
    const ib_backend_setting settings[] = {{"tf32", cfg->tf32}};
    const ib_backend_params params = {threads, settings, 1};
    t->be = ib_backend_create(cfg->backend, &params, msg, sizeof msg);
    if (!t->be) return ib_fail(err, IB_EXIT_USAGE, "--backend: %s", msg);
    int max_batch = cfg->batch > cfg->eval_batch ? cfg->batch : cfg->eval_batch;
    if (ib_net_build(&t->net, &cfg->spec, 1, ds->train.rows, ds->train.cols, ds->num_classes, max_batch, t->be, err)) {
        t->be->destroy(t->be);
        t->be = NULL;
        return err->code;
    }
    /* the dataset goes where the backend computes once; each batch is then gathered there */
    t->train_images = t->be->images_open(t->be, ds->train.pixels, ds->train.labels, (size_t)ds->train.n,
                                         (size_t)ds->train.rows * ds->train.cols);
    t->test_images = t->be->images_open(t->be, ds->test.pixels, ds->test.labels, (size_t)ds->test.n,
                                        (size_t)ds->test.rows * ds->test.cols);
    t->batch_index = ib_xmalloc((size_t)max_batch * sizeof(int64_t));
    t->perm = ib_xmalloc((size_t)cfg->train_size * sizeof(uint32_t));
    t->perm_epoch = -1;
    ib_net_init_params(&t->net, &cfg->initc, cfg->seed);
    return 0;
}

void ib_trainer_free(ib_trainer *t) {
    if (t->update) t->be->release(t->be, t->update);
    ib_net_free(&t->net);
    if (t->train_images) t->be->images_close(t->be, t->train_images);
    if (t->test_images) t->be->images_close(t->be, t->test_images);
    if (t->be) t->be->destroy(t->be);
    free(t->batch_index);
    free(t->perm);
    memset(t, 0, sizeof *t);
}

/* Fisher-Yates over the training subset, drawn from (seed, shuffle stream of the epoch):
 * like TF's DataSet.next_batch, every epoch (the first included) is a fresh permutation. */
static void shuffle_epoch(ib_trainer *t, long long epoch) {
    const uint32_t n = (uint32_t)t->cfg->train_size;
    for (uint32_t i = 0; i < n; i++) t->perm[i] = i;
    const uint64_t stream = ib_stream(IB_RNG_SHUFFLE, 0, (uint32_t)epoch);
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t r[4];
        ib_philox(t->cfg->seed, stream, i, r);
        uint64_t x = ((uint64_t)r[0] << 32) | r[1];
        uint32_t j = (uint32_t)(x % ((uint64_t)i + 1));
        uint32_t tmp = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = tmp;
    }
    t->perm_epoch = epoch;
}

void ib_trainer_load_batch(ib_trainer *t, long long step) {
    const ib_train_config *c = t->cfg;
    for (int b = 0; b < c->batch; b++) {
        long long pos = step * c->batch + b;
        long long epoch = pos / c->train_size;
        if (epoch != t->perm_epoch) shuffle_epoch(t, epoch);
        t->batch_index[b] = c->train_offset + t->perm[pos % c->train_size];
    }
    t->be->gather_batch(t->be, t->train_images, t->batch_index, c->batch, t->net.input, t->net.labels);
}

static void phase_begin(ib_trainer *t, ib_phase p, const char *range) {
    ib_trace_push(range);
    if (t->counters) ib_counters_begin(t->counters, p);
}
static void phase_end(ib_trainer *t, ib_phase p) {
    if (t->counters) ib_counters_end(t->counters, p);
    ib_trace_pop();
}

int ib_trainer_find_nonfinite(ib_trainer *t, char *what, size_t len) {
    ib_net *net = &t->net;
    ib_stats_request req = {0};
    ib_tensor_stats s;
    for (int p = 0; p < net->n_params; p++) {
        const ib_param *P = &net->params[p];
        t->be->tensor_stats(t->be, net->param + P->offset, P->count, &req, &s);
        if (s.nonfinite > 0) {
            snprintf(what, len, "%s (%.0f of %zu values)", P->name, s.nonfinite, P->count);
            return 1;
        }
    }
    /* forward order; activation layers overwrite their input, so a layer's output is checked
     * as the value the next layer saw */
    for (int i = 0; i < net->n_layers; i++) {
        const ib_layer *L = &net->layers[i];
        size_t n = L->out_size * t->cfg->batch;
        t->be->tensor_stats(t->be, L->out, n, &req, &s);
        if (s.nonfinite > 0) {
            snprintf(what, len, "output of %s (layer %d; %.0f of %zu values)", L->name, i + 1, s.nonfinite, n);
            return 1;
        }
    }
    snprintf(what, len, "the loss (every activation finite: the log-sum-exp overflowed)");
    return 0;
}

int ib_trainer_fuses_update(const ib_trainer *t) {
    /* a backend that records segments replays backward as recorded: it keeps the separate pass */
    if (!t->be->fuse_update || (t->be->segment_begin && t->be->segment_end)) return 0;
    const char *mode = t->cfg->update ? t->cfg->update : "auto";
    if (strcmp(mode, "auto")) return strcmp(mode, "fused") == 0;
    /* The fused step saves the gradient's round trip through memory, which costs only where the
     * separate pass cannot find param, grad, m and v in the last-level cache. Measured where they
     * fit (52 MB in a large L3, batch 50): the separate pass equal or up to 4 % faster, so auto
     * keeps it there. An unknown cache size counts as small. */
    const long llc = sysconf(_SC_LEVEL3_CACHE_SIZE) > 0 ? sysconf(_SC_LEVEL3_CACHE_SIZE) : sysconf(_SC_LEVEL2_CACHE_SIZE);
    return llc <= 0 || 4.0 * sizeof(float) * (double)t->net.param_count > (double)llc;
}

static int is_adaptive(ib_optim_kind k) { return k == IB_OPT_ADAM_TF || k == IB_OPT_ADAM_PT || k == IB_OPT_RMSPROP; }

/* A segment (see backend.h): with `on`, the ops between seg_begin and seg_redo may be recorded
 * and replayed by the backend; seg_redo says whether nothing ran and the ops must be called again. */
static void seg_begin(ib_trainer *t, int on, int id) {
    if (on) t->be->segment_begin(t->be, id);
}
static int seg_redo(ib_trainer *t, int on, int id) { return on && t->be->segment_end(t->be, id); }

double ib_trainer_step(ib_trainer *t, long long step, int *correct) {
    const ib_train_config *c = t->cfg;
    ib_net *net = &t->net;
    const int record = t->stats && c->stats_every > 0 && step % c->stats_every == 0;
    /* statistics steps read values back between ops: they run eagerly */
    const int segments = !record && t->be->segment_begin && t->be->segment_end;
    double weight_l2[2 * IB_MAX_LAYERS];
    ib_trace_push("step");
    if (record) { /* parameters as this step sees them, before its update */
        phase_begin(t, IB_PHASE_STATS, "statistics");
        t->stats->step = step;
        for (int p = 0; p < net->n_params; p++) {
            const ib_param *P = &net->params[p];
            ib_tensor_stats s = ib_stats_record(t->stats, net->layers[P->layer].name, P->is_bias ? "bias" : "weight",
                                                net->param + P->offset, P->count, 0, 0);
            weight_l2[p] = sqrt(s.sum_sq);
        }
        phase_end(t, IB_PHASE_STATS);
        net->stats = t->stats;
    }
    double loss_sum;
    int right, redo;
    do {
        seg_begin(t, segments, IB_SEGMENT_FORWARD);
        ib_trainer_load_batch(t, step);
        phase_begin(t, IB_PHASE_FORWARD, "forward");
        ib_net_forward(net, c->batch, 1, c->seed, (long)step);
        ib_net_loss(net, c->batch, 1, &loss_sum, &right);
        redo = seg_redo(t, segments, IB_SEGMENT_FORWARD);
        phase_end(t, IB_PHASE_FORWARD);
    } while (redo);
    if (!isfinite(loss_sum)) { /* diverged: say where, and leave the parameters as they were */
        net->stats = NULL;
        ib_trainer_find_nonfinite(t, t->nonfinite_what, sizeof t->nonfinite_what);
        ib_trace_pop();
        return loss_sum / c->batch;
    }
    if (ib_trainer_fuses_update(t)) { /* the update inside backward: the "update" phase stays empty */
        phase_begin(t, IB_PHASE_BACKWARD, "backward+update");
        ib_net_backward_update(net, c->batch, c->seed, (long)step, &c->hp, (long)(step + 1), record ? t->update : NULL);
        phase_end(t, IB_PHASE_BACKWARD);
    } else {
        do {
            seg_begin(t, segments, IB_SEGMENT_BACKWARD);
            phase_begin(t, IB_PHASE_BACKWARD, "backward");
            ib_net_backward(net, c->batch, c->seed, (long)step);
            redo = seg_redo(t, segments, IB_SEGMENT_BACKWARD);
            phase_end(t, IB_PHASE_BACKWARD);
        } while (redo);
        do {
            seg_begin(t, segments, IB_SEGMENT_UPDATE);
            phase_begin(t, IB_PHASE_UPDATE, "update");
            ib_net_update(net, &c->hp, (long)(step + 1), record ? t->update : NULL);
            redo = seg_redo(t, segments, IB_SEGMENT_UPDATE);
            phase_end(t, IB_PHASE_UPDATE);
        } while (redo);
    }
    if (record) {
        net->stats = NULL;
        phase_begin(t, IB_PHASE_STATS, "statistics");
        /* sqrt(v) < eps, as a threshold on v; PyTorch's form compares the bias-corrected v */
        double v_below = c->hp.eps * c->hp.eps;
        if (c->hp.kind == IB_OPT_ADAM_PT) v_below *= 1.0 - pow(c->hp.beta2, (double)(step + 1));
        for (int p = 0; p < net->n_params; p++) {
            const ib_param *P = &net->params[p];
            ib_stats_record_update(t->stats, net->layers[P->layer].name, P->is_bias ? "bias_update" : "update",
                                   t->update + P->offset, is_adaptive(c->hp.kind) ? net->opt_v + P->offset : NULL,
                                   P->count, weight_l2[p], v_below);
        }
        if (ib_stats_flush(t->stats, &t->stats_err)) t->stats_failed = 1;
        phase_end(t, IB_PHASE_STATS);
    }
    ib_trace_pop();
    if (correct) *correct += right;
    return loss_sum / c->batch;
}

void ib_trainer_evaluate(ib_trainer *t, double *accuracy, double *loss) {
    const ib_train_config *c = t->cfg;
    phase_begin(t, IB_PHASE_EVAL, "evaluation");
    double total_loss = 0;
    long long right = 0;
    for (long long i0 = 0; i0 < c->test_size; i0 += c->eval_batch) {
        int nb = (int)(c->test_size - i0 < c->eval_batch ? c->test_size - i0 : c->eval_batch);
        for (int b = 0; b < nb; b++) t->batch_index[b] = i0 + b;
        t->be->gather_batch(t->be, t->test_images, t->batch_index, nb, t->net.input, t->net.labels);
        ib_net_forward_eval(&t->net, nb);
        double ls;
        int r;
        ib_net_loss(&t->net, nb, 0, &ls, &r);
        total_loss += ls;
        right += r;
    }
    *accuracy = (double)right / (double)c->test_size;
    *loss = total_loss / (double)c->test_size;
    phase_end(t, IB_PHASE_EVAL);
}

int ib_save_params(const ib_net *net, const char *path, const ib_train_config *cfg, long long step, ib_err *err) {
    float *host = ib_xmalloc(net->param_count * sizeof(float));
    ib_net_params_to_host(net, host);
    ib_st_tensor *ts = ib_xcalloc((size_t)net->n_params, sizeof *ts);
    for (int p = 0; p < net->n_params; p++) {
        const ib_param *P = &net->params[p];
        snprintf(ts[p].name, sizeof ts[p].name, "%s", P->name);
        ts[p].ndim = P->ndim;
        for (int d = 0; d < P->ndim; d++) ts[p].shape[d] = P->shape[d];
        ts[p].data = host + P->offset;
    }
    char step_s[32], seed_s[32];
    snprintf(step_s, sizeof step_s, "%lld", step);
    snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)cfg->seed);
    const char *keys[] = {"format", "step", "seed", "net"};
    const char *vals[] = {"pt", step_s, seed_s, cfg->spec_text};
    int rc = ib_safetensors_write(path, ts, net->n_params, keys, vals, 4, err);
    free(ts);
    free(host);
    return rc;
}
