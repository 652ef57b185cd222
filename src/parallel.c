/* parallel.c - the library's one thread pool (parallel.h) and the default
 * thread count.
 *
 * A small persistent pool: workers are created on first use and then wait for
 * the next call, first spinning briefly (a product every few microseconds in a
 * relaxation sweep; the spin's length adapts, see spin_adapt), then blocking on
 * a condition variable; the caller, once its own part is done, waits the same
 * way for the workers (a short spin, then a condition variable: no sched_yield
 * loop). No CPU pinning: the scheduler
 * places the workers. One placement fix, on by default (FFRELAX_POOL_UNSHARE=0
 * turns it off): some schedulers (a 2-vCPU Firecracker VM) stack a woken
 * worker on its waker's CPU, where it waits for the caller's part to end; a
 * worker that starts its part on the caller's CPU moves itself off it by a
 * momentary affinity change (no lasting pinning: the old mask is restored at
 * once). Measured on that VM (doc/performance.md): 2-part calls 108-142 us
 * with it, 414-590 us without (a futex wake-up per call). */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getcpu, sched_setaffinity */
#endif
#include "ffrelax.h" /* ffr_threads_shortfall is public: its declaration carries the export */
#include "parallel.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- thread counts */
static atomic_int g_default = 0; /* 0: not set, read the environment once */

int ffr_threads_resolve(int n) {
    if (n > 0) return n > FFR_THREADS_MAX ? FFR_THREADS_MAX : n;
    return ffr_threads_default();
}

void ffr_threads_set_default(int n) {
    if (n > 0) atomic_store(&g_default, n > FFR_THREADS_MAX ? FFR_THREADS_MAX : n);
}

int ffr_threads_default(void) {
    int n = atomic_load(&g_default);
    if (n > 0) return n;
    const char *e = getenv("FFRELAX_THREADS"), *eb = getenv("OPENBLAS_NUM_THREADS"); /* the latter: the old default */
    n = e && *e ? atoi(e) : eb && *eb ? atoi(eb) : 0;
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    n = n > FFR_THREADS_MAX ? FFR_THREADS_MAX : n;
    int zero = 0;
    atomic_compare_exchange_strong(&g_default, &zero, n); /* a concurrent set wins */
    return atomic_load(&g_default);
}

/* ---- the pool */
#define POOL_MAX (FFR_THREADS_MAX - 1)
/* Spinning before blocking, adaptive (one budget for the workers' wait for
 * the next call, one for the caller's wait for the workers): a wait that had
 * to block and then lasted less than SPIN_MAX_NS would have been caught by a
 * longer spin, so the budget doubles; a longer one (a serial phase between
 * calls, or on a loaded machine a thread that was descheduled) halves it, so
 * under load the pool blocks sooner instead of burning the CPU the thread it
 * waits for needs. A wait that the spin caught leaves the budget as it is. */
#define SPIN_MIN_NS 2000
#define SPIN_MAX_NS 120000   /* the old fixed spin: 4,000 pause instructions of ~30 ns (Zen) */
#define SPIN_START_NS 30000
#define SPIN_CHECK 16        /* pause instructions between clock readings */
static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER; /* one parallel call at a time */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;   /* sleeping workers and caller */
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;     /* a new call */
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;   /* the last worker finished */
static int pool_n;                  /* workers created (under pool_busy) */
static atomic_uint pool_gen;        /* incremented once per call */
static atomic_int pool_left;        /* workers that have not finished this call */
static void (*pool_fn)(void *, int, int);
static void *pool_ctx;
static int pool_nt;
static unsigned pool_born[POOL_MAX + 1]; /* the generation each worker was created in */
static int pool_unshare_on = -1;         /* FFRELAX_POOL_UNSHARE (default 1), read once under pool_busy */
static atomic_int pool_cpu0 = -1;        /* the caller's CPU at the start of the call (unshare only) */
static atomic_int short_want, short_got, short_why; /* the largest call the workers fell short of */

static atomic_int spin_next = SPIN_START_NS, spin_done = SPIN_START_NS; /* the two budgets, ns */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spin while *done(arg) is 0, up to the budget; 1 if the spin caught it. */
static inline int spin_wait(atomic_int *budget, int (*done)(void *), void *arg, int64_t *t0) {
    int64_t lim = atomic_load_explicit(budget, memory_order_relaxed);
    *t0 = now_ns();
    for (int i = 1;; i++) {
        if (done(arg)) return 1;
        cpu_relax();
        if (i % SPIN_CHECK == 0 && now_ns() - *t0 >= lim) return 0;
    }
}

/* After a wait that blocked: lasted w ns from the start of its spin. (The
 * thread's involuntary context switches as a second load signal were tried:
 * 8% slower idle, no better under load; doc/performance.md section 9.) */
static inline void spin_adapt(atomic_int *budget, int64_t w) {
    int b = atomic_load_explicit(budget, memory_order_relaxed);
    int nb = w < SPIN_MAX_NS ? (b < SPIN_MAX_NS / 2 ? 2 * b : SPIN_MAX_NS) : (b / 2 > SPIN_MIN_NS ? b / 2 : SPIN_MIN_NS);
    atomic_store_explicit(budget, nb, memory_order_relaxed);
}

/* The placement fix (see the top of the file). */
static void pool_unshare(void) {
#if defined(__linux__) && defined(CPU_SET)
    int c = sched_getcpu(), c0 = atomic_load_explicit(&pool_cpu0, memory_order_relaxed);
    if (c < 0 || c != c0) return;
    cpu_set_t m;
    if (sched_getaffinity(0, sizeof m, &m) || CPU_COUNT(&m) < 2 || c >= CPU_SETSIZE || !CPU_ISSET(c, &m)) return;
    CPU_CLR(c, &m);
    if (sched_setaffinity(0, sizeof m, &m)) return;
    CPU_SET(c, &m);
    (void)sched_setaffinity(0, sizeof m, &m);
#endif
}

static int gen_moved(void *seen) { return atomic_load_explicit(&pool_gen, memory_order_acquire) != *(unsigned *)seen; }
static int all_done(void *unused) { (void)unused; return atomic_load_explicit(&pool_left, memory_order_acquire) <= 0; }

static void *pool_worker(void *arg) {
    int t = (int)(intptr_t)arg;
    unsigned seen = pool_born[t];
    for (;;) {
        int64_t t0;
        if (!spin_wait(&spin_next, gen_moved, &seen, &t0)) {
            pthread_mutex_lock(&pool_mu);
            while (atomic_load_explicit(&pool_gen, memory_order_acquire) == seen) pthread_cond_wait(&pool_cv, &pool_mu);
            pthread_mutex_unlock(&pool_mu);
            spin_adapt(&spin_next, now_ns() - t0);
        }
        seen = atomic_load_explicit(&pool_gen, memory_order_acquire);
        if (t < pool_nt) {
            if (pool_unshare_on > 0) pool_unshare();
            pool_fn(pool_ctx, t, pool_nt);
        }
        if (atomic_fetch_sub_explicit(&pool_left, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool_mu); /* the caller may be blocked: wake it */
            pthread_cond_signal(&pool_done);
            pthread_mutex_unlock(&pool_mu);
        }
    }
    return NULL;
}

void ffr_parallel(int nt, void (*fn)(void *ctx, int t, int nt), void *ctx) {
    if (nt > POOL_MAX + 1) nt = POOL_MAX + 1;
    if (nt <= 1) { fn(ctx, 0, 1); return; }
    if (pthread_mutex_trylock(&pool_busy)) {
        for (int t = 0; t < nt; t++) fn(ctx, t, nt);
        return;
    }
    if (pool_unshare_on < 0) {
        const char *e = getenv("FFRELAX_POOL_UNSHARE");
        pool_unshare_on = !(e && !strcmp(e, "0"));
    }
    while (pool_n < nt - 1) {
        pthread_t th;
        pthread_attr_t at;
        int t = pool_n + 1, why = pthread_attr_init(&at);
        pool_born[t] = atomic_load(&pool_gen);
        if (!why) why = pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (!why) why = pthread_create(&th, &at, pool_worker, (void *)(intptr_t)t);
        pthread_attr_destroy(&at);
        if (why) { /* a process or memory limit: fewer threads (the caller runs the rest), recorded */
            if (nt > atomic_load(&short_want)) {
                atomic_store(&short_why, why);
                atomic_store(&short_got, pool_n + 1);
                atomic_store(&short_want, nt);
            }
            break;
        }
        pool_n++;
    }
    int nw = pool_n < nt - 1 ? pool_n : nt - 1; /* workers that take a part */
    pool_fn = fn; pool_ctx = ctx; pool_nt = nt;
#if defined(__linux__) && defined(CPU_SET)
    if (pool_unshare_on > 0) atomic_store_explicit(&pool_cpu0, sched_getcpu(), memory_order_relaxed);
#endif
    atomic_store_explicit(&pool_left, pool_n, memory_order_relaxed);
    if (pool_n > 0) {
        pthread_mutex_lock(&pool_mu);
        atomic_fetch_add_explicit(&pool_gen, 1, memory_order_release);
        pthread_cond_broadcast(&pool_cv);
        pthread_mutex_unlock(&pool_mu);
    }
    fn(ctx, 0, nt);
    for (int t = nw + 1; t < nt; t++) fn(ctx, t, nt); /* parts no worker could take */
    int64_t t0;
    if (!spin_wait(&spin_done, all_done, NULL, &t0)) {
        pthread_mutex_lock(&pool_mu);
        while (atomic_load_explicit(&pool_left, memory_order_acquire) > 0) pthread_cond_wait(&pool_done, &pool_mu);
        pthread_mutex_unlock(&pool_mu);
        spin_adapt(&spin_done, now_ns() - t0);
    }
    pthread_mutex_unlock(&pool_busy);
}

int ffr_threads_shortfall(int *wanted, int *got, int *why) {
    int w = atomic_load(&short_want);
    if (wanted) *wanted = w;
    if (got) *got = w ? atomic_load(&short_got) : 0;
    if (why) *why = w ? atomic_load(&short_why) : 0;
    return w > 0;
}
