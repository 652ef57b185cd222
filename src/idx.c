/* idx.c - MNIST IDX files (images: magic 2051, labels: magic 2049), plain or
 * gzip, and ffr_data_load, which takes a data matrix from an IDX image file
 * or a 2-D .npy.
 *
 * Files are read through zlib's gzread, which reads plain files unchanged.
 * Every header field is checked: magic, dimensions, count * rows * cols for
 * overflow, the data against the header (too short: "truncated", too long:
 * "trailing bytes"), labels < 10. Writes are atomic (temp file + rename);
 * gzip output goes through gzdopen on the temp file's descriptor.
 * doc/formats.md describes the layout. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "internal.h"

#define IDX_MAGIC_IMAGES 2051u
#define IDX_MAGIC_LABELS 2049u
#define IDX_CHUNK (1u << 20)
#define DEFLATE_MAX_RATIO 1032u /* deflate cannot expand data by more than this */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

typedef struct {
    gzFile gz;
    int compressed;
    uint64_t fsize;     /* bytes on disk */
    uint64_t max_bytes; /* the most bytes the (decompressed) stream can hold */
    const char *path;
} idx_in;

static ffr_status idx_open(idx_in *in, const char *path, ffr_err *err) {
    memset(in, 0, sizeof *in);
    FILE *f;
    uint64_t size;
    ffr_status st = ffr_open_read(path, &f, &size, err); /* regular files only, never blocks */
    if (st) return st;
    unsigned char m[2] = {0, 0};
    size_t got = fread(m, 1, 2, f);
    int rerr = ferror(f);
    int fd = rerr ? -1 : dup(fileno(f));
    fclose(f);
    if (rerr) return ffr_fail(err, FFR_ERR_IO, "%s: read failed", path);
    if (fd < 0 || lseek(fd, 0, SEEK_SET) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    in->fsize = size;
    in->path = path;
    in->compressed = got == 2 && m[0] == 0x1f && m[1] == 0x8b;
    in->max_bytes = in->compressed ? in->fsize * DEFLATE_MAX_RATIO + 1024 : in->fsize;
    in->gz = gzdopen(fd, "rb"); /* the file just checked, not the path again */
    if (!in->gz) { close(fd); return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path); }
    gzbuffer(in->gz, 1u << 17);
    return FFR_OK;
}

/* Read up to n bytes; *got is what arrived. Fails only on a gzip/OS error
 * that is not a plain early end. */
static ffr_status idx_read(idx_in *in, void *buf, size_t n, size_t *got, const char *path,
                           ffr_err *err) {
    unsigned char *p = buf;
    *got = 0;
    while (*got < n) {
        size_t want = n - *got > IDX_CHUNK ? IDX_CHUNK : n - *got;
        int r = gzread(in->gz, p + *got, (unsigned)want);
        if (r < 0) {
            int e;
            const char *m = gzerror(in->gz, &e);
            if (e == Z_BUF_ERROR) return FFR_OK; /* stream ended early: truncated */
            /* zlib prefixes its message with "<fd:N>: " (gzdopen): drop it, we print the path */
            if (m && !strncmp(m, "<fd:", 4) && strstr(m, ">: ")) m = strstr(m, ">: ") + 3;
            return ffr_fail(err, e == Z_ERRNO ? FFR_ERR_IO : FFR_ERR_FORMAT,
                            "%s: corrupt gzip data: %s", path,
                            e == Z_ERRNO ? strerror(errno) : m);
        }
        if (r == 0) return FFR_OK;
        *got += (size_t)r;
    }
    return FFR_OK;
}

/* zlib's gzread silently skips anything after the last gzip member that is
 * not another member. Inflate the raw file once more (members back to back)
 * and fail when bytes other than a gzip member follow the last one. */
static ffr_status gz_check_tail(const char *path, ffr_err *err) {
    FILE *f;
    ffr_status ost = ffr_open_read(path, &f, NULL, err);
    if (ost) return ost;
    enum { IN = 1 << 16, OUT = 1 << 16 };
    unsigned char *in = ffr_malloc(IN), *out = ffr_malloc(OUT);
    z_stream z;
    memset(&z, 0, sizeof z);
    ffr_status st = FFR_OK;
    if (!in || !out || inflateInit2(&z, 15 + 16) != Z_OK) {
        free(in);
        free(out);
        fclose(f);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path);
    }
    uint64_t pos = 0; /* raw bytes consumed by finished members */
    int eof = 0, in_member = 1;
    for (;;) {
        if (z.avail_in == 0 && !eof) {
            z.avail_in = (uInt)fread(in, 1, IN, f);
            z.next_in = in;
            if (z.avail_in == 0) eof = 1;
        }
        if (z.avail_in == 0 && eof) break;
        if (!in_member) { /* between members: another one must start here */
            if (z.avail_in < 2 && !eof) {
                /* refill so that both magic bytes are in the buffer */
                memmove(in, z.next_in, z.avail_in);
                z.avail_in += (uInt)fread(in + z.avail_in, 1, IN - z.avail_in, f);
                z.next_in = in;
            }
            if (z.avail_in < 2 || z.next_in[0] != 0x1f || z.next_in[1] != 0x8b) {
                st = ffr_fail(err, FFR_ERR_FORMAT,
                              "%s: trailing bytes: found data that is not gzip after the gzip stream (at byte %llu)",
                              path, (unsigned long long)pos);
                break;
            }
            inflateReset(&z);
            in_member = 1;
        }
        uInt before = z.avail_in;
        z.next_out = out;
        z.avail_out = OUT;
        int r = inflate(&z, Z_NO_FLUSH);
        pos += before - z.avail_in;
        if (r == Z_STREAM_END) in_member = 0;
        else if (r != Z_OK && !(r == Z_BUF_ERROR && z.avail_in == 0)) break; /* gzread reported it already */
    }
    inflateEnd(&z);
    free(in);
    free(out);
    fclose(f);
    return st;
}

/* After the payload of hl + expected bytes: the stream must end here. */
static ffr_status idx_expect_end(idx_in *in, size_t hl, size_t expected, const char *what,
                                 const char *path, ffr_err *err) {
    unsigned char extra[1];
    size_t got;
    ffr_status st = idx_read(in, extra, 1, &got, path, err);
    if (st) return st;
    if (!got) {
        int e;
        gzerror(in->gz, &e);
        if (e == Z_BUF_ERROR)
            return ffr_fail(err, FFR_ERR_FORMAT,
                            "%s: truncated: the gzip stream ends early (after all %zu bytes of %s)", path,
                            expected, what);
        return in->compressed ? gz_check_tail(in->path, err) : FFR_OK;
    }
    if (!in->compressed)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: trailing bytes: expected %zu bytes of %s, found %llu",
                        path, expected, what, (unsigned long long)(in->fsize - hl));
    return ffr_fail(err, FFR_ERR_FORMAT, "%s: trailing bytes: expected %zu bytes of %s, found more",
                    path, expected, what);
}

/* The payload of n bytes cannot fit in what the file holds after its header. */
static ffr_status idx_too_short(idx_in *in, size_t hl, size_t n, const char *what, const char *path,
                                ffr_err *err) {
    uint64_t room = in->max_bytes > hl ? in->max_bytes - hl : 0;
    if ((uint64_t)n <= room) return FFR_OK;
    if (!in->compressed)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated: expected %zu bytes of %s, found %llu", path,
                        n, what, (unsigned long long)room);
    return ffr_fail(err, FFR_ERR_FORMAT,
                    "%s: truncated: expected %zu bytes of %s, but a %llu-byte gzip file holds at most %llu",
                    path, n, what, (unsigned long long)in->fsize, (unsigned long long)room);
}

static ffr_status idx_header(idx_in *in, const char *path, uint32_t magic, unsigned char *h,
                             size_t hl, ffr_err *err) {
    size_t got;
    ffr_status st = idx_read(in, h, hl, &got, path, err);
    if (st) return st;
    if (got < 4)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated: expected a %zu-byte IDX header, found %zu bytes",
                        path, hl, got);
    uint32_t m = be32(h);
    if (m != magic)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: magic: expected %u (IDX %s), found %u%s", path, magic,
                        magic == IDX_MAGIC_IMAGES ? "images" : "labels", m,
                        m == IDX_MAGIC_IMAGES ? " (IDX images)"
                        : m == IDX_MAGIC_LABELS ? " (IDX labels)" : ": not an IDX file");
    if (got < hl)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated: expected a %zu-byte IDX header, found %zu bytes",
                        path, hl, got);
    return FFR_OK;
}

static ffr_status read_images(idx_in *in, const char *path, float **x, size_t *count, size_t *rows,
                              size_t *cols, ffr_err *err) {
    unsigned char h[16];
    ffr_status st = idx_header(in, path, IDX_MAGIC_IMAGES, h, 16, err);
    if (st) return st;
    size_t n = be32(h + 4), r = be32(h + 8), c = be32(h + 12), pix;
    if (r == 0 || c == 0)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: dimensions: expected rows, cols >= 1, found %zu x %zu",
                        path, r, c);
    if (!ffr_mul_ok(n, r, &pix) || !ffr_mul_ok(pix, c, &pix))
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: count * rows * cols (%zu * %zu * %zu) overflows", path,
                        n, r, c);
    if ((st = idx_too_short(in, 16, pix, "pixels", path, err))) return st;
    if (!x) { /* the header only (ffr_data_peek): nothing inflated, nothing allocated */
        *count = n; *rows = r; *cols = c;
        return FFR_OK;
    }
    float *out = ffr_calloc(pix ? pix : 1, sizeof(float));
    unsigned char *buf = ffr_malloc(IDX_CHUNK);
    if (!out || !buf) {
        free(out);
        free(buf);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: cannot allocate %zu pixels", path, pix);
    }
    size_t done = 0;
    while (done < pix) {
        size_t want = pix - done > IDX_CHUNK ? IDX_CHUNK : pix - done, got;
        if ((st = idx_read(in, buf, want, &got, path, err))) break;
        for (size_t i = 0; i < got; i++) out[done + i] = buf[i] / 255.0f;
        done += got;
        if (got < want) {
            st = ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated: expected %zu bytes of pixels, found %zu",
                          path, pix, done);
            break;
        }
    }
    free(buf);
    if (!st) st = idx_expect_end(in, 16, pix, "pixels", path, err);
    if (st) {
        free(out);
        return st;
    }
    *x = out;
    *count = n;
    *rows = r;
    *cols = c;
    return FFR_OK;
}

ffr_status ffr_idx_read_images(const char *path, float **x, size_t *count, size_t *rows,
                               size_t *cols, ffr_err *err) {
    *x = NULL;
    *count = *rows = *cols = 0;
    idx_in in;
    ffr_status st = idx_open(&in, path, err);
    if (st) return st;
    st = read_images(&in, path, x, count, rows, cols, err);
    gzclose(in.gz);
    return st;
}

ffr_status ffr_idx_read_labels(const char *path, unsigned char **y, size_t *count, ffr_err *err) {
    *y = NULL;
    *count = 0;
    idx_in in;
    unsigned char h[8];
    ffr_status st = idx_open(&in, path, err);
    if (st) return st;
    if ((st = idx_header(&in, path, IDX_MAGIC_LABELS, h, 8, err))) {
        gzclose(in.gz);
        return st;
    }
    size_t n = be32(h + 4), got = 0;
    if ((st = idx_too_short(&in, 8, n, "labels", path, err))) {
        gzclose(in.gz);
        return st;
    }
    unsigned char *out = ffr_malloc(n ? n : 1);
    if (!out) {
        gzclose(in.gz);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: cannot allocate %zu labels", path, n);
    }
    st = idx_read(&in, out, n, &got, path, err);
    if (!st && got < n)
        st = ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated: expected %zu bytes of labels, found %zu", path,
                      n, got);
    if (!st) st = idx_expect_end(&in, 8, n, "labels", path, err);
    for (size_t i = 0; !st && i < n; i++)
        if (out[i] >= 10)
            st = ffr_fail(err, FFR_ERR_FORMAT, "%s: label %zu: expected 0..9, found %u", path, i,
                          out[i]);
    gzclose(in.gz);
    if (st) {
        free(out);
        return st;
    }
    *y = out;
    *count = n;
    return FFR_OK;
}

/* ----------------------------------------------------------------- write */
static ffr_status idx_write(const char *path, const unsigned char *hdr, size_t hl,
                            const unsigned char *data, size_t n, int gz, ffr_err *err) {
    ffr_afile a;
    ffr_status st = ffr_atomic_open(&a, path, err);
    if (st) return st;
    if (!gz) {
        if ((st = ffr_write(&a, hdr, hl, err)) || (st = ffr_write(&a, data, n, err))) {
            ffr_atomic_abort(&a);
            return st;
        }
        return ffr_atomic_commit(&a, err);
    }
    int fd = dup(fileno(a.f));
    gzFile g = fd >= 0 ? gzdopen(fd, "wb6") : NULL;
    if (!g) {
        if (fd >= 0) close(fd);
        ffr_atomic_abort(&a);
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot start gzip output", path);
    }
    int ok = gzwrite(g, hdr, (unsigned)hl) == (int)hl;
    for (size_t done = 0; ok && done < n;) {
        size_t w = n - done > IDX_CHUNK ? IDX_CHUNK : n - done;
        ok = gzwrite(g, data + done, (unsigned)w) == (int)w;
        done += w;
    }
    int e = 0;
    const char *m = ok ? NULL : gzerror(g, &e);
    char msg[256];
    snprintf(msg, sizeof msg, "%s", m ? m : "");
    int e_no = errno;
    if (gzclose(g) != Z_OK && ok) {
        ok = 0;
        e_no = errno;
        snprintf(msg, sizeof msg, "gzip close failed: %s", strerror(e_no));
    }
    if (!ok) {
        ffr_atomic_abort(&a);
        return ffr_fail(err, FFR_ERR_IO, "%s: write failed: %s", path,
                        e == Z_ERRNO ? strerror(e_no) : msg);
    }
    return ffr_atomic_commit(&a, err);
}

ffr_status ffr_idx_write_images(const char *path, const unsigned char *pix, size_t count,
                                size_t rows, size_t cols, int gz, ffr_err *err) {
    size_t n;
    if (count > UINT32_MAX || rows > UINT32_MAX || cols > UINT32_MAX || rows == 0 || cols == 0)
        return ffr_fail(err, FFR_ERR_ARG,
                        "%s: dimensions: expected 1..%u rows and cols and count <= %u, found %zu x %zu x %zu",
                        path, UINT32_MAX, UINT32_MAX, count, rows, cols);
    if (!ffr_mul_ok(count, rows, &n) || !ffr_mul_ok(n, cols, &n))
        return ffr_fail(err, FFR_ERR_ARG, "%s: count * rows * cols overflows", path);
    if (n && !pix) return ffr_fail(err, FFR_ERR_ARG, "%s: pixels are NULL", path);
    unsigned char h[16];
    put_be32(h, IDX_MAGIC_IMAGES);
    put_be32(h + 4, (uint32_t)count);
    put_be32(h + 8, (uint32_t)rows);
    put_be32(h + 12, (uint32_t)cols);
    return idx_write(path, h, 16, pix, n, gz, err);
}

ffr_status ffr_idx_write_labels(const char *path, const unsigned char *y, size_t count, int gz,
                                ffr_err *err) {
    if (count > UINT32_MAX)
        return ffr_fail(err, FFR_ERR_ARG, "%s: count: expected <= %u, found %zu", path, UINT32_MAX,
                        count);
    if (count && !y) return ffr_fail(err, FFR_ERR_ARG, "%s: labels are NULL", path);
    for (size_t i = 0; i < count; i++)
        if (y[i] >= 10)
            return ffr_fail(err, FFR_ERR_ARG, "%s: label %zu: expected 0..9, found %u", path, i, y[i]);
    unsigned char h[8];
    put_be32(h, IDX_MAGIC_LABELS);
    put_be32(h + 4, (uint32_t)count);
    return idx_write(path, h, 8, y, count, gz, err);
}

/* ------------------------------------------------------------- data load */
static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* ffr_data_load, or with x NULL ffr_data_peek: the shape from the header only. */
static ffr_status data_load(const char *path, float **x, size_t *count, size_t *dim, ffr_err *err) {
    if (x) *x = NULL;
    *count = *dim = 0;
    idx_in in;
    ffr_status st = idx_open(&in, path, err);
    if (st) return st;
    unsigned char m[6] = {0};
    size_t got;
    st = idx_read(&in, m, 6, &got, path, err);
    int is_npy = got == 6 && memcmp(m, "\x93NUMPY", 6) == 0;
    uint32_t magic = got >= 4 ? be32(m) : 0;
    if (st) {
        gzclose(in.gz);
        return st;
    }
    if (!is_npy && magic == IDX_MAGIC_IMAGES) {
        size_t r, c;
        gzrewind(in.gz);
        st = read_images(&in, path, x, count, &r, &c, err);
        gzclose(in.gz);
        if (!st) *dim = r * c; /* no overflow: r * c * count was checked, count may be 0 */
        if (!st && *count == 0) {
            if (x) free(*x), *x = NULL;
            return ffr_fail(err, FFR_ERR_FORMAT, "%s: count: expected at least one image, found 0",
                            path);
        }
        return st;
    }
    gzclose(in.gz);
    if (is_npy && in.compressed)
        return ffr_fail(err, FFR_ERR_UNSUPPORTED, "%s: a gzip-compressed .npy is not supported; "
                        "gunzip it first", path);
    if (!is_npy && magic == IDX_MAGIC_LABELS)
        return ffr_fail(err, FFR_ERR_FORMAT,
                        "%s: magic: expected 2051 (IDX images) or an .npy file, found 2049 (IDX labels)",
                        path);
    if (!is_npy && !ends_with(path, ".npy"))
        return ffr_fail(err, FFR_ERR_FORMAT,
                        "%s: not a data file: expected IDX images (magic 2051) or an .npy array, "
                        "found first bytes %02x %02x %02x %02x", path, m[0], m[1], m[2], m[3]);
    float *d = NULL;
    int ndim, u8 = 0;
    size_t shape[4];
    if ((st = ffr_npy_read_u8(path, x ? &d : NULL, &ndim, shape, &u8, err))) return st;
    if (ndim != 2) {
        free(d);
        return ffr_fail(err, FFR_ERR_FORMAT,
                        "%s: shape: expected a 2-D array (count, dim), found a %d-D array", path, ndim);
    }
    if (shape[0] == 0 || shape[1] == 0) {
        free(d);
        return ffr_fail(err, FFR_ERR_FORMAT,
                        "%s: shape: expected at least one row and one column, found (%zu, %zu)", path,
                        shape[0], shape[1]);
    }
    if (!x) {
        *count = shape[0];
        *dim = shape[1];
        return FFR_OK;
    }
    for (size_t i = 0; i < shape[0] * shape[1]; i++)
        if (!isfinite(d[i])) {
            size_t r = i / shape[1], c = i % shape[1];
            const char *what = isnan(d[i]) ? "NaN" : d[i] > 0 ? "Inf" : "-Inf";
            free(d);
            return ffr_fail(err, FFR_ERR_FORMAT, "%s: element (%zu, %zu): expected a finite value, found %s",
                            path, r, c, what);
        }
    if (u8) /* uint8 pixels (np.save of MNIST): scaled to [0, 1] like IDX images */
        for (size_t i = 0; i < shape[0] * shape[1]; i++) d[i] = d[i] / 255.0f;
    *x = d;
    *count = shape[0];
    *dim = shape[1];
    return FFR_OK;
}

ffr_status ffr_data_load(const char *path, float **x, size_t *count, size_t *dim, ffr_err *err) {
    if (!x || !count || !dim) return ffr_fail(err, FFR_ERR_ARG, "ffr_data_load: NULL argument");
    return data_load(path, x, count, dim, err);
}

ffr_status ffr_data_peek(const char *path, size_t *count, size_t *dim, ffr_err *err) {
    if (!count || !dim) return ffr_fail(err, FFR_ERR_ARG, "ffr_data_peek: NULL argument");
    return data_load(path, NULL, count, dim, err);
}
