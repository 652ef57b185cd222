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
#include <time.h>
#include "train_internal.h"

/* Eq. 23 gradient (the negative of the update direction) at the state st;
 * f, g, R: (B, n_k) scratch per layer. Returns the mean squared apical error per unit. */
static double eq23_grad(const ffr_net *net, const ffr_state *st, int basal, float **f, float **g,
                        float **R, ffr_net *gnet) {
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
            ffr_gemm(1, 0, hi, lo, B, a, R[k], hi, E, lo, 0.f, gnet->W[k], lo);
        else { /* gV[lo,hi] = -(1/B) E^T R_k */
            ffr_gemm(1, 0, lo, hi, B, a, E, lo, R[k], hi, 0.f, gnet->V[k], hi);
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
            ffr_gemm(1, 0, hi, lo, B, a, Eb, hi, R[k - 1], lo, 1.f, gnet->W[k], lo);
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
    int basal = o->basal ? 1 : 0;
    ffr_status rc = ffr_net_check(net, err);
    if (rc) return rc;
    int L = net->L, Bmax = o->batch < (int)n ? o->batch : (int)n;
    uint64_t fp = 0xcbf29ce484222325ULL;
    int method = FFR_TRAIN_DENDRITIC;
    fp = ffr_train_fnv(fp, &method, sizeof method); fp = ffr_train_fnv(fp, &n, sizeof n); fp = ffr_train_fnv(fp, &o->batch, sizeof o->batch);
    fp = ffr_train_fnv(fp, &o->seed, sizeof o->seed); fp = ffr_train_fnv(fp, &basal, sizeof basal);
    fp = ffr_train_fnv(fp, &o->optimizer, sizeof o->optimizer); fp = ffr_train_fnv(fp, &o->lr, sizeof o->lr);
    fp = ffr_train_fnv(fp, &o->weight_decay, sizeof o->weight_decay);
    fp = ffr_train_fnv(fp, &o->relax.tol, sizeof o->relax.tol); fp = ffr_train_fnv(fp, &o->relax.max_sweeps, sizeof o->relax.max_sweeps);

    ffr_net *gnet = NULL;
    ffr_state *st = NULL, *st2 = NULL;
    ffr_train_ckpt ck;
    memset(&ck, 0, sizeof ck);
    float *f[FFR_MAX_LAYERS], *g[FFR_MAX_LAYERS], *R[FFR_MAX_LAYERS], *fb = NULL, *gb = NULL, *rb = NULL, *Xb = NULL;
    size_t *perm = NULL;
    if ((rc = ffr_net_clone(&gnet, net, err))) return rc;
    if ((rc = ffr_optim_init(&ck.opt, o->optimizer, net->nparams, err))) goto done;
    if ((rc = ffr_state_create(&st, net, Bmax, err))) goto done;
    if (n % Bmax && (rc = ffr_state_create(&st2, net, (int)(n % Bmax), err))) goto done;
    fb = layers(net, Bmax, f); gb = layers(net, Bmax, g); rb = layers(net, Bmax, R);
    Xb = ffr_calloc((size_t)Bmax, (size_t)net->n[0] * sizeof(float));
    perm = malloc(n * sizeof *perm);
    if (!fb || !gb || !rb || !Xb || !perm) { rc = ffr_fail(err, FFR_ERR_NOMEM, "dendritic: out of memory"); goto done; }
    int start_epoch = 0;
    ffr_rng_seed(&ck.rng, o->seed);
    int resumed = 0;
    if ((rc = ffr_train_resume(o, net, &ck, FFR_TRAIN_DENDRITIC, fp, &resumed, err))) goto done;
    if (resumed) start_epoch = ck.epoch;
    ck.method = FFR_TRAIN_DENDRITIC; ck.fingerprint = fp; ck.layer = 0;
    ck.opt.lr = o->lr; ck.opt.momentum = o->momentum; ck.opt.beta1 = o->beta1; ck.opt.beta2 = o->beta2;
    ck.opt.eps = o->adam_eps; ck.opt.weight_decay = o->weight_decay;

    double t0 = ffr_train_now();
    for (int e = start_epoch; e < o->epochs; e++) {
        double te = ffr_train_now(), lsum = 0, sweeps = 0;
        size_t done_ex = 0;
        int nb = 0;
        ffr_train_shuffle(perm, n, &ck.rng);
        for (size_t b0 = 0; b0 < n; b0 += (size_t)Bmax, nb++) {
            int B = (int)(n - b0 < (size_t)Bmax ? n - b0 : (size_t)Bmax);
            ffr_state *s = B == Bmax ? st : st2;
            for (int r = 0; r < B; r++)
                memcpy(Xb + (size_t)r * net->n[0], x + perm[b0 + r] * net->n[0], net->n[0] * sizeof(float));
            ffr_trace *tr = NULL;
            if ((rc = ffr_relax(net, Xb, B, &o->relax, s, &tr, err))) {
                ffr_trace_free(tr);
                goto done;
            }
            sweeps += (double)tr->total_updates;
            ffr_trace_free(tr);
            double l = eq23_grad(net, s, basal, f, g, R, gnet);
            lsum += l * B; done_ex += B;
            ffr_optim_tick(&ck.opt);
            for (int k = 1; k <= L; k++) {
                size_t w = (size_t)net->n[k] * net->n[k - 1];
                if (net->tied || basal) ffr_optim_step(&ck.opt, net->params, gnet->params, (size_t)(net->W[k] - net->params), w, 1);
                if (basal) ffr_optim_step(&ck.opt, net->params, gnet->params, (size_t)(net->b[k] - net->params), (size_t)net->n[k], 0);
                if (!net->tied) ffr_optim_step(&ck.opt, net->params, gnet->params, (size_t)(net->V[k] - net->params), w, 1);
                ffr_optim_step(&ck.opt, net->params, gnet->params, (size_t)(net->c[k - 1] - net->params), (size_t)net->n[k - 1], 0);
            }
            if (!isfinite(l)) { rc = ffr_fail(err, FFR_ERR_DIVERGED, "dendritic epoch %d: loss is not finite (lower --lr)", e + 1); goto done; }
            if (ffr_train_mid_report(o, FFR_TRAIN_DENDRITIC, 0, e + 1, nb, b0 + B, n, done_ex, lsum, te, t0, sweeps / done_ex)) {
                if (stopped) *stopped = 1;
                goto done;
            }
        }
        double dt = ffr_train_now() - te;
        ck.epoch = e + 1;
        char what[64];
        snprintf(what, sizeof what, "dendritic epoch %d", e + 1);
        if ((rc = ffr_train_check_finite(net, what, err))) goto done;
        ffr_train_metrics m, *mp = NULL;
        int stop = 0;
        if (o->holdout && o->n_holdout) {
            if ((rc = ffr_train_metrics_compute(net, o->holdout, o->n_holdout, o->holdout_relax, &m, err))) goto done;
            mp = &m;
        }
        if (o->progress) {
            ffr_train_progress pr = {FFR_TRAIN_DENDRITIC, 0, e + 1, o->epochs, done_ex, n, lsum / done_ex,
                                     dt > 0 ? done_ex / dt : 0, ffr_train_now() - t0, sweeps / done_ex, 1, mp};
            stop = o->progress(o->progress_ctx, &pr);
        }
        /* after the epoch's report (the metrics row): a kill between the two repeats the epoch */
        if (o->checkpoint && (rc = ffr_train_ckpt_save(o->checkpoint, net, &ck, err))) goto done;
        if (stop) { if (stopped) *stopped = 1; goto done; }
    }
done:
    ffr_train_ckpt_free(&ck);
    ffr_net_free(gnet);
    ffr_state_free(st); ffr_state_free(st2);
    free(fb); free(gb); free(rb); free(Xb); free(perm);
    return rc;
}

ffr_status ffr_train(ffr_train_method m, ffr_net *net, const float *x, size_t n,
                     const ffr_train_opts *o, int *stopped, ffr_err *err) {
    switch (m) {
    case FFR_TRAIN_SAE: return ffr_train_sae(net, x, n, o, stopped, err);
    case FFR_TRAIN_RBM: return ffr_train_rbm(net, x, n, o, stopped, err);
    case FFR_TRAIN_DENDRITIC: return ffr_train_dendritic(net, x, n, o, stopped, err);
    }
    return ffr_fail(err, FFR_ERR_ARG, "training method: expected sae, rbm or dendritic, found %d", (int)m);
}
