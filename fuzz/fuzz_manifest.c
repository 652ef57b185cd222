/* fuzz_manifest.c - libFuzzer target: the manifest of a set of files in a
 * folder (src/fileset.c, doc/formats.md "Sets of files in a folder"), read by
 * ffr_set_verify and by the readers that check it (ffr_net_import_npy).
 *
 * The folder holds a fixed, valid model set (W1.npy b1.npy c0.npy of a tied
 * 3-2 network, written once by ffr_set_begin/ffr_set_npy/ffr_set_commit); the
 * input replaces its model-set.manifest. A failed verify must have a message
 * and leave no lock held (*lock == -1); a passing one holds a lock that
 * ffr_dir_unlock releases; import must return a network that passes
 * ffr_net_check or an error with a message. With FFR_FUZZ_MANIFEST_SEEDS=DIR
 * the target writes the set's own manifest into DIR as a seed and exits. */
#include "fuzz_util.h" /* first: it defines _GNU_SOURCE */
#include "ffrelax.h"

static char setdir[600], mpath[700];

static void make_set(void) {
    snprintf(setdir, sizeof setdir, "%s/set", fz_tmpdir());
    mkdir(setdir, 0777);
    snprintf(mpath, sizeof mpath, "%s/model-set.manifest", setdir);
    static const float w[6] = {0.5f, -0.25f, 1.0f, 0.125f, -1.0f, 0.75f}, b[2] = {0.1f, -0.2f}, c[3] = {0, 0.3f, -0.3f};
    const size_t sw[2] = {2, 3}, sb[1] = {2}, sc[1] = {3};
    ffr_err err;
    ffr_set *s;
    if (ffr_set_begin(&s, setdir, "model", &err) || ffr_set_npy(s, "W1.npy", w, 'f', 2, sw, &err) ||
        ffr_set_npy(s, "b1.npy", b, 'f', 1, sb, &err) || ffr_set_npy(s, "c0.npy", c, 'f', 1, sc, &err) ||
        ffr_set_commit(s, &err))
        FZ_DIE("cannot write the set: %s", err.msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    make_set();
    const char *seeds = getenv("FFR_FUZZ_MANIFEST_SEEDS");
    if (seeds) {
        FILE *f = fopen(mpath, "rb");
        if (!f) FZ_DIE("no manifest written");
        static uint8_t buf[65536];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        char p[4200];
        snprintf(p, sizeof p, "%s/model-3-2", seeds);
        fz_write_file(p, buf, n);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    fz_write_file(mpath, d, n);
    ffr_err err;
    int lock = 12345;
    if (ffr_set_verify(setdir, "model", &lock, &err)) {
        if (!err.msg[0]) FZ_DIE("verify: failure with an empty message");
        if (lock != -1) FZ_DIE("verify: failure left lock %d", lock);
    } else {
        if (lock < 0) FZ_DIE("verify: success without a lock");
        ffr_dir_unlock(lock);
    }
    ffr_net *net = NULL;
    if (!ffr_net_import_npy(&net, setdir, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &err)) {
        if (ffr_net_check(net, &err)) FZ_DIE("imported network fails check: %s", err.msg);
        ffr_net_free(net);
    } else {
        if (net) FZ_DIE("failed import returned a network");
        if (!err.msg[0]) FZ_DIE("import: failure with an empty message");
    }
    return 0;
}
