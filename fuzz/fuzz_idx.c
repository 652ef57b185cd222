/* fuzz_idx.c - libFuzzer target: MNIST IDX images and labels, plain and gzip,
 * and ffr_data_load (IDX or .npy by content).
 *
 * The first byte picks the reader (images, labels, data_load) and whether the
 * harness gzips the rest first (so the fuzzer explores the IDX header inside a
 * valid gzip stream; raw inputs reach the gzip decoder with corrupt streams).
 * Whatever reads must write back (plain and gzip) and read back the same. */
#include "fuzz_util.h" /* first: it defines _GNU_SOURCE */
#include <math.h>
#include <zlib.h>
#include "ffrelax.h"

static uint8_t *gzip_bytes(const uint8_t *d, size_t n, size_t *outn) {
    uLongf cap = compressBound((uLong)n) + 64;
    uint8_t *out = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) FZ_DIE("deflateInit2");
    z.next_in = (Bytef *)d;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) FZ_DIE("deflate");
    *outn = z.total_out;
    deflateEnd(&z);
    return out;
}

static void check_images(const float *x, size_t count, size_t rows, size_t cols, int gz) {
    char p[600];
    ffr_err err;
    size_t n = count * rows * cols;
    uint8_t *pix = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= 0.f && x[i] <= 1.f)) FZ_DIE("pixel %zu out of [0,1]: %g", i, x[i]);
        pix[i] = (uint8_t)(x[i] * 255.f + 0.5f);
    }
    snprintf(p, sizeof p, "%s/img", fz_tmpdir());
    if (ffr_idx_write_images(p, pix, count, rows, cols, gz, &err)) FZ_DIE("write images: %s", err.msg);
    float *y;
    size_t c2, r2, k2;
    if (ffr_idx_read_images(p, &y, &c2, &r2, &k2, &err)) FZ_DIE("reread images: %s", err.msg);
    if (c2 != count || r2 != rows || k2 != cols || (n && memcmp(x, y, n * sizeof *x)))
        FZ_DIE("images changed on a write-read round trip");
    free(y);
    free(pix);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n < 1) return 0;
    int mode = d[0] % 3, gz = (d[0] / 3) % 2;
    const uint8_t *body = d + 1;
    size_t bn = n - 1;
    uint8_t *z = NULL;
    if (gz) {
        z = gzip_bytes(body, bn, &bn);
        body = z;
    }
    char path[64];
    int fd = fz_memfd(body, bn, path, sizeof path);
    ffr_err err;
    err.msg[0] = 0;
    ffr_status st;
    if (mode == 0) {
        float *x;
        size_t count, rows, cols;
        st = ffr_idx_read_images(path, &x, &count, &rows, &cols, &err);
        if (!st) {
            check_images(x, count, rows, cols, d[0] / 6 % 2);
            free(x);
        } else if (x) FZ_DIE("failed read returned data");
    } else if (mode == 1) {
        unsigned char *y;
        size_t count;
        st = ffr_idx_read_labels(path, &y, &count, &err);
        if (!st) {
            char p[600];
            for (size_t i = 0; i < count; i++)
                if (y[i] >= 10) FZ_DIE("label %zu = %u accepted", i, y[i]);
            snprintf(p, sizeof p, "%s/lab", fz_tmpdir());
            if (ffr_idx_write_labels(p, y, count, d[0] / 6 % 2, &err)) FZ_DIE("write labels: %s", err.msg);
            unsigned char *y2;
            size_t c2;
            if (ffr_idx_read_labels(p, &y2, &c2, &err) || c2 != count || (count && memcmp(y, y2, count)))
                FZ_DIE("labels changed on a write-read round trip");
            free(y2);
            free(y);
        } else if (y) FZ_DIE("failed read returned data");
    } else {
        float *x;
        size_t count, dim;
        st = ffr_data_load(path, &x, &count, &dim, &err);
        if (!st) {
            if (count == 0 || dim == 0) FZ_DIE("data_load returned an empty matrix");
            for (size_t i = 0; i < count * dim; i++)
                if (!isfinite(x[i])) FZ_DIE("data_load returned a non-finite value");
            free(x);
        } else if (x) FZ_DIE("failed read returned data");
    }
    if (st && !err.msg[0]) FZ_DIE("failure with an empty message");
    close(fd);
    free(z);
    return 0;
}
