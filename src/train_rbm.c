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
#include <time.h>
#include "train_internal.h"

static inline float sigm(float u) { return 1.f / (1.f + expf(-u)); }

size_t ffr_rbm_work_floats(int nv, int nh, int B) { return (size_t)B * (3 * (size_t)nv + 3 * (size_t)nh); }

/* P[B,nh] = sigm(V[B,nv] W^T + b) */
static void up(int nv, int nh, const float *W, const float *b, const float *V, int B, float *P) {
    ffr_gemm(0, 1, B, nh, nv, 1.f, V, nv, W, nv, 0.f, P, nh);
    for (int r = 0; r < B; r++)
        for (int j = 0; j < nh; j++) { float *p = &P[(size_t)r * nh + j]; *p = sigm(*p + b[j]); }
}
/* P[B,nv] = sigm(H[B,nh] W + c) */
static void down(int nv, int nh, const float *W, const float *c, const float *H, int B, float *P) {
    ffr_gemm(0, 0, B, nv, nh, 1.f, H, nh, W, nv, 0.f, P, nv);
    for (int r = 0; r < B; r++)
        for (int j = 0; j < nv; j++) { float *p = &P[(size_t)r * nv + j]; *p = sigm(*p + c[j]); }
}
static void sample(const float *P, size_t n, float *S, ffr_rng *rng) {
    for (size_t i = 0; i < n; i++) S[i] = ffr_rng_uniform(rng) < P[i] ? 1.f : 0.f;
}

double ffr_rbm_grad(int nv, int nh, const float *W, const float *b, const float *c,
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
    up(nv, nh, W, b, v, B, PH0);
    if (chain) up(nv, nh, W, b, chain, B, PHn); /* persistent: restart from the chain's visible state */
    sample(chain ? PHn : PH0, (size_t)B * nh, Hs, rng);
    for (int step = 0; step < k; step++) {
        down(nv, nh, W, c, Hs, B, PV);
        sample(PV, (size_t)B * nv, Vs, rng);
        up(nv, nh, W, b, Vs, B, PHn);
        if (step + 1 < k) sample(PHn, (size_t)B * nh, Hs, rng);
    }
    if (chain) memcpy(chain, Vs, (size_t)B * nv * sizeof(float));
    /* gW[nh,nv] = -(PH0^T v - PHn^T Vs) / B: the expected hidden given each visible (Rao-Blackwell) */
    float invB = 1.f / B;
    ffr_gemm(1, 0, nh, nv, B, -invB, PH0, nh, v, nv, 0.f, gW, nv);
    ffr_gemm(1, 0, nh, nv, B, invB, PHn, nh, Vs, nv, 1.f, gW, nv);
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
        ffr_gemm(0, 0, B, nv, nh, 1.f, PH0, nh, W, nv, 0.f, PV, nv);
        for (int r = 0; r < B; r++)
            for (int j = 0; j < nv; j++) {
                size_t i = (size_t)r * nv + j;
                double e = v[i] - sigm(PV[i] + c[j]);
                sse += e * e;
            }
    }
    return sse / ((double)B * nv);
}

ffr_status ffr_train_rbm(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                         int *stopped, ffr_err *err) {
    if (stopped) *stopped = 0;
    if (net->rule != FFR_RULE_BOLTZMANN || !net->tied)
        return ffr_fail(err, FFR_ERR_ARG, "rbm: the network must be tied with rule boltzmann (found %s, %s)",
                        ffr_rule_name(net->rule), net->tied ? "tied" : "untied");
    if (!x || n < 1 || n > (size_t)1 << 31) return ffr_fail(err, FFR_ERR_ARG, "rbm: expected 1..2^31 examples, found %zu", n);
    if (o->epochs < 0 || o->batch < 1 || !(o->lr >= 0) || o->cd_k < 1 || o->cd_k > 100000)
        return ffr_fail(err, FFR_ERR_ARG, "rbm: expected epochs >= 0, batch >= 1, lr >= 0, 1 <= cd_k <= 1e5");
    ffr_status rc = ffr_net_check(net, err);
    if (rc) return rc;
    for (size_t i = 0; i < n * net->n[0]; i++)
        if (!(x[i] >= 0.f && x[i] <= 1.f))
            return ffr_fail(err, FFR_ERR_ARG, "rbm: data value %zu is %g, expected probabilities in [0, 1]", i, x[i]);
    int L = net->L, maxn = 0;
    for (int k = 0; k <= L; k++) maxn = net->n[k] > maxn ? net->n[k] : maxn;
    int Bmax = o->batch < (int)n ? o->batch : (int)n;
    uint64_t fp = 0xcbf29ce484222325ULL;
    int method = FFR_TRAIN_RBM;
    fp = ffr_train_fnv(fp, &method, sizeof method); fp = ffr_train_fnv(fp, &n, sizeof n); fp = ffr_train_fnv(fp, &o->batch, sizeof o->batch);
    fp = ffr_train_fnv(fp, &o->seed, sizeof o->seed); fp = ffr_train_fnv(fp, &o->cd_k, sizeof o->cd_k);
    fp = ffr_train_fnv(fp, &o->persistent, sizeof o->persistent);
    fp = ffr_train_fnv(fp, &o->optimizer, sizeof o->optimizer); fp = ffr_train_fnv(fp, &o->lr, sizeof o->lr);
    fp = ffr_train_fnv(fp, &o->weight_decay, sizeof o->weight_decay);

    ffr_net *gnet = NULL;
    ffr_train_ckpt ck;
    memset(&ck, 0, sizeof ck);
    float *H = NULL, *Hn = NULL, *Vb = NULL, *work = NULL, *chain = NULL;
    size_t *perm = NULL;
    if ((rc = ffr_net_clone(&gnet, net, err))) return rc;
    if ((rc = ffr_optim_init(&ck.opt, o->optimizer, net->nparams, err))) goto done;
    H = ffr_calloc(n, (size_t)maxn * sizeof(float));
    Hn = ffr_calloc(n, (size_t)maxn * sizeof(float));
    Vb = ffr_calloc((size_t)Bmax, (size_t)maxn * sizeof(float));
    work = ffr_calloc(ffr_rbm_work_floats(maxn, maxn, Bmax), sizeof(float));
    chain = ffr_calloc((size_t)Bmax, (size_t)maxn * sizeof(float));
    perm = malloc(n * sizeof *perm);
    if (!H || !Hn || !Vb || !work || !chain || !perm) { rc = ffr_fail(err, FFR_ERR_NOMEM, "rbm: out of memory"); goto done; }
    int start_layer = 1, start_epoch = 0, chain_ok = 0;
    ffr_rng_seed(&ck.rng, o->seed);
    int resumed = 0;
    if ((rc = ffr_train_resume(o, net, &ck, FFR_TRAIN_RBM, fp, &resumed, err))) goto done;
    if (resumed) {
        start_layer = ck.layer; start_epoch = ck.epoch;
        if (ck.nextra) {
            if (ck.nextra != (size_t)Bmax * net->n[ck.layer - 1] + 1) {
                rc = ffr_fail(err, FFR_ERR_FORMAT, "%s: persistent chain size mismatch", o->checkpoint); goto done;
            }
            memcpy(chain, ck.extra, (ck.nextra - 1) * sizeof(float));
            chain_ok = ck.extra[ck.nextra - 1] != 0.f;
        }
        free(ck.extra); ck.extra = NULL; ck.nextra = 0;
    }
    ck.method = FFR_TRAIN_RBM; ck.fingerprint = fp;
    ck.opt.lr = o->lr; ck.opt.momentum = o->momentum; ck.opt.beta1 = o->beta1; ck.opt.beta2 = o->beta2;
    ck.opt.eps = o->adam_eps; ck.opt.weight_decay = o->weight_decay;

    double t0 = ffr_train_now();
    memcpy(H, x, n * net->n[0] * sizeof(float));
    for (int k = 1; k <= L; k++) {
        int nv = net->n[k - 1], nh = net->n[k];
        if (k >= start_layer) {
            int e0 = k == start_layer ? start_epoch : 0;
            if (e0 == 0) { ffr_optim_reset(&ck.opt); chain_ok = 0; }
            size_t oW = (size_t)(net->W[k] - net->params), ob = (size_t)(net->b[k] - net->params);
            size_t oc = (size_t)(net->c[k - 1] - net->params);
            for (int e = e0; e < o->epochs; e++) {
                double te = ffr_train_now(), lsum = 0;
                size_t done_ex = 0;
                int nb = 0;
                ffr_train_shuffle(perm, n, &ck.rng);
                for (size_t b0 = 0; b0 < n; b0 += (size_t)Bmax, nb++) {
                    int B = (int)(n - b0 < (size_t)Bmax ? n - b0 : (size_t)Bmax);
                    for (int r = 0; r < B; r++) memcpy(Vb + (size_t)r * nv, H + perm[b0 + r] * nv, nv * sizeof(float));
                    float *ch = NULL;
                    if (o->persistent && B == Bmax) {
                        if (!chain_ok) { sample(Vb, (size_t)B * nv, chain, &ck.rng); chain_ok = 1; }
                        ch = chain;
                    }
                    double l = ffr_rbm_grad(nv, nh, net->W[k], net->b[k], net->c[k - 1], Vb, B, o->cd_k, ch,
                                            &ck.rng, gnet->W[k], gnet->b[k], gnet->c[k - 1], work);
                    lsum += l * B; done_ex += B;
                    ffr_optim_tick(&ck.opt);
                    ffr_optim_step(&ck.opt, net->params, gnet->params, oW, (size_t)nh * nv, 1);
                    ffr_optim_step(&ck.opt, net->params, gnet->params, ob, (size_t)nh, 0);
                    ffr_optim_step(&ck.opt, net->params, gnet->params, oc, (size_t)nv, 0);
                    if (!isfinite(l)) { rc = ffr_fail(err, FFR_ERR_DIVERGED, "rbm layer %d epoch %d: loss is not finite (lower --lr)", k, e + 1); goto done; }
                    if (ffr_train_mid_report(o, FFR_TRAIN_RBM, k, e + 1, nb, b0 + B, n, done_ex, lsum, te, t0, NAN)) {
                        if (stopped) *stopped = 1;
                        goto done;
                    }
                }
                double dt = ffr_train_now() - te;
                ck.layer = k; ck.epoch = e + 1;
                char what[64];
                snprintf(what, sizeof what, "rbm layer %d epoch %d", k, e + 1);
                if ((rc = ffr_train_check_finite(net, what, err))) goto done;
                ffr_train_metrics m, *mp = NULL;
                int stop = 0;
                if (o->holdout && o->n_holdout) {
                    if ((rc = ffr_train_metrics_compute(net, o->holdout, o->n_holdout, o->holdout_relax, &m, err))) goto done;
                    mp = &m;
                }
                if (o->progress) {
                    ffr_train_progress pr = {FFR_TRAIN_RBM, k, e + 1, o->epochs, done_ex, n, lsum / done_ex,
                                             dt > 0 ? done_ex / dt : 0, ffr_train_now() - t0, NAN, 1, mp};
                    stop = o->progress(o->progress_ctx, &pr);
                }
                /* after the epoch's report (the metrics row): a kill between the two repeats the epoch */
                if (o->checkpoint) {
                    float *ex = NULL;
                    if (o->persistent) {
                        ck.nextra = (size_t)Bmax * nv + 1;
                        ex = malloc(ck.nextra * sizeof(float));
                        if (!ex) { rc = ffr_fail(err, FFR_ERR_NOMEM, "rbm: out of memory"); goto done; }
                        memcpy(ex, chain, (ck.nextra - 1) * sizeof(float));
                        ex[ck.nextra - 1] = (float)chain_ok;
                    }
                    ck.extra = ex;
                    rc = ffr_train_ckpt_save(o->checkpoint, net, &ck, err);
                    free(ex); ck.extra = NULL; ck.nextra = 0;
                    if (rc) goto done;
                }
                if (stop) { if (stopped) *stopped = 1; goto done; }
            }
        }
        if (k < L) { /* next RBM's data: hidden probabilities of this one */
            const size_t CH = 1000;
            for (size_t r0 = 0; r0 < n; r0 += CH) {
                int M = (int)(n - r0 < CH ? n - r0 : CH);
                up(nv, nh, net->W[k], net->b[k], H + r0 * nv, M, Hn + r0 * nh);
            }
            float *t = H; H = Hn; Hn = t;
        }
    }
done:
    ffr_train_ckpt_free(&ck);
    ffr_net_free(gnet);
    free(H); free(Hn); free(Vb); free(work); free(chain); free(perm);
    return rc;
}
