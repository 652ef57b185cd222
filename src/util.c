/* util.c - status strings, error messages, checked allocation
 * and the explicit random-number generator (file helpers: files.c). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

const char *ffr_status_str(ffr_status s) {
    switch (s) {
    case FFR_OK: return "ok";
    case FFR_ERR_ARG: return "bad argument";
    case FFR_ERR_IO: return "i/o error";
    case FFR_ERR_FORMAT: return "bad file format";
    case FFR_ERR_NOMEM: return "out of memory";
    case FFR_ERR_DIVERGED: return "diverged";
    case FFR_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

float ffr_rho_value(ffr_rho r, float s) { return (unsigned)r > FFR_RHO_IDENTITY ? NAN : ffr_rho_apply(r, s); }

const char *ffr_esc(const char *s, char *buf, size_t cap) {
    size_t k = 0;
    for (; *s && k + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 32 || c == 127) k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", c);
        else buf[k++] = (char)c;
    }
    buf[k] = 0;
    return buf;
}

ffr_status ffr_fail(ffr_err *err, ffr_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int ffr_mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* ---- the library's allocations: counted, and failed on demand for tests */
static atomic_long g_alloc_count = 0;  /* allocations made */
static atomic_long g_alloc_budget = -1; /* allocations left before failing; -1: no limit */

void ffr_alloc_fail_after(long n) { atomic_store(&g_alloc_budget, n < 0 ? -1 : n); }
long ffr_alloc_count(void) { return atomic_load(&g_alloc_count); }

/* 1: this allocation may proceed (and is counted); 0: it must fail. */
static int alloc_gate(void) {
    long b = atomic_load(&g_alloc_budget);
    while (b >= 0) {
        if (b == 0) return 0;
        if (atomic_compare_exchange_weak(&g_alloc_budget, &b, b - 1)) break;
    }
    atomic_fetch_add(&g_alloc_count, 1);
    return 1;
}

void *ffr_malloc(size_t n) { return alloc_gate() ? malloc(n ? n : 1) : NULL; }

void *ffr_realloc(void *p, size_t n) { return alloc_gate() ? realloc(p, n ? n : 1) : NULL; }

void *ffr_calloc(size_t count, size_t size) {
    size_t n;
    if (!ffr_mul_ok(count, size, &n) || !alloc_gate()) return NULL;
    return calloc(n ? count : 1, n ? size : 1);
}

/* Large buffers (the relaxation's states, rates, targets, packed weights):
 * 64-byte aligned always (the kernel's loads); from 4 MiB on, 2 MiB-aligned
 * and, on Linux, marked for transparent huge pages, so that touching 100 MB
 * costs ~50 page faults instead of ~25,000 (under a VM's paravirtual MMU a
 * fault costs microseconds: ~0.1 s per relaxation of 1,000 digits was spent
 * there). Zeroed when zero != 0. Free with free(). */
static atomic_size_t g_big_cap = 0; /* tests: large buffers above this fail (0: no cap) */
void ffr_alloc_fail_above(size_t bytes) { atomic_store(&g_big_cap, bytes); }

void *ffr_big_alloc(size_t count, size_t size, int zero) {
    size_t n, cap = atomic_load(&g_big_cap);
    if (!ffr_mul_ok(count, size, &n) || (cap && n > cap) || !alloc_gate()) return NULL;
    void *p = NULL;
    size_t al = n < ((size_t)4 << 20) ? 64 : (size_t)2 << 20, rn = n ? (n + al - 1) / al * al : al;
    if (posix_memalign(&p, al, rn)) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (al > 64) (void)madvise(p, rn, MADV_HUGEPAGE);
#endif
    if (zero) memset(p, 0, n);
    return p;
}

/* ---- rng: xoshiro256** seeded by splitmix64 */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ffr_rng_seed(ffr_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ffr_rng_u64(ffr_rng *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return res;
}

double ffr_rng_uniform(ffr_rng *r) { return (ffr_rng_u64(r) >> 11) * 0x1.0p-53; }

double ffr_rng_normal(ffr_rng *r) {
    double u1 = ffr_rng_uniform(r), u2 = ffr_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
