/* test_gemm.c - ffrelax's kernel (src/gemm.c: AVX-512F, or its AVX2+FMA twin) against the naive
 * double reference on awkward shapes, and the properties the engine relies
 * on: packed once == packed per call, bit for bit; a row's result does not
 * depend on the other rows of the product (the active set) nor on the thread
 * count; beta = 0 never reads C; concurrent callers get the same bits.
 * the documented summation order, bit for bit (so both kernels give the same
 * bits). On a CPU with neither the kernel checks are skipped (and said so). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ffrelax.h"
#include "internal.h"
#include "minitest.h"

static float *randv(ffr_rng *r, size_t n) {
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = (float)ffr_rng_normal(r);
    return v;
}

static void test_vs_ref(void) {
    ffr_rng r;
    ffr_rng_seed(&r, 11);
    /* tiles of 12 rows x 32 columns, depth blocks of FFR_KC = 512: shapes on, just
       under and just over every boundary, and prime ones */
    int shapes[][3] = {{1, 1, 1},    {1, 32, 256},  {2, 33, 257},  {3, 31, 511}, {4, 65, 513}, {5, 97, 7},
                       {6, 1, 1025},  {7, 64, 1},    {11, 129, 97}, {12, 32, 512}, {13, 100, 784}, {23, 17, 1000},
                       {25, 200, 3}, {97, 61, 1536}, {100, 1000, 50}, {1, 1000, 1000}, {211, 37, 600}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int ab = 0; ab < 3; ab++) {
                    int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                    float alpha = ab == 0 ? 1.f : ab == 1 ? 0.7f : -1.3f, beta = ab == 0 ? 0.f : ab == 1 ? 1.f : 0.3f;
                    int ldc = N + 3; /* C's rows padded: columns past N must stay untouched */
                    float *A = randv(&r, (size_t)M * K), *B = randv(&r, (size_t)K * N);
                    float *C1 = randv(&r, (size_t)M * ldc), *C2 = malloc(sizeof(float) * M * ldc);
                    if (beta == 0.f) /* beta = 0: C is not read (NaN garbage must not leak) */
                        for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) C1[(size_t)i * ldc + j] = NAN;
                    memcpy(C2, C1, sizeof(float) * M * ldc);
                    ffr_gemm_fast(0, ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C1, ldc);
                    ffr_gemm_ref(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C2, ldc);
                    double md = 0, mx = 0;
                    int pad_ok = 1, finite = 1;
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < ldc; j++) {
                            size_t o = (size_t)i * ldc + j;
                            if (j >= N) { pad_ok &= memcmp(&C1[o], &C2[o], sizeof(float)) == 0; continue; }
                            finite &= isfinite(C1[o]);
                            md = fmax(md, fabs(C1[o] - C2[o]));
                            mx = fmax(mx, fabs(C2[o]));
                        }
                    CHECKF(finite && md <= 2e-6 * (1 + mx) * sqrt(K), "kernel %dx%dx%d ta=%d tb=%d a=%g b=%g: max diff %g",
                           M, N, K, ta, tb, alpha, beta, md);
                    CHECKF(pad_ok, "kernel %dx%dx%d: wrote past column N", M, N, K);
                    CHECK(mx > 0.1 || M * N < 4); /* not comparing zeros */
                    free(A); free(B); free(C1); free(C2);
                }
    /* K = 0: C = beta C */
    float c[6] = {1, 2, 3, 4, 5, 6}, a[1] = {0}, b[1] = {0};
    ffr_gemm_fast(0, 0, 0, 2, 3, 0, 1.f, a, 1, b, 3, 0.5f, c, 3);
    CHECK(c[0] == 0.5f && c[5] == 3.f);
}

/* A row of C must come out the same whatever rows it is computed with and
 * however many threads share the product; packing once or per call too. */
static void test_bits(void) {
    ffr_rng r;
    ffr_rng_seed(&r, 12);
    int N = 301, K = 777, Ms[] = {1, 2, 5, 12, 13, 40, 97, 250};
    float *Bt = randv(&r, (size_t)N * K); /* (N, K): op(B) = B^T, the up product's layout */
    float *A = randv(&r, (size_t)250 * K);
    float *P = aligned_alloc(64, ffr_gemm_pack_floats(N, K) * sizeof(float));
    ffr_gemm_pack(P, 1, N, K, Bt, K);
    float *ref = malloc(sizeof(float) * 250 * N), *C = malloc(sizeof(float) * 250 * N);
    ffr_threads_set_default(1);
    for (int i = 0; i < 250; i++) ffr_gemm_packed(0, 0, 1, N, K, 0.5f, A + (size_t)i * K, K, P, 0.f, ref + (size_t)i * N, N);
    for (int th = 1; th <= 3; th++) {
        ffr_threads_set_default(th);
        for (size_t m = 0; m < sizeof Ms / sizeof *Ms; m++) {
            int M = Ms[m];
            ffr_gemm_packed(0, 0, M, N, K, 0.5f, A, K, P, 0.f, C, N);
            CHECKF(!memcmp(C, ref, sizeof(float) * M * N), "packed M=%d threads=%d: rows differ from one-row products", M, th);
            memset(C, 0, sizeof(float) * M * N);
            ffr_gemm_fast(0, 0, 1, M, N, K, 0.5f, A, K, Bt, K, 0.f, C, N);
            CHECKF(!memcmp(C, ref, sizeof(float) * M * N), "per-call packing M=%d threads=%d: differs from packed once", M, th);
        }
    }
    /* an explicit thread count per call (a relaxer's own), the default left at 1 */
    ffr_threads_set_default(1);
    for (int th = 2; th <= 3; th++) {
        ffr_gemm_packed(th, 0, 250, N, K, 0.5f, A, K, P, 0.f, C, N);
        CHECKF(!memcmp(C, ref, sizeof(float) * 250 * N), "packed with %d threads given: differs", th);
    }
    /* a large product through both splits (rows, panels) */
    int M = 250;
    float *C1 = malloc(sizeof(float) * M * N);
    ffr_threads_set_default(1);
    ffr_gemm_packed(0, 0, M, N, K, 1.f, A, K, P, 0.f, C1, N);
    ffr_threads_set_default(2);
    ffr_gemm_packed(0, 0, M, N, K, 1.f, A, K, P, 0.f, C, N);
    CHECK(!memcmp(C, C1, sizeof(float) * M * N));
    ffr_gemm_packed(0, 0, 20, N, K, 1.f, A, K, P, 0.f, C, N); /* 20 rows: split over panels */
    CHECK(!memcmp(C, C1, sizeof(float) * 20 * N));
    free(C1); free(Bt); free(A); free(P); free(ref); free(C);
}

/* The summation order of gemm.c's header, in scalar C: per element an fmaf
 * chain over k inside each depth block of 512, C = alpha*acc + beta*C after
 * the first (C not read when beta = 0), C = C + alpha*acc after the others.
 * Both kernels (AVX-512F and the AVX2 twin) must give exactly these bits. */
static void test_order(void) {
    ffr_rng r;
    ffr_rng_seed(&r, 13);
    /* the AVX2 twin's paths too: A tiles of 6 rows and tails of 1-5 (micro-tiles
       of 3, 2, 1 rows), mixed in one block; depth slices of 256 continued from
       the stash (K = 300, 768, 1300), a slice of one depth (257); two row
       blocks of 96 (100) */
    int shapes[][3] = {{1, 1, 1},   {5, 37, 513}, {13, 33, 1100}, {7, 16, 512}, {29, 70, 100},
                       {2, 47, 300}, {8, 20, 768}, {1, 64, 257},   {14, 33, 256}, {100, 45, 1300}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int ab = 0; ab < 2; ab++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float alpha = ab ? -0.7f : 1.f, beta = ab ? 0.3f : 0.f;
            float *A = randv(&r, (size_t)M * K), *Bt = randv(&r, (size_t)N * K), *C = randv(&r, (size_t)M * N);
            float *R = malloc(sizeof(float) * M * N);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    float c = C[(size_t)i * N + j];
                    for (int p = 0; p < K; p += 512) {
                        float acc = 0.f;
                        for (int k = p; k < K && k < p + 512; k++) acc = fmaf(A[(size_t)i * K + k], Bt[(size_t)j * K + k], acc);
                        float x = alpha * acc;
                        if (p == 0) { if (beta != 0.f) { float y = beta * c; c = x + y; } else c = x; }
                        else c = c + x;
                    }
                    R[(size_t)i * N + j] = c;
                }
            ffr_gemm_fast(0, 0, 1, M, N, K, alpha, A, K, Bt, K, beta, C, N);
            CHECKF(!memcmp(C, R, sizeof(float) * M * N), "kernel %s %dx%dx%d: not the documented summation order",
                   ffr_gemm_isa() == 2 ? "avx512" : "avx2", M, N, K);
            free(A); free(Bt); free(C); free(R);
        }
}

/* ffr_gemm_pack (the kernel's own, vectorized) against its documented layout:
 * P[jp][k][32] = op(B)[k][jp*32 + jj], zero past N, on shapes around the
 * 8 x 8 and 16 x 16 transposes' edges, both transposes, ldb > the row. */
static void test_pack(void) {
    ffr_rng r;
    ffr_rng_seed(&r, 14);
    int shapes[][2] = {{1, 1}, {7, 9}, {31, 8}, {33, 17}, {70, 100}, {96, 31}, {8, 16}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int tb = 0; tb < 2; tb++) {
            int N = shapes[s][0], K = shapes[s][1], ldb = (tb ? K : N) + 3;
            float *B = randv(&r, (size_t)(tb ? N : K) * ldb);
            size_t n = ffr_gemm_pack_floats(N, K);
            float *P = aligned_alloc(64, n * sizeof(float) + 64), *R = malloc(n * sizeof(float));
            for (size_t i = 0; i < n; i++) P[i] = NAN; /* every float must be written */
            for (int jp = 0; jp * FFR_NR < N; jp++)
                for (int k = 0; k < K; k++)
                    for (int jj = 0; jj < FFR_NR; jj++) {
                        int j = jp * FFR_NR + jj;
                        R[((size_t)jp * K + k) * FFR_NR + jj] = j >= N ? 0.f : tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                    }
            ffr_gemm_pack(P, tb, N, K, B, ldb);
            CHECKF(!memcmp(P, R, n * sizeof(float)), "pack %dx%d tB=%d: not the documented layout", N, K, tb);
            free(B); free(P); free(R);
        }
}

/* Two threads of a caller's program using the kernel (and its pool) at once. */
typedef struct { const float *A, *B; float *C; int M, N, K; } conc_t;
static void *conc_run(void *arg) {
    conc_t *c = arg;
    for (int it = 0; it < 5; it++) ffr_gemm_fast(0, 0, 0, c->M, c->N, c->K, 1.f, c->A, c->K, c->B, c->N, 0.f, c->C, c->N);
    return NULL;
}
static void test_concurrent(void) {
    ffr_rng r;
    ffr_rng_seed(&r, 13);
    int M = 120, N = 200, K = 300;
    float *A = randv(&r, (size_t)M * K), *B = randv(&r, (size_t)K * N);
    float *C0 = malloc(sizeof(float) * M * N), *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
    ffr_threads_set_default(2);
    ffr_gemm_fast(0, 0, 0, M, N, K, 1.f, A, K, B, N, 0.f, C0, N);
    conc_t a = {A, B, C1, M, N, K}, b = {A, B, C2, M, N, K};
    pthread_t t1, t2;
    int ok = pthread_create(&t1, NULL, conc_run, &a) == 0;
    ok = ok && pthread_create(&t2, NULL, conc_run, &b) == 0;
    CHECK(ok);
    if (ok) { pthread_join(t1, NULL); pthread_join(t2, NULL); }
    CHECK(!memcmp(C0, C1, sizeof(float) * M * N) && !memcmp(C0, C2, sizeof(float) * M * N));
    free(A); free(B); free(C0); free(C1); free(C2);
}

/* bf16 products: against double sums of the bf16-rounded inputs (only the
 * fp32 accumulation differs), and a row independent of the others and of the
 * thread count; the rounding itself is round-to-nearest-even. */
static void test_bf16(void) {
    CHECK(ffr_bf16_round(1.0f) == 1.0f);
    CHECK(ffr_bf16_round(1.0f + 1.0f / 256) == 1.0f);                  /* tie to even */
    CHECK(ffr_bf16_round(1.0f + 3.0f / 256) == 1.0f + 4.0f / 256);     /* tie to even, up */
    CHECK(ffr_bf16_round(1.0f + 1.1f / 256) == 1.0f + 2.0f / 256);
    CHECK(ffr_bf16_round(-2.5e-39f) == 0.f);                            /* denormal to zero */
    ffr_rng r;
    ffr_rng_seed(&r, 14);
    int shapes[][3] = {{1, 1, 1}, {1, 32, 2}, {2, 33, 3}, {5, 65, 31}, {12, 32, 32}, {13, 100, 784},
                       {23, 17, 513}, {100, 61, 1000}, {211, 37, 33}, {7, 40, 2100}, {130, 45, 1100}};
    for (size_t sI = 0; sI < sizeof shapes / sizeof *shapes; sI++)
        for (int tb = 0; tb < 2; tb++) {
            int M = shapes[sI][0], N = shapes[sI][1], K = shapes[sI][2];
            float *A = randv(&r, (size_t)M * K), *B = randv(&r, (size_t)K * N), *C = randv(&r, (size_t)M * N);
            float *C0 = malloc(sizeof(float) * M * N);
            memcpy(C0, C, sizeof(float) * M * N);
            uint32_t *P = aligned_alloc(64, ffr_gemm_pack_bf16_words(N, K) * 4 + 64);
            ffr_gemm_pack_bf16(P, tb, N, K, B, tb ? K : N);
            ffr_gemm_packed_bf16(0, M, N, K, 0.5f, A, K, P, 1.f, C, N);
            double md = 0, mx = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double acc = 0;
                    for (int k = 0; k < K; k++)
                        acc += (double)ffr_bf16_round(A[(size_t)i * K + k]) *
                               ffr_bf16_round(tb ? B[(size_t)j * K + k] : B[(size_t)k * N + j]);
                    double ref = 0.5 * acc + C0[(size_t)i * N + j];
                    md = fmax(md, fabs(C[(size_t)i * N + j] - ref));
                    mx = fmax(mx, fabs(ref));
                }
            CHECKF(md <= 2e-6 * (1 + mx) * sqrt(K), "bf16 %dx%dx%d tb=%d: max diff %g from the bf16-input reference", M, N, K, tb, md);
            CHECK(mx > 0.1 || M * N < 4);
            free(A); free(B); free(C); free(C0); free(P);
        }
    int N = 301, K = 1555, M = 250; /* more than one depth block of 512 pairs */
    float *Bt = randv(&r, (size_t)N * K), *A = randv(&r, (size_t)M * K);
    float *ref = malloc(sizeof(float) * M * N), *C = malloc(sizeof(float) * M * N);
    uint32_t *P = aligned_alloc(64, ffr_gemm_pack_bf16_words(N, K) * 4);
    ffr_gemm_pack_bf16(P, 1, N, K, Bt, K);
    ffr_threads_set_default(1);
    for (int i = 0; i < M; i++) ffr_gemm_packed_bf16(0, 1, N, K, 1.f, A + (size_t)i * K, K, P, 0.f, ref + (size_t)i * N, N);
    int same = 1;
    for (int th = 1; th <= 3; th++) {
        ffr_threads_set_default(th);
        int Ms[] = {2, 13, 40, 250};
        for (int m = 0; m < 4; m++) {
            ffr_gemm_packed_bf16(0, Ms[m], N, K, 1.f, A, K, P, 0.f, C, N);
            same &= !memcmp(C, ref, sizeof(float) * Ms[m] * N);
        }
    }
    CHECKF(same, "bf16: a row's result depends on the other rows or the thread count");
    free(Bt); free(A); free(ref); free(C); free(P);
}

/* ffr_parallel runs every part exactly once. */
static void count_part(void *arg, int t, int nt) { (void)nt; ((int *)arg)[t]++; }
static void test_parallel(void) {
    for (int nt = 1; nt <= 5; nt++) {
        int cnt[8] = {0};
        for (int it = 0; it < 50; it++) ffr_parallel(nt, count_part, cnt);
        int ok = 1;
        for (int t = 0; t < 8; t++) ok &= cnt[t] == (t < nt ? 50 : 0);
        CHECKF(ok, "ffr_parallel(%d): a part ran the wrong number of times", nt);
    }
}

/* Out of memory for the packed op(B) (issue 14, class 4): the kernel packs the
 * columns in chunks instead, with the same bits as one call; with not even one
 * panel it returns -1. The blocked reference (ffr_gemm's last resort) has
 * ffr_gemm_ref's bits. Awkward shapes, both transposes, beta 0 and not. */
static void test_low_memory(void) {
    ffr_rng r;
    ffr_rng_seed(&r, 13);
    int shapes[][3] = {{1, 33, 7}, {13, 300, 77}, {37, 97, 600}, {5, 1000, 3}, {64, 65, 129}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int ab = 0; ab < 2; ab++) {
                    int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ldc = N + 2;
                    float alpha = ab ? -0.7f : 1.f, beta = ab ? 0.3f : 0.f;
                    float *A = randv(&r, (size_t)M * K), *B = randv(&r, (size_t)K * N);
                    float *C0 = randv(&r, (size_t)M * ldc), *C = malloc(sizeof(float) * M * ldc);
                    float *R0 = malloc(sizeof(float) * M * ldc), *R1 = malloc(sizeof(float) * M * ldc);
                    memcpy(R0, C0, sizeof(float) * M * ldc);
                    memcpy(R1, C0, sizeof(float) * M * ldc);
                    ffr_gemm_ref(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, R0, ldc);
                    ffr_gemm_ref_blocked(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, R1, ldc);
                    CHECKF(!memcmp(R0, R1, sizeof(float) * M * ldc), "blocked reference %dx%dx%d ta=%d tb=%d: bits differ",
                           M, N, K, ta, tb);
                    if (ffr_gemm_fast_available()) {
                        float *F = malloc(sizeof(float) * M * ldc);
                        memcpy(F, C0, sizeof(float) * M * ldc);
                        ffr_gemm_fast(0, ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, F, ldc);
                        size_t full = ffr_gemm_pack_floats(N, K) * sizeof(float), panel = ffr_gemm_pack_floats(1, K) * sizeof(float);
                        size_t caps[] = {full - 1, full / 3 > panel ? full / 3 : panel, panel};
                        for (int c = 0; c < 3; c++) {
                            memcpy(C, C0, sizeof(float) * M * ldc);
                            ffr_alloc_fail_above(caps[c]);
                            int rc = ffr_gemm_fast(0, ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, ldc);
                            ffr_alloc_fail_above(0);
                            CHECKF(rc == 0 && !memcmp(C, F, sizeof(float) * M * ldc),
                                   "chunked kernel %dx%dx%d ta=%d tb=%d cap %zu: rc %d or bits differ", M, N, K, ta, tb,
                                   caps[c], rc);
                        }
                        ffr_alloc_fail_above(panel - 1);
                        CHECK(ffr_gemm_fast(0, ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, ldc) == -1);
                        ffr_alloc_fail_above(0);
                        free(F);
                    }
                    free(A); free(B); free(C0); free(C); free(R0); free(R1);
                }
}

int main(void) {
    test_parallel();
    if (ffr_gemm_fast_available()) {
        printf("test_gemm: kernel %s\n", ffr_gemm_isa() == 2 ? "AVX-512F" : "AVX2+FMA");
        test_pack();
        test_vs_ref();
        test_order();
        test_bits();
        test_concurrent();
        if (ffr_gemm_bf16_available()) test_bf16();
        else printf("test_gemm: this CPU has no AVX512_BF16: bf16 checks skipped\n");
    } else
        printf("test_gemm: this CPU has neither AVX-512F nor AVX2+FMA (or FFRELAX_GEMM=blas): kernel checks skipped\n");
    test_low_memory();
    ffr_set_threads(1);
    MT_DONE("test_gemm");
}
