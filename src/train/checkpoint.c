/* Checkpoints (checkpoint.safetensors): parameters, optimiser state, the curve so far and the
 * running training-loss sums at a step boundary, with the run's config and state as metadata. */
#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

static void hexd(cJSON *arr, double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%a", v); /* exact round trip */
    cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
}

int ib_checkpoint_save(const char *out, const ib_trainer *t, const char *config_text, const ib_loop_state *ls,
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
        const ib_curve_row *c = &ls->rows[i];
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

ib_curve_row *ib_loop_new_row(ib_loop_state *ls) {
    if (ls->n_rows == ls->rows_cap) {
        int cap = ls->rows_cap ? 2 * ls->rows_cap : 64;
        ib_curve_row *r = realloc(ls->rows, (size_t)cap * sizeof *r);
        if (!r) ib_die(IB_EXIT_INTERNAL, "out of memory for %d curve rows", cap);
        ls->rows = r;
        ls->rows_cap = cap;
    }
    ib_curve_row *r = &ls->rows[ls->n_rows++];
    memset(r, 0, sizeof *r);
    return r;
}

/* The state's numbers, checked before any cast: 0, or -1 with why. */
static int state_check(const cJSON *rows, const cJSON *acc, const cJSON *step, const ib_train_config *cfg,
                       char *why, size_t len) {
    if (!cJSON_IsArray(rows) || !cJSON_IsArray(acc) || cJSON_GetArraySize(acc) != 3 || !cJSON_IsNumber(step)) {
        snprintf(why, len, "state lacks step, curve or train_accumulators");
        return -1;
    }
    const double s = step->valuedouble;
    if (!(s >= 0 && s <= (double)cfg->steps) || s != floor(s)) {
        snprintf(why, len, "step %g outside 0..%lld", s, cfg->steps);
        return -1;
    }
    /* one row per evaluation up to the step (every eval_every steps, and step 0) */
    const long long max_rows = (long long)s / cfg->eval_every + 2;
    const int n = cJSON_GetArraySize(rows);
    if (n > max_rows) {
        snprintf(why, len, "%d curve rows where step %lld allows at most %lld", n, (long long)s, max_rows);
        return -1;
    }
    double prev = -1;
    for (int i = 0; i < n; i++) {
        const cJSON *r = cJSON_GetArrayItem(rows, i);
        const double rs = cJSON_IsArray(r) && cJSON_GetArraySize(r) == 6 ? unhex(r, 0) : NAN;
        const double acc_v = unhex(r, 1), el = unhex(r, 5);
        if (!(rs > prev && rs <= s) || rs != floor(rs) || !(isnan(acc_v) || (acc_v >= 0 && acc_v <= 1)) ||
            !(el >= 0 && el < 1e12)) {
            snprintf(why, len, "curve row %d malformed (step, accuracy or time out of range)", i);
            return -1;
        }
        prev = rs;
    }
    const double loss = unhex(acc, 0), correct = unhex(acc, 1), batches = unhex(acc, 2);
    (void)loss; /* any double: a diverging run's loss may be inf or NaN */
    if (!(correct >= 0 && correct <= (double)INT_MAX) || !(batches >= 0 && batches <= (double)INT_MAX) ||
        correct != floor(correct) || batches != floor(batches)) {
        snprintf(why, len, "train_accumulators out of range");
        return -1;
    }
    return 0;
}

int ib_checkpoint_state_read(const char *state_text, const ib_train_config *cfg, ib_loop_state *ls, char *why,
                             size_t len) {
    cJSON *st = cJSON_Parse(state_text);
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(st, "curve");
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(st, "train_accumulators");
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(st, "step");
    int rc = st ? state_check(rows, acc, step, cfg, why, len) : (snprintf(why, len, "state is not JSON"), -1);
    if (!rc) {
        ls->step = (long long)step->valuedouble;
        ls->loss_acc = unhex(acc, 0);
        ls->correct_acc = (int)unhex(acc, 1);
        ls->batches_acc = (int)unhex(acc, 2);
        ls->n_rows = 0;
        const int n_rows = cJSON_GetArraySize(rows);
        for (int i = 0; i < n_rows; i++) {
            const cJSON *r = cJSON_GetArrayItem(rows, i);
            ib_curve_row *c = ib_loop_new_row(ls);
            c->step = (long long)unhex(r, 0);
            c->test_accuracy = unhex(r, 1), c->test_loss = unhex(r, 2), c->train_loss = unhex(r, 3);
            c->train_accuracy = unhex(r, 4), c->elapsed_s = unhex(r, 5);
        }
    }
    cJSON_Delete(st);
    return rc;
}

int ib_checkpoint_load(const char *out, ib_trainer *t, const char *config_text, ib_loop_state *ls, ib_err *err) {
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
    if (!fmt || strcmp(fmt, "initbench-checkpoint-1") || !cfg || !state || n != 3 * net->n_params) {
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
    char why[160];
    if (!rc && ib_checkpoint_state_read(state, t->cfg, ls, why, sizeof why))
        rc = ib_fail(err, IB_EXIT_USAGE, "%s: malformed checkpoint state: %s", path, why);
    if (!rc) {
        ib_net_params_from_host(net, host);
        t->be->upload(t->be, net->opt_m, host + total, total * sizeof(float));
        t->be->upload(t->be, net->opt_v, host + 2 * total, total * sizeof(float));
    }
    free(host);
done:
    ib_safetensors_free(ts, n);
    ib_safetensors_meta_free(meta, n_meta);
    return rc;
}
