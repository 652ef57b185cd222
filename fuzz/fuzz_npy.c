/* fuzz_npy.c - libFuzzer target: the .npy reader (ffr_npy_read), the data
 * loader on .npy input, and the npy parameter import (the input as W1.npy).
 *
 * An array that reads must write back as float32 and read back bit-identical;
 * data_load must return a finite non-empty 2-D matrix or an error; import
 * must return a network that passes ffr_net_check or an error. */
#include "fuzz_util.h" /* first: it defines _GNU_SOURCE */
#include <math.h>
#include "ffrelax.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    char path[64], p[600];
    int fd = fz_memfd(d, n, path, sizeof path);
    ffr_err err;
    float *a = NULL;
    int ndim;
    size_t shape[4];
    ffr_status st = ffr_npy_read(path, &a, &ndim, shape, &err);
    if (st) {
        if (a) FZ_DIE("failed read returned data");
        if (!err.msg[0]) FZ_DIE("failure with an empty message");
    } else {
        size_t count = 1;
        for (int k = 0; k < ndim; k++) count *= shape[k];
        for (int k = ndim; k < 4; k++)
            if (shape[k] != 1) FZ_DIE("shape[%d] = %zu beyond ndim", k, shape[k]);
        snprintf(p, sizeof p, "%s/a.npy", fz_tmpdir());
        if (ffr_npy_write(p, a, 'f', ndim, shape, &err)) FZ_DIE("write back: %s", err.msg);
        float *b;
        int nd2;
        size_t sh2[4];
        if (ffr_npy_read(p, &b, &nd2, sh2, &err)) FZ_DIE("read back: %s", err.msg);
        if (nd2 != ndim || memcmp(sh2, shape, sizeof sh2) || (count && memcmp(a, b, count * 4)))
            FZ_DIE("array changed on a write-read round trip");
        free(b);
        free(a);
    }
    float *x = NULL;
    size_t cnt, dim;
    if (!ffr_data_load(path, &x, &cnt, &dim, &err)) {
        if (!cnt || !dim) FZ_DIE("data_load: empty matrix");
        for (size_t i = 0; i < cnt * dim; i++)
            if (!isfinite(x[i])) FZ_DIE("data_load: non-finite value");
        free(x);
    } else if (x) FZ_DIE("failed data_load returned data");
    close(fd);

    /* the input as W1.npy of a tied one-layer import */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/imp", fz_tmpdir());
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/W1.npy", dir);
    fz_write_file(p, d, n);
    ffr_net *net = NULL;
    if (!ffr_net_import_npy(&net, dir, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &err)) {
        if (ffr_net_check(net, &err)) FZ_DIE("imported network fails check: %s", err.msg);
        ffr_net_free(net);
    } else if (net) FZ_DIE("failed import returned a network");
    return 0;
}
