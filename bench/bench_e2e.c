/* bench_e2e.c - the end-to-end number users feel: relax 1,000 held-out MNIST
 * digits on a trained auto-encoder network from the feedforward start (Eq. 17)
 * until every example's relative step is below 1e-3, and measure how close
 * that gets to the fixed point; plus the active-set accounting (the sum of the
 * per-example sweep counts against sweeps x B) and peak memory.
 *
 *   bench_e2e train DATA_DIR MODEL [EPOCHS]   greedy SAE (ffr_train_sae) of a tied
 *        784-1000-1000-1000 dendritic hard-sigmoid network on DATA_DIR's training
 *        digits (the library's trainer, the one `ffrelax train --method sae` runs)
 *   bench_e2e relax MODEL DATA_DIR OUTDIR [THREADS] [REF_TOL] [REPS]
 *        1. the fixed point s*: relax from the ff start to a relative step < REF_TOL
 *           (default 1e-6) with Anderson acceleration (m = 5: the same fixed point in
 *           a third of the sweeps; at most 1,000 sweeps, so the reference is bounded
 *           on a slow machine; the line says how many reached it) -> OUTDIR/sstar{1,2,3}.npy,
 *           the network as OUTDIR/W1.npy .., the digits as OUTDIR/x.npy (for
 *           scripts/bench_torch.py --e2e);
 *        2. timed (median of REPS, default 3), one relaxer of the B digits (and, one line,
 *           ffr_relax as the CLI runs it, in chunks of 256): ff start, tol 1e-3, 2e-4, 1e-4, 1e-5 relative, max 1000
 *           sweeps, measure_every -1 (no residual/energy measurement: the PyTorch loop
 *           measures nothing either; one "e2e tol" line each); 60 sweeps from zero
 *           (what the PyTorch baseline does), for reference;
 *        3. distances ||s - s*|| / ||s*|| over the free units (layers 1..L).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "ffrelax.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int progress(void *ctx, const ffr_train_progress *p) {
    (void)ctx;
    if (p->end_of_epoch)
        fprintf(stderr, "  sae layer %d epoch %d/%d loss %.5f (%.0f examples/s, %.1f s)\n", p->layer, p->epoch,
                p->epochs, p->loss, p->examples_per_s, p->seconds);
    return 0;
}

static int cmd_train(const char *dir, const char *model, int epochs) {
    ffr_err e;
    float *x;
    unsigned char *y;
    size_t n;
    if (ffr_mnist_load(dir, 1, &x, &y, &n, &e)) { fprintf(stderr, "bench_e2e: %s\n", e.msg); return 1; }
    int sz[4] = {784, 1000, 1000, 1000};
    ffr_net *net;
    if (ffr_net_create(&net, 3, sz, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    ffr_net_init_glorot(net, 1, 1.0f);
    ffr_train_opts o;
    ffr_train_opts_default(&o, FFR_TRAIN_SAE);
    o.epochs = epochs;
    o.progress = progress;
    if (ffr_train_sae(net, x, n, &o, NULL, &e) || ffr_net_save(net, model, &e)) {
        fprintf(stderr, "bench_e2e: %s\n", e.msg);
        return 1;
    }
    printf("trained %s on %zu digits, %d epochs per layer\n", model, n, epochs);
    ffr_net_free(net); free(x); free(y);
    return 0;
}

/* Relative distance of each example's free state (layers 1..L) to s*. */
static void dist_to(const ffr_net *net, const ffr_state *a, float *const *sstar, int B, double *d) {
    for (int b = 0; b < B; b++) {
        double e = 0, nn = 0;
        for (int k = 1; k <= net->L; k++)
            for (int j = 0; j < net->n[k]; j++) {
                size_t i = (size_t)b * net->n[k] + j;
                double v = (double)a->s[k][i] - sstar[k][i];
                e += v * v; nn += (double)sstar[k][i] * sstar[k][i];
            }
        d[b] = sqrt(e / (nn > 0 ? nn : 1));
    }
}

static void summary(const char *what, double *d, int B) {
    double m = 0;
    for (int b = 0; b < B; b++) m += d[b];
    qsort(d, B, sizeof *d, cmp_d);
    printf("%s: ||s - s*|| / ||s*|| median %.3e mean %.3e max %.3e\n", what, d[B / 2], m / B, d[B - 1]);
}

static int cmd_relax(const char *model, const char *dir, const char *out, int threads, double ref_tol, int reps) {
    ffr_err e;
    ffr_net *net;
    float *x;
    unsigned char *y;
    size_t n;
    char p[4096];
    if (threads > 0) ffr_set_threads(threads);
    if (ffr_net_load(&net, model, &e) || ffr_mnist_load(dir, 0, &x, &y, &n, &e)) { fprintf(stderr, "bench_e2e: %s\n", e.msg); return 1; }
    int B = n < 1000 ? (int)n : 1000, L = net->L;
    if (ffr_net_export_npy(net, out, &e)) { fprintf(stderr, "bench_e2e: %s\n", e.msg); return 1; }
    { /* the gains, for scripts/bench_torch.py's Eq. 16: row 0 alpha_up, row 1 alpha_down */
        float g[2 * (FFR_MAX_LAYERS + 1)];
        for (int k = 0; k <= L; k++) { g[k] = net->alpha_up[k]; g[L + 1 + k] = net->alpha_down[k]; }
        size_t sg[2] = {2, (size_t)L + 1};
        snprintf(p, sizeof p, "%s/gains.npy", out);
        if (ffr_npy_write(p, g, 'f', 2, sg, &e)) { fprintf(stderr, "bench_e2e: %s\n", e.msg); return 1; }
    }
    size_t sh[2] = {(size_t)B, (size_t)net->n[0]};
    snprintf(p, sizeof p, "%s/x.npy", out);
    if (ffr_npy_write(p, x, 'f', 2, sh, &e)) { fprintf(stderr, "bench_e2e: %s\n", e.msg); return 1; }

    /* 1. the fixed point */
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    o.init = FFR_INIT_FF; o.tol_mode = FFR_TOL_REL; o.tol = ref_tol; o.max_sweeps = 1000; o.measure_every = 0;
    o.diverge_factor = 0; o.anderson = 5;
    ffr_state *ref, *st;
    ffr_trace *tr;
    ffr_state_create(&ref, net, B, &e);
    ffr_state_create(&st, net, B, &e);
    if (ffr_relax(net, x, B, &o, ref, &tr, &e)) { fprintf(stderr, "bench_e2e: %s\n", e.msg); return 1; }
    int nconv = 0;
    for (int b = 0; b < B; b++) nconv += tr->converged[b];
    printf("fixed point: %d of %d digits reached a relative step < %.0e within %d sweeps (Anderson 5; sweeps run %d, residual mean %.3g)\n",
           nconv, B, ref_tol, o.max_sweeps, tr->T, tr->residual_mean[tr->T]);
    o.anderson = 0;
    ffr_trace_free(tr);
    for (int k = 1; k <= L; k++) {
        size_t s2[2] = {(size_t)B, (size_t)net->n[k]};
        snprintf(p, sizeof p, "%s/sstar%d.npy", out, k);
        if (ffr_npy_write(p, ref->s[k], 'f', 2, s2, &e)) { fprintf(stderr, "bench_e2e: %s\n", e.msg); return 1; }
    }
    double *d = malloc(sizeof(double) * B), t0;
    int conv;

    /* 2. timed (median of 3): ff start to a relative step < tol, for the
     * issue's 1e-3 and the tighter tolerances that get as close as 60 sweeps
     * from zero on fast-contracting networks; one line each for the driver:
     * "e2e tol T: S s ... distance median M" */
    if (reps < 1 || reps > 9) reps = 3;
    o.max_sweeps = 1000;
    o.measure_every = -1;
    /* 2e-4: on the slowly contracting SAE network the tolerance that lands
     * nearest PyTorch's 60 sweeps from zero lies between 1e-4 and 2e-4; 2e-7: on
     * the Eq. 23 network those 60 sweeps reach fp32's floor (~4e-7 from s*) */
    const double tols[] = {1e-3, 2e-4, 1e-4, 1e-5, 1e-6, 3e-7, 2e-7};
    const int ntols = (int)(sizeof tols / sizeof tols[0]);
    /* way 0: one relaxer of all B rows (a program that keeps a relaxer: the
     * examples still active share every product to the end); way 1: ffr_relax,
     * what the CLI runs (chunks of 256 rows one after the other, each with its
     * own tail of slow examples), at the tolerances the table compares */
    for (int way = 0; way < 2; way++)
    for (int aa = 0; aa < 2; aa++)
    for (int ti = 0; ti < ntols && tols[ti] > ref_tol * 1.5; ti++) {
        if (way == 1 && !(aa && tols[ti] == 1e-4)) continue;
        o.tol = tols[ti];
        o.anderson = aa ? 5 : 0;
        double tv[9];
        const ffr_trace *tk = NULL;
        ffr_relaxer *rx = NULL;
        if (way == 0 && ffr_relaxer_create(&rx, net, &o, B, &e)) { fprintf(stderr, "bench_e2e: %s\n", e.msg); return 1; }
        for (int r = 0; r < reps; r++) {
            double ts = now();
            ffr_status rc = way == 0 ? ffr_relaxer_run(rx, x, B, st, &tk, &e) : ffr_relax(net, x, B, &o, st, &tr, &e);
            if (rc) { fprintf(stderr, "bench_e2e: %s\n", e.msg); return 1; }
            tv[r] = now() - ts;
            if (way == 1) { if (r < reps - 1) ffr_trace_free(tr); else tk = tr; }
        }
        qsort(tv, reps, sizeof *tv, cmp_d);
        conv = 0;
        int mx = 0;
        double sum = 0;
        for (int b = 0; b < B; b++) { conv += tk->converged[b]; mx = tk->sweeps[b] > mx ? tk->sweeps[b] : mx; sum += tk->sweeps[b]; }
        dist_to(net, st, ref->s, B, d);
        double dm = 0;
        for (int b = 0; b < B; b++) dm += d[b];
        qsort(d, B, sizeof *d, cmp_d);
        printf("e2e%s%s tol %.0e: %.4f s (median of %d; min %.4f max %.4f) converged %d/%d sweeps run %d max %d mean %.2f "
               "work %ld of %ld (%.1f%%) distance median %.3e mean %.3e max %.3e\n",
               way ? " cli-chunks" : "", aa ? " anderson 5" : "", tols[ti], tv[reps / 2], reps, tv[0], tv[reps - 1], conv, B,
               tk->T, mx, sum / B, tk->total_updates, (long)tk->T * B, 100.0 * tk->total_updates / ((double)tk->T * B),
               d[B / 2], dm / B, d[B - 1]);
        if (way == 1) ffr_trace_free(tr);
        ffr_relaxer_free(rx);
    }
    o.anderson = 0;
    printf("# B %d, %s\n", B, ffr_blas_info());

    /* the same relaxation as the PyTorch baseline: 60 sweeps from zero */
    o.init = FFR_INIT_ZERO; o.tol = 0; o.max_sweeps = 60;
    t0 = now();
    if (ffr_relax(net, x, B, &o, st, NULL, &e)) { fprintf(stderr, "bench_e2e: %s\n", e.msg); return 1; }
    printf("ffrelax zero-start 60 sweeps: %.4f s\n", now() - t0);
    dist_to(net, st, ref->s, B, d);
    summary("ffrelax zero-start 60 sweeps distance", d, B);
    /* the ff start itself */
    ffr_feedforward(net, x, B, st);
    dist_to(net, st, ref->s, B, d);
    summary("ff start (Eq. 17), no sweep, distance", d, B);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS of this program %.1f MB\n", ru.ru_maxrss / 1024.0);
    free(d); ffr_state_free(ref); ffr_state_free(st); ffr_net_free(net); free(x); free(y);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "train")) return cmd_train(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 5);
    if (argc >= 5 && !strcmp(argv[1], "relax"))
        return cmd_relax(argv[2], argv[3], argv[4], argc > 5 ? atoi(argv[5]) : 0, argc > 6 ? atof(argv[6]) : 1e-6,
                         argc > 7 ? atoi(argv[7]) : 3);
    fprintf(stderr, "usage: bench_e2e train DATA_DIR MODEL [EPOCHS]\n"
                    "       bench_e2e relax MODEL DATA_DIR OUTDIR [THREADS] [REF_TOL (default 1e-6)] [REPS (default 3)]\n");
    return 2;
}
