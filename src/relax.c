/* relax.c - the relaxation engine: Eq. 9 written once for every rule.
 *
 *   s_k <- (1 - eps) s_k + eps F_k(f_k(s_{k-1}), g_{k+1}(s_{k+1})) + sqrt(2 eps T) xi
 *
 * F_k is the rule (Eq. 16 dendritic, Eq. 7 hopfield, Eq. 8 boltzmann), the
 * schedule says which layers move together (a "phase"), the start is Eq. 17
 * or zero/random/given, and clamped units never move. Every sweep records the
 * per-example step (the paper's Figure 1 metric) where the loop already has
 * the numbers; energy, residual and branch disagreement come from a measuring
 * evaluation of all branches (ffr_branches' arithmetic) every measure_every
 * sweeps. See doc/math.md for every equation as implemented.
 *
 * Layout: states are row-major (B, n_k). Examples that converge are swapped
 * to the end of the active rows, so later sweeps do work only on active
 * examples; the final state is put back in the caller's order. Nothing is
 * allocated inside the sweep loop. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

void ffr_relax_opts_default(ffr_relax_opts *o) {
    memset(o, 0, sizeof *o);
    o->init = FFR_INIT_FF;
    o->schedule = FFR_SCHED_ODD_EVEN;
    o->max_sweeps = 100;
    o->tol = 0;
    o->tol_mode = FFR_TOL_ABS;
    o->eps = 1.0;
    o->temperature = 0;
    o->gibbs = 0;
    o->seed = 1;
    o->measure_every = 0;
    o->diverge_factor = 1e4;
}

/* Coefficients of the rule for layer k: target u = cu * (W_k r_{k-1}) + cd * (V_{k+1} r_{k+1}) + bias,
 * then F = combine(u). Dendritic (Eq. 16): cu = a_up / kappa, cd = a_down / kappa,
 * bias = (a_up b_k + a_down c_k) / kappa, kappa = sum of the gains present.
 * Hopfield and Boltzmann: total input f_k + g_{k+1}, cu = cd = 1. */
typedef struct {
    float cu[FFR_MAX_LAYERS], cd[FFR_MAX_LAYERS];
    float *bias[FFR_MAX_LAYERS]; /* (n_k) */
} coefs;

static void coefs_fill(const ffr_net *net, coefs *c) {
    int L = net->L;
    for (int k = 0; k <= L; k++) {
        float au = k >= 1 ? net->alpha_up[k] : 0.f, ad = k < L ? net->alpha_down[k] : 0.f;
        if (net->rule != FFR_RULE_DENDRITIC) { au = k >= 1; ad = k < L; }
        float kap = net->rule == FFR_RULE_DENDRITIC ? au + ad : 1.f;
        c->cu[k] = au / kap;
        c->cd[k] = ad / kap;
        for (int j = 0; j < net->n[k]; j++) {
            float v = 0;
            if (k >= 1) v += c->cu[k] * net->b[k][j];
            if (k < L) v += c->cd[k] * net->c[k][j];
            c->bias[k][j] = v;
        }
    }
}

static inline float sigm(float u) { return 1.f / (1.f + expf(-u)); }

/* F_k from the combined input u (no noise; for Gibbs, the probability). */
static inline float combine(ffr_rule rule, ffr_rho rho, float u) {
    switch (rule) {
    case FFR_RULE_DENDRITIC: return u;
    case FFR_RULE_HOPFIELD: return ffr_rho_apply(rho, u);
    default: return sigm(u);
    }
}

/* F_L of the nudged top layer (doc/math.md, "Nudging", beyond the paper):
 * u is the rule's combined input f_L, y the target, r the layer's current
 * rate, kap = a_up(L). Dendritic (Eq. 16 with an extra branch of gain beta):
 * (kap f_L + beta y) / (kap + beta); hopfield (Eq. 7) rho(f_L + beta (y - r));
 * boltzmann mean field (Eq. 8) sigm(f_L + beta (y - r)). */
static inline float combine_nudged(ffr_rule rule, ffr_rho rho, float u, float kap, float beta, float y, float r) {
    switch (rule) {
    case FFR_RULE_DENDRITIC: return (kap * u + beta * y) / (kap + beta);
    case FFR_RULE_HOPFIELD: return ffr_rho_apply(rho, u + beta * (y - r));
    default: return sigm(u + beta * (y - r));
    }
}

/* Presynaptic rate of a state value: rho(s) (Eq. 12-15); boltzmann units pass their state. */
static inline float rate_of(ffr_rule rule, ffr_rho rho, float s) {
    return rule == FFR_RULE_BOLTZMANN ? s : ffr_rho_apply(rho, s);
}

/* The weights packed once per relaxation for the kernel (gemm.c): fp32 (up,
 * dn) or bf16 (up16, dn16); all NULL: every product goes to ffr_gemm. */
typedef struct {
    float *up[FFR_MAX_LAYERS], *dn[FFR_MAX_LAYERS];
    uint32_t *up16[FFR_MAX_LAYERS], *dn16[FFR_MAX_LAYERS];
} packs_t;

const char *ffr_precision_name(ffr_precision p) { return p == FFR_PREC_BF16 ? "bf16" : p == FFR_PREC_FP32 ? "fp32" : "?"; }
int ffr_precision_parse(const char *s, ffr_precision *p) {
    if (s && !strcmp(s, "fp32")) { *p = FFR_PREC_FP32; return 0; }
    if (s && !strcmp(s, "bf16")) { *p = FFR_PREC_BF16; return 0; }
    return -1;
}
int ffr_bf16_available(void) { return ffr_gemm_uses_fast() && ffr_gemm_bf16_available(); }

/* V_{k} product: Y[M, n_{k-1}] (+)= alpha * R_k[M, n_k] * V_k^T. Tied: V_k^T = W_k. */
/* pk: the weights packed for the kernel, or NULL: ffr_gemm (fp32 packs: the same arithmetic either way). */
static void gemm_down(const ffr_net *net, const packs_t *pk, int k, int M, float alpha, const float *Rk, float beta, float *Y) {
    int lo = net->n[k - 1], hi = net->n[k];
    if (pk && pk->dn16[k]) ffr_gemm_packed_bf16(M, lo, hi, alpha, Rk, hi, pk->dn16[k], beta, Y, lo);
    else if (pk && pk->dn[k]) ffr_gemm_packed(0, M, lo, hi, alpha, Rk, hi, pk->dn[k], beta, Y, lo);
    else if (net->tied) ffr_gemm(0, 0, M, lo, hi, alpha, Rk, hi, net->W[k], lo, beta, Y, lo);
    else ffr_gemm(0, 1, M, lo, hi, alpha, Rk, hi, net->V[k], hi, beta, Y, lo);
}
/* W_k product: Y[M, n_k] (+)= alpha * R_{k-1}[M, n_{k-1}] * W_k^T. */
static void gemm_up(const ffr_net *net, const packs_t *pk, int k, int M, float alpha, const float *Rkm1, float beta, float *Y) {
    int lo = net->n[k - 1], hi = net->n[k];
    if (pk && pk->up16[k]) ffr_gemm_packed_bf16(M, hi, lo, alpha, Rkm1, lo, pk->up16[k], beta, Y, hi);
    else if (pk && pk->up[k]) ffr_gemm_packed(0, M, hi, lo, alpha, Rkm1, lo, pk->up[k], beta, Y, hi);
    else ffr_gemm(0, 1, M, hi, lo, alpha, Rkm1, lo, net->W[k], lo, beta, Y, hi);
}

/* Evaluate raw branches for rows [0, M): f[k] = b_k + W_k r_{k-1} (k >= 1),
 * g[k] = c_k + V_{k+1} r_{k+1} (k < L), F[k] = combine(cu f + cd g) with the
 * rule's coefficients. R[k] are the rates. Outputs may be NULL per array. */
static void eval_branches(const ffr_net *net, const packs_t *pk, const coefs *cf,
                          float *const *R, int M, float **f, float **g, float **F) {
    int L = net->L;
    for (int k = 0; k <= L; k++) {
        int n = net->n[k];
        if (f && k >= 1) {
            gemm_up(net, pk, k, M, 1.f, R[k - 1], 0.f, f[k]);
            for (int r = 0; r < M; r++)
                for (int j = 0; j < n; j++) f[k][(size_t)r * n + j] += net->b[k][j];
        }
        if (g && k < L) {
            gemm_down(net, pk, k + 1, M, 1.f, R[k + 1], 0.f, g[k]);
            for (int r = 0; r < M; r++)
                for (int j = 0; j < n; j++) g[k][(size_t)r * n + j] += net->c[k][j];
        }
    }
    if (!F) return;
    for (int k = 0; k <= L; k++) {
        int n = net->n[k];
        for (size_t i = 0; i < (size_t)M * n; i++) {
            /* f and g already hold their offsets: u = cu f + cd g equals the bias form */
            float u = 0;
            if (k >= 1) u += cf->cu[k] * f[k][i];
            if (k < L) u += cf->cd[k] * g[k][i];
            F[k][i] = combine(net->rule, net->rho, u);
        }
    }
}

/* (B, n_k) per layer in one block; zero = 0 leaves it unset (and, for large
 * blocks, not resident until written: the relaxation's buffers are written
 * before they are read, and a clamped layer's target rows never are). */
static float *alloc_layers_z(const ffr_net *net, int B, float **v, int zero) {
    size_t tot = 0;
    for (int k = 0; k <= net->L; k++) tot += (size_t)B * net->n[k];
    float *p = ffr_big_alloc(tot, sizeof(float), zero);
    if (!p) return NULL;
    float *q = p;
    for (int k = 0; k <= net->L; k++) { v[k] = q; q += (size_t)B * net->n[k]; }
    return p;
}
static float *alloc_layers(const ffr_net *net, int B, float **v) { return alloc_layers_z(net, B, v, 1); }

void ffr_branches(const ffr_net *net, const ffr_state *st, float **f, float **g, float **F) {
    float *R[FFR_MAX_LAYERS], *ff[FFR_MAX_LAYERS], *gg[FFR_MAX_LAYERS];
    coefs cf;
    float *rb = alloc_layers(net, st->B, R);
    float *fb = alloc_layers(net, st->B, ff), *gb = alloc_layers(net, st->B, gg);
    float *bb = alloc_layers(net, 1, cf.bias);
    FFR_ASSERT(rb && fb && gb && bb);
    coefs_fill(net, &cf);
    for (int k = 0; k <= net->L; k++)
        for (size_t i = 0; i < (size_t)st->B * net->n[k]; i++) R[k][i] = rate_of(net->rule, net->rho, st->s[k][i]);
    eval_branches(net, NULL, &cf, R, st->B, ff, gg, F);
    for (int k = 0; k <= net->L; k++) {
        size_t sz = (size_t)st->B * net->n[k] * sizeof(float);
        if (f && k >= 1 && f[k]) memcpy(f[k], ff[k], sz);
        if (g && k < net->L && g[k]) memcpy(g[k], gg[k], sz);
    }
    free(rb); free(fb); free(gb); free(bb);
}

void ffr_feedforward(const ffr_net *net, const float *x, int B, ffr_state *st) {
    memcpy(st->s[0], x, (size_t)B * net->n[0] * sizeof(float));
    for (int k = 1; k <= net->L; k++) {
        int lo = net->n[k - 1], hi = net->n[k];
        float *rp = st->s[k]; /* rates of layer k-1 go to a scratch: reuse layer k's output after */
        float *tmp = malloc((size_t)B * lo * sizeof(float));
        FFR_ASSERT(tmp);
        for (size_t i = 0; i < (size_t)B * lo; i++) tmp[i] = rate_of(net->rule, net->rho, st->s[k - 1][i]);
        gemm_up(net, NULL, k, B, 1.f, tmp, 0.f, rp);
        for (int r = 0; r < B; r++)
            for (int j = 0; j < hi; j++) {
                float *v = &rp[(size_t)r * hi + j];
                *v = combine(net->rule, net->rho, *v + net->b[k][j]);
            }
        free(tmp);
    }
}

/* Energy terms (doc/math.md, "Energies"): phi is the convex potential whose
 * derivative is rho^{-1}. */
static double phi(ffr_rule rule, ffr_rho rho, float r) {
    if (rule == FFR_RULE_BOLTZMANN || rho == FFR_RHO_SIGMOID) {
        double a = r > 0 ? r * log(r) : 0, b = r < 1 ? (1 - r) * log(1 - r) : 0;
        return a + b;
    }
    return 0.5 * (double)r * r;
}

/* Per-example energy from states S, rates R and the bottom-up branches f
 * (f[k] - b_k = W_k r_{k-1}). Returns -1 if the network has no energy. */
/* beta != 0: plus the nudging term of the example perm[r] with target Y
 * (B, n_L): beta C = beta/2 ||y - r_L||^2 (hopfield, boltzmann), or the extra
 * branch's sig_L beta (pot(r_L) - y.r_L + 1/2 ||y||^2) (dendritic). */
static int energy_rows(const ffr_net *net, float *const *S, float *const *R, float *const *f, int M, double *E,
                       double nbeta, const float *Y, const int *perm) {
    if (!net->tied) return -1;
    int L = net->L;
    double sig[FFR_MAX_LAYERS], kap[FFR_MAX_LAYERS];
    for (int k = 0; k <= L; k++) {
        double au = k >= 1 ? net->alpha_up[k] : 0, ad = k < L ? net->alpha_down[k] : 0;
        if (net->rule != FFR_RULE_DENDRITIC) { au = k >= 1; ad = k < L; }
        kap[k] = net->rule == FFR_RULE_DENDRITIC ? au + ad : 1.0;
        sig[k] = k == 0 ? 1.0 : sig[k - 1] * (net->rule == FFR_RULE_DENDRITIC ? net->alpha_down[k - 1] / net->alpha_up[k] : 1.0);
    }
    for (int r = 0; r < M; r++) {
        double e = 0;
        for (int k = 0; k <= L; k++) {
            int n = net->n[k];
            const float *rr = R[k] + (size_t)r * n, *ss = S[k] + (size_t)r * n;
            double au = k >= 1 ? net->alpha_up[k] : 0, ad = k < L ? net->alpha_down[k] : 0;
            if (net->rule != FFR_RULE_DENDRITIC) { au = k >= 1; ad = k < L; }
            double pot = 0, lin = 0, cpl = 0;
            for (int j = 0; j < n; j++) {
                if (net->rule == FFR_RULE_HOPFIELD) pot += 0.5 * (double)ss[j] * ss[j]; /* Eq. 3 */
                else pot += phi(net->rule, net->rho, rr[j]);
                double beta = (k >= 1 ? au * net->b[k][j] : 0) + (k < L ? ad * net->c[k][j] : 0);
                lin += beta * rr[j];
                if (k >= 1) cpl += (double)rr[j] * (f[k][(size_t)r * n + j] - net->b[k][j]);
            }
            e += sig[k] * (kap[k] * pot - lin) - (k >= 1 ? sig[k] * au * cpl : 0);
        }
        if (nbeta != 0) {
            int n = net->n[L];
            const float *y = Y + (size_t)perm[r] * n, *rr = R[L] + (size_t)r * n;
            double c = 0;
            for (int j = 0; j < n; j++) {
                if (net->rule == FFR_RULE_DENDRITIC)
                    c += phi(net->rule, net->rho, rr[j]) - (double)y[j] * rr[j] + 0.5 * (double)y[j] * y[j];
                else c += 0.5 * ((double)y[j] - rr[j]) * ((double)y[j] - rr[j]);
            }
            e += (net->rule == FFR_RULE_DENDRITIC ? sig[L] : 1.0) * nbeta * c;
        }
        E[r] = e;
    }
    return 0;
}

int ffr_energy(const ffr_net *net, const ffr_state *st, double *E) {
    if (!net->tied) return -1;
    float *R[FFR_MAX_LAYERS], *f[FFR_MAX_LAYERS];
    float *rb = alloc_layers(net, st->B, R), *fb = alloc_layers(net, st->B, f);
    FFR_ASSERT(rb && fb);
    for (int k = 0; k <= net->L; k++)
        for (size_t i = 0; i < (size_t)st->B * net->n[k]; i++) R[k][i] = rate_of(net->rule, net->rho, st->s[k][i]);
    for (int k = 1; k <= net->L; k++) {
        gemm_up(net, NULL, k, st->B, 1.f, R[k - 1], 0.f, f[k]);
        for (int r = 0; r < st->B; r++)
            for (int j = 0; j < net->n[k]; j++) f[k][(size_t)r * net->n[k] + j] += net->b[k][j];
    }
    int rc = energy_rows(net, st->s, R, f, st->B, E, 0, NULL, NULL);
    free(rb); free(fb);
    return rc;
}

void ffr_trace_free(ffr_trace *t) {
    if (!t) return;
    free(t->step_mean); free(t->step_median); free(t->step_max); free(t->rstep_mean);
    free(t->relstep_median); free(t->n_active); free(t->frac_converged); free(t->measured);
    free(t->energy_mean); free(t->residual_mean); free(t->disagree); free(t->mpe_up);
    free(t->mpe_down); free(t->step); free(t->sweeps); free(t->converged); free(t->dist);
    free(t->norm); free(t->residual); free(t->rate);
    free(t);
}

static ffr_trace *trace_alloc(int B, int L, int T) {
    ffr_trace *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    size_t R = (size_t)T + 1;
    t->B = B; t->L = L; t->max_sweeps = T;
    int ok = (t->step_mean = calloc(R, sizeof(double))) && (t->step_median = calloc(R, sizeof(double))) &&
             (t->step_max = calloc(R, sizeof(double))) && (t->rstep_mean = calloc(R, sizeof(double))) &&
             (t->relstep_median = calloc(R, sizeof(double))) && (t->n_active = calloc(R, sizeof(int))) &&
             (t->frac_converged = calloc(R, sizeof(double))) && (t->measured = calloc(R, sizeof(int))) &&
             (t->energy_mean = calloc(R, sizeof(double))) && (t->residual_mean = calloc(R, sizeof(double))) &&
             (t->disagree = ffr_calloc(R * (L + 1), sizeof(double))) &&
             (t->mpe_up = ffr_calloc(R * (L + 1), sizeof(double))) &&
             (t->mpe_down = ffr_calloc(R * (L + 1), sizeof(double))) &&
             (t->step = ffr_calloc(R * B, sizeof(float))) && (t->sweeps = calloc(B, sizeof(int))) &&
             (t->converged = calloc(B, 1)) && (t->dist = calloc(B, sizeof(float))) &&
             (t->norm = calloc(B, sizeof(float))) && (t->residual = calloc(B, sizeof(float))) &&
             (t->rate = calloc(B, sizeof(float)));
    if (!ok) { ffr_trace_free(t); return NULL; }
    for (size_t i = 0; i < R; i++) {
        t->energy_mean[i] = t->residual_mean[i] = NAN;
        for (int k = 0; k <= L; k++) t->disagree[i * (L + 1) + k] = t->mpe_up[i * (L + 1) + k] = t->mpe_down[i * (L + 1) + k] = NAN;
    }
    for (size_t i = 0; i < R * B; i++) t->step[i] = NAN;
    return t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Everything the loop needs, allocated once before the first sweep. */
typedef struct {
    const ffr_net *net;
    int B, L, nact;
    float *R[FFR_MAX_LAYERS];   /* rates (B, n_k) */
    float *T[FFR_MAX_LAYERS];   /* targets (B, n_k) */
    float *mf[FFR_MAX_LAYERS], *mg[FFR_MAX_LAYERS], *mF[FFR_MAX_LAYERS]; /* measuring buffers */
    float *S0[FFR_MAX_LAYERS];  /* start state, caller's order */
    float *cup, *cdown;         /* cached W_1 r_0 (B, n_1) and V_L r_L (B, n_{L-1}) */
    packs_t pk;                 /* W_k and V_k packed for the kernel (or all NULL) */
    void *packbuf;
    int free_layer[FFR_MAX_LAYERS];
    const unsigned char *mask; /* layer 0 mask (1 = clamped), NULL: layer 0 all clamped */
    int *perm;                  /* row -> example */
    ffr_rng *rng;               /* per row */
    double *step2, *rstep2, *norm2, *scratch, *meas;
    float *rowtmp;
    coefs cf;
    double flops;
    double beta;                /* nudging of the top layer (opts.beta); 0: none */
    const float *ytop;          /* (B, n_L) its target, caller's order (row r is example perm[r]) */
    void *blocks[8];
    /* Anderson acceleration (opts.anderson = m > 0): per example (indexed by perm[row], so
     * the active-set swaps leave it in place), the last m + 1 pairs of the sweep map's
     * residual f_j = G(x_j) - x_j and output g_j over the free layers, slot-major
     * ((slot * B + example) * nf); the slot after the newest holds the next iterate x. */
    int aa_m, aa_nf, aa_head, aa_off[FFR_MAX_LAYERS];
    float *aaF, *aaG, *aatmp;   /* aatmp: one row per thread */
    double *aaFF, *aa_res;      /* (B, m+1, m+1) dots f_i . f_j; (B) previous ||f||^2 */
    int *aa_cnt;                /* (B) valid pairs */
} ws_t;

static void ws_free(ws_t *w) {
    for (int i = 0; i < 8; i++) free(w->blocks[i]);
    free(w->cup); free(w->cdown); free(w->perm); free(w->rng); free(w->step2); free(w->rstep2);
    free(w->norm2); free(w->scratch); free(w->meas); free(w->rowtmp); free(w->packbuf);
    free(w->aaF); free(w->aaG); free(w->aatmp); free(w->aaFF); free(w->aa_res); free(w->aa_cnt);
}

/* Pack every weight matrix once for the AVX-512 kernel (when ffr_gemm uses it):
 * W_k as op(B) of the up product (N = n_k, K = n_{k-1}) and V_k (tied: W_k) of
 * the down product (N = n_{k-1}, K = n_k); bf16 pairs when bf16 != 0. Returns 0
 * if out of memory. */
static int ws_pack(ws_t *w, int bf16) {
    const ffr_net *net = w->net;
    if (!ffr_gemm_uses_fast()) return 1;
    size_t tot = 0;
    for (int k = 1; k <= w->L; k++)
        tot += bf16 ? ffr_gemm_pack_bf16_words(net->n[k], net->n[k - 1]) + ffr_gemm_pack_bf16_words(net->n[k - 1], net->n[k])
                    : ffr_gemm_pack_floats(net->n[k], net->n[k - 1]) + ffr_gemm_pack_floats(net->n[k - 1], net->n[k]);
    w->packbuf = ffr_big_alloc(tot, 4, 0);
    if (!w->packbuf) return 0;
    float *q = w->packbuf;
    uint32_t *q16 = w->packbuf;
    for (int k = 1; k <= w->L; k++) {
        int lo = net->n[k - 1], hi = net->n[k];
        const float *V = net->tied ? net->W[k] : net->V[k];
        int vt = !net->tied, ldv = net->tied ? lo : hi;
        if (bf16) {
            w->pk.up16[k] = q16;
            ffr_gemm_pack_bf16(q16, 1, hi, lo, net->W[k], lo);
            q16 += ffr_gemm_pack_bf16_words(hi, lo);
            w->pk.dn16[k] = q16;
            ffr_gemm_pack_bf16(q16, vt, lo, hi, V, ldv);
            q16 += ffr_gemm_pack_bf16_words(lo, hi);
        } else {
            w->pk.up[k] = q;
            ffr_gemm_pack(q, 1, hi, lo, net->W[k], lo);
            q += ffr_gemm_pack_floats(hi, lo);
            w->pk.dn[k] = q;
            ffr_gemm_pack(q, vt, lo, hi, V, ldv);
            q += ffr_gemm_pack_floats(lo, hi);
        }
    }
    return 1;
}

static void swap_rows(float *a, int n, int r1, int r2, float *tmp) {
    size_t sz = (size_t)n * sizeof(float);
    memcpy(tmp, a + (size_t)r1 * n, sz);
    memcpy(a + (size_t)r1 * n, a + (size_t)r2 * n, sz);
    memcpy(a + (size_t)r2 * n, tmp, sz);
}

static void ws_swap(ws_t *w, ffr_state *st, int r1, int r2) {
    if (r1 == r2) return;
    for (int k = 0; k <= w->L; k++) {
        swap_rows(st->s[k], w->net->n[k], r1, r2, w->rowtmp);
        swap_rows(w->R[k], w->net->n[k], r1, r2, w->rowtmp);
    }
    if (w->cup) swap_rows(w->cup, w->net->n[1], r1, r2, w->rowtmp);
    if (w->cdown) swap_rows(w->cdown, w->net->n[w->L - 1], r1, r2, w->rowtmp);
    int p = w->perm[r1]; w->perm[r1] = w->perm[r2]; w->perm[r2] = p;
    ffr_rng g = w->rng[r1]; w->rng[r1] = w->rng[r2]; w->rng[r2] = g;
    double d;
    d = w->step2[r1]; w->step2[r1] = w->step2[r2]; w->step2[r2] = d;
    d = w->rstep2[r1]; w->rstep2[r1] = w->rstep2[r2]; w->rstep2[r2] = d;
    d = w->norm2[r1]; w->norm2[r1] = w->norm2[r2]; w->norm2[r2] = d;
}

/* Is unit j of layer k free (moves)? */
static inline int unit_free(const ws_t *w, int k, int j) {
    if (!w->free_layer[k]) return 0;
    if (k == 0) return w->mask ? !w->mask[j] : 0;
    return 1;
}

/* Rows per measuring evaluation: the measuring buffers hold this many rows,
 * not B, so that measuring costs no memory in proportion to the batch. */
#define FFR_MEASURE_ROWS 128

/* Measure all B rows (active and stopped) at the current state: energy,
 * residual, disagreement, Eq. 22 errors. Writes row `t` of the trace; when
 * final != 0 also the per-example residual. Evaluated in chunks of at most
 * FFR_MEASURE_ROWS rows (never a chunk of one row out of several, which would
 * take the sgemv path and round differently). */
static void measure(ws_t *w, ffr_state *st, ffr_trace *tr, int t, int final) {
    const ffr_net *net = w->net;
    int B = w->B, L = w->L, Lp = L + 1;
    for (int k = 1; k <= L; k++) w->flops += 4.0 * B * net->n[k] * net->n[k - 1];
    double *E = w->meas;
    int has_e = 0;
    double esum = 0, rsum = 0;
    double dis[FFR_MAX_LAYERS] = {0}, mu[FFR_MAX_LAYERS] = {0}, md[FFR_MAX_LAYERS] = {0};
    for (int r0 = 0; r0 < B;) {
        int m = B - r0 < FFR_MEASURE_ROWS ? B - r0 : FFR_MEASURE_ROWS;
        if (B - r0 - m == 1) m--;
        float *Rc[FFR_MAX_LAYERS], *Sc[FFR_MAX_LAYERS];
        for (int k = 0; k <= L; k++) {
            Rc[k] = w->R[k] + (size_t)r0 * net->n[k];
            Sc[k] = st->s[k] + (size_t)r0 * net->n[k];
        }
        eval_branches(net, &w->pk, &w->cf, Rc, m, w->mf, w->mg, w->mF);
        if (w->beta != 0) /* the nudged top layer's F_L */
            for (int r = 0; r < m; r++) {
                int n = net->n[L];
                const float *y = w->ytop + (size_t)w->perm[r0 + r] * n;
                float *Fr = w->mF[L] + (size_t)r * n, *fr = w->mf[L] + (size_t)r * n, *rr = Rc[L] + (size_t)r * n;
                for (int j = 0; j < n; j++)
                    Fr[j] = combine_nudged(net->rule, net->rho, w->cf.cu[L] * fr[j], net->alpha_up[L], (float)w->beta, y[j], rr[j]);
            }
        has_e = energy_rows(net, Sc, Rc, w->mf, m, E + r0, w->beta, w->ytop, w->perm + r0) == 0;
        for (int r = r0; r < r0 + m; r++) {
            double res = 0;
            for (int k = 0; k <= L; k++) {
                int n = net->n[k];
                size_t o = (size_t)(r - r0) * n, os = (size_t)r * n;
                double dk = 0, uk = 0, dd = 0;
                for (int j = 0; j < n; j++) {
                    float s = st->s[k][os + j];
                    if (unit_free(w, k, j)) { double e = w->mF[k][o + j] - s; res += e * e; }
                    if (k >= 1) { double e = s - w->mf[k][o + j]; uk += e * e; }
                    if (k < L) { double e = s - w->mg[k][o + j]; dd += e * e; }
                    if (k >= 1 && k < L) { double e = w->mf[k][o + j] - w->mg[k][o + j]; dk += e * e; }
                }
                dis[k] += sqrt(dk); mu[k] += uk; md[k] += dd;
            }
            rsum += sqrt(res);
            if (has_e) esum += E[r];
            if (final) tr->residual[w->perm[r]] = (float)sqrt(res);
        }
        r0 += m;
    }
    tr->measured[t] = 1;
    tr->energy_mean[t] = has_e ? esum / B : NAN;
    tr->residual_mean[t] = rsum / B;
    for (int k = 0; k <= L; k++) {
        tr->disagree[(size_t)t * Lp + k] = (k >= 1 && k < L) ? dis[k] / B : NAN;
        tr->mpe_up[(size_t)t * Lp + k] = k >= 1 ? mu[k] / B : NAN;
        tr->mpe_down[(size_t)t * Lp + k] = k < L ? md[k] / B : NAN;
    }
}

/* Phases of one sweep: bitmasks of layers updated together. */
static int phases_of(const ws_t *w, ffr_schedule sc, unsigned *ph) {
    int L = w->L, np = 0;
    unsigned odd = 0, even = 0, all = 0;
    for (int k = 0; k <= L; k++) {
        if (!w->free_layer[k]) continue;
        if (k & 1) odd |= 1u << k; else even |= 1u << k;
        all |= 1u << k;
    }
    if (sc == FFR_SCHED_ODD_EVEN) {
        if (odd) ph[np++] = odd;
        if (even) ph[np++] = even;
    } else if (sc == FFR_SCHED_SYNC) {
        ph[np++] = all;
    } else {
        for (int k = 0; k <= L; k++) if (all & (1u << k)) ph[np++] = 1u << k;
    }
    return np;
}

/* The fused elementwise pass of a free hidden layer (k >= 1) without noise or
 * Gibbs sampling: v = T + bias (+ cached clamped products), F = combine(v),
 * s' = (1 - eps) s + eps F, r' = rate(s'), and the row's squared step, rate
 * step and norm. The arithmetic per unit is exactly update_layer's (same
 * operations in the same order, no contraction under -std=c11), so states and
 * rates are bit-identical; the three sums are accumulated in double over 8
 * interleaved lanes (so that the loop vectorizes) and then added, which can
 * differ from a left-to-right double sum in the last bits of the step.
 * Inlined with constant rule, rho and cache flags, one branch-free loop each. */
#define FFR_LANES 8
/* One unit of the pass: v = T + bias (+ cached products), Eq. 9, the rate, and
 * the squared step, rate step and norm added into one lane. */
static inline __attribute__((always_inline)) void unit_pass(
    float *restrict s, float *restrict rt, const float *restrict u, const float *restrict bias,
    const float *restrict c1, float cs1, const float *restrict c2, float cs2, int j, float keep, float eps,
    ffr_rule rule, ffr_rho rho, int has1, int has2, double *ad, double *ar, double *an) {
    float v = u[j] + bias[j];
    if (has1) v += cs1 * c1[j];
    if (has2) v += cs2 * c2[j];
    float sn = keep * s[j] + eps * combine(rule, rho, v);
    float rn = rate_of(rule, rho, sn);
    double d = (double)sn - s[j], rd = (double)rn - rt[j];
    *ad += d * d; *ar += rd * rd; *an += (double)sn * sn;
    s[j] = sn; rt[j] = rn;
}
static inline __attribute__((always_inline)) void row_update(
    float *restrict s, float *restrict rt, const float *restrict u, const float *restrict bias,
    const float *restrict c1, float cs1, const float *restrict c2, float cs2, int n, float keep,
    float eps, ffr_rule rule, ffr_rho rho, int has1, int has2, double *d2o, double *rd2o, double *nno) {
    double ad[FFR_LANES] = {0}, ar[FFR_LANES] = {0}, an[FFR_LANES] = {0};
    int j = 0;
    for (; j + FFR_LANES <= n; j += FFR_LANES)
        for (int l = 0; l < FFR_LANES; l++)
            unit_pass(s, rt, u, bias, c1, cs1, c2, cs2, j + l, keep, eps, rule, rho, has1, has2, ad + l, ar + l, an + l);
    for (; j < n; j++) unit_pass(s, rt, u, bias, c1, cs1, c2, cs2, j, keep, eps, rule, rho, has1, has2, ad, ar, an);
    double d2 = 0, rd2 = 0, nn = 0;
    for (int l = 0; l < FFR_LANES; l++) { d2 += ad[l]; rd2 += ar[l]; nn += an[l]; }
    *d2o = d2; *rd2o = rd2; *nno = nn;
}

/* The same pass in AVX-512 for the rules whose F and rate are min/max or the
 * identity (dendritic and hopfield units with hard-sigmoid or linear rho):
 * every float operation is row_update's, in its order, without contraction
 * (the intrinsics are separate multiplies and adds), the hard sigmoid is two
 * ordered compares and blends (so NaN and -0 come out as in the C code), and
 * the double sums keep row_update's 8 lanes: elements j..j+7 then j+8..j+15
 * go into lanes 0..7 in that order, the tail into lane 0. Bit-identical to
 * row_update (tests/test_relax.c checks it). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(FFR_NO_AVX512)
#define FFR_HAVE_VROW 1
#include <immintrin.h>
#define VTGT __attribute__((target("avx512f,avx512dq")))
static inline __attribute__((always_inline)) VTGT __m512 vhs(__m512 x) {
    __mmask16 lo = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __mmask16 hi = _mm512_cmp_ps_mask(x, _mm512_set1_ps(1.f), _CMP_GT_OQ);
    x = _mm512_mask_mov_ps(x, lo, _mm512_setzero_ps());
    return _mm512_mask_mov_ps(x, hi, _mm512_set1_ps(1.f));
}
/* hs: F (combine) and rate are the hard sigmoid (1) or the identity (0). */
static inline __attribute__((always_inline)) VTGT void vrow_update(
    float *restrict s, float *restrict rt, const float *restrict u, const float *restrict bias,
    const float *restrict c1, float cs1, const float *restrict c2, float cs2, int n, float keep,
    float eps, ffr_rule rule, ffr_rho rho, int fhs, int rhs, int has1, int has2, double *d2o, double *rd2o, double *nno) {
    __m512d ad = _mm512_setzero_pd(), ar = ad, an = ad;
    __m512 vk = _mm512_set1_ps(keep), ve = _mm512_set1_ps(eps), v1 = _mm512_set1_ps(cs1), v2 = _mm512_set1_ps(cs2);
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(u + j), _mm512_loadu_ps(bias + j));
        if (has1) v = _mm512_add_ps(v, _mm512_mul_ps(v1, _mm512_loadu_ps(c1 + j)));
        if (has2) v = _mm512_add_ps(v, _mm512_mul_ps(v2, _mm512_loadu_ps(c2 + j)));
        if (fhs) v = vhs(v);
        __m512 so = _mm512_loadu_ps(s + j), ro = _mm512_loadu_ps(rt + j);
        __m512 sn = _mm512_add_ps(_mm512_mul_ps(vk, so), _mm512_mul_ps(ve, v));
        __m512 rn = rhs ? vhs(sn) : sn;
        _mm512_storeu_ps(s + j, sn);
        _mm512_storeu_ps(rt + j, rn);
        for (int h = 0; h < 2; h++) {
            __m256 snh = h ? _mm512_extractf32x8_ps(sn, 1) : _mm512_castps512_ps256(sn);
            __m256 soh = h ? _mm512_extractf32x8_ps(so, 1) : _mm512_castps512_ps256(so);
            __m256 rnh = h ? _mm512_extractf32x8_ps(rn, 1) : _mm512_castps512_ps256(rn);
            __m256 roh = h ? _mm512_extractf32x8_ps(ro, 1) : _mm512_castps512_ps256(ro);
            __m512d snd = _mm512_cvtps_pd(snh);
            __m512d d = _mm512_sub_pd(snd, _mm512_cvtps_pd(soh));
            __m512d rd = _mm512_sub_pd(_mm512_cvtps_pd(rnh), _mm512_cvtps_pd(roh));
            ad = _mm512_add_pd(ad, _mm512_mul_pd(d, d));
            ar = _mm512_add_pd(ar, _mm512_mul_pd(rd, rd));
            an = _mm512_add_pd(an, _mm512_mul_pd(snd, snd));
        }
    }
    double lad[FFR_LANES], lar[FFR_LANES], lan[FFR_LANES];
    _mm512_storeu_pd(lad, ad); _mm512_storeu_pd(lar, ar); _mm512_storeu_pd(lan, an);
    for (; j < n; j++) { /* row_update's arithmetic: lanes for a full group of 8, lane 0 after */
        int l = j < (n & ~7) ? (j & 7) : 0;
        unit_pass(s, rt, u, bias, c1, cs1, c2, cs2, j, keep, eps, rule, rho, has1, has2, lad + l, lar + l, lan + l);
    }
    double d2 = 0, rd2 = 0, nn = 0;
    for (int l = 0; l < FFR_LANES; l++) { d2 += lad[l]; rd2 += lar[l]; nn += lan[l]; }
    *d2o = d2; *rd2o = rd2; *nno = nn;
}
#endif

#ifdef FFR_HAVE_VROW
/* update_rows_fast's rows [r0, r1) with vrow_update; returns the non-finite flag. */
static VTGT int vrows(ws_t *w, ffr_state *st, int k, int r0, int r1, int n, float keep, float eps, const float *bias,
                      const float *c1, float cs1, const float *c2, float cs2) {
    const ffr_net *net = w->net;
    int fhs = net->rule == FFR_RULE_HOPFIELD && net->rho == FFR_RHO_HARDSIGMOID, rhs = net->rho == FFR_RHO_HARDSIGMOID;
    int bad = 0;
    for (int r = r0; r < r1; r++) {
        size_t o_ = (size_t)r * n;
        float *s = st->s[k] + o_, *rt = w->R[k] + o_;
        const float *u = w->T[k] + o_, *p1 = c1 ? c1 + o_ : NULL, *p2 = c2 ? c2 + o_ : NULL;
        double d2, rd2, nn;
#define FFR_VROW(F, R, H1, H2) \
    vrow_update(s, rt, u, bias, p1, cs1, p2, cs2, n, keep, eps, net->rule, net->rho, F, R, H1, H2, &d2, &rd2, &nn)
        if (fhs) FFR_VROW(1, 1, p1 != NULL, p2 != NULL);
        else if (rhs) {
            if (p1 && p2) FFR_VROW(0, 1, 1, 1);
            else if (p1) FFR_VROW(0, 1, 1, 0);
            else if (p2) FFR_VROW(0, 1, 0, 1);
            else FFR_VROW(0, 1, 0, 0);
        } else FFR_VROW(0, 0, p1 != NULL, p2 != NULL);
#undef FFR_VROW
        if (!isfinite(d2)) bad = 1;
        w->step2[r] += d2; w->rstep2[r] += rd2; w->norm2[r] += nn;
    }
    return bad;
}
#endif

/* The vector pass: on where the CPU has AVX-512F and DQ (ffr_relax_simd(0)
 * turns it off, for the tests that compare it with row_update). */
static int g_simd = -1;
void ffr_relax_simd(int on) { g_simd = on ? -1 : 0; }
static int simd_on(void) {
#ifdef FFR_HAVE_VROW
    static int avail = -1;
    if (g_simd == 0) return 0;
    if (avail < 0) {
        __builtin_cpu_init();
        avail = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    }
    return avail;
#else
    return 0;
#endif
}

/* update_layer for k >= 1, no noise, no Gibbs: the common case, specialised. */
static int update_rows_fast(ws_t *w, ffr_state *st, const ffr_relax_opts *o, int k, int r0, int r1) {
    const ffr_net *net = w->net;
    int n = net->n[k];
    float eps = (float)o->eps, keep = 1.f - eps;
    const float *bias = w->cf.bias[k];
    const float *c1 = (k == 1 && w->cup) ? w->cup : NULL, *c2 = (k == w->L - 1 && w->cdown) ? w->cdown : NULL;
    float cs1 = w->cf.cu[k], cs2 = w->cf.cd[k];
    int fast = net->rule == FFR_RULE_DENDRITIC && net->rho == FFR_RHO_HARDSIGMOID;
    int bad = 0;
#ifdef FFR_HAVE_VROW
    if (net->rule != FFR_RULE_BOLTZMANN && net->rho != FFR_RHO_SIGMOID && simd_on())
        return vrows(w, st, k, r0, r1, n, keep, eps, bias, c1, cs1, c2, cs2);
#endif
    for (int r = r0; r < r1; r++) {
        size_t o_ = (size_t)r * n;
        float *s = st->s[k] + o_, *rt = w->R[k] + o_;
        const float *u = w->T[k] + o_, *p1 = c1 ? c1 + o_ : NULL, *p2 = c2 ? c2 + o_ : NULL;
        double d2, rd2, nn;
#define FFR_ROW(RULE, RHO, H1, H2) row_update(s, rt, u, bias, p1, cs1, p2, cs2, n, keep, eps, RULE, RHO, H1, H2, &d2, &rd2, &nn)
        if (fast) {
            if (p1 && p2) FFR_ROW(FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 1);
            else if (p1) FFR_ROW(FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 0);
            else if (p2) FFR_ROW(FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 1);
            else FFR_ROW(FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 0);
        } else FFR_ROW(net->rule, net->rho, p1 != NULL, p2 != NULL);
#undef FFR_ROW
        if (!isfinite(d2)) bad = 1;
        w->step2[r] += d2; w->rstep2[r] += rd2; w->norm2[r] += nn;
    }
    return bad;
}

/* The rows split over the kernel's threads (each row's arithmetic is the same
 * whichever thread does it, so results do not depend on the thread count). */
typedef struct { ws_t *w; ffr_state *st; const ffr_relax_opts *o; int k, bad[64]; } upd_t;
static void update_part(void *arg, int t, int nt) {
    upd_t *u = arg;
    int M = u->w->nact;
    u->bad[t] = update_rows_fast(u->w, u->st, u->o, u->k, (int)((long)M * t / nt), (int)((long)M * (t + 1) / nt));
}
/* Threads for the elementwise and Anderson passes: the kernel's (1 without it), at most 64. */
static int pass_threads(void) {
    int nt = ffr_gemm_uses_fast() ? ffr_gemm_threads() : 1;
    return nt < 1 ? 1 : nt > 64 ? 64 : nt;
}
static int update_layer_fast(ws_t *w, ffr_state *st, const ffr_relax_opts *o, int k) {
    int nt = pass_threads();
    long work = (long)w->nact * w->net->n[k];
    if (work < 65536L * nt) nt = work / 65536 > 1 ? (int)(work / 65536) : 1;
    if (nt <= 1) return update_rows_fast(w, st, o, k, 0, w->nact);
    upd_t u = {w, st, o, k, {0}};
    ffr_parallel(nt, update_part, &u);
    int bad = 0;
    for (int t = 0; t < nt; t++) bad |= u.bad[t];
    return bad;
}

/* update_layer goes to update_rows_fast for hidden layers (no noise, no Gibbs). */
static int fast_update(const ffr_relax_opts *o) { return !o->gibbs && !(o->temperature > 0); }
static int g_fuse = 1; /* ffr_relax_fuse(0): the separate pass, for the tests that compare the two */
void ffr_relax_fuse(int on) { g_fuse = on != 0; }

/* Update layer k for rows [0, nact) from the target products in T[k]. Returns
 * 0, or 1 if a non-finite value appeared. */
static int update_layer(ws_t *w, ffr_state *st, const ffr_relax_opts *o, int k) {
    const float *ny = k == w->L && w->beta != 0 ? w->ytop : NULL; /* nudged top: this C path */
    if (k >= 1 && fast_update(o) && !ny) return update_layer_fast(w, st, o, k);
    const ffr_net *net = w->net;
    int n = net->n[k], M = w->nact;
    float eps = (float)o->eps, keep = 1.f - eps;
    float nsd = o->temperature > 0 ? (float)sqrt(2.0 * o->eps * o->temperature) : 0.f;
    float cup = w->cf.cu[k], cdown = w->cf.cd[k];
    const float *bias = w->cf.bias[k];
    const float *cache = NULL; float cscale = 0;
    if (k == 1 && w->cup) { cache = w->cup; cscale = cup; }
    const float *cache2 = NULL; float cscale2 = 0;
    if (k == w->L - 1 && w->cdown) { cache2 = w->cdown; cscale2 = cdown; }
    int bad = 0;
    for (int r = 0; r < M; r++) {
        float *s = st->s[k] + (size_t)r * n, *rt = w->R[k] + (size_t)r * n;
        const float *u = w->T[k] + (size_t)r * n;
        double d2 = 0, rd2 = 0, nn = 0;
        for (int j = 0; j < n; j++) {
            if (k == 0 && !unit_free(w, 0, j)) continue;
            float v = u[j] + bias[j];
            if (cache) v += cscale * cache[(size_t)r * n + j];
            if (cache2) v += cscale2 * cache2[(size_t)r * n + j];
            float F = ny ? combine_nudged(net->rule, net->rho, v, net->alpha_up[k], (float)o->beta,
                                          ny[(size_t)w->perm[r] * n + j], rt[j])
                         : combine(net->rule, net->rho, v), sn;
            if (o->gibbs) sn = ffr_rng_uniform(&w->rng[r]) < F ? 1.f : 0.f; /* Eq. 8 */
            else {
                sn = keep * s[j] + eps * F; /* Eq. 9 */
                if (nsd > 0) sn += nsd * (float)ffr_rng_normal(&w->rng[r]);
            }
            float rn = rate_of(net->rule, net->rho, sn);
            double d = (double)sn - s[j], rd = (double)rn - rt[j];
            d2 += d * d; rd2 += rd * rd; nn += (double)sn * sn;
            s[j] = sn; rt[j] = rn;
        }
        if (!isfinite(d2)) bad = 1;
        w->step2[r] += d2; w->rstep2[r] += rd2; w->norm2[r] += nn;
    }
    return bad;
}

/* The update fused into the layer's last product (gemm.c's epilogue): rows
 * [r0, r1) of layer k updated by the thread that has just computed them, while
 * their targets are in its cache. The same update_rows_fast on the same rows,
 * after the same products: bit-identical to the separate pass. */
typedef struct { ws_t *w; ffr_state *st; const ffr_relax_opts *o; int k; atomic_int bad; } fused_t;
static void fused_rows(void *ctx, int r0, int r1) {
    fused_t *f = ctx;
    if (update_rows_fast(f->w, f->st, f->o, f->k, r0, r1)) atomic_store_explicit(&f->bad, 1, memory_order_relaxed);
}
/* The layer's last product with the kernel and the epilogue; 1 if it ran (the
 * layer is updated), 0 if not (packs absent or columns split over threads). */
static int gemm_fused(const ffr_net *net, const packs_t *pk, int down, int k, int M, float alpha, const float *Rx,
                      float beta, float *Y, fused_t *fu) {
    ffr_gemm_epi epi = {fused_rows, fu};
    int lo = net->n[k - 1], hi = net->n[k];
    if (down) {
        if (!pk->dn16[k] && !pk->dn[k]) return -1;
        return ffr_gemm_packed_epi(0, M, lo, hi, alpha, Rx, hi, pk->dn[k], pk->dn16[k], beta, Y, lo, &epi);
    }
    if (!pk->up16[k] && !pk->up[k]) return -1;
    return ffr_gemm_packed_epi(0, M, hi, lo, alpha, Rx, lo, pk->up[k], pk->up16[k], beta, Y, hi, &epi);
}

/* Target products for layer k into T[k] rows [0, nact): the parts not cached.
 * fu: the fused update may run with the last product; returns 1 if it did. */
static int products(ws_t *w, int k, fused_t *fu) {
    const ffr_net *net = w->net;
    int M = w->nact, L = w->L;
    float beta = 0.f;
    int n = net->n[k], done = 0;
    int up = k >= 1 && !(k == 1 && w->cup), dn = k < L && !(k == L - 1 && w->cdown);
    if (up) {
        w->flops += 2.0 * M * n * net->n[k - 1];
        int r = fu && !dn ? gemm_fused(net, &w->pk, 0, k, M, w->cf.cu[k], w->R[k - 1], 0.f, w->T[k], fu) : -1;
        if (r < 0) gemm_up(net, &w->pk, k, M, w->cf.cu[k], w->R[k - 1], 0.f, w->T[k]);
        done = r > 0; beta = 1.f;
    }
    if (dn) {
        w->flops += 2.0 * M * n * net->n[k + 1];
        int r = fu ? gemm_fused(net, &w->pk, 1, k + 1, M, w->cf.cd[k], w->R[k + 1], beta, w->T[k], fu) : -1;
        if (r < 0) gemm_down(net, &w->pk, k + 1, M, w->cf.cd[k], w->R[k + 1], beta, w->T[k]);
        done = r > 0; beta = 1.f;
    }
    if (beta == 0.f) memset(w->T[k], 0, (size_t)M * n * sizeof(float));
    return done;
}

static void fit_rates(ffr_trace *tr) {
    int B = tr->B, nfit = 0;
    double *rs = malloc((size_t)B * sizeof(double));
    for (int b = 0; b < B; b++) {
        double sx = 0, sy = 0, sxx = 0, sxy = 0; int m = 0;
        double floor_ = 1e-5 * tr->norm[b];
        for (int t = 2; t <= tr->sweeps[b]; t++) {
            double s = tr->step[(size_t)t * B + b];
            if (!(s > floor_) || !(s > 0)) continue;
            double y = log(s);
            sx += t; sy += y; sxx += (double)t * t; sxy += t * y; m++;
        }
        double den = m * sxx - sx * sx;
        if (m >= 3 && den > 0) { tr->rate[b] = (float)exp((m * sxy - sx * sy) / den); if (rs) rs[nfit++] = tr->rate[b]; }
        else tr->rate[b] = NAN;
    }
    tr->rate_median = NAN;
    if (rs && nfit) {
        qsort(rs, nfit, sizeof(double), cmp_double);
        tr->rate_median = nfit & 1 ? rs[nfit / 2] : 0.5 * (rs[nfit / 2 - 1] + rs[nfit / 2]);
    }
    free(rs);
}

/* ---- Anderson acceleration of the sweep map G (doc/math.md, "Anderson
 * acceleration"): type II with m differences, per example. After sweep t the
 * state is g_t = G(x_t) and f_t = g_t - x_t (its norm is the step the trace
 * records); gamma minimises ||f_t - sum_a gamma_a (f_{a+1} - f_a)|| over the
 * stored pairs, and x_{t+1} = g_t - sum_a gamma_a (g_{a+1} - g_a). A row whose
 * residual grew, or whose small system is singular, restarts from g_t alone. */
static int aa_alloc(ws_t *w, int m, int nt) {
    const ffr_net *net = w->net;
    int nf = 0;
    for (int k = 0; k <= w->L; k++) {
        w->aa_off[k] = w->free_layer[k] ? nf : -1;
        if (w->free_layer[k]) nf += net->n[k];
    }
    size_t h = (size_t)m + 1;
    w->aa_m = m; w->aa_nf = nf; w->aa_head = 0;
    w->aaF = ffr_big_alloc(h * w->B * nf, sizeof(float), 0);
    w->aaG = ffr_big_alloc(h * w->B * nf, sizeof(float), 0);
    w->aatmp = malloc((size_t)nt * nf * sizeof(float));
    w->aaFF = calloc((size_t)w->B * h * h, sizeof(double));
    w->aa_res = calloc(w->B, sizeof(double));
    w->aa_cnt = calloc(w->B, sizeof(int));
    return w->aaF && w->aaG && w->aatmp && w->aaFF && w->aa_res && w->aa_cnt;
}

static void aa_gather(const ws_t *w, const ffr_state *st, int r, float *dst) {
    for (int k = 0; k <= w->L; k++)
        if (w->aa_off[k] >= 0) memcpy(dst + w->aa_off[k], st->s[k] + (size_t)r * w->net->n[k], w->net->n[k] * sizeof(float));
}

/* Dot products in double (8 lanes, then added in order) and the mixing sum
 * x = sum_a c_a g_a in double: C loops, and AVX-512 twins with the same lanes
 * (the products and sums are exact in double either way up to the lanes' order,
 * which both keep; FMA vs multiply-add can differ in the last bit of a double). */
static double aa_dot_c(const float *a, const float *b, int n) {
    double s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) s[l] += (double)a[i + l] * b[i + l];
    for (; i < n; i++) s[0] += (double)a[i] * b[i];
    double t = 0;
    for (int l = 0; l < 8; l++) t += s[l];
    return t;
}
static void aa_comb_c(float *x, const float *const *g, const double *c, int cnt, int n) {
    for (int i = 0; i < n; i++) {
        double v = 0;
        for (int a = 0; a < cnt; a++) v += c[a] * g[a][i];
        x[i] = (float)v;
    }
}
#ifdef FFR_HAVE_VROW
static VTGT double aa_dot_v(const float *a, const float *b, int n) {
    __m512d s = _mm512_setzero_pd();
    int i = 0;
    for (; i + 8 <= n; i += 8)
        s = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_loadu_ps(a + i)), _mm512_cvtps_pd(_mm256_loadu_ps(b + i)), s);
    double l[8];
    _mm512_storeu_pd(l, s);
    for (; i < n; i++) l[0] += (double)a[i] * b[i];
    double t = 0;
    for (int q = 0; q < 8; q++) t += l[q];
    return t;
}
static VTGT void aa_comb_v(float *x, const float *const *g, const double *c, int cnt, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512d v = _mm512_setzero_pd();
        for (int a = 0; a < cnt; a++) v = _mm512_fmadd_pd(_mm512_set1_pd(c[a]), _mm512_cvtps_pd(_mm256_loadu_ps(g[a] + i)), v);
        _mm256_storeu_ps(x + i, _mm512_cvtpd_ps(v));
    }
    for (; i < n; i++) {
        double v = 0;
        for (int a = 0; a < cnt; a++) v += c[a] * g[a][i];
        x[i] = (float)v;
    }
}
#endif
static double aa_dot(const float *a, const float *b, int n) {
#ifdef FFR_HAVE_VROW
    if (simd_on()) return aa_dot_v(a, b, n);
#endif
    return aa_dot_c(a, b, n);
}
static void aa_comb(float *x, const float *const *g, const double *c, int cnt, int n) {
#ifdef FFR_HAVE_VROW
    if (simd_on()) { aa_comb_v(x, g, c, cnt, n); return; }
#endif
    aa_comb_c(x, g, c, cnt, n);
}

/* Solve A g = b (n <= 8) by Gaussian elimination with partial pivoting; 0 if singular. */
static int aa_solve(double *A, double *b, int n) {
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++) if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        if (!(fabs(A[p * n + c]) > 0)) return 0;
        if (p != c) {
            for (int j = 0; j < n; j++) { double t = A[c * n + j]; A[c * n + j] = A[p * n + j]; A[p * n + j] = t; }
            double t = b[c]; b[c] = b[p]; b[p] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int j = c; j < n; j++) A[r * n + j] -= f * A[c * n + j];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        double v = b[c];
        for (int j = c + 1; j < n; j++) v -= A[c * n + j] * b[j];
        b[c] = v / A[c * n + c];
        if (!isfinite(b[c])) return 0;
    }
    return 1;
}

/* Row r after a sweep: record (f_t, g_t), mix, write x_{t+1} into the state, the
 * rates and the next slot. tmp: nf floats. */
static void aa_mix_row(ws_t *w, ffr_state *st, int r, float *tmp) {
    const ffr_net *net = w->net;
    int m = w->aa_m, h = m + 1, nf = w->aa_nf, hs = w->aa_head, B = w->B, e = w->perm[r];
    float *F = w->aaF, *G = w->aaG;
#define AA_ROW(A, q) ((A) + ((size_t)(q) * B + e) * nf)
    float *fh = AA_ROW(F, hs), *gh = AA_ROW(G, hs);
    aa_gather(w, st, r, gh);
    for (int i = 0; i < nf; i++) fh[i] = gh[i] - fh[i]; /* the slot held x_t */
    double *FF = w->aaFF + (size_t)e * h * h;
    int cnt = w->aa_cnt[e] + 1; /* with the new pair */
    for (int a = 1; a < cnt; a++) {
        int q = (hs - a + h) % h;
        FF[hs * h + q] = FF[q * h + hs] = aa_dot(fh, AA_ROW(F, q), nf);
    }
    double f2 = FF[hs * h + hs] = aa_dot(fh, fh, nf);
    if (cnt >= 2 && !(f2 <= w->aa_res[e])) cnt = 1; /* the residual grew: restart */
    w->aa_res[e] = f2;
    double coef[9] = {0};
    int ok = 0;
    if (cnt >= 2) {
        int sl[9], n = cnt - 1;
        for (int a = 0; a < cnt; a++) sl[a] = (hs - (cnt - 1) + a + h) % h; /* oldest .. newest */
        double A[64], b[8], tr = 0;
#define FFq(i, j) FF[(i) * h + (j)]
        for (int a = 0; a < n; a++) {
            for (int c = 0; c < n; c++)
                A[a * n + c] = FFq(sl[a + 1], sl[c + 1]) - FFq(sl[a + 1], sl[c]) - FFq(sl[a], sl[c + 1]) + FFq(sl[a], sl[c]);
            b[a] = FFq(sl[a + 1], hs) - FFq(sl[a], hs);
            tr += A[a * n + a];
        }
#undef FFq
        for (int a = 0; a < n; a++) A[a * n + a] += 1e-10 * tr + 1e-300;
        ok = tr > 0 && aa_solve(A, b, n);
        for (int a = 0; ok && a < n; a++) ok = fabs(b[a]) < 1e4;
        if (ok) {
            coef[cnt - 1] = 1;
            for (int a = 0; a < n; a++) { coef[a + 1] -= b[a]; coef[a] += b[a]; }
            const float *gs[9];
            for (int a = 0; a < cnt; a++) gs[a] = AA_ROW(G, sl[a]);
            aa_comb(tmp, gs, coef, cnt, nf);
        }
    }
    if (!ok) { cnt = 1; memcpy(tmp, gh, nf * sizeof(float)); }
    if (cnt == h) cnt = m; /* the next slot (the oldest pair) now holds x_{t+1} */
    w->aa_cnt[e] = cnt;
    memcpy(AA_ROW(F, (hs + 1) % h), tmp, nf * sizeof(float));
#undef AA_ROW
    for (int k = 0; k <= w->L; k++) {
        if (w->aa_off[k] < 0) continue;
        int n = net->n[k];
        float *sk = st->s[k] + (size_t)r * n, *rk = w->R[k] + (size_t)r * n;
        const float *src = tmp + w->aa_off[k];
        for (int j = 0; j < n; j++) {
            if (k == 0 && !unit_free(w, 0, j)) continue;
            sk[j] = src[j];
            rk[j] = rate_of(net->rule, net->rho, src[j]);
        }
    }
}

typedef struct { ws_t *w; ffr_state *st; } aa_job;
static void aa_part(void *arg, int t, int nt) {
    aa_job *j = arg;
    int M = j->w->nact;
    for (int r = (int)((long)M * t / nt); r < (int)((long)M * (t + 1) / nt); r++)
        aa_mix_row(j->w, j->st, r, j->w->aatmp + (size_t)t * j->w->aa_nf);
}
/* After sweep t, on the active rows (converged ones already swapped out). */
static void aa_step(ws_t *w, ffr_state *st) {
    int nt = pass_threads();
    long work = (long)w->nact * w->aa_nf * (w->aa_m + 2);
    if (work < 200000L * nt) nt = work / 200000 > 1 ? (int)(work / 200000) : 1;
    aa_job j = {w, st};
    if (nt <= 1) aa_part(&j, 0, 1);
    else ffr_parallel(nt, aa_part, &j);
    w->aa_head = (w->aa_head + 1) % (w->aa_m + 1);
}

static ffr_status check_opts(const ffr_net *net, const ffr_relax_opts *o, int B, ffr_err *err) {
    if (B < 1) return ffr_fail(err, FFR_ERR_ARG, "batch: expected >= 1 examples, found %d", B);
    if (o->max_sweeps < 0 || o->max_sweeps > 100000000)
        return ffr_fail(err, FFR_ERR_ARG, "max sweeps: expected 0..1e8, found %d", o->max_sweeps);
    if (!(o->tol >= 0) || !isfinite(o->tol))
        return ffr_fail(err, FFR_ERR_ARG, "tolerance: expected a finite value >= 0, found %g", o->tol);
    if (!(o->eps > 0 && o->eps <= 1))
        return ffr_fail(err, FFR_ERR_ARG, "eps = 1/tau: expected 0 < eps <= 1 (tau >= 1), found %g", o->eps);
    if (!(o->temperature >= 0) || !isfinite(o->temperature))
        return ffr_fail(err, FFR_ERR_ARG, "temperature: expected a finite value >= 0, found %g", o->temperature);
    if (o->gibbs && net->rule != FFR_RULE_BOLTZMANN)
        return ffr_fail(err, FFR_ERR_ARG, "gibbs sampling: only for the boltzmann rule (this network is %s)",
                        ffr_rule_name(net->rule));
    if (o->gibbs && (o->eps != 1 || o->temperature != 0))
        return ffr_fail(err, FFR_ERR_ARG, "gibbs sampling draws each layer from Eq. 8: use eps = 1 and temperature 0");
    if ((unsigned)o->init > FFR_INIT_GIVEN) return ffr_fail(err, FFR_ERR_ARG, "init: unknown start %d", (int)o->init);
    if ((unsigned)o->schedule > FFR_SCHED_UP) return ffr_fail(err, FFR_ERR_ARG, "schedule: unknown schedule %d", (int)o->schedule);
    if (o->measure_every < -1)
        return ffr_fail(err, FFR_ERR_ARG, "measure_every: expected -1 (never), 0 (start and end) or more, found %d", o->measure_every);
    if ((unsigned)o->precision > FFR_PREC_BF16) return ffr_fail(err, FFR_ERR_ARG, "precision: unknown precision %d", (int)o->precision);
    if (o->anderson < 0 || o->anderson > 8)
        return ffr_fail(err, FFR_ERR_ARG, "anderson: expected 0 (off) to 8 differences, found %d", o->anderson);
    if (o->anderson && (o->gibbs || o->temperature > 0))
        return ffr_fail(err, FFR_ERR_ARG, "anderson acceleration needs a deterministic map: no noise (temperature 0), no Gibbs sampling");
    if (!isfinite(o->beta))
        return ffr_fail(err, FFR_ERR_ARG, "nudging beta: expected a finite value, found %g", o->beta);
    if (o->beta != 0) {
        if (!o->nudge_target)
            return ffr_fail(err, FFR_ERR_ARG, "nudging beta = %g: expected a nudge_target (B, n_L), found none", o->beta);
        if (o->top_target)
            return ffr_fail(err, FFR_ERR_ARG, "nudging (beta = %g) and a clamped top layer (top_target) exclude each other", o->beta);
        if (o->gibbs)
            return ffr_fail(err, FFR_ERR_ARG, "nudging (beta = %g) acts on the mean field: not with Gibbs sampling", o->beta);
        if (net->rule == FFR_RULE_DENDRITIC && !(net->alpha_up[net->L] + o->beta > 0))
            return ffr_fail(err, FFR_ERR_ARG, "nudging: the dendritic top layer needs a_up(L) + beta > 0, found %g + %g",
                            net->alpha_up[net->L], o->beta);
    }
    return FFR_OK;
}

ffr_status ffr_relax(const ffr_net *net, const float *x, int B, const ffr_relax_opts *o,
                     ffr_state *st, ffr_trace **trace_out, ffr_err *err) {
    if (trace_out) *trace_out = NULL;
    ffr_status rc = check_opts(net, o, B, err);
    if (rc) return rc;
    if ((rc = ffr_net_check(net, err))) return rc;
    if (st->B != B || st->L != net->L)
        return ffr_fail(err, FFR_ERR_ARG, "state: expected %d examples and %d layers, found %d and %d", B, net->L, st->B, st->L);
    for (int k = 0; k <= net->L; k++)
        if (st->n[k] != net->n[k])
            return ffr_fail(err, FFR_ERR_ARG, "state layer %d: expected %d units, found %d", k, net->n[k], st->n[k]);
    int L = net->L, T = o->max_sweeps;
    ws_t w;
    memset(&w, 0, sizeof w);
    w.net = net; w.B = B; w.L = L; w.nact = B;
    w.beta = o->beta; w.ytop = o->beta != 0 ? o->nudge_target : NULL;
    int mask_free = 0;
    if (o->visible_mask)
        for (int j = 0; j < net->n[0]; j++) mask_free += !o->visible_mask[j];
    w.mask = mask_free ? o->visible_mask : NULL;
    for (int k = 0; k <= L; k++) w.free_layer[k] = k == 0 ? mask_free > 0 : (k == L ? !o->top_target : 1);
    int nfree = 0;
    for (int k = 0; k <= L; k++) nfree += w.free_layer[k];
    if (!nfree) return ffr_fail(err, FFR_ERR_ARG, "nothing to relax: every layer is clamped");

    ffr_trace *tr = trace_alloc(B, L, T);
    int maxn = 0;
    for (int k = 0; k <= L; k++) maxn = net->n[k] > maxn ? net->n[k] : maxn;
    w.blocks[0] = alloc_layers_z(net, B, w.R, 0); /* every layer's rates set at the start */
    w.blocks[1] = alloc_layers_z(net, B, w.T, 0); /* written by products() before each update */
    int mrows = B < FFR_MEASURE_ROWS ? B : FFR_MEASURE_ROWS;
    w.blocks[2] = alloc_layers(net, mrows, w.mf);
    w.blocks[3] = alloc_layers(net, mrows, w.mg);
    w.blocks[4] = alloc_layers(net, mrows, w.mF);
    w.blocks[5] = alloc_layers_z(net, B, w.S0, 0); /* copied from the start */
    w.blocks[6] = alloc_layers(net, 1, w.cf.bias);
    w.perm = malloc((size_t)B * sizeof(int));
    w.rng = malloc((size_t)B * sizeof(ffr_rng));
    w.step2 = calloc(B, sizeof(double)); w.rstep2 = calloc(B, sizeof(double));
    w.norm2 = calloc(B, sizeof(double)); w.scratch = calloc(B, sizeof(double));
    w.meas = calloc(B, sizeof(double)); w.rowtmp = malloc((size_t)maxn * sizeof(float));
    int cache_up = !w.free_layer[0] && w.free_layer[1];
    int cache_down = w.free_layer[L] == 0 && L >= 1 && w.free_layer[L - 1];
    if (cache_up) w.cup = ffr_big_alloc((size_t)B * net->n[1], sizeof(float), 1);
    if (cache_down) w.cdown = ffr_big_alloc((size_t)B * net->n[L - 1], sizeof(float), 1);
    int ok = tr && w.perm && w.rng && w.step2 && w.rstep2 && w.norm2 && w.scratch && w.meas && w.rowtmp &&
             (!cache_up || w.cup) && (!cache_down || w.cdown);
    for (int i = 0; i < 7; i++) ok = ok && w.blocks[i];
    int bf16 = o->precision == FFR_PREC_BF16 && ffr_bf16_available();
    ok = ok && ws_pack(&w, bf16);
    if (ok && o->anderson > 0) ok = aa_alloc(&w, o->anderson, pass_threads());
    if (!ok) { ws_free(&w); ffr_trace_free(tr); return ffr_fail(err, FFR_ERR_NOMEM, "out of memory for %d examples", B); }
    tr->precision = bf16 ? FFR_PREC_BF16 : FFR_PREC_FP32;
    coefs_fill(net, &w.cf);
    for (int b = 0; b < B; b++) {
        w.perm[b] = b;
        uint64_t z = o->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)b * 0xbf58476d1ce4e5b9ULL + 0x1234567ULL;
        ffr_rng_seed(&w.rng[b], z);
    }

    /* ---- the start (state rows in the caller's order) */
    size_t n0 = (size_t)B * net->n[0];
    if (o->init == FFR_INIT_GIVEN) {
        for (size_t i = 0; i < n0; i++) { /* clamped visible units take the data */
            int j = (int)(i % net->n[0]);
            if (!unit_free(&w, 0, j)) st->s[0][i] = x[i];
        }
    } else {
        if (o->init == FFR_INIT_FF) ffr_feedforward(net, x, B, st); /* Eq. 17 */
        else memcpy(st->s[0], x, n0 * sizeof(float));
        for (int k = 0; k <= L; k++) {
            if (o->init == FFR_INIT_FF && k >= 1) continue;
            for (int b = 0; b < B; b++)
                for (int j = 0; j < net->n[k]; j++) {
                    if (!unit_free(&w, k, j)) continue;
                    float *v = &st->s[k][(size_t)b * net->n[k] + j];
                    *v = o->init == FFR_INIT_ZERO ? 0.f : o->init == FFR_INIT_RANDOM ? (float)ffr_rng_uniform(&w.rng[b]) : *v;
                }
        }
    }
    if (o->top_target) memcpy(st->s[L], o->top_target, (size_t)B * net->n[L] * sizeof(float));
    for (int k = 0; k <= L; k++) {
        size_t nk = (size_t)B * net->n[k];
        for (size_t i = 0; i < nk; i++) w.R[k][i] = rate_of(net->rule, net->rho, st->s[k][i]);
        memcpy(w.S0[k], st->s[k], nk * sizeof(float));
    }
    if (w.cup) { /* clamped input: its bottom-up product once per relaxation */
        gemm_up(net, &w.pk, 1, B, 1.f, w.R[0], 0.f, w.cup);
        w.flops += 2.0 * B * net->n[1] * net->n[0];
    }
    if (w.cdown) { /* clamped target: its top-down product once */
        gemm_down(net, &w.pk, L, B, 1.f, w.R[L], 0.f, w.cdown);
        w.flops += 2.0 * B * net->n[L - 1] * net->n[L];
    }

    if (w.aa_m) /* x_1, the start, in the first slot */
        for (int r = 0; r < B; r++) aa_gather(&w, st, r, w.aaF + (size_t)r * w.aa_nf);
    unsigned ph[FFR_MAX_LAYERS + 2];
    int nph = phases_of(&w, o->schedule, ph);
    if (T > 0 && o->measure_every >= 0) measure(&w, st, tr, 0, 0);
    tr->n_active[0] = B;
    rc = FFR_OK;
    double minstep = INFINITY; int grow = 0; double prev = INFINITY;
    int t;
    for (t = 1; t <= T && w.nact > 0; t++) {
        for (int r = 0; r < w.nact; r++) w.step2[r] = w.rstep2[r] = w.norm2[r] = 0;
        int bad_layer = -1;
        double lstep[FFR_MAX_LAYERS] = {0};
        for (int p = 0; p < nph; p++) {
            /* no two neighbours move together (odd/even, one layer a phase):
             * each layer's update can follow its own products at once, fused
             * into the last one where the kernel allows; else (synchronous)
             * every product of the phase first, from the old states */
            int fuse = g_fuse && !(ph[p] & (ph[p] << 1)) && fast_update(o);
            if (!fuse)
                for (int k = 0; k <= L; k++) if (ph[p] & (1u << k)) products(&w, k, NULL);
            for (int k = 0; k <= L; k++)
                if (ph[p] & (1u << k)) {
                    double before = 0, after = 0;
                    for (int r = 0; r < w.nact; r++) before += w.step2[r];
                    fused_t fu = {&w, st, o, k, 0};
                    int nudged = k == L && w.beta != 0; /* the nudged top layer: update_layer's C path */
                    int done = fuse && products(&w, k, k >= 1 && !nudged ? &fu : NULL); /* 1: updated in the product */
                    int bad = done ? atomic_load(&fu.bad) : update_layer(&w, st, o, k);
                    if (bad && bad_layer < 0) bad_layer = k;
                    for (int r = 0; r < w.nact; r++) after += w.step2[r];
                    lstep[k] = after - before; /* this layer's squared step, summed over active rows */
                }
        }
        /* per-example steps and convergence */
        int nact = w.nact;
        double sum = 0, rsum = 0, mx = 0;
        for (int r = 0; r < nact; r++) {
            double s = sqrt(w.step2[r]);
            tr->step[(size_t)t * B + w.perm[r]] = (float)s;
            tr->sweeps[w.perm[r]] = t;
            sum += s; rsum += sqrt(w.rstep2[r]); mx = s > mx ? s : mx;
            w.scratch[r] = s;
        }
        tr->step_mean[t] = sum / nact; tr->rstep_mean[t] = rsum / nact; tr->step_max[t] = mx;
        tr->n_active[t] = nact;
        qsort(w.scratch, nact, sizeof(double), cmp_double);
        tr->step_median[t] = nact & 1 ? w.scratch[nact / 2] : 0.5 * (w.scratch[nact / 2 - 1] + w.scratch[nact / 2]);
        for (int r = 0; r < nact; r++) {
            double nrm = sqrt(w.norm2[r]);
            w.scratch[r] = nrm > 0 ? sqrt(w.step2[r]) / nrm : (w.step2[r] > 0 ? INFINITY : 0);
        }
        qsort(w.scratch, nact, sizeof(double), cmp_double);
        tr->relstep_median[t] = nact & 1 ? w.scratch[nact / 2] : 0.5 * (w.scratch[nact / 2 - 1] + w.scratch[nact / 2]);
        if (bad_layer >= 0 || !isfinite(sum)) {
            tr->status = rc = FFR_ERR_DIVERGED;
            snprintf(tr->diag, sizeof tr->diag, "non-finite state in layer %d at sweep %d", bad_layer, t);
            ffr_fail(err, rc, "relaxation diverged: %s (lower the weights' scale, use tau > 1, or a bounded rho)", tr->diag);
            t++;
            break;
        }
        for (int r = 0; r < w.nact;) {
            double s = sqrt(w.step2[r]), nrm = sqrt(w.norm2[r]);
            double crit = o->tol_mode == FFR_TOL_REL ? (nrm > 0 ? s / nrm : s) : s;
            if (crit < o->tol) {
                tr->converged[w.perm[r]] = 1;
                ws_swap(&w, st, r, w.nact - 1);
                w.nact--;
            } else r++;
        }
        tr->frac_converged[t] = (double)(B - w.nact) / B;
        if (w.aa_m && w.nact > 0 && t < T) aa_step(&w, st); /* x_{t+1} of the rows still active */
        if (o->measure_every > 0 && t % o->measure_every == 0 && t != T && w.nact > 0) measure(&w, st, tr, t, 0);
        /* growing step: divergence that the bounds of rho do not catch */
        double sm = tr->step_mean[t];
        if (sm < minstep) minstep = sm;
        grow = sm > prev ? grow + 1 : 0;
        prev = sm;
        /* a bounded network that starts tiny and grows to its fixed point is not
         * divergence: the step must also exceed diverge_factor in absolute terms */
        if (o->diverge_factor > 0 && grow >= 20 && sm > o->diverge_factor * fmax(minstep, 1.0)) {
            int worst = 0;
            for (int k = 1; k <= L; k++) if (lstep[k] > lstep[worst]) worst = k;
            tr->status = rc = FFR_ERR_DIVERGED;
            snprintf(tr->diag, sizeof tr->diag,
                     "mean step grew for %d sweeps to %.3g (%.3g times its minimum), largest in layer %d, at sweep %d",
                     grow, sm, sm / fmax(minstep, 1e-300), worst, t);
            ffr_fail(err, rc, "relaxation diverged: %s", tr->diag);
            t++;
            break;
        }
        if (o->progress && o->progress(o->progress_ctx, t, w.nact, tr->step_mean[t])) { t++; break; }
    }
    tr->T = t - 1;
    if (o->measure_every >= 0) measure(&w, st, tr, tr->T, 1);
    else for (int b = 0; b < B; b++) tr->residual[b] = NAN;
    long tot = 0;
    for (int b = 0; b < B; b++) tot += tr->sweeps[b];
    tr->total_updates = tot;
    tr->flops = w.flops;

    /* back to the caller's order: apply the inverse permutation by cycles */
    for (int r = 0; r < B; r++) {
        while (w.perm[r] != r) ws_swap(&w, st, r, w.perm[r]);
    }
    for (int b = 0; b < B; b++) {
        double d = 0, nn = 0;
        for (int k = 0; k <= L; k++)
            for (int j = 0; j < net->n[k]; j++) {
                if (!unit_free(&w, k, j)) continue;
                size_t i = (size_t)b * net->n[k] + j;
                double e = (double)st->s[k][i] - w.S0[k][i];
                d += e * e; nn += (double)st->s[k][i] * st->s[k][i];
            }
        tr->dist[b] = (float)sqrt(d); tr->norm[b] = (float)sqrt(nn);
    }
    fit_rates(tr);
    ws_free(&w);
    if (trace_out) *trace_out = tr; else ffr_trace_free(tr);
    return rc;
}
