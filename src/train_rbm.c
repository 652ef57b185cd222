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
#include "comm.h"

/* The CD-k step in two halves (doc/scaling.md, train_loop.h "the minibatch
 * split"): rbm_local is the per-example work (the Gibbs chains), rbm_reduce
 * the sums over examples (the gradient and the loss).
 *
 * Random numbers: each example draws from its own stream, seeded from one
 * number u drawn from the run's rng per minibatch and the example's position
 * p in the minibatch (ffr_rng_seed(u + p * 0xbf58476d1ce4e5b9)), so that an
 * example's chain does not depend on which rank, block or thread runs it.
 * Per example, in order: the chain's start (PCD, first minibatch: n_v draws),
 * h (n_h), then per Gibbs step v' (n_v) and, but for the last step, h (n_h).
 *
 * Row of an example (RBM_ROW floats): P0 (nh), Pn (nh), v' (nv), Pr (nv):
 * the data and chain hidden probabilities, the chain's visible sample (the
 * new persistent chain) and the reconstruction probabilities of the loss
 * (CD: the last step's sigm(c + h W); PCD: the one-step sigm(c + P0 W)). */
#define RBM_ROW(nv, nh) (2 * (size_t)(nv) + 2 * (size_t)(nh))
#define RBM_SEED_STEP 0xbf58476d1ce4e5b9ULL

size_t ffr_rbm_work_floats(int nv, int nh, int B) {
    int m = B < FFR_TRAIN_ROW_BLOCK ? B : FFR_TRAIN_ROW_BLOCK;
    return (size_t)B * RBM_ROW(nv, nh) + (size_t)m * nh;
}

/* P[B,nh] = sigm(V[B,nv] W^T + b) (V's rows ldv apart, P's ldp) */
static void up(int nt, int nv, int nh, const float *W, const float *b, const float *V, int ldv, int B, float *P,
               int ldp) {
    ffr_train_gemm(nt, 0, 1, B, nh, nv, 1.f, V, ldv, W, nv, 0.f, P, ldp);
    for (int r = 0; r < B; r++)
        for (int j = 0; j < nh; j++) { float *p = &P[(size_t)r * ldp + j]; *p = ffr_sigm(*p + b[j]); }
}
/* P[B,nv] = sigm(H[B,nh] W + c) (H's rows ldh apart, P's ldp) */
static void down(int nt, int nv, int nh, const float *W, const float *c, const float *H, int ldh, int B, float *P,
                 int ldp) {
    ffr_train_gemm(nt, 0, 0, B, nv, nh, 1.f, H, ldh, W, nv, 0.f, P, ldp);
    for (int r = 0; r < B; r++)
        for (int j = 0; j < nv; j++) { float *p = &P[(size_t)r * ldp + j]; *p = ffr_sigm(*p + c[j]); }
}
/* S[r] ~ Bern(P[r]) for the B rows of n units, row r from stream rng[r] */
static void sample(const float *P, int ldp, int B, int n, float *S, int lds, ffr_rng *rng) {
    for (int r = 0; r < B; r++)
        for (int j = 0; j < n; j++)
            S[(size_t)r * lds + j] = ffr_rng_uniform(&rng[r]) < P[(size_t)r * ldp + j] ? 1.f : 0.f;
}

/* The per-example half on examples [p0, p0 + B) of a minibatch (B <=
 * FFR_TRAIN_ROW_BLOCK, one block: every product is one call on the block):
 * v (B, nv) the data (rows ldv apart); chain (B, nv) the persistent chains
 * (NULL: CD-k from the data), start: draw the chains from the data first;
 * u: the minibatch's seed of the example streams. Rows (RBM_ROW each) into
 * rows; Hs (B, nh) scratch. */
static void rbm_local(int nt, int nv, int nh, const float *W, const float *b, const float *c, const float *v,
                      int ldv, int B, int k, const float *chain, int start, float *chain_start, uint64_t u, int p0,
                      float *rows, float *Hs) {
    int rowf = (int)RBM_ROW(nv, nh);
    float *P0 = rows, *Pn = rows + nh, *Vs = rows + 2 * nh, *Pr = Vs + nv;
    ffr_rng rng[FFR_TRAIN_ROW_BLOCK];
    FFR_ASSERT(B <= FFR_TRAIN_ROW_BLOCK);
    for (int r = 0; r < B; r++) ffr_rng_seed(&rng[r], u + (uint64_t)(p0 + r) * RBM_SEED_STEP);
    if (k < 1) k = 1;
    if (chain && start) { sample(v, ldv, B, nv, chain_start, nv, rng); chain = chain_start; }
    up(nt, nv, nh, W, b, v, ldv, B, P0, rowf);
    if (chain) up(nt, nv, nh, W, b, chain, nv, B, Pn, rowf); /* persistent: restart from the chain's visible state */
    sample(chain ? Pn : P0, rowf, B, nh, Hs, nh, rng);
    for (int step = 0; step < k; step++) {
        down(nt, nv, nh, W, c, Hs, nh, B, Pr, rowf);
        sample(Pr, rowf, B, nv, Vs, rowf, rng);
        up(nt, nv, nh, W, b, Vs, rowf, B, Pn, rowf);
        if (step + 1 < k) sample(Pn, rowf, B, nh, Hs, nh, rng);
    }
    /* persistent chains are not reconstructions: the loss reports the one-step reconstruction */
    if (chain) down(nt, nv, nh, W, c, P0, rowf, B, Pr, rowf);
}

/* The sums over the B rows of rbm_local with data v (B, nv):
 * gW[nh,nv] = -(P0^T v - Pn^T v') / B (the expected hidden given each
 * visible: Rao-Blackwell), its output rows [h0, h1) only, in blocks of
 * FFR_TRAIN_GRAD_BLOCK (the row-partitioned reduction, train_loop.h), and
 * gb = -mean(P0 - Pn), gc = -mean(v - v') whole. Returns the mean squared
 * error per unit between v and Pr. */
static double rbm_reduce(int nt, int nv, int nh, const float *v, int B, const float *rows, int h0, int h1, float *gW,
                         float *gb, float *gc) {
    int rowf = (int)RBM_ROW(nv, nh);
    const float *P0 = rows, *Pn = rows + nh, *Vs = rows + 2 * nh;
    float invB = 1.f / B;
    for (int i = h0; i < h1; i += FFR_TRAIN_GRAD_BLOCK) {
        int m = h1 - i < FFR_TRAIN_GRAD_BLOCK ? h1 - i : FFR_TRAIN_GRAD_BLOCK;
        ffr_train_gemm(nt, 1, 0, m, nv, B, -invB, P0 + i, rowf, v, nv, 0.f, gW + (size_t)i * nv, nv);
        ffr_train_gemm(nt, 1, 0, m, nv, B, invB, Pn + i, rowf, Vs, rowf, 1.f, gW + (size_t)i * nv, nv);
    }
    memset(gb, 0, (size_t)nh * sizeof(float));
    memset(gc, 0, (size_t)nv * sizeof(float));
    double sse = 0;
    for (int r = 0; r < B; r++) {
        const float *row = rows + (size_t)r * rowf, *vr = v + (size_t)r * nv;
        for (int j = 0; j < nh; j++) gb[j] -= invB * (row[j] - row[nh + j]);
        for (int j = 0; j < nv; j++) gc[j] -= invB * (vr[j] - row[2 * nh + j]);
        for (int j = 0; j < nv; j++) { double e = vr[j] - row[2 * nh + nv + j]; sse += e * e; }
    }
    return sse / ((double)B * nv);
}

double ffr_rbm_grad(int nv, int nh, const float *W, const float *b, const float *c,
                    const float *v, int B, int k, float *chain, ffr_rng *rng,
                    float *gW, float *gb, float *gc, float *work) {
    size_t rowf = RBM_ROW(nv, nh);
    float *rows = work, *Hs = work + (size_t)B * rowf;
    uint64_t u = ffr_rng_u64(rng);
    for (int p = 0; p < B; p += FFR_TRAIN_ROW_BLOCK) {
        int m = B - p < FFR_TRAIN_ROW_BLOCK ? B - p : FFR_TRAIN_ROW_BLOCK;
        rbm_local(0, nv, nh, W, b, c, v + (size_t)p * nv, nv, m, k, chain ? chain + (size_t)p * nv : NULL, 0, NULL,
                  u, p, rows + (size_t)p * rowf, Hs);
    }
    if (chain)
        for (int r = 0; r < B; r++) memcpy(chain + (size_t)r * nv, rows + r * rowf + 2 * nh, (size_t)nv * sizeof(float));
    return rbm_reduce(0, nv, nh, v, B, rows, 0, nh, gW, gb, gc);
}

/* The trainer's state between the loop's calls (train_loop.h). */
typedef struct {
    ffr_net *net;
    const ffr_train_opts *o;
    size_t n, Bmax;
    float *H, *Hn;   /* (n, maxn) the data of RBM k (hidden probabilities of RBM k-1), and scratch */
    float *Vb;       /* (Bmax, maxn) the minibatch */
    float *Hs;       /* (FFR_TRAIN_ROW_BLOCK, maxn) a block's hidden samples */
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
            up(s->o->threads, nv, nh, net->W[k - 1], net->b[k - 1], s->H + r0 * nv, nv, M, s->Hn + r0 * nh, nh);
        }
        float *t = s->H; s->H = s->Hn; s->Hn = t;
    }
    if (fresh) s->chain_ok = 0;
    return FFR_OK;
}

static size_t rbm_row_floats(void *self, int k) {
    const ffr_net *net = ((rbm_run *)self)->net;
    return RBM_ROW(net->n[k - 1], net->n[k]);
}

/* The per-example half on examples [r0, r1) of the minibatch, block by
 * block; draws the minibatch's stream seed from the run's rng on every rank. */
static ffr_status rbm_local_cb(void *self, int k, const size_t *idx, int B, int r0, int r1, float *rows,
                               double *sweeps, ffr_rng *rng, ffr_err *err) {
    rbm_run *s = self;
    const ffr_net *net = s->net;
    (void)sweeps; (void)err;
    int nv = net->n[k - 1], nh = net->n[k];
    size_t rowf = RBM_ROW(nv, nh);
    uint64_t u = ffr_rng_u64(rng);
    int pcd = s->o->persistent && (size_t)B == s->Bmax, start = pcd && !s->chain_ok;
    for (int r = r0; r < r1; r++) memcpy(s->Vb + (size_t)r * nv, s->H + idx[r] * nv, nv * sizeof(float));
    for (int p = r0; p < r1; p += FFR_TRAIN_ROW_BLOCK) { /* the blocks of train_loop.h */
        int m = r1 - p < FFR_TRAIN_ROW_BLOCK ? r1 - p : FFR_TRAIN_ROW_BLOCK;
        float *ch = pcd ? s->chain + (size_t)p * nv : NULL;
        rbm_local(s->o->threads, nv, nh, net->W[k], net->b[k], net->c[k - 1], s->Vb + (size_t)p * nv, nv, m,
                  s->o->cd_k, ch, start, ch, u, p, rows + (size_t)(p - r0) * rowf, s->Hs);
    }
    if (pcd) s->chain_ok = 1;
    return FFR_OK;
}

/* The sums over the minibatch's B rows; the persistent chains (every rank's
 * copy) become the rows' visible samples. */
static ffr_status rbm_reduce_cb(void *self, int k, const size_t *idx, int B, const float *rows, int part, int nparts,
                            ffr_net *grad, double *loss, ffr_err *err) {
    rbm_run *s = self;
    const ffr_net *net = s->net;
    (void)err;
    int nv = net->n[k - 1], nh = net->n[k];
    size_t rowf = RBM_ROW(nv, nh);
    for (int r = 0; r < B; r++) memcpy(s->Vb + (size_t)r * nv, s->H + idx[r] * nv, nv * sizeof(float));
    if (s->o->persistent && (size_t)B == s->Bmax)
        for (int r = 0; r < B; r++)
            memcpy(s->chain + (size_t)r * nv, rows + r * rowf + 2 * (size_t)nh, (size_t)nv * sizeof(float));
    size_t h0, h1; /* this part's output rows of gW (the row-partitioned reduction) */
    ffr_comm_shard((size_t)nh, FFR_TRAIN_GRAD_BLOCK, part, nparts, &h0, &h1);
    *loss = rbm_reduce(s->o->threads, nv, nh, s->Vb, B, rows, (int)h0, (int)h1, grad->W[k], grad->b[k], grad->c[k - 1]);
    return FFR_OK;
}

/* RBM k: W_k, b_k, c_{k-1}. */
static int rbm_segments(void *self, int k, ffr_train_seg *seg, int max) {
    const ffr_net *net = ((rbm_run *)self)->net;
    int nv = net->n[k - 1], nh = net->n[k];
    (void)max;
    seg[0] = (ffr_train_seg){(size_t)(net->W[k] - net->params), (size_t)nh * nv, 1, (size_t)nv}; /* by rows */
    seg[1] = (ffr_train_seg){(size_t)(net->b[k] - net->params), (size_t)nh, 0, 0};
    seg[2] = (ffr_train_seg){(size_t)(net->c[k - 1] - net->params), (size_t)nv, 0, 0};
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
    return ffr_train_rbm_comm(net, x, n, o, NULL, stopped, err);
}

ffr_status ffr_train_rbm_comm(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                              const struct ffr_comm *comm, int *stopped, ffr_err *err) {
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
    s.Hs = ffr_calloc(FFR_TRAIN_ROW_BLOCK, (size_t)maxn * sizeof(float));
    s.chain = ffr_calloc(s.Bmax, (size_t)maxn * sizeof(float));
    if (!s.H || !s.Hn || !s.Vb || !s.Hs || !s.chain) { rc = ffr_fail(err, FFR_ERR_NOMEM, "rbm: out of memory"); goto done; }
    memcpy(s.H, x, n * net->n[0] * sizeof(float));
    uint64_t fp = ffr_train_fnv(FFR_TRAIN_FNV0, &o->cd_k, sizeof o->cd_k);
    fp = ffr_train_fnv(fp, &o->persistent, sizeof o->persistent);
    ffr_trainer t = {.method = FFR_TRAIN_RBM, .name = "rbm", .nstages = net->L, .greedy = 1, .x = x, .n = n,
                     .dim = net->n[0], .fp = fp, .fp_what = "--cd-k, --persistent", .self = &s,
                     .stage_begin = rbm_stage_begin, .row_floats = rbm_row_floats, .local = rbm_local_cb, .reduce = rbm_reduce_cb, .segments = rbm_segments,
                     .extra_floats = rbm_extra_floats, .extra_save = rbm_extra_save, .extra_load = rbm_extra_load};
    rc = ffr_train_run_comm(&t, net, o, comm, stopped, err);
done:
    free(s.H); free(s.Hn); free(s.Vb); free(s.Hs); free(s.chain);
    return rc;
}
