/* analysis/theory.c against hand-computed cases and an independent integral (a fine trapezoid
 * rule over z with other formulas for f and f'). */
#include <math.h>

#include "check.h"
#include "theory.h"

/* E[g(mu + sqrt(v) z)] by the trapezoid rule on [-12, 12] with n steps; what = 0: f^2, 1: f'^2. */
static double trapezoid(ib_mf_act a, double mu, double v, int what, int n) {
    double h = 24.0 / n, sum = 0, s = sqrt(v);
    for (int i = 0; i <= n; i++) {
        double z = -12 + i * h, x = mu + s * z, f, df;
        if (a == IB_MF_TANH) {
            f = tanh(x);
            df = 1 / (cosh(x) * cosh(x)); /* not 1 - tanh^2 as theory.c: another formula */
        } else if (a == IB_MF_SIGMOID) {
            f = 0.5 * (1 + tanh(x / 2));
            df = 0.25 / (cosh(x / 2) * cosh(x / 2));
        } else {
            f = x > 0 ? x : 0;
            df = x > 0;
        }
        double g = what ? df * df : f * f;
        sum += (i == 0 || i == n ? 0.5 : 1) * g * exp(-0.5 * z * z);
    }
    return sum * h / sqrt(2 * M_PI);
}

int main(void) {
    /* ReLU: chi = sigma_w2 / 2 whatever q */
    const double qs[] = {1e-6, 0.01, 1, 100, 1e6};
    for (int i = 0; i < 5; i++)
        for (double sw2 = 0.5; sw2 < 8; sw2 *= 2) CHECK_REL(ib_mf_chi(IB_MF_RELU, sw2, qs[i]), sw2 / 2, 1e-14, 0);
    CHECK_REL(ib_mf_chi1(IB_MF_RELU, 3, 0.5), 1.5, 1e-14, 0);
    CHECK_REL(ib_mf_qmap(IB_MF_RELU, 3, 0.2, 4), 3 * 2 + 0.2, 1e-14, 0); /* E[relu(2 z)^2] = 4/2 */

    /* ReLU with a mean (a constant bias): the closed form against the trapezoid */
    double f2, df2;
    ib_mf_moments(IB_MF_RELU, 0.3, 0.5, &f2, &df2);
    CHECK_REL(f2, trapezoid(IB_MF_RELU, 0.3, 0.5, 0, 400000), 1e-8, 0);
    CHECK_REL(df2, trapezoid(IB_MF_RELU, 0.3, 0.5, 1, 400000), 1e-4, 0); /* a step: the trapezoid's own error */
    CHECK_REL(df2, 0.5 * erfc(-0.3 / sqrt(0.5) / sqrt(2.0)), 1e-14, 0); /* P(z > -mu / s) */

    /* tanh at q -> 0: tanh'(0) = 1, so chi = sigma_w2 */
    CHECK_REL(ib_mf_chi(IB_MF_TANH, 0.7, 0), 0.7, 1e-15, 0);
    CHECK_REL(ib_mf_chi(IB_MF_TANH, 0.7, 1e-10), 0.7, 1e-9, 0);
    CHECK(ib_mf_qstar(IB_MF_TANH, 0.7, 0) == 0, "tanh below the critical line contracts to q* = 0");
    CHECK_REL(ib_mf_chi1(IB_MF_TANH, 0.7, 0), 0.7, 1e-15, 0);

    /* tanh's critical sigma_w2 at sigma_b = 0 is 1 (LeCun's scale) */
    CHECK_REL(ib_mf_critical_sigma_w2(IB_MF_TANH), 1.0, 1e-5, 0);
    CHECK(ib_mf_critical_sigma_w2(IB_MF_RELU) == 2, "ReLU's critical sigma_w2 is 2");

    /* tanh moments against the independent integral, at a moderate and a saturating q, with a mean */
    const double cases[][2] = {{0, 2}, {0, 400}, {0.5, 3}, {-2, 0.04}};
    for (int i = 0; i < 4; i++) {
        double mu = cases[i][0], v = cases[i][1];
        ib_mf_moments(IB_MF_TANH, mu, v, &f2, &df2);
        CHECK_REL(f2, trapezoid(IB_MF_TANH, mu, v, 0, 400000), 1e-9, 0);
        CHECK_REL(df2, trapezoid(IB_MF_TANH, mu, v, 1, 400000), 1e-9, 0);
        ib_mf_moments(IB_MF_SIGMOID, mu, v, &f2, &df2);
        CHECK_REL(f2, trapezoid(IB_MF_SIGMOID, mu, v, 0, 400000), 1e-9, 0);
        CHECK_REL(df2, trapezoid(IB_MF_SIGMOID, mu, v, 1, 400000), 1e-9, 0);
    }
    CHECK_REL(ib_mf_chi(IB_MF_TANH, 1.5, 2), 1.5 * trapezoid(IB_MF_TANH, 0, 2, 1, 400000), 1e-9, 0);

    /* tanh q*: a fixed point of the map, positive above the critical line */
    double q = ib_mf_qstar(IB_MF_TANH, 2, 0);
    CHECK(q > 0.1 && q < 2, "tanh q*(2, 0) = %g", q);
    CHECK_REL(ib_mf_qmap(IB_MF_TANH, 2, 0, q), q, 1e-12, 0);
    q = ib_mf_qstar(IB_MF_TANH, 1.2, 0.05);
    CHECK_REL(ib_mf_qmap(IB_MF_TANH, 1.2, 0.05, q), q, 1e-12, 0);
    CHECK(ib_mf_chi1(IB_MF_TANH, 2, 0) > 1, "tanh chaotic above 1: chi_1 = %g", ib_mf_chi1(IB_MF_TANH, 2, 0));
    /* deep in the saturated phase chi_1 -> (4/3) sigma_w / sqrt(2 pi) = 0.532 sigma_w (q* -> sigma_w2,
     * and the integral of sech^4 is 4/3) */
    CHECK_REL(ib_mf_chi1(IB_MF_TANH, 1e6, 0) / 1e3, 4.0 / 3.0 / sqrt(2 * M_PI), 2e-3, 0);
    /* the constant-bias chi_1 is the textbook one at bias 0 */
    CHECK_REL(ib_mf_chi1_bias(IB_MF_TANH, 2, 0), ib_mf_chi1(IB_MF_TANH, 2, 0), 1e-10, 0);

    /* sigmoid: f(0) = 1/2, so E[f^2] at q = 0 is 1/4; its slope is at most 1/4 */
    ib_mf_moments(IB_MF_SIGMOID, 0, 0, &f2, &df2);
    CHECK_REL(f2, 0.25, 1e-15, 0);
    CHECK_REL(df2, 1.0 / 16, 1e-15, 0);
    CHECK_REL(ib_mf_qmap(IB_MF_SIGMOID, 4, 0, 0), 1.0, 1e-15, 0);
    double crit = ib_mf_critical_sigma_w2(IB_MF_SIGMOID);
    CHECK(crit > 16, "sigmoid's critical sigma_w2 %g must exceed 16 (slope <= 1/4)", crit);
    CHECK_REL(ib_mf_chi1(IB_MF_SIGMOID, crit, 0), 1.0, 1e-9, 0);

    /* finite depth, ReLU without bias: every layer multiplies both moments by sigma_w2 / 2 */
    double grad[12], act[12];
    const double sw2s[] = {0.5, 2, 3.1};
    for (int i = 0; i < 3; i++) {
        CHECK(ib_mf_predict(IB_MF_RELU, sw2s[i], 0, 0.37, 12, grad, act) == 0, "predict");
        for (int d = 1; d <= 12; d++) {
            CHECK_REL(grad[d - 1], (d - 1) / 2.0 * log10(sw2s[i] / 2), 1e-12, 1e-15);
            CHECK_REL(act[d - 1], (d - 1) / 2.0 * log10(sw2s[i] / 2), 1e-12, 1e-15);
        }
    }
    /* tanh at tiny q is linear: chi = sigma_w2 per layer, act ratio sigma_w2^((D-1)/2) */
    CHECK(ib_mf_predict(IB_MF_TANH, 0.5, 0, 1e-14, 6, grad, act) == 0, "predict");
    CHECK_REL(grad[5], 2.5 * log10(0.5), 1e-9, 0);
    CHECK_REL(act[5], 2.5 * log10(0.5), 1e-9, 0);
    /* a constant bias b with q1 = b^2: the first layer is the constant b (v = 0), so its factor is
     * sigma_w2 tanh'(b)^2 exactly; the second layer's preactivations are N(b, sigma_w2 tanh(b)^2) */
    CHECK(ib_mf_predict(IB_MF_TANH, 1.5, 0.3, 0.09, 4, grad, act) == 0, "predict");
    double sech2 = 1 / (cosh(0.3) * cosh(0.3)), v2 = 1.5 * tanh(0.3) * tanh(0.3);
    CHECK(grad[0] == 0 && act[0] == 0, "depth 1: no ratio");
    CHECK_REL(grad[1], 0.5 * log10(1.5 * sech2 * sech2), 1e-12, 0);
    CHECK_REL(act[1], 0.5 * log10(trapezoid(IB_MF_TANH, 0.3, v2, 0, 400000) / (tanh(0.3) * tanh(0.3))), 1e-9, 0);
    /* bad input refused */
    CHECK(ib_mf_predict(IB_MF_TANH, -1, 0, 1, 4, grad, act) == -1 && isnan(grad[0]), "sigma_w2 < 0 refused");
    CHECK(ib_mf_predict(IB_MF_TANH, 1, 0, NAN, 4, grad, act) == -1, "q1 nan refused");
    CHECK(ib_mf_predict(IB_MF_TANH, 1, INFINITY, 1, 4, grad, act) == -1, "bias inf refused");

    ib_mf_act a;
    CHECK(ib_mf_act_parse("tanh", &a) == 0 && a == IB_MF_TANH, "tanh parsed");
    CHECK(ib_mf_act_parse("<b>", &a) == -1, "unknown activation refused");
    return check_finish("theory");
}
