/* fuzz_ckpt.c - libFuzzer target: the training checkpoint reader
 * (ffr_train_ckpt_load) and the training loop's resume from it (the range
 * checks of class 6 in doc/reliability.md).
 *
 * Each input is tried twice: as given, and with its last four bytes replaced
 * by the crc32 of the rest, so that mutations get past the checksum into the
 * field checks. The method stored at byte 16 picks the network (sae and
 * dendritic: 8-5-3 untied dendritic; rbm: 8-5-3 tied boltzmann) and the
 * options of the run that wrote the seeds (13 fixed examples, 2 epochs,
 * batch 5, rbm with persistent chains). A checkpoint that loads is then
 * resumed by ffr_train: it must finish or fail with a status and a message,
 * never crash, read out of bounds or hang.
 *
 * Seeds: `FFR_FUZZ_CKPT_SEEDS=fuzz/corpus/ckpt build/fuzz/fuzz_ckpt` writes
 * checkpoints of the three methods (stopped after the first epoch of layer 1
 * and of layer 2) into that folder and exits. */
#include "fuzz_util.h" /* first: it defines _GNU_SOURCE */
#include "ffrelax.h"

#define NX 13
static float x[NX * 8];
static char ckpath[600];

static ffr_net *make_net(ffr_train_method m) {
    int n[3] = {8, 5, 3};
    ffr_net *net;
    ffr_err err;
    int rbm = m == FFR_TRAIN_RBM;
    if (ffr_net_create(&net, 2, n, rbm ? FFR_RULE_BOLTZMANN : FFR_RULE_DENDRITIC,
                       rbm ? FFR_RHO_SIGMOID : FFR_RHO_HARDSIGMOID, rbm, &err))
        FZ_DIE("%s", err.msg);
    ffr_net_init_glorot(net, 7, 1.f);
    return net;
}

static void make_opts(ffr_train_opts *o, ffr_train_method m) {
    ffr_train_opts_default(o, m);
    o->epochs = 2; o->batch = 5; o->persistent = 1;
    o->relax.max_sweeps = 5;
    o->checkpoint = ckpath;
}

static void setup(void) {
    for (int i = 0; i < NX * 8; i++) x[i] = (float)((i * 7) % 11) / 10.f;
    snprintf(ckpath, sizeof ckpath, "%s/ck", fz_tmpdir());
}

typedef struct { int layer, epoch; } stop_at;
static int stop_cb(void *ctx, const ffr_train_progress *p) {
    const stop_at *s = ctx;
    return p->end_of_epoch && p->layer == s->layer && p->epoch == s->epoch;
}

static void write_seeds(const char *dir) {
    static const char *names[3] = {"sae", "rbm", "dendritic"};
    for (int m = 0; m < 3; m++)
        for (int layer = 1; layer <= 2; layer++) {
            if (m == FFR_TRAIN_DENDRITIC && layer == 2) continue;
            ffr_train_opts o;
            make_opts(&o, (ffr_train_method)m);
            stop_at s = {m == FFR_TRAIN_DENDRITIC ? 0 : layer, 1};
            o.progress = stop_cb; o.progress_ctx = &s;
            remove(ckpath);
            ffr_net *net = make_net((ffr_train_method)m);
            ffr_err err;
            int stopped = 0;
            if (ffr_train((ffr_train_method)m, net, x, NX, &o, &stopped, &err) || !stopped)
                FZ_DIE("seed run %s: %s", names[m], err.msg);
            ffr_net_free(net);
            FILE *f = fopen(ckpath, "rb");
            if (!f) FZ_DIE("no checkpoint written");
            uint8_t buf[8192];
            size_t got = fread(buf, 1, sizeof buf, f);
            fclose(f);
            char out[800];
            snprintf(out, sizeof out, "%s/%s-layer%d-epoch1", dir, names[m], m == FFR_TRAIN_DENDRITIC ? 0 : layer);
            fz_write_file(out, buf, got);
        }
}

static void one(const uint8_t *d, size_t n) {
    if (n < 20) return;
    uint32_t method;
    memcpy(&method, d + 16, 4);
    if (method > FFR_TRAIN_DENDRITIC) method = FFR_TRAIN_SAE; /* the reader still refuses it */
    fz_write_file(ckpath, d, n);
    ffr_net *net = make_net((ffr_train_method)method);
    ffr_err err;
    err.msg[0] = 0;
    ffr_train_ckpt c;
    ffr_status st = ffr_train_ckpt_load(ckpath, net, &c, &err);
    if (st) {
        if (!err.msg[0]) FZ_DIE("checkpoint load failed with an empty message");
        if (c.extra || c.opt.m || c.opt.v) FZ_DIE("failed load left allocations behind");
        ffr_net_free(net);
        return;
    }
    if (c.layer < 0 || c.layer > net->L || c.epoch < 0) FZ_DIE("loaded layer %d epoch %d", c.layer, c.epoch);
    ffr_train_ckpt_free(&c);
    ffr_net_free(net);
    /* resume from it: every outcome but a crash is fine (the epochs are capped at 2) */
    net = make_net((ffr_train_method)method);
    ffr_train_opts o;
    make_opts(&o, (ffr_train_method)method);
    o.resume = 1;
    err.msg[0] = 0;
    st = ffr_train((ffr_train_method)method, net, x, NX, &o, NULL, &err);
    if (st && !err.msg[0]) FZ_DIE("resume failed with an empty message");
    ffr_net_free(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (!ckpath[0]) {
        setup();
        const char *seeds = getenv("FFR_FUZZ_CKPT_SEEDS");
        if (seeds) { write_seeds(seeds); fz_cleanup_(); _exit(0); } /* not exit: libFuzzer would call it a crash */
    }
    if (n > 8192) return 0;
    fz_try_crc_fixed(d, n, one);
    return 0;
}
