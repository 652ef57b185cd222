/* optim.c - minibatch optimizers over a flat parameter vector: SGD with
 * momentum and Adam. Moments sit at the parameters' own offsets, so a
 * trainer steps any segment (one layer's W, b, V, c) without copies.
 * Updates are elementwise and sequential: bit-identical across runs, and
 * (no FMA, correctly rounded sqrt and div) across vector widths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static const char *opt_names[] = {"sgd", "adam"};

/* ------------------------------------------------------------- kernels
 * The optimizer step is the trainers' hottest elementwise loop (as many elements
 * as parameters, every minibatch). Scalar code cannot be vectorized by the
 * compiler here (sqrtf sets errno under -O2), so the x86-64 build carries
 * SSE, AVX2 and AVX-512 twins of the reference loops, picked at run time. Every twin does the same correctly rounded operations (mul, add,
 * sub, sqrt, div; no fused multiply-add) in the same order, so all give the
 * reference's bits: results do not depend on the machine's vector width. */
typedef void (*adam_fn)(float *P, float *M, float *V, const float *G, size_t len, float wd,
                        float b1, float b2, float a, float e);

static void adam_ref(float *P, float *M, float *V, const float *G, size_t len, float wd,
                     float b1, float b2, float a, float e) {
    float ob1 = 1.f - b1, ob2 = 1.f - b2;
    for (size_t i = 0; i < len; i++) {
        float gi = G[i] + wd * P[i];
        M[i] = b1 * M[i] + ob1 * gi;
        V[i] = b2 * V[i] + ob2 * gi * gi;
        P[i] -= a * M[i] / (sqrtf(V[i]) + e);
    }
}

typedef void (*sgd_fn)(float *P, float *M, const float *G, size_t len, float wd, float mu, float lr);
static void sgd_ref(float *P, float *M, const float *G, size_t len, float wd, float mu, float lr) {
    for (size_t i = 0; i < len; i++) {
        float gi = G[i] + wd * P[i];
        M[i] = mu * M[i] - lr * gi;
        P[i] += M[i];
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(FFR_NO_SIMD)
#include <immintrin.h>
/* One body for every width; the macro's arguments name the width's intrinsics. */
#define ADAM_BODY(T, W, LD, ST, SET1, ADD, SUB, MUL, DIV, SQRT)                                  \
    T vb1 = SET1(b1), vb2 = SET1(b2), vob1 = SET1(1.f - b1), vob2 = SET1(1.f - b2);             \
    T vwd = SET1(wd), va = SET1(a), ve = SET1(e);                                               \
    size_t i = 0;                                                                               \
    for (; i + W <= len; i += W) {                                                              \
        T p = LD(P + i), gi = ADD(LD(G + i), MUL(vwd, p));                                      \
        T m = ADD(MUL(vb1, LD(M + i)), MUL(vob1, gi));                                          \
        T v = ADD(MUL(vb2, LD(V + i)), MUL(MUL(vob2, gi), gi));                                 \
        ST(M + i, m); ST(V + i, v);                                                             \
        ST(P + i, SUB(p, DIV(MUL(va, m), ADD(SQRT(v), ve))));                                   \
    }                                                                                           \
    adam_ref(P + i, M + i, V + i, G + i, len - i, wd, b1, b2, a, e);

static void adam_sse(float *P, float *M, float *V, const float *G, size_t len, float wd,
                     float b1, float b2, float a, float e) {
    ADAM_BODY(__m128, 4, _mm_loadu_ps, _mm_storeu_ps, _mm_set1_ps, _mm_add_ps, _mm_sub_ps, _mm_mul_ps,
              _mm_div_ps, _mm_sqrt_ps)
}
__attribute__((target("avx2"))) static void adam_avx2(float *P, float *M, float *V, const float *G, size_t len,
                                                      float wd, float b1, float b2, float a, float e) {
    ADAM_BODY(__m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_add_ps, _mm256_sub_ps,
              _mm256_mul_ps, _mm256_div_ps, _mm256_sqrt_ps)
}
__attribute__((target("avx512f"))) static void adam_avx512(float *P, float *M, float *V, const float *G,
                                                           size_t len, float wd, float b1, float b2, float a,
                                                           float e) {
    ADAM_BODY(__m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_add_ps, _mm512_sub_ps,
              _mm512_mul_ps, _mm512_div_ps, _mm512_sqrt_ps)
}
#define SGD_BODY(T, W, LD, ST, SET1, ADD, SUB, MUL)                                              \
    T vmu = SET1(mu), vlr = SET1(lr), vwd = SET1(wd);                                           \
    size_t i = 0;                                                                               \
    for (; i + W <= len; i += W) {                                                              \
        T p = LD(P + i), gi = ADD(LD(G + i), MUL(vwd, p));                                      \
        T m = SUB(MUL(vmu, LD(M + i)), MUL(vlr, gi));                                           \
        ST(M + i, m); ST(P + i, ADD(p, m));                                                     \
    }                                                                                           \
    sgd_ref(P + i, M + i, G + i, len - i, wd, mu, lr);
static void sgd_sse(float *P, float *M, const float *G, size_t len, float wd, float mu, float lr) {
    SGD_BODY(__m128, 4, _mm_loadu_ps, _mm_storeu_ps, _mm_set1_ps, _mm_add_ps, _mm_sub_ps, _mm_mul_ps)
}
__attribute__((target("avx512f"))) static void sgd_avx512(float *P, float *M, const float *G, size_t len,
                                                          float wd, float mu, float lr) {
    SGD_BODY(__m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_add_ps, _mm512_sub_ps,
             _mm512_mul_ps)
}
/* __builtin_cpu_supports reads what libgcc's constructor stored: cheap, no state here */
static adam_fn adam_kernel(void) {
    return __builtin_cpu_supports("avx512f") ? adam_avx512 : __builtin_cpu_supports("avx2") ? adam_avx2 : adam_sse;
}
static sgd_fn sgd_kernel(void) { return __builtin_cpu_supports("avx512f") ? sgd_avx512 : sgd_sse; }
#else
static adam_fn adam_kernel(void) { return adam_ref; }
static sgd_fn sgd_kernel(void) { return sgd_ref; }
#endif

const char *ffr_optimizer_name(ffr_optimizer o) { return (unsigned)o < 2 ? opt_names[o] : "?"; }

int ffr_optimizer_parse(const char *s, ffr_optimizer *o) {
    for (int i = 0; i < 2; i++)
        if (s && !strcmp(s, opt_names[i])) { *o = (ffr_optimizer)i; return 0; }
    return -1;
}

ffr_status ffr_optim_init(ffr_optim *o, ffr_optimizer kind, size_t n, ffr_err *err) {
    if (!o) return ffr_fail(err, FFR_ERR_ARG, "optimizer: NULL state");
    memset(o, 0, sizeof *o);
    if ((unsigned)kind > FFR_OPT_ADAM)
        return ffr_fail(err, FFR_ERR_ARG, "optimizer: expected sgd or adam, found %d", (int)kind);
    o->kind = kind;
    o->n = n;
    o->lr = 1e-3; o->momentum = 0.9; o->beta1 = 0.9; o->beta2 = 0.999; o->eps = 1e-8;
    o->m = ffr_calloc(n, sizeof(float));
    if (kind == FFR_OPT_ADAM) o->v = ffr_calloc(n, sizeof(float));
    if (!o->m || (kind == FFR_OPT_ADAM && !o->v)) {
        ffr_optim_free(o);
        return ffr_fail(err, FFR_ERR_NOMEM, "optimizer: cannot allocate moments for %zu parameters", n);
    }
    return FFR_OK;
}

void ffr_optim_free(ffr_optim *o) {
    if (!o) return;
    free(o->m); free(o->v);
    o->m = o->v = NULL;
}

void ffr_optim_reset(ffr_optim *o) {
    if (!o) return;
    o->t = 0;
    if (o->m) memset(o->m, 0, o->n * sizeof(float));
    if (o->v) memset(o->v, 0, o->n * sizeof(float));
}

void ffr_optim_tick(ffr_optim *o) { if (o) o->t++; }

/* The Adam step over the library's threads: contiguous ranges of 16-element blocks. */
typedef struct { float *P, *M, *V; const float *G; size_t len; float wd, b1, b2, a, e; } adam_job;
static void adam_part(void *arg, int t, int nt) {
    adam_job *j = arg;
    size_t nb = (j->len + 15) / 16, i0 = nb * t / nt * 16, i1 = nb * (t + 1) / nt * 16;
    if (i1 > j->len) i1 = j->len;
    if (i1 > i0) adam_kernel()(j->P + i0, j->M + i0, j->V + i0, j->G + i0, i1 - i0, j->wd, j->b1, j->b2, j->a, j->e);
}

/* One step of [off, off+len): the dispatched kernels over the run's threads,
 * or (ref) the plain scalar loops they are tested against. */
static ffr_status optim_step(ffr_optim *o, float *p, const float *g, size_t off, size_t len, int decay, int ref) {
    if (!o || !p || !g || !o->m || off > o->n || len > o->n - off || (unsigned)o->kind > FFR_OPT_ADAM ||
        (o->kind == FFR_OPT_ADAM && (!o->v || o->t < 1)))
        return FFR_ERR_ARG;
    float *P = p + off, *M = o->m + off;
    const float *G = g + off;
    float lr = (float)o->lr, wd = decay ? (float)o->weight_decay : 0.f;
    if (o->kind == FFR_OPT_SGD) {
        (ref ? sgd_ref : sgd_kernel())(P, M, G, len, wd, (float)o->momentum, lr);
        return FFR_OK;
    }
    float b1 = (float)o->beta1, b2 = (float)o->beta2;
    /* bias corrections folded into the step size (Kingma & Ba, Sec. 2) */
    double c1 = 1.0 - pow(o->beta1, (double)o->t), c2 = 1.0 - pow(o->beta2, (double)o->t);
    float a = (float)(o->lr * sqrt(c2) / c1), e = (float)(o->eps * sqrt(c2));
    int nt = ref ? 1 : o->threads > 0 ? o->threads : ffr_gemm_threads();
    if (len < (size_t)65536 * nt) nt = (int)(len / 65536) > 1 ? (int)(len / 65536) : 1;
    if (nt <= 1) (ref ? adam_ref : adam_kernel())(P, M, o->v + off, G, len, wd, b1, b2, a, e);
    else { /* elementwise: the same bits in any split */
        adam_job j = {P, M, o->v + off, G, len, wd, b1, b2, a, e};
        ffr_parallel(nt, adam_part, &j);
    }
    return FFR_OK;
}

ffr_status ffr_optim_step(ffr_optim *o, float *p, const float *g, size_t off, size_t len, int decay) {
    return optim_step(o, p, g, off, len, decay, 0);
}

ffr_status ffr_optim_step_ref(ffr_optim *o, float *p, const float *g, size_t off, size_t len, int decay) {
    return optim_step(o, p, g, off, len, decay, 1);
}
