/* cmd_ep.c - equilibrium propagation on the command line:
 *   ffrelax train --method ep ...   supervised EP (src/train_ep.c), per-epoch metrics
 *   ffrelax eval --model M ...      feedforward vs relaxed error of a classifier
 *   ffrelax ep-study ...            the anchors' schedule vs ffrelax's on Fashion-MNIST
 * The maths lives in src/ep.c and doc/training.md ("Equilibrium propagation"). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "mpi.h"
#include "plot.h"

/* --------------------------------------------------------- shared parts */
static int parse_lrs(const char *C, const char *s, double *lr) {
    int cnt = 0;
    const char *p = s;
    while (*p && cnt < FFR_MAX_LAYERS - 1) {
        char *end;
        errno = 0;
        double d = strtod(p, &end);
        if (end == p || errno || !(d >= 0) || !isfinite(d) || (*end && *end != ',')) {
            cli_fail(C, "--lr: expected learning rates >= 0 (one value, or one per weight layer), found '%s'", s);
            return -1;
        }
        lr[1 + cnt++] = d;
        p = *end ? end + 1 : end;
    }
    if (*p) { cli_fail(C, "--lr: too many values in '%s'", s); return -1; }
    if (cnt == 1)
        for (int k = 2; k < FFR_MAX_LAYERS; k++) lr[k] = lr[1];
    return cnt;
}

static int parse_pair(const char *C, const char *opt, const char *s, int *a, int *b) {
    char *end;
    long x = strtol(s, &end, 10), y = 0;
    if (end != s && *end == ',') {
        const char *q = end + 1;
        y = strtol(q, &end, 10);
        if (end != q && !*end && x >= 1 && y >= 1 && x <= 1000000 && y <= 1000000) { *a = (int)x; *b = (int)y; return 0; }
    }
    cli_fail(C, "--%s: expected F,N (free and nudged sweeps, each >= 1), found '%s'", opt, s);
    return -1;
}

static int load_labeled(const char *C, const char *images, const char *labels, int count, int n0, float **x,
                        unsigned char **y, size_t *n) {
    ffr_err err;
    size_t N, dim, ny;
    if (ffr_data_load(images, x, &N, &dim, &err)) return cli_fail(C, "%s", err.msg);
    if (dim != (size_t)n0) return cli_fail(C, "%s: example size: expected %d (the visible layer), found %zu", images, n0, dim);
    if (ffr_idx_read_labels(labels, y, &ny, &err)) return cli_fail(C, "%s", err.msg);
    if (ny != N)
        return cli_fail(C, "%s: label count: expected %zu (one per image of %s), found %zu", labels, N, images, ny);
    *n = count > 0 && (size_t)count < N ? (size_t)count : N;
    return 0;
}

/* The relaxation options train --method ep and eval share (same letters in
 * both): 1 = taken, 0 = not one of them, -1 = bad value (printed). */
static int relax_opt(const char *C, int c, const char *arg, ffr_relax_opts *o) {
    switch (c) {
    case 't': return cli_double(C, "tol", arg, 0, 1e6, &o->tol) ? -1 : 1;
    case 'T':
        if (!strcmp(arg, "rel")) o->tol_mode = FFR_TOL_REL;
        else if (!strcmp(arg, "abs")) o->tol_mode = FFR_TOL_ABS;
        else { cli_fail(C, "--tol-mode: expected rel or abs, found '%s'", arg); return -1; }
        return 1;
    case 's': return cli_int(C, "max-sweeps", arg, 1, 1000000, &o->max_sweeps) ? -1 : 1;
    case 'a': return cli_int(C, "anderson", arg, 0, 8, &o->anderson) ? -1 : 1;
    case 'p':
        if (ffr_precision_parse(arg, &o->precision)) { cli_fail(C, "--precision: expected fp32 or bf16, found '%s'", arg); return -1; }
        return 1;
    }
    return 0;
}

static const char *EP_CSV_HEADER =
    "epoch,loss,train_err_ff,train_err_relaxed,test_err_ff,test_err_relaxed,free_sweeps_mean,free_sweeps_p95,"
    "nudged_sweeps_mean,nudged_sweeps_p95,free_frac_max,nudged_frac_max,dist_rel,test_sweeps_mean,seconds,seconds_total\n";

static void csv_row(FILE *f, const ffr_ep_report *r) {
    fprintf(f, "%d", r->epoch);
    double v[] = {r->loss, r->train_err_ff, r->train_err_relaxed, r->test_err_ff, r->test_err_relaxed,
                  r->free_mean, r->free_p95, r->nudged_mean, r->nudged_p95, r->free_frac_max, r->nudged_frac_max,
                  r->dist_rel, r->test_sweeps_mean, r->seconds, r->seconds_total};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) cli_csv_num(f, v[i]);
    fputc('\n', f);
}

/* The per-epoch record of a run (kept for the study's plots), the CSV and the progress lines. */
#define EP_MAX_EPOCHS 1000
typedef struct {
    int tty, quiet;
    cli_csv csv;            /* the per-epoch CSV (cli/csvlog.c); csv.path NULL: none */
    int nrec;
    ffr_ep_report rec[EP_MAX_EPOCHS];
    const char *tag;
} ep_ui;

static int on_ep(void *ctx, const ffr_ep_report *r) {
    ep_ui *u = ctx;
    if (!r->end_of_epoch) {
        if (u->tty && !u->quiet)
            fprintf(stderr, "\r%s epoch %d/%d %3.0f%%  train err %.2f%%  sweeps free %.2f nudged %.2f  %.0f ex/s   ",
                    u->tag, r->epoch, r->epochs, 100.0 * r->done / r->total, 100 * r->train_err_relaxed, r->free_mean,
                    r->nudged_mean, r->seconds > 0 ? r->done / r->seconds : 0.0);
        return 0;
    }
    if (u->nrec < EP_MAX_EPOCHS) u->rec[u->nrec++] = *r;
    if (!u->quiet) {
        if (u->tty) fputs("\r", stderr);
        fprintf(stderr, "%s epoch %d/%d  train err", u->tag, r->epoch, r->epochs);
        if (!isnan(r->train_err_ff)) fprintf(stderr, " ff %.2f%%", 100 * r->train_err_ff);
        fprintf(stderr, " relaxed %.2f%%", 100 * r->train_err_relaxed);
        if (!isnan(r->test_err_relaxed))
            fprintf(stderr, "  test ff %.2f%% relaxed %.2f%%", 100 * r->test_err_ff, 100 * r->test_err_relaxed);
        fprintf(stderr, "  sweeps free %.2f (p95 %.0f) nudged %.2f (p95 %.0f)", r->free_mean, r->free_p95, r->nudged_mean,
                r->nudged_p95);
        if (!isnan(r->dist_rel)) fprintf(stderr, "  dist %.4f", r->dist_rel);
        fprintf(stderr, "  %.2f s\n", r->seconds);
    }
    if (u->csv.path) {
        FILE *f = cli_csv_row(&u->csv, 0, r->epoch);
        if (!f) return 1;
        csv_row(f, r);
        if (cli_csv_commit(&u->csv)) { u->csv.fail = 1; return 1; } /* stop: the run's record would be lost */
    }
    return 0;
}

/* ------------------------------------------------------ train --method ep */
static void usage_train(void) {
    printf("usage: ffrelax train --method ep --images FILE --labels FILE --sizes N0,..,NL --out MODEL [options]\n\n"
           "Supervised equilibrium propagation (doc/training.md): the input clamped, the top layer's NL\n"
           "units the classes; free phase, then nudged phase(s) from its fixed point, and the local update\n"
           "from the difference. Defaults are the measured recipe (fan-in init, beta 0.2 centered, SGD\n"
           "lr 0.02 for W_1, 0.01*256/n_{k-1} above, momentum 0.9, batch 100, feedforward start, relative\n"
           "tol 1e-3).\n\n"
           "  --images FILE        IDX images (plain or .gz) or a 2-D .npy, values in [0,1] (required)\n"
           "  --labels FILE        IDX labels, one per image, 0..NL-1 (required)\n"
           "  --count N            use the first N examples (default all)\n"
           "  --test-images F      per-epoch test error on these images ...\n"
           "  --test-labels F      ... with these labels\n"
           "  --test-count N       use the first N test examples (default all)\n"
           "  --sizes N0,..,NL     layer sizes of a new network (e.g. 784,1024,10)\n"
           "  --init-model MODEL   start from this model instead (hopfield tied, or dendritic)\n"
           "  --rule R             hopfield (default; tied, Eq. 3) | dendritic (vector-field EP)\n"
           "  --feedback F         dendritic: tied (V = W^T, default) | eq23 (untied, learned by Eq. 23)\n"
           "  --init-scale X       fan-in init: W, b ~ U(+-X/sqrt(fan_in)) (default 1)\n"
           "  --out MODEL          write the trained model here (required)\n"
           "  --epochs N           (default 10)\n"
           "  --batch N            (default 100)\n"
           "  --beta X             nudging strength (default 0.2)\n"
           "  --nudge M            positive | centered | random-sign (default centered)\n"
           "  --lr X[,X..]         one rate, or one per weight layer (default 0.02 for W_1, 0.01*256/n_{k-1} above;\n"
           "                       two or more hidden layers: hidden rates doubled, 0.04 and 0.02*256/n_{k-1})\n"
           "  --optimizer O        sgd | adam (default sgd; adam: one rate)\n"
           "  --momentum X         sgd momentum (default 0.9)\n"
           "  --weight-decay X     L2 on weights (default 0)\n"
           "  --init S             free phase start: ff (Eq. 17) | zero | persistent (default ff)\n"
           "  --tol X              stop an example once its step < X (default 1e-3)\n"
           "  --tol-mode M         rel (step/||s||, default) | abs\n"
           "  --max-sweeps N       per phase (default 100)\n"
           "  --fixed-sweeps F,N   exactly F free and N nudged sweeps, no tolerance (the anchors' practice)\n"
           "  --anderson M         Anderson acceleration with M differences (default: 3 with two or more\n"
           "                       hidden layers and the tolerance stop, else 0: off)\n"
           "  --precision P        fp32 | bf16 products (default fp32)\n"
           "  --seed S             init, shuffling and random signs (default 1)\n"
           "  --metrics CSV        one row per epoch (appended to on --resume)\n"
           "  --checkpoint PATH    atomic checkpoint after every epoch\n"
           "  --resume             continue from --checkpoint if it exists (same options and data)\n"
           "  --threads N          BLAS threads (default: the environment's)\n"
           "  --progress-every K   progress line every K minibatches on a terminal (default 20)\n"
           "  --quiet              no progress output\n");
}

int cmd_train_ep(int argc, char **argv) {
    const char *C = "train --method ep";
    const char *images = NULL, *labels = NULL, *timages = NULL, *tlabels = NULL, *out = NULL, *sizes = NULL;
    const char *init_model = NULL, *metrics = NULL, *checkpoint = NULL;
    ffr_ep_opts e;
    ffr_train_opts t;
    ffr_ep_opts_default(&e, &t);
    int count = 0, tcount = 0, threads = 0, quiet = 0, resume = 0, eq23 = 0, nlr = 0, progress_every = 20;
    double init_scale = 1;
    ffr_rule rule = FFR_RULE_HOPFIELD;
    static const struct option lo[] = {
        {"method", 1, 0, 'M'}, {"images", 1, 0, 'x'}, {"labels", 1, 0, 'y'}, {"count", 1, 0, 'n'},
        {"test-images", 1, 0, 'X'}, {"test-labels", 1, 0, 'Y'}, {"test-count", 1, 0, 'N'}, {"sizes", 1, 0, 'z'},
        {"init-model", 1, 0, 'I'}, {"rule", 1, 0, 'R'}, {"feedback", 1, 0, 'F'}, {"init-scale", 1, 0, 'g'},
        {"out", 1, 0, 'o'}, {"epochs", 1, 0, 'e'}, {"batch", 1, 0, 'b'}, {"beta", 1, 0, 'B'}, {"nudge", 1, 0, 'u'},
        {"lr", 1, 0, 'l'}, {"optimizer", 1, 0, 'O'}, {"momentum", 1, 0, 'm'}, {"weight-decay", 1, 0, 'w'},
        {"init", 1, 0, 'i'}, {"tol", 1, 0, 't'}, {"tol-mode", 1, 0, 'T'}, {"max-sweeps", 1, 0, 's'},
        {"fixed-sweeps", 1, 0, 'f'}, {"anderson", 1, 0, 'a'}, {"precision", 1, 0, 'p'}, {"seed", 1, 0, 'S'},
        {"metrics", 1, 0, 'c'}, {"checkpoint", 1, 0, 'C'}, {"resume", 0, 0, 'Z'}, {"threads", 1, 0, 'j'},
        {"progress-every", 1, 0, 'P'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'M': break; /* ep */
        case 'x': images = optarg; break;
        case 'y': labels = optarg; break;
        case 'n': if (cli_int(C, "count", optarg, 1, 1 << 30, &count)) return 1; break;
        case 'X': timages = optarg; break;
        case 'Y': tlabels = optarg; break;
        case 'N': if (cli_int(C, "test-count", optarg, 1, 1 << 30, &tcount)) return 1; break;
        case 'z': sizes = optarg; break;
        case 'I': init_model = optarg; break;
        case 'R':
            if (ffr_rule_parse(optarg, &rule) || rule == FFR_RULE_BOLTZMANN)
                return cli_fail(C, "--rule: expected hopfield or dendritic, found '%s'", optarg);
            break;
        case 'F':
            if (!strcmp(optarg, "eq23")) eq23 = 1;
            else if (!strcmp(optarg, "tied")) eq23 = 0;
            else return cli_fail(C, "--feedback: expected tied or eq23, found '%s'", optarg);
            break;
        case 'g': if (cli_double(C, "init-scale", optarg, 0, 1e6, &init_scale)) return 1; break;
        case 'o': out = optarg; break;
        case 'e': if (cli_int(C, "epochs", optarg, 0, EP_MAX_EPOCHS, &t.epochs)) return 1; break;
        case 'b': if (cli_int(C, "batch", optarg, 1, 1 << 20, &t.batch)) return 1; break;
        case 'B': if (cli_double(C, "beta", optarg, 1e-12, 1e6, &e.beta)) return 1; break;
        case 'u': if (ffr_nudge_parse(optarg, &e.nudge)) return cli_fail(C, "--nudge: expected positive, centered or random-sign, found '%s'", optarg); break;
        case 'l': if ((nlr = parse_lrs(C, optarg, e.lr)) < 0) return 1; break;
        case 'O': if (ffr_optimizer_parse(optarg, &t.optimizer)) return cli_fail(C, "--optimizer: expected sgd or adam, found '%s'", optarg); break;
        case 'm': if (cli_double(C, "momentum", optarg, 0, 0.999999, &t.momentum)) return 1; break;
        case 'w': if (cli_double(C, "weight-decay", optarg, 0, 1e6, &t.weight_decay)) return 1; break;
        case 'i': if (ffr_ep_start_parse(optarg, &e.start)) return cli_fail(C, "--init: expected ff, zero or persistent, found '%s'", optarg); break;
        case 't': case 'T': case 's': case 'a': case 'p': if (relax_opt(C, c, optarg, &e.relax) < 0) return 1; break;
        case 'f': if (parse_pair(C, "fixed-sweeps", optarg, &e.fixed_free, &e.fixed_nudged)) return 1; break;
        case 'S': if (cli_u64(C, "seed", optarg, &t.seed)) return 1; break;
        case 'c': metrics = optarg; break;
        case 'C': checkpoint = optarg; break;
        case 'Z': resume = 1; break;
        case 'j': if (cli_int(C, "threads", optarg, 0, 1024, &threads)) return 1; break;
        case 'P': if (cli_int(C, "progress-every", optarg, 0, 1 << 30, &progress_every)) return 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage_train(); return 0;
        default: return 2;
        }
    }
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!images || !labels) return cli_fail(C, "--images and --labels are required");
    if (!out) return cli_fail(C, "--out is required");
    if (!sizes == !init_model) return cli_fail(C, "give --sizes N0,..,NL for a new network, or --init-model MODEL");
    if (!timages != !tlabels) return cli_fail(C, "--test-images and --test-labels go together");
    if (resume && !checkpoint) return cli_fail(C, "--resume needs --checkpoint PATH");
    { /* outputs apart from the inputs and each other, writable: before any work */
        cli_path ins[] = {{"images", images, CLI_FILE}, {"labels", labels, CLI_FILE}, {"test-images", timages, CLI_FILE},
                          {"test-labels", tlabels, CLI_FILE}, {"init-model", init_model, CLI_FILE}};
        cli_path outs[] = {{"out", out, CLI_FILE}, {"checkpoint", checkpoint, CLI_FILE}, {"metrics", metrics, CLI_FILE}};
        if (cli_check_paths(C, ins, 5, outs, 3)) return 1;
    }
    if (t.optimizer == FFR_OPT_ADAM && nlr == 0) /* Adam's usual step, one rate */
        for (int k = 1; k < FFR_MAX_LAYERS; k++) e.lr[k] = 1e-3;
    ffr_set_threads(threads);
    t.checkpoint = checkpoint;
    t.resume = resume;
    /* under MPI (cli/mpi.h) every rank trains the same network on its shards of
       each minibatch; rank 0 alone writes the model, checkpoint and metrics */
    const ffr_comm *comm = cli_comm();
    int writer = cli_rank() == 0;
    if (!writer) { metrics = NULL; quiet = 1; }

    ffr_err err;
    ffr_net *net = NULL;
    float *x = NULL, *xt = NULL;
    unsigned char *y = NULL, *yt = NULL;
    size_t n = 0, nt = 0;
    int rc = 1;
    ep_ui *u = calloc(1, sizeof *u);
    if (!u) return cli_fail(C, "out of memory");
    u->tty = isatty(2); u->quiet = quiet; u->tag = "ep";
    if (init_model) {
        if (ffr_net_load(&net, init_model, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    } else {
        int nn[FFR_MAX_LAYERS];
        int L = cli_sizes(C, sizes, nn);
        if (L < 0) goto done;
        int tied = rule == FFR_RULE_HOPFIELD || !eq23;
        if (ffr_net_create(&net, L, nn, rule, FFR_RHO_HARDSIGMOID, tied, &err)) { cli_fail(C, "%s", err.msg); goto done; }
        ffr_net_init_fanin(net, t.seed, (float)init_scale);
    }
    if (nlr > 1 && nlr != net->L) { cli_fail(C, "--lr: expected 1 or %d values (one per weight layer), found %d", net->L, nlr); goto done; }
    if (load_labeled(C, images, labels, count, net->n[0], &x, &y, &n)) goto done;
    if (timages) {
        if (load_labeled(C, timages, tlabels, tcount, net->n[0], &xt, &yt, &nt)) goto done;
        e.test_x = xt; e.test_y = yt; e.n_test = nt;
    }
    if (metrics && cli_csv_open(&u->csv, C, metrics, EP_CSV_HEADER, resume, -1, 0)) goto done;
    e.progress = on_ep; e.progress_ctx = u;
    e.progress_every = u->tty && !quiet ? progress_every : 0;
    if (!quiet)
        fprintf(stderr, "train ep: %zu examples, %zu test, %s %s, beta %g %s, start %s, %s, %s\n", n, nt,
                ffr_rule_name(net->rule), net->tied ? "tied" : "untied (Eq. 23 feedback)", e.beta, ffr_nudge_name(e.nudge),
                ffr_ep_start_name(e.start), e.fixed_free ? "fixed sweeps" : "tolerance stop", ffr_blas_info());
    int stopped = 0;
    if (ffr_train_ep_comm(net, x, y, n, &e, &t, comm, &stopped, &err)) {
        if (writer) cli_fail(C, "%s", err.msg); /* every rank has this error (ffr_comm_agree): rank 0 says it */
        cli_mpi_failed_everywhere();
        goto done;
    }
    if (u->csv.fail) { cli_fail(C, "%s (training stopped)", u->csv.err.msg); goto done; }
    if (writer && ffr_net_save(net, out, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    if (!quiet) fprintf(stderr, "wrote %s\n", out);
    rc = 0;
done:
    if (u) cli_csv_close(&u->csv);
    free(u);
    ffr_net_free(net);
    free(x); free(y); free(xt); free(yt);
    return rc;
}

/* ------------------------------------------------------------------ eval */
static void usage_eval(void) {
    printf("usage: ffrelax eval --model M --images FILE --labels FILE [options]\n\n"
           "Error rate of a classifier network (top layer = classes): the feedforward pass alone (Eq. 17)\n"
           "and the relaxed network (free phase, input clamped), sweeps and convergence.\n\n"
           "  --count N            first N examples (default all)\n"
           "  --init S             ff (default) | zero: start of the relaxation\n"
           "  --tol X              (default 1e-3)   --tol-mode rel|abs (default rel)\n"
           "  --max-sweeps N       (default 100)\n"
           "  --fixed-sweeps F     exactly F sweeps, no tolerance\n"
           "  --anderson M         Anderson acceleration (default 0)\n"
           "  --precision P        fp32 | bf16 (default fp32)\n"
           "  --threads N          BLAS threads\n"
           "  --csv                one machine-readable line (with a header line)\n");
}

/* eval's result on stdout: one line, or --csv's header and row */
static void eval_print(const ffr_ep_eval *r, int csv) {
    if (csv) {
        printf("n,err_ff,err_relaxed,sweeps_mean,sweeps_p95,sweeps_max,frac_converged,frac_max,dist_rel,seconds\n");
        printf("%zu", r->n);
        double v[] = {r->err_ff, r->err_relaxed, r->sweeps_mean, r->sweeps_p95, r->sweeps_max, r->frac_converged, r->frac_max,
                      r->dist_rel, r->seconds};
        for (size_t i = 0; i < sizeof v / sizeof *v; i++) cli_csv_num(stdout, v[i]);
        putchar('\n');
    } else
        printf("%zu examples: error feedforward %.2f%%, relaxed %.2f%%; sweeps mean %.2f, p95 %.0f, max %.0f; "
               "converged %.4f; ff start distance %.4g (relative); %.2f s\n",
               r->n, 100 * r->err_ff, 100 * r->err_relaxed, r->sweeps_mean, r->sweeps_p95, r->sweeps_max, r->frac_converged,
               r->dist_rel, r->seconds);
}

int cmd_eval(int argc, char **argv) {
    const char *C = "eval";
    const char *model = NULL, *images = NULL, *labels = NULL;
    int count = 0, csv = 0, threads = 0, fixed = 0;
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    o.tol = 1e-3; o.tol_mode = FFR_TOL_REL; o.max_sweeps = 100; o.measure_every = -1; o.diverge_factor = 0;
    static const struct option lo[] = {
        {"model", 1, 0, 'm'}, {"images", 1, 0, 'x'}, {"labels", 1, 0, 'y'}, {"count", 1, 0, 'n'}, {"init", 1, 0, 'i'},
        {"tol", 1, 0, 't'}, {"tol-mode", 1, 0, 'T'}, {"max-sweeps", 1, 0, 's'}, {"fixed-sweeps", 1, 0, 'f'},
        {"anderson", 1, 0, 'a'}, {"precision", 1, 0, 'p'}, {"threads", 1, 0, 'j'}, {"csv", 0, 0, 'c'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'x': images = optarg; break;
        case 'y': labels = optarg; break;
        case 'n': if (cli_int(C, "count", optarg, 1, 1 << 30, &count)) return 1; break;
        case 'i':
            if (!strcmp(optarg, "ff")) o.init = FFR_INIT_FF;
            else if (!strcmp(optarg, "zero")) o.init = FFR_INIT_ZERO;
            else return cli_fail(C, "--init: expected ff or zero, found '%s'", optarg);
            break;
        case 't': case 'T': case 's': case 'a': case 'p': if (relax_opt(C, c, optarg, &o) < 0) return 1; break;
        case 'f': if (cli_int(C, "fixed-sweeps", optarg, 1, 1000000, &fixed)) return 1; break;
        case 'j': if (cli_int(C, "threads", optarg, 0, 1024, &threads)) return 1; break;
        case 'c': csv = 1; break;
        case 'h': usage_eval(); return 0;
        default: return 2;
        }
    }
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!model || !images || !labels) return cli_fail(C, "--model, --images and --labels are required");
    if (fixed) { o.tol = 0; o.max_sweeps = fixed; }
    ffr_set_threads(threads);
    ffr_err err;
    ffr_net *net = NULL;
    float *x = NULL;
    unsigned char *y = NULL;
    size_t n;
    int rc = 1;
    ffr_ep_eval r;
    if (ffr_net_load(&net, model, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    if (load_labeled(C, images, labels, count, net->n[0], &x, &y, &n)) goto done;
    if (ffr_labels_check(y, n, n, net->n[net->L], labels, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    /* under MPI (cli/mpi.h) the ranks share the examples' chunks; rank 0 alone prints */
    if (ffr_ep_evaluate_comm(net, x, y, n, &o, &r, cli_comm(), &err)) {
        if (cli_rank() == 0) cli_fail(C, "%s", err.msg); /* every rank has this error (ffr_comm_agree) */
        cli_mpi_failed_everywhere();
        goto done;
    }
    if (cli_rank() == 0) eval_print(&r, csv);
    rc = 0;
done:
    ffr_net_free(net);
    free(x); free(y);
    return rc;
}

/* -------------------------------------------------------------- ep-study */
/* The anchors' fixed free/nudged sweeps by number of hidden layers
 * (Scellier et al. 2024 benchmark: 15/15, 50/20, 100/10), zero start. */
static void anchor_sweeps(int hidden, int *F, int *N) {
    *F = hidden <= 1 ? 15 : hidden == 2 ? 50 : 100;
    *N = hidden <= 1 ? 15 : hidden == 2 ? 20 : 10;
}

#define STUDY_MAX_ARCH 4
typedef struct {
    char arch[128];
    int n[FFR_MAX_LAYERS], L;
    ep_ui *u[2];  /* 0: anchors, 1: ffrelax */
    int F, N;
} study_arch;

static const char *sched_name[2] = {"anchors", "ffrelax"};

static int study_plot(const char *C, const char *dir, const char *file, const char *title, const char *ylabel,
                      study_arch *A, int na, int what) {
    /* what: 0 test error (relaxed; ff dashed), 1 sweeps per phase, 2 cumulative time, 3 ff vs relaxed error */
    ffr_panel p[STUDY_MAX_ARCH];
    ffr_series ser[STUDY_MAX_ARCH][4];
    double *buf = calloc((size_t)na * 4 * 2 * EP_MAX_EPOCHS, sizeof(double));
    char lab[STUDY_MAX_ARCH][4][64];
    if (!buf) return cli_fail(C, "out of memory");
    for (int a = 0; a < na; a++) {
        int ns = 0;
        for (int s = 0; s < 2; s++)
            for (int v = 0; v < 2; v++) {
                if ((what == 0 || what == 2) && v) continue; /* test_error.png: relaxed only; ff_vs_relaxed.png: both */
                ep_ui *u = A[a].u[s];
                double *xs = buf + ((size_t)(a * 4 + ns) * 2) * EP_MAX_EPOCHS, *ys = xs + EP_MAX_EPOCHS;
                double cum = 0;
                for (int i = 0; i < u->nrec; i++) {
                    const ffr_ep_report *r = &u->rec[i];
                    cum += r->seconds;
                    xs[i] = r->epoch;
                    ys[i] = what == 0 ? 100 * (v ? r->test_err_ff : r->test_err_relaxed)
                          : what == 1 ? (v ? r->nudged_mean : r->free_mean)
                          : what == 2 ? cum
                          : 100 * (v ? r->test_err_ff : r->test_err_relaxed);
                }
                snprintf(lab[a][ns], sizeof lab[a][ns], "%s %s", sched_name[s],
                         what == 1 ? (v ? "nudged" : "free") : what == 2 ? "" : (v ? "feedforward" : "relaxed"));
                ser[a][ns] = (ffr_series){lab[a][ns], xs, ys, u->nrec, NULL, NULL, 0, v, 1};
                ns++;
            }
        p[a] = (ffr_panel){A[a].arch, "epoch", ylabel, 0, what == 1, NAN, NAN, NAN, NAN, ser[a], ns};
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    ffr_err err;
    int rc = 0;
    if (ffr_plot_write(path, title, p, na, na, 560, 420, &err)) rc = cli_fail(C, "%s", err.msg);
    free(buf);
    return rc;
}

static void usage_study(void) {
    printf("usage: ffrelax ep-study --data DIR --out DIR [--quick] [options]\n\n"
           "Train each architecture twice with supervised EP, on the same seed and epochs: once with the\n"
           "anchors' schedule (zero start, fixed free/nudged sweeps: 15/15 for one hidden layer, 50/20\n"
           "for two, 100/10 for three) and once with ffrelax's (feedforward start, relative tol 1e-3).\n"
           "DIR holds {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (Fashion-MNIST: Debian's\n"
           "dataset-fashion-mnist, /usr/share/datasets/fashion-mnist; digits: data/mnist).\n"
           "Writes OUT/summary.csv, OUT/<arch>_<schedule>.csv per epoch, and the plots test_error.png,\n"
           "sweeps.png, time.png, ff_vs_relaxed.png.\n\n"
           "  --archs A,B          architectures (default 784-1024-10,784-1024-1024-10;\n"
           "                       --quick: 784-256-10,784-256-256-10)\n"
           "  --epochs N           (default 2; --quick 1)\n"
           "  --count N            training examples (default all; --quick 3000)\n"
           "  --test-count N       test examples (default all; --quick 1000)\n"
           "  --seed S             (default 1)\n"
           "  --bp-csv FILE        backprop results of scripts/bp_baseline.py (arch,seed,epochs,test_err):\n"
           "                       the row of the same arch and seed is printed and kept beside the EP rows\n"
           "  --threads N          BLAS threads\n"
           "  --quiet              no per-epoch lines\n");
}

/* The test error of the backprop run for arch and seed in FILE (scripts/bp_baseline.py's CSV:
 * arch,seed,epochs,test_err,...); NaN if absent. */
static double bp_lookup(const char *file, const char *arch, uint64_t seed) {
    if (!file) return NAN;
    FILE *f = fopen(file, "r");
    if (!f) return NAN;
    char line[512];
    double best = NAN;
    while (fgets(line, sizeof line, f)) {
        char a[128];
        unsigned long long sd;
        double err;
        if (sscanf(line, "%127[^,],%llu,%*[^,],%lf", a, &sd, &err) == 3 && !strcmp(a, arch) && sd == seed) best = err;
    }
    fclose(f);
    return best;
}

int cmd_ep_study(int argc, char **argv) {
    const char *C = "ep-study";
    const char *data = NULL, *outdir = NULL, *archs = NULL, *bp = NULL;
    int quick = 0, epochs = -1, count = -1, tcount = -1, threads = 0, quiet = 0;
    uint64_t seed = 1;
    static const struct option lo[] = {
        {"data", 1, 0, 'd'}, {"out", 1, 0, 'o'}, {"quick", 0, 0, 'Q'}, {"archs", 1, 0, 'a'}, {"epochs", 1, 0, 'e'},
        {"count", 1, 0, 'n'}, {"test-count", 1, 0, 'N'}, {"seed", 1, 0, 'S'}, {"bp-csv", 1, 0, 'b'},
        {"threads", 1, 0, 'j'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'o': outdir = optarg; break;
        case 'Q': quick = 1; break;
        case 'a': archs = optarg; break;
        case 'e': if (cli_int(C, "epochs", optarg, 1, EP_MAX_EPOCHS, &epochs)) return 1; break;
        case 'n': if (cli_int(C, "count", optarg, 1, 1 << 30, &count)) return 1; break;
        case 'N': if (cli_int(C, "test-count", optarg, 1, 1 << 30, &tcount)) return 1; break;
        case 'S': if (cli_u64(C, "seed", optarg, &seed)) return 1; break;
        case 'b': bp = optarg; break;
        case 'j': if (cli_int(C, "threads", optarg, 0, 1024, &threads)) return 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage_study(); return 0;
        default: return 2;
        }
    }
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!data || !outdir) return cli_fail(C, "--data DIR and --out DIR are required");
    if (!archs) archs = quick ? "784-256-10,784-256-256-10" : "784-1024-10,784-1024-1024-10";
    if (epochs < 0) epochs = quick ? 1 : 2;
    if (count < 0) count = quick ? 3000 : 0;
    if (tcount < 0) tcount = quick ? 1000 : 0;
    ffr_set_threads(threads);
    if (mkdir(outdir, 0777) && errno != EEXIST) return cli_fail(C, "%s: cannot create: %s", outdir, strerror(errno));

    study_arch A[STUDY_MAX_ARCH];
    int na = 0;
    memset(A, 0, sizeof A);
    for (const char *p = archs; *p;) {
        size_t len = strcspn(p, ",");
        if (na == STUDY_MAX_ARCH || len == 0 || len >= sizeof A[na].arch)
            return cli_fail(C, "--archs: expected at most %d architectures like 784-1024-10, found '%s'", STUDY_MAX_ARCH, archs);
        memcpy(A[na].arch, p, len);
        char sz[128];
        memcpy(sz, p, len); sz[len] = 0;
        for (char *q = sz; *q; q++) if (*q == '-') *q = ',';
        if ((A[na].L = cli_sizes(C, sz, A[na].n)) < 0) return 1;
        anchor_sweeps(A[na].L - 1, &A[na].F, &A[na].N);
        na++;
        p += len;
        if (*p == ',') p++;
    }

    ffr_err err;
    float *x = NULL, *xt = NULL;
    unsigned char *y = NULL, *yt = NULL;
    size_t n, nt;
    int rc = 1;
    FILE *sum = NULL;
    if (ffr_mnist_load(data, 1, &x, &y, &n, &err) || ffr_mnist_load(data, 0, &xt, &yt, &nt, &err)) {
        cli_fail(C, "%s", err.msg);
        goto done;
    }
    if (count > 0 && (size_t)count < n) n = (size_t)count;
    if (tcount > 0 && (size_t)tcount < nt) nt = (size_t)tcount;
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.csv", outdir);
    if (!(sum = fopen(path, "w"))) { cli_fail(C, "%s: cannot write: %s", path, strerror(errno)); goto done; }
    fprintf(sum, "data,arch,schedule,start,free_sweeps_fixed,nudged_sweeps_fixed,seed,epochs,n_train,n_test,"
                 "test_err_relaxed,test_err_ff,train_err_relaxed,free_sweeps_mean,nudged_sweeps_mean,"
                 "seconds_per_epoch,seconds_total,speedup_vs_anchors,bp_test_err\n");
    fprintf(stderr, "ep-study: %s, %zu train / %zu test, %d epoch(s), seed %llu, %s\n", data, n, nt, epochs,
            (unsigned long long)seed, ffr_blas_info());
    for (int a = 0; a < na; a++)
        for (int s = 0; s < 2; s++) {
            ep_ui *u = A[a].u[s] = calloc(1, sizeof(ep_ui));
            if (!u) { cli_fail(C, "out of memory"); goto done; }
            char tag[300];
            snprintf(tag, sizeof tag, "%.127s %s", A[a].arch, sched_name[s]);
            u->tag = tag; u->quiet = quiet; u->tty = isatty(2);
            snprintf(path, sizeof path, "%s/%s_%s.csv", outdir, A[a].arch, sched_name[s]);
            if (cli_csv_open(&u->csv, C, path, EP_CSV_HEADER, 0, -1, 0)) goto done;
            ffr_net *net = NULL;
            if (ffr_net_create(&net, A[a].L, A[a].n, FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 1, &err)) {
                cli_fail(C, "%s", err.msg);
                goto done;
            }
            ffr_net_init_fanin(net, seed, 1.f);
            ffr_ep_opts e;
            ffr_train_opts t;
            ffr_ep_opts_default(&e, &t);
            t.epochs = epochs; t.seed = seed;
            if (s == 0) { e.start = FFR_EP_START_ZERO; e.fixed_free = A[a].F; e.fixed_nudged = A[a].N; }
            e.test_x = xt; e.test_y = yt; e.n_test = nt;
            e.progress = on_ep; e.progress_ctx = u;
            e.progress_every = u->tty && !quiet ? 20 : 0;
            int bad = ffr_train_ep(net, x, y, n, &e, &t, NULL, &err);
            ffr_net_free(net);
            int csvbad = u->csv.fail;
            if (csvbad) cli_fail(C, "%s", u->csv.err.msg);
            cli_csv_close(&u->csv);
            if (csvbad) goto done;
            if (bad) { cli_fail(C, "%s %s: %s", A[a].arch, sched_name[s], err.msg); goto done; }
        }
    printf("%-20s %-8s %8s %8s %8s %7s %7s %9s %8s %8s\n", "arch", "schedule", "test_err", "ff_err", "bp_err",
           "free", "nudged", "s/epoch", "total_s", "speedup");
    for (int a = 0; a < na; a++) {
        double bperr = bp_lookup(bp, A[a].arch, seed), sec[2] = {0, 0};
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < A[a].u[s]->nrec; i++) sec[s] += A[a].u[s]->rec[i].seconds;
        for (int s = 0; s < 2; s++) {
            ep_ui *u = A[a].u[s];
            if (!u->nrec) continue;
            const ffr_ep_report *r = &u->rec[u->nrec - 1];
            double spe = sec[s] / u->nrec, speed = sec[s] > 0 ? sec[0] / sec[s] : NAN;
            fprintf(sum, "%s,%s,%s,%s,%d,%d,%llu,%d,%zu,%zu", data, A[a].arch, sched_name[s], s ? "ff" : "zero",
                    s ? 0 : A[a].F, s ? 0 : A[a].N, (unsigned long long)seed, u->nrec, n, nt);
            double v[] = {r->test_err_relaxed, r->test_err_ff, r->train_err_relaxed, r->free_mean, r->nudged_mean, spe,
                          sec[s], speed, bperr};
            for (size_t i = 0; i < sizeof v / sizeof *v; i++) cli_csv_num(sum, v[i]);
            fputc('\n', sum);
            char bps[16] = "       -";
            if (!isnan(bperr)) snprintf(bps, sizeof bps, "%7.2f%%", 100 * bperr);
            printf("%-20s %-8s %7.2f%% %7.2f%% %s %7.2f %7.2f %9.2f %8.1f %7.2fx\n", A[a].arch, sched_name[s],
                   100 * r->test_err_relaxed, 100 * r->test_err_ff, bps, r->free_mean, r->nudged_mean, spe, sec[s], speed);
        }
    }
    fclose(sum); sum = NULL;
    if (study_plot(C, outdir, "test_error.png", "EP test error per epoch: anchors' schedule vs ffrelax's", "test error (%)", A, na, 0) ||
        study_plot(C, outdir, "sweeps.png", "Mean sweeps per example and phase", "sweeps", A, na, 1) ||
        study_plot(C, outdir, "time.png", "Cumulative training time", "seconds", A, na, 2) ||
        study_plot(C, outdir, "ff_vs_relaxed.png", "Test error: feedforward pass alone vs relaxed", "test error (%)", A, na, 3))
        goto done;
    fprintf(stderr, "wrote %s/summary.csv, per-epoch CSVs, test_error.png, sweeps.png, time.png, ff_vs_relaxed.png\n", outdir);
    rc = 0;
done:
    if (sum) fclose(sum);
    for (int a = 0; a < na; a++)
        for (int s = 0; s < 2; s++) {
            if (A[a].u[s]) cli_csv_close(&A[a].u[s]->csv);
            free(A[a].u[s]);
        }
    free(x); free(y); free(xt); free(yt);
    return rc;
}
