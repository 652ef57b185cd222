/* test_relax.c - the relaxation engine against a naive reference and the
 * paper's invariants: fixed points satisfy Eq. 16, the feedforward start is
 * the fixed point when the auto-encoder condition holds exactly, energy never
 * rises under direct odd/even updates with tied weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ffrelax.h"
#include "internal.h"
#include "relax_internal.h"
#include "minitest.h"

static double rho_d(ffr_rho r, double s) {
    if (r == FFR_RHO_HARDSIGMOID) return s < 0 ? 0 : s > 1 ? 1 : s;
    if (r == FFR_RHO_SIGMOID) return 1 / (1 + exp(-s));
    return s;
}

/* ---- gemm against its reference on awkward shapes */
static void test_gemm(void) {
    ffr_rng r;
    ffr_rng_seed(&r, 5);
    int shapes[][3] = {{1, 1, 1}, {1, 7, 3}, {13, 1, 5}, {7, 11, 17}, {31, 29, 37}, {64, 3, 129}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
                float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
                for (int i = 0; i < M * K; i++) A[i] = (float)ffr_rng_normal(&r);
                for (int i = 0; i < K * N; i++) B[i] = (float)ffr_rng_normal(&r);
                for (int i = 0; i < M * N; i++) C1[i] = C2[i] = (float)ffr_rng_normal(&r);
                ffr_gemm(ta, tb, M, N, K, 0.7f, A, ta ? M : K, B, tb ? K : N, 0.3f, C1, N);
                ffr_gemm_ref(ta, tb, M, N, K, 0.7f, A, ta ? M : K, B, tb ? K : N, 0.3f, C2, N);
                double md = 0, mx = 0;
                for (int i = 0; i < M * N; i++) { md = fmax(md, fabs(C1[i] - C2[i])); mx = fmax(mx, fabs(C2[i])); }
                CHECKF(md <= 1e-5 * (1 + mx) * sqrt(K), "gemm %dx%dx%d ta=%d tb=%d: max diff %g", M, N, K, ta, tb, md);
                CHECK(mx > 0.1 || M * N == 1); /* not comparing zeros */
                free(A); free(B); free(C1); free(C2);
            }
}

/* ---- naive reference relaxation of one example (double precision) */
typedef struct { double *s[FFR_MAX_LAYERS]; } ref_state;

static double ref_F(const ffr_net *net, ref_state *rs, int k, int j) {
    int L = net->L;
    double au = k >= 1 ? net->alpha_up[k] : 0, ad = k < L ? net->alpha_down[k] : 0;
    if (net->rule != FFR_RULE_DENDRITIC) { au = k >= 1; ad = k < L; }
    double kap = net->rule == FFR_RULE_DENDRITIC ? au + ad : 1;
    double f = 0, g = 0;
    if (k >= 1) {
        f = net->b[k][j];
        for (int i = 0; i < net->n[k - 1]; i++) {
            double r = net->rule == FFR_RULE_BOLTZMANN ? rs->s[k - 1][i] : rho_d(net->rho, rs->s[k - 1][i]);
            f += net->W[k][(size_t)j * net->n[k - 1] + i] * r;
        }
    }
    if (k < L) {
        g = net->c[k][j];
        for (int i = 0; i < net->n[k + 1]; i++) {
            double r = net->rule == FFR_RULE_BOLTZMANN ? rs->s[k + 1][i] : rho_d(net->rho, rs->s[k + 1][i]);
            g += ffr_net_V_at(net, k + 1, j, i) * r;
        }
    }
    double u = (au * f + ad * g) / kap;
    if (net->rule == FFR_RULE_HOPFIELD) return rho_d(net->rho, u);
    if (net->rule == FFR_RULE_BOLTZMANN) return 1 / (1 + exp(-u));
    return u;
}

/* steps[t] for t = 1..T; layers updated per schedule; mask/top as in the engine */
static void ref_relax(const ffr_net *net, const float *x, const unsigned char *mask, const float *top,
                      ffr_init init, ffr_schedule sc, double eps, int T, double *steps, ref_state *rs) {
    int L = net->L;
    for (int k = 0; k <= L; k++) rs->s[k] = calloc(net->n[k], sizeof(double));
    for (int j = 0; j < net->n[0]; j++) rs->s[0][j] = x[j];
    for (int k = 1; k <= L; k++)
        for (int j = 0; j < net->n[k]; j++) {
            if (init != FFR_INIT_FF) { rs->s[k][j] = 0; continue; }
            /* Eq. 17: only the bottom-up branch */
            double f = net->b[k][j];
            for (int i = 0; i < net->n[k - 1]; i++) {
                double r = net->rule == FFR_RULE_BOLTZMANN ? rs->s[k - 1][i] : rho_d(net->rho, rs->s[k - 1][i]);
                f += net->W[k][(size_t)j * net->n[k - 1] + i] * r;
            }
            rs->s[k][j] = net->rule == FFR_RULE_HOPFIELD ? rho_d(net->rho, f) : net->rule == FFR_RULE_BOLTZMANN ? 1 / (1 + exp(-f)) : f;
        }
    if (init == FFR_INIT_ZERO && mask)
        for (int j = 0; j < net->n[0]; j++) if (!mask[j]) rs->s[0][j] = 0;
    if (top) for (int j = 0; j < net->n[L]; j++) rs->s[L][j] = top[j];
    int freek[FFR_MAX_LAYERS];
    int mfree = 0;
    if (mask) for (int j = 0; j < net->n[0]; j++) mfree += !mask[j];
    for (int k = 0; k <= L; k++) freek[k] = k == 0 ? mfree > 0 : (k == L ? !top : 1);
    unsigned ph[FFR_MAX_LAYERS + 2]; int np = 0;
    unsigned odd = 0, even = 0, all = 0;
    for (int k = 0; k <= L; k++) if (freek[k]) { if (k & 1) odd |= 1u << k; else even |= 1u << k; all |= 1u << k; }
    if (sc == FFR_SCHED_ODD_EVEN) { if (odd) ph[np++] = odd; if (even) ph[np++] = even; }
    else if (sc == FFR_SCHED_SYNC) ph[np++] = all;
    else for (int k = 0; k <= L; k++) if (all & (1u << k)) ph[np++] = 1u << k;
    for (int t = 1; t <= T; t++) {
        double d2 = 0;
        for (int p = 0; p < np; p++) {
            double *nw[FFR_MAX_LAYERS] = {0};
            for (int k = 0; k <= L; k++) {
                if (!(ph[p] & (1u << k))) continue;
                nw[k] = malloc(sizeof(double) * net->n[k]);
                for (int j = 0; j < net->n[k]; j++) {
                    if (k == 0 && mask[j]) { nw[k][j] = rs->s[k][j]; continue; }
                    nw[k][j] = (1 - eps) * rs->s[k][j] + eps * ref_F(net, rs, k, j);
                }
            }
            for (int k = 0; k <= L; k++) {
                if (!nw[k]) continue;
                for (int j = 0; j < net->n[k]; j++) { double d = nw[k][j] - rs->s[k][j]; d2 += d * d; }
                memcpy(rs->s[k], nw[k], sizeof(double) * net->n[k]);
                free(nw[k]);
            }
        }
        steps[t] = sqrt(d2);
    }
}

static ffr_net *make_net(int L, const int *n, ffr_rule rule, ffr_rho rho, int tied, uint64_t seed, float scale) {
    ffr_net *net;
    ffr_err e;
    if (ffr_net_create(&net, L, n, rule, rho, tied, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    ffr_net_init_glorot(net, seed, scale);
    ffr_rng r;
    ffr_rng_seed(&r, seed + 99);
    for (int k = 1; k <= L; k++) {
        for (int j = 0; j < n[k]; j++) net->b[k][j] = (float)(0.2 * ffr_rng_normal(&r));
        if (!tied) /* make untied feedback genuinely different from W^T */
            for (size_t i = 0; i < (size_t)n[k] * n[k - 1]; i++) net->V[k][i] += (float)(0.1 * ffr_rng_normal(&r));
    }
    for (int k = 0; k < L; k++) for (int j = 0; j < n[k]; j++) net->c[k][j] = (float)(0.2 * ffr_rng_normal(&r));
    return net;
}

static void test_against_reference(void) {
    int n[] = {11, 7, 5, 3, 2};
    int Bs[] = {1, 7};
    int cases = 0;
    for (int rule = 0; rule < 3; rule++)
        for (int sc = 0; sc < 3; sc++)
            for (int tied = 0; tied < 2; tied++)
                for (int variant = 0; variant < 4; variant++) {
                    if (rule == FFR_RULE_HOPFIELD && !tied) continue;
                    int L = variant == 3 ? 1 : 4;
                    ffr_rho rho = rule == FFR_RULE_DENDRITIC ? (ffr_rho)(variant % 3) : FFR_RHO_HARDSIGMOID;
                    ffr_net *net = make_net(L, n, rule, rho, tied, 10 + variant, 1.5f);
                    if (rule == FFR_RULE_DENDRITIC && variant == 1) { /* unequal gains */
                        for (int k = 0; k <= L; k++) { net->alpha_up[k] = 1.5f + k; net->alpha_down[k] = 0.5f + 0.25f * k; }
                    }
                    unsigned char mask[11];
                    for (int j = 0; j < 11; j++) mask[j] = !(variant == 2 && j % 3 == 0);
                    int top = variant == 2 && L > 1;
                    double eps = variant == 1 ? 0.4 : 1.0;
                    for (int bi = 0; bi < 2; bi++) {
                        int B = Bs[bi], T = 12;
                        float *x = malloc(sizeof(float) * B * 11), *tg = malloc(sizeof(float) * B * n[L]);
                        ffr_rng r; ffr_rng_seed(&r, 7 + B);
                        for (int i = 0; i < B * 11; i++) x[i] = (float)ffr_rng_uniform(&r);
                        for (int i = 0; i < B * n[L]; i++) tg[i] = (float)ffr_rng_uniform(&r);
                        ffr_relax_opts o; ffr_relax_opts_default(&o);
                        o.schedule = (ffr_schedule)sc; o.max_sweeps = T; o.eps = eps;
                        o.init = (variant == 0 || variant == 3) ? FFR_INIT_ZERO : FFR_INIT_FF;
                        o.visible_mask = variant == 2 ? mask : NULL;
                        o.top_target = top ? tg : NULL;
                        o.measure_every = 3;
                        ffr_state *st; ffr_trace *tr; ffr_err e;
                        ffr_state_create(&st, net, B, &e);
                        ffr_status s = ffr_relax(net, x, B, &o, st, &tr, &e);
                        CHECKF(s == FFR_OK, "relax failed: %s", e.msg);
                        double maxd = 0, maxs = 0, maxstep = 0;
                        for (int b = 0; b < B; b++) {
                            ref_state rs = {{0}}; double steps[64];
                            ref_relax(net, x + b * 11, variant == 2 ? mask : NULL, top ? tg + b * n[L] : NULL,
                                      o.init, (ffr_schedule)sc, eps, T, steps, &rs);
                            for (int k = 0; k <= L; k++) {
                                for (int j = 0; j < n[k]; j++) {
                                    double d = fabs(rs.s[k][j] - st->s[k][b * n[k] + j]);
                                    maxd = fmax(maxd, d / (1 + fabs(rs.s[k][j])));
                                }
                                free(rs.s[k]);
                            }
                            for (int t = 1; t <= T; t++) {
                                maxs = fmax(maxs, fabs(steps[t] - tr->step[t * B + b]) / (1e-3 + steps[t]));
                                maxstep = fmax(maxstep, steps[t]);
                            }
                        }
                        CHECKF(maxd < 1e-4 && maxs < 1e-3, "rule %d sched %d tied %d variant %d B %d: state diff %g, step rel diff %g",
                               rule, sc, tied, variant, B, maxd, maxs);
                        CHECK(maxstep > 1e-3); /* the relaxation actually moved */
                        cases++;
                        ffr_trace_free(tr); ffr_state_free(st); free(x); free(tg);
                    }
                    ffr_net_free(net);
                }
    CHECK(cases > 50);
}

/* The auto-encoder condition holds exactly: W_k a permutation, V_k = W_k^T,
 * hard sigmoid with states in [0,1]; then s = f(s) = g(f(s)) and the
 * feedforward start is already the fixed point (Eq. 17 = Eq. 16). */
static void test_ff_is_fixed_point(void) {
    int n[] = {6, 6, 6, 6};
    for (int tied = 0; tied < 2; tied++) {
        ffr_net *net; ffr_err e;
        ffr_net_create(&net, 3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, &e);
        for (int k = 1; k <= 3; k++)
            for (int i = 0; i < 6; i++) {
                int j = (i * 5 + k) % 6;
                net->W[k][i * 6 + j] = 1.f;
                if (!tied) net->V[k][j * 6 + i] = 1.f;
            }
        float x[12];
        for (int i = 0; i < 12; i++) x[i] = (float)(0.05 + 0.9 * i / 11.0);
        ffr_relax_opts o; ffr_relax_opts_default(&o);
        o.max_sweeps = 5; o.measure_every = 1;
        ffr_state *st; ffr_trace *tr;
        ffr_state_create(&st, net, 2, &e);
        CHECK(ffr_relax(net, x, 2, &o, st, &tr, &e) == FFR_OK);
        CHECKF(tr->step_max[1] < 1e-6, "ff start moved by %g", tr->step_max[1]);
        CHECKF(tr->disagree[1] < 1e-6, "disagreement at ff start %g", tr->disagree[1]);
        CHECK(tr->residual_mean[0] < 1e-6);
        /* and from zero it does move: the test is not vacuous */
        o.init = FFR_INIT_ZERO;
        ffr_trace_free(tr);
        CHECK(ffr_relax(net, x, 2, &o, st, &tr, &e) == FFR_OK);
        CHECK(tr->step_max[1] > 0.1);
        ffr_trace_free(tr); ffr_state_free(st); ffr_net_free(net);
    }
    /* a near-exact case with a random orthogonal-ish weight and identity rho:
     * W = Householder reflection (orthogonal, symmetric), V = W^T */
    int m[] = {8, 8, 8};
    ffr_net *net; ffr_err e;
    ffr_net_create(&net, 2, m, FFR_RULE_DENDRITIC, FFR_RHO_IDENTITY, 1, &e);
    ffr_rng r; ffr_rng_seed(&r, 3);
    for (int k = 1; k <= 2; k++) {
        double v[8], nv = 0;
        for (int i = 0; i < 8; i++) { v[i] = ffr_rng_normal(&r); nv += v[i] * v[i]; }
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++) net->W[k][i * 8 + j] = (float)((i == j) - 2 * v[i] * v[j] / nv);
    }
    float x[8];
    for (int i = 0; i < 8; i++) x[i] = (float)ffr_rng_normal(&r);
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = 3;
    ffr_state *st; ffr_trace *tr;
    ffr_state_create(&st, net, 1, &e);
    CHECK(ffr_relax(net, x, 1, &o, st, &tr, &e) == FFR_OK);
    CHECKF(tr->step[1] < 1e-5, "orthogonal AE: ff start moved by %g", tr->step[1]);
    ffr_trace_free(tr); ffr_state_free(st); ffr_net_free(net);
}

/* Energy never rises under direct odd/even updates with tied weights. */
static void test_energy_descent(void) {
    int n[] = {9, 13, 8, 6};
    struct { ffr_rule rule; ffr_rho rho; int gains; } cs[] = {
        {FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 0}, {FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0},
        {FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1}, {FFR_RULE_DENDRITIC, FFR_RHO_SIGMOID, 1},
        {FFR_RULE_BOLTZMANN, FFR_RHO_SIGMOID, 0}};
    for (size_t c = 0; c < sizeof cs / sizeof *cs; c++) {
        ffr_net *net = make_net(3, n, cs[c].rule, cs[c].rho, 1, 21 + c, 3.0f);
        if (cs[c].gains) for (int k = 0; k <= 3; k++) { net->alpha_up[k] = 0.7f + 0.6f * k; net->alpha_down[k] = 2.0f - 0.3f * k; }
        int B = 5;
        float x[45];
        ffr_rng r; ffr_rng_seed(&r, 4);
        for (int i = 0; i < 45; i++) x[i] = (float)ffr_rng_uniform(&r);
        ffr_relax_opts o; ffr_relax_opts_default(&o);
        o.max_sweeps = 40; o.measure_every = 1; o.init = FFR_INIT_RANDOM;
        ffr_state *st; ffr_trace *tr; ffr_err e;
        ffr_state_create(&st, net, B, &e);
        CHECK(ffr_relax(net, x, B, &o, st, &tr, &e) == FFR_OK);
        int rises = 0;
        double drop = tr->energy_mean[0] - tr->energy_mean[tr->T];
        for (int t = 1; t <= tr->T; t++)
            if (tr->energy_mean[t] > tr->energy_mean[t - 1] + 1e-5 * (1 + fabs(tr->energy_mean[t - 1]))) {
                rises++;
                fprintf(stderr, "case %zu: energy rose at sweep %d: %.9g -> %.9g\n", c, t, tr->energy_mean[t - 1], tr->energy_mean[t]);
            }
        CHECKF(rises == 0, "case %zu: energy rose %d times", c, rises);
        CHECKF(drop > 1e-3, "case %zu: energy did not decrease (%g): vacuous", c, drop);
        /* the per-example energy at the end agrees with ffr_energy */
        double E[5], m = 0;
        CHECK(ffr_energy(net, st, E) == 0);
        for (int b = 0; b < B; b++) m += E[b] / B;
        CHECK_NEAR(m, tr->energy_mean[tr->T], 1e-5);
        ffr_trace_free(tr); ffr_state_free(st); ffr_net_free(net);
    }
    /* a sync (Jacobi) update is not a descent method: no claim; untied has no energy */
    ffr_net *net = make_net(3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 5, 1.f);
    ffr_state *st; ffr_err e; double E[1];
    ffr_state_create(&st, net, 1, &e);
    CHECK(ffr_energy(net, st, E) == -1);
    ffr_state_free(st); ffr_net_free(net);
}

/* A converged state satisfies Eq. 16 (dendritic, unequal gains, untied). */
static void test_fixed_point_eq16(void) {
    int n[] = {10, 9, 7, 5};
    ffr_net *net = make_net(3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 8, 0.8f);
    for (int k = 0; k <= 3; k++) { net->alpha_up[k] = 1.0f + 0.5f * k; net->alpha_down[k] = 0.6f; }
    int B = 3;
    float x[30];
    for (int i = 0; i < 30; i++) x[i] = (float)((i * 7) % 10) / 10.f;
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = 500; o.tol = 1e-7;
    ffr_state *st; ffr_trace *tr; ffr_err e;
    ffr_state_create(&st, net, B, &e);
    CHECK(ffr_relax(net, x, B, &o, st, &tr, &e) == FFR_OK);
    int conv = 0;
    for (int b = 0; b < B; b++) conv += tr->converged[b];
    CHECK(conv == B);
    float *f[FFR_MAX_LAYERS] = {0}, *g[FFR_MAX_LAYERS] = {0};
    for (int k = 0; k <= 3; k++) { f[k] = calloc(B * n[k], sizeof(float)); g[k] = calloc(B * n[k], sizeof(float)); }
    ffr_branches(net, st, f, g, NULL);
    double md = 0, moved = 0;
    for (int k = 1; k <= 3; k++)
        for (int i = 0; i < B * n[k]; i++) {
            double au = net->alpha_up[k], ad = k < 3 ? net->alpha_down[k] : 0;
            double want = (au * f[k][i] + (k < 3 ? ad * g[k][i] : 0)) / (au + ad); /* Eq. 16 */
            md = fmax(md, fabs(want - st->s[k][i]));
            if (k < 3) moved = fmax(moved, fabs(f[k][i] - st->s[k][i]));
        }
    CHECKF(md < 2e-6, "Eq. 16 residual %g", md);
    CHECKF(moved > 1e-2, "fixed point equals the ff pass (%g): vacuous", moved);
    CHECK(tr->residual[0] < 1e-5);
    for (int k = 0; k <= 3; k++) { free(f[k]); free(g[k]); }
    ffr_trace_free(tr); ffr_state_free(st); ffr_net_free(net);
}

/* Tolerance stopping with the active set gives each example the same result
 * as relaxing it alone, and the work done is the sum of its own sweeps. */
static void test_active_set(void) {
    int n[] = {12, 10, 8, 6};
    ffr_net *net = make_net(3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 31, 1.2f);
    int B = 9;
    float x[108];
    ffr_rng r; ffr_rng_seed(&r, 77);
    for (int i = 0; i < 108; i++) x[i] = (float)(ffr_rng_uniform(&r) * (1 + (i / 12) % 3));
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = 300; o.tol = 1e-4; o.init = FFR_INIT_ZERO;
    ffr_state *st; ffr_trace *tr; ffr_err e;
    ffr_state_create(&st, net, B, &e);
    CHECK(ffr_relax(net, x, B, &o, st, &tr, &e) == FFR_OK);
    int distinct = 0; long tot = 0;
    for (int b = 0; b < B; b++) {
        ffr_state *s1; ffr_trace *t1;
        ffr_state_create(&s1, net, 1, &e);
        CHECK(ffr_relax(net, x + b * 12, 1, &o, s1, &t1, &e) == FFR_OK);
        CHECKF(t1->sweeps[0] == tr->sweeps[b], "example %d: %d sweeps alone, %d in the batch", b, t1->sweeps[0], tr->sweeps[b]);
        double md = 0;
        for (int k = 0; k <= 3; k++)
            for (int j = 0; j < n[k]; j++) md = fmax(md, fabs(s1->s[k][j] - st->s[k][b * n[k] + j]));
        CHECKF(md < 1e-5, "example %d: state differs by %g", b, md);
        /* the AVX-512 kernel's sums do not depend on the other rows: the same bits */
        if (ffr_gemm_uses_fast()) CHECKF(md == 0, "example %d: kernel path, state differs by %g (expected bit-identical)", b, md);
        if (tr->sweeps[b] != tr->sweeps[0]) distinct++;
        tot += tr->sweeps[b];
        ffr_trace_free(t1); ffr_state_free(s1);
    }
    CHECK(distinct > 0); /* examples did stop at different sweeps */
    CHECK(tot == tr->total_updates);
    CHECK(tr->total_updates < (long)tr->T * B);
    ffr_trace_free(tr); ffr_state_free(st); ffr_net_free(net);
}

static void test_noise_gibbs_divergence_args(void) {
    int n[] = {8, 6, 4};
    ffr_err e;
    /* noise: deterministic for a seed, different across seeds */
    ffr_net *net = make_net(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 3, 1.f);
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)(i % 5) / 5.f;
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = 10; o.temperature = 0.01; o.eps = 0.5; o.seed = 5;
    ffr_state *a, *b, *c;
    ffr_state_create(&a, net, 2, &e); ffr_state_create(&b, net, 2, &e); ffr_state_create(&c, net, 2, &e);
    CHECK(ffr_relax(net, x, 2, &o, a, NULL, &e) == FFR_OK);
    CHECK(ffr_relax(net, x, 2, &o, b, NULL, &e) == FFR_OK);
    o.seed = 6;
    CHECK(ffr_relax(net, x, 2, &o, c, NULL, &e) == FFR_OK);
    CHECK(memcmp(a->s[1], b->s[1], sizeof(float) * 12) == 0);
    CHECK(memcmp(a->s[1], c->s[1], sizeof(float) * 12) != 0);
    /* bad options */
    o.eps = 0; CHECK(ffr_relax(net, x, 2, &o, a, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "tau"));
    o.eps = 1; o.tol = -1; CHECK(ffr_relax(net, x, 2, &o, a, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "tolerance"));
    o.tol = 0; o.gibbs = 1; CHECK(ffr_relax(net, x, 2, &o, a, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "boltzmann"));
    ffr_state_free(a); ffr_state_free(b); ffr_state_free(c); ffr_net_free(net);

    /* Gibbs sampling gives binary states */
    net = make_net(2, n, FFR_RULE_BOLTZMANN, FFR_RHO_SIGMOID, 1, 4, 1.f);
    ffr_relax_opts_default(&o);
    o.gibbs = 1; o.max_sweeps = 5;
    ffr_state_create(&a, net, 2, &e);
    CHECK(ffr_relax(net, x, 2, &o, a, NULL, &e) == FFR_OK);
    int binary = 1, ones = 0;
    for (int i = 0; i < 12; i++) { binary &= a->s[1][i] == 0.f || a->s[1][i] == 1.f; ones += a->s[1][i] == 1.f; }
    CHECK(binary);
    CHECK(ones > 0 && ones < 12);
    ffr_state_free(a); ffr_net_free(net);

    /* no false alarm: a bounded network whose tiny start grows for many sweeps
     * towards its (bounded) fixed point is not diverging */
    {
        int m[] = {50, 40, 40, 40};
        ffr_net *tn; ffr_err te;
        ffr_net_create(&tn, 3, m, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &te);
        ffr_net_init_glorot(tn, 9, 1.0f);
        for (size_t i = 0; i < tn->nparams; i++) tn->params[i] = fabsf(tn->params[i]); /* excitatory: activity grows */
        float xt[4 * 50];
        ffr_rng tr_; ffr_rng_seed(&tr_, 2);
        for (int i = 0; i < 200; i++) xt[i] = (float)(ffr_rng_uniform(&tr_) * 1e-30);
        ffr_relax_opts to; ffr_relax_opts_default(&to);
        to.max_sweeps = 400;
        ffr_state *ts; ffr_trace *ttr;
        ffr_state_create(&ts, tn, 4, &te);
        ffr_status tst = ffr_relax(tn, xt, 4, &to, ts, &ttr, &te);
        double smax = 0;
        for (int t = 1; t <= ttr->T; t++) smax = fmax(smax, ttr->step_mean[t]);
        int grew = smax > 1e4 * ttr->step_mean[2]; /* the old relative-only rule would have fired */
        CHECKF(tst == FFR_OK, "tiny start flagged as divergence: %s", te.msg);
        CHECKF(grew, "the step did not grow (%g -> max %g): the no-false-alarm case is vacuous", ttr->step_mean[2], smax);
        ffr_trace_free(ttr); ffr_state_free(ts); ffr_net_free(tn);
    }
    /* divergence: identity rho, large weights */
    net = make_net(2, n, FFR_RULE_DENDRITIC, FFR_RHO_IDENTITY, 1, 5, 30.f);
    ffr_relax_opts_default(&o);
    o.max_sweeps = 2000;
    ffr_trace *tr;
    ffr_state_create(&a, net, 2, &e);
    ffr_status s = ffr_relax(net, x, 2, &o, a, &tr, &e);
    CHECKF(s == FFR_ERR_DIVERGED && strstr(e.msg, "sweep"), "status %d: %s", s, e.msg);
    CHECKF(tr && tr->status == FFR_ERR_DIVERGED && tr->T < 2000, "T %d status %d", tr ? tr->T : -1, tr ? (int)tr->status : -1);
    ffr_trace_free(tr); ffr_state_free(a); ffr_net_free(net);
}

/* The fused elementwise pass (relax.c, row_update) on hidden sizes that fill
 * its 8 lanes with and without a tail, with both cached clamped products (the
 * top clamped too), batch 1 (sgemv products) and a prime batch. */
static void test_fast_path_shapes(void) {
    int n[] = {13, 17, 24, 9};
    int cases = 0;
    for (int tied = 0; tied < 2; tied++)
        for (int top = 0; top < 2; top++)
            for (int bi = 0; bi < 2; bi++) {
                int B = bi ? 5 : 1, T = 9, L = 3;
                ffr_net *net = make_net(L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, 40 + tied, 1.5f);
                net->alpha_up[2] = 1.7f; net->alpha_down[1] = 0.6f;
                float *x = malloc(sizeof(float) * B * n[0]), *tg = malloc(sizeof(float) * B * n[L]);
                ffr_rng r; ffr_rng_seed(&r, 90 + B);
                for (int i = 0; i < B * n[0]; i++) x[i] = (float)ffr_rng_uniform(&r);
                for (int i = 0; i < B * n[L]; i++) tg[i] = (float)(1.4 * ffr_rng_uniform(&r) - 0.2);
                ffr_relax_opts o; ffr_relax_opts_default(&o);
                o.max_sweeps = T; o.top_target = top ? tg : NULL;
                ffr_state *st; ffr_trace *tr; ffr_err e;
                ffr_state_create(&st, net, B, &e);
                CHECKF(ffr_relax(net, x, B, &o, st, &tr, &e) == FFR_OK, "relax: %s", e.msg);
                double maxd = 0, maxs = 0, moved = 0;
                for (int b = 0; b < B; b++) {
                    ref_state rs = {{0}}; double steps[64];
                    ref_relax(net, x + b * n[0], NULL, top ? tg + b * n[L] : NULL, FFR_INIT_FF, FFR_SCHED_ODD_EVEN, 1.0, T, steps, &rs);
                    for (int k = 0; k <= L; k++) {
                        for (int j = 0; j < n[k]; j++)
                            maxd = fmax(maxd, fabs(rs.s[k][j] - st->s[k][b * n[k] + j]) / (1 + fabs(rs.s[k][j])));
                        free(rs.s[k]);
                    }
                    for (int t = 1; t <= T; t++) {
                        maxs = fmax(maxs, fabs(steps[t] - tr->step[t * B + b]) / (1e-3 + steps[t]));
                        moved = fmax(moved, steps[t]);
                    }
                }
                CHECKF(maxd < 1e-4 && maxs < 1e-3, "fast path tied %d top %d B %d: state diff %g, step diff %g", tied, top, B, maxd, maxs);
                CHECK(moved > 1e-2);
                cases++;
                ffr_trace_free(tr); ffr_state_free(st); ffr_net_free(net); free(x); free(tg);
            }
    CHECK(cases == 8);
}

/* The AVX-512 elementwise pass (relax.c, vrow_update) against row_update, the
 * C loop it replaces: same states, rates and per-example steps bit for bit,
 * on widths that hit its 16-wide loop, a full group of 8 and the tail, for
 * every rule and rho it serves, clamped input or not (the cached product),
 * clamped top (the cached top-down product), eps < 1 and a batch. */
static void test_vector_pass(void) {
    int n[] = {29, 41, 23, 19}, cases = 0;
    struct { ffr_rule rule; ffr_rho rho; } kinds[] = {{FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID},
        {FFR_RULE_DENDRITIC, FFR_RHO_IDENTITY}, {FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID}, {FFR_RULE_HOPFIELD, FFR_RHO_IDENTITY}};
    for (int kd = 0; kd < 4; kd++)
        for (int top = 0; top < 2; top++)
            for (int ei = 0; ei < 2; ei++) {
                int B = 6, T = 7, L = 3;
                ffr_net *net = make_net(L, n, kinds[kd].rule, kinds[kd].rho, kd >= 2 || top, 70 + kd, kinds[kd].rho == FFR_RHO_IDENTITY ? 0.6f : 2.f);
                float *x = malloc(sizeof(float) * B * n[0]), *tg = malloc(sizeof(float) * B * n[L]);
                ffr_rng r; ffr_rng_seed(&r, 200 + kd);
                for (int i = 0; i < B * n[0]; i++) x[i] = (float)ffr_rng_uniform(&r);
                for (int i = 0; i < B * n[L]; i++) tg[i] = (float)(1.4 * ffr_rng_uniform(&r) - 0.2);
                ffr_relax_opts o; ffr_relax_opts_default(&o);
                o.max_sweeps = T; o.top_target = top ? tg : NULL; o.eps = ei ? 0.6 : 1.0; o.diverge_factor = 0;
                ffr_state *sv, *sc; ffr_trace *tv, *tc; ffr_err e;
                ffr_state_create(&sv, net, B, &e); ffr_state_create(&sc, net, B, &e);
                CHECKF(ffr_relax(net, x, B, &o, sv, &tv, &e) == FFR_OK, "relax: %s", e.msg);
                ffr_relax_simd(0);
                CHECKF(ffr_relax(net, x, B, &o, sc, &tc, &e) == FFR_OK, "relax: %s", e.msg);
                ffr_relax_simd(1);
                int same = 1;
                for (int k = 0; k <= L; k++) same &= !memcmp(sv->s[k], sc->s[k], sizeof(float) * B * n[k]);
                same &= !memcmp(tv->step, tc->step, sizeof(float) * (size_t)(T + 1) * B);
                same &= tv->relstep_median[T] == tc->relstep_median[T];
                CHECKF(same, "vector pass: rule %d rho %d top %d eps %g: differs from the C loop", (int)kinds[kd].rule,
                       (int)kinds[kd].rho, top, o.eps);
                CHECK(tv->step[(size_t)T * B] > 0);
                cases++;
                ffr_trace_free(tv); ffr_trace_free(tc); ffr_state_free(sv); ffr_state_free(sc); ffr_net_free(net);
                free(x); free(tg);
            }
    CHECK(cases == 16);
}

/* The update fused into each layer's last product (relax.c, gemm.c's
 * epilogue) against the separate pass: the same states, rates, steps and
 * active sets bit for bit, with 1 and 2 threads (whole rows per thread from
 * 96 rows on), every schedule (synchronous: never fused), fp32 and bf16,
 * clamped top or not, a tolerance that retires examples mid-run. */
static void test_fused_update(void) {
    int n[] = {37, 45, 29, 19}, cases = 0, nt0 = ffr_get_threads();
    for (int th = 1; th <= 2; th++)
        for (int sc = 0; sc < 3; sc++)
            for (int prec = 0; prec < 2; prec++)
                for (int top = 0; top < 2; top++) {
                    int B = 150, T = 12, L = 3;
                    ffr_set_threads(th);
                    ffr_net *net = make_net(L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, top, 80 + sc, 1.5f);
                    float *x = malloc(sizeof(float) * B * n[0]), *tg = malloc(sizeof(float) * B * n[L]);
                    ffr_rng r; ffr_rng_seed(&r, 300 + sc);
                    for (int i = 0; i < B * n[0]; i++) x[i] = (float)ffr_rng_uniform(&r);
                    for (int i = 0; i < B * n[L]; i++) tg[i] = (float)(1.4 * ffr_rng_uniform(&r) - 0.2);
                    ffr_relax_opts o; ffr_relax_opts_default(&o);
                    o.max_sweeps = T; o.top_target = top ? tg : NULL; o.schedule = (ffr_schedule)sc;
                    o.precision = prec ? FFR_PREC_BF16 : FFR_PREC_FP32; o.tol = 2e-3; o.diverge_factor = 0;
                    ffr_state *sf, *ss; ffr_trace *tf, *ts; ffr_err e;
                    ffr_state_create(&sf, net, B, &e); ffr_state_create(&ss, net, B, &e);
                    CHECKF(ffr_relax(net, x, B, &o, sf, &tf, &e) == FFR_OK, "relax: %s", e.msg);
                    ffr_relax_fuse(0);
                    CHECKF(ffr_relax(net, x, B, &o, ss, &ts, &e) == FFR_OK, "relax: %s", e.msg);
                    ffr_relax_fuse(1);
                    int same = tf->T == ts->T;
                    for (int k = 0; k <= L; k++) same &= !memcmp(sf->s[k], ss->s[k], sizeof(float) * B * n[k]);
                    if (same) same &= !memcmp(tf->step, ts->step, sizeof(float) * (size_t)(tf->T + 1) * B);
                    same &= !memcmp(tf->sweeps, ts->sweeps, sizeof(int) * B);
                    CHECKF(same, "fused update: %d threads, schedule %d, %s, top %d: differs from the separate pass", th, sc,
                           prec ? "bf16" : "fp32", top);
                    cases++;
                    ffr_trace_free(tf); ffr_trace_free(ts); ffr_state_free(sf); ffr_state_free(ss); ffr_net_free(net);
                    free(x); free(tg);
                }
    ffr_set_threads(nt0);
    CHECK(cases == 24);
}

/* Anderson acceleration: the same fixed point as the plain sweeps, in fewer
 * sweeps, the same bits with 1 and 2 threads, clear errors for bad use. */
static void test_anderson(void) {
    int n[] = {23, 40, 31, 17}, L = 3, B = 60, nt0 = ffr_get_threads();
    for (int tied = 0; tied < 2; tied++)
        for (int ei = 0; ei < 2; ei++) {
            ffr_net *net = make_net(L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, 500 + tied, 1.3f);
            net->alpha_down[1] = net->alpha_down[2] = 1.5f; /* strong feedback: a slow map */
            float *x = malloc(sizeof(float) * B * n[0]);
            ffr_rng r; ffr_rng_seed(&r, 600 + tied);
            for (int i = 0; i < B * n[0]; i++) x[i] = (float)ffr_rng_uniform(&r);
            ffr_relax_opts o; ffr_relax_opts_default(&o);
            o.tol_mode = FFR_TOL_REL; o.eps = ei ? 0.7 : 1.0; o.diverge_factor = 0;
            ffr_state *ref, *pl, *aa, *aa2; ffr_trace *tp, *ta, *ta2; ffr_err e;
            ffr_state_create(&ref, net, B, &e); ffr_state_create(&pl, net, B, &e);
            ffr_state_create(&aa, net, B, &e); ffr_state_create(&aa2, net, B, &e);
            o.tol = 1e-7; o.max_sweeps = 20000;
            CHECKF(ffr_relax(net, x, B, &o, ref, NULL, &e) == FFR_OK, "relax: %s", e.msg);
            o.tol = 1e-5; o.max_sweeps = 5000;
            CHECKF(ffr_relax(net, x, B, &o, pl, &tp, &e) == FFR_OK, "relax: %s", e.msg);
            o.anderson = 5;
            ffr_set_threads(1);
            CHECKF(ffr_relax(net, x, B, &o, aa, &ta, &e) == FFR_OK, "relax anderson: %s", e.msg);
            ffr_set_threads(2);
            CHECKF(ffr_relax(net, x, B, &o, aa2, &ta2, &e) == FFR_OK, "relax anderson: %s", e.msg);
            ffr_set_threads(nt0);
            double sp = 0, sa = 0, dp = 0, da = 0;
            int conv = 0, same = 1;
            for (int b = 0; b < B; b++) {
                sp += tp->sweeps[b]; sa += ta->sweeps[b]; conv += ta->converged[b];
                double ep = 0, ea = 0, nn = 0;
                for (int k = 1; k <= L; k++)
                    for (int j = 0; j < n[k]; j++) {
                        size_t i = (size_t)b * n[k] + j;
                        double v = ref->s[k][i];
                        ep += (pl->s[k][i] - v) * (pl->s[k][i] - v); ea += (aa->s[k][i] - v) * (aa->s[k][i] - v); nn += v * v;
                    }
                dp = fmax(dp, sqrt(ep / nn)); da = fmax(da, sqrt(ea / nn));
            }
            for (int k = 0; k <= L; k++) same &= !memcmp(aa->s[k], aa2->s[k], sizeof(float) * B * n[k]);
            same &= !memcmp(ta->sweeps, ta2->sweeps, sizeof(int) * B);
            CHECKF(conv == B, "anderson tied %d eps %g: %d of %d converged", tied, o.eps, conv, B);
            CHECKF(da < 1e-3 && dp < 1e-3, "anderson tied %d eps %g: distance to the fixed point %g (plain %g)", tied, o.eps, da, dp);
            CHECKF(sa < 0.8 * sp, "anderson tied %d eps %g: %.1f sweeps per example, plain %.1f", tied, o.eps, sa / B, sp / B);
            CHECKF(same, "anderson tied %d eps %g: 1 and 2 threads differ", tied, o.eps);
            ffr_trace_free(tp); ffr_trace_free(ta); ffr_trace_free(ta2);
            ffr_state_free(ref); ffr_state_free(pl); ffr_state_free(aa); ffr_state_free(aa2);
            ffr_net_free(net); free(x);
        }
    { /* free visible units (fill-in) and a clamped top: the history covers layers 0..L-1,
       * clamped units never move, the fixed point is the plain one */
        ffr_net *net = make_net(L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 700, 1.2f);
        unsigned char mask[23];
        for (int j = 0; j < n[0]; j++) mask[j] = (unsigned char)(j % 3 != 0); /* every third pixel free */
        float *x = malloc(sizeof(float) * B * n[0]), *tg = malloc(sizeof(float) * B * n[L]);
        ffr_rng r; ffr_rng_seed(&r, 701);
        for (int i = 0; i < B * n[0]; i++) x[i] = (float)ffr_rng_uniform(&r);
        for (int i = 0; i < B * n[L]; i++) tg[i] = (float)ffr_rng_uniform(&r);
        ffr_relax_opts o; ffr_relax_opts_default(&o);
        o.tol_mode = FFR_TOL_REL; o.diverge_factor = 0; o.visible_mask = mask; o.top_target = tg;
        ffr_state *ref, *aa; ffr_trace *ta; ffr_err e;
        ffr_state_create(&ref, net, B, &e); ffr_state_create(&aa, net, B, &e);
        o.tol = 1e-7; o.max_sweeps = 20000;
        CHECKF(ffr_relax(net, x, B, &o, ref, NULL, &e) == FFR_OK, "relax: %s", e.msg);
        o.tol = 1e-5; o.max_sweeps = 5000; o.anderson = 3;
        CHECKF(ffr_relax(net, x, B, &o, aa, &ta, &e) == FFR_OK, "relax anderson: %s", e.msg);
        double dmax = 0;
        int clamped_ok = 1, conv = 0;
        for (int b = 0; b < B; b++) {
            conv += ta->converged[b];
            for (int j = 0; j < n[0]; j++) {
                size_t i = (size_t)b * n[0] + j;
                if (mask[j]) clamped_ok &= aa->s[0][i] == x[i];
                dmax = fmax(dmax, fabs(aa->s[0][i] - ref->s[0][i]));
            }
            for (int j = 0; j < n[L]; j++) clamped_ok &= aa->s[L][(size_t)b * n[L] + j] == tg[(size_t)b * n[L] + j];
            for (int k = 1; k < L; k++)
                for (int j = 0; j < n[k]; j++) dmax = fmax(dmax, fabs(aa->s[k][(size_t)b * n[k] + j] - ref->s[k][(size_t)b * n[k] + j]));
        }
        CHECKF(clamped_ok, "anderson with a mask and a clamped top: a clamped unit moved");
        CHECKF(conv == B && dmax < 1e-3, "anderson with a mask: %d of %d converged, max diff %g from the fixed point", conv, B, dmax);
        ffr_trace_free(ta); ffr_state_free(ref); ffr_state_free(aa); ffr_net_free(net); free(x); free(tg);
    }
    /* bad use */
    ffr_net *net = make_net(L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 9, 1.f);
    float x[23] = {0};
    ffr_state *st; ffr_err e;
    ffr_state_create(&st, net, 1, &e);
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.anderson = 9;
    CHECK(ffr_relax(net, x, 1, &o, st, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "anderson"));
    o.anderson = 3; o.temperature = 0.1;
    CHECK(ffr_relax(net, x, 1, &o, st, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "deterministic"));
    ffr_state_free(st); ffr_net_free(net);
}

/* Anderson's vector twins (relax_anderson.c: the AVX-512 or AVX2 dot
 * products, mixing sums, differences and rate stores) against its C loops:
 * the same states, steps and sweep counts bit for bit, for every rate
 * function the store has a vector path for and one it has not (sigmoid),
 * layer widths with tails (23, 31, 17 units), free visible units (a mask) or
 * none, 1 and 2 threads. */
static void test_anderson_twins(void) {
    int n[] = {23, 40, 31, 17}, L = 3, B = 37, nt0 = ffr_get_threads(), cases = 0;
    struct { ffr_rule rule; ffr_rho rho; } kinds[] = {{FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID},
        {FFR_RULE_DENDRITIC, FFR_RHO_IDENTITY}, {FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID}, {FFR_RULE_HOPFIELD, FFR_RHO_SIGMOID}};
    unsigned char mask[23];
    for (int j = 0; j < n[0]; j++) mask[j] = (unsigned char)(j % 4 != 0);
    for (int kd = 0; kd < 4; kd++)
        for (int mk = 0; mk < 2; mk++)
            for (int nt = 1; nt <= 2; nt++) {
                ffr_net *net = make_net(L, n, kinds[kd].rule, kinds[kd].rho, kd >= 2, 900 + kd,
                                        kinds[kd].rho == FFR_RHO_IDENTITY ? 0.6f : 1.5f);
                float *x = malloc(sizeof(float) * B * n[0]);
                ffr_rng r; ffr_rng_seed(&r, 950 + kd);
                for (int i = 0; i < B * n[0]; i++) x[i] = (float)ffr_rng_uniform(&r);
                ffr_relax_opts o; ffr_relax_opts_default(&o);
                o.max_sweeps = 12; o.tol = 0; o.diverge_factor = 0; o.anderson = 5; o.visible_mask = mk ? mask : NULL;
                ffr_state *sv, *sc, *sp; ffr_trace *tv, *tc; ffr_err e;
                ffr_state_create(&sv, net, B, &e); ffr_state_create(&sc, net, B, &e); ffr_state_create(&sp, net, B, &e);
                ffr_set_threads(nt);
                CHECKF(ffr_relax(net, x, B, &o, sv, &tv, &e) == FFR_OK, "relax: %s", e.msg);
                ffr_relax_simd(0);
                CHECKF(ffr_relax(net, x, B, &o, sc, &tc, &e) == FFR_OK, "relax: %s", e.msg);
                ffr_relax_simd(1);
                ffr_relax_opts op = o; op.anderson = 0;
                CHECKF(ffr_relax(net, x, B, &op, sp, NULL, &e) == FFR_OK, "relax: %s", e.msg);
                ffr_set_threads(nt0);
                int same = 1, moved = 0;
                for (int k = 0; k <= L; k++) {
                    same &= !memcmp(sv->s[k], sc->s[k], sizeof(float) * B * n[k]);
                    moved |= k > 0 && memcmp(sv->s[k], sp->s[k], sizeof(float) * B * n[k]) != 0;
                }
                same &= !memcmp(tv->step, tc->step, sizeof(float) * (size_t)(o.max_sweeps + 1) * B);
                CHECKF(same, "anderson twins: rule %d rho %d mask %d threads %d: the vector path differs from the C loops",
                       (int)kinds[kd].rule, (int)kinds[kd].rho, mk, nt);
                CHECKF(moved, "anderson twins: rule %d rho %d: Anderson did not change the state (the test proves nothing)",
                       (int)kinds[kd].rule, (int)kinds[kd].rho);
                cases++;
                ffr_trace_free(tv); ffr_trace_free(tc);
                ffr_state_free(sv); ffr_state_free(sc); ffr_state_free(sp); ffr_net_free(net); free(x);
            }
    CHECK(cases == 16);
    /* the dot product and mixing sum alone (their last bits seldom reach a
     * float state): every length 0..67 (tails), 1..6 terms, values of mixed
     * signs and magnitudes, the vector twin against the C loops. (A product of
     * two floats is exact in double, so the dot's FMA equals a multiply and add;
     * its lanes and their order are what this can catch.) */
    ffr_rng r; ffr_rng_seed(&r, 977);
    float a[67], b[67], g[6][67], xv[67], xc[67];
    for (int i = 0; i < 67; i++) {
        a[i] = (float)((ffr_rng_uniform(&r) - 0.4) * pow(10, 4 * ffr_rng_uniform(&r) - 2));
        b[i] = (float)((ffr_rng_uniform(&r) - 0.6) * pow(10, 4 * ffr_rng_uniform(&r) - 2));
        for (int q = 0; q < 6; q++) g[q][i] = (float)(ffr_rng_uniform(&r) - 0.5);
    }
    const float *gs[6] = {g[0], g[1], g[2], g[3], g[4], g[5]};
    double c[6] = {1.3, -0.7, 0.45, -2.1, 0.15, 1.9};
    int same_dot = 1, same_comb = 1;
    for (int len = 0; len <= 67; len++) {
        double dv = ffr_aa_dot(a, b, len);
        ffr_relax_simd(0);
        double dc = ffr_aa_dot(a, b, len);
        ffr_relax_simd(1);
        same_dot &= memcmp(&dv, &dc, sizeof dv) == 0;
        for (int cnt = 1; cnt <= 6; cnt++) {
            ffr_aa_comb(xv, gs, c, cnt, len);
            ffr_relax_simd(0);
            ffr_aa_comb(xc, gs, c, cnt, len);
            ffr_relax_simd(1);
            same_comb &= len == 0 || memcmp(xv, xc, sizeof(float) * len) == 0;
        }
    }
    CHECKF(same_dot, "anderson twins: the dot product differs from the C loop");
    CHECKF(same_comb, "anderson twins: the mixing sum differs from the C loop");
}

/* --precision bf16: products in bfloat16 with fp32 sums. Close to the fp32
 * relaxation (not equal), converges, says which precision ran; where the CPU
 * has no AVX512_BF16 it runs fp32 and says so. */
static void test_bf16_relax(void) {
    int n[] = {57, 41, 33, 19};
    ffr_net *net = make_net(3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 41, 1.0f);
    int B = 13;
    float x[13 * 57];
    ffr_rng r; ffr_rng_seed(&r, 78);
    for (int i = 0; i < B * 57; i++) x[i] = (float)ffr_rng_uniform(&r);
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = 400; o.tol = 1e-3; o.tol_mode = FFR_TOL_REL;
    ffr_state *s32, *s16; ffr_trace *t32, *t16; ffr_err e;
    ffr_state_create(&s32, net, B, &e); ffr_state_create(&s16, net, B, &e);
    CHECK(ffr_relax(net, x, B, &o, s32, &t32, &e) == FFR_OK);
    o.precision = FFR_PREC_BF16;
    CHECK(ffr_relax(net, x, B, &o, s16, &t16, &e) == FFR_OK);
    CHECK(t32->precision == FFR_PREC_FP32);
    CHECK(t16->precision == (ffr_bf16_available() ? FFR_PREC_BF16 : FFR_PREC_FP32));
    double md = 0, mx = 0;
    int conv = 0;
    for (int b = 0; b < B; b++) conv += t16->converged[b];
    for (int k = 1; k <= 3; k++)
        for (int i = 0; i < B * n[k]; i++) { md = fmax(md, fabs(s16->s[k][i] - s32->s[k][i])); mx = fmax(mx, fabs(s32->s[k][i])); }
    CHECKF(conv == B, "bf16: %d of %d examples converged", conv, B);
    CHECKF(md < 3e-2 * (1 + mx), "bf16 vs fp32 fixed point: max diff %g", md);
    if (ffr_bf16_available()) CHECKF(md > 0, "bf16 run identical to fp32: the bf16 path did not run");
    else CHECK(md == 0);
    o.precision = (ffr_precision)7;
    CHECK(ffr_relax(net, x, B, &o, s16, NULL, &e) == FFR_ERR_ARG);
    ffr_precision p;
    CHECK(ffr_precision_parse("bf16", &p) == 0 && p == FFR_PREC_BF16 && ffr_precision_parse("fp16", &p) != 0);
    ffr_trace_free(t32); ffr_trace_free(t16); ffr_state_free(s32); ffr_state_free(s16); ffr_net_free(net);
}

/* ---- EP nudging (opts.beta, doc/math.md "Nudging") */
/* Relax B examples of net with opts o; exits the test on a failed call. */
static ffr_state *nudge_run(const ffr_net *net, const float *x, int B, const ffr_relax_opts *o, ffr_trace **tr) {
    ffr_state *st; ffr_err e;
    ffr_state_create(&st, net, B, &e);
    ffr_status s = ffr_relax(net, x, B, o, st, tr, &e);
    CHECKF(s == FFR_OK, "nudged relax: %s", e.msg);
    return st;
}
static double state_dist(const ffr_net *net, const ffr_state *a, const ffr_state *b, int B) {
    double d = 0;
    for (int k = 1; k <= net->L; k++)
        for (int i = 0; i < B * net->n[k]; i++) d += ((double)a->s[k][i] - b->s[k][i]) * ((double)a->s[k][i] - b->s[k][i]);
    return sqrt(d);
}
static int state_same(const ffr_net *net, const ffr_state *a, const ffr_state *b, int B) {
    int same = 1;
    for (int k = 0; k <= net->L; k++) same &= !memcmp(a->s[k], b->s[k], sizeof(float) * B * net->n[k]);
    return same;
}

static void test_nudge(void) {
    int n[] = {13, 11, 9, 7}, L = 3, B = 6;
    float x[6 * 13], y[6 * 7];
    ffr_rng r; ffr_rng_seed(&r, 909);
    for (int i = 0; i < B * n[0]; i++) x[i] = (float)ffr_rng_uniform(&r);
    for (int i = 0; i < B * n[L]; i++) y[i] = (float)ffr_rng_uniform(&r);
    struct { ffr_rule rule; ffr_rho rho; int tied; } cs[] = {
        {FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0}, {FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 1},
        {FFR_RULE_BOLTZMANN, FFR_RHO_SIGMOID, 1}, {FFR_RULE_DENDRITIC, FFR_RHO_SIGMOID, 1}};
    for (size_t c = 0; c < sizeof cs / sizeof *cs; c++) {
        ffr_net *net = make_net(L, n, cs[c].rule, cs[c].rho, cs[c].tied, 950 + c, 1.0f);
        if (cs[c].rule == FFR_RULE_DENDRITIC) for (int k = 0; k <= L; k++) { net->alpha_up[k] = 1.0f + 0.4f * k; net->alpha_down[k] = 0.7f; }
        ffr_relax_opts o; ffr_relax_opts_default(&o);
        o.max_sweeps = 3000; o.tol = 1e-6; o.diverge_factor = 0; /* above float rounding's limit cycles */
        o.schedule = c == 2 ? FFR_SCHED_SYNC : c == 3 ? FFR_SCHED_UP : FFR_SCHED_ODD_EVEN; /* every schedule */
        ffr_trace *t0, *tb;
        /* beta = 0 is the plain relaxation, bit for bit, with or without a target */
        ffr_state *s0 = nudge_run(net, x, B, &o, &t0);
        o.nudge_target = y;
        ffr_state *z = nudge_run(net, x, B, &o, NULL);
        CHECKF(state_same(net, s0, z, B), "case %zu: beta = 0 with a target differs from no nudging", c);
        ffr_state_free(z);
        double betas[] = {0.5, -0.3};
        for (int bi = 0; bi < 2; bi++) {
            double beta = betas[bi];
            o.beta = beta; o.measure_every = 0;
            ffr_state *sb = nudge_run(net, x, B, &o, &tb);
            int conv = 0;
            for (int b = 0; b < B; b++) conv += tb->converged[b];
            CHECKF(conv == B, "case %zu beta %g: %d of %d converged (last step %g)", c, beta, conv, B, tb->step_max[tb->T]);
            /* the fixed point: hidden layers satisfy their rule, the top its nudged one */
            float *F[FFR_MAX_LAYERS] = {0}, *f[FFR_MAX_LAYERS] = {0};
            for (int k = 0; k <= L; k++) { F[k] = calloc(B * n[k], sizeof(float)); f[k] = calloc(B * n[k], sizeof(float)); }
            ffr_branches(net, sb, f, NULL, F);
            double mh = 0, mt = 0;
            for (int k = 1; k < L; k++)
                for (int i = 0; i < B * n[k]; i++) mh = fmax(mh, fabs(F[k][i] - sb->s[k][i]));
            for (int i = 0; i < B * n[L]; i++) {
                double fl = f[L][i], s = sb->s[L][i], want;
                double rt = cs[c].rule == FFR_RULE_BOLTZMANN ? s : rho_d(net->rho, s);
                if (cs[c].rule == FFR_RULE_DENDRITIC) want = (net->alpha_up[L] * fl + beta * y[i]) / (net->alpha_up[L] + beta);
                else if (cs[c].rule == FFR_RULE_HOPFIELD) want = rho_d(net->rho, fl + beta * (y[i] - rt));
                else want = 1 / (1 + exp(-(fl + beta * (y[i] - rt))));
                mt = fmax(mt, fabs(want - s));
            }
            CHECKF(mh < 1e-5 && mt < 1e-5, "case %zu beta %g: fixed-point residual hidden %g, top (nudged) %g", c, beta, mh, mt);
            CHECKF(tb->residual[0] < 1e-5, "case %zu beta %g: the trace's residual %g ignores the nudge", c, beta, tb->residual[0]);
            double moved = state_dist(net, s0, sb, B);
            CHECKF(moved > 1e-3, "case %zu beta %g: the nudge moved the fixed point by %g: vacuous", c, beta, moved);
            for (int k = 0; k <= L; k++) { free(F[k]); free(f[k]); }
            /* tolerance stops and the active set: each example as if alone (its own target row) */
            for (int b = 0; b < B; b += 5) {
                ffr_relax_opts o1 = o; o1.nudge_target = y + b * n[L];
                ffr_state *s1 = nudge_run(net, x + b * n[0], 1, &o1, NULL);
                double md = 0;
                for (int k = 0; k <= L; k++)
                    for (int j = 0; j < n[k]; j++) md = fmax(md, fabs(s1->s[k][j] - sb->s[k][b * n[k] + j]));
                CHECKF(md < 1e-5, "case %zu beta %g example %d: alone differs by %g", c, beta, b, md);
                ffr_state_free(s1);
            }
            /* Anderson acceleration reaches the same nudged fixed point */
            ffr_relax_opts oa = o; oa.anderson = 3; oa.tol = 1e-6; oa.tol_mode = FFR_TOL_REL;
            ffr_state *sa = nudge_run(net, x, B, &oa, NULL);
            double da = state_dist(net, sa, sb, B);
            CHECKF(da < 1e-4, "case %zu beta %g: anderson's nudged fixed point differs by %g", c, beta, da);
            ffr_state_free(sa);
            /* the fused product and the vector pass do not change a bit */
            ffr_relax_opts of = o; of.tol = 0; of.max_sweeps = 7;
            ffr_state *p1 = nudge_run(net, x, B, &of, NULL);
            ffr_relax_fuse(0); ffr_relax_simd(0);
            ffr_state *p2 = nudge_run(net, x, B, &of, NULL);
            ffr_relax_fuse(1); ffr_relax_simd(1);
            CHECKF(state_same(net, p1, p2, B), "case %zu beta %g: fused/vector and C paths differ", c, beta);
            ffr_state_free(p1); ffr_state_free(p2);
            ffr_trace_free(tb); ffr_state_free(sb);
        }
        /* a small nudge moves the fixed point by O(beta) */
        double d[2], bs[2] = {1e-2, 1e-3};
        for (int i = 0; i < 2; i++) {
            o.beta = bs[i]; o.tol = 1e-9;
            ffr_state *sb = nudge_run(net, x, B, &o, NULL);
            d[i] = state_dist(net, s0, sb, B);
            ffr_state_free(sb);
        }
        CHECKF(d[1] > 0 && d[0] / d[1] > 7 && d[0] / d[1] < 13, "case %zu: moved %g at beta 1e-2, %g at 1e-3 (not O(beta))", c, d[0], d[1]);
        ffr_trace_free(t0); ffr_state_free(s0); ffr_net_free(net);
    }
    /* energy + beta C never rises under odd/even sweeps (hopfield; and dendritic, its extra branch) */
    for (int c = 0; c < 2; c++)
        for (int bi = 0; bi < 2; bi++) {
            double beta = bi ? -0.4 : 0.6;
            ffr_net *net = make_net(L, n, c ? FFR_RULE_DENDRITIC : FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 1, 970 + c, 3.0f);
            ffr_relax_opts o; ffr_relax_opts_default(&o);
            o.max_sweeps = 40; o.measure_every = 1; o.init = FFR_INIT_RANDOM; o.beta = beta; o.nudge_target = y;
            ffr_trace *tr;
            ffr_state *st = nudge_run(net, x, B, &o, &tr);
            int rises = 0;
            for (int t = 1; t <= tr->T; t++)
                if (tr->energy_mean[t] > tr->energy_mean[t - 1] + 1e-5 * (1 + fabs(tr->energy_mean[t - 1]))) rises++;
            CHECKF(rises == 0, "rule %d beta %g: E + beta C rose %d times", c, beta, rises);
            CHECKF(tr->energy_mean[0] - tr->energy_mean[tr->T] > 1e-3, "rule %d beta %g: no descent: vacuous", c, beta);
            /* the reported energy is E + beta C at the final state */
            double E[6], m = 0;
            CHECK(ffr_energy(net, st, E) == 0);
            for (int b = 0; b < B; b++) {
                double cst = 0;
                for (int j = 0; j < n[L]; j++) {
                    double rt = rho_d(FFR_RHO_HARDSIGMOID, st->s[L][b * n[L] + j]);
                    cst += 0.5 * (y[b * n[L] + j] - rt) * (y[b * n[L] + j] - rt);
                }
                double sigL = 1;
                if (c) for (int k = 1; k <= L; k++) sigL *= net->alpha_down[k - 1] / net->alpha_up[k];
                m += (E[b] + sigL * beta * cst) / B;
            }
            CHECK_NEAR(m, tr->energy_mean[tr->T], 1e-5);
            ffr_trace_free(tr); ffr_state_free(st); ffr_net_free(net);
        }
    /* bad use */
    ffr_net *net = make_net(L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 990, 1.f);
    ffr_state *st; ffr_err e;
    ffr_state_create(&st, net, B, &e);
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.beta = NAN; o.nudge_target = y;
    CHECK(ffr_relax(net, x, B, &o, st, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "finite"));
    o.beta = 0.5; o.nudge_target = NULL;
    CHECK(ffr_relax(net, x, B, &o, st, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "nudge_target"));
    o.nudge_target = y; o.top_target = y;
    CHECK(ffr_relax(net, x, B, &o, st, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "top_target"));
    o.top_target = NULL; o.beta = -2;
    CHECK(ffr_relax(net, x, B, &o, st, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "a_up(L) + beta"));
    ffr_state_free(st); ffr_net_free(net);
    net = make_net(L, n, FFR_RULE_BOLTZMANN, FFR_RHO_SIGMOID, 1, 991, 1.f);
    ffr_state_create(&st, net, B, &e);
    o.beta = 0.5; o.gibbs = 1;
    CHECK(ffr_relax(net, x, B, &o, st, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "Gibbs"));
    ffr_state_free(st); ffr_net_free(net);
}

/* The two traps of issue 11: Gibbs sampling with the sync schedule (two
 * independent chains) is refused; a hopfield network with the logistic rho
 * passes its states (the rates of Eq. 7) and the clamped data on, once
 * through rho, so that odd/even sweeps descend its energy. */
static void test_traps(void) {
    int n[] = {9, 13, 8, 6}, B = 5;
    float x[45];
    ffr_rng r; ffr_rng_seed(&r, 404);
    for (int i = 0; i < 45; i++) x[i] = (float)ffr_rng_uniform(&r);
    ffr_err e;
    ffr_net *net = make_net(3, n, FFR_RULE_BOLTZMANN, FFR_RHO_SIGMOID, 1, 405, 1.f);
    ffr_state *st;
    ffr_state_create(&st, net, B, &e);
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.gibbs = 1; o.schedule = FFR_SCHED_SYNC;
    CHECK(ffr_relax(net, x, B, &o, st, NULL, &e) == FFR_ERR_ARG && strstr(e.msg, "independent chains"));
    o.schedule = FFR_SCHED_ODD_EVEN;
    CHECK(ffr_relax(net, x, B, &o, st, NULL, &e) == FFR_OK);
    o.schedule = FFR_SCHED_UP;
    CHECK(ffr_relax(net, x, B, &o, st, NULL, &e) == FFR_OK);
    ffr_state_free(st); ffr_net_free(net);

    for (int init = 0; init < 2; init++) {
        net = make_net(3, n, FFR_RULE_HOPFIELD, FFR_RHO_SIGMOID, 1, 406 + init, 3.0f);
        ffr_state_create(&st, net, B, &e);
        ffr_relax_opts_default(&o);
        o.max_sweeps = 60; o.measure_every = 1; o.init = init ? FFR_INIT_RANDOM : FFR_INIT_ZERO;
        ffr_trace *tr;
        CHECK(ffr_relax(net, x, B, &o, st, &tr, &e) == FFR_OK);
        int rises = 0;
        for (int t = 1; t <= tr->T; t++)
            if (tr->energy_mean[t] > tr->energy_mean[t - 1] + 1e-6 * (1 + fabs(tr->energy_mean[t - 1]))) rises++;
        CHECKF(rises == 0, "hopfield sigmoid init %d: energy rose %d times", init, rises);
        CHECKF(tr->energy_mean[0] - tr->energy_mean[tr->T] > 1e-3, "hopfield sigmoid: no descent: vacuous");
        /* the fixed point: s_k = sigm(f_k + g_{k+1}) from the states themselves and the data x */
        double md = 0;
        for (int k = 1; k <= 3; k++)
            for (int b = 0; b < B; b++)
                for (int j = 0; j < n[k]; j++) {
                    double u = net->b[k][j] + (k < 3 ? net->c[k][j] : 0);
                    for (int i = 0; i < n[k - 1]; i++) u += net->W[k][j * n[k - 1] + i] * (double)st->s[k - 1][b * n[k - 1] + i];
                    if (k < 3)
                        for (int i = 0; i < n[k + 1]; i++) u += net->W[k + 1][i * n[k] + j] * (double)st->s[k + 1][b * n[k + 1] + i];
                    md = fmax(md, fabs(1 / (1 + exp(-u)) - st->s[k][b * n[k] + j]));
                }
        CHECKF(md < 1e-4, "hopfield sigmoid: fixed point of Eq. 7 off by %g", md);
        ffr_trace_free(tr); ffr_state_free(st); ffr_net_free(net);
    }
}


/* ffr_relax in chunks of rows (relax.c, ffr_relax_rows) against one run of
 * the whole batch: the same states, per-example steps, sweeps, stops,
 * distances and residuals, bit for bit where the products' sums do not depend
 * on the other rows (the kernel or the reference; a BLAS: to 1e-5); the
 * per-sweep rows combine to one run's (counts equal, means to rounding).
 * Random start and noise: the seeds follow the example, not the chunk. */
static void test_chunked(void) {
    int n[] = {13, 11, 9, 7};
    ffr_net *net = make_net(3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 41, 1.3f);
    int B = 23;
    float x[23 * 13];
    ffr_rng r; ffr_rng_seed(&r, 78);
    for (int i = 0; i < 23 * 13; i++) x[i] = (float)(ffr_rng_uniform(&r) * (1 + (i / 13) % 3));
    int exact = ffr_gemm_uses_fast();
#ifndef FFR_USE_BLAS
    exact = 1;
#endif
    for (int cfg = 0; cfg < 3; cfg++) {
        ffr_relax_opts o; ffr_relax_opts_default(&o);
        o.max_sweeps = 60; o.tol = 1e-4; o.measure_every = cfg == 2 ? -1 : 4;
        if (cfg == 1) { o.init = FFR_INIT_RANDOM; o.eps = 0.5; o.temperature = 1e-4; o.tol = 0; o.max_sweeps = 20; }
        if (cfg == 2) o.anderson = 3;
        ffr_state *s1, *s2; ffr_trace *t1, *t2; ffr_err e;
        ffr_state_create(&s1, net, B, &e); ffr_state_create(&s2, net, B, &e);
        CHECKF(ffr_relax_rows(net, x, B, &o, s1, &t1, 0, &e) == FFR_OK, "%s", e.msg);
        CHECKF(ffr_relax_rows(net, x, B, &o, s2, &t2, 7, &e) == FFR_OK, "%s", e.msg);
        double md = state_dist(net, s1, s2, B);
        if (exact) CHECKF(state_same(net, s1, s2, B), "cfg %d: chunked state differs by %g", cfg, md);
        else CHECKF(md < 1e-5, "cfg %d: chunked state differs by %g", cfg, md);
        CHECK(t1->T == t2->T && t1->B == t2->B && t1->total_updates == t2->total_updates);
        CHECK(!memcmp(t1->sweeps, t2->sweeps, sizeof(int) * B) && !memcmp(t1->converged, t2->converged, B));
        if (exact) {
            CHECK(!memcmp(t1->step, t2->step, sizeof(float) * (t1->T + 1) * B));
            CHECK(!memcmp(t1->dist, t2->dist, sizeof(float) * B) && !memcmp(t1->norm, t2->norm, sizeof(float) * B));
            CHECK(!memcmp(t1->residual, t2->residual, sizeof(float) * B) || cfg == 2);
            CHECK(!memcmp(t1->rate, t2->rate, sizeof(float) * B));
        }
        int distinct = 0;
        for (int b = 1; b < B; b++) distinct += t1->sweeps[b] != t1->sweeps[0];
        CHECK(cfg == 1 || distinct > 0); /* the examples stopped at different sweeps */
        double tl = exact ? 1e-6 : 1e-1; /* a BLAS's sums depend on the rows (sgemv at one row): runs drift apart */
        for (int t = 0; t <= t1->T && t1->T == t2->T; t++) {
            CHECKF(t1->n_active[t] == t2->n_active[t] && t1->measured[t] == t2->measured[t], "cfg %d row %d", cfg, t);
            CHECK_NEAR(t2->step_mean[t], t1->step_mean[t], tl);
            CHECK_NEAR(t2->rstep_mean[t], t1->rstep_mean[t], tl);
            CHECK_NEAR(t2->step_max[t], t1->step_max[t], tl);
            CHECK_NEAR(t2->frac_converged[t], t1->frac_converged[t], 1e-12);
            if (t > 0) CHECK_NEAR(t2->step_median[t], t1->step_median[t], tl);
            if (t1->measured[t]) {
                CHECK_NEAR(t2->energy_mean[t], t1->energy_mean[t], tl);
                CHECK_NEAR(t2->residual_mean[t], t1->residual_mean[t], tl);
                CHECK_NEAR(t2->disagree[t * 4 + 1], t1->disagree[t * 4 + 1], tl);
                CHECK_NEAR(t2->mpe_up[t * 4 + 3], t1->mpe_up[t * 4 + 3], tl);
            } else CHECK(isnan(t2->energy_mean[t]) && isnan(t1->residual_mean[t]));
        }
        if (cfg == 0) CHECK(t1->measured[4] && t1->measured[t1->T] && !t1->measured[5]);
        CHECK(!memcmp(&t1->rate_median, &t2->rate_median, sizeof(double)) || !exact);
        ffr_trace_free(t1); ffr_trace_free(t2); ffr_state_free(s1); ffr_state_free(s2);
    }
    ffr_net_free(net);
}

int main(void) {
    test_bf16_relax();
    test_gemm();
    test_against_reference();
    test_fast_path_shapes();
    test_vector_pass();
    test_fused_update();
    test_anderson();
    test_anderson_twins();
    test_ff_is_fixed_point();
    test_energy_descent();
    test_fixed_point_eq16();
    test_active_set();
    test_chunked();
    test_noise_gibbs_divergence_args();
    test_nudge();
    test_traps();
    MT_DONE("test_relax");
}
