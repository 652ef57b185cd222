/* test_badinput.c - the library rows of the bad-input table (doc/reliability.md).
 *
 * Every row makes one bad input (a file in a private temporary directory, or
 * a bad argument), calls the library, and checks the status code and the
 * exact message. The test runs inside the temporary directory so messages
 * carry short relative names ("bad.model"). In an expected message, {pid}
 * stands for the process id and {*} for any text (used only where the text
 * comes from code this test does not own, e.g. the engine's diagnosis).
 * Inputs that once crashed a fuzz target (fuzz/regress/) are checked too.
 *
 * `test_badinput --markdown` prints the table rows for doc/reliability.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "ffrelax.h"
#include "minitest.h"

static int markdown = 0;
static int nrows = 0;

/* '{*}' matches any text, '{pid}' the process id, everything else literally. */
static int match(const char *pat, const char *s) {
    if (!strncmp(pat, "{*}", 3)) {
        for (const char *t = s;; t++) {
            if (match(pat + 3, t)) return 1;
            if (!*t) return 0;
        }
    }
    if (!strncmp(pat, "{pid}", 5)) {
        char pid[32];
        int l = snprintf(pid, sizeof pid, "%ld", (long)getpid());
        return !strncmp(s, pid, (size_t)l) && match(pat + 5, s + l);
    }
    if (!*pat) return !*s;
    return *pat == *s && match(pat + 1, s + 1);
}

static const char *code_name(ffr_status s) {
    static const char *n[] = {"OK", "ARG", "IO", "FORMAT", "NOMEM", "DIVERGED", "UNSUPPORTED"};
    return (unsigned)s <= FFR_ERR_UNSUPPORTED ? n[s] : "?";
}

/* One row: the call returned st with message e; expected code want and message pat. */
static void row(const char *area, const char *what, ffr_status st, const ffr_err *e, ffr_status want,
                const char *pat) {
    nrows++;
    if (markdown) { /* '|' would end a table cell */
        printf("| L%d | %s | ", nrows, area);
        for (const char *c = what; *c; c++) printf(*c == '|' ? "\\|" : "%c", *c);
        printf(" | `%s` | `", code_name(want));
        for (const char *c = pat; *c; c++) printf(*c == '|' ? "\\|" : "%c", *c);
        printf("` |\n");
        return;
    }
    CHECKF(st == want && match(pat, e->msg), "row L%d (%s: %s): got %s \"%s\", expected %s \"%s\"", nrows, area,
           what, code_name(st), st ? e->msg : "", code_name(want), pat);
}

static void put(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(100);
    }
}
static void puts_file(const char *path, const char *s) { put(path, s, strlen(s)); }

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot read %s\n", path); exit(100); }
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)l + 1);
    *n = fread(b, 1, (size_t)l, f);
    fclose(f);
    return b;
}

static void le32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void le64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void be32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (24 - 8 * i)); }
static void lef(unsigned char *p, float f) { uint32_t v; memcpy(&v, &f, 4); le32(p, v); }
static void fix_crc(unsigned char *b, size_t n) { le32(b + n - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(n - 4))); }

static void gz_put(const char *path, const unsigned char *b, size_t n) {
    gzFile g = gzopen(path, "wb6");
    gzwrite(g, b, (unsigned)n);
    gzclose(g);
}

/* ---------------------------------------------------------------- model */
/* good.model: L = 2, n = 3-2-2, untied dendritic: 72 header bytes, 29
 * parameters (116 bytes), crc32: 192 bytes. */
static void model_rows(void) {
    ffr_err e;
    ffr_net *net, *m = NULL;
    int n[3] = {3, 2, 2};
    ffr_net_create(&net, 2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, &e);
    ffr_net_init_glorot(net, 1, 1.f);
    if (ffr_net_save(net, "good.model", &e)) { fprintf(stderr, "%s\n", e.msg); exit(100); }
    size_t len;
    unsigned char *g = slurp("good.model", &len), b[512];
    CHECK(len == 192);
    ffr_status st;
#define LOAD(name) (st = ffr_net_load(&m, name, &e), ffr_net_free(m), m = NULL, st)

    row("model", "missing file", LOAD("missing.model"), &e, FFR_ERR_IO,
        "missing.model: cannot open: No such file or directory");
    mkdir("adir.model", 0777);
    row("model", "a directory", LOAD("adir.model"), &e, FFR_ERR_IO, "adir.model: not a readable regular file: found a directory");
    static const struct { size_t at; const char *pat; } cut[] = {
        {0, "bad.model: truncated in magic: expected at least 12 bytes (magic and version), found 0"},
        {5, "bad.model: truncated in magic: expected at least 12 bytes (magic and version), found 5"},
        {10, "bad.model: truncated in version: expected at least 12 bytes (magic and version), found 10"},
        {14, "bad.model: truncated in L: expected at least 28 bytes of header, found 14"},
        {17, "bad.model: truncated in rule: expected at least 28 bytes of header, found 17"},
        {21, "bad.model: truncated in rho: expected at least 28 bytes of header, found 21"},
        {25, "bad.model: truncated in tied: expected at least 28 bytes of header, found 25"},
        {33, "bad.model: truncated in n[1]: expected 72 bytes of header for L = 2, found 33"},
        {44, "bad.model: truncated in alpha_up[1]: expected 72 bytes of header for L = 2, found 44"},
        {62, "bad.model: truncated in alpha_down[2]: expected 72 bytes of header for L = 2, found 62"},
        {70, "bad.model: truncated in nparams: expected 72 bytes of header for L = 2, found 70"},
        {72, "bad.model: truncated in params (parameter 0 of 29): expected 192 bytes (72 of header, 29 parameters, 4 of crc32), found 72"},
        {130, "bad.model: truncated in params (parameter 14 of 29): expected 192 bytes (72 of header, 29 parameters, 4 of crc32), found 130"},
        {189, "bad.model: truncated in crc32: expected 192 bytes (72 of header, 29 parameters, 4 of crc32), found 189"},
    };
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", cut[i].at);
        put("bad.model", g, cut[i].at);
        row("model", what, LOAD("bad.model"), &e, FFR_ERR_FORMAT, cut[i].pat);
    }
    memcpy(b, g, len);
    b[len] = 0;
    put("bad.model", b, len + 1);
    row("model", "one trailing byte", LOAD("bad.model"), &e, FFR_ERR_FORMAT,
        "bad.model: trailing bytes: expected 192 bytes, found 193");
    memcpy(b, g, len); memcpy(b, "FFRLXMDX", 8); put("bad.model", b, len);
    row("model", "wrong magic", LOAD("bad.model"), &e, FFR_ERR_FORMAT,
        "bad.model: magic: expected \"FFRLXMDL\", found \"FFRLXMDX\": not an ffrelax model");
    memcpy(b, g, len); le32(b + 8, 2); put("bad.model", b, len);
    row("model", "version 2 (newer)", LOAD("bad.model"), &e, FFR_ERR_UNSUPPORTED,
        "bad.model: version: expected 1, found 2; this file was written by a newer ffrelax");
    memcpy(b, g, len); le32(b + 8, 0); put("bad.model", b, len);
    row("model", "version 0", LOAD("bad.model"), &e, FFR_ERR_UNSUPPORTED, "bad.model: version: expected 1, found 0");
    memcpy(b, g, len); le32(b + 12, 0); put("bad.model", b, len);
    row("model", "L = 0", LOAD("bad.model"), &e, FFR_ERR_FORMAT, "bad.model: L: expected 1..15, found 0");
    memcpy(b, g, len); le32(b + 12, 0xffffffffu); put("bad.model", b, len);
    row("model", "L = 2^32-1", LOAD("bad.model"), &e, FFR_ERR_FORMAT, "bad.model: L: expected 1..15, found 4294967295");
    memcpy(b, g, len); le32(b + 32, 0); put("bad.model", b, len);
    row("model", "n[1] = 0", LOAD("bad.model"), &e, FFR_ERR_FORMAT, "bad.model: n[1]: expected 1..16777216, found 0");
    memcpy(b, g, len); le32(b + 36, (1u << 24) + 1); put("bad.model", b, len);
    row("model", "n[2] = 2^24+1", LOAD("bad.model"), &e, FFR_ERR_FORMAT,
        "bad.model: n[2]: expected 1..16777216, found 16777217");
    memcpy(b, g, len); le32(b + 24, 2); put("bad.model", b, len);
    row("model", "tied = 2", LOAD("bad.model"), &e, FFR_ERR_FORMAT, "bad.model: tied: expected 0 or 1, found 2");
    memcpy(b, g, len); le64(b + 64, 30); put("bad.model", b, len);
    row("model", "nparams does not match the sizes", LOAD("bad.model"), &e, FFR_ERR_FORMAT,
        "bad.model: nparams: expected 29 for these sizes (untied), found 30");
    {   /* L = 15, every n = 2^24: 2^53-scale parameter counts, far past the file */
        unsigned char h[28 + 12 * 16 + 8 + 4];
        memset(h, 0, sizeof h);
        memcpy(h, "FFRLXMDL", 8);
        le32(h + 8, 1); le32(h + 12, 15);
        for (int k = 0; k < 16; k++) { le32(h + 28 + 4 * k, 1u << 24); lef(h + 92 + 4 * k, 1); lef(h + 156 + 4 * k, 1); }
        uint64_t np = 15 * (2 * (1ull << 48) + (1ull << 24)) + 15 * (1ull << 24);
        le64(h + 220, np);
        put("huge.model", h, sizeof h);
        row("model", "sizes 2^24 x 16 layers (size products near 2^53)", LOAD("huge.model"), &e, FFR_ERR_FORMAT,
            "huge.model: truncated in params (parameter 1 of 8444249804636160): expected 33776999218544872 bytes "
            "(228 of header, 8444249804636160 parameters, 4 of crc32), found 232");
    }
    memcpy(b, g, len); b[100] ^= 1; put("bad.model", b, len);
    row("model", "one flipped parameter bit", LOAD("bad.model"), &e, FFR_ERR_FORMAT,
        "bad.model: crc32: expected {*} (computed), found {*}: the file is corrupt");
    memcpy(b, g, len); le32(b + 16, 3); fix_crc(b, len); put("bad.model", b, len);
    row("model", "rule = 3 (valid crc)", LOAD("bad.model"), &e, FFR_ERR_FORMAT, "bad.model: rule: expected 0..2, found 3");
    memcpy(b, g, len); le32(b + 20, 7); fix_crc(b, len); put("bad.model", b, len);
    row("model", "rho = 7 (valid crc)", LOAD("bad.model"), &e, FFR_ERR_FORMAT, "bad.model: rho: expected 0..2, found 7");
    memcpy(b, g, len); le32(b + 16, 1); fix_crc(b, len); put("bad.model", b, len);
    row("model", "hopfield untied (valid crc)", LOAD("bad.model"), &e, FFR_ERR_FORMAT,
        "bad.model: tied: expected 1 for rule hopfield, found 0");
    memcpy(b, g, len); lef(b + 72, NAN); fix_crc(b, len); put("bad.model", b, len);
    row("model", "NaN weight W1[0] (valid crc)", LOAD("bad.model"), &e, FFR_ERR_FORMAT,
        "bad.model: parameter W1[0]: expected a finite value, found nan");
    memcpy(b, g, len); lef(b + 72 + 4 * 6, INFINITY); fix_crc(b, len); put("bad.model", b, len);
    row("model", "+Inf offset b1[0] (valid crc)", LOAD("bad.model"), &e, FFR_ERR_FORMAT,
        "bad.model: parameter b1[0]: expected a finite value, found inf");
    memcpy(b, g, len); lef(b + 72 + 4 * 24, -INFINITY); fix_crc(b, len); put("bad.model", b, len);
    row("model", "-Inf offset c0[0] (valid crc)", LOAD("bad.model"), &e, FFR_ERR_FORMAT,
        "bad.model: parameter c0[0]: expected a finite value, found -inf");
    memcpy(b, g, len); lef(b + 44, 0); fix_crc(b, len); put("bad.model", b, len);
    row("model", "gain alpha_up[1] = 0 (valid crc)", LOAD("bad.model"), &e, FFR_ERR_ARG,
        "bad.model: alpha_up of layer 1: expected a finite gain > 0, found 0");
    memcpy(b, g, len); lef(b + 52, NAN); fix_crc(b, len); put("bad.model", b, len);
    row("model", "gain alpha_down[0] = NaN (valid crc)", LOAD("bad.model"), &e, FFR_ERR_ARG,
        "bad.model: alpha_down of layer 0: expected a finite gain > 0, found nan");

    /* writing */
    row("model save", "into a missing directory", ffr_net_save(net, "nodir/x.model", &e), &e, FFR_ERR_IO,
        "nodir/x.model: cannot create temporary file nodir/x.model.tmp.{pid}: No such file or directory");
    put("afile", "x", 1);
    row("model save", "below a regular file", ffr_net_save(net, "afile/x.model", &e), &e, FFR_ERR_IO,
        "afile/x.model: cannot create temporary file afile/x.model.tmp.{pid}: Not a directory");
    row("model save", "over a directory", ffr_net_save(net, "adir.model", &e), &e, FFR_ERR_IO,
        "adir.model: is a directory: expected a regular file to replace (or a new path)");
    row("model save", "empty path", ffr_net_save(net, "", &e), &e, FFR_ERR_ARG, "output path is empty");
    net->W[1][0] = NAN;
    row("model save", "a network with a NaN weight", ffr_net_save(net, "nan.model", &e), &e, FFR_ERR_FORMAT,
        "nan.model: not saved: parameter W1[0]: expected a finite value, found nan");
    CHECK(access("nan.model", F_OK) != 0);
    ffr_net_free(net);
    free(g);
#undef LOAD
}

/* ------------------------------------------------------------------ npy */
static size_t npy_bytes(unsigned char *b, int major, int minor, const char *dict, const void *data, size_t nd) {
    size_t hl = strlen(dict), pre = major == 1 ? 10 : 12;
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = (unsigned char)minor;
    if (major == 1) { b[8] = (unsigned char)hl; b[9] = (unsigned char)(hl >> 8); }
    else le32(b + 8, (uint32_t)hl);
    memcpy(b + pre, dict, hl);
    if (nd) memcpy(b + pre + hl, data, nd);
    return pre + hl + nd;
}

static void npy_rows(void) {
    ffr_err e;
    float *x = NULL, d6[6] = {1, 2, 3, 4, 5, 6};
    int nd;
    size_t sh[4], cnt, dim;
    unsigned char b[8192];
    ffr_status st;
#define READ(name) (st = ffr_npy_read(name, &x, &nd, sh, &e), free(x), x = NULL, st)
#define NPY(maj, dict, data, n) put("bad.npy", b, npy_bytes(b, maj, 0, dict, data, n))
    const char *ok2x3 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    row("npy", "missing file", READ("missing.npy"), &e, FFR_ERR_IO, "missing.npy: cannot open: No such file or directory");
    put("bad.npy", "\x93NUM", 4);
    row("npy", "truncated in the magic (4 bytes)", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: truncated: expected at least 10 bytes of NPY preamble, found 4");
    put("bad.npy", "PK\x03\x04 not npy", 13);
    row("npy", "wrong magic (a zip file)", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: magic: expected \\x93NUMPY, found 50 4b 03 04 20 6e: not an NPY file");
    put("bad.npy", b, npy_bytes(b, 4, 0, ok2x3, d6, 24));
    row("npy", "version 4.0", READ("bad.npy"), &e, FFR_ERR_UNSUPPORTED,
        "bad.npy: version: expected 1.0, 2.0 or 3.0, found 4.0");
    put("bad.npy", b, npy_bytes(b, 1, 1, ok2x3, d6, 24));
    row("npy", "version 1.1", READ("bad.npy"), &e, FFR_ERR_UNSUPPORTED,
        "bad.npy: version: expected 1.0, 2.0 or 3.0, found 1.1");
    put("bad.npy", b, 11 + 0 * npy_bytes(b, 2, 0, ok2x3, d6, 24));
    row("npy", "v2 truncated in the header length", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: truncated: expected a 4-byte header length, found 3 bytes");
    put("bad.npy", b, 40 + 0 * npy_bytes(b, 1, 0, ok2x3, d6, 24));
    row("npy", "truncated in the header", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: truncated: expected 59 bytes of header, found 30");
    npy_bytes(b, 2, 0, ok2x3, d6, 24);
    le32(b + 8, 1u << 21);
    put("bad.npy", b, 12 + 59 + 24);
    row("npy", "header length 2 MiB", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: header length: expected at most 1048576, found 2097152");
    NPY(1, "['descr', '<f4']", d6, 24);
    row("npy", "header is not a dict", READ("bad.npy"), &e, FFR_ERR_FORMAT, "bad.npy: header: expected '{', found '['descr', '<'");
    NPY(1, "{'descr': '<f4', 'fortran_order': False}", d6, 24);
    row("npy", "no shape key", READ("bad.npy"), &e, FFR_ERR_FORMAT, "bad.npy: header: missing key 'shape'");
    NPY(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", d6, 24);
    row("npy", "unknown key", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: header: expected the keys 'descr', 'fortran_order', 'shape', found 'x'");
    NPY(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", d6, 24);
    row("npy", "duplicate key", READ("bad.npy"), &e, FFR_ERR_FORMAT, "bad.npy: header: key 'descr' appears twice");
    NPY(1, "{'descr': '<c16', 'fortran_order': False, 'shape': (1,)}", d6, 16);
    row("npy", "complex dtype <c16", READ("bad.npy"), &e, FFR_ERR_UNSUPPORTED,
        "bad.npy: dtype: expected '<f4' or '<f8' (also '>f4', '>f8', '|u1', '|i1', '<i4', '>i4'), found '<c16'");
    NPY(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}", d6, 24);
    row("npy", "structured dtype", READ("bad.npy"), &e, FFR_ERR_UNSUPPORTED,
        "bad.npy: dtype: expected '<f4' or '<f8', found a structured dtype");
    NPY(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}", d6, 24);
    row("npy", "fortran order", READ("bad.npy"), &e, FFR_ERR_UNSUPPORTED,
        "bad.npy: fortran_order: expected False, found True (save a C-ordered array, e.g. np.save(path, np.ascontiguousarray(a)))");
    NPY(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", d6, 24);
    row("npy", "fortran_order not a bool", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: header: fortran_order: expected True or False, found '0, 'shape': '");
    NPY(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 6)}", d6, 24);
    row("npy", "5 dimensions", READ("bad.npy"), &e, FFR_ERR_UNSUPPORTED,
        "bad.npy: shape: expected at most 4 dimensions, found more");
    NPY(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", d6, 24);
    row("npy", "negative dimension", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: header: shape: expected a non-negative integer, found '-6,)}'");
    NPY(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", d6, 24);
    row("npy", "dimension > SIZE_MAX", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: header: shape: dimension 0 overflows size_t");
    NPY(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967297)}", d6, 24);
    row("npy", "element count overflows size_t", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: shape: element count overflows size_t");
    NPY(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}", d6, 24);
    row("npy", "byte count overflows size_t (2^62 f8)", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: shape: data size overflows size_t");
    NPY(1, ok2x3, d6, 23);
    row("npy", "data one byte short", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: truncated: expected 24 bytes of data, found 23");
    NPY(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", d6, 24);
    row("npy", "trailing bytes", READ("bad.npy"), &e, FFR_ERR_FORMAT,
        "bad.npy: trailing bytes: expected 16 bytes of data, found 24");
    /* the data loader */
    float nanrow[6] = {0, 1, 2, 3, NAN, 5}, infrow[6] = {0, 1, 2, INFINITY, 4, 5};
    size_t s23[2] = {2, 3}, s6[1] = {6}, s04[2] = {0, 4}, s123[3] = {1, 2, 3};
#define DLOAD(name) (st = ffr_data_load(name, &x, &cnt, &dim, &e), free(x), x = NULL, st)
    ffr_npy_write("nan.npy", nanrow, 'f', 2, s23, &e);
    row("data", "NaN in a data .npy", DLOAD("nan.npy"), &e, FFR_ERR_FORMAT,
        "nan.npy: element (1, 1): expected a finite value, found NaN");
    ffr_npy_write("inf.npy", infrow, 'f', 2, s23, &e);
    row("data", "Inf in a data .npy", DLOAD("inf.npy"), &e, FFR_ERR_FORMAT,
        "inf.npy: element (1, 0): expected a finite value, found Inf");
    ffr_npy_write("v.npy", d6, 'f', 1, s6, &e);
    row("data", "1-D .npy", DLOAD("v.npy"), &e, FFR_ERR_FORMAT,
        "v.npy: shape: expected a 2-D array (count, dim), found a 1-D array");
    ffr_npy_write("t.npy", d6, 'f', 3, s123, &e);
    row("data", "3-D .npy", DLOAD("t.npy"), &e, FFR_ERR_FORMAT,
        "t.npy: shape: expected a 2-D array (count, dim), found a 3-D array");
    ffr_npy_write("e.npy", d6, 'f', 2, s04, &e);
    row("data", "empty (0, 4) .npy", DLOAD("e.npy"), &e, FFR_ERR_FORMAT,
        "e.npy: shape: expected at least one row and one column, found (0, 4)");
    {
        size_t n;
        unsigned char *v = slurp("v.npy", &n);
        gz_put("v.npy.gz", v, n);
        free(v);
    }
    row("data", "gzip-compressed .npy", DLOAD("v.npy.gz"), &e, FFR_ERR_UNSUPPORTED,
        "v.npy.gz: a gzip-compressed .npy is not supported; gunzip it first");
    puts_file("junk.txt", "hello, world");
    row("data", "neither IDX nor .npy", DLOAD("junk.txt"), &e, FFR_ERR_FORMAT,
        "junk.txt: not a data file: expected IDX images (magic 2051) or an .npy array, found first bytes 68 65 6c 6c");
    row("data", "missing file", DLOAD("missing.npy"), &e, FFR_ERR_IO, "missing.npy: cannot open: No such file or directory");
    /* writer arguments */
    row("npy write", "dtype 'q'", ffr_npy_write("w.npy", d6, 'q', 1, s6, &e), &e, FFR_ERR_ARG,
        "w.npy: dtype: expected 'f', 'd', 'i' or 'u', found 'q'");
    row("npy write", "ndim 5", ffr_npy_write("w.npy", d6, 'f', 5, s6, &e), &e, FFR_ERR_ARG,
        "w.npy: ndim: expected 0..4, found 5");
    row("npy write", "below a regular file", ffr_npy_write("afile/w.npy", d6, 'f', 1, s6, &e), &e, FFR_ERR_IO,
        "afile/w.npy: cannot create temporary file afile/w.npy.tmp.{pid}: Not a directory");
#undef READ
#undef NPY
#undef DLOAD
}

/* ------------------------------------------------------------------ idx */
static void idx_rows(void) {
    ffr_err e;
    float *x = NULL;
    unsigned char *y = NULL, b[4096];
    size_t cnt, r, c;
    ffr_status st;
#define IMG(name) (st = ffr_idx_read_images(name, &x, &cnt, &r, &c, &e), free(x), x = NULL, st)
#define LAB(name) (st = ffr_idx_read_labels(name, &y, &cnt, &e), free(y), y = NULL, st)
    /* good: 2 images of 3 x 2 */
    unsigned char img[16 + 12], lab[8 + 4] = {0};
    be32(img, 2051); be32(img + 4, 2); be32(img + 8, 3); be32(img + 12, 2);
    for (int i = 0; i < 12; i++) img[16 + i] = (unsigned char)(i * 20);
    be32(lab, 2049); be32(lab + 4, 4);
    lab[8] = 1; lab[9] = 9; lab[10] = 0; lab[11] = 3;
    row("idx images", "missing file", IMG("missing-idx3"), &e, FFR_ERR_IO, "missing-idx3: cannot open: No such file or directory");
    put("bad-idx3", img, 0);
    row("idx images", "empty file", IMG("bad-idx3"), &e, FFR_ERR_FORMAT,
        "bad-idx3: truncated: expected a 16-byte IDX header, found 0 bytes");
    put("bad-idx3", img, 3);
    row("idx images", "truncated in the magic", IMG("bad-idx3"), &e, FFR_ERR_FORMAT,
        "bad-idx3: truncated: expected a 16-byte IDX header, found 3 bytes");
    put("bad-idx3", img, 10);
    row("idx images", "truncated in rows", IMG("bad-idx3"), &e, FFR_ERR_FORMAT,
        "bad-idx3: truncated: expected a 16-byte IDX header, found 10 bytes");
    put("bad-idx3", lab, sizeof lab);
    row("idx images", "a label file (magic 2049)", IMG("bad-idx3"), &e, FFR_ERR_FORMAT,
        "bad-idx3: magic: expected 2051 (IDX images), found 2049 (IDX labels)");
    memcpy(b, img, sizeof img); be32(b, 0x12345678); put("bad-idx3", b, sizeof img);
    row("idx images", "wrong magic", IMG("bad-idx3"), &e, FFR_ERR_FORMAT,
        "bad-idx3: magic: expected 2051 (IDX images), found 305419896: not an IDX file");
    memcpy(b, img, sizeof img); be32(b + 8, 0); put("bad-idx3", b, sizeof img);
    row("idx images", "rows = 0", IMG("bad-idx3"), &e, FFR_ERR_FORMAT,
        "bad-idx3: dimensions: expected rows, cols >= 1, found 0 x 2");
    memcpy(b, img, sizeof img); be32(b + 4, 0xffffffffu); be32(b + 8, 0xffffffffu); be32(b + 12, 0xffffffffu);
    put("bad-idx3", b, sizeof img);
    row("idx images", "count * rows * cols overflows size_t", IMG("bad-idx3"), &e, FFR_ERR_FORMAT,
        "bad-idx3: count * rows * cols (4294967295 * 4294967295 * 4294967295) overflows");
    memcpy(b, img, sizeof img); be32(b + 4, 60000); be32(b + 8, 28); be32(b + 12, 28); put("bad-idx3", b, sizeof img);
    row("idx images", "header says 60000 x 28 x 28, file has 12 pixels", IMG("bad-idx3"), &e, FFR_ERR_FORMAT,
        "bad-idx3: truncated: expected 47040000 bytes of pixels, found 12");
    gz_put("bad-idx3.gz", b, sizeof img);
    row("idx images", "the same, gzip", IMG("bad-idx3.gz"), &e, FFR_ERR_FORMAT,
        "bad-idx3.gz: truncated: expected 47040000 bytes of pixels, but a {*}-byte gzip file holds at most {*}");
    memcpy(b, img, sizeof img); be32(b + 4, 3); gz_put("bad-idx3.gz", b, sizeof img);
    row("idx images", "gzip, one image short", IMG("bad-idx3.gz"), &e, FFR_ERR_FORMAT,
        "bad-idx3.gz: truncated: expected 18 bytes of pixels, found 12");
    put("bad-idx3", img, sizeof img - 1);
    row("idx images", "one pixel short", IMG("bad-idx3"), &e, FFR_ERR_FORMAT,
        "bad-idx3: truncated: expected 12 bytes of pixels, found 11");
    memcpy(b, img, sizeof img); b[sizeof img] = 7; put("bad-idx3", b, sizeof img + 1);
    row("idx images", "one trailing byte", IMG("bad-idx3"), &e, FFR_ERR_FORMAT,
        "bad-idx3: trailing bytes: expected 12 bytes of pixels, found 13");
    b[sizeof img] = 7; gz_put("bad-idx3.gz", b, sizeof img + 1);
    row("idx images", "gzip, one trailing byte", IMG("bad-idx3.gz"), &e, FFR_ERR_FORMAT,
        "bad-idx3.gz: trailing bytes: expected 12 bytes of pixels, found more");
    {
        size_t n;
        gz_put("good-idx3.gz", img, sizeof img);
        unsigned char *z = slurp("good-idx3.gz", &n);
        put("bad-idx3.gz", z, n - 4);
        row("idx images", "gzip without its length trailer", IMG("bad-idx3.gz"), &e, FFR_ERR_FORMAT,
            "bad-idx3.gz: truncated: the gzip stream ends early (after all 12 bytes of pixels)");
        put("bad-idx3.gz", z, n / 2);
        row("idx images", "gzip cut in half", IMG("bad-idx3.gz"), &e, FFR_ERR_FORMAT,
            "bad-idx3.gz: truncated: expected a 16-byte IDX header, found {*} bytes");
        memcpy(b, z, n);
        memcpy(b + n, "JUNK", 4);
        put("bad-idx3.gz", b, n + 4);
        row("idx images", "junk after the gzip stream", IMG("bad-idx3.gz"), &e, FFR_ERR_FORMAT,
            "bad-idx3.gz: trailing bytes: found data that is not gzip after the gzip stream (at byte {*})");
        memcpy(b + n, z, n);
        put("two-idx3.gz", b, 2 * n);
        row("idx images", "two gzip members (the second one's 28 bytes are extra)", IMG("two-idx3.gz"), &e, FFR_ERR_FORMAT,
            "two-idx3.gz: trailing bytes: expected 12 bytes of pixels, found more");
        z[n - 8] ^= 0xff;
        put("bad-idx3.gz", z, n);
        row("idx images", "gzip with a bad crc", IMG("bad-idx3.gz"), &e, FFR_ERR_FORMAT,
            "bad-idx3.gz: corrupt gzip data: incorrect data check");
        free(z);
    }
    row("idx labels", "missing file", LAB("missing-idx1"), &e, FFR_ERR_IO, "missing-idx1: cannot open: No such file or directory");
    put("bad-idx1", img, sizeof img);
    row("idx labels", "an image file (magic 2051)", LAB("bad-idx1"), &e, FFR_ERR_FORMAT,
        "bad-idx1: magic: expected 2049 (IDX labels), found 2051 (IDX images)");
    put("bad-idx1", lab, 6);
    row("idx labels", "truncated in count", LAB("bad-idx1"), &e, FFR_ERR_FORMAT,
        "bad-idx1: truncated: expected a 8-byte IDX header, found 6 bytes");
    memcpy(b, lab, sizeof lab); b[10] = 10; put("bad-idx1", b, sizeof lab);
    row("idx labels", "label 10", LAB("bad-idx1"), &e, FFR_ERR_FORMAT, "bad-idx1: label 2: expected 0..9, found 10");
    memcpy(b, lab, sizeof lab); b[11] = 255; gz_put("bad-idx1.gz", b, sizeof lab);
    row("idx labels", "label 255 (gzip)", LAB("bad-idx1.gz"), &e, FFR_ERR_FORMAT, "bad-idx1.gz: label 3: expected 0..9, found 255");
    put("bad-idx1", lab, sizeof lab - 1);
    row("idx labels", "one label short", LAB("bad-idx1"), &e, FFR_ERR_FORMAT,
        "bad-idx1: truncated: expected 4 bytes of labels, found 3");
    memcpy(b, lab, sizeof lab); b[sizeof lab] = 1; put("bad-idx1", b, sizeof lab + 1);
    row("idx labels", "one trailing byte", LAB("bad-idx1"), &e, FFR_ERR_FORMAT,
        "bad-idx1: trailing bytes: expected 4 bytes of labels, found 5");
    size_t dim;
    put("lab-idx1", lab, sizeof lab);
    row("data", "an IDX label file as data", (st = ffr_data_load("lab-idx1", &x, &cnt, &dim, &e), free(x), x = NULL, st),
        &e, FFR_ERR_FORMAT, "lab-idx1: magic: expected 2051 (IDX images) or an .npy file, found 2049 (IDX labels)");
    memcpy(b, img, 16); be32(b + 4, 0); put("zero-idx3", b, 16);
    row("data", "IDX images with count 0", (st = ffr_data_load("zero-idx3", &x, &cnt, &dim, &e), free(x), x = NULL, st),
        &e, FFR_ERR_FORMAT, "zero-idx3: count: expected at least one image, found 0");
    unsigned char l11[11] = {0};
    row("idx write", "label 11", ffr_idx_write_labels("w-idx1", l11 + 0 * (l11[3] = 11), 5, 0, &e), &e, FFR_ERR_ARG,
        "w-idx1: label 3: expected 0..9, found 11");
    row("idx write", "0 rows", ffr_idx_write_images("w-idx3", img, 1, 0, 4, 0, &e), &e, FFR_ERR_ARG,
        "w-idx3: dimensions: expected 1..4294967295 rows and cols and count <= 4294967295, found 1 x 0 x 4");
    row("idx write", "gzip into a missing directory", ffr_idx_write_images("nodir/w-idx3.gz", img + 16, 2, 3, 2, 1, &e),
        &e, FFR_ERR_IO, "nodir/w-idx3.gz: cannot create temporary file nodir/w-idx3.gz.tmp.{pid}: No such file or directory");
#undef IMG
#undef LAB
}

/* ------------------------------------------- output targets, special inputs */
/* Issue 14, classes 1, 3, 5, 9, 10, 12: what each kind of output target gets,
 * special files as inputs (refused without blocking or reading), the header
 * checked before inflating, folder locks, escaped header bytes. */
static void files_rows(void) {
    ffr_err e;
    ffr_net *net, *m = NULL;
    int n[2] = {3, 2};
    ffr_status st;
    ffr_net_create(&net, 1, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e);
    ffr_net_init_glorot(net, 1, 1.f);
    puts_file("ro.model", "old");
    chmod("ro.model", 0444);
    row("output", "a read-only file (not replaced, even for root)", ffr_net_save(net, "ro.model", &e), &e, FFR_ERR_IO,
        "ro.model: the file is read-only (mode 0444): not replaced; make it writable (chmod u+w) or remove it first");
    puts_file("hl.model", "old");
    if (link("hl.model", "hl2.model")) { perror("link"); exit(100); }
    row("output", "a file with a second hard link (not split)", ffr_net_save(net, "hl.model", &e), &e, FFR_ERR_IO,
        "hl.model: the file has 2 hard links: replacing it would split them; remove the other links or write elsewhere");
    if (mkfifo("fifo", 0600)) { perror("mkfifo"); exit(100); }
    row("output", "a FIFO without a reader (no hang)", ffr_net_save(net, "fifo", &e), &e, FFR_ERR_IO,
        "fifo: cannot open a FIFO for writing: No such device or address (no reader on the FIFO)");
    row("output", "/dev/full (a character device: written through)", ffr_net_save(net, "/dev/full", &e), &e, FFR_ERR_IO,
        "/dev/full: write failed: No space left on device");
    mkdir("odir", 0777);
    row("output", "a directory, checked before any work", ffr_out_check("odir", &e), &e, FFR_ERR_IO,
        "odir: is a directory: expected a regular file to replace (or a new path)");
    row("output", "into a missing folder, checked before any work", ffr_out_check("nodir/x", &e), &e, FFR_ERR_IO,
        "nodir/x: cannot create temporary file nodir/x.tmp.{pid}: No such file or directory");
    ffr_out *o = NULL;
    row("output", "an empty path", ffr_out_open(&o, "", &e), &e, FFR_ERR_ARG, "output path is empty");
    if (symlink("loop2", "loop1") || symlink("loop1", "loop2")) { perror("symlink"); exit(100); }
    row("output", "a symbolic link loop", ffr_net_save(net, "loop1", &e), &e, FFR_ERR_IO,
        "loop1: too many levels of symbolic links");
    int l1, l2;
    if (ffr_dir_lock("odir", &l1, &e)) { fprintf(stderr, "%s\n", e.msg); exit(100); }
    row("output", "a folder another writer holds (flock)", ffr_dir_lock("odir", &l2, &e), &e, FFR_ERR_IO,
        "odir: another process is writing this folder (it holds an advisory lock on it); wait for it to finish or "
        "choose another folder");
    row("output", "export into a folder another writer holds", ffr_net_export_npy(net, "odir", &e), &e, FFR_ERR_IO,
        "odir: another process is writing this folder (it holds an advisory lock on it); wait for it to finish or "
        "choose another folder");
    ffr_dir_unlock(l1);
    /* special files as inputs: refused at open (O_NONBLOCK, fstat), never read */
#define LOAD(name) (st = ffr_net_load(&m, name, &e), ffr_net_free(m), m = NULL, st)
    row("input", "a FIFO as a model (no hang)", LOAD("fifo"), &e, FFR_ERR_IO, "fifo: not a readable regular file: found a FIFO");
    row("input", "/dev/zero as a model", LOAD("/dev/zero"), &e, FFR_ERR_IO,
        "/dev/zero: not a readable regular file: found a character device");
#undef LOAD
    float *x = NULL;
    size_t cnt, dim, r, c;
    int nd;
    size_t sh[4];
    char *buf = NULL;
    size_t len;
    row("input", "a FIFO as .npy", ffr_npy_read("fifo", &x, &nd, sh, &e), &e, FFR_ERR_IO,
        "fifo: not a readable regular file: found a FIFO");
    row("input", "a FIFO as IDX images", ffr_idx_read_images("fifo", &x, &cnt, &r, &c, &e), &e, FFR_ERR_IO,
        "fifo: not a readable regular file: found a FIFO");
    row("input", "/dev/zero as data", ffr_data_load("/dev/zero", &x, &cnt, &dim, &e), &e, FFR_ERR_IO,
        "/dev/zero: not a readable regular file: found a character device");
    row("input", "/dev/zero as a whole file", ffr_read_file("/dev/zero", 1 << 20, &buf, &len, &e), &e, FFR_ERR_IO,
        "/dev/zero: not a readable regular file: found a character device");
    row("input", "a directory as data", ffr_data_peek("odir", &cnt, &dim, &e), &e, FFR_ERR_IO,
        "odir: not a readable regular file: found a directory");
    /* class 9: the shape from the header, before inflating: a gzip IDX whose
     * pixels are corrupt past the header peeks fine and fails to load */
    {
        size_t np = (size_t)300 * 28 * 36;
        unsigned char *im = malloc(16 + np);
        be32(im, 2051); be32(im + 4, 300); be32(im + 8, 28); be32(im + 12, 36);
        uint32_t v = 1;
        for (size_t i = 0; i < np; i++) { v = v * 1664525u + 1013904223u; im[16 + i] = (unsigned char)(v >> 24); }
        gz_put("wide-idx3.gz", im, 16 + np);
        size_t zn;
        unsigned char *z = slurp("wide-idx3.gz", &zn);
        for (size_t i = zn / 2; i < zn / 2 + 64; i++) z[i] ^= 0x5a;
        put("wide-idx3.gz", z, zn);
        st = ffr_data_peek("wide-idx3.gz", &cnt, &dim, &e);
        CHECKF(st == FFR_OK && cnt == 300 && dim == 1008, "peek: %s (%zu, %zu)", st ? e.msg : "ok", cnt, dim);
        row("input", "the same gzip IDX, loaded", (st = ffr_data_load("wide-idx3.gz", &x, &cnt, &dim, &e), free(x), x = NULL, st),
            &e, FFR_ERR_FORMAT, "wide-idx3.gz: corrupt gzip data: {*}");
        free(z);
        free(im);
    }
    /* class 12: bytes of an npy header reach a message escaped */
    {
        const char *h = "{'descr': '\x1b[2J', 'fortran_order': False, 'shape': (2,), }";
        unsigned char b[256];
        size_t hl = strlen(h);
        memcpy(b, "\x93NUMPY\x01\x00", 8);
        b[8] = (unsigned char)hl; b[9] = 0;
        memcpy(b + 10, h, hl);
        memset(b + 10 + hl, 0, 8);
        put("esc.npy", b, 10 + hl + 8);
        row("input", "an escape sequence as the npy dtype", ffr_npy_read("esc.npy", &x, &nd, sh, &e), &e,
            FFR_ERR_UNSUPPORTED, "esc.npy: dtype: expected '<f4' or '<f8' (also '>f4', '>f8', '|u1', '|i1', '<i4', "
            "'>i4'), found '\\x1b[2J'");
    }
    chmod("ro.model", 0644);
    ffr_net_free(net);
}

/* ---------------------------------------------------------------- mnist */
static void mnist_rows(void) {
    ffr_err e;
    ffr_status st;
    char digit[2 * 784 + 64];
    int o = sprintf(digit, "{\"data\":[");
    for (int i = 0; i < 784; i++) o += sprintf(digit + o, i ? ",0" : "0");
    sprintf(digit + o, "]}");
    mkdir("pkg", 0777); mkdir("pkg/src", 0777); mkdir("pkg/src/digits", 0777);
    char p[64];
    for (int d = 0; d < 10; d++) { snprintf(p, sizeof p, "pkg/src/digits/%d.json", d); puts_file(p, digit); }
#define CONV() ffr_mnist_json_convert("pkg", "mn", &e)
    row("mnist json", "missing package", ffr_mnist_json_convert("nopkg", "mn", &e), &e, FFR_ERR_IO,
        "nopkg/src/digits/0.json: cannot open: No such file or directory");
    static const struct { const char *json, *pat; } bad[] = {
        {"[0, 1]", "pkg/src/digits/4.json: byte 0: expected '{', found '['"},
        {"{\"pixels\": [0]}", "pkg/src/digits/4.json: byte 1: expected the key \"data\", found '\"'"},
        {"{\"data\" [0]}", "pkg/src/digits/4.json: byte 8: expected ':', found '['"},
        {"{\"data\": {}}", "pkg/src/digits/4.json: byte 9: expected '[' (an array of numbers), found '{'"},
        {"{\"data\": [0, \"1\"]}", "pkg/src/digits/4.json: byte 13: expected a number, found '\"'"},
        {"{\"data\": [NaN]}", "pkg/src/digits/4.json: byte 10: expected a number, found 'N'"},
        {"{\"data\": [1.]}", "pkg/src/digits/4.json: byte 12: expected a digit after '.', found ']'"},
        {"{\"data\": [1e]}", "pkg/src/digits/4.json: byte 12: expected a digit in the exponent, found ']'"},
        {"{\"data\": [0 1]}", "pkg/src/digits/4.json: byte 12: expected ',' or ']', found '1'"},
        {"{\"data\": [0], \"x\": 1}", "pkg/src/digits/4.json: byte 12: expected '}' (only the key \"data\" is allowed), found ','"},
        {"{\"data\": []} x", "pkg/src/digits/4.json: byte 13: expected the end of the file, found 'x'"},
        {"{\"data\": [0,", "pkg/src/digits/4.json: byte 12: expected a number, found the end of the file"},
        {"{\"data\": [0, 1, 0]}", "pkg/src/digits/4.json: data: expected a multiple of 784 values, found 3"},
        {"{\"data\": [0.00000000000000000000000000000000000000000000000000000000000000001]}",
         "pkg/src/digits/4.json: byte 10: expected a number of at most 63 characters, found '0'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char what[128];
        snprintf(what, sizeof what, "4.json is `%s`", bad[i].json);
        puts_file("pkg/src/digits/4.json", bad[i].json);
        row("mnist json", what, CONV(), &e, FFR_ERR_FORMAT, bad[i].pat);
    }
    puts_file("pkg/src/digits/4.json", digit);
    for (int d = 1; d < 10; d++) { snprintf(p, sizeof p, "pkg/src/digits/%d.json", d); puts_file(p, "{\"data\": []}"); }
    row("mnist json", "only one digit in all", CONV(), &e, FFR_ERR_FORMAT, "pkg: expected at least 10 digits in all, found 1");
    for (int d = 1; d < 10; d++) { snprintf(p, sizeof p, "pkg/src/digits/%d.json", d); puts_file(p, digit); }
    row("mnist json", "output below a regular file", ffr_mnist_json_convert("pkg", "afile/mn", &e), &e, FFR_ERR_IO,
        "afile/mn: cannot create directory: Not a directory");
    float *x = NULL;
    unsigned char *y = NULL;
    size_t n;
#define MLOAD(dir, tr) (st = ffr_mnist_load(dir, tr, &x, &y, &n, &e), free(x), free(y), x = NULL, y = NULL, st)
    row("mnist load", "missing files", MLOAD("nomn", 1), &e, FFR_ERR_IO,
        "nomn/train-images-idx3-ubyte[.gz]: not found (scripts/get-data.sh fetches MNIST)");
    mkdir("mn1", 0777);
    unsigned char px[3 * 27 * 28] = {0}, lb[4] = {0};
    ffr_idx_write_images("mn1/t10k-images-idx3-ubyte", px, 3, 27, 28, 0, &e);
    ffr_idx_write_labels("mn1/t10k-labels-idx1-ubyte", lb, 3, 0, &e);
    row("mnist load", "27 x 28 images", MLOAD("mn1", 0), &e, FFR_ERR_FORMAT,
        "mn1/t10k-images-idx3-ubyte: dimensions: expected 28 x 28, found 27 x 28");
    ffr_idx_write_images("mn1/t10k-images-idx3-ubyte", px, 2, 28, 28, 0, &e);
    row("mnist load", "3 labels for 2 images", MLOAD("mn1", 0), &e, FFR_ERR_FORMAT,
        "mn1/t10k-labels-idx1-ubyte: count: expected 2 labels (as in mn1/t10k-images-idx3-ubyte), found 3");
#undef CONV
#undef MLOAD
}

/* ------------------------------------------------------------ npy import */
static void import_rows(void) {
    ffr_err e;
    ffr_net *net = NULL;
    ffr_status st;
    float w[64] = {0};
    size_t s34[2] = {3, 4}, s57[2] = {5, 7}, s4[1] = {4}, s23[2] = {2, 3};
#define IMP(dir, tied) (st = ffr_net_import_npy(&net, dir, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, &e), \
                        ffr_net_free(net), net = NULL, st)
    mkdir("imp", 0777);
    row("npy import", "no W1.npy", IMP("imp", 1), &e, FFR_ERR_IO,
        "imp/W1.npy: cannot open: No such file or directory (expected W1.npy .. WL.npy in imp)");
    ffr_npy_write("imp/W1.npy", w, 'f', 2, s34, &e);
    ffr_npy_write("imp/W2.npy", w, 'f', 2, s57, &e);
    row("npy import", "W2 does not chain with W1", IMP("imp", 1), &e, FFR_ERR_FORMAT,
        "imp/W2.npy: shape (5, 7) does not chain with imp/W1.npy shape (3, 4): expected 3 columns, found 7");
    remove("imp/W2.npy");
    ffr_npy_write("imp/W3.npy", w, 'f', 2, s23, &e);
    row("npy import", "W3 without W2", IMP("imp", 1), &e, FFR_ERR_FORMAT,
        "imp/W3.npy: present but W2.npy is missing: the layers must be consecutive");
    remove("imp/W3.npy");
    ffr_npy_write("imp/b1.npy", w, 'f', 1, s4, &e);
    row("npy import", "b1 of the wrong length", IMP("imp", 1), &e, FFR_ERR_FORMAT,
        "imp/b1.npy: shape: expected (3,), found (4,)");
    remove("imp/b1.npy");
    row("npy import", "untied without V1.npy", IMP("imp", 0), &e, FFR_ERR_IO,
        "imp/V1.npy: missing: an untied network needs V1.npy .. V1.npy (or use --tied)");
    ffr_npy_write("imp/V1.npy", w, 'f', 2, s34, &e);
    row("npy import", "V1 of the wrong shape", IMP("imp", 0), &e, FFR_ERR_FORMAT,
        "imp/V1.npy: shape: expected (4, 3) = (n_0, n_1) from W1.npy, found (3, 4)");
    row("npy import", "tied with V1.npy present", IMP("imp", 1), &e, FFR_ERR_ARG,
        "imp/V1.npy: present but the network is tied (V = W^T): import without --tied, or delete the V*.npy files");
    remove("imp/V1.npy");
    w[5] = NAN;
    ffr_npy_write("imp/W1.npy", w, 'f', 2, s34, &e);
    row("npy import", "NaN in W1", IMP("imp", 1), &e, FFR_ERR_FORMAT,
        "imp: parameter W1[5]: expected a finite value, found nan");
    ffr_npy_write("imp/W1.npy", w, 'f', 1, s4, &e);
    row("npy import", "1-D W1", IMP("imp", 1), &e, FFR_ERR_FORMAT,
        "imp/W1.npy: shape: expected 2 dimensions (n_1, n_0), found 1");
#undef IMP
}

/* ------------------------------------------------------------ relaxation */
static void relax_rows(void) {
    ffr_err e;
    ffr_net *net;
    int n[3] = {4, 3, 2};
    ffr_net_create(&net, 2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e);
    ffr_net_init_glorot(net, 3, 1.f);
    ffr_state *st;
    ffr_state_create(&st, net, 2, &e);
    float x[8] = {0, .5f, 1, .25f, 1, 0, .5f, .5f};
    ffr_trace *tr = NULL;
    ffr_relax_opts o;
    ffr_status s;
#define RELAX(field, value) (ffr_relax_opts_default(&o), o.field = value, \
                             s = ffr_relax(net, x, 2, &o, st, &tr, &e), ffr_trace_free(tr), tr = NULL, s)
    row("relax", "eps = 0 (tau = inf)", RELAX(eps, 0), &e, FFR_ERR_ARG,
        "eps = 1/tau: expected 0 < eps <= 1 (tau >= 1), found 0");
    row("relax", "eps = 2 (tau = 0.5)", RELAX(eps, 2), &e, FFR_ERR_ARG,
        "eps = 1/tau: expected 0 < eps <= 1 (tau >= 1), found 2");
    row("relax", "negative tolerance", RELAX(tol, -1), &e, FFR_ERR_ARG, "tolerance: expected a finite value >= 0, found -1");
    row("relax", "NaN tolerance", RELAX(tol, NAN), &e, FFR_ERR_ARG, "tolerance: expected a finite value >= 0, found nan");
    row("relax", "max_sweeps = -1", RELAX(max_sweeps, -1), &e, FFR_ERR_ARG, "max sweeps: expected 0..1e8, found -1");
    row("relax", "temperature = -1", RELAX(temperature, -1), &e, FFR_ERR_ARG,
        "temperature: expected a finite value >= 0, found -1");
    row("relax", "unknown init 9", RELAX(init, (ffr_init)9), &e, FFR_ERR_ARG, "init: unknown start 9");
    row("relax", "unknown schedule 9", RELAX(schedule, (ffr_schedule)9), &e, FFR_ERR_ARG, "schedule: unknown schedule 9");
    row("relax", "measure_every = -2", RELAX(measure_every, -2), &e, FFR_ERR_ARG, "measure_every: expected -1 (never), 0 (start and end) or more, found -2");
    row("relax", "anderson = 9", RELAX(anderson, 9), &e, FFR_ERR_ARG, "anderson: expected 0 (off) to 8 differences, found 9");
    row("relax", "anderson with noise", (ffr_relax_opts_default(&o), o.anderson = 3, o.temperature = 0.5,
                                         s = ffr_relax(net, x, 2, &o, st, &tr, &e), ffr_trace_free(tr), tr = NULL, s),
        &e, FFR_ERR_ARG, "anderson acceleration needs a deterministic map: no noise (temperature 0), no Gibbs sampling");
    row("relax", "gibbs on a dendritic network", RELAX(gibbs, 1), &e, FFR_ERR_ARG,
        "gibbs sampling: only for the boltzmann rule (this network is dendritic)");
    ffr_relax_opts_default(&o);
    s = ffr_relax(net, x, 0, &o, st, &tr, &e);
    ffr_trace_free(tr);
    tr = NULL;
    row("relax", "0 examples", s, &e, FFR_ERR_ARG, "batch: expected >= 1 examples, found 0");
    s = ffr_relax(net, x, 1, &o, st, &tr, &e);
    ffr_trace_free(tr);
    tr = NULL;
    row("relax", "a state made for 2 examples, 1 given", s, &e, FFR_ERR_ARG,
        "state: expected 1 examples and 2 layers, found 2 and 2");
    row("state", "0 examples", ffr_state_create(&(ffr_state *){NULL}, net, 0, &e), &e, FFR_ERR_ARG,
        "batch size: expected >= 1, found 0");
    ffr_state_free(st);
    ffr_net_free(net);
    /* divergence: identity rho, weights x50, direct update */
    int n3[3] = {6, 5, 4};
    ffr_net_create(&net, 2, n3, FFR_RULE_DENDRITIC, FFR_RHO_IDENTITY, 1, &e);
    ffr_net_init_glorot(net, 1, 50.f);
    ffr_state_create(&st, net, 1, &e);
    ffr_relax_opts_default(&o);
    o.max_sweeps = 1000;
    float x6[6] = {1, 1, 1, 1, 1, 1};
    s = ffr_relax(net, x6, 1, &o, st, &tr, &e);
    row("relax", "identity rho, weights x50: diverges", s, &e, FFR_ERR_DIVERGED,
        "relaxation diverged: {*}layer{*}sweep{*}");
    CHECK(tr && tr->status == FFR_ERR_DIVERGED && tr->T < 1000);
    ffr_trace_free(tr);
    ffr_state_free(st);
    ffr_net_free(net);
    int bad[3] = {4, 0, 2};
    row("network", "a layer of size 0", ffr_net_create(&net, 2, bad, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e), &e,
        FFR_ERR_ARG, "size of layer 1: expected 1..16777216, found 0");
#undef RELAX
}

/* ------------------------------------------- regression inputs from fuzzing */
/* fuzz/regress/<target>-<name> (target: model, npy, idx-images, idx-labels,
 * data, mnist): inputs that once crashed a fuzz target. Each must now give
 * a clean error or a clean load (under ASan/valgrind: no memory error). The
 * directory is taken from the working directory at start (the repo root, as
 * `make test` runs it); missing directory: no rows. */
static char regress_dir[4096];

static void regress_rows(void) {
    char cmd[4200], name[512], path[4700];
    snprintf(cmd, sizeof cmd, "ls '%s' 2>/dev/null", regress_dir);
    FILE *ls = popen(cmd, "r");
    if (!ls) return;
    while (fgets(name, sizeof name, ls)) {
        name[strcspn(name, "\n")] = 0;
        snprintf(path, sizeof path, "%s/%s", regress_dir, name);
        ffr_err e;
        e.msg[0] = 0;
        ffr_status st = FFR_OK;
        float *x = NULL;
        unsigned char *y = NULL;
        size_t a, b, c;
        int nd;
        size_t sh[4];
        if (!strncmp(name, "model-", 6)) {
            ffr_net *m = NULL;
            st = ffr_net_load(&m, path, &e);
            ffr_net_free(m);
        } else if (!strncmp(name, "npy-", 4)) {
            st = ffr_npy_read(path, &x, &nd, sh, &e);
        } else if (!strncmp(name, "idx-images-", 11)) {
            st = ffr_idx_read_images(path, &x, &a, &b, &c, &e);
        } else if (!strncmp(name, "idx-labels-", 11)) {
            st = ffr_idx_read_labels(path, &y, &a, &e);
        } else if (!strncmp(name, "data-", 5)) {
            st = ffr_data_load(path, &x, &a, &b, &e);
        } else if (!strncmp(name, "mnist-", 6)) {
            mkdir("rpkg", 0777); mkdir("rpkg/src", 0777); mkdir("rpkg/src/digits", 0777);
            size_t n;
            unsigned char *d = slurp(path, &n);
            put("rpkg/src/digits/0.json", d, n);
            free(d);
            st = ffr_mnist_json_convert("rpkg", "rout", &e);
        } else {
            continue;
        }
        free(x);
        free(y);
        x = NULL;
        y = NULL;
        nrows++;
        if (!markdown) CHECKF(st == FFR_OK || e.msg[0], "regression input %s: status %d with no message", name, st);
    }
    pclose(ls);
}

static void rm_rf(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

int main(int argc, char **argv) {
    markdown = argc > 1 && !strcmp(argv[1], "--markdown");
    if (!getcwd(regress_dir, sizeof regress_dir - 32)) return 100;
    strcat(regress_dir, "/fuzz/regress");
    char dir[] = "/tmp/ffr_badinput.XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) != 0) { perror("tmpdir"); return 100; }
    model_rows();
    npy_rows();
    idx_rows();
    mnist_rows();
    import_rows();
    relax_rows();
    regress_rows();
    files_rows();
    if (chdir("/") != 0) return 100;
    rm_rf(dir);
    if (markdown) return 0;
    printf("(%d rows) ", nrows);
    MT_DONE("test_badinput");
}
