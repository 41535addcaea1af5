/* Mean-field signal propagation: the formulas of docs/THEORY.md ("Saturating units" and "The
 * phase diagram") evaluated numerically. */
#include "theory.h"

#include <math.h>
#include <string.h>

static const char *const act_names[IB_MF_NACTS] = {"relu", "tanh", "sigmoid"};

int ib_mf_act_parse(const char *name, ib_mf_act *a) {
    for (int i = 0; i < IB_MF_NACTS; i++)
        if (!strcmp(name, act_names[i])) {
            *a = (ib_mf_act)i;
            return 0;
        }
    return -1;
}

const char *ib_mf_act_name(ib_mf_act a) { return a >= 0 && a < IB_MF_NACTS ? act_names[a] : "?"; }

/* ---- E[g(mu + sqrt(v) z)], z ~ N(0, 1) ------------------------------------------------------- */

/* 16-point Gauss-Legendre on [-1, 1]: the positive nodes and their weights. */
static const double gl_x[8] = {0.0950125098376374, 0.2816035507792589, 0.4580167776572274, 0.6178762444026438,
                               0.7554044083550030, 0.8656312023878318, 0.9445750230732326, 0.9894009349916499};
static const double gl_w[8] = {0.1894506104550685, 0.1826034150449236, 0.1691565193950025, 0.1495959888165767,
                               0.1246289712555339, 0.0951585116824928, 0.0622535239386479, 0.0271524594117541};

#define Z_MAX 10.0    /* phi(10) = 7.7e-23: the Gaussian tail beyond is below double's resolution */
#define X_STRUCT 40.0 /* tanh and sigmoid are constant to 1e-17 beyond |x| = 40 */
#define Z_PANEL 1.0   /* panel widths: the Gaussian weight varies on the scale of 1 in z, */
#define X_PANEL 3.0   /* f and f' on the scale of 1 in x (poles of tanh at +-i pi/2) */

/* f(x)^2 and f'(x)^2 of a saturating unit, accurate in both tails. */
static void unit_sq(ib_mf_act a, double x, double *f2, double *df2) {
    const double em1 = expm1(-(a == IB_MF_TANH ? 2.0 : 1.0) * fabs(x)); /* in (-1, 0]: no overflow */
    const double e = em1 + 1;
    if (a == IB_MF_TANH) {
        double t = -em1 / (2 + em1); /* tanh |x|, exact to rounding at tiny |x| too (1 - e would cancel) */
        double sech2 = 4 * e / ((1 + e) * (1 + e));
        *f2 = t * t;
        *df2 = sech2 * sech2;
    } else {
        double s = x >= 0 ? 1 / (1 + e) : e / (1 + e); /* sigmoid x */
        double ds = e / ((1 + e) * (1 + e));           /* sigmoid'(x), symmetric */
        *f2 = s * s;
        *df2 = ds * ds;
    }
}

/* Gauss-Legendre panels over [z0, z1], each at most Z_PANEL wide in z and X_PANEL in x = mu + s z. */
static void integrate_span(ib_mf_act a, double mu, double s, double z0, double z1, double *f2, double *df2) {
    double width = z1 - z0;
    if (!(width > 0)) return;
    double np = ceil(fmax(width / Z_PANEL, s * width / X_PANEL));
    int n = np > 100 ? 100 : (int)np; /* beyond the bend (|x| > 40) fewer panels do */
    double h = width / n;
    for (int p = 0; p < n; p++) {
        double c = z0 + (p + 0.5) * h, r = 0.5 * h;
        for (int k = 0; k < 8; k++)
            for (int sign = -1; sign <= 1; sign += 2) {
                double z = c + sign * r * gl_x[k];
                double wt = gl_w[k] * r * exp(-0.5 * z * z) * 0.3989422804014327; /* 1/sqrt(2 pi) */
                double u2, du2;
                unit_sq(a, mu + s * z, &u2, &du2);
                *f2 += wt * u2;
                *df2 += wt * du2;
            }
    }
}

static double std_normal_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

void ib_mf_moments(ib_mf_act a, double mu, double v, double *f2, double *df2) {
    double s = sqrt(fmax(v, 0));
    double F2 = 0, DF2 = 0;
    if (a == IB_MF_RELU) {
        if (s == 0) {
            F2 = mu > 0 ? mu * mu : 0;
            DF2 = mu > 0 ? 1 : mu < 0 ? 0 : 0.5;
        } else { /* E[(mu + s z)^2; z > -mu/s] and P(z > -mu/s) */
            double t = mu / s, cdf = std_normal_cdf(t), pdf = exp(-0.5 * t * t) * 0.3989422804014327;
            F2 = (mu * mu + v) * cdf + mu * s * pdf;
            DF2 = cdf;
        }
    } else if (s == 0) {
        unit_sq(a, mu, &F2, &DF2);
    } else {
        /* the z-interval where x = mu + s z is within +-X_STRUCT: there the unit bends, elsewhere
         * it is flat and only the Gaussian weight varies */
        double lo = fmax(-Z_MAX, (-X_STRUCT - mu) / s), hi = fmin(Z_MAX, (X_STRUCT - mu) / s);
        if (lo < hi) {
            integrate_span(a, mu, s, -Z_MAX, lo, &F2, &DF2);
            integrate_span(a, mu, s, lo, hi, &F2, &DF2);
            integrate_span(a, mu, s, hi, Z_MAX, &F2, &DF2);
        } else { /* x stays in one tail: one span (f' is tiny there, but its log still counts) */
            integrate_span(a, mu, s, -Z_MAX, Z_MAX, &F2, &DF2);
        }
    }
    if (f2) *f2 = F2;
    if (df2) *df2 = DF2;
}

/* ---- maps and fixed points ------------------------------------------------------------------- */

double ib_mf_qmap(ib_mf_act a, double sigma_w2, double sigma_b2, double q) {
    double f2;
    ib_mf_moments(a, 0, q, &f2, NULL);
    return sigma_w2 * f2 + sigma_b2;
}

double ib_mf_chi(ib_mf_act a, double sigma_w2, double q) {
    double df2;
    ib_mf_moments(a, 0, q, NULL, &df2);
    return sigma_w2 * df2;
}

/* h(v) = sigma_w2 E[f(mu + sqrt(v) z)^2] + sigma_b2 - v: positive below the fixed point. */
static double excess(ib_mf_act a, double sigma_w2, double sigma_b2, double mu, double v) {
    double f2;
    ib_mf_moments(a, mu, v, &f2, NULL);
    return sigma_w2 * f2 + sigma_b2 - v;
}

/* The largest v with v = sigma_w2 E[f(mu + sqrt(v) z)^2] + sigma_b2 (the fixed point the map
 * reaches from large v): bracketed by scanning in factors of 10 up and 10^(1/4) down, then
 * bisected in log v. 0 when the map contracts every v > 1e-30 to 0; +inf when it grows without
 * bound (ReLU beyond its critical line). */
static double fixed_point(ib_mf_act a, double sigma_w2, double sigma_b2, double mu) {
    double hi = 1;
    while (excess(a, sigma_w2, sigma_b2, mu, hi) >= 0) {
        if (hi > 1e300) return INFINITY;
        hi *= 10;
    }
    double lo = hi;
    do {
        lo /= 1.7782794100389228; /* 10^(1/4) */
        if (lo < 1e-30) return 0;
    } while (excess(a, sigma_w2, sigma_b2, mu, lo) <= 0);
    if (lo * 1.7782794100389228 < hi) hi = lo * 1.7782794100389228; /* the tightest bracket seen */
    for (int it = 0; it < 200 && hi / lo - 1 > 1e-15; it++) {
        double mid = sqrt(lo * hi);
        if (excess(a, sigma_w2, sigma_b2, mu, mid) > 0) lo = mid;
        else hi = mid;
    }
    return sqrt(lo * hi);
}

double ib_mf_qstar(ib_mf_act a, double sigma_w2, double sigma_b2) {
    if (!(sigma_w2 > 0) || !(sigma_b2 >= 0) || !isfinite(sigma_w2) || !isfinite(sigma_b2)) return NAN;
    if (a == IB_MF_RELU) { /* q_next = sigma_w2 q / 2 + sigma_b2 */
        if (sigma_w2 < 2) return sigma_b2 / (1 - sigma_w2 / 2);
        return sigma_w2 == 2 && sigma_b2 == 0 ? 0 : INFINITY; /* at 2 every q is fixed: chi needs none */
    }
    return fixed_point(a, sigma_w2, sigma_b2, 0);
}

double ib_mf_chi1(ib_mf_act a, double sigma_w2, double sigma_b2) {
    if (a == IB_MF_RELU) return sigma_w2 > 0 && isfinite(sigma_w2) && sigma_b2 >= 0 ? sigma_w2 / 2 : NAN;
    double q = ib_mf_qstar(a, sigma_w2, sigma_b2);
    return isnan(q) ? NAN : ib_mf_chi(a, sigma_w2, q);
}

double ib_mf_chi1_bias(ib_mf_act a, double sigma_w2, double bias) {
    if (!(sigma_w2 > 0) || !isfinite(sigma_w2) || !isfinite(bias)) return NAN;
    if (a == IB_MF_RELU && bias == 0) return sigma_w2 / 2;
    double v = fixed_point(a, sigma_w2, 0, bias);
    if (isinf(v)) return a == IB_MF_RELU ? sigma_w2 / 2 : NAN; /* the bias vanishes next to v */
    double df2;
    ib_mf_moments(a, bias, v, NULL, &df2);
    return sigma_w2 * df2;
}

double ib_mf_critical_sigma_w2(ib_mf_act a) {
    if (a == IB_MF_RELU) return 2;
    double lo = 1e-3, hi = 1e8;
    if (!(ib_mf_chi1(a, lo, 0) < 1) || !(ib_mf_chi1(a, hi, 0) > 1)) return NAN;
    for (int it = 0; it < 200 && hi / lo - 1 > 1e-13; it++) {
        double mid = sqrt(lo * hi);
        if (ib_mf_chi1(a, mid, 0) < 1) lo = mid;
        else hi = mid;
    }
    return sqrt(lo * hi);
}

/* ---- finite depth ------------------------------------------------------------------------------ */

int ib_mf_predict(ib_mf_act a, double sigma_w2, double bias, double q1, int max_depth, double *grad, double *act) {
    int bad = !isfinite(sigma_w2) || !(sigma_w2 > 0) || !isfinite(bias) || !isfinite(q1) || q1 < 0 || max_depth < 1 ||
              a < 0 || a >= IB_MF_NACTS;
    if (bad) {
        for (int d = 0; d < max_depth; d++) grad[d] = act[d] = NAN;
        return -1;
    }
    double v = fmax(q1 - bias * bias, 0), f2_first = NAN, sum = 0;
    for (int l = 1; l <= max_depth; l++) {
        double f2, df2;
        ib_mf_moments(a, bias, v, &f2, &df2);
        if (l == 1) f2_first = f2;
        grad[l - 1] = 0.5 * sum; /* the factors of layers 1 .. l-1 */
        act[l - 1] = l == 1 ? 0 : 0.5 * log10(f2 / f2_first);
        sum += log10(sigma_w2 * df2);
        v = sigma_w2 * f2;
    }
    return 0;
}
