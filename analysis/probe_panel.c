/* The probe report's model (probe_panel.h): theory per configuration, then the panels. */
#include "probe_panel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "probe_report.h"
#include "theory.h"

/* ---- per configuration: theory ------------------------------------------------------------------ */


typedef struct chi1_cache {
    int n, cap;
    struct { ib_mf_act a; double sw2, bias, chi1; } *e;
} chi1_cache;

/* chi_1 with the constant bias, computed once per (activation, sigma_w2, bias): a grid has a few
 * dozen distinct ones, and each costs a root search. */
static double chi1_cached(chi1_cache *c, ib_mf_act a, double sw2, double bias) {
    for (int i = 0; i < c->n; i++)
        if (c->e[i].a == a && c->e[i].sw2 == sw2 && c->e[i].bias == bias) return c->e[i].chi1;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        void *more = realloc(c->e, (size_t)c->cap * sizeof *c->e);
        if (!more) ib_die(IB_EXIT_INTERNAL, "out of memory");
        c->e = more;
    }
    double v = ib_mf_chi1_bias(a, sw2, bias);
    c->e[c->n].a = a, c->e[c->n].sw2 = sw2, c->e[c->n].bias = bias, c->e[c->n].chi1 = v;
    c->n++;
    return v;
}

static double bias_of(const ib_probe_row *r) { return isnan(r->bias_init) ? 0 : r->bias_init; }

/* Mean-field theory speaks of equal hidden layers: the fc and conv families, not a fixed spec. */
static int theory_applies(const ib_probe_row *r) {
    return (!strcmp(r->net, "fc") || !strcmp(r->net, "conv")) && r->sigma_w2 > 0 && isfinite(r->sigma_w2) &&
           r->q1 >= 0 && isfinite(r->q1) && isfinite(bias_of(r));
}


/* A measured value lost to float32's range where theory predicts one beyond it. */
int ib_probe_beyond_float32(double meas, double pred) { return !isfinite(meas) && fabs(pred) > IB_PROBE_FLOAT32_DECADES; }

double ib_probe_gap(double meas, double pred) {
    if (isnan(pred) || ib_probe_beyond_float32(meas, pred)) return NAN; /* not a disagreement: nothing was measurable */
    if (isnan(meas)) return NAN;
    if (isinf(meas) && isinf(pred) && (meas > 0) == (pred > 0)) return 0;
    return meas - pred;
}

void ib_probe_derive(const ib_probe_data *p, ib_probe_derived *d) {
    chi1_cache cache = {0};
    int maxd = 1;
    for (int i = 0; i < p->n; i++)
        if (p->rows[i].depth > maxd) maxd = p->rows[i].depth;
    double *g = ib_xcalloc((size_t)maxd, sizeof *g), *a = ib_xcalloc((size_t)maxd, sizeof *a);
    for (int i = 0; i < p->n; i++) {
        const ib_probe_row *r = &p->rows[i];
        ib_probe_derived *o = &d[i];
        o->pred_g = o->pred_a = o->chi1 = o->gap_g = o->gap_a = NAN;
        o->theory = theory_applies(r);
        if (!o->theory) continue;
        if (ib_mf_predict(r->act, r->sigma_w2, bias_of(r), r->q1, r->depth, g, a)) {
            o->theory = 0;
            continue;
        }
        o->pred_g = g[r->depth - 1];
        o->pred_a = a[r->depth - 1];
        o->chi1 = chi1_cached(&cache, r->act, r->sigma_w2, bias_of(r));
        o->gap_g = ib_probe_gap(r->log10_grad_ratio, o->pred_g);
        o->gap_a = ib_probe_gap(r->log10_act_ratio, o->pred_a);
        o->parts = fabs(o->gap_g) > IB_PROBE_PART_DECADES || fabs(o->gap_a) > IB_PROBE_PART_DECADES;
    }
    free(g);
    free(a);
    free(cache.e);
}

/* ---- panels: (net, width, activation, init) over (x, depth) --------------------------------------- */

const char *const ib_probe_x_names[] = {"stddev", "init scale", "sigma_w^2"};
const char *const ib_probe_x_plain[] = {"stddev", "init scale", "sigma_w2"};


double ib_probe_x_of(const ib_probe_panel *pn, const ib_probe_row *r) {
    return pn->xkind == IB_PROBE_X_STDDEV ? r->stddev : pn->xkind == IB_PROBE_X_INIT_SCALE ? r->init_scale : r->sigma_w2;
}

static int same_panel(const ib_probe_row *a, const ib_probe_row *b) {
    return a->act == b->act && a->width == b->width && !strcmp(a->init, b->init) && !strcmp(a->net, b->net);
}

/* The median of the values that are not NAN (inf counts); NAN when there is none. Sorts v. */
double ib_probe_median(double *v, int n) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) v[m++] = v[i];
    if (!m) return NAN;
    qsort(v, (size_t)m, sizeof *v, ib_cmp_double);
    return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

int ib_probe_find_double(const double *v, int n, double x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return i;
    return -1;
}

int ib_probe_find_int(const int *v, int n, int x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return i;
    return -1;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static void panel_build(ib_probe_panel *pn, const ib_probe_data *p, const ib_probe_derived *d) {
    int all_sd = 1, all_sc = 1;
    pn->theory = 1;
    for (int k = 0; k < pn->n_rows; k++) {
        const ib_probe_row *r = &p->rows[pn->rows[k]];
        all_sd &= r->stddev > 0;
        all_sc &= r->init_scale > 0;
        pn->theory &= d[pn->rows[k]].theory;
    }
    pn->xkind = all_sd ? IB_PROBE_X_STDDEV : all_sc ? IB_PROBE_X_INIT_SCALE : IB_PROBE_X_SIGMA_W2;
    pn->xs = ib_xcalloc((size_t)pn->n_rows, sizeof *pn->xs);
    pn->depths = ib_xcalloc((size_t)pn->n_rows, sizeof *pn->depths);
    for (int k = 0; k < pn->n_rows; k++) {
        const ib_probe_row *r = &p->rows[pn->rows[k]];
        double x = ib_probe_x_of(pn, r);
        if (x > 0 && isfinite(x) && ib_probe_find_double(pn->xs, pn->nx, x) < 0) pn->xs[pn->nx++] = x;
        if (ib_probe_find_int(pn->depths, pn->nd, r->depth) < 0) pn->depths[pn->nd++] = r->depth;
    }
    qsort(pn->xs, (size_t)pn->nx, sizeof *pn->xs, ib_cmp_double);
    qsort(pn->depths, (size_t)pn->nd, sizeof *pn->depths, cmp_int);
    size_t cells = (size_t)(pn->nx ? pn->nx : 1) * (size_t)pn->nd;
    double *vals = ib_xcalloc((size_t)pn->n_rows, sizeof *vals);
    double **outs[] = {&pn->meas_g, &pn->meas_a, &pn->pred_g, &pn->pred_a};
    for (int o = 0; o < 4; o++) *outs[o] = ib_xcalloc(cells, sizeof(double));
    double **cols[] = {&pn->sw2, &pn->bias, &pn->q1};
    for (int o = 0; o < 3; o++) *cols[o] = ib_xcalloc((size_t)(pn->nx ? pn->nx : 1), sizeof(double));
    for (int xi = 0; xi < pn->nx; xi++) {
        /* depth 1's sigma_w2 is its input layer's (fan_in Var(W)); the hidden layers' where there are any */
        int deep = pn->nd > 1 && pn->depths[pn->nd - 1] > 1;
        for (int o = 0; o < 3; o++) {
            int m = 0;
            for (int k = 0; k < pn->n_rows; k++) {
                const ib_probe_row *r = &p->rows[pn->rows[k]];
                if (ib_probe_x_of(pn, r) == pn->xs[xi] && (!deep || r->depth > 1))
                    vals[m++] = o == 0 ? r->sigma_w2 : o == 1 ? bias_of(r) : r->q1;
            }
            (*cols[o])[xi] = ib_probe_median(vals, m);
        }
        for (int di = 0; di < pn->nd; di++)
            for (int o = 0; o < 4; o++) {
                int m = 0;
                for (int k = 0; k < pn->n_rows; k++) {
                    int i = pn->rows[k];
                    const ib_probe_row *r = &p->rows[i];
                    if (ib_probe_x_of(pn, r) != pn->xs[xi] || r->depth != pn->depths[di]) continue;
                    vals[m++] = o == 0 ? r->log10_grad_ratio : o == 1 ? r->log10_act_ratio : o == 2 ? d[i].pred_g : d[i].pred_a;
                }
                (*outs[o])[xi * pn->nd + di] = ib_probe_median(vals, m);
            }
    }
    free(vals);
}

void ib_probe_panel_free(ib_probe_panel *pn) {
    free(pn->rows);
    free(pn->xs);
    free(pn->depths);
    free(pn->sw2);
    free(pn->bias);
    free(pn->q1);
    free(pn->meas_g);
    free(pn->meas_a);
    free(pn->pred_g);
    free(pn->pred_a);
}

ib_probe_panel *ib_probe_panels_make(const ib_probe_data *p, const ib_probe_derived *d, int *n_out) {
    ib_probe_panel *pn = ib_xcalloc((size_t)p->n, sizeof *pn);
    int n = 0;
    int *which = ib_xcalloc((size_t)p->n, sizeof *which);
    for (int i = 0; i < p->n; i++) {
        int k = 0;
        while (k < n && !same_panel(pn[k].first, &p->rows[i])) k++;
        if (k == n) pn[n++].first = &p->rows[i];
        which[i] = k;
        pn[k].n_rows++;
    }
    for (int k = 0; k < n; k++) {
        pn[k].rows = ib_xcalloc((size_t)pn[k].n_rows, sizeof(int));
        pn[k].n_rows = 0;
    }
    for (int i = 0; i < p->n; i++) pn[which[i]].rows[pn[which[i]].n_rows++] = i;
    free(which);
    for (int k = 0; k < n; k++) panel_build(&pn[k], p, d);
    *n_out = n;
    return pn;
}
