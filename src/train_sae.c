/* train_sae.c - greedy stacked auto-encoders (the weights of the paper's
 * Figure 1). Layer k's auto-encoder reads rho(h_{k-1}), encodes
 * h_k = b_k + W_k rho(h_{k-1}) and decodes with the network's own top-down
 * branch g_k = c_{k-1} + V_k rho(h_k) (Eq. 15), so the trained decoder is
 * the apical branch. Target: h_{k-1} (voltage) or rho(h_{k-1}) (rate); for
 * k = 1 the image. Loss (1/2B) sum_b ||g - t||^2, hand-written backprop
 * through rho (hard sigmoid: derivative 1 on (0,1), 0 outside). Each layer
 * trains on the trained encoder's outputs. Every product is one ffr_gemm
 * over the minibatch (matmul convention of ffrelax.h: Y = X W^T). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "train_loop.h"
#include "comm.h"

static int maxn_par(const ffr_net *net) {
    int m = 0;
    for (int k = 0; k <= net->L; k++) m = net->n[k] > m ? net->n[k] : m;
    return m;
}

static inline float drho(ffr_rho r, float a, float ra) { /* rho'(a) given ra = rho(a) */
    switch (r) {
    case FFR_RHO_HARDSIGMOID: return (a > 0.f && a < 1.f) ? 1.f : 0.f;
    case FFR_RHO_SIGMOID: return ra * (1.f - ra);
    default: return 1.f;
    }
}

/* The elementwise passes, written once and inlined with rho a constant
 * (SAE_RHO below), so that no loop tests rho per element. */
#define SAE_INLINE static inline __attribute__((always_inline))
SAE_INLINE void pass_rho(ffr_rho rho, const float *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = ffr_rho_apply(rho, in[i]);
}
/* A[B,nh] += b; R = rho(A) (R's rows ldr apart) */
SAE_INLINE void pass_enc(ffr_rho rho, float *A, float *R, int ldr, const float *b, int B, int nh) {
    for (int r = 0; r < B; r++) {
        float *a = A + (size_t)r * nh, *o = R + (size_t)r * ldr;
        for (int j = 0; j < nh; j++) { a[j] += b[j]; o[j] = ffr_rho_apply(rho, a[j]); }
    }
}
/* D[B,nh] *= rho'(A) (D's and R's rows ldd, ldr apart) */
SAE_INLINE void pass_drho(ffr_rho rho, float *D, int ldd, const float *A, const float *R, int ldr, int B, int nh) {
    for (int r = 0; r < B; r++) {
        float *d = D + (size_t)r * ldd;
        const float *a = A + (size_t)r * nh, *o = R + (size_t)r * ldr;
        for (int j = 0; j < nh; j++) d[j] *= drho(rho, a[j], o[j]);
    }
}
#define SAE_RHO(rho, call) do { switch (rho) { \
    case FFR_RHO_HARDSIGMOID: { const ffr_rho rho_ = FFR_RHO_HARDSIGMOID; call; } break; \
    case FFR_RHO_SIGMOID: { const ffr_rho rho_ = FFR_RHO_SIGMOID; call; } break; \
    default: { const ffr_rho rho_ = FFR_RHO_IDENTITY; call; } break; } } while (0)

size_t ffr_sae_work_floats(int nv, int nh, int B) { return (size_t)B * (3 * (size_t)nv + 3 * (size_t)nh); }

/* The SAE step in two halves (doc/scaling.md): sae_local is the per-example
 * work, sae_sums and sae_products the sums over examples. Every product of sae_local is a
 * row-wise one (row r of its output reads only row r of its input); the
 * trainer runs it on blocks of FFR_TRAIN_ROW_BLOCK examples, so a shard of
 * whole blocks makes the same calls as one process; the sums run on all B
 * rows in the order of one process.
 *
 * sae_local: for the B examples X = rho(h) (B, nv) with targets t (B, nv):
 *   A[B,nh] = X[B,nv] * W[nh,nv]^T + b;  R = rho(A)
 *   Y[B,nv] = R[B,nh] * V[nv,nh]^T       (tied: V^T = W);  E = Y + c - t
 *   dY = E invB;  D[B,nh] = dY[B,nv] * V[nv,nh] (tied: W^T);  D *= rho'(A)
 * into E (rows lde apart), R (ldr), D (ldd); dY (B, nv) and A (B, nh) scratch.
 * invB: 1/B of the whole minibatch. */
static void sae_local(const ffr_ae *p, ffr_rho rho, const float *X, const float *t, int B, float invB, float *E,
                      int lde, float *R, int ldr, float *D, int ldd, float *dY, float *A, int nt) {
    int nv = p->nv, nh = p->nh;
    ffr_train_gemm(nt, 0, 1, B, nh, nv, 1.f, X, nv, p->W, nv, 0.f, A, nh);
    SAE_RHO(rho, pass_enc(rho_, A, R, ldr, p->b, B, nh));
    if (p->V) ffr_train_gemm(nt, 0, 1, B, nv, nh, 1.f, R, ldr, p->V, nh, 0.f, E, lde);
    else ffr_train_gemm(nt, 0, 0, B, nv, nh, 1.f, R, ldr, p->W, nv, 0.f, E, lde);
    for (int r = 0; r < B; r++) {
        float *y = E + (size_t)r * lde, *dy = dY + (size_t)r * nv;
        const float *tr = t + (size_t)r * nv;
        for (int j = 0; j < nv; j++) {
            float e = y[j] + p->c[j] - tr[j];
            y[j] = e;
            dy[j] = e * invB;
        }
    }
    if (p->V) ffr_train_gemm(nt, 0, 0, B, nh, nv, 1.f, dY, nv, p->V, nh, 0.f, D, ldd);
    else ffr_train_gemm(nt, 0, 1, B, nh, nv, 1.f, dY, nv, p->W, nv, 0.f, D, ldd);
    SAE_RHO(rho, pass_drho(rho_, D, ldd, A, R, ldr, B, nh));
}

/* The sums over the B examples (rows of sae_local) that are not products:
 * dY = E invB (B, nv) (dL/dY), gc = sum dY, gb = sum D. Returns the mean
 * squared error per unit. */
static double sae_sums(const ffr_ae *p, int B, float invB, const float *E, int lde, const float *D, int ldd,
                       float *dY, ffr_ae *g) {
    int nv = p->nv, nh = p->nh;
    double sse = 0;
    memset(g->c, 0, (size_t)nv * sizeof(float));
    for (int r = 0; r < B; r++) {
        const float *e = E + (size_t)r * lde;
        float *y = dY + (size_t)r * nv;
        for (int j = 0; j < nv; j++) {
            sse += (double)e[j] * e[j];
            y[j] = e[j] * invB;
            g->c[j] += y[j];
        }
    }
    memset(g->b, 0, (size_t)nh * sizeof(float));
    for (int r = 0; r < B; r++)
        for (int j = 0; j < nh; j++) g->b[j] += D[(size_t)r * ldd + j];
    return sse / ((double)B * nv);
}

/* The gradient products, by output rows in blocks of FFR_TRAIN_GRAD_BLOCK
 * (the row-partitioned reduction, train_loop.h: every block is the same
 * call in one process and on any rank): rows [v0, v1) of gV[nv,nh] = dY^T R
 * (untied) and rows [h0, h1) of gW[nh,nv] = D^T X (+ R^T dY when tied). */
static void sae_products(const ffr_ae *p, const float *X, int B, const float *R, int ldr, const float *D, int ldd,
                         const float *dY, ffr_ae *g, int nt, int v0, int v1, int h0, int h1) {
    int nv = p->nv, nh = p->nh;
    const int G = FFR_TRAIN_GRAD_BLOCK;
    if (p->V)
        for (int i = v0; i < v1; i += G) {
            int m = v1 - i < G ? v1 - i : G;
            ffr_train_gemm(nt, 1, 0, m, nh, B, 1.f, dY + i, nv, R, ldr, 0.f, g->V + (size_t)i * nh, nh);
        }
    for (int i = h0; i < h1; i += G) {
        int m = h1 - i < G ? h1 - i : G;
        float *gw = g->W + (size_t)i * nv;
        ffr_train_gemm(nt, 1, 0, m, nv, B, 1.f, D + i, ldd, X, nv, 0.f, gw, nv);
        if (!p->V) ffr_train_gemm(nt, 1, 0, m, nv, B, 1.f, R + i, ldr, dY, nv, 1.f, gw, nv);
    }
}

double ffr_sae_grad(const ffr_ae *p, ffr_rho rho, const float *h, const float *t, int B,
                    ffr_ae *g, float *work) {
    int nv = p->nv, nh = p->nh;
    float *X = work, *E = X + (size_t)B * nv, *dY = E + (size_t)B * nv; /* (B, nv) each */
    float *A = dY + (size_t)B * nv, *R = A + (size_t)B * nh, *D = R + (size_t)B * nh; /* (B, nh) each */
    SAE_RHO(rho, pass_rho(rho_, h, X, (size_t)B * nv));
    sae_local(p, rho, X, t, B, 1.f / B, E, nv, R, nh, D, nh, dY, A, 0);
    double l = sae_sums(p, B, 1.f / B, E, nv, D, nh, dY, g);
    sae_products(p, X, B, R, nh, D, nh, dY, g, 0, 0, nv, 0, nh);
    return l;
}

/* h_k = b_k + W_k rho(h_{k-1}) for all n rows, in chunks. */
static void encode(const ffr_net *net, int k, const float *hin, size_t n, float *hout, float *X, int nt) {
    int nv = net->n[k - 1], nh = net->n[k];
    const size_t CH = 1000;
    for (size_t r0 = 0; r0 < n; r0 += CH) {
        int M = (int)(n - r0 < CH ? n - r0 : CH);
        for (size_t i = 0; i < (size_t)M * nv; i++) X[i] = ffr_rho_apply(net->rho, hin[r0 * nv + i]);
        float *O = hout + r0 * nh;
        ffr_train_gemm(nt, 0, 1, M, nh, nv, 1.f, X, nv, net->W[k], nv, 0.f, O, nh);
        for (int r = 0; r < M; r++)
            for (int j = 0; j < nh; j++) O[(size_t)r * nh + j] += net->b[k][j];
    }
}

/* The trainer's state between the loop's calls (train_loop.h). */
typedef struct {
    ffr_net *net;
    const ffr_train_opts *o;
    size_t n;
    float *H, *Hn;       /* (n, maxn) the training inputs h_{k-1} of the layer in training, and scratch */
    float *Xb, *Tb;      /* (B, maxn) minibatch encoder input rho(h) and target */
    float *work;         /* ffr_sae_work_floats(maxn, maxn, max(B, 1000)) */
    int par;             /* two halves of each minibatch on two threads */
    float *work2;
    int hpairs, hdone;   /* held-out pairs measured one at a time; pair k done with its final weights */
    float *Fh, *Fhn;     /* (n_holdout, maxn) held-out raw input of layer k-1, and of layer k */
    int nt;              /* o->threads: the products' threads (ffr_train_gemm) */
    int B;               /* the minibatch in Xb, Tb (its size) */
    ffr_train_metrics m; /* pairs < k kept, pair k this epoch, pairs > k NaN */
} sae_run;

static void swapf(float **a, float **b) { float *t = *a; *a = *b; *b = t; }

/* Stage k's inputs: encode the training data (and the held-out pair k-1,
 * when its final weights were not measured yet) through layer k-1. */
static ffr_status sae_stage_begin(void *self, int k, int fresh, int skipped, ffr_err *err) {
    sae_run *s = self;
    (void)fresh; (void)skipped;
    if (k > 1) {
        if (s->hpairs) {
            ffr_status rc = s->hdone ? FFR_OK
                : ffr_train_metrics_pairs(s->net, s->o->holdout, s->o->n_holdout, k - 1, k - 1, s->Fh, s->Fhn, s->nt, &s->m, err);
            if (rc) return rc;
            swapf(&s->Fh, &s->Fhn);
        }
        encode(s->net, k - 1, s->H, s->n, s->Hn, s->work, s->nt);
        swapf(&s->H, &s->Hn);
    }
    s->hdone = 0;
    return FFR_OK;
}

/* One thread's share of the split step: examples [r0, r1) of sae_local, or
 * (reduce) the output rows [v0, v1) of gV and [h0, h1) of gW over all the
 * minibatch's examples into g (sae_products; dY in s->work). */
typedef struct {
    const sae_run *s; const ffr_ae *p; int reduce, r0, r1; float *rows, *work; ffr_ae *g; int v0, v1, h0, h1;
} sae_job;

static void sae_job_do(sae_job *j) {
    const sae_run *s = j->s;
    int nv = j->p->nv, nh = j->p->nh, B = j->r1 - j->r0;
    size_t rowf = (size_t)nv + 2 * (size_t)nh;
    float invB = 1.f / s->B;
    const float *X = s->Xb + (size_t)j->r0 * nv;
    float *E = j->rows + (size_t)j->r0 * rowf, *R = E + nv, *D = R + nh;
    if (j->reduce) {
        sae_products(j->p, s->Xb, s->B, R, (int)rowf, D, (int)rowf, s->work, j->g, s->nt, j->v0, j->v1, j->h0, j->h1);
        return;
    }
    for (int b = 0; b < B; b += FFR_TRAIN_ROW_BLOCK) { /* the blocks of train_loop.h */
        int m = B - b < FFR_TRAIN_ROW_BLOCK ? B - b : FFR_TRAIN_ROW_BLOCK;
        size_t o = (size_t)b * rowf;
        sae_local(j->p, s->net->rho, X + (size_t)b * nv, s->Tb + (size_t)(j->r0 + b) * nv, m, invB, E + o, (int)rowf,
                  R + o, (int)rowf, D + o, (int)rowf, j->work, j->work + (size_t)m * nv, s->nt);
    }
}
static void *sae_job_run(void *arg) { sae_job_do(arg); return NULL; }

/* j1 on this thread and j2 on a second one (on this one when none starts). */
static void sae_two(sae_job *j1, sae_job *j2) {
    pthread_t th;
    int spawned = pthread_create(&th, NULL, sae_job_run, j2) == 0;
    if (!spawned) sae_job_do(j2);
    sae_job_do(j1);
    if (spawned) pthread_join(th, NULL);
}

/* Row of an example: E (nv), R (nh), D (nh) of sae_local. */
static size_t sae_row_floats(void *self, int k) {
    const ffr_net *net = ((sae_run *)self)->net;
    return (size_t)net->n[k - 1] + 2 * (size_t)net->n[k];
}

/* The per-example half on examples [r0, r1) of the minibatch (rows[0] is r0's). */
static ffr_status sae_local_cb(void *self, int k, const size_t *idx, int B, int r0, int r1, float *rows,
                               double *sweeps, ffr_rng *rng, ffr_err *err) {
    sae_run *s = self;
    const ffr_net *net = s->net;
    (void)sweeps; (void)rng; (void)err;
    int nv = net->n[k - 1], nh = net->n[k];
    int rate_t = s->o->target == FFR_TARGET_RATE && k > 1;
    /* the minibatch: X = rho(h) (the encoder's input) and the target, of every example (reduce reads X) */
    for (int r = 0; r < B; r++) {
        const float *src = s->H + idx[r] * nv;
        float *xr = s->Xb + (size_t)r * nv, *tr = s->Tb + (size_t)r * nv;
        SAE_RHO(net->rho, pass_rho(rho_, src, xr, (size_t)nv));
        memcpy(tr, rate_t ? xr : src, nv * sizeof(float));
    }
    s->B = B;
    ffr_ae P = {nv, nh, net->W[k], net->b[k], net->V[k], net->c[k - 1]};
    float *base = rows - (size_t)r0 * sae_row_floats(s, k);
    sae_job j1 = {s, &P, 0, r0, r1, base, s->work, NULL, 0, 0, 0, 0};
    int nblk = (r1 - r0 + FFR_TRAIN_ROW_BLOCK - 1) / FFR_TRAIN_ROW_BLOCK;
    if (!(s->par && nblk >= 2)) { sae_job_do(&j1); return FFR_OK; }
    sae_job j2 = j1; /* the blocks in two halves on two threads, single-threaded BLAS each */
    j1.r1 = j2.r0 = r0 + (nblk + 1) / 2 * FFR_TRAIN_ROW_BLOCK;
    j2.work = s->work2;
    sae_two(&j1, &j2);
    return FFR_OK;
}

/* The sums over the minibatch's B rows (sae_sums), and the gradient
 * products' output rows of part `part` of nparts (the row-partitioned
 * reduction, train_loop.h; one process: all of them); with two threads
 * (BLAS) the rows in two halves, one per thread: the same bits as one. */
static ffr_status sae_reduce_cb(void *self, int k, const size_t *idx, int B, const float *rows, int part, int nparts,
                                ffr_net *grad, double *loss, ffr_err *err) {
    sae_run *s = self;
    const ffr_net *net = s->net;
    (void)idx; (void)err;
    int nv = net->n[k - 1], nh = net->n[k];
    size_t rowf = sae_row_floats(s, k), v0, v1, h0, h1;
    ffr_ae P = {nv, nh, net->W[k], net->b[k], net->V[k], net->c[k - 1]};
    ffr_ae G = {nv, nh, grad->W[k], grad->b[k], grad->V[k], grad->c[k - 1]};
    *loss = sae_sums(&P, B, 1.f / B, rows, (int)rowf, rows + nv + nh, (int)rowf, s->work, &G);
    ffr_comm_shard((size_t)nv, FFR_TRAIN_GRAD_BLOCK, part, nparts, &v0, &v1);
    ffr_comm_shard((size_t)nh, FFR_TRAIN_GRAD_BLOCK, part, nparts, &h0, &h1);
    sae_job j1 = {s, &P, 1, 0, B, (float *)rows, NULL, &G, (int)v0, (int)v1, (int)h0, (int)h1};
    if (!s->par) { sae_job_do(&j1); return FFR_OK; }
    sae_job j2 = j1; /* whole blocks of rows each: the first half of each range's blocks, and the rest */
    size_t a, b;
    ffr_comm_shard(v1 - v0, FFR_TRAIN_GRAD_BLOCK, 0, 2, &a, &b);
    j1.v1 = j2.v0 = (int)(v0 + b);
    ffr_comm_shard(h1 - h0, FFR_TRAIN_GRAD_BLOCK, 0, 2, &a, &b);
    j1.h1 = j2.h0 = (int)(h0 + b);
    sae_two(&j1, &j2);
    return FFR_OK;
}

/* Layer k's auto-encoder: W_k, b_k, V_k (untied), c_{k-1}. */
static int sae_segments(void *self, int k, ffr_train_seg *seg, int max) {
    const ffr_net *net = ((sae_run *)self)->net;
    int nv = net->n[k - 1], nh = net->n[k], c = 0;
    (void)max;
    /* W_k and V_k by output rows (sae_products): the row-partitioned reduction */
    seg[c++] = (ffr_train_seg){(size_t)(net->W[k] - net->params), (size_t)nh * nv, 1, (size_t)nv};
    seg[c++] = (ffr_train_seg){(size_t)(net->b[k] - net->params), (size_t)nh, 0, 0};
    if (net->V[k]) seg[c++] = (ffr_train_seg){(size_t)(net->V[k] - net->params), (size_t)nh * nv, 1, (size_t)nh};
    seg[c++] = (ffr_train_seg){(size_t)(net->c[k - 1] - net->params), (size_t)nv, 0, 0};
    return c;
}

/* Held-out pair k from the cached input of layer k-1 (pairs below are fixed). */
static ffr_status sae_metrics(void *self, int k, const ffr_net *net, const ffr_train_opts *o,
                              ffr_train_metrics *m, ffr_err *err) {
    sae_run *s = self;
    ffr_status rc = ffr_train_metrics_pairs(net, o->holdout, o->n_holdout, k, k, s->Fh, s->Fhn, s->nt, &s->m, err);
    if (rc) return rc;
    s->hdone = 1;
    *m = s->m;
    return FFR_OK;
}

ffr_status ffr_train_sae(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                         int *stopped, ffr_err *err) {
    return ffr_train_sae_comm(net, x, n, o, NULL, stopped, err);
}

ffr_status ffr_train_sae_comm(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                              const struct ffr_comm *comm, int *stopped, ffr_err *err) {
    if (stopped) *stopped = 0;
    ffr_status rc = ffr_train_check_common(net, x, n, o, err);
    if (rc) return rc;
    if ((unsigned)o->target > FFR_TARGET_RATE) return ffr_fail(err, FFR_ERR_ARG, "target: expected voltage or rate");
    int maxn = maxn_par(net);
    size_t Bmax = (size_t)o->batch < n ? (size_t)o->batch : n;
    sae_run s;
    memset(&s, 0, sizeof s);
    s.net = net; s.o = o; s.n = n; s.nt = o->threads;
    /* two BLAS threads: run the minibatch's two halves on two threads with
     * single-threaded BLAS (batch-100 products do not split well inside BLAS) */
    /* (with ffrelax's AVX-512 kernel the products split over threads inside the
     * kernel instead, packing once, and the result does not depend on the thread count) */
    int blas_threads = ffr_get_threads(), threads = o->threads > 0 ? o->threads : blas_threads;
    s.par = threads >= 2 && !ffr_gemm_uses_fast();
    if (s.par)
        s.work2 = ffr_calloc(ffr_sae_work_floats(maxn, maxn, o->batch), sizeof(float));
    if (s.par && !s.work2) s.par = 0;
    s.H = ffr_calloc(n, (size_t)maxn * sizeof(float));
    s.Hn = ffr_calloc(n, (size_t)maxn * sizeof(float));
    s.Xb = ffr_calloc(Bmax, (size_t)maxn * sizeof(float));
    s.Tb = ffr_calloc(Bmax, (size_t)maxn * sizeof(float));
    s.work = ffr_calloc(ffr_sae_work_floats(maxn, maxn, Bmax > 1000 ? (int)Bmax : 1000), sizeof(float));
    /* held-out examples: the raw input of the layer below the pair in training
       (pairs below it are fixed, so each epoch measures one pair from there) */
    s.hpairs = o->holdout && o->n_holdout && !o->holdout_relax;
    if (s.hpairs) {
        s.Fh = ffr_calloc(o->n_holdout, (size_t)maxn * sizeof(float));
        s.Fhn = ffr_calloc(o->n_holdout, (size_t)maxn * sizeof(float));
        ffr_train_metrics_clear(&s.m, net, o->n_holdout);
    }
    if (!s.H || !s.Hn || !s.Xb || !s.Tb || !s.work || (s.hpairs && (!s.Fh || !s.Fhn))) {
        rc = ffr_fail(err, FFR_ERR_NOMEM, "sae: out of memory");
        goto done;
    }
    memcpy(s.H, x, n * net->n[0] * sizeof(float));
    uint64_t fp = ffr_train_fnv(FFR_TRAIN_FNV0, &o->target, sizeof o->target);
    ffr_trainer t = {.method = FFR_TRAIN_SAE, .name = "sae", .nstages = net->L, .greedy = 1, .x = x, .n = n,
                     .dim = net->n[0], .fp = fp, .fp_what = "--target", .self = &s, .stage_begin = sae_stage_begin,
                     .row_floats = sae_row_floats, .local = sae_local_cb, .reduce = sae_reduce_cb, .segments = sae_segments, .metrics = s.hpairs ? sae_metrics : NULL};
    if (s.par) ffr_set_threads(1);
    rc = ffr_train_run_comm(&t, net, o, comm, stopped, err);
    if (s.par) ffr_set_threads(blas_threads);
done:
    free(s.work2);
    free(s.H); free(s.Hn); free(s.Xb); free(s.Tb); free(s.work); free(s.Fh); free(s.Fhn);
    return rc;
}
