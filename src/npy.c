/* npy.c - numpy .npy files (format versions 1.0, 2.0, 3.0).
 *
 * Read: dtypes f4, f8 (either byte order), u1, i1, i4 (either byte order),
 * converted to float; C order only; ndim 0..4. The header dict is parsed as
 * the small Python literal numpy writes (keys in any order, any spacing,
 * single or double quotes, Python 2 'L' suffixes on shape integers). Every
 * size is checked for overflow and against the file's length; trailing bytes
 * after the data are an error.
 * Write: version 1.0, little-endian, header padded so the data starts at a
 * multiple of 64 bytes. Atomic (temp file + rename). doc/formats.md. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "internal.h"

#define NPY_MAX_HEADER (1u << 20)
#define NPY_CHUNK 65536

static int host_is_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reverse the bytes of each of n items of isz bytes, in place. */
static void swap_items(unsigned char *p, size_t n, size_t isz) {
    for (size_t i = 0; i < n; i++, p += isz)
        for (size_t a = 0, b = isz - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* ------------------------------------------------------------ the header */
typedef struct {
    const char *s;
    size_t n, i;
} cursor;

static void skip_ws(cursor *c) {
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
                           c->s[c->i] == '\r'))
        c->i++;
}

static int peek(cursor *c) { return c->i < c->n ? (unsigned char)c->s[c->i] : -1; }

/* A quoted string without escapes into out (NUL-terminated). 0 on success. */
static int parse_str(cursor *c, char *out, size_t cap) {
    int q = peek(c);
    if (q != '\'' && q != '"') return -1;
    c->i++;
    size_t k = 0;
    while (c->i < c->n && c->s[c->i] != q) {
        if (c->s[c->i] == '\\' || k + 1 >= cap) return -1;
        out[k++] = c->s[c->i++];
    }
    if (c->i >= c->n) return -1;
    c->i++;
    out[k] = 0;
    return 0;
}

static int match_word(cursor *c, const char *w) {
    size_t l = strlen(w);
    if (c->n - c->i < l || memcmp(c->s + c->i, w, l) != 0) return 0;
    c->i += l;
    return 1;
}

/* Describe what is at the cursor, for error messages. */
static const char *found_at(cursor *c, char *buf, size_t cap) {
    if (c->i >= c->n) return "the end of the header";
    size_t l = c->n - c->i < 12 ? c->n - c->i : 12;
    snprintf(buf, cap, "'%.*s'", (int)l, c->s + c->i);
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 32 || (unsigned char)*p > 126) *p = '?';
    return buf;
}

typedef struct {
    char descr[32];
    int fortran;
    int ndim;
    size_t shape[4];
} npy_header;

static ffr_status parse_shape(cursor *c, const char *path, npy_header *h, ffr_err *err) {
    char fb[48];
    if (peek(c) != '(')
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: shape: expected a tuple, found %s", path,
                        found_at(c, fb, sizeof fb));
    c->i++;
    h->ndim = 0;
    for (;;) {
        skip_ws(c);
        if (peek(c) == ')') { c->i++; return FFR_OK; }
        if (peek(c) < '0' || peek(c) > '9')
            return ffr_fail(err, FFR_ERR_FORMAT,
                            "%s: header: shape: expected a non-negative integer, found %s", path,
                            found_at(c, fb, sizeof fb));
        size_t v = 0;
        while (peek(c) >= '0' && peek(c) <= '9') {
            unsigned d = (unsigned)(peek(c) - '0');
            if (v > (SIZE_MAX - d) / 10)
                return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: shape: dimension %d overflows size_t",
                                path, h->ndim);
            v = v * 10 + d;
            c->i++;
        }
        if (peek(c) == 'L') c->i++; /* Python 2 long */
        if (h->ndim == 4)
            return ffr_fail(err, FFR_ERR_UNSUPPORTED, "%s: shape: expected at most 4 dimensions, found more",
                            path);
        h->shape[h->ndim++] = v;
        skip_ws(c);
        if (peek(c) == ',') { c->i++; continue; }
        if (peek(c) == ')') { c->i++; return FFR_OK; }
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: shape: expected ',' or ')', found %s", path,
                        found_at(c, fb, sizeof fb));
    }
}

/* Parse "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }". */
static ffr_status parse_header(const char *s, size_t n, const char *path, npy_header *h,
                               ffr_err *err) {
    cursor c = {s, n, 0};
    char key[32], fb[48], eb[160];
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    memset(h, 0, sizeof *h);
    skip_ws(&c);
    if (peek(&c) != '{')
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: expected '{', found %s", path,
                        found_at(&c, fb, sizeof fb));
    c.i++;
    for (;;) {
        skip_ws(&c);
        if (peek(&c) == '}') { c.i++; break; }
        if (parse_str(&c, key, sizeof key))
            return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: expected a quoted key or '}', found %s",
                            path, found_at(&c, fb, sizeof fb));
        skip_ws(&c);
        if (peek(&c) != ':')
            return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: expected ':' after '%s', found %s", path,
                            ffr_esc(key, eb, sizeof eb), found_at(&c, fb, sizeof fb));
        c.i++;
        skip_ws(&c);
        int *seen;
        if (strcmp(key, "descr") == 0) {
            seen = &seen_descr;
            if (peek(&c) == '[')
                return ffr_fail(err, FFR_ERR_UNSUPPORTED,
                                "%s: dtype: expected '<f4' or '<f8', found a structured dtype", path);
            if (parse_str(&c, h->descr, sizeof h->descr))
                return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: descr: expected a quoted dtype, found %s",
                                path, found_at(&c, fb, sizeof fb));
        } else if (strcmp(key, "fortran_order") == 0) {
            seen = &seen_fortran;
            if (match_word(&c, "True")) h->fortran = 1;
            else if (match_word(&c, "False")) h->fortran = 0;
            else
                return ffr_fail(err, FFR_ERR_FORMAT,
                                "%s: header: fortran_order: expected True or False, found %s", path,
                                found_at(&c, fb, sizeof fb));
        } else if (strcmp(key, "shape") == 0) {
            seen = &seen_shape;
            ffr_status st = parse_shape(&c, path, h, err);
            if (st) return st;
        } else {
            return ffr_fail(err, FFR_ERR_FORMAT,
                            "%s: header: expected the keys 'descr', 'fortran_order', 'shape', found '%s'",
                            path, ffr_esc(key, eb, sizeof eb));
        }
        if (*seen)
            return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: key '%s' appears twice", path, ffr_esc(key, eb, sizeof eb));
        *seen = 1;
        skip_ws(&c);
        if (peek(&c) == ',') { c.i++; continue; }
        if (peek(&c) == '}') { c.i++; break; }
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: expected ',' or '}', found %s", path,
                        found_at(&c, fb, sizeof fb));
    }
    skip_ws(&c);
    while (c.i < c.n && c.s[c.i] == 0) c.i++; /* tolerate NUL padding */
    if (c.i != c.n)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: expected the end after '}', found %s", path,
                        found_at(&c, fb, sizeof fb));
    if (!seen_descr || !seen_fortran || !seen_shape)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: header: missing key '%s'", path,
                        !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
    return FFR_OK;
}

/* dtype kinds we read */
typedef enum { K_F4, K_F8, K_U1, K_I1, K_I4 } npy_kind;

static int parse_descr(const char *d, npy_kind *kind, size_t *isz, int *swap) {
    int le = host_is_le(), file_le;
    if (strlen(d) != 3) return -1;
    switch (d[0]) {
    case '<': file_le = 1; break;
    case '>': file_le = 0; break;
    case '|': case '=': file_le = le; break;
    default: return -1;
    }
    const char *t = d + 1;
    if (strcmp(t, "f4") == 0 && d[0] != '|') { *kind = K_F4; *isz = 4; }
    else if (strcmp(t, "f8") == 0 && d[0] != '|') { *kind = K_F8; *isz = 8; }
    else if (strcmp(t, "i4") == 0 && d[0] != '|') { *kind = K_I4; *isz = 4; }
    else if (strcmp(t, "u1") == 0) { *kind = K_U1; *isz = 1; }
    else if (strcmp(t, "i1") == 0) { *kind = K_I1; *isz = 1; }
    else return -1;
    *swap = *isz > 1 && file_le != le;
    return 0;
}

static void convert(float *dst, unsigned char *src, size_t n, npy_kind kind, size_t isz, int swap) {
    if (swap) swap_items(src, n, isz);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = src + i * isz;
        switch (kind) {
        case K_F4: { float v; memcpy(&v, p, 4); dst[i] = v; break; }
        case K_F8: { double v; memcpy(&v, p, 8); dst[i] = (float)v; break; }
        case K_I4: { int32_t v; memcpy(&v, p, 4); dst[i] = (float)v; break; }
        case K_U1: dst[i] = (float)p[0]; break;
        case K_I1: dst[i] = (float)(signed char)p[0]; break;
        }
    }
}

static ffr_status read_exact(FILE *f, void *buf, size_t n, const char *path, const char *what,
                             ffr_err *err) {
    size_t got = fread(buf, 1, n, f);
    if (got != n) {
        if (ferror(f))
            return ffr_fail(err, FFR_ERR_IO, "%s: reading %s: %s", path, what, strerror(errno));
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated: expected %zu bytes of %s, found %zu", path,
                        n, what, got);
    }
    return FFR_OK;
}

static ffr_status npy_read_file(FILE *f, const char *path, float **data, int *ndim,
                                size_t shape[4], int *is_u8, ffr_err *err) {
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0)
        return ffr_fail(err, FFR_ERR_IO, "%s: stat: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ffr_fail(err, FFR_ERR_ARG, "%s: not a regular file", path);
    uint64_t fsize = (uint64_t)sb.st_size;
    unsigned char pre[12];
    ffr_status st;
    if (fsize < 10)
        return ffr_fail(err, FFR_ERR_FORMAT,
                        "%s: truncated: expected at least 10 bytes of NPY preamble, found %llu", path,
                        (unsigned long long)fsize);
    if ((st = read_exact(f, pre, 8, path, "preamble", err))) return st;
    if (memcmp(pre, "\x93NUMPY", 6) != 0)
        return ffr_fail(err, FFR_ERR_FORMAT,
                        "%s: magic: expected \\x93NUMPY, found %02x %02x %02x %02x %02x %02x: not an NPY file",
                        path, pre[0], pre[1], pre[2], pre[3], pre[4], pre[5]);
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return ffr_fail(err, FFR_ERR_UNSUPPORTED, "%s: version: expected 1.0, 2.0 or 3.0, found %d.%d",
                        path, major, minor);
    size_t lenbytes = major == 1 ? 2 : 4, hlen;
    if (fsize < 8 + lenbytes)
        return ffr_fail(err, FFR_ERR_FORMAT,
                        "%s: truncated: expected a %zu-byte header length, found %llu bytes", path,
                        lenbytes, (unsigned long long)(fsize - 8));
    if ((st = read_exact(f, pre + 8, lenbytes, path, "header length", err))) return st;
    hlen = major == 1 ? (size_t)pre[8] | (size_t)pre[9] << 8
                      : (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
                            (size_t)pre[11] << 24;
    uint64_t hend = 8 + lenbytes + (uint64_t)hlen;
    if (hlen > NPY_MAX_HEADER)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: header length: expected at most %u, found %zu", path,
                        NPY_MAX_HEADER, hlen);
    if (hend > fsize)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated: expected %zu bytes of header, found %llu",
                        path, hlen, (unsigned long long)(fsize - 8 - lenbytes));
    char *hbuf = ffr_malloc(hlen + 1);
    if (!hbuf) return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path);
    st = read_exact(f, hbuf, hlen, path, "header", err);
    npy_header h;
    if (!st) {
        hbuf[hlen] = 0;
        st = parse_header(hbuf, hlen, path, &h, err);
    }
    free(hbuf);
    if (st) return st;

    npy_kind kind;
    size_t isz;
    int swap;
    char eb[160];
    if (parse_descr(h.descr, &kind, &isz, &swap))
        return ffr_fail(err, FFR_ERR_UNSUPPORTED,
                        "%s: dtype: expected '<f4' or '<f8' (also '>f4', '>f8', '|u1', '|i1', '<i4', "
                        "'>i4'), found '%s'", path, ffr_esc(h.descr, eb, sizeof eb));
    if (is_u8) *is_u8 = kind == K_U1;
    if (h.fortran)
        return ffr_fail(err, FFR_ERR_UNSUPPORTED,
                        "%s: fortran_order: expected False, found True (save a C-ordered array, "
                        "e.g. np.save(path, np.ascontiguousarray(a)))", path);
    size_t count = 1, bytes;
    for (int d = 0; d < h.ndim; d++)
        if (!ffr_mul_ok(count, h.shape[d], &count))
            return ffr_fail(err, FFR_ERR_FORMAT, "%s: shape: element count overflows size_t", path);
    if (!ffr_mul_ok(count, isz, &bytes))
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: shape: data size overflows size_t", path);
    uint64_t have = fsize - hend;
    if ((uint64_t)bytes > have)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated: expected %zu bytes of data, found %llu",
                        path, bytes, (unsigned long long)have);
    if ((uint64_t)bytes < have)
        return ffr_fail(err, FFR_ERR_FORMAT,
                        "%s: trailing bytes: expected %zu bytes of data, found %llu", path, bytes,
                        (unsigned long long)have);
    if (!data) { /* the header only */
        *ndim = h.ndim;
        for (int d = 0; d < 4; d++) shape[d] = d < h.ndim ? h.shape[d] : 1;
        return FFR_OK;
    }
    float *out = ffr_calloc(count ? count : 1, sizeof(float));
    unsigned char *buf = ffr_malloc(NPY_CHUNK * 8);
    if (!out || !buf) {
        free(out);
        free(buf);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: cannot allocate %zu floats", path, count);
    }
    for (size_t done = 0; done < count;) {
        size_t n = count - done < NPY_CHUNK ? count - done : NPY_CHUNK;
        if ((st = read_exact(f, buf, n * isz, path, "data", err))) {
            free(out);
            free(buf);
            return st;
        }
        convert(out + done, buf, n, kind, isz, swap);
        done += n;
    }
    free(buf);
    *data = out;
    *ndim = h.ndim;
    for (int d = 0; d < 4; d++) shape[d] = d < h.ndim ? h.shape[d] : 1;
    return FFR_OK;
}

ffr_status ffr_npy_read_u8(const char *path, float **data, int *ndim, size_t shape[4], int *is_u8,
                           ffr_err *err) {
    if (data) *data = NULL;
    *ndim = 0;
    for (int d = 0; d < 4; d++) shape[d] = 1;
    FILE *f;
    ffr_status st = ffr_open_read(path, &f, NULL, err); /* regular files only, never blocks */
    if (st) return st;
    st = npy_read_file(f, path, data, ndim, shape, is_u8, err);
    fclose(f);
    return st;
}

ffr_status ffr_npy_read(const char *path, float **data, int *ndim, size_t shape[4], ffr_err *err) {
    return ffr_npy_read_u8(path, data, ndim, shape, NULL, err);
}

/* ----------------------------------------------------------------- write */
ffr_status ffr_npy_write(const char *path, const void *data, char dtype, int ndim,
                         const size_t *shape, ffr_err *err) {
    const char *descr;
    size_t isz;
    switch (dtype) {
    case 'f': descr = "<f4"; isz = 4; break;
    case 'd': descr = "<f8"; isz = 8; break;
    case 'i': descr = "<i4"; isz = 4; break;
    case 'u': descr = "|u1"; isz = 1; break;
    default:
        return ffr_fail(err, FFR_ERR_ARG, "%s: dtype: expected 'f', 'd', 'i' or 'u', found '%c'", path,
                        dtype);
    }
    if (ndim < 0 || ndim > 4)
        return ffr_fail(err, FFR_ERR_ARG, "%s: ndim: expected 0..4, found %d", path, ndim);
    size_t count = 1, bytes;
    for (int d = 0; d < ndim; d++)
        if (!ffr_mul_ok(count, shape[d], &count))
            return ffr_fail(err, FFR_ERR_ARG, "%s: shape: element count overflows size_t", path);
    if (!ffr_mul_ok(count, isz, &bytes))
        return ffr_fail(err, FFR_ERR_ARG, "%s: shape: data size overflows size_t", path);
    if (count && !data) return ffr_fail(err, FFR_ERR_ARG, "%s: data is NULL", path);

    char hdr[512], sh[256];
    int o = 0;
    sh[0] = 0;
    for (int d = 0; d < ndim; d++)
        o += snprintf(sh + o, sizeof sh - (size_t)o, d ? ", %zu" : "%zu", shape[d]);
    if (ndim == 1) snprintf(sh + o, sizeof sh - (size_t)o, ",");
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                      descr, sh);
    /* pad with spaces and a final newline so that 10 + header is a multiple of 64 */
    size_t total = 10 + (size_t)hl + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(hdr + hl, ' ', pad);
    hdr[hl + (int)pad] = '\n';
    size_t hlen = (size_t)hl + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 255),
                             (unsigned char)(hlen >> 8)};

    ffr_afile a;
    ffr_status st = ffr_atomic_open(&a, path, err);
    if (st) return st;
    if ((st = ffr_write(&a, pre, 10, err)) || (st = ffr_write(&a, hdr, hlen, err))) {
        ffr_atomic_abort(&a);
        return st;
    }
    if (host_is_le() || isz == 1) {
        st = ffr_write(&a, data, bytes, err);
    } else {
        unsigned char *buf = ffr_malloc(NPY_CHUNK * 8);
        if (!buf) st = ffr_fail(err, FFR_ERR_NOMEM, "out of memory");
        for (size_t done = 0; !st && done < count;) {
            size_t n = count - done < NPY_CHUNK ? count - done : NPY_CHUNK;
            memcpy(buf, (const unsigned char *)data + done * isz, n * isz);
            swap_items(buf, n, isz);
            st = ffr_write(&a, buf, n * isz, err);
            done += n;
        }
        free(buf);
    }
    if (st) {
        ffr_atomic_abort(&a);
        return st;
    }
    return ffr_atomic_commit(&a, err);
}
