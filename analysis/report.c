/* The report: tables, gnuplot figures, verdicts and the answer section (see report.h and
 * docs/REPORT.md for the criteria). */
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
#include "cli.h"


extern char **environ;

/* ---- verdict criteria (docs/REPORT.md) ---- */
#define VANISH_GRAD_RATIO 1e-2   /* first/last weight-gradient L2 at step 0 below this: vanishing */
#define EXPLODE_GRAD_RATIO 1e2   /* ... above this: exploding */
#define ACT_COLLAPSE_RATIO 1e-2  /* last hidden / first activation std below this: vanishing */
#define ACT_BLOWUP_RATIO 1e2     /* ... above this: exploding */
#define LOGIT_EXPLODE 1e3        /* max |logit| at step 0 above this: exploding (softmax saturated) */
#define EPS_BINDS_FRAC 0.1       /* frac_sqrt_v_below_eps above this: epsilon stops the normalisation */

/* ---- a growing string ---- */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_grow(sbuf *b, size_t need) {
    if (b->len + need + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + need + 1) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) abort();
    b->cap = cap;
}
static void sb_put(sbuf *b, const char *s, size_t n) {
    sb_grow(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
static void sb_esc(sbuf *b, const char *s) { /* HTML text */
    for (; *s; s++) switch (*s) {
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '&': sb_puts(b, "&amp;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        default: sb_put(b, s, 1);
        }
}
static void sb_csv(sbuf *b, const char *s) { /* a CSV field, quoted when needed */
    if (!strpbrk(s, ",\"\n")) {
        sb_puts(b, s);
        return;
    }
    sb_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"') sb_puts(b, "\"");
        sb_put(b, s, 1);
    }
    sb_puts(b, "\"");
}
static void sb_free(sbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* numbers for people: 3 significant digits, "n/a" for NAN; from a ring of buffers, so that one
 * printf may take many of them */
static const char *G(double v) {
    static char ring[64][32];
    static int next;
    char *buf = ring[next++ & 63];
    if (isnan(v)) return strcpy(buf, "n/a");
    ib_snprintf(buf, 32, "%.3g", v);
    return buf;
}
/* numbers for tables: full precision, empty for NAN */
static void sb_num(sbuf *b, double v) {
    if (isnan(v)) return;
    sb_printf(b, "%.9g", v);
}

static int write_sb(const char *dir, const char *name, const sbuf *b, ib_err *err) {
    char path[4600];
    ib_snprintf(path, sizeof path, "%s/%s", dir, name);
    return ib_write_file_atomic(path, b->p ? b->p : "", b->len, err);
}

/* ---- per-sweep derived numbers ---- */

typedef enum { V_HEALTHY, V_VANISHING, V_EXPLODING, V_UNKNOWN } verdict_kind;
static const char *const verdict_names[] = {"healthy", "vanishing", "exploding", "unknown"};

typedef struct verdict {
    verdict_kind kind;
    double grad_ratio;  /* first / last weight-gradient L2, step 0 */
    double per_layer;   /* grad_ratio^(1/(L-1)) */
    double act_ratio;   /* last hidden / first activation std, step 0 */
    double logit_max;   /* max |preact| of the last layer, step 0 */
    double nonfinite;   /* max frac_nonfinite at step 0 */
    char why[512];
} verdict;

static int step0_index(const ib_group *g) { return g->n_sstep > 0 && g->sstep[0] == 0 ? 0 : -1; }

static verdict make_verdict(const ib_sweep_agg *s, const ib_group *g) {
    verdict v = {V_UNKNOWN, NAN, NAN, NAN, NAN, NAN, ""};
    const int L = s->n_layers, k = step0_index(g);
    if (k < 0 || L < 2) {
        ib_snprintf(v.why, sizeof v.why, "no step-0 statistics (stats.csv) in any run of this stddev");
        return v;
    }
    v.grad_ratio = ib_group_stat(s, g, k, 0, IB_F_WG_L2) / ib_group_stat(s, g, k, L - 1, IB_F_WG_L2);
    v.per_layer = pow(v.grad_ratio, 1.0 / (L - 1));
    int last_hidden = L >= 3 ? L - 2 : L - 1;
    v.act_ratio = ib_group_stat(s, g, k, last_hidden, IB_F_ACT_STD) / ib_group_stat(s, g, k, 0, IB_F_ACT_STD);
    v.logit_max = ib_group_stat(s, g, k, L - 1, IB_F_PRE_MAXABS);
    v.nonfinite = 0;
    for (int l = 0; l < L; l++) {
        double nf = ib_group_stat(s, g, k, l, IB_F_NONFINITE);
        if (nf > v.nonfinite) v.nonfinite = nf;
    }
    if (v.nonfinite > 0 || v.grad_ratio > EXPLODE_GRAD_RATIO || v.act_ratio > ACT_BLOWUP_RATIO ||
        v.logit_max > LOGIT_EXPLODE) {
        v.kind = V_EXPLODING;
        ib_snprintf(v.why, sizeof v.why, "%s%s%s%s",
                 v.nonfinite > 0 ? "non-finite values; " : "",
                 v.grad_ratio > EXPLODE_GRAD_RATIO ? "first/last gradient ratio > 1e2; " : "",
                 v.act_ratio > ACT_BLOWUP_RATIO ? "activation std grows > 1e2 across layers; " : "",
                 v.logit_max > LOGIT_EXPLODE ? "max |logit| > 1e3 (softmax saturated); " : "");
    } else if (v.grad_ratio < VANISH_GRAD_RATIO || v.act_ratio < ACT_COLLAPSE_RATIO) {
        v.kind = V_VANISHING;
        ib_snprintf(v.why, sizeof v.why, "%s%s",
                 v.grad_ratio < VANISH_GRAD_RATIO ? "first/last gradient ratio < 1e-2; " : "",
                 v.act_ratio < ACT_COLLAPSE_RATIO ? "activation std collapses < 1e-2 across layers; " : "");
    } else {
        v.kind = V_HEALTHY;
        ib_snprintf(v.why, sizeof v.why, "gradient ratio %s, activation ratio %s within [1e-2, 1e2], max |logit| %s <= 1e3; ",
                 G(v.grad_ratio), G(v.act_ratio), G(v.logit_max));
    }
    size_t n = strlen(v.why);
    if (n >= 2) v.why[n - 2] = 0;
    return v;
}

static int is_adaptive(const char *opt) { return !strncmp(opt, "adam", 4) || !strcmp(opt, "rmsprop"); }
static int is_sgd(const char *opt) { return !strcmp(opt, "sgd"); }

/* small-w prediction of the step-0 weight-gradient exponent of layer l (0-based) of L: the
 * gradient is (input activation) x (backpropagated signal); the signal carries one weight factor
 * per layer above (L-1-l); the input is the raw image for l = 0 and, with bias = w, a
 * bias-dominated activation ~ w above it; with zero bias the activations carry w^l. */
static double predicted_exponent(int l, int L, int bias_is_w) {
    if (bias_is_w) return (l > 0 ? 1 : 0) + (L - 1 - l);
    return L - 1;
}

static int sweep_bias_is_w(const ib_sweep_agg *s) {
    for (int i = 0; i < s->n_runs; i++)
        if (!isnan(s->runs[i].bias_init))
            return fabs(s->runs[i].bias_init - s->runs[i].stddev) <= 1e-9 * fabs(s->runs[i].stddev) + 1e-30;
    return 1;
}

/* a run of the group to cite: the first complete one with statistics, else any with statistics */
static const ib_run *cite_run(const ib_sweep_agg *s, const ib_group *g) {
    const ib_run *any = NULL;
    for (int i = 0; i < g->n_runs; i++) {
        const ib_run *r = &s->runs[g->runs[i]];
        if (r->n_sstep > 0 && r->sstep[0] == 0) {
            if (r->status == IB_RUN_COMPLETE) return r;
            if (!any) any = r;
        }
    }
    return any;
}

/* ---- tables ---- */

static void csv_sweep_cols(sbuf *b, const ib_sweep_agg *s) {
    sb_csv(b, s->label);
    sb_puts(b, ",");
    sb_csv(b, s->dir);
}

static int write_tables(ib_sweep_agg *S, int n, const char *out, ib_err *err) {
    sbuf runs = {0}, fin = {0}, reach = {0}, curves = {0}, flow = {0}, verd = {0};
    sb_puts(&runs, "sweep,sweep_dir,stddev,repeat,seed,dir,status,final_step,final_accuracy,stuck,steps_to_0.90,"
                   "steps_to_0.97,steps_to_0.99,diverged_step,reason\n");
    sb_puts(&fin, "sweep,sweep_dir,stddev,runs,complete,diverged,failed,interrupted,running,missing,stuck,"
                  "n_final,final_mean,final_std,final_min,final_max\n");
    sb_puts(&reach, "sweep,sweep_dir,stddev,threshold,n_complete,n_reached,steps_mean,steps_min,steps_max\n");
    sb_puts(&curves, "sweep,sweep_dir,stddev,step,n,test_accuracy_mean,test_accuracy_std\n");
    sb_puts(&flow, "sweep,sweep_dir,stddev,step,runs,layer");
    for (int f = 0; f < IB_NFIELDS; f++) sb_printf(&flow, ",%s", ib_stat_field_names[f]);
    sb_puts(&flow, "\n");
    sb_puts(&verd, "sweep,sweep_dir,stddev,verdict,grad_ratio_first_last,grad_factor_per_layer,"
                   "act_std_ratio_last_hidden_first,max_abs_logit,frac_nonfinite,criteria\n");
    for (int si = 0; si < n; si++) {
        ib_sweep_agg *s = &S[si];
        for (int i = 0; i < s->n_runs; i++) {
            const ib_run *r = &s->runs[i];
            csv_sweep_cols(&runs, s);
            sb_printf(&runs, ",%.9g,%d,%s,", r->stddev, r->repeat, r->seed);
            sb_csv(&runs, r->rel);
            sb_printf(&runs, ",%s,", ib_run_status_names[r->status]);
            if (r->final_step >= 0) sb_printf(&runs, "%lld", r->final_step);
            sb_puts(&runs, ",");
            sb_num(&runs, r->final_acc);
            sb_printf(&runs, ",%d", r->stuck);
            for (int t = 0; t < IB_AGG_NTHR; t++) {
                sb_puts(&runs, ",");
                if (r->reach[t] >= 0) sb_printf(&runs, "%lld", r->reach[t]);
            }
            sb_puts(&runs, ",");
            if (r->diverged_step >= 0) sb_printf(&runs, "%lld", r->diverged_step);
            sb_puts(&runs, ",");
            sb_csv(&runs, r->reason);
            sb_puts(&runs, "\n");
        }
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            csv_sweep_cols(&fin, s);
            sb_printf(&fin, ",%.9g,%d", g->stddev, g->n_runs);
            for (int st = 0; st < IB_RUN_NSTATUS; st++) sb_printf(&fin, ",%d", g->count[st]);
            sb_printf(&fin, ",%d,%d,", g->n_stuck, g->n_final);
            sb_num(&fin, g->final_mean);
            sb_puts(&fin, ",");
            sb_num(&fin, g->final_std);
            sb_puts(&fin, ",");
            sb_num(&fin, g->final_min);
            sb_puts(&fin, ",");
            sb_num(&fin, g->final_max);
            sb_puts(&fin, "\n");
            for (int t = 0; t < IB_AGG_NTHR; t++) {
                csv_sweep_cols(&reach, s);
                sb_printf(&reach, ",%.9g,%.2f,%d,%d,", g->stddev, s->thresholds[t], g->n_final, g->n_reach[t]);
                sb_num(&reach, g->reach_mean[t]);
                sb_puts(&reach, ",");
                sb_num(&reach, g->reach_min[t]);
                sb_puts(&reach, ",");
                sb_num(&reach, g->reach_max[t]);
                sb_puts(&reach, "\n");
            }
            for (int q = 0; q < g->n_points; q++) {
                csv_sweep_cols(&curves, s);
                sb_printf(&curves, ",%.9g,%lld,%d,", g->stddev, g->step[q], g->n[q]);
                sb_num(&curves, g->mean[q]);
                sb_puts(&curves, ",");
                sb_num(&curves, g->std[q]);
                sb_puts(&curves, "\n");
            }
            for (int k = 0; k < g->n_sstep; k++)
                for (int l = 0; l < s->n_layers; l++) {
                    csv_sweep_cols(&flow, s);
                    sb_printf(&flow, ",%.9g,%lld,%d,%s", g->stddev, g->sstep[k], g->stats_n[k], s->layer[l]);
                    for (int f = 0; f < IB_NFIELDS; f++) {
                        sb_puts(&flow, ",");
                        sb_num(&flow, ib_group_stat(s, g, k, l, f));
                    }
                    sb_puts(&flow, "\n");
                }
            verdict v = make_verdict(s, g);
            csv_sweep_cols(&verd, s);
            sb_printf(&verd, ",%.9g,%s,", g->stddev, verdict_names[v.kind]);
            sb_num(&verd, v.grad_ratio);
            sb_puts(&verd, ",");
            sb_num(&verd, v.per_layer);
            sb_puts(&verd, ",");
            sb_num(&verd, v.act_ratio);
            sb_puts(&verd, ",");
            sb_num(&verd, v.logit_max);
            sb_puts(&verd, ",");
            sb_num(&verd, v.nonfinite);
            sb_puts(&verd, ",");
            sb_csv(&verd, v.why);
            sb_puts(&verd, "\n");
        }
    }
    int rc = write_sb(out, "runs.csv", &runs, err) || write_sb(out, "final_accuracy.csv", &fin, err) ||
             write_sb(out, "steps_to_threshold.csv", &reach, err) || write_sb(out, "curves_mean.csv", &curves, err) ||
             write_sb(out, "gradient_flow.csv", &flow, err) || write_sb(out, "verdicts.csv", &verd, err);
    sb_free(&runs);
    sb_free(&fin);
    sb_free(&reach);
    sb_free(&curves);
    sb_free(&flow);
    sb_free(&verd);
    return rc ? err->code : 0;
}

/* ---- gnuplot ---- */

typedef struct plotter {
    const char *gnuplot, *tmp, *out, *format; /* format: NULL or "png"/"pdf" */
    int available;
    int n_plots, n_failed, seq;
    char missing_why[256];
} plotter;

#define NCOLOURS 10

static int run_gnuplot(const plotter *P, const char *script, const char *log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {(char *)P->gnuplot, (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, P->gnuplot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Rewrite ids so several inline SVGs on one page never share one: id='x' -> id='pN_x' and the
 * references url(#x), href='#x' alike. Drops everything before <svg. */
static void svg_inline(sbuf *html, const char *svg, int n) {
    const char *p = strstr(svg, "<svg");
    if (!p) return;
    char pre[32];
    ib_snprintf(pre, sizeof pre, "p%d_", n);
    static const char *const pats[] = {"id='", "id=\"", "url(#", "href='#", "href=\"#"};
    while (*p) {
        int hit = -1;
        for (int i = 0; i < 5; i++)
            if (!strncmp(p, pats[i], strlen(pats[i]))) hit = i;
        if (hit >= 0) {
            sb_puts(html, pats[hit]);
            sb_puts(html, pre);
            p += strlen(pats[hit]);
        } else {
            sb_put(html, p, 1);
            p++;
        }
    }
}

static const char *TERM_COMMON =
    "set encoding utf8\n"
    "set termoption enhanced\n"
    "set linetype 1 lc rgb '#1f77b4' lw 2 pt 7 ps 0.6\n"
    "set linetype 2 lc rgb '#ff7f0e' lw 2 pt 7 ps 0.6\n"
    "set linetype 3 lc rgb '#2ca02c' lw 2 pt 7 ps 0.6\n"
    "set linetype 4 lc rgb '#d62728' lw 2 pt 7 ps 0.6\n"
    "set linetype 5 lc rgb '#9467bd' lw 2 pt 7 ps 0.6\n"
    "set linetype 6 lc rgb '#8c564b' lw 2 pt 7 ps 0.6\n"
    "set linetype 7 lc rgb '#e377c2' lw 2 pt 7 ps 0.6\n"
    "set linetype 8 lc rgb '#7f7f7f' lw 2 pt 7 ps 0.6\n"
    "set linetype 9 lc rgb '#bcbd22' lw 2 pt 7 ps 0.6\n"
    "set linetype 10 lc rgb '#17becf' lw 2 pt 7 ps 0.6\n"
    "set linetype cycle 10\n"
    "set grid lc rgb '#dddddd'\n"
    "set border lc rgb '#444444'\n"
    "set key noautotitle\n";

/* One figure: data (blocks separated by two blank lines, read as DAT) and the gnuplot body.
 * Appends the inline SVG (or a note saying why there is none) to html; with a paper format also
 * writes OUT/figures/NAME.FORMAT. */
static void figure(plotter *P, sbuf *html, const char *name, const char *caption, int w, int h, const sbuf *data,
                   const char *body) {
    P->n_plots++;
    sb_puts(html, "<figure>");
    if (!P->available) {
        sb_printf(html, "<p class=note>(no plot: %s)</p>", P->missing_why);
        goto caption;
    }
    char dat[4600], script[4600], svg[4600], log[4600];
    ib_snprintf(dat, sizeof dat, "%s/%s.dat", P->tmp, name);
    ib_snprintf(svg, sizeof svg, "%s/%s.svg", P->tmp, name);
    ib_snprintf(log, sizeof log, "%s/%s.log", P->tmp, name);
    ib_snprintf(script, sizeof script, "%s/%s.gp", P->tmp, name);
    ib_err e;
    FILE *fp;
    if (ib_write_file_atomic(dat, data->p ? data->p : "", data->len, &e) || !(fp = fopen(script, "w"))) {
        sb_printf(html, "<p class=note>(no plot: cannot write %s)</p>", script);
        P->n_failed++;
        goto caption;
    }
    for (int pass = 0; pass < (P->format ? 2 : 1); pass++) {
        fprintf(fp, "reset\n");
        if (pass == 0)
            fprintf(fp, "set terminal svg size %d,%d dynamic enhanced font 'sans,11' background '#ffffff'\nset output '%s'\n",
                    w, h, svg);
        else if (!strcmp(P->format, "png"))
            fprintf(fp, "set terminal pngcairo size %d,%d enhanced font 'sans,10' background '#ffffff'\nset output '%s/%s.png'\n",
                    w * 2, h * 2, P->tmp, name);
        else
            fprintf(fp, "set terminal pdfcairo size %.2fin,%.2fin enhanced font 'sans,8'\nset output '%s/%s.pdf'\n",
                    w / 100.0, h / 100.0, P->tmp, name);
        fprintf(fp, "%sDAT = '%s'\n%s\nset output\n", TERM_COMMON, dat, body);
    }
    fclose(fp);
    int rc = run_gnuplot(P, script, log);
    uint8_t *text = NULL;
    size_t len;
    if (rc != 0 || ib_read_file(svg, &text, &len, &e)) {
        uint8_t *lt = NULL;
        size_t ll;
        sb_printf(html, "<p class=note>(plot %s failed: gnuplot exit %d", name, rc);
        if (ib_read_file(log, &lt, &ll, &e) == 0) {
            sb_puts(html, ": ");
            sb_esc(html, (char *)lt);
            free(lt);
        }
        sb_puts(html, ")</p>");
        P->n_failed++;
        free(text);
        goto caption;
    }
    svg_inline(html, (char *)text, P->seq++);
    free(text);
    if (P->format) {
        char from[4600], dir[4600], to[4700];
        ib_snprintf(from, sizeof from, "%s/%s.%s", P->tmp, name, P->format);
        ib_snprintf(dir, sizeof dir, "%s/figures", P->out);
        ib_snprintf(to, sizeof to, "%s/%s.%s", dir, name, P->format);
        if (ib_mkdir_p(dir, &e) == 0) rename(from, to);
    }
caption:
    sb_puts(html, "<figcaption>");
    sb_esc(html, caption);
    sb_puts(html, "</figcaption></figure>\n");
}

static void wlabel(char *buf, size_t n, double w) { ib_snprintf(buf, n, "w = %g", w); }

/* ---- figures of one sweep ---- */

static void fig_learning(plotter *P, sbuf *html, const ib_sweep_agg *s, int si) {
    sbuf d = {0}, body = {0};
    char name[64], lab[64];
    /* mean curves: one block per stddev that has any */
    int blocks = 0;
    sbuf plot_o = {0}, plot_f = {0};
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        int any = 0;
        for (int q = 0; q < g->n_points; q++)
            if (!isnan(g->mean[q])) {
                sb_printf(&d, "%lld %.9g %.9g\n", g->step[q], g->mean[q], g->std[q]);
                any = 1;
            }
        if (!any) continue;
        sb_puts(&d, "\n\n");
        wlabel(lab, sizeof lab, g->stddev);
        sb_printf(&plot_o, "%sDAT index %d using 1:2 with lines lt %d title '%s'", blocks ? ", " : "plot ", blocks,
                  gi % NCOLOURS + 1, lab);
        sb_printf(&plot_f, "%sDAT index %d using 1:($2-$3):($2+$3) with filledcurves lt %d fs transparent solid 0.18 noborder notitle, "
                  "DAT index %d using 1:2 with lines lt %d title '%s'",
                  blocks ? ", " : "plot ", blocks, gi % NCOLOURS + 1, blocks, gi % NCOLOURS + 1, lab);
        blocks++;
    }
    if (blocks) {
        ib_snprintf(name, sizeof name, "s%d_original", si);
        sb_printf(&body, "set xlabel 'step'\nset ylabel 'mean test accuracy'\nset yrange [0.9:1]\nset key bottom right\n%s\n",
                  plot_o.p);
        double best = -1;
        for (int gi = 0; gi < s->n_groups; gi++)
            for (int q = 0; q < s->groups[gi].n_points; q++)
                if (s->groups[gi].mean[q] > best) best = s->groups[gi].mean[q];
        char cap[400];
        ib_snprintf(cap, sizeof cap,
                  "The original figure: mean test accuracy over repeats per stddev, y from 0.9 to 1 (a curve below 0.9 "
                  "does not show here; see the full-range figure).%s",
                  best < 0.9 ? " No mean curve of this sweep reaches 0.9, so this figure is empty." : "");
        figure(P, html, name, cap, 760, 420, &d, body.p);
        body.len = 0;
        ib_snprintf(name, sizeof name, "s%d_curves_full", si);
        sb_printf(&body, "set xlabel 'step'\nset ylabel 'test accuracy'\nset yrange [0:1]\nset key bottom right\n%s\n",
                  plot_f.p);
        figure(P, html, name, "Full range: mean test accuracy with a band of +/- one std over repeats.", 760, 420, &d,
               body.p);
    } else {
        sb_puts(html, "<p class=note>No run of this sweep has a curve.csv yet: no learning curves.</p>\n");
    }
    /* per-repeat curves */
    d.len = 0;
    body.len = 0;
    plot_o.len = 0;
    blocks = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        int titled = 0;
        for (int i = 0; i < g->n_runs; i++) {
            const ib_run *r = &s->runs[g->runs[i]];
            int any = 0;
            for (int k = 0; k < r->n_curve; k++)
                if (!isnan(r->acc[k])) {
                    sb_printf(&d, "%lld %.9g\n", r->step[k], r->acc[k]);
                    any = 1;
                }
            if (!any) continue;
            sb_puts(&d, "\n\n");
            wlabel(lab, sizeof lab, g->stddev);
            sb_printf(&plot_o, "%sDAT index %d using 1:2 with lines lt %d lw 1.2 %s%s%s", blocks ? ", " : "plot ", blocks,
                      gi % NCOLOURS + 1, titled ? "notitle" : "title '", titled ? "" : lab, titled ? "" : "'");
            titled = 1;
            blocks++;
        }
    }
    if (blocks) {
        ib_snprintf(name, sizeof name, "s%d_per_repeat", si);
        sb_printf(&body, "set xlabel 'step'\nset ylabel 'test accuracy'\nset yrange [0:1]\nset key bottom right\n%s\n",
                  plot_o.p);
        figure(P, html, name,
               "Every run's test accuracy (one line per repeat, coloured by stddev): a seed that stays at chance "
               "shows as a flat line near 0.1, and is counted as stuck in the table above.", 760, 420, &d, body.p);
    }
    /* final accuracy per stddev */
    d.len = 0;
    body.len = 0;
    int pts = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (g->n_final == 0) continue;
        sb_printf(&d, "%.9g %.9g %.9g %.9g %.9g\n", g->stddev, g->final_mean, g->final_std, g->final_min, g->final_max);
        pts++;
    }
    if (pts) {
        ib_snprintf(name, sizeof name, "s%d_final", si);
        sb_printf(&body, "set logscale x\nset format x '10^{%%L}'\nset xlabel 'weight init stddev w'\n"
                         "set ylabel 'final test accuracy'\nset yrange [0:1.02]\nset offsets graph 0.05, graph 0.05, 0, 0\n"
                         "set key bottom left\n"
                         "plot DAT using 1:2:3 with yerrorlines lt 1 title 'mean +/- std (complete runs)', "
                         "DAT using 1:4 with points lt 4 pt 6 ps 1.2 title 'min over repeats'\n");
        figure(P, html, name, "Final test accuracy per stddev over the complete runs: mean with +/- one std, and the minimum.",
               760, 380, &d, body.p);
    }
    sb_free(&d);
    sb_free(&body);
    sb_free(&plot_o);
    sb_free(&plot_f);
}

static void layer_xtics(sbuf *b, const ib_sweep_agg *s, const char *axis) {
    sb_printf(b, "set %stics (", axis);
    for (int l = 0; l < s->n_layers; l++) sb_printf(b, "%s'%s' %d", l ? ", " : "", s->layer[l], l);
    sb_puts(b, ")\n");
}

/* One data block of (stddev, step-0 value of `field` in layer l) over the groups where it is
 * positive; *anchor, when given, gets the value at stddev w_anchor. Returns the point count. */
static int step0_vs_stddev(sbuf *d, const ib_sweep_agg *s, int l, int field, double w_anchor, double *anchor) {
    int points = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (step0_index(g) != 0) continue;
        double v = ib_group_stat(s, g, 0, l, field);
        if (!(v > 0)) continue;
        if (anchor && isnan(*anchor) && g->stddev == w_anchor) *anchor = v;
        sb_printf(d, "%.9g %.9g\n", g->stddev, v);
        points++;
    }
    return points;
}

/* End the data block just written and plot it as a line with points. */
static void add_series(sbuf *d, sbuf *pl, int *blocks, int colour, const char *title) {
    sb_puts(d, "\n\n");
    sb_printf(pl, "%sDAT index %d using 1:2 with linespoints lt %d title '%s'", *blocks ? ", " : "plot ", *blocks,
              colour % NCOLOURS + 1, title);
    (*blocks)++;
}

static void fig_flow(plotter *P, sbuf *html, const ib_sweep_agg *s, int si) {
    const int L = s->n_layers;
    sbuf d = {0}, body = {0}, pl = {0};
    char name[64], lab[64];
    if (L == 0) {
        sb_puts(html, "<p class=note>No run of this sweep has a stats.csv: no gradient-flow figures.</p>\n");
        return;
    }
    const int bias_w = sweep_bias_is_w(s);
    /* 1. step-0 weight-gradient L2 per layer vs stddev, with the small-w prediction */
    int blocks = 0;
    double w0 = NAN, wmax_pred = 0;
    for (int gi = 0; gi < s->n_groups; gi++)
        if (step0_index(&s->groups[gi]) == 0) {
            if (isnan(w0)) w0 = s->groups[gi].stddev;
            if (s->groups[gi].stddev <= 0.1) wmax_pred = s->groups[gi].stddev;
        }
    if (!isnan(w0) && wmax_pred <= w0) wmax_pred = w0 * 100;
    for (int l = 0; l < L; l++) {
        double anchor = NAN;
        if (!step0_vs_stddev(&d, s, l, IB_F_WG_L2, w0, &anchor)) continue;
        add_series(&d, &pl, &blocks, l, s->layer[l]);
        if (!isnan(anchor)) {
            double p = predicted_exponent(l, L, bias_w);
            for (int k = 0; k <= 20; k++) {
                double w = w0 * pow(wmax_pred / w0, k / 20.0);
                sb_printf(&d, "%.9g %.9g\n", w, anchor * pow(w / w0, p));
            }
            sb_puts(&d, "\n\n");
            sb_printf(&pl, ", DAT index %d using 1:2 with lines lt %d dt 2 lw 1.5 title '%s theory ~w^{%g}'", blocks,
                      l % NCOLOURS + 1, s->layer[l], p);
            blocks++;
        }
    }
    if (blocks) {
        ib_snprintf(name, sizeof name, "s%d_grad_step0", si);
        sb_printf(&body, "set logscale xy\nset format x '10^{%%L}'\nset format y '10^{%%L}'\nset xlabel 'weight init stddev w'\n"
                         "set ylabel 'step-0 weight-gradient L2'\nset key outside right\n%s\n", pl.p);
        char cap[512];
        ib_snprintf(cap, sizeof cap,
                 "Step-0 weight-gradient norm per layer against the stddev (mean over repeats), with the small-w "
                 "prediction of signal propagation drawn dashed, anchored at the smallest w (%s): layer l of L gets "
                 "one weight factor per layer above it, times its input (the image for the first layer, a %s activation above).",
                 bias_w ? "bias = w" : "bias != w", bias_w ? "bias-dominated ~w" : "~w^l");
        figure(P, html, name, cap, 820, 440, &d, body.p);
    }
    /* 2. heatmaps: layer x step of log10 weight-gradient L2, one per stddev, shared colour range */
    double lo = INFINITY, hi = -INFINITY;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        for (int k = 0; k < g->n_sstep; k++)
            for (int l = 0; l < L; l++) {
                double v = ib_group_stat(s, g, k, l, IB_F_WG_L2);
                if (v > 0 && isfinite(v)) {
                    lo = fmin(lo, log10(v));
                    hi = fmax(hi, log10(v));
                }
            }
    }
    if (lo <= hi) {
        if (hi - lo < 1e-6) hi = lo + 1;
        sb_puts(html, "<div class=grid>\n");
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            if (g->n_sstep == 0) continue;
            d.len = body.len = 0;
            for (int k = 0; k < g->n_sstep; k++) {
                for (int l = 0; l < L; l++) {
                    double v = ib_group_stat(s, g, k, l, IB_F_WG_L2);
                    sb_printf(&d, "%d %d %.6g\n", k, l, v > 0 && isfinite(v) ? log10(v) : lo);
                }
                sb_puts(&d, "\n");
            }
            ib_snprintf(name, sizeof name, "s%d_heat%d", si, gi);
            wlabel(lab, sizeof lab, g->stddev);
            sb_printf(&body, "set title '%s'\nset xlabel 'step'\nset cbrange [%.4g:%.4g]\nset cblabel 'log_{10} weight-grad L2'\n"
                             "set palette rgbformulae 33,13,10\nset xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\n",
                      lab, lo, hi, g->n_sstep - 1, L - 1);
            layer_xtics(&body, s, "y");
            sb_puts(&body, "set xtics (");
            int nt = g->n_sstep < 5 ? g->n_sstep : 5;
            for (int t = 0; t < nt; t++) {
                int k = nt > 1 ? (int)((long long)t * (g->n_sstep - 1) / (nt - 1)) : 0;
                sb_printf(&body, "%s'%lld' %d", t ? ", " : "", g->sstep[k], k);
            }
            sb_puts(&body, ")\nset grid noxtics noytics\nplot DAT using 1:2:3 with image pixels notitle\n");
            figure(P, html, name, "", 420, 260, &d, body.p);
        }
        sb_puts(html, "</div>\n<p class=caption>Per stddev: log10 of the weight-gradient L2 per layer (rows) over the "
                      "recorded steps (columns), mean over repeats; one colour scale for all panels.</p>\n");
    }
    /* 3. activation std per layer at step 0, one line per stddev */
    d.len = body.len = pl.len = 0;
    blocks = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        if (step0_index(g) != 0) continue;
        int any = 0;
        for (int l = 0; l < L; l++) {
            double v = ib_group_stat(s, g, 0, l, IB_F_ACT_STD);
            if (v > 0) {
                sb_printf(&d, "%d %.9g\n", l, v);
                any = 1;
            }
        }
        if (!any) continue;
        wlabel(lab, sizeof lab, g->stddev);
        add_series(&d, &pl, &blocks, gi, lab);
    }
    if (blocks) {
        ib_snprintf(name, sizeof name, "s%d_act_std", si);
        sb_printf(&body, "set logscale y\nset format y '10^{%%L}'\nset xlabel 'layer (its output after the nonlinearity)'\n"
                         "set ylabel 'activation std, step 0'\nset key outside right\nset xrange [-0.2:%d.2]\n",
                  L - 1);
        layer_xtics(&body, s, "x");
        sb_printf(&body, "%s\n", pl.p);
        figure(P, html, name, "Activation std per layer at step 0 (mean over repeats), one line per stddev.", 760, 400,
               &d, body.p);
    }
    /* 4. update-to-weight ratio per layer vs stddev at step 0, with lr / (0.8796 w) for adaptive optimisers */
    d.len = body.len = pl.len = 0;
    blocks = 0;
    for (int l = 0; l < L; l++) {
        if (!step0_vs_stddev(&d, s, l, IB_F_UPD_RATIO, NAN, NULL)) continue;
        add_series(&d, &pl, &blocks, l, s->layer[l]);
    }
    if (blocks && is_adaptive(s->optimizer) && s->lr > 0) {
        for (int gi = 0; gi < s->n_groups; gi++)
            sb_printf(&d, "%.9g %.9g\n", s->groups[gi].stddev, s->lr / (0.8796 * s->groups[gi].stddev));
        sb_puts(&d, "\n\n");
        sb_printf(&pl, ", DAT index %d using 1:2 with lines lc rgb '#000000' dt 2 lw 1.5 title 'lr / (0.88 w)'", blocks);
    }
    if (blocks) {
        ib_snprintf(name, sizeof name, "s%d_update_ratio", si);
        sb_printf(&body, "set logscale xy\nset format x '10^{%%L}'\nset format y '10^{%%L}'\nset xlabel 'weight init stddev w'\n"
                         "set ylabel '||update|| / ||weight||, first step'\nset key outside right\n%s\n", pl.p);
        figure(P, html, name,
               "Update-to-weight ratio per layer at the first step (mean over repeats). Dashed: lr / (0.88 w), what a "
               "fully normalised Adam step (RMS lr per coordinate) gives on weights of realised std 0.88 w.",
               820, 420, &d, body.p);
    }
    /* 5. fraction of parameters with sqrt(v) < eps over time, one panel per layer */
    if (!is_adaptive(s->optimizer)) {
        sb_printf(html, "<p class=note>Optimizer %s keeps no second moment: no sqrt(v) &lt; eps figure.</p>\n",
                  s->optimizer);
    } else {
        d.len = body.len = 0;
        int any_all = 0;
        int rows = (L + 1) / 2;
        sb_printf(&body, "set multiplot layout %d,%d\nset yrange [-0.02:1.02]\nset xlabel 'step'\n"
                         "set ylabel 'frac sqrt(v) < eps'\nset key top right\n",
                  rows, L > 1 ? 2 : 1);
        int blk = 0;
        for (int l = 0; l < L; l++) {
            sbuf p2 = {0};
            int nb = 0;
            for (int gi = 0; gi < s->n_groups; gi++) {
                const ib_group *g = &s->groups[gi];
                int any = 0;
                for (int k = 0; k < g->n_sstep; k++) {
                    double v = ib_group_stat(s, g, k, l, IB_F_BELOW_EPS);
                    if (!isnan(v)) {
                        sb_printf(&d, "%lld %.9g\n", g->sstep[k], v);
                        any = 1;
                    }
                }
                if (!any) continue;
                sb_puts(&d, "\n\n");
                wlabel(lab, sizeof lab, g->stddev);
                sb_printf(&p2, "%sDAT index %d using 1:2 with lines lt %d title '%s'", nb ? ", " : "plot ", blk++,
                          gi % NCOLOURS + 1, lab);
                nb++;
            }
            if (nb) {
                sb_printf(&body, "set title '%s'\n%s\n", s->layer[l], p2.p);
                any_all = 1;
            }
            sb_free(&p2);
        }
        sb_puts(&body, "unset multiplot\n");
        if (any_all) {
            ib_snprintf(name, sizeof name, "s%d_below_eps", si);
            figure(P, html, name,
                   "Fraction of each layer's weights whose Adam sqrt(v) is below epsilon, over time (mean over repeats): "
                   "there the step is about lr * m / eps, no longer normalised.", 900, 300 * rows, &d, body.p);
        }
    }
    sb_free(&d);
    sb_free(&body);
    sb_free(&pl);
}

/* ---- the answer: claims, each with the measurement behind it ---- */

typedef struct claim {
    char text[1400];
    char evidence[2000];
} claim;

typedef struct claims {
    int n, cap;
    claim *c;
} claims;

static claim *claim_new(claims *C) {
    if (C->n == C->cap) {
        C->cap = C->cap ? C->cap * 2 : 16;
        C->c = realloc(C->c, (size_t)C->cap * sizeof *C->c);
        if (!C->c) abort();
    }
    claim *c = &C->c[C->n++];
    c->text[0] = c->evidence[0] = 0;
    return c;
}

#define CAT(buf, ...) ib_snprintf((buf) + strlen(buf), sizeof(buf) - strlen(buf), __VA_ARGS__)

static const ib_group *first_step0(const ib_sweep_agg *s, int from_end) {
    for (int i = 0; i < s->n_groups; i++) {
        const ib_group *g = &s->groups[from_end ? s->n_groups - 1 - i : i];
        if (step0_index(g) == 0) return g;
    }
    return NULL;
}

/* "runs/0003-w0.001-r0 of SWEEP" */
static void cite(char *buf, size_t n, const ib_sweep_agg *s, const ib_run *r) {
    ib_snprintf(buf, n, "%s/%s", s->dir, r ? r->rel : "?");
}

static double run_stat0(const ib_sweep_agg *s, const ib_run *r, int l, int f) {
    return r && r->n_sstep > 0 && r->sstep[0] == 0 ? ib_run_stat(s, r, 0, l, f) : NAN;
}

static void answer(const ib_sweep_agg *S, int nS, int si, claims *C) {
    const ib_sweep_agg *s = &S[si];
    const int L = s->n_layers;
    char where[4400];
    const ib_group *lo = first_step0(s, 0), *hi = first_step0(s, 1);
    if (!lo || L < 2) {
        claim *k = claim_new(C);
        ib_snprintf(k->text, sizeof k->text,
                 "No gradient-flow answer for this sweep: no run has step-0 statistics (stats.csv) yet.");
        ib_snprintf(k->evidence, sizeof k->evidence, "%d runs listed in %s/sweep.json; rerun with --stats-every > 0.",
                 s->n_runs, s->dir);
        return;
    }
    const char *first = s->layer[0], *last = s->layer[L - 1];
    /* 1. how far gradients vanish or explode across layers */
    {
        claim *k = claim_new(C);
        verdict vl = make_verdict(s, lo), vh = make_verdict(s, hi);
        const ib_run *rl = cite_run(s, lo);
        cite(where, sizeof where, s, rl);
        ib_snprintf(k->text, sizeof k->text,
                 "At w = %g the first layer's (%s) step-0 weight gradient is %s times the last layer's (%s): a factor "
                 "%s per layer over %d layer steps (verdict: %s). At w = %g the ratio is %s (factor %s per layer; "
                 "verdict: %s).",
                 lo->stddev, first, G(vl.grad_ratio), last, G(vl.per_layer), L - 1, verdict_names[vl.kind],
                 hi->stddev, G(vh.grad_ratio), G(vh.per_layer), verdict_names[vh.kind]);
        ib_snprintf(k->evidence, sizeof k->evidence,
                 "stats.csv, step 0, weight_grad l2, mean over %d runs: %s %s, %s %s at w = %g; run %s: %s %s, %s %s. "
                 "Ratio per stddev:",
                 lo->stats_n[0], first, G(ib_group_stat(s, lo, 0, 0, IB_F_WG_L2)), last,
                 G(ib_group_stat(s, lo, 0, L - 1, IB_F_WG_L2)), lo->stddev, where, first,
                 G(run_stat0(s, rl, 0, IB_F_WG_L2)), last, G(run_stat0(s, rl, L - 1, IB_F_WG_L2)));
        for (int gi = 0; gi < s->n_groups; gi++) {
            verdict v = make_verdict(s, &s->groups[gi]);
            if (!isnan(v.grad_ratio)) CAT(k->evidence, " %g: %s;", s->groups[gi].stddev, G(v.grad_ratio));
        }
        CAT(k->evidence, " (verdicts.csv)");
        /* scaling over small w */
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int m = 0;
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            verdict v = make_verdict(s, g);
            if (g->stddev > 0.01 || !(v.grad_ratio > 0)) continue;
            double x = log10(g->stddev), y = log10(v.grad_ratio);
            sx += x, sy += y, sxx += x * x, sxy += x * y, m++;
        }
        claim *k2 = claim_new(C);
        double pred = predicted_exponent(0, L, sweep_bias_is_w(s)) - predicted_exponent(L - 1, L, sweep_bias_is_w(s));
        if (m >= 2 && m * sxx - sx * sx > 0) {
            double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
            ib_snprintf(k2->text, sizeof k2->text,
                     "Over w <= 0.01 the %s/%s ratio scales as w^%.2f; signal propagation predicts w^%g for this "
                     "%d-layer net with bias %s (theory.md: ratio ~ w^2 for the original).",
                     first, last, slope, pred, L, sweep_bias_is_w(s) ? "= w" : "!= w");
            ib_snprintf(k2->evidence, sizeof k2->evidence,
                     "least-squares slope of log10(ratio) on log10(w) over %d stddevs <= 0.01 (step-0 stats, "
                     "verdicts.csv column grad_ratio_first_last).", m);
        } else {
            ib_snprintf(k2->text, sizeof k2->text,
                     "The scaling of the %s/%s ratio with w (predicted w^%g) cannot be fitted here: fewer than two "
                     "stddevs <= 0.01 have step-0 statistics.", first, last, pred);
            ib_snprintf(k2->evidence, sizeof k2->evidence, "%d such stddevs in %s.", m, s->dir);
        }
    }
    /* 2. does training work anyway? */
    {
        claim *k = claim_new(C);
        int ok = 0, tot = 0, stuck = 0, nf = 0;
        char bad[512] = "";
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            if (g->n_final == 0) continue;
            tot++;
            stuck += g->n_stuck;
            nf += g->n_final;
            if (g->n_reach[0] == g->n_final) ok++;
            else CAT(bad, " w = %g (%d of %d reached 0.90, %d stuck);", g->stddev, g->n_reach[0], g->n_final, g->n_stuck);
        }
        if (tot == 0) {
            ib_snprintf(k->text, sizeof k->text, "No run of this sweep is complete yet: whether training works is not known.");
        } else if (ok == tot) {
            ib_snprintf(k->text, sizeof k->text,
                     "Training works anyway: at all %d stddevs every complete run (%d in all) reached 90%% test "
                     "accuracy, and none is stuck at chance.", tot, nf);
        } else {
            ib_snprintf(k->text, sizeof k->text,
                      "By the last step (%lld), %d of %d stddevs have every complete run above 90%% test accuracy; not "
                      "at%s %d run(s) stuck at chance (final accuracy < %g) in all.",
                      s->steps, ok, tot, bad, stuck, s->stuck_below);
        }
        ib_snprintf(k->evidence, sizeof k->evidence, "curve.csv, final test accuracy mean +/- std (min; steps to 0.90):");
        if (s->steps > 0 && s->steps < 10000)
            CAT(k->text, " (This sweep ran %lld steps; the original protocol runs 10000.)", s->steps);
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            if (g->n_final == 0) continue;
            CAT(k->evidence, " w = %g: %s +/- %s (%s; %s);", g->stddev, G(g->final_mean), G(g->final_std),
                G(g->final_min), G(g->reach_mean[0]));
        }
        CAT(k->evidence, " (final_accuracy.csv, steps_to_threshold.csv, runs.csv)");
    }
    /* 3. the optimiser's per-parameter normalisation */
    const ib_run *rl = cite_run(s, lo), *rh = cite_run(s, hi);
    if (is_adaptive(s->optimizer)) {
        /* normalised where epsilon does not bind at the first step; compare the step with the gradient */
        const ib_group *n_lo = NULL, *n_hi = NULL;
        char bound[600] = "";
        claim *k = claim_new(C);
        ib_snprintf(k->evidence, sizeof k->evidence, "stats.csv step 0, %s, mean over repeats (weight_grad rms; update "
                  "rms in units of lr = %g; frac_sqrt_v_below_eps):", first, s->lr);
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            if (step0_index(g) != 0) continue;
            double gr = ib_group_stat(s, g, 0, 0, IB_F_WG_RMS), u = ib_group_stat(s, g, 0, 0, IB_F_UPD_RMS) / s->lr,
                   be = ib_group_stat(s, g, 0, 0, IB_F_BELOW_EPS);
            CAT(k->evidence, " w = %g: %s, %s lr, %s;", g->stddev, G(gr), G(u), G(be));
            if (be < EPS_BINDS_FRAC) {
                if (!n_lo) n_lo = g;
                n_hi = g;
            } else {
                CAT(bound, "%s w = %g (%s lr, %s of sqrt(v) < eps)", bound[0] ? ";" : "", g->stddev, G(u), G(be));
            }
        }
        if (n_lo && n_hi != n_lo) {
            double gl = ib_group_stat(s, n_lo, 0, 0, IB_F_WG_RMS), gh = ib_group_stat(s, n_hi, 0, 0, IB_F_WG_RMS);
            ib_snprintf(k->text, sizeof k->text,
                      "Where epsilon does not bind, %s's per-parameter normalisation makes the step independent of the "
                      "gradient's scale: %s's step-0 weight-gradient RMS is %s times smaller at w = %g than at w = %g, "
                      "yet its first update RMS is %s lr and %s lr.",
                      s->optimizer, first, G(gh / gl), n_lo->stddev, n_hi->stddev,
                      G(ib_group_stat(s, n_lo, 0, 0, IB_F_UPD_RMS) / s->lr),
                      G(ib_group_stat(s, n_hi, 0, 0, IB_F_UPD_RMS) / s->lr));
        } else if (n_lo) {
            ib_snprintf(k->text, sizeof k->text, "At w = %g, where epsilon does not bind, %s's first update RMS is %s lr: "
                      "normalised.", n_lo->stddev, first, G(ib_group_stat(s, n_lo, 0, 0, IB_F_UPD_RMS) / s->lr));
        } else {
            ib_snprintf(k->text, sizeof k->text, "Epsilon binds for %s at every stddev with step-0 statistics: the "
                      "normalisation is not seen at the first step.", first);
        }
        if (bound[0])
            CAT(k->text, " Where epsilon binds (more than %g of the layer's sqrt(v) below eps = %g) the first step "
                "shrinks with the gradient:%s.", EPS_BINDS_FRAC, s->eps, bound);
        /* the smallest w later on: does the normalisation take over once the gradients grow? */
        if (lo->n_sstep > 1) {
            int kl = lo->n_sstep - 1;
            CAT(k->evidence, " Later, at w = %g, step %lld: %s update rms %s lr, frac_sqrt_v_below_eps %s.", lo->stddev,
                lo->sstep[kl], first, G(ib_group_stat(s, lo, kl, 0, IB_F_UPD_RMS) / s->lr),
                G(ib_group_stat(s, lo, kl, 0, IB_F_BELOW_EPS)));
        }
        cite(where, sizeof where, s, rl);
        CAT(k->evidence, " Run %s, step 0: weight_grad rms %s, update rms %s, frac_sqrt_v_below_eps %s.", where,
            G(run_stat0(s, rl, 0, IB_F_WG_RMS)), G(run_stat0(s, rl, 0, IB_F_UPD_RMS)),
            G(run_stat0(s, rl, 0, IB_F_BELOW_EPS)));
        /* relative update against lr / (0.88 w) */
        claim *k2 = claim_new(C);
        char match[500] = "", shortfall[500] = "";
        ib_snprintf(k2->evidence, sizeof k2->evidence, "stats.csv step 0, %s update update_ratio, mean over repeats "
                  "(measured vs lr / (0.8796 w)):", first);
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            if (step0_index(g) != 0) continue;
            double m = ib_group_stat(s, g, 0, 0, IB_F_UPD_RATIO), p = s->lr / (0.8796 * g->stddev);
            CAT(k2->evidence, " w = %g: %s vs %s;", g->stddev, G(m), G(p));
            if (m > p / 2 && m < p * 2) CAT(match, "%s %g", match[0] ? "," : "", g->stddev);
            else CAT(shortfall, "%s w = %g (%s vs %s)", shortfall[0] ? "," : "", g->stddev, G(m), G(p));
        }
        ib_snprintf(k2->text, sizeof k2->text,
                  "Relative to the weights, a normalised first step is lr / (0.88 w): about 1 for w = 1e-4, so small "
                  "weights are rewritten within a few steps and their init scale is soon forgotten, and 1e-4 for w = 1, "
                  "so large weights move slowly. Measured ratio within a factor 2 of it at w =%s%s%s.",
                  match[0] ? match : " none", shortfall[0] ? "; off by more at" : "", shortfall);
        cite(where, sizeof where, s, rh);
        CAT(k2->evidence, " run %s: %s (gradient_flow.csv).", where, G(run_stat0(s, rh, 0, IB_F_UPD_RATIO)));
        /* 4. where epsilon stops it: at the first step, and still at the last recorded step */
        claim *k3 = claim_new(C);
        char first_b[700] = "", last_b[700] = "";
        int any = 0;
        ib_snprintf(k3->evidence, sizeof k3->evidence, "stats.csv update rows, frac_sqrt_v_below_eps, mean over repeats, "
                  "largest over the layers (step 0 / last recorded step):");
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            if (g->n_sstep == 0) continue;
            int kl = g->n_sstep - 1;
            double f0 = -1, fl = -1;
            int l0 = 0, l1 = 0;
            for (int l = 0; l < L; l++) {
                double a0 = ib_group_stat(s, g, 0, l, IB_F_BELOW_EPS), a1 = ib_group_stat(s, g, kl, l, IB_F_BELOW_EPS);
                if (a0 > f0) f0 = a0, l0 = l;
                if (a1 > fl) fl = a1, l1 = l;
            }
            if (f0 < 0) continue;
            any = 1;
            CAT(k3->evidence, " w = %g: %s (%s) / %s (%s, step %lld);", g->stddev, G(f0), s->layer[l0], G(fl),
                s->layer[l1], g->sstep[kl]);
            if (f0 > EPS_BINDS_FRAC) CAT(first_b, "%s w = %g (%s of %s)", first_b[0] ? "," : "", g->stddev, G(f0), s->layer[l0]);
            if (kl > 0 && fl > EPS_BINDS_FRAC)
                CAT(last_b, "%s w = %g (%s of %s at step %lld; steps to 0.90: %s)", last_b[0] ? "," : "", g->stddev,
                    G(fl), s->layer[l1], g->sstep[kl], G(g->reach_mean[0]));
        }
        CAT(k3->evidence, " A coordinate whose gradient is exactly 0 (behind a dead ReLU) also counts.");
        if (!any) {
            ib_snprintf(k3->text, sizeof k3->text, "Where epsilon stops the normalisation cannot be told: no update rows "
                      "with frac_sqrt_v_below_eps were recorded.");
        } else if (!first_b[0] && !last_b[0]) {
            ib_snprintf(k3->text, sizeof k3->text, "Epsilon (%g) never binds in this sweep: no layer has more than %g of "
                      "its weights with sqrt(v) < eps, so Adam normalised essentially every coordinate at every stddev.",
                      s->eps, EPS_BINDS_FRAC);
        } else {
            ib_snprintf(k3->text, sizeof k3->text,
                      "Epsilon (%g) stops the normalisation where gradients are tiny: with sqrt(v) < eps the step is "
                      "lr*m/eps, SGD with learning rate lr/eps, shrinking with the gradient again. More than %g of a "
                      "layer's weights are there at the first step at%s; still at the last recorded step at%s.",
                      s->eps, EPS_BINDS_FRAC, first_b[0] ? first_b : " no stddev", last_b[0] ? last_b : " no stddev");
        }
    } else {
        claim *k = claim_new(C);
        double gl = ib_group_stat(s, lo, 0, 0, IB_F_WG_RMS), ul = ib_group_stat(s, lo, 0, 0, IB_F_UPD_RMS);
        ib_snprintf(k->text, sizeof k->text,
                 "Under %s the step is lr * g (no per-parameter normalisation): at w = %g %s's first update RMS is %s "
                 "= %s lr, the gradient's own scale, so a vanished gradient gives a vanished step.",
                 s->optimizer, lo->stddev, first, G(ul), G(ul / s->lr));
        cite(where, sizeof where, s, rl);
        ib_snprintf(k->evidence, sizeof k->evidence, "stats.csv step 0, %s: weight_grad rms %s, update rms %s (lr %g); run %s.",
                 first, G(gl), G(ul), s->lr, where);
    }
    /* 5. depth */
    {
        claim *k = claim_new(C);
        verdict vl = make_verdict(s, lo);
        ib_snprintf(k->text, sizeof k->text,
                 "Depth: this net has %d weight layers, so the per-layer factor compounds over %d layer steps: at w = %g a "
                 "factor of %s per layer gives %s end to end. The same factor over 10 layers would give %s "
                 "(extrapolated, not measured).",
                 L, L - 1, lo->stddev, G(vl.per_layer), G(vl.grad_ratio), G(pow(vl.per_layer, 9)));
        ib_snprintf(k->evidence, sizeof k->evidence, "step-0 ratio %s/%s from stats.csv (claim above); layers:", first, last);
        for (int l = 0; l < L; l++) CAT(k->evidence, " %s", s->layer[l]);
        int deeper = -1;
        for (int j = 0; j < nS; j++)
            if (j != si && S[j].n_layers > L) deeper = j;
        if (deeper >= 0) {
            const ib_sweep_agg *t = &S[deeper];
            const ib_group *tl = first_step0(t, 0);
            if (tl) {
                verdict tv = make_verdict(t, tl);
                CAT(k->evidence, ". Measured on the deeper sweep '%s' (%d weight layers): ratio %s (factor %s per layer, "
                    "verdict %s) at w = %g; final accuracy there %s.",
                    t->label, t->n_layers, G(tv.grad_ratio), G(tv.per_layer), verdict_names[tv.kind],
                    tl->stddev, G(tl->final_mean));
            }
        } else {
            CAT(k->evidence, ". No deeper-net sweep in this report: the effect of more depth is not measured here.");
        }
    }
    /* 6. ReLU and the bias init */
    {
        claim *k = claim_new(C);
        int relu = strstr(s->net, "relu") != NULL;
        double zmax = 0, sat = 0;
        for (int l = 0; l + 1 < L; l++) {
            double z = ib_group_stat(s, lo, 0, l, IB_F_ACT_ZERO), t = ib_group_stat(s, lo, 0, l, IB_F_ACT_SAT);
            if (z > zmax) zmax = z;
            if (t > sat) sat = t;
        }
        double am = ib_group_stat(s, lo, 0, 0, IB_F_ACT_MEAN), bm = ib_group_stat(s, lo, 0, 0, IB_F_B_MEAN);
        if (relu && sweep_bias_is_w(s)) {
            ib_snprintf(k->text, sizeof k->text,
                     "ReLU with bias = w keeps the units open at tiny w: at w = %g at most %s of any hidden layer's "
                     "outputs are zero at step 0, so every unit passes gradient with derivative 1 (a sigmoid passes at "
                     "most 0.25 per layer); the activations sit near the bias (%s's mean %s, bias %s).",
                     lo->stddev, G(zmax), first, G(am), G(bm));
        } else if (relu) {
            ib_snprintf(k->text, sizeof k->text,
                     "ReLU without bias = w: at w = %g up to %s of a hidden layer's outputs are zero at step 0 (dead "
                     "units pass no gradient).", lo->stddev, G(zmax));
        } else {
            ib_snprintf(k->text, sizeof k->text,
                     "This net has no ReLU (%s): at w = %g at most %s of any hidden layer's activations are saturated "
                     "and at most %s are exactly zero at step 0, so saturation does not explain the vanishing here; "
                     "the per-layer factor of claim 1 does.",
                     s->net_given, lo->stddev, G(sat), G(zmax));
        }
        cite(where, sizeof where, s, rl);
        ib_snprintf(k->evidence, sizeof k->evidence,
                 "stats.csv step 0 act frac_zero / frac_saturated (max over hidden layers), %s act mean, bias mean; "
                 "mean over repeats at w = %g; run %s: act frac_zero of %s %s.",
                 first, lo->stddev, where, first, G(run_stat0(s, rl, 0, IB_F_ACT_ZERO)));
    }
    /* 7. the contrast with plain SGD */
    if (is_adaptive(s->optimizer)) {
        claim *k = claim_new(C);
        int sgd = -1;
        for (int j = 0; j < nS; j++)
            if (j != si && is_sgd(S[j].optimizer) && S[j].n_layers == L) sgd = j;
        if (sgd < 0) {
            ib_snprintf(k->text, sizeof k->text,
                     "No SGD sweep (of a net this deep) in this report: that plain SGD would stall at small w, its step "
                     "being lr * g with %s's gradient RMS %s at w = %g, is predicted here, not measured.",
                     first, G(ib_group_stat(s, lo, 0, 0, IB_F_WG_RMS)), lo->stddev);
            ib_snprintf(k->evidence, sizeof k->evidence, "optimizers of the sweeps in this report:");
            for (int j = 0; j < nS; j++) CAT(k->evidence, " %s (%s);", S[j].optimizer, S[j].dir);
        } else {
            const ib_sweep_agg *t = &S[sgd];
            ib_snprintf(k->text, sizeof k->text, "Plain SGD on the same net (sweep '%s'), final accuracy per stddev beside %s's:",
                     t->label, s->optimizer);
            ib_snprintf(k->evidence, sizeof k->evidence, "final_accuracy.csv of both sweeps:");
            for (int gi = 0; gi < s->n_groups; gi++)
                for (int gj = 0; gj < t->n_groups; gj++)
                    if (t->groups[gj].stddev == s->groups[gi].stddev) {
                        CAT(k->text, " w = %g: SGD %s vs %s %s;", s->groups[gi].stddev, G(t->groups[gj].final_mean),
                            s->optimizer, G(s->groups[gi].final_mean));
                        CAT(k->evidence, " w = %g: %d and %d complete runs, %d and %d stuck;", s->groups[gi].stddev,
                            t->groups[gj].n_final, s->groups[gi].n_final, t->groups[gj].n_stuck, s->groups[gi].n_stuck);
                    }
        }
    }
}

/* ---- the page ---- */

static const char *CSS =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}"
    "h1{font-size:1.6em}h2{border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:2em}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .5em;"
    "text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}"
    "figure{margin:1em 0}figure svg{width:100%;height:auto;max-width:900px;display:block}"
    "figcaption,.caption{font-size:.85em;color:#555}.note{color:#a33}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:.5em}"
    ".grid figure{margin:0}.ev{color:#555;font-size:.88em}.v-vanishing{color:#a60}.v-exploding{color:#c00}"
    ".v-healthy{color:#080}code{background:#f4f4f4;padding:0 .2em}li{margin-bottom:.6em}";

static void html_run_tables(sbuf *h, sbuf *md, const ib_sweep_agg *s) {
    sb_puts(h, "<table><tr><th>stddev</th><th>runs</th><th>complete</th><th>diverged</th><th>failed</th>"
               "<th>interrupted</th><th>running</th><th>missing</th><th>stuck (&lt; ");
    sb_printf(h, "%g)</th><th>final acc mean</th><th>std</th><th>min</th><th>steps to 0.90</th><th>to 0.97</th>"
                 "<th>to 0.99</th></tr>\n", s->stuck_below);
    sb_printf(md, "| stddev | runs | complete | diverged | failed | interrupted | running | missing | stuck | final mean | "
                  "std | min | to 0.90 | to 0.97 | to 0.99 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        sb_printf(h, "<tr><td>%g</td><td>%d</td>", g->stddev, g->n_runs);
        sb_printf(md, "| %g | %d |", g->stddev, g->n_runs);
        for (int st = 0; st < IB_RUN_NSTATUS; st++) {
            sb_printf(h, "<td>%d</td>", g->count[st]);
            sb_printf(md, " %d |", g->count[st]);
        }
        sb_printf(h, "<td>%d</td><td>%s</td><td>%s</td><td>%s</td>", g->n_stuck, G(g->final_mean),
                  G(g->final_std), G(g->final_min));
        sb_printf(md, " %d | %s | %s | %s |", g->n_stuck, G(g->final_mean), G(g->final_std), G(g->final_min));
        for (int t = 0; t < IB_AGG_NTHR; t++) {
            sb_printf(h, "<td>%s (%d/%d)</td>", G(g->reach_mean[t]), g->n_reach[t], g->n_final);
            sb_printf(md, " %s (%d/%d) |", G(g->reach_mean[t]), g->n_reach[t], g->n_final);
        }
        sb_puts(h, "</tr>\n");
        sb_puts(md, "\n");
    }
    sb_puts(h, "</table>\n<p class=caption>Final accuracy over complete runs; steps to a threshold: mean over the "
               "complete runs that reached it (reached / complete). Every task of the manifest is counted in exactly "
               "one status column.</p>\n");
    int problems = 0;
    for (int i = 0; i < s->n_runs; i++) {
        const ib_run *r = &s->runs[i];
        if (r->status == IB_RUN_COMPLETE && !r->stuck) continue;
        if (!problems++) {
            sb_puts(h, "<table><tr><th class=l>run</th><th>stddev</th><th>repeat</th><th class=l>status</th>"
                       "<th>last step</th><th>last accuracy</th><th class=l>reason</th></tr>\n");
            sb_puts(md, "\nRuns not complete, or stuck at chance:\n\n");
        }
        const char *st = r->stuck ? "complete, stuck at chance" : ib_run_status_names[r->status];
        sb_puts(h, "<tr><td class=l>");
        sb_esc(h, r->rel);
        sb_printf(h, "</td><td>%g</td><td>%d</td><td class=l>%s</td><td>", r->stddev, r->repeat, st);
        if (r->final_step >= 0) sb_printf(h, "%lld", r->final_step);
        sb_printf(h, "</td><td>%s</td><td class=l>", G(r->final_acc));
        sb_esc(h, r->diverged_step >= 0 && !r->reason[0] ? "diverged" : r->reason);
        if (r->diverged_step >= 0) sb_printf(h, " (diverged at step %lld)", r->diverged_step);
        sb_puts(h, "</td></tr>\n");
        sb_printf(md, "- %s (w = %g, repeat %d): %s, last accuracy %s%s%s\n", r->rel, r->stddev, r->repeat, st,
                  G(r->final_acc), r->reason[0] ? ": " : "", r->reason);
    }
    if (problems) sb_puts(h, "</table>\n");
    else sb_puts(h, "<p>Every run is complete and none is stuck at chance.</p>\n");
}

static void html_verdicts(sbuf *h, sbuf *md, const ib_sweep_agg *s) {
    sb_puts(h, "<table><tr><th>stddev</th><th class=l>verdict</th><th>first/last grad L2</th><th>factor per layer</th>"
               "<th>act std last hidden/first</th><th>max |logit|</th><th class=l>criteria met</th></tr>\n");
    sb_puts(md, "| stddev | verdict | first/last grad L2 | per layer | act std ratio | max abs logit | criteria |\n"
                "|---|---|---|---|---|---|---|\n");
    for (int gi = 0; gi < s->n_groups; gi++) {
        verdict v = make_verdict(s, &s->groups[gi]);
        sb_printf(h, "<tr><td>%g</td><td class='l v-%s'><b>%s</b></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=l>",
                  s->groups[gi].stddev, verdict_names[v.kind], verdict_names[v.kind], G(v.grad_ratio),
                  G(v.per_layer), G(v.act_ratio), G(v.logit_max));
        sb_esc(h, v.why);
        sb_puts(h, "</td></tr>\n");
        sb_printf(md, "| %g | **%s** | %s | %s | %s | %s | %s |\n", s->groups[gi].stddev, verdict_names[v.kind],
                  G(v.grad_ratio), G(v.per_layer), G(v.act_ratio), G(v.logit_max), v.why);
    }
    sb_printf(h, "</table>\n<p class=caption>Criteria, all from step-0 statistics averaged over repeats "
                 "(stats.csv): <b>exploding</b> if any value is non-finite, or the first layer's weight-gradient L2 is "
                 "more than %g times the last layer's, or the std of the last hidden layer's activations is more than "
                 "%g times the first's, or max |logit| &gt; %g; <b>vanishing</b> if that gradient ratio is below %g or "
                 "that activation ratio below %g; <b>healthy</b> otherwise.</p>\n",
              EXPLODE_GRAD_RATIO, ACT_BLOWUP_RATIO, LOGIT_EXPLODE, VANISH_GRAD_RATIO, ACT_COLLAPSE_RATIO);
}

static void emit_claims(sbuf *h, sbuf *md, const claims *C) {
    sb_puts(h, "<ol class=answer>\n");
    for (int i = 0; i < C->n; i++) {
        sb_puts(h, "<li>");
        sb_esc(h, C->c[i].text);
        sb_puts(h, "<br><span class=ev>Measured: ");
        sb_esc(h, C->c[i].evidence);
        sb_puts(h, "</span></li>\n");
        sb_printf(md, "%d. %s\n   *Measured:* %s\n", i + 1, C->c[i].text, C->c[i].evidence);
    }
    sb_puts(h, "</ol>\n");
}

/* Trained: complete runs whose mean final accuracy is at least 0.5, none stuck at chance. */
static int group_trained(const ib_group *g) { return g->n_final > 0 && g->final_mean >= 0.5 && g->n_stuck == 0; }

/* "w = a, b (2 of 5 stddevs)" for the groups of s that pass `keep` (NULL: all); only stddevs
 * that `other` also has (when given) count. */
static void stddev_list(char *buf, size_t len, const ib_sweep_agg *s, const ib_sweep_agg *other,
                        int (*keep)(const ib_group *), int only_vanishing) {
    buf[0] = 0;
    int k = 0, of = 0;
    for (int gi = 0; gi < s->n_groups; gi++) {
        const ib_group *g = &s->groups[gi];
        int shared = !other;
        for (int q = 0; other && q < other->n_groups; q++) shared |= other->groups[q].stddev == g->stddev;
        if (!shared || (only_vanishing && make_verdict(s, g).kind != V_VANISHING)) continue;
        of++;
        if (keep && !keep(g)) continue;
        ib_snprintf(buf + strlen(buf), len - strlen(buf), "%s%g", k++ ? ", " : "w = ", g->stddev);
    }
    ib_snprintf(buf + strlen(buf), len - strlen(buf), "%s(%d of %d stddev%s)", k ? " " : "none ", k, of,
                of == 1 ? "" : "s");
}

/* The sweeps read against each other in a few sentences: same net with another optimiser, same
 * optimiser on another net. Every number comes from the tables below. */
static void in_short(sbuf *h, sbuf *md, const ib_sweep_agg *S, int n) {
    char para[4000] = "";
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            if (a == b) continue;
            const ib_sweep_agg *A = &S[a], *B = &S[b];
            char ta[400], tb[400], va[400], vb[400];
            if (!strcmp(A->net, B->net) && strcmp(A->optimizer, B->optimizer) && a < b) {
                stddev_list(ta, sizeof ta, A, B, group_trained, 0);
                stddev_list(tb, sizeof tb, B, A, group_trained, 0);
                stddev_list(va, sizeof va, A, B, group_trained, 1);
                stddev_list(vb, sizeof vb, B, A, group_trained, 1);
                CAT(para, "Same network (%s) and the same initialisations, two optimisers: %s trained at %s, %s at %s. "
                          "Where the step-0 gradients vanish, %s trained at %s and %s at %s: the gradients vanish "
                          "for both, so what differs is how each optimiser turns a vanished gradient into a step. ",
                    A->net_given, A->optimizer, ta, B->optimizer, tb, A->optimizer, va, B->optimizer, vb);
            }
            if (!strcmp(A->optimizer, B->optimizer) && strcmp(A->net, B->net) && A->n_layers < B->n_layers) {
                stddev_list(ta, sizeof ta, A, B, group_trained, 0);
                stddev_list(tb, sizeof tb, B, A, group_trained, 0);
                const ib_group *ga = first_step0(A, 0), *gb = first_step0(B, 0);
                CAT(para, "Same optimiser (%s), another network: %s (%d weight layers) trained at %s, %s (%d weight "
                          "layers) at %s. ",
                    A->optimizer, A->net_given, A->n_layers, ta, B->net_given, B->n_layers, tb);
                if (ga && gb && ga->stddev == gb->stddev && A->lr > 0 && B->lr > 0)
                    CAT(para, "At w = %g the step-0 first/last gradient ratio is %s in %s and %s in %s, and the first "
                              "layer's first update is %s lr and %s lr: where the gradient is that small, sqrt(v) is "
                              "below epsilon and the step shrinks with the gradient, so the normalisation no longer "
                              "rescues it. ",
                        ga->stddev, G(make_verdict(A, ga).grad_ratio), A->net_given, G(make_verdict(B, gb).grad_ratio),
                        B->net_given, G(ib_group_stat(A, ga, 0, 0, IB_F_UPD_RMS) / A->lr),
                        G(ib_group_stat(B, gb, 0, 0, IB_F_UPD_RMS) / B->lr));
            }
        }
    if (!para[0]) return;
    sb_puts(h, "<p><b>In short.</b> ");
    sb_esc(h, para);
    sb_puts(h, "(Trained: mean final accuracy at least 0.5 and no run stuck at chance; final_accuracy.csv, "
               "verdicts.csv.)</p>\n");
    sb_printf(md, "**In short.** %s(Trained: mean final accuracy at least 0.5 and no run stuck at chance; "
                  "final_accuracy.csv, verdicts.csv.)\n\n", para);
}

static void comparison(plotter *P, sbuf *h, sbuf *md, ib_sweep_agg *S, int n) {
    sb_puts(h, "<h2 id=comparison>Comparison of the sweeps</h2>\n");
    sb_puts(md, "\n## Comparison of the sweeps\n\n");
    in_short(h, md, S, n);
    sbuf d = {0}, body = {0}, pl = {0}, d2 = {0}, pl2 = {0};
    int nb = 0, nb2 = 0;
    for (int si = 0; si < n; si++) {
        const ib_sweep_agg *s = &S[si];
        int any = 0, any2 = 0;
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            if (g->n_final) {
                sb_printf(&d, "%.9g %.9g %.9g\n", g->stddev, g->final_mean, g->final_std);
                any = 1;
            }
            verdict v = make_verdict(s, g);
            if (v.grad_ratio > 0 && isfinite(v.grad_ratio)) {
                sb_printf(&d2, "%.9g %.9g\n", g->stddev, v.grad_ratio);
                any2 = 1;
            }
        }
        char t[300];
        ib_snprintf(t, sizeof t, "%s", s->label);
        for (char *q = t; *q; q++)
            if (*q == '\'' || *q == '_' || *q == '^' || *q == '{' || *q == '}' || *q == '@') *q = ' ';
        if (any) {
            sb_puts(&d, "\n\n");
            sb_printf(&pl, "%sDAT index %d using 1:2:3 with yerrorlines lt %d title '%s'", nb ? ", " : "plot ", nb,
                      si % NCOLOURS + 1, t); /* the label already starts with the sweep's number */
            nb++;
        }
        if (any2) {
            sb_puts(&d2, "\n\n");
            sb_printf(&pl2, "%sDAT index %d using 1:2 with linespoints lt %d title '%s'", nb2 ? ", " : "plot ", nb2,
                      si % NCOLOURS + 1, t);
            nb2++;
        }
    }
    if (nb) {
        sb_printf(&body, "set logscale x\nset format x '10^{%%L}'\nset xlabel 'weight init stddev w'\nset ylabel 'final test accuracy'\n"
                         "set yrange [0:1.02]\nset key bottom left\nset offsets graph 0.05, graph 0.05, 0, 0\n%s\n", pl.p);
        figure(P, h, "cmp_final", "Final test accuracy per stddev, one line per sweep (mean +/- std over complete runs).",
               820, 420, &d, body.p);
    }
    if (nb2) {
        body.len = 0;
        sb_printf(&body, "set logscale xy\nset format x '10^{%%L}'\nset format y '10^{%%L}'\nset xlabel 'weight init stddev w'\n"
                         "set ylabel 'first / last layer weight-grad L2, step 0'\nset key top left\n%s\n", pl2.p);
        figure(P, h, "cmp_grad_ratio", "How far gradients vanish or explode across the layers at step 0, per sweep (sweeps of one net with the "
               "same seeds start from the same parameters: their lines coincide).", 820,
               420, &d2, body.p);
    }
    sb_puts(h, "<table><tr><th class=l>sweep</th><th>stddev</th><th class=l>verdict</th><th>first/last grad</th>"
               "<th>final acc</th><th>stuck</th><th>diverged</th><th>missing/running/failed</th></tr>\n");
    sb_puts(md, "| sweep | stddev | verdict | first/last grad | final acc | stuck | diverged | missing/running/failed |\n"
                "|---|---|---|---|---|---|---|---|\n");
    for (int si = 0; si < n; si++) {
        const ib_sweep_agg *s = &S[si];
        for (int gi = 0; gi < s->n_groups; gi++) {
            const ib_group *g = &s->groups[gi];
            verdict v = make_verdict(s, g);
            int other = g->count[IB_RUN_MISSING] + g->count[IB_RUN_RUNNING] + g->count[IB_RUN_FAILED] +
                        g->count[IB_RUN_INTERRUPTED];
            sb_puts(h, "<tr><td class=l>");
            sb_esc(h, s->label);
            sb_printf(h, "</td><td>%g</td><td class='l v-%s'>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td></tr>\n",
                      g->stddev, verdict_names[v.kind], verdict_names[v.kind], G(v.grad_ratio), G(g->final_mean),
                      g->n_stuck, g->count[IB_RUN_DIVERGED], other);
            sb_printf(md, "| %s | %g | %s | %s | %s | %d | %d | %d |\n", s->label, g->stddev, verdict_names[v.kind],
                      G(v.grad_ratio), G(g->final_mean), g->n_stuck, g->count[IB_RUN_DIVERGED], other);
        }
    }
    sb_puts(h, "</table>\n");
    /* where vanishing/exploding stopped training, and where it did not (from the table above) */
    char stopped[1500] = "", fine[1500] = "", unexplained[1500] = "";
    for (int si = 0; si < n; si++)
        for (int gi = 0; gi < S[si].n_groups; gi++) {
            const ib_group *g = &S[si].groups[gi];
            verdict v = make_verdict(&S[si], g);
            if (g->n_final == 0) continue;
            int bad = g->final_mean < 0.5 || g->n_stuck > 0;
            char item[200];
            if (v.kind != V_VANISHING && v.kind != V_EXPLODING) {
                if (!bad) continue;
                ib_snprintf(item, sizeof item, " sweep %d w = %g (final %s%s)", si + 1, g->stddev, G(g->final_mean),
                            g->n_stuck ? ", stuck runs" : "");
                CAT(unexplained, "%s%s", unexplained[0] ? ";" : "", item);
                continue;
            }
            ib_snprintf(item, sizeof item, " sweep %d w = %g (%s, final %s%s)", si + 1, g->stddev, verdict_names[v.kind],
                      G(g->final_mean), g->n_stuck ? ", stuck runs" : "");
            if (bad) CAT(stopped, "%s%s", stopped[0] ? ";" : "", item);
            else CAT(fine, "%s%s", fine[0] ? ";" : "", item);
        }
    sb_puts(h, "<p>Where a vanishing or exploding verdict stopped training (final accuracy below 0.5, or a run stuck at "
               "chance):");
    sb_esc(h, stopped[0] ? stopped : " nowhere in these sweeps");
    sb_puts(h, ". Where it did not:");
    sb_esc(h, fine[0] ? fine : " nowhere in these sweeps");
    sb_puts(h, ".");
    if (unexplained[0]) {
        sb_puts(h, " Healthy at step 0 by the verdict, yet not trained (the step-0 gradients do not explain it; the "
                   "learning curves and later statistics do):");
        sb_esc(h, unexplained);
        sb_puts(h, ".");
    }
    sb_puts(h, " (final_accuracy.csv, verdicts.csv)</p>\n");
    sb_printf(md, "\nWhere a vanishing or exploding verdict stopped training (final accuracy below 0.5, or a run stuck "
                  "at chance):%s. Where it did not:%s.",
              stopped[0] ? stopped : " nowhere in these sweeps", fine[0] ? fine : " nowhere in these sweeps");
    if (unexplained[0])
        sb_printf(md, " Healthy at step 0 by the verdict, yet not trained (the step-0 gradients do not explain it; the "
                      "learning curves and later statistics do):%s.", unexplained);
    sb_puts(md, " (final_accuracy.csv, verdicts.csv)\n");
    sb_free(&d);
    sb_free(&d2);
    sb_free(&body);
    sb_free(&pl);
    sb_free(&pl2);
}

static void remove_tree_flat(const char *dir) {
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *de;
    char p[4600];
    while ((de = readdir(dp)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            ib_snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
    closedir(dp);
    rmdir(dir);
}

void ib_report_options_default(ib_report_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->format = "svg";
    opt->gnuplot = "gnuplot";
    opt->stuck_below = 0.2;
}

static int gnuplot_works(plotter *P) {
    char script[4600], log[4600];
    ib_snprintf(script, sizeof script, "%s/probe.gp", P->tmp);
    ib_snprintf(log, sizeof log, "%s/probe.log", P->tmp);
    ib_err e;
    const char *probe = "set terminal svg\nset output '/dev/null'\nplot x\n";
    if (ib_write_file_atomic(script, probe, strlen(probe), &e)) return 0;
    return run_gnuplot(P, script, log) == 0;
}

int ib_report_write(const char *const *sweep_dirs, int n, const char *out_dir, const ib_report_options *opt,
                    ib_err *err) {
    ib_report_options dflt;
    if (!opt) {
        ib_report_options_default(&dflt);
        opt = &dflt;
    }
    if (n <= 0) return ib_fail(err, IB_EXIT_USAGE, "report: no sweep directory given");
    double t0 = ib_now();
    ib_sweep_agg *S = ib_xcalloc((size_t)n, sizeof *S);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if ((rc = ib_sweep_load(sweep_dirs[i], opt->stuck_below, &S[i], err))) {
            for (int j = 0; j < i; j++) ib_sweep_free(&S[j]);
            free(S);
            return rc;
        }
        if (n > 1) {
            char l[256];
            ib_snprintf(l, sizeof l, "%d: %s", i + 1, S[i].label);
            ib_snprintf(S[i].label, sizeof S[i].label, "%s", l);
        }
        if (!opt->quiet)
            fprintf(stderr, "report: %s: %d runs in %d stddevs read and aggregated in %.2f s\n", S[i].dir, S[i].n_runs,
                    S[i].n_groups, S[i].seconds);
    }
    double t_agg = ib_now() - t0;
    char tmp[4600];
    plotter P = {0};
    if ((rc = ib_mkdir_p(out_dir, err))) goto done;
    if ((rc = write_tables(S, n, out_dir, err))) goto done;
    ib_snprintf(tmp, sizeof tmp, "%s/.report-tmp.%d", out_dir, (int)getpid());
    if ((rc = ib_mkdir_p(tmp, err))) goto done;
    P.gnuplot = opt->gnuplot ? opt->gnuplot : "gnuplot";
    P.tmp = tmp;
    P.out = out_dir;
    P.format = opt->format && strcmp(opt->format, "svg") ? opt->format : NULL;
    P.available = gnuplot_works(&P);
    if (!P.available) {
        ib_snprintf(P.missing_why, sizeof P.missing_why, "gnuplot ('%s') could not be run; apt-get install gnuplot-nox",
                 P.gnuplot);
        fprintf(stderr, "initbench: report: %s: writing the tables and a page without plots\n", P.missing_why);
    }

    sbuf h = {0}, md = {0};
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    sb_printf(&h, "<!DOCTYPE html>\n<html lang=en><head><meta charset='utf-8'><title>initbench report</title>"
                  "<style>%s</style></head><body>\n<h1>initbench report: weight init stddev, training and gradient flow</h1>\n",
              CSS);
    sb_printf(&h, "<p>Generated %s", when);
    if (opt->command) {
        sb_puts(&h, " by <code>");
        sb_esc(&h, opt->command);
        sb_puts(&h, "</code>");
    }
    sb_printf(&h, ". Tables: <code>runs.csv</code>, <code>final_accuracy.csv</code>, <code>steps_to_threshold.csv</code>, "
                  "<code>curves_mean.csv</code>, <code>gradient_flow.csv</code>, <code>verdicts.csv</code>; summary: "
                  "<code>summary.md</code>. Reading and aggregating took %.2f s.</p>\n<ul>\n", t_agg);
    sb_printf(&md, "# initbench report\n\nGenerated %s%s%s%s. Question: why does this network train at every init "
                   "stddev, although signal propagation predicts vanishing or exploding gradients?\n\n",
              when, opt->command ? " by `" : "", opt->command ? opt->command : "", opt->command ? "`" : "");
    for (int si = 0; si < n; si++) {
        const ib_sweep_agg *s = &S[si];
        sb_printf(&h, "<li><a href='#sweep%d'>", si + 1);
        sb_esc(&h, s->label);
        sb_puts(&h, "</a>: <code>");
        sb_esc(&h, s->dir);
        sb_printf(&h, "</code>, %d runs</li>\n", s->n_runs);
    }
    if (n > 1) sb_puts(&h, "<li><a href='#comparison'>Comparison of the sweeps</a></li>\n");
    sb_puts(&h, "</ul>\n");
    for (int si = 0; si < n; si++) {
        ib_sweep_agg *s = &S[si];
        sb_printf(&h, "<h2 id='sweep%d'>", si + 1);
        sb_esc(&h, s->label);
        sb_puts(&h, "</h2>\n<p>Sweep <code>");
        sb_esc(&h, s->dir);
        sb_printf(&h, "</code>: preset %s; optimizer %s (lr %g, eps %g); init %s with bias %s; net <code>", s->preset,
                  s->optimizer, s->lr, s->eps, s->init_scheme, sweep_bias_is_w(s) ? "= w" : "!= w");
        sb_esc(&h, s->net);
        sb_printf(&h, "</code>; %lld steps; %d runs over %d stddevs; weight layers:", s->steps, s->n_runs, s->n_groups);
        for (int l = 0; l < s->n_layers; l++) sb_printf(&h, " %s", s->layer[l]);
        sb_puts(&h, ".</p>\n");
        sb_printf(&md, "## %s\n\nSweep `%s`: optimizer %s (lr %g, eps %g), net `%s`, %lld steps, %d runs.\n\n", s->label,
                  s->dir, s->optimizer, s->lr, s->eps, s->net, s->steps, s->n_runs);
        sb_puts(&h, "<h3>Runs and final accuracy</h3>\n");
        html_run_tables(&h, &md, s);
        sb_puts(&h, "<h3>Learning curves</h3>\n");
        fig_learning(&P, &h, s, si);
        sb_puts(&h, "<h3>Gradient flow</h3>\n");
        fig_flow(&P, &h, s, si);
        sb_puts(&h, "<h3>Diagnosis per stddev</h3>\n");
        sb_puts(&md, "\n### Diagnosis per stddev\n\n");
        html_verdicts(&h, &md, s);
        sb_puts(&h, "<h3>Why no vanishing? The answer from this sweep's data</h3>\n");
        sb_puts(&md, "\n### Why no vanishing? The answer from this sweep's data\n\n");
        claims C = {0};
        answer(S, n, si, &C);
        emit_claims(&h, &md, &C);
        free(C.c);
        sb_puts(&md, "\n");
    }
    if (n > 1) comparison(&P, &h, &md, S, n);
    sb_printf(&h, "<p class=caption>%d figures%s.</p>\n</body></html>\n", P.n_plots,
              P.n_failed ? ", some failed (see the notes above)" : "");
    if (!(rc = write_sb(out_dir, "index.html", &h, err))) rc = write_sb(out_dir, "summary.md", &md, err);
    sb_free(&h);
    sb_free(&md);
    if (!rc && !opt->quiet)
        fprintf(stderr, "report: wrote %s/index.html, summary.md and 6 tables (%d figures%s) in %.2f s\n", out_dir,
                P.n_plots, P.available ? "" : ", no plots: gnuplot missing", ib_now() - t0);
done:
    if (P.tmp) remove_tree_flat(tmp);
    for (int i = 0; i < n; i++) ib_sweep_free(&S[i]);
    free(S);
    return rc;
}

int ib_cmd_report(int argc, char **argv) {
    ib_report_options opt;
    ib_report_options_default(&opt);
    const char *out = NULL, *format = "svg", *gnuplot = "gnuplot";
    double stuck = 0.2;
    int help = 0, quiet = 0;
    ib_flag flags[] = {
        {"out", IB_FLAG_STRING, &out, 0, 0, 0, NULL, "DIR", "output directory (default: FIRST_SWEEP/report)", 0},
        {"format", IB_FLAG_CHOICE, &format, 0, 0, 0, "svg|png|pdf", "F",
         "svg: the page only (default); png or pdf: also every figure as OUT/figures/NAME.F", 0},
        {"stuck-below", IB_FLAG_DOUBLE, &stuck, 0, 1, 0, NULL, "A",
         "a complete run whose final test accuracy is below A is flagged stuck (default 0.2)", 0},
        {"gnuplot", IB_FLAG_STRING, &gnuplot, 0, 0, 0, NULL, "EXE", "gnuplot executable (default gnuplot)", 0},
        {"quiet", IB_FLAG_BOOL, &quiet, 0, 0, 0, NULL, NULL, "print nothing but errors", 0},
        {"help", IB_FLAG_BOOL, &help, 0, 0, 0, NULL, NULL, "this help", 0},
    };
    const int nf = (int)(sizeof flags / sizeof flags[0]);
    ib_err err = {0};
    char *pos[64];
    int npos = 0;
    if (ib_flags_parse(flags, nf, argc, argv, 1, pos, 64, &npos, &err)) ib_exit_err(&err);
    if (help || npos < 1) {
        FILE *fp = help ? stdout : stderr;
        fprintf(fp, "usage: initbench report SWEEP_DIR [SWEEP_DIR ...] [--out DIR] [--format svg|png|pdf]\n\n"
                    "Aggregates every run directory of the sweep(s) (complete or partial) and writes DIR/index.html\n"
                    "(self-contained, plots inline as SVG), DIR/*.csv (the tables), DIR/summary.md; several sweeps\n"
                    "are compared side by side. Exit 2 for bad input (not a sweep directory).\n\n");
        ib_flags_print_help(fp, flags, nf);
        return help ? 0 : IB_EXIT_USAGE;
    }
    char def_out[4200];
    if (!out) {
        ib_snprintf(def_out, sizeof def_out, "%s/report", pos[0]);
        out = def_out;
    }
    sbuf cmd = {0};
    sb_puts(&cmd, "initbench");
    for (int i = 0; i < argc; i++) sb_printf(&cmd, " %s", argv[i]);
    opt.format = format;
    opt.gnuplot = gnuplot;
    opt.stuck_below = stuck;
    opt.quiet = quiet;
    opt.command = cmd.p;
    int rc = ib_report_write((const char *const *)pos, npos, out, &opt, &err);
    sb_free(&cmd);
    if (rc) ib_exit_err(&err);
    return 0;
}
