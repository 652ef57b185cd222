/* ep.c - the maths of equilibrium propagation (Scellier & Bengio 2017) on
 * ffrelax networks: label checks, the EP gradient from two relaxed states
 * (hopfield: the energy form; dendritic: the vector-field form of Scellier et
 * al. 2018, feedback tied or by Eq. 23), and the evaluation of a classifier
 * (feedforward pass vs relaxed free phase). The trainer that calls these on
 * the training loop is src/train_ep.c; doc/training.md states the signs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ep_internal.h"
#include "relax_internal.h"
#include "comm.h"

static const char *nudge_names[] = {"positive", "centered", "random-sign"};
static const char *start_names[] = {"ff", "zero", "persistent"};

const char *ffr_nudge_name(ffr_nudge m) { return (unsigned)m < 3 ? nudge_names[m] : "?"; }
const char *ffr_ep_start_name(ffr_ep_start s) { return (unsigned)s < 3 ? start_names[s] : "?"; }

int ffr_nudge_parse(const char *s, ffr_nudge *m) {
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, nudge_names[i])) { *m = (ffr_nudge)i; return 0; }
    return -1;
}

int ffr_ep_start_parse(const char *s, ffr_ep_start *st) {
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, start_names[i])) { *st = (ffr_ep_start)i; return 0; }
    return -1;
}

ffr_status ffr_labels_check(const unsigned char *y, size_t ny, size_t nx, int n_class, const char *what,
                            ffr_err *err) {
    if (!what) what = "labels";
    FFR_NEED(y, err);
    if (n_class < 1 || n_class > 256) return ffr_fail(err, FFR_ERR_ARG, "%s: classes: expected 1..256, found %d", what, n_class);
    if (ny != nx)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: label count: expected %zu (one per image), found %zu", what, nx, ny);
    for (size_t i = 0; i < ny; i++)
        if (y[i] >= n_class)
            return ffr_fail(err, FFR_ERR_FORMAT,
                            "%s: label %d of example %zu: expected 0..%d (the top layer has %d units)", what,
                            (int)y[i], i, n_class - 1, n_class);
    return FFR_OK;
}

void ffr_ep_onehot(float *T, const unsigned char *y, const size_t *idx, int B, int n) {
    memset(T, 0, (size_t)B * n * sizeof(float));
    for (int b = 0; b < B; b++) T[(size_t)b * n + y[idx ? idx[b] : (size_t)b]] = 1.f;
}

int ffr_ep_argmax(const float *v, int n) {
    int a = 0;
    for (int j = 1; j < n; j++)
        if (v[j] > v[a]) a = j;
    return a;
}

/* ------------------------------------------------------------ histogram */
ffr_status ffr_ep_hist_init(ffr_ep_hist *h, int max, ffr_err *err) {
    memset(h, 0, sizeof *h);
    h->max = max;
    h->count = ffr_calloc((size_t)max + 1, sizeof *h->count);
    return h->count ? FFR_OK : ffr_fail(err, FFR_ERR_NOMEM, "out of memory (sweep histogram)");
}
void ffr_ep_hist_clear(ffr_ep_hist *h) {
    memset(h->count, 0, ((size_t)h->max + 1) * sizeof *h->count);
    h->n = 0; h->sum = 0; h->at_max = 0; h->hi = 0;
}
void ffr_ep_hist_free(ffr_ep_hist *h) { free(h->count); h->count = NULL; }

/* Add one relaxation's per-example sweeps (a run that used all max sweeps
 * without reaching the tolerance counts as "at max"). */
void ffr_ep_hist_add1(ffr_ep_hist *h, int s, int converged, int max_sweeps) {
    h->count[s < h->max ? s : h->max]++;
    h->n++; h->sum += s;
    h->at_max += s >= max_sweeps && !converged;
    if (s > h->hi) h->hi = s;
}
void ffr_ep_hist_add(ffr_ep_hist *h, const ffr_trace *tr, int max_sweeps) {
    for (int b = 0; b < tr->B; b++) ffr_ep_hist_add1(h, tr->sweeps[b], tr->converged[b], max_sweeps);
}
double ffr_ep_hist_mean(const ffr_ep_hist *h) { return h->n ? (double)h->sum / h->n : NAN; }
double ffr_ep_hist_pct(const ffr_ep_hist *h, double q) {
    if (!h->n) return NAN;
    double need = q * h->n, c = 0;
    for (int s = 0; s <= h->max; s++) {
        c += h->count[s];
        if (c >= need) return s;
    }
    return h->max;
}

/* ------------------------------------------------------------- gradient */
size_t ffr_ep_work_floats(const ffr_net *net, int B) {
    size_t t = 0;
    if (ffr_net_valid(net, __func__, NULL) || B < 1) return 0;
    for (int k = 0; k <= net->L; k++) t += (size_t)B * net->n[k];
    return 4 * t;
}

/* rho of every layer of s into R (B, n_k) views of one block starting at p; returns the end. */
static float *rates_of(const ffr_net *net, const ffr_state *s, float *p, float **R) {
    for (int k = 0; k <= net->L; k++) {
        size_t m = (size_t)s->B * net->n[k];
        R[k] = p;
        for (size_t i = 0; i < m; i++) p[i] = ffr_rho_apply(net->rho, s->s[k][i]);
        p += m;
    }
    return p;
}

/* D = a - b, (B, n); sum over the batch of D into gb (scaled by alpha). */
static void diff_rows(float *D, const float *a, const float *b, int B, int n, float alpha, float *gb) {
    memset(gb, 0, (size_t)n * sizeof(float));
    for (int r = 0; r < B; r++)
        for (int j = 0; j < n; j++) {
            size_t i = (size_t)r * n + j;
            D[i] = a[i] - b[i];
            gb[j] += alpha * D[i];
        }
}

double ffr_ep_grad(const ffr_net *net, const ffr_state *sa, double beta_a, const ffr_state *sb, double beta_b,
                   const ffr_state *s0, const float *y, ffr_net *g, float *work) {
    int L = net->L, B = sa->B;
    float c = (float)(1.0 / ((beta_a - beta_b) * B));
    float *Ra[FFR_MAX_LAYERS], *Rb[FFR_MAX_LAYERS], *R0[FFR_MAX_LAYERS];
    float *D = work, *p = work;
    size_t tot = 0;
    for (int k = 0; k <= L; k++) tot += (size_t)B * net->n[k];
    p += tot; /* D: one layer's difference (or the Eq. 23 error) at a time */
    if (net->rule == FFR_RULE_HOPFIELD) {
        /* Eq. 3: dE/dW_k = -rho(s_k) rho(s_{k-1})^T, dE/db_k = -rho(s_k);
         * gradient ~ (1/(beta_a - beta_b)) (dE/dtheta(sa) - dE/dtheta(sb)) */
        p = rates_of(net, sa, p, Ra);
        rates_of(net, sb, p, Rb);
        for (int k = 1; k <= L; k++) {
            int no = net->n[k], ni = net->n[k - 1];
            diff_rows(D, Ra[k], Rb[k], B, no, -c, g->b[k]);
            if (!memcmp(Ra[k - 1], Rb[k - 1], (size_t)B * ni * sizeof(float))) /* clamped input: one product */
                ffr_gemm(1, 0, no, ni, B, -c, D, no, Ra[k - 1], ni, 0.f, g->W[k], ni);
            else {
                ffr_gemm(1, 0, no, ni, B, -c, Ra[k], no, Ra[k - 1], ni, 0.f, g->W[k], ni);
                ffr_gemm(1, 0, no, ni, B, c, Rb[k], no, Rb[k - 1], ni, 1.f, g->W[k], ni);
            }
        }
    } else {
        /* vector-field EP: dF_k/dW_k = (a_k/kappa_k) rho(s_{k-1}) at the free state s0 */
        p = rates_of(net, s0, p, R0);
        for (int k = 1; k <= L; k++) {
            int no = net->n[k], ni = net->n[k - 1];
            double kappa = net->alpha_up[k] + (k < L ? net->alpha_down[k] : 0.0);
            float ck = (float)(c * net->alpha_up[k] / kappa);
            diff_rows(D, sa->s[k], sb->s[k], B, no, -ck, g->b[k]);
            ffr_gemm(1, 0, no, ni, B, -ck, D, no, R0[k - 1], ni, 0.f, g->W[k], ni);
        }
        if (!net->tied) /* feedback V_k (k >= 2) by Eq. 23 at s0: predict s_{k-1} from rho(s_k) */
            for (int k = 2; k <= L; k++) {
                int no = net->n[k], ni = net->n[k - 1];
                float a = -1.f / B;
                ffr_gemm(0, 1, B, ni, no, 1.f, R0[k], no, net->V[k], no, 0.f, D, ni); /* V_k rho(s_k) */
                memset(g->c[k - 1], 0, (size_t)ni * sizeof(float));
                for (int r = 0; r < B; r++)
                    for (int j = 0; j < ni; j++) {
                        size_t i = (size_t)r * ni + j;
                        D[i] = s0->s[k - 1][i] - (D[i] + net->c[k - 1][j]);
                        g->c[k - 1][j] += a * D[i];
                    }
                ffr_gemm(1, 0, ni, no, B, a, D, ni, R0[k], no, 0.f, g->V[k], no);
            }
    }
    if (!s0 || !y) return 0;
    double l = 0;
    int nL = net->n[L];
    for (size_t i = 0; i < (size_t)B * nL; i++) {
        double e = (double)s0->s[L][i] - y[i];
        l += e * e;
    }
    return 0.5 * l / B;
}

/* ----------------------------------------------------------- evaluation */
#define EVAL_CHUNK FFR_RELAX_CHUNK
/* Per example (EV_ROW floats): the feedforward pass's error (0/1), the
 * relaxed state's, sweeps, converged (0/1), ||s* - s_ff|| / ||s*||. */
enum { EV_FF, EV_REL, EV_SWEEPS, EV_CONV, EV_DIST, EV_ROW };

/* The chunks of examples [c0, c1) of chunk starts[] relaxed on rx (capacity
 * EVAL_CHUNK) into their rows (rows[0] is starts[c0]'s). */
static ffr_status eval_chunks(const ffr_net *net, const float *x, const unsigned char *y, const int *starts, int c0,
                              int c1, ffr_relaxer *rx, ffr_state *st, int ffstart, float *rows, ffr_err *err) {
    int L = net->L, nL = net->n[L], n0 = net->n[0];
    for (int c = c0; c < c1; c++) {
        int b0 = starts[c], B = starts[c + 1] - b0;
        float *R = rows + (size_t)(b0 - starts[c0]) * EV_ROW;
        ffr_state v = *st;
        v.B = B;
        const float *X = x + (size_t)b0 * n0;
        ffr_feedforward(net, X, B, &v);
        for (int b = 0; b < B; b++) R[(size_t)b * EV_ROW + EV_FF] = ffr_ep_argmax(v.s[L] + (size_t)b * nL, nL) != y[b0 + b];
        const ffr_trace *tr = NULL;
        ffr_status rc = ffr_relaxer_run(rx, X, B, &v, &tr, err);
        if (rc) return rc;
        for (int b = 0; b < B; b++) {
            float *r = R + (size_t)b * EV_ROW;
            r[EV_REL] = ffr_ep_argmax(v.s[L] + (size_t)b * nL, nL) != y[b0 + b];
            r[EV_SWEEPS] = (float)tr->sweeps[b];
            r[EV_CONV] = tr->converged[b];
            r[EV_DIST] = ffstart && tr->norm[b] > 0 ? tr->dist[b] / tr->norm[b] : 0;
        }
    }
    return FFR_OK;
}

ffr_status ffr_ep_evaluate(const ffr_net *net, const float *x, const unsigned char *y, size_t n,
                           const ffr_relax_opts *o, ffr_ep_eval *r, ffr_err *err) {
    return ffr_ep_evaluate_comm(net, x, y, n, o, r, NULL, err);
}

ffr_status ffr_ep_evaluate_comm(const ffr_net *net, const float *x, const unsigned char *y, size_t n,
                                const ffr_relax_opts *o, ffr_ep_eval *r, const ffr_comm *comm, ffr_err *err) {
    FFR_NEED(r, err);
    memset(r, 0, sizeof *r);
    FFR_NEED(x, err);
    FFR_NEED(o, err);
    ffr_status vs = ffr_net_valid(net, __func__, err);
    if (vs) return vs;
    r->n = n;
    if (!n) return ffr_fail(err, FFR_ERR_ARG, "evaluate: no examples");
    if (n > (size_t)1 << 30) return ffr_fail(err, FFR_ERR_ARG, "evaluate: at most 2^30 examples, found %zu", n);
    ffr_status rc = ffr_labels_check(y, n, n, net->n[net->L], "labels", err);
    if (rc) return rc;
    int P = comm ? comm->size : 1, me = comm ? comm->rank : 0;
    int nc = n < EVAL_CHUNK ? (int)n : EVAL_CHUNK;
    ffr_state *st = NULL;
    ffr_relaxer *rx = NULL;
    ffr_ep_hist h;
    ffr_relax_opts ro = *o;
    int ffstart = o->init == FFR_INIT_FF;
    if (ffstart) ro.init = FFR_INIT_GIVEN; /* the state already holds Eq. 17 */
    double t0 = ffr_train_now();
    /* the chunks of one process (never a last chunk of one row), dealt out to
       the ranks in contiguous runs (as ffr_relax_comm): every chunk is the same
       relaxer call wherever it runs, and the sums below run over all n rows
       in example order on every rank */
    int nchunks = 0, *starts = ffr_malloc(((size_t)n + 1) * sizeof(int));
    float *rows = ffr_malloc(n * EV_ROW * sizeof(float));
    size_t *sz = ffr_malloc(2 * (size_t)P * sizeof(size_t));
    memset(&h, 0, sizeof h);
    if (!starts || !rows || !sz) rc = ffr_fail(err, FFR_ERR_NOMEM, "evaluate: out of memory for %zu examples", n);
    if (!rc) rc = ffr_ep_hist_init(&h, o->max_sweeps, err);
    if (!rc) rc = ffr_state_create(&st, net, nc, err);
    if (!rc) rc = ffr_relaxer_create(&rx, net, &ro, nc, err);
    size_t c0 = 0, c1 = 0;
    if (!rc) {
        for (int b0 = 0, B = 0; b0 < (int)n; b0 += B) {
            B = ffr_relax_chunk_len((int)n, b0, nc);
            starts[nchunks++] = b0;
        }
        starts[nchunks] = (int)n;
        c1 = (size_t)nchunks;
        if (P > 1) ffr_comm_shard((size_t)nchunks, 1, me, P, &c0, &c1);
        if (c0 < c1)
            rc = eval_chunks(net, x, y, starts, (int)c0, (int)c1, rx, st, ffstart, rows + (size_t)starts[c0] * EV_ROW, err);
    }
    if (P > 1) {
        if ((rc = ffr_comm_agree(comm, rc, err))) goto done;
        for (int p = 0; p < P; p++) {
            size_t a, b;
            ffr_comm_shard((size_t)nchunks, 1, p, P, &a, &b);
            sz[p] = (size_t)(starts[b] - starts[a]) * EV_ROW * sizeof(float);
            sz[P + p] = (size_t)starts[a] * EV_ROW * sizeof(float);
        }
        if (comm->allgatherv(comm->ctx, (char *)rows + sz[P + me], rows, sz, sz + P)) {
            rc = ffr_fail(err, FFR_ERR_IO, "evaluate: rank %d: a collective failed", me);
            goto done;
        }
    }
    if (!rc) {
        double eff = 0, erel = 0, conv = 0, dist = 0;
        for (size_t i = 0; i < n; i++) {
            const float *e = rows + i * EV_ROW;
            eff += e[EV_FF];
            erel += e[EV_REL];
            conv += o->tol > 0 ? e[EV_CONV] : 1;
            if (ffstart) dist += e[EV_DIST];
            ffr_ep_hist_add1(&h, (int)e[EV_SWEEPS], e[EV_CONV] != 0, o->max_sweeps);
        }
        r->err_ff = eff / n; r->err_relaxed = erel / n;
        r->sweeps_mean = ffr_ep_hist_mean(&h); r->sweeps_p95 = ffr_ep_hist_pct(&h, 0.95); r->sweeps_max = h.hi;
        r->frac_converged = conv / n;
        r->frac_max = o->tol > 0 ? (double)h.at_max / n : 1.0;
        r->dist_rel = ffstart ? dist / n : NAN;
        r->seconds = ffr_train_now() - t0;
    }
done:
    ffr_relaxer_free(rx);
    ffr_state_free(st);
    ffr_ep_hist_free(&h);
    free(starts); free(rows); free(sz);
    return rc;
}
