/* cmd_relax.c - ffrelax relax: relax a model on data, write the per-sweep
 * trace (CSV), optional .npy outputs, and print a one-screen summary. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "mpi.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* The trace CSV: one row per sweep t = 1..T. */
static ffr_status write_trace(const char *path, const ffr_trace *tr, ffr_err *err) {
    ffr_out *o;
    ffr_status s = ffr_out_open(&o, path, err);
    if (s) return s;
    int L = tr->L, Lp = L + 1;
    ffr_out_printf(o, NULL, "sweep,step_mean,step_median,step_max,rstep_mean,relstep_median,n_active,frac_converged,energy,residual");
    for (int k = 1; k < L; k++) ffr_out_printf(o, NULL, ",disagree_%d", k);
    for (int k = 1; k <= L; k++) ffr_out_printf(o, NULL, ",mpe_up_%d", k);
    for (int k = 0; k < L; k++) ffr_out_printf(o, NULL, ",mpe_down_%d", k);
    ffr_out_printf(o, NULL, "\n");
    for (int t = 1; t <= tr->T; t++) {
        ffr_out_printf(o, NULL, "%d,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%.6g,%.9g,%.9g", t, tr->step_mean[t], tr->step_median[t],
                tr->step_max[t], tr->rstep_mean[t], tr->relstep_median[t], tr->n_active[t], tr->frac_converged[t],
                tr->energy_mean[t], tr->residual_mean[t]);
        for (int k = 1; k < L; k++) ffr_out_printf(o, NULL, ",%.9g", tr->disagree[(size_t)t * Lp + k]);
        for (int k = 1; k <= L; k++) ffr_out_printf(o, NULL, ",%.9g", tr->mpe_up[(size_t)t * Lp + k]);
        for (int k = 0; k < L; k++) ffr_out_printf(o, NULL, ",%.9g", tr->mpe_down[(size_t)t * Lp + k]);
        ffr_out_printf(o, NULL, "\n");
    }
    return ffr_out_commit(o, err);
}

/* The --npy-dir set (kind "relax": the folder's lock taken before the
 * relaxation, the manifest written last by the commit; doc/formats.md). */
static ffr_status write_npys(ffr_set *set, const ffr_state *st, const ffr_trace *tr, ffr_err *err) {
    char name[32];
    ffr_status s;
    for (int k = 0; k <= st->L; k++) {
        size_t sh[2] = {(size_t)st->B, (size_t)st->n[k]};
        snprintf(name, sizeof name, "state%d.npy", k);
        if ((s = ffr_set_npy(set, name, st->s[k], 'f', 2, sh, err))) return s;
    }
    size_t B = (size_t)tr->B, sh2[2] = {(size_t)tr->T + 1, B};
    struct { const char *name; const void *d; char t; int nd; const size_t *sh; } outs[] = {
        {"step", tr->step, 'f', 2, sh2}, {"sweeps", tr->sweeps, 'i', 1, &B},
        {"converged", tr->converged, 'u', 1, &B}, {"dist", tr->dist, 'f', 1, &B},
        {"residual", tr->residual, 'f', 1, &B}, {"rate", tr->rate, 'f', 1, &B}, {"norm", tr->norm, 'f', 1, &B}};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
        snprintf(name, sizeof name, "%s.npy", outs[i].name);
        if ((s = ffr_set_npy(set, name, outs[i].d, outs[i].t, outs[i].nd, outs[i].sh, err))) return s;
    }
    return FFR_OK;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static int progress_cb(void *ctx, int sweep, int n_active, double step_mean) {
    int *every = ctx;
    if (*every > 0 && sweep % *every == 0)
        fprintf(stderr, "  sweep %5d  active %6d  mean step %.4g\n", sweep, n_active, step_mean);
    return 0;
}

int cmd_relax(int argc, char **argv) {
    const char *C = "relax";
    const char *model = NULL, *images = NULL, *trace = NULL, *npy_dir = NULL, *mask_path = NULL;
    const char *target_path = NULL, *start_dir = NULL;
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    o.measure_every = 0; /* the costly measurements at the start and end; steps every sweep */
    int count = 0, offset = 0, threads = 0, quiet = 0, progress_every = 0, nup = 0, ndown = 0;
    float up[FFR_MAX_LAYERS], down[FFR_MAX_LAYERS];
    double tau = 1.0;
    static const struct option lo[] = {
        {"model", 1, 0, 'm'}, {"images", 1, 0, 'x'}, {"count", 1, 0, 'n'}, {"offset", 1, 0, 'O'},
        {"init", 1, 0, 'i'}, {"schedule", 1, 0, 's'}, {"max-sweeps", 1, 0, 'T'}, {"tol", 1, 0, 'e'},
        {"tol-mode", 1, 0, 'E'}, {"tau", 1, 0, 'a'}, {"temperature", 1, 0, 'K'}, {"gibbs", 0, 0, 'g'},
        {"seed", 1, 0, 'S'}, {"mask", 1, 0, 'M'}, {"target", 1, 0, 'y'}, {"start-dir", 1, 0, 'z'},
        {"measure-every", 1, 0, 'r'}, {"trace", 1, 0, 't'}, {"npy-dir", 1, 0, 'o'}, {"threads", 1, 0, 'j'},
        {"progress", 1, 0, 'P'}, {"precision", 1, 0, 'R'}, {"alpha-up", 1, 0, 'u'}, {"alpha-down", 1, 0, 'd'}, {"anderson", 1, 0, 'A'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'x': images = optarg; break;
        case 'n': if (cli_int(C, "count", optarg, 1, 1 << 30, &count)) return 1; break;
        case 'O': if (cli_int(C, "offset", optarg, 0, 1 << 30, &offset)) return 1; break;
        case 'i': if (ffr_init_parse(optarg, &o.init)) return cli_fail(C, "--init: expected ff, zero, random or given, found '%s'", optarg); break;
        case 's': if (ffr_schedule_parse(optarg, &o.schedule)) return cli_fail(C, "--schedule: expected odd-even, sync or up, found '%s'", optarg); break;
        case 'T': if (cli_int(C, "max-sweeps", optarg, 0, 100000000, &o.max_sweeps)) return 1; break;
        case 'e': if (cli_double(C, "tol", optarg, 0, INFINITY, &o.tol)) return 1; break;
        case 'E':
            if (!strcmp(optarg, "abs")) o.tol_mode = FFR_TOL_ABS;
            else if (!strcmp(optarg, "rel")) o.tol_mode = FFR_TOL_REL;
            else return cli_fail(C, "--tol-mode: expected abs or rel, found '%s'", optarg);
            break;
        case 'a': if (cli_double(C, "tau", optarg, 1, 1e12, &tau)) return 1; o.eps = 1.0 / tau; break;
        case 'K': if (cli_double(C, "temperature", optarg, 0, 1e12, &o.temperature)) return 1; break;
        case 'g': o.gibbs = 1; break;
        case 'S': if (cli_u64(C, "seed", optarg, &o.seed)) return 1; break;
        case 'M': mask_path = optarg; break;
        case 'y': target_path = optarg; break;
        case 'z': start_dir = optarg; break;
        case 'r': if (cli_int(C, "measure-every", optarg, -1, 1 << 30, &o.measure_every)) return 1; break;
        case 't': trace = optarg; break;
        case 'o': npy_dir = optarg; break;
        case 'j': if (cli_int(C, "threads", optarg, 0, 1024, &threads)) return 1; break;
        case 'P': if (cli_int(C, "progress", optarg, 0, 1 << 30, &progress_every)) return 1; break;
        case 'q': quiet = 1; break;
        case 'R': if (ffr_precision_parse(optarg, &o.precision)) return cli_fail(C, "--precision: expected fp32 or bf16, found '%s'", optarg); break;
        case 'A': if (cli_int(C, "anderson", optarg, 0, 8, &o.anderson)) return 1; break;
        case 'u': if (cli_gains(C, "alpha-up", optarg, up, &nup)) return 1; break;
        case 'd': if (cli_gains(C, "alpha-down", optarg, down, &ndown)) return 1; break;
        case 'h':
            printf("usage: ffrelax relax --model MODEL --images FILE [options]\n\n"
                   "Relax the network with its visible layer clamped to each example (Eq. 9 with the\n"
                   "model's rule: Eq. 16 dendritic, Eq. 7 hopfield, Eq. 8 boltzmann) and measure\n"
                   "convergence after every sweep.\n\n"
                   "  --model MODEL        model file (required)\n"
                   "  --images FILE        IDX images (plain or .gz) or a float32/float64 .npy (N, n0) (required)\n"
                   "  --count N            use N examples (default: all)\n"
                   "  --offset K           skip the first K examples (default 0)\n"
                   "  --init S             ff | zero | random | given (default ff, Eq. 17)\n"
                   "  --start-dir DIR      with --init given: DIR/state0.npy .. stateL.npy (as --npy-dir writes)\n"
                   "  --schedule S         odd-even | sync | up (default odd-even)\n"
                   "  --max-sweeps N       at most N sweeps (default 100)\n"
                   "  --tol T              stop an example once its step < T; 0 runs every sweep (default 0)\n"
                   "  --tol-mode M         abs | rel: compare the step, or step/||s|| (default abs)\n"
                   "  --tau X              time constant, eps = 1/tau, X >= 1 (default 1: direct update)\n"
                   "  --temperature T      injected Gaussian noise sqrt(2 T/tau) per update (default 0)\n"
                   "  --gibbs              boltzmann: sample binary units (default: mean field)\n"
                   "  --seed S             seed of random start, noise and sampling (default 1)\n"
                   "  --mask FILE.npy      n0 values, nonzero = clamped visible unit (default: all clamped)\n"
                   "  --target FILE.npy    (N, nL) values: clamp the top layer to them (default: free)\n"
                   "  --measure-every K    energy, residual, disagreement every K sweeps; 0 = start and end only,\n"
                   "                       -1 = never; steps, norms and active set are recorded every sweep\n"
                   "                       whatever K (default 0)\n"
                   "  --trace OUT.csv      per-sweep trace: sweep,step_mean,step_median,step_max,... (default none)\n"
                   "  --npy-dir DIR        write state0..L.npy, step.npy (T+1,N), sweeps.npy, converged.npy,\n"
                   "                       dist.npy, residual.npy, rate.npy, norm.npy (default none)\n"
                   "  --threads N          BLAS threads (default: the environment's, OPENBLAS_NUM_THREADS)\n"
                   "  --precision P        fp32 | bf16: the matrix products in bfloat16 with fp32 sums, where\n"
                   "                       the CPU has AVX512_BF16 (else a message and fp32) (default fp32)\n"
                   "  --anderson M         Anderson acceleration of the sweep map with M = 1..8 differences per\n"
                   "                       example (beyond the paper; no noise or Gibbs) (default 0: off)\n"
                   "  --alpha-up G         override the basal gains: one value or one per layer (default: the model's)\n"
                   "  --alpha-down G       override the apical gains (default: the model's); dendritic only\n"
                   "  --progress K         print a progress line every K sweeps to stderr (default 0: none)\n"
                   "  --quiet              no summary\n");
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_fail(C, "--model is required");
    if (!images) return cli_fail(C, "--images is required");
    if (o.init == FFR_INIT_GIVEN && !start_dir) return cli_fail(C, "--init given needs --start-dir DIR");
    /* under MPI (cli/mpi.h) the ranks share the examples (ffr_relax_comm); rank 0 alone writes and reports */
    int writer = cli_rank() == 0, shared_fail = 0;
    if (!writer) { trace = NULL; npy_dir = NULL; quiet = 1; progress_every = 0; }
    {
        cli_path ins[] = {{"model", model, CLI_FILE}, {"images", images, CLI_FILE}, {"mask", mask_path, CLI_FILE},
                          {"target", target_path, CLI_FILE}, {"start-dir", start_dir, CLI_DIR_RELAX}};
        cli_path outs[] = {{"trace", trace, CLI_FILE}, {"npy-dir", npy_dir, CLI_DIR_RELAX}};
        if (cli_check_paths(C, ins, 5, outs, 2)) return 1;
    }
    ffr_set *set = NULL; /* one writer per --npy-dir, from now to the manifest */
    int slock = -1;      /* --start-dir's lock, shared, while it is read */
    ffr_err err;
    if (npy_dir && ffr_set_begin(&set, npy_dir, "relax", &err)) return cli_fail(C, "%s", err.msg);
    cli_set_threads(C, threads);
    if (o.precision == FFR_PREC_BF16 && !ffr_bf16_available())
        fprintf(stderr, "ffrelax relax: --precision bf16: this CPU (or build) has no AVX512_BF16 products; running in fp32\n");
    ffr_net *net = NULL;
    float *x = NULL, *mask_f = NULL, *target = NULL;
    unsigned char *mask = NULL;
    ffr_state *st = NULL;
    ffr_trace *tr = NULL;
    int rc = 1;
    size_t N, dim;
    if (ffr_net_load(&net, model, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    if ((nup || ndown) && cli_apply_gains(C, net, up, nup, down, ndown)) goto done;
    /* the header first: a wrong width is refused before anything is inflated or allocated */
    if (ffr_data_peek(images, &N, &dim, &err) || (dim == (size_t)net->n[0] && ffr_data_load(images, &x, &N, &dim, &err))) {
        cli_fail(C, "%s", err.msg);
        goto done;
    }
    if (dim != (size_t)net->n[0]) {
        cli_fail(C, "%s: example size: expected %d (the model's visible layer), found %zu", images, net->n[0], dim);
        goto done;
    }
    if ((size_t)offset >= N) { cli_fail(C, "--offset %d: the data has only %zu examples", offset, N); goto done; }
    size_t B = N - offset;
    if (count && (size_t)count < B) B = count;
    if (mask_path) {
        int nd; size_t sh[4];
        if (ffr_npy_read(mask_path, &mask_f, &nd, sh, &err)) { cli_fail(C, "%s", err.msg); goto done; }
        size_t tot = 1;
        for (int i = 0; i < nd; i++) tot *= sh[i];
        if (tot != (size_t)net->n[0]) { cli_fail(C, "%s: mask size: expected %d values, found %zu", mask_path, net->n[0], tot); goto done; }
        mask = malloc(tot);
        for (size_t i = 0; i < tot; i++) mask[i] = mask_f[i] != 0;
        o.visible_mask = mask;
    }
    if (target_path) {
        int nd; size_t sh[4];
        if (ffr_npy_read(target_path, &target, &nd, sh, &err)) { cli_fail(C, "%s", err.msg); goto done; }
        if (nd != 2 || sh[1] != (size_t)net->n[net->L] || sh[0] < (size_t)offset + B) {
            char found[128] = "(";
            for (int d = 0; d < nd; d++)
                snprintf(found + strlen(found), sizeof found - strlen(found), d ? ", %zu" : "%zu", sh[d]);
            snprintf(found + strlen(found), sizeof found - strlen(found), nd == 1 ? ",)" : ")");
            cli_fail(C, "%s: target shape: expected (>= %zu, %d) (examples, top-layer units), found %s", target_path,
                     offset + B, net->n[net->L], found);
            goto done;
        }
        o.top_target = target + (size_t)offset * net->n[net->L];
    }
    if (ffr_state_create(&st, net, (int)B, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    if (start_dir) { /* a set relax --npy-dir wrote: checked against its manifest */
        if (ffr_set_verify(start_dir, "relax", &slock, &err)) { cli_fail(C, "%s", err.msg); goto done; }
        for (int k = 0; k <= net->L; k++) {
            char p[4096]; float *a; int nd; size_t sh[4];
            snprintf(p, sizeof p, "%s/state%d.npy", start_dir, k);
            if (ffr_npy_read(p, &a, &nd, sh, &err)) { cli_fail(C, "%s", err.msg); goto done; }
            if (nd != 2 || sh[0] != B || sh[1] != (size_t)net->n[k]) {
                free(a);
                cli_fail(C, "%s: shape: expected (%zu, %d)", p, B, net->n[k]);
                goto done;
            }
            memcpy(st->s[k], a, B * net->n[k] * sizeof(float));
            free(a);
        }
        ffr_dir_unlock(slock);
        slock = -1;
    }
    if (progress_every) { o.progress = progress_cb; o.progress_ctx = &progress_every; }
    double t0 = now();
    ffr_status s = ffr_relax_comm(net, x + (size_t)offset * dim, (int)B, &o, st, &tr, cli_comm(), &err);
    double wall = now() - t0;
    shared_fail = s != FFR_OK; /* every rank has s */
    if (!writer) { rc = shared_fail; goto done; }
    if (s && s != FFR_ERR_DIVERGED) { cli_fail(C, "%s", err.msg); goto done; }
    if (trace && write_trace(trace, tr, &err)) { cli_fail(C, "%s", err.msg); goto done; }
    if (set) {
        ffr_status ws = write_npys(set, st, tr, &err);
        if (ws) { cli_fail(C, "%s", err.msg); goto done; }
        ws = ffr_set_commit(set, &err);
        set = NULL;
        if (ws) { cli_fail(C, "%s", err.msg); goto done; }
    }
    if (!quiet) {
        int Lp = net->L + 1, T = tr->T;
        printf("ffrelax relax: %s on %zu examples of %s\n", model, B, images);
        printf("network    ");
        for (int k = 0; k <= net->L; k++) printf("%s%d", k ? "-" : "", net->n[k]);
        printf(" %s %s %s; init %s, schedule %s, tau %g, T %g, tol %g (%s)\n", ffr_rule_name(net->rule),
               ffr_rho_name(net->rho), net->tied ? "tied" : "untied", ffr_init_name(o.init),
               ffr_schedule_name(o.schedule), 1.0 / o.eps, o.temperature, o.tol, o.tol_mode == FFR_TOL_REL ? "rel" : "abs");
        printf("sweeps     %d run (max %d)\n", T, o.max_sweeps);
        printf("step       sweep:  ");
        int marks[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
        for (int i = 0; i < 10; i++) if (marks[i] <= T) printf("%10d", marks[i]);
        printf("\n           mean:   ");
        for (int i = 0; i < 10; i++) if (marks[i] <= T) printf("%10.3g", tr->step_mean[marks[i]]);
        printf("\n           median: ");
        for (int i = 0; i < 10; i++) if (marks[i] <= T) printf("%10.3g", tr->step_median[marks[i]]);
        printf("\n");
        int *sw = malloc(B * sizeof(int));
        size_t nconv = 0;
        double smean = 0, dmean = 0;
        for (size_t b = 0; b < B; b++) { sw[b] = tr->sweeps[b]; nconv += tr->converged[b]; smean += sw[b]; dmean += tr->dist[b]; }
        qsort(sw, B, sizeof(int), cmp_int);
        printf("converged  %zu of %zu (tol %g); sweeps mean %.2f, median %d, max %d; updates done %ld of %ld (%.1f%%)\n",
               nconv, B, o.tol, smean / B, sw[B / 2], sw[B - 1], tr->total_updates, (long)T * (long)B,
               T ? 100.0 * tr->total_updates / ((double)T * B) : 0.0);
        free(sw);
        printf("rate       fitted contraction per sweep, median over examples: %.4f\n", tr->rate_median);
        printf("distance   ||s_end - s_start|| mean %.4g\n", dmean / B);
        printf("           start        end\n");
        printf("energy     %-12.6g %-12.6g\n", tr->energy_mean[0], tr->energy_mean[T]);
        printf("residual   %-12.4g %-12.4g\n", tr->residual_mean[0], tr->residual_mean[T]);
        for (int k = 1; k < net->L; k++)
            printf("disagree%-2d %-12.4g %-12.4g (||f_%d - g_%d||, Eq. 18)\n", k, tr->disagree[k], tr->disagree[(size_t)T * Lp + k], k, k + 1);
        printf("time       %.3f s, %.2f GFLOP/s (%s, %s products)\n", wall, tr->flops / wall * 1e-9, ffr_blas_info(),
               ffr_precision_name(tr->precision));
        if (tr->status) printf("status     DIVERGED: %s\n", tr->diag);
    }
    if (tr->status) { cli_fail(C, "%s", err.msg); goto done; }
    rc = 0;
done:
    if (shared_fail) cli_mpi_failed_everywhere();
    ffr_set_abort(set);
    ffr_dir_unlock(slock);
    ffr_trace_free(tr);
    ffr_state_free(st);
    ffr_net_free(net);
    free(x); free(mask_f); free(mask); free(target);
    return rc;
}
