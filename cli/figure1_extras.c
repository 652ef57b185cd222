/* figure1_extras.c - the parts of `ffrelax figure1` that go beyond the paper:
 * first-layer filters and reconstructions, fill-in of occluded digits, the
 * stochastic (non-zero temperature) case, and the study of the auto-encoder
 * condition against the speed of relaxation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "figure1.h"
#include "plot.h"

/* First-layer filters (rows of W_1, each scaled to [0,1]) and reconstructions
 * rho(g_1) at the feedforward state, next to the digits. */
ffr_status fig_images(const char *out, const ffr_net *net, const float *x, int n, ffr_err *err) {
    char path[4096];
    int nf = net->n[1] < 64 ? net->n[1] : 64, nv = net->n[0];
    if (nv != 784) return FFR_OK;
    float *img = malloc(sizeof(float) * 64 * 784);
    if (!img) return ffr_fail(err, FFR_ERR_NOMEM, "out of memory");
    for (int f = 0; f < nf; f++) {
        const float *w = net->W[1] + (size_t)f * nv;
        float lo = w[0], hi = w[0];
        for (int i = 0; i < nv; i++) { lo = w[i] < lo ? w[i] : lo; hi = w[i] > hi ? w[i] : hi; }
        for (int i = 0; i < nv; i++) img[(size_t)f * nv + i] = hi > lo ? (w[i] - lo) / (hi - lo) : 0.5f;
    }
    snprintf(path, sizeof path, "%s/filters.png", out);
    ffr_status s = ffr_plot_image_grid(path, img, nf, 28, 28, 8, 3, "first-layer filters (rows of W1, each scaled to [0,1])", NULL, err);
    free(img);
    if (s) return s;

    int m = n < 10 ? n : 10;
    ffr_state *st;
    if ((s = ffr_state_create(&st, net, m, err))) return s;
    ffr_feedforward(net, x, m, st);
    float *g[FFR_MAX_LAYERS] = {0};
    g[0] = malloc(sizeof(float) * m * nv);
    float *grid = malloc(sizeof(float) * 2 * m * nv);
    if (!g[0] || !grid) { free(g[0]); free(grid); ffr_state_free(st); return ffr_fail(err, FFR_ERR_NOMEM, "out of memory"); }
    ffr_branches(net, st, NULL, g, NULL);
    memcpy(grid, x, sizeof(float) * m * nv);
    for (int i = 0; i < m * nv; i++) grid[m * nv + i] = ffr_rho_value(net->rho, g[0][i]);
    const char *labels[2] = {"digit", "rho(g1(f1(x)))"};
    snprintf(path, sizeof path, "%s/reconstructions.png", out);
    s = ffr_plot_image_grid(path, grid, 2 * m, 28, 28, m, 3, "held-out digits and their first-layer reconstructions", labels, err);
    free(g[0]); free(grid); ffr_state_free(st);
    return s;
}

/* Fill-in: clamp the top half of each digit, leave the bottom half free (it
 * starts at 0), relax with the visible layer's apical branch filling it in. */
ffr_status fig_fillin(const char *out, const ffr_net *net, const float *x, int n, int sweeps, ffr_err *err) {
    if (net->n[0] != 784) return FFR_OK;
    int m = n < 10 ? n : 10, nv = 784;
    unsigned char mask[784];
    for (int i = 0; i < nv; i++) mask[i] = i < 14 * 28;
    float *xin = malloc(sizeof(float) * m * nv), *grid = malloc(sizeof(float) * 3 * m * nv);
    ffr_state *st = NULL;
    ffr_status s = ffr_state_create(&st, net, m, err);
    if (s || !xin || !grid) { free(xin); free(grid); ffr_state_free(st); return s ? s : ffr_fail(err, FFR_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < m * nv; i++) xin[i] = mask[i % nv] ? x[i] : 0.f;
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    o.visible_mask = mask; o.max_sweeps = sweeps; o.tol = 1e-6;
    ffr_trace *tr = NULL;
    s = ffr_relax(net, xin, m, &o, st, &tr, err);
    if (!s) {
        for (int i = 0; i < m * nv; i++) {
            grid[i] = mask[i % nv] ? x[i] : 0.5f;
            grid[m * nv + i] = ffr_rho_value(net->rho, st->s[0][i]);
            grid[2 * m * nv + i] = x[i];
        }
        const char *labels[3] = {"clamped", "filled in", "true"};
        char path[4096];
        snprintf(path, sizeof path, "%s/fillin.png", out);
        s = ffr_plot_image_grid(path, grid, 3 * m, 28, 28, m, 3,
                                "fill-in: top half clamped, bottom half relaxed (gray = unknown)", labels, err);
    }
    ffr_trace_free(tr); ffr_state_free(st); free(xin); free(grid);
    return s;
}

/* Stochastic case (Eq. 9 with noise): from the ff start and from zero, run the
 * noisy chain one sweep at a time and track the distance of its running mean
 * (hidden layers) to the noise-free fixed point, averaged over examples. */
ffr_status fig_stochastic(const char *out, const ffr_net *net, const float *x, int n, int sweeps,
                          double temperature, double tau, FILE *table, ffr_err *err) {
    int B = n < 200 ? n : 200, L = net->L;
    size_t tot = 0;
    for (int k = 1; k <= L; k++) tot += (size_t)B * net->n[k];
    ffr_state *fix = NULL, *st = NULL;
    float *mean = malloc(sizeof(float) * tot);
    double *d = calloc((size_t)2 * sweeps, sizeof(double)), *xs = malloc(sizeof(double) * sweeps);
    ffr_status s = ffr_state_create(&fix, net, B, err);
    if (!s) s = ffr_state_create(&st, net, B, err);
    if (!s && (!mean || !d || !xs)) s = ffr_fail(err, FFR_ERR_NOMEM, "out of memory");
    if (s) goto done;
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    o.max_sweeps = 2000; o.tol = 1e-6;
    if ((s = ffr_relax(net, x, B, &o, fix, NULL, err))) goto done;
    for (int start = 0; start < 2; start++) {
        ffr_relax_opts_default(&o);
        o.init = start ? FFR_INIT_ZERO : FFR_INIT_FF;
        o.max_sweeps = 0;
        if ((s = ffr_relax(net, x, B, &o, st, NULL, err))) goto done;
        memset(mean, 0, sizeof(float) * tot);
        o.init = FFR_INIT_GIVEN; o.max_sweeps = 1; o.temperature = temperature; o.eps = 1.0 / tau;
        for (int t = 1; t <= sweeps; t++) {
            o.seed = 1000003ULL * (start + 1) + t;
            if ((s = ffr_relax(net, x, B, &o, st, NULL, err))) goto done;
            double dist = 0;
            for (int b = 0; b < B; b++) {
                double e2 = 0;
                size_t off = 0;
                for (int k = 1; k <= L; k++) {
                    int nk = net->n[k];
                    for (int j = 0; j < nk; j++) {
                        size_t i = (size_t)b * nk + j;
                        float *mm = mean + off + i;
                        *mm += (st->s[k][i] - *mm) / t;
                        double e = *mm - fix->s[k][i];
                        e2 += e * e;
                    }
                    off += (size_t)B * nk;
                }
                dist += sqrt(e2) / B;
            }
            d[(size_t)start * sweeps + t - 1] = dist;
            xs[t - 1] = t;
        }
    }
    {
        ffr_series ser[2] = {{"feedforward start", xs, d, sweeps, NULL, NULL, 0x0072B2, 0, 0},
                             {"zero start", xs, d + sweeps, sweeps, NULL, NULL, 0xD55E00, 0, 0}};
        char title[160], path[4096];
        snprintf(title, sizeof title, "noisy relaxation (T = %g, tau = %g): distance of the chain's running mean to the fixed point", temperature, tau);
        ffr_panel p = {NULL, "sweep", "||mean of s over sweeps 1..t - s*|| (mean over digits)", 0, 1, NAN, NAN, NAN, NAN, ser, 2};
        snprintf(path, sizeof path, "%s/stochastic.png", out);
        if ((s = ffr_plot_write(path, title, &p, 1, 1, 900, 500, err))) goto done;
        ffr_out *csv;
        snprintf(path, sizeof path, "%s/stochastic.csv", out);
        if ((s = ffr_out_open(&csv, path, err))) goto done;
        ffr_out_printf(csv, NULL, "sweep,dist_mean_ff,dist_mean_zero\n");
        for (int t = 0; t < sweeps; t++) ffr_out_printf(csv, NULL, "%d,%.9g,%.9g\n", t + 1, d[t], d[sweeps + t]);
        if ((s = ffr_out_commit(csv, err))) goto done;
        if (table) {
            fprintf(table, "\nstochastic case (T = %g, tau = %g, %d digits): distance of the running mean to the fixed point\n", temperature, tau, B);
            fprintf(table, "  sweep      ff start    zero start\n");
            int marks[] = {1, 5, 10, 20, 50, 100, 200, 500};
            for (int i = 0; i < 8; i++)
                if (marks[i] <= sweeps) fprintf(table, "  %5d  %12.4g  %12.4g\n", marks[i], d[marks[i] - 1], d[sweeps + marks[i] - 1]);
        }
    }
done:
    ffr_state_free(fix); ffr_state_free(st); free(mean); free(d); free(xs);
    return s;
}

/* The condition against the speed: train the stack for 0, 1, 2, 5, 10, 30
 * epochs per layer (and fine-tune the last with Eq. 23), then measure at the
 * feedforward start the branch disagreement (Eq. 18) and, by relaxing, the
 * distance to the fixed point and the sweeps to converge. */
ffr_status fig_study(const char *out, int H, const float *xtr, size_t ntr, const float *xte, size_t nte,
                     const int *epochs, int nepochs, int dendritic_epochs, uint64_t seed, FILE *table, ffr_err *err) {
    int n[4] = {784, H, H, H};
    int npts = nepochs + (dendritic_epochs > 0);
    double *buf = calloc((size_t)npts * 6, sizeof(double));
    if (!buf) return ffr_fail(err, FFR_ERR_NOMEM, "out of memory");
    double *dis = buf, *sw = buf + npts, *dist = buf + 2 * npts, *rec = buf + 3 * npts, *ep = buf + 4 * npts;
    ffr_status s = FFR_OK;
    ffr_net *net = NULL;
    if (table) fprintf(table, "\ncondition vs speed (H=%d, %zu held-out digits): per training stage, at the feedforward start\n"
                              "  stage            disagree_1  disagree_2  recon_1  recon_2  recon_3  dist_rel_median  sweeps_1e-3_median\n", H, nte);
    for (int i = 0; i < npts; i++) {
        int is_dend = i == nepochs;
        if (!is_dend) {
            ffr_net_free(net);
            net = NULL;
            if ((s = ffr_net_create(&net, 3, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, err))) goto done;
            ffr_net_init_glorot(net, seed + 7, 1.0f);
            if (epochs[i] > 0) {
                ffr_train_opts to;
                ffr_train_opts_default(&to, FFR_TRAIN_SAE);
                to.epochs = epochs[i]; to.seed = seed;
                if ((s = ffr_train_sae(net, xtr, ntr, &to, NULL, err))) goto done;
            }
        } else {
            ffr_train_opts to;
            ffr_train_opts_default(&to, FFR_TRAIN_DENDRITIC);
            to.epochs = dendritic_epochs; to.seed = seed;
            if ((s = ffr_train_dendritic(net, xtr, ntr, &to, NULL, err))) goto done;
        }
        ffr_train_metrics m;
        if ((s = ffr_train_metrics_compute(net, xte, nte, 1, &m, err))) goto done;
        dis[i] = 0.5 * (m.disagree[1] + m.disagree[2]);
        sw[i] = m.sweeps_median; dist[i] = m.dist_rel_median; rec[i] = m.recon_rel[1];
        ep[i] = is_dend ? epochs[nepochs - 1] : epochs[i];
        if (table) {
            char stage[64];
            if (is_dend) snprintf(stage, sizeof stage, "+%d Eq.23 epochs", dendritic_epochs);
            else snprintf(stage, sizeof stage, "%d SAE epochs", epochs[i]);
            fprintf(table, "  %-16s %10.4g  %10.4g  %7.4f  %7.4f  %7.4f  %15.4g  %18g\n", stage, m.disagree[1], m.disagree[2],
                    m.recon_rel[1], m.recon_rel[2], m.recon_rel[3], m.dist_rel_median, m.sweeps_median);
            fflush(table);
        }
    }
    {
        ffr_series a = {"training stages (SAE epochs 0..30, then Eq. 23)", dis, sw, npts, NULL, NULL, 0x0072B2, 0, 1};
        ffr_series b = {"training stages (SAE epochs 0..30, then Eq. 23)", dis, dist, npts, NULL, NULL, 0xD55E00, 0, 1};
        ffr_panel p[2] = {
            {"sweeps to a relative step < 1e-3", "branch disagreement ||f_k - g_k+1|| at the ff start", "median sweeps", 1, 1, NAN, NAN, NAN, NAN, &a, 1},
            {"distance from the ff start to the fixed point", "branch disagreement ||f_k - g_k+1|| at the ff start", "median ||s* - s_ff|| / ||s*||", 1, 1, NAN, NAN, NAN, NAN, &b, 1}};
        char path[4096], title[128];
        snprintf(title, sizeof title, "the good-auto-encoder condition bounds the relaxation (784-%d-%d-%d, MNIST)", H, H, H);
        snprintf(path, sizeof path, "%s/study.png", out);
        if ((s = ffr_plot_write(path, title, p, 2, 2, 600, 450, err))) goto done;
        ffr_out *fo;
        snprintf(path, sizeof path, "%s/study.csv", out);
        if ((s = ffr_out_open(&fo, path, err))) goto done;
        ffr_out_printf(fo, NULL, "stage,sae_epochs,eq23_epochs,disagree_mean,recon_rel_1,dist_rel_median,sweeps_1e-3_median\n");
        for (int i = 0; i < npts; i++)
            ffr_out_printf(fo, NULL, "%d,%g,%d,%.6g,%.6g,%.6g,%g\n", i, ep[i], i == nepochs ? dendritic_epochs : 0, dis[i], rec[i], dist[i], sw[i]);
        s = ffr_out_commit(fo, err);
    }
done:
    ffr_net_free(net);
    free(buf);
    return s;
}
