/* test_ep.c - equilibrium propagation (src/ep.c, src/train_ep.c):
 * - the gradient check: on a small hopfield network (hard sigmoid), the EP
 *   update with beta = 1e-3, one-sided and centered, against the true
 *   gradient of the loss at the free fixed point, by central finite
 *   differences of a double-precision relaxation written here (independent
 *   of the engine); cosine >= 0.999 per layer. Examples are chosen away from
 *   the hard sigmoid's kinks: every unit's total input at the free fixed
 *   point is at least 0.02 from 0 and 1 (a unit at a kink makes the loss
 *   non-differentiable there, and single examples disagree);
 * - the dendritic (vector-field) formula against naive loops, untied and tied;
 * - the relaxer's reuse of the clamped input's product across phases
 *   (ffr_relaxer_same_input): bit-identical to a fresh relaxation, and
 *   recomputed after the weights change or when the batch differs;
 * - label checks (count, range); the fan-in init's range;
 * - the trainer: learns a separable problem, is deterministic for a seed,
 *   and resumes bit-identically from its checkpoint. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minitest.h"
#include "ffrelax.h"

/* ---------------------------------------------------------- reference */
/* Double-precision hopfield relaxation of one example (odd/even sweeps to a
 * step < 1e-14): s[k] (n_k), s[0] = x. Returns the loss 1/2 ||s_L - y||^2. */
typedef struct { int L, n[8]; double *W[8], *b[8]; } dnet;

static double clip01(double u) { return u < 0 ? 0 : (u > 1 ? 1 : u); }

static double input_of(const dnet *d, double **s, int k, int j) {
    double u = d->b[k][j];
    for (int i = 0; i < d->n[k - 1]; i++) u += d->W[k][j * d->n[k - 1] + i] * s[k - 1][i];
    if (k < d->L)
        for (int i = 0; i < d->n[k + 1]; i++) u += d->W[k + 1][i * d->n[k] + j] * s[k + 1][i];
    return u;
}

static double ref_relax(const dnet *d, double **s, const float *y, int cold) {
    if (cold)
        for (int k = 1; k <= d->L; k++) memset(s[k], 0, d->n[k] * sizeof(double));
    for (int t = 0; t < 100000; t++) {
        double step = 0;
        for (int par = 1; par >= 0; par--)
            for (int k = 1; k <= d->L; k++) {
                if (k % 2 != par) continue;
                for (int j = 0; j < d->n[k]; j++) {
                    double v = clip01(input_of(d, s, k, j));
                    step = fmax(step, fabs(v - s[k][j]));
                    s[k][j] = v;
                }
            }
        if (step < 1e-14) break;
    }
    double l = 0;
    for (int j = 0; j < d->n[d->L]; j++) l += 0.5 * (s[d->L][j] - y[j]) * (s[d->L][j] - y[j]);
    return l;
}

static double cosine(const double *a, const double *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

static void test_gradient_check(void) {
    int n[] = {6, 8, 5, 3}, L = 3, B = 8;
    ffr_net *net = NULL;
    ffr_err err;
    CHECK(ffr_net_create(&net, L, n, FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 1, &err) == FFR_OK);
    ffr_net_init_fanin(net, 7, 1.f);
    for (int k = 1; k <= L; k++) /* move the units toward the linear part: both regimes present */
        for (int j = 0; j < n[k]; j++) net->b[k][j] += 0.3f;
    dnet d = {.L = L};
    for (int k = 0; k <= L; k++) d.n[k] = n[k];
    for (int k = 1; k <= L; k++) {
        d.W[k] = malloc(sizeof(double) * n[k] * n[k - 1]);
        d.b[k] = malloc(sizeof(double) * n[k]);
        for (int i = 0; i < n[k] * n[k - 1]; i++) d.W[k][i] = net->W[k][i];
        for (int j = 0; j < n[k]; j++) d.b[k][j] = net->b[k][j];
    }
    double *sb[8];
    for (int k = 0; k <= L; k++) sb[k] = calloc(n[k], sizeof(double));
    /* pick B examples whose free fixed point has no unit within 0.02 of a kink */
    float *x = malloc(sizeof(float) * B * n[0]), *y = calloc((size_t)B * n[L], sizeof(float));
    ffr_rng rng;
    ffr_rng_seed(&rng, 11);
    int got = 0, tries = 0, saturated = 0, linear = 0;
    while (got < B && tries < 10000) {
        tries++;
        for (int i = 0; i < n[0]; i++) sb[0][i] = x[got * n[0] + i] = (float)ffr_rng_uniform(&rng);
        for (int j = 0; j < n[L]; j++) y[got * n[L] + j] = 0;
        y[got * n[L] + (int)(ffr_rng_u64(&rng) % n[L])] = 1;
        ref_relax(&d, sb, y + got * n[L], 1);
        double margin = 1;
        int sat = 0, lin = 0;
        for (int k = 1; k <= L; k++)
            for (int j = 0; j < n[k]; j++) {
                double u = input_of(&d, sb, k, j);
                margin = fmin(margin, fmin(fabs(u), fabs(u - 1)));
                if (u > 0 && u < 1) lin++; else sat++;
            }
        if (margin > 0.02) { got++; saturated += sat; linear += lin; }
    }
    CHECKF(got == B, "found %d of %d examples away from the kinks in %d tries", got, B, tries);
    CHECKF(saturated > 0 && linear > 0, "units saturated %d, linear %d: both regimes must be present", saturated, linear);

    /* the true gradient: central differences of J = (1/2B) sum_b ||s_L - y||^2 at the free fixed point */
    size_t np = 0;
    for (int k = 1; k <= L; k++) np += (size_t)n[k] * n[k - 1] + n[k];
    double *fd = calloc(np, sizeof(double));
    size_t q = 0;
    const double h = 1e-6;
    for (int k = 1; k <= L; k++)
        for (int part = 0; part < 2; part++) {
            int cnt = part ? n[k] : n[k] * n[k - 1];
            double *th = part ? d.b[k] : d.W[k];
            for (int i = 0; i < cnt; i++, q++) {
                double keep = th[i], J[2];
                for (int sgn = 0; sgn < 2; sgn++) {
                    th[i] = keep + (sgn ? -h : h);
                    J[sgn] = 0;
                    for (int b = 0; b < B; b++) {
                        for (int j = 0; j < n[0]; j++) sb[0][j] = x[b * n[0] + j];
                        J[sgn] += ref_relax(&d, sb, y + b * n[L], 1) / B;
                    }
                }
                th[i] = keep;
                fd[q] = (J[0] - J[1]) / (2 * h);
            }
        }

    /* EP with the engine: free phase, then nudged phases from the free fixed point */
    ffr_state *s0 = NULL, *sp = NULL, *sm = NULL;
    ffr_state_create(&s0, net, B, &err); ffr_state_create(&sp, net, B, &err); ffr_state_create(&sm, net, B, &err);
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    o.max_sweeps = 3000; o.tol = 0; o.measure_every = -1; o.diverge_factor = 0;
    CHECK(ffr_relax(net, x, B, &o, s0, NULL, &err) == FFR_OK);
    const double beta = 1e-3;
    ffr_net *g = NULL;
    ffr_net_clone(&g, net, &err);
    float *work = malloc(ffr_ep_work_floats(net, B) * sizeof(float));
    for (int centered = 0; centered < 2; centered++) {
        ffr_state *nud[2] = {sp, sm};
        for (int m = 0; m < 1 + centered; m++) {
            for (int k = 0; k <= L; k++) memcpy(nud[m]->s[k], s0->s[k], sizeof(float) * B * n[k]);
            ffr_relax_opts on = o;
            on.init = FFR_INIT_GIVEN; on.beta = m ? -beta : beta; on.nudge_target = y;
            CHECK(ffr_relax(net, x, B, &on, nud[m], NULL, &err) == FFR_OK);
        }
        double l = ffr_ep_grad(net, sp, beta, centered ? sm : s0, centered ? -beta : 0, s0, y, g, work);
        CHECK(l > 0 && isfinite(l));
        q = 0;
        for (int k = 1; k <= L; k++) {
            size_t cnt = (size_t)n[k] * n[k - 1] + n[k];
            double *ep = malloc(cnt * sizeof(double));
            for (size_t i = 0; i < (size_t)n[k] * n[k - 1]; i++) ep[i] = g->W[k][i];
            for (int j = 0; j < n[k]; j++) ep[(size_t)n[k] * n[k - 1] + j] = g->b[k][j];
            double cs = cosine(ep, fd + q, cnt), nfd = 0;
            for (size_t i = 0; i < cnt; i++) nfd += fd[q + i] * fd[q + i];
            CHECKF(cs >= 0.999 && nfd > 1e-8, "%s EP, layer %d: cosine %.6f with the finite-difference gradient (|fd|^2 %.3g)",
                   centered ? "centered" : "one-sided", k, cs, nfd);
            printf("  gradient check %-9s layer %d: cosine %.6f\n", centered ? "centered" : "one-sided", k, cs);
            free(ep);
            q += cnt;
        }
    }
    for (int k = 1; k <= L; k++) { free(d.W[k]); free(d.b[k]); }
    for (int k = 0; k <= L; k++) free(sb[k]);
    free(fd); free(x); free(y); free(work);
    ffr_state_free(s0); ffr_state_free(sp); ffr_state_free(sm);
    ffr_net_free(g); ffr_net_free(net);
}

/* ------------------------------------------ dendritic formula, naive loops */
static void test_dendritic_formula(void) {
    for (int tied = 0; tied < 2; tied++) {
        int n[] = {5, 7, 4}, L = 2, B = 3;
        ffr_net *net = NULL, *g = NULL;
        ffr_err err;
        ffr_net_create(&net, L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, &err);
        ffr_net_init_fanin(net, 3, 1.f);
        net->alpha_up[1] = 1.5f; net->alpha_down[1] = 0.5f; net->alpha_up[2] = 2.f;
        for (size_t i = 0; i < net->nparams; i++) net->params[i] += 0.01f * (float)(i % 7);
        ffr_net_clone(&g, net, &err);
        ffr_state *sa = NULL, *sb = NULL, *s0 = NULL;
        ffr_state_create(&sa, net, B, &err); ffr_state_create(&sb, net, B, &err); ffr_state_create(&s0, net, B, &err);
        ffr_rng r;
        ffr_rng_seed(&r, 5);
        for (int k = 0; k <= L; k++)
            for (int i = 0; i < B * n[k]; i++) {
                s0->s[k][i] = (float)(1.4 * ffr_rng_uniform(&r) - 0.2);
                sa->s[k][i] = (float)(1.4 * ffr_rng_uniform(&r) - 0.2);
                sb->s[k][i] = (float)(1.4 * ffr_rng_uniform(&r) - 0.2);
            }
        float *work = malloc(ffr_ep_work_floats(net, B) * sizeof(float));
        const double ba = 0.3, bb = -0.2;
        ffr_ep_grad(net, sa, ba, sb, bb, s0, NULL, g, work);
        double maxerr = 0;
        for (int k = 1; k <= L; k++) {
            double kap = net->alpha_up[k] + (k < L ? net->alpha_down[k] : 0);
            double c = net->alpha_up[k] / kap / ((ba - bb) * B);
            for (int i = 0; i < n[k]; i++) {
                double gb = 0;
                for (int b = 0; b < B; b++) gb -= c * (sa->s[k][b * n[k] + i] - sb->s[k][b * n[k] + i]);
                maxerr = fmax(maxerr, fabs(gb - g->b[k][i]));
                for (int j = 0; j < n[k - 1]; j++) {
                    double gw = 0;
                    for (int b = 0; b < B; b++)
                        gw -= c * (sa->s[k][b * n[k] + i] - sb->s[k][b * n[k] + i]) * clip01(s0->s[k - 1][b * n[k - 1] + j]);
                    maxerr = fmax(maxerr, fabs(gw - g->W[k][i * n[k - 1] + j]));
                }
            }
        }
        if (!tied) { /* Eq. 23 on V_2, c_1 at s0 */
            int k = 2;
            for (int i = 0; i < n[k - 1]; i++) {
                double gc = 0;
                for (int j = 0; j < n[k]; j++) {
                    double gv = 0;
                    for (int b = 0; b < B; b++) {
                        double pred = net->c[k - 1][i];
                        for (int m = 0; m < n[k]; m++) pred += net->V[k][i * n[k] + m] * clip01(s0->s[k][b * n[k] + m]);
                        double e = s0->s[k - 1][b * n[k - 1] + i] - pred;
                        gv -= e * clip01(s0->s[k][b * n[k] + j]) / B;
                        if (j == 0) gc -= e / B;
                    }
                    maxerr = fmax(maxerr, fabs(gv - g->V[k][i * n[k] + j]));
                }
                maxerr = fmax(maxerr, fabs(gc - g->c[k - 1][i]));
            }
        }
        CHECKF(maxerr < 1e-5, "dendritic EP gradient (%s) vs naive loops: max error %.3g", tied ? "tied" : "untied", maxerr);
        free(work);
        ffr_state_free(sa); ffr_state_free(sb); ffr_state_free(s0);
        ffr_net_free(g); ffr_net_free(net);
    }
}

/* Layers 1..L of a and b are bit-identical (B rows). */
static int same_state(const ffr_net *net, const ffr_state *a, const ffr_state *b, int B) {
    for (int k = 1; k <= net->L; k++)
        if (memcmp(a->s[k], b->s[k], (size_t)B * net->n[k] * sizeof(float))) return 0;
    return 1;
}

/* One phase the way train_ep.c runs it (the run's relaxer, maybe reusing the
 * input's product) against a fresh ffr_relax from the same start. */
static void phase_vs_fresh(ffr_relaxer *rx, const ffr_net *net, const ffr_relax_opts *o, int same, int reused,
                           const float *x, int B, const ffr_state *from, ffr_state *got, ffr_state *want,
                           const char *what) {
    ffr_err err;
    for (int k = 0; k <= net->L; k++) {
        memcpy(got->s[k], from->s[k], (size_t)B * net->n[k] * sizeof(float));
        memcpy(want->s[k], from->s[k], (size_t)B * net->n[k] * sizeof(float));
    }
    CHECK(ffr_relaxer_set_opts(rx, o, &err) == FFR_OK);
    if (same) ffr_relaxer_same_input(rx);
    ffr_state g = *got, w = *want;
    g.B = w.B = B;
    const ffr_trace *tg = NULL;
    ffr_trace *tw = NULL;
    CHECKF(ffr_relaxer_run(rx, x, B, &g, &tg, &err) == FFR_OK, "%s: %s", what, err.msg);
    CHECKF(ffr_relax(net, x, B, o, &w, &tw, &err) == FFR_OK, "%s: %s", what, err.msg);
    CHECKF(same_state(net, got, want, B), "%s: the relaxer's result differs from a fresh relaxation", what);
    /* the work done says whether the product was reused: 2 B n_1 n_0 flops fewer */
    double saved = tw && tg ? tw->flops - tg->flops : -1;
    CHECKF(saved == (reused ? 2.0 * B * net->n[1] * net->n[0] : 0.0), "%s: %g flops saved, expected %s", what, saved,
           reused ? "the input's product" : "none");
    ffr_trace_free(tw);
}

static void test_same_input(void) {
    ffr_err err;
    int n[] = {37, 23, 11, 5}, L = 3, B = 13;
    ffr_net *net = NULL;
    CHECK(ffr_net_create(&net, L, n, FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 1, &err) == FFR_OK);
    ffr_net_init_fanin(net, 5, 1.f);
    float x[13 * 37], y[13 * 5];
    ffr_rng r;
    ffr_rng_seed(&r, 11);
    for (int i = 0; i < B * n[0]; i++) x[i] = (float)ffr_rng_uniform(&r);
    memset(y, 0, sizeof y);
    for (int b = 0; b < B; b++) y[b * n[L] + b % n[L]] = 1.f;
    ffr_state *sf, *got, *want, *prev;
    ffr_state_create(&sf, net, B, &err); ffr_state_create(&got, net, B, &err);
    ffr_state_create(&want, net, B, &err); ffr_state_create(&prev, net, B, &err);
    ffr_relax_opts of, on;
    ffr_relax_opts_default(&of);
    of.init = FFR_INIT_FF; of.tol = 1e-6; of.max_sweeps = 60; of.measure_every = -1;
    on = of;
    on.init = FFR_INIT_GIVEN; on.beta = 0.5; on.nudge_target = y;
    ffr_relaxer *rx = NULL;
    CHECK(ffr_relaxer_create(&rx, net, &of, B, &err) == FFR_OK);
    CHECK(ffr_relaxer_run(rx, x, B, sf, NULL, &err) == FFR_OK); /* the free phase: the product cached */
    phase_vs_fresh(rx, net, &on, 1, 1, x, B, sf, got, want, "nudged +beta, input reused");
    CHECKF(!same_state(net, got, sf, B), "the nudge moved nothing: the comparison would be vacuous");
    for (int k = 0; k <= L; k++) memcpy(prev->s[k], got->s[k], (size_t)B * n[k] * sizeof(float));
    on.beta = -0.5;
    phase_vs_fresh(rx, net, &on, 1, 1, x, B, sf, got, want, "nudged -beta, input reused");
    /* the weights change: the cached product must be recomputed */
    for (int i = 0; i < n[1] * n[0]; i++) net->W[1][i] *= 1.5f;
    CHECK(ffr_relaxer_update(rx, &err) == FFR_OK);
    on.beta = 0.5;
    phase_vs_fresh(rx, net, &on, 1, 0, x, B, sf, got, want, "after ffr_relaxer_update");
    CHECKF(!same_state(net, got, prev, B), "changing W_1 changed nothing: the stale-cache check would be vacuous");
    /* a different batch size: recomputed */
    phase_vs_fresh(rx, net, &on, 1, 0, x + 2 * n[0], B - 3, sf, got, want, "another batch size");
    ffr_relaxer_free(rx);
    ffr_state_free(sf); ffr_state_free(got); ffr_state_free(want); ffr_state_free(prev);
    ffr_net_free(net);
}

static void test_labels_and_init(void) {
    ffr_err err;
    unsigned char y[5] = {0, 1, 9, 3, 2};
    CHECK(ffr_labels_check(y, 5, 5, 10, "y", &err) == FFR_OK);
    CHECK(ffr_labels_check(y, 5, 6, 10, "y", &err) == FFR_ERR_FORMAT && strstr(err.msg, "expected 6"));
    CHECK(ffr_labels_check(y, 5, 5, 9, "y", &err) == FFR_ERR_FORMAT && strstr(err.msg, "label 9 of example 2"));
    int n[] = {100, 30, 10};
    ffr_net *net = NULL;
    ffr_net_create(&net, 2, n, FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 1, &err);
    ffr_net_init_fanin(net, 1, 1.f);
    float mx = 0;
    for (int i = 0; i < 30 * 100; i++) mx = fmaxf(mx, fabsf(net->W[1][i]));
    CHECKF(mx <= 0.1f && mx > 0.09f, "fan-in init: max |W1| %.4f, expected just under 1/sqrt(100)", mx);
    ffr_net_free(net);
}

int main(void) {
    ffr_set_threads(1);
    test_gradient_check();
    test_dendritic_formula();
    test_same_input();
    test_labels_and_init();
    MT_DONE("test_ep");
}
