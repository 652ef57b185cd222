/* blas.c - the one matrix-product wrapper: ffrelax's AVX-512 kernel (gemm.c)
 * on CPUs that have AVX-512F (any build), else CBLAS when built with BLAS
 * (FFR_USE_BLAS), else the naive reference that is always compiled.
 * Dependencies run one way: blas.c calls gemm.c and parallel.c, never the
 * other way round.
 * Convention: row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include <stdio.h>
#include <pthread.h>
#include <sys/mman.h>
#include "internal.h"
#include "parallel.h"
#ifdef FFR_USE_BLAS
#include <cblas.h>
#endif

void ffr_gemm_ref(int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int p = 0; p < K; p++) {
                float a = tA ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                float b = tB ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                acc += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * acc + (beta == 0.f ? 0.0 : (double)beta * *c));
        }
}

void ffr_gemm_ref_blocked(int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                          int ldb, float beta, float *C, int ldc) {
    if (tB) { ffr_gemm_ref(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); return; } /* rows of B: in order */
    for (int i = 0; i < M; i++)
        for (int j0 = 0; j0 < N; j0 += 64) {
            int nb = N - j0 < 64 ? N - j0 : 64;
            double acc[64] = {0};
            for (int p = 0; p < K; p++) { /* the same k order and products as ffr_gemm_ref */
                float a = tA ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                const float *b = B + (size_t)p * ldb + j0;
                for (int j = 0; j < nb; j++) acc[j] += (double)a * b[j];
            }
            for (int j = 0; j < nb; j++) {
                float *c = &C[(size_t)i * ldc + j0 + j];
                *c = (float)(alpha * acc[j] + (beta == 0.f ? 0.0 : (double)beta * *c));
            }
        }
}

int ffr_gemm_uses_fast(void) { return ffr_gemm_fast_available(); }

#ifdef FFR_USE_BLAS
/* what one OpenBLAS buffer reserves: 128 MB and a margin */
#define BLAS_BUFFER_BYTES ((size_t)136 << 20)
/* OpenBLAS reserves a 128 MB buffer (per thread) at its first product and,
 * when that fails (ulimit -v, a full address space), retries forever: the
 * process spins and never ends (issue 14, class 4). Until one product has
 * gone through OpenBLAS, check that the reservation can succeed (virtual
 * memory only: nothing is touched); when it cannot, the product is done by
 * the reference loop instead (slow but finite). */
static int blas_buffer_ok(void) {
    static _Atomic int ready = 0;
    if (ready) return 1;
    void *p = malloc(BLAS_BUFFER_BYTES);
    if (!p) return 0;
    free(p);
    ready = 1;
    return 1;
}
#endif

void ffr_gemm(int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* BLAS leaves C*beta; do the same explicitly */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.f ? 0.f : beta * C[(size_t)i * ldc + j];
        return;
    }
    /* the kernel packs op(B) per call; out of memory for that, the product
     * goes to the path below (never an abort: this function cannot report) */
    if (ffr_gemm_uses_fast() && ffr_gemm_fast(0, tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == 0) return;
#ifdef FFR_USE_BLAS
    if (!blas_buffer_ok()) { ffr_gemm_ref_blocked(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); return; }
    if (M == 1) { /* one row (B = 1, the online case): sgemv reads op(B) once without
                     packing it, 10-30% faster than sgemm here; its rounding differs */
        int incA = tA ? lda : 1;
        if (tB) cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, alpha, B, ldb, A, incA, beta, C, 1);
        else cblas_sgemv(CblasRowMajor, CblasTrans, K, N, alpha, B, ldb, A, incA, beta, C, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, M,
                N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    ffr_gemm_ref(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

#ifdef FFR_USE_BLAS
/* OpenBLAS extensions (declared here so that any CBLAS still links with -DFFR_NO_OPENBLAS_EXT). */
#ifndef FFR_NO_OPENBLAS_EXT
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
#endif
#endif

#if defined(FFR_USE_BLAS) && !defined(FFR_NO_OPENBLAS_EXT)
/* How many of OpenBLAS's workers fit: each needs a thread (a stack of the
 * default size, RLIMIT_STACK; a process count under RLIMIT_NPROC) and a
 * 128 MB buffer that it reserves as it starts and, when that fails, retries
 * forever. With the buffers reserved (address space only: PROT_NONE, nothing
 * committed), n - 1 probe threads must start; else try fewer, down to 1.
 * Without limits the first try succeeds. */
static pthread_mutex_t probe_mu = PTHREAD_MUTEX_INITIALIZER;
static void *probe_thread(void *arg) {
    pthread_mutex_lock(&probe_mu); /* held by the creator until every probe started */
    pthread_mutex_unlock(&probe_mu);
    return arg;
}
static int blas_threads_fit(int n) {
    for (; n > 1; n--) {
        size_t sz = (size_t)n * BLAS_BUFFER_BYTES + ((size_t)64 << 20);
        void *p = mmap(NULL, sz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) continue;
        pthread_t th[FFR_THREADS_MAX];
        int started = 0;
        pthread_mutex_lock(&probe_mu);
        while (started < n - 1 && started < FFR_THREADS_MAX &&
               pthread_create(&th[started], NULL, probe_thread, NULL) == 0)
            started++;
        pthread_mutex_unlock(&probe_mu);
        for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
        munmap(p, sz);
        if (started == n - 1) break;
    }
    return n;
}
#endif

void ffr_set_threads(int n) {
    if (n <= 0) return;
    ffr_threads_set_default(n);
#if defined(FFR_USE_BLAS) && !defined(FFR_NO_OPENBLAS_EXT)
    /* OpenBLAS's workers only where OpenBLAS does the products, and only as
     * many as their buffers fit: each reserves 128 MB when it starts and,
     * under a memory limit, retries that forever (the process then hangs at
     * exit; issue 14 class 4) */
    if (!ffr_gemm_uses_fast()) openblas_set_num_threads(blas_threads_fit(n > FFR_THREADS_MAX ? FFR_THREADS_MAX : n));
#endif
}

int ffr_blas_threads(void) {
#if defined(FFR_USE_BLAS) && !defined(FFR_NO_OPENBLAS_EXT)
    return openblas_get_num_threads();
#else
    return 1;
#endif
}

int ffr_get_threads(void) {
    return ffr_gemm_uses_fast() ? ffr_threads_default() : ffr_blas_threads();
}

#define ISA_NAME (ffr_gemm_isa() == 2 ? "AVX-512" : "AVX2+FMA")
const char *ffr_blas_info(void) {
    static char buf[256]; /* read-only after the first call in practice; informational */
#if defined(FFR_USE_BLAS) && !defined(FFR_NO_OPENBLAS_EXT)
    if (ffr_gemm_uses_fast())
        snprintf(buf, sizeof buf, "ffrelax %s gemm, %d threads (%s for the rest)", ISA_NAME, ffr_threads_default(),
                 openblas_get_config());
    else snprintf(buf, sizeof buf, "%s, %d threads", openblas_get_config(), openblas_get_num_threads());
#elif defined(FFR_USE_BLAS)
    if (ffr_gemm_uses_fast()) snprintf(buf, sizeof buf, "ffrelax %s gemm, %d threads (CBLAS for the rest)", ISA_NAME, ffr_threads_default());
    else snprintf(buf, sizeof buf, "CBLAS");
#else
    if (ffr_gemm_uses_fast())
        snprintf(buf, sizeof buf, "ffrelax %s gemm, %d threads (no BLAS)", ISA_NAME, ffr_threads_default());
    else snprintf(buf, sizeof buf, "naive reference gemm (no BLAS), 1 thread");
#endif
    return buf;
}
