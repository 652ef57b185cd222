/* test_api.c - every public function of include/ffrelax.h called with bad
 * arguments (issue 14, class 11): NULL pointers, sizes out of range, a state
 * smaller than the network, unknown enum values, NaN and out-of-range options.
 * Each returns an error status with a message (never a crash, an abort or a
 * heap overflow: run under make check-asan), or, for the functions the header
 * marks as having no status, does nothing harmful (NULL is a no-op). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ffrelax.h"
#include "minitest.h"

static ffr_err e;
/* A refused call: an error status and a message. */
#define BAD(call) do { memset(&e, 0, sizeof e); ffr_status _rc = (call); \
    CHECKF(_rc != FFR_OK && e.msg[0], "%s: status %d, message '%s'", #call, (int)_rc, e.msg); } while (0)
/* The same for functions without an ffr_err: only the status. */
#define BADRC(call) do { ffr_status _rc = (call); CHECKF(_rc != FFR_OK, "%s: accepted", #call); } while (0)

static ffr_net *mk(int L, const int *n, ffr_rule rule, ffr_rho rho, int tied) {
    ffr_net *net;
    if (ffr_net_create(&net, L, n, rule, rho, tied, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    ffr_net_init_glorot(net, 1, 1.0f);
    return net;
}

static void test_net(void) {
    int n[] = {6, 5, 4}, neg[] = {6, -1, 4};
    ffr_net *net = NULL;
    BAD(ffr_net_create(NULL, 2, n, FFR_RULE_DENDRITIC, FFR_RHO_SIGMOID, 0, &e));
    BAD(ffr_net_create(&net, 2, NULL, FFR_RULE_DENDRITIC, FFR_RHO_SIGMOID, 0, &e));
    BAD(ffr_net_create(&net, 0, n, FFR_RULE_DENDRITIC, FFR_RHO_SIGMOID, 0, &e));
    BAD(ffr_net_create(&net, FFR_MAX_LAYERS, n, FFR_RULE_DENDRITIC, FFR_RHO_SIGMOID, 0, &e));
    BAD(ffr_net_create(&net, 2, neg, FFR_RULE_DENDRITIC, FFR_RHO_SIGMOID, 0, &e));
    BAD(ffr_net_create(&net, 2, n, (ffr_rule)7, FFR_RHO_SIGMOID, 0, &e));
    BAD(ffr_net_create(&net, 2, n, FFR_RULE_DENDRITIC, (ffr_rho)-1, 0, &e));
    CHECK(net == NULL);
    ffr_net_free(NULL);
    ffr_net_init_glorot(NULL, 1, 1.f);
    ffr_net_init_fanin(NULL, 1, 1.f);
    BAD(ffr_net_clone(NULL, NULL, &e));
    BAD(ffr_net_clone(&net, NULL, &e));
    BAD(ffr_net_check(NULL, &e));
    CHECK(ffr_rule_name((ffr_rule)99) != NULL && ffr_rho_name((ffr_rho)99) != NULL);
    CHECK(ffr_init_name((ffr_init)99) && ffr_schedule_name((ffr_schedule)99) && ffr_precision_name((ffr_precision)99));
    CHECK(ffr_optimizer_name((ffr_optimizer)99) && ffr_train_method_name((ffr_train_method)99) && ffr_target_name((ffr_target)99));
    CHECK(ffr_nudge_name((ffr_nudge)99) && ffr_ep_start_name((ffr_ep_start)99) && ffr_status_str((ffr_status)99));
    ffr_rule r; ffr_rho h; ffr_init in; ffr_schedule sc; ffr_precision p; ffr_optimizer op; ffr_train_method m;
    ffr_target t; ffr_nudge nu; ffr_ep_start es;
    CHECK(ffr_rule_parse(NULL, &r) && ffr_rule_parse("dendritic", NULL) && ffr_rho_parse(NULL, &h) && ffr_rho_parse("x", &h));
    CHECK(ffr_init_parse(NULL, &in) && ffr_schedule_parse(NULL, &sc) && ffr_precision_parse(NULL, &p));
    CHECK(ffr_optimizer_parse(NULL, &op) && ffr_train_method_parse(NULL, &m) && ffr_target_parse(NULL, &t));
    CHECK(ffr_nudge_parse(NULL, &nu) && ffr_ep_start_parse(NULL, &es) && ffr_nudge_parse("x", NULL));
    CHECK(isnan(ffr_rho_value((ffr_rho)99, 0.5f)));
    net = mk(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0);
    CHECK(isnan(ffr_net_V_at(net, 0, 0, 0)) && isnan(ffr_net_V_at(net, 3, 0, 0)) && isnan(ffr_net_V_at(net, 1, 6, 0)));
    CHECK(isnan(ffr_net_V_at(NULL, 1, 0, 0)));
    /* a corrupted network: ffr_net_check names it */
    ffr_net bad = *net;
    bad.rule = (ffr_rule)9;
    BAD(ffr_net_check(&bad, &e));
    bad = *net; bad.L = 0;
    BAD(ffr_net_check(&bad, &e));
    bad = *net; bad.params = NULL;
    BAD(ffr_net_check(&bad, &e));
    ffr_net *o2 = NULL;
    BAD(ffr_net_save(NULL, "/tmp/x", &e));
    BAD(ffr_net_save(net, NULL, &e));
    BAD(ffr_net_load(NULL, "/tmp/x", &e));
    BAD(ffr_net_load(&o2, NULL, &e));
    BAD(ffr_net_import_npy(NULL, "/tmp", FFR_RULE_DENDRITIC, FFR_RHO_SIGMOID, 0, &e));
    BAD(ffr_net_import_npy(&o2, NULL, FFR_RULE_DENDRITIC, FFR_RHO_SIGMOID, 0, &e));
    BAD(ffr_net_import_npy(&o2, "/tmp", (ffr_rule)5, FFR_RHO_SIGMOID, 0, &e));
    BAD(ffr_net_export_npy(NULL, "/tmp", &e));
    BAD(ffr_net_export_npy(net, NULL, &e));
    /* err may be NULL everywhere: the status alone */
    CHECK(ffr_net_check(NULL, NULL) == FFR_ERR_ARG);
    ffr_net_free(net);
}

static void test_state_relax(void) {
    int n[] = {6, 5, 4}, small[] = {6, 5}, narrow[] = {6, 3, 4};
    ffr_net *net = mk(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0);
    ffr_net *n1 = mk(1, small, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0);
    ffr_net *nn = mk(2, narrow, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0);
    ffr_state *st = NULL, *s1, *sn, *s4;
    BAD(ffr_state_create(NULL, net, 4, &e));
    BAD(ffr_state_create(&st, NULL, 4, &e));
    BAD(ffr_state_create(&st, net, 0, &e));
    BAD(ffr_state_create(&st, net, -3, &e));
    ffr_state_free(NULL);
    CHECK(ffr_state_create(&st, net, 8, &e) == FFR_OK);
    CHECK(ffr_state_create(&s1, n1, 8, &e) == FFR_OK && ffr_state_create(&sn, nn, 8, &e) == FFR_OK);
    CHECK(ffr_state_create(&s4, net, 4, &e) == FFR_OK);
    float x[8 * 6];
    for (int i = 0; i < 8 * 6; i++) x[i] = (float)(i % 7) / 7.f;
    /* feedforward and branches: no ffr_err, the status alone */
    BADRC(ffr_feedforward(NULL, x, 8, st));
    BADRC(ffr_feedforward(net, NULL, 8, st));
    BADRC(ffr_feedforward(net, x, 8, NULL));
    BADRC(ffr_feedforward(net, x, 0, st));
    BADRC(ffr_feedforward(net, x, 8, s1)); /* fewer layers */
    BADRC(ffr_feedforward(net, x, 8, sn)); /* fewer units */
    BADRC(ffr_feedforward(net, x, 8, s4)); /* fewer examples */
    CHECK(ffr_feedforward(net, x, 4, st) == FFR_OK); /* fewer examples than the state: fine */
    BADRC(ffr_branches(NULL, st, NULL, NULL, NULL));
    BADRC(ffr_branches(net, NULL, NULL, NULL, NULL));
    BADRC(ffr_branches(net, s1, st->s, NULL, NULL));
    double E[8];
    CHECK(ffr_energy(NULL, st, E) < 0 && ffr_energy(net, NULL, E) < 0 && ffr_energy(net, st, NULL) < 0);
    CHECK(ffr_energy(net, s1, E) < 0);
    /* relax options */
    ffr_relax_opts o;
    ffr_relax_opts_default(NULL);
    ffr_relax_opts_default(&o);
    ffr_trace *tr = NULL;
    BAD(ffr_relax(NULL, x, 8, &o, st, &tr, &e));
    BAD(ffr_relax(net, NULL, 8, &o, st, &tr, &e));
    BAD(ffr_relax(net, x, 8, NULL, st, &tr, &e));
    BAD(ffr_relax(net, x, 8, &o, NULL, &tr, &e));
    BAD(ffr_relax(net, x, 8, &o, s1, &tr, &e));
    BAD(ffr_relax(net, x, 8, &o, sn, &tr, &e));
    BAD(ffr_relax(net, x, 0, &o, st, &tr, &e));
#define BADOPT(field, val) do { ffr_relax_opts_default(&o); o.field = val; BAD(ffr_relax(net, x, 8, &o, st, &tr, &e)); \
    ffr_relaxer *rx_ = NULL; BAD(ffr_relaxer_create(&rx_, net, &o, 8, &e)); CHECK(rx_ == NULL); } while (0)
    BADOPT(tol_mode, (ffr_tol_mode)7);
    BADOPT(schedule, (ffr_schedule)9);
    BADOPT(init, (ffr_init)9);
    BADOPT(precision, (ffr_precision)9);
    BADOPT(tol, NAN);
    BADOPT(tol, -1);
    BADOPT(eps, NAN);
    BADOPT(eps, 2);
    BADOPT(temperature, NAN);
    BADOPT(diverge_factor, NAN);
    BADOPT(diverge_factor, -1);
    BADOPT(max_sweeps, -1);
    BADOPT(anderson, 99);
    BADOPT(beta, NAN);
    BADOPT(threads, -2);
    BADOPT(measure_every, -5);
    ffr_relax_opts_default(&o);
    o.init = FFR_INIT_GIVEN;
    CHECK(ffr_relax(net, x, 8, &o, st, &tr, &e) == FFR_OK || e.msg[0]);
    ffr_trace_free(tr); tr = NULL;
    ffr_trace_free(NULL);
    /* the relaxer */
    ffr_relax_opts_default(&o);
    ffr_relaxer *rx = NULL;
    BAD(ffr_relaxer_create(NULL, net, &o, 8, &e));
    BAD(ffr_relaxer_create(&rx, NULL, &o, 8, &e));
    BAD(ffr_relaxer_create(&rx, net, NULL, 8, &e));
    BAD(ffr_relaxer_create(&rx, net, &o, 0, &e));
    CHECK(ffr_relaxer_create(&rx, net, &o, 8, &e) == FFR_OK);
    const ffr_trace *ct;
    BAD(ffr_relaxer_run(NULL, x, 8, st, &ct, &e));
    BAD(ffr_relaxer_run(rx, NULL, 8, st, &ct, &e));
    BAD(ffr_relaxer_run(rx, x, 8, NULL, &ct, &e));
    BAD(ffr_relaxer_run(rx, x, 9, st, &ct, &e));
    BAD(ffr_relaxer_run(rx, x, 8, s1, &ct, &e));
    BAD(ffr_relaxer_run(rx, x, 8, sn, &ct, &e));
    BAD(ffr_relaxer_run(rx, x, 8, s4, &ct, &e));
    BAD(ffr_relaxer_set_opts(NULL, &o, &e));
    BAD(ffr_relaxer_set_opts(rx, NULL, &e));
    o.tol_mode = (ffr_tol_mode)5;
    BAD(ffr_relaxer_set_opts(rx, &o, &e));
    BAD(ffr_relaxer_update(NULL, &e));
    ffr_relaxer_free(rx);
    ffr_relaxer_free(NULL);
    ffr_relaxer_same_input(NULL);
    ffr_state_free(st); ffr_state_free(s1); ffr_state_free(sn); ffr_state_free(s4);
    ffr_net_free(net); ffr_net_free(n1); ffr_net_free(nn);
}

static void test_io(void) {
    float *d = NULL;
    int nd;
    size_t shape[4] = {2, 3, 1, 1}, c, r, cl, dim;
    float v[6] = {0};
    unsigned char *y = NULL, pix[6] = {0};
    BAD(ffr_npy_read(NULL, &d, &nd, shape, &e));
    BAD(ffr_npy_read("/tmp/x.npy", NULL, &nd, shape, &e));
    BAD(ffr_npy_read("/tmp/x.npy", &d, NULL, shape, &e));
    BAD(ffr_npy_read("/tmp/x.npy", &d, &nd, NULL, &e));
    BAD(ffr_npy_write(NULL, v, 'f', 2, shape, &e));
    BAD(ffr_npy_write("/tmp/ffr_api_x.npy", NULL, 'f', 2, shape, &e));
    BAD(ffr_npy_write("/tmp/ffr_api_x.npy", v, 'z', 2, shape, &e));
    BAD(ffr_npy_write("/tmp/ffr_api_x.npy", v, 'f', 5, shape, &e));
    BAD(ffr_npy_write("/tmp/ffr_api_x.npy", v, 'f', -1, shape, &e));
    BAD(ffr_npy_write("/tmp/ffr_api_x.npy", v, 'f', 2, NULL, &e));
    BAD(ffr_idx_read_images(NULL, &d, &c, &r, &cl, &e));
    BAD(ffr_idx_read_images("/tmp/x", NULL, &c, &r, &cl, &e));
    BAD(ffr_idx_read_images("/tmp/x", &d, NULL, &r, &cl, &e));
    BAD(ffr_idx_read_labels(NULL, &y, &c, &e));
    BAD(ffr_idx_read_labels("/tmp/x", NULL, &c, &e));
    BAD(ffr_idx_write_images(NULL, pix, 1, 2, 3, 0, &e));
    BAD(ffr_idx_write_images("/tmp/ffr_api_i", NULL, 1, 2, 3, 0, &e));
    BAD(ffr_idx_write_labels(NULL, pix, 1, 0, &e));
    BAD(ffr_idx_write_labels("/tmp/ffr_api_l", NULL, 1, 0, &e));
    BAD(ffr_data_load(NULL, &d, &c, &dim, &e));
    BAD(ffr_data_load("/tmp/x", NULL, &c, &dim, &e));
    BAD(ffr_data_peek(NULL, &c, &dim, &e));
    BAD(ffr_data_peek("/tmp/x", NULL, &dim, &e));
    BAD(ffr_mnist_json_convert(NULL, "/tmp", &e));
    BAD(ffr_mnist_json_convert("/tmp", NULL, &e));
    BAD(ffr_mnist_load(NULL, 1, &d, &y, &c, &e));
    BAD(ffr_mnist_load("/tmp", 1, NULL, &y, &c, &e));
    /* files */
    ffr_out *o = NULL;
    BAD(ffr_out_open(NULL, "/tmp/x", &e));
    BAD(ffr_out_open(&o, NULL, &e));
    BAD(ffr_out_open(&o, "", &e));
    BAD(ffr_out_write(NULL, "x", 1, &e));
    BAD(ffr_out_printf(NULL, &e, "x"));
    BAD(ffr_out_commit(NULL, &e));
    ffr_out_abort(NULL);
    ffr_out_nosync(NULL);
    CHECK(ffr_out_path(NULL) != NULL);
    BAD(ffr_out_check(NULL, &e));
    BAD(ffr_out_check("", &e));
    CHECK(ffr_file_same(NULL, "/tmp") == 0 && ffr_file_same("/tmp", NULL) == 0);
    char *buf = NULL;
    size_t len;
    BAD(ffr_read_file(NULL, 10, &buf, &len, &e));
    BAD(ffr_read_file("/etc/hostname", 10, NULL, &len, &e));
    int lk;
    BAD(ffr_dir_lock(NULL, &lk, &e));
    BAD(ffr_dir_lock("/tmp", NULL, &e));
    ffr_dir_unlock(-1);
    ffr_set *set = NULL;
    float one = 1;
    size_t sh1 = 1;
    BAD(ffr_set_begin(NULL, "/tmp", "model", &e));
    BAD(ffr_set_begin(&set, NULL, "model", &e));
    BAD(ffr_set_begin(&set, "/tmp", NULL, &e));
    BAD(ffr_set_begin(&set, "/tmp", "states", &e));
    CHECK(set == NULL);
    BAD(ffr_set_npy(NULL, "W1.npy", &one, 'f', 1, &sh1, &e));
    BAD(ffr_set_commit(NULL, &e));
    ffr_set_abort(NULL);
    BAD(ffr_set_verify(NULL, "model", &lk, &e));
    BAD(ffr_set_verify("/tmp", "x", &lk, &e));
    BAD(ffr_set_verify("/tmp", "model", NULL, &e));
    CHECK(ffr_threads_shortfall(NULL, NULL, NULL) == 0); /* nothing fell short here; NULLs are fine */
    CHECK(ffr_crc32(0, NULL, 0) == 0);
}

static void test_train(void) {
    int n[] = {6, 5, 3};
    ffr_net *net = mk(2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0);
    ffr_net *hop = mk(2, n, FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 1);
    float x[10 * 6];
    unsigned char y[10];
    for (int i = 0; i < 60; i++) x[i] = (float)(i % 5) / 5.f;
    for (int i = 0; i < 10; i++) y[i] = (unsigned char)(i % 3);
    /* the optimizer */
    ffr_optim op;
    BAD(ffr_optim_init(NULL, FFR_OPT_SGD, 10, &e));
    BAD(ffr_optim_init(&op, (ffr_optimizer)9, 10, &e));
    CHECK(ffr_optim_init(&op, FFR_OPT_ADAM, 10, &e) == FFR_OK);
    float p[10] = {0}, g[10] = {0};
    ffr_optim_tick(&op);
    BADRC(ffr_optim_step(&op, p, g, 5, 6, 0)); /* past the end: refused, not an abort */
    BADRC(ffr_optim_step(&op, p, g, (size_t)-1, 2, 0));
    BADRC(ffr_optim_step(NULL, p, g, 0, 1, 0));
    BADRC(ffr_optim_step(&op, NULL, g, 0, 1, 0));
    BADRC(ffr_optim_step_ref(&op, p, g, 5, 6, 0));
    op.t = 0;
    BADRC(ffr_optim_step(&op, p, g, 0, 10, 0)); /* Adam before the first tick */
    ffr_optim_free(&op);
    ffr_optim_free(NULL);
    ffr_optim_reset(NULL);
    ffr_optim_tick(NULL);
    /* the trainers */
    ffr_train_opts o;
    ffr_train_opts_default(NULL, FFR_TRAIN_SAE);
    ffr_train_opts_default(&o, FFR_TRAIN_SAE);
    o.epochs = 1;
    BAD(ffr_train_sae(NULL, x, 10, &o, NULL, &e));
    BAD(ffr_train_sae(net, NULL, 10, &o, NULL, &e));
    BAD(ffr_train_sae(net, x, 10, NULL, NULL, &e));
    BAD(ffr_train_sae(net, x, 0, &o, NULL, &e));
    BAD(ffr_train_rbm(NULL, x, 10, &o, NULL, &e));
    BAD(ffr_train_dendritic(NULL, x, 10, &o, NULL, &e));
    BAD(ffr_train((ffr_train_method)9, net, x, 10, &o, NULL, &e));
#define BADTOPT(field, val) do { ffr_train_opts_default(&o, FFR_TRAIN_SAE); o.epochs = 1; o.field = val; \
    BAD(ffr_train_sae(net, x, 10, &o, NULL, &e)); } while (0)
    BADTOPT(optimizer, (ffr_optimizer)9);
    BADTOPT(target, (ffr_target)9);
    BADTOPT(lr, NAN);
    BADTOPT(lr, -1);
    BADTOPT(momentum, NAN);
    BADTOPT(beta1, 1.5);
    BADTOPT(beta2, NAN);
    BADTOPT(adam_eps, -1);
    BADTOPT(weight_decay, NAN);
    BADTOPT(batch, 0);
    BADTOPT(epochs, -1);
    BADTOPT(threads, -1);
    BADTOPT(n_holdout, 3); /* holdout NULL with a count */
    /* metrics */
    ffr_train_metrics m;
    BAD(ffr_train_metrics_compute(NULL, x, 10, 0, &m, &e));
    BAD(ffr_train_metrics_compute(net, NULL, 10, 0, &m, &e));
    BAD(ffr_train_metrics_compute(net, x, 10, 0, NULL, &e));
    BAD(ffr_train_metrics_compute(net, x, 0, 0, &m, &e));
    /* checkpoints */
    ffr_train_ckpt ck;
    memset(&ck, 0, sizeof ck);
    BAD(ffr_train_ckpt_save(NULL, net, &ck, &e));
    BAD(ffr_train_ckpt_save("/tmp/ffr_api_ck", NULL, &ck, &e));
    BAD(ffr_train_ckpt_save("/tmp/ffr_api_ck", net, NULL, &e));
    BAD(ffr_train_ckpt_save("/tmp/ffr_api_ck", net, &ck, &e)); /* no moments */
    BAD(ffr_train_ckpt_load(NULL, net, &ck, &e));
    BAD(ffr_train_ckpt_load("/tmp/ffr_api_ck", NULL, &ck, &e));
    BAD(ffr_train_ckpt_load("/tmp/ffr_api_ck", net, NULL, &e));
    ffr_train_ckpt_free(NULL);
    /* EP */
    BAD(ffr_labels_check(NULL, 10, 10, 3, "y", &e));
    BAD(ffr_labels_check(y, 10, 10, 0, "y", &e));
    CHECK(ffr_labels_check(y, 10, 10, 3, NULL, &e) == FFR_OK);
    ffr_ep_opts eo;
    ffr_ep_opts_default(NULL, NULL);
    ffr_ep_opts_default(&eo, &o);
    o.epochs = 1;
    BAD(ffr_train_ep(NULL, x, y, 10, &eo, &o, NULL, &e));
    BAD(ffr_train_ep(hop, NULL, y, 10, &eo, &o, NULL, &e));
    BAD(ffr_train_ep(hop, x, NULL, 10, &eo, &o, NULL, &e));
    BAD(ffr_train_ep(hop, x, y, 10, NULL, &o, NULL, &e));
    BAD(ffr_train_ep(hop, x, y, 10, &eo, NULL, NULL, &e));
    BAD(ffr_train_ep(hop, x, y, 0, &eo, &o, NULL, &e));
#define BADEOPT(field, val) do { ffr_ep_opts_default(&eo, &o); o.epochs = 1; eo.field = val; \
    BAD(ffr_train_ep(hop, x, y, 10, &eo, &o, NULL, &e)); } while (0)
    BADEOPT(nudge, (ffr_nudge)9);
    BADEOPT(start, (ffr_ep_start)9);
    BADEOPT(beta, NAN);
    BADEOPT(lr[1], NAN);
    BADEOPT(relax.tol_mode, (ffr_tol_mode)9);
    BADEOPT(n_test, 4); /* test_x NULL with a count */
    ffr_ep_eval ev;
    ffr_relax_opts ro;
    ffr_relax_opts_default(&ro);
    BAD(ffr_ep_evaluate(NULL, x, y, 10, &ro, &ev, &e));
    BAD(ffr_ep_evaluate(hop, NULL, y, 10, &ro, &ev, &e));
    BAD(ffr_ep_evaluate(hop, x, NULL, 10, &ro, &ev, &e));
    BAD(ffr_ep_evaluate(hop, x, y, 10, NULL, &ev, &e));
    BAD(ffr_ep_evaluate(hop, x, y, 10, &ro, NULL, &e));
    ro.tol_mode = (ffr_tol_mode)9;
    BAD(ffr_ep_evaluate(hop, x, y, 10, &ro, &ev, &e));
    CHECK(ffr_ep_work_floats(NULL, 4) == 0);
    CHECK(ffr_ep_anderson(NULL, NULL) == 0 && ffr_ep_anderson(NULL, &eo) >= 0);
    CHECK(isnan(ffr_ep_default_lr(NULL, 1)) && isnan(ffr_ep_default_lr(hop, 0)) && isnan(ffr_ep_default_lr(hop, 3)));
    ffr_net_free(net); ffr_net_free(hop);
}

int main(void) {
    test_net();
    test_state_relax();
    test_io();
    test_train();
    CHECK(ffr_version() > 0);
    MT_DONE("test_api");
}
