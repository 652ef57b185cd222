/* test_oom.c - out of memory from every public entry point that allocates
 * (issue 11): the library's allocation limit (ffr_alloc_fail_after) is swept
 * from 0 upward until the call succeeds; every failing call must return a
 * clean status (FFR_ERR_NOMEM, or another error) with a message, free what it
 * made (LeakSanitizer checks at exit under make check-asan; valgrind under
 * make valgrind) and leave no temporary file beside its outputs. Small nets,
 * few examples: the quick tier. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ffrelax.h"
#include "internal.h"
#include "minitest.h"

static char dir[256];              /* a fresh temporary folder */
static ffr_net *net_d, *net_b, *net_h; /* dendritic 6-5-4, boltzmann 6-5-4 tied, hopfield 6-5-3 tied */
static float *xs;                  /* 12 x 6 examples in [0, 1] */
static unsigned char ys[12];       /* labels 0..2 */
enum { NX = 12, NV = 6 };

static const char *P(const char *name) {
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* Entries of dir whose name contains ".tmp" (a writer's leftover). */
static int temporaries(void) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n += strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    return n;
}

/* The sweep: fn runs the entry point (and frees what it got, whatever the
 * status); allocates: it must allocate (else the sweep would be vacuous). */
typedef ffr_status (*oom_fn)(ffr_err *e);
static void sweep(const char *name, oom_fn fn, long max, int allocates) {
    long lim, fails = 0, nomem = 0;
    ffr_status rc = FFR_ERR_NOMEM;
    for (lim = 0; lim < max; lim++) {
        ffr_err e;
        memset(&e, 0, sizeof e);
        ffr_alloc_fail_after(lim);
        rc = fn(&e);
        ffr_alloc_fail_after(-1);
        if (rc == FFR_OK) break;
        fails++;
        nomem += rc == FFR_ERR_NOMEM;
        CHECKF(e.msg[0] != 0, "%s: limit %ld: status %d without a message", name, lim, (int)rc);
        CHECKF(rc == FFR_ERR_NOMEM || rc == FFR_ERR_IO || rc == FFR_ERR_FORMAT || rc == FFR_ERR_ARG,
               "%s: limit %ld: status %d (%s)", name, lim, (int)rc, e.msg);
    }
    CHECKF(rc == FFR_OK, "%s: never succeeded within %ld allocations", name, max);
    CHECKF(!allocates || (fails > 0 && nomem > 0), "%s: no allocation failed (vacuous: %ld fails)", name, fails);
    CHECKF(temporaries() == 0, "%s: temporary files left in %s", name, dir);
    printf("  %-28s %4ld limits failed cleanly (%ld NOMEM)\n", name, fails, nomem);
}

/* ---- the entry points */
static ffr_status f_net_create(ffr_err *e) {
    ffr_net *n;
    int sz[] = {6, 5, 4};
    ffr_status rc = ffr_net_create(&n, 2, sz, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, e);
    if (!rc) ffr_net_free(n);
    return rc;
}
static ffr_status f_net_clone(ffr_err *e) {
    ffr_net *n;
    ffr_status rc = ffr_net_clone(&n, net_d, e);
    if (!rc) ffr_net_free(n);
    return rc;
}
static ffr_status f_net_save(ffr_err *e) { return ffr_net_save(net_d, P("m.ffr"), e); }
static ffr_status f_net_load(ffr_err *e) {
    ffr_net *n;
    ffr_status rc = ffr_net_load(&n, P("m.ffr"), e);
    if (!rc) ffr_net_free(n);
    return rc;
}
static ffr_status f_export(ffr_err *e) { return ffr_net_export_npy(net_d, P("npy"), e); }
static ffr_status f_import(ffr_err *e) {
    ffr_net *n;
    ffr_status rc = ffr_net_import_npy(&n, P("npy"), FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, e);
    if (!rc) ffr_net_free(n);
    return rc;
}
static ffr_status f_state(ffr_err *e) {
    ffr_state *s;
    ffr_status rc = ffr_state_create(&s, net_d, 5, e);
    if (!rc) ffr_state_free(s);
    return rc;
}
static ffr_relax_opts relax_opts(int anderson) {
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    o.max_sweeps = 20; o.anderson = anderson;
    return o;
}
static ffr_status f_relax(ffr_err *e) {
    ffr_state *s;
    ffr_status rc = ffr_state_create(&s, net_d, NX, e);
    if (rc) return rc;
    ffr_relax_opts o = relax_opts(2);
    ffr_trace *t = NULL;
    rc = ffr_relax(net_d, xs, NX, &o, s, &t, e);
    ffr_trace_free(t);
    ffr_state_free(s);
    return rc;
}
static ffr_status f_relaxer(ffr_err *e) {
    ffr_state *s;
    ffr_status rc = ffr_state_create(&s, net_b, NX, e);
    if (rc) return rc;
    ffr_relax_opts o = relax_opts(0);
    ffr_relaxer *rx = NULL;
    const ffr_trace *t;
    rc = ffr_relaxer_create(&rx, net_b, &o, NX, e);
    if (!rc) rc = ffr_relaxer_run(rx, xs, NX, s, &t, e);
    if (!rc) rc = ffr_relaxer_update(rx, e);
    ffr_relaxer_free(rx);
    ffr_state_free(s);
    return rc;
}
static ffr_status f_branches(ffr_err *e) {
    ffr_state *s;
    ffr_status rc = ffr_state_create(&s, net_d, NX, e);
    if (rc) return rc;
    ffr_feedforward(net_d, xs, NX, s);
    ffr_state *o[3] = {0};
    for (int i = 0; i < 3 && !rc; i++) rc = ffr_state_create(&o[i], net_d, NX, e);
    if (!rc && (rc = ffr_branches(net_d, s, o[0]->s, o[1]->s, o[2]->s)))
        ffr_fail(e, rc, "ffr_branches: out of memory");
    for (int i = 0; i < 3; i++) ffr_state_free(o[i]);
    ffr_state_free(s);
    return rc;
}
static ffr_status f_npy(ffr_err *e) {
    size_t shape[4] = {NX, NV, 1, 1};
    ffr_status rc = ffr_npy_write(P("x.npy"), xs, 'f', 2, shape, e);
    if (rc) return rc;
    float *d = NULL;
    int nd;
    rc = ffr_npy_read(P("x.npy"), &d, &nd, shape, e);
    free(d);
    return rc;
}
static ffr_status f_idx(ffr_err *e) {
    unsigned char pix[NX * NV];
    for (int i = 0; i < NX * NV; i++) pix[i] = (unsigned char)(i * 7);
    ffr_status rc = FFR_OK;
    for (int gz = 0; gz < 2 && !rc; gz++) {
        const char *im = gz ? P("i.gz") : P("i.idx"), *lb = gz ? P("l.gz") : P("l.idx");
        float *x = NULL;
        unsigned char *y = NULL;
        size_t c, r, cl, dim;
        rc = ffr_idx_write_images(im, pix, NX, 2, 3, gz, e);
        if (!rc) rc = ffr_idx_write_labels(lb, ys, NX, gz, e);
        if (!rc) rc = ffr_idx_read_images(im, &x, &c, &r, &cl, e);
        free(x); x = NULL;
        if (!rc) rc = ffr_idx_read_labels(lb, &y, &c, e);
        free(y);
        if (!rc) rc = ffr_data_load(im, &x, &c, &dim, e);
        free(x);
    }
    return rc;
}
static ffr_status f_mnist_load(ffr_err *e) {
    float *x = NULL;
    unsigned char *y = NULL;
    size_t n;
    ffr_status rc = ffr_mnist_load(P("mnist"), 1, &x, &y, &n, e);
    free(x); free(y);
    return rc;
}
static ffr_status f_mnist_convert(ffr_err *e) { return ffr_mnist_json_convert(P("pkg"), P("conv"), e); }

static void train_opts(ffr_train_opts *o, ffr_train_method m, const char *ckpt) {
    ffr_train_opts_default(o, m);
    o->epochs = 2; o->batch = 5; o->seed = 3;
    o->holdout = xs; o->n_holdout = 4;
    o->checkpoint = ckpt;
    o->relax.max_sweeps = 10;
}
static ffr_status trainer(ffr_train_method m, ffr_net *src, ffr_err *e) {
    ffr_net *n;
    ffr_status rc = ffr_net_clone(&n, src, e);
    if (rc) return rc;
    ffr_train_opts o;
    train_opts(&o, m, P("t.ckpt"));
    unlink(P("t.ckpt"));
    rc = ffr_train(m, n, xs, NX, &o, NULL, e);
    if (!rc) { /* resume from the checkpoint just written (one more epoch) */
        o.epochs = 3; o.resume = 1;
        rc = ffr_train(m, n, xs, NX, &o, NULL, e);
    }
    ffr_net_free(n);
    return rc;
}
static ffr_status f_sae(ffr_err *e) { return trainer(FFR_TRAIN_SAE, net_d, e); }
static ffr_status f_rbm(ffr_err *e) { return trainer(FFR_TRAIN_RBM, net_b, e); }
static ffr_status f_dendritic(ffr_err *e) { return trainer(FFR_TRAIN_DENDRITIC, net_d, e); }
static ffr_status f_ep(ffr_err *e) {
    ffr_net *n;
    ffr_status rc = ffr_net_clone(&n, net_h, e);
    if (rc) return rc;
    ffr_ep_opts eo;
    ffr_train_opts o;
    ffr_ep_opts_default(&eo, &o);
    o.epochs = 2; o.batch = 5; o.checkpoint = P("ep.ckpt");
    eo.relax.max_sweeps = 10;
    eo.test_x = xs; eo.test_y = ys; eo.n_test = 4;
    unlink(P("ep.ckpt"));
    rc = ffr_train_ep(n, xs, ys, NX, &eo, &o, NULL, e);
    if (!rc) { o.epochs = 3; o.resume = 1; rc = ffr_train_ep(n, xs, ys, NX, &eo, &o, NULL, e); }
    ffr_net_free(n);
    return rc;
}
static ffr_status f_ep_eval(ffr_err *e) {
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    o.max_sweeps = 10;
    ffr_ep_eval r;
    return ffr_ep_evaluate(net_h, xs, ys, NX, &o, &r, e);
}
static ffr_status f_metrics(ffr_err *e) {
    ffr_train_metrics m;
    return ffr_train_metrics_compute(net_d, xs, NX, 1, &m, e);
}
static ffr_status f_ckpt(ffr_err *e) {
    ffr_train_ckpt c;
    memset(&c, 0, sizeof c);
    c.method = FFR_TRAIN_SAE; c.layer = 1; c.epoch = 1; c.n = NX; c.batch = 5; c.seed = 1;
    ffr_status rc = ffr_optim_init(&c.opt, FFR_OPT_ADAM, net_d->nparams, e);
    if (rc) return rc;
    c.opt.lr = 1e-3; c.opt.beta1 = 0.9; c.opt.beta2 = 0.999; c.opt.eps = 1e-8;
    rc = ffr_train_ckpt_save(P("c.ckpt"), net_d, &c, e);
    ffr_train_ckpt_free(&c);
    if (rc) return rc;
    ffr_net *n;
    if ((rc = ffr_net_clone(&n, net_d, e))) return rc;
    ffr_train_ckpt d;
    rc = ffr_train_ckpt_load(P("c.ckpt"), n, &d, e);
    if (!rc) ffr_train_ckpt_free(&d);
    ffr_net_free(n);
    return rc;
}
static ffr_status f_files(ffr_err *e) {
    ffr_out *o;
    ffr_status rc = ffr_out_check(P("o.txt"), e);
    if (!rc) rc = ffr_out_open(&o, P("o.txt"), e);
    if (rc) return rc;
    rc = ffr_out_printf(o, e, "%s %d\n", "hello", 42);
    if (rc) { ffr_out_abort(o); return rc; }
    if ((rc = ffr_out_commit(o, e))) return rc;
    char *buf = NULL;
    size_t len;
    rc = ffr_read_file(P("o.txt"), 1000, &buf, &len, e);
    free(buf);
    int lk;
    if (!rc && !(rc = ffr_dir_lock(dir, &lk, e))) ffr_dir_unlock(lk);
    return rc;
}
static ffr_status f_optim(ffr_err *e) {
    ffr_optim o;
    ffr_status rc = ffr_optim_init(&o, FFR_OPT_ADAM, 1000, e);
    if (!rc) ffr_optim_free(&o);
    return rc;
}

static ffr_net *mk(int L, const int *n, ffr_rule rule, ffr_rho rho, int tied, uint64_t seed) {
    ffr_net *net;
    ffr_err e;
    if (ffr_net_create(&net, L, n, rule, rho, tied, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    if (rule == FFR_RULE_HOPFIELD) ffr_net_init_fanin(net, seed, 1.0f);
    else ffr_net_init_glorot(net, seed, 1.0f);
    return net;
}

/* A json package of 10 digit files (2 digits each) and an IDX MNIST folder. */
static void make_data(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/pkg", dir); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/pkg/src", dir); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/pkg/src/digits", dir); mkdir(path, 0755);
    for (int d = 0; d < 10; d++) {
        snprintf(path, sizeof path, "%s/pkg/src/digits/%d.json", dir, d);
        FILE *f = fopen(path, "w");
        fputs("{\"data\": [", f);
        for (int i = 0; i < 2 * 784; i++) fprintf(f, "%s%g", i ? "," : "", (i * 13 % 256) / 255.0);
        fputs("]}", f);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/mnist", dir); mkdir(path, 0755);
    unsigned char *pix = malloc(7 * 784), lab[7];
    for (int i = 0; i < 7 * 784; i++) pix[i] = (unsigned char)(i * 5);
    for (int i = 0; i < 7; i++) lab[i] = (unsigned char)i;
    ffr_err e;
    snprintf(path, sizeof path, "%s/mnist/train-images-idx3-ubyte.gz", dir);
    CHECK(ffr_idx_write_images(path, pix, 7, 28, 28, 1, &e) == FFR_OK);
    snprintf(path, sizeof path, "%s/mnist/train-labels-idx1-ubyte.gz", dir);
    CHECK(ffr_idx_write_labels(path, lab, 7, 1, &e) == FFR_OK);
    free(pix);
}

int main(void) {
    /* tmpfs when there is one: the checkpoints' fsyncs cost nothing there */
    struct stat sb;
    snprintf(dir, sizeof dir, "%s/ffr_oom_XXXXXX", stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    int nd[] = {NV, 5, 4}, nh[] = {NV, 5, 3};
    net_d = mk(2, nd, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 5);
    net_b = mk(2, nd, FFR_RULE_BOLTZMANN, FFR_RHO_SIGMOID, 1, 6);
    net_h = mk(2, nh, FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 1, 7);
    xs = malloc(sizeof(float) * NX * NV);
    ffr_rng r;
    ffr_rng_seed(&r, 9);
    for (int i = 0; i < NX * NV; i++) xs[i] = (float)ffr_rng_uniform(&r);
    for (int i = 0; i < NX; i++) ys[i] = (unsigned char)(i % 3);
    make_data();

    sweep("ffr_net_create", f_net_create, 1000, 1);
    sweep("ffr_net_clone", f_net_clone, 1000, 1);
    sweep("ffr_net_save", f_net_save, 1000, 0);
    sweep("ffr_net_load", f_net_load, 1000, 1);
    sweep("ffr_net_export_npy", f_export, 1000, 0);
    sweep("ffr_net_import_npy", f_import, 1000, 1);
    sweep("ffr_state_create", f_state, 1000, 1);
    sweep("ffr_relax", f_relax, 2000, 1);
    sweep("ffr_relaxer_create/run/update", f_relaxer, 2000, 1);
    sweep("ffr_branches", f_branches, 1000, 1);
    sweep("ffr_npy_write/read", f_npy, 1000, 1);
    sweep("ffr_idx_*, ffr_data_load", f_idx, 1000, 1);
    sweep("ffr_mnist_load", f_mnist_load, 1000, 1);
    sweep("ffr_mnist_json_convert", f_mnist_convert, 1000, 1);
    sweep("ffr_optim_init", f_optim, 1000, 1);
    sweep("ffr_train_ckpt_save/load", f_ckpt, 1000, 1);
    sweep("ffr_train_metrics_compute", f_metrics, 5000, 1);
    sweep("ffr_train_sae (+resume)", f_sae, 20000, 1);
    sweep("ffr_train_rbm (+resume)", f_rbm, 20000, 1);
    sweep("ffr_train_dendritic (+resume)", f_dendritic, 20000, 1);
    sweep("ffr_train_ep (+resume)", f_ep, 20000, 1);
    sweep("ffr_ep_evaluate", f_ep_eval, 5000, 1);
    sweep("files API", f_files, 1000, 1);

    ffr_net_free(net_d); ffr_net_free(net_b); ffr_net_free(net_h);
    free(xs);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    MT_DONE("test_oom");
}
