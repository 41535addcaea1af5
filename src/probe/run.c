/* Running the probe: each unit (a run of configurations of one network) on one trainer,
 * re-initialised per configuration and seed; its rows written as a part file, so a killed probe
 * resumes by unit; units spread over worker processes; the parts merged into probe.csv and
 * configs.csv at the end. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "data.h"
#include "forecast.h"
#include "init.h"
#include "lock.h"
#include "probe.h"
#include "rundir.h"
#include "runinfo.h"
#include "strbuf.h"
#include "train.h"

#define PROBE_FORMAT "initbench-probe/1"
#define CONFIGS_HEADER                                                                                             \
    "config,dataset,net,depth,width,activation,init,init_scale,stddev,bias_init,sigma_w2,optimizer,lr,seeds,loss0,"  \
    "log10_grad_ratio,log10_act_ratio,log10_wgrad_ratio,q1,min_update_ratio,max_frac_below_eps,max_frac_dead,"      \
    "max_frac_saturated,descent,max_update_ratio,sum_update_ratio,forecast,reason\n"
static const char *const act_name[] = {"relu", "tanh", "sigmoid"};
#define PROBE_HEADER "config,seed,step,layer,metric,value\n"

/* stats.csv's columns after step,layer,tensor (stats.c ROWS_HEADER) */
static const char *const stat_cols[] = {"n",   "l2",        "rms",            "mean",           "std",
                                        "min", "max",       "frac_zero",      "frac_saturated", "frac_nonfinite",
                                        "update_ratio", "sqrt_v_rms", "frac_sqrt_v_below_eps"};
enum { NCOLS = 13, C_L2 = 1, C_RMS = 2, C_STD = 4, C_ZERO = 7, C_SAT = 8, C_NONFINITE = 9, C_RATIO = 10,
       C_SQRTV = 11, C_BELOW = 12 };
/* the metrics probe.csv keeps by default: what the questions need, a tenth of the file */
static const char *const key_metrics[] = {"weight.std",         "preact.rms",        "act.rms",
                                          "act.std",            "act.frac_zero",     "act.frac_saturated",
                                          "act_grad.rms",       "weight_grad.l2",    "update.update_ratio",
                                          "update.frac_sqrt_v_below_eps"};

static int is_key_metric(const char *tensor, const char *col) {
    char m[64];
    snprintf(m, sizeof m, "%s.%s", tensor, col);
    for (size_t i = 0; i < sizeof key_metrics / sizeof *key_metrics; i++)
        if (!strcmp(m, key_metrics[i])) return 1;
    return 0;
}

static void num(ib_strbuf *b, double v) {
    if (isnan(v)) ib_strbuf_append(b, ",nan");
    else if (isinf(v)) ib_strbuf_append(b, v > 0 ? ",inf" : ",-inf");
    else ib_strbuf_appendf(b, ",%.9g", v);
}
static void num_or_empty(ib_strbuf *b, double v, int applies) {
    if (applies) num(b, v);
    else ib_strbuf_append(b, ",");
}
/* a CSV field: quoted when it holds a comma or quote (a spec, a reason) */
static void field(ib_strbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        ib_strbuf_appendf(b, ",%s", s);
        return;
    }
    ib_strbuf_append(b, ",\"");
    for (; *s; s++) ib_strbuf_append_n(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
    ib_strbuf_append(b, "\"");
}

/* What one configuration and seed recorded: rows appended to probe, the step-0 summary filled. */
typedef struct layer_stats {
    double preact_rms, act_rms, act_zero, act_sat, agrad_rms, wgrad_l2, ratio, below, sqrtv;
} layer_stats;

static void collect(const char *rows, int config, uint64_t seed, int all_metrics, ib_strbuf *probe,
                    ib_probe_summary *s, char names[][24], int *n_weight) {
    layer_stats L[64];
    for (int i = 0; i < 64; i++)
        L[i] = (layer_stats){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    int nl = 0, nonfinite = 0;
    for (const char *line = rows; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) break;
        /* step,layer,tensor,13 columns: our own recorder's text */
        const char *f[16];
        size_t fl[16];
        int nf = 0;
        for (const char *p = line; nf < 16;) {
            const char *c = memchr(p, ',', (size_t)(end - p));
            f[nf] = p, fl[nf] = (size_t)((c ? c : end) - p);
            nf++;
            if (!c) break;
            p = c + 1;
        }
        if (nf == 16) {
            char layer[24], tensor[24];
            snprintf(layer, sizeof layer, "%.*s", (int)fl[1], f[1]);
            snprintf(tensor, sizeof tensor, "%.*s", (int)fl[2], f[2]);
            const long step = strtol(f[0], NULL, 10);
            for (int c = 0; c < NCOLS; c++)
                if (fl[3 + c] && (all_metrics || is_key_metric(tensor, stat_cols[c])))
                    ib_strbuf_appendf(probe, "%d,%llu,%ld,%s,%s.%s,%.*s\n", config, (unsigned long long)seed, step,
                                      layer, tensor, stat_cols[c], (int)fl[3 + c], f[3 + c]);
            if (step == 0) {
                int li = -1;
                for (int i = 0; i < nl; i++)
                    if (!strcmp(names[i], layer)) li = i;
                if (li < 0 && !strcmp(tensor, "weight") && nl < 64) snprintf(names[li = nl++], 24, "%s", layer);
                double v[NCOLS];
                for (int c = 0; c < NCOLS; c++) v[c] = fl[3 + c] ? strtod(f[3 + c], NULL) : NAN;
                if (v[C_NONFINITE] > 0) nonfinite = 1;
                if (li >= 0) {
                    layer_stats *x = &L[li];
                    if (!strcmp(tensor, "preact")) x->preact_rms = v[C_RMS];
                    else if (!strcmp(tensor, "act")) x->act_rms = v[C_RMS], x->act_zero = v[C_ZERO], x->act_sat = v[C_SAT];
                    else if (!strcmp(tensor, "act_grad")) x->agrad_rms = v[C_RMS];
                    else if (!strcmp(tensor, "weight_grad")) x->wgrad_l2 = v[C_L2];
                    else if (!strcmp(tensor, "update")) x->ratio = v[C_RATIO], x->below = v[C_BELOW], x->sqrtv = v[C_SQRTV];
                }
            }
        }
        line = end + 1;
    }
    *n_weight = nl;
    const int last_hidden = nl - 2;
    s->q1 = nl ? L[0].preact_rms * L[0].preact_rms : NAN;
    s->log10_grad_ratio = last_hidden >= 0 ? log10(L[0].agrad_rms / L[last_hidden].agrad_rms) : NAN;
    s->log10_act_ratio = last_hidden >= 0 ? log10(L[last_hidden].act_rms / L[0].act_rms) : NAN;
    s->log10_wgrad_ratio = nl ? log10(L[0].wgrad_l2 / L[nl - 1].wgrad_l2) : NAN;
    s->min_update_ratio = s->max_update_ratio = s->max_frac_below_eps = s->sqrt_v_rms_at = NAN;
    s->sum_update_ratio = 0;
    s->max_frac_dead = s->max_frac_saturated = NAN;
    s->min_update_layer = s->max_update_layer = s->below_eps_layer = s->dead_layer = s->saturated_layer = -1;
    for (int i = 0; i < nl; i++) {
        if (!isnan(L[i].ratio) && !(L[i].ratio >= s->min_update_ratio)) s->min_update_ratio = L[i].ratio, s->min_update_layer = i;
        if (!isnan(L[i].ratio) && !(L[i].ratio <= s->max_update_ratio)) s->max_update_ratio = L[i].ratio, s->max_update_layer = i;
        if (!isnan(L[i].ratio)) s->sum_update_ratio += L[i].ratio;
        if (!isnan(L[i].below) && !(L[i].below <= s->max_frac_below_eps)) s->max_frac_below_eps = L[i].below;
        if (!isnan(L[i].sqrtv) && !(L[i].sqrtv >= s->sqrt_v_rms_at)) s->sqrt_v_rms_at = L[i].sqrtv, s->below_eps_layer = i;
        if (i <= last_hidden && !isnan(L[i].act_zero) && !(L[i].act_zero <= s->max_frac_dead))
            s->max_frac_dead = L[i].act_zero, s->dead_layer = i;
        if (i <= last_hidden && !isnan(L[i].act_sat) && !(L[i].act_sat <= s->max_frac_saturated))
            s->max_frac_saturated = L[i].act_sat, s->saturated_layer = i;
    }
    s->nonfinite |= nonfinite;
}

/* -sum(grad * update) over every parameter: the first step's first-order loss decrease. */
static double descent(ib_trainer *t, float *g, float *u) {
    const size_t n = t->net.param_count;
    t->be->download(t->be, g, t->net.grad, n * sizeof *g);
    t->be->download(t->be, u, t->update, n * sizeof *u);
    double d = 0;
    for (size_t i = 0; i < n; i++) d -= (double)g[i] * (double)u[i];
    return d;
}

typedef struct run_ctx {
    const ib_probe_grid *g;
    const ib_probe_config *configs;
    int n_configs;
    const ib_dataset *ds;
    const char *out;
    int quiet;
} run_ctx;

static int run_unit(const run_ctx *x, int unit, ib_err *err) {
    const ib_probe_grid *g = x->g;
    double t0 = ib_now();
    int first = -1, count = 0;
    for (int i = 0; i < x->n_configs; i++)
        if (x->configs[i].unit == unit) {
            if (first < 0) first = i;
            count++;
        }
    if (first < 0) return 0;
    ib_strbuf probe = {0}, rows = {0};
    ib_trainer t;
    ib_train_config cfg;
    char **keep = NULL;
    int nkeep = 0, rc, built = 0;
    ib_stats_recorder rec;
    float *host_grad = NULL, *host_update = NULL; /* the descent's copies, once per unit */
    for (int k = first; k < first + count; k++) {
        const ib_probe_config *c = &x->configs[k];
        ib_probe_summary per_seed[IB_PROBE_MAX_AXIS];
        char names[64][24];
        const char *name_ptr[64] = {0};
        int n_weight = 0;
        double sigma_w2 = NAN;
        for (int si = 0; si < g->n_seeds; si++) {
            if (keep) ib_argv_free(keep, nkeep);
            if ((rc = ib_probe_train_config(g, c, g->seeds[si], &cfg, &keep, &nkeep, err))) goto done;
            if (!built) { /* one network per unit: its configurations differ in init, optimiser, seed */
                if ((rc = ib_trainer_init(&t, &cfg, x->ds, err))) goto done;
                t.update = t.be->alloc(t.be, t.net.param_count);
                ib_stats_open(&rec, "", t.be, 0, err);
                t.stats = &rec;
                host_grad = ib_xmalloc(t.net.param_count * sizeof *host_grad);
                host_update = ib_xmalloc(t.net.param_count * sizeof *host_update);
                built = 1;
            }
            t.cfg = &cfg;
            ib_net_init_params(&t.net, &cfg.initc, cfg.seed);
            t.be->zero(t.be, t.net.opt_m, t.net.param_count);
            t.be->zero(t.be, t.net.opt_v, t.net.param_count);
            t.be->zero(t.be, t.net.grad, t.net.param_count);
            t.perm_epoch = -1;
            ib_probe_summary *s = &per_seed[si];
            memset(s, 0, sizeof *s);
            s->descent = NAN;
            rec.rows_len = (size_t)(strchr(rec.rows, '\n') + 1 - rec.rows); /* keep the header */
            rec.rows[rec.rows_len] = 0;
            rec.hist_len = (size_t)(strchr(rec.hist, '\n') + 1 - rec.hist);
            for (long long step = 0; step < g->steps; step++) {
                const double loss = ib_trainer_step(&t, step, NULL);
                if (step == 0) s->loss0 = loss;
                if (step == 0 && isfinite(loss)) s->descent = descent(&t, host_grad, host_update);
                ib_strbuf_appendf(&probe, "%d,%llu,%lld,net,loss,%.9g\n", c->id, (unsigned long long)cfg.seed, step, loss);
                if (!isfinite(loss)) {
                    s->nonfinite = 1;
                    break;
                }
            }
            collect(strchr(rec.rows, '\n') + 1, c->id, cfg.seed, g->all_metrics, &probe, s,
                    names, &n_weight);
            s->log_classes = log((double)t.net.classes);
            if (isnan(sigma_w2) && n_weight) {
                /* a hidden->hidden weight (the second weight layer; the first when there is no other) */
                int want = n_weight >= 3 ? 1 : 0, seen = 0;
                for (int p = 0; p < t.net.n_params; p++) {
                    const ib_param *P = &t.net.params[p];
                    if (P->is_bias || seen++ != want) continue;
                    double fan_in, fan_out;
                    ib_fans(P->shape, P->ndim, &fan_in, &fan_out);
                    sigma_w2 = fan_in * ib_init_weight_variance(&cfg.initc, P->shape, P->ndim);
                }
            }
        }
        for (int i = 0; i < n_weight; i++) name_ptr[i] = names[i];
        ib_probe_summary m;
        ib_probe_summary_median(per_seed, g->n_seeds, &m);
        const ib_optim_kind kind = cfg.hp.kind;
        const int adaptive = kind == IB_OPT_ADAM_TF || kind == IB_OPT_ADAM_PT || kind == IB_OPT_RMSPROP;
        /* the TF form's first step divides by sqrt(v) + eps / sqrt(1 - beta2) (docs/THEORY.md) */
        const double eps1 = kind == IB_OPT_ADAM_TF ? cfg.hp.eps / sqrt(1 - cfg.hp.beta2) : cfg.hp.eps;
        char reason[1024];
        ib_forecast fc = ib_probe_forecast(&m, kind, eps1, g->budget, name_ptr, reason, sizeof reason);
        ib_strbuf *b = &rows;
        ib_strbuf_appendf(b, "%d", c->id);
        field(b, g->dataset);
        field(b, g->net);
        ib_strbuf_appendf(b, ",%d,%d", c->depth ? c->depth : n_weight - 1, c->depth ? g->width : 0);
        field(b, (int)c->act >= 0 ? act_name[c->act]
                                  : strstr(cfg.spec_text, "tanh") ? "tanh" : strstr(cfg.spec_text, "sigmoid") ? "sigmoid" : "relu");
        field(b, g->inits[c->init]);
        num_or_empty(b, c->init_scale, !isnan(c->init_scale));
        num_or_empty(b, c->stddev, !isnan(c->stddev));
        num(b, cfg.initc.bias);
        num(b, sigma_w2);
        field(b, g->optimizers[c->opt]);
        num(b, cfg.hp.lr);
        ib_strbuf_appendf(b, ",%d", g->n_seeds);
        num(b, m.loss0);
        num(b, m.log10_grad_ratio);
        num(b, m.log10_act_ratio);
        num(b, m.log10_wgrad_ratio);
        num(b, m.q1);
        num(b, m.min_update_ratio);
        num_or_empty(b, m.max_frac_below_eps, adaptive);
        num(b, m.max_frac_dead);
        num(b, m.max_frac_saturated);
        num(b, m.descent);
        num(b, m.max_update_ratio);
        num(b, m.sum_update_ratio);
        field(b, ib_forecast_names[fc]);
        field(b, reason);
        ib_strbuf_append(b, "\n");
    }
    /* the probe rows first; the configs part is the unit's completion mark */
    char path[4300];
    snprintf(path, sizeof path, "%s/parts/u%05d.probe.csv", x->out, unit);
    if ((rc = ib_write_file_atomic(path, probe.p ? probe.p : "", probe.len, err))) goto done;
    snprintf(path, sizeof path, "%s/parts/u%05d.configs.csv", x->out, unit);
    if ((rc = ib_write_file_atomic(path, rows.p ? rows.p : "", rows.len, err))) goto done;
    if (!x->quiet)
        fprintf(stderr, "probe: unit %d (%d weight layers, %s): %d configurations x %d seeds in %.2f s\n", unit + 1,
                x->configs[first].depth + 1, (int)x->configs[first].act >= 0 ? act_name[x->configs[first].act] : "as given",
                count, g->n_seeds, ib_now() - t0);
    rc = 0;
done:
    if (built) {
        t.stats = NULL;
        ib_stats_close(&rec);
        ib_trainer_free(&t);
    }
    free(host_grad);
    free(host_update);
    if (keep) ib_argv_free(keep, nkeep);
    ib_strbuf_free(&probe);
    ib_strbuf_free(&rows);
    return rc;
}

static int unit_done(const char *out, int unit) {
    char path[4300];
    struct stat st;
    snprintf(path, sizeof path, "%s/parts/u%05d.configs.csv", out, unit);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static cJSON *grid_json(const ib_probe_grid *g) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "preset", g->preset ? g->preset : "custom");
    cJSON_AddStringToObject(j, "net", g->net);
    cJSON_AddNumberToObject(j, "width", g->width);
    cJSON *a = cJSON_AddArrayToObject(j, "depths");
    for (int i = 0; i < g->n_depths; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(g->depths[i]));
    a = cJSON_AddArrayToObject(j, "stddevs");
    for (int i = 0; i < g->stddevs.n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(g->stddevs.v[i]));
    a = cJSON_AddArrayToObject(j, "inits");
    for (int i = 0; i < g->n_inits; i++) cJSON_AddItemToArray(a, cJSON_CreateString(g->inits[i]));
    a = cJSON_AddArrayToObject(j, "init_scales");
    for (int i = 0; i < g->init_scales.n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(g->init_scales.v[i]));
    a = cJSON_AddArrayToObject(j, "activations");
    for (int i = 0; i < g->n_acts; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(act_name[g->acts[i]]));
    a = cJSON_AddArrayToObject(j, "optimizers");
    for (int i = 0; i < g->n_opts; i++) cJSON_AddItemToArray(a, cJSON_CreateString(g->optimizers[i]));
    a = cJSON_AddArrayToObject(j, "seeds");
    for (int i = 0; i < g->n_seeds; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)g->seeds[i]));
    cJSON_AddStringToObject(j, "dataset", g->dataset);
    cJSON_AddNumberToObject(j, "steps", g->steps);
    cJSON_AddNumberToObject(j, "batch", g->batch);
    if (isnan(g->lr)) cJSON_AddNullToObject(j, "lr");
    else cJSON_AddNumberToObject(j, "lr", g->lr);
    cJSON_AddNumberToObject(j, "eps", g->eps);
    if (isnan(g->bias_init)) cJSON_AddStringToObject(j, "bias_init", "stddev");
    else cJSON_AddNumberToObject(j, "bias_init", g->bias_init);
    cJSON_AddStringToObject(j, "backend", g->backend);
    cJSON_AddStringToObject(j, "metrics", g->all_metrics ? "all" : "key");
    cJSON_AddNumberToObject(j, "budget_steps", (double)g->budget);
    cJSON_AddNumberToObject(j, "forecast_version", IB_FC_RULE_VERSION); /* a resume never mixes rules */
    return j;
}

static int write_probe_json(const char *out, const ib_probe_grid *g, const char *command, const char *status,
                            int n_configs, double wall_s, int ran, ib_err *err) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", PROBE_FORMAT);
    cJSON_AddStringToObject(j, "status", status);
    cJSON_AddStringToObject(j, "command", command ? command : "");
    cJSON_AddItemToObject(j, "grid", grid_json(g));
    cJSON_AddNumberToObject(j, "configs", n_configs);
    cJSON *f = cJSON_AddObjectToObject(j, "forecast");
    cJSON_AddNumberToObject(f, "version", IB_FC_RULE_VERSION);
    cJSON_AddNumberToObject(f, "budget_steps", (double)g->budget);
    cJSON_AddStringToObject(f, "rule", ib_probe_forecast_rule());
    if (wall_s >= 0) {
        cJSON *t = cJSON_AddObjectToObject(j, "timing");
        cJSON_AddNumberToObject(t, "wall_s", wall_s);
        cJSON_AddNumberToObject(t, "configs_run", ran);
        cJSON_AddNumberToObject(t, "jobs", g->jobs);
        cJSON_AddNumberToObject(t, "threads_per_job", g->threads);
        if (ran) cJSON_AddNumberToObject(t, "ms_per_config", 1000 * wall_s / ran);
        if (ran) cJSON_AddNumberToObject(t, "ms_per_config_seed", 1000 * wall_s / ran / g->n_seeds);
    }
    cJSON *env = cJSON_AddObjectToObject(j, "environment");
    ib_runinfo_add(env, NULL);
    int rc = ib_rundir_write_json(out, "probe.json", j, err);
    cJSON_Delete(j);
    return rc;
}

/* An existing probe.json: the same grid (resume), complete (nothing to do), or another grid (refused). */
static int check_existing(const char *out, const ib_probe_grid *g, int *complete, ib_err *err) {
    char path[4300];
    snprintf(path, sizeof path, "%s/probe.json", out);
    uint8_t *data;
    size_t len;
    *complete = 0;
    if (access(path, F_OK)) return 0;
    if (ib_read_file(path, &data, &len, err)) return err->code;
    cJSON *j = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format"), *grid = cJSON_GetObjectItemCaseSensitive(j, "grid");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (!j || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, PROBE_FORMAT) || !cJSON_IsObject(grid)) {
        cJSON_Delete(j);
        return ib_fail(err, IB_EXIT_USAGE, "%s: not a probe.json of format %s; give a new --out", path, PROBE_FORMAT);
    }
    cJSON *mine = grid_json(g);
    char *a = cJSON_PrintUnformatted(mine), *b = cJSON_PrintUnformatted(grid);
    const int same = a && b && !strcmp(a, b);
    *complete = same && cJSON_IsString(st) && !strcmp(st->valuestring, "complete");
    free(a);
    free(b);
    cJSON_Delete(mine);
    cJSON_Delete(j);
    if (!same)
        return ib_fail(err, IB_EXIT_USAGE, "%s holds a probe of another grid; give a new --out (or the same flags to resume)",
                       out);
    return 0;
}

static int merge(const char *out, int n_units, ib_err *err) {
    ib_strbuf p = {0}, c = {0};
    ib_strbuf_append(&p, PROBE_HEADER);
    ib_strbuf_append(&c, CONFIGS_HEADER);
    int rc = 0;
    for (int u = 0; u < n_units && !rc; u++) {
        for (int k = 0; k < 2 && !rc; k++) {
            char path[4300];
            snprintf(path, sizeof path, "%s/parts/u%05d.%s.csv", out, u, k ? "configs" : "probe");
            uint8_t *data;
            size_t len;
            if ((rc = ib_read_file(path, &data, &len, err))) break;
            ib_strbuf_append_n(k ? &c : &p, (const char *)data, len);
            free(data);
        }
    }
    char path[4300];
    if (!rc) snprintf(path, sizeof path, "%s/probe.csv", out), rc = ib_write_file_atomic(path, p.p, p.len, err);
    if (!rc) snprintf(path, sizeof path, "%s/configs.csv", out), rc = ib_write_file_atomic(path, c.p, c.len, err);
    ib_strbuf_free(&p);
    ib_strbuf_free(&c);
    return rc;
}

int ib_probe_run(const ib_probe_grid *g, const char *out, const char *command, int quiet, ib_err *err) {
    int rc = ib_outdir_claim(out, "probe", err);
    if (rc) return rc;
    int lock = ib_lock_dir(out, "initbench probe", err);
    if (lock < 0) return err->code;
    int n = 0, complete = 0;
    ib_probe_config *configs = ib_probe_configs(g, &n);
    const int n_groups = n ? configs[n - 1].group + 1 : 0, n_units = n ? configs[n - 1].unit + 1 : 0;
    ib_dataset ds;
    int have_ds = 0;
    if ((rc = check_existing(out, g, &complete, err))) goto done;
    if (complete) {
        if (!quiet) fprintf(stderr, "%s: probe already complete with this grid; nothing to do\n", out);
        goto done;
    }
    char parts[4300];
    snprintf(parts, sizeof parts, "%s/parts", out);
    if ((rc = ib_mkdir_p(parts, err))) goto done;
    if ((rc = write_probe_json(out, g, command, "running", n, -1, 0, err))) goto done;
    int *todo = ib_xcalloc((size_t)n_units + 1, sizeof *todo), n_todo = 0, ran = 0;
    for (int u = 0; u < n_units; u++)
        if (!unit_done(out, u)) todo[n_todo++] = u;
    for (int i = 0; i < n; i++) ran += !unit_done(out, configs[i].unit);
    if (!quiet)
        fprintf(stderr, "probe: %d configurations x %d seeds, %d networks in %d units (%d to run), %d worker%s\n", n,
                g->n_seeds, n_groups, n_units, n_todo, g->jobs, g->jobs > 1 ? "s" : "");
    double t0 = ib_now();
    if (n_todo) {
        if ((rc = ib_dataset_load(ib_data_dir_resolve(g->data_dir), g->dataset, &ds, err))) goto done_todo;
        have_ds = 1;
    }
    run_ctx x = {g, configs, n, &ds, out, quiet};
    const int jobs = g->jobs < n_todo ? g->jobs : n_todo;
    if (jobs <= 1) {
        for (int k = 0; k < n_todo && !rc; k++) rc = run_unit(&x, todo[k], err);
    } else {
        /* workers take every jobs-th unit; the parent only waits (no backend was created here, so
         * nothing threaded is forked) */
        pid_t *pids = ib_xcalloc((size_t)jobs, sizeof *pids);
        for (int w = 0; w < jobs; w++) {
            fflush(NULL);
            pids[w] = fork();
            if (pids[w] == 0) {
                ib_err e = {0};
                int r = 0;
                for (int k = w; k < n_todo && !r; k += jobs) r = run_unit(&x, todo[k], &e);
                if (r) fprintf(stderr, "initbench: probe worker %d: %s\n", w, e.msg);
                fflush(NULL);
                _exit(r ? (r == IB_EXIT_USAGE ? IB_EXIT_USAGE : 1) : 0);
            }
            if (pids[w] < 0) {
                rc = ib_fail(err, 1, "fork: %s", strerror(errno));
                for (int v = 0; v < w; v++) kill(pids[v], SIGTERM);
                break;
            }
        }
        for (int w = 0; w < jobs; w++) {
            int st = 0;
            if (pids[w] > 0 && waitpid(pids[w], &st, 0) > 0 && !rc && (!WIFEXITED(st) || WEXITSTATUS(st)))
                rc = ib_fail(err, WIFEXITED(st) ? WEXITSTATUS(st) : 1, "probe worker %d failed (%s %d); rerun the same "
                             "command to resume", w, WIFEXITED(st) ? "exit" : "signal",
                             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
        free(pids);
    }
    if (!rc) rc = merge(out, n_units, err);
    const double wall = ib_now() - t0;
    if (!rc) rc = write_probe_json(out, g, command, "complete", n, wall, ran, err);
    if (!rc) { /* the merged files hold everything: the parts go */
        for (int u = 0; u < n_units; u++)
            for (int k = 0; k < 2; k++) {
                char path[4400];
                snprintf(path, sizeof path, "%s/u%05d.%s.csv", parts, u, k ? "configs" : "probe");
                unlink(path);
            }
        rmdir(parts);
        if (!quiet)
            fprintf(stderr, "probe: %d configurations in %.1f s (%.1f ms each); wrote %s/probe.csv, configs.csv, probe.json\n",
                    ran, wall, ran ? 1000 * wall / ran : 0.0, out);
    }
done_todo:
    free(todo);
done:
    if (have_ds) ib_dataset_free(&ds);
    free(configs);
    ib_unlock_dir(lock);
    return rc;
}
