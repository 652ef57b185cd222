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
#include "comm.h"

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
    ffr_state *sh[2];      /* a rank's shards' states (sizes other than st's and st2's) */
    int shnext;            /* the slot of sh the next new size takes */
} den_run;

/* The state for nb rows: the minibatch's (st, st2) or a shard's (cached). */
static ffr_status den_state(den_run *s, int nb, ffr_state **out, ffr_err *err) {
    ffr_state *c[] = {s->st, s->st2, s->sh[0], s->sh[1]};
    for (int i = 0; i < 4; i++)
        if (c[i] && c[i]->B == nb) { *out = c[i]; return FFR_OK; }
    int slot = s->shnext;
    s->shnext ^= 1;
    ffr_state_free(s->sh[slot]);
    s->sh[slot] = NULL;
    ffr_status rc = ffr_state_create(&s->sh[slot], s->net, nb, err);
    *out = s->sh[slot];
    return rc;
}

/* The first layer of an example's row: 1 (s_0 is the example itself, clamped:
 * den_reduce copies it from the data), or 0 with a visible mask (free visible
 * units relax). */
static int den_k0(const den_run *s) { return s->relax.visible_mask ? 0 : 1; }

/* Floats of an example's row: its relaxed state s_k0..s_L. */
static size_t den_row_floats(void *self, int stage) {
    const den_run *s = self;
    size_t f = 0;
    (void)stage;
    for (int k = den_k0(s); k <= s->net->L; k++) f += (size_t)s->net->n[k];
    return f;
}

/* The per-example half: relax examples [r0, r1) of the minibatch from the
 * data (Eq. 17 -> Eq. 16) into rows, one block of FFR_TRAIN_ROW_BLOCK
 * examples at a time (train_loop.h: the same calls for any number of ranks). */
static ffr_status den_local(void *self, int stage, const size_t *idx, int B, int r0, int r1, float *rows,
                            double *sweeps, ffr_rng *rng, ffr_err *err) {
    den_run *s = self;
    const ffr_net *net = s->net;
    int n0 = net->n[0], nb = r1 - r0;
    size_t rowf = den_row_floats(s, stage);
    (void)B; (void)rng;
    ffr_status rc = FFR_OK;
    for (int b = 0; b < nb && !rc; b += FFR_TRAIN_ROW_BLOCK) { /* the blocks of train_loop.h */
        int m = nb - b < FFR_TRAIN_ROW_BLOCK ? nb - b : FFR_TRAIN_ROW_BLOCK;
        ffr_state *st;
        if ((rc = den_state(s, m, &st, err))) return rc;
        for (int r = 0; r < m; r++) memcpy(s->Xb + (size_t)r * n0, s->x + idx[r0 + b + r] * n0, n0 * sizeof(float));
        ffr_trace *tr = NULL;
        if (!(rc = ffr_relax(net, s->Xb, m, &s->relax, st, &tr, err))) {
            *sweeps += (double)tr->total_updates;
            for (int r = 0; r < m; r++) {
                float *row = rows + (size_t)(b + r) * rowf;
                for (int k = den_k0(s); k <= net->L; k++, row += net->n[k - 1])
                    memcpy(row, st->s[k] + (size_t)r * net->n[k], (size_t)net->n[k] * sizeof(float));
            }
        }
        ffr_trace_free(tr);
    }
    return rc;
}

/* The sums over the minibatch: the Eq. 23 gradient at the B relaxed states. */
static ffr_status den_reduce(void *self, int stage, const size_t *idx, int B, const float *rows, int part, int nparts,
                            ffr_net *grad, double *loss, ffr_err *err) {
    (void)part; (void)nparts; /* no row-partitioned segments: the whole gradient */
    den_run *s = self;
    const ffr_net *net = s->net;
    size_t rowf = den_row_floats(s, stage), n0 = (size_t)net->n[0];
    int k0 = den_k0(s);
    (void)err;
    ffr_state *st = B == s->st->B ? s->st : s->st2;
    for (int r = 0; r < B; r++) {
        const float *row = rows + (size_t)r * rowf;
        if (k0) memcpy(st->s[0] + (size_t)r * n0, s->x + idx[r] * n0, n0 * sizeof(float)); /* clamped: the data */
        for (int k = k0; k <= net->L; k++, row += net->n[k - 1])
            memcpy(st->s[k] + (size_t)r * net->n[k], row, (size_t)net->n[k] * sizeof(float));
    }
    *loss = eq23_grad(net, st, s->basal, s->f, s->g, s->R, grad, s->o->threads);
    return FFR_OK;
}

/* Every layer's branches: W_k (tied, or basal), b_k (basal), V_k (untied), c_{k-1}. */
static int den_segments(void *self, int stage, ffr_train_seg *seg, int max) {
    den_run *s = self;
    const ffr_net *net = s->net;
    int c = 0;
    (void)stage; (void)max;
    for (int k = 1; k <= net->L; k++) {
        size_t w = (size_t)net->n[k] * net->n[k - 1];
        if (net->tied || s->basal) seg[c++] = (ffr_train_seg){(size_t)(net->W[k] - net->params), w, 1, 0};
        if (s->basal) seg[c++] = (ffr_train_seg){(size_t)(net->b[k] - net->params), (size_t)net->n[k], 0, 0};
        if (!net->tied) seg[c++] = (ffr_train_seg){(size_t)(net->V[k] - net->params), w, 1, 0};
        seg[c++] = (ffr_train_seg){(size_t)(net->c[k - 1] - net->params), (size_t)net->n[k - 1], 0, 0};
    }
    return c;
}

ffr_status ffr_train_dendritic(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                               int *stopped, ffr_err *err) {
    return ffr_train_dendritic_comm(net, x, n, o, NULL, stopped, err);
}

ffr_status ffr_train_dendritic_comm(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                                    const struct ffr_comm *comm, int *stopped, ffr_err *err) {
    if (stopped) *stopped = 0;
    ffr_status vs = ffr_train_check_common(net, x, n, o, err);
    if (vs) return vs;
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
                     .has_sweeps = 1, .self = &s, .row_floats = den_row_floats, .local = den_local, .reduce = den_reduce,
                     .segments = den_segments};
    rc = ffr_train_run_comm(&t, net, o, comm, stopped, err);
done:
    ffr_state_free(s.st); ffr_state_free(s.st2); ffr_state_free(s.sh[0]); ffr_state_free(s.sh[1]);
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

ffr_status ffr_train_comm(ffr_train_method m, ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                          const ffr_comm *comm, int *stopped, ffr_err *err) {
    if (!comm || comm->size <= 1) return ffr_train(m, net, x, n, o, stopped, err);
    switch (m) {
    case FFR_TRAIN_SAE: return ffr_train_sae_comm(net, x, n, o, comm, stopped, err);
    case FFR_TRAIN_RBM: return ffr_train_rbm_comm(net, x, n, o, comm, stopped, err);
    case FFR_TRAIN_DENDRITIC: /* noise and random starts too: every block is the same ffr_relax call */
        return ffr_train_dendritic_comm(net, x, n, o, comm, stopped, err);
    default:
        return ffr_fail(err, FFR_ERR_UNSUPPORTED, "training method %s: no data-parallel training over %d processes yet "
                        "(doc/scaling.md); run it in one process", ffr_train_method_name(m), comm->size);
    }
}
