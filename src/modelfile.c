/* modelfile.c - the model file (save/load) and numpy interop (a directory
 * of W1.npy .. WL.npy, b*.npy, V*.npy, c*.npy).
 *
 * Model file, version 1, all integers and floats little-endian
 * (doc/formats.md has the byte table):
 *   "FFRLXMDL" | u32 version | u32 L, rule, rho, tied | u32 n[0..L]
 *   | f32 alpha_up[0..L] | f32 alpha_down[0..L] | u64 nparams
 *   | f32 params[nparams] | u32 crc32 (ffr_crc32, the zlib polynomial) of every byte before it.
 * Load checks magic, version, every header field, the file length, the crc
 * and finally the parameters (ffr_net_check). Save is atomic. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

#define MDL_MAGIC "FFRLXMDL"
#define MDL_VERSION 1u
#define MDL_MAX_N (1 << 24)

/* ---------------------------------------------------------- LE encoding */
static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_f32(unsigned char *p, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(p, v);
}
static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const unsigned char *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}
static float get_f32(const unsigned char *p) {
    uint32_t v = get_u32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* Bytes before the parameters for L weight layers. */
static size_t header_bytes(int L) { return 8 + 4 + 16 + 4 * (size_t)(L + 1) + 8 * (size_t)(L + 1) + 8; }

/* Parameters of a network of these sizes; 0 on overflow. */
static int count_params(int L, const uint32_t *n, int tied, uint64_t *out) {
    uint64_t t = 0;
    for (int k = 1; k <= L; k++) {
        uint64_t w = (uint64_t)n[k] * n[k - 1]; /* <= 2^48 */
        t += w * (tied ? 1 : 2) + n[k];
    }
    for (int k = 0; k < L; k++) t += n[k];
    *out = t; /* at most 15 * (2 * 2^48 + 2^25) < 2^53: no overflow */
    return 1;
}

/* ----------------------------------------------------------------- save */
ffr_status ffr_net_save(const ffr_net *net, const char *path, ffr_err *err) {
    FFR_NEED(path, err);
    ffr_status st = ffr_net_check(net, err);
    if (st) {
        if (err) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            ffr_fail(err, st, "%s: not saved: %s", path, m);
        }
        return st;
    }
    unsigned char hdr[8 + 4 + 16 + 12 * FFR_MAX_LAYERS + 8];
    size_t o = 0;
    memcpy(hdr, MDL_MAGIC, 8); o = 8;
    put_u32(hdr + o, MDL_VERSION); o += 4;
    put_u32(hdr + o, (uint32_t)net->L); o += 4;
    put_u32(hdr + o, (uint32_t)net->rule); o += 4;
    put_u32(hdr + o, (uint32_t)net->rho); o += 4;
    put_u32(hdr + o, (uint32_t)net->tied); o += 4;
    for (int k = 0; k <= net->L; k++) { put_u32(hdr + o, (uint32_t)net->n[k]); o += 4; }
    for (int k = 0; k <= net->L; k++) { put_f32(hdr + o, net->alpha_up[k]); o += 4; }
    for (int k = 0; k <= net->L; k++) { put_f32(hdr + o, net->alpha_down[k]); o += 4; }
    put_u64(hdr + o, (uint64_t)net->nparams); o += 8;
    FFR_ASSERT(o == header_bytes(net->L));

    ffr_afile a;
    if ((st = ffr_atomic_open(&a, path, err))) return st;
    uint32_t crc = ffr_crc32(0, hdr, o);
    st = ffr_write(&a, hdr, o, err);
    enum { CH = 16384 };
    unsigned char buf[4 * CH];
    for (size_t done = 0; !st && done < net->nparams;) {
        size_t m = net->nparams - done < CH ? net->nparams - done : CH;
        for (size_t i = 0; i < m; i++) put_f32(buf + 4 * i, net->params[done + i]);
        crc = ffr_crc32(crc, buf, 4 * m);
        st = ffr_write(&a, buf, 4 * m, err);
        done += m;
    }
    if (!st) {
        unsigned char c4[4];
        put_u32(c4, crc);
        st = ffr_write(&a, c4, 4, err);
    }
    if (st) {
        ffr_atomic_abort(&a);
        return st;
    }
    return ffr_atomic_commit(&a, err);
}

/* ----------------------------------------------------------------- load */
/* Read the whole file (bounded by its size) into *buf. */
static ffr_status slurp(const char *path, unsigned char **buf, size_t *len, ffr_err *err) {
    return ffr_read_file(path, SIZE_MAX / 2, (char **)buf, len, err);
}

/* The header field (or region) that holds byte `off` of a model file with L
 * weight layers (L = 0: not known yet), for "truncated in ..." messages. */
static const char *field_at(size_t off, uint32_t L, uint64_t np, char *buf, size_t cap) {
    static const char *const fixed[] = {"magic", "magic", "version", "L", "rule", "rho", "tied"};
    if (off < 28) return fixed[off / 4];
    if (L < 1 || L >= FFR_MAX_LAYERS) {
        snprintf(buf, cap, "the header");
        return buf;
    }
    size_t k = (off - 28) / 4, m = L + 1;
    if (k < m) snprintf(buf, cap, "n[%zu]", k);
    else if (k < 2 * m) snprintf(buf, cap, "alpha_up[%zu]", k - m);
    else if (k < 3 * m) snprintf(buf, cap, "alpha_down[%zu]", k - 2 * m);
    else if (off < header_bytes((int)L)) snprintf(buf, cap, "nparams");
    else if ((off - header_bytes((int)L)) / 4 < np)
        snprintf(buf, cap, "params (parameter %llu of %llu)",
                 (unsigned long long)((off - header_bytes((int)L)) / 4), (unsigned long long)np);
    else snprintf(buf, cap, "crc32");
    return buf;
}

static ffr_status parse_model(const unsigned char *b, size_t len, const char *path, ffr_net **out,
                              ffr_err *err) {
    char fb[64];
    if (len < 12)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated in %s: expected at least 12 bytes (magic and version), found %zu",
                        path, field_at(len, 0, 0, fb, sizeof fb), len);
    if (memcmp(b, MDL_MAGIC, 8) != 0)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: magic: expected \"FFRLXMDL\", found \"%c%c%c%c%c%c%c%c\": not an ffrelax model",
                        path, b[0] >= 32 && b[0] < 127 ? b[0] : '?', b[1] >= 32 && b[1] < 127 ? b[1] : '?',
                        b[2] >= 32 && b[2] < 127 ? b[2] : '?', b[3] >= 32 && b[3] < 127 ? b[3] : '?',
                        b[4] >= 32 && b[4] < 127 ? b[4] : '?', b[5] >= 32 && b[5] < 127 ? b[5] : '?',
                        b[6] >= 32 && b[6] < 127 ? b[6] : '?', b[7] >= 32 && b[7] < 127 ? b[7] : '?');
    uint32_t ver = get_u32(b + 8);
    if (ver != MDL_VERSION)
        return ffr_fail(err, FFR_ERR_UNSUPPORTED, "%s: version: expected %u, found %u%s", path, MDL_VERSION, ver,
                        ver > MDL_VERSION ? "; this file was written by a newer ffrelax" : "");
    if (len < 28)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated in %s: expected at least 28 bytes of header, found %zu", path,
                        field_at(len, 0, 0, fb, sizeof fb), len);
    uint32_t L = get_u32(b + 12), rule = get_u32(b + 16), rho = get_u32(b + 20), tied = get_u32(b + 24);
    if (L < 1 || L >= FFR_MAX_LAYERS)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: L: expected 1..%d, found %u", path, FFR_MAX_LAYERS - 1, L);
    size_t hb = header_bytes((int)L);
    if (len < hb)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: truncated in %s: expected %zu bytes of header for L = %u, found %zu",
                        path, field_at(len, L, 0, fb, sizeof fb), hb, L, len);
    uint32_t n[FFR_MAX_LAYERS];
    size_t o = 28;
    for (uint32_t k = 0; k <= L; k++, o += 4) {
        n[k] = get_u32(b + o);
        if (n[k] < 1 || n[k] > MDL_MAX_N)
            return ffr_fail(err, FFR_ERR_FORMAT, "%s: n[%u]: expected 1..%d, found %u", path, k, MDL_MAX_N, n[k]);
    }
    if (tied > 1)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: tied: expected 0 or 1, found %u", path, tied);
    uint64_t np_expect, np_file = get_u64(b + hb - 8);
    count_params((int)L, n, (int)tied, &np_expect);
    if (np_file != np_expect)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: nparams: expected %llu for these sizes (%s), found %llu", path,
                        (unsigned long long)np_expect, tied ? "tied" : "untied", (unsigned long long)np_file);
    uint64_t want = (uint64_t)hb + 4 * np_expect + 4;
    if ((uint64_t)len < want)
        return ffr_fail(err, FFR_ERR_FORMAT,
                        "%s: truncated in %s: expected %llu bytes (%zu of header, %llu parameters, 4 of crc32), found %zu",
                        path, field_at(len, L, np_expect, fb, sizeof fb), (unsigned long long)want, hb,
                        (unsigned long long)np_expect, len);
    if ((uint64_t)len > want)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: trailing bytes: expected %llu bytes, found %zu", path,
                        (unsigned long long)want, len);
    uint32_t crc_file = get_u32(b + len - 4);
    uint32_t crc = ffr_crc32(0, b, len - 4);
    if (crc != crc_file)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: crc32: expected %08x (computed), found %08x: the file is corrupt",
                        path, crc, crc_file);
    if (rule > FFR_RULE_BOLTZMANN)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: rule: expected 0..2, found %u", path, rule);
    if (rho > FFR_RHO_IDENTITY)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: rho: expected 0..2, found %u", path, rho);
    if (rule == FFR_RULE_HOPFIELD && !tied)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: tied: expected 1 for rule hopfield, found 0", path);
    int ni[FFR_MAX_LAYERS];
    for (uint32_t k = 0; k <= L; k++) ni[k] = (int)n[k];
    ffr_net *net;
    ffr_status st = ffr_net_create(&net, (int)L, ni, (ffr_rule)rule, (ffr_rho)rho, (int)tied, err);
    if (st) return st;
    FFR_ASSERT((uint64_t)net->nparams == np_expect);
    for (uint32_t k = 0; k <= L; k++, o += 4) net->alpha_up[k] = get_f32(b + o);
    for (uint32_t k = 0; k <= L; k++, o += 4) net->alpha_down[k] = get_f32(b + o);
    o += 8;
    FFR_ASSERT(o == hb);
    for (size_t i = 0; i < net->nparams; i++) net->params[i] = get_f32(b + hb + 4 * i);
    if ((st = ffr_net_check(net, err))) {
        char m[sizeof err->msg];
        if (err) {
            snprintf(m, sizeof m, "%s", err->msg);
            ffr_fail(err, st, "%s: %s", path, m);
        }
        ffr_net_free(net);
        return st;
    }
    *out = net;
    return FFR_OK;
}

ffr_status ffr_net_load(ffr_net **out, const char *path, ffr_err *err) {
    FFR_NEED(out, err);
    *out = NULL;
    FFR_NEED(path, err);
    unsigned char *b = NULL;
    size_t len = 0;
    ffr_status st = slurp(path, &b, &len, err);
    if (st) return st;
    st = parse_model(b, len, path, out, err);
    free(b);
    return st;
}

/* ------------------------------------------------------------ npy interop */
static ffr_status join(char *out, size_t cap, const char *dir, const char *fmt, int k, ffr_err *err) {
    char name[64];
    snprintf(name, sizeof name, fmt, k);
    int w = snprintf(out, cap, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= cap) return ffr_fail(err, FFR_ERR_ARG, "%s: path too long", dir);
    return FFR_OK;
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void shape_str(char *buf, size_t cap, int ndim, const size_t *shape) {
    int o = snprintf(buf, cap, "(");
    for (int d = 0; d < ndim && (size_t)o < cap; d++)
        o += snprintf(buf + o, cap - (size_t)o, d ? ", %zu" : "%zu", shape[d]);
    if ((size_t)o < cap) snprintf(buf + o, cap - (size_t)o, ndim == 1 ? ",)" : ")");
}

/* Read DIR/name.npy and check it has exactly the expected shape. */
static ffr_status read_expect(const char *path, int ndim, size_t d0, size_t d1, const char *why,
                              float **data, ffr_err *err) {
    int nd;
    size_t sh[4], want[2] = {d0, d1};
    ffr_status st = ffr_npy_read(path, data, &nd, sh, err);
    if (st) return st;
    if (nd != ndim || sh[0] != d0 || (ndim == 2 && sh[1] != d1)) {
        char e[96], f[96];
        shape_str(e, sizeof e, ndim, want);
        shape_str(f, sizeof f, nd, sh);
        free(*data);
        *data = NULL;
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: shape: expected %s%s, found %s", path, e, why, f);
    }
    return FFR_OK;
}

static ffr_status import_set(ffr_net **out, const char *dir, ffr_rule rule, ffr_rho rho, int tied, ffr_err *err);
ffr_status ffr_net_import_npy(ffr_net **out, const char *dir, ffr_rule rule, ffr_rho rho, int tied,
                              ffr_err *err) {
    FFR_NEED(out, err);
    *out = NULL;
    FFR_NEED(dir, err);
    if ((unsigned)rule > FFR_RULE_BOLTZMANN || (unsigned)rho > FFR_RHO_IDENTITY)
        return ffr_fail(err, FFR_ERR_ARG, "import: unknown rule %d or rho %d", (int)rule, (int)rho);
    int lock;
    ffr_status st = ffr_set_verify(dir, "model", &lock, err); /* never a mix of two runs */
    if (st) return st;
    st = import_set(out, dir, rule, rho, tied, err);
    ffr_dir_unlock(lock);
    return st;
}

/* ffr_net_import_npy once the set is verified and locked. */
static ffr_status import_set(ffr_net **out, const char *dir, ffr_rule rule, ffr_rho rho, int tied, ffr_err *err) {
    char p[4096], q[4096];
    ffr_status st;
    int L = 0;
    while (L + 1 < FFR_MAX_LAYERS + 1) {
        if ((st = join(p, sizeof p, dir, "W%d.npy", L + 1, err))) return st;
        if (!exists(p)) break;
        L++;
    }
    if (L == 0) {
        join(p, sizeof p, dir, "W%d.npy", 1, err);
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot open: %s (expected W1.npy .. WL.npy in %s)", p,
                        strerror(ENOENT), dir);
    }
    if (L >= FFR_MAX_LAYERS)
        return ffr_fail(err, FFR_ERR_UNSUPPORTED, "%s: found W1.npy .. W%d.npy: expected at most %d weight layers",
                        dir, L, FFR_MAX_LAYERS - 1);
    for (int k = L + 2; k <= FFR_MAX_LAYERS + 1; k++) {
        join(p, sizeof p, dir, "W%d.npy", k, err);
        if (exists(p))
            return ffr_fail(err, FFR_ERR_FORMAT, "%s: present but W%d.npy is missing: the layers must be consecutive",
                            p, L + 1);
    }
    /* sizes from the W shapes, chained */
    float *W[FFR_MAX_LAYERS] = {0};
    int n[FFR_MAX_LAYERS];
    size_t prev_shape[4] = {0};
    st = FFR_OK;
    for (int k = 1; k <= L && !st; k++) {
        int nd;
        size_t sh[4];
        join(p, sizeof p, dir, "W%d.npy", k, err);
        if ((st = ffr_npy_read(p, &W[k], &nd, sh, err))) break;
        if (nd != 2) {
            st = ffr_fail(err, FFR_ERR_FORMAT, "%s: shape: expected 2 dimensions (n_%d, n_%d), found %d", p, k,
                          k - 1, nd);
            break;
        }
        if (sh[0] < 1 || sh[1] < 1 || sh[0] > MDL_MAX_N || sh[1] > MDL_MAX_N) {
            st = ffr_fail(err, FFR_ERR_FORMAT, "%s: shape: expected sizes 1..%d, found (%zu, %zu)", p, MDL_MAX_N,
                          sh[0], sh[1]);
            break;
        }
        if (k > 1 && sh[1] != prev_shape[0]) {
            join(q, sizeof q, dir, "W%d.npy", k - 1, err);
            st = ffr_fail(err, FFR_ERR_FORMAT,
                          "%s: shape (%zu, %zu) does not chain with %s shape (%zu, %zu): expected %zu columns, found %zu",
                          p, sh[0], sh[1], q, prev_shape[0], prev_shape[1], prev_shape[0], sh[1]);
            break;
        }
        if (k == 1) n[0] = (int)sh[1];
        n[k] = (int)sh[0];
        prev_shape[0] = sh[0];
        prev_shape[1] = sh[1];
    }
    ffr_net *net = NULL;
    if (!st) st = ffr_net_create(&net, L, n, rule, rho, tied, err);
    for (int k = 1; k <= L; k++) {
        if (!st) memcpy(net->W[k], W[k], sizeof(float) * (size_t)n[k] * (size_t)n[k - 1]);
        free(W[k]);
    }
    for (int k = 1; k <= L && !st; k++) {
        float *d = NULL;
        join(p, sizeof p, dir, "b%d.npy", k, err);
        if (exists(p)) {
            if ((st = read_expect(p, 1, (size_t)n[k], 0, "", &d, err))) break;
            memcpy(net->b[k], d, sizeof(float) * (size_t)n[k]);
            free(d);
        }
        join(p, sizeof p, dir, "V%d.npy", k, err);
        if (tied && exists(p)) {
            st = ffr_fail(err, FFR_ERR_ARG,
                          "%s: present but the network is tied (V = W^T): import without --tied, or delete the V*.npy files",
                          p);
            break;
        }
        if (!tied) {
            if (!exists(p)) {
                st = ffr_fail(err, FFR_ERR_IO, "%s: missing: an untied network needs V1.npy .. V%d.npy (or use --tied)",
                              p, L);
                break;
            }
            char why[64];
            snprintf(why, sizeof why, " = (n_%d, n_%d) from W%d.npy", k - 1, k, k);
            if ((st = read_expect(p, 2, (size_t)n[k - 1], (size_t)n[k], why, &d, err))) break;
            memcpy(net->V[k], d, sizeof(float) * (size_t)n[k] * (size_t)n[k - 1]);
            free(d);
        }
    }
    for (int k = 0; k < L && !st; k++) {
        float *d = NULL;
        join(p, sizeof p, dir, "c%d.npy", k, err);
        if (!exists(p)) continue;
        if ((st = read_expect(p, 1, (size_t)n[k], 0, "", &d, err))) break;
        memcpy(net->c[k], d, sizeof(float) * (size_t)n[k]);
        free(d);
    }
    if (!st) {
        st = ffr_net_check(net, err);
        if (st && err) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            ffr_fail(err, st, "%s: %s", dir, m);
        }
    }
    if (st) {
        ffr_net_free(net);
        return st;
    }
    *out = net;
    return FFR_OK;
}

/* The members of net's set (doc/formats.md): W_k, b_k (V_k untied) for
 * k = 1..L, c_k for k = 0..L-1. The set's commit removes the members of a
 * deeper or untied model written there before, and writes the manifest last. */
static ffr_status export_set(const ffr_net *net, ffr_set *set, ffr_err *err) {
    ffr_status st;
    char name[32];
    for (int k = 1; k <= net->L; k++) {
        size_t sw[2] = {(size_t)net->n[k], (size_t)net->n[k - 1]};
        size_t sv[2] = {(size_t)net->n[k - 1], (size_t)net->n[k]};
        size_t sb[1] = {(size_t)net->n[k]};
        snprintf(name, sizeof name, "W%d.npy", k);
        if ((st = ffr_set_npy(set, name, net->W[k], 'f', 2, sw, err))) return st;
        snprintf(name, sizeof name, "b%d.npy", k);
        if ((st = ffr_set_npy(set, name, net->b[k], 'f', 1, sb, err))) return st;
        snprintf(name, sizeof name, "V%d.npy", k);
        if (!net->tied && (st = ffr_set_npy(set, name, net->V[k], 'f', 2, sv, err))) return st;
    }
    for (int k = 0; k < net->L; k++) {
        size_t sc[1] = {(size_t)net->n[k]};
        snprintf(name, sizeof name, "c%d.npy", k);
        if ((st = ffr_set_npy(set, name, net->c[k], 'f', 1, sc, err))) return st;
    }
    return FFR_OK;
}

ffr_status ffr_net_export_npy(const ffr_net *net, const char *dir, ffr_err *err) {
    FFR_NEED(dir, err);
    ffr_status st = ffr_net_check(net, err);
    if (st) return st;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    ffr_set *set;
    if ((st = ffr_set_begin(&set, dir, "model", err))) return st; /* one writer per folder */
    if ((st = export_set(net, set, err))) {
        ffr_set_abort(set);
        return st;
    }
    return ffr_set_commit(set, err);
}
