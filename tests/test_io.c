/* test_io.c - the file formats: .npy, IDX, model files, npy import/export,
 * and the MNIST JSON conversion. Every format gets a write-read-compare
 * round trip and a set of malformed files (truncated at every byte, flipped
 * bytes, wrong magic/version, overflowing sizes), each of which must fail
 * with a message naming the problem, never crash. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "ffrelax.h"
#include "minitest.h"

static char tmpdir[256];

static const char *tp(const char *name) {
    static char buf[8][512];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)l + 1);
    *n = fread(b, 1, (size_t)l, f);
    fclose(f);
    return b;
}

static int has(const ffr_err *e, const char *word) { return strstr(e->msg, word) != NULL; }

/* An .npy file with a hand-written header and raw data bytes. */
static int write_npy_raw(const char *path, int major, const char *dict, const void *data, size_t nd) {
    unsigned char buf[4096];
    size_t hl = strlen(dict), pre = major == 1 ? 10 : 12;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)(hl & 255);
    buf[9] = (unsigned char)(hl >> 8);
    if (major > 1) buf[10] = buf[11] = 0;
    memcpy(buf + pre, dict, hl);
    if (nd) memcpy(buf + pre + hl, data, nd);
    return write_bytes(path, buf, pre + hl + nd);
}

static uint64_t lcg(uint64_t *s) { return *s = *s * 6364136223846793005ULL + 1442695040888963407ULL; }

/* ------------------------------------------------------------------ npy */
static void test_npy_roundtrip(void) {
    static const size_t shapes[][5] = {/* ndim, dims */
                                       {0, 0, 0, 0, 0}, {1, 1, 0, 0, 0}, {1, 7, 0, 0, 0},
                                       {2, 3, 5, 0, 0}, {3, 2, 3, 5, 0}, {4, 2, 1, 3, 7},
                                       {1, 0, 0, 0, 0}, {2, 3, 0, 0, 0}, {2, 1, 13, 0, 0}};
    const char dtypes[] = {'f', 'd', 'i', 'u'};
    uint64_t s = 12345;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int di = 0; di < 4; di++) {
            int ndim = (int)shapes[si][0];
            size_t count = 1;
            for (int d = 0; d < ndim; d++) count *= shapes[si][1 + d];
            float fv[256];
            double dv[256];
            int32_t iv[256];
            unsigned char uv[256];
            for (size_t i = 0; i < count; i++) {
                uint64_t r = lcg(&s) >> 11;
                dv[i] = ((double)r / 9007199254740992.0 - 0.5) * 1e3;
                fv[i] = (float)dv[i];
                iv[i] = (int32_t)(r % 2000001) - 1000000;
                uv[i] = (unsigned char)(r % 256);
            }
            if (count > 1) { fv[1] = -0.0f; fv[0] = 1e-40f; } /* -0 and a denormal, bit-exact */
            const void *src = dtypes[di] == 'f' ? (void *)fv : dtypes[di] == 'd' ? (void *)dv
                            : dtypes[di] == 'i' ? (void *)iv : (void *)uv;
            ffr_err e;
            const char *p = tp("rt.npy");
            CHECKF(ffr_npy_write(p, src, dtypes[di], ndim, shapes[si] + 1, &e) == FFR_OK, "%s", e.msg);
            size_t n;
            unsigned char *raw = read_bytes(p, &n);
            CHECK(raw && n >= 10);
            if (raw) {
                size_t hl = raw[8] | raw[9] << 8;
                CHECKF((10 + hl) % 64 == 0 && raw[10 + hl - 1] == '\n', "header length %zu", hl);
                free(raw);
            }
            float *x;
            int nd;
            size_t sh[4];
            ffr_status st = ffr_npy_read(p, &x, &nd, sh, &e);
            CHECKF(st == FFR_OK, "%s", e.msg);
            if (st) continue;
            CHECK(nd == ndim);
            for (int d = 0; d < 4; d++) CHECK(sh[d] == (d < ndim ? shapes[si][1 + d] : 1));
            int bad = 0;
            for (size_t i = 0; i < count; i++) {
                float want = dtypes[di] == 'f' ? fv[i] : dtypes[di] == 'd' ? (float)dv[i]
                           : dtypes[di] == 'i' ? (float)iv[i] : (float)uv[i];
                if (memcmp(&x[i], &want, 4) != 0) bad++;
            }
            CHECKF(bad == 0, "dtype %c shape #%zu: %d mismatches", dtypes[di], si, bad);
            free(x);
        }
}

static void test_npy_headers(void) {
    ffr_err e;
    float *x;
    int nd;
    size_t sh[4];
    const char *p = tp("h.npy");
    /* big-endian float32 and float64 */
    unsigned char be4[8] = {0x3f, 0x80, 0, 0, 0xc0, 0x49, 0x0f, 0xdb}; /* 1.0, -3.1415927 */
    write_npy_raw(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", be4, 8);
    CHECKF(ffr_npy_read(p, &x, &nd, sh, &e) == FFR_OK, "%s", e.msg);
    if (nd == 1 && sh[0] == 2) { CHECK(x[0] == 1.0f); CHECK(x[1] == -3.14159274f); free(x); }
    unsigned char be8[8] = {0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a}; /* 0.1 */
    write_npy_raw(p, 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (), }\n", be8, 8);
    CHECKF(ffr_npy_read(p, &x, &nd, sh, &e) == FFR_OK, "%s", e.msg);
    if (!e.code || 1) { CHECK(nd == 0); CHECK(x && x[0] == (float)0.1); free(x); }
    /* key order, double quotes, spacing, Python 2 longs, version 2.0 and 3.0 */
    float v6[6] = {1, 2, 3, 4, 5, 6};
    const char *ok[] = {"{\"shape\":(2L,3L),\"fortran_order\":False,\"descr\":\"<f4\"}",
                        "{ 'fortran_order' : False , 'shape' : ( 2 , 3 ) , 'descr' : '<f4' , }   \n"};
    for (int i = 0; i < 2; i++)
        for (int major = 1; major <= 3; major++) {
            write_npy_raw(p, major, ok[i], v6, 24);
            e.code = FFR_OK;
            ffr_status st = ffr_npy_read(p, &x, &nd, sh, &e);
            CHECKF(st == FFR_OK && nd == 2 && sh[0] == 2 && sh[1] == 3, "v%d header %d: %s", major, i, e.msg);
            if (!st) { CHECK(x[5] == 6.0f); free(x); }
        }
    /* bad headers: each must fail and name the field */
    struct { const char *dict; size_t nbytes; const char *word; ffr_status code; } bad[] = {
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, "fortran_order", FFR_ERR_UNSUPPORTED},
        {"{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", 32, "'<c16'", FFR_ERR_UNSUPPORTED},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, "structured", FFR_ERR_UNSUPPORTED},
        {"{'descr': '<f4', 'shape': (2,), }", 8, "fortran_order", FFR_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'descr': '<f4'}", 8, "twice", FFR_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", 8, "extra", FFR_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': Flase, 'shape': (2,), }", 8, "fortran_order", FFR_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 2), }", 8, "4 dimensions", FFR_ERR_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, "non-negative", FFR_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 8, "overflow", FFR_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 8, "overflow", FFR_ERR_FORMAT},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }", 8, "overflow", FFR_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8, "end", FFR_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9, "trailing", FFR_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8, "truncated", FFR_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000), }", 8, "truncated", FFR_ERR_FORMAT},
        {"'descr': '<f4'", 8, "'{'", FFR_ERR_FORMAT},
    };
    unsigned char zeros[64] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_npy_raw(p, 1, bad[i].dict, zeros, bad[i].nbytes);
        x = (float *)1;
        ffr_status st = ffr_npy_read(p, &x, &nd, sh, &e);
        CHECKF(st == bad[i].code && has(&e, bad[i].word) && has(&e, "h.npy") && x == NULL,
               "case %zu: status %d, msg '%s', want '%s'", i, (int)st, st ? e.msg : "", bad[i].word);
    }
    /* wrong magic, unknown version, not there */
    write_bytes(p, "\x93NUMPX\x01\x00\x00\x00", 10);
    CHECK(ffr_npy_read(p, &x, &nd, sh, &e) == FFR_ERR_FORMAT && has(&e, "magic"));
    write_bytes(p, "\x93NUMPY\x04\x00\x00\x00", 10);
    CHECK(ffr_npy_read(p, &x, &nd, sh, &e) == FFR_ERR_UNSUPPORTED && has(&e, "version") && has(&e, "4.0"));
    CHECK(ffr_npy_read(tp("nonexistent.npy"), &x, &nd, sh, &e) == FFR_ERR_IO && has(&e, "nonexistent.npy"));
    /* write argument checks */
    size_t s1[1] = {2};
    CHECK(ffr_npy_write(p, v6, 'q', 1, s1, &e) == FFR_ERR_ARG && has(&e, "dtype"));
    CHECK(ffr_npy_write(p, v6, 'f', 5, s1, &e) == FFR_ERR_ARG && has(&e, "ndim"));
}

static void test_npy_truncated(void) {
    ffr_err e;
    float v[15];
    for (int i = 0; i < 15; i++) v[i] = (float)i * 0.25f - 1;
    size_t shape[2] = {3, 5}, n;
    const char *p = tp("full.npy"), *q = tp("cut.npy");
    CHECK(ffr_npy_write(p, v, 'f', 2, shape, &e) == FFR_OK);
    unsigned char *b = read_bytes(p, &n);
    CHECK(n == 128 + 60);
    int bad = 0;
    for (size_t cut = 0; cut < n; cut++) {
        write_bytes(q, b, cut);
        float *x = NULL;
        int nd;
        size_t sh[4];
        ffr_status st = ffr_npy_read(q, &x, &nd, sh, &e);
        if (st != FFR_ERR_FORMAT || !has(&e, "truncated") || x) {
            bad++;
            fprintf(stderr, "cut at %zu: status %d: %s\n", cut, (int)st, st ? e.msg : "ok");
        }
    }
    CHECKF(bad == 0, "%d of %zu truncations not reported as truncated", bad, n);
    free(b);
}

/* ------------------------------------------------------------------ idx */
static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static int gz_file(const char *path, const unsigned char *b, size_t n) {
    gzFile g = gzopen(path, "wb");
    if (!g) return -1;
    int w = gzwrite(g, b, (unsigned)n);
    return gzclose(g) == Z_OK && w == (int)n ? 0 : -1;
}

static void test_idx(void) {
    ffr_err e;
    enum { C = 7, R = 5, K = 3 };
    unsigned char pix[C * R * K], lab[C];
    uint64_t s = 99;
    for (int i = 0; i < C * R * K; i++) pix[i] = (unsigned char)(lcg(&s) >> 56);
    pix[0] = 0; pix[1] = 255;
    for (int i = 0; i < C; i++) lab[i] = (unsigned char)((lcg(&s) >> 40) % 10);
    for (int gz = 0; gz <= 1; gz++) {
        const char *pi = tp(gz ? "img.gz" : "img"), *pl = tp(gz ? "lab.gz" : "lab");
        CHECKF(ffr_idx_write_images(pi, pix, C, R, K, gz, &e) == FFR_OK, "%s", e.msg);
        CHECKF(ffr_idx_write_labels(pl, lab, C, gz, &e) == FFR_OK, "%s", e.msg);
        size_t n;
        unsigned char *raw = read_bytes(pi, &n);
        CHECK(raw && (gz ? raw[0] == 0x1f && raw[1] == 0x8b : n == 16 + C * R * K && raw[3] == 3));
        free(raw);
        float *x;
        size_t cnt, r, c;
        ffr_status st = ffr_idx_read_images(pi, &x, &cnt, &r, &c, &e);
        CHECKF(st == FFR_OK && cnt == C && r == R && c == K, "%s", e.msg);
        if (!st) {
            int bad = 0;
            for (int i = 0; i < C * R * K; i++) bad += x[i] != pix[i] / 255.0f;
            CHECK(bad == 0 && x[0] == 0.0f && x[1] == 1.0f);
            free(x);
        }
        unsigned char *y;
        st = ffr_idx_read_labels(pl, &y, &cnt, &e);
        CHECKF(st == FFR_OK && cnt == C, "%s", e.msg);
        if (!st) { CHECK(memcmp(y, lab, C) == 0); free(y); }
        /* wrong magic: labels read as images and vice versa */
        st = ffr_idx_read_images(pl, &x, &cnt, &r, &c, &e);
        CHECK(st == FFR_ERR_FORMAT && has(&e, "magic") && has(&e, "2049"));
        st = ffr_idx_read_labels(pi, &y, &cnt, &e);
        CHECK(st == FFR_ERR_FORMAT && has(&e, "magic") && has(&e, "2051"));
        /* data load: IDX by content */
        size_t dim;
        st = ffr_data_load(pi, &x, &cnt, &dim, &e);
        CHECKF(st == FFR_OK && cnt == C && dim == R * K, "%s", e.msg);
        if (!st) { CHECK(x[2] == pix[2] / 255.0f); free(x); }
        st = ffr_data_load(pl, &x, &cnt, &dim, &e);
        CHECK(st == FFR_ERR_FORMAT && has(&e, "labels"));
    }
    /* truncated at every byte (plain): always "truncated" */
    size_t n;
    unsigned char *full = read_bytes(tp("img"), &n);
    int bad = 0;
    for (size_t cut = 0; cut < n; cut++) {
        write_bytes(tp("cut"), full, cut);
        float *x = NULL;
        size_t cnt, r, c;
        ffr_status st = ffr_idx_read_images(tp("cut"), &x, &cnt, &r, &c, &e);
        if (st != FFR_ERR_FORMAT || !has(&e, "truncated") || x) {
            bad++;
            fprintf(stderr, "idx cut at %zu: %s\n", cut, st ? e.msg : "ok");
        }
        if (cut >= 16) {
            write_bytes(tp("cut"), full, cut);
            CHECK(ffr_idx_read_images(tp("cut"), &x, &cnt, &r, &c, &e) && has(&e, "expected 105 bytes of pixels"));
        }
    }
    CHECKF(bad == 0, "%d truncations missed", bad);
    /* truncated gzip streams: an error every time, never a crash */
    unsigned char *gzb = read_bytes(tp("img.gz"), &n);
    bad = 0;
    for (size_t cut = 2; cut < n; cut++) {
        write_bytes(tp("cut.gz"), gzb, cut);
        float *x = NULL;
        size_t cnt, r, c;
        if (ffr_idx_read_images(tp("cut.gz"), &x, &cnt, &r, &c, &e) == FFR_OK) { bad++; free(x); }
    }
    CHECKF(bad == 0, "%d gzip truncations accepted", bad);
    free(gzb);
    /* trailing bytes, plain and inside the gzip stream */
    unsigned char *more = malloc(n + 1);
    free(full);
    full = read_bytes(tp("img"), &n);
    memcpy(more, full, n);
    more[n] = 0;
    write_bytes(tp("trail"), more, n + 1);
    gz_file(tp("trail.gz"), more, n + 1);
    for (int gz = 0; gz <= 1; gz++) {
        float *x = NULL;
        size_t cnt, r, c;
        ffr_status st = ffr_idx_read_images(tp(gz ? "trail.gz" : "trail"), &x, &cnt, &r, &c, &e);
        CHECKF(st == FFR_ERR_FORMAT && has(&e, "trailing"), "gz=%d: %s", gz, st ? e.msg : "ok");
    }
    free(more);
    free(full);
    /* overflowing and absurd headers */
    unsigned char h[16];
    put_be32(h, 2051); put_be32(h + 4, 0xffffffffu); put_be32(h + 8, 0xffffffffu); put_be32(h + 12, 0xffffffffu);
    write_bytes(tp("ovf"), h, 16);
    float *x = NULL;
    size_t cnt, r, c;
    CHECK(ffr_idx_read_images(tp("ovf"), &x, &cnt, &r, &c, &e) == FFR_ERR_FORMAT && has(&e, "overflow"));
    put_be32(h + 4, 1000000000u); put_be32(h + 8, 28); put_be32(h + 12, 28);
    write_bytes(tp("huge"), h, 16);
    gz_file(tp("huge.gz"), h, 16);
    CHECK(ffr_idx_read_images(tp("huge"), &x, &cnt, &r, &c, &e) == FFR_ERR_FORMAT && has(&e, "truncated"));
    CHECK(ffr_idx_read_images(tp("huge.gz"), &x, &cnt, &r, &c, &e) == FFR_ERR_FORMAT && has(&e, "truncated"));
    put_be32(h + 4, 1); put_be32(h + 8, 0);
    write_bytes(tp("zero"), h, 16);
    CHECK(ffr_idx_read_images(tp("zero"), &x, &cnt, &r, &c, &e) == FFR_ERR_FORMAT && has(&e, "rows"));
    /* a label >= 10, named by index */
    unsigned char lb[8 + 6] = {0, 0, 8, 1, 0, 0, 0, 6, 1, 2, 3, 12, 4, 5};
    write_bytes(tp("badlab"), lb, sizeof lb);
    unsigned char *y = NULL;
    CHECK(ffr_idx_read_labels(tp("badlab"), &y, &cnt, &e) == FFR_ERR_FORMAT && has(&e, "label 3") &&
          has(&e, "12") && y == NULL);
    lb[11] = 9;
    write_bytes(tp("badlab"), lb, sizeof lb);
    CHECK(ffr_idx_read_labels(tp("badlab"), &y, &cnt, &e) == FFR_OK && cnt == 6 && y[3] == 9);
    free(y);
    lb[11] = 12;
    CHECK(ffr_idx_write_labels(tp("w"), lb + 8, 6, 0, &e) == FFR_ERR_ARG && has(&e, "label"));
    /* garbage: not idx, not npy */
    write_bytes(tp("junk.bin"), "hello world, not data", 21);
    size_t dim;
    CHECK(ffr_data_load(tp("junk.bin"), &x, &cnt, &dim, &e) == FFR_ERR_FORMAT && has(&e, "junk.bin"));
    CHECK(ffr_idx_read_images(tp("junk.bin"), &x, &cnt, &r, &c, &e) == FFR_ERR_FORMAT && has(&e, "magic"));
    CHECK(ffr_idx_read_images(tp("absent"), &x, &cnt, &r, &c, &e) == FFR_ERR_IO && has(&e, "absent"));
}

static void test_data_load_npy(void) {
    ffr_err e;
    float v[6] = {0.5f, 1, 2, 3, 4, 5};
    size_t s2[2] = {2, 3}, s1[1] = {6}, cnt, dim;
    float *x;
    CHECK(ffr_npy_write(tp("m.npy"), v, 'f', 2, s2, &e) == FFR_OK);
    CHECKF(ffr_data_load(tp("m.npy"), &x, &cnt, &dim, &e) == FFR_OK && cnt == 2 && dim == 3, "%s", e.msg);
    if (cnt == 2) { CHECK(x[0] == 0.5f && x[5] == 5); free(x); }
    CHECK(ffr_npy_write(tp("v.npy"), v, 'f', 1, s1, &e) == FFR_OK);
    CHECK(ffr_data_load(tp("v.npy"), &x, &cnt, &dim, &e) == FFR_ERR_FORMAT && has(&e, "2-D"));
    write_bytes(tp("bad.npy"), "not numpy at all", 16);
    CHECK(ffr_data_load(tp("bad.npy"), &x, &cnt, &dim, &e) == FFR_ERR_FORMAT && has(&e, "magic"));
    v[4] = NAN;
    CHECK(ffr_npy_write(tp("nan.npy"), v, 'f', 2, s2, &e) == FFR_OK);
    CHECK(ffr_data_load(tp("nan.npy"), &x, &cnt, &dim, &e) == FFR_ERR_FORMAT && has(&e, "(1, 1)"));
}

/* ---------------------------------------------------------------- model */
static ffr_net *make_net(int L, const int *n, ffr_rule rule, ffr_rho rho, int tied, uint64_t seed) {
    ffr_net *net;
    ffr_err e;
    if (ffr_net_create(&net, L, n, rule, rho, tied, &e)) { fprintf(stderr, "%s\n", e.msg); return NULL; }
    ffr_net_init_glorot(net, seed, 1.0f);
    ffr_rng r;
    ffr_rng_seed(&r, seed + 1);
    for (size_t i = 0; i < net->nparams; i++) /* every parameter distinct and nonzero */
        net->params[i] += (float)(ffr_rng_normal(&r) * 0.1);
    for (int k = 0; k <= L; k++) {
        net->alpha_up[k] = 0.5f + 0.25f * (float)k;
        net->alpha_down[k] = 2.0f - 0.1f * (float)k;
    }
    return net;
}

static int same_net(const ffr_net *a, const ffr_net *b) {
    if (a->L != b->L || a->rule != b->rule || a->rho != b->rho || a->tied != b->tied ||
        a->nparams != b->nparams)
        return 0;
    for (int k = 0; k <= a->L; k++)
        if (a->n[k] != b->n[k]) return 0;
    return memcmp(a->alpha_up, b->alpha_up, sizeof(float) * (size_t)(a->L + 1)) == 0 &&
           memcmp(a->alpha_down, b->alpha_down, sizeof(float) * (size_t)(a->L + 1)) == 0 &&
           memcmp(a->params, b->params, a->nparams * sizeof(float)) == 0;
}

static void fix_crc(unsigned char *b, size_t n) {
    uint32_t c = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(n - 4));
    for (int i = 0; i < 4; i++) b[n - 4 + i] = (unsigned char)(c >> (8 * i));
}

static void put_le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void test_model(void) {
    ffr_err e;
    int n3[] = {7, 5, 3, 2}, n1[] = {4, 3};
    for (int rule = 0; rule < 3; rule++)
        for (int tied = 0; tied <= 1; tied++) {
            if (rule == FFR_RULE_HOPFIELD && !tied) continue;
            for (int L = 1; L <= 3; L += 2) {
                ffr_net *a = make_net(L, L == 3 ? n3 : n1, (ffr_rule)rule, (ffr_rho)((rule + tied) % 3), tied,
                                      (uint64_t)(10 * rule + tied + L));
                CHECK(a != NULL);
                if (!a) continue;
                const char *p = tp("m.ffr");
                CHECKF(ffr_net_save(a, p, &e) == FFR_OK, "%s", e.msg);
                ffr_net *b = NULL;
                CHECKF(ffr_net_load(&b, p, &e) == FFR_OK, "%s", e.msg);
                CHECKF(b && same_net(a, b), "rule %d tied %d L %d: round trip differs", rule, tied, L);
                size_t fl;
                unsigned char *raw = read_bytes(p, &fl);
                CHECK(fl == 8 + 4 + 16 + 12 * (size_t)(L + 1) + 8 + 4 * a->nparams + 4);
                CHECK(memcmp(raw, "FFRLXMDL", 8) == 0 && raw[8] == 1 && raw[12] == L);
                free(raw);
                ffr_net_free(b);
                ffr_net_free(a);
            }
        }
    /* a reference file to corrupt */
    ffr_net *a = make_net(3, n3, FFR_RULE_DENDRITIC, FFR_RHO_SIGMOID, 0, 7);
    const char *p = tp("ref.ffr"), *q = tp("bad.ffr");
    CHECK(ffr_net_save(a, p, &e) == FFR_OK);
    size_t n;
    unsigned char *b = read_bytes(p, &n);
    /* one flipped byte anywhere: an error, never a crash */
    int missed = 0;
    for (size_t off = 0; off < n; off++) {
        for (int pat = 0; pat < 2; pat++) {
            unsigned char save = b[off];
            b[off] ^= pat ? 0xff : 0x01;
            write_bytes(q, b, n);
            b[off] = save;
            ffr_net *m = NULL;
            ffr_status st = ffr_net_load(&m, q, &e);
            if (st == FFR_OK || m) { missed++; ffr_net_free(m); }
        }
    }
    CHECKF(missed == 0, "%d corruptions accepted", missed);
    /* a flip in the parameters is reported as a crc mismatch */
    b[200] ^= 0x10;
    write_bytes(q, b, n);
    ffr_net *m = NULL;
    CHECK(ffr_net_load(&m, q, &e) == FFR_ERR_FORMAT && has(&e, "crc32"));
    b[200] ^= 0x10;
    /* truncated at every 7th byte */
    int bad = 0;
    for (size_t cut = 0; cut < n; cut += 7) {
        write_bytes(q, b, cut);
        ffr_status st = ffr_net_load(&m, q, &e);
        if (st != FFR_ERR_FORMAT || !has(&e, "truncated") || m) {
            bad++;
            fprintf(stderr, "model cut at %zu: %s\n", cut, st ? e.msg : "ok");
        }
    }
    CHECKF(bad == 0, "%d truncations not reported", bad);
    /* a trailing byte */
    unsigned char *c = malloc(n + 1);
    memcpy(c, b, n);
    c[n] = 0;
    write_bytes(q, c, n + 1);
    CHECK(ffr_net_load(&m, q, &e) == FFR_ERR_FORMAT && has(&e, "trailing"));
    /* a newer version */
    memcpy(c, b, n);
    put_le32(c + 8, 7);
    fix_crc(c, n);
    write_bytes(q, c, n);
    CHECK(ffr_net_load(&m, q, &e) == FFR_ERR_UNSUPPORTED && has(&e, "version: expected 1, found 7") &&
          has(&e, "newer"));
    /* well-formed crc but semantically wrong headers */
    struct { size_t off; uint32_t v; const char *word; } hdr[] = {
        {12, 0, "L:"}, {12, 16, "L:"}, {16, 3, "rule"}, {20, 9, "rho"}, {24, 2, "tied"},
        {16, FFR_RULE_HOPFIELD, "hopfield"}, {28, 0, "n[0]"}, {36, 6, "nparams"}, {28, (1u << 24) + 1, "n[0]"},
    };
    for (size_t i = 0; i < sizeof hdr / sizeof *hdr; i++) {
        memcpy(c, b, n);
        put_le32(c + hdr[i].off, hdr[i].v);
        fix_crc(c, n);
        write_bytes(q, c, n);
        ffr_status st = ffr_net_load(&m, q, &e);
        CHECKF(st != FFR_OK && has(&e, hdr[i].word) && !m, "case %zu: %s", i, st ? e.msg : "ok");
    }
    /* a NaN parameter and a zero gain with a valid crc */
    size_t hb = 8 + 4 + 16 + 12 * 4 + 8;
    memcpy(c, b, n);
    put_le32(c + hb + 4 * 10, 0x7fc00000u);
    fix_crc(c, n);
    write_bytes(q, c, n);
    CHECK(ffr_net_load(&m, q, &e) == FFR_ERR_FORMAT && has(&e, "finite") && has(&e, "W1[10]"));
    memcpy(c, b, n);
    put_le32(c + 28 + 16 + 4, 0); /* alpha_up[1] = 0 */
    fix_crc(c, n);
    write_bytes(q, c, n);
    CHECK(ffr_net_load(&m, q, &e) != FFR_OK && has(&e, "alpha_up"));
    memcpy(c, b, n);
    memcpy(c, "FFRLXMDX", 8);
    write_bytes(q, c, n);
    CHECK(ffr_net_load(&m, q, &e) == FFR_ERR_FORMAT && has(&e, "magic"));
    free(c);
    free(b);
    /* save refuses non-finite parameters and leaves the old file */
    a->params[3] = INFINITY;
    CHECK(ffr_net_save(a, p, &e) != FFR_OK);
    CHECK(ffr_net_load(&m, p, &e) == FFR_OK);
    ffr_net_free(m);
    ffr_net_free(a);
}

/* --------------------------------------------------------- npy interop */
static void test_npy_interop(void) {
    ffr_err e;
    int n3[] = {7, 5, 3, 2};
    char d[512];
    for (int tied = 0; tied <= 1; tied++) {
        snprintf(d, sizeof d, "%s/npy%d", tmpdir, tied);
        ffr_net *a = make_net(3, n3, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, 3);
        for (int k = 0; k <= 3; k++) a->alpha_up[k] = a->alpha_down[k] = 1; /* gains are not in npy */
        CHECKF(ffr_net_export_npy(a, d, &e) == FFR_OK, "%s", e.msg);
        char f[600];
        snprintf(f, sizeof f, "%s/V1.npy", d);
        CHECK(access(f, F_OK) == (tied ? -1 : 0));
        snprintf(f, sizeof f, "%s/c3.npy", d);
        CHECK(access(f, F_OK) == -1);
        ffr_net *b = NULL;
        CHECKF(ffr_net_import_npy(&b, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, &e) == FFR_OK, "%s", e.msg);
        CHECKF(b && same_net(a, b), "tied %d: npy round trip differs", tied);
        ffr_net_free(b);
        /* tying mismatches */
        ffr_status st = ffr_net_import_npy(&b, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, !tied, &e);
        CHECK(st != FFR_OK && has(&e, "V1.npy") && !b);
        /* missing b and c mean zero */
        snprintf(f, sizeof f, "%s/b2.npy", d);
        remove(f);
        snprintf(f, sizeof f, "%s/c0.npy", d);
        remove(f);
        CHECK(ffr_net_import_npy(&b, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, &e) == FFR_OK);
        if (b) {
            int zb = 1, zc = 1;
            for (int i = 0; i < 3; i++) zb &= b->b[2][i] == 0;
            for (int i = 0; i < 7; i++) zc &= b->c[0][i] == 0;
            CHECK(zb && zc && a->b[2][0] != 0 && a->c[0][0] != 0);
            CHECK(memcmp(a->W[3], b->W[3], 6 * sizeof(float)) == 0 && a->b[3][1] == b->b[3][1]);
            ffr_net_free(b);
        }
        ffr_net_free(a);
    }
    /* float64 files, a chain mismatch, a gap, a wrong b shape */
    snprintf(d, sizeof d, "%s/npyx", tmpdir);
    mkdir(d, 0777);
    double w1[5 * 7], w2[3 * 4];
    for (int i = 0; i < 35; i++) w1[i] = 0.1 * i;
    for (int i = 0; i < 12; i++) w2[i] = -0.1 * i;
    size_t s1[2] = {5, 7}, s2[2] = {3, 4}, s2ok[2] = {3, 5};
    char f[600];
    snprintf(f, sizeof f, "%s/W1.npy", d);
    ffr_npy_write(f, w1, 'd', 2, s1, &e);
    ffr_net *b = NULL;
    CHECKF(ffr_net_import_npy(&b, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_OK, "%s", e.msg);
    if (b) {
        CHECK(b->L == 1 && b->n[0] == 7 && b->n[1] == 5 && b->W[1][34] == (float)3.4000000000000004);
        ffr_net_free(b);
    }
    snprintf(f, sizeof f, "%s/W2.npy", d);
    ffr_npy_write(f, w2, 'd', 2, s2, &e);
    CHECK(ffr_net_import_npy(&b, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_ERR_FORMAT &&
          has(&e, "W2.npy") && has(&e, "(3, 4)") && has(&e, "(5, 7)") && !b);
    ffr_npy_write(f, w1, 'd', 2, s2ok, &e);
    snprintf(f, sizeof f, "%s/W4.npy", d);
    ffr_npy_write(f, w1, 'd', 2, s2ok, &e);
    CHECK(ffr_net_import_npy(&b, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_ERR_FORMAT &&
          has(&e, "W4.npy") && has(&e, "W3.npy"));
    remove(f);
    snprintf(f, sizeof f, "%s/b1.npy", d);
    size_t sb[1] = {4};
    ffr_npy_write(f, w1, 'd', 1, sb, &e);
    CHECK(ffr_net_import_npy(&b, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_ERR_FORMAT &&
          has(&e, "b1.npy") && has(&e, "(5,)") && has(&e, "(4,)"));
    remove(f);
    CHECK(ffr_net_import_npy(&b, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, &e) != FFR_OK &&
          has(&e, "V1.npy"));
    snprintf(f, sizeof f, "%s/empty", tmpdir);
    mkdir(f, 0777);
    CHECK(ffr_net_import_npy(&b, f, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) != FFR_OK && has(&e, "W1.npy"));
}

/* ---------------------------------------------------------------- mnist */
static unsigned char syn_pixel(int d, int i, int j) { return (unsigned char)((d * 31 + i * 7 + j * 3) % 256); }

static void write_json(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

static void test_mnist(void) {
    ffr_err e;
    char pkg[512], dig[600], f[700], out[512];
    snprintf(pkg, sizeof pkg, "%s/pkg", tmpdir);
    snprintf(dig, sizeof dig, "%s/src", pkg);
    mkdir(pkg, 0777);
    mkdir(dig, 0777);
    snprintf(dig, sizeof dig, "%s/src/digits", pkg);
    mkdir(dig, 0777);
    int cnt[10], total = 0;
    for (int d = 0; d < 10; d++) {
        cnt[d] = 3 + d; /* 75 digits: 68 train, 7 t10k */
        total += cnt[d];
        snprintf(f, sizeof f, "%s/%d.json", dig, d);
        FILE *fp = fopen(f, "w");
        fprintf(fp, "{ \"data\": [");
        for (int i = 0; i < cnt[d]; i++)
            for (int j = 0; j < 784; j++) {
                unsigned char p = syn_pixel(d, i, j);
                const char *sep = i || j ? "," : "";
                if (p == 0) fprintf(fp, "%s0", sep);
                else if (p == 255) fprintf(fp, "%s1", sep);
                else if (j % 97 == 5) fprintf(fp, "%s %.6e", sep, p / 255.0); /* exponent form */
                else fprintf(fp, "%s%.3f", sep, p / 255.0);
            }
        fprintf(fp, "] }\n");
        fclose(fp);
    }
    snprintf(out, sizeof out, "%s/mn/out", tmpdir); /* two levels: created */
    CHECKF(ffr_mnist_json_convert(pkg, out, &e) == FFR_OK, "%s", e.msg);
    /* the expected order, recomputed here */
    int pd[100], pi[100], t = 0;
    for (int d = 0; d < 10; d++)
        for (int i = 0; i < cnt[d]; i++) { pd[t] = d; pi[t] = i; t++; }
    ffr_rng r;
    ffr_rng_seed(&r, 20160629);
    for (int i = total - 1; i > 0; i--) {
        int j = (int)(ffr_rng_u64(&r) % (uint64_t)(i + 1));
        int a = pd[i]; pd[i] = pd[j]; pd[j] = a;
        a = pi[i]; pi[i] = pi[j]; pi[j] = a;
    }
    int seen[10][13];
    memset(seen, 0, sizeof seen);
    int pos = 0;
    for (int train = 1; train >= 0; train--) {
        float *x;
        unsigned char *y;
        size_t n;
        ffr_status st = ffr_mnist_load(out, train, &x, &y, &n, &e);
        CHECKF(st == FFR_OK && n == (size_t)(train ? 68 : 7), "%s", e.msg);
        if (st) continue;
        int badlab = 0, badpix = 0;
        for (size_t k = 0; k < n; k++, pos++) {
            if (y[k] != pd[pos]) badlab++;
            for (int j = 0; j < 784; j++)
                if (x[k * 784 + j] != syn_pixel(pd[pos], pi[pos], j) / 255.0f) badpix++;
            seen[pd[pos]][pi[pos]]++;
        }
        CHECKF(badlab == 0 && badpix == 0, "train=%d: %d labels, %d pixels differ", train, badlab, badpix);
        free(x);
        free(y);
    }
    {   /* the converted folder is a set (class 10): an uncompressed IDX file of another run beside
           it (which the loader would prefer to the .gz) or a replaced member is refused by name */
        float *x = NULL;
        unsigned char *y = NULL;
        size_t n;
        char a[800], b[800];
        snprintf(a, sizeof a, "%s/t10k-labels-idx1-ubyte.gz", out);
        snprintf(b, sizeof b, "%s/t10k-labels-idx1-ubyte", out);
        size_t len;
        unsigned char *gz = read_bytes(a, &len);
        CHECK(gz && write_bytes(b, gz, len) == 0);
        CHECK(ffr_mnist_load(out, 0, &x, &y, &n, &e) == FFR_ERR_FORMAT && has(&e, "t10k-labels-idx1-ubyte: not part of the set"));
        remove(b);
        gz[len - 1] ^= 1;
        CHECK(write_bytes(a, gz, len) == 0);
        CHECK(ffr_mnist_load(out, 1, &x, &y, &n, &e) == FFR_ERR_FORMAT && has(&e, "t10k-labels-idx1-ubyte.gz: not the file of run"));
        gz[len - 1] ^= 1;
        CHECK(write_bytes(a, gz, len) == 0);
        CHECK(ffr_mnist_load(out, 0, &x, &y, &n, &e) == FFR_OK);
        free(gz);
        free(x);
        free(y);
    }
    int once = 1;
    for (int d = 0; d < 10; d++)
        for (int i = 0; i < cnt[d]; i++) once &= seen[d][i] == 1;
    CHECK(pos == total && once);
    /* the split is interleaved: t10k is not a single class */
    CHECK(pd[total - 1] != pd[total - 2] || pd[total - 2] != pd[total - 3]);
    /* malformed JSON: file and byte offset in the message */
    struct { const char *text; const char *word; } bad[] = {
        {"{\"data\": [0.1, 0.2,]}", "byte 19"},
        {"{\"dat\": []}", "\"data\""},
        {"[1, 2]", "byte 0"},
        {"{\"data\": [0], \"x\": 1}", "only the key"},
        {"{\"data\": [01]}", "byte 11"},
        {"{\"data\": [.5]}", "a number"},
        {"{\"data\": [1e]}", "exponent"},
        {"{\"data\": [NaN]}", "a number"},
        {"{\"data\": [1, 2]", "end of the file"},
        {"{\"data\": [0]} x", "byte 14"},
        {"{\"data\": [0, 1, 0.5]}", "multiple of 784"},
        {"{\"data\": \"0\"}", "'['"},
        {"", "byte 0"},
    };
    snprintf(f, sizeof f, "%s/4.json", dig);
    size_t keep_n;
    unsigned char *keep = read_bytes(f, &keep_n);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_json(f, bad[i].text);
        ffr_status st = ffr_mnist_json_convert(pkg, tp("mnbad"), &e);
        CHECKF(st == FFR_ERR_FORMAT && has(&e, "4.json") && has(&e, bad[i].word), "case %zu: %s", i,
               st ? e.msg : "ok");
    }
    remove(f);
    CHECK(ffr_mnist_json_convert(pkg, tp("mnbad"), &e) == FFR_ERR_IO && has(&e, "4.json"));
    write_bytes(f, keep, keep_n);
    free(keep);
    /* mnist_load: plain names work; a count mismatch is reported */
    char plain[600];
    snprintf(plain, sizeof plain, "%s/plain", tmpdir);
    mkdir(plain, 0777);
    unsigned char px[3 * 784] = {0}, lb[4] = {1, 2, 3, 4};
    snprintf(f, sizeof f, "%s/t10k-images-idx3-ubyte", plain);
    ffr_idx_write_images(f, px, 3, 28, 28, 0, &e);
    snprintf(f, sizeof f, "%s/t10k-labels-idx1-ubyte", plain);
    ffr_idx_write_labels(f, lb, 4, 0, &e);
    float *x;
    unsigned char *y;
    size_t n;
    CHECK(ffr_mnist_load(plain, 0, &x, &y, &n, &e) == FFR_ERR_FORMAT && has(&e, "count"));
    ffr_idx_write_labels(f, lb, 3, 0, &e);
    CHECK(ffr_mnist_load(plain, 0, &x, &y, &n, &e) == FFR_OK && n == 3 && y[2] == 3);
    if (n == 3) { free(x); free(y); }
    CHECK(ffr_mnist_load(plain, 1, &x, &y, &n, &e) == FFR_ERR_IO && has(&e, "train-images"));
}

/* ---- output files (ffr_out) and the checks before work: the rules of
 * doc/reliability.md "Output targets", crc32, folder locks, data peek. */
static void test_files(void) {
    ffr_err e;
    /* crc32: the standard check value, chaining, and zlib's result on 100 KB */
    CHECK(ffr_crc32(0, "123456789", 9) == 0xCBF43926u);
    CHECK(ffr_crc32(ffr_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
    unsigned char *rb = malloc(100000);
    for (int i = 0; i < 100000; i++) rb[i] = (unsigned char)(i * 2654435761u >> 13);
    CHECK(ffr_crc32(0, rb, 100000) == (uint32_t)crc32(crc32(0L, Z_NULL, 0), rb, 100000));
    free(rb);
    /* write, printf, commit; abort leaves nothing */
    ffr_out *o;
    CHECKF(ffr_out_open(&o, tp("a.csv"), &e) == FFR_OK, "%s", e.msg);
    CHECK(ffr_out_printf(o, &e, "x,%d\n", 7) == FFR_OK && ffr_out_write(o, "y\n", 2, &e) == FFR_OK);
    CHECK(!strcmp(ffr_out_path(o), tp("a.csv")));
    CHECKF(ffr_out_commit(o, &e) == FFR_OK, "%s", e.msg);
    size_t n;
    unsigned char *b = read_bytes(tp("a.csv"), &n);
    CHECK(b && n == 6 && !memcmp(b, "x,7\ny\n", 6));
    free(b);
    CHECK(ffr_out_open(&o, tp("gone.csv"), &e) == FFR_OK);
    ffr_out_printf(o, NULL, "z");
    ffr_out_abort(o);
    struct stat sb;
    CHECK(stat(tp("gone.csv"), &sb) != 0);
    /* a symlink is followed: the target replaced, the link kept; the mode kept */
    write_bytes(tp("target"), "old", 3);
    chmod(tp("target"), 0640);
    CHECK(symlink("target", tp("link")) == 0);
    CHECK(ffr_out_open(&o, tp("link"), &e) == FFR_OK && ffr_out_printf(o, &e, "new") == FFR_OK &&
          ffr_out_commit(o, &e) == FFR_OK);
    CHECK(lstat(tp("link"), &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(stat(tp("target"), &sb) == 0 && (sb.st_mode & 07777) == 0640 && sb.st_size == 3);
    b = read_bytes(tp("target"), &n);
    CHECK(b && n == 3 && !memcmp(b, "new", 3));
    free(b);
    /* character devices are written through: /dev/null stays a device */
    CHECK(ffr_out_open(&o, "/dev/null", &e) == FFR_OK && ffr_out_printf(o, &e, "nothing") == FFR_OK &&
          ffr_out_commit(o, &e) == FFR_OK);
    CHECK(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode));
    /* temporaries: a dead writer's (old, unlocked) removed, a fresh one kept;
     * our own PATH.tmp.PID taken: another name, the other file untouched */
    char old1[600], fresh[600], mine[600];
    snprintf(old1, sizeof old1, "%s.tmp.999999", tp("t.model"));
    snprintf(fresh, sizeof fresh, "%s.tmp.888888", tp("t.model"));
    snprintf(mine, sizeof mine, "%s.tmp.%ld", tp("t.model"), (long)getpid());
    write_bytes(old1, "x", 1);
    write_bytes(fresh, "x", 1);
    write_bytes(mine, "mine", 4);
    struct timespec ts[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    CHECK(utimensat(AT_FDCWD, old1, ts, 0) == 0);
    CHECK(ffr_out_open(&o, tp("t.model"), &e) == FFR_OK && ffr_out_printf(o, &e, "t") == FFR_OK &&
          ffr_out_commit(o, &e) == FFR_OK);
    CHECK(stat(old1, &sb) != 0 && stat(fresh, &sb) == 0);
    b = read_bytes(mine, &n);
    CHECK(b && n == 4 && !memcmp(b, "mine", 4));
    free(b);
    b = read_bytes(tp("t.model"), &n);
    CHECK(b && n == 1 && b[0] == 't');
    free(b);
    /* same file: through a link yes, two files no, a missing file no, /dev/null never */
    CHECK(ffr_file_same(tp("link"), tp("target")) == 1);
    CHECK(ffr_file_same(tp("a.csv"), tp("target")) == 0);
    CHECK(ffr_file_same(tp("missing"), tp("missing")) == 0);
    CHECK(ffr_file_same("/dev/null", "/dev/null") == 0);
    /* the probe writes nothing that stays */
    CHECK(ffr_out_check(tp("new.model"), &e) == FFR_OK && stat(tp("new.model"), &sb) != 0);
    /* folder lock: exclusive while held, free after */
    int l1, l2;
    CHECK(ffr_dir_lock(tmpdir, &l1, &e) == FFR_OK);
    CHECK(ffr_dir_lock(tmpdir, &l2, &e) == FFR_ERR_IO && l2 == -1);
    ffr_dir_unlock(l1);
    CHECK(ffr_dir_lock(tmpdir, &l2, &e) == FFR_OK);
    ffr_dir_unlock(l2);
    /* uint8 .npy data is scaled to [0, 1] like IDX; peek gives load's shape */
    unsigned char u8[6] = {0, 1, 127, 128, 254, 255};
    size_t sh[2] = {2, 3}, cnt, dim, pc, pd;
    CHECK(ffr_npy_write(tp("u8.npy"), u8, 'u', 2, sh, &e) == FFR_OK);
    float *x = NULL;
    CHECKF(ffr_data_load(tp("u8.npy"), &x, &cnt, &dim, &e) == FFR_OK, "%s", e.msg);
    CHECK(ffr_data_peek(tp("u8.npy"), &pc, &pd, &e) == FFR_OK && pc == 2 && pd == 3);
    for (int i = 0; x && i < 6; i++) CHECKF(x[i] == u8[i] / 255.0f, "u8[%d] -> %g", i, x[i]);
    free(x);
    float f6[6] = {0, 1, 127, 128, 254, 255};
    CHECK(ffr_npy_write(tp("f6.npy"), f6, 'f', 2, sh, &e) == FFR_OK);
    CHECK(ffr_data_load(tp("f6.npy"), &x, &cnt, &dim, &e) == FFR_OK && x && x[5] == 255.0f); /* floats as they are */
    free(x);
    /* export: the stale members of a deeper model are removed */
    ffr_net *net, *back = NULL;
    int n3[4] = {4, 3, 3, 2}, n2[3] = {4, 3, 2};
    CHECK(ffr_net_create(&net, 3, n3, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, &e) == FFR_OK);
    CHECK(ffr_net_export_npy(net, tp("set"), &e) == FFR_OK);
    ffr_net_free(net);
    CHECK(ffr_net_create(&net, 2, n2, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_OK);
    ffr_net_init_glorot(net, 3, 1.f);
    CHECK(ffr_net_export_npy(net, tp("set"), &e) == FFR_OK);
    CHECK(stat(tp("set/W3.npy"), &sb) != 0 && stat(tp("set/c2.npy"), &sb) != 0 && stat(tp("set/V1.npy"), &sb) != 0);
    CHECKF(ffr_net_import_npy(&back, tp("set"), FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_OK, "%s", e.msg);
    CHECK(back && back->L == 2 && !memcmp(back->params, net->params, net->nparams * sizeof(float)));
    ffr_net_free(back);
    ffr_net_free(net);
}

static void rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* ------------------------------------------------------- sets of .npy files */
/* issue 14, class 10: the manifest (src/fileset.c) keeps readers from mixing runs */
static void test_sets(void) {
    ffr_err e;
    int n3[] = {7, 5, 3, 2};
    char d[512], f[600];
    snprintf(d, sizeof d, "%s/set", tmpdir);
    ffr_net *a = make_net(3, n3, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 3);
    ffr_net *b = make_net(3, n3, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 4);
    for (int k = 0; k <= 3; k++) a->alpha_up[k] = a->alpha_down[k] = b->alpha_up[k] = b->alpha_down[k] = 1;
    CHECKF(ffr_net_export_npy(a, d, &e) == FFR_OK, "%s", e.msg);
    int lk = -1;
    CHECKF(ffr_set_verify(d, "model", &lk, &e) == FFR_OK && lk >= 0, "%s", e.msg);
    /* a reader holds the folder shared: a writer is refused, a second reader is not */
    int lk2 = -1;
    CHECK(ffr_set_verify(d, "model", &lk2, &e) == FFR_OK);
    ffr_dir_unlock(lk2);
    CHECK(ffr_net_export_npy(b, d, &e) == FFR_ERR_IO && has(&e, "another process is reading this folder"));
    ffr_dir_unlock(lk);
    /* the manifest: complete, 9 members (W, b for 3 layers, c0..c2) */
    snprintf(f, sizeof f, "%s/model-set.manifest", d);
    size_t n;
    char *m = NULL;
    CHECK(ffr_read_file(f, 4096, &m, &n, &e) == FFR_OK); /* NUL-terminated */
    CHECK(m && strstr(m, "status complete\n") && strstr(m, "member W3.npy ") && !strstr(m, "member c3.npy"));
    free(m);
    /* another run's member of the same size: refused by its crc32, the file named */
    char d2[512];
    snprintf(d2, sizeof d2, "%s/set2", tmpdir);
    CHECK(ffr_net_export_npy(b, d2, &e) == FFR_OK);
    snprintf(f, sizeof f, "%s/W2.npy", d2);
    unsigned char *w2 = read_bytes(f, &n);
    snprintf(f, sizeof f, "%s/W2.npy", d);
    CHECK(w2 && write_bytes(f, w2, n) == 0);
    free(w2);
    ffr_net *c = NULL;
    CHECK(ffr_net_import_npy(&c, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_ERR_FORMAT && !c &&
          has(&e, "/W2.npy: not the file of run ") && has(&e, "crc32: expected"));
    /* a different size */
    CHECK(write_bytes(f, "x", 1) == 0);
    CHECK(ffr_net_import_npy(&c, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_ERR_FORMAT &&
          has(&e, "size: expected") && has(&e, "found 1:"));
    /* a new export repairs it, and removes a deeper model's members */
    ffr_net *deep = make_net(3, n3, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 5);
    CHECK(ffr_net_export_npy(deep, d, &e) == FFR_OK);
    int n2[] = {7, 5};
    ffr_net *one = make_net(1, n2, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 6);
    one->alpha_up[0] = one->alpha_up[1] = one->alpha_down[0] = one->alpha_down[1] = 1;
    CHECKF(ffr_net_export_npy(one, d, &e) == FFR_OK, "%s", e.msg);
    snprintf(f, sizeof f, "%s/V1.npy", d);
    CHECK(access(f, F_OK) != 0);
    snprintf(f, sizeof f, "%s/W2.npy", d);
    CHECK(access(f, F_OK) != 0);
    CHECKF(ffr_net_import_npy(&c, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_OK && c && c->L == 1,
           "%s", e.msg);
    ffr_net_free(c);
    c = NULL;
    /* a member the manifest does not list */
    snprintf(f, sizeof f, "%s/b2.npy", d2);
    unsigned char *b2 = read_bytes(f, &n);
    snprintf(f, sizeof f, "%s/c1.npy", d);
    CHECK(b2 && write_bytes(f, b2, n) == 0);
    free(b2);
    CHECK(ffr_set_verify(d, "model", &lk, &e) == FFR_ERR_FORMAT && lk == -1 && has(&e, "/c1.npy: not part of the set"));
    /* a member removed by hand: the rest is one run's, accepted (absent b, c read as 0) */
    remove(f);
    snprintf(f, sizeof f, "%s/b1.npy", d);
    remove(f);
    CHECK(ffr_net_import_npy(&c, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_OK && c);
    ffr_net_free(c);
    c = NULL;
    /* a writer that stops after one member (killed, or a failure): incomplete */
    ffr_set *set;
    float v[5] = {1, 2, 3, 4, 5};
    size_t sh[1] = {5};
    CHECKF(ffr_set_begin(&set, d, "model", &e) == FFR_OK, "%s", e.msg);
    CHECK(ffr_set_verify(d, "model", &lk, &e) == FFR_ERR_IO && has(&e, "another process is writing this set"));
    CHECK(ffr_set_npy(set, "state0.npy", v, 'f', 1, sh, &e) == FFR_ERR_ARG); /* not a member name */
    CHECK(ffr_set_npy(set, "b1.npy", v, 'f', 1, sh, &e) == FFR_OK);
    CHECK(ffr_set_npy(set, "b1.npy", v, 'f', 1, sh, &e) == FFR_ERR_ARG); /* twice */
    ffr_set_abort(set);
    CHECK(ffr_net_import_npy(&c, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_ERR_FORMAT &&
          has(&e, "incomplete set") && has(&e, "status writing"));
    /* a set begun and abandoned before any member leaves the old set as it was */
    CHECK(ffr_net_export_npy(one, d, &e) == FFR_OK);
    CHECK(ffr_set_begin(&set, d, "model", &e) == FFR_OK);
    ffr_set_abort(set);
    CHECK(ffr_set_verify(d, "model", &lk, &e) == FFR_OK);
    ffr_dir_unlock(lk);
    /* no manifest: the user's set (numpy's), read as it is; a relax set beside it is another kind */
    snprintf(f, sizeof f, "%s/model-set.manifest", d);
    CHECK(remove(f) == 0);
    CHECK(ffr_set_begin(&set, d, "relax", &e) == FFR_OK && ffr_set_npy(set, "step.npy", v, 'f', 1, sh, &e) == FFR_OK &&
          ffr_set_commit(set, &e) == FFR_OK);
    CHECKF(ffr_net_import_npy(&c, d, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e) == FFR_OK && c, "%s", e.msg);
    ffr_net_free(c);
    CHECK(ffr_set_verify(d, "relax", &lk, &e) == FFR_OK);
    ffr_dir_unlock(lk);
    /* damaged manifests: each line checked */
    const char *bad[] = {"ffrelax set manifest 2\n", "ffrelax set manifest 1\nkind model\n",
                         "ffrelax set manifest 1\nkind relax\nrun 00000000000000ab\nstatus done\nend\n",
                         "ffrelax set manifest 1\nkind relax\nrun 00000000000000ab\nstatus complete\nmember ../x.npy 1 0\nend\n",
                         "ffrelax set manifest 1\nkind relax\nrun 00000000000000ab\nstatus complete\nend\nmore\n"};
    snprintf(f, sizeof f, "%s/relax-set.manifest", d);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_bytes(f, bad[i], strlen(bad[i]));
        CHECKF(ffr_set_verify(d, "relax", &lk, &e) == FFR_ERR_FORMAT && has(&e, "a damaged manifest"), "%zu: %s", i, e.msg);
    }
    ffr_net_free(a);
    ffr_net_free(b);
    ffr_net_free(deep);
    ffr_net_free(one);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ffr_test_io_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_npy_roundtrip();
    test_npy_headers();
    test_npy_truncated();
    test_idx();
    test_data_load_npy();
    test_model();
    test_npy_interop();
    test_mnist();
    test_files();
    test_sets();
    if (!mt_fail) rm_rf(tmpdir);
    else fprintf(stderr, "files kept in %s\n", tmpdir);
    MT_DONE("test_io");
}
