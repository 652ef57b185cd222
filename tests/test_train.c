/* test_train.c - the trainers against independent references:
 * - every hand-written SAE gradient (tied/untied x voltage/rate target,
 *   hard sigmoid and sigmoid) against central finite differences of a
 *   double-precision reference loss, away from the hard sigmoid's kinks;
 * - the RBM likelihood gradient by exact enumeration of all 2^7 states of a
 *   4-visible, 3-hidden RBM, and ffr_rbm_grad's CD-k estimate against it;
 * - Eq. 23: zero learning rate leaves the network unchanged; a network that
 *   satisfies the auto-encoder condition exactly gets a zero update;
 * - same seed -> bit-identical weights; kill + resume == uninterrupted run;
 * - corrupt checkpoints are refused; a checkpoint with a valid crc32 but an
 *   out-of-range field (layer, epoch, step count, method, rng, extra size,
 *   hyper-parameter) is refused with a message naming it; so is a resume
 *   with other optimizer hyper-parameters, data, batch, seed or method options;
 * - the training loop's contract with a toy trainer (permutation per epoch,
 *   short last minibatch, stage flags, optimizer restart, extra state, resume). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ffrelax.h"
#include "train_loop.h"
#include "minitest.h"

static double urand(ffr_rng *r, double a, double b) { return a + (b - a) * ffr_rng_uniform(r); }

/* ------------------------------------------------------- SAE gradients */
static double rho_d(int rho, double s) {
    if (rho == FFR_RHO_HARDSIGMOID) return s < 0 ? 0 : (s > 1 ? 1 : s);
    if (rho == FFR_RHO_SIGMOID) return 1 / (1 + exp(-s));
    return s;
}
/* reference loss (1/2B) sum ||c + V rho(b + W rho(h)) - t||^2 in double;
 * also returns a bit pattern of which encoder units sit in (0,1) */
static double ref_loss(int nv, int nh, int B, const double *W, const double *b, const double *V,
                       const double *c, int tied, int rho, const float *h, const float *t, unsigned long *pat) {
    double l = 0;
    unsigned long p = 0;
    int bit = 0;
    for (int r = 0; r < B; r++) {
        double a[16], y;
        for (int i = 0; i < nh; i++) {
            a[i] = b[i];
            for (int j = 0; j < nv; j++) a[i] += W[i * nv + j] * rho_d(rho, h[r * nv + j]);
            if (a[i] > 0 && a[i] < 1) p |= 1ul << bit;
            bit++;
        }
        for (int j = 0; j < nv; j++) {
            y = c[j];
            for (int i = 0; i < nh; i++) y += (tied ? W[i * nv + j] : V[j * nh + i]) * rho_d(rho, a[i]);
            l += (y - t[r * nv + j]) * (y - t[r * nv + j]);
        }
    }
    if (pat) *pat = p;
    return l / (2.0 * B);
}

static void test_sae_grad(int tied, int rate, int rho) {
    enum { NV = 6, NH = 5, B = 4 };
    ffr_rng rng;
    ffr_rng_seed(&rng, 100 + tied * 2 + rate + 10 * rho);
    float W[NH * NV], b[NH], V[NV * NH], c[NV], h[B * NV], t[B * NV];
    float gW[NH * NV], gb[NH], gV[NV * NH], gc[NV];
    for (int i = 0; i < NH * NV; i++) { W[i] = (float)urand(&rng, -0.6, 0.6); V[i] = (float)urand(&rng, -0.6, 0.6); }
    for (int i = 0; i < NH; i++) b[i] = (float)urand(&rng, 0.1, 0.6);
    for (int i = 0; i < NV; i++) c[i] = (float)urand(&rng, -0.3, 0.3);
    for (int i = 0; i < B * NV; i++) h[i] = (float)urand(&rng, -0.3, 1.3);
    for (int i = 0; i < B * NV; i++) t[i] = rate ? (float)rho_d(rho, h[i]) : h[i];
    ffr_ae P = {NV, NH, W, b, tied ? NULL : V, c}, G = {NV, NH, gW, gb, gV, gc};
    float *work = calloc(ffr_sae_work_floats(NV, NH, B), sizeof(float));
    double mse = ffr_sae_grad(&P, (ffr_rho)rho, h, t, B, &G, work);
    free(work);
    double Wd[NH * NV], bd[NH], Vd[NV * NH], cd[NV];
    for (int i = 0; i < NH * NV; i++) { Wd[i] = W[i]; Vd[i] = V[i]; }
    for (int i = 0; i < NH; i++) bd[i] = b[i];
    for (int i = 0; i < NV; i++) cd[i] = c[i];
    unsigned long pat0, pp, pm;
    double l0 = ref_loss(NV, NH, B, Wd, bd, Vd, cd, tied, rho, h, t, &pat0);
    CHECK_NEAR(mse, 2 * l0 / NV, 1e-5);
    double *arr[4] = {Wd, bd, Vd, cd};
    const float *an[4] = {gW, gb, gV, gc};
    int len[4] = {NH * NV, NH, tied ? 0 : NV * NH, NV};
    double eps = 1e-4, maxerr = 0, gnorm = 0;
    int checked = 0, skipped = 0;
    for (int a = 0; a < 4; a++)
        for (int i = 0; i < len[a]; i++) {
            double keep = arr[a][i];
            arr[a][i] = keep + eps;
            double lp = ref_loss(NV, NH, B, Wd, bd, Vd, cd, tied, rho, h, t, &pp);
            arr[a][i] = keep - eps;
            double lm = ref_loss(NV, NH, B, Wd, bd, Vd, cd, tied, rho, h, t, &pm);
            arr[a][i] = keep;
            if (rho == FFR_RHO_HARDSIGMOID && (pp != pat0 || pm != pat0)) { skipped++; continue; } /* kink */
            double fd = (lp - lm) / (2 * eps);
            double err = fabs(fd - an[a][i]);
            if (err > maxerr) maxerr = err;
            gnorm += fd * fd;
            checked++;
        }
    gnorm = sqrt(gnorm);
    CHECKF(gnorm > 1e-2, "gradient norm %g is ~0: the check would be vacuous", gnorm);
    CHECKF(checked > 30 && skipped < checked / 4, "checked %d skipped %d", checked, skipped);
    CHECKF(maxerr < 2e-4 * (1 + gnorm), "tied %d rate %d rho %d: max |analytic - fd| = %g (|g| = %g)", tied, rate,
           rho, maxerr, gnorm);
}

/* ------------------------------------------------------------ RBM exact */
enum { RV = 4, RH = 3, RD = 5 };
static const float rbm_data[RD * RV] = {1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0, 0};

/* mean exact log-likelihood of the data: log sum_h exp(-E(v,h)) - log Z */
static double rbm_loglik(const double *W, const double *b, const double *c) {
    double Z = 0, fe[1 << RV];
    for (int v = 0; v < 1 << RV; v++) {
        double s = 0;
        for (int h = 0; h < 1 << RH; h++) {
            double e = 0;
            for (int j = 0; j < RV; j++) e += c[j] * ((v >> j) & 1);
            for (int i = 0; i < RH; i++) {
                if (!((h >> i) & 1)) continue;
                e += b[i];
                for (int j = 0; j < RV; j++) e += W[i * RV + j] * ((v >> j) & 1);
            }
            s += exp(e);
        }
        fe[v] = s;
        Z += s;
    }
    double ll = 0;
    for (int d = 0; d < RD; d++) {
        int v = 0;
        for (int j = 0; j < RV; j++) v |= (rbm_data[d * RV + j] > 0.5f) << j;
        ll += log(fe[v]) - log(Z);
    }
    return ll / RD;
}

/* the CD-infinity gradient of the mean log-likelihood: data stats - model stats (enumeration) */
static void rbm_exact_grad(const double *W, const double *b, const double *c, double *dW, double *db, double *dc) {
    memset(dW, 0, sizeof(double) * RH * RV); memset(db, 0, sizeof(double) * RH); memset(dc, 0, sizeof(double) * RV);
    for (int d = 0; d < RD; d++) {
        const float *v = rbm_data + d * RV;
        for (int i = 0; i < RH; i++) {
            double u = b[i];
            for (int j = 0; j < RV; j++) u += W[i * RV + j] * v[j];
            double p = 1 / (1 + exp(-u));
            db[i] += p / RD;
            for (int j = 0; j < RV; j++) dW[i * RV + j] += p * v[j] / RD;
        }
        for (int j = 0; j < RV; j++) dc[j] += v[j] / RD;
    }
    double Z = 0, pw[1 << (RV + RH)];
    for (int s = 0; s < 1 << (RV + RH); s++) {
        double e = 0;
        for (int j = 0; j < RV; j++) e += c[j] * ((s >> j) & 1);
        for (int i = 0; i < RH; i++) {
            if (!((s >> (RV + i)) & 1)) continue;
            e += b[i];
            for (int j = 0; j < RV; j++) e += W[i * RV + j] * ((s >> j) & 1);
        }
        pw[s] = exp(e);
        Z += pw[s];
    }
    for (int s = 0; s < 1 << (RV + RH); s++) {
        double p = pw[s] / Z;
        for (int j = 0; j < RV; j++) dc[j] -= p * ((s >> j) & 1);
        for (int i = 0; i < RH; i++) {
            int hi = (s >> (RV + i)) & 1;
            db[i] -= p * hi;
            for (int j = 0; j < RV; j++) dW[i * RV + j] -= p * hi * ((s >> j) & 1);
        }
    }
}

static void test_rbm_exact(void) {
    ffr_rng rng;
    ffr_rng_seed(&rng, 7);
    double W[RH * RV], b[RH], c[RV], dW[RH * RV], db[RH], dc[RV];
    for (int i = 0; i < RH * RV; i++) W[i] = urand(&rng, -1, 1);
    for (int i = 0; i < RH; i++) b[i] = urand(&rng, -0.5, 0.5);
    for (int i = 0; i < RV; i++) c[i] = urand(&rng, -0.5, 0.5);
    rbm_exact_grad(W, b, c, dW, db, dc);
    /* 1. the formula against finite differences of the exact log-likelihood */
    double *arr[3] = {W, b, c}, *gr[3] = {dW, db, dc}, maxerr = 0, gn = 0;
    int len[3] = {RH * RV, RH, RV};
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < len[a]; i++) {
            double keep = arr[a][i], h = 1e-5;
            arr[a][i] = keep + h; double lp = rbm_loglik(W, b, c);
            arr[a][i] = keep - h; double lm = rbm_loglik(W, b, c);
            arr[a][i] = keep;
            double fd = (lp - lm) / (2 * h);
            if (fabs(fd - gr[a][i]) > maxerr) maxerr = fabs(fd - gr[a][i]);
            gn += fd * fd;
        }
    CHECKF(sqrt(gn) > 0.05, "log-likelihood gradient norm %g ~0", sqrt(gn));
    CHECKF(maxerr < 1e-7, "exact RBM gradient vs fd of log p: max err %g", maxerr);
    /* 2. the library's CD-k (k large, many chains from the data) estimates -gradient */
    int reps = 8000, B = reps * RD, k = 50;
    float Wf[RH * RV], bf[RH], cf[RV], gW[RH * RV], gb[RH], gc[RV];
    for (int i = 0; i < RH * RV; i++) Wf[i] = (float)W[i];
    for (int i = 0; i < RH; i++) bf[i] = (float)b[i];
    for (int i = 0; i < RV; i++) cf[i] = (float)c[i];
    float *v = malloc(sizeof(float) * B * RV), *work = calloc(ffr_rbm_work_floats(RV, RH, B), sizeof(float));
    for (int r = 0; r < B; r++) memcpy(v + r * RV, rbm_data + (r % RD) * RV, sizeof(float) * RV);
    ffr_rbm_grad(RV, RH, Wf, bf, cf, v, B, k, NULL, &rng, gW, gb, gc, work);
    double e2 = 0, m2 = 0;
    for (int i = 0; i < RH * RV; i++) { e2 = fmax(e2, fabs(gW[i] + dW[i])); m2 += dW[i] * dW[i]; }
    for (int i = 0; i < RH; i++) e2 = fmax(e2, fabs(gb[i] + db[i]));
    for (int i = 0; i < RV; i++) e2 = fmax(e2, fabs(gc[i] + dc[i]));
    CHECKF(e2 < 0.02, "CD-%d estimate vs exact CD-infinity gradient: max err %g (|dW| %g)", k, e2, sqrt(m2));
    /* 3. persistent CD: chains carried across calls reach the same model statistics */
    float *chain = malloc(sizeof(float) * B * RV);
    memcpy(chain, v, sizeof(float) * B * RV);
    for (int it = 0; it < 20; it++) ffr_rbm_grad(RV, RH, Wf, bf, cf, v, B, 5, chain, &rng, gW, gb, gc, work);
    e2 = 0;
    for (int i = 0; i < RH * RV; i++) e2 = fmax(e2, fabs(gW[i] + dW[i]));
    CHECKF(e2 < 0.02, "PCD estimate vs exact gradient: max err %g", e2);
    CHECKF(sqrt(m2) > 0.05, "exact gradient norm %g ~0: the CD-k check would be vacuous", sqrt(m2));
    free(v); free(work); free(chain);
}

/* ----------------------------------------------------- training helpers */
static float *synth(size_t n, int d, uint64_t seed) {
    ffr_rng r;
    ffr_rng_seed(&r, seed);
    float *x = malloc(sizeof(float) * n * d);
    for (size_t i = 0; i < n; i++) {
        double a = ffr_rng_uniform(&r), b2 = ffr_rng_uniform(&r);
        for (int j = 0; j < d; j++) {
            double v = 0.5 + 0.5 * sin(6.28 * (a * j / d + b2)) + 0.1 * ffr_rng_normal(&r);
            x[i * d + j] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
        }
    }
    return x;
}

static ffr_net *mknet(int L, const int *n, ffr_rule rule, ffr_rho rho, int tied, uint64_t seed) {
    ffr_net *net; ffr_err e;
    if (ffr_net_create(&net, L, n, rule, rho, tied, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    ffr_net_init_glorot(net, seed, 1.0f);
    return net;
}

typedef struct { int stop_layer, stop_epoch; double last_loss, first_loss; int calls; } stopper;
static int stop_cb(void *ctx, const ffr_train_progress *p) {
    stopper *s = ctx;
    if (p->end_of_epoch) {
        if (!s->calls) s->first_loss = p->loss;
        s->last_loss = p->loss;
        s->calls++;
    }
    return p->end_of_epoch && p->layer == s->stop_layer && p->epoch == s->stop_epoch;
}

static int same(const ffr_net *a, const ffr_net *b) {
    return a->nparams == b->nparams && !memcmp(a->params, b->params, a->nparams * sizeof(float));
}

/* same seed twice -> identical; and run stopped after (stop_layer, stop_epoch) + resume == uninterrupted */
static void test_determinism_resume(ffr_train_method m, ffr_rule rule, ffr_rho rho, int tied, int persistent,
                                    int stop_layer, int stop_epoch) {
    int n[] = {12, 7, 5};
    size_t N = 230;
    float *x = synth(N, 12, 5);
    ffr_train_opts o;
    ffr_train_opts_default(&o, m);
    o.epochs = 2; o.batch = 32; o.lr = 3e-3; o.seed = 11; o.persistent = persistent; o.cd_k = 2;
    o.holdout = x; o.n_holdout = 40;
    o.holdout_relax = 0;
    ffr_err err;
    ffr_net *a = mknet(2, n, rule, rho, tied, 3), *b = mknet(2, n, rule, rho, tied, 3), *c = mknet(2, n, rule, rho, tied, 3);
    ffr_net *init = mknet(2, n, rule, rho, tied, 3);
    CHECKF(ffr_train(m, a, x, N, &o, NULL, &err) == FFR_OK, "%s: %s", ffr_train_method_name(m), err.msg);
    CHECKF(ffr_train(m, b, x, N, &o, NULL, &err) == FFR_OK, "%s", err.msg);
    CHECKF(same(a, b), "%s: same seed gave different weights", ffr_train_method_name(m));
    CHECKF(!same(a, init), "%s: training changed nothing", ffr_train_method_name(m));
    char path[64];
    snprintf(path, sizeof path, "/tmp/ffr_test_ckpt_%d.bin", (int)getpid());
    remove(path);
    stopper s = {stop_layer, stop_epoch, 0, 0, 0};
    o.checkpoint = path; o.progress = stop_cb; o.progress_ctx = &s;
    int stopped = 0;
    CHECKF(ffr_train(m, c, x, N, &o, &stopped, &err) == FFR_OK && stopped, "%s: %s", ffr_train_method_name(m), err.msg);
    CHECKF(!same(a, c), "%s: stopped run already equals the full run", ffr_train_method_name(m));
    ffr_net *d = mknet(2, n, rule, rho, tied, 99); /* different init: resume must overwrite it */
    o.resume = 1; o.progress = NULL;
    CHECKF(ffr_train(m, d, x, N, &o, &stopped, &err) == FFR_OK && !stopped, "%s resume: %s", ffr_train_method_name(m), err.msg);
    CHECKF(same(a, d), "%s: resumed run differs from the uninterrupted one", ffr_train_method_name(m));
    /* a checkpoint of another run is refused */
    o.seed = 12;
    CHECKF(ffr_train(m, d, x, N, &o, NULL, &err) == FFR_ERR_ARG, "%s: foreign checkpoint accepted", ffr_train_method_name(m));
    remove(path);
    ffr_net_free(a); ffr_net_free(b); ffr_net_free(c); ffr_net_free(d); ffr_net_free(init);
    free(x);
}

static void test_ckpt_corrupt(void) {
    int n[] = {6, 4};
    ffr_net *net = mknet(1, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 1);
    ffr_train_ckpt c;
    memset(&c, 0, sizeof c);
    ffr_err err;
    CHECK(ffr_optim_init(&c.opt, FFR_OPT_ADAM, net->nparams, &err) == FFR_OK);
    c.layer = 1; c.epoch = 3; c.fingerprint = 42; ffr_rng_seed(&c.rng, 5);
    char path[64];
    snprintf(path, sizeof path, "/tmp/ffr_test_ck2_%d.bin", (int)getpid());
    CHECK(ffr_train_ckpt_save(path, net, &c, &err) == FFR_OK);
    ffr_net *net2 = mknet(1, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 2);
    ffr_train_ckpt c2;
    CHECK(ffr_train_ckpt_load(path, net2, &c2, &err) == FFR_OK);
    CHECK(same(net, net2) && c2.epoch == 3 && c2.layer == 1 && c2.fingerprint == 42 && c2.rng.s[2] == c.rng.s[2]);
    ffr_train_ckpt_free(&c2);
    FILE *f = fopen(path, "r+b");
    fseek(f, 100, SEEK_SET); fputc(0x55, f); fclose(f);
    CHECK(ffr_train_ckpt_load(path, net2, &c2, &err) == FFR_ERR_FORMAT);
    f = fopen(path, "wb"); fputs("FFRLXCKP", f); fclose(f);
    CHECK(ffr_train_ckpt_load(path, net2, &c2, &err) == FFR_ERR_FORMAT);
    int n3[] = {6, 5};
    ffr_net *net3 = mknet(1, n3, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 2);
    CHECK(ffr_train_ckpt_save(path, net, &c, &err) == FFR_OK);
    CHECK(ffr_train_ckpt_load(path, net3, &c2, &err) == FFR_ERR_FORMAT);
    remove(path);
    ffr_optim_free(&c.opt);
    ffr_net_free(net); ffr_net_free(net2); ffr_net_free(net3);
}

/* --------------------------------------------- the loop's contract (toy) */
/* A two-stage greedy toy trainer on ffr_train_run: the gradient of stage k
 * pulls W_k toward the minibatch mean of x (a quadratic), the extra state
 * counts minibatches. Checks the loop's side of train_loop.h: every epoch
 * visits each example once (a permutation), the last minibatch is short,
 * stage_begin's fresh/skipped flags, the optimizer restarting per stage
 * (its step count), the extra state's round trip, and stop + resume ==
 * uninterrupted with the stage before the checkpoint's skipped. */
typedef struct {
    ffr_net *net; const float *x; int dim; size_t n;
    int begins[8][3], nbegin;   /* (stage, fresh, skipped) per stage_begin */
    int *seen, perm_ok, short_ok, batches, loaded;
    size_t epoch_ex;
} toy;
static ffr_status toy_begin(void *self, int stage, int fresh, int skipped, ffr_err *err) {
    toy *t = self;
    (void)err;
    if (t->nbegin < 8) { t->begins[t->nbegin][0] = stage; t->begins[t->nbegin][1] = fresh; t->begins[t->nbegin][2] = skipped; }
    t->nbegin++;
    return FFR_OK;
}
static ffr_status toy_batch(void *self, int k, const size_t *idx, int B, ffr_net *grad, double *loss,
                            double *sweeps, ffr_rng *rng, ffr_err *err) {
    toy *t = self;
    (void)sweeps; (void)rng; (void)err;
    for (int r = 0; r < B; r++) t->seen[idx[r]]++;
    t->epoch_ex += (size_t)B;
    if (t->epoch_ex == t->n) { /* an epoch's end: every example exactly once */
        for (size_t i = 0; i < t->n; i++) { t->perm_ok &= t->seen[i] == 1; t->seen[i] = 0; }
        t->short_ok &= B == (int)(t->n % 8 ? t->n % 8 : 8);
        t->epoch_ex = 0;
    }
    size_t len = (size_t)t->net->n[k] * t->net->n[k - 1];
    double l = 0;
    for (size_t i = 0; i < len; i++) {
        double m = 0;
        for (int r = 0; r < B; r++) m += t->x[idx[r] * t->dim + i % t->dim];
        grad->W[k][i] = t->net->W[k][i] - (float)(m / B);
        l += (double)grad->W[k][i] * grad->W[k][i];
    }
    *loss = l / len;
    t->batches++;
    return FFR_OK;
}
static int toy_segments(void *self, int k, ffr_train_seg *seg, int max) {
    toy *t = self;
    (void)max;
    seg[0] = (ffr_train_seg){(size_t)(t->net->W[k] - t->net->params), (size_t)t->net->n[k] * t->net->n[k - 1], 1, 0};
    return 1;
}
static size_t toy_extra_floats(void *self, int k) { (void)self; return (size_t)k + 1; }
static void toy_extra_save(void *self, int k, float *dst) {
    toy *t = self;
    for (int i = 0; i < k; i++) dst[i] = (float)k;
    dst[k] = (float)t->batches;
}
static ffr_status toy_extra_load(void *self, int k, const float *src, size_t n, ffr_err *err) {
    toy *t = self;
    (void)err;
    t->loaded = n == (size_t)k + 1 && src[0] == (float)k;
    t->batches = (int)src[k];
    return FFR_OK;
}

static ffr_status toy_run(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o, toy *t, int *stopped,
                          ffr_err *err) {
    int *seen = calloc(n, sizeof(int));
    memset(t, 0, sizeof *t);
    t->net = net; t->x = x; t->dim = net->n[0]; t->n = n; t->seen = seen; t->perm_ok = t->short_ok = 1;
    ffr_trainer tr = {.method = FFR_TRAIN_SAE, .name = "toy", .nstages = net->L, .greedy = 1, .x = x, .n = n,
                      .dim = net->n[0], .fp = 99, .fp_what = "toy", .self = t, .stage_begin = toy_begin,
                      .batch = toy_batch, .segments = toy_segments, .extra_floats = toy_extra_floats,
                      .extra_save = toy_extra_save, .extra_load = toy_extra_load};
    ffr_status rc = ffr_train_run(&tr, net, o, stopped, err);
    free(seen);
    return rc;
}

static void test_loop_contract(void) {
    int n[] = {5, 4, 3};
    size_t N = 43; /* 5 full minibatches of 8 and one of 3 */
    float *x = synth(N, 5, 61);
    ffr_train_opts o;
    ffr_train_opts_default(&o, FFR_TRAIN_SAE);
    o.epochs = 3; o.batch = 8; o.lr = 0.05;
    ffr_err err;
    ffr_net *a = mknet(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 3), *init = mknet(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 3);
    toy t;
    int stopped = 0;
    CHECKF(toy_run(a, x, N, &o, &t, &stopped, &err) == FFR_OK && !stopped, "%s", err.msg);
    CHECK(t.perm_ok && t.short_ok && t.batches == 2 * 3 * 6);
    CHECK(t.nbegin == 2 && t.begins[0][0] == 1 && t.begins[0][1] == 1 && t.begins[0][2] == 0 &&
          t.begins[1][0] == 2 && t.begins[1][1] == 1 && t.begins[1][2] == 0);
    CHECKF(!same(a, init), "toy training moved nothing");
    /* stop after stage 2 epoch 1, resume: stage 1 skipped, stage 2 not fresh, extra state back */
    char path[64];
    snprintf(path, sizeof path, "/tmp/ffr_test_ck4_%d.bin", (int)getpid());
    remove(path);
    ffr_net *c = mknet(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 3);
    stopper s = {2, 1, 0, 0, 0};
    o.checkpoint = path; o.progress = stop_cb; o.progress_ctx = &s;
    CHECKF(toy_run(c, x, N, &o, &t, &stopped, &err) == FFR_OK && stopped, "%s", err.msg);
    CHECK(t.batches == 4 * 6);
    ffr_train_ckpt ck;
    ffr_net *chk = mknet(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 3);
    CHECKF(ffr_train_ckpt_load(path, chk, &ck, &err) == FFR_OK, "%s", err.msg);
    CHECKF(ck.layer == 2 && ck.epoch == 1 && ck.opt.t == 6 && ck.nextra == 3 && ck.extra[2] == 24.f,
           "checkpoint at layer %d epoch %d t %llu nextra %zu", ck.layer, ck.epoch, (unsigned long long)ck.opt.t, ck.nextra);
    ffr_train_ckpt_free(&ck);
    ffr_net *d = mknet(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 8);
    o.progress = NULL; o.resume = 1;
    CHECKF(toy_run(d, x, N, &o, &t, &stopped, &err) == FFR_OK && !stopped, "%s", err.msg);
    CHECK(t.loaded && t.batches == 2 * 3 * 6);
    CHECK(t.nbegin == 2 && t.begins[0][0] == 1 && t.begins[0][1] == 0 && t.begins[0][2] == 1 &&
          t.begins[1][0] == 2 && t.begins[1][1] == 0 && t.begins[1][2] == 0);
    CHECKF(same(a, d), "toy: resumed run differs from the uninterrupted one");
    remove(path);
    ffr_net_free(a); ffr_net_free(init); ffr_net_free(c); ffr_net_free(chk); ffr_net_free(d);
    free(x);
}

/* ------------------------------------------- resume: checkpoint fields */
/* A run of method m stopped after its first epoch leaves a checkpoint at
 * path; ffr_train with o (o->resume set) on a fresh net gives the returned
 * status, err the message. */
typedef struct { ffr_train_method m; int n[3]; ffr_rule rule; ffr_rho rho; int tied; size_t N; float *x; } ck_case;

static ffr_status try_resume(const ck_case *c, const float *x, const ffr_train_opts *o, ffr_err *err) {
    ffr_net *d = mknet(2, c->n, c->rule, c->rho, c->tied, 77);
    ffr_status rc = ffr_train(c->m, d, x, c->N, o, NULL, err);
    ffr_net_free(d);
    return rc;
}

/* Load the checkpoint, let edit() change one field, save it back (a valid
 * crc32), and expect resume to be refused with code and a message holding want. */
static void expect_refused(const ck_case *c, const ffr_train_opts *o, const char *what,
                           void (*edit)(ffr_train_ckpt *, const ffr_net *), ffr_status code, const char *want) {
    char bak[80];
    snprintf(bak, sizeof bak, "%s.bak", o->checkpoint);
    ffr_err err;
    ffr_net *net = mknet(2, c->n, c->rule, c->rho, c->tied, 1);
    ffr_train_ckpt ck;
    CHECKF(ffr_train_ckpt_load(o->checkpoint, net, &ck, &err) == FFR_OK, "%s", err.msg);
    rename(o->checkpoint, bak);
    edit(&ck, net);
    CHECKF(ffr_train_ckpt_save(o->checkpoint, net, &ck, &err) == FFR_OK, "%s", err.msg);
    ffr_train_ckpt_free(&ck);
    ffr_status rc = try_resume(c, c->x, o, &err);
    CHECKF(rc == code && strstr(err.msg, want), "%s %s: status %d (expected %d), message '%s' (expected '%s')",
           ffr_train_method_name(c->m), what, (int)rc, (int)code, rc ? err.msg : "", want);
    rename(bak, o->checkpoint);
    ffr_net_free(net);
}

static void ed_layer99(ffr_train_ckpt *k, const ffr_net *n) { (void)n; k->layer = 99; }
static void ed_layer0(ffr_train_ckpt *k, const ffr_net *n) { (void)n; k->layer = 0; }
static void ed_layer1(ffr_train_ckpt *k, const ffr_net *n) { (void)n; k->layer = 1; }
static void ed_epoch_neg(ffr_train_ckpt *k, const ffr_net *n) { (void)n; k->epoch = -2; }
static void ed_epoch_big(ffr_train_ckpt *k, const ffr_net *n) { (void)n; k->epoch = 4; }
static void ed_t(ffr_train_ckpt *k, const ffr_net *n) { (void)n; k->opt.t += 1; }
static void ed_method(ffr_train_ckpt *k, const ffr_net *n) { (void)n; k->method = (ffr_train_method)7; }
static void ed_rng0(ffr_train_ckpt *k, const ffr_net *n) { (void)n; memset(&k->rng, 0, sizeof k->rng); }
static void ed_nan_lr(ffr_train_ckpt *k, const ffr_net *n) { (void)n; k->opt.lr = NAN; }
static void ed_extra(ffr_train_ckpt *k, const ffr_net *n) {
    (void)n;
    float *e = calloc(k->nextra + 5, sizeof(float));
    if (k->nextra) memcpy(e, k->extra, k->nextra * sizeof(float));
    free(k->extra);
    k->extra = e; k->nextra += 5;
}
static void ed_none(ffr_train_ckpt *k, const ffr_net *n) { (void)k; (void)n; }

static void ck_run(ck_case *c, ffr_train_opts *o, const char *path) {
    ffr_train_opts_default(o, c->m);
    o->epochs = 3; o->batch = 16; o->seed = 5; o->persistent = 1; o->cd_k = 1;
    o->relax.max_sweeps = 10;
    o->checkpoint = path;
    remove(path);
    stopper s = {c->m == FFR_TRAIN_DENDRITIC ? 0 : 1, 1, 0, 0, 0};
    o->progress = stop_cb; o->progress_ctx = &s;
    ffr_err err;
    int stopped = 0;
    ffr_net *net = mknet(2, c->n, c->rule, c->rho, c->tied, 3);
    CHECKF(ffr_train(c->m, net, c->x, c->N, o, &stopped, &err) == FFR_OK && stopped, "%s", err.msg);
    ffr_net_free(net);
    o->progress = NULL;
    o->resume = 1;
}

/* Class 6 of doc/reliability.md: every field of a checkpoint is range-checked
 * before use, although its crc32 is valid. Class 8: a resume with other
 * optimizer hyper-parameters, data, batch, seed or method options is refused
 * with a message naming the field. */
static void test_ckpt_fields(void) {
    ck_case cases[3] = {
        {FFR_TRAIN_SAE, {12, 7, 5}, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 70, NULL},
        {FFR_TRAIN_RBM, {12, 7, 5}, FFR_RULE_BOLTZMANN, FFR_RHO_SIGMOID, 1, 70, NULL},
        {FFR_TRAIN_DENDRITIC, {12, 7, 5}, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 70, NULL},
    };
    char path[64];
    snprintf(path, sizeof path, "/tmp/ffr_test_ck3_%d.bin", (int)getpid());
    for (int ci = 0; ci < 3; ci++) {
        ck_case *c = &cases[ci];
        c->x = synth(c->N, c->n[0], 40 + ci);
        ffr_train_opts o;
        ck_run(c, &o, path);
        ffr_err err;
        /* control: the untouched (re-saved) checkpoint resumes */
        expect_refused(c, &o, "control", ed_none, FFR_OK, "");
        int greedy = c->m != FFR_TRAIN_DENDRITIC;
        expect_refused(c, &o, "layer 99", ed_layer99, FFR_ERR_FORMAT, "layer");
        if (greedy) expect_refused(c, &o, "layer 0", ed_layer0, FFR_ERR_FORMAT, "layer 0 out of range");
        else expect_refused(c, &o, "layer 1", ed_layer1, FFR_ERR_FORMAT, "layer 1 out of range");
        expect_refused(c, &o, "epoch -2", ed_epoch_neg, FFR_ERR_FORMAT, "epoch");
        expect_refused(c, &o, "epoch 4 of 3", ed_epoch_big, FFR_ERR_FORMAT, "epoch 4 out of range");
        expect_refused(c, &o, "step count", ed_t, FFR_ERR_FORMAT, "step count");
        expect_refused(c, &o, "method 7", ed_method, FFR_ERR_FORMAT, "method");
        expect_refused(c, &o, "rng 0", ed_rng0, FFR_ERR_FORMAT, "rng");
        expect_refused(c, &o, "lr NaN", ed_nan_lr, FFR_ERR_FORMAT, "lr");
        expect_refused(c, &o, "extra", ed_extra, FFR_ERR_FORMAT, "extra state");
        /* class 8: the same checkpoint, this run's options or data changed */
        struct { const char *field; double *v; double to; } hp[] = {
            {"lr", &o.lr, 0.5}, {"weight decay", &o.weight_decay, 1e-4}, {"momentum", &o.momentum, 0.5},
            {"beta1", &o.beta1, 0.8}, {"beta2", &o.beta2, 0.99}, {"eps", &o.adam_eps, 1e-6}};
        for (int i = 0; i < 6; i++) {
            double keep = *hp[i].v;
            int used = o.optimizer == FFR_OPT_SGD ? i != 3 && i != 4 && i != 5 : i != 2;
            *hp[i].v = hp[i].to;
            ffr_status rc = try_resume(c, c->x, &o, &err);
            if (used) CHECKF(rc == FFR_ERR_ARG && strstr(err.msg, hp[i].field), "%s: resume with another %s: %d '%s'",
                             ffr_train_method_name(c->m), hp[i].field, (int)rc, rc ? err.msg : "");
            else CHECKF(rc == FFR_OK, "%s: %s is unused by %s, yet resume refused: %s", ffr_train_method_name(c->m),
                        hp[i].field, ffr_optimizer_name(o.optimizer), err.msg);
            *hp[i].v = keep;
            if (rc == FFR_OK) ck_run(c, &o, path); /* that resume finished the run: a new checkpoint */
        }
        o.optimizer = o.optimizer == FFR_OPT_SGD ? FFR_OPT_ADAM : FFR_OPT_SGD;
        CHECKF(try_resume(c, c->x, &o, &err) == FFR_ERR_ARG && strstr(err.msg, "optimizer"), "%s: other optimizer: %s",
               ffr_train_method_name(c->m), err.msg);
        o.optimizer = o.optimizer == FFR_OPT_SGD ? FFR_OPT_ADAM : FFR_OPT_SGD;
        float *x2 = malloc(c->N * c->n[0] * sizeof(float));
        memcpy(x2, c->x, c->N * c->n[0] * sizeof(float));
        x2[c->N * c->n[0] / 2] = x2[c->N * c->n[0] / 2] > 0.5f ? 0.25f : 0.75f; /* one value of the same-size data */
        CHECKF(try_resume(c, x2, &o, &err) == FFR_ERR_ARG && strstr(err.msg, "training data differ"),
               "%s: other data of the same size: %s", ffr_train_method_name(c->m), err.msg);
        free(x2);
        o.batch = 15;
        CHECKF(try_resume(c, c->x, &o, &err) == FFR_ERR_ARG && strstr(err.msg, "batch"), "%s: other batch: %s",
               ffr_train_method_name(c->m), err.msg);
        o.batch = 16; o.seed = 6;
        CHECKF(try_resume(c, c->x, &o, &err) == FFR_ERR_ARG && strstr(err.msg, "seed"), "%s: other seed: %s",
               ffr_train_method_name(c->m), err.msg);
        o.seed = 5;
        const char *opt = c->m == FFR_TRAIN_SAE ? "--target" : c->m == FFR_TRAIN_RBM ? "--cd-k" : "--relax-tol";
        if (c->m == FFR_TRAIN_SAE) o.target = FFR_TARGET_RATE;
        else if (c->m == FFR_TRAIN_RBM) o.cd_k = 2;
        else o.relax.tol = 2e-3;
        CHECKF(try_resume(c, c->x, &o, &err) == FFR_ERR_ARG && strstr(err.msg, opt), "%s: other %s: %s",
               ffr_train_method_name(c->m), opt, err.msg);
        remove(path);
        free(c->x);
    }
}

/* ------------------------------------------------------------- Eq. 23 */
static void test_eq23(void) {
    ffr_err err;
    /* lr 0: unchanged */
    int n[] = {10, 6, 4};
    size_t N = 64;
    float *x = synth(N, 10, 9);
    ffr_net *net = mknet(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 4), *ref;
    ffr_net_clone(&ref, net, &err);
    ffr_train_opts o;
    ffr_train_opts_default(&o, FFR_TRAIN_DENDRITIC);
    o.epochs = 2; o.batch = 16; o.lr = 0; o.basal = 1; o.holdout_relax = 0;
    CHECKF(ffr_train_dendritic(net, x, N, &o, NULL, &err) == FFR_OK, "%s", err.msg);
    CHECK(same(net, ref));
    /* lr > 0 changes it and lowers the apical error */
    stopper s = {-1, -1, 0, 0, 0};
    o.lr = 1e-2; o.epochs = 15; o.progress = stop_cb; o.progress_ctx = &s;
    CHECKF(ffr_train_dendritic(net, x, N, &o, NULL, &err) == FFR_OK, "%s", err.msg);
    CHECK(!same(net, ref));
    CHECKF(s.last_loss < 0.7 * s.first_loss, "Eq. 23 loss %g -> %g", s.first_loss, s.last_loss);
    ffr_net_free(net); ffr_net_free(ref); free(x);

    /* exact auto-encoder condition: rho identity, g_k(f_k(h)) = h exactly in
     * floating point (dyadic weights, inverse pairs), so the fixed point is
     * the feedforward state and the update is zero. */
    int m[] = {2, 2, 2};
    ffr_net_create(&net, 2, m, FFR_RULE_DENDRITIC, FFR_RHO_IDENTITY, 0, &err);
    float W1[] = {2, 0, 0, 0.5f}, V1[] = {0.5f, 0, 0, 2}, b1[] = {0.25f, -0.5f}, c0[] = {-0.125f, 1};
    float W2[] = {0, 4, 0.25f, 0}, V2[] = {0, 4, 0.25f, 0}, b2[] = {0, 0}, c1[] = {0, 0};
    memcpy(net->W[1], W1, sizeof W1); memcpy(net->V[1], V1, sizeof V1); memcpy(net->b[1], b1, sizeof b1);
    memcpy(net->c[0], c0, sizeof c0); memcpy(net->W[2], W2, sizeof W2); memcpy(net->V[2], V2, sizeof V2);
    memcpy(net->b[2], b2, sizeof b2); memcpy(net->c[1], c1, sizeof c1);
    float xe[8 * 2];
    for (int i = 0; i < 16; i++) xe[i] = (float)((i * 5 % 8) / 8.0);
    ffr_net_clone(&ref, net, &err);
    ffr_train_metrics mt;
    CHECK(ffr_train_metrics_compute(net, xe, 8, 0, &mt, &err) == FFR_OK);
    CHECK(mt.recon_abs[1] == 0 && mt.recon_abs[2] == 0 && mt.disagree[1] == 0);
    ffr_train_opts_default(&o, FFR_TRAIN_DENDRITIC);
    o.epochs = 3; o.batch = 4; o.lr = 0.1; o.basal = 1; o.optimizer = FFR_OPT_SGD; o.holdout_relax = 0;
    s = (stopper){-1, -1, 0, 0, 0};
    o.progress = stop_cb; o.progress_ctx = &s;
    CHECKF(ffr_train_dendritic(net, xe, 8, &o, NULL, &err) == FFR_OK, "%s", err.msg);
    CHECKF(same(net, ref), "Eq. 23 moved a network that satisfies the condition exactly");
    CHECK(s.calls == 3 && s.last_loss == 0);
    /* non-vacuous: break the condition and the same run moves the weights */
    net->c[0][1] = 1.25f;
    ffr_net_free(ref); ffr_net_clone(&ref, net, &err);
    CHECKF(ffr_train_dendritic(net, xe, 8, &o, NULL, &err) == FFR_OK, "%s", err.msg);
    CHECK(!same(net, ref) && s.last_loss > 0);
    ffr_net_free(net); ffr_net_free(ref);
}

/* SAE learns: the held-out relative reconstruction error falls */
static void test_sae_learns(void) {
    int n[] = {16, 12, 8};
    size_t N = 400;
    float *x = synth(N, 16, 21);
    for (int tied = 0; tied < 2; tied++) {
        ffr_net *net = mknet(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, 5);
        ffr_train_metrics m0, m1;
        ffr_err err;
        ffr_train_metrics_compute(net, x + 300 * 16, 100, 0, &m0, &err);
        ffr_train_opts o;
        ffr_train_opts_default(&o, FFR_TRAIN_SAE);
        o.epochs = 40; o.batch = 20; o.lr = 3e-3;
        CHECKF(ffr_train_sae(net, x, 300, &o, NULL, &err) == FFR_OK, "%s", err.msg);
        ffr_train_metrics_compute(net, x + 300 * 16, 100, 0, &m1, &err);
        CHECKF(m1.recon_rel[1] < 0.5 * m0.recon_rel[1] && m1.recon_rel[1] < 0.2, "tied %d pair 1: %g -> %g", tied,
               m0.recon_rel[1], m1.recon_rel[1]);
        CHECKF(m1.recon_rel[2] < 0.5 * m0.recon_rel[2], "tied %d pair 2: %g -> %g", tied, m0.recon_rel[2], m1.recon_rel[2]);
        ffr_net_free(net);
    }
    free(x);
}


/* The two-thread SAE step (with BLAS: each half of the minibatch's blocks of
 * examples, then each half of the gradient's blocks of output rows, on its
 * own thread; with ffrelax's kernel: its threads) against the one-thread
 * step: the same calls per block, so the same bits. */
static void test_sae_two_threads(void) {
    int n[] = {16, 12, 8};
    size_t N = 300;
    float *x = synth(N, 16, 23);
    for (int tied = 0; tied < 2; tied++) {
        ffr_net *a = mknet(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, 7);
        ffr_net *b = mknet(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, 7);
        ffr_err err;
        ffr_train_opts o;
        ffr_train_opts_default(&o, FFR_TRAIN_SAE);
        o.epochs = 3; o.batch = 25; o.lr = 3e-3; o.optimizer = FFR_OPT_SGD;
        int keep = ffr_get_threads();
        ffr_set_threads(1);
        CHECKF(ffr_train_sae(a, x, N, &o, NULL, &err) == FFR_OK, "%s", err.msg);
        ffr_set_threads(2);
        CHECKF(ffr_train_sae(b, x, N, &o, NULL, &err) == FFR_OK, "%s", err.msg);
        CHECK(ffr_get_threads() == 2 || ffr_get_threads() == 1); /* restored (1 without BLAS) */
        ffr_set_threads(keep);
        double md = 0, moved = 0;
        ffr_net *c = mknet(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, 7);
        for (size_t i = 0; i < a->nparams; i++) {
            md = fmax(md, fabs((double)a->params[i] - b->params[i]));
            moved = fmax(moved, fabs((double)a->params[i] - c->params[i]));
        }
        CHECKF(md == 0 && moved > 1e-3, "tied %d: 1 vs 2 threads differ by %g (moved %g)", tied, md, moved);
        ffr_net_free(a); ffr_net_free(b); ffr_net_free(c);
    }
    free(x);
}

/* ffr_train_opts.threads: the run's own count. RBM and dendritic give the
 * same bits for 1 and 3 threads (and the SAE where the products run in
 * ffrelax's kernel; with BLAS, 2+ threads split the SAE's minibatches in
 * halves: test_sae_two_threads), and the library's default count is the
 * same after the run as before. */
static void test_threads_opt(void) {
    int n[] = {12, 7, 5};
    size_t N = 90;
    float *x = synth(N, 12, 31);
    for (int mi = 0; mi < 3; mi++) {
        ffr_train_method m = (ffr_train_method)mi;
        if (m == FFR_TRAIN_SAE && !ffr_gemm_uses_fast()) continue;
        ffr_rule rule = m == FFR_TRAIN_RBM ? FFR_RULE_BOLTZMANN : FFR_RULE_DENDRITIC;
        ffr_rho rho = m == FFR_TRAIN_RBM ? FFR_RHO_SIGMOID : FFR_RHO_HARDSIGMOID;
        int tied = m == FFR_TRAIN_RBM;
        ffr_net *a = mknet(2, n, rule, rho, tied, 4), *b = mknet(2, n, rule, rho, tied, 4);
        ffr_train_opts o;
        ffr_train_opts_default(&o, m);
        o.epochs = 2; o.batch = 16; o.holdout = x; o.n_holdout = 30; o.holdout_relax = 1;
        ffr_err err;
        int before = ffr_get_threads();
        o.threads = 1;
        CHECKF(ffr_train(m, a, x, N, &o, NULL, &err) == FFR_OK, "%s", err.msg);
        o.threads = 3;
        CHECKF(ffr_train(m, b, x, N, &o, NULL, &err) == FFR_OK, "%s", err.msg);
        CHECKF(same(a, b), "%s: threads 1 and 3 give different weights", ffr_train_method_name(m));
        ffr_net *c2 = mknet(2, n, rule, rho, tied, 4);
        o.threads = 2;
        CHECKF(ffr_train(m, c2, x, N, &o, NULL, &err) == FFR_OK, "%s", err.msg);
        CHECKF(same(a, c2), "%s: threads 1 and 2 give different weights", ffr_train_method_name(m));
        ffr_net_free(c2);
        CHECKF(ffr_get_threads() == before, "%s: the library's thread count changed from %d to %d",
               ffr_train_method_name(m), before, ffr_get_threads());
        ffr_net_free(a); ffr_net_free(b);
    }
    free(x);
}

/* ------------------------------------------------- optimizer kernels */
/* The vectorized step against the scalar loop, bit for bit, on lengths
 * around every vector width, with weight decay, over several steps. */
static void test_optim_simd(void) {
    static const size_t lens[] = {1, 3, 4, 7, 8, 15, 16, 17, 33, 1003};
    for (int kind = 0; kind < 2; kind++)
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
            size_t n = lens[li] + 5, off = 5, len = lens[li];
            ffr_optim a, b;
            CHECK(ffr_optim_init(&a, (ffr_optimizer)kind, n, NULL) == FFR_OK);
            CHECK(ffr_optim_init(&b, (ffr_optimizer)kind, n, NULL) == FFR_OK);
            a.weight_decay = b.weight_decay = 1e-3;
            float *p = malloc(n * sizeof(float)), *q = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
            ffr_rng rng;
            ffr_rng_seed(&rng, 7 + li);
            for (size_t i = 0; i < n; i++) p[i] = q[i] = (float)urand(&rng, -1, 1);
            int same = 1, moved = 0;
            for (int t = 0; t < 5; t++) {
                for (size_t i = 0; i < n; i++) g[i] = (float)urand(&rng, -2, 2);
                ffr_optim_tick(&a); ffr_optim_tick(&b);
                ffr_optim_step(&a, p, g, off, len, 1);
                ffr_optim_step_ref(&b, q, g, off, len, 1);
            }
            ffr_rng_seed(&rng, 7 + li);
            for (size_t i = 0; i < n; i++) {
                float p0 = (float)urand(&rng, -1, 1);
                same &= !memcmp(&p[i], &q[i], sizeof(float)) && !memcmp(&a.m[i], &b.m[i], sizeof(float));
                if (kind == FFR_OPT_ADAM) same &= !memcmp(&a.v[i], &b.v[i], sizeof(float));
                moved += p[i] != p0;
                if (i < off) same &= p[i] == p0; /* outside the segment: untouched */
            }
            CHECKF(same, "%s len %zu: vectorized step differs from the scalar reference", ffr_optimizer_name(kind), len);
            CHECKF(moved == (int)len, "%s len %zu: %d of %zu parameters moved", ffr_optimizer_name(kind), len, moved, len);
            free(p); free(q); free(g);
            ffr_optim_free(&a); ffr_optim_free(&b);
        }
}

int main(void) {
    test_optim_simd();
    for (int tied = 0; tied < 2; tied++)
        for (int rate = 0; rate < 2; rate++) test_sae_grad(tied, rate, FFR_RHO_HARDSIGMOID);
    test_sae_grad(0, 1, FFR_RHO_SIGMOID);
    test_sae_grad(1, 0, FFR_RHO_SIGMOID);
    test_rbm_exact();
    test_ckpt_corrupt();
    test_ckpt_fields();
    test_loop_contract();
    test_eq23();
    test_sae_learns();
    test_sae_two_threads();
    test_threads_opt();
    test_determinism_resume(FFR_TRAIN_SAE, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 0, 1, 1);
    test_determinism_resume(FFR_TRAIN_SAE, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 0, 2, 1);
    test_determinism_resume(FFR_TRAIN_RBM, FFR_RULE_BOLTZMANN, FFR_RHO_SIGMOID, 1, 0, 1, 2);
    test_determinism_resume(FFR_TRAIN_RBM, FFR_RULE_BOLTZMANN, FFR_RHO_SIGMOID, 1, 1, 2, 1);
    test_determinism_resume(FFR_TRAIN_DENDRITIC, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 0, 0, 1);
    MT_DONE("test_train");
}
