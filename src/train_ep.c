/* train_ep.c - supervised equilibrium propagation as a trainer on the one
 * training loop (train_loop.h). Per minibatch (doc/training.md,
 * "Equilibrium propagation"):
 *   free phase:   start (Eq. 17 feedforward, zero, or the example's last
 *                 free state), relax with the input clamped (Eq. 9) to the
 *                 tolerance, or exactly F sweeps (the anchors' schedule);
 *   nudged phase: from the free fixed point, relax with the top layer pulled
 *                 toward the one-hot target with strength beta (+beta, or
 *                 +beta and -beta when centered, or a random sign);
 *   gradient:     ffr_ep_grad from the two fixed points (src/ep.c).
 * The loop owns shuffling, the optimizer, checkpoints and resume; this file
 * supplies the gradient, the segments, the fingerprint, the persistent free
 * states as extra checkpoint state, and the per-epoch EP measurements (through
 * the loop's progress callback, which it wraps). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ep_internal.h"
#include "train_loop.h"
#include "comm.h"

void ffr_ep_opts_default(ffr_ep_opts *e, ffr_train_opts *t) {
    if (!e || !t) return;
    memset(e, 0, sizeof *e);
    ffr_train_opts_default(t, FFR_TRAIN_DENDRITIC);
    /* the measured recipe (doc/training.md): SGD with momentum 0.9, batch 100,
       lr of ffr_ep_default_lr, beta 0.2 centered, relative tol 1e-3, Anderson
       (3 differences) in the free and nudged phases of nets with two or more
       hidden layers */
    t->epochs = 10;
    t->batch = 100;
    t->optimizer = FFR_OPT_SGD;
    t->momentum = 0.9;
    t->lr = 0.02;
    t->holdout_relax = 0;
    e->beta = 0.2;
    e->nudge = FFR_NUDGE_CENTERED;
    e->start = FFR_EP_START_FF;
    /* lr[k] = 0: the default of layer k, ffr_ep_default_lr */
    ffr_relax_opts_default(&e->relax);
    e->relax.tol = 1e-3;
    e->relax.tol_mode = FFR_TOL_REL;
    e->relax.max_sweeps = 100;
    e->relax.measure_every = -1;
    e->relax.diverge_factor = 0;
    e->relax.anderson = -1; /* FFR_EP_ANDERSON_AUTO: resolved per network by ffr_ep_anderson */
}

double ffr_ep_default_lr(const ffr_net *net, int k) {
    if (ffr_net_valid(net, __func__, NULL) || k < 1 || k > net->L) return NAN;
    if (net->L <= 2 || k == net->L) return k <= 1 ? 0.02 : 0.01 * 256.0 / net->n[k - 1];
    /* two or more hidden layers: the hidden layers' rates doubled (doc/training.md) */
    return k <= 1 ? 0.04 : 0.02 * 256.0 / net->n[k - 1];
}

int ffr_ep_anderson(const ffr_net *net, const ffr_ep_opts *e) {
    if (!e) return 0;
    if (e->relax.anderson >= 0) return e->relax.anderson;
    if (ffr_net_valid(net, __func__, NULL)) return 0;
    return net->L >= 3 && e->fixed_free == 0 ? 3 : 0;
}

/* The learning rate of layer k: e->lr[k] when set (> 0), else the default. */
static double lr_of(const ffr_net *net, const ffr_ep_opts *e, int k) {
    return e->lr[k] > 0 ? e->lr[k] : ffr_ep_default_lr(net, k);
}

typedef struct {
    ffr_net *net;
    const float *x;
    const unsigned char *y;
    size_t n;
    const ffr_ep_opts *e;
    ffr_train_opts t;            /* the caller's, with our progress wrapper */
    ffr_relax_opts ofree, onudge;
    int Bmax, nfree_units;       /* sum of n_k, k >= 1 (persistent rows) */
    double gscale[FFR_MAX_LAYERS];
    ffr_state *sf, *sp, *sm;
    ffr_relaxer *rx;             /* one for the run: options set per phase, weights re-packed per batch */
    float *X, *Y, *work;
    float *persist;              /* (n, nfree_units) the last free states; valid after epoch 1 */
    int persist_valid;
    size_t seen;                 /* examples of this epoch reduced so far */
    /* this epoch so far */
    ffr_ep_hist hfree, hnudge;
    double ex, err_ff, err_rel, nff, loss, dist, ndist, t_epoch;
    int has_epoch;
    double ba, bb;               /* this minibatch's nudges (bb 0: one nudged phase) */
    const ffr_comm *comm;        /* the ranks (NULL: one process) */
    ffr_ep_eval ev;              /* the test set at the end of this epoch (ep_metrics) */
} ep_self;

static ffr_state view(const ffr_state *s, int B) {
    ffr_state v = *s;
    v.B = B;
    return v;
}

/* The free layers 1..L (the relaxation writes the clamped input into layer 0 itself). */
static void copy_state(ffr_state *dst, const ffr_state *src, const ffr_net *net) {
    for (int k = 1; k <= net->L; k++) memcpy(dst->s[k], src->s[k], (size_t)src->B * net->n[k] * sizeof(float));
}

/* persistent rows <-> state (layers k >= 1 of example idx) */
static void persist_io(ep_self *S, ffr_state *st, int r, size_t ex, int save) {
    float *p = S->persist + ex * (size_t)S->nfree_units;
    for (int k = 1; k <= S->net->L; k++) {
        int nk = S->net->n[k];
        float *row = st->s[k] + (size_t)r * nk;
        if (save) memcpy(p, row, nk * sizeof(float));
        else memcpy(row, p, nk * sizeof(float));
        p += nk;
    }
}

/* One relaxation of the block S->X (B rows) on the run's relaxer; its
 * trace into *keep. same_input: X is the last phase's (the clamped input's
 * product W_1 rho(x) is reused: the nudged phases). */
static ffr_status relax_phase(ep_self *S, const ffr_relax_opts *o, int same_input, ffr_state *st, int B,
                              const ffr_trace **keep, ffr_err *err) {
    ffr_status rc = ffr_relaxer_set_opts(S->rx, o, err);
    if (rc) return rc;
    if (same_input) ffr_relaxer_same_input(S->rx);
    return ffr_relaxer_run(S->rx, S->X, B, st, keep, err);
}

/* The minibatch split (train_loop.h, doc/scaling.md). Row of an example:
 * layers 1..L of the free state, of the +beta state and (centered) of the
 * -beta state, then EP_STATS floats: the feedforward start's error (0/1),
 * ||s* - s_ff|| / ||s*||, and (sweeps, converged) of each phase. */
enum { EP_ST_FF, EP_ST_DIST, EP_ST_PHASE, EP_STATS = EP_ST_PHASE + 6 };

static int ep_phases(const ep_self *S) { return S->e->nudge == FFR_NUDGE_CENTERED ? 3 : 2; }
static size_t ep_row_floats(void *self, int stage) {
    (void)stage;
    ep_self *S = self;
    return (size_t)ep_phases(S) * S->nfree_units + EP_STATS;
}

/* layers 1..L of rows r of st <-> row (save: state to row) */
static void state_row(const ffr_net *net, ffr_state *st, int r, float *row, int save) {
    for (int k = 1; k <= net->L; k++) {
        float *s = st->s[k] + (size_t)r * net->n[k];
        if (save) memcpy(row, s, (size_t)net->n[k] * sizeof(float));
        else memcpy(s, row, (size_t)net->n[k] * sizeof(float));
        row += net->n[k];
    }
}

/* A phase's per-example sweeps and convergence into the rows' stats */
static void phase_stats(const ffr_trace *tr, int m, float *rows, size_t rowf, int phase) {
    for (int b = 0; b < m; b++) {
        float *st = rows + (size_t)b * rowf + (rowf - EP_STATS) + EP_ST_PHASE + 2 * phase;
        st[0] = (float)tr->sweeps[b];
        st[1] = tr->converged[b];
    }
}

/* The per-example half: the free and nudged relaxations of examples [r0, r1)
 * of the minibatch, one block of FFR_TRAIN_ROW_BLOCK examples at a time (the
 * same relaxer calls in one process and on any number of ranks). The random
 * sign (when drawn) comes from the run's rng once per minibatch, on every rank. */
static ffr_status ep_local(void *self, int stage, const size_t *idx, int B, int r0, int r1, float *rows,
                           double *sweeps, ffr_rng *rng, ffr_err *err) {
    (void)stage; (void)B;
    ep_self *S = self;
    const ffr_net *net = S->net;
    int L = net->L, n0 = net->n[0], nL = net->n[L], nph = ep_phases(S), U = S->nfree_units;
    size_t rowf = ep_row_floats(S, 0);
    if (!S->has_epoch) { S->has_epoch = 1; S->t_epoch = ffr_train_now(); }
    S->ba = S->e->beta; S->bb = 0;
    if (S->e->nudge == FFR_NUDGE_RANDOM_SIGN && (ffr_rng_u64(rng) >> 63)) S->ba = -S->ba;
    if (S->e->nudge == FFR_NUDGE_CENTERED) S->bb = -S->ba;
    if (r0 == r1) return FFR_OK;
    ffr_status rc = ffr_relaxer_update(S->rx, err); /* the optimizer changed the weights since the last batch */
    if (rc) return rc;
    int ffknown = S->e->start != FFR_EP_START_ZERO;
    for (int p = r0; p < r1; p += FFR_TRAIN_ROW_BLOCK) { /* the blocks of train_loop.h */
        int m = r1 - p < FFR_TRAIN_ROW_BLOCK ? r1 - p : FFR_TRAIN_ROW_BLOCK;
        const size_t *ix = idx + p;
        float *R = rows + (size_t)(p - r0) * rowf;
        for (int b = 0; b < m; b++) memcpy(S->X + (size_t)b * n0, S->x + ix[b] * n0, n0 * sizeof(float));
        ffr_ep_onehot(S->Y, S->y, ix, m, nL);
        ffr_state sf = view(S->sf, m), sp = view(S->sp, m), sm = view(S->sm, m);
        /* free phase: the start */
        if (ffknown) {
            ffr_feedforward(net, S->X, m, &sf); /* Eq. 17 */
            for (int b = 0; b < m; b++)
                R[(size_t)b * rowf + nph * U + EP_ST_FF] = ffr_ep_argmax(sf.s[L] + (size_t)b * nL, nL) != S->y[ix[b]];
        } else {
            memcpy(sf.s[0], S->X, (size_t)m * n0 * sizeof(float));
            for (int k = 1; k <= L; k++) memset(sf.s[k], 0, (size_t)m * net->n[k] * sizeof(float));
        }
        if (S->persist && S->persist_valid) /* epoch 1 starts from Eq. 17, later ones from the last free state */
            for (int b = 0; b < m; b++) persist_io(S, &sf, b, ix[b], 0);
        const ffr_trace *tr = NULL;
        if ((rc = relax_phase(S, &S->ofree, 0, &sf, m, &tr, err))) return rc;
        phase_stats(tr, m, R, rowf, 0);
        *sweeps += (double)tr->total_updates;
        for (int b = 0; b < m; b++) {
            R[(size_t)b * rowf + nph * U + EP_ST_DIST] = tr->norm[b] > 0 ? tr->dist[b] / tr->norm[b] : 0;
            state_row(net, &sf, b, R + (size_t)b * rowf, 1);
        }
        /* nudged phase(s) from the free fixed point */
        ffr_relax_opts on = S->onudge;
        on.nudge_target = S->Y;
        for (int ph = 1; ph < nph; ph++) {
            ffr_state *sn = ph == 1 ? &sp : &sm;
            copy_state(sn, &sf, net);
            on.beta = ph == 1 ? S->ba : S->bb;
            if ((rc = relax_phase(S, &on, 1, sn, m, &tr, err))) return rc;
            phase_stats(tr, m, R, rowf, ph);
            *sweeps += (double)tr->total_updates;
            for (int b = 0; b < m; b++) state_row(net, sn, b, R + (size_t)b * rowf + (size_t)ph * U, 1);
        }
    }
    return FFR_OK;
}

/* The reduction on all B rows (every rank): the epoch's measurements in
 * example order, the persistent states, and the EP gradient (ffr_ep_grad)
 * from the gathered states. */
static ffr_status ep_reduce(void *self, int stage, const size_t *idx, int B, const float *rows, int part, int nparts,
                            ffr_net *grad, double *loss, ffr_err *err) {
    (void)part; (void)nparts; /* no row-partitioned segments: the whole gradient */
    (void)stage; (void)err;
    ep_self *S = self;
    const ffr_net *net = S->net;
    int L = net->L, n0 = net->n[0], nL = net->n[L], nph = ep_phases(S), U = S->nfree_units;
    size_t rowf = ep_row_floats(S, 0);
    for (int b = 0; b < B; b++) memcpy(S->X + (size_t)b * n0, S->x + idx[b] * n0, n0 * sizeof(float));
    ffr_ep_onehot(S->Y, S->y, idx, B, nL);
    ffr_state sf = view(S->sf, B), sp = view(S->sp, B), sm = view(S->sm, B);
    ffr_state *st[3] = {&sf, &sp, &sm};
    for (int ph = 0; ph < nph; ph++) {
        memcpy(st[ph]->s[0], S->X, (size_t)B * n0 * sizeof(float)); /* the clamped input */
        for (int b = 0; b < B; b++) state_row(net, st[ph], b, (float *)rows + (size_t)b * rowf + (size_t)ph * U, 0);
    }
    int ffknown = S->e->start != FFR_EP_START_ZERO;
    for (int b = 0; b < B; b++) {
        const float *t = rows + (size_t)b * rowf + nph * U;
        if (ffknown) S->err_ff += t[EP_ST_FF];
        if (S->e->start == FFR_EP_START_FF) { S->dist += t[EP_ST_DIST]; S->ndist++; }
        S->err_rel += ffr_ep_argmax(sf.s[L] + (size_t)b * nL, nL) != S->y[idx[b]];
        if (S->persist) persist_io(S, &sf, b, idx[b], 1);
        ffr_ep_hist_add1(&S->hfree, (int)t[EP_ST_PHASE], t[EP_ST_PHASE + 1] != 0, S->ofree.max_sweeps);
        for (int ph = 1; ph < nph; ph++)
            ffr_ep_hist_add1(&S->hnudge, (int)t[EP_ST_PHASE + 2 * ph], t[EP_ST_PHASE + 2 * ph + 1] != 0,
                             S->onudge.max_sweeps);
    }
    if (ffknown) S->nff += B;
    double ba = S->ba, bb = S->bb;
    double l = ffr_ep_grad(net, &sp, ba, bb != 0 ? &sm : &sf, bb, &sf, S->Y, grad, S->work);
    for (int k = 1; k <= L; k++) /* per-layer learning rates as gradient scales (SGD) */
        if (S->gscale[k] != 1.0) {
            float a = (float)S->gscale[k];
            for (size_t i = 0; i < (size_t)net->n[k] * net->n[k - 1]; i++) grad->W[k][i] *= a;
            for (int j = 0; j < net->n[k]; j++) grad->b[k][j] *= a;
        }
    *loss = l;
    S->loss += l * B;
    S->ex += B;
    /* the end of an epoch on every rank (the progress report is rank 0's):
       the next epoch starts from the persistent states */
    if ((S->seen += (size_t)B) == S->n) { S->seen = 0; S->persist_valid = S->persist != NULL; }
    return FFR_OK;
}

static int ep_segments(void *self, int stage, ffr_train_seg *seg, int max) {
    (void)stage;
    ep_self *S = self;
    const ffr_net *net = S->net;
    int c = 0;
    for (int k = 1; k <= net->L && c + 4 <= max; k++) {
        seg[c++] = (ffr_train_seg){(size_t)(net->W[k] - net->params), (size_t)net->n[k] * net->n[k - 1], 1, 0};
        seg[c++] = (ffr_train_seg){(size_t)(net->b[k] - net->params), (size_t)net->n[k], 0, 0};
        if (net->rule == FFR_RULE_DENDRITIC && !net->tied && k >= 2) { /* Eq. 23 feedback */
            seg[c++] = (ffr_train_seg){(size_t)(net->V[k] - net->params), (size_t)net->n[k] * net->n[k - 1], 1, 0};
            seg[c++] = (ffr_train_seg){(size_t)(net->c[k - 1] - net->params), (size_t)net->n[k - 1], 0, 0};
        }
    }
    return c;
}

static size_t ep_extra_floats(void *self, int stage) {
    (void)stage;
    ep_self *S = self;
    return S->persist ? S->n * (size_t)S->nfree_units : 0;
}
static void ep_extra_save(void *self, int stage, float *dst) {
    (void)stage;
    ep_self *S = self;
    memcpy(dst, S->persist, ep_extra_floats(self, 0) * sizeof(float));
}
static ffr_status ep_extra_load(void *self, int stage, const float *src, size_t n, ffr_err *err) {
    (void)stage;
    ep_self *S = self;
    if (n != ep_extra_floats(self, 0))
        return ffr_fail(err, FFR_ERR_FORMAT, "checkpoint: persistent EP states: expected %zu floats, found %zu",
                        ep_extra_floats(self, 0), n);
    memcpy(S->persist, src, n * sizeof(float));
    S->persist_valid = 1; /* a checkpoint follows a whole epoch */
    return FFR_OK;
}

/* The loop's progress callback: the EP record of the epoch so far (and, at
 * its end, the test set) to the caller's callback. */
static int ep_progress(void *ctx, const ffr_train_progress *p) {
    ep_self *S = ctx;
    const ffr_ep_opts *e = S->e;
    ffr_ep_report r;
    memset(&r, 0, sizeof r);
    r.epoch = p->epoch; r.epochs = p->epochs; r.end_of_epoch = p->end_of_epoch;
    r.done = p->done; r.total = p->total;
    r.seconds = S->has_epoch ? ffr_train_now() - S->t_epoch : 0;
    r.seconds_total = p->seconds;
    r.loss = S->ex ? S->loss / S->ex : NAN;
    r.train_err_ff = S->nff ? S->err_ff / S->nff : NAN;
    r.train_err_relaxed = S->ex ? S->err_rel / S->ex : NAN;
    r.free_mean = ffr_ep_hist_mean(&S->hfree); r.free_p95 = ffr_ep_hist_pct(&S->hfree, 0.95);
    r.nudged_mean = ffr_ep_hist_mean(&S->hnudge); r.nudged_p95 = ffr_ep_hist_pct(&S->hnudge, 0.95);
    r.free_frac_max = S->hfree.n ? (double)S->hfree.at_max / S->hfree.n : NAN;
    r.nudged_frac_max = S->hnudge.n ? (double)S->hnudge.at_max / S->hnudge.n : NAN;
    r.dist_rel = S->ndist ? S->dist / S->ndist : NAN;
    r.test_err_ff = r.test_err_relaxed = r.test_sweeps_mean = NAN;
    int stop = 0;
    if (p->end_of_epoch && e->test_x && e->n_test) { /* ep_metrics measured it just before */
        r.test_err_ff = S->ev.err_ff; r.test_err_relaxed = S->ev.err_relaxed; r.test_sweeps_mean = S->ev.sweeps_mean;
    }
    if (e->progress) stop = e->progress(e->progress_ctx, &r);
    if (p->end_of_epoch) {
        ffr_ep_hist_clear(&S->hfree); ffr_ep_hist_clear(&S->hnudge);
        S->ex = S->err_ff = S->err_rel = S->nff = S->loss = S->dist = S->ndist = 0;
        S->has_epoch = 0;
    }
    return stop;
}

/* The loop's end-of-epoch measurement (every rank, before the report): the
 * test set, from the free phase's options and start, its relaxations shared
 * out over the ranks (ffr_ep_evaluate_comm: the one-process result). */
static ffr_status ep_metrics(void *self, int stage, const ffr_net *net, const ffr_train_opts *o,
                             ffr_train_metrics *m, ffr_err *err) {
    ep_self *S = self;
    const ffr_ep_opts *e = S->e;
    (void)stage; (void)o; (void)m;
    ffr_relax_opts ro = S->ofree;
    ro.init = e->start == FFR_EP_START_ZERO ? FFR_INIT_ZERO : FFR_INIT_FF;
    ffr_err e2;
    ffr_status rc = ffr_ep_evaluate_comm(net, e->test_x, e->test_y, e->n_test, &ro, &S->ev, S->comm, &e2);
    return rc ? ffr_fail(err, rc, "ep: test evaluation: %s", e2.msg) : FFR_OK;
}

static ffr_status check_ep(const ffr_net *net, const ffr_ep_opts *e, const ffr_train_opts *t, ffr_err *err) {
    if (net->rule == FFR_RULE_HOPFIELD && !net->tied)
        return ffr_fail(err, FFR_ERR_ARG, "ep: the hopfield rule needs tied weights");
    if (net->rule != FFR_RULE_HOPFIELD && net->rule != FFR_RULE_DENDRITIC)
        return ffr_fail(err, FFR_ERR_ARG, "ep: expected the hopfield or dendritic rule, found %s", ffr_rule_name(net->rule));
    if (!(e->beta > 0) || !isfinite(e->beta))
        return ffr_fail(err, FFR_ERR_ARG, "ep: beta: expected a finite number > 0, found %g", e->beta);
    if (net->rule == FFR_RULE_DENDRITIC && e->nudge != FFR_NUDGE_POSITIVE && !(net->alpha_up[net->L] > e->beta))
        return ffr_fail(err, FFR_ERR_ARG, "ep: beta %g: a negative nudge on the dendritic rule needs beta < alpha_up(L) = %g",
                        e->beta, net->alpha_up[net->L]);
    if ((unsigned)e->nudge > FFR_NUDGE_RANDOM_SIGN || (unsigned)e->start > FFR_EP_START_PERSISTENT)
        return ffr_fail(err, FFR_ERR_ARG, "ep: unknown nudge or start");
    if (e->fixed_free < 0 || e->fixed_nudged < 0 || (e->fixed_free > 0) != (e->fixed_nudged > 0))
        return ffr_fail(err, FFR_ERR_ARG, "ep: fixed sweeps: expected both F and N > 0, or neither");
    if (e->fixed_free == 0 && (e->relax.max_sweeps < 1 || !(e->relax.tol >= 0)))
        return ffr_fail(err, FFR_ERR_ARG, "ep: expected max_sweeps >= 1 and tol >= 0");
    for (int k = 1; k <= net->L; k++) {
        double lr = lr_of(net, e, k);
        if (!(e->lr[k] >= 0) || !isfinite(e->lr[k]))
            return ffr_fail(err, FFR_ERR_ARG, "ep: lr of layer %d: expected a finite value >= 0 (0: the default), found %g", k, e->lr[k]);
        if (!isfinite(lr)) return ffr_fail(err, FFR_ERR_ARG, "ep: lr of layer %d is not finite", k);
        if (t->optimizer == FFR_OPT_ADAM && lr != lr_of(net, e, 1))
            return ffr_fail(err, FFR_ERR_ARG, "ep: per-layer learning rates need --optimizer sgd (Adam's step does not "
                            "scale with the gradient): give one --lr");
    }
    if (e->test_x && (!e->test_y || !e->n_test)) return ffr_fail(err, FFR_ERR_ARG, "ep: test images without labels");
    return FFR_OK;
}

ffr_status ffr_train_ep(ffr_net *net, const float *x, const unsigned char *y, size_t n, const ffr_ep_opts *e,
                        const ffr_train_opts *t, int *stopped, ffr_err *err) {
    return ffr_train_ep_comm(net, x, y, n, e, t, NULL, stopped, err);
}

ffr_status ffr_train_ep_comm(ffr_net *net, const float *x, const unsigned char *y, size_t n, const ffr_ep_opts *e,
                             const ffr_train_opts *t, const struct ffr_comm *comm, int *stopped, ffr_err *err) {
    if (stopped) *stopped = 0;
    ffr_status rc;
    FFR_NEED(e, err);
    FFR_NEED(t, err);
    if ((rc = ffr_net_valid(net, __func__, err))) return rc;
    if (e->n_test && (!e->test_x || !e->test_y)) return ffr_fail(err, FFR_ERR_ARG, "ep: %zu test examples but no data (NULL)", e->n_test);
    if (!x || !y || n < 1 || n > (size_t)1 << 31) return ffr_fail(err, FFR_ERR_ARG, "ep: expected 1..2^31 examples with labels, found %zu", n);
    if ((rc = check_ep(net, e, t, err))) return rc;
    if ((rc = ffr_labels_check(y, n, n, net->n[net->L], "labels", err))) return rc;
    if (e->test_y && (rc = ffr_labels_check(e->test_y, e->n_test, e->n_test, net->n[net->L], "test labels", err))) return rc;
    if (t->batch < 1) return ffr_fail(err, FFR_ERR_ARG, "ep: batch: expected >= 1, found %d", t->batch);
    ep_self S;
    memset(&S, 0, sizeof S);
    S.net = net; S.x = x; S.y = y; S.n = n; S.e = e;
    S.t = *t;
    double lr1 = lr_of(net, e, 1);
    S.t.lr = lr1;
    for (int k = 1; k <= net->L; k++) S.gscale[k] = lr1 > 0 ? lr_of(net, e, k) / lr1 : 1.0;
    S.t.progress = ep_progress;
    S.t.progress_ctx = &S;
    S.t.progress_every = e->progress_every;
    /* the test set as the loop's held-out set: ep_metrics evaluates it on every rank */
    S.t.holdout = e->test_x && e->n_test ? e->test_x : NULL;
    S.t.n_holdout = S.t.holdout ? e->n_test : 0;
    S.comm = comm;
    S.ofree = e->relax;
    S.ofree.init = FFR_INIT_GIVEN;
    S.ofree.beta = 0; S.ofree.nudge_target = NULL; S.ofree.top_target = NULL;
    S.ofree.anderson = ffr_ep_anderson(net, e);
    if (e->fixed_free > 0) { S.ofree.tol = 0; S.ofree.max_sweeps = e->fixed_free; }
    S.onudge = S.ofree;
    if (e->fixed_nudged > 0) S.onudge.max_sweeps = e->fixed_nudged;
    S.Bmax = t->batch < (int)n ? t->batch : (int)n;
    int L = net->L;
    for (int k = 1; k <= L; k++) S.nfree_units += net->n[k];

    /* the fingerprint: every option that changes the run */
    uint64_t fp = FFR_TRAIN_FNV0;
    int rule = net->rule;
    fp = ffr_train_fnv(fp, &rule, sizeof rule);
    fp = ffr_train_fnv(fp, y, n);
    fp = ffr_train_fnv(fp, &e->beta, sizeof e->beta); fp = ffr_train_fnv(fp, &e->nudge, sizeof e->nudge);
    fp = ffr_train_fnv(fp, &e->start, sizeof e->start);
    fp = ffr_train_fnv(fp, S.gscale, sizeof S.gscale);
    fp = ffr_train_fnv(fp, &e->fixed_free, sizeof e->fixed_free); fp = ffr_train_fnv(fp, &e->fixed_nudged, sizeof e->fixed_nudged);
    fp = ffr_train_fnv(fp, &S.ofree.tol, sizeof S.ofree.tol); fp = ffr_train_fnv(fp, &S.ofree.tol_mode, sizeof S.ofree.tol_mode);
    fp = ffr_train_fnv(fp, &S.ofree.max_sweeps, sizeof S.ofree.max_sweeps);
    fp = ffr_train_fnv(fp, &S.ofree.anderson, sizeof S.ofree.anderson);
    fp = ffr_train_fnv(fp, &S.ofree.precision, sizeof S.ofree.precision);

    ffr_trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.method = FFR_TRAIN_EP; tr.name = "ep"; tr.nstages = 1; tr.greedy = 0;
    tr.x = x; tr.n = n; tr.dim = net->n[0]; tr.fp = fp; tr.has_sweeps = 1;
    tr.fp_what = "the labels, --beta, --nudge, --init, --lr, --fixed-sweeps, --tol, --tol-mode, --max-sweeps, --anderson, --precision"; tr.self = &S;
    tr.row_floats = ep_row_floats; tr.local = ep_local; tr.reduce = ep_reduce; tr.segments = ep_segments;
    tr.metrics = ep_metrics; /* called only with the test set (S.t.holdout) */
    if (e->start == FFR_EP_START_PERSISTENT) {
        tr.extra_floats = ep_extra_floats; tr.extra_save = ep_extra_save; tr.extra_load = ep_extra_load;
    }

    if ((rc = ffr_state_create(&S.sf, net, S.Bmax, err)) || (rc = ffr_state_create(&S.sp, net, S.Bmax, err)) ||
        (rc = ffr_state_create(&S.sm, net, S.Bmax, err)))
        goto done;
    if ((rc = ffr_relaxer_create(&S.rx, net, &S.ofree, S.Bmax, err))) goto done;
    if ((rc = ffr_ep_hist_init(&S.hfree, S.ofree.max_sweeps, err)) || (rc = ffr_ep_hist_init(&S.hnudge, S.onudge.max_sweeps, err)))
        goto done;
    S.X = ffr_calloc((size_t)S.Bmax, (size_t)net->n[0] * sizeof(float));
    S.Y = ffr_calloc((size_t)S.Bmax, (size_t)net->n[L] * sizeof(float));
    S.work = ffr_calloc(ffr_ep_work_floats(net, S.Bmax), sizeof(float));
    if (!S.X || !S.Y || !S.work) { rc = ffr_fail(err, FFR_ERR_NOMEM, "ep: out of memory"); goto done; }
    if (e->start == FFR_EP_START_PERSISTENT) {
        S.persist = ffr_calloc(n, (size_t)S.nfree_units * sizeof(float));
        if (!S.persist) { rc = ffr_fail(err, FFR_ERR_NOMEM, "ep: out of memory for %zu persistent states", n); goto done; }
    }
    rc = ffr_train_run_comm(&tr, net, &S.t, comm, stopped, err);
done:
    ffr_state_free(S.sf); ffr_state_free(S.sp); ffr_state_free(S.sm);
    ffr_relaxer_free(S.rx);
    ffr_ep_hist_free(&S.hfree); ffr_ep_hist_free(&S.hnudge);
    free(S.X); free(S.Y); free(S.work); free(S.persist);
    return rc;
}
