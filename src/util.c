/* util.c - status strings, error messages, checked allocation, atomic writes,
 * and the explicit random-number generator. */
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
void *ffr_big_alloc(size_t count, size_t size, int zero) {
    size_t n;
    if (!ffr_mul_ok(count, size, &n) || !alloc_gate()) return NULL;
    void *p = NULL;
    size_t al = n < ((size_t)4 << 20) ? 64 : (size_t)2 << 20, rn = n ? (n + al - 1) / al * al : al;
    if (posix_memalign(&p, al, rn)) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (al > 64) (void)madvise(p, rn, MADV_HUGEPAGE);
#endif
    if (zero) memset(p, 0, n);
    return p;
}

ffr_status ffr_atomic_open(ffr_afile *a, const char *path, ffr_err *err) {
    memset(a, 0, sizeof *a);
    if (!path || !*path) return ffr_fail(err, FFR_ERR_ARG, "output path is empty");
    if (strlen(path) + 32 >= sizeof a->tmp)
        return ffr_fail(err, FFR_ERR_ARG, "%s: path too long", path);
    snprintf(a->path, sizeof a->path, "%s", path);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f)
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot create temporary file %s: %s",
                        path, a->tmp, strerror(errno));
    return FFR_OK;
}

ffr_status ffr_write(ffr_afile *a, const void *p, size_t n, ffr_err *err) {
    if (n && fwrite(p, 1, n, a->f) != n)
        return ffr_fail(err, FFR_ERR_IO, "%s: write failed: %s", a->path, strerror(errno));
    return FFR_OK;
}

ffr_status ffr_atomic_commit(ffr_afile *a, ffr_err *err) {
    int bad = 0, e = 0;
    if (fflush(a->f) != 0) { bad = 1; e = errno; }
    if (!bad && fsync(fileno(a->f)) != 0 && errno != EINVAL) { bad = 1; e = errno; }
    if (ferror(a->f) && !bad) { bad = 1; e = EIO; }
    if (fclose(a->f) != 0 && !bad) { bad = 1; e = errno; }
    a->f = NULL;
    if (bad) {
        remove(a->tmp);
        return ffr_fail(err, FFR_ERR_IO, "%s: write failed: %s (previous file left intact)",
                        a->path, strerror(e));
    }
    if (rename(a->tmp, a->path) != 0) {
        e = errno;
        remove(a->tmp);
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot rename %s into place: %s", a->path,
                        a->tmp, strerror(e));
    }
    /* make the rename itself durable: fsync the folder (best effort) */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", a->path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) { fsync(fd); close(fd); }
    return FFR_OK;
}

void ffr_atomic_abort(ffr_afile *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp[0]) remove(a->tmp);
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

ffr_status ffr_read_file(const char *path, size_t max, char **buf, size_t *len, ffr_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ffr_fail(err, FFR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return ffr_fail(err, FFR_ERR_IO, "%s: not a readable regular file", path);
    }
    if ((uint64_t)sb.st_size > max) {
        fclose(f);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: file too large (%llu bytes, at most %zu)", path,
                        (unsigned long long)sb.st_size, max);
    }
    size_t n = (size_t)sb.st_size;
    char *b = malloc(n + 1);
    if (!b) {
        fclose(f);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n);
    }
    size_t got = fread(b, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(b);
        return ffr_fail(err, FFR_ERR_IO, "%s: read failed (%zu of %zu bytes)", path, got, n);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return FFR_OK;
}
