/* relax_internal.h - the relaxer shared by the parts of the relaxation:
 *   relax.c          the driver (Eq. 9 in named steps), options, ffr_relax
 *   relax_setup.c    the relaxer's life: create, options, weights, workspaces;
 *                    the products and the start (Eq. 17)
 *   relax_update.c   the elementwise pass of Eq. 9 (C reference, AVX-512 twin,
 *                    fused into the product)
 *   relax_measure.c  measurements (energy, residual, Eq. 18, Eq. 22) and the trace
 *   relax_anderson.c Anderson acceleration of the sweep map
 * Not installed. */
#ifndef FFR_RELAX_INTERNAL_H
#define FFR_RELAX_INTERNAL_H

#include "internal.h"

/* Coefficients of the rule for layer k: target u = cu * (W_k r_{k-1}) + cd * (V_{k+1} r_{k+1}) + bias,
 * then F = ffr_rule_F(u). Dendritic (Eq. 16): cu = a_up / kappa, cd = a_down / kappa,
 * bias = (a_up b_k + a_down c_k) / kappa, kappa = sum of the gains present.
 * Hopfield and Boltzmann: total input f_k + g_{k+1}, cu = cd = 1. */
typedef struct {
    float cu[FFR_MAX_LAYERS], cd[FFR_MAX_LAYERS];
    float *bias[FFR_MAX_LAYERS]; /* (n_k) */
} ffr_coefs;
void ffr_coefs_fill(const ffr_net *net, ffr_coefs *c);

/* The weights packed for the kernel (gemm.c): fp32 (up, dn) or bf16 (up16,
 * dn16); all NULL: every product goes to ffr_gemm. With bf16, up also holds
 * fp32 W_k for the feedforward start (Eq. 17 runs in fp32). */
typedef struct {
    float *up[FFR_MAX_LAYERS], *dn[FFR_MAX_LAYERS];
    uint32_t *up16[FFR_MAX_LAYERS], *dn16[FFR_MAX_LAYERS];
} ffr_packs;

/* Rows per measuring evaluation: the measuring buffers hold this many rows,
 * not B, so that measuring costs no memory in proportion to the batch. */
#define FFR_MEASURE_ROWS 128

/* The relaxer: everything a run needs, allocated at create (or when options
 * need more), never inside a run except the trace's per-sweep rows when a run
 * needs more sweeps than any before. */
struct ffr_relaxer {
    const ffr_net *net;         /* the caller's network (const; ffr_relaxer_update after a change) */
    ffr_relax_opts o;           /* the options in force */
    int opts_ok;                /* 0 after a failed ffr_relaxer_set_opts: runs refused until one succeeds */
    int maxB, L;
    int B, nact, nt;            /* this run: examples, active rows, threads */
    int row0;                   /* the run's first example in a chunked ffr_relax (its seeds), else 0 */
    float *R[FFR_MAX_LAYERS];   /* rates (maxB, n_k) */
    float *T[FFR_MAX_LAYERS];   /* targets (maxB, n_k) */
    float *mf[FFR_MAX_LAYERS], *mg[FFR_MAX_LAYERS]; /* measuring buffers (F goes to T: free between sweeps) */
    float *S0[FFR_MAX_LAYERS];  /* start state, caller's order: only for init given (s0buf); the other
                                   starts are recomputed at the end, into T (relax.c, finish) */
    void *s0buf;
    float *cup, *cdown;         /* cached W_1 r_0 (maxB, n_1) and V_L r_L (maxB, n_{L-1}); NULL when unused */
    int use_cup, use_cdown;     /* this option set caches them */
    int cup_rows;               /* cup holds W_1 r_0 of the last run's rows (caller's order); 0: not valid */
    int same_input;             /* ffr_relaxer_same_input: the next run may reuse cup */
    ffr_packs pk;               /* the packs filled for the current weights (NULL: not filled, or no kernel) */
    ffr_packs pkall;            /* where every pack lives in packbuf; each is filled when a run first needs it */
    void *packbuf;
    int packed_bf16;            /* the packs hold bf16 products (1) or fp32 (0) */
    int free_layer[FFR_MAX_LAYERS];
    const unsigned char *mask;  /* layer 0 mask (1 = clamped), NULL: layer 0 all clamped */
    int *perm;                  /* row -> example */
    ffr_rng *rng;               /* per row */
    double *step2, *rstep2, *norm2, *scratch, *meas;
    float *rowtmp;
    ffr_coefs cf;
    double flops;
    double beta;                /* nudging of the top layer (opts.beta); 0: none */
    const float *ytop;          /* (B, n_L) its target, caller's order (row r is example perm[r]) */
    void *blocks[5];
    /* Anderson acceleration (opts.anderson = m > 0): per example (indexed by perm[row], so
     * the active-set swaps leave it in place), the last m + 1 pairs of the sweep map's
     * residual f_j = G(x_j) - x_j and output g_j over the free layers, slot-major
     * ((slot * maxB + example) * nf); the slot after the newest holds the next iterate x. */
    int aa_m, aa_nf, aa_head, aa_off[FFR_MAX_LAYERS];
    int aa_cap_m, aa_cap_nf, aa_cap_nt; /* what the buffers below hold room for */
    float *aaF, *aaG, *aatmp;   /* aatmp: one row per thread */
    double *aaFF, *aa_res;      /* (maxB, m+1, m+1) dots f_i . f_j; (maxB) previous ||f||^2 */
    int *aa_cnt;                /* (maxB) valid pairs */
    /* the trace of the last run: per-sweep rows for tr_rows sweeps (0..tr_rows-1) */
    ffr_trace *tr;
    int tr_rows;
};
typedef struct ffr_relaxer ffr_ws;

/* Is unit j of layer k free (moves)? */
static inline int ffr_unit_free(const ffr_ws *w, int k, int j) {
    if (!w->free_layer[k]) return 0;
    if (k == 0) return w->mask ? !w->mask[j] : 0;
    return 1;
}

/* relax.c: ffr_relax in chunks of at most chunk rows (<= 0: one run); ffr_relax
 * uses FFR_RELAX_CHUNK. Per-example results are bit-identical whatever chunk. */
#define FFR_RELAX_CHUNK 256
ffr_status ffr_relax_rows(const ffr_net *net, const float *x, int B, const ffr_relax_opts *o, ffr_state *st,
                          ffr_trace **trace_out, int chunk, ffr_err *err);
/* The chunks of ffr_relax_rows (also relax_comm.c, which shares them out to
 * ranks): the length of the chunk starting at row r0 of B (at most chunk,
 * never leaving a last chunk of one row: a BLAS's sgemv path rounds
 * differently), and the view of rows [r0, r0 + m): st's rows as a state of m
 * rows (no data of its own) and o with its per-example targets moved to r0. */
static inline int ffr_relax_chunk_len(int B, int r0, int chunk) {
    int m = B - r0 < chunk ? B - r0 : chunk;
    return B - r0 - m == 1 ? m - 1 : m;
}
static inline void ffr_relax_chunk_view(const ffr_net *net, const ffr_relax_opts *o, const ffr_state *st, int r0,
                                        int m, ffr_state *sv, ffr_relax_opts *oc) {
    *sv = *st;
    sv->B = m; sv->data = NULL;
    for (int k = 0; k <= net->L; k++) sv->s[k] = st->s[k] + (size_t)r0 * net->n[k];
    *oc = *o;
    if (o->top_target) oc->top_target = o->top_target + (size_t)r0 * net->n[net->L];
    if (o->nudge_target) oc->nudge_target = o->nudge_target + (size_t)r0 * net->n[net->L];
}
/* relax.c: the options' checks for a batch of up to B examples */
ffr_status ffr_relax_check_opts(const ffr_net *net, const ffr_relax_opts *o, int B, ffr_err *err);

/* relax_setup.c: (B, n_k) per layer in one block (v[k] point into it); zeroed when zero != 0 */
float *ffr_layers_alloc(const ffr_net *net, int B, float **v, int zero);
/* relax_setup.c: the products (Eq. 12, 13, 15) */
void ffr_relax_gemm_up(const ffr_net *net, const ffr_packs *pk, int nt, int k, int M, float alpha, const float *Rkm1,
                       float beta, float *Y);
void ffr_relax_gemm_down(const ffr_net *net, const ffr_packs *pk, int nt, int k, int M, float alpha, const float *Rk,
                         float beta, float *Y);
void ffr_relax_eval_branches(const ffr_net *net, const ffr_packs *pk, int nt, const ffr_coefs *cf, float *const *R, int M,
                             float **f, float **g, float **F);
/* Eq. 17 from x into st (B rows) using R as scratch; fp32 products (packs or ffr_gemm). */
void ffr_relax_feedforward(const ffr_net *net, const ffr_packs *pk, int nt, const float *x, int B, ffr_state *st,
                           float *const *R);
void ffr_ws_swap(ffr_ws *w, ffr_state *st, int r1, int r2);
/* Fill the packs the options in force need (the sweep's directions, the
 * start's, the measurements'), for the weights as they are now. No allocation. */
void ffr_relax_packs_fill(ffr_ws *w);

/* relax_update.c: the elementwise pass of Eq. 9 */
typedef struct ffr_fused ffr_fused;
/* Target products for layer k into T[k]; with fuse, the update may run in the
 * last product's epilogue: returns 1 if it did (*bad then says non-finite). */
int ffr_relax_products(ffr_ws *w, ffr_state *st, int k, int fuse, int *bad);
/* Update layer k for rows [0, nact) from T[k]; 1 if a non-finite value appeared. */
int ffr_relax_update_layer(ffr_ws *w, ffr_state *st, int k);
int ffr_relax_fused_ok(const ffr_ws *w); /* the fused pass may run (no noise, no Gibbs, fusing on) */
int ffr_relax_simd_on(void);
int ffr_relax_simd2_on(void); /* the AVX2+FMA passes: no AVX-512 pass, not turned off */

/* relax_anderson.c: Anderson's dot product and mixing sum (the vector twin
 * the CPU has, or the C loops after ffr_relax_simd(0): the same bits) */
double ffr_aa_dot(const float *a, const float *b, int n);
void ffr_aa_comb(float *x, const float *const *g, const double *c, int cnt, int n);

/* relax_measure.c */
void ffr_relax_measure(ffr_ws *w, ffr_state *st, int t, int final);
int ffr_relax_energy_rows(const ffr_net *net, float *const *S, float *const *R, float *const *f, int M, double *E,
                          double nbeta, const float *Y, const int *perm);
ffr_status ffr_trace_make(ffr_ws *w, int rows);         /* the trace with room for rows rows */
ffr_status ffr_trace_reserve(ffr_ws *w, int t, ffr_err *err); /* room for row t (grows geometrically) */
ffr_status ffr_trace_reserve_rows(ffr_ws *w, int rows); /* at least rows rows (set_opts) */
void ffr_trace_begin(ffr_ws *w);                        /* reset for a run of w->B examples */
void ffr_trace_row_reset(ffr_ws *w, int t);
double ffr_trace_sweep_stats(ffr_ws *w, int t);         /* per-example steps, mean, median, max; their sum */
void ffr_trace_finish(ffr_ws *w, ffr_state *st, float *const *S0); /* dist (from the start S0), norm, rates, totals */
/* relax_measure.c: one trace of B examples from the traces of chunks of rows
 * (ffr_relax's chunked runs): new, add each chunk's trace (its first row r0),
 * finish (scratch: B doubles; returns the trace, which leaves with the caller;
 * NULL if out of memory), free. */
typedef struct ffr_trace_merge ffr_trace_merge;
ffr_trace_merge *ffr_trace_merge_new(int B, int L, int max_sweeps);
ffr_status ffr_trace_merge_add(ffr_trace_merge *g, const ffr_trace *c, int r0);
ffr_trace *ffr_trace_merge_finish(ffr_trace_merge *g, int measure_every, double *scratch);
void ffr_trace_merge_free(ffr_trace_merge *g);

/* relax_anderson.c */
ffr_status ffr_aa_reserve(ffr_ws *w, int m, int nt, ffr_err *err);
void ffr_aa_free(ffr_ws *w);
void ffr_aa_begin(ffr_ws *w, const ffr_state *st);
void ffr_aa_step(ffr_ws *w, ffr_state *st);

#endif
