/* gemm.c - ffrelax's own fp32 matrix product for CPUs with AVX-512F: a packed,
 * register-blocked kernel in the BLIS manner (flame/blis), chosen at run time
 * when the CPU has AVX-512F (FFRELAX_GEMM=blas turns
 * it off; it needs no BLAS: a BLAS=0 build uses it too). It exists because the relaxation sweep is GEMM-bound and a BLAS
 * configured for an older core (OPENBLAS_CORETYPE=Haswell, AVX2) leaves half
 * of an AVX-512 core idle; the naive reference ffr_gemm_ref (blas.c) stays
 * beside it and the tests compare the two on awkward shapes.
 *
 * Convention: row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
 *
 * op(B) is packed into panels of FFR_NR = 32 columns: P[jp][k][32] (zero
 * columns past N), which ffr_gemm_pack does once for a weight matrix that many
 * products reuse (the relaxation engine packs W_k and V_k once per ffr_relax).
 * op(A) is packed per block of FFR_MC rows x FFR_KC depth into tiles of 12
 * rows, A'[t][k][12] (the last tile of a block [k][nr]). The micro-kernel
 * keeps a 12 x 32 tile of C in 24 registers (6 rows or fewer: 2 panels at
 * once, so short batches still have enough independent FMA chains while each
 * thread reads the packed weights as two streams).
 *
 * Summation order, the same for every element whatever M, N, its tile or
 * the thread count: acc_b = FMA chain over k in increasing order inside depth
 * block b (blocks of FFR_KC); after block 0, C = alpha*acc_0 + beta*C (C not
 * read when beta = 0); after each later block, C = C + alpha*acc_b. So a row of
 * C does not depend on which other rows are in the product (the active set of
 * the engine shrinks the batch) nor on how the columns are split over threads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "parallel.h"

#define FFR_MR 12
#define FFR_NPMAX 2 /* column panels at once, tiles of <= 6 rows (np_max) */
#define FFR_PF 16 /* rows of op(B) ahead that tiles of <= 3 rows prefetch */
#define FFR_MC 96 /* rows per packed A block: 8 tiles */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(FFR_NO_AVX512)
#define FFR_HAVE_KERNEL 1
#define TGT __attribute__((target("avx512f,fma")))
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#define FFR_HAVE_AVX2 1 /* the AVX2+FMA twin (below), for CPUs without AVX-512F */
#define TGT2 __attribute__((target("avx2,fma")))
#include <immintrin.h>
#endif

/* Which kernel runs: 2 AVX-512F, 1 AVX2+FMA, 0 none (ffr_gemm goes to the BLAS
 * or the reference). Read from CPUID (__builtin_cpu_supports) once;
 * FFRELAX_GEMM=blas: none, FFRELAX_GEMM=avx2: the AVX2 twin on an AVX-512 CPU
 * too (the tests compare the two). A pure function of the CPU and the
 * environment. */
static int gemm_isa(void) {
    static int isa = -1;
    if (isa < 0) {
        const char *e = getenv("FFRELAX_GEMM");
        int v = 0;
#if defined(FFR_HAVE_AVX2)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) v = 1;
#endif
#if defined(FFR_HAVE_KERNEL)
        if (__builtin_cpu_supports("avx512f") && !(e && !strcmp(e, "avx2"))) v = 2;
#endif
        if (e && !strcmp(e, "blas")) v = 0;
        isa = v;
    }
    return isa;
}
int ffr_gemm_isa(void) { return gemm_isa(); }

size_t ffr_gemm_pack_floats(int N, int K) {
    return (size_t)((N + FFR_NR - 1) / FFR_NR) * FFR_NR * (size_t)(K > 0 ? K : 0);
}

#ifdef FFR_HAVE_KERNEL
/* Transpose a block: nr (<= 16) rows of 16 floats at src (row stride ld; rows
 * past nr read as zero) into 16 vectors, vector c (= src column c) stored at
 * dst + c * ds under mask sm. */
static inline __attribute__((always_inline)) TGT void tr16(const float *src, size_t ld, int nr, float *dst, size_t ds,
                                                          __mmask16 sm) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = i < nr ? _mm512_loadu_ps(src + i * ld) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int h = 0; h < 16; h += 8)
        for (int i = 0; i < 4; i++) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xDD);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    }
    for (int c = 0; c < 16; c++) _mm512_mask_storeu_ps(dst + c * ds, sm, r[c]);
}

static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* P[jp][k][32] from op(B)[k][j] = tB ? B[j*ldb + k] : B[k*ldb + j]. */
static TGT void pack_b_512(float *P, int tB, int N, int K, const float *B, int ldb) {
    int np = (N + FFR_NR - 1) / FFR_NR;
    for (int jp = 0; jp < np; jp++) {
        float *dst = P + (size_t)jp * K * FFR_NR;
        int j0 = jp * FFR_NR, nj = N - j0 < FFR_NR ? N - j0 : FFR_NR;
        if (!tB) {
            __mmask16 m0 = lanes(nj), m1 = lanes(nj - 16);
            for (int k = 0; k < K; k++) {
                const float *src = B + (size_t)k * ldb + j0;
                _mm512_store_ps(dst + (size_t)k * FFR_NR, _mm512_maskz_loadu_ps(m0, src));
                _mm512_store_ps(dst + (size_t)k * FFR_NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
            }
        } else {
            int k = 0;
            for (; k + 16 <= K; k += 16)
                for (int h = 0; h < 2; h++) {
                    int nr = nj - 16 * h;
                    if (nr > 0) tr16(B + (size_t)(j0 + 16 * h) * ldb + k, ldb, nr < 16 ? nr : 16, dst + (size_t)k * FFR_NR + 16 * h, FFR_NR, 0xFFFF);
                    else for (int c = 0; c < 16; c++) _mm512_store_ps(dst + (size_t)(k + c) * FFR_NR + 16 * h, _mm512_setzero_ps());
                }
            for (; k < K; k++)
                for (int jj = 0; jj < FFR_NR; jj++) dst[(size_t)k * FFR_NR + jj] = jj < nj ? B[(size_t)(j0 + jj) * ldb + k] : 0.f;
        }
    }
}

/* A'[t][k][12] for rows i0..i0+mc-1, depth p0..p0+kc-1 of op(A); the last tile, of nr < 12 rows, is [k][nr]. */
static TGT void pack_a(float *Ap, int tA, const float *A, int lda, int i0, int mc, int p0, int kc) {
    for (int t = 0; t * FFR_MR < mc; t++) {
        float *dst = Ap + (size_t)t * kc * FFR_MR; /* tile t: [k][nr], nr = 12 but for the last */
        int r0 = t * FFR_MR, nr = mc - r0 < FFR_MR ? mc - r0 : FFR_MR;
        __mmask16 m = lanes(nr);
        if (tA) {
            for (int k = 0; k < kc; k++)
                _mm512_mask_storeu_ps(dst + (size_t)k * nr, m, _mm512_maskz_loadu_ps(m, A + (size_t)(p0 + k) * lda + i0 + r0));
        } else {
            const float *src = A + (size_t)(i0 + r0) * lda + p0;
            int k = 0;
            for (; k + 16 <= kc; k += 16) tr16(src + k, lda, nr, dst + (size_t)k * nr, nr, m);
            for (; k < kc; k++)
                for (int i = 0; i < nr; i++) dst[(size_t)k * nr + i] = src[(size_t)i * lda + k];
        }
    }
}
#endif

/* The packing of op(B) in plain C (the AVX2 twin's, and where no kernel
 * runs): the same layout and values. */
static void pack_b_c(float *P, int tB, int N, int K, const float *B, int ldb) {
    int np = (N + FFR_NR - 1) / FFR_NR;
    for (int jp = 0; jp < np; jp++)
        for (int k = 0; k < K; k++)
            for (int jj = 0; jj < FFR_NR; jj++) {
                int j = jp * FFR_NR + jj;
                P[((size_t)jp * K + k) * FFR_NR + jj] = j >= N ? 0.f : tB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
            }
}
#ifdef FFR_HAVE_AVX2
/* Transpose 8 rows of 8 floats at src (row stride ld; rows from nr on read
 * as zero): vector c (= src column c) stored at dst + c * ds. */
static inline __attribute__((always_inline)) TGT2 void tr8(const float *src, size_t ld, int nr, float *dst, size_t ds) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = i < nr ? _mm256_loadu_ps(src + i * ld) : _mm256_setzero_ps();
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * ds, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ds, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}
/* pack_b_c's layout and values with AVX2 loads: rows of op(B) copied 8
 * columns at a time (masked past N), or 8 x 8 blocks of B transposed. */
static TGT2 void pack_b2(float *P, int tB, int N, int K, const float *B, int ldb) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int np = (N + FFR_NR - 1) / FFR_NR;
    for (int jp = 0; jp < np; jp++) {
        float *dst = P + (size_t)jp * K * FFR_NR;
        int j0 = jp * FFR_NR, nj = N - j0 < FFR_NR ? N - j0 : FFR_NR;
        if (!tB) {
            __m256i m[4];
            for (int g = 0; g < 4; g++) m[g] = _mm256_cmpgt_epi32(_mm256_set1_epi32(nj - 8 * g), idx);
            for (int k = 0; k < K; k++)
                for (int g = 0; g < 4; g++)
                    _mm256_storeu_ps(dst + (size_t)k * FFR_NR + 8 * g, _mm256_maskload_ps(B + (size_t)k * ldb + j0 + 8 * g, m[g]));
        } else {
            int k = 0;
            for (; k + 8 <= K; k += 8)
                for (int g = 0; g < 4; g++) {
                    int nr = nj - 8 * g;
                    if (nr > 0) tr8(B + (size_t)(j0 + 8 * g) * ldb + k, ldb, nr < 8 ? nr : 8, dst + (size_t)k * FFR_NR + 8 * g, FFR_NR);
                    else for (int c = 0; c < 8; c++) _mm256_storeu_ps(dst + (size_t)(k + c) * FFR_NR + 8 * g, _mm256_setzero_ps());
                }
            for (; k < K; k++)
                for (int jj = 0; jj < FFR_NR; jj++) dst[(size_t)k * FFR_NR + jj] = jj < nj ? B[(size_t)(j0 + jj) * ldb + k] : 0.f;
        }
    }
}
#endif

void ffr_gemm_pack(float *P, int tB, int N, int K, const float *B, int ldb) {
#ifdef FFR_HAVE_KERNEL
    if (gemm_isa() == 2) { pack_b_512(P, tB, N, K, B, ldb); return; }
#endif
#ifdef FFR_HAVE_AVX2
    if (gemm_isa() == 1) { pack_b2(P, tB, N, K, B, ldb); return; }
#endif
    pack_b_c(P, tB, N, K, B, ldb);
}

#ifdef FFR_HAVE_KERNEL
/* The write-back of an MR x NP*32 tile of sums, both kernels (fp32, bf16):
 * C = alpha*acc + beta*C after the first depth block, C += alpha*acc after the
 * others; columns from ncols on are not touched. */
static inline __attribute__((always_inline)) TGT void store_tile(const int MR, const int NP, __m512 acc[][2 * FFR_NPMAX], float *C,
                                                                int ldc, float alpha, float beta, int first, int ncols) {
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < 2 * NP; v++) {
            int nv = ncols - v * 16;
            if (nv <= 0) continue;
            __mmask16 m = nv >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nv) - 1);
            float *c = C + (size_t)i * ldc + v * 16;
            __m512 x = _mm512_mul_ps(va, acc[i][v]);
            if (first) {
                if (beta != 0.f) x = _mm512_add_ps(x, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m, c)));
            } else
                x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c), x);
            _mm512_mask_storeu_ps(c, m, x);
        }
}

/* The micro-kernel: rows 0..MR-1 of a packed A tile times NP panels of packed
 * B, depth kc; writes C[0..MR, 0..ncols) (ncols <= NP*32) per the order above. */
static inline __attribute__((always_inline)) TGT void kernp(const int MR, const int NP, int kc, const float *restrict Ap,
                                                          const float *restrict Bp, size_t bstride, float *C, int ldc,
                                                          float alpha, float beta, int first, int ncols, const float *pf) {
    __m512 acc[FFR_MR][2 * FFR_NPMAX];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < 2 * NP; v++) acc[i][v] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m512 b[2 * FFR_NPMAX];
        if (pf) { /* the next panel's block, one row of it (2 lines) per step */
            _mm_prefetch((const char *)(pf + (size_t)k * FFR_NR), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + (size_t)k * FFR_NR + 16), _MM_HINT_T0);
        }
#pragma GCC unroll 4
        for (int p = 0; p < NP; p++) {
            if (MR <= 3) { /* few rows: streaming op(B) from memory is the cost */
                _mm_prefetch((const char *)(Bp + p * bstride + (size_t)(k + FFR_PF) * FFR_NR), _MM_HINT_T0);
                _mm_prefetch((const char *)(Bp + p * bstride + (size_t)(k + FFR_PF) * FFR_NR + 16), _MM_HINT_T0);
            }
            b[2 * p] = _mm512_load_ps(Bp + p * bstride + (size_t)k * FFR_NR);
            b[2 * p + 1] = _mm512_load_ps(Bp + p * bstride + (size_t)k * FFR_NR + 16);
        }
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(Ap[(size_t)k * MR + i]);
#pragma GCC unroll 4
            for (int v = 0; v < 2 * NP; v++) acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
        }
    }
    store_tile(MR, NP, acc, C, ldc, alpha, beta, first, ncols);
}

#define kern(MR, NP, kc, Ap, Bp, bs, C, ldc, al, be, first, nc) kernp(MR, NP, kc, Ap, Bp, bs, C, ldc, al, be, first, nc, NULL)
typedef void (*kern_fn)(int, const float *, const float *, size_t, float *, int, float, float, int, int);
/* the full tile that also fetches the next panel's block of op(B) */
static TGT void kern_12_1_pf(int kc, const float *Ap, const float *Bp, size_t bs, float *C, int ldc, float al, float be,
                             int first, int nc, const float *pf) {
    kernp(12, 1, kc, Ap, Bp, bs, C, ldc, al, be, first, nc, pf);
}
#define K_DEF(MR, NP) \
    static TGT void kern_##MR##_##NP(int kc, const float *Ap, const float *Bp, size_t bs, float *C, int ldc, \
                                     float al, float be, int first, int nc) { kern(MR, NP, kc, Ap, Bp, bs, C, ldc, al, be, first, nc); }
K_DEF(1, 1) K_DEF(1, 2) K_DEF(2, 1) K_DEF(2, 2) K_DEF(3, 1) K_DEF(3, 2)
K_DEF(4, 1) K_DEF(4, 2) K_DEF(5, 1) K_DEF(5, 2) K_DEF(6, 1) K_DEF(6, 2)
K_DEF(7, 1) K_DEF(8, 1) K_DEF(9, 1) K_DEF(10, 1) K_DEF(11, 1) K_DEF(12, 1)
/* kern_tab[rows][panels], panels <= np_max(rows) */
static const kern_fn kern_tab[13][FFR_NPMAX + 1] = {
    {0},
    {0, kern_1_1, kern_1_2}, {0, kern_2_1, kern_2_2},
    {0, kern_3_1, kern_3_2}, {0, kern_4_1, kern_4_2}, {0, kern_5_1, kern_5_2},
    {0, kern_6_1, kern_6_2}, {0, kern_7_1}, {0, kern_8_1}, {0, kern_9_1}, {0, kern_10_1},
    {0, kern_11_1}, {0, kern_12_1}};
static int np_max(int mr) { return mr <= 6 ? FFR_NPMAX : 1; }
#endif

int ffr_gemm_fast_available(void) { return gemm_isa() > 0; }

#ifdef FFR_HAVE_AVX2
/* ---- the AVX2+FMA twin: the same packed op(B) (panels of 32 columns) and the
 * same summation order (an FMA chain over k per depth block of FFR_KC, then
 * the same write-back), so its C is bit-identical to the AVX-512 kernel's and,
 * like it, independent of M, the tile and the thread count.
 *
 * op(A) is packed in tiles of 6 rows, A'[t][k][6] (the last [k][mr]); the
 * micro-tile is 3 rows x a whole panel of 32 columns (12 of the 16 ymm
 * registers hold sums; 1-2 rows for the tail: 4-8 chains, so a short batch
 * still has independent FMAs in flight), a tile of 6 rows in two calls.
 * Loop order, in the BLIS manner: a panel's slice of FFR_KS2 = 256 depths
 * (32 KiB) is reused by every A tile of the block (6 KiB each, the block in
 * L2). A 512-deep chain thus runs in two calls: the sums of the first half go
 * to a small stash (fp32 stores: no rounding) and the second call continues
 * the same chain from them, so the bits are those of one uninterrupted chain. */
#define FFR_MR2 6 /* rows of a packed A tile */
#define FFR_MR3 3 /* rows of the micro-tile */
#define FFR_KS2 256
enum { K2_LOAD = 1, K2_STASH = 2, K2_FIRST = 4 }; /* start from the stash; end in it; first depth block */
/* One row of the write-back (store_tile's arithmetic): columns [0, ncols) of C's row from its two sums. */
static inline __attribute__((always_inline)) TGT2 void store2(__m256 a0, __m256 a1, float *c, float alpha, float beta,
                                                            int first, int ncols) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (int v = 0; v < 2; v++, c += 8) {
        int nv = ncols - v * 8;
        if (nv <= 0) return;
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(nv), idx);
        __m256 x = _mm256_mul_ps(va, v ? a1 : a0);
        if (first) {
            if (beta != 0.f) x = _mm256_add_ps(x, _mm256_mul_ps(vb, _mm256_maskload_ps(c, m)));
        } else
            x = _mm256_add_ps(_mm256_maskload_ps(c, m), x);
        if (nv >= 8) _mm256_storeu_ps(c, x);
        else _mm256_maskstore_ps(c, m, x);
    }
}
/* MR (1-3) rows of an A tile (k stride as) times a whole panel (32 columns, k
 * stride FFR_NR), kc depths: the sums in 12 named registers (an array of them
 * is kept in memory by GCC, a store per FMA), started from zero or the stash
 * S[MR][32] (K2_LOAD), left in the stash (K2_STASH) or written back to C's
 * columns [0, ncols). Per depth 4 vector loads of op(B) and MR broadcasts for
 * 4 MR FMAs (a 6 x 16 tile needs 6 broadcasts for 12). */
static inline __attribute__((always_inline)) TGT2 void kern2p(const int MR, int kc, const float *restrict Ap, int as,
                                                            const float *restrict Bp, float *C, int ldc, const float *ab,
                                                            int mode, int ncols, float *S) {
    __m256 z = _mm256_setzero_ps();
    __m256 c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z, c23 = z;
#define ALL2(F) F(0, 0) F(0, 1) F(0, 2) F(0, 3) F(1, 0) F(1, 1) F(1, 2) F(1, 3) F(2, 0) F(2, 1) F(2, 2) F(2, 3)
    if (mode & K2_LOAD) {
#define LD2(i, v) if (MR > i) c##i##v = _mm256_loadu_ps(S + (i * 4 + v) * 8);
        ALL2(LD2)
#undef LD2
    }
    for (int k = 0; k < kc; k++) {
        const float *a = Ap + (size_t)k * as, *b = Bp + (size_t)k * FFR_NR;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), b2 = _mm256_loadu_ps(b + 16),
               b3 = _mm256_loadu_ps(b + 24), x;
        /* in registers: GCC would fold a load into every FMA; with 3 rows
           (12 sums) b3 is read by its FMAs from memory (16 registers) */
        if (MR < 3) __asm__("" : "+x"(b0), "+x"(b1), "+x"(b2), "+x"(b3));
        else __asm__("" : "+x"(b0), "+x"(b1), "+x"(b2));
#define ROW2(i) if (MR > i) { x = _mm256_broadcast_ss(a + i); \
        c##i##0 = _mm256_fmadd_ps(x, b0, c##i##0); c##i##1 = _mm256_fmadd_ps(x, b1, c##i##1); \
        c##i##2 = _mm256_fmadd_ps(x, b2, c##i##2); c##i##3 = _mm256_fmadd_ps(x, b3, c##i##3); }
        ROW2(0) ROW2(1) ROW2(2)
#undef ROW2
    }
    if (mode & K2_STASH) {
#define ST2(i, v) if (MR > i) _mm256_storeu_ps(S + (i * 4 + v) * 8, c##i##v);
        ALL2(ST2)
#undef ST2
        return;
    }
#undef ALL2
    float alpha = ab[0], beta = ab[1]; /* read after the loop: no register held for them */
    int first = (mode & K2_FIRST) != 0;
#define WB2(i) if (MR > i) { store2(c##i##0, c##i##1, C + (size_t)i * ldc, alpha, beta, first, ncols); \
        if (ncols > 16) store2(c##i##2, c##i##3, C + (size_t)i * ldc + 16, alpha, beta, first, ncols - 16); }
    WB2(0) WB2(1) WB2(2)
#undef WB2
}
typedef void (*kern2_fn)(int, const float *, int, const float *, float *, int, const float *, int, int, float *);
#define K2_DEF(MR) \
    static TGT2 void kern2_##MR(int kc, const float *Ap, int as, const float *Bp, float *C, int ldc, const float *ab, \
                                int mode, int nc, float *S) { kern2p(MR, kc, Ap, as, Bp, C, ldc, ab, mode, nc, S); }
K2_DEF(1) K2_DEF(2) K2_DEF(3)
static const kern2_fn kern2_tab[FFR_MR3 + 1] = {0, kern2_1, kern2_2, kern2_3};

/* A'[t][k][6] for rows i0..i0+mc-1, depth p0..p0+kc-1 of op(A); the last tile, of mr < 6 rows, is [k][mr].
 * Full tiles of row-major A: 6 rows x 8 depths transposed at a time (tr8),
 * its 8 columns stored in increasing k, 8 floats each, so the two zeros
 * past a column's 6 are overwritten by the next (the last one within the tile). */
static TGT2 void pack_a2(float *Ap, int tA, const float *A, int lda, int i0, int mc, int p0, int kc) {
    float tmp[8 * 8] __attribute__((aligned(32)));
    for (int r0 = 0; r0 < mc; r0 += FFR_MR2) {
        float *dst = Ap + (size_t)r0 * kc;
        int mr = mc - r0 < FFR_MR2 ? mc - r0 : FFR_MR2, k = 0;
        if (tA) {
            for (; k < kc; k++)
                for (int i = 0; i < mr; i++) dst[(size_t)k * mr + i] = A[(size_t)(p0 + k) * lda + i0 + r0 + i];
            continue;
        }
        const float *src = A + (size_t)(i0 + r0) * lda + p0;
        if (mr == FFR_MR2)
            for (; k + 9 <= kc; k += 8) {
                tr8(src + k, lda, FFR_MR2, tmp, 8);
                for (int c = 0; c < 8; c++) _mm256_storeu_ps(dst + (size_t)(k + c) * FFR_MR2, _mm256_load_ps(tmp + 8 * c));
            }
        for (; k < kc; k++)
            for (int i = 0; i < mr; i++) dst[(size_t)k * mr + i] = src[(size_t)i * lda + k];
    }
}

/* drive's loops with the AVX2 micro-tile: for each panel, each 256-deep slice
 * of the depth block, every A tile of the block, as 3 rows + the rest. */
static void drive2(int M, int p0, int p1, int N, int K, float alpha, int tA, const float *A, int lda,
                   const float *P, float beta, float *C, int ldc, float *Ap, const ffr_gemm_epi *epi, int row0) {
    size_t bs = (size_t)K * FFR_NR;
    const float ab[2] = {alpha, beta};
    float S[FFR_MC * FFR_NR] __attribute__((aligned(32))); /* the stash: a panel's sums for FFR_MC rows */
    for (int pc = 0; pc < K; pc += FFR_KC) {
        int kc = K - pc < FFR_KC ? K - pc : FFR_KC, first = pc == 0, last = pc + kc == K;
        for (int ic = 0; ic < M; ic += FFR_MC) {
            int mc = M - ic < FFR_MC ? M - ic : FFR_MC;
            pack_a2(Ap, tA, A, lda, ic, mc, pc, kc);
            for (int jp = p0; jp < p1; jp++) {
                const float *Bp = P + jp * bs + (size_t)pc * FFR_NR;
                int nc = N - jp * FFR_NR < FFR_NR ? N - jp * FFR_NR : FFR_NR;
                for (int ks = 0; ks < kc; ks += FFR_KS2) {
                    int kn = kc - ks < FFR_KS2 ? kc - ks : FFR_KS2;
                    int mode = (ks ? K2_LOAD : 0) | (ks + kn < kc ? K2_STASH : 0) | (first ? K2_FIRST : 0);
                    for (int r0 = 0; r0 < mc; r0 += FFR_MR2) {
                        int mr = mc - r0 < FFR_MR2 ? mc - r0 : FFR_MR2; /* the tile's rows = its k stride */
                        for (int q = 0; q < mr; q += FFR_MR3)
                            kern2_tab[mr - q < FFR_MR3 ? mr - q : FFR_MR3](
                                kn, Ap + (size_t)r0 * kc + (size_t)ks * mr + q, mr, Bp + (size_t)ks * FFR_NR,
                                C + (size_t)(ic + r0 + q) * ldc + jp * FFR_NR, ldc, ab, mode, nc, S + (size_t)(r0 + q) * FFR_NR);
                    }
                }
            }
            if (epi && last) epi->fn(epi->ctx, row0 + ic, row0 + ic + mc);
        }
    }
}
#endif

/* Panels [p0, p1) of C for all M rows. Ap: FFR_MC * FFR_KC floats, 64-byte aligned. */
static void drive(int M, int p0, int p1, int N, int K, float alpha, int tA, const float *A, int lda,
                  const float *P, float beta, float *C, int ldc, float *Ap, const ffr_gemm_epi *epi, int row0) {
#ifdef FFR_HAVE_KERNEL
    size_t bs = (size_t)K * FFR_NR;
    for (int pc = 0; pc < K; pc += FFR_KC) {
        int kc = K - pc < FFR_KC ? K - pc : FFR_KC, first = pc == 0, last = pc + kc == K;
        for (int ic = 0; ic < M; ic += FFR_MC) {
            int mc = M - ic < FFR_MC ? M - ic : FFR_MC, full = mc / FFR_MR, tail = mc % FFR_MR;
            pack_a(Ap, tA, A, lda, ic, mc, pc, kc);
            for (int jp = p0; jp < p1; jp++) {
                const float *Bp = P + jp * bs + (size_t)pc * FFR_NR;
                int nc = N - jp * FFR_NR < FFR_NR ? N - jp * FFR_NR : FFR_NR;
                for (int t = 0; t < full; t++) {
                    const float *At = Ap + (size_t)t * kc * FFR_MR;
                    float *Ct = C + (size_t)(ic + t * FFR_MR) * ldc + jp * FFR_NR;
                    if (t == full - 1 && jp + 1 < p1)
                        kern_12_1_pf(kc, At, Bp, bs, Ct, ldc, alpha, beta, first, nc, Bp + bs);
                    else
                        kern_12_1(kc, At, Bp, bs, Ct, ldc, alpha, beta, first, nc);
                }
            }
            if (tail) {
                int npm = np_max(tail);
                const float *At = Ap + (size_t)full * kc * FFR_MR;
                for (int jp = p0; jp < p1; jp += npm) {
                    int np = p1 - jp < npm ? p1 - jp : npm;
                    int nc = N - jp * FFR_NR < np * FFR_NR ? N - jp * FFR_NR : np * FFR_NR;
                    kern_tab[tail][np](kc, At, P + jp * bs + (size_t)pc * FFR_NR, bs,
                                       C + (size_t)(ic + full * FFR_MR) * ldc + jp * FFR_NR, ldc, alpha, beta, first, nc);
                }
            }
            if (epi && last) epi->fn(epi->ctx, row0 + ic, row0 + ic + mc); /* rows done: every panel, every depth block */
        }
    }
#else
    (void)M; (void)p0; (void)p1; (void)N; (void)K; (void)alpha; (void)tA; (void)A; (void)lda;
    (void)P; (void)beta; (void)C; (void)ldc; (void)Ap; (void)epi; (void)row0;
#endif
}

/* ---- bf16: op(A) and op(B) rounded to bfloat16 (round to nearest even,
 * denormals to zero, as VCVTNE2PS2BF16 does), products of pairs accumulated in
 * fp32 by VDPBF16PS (AVX512_BF16). Depth runs in pairs k2 = (2 k2, 2 k2 + 1):
 * packed op(B) is P[jp][k2][32] 32-bit words, each the bf16 pair of a column
 * (zero past N and past K); A tiles are A'[t][k2][12] words. Depth blocks of
 * FFR_KC2 pairs; the order of the sums is, as for fp32, the same for every
 * element whatever M, its tile or the thread count (within a pair, the order
 * VDPBF16PS uses). */
#define FFR_KC2 512

static inline uint32_t bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0) return (u >> 16) & 0x8000u;              /* zero, denormal: signed zero */
    if ((u & 0x7fffffffu) > 0x7f800000u) return ((u >> 16) | 0x40u) & 0xffffu; /* NaN stays NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return u >> 16;
}
float ffr_bf16_round(float f) {
    uint32_t u = bf16_bits(f) << 16;
    float r;
    memcpy(&r, &u, 4);
    return r;
}

size_t ffr_gemm_pack_bf16_words(int N, int K) {
    return (size_t)((N + FFR_NR - 1) / FFR_NR) * FFR_NR * (size_t)(((K > 0 ? K : 0) + 1) / 2);
}

void ffr_gemm_pack_bf16(uint32_t *P, int tB, int N, int K, const float *B, int ldb) {
    int np = (N + FFR_NR - 1) / FFR_NR, K2 = (K + 1) / 2;
    for (int jp = 0; jp < np; jp++)
        for (int k2 = 0; k2 < K2; k2++)
            for (int jj = 0; jj < FFR_NR; jj++) {
                int j = jp * FFR_NR + jj, k = 2 * k2;
                float lo = 0.f, hi = 0.f;
                if (j < N) {
                    lo = tB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                    if (k + 1 < K) hi = tB ? B[(size_t)j * ldb + k + 1] : B[(size_t)(k + 1) * ldb + j];
                }
                P[((size_t)jp * K2 + k2) * FFR_NR + jj] = bf16_bits(lo) | bf16_bits(hi) << 16;
            }
}

int ffr_gemm_bf16_available(void) {
#ifdef FFR_HAVE_KERNEL
    static int avail = -1;
    if (avail < 0) {
        __builtin_cpu_init();
        avail = ffr_gemm_fast_available() && __builtin_cpu_supports("avx512bf16");
    }
    return avail;
#else
    return 0;
#endif
}

#ifdef FFR_HAVE_KERNEL
#define TGT16 __attribute__((target("avx512f,avx512bf16,fma")))
/* A'[t][k2][12] words (the last tile [k2][nr]) for rows i0..i0+mc-1 (op(A) = A, row-major), pairs p2..p2+k2n-1. */
static TGT16 void pack_a_bf16(uint32_t *Ap, const float *A, int lda, int i0, int mc, int K, int p2, int k2n) {
    float tmp[16 * 16] __attribute__((aligned(64)));
    for (int t = 0; t * FFR_MR < mc; t++) {
        uint32_t *dst = Ap + (size_t)t * k2n * FFR_MR;
        int r0 = t * FFR_MR, nr = mc - r0 < FFR_MR ? mc - r0 : FFR_MR;
        int q = 0;
        /* 16 pairs (32 floats) of each row at a time: convert, then transpose the words */
        for (; q + 16 <= k2n && 2 * (p2 + q) + 32 <= K; q += 16) {
            for (int i = 0; i < nr; i++) {
                const float *src = A + (size_t)(i0 + r0 + i) * lda + 2 * (p2 + q);
                __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 16), _mm512_loadu_ps(src));
                _mm512_store_si512((void *)(tmp + 16 * i), (__m512i)h);
            }
            tr16(tmp, 16, nr, (float *)(dst + (size_t)q * nr), nr, lanes(nr));
        }
        for (; q < k2n; q++)
            for (int i = 0; i < nr; i++) {
                const float *src = A + (size_t)(i0 + r0 + i) * lda;
                int k = 2 * (p2 + q);
                dst[(size_t)q * nr + i] = bf16_bits(src[k]) | (k + 1 < K ? bf16_bits(src[k + 1]) << 16 : 0);
            }
    }
}

static inline __attribute__((always_inline)) TGT16 void kern16p(const int MR, const int NP, int k2n, const uint32_t *restrict Ap,
                                                              const uint32_t *restrict Bp, size_t bstride, float *C, int ldc,
                                                              float alpha, float beta, int first, int ncols, const uint32_t *pf) {
    __m512 acc[FFR_MR][2 * FFR_NPMAX];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < 2 * NP; v++) acc[i][v] = _mm512_setzero_ps();
    for (int k = 0; k < k2n; k++) {
        __m512bh b[2 * FFR_NPMAX];
        if (pf) { /* the next panel's block, one row of it (2 lines) per step */
            _mm_prefetch((const char *)(pf + (size_t)k * FFR_NR), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + (size_t)k * FFR_NR + 16), _MM_HINT_T0);
        }
#pragma GCC unroll 4
        for (int p = 0; p < NP; p++) {
            b[2 * p] = (__m512bh)_mm512_load_si512((const void *)(Bp + p * bstride + (size_t)k * FFR_NR));
            b[2 * p + 1] = (__m512bh)_mm512_load_si512((const void *)(Bp + p * bstride + (size_t)k * FFR_NR + 16));
        }
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)Ap[(size_t)k * MR + i]);
#pragma GCC unroll 4
            for (int v = 0; v < 2 * NP; v++) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], a, b[v]);
        }
    }
    store_tile(MR, NP, acc, C, ldc, alpha, beta, first, ncols);
}
#define kern16(MR, NP, k2n, Ap, Bp, bs, C, ldc, al, be, first, nc) kern16p(MR, NP, k2n, Ap, Bp, bs, C, ldc, al, be, first, nc, NULL)
typedef void (*kern16_fn)(int, const uint32_t *, const uint32_t *, size_t, float *, int, float, float, int, int);
/* the full tile that also fetches the next panel's block of op(B) */
static TGT16 void k16_12_1_pf(int kc, const uint32_t *Ap, const uint32_t *Bp, size_t bs, float *C, int ldc, float al,
                              float be, int first, int nc, const uint32_t *pf) {
    kern16p(12, 1, kc, Ap, Bp, bs, C, ldc, al, be, first, nc, pf);
}
#define K16_DEF(MR, NP) \
    static TGT16 void k16_##MR##_##NP(int kc, const uint32_t *Ap, const uint32_t *Bp, size_t bs, float *C, int ldc, \
                                      float al, float be, int first, int nc) { kern16(MR, NP, kc, Ap, Bp, bs, C, ldc, al, be, first, nc); }
K16_DEF(1, 1) K16_DEF(1, 2) K16_DEF(2, 1) K16_DEF(2, 2) K16_DEF(3, 1) K16_DEF(3, 2)
K16_DEF(4, 1) K16_DEF(4, 2) K16_DEF(5, 1) K16_DEF(5, 2) K16_DEF(6, 1) K16_DEF(6, 2)
K16_DEF(7, 1) K16_DEF(8, 1) K16_DEF(9, 1) K16_DEF(10, 1) K16_DEF(11, 1) K16_DEF(12, 1)
static const kern16_fn k16_tab[13][FFR_NPMAX + 1] = {
    {0},
    {0, k16_1_1, k16_1_2}, {0, k16_2_1, k16_2_2},
    {0, k16_3_1, k16_3_2}, {0, k16_4_1, k16_4_2}, {0, k16_5_1, k16_5_2},
    {0, k16_6_1, k16_6_2}, {0, k16_7_1}, {0, k16_8_1}, {0, k16_9_1}, {0, k16_10_1},
    {0, k16_11_1}, {0, k16_12_1}};

static void drive16(int M, int p0, int p1, int N, int K, float alpha, const float *A, int lda, const uint32_t *P,
                    float beta, float *C, int ldc, uint32_t *Ap, const ffr_gemm_epi *epi, int row0) {
    int K2 = (K + 1) / 2;
    size_t bs = (size_t)K2 * FFR_NR;
    for (int pc = 0; pc < K2; pc += FFR_KC2) {
        int kc = K2 - pc < FFR_KC2 ? K2 - pc : FFR_KC2, first = pc == 0, last = pc + kc == K2;
        for (int ic = 0; ic < M; ic += FFR_MC) {
            int mc = M - ic < FFR_MC ? M - ic : FFR_MC, full = mc / FFR_MR, tail = mc % FFR_MR;
            pack_a_bf16(Ap, A, lda, ic, mc, K, pc, kc);
            for (int jp = p0; jp < p1; jp++) {
                const uint32_t *Bp = P + jp * bs + (size_t)pc * FFR_NR;
                int nc = N - jp * FFR_NR < FFR_NR ? N - jp * FFR_NR : FFR_NR;
                for (int t = 0; t < full; t++) {
                    const uint32_t *At = Ap + (size_t)t * kc * FFR_MR;
                    float *Ct = C + (size_t)(ic + t * FFR_MR) * ldc + jp * FFR_NR;
                    if (t == full - 1 && jp + 1 < p1)
                        k16_12_1_pf(kc, At, Bp, bs, Ct, ldc, alpha, beta, first, nc, Bp + bs);
                    else
                        k16_12_1(kc, At, Bp, bs, Ct, ldc, alpha, beta, first, nc);
                }
            }
            if (tail) {
                int npm = np_max(tail);
                const uint32_t *At = Ap + (size_t)full * kc * FFR_MR;
                for (int jp = p0; jp < p1; jp += npm) {
                    int np = p1 - jp < npm ? p1 - jp : npm;
                    int nc = N - jp * FFR_NR < np * FFR_NR ? N - jp * FFR_NR : np * FFR_NR;
                    k16_tab[tail][np](kc, At, P + jp * bs + (size_t)pc * FFR_NR, bs,
                                      C + (size_t)(ic + full * FFR_MR) * ldc + jp * FFR_NR, ldc, alpha, beta, first, nc);
                }
            }
            if (epi && last) epi->fn(epi->ctx, row0 + ic, row0 + ic + mc);
        }
    }
}
#endif

typedef struct {
    int M, np, N, K, tA, lda, ldc, by_rows;
    float alpha, beta;
    const float *A, *P;
    const uint32_t *P16; /* bf16 products when set */
    float *C;
    const ffr_gemm_epi *epi; /* rows' epilogue, with whole rows per thread only */
} job_t;

static void job_drive(const job_t *j, int M, int p0, int p1, const float *A, float *C, float *Ap, int row0) {
    const ffr_gemm_epi *epi = j->by_rows ? j->epi : NULL;
#ifdef FFR_HAVE_KERNEL
    if (j->P16) {
        drive16(M, p0, p1, j->N, j->K, j->alpha, A, j->lda, j->P16, j->beta, C, j->ldc, (uint32_t *)Ap, epi, row0);
        return;
    }
#endif
#ifdef FFR_HAVE_AVX2
    if (gemm_isa() == 1) {
        drive2(M, p0, p1, j->N, j->K, j->alpha, j->tA, A, j->lda, j->P, j->beta, C, j->ldc, Ap, epi, row0);
        return;
    }
#endif
    drive(M, p0, p1, j->N, j->K, j->alpha, j->tA, A, j->lda, j->P, j->beta, C, j->ldc, Ap, epi, row0);
}

/* Thread t of nt: a contiguous range of rows (whole tiles) or of panels. */
static void job_part(void *arg, int t, int nt) {
    const job_t *j = arg;
    /* the packed A block, 192 KiB of the calling thread's stack (bf16 blocks of 512 pairs; fp32 uses half) */
    float Ap[FFR_MC * (FFR_KC > FFR_KC2 ? FFR_KC : FFR_KC2)] __attribute__((aligned(64)));
    if (j->by_rows) {
        int tiles = (j->M + FFR_MR - 1) / FFR_MR;
        int r0 = tiles * t / nt * FFR_MR, r1 = tiles * (t + 1) / nt * FFR_MR;
        if (r1 > j->M) r1 = j->M;
        if (r1 <= r0) return;
        const float *A = j->tA ? j->A + r0 : j->A + (size_t)r0 * j->lda;
        job_drive(j, r1 - r0, 0, j->np, A, j->C + (size_t)r0 * j->ldc, Ap, r0);
    } else {
        int p0 = j->np * t / nt, p1 = j->np * (t + 1) / nt;
        if (p1 > p0) job_drive(j, j->M, p0, p1, j->A, j->C, Ap, 0);
    }
}

static int packed_any(int nt, int tA, int M, int N, int K, float alpha, const float *A, int lda, const float *P,
                      const uint32_t *P16, float beta, float *C, int ldc, const ffr_gemm_epi *epi);
void ffr_gemm_packed(int nt, int tA, int M, int N, int K, float alpha, const float *A, int lda, const float *P,
                     float beta, float *C, int ldc) {
    packed_any(nt, tA, M, N, K, alpha, A, lda, P, NULL, beta, C, ldc, NULL);
}
void ffr_gemm_packed_bf16(int nt, int M, int N, int K, float alpha, const float *A, int lda, const uint32_t *P,
                          float beta, float *C, int ldc) {
    packed_any(nt, 0, M, N, K, alpha, A, lda, NULL, P, beta, C, ldc, NULL);
}
int ffr_gemm_packed_epi(int nt, int tA, int M, int N, int K, float alpha, const float *A, int lda, const float *P,
                        const uint32_t *P16, float beta, float *C, int ldc, const ffr_gemm_epi *epi) {
    return packed_any(nt, tA, M, N, K, alpha, A, lda, P16 ? NULL : P, P16, beta, C, ldc, epi);
}
/* Returns 1 when epi ran on every row (whole rows per thread), else 0 (the
 * caller runs its epilogue after the product). nt: threads, 0 = the default. */
static int packed_any(int nt, int tA, int M, int N, int K, float alpha, const float *A, int lda, const float *P,
                      const uint32_t *P16, float beta, float *C, int ldc, const ffr_gemm_epi *epi) {
    if (M <= 0 || N <= 0) return 0;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.f ? 0.f : beta * C[(size_t)i * ldc + j];
        return 0;
    }
    int np = (N + FFR_NR - 1) / FFR_NR;
    nt = ffr_threads_resolve(nt);
    /* work in flop-equivalents: the products, plus the packed op(B) streamed
     * from memory (with few rows a product is bound by reading P, ~8 flops'
     * time per float), ~6 us of it per thread at least (a hand-off costs
     * ~0.5 us) */
    double fl = 2.0 * M * N * K + 8.0 * N * K;
    if (fl < 1e6 * nt) nt = (int)(fl / 1e6) > 1 ? (int)(fl / 1e6) : 1;
    /* rows when every thread gets 4 tiles or more (each packs only its rows of A), else panels */
    int by_rows = nt == 1 || M >= nt * 4 * FFR_MR;
    if (!by_rows && nt > np) nt = np;
    job_t j = {M, np, N, K, tA, lda, ldc, by_rows, alpha, beta, A, P, P16, C, epi};
    ffr_parallel(nt, job_part, &j);
    return epi && by_rows;
}

/* Packing op(B) over threads: contiguous ranges of panels (each panel's bits
 * are the same whoever packs it). */
typedef struct { float *P; int tB, N, K; const float *B; int ldb, np; } pack_job;
static void pack_part(void *arg, int t, int nt) {
    pack_job *j = arg;
    int p0 = j->np * t / nt, p1 = j->np * (t + 1) / nt;
    if (p1 <= p0) return;
    int j0 = p0 * FFR_NR, n = (p1 * FFR_NR < j->N ? p1 * FFR_NR : j->N) - j0;
    const float *B = j->tB ? j->B + (size_t)j0 * j->ldb : j->B + j0;
    ffr_gemm_pack(j->P + (size_t)p0 * j->K * FFR_NR, j->tB, n, j->K, B, j->ldb);
}

/* Out of memory for the whole packed op(B): the columns in chunks of panels,
 * each packed into a buffer as large as can be had (halving down to one
 * panel, 32 x K floats). The same bits as one call: an element's sum does not
 * depend on how the columns are split (the summation order above). -1 when
 * not even one panel can be allocated. */
static int fast_chunked(int nt, int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc) {
    int np = (N + FFR_NR - 1) / FFR_NR, chunk = np;
    float *P = NULL;
    while (chunk > 1 && !P) {
        chunk = (chunk + 1) / 2;
        P = ffr_big_alloc(ffr_gemm_pack_floats(chunk * FFR_NR, K), sizeof(float), 0);
    }
    if (!P) return -1;
    for (int j0 = 0; j0 < N; j0 += chunk * FFR_NR) {
        int n = N - j0 < chunk * FFR_NR ? N - j0 : chunk * FFR_NR;
        ffr_gemm_pack(P, tB, n, K, tB ? B + (size_t)j0 * ldb : B + j0, ldb);
        ffr_gemm_packed(nt, tA, M, n, K, alpha, A, lda, P, beta, C + j0, ldc);
    }
    free(P);
    return 0;
}

int ffr_gemm_fast(int nt, int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return 0;
    size_t nf = ffr_gemm_pack_floats(N, K);
    float *P = nf ? ffr_big_alloc(nf, sizeof(float), 0) : NULL;
    if (nf && !P) return fast_chunked(nt, tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    nt = ffr_threads_resolve(nt);
    int ntp = nt;
    if (nf) {
        int np = (N + FFR_NR - 1) / FFR_NR;
        if ((double)N * K < 262144.0 * nt) nt = (int)((double)N * K / 262144) > 1 ? (int)((double)N * K / 262144) : 1;
        if (nt > np) nt = np;
        pack_job pj = {P, tB, N, K, B, ldb, np};
        ffr_parallel(nt, pack_part, &pj);
    }
    ffr_gemm_packed(ntp, tA, M, N, K, alpha, A, lda, P, beta, C, ldc);
    free(P);
    return 0;
}
