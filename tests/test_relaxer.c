/* test_relaxer.c - the reusable relaxer (ffr_relaxer_*): the same bits as
 * ffr_relax run by run, no allocation in a run (1,000 runs at B = 1, counted
 * by the library's allocation counter, so it works under ASan), options
 * changed in place, weights re-packed after an update, a per-relaxer thread
 * count that does not change a bit, a trace that grows only when a run needs
 * it, and a clean FFR_ERR_NOMEM from every entry point under an allocation
 * limit swept from 0 upward (leaks are LeakSanitizer's to find). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ffrelax.h"
#include "internal.h"
#include "minitest.h"

static ffr_net *make_net(int L, const int *n, ffr_rule rule, ffr_rho rho, int tied, uint64_t seed) {
    ffr_net *net;
    ffr_err e;
    if (ffr_net_create(&net, L, n, rule, rho, tied, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    ffr_net_init_glorot(net, seed, 1.3f);
    ffr_rng r;
    ffr_rng_seed(&r, seed + 1);
    for (int k = 1; k <= L; k++) for (int j = 0; j < n[k]; j++) net->b[k][j] = (float)(0.2 * ffr_rng_normal(&r));
    for (int k = 0; k < L; k++) for (int j = 0; j < n[k]; j++) net->c[k][j] = (float)(0.2 * ffr_rng_normal(&r));
    return net;
}

static float *randu(uint64_t seed, size_t n) {
    float *v = malloc(n * sizeof(float));
    ffr_rng r; ffr_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) v[i] = (float)ffr_rng_uniform(&r);
    return v;
}

/* Same states and the same trace (the rows that exist) bit for bit. */
static int same_run(const ffr_net *net, const ffr_state *a, const ffr_trace *ta, const ffr_state *b, const ffr_trace *tb, int B) {
    int ok = ta->T == tb->T && ta->B == tb->B && ta->status == tb->status;
    for (int k = 0; k <= net->L; k++) ok &= !memcmp(a->s[k], b->s[k], sizeof(float) * B * net->n[k]);
    if (!ok) return 0;
    size_t R = (size_t)ta->T + 1, Lp = (size_t)net->L + 1;
#define SAME(f, n) ok &= !memcmp(ta->f, tb->f, sizeof *ta->f * (n))
    SAME(step_mean, R); SAME(step_median, R); SAME(step_max, R); SAME(rstep_mean, R); SAME(relstep_median, R);
    SAME(n_active, R); SAME(frac_converged, R); SAME(measured, R); SAME(energy_mean, R); SAME(residual_mean, R);
    SAME(disagree, R * Lp); SAME(mpe_up, R * Lp); SAME(mpe_down, R * Lp); SAME(step, R * B);
    SAME(sweeps, B); SAME(converged, B); SAME(dist, B); SAME(norm, B); SAME(residual, B); SAME(rate, B);
#undef SAME
    ok &= !memcmp(&ta->rate_median, &tb->rate_median, sizeof(double)) && ta->total_updates == tb->total_updates &&
          ta->flops == tb->flops;
    return ok;
}

/* One relaxer, many batches of different sizes and options: each run equals ffr_relax. */
static void test_same_as_relax(void) {
    int n[] = {29, 23, 17, 11}, L = 3, maxB = 13;
    ffr_net *net = make_net(L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, 3);
    float *x = randu(4, (size_t)maxB * n[0]), *y = randu(5, (size_t)maxB * n[L]);
    unsigned char mask[29];
    for (int j = 0; j < n[0]; j++) mask[j] = j % 4 != 0;
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = 80; o.tol = 1e-4; o.measure_every = 5;
    ffr_relaxer *rx; ffr_err e;
    CHECKF(ffr_relaxer_create(&rx, net, &o, maxB, &e) == FFR_OK, "create: %s", e.msg);
    ffr_state *a, *b;
    ffr_state_create(&a, net, maxB, &e); ffr_state_create(&b, net, maxB, &e);
    int Bs[] = {13, 1, 7, 13, 2};
    for (int i = 0; i < 5 * 6; i++) {
        int B = Bs[i % 5], v = i / 5;
        ffr_relax_opts p = o;
        if (v == 1) { p.init = FFR_INIT_ZERO; p.tol_mode = FFR_TOL_REL; p.tol = 1e-3; p.eps = 0.7; }
        if (v == 2) { p.visible_mask = mask; p.top_target = y; p.schedule = FFR_SCHED_SYNC; }
        if (v == 3) { p.beta = 0.4; p.nudge_target = y; p.schedule = FFR_SCHED_UP; }
        if (v == 4) { p.anderson = 3; p.tol = 1e-6; p.tol_mode = FFR_TOL_REL; p.max_sweeps = 300; }
        if (v == 5) { p.temperature = 0.01; p.eps = 0.5; p.seed = 9; p.threads = 2; }
        CHECKF(ffr_relaxer_set_opts(rx, &p, &e) == FFR_OK, "set_opts %d: %s", v, e.msg);
        const float *xb = x + (size_t)(i % 3) * n[0]; /* batches that overlap differently */
        int Bx = B + (i % 3) <= maxB ? B : maxB - (i % 3);
        ffr_state *sa, *sb;
        ffr_state_create(&sa, net, Bx, &e); ffr_state_create(&sb, net, Bx, &e);
        const ffr_trace *ta; ffr_trace *tb;
        ffr_status ra = ffr_relaxer_run(rx, xb, Bx, sa, &ta, &e);
        ffr_status rb = ffr_relax(net, xb, Bx, &p, sb, &tb, &e);
        CHECKF(ra == FFR_OK && rb == FFR_OK, "run %d: %d %d %s", i, ra, rb, e.msg);
        CHECKF(same_run(net, sa, ta, sb, tb, Bx), "run %d (options %d, B %d): relaxer and ffr_relax differ", i, v, Bx);
        CHECK(ta->T > 1);
        ffr_trace_free(tb); ffr_state_free(sa); ffr_state_free(sb);
    }
    /* a state with more rows than the batch: the first B are used */
    const ffr_trace *ta;
    CHECK(ffr_relaxer_set_opts(rx, &o, &e) == FFR_OK);
    CHECK(ffr_relaxer_run(rx, x, 4, a, &ta, &e) == FFR_OK);
    ffr_state *s4; ffr_trace *t4;
    ffr_state_create(&s4, net, 4, &e);
    CHECK(ffr_relax(net, x, 4, &o, s4, &t4, &e) == FFR_OK);
    for (int k = 0; k <= L; k++) CHECK(!memcmp(a->s[k], s4->s[k], sizeof(float) * 4 * n[k]));
    ffr_trace_free(t4); ffr_state_free(s4);
    /* bad use */
    CHECK(ffr_relaxer_run(rx, x, maxB + 1, a, &ta, &e) == FFR_ERR_ARG && strstr(e.msg, "max_batch"));
    CHECK(ta == NULL);
    CHECK(ffr_relaxer_run(rx, x, 0, a, NULL, &e) == FFR_ERR_ARG);
    ffr_relax_opts bad = o; bad.eps = 0;
    CHECK(ffr_relaxer_set_opts(rx, &bad, &e) == FFR_ERR_ARG && strstr(e.msg, "tau"));
    CHECK(ffr_relaxer_run(rx, x, 2, a, NULL, &e) == FFR_OK); /* refused options leave the old ones */
    bad = o; bad.threads = -1;
    CHECK(ffr_relaxer_set_opts(rx, &bad, &e) == FFR_ERR_ARG && strstr(e.msg, "threads"));
    ffr_relaxer *r2;
    CHECK(ffr_relaxer_create(&r2, net, &o, 0, &e) == FFR_ERR_ARG && r2 == NULL);
    ffr_relaxer_free(rx); ffr_state_free(a); ffr_state_free(b); ffr_net_free(net); free(x); free(y);
}

/* 1,000 runs at B = 1 on new inputs allocate nothing; also with Anderson,
 * measurements, nudging, and after set_opts / update. */
static void test_no_alloc(void) {
    int n[] = {31, 24, 19, 10}, L = 3, N = 1000;
    ffr_net *net = make_net(L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 11);
    float *x = randu(12, (size_t)N * n[0]), *y = randu(13, (size_t)N * n[L]);
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = 200; o.tol = 1e-5; o.tol_mode = FFR_TOL_REL; o.measure_every = 10;
    ffr_relaxer *rx; ffr_err e;
    CHECK(ffr_relaxer_create(&rx, net, &o, 1, &e) == FFR_OK);
    ffr_state *st;
    ffr_state_create(&st, net, 1, &e);
    long before = ffr_alloc_count();
    int ok = 1, sweeps = 0;
    for (int i = 0; i < N; i++) {
        const ffr_trace *tr;
        ok &= ffr_relaxer_run(rx, x + (size_t)i * n[0], 1, st, &tr, &e) == FFR_OK;
        sweeps += tr->T;
    }
    long after = ffr_alloc_count();
    CHECKF(ok && after == before, "1000 runs at B = 1: %ld allocations", after - before);
    CHECKF(sweeps > 2 * N, "the runs did work: %d sweeps", sweeps);
    /* options changed in place, then Anderson, nudging: no allocation either */
    ffr_relax_opts p = o;
    p.anderson = 4; p.tol = 1e-6;
    CHECK(ffr_relaxer_set_opts(rx, &p, &e) == FFR_OK); /* Anderson's history: allocated here */
    before = ffr_alloc_count();
    for (int i = 0; i < 100; i++) {
        p.beta = i % 2 ? 0.3 : -0.3; p.nudge_target = y + (size_t)i * n[L]; p.tol = i % 3 ? 1e-6 : 1e-4; p.max_sweeps = 100 + i;
        ok &= ffr_relaxer_set_opts(rx, &p, &e) == FFR_OK;
        ok &= ffr_relaxer_run(rx, x + (size_t)i * n[0], 1, st, NULL, &e) == FFR_OK;
    }
    net->W[2][5] += 0.01f;
    ok &= ffr_relaxer_update(rx, &e) == FFR_OK;
    ok &= ffr_relaxer_run(rx, x, 1, st, NULL, &e) == FFR_OK;
    after = ffr_alloc_count();
    CHECKF(ok && after == before, "set_opts / update / run: %ld allocations (%s)", after - before, ok ? "" : e.msg);
    /* more sweeps than the trace has rows: set_opts makes them (geometrically), not the run */
    p.max_sweeps = 900;
    before = ffr_alloc_count();
    ok = ffr_relaxer_set_opts(rx, &p, &e) == FFR_OK;
    after = ffr_alloc_count();
    ok &= ffr_relaxer_run(rx, x, 1, st, NULL, &e) == FFR_OK;
    CHECKF(ok && after > before && ffr_alloc_count() == after, "max_sweeps raised: %ld allocations in set_opts, %ld in the run",
           after - before, ffr_alloc_count() - after);
    ffr_relaxer_free(rx); ffr_state_free(st); ffr_net_free(net); free(x); free(y);
}

/* After a weight update the relaxer re-packs: its run equals ffr_relax on the changed net. */
static void test_update_threads(void) {
    int n[] = {40, 33, 21}, L = 2, B = 9;
    ffr_net *net = make_net(L, n, FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 1, 21);
    float *x = randu(22, (size_t)B * n[0]);
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = 40; o.measure_every = 3;
    ffr_relaxer *rx; ffr_err e;
    CHECK(ffr_relaxer_create(&rx, net, &o, B, &e) == FFR_OK);
    ffr_state *a, *b;
    ffr_state_create(&a, net, B, &e); ffr_state_create(&b, net, B, &e);
    const ffr_trace *ta; ffr_trace *tb;
    for (size_t i = 0; i < net->nparams; i++) net->params[i] *= 1.1f;
    CHECK(ffr_relaxer_update(rx, &e) == FFR_OK);
    CHECK(ffr_relaxer_run(rx, x, B, a, &ta, &e) == FFR_OK);
    CHECK(ffr_relax(net, x, B, &o, b, &tb, &e) == FFR_OK);
    CHECKF(same_run(net, a, ta, b, tb, B), "after an update: relaxer and ffr_relax differ");
    ffr_trace_free(tb);
    net->W[1][0] = NAN;
    CHECK(ffr_relaxer_update(rx, &e) == FFR_ERR_FORMAT && strstr(e.msg, "finite")); /* checked again */
    net->W[1][0] = 0.1f;
    CHECK(ffr_relaxer_update(rx, &e) == FFR_OK);
    /* threads per relaxer: 1 and 3 give the same bits */
    o.threads = 1;
    CHECK(ffr_relaxer_set_opts(rx, &o, &e) == FFR_OK);
    CHECK(ffr_relaxer_run(rx, x, B, a, NULL, &e) == FFR_OK);
    ffr_relaxer *r3;
    o.threads = 3;
    CHECK(ffr_relaxer_create(&r3, net, &o, B, &e) == FFR_OK);
    CHECK(ffr_relaxer_run(r3, x, B, b, NULL, &e) == FFR_OK);
    int same = 1;
    for (int k = 0; k <= L; k++) same &= !memcmp(a->s[k], b->s[k], sizeof(float) * B * n[k]);
    CHECKF(same, "threads 1 and 3 differ");
    ffr_relaxer_free(r3); ffr_relaxer_free(rx); ffr_state_free(a); ffr_state_free(b); ffr_net_free(net); free(x);
}

/* The packs are filled when a run first needs them (the input's clamped
 * direction of W_1 only for measurements) and go stale at an update: every
 * run equals ffr_relax, whichever options came before and whatever changed;
 * and the distance from the start, which a run recomputes at its end (the
 * start is not kept, but for init given), equals the distance from the state
 * of a run of 0 sweeps, bit for bit, for each start. */
static void test_lazy_packs(void) {
    int n[] = {37, 45, 19, 26}, L = 3, B = 11;
    ffr_net *net = make_net(L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 31);
    float *x = randu(32, (size_t)B * n[0]);
    unsigned char mask[37];
    for (int j = 0; j < n[0]; j++) mask[j] = j % 3 == 0;
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = 25; o.measure_every = -1;
    ffr_relaxer *rx; ffr_err e;
    CHECK(ffr_relaxer_create(&rx, net, &o, B, &e) == FFR_OK);
    ffr_state *a, *b;
    ffr_state_create(&a, net, B, &e); ffr_state_create(&b, net, B, &e);
    for (int i = 0; i < 8; i++) {
        ffr_relax_opts p = o;
        if (i % 4 == 1) p.measure_every = 0;          /* now the down product of W_1 too */
        if (i % 4 == 2) { p.visible_mask = mask; p.init = FFR_INIT_ZERO; } /* free visible units: it moves them */
        if (i % 4 == 3) p.init = FFR_INIT_RANDOM;
        if (i == 4) { /* new weights: every pack stale */
            for (size_t q = 0; q < net->nparams; q++) net->params[q] *= 0.9f;
            CHECK(ffr_relaxer_update(rx, &e) == FFR_OK);
        }
        CHECK(ffr_relaxer_set_opts(rx, &p, &e) == FFR_OK);
        const ffr_trace *ta; ffr_trace *tb;
        CHECK(ffr_relaxer_run(rx, x, B, a, &ta, &e) == FFR_OK);
        CHECK(ffr_relax(net, x, B, &p, b, &tb, &e) == FFR_OK);
        CHECKF(same_run(net, a, ta, b, tb, B), "run %d: relaxer and ffr_relax differ", i);
        ffr_trace_free(tb);
        /* the distance from the start: the start from a run of 0 sweeps */
        ffr_relax_opts z = p;
        z.max_sweeps = 0;
        CHECK(ffr_relax(net, x, B, &z, b, &tb, &e) == FFR_OK);
        ffr_trace_free(tb);
        int same = 1, moved = 0;
        for (int r = 0; r < B; r++) {
            double d = 0;
            for (int k = 0; k <= L; k++)
                for (int j = 0; j < n[k]; j++) {
                    if (k == 0 && !(p.visible_mask && !mask[j])) continue; /* clamped visible units */
                    size_t q = (size_t)r * n[k] + j;
                    double df = (double)a->s[k][q] - b->s[k][q];
                    d += df * df;
                }
            same &= ta->dist[r] == (float)sqrt(d);
            moved += d > 0;
        }
        CHECKF(same && moved == B, "run %d: the distance from the recomputed start (%d of %d moved)", i, moved, B);
    }
    ffr_relaxer_free(rx); ffr_state_free(a); ffr_state_free(b); ffr_net_free(net); free(x);
}

/* --max-sweeps 10,000,000 reserves no (T+1, B) trace up front; a run that
 * needs more sweeps than the rows made at create grows them, and equals ffr_relax. */
static void test_trace_growth(void) {
    int n[] = {20, 16, 12}, L = 2, B = 3000;
    ffr_net *net = make_net(L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, 31);
    float *x = randu(32, (size_t)B * n[0]);
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = 10000000; o.tol = 1e-4;
    ffr_relaxer *rx; ffr_err e;
    ffr_alloc_fail_after(200); /* 3000 x 1e7 floats of trace would be 120 GB: none of that here */
    ffr_status rc = ffr_relaxer_create(&rx, net, &o, B, &e);
    ffr_alloc_fail_after(-1);
    CHECKF(rc == FFR_OK, "create with max_sweeps 1e7: %s", e.msg);
    ffr_state *st;
    ffr_state_create(&st, net, B, &e);
    const ffr_trace *tr;
    CHECK(ffr_relaxer_run(rx, x, B, st, &tr, &e) == FFR_OK);
    CHECK(tr->T > 2 && tr->T < 1000 && tr->max_sweeps == 10000000);
    ffr_relaxer_free(rx); ffr_state_free(st);
    /* 3,000 sweeps of 2 examples: rows grow past the 1,025 made at create */
    B = 2;
    o.max_sweeps = 3000; o.tol = 0; o.measure_every = 500; o.eps = 0.001; o.diverge_factor = 0;
    CHECK(ffr_relaxer_create(&rx, net, &o, B, &e) == FFR_OK);
    ffr_state *a, *b;
    ffr_state_create(&a, net, B, &e); ffr_state_create(&b, net, B, &e);
    long before = ffr_alloc_count();
    CHECK(ffr_relaxer_run(rx, x, B, a, &tr, &e) == FFR_OK);
    CHECKF(ffr_alloc_count() > before, "the trace did not grow: vacuous");
    ffr_trace *t2;
    CHECK(ffr_relax(net, x, B, &o, b, &t2, &e) == FFR_OK);
    CHECK(tr->T == 3000 && same_run(net, a, tr, b, t2, B));
    before = ffr_alloc_count();
    CHECK(ffr_relaxer_run(rx, x, B, a, &tr, &e) == FFR_OK); /* the second time: room already */
    CHECK(ffr_alloc_count() == before);
    /* out of memory while growing: a clean status, the trace valid up to there */
    ffr_relaxer_free(rx);
    CHECK(ffr_relaxer_create(&rx, net, &o, B, &e) == FFR_OK);
    ffr_alloc_fail_after(0);
    rc = ffr_relaxer_run(rx, x, B, a, &tr, &e);
    ffr_alloc_fail_after(-1);
    CHECKF(rc == FFR_ERR_NOMEM && strstr(e.msg, "trace") && tr && tr->T == 1024, "growth failure: %d T %d %s", rc,
           tr ? tr->T : -1, e.msg);
    ffr_trace_free(t2); ffr_relaxer_free(rx); ffr_state_free(a); ffr_state_free(b); ffr_net_free(net); free(x);
}

/* Every allocation of create, run, ffr_relax and the branch helpers made to
 * fail in turn: each returns FFR_OK or FFR_ERR_NOMEM with a message, never
 * aborts, and frees what it made (LeakSanitizer checks at exit under ASan). */
static void test_out_of_memory(void) {
    int n[] = {21, 18, 13, 9}, L = 3, B = 5;
    ffr_err e;
    float *x = randu(41, (size_t)B * n[0]), *y = randu(42, (size_t)B * n[L]);
    unsigned char mask[21];
    for (int j = 0; j < n[0]; j++) mask[j] = j % 2;
    for (int c = 0; c < 4; c++) {
        ffr_net *net = make_net(L, n, c == 3 ? FFR_RULE_BOLTZMANN : FFR_RULE_DENDRITIC,
                                c == 3 ? FFR_RHO_SIGMOID : FFR_RHO_HARDSIGMOID, c != 1, 43 + c);
        ffr_relax_opts o; ffr_relax_opts_default(&o);
        o.max_sweeps = 30; o.measure_every = 4;
        if (c == 1) { o.anderson = 3; o.visible_mask = mask; o.top_target = y; }
        if (c == 2) { o.precision = FFR_PREC_BF16; o.beta = 0.2; o.nudge_target = y; }
        ffr_state *st;
        ffr_state_create(&st, net, B, &e);
        int fails = 0, clean = 1, done = 0;
        for (long lim = 0; lim < 1000 && !done; lim++) {
            ffr_relaxer *rx = NULL;
            ffr_trace *tr = NULL;
            e.msg[0] = 0;
            ffr_alloc_fail_after(lim);
            ffr_status r1 = ffr_relaxer_create(&rx, net, &o, B, &e), r2 = FFR_OK, r3;
            if (r1 == FFR_OK) r2 = ffr_relaxer_run(rx, x, B, st, NULL, &e);
            ffr_relaxer_free(rx);
            r3 = ffr_relax(net, x, B, &o, st, &tr, &e);
            ffr_trace_free(tr);
            ffr_alloc_fail_after(-1);
            int ok1 = r1 == FFR_OK || (r1 == FFR_ERR_NOMEM && e.msg[0]);
            clean &= ok1 && (r2 == FFR_OK || r2 == FFR_ERR_NOMEM) && (r3 == FFR_OK || r3 == FFR_ERR_NOMEM);
            if (r1 || r2 || r3) fails++;
            done = !r1 && !r2 && !r3;
        }
        CHECKF(clean && done && fails > 10, "case %d: out-of-memory sweep: clean %d, done %d, %d failing limits", c, clean, done, fails);
        /* the helpers that allocate report it */
        float *F[FFR_MAX_LAYERS];
        for (int k = 0; k <= L; k++) F[k] = malloc(sizeof(float) * B * n[k]);
        double E[5];
        ffr_alloc_fail_after(0);
        CHECK(ffr_branches(net, st, NULL, NULL, F) == FFR_ERR_NOMEM);
        CHECK(ffr_feedforward(net, x, B, st) == FFR_ERR_NOMEM);
        CHECK(!net->tied || ffr_energy(net, st, E) == -2);
        ffr_alloc_fail_after(-1);
        CHECK(ffr_branches(net, st, NULL, NULL, F) == FFR_OK && ffr_feedforward(net, x, B, st) == FFR_OK);
        for (int k = 0; k <= L; k++) free(F[k]);
        ffr_state_free(st); ffr_net_free(net);
    }
    /* the per-call packing of ffr_gemm: out of memory, the product is still right */
    float A[6] = {1, 2, 3, 4, 5, 6}, Bm[6] = {1, 0, 0, 1, 1, 1}, C[4], C2[4];
    ffr_alloc_fail_after(0);
    ffr_gemm(0, 0, 2, 2, 3, 1.f, A, 3, Bm, 2, 0.f, C, 2);
    ffr_alloc_fail_after(-1);
    ffr_gemm_ref(0, 0, 2, 2, 3, 1.f, A, 3, Bm, 2, 0.f, C2, 2);
    CHECK(!memcmp(C, C2, sizeof C));
    free(x); free(y);
}

int main(void) {
    test_same_as_relax();
    test_no_alloc();
    test_update_threads();
    test_lazy_packs();
    test_trace_growth();
    test_out_of_memory();
    MT_DONE("test_relaxer");
}
