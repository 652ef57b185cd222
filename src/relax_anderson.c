/* relax_anderson.c - Anderson acceleration of the sweep map (beyond the
 * paper; doc/math.md, "Anderson acceleration"): per example, type II with m
 * differences, the dot products and the mixing sum in double with AVX-512
 * twins of the C loops. */
#include <math.h>
#include <string.h>
#include "relax_internal.h"
#if defined(__x86_64__) && defined(__GNUC__) && !defined(FFR_NO_AVX512)
#define FFR_HAVE_VROW 1
#endif

/* ---- Anderson acceleration of the sweep map G (doc/math.md, "Anderson
 * acceleration"): type II with m differences, per example. After sweep t the
 * state is g_t = G(x_t) and f_t = g_t - x_t (its norm is the step the trace
 * records); gamma minimises ||f_t - sum_a gamma_a (f_{a+1} - f_a)|| over the
 * stored pairs, and x_{t+1} = g_t - sum_a gamma_a (g_{a+1} - g_a). A row whose
 * residual grew, or whose small system is singular, restarts from g_t alone. */
/* Room for m differences of the free layers over maxB examples and nt threads
 * (kept, and reused by later runs, when the buffers are large enough). */
ffr_status ffr_aa_reserve(ffr_ws *w, int m, int nt, ffr_err *err) {
    const ffr_net *net = w->net;
    int nf = 0;
    for (int k = 0; k <= w->L; k++) {
        w->aa_off[k] = w->free_layer[k] ? nf : -1;
        if (w->free_layer[k]) nf += net->n[k];
    }
    w->aa_m = m; w->aa_nf = nf; w->aa_head = 0;
    if (m == 0 || (m <= w->aa_cap_m && nf <= w->aa_cap_nf && nt <= w->aa_cap_nt)) return FFR_OK;
    ffr_aa_free(w);
    size_t h = (size_t)m + 1, B = (size_t)w->maxB;
    w->aaF = ffr_big_alloc(h * B * nf, sizeof(float), 0);
    w->aaG = ffr_big_alloc(h * B * nf, sizeof(float), 0);
    w->aatmp = ffr_calloc((size_t)nt * nf, sizeof(float));
    w->aaFF = ffr_calloc(B * h * h, sizeof(double));
    w->aa_res = ffr_calloc(B, sizeof(double));
    w->aa_cnt = ffr_calloc(B, sizeof(int));
    if (!(w->aaF && w->aaG && w->aatmp && w->aaFF && w->aa_res && w->aa_cnt)) {
        ffr_aa_free(w);
        return ffr_fail(err, FFR_ERR_NOMEM, "out of memory for Anderson acceleration (m = %d, %d examples of %d free units)",
                        m, w->maxB, nf);
    }
    w->aa_cap_m = m; w->aa_cap_nf = nf; w->aa_cap_nt = nt;
    return FFR_OK;
}

void ffr_aa_free(ffr_ws *w) {
    free(w->aaF); free(w->aaG); free(w->aatmp); free(w->aaFF); free(w->aa_res); free(w->aa_cnt);
    w->aaF = w->aaG = w->aatmp = NULL; w->aaFF = w->aa_res = NULL; w->aa_cnt = NULL;
    w->aa_cap_m = w->aa_cap_nf = w->aa_cap_nt = 0;
}

static void aa_gather(const ffr_ws *w, const ffr_state *st, int r, float *dst) {
    for (int k = 0; k <= w->L; k++)
        if (w->aa_off[k] >= 0) memcpy(dst + w->aa_off[k], st->s[k] + (size_t)r * w->net->n[k], w->net->n[k] * sizeof(float));
}

/* Dot products in double (8 lanes, then added in order) and the mixing sum
 * x = sum_a c_a g_a in double: C loops, and AVX-512 and AVX2 twins with the
 * same lanes and the same operations (a fused multiply-add per element of the
 * groups of 8, a separate multiply and add in the tail, the lanes added in
 * order), so the three give the same bits (tests/test_relax.c
 * test_anderson_twins). */
static double aa_dot_c(const float *a, const float *b, int n) {
    double s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) s[l] = fma((double)a[i + l], b[i + l], s[l]); /* the twins' FMA */
    for (; i < n; i++) s[0] += (double)a[i] * b[i];
    double t = 0;
    for (int l = 0; l < 8; l++) t += s[l];
    return t;
}
static void aa_comb_c(float *x, const float *const *g, const double *c, int cnt, int n) {
    for (int i = 0; i < n; i++) {
        double v = 0;
        if (i < (n & ~7)) for (int a = 0; a < cnt; a++) v = fma(c[a], g[a][i], v); /* the twins' FMA */
        else for (int a = 0; a < cnt; a++) v += c[a] * g[a][i];                   /* their tail */
        x[i] = (float)v;
    }
}
#ifdef FFR_HAVE_VROW
#include <immintrin.h>
#define VTGT __attribute__((target("avx512f,avx512dq")))
static VTGT double aa_dot_v(const float *a, const float *b, int n) {
    __m512d s = _mm512_setzero_pd();
    int i = 0;
    for (; i + 8 <= n; i += 8)
        s = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_loadu_ps(a + i)), _mm512_cvtps_pd(_mm256_loadu_ps(b + i)), s);
    double l[8];
    _mm512_storeu_pd(l, s);
    for (; i < n; i++) l[0] += (double)a[i] * b[i];
    double t = 0;
    for (int q = 0; q < 8; q++) t += l[q];
    return t;
}
static VTGT void aa_comb_v(float *x, const float *const *g, const double *c, int cnt, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512d v = _mm512_setzero_pd();
        for (int a = 0; a < cnt; a++) v = _mm512_fmadd_pd(_mm512_set1_pd(c[a]), _mm512_cvtps_pd(_mm256_loadu_ps(g[a] + i)), v);
        _mm256_storeu_ps(x + i, _mm512_cvtpd_ps(v));
    }
    for (; i < n; i++) {
        double v = 0;
        for (int a = 0; a < cnt; a++) v += c[a] * g[a][i];
        x[i] = (float)v;
    }
}
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#define FFR_HAVE_VROW2 1
#include <immintrin.h>
#define VTGT2 __attribute__((target("avx2,fma")))
static VTGT2 double aa_dot_v2(const float *a, const float *b, int n) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0; /* lanes 0-3, 4-7 */
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + i)), _mm256_cvtps_pd(_mm_loadu_ps(b + i)), s0);
        s1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + i + 4)), _mm256_cvtps_pd(_mm_loadu_ps(b + i + 4)), s1);
    }
    double l[8];
    _mm256_storeu_pd(l, s0); _mm256_storeu_pd(l + 4, s1);
    for (; i < n; i++) l[0] += (double)a[i] * b[i];
    double t = 0;
    for (int q = 0; q < 8; q++) t += l[q];
    return t;
}
static VTGT2 void aa_comb_v2(float *x, const float *const *g, const double *c, int cnt, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d v0 = _mm256_setzero_pd(), v1 = v0;
        for (int a = 0; a < cnt; a++) {
            __m256d ca = _mm256_set1_pd(c[a]);
            v0 = _mm256_fmadd_pd(ca, _mm256_cvtps_pd(_mm_loadu_ps(g[a] + i)), v0);
            v1 = _mm256_fmadd_pd(ca, _mm256_cvtps_pd(_mm_loadu_ps(g[a] + i + 4)), v1);
        }
        _mm_storeu_ps(x + i, _mm256_cvtpd_ps(v0));
        _mm_storeu_ps(x + i + 4, _mm256_cvtpd_ps(v1));
    }
    for (; i < n; i++) {
        double v = 0;
        for (int a = 0; a < cnt; a++) v += c[a] * g[a][i];
        x[i] = (float)v;
    }
}
/* f = g - f over n floats (the step of the new pair; exact in any width) */
static VTGT2 void aa_sub_v2(float *f, const float *g, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(f + i, _mm256_sub_ps(_mm256_loadu_ps(g + i), _mm256_loadu_ps(f + i)));
    for (; i < n; i++) f[i] = g[i] - f[i];
}
/* s = x and r = rho(x) for a layer of free units: the hard sigmoid as two
 * ordered compares and blends (NaN and -0 as in ffr_rho_apply), or the identity. */
static VTGT2 void aa_store_v2(float *s, float *r, const float *x, int n, int hs) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i), q = v;
        if (hs) {
            q = _mm256_blendv_ps(q, _mm256_setzero_ps(), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
            q = _mm256_blendv_ps(q, _mm256_set1_ps(1.f), _mm256_cmp_ps(v, _mm256_set1_ps(1.f), _CMP_GT_OQ));
        }
        _mm256_storeu_ps(s + i, v);
        _mm256_storeu_ps(r + i, q);
    }
    for (; i < n; i++) {
        s[i] = x[i];
        r[i] = hs ? ffr_rho_apply(FFR_RHO_HARDSIGMOID, x[i]) : x[i];
    }
}
#endif
double ffr_aa_dot(const float *a, const float *b, int n) {
#ifdef FFR_HAVE_VROW
    if (ffr_relax_simd_on()) return aa_dot_v(a, b, n);
#endif
#ifdef FFR_HAVE_VROW2
    if (ffr_relax_simd2_on()) return aa_dot_v2(a, b, n);
#endif
    return aa_dot_c(a, b, n);
}
void ffr_aa_comb(float *x, const float *const *g, const double *c, int cnt, int n) {
#ifdef FFR_HAVE_VROW
    if (ffr_relax_simd_on()) { aa_comb_v(x, g, c, cnt, n); return; }
#endif
#ifdef FFR_HAVE_VROW2
    if (ffr_relax_simd2_on()) { aa_comb_v2(x, g, c, cnt, n); return; }
#endif
    aa_comb_c(x, g, c, cnt, n);
}

/* Solve A g = b (n <= 8) by Gaussian elimination with partial pivoting; 0 if singular. */
static int aa_solve(double *A, double *b, int n) {
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++) if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        if (!(fabs(A[p * n + c]) > 0)) return 0;
        if (p != c) {
            for (int j = 0; j < n; j++) { double t = A[c * n + j]; A[c * n + j] = A[p * n + j]; A[p * n + j] = t; }
            double t = b[c]; b[c] = b[p]; b[p] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int j = c; j < n; j++) A[r * n + j] -= f * A[c * n + j];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        double v = b[c];
        for (int j = c + 1; j < n; j++) v -= A[c * n + j] * b[j];
        b[c] = v / A[c * n + c];
        if (!isfinite(b[c])) return 0;
    }
    return 1;
}

/* Row r after a sweep: record (f_t, g_t), mix, write x_{t+1} into the state, the
 * rates and the next slot. tmp: nf floats. */
static void aa_mix_row(ffr_ws *w, ffr_state *st, int r, float *tmp) {
    const ffr_net *net = w->net;
    int m = w->aa_m, h = m + 1, nf = w->aa_nf, hs = w->aa_head, B = w->maxB, e = w->perm[r];
    float *F = w->aaF, *G = w->aaG;
#define AA_ROW(A, q) ((A) + ((size_t)(q) * B + e) * nf)
    float *fh = AA_ROW(F, hs), *gh = AA_ROW(G, hs);
    aa_gather(w, st, r, gh);
#ifdef FFR_HAVE_VROW2
    if (ffr_relax_simd2_on()) aa_sub_v2(fh, gh, nf); /* the slot held x_t */
    else
#endif
        for (int i = 0; i < nf; i++) fh[i] = gh[i] - fh[i]; /* the slot held x_t */
    double *FF = w->aaFF + (size_t)e * h * h;
    int cnt = w->aa_cnt[e] + 1; /* with the new pair */
    for (int a = 1; a < cnt; a++) {
        int q = (hs - a + h) % h;
        FF[hs * h + q] = FF[q * h + hs] = ffr_aa_dot(fh, AA_ROW(F, q), nf);
    }
    double f2 = FF[hs * h + hs] = ffr_aa_dot(fh, fh, nf);
    if (cnt >= 2 && !(f2 <= w->aa_res[e])) cnt = 1; /* the residual grew: restart */
    w->aa_res[e] = f2;
    double coef[9] = {0};
    int ok = 0;
    if (cnt >= 2) {
        int sl[9], n = cnt - 1;
        for (int a = 0; a < cnt; a++) sl[a] = (hs - (cnt - 1) + a + h) % h; /* oldest .. newest */
        double A[64], b[8], tr = 0;
#define FFq(i, j) FF[(i) * h + (j)]
        for (int a = 0; a < n; a++) {
            for (int c = 0; c < n; c++)
                A[a * n + c] = FFq(sl[a + 1], sl[c + 1]) - FFq(sl[a + 1], sl[c]) - FFq(sl[a], sl[c + 1]) + FFq(sl[a], sl[c]);
            b[a] = FFq(sl[a + 1], hs) - FFq(sl[a], hs);
            tr += A[a * n + a];
        }
#undef FFq
        for (int a = 0; a < n; a++) A[a * n + a] += 1e-10 * tr + 1e-300;
        ok = tr > 0 && aa_solve(A, b, n);
        for (int a = 0; ok && a < n; a++) ok = fabs(b[a]) < 1e4;
        if (ok) {
            coef[cnt - 1] = 1;
            for (int a = 0; a < n; a++) { coef[a + 1] -= b[a]; coef[a] += b[a]; }
            const float *gs[9];
            for (int a = 0; a < cnt; a++) gs[a] = AA_ROW(G, sl[a]);
            ffr_aa_comb(tmp, gs, coef, cnt, nf);
        }
    }
    if (!ok) { cnt = 1; memcpy(tmp, gh, nf * sizeof(float)); }
    if (cnt == h) cnt = m; /* the next slot (the oldest pair) now holds x_{t+1} */
    w->aa_cnt[e] = cnt;
    memcpy(AA_ROW(F, (hs + 1) % h), tmp, nf * sizeof(float));
#undef AA_ROW
    for (int k = 0; k <= w->L; k++) {
        if (w->aa_off[k] < 0) continue;
        int n = net->n[k];
        float *sk = st->s[k] + (size_t)r * n, *rk = w->R[k] + (size_t)r * n;
        const float *src = tmp + w->aa_off[k];
#ifdef FFR_HAVE_VROW2
        ffr_rho rr = ffr_rule_rate_rho(net->rule, net->rho);
        if (k > 0 && rr != FFR_RHO_SIGMOID && ffr_relax_simd2_on()) {
            aa_store_v2(sk, rk, src, n, rr == FFR_RHO_HARDSIGMOID);
            continue;
        }
#endif
        for (int j = 0; j < n; j++) {
            if (k == 0 && !ffr_unit_free(w, 0, j)) continue;
            sk[j] = src[j];
            rk[j] = ffr_rule_rate(net->rule, net->rho, src[j]);
        }
    }
}

typedef struct { ffr_ws *w; ffr_state *st; } aa_job;
static void aa_part(void *arg, int t, int nt) {
    aa_job *j = arg;
    int M = j->w->nact;
    for (int r = (int)((long)M * t / nt); r < (int)((long)M * (t + 1) / nt); r++)
        aa_mix_row(j->w, j->st, r, j->w->aatmp + (size_t)t * j->w->aa_nf);
}
/* After sweep t, on the active rows (converged ones already swapped out). */
void ffr_aa_step(ffr_ws *w, ffr_state *st) {
    int nt = ffr_gemm_uses_fast() ? w->nt : 1;
    if (nt > w->aa_cap_nt) nt = w->aa_cap_nt; /* aatmp's rows (the default count may have grown since) */
    long work = (long)w->nact * w->aa_nf * (w->aa_m + 2);
    if (work < 200000L * nt) nt = work / 200000 > 1 ? (int)(work / 200000) : 1;
    aa_job j = {w, st};
    if (nt <= 1) aa_part(&j, 0, 1);
    else ffr_parallel(nt, aa_part, &j);
    w->aa_head = (w->aa_head + 1) % (w->aa_m + 1);
}

/* x_1, the start, in the first slot of every example; no pairs yet. */
void ffr_aa_begin(ffr_ws *w, const ffr_state *st) {
    w->aa_head = 0;
    for (int r = 0; r < w->B; r++) {
        w->aa_cnt[r] = 0; w->aa_res[r] = 0;
        aa_gather(w, st, r, w->aaF + (size_t)r * w->aa_nf);
    }
}
