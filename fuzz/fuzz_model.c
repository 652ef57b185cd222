/* fuzz_model.c - libFuzzer target: the model file loader (ffr_net_load).
 *
 * Each input is loaded twice: as given, and with its last four bytes replaced
 * by the crc32 of the rest, so that mutations get past the checksum into the
 * parameter and gain checks. A model that loads must pass ffr_net_check, save
 * back to exactly the input bytes, and relax three sweeps without a crash
 * (a DIVERGED status is fine). */
#include "fuzz_util.h" /* first: it defines _GNU_SOURCE */
#include "ffrelax.h"

static void one(const uint8_t *d, size_t n) {
    char path[64], out[600];
    int fd = fz_memfd(d, n, path, sizeof path);
    ffr_err err;
    ffr_net *net = NULL;
    ffr_status st = ffr_net_load(&net, path, &err);
    close(fd);
    if (st) {
        if (net) FZ_DIE("load failed but returned a network");
        if (!err.msg[0]) FZ_DIE("load failed with an empty message");
        return;
    }
    if (ffr_net_check(net, &err)) FZ_DIE("loaded network fails ffr_net_check: %s", err.msg);
    snprintf(out, sizeof out, "%s/m", fz_tmpdir());
    if (ffr_net_save(net, out, &err)) FZ_DIE("save of a loaded network failed: %s", err.msg);
    FILE *f = fopen(out, "rb");
    uint8_t *b = malloc(n + 1);
    size_t got = f ? fread(b, 1, n + 1, f) : 0;
    if (f) fclose(f);
    if (got != n || memcmp(b, d, n) != 0) FZ_DIE("save(load(file)) != file (%zu vs %zu bytes)", got, n);
    free(b);
    /* relax a few sweeps on one example; keep the work small */
    size_t work = 0;
    for (int k = 1; k <= net->L; k++) work += (size_t)net->n[k] * net->n[k - 1];
    if (work <= (1u << 16)) {
        ffr_state *s;
        float *x = calloc((size_t)net->n[0], sizeof *x);
        for (int i = 0; i < net->n[0]; i++) x[i] = (float)(i % 3) * 0.5f;
        if (ffr_state_create(&s, net, 1, &err)) FZ_DIE("state_create: %s", err.msg);
        ffr_relax_opts o;
        ffr_relax_opts_default(&o);
        o.max_sweeps = 3;
        o.measure_every = 1;
        ffr_trace *tr = NULL;
        st = ffr_relax(net, x, 1, &o, s, &tr, &err);
        if (st != FFR_OK && st != FFR_ERR_DIVERGED) FZ_DIE("relax: %s", err.msg);
        ffr_trace_free(tr);
        ffr_state_free(s);
        free(x);
    }
    ffr_net_free(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    fz_try_crc_fixed(d, n, one);
    return 0;
}
