/* internal.h - helpers shared by the library's source files (not installed). */
#ifndef FFR_INTERNAL_H
#define FFR_INTERNAL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "ffrelax.h"

/* Fill err (if not NULL) and return code. printf-style message. */
ffr_status ffr_fail(ffr_err *err, ffr_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* size_t products that report overflow: returns 0 on overflow. */
int ffr_mul_ok(size_t a, size_t b, size_t *out);
/* calloc of count*size with overflow check; NULL on failure. */
void *ffr_calloc(size_t count, size_t size);

/* Atomic writes: ffr_atomic_open creates "path.tmp.PID" and returns it;
 * ffr_atomic_commit flushes, fsyncs, closes and renames it over path (on
 * failure it removes the temp file and leaves path untouched);
 * ffr_atomic_abort closes and removes the temp file. */
typedef struct { FILE *f; char tmp[4096]; char path[4096]; } ffr_afile;
ffr_status ffr_atomic_open(ffr_afile *a, const char *path, ffr_err *err);
ffr_status ffr_atomic_commit(ffr_afile *a, ffr_err *err);
void ffr_atomic_abort(ffr_afile *a);
/* fwrite that reports failure through err. */
ffr_status ffr_write(ffr_afile *a, const void *p, size_t n, ffr_err *err);

/* Read a whole regular file of at most max bytes into *buf (malloc'd, with a
 * NUL after the last byte); *len is its size. */
ffr_status ffr_read_file(const char *path, size_t max, char **buf, size_t *len, ffr_err *err);

/* rho and its rate map (doc/math.md). */
static inline float ffr_rho_apply(ffr_rho r, float s) {
    switch (r) {
    case FFR_RHO_HARDSIGMOID: return s < 0.f ? 0.f : (s > 1.f ? 1.f : s);
    case FFR_RHO_SIGMOID: return 1.f / (1.f + expf(-s));
    default: return s;
    }
}

/* Always-on check for internal invariants (never for user input). */
#define FFR_ASSERT(c) do { if (!(c)) { fprintf(stderr, "%s:%d: internal error: %s\n", \
    __FILE__, __LINE__, #c); abort(); } } while (0)

#endif
