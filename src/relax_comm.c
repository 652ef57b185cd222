/* relax_comm.c - ffr_relax sharded over the ranks of a communicator (comm.h,
 * doc/scaling.md): the same states and trace, byte for byte, as one process.
 *
 * One process relaxes B examples in chunks of FFR_RELAX_CHUNK rows
 * (ffr_relax_rows: each chunk one run of a relaxer, its seeds from its first
 * row, its trace merged into the whole one in chunk order) and the examples
 * do not interact. So the chunks are dealt out to the ranks in contiguous
 * runs; each rank relaxes its chunks exactly as ffr_relax_rows does (same
 * relaxer calls, same row0), packs each chunk's state rows and trace, and
 * the packs are all-gathered; every rank then merges the chunks' traces in
 * chunk order with the engine's own ffr_trace_merge_add/finish (one chunk:
 * its trace as it is), so the aggregates (means, medians, maxima, measured
 * rows) have the bits of one process. A chunk that fails ends the run as in
 * ffr_relax_rows: the later chunks' states stay as the caller gave them.
 * Packs are native-endian (the ranks of one run share one architecture). */
#include <stdlib.h>
#include <string.h>
#include "relax_internal.h"
#include "comm.h"

/* The chunk boundaries of ffr_relax_rows for B rows: starts[0..n] (n chunks). */
static int chunk_starts(int B, int chunk, int *starts) {
    int n = 0;
    if (chunk < 1 || chunk > B) chunk = B;
    for (int r0 = 0, m = 0; r0 < B; r0 += m) {
        m = ffr_relax_chunk_len(B, r0, chunk);
        starts[n++] = r0;
    }
    starts[n] = B;
    return n;
}

/* ------------------------------------------------------- trace packs */
/* put n bytes at *p (*p NULL: count only); the pack's size grows by n */
static void put(char **p, size_t *size, const void *src, size_t n) {
    if (*p) { memcpy(*p, src, n); *p += n; }
    *size += n;
}
static const char *get(const char **p, void *dst, size_t n) {
    memcpy(dst, *p, n);
    *p += n;
    return *p;
}

/* The fields of a trace, in pack order: per-sweep doubles, ints, per-layer doubles, per-example. */
#define ROWS_D(t) {t->step_mean, t->step_median, t->step_max, t->rstep_mean, t->relstep_median, t->frac_converged, \
                   t->energy_mean, t->residual_mean}
#define ROWS_I(t) {t->n_active, t->measured}
#define ROWS_L(t) {t->disagree, t->mpe_up, t->mpe_down}
#define EX_F(t) {t->dist, t->norm, t->residual, t->rate}

/* Pack tr (rows 0..T, B examples) at *p; returns the bytes (*p NULL: counts only). */
static size_t trace_pack(const ffr_trace *tr, char **p) {
    size_t z = 0, R = (size_t)tr->T + 1, Lp = (size_t)tr->L + 1, B = (size_t)tr->B;
    int hdr[6] = {tr->B, tr->L, tr->T, tr->max_sweeps, (int)tr->precision, (int)tr->status};
    put(p, &z, hdr, sizeof hdr);
    put(p, &z, &tr->total_updates, sizeof tr->total_updates);
    put(p, &z, &tr->flops, sizeof tr->flops);
    put(p, &z, &tr->rate_median, sizeof tr->rate_median);
    put(p, &z, tr->diag, sizeof tr->diag);
    double *rd[] = ROWS_D(tr);
    int *ri[] = ROWS_I(tr);
    double *rl[] = ROWS_L(tr);
    float *ef[] = EX_F(tr);
    for (size_t i = 0; i < sizeof rd / sizeof *rd; i++) put(p, &z, rd[i], R * sizeof(double));
    for (size_t i = 0; i < sizeof ri / sizeof *ri; i++) put(p, &z, ri[i], R * sizeof(int));
    for (size_t i = 0; i < sizeof rl / sizeof *rl; i++) put(p, &z, rl[i], R * Lp * sizeof(double));
    put(p, &z, tr->step, R * B * sizeof(float));
    put(p, &z, tr->sweeps, B * sizeof(int));
    put(p, &z, tr->converged, B);
    for (size_t i = 0; i < sizeof ef / sizeof *ef; i++) put(p, &z, ef[i], B * sizeof(float));
    return z;
}

/* A trace from a pack (each array its own allocation, as ffr_trace_free
 * expects); NULL if out of memory. */
static ffr_trace *trace_unpack(const char **p) {
    ffr_trace *t = ffr_calloc(1, sizeof *t);
    if (!t) return NULL;
    int hdr[6];
    get(p, hdr, sizeof hdr);
    t->B = hdr[0]; t->L = hdr[1]; t->T = hdr[2]; t->max_sweeps = hdr[3];
    t->precision = (ffr_precision)hdr[4]; t->status = (ffr_status)hdr[5];
    get(p, &t->total_updates, sizeof t->total_updates);
    get(p, &t->flops, sizeof t->flops);
    get(p, &t->rate_median, sizeof t->rate_median);
    get(p, t->diag, sizeof t->diag);
    size_t R = (size_t)t->T + 1, Lp = (size_t)t->L + 1, B = (size_t)t->B;
    double **rd[] = {&t->step_mean, &t->step_median, &t->step_max, &t->rstep_mean, &t->relstep_median,
                     &t->frac_converged, &t->energy_mean, &t->residual_mean};
    int **ri[] = {&t->n_active, &t->measured};
    double **rl[] = {&t->disagree, &t->mpe_up, &t->mpe_down};
    float **ef[] = {&t->dist, &t->norm, &t->residual, &t->rate};
    int ok = 1;
    for (size_t i = 0; i < sizeof rd / sizeof *rd; i++) ok = ok && (*rd[i] = ffr_malloc(R * sizeof(double))) && get(p, *rd[i], R * sizeof(double));
    for (size_t i = 0; i < sizeof ri / sizeof *ri; i++) ok = ok && (*ri[i] = ffr_malloc(R * sizeof(int))) && get(p, *ri[i], R * sizeof(int));
    for (size_t i = 0; i < sizeof rl / sizeof *rl; i++) ok = ok && (*rl[i] = ffr_malloc(R * Lp * sizeof(double))) && get(p, *rl[i], R * Lp * sizeof(double));
    ok = ok && (t->step = ffr_malloc(R * B * sizeof(float) + 1)) && get(p, t->step, R * B * sizeof(float));
    ok = ok && (t->sweeps = ffr_malloc(B * sizeof(int) + 1)) && get(p, t->sweeps, B * sizeof(int));
    ok = ok && (t->converged = ffr_malloc(B + 1)) && get(p, t->converged, B);
    for (size_t i = 0; i < sizeof ef / sizeof *ef; i++) ok = ok && (*ef[i] = ffr_malloc(B * sizeof(float) + 1)) && get(p, *ef[i], B * sizeof(float));
    if (!ok) { ffr_trace_free(t); return NULL; }
    return t;
}

/* ------------------------------------------------------- chunk packs */
/* A chunk's pack: its header, then (ran) its state rows, then (has_trace) its trace. */
typedef struct { int status, ran, has_trace, pad; char msg[sizeof(((ffr_err *)0)->msg)]; } chunk_hdr;

/* Pack chunk [r0, r0 + m): hdr, st's rows, tr (may be NULL). */
static size_t chunk_pack(const ffr_net *net, const chunk_hdr *h, const ffr_state *st, int r0, int m,
                         const ffr_trace *tr, char **p) {
    size_t z = 0;
    put(p, &z, h, sizeof *h);
    if (h->ran)
        for (int k = 0; k <= net->L; k++)
            put(p, &z, st->s[k] + (size_t)r0 * net->n[k], (size_t)m * net->n[k] * sizeof(float));
    if (h->has_trace) z += trace_pack(tr, p);
    return z;
}

/* This rank's chunks [c0, c1) relaxed as ffr_relax_rows relaxes them, packed
 * into *buf (*len bytes). Returns FFR_OK or FFR_ERR_NOMEM (the pack). */
static ffr_status relax_mine(const ffr_net *net, const float *x, const ffr_relax_opts *o, ffr_state *st,
                             ffr_relaxer *rx, const int *starts, int nchunks, int c0, int c1, char **buf, size_t *len) {
    int failed = 0;
    *buf = NULL; *len = 0;
    size_t cap = 0; /* one chunk: the whole run with the options as given (ffr_relax_rows, chunk == B) */
    for (int c = c0; c < c1; c++) {
        int r0 = starts[c], m = starts[c + 1] - r0;
        chunk_hdr h;
        memset(&h, 0, sizeof h);
        const ffr_trace *tr = NULL;
        ffr_err e;
        memset(&e, 0, sizeof e);
        if (!failed) {
            ffr_state sv; /* rows [r0, r0 + m) of the caller's state */
            ffr_relax_opts oc;
            ffr_relax_chunk_view(net, o, st, r0, m, &sv, &oc);
            ffr_status rr = nchunks > 1 ? ffr_relaxer_set_opts(rx, &oc, &e) : FFR_OK;
            if (!rr) {
                rx->row0 = nchunks > 1 ? r0 : 0;
                rr = ffr_relaxer_run(rx, x + (size_t)r0 * net->n[0], m, &sv, &tr, &e);
                h.ran = 1;
            }
            h.status = rr;
            h.has_trace = tr != NULL;
            memcpy(h.msg, e.msg, sizeof h.msg);
            failed = rr != FFR_OK;
        }
        char *count = NULL;
        size_t need = chunk_pack(net, &h, st, r0, m, tr, &count);
        if (*len + need > cap) {
            size_t nc = 2 * cap > *len + need ? 2 * cap : *len + need;
            char *nb = ffr_realloc(*buf, nc);
            if (!nb) { free(*buf); *buf = NULL; *len = 0; return FFR_ERR_NOMEM; }
            *buf = nb; cap = nc;
        }
        char *p = *buf + *len;
        *len += chunk_pack(net, &h, st, r0, m, tr, &p);
    }
    return FFR_OK;
}

ffr_status ffr_relax_comm(const ffr_net *net, const float *x, int B, const ffr_relax_opts *o, ffr_state *st,
                          ffr_trace **trace_out, const ffr_comm *comm, ffr_err *err) {
    if (!comm || comm->size <= 1) return ffr_relax(net, x, B, o, st, trace_out, err);
    if (trace_out) *trace_out = NULL;
    int P = comm->size, chunk = FFR_RELAX_CHUNK < B ? FFR_RELAX_CHUNK : B;
    int *starts = ffr_malloc(((size_t)B + 2) * sizeof(int));
    size_t *sz = ffr_malloc(2 * (size_t)P * sizeof(size_t));
    ffr_relaxer *rx = NULL;
    ffr_status rc = starts && sz ? ffr_relaxer_create(&rx, net, o, chunk, err)
                                 : ffr_fail(err, FFR_ERR_NOMEM, "out of memory for %d examples over %d ranks", B, P);
    if (!rc && (st->B != B || st->L != net->L))
        rc = ffr_fail(err, FFR_ERR_ARG, "state: expected %d examples and %d layers, found %d and %d", B, net->L, st->B, st->L);
    char *mine = NULL, *all = NULL;
    ffr_trace_merge *g = NULL;
    double *scratch = NULL;
    size_t len = 0, total = 0;
    int nchunks = 0;
    if (!rc) {
        nchunks = chunk_starts(B, chunk, starts);
        size_t c0, c1;
        ffr_comm_shard((size_t)nchunks, 1, comm->rank, P, &c0, &c1);
        if (relax_mine(net, x, o, st, rx, starts, nchunks, (int)c0, (int)c1, &mine, &len))
            rc = ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the results of %d examples", B);
    }
    if ((rc = ffr_comm_agree(comm, rc, err))) goto done;
    /* every rank's packs, in rank order = chunk order */
    if (comm->allgather(comm->ctx, &len, sizeof len, sz)) { rc = ffr_fail(err, FFR_ERR_IO, "rank %d: a collective failed", comm->rank); goto done; }
    for (int p = 0; p < P; p++) { sz[P + p] = total; total += sz[p]; }
    all = ffr_malloc(total + 1);
    rc = ffr_comm_agree(comm, all ? FFR_OK : ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the results of %d examples", B), err);
    if (rc) goto done;
    if (comm->allgatherv(comm->ctx, mine, all, sz, sz + P)) { rc = ffr_fail(err, FFR_ERR_IO, "rank %d: a collective failed", comm->rank); goto done; }
    /* merge in chunk order, as ffr_relax_rows */
    if (nchunks > 1) {
        g = ffr_trace_merge_new(B, net->L, o->max_sweeps);
        scratch = ffr_calloc((size_t)B, sizeof(double));
        if (!g || !scratch) rc = ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the trace of %d examples", B);
    }
    ffr_trace *one = NULL; /* one chunk: its trace as it is */
    const char *p = all;
    for (int c = 0; c < nchunks && !rc; c++) {
        int r0 = starts[c], m = starts[c + 1] - r0;
        chunk_hdr h;
        get(&p, &h, sizeof h);
        if (h.ran)
            for (int k = 0; k <= net->L; k++)
                get(&p, st->s[k] + (size_t)r0 * net->n[k], (size_t)m * net->n[k] * sizeof(float));
        ffr_status rr = (ffr_status)h.status;
        if (h.has_trace) {
            ffr_trace *t = trace_unpack(&p);
            if (!t) rr = ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the trace of %d examples", B);
            else if (nchunks == 1) one = t;
            else {
                if (ffr_trace_merge_add(g, t, r0)) rr = ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the trace of %d examples", B);
                ffr_trace_free(t);
            }
        }
        if (h.status) ffr_fail(err, rr, "%s", h.msg);
        rc = rr;
    }
    if (nchunks == 1) {
        if (trace_out) *trace_out = one;
        else ffr_trace_free(one);
    } else {
        ffr_trace *mt = g && scratch ? ffr_trace_merge_finish(g, o->measure_every, scratch) : NULL;
        if (!mt && !rc) rc = ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the trace of %d examples", B);
        if (trace_out) *trace_out = mt;
        else ffr_trace_free(mt);
    }
done:
    free(scratch);
    ffr_trace_merge_free(g);
    free(mine); free(all); free(starts); free(sz);
    ffr_relaxer_free(rx);
    return rc;
}
