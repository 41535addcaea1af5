#include "stats.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *ROWS_HEADER =
    "step,layer,tensor,n,l2,rms,mean,std,min,max,frac_zero,frac_saturated,frac_nonfinite,update_ratio,"
    "sqrt_v_rms,frac_sqrt_v_below_eps\n";

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (w >= 0 && *buf && *len + (size_t)w < *cap) {
            *len += (size_t)w;
            return;
        }
        *cap = (*cap ? *cap * 2 : 1 << 16) + (size_t)(w > 0 ? w : 0);
        *buf = realloc(*buf, *cap);
        if (!*buf) abort();
    }
}

static void hist_header(char **buf, size_t *len, size_t *cap) {
    append(buf, len, cap, "step,layer,tensor,zeros,below_1e%d", IB_HIST_LO);
    for (int b = 0; b < IB_HIST_BINS; b++) append(buf, len, cap, ",1e%d", IB_HIST_LO + b);
    append(buf, len, cap, "\n");
}

/* Keep the lines of an existing file (after its header) whose step is below first_step. */
static void keep_earlier(const char *path, long long first_step, char **buf, size_t *len, size_t *cap) {
    uint8_t *data;
    size_t n;
    ib_err e;
    if (first_step <= 0 || ib_read_file(path, &data, &n, &e)) return;
    char *line = strchr((char *)data, '\n');
    while (line && *++line) {
        char *end = strchr(line, '\n');
        if (!end) break; /* an incomplete last line cannot happen (atomic writes), but never keep one */
        char *stop;
        long long step = strtoll(line, &stop, 10);
        if (stop != line && *stop == ',' && step < first_step)
            append(buf, len, cap, "%.*s\n", (int)(end - line), line);
        line = end;
    }
    free(data);
}

int ib_stats_open(ib_stats_recorder *r, const char *dir, ib_backend *be, long long first_step, ib_err *err) {
    memset(r, 0, sizeof *r);
    if (strlen(dir) >= sizeof r->dir - 16) return ib_fail(err, IB_EXIT_USAGE, "%s: path too long", dir);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->be = be;
    char path[4200];
    append(&r->rows, &r->rows_len, &r->rows_cap, "%s", ROWS_HEADER);
    snprintf(path, sizeof path, "%s/stats.csv", dir);
    keep_earlier(path, first_step, &r->rows, &r->rows_len, &r->rows_cap);
    hist_header(&r->hist, &r->hist_len, &r->hist_cap);
    snprintf(path, sizeof path, "%s/hist.csv", dir);
    keep_earlier(path, first_step, &r->hist, &r->hist_len, &r->hist_cap);
    return 0;
}

void ib_stats_close(ib_stats_recorder *r) {
    free(r->rows);
    free(r->hist);
    memset(r, 0, sizeof *r);
}

int ib_stats_flush(ib_stats_recorder *r, ib_err *err) {
    if (!r->dir[0]) return 0; /* an in-memory recorder (the probe reads r->rows itself) */
    double t0 = ib_now();
    char path[4200];
    snprintf(path, sizeof path, "%s/stats.csv", r->dir);
    int rc = ib_write_file_atomic(path, r->rows, r->rows_len, err);
    snprintf(path, sizeof path, "%s/hist.csv", r->dir);
    if (!rc) rc = ib_write_file_atomic(path, r->hist, r->hist_len, err);
    r->seconds += ib_now() - t0;
    r->recordings++;
    return rc;
}

static void row(ib_stats_recorder *r, const char *layer, const char *tensor, const ib_tensor_stats *s,
                const char *extra) {
    double n = s->n, total = s->n + s->nonfinite;
    double mean = n ? s->sum / n : NAN;
    double var = n ? fmax(0.0, s->sum_sq / n - mean * mean) : NAN;
    append(&r->rows, &r->rows_len, &r->rows_cap, "%lld,%s,%s,%.0f,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.6g,%.6g,%.6g,%s\n",
           r->step, layer, tensor, total, sqrt(s->sum_sq), n ? sqrt(s->sum_sq / n) : NAN, mean, sqrt(var),
           n ? s->min : NAN, n ? s->max : NAN, total ? s->zeros / total : NAN, total ? s->saturated / total : NAN,
           total ? s->nonfinite / total : NAN, extra);
}

ib_tensor_stats ib_stats_record(ib_stats_recorder *r, const char *layer, const char *tensor, const float *x,
                                size_t n, int saturation, int histogram) {
    double t0 = ib_now();
    ib_stats_request req = {.saturation = saturation, .histogram = histogram};
    ib_tensor_stats s;
    r->be->tensor_stats(r->be, x, n, &req, &s);
    row(r, layer, tensor, &s, ",,");
    if (histogram) {
        append(&r->hist, &r->hist_len, &r->hist_cap, "%lld,%s,%s", r->step, layer, tensor);
        for (int b = 0; b < IB_HIST_BINS + 2; b++) append(&r->hist, &r->hist_len, &r->hist_cap, ",%.0f", s.hist[b]);
        append(&r->hist, &r->hist_len, &r->hist_cap, "\n");
    }
    r->seconds += ib_now() - t0;
    return s;
}

void ib_stats_record_update(ib_stats_recorder *r, const char *layer, const char *tensor, const float *update,
                            const float *v, size_t n, double weight_l2, double v_below) {
    double t0 = ib_now();
    ib_stats_request req = {0};
    ib_tensor_stats s;
    r->be->tensor_stats(r->be, update, n, &req, &s);
    char extra[128];
    double ratio = weight_l2 > 0 ? sqrt(s.sum_sq) / weight_l2 : NAN;
    if (v) {
        ib_stats_request vreq = {.below = v_below};
        ib_tensor_stats vs;
        r->be->tensor_stats(r->be, v, n, &vreq, &vs);
        /* RMS of sqrt(v) = sqrt(mean(v)) */
        snprintf(extra, sizeof extra, "%.9g,%.9g,%.6g", ratio, vs.n ? sqrt(vs.sum / vs.n) : NAN,
                 vs.n ? vs.below / vs.n : NAN);
    } else {
        snprintf(extra, sizeof extra, "%.9g,,", ratio);
    }
    row(r, layer, tensor, &s, extra);
    r->seconds += ib_now() - t0;
}
