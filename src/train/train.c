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
        t->be->optim_update(t->be, &c->hp, (long)(step + 1), net->param_count, net->param, net->grad, net->opt_m,
                            net->opt_v, record ? t->update : NULL);
        redo = seg_redo(t, segments, IB_SEGMENT_UPDATE);
        phase_end(t, IB_PHASE_UPDATE);
    } while (redo);
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

/* ---- run directory output ---- */

typedef struct curve_row {
    long long step;
    double test_accuracy, test_loss, train_loss, train_accuracy, elapsed_s;
} curve_row;

static int write_curve(const char *dir, const curve_row *rows, int n, ib_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/curve.csv", dir);
    ib_atomic_file af;
    if (ib_atomic_open(&af, path, err)) return err->code;
    fprintf(af.fp, "step,test_accuracy,test_loss,train_loss,train_accuracy,elapsed_s\n");
    for (int i = 0; i < n; i++)
        fprintf(af.fp, "%lld,%.6f,%.9g,%.9g,%.6f,%.3f\n", rows[i].step, rows[i].test_accuracy, rows[i].test_loss,
                rows[i].train_loss, rows[i].train_accuracy, rows[i].elapsed_s);
    return ib_atomic_commit(&af, err);
}

static int write_json(const char *dir, const char *name, cJSON *j, ib_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = cJSON_Print(j);
    if (!text) return ib_fail(err, IB_EXIT_INTERNAL, "cannot serialise %s", path);
    size_t len = strlen(text);
    text[len] = '\n'; /* replace the NUL: the file ends with a newline */
    int rc = ib_write_file_atomic(path, text, len + 1, err);
    free(text);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct progress {
    int mode; /* 0 none, 1 log, 2 tty */
    double last_draw;
} progress;

static void fmt_eta(double s, char *buf, size_t len) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
}

static void progress_eval(progress *p, const ib_train_config *c, const curve_row *r, double steps_per_s) {
    if (!p->mode) return;
    char eta[32];
    fmt_eta(steps_per_s > 0 ? (double)(c->steps - r->step) / steps_per_s : -1, eta, sizeof eta);
    fprintf(stderr, "%sstep %lld/%lld  test_acc %.4f  test_loss %.4f  train_loss %.4f  %.1f steps/s  ETA %s\n",
            p->mode == 2 ? "\r\033[K" : "", r->step, c->steps, r->test_accuracy, r->test_loss, r->train_loss,
            steps_per_s, eta);
}

static void progress_tick(progress *p, const ib_train_config *c, long long step, double steps_per_s, double acc) {
    if (p->mode != 2) return;
    double now = ib_now();
    if (now - p->last_draw < 0.25) return;
    p->last_draw = now;
    char eta[32];
    fmt_eta(steps_per_s > 0 ? (double)(c->steps - step) / steps_per_s : -1, eta, sizeof eta);
    fprintf(stderr, "\r\033[Kstep %lld/%lld  %.1f steps/s  ETA %s  last test_acc %.4f", step, c->steps, steps_per_s,
            eta, acc);
    fflush(stderr);
}

/* ---- checkpoints: parameters, optimiser state, the curve so far and the running training-loss
 * sums, at a step boundary. Batches and dropout masks are functions of (seed, step), so nothing
 * else is needed for a resumed run to end bitwise identical to an uninterrupted one. ---- */

typedef struct loop_state {
    long long step; /* next step to run */
    curve_row *rows;
    int n_rows;
    double loss_acc;
    int correct_acc, batches_acc;
} loop_state;

static void hexd(cJSON *arr, double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%a", v); /* exact round trip */
    cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
}

static int save_checkpoint(const char *out, const ib_trainer *t, const char *config_text, const loop_state *ls,
                           ib_err *err) {
    const ib_net *net = &t->net;
    size_t total = net->param_count;
    float *host = ib_xmalloc(3 * total * sizeof(float));
    ib_net_params_to_host(net, host);
    t->be->download(t->be, host + total, net->opt_m, total * sizeof(float));
    t->be->download(t->be, host + 2 * total, net->opt_v, total * sizeof(float));
    ib_st_tensor *ts = ib_xcalloc((size_t)net->n_params * 3, sizeof *ts);
    const char *suffix[3] = {"", ".opt_m", ".opt_v"};
    for (int k = 0; k < 3; k++)
        for (int p = 0; p < net->n_params; p++) {
            const ib_param *P = &net->params[p];
            ib_st_tensor *x = &ts[k * net->n_params + p];
            snprintf(x->name, sizeof x->name, "%s%s", P->name, suffix[k]);
            x->ndim = P->ndim;
            memcpy(x->shape, P->shape, sizeof(int64_t) * P->ndim);
            x->data = host + k * total + P->offset;
        }
    cJSON *st = cJSON_CreateObject();
    cJSON_AddNumberToObject(st, "step", (double)ls->step);
    cJSON *acc = cJSON_AddArrayToObject(st, "train_accumulators");
    hexd(acc, ls->loss_acc);
    hexd(acc, ls->correct_acc);
    hexd(acc, ls->batches_acc);
    cJSON *rows = cJSON_AddArrayToObject(st, "curve");
    for (int i = 0; i < ls->n_rows; i++) {
        cJSON *r = cJSON_CreateArray();
        const curve_row *c = &ls->rows[i];
        double v[6] = {(double)c->step, c->test_accuracy, c->test_loss, c->train_loss, c->train_accuracy, c->elapsed_s};
        for (int k = 0; k < 6; k++) hexd(r, v[k]);
        cJSON_AddItemToArray(rows, r);
    }
    char *state_text = cJSON_PrintUnformatted(st);
    cJSON_Delete(st);
    char step_s[32], path[4200];
    snprintf(step_s, sizeof step_s, "%lld", ls->step);
    const char *keys[] = {"format", "step", "config", "state"};
    const char *vals[] = {"initbench-checkpoint-1", step_s, config_text, state_text};
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", out);
    int rc = ib_safetensors_write(path, ts, net->n_params * 3, keys, vals, 4, err);
    free(state_text);
    free(ts);
    free(host);
    return rc;
}

static const char *meta_get(const ib_st_meta *m, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (!strcmp(m[i].key, key)) return m[i].value;
    return NULL;
}

static double unhex(const cJSON *arr, int i) {
    const cJSON *x = cJSON_GetArrayItem(arr, i);
    return cJSON_IsString(x) ? strtod(x->valuestring, NULL) : NAN;
}

/* Returns 0 with ls->step == 0 when there is no checkpoint; a checkpoint of another config is
 * an error (the directory holds a different run). */
static int load_checkpoint(const char *out, ib_trainer *t, const char *config_text, loop_state *ls, int max_rows,
                           ib_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", out);
    if (!ib_path_exists(path)) return 0;
    ib_st_tensor *ts = NULL;
    ib_st_meta *meta = NULL;
    int n = 0, n_meta = 0, rc = 0;
    if (ib_safetensors_read_with_meta(path, &ts, &n, &meta, &n_meta, err)) return err->code;
    const char *fmt = meta_get(meta, n_meta, "format"), *cfg = meta_get(meta, n_meta, "config");
    const char *state = meta_get(meta, n_meta, "state");
    ib_net *net = &t->net;
    cJSON *st = state ? cJSON_Parse(state) : NULL;
    if (!fmt || strcmp(fmt, "initbench-checkpoint-1") || !cfg || !st || n != 3 * net->n_params) {
        rc = ib_fail(err, IB_EXIT_USAGE, "%s: not an initbench checkpoint of this network", path);
        goto done;
    }
    if (strcmp(cfg, config_text) != 0) {
        rc = ib_fail(err, IB_EXIT_USAGE,
                     "%s holds a checkpoint of a different configuration; use another --out (or delete it)", out);
        goto done;
    }
    size_t total = net->param_count;
    float *host = ib_xcalloc(3 * total, sizeof(float));
    for (int i = 0; i < n && !rc; i++) {
        const ib_param *P = &net->params[i % net->n_params];
        static const char *suffix[3] = {"", ".opt_m", ".opt_v"};
        char want[160];
        snprintf(want, sizeof want, "%s%s", P->name, suffix[i / net->n_params]);
        if (strcmp(ts[i].name, want) != 0) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: tensor %s out of place", path, ts[i].name);
            break;
        }
        size_t cnt = 1;
        for (int d = 0; d < ts[i].ndim; d++) cnt *= (size_t)ts[i].shape[d];
        if (cnt != P->count) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: tensor %s has the wrong size", path, ts[i].name);
            break;
        }
        memcpy(host + (size_t)(i / net->n_params) * total + P->offset, ts[i].data, cnt * sizeof(float));
    }
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(st, "curve");
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(st, "train_accumulators");
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(st, "step");
    if (!rc && (!cJSON_IsArray(rows) || !cJSON_IsArray(acc) || !cJSON_IsNumber(step) ||
                cJSON_GetArraySize(rows) > max_rows || step->valuedouble < 0 ||
                step->valuedouble > (double)t->cfg->steps))
        rc = ib_fail(err, IB_EXIT_USAGE, "%s: malformed checkpoint state", path);
    if (!rc) {
        ib_net_params_from_host(net, host);
        t->be->upload(t->be, net->opt_m, host + total, total * sizeof(float));
        t->be->upload(t->be, net->opt_v, host + 2 * total, total * sizeof(float));
        ls->step = (long long)step->valuedouble;
        ls->loss_acc = unhex(acc, 0);
        ls->correct_acc = (int)unhex(acc, 1);
        ls->batches_acc = (int)unhex(acc, 2);
        ls->n_rows = cJSON_GetArraySize(rows);
        for (int i = 0; i < ls->n_rows; i++) {
            const cJSON *r = cJSON_GetArrayItem(rows, i);
            curve_row *c = &ls->rows[i];
            c->step = (long long)unhex(r, 0);
            c->test_accuracy = unhex(r, 1), c->test_loss = unhex(r, 2), c->train_loss = unhex(r, 3);
            c->train_accuracy = unhex(r, 4), c->elapsed_s = unhex(r, 5);
        }
    }
    free(host);
done:
    cJSON_Delete(st);
    ib_safetensors_free(ts, n);
    ib_safetensors_meta_free(meta, n_meta);
    return rc;
}

/* SIGTERM (Slurm preemption, time limit), SIGINT and SIGUSR1 stop the run at the next step
 * boundary with a checkpoint, so that rerunning the same command resumes it. */
static volatile sig_atomic_t stop_signal = 0;
static void on_stop_signal(int sig) { stop_signal = sig; }

static void install_stop_handlers(struct sigaction *old) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[3] = {SIGTERM, SIGINT, SIGUSR1};
    for (int i = 0; i < 3; i++) sigaction(sigs[i], &sa, &old[i]);
}

static void restore_handlers(const struct sigaction *old) {
    int sigs[3] = {SIGTERM, SIGINT, SIGUSR1};
    for (int i = 0; i < 3; i++) sigaction(sigs[i], &old[i], NULL);
}

/* What DIR/run.json says about this config: 0 no run there, 1 complete (or diverged) for this very
 * config, 2 unfinished for this config, -1 a run of another config (refused: never overwrite it). */
static int existing_run(const char *out, const char *config_text, ib_train_result *res) {
    char path[4200];
    snprintf(path, sizeof path, "%s/run.json", out);
    uint8_t *data;
    size_t n;
    ib_err e;
    if (ib_read_file(path, &data, &n, &e)) return 0;
    cJSON *j = cJSON_ParseWithLength((const char *)data, n);
    free(data);
    if (!j) return 2; /* unreadable: treat as unfinished, it is rewritten */
    int state = 2;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    char *cfg = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "config"));
    if (!cfg || strcmp(cfg, config_text) != 0) {
        state = -1;
    } else if (cJSON_IsString(st) && (!strcmp(st->valuestring, "complete") || !strcmp(st->valuestring, "diverged"))) {
        state = 1;
        snprintf(res->status, sizeof res->status, "%s", st->valuestring);
        const cJSON *fin = cJSON_GetObjectItemCaseSensitive(j, "final");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(fin, "test_accuracy");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(fin, "step");
        res->final_accuracy = cJSON_IsNumber(a) ? a->valuedouble : NAN;
        res->steps_done = cJSON_IsNumber(s) ? ib_num_to_ll(s->valuedouble, 0, LLONG_MAX / 2, 0) : 0;
    }
    free(cfg);
    cJSON_Delete(j);
    return state;
}

int ib_train_run(const ib_train_config *cfg, const ib_dataset *ds, const char *out, ib_train_result *res,
                 ib_err *err) {
    memset(res, 0, sizeof *res);
    cJSON *config_json = ib_train_config_to_json(cfg);
    char *config_text = cJSON_PrintUnformatted(config_json);
    cJSON_Delete(config_json);
    int existing = existing_run(out, config_text, res);
    if (existing == 1) {
        res->already_complete = 1;
        free(config_text);
        return 0;
    }
    if (existing < 0) {
        free(config_text);
        return ib_fail(err, IB_EXIT_USAGE,
                       "%s holds a run of a different configuration; use another --out (or delete it)", out);
    }
    ib_trainer t;
    if (ib_trainer_init(&t, cfg, ds, err)) {
        free(config_text);
        return err->code;
    }
    const long long steps = cfg->steps;
    const int max_rows = (int)(steps / cfg->eval_every) + 2;
    loop_state ls = {0};
    ls.rows = ib_xcalloc((size_t)max_rows, sizeof *ls.rows);
    int rc = ib_mkdir_p(out, err), lock_fd = -1;
    if (!rc) { /* one process per run directory: a second one would interleave its writes */
        lock_fd = ib_lock_dir(out, "initbench run", err);
        if (lock_fd < 0) rc = err->code;
        else if (ib_remove_stale_temps(out, NULL) > 0) /* left by a writer killed mid-write */
            fprintf(stderr, "initbench: %s: removed temporary files of an interrupted write\n", out);
    }
    if (!rc) rc = load_checkpoint(out, &t, config_text, &ls, max_rows, err);
    if (rc) {
        ib_unlock_dir(lock_fd);
        free(ls.rows);
        free(config_text);
        ib_trainer_free(&t);
        return rc;
    }
    const long long first_step = ls.step;
    ib_stats_recorder stats;
    int have_stats = 0;
    if (cfg->stats_every > 0) {
        if ((rc = ib_stats_open(&stats, out, t.be, first_step, err))) {
            ib_unlock_dir(lock_fd);
            free(ls.rows);
            free(config_text);
            ib_trainer_free(&t);
            return rc;
        }
        have_stats = 1;
        t.stats = &stats;
        t.update = t.be->alloc(t.be, t.net.param_count);
    }
    ib_counters counters;
    ib_counters_init(&counters, cfg->papi_events);
    t.counters = &counters;
    progress prog = {0, 0};
    if (!strcmp(cfg->progress, "tty") || (!strcmp(cfg->progress, "auto") && isatty(2))) prog.mode = 2;
    else if (strcmp(cfg->progress, "none") != 0) prog.mode = 1;
    if (first_step > 0) fprintf(stderr, "resuming %s from its checkpoint at step %lld\n", out, first_step);

    char started[32];
    ib_iso_time(started, sizeof started);
    cJSON *run = cJSON_CreateObject();
    cJSON_AddStringToObject(run, "status", "running");
    cJSON_AddStringToObject(run, "started_at", started);
    if (first_step > 0) cJSON_AddNumberToObject(run, "resumed_from_step", (double)first_step);
    cJSON_AddItemToObject(run, "config", cJSON_Parse(config_text));
    ib_runinfo_add(run, t.be);
    cJSON *params = cJSON_AddArrayToObject(run, "parameters");
    for (int p = 0; p < t.net.n_params; p++) {
        cJSON *pj = cJSON_CreateObject();
        cJSON_AddStringToObject(pj, "name", t.net.params[p].name);
        cJSON *shape = cJSON_AddArrayToObject(pj, "shape");
        for (int d = 0; d < t.net.params[p].ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t.net.params[p].shape[d]));
        cJSON_AddItemToArray(params, pj);
    }
    cJSON_AddNumberToObject(run, "forward_flop_per_image", t.net.flops_forward_per_sample);
    rc = write_json(out, "run.json", run, err);
    char path[4200];
    if (!rc && cfg->save_init && first_step == 0) {
        snprintf(path, sizeof path, "%s/params_init.safetensors", out);
        rc = ib_save_params(&t.net, path, cfg, 0, err);
    }

    struct sigaction old_handlers[3];
    install_stop_handlers(old_handlers); /* a signal already caught while loading is kept */
    double *step_ms = ib_xcalloc((size_t)(steps > 0 ? steps : 1), sizeof(double));
    double t0 = ib_now(), cpu0 = ib_cpu_time(), eval_total = 0, train_total = 0;
    /* elapsed_s continues from the checkpoint's last row */
    double elapsed_base = ls.n_rows ? ls.rows[ls.n_rows - 1].elapsed_s : 0;
    long long diverged_at = -1, step = first_step;
    const char *status = "complete";

    for (; !rc; step++) {
        if (step % cfg->eval_every == 0 || step == steps) {
            if (!(ls.n_rows && ls.rows[ls.n_rows - 1].step == step)) { /* not already in a resumed curve */
                if (step == 0) { /* the first batch's loss under the initial parameters */
                    ib_trainer_load_batch(&t, 0);
                    ib_net_forward(&t.net, cfg->batch, 1, cfg->seed, 0);
                    double l0;
                    ls.correct_acc = 0;
                    ib_net_loss(&t.net, cfg->batch, 0, &l0, &ls.correct_acc);
                    ls.loss_acc = l0 / cfg->batch;
                    ls.batches_acc = 1;
                }
                double te = ib_now();
                curve_row *r = &ls.rows[ls.n_rows++];
                r->step = step;
                ib_trainer_evaluate(&t, &r->test_accuracy, &r->test_loss);
                eval_total += ib_now() - te;
                r->train_loss = ls.loss_acc / ls.batches_acc;
                r->train_accuracy = (double)ls.correct_acc / ((double)ls.batches_acc * cfg->batch);
                r->elapsed_s = elapsed_base + ib_now() - t0;
                ls.loss_acc = 0, ls.correct_acc = 0, ls.batches_acc = 0;
                if ((rc = write_curve(out, ls.rows, ls.n_rows, err))) break;
                progress_eval(&prog, cfg, r, train_total > 0 ? (step - first_step) / train_total : 0);
            }
        }
        if (step == steps) break;
        if (stop_signal || (cfg->checkpoint_every > 0 && step > first_step && step % cfg->checkpoint_every == 0)) {
            ls.step = step;
            if ((rc = save_checkpoint(out, &t, config_text, &ls, err))) break;
            if (stop_signal) {
                status = "interrupted";
                break;
            }
        }
        double ts = ib_now();
        double loss = ib_trainer_step(&t, step, &ls.correct_acc);
        double dt = ib_now() - ts;
        if (t.stats_failed) {
            *err = t.stats_err;
            rc = err->code;
            break;
        }
        step_ms[step - first_step] = 1e3 * dt;
        train_total += dt;
        if (!isfinite(loss)) {
            diverged_at = step;
            status = "diverged";
            /* record what was seen, then stop: further steps only propagate NaN */
            curve_row *r = &ls.rows[ls.n_rows++];
            r->step = step + 1;
            r->test_accuracy = NAN;
            r->test_loss = NAN;
            r->train_loss = loss;
            r->train_accuracy = NAN;
            r->elapsed_s = elapsed_base + ib_now() - t0;
            rc = write_curve(out, ls.rows, ls.n_rows, err);
            step++;
            break;
        }
        ls.loss_acc += loss;
        ls.batches_acc++;
        progress_tick(&prog, cfg, step + 1, (step + 1 - first_step) / train_total,
                      ls.n_rows ? ls.rows[ls.n_rows - 1].test_accuracy : 0);
    }
    restore_handlers(old_handlers);
    if (prog.mode == 2) fputs("\r\033[K", stderr);
    const int interrupted = !strcmp(status, "interrupted");
    long long steps_done = diverged_at >= 0 ? diverged_at + 1 : (step < steps ? step : steps);
    if (!rc && !interrupted) {
        snprintf(path, sizeof path, "%s/params.safetensors", out);
        rc = ib_save_params(&t.net, path, cfg, steps_done, err);
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", out);
        if (!rc) unlink(path); /* the final parameters supersede it */
    }
    double wall = ib_now() - t0;
    long long timed = steps_done - first_step;
    if (timed > 0) {
        qsort(step_ms, (size_t)timed, sizeof(double), cmp_double);
        res->step_ms_median = step_ms[timed / 2];
        res->step_ms_p90 = step_ms[(size_t)(0.9 * (double)(timed - 1))];
    }
    snprintf(res->status, sizeof res->status, "%s", rc ? "failed" : status);
    res->diverged_step = diverged_at;
    res->final_accuracy = ls.n_rows ? ls.rows[ls.n_rows - 1].test_accuracy : NAN;
    res->final_loss = ls.n_rows ? ls.rows[ls.n_rows - 1].test_loss : NAN;
    res->wall_s = wall;
    res->eval_s_mean = ls.n_rows ? eval_total / ls.n_rows : 0;
    res->steps_done = steps_done;
    res->interrupted_by = interrupted ? (int)stop_signal : 0;
    snprintf(res->first_nonfinite, sizeof res->first_nonfinite, "%s", t.nonfinite_what);

    cJSON_ReplaceItemInObject(run, "status", cJSON_CreateString(res->status));
    if (rc) cJSON_AddStringToObject(run, "reason", err->msg);
    if (interrupted) {
        char why[64];
        snprintf(why, sizeof why, "signal %d (%s); resume by rerunning", (int)stop_signal, strsignal((int)stop_signal));
        cJSON_AddStringToObject(run, "reason", why);
    }
    if (diverged_at >= 0) {
        cJSON_AddNumberToObject(run, "diverged_step", (double)diverged_at);
        cJSON_AddStringToObject(run, "reason", "non-finite training loss");
        cJSON_AddStringToObject(run, "first_nonfinite", t.nonfinite_what);
    }
    char finished[32];
    ib_iso_time(finished, sizeof finished);
    cJSON_AddStringToObject(run, "finished_at", finished);
    cJSON *timing = cJSON_AddObjectToObject(run, "timing");
    cJSON_AddNumberToObject(timing, "wall_s", wall);
    cJSON_AddNumberToObject(timing, "cpu_s", ib_cpu_time() - cpu0);
    cJSON_AddNumberToObject(timing, "train_s", train_total);
    cJSON_AddNumberToObject(timing, "eval_s", eval_total);
    cJSON_AddNumberToObject(timing, "evaluations", ls.n_rows);
    cJSON_AddNumberToObject(timing, "step_ms_median", res->step_ms_median);
    cJSON_AddNumberToObject(timing, "step_ms_p90", res->step_ms_p90);
    cJSON_AddNumberToObject(timing, "steps_per_s", train_total > 0 ? timed / train_total : 0);
    cJSON_AddItemToObject(run, "counters", ib_counters_json(&counters));
    if (have_stats) {
        cJSON *sj = cJSON_AddObjectToObject(run, "statistics");
        cJSON_AddNumberToObject(sj, "every", (double)cfg->stats_every);
        cJSON_AddNumberToObject(sj, "recordings", (double)stats.recordings);
        cJSON_AddNumberToObject(sj, "wall_s", stats.seconds);
        /* measured inside the run, so it holds on a noisy machine too */
        cJSON_AddNumberToObject(sj, "overhead_fraction", wall > stats.seconds ? stats.seconds / (wall - stats.seconds) : 0);
    }
    cJSON *fin = cJSON_AddObjectToObject(run, "final");
    cJSON_AddNumberToObject(fin, "step", (double)steps_done);
    if (isfinite(res->final_accuracy) && !interrupted) {
        cJSON_AddNumberToObject(fin, "test_accuracy", res->final_accuracy);
        cJSON_AddNumberToObject(fin, "test_loss", res->final_loss);
    }
    ib_err err2;
    int rc2 = write_json(out, "run.json", run, rc ? &err2 : err);
    if (!rc) rc = rc2;
    cJSON_Delete(run);
    free(ls.rows);
    free(step_ms);
    free(config_text);
    ib_counters_free(&counters);
    if (have_stats) ib_stats_close(&stats);
    ib_trainer_free(&t);
    ib_unlock_dir(lock_fd);
    return rc;
}

int ib_cmd_train(int argc, char **argv) {
    ib_train_config cfg;
    ib_train_config_defaults(&cfg);
    ib_flag flags[IB_TRAIN_MAX_FLAGS + 2];
    int n = ib_train_flags(&cfg, flags);
    int help = 0;
    flags[n++] = (ib_flag){"out", IB_FLAG_STRING, &cfg.out, 0, 0, 0, NULL, "DIR", "run directory to write (required)", 0};
    flags[n++] = (ib_flag){"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0};
    ib_err err = {0};
    char *pos[1];
    int npos;
    if (ib_flags_parse(flags, n, argc, argv, 1, pos, 0, &npos, &err)) ib_exit_err(&err);
    if (help) {
        printf("usage: initbench train --out DIR [--stddev W] [--steps N] [--eval-every K] [--seed S] ...\n\n"
               "Trains one network and writes DIR/curve.csv, DIR/run.json, DIR/params.safetensors.\n"
               "Network presets for --net: %s.\n\n",
               ib_spec_preset_names());
        ib_flags_print_help(stdout, flags, n);
        return 0;
    }
    if (!cfg.out) ib_die(IB_EXIT_USAGE, "train: --out DIR is required");
    if (ib_train_config_resolve(&cfg, flags, n, &err)) ib_exit_err(&err);
    /* From here a stop signal (e.g. Slurm preemption while the data loads) is kept and acted on
     * at the first step boundary, with a checkpoint, instead of killing the run unrecorded. */
    struct sigaction early[3];
    install_stop_handlers(early);
    ib_dataset ds;
    const char *data_dir = ib_data_dir_resolve(cfg.data_dir);
    if (ib_dataset_load(data_dir, cfg.dataset, &ds, &err)) ib_exit_err(&err);
    ib_train_result res;
    int rc = ib_train_run(&cfg, &ds, cfg.out, &res, &err);
    ib_dataset_free(&ds);
    if (rc) ib_exit_err(&err);
    if (res.already_complete) {
        fprintf(stderr, "%s: already %s with this configuration (test accuracy %.4f); nothing to do\n", cfg.out,
                res.status, res.final_accuracy);
        return 0;
    }
    if (res.interrupted_by) {
        fprintf(stderr, "initbench: interrupted by %s at step %lld; checkpoint saved, rerun the same command to "
                "resume\n", strsignal(res.interrupted_by), res.steps_done);
        return IB_EXIT_INTERRUPTED;
    }
    if (!strcmp(res.status, "diverged"))
        fprintf(stderr, "initbench: run diverged at step %lld (non-finite loss, first in %s); recorded in %s/run.json\n",
                res.diverged_step, res.first_nonfinite, cfg.out);
    else
        fprintf(stderr, "done: test accuracy %.4f after %lld steps in %.1f s (median step %.1f ms); wrote %s\n",
                res.final_accuracy, res.steps_done, res.wall_s, res.step_ms_median, cfg.out);
    return 0;
}
