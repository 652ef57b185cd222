/* relax_measure.c - what the relaxation measures (doc/math.md,
 * "Measurements", "Energies"): the energy (Eq. 3 and its dendritic and
 * mean-field forms), the residual ||F(s) - s||, the branch disagreement
 * (Eq. 18) and the mutual-prediction errors (Eq. 22) from one evaluation of
 * every branch; and the trace that records them with the per-sweep and
 * per-example steps. The trace belongs to the relaxer: its per-example arrays
 * hold max_batch entries and its per-sweep rows grow geometrically only when
 * a run needs more sweeps than any before. */
#include <math.h>
#include <string.h>
#include "relax_internal.h"

/* ---- energies */

/* Per-example energy (doc/math.md, "Energies") from states S, rates R and the
 * bottom-up branches f (f[k] - b_k = W_k r_{k-1}) of M rows. Returns -1 if the
 * network has no energy (untied). nbeta != 0: plus the nudging term of example
 * perm[r] with target Y (B, n_L): beta C = beta/2 ||y - r_L||^2 (hopfield,
 * boltzmann), or the extra branch's sig_L beta (phi(r_L) - y.r_L + 1/2 ||y||^2)
 * (dendritic). */
int ffr_relax_energy_rows(const ffr_net *net, float *const *S, float *const *R, float *const *f, int M, double *E,
                          double nbeta, const float *Y, const int *perm) {
    if (!net->tied) return -1;
    int L = net->L;
    double sig[FFR_MAX_LAYERS], au[FFR_MAX_LAYERS], ad[FFR_MAX_LAYERS], kap[FFR_MAX_LAYERS];
    for (int k = 0; k <= L; k++) {
        ffr_rule_gains(net, k, &au[k], &ad[k], &kap[k]);
        sig[k] = k == 0 ? 1.0 : sig[k - 1] * (net->rule == FFR_RULE_DENDRITIC ? net->alpha_down[k - 1] / net->alpha_up[k] : 1.0);
    }
    /* hopfield (Eq. 3): 1/2 s^2 for the hard sigmoid and the identity; the
     * logistic hopfield unit's state is its rate, with the entropy potential */
    int quad = net->rule == FFR_RULE_HOPFIELD && net->rho != FFR_RHO_SIGMOID;
    for (int r = 0; r < M; r++) {
        double e = 0;
        for (int k = 0; k <= L; k++) {
            int n = net->n[k];
            const float *rr = R[k] + (size_t)r * n, *ss = S[k] + (size_t)r * n;
            double pot = 0, lin = 0, cpl = 0;
            for (int j = 0; j < n; j++) {
                if (quad) pot += 0.5 * (double)ss[j] * ss[j]; /* Eq. 3 */
                else pot += ffr_rule_phi(net->rule, net->rho, rr[j]);
                double bk = (k >= 1 ? au[k] * net->b[k][j] : 0) + (k < L ? ad[k] * net->c[k][j] : 0);
                lin += bk * rr[j];
                if (k >= 1) cpl += (double)rr[j] * (f[k][(size_t)r * n + j] - net->b[k][j]);
            }
            e += sig[k] * (kap[k] * pot - lin) - (k >= 1 ? sig[k] * au[k] * cpl : 0);
        }
        if (nbeta != 0) {
            int n = net->n[L];
            const float *y = Y + (size_t)perm[r] * n, *rr = R[L] + (size_t)r * n;
            double c = 0;
            for (int j = 0; j < n; j++) {
                if (net->rule == FFR_RULE_DENDRITIC)
                    c += ffr_rule_phi(net->rule, net->rho, rr[j]) - (double)y[j] * rr[j] + 0.5 * (double)y[j] * y[j];
                else c += 0.5 * ((double)y[j] - rr[j]) * ((double)y[j] - rr[j]);
            }
            e += (net->rule == FFR_RULE_DENDRITIC ? sig[L] : 1.0) * nbeta * c;
        }
        E[r] = e;
    }
    return 0;
}

int ffr_energy(const ffr_net *net, const ffr_state *st, double *E) {
    if (!E || ffr_net_valid(net, __func__, NULL) || ffr_state_fits(net, st, 1, __func__, NULL)) return -3;
    if (!net->tied) return -1;
    float *R[FFR_MAX_LAYERS], *f[FFR_MAX_LAYERS];
    float *rb = ffr_layers_alloc(net, st->B, R, 1), *fb = ffr_layers_alloc(net, st->B, f, 1);
    if (!rb || !fb) { free(rb); free(fb); return -2; }
    for (int k = 0; k <= net->L; k++)
        for (size_t i = 0; i < (size_t)st->B * net->n[k]; i++) R[k][i] = ffr_rule_rate(net->rule, net->rho, st->s[k][i]);
    for (int k = 1; k <= net->L; k++) {
        ffr_relax_gemm_up(net, NULL, 0, k, st->B, 1.f, R[k - 1], 0.f, f[k]);
        for (int r = 0; r < st->B; r++)
            for (int j = 0; j < net->n[k]; j++) f[k][(size_t)r * net->n[k] + j] += net->b[k][j];
    }
    int rc = ffr_relax_energy_rows(net, st->s, R, f, st->B, E, 0, NULL, NULL);
    free(rb); free(fb);
    return rc;
}

/* ---- measurements */

/* Measure all B rows (active and stopped) at the current state: energy,
 * residual, disagreement, Eq. 22 errors. Writes row `t` of the trace; when
 * final != 0 also the per-example residual. Evaluated in chunks of at most
 * FFR_MEASURE_ROWS rows (never a chunk of one row out of several, which would
 * take the sgemv path and round differently). */
void ffr_relax_measure(ffr_ws *w, ffr_state *st, int t, int final) {
    ffr_trace *tr = w->tr;
    const ffr_net *net = w->net;
    int B = w->B, L = w->L, Lp = L + 1;
    for (int k = 1; k <= L; k++) w->flops += 4.0 * B * net->n[k] * net->n[k - 1];
    double *E = w->meas;
    int has_e = 0;
    double esum = 0, rsum = 0;
    double dis[FFR_MAX_LAYERS] = {0}, mu[FFR_MAX_LAYERS] = {0}, md[FFR_MAX_LAYERS] = {0};
    for (int r0 = 0; r0 < B;) {
        int m = B - r0 < FFR_MEASURE_ROWS ? B - r0 : FFR_MEASURE_ROWS;
        if (B - r0 - m == 1) m--;
        float *Rc[FFR_MAX_LAYERS], *Sc[FFR_MAX_LAYERS];
        for (int k = 0; k <= L; k++) {
            Rc[k] = w->R[k] + (size_t)r0 * net->n[k];
            Sc[k] = st->s[k] + (size_t)r0 * net->n[k];
        }
        ffr_relax_eval_branches(net, &w->pk, w->nt, &w->cf, Rc, m, w->mf, w->mg, w->T); /* F into T: free between sweeps */
        if (w->beta != 0) /* the nudged top layer's F_L (doc/math.md, "Nudging") */
            for (int r = 0; r < m; r++) {
                int n = net->n[L];
                const float *y = w->ytop + (size_t)w->perm[r0 + r] * n;
                float *Fr = w->T[L] + (size_t)r * n, *fr = w->mf[L] + (size_t)r * n, *rr = Rc[L] + (size_t)r * n;
                for (int j = 0; j < n; j++)
                    Fr[j] = ffr_rule_F_nudged(net->rule, net->rho, w->cf.cu[L] * fr[j], net->alpha_up[L], (float)w->beta, y[j], rr[j]);
            }
        has_e = ffr_relax_energy_rows(net, Sc, Rc, w->mf, m, E + r0, w->beta, w->ytop, w->perm + r0) == 0;
        for (int r = r0; r < r0 + m; r++) {
            double res = 0;
            for (int k = 0; k <= L; k++) {
                int n = net->n[k];
                size_t o = (size_t)(r - r0) * n, os = (size_t)r * n;
                double dk = 0, uk = 0, dd = 0;
                for (int j = 0; j < n; j++) {
                    float s = st->s[k][os + j];
                    if (ffr_unit_free(w, k, j)) { double e = w->T[k][o + j] - s; res += e * e; }
                    if (k >= 1) { double e = s - w->mf[k][o + j]; uk += e * e; }
                    if (k < L) { double e = s - w->mg[k][o + j]; dd += e * e; }
                    if (k >= 1 && k < L) { double e = w->mf[k][o + j] - w->mg[k][o + j]; dk += e * e; }
                }
                dis[k] += sqrt(dk); mu[k] += uk; md[k] += dd;
            }
            rsum += sqrt(res);
            if (has_e) esum += E[r];
            if (final) tr->residual[w->perm[r]] = (float)sqrt(res);
        }
        r0 += m;
    }
    tr->measured[t] = 1;
    tr->energy_mean[t] = has_e ? esum / B : NAN;
    tr->residual_mean[t] = rsum / B;
    for (int k = 0; k <= L; k++) {
        tr->disagree[(size_t)t * Lp + k] = (k >= 1 && k < L) ? dis[k] / B : NAN;
        tr->mpe_up[(size_t)t * Lp + k] = k >= 1 ? mu[k] / B : NAN;
        tr->mpe_down[(size_t)t * Lp + k] = k < L ? md[k] / B : NAN;
    }
}


/* ---- the trace */

void ffr_trace_free(ffr_trace *t) {
    if (!t) return;
    free(t->step_mean); free(t->step_median); free(t->step_max); free(t->rstep_mean);
    free(t->relstep_median); free(t->n_active); free(t->frac_converged); free(t->measured);
    free(t->energy_mean); free(t->residual_mean); free(t->disagree); free(t->mpe_up);
    free(t->mpe_down); free(t->step); free(t->sweeps); free(t->converged); free(t->dist);
    free(t->norm); free(t->residual); free(t->rate);
    free(t);
}

/* Grow (or make) t's per-sweep arrays to rows rows (Lp = L + 1 entries per
 * layer row, Bm examples per step row); 0 if out of memory (the arrays that
 * did grow stay valid). */
static int trace_grow(ffr_trace *t, size_t R, size_t Lp, size_t Bm) {
    size_t sz;
#define GROW(field, count, type) \
    do { \
        if (!ffr_mul_ok((count), sizeof(type), &sz)) return 0; \
        void *p_ = ffr_realloc(t->field, sz); \
        if (!p_) return 0; \
        t->field = p_; \
    } while (0)
    GROW(step_mean, R, double); GROW(step_median, R, double); GROW(step_max, R, double);
    GROW(rstep_mean, R, double); GROW(relstep_median, R, double); GROW(n_active, R, int);
    GROW(frac_converged, R, double); GROW(measured, R, int); GROW(energy_mean, R, double);
    GROW(residual_mean, R, double); GROW(disagree, R * Lp, double); GROW(mpe_up, R * Lp, double);
    GROW(mpe_down, R * Lp, double); GROW(step, R * Bm, float);
#undef GROW
    return 1;
}
static int trace_rows(ffr_ws *w, int rows) {
    if (!trace_grow(w->tr, (size_t)rows, (size_t)w->L + 1, (size_t)w->maxB)) return 0;
    w->tr_rows = rows;
    return 1;
}

/* A trace with its per-example arrays for Bm examples, no per-sweep rows yet. */
static ffr_trace *trace_new(size_t Bm) {
    ffr_trace *t = ffr_calloc(1, sizeof *t);
    if (!t) return NULL;
    int ok = (t->sweeps = ffr_calloc(Bm, sizeof(int))) && (t->converged = ffr_calloc(Bm, 1)) &&
             (t->dist = ffr_calloc(Bm, sizeof(float))) && (t->norm = ffr_calloc(Bm, sizeof(float))) &&
             (t->residual = ffr_calloc(Bm, sizeof(float))) && (t->rate = ffr_calloc(Bm, sizeof(float)));
    if (!ok) { ffr_trace_free(t); return NULL; }
    return t;
}

/* At least rows per-sweep rows (before a run); FFR_OK or FFR_ERR_NOMEM. */
ffr_status ffr_trace_reserve_rows(ffr_ws *w, int rows) {
    return rows <= w->tr_rows || trace_rows(w, rows) ? FFR_OK : FFR_ERR_NOMEM;
}

/* The trace with room for rows per-sweep rows and max_batch examples. */
ffr_status ffr_trace_make(ffr_ws *w, int rows) {
    w->tr = trace_new((size_t)w->maxB);
    return w->tr && trace_rows(w, rows) ? FFR_OK : FFR_ERR_NOMEM;
}

/* Room for row t: the rows double (up to max_sweeps + 1) when a run needs
 * more sweeps than any before. */
ffr_status ffr_trace_reserve(ffr_ws *w, int t, ffr_err *err) {
    if (t < w->tr_rows) return FFR_OK;
    long want = 2L * w->tr_rows, cap = (long)w->o.max_sweeps + 1;
    if (want < t + 1) want = t + 1;
    if (want > cap) want = cap;
    if (!trace_rows(w, (int)want))
        return ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the trace of sweep %d (%d examples)", t, w->maxB);
    return FFR_OK;
}

/* Row t as a fresh trace has it: steps 0, nothing measured (NaN), every
 * example's step NaN. */
void ffr_trace_row_reset(ffr_ws *w, int t) {
    ffr_trace *tr = w->tr;
    int Lp = w->L + 1;
    tr->step_mean[t] = tr->step_median[t] = tr->step_max[t] = tr->rstep_mean[t] = tr->relstep_median[t] = 0;
    tr->n_active[t] = 0; tr->frac_converged[t] = 0; tr->measured[t] = 0;
    tr->energy_mean[t] = tr->residual_mean[t] = NAN;
    for (int k = 0; k < Lp; k++)
        tr->disagree[(size_t)t * Lp + k] = tr->mpe_up[(size_t)t * Lp + k] = tr->mpe_down[(size_t)t * Lp + k] = NAN;
    for (int b = 0; b < w->B; b++) tr->step[(size_t)t * w->B + b] = NAN;
}

/* A run of w->B examples begins: the per-example entries and row 0. */
void ffr_trace_begin(ffr_ws *w) {
    ffr_trace *tr = w->tr;
    int B = w->B;
    tr->B = B; tr->L = w->L; tr->T = 0; tr->max_sweeps = w->o.max_sweeps;
    memset(tr->sweeps, 0, (size_t)B * sizeof(int));
    memset(tr->converged, 0, (size_t)B);
    for (int b = 0; b < B; b++) tr->dist[b] = tr->norm[b] = tr->residual[b] = tr->rate[b] = 0;
    tr->rate_median = 0; tr->total_updates = 0; tr->flops = 0;
    tr->status = FFR_OK; tr->diag[0] = 0;
    ffr_trace_row_reset(w, 0);
}

/* Sweep t's per-example steps (voltage, rate, relative) of the active rows and
 * their mean, median and max; returns the sum of the steps (non-finite if
 * a step is). */
double ffr_trace_sweep_stats(ffr_ws *w, int t) {
    ffr_trace *tr = w->tr;
    int nact = w->nact, B = w->B;
    double sum = 0, rsum = 0, mx = 0;
    for (int r = 0; r < nact; r++) {
        double s = sqrt(w->step2[r]);
        tr->step[(size_t)t * B + w->perm[r]] = (float)s;
        tr->sweeps[w->perm[r]] = t;
        sum += s; rsum += sqrt(w->rstep2[r]); mx = s > mx ? s : mx;
        w->scratch[r] = s;
    }
    tr->step_mean[t] = sum / nact; tr->rstep_mean[t] = rsum / nact; tr->step_max[t] = mx;
    tr->n_active[t] = nact;
    tr->step_median[t] = ffr_median(w->scratch, (size_t)nact);
    for (int r = 0; r < nact; r++) {
        double nrm = sqrt(w->norm2[r]);
        w->scratch[r] = nrm > 0 ? sqrt(w->step2[r]) / nrm : (w->step2[r] > 0 ? INFINITY : 0);
    }
    tr->relstep_median[t] = ffr_median(w->scratch, (size_t)nact);
    return sum;
}

/* The contraction factor per example: exp(slope) of log step against t over
 * sweeps 2.. with step > 1e-5 ||s_free||, at least 3 points; and its median. */
static void fit_rates(ffr_ws *w) {
    ffr_trace *tr = w->tr;
    int B = tr->B, nfit = 0;
    double *rs = w->scratch;
    for (int b = 0; b < B; b++) {
        double sx = 0, sy = 0, sxx = 0, sxy = 0; int m = 0;
        double floor_ = 1e-5 * tr->norm[b];
        for (int t = 2; t <= tr->sweeps[b]; t++) {
            double s = tr->step[(size_t)t * B + b];
            if (!(s > floor_) || !(s > 0)) continue;
            double y = log(s);
            sx += t; sy += y; sxx += (double)t * t; sxy += t * y; m++;
        }
        double den = m * sxx - sx * sx;
        if (m >= 3 && den > 0) { tr->rate[b] = (float)exp((m * sxy - sx * sy) / den); rs[nfit++] = tr->rate[b]; }
        else tr->rate[b] = NAN;
    }
    tr->rate_median = nfit ? ffr_median(rs, (size_t)nfit) : NAN;
}

/* The end of a run (state rows back in the caller's order): each example's
 * distance from its start S0 (caller's order) and norm over the free units,
 * rates, totals. */
void ffr_trace_finish(ffr_ws *w, ffr_state *st, float *const *S0) {
    const ffr_net *net = w->net;
    ffr_trace *tr = w->tr;
    long tot = 0;
    for (int b = 0; b < w->B; b++) tot += tr->sweeps[b];
    tr->total_updates = tot;
    tr->flops = w->flops;
    for (int b = 0; b < w->B; b++) {
        double d = 0, nn = 0;
        for (int k = 0; k <= w->L; k++)
            for (int j = 0; j < net->n[k]; j++) {
                if (!ffr_unit_free(w, k, j)) continue;
                size_t i = (size_t)b * net->n[k] + j;
                double e = (double)st->s[k][i] - S0[k][i];
                d += e * e; nn += (double)st->s[k][i] * st->s[k][i];
            }
        tr->dist[b] = (float)sqrt(d); tr->norm[b] = (float)sqrt(nn);
    }
    fit_rates(w);
}

/* ---- one trace from the chunks of a chunked run (ffr_relax, relax.c)
 *
 * The chunks' per-example entries are copied to their rows (bit for bit what
 * one run of all the examples gives: the examples do not interact). Per-sweep
 * rows combine the chunks': counts add up; means are the chunks' means
 * weighted by their examples (equal to one run's up to rounding); step_median
 * is recomputed from the per-example steps (as floats); relstep_median is the
 * chunks' medians weighted by their active examples (an approximation). A
 * chunk that stopped at sweep T_c < t takes part in row t with its final row:
 * its examples no longer move, so their state at t is their state at T_c. */
struct ffr_trace_merge {
    ffr_trace *m;            /* the merged trace (rows 0..T, T = -1 before the first chunk) */
    int rows;                /* rows allocated */
    int chunks;              /* chunks merged */
    int *cnt;                /* (rows) chunks that had a measurement for row t */
    double tail_frac;        /* sum over merged chunks of frac_converged[T_c] * B_c */
    double tail_meas[2 + 3 * FFR_MAX_LAYERS]; /* the same for their final measured values */
    int tail_cnt;            /* merged chunks whose final row was measured */
};

ffr_trace_merge *ffr_trace_merge_new(int B, int L, int max_sweeps) {
    ffr_trace_merge *g = ffr_calloc(1, sizeof *g);
    if (!g) return NULL;
    if (!(g->m = trace_new((size_t)B))) { free(g); return NULL; }
    g->m->B = B; g->m->L = L; g->m->T = -1; g->m->max_sweeps = max_sweeps;
    return g;
}

void ffr_trace_merge_free(ffr_trace_merge *g) {
    if (!g) return;
    ffr_trace_free(g->m);
    free(g->cnt);
    free(g);
}

/* The measured values of row t of tr as one vector (energy, residual, then per layer). */
static int meas_vec(const ffr_trace *tr, int t, double *v) {
    int Lp = tr->L + 1, n = 0;
    v[n++] = tr->energy_mean[t]; v[n++] = tr->residual_mean[t];
    for (int k = 0; k < Lp; k++) {
        v[n++] = tr->disagree[(size_t)t * Lp + k]; v[n++] = tr->mpe_up[(size_t)t * Lp + k]; v[n++] = tr->mpe_down[(size_t)t * Lp + k];
    }
    return n;
}
static void meas_add(ffr_trace *m, int t, const double *v, double wgt) {
    int Lp = m->L + 1, n = 0;
    m->energy_mean[t] += v[n++] * wgt; m->residual_mean[t] += v[n++] * wgt;
    for (int k = 0; k < Lp; k++) {
        m->disagree[(size_t)t * Lp + k] += v[n++] * wgt; m->mpe_up[(size_t)t * Lp + k] += v[n++] * wgt;
        m->mpe_down[(size_t)t * Lp + k] += v[n++] * wgt;
    }
}

/* Rows up to T, the new ones holding what the chunks merged so far (all of
 * them stopped before) contribute. 0 if out of memory. */
static int merge_rows(ffr_trace_merge *g, int T) {
    ffr_trace *m = g->m;
    int Lp = m->L + 1;
    if (T + 1 > g->rows) {
        int want = 2 * g->rows > T + 1 ? 2 * g->rows : T + 1;
        if (want > m->max_sweeps + 1) want = m->max_sweeps + 1;
        int *c = ffr_realloc(g->cnt, (size_t)want * sizeof(int));
        if (!c) return 0;
        g->cnt = c;
        if (!trace_grow(m, (size_t)want, (size_t)Lp, (size_t)m->B)) return 0;
        g->rows = want;
    }
    for (int t = m->T + 1; t <= T; t++) {
        m->step_mean[t] = m->step_max[t] = m->rstep_mean[t] = m->relstep_median[t] = m->step_median[t] = 0;
        m->n_active[t] = 0; m->measured[t] = 0; m->frac_converged[t] = g->tail_frac;
        m->energy_mean[t] = m->residual_mean[t] = 0;
        for (int k = 0; k < Lp; k++) m->disagree[(size_t)t * Lp + k] = m->mpe_up[(size_t)t * Lp + k] = m->mpe_down[(size_t)t * Lp + k] = 0;
        meas_add(m, t, g->tail_meas, 1.0);
        g->cnt[t] = g->tail_cnt;
        for (int b = 0; b < m->B; b++) m->step[(size_t)t * m->B + b] = NAN;
    }
    if (T > m->T) m->T = T;
    return 1;
}

ffr_status ffr_trace_merge_add(ffr_trace_merge *g, const ffr_trace *c, int r0) {
    ffr_trace *m = g->m;
    int Bc = c->B, Tc = c->T, B = m->B;
    if (!merge_rows(g, Tc)) return FFR_ERR_NOMEM;
    memcpy(m->sweeps + r0, c->sweeps, (size_t)Bc * sizeof(int));
    memcpy(m->converged + r0, c->converged, (size_t)Bc);
    memcpy(m->dist + r0, c->dist, (size_t)Bc * sizeof(float));
    memcpy(m->norm + r0, c->norm, (size_t)Bc * sizeof(float));
    memcpy(m->residual + r0, c->residual, (size_t)Bc * sizeof(float));
    memcpy(m->rate + r0, c->rate, (size_t)Bc * sizeof(float));
    m->total_updates += c->total_updates; m->flops += c->flops; m->precision = c->precision;
    if (c->status && !m->status) { m->status = c->status; memcpy(m->diag, c->diag, sizeof m->diag); }
    double v[2 + 3 * FFR_MAX_LAYERS];
    for (int t = 0; t <= m->T; t++) {
        int tc = t < Tc ? t : Tc;
        if (t <= Tc) {
            memcpy(m->step + (size_t)t * B + r0, c->step + (size_t)t * Bc, (size_t)Bc * sizeof(float));
            double na = c->n_active[t];
            m->n_active[t] += c->n_active[t];
            m->step_mean[t] += c->step_mean[t] * na; m->rstep_mean[t] += c->rstep_mean[t] * na;
            m->relstep_median[t] += c->relstep_median[t] * na;
            if (c->step_max[t] > m->step_max[t]) m->step_max[t] = c->step_max[t];
        }
        m->frac_converged[t] += c->frac_converged[tc] * Bc;
        if (c->measured[tc]) { meas_vec(c, tc, v); meas_add(m, t, v, Bc); g->cnt[t]++; }
    }
    g->tail_frac += c->frac_converged[Tc] * Bc;
    if (c->measured[Tc]) {
        int n = meas_vec(c, Tc, v);
        for (int i = 0; i < n; i++) g->tail_meas[i] += v[i] * Bc;
        g->tail_cnt++;
    }
    g->chunks++;
    return FFR_OK;
}

ffr_trace *ffr_trace_merge_finish(ffr_trace_merge *g, int measure_every, double *scratch) {
    ffr_trace *m = g->m;
    int B = m->B, T = m->T < 0 ? 0 : m->T, Lp = m->L + 1;
    if (m->T < 0 && !merge_rows(g, 0)) return NULL;
    for (int t = 0; t <= T; t++) {
        double na = m->n_active[t];
        if (t > 0) {
            size_t n = 0;
            for (int b = 0; b < B; b++) {
                float s = m->step[(size_t)t * B + b];
                if (!isnan(s)) scratch[n++] = s;
            }
            m->step_median[t] = ffr_median(scratch, n);
        }
        m->step_mean[t] = na > 0 ? m->step_mean[t] / na : 0; m->rstep_mean[t] = na > 0 ? m->rstep_mean[t] / na : 0;
        m->relstep_median[t] = na > 0 ? m->relstep_median[t] / na : 0;
        m->frac_converged[t] /= B;
        int want = measure_every >= 0 && (t == 0 || t == T || (measure_every > 0 && t % measure_every == 0));
        m->measured[t] = want && g->cnt[t] == g->chunks;
        double s = m->measured[t] ? 1.0 / B : NAN;
        m->energy_mean[t] *= s; m->residual_mean[t] *= s;
        for (int k = 0; k < Lp; k++) {
            m->disagree[(size_t)t * Lp + k] *= s; m->mpe_up[(size_t)t * Lp + k] *= s; m->mpe_down[(size_t)t * Lp + k] *= s;
        }
    }
    m->T = T;
    size_t nf = 0;
    for (int b = 0; b < B; b++) if (!isnan(m->rate[b])) scratch[nf++] = m->rate[b];
    m->rate_median = nf ? ffr_median(scratch, nf) : NAN;
    ffr_trace *out = m;
    g->m = NULL;
    return out;
}
