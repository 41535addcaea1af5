/* The probe's grid: its flags, presets, the configurations in run order, and each one's `train`
 * flags, so a configuration means exactly what the same flags mean to `train` and `sweep`. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "init.h"
#include "probe.h"
#include "runinfo.h"
#include "spec.h"

#define PROBE_DEFAULT_WIDTH 128
static const char *const act_names[] = {"relu", "tanh", "sigmoid"};

void ib_probe_usage(FILE *fp) {
    fprintf(fp,
            "usage: initbench probe --out DIR [--preset original|phase] [grid flags] [--jobs N]\n\n"
            "Step-0 gradient flow over a grid of configurations: each is built, initialised and trained for\n"
            "--steps steps (default 1) with per-layer statistics, as `train` would record them in stats.csv.\n"
            "Writes DIR/probe.csv (config,seed,step,layer,metric,value), DIR/configs.csv (one row per\n"
            "configuration: summaries and the trainability forecast) and DIR/probe.json. Rerunning the same\n"
            "command resumes a killed probe. `initbench report DIR` draws the phase diagram.\n\n"
            "Lists are comma-separated; ranges are A..B (integers: every value) or A..B:N (N values,\n"
            "log-spaced for stddevs and scales). Presets: original = the seed's CNN over 25 stddevs\n"
            "1e-5..10, Adam (TF form) and SGD, seeds 1,2; phase = fc blocks of width %d, depths 1..32 x 25\n"
            "stddevs 3e-3..3 x relu,tanh,sigmoid, bias 0, Adam, seeds 1,2. Flags given override the preset.\n\n"
            "  --net fc|conv|original|SPEC  network family: fc = DEPTH x (fc:WIDTH, ACT), fc:10; conv = DEPTH x\n"
            "                               (conv3x3:WIDTH, ACT), fc:10; a preset name or spec is used as written,\n"
            "                               with --activations replacing its activations\n"
            "  --width N                    hidden width of fc/conv blocks (default %d)\n"
            "  --depths LIST|A..B           hidden blocks (fc/conv only; default 1..32 for phase, else 4)\n"
            "  --stddevs LIST|A..B:N        weight stddev for truncnormal/normal/uniform (default 1e-5..10:25)\n"
            "  --init LIST                  initialisers (train's --init names; default truncnormal)\n"
            "  --init-scales LIST|A..B:N    for initialisers that ignore --stddev: orthogonal's gain, variance_scaling's\n"
            "                               scale, and for named schemes (he_normal ...) a factor on their variance\n"
            "  --activations LIST           relu,tanh,sigmoid (default relu; a fixed spec keeps its own)\n"
            "  --optimizers LIST            adam,adam-pt,sgd,momentum,rmsprop (default adam)\n"
            "  --seeds LIST|A..B            seeds, each a different initialisation and batch (default 1,2)\n"
            "  --dataset mnist|fashion-mnist, --data-dir DIR\n"
            "  --steps N                    training steps per configuration, statistics at each (default 1)\n"
            "  --budget N                   the training budget the forecast speaks of (default 1000 steps)\n"
            "  --batch N, --lr LR, --eps E, --bias-init B   as for train (bias default: --stddev, as the original)\n"
            "  --metrics key|all            probe.csv's metrics: the key ones (default) or every stats.csv column\n"
            "  --jobs N                     worker processes (default: the cores); --threads T each (default 1)\n"
            "  --backend cpu|ref|cuda       as for train\n"
            "  --validate K                 then train K configurations drawn across the forecast classes for --budget\n"
            "                               steps (one `initbench sweep --preset quick` per network and optimiser,\n"
            "                               in DIR/validate/) and write the confusion matrix, forecast against outcome,\n"
            "                               to DIR/validate/summary.md and validation.csv\n"
            "  --validate-seed S            which draw (default 1); another S draws other configurations\n"
            "  --trained-above A            a run counts as trained at final test accuracy >= A (default 0.8)\n"
            "  --executor local|slurm|none  how the validation sweeps run (slurm: rerun when the jobs are done)\n"
            "  --quiet                      print nothing but errors\n"
            "Exit 2 for bad values, with the flag named.\n",
            PROBE_DEFAULT_WIDTH, PROBE_DEFAULT_WIDTH);
}

/* "A..B:N" (log-spaced when log, else linear), "A..B" (integers), or "a,b,c". */
static int parse_axis(const char *flag, const char *text, int log_spaced, int integers, double lo, double hi,
                      ib_double_list *out, ib_err *err) {
    out->n = 0;
    const char *dots = strstr(text, "..");
    if (dots) {
        char first[64], *end;
        if ((size_t)(dots - text) >= sizeof first)
            return ib_fail(err, IB_EXIT_USAGE, "--%s %s: a range is A..B or A..B:N", flag, text);
        snprintf(first, sizeof first, "%.*s", (int)(dots - text), text); /* strtod would read "1." of "1..3" */
        errno = 0;
        double a = strtod(first, &end);
        if (end == first || *end) return ib_fail(err, IB_EXIT_USAGE, "--%s %s: a range is A..B or A..B:N", flag, text);
        double b = strtod(dots + 2, &end);
        long n = -1;
        if (*end == ':') {
            char *e2;
            n = strtol(end + 1, &e2, 10);
            if (e2 == end + 1 || *e2 || n < 1 || n > IB_MAX_LIST)
                return ib_fail(err, IB_EXIT_USAGE, "--%s %s: N must be 1..%d", flag, text, IB_MAX_LIST);
            end = e2;
        }
        if (*end || errno || !isfinite(a) || !isfinite(b) || a > b)
            return ib_fail(err, IB_EXIT_USAGE, "--%s %s: a range is A..B with A <= B", flag, text);
        if (n < 0) {
            if (!integers) return ib_fail(err, IB_EXIT_USAGE, "--%s %s: give the number of values, A..B:N", flag, text);
            if (a != floor(a) || b != floor(b) || b - a + 1 > IB_MAX_LIST)
                return ib_fail(err, IB_EXIT_USAGE, "--%s %s: integers, at most %d of them", flag, text, IB_MAX_LIST);
            n = (long)(b - a + 1);
        }
        if (log_spaced && a <= 0) return ib_fail(err, IB_EXIT_USAGE, "--%s %s: a log range needs A > 0", flag, text);
        for (long i = 0; i < n; i++) {
            double t = n > 1 ? (double)i / (double)(n - 1) : 0;
            double v = log_spaced ? exp(log(a) + t * (log(b) - log(a))) : a + t * (b - a);
            if (integers) v = round(v);
            out->v[out->n++] = v;
        }
        if (log_spaced) out->v[0] = a, out->v[out->n - 1] = b;
    } else {
        const char *p = text;
        while (*p) {
            if (out->n == IB_MAX_LIST) return ib_fail(err, IB_EXIT_USAGE, "--%s: at most %d values", flag, IB_MAX_LIST);
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            if (end == p || errno || !isfinite(v) || (*end && *end != ','))
                return ib_fail(err, IB_EXIT_USAGE, "--%s %s: not a number list", flag, text);
            out->v[out->n++] = v;
            p = *end ? end + 1 : end;
        }
        if (!out->n) return ib_fail(err, IB_EXIT_USAGE, "--%s: empty list", flag);
    }
    for (int i = 0; i < out->n; i++) {
        if (integers && out->v[i] != floor(out->v[i]))
            return ib_fail(err, IB_EXIT_USAGE, "--%s %s: %g is not an integer", flag, text, out->v[i]);
        if (!(out->v[i] >= lo && out->v[i] <= hi) || (log_spaced && out->v[i] <= 0))
            return ib_fail(err, IB_EXIT_USAGE, "--%s %s: %g is outside (%g, %g]", flag, text, out->v[i], lo, hi);
        for (int j = 0; j < i; j++)
            if (out->v[j] == out->v[i])
                return ib_fail(err, IB_EXIT_USAGE, "--%s %s: %g appears twice", flag, text, out->v[i]);
    }
    return 0;
}

/* Comma-separated names, each one of choices ("a|b|c"), into out[max][len]. */
static int parse_names(const char *flag, const char *text, const char *choices, char *out, size_t len, int max,
                       int *n, ib_err *err) {
    *n = 0;
    const char *p = text;
    if (!*p) return ib_fail(err, IB_EXIT_USAGE, "--%s: empty list", flag);
    while (*p) {
        size_t k = strcspn(p, ",");
        int ok = 0;
        for (const char *c = choices; *c;) {
            size_t m = strcspn(c, "|");
            if (m == k && !strncmp(c, p, k)) ok = 1;
            c += m + (c[m] == '|');
        }
        if (!ok || k >= len)
            return ib_fail(err, IB_EXIT_USAGE, "--%s: '%.*s' is not one of %s", flag, (int)(k < 40 ? k : 40), p, choices);
        for (int j = 0; j < *n; j++)
            if (!strncmp(out + (size_t)j * len, p, k) && out[(size_t)j * len + k] == 0)
                return ib_fail(err, IB_EXIT_USAGE, "--%s: '%.*s' appears twice", flag, (int)k, p);
        if (*n == max) return ib_fail(err, IB_EXIT_USAGE, "--%s: at most %d values", flag, max);
        snprintf(out + (size_t)(*n)++ * len, len, "%.*s", (int)k, p);
        p += k + (p[k] == ',');
        if (p[-1] == ',' && !*p) return ib_fail(err, IB_EXIT_USAGE, "--%s: empty list element", flag);
    }
    return 0;
}

static int is_family(const char *net) { return !strcmp(net, "fc") || !strcmp(net, "conv"); }

int ib_probe_parse(int argc, char **argv, ib_probe_grid *g, const char **out, int *help, ib_err *err) {
    memset(g, 0, sizeof *g);
    const char *preset = NULL, *depths = NULL, *stddevs = NULL, *inits = NULL, *scales = NULL, *acts = NULL,
               *opts = NULL, *seeds = NULL, *metrics = "key";
    g->net = NULL, g->width = PROBE_DEFAULT_WIDTH, g->dataset = "mnist", g->backend = "cpu";
    g->steps = 1, g->budget = 1000, g->batch = 50, g->threads = 0, g->jobs = 0;
    g->lr = NAN, g->eps = NAN, g->bias_init = NAN;
    g->trained_above = 0.8, g->executor = "local", g->validate_seed = 1;
    *out = NULL;
    *help = 0;
    int quiet_unused = 0;
    ib_flag f[] = {
        {"preset", IB_FLAG_CHOICE, &preset, 0, 0, 0, "original|phase", NULL, "grid preset", 0},
        {"net", IB_FLAG_STRING, &g->net, 0, 0, 0, NULL, "NET", "fc|conv|preset|SPEC", 0},
        {"width", IB_FLAG_INT, &g->width, 1, 4096, 0, NULL, "N", "hidden width", 0},
        {"depths", IB_FLAG_STRING, &depths, 0, 0, 0, NULL, "LIST", "hidden blocks", 0},
        {"stddevs", IB_FLAG_STRING, &stddevs, 0, 0, 0, NULL, "LIST", "stddevs", 0},
        {"init", IB_FLAG_STRING, &inits, 0, 0, 0, NULL, "LIST", "initialisers", 0},
        {"init-scales", IB_FLAG_STRING, &scales, 0, 0, 0, NULL, "LIST", "init scales", 0},
        {"activations", IB_FLAG_STRING, &acts, 0, 0, 0, NULL, "LIST", "activations", 0},
        {"optimizers", IB_FLAG_STRING, &opts, 0, 0, 0, NULL, "LIST", "optimisers", 0},
        {"seeds", IB_FLAG_STRING, &seeds, 0, 0, 0, NULL, "LIST", "seeds", 0},
        {"dataset", IB_FLAG_CHOICE, &g->dataset, 0, 0, 0, "mnist|fashion-mnist", NULL, "dataset", 0},
        {"data-dir", IB_FLAG_STRING, &g->data_dir, 0, 0, 0, NULL, "DIR", "data directory", 0},
        {"steps", IB_FLAG_INT, &g->steps, 1, 100, 0, NULL, "N", "steps per configuration", 0},
        {"budget", IB_FLAG_LONG, &g->budget, 1, 1e9, 0, NULL, "N", "forecast budget", 0},
        {"batch", IB_FLAG_INT, &g->batch, 1, 100000, 0, NULL, "N", "batch", 0},
        {"lr", IB_FLAG_DOUBLE, &g->lr, 0, 1e6, IB_MIN_OPEN, NULL, "LR", "learning rate", 0},
        {"eps", IB_FLAG_DOUBLE, &g->eps, 0, 1, IB_MIN_OPEN, NULL, "EPS", "epsilon", 0},
        {"bias-init", IB_FLAG_DOUBLE, &g->bias_init, -1e6, 1e6, 0, NULL, "B", "constant bias", 0},
        {"metrics", IB_FLAG_CHOICE, &metrics, 0, 0, 0, "key|all", NULL, "metrics", 0},
        {"jobs", IB_FLAG_INT, &g->jobs, 1, 256, 0, NULL, "N", "worker processes", 0},
        {"threads", IB_FLAG_INT, &g->threads, 1, 1024, 0, NULL, "T", "threads per worker", 0},
        {"backend", IB_FLAG_CHOICE, &g->backend, 0, 0, 0, "cpu|ref|cuda", NULL, "backend", 0},
        {"validate", IB_FLAG_INT, &g->validate, 1, 10000, 0, NULL, "K", "validate", 0},
        {"validate-seed", IB_FLAG_LONG, &g->validate_seed, 1, 1e9, 0, NULL, "S", "draw", 0},
        {"trained-above", IB_FLAG_DOUBLE, &g->trained_above, 0, 1, IB_MIN_OPEN, NULL, "A", "trained", 0},
        {"executor", IB_FLAG_CHOICE, &g->executor, 0, 0, 0, "local|slurm|none", NULL, "executor", 0},
        {"out", IB_FLAG_STRING, out, 0, 0, 0, NULL, "DIR", "output", 0},
        {"quiet", IB_FLAG_BOOL, &quiet_unused, 0, 0, 0, NULL, NULL, "quiet", 0},
        {"help", IB_FLAG_BOOL, help, 0, 0, 0, NULL, NULL, "help", 0},
    };
    const int nf = (int)(sizeof f / sizeof f[0]);
    char *pos[1];
    int npos = 0;
    if (ib_flags_parse(f, nf, argc, argv, 1, pos, 0, &npos, err)) return err->code;
    if (*help) return 0;
    if (!*out) return ib_fail(err, IB_EXIT_USAGE, "probe: --out DIR is required");
    g->preset = preset;
    g->all_metrics = !strcmp(metrics, "all");
    const int phase = preset && !strcmp(preset, "phase"), original = preset && !strcmp(preset, "original");
    if (!g->net) g->net = original ? "original" : "fc";
    if (phase && strcmp(g->net, "fc") && strcmp(g->net, "conv"))
        return ib_fail(err, IB_EXIT_USAGE, "--preset phase varies depth: --net must be fc or conv");
    if (phase && isnan(g->bias_init)) g->bias_init = 0; /* mean-field's sigma_b = 0 */
    int rc;
    ib_double_list l;
    if (is_family(g->net)) {
        if ((rc = parse_axis("depths", depths ? depths : phase ? "1..32" : "4", 0, 1, 1, 60, &l, err))) return rc;
        for (int i = 0; i < l.n; i++) g->depths[i] = (int)l.v[i];
        g->n_depths = l.n;
    } else if (depths) {
        return ib_fail(err, IB_EXIT_USAGE, "--depths applies to --net fc or conv; '%s' is a fixed network", g->net);
    }
    if ((rc = parse_axis("stddevs", stddevs ? stddevs : phase ? "3e-3..3:25" : "1e-5..10:25", 1, 0, 0, 100,
                         &g->stddevs, err)))
        return rc;
    if ((rc = parse_axis("init-scales", scales ? scales : "1", 1, 0, 0, 1e6, &g->init_scales, err))) return rc;
    if ((rc = parse_names("init", inits ? inits : "truncnormal",
                          "truncnormal|normal|uniform|glorot_uniform|glorot_normal|he_normal|he_uniform|lecun_normal|"
                          "lecun_uniform|variance_scaling|orthogonal",
                          &g->inits[0][0], sizeof g->inits[0], 8, &g->n_inits, err)))
        return rc;
    char an[3][24];
    if (acts || is_family(g->net)) {
        if ((rc = parse_names("activations", acts ? acts : phase ? "relu,tanh,sigmoid" : "relu", "relu|tanh|sigmoid",
                              &an[0][0], sizeof an[0], 3, &g->n_acts, err)))
            return rc;
        for (int i = 0; i < g->n_acts; i++)
            g->acts[i] = !strcmp(an[i], "relu") ? IB_ACT_RELU : !strcmp(an[i], "tanh") ? IB_ACT_TANH : IB_ACT_SIGMOID;
    }
    if ((rc = parse_names("optimizers", opts ? opts : original ? "adam,sgd" : "adam", "adam|adam-pt|sgd|momentum|rmsprop",
                          &g->optimizers[0][0], sizeof g->optimizers[0], 5, &g->n_opts, err)))
        return rc;
    if ((rc = parse_axis("seeds", seeds ? seeds : "1,2", 0, 1, 0, 1e15, &l, err))) return rc;
    for (int i = 0; i < l.n; i++) g->seeds[i] = (uint64_t)l.v[i];
    g->n_seeds = l.n;
    if (!g->jobs) g->jobs = g->threads ? 1 : ib_default_threads();
    if (!g->threads) g->threads = 1; /* configurations in parallel beat threads within one small step */
    /* every network the grid names must be buildable: say so now, not after minutes of probing */
    char spec[4096];
    for (int d = 0; d < (g->n_depths ? g->n_depths : 1); d++)
        for (int a = 0; a < (g->n_acts ? g->n_acts : 1); a++)
            if ((rc = ib_probe_spec(g, g->n_depths ? g->depths[d] : 0, g->n_acts ? g->acts[a] : (ib_act)-1, spec,
                                    sizeof spec, err)))
                return rc;
    /* every configuration must be one `train` accepts: say so now, not after minutes of probing */
    int n_configs;
    ib_probe_config *configs = ib_probe_configs(g, &n_configs);
    for (int i = 0; i < n_configs && !rc; i++) {
        ib_train_config cfg;
        char **keep = NULL;
        int nkeep = 0;
        rc = ib_probe_train_config(g, &configs[i], g->seeds[0], &cfg, &keep, &nkeep, err);
        if (keep) ib_argv_free(keep, nkeep);
    }
    free(configs);
    if (rc) return rc;
    return 0;
}

int ib_probe_spec(const ib_probe_grid *g, int depth, ib_act act, char *buf, size_t len, ib_err *err) {
    const int keep_act = (int)act < 0;
    size_t at = 0;
    buf[0] = 0;
    if (is_family(g->net)) {
        for (int i = 0; i < depth; i++) {
            int w = snprintf(buf + at, len - at, !strcmp(g->net, "fc") ? "fc:%d,%s," : "conv3x3:%d,%s,", g->width,
                             act_names[keep_act ? 0 : act]);
            if (w < 0 || (size_t)w >= len - at) return ib_fail(err, IB_EXIT_USAGE, "--depths %d: network too long", depth);
            at += (size_t)w;
        }
        snprintf(buf + at, len - at, "fc:10");
    } else {
        const char *text = ib_spec_preset(g->net);
        if (!text) text = g->net;
        if (strlen(text) >= len) return ib_fail(err, IB_EXIT_USAGE, "--net: spec too long");
        /* every activation token replaced by act; the rest as written */
        for (const char *p = text; *p;) {
            size_t k = strcspn(p, ",");
            const int is_act = (k == 4 && !strncmp(p, "relu", 4)) || (k == 4 && !strncmp(p, "tanh", 4)) ||
                               (k == 7 && !strncmp(p, "sigmoid", 7));
            int w = snprintf(buf + at, len - at, "%s%.*s", at ? "," : "", is_act && !keep_act ? (int)strlen(act_names[act]) : (int)k,
                             is_act && !keep_act ? act_names[act] : p);
            if (w < 0 || (size_t)w >= len - at) return ib_fail(err, IB_EXIT_USAGE, "--net: spec too long");
            at += (size_t)w;
            p += k + (p[k] == ',');
        }
    }
    ib_net_spec parsed;
    if (ib_spec_parse(buf, &parsed, err)) return ib_fail(err, IB_EXIT_USAGE, "--net %s: %s", g->net, err->msg);
    return 0;
}

ib_probe_config *ib_probe_configs(const ib_probe_grid *g, int *n) {
    const int nd = g->n_depths ? g->n_depths : 1, na = g->n_acts ? g->n_acts : 1;
    int per_init_max = g->stddevs.n > g->init_scales.n ? g->stddevs.n : g->init_scales.n;
    ib_probe_config *c = ib_xcalloc((size_t)nd * na * g->n_opts * g->n_inits * per_init_max, sizeof *c);
    int k = 0, group = 0;
    for (int d = 0; d < nd; d++)
        for (int a = 0; a < na; a++, group++)
            for (int o = 0; o < g->n_opts; o++)
                for (int i = 0; i < g->n_inits; i++) {
                    ib_init_scheme s;
                    ib_err e;
                    ib_init_parse_scheme(g->inits[i], &s, &e);
                    const int by_stddev = ib_init_uses_stddev(s);
                    const int nv = by_stddev ? g->stddevs.n : g->init_scales.n;
                    for (int v = 0; v < nv; v++) {
                        ib_probe_config *x = &c[k];
                        x->id = k++, x->group = group;
                        x->depth = g->n_depths ? g->depths[d] : 0;
                        x->act = g->n_acts ? g->acts[a] : (ib_act)-1;
                        x->opt = o, x->init = i;
                        x->stddev = by_stddev ? g->stddevs.v[v] : NAN;
                        x->init_scale = by_stddev ? NAN : g->init_scales.v[v];
                    }
                }
    /* each group in near-equal runs of at most IB_PROBE_UNIT: independent of --jobs, so a resume
     * with other --jobs finds the same parts */
    int unit = 0;
    for (int a = 0; a < k;) {
        int b = a;
        while (b < k && c[b].group == c[a].group) b++;
        const int size = b - a, pieces = (size + IB_PROBE_UNIT - 1) / IB_PROBE_UNIT;
        for (int i = 0; i < size; i++) c[a + i].unit = unit + (int)((long)i * pieces / size);
        unit += pieces;
        a = b;
    }
    *n = k;
    return c;
}

void ib_probe_format_double(char *buf, size_t len, double v) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static void push(char **a, int *n, const char *flag, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void push(char **a, int *n, const char *flag, const char *fmt, ...) {
    a[(*n)++] = strdup(flag);
    va_list ap;
    va_start(ap, fmt);
    char buf[4200];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    a[(*n)++] = strdup(buf);
}

char **ib_probe_train_argv(const ib_probe_grid *g, const ib_probe_config *c, uint64_t seed, int *argc_out) {
    char **a = ib_xcalloc(40, sizeof *a);
    int n = 0;
    char spec[4096];
    ib_err e;
    if (ib_probe_spec(g, c->depth, c->act, spec, sizeof spec, &e)) abort(); /* checked when parsed */
    push(a, &n, "--net", "%s", spec);
    ib_init_config ic = {0};
    ib_init_parse_scheme(g->inits[c->init], &ic.scheme, &e);
    const int takes_scale = ic.scheme == IB_INIT_VARIANCE_SCALING || ic.scheme == IB_INIT_ORTHOGONAL;
    if (!isnan(c->init_scale) && c->init_scale != 1 && !takes_scale) {
        /* a named variance-scaling scheme (he_normal, glorot_uniform ...) with its variance times
         * init_scale: the same draws as train's variance_scaling with the scheme's fan and distribution */
        ib_init_resolve(&ic);
        push(a, &n, "--init", "variance_scaling");
        push(a, &n, "--init-scale", "%.17g", ic.scale * c->init_scale);
        push(a, &n, "--init-mode", "%s", ic.mode == IB_FAN_IN ? "fan_in" : ic.mode == IB_FAN_OUT ? "fan_out" : "fan_avg");
        push(a, &n, "--init-distribution", "%s", ic.distribution == IB_DIST_TRUNCATED ? "truncated"
                                                 : ic.distribution == IB_DIST_NORMAL  ? "normal" : "uniform");
    } else {
        push(a, &n, "--init", "%s", g->inits[c->init]);
        if (!isnan(c->init_scale) && takes_scale) push(a, &n, "--init-scale", "%.17g", c->init_scale);
    }
    if (!isnan(c->stddev)) {
        char v[40];
        ib_probe_format_double(v, sizeof v, c->stddev);
        push(a, &n, "--stddev", "%s", v);
    }
    if (!isnan(g->bias_init)) push(a, &n, "--bias-init", "%.17g", g->bias_init);
    push(a, &n, "--optimizer", "%s", g->optimizers[c->opt]);
    if (!isnan(g->lr)) push(a, &n, "--lr", "%.17g", g->lr);
    const char *o = g->optimizers[c->opt];
    if (!isnan(g->eps) && (!strcmp(o, "adam") || !strcmp(o, "adam-pt") || !strcmp(o, "rmsprop")))
        push(a, &n, "--eps", "%.17g", g->eps);
    push(a, &n, "--batch", "%d", g->batch);
    push(a, &n, "--seed", "%llu", (unsigned long long)seed);
    push(a, &n, "--dataset", "%s", g->dataset);
    push(a, &n, "--backend", "%s", g->backend);
    *argc_out = n;
    return a;
}

/* A train config from the configuration's train flags (the same parser `train` uses). */
int ib_probe_train_config(const ib_probe_grid *g, const ib_probe_config *c, uint64_t seed, ib_train_config *cfg,
                   char ***argv_keep, int *argc_keep, ib_err *err) {
    ib_train_config_defaults(cfg);
    int argc;
    char **args = ib_probe_train_argv(g, c, seed, &argc);
    char **full = ib_xcalloc((size_t)argc + 8, sizeof *full);
    int n = 0;
    full[n++] = strdup("probe");
    for (int i = 0; i < argc; i++) full[n++] = args[i];
    free(args);
    char threads[16];
    snprintf(threads, sizeof threads, "%d", g->threads);
    full[n++] = strdup("--threads"), full[n++] = strdup(threads);
    full[n++] = strdup("--stats-every"), full[n++] = strdup("1");
    if (g->data_dir) full[n++] = strdup("--data-dir"), full[n++] = strdup(g->data_dir);
    ib_flag flags[IB_TRAIN_MAX_FLAGS];
    int nf = ib_train_flags(cfg, flags);
    char *pos[1];
    int npos;
    int rc = ib_flags_parse(flags, nf, n, full, 1, pos, 0, &npos, err);
    if (!rc) rc = ib_train_config_resolve(cfg, flags, nf, err);
    *argv_keep = full, *argc_keep = n; /* cfg points into these strings */
    return rc;
}

