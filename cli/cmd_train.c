/* cmd_train.c - `ffrelax train`: greedy stacked auto-encoders, RBMs with
 * CD-k / PCD, or the local dendritic rule (Eq. 23), with a progress bar,
 * per-epoch metrics CSV, atomic checkpoints and --resume. The maths lives
 * in src/train_*.c and doc/training.md. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "mpi.h"

typedef struct {
    int tty, quiet, L;
    cli_csv csv;            /* --metrics (cli/csvlog.c); csv.path NULL: none */
    ffr_train_method method;
} ui;

static int on_progress(void *ctx, const ffr_train_progress *p) {
    ui *u = ctx;
    char where[64];
    if (p->layer) snprintf(where, sizeof where, "layer %d/%d ", p->layer, u->L);
    else where[0] = 0;
    if (!p->end_of_epoch) {
        if (u->tty && !u->quiet) {
            fprintf(stderr, "\r%s %sepoch %d/%d %3.0f%%  loss %.5g  %.0f ex/s", ffr_train_method_name(p->method), where,
                    p->epoch, p->epochs, 100.0 * p->done / p->total, p->loss, p->examples_per_s);
            if (!isnan(p->mean_sweeps)) fprintf(stderr, "  sweeps %.2f", p->mean_sweeps);
            fputs("   ", stderr);
        }
        return 0;
    }
    const ffr_train_metrics *m = p->metrics;
    if (!u->quiet) {
        if (u->tty) fputs("\r", stderr);
        fprintf(stderr, "%s %sepoch %d/%d  loss %.5g  %.0f ex/s  %.1f s", ffr_train_method_name(p->method), where,
                p->epoch, p->epochs, p->loss, p->examples_per_s, p->seconds);
        if (!isnan(p->mean_sweeps)) fprintf(stderr, "  sweeps %.2f", p->mean_sweeps);
        if (m) {
            int k = p->layer ? p->layer : 0;
            if (k) fprintf(stderr, "  holdout rel %.4f", m->recon_rel[k]);
            else {
                fputs("  holdout rel", stderr);
                for (int j = 1; j <= m->L; j++) fprintf(stderr, " %.4f", m->recon_rel[j]);
            }
            if (m->relaxed) fprintf(stderr, "  sweeps<1e-3 median %.0f  dist %.4f", m->sweeps_median, m->dist_rel_median);
        }
        fputs(u->tty ? "          \n" : "\n", stderr);
    }
    if (u->csv.path) {
        FILE *f = cli_csv_row(&u->csv, p->layer, p->epoch);
        if (!f) return 1;
        int kmax = m ? m->L : 1;
        for (int k = 1; k <= kmax; k++) {
            fprintf(f, "%s,%d,%d,%d", ffr_train_method_name(p->method), p->layer, p->epoch, m ? k : 0);
            cli_csv_num(f, p->loss);
            cli_csv_num(f, m ? m->recon_abs[k] : NAN);
            cli_csv_num(f, m ? m->recon_rel[k] : NAN);
            cli_csv_num(f, m ? m->recon_rel_ex[k] : NAN);
            cli_csv_num(f, m ? m->recon_rel_rate[k] : NAN);
            cli_csv_num(f, m && k >= 2 ? m->disagree[k - 1] : NAN);
            cli_csv_num(f, p->examples_per_s);
            cli_csv_num(f, p->mean_sweeps);
            cli_csv_num(f, m && m->relaxed ? m->sweeps_median : NAN);
            cli_csv_num(f, m && m->relaxed ? m->dist_rel_median : NAN);
            cli_csv_num(f, p->seconds);
            fputc('\n', f);
        }
        if (cli_csv_commit(&u->csv)) { u->csv.fail = 1; return 1; } /* stop: the run's record would be lost */
    }
    return 0;
}

static void usage(void) {
    printf("usage: ffrelax train --method sae|rbm|dendritic|ep --images FILE (--sizes N0,N1,.. | --init-model MODEL)\n"
           "                     --out MODEL [options]\n\n"
           "Train the network's branches so that consecutive layers form good auto-encoders\n"
           "(doc/training.md): greedy stacked auto-encoders (sae), a greedy stack of RBMs with\n"
           "CD-k (rbm, stored under the boltzmann rule), or the local dendritic rule of Eq. 23\n"
           "on the relaxed fixed point (dendritic).\n\n"
           "  --method M           sae | rbm | dendritic (default sae)\n"
           "  --images FILE        IDX images (plain or .gz) or a 2-D float .npy (N, n0), values in [0,1] (required)\n"
           "  --count N            use the first N examples of FILE (default: all)\n"
           "  --holdout N          hold out the last N examples for the per-epoch metrics (default:\n"
           "                       1000 when the data has more than 2000 examples, else 0)\n"
           "  --holdout-images F   take the held-out examples from file F instead (all of it, or the\n"
           "                       first --holdout N); then every example of --images trains\n"
           "  --sizes N0,..,NL     layer sizes of a new network (Glorot init) (required without --init-model)\n"
           "  --init-model MODEL   start from this model's weights instead (typical for dendritic)\n"
           "  --out MODEL          write the trained model here (required)\n"
           "  --epochs N           epochs per layer (sae, rbm; default 30) or in all (dendritic; default 10)\n"
           "  --batch N            minibatch size (default 100)\n"
           "  --lr X               learning rate (default 1e-3; dendritic 0.02)\n"
           "  --optimizer O        sgd | adam (default adam; dendritic sgd)\n"
           "  --momentum X         sgd momentum (default 0.9)\n"
           "  --beta1 X --beta2 X  adam moment decays (default 0.9, 0.999)\n"
           "  --adam-eps X         adam epsilon (default 1e-8)\n"
           "  --weight-decay X     L2 on weights, not offsets (default 0)\n"
           "  --decoder D          untied | tied: V_k = W_k^T (default untied; rbm: always tied)\n"
           "  --target T           sae: reconstruct the voltage h_{k-1} or the rate rho(h_{k-1}) (default voltage)\n"
           "  --rho R              hardsigmoid | sigmoid | identity (default hardsigmoid; rbm: sigmoid)\n"
           "  --rule R             rule stored in the new model: dendritic | hopfield | boltzmann\n"
           "                       (default dendritic; rbm: boltzmann)\n"
           "  --alpha-up X         basal gain stored in the model, every layer (default 1)\n"
           "  --alpha-down X       apical gain stored in the model, every layer (default 1)\n"
           "  --init-scale X       Glorot scale of a new network (default 1)\n"
           "  --seed S             seed of the init, shuffling and sampling (default 1)\n"
           "  --cd-k K             rbm: Gibbs steps of CD-k (default 1)\n"
           "  --persistent         rbm: persistent CD (default: off)\n"
           "  --basal              dendritic: also train the basal branches W_k, b_k (default: on)\n"
           "  --no-basal           dendritic: train the apical branches V_k, c_k only\n"
           "  --relax-tol X        dendritic: stop relaxing an example once step/||s|| < X (default 1e-3)\n"
           "  --relax-max-sweeps N dendritic: at most N sweeps per minibatch (default 50)\n"
           "  --holdout-relax      also measure relaxation speed on the holdout each epoch (default: dendritic only)\n"
           "  --no-holdout-relax   do not\n"
           "  --metrics CSV        per-epoch metrics, one row per layer pair (default none)\n"
           "  --checkpoint PATH    write an atomic checkpoint after every epoch (default none)\n"
           "  --resume             continue from --checkpoint if it exists (same options and data)\n"
           "  --threads N          BLAS threads (default: the environment's, OPENBLAS_NUM_THREADS)\n"
           "  --progress-every K   progress line every K minibatches on a terminal (default 10)\n"
           "  --quiet              no progress output\n");
}

int cmd_train(int argc, char **argv) {
    const char *C = "train";
    const char *images = NULL, *hold_images = NULL, *out = NULL, *init_model = NULL, *metrics = NULL, *sizes = NULL;
    ffr_train_method method = FFR_TRAIN_SAE;
    ffr_train_opts o;
    int count = 0, holdout = -1, threads = 0, quiet = 0, tied = 0, progress_every = 10;
    int rule_set = 0, rho_set = 0, hrelax = -1, resume = 0, decoder_set = 0, alpha_set = 0, scale_set = 0;
    double relax_tol, alpha_up = 1, alpha_down = 1, init_scale = 1;
    int relax_max;
    ffr_rule rule = FFR_RULE_DENDRITIC;
    ffr_rho rho = FFR_RHO_HARDSIGMOID;
    const char *checkpoint = NULL;
    /* parse the method first: it selects the defaults */
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--method") && i + 1 < argc) v = argv[i + 1];
        else if (!strncmp(argv[i], "--method=", 9)) v = argv[i] + 9;
        if (v && !strcmp(v, "ep")) /* supervised EP: cli/cmd_ep.c (data-parallel under MPI too) */
            return cmd_train_ep(argc, argv);
        if (v && ffr_train_method_parse(v, &method))
            return cli_fail(C, "--method: expected sae, rbm or dendritic, found '%s'", v);
    }
    ffr_train_opts_default(&o, method);
    relax_tol = o.relax.tol;
    relax_max = o.relax.max_sweeps;
    static const struct option lo[] = {
        {"method", 1, 0, 'M'}, {"images", 1, 0, 'x'}, {"count", 1, 0, 'n'}, {"holdout", 1, 0, 'H'}, {"holdout-images", 1, 0, 'V'},
        {"sizes", 1, 0, 'z'}, {"init-model", 1, 0, 'I'}, {"out", 1, 0, 'o'}, {"epochs", 1, 0, 'e'},
        {"batch", 1, 0, 'b'}, {"lr", 1, 0, 'l'}, {"optimizer", 1, 0, 'O'}, {"momentum", 1, 0, 'm'},
        {"beta1", 1, 0, '1'}, {"beta2", 1, 0, '2'}, {"adam-eps", 1, 0, 'E'}, {"weight-decay", 1, 0, 'w'},
        {"decoder", 1, 0, 'd'}, {"target", 1, 0, 't'}, {"rho", 1, 0, 'r'}, {"rule", 1, 0, 'R'},
        {"alpha-up", 1, 0, 'u'}, {"alpha-down", 1, 0, 'D'}, {"init-scale", 1, 0, 'g'}, {"seed", 1, 0, 'S'},
        {"cd-k", 1, 0, 'k'}, {"persistent", 0, 0, 'p'}, {"basal", 0, 0, 'B'}, {"no-basal", 0, 0, 'N'}, {"relax-tol", 1, 0, 'T'},
        {"relax-max-sweeps", 1, 0, 'X'}, {"holdout-relax", 0, 0, 'y'}, {"no-holdout-relax", 0, 0, 'Y'},
        {"metrics", 1, 0, 'c'}, {"checkpoint", 1, 0, 'C'}, {"resume", 0, 0, 'Z'}, {"threads", 1, 0, 'j'},
        {"progress-every", 1, 0, 'P'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'M': break; /* parsed above */
        case 'x': images = optarg; break;
        case 'n': if (cli_int(C, "count", optarg, 1, 1 << 30, &count)) return 1; break;
        case 'H': if (cli_int(C, "holdout", optarg, 0, 1 << 30, &holdout)) return 1; break;
        case 'V': hold_images = optarg; break;
        case 'z': sizes = optarg; break;
        case 'I': init_model = optarg; break;
        case 'o': out = optarg; break;
        case 'e': if (cli_int(C, "epochs", optarg, 0, 1000000, &o.epochs)) return 1; break;
        case 'b': if (cli_int(C, "batch", optarg, 1, 1 << 20, &o.batch)) return 1; break;
        case 'l': if (cli_double(C, "lr", optarg, 0, 1e6, &o.lr)) return 1; break;
        case 'O': if (ffr_optimizer_parse(optarg, &o.optimizer)) return cli_fail(C, "--optimizer: expected sgd or adam, found '%s'", optarg); break;
        case 'm': if (cli_double(C, "momentum", optarg, 0, 0.999999, &o.momentum)) return 1; break;
        case '1': if (cli_double(C, "beta1", optarg, 0, 0.999999, &o.beta1)) return 1; break;
        case '2': if (cli_double(C, "beta2", optarg, 0, 0.99999999, &o.beta2)) return 1; break;
        case 'E': if (cli_double(C, "adam-eps", optarg, 1e-30, 1, &o.adam_eps)) return 1; break;
        case 'w': if (cli_double(C, "weight-decay", optarg, 0, 1e6, &o.weight_decay)) return 1; break;
        case 'd':
            if (!strcmp(optarg, "tied")) tied = 1;
            else if (!strcmp(optarg, "untied")) tied = 0;
            else return cli_fail(C, "--decoder: expected tied or untied, found '%s'", optarg);
            decoder_set = 1;
            break;
        case 't': if (ffr_target_parse(optarg, &o.target)) return cli_fail(C, "--target: expected voltage or rate, found '%s'", optarg); break;
        case 'r': if (ffr_rho_parse(optarg, &rho)) return cli_fail(C, "--rho: expected hardsigmoid, sigmoid or identity, found '%s'", optarg); rho_set = 1; break;
        case 'R': if (ffr_rule_parse(optarg, &rule)) return cli_fail(C, "--rule: expected dendritic, hopfield or boltzmann, found '%s'", optarg); rule_set = 1; break;
        case 'u': if (cli_double(C, "alpha-up", optarg, 1e-12, 1e12, &alpha_up)) return 1; alpha_set = 1; break;
        case 'D': if (cli_double(C, "alpha-down", optarg, 1e-12, 1e12, &alpha_down)) return 1; alpha_set = 1; break;
        case 'g': if (cli_double(C, "init-scale", optarg, 0, 1e6, &init_scale)) return 1; scale_set = 1; break;
        case 'S': if (cli_u64(C, "seed", optarg, &o.seed)) return 1; break;
        case 'k': if (cli_int(C, "cd-k", optarg, 1, 100000, &o.cd_k)) return 1; break;
        case 'p': o.persistent = 1; break;
        case 'B': o.basal = 1; break;
        case 'N': o.basal = 0; break;
        case 'T': if (cli_double(C, "relax-tol", optarg, 0, 1e6, &relax_tol)) return 1; break;
        case 'X': if (cli_int(C, "relax-max-sweeps", optarg, 1, 1000000, &relax_max)) return 1; break;
        case 'y': hrelax = 1; break;
        case 'Y': hrelax = 0; break;
        case 'c': metrics = optarg; break;
        case 'C': checkpoint = optarg; break;
        case 'Z': resume = 1; break;
        case 'j': if (cli_int(C, "threads", optarg, 0, 1024, &threads)) return 1; break;
        case 'P': if (cli_int(C, "progress-every", optarg, 0, 1 << 30, &progress_every)) return 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(); return 0;
        default: return 2;
        }
    }
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!images) return cli_fail(C, "--images is required");
    if (!out) return cli_fail(C, "--out is required");
    if (!sizes && !init_model) return cli_fail(C, "give --sizes for a new network or --init-model MODEL");
    if (sizes && init_model) return cli_fail(C, "--sizes and --init-model exclude each other");
    if (init_model) { /* the model file fixes these: refuse rather than ignore them */
        const char *fixed = decoder_set ? "--decoder" : rho_set ? "--rho" : rule_set ? "--rule" :
                            alpha_set ? "--alpha-up/--alpha-down" : scale_set ? "--init-scale" : NULL;
        if (fixed)
            return cli_fail(C, "%s: the network comes from --init-model %s, which fixes it; drop %s (or start "
                            "a new network with --sizes)", fixed, init_model, fixed);
    }
    if (resume && !checkpoint) return cli_fail(C, "--resume needs --checkpoint PATH");
    {
        cli_path ins[] = {{"images", images, CLI_FILE}, {"holdout-images", hold_images, CLI_FILE},
                          {"init-model", init_model, CLI_FILE}};
        cli_path outs[] = {{"out", out, CLI_FILE}, {"checkpoint", checkpoint, CLI_FILE}, {"metrics", metrics, CLI_FILE}};
        if (cli_check_paths(C, ins, 3, outs, 3)) return 1;
    }
    if (method == FFR_TRAIN_RBM) {
        if (!rule_set) rule = FFR_RULE_BOLTZMANN;
        if (!rho_set) rho = FFR_RHO_SIGMOID;
        if (decoder_set && !tied) return cli_fail(C, "--method rbm: the decoder is the tied transpose (drop --decoder untied)");
        tied = 1;
    }
    if (rule == FFR_RULE_HOPFIELD && !tied) return cli_fail(C, "--rule hopfield needs --decoder tied");
    ffr_set_threads(threads);
    o.relax.tol = relax_tol;
    o.relax.max_sweeps = relax_max;
    if (hrelax >= 0) o.holdout_relax = hrelax;
    o.checkpoint = checkpoint;
    o.resume = resume;

    /* under MPI (cli/mpi.h) every rank trains the same network on its shards of
       each minibatch; rank 0 alone locks and writes the model, checkpoint and metrics */
    const ffr_comm *comm = cli_comm();
    int writer = cli_rank() == 0;
    if (!writer) { metrics = NULL; quiet = 1; }
    int ck_lock = -1; /* one run per checkpoint */
    if (checkpoint && writer && cli_lock_beside(C, "checkpoint", checkpoint, &ck_lock)) return 1;
    ffr_err err;
    ffr_net *net = NULL;
    float *x = NULL, *xh = NULL;
    size_t N, dim;
    int rc = 1;
    ui u = {0};
    u.tty = isatty(2); u.quiet = quiet; u.method = method;
    if (init_model) {
        if (ffr_net_load(&net, init_model, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    } else {
        int n[FFR_MAX_LAYERS];
        int L = cli_sizes(C, sizes, n);
        if (L < 0) goto done;
        if (ffr_net_create(&net, L, n, rule, rho, tied, &err)) { cli_fail(C, "%s", err.msg); goto done; }
        ffr_net_init_glorot(net, o.seed, (float)init_scale);
        for (int k = 0; k <= L; k++) { net->alpha_up[k] = (float)alpha_up; net->alpha_down[k] = (float)alpha_down; }
    }
    u.L = net->L;
    /* the header first: a wrong width is refused before anything is inflated or allocated */
    if (ffr_data_peek(images, &N, &dim, &err) || (dim == (size_t)net->n[0] && ffr_data_load(images, &x, &N, &dim, &err))) {
        cli_fail(C, "%s", err.msg);
        goto done;
    }
    if (dim != (size_t)net->n[0]) {
        cli_fail(C, "%s: example size: expected %d (the visible layer), found %zu", images, net->n[0], dim);
        goto done;
    }
    if (count && (size_t)count < N) N = (size_t)count;
    size_t nh, ntrain;
    if (hold_images) {
        size_t Nh, dh;
        if (ffr_data_peek(hold_images, &Nh, &dh, &err) || (dh == dim && ffr_data_load(hold_images, &xh, &Nh, &dh, &err))) {
            cli_fail(C, "%s", err.msg);
            goto done;
        }
        if (dh != dim) { cli_fail(C, "%s: example size: expected %zu, found %zu", hold_images, dim, dh); goto done; }
        nh = holdout >= 0 && (size_t)holdout < Nh ? (size_t)holdout : Nh;
        ntrain = N;
        o.holdout = nh ? xh : NULL;
    } else {
        nh = holdout >= 0 ? (size_t)holdout : (N > 2000 ? 1000 : 0);
        if (nh >= N) { cli_fail(C, "--holdout %zu: leaves no training examples of %zu", nh, N); goto done; }
        ntrain = N - nh;
        o.holdout = nh ? x + ntrain * dim : NULL;
    }
    o.n_holdout = nh;
    o.progress = on_progress;
    o.progress_ctx = &u;
    o.progress_every = u.tty && !quiet ? progress_every : 0;
    if (metrics && cli_csv_open(&u.csv, C, metrics,
                                "method,layer,epoch,pair,loss,recon_abs,recon_rel,recon_rel_ex,recon_rel_rate,"
                                "disagree,examples_per_s,mean_sweeps,sweeps_median,dist_rel_median,seconds\n",
                                resume, 1, 2))
        goto done;
    if (!quiet)
        fprintf(stderr, "train %s: %zu examples (%zu held out), %s, %s, %s decoder, %s\n", ffr_train_method_name(method),
                ntrain, nh, ffr_rule_name(net->rule), ffr_rho_name(net->rho), net->tied ? "tied" : "untied", ffr_blas_info());
    int stopped = 0;
    if (ffr_train_comm(method, net, x, ntrain, &o, comm, &stopped, &err)) {
        if (writer) cli_fail(C, "%s", err.msg); /* every rank has this error (ffr_comm_agree): rank 0 says it */
        cli_mpi_failed_everywhere();
        goto done;
    }
    if (u.csv.fail) { cli_fail(C, "%s (training stopped)", u.csv.err.msg); goto done; }
    if (writer && ffr_net_save(net, out, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    if (!quiet) fprintf(stderr, "wrote %s\n", out);
    rc = 0;
done:
    if (ck_lock >= 0) close(ck_lock);
    cli_csv_close(&u.csv);
    ffr_net_free(net);
    free(x); free(xh);
    return rc;
}
