/* parallel.h - the library's one thread pool and its thread counts.
 *
 * ffr_parallel(nt, fn, ctx) runs fn(ctx, t, nt) for t = 0..nt-1 (t = 0 on the
 * caller) and returns when all parts are done. Parts must be independent: the
 * pool may run them on any thread, or all on the caller in order (when another
 * thread is already using the pool, or a worker cannot be created), with the
 * same result.
 *
 * Thread safety: ffr_parallel may be called from any thread at any time (one
 * call uses the workers at a time; concurrent calls run their parts on their
 * own caller). ffr_threads_default / ffr_threads_set_default read and write one
 * atomic value: the count used by callers that do not choose their own
 * (relaxers with threads = 0, ffr_gemm, the trainers). */
#ifndef FFR_PARALLEL_H
#define FFR_PARALLEL_H

#define FFR_THREADS_MAX 64

/* fn(ctx, t, nt) for t = 0..nt-1 on up to nt threads, then join. */
void ffr_parallel(int nt, void (*fn)(void *ctx, int t, int nt), void *ctx);

/* The default thread count: the last ffr_threads_set_default(n > 0), else the
 * environment's FFRELAX_THREADS, else OPENBLAS_NUM_THREADS (the default before
 * the pool had its own), else the number of online CPUs; 1..64. */
int ffr_threads_default(void);
void ffr_threads_set_default(int n);
/* A thread count as given by a caller: n > 0 (capped at 64), or the default for n <= 0. */
int ffr_threads_resolve(int n);

#endif
