/* relax.c - the relaxation of Eq. 9, written once for every rule:
 *
 *   s_k <- (1 - eps) s_k + eps F_k(f_k(s_{k-1}), g_{k+1}(s_{k+1})) + sqrt(2 eps T) xi
 *
 * F_k is the rule (Eq. 16 dendritic, Eq. 7 hopfield, Eq. 8 boltzmann; rule.h),
 * the schedule says which layers move together (a "phase"), the start is
 * Eq. 17 or zero/random/given, and clamped units never move. This file is the
 * driver, in the steps a run takes: start, sweep, per-example statistics,
 * stop (tolerance and the active set, divergence), finish. The parts:
 * relax_setup.c (the relaxer, the products, Eq. 17), relax_update.c (the
 * elementwise pass), relax_measure.c (measurements and the trace),
 * relax_anderson.c (Anderson acceleration). doc/math.md states every equation
 * as implemented.
 *
 * Layout: states are row-major (B, n_k). Examples that converge are swapped
 * to the end of the active rows, so later sweeps do work only on active
 * examples; the final state is put back in the caller's order. Nothing is
 * allocated in a run (but the trace's rows when a run needs more sweeps than
 * any before). */
#include <math.h>
#include <string.h>
#include "relax_internal.h"

void ffr_relax_opts_default(ffr_relax_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->init = FFR_INIT_FF;
    o->schedule = FFR_SCHED_ODD_EVEN;
    o->max_sweeps = 100;
    o->tol = 0;
    o->tol_mode = FFR_TOL_ABS;
    o->eps = 1.0;
    o->temperature = 0;
    o->gibbs = 0;
    o->seed = 1;
    o->measure_every = 0;
    o->diverge_factor = 1e4;
}

ffr_status ffr_relax_check_opts(const ffr_net *net, const ffr_relax_opts *o, int B, ffr_err *err) {
    FFR_NEED(o, err);
    ffr_status vs = ffr_net_valid(net, "relaxation", err);
    if (vs) return vs;
    if ((unsigned)o->tol_mode > FFR_TOL_REL) return ffr_fail(err, FFR_ERR_ARG, "tol_mode: expected abs or rel, found %d", (int)o->tol_mode);
    if (!(o->diverge_factor >= 0) || !isfinite(o->diverge_factor))
        return ffr_fail(err, FFR_ERR_ARG, "diverge_factor: expected a finite value >= 0 (0: off), found %g", o->diverge_factor);
    if (B < 1) return ffr_fail(err, FFR_ERR_ARG, "batch: expected >= 1 examples, found %d", B);
    if (o->max_sweeps < 0 || o->max_sweeps > 100000000)
        return ffr_fail(err, FFR_ERR_ARG, "max sweeps: expected 0..1e8, found %d", o->max_sweeps);
    if (!(o->tol >= 0) || !isfinite(o->tol))
        return ffr_fail(err, FFR_ERR_ARG, "tolerance: expected a finite value >= 0, found %g", o->tol);
    if (!(o->eps > 0 && o->eps <= 1))
        return ffr_fail(err, FFR_ERR_ARG, "eps = 1/tau: expected 0 < eps <= 1 (tau >= 1), found %g", o->eps);
    if (!(o->temperature >= 0) || !isfinite(o->temperature))
        return ffr_fail(err, FFR_ERR_ARG, "temperature: expected a finite value >= 0, found %g", o->temperature);
    if (o->gibbs && net->rule != FFR_RULE_BOLTZMANN)
        return ffr_fail(err, FFR_ERR_ARG, "gibbs sampling: only for the boltzmann rule (this network is %s)",
                        ffr_rule_name(net->rule));
    if (o->gibbs && o->schedule == FFR_SCHED_SYNC) /* doc/math.md, "Dynamics" */
        return ffr_fail(err, FFR_ERR_ARG, "gibbs sampling with the sync schedule samples the even and the odd layers as two "
                        "independent chains (a wrong joint): use the odd-even or the up schedule");
    if (o->gibbs && (o->eps != 1 || o->temperature != 0))
        return ffr_fail(err, FFR_ERR_ARG, "gibbs sampling draws each layer from Eq. 8: use eps = 1 and temperature 0");
    if ((unsigned)o->init > FFR_INIT_GIVEN) return ffr_fail(err, FFR_ERR_ARG, "init: unknown start %d", (int)o->init);
    if ((unsigned)o->schedule > FFR_SCHED_UP) return ffr_fail(err, FFR_ERR_ARG, "schedule: unknown schedule %d", (int)o->schedule);
    if (o->measure_every < -1)
        return ffr_fail(err, FFR_ERR_ARG, "measure_every: expected -1 (never), 0 (start and end) or more, found %d", o->measure_every);
    if ((unsigned)o->precision > FFR_PREC_BF16) return ffr_fail(err, FFR_ERR_ARG, "precision: unknown precision %d", (int)o->precision);
    if (o->anderson < 0 || o->anderson > 8)
        return ffr_fail(err, FFR_ERR_ARG, "anderson: expected 0 (off) to 8 differences, found %d", o->anderson);
    if (o->anderson && (o->gibbs || o->temperature > 0))
        return ffr_fail(err, FFR_ERR_ARG, "anderson acceleration needs a deterministic map: no noise (temperature 0), no Gibbs sampling");
    if (o->threads < 0)
        return ffr_fail(err, FFR_ERR_ARG, "threads: expected 0 (the default) or more, found %d", o->threads);
    if (!isfinite(o->beta))
        return ffr_fail(err, FFR_ERR_ARG, "nudging beta: expected a finite value, found %g", o->beta);
    if (o->beta != 0) {
        if (!o->nudge_target)
            return ffr_fail(err, FFR_ERR_ARG, "nudging beta = %g: expected a nudge_target (B, n_L), found none", o->beta);
        if (o->top_target)
            return ffr_fail(err, FFR_ERR_ARG, "nudging (beta = %g) and a clamped top layer (top_target) exclude each other", o->beta);
        if (o->gibbs)
            return ffr_fail(err, FFR_ERR_ARG, "nudging (beta = %g) acts on the mean field: not with Gibbs sampling", o->beta);
        if (net->rule == FFR_RULE_DENDRITIC && !(net->alpha_up[net->L] + o->beta > 0))
            return ffr_fail(err, FFR_ERR_ARG, "nudging: the dendritic top layer needs a_up(L) + beta > 0, found %g + %g",
                            net->alpha_up[net->L], o->beta);
    }
    return FFR_OK;
}

/* Phases of one sweep: bitmasks of layers updated together. */
static int phases_of(const ffr_relaxer *w, ffr_schedule sc, unsigned *ph) {
    int L = w->L, np = 0;
    unsigned odd = 0, even = 0, all = 0;
    for (int k = 0; k <= L; k++) {
        if (!w->free_layer[k]) continue;
        if (k & 1) odd |= 1u << k; else even |= 1u << k;
        all |= 1u << k;
    }
    if (sc == FFR_SCHED_ODD_EVEN) {
        if (odd) ph[np++] = odd;
        if (even) ph[np++] = even;
    } else if (sc == FFR_SCHED_SYNC) {
        ph[np++] = all;
    } else {
        for (int k = 0; k <= L; k++) if (all & (1u << k)) ph[np++] = 1u << k;
    }
    return np;
}


/* ---- the steps of a run */

/* Row b's generator at the start of a run (seed and example: the same bits
 * whatever the chunk or rank that relaxes it). */
static void seed_row(const ffr_relaxer *w, int b, ffr_rng *g) {
    uint64_t z = w->o.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)(b + w->row0) * 0xbf58476d1ce4e5b9ULL + 0x1234567ULL;
    ffr_rng_seed(g, z);
}

/* The start of rows [0, B) into st (caller's order): Eq. 17 (R: scratch) or
 * zero or random from x, or (init given) st as it is with the clamped
 * visible units from x; the clamped top layer. rng: the run's per-row
 * generators (the random start draws from them), or NULL: freshly seeded
 * ones (finish() recomputes the start with the same draws). */
static void start_values(ffr_relaxer *w, const float *x, ffr_state *st, ffr_rng *rng) {
    const ffr_net *net = w->net;
    const ffr_relax_opts *o = &w->o;
    int B = w->B, L = w->L;
    size_t n0 = (size_t)B * net->n[0];
    if (o->init == FFR_INIT_GIVEN) {
        for (size_t i = 0; i < n0; i++) { /* clamped visible units take the data */
            int j = (int)(i % net->n[0]);
            if (!ffr_unit_free(w, 0, j)) st->s[0][i] = x[i];
        }
    } else {
        if (o->init == FFR_INIT_FF) ffr_relax_feedforward(net, &w->pk, w->nt, x, B, st, w->R); /* Eq. 17 */
        else memcpy(st->s[0], x, n0 * sizeof(float));
        for (int b = 0; b < B; b++) { /* the free units' start: row b's draws layer by layer */
            ffr_rng own, *g = rng ? &rng[b] : &own;
            if (!rng) seed_row(w, b, &own);
            for (int k = 0; k <= L; k++) {
                if (o->init == FFR_INIT_FF && k >= 1) continue;
                for (int j = 0; j < net->n[k]; j++) {
                    if (!ffr_unit_free(w, k, j)) continue;
                    float *v = &st->s[k][(size_t)b * net->n[k] + j];
                    *v = o->init == FFR_INIT_ZERO ? 0.f : o->init == FFR_INIT_RANDOM ? (float)ffr_rng_uniform(g) : *v;
                }
            }
        }
    }
    if (o->top_target) memcpy(st->s[L], o->top_target, (size_t)B * net->n[L] * sizeof(float));
}

/* The start, the clamps, the rates, the start kept for the distances (init
 * given only: the other starts are recomputed at the end), the clamped
 * layers' products once. */
static void start(ffr_relaxer *w, const float *x, ffr_state *st) {
    const ffr_net *net = w->net;
    int B = w->B, L = w->L;
    for (int b = 0; b < B; b++) {
        w->perm[b] = b;
        seed_row(w, b, &w->rng[b]);
    }
    start_values(w, x, st, w->rng);
    for (int k = 0; k <= L; k++) {
        size_t nk = (size_t)B * net->n[k];
        for (size_t i = 0; i < nk; i++) w->R[k][i] = ffr_rule_rate(net->rule, net->rho, st->s[k][i]);
        if (w->o.init == FFR_INIT_GIVEN) memcpy(w->S0[k], st->s[k], nk * sizeof(float));
    }
    if (w->use_cup && !(w->same_input && w->cup_rows == B)) { /* clamped input: its bottom-up product
                                                                  once per relaxation (or per input, ffr_relaxer_same_input) */
        ffr_relax_gemm_up(net, &w->pk, w->nt, 1, B, 1.f, w->R[0], 0.f, w->cup);
        w->flops += 2.0 * B * net->n[1] * net->n[0];
    }
    w->cup_rows = w->use_cup ? B : 0; /* finish() puts cup back in the caller's order with the state */
    w->same_input = 0;
    if (w->use_cdown) { /* clamped target: its top-down product once */
        ffr_relax_gemm_down(net, &w->pk, w->nt, L, B, 1.f, w->R[L], 0.f, w->cdown);
        w->flops += 2.0 * B * net->n[L - 1] * net->n[L];
    }
    if (w->aa_m) ffr_aa_begin(w, st); /* x_1, the start, in the first slot */
}

/* One sweep: every phase of the schedule, each layer of a phase by Eq. 9.
 * No two neighbours move together (odd/even, one layer a phase): each layer's
 * update can follow its own products at once, fused into the last one where
 * the kernel allows; else (synchronous) every product of the phase first, from
 * the old states. lstep[k]: layer k's squared step summed over the active
 * rows. Returns the first layer where a non-finite value appeared, or -1. */
static int sweep(ffr_relaxer *w, ffr_state *st, const unsigned *ph, int nph, double *lstep) {
    int L = w->L, bad_layer = -1;
    for (int r = 0; r < w->nact; r++) w->step2[r] = w->rstep2[r] = w->norm2[r] = 0;
    for (int p = 0; p < nph; p++) {
        int fuse = ffr_relax_fused_ok(w) && !(ph[p] & (ph[p] << 1));
        if (!fuse)
            for (int k = 0; k <= L; k++) if (ph[p] & (1u << k)) ffr_relax_products(w, st, k, 0, NULL);
        for (int k = 0; k <= L; k++) {
            if (!(ph[p] & (1u << k))) continue;
            double before = 0, after = 0;
            for (int r = 0; r < w->nact; r++) before += w->step2[r];
            int bad = 0;
            int done = fuse && ffr_relax_products(w, st, k, 1, &bad); /* 1: updated in the product */
            if (!done) bad = ffr_relax_update_layer(w, st, k);
            if (bad && bad_layer < 0) bad_layer = k;
            for (int r = 0; r < w->nact; r++) after += w->step2[r];
            lstep[k] = after - before;
        }
    }
    return bad_layer;
}

/* Stop the examples whose step (or step / ||s_free||) fell below tol: they
 * leave the active rows (swapped to the end) and keep their state. */
static void stop_converged(ffr_relaxer *w, ffr_state *st, int t) {
    const ffr_relax_opts *o = &w->o;
    for (int r = 0; r < w->nact;) {
        double s = sqrt(w->step2[r]), nrm = sqrt(w->norm2[r]);
        double crit = o->tol_mode == FFR_TOL_REL ? (nrm > 0 ? s / nrm : s) : s;
        if (crit < o->tol) {
            w->tr->converged[w->perm[r]] = 1;
            ffr_ws_swap(w, st, r, w->nact - 1);
            w->nact--;
        } else r++;
    }
    w->tr->frac_converged[t] = (double)(w->B - w->nact) / w->B;
}

/* A non-finite state at sweep t. */
static ffr_status diverged_nonfinite(ffr_relaxer *w, int bad_layer, int t, ffr_err *err) {
    ffr_trace *tr = w->tr;
    tr->status = FFR_ERR_DIVERGED;
    snprintf(tr->diag, sizeof tr->diag, "non-finite state in layer %d at sweep %d", bad_layer, t);
    return ffr_fail(err, FFR_ERR_DIVERGED, "relaxation diverged: %s (lower the weights' scale, use tau > 1, or a bounded rho)",
                    tr->diag);
}

/* A growing step: divergence that the bounds of rho do not catch. A bounded
 * network that starts tiny and grows to its fixed point is not divergence:
 * the step must also exceed diverge_factor in absolute terms. */
typedef struct { double minstep, prev; int grow; } growth;
static ffr_status diverged_growing(ffr_relaxer *w, growth *g, const double *lstep, int t, ffr_err *err) {
    ffr_trace *tr = w->tr;
    double sm = tr->step_mean[t];
    if (sm < g->minstep) g->minstep = sm;
    g->grow = sm > g->prev ? g->grow + 1 : 0;
    g->prev = sm;
    if (!(w->o.diverge_factor > 0 && g->grow >= 20 && sm > w->o.diverge_factor * fmax(g->minstep, 1.0))) return FFR_OK;
    int worst = 0;
    for (int k = 1; k <= w->L; k++) if (lstep[k] > lstep[worst]) worst = k;
    tr->status = FFR_ERR_DIVERGED;
    snprintf(tr->diag, sizeof tr->diag,
             "mean step grew for %d sweeps to %.3g (%.3g times its minimum), largest in layer %d, at sweep %d",
             g->grow, sm, sm / fmax(g->minstep, 1e-300), worst, t);
    return ffr_fail(err, FFR_ERR_DIVERGED, "relaxation diverged: %s", tr->diag);
}

/* The end: the last measurement, the state back in the caller's order (the
 * inverse permutation, by cycles), distances from the start (kept, or
 * recomputed into T: the same bits as at the start, which costs Eq. 17's
 * products once more but no (B, n) buffer), rates and totals. */
static void finish(ffr_relaxer *w, ffr_state *st, const float *x) {
    ffr_trace *tr = w->tr;
    if (w->o.measure_every >= 0) ffr_relax_measure(w, st, tr->T, 1);
    else for (int b = 0; b < w->B; b++) tr->residual[b] = NAN;
    for (int r = 0; r < w->B; r++)
        while (w->perm[r] != r) ffr_ws_swap(w, st, r, w->perm[r]);
    ffr_state s0 = *st;
    if (w->o.init != FFR_INIT_GIVEN) {
        memcpy(s0.s, w->T, sizeof s0.s);
        start_values(w, x, &s0, NULL);
    }
    ffr_trace_finish(w, st, w->o.init == FFR_INIT_GIVEN ? w->S0 : s0.s);
}

static ffr_status run_check(const ffr_relaxer *rx, const float *x, int B, const ffr_state *st, ffr_err *err) {
    FFR_NEED(rx, err);
    FFR_NEED(x, err);
    FFR_NEED(st, err);
    const ffr_net *net = rx->net;
    if (!rx->opts_ok) return ffr_fail(err, FFR_ERR_ARG, "relaxer: its last options were refused; set valid ones first");
    if (B < 1 || B > rx->maxB)
        return ffr_fail(err, FFR_ERR_ARG, "batch: expected 1..%d examples (the relaxer's max_batch), found %d", rx->maxB, B);
    if (st->B < B || st->L != net->L)
        return ffr_fail(err, FFR_ERR_ARG, "state: expected %d examples and %d layers, found %d and %d", B, net->L, st->B, st->L);
    for (int k = 0; k <= net->L; k++)
        if (st->n[k] != net->n[k])
            return ffr_fail(err, FFR_ERR_ARG, "state layer %d: expected %d units, found %d", k, net->n[k], st->n[k]);
    return FFR_OK;
}

/* ---- the run: Eq. 9 from the start until every example has stopped */
ffr_status ffr_relaxer_run(ffr_relaxer *rx, const float *x, int B, ffr_state *st, const ffr_trace **trace, ffr_err *err) {
    if (trace) *trace = NULL;
    ffr_status rc = run_check(rx, x, B, st, err);
    if (rc) return rc;
    const ffr_relax_opts *o = &rx->o;
    ffr_trace *tr = rx->tr;
    int T = o->max_sweeps;
    rx->B = rx->nact = B; rx->flops = 0; rx->nt = ffr_threads_resolve(o->threads);
    ffr_trace_begin(rx);
    ffr_relax_packs_fill(rx); /* the packs this run needs, for the weights as they are */
    tr->precision = rx->packed_bf16 ? FFR_PREC_BF16 : FFR_PREC_FP32;
    start(rx, x, st);
    unsigned ph[FFR_MAX_LAYERS + 2];
    int nph = phases_of(rx, o->schedule, ph);
    if (T > 0 && o->measure_every >= 0) ffr_relax_measure(rx, st, 0, 0);
    tr->n_active[0] = B;
    growth g = {INFINITY, INFINITY, 0};
    int t, stop = 0;
    for (t = 1; t <= T && rx->nact > 0 && !stop; t++) {
        if ((rc = ffr_trace_reserve(rx, t, err))) { tr->status = rc; break; }
        ffr_trace_row_reset(rx, t);
        double lstep[FFR_MAX_LAYERS] = {0};
        int bad_layer = sweep(rx, st, ph, nph, lstep);   /* Eq. 9, every free layer once */
        double sum = ffr_trace_sweep_stats(rx, t);        /* per-example steps */
        if (bad_layer >= 0 || !isfinite(sum)) { rc = diverged_nonfinite(rx, bad_layer, t, err); stop = 1; continue; }
        stop_converged(rx, st, t);                        /* tolerance: the active set shrinks */
        if (rx->aa_m && rx->nact > 0 && t < T) ffr_aa_step(rx, st); /* x_{t+1} of the rows still active */
        if (o->measure_every > 0 && t % o->measure_every == 0 && t != T && rx->nact > 0) ffr_relax_measure(rx, st, t, 0);
        if ((rc = diverged_growing(rx, &g, lstep, t, err))) { stop = 1; continue; }
        stop = o->progress && o->progress(o->progress_ctx, t, rx->nact, tr->step_mean[t]);
    }
    tr->T = t - 1;
    finish(rx, st, x);
    if (trace) *trace = tr;
    return rc;
}

/* ffr_relax in chunks of at most `chunk` rows (one relaxer of that many rows,
 * reused): the memory that grows with the batch is the caller's state and the
 * trace, plus the relaxer's buffers for one chunk. The examples do not
 * interact (every product, pass, step and stop is per row; the seeds are per
 * example: row0), so each example's state and per-example trace entries are
 * bit-identical to one run of all B; the per-sweep rows combine the chunks'
 * (relax_measure.c, ffr_trace_merge_add). The divergence test and the progress
 * callback see one chunk at a time (sweeps count from 1 in each); a chunk that
 * fails ends the run with its status (the later chunks are not relaxed). */
ffr_status ffr_relax_rows(const ffr_net *net, const float *x, int B, const ffr_relax_opts *o, ffr_state *st,
                          ffr_trace **trace_out, int chunk, ffr_err *err) {
    if (trace_out) *trace_out = NULL;
    if (chunk < 1 || chunk > B) chunk = B;
    FFR_NEED(x, err);
    FFR_NEED(st, err);
    ffr_relaxer *rx;
    ffr_status rc = ffr_relaxer_create(&rx, net, o, chunk, err);
    if (rc) return rc;
    if ((rc = ffr_state_fits(net, st, B, "relax", err))) { ffr_relaxer_free(rx); return rc; }
    if (st->B != B || st->L != net->L) {
        ffr_relaxer_free(rx);
        return ffr_fail(err, FFR_ERR_ARG, "state: expected %d examples and %d layers, found %d and %d", B, net->L, st->B, st->L);
    }
    const ffr_trace *tr = NULL;
    if (chunk == B) {
        rc = ffr_relaxer_run(rx, x, B, st, &tr, err);
        if (trace_out && tr) { *trace_out = rx->tr; rx->tr = NULL; } /* the trace leaves with the caller */
        ffr_relaxer_free(rx);
        return rc;
    }
    ffr_trace_merge *g = ffr_trace_merge_new(B, net->L, o->max_sweeps);
    double *scratch = ffr_calloc((size_t)B, sizeof(double));
    if (!g || !scratch) rc = ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the trace of %d examples", B);
    for (int r0 = 0, m = 0; r0 < B && !rc; r0 += m) {
        m = ffr_relax_chunk_len(B, r0, chunk);
        ffr_state sv; /* rows [r0, r0 + m) of the caller's state */
        ffr_relax_opts oc;
        ffr_relax_chunk_view(net, o, st, r0, m, &sv, &oc);
        if ((rc = ffr_relaxer_set_opts(rx, &oc, err))) break;
        rx->row0 = r0;
        ffr_status rr = ffr_relaxer_run(rx, x + (size_t)r0 * net->n[0], m, &sv, &tr, err);
        if (tr && ffr_trace_merge_add(g, tr, r0)) rr = ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the trace of %d examples", B);
        rc = rr;
    }
    ffr_trace *mt = g && scratch ? ffr_trace_merge_finish(g, o->measure_every, scratch) : NULL;
    if (!mt && !rc) rc = ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the trace of %d examples", B);
    if (trace_out) *trace_out = mt;
    else ffr_trace_free(mt);
    free(scratch);
    ffr_trace_merge_free(g);
    ffr_relaxer_free(rx);
    return rc;
}

ffr_status ffr_relax(const ffr_net *net, const float *x, int B, const ffr_relax_opts *o, ffr_state *st,
                     ffr_trace **trace_out, ffr_err *err) {
    return ffr_relax_rows(net, x, B, o, st, trace_out, FFR_RELAX_CHUNK, err);
}
