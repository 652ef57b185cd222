/* train_rbm.c - a greedy stack of Bernoulli-Bernoulli RBMs trained with
 * CD-k or persistent CD (Section 4 of the paper: the CD-1 update vanishes
 * when the feedback weights reconstruct the input). RBM k has visible layer
 * k-1 (offsets c_{k-1}), hidden layer k (offsets b_k) and weights W_k
 * (n_k, n_{k-1}); the stack is stored tied under the boltzmann rule, so the
 * engine's branches are f_k = b_k + W_k s_{k-1} and g_k = c_{k-1} + W_k^T s_k.
 * Layer k+1 trains on the hidden probabilities sigm(f_k) of the data.
 * Note: loaded as a DBM, each intermediate layer's input is f_k + g_{k+1},
 * the sum of both branches (doc/training.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "train_loop.h"

size_t ffr_rbm_work_floats(int nv, int nh, int B) { return (size_t)B * (3 * (size_t)nv + 3 * (size_t)nh); }

/* P[B,nh] = sigm(V[B,nv] W^T + b) */
static void up(int nt, int nv, int nh, const float *W, const float *b, const float *V, int B, float *P) {
    ffr_train_gemm(nt, 0, 1, B, nh, nv, 1.f, V, nv, W, nv, 0.f, P, nh);
    for (int r = 0; r < B; r++)
        for (int j = 0; j < nh; j++) { float *p = &P[(size_t)r * nh + j]; *p = ffr_sigm(*p + b[j]); }
}
/* P[B,nv] = sigm(H[B,nh] W + c) */
static void down(int nt, int nv, int nh, const float *W, const float *c, const float *H, int B, float *P) {
    ffr_train_gemm(nt, 0, 0, B, nv, nh, 1.f, H, nh, W, nv, 0.f, P, nv);
    for (int r = 0; r < B; r++)
        for (int j = 0; j < nv; j++) { float *p = &P[(size_t)r * nv + j]; *p = ffr_sigm(*p + c[j]); }
}
static void sample(const float *P, size_t n, float *S, ffr_rng *rng) {
    for (size_t i = 0; i < n; i++) S[i] = ffr_rng_uniform(rng) < P[i] ? 1.f : 0.f;
}

/* ffr_rbm_grad with nt threads for the products (ffr_train_gemm). */
static double rbm_grad(int nt, int nv, int nh, const float *W, const float *b, const float *c,
                       const float *v, int B, int k, float *chain, ffr_rng *rng,
                       float *gW, float *gb, float *gc, float *work) {
    float *PH0 = work;                   /* (B, nh) data hidden probabilities */
    float *Hs = PH0 + (size_t)B * nh;    /* (B, nh) hidden sample */
    float *PHn = Hs + (size_t)B * nh;    /* (B, nh) chain hidden probabilities */
    float *PV = PHn + (size_t)B * nh;    /* (B, nv) visible probabilities */
    float *Vs = PV + (size_t)B * nv;     /* (B, nv) visible sample */
    float *Tmp = Vs + (size_t)B * nv;    /* (B, nv) */
    (void)Tmp;
    if (k < 1) k = 1;
    up(nt, nv, nh, W, b, v, B, PH0);
    if (chain) up(nt, nv, nh, W, b, chain, B, PHn); /* persistent: restart from the chain's visible state */
    sample(chain ? PHn : PH0, (size_t)B * nh, Hs, rng);
    for (int step = 0; step < k; step++) {
        down(nt, nv, nh, W, c, Hs, B, PV);
        sample(PV, (size_t)B * nv, Vs, rng);
        up(nt, nv, nh, W, b, Vs, B, PHn);
        if (step + 1 < k) sample(PHn, (size_t)B * nh, Hs, rng);
    }
    if (chain) memcpy(chain, Vs, (size_t)B * nv * sizeof(float));
    /* gW[nh,nv] = -(PH0^T v - PHn^T Vs) / B: the expected hidden given each visible (Rao-Blackwell) */
    float invB = 1.f / B;
    ffr_train_gemm(nt, 1, 0, nh, nv, B, -invB, PH0, nh, v, nv, 0.f, gW, nv);
    ffr_train_gemm(nt, 1, 0, nh, nv, B, invB, PHn, nh, Vs, nv, 1.f, gW, nv);
    memset(gb, 0, (size_t)nh * sizeof(float));
    memset(gc, 0, (size_t)nv * sizeof(float));
    for (int r = 0; r < B; r++) {
        for (int j = 0; j < nh; j++) gb[j] -= invB * (PH0[(size_t)r * nh + j] - PHn[(size_t)r * nh + j]);
        for (int j = 0; j < nv; j++) gc[j] -= invB * (v[(size_t)r * nv + j] - Vs[(size_t)r * nv + j]);
    }
    double sse = 0;
    if (!chain) {
        for (size_t i = 0; i < (size_t)B * nv; i++) { double e = v[i] - PV[i]; sse += e * e; }
    } else { /* persistent chains are not reconstructions: report the one-step reconstruction */
        ffr_train_gemm(nt, 0, 0, B, nv, nh, 1.f, PH0, nh, W, nv, 0.f, PV, nv);
        for (int r = 0; r < B; r++)
            for (int j = 0; j < nv; j++) {
                size_t i = (size_t)r * nv + j;
                double e = v[i] - ffr_sigm(PV[i] + c[j]);
                sse += e * e;
            }
    }
    return sse / ((double)B * nv);
}

double ffr_rbm_grad(int nv, int nh, const float *W, const float *b, const float *c,
                    const float *v, int B, int k, float *chain, ffr_rng *rng,
                    float *gW, float *gb, float *gc, float *work) {
    return rbm_grad(0, nv, nh, W, b, c, v, B, k, chain, rng, gW, gb, gc, work);
}

/* The trainer's state between the loop's calls (train_loop.h). */
typedef struct {
    ffr_net *net;
    const ffr_train_opts *o;
    size_t n, Bmax;
    float *H, *Hn;   /* (n, maxn) the data of RBM k (hidden probabilities of RBM k-1), and scratch */
    float *Vb;       /* (Bmax, maxn) the minibatch */
    float *work;     /* ffr_rbm_work_floats(maxn, maxn, Bmax) */
    float *chain;    /* (Bmax, maxn) persistent chains' visible states */
    int chain_ok;    /* chains started (from the first full minibatch of the stage) */
} rbm_run;

/* Stage k's data: the hidden probabilities of RBM k-1 on its data; a fresh
 * stage restarts the persistent chains. */
static ffr_status rbm_stage_begin(void *self, int k, int fresh, int skipped, ffr_err *err) {
    rbm_run *s = self;
    const ffr_net *net = s->net;
    (void)skipped; (void)err;
    if (k > 1) {
        int nv = net->n[k - 2], nh = net->n[k - 1];
        const size_t CH = 1000;
        for (size_t r0 = 0; r0 < s->n; r0 += CH) {
            int M = (int)(s->n - r0 < CH ? s->n - r0 : CH);
            up(s->o->threads, nv, nh, net->W[k - 1], net->b[k - 1], s->H + r0 * nv, M, s->Hn + r0 * nh);
        }
        float *t = s->H; s->H = s->Hn; s->Hn = t;
    }
    if (fresh) s->chain_ok = 0;
    return FFR_OK;
}

static ffr_status rbm_batch(void *self, int k, const size_t *idx, int B, ffr_net *grad, double *loss,
                            double *sweeps, ffr_rng *rng, ffr_err *err) {
    rbm_run *s = self;
    const ffr_net *net = s->net;
    (void)sweeps; (void)err;
    int nv = net->n[k - 1], nh = net->n[k];
    for (int r = 0; r < B; r++) memcpy(s->Vb + (size_t)r * nv, s->H + idx[r] * nv, nv * sizeof(float));
    float *ch = NULL;
    if (s->o->persistent && (size_t)B == s->Bmax) {
        if (!s->chain_ok) { sample(s->Vb, (size_t)B * nv, s->chain, rng); s->chain_ok = 1; }
        ch = s->chain;
    }
    *loss = rbm_grad(s->o->threads, nv, nh, net->W[k], net->b[k], net->c[k - 1], s->Vb, B, s->o->cd_k, ch, rng,
                         grad->W[k], grad->b[k], grad->c[k - 1], s->work);
    return FFR_OK;
}

/* RBM k: W_k, b_k, c_{k-1}. */
static int rbm_segments(void *self, int k, ffr_train_seg *seg, int max) {
    const ffr_net *net = ((rbm_run *)self)->net;
    int nv = net->n[k - 1], nh = net->n[k];
    (void)max;
    seg[0] = (ffr_train_seg){(size_t)(net->W[k] - net->params), (size_t)nh * nv, 1};
    seg[1] = (ffr_train_seg){(size_t)(net->b[k] - net->params), (size_t)nh, 0};
    seg[2] = (ffr_train_seg){(size_t)(net->c[k - 1] - net->params), (size_t)nv, 0};
    return 3;
}

/* Persistent CD: the chains (Bmax, n_{k-1}) and whether they have started. */
static size_t rbm_extra_floats(void *self, int k) {
    rbm_run *s = self;
    return s->o->persistent ? s->Bmax * s->net->n[k - 1] + 1 : 0;
}
static void rbm_extra_save(void *self, int k, float *dst) {
    rbm_run *s = self;
    size_t nc = rbm_extra_floats(self, k) - 1;
    memcpy(dst, s->chain, nc * sizeof(float));
    dst[nc] = (float)s->chain_ok;
}
static ffr_status rbm_extra_load(void *self, int k, const float *src, size_t n, ffr_err *err) {
    rbm_run *s = self;
    (void)k; (void)err; /* n == rbm_extra_floats(k): checked by the loop */
    memcpy(s->chain, src, (n - 1) * sizeof(float));
    s->chain_ok = src[n - 1] != 0.f;
    return FFR_OK;
}

ffr_status ffr_train_rbm(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                         int *stopped, ffr_err *err) {
    if (stopped) *stopped = 0;
    ffr_status vs = ffr_train_check_common(net, x, n, o, err);
    if (vs) return vs;
    if (net->rule != FFR_RULE_BOLTZMANN || !net->tied)
        return ffr_fail(err, FFR_ERR_ARG, "rbm: the network must be tied with rule boltzmann (found %s, %s)",
                        ffr_rule_name(net->rule), net->tied ? "tied" : "untied");
    if (!x || n < 1 || n > (size_t)1 << 31) return ffr_fail(err, FFR_ERR_ARG, "rbm: expected 1..2^31 examples, found %zu", n);
    if (o->epochs < 0 || o->batch < 1 || !(o->lr >= 0) || o->cd_k < 1 || o->cd_k > 100000)
        return ffr_fail(err, FFR_ERR_ARG, "rbm: expected epochs >= 0, batch >= 1, lr >= 0, 1 <= cd_k <= 1e5");
    ffr_status rc = ffr_train_check_common(net, x, n, o, err);
    if (rc) return rc;
    for (size_t i = 0; i < n * net->n[0]; i++)
        if (!(x[i] >= 0.f && x[i] <= 1.f))
            return ffr_fail(err, FFR_ERR_ARG, "rbm: data value %zu is %g, expected probabilities in [0, 1]", i, x[i]);
    int maxn = 0;
    for (int k = 0; k <= net->L; k++) maxn = net->n[k] > maxn ? net->n[k] : maxn;
    rbm_run s;
    memset(&s, 0, sizeof s);
    s.net = net; s.o = o; s.n = n;
    s.Bmax = (size_t)o->batch < n ? (size_t)o->batch : n;
    s.H = ffr_calloc(n, (size_t)maxn * sizeof(float));
    s.Hn = ffr_calloc(n, (size_t)maxn * sizeof(float));
    s.Vb = ffr_calloc(s.Bmax, (size_t)maxn * sizeof(float));
    s.work = ffr_calloc(ffr_rbm_work_floats(maxn, maxn, (int)s.Bmax), sizeof(float));
    s.chain = ffr_calloc(s.Bmax, (size_t)maxn * sizeof(float));
    if (!s.H || !s.Hn || !s.Vb || !s.work || !s.chain) { rc = ffr_fail(err, FFR_ERR_NOMEM, "rbm: out of memory"); goto done; }
    memcpy(s.H, x, n * net->n[0] * sizeof(float));
    uint64_t fp = ffr_train_fnv(FFR_TRAIN_FNV0, &o->cd_k, sizeof o->cd_k);
    fp = ffr_train_fnv(fp, &o->persistent, sizeof o->persistent);
    ffr_trainer t = {.method = FFR_TRAIN_RBM, .name = "rbm", .nstages = net->L, .greedy = 1, .x = x, .n = n,
                     .dim = net->n[0], .fp = fp, .fp_what = "--cd-k, --persistent", .self = &s,
                     .stage_begin = rbm_stage_begin, .batch = rbm_batch, .segments = rbm_segments,
                     .extra_floats = rbm_extra_floats, .extra_save = rbm_extra_save, .extra_load = rbm_extra_load};
    rc = ffr_train_run(&t, net, o, stopped, err);
done:
    free(s.H); free(s.Hn); free(s.Vb); free(s.work); free(s.chain);
    return rc;
}
