/* relax_update.c - the elementwise pass of Eq. 9 for one layer:
 *
 *   s_k <- (1 - eps) s_k + eps F_k(u) + sqrt(2 eps T) xi,   r_k <- rate(s_k)
 *
 * with u the rule's combined branch input (Eq. 16 dendritic, Eq. 7 hopfield,
 * Eq. 8 boltzmann; rule.h), and each row's squared step, rate step and norm
 * where the pass already has the numbers. Four implementations of the same
 * arithmetic, bit for bit: the C reference (row_update, and update_layer for
 * noise, Gibbs sampling, the visible layer and the nudged top layer), its
 * AVX-512 twin (vrow_update), its AVX2 twin (vrow2_update), and the pass fused into the layer's last
 * product (gemm.c's epilogue) so that each thread updates the rows it has just
 * computed. Also the target products of a layer (Eq. 12, 13, 15). */
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include "relax_internal.h"

/* The fused elementwise pass of a free hidden layer (k >= 1) without noise or
 * Gibbs sampling: v = T + bias (+ cached clamped products), F = F_k(v) (rule.h),
 * s' = (1 - eps) s + eps F, r' = rate(s'), and the row's squared step, rate
 * step and norm. The arithmetic per unit is exactly update_layer's (same
 * operations in the same order, no contraction under -std=c11), so states and
 * rates are bit-identical; the three sums are accumulated in double over 8
 * interleaved lanes (so that the loop vectorizes) and then added, which can
 * differ from a left-to-right double sum in the last bits of the step.
 * Inlined with constant rule, rho and cache flags, one branch-free loop each. */
#define FFR_LANES 8
/* One unit of the pass: v = T + bias (+ cached products), Eq. 9, the rate, and
 * the squared step, rate step and norm added into one lane. */
static inline __attribute__((always_inline)) void unit_pass(
    float *restrict s, float *restrict rt, const float *restrict u, const float *restrict bias,
    const float *restrict c1, float cs1, const float *restrict c2, float cs2, int j, float keep, float eps,
    ffr_rule rule, ffr_rho rho, int has1, int has2, double *ad, double *ar, double *an) {
    float v = u[j] + bias[j];
    if (has1) v += cs1 * c1[j];
    if (has2) v += cs2 * c2[j];
    float sn = keep * s[j] + eps * ffr_rule_F(rule, rho, v);
    float rn = ffr_rule_rate(rule, rho, sn);
    double d = (double)sn - s[j], rd = (double)rn - rt[j];
    *ad += d * d; *ar += rd * rd; *an += (double)sn * sn;
    s[j] = sn; rt[j] = rn;
}
static inline __attribute__((always_inline)) void row_update(
    float *restrict s, float *restrict rt, const float *restrict u, const float *restrict bias,
    const float *restrict c1, float cs1, const float *restrict c2, float cs2, int n, float keep,
    float eps, ffr_rule rule, ffr_rho rho, int has1, int has2, double *d2o, double *rd2o, double *nno) {
    double ad[FFR_LANES] = {0}, ar[FFR_LANES] = {0}, an[FFR_LANES] = {0};
    int j = 0;
    for (; j + FFR_LANES <= n; j += FFR_LANES)
        for (int l = 0; l < FFR_LANES; l++)
            unit_pass(s, rt, u, bias, c1, cs1, c2, cs2, j + l, keep, eps, rule, rho, has1, has2, ad + l, ar + l, an + l);
    for (; j < n; j++) unit_pass(s, rt, u, bias, c1, cs1, c2, cs2, j, keep, eps, rule, rho, has1, has2, ad, ar, an);
    double d2 = 0, rd2 = 0, nn = 0;
    for (int l = 0; l < FFR_LANES; l++) { d2 += ad[l]; rd2 += ar[l]; nn += an[l]; }
    *d2o = d2; *rd2o = rd2; *nno = nn;
}

/* The same pass in AVX-512 for the rules whose F and rate are min/max or the
 * identity (dendritic and hopfield units with hard-sigmoid or linear rho):
 * every float operation is row_update's, in its order, without contraction
 * (the intrinsics are separate multiplies and adds), the hard sigmoid is two
 * ordered compares and blends (so NaN and -0 come out as in the C code), and
 * the double sums keep row_update's 8 lanes: elements j..j+7 then j+8..j+15
 * go into lanes 0..7 in that order, the tail into lane 0. Bit-identical to
 * row_update (tests/test_relax.c checks it). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(FFR_NO_AVX512)
#define FFR_HAVE_VROW 1
#include <immintrin.h>
#define VTGT __attribute__((target("avx512f,avx512dq")))
static inline __attribute__((always_inline)) VTGT __m512 vhs(__m512 x) {
    __mmask16 lo = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __mmask16 hi = _mm512_cmp_ps_mask(x, _mm512_set1_ps(1.f), _CMP_GT_OQ);
    x = _mm512_mask_mov_ps(x, lo, _mm512_setzero_ps());
    return _mm512_mask_mov_ps(x, hi, _mm512_set1_ps(1.f));
}
/* hs: F (ffr_rule_F) and rate are the hard sigmoid (1) or the identity (0). */
static inline __attribute__((always_inline)) VTGT void vrow_update(
    float *restrict s, float *restrict rt, const float *restrict u, const float *restrict bias,
    const float *restrict c1, float cs1, const float *restrict c2, float cs2, int n, float keep,
    float eps, ffr_rule rule, ffr_rho rho, int fhs, int rhs, int has1, int has2, double *d2o, double *rd2o, double *nno) {
    __m512d ad = _mm512_setzero_pd(), ar = ad, an = ad;
    __m512 vk = _mm512_set1_ps(keep), ve = _mm512_set1_ps(eps), v1 = _mm512_set1_ps(cs1), v2 = _mm512_set1_ps(cs2);
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(u + j), _mm512_loadu_ps(bias + j));
        if (has1) v = _mm512_add_ps(v, _mm512_mul_ps(v1, _mm512_loadu_ps(c1 + j)));
        if (has2) v = _mm512_add_ps(v, _mm512_mul_ps(v2, _mm512_loadu_ps(c2 + j)));
        if (fhs) v = vhs(v);
        __m512 so = _mm512_loadu_ps(s + j), ro = _mm512_loadu_ps(rt + j);
        __m512 sn = _mm512_add_ps(_mm512_mul_ps(vk, so), _mm512_mul_ps(ve, v));
        __m512 rn = rhs ? vhs(sn) : sn;
        _mm512_storeu_ps(s + j, sn);
        _mm512_storeu_ps(rt + j, rn);
        for (int h = 0; h < 2; h++) {
            __m256 snh = h ? _mm512_extractf32x8_ps(sn, 1) : _mm512_castps512_ps256(sn);
            __m256 soh = h ? _mm512_extractf32x8_ps(so, 1) : _mm512_castps512_ps256(so);
            __m256 rnh = h ? _mm512_extractf32x8_ps(rn, 1) : _mm512_castps512_ps256(rn);
            __m256 roh = h ? _mm512_extractf32x8_ps(ro, 1) : _mm512_castps512_ps256(ro);
            __m512d snd = _mm512_cvtps_pd(snh);
            __m512d d = _mm512_sub_pd(snd, _mm512_cvtps_pd(soh));
            __m512d rd = _mm512_sub_pd(_mm512_cvtps_pd(rnh), _mm512_cvtps_pd(roh));
            ad = _mm512_add_pd(ad, _mm512_mul_pd(d, d));
            ar = _mm512_add_pd(ar, _mm512_mul_pd(rd, rd));
            an = _mm512_add_pd(an, _mm512_mul_pd(snd, snd));
        }
    }
    double lad[FFR_LANES], lar[FFR_LANES], lan[FFR_LANES];
    _mm512_storeu_pd(lad, ad); _mm512_storeu_pd(lar, ar); _mm512_storeu_pd(lan, an);
    for (; j < n; j++) { /* row_update's arithmetic: lanes for a full group of 8, lane 0 after */
        int l = j < (n & ~7) ? (j & 7) : 0;
        unit_pass(s, rt, u, bias, c1, cs1, c2, cs2, j, keep, eps, rule, rho, has1, has2, lad + l, lar + l, lan + l);
    }
    double d2 = 0, rd2 = 0, nn = 0;
    for (int l = 0; l < FFR_LANES; l++) { d2 += lad[l]; rd2 += lar[l]; nn += lan[l]; }
    *d2o = d2; *rd2o = rd2; *nno = nn;
}
#endif

/* The same pass in AVX2 (no FMA: separate multiplies and adds, as in the C
 * code) for CPUs without AVX-512: 8 units a step, elements j..j+7 into
 * row_update's lanes 0..7 (two 4-wide double halves), the tail into lane 0.
 * Bit-identical to row_update (tests/test_relax.c checks it where it runs). */
#if defined(__x86_64__) && defined(__GNUC__)
#define FFR_HAVE_VROW2 1
#include <immintrin.h>
#define VTGT2 __attribute__((target("avx2")))
static inline __attribute__((always_inline)) VTGT2 __m256 vhs2(__m256 x) {
    __m256 lo = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 hi = _mm256_cmp_ps(x, _mm256_set1_ps(1.f), _CMP_GT_OQ);
    x = _mm256_blendv_ps(x, _mm256_setzero_ps(), lo);
    return _mm256_blendv_ps(x, _mm256_set1_ps(1.f), hi);
}
/* (d, r, n) lanes += the squares of sn - so, rn - ro and sn, one 4-wide half */
static inline __attribute__((always_inline)) VTGT2 void vacc2(__m128 sn, __m128 so, __m128 rn, __m128 ro, __m256d *ad,
                                                              __m256d *ar, __m256d *an) {
    __m256d snd = _mm256_cvtps_pd(sn);
    __m256d d = _mm256_sub_pd(snd, _mm256_cvtps_pd(so));
    __m256d rd = _mm256_sub_pd(_mm256_cvtps_pd(rn), _mm256_cvtps_pd(ro));
    *ad = _mm256_add_pd(*ad, _mm256_mul_pd(d, d));
    *ar = _mm256_add_pd(*ar, _mm256_mul_pd(rd, rd));
    *an = _mm256_add_pd(*an, _mm256_mul_pd(snd, snd));
}
static inline __attribute__((always_inline)) VTGT2 void vrow2_update(
    float *restrict s, float *restrict rt, const float *restrict u, const float *restrict bias,
    const float *restrict c1, float cs1, const float *restrict c2, float cs2, int n, float keep,
    float eps, ffr_rule rule, ffr_rho rho, int fhs, int rhs, int has1, int has2, double *d2o, double *rd2o, double *nno) {
    __m256d ad0 = _mm256_setzero_pd(), ar0 = ad0, an0 = ad0, ad1 = ad0, ar1 = ad0, an1 = ad0;
    __m256 vk = _mm256_set1_ps(keep), ve = _mm256_set1_ps(eps), v1 = _mm256_set1_ps(cs1), v2 = _mm256_set1_ps(cs2);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(u + j), _mm256_loadu_ps(bias + j));
        if (has1) v = _mm256_add_ps(v, _mm256_mul_ps(v1, _mm256_loadu_ps(c1 + j)));
        if (has2) v = _mm256_add_ps(v, _mm256_mul_ps(v2, _mm256_loadu_ps(c2 + j)));
        if (fhs) v = vhs2(v);
        __m256 so = _mm256_loadu_ps(s + j), ro = _mm256_loadu_ps(rt + j);
        __m256 sn = _mm256_add_ps(_mm256_mul_ps(vk, so), _mm256_mul_ps(ve, v));
        __m256 rn = rhs ? vhs2(sn) : sn;
        _mm256_storeu_ps(s + j, sn);
        _mm256_storeu_ps(rt + j, rn);
        vacc2(_mm256_castps256_ps128(sn), _mm256_castps256_ps128(so), _mm256_castps256_ps128(rn),
              _mm256_castps256_ps128(ro), &ad0, &ar0, &an0);
        vacc2(_mm256_extractf128_ps(sn, 1), _mm256_extractf128_ps(so, 1), _mm256_extractf128_ps(rn, 1),
              _mm256_extractf128_ps(ro, 1), &ad1, &ar1, &an1);
    }
    double lad[FFR_LANES], lar[FFR_LANES], lan[FFR_LANES];
    _mm256_storeu_pd(lad, ad0); _mm256_storeu_pd(lad + 4, ad1);
    _mm256_storeu_pd(lar, ar0); _mm256_storeu_pd(lar + 4, ar1);
    _mm256_storeu_pd(lan, an0); _mm256_storeu_pd(lan + 4, an1);
    for (; j < n; j++) /* the tail: lane 0, as in row_update */
        unit_pass(s, rt, u, bias, c1, cs1, c2, cs2, j, keep, eps, rule, rho, has1, has2, lad, lar, lan);
    double d2 = 0, rd2 = 0, nn = 0;
    for (int l = 0; l < FFR_LANES; l++) { d2 += lad[l]; rd2 += lar[l]; nn += lan[l]; }
    *d2o = d2; *rd2o = rd2; *nno = nn;
}
#endif

/* update_rows_fast's rows [r0, r1) with a vector row pass (UPD: vrow_update or
 * vrow2_update); returns the non-finite flag. */
#define FFR_VROWS_BODY(UPD)                                                                                     \
    const ffr_net *net = w->net;                                                                                \
    int fhs = net->rule == FFR_RULE_HOPFIELD && net->rho == FFR_RHO_HARDSIGMOID, rhs = net->rho == FFR_RHO_HARDSIGMOID; \
    int bad = 0;                                                                                                \
    for (int r = r0; r < r1; r++) {                                                                             \
        size_t o_ = (size_t)r * n;                                                                              \
        float *s = st->s[k] + o_, *rt = w->R[k] + o_;                                                           \
        const float *u = w->T[k] + o_, *p1 = c1 ? c1 + o_ : NULL, *p2 = c2 ? c2 + o_ : NULL;                    \
        double d2, rd2, nn;                                                                                     \
        if (fhs) UPD(s, rt, u, bias, p1, cs1, p2, cs2, n, keep, eps, net->rule, net->rho, 1, 1, p1 != NULL, p2 != NULL, &d2, &rd2, &nn); \
        else if (rhs) {                                                                                         \
            if (p1 && p2) UPD(s, rt, u, bias, p1, cs1, p2, cs2, n, keep, eps, net->rule, net->rho, 0, 1, 1, 1, &d2, &rd2, &nn); \
            else if (p1) UPD(s, rt, u, bias, p1, cs1, p2, cs2, n, keep, eps, net->rule, net->rho, 0, 1, 1, 0, &d2, &rd2, &nn); \
            else if (p2) UPD(s, rt, u, bias, p1, cs1, p2, cs2, n, keep, eps, net->rule, net->rho, 0, 1, 0, 1, &d2, &rd2, &nn); \
            else UPD(s, rt, u, bias, p1, cs1, p2, cs2, n, keep, eps, net->rule, net->rho, 0, 1, 0, 0, &d2, &rd2, &nn); \
        } else UPD(s, rt, u, bias, p1, cs1, p2, cs2, n, keep, eps, net->rule, net->rho, 0, 0, p1 != NULL, p2 != NULL, &d2, &rd2, &nn); \
        if (!isfinite(d2)) bad = 1;                                                                             \
        w->step2[r] += d2; w->rstep2[r] += rd2; w->norm2[r] += nn;                                              \
    }                                                                                                           \
    return bad;
#ifdef FFR_HAVE_VROW
static VTGT int vrows(ffr_ws *w, ffr_state *st, int k, int r0, int r1, int n, float keep, float eps, const float *bias,
                      const float *c1, float cs1, const float *c2, float cs2) {
    FFR_VROWS_BODY(vrow_update)
}
#endif
#ifdef FFR_HAVE_VROW2
static VTGT2 int vrows2(ffr_ws *w, ffr_state *st, int k, int r0, int r1, int n, float keep, float eps, const float *bias,
                        const float *c1, float cs1, const float *c2, float cs2) {
    FFR_VROWS_BODY(vrow2_update)
}
#endif

/* The vector pass: on where the CPU has AVX-512F and DQ (ffr_relax_simd(0)
 * turns it off, for the tests that compare it with row_update). */
static int g_simd = -1;
void ffr_relax_simd(int on) { g_simd = on ? -1 : 0; }
int ffr_relax_simd_on(void) {
#ifdef FFR_HAVE_VROW
    static int avail = -1;
    if (g_simd == 0) return 0;
    if (avail < 0) {
        __builtin_cpu_init();
        avail = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    }
    return avail;
#else
    return 0;
#endif
}

/* The AVX2 passes (this one, Anderson's twins in relax_anderson.c): where the
 * CPU has AVX2 and FMA but not the AVX-512 pass (ffr_relax_simd(0) turns them
 * off too). */
int ffr_relax_simd2_on(void) {
#ifdef FFR_HAVE_VROW2
    static int avail = -1;
    if (g_simd == 0 || ffr_relax_simd_on()) return 0;
    if (avail < 0) {
        __builtin_cpu_init();
        avail = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return avail;
#else
    return 0;
#endif
}

/* update_layer for k >= 1, no noise, no Gibbs: the common case, specialised. */
static int update_rows_fast(ffr_ws *w, ffr_state *st, const ffr_relax_opts *o, int k, int r0, int r1) {
    const ffr_net *net = w->net;
    int n = net->n[k];
    float eps = (float)o->eps, keep = 1.f - eps;
    const float *bias = w->cf.bias[k];
    const float *c1 = (k == 1 && w->use_cup) ? w->cup : NULL, *c2 = (k == w->L - 1 && w->use_cdown) ? w->cdown : NULL;
    float cs1 = w->cf.cu[k], cs2 = w->cf.cd[k];
    int fast = net->rule == FFR_RULE_DENDRITIC && net->rho == FFR_RHO_HARDSIGMOID;
    int bad = 0;
#ifdef FFR_HAVE_VROW
    if (net->rule != FFR_RULE_BOLTZMANN && net->rho != FFR_RHO_SIGMOID && ffr_relax_simd_on())
        return vrows(w, st, k, r0, r1, n, keep, eps, bias, c1, cs1, c2, cs2);
#endif
#ifdef FFR_HAVE_VROW2
    if (net->rule != FFR_RULE_BOLTZMANN && net->rho != FFR_RHO_SIGMOID && ffr_relax_simd2_on())
        return vrows2(w, st, k, r0, r1, n, keep, eps, bias, c1, cs1, c2, cs2);
#endif
    for (int r = r0; r < r1; r++) {
        size_t o_ = (size_t)r * n;
        float *s = st->s[k] + o_, *rt = w->R[k] + o_;
        const float *u = w->T[k] + o_, *p1 = c1 ? c1 + o_ : NULL, *p2 = c2 ? c2 + o_ : NULL;
        double d2, rd2, nn;
#define FFR_ROW(RULE, RHO, H1, H2) row_update(s, rt, u, bias, p1, cs1, p2, cs2, n, keep, eps, RULE, RHO, H1, H2, &d2, &rd2, &nn)
        if (fast) {
            if (p1 && p2) FFR_ROW(FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 1);
            else if (p1) FFR_ROW(FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 0);
            else if (p2) FFR_ROW(FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 1);
            else FFR_ROW(FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 0);
        } else FFR_ROW(net->rule, net->rho, p1 != NULL, p2 != NULL);
#undef FFR_ROW
        if (!isfinite(d2)) bad = 1;
        w->step2[r] += d2; w->rstep2[r] += rd2; w->norm2[r] += nn;
    }
    return bad;
}

/* The rows split over the kernel's threads (each row's arithmetic is the same
 * whichever thread does it, so results do not depend on the thread count). */
typedef struct { ffr_ws *w; ffr_state *st; const ffr_relax_opts *o; int k, bad[FFR_THREADS_MAX]; } upd_t;
static void update_part(void *arg, int t, int nt) {
    upd_t *u = arg;
    int M = u->w->nact;
    u->bad[t] = update_rows_fast(u->w, u->st, u->o, u->k, (int)((long)M * t / nt), (int)((long)M * (t + 1) / nt));
}
static int update_layer_fast(ffr_ws *w, ffr_state *st, const ffr_relax_opts *o, int k) {
    int nt = ffr_gemm_uses_fast() ? w->nt : 1; /* the relaxer's threads where the kernel runs (else the BLAS has its own) */
    long work = (long)w->nact * w->net->n[k];
    if (work < 65536L * nt) nt = work / 65536 > 1 ? (int)(work / 65536) : 1;
    if (nt <= 1) return update_rows_fast(w, st, o, k, 0, w->nact);
    upd_t u = {w, st, o, k, {0}};
    ffr_parallel(nt, update_part, &u);
    int bad = 0;
    for (int t = 0; t < nt; t++) bad |= u.bad[t];
    return bad;
}

/* update_layer goes to update_rows_fast for hidden layers (no noise, no Gibbs). */
static int fast_update(const ffr_relax_opts *o) { return !o->gibbs && !(o->temperature > 0); }
static int g_fuse = 1; /* ffr_relax_fuse(0): the separate pass, for the tests that compare the two */
void ffr_relax_fuse(int on) { g_fuse = on != 0; }
int ffr_relax_fused_ok(const ffr_ws *w) { return g_fuse && fast_update(&w->o); }

/* Update layer k for rows [0, nact) from the target products in T[k]. Returns
 * 0, or 1 if a non-finite value appeared. */
int ffr_relax_update_layer(ffr_ws *w, ffr_state *st, int k) {
    const ffr_relax_opts *o = &w->o;
    const float *ny = k == w->L && w->beta != 0 ? w->ytop : NULL; /* nudged top: this C path */
    if (k >= 1 && fast_update(o) && !ny) return update_layer_fast(w, st, o, k);
    const ffr_net *net = w->net;
    int n = net->n[k], M = w->nact;
    float eps = (float)o->eps, keep = 1.f - eps;
    float nsd = o->temperature > 0 ? (float)sqrt(2.0 * o->eps * o->temperature) : 0.f;
    float cup = w->cf.cu[k], cdown = w->cf.cd[k];
    const float *bias = w->cf.bias[k];
    const float *cache = NULL; float cscale = 0;
    if (k == 1 && w->use_cup) { cache = w->cup; cscale = cup; }
    const float *cache2 = NULL; float cscale2 = 0;
    if (k == w->L - 1 && w->use_cdown) { cache2 = w->cdown; cscale2 = cdown; }
    int bad = 0;
    for (int r = 0; r < M; r++) {
        float *s = st->s[k] + (size_t)r * n, *rt = w->R[k] + (size_t)r * n;
        const float *u = w->T[k] + (size_t)r * n;
        double d2 = 0, rd2 = 0, nn = 0;
        for (int j = 0; j < n; j++) {
            if (k == 0 && !ffr_unit_free(w, 0, j)) continue;
            float v = u[j] + bias[j];
            if (cache) v += cscale * cache[(size_t)r * n + j];
            if (cache2) v += cscale2 * cache2[(size_t)r * n + j];
            float F = ny ? ffr_rule_F_nudged(net->rule, net->rho, v, net->alpha_up[k], (float)o->beta,
                                          ny[(size_t)w->perm[r] * n + j], rt[j])
                         : ffr_rule_F(net->rule, net->rho, v), sn;
            if (o->gibbs) sn = ffr_rng_uniform(&w->rng[r]) < F ? 1.f : 0.f; /* Eq. 8 */
            else {
                sn = keep * s[j] + eps * F; /* Eq. 9 */
                if (nsd > 0) sn += nsd * (float)ffr_rng_normal(&w->rng[r]);
            }
            float rn = ffr_rule_rate(net->rule, net->rho, sn);
            double d = (double)sn - s[j], rd = (double)rn - rt[j];
            d2 += d * d; rd2 += rd * rd; nn += (double)sn * sn;
            s[j] = sn; rt[j] = rn;
        }
        if (!isfinite(d2)) bad = 1;
        w->step2[r] += d2; w->rstep2[r] += rd2; w->norm2[r] += nn;
    }
    return bad;
}

/* The update fused into the layer's last product (gemm.c's epilogue): rows
 * [r0, r1) of layer k updated by the thread that has just computed them, while
 * their targets are in its cache. The same update_rows_fast on the same rows,
 * after the same products: bit-identical to the separate pass. */
struct ffr_fused { ffr_ws *w; ffr_state *st; int k; atomic_int bad; };
static void fused_rows(void *ctx, int r0, int r1) {
    ffr_fused *f = ctx;
    if (update_rows_fast(f->w, f->st, &f->w->o, f->k, r0, r1)) atomic_store_explicit(&f->bad, 1, memory_order_relaxed);
}
/* The layer's last product with the kernel and the epilogue; 1 if it ran (the
 * layer is updated), 0 if not (columns split over threads), -1 without packs. */
static int gemm_fused(const ffr_ws *w, int down, int k, int M, float alpha, const float *Rx, float beta, float *Y,
                      ffr_fused *fu) {
    const ffr_net *net = w->net;
    const ffr_packs *pk = &w->pk;
    ffr_gemm_epi epi = {fused_rows, fu};
    int lo = net->n[k - 1], hi = net->n[k];
    if (down) {
        if (!pk->dn16[k] && !pk->dn[k]) return -1;
        return ffr_gemm_packed_epi(w->nt, 0, M, lo, hi, alpha, Rx, hi, pk->dn[k], pk->dn16[k], beta, Y, lo, &epi);
    }
    if (!pk->up16[k] && !pk->up[k]) return -1;
    return ffr_gemm_packed_epi(w->nt, 0, M, hi, lo, alpha, Rx, lo, pk->up16[k] ? NULL : pk->up[k], pk->up16[k], beta, Y,
                               hi, &epi);
}

/* Target products for layer k into T[k] rows [0, nact): the parts not cached
 * (Eq. 16: cu W_k r_{k-1} + cd V_{k+1} r_{k+1}). fuse != 0: the update may run
 * in the last product (not for the visible layer nor the nudged top layer);
 * returns 1 if it did, with *bad set when a non-finite value appeared. */
int ffr_relax_products(ffr_ws *w, ffr_state *st, int k, int fuse, int *bad) {
    const ffr_net *net = w->net;
    int M = w->nact, L = w->L;
    float beta = 0.f;
    int n = net->n[k], done = 0;
    int up = k >= 1 && !(k == 1 && w->use_cup), dn = k < L && !(k == L - 1 && w->use_cdown);
    ffr_fused fu = {w, st, k, 0};
    ffr_fused *fp = fuse && k >= 1 && !(k == L && w->beta != 0) ? &fu : NULL;
    if (up) {
        w->flops += 2.0 * M * n * net->n[k - 1];
        int r = fp && !dn ? gemm_fused(w, 0, k, M, w->cf.cu[k], w->R[k - 1], 0.f, w->T[k], fp) : -1;
        if (r < 0) ffr_relax_gemm_up(net, &w->pk, w->nt, k, M, w->cf.cu[k], w->R[k - 1], 0.f, w->T[k]);
        done = r > 0; beta = 1.f;
    }
    if (dn) {
        w->flops += 2.0 * M * n * net->n[k + 1];
        int r = fp ? gemm_fused(w, 1, k + 1, M, w->cf.cd[k], w->R[k + 1], beta, w->T[k], fp) : -1;
        if (r < 0) ffr_relax_gemm_down(net, &w->pk, w->nt, k + 1, M, w->cf.cd[k], w->R[k + 1], beta, w->T[k]);
        done = r > 0; beta = 1.f;
    }
    if (beta == 0.f) memset(w->T[k], 0, (size_t)M * n * sizeof(float));
    if (done && bad) *bad = atomic_load(&fu.bad);
    return done;
}
