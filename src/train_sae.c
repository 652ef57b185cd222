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
#include <time.h>
#include "train_internal.h"

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
/* A[B,nh] += b; R = rho(A) */
SAE_INLINE void pass_enc(ffr_rho rho, float *A, float *R, const float *b, int B, int nh) {
    for (int r = 0; r < B; r++) {
        float *a = A + (size_t)r * nh, *o = R + (size_t)r * nh;
        for (int j = 0; j < nh; j++) { a[j] += b[j]; o[j] = ffr_rho_apply(rho, a[j]); }
    }
}
/* D[B,nh] *= rho'(A); gb = sum_b D */
SAE_INLINE void pass_drho(ffr_rho rho, float *D, const float *A, const float *R, float *gb, int B, int nh) {
    memset(gb, 0, (size_t)nh * sizeof(float));
    for (int r = 0; r < B; r++) {
        float *d = D + (size_t)r * nh;
        const float *a = A + (size_t)r * nh, *o = R + (size_t)r * nh;
        for (int j = 0; j < nh; j++) { d[j] *= drho(rho, a[j], o[j]); gb[j] += d[j]; }
    }
}
#define SAE_RHO(rho, call) do { switch (rho) { \
    case FFR_RHO_HARDSIGMOID: { const ffr_rho rho_ = FFR_RHO_HARDSIGMOID; call; } break; \
    case FFR_RHO_SIGMOID: { const ffr_rho rho_ = FFR_RHO_SIGMOID; call; } break; \
    default: { const ffr_rho rho_ = FFR_RHO_IDENTITY; call; } break; } } while (0)

size_t ffr_sae_work_floats(int nv, int nh, int B) { return (size_t)B * (2 * (size_t)nv + 3 * (size_t)nh); }

/* One thread's share of a minibatch (data-parallel SAE step, doc/training.md). */
typedef struct {
    const ffr_ae *p; ffr_rho rho; const float *X, *t; int B; ffr_ae *g; float *work; float invB; double loss;
} sae_job;
static double sae_grad_x(const ffr_ae *p, ffr_rho rho, const float *X, const float *t, int B, ffr_ae *g,
                         float *work, float invB);
static void *sae_job_run(void *arg) {
    sae_job *j = arg;
    j->loss = sae_grad_x(j->p, j->rho, j->X, j->t, j->B, j->g, j->work, j->invB);
    return NULL;
}

/* ffr_sae_grad with X = rho(h) given (the trainer builds it while gathering
 * the minibatch); work holds B (nv + 3 nh) floats. */
static double sae_grad_x(const ffr_ae *p, ffr_rho rho, const float *X, const float *t, int B, ffr_ae *g,
                         float *work, float invB) {
    int nv = p->nv, nh = p->nh;
    float *Y = work;                      /* (B, nv) decoder output, then dY */
    float *A = Y + (size_t)B * nv;        /* (B, nh) encoder voltage */
    float *R = A + (size_t)B * nh;        /* (B, nh) rho(A) */
    float *D = R + (size_t)B * nh;        /* (B, nh) dL/dA */
    /* A[B,nh] = X[B,nv] * W[nh,nv]^T + b */
    ffr_gemm(0, 1, B, nh, nv, 1.f, X, nv, p->W, nv, 0.f, A, nh);
    SAE_RHO(rho, pass_enc(rho_, A, R, p->b, B, nh));
    /* Y[B,nv] = R[B,nh] * V[nv,nh]^T + c   (tied: V^T = W) */
    if (p->V) ffr_gemm(0, 1, B, nv, nh, 1.f, R, nh, p->V, nh, 0.f, Y, nv);
    else ffr_gemm(0, 0, B, nv, nh, 1.f, R, nh, p->W, nv, 0.f, Y, nv);
    double sse = 0; /* invB: 1/B, or 1/(whole minibatch) when this is one thread's share */
    memset(g->c, 0, (size_t)nv * sizeof(float));
    for (int r = 0; r < B; r++) {
        float *y = Y + (size_t)r * nv;
        const float *tr = t + (size_t)r * nv;
        for (int j = 0; j < nv; j++) {
            float e = y[j] + p->c[j] - tr[j];
            sse += (double)e * e;
            y[j] = e * invB;              /* dL/dY */
            g->c[j] += y[j];
        }
    }
    /* gV[nv,nh] = dY^T[nv,B] * R[B,nh] */
    if (p->V) ffr_gemm(1, 0, nv, nh, B, 1.f, Y, nv, R, nh, 0.f, g->V, nh);
    /* D[B,nh] = dY[B,nv] * V[nv,nh]   (tied: W^T) */
    if (p->V) ffr_gemm(0, 0, B, nh, nv, 1.f, Y, nv, p->V, nh, 0.f, D, nh);
    else ffr_gemm(0, 1, B, nh, nv, 1.f, Y, nv, p->W, nv, 0.f, D, nh);
    SAE_RHO(rho, pass_drho(rho_, D, A, R, g->b, B, nh));
    /* gW[nh,nv] = D^T[nh,B] * X[B,nv]  (+ R^T dY, the decoder's use of W when tied, accumulated by beta = 1) */
    ffr_gemm(1, 0, nh, nv, B, 1.f, D, nh, X, nv, 0.f, g->W, nv);
    if (!p->V) ffr_gemm(1, 0, nh, nv, B, 1.f, R, nh, Y, nv, 1.f, g->W, nv);
    return sse / ((double)B * nv);
}

double ffr_sae_grad(const ffr_ae *p, ffr_rho rho, const float *h, const float *t, int B,
                    ffr_ae *g, float *work) {
    float *X = work;                      /* (B, nv) rho(h) */
    SAE_RHO(rho, pass_rho(rho_, h, X, (size_t)B * p->nv));
    return sae_grad_x(p, rho, X, t, B, g, X + (size_t)B * p->nv, 1.f / B);
}

/* h_k = b_k + W_k rho(h_{k-1}) for all n rows, in chunks. */
static void encode(const ffr_net *net, int k, const float *hin, size_t n, float *hout, float *X) {
    int nv = net->n[k - 1], nh = net->n[k];
    const size_t CH = 1000;
    for (size_t r0 = 0; r0 < n; r0 += CH) {
        int M = (int)(n - r0 < CH ? n - r0 : CH);
        for (size_t i = 0; i < (size_t)M * nv; i++) X[i] = ffr_rho_apply(net->rho, hin[r0 * nv + i]);
        float *O = hout + r0 * nh;
        ffr_gemm(0, 1, M, nh, nv, 1.f, X, nv, net->W[k], nv, 0.f, O, nh);
        for (int r = 0; r < M; r++)
            for (int j = 0; j < nh; j++) O[(size_t)r * nh + j] += net->b[k][j];
    }
}

static ffr_status check_common(const ffr_net *net, const float *x, size_t n, const ffr_train_opts *o, ffr_err *err) {
    if (!x || n < 1) return ffr_fail(err, FFR_ERR_ARG, "training data: expected at least 1 example, found %zu", n);
    if (n > (size_t)1 << 31) return ffr_fail(err, FFR_ERR_ARG, "training data: at most 2^31 examples");
    if (o->epochs < 0) return ffr_fail(err, FFR_ERR_ARG, "epochs: expected >= 0, found %d", o->epochs);
    if (o->batch < 1) return ffr_fail(err, FFR_ERR_ARG, "batch: expected >= 1, found %d", o->batch);
    if (!(o->lr >= 0) || !isfinite(o->lr)) return ffr_fail(err, FFR_ERR_ARG, "lr: expected a finite value >= 0, found %g", o->lr);
    if (!(o->weight_decay >= 0)) return ffr_fail(err, FFR_ERR_ARG, "weight decay: expected >= 0, found %g", o->weight_decay);
    if (!(o->momentum >= 0 && o->momentum < 1)) return ffr_fail(err, FFR_ERR_ARG, "momentum: expected [0, 1), found %g", o->momentum);
    if (!(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1 && o->adam_eps > 0))
        return ffr_fail(err, FFR_ERR_ARG, "adam: expected betas in [0, 1) and eps > 0");
    if (o->holdout && o->n_holdout && o->n_holdout > (size_t)1 << 24)
        return ffr_fail(err, FFR_ERR_ARG, "holdout: too many examples (%zu)", o->n_holdout);
    return ffr_net_check(net, err);
}

ffr_status ffr_train_sae(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                         int *stopped, ffr_err *err) {
    if (stopped) *stopped = 0;
    ffr_status rc = check_common(net, x, n, o, err);
    if (rc) return rc;
    if ((unsigned)o->target > FFR_TARGET_RATE) return ffr_fail(err, FFR_ERR_ARG, "target: expected voltage or rate");
    int L = net->L, maxn = 0;
    for (int k = 0; k <= L; k++) maxn = net->n[k] > maxn ? net->n[k] : maxn;
    int Bmax = o->batch < (int)n ? o->batch : (int)n;
    uint64_t fp = 0xcbf29ce484222325ULL;
    int method = FFR_TRAIN_SAE;
    fp = ffr_train_fnv(fp, &method, sizeof method); fp = ffr_train_fnv(fp, &n, sizeof n); fp = ffr_train_fnv(fp, &o->batch, sizeof o->batch);
    fp = ffr_train_fnv(fp, &o->seed, sizeof o->seed); fp = ffr_train_fnv(fp, &o->target, sizeof o->target);
    fp = ffr_train_fnv(fp, &o->optimizer, sizeof o->optimizer); fp = ffr_train_fnv(fp, &o->lr, sizeof o->lr);
    fp = ffr_train_fnv(fp, &o->weight_decay, sizeof o->weight_decay);

    ffr_net *gnet = NULL;
    ffr_train_ckpt ck;
    memset(&ck, 0, sizeof ck);
    float *H = NULL, *Hn = NULL, *Xb = NULL, *Tb = NULL, *work = NULL, *Fh = NULL, *Fhn = NULL;
    size_t *perm = NULL;
    if ((rc = ffr_net_clone(&gnet, net, err))) return rc;
    /* two BLAS threads: run the minibatch's two halves on two threads with
     * single-threaded BLAS (batch-100 products do not split well inside BLAS) */
    /* (with ffrelax's AVX-512 kernel the products split over threads inside the
     * kernel instead, packing once, and the result does not depend on the thread count) */
    int blas_threads = ffr_get_threads(), par = blas_threads >= 2 && !ffr_gemm_uses_fast();
    ffr_net *gnet2 = NULL;
    float *work2 = NULL;
    if (par && ffr_net_clone(&gnet2, net, NULL) == FFR_OK)
        work2 = ffr_calloc(ffr_sae_work_floats(maxn_par(net), maxn_par(net), o->batch), sizeof(float));
    if (par && (!gnet2 || !work2)) par = 0;
    if (par) ffr_set_threads(1);
    if ((rc = ffr_optim_init(&ck.opt, o->optimizer, net->nparams, err))) goto done;
    H = ffr_calloc(n, (size_t)maxn * sizeof(float));
    Hn = ffr_calloc(n, (size_t)maxn * sizeof(float));
    Xb = ffr_calloc((size_t)Bmax, (size_t)maxn * sizeof(float));
    Tb = ffr_calloc((size_t)Bmax, (size_t)maxn * sizeof(float));
    work = ffr_calloc(ffr_sae_work_floats(maxn, maxn, Bmax > 1000 ? Bmax : 1000), sizeof(float));
    perm = malloc(n * sizeof *perm);
    /* held-out examples: the raw input of the layer below the pair in training
       (pairs below it are fixed, so each epoch measures one pair from there) */
    int hpairs = o->holdout && o->n_holdout && !o->holdout_relax;
    if (hpairs) {
        Fh = ffr_calloc(o->n_holdout, (size_t)maxn * sizeof(float));
        Fhn = ffr_calloc(o->n_holdout, (size_t)maxn * sizeof(float));
    }
    if (!H || !Hn || !Xb || !Tb || !work || !perm || (hpairs && (!Fh || !Fhn))) { rc = ffr_fail(err, FFR_ERR_NOMEM, "sae: out of memory"); goto done; }

    int start_layer = 1, start_epoch = 0;
    ffr_rng_seed(&ck.rng, o->seed);
    int resumed = 0;
    if ((rc = ffr_train_resume(o, net, &ck, FFR_TRAIN_SAE, fp, &resumed, err))) goto done;
    if (resumed) { start_layer = ck.layer; start_epoch = ck.epoch; }
    ck.method = FFR_TRAIN_SAE; ck.fingerprint = fp;
    ck.opt.lr = o->lr; ck.opt.momentum = o->momentum; ck.opt.beta1 = o->beta1; ck.opt.beta2 = o->beta2;
    ck.opt.eps = o->adam_eps; ck.opt.weight_decay = o->weight_decay;

    double t0 = ffr_train_now();
    ffr_train_metrics m;
    if (o->holdout && o->n_holdout) ffr_train_metrics_clear(&m, net, o->n_holdout);
    memcpy(H, x, n * net->n[0] * sizeof(float));
    for (int k = 1; k <= L; k++) {
        int nv = net->n[k - 1], nh = net->n[k];
        int hdone = 0; /* pair k measured with the final weights of layer k, Fhn filled */
        if (k < start_layer) {
            encode(net, k, H, n, Hn, work); float *t = H; H = Hn; Hn = t;
            if (hpairs && (rc = ffr_train_metrics_pairs(net, o->holdout, o->n_holdout, k, k, Fh, Fhn, &m, err))) goto done;
            if (hpairs) { float *t2 = Fh; Fh = Fhn; Fhn = t2; }
            continue;
        }
        int e0 = k == start_layer ? start_epoch : 0;
        if (e0 == 0) ffr_optim_reset(&ck.opt);
        ffr_ae P = {nv, nh, net->W[k], net->b[k], net->V[k], net->c[k - 1]};
        ffr_ae G = {nv, nh, gnet->W[k], gnet->b[k], gnet->V[k], gnet->c[k - 1]};
        ffr_ae G2 = {nv, nh, gnet2 ? gnet2->W[k] : NULL, gnet2 ? gnet2->b[k] : NULL, gnet2 ? gnet2->V[k] : NULL,
                     gnet2 ? gnet2->c[k - 1] : NULL};
        size_t oW = (size_t)(net->W[k] - net->params), ob = (size_t)(net->b[k] - net->params);
        size_t oc = (size_t)(net->c[k - 1] - net->params), oV = net->V[k] ? (size_t)(net->V[k] - net->params) : 0;
        int rate_t = o->target == FFR_TARGET_RATE && k > 1;
        for (int e = e0; e < o->epochs; e++) {
            double te = ffr_train_now(), lsum = 0;
            size_t done_ex = 0;
            int nb = 0;
            ffr_train_shuffle(perm, n, &ck.rng);
            for (size_t b0 = 0; b0 < n; b0 += (size_t)Bmax, nb++) {
                int B = (int)(n - b0 < (size_t)Bmax ? n - b0 : (size_t)Bmax);
                /* gather the minibatch: X = rho(h) (the encoder's input) and the target */
                for (int r = 0; r < B; r++) {
                    const float *src = H + perm[b0 + r] * nv;
                    float *xr = Xb + (size_t)r * nv, *tr = Tb + (size_t)r * nv;
                    SAE_RHO(net->rho, pass_rho(rho_, src, xr, (size_t)nv));
                    if (rate_t) memcpy(tr, xr, nv * sizeof(float));
                    else memcpy(tr, src, nv * sizeof(float));
                }
                double l;
                if (par && B >= 2) { /* two halves on two threads, single-threaded BLAS each; G = G1 + G2 */
                    int B1 = B / 2;
                    sae_job j2 = {&P, net->rho, Xb + (size_t)B1 * nv, Tb + (size_t)B1 * nv, B - B1, &G2, work2, 1.f / B, 0};
                    pthread_t th;
                    int spawned = pthread_create(&th, NULL, sae_job_run, &j2) == 0;
                    if (!spawned) sae_job_run(&j2);
                    double l1 = sae_grad_x(&P, net->rho, Xb, Tb, B1, &G, work, 1.f / B);
                    if (spawned) pthread_join(th, NULL);
                    for (size_t i = 0; i < (size_t)nh * nv; i++) G.W[i] += G2.W[i];
                    if (G.V) for (size_t i = 0; i < (size_t)nh * nv; i++) G.V[i] += G2.V[i];
                    for (int i = 0; i < nh; i++) G.b[i] += G2.b[i];
                    for (int i = 0; i < nv; i++) G.c[i] += G2.c[i];
                    l = (l1 * B1 + j2.loss * (B - B1)) / B;
                } else l = sae_grad_x(&P, net->rho, Xb, Tb, B, &G, work, 1.f / B);
                lsum += l * B; done_ex += B;
                ffr_optim_tick(&ck.opt);
                ffr_optim_step(&ck.opt, net->params, gnet->params, oW, (size_t)nh * nv, 1);
                ffr_optim_step(&ck.opt, net->params, gnet->params, ob, (size_t)nh, 0);
                if (net->V[k]) ffr_optim_step(&ck.opt, net->params, gnet->params, oV, (size_t)nh * nv, 1);
                ffr_optim_step(&ck.opt, net->params, gnet->params, oc, (size_t)nv, 0);
                if (!isfinite(l)) { rc = ffr_fail(err, FFR_ERR_DIVERGED, "sae layer %d epoch %d: loss is not finite (lower --lr)", k, e + 1); goto done; }
                if (ffr_train_mid_report(o, FFR_TRAIN_SAE, k, e + 1, nb, b0 + B, n, done_ex, lsum, te, t0, NAN)) {
                    if (stopped) *stopped = 1;
                    goto done;
                }
            }
            double dt = ffr_train_now() - te;
            ck.layer = k; ck.epoch = e + 1;
            char what[64];
            snprintf(what, sizeof what, "sae layer %d epoch %d", k, e + 1);
            if ((rc = ffr_train_check_finite(net, what, err))) goto done;
            ffr_train_metrics *mp = NULL;
            int stop = 0;
            if (hpairs) { /* pair k from the cached input of layer k-1; pairs < k kept, pairs > k NaN */
                if ((rc = ffr_train_metrics_pairs(net, o->holdout, o->n_holdout, k, k, Fh, Fhn, &m, err))) goto done;
                hdone = 1;
                mp = &m;
            } else if (o->holdout && o->n_holdout) {
                if ((rc = ffr_train_metrics_compute(net, o->holdout, o->n_holdout, o->holdout_relax, &m, err))) goto done;
                mp = &m;
            }
            if (o->progress) {
                ffr_train_progress pr = {FFR_TRAIN_SAE, k, e + 1, o->epochs, done_ex, n, lsum / done_ex,
                                         dt > 0 ? done_ex / dt : 0, ffr_train_now() - t0, NAN, 1, mp};
                stop = o->progress(o->progress_ctx, &pr);
            }
            /* after the epoch's report (the metrics row): a kill between the two repeats the epoch */
            if (o->checkpoint && (rc = ffr_train_ckpt_save(o->checkpoint, net, &ck, err))) goto done;
            if (stop) { if (stopped) *stopped = 1; goto done; }
        }
        if (hpairs && k < L) {
            if (!hdone && (rc = ffr_train_metrics_pairs(net, o->holdout, o->n_holdout, k, k, Fh, Fhn, &m, err))) goto done;
            float *t2 = Fh; Fh = Fhn; Fhn = t2;
        }
        if (k < L) { encode(net, k, H, n, Hn, work); float *t = H; H = Hn; Hn = t; }
    }
done:
    ffr_train_ckpt_free(&ck);
    ffr_net_free(gnet);
    ffr_net_free(gnet2);
    free(work2);
    if (par) ffr_set_threads(blas_threads);
    free(H); free(Hn); free(Xb); free(Tb); free(work); free(perm); free(Fh); free(Fhn);
    return rc;
}
