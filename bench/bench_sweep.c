/* bench_sweep.c - verify, then time, one odd/even sweep of the relaxation
 * engine against the BLAS ceiling on exactly the products the sweep does.
 *
 * Networks: 784-500-500-500 and 784-1000-1000-1000, dendritic (Eq. 16), hard
 * sigmoid, tied (V_k = W_k^T), Glorot weights (seed 1), random offsets, inputs
 * uniform in [0,1) (seed 2) clamped on layer 0; direct updates (eps = 1),
 * odd/even schedule, tol 0, measure_every 0.
 *
 * Verification (before any timing; the exit code is the verdict):
 *   1. the engine against a naive double-precision sweep (plain loops,
 *      doc/math.md) on B = 1 and 7: max |diff| / (1 + |ref|) < 1e-4;
 *   2. the engine against a plain C sweep over the same ffr_gemm calls and a
 *      scalar elementwise loop (B = 1, 7, 256): bit-identical states.
 *
 * Timing: one ffr_relax run of S sweeps is one repeat; its time per sweep is
 * (t_S - t_1) / (S - 1) from the progress callback's timestamps, so the start,
 * the feedforward pass, the start/end measurements and allocation are not
 * counted. Median, min and max over the repeats. Two ceilings are timed on
 * exactly the products of one sweep (same shapes, alpha, beta, buffers): the
 * BLAS's cblas_sgemm alone ("sgemm"), and ffrelax's kernel (AVX-512 or AVX2) alone on
 * the weights packed once ("kern"), which is what the engine runs when the
 * CPU has AVX-512F or AVX2+FMA.
 *
 * Peak: a microbenchmark of fused multiply-adds alone (12 independent chains
 * per thread in vector registers, the widest the kernel uses: AVX-512 or
 * AVX2), the best of 7 runs on 1 and 2 threads through the library's pool;
 * each line reports the sweep's rate as a fraction of the measured peak at
 * its thread count (frac_peak).
 *
 * One line per shape: ms per sweep (median/min/max), GFLOP/s on the FLOPs
 * done and on the naive count (every product of the sweep recomputed, the
 * clamped W_1 r_0 included), each ceiling's time and rate, and the fraction of
 * its rate the sweep reaches (ceiling time / sweep time), the gemm and threads.
 *
 * usage: bench_sweep [--quick] [--reps N] [--threads 1,2] [--batches 1,32,...]
 *                    [--sizes 500,1000] [--csv FILE] [--precision fp32|bf16]
 *        bench_sweep --export DIR H B   (network 784-H-H-H and B inputs as .npy,
 *                                         for scripts/bench_torch.py)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ffrelax.h"
#include "internal.h" /* the kernel's packed entry, to time it alone */
#include "parallel.h"
#ifdef FFR_USE_BLAS
#include <cblas.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp_d);
    return n & 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static ffr_net *make_net(int h) {
    int n[4] = {784, h, h, h};
    ffr_net *net;
    ffr_err e;
    if (ffr_net_create(&net, 3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e)) {
        fprintf(stderr, "bench_sweep: %s\n", e.msg);
        exit(1);
    }
    ffr_net_init_glorot(net, 1, 1.0f);
    ffr_rng r;
    ffr_rng_seed(&r, 3);
    for (int k = 1; k <= 3; k++)
        for (int j = 0; j < n[k]; j++) net->b[k][j] = (float)(0.1 * ffr_rng_normal(&r));
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < n[k]; j++) net->c[k][j] = (float)(0.1 * ffr_rng_normal(&r));
    return net;
}

static float *make_x(int B, int n0) {
    float *x = malloc(sizeof(float) * (size_t)B * n0);
    ffr_rng r;
    ffr_rng_seed(&r, 2);
    for (size_t i = 0; i < (size_t)B * n0; i++) x[i] = (float)ffr_rng_uniform(&r);
    return x;
}

static ffr_precision g_prec = FFR_PREC_FP32; /* --precision: the engine's and the kernel ceiling's */

static void relax_opts(ffr_relax_opts *o, int sweeps) {
    ffr_relax_opts_default(o);
    o->precision = g_prec;
    o->init = FFR_INIT_FF;
    o->schedule = FFR_SCHED_ODD_EVEN;
    o->max_sweeps = sweeps;
    o->tol = 0;
    o->measure_every = 0;
    o->diverge_factor = 0;
}

static float hs(float s) { return s < 0.f ? 0.f : (s > 1.f ? 1.f : s); }

/* ---- the plain C sweep over ffr_gemm: the products in the engine's order
 * (doc/math.md, dendritic, tied, layer 0 clamped, top free), then a scalar
 * loop. S[k], R[k], T[k] are (B, n_k). cup is R_0 W_1^T (B, n_1). */
typedef struct {
    const ffr_net *net;
    int B;
    float *S[4], *R[4], *T[4], *cup, *bias[4], cu[4], cd[4];
    float *pup[4], *pdn[4]; /* W_k^T and W_{k+1} packed for the kernel (when it is in use) */
    uint32_t *pup16[4], *pdn16[4]; /* the same in bf16 (--precision bf16) */
} plain_t;

static void plain_init(plain_t *p, const ffr_net *net, const float *x, int B) {
    memset(p, 0, sizeof *p);
    p->net = net; p->B = B;
    for (int k = 0; k <= 3; k++) {
        size_t sz = (size_t)B * net->n[k];
        p->S[k] = calloc(sz, sizeof(float)); p->R[k] = calloc(sz, sizeof(float));
        p->T[k] = calloc(sz, sizeof(float)); p->bias[k] = calloc(net->n[k], sizeof(float));
        float au = k >= 1 ? net->alpha_up[k] : 0.f, ad = k < 3 ? net->alpha_down[k] : 0.f;
        p->cu[k] = au / (au + ad); p->cd[k] = ad / (au + ad);
        for (int j = 0; j < net->n[k]; j++)
            p->bias[k][j] = (k >= 1 ? p->cu[k] * net->b[k][j] : 0.f) + (k < 3 ? p->cd[k] * net->c[k][j] : 0.f);
    }
    p->cup = calloc((size_t)B * net->n[1], sizeof(float));
    ffr_state *st;
    ffr_err e;
    ffr_state_create(&st, net, B, &e);
    ffr_feedforward(net, x, B, st); /* Eq. 17 */
    for (int k = 0; k <= 3; k++)
        for (size_t i = 0; i < (size_t)B * net->n[k]; i++) { p->S[k][i] = st->s[k][i]; p->R[k][i] = hs(st->s[k][i]); }
    ffr_state_free(st);
    ffr_gemm(0, 1, B, net->n[1], net->n[0], 1.f, p->R[0], net->n[0], net->W[1], net->n[0], 0.f, p->cup, net->n[1]);
    if (ffr_gemm_uses_fast())
        for (int k = 1; k <= 3; k++) {
            int lo = net->n[k - 1], n = net->n[k];
            p->pup[k] = aligned_alloc(64, ffr_gemm_pack_floats(n, lo) * sizeof(float));
            ffr_gemm_pack(p->pup[k], 1, n, lo, net->W[k], lo);
            if (k < 3) {
                int hi = net->n[k + 1];
                p->pdn[k] = aligned_alloc(64, ffr_gemm_pack_floats(n, hi) * sizeof(float));
                ffr_gemm_pack(p->pdn[k], 0, n, hi, net->W[k + 1], n);
            }
            if (g_prec == FFR_PREC_BF16 && ffr_bf16_available()) {
                p->pup16[k] = aligned_alloc(64, ffr_gemm_pack_bf16_words(n, lo) * 4);
                ffr_gemm_pack_bf16(p->pup16[k], 1, n, lo, net->W[k], lo);
                if (k < 3) {
                    int hi = net->n[k + 1];
                    p->pdn16[k] = aligned_alloc(64, ffr_gemm_pack_bf16_words(n, hi) * 4);
                    ffr_gemm_pack_bf16(p->pdn16[k], 0, n, hi, net->W[k + 1], n);
                }
            }
        }
}

static void plain_free(plain_t *p) {
    for (int k = 0; k <= 3; k++) { free(p->S[k]); free(p->R[k]); free(p->T[k]); free(p->bias[k]); free(p->pup[k]); free(p->pdn[k]); free(p->pup16[k]); free(p->pdn16[k]); }
    free(p->cup);
}

/* The products of one layer (k = 1..3) into T[k]. */
static void plain_products(plain_t *p, int k) {
    const ffr_net *net = p->net;
    int B = p->B, lo = net->n[k - 1], n = net->n[k];
    float beta = 0.f;
    if (k >= 2) { ffr_gemm(0, 1, B, n, lo, p->cu[k], p->R[k - 1], lo, net->W[k], lo, 0.f, p->T[k], n); beta = 1.f; }
    if (k < 3) {
        int hi = net->n[k + 1];
        ffr_gemm(0, 0, B, n, hi, p->cd[k], p->R[k + 1], hi, net->W[k + 1], n, beta, p->T[k], n);
    }
}

/* The same products through one backend alone: 0 = the BLAS's sgemm (cblas),
 * 1 = ffrelax's kernel on the weights packed once (what the engine does). */
static void backend_products(plain_t *p, int k, int which) {
    const ffr_net *net = p->net;
    int B = p->B, lo = net->n[k - 1], n = net->n[k];
    float beta = 0.f;
    if (which == 1 && p->pup16[1]) {
        if (k >= 2) { ffr_gemm_packed_bf16(0, B, n, lo, p->cu[k], p->R[k - 1], lo, p->pup16[k], 0.f, p->T[k], n); beta = 1.f; }
        if (k < 3) ffr_gemm_packed_bf16(0, B, n, net->n[k + 1], p->cd[k], p->R[k + 1], net->n[k + 1], p->pdn16[k], beta, p->T[k], n);
        return;
    }
    if (which == 1 && p->pup[1]) {
        if (k >= 2) { ffr_gemm_packed(0, 0, B, n, lo, p->cu[k], p->R[k - 1], lo, p->pup[k], 0.f, p->T[k], n); beta = 1.f; }
        if (k < 3) ffr_gemm_packed(0, 0, B, n, net->n[k + 1], p->cd[k], p->R[k + 1], net->n[k + 1], p->pdn[k], beta, p->T[k], n);
        return;
    }
#ifdef FFR_USE_BLAS
    if (k >= 2) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n, lo, p->cu[k], p->R[k - 1], lo, net->W[k], lo, 0.f, p->T[k], n);
        beta = 1.f;
    }
    if (k < 3) {
        int hi = net->n[k + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n, hi, p->cd[k], p->R[k + 1], hi, net->W[k + 1], n, beta, p->T[k], n);
    }
#else
    plain_products(p, k);
#endif
}

static void plain_update(plain_t *p, int k) {
    int n = p->net->n[k];
    for (size_t i = 0; i < (size_t)p->B * n; i++) {
        int j = (int)(i % n);
        float v = p->T[k][i] + p->bias[k][j];
        if (k == 1) v += p->cu[1] * p->cup[i];
        float sn = 0.f * p->S[k][i] + 1.f * v; /* Eq. 9 with eps = 1, as the engine writes it */
        p->S[k][i] = sn;
        p->R[k][i] = hs(sn);
    }
}

static void plain_sweep(plain_t *p) {
    plain_products(p, 1); plain_products(p, 3);
    plain_update(p, 1); plain_update(p, 3);
    plain_products(p, 2);
    plain_update(p, 2);
}

/* ---- the naive double-precision reference: one example, odd/even sweeps */
static void naive_relax(const ffr_net *net, const float *x, int sweeps, double **s) {
    int L = 3;
    for (int j = 0; j < net->n[0]; j++) s[0][j] = x[j];
    for (int k = 1; k <= L; k++) /* Eq. 17 */
        for (int i = 0; i < net->n[k]; i++) {
            double f = net->b[k][i];
            for (int j = 0; j < net->n[k - 1]; j++) f += (double)net->W[k][(size_t)i * net->n[k - 1] + j] * hs((float)s[k - 1][j]);
            s[k][i] = (float)f;
        }
    for (int t = 0; t < sweeps; t++)
        for (int par = 1; par >= 0; par--)
            for (int k = 1; k <= L; k++) {
                if ((k & 1) != par) continue;
                for (int i = 0; i < net->n[k]; i++) {
                    double f = net->b[k][i], g = k < L ? net->c[k][i] : 0;
                    for (int j = 0; j < net->n[k - 1]; j++) f += (double)net->W[k][(size_t)i * net->n[k - 1] + j] * hs((float)s[k - 1][j]);
                    if (k < L)
                        for (int j = 0; j < net->n[k + 1]; j++) g += (double)net->W[k + 1][(size_t)j * net->n[k] + i] * hs((float)s[k + 1][j]);
                    double au = net->alpha_up[k], ad = k < L ? net->alpha_down[k] : 0;
                    s[k][i] = (au * f + ad * g) / (au + ad); /* Eq. 16 */
                }
            }
}

static int verify(const ffr_net *net) {
    int fails = 0, sweeps = 5;
    int Bs[] = {1, 7, 256};
    for (int bi = 0; bi < 3; bi++) {
        int B = Bs[bi];
        float *x = make_x(B, net->n[0]);
        ffr_relax_opts o;
        relax_opts(&o, sweeps);
        ffr_state *st;
        ffr_err e;
        ffr_state_create(&st, net, B, &e);
        if (ffr_relax(net, x, B, &o, st, NULL, &e)) { fprintf(stderr, "verify: %s\n", e.msg); return 1; }
        plain_t p;
        plain_init(&p, net, x, B);
        for (int t = 0; t < sweeps; t++) plain_sweep(&p);
        int same = 1;
        if (g_prec == FFR_PREC_BF16) { /* bf16: close to the fp32 engine, not equal */
            ffr_state *s32;
            ffr_state_create(&s32, net, B, &e);
            o.precision = FFR_PREC_FP32;
            if (ffr_relax(net, x, B, &o, s32, NULL, &e)) { fprintf(stderr, "verify: %s\n", e.msg); return 1; }
            double md = 0;
            for (int k = 1; k <= 3; k++)
                for (size_t i = 0; i < (size_t)B * net->n[k]; i++) md = fmax(md, fabs(st->s[k][i] - s32->s[k][i]) / (1 + fabs(s32->s[k][i])));
            int ok = md < 5e-2 && md > 0;
            printf("# verify %d-%d x3 B=%-4d bf16 engine vs fp32 engine, %d sweeps: max rel diff %.2e %s\n", net->n[0], net->n[1],
                   B, sweeps, md, ok ? "PASS" : "FAIL");
            fails += !ok;
            ffr_state_free(s32);
            plain_free(&p);
            ffr_state_free(st);
            free(x);
            continue;
        }
        for (int k = 1; k <= 3; k++) same &= !memcmp(p.S[k], st->s[k], sizeof(float) * (size_t)B * net->n[k]);
        printf("# verify %d-%d x3 B=%-4d engine vs plain cblas sweep, %d sweeps: %s\n", net->n[0], net->n[1], B,
               sweeps, same ? "bit-identical PASS" : "DIFFERENT FAIL");
        fails += !same;
        if (B <= 7) {
            double md = 0, mx = 0;
            double *s[4];
            for (int k = 0; k <= 3; k++) s[k] = malloc(sizeof(double) * net->n[k]);
            for (int b = 0; b < B; b++) {
                naive_relax(net, x + (size_t)b * net->n[0], sweeps, s);
                for (int k = 1; k <= 3; k++)
                    for (int i = 0; i < net->n[k]; i++) {
                        double v = st->s[k][(size_t)b * net->n[k] + i];
                        md = fmax(md, fabs(v - s[k][i]) / (1 + fabs(s[k][i])));
                        mx = fmax(mx, fabs(s[k][i]));
                    }
            }
            int ok = md < 1e-4 && mx > 0.1;
            printf("# verify %d-%d x3 B=%-4d engine vs naive double loops: max rel diff %.2e (max |s| %.3g) %s\n",
                   net->n[0], net->n[1], B, md, mx, ok ? "PASS" : "FAIL");
            fails += !ok;
            for (int k = 0; k <= 3; k++) free(s[k]);
        }
        plain_free(&p);
        ffr_state_free(st);
        free(x);
    }
    return fails;
}

/* ---- timing */
typedef struct { double t[64]; int n; } stamps;

static int stamp_cb(void *ctx, int sweep, int n_active, double step_mean) {
    (void)n_active; (void)step_mean;
    stamps *s = ctx;
    if (sweep - 1 < 64) s->t[sweep - 1] = now();
    s->n = sweep;
    return 0;
}

typedef struct { double med, min, max; } stat3;

static stat3 stats(double *v, int n) {
    stat3 s;
    s.min = s.max = v[0];
    for (int i = 1; i < n; i++) { s.min = fmin(s.min, v[i]); s.max = fmax(s.max, v[i]); }
    s.med = median(v, n);
    return s;
}

/* One repeat of each, interleaved so that both see the same machine load:
 * the engine (one run of a relaxer of B rows, `sweeps` sweeps, timed between
 * the progress callbacks of sweep 1 and sweep S; not ffr_relax, which relaxes
 * more than 256 rows in chunks, each with its own sweeps 1..S) and the products of one sweep alone (the
 * same ffr_gemm calls on the plain sweep's buffers, S - 1 times). */
static void time_both(const ffr_net *net, const float *x, int B, int sweeps, int reps, stat3 *eng, stat3 *gem, stat3 *ker) {
    ffr_relax_opts o;
    relax_opts(&o, sweeps);
    stamps sp;
    o.progress = stamp_cb;
    o.progress_ctx = &sp;
    ffr_state *st;
    ffr_err e;
    ffr_relaxer *rx;
    if (ffr_state_create(&st, net, B, &e) || ffr_relaxer_create(&rx, net, &o, B, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    plain_t p;
    plain_init(&p, net, x, B);
    backend_products(&p, 1, 0); backend_products(&p, 1, 1); /* warm up */
    double ve[64], vg[64], vk[64];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int t = 0; t < sweeps - 1; t++) { backend_products(&p, 1, 0); backend_products(&p, 3, 0); backend_products(&p, 2, 0); }
        vg[r] = (now() - t0) / (sweeps - 1);
        t0 = now();
        for (int t = 0; t < sweeps - 1; t++) { backend_products(&p, 1, 1); backend_products(&p, 3, 1); backend_products(&p, 2, 1); }
        vk[r] = (now() - t0) / (sweeps - 1);
        sp.n = 0;
        if (ffr_relaxer_run(rx, x, B, st, NULL, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
        ve[r] = (sp.t[sweeps - 1] - sp.t[0]) / (sweeps - 1);
    }
    plain_free(&p);
    ffr_relaxer_free(rx);
    ffr_state_free(st);
    *eng = stats(ve, reps);
    *gem = stats(vg, reps);
    *ker = stats(vk, reps);
}

/* ---- the measured FMA peak */
#define PEAK_ITERS 2000000L
typedef struct { int wide; double sink[FFR_THREADS_MAX]; } peak_job;
#if defined(__x86_64__) && defined(__GNUC__)
#define PEAK_CHAINS(T, FMA, SET1, ADD, X)                                                            \
    T a0 = SET1(1.f), a1 = SET1(1.1f), a2 = SET1(1.2f), a3 = SET1(1.3f), a4 = SET1(1.4f), a5 = SET1(1.5f); \
    T a6 = SET1(1.6f), a7 = SET1(1.7f), a8 = SET1(1.8f), a9 = SET1(1.9f), a10 = SET1(2.f), a11 = SET1(2.1f); \
    T m = SET1(0.999999f), c = SET1(1e-6f);                                                          \
    for (long i = 0; i < PEAK_ITERS; i++) {                                                          \
        a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);              \
        a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);              \
        a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);          \
    }                                                                                                \
    T t = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                         \
    t = ADD(t, ADD(ADD(a8, a9), ADD(a10, a11)));                                                     \
    X
__attribute__((target("avx512f"))) static double peak512(void) {
    PEAK_CHAINS(__m512, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_add_ps, return _mm512_reduce_add_ps(t);)
}
__attribute__((target("avx2,fma"))) static double peak256(void) {
    PEAK_CHAINS(__m256, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_add_ps, float v[8]; _mm256_storeu_ps(v, t); return v[0];)
}
#endif
static void peak_part(void *ctx, int t, int nt) {
    (void)nt;
    peak_job *j = ctx;
#if defined(__x86_64__) && defined(__GNUC__)
    j->sink[t] = j->wide == 16 ? peak512() : j->wide == 8 ? peak256() : 0;
#endif
}
/* GFLOP/s of nt threads of FMAs (best of 7); lanes: 16 (AVX-512), 8 (AVX2), 0 (neither: NaN). */
static double peak_gflops(int nt, int *lanes) {
    int isa = ffr_gemm_isa();
    peak_job j = {isa == 2 ? 16 : isa == 1 ? 8 : 0, {0}};
    *lanes = j.wide;
    if (!j.wide) return NAN;
    double best = 0;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        ffr_parallel(nt, peak_part, &j);
        double g = 2.0 * 12 * j.wide * PEAK_ITERS * nt / (now() - t0) * 1e-9;
        best = g > best ? g : best;
    }
    return best;
}

/* "OpenBLAS 0.3.21 ... Cooperlake MAX_THREADS=64, 2 threads" -> "OpenBLAS-0.3.21-pthread-Cooperlake" */
static void blas_short(char *out, size_t sz) {
    const char *info = ffr_blas_info();
    char ver[32] = "", arch[32] = "";
    int avx2 = !strncmp(info, "ffrelax AVX2+FMA", 16);
    if (!strncmp(info, "ffrelax AVX-512", 15) || avx2) {
        const char *ob = strstr(info, "OpenBLAS ");
        if (ob && sscanf(ob, "OpenBLAS %31s", ver) == 1) {
            const char *m = strstr(ob, " MAX_THREADS");
            const char *a = m;
            while (a && a > ob && a[-1] != ' ') a--;
            if (m) snprintf(arch, sizeof arch, "%.*s", (int)(m - a), a);
        }
        snprintf(out, sz, "ffrelax-%s (sgemm: OpenBLAS-%s-%s)", avx2 ? "avx2" : "avx512", ver, arch);
    } else if (sscanf(info, "OpenBLAS %31s", ver) == 1) {
        const char *m = strstr(info, " MAX_THREADS");
        if (m) {
            const char *a = m;
            while (a > info && a[-1] != ' ') a--;
            snprintf(arch, sizeof arch, "%.*s", (int)(m - a), a);
        }
        snprintf(out, sz, "OpenBLAS-%s-%s-%s", ver, strstr(info, "USE_OPENMP") ? "openmp" : "pthread", arch);
    } else snprintf(out, sz, "%.60s", info);
}

/* Write the benchmark's network (DIR/W1.npy ...) and inputs (DIR/x.npy, B x n0)
 * and the engine's state after 5 sweeps of the first 7 inputs (DIR/ref_state{1,2,3}.npy)
 * for scripts/bench_torch.py. */
static int export_dir(const char *dir, int h, int B) {
    ffr_net *net = make_net(h);
    ffr_err e;
    char p[4096];
    if (ffr_net_export_npy(net, dir, &e)) { fprintf(stderr, "bench_sweep: %s\n", e.msg); return 1; }
    float *x = make_x(B, net->n[0]);
    size_t sh[2] = {(size_t)B, (size_t)net->n[0]};
    snprintf(p, sizeof p, "%s/x.npy", dir);
    if (ffr_npy_write(p, x, 'f', 2, sh, &e)) { fprintf(stderr, "bench_sweep: %s\n", e.msg); return 1; }
    int Bv = B < 7 ? B : 7;
    ffr_relax_opts o;
    relax_opts(&o, 5);
    ffr_state *st;
    ffr_state_create(&st, net, Bv, &e);
    if (ffr_relax(net, x, Bv, &o, st, NULL, &e)) { fprintf(stderr, "bench_sweep: %s\n", e.msg); return 1; }
    for (int k = 1; k <= 3; k++) {
        size_t s2[2] = {(size_t)Bv, (size_t)net->n[k]};
        snprintf(p, sizeof p, "%s/ref_state%d.npy", dir, k);
        if (ffr_npy_write(p, st->s[k], 'f', 2, s2, &e)) { fprintf(stderr, "bench_sweep: %s\n", e.msg); return 1; }
    }
    ffr_state_free(st);
    free(x);
    ffr_net_free(net);
    return 0;
}

static int parse_list(const char *s, int *v, int max) {
    int n = 0;
    while (*s && n < max) {
        v[n++] = atoi(s);
        const char *c = strchr(s, ',');
        if (!c) break;
        s = c + 1;
    }
    return n;
}

int main(int argc, char **argv) {
    int batches[8] = {1, 32, 256, 1000, 10000}, nb = 5;
    int threads[4] = {1, 2}, nt = 2;
    int sizes[4] = {500, 1000}, ns = 2;
    int reps = 5;
    const char *csv = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) nb = 4;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) nt = parse_list(argv[++i], threads, 4);
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) nb = parse_list(argv[++i], batches, 8);
        else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) ns = parse_list(argv[++i], sizes, 4);
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv = argv[++i];
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            if (ffr_precision_parse(argv[++i], &g_prec)) { fprintf(stderr, "bench_sweep: --precision fp32|bf16\n"); return 2; }
            if (g_prec == FFR_PREC_BF16 && !ffr_bf16_available()) { fprintf(stderr, "bench_sweep: this CPU has no AVX512_BF16\n"); return 2; }
        }
        else if (!strcmp(argv[i], "--export") && i + 3 < argc) /* --export DIR H B */
            return export_dir(argv[i + 1], atoi(argv[i + 2]), atoi(argv[i + 3]));
        else {
            fprintf(stderr, "usage: bench_sweep [--quick] [--reps N] [--threads 1,2] [--batches 1,32,256,1000,10000]\n"
                            "                   [--sizes 500,1000] [--csv FILE] [--precision fp32|bf16]\n");
            return 2;
        }
    }
    if (reps < 5) reps = 5;
    if (reps > 64) reps = 64;
    FILE *cf = csv ? fopen(csv, "w") : NULL;
    if (cf) fprintf(cf, "shape,B,threads,ms_med,ms_min,ms_max,gflops_done,gflops_naive,sgemm_ms,sgemm_gflops,frac_sgemm,kernel_ms,kernel_gflops,frac_kernel,peak_gflops,frac_peak,blas\n");
    int fails = 0;
    ffr_set_threads(2);
    for (int si = 0; si < ns; si++) {
        ffr_net *net = make_net(sizes[si]);
        fails += verify(net);
        ffr_net_free(net);
    }
    if (fails) { printf("bench_sweep: verification FAILED (%d); no timing\n", fails); return 1; }
    printf("# %s; products in %s\n", ffr_blas_info(), ffr_precision_name(g_prec));
    double peak[3] = {NAN, NAN, NAN};
    int lanes = 0;
    for (int t = 1; t <= 2; t++) peak[t] = peak_gflops(t, &lanes);
    printf("# measured FMA peak (%d-lane fp32 FMAs, 12 chains per thread): 1 thread %.1f GFLOP/s, 2 threads %.1f GFLOP/s\n",
           lanes, peak[1], peak[2]);
    printf("# sgemm: the BLAS's cblas_sgemm alone on the sweep's products; kernel: ffrelax's kernel alone on them\n"
           "# (weights packed once, as in the engine); frac = that time / the sweep's time\n");
    printf("%-18s %6s %3s %9s %9s %9s %8s %8s %9s %8s %6s %9s %8s %6s %6s  %s\n", "shape", "B", "thr", "ms_med", "ms_min",
           "ms_max", "GF/s", "GF/s_nv", "sgemm_ms", "sgemm_GF", "frac", "kern_ms", "kern_GF", "frac", "f_peak", "gemm, threads");
    for (int si = 0; si < ns; si++) {
        ffr_net *net = make_net(sizes[si]);
        const int *n = net->n;
        double done = 2.0 * (2.0 * n[1] * n[2] + 2.0 * n[2] * n[3]); /* per example per sweep */
        double naive = done + 2.0 * n[0] * n[1];
        for (int bi = 0; bi < nb; bi++) {
            int B = batches[bi];
            float *x = make_x(B, n[0]);
            int sweeps = B <= 32 ? 40 : B <= 1000 ? 8 : 4;
            for (int ti = 0; ti < nt; ti++) {
                ffr_set_threads(threads[ti]);
                stat3 g, s, kk;
                time_both(net, x, B, sweeps, reps, &s, &g, &kk);
                char blas[96];
                blas_short(blas, sizeof blas);
                char shape[32];
                snprintf(shape, sizeof shape, "%d-%dx3", n[0], n[1]);
                double gf = done * B / s.med * 1e-9, gfn = naive * B / s.med * 1e-9, gg = done * B / g.med * 1e-9;
                double gk = done * B / kk.med * 1e-9;
                double pk = threads[ti] <= 2 ? peak[threads[ti]] : NAN;
                printf("%-18s %6d %3d %9.3f %9.3f %9.3f %8.1f %8.1f %9.3f %8.1f %6.3f %9.3f %8.1f %6.3f %6.3f  %s, %d thr\n", shape, B,
                       threads[ti], s.med * 1e3, s.min * 1e3, s.max * 1e3, gf, gfn, g.med * 1e3, gg, g.med / s.med,
                       kk.med * 1e3, gk, kk.med / s.med, gf / pk, blas, threads[ti]);
                fflush(stdout);
                if (cf)
                    fprintf(cf, "%s,%d,%d,%.4f,%.4f,%.4f,%.2f,%.2f,%.4f,%.2f,%.4f,%.4f,%.2f,%.4f,%.2f,%.4f,\"%s\"\n", shape, B,
                            threads[ti], s.med * 1e3, s.min * 1e3, s.max * 1e3, gf, gfn, g.med * 1e3, gg, g.med / s.med,
                            kk.med * 1e3, gk, kk.med / s.med, pk, gf / pk, blas);
            }
            free(x);
        }
        ffr_net_free(net);
    }
    if (cf) fclose(cf);
    return 0;
}
