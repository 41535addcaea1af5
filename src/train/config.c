#include "config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ib_train_config_defaults(ib_train_config *c) {
    memset(c, 0, sizeof *c);
    c->dataset = "mnist";
    c->data_dir = NULL;
    c->net = "original";
    c->init = "truncnormal";
    c->init_mode = "fan_in";
    c->init_dist = "truncated";
    c->optimizer = "adam";
    c->backend = "cpu";
    c->progress = "auto";
    c->update = "auto";
    c->stddev = 0.1; /* the tutorial's default */
    c->init_scale = NAN;
    c->bias_init = NAN; /* NaN: same as --stddev, as in the original */
    c->lr = NAN;        /* NaN: the optimiser's default */
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->momentum = 0.9;
    c->rho = 0.9;
    c->batch = 50;
    c->eval_batch = 500;
    c->steps = 10000;
    c->eval_every = 100;
    c->train_offset = 5000; /* TensorFlow's read_data_sets keeps the first 5000 for validation */
    c->train_size = 55000;
    c->test_size = 10000;
    c->seed = 1;
    c->checkpoint_every = 1000;
    c->stats_every = 100;
    c->papi_events = "default";
}

#define F_INT(n, t, lo, hi, mv, h) {n, IB_FLAG_INT, t, lo, hi, 0, NULL, mv, h, 0}
#define F_LONG(n, t, lo, hi, mv, h) {n, IB_FLAG_LONG, t, lo, hi, 0, NULL, mv, h, 0}
#define F_DBL(n, t, lo, hi, excl, mv, h) {n, IB_FLAG_DOUBLE, t, lo, hi, excl, NULL, mv, h, 0}
#define F_STR(n, t, mv, h) {n, IB_FLAG_STRING, t, 0, 0, 0, NULL, mv, h, 0}
#define F_CHOICE(n, t, ch, h) {n, IB_FLAG_CHOICE, t, 0, 0, 0, ch, NULL, h, 0}
#define F_BOOL(n, t, h) {n, IB_FLAG_BOOL, t, 0, 0, 0, NULL, NULL, h, 0}

int ib_train_flags(ib_train_config *c, ib_flag *flags) {
    ib_flag table[] = {
        F_DBL("stddev", &c->stddev, 0, 100, IB_MIN_OPEN, "W", "weight init stddev (truncnormal, normal, uniform); default 0.1"),
        F_CHOICE("init", &c->init,
                 "truncnormal|normal|uniform|glorot_uniform|glorot_normal|he_normal|he_uniform|lecun_normal|"
                 "lecun_uniform|variance_scaling|orthogonal",
                 "weight initialiser (default truncnormal: TF semantics)"),
        F_DBL("init-scale", &c->init_scale, 0, 1e6, IB_MIN_OPEN, "S", "variance_scaling scale, orthogonal gain (default 1)"),
        F_CHOICE("init-mode", &c->init_mode, "fan_in|fan_out|fan_avg", "variance_scaling fan (default fan_in)"),
        F_CHOICE("init-distribution", &c->init_dist, "truncated|normal|uniform",
                 "variance_scaling distribution (default truncated)"),
        F_DBL("bias-init", &c->bias_init, -1e6, 1e6, 0, "B", "constant bias (default: --stddev, as the original)"),
        F_STR("net", &c->net, "SPEC", "layer spec, preset name or @FILE (default original)"),
        F_CHOICE("optimizer", &c->optimizer, "adam|adam-pt|sgd|momentum|rmsprop",
                 "adam = TF 1.x form (default); adam-pt = PyTorch form"),
        F_DBL("lr", &c->lr, 0, 1e6, IB_MIN_OPEN, "LR", "learning rate (default: adam 1e-4, sgd/momentum 0.01, rmsprop 1e-3)"),
        F_DBL("beta1", &c->beta1, 0, 1, IB_MAX_OPEN, "B1", "Adam beta1 (default 0.9), in [0, 1)"),
        F_DBL("beta2", &c->beta2, 0, 1, IB_MAX_OPEN, "B2", "Adam beta2 (default 0.999), in [0, 1)"),
        F_DBL("eps", &c->eps, 0, 1, IB_MIN_OPEN, "EPS", "Adam/RMSProp epsilon (default 1e-8)"),
        F_DBL("momentum", &c->momentum, 0, 1, IB_MAX_OPEN, "MU", "momentum coefficient (default 0.9), in [0, 1)"),
        F_BOOL("nesterov", &c->nesterov, "Nesterov momentum (with --optimizer momentum)"),
        F_DBL("rho", &c->rho, 0, 1, IB_MAX_OPEN, "RHO", "RMSProp decay (default 0.9), in [0, 1)"),
        F_INT("batch", &c->batch, 1, 65536, "N", "training batch size (default 50)"),
        F_LONG("steps", &c->steps, 0, 1e9, "N", "training steps (default 10000)"),
        F_LONG("eval-every", &c->eval_every, 0, 1e9, "K",
               "evaluate the test set every K steps, plus step 0 and the last (default 100; 0 = only those)"),
        F_INT("eval-batch", &c->eval_batch, 1, 65536, "N", "evaluation batch size (default 500)"),
        {"seed", IB_FLAG_U64, &c->seed, 0, 0, 0, NULL, "S", "random seed for init, shuffling and dropout (default 1)", 0},
        F_CHOICE("dataset", &c->dataset, "mnist|fashion-mnist", "dataset (default mnist)"),
        F_STR("data-dir", &c->data_dir, "DIR", "data directory (default $INITBENCH_DATA or <checkout>/data)"),
        F_LONG("train-offset", &c->train_offset, 0, 1e8, "N", "first training image used (default 5000, TF's split)"),
        F_LONG("train-size", &c->train_size, 1, 1e8, "N", "training images used (default 55000)"),
        F_LONG("test-size", &c->test_size, 1, 1e8, "N", "test images evaluated (default 10000: all)"),
        F_CHOICE("backend", &c->backend, ib_backend_choices(), "compute backend (default cpu)"),
        F_BOOL("tf32", &c->tf32, "cuda: TF32 tensor-core math in convolutions and SGEMM (faster, not fp32-exact)"),
        F_INT("threads", &c->threads, 0, 4096, "T", "threads (default 0: $SLURM_CPUS_PER_TASK or all cores)"),
        F_CHOICE("update", &c->update, "auto|fused|separate",
                 "optimiser step inside backward as each layer's gradients complete (fused, cpu backends) or "
                 "after it (separate); the same bits either way; auto: fused when the parameters, gradients "
                 "and optimiser state outgrow the last-level cache (default auto)"),
        F_LONG("checkpoint-every", &c->checkpoint_every, 0, 1e9, "K",
               "write a resumable checkpoint every K steps (default 1000; 0 = only when signalled)"),
        F_LONG("stats-every", &c->stats_every, 0, 1e9, "K",
               "per-layer statistics at step 0 and every K steps into stats.csv/hist.csv (default 100; 0 = off)"),
        F_STR("papi-events", &c->papi_events, "LIST",
              "PAPI events per phase: default (hardware presets, else software events), none, or a list"),
        F_BOOL("save-init", &c->save_init, "also write the initial parameters (params_init.safetensors)"),
        F_CHOICE("progress", &c->progress, "auto|tty|log|none", "progress display (default auto)"),
    };
    int n = (int)(sizeof table / sizeof table[0]);
    memcpy(flags, table, sizeof table);
    return n;
}

const char *ib_optim_name(ib_optim_kind k) {
    static const char *names[] = {"adam", "adam-pt", "sgd", "momentum", "rmsprop"};
    return names[k];
}

static int seen(ib_flag *flags, int n, const char *name) {
    ib_flag *f = ib_flag_find(flags, n, name);
    return f && f->seen;
}

int ib_train_config_resolve(ib_train_config *c, ib_flag *flags, int n, ib_err *err) {
    if (ib_spec_parse(c->net, &c->spec, err)) return err->code;
    ib_spec_format(&c->spec, c->spec_text, sizeof c->spec_text);

    ib_init_config *ic = &c->initc;
    memset(ic, 0, sizeof *ic);
    if (ib_init_parse_scheme(c->init, &ic->scheme, err)) return err->code;
    int uses_stddev = ib_init_uses_stddev(ic->scheme);
    if (!uses_stddev && seen(flags, n, "stddev"))
        return ib_fail(err, IB_EXIT_USAGE, "--stddev applies to truncnormal, normal and uniform, not --init %s "
                       "(use --init-scale)", c->init);
    int explicit_vs = ic->scheme == IB_INIT_VARIANCE_SCALING;
    if (!explicit_vs && (seen(flags, n, "init-mode") || seen(flags, n, "init-distribution")))
        return ib_fail(err, IB_EXIT_USAGE, "--init-mode/--init-distribution apply only to --init variance_scaling");
    if (uses_stddev && seen(flags, n, "init-scale"))
        return ib_fail(err, IB_EXIT_USAGE, "--init-scale does not apply to --init %s (use --stddev)", c->init);
    if (!explicit_vs && ic->scheme != IB_INIT_ORTHOGONAL && seen(flags, n, "init-scale"))
        return ib_fail(err, IB_EXIT_USAGE, "--init-scale applies only to variance_scaling and orthogonal");
    ic->stddev = c->stddev;
    ic->scale = isnan(c->init_scale) ? 1.0 : c->init_scale;
    ic->mode = !strcmp(c->init_mode, "fan_in") ? IB_FAN_IN : !strcmp(c->init_mode, "fan_out") ? IB_FAN_OUT : IB_FAN_AVG;
    ic->distribution = !strcmp(c->init_dist, "truncated") ? IB_DIST_TRUNCATED
                     : !strcmp(c->init_dist, "normal")    ? IB_DIST_NORMAL
                                                          : IB_DIST_UNIFORM;
    ib_init_resolve(ic);
    if (isnan(c->bias_init)) c->bias_init = uses_stddev ? c->stddev : 0.0;
    if (isnan(c->init_scale)) c->init_scale = ic->scale;
    ic->bias = c->bias_init;

    ib_optim_hparams *hp = &c->hp;
    memset(hp, 0, sizeof *hp);
    const char *o = c->optimizer;
    hp->kind = !strcmp(o, "adam")       ? IB_OPT_ADAM_TF
             : !strcmp(o, "adam-pt")    ? IB_OPT_ADAM_PT
             : !strcmp(o, "sgd")        ? IB_OPT_SGD
             : !strcmp(o, "momentum")   ? IB_OPT_MOMENTUM
                                        : IB_OPT_RMSPROP;
    if (c->nesterov && hp->kind != IB_OPT_MOMENTUM)
        return ib_fail(err, IB_EXIT_USAGE, "--nesterov applies only to --optimizer momentum");
    if (c->tf32 && !ib_backend_takes(c->backend, "tf32"))
        return ib_fail(err, IB_EXIT_USAGE, "--tf32 applies only to --backend %s", ib_backend_takers("tf32"));
    int is_adam = hp->kind == IB_OPT_ADAM_TF || hp->kind == IB_OPT_ADAM_PT;
    if (!is_adam && (seen(flags, n, "beta1") || seen(flags, n, "beta2")))
        return ib_fail(err, IB_EXIT_USAGE, "--beta1/--beta2 apply only to adam and adam-pt");
    if (!is_adam && hp->kind != IB_OPT_RMSPROP && seen(flags, n, "eps"))
        return ib_fail(err, IB_EXIT_USAGE, "--eps applies only to adam, adam-pt and rmsprop");
    if (hp->kind != IB_OPT_MOMENTUM && seen(flags, n, "momentum"))
        return ib_fail(err, IB_EXIT_USAGE, "--momentum applies only to --optimizer momentum");
    if (hp->kind != IB_OPT_RMSPROP && seen(flags, n, "rho"))
        return ib_fail(err, IB_EXIT_USAGE, "--rho applies only to --optimizer rmsprop");
    if (isnan(c->lr)) c->lr = is_adam ? 1e-4 : hp->kind == IB_OPT_RMSPROP ? 1e-3 : 0.01;
    hp->lr = c->lr, hp->beta1 = c->beta1, hp->beta2 = c->beta2, hp->eps = c->eps;
    hp->momentum = c->momentum, hp->rho = c->rho, hp->nesterov = c->nesterov;
    if (c->eval_every == 0) c->eval_every = c->steps > 0 ? c->steps : 1;
    return 0;
}

cJSON *ib_train_config_to_json(const ib_train_config *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "dataset", c->dataset);
    cJSON_AddStringToObject(j, "net", c->spec_text);
    cJSON_AddStringToObject(j, "net_given", c->net);
    cJSON *init = cJSON_AddObjectToObject(j, "init");
    cJSON_AddStringToObject(init, "scheme", c->init);
    if (ib_init_uses_stddev(c->initc.scheme)) cJSON_AddNumberToObject(init, "stddev", c->stddev);
    else {
        cJSON_AddNumberToObject(init, "scale", c->initc.scale);
        cJSON_AddStringToObject(init, "mode", c->initc.mode == IB_FAN_IN ? "fan_in" : c->initc.mode == IB_FAN_OUT ? "fan_out" : "fan_avg");
        cJSON_AddStringToObject(init, "distribution", c->initc.distribution == IB_DIST_TRUNCATED ? "truncated"
                                : c->initc.distribution == IB_DIST_NORMAL ? "normal" : "uniform");
    }
    cJSON_AddNumberToObject(init, "bias", c->bias_init);
    cJSON *opt = cJSON_AddObjectToObject(j, "optimizer");
    cJSON_AddStringToObject(opt, "name", ib_optim_name(c->hp.kind));
    cJSON_AddNumberToObject(opt, "lr", c->hp.lr);
    if (c->hp.kind == IB_OPT_ADAM_TF || c->hp.kind == IB_OPT_ADAM_PT) {
        cJSON_AddNumberToObject(opt, "beta1", c->hp.beta1);
        cJSON_AddNumberToObject(opt, "beta2", c->hp.beta2);
    }
    if (c->hp.kind == IB_OPT_ADAM_TF || c->hp.kind == IB_OPT_ADAM_PT || c->hp.kind == IB_OPT_RMSPROP)
        cJSON_AddNumberToObject(opt, "eps", c->hp.eps);
    if (c->hp.kind == IB_OPT_MOMENTUM) {
        cJSON_AddNumberToObject(opt, "momentum", c->hp.momentum);
        cJSON_AddBoolToObject(opt, "nesterov", c->hp.nesterov);
    }
    if (c->hp.kind == IB_OPT_RMSPROP) cJSON_AddNumberToObject(opt, "rho", c->hp.rho);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "steps", (double)c->steps);
    cJSON_AddNumberToObject(j, "eval_every", (double)c->eval_every);
    cJSON_AddNumberToObject(j, "eval_batch", c->eval_batch);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    cJSON_AddStringToObject(j, "seed", seed); /* a string: JSON numbers lose 64-bit precision */
    cJSON_AddNumberToObject(j, "train_offset", (double)c->train_offset);
    cJSON_AddNumberToObject(j, "train_size", (double)c->train_size);
    cJSON_AddNumberToObject(j, "test_size", (double)c->test_size);
    cJSON_AddStringToObject(j, "backend", c->backend);
    if (c->tf32) cJSON_AddBoolToObject(j, "tf32", 1); /* absent when off: fp32 configs stay as they were */
    return j;
}

static void push(char ***argv, int *argc, const char *s) {
    *argv = realloc(*argv, sizeof(char *) * (size_t)(*argc + 2));
    if (!*argv) abort();
    (*argv)[(*argc)++] = ib_xstrdup(s);
    (*argv)[*argc] = NULL;
}

static void push_kv(char ***argv, int *argc, const char *k, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void push_kv(char ***argv, int *argc, const char *k, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    push(argv, argc, k);
    push(argv, argc, buf);
}

char **ib_train_config_to_argv(const ib_train_config *c, int *argc_out) {
    char **a = NULL;
    int n = 0;
    push(&a, &n, "train");
    push_kv(&a, &n, "--net", "%s", c->spec_text);
    push_kv(&a, &n, "--init", "%s", c->init);
    if (ib_init_uses_stddev(c->initc.scheme)) push_kv(&a, &n, "--stddev", "%.17g", c->stddev);
    if (c->initc.scheme == IB_INIT_VARIANCE_SCALING) {
        push_kv(&a, &n, "--init-mode", "%s", c->init_mode);
        push_kv(&a, &n, "--init-distribution", "%s", c->init_dist);
    }
    if (c->initc.scheme == IB_INIT_VARIANCE_SCALING || c->initc.scheme == IB_INIT_ORTHOGONAL)
        push_kv(&a, &n, "--init-scale", "%.17g", c->initc.scale);
    push_kv(&a, &n, "--bias-init", "%.17g", c->bias_init);
    push_kv(&a, &n, "--optimizer", "%s", c->optimizer);
    push_kv(&a, &n, "--lr", "%.17g", c->lr);
    if (c->hp.kind == IB_OPT_ADAM_TF || c->hp.kind == IB_OPT_ADAM_PT) {
        push_kv(&a, &n, "--beta1", "%.17g", c->beta1);
        push_kv(&a, &n, "--beta2", "%.17g", c->beta2);
    }
    if (c->hp.kind == IB_OPT_ADAM_TF || c->hp.kind == IB_OPT_ADAM_PT || c->hp.kind == IB_OPT_RMSPROP)
        push_kv(&a, &n, "--eps", "%.17g", c->eps);
    if (c->hp.kind == IB_OPT_MOMENTUM) {
        push_kv(&a, &n, "--momentum", "%.17g", c->momentum);
        if (c->nesterov) push(&a, &n, "--nesterov");
    }
    if (c->hp.kind == IB_OPT_RMSPROP) push_kv(&a, &n, "--rho", "%.17g", c->rho);
    push_kv(&a, &n, "--batch", "%d", c->batch);
    push_kv(&a, &n, "--steps", "%lld", c->steps);
    push_kv(&a, &n, "--eval-every", "%lld", c->eval_every);
    push_kv(&a, &n, "--eval-batch", "%d", c->eval_batch);
    push_kv(&a, &n, "--seed", "%llu", (unsigned long long)c->seed);
    push_kv(&a, &n, "--dataset", "%s", c->dataset);
    if (c->data_dir) push_kv(&a, &n, "--data-dir", "%s", c->data_dir);
    push_kv(&a, &n, "--train-offset", "%lld", c->train_offset);
    push_kv(&a, &n, "--train-size", "%lld", c->train_size);
    push_kv(&a, &n, "--test-size", "%lld", c->test_size);
    push_kv(&a, &n, "--backend", "%s", c->backend);
    if (c->tf32) push(&a, &n, "--tf32");
    push_kv(&a, &n, "--checkpoint-every", "%lld", c->checkpoint_every);
    push_kv(&a, &n, "--stats-every", "%lld", c->stats_every);
    push_kv(&a, &n, "--papi-events", "%s", c->papi_events);
    if (c->save_init) push(&a, &n, "--save-init");
    *argc_out = n;
    return a;
}

void ib_argv_free(char **argv, int argc) {
    for (int i = 0; i < argc; i++) free(argv[i]);
    free(argv);
}
