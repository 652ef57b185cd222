/* cmd_model.c - ffrelax init, import, export, info: making, converting and
 * printing model files. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

int cmd_init(int argc, char **argv) {
    const char *C = "init";
    const char *sizes = NULL, *out = NULL;
    ffr_rule rule = FFR_RULE_DENDRITIC;
    ffr_rho rho = FFR_RHO_HARDSIGMOID;
    int tied = 0, nup = 0, ndown = 0;
    uint64_t seed = 1;
    double scale = 1.0;
    float up[FFR_MAX_LAYERS], down[FFR_MAX_LAYERS];
    static const struct option lo[] = {
        {"sizes", 1, 0, 's'}, {"rule", 1, 0, 'r'}, {"rho", 1, 0, 'p'}, {"tied", 0, 0, 't'},
        {"seed", 1, 0, 'S'}, {"scale", 1, 0, 'k'}, {"alpha-up", 1, 0, 'u'}, {"alpha-down", 1, 0, 'd'},
        {"out", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 's': sizes = optarg; break;
        case 'r': if (ffr_rule_parse(optarg, &rule)) return cli_fail(C, "--rule: expected dendritic, hopfield or boltzmann, found '%s'", optarg); break;
        case 'p': if (ffr_rho_parse(optarg, &rho)) return cli_fail(C, "--rho: expected hardsigmoid, sigmoid or identity, found '%s'", optarg); break;
        case 't': tied = 1; break;
        case 'S': if (cli_u64(C, "seed", optarg, &seed)) return 1; break;
        case 'k': if (cli_double(C, "scale", optarg, 0, 1e6, &scale)) return 1; break;
        case 'u': if (cli_gains(C, "alpha-up", optarg, up, &nup)) return 1; break;
        case 'd': if (cli_gains(C, "alpha-down", optarg, down, &ndown)) return 1; break;
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: ffrelax init --sizes N0,N1,..,NL --out MODEL [options]\n\n"
                   "Make a network with Glorot-uniform weights U(+-scale*sqrt(6/(n_in+n_out))), feedback\n"
                   "equal to the transpose of the feedforward weights, zero offsets.\n\n"
                   "  --sizes LIST        layer sizes, visible first (required)\n"
                   "  --rule R            dendritic | hopfield | boltzmann (default dendritic)\n"
                   "  --rho R             hardsigmoid | sigmoid | identity (default hardsigmoid)\n"
                   "  --tied              store no feedback weights: V_k = W_k^T (default untied, V = W^T copy)\n"
                   "  --seed S            random seed (default 1)\n"
                   "  --scale X           multiply the Glorot range by X (default 1)\n"
                   "  --alpha-up G        basal gain, one value or one per layer (default 1; dendritic only)\n"
                   "  --alpha-down G      apical gain, one value or one per layer (default 1; dendritic only)\n"
                   "  --out MODEL         output model file (required)\n");
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!sizes) return cli_fail(C, "--sizes is required (e.g. --sizes 784,500,500,500)");
    if (!out) return cli_fail(C, "--out is required");
    cli_path outs[] = {{"out", out, CLI_FILE}};
    if (cli_check_paths(C, NULL, 0, outs, 1)) return 1;
    int n[FFR_MAX_LAYERS];
    int L = cli_sizes(C, sizes, n);
    if (L < 0) return 1;
    ffr_err err;
    ffr_net *net;
    if (ffr_net_create(&net, L, n, rule, rho, tied, &err)) return cli_fail(C, "%s", err.msg);
    ffr_net_init_glorot(net, seed, (float)scale);
    int rc = cli_apply_gains(C, net, up, nup, down, ndown);
    if (!rc && ffr_net_save(net, out, &err)) rc = cli_fail(C, "%s", err.msg);
    ffr_net_free(net);
    return rc;
}

int cmd_import(int argc, char **argv) {
    const char *C = "import";
    const char *dir = NULL, *out = NULL;
    ffr_rule rule = FFR_RULE_DENDRITIC;
    ffr_rho rho = FFR_RHO_HARDSIGMOID;
    int tied = 0, nup = 0, ndown = 0;
    float up[FFR_MAX_LAYERS], down[FFR_MAX_LAYERS];
    static const struct option lo[] = {
        {"npy-dir", 1, 0, 'i'}, {"rule", 1, 0, 'r'}, {"rho", 1, 0, 'p'}, {"tied", 0, 0, 't'},
        {"alpha-up", 1, 0, 'u'}, {"alpha-down", 1, 0, 'd'}, {"out", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'i': dir = optarg; break;
        case 'r': if (ffr_rule_parse(optarg, &rule)) return cli_fail(C, "--rule: expected dendritic, hopfield or boltzmann, found '%s'", optarg); break;
        case 'p': if (ffr_rho_parse(optarg, &rho)) return cli_fail(C, "--rho: expected hardsigmoid, sigmoid or identity, found '%s'", optarg); break;
        case 't': tied = 1; break;
        case 'u': if (cli_gains(C, "alpha-up", optarg, up, &nup)) return 1; break;
        case 'd': if (cli_gains(C, "alpha-down", optarg, down, &ndown)) return 1; break;
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: ffrelax import --npy-dir DIR --rule R [--tied] --out MODEL [options]\n\n"
                   "Read DIR/W1.npy .. WL.npy (n_k, n_{k-1}), b1.npy .. (n_k), and when untied\n"
                   "V1.npy .. VL.npy (n_{k-1}, n_k), c0.npy .. c{L-1}.npy (n_k); float32 or float64.\n"
                   "Missing offsets mean zero.\n\n"
                   "  --npy-dir DIR       folder with the arrays (required)\n"
                   "  --rule R            dendritic | hopfield | boltzmann (default dendritic)\n"
                   "  --rho R             hardsigmoid | sigmoid | identity (default hardsigmoid)\n"
                   "  --tied              feedback is W^T; no V files (default untied)\n"
                   "  --alpha-up G        basal gain(s) (default 1)\n"
                   "  --alpha-down G      apical gain(s) (default 1)\n"
                   "  --out MODEL         output model file (required)\n");
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!dir) return cli_fail(C, "--npy-dir is required");
    if (!out) return cli_fail(C, "--out is required");
    cli_path ins[] = {{"npy-dir", dir, CLI_DIR_MODEL}}, outs[] = {{"out", out, CLI_FILE}};
    if (cli_check_paths(C, ins, 1, outs, 1)) return 1;
    ffr_err err;
    ffr_net *net;
    if (ffr_net_import_npy(&net, dir, rule, rho, tied, &err)) return cli_fail(C, "%s", err.msg);
    int rc = cli_apply_gains(C, net, up, nup, down, ndown);
    if (!rc && ffr_net_save(net, out, &err)) rc = cli_fail(C, "%s", err.msg);
    ffr_net_free(net);
    return rc;
}

int cmd_export(int argc, char **argv) {
    const char *C = "export";
    const char *dir = NULL, *model = NULL;
    static const struct option lo[] = {{"model", 1, 0, 'm'}, {"npy-dir", 1, 0, 'i'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'i': dir = optarg; break;
        case 'h':
            printf("usage: ffrelax export --model MODEL --npy-dir DIR\n\n"
                   "Write W1.npy .. WL.npy, b1.npy .., V1.npy .. (untied only), c0.npy .. as float32.\n\n"
                   "  --model MODEL       model file (required)\n"
                   "  --npy-dir DIR       output folder, created if missing (required)\n");
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!model || !dir) return cli_fail(C, "--model and --npy-dir are required");
    cli_path ins[] = {{"model", model, CLI_FILE}}, outs[] = {{"npy-dir", dir, CLI_DIR_MODEL}};
    if (cli_check_paths(C, ins, 1, outs, 1)) return 1;
    ffr_err err;
    ffr_net *net;
    if (ffr_net_load(&net, model, &err)) return cli_fail(C, "%s", err.msg);
    int rc = 0;
    if (ffr_net_export_npy(net, dir, &err)) rc = cli_fail(C, "%s", err.msg);
    ffr_net_free(net);
    return rc;
}

int cmd_info(int argc, char **argv) {
    const char *C = "info";
    const char *model = NULL;
    static const struct option lo[] = {{"model", 1, 0, 'm'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'h':
            printf("usage: ffrelax info --model MODEL   (or: ffrelax info MODEL)\n\n"
                   "Print a model's sizes, rule, rho, tying, gains and parameter statistics.\n");
            return 0;
        default: return 2;
        }
    }
    if (!model && optind < argc) model = argv[optind++];
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_fail(C, "--model is required");
    ffr_err err;
    ffr_net *net;
    if (ffr_net_load(&net, model, &err)) return cli_fail(C, "%s", err.msg);
    printf("model      %s\nsizes      ", model);
    for (int k = 0; k <= net->L; k++) printf("%s%d", k ? "-" : "", net->n[k]);
    printf("\nrule       %s\nrho        %s\nfeedback   %s\nparameters %zu\n", ffr_rule_name(net->rule),
           ffr_rho_name(net->rho), net->tied ? "tied (V = W^T)" : "untied", net->nparams);
    printf("layer  units  alpha_up  alpha_down  |W|_F      |V|_F      |b|        |c|\n");
    for (int k = 0; k <= net->L; k++) {
        double w = 0, v = 0, b = 0, cc = 0;
        if (k >= 1) {
            for (size_t i = 0; i < (size_t)net->n[k] * net->n[k - 1]; i++) {
                w += (double)net->W[k][i] * net->W[k][i];
                if (net->V[k]) v += (double)net->V[k][i] * net->V[k][i];
            }
            for (int j = 0; j < net->n[k]; j++) b += (double)net->b[k][j] * net->b[k][j];
        }
        if (k < net->L) for (int j = 0; j < net->n[k]; j++) cc += (double)net->c[k][j] * net->c[k][j];
        char au[32] = "-", ad[32] = "-";
        if (k >= 1) snprintf(au, sizeof au, "%.3g", net->alpha_up[k]);
        if (k < net->L) snprintf(ad, sizeof ad, "%.3g", net->alpha_down[k]);
        printf("%5d  %5d  %8s  %10s  ", k, net->n[k], au, ad);
        char vs[32] = "-";
        if (k >= 1) snprintf(vs, sizeof vs, net->tied ? "tied" : "%.4g", sqrt(v));
        if (k >= 1) printf("%-9.4g  %-9s  %-9.4g  ", sqrt(w), vs, sqrt(b));
        else printf("%-9s  %-9s  %-9s  ", "-", "-", "-");
        if (k < net->L) printf("%.4g\n", sqrt(cc)); else printf("-\n");
    }
    ffr_net_free(net);
    return 0;
}
