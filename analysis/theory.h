/* Mean-field signal propagation (docs/THEORY.md, "Saturating units: the tanh mean-field factor
 * chi_1" and "The phase diagram"): the q map, the per-layer gradient factor chi, its fixed point
 * chi_1, the critical sigma_w^2, and the finite-depth prediction the probe report draws over its
 * measurements. Pure functions of numbers; no file, no allocation.
 *
 * Notation: a preactivation z of a hidden unit; f the activation; sigma_w2 = n Var(W) for a
 * hidden -> hidden layer of width n. Expectations over z ~ N(0, 1) are computed by composite
 * 16-point Gauss-Legendre panels placed where the integrand varies (relative error below 1e-10
 * for q up to 1e6); ReLU in closed form. */
#ifndef IB_THEORY_H
#define IB_THEORY_H

typedef enum ib_mf_act { IB_MF_RELU, IB_MF_TANH, IB_MF_SIGMOID, IB_MF_NACTS } ib_mf_act;

/* "relu", "tanh", "sigmoid": 0 with *a set, -1 for any other name. */
int ib_mf_act_parse(const char *name, ib_mf_act *a);
const char *ib_mf_act_name(ib_mf_act a);

/* E[f(mu + sqrt(v) z)^2] and E[f'(mu + sqrt(v) z)^2] for z ~ N(0, 1), v >= 0 (v = 0: the values
 * at mu). ReLU's f'(0) is taken as 1/2 at v = 0, mu = 0 (the average of its two sides: the limit
 * of the v > 0 value). */
void ib_mf_moments(ib_mf_act a, double mu, double v, double *f2, double *df2);

/* The textbook map with a random bias of variance sigma_b2: q_next = sigma_w2 E[f(sqrt(q) z)^2]
 * + sigma_b2, and chi(q) = sigma_w2 E[f'(sqrt(q) z)^2]. */
double ib_mf_qmap(ib_mf_act a, double sigma_w2, double sigma_b2, double q);
double ib_mf_chi(ib_mf_act a, double sigma_w2, double q);

/* The fixed point q* of ib_mf_qmap reached from any q > 0 (0 where the map contracts to 0; +inf
 * for ReLU at sigma_w2 >= 2 with sigma_b2 > 0, or sigma_w2 > 2), and chi_1 = chi(q*). */
double ib_mf_qstar(ib_mf_act a, double sigma_w2, double sigma_b2);
double ib_mf_chi1(ib_mf_act a, double sigma_w2, double sigma_b2);

/* The sigma_w2 at which chi_1 = 1 at sigma_b = 0: 2 for ReLU, 1 for tanh, found by bisection
 * for sigmoid; NAN if chi_1 does not cross 1 in [1e-3, 1e8]. */
double ib_mf_critical_sigma_w2(ib_mf_act a);

/* chi_1 of a net whose biases are all the same constant `bias` (as initbench initialises them: a
 * constant shifts each preactivation's mean and adds no variance): preactivations N(bias, v) with
 * v_next = sigma_w2 E[f(bias + sqrt(v) z)^2], at the largest fixed point v* of that map (the one
 * reached from large v); chi_1 = sigma_w2 E[f'(bias + sqrt(v*) z)^2]. Equal to ib_mf_chi1(a,
 * sigma_w2, 0) when bias = 0. NAN for a non-finite input or sigma_w2 <= 0. */
double ib_mf_chi1_bias(ib_mf_act a, double sigma_w2, double bias);

/* The finite-depth prediction for a net of `depth` hidden layers of equal width, every hidden
 * weight with sigma_w2 and every bias the constant `bias`. The first hidden layer's
 * preactivations are taken as N(bias, q1 - bias^2) (q1: their measured second moment, mean of
 * z^2; the variance clamped at 0); then layer l+1 has N(bias, v_(l+1)), v_(l+1) = sigma_w2
 * E[f(z_l)^2]. Backward, each layer multiplies the second moment of dL/dz by
 * chi_l = sigma_w2 E[f'(z_l)^2], so (probe_format.md's definitions)
 *   log10_grad_ratio = 0.5 sum_(l=1)^(depth-1) log10 chi_l      rms dL/dz, first / last hidden
 *   log10_act_ratio  = 0.5 log10(E[f(z_depth)^2] / E[f(z_1)^2])  rms act, last / first hidden
 * both 0 at depth 1. grad[d-1] and act[d-1] get the values for depth d = 1..max_depth. Returns
 * 0, or -1 when an input is not finite, q1 < 0, sigma_w2 <= 0 or max_depth < 1 (outputs NAN).
 * Values may be +-inf where a factor is 0 (dead ReLUs), or NAN where both moments are 0. */
int ib_mf_predict(ib_mf_act a, double sigma_w2, double bias, double q1, int max_depth, double *grad, double *act);

#endif
