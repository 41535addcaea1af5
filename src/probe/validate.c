/* `initbench probe --validate K`: the forecast checked against real training. K configurations
 * are drawn across the forecast classes, trained for the budget through the normal sweep machinery
 * (one `initbench sweep` per network and optimiser, over the drawn stddevs), and each outcome is set
 * beside its forecast: PROBE/validate/validation.csv, PROBE/validate/summary.md. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "forecast.h"
#include "names.h"
#include "probe.h"
#include "proc.h"
#include "rng.h"
#include "rundir.h"
#include "runfiles.h"
#include "strbuf.h"
#include "sweepdir.h"

typedef struct drawn {
    int config, forecast, sweep;
    char reason[1024];
    char run_dir[4600];
    int state;          /* ib_run_state, -1 when unknown */
    double accuracy;
    const char *outcome; /* trained | partial | stuck | diverged | not_run */
    int miss;
} drawn;

/* The forecast and reason of every configuration, from PROBE/configs.csv. */
static int read_forecasts(const char *out, int n, int *fc, char (*reason)[1024], ib_err *err) {
    char path[4300];
    snprintf(path, sizeof path, "%s/configs.csv", out);
    uint8_t *data;
    size_t len;
    if (ib_read_file(path, &data, &len, err)) return err->code;
    if (memchr(data, 0, len)) {
        free(data);
        return ib_fail(err, IB_EXIT_USAGE, "%s: holds a NUL byte (not a CSV file)", path);
    }
    ib_csv csv = {(char *)data, (char *)data + len, 1, path, NULL, NULL, 0};
    int col_fc = -1, col_reason = -1, rows = 0, rc = 0, nf;
    long line_no;
    char *f[40];
    size_t fl[40];
    while (!rc && (nf = ib_csv_record(&csv, f, fl, 40, &line_no, err)) != 0) {
        if (nf < 0 || nf > 40) {
            rc = nf < 0 ? err->code : ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: too many fields", path, line_no);
            break;
        }
        for (int i = 0; i < nf; i++) f[i][fl[i]] = 0; /* in place: the byte after a field is its separator */
        if (line_no == 1) {
            for (int i = 0; i < nf; i++) {
                if (!strcmp(f[i], "forecast")) col_fc = i;
                if (!strcmp(f[i], "reason")) col_reason = i;
            }
            if (col_fc < 0 || col_reason < 0 || strcmp(f[0], "config"))
                rc = ib_fail(err, IB_EXIT_USAGE, "%s: header lacks config, forecast or reason", path);
            continue;
        }
        unsigned long long id;
        if (nf <= col_reason || !ib_parse_u64(f[0], strlen(f[0]), &id) || id != (unsigned long long)rows || rows >= n) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: field 'config' is not %d", path, line_no, rows);
            break;
        }
        int k = -1;
        for (int c = 0; c < 3; c++)
            if (!strcmp(f[col_fc], ib_forecast_names[c])) k = c;
        if (k < 0 || strlen(f[col_reason]) >= sizeof reason[0]) {
            rc = ib_fail(err, IB_EXIT_USAGE, "%s: line %ld: field 'forecast' or 'reason' is malformed", path, line_no);
            break;
        }
        fc[rows] = k;
        snprintf(reason[rows], sizeof reason[0], "%s", f[col_reason]);
        ib_text_clean(reason[rows]);
        rows++;
    }
    free(data);
    if (!rc && rows != n) rc = ib_fail(err, IB_EXIT_USAGE, "%s: %d configurations, the grid has %d", path, rows, n);
    return rc;
}

/* K of the configurations that have a stddev, round robin over the forecast classes, each class
 * in a fixed pseudo-random order (so the draw is the same on every rerun). */
static int draw(const ib_probe_config *c, int n, const int *fc, int k, long long seed, int *picked) {
    int *order = ib_xcalloc((size_t)n + 1, sizeof *order), counts[3] = {0}, next[3] = {0}, m = 0;
    int *cls[3];
    for (int j = 0; j < 3; j++) cls[j] = ib_xcalloc((size_t)n + 1, sizeof *cls[j]);
    for (int i = 0; i < n; i++)
        if (!isnan(c[i].stddev)) cls[fc[i]][counts[fc[i]]++] = i;
    for (int j = 0; j < 3; j++) /* Fisher-Yates from the counter-based RNG */
        for (int i = counts[j] - 1; i > 0; i--) {
            uint32_t r[4];
            ib_philox(0x70726f6265ULL + (uint64_t)(seed - 1), ib_stream(IB_RNG_TEST, 7, (uint32_t)j), (uint64_t)i, r);
            int s = (int)(r[0] % (uint32_t)(i + 1)), t = cls[j][i];
            cls[j][i] = cls[j][s], cls[j][s] = t;
        }
    while (m < k) {
        int took = 0;
        for (int j = 0; j < 3 && m < k; j++)
            if (next[j] < counts[j]) picked[m++] = cls[j][next[j]++], took = 1;
        if (!took) break;
    }
    for (int j = 0; j < 3; j++) free(cls[j]);
    free(order);
    return m;
}

/* The train flags without --stddev and --seed: what one sweep shares. */
static char *sweep_key(const ib_probe_grid *g, const ib_probe_config *c) {
    int argc;
    char **a = ib_probe_train_argv(g, c, g->seeds[0], &argc);
    ib_strbuf b = {0};
    for (int i = 0; i < argc; i += 2)
        if (strcmp(a[i], "--stddev") && strcmp(a[i], "--seed")) ib_strbuf_appendf(&b, "%s\x1f%s\x1f", a[i], a[i + 1]);
    ib_argv_free(a, argc);
    return b.p;
}

static const char *outcome_of(int state, double acc, double trained_above) {
    if (state == IB_RUN_DIVERGED) return "diverged";
    if (state != IB_RUN_COMPLETE) return "not_run";
    if (acc >= trained_above) return "trained";
    return acc < 0.2 ? "stuck" : "partial";
}

int ib_probe_validate(const ib_probe_grid *g, const char *out, int k, double trained_above, const char *executor,
                      int quiet, ib_err *err) {
    int n = 0, rc = 0;
    ib_probe_config *c = ib_probe_configs(g, &n);
    int *fc = ib_xcalloc((size_t)n + 1, sizeof *fc), *picked = ib_xcalloc((size_t)k + 1, sizeof *picked);
    char(*reason)[1024] = ib_xcalloc((size_t)n + 1, sizeof *reason);
    drawn *d = ib_xcalloc((size_t)k + 1, sizeof *d);
    char **keys = ib_xcalloc((size_t)k + 1, sizeof *keys);
    int n_sweeps = 0, m = 0, pending = 0;
    char self[4096], vdir[4300];
    if ((rc = read_forecasts(out, n, fc, reason, err))) goto done;
    m = draw(c, n, fc, k, g->validate_seed, picked);
    if (m == 0) {
        rc = ib_fail(err, IB_EXIT_USAGE, "--validate: no configuration with a --stddev to train (validation runs "
                     "sweeps over stddevs)");
        goto done;
    }
    if ((rc = ib_proc_self_exe(self, sizeof self, err))) goto done;
    /* the first draw in validate/, another in validate-SEED/ */
    if (g->validate_seed == 1) snprintf(vdir, sizeof vdir, "%s/validate", out);
    else snprintf(vdir, sizeof vdir, "%s/validate-%lld", out, g->validate_seed);
    if ((rc = ib_mkdir_p(vdir, err))) goto done;
    /* group the drawn configurations into sweeps: same flags but the stddev, in config order */
    int *sorted = ib_xcalloc((size_t)m, sizeof *sorted);
    memcpy(sorted, picked, (size_t)m * sizeof *sorted);
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1], sorted[j - 1] = t;
        }
    for (int i = 0; i < m; i++) {
        drawn *x = &d[i];
        x->config = sorted[i], x->forecast = fc[sorted[i]], x->state = -1, x->accuracy = NAN;
        snprintf(x->reason, sizeof x->reason, "%s", reason[sorted[i]]);
        char *key = sweep_key(g, &c[sorted[i]]);
        x->sweep = -1;
        for (int s = 0; s < n_sweeps; s++)
            if (!strcmp(keys[s], key)) x->sweep = s;
        if (x->sweep < 0) keys[x->sweep = n_sweeps++] = key;
        else free(key);
    }
    free(sorted);
    char budget[32], seed[32];
    snprintf(budget, sizeof budget, "%lld", g->budget);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)g->seeds[0]);
    /* the sweeps, up to --jobs at a time, each with --jobs too: a sweep gives each of its runs
     * cores / jobs threads, so concurrent sweeps never oversubscribe the cores with threads */
    char jobs[16];
    snprintf(jobs, sizeof jobs, "%d", g->jobs);
    pid_t *pids = ib_xcalloc((size_t)n_sweeps + 1, sizeof *pids);
    int running = 0, next = 0;
    while ((next < n_sweeps || running) && !rc) {
        if (next < n_sweeps && running < g->jobs && !rc) {
            const int s = next++;
            ib_strbuf stddevs = {0};
            int first = -1;
            for (int i = 0; i < m; i++)
                if (d[i].sweep == s) {
                    if (first < 0) first = i;
                    char v[40];
                    ib_probe_format_double(v, sizeof v, c[d[i].config].stddev);
                    ib_strbuf_appendf(&stddevs, "%s%s", stddevs.len ? "," : "", v);
                }
            int targc;
            char **targ = ib_probe_train_argv(g, &c[d[first].config], g->seeds[0], &targc);
            char dir[4400];
            snprintf(dir, sizeof dir, "%s/s%03d", vdir, s);
            char **a = ib_xcalloc((size_t)targc + 32, sizeof *a);
            int na = 0;
            a[na++] = self, a[na++] = "sweep", a[na++] = "--preset", a[na++] = "quick", a[na++] = "--repeats", a[na++] = "1";
            a[na++] = "--steps", a[na++] = budget, a[na++] = "--seed", a[na++] = seed, a[na++] = "--stddevs", a[na++] = stddevs.p;
            a[na++] = "--jobs", a[na++] = jobs, a[na++] = "--executor", a[na++] = (char *)executor, a[na++] = "--out", a[na++] = dir;
            for (int i = 0; i < targc; i += 2)
                if (strcmp(targ[i], "--stddev") && strcmp(targ[i], "--seed")) a[na++] = targ[i], a[na++] = targ[i + 1];
            char log[4500];
            snprintf(log, sizeof log, "%s.log", dir);
            if (!quiet)
                fprintf(stderr, "== validate: sweep %d of %d (%s, %s): stddevs %s; log %s\n", s + 1, n_sweeps, targ[1],
                        g->optimizers[c[d[first].config].opt], stddevs.p, log);
            const int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
            pids[s] = fd < 0 ? ib_fail(err, IB_EXIT_USAGE, "%s: cannot write", log) : ib_proc_start(a, fd, err);
            if (fd >= 0) close(fd);
            if (pids[s] < 0) rc = err->code;
            else running++;
            free(a);
            ib_argv_free(targ, targc);
            ib_strbuf_free(&stddevs);
            continue;
        }
        int st, sig;
        pid_t pid = ib_proc_wait_any(&st, &sig);
        if (pid < 0) continue; /* EINTR */
        for (int s = 0; s < n_sweeps; s++)
            if (pids[s] == pid) {
                running--;
                if (sig || st == IB_EXIT_USAGE)
                    rc = ib_fail(err, sig ? 1 : IB_EXIT_USAGE, "--validate: the sweep %s/s%03d failed (%s %d; its log "
                                 "says why)", vdir, s, sig ? "signal" : "exit", sig ? sig : st);
            }
    }
    while (running > 0) { /* after a failure: the others end on their own (a killed sweep resumes) */
        int st, sig;
        if (ib_proc_wait_any(&st, &sig) > 0) running--;
    }
    free(pids);
    /* each drawn configuration's run: the manifest's task of its stddev (sweep.json's numbers are
     * printed by cJSON, which may drop the last bit: compared to 1e-12, not exactly) */
    for (int s = 0; s < n_sweeps && !rc; s++) {
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/s%03d", vdir, s);
        char manifest[4500];
        snprintf(manifest, sizeof manifest, "%s/sweep.json", dir);
        if (!ib_path_exists(manifest)) {
            rc = ib_fail(err, IB_EXIT_INTERNAL, "--validate: the sweep %s did not start (%s.log says why)", dir, dir);
            break;
        }
        ib_manifest man;
        if ((rc = ib_manifest_read(dir, &man, err))) break;
        for (int i = 0; i < m; i++) {
            if (d[i].sweep != s) continue;
            for (int t = 0; t < man.n; t++)
                if (fabs(man.tasks[t].stddev - c[d[i].config].stddev) <= 1e-12 * c[d[i].config].stddev) {
                    snprintf(d[i].run_dir, sizeof d[i].run_dir, "%s/%s", dir, man.tasks[t].dir);
                    ib_run_record rec;
                    ib_err e2;
                    if (!ib_run_record_read(d[i].run_dir, &rec, &e2)) {
                        d[i].state = rec.state;
                        d[i].accuracy = rec.final_accuracy;
                    }
                    ib_run_record_free(&rec);
                }
        }
        ib_manifest_free(&man);
    }
    if (rc) goto done;
    /* outcomes, misses, the confusion matrix */
    static const char *const outcomes[] = {"trained", "partial", "stuck", "diverged", "not_run"};
    int matrix[3][5] = {{0}};
    ib_strbuf csv = {0}, md = {0};
    ib_strbuf_append(&csv, "config,forecast,outcome,miss,final_test_accuracy,run_dir,reason\n");
    int misses = 0;
    for (int i = 0; i < m; i++) {
        drawn *x = &d[i];
        x->outcome = outcome_of(x->state, x->accuracy, trained_above);
        int o = 0;
        while (strcmp(outcomes[o], x->outcome)) o++;
        matrix[x->forecast][o]++;
        pending += o == 4;
        x->miss = (x->forecast == IB_FORECAST_TRAINS && o >= 1 && o <= 3) ||
                  (x->forecast == IB_FORECAST_WILL_NOT_TRAIN && o <= 1);
        misses += x->miss;
        ib_strbuf_appendf(&csv, "%d,%s,%s,%d,", x->config, ib_forecast_names[x->forecast], x->outcome, x->miss);
        if (isnan(x->accuracy)) ib_strbuf_append(&csv, "nan");
        else ib_strbuf_appendf(&csv, "%.4f", x->accuracy);
        ib_strbuf_appendf(&csv, ",%s,\"", x->run_dir + strlen(out) + 1);
        for (const char *p = x->reason; *p; p++) ib_strbuf_append_n(&csv, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
        ib_strbuf_append(&csv, "\"\n");
    }
    ib_strbuf_appendf(&md, "# Forecast against training (%d configurations, %lld steps each, draw %lld, rule version %d)\n\n",
                      m, g->budget, g->validate_seed, IB_FC_RULE_VERSION);
    ib_strbuf_appendf(&md, "Outcome: trained = final test accuracy >= %.2f; stuck = below 0.2 (chance is 0.1); "
                      "partial = in between; diverged = non-finite loss. A miss: forecast trains but the run did not "
                      "train, or forecast will_not_train but it learned (trained or partial); at_risk is a warning, "
                      "never a miss.\n\n| forecast \\ outcome |", trained_above);
    for (int o = 0; o < 5; o++) ib_strbuf_appendf(&md, " %s |", outcomes[o]);
    ib_strbuf_append(&md, "\n|---|---|---|---|---|---|\n");
    for (int f = 0; f < 3; f++) {
        ib_strbuf_appendf(&md, "| %s |", ib_forecast_names[f]);
        for (int o = 0; o < 5; o++) ib_strbuf_appendf(&md, " %d |", matrix[f][o]);
        ib_strbuf_append(&md, "\n");
    }
    ib_strbuf_appendf(&md, "\n%d miss%s:\n\n", misses, misses == 1 ? "" : "es");
    for (int i = 0; i < m; i++) {
        const drawn *x = &d[i];
        const ib_probe_config *q = &c[x->config];
        if (!x->miss) continue;
        char depth[32] = "the net as given";
        if (q->depth) snprintf(depth, sizeof depth, "depth %d", q->depth);
        ib_strbuf_appendf(&md, "- config %d (%s, %s, %s, stddev %.3g, %s): forecast %s, outcome %s (accuracy %.4f). "
                          "Evidence: %s\n", x->config, depth, (int)q->act >= 0 ? (const char *[]){"relu", "tanh", "sigmoid"}[q->act] : "activations as given",
                          g->inits[q->init], q->stddev, g->optimizers[q->opt], ib_forecast_names[x->forecast], x->outcome,
                          x->accuracy, x->reason[0] ? x->reason : "none (nothing in the first step looked wrong)");
    }
    if (pending) ib_strbuf_appendf(&md, "\n%d run%s not finished (another executor): rerun the same command when they "
                                   "are.\n", pending, pending == 1 ? "" : "s");
    char path[4400];
    snprintf(path, sizeof path, "%s/validation.csv", vdir);
    rc = ib_write_file_atomic(path, csv.p, csv.len, err);
    snprintf(path, sizeof path, "%s/summary.md", vdir);
    if (!rc) rc = ib_write_file_atomic(path, md.p, md.len, err);
    if (!rc && !quiet) fputs(md.p, stdout);
    ib_strbuf_free(&csv);
    ib_strbuf_free(&md);
done:
    for (int s = 0; s < n_sweeps; s++) free(keys[s]);
    free(keys);
    free(d);
    free(reason);
    free(picked);
    free(fc);
    free(c);
    return rc;
}
