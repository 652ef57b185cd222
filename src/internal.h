/* internal.h - helpers shared by the library's source files (not installed). */
#ifndef FFR_INTERNAL_H
#define FFR_INTERNAL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "ffrelax.h"
#include "parallel.h"

/* size_t products that report overflow: returns 0 on overflow. */
int ffr_mul_ok(size_t a, size_t b, size_t *out);
/* The library's allocations (util.c), freed by free(): counted, and made to
 * fail by ffr_alloc_fail_after for the out-of-memory tests. calloc of
 * count*size with overflow check; NULL on failure. */
void *ffr_calloc(size_t count, size_t size);
void *ffr_malloc(size_t n);
void *ffr_realloc(void *p, size_t n);
/* Tests: after n more successful allocations every one fails (n < 0: never). */
void ffr_alloc_fail_after(long n);
/* Tests: ffr_big_alloc of more than bytes fails (0: no cap), as when the
 * address space left is smaller (ulimit -v). */
void ffr_alloc_fail_above(size_t bytes);
/* Allocations made so far by the functions above (ffr_big_alloc included). */
long ffr_alloc_count(void);
/* A large buffer, 64-byte aligned, from 4 MiB 2 MiB-aligned on transparent huge pages where the OS has them; free(). */
void *ffr_big_alloc(size_t count, size_t size, int zero);

/* files.c: atomic output files. ffr_afile is the public ffr_out, used on the
 * stack inside the library: ffr_atomic_open (the rules for each kind of target:
 * src/files.c, doc/reliability.md), ffr_write, then ffr_atomic_commit (flush,
 * fsync, rename over the target; on failure the temporary file is removed and
 * the target left untouched) or ffr_atomic_abort. */
struct ffr_out {
    FILE *f;
    int fd, direct, werr;  /* direct: a device, FIFO or stdout, written in place */
    int nosync;            /* commit without fsync (ffr_out_nosync) */
    char tmp[4200], path[4096], target[4096]; /* target: path with links followed */
};
typedef struct ffr_out ffr_afile;
ffr_status ffr_atomic_open(ffr_afile *a, const char *path, ffr_err *err);
ffr_status ffr_atomic_commit(ffr_afile *a, ffr_err *err);
void ffr_atomic_abort(ffr_afile *a);
/* fwrite that reports failure through err. */
ffr_status ffr_write(ffr_afile *a, const void *p, size_t n, ffr_err *err);
/* Open path for reading: O_NONBLOCK then fstat, so a FIFO never blocks and
 * anything but a regular file is refused with a message naming its kind;
 * *size (if not NULL) is the file's size. */
ffr_status ffr_open_read(const char *path, FILE **f, uint64_t *size, ffr_err *err);

/* rho, the rules' F_k, rates and gains: rule.h. */
#include "rule.h"
/* npy.c: ffr_npy_read that also tells whether the file's dtype is uint8 ('|u1');
 * with data NULL it reads and checks the header only (ndim, shape). */
ffr_status ffr_npy_read_u8(const char *path, float **data, int *ndim, size_t shape[4], int *is_u8,
                           ffr_err *err);
/* Escape a string for a message: bytes < 32, 127 and '\\' as \xNN (or \\). */
const char *ffr_esc(const char *s, char *buf, size_t cap);
/* files.c: flock folder dir, exclusive or shared; missing_ok: a folder that
 * cannot be opened is not locked (*lock = -1, FFR_OK). */
ffr_status ffr_dir_flock(const char *dir, int shared, int missing_ok, int *lock, ffr_err *err);
/* fileset.c: a member written by another writer than ffr_set_npy: prepare
 * (marks the set incomplete, checks the name, gives DIR/name in path), write
 * it atomically, then record (its size and crc32 read back). */
ffr_status ffr_set_prepare(ffr_set *s, const char *name, char *path, size_t cap, ffr_err *err);
ffr_status ffr_set_record(ffr_set *s, const char *name, ffr_err *err);


/* gemm.c: the AVX-512 kernel and its AVX2+FMA twin (doc/performance.md), the
 * same bits. Packed op(B): panels of FFR_NR columns, P[jp][k][FFR_NR], 64-byte
 * aligned; FFR_KC is the depth block that fixes the summation order.
 * ffr_gemm_fast_available: the CPU has AVX-512F or AVX2+FMA (CPUID) and
 * FFRELAX_GEMM is not "blas" (with or without a BLAS build).
 * nt (first argument of the products): threads, 0 = ffr_threads_default(). */
#define FFR_NR 32
#define FFR_KC 512
int ffr_gemm_fast_available(void);
int ffr_gemm_isa(void); /* the kernel that runs: 2 AVX-512F, 1 AVX2+FMA, 0 none (BLAS or reference) */
size_t ffr_gemm_pack_floats(int N, int K);
void ffr_gemm_pack(float *P, int tB, int N, int K, const float *B, int ldb);
void ffr_gemm_packed(int nt, int tA, int M, int N, int K, float alpha, const float *A, int lda, const float *P,
                     float beta, float *C, int ldc);
/* Packs op(B) per call: returns 0, or -1 (nothing computed) when out of memory. */
int ffr_gemm_fast(int nt, int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc);
/* ffr_gemm_ref's sums, bit for bit, in a cache-friendly order (blocks of 64
 * columns of a row accumulated together: op(B) read by rows): the fallback of
 * ffr_gemm when neither the kernel nor the BLAS can get its buffers. */
void ffr_gemm_ref_blocked(int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                          int ldb, float beta, float *C, int ldc);
/* bf16 products (AVX512_BF16): op(B) packed as bf16 pairs, P[jp][k2][FFR_NR]
 * 32-bit words; A row-major fp32, rounded to bf16 while packing; fp32 sums. */
int ffr_gemm_bf16_available(void);
size_t ffr_gemm_pack_bf16_words(int N, int K);
void ffr_gemm_pack_bf16(uint32_t *P, int tB, int N, int K, const float *B, int ldb);
void ffr_gemm_packed_bf16(int nt, int M, int N, int K, float alpha, const float *A, int lda, const uint32_t *P,
                          float beta, float *C, int ldc);
/* A product with an epilogue: fn(ctx, r0, r1) runs, on the thread that
 * computed them, as soon as rows [r0, r1) of C are final (every column, every
 * depth block), when each thread gets whole rows; P16 set: bf16 products.
 * Returns 1 when the epilogue ran for all M rows, 0 when it did not run at all
 * (columns split over the threads: the caller runs it after the product). */
typedef struct { void (*fn)(void *ctx, int r0, int r1); void *ctx; } ffr_gemm_epi;
int ffr_gemm_packed_epi(int nt, int tA, int M, int N, int K, float alpha, const float *A, int lda, const float *P,
                        const uint32_t *P16, float beta, float *C, int ldc, const ffr_gemm_epi *epi);
float ffr_bf16_round(float f); /* round to nearest even bf16 (denormals to zero), back in a float */
/* The default thread count (parallel.h); the old name, kept for the trainers. */
#define ffr_gemm_threads() ffr_threads_default()
int ffr_blas_threads(void);   /* the BLAS library's own thread count (1 without BLAS) */
int ffr_gemm_uses_fast(void); /* ffr_gemm goes to the kernel (AVX-512F or AVX2+FMA CPU, FFRELAX_GEMM not "blas") */
/* relax.c: the AVX-512 elementwise pass on (1, the default where the CPU has it) or off (0: row_update, for tests). */
void ffr_relax_simd(int on);
/* relax.c: the update fused into each layer's last product (1, the default) or a separate pass (0, for tests). */
void ffr_relax_fuse(int on);

/* Argument checks of the public functions (issue 14, class 11): a NULL
 * pointer is refused with the function's and the argument's name. */
#define FFR_NEED(p, err) do { if (!(p)) return ffr_fail(err, FFR_ERR_ARG, "%s: %s is NULL", __func__, #p); } while (0)
/* net is a network ffr_net_create could have made (NULL, L, sizes, rule,
 * rho, the parameter views): FFR_ERR_ARG naming fn otherwise. */
ffr_status ffr_net_valid(const ffr_net *net, const char *fn, ffr_err *err);
/* st (non-NULL) has net's layers and sizes and room for B examples. */
ffr_status ffr_state_fits(const ffr_net *net, const ffr_state *st, int B, const char *fn, ffr_err *err);

/* Always-on check for internal invariants (never for user input). */
#define FFR_ASSERT(c) do { if (!(c)) { fprintf(stderr, "%s:%d: internal error: %s\n", \
    __FILE__, __LINE__, #c); abort(); } } while (0)

#endif
