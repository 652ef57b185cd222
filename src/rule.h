/* rule.h - the rules of the paper, each written once (doc/math.md, "Update
 * rules" and "Equation -> code"): the rate map rho (Eq. 12-15), the sigmoid,
 * a rule's per-layer gains, its F_k from the combined branch input (Eq. 16
 * dendritic, Eq. 7 hopfield, Eq. 8 boltzmann), the nudged top layer of
 * equilibrium propagation, the rate passed on, and the convex potential phi of
 * the energies. Used by the relaxation (src/relax*.c) and the trainers. */
#ifndef FFR_RULE_H
#define FFR_RULE_H

#include <math.h>
#include "ffrelax.h"

/* The logistic sigmoid 1 / (1 + exp(-u)), in float. */
static inline float ffr_sigm(float u) { return 1.f / (1.f + expf(-u)); }

/* rho (doc/math.md, "Branches"): hard sigmoid max(0, min(1, s)), the logistic
 * sigmoid, or the identity. */
static inline float ffr_rho_apply(ffr_rho r, float s) {
    switch (r) {
    case FFR_RHO_HARDSIGMOID: return s < 0.f ? 0.f : (s > 1.f ? 1.f : s);
    case FFR_RHO_SIGMOID: return ffr_sigm(s);
    default: return s;
    }
}

/* F_k from the combined input u of layer k (no noise; for Gibbs, the
 * probability): dendritic (Eq. 16) u = (a_k f_k + d_k g_{k+1}) / kappa_k itself;
 * hopfield (Eq. 7) rho(u); boltzmann (Eq. 8) sigm(u), u = f_k + g_{k+1}. */
static inline float ffr_rule_F(ffr_rule rule, ffr_rho rho, float u) {
    switch (rule) {
    case FFR_RULE_DENDRITIC: return u;
    case FFR_RULE_HOPFIELD: return ffr_rho_apply(rho, u);
    default: return ffr_sigm(u);
    }
}

/* F_L of the nudged top layer (equilibrium propagation, beyond the paper;
 * doc/math.md "Nudging"): u = f_L, y the target, r the layer's current rate,
 * kap = a_up(L). Dendritic (Eq. 16 with an extra branch of gain beta):
 * (kap f_L + beta y) / (kap + beta); hopfield (Eq. 7) rho(f_L + beta (y - r));
 * boltzmann mean field (Eq. 8) sigm(f_L + beta (y - r)). */
static inline float ffr_rule_F_nudged(ffr_rule rule, ffr_rho rho, float u, float kap, float beta, float y, float r) {
    switch (rule) {
    case FFR_RULE_DENDRITIC: return (kap * u + beta * y) / (kap + beta);
    case FFR_RULE_HOPFIELD: return ffr_rho_apply(rho, u + beta * (y - r));
    default: return ffr_sigm(u + beta * (y - r));
    }
}

/* The rate a unit passes on (Eq. 12-15): rho(s) for dendritic units (s is the
 * voltage); the state itself for boltzmann units (a probability or a sample)
 * and for hopfield units with the logistic rho (their state is already the
 * rate sigm(f + g) of Eq. 7, and a clamped visible unit passes its data);
 * rho(s) for hopfield units with the hard sigmoid or the identity (= s on
 * their states in [0, 1]). */
static inline ffr_rho ffr_rule_rate_rho(ffr_rule rule, ffr_rho rho) {
    return rule == FFR_RULE_BOLTZMANN || (rule == FFR_RULE_HOPFIELD && rho == FFR_RHO_SIGMOID) ? FFR_RHO_IDENTITY : rho;
}
static inline float ffr_rule_rate(ffr_rule rule, ffr_rho rho, float s) {
    return ffr_rho_apply(ffr_rule_rate_rho(rule, rho), s);
}

/* The gains of layer k (0..L) of the rule: a = alpha_up (k >= 1, else 0),
 * d = alpha_down (k < L, else 0) and kappa = a + d for the dendritic rule
 * (Eq. 16); 1 for each branch present and kappa = 1 for hopfield and
 * boltzmann (total input f_k + g_{k+1}). */
static inline void ffr_rule_gains(const ffr_net *net, int k, double *a, double *d, double *kappa) {
    int L = net->L;
    if (net->rule == FFR_RULE_DENDRITIC) {
        *a = k >= 1 ? net->alpha_up[k] : 0;
        *d = k < L ? net->alpha_down[k] : 0;
        *kappa = *a + *d;
    } else {
        *a = k >= 1; *d = k < L; *kappa = 1;
    }
}

/* The convex potential phi of the energies (doc/math.md, "Energies"), with
 * phi' = rho^{-1}: the negative binary entropy for boltzmann units and the
 * logistic rho, r^2/2 otherwise. */
static inline double ffr_rule_phi(ffr_rule rule, ffr_rho rho, float r) {
    if (rule == FFR_RULE_BOLTZMANN || rho == FFR_RHO_SIGMOID) {
        double a = r > 0 ? r * log(r) : 0, b = r < 1 ? (1 - r) * log(1 - r) : 0;
        return a + b;
    }
    return 0.5 * (double)r * r;
}

/* rule.c: the median of v[0..n) (n >= 1; the mean of the two middle values
 * for even n), by selection in place (v is reordered; nothing allocated). */
double ffr_median(double *v, size_t n);

#endif
