/* train_dendritic.c - the local dendritic rule of Eq. 23 over the whole
 * network. For each minibatch: relax to the fixed point s* from the
 * feedforward start (Eq. 17 -> Eq. 16, ffr_relax), evaluate every branch at
 * s* (ffr_branches), and move each branch toward predicting its soma:
 *   apical  (into layer k-1): dV_k ~ (s_{k-1} - g_k(s)) rho(s_k)^T, dc_{k-1} ~ s_{k-1} - g_k
 *   basal   (into layer k):   dW_k ~ (s_k - f_k(s)) rho(s_{k-1})^T, db_k ~ s_k - f_k (optional)
 * averaged over the minibatch: the gradient of C = (1/2B) sum ||s - d(s)||^2
 * (Eq. 22) with s held fixed. Tied networks have one matrix for both
 * branches (V_k = W_k^T): the apical rule moves W_k (transposed), and with
 * basal on both rules add into W_k. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "train_loop.h"

/* Eq. 23 gradient (the negative of the update direction) at the state st;
 * f, g, R: (B, n_k) scratch per layer. Returns the mean squared apical error per unit. */
static double eq23_grad(const ffr_net *net, const ffr_state *st, int basal, float **f, float **g,
                        float **R, ffr_net *gnet, int nt) {
    int L = net->L, B = st->B;
    ffr_branches(net, st, basal ? f : NULL, g, NULL);
    for (int k = 0; k <= L; k++)
        for (size_t i = 0; i < (size_t)B * net->n[k]; i++) R[k][i] = ffr_rho_apply(net->rho, st->s[k][i]);
    float a = -1.f / B;
    double sse = 0, units = 0;
    for (int k = 1; k <= L; k++) {
        int lo = net->n[k - 1], hi = net->n[k];
        float *E = g[k - 1]; /* E = s_{k-1} - g_k, in place */
        memset(gnet->c[k - 1], 0, (size_t)lo * sizeof(float));
        for (int r = 0; r < B; r++)
            for (int j = 0; j < lo; j++) {
                size_t i = (size_t)r * lo + j;
                E[i] = st->s[k - 1][i] - E[i];
                sse += (double)E[i] * E[i];
                gnet->c[k - 1][j] += a * E[i];
            }
        units += (double)B * lo;
        if (net->tied) /* gW[hi,lo] = -(1/B) R_k^T E */
            ffr_train_gemm(nt, 1, 0, hi, lo, B, a, R[k], hi, E, lo, 0.f, gnet->W[k], lo);
        else { /* gV[lo,hi] = -(1/B) E^T R_k */
            ffr_train_gemm(nt, 1, 0, lo, hi, B, a, E, lo, R[k], hi, 0.f, gnet->V[k], hi);
            memset(gnet->W[k], 0, (size_t)hi * lo * sizeof(float));
        }
        memset(gnet->b[k], 0, (size_t)hi * sizeof(float));
        if (basal) { /* Eb = s_k - f_k; gW[hi,lo] += -(1/B) Eb^T R_{k-1} */
            float *Eb = f[k];
            for (int r = 0; r < B; r++)
                for (int j = 0; j < hi; j++) {
                    size_t i = (size_t)r * hi + j;
                    Eb[i] = st->s[k][i] - Eb[i];
                    gnet->b[k][j] += a * Eb[i];
                }
            ffr_train_gemm(nt, 1, 0, hi, lo, B, a, Eb, hi, R[k - 1], lo, 1.f, gnet->W[k], lo);
        }
    }
    return units > 0 ? sse / units : 0;
}

static float *layers(const ffr_net *net, int B, float **v) {
    size_t tot = 0;
    for (int k = 0; k <= net->L; k++) tot += (size_t)B * net->n[k];
    float *p = ffr_calloc(tot, sizeof(float));
    if (!p) return NULL;
    for (int k = 0; k <= net->L; k++) { v[k] = p; p += (size_t)B * net->n[k]; }
    return v[0];
}

/* The trainer's state between the loop's calls (train_loop.h). */
typedef struct {
    ffr_net *net;
    const float *x;
    const ffr_train_opts *o;
    ffr_relax_opts relax;  /* o->relax, its threads o->threads unless set */
    int basal;
    ffr_state *st, *st2;   /* relaxation states for B = Bmax and for the last short minibatch */
    float *f[FFR_MAX_LAYERS], *g[FFR_MAX_LAYERS], *R[FFR_MAX_LAYERS]; /* (Bmax, n_k) branch scratch */
    float *fb, *gb, *rb;   /* their allocations */
    float *Xb;             /* (Bmax, n_0) the minibatch */
} den_run;

/* Relax the minibatch from the data (Eq. 17 -> Eq. 16), then the Eq. 23 gradient at s*. */
static ffr_status den_batch(void *self, int stage, const size_t *idx, int B, ffr_net *grad, double *loss,
                            double *sweeps, ffr_rng *rng, ffr_err *err) {
    den_run *s = self;
    const ffr_net *net = s->net;
    int n0 = net->n[0];
    (void)stage; (void)rng;
    ffr_state *st = B == s->st->B ? s->st : s->st2;
    for (int r = 0; r < B; r++) memcpy(s->Xb + (size_t)r * n0, s->x + idx[r] * n0, n0 * sizeof(float));
    ffr_trace *tr = NULL;
    ffr_status rc = ffr_relax(net, s->Xb, B, &s->relax, st, &tr, err);
    if (!rc) {
        *sweeps += (double)tr->total_updates;
        *loss = eq23_grad(net, st, s->basal, s->f, s->g, s->R, grad, s->o->threads);
    }
    ffr_trace_free(tr);
    return rc;
}

/* Every layer's branches: W_k (tied, or basal), b_k (basal), V_k (untied), c_{k-1}. */
static int den_segments(void *self, int stage, ffr_train_seg *seg, int max) {
    den_run *s = self;
    const ffr_net *net = s->net;
    int c = 0;
    (void)stage; (void)max;
    for (int k = 1; k <= net->L; k++) {
        size_t w = (size_t)net->n[k] * net->n[k - 1];
        if (net->tied || s->basal) seg[c++] = (ffr_train_seg){(size_t)(net->W[k] - net->params), w, 1};
        if (s->basal) seg[c++] = (ffr_train_seg){(size_t)(net->b[k] - net->params), (size_t)net->n[k], 0};
        if (!net->tied) seg[c++] = (ffr_train_seg){(size_t)(net->V[k] - net->params), w, 1};
        seg[c++] = (ffr_train_seg){(size_t)(net->c[k - 1] - net->params), (size_t)net->n[k - 1], 0};
    }
    return c;
}

ffr_status ffr_train_dendritic(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                               int *stopped, ffr_err *err) {
    if (stopped) *stopped = 0;
    if (net->rule != FFR_RULE_DENDRITIC)
        return ffr_fail(err, FFR_ERR_ARG, "dendritic training: the network's rule must be dendritic (found %s)",
                        ffr_rule_name(net->rule));
    if (!x || n < 1 || n > (size_t)1 << 31) return ffr_fail(err, FFR_ERR_ARG, "dendritic: expected 1..2^31 examples, found %zu", n);
    if (o->epochs < 0 || o->batch < 1 || !(o->lr >= 0) || !isfinite(o->lr))
        return ffr_fail(err, FFR_ERR_ARG, "dendritic: expected epochs >= 0, batch >= 1, finite lr >= 0");
    if (o->relax.init == FFR_INIT_GIVEN || o->relax.top_target)
        return ffr_fail(err, FFR_ERR_ARG, "dendritic: the relaxation must start from the data (ff, zero or random) with a free top layer");
    ffr_status rc = ffr_train_check_common(net, x, n, o, err);
    if (rc) return rc;
    int Bmax = o->batch < (int)n ? o->batch : (int)n;
    den_run s;
    memset(&s, 0, sizeof s);
    s.net = net; s.x = x; s.o = o; s.basal = o->basal ? 1 : 0;
    s.relax = o->relax;
    if (s.relax.threads <= 0) s.relax.threads = o->threads;
    if ((rc = ffr_state_create(&s.st, net, Bmax, err))) goto done;
    if (n % Bmax && (rc = ffr_state_create(&s.st2, net, (int)(n % Bmax), err))) goto done;
    s.fb = layers(net, Bmax, s.f); s.gb = layers(net, Bmax, s.g); s.rb = layers(net, Bmax, s.R);
    s.Xb = ffr_calloc((size_t)Bmax, (size_t)net->n[0] * sizeof(float));
    if (!s.fb || !s.gb || !s.rb || !s.Xb) { rc = ffr_fail(err, FFR_ERR_NOMEM, "dendritic: out of memory"); goto done; }
    uint64_t fp = ffr_train_fnv(FFR_TRAIN_FNV0, &s.basal, sizeof s.basal);
    fp = ffr_train_fnv(fp, &o->relax.tol, sizeof o->relax.tol);
    fp = ffr_train_fnv(fp, &o->relax.max_sweeps, sizeof o->relax.max_sweeps);
    ffr_trainer t = {.method = FFR_TRAIN_DENDRITIC, .name = "dendritic", .nstages = 1, .greedy = 0, .x = x, .n = n,
                     .dim = net->n[0], .fp = fp, .fp_what = "--basal, --relax-tol, --relax-max-sweeps",
                     .has_sweeps = 1, .self = &s, .batch = den_batch, .segments = den_segments};
    rc = ffr_train_run(&t, net, o, stopped, err);
done:
    ffr_state_free(s.st); ffr_state_free(s.st2);
    free(s.fb); free(s.gb); free(s.rb); free(s.Xb);
    return rc;
}

ffr_status ffr_train(ffr_train_method m, ffr_net *net, const float *x, size_t n,
                     const ffr_train_opts *o, int *stopped, ffr_err *err) {
    switch (m) {
    case FFR_TRAIN_SAE: return ffr_train_sae(net, x, n, o, stopped, err);
    case FFR_TRAIN_RBM: return ffr_train_rbm(net, x, n, o, stopped, err);
    case FFR_TRAIN_DENDRITIC: return ffr_train_dendritic(net, x, n, o, stopped, err);
    case FFR_TRAIN_EP: return ffr_fail(err, FFR_ERR_ARG, "training method ep needs labels: call ffr_train_ep");
    }
    return ffr_fail(err, FFR_ERR_ARG, "training method: expected sae, rbm or dendritic, found %d", (int)m);
}
