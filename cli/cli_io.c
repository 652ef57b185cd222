/* cli_io.c - the checks every command makes on its paths before any work
 * (doc/reliability.md, classes 2 and 3): no output may be an input or another
 * output, and every output must be writable, so that a run never overwrites
 * its own data and never fails at the end for a reason known at the start. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"

#define MAX_PATHS 512

typedef struct { const char *opt; char path[4096]; int member; } concrete;

/* Expand one entry into the files it stands for (a folder: its members). */
static void expand(const cli_path *p, concrete *out, int *n) {
    static const char *relax_files[] = {"step", "sweeps", "converged", "dist", "residual", "rate", "norm"};
    static const char *model_files[] = {"W", "b", "V", "c"};
    if (!p->path) return;
#define ADD(...) do { if (*n < MAX_PATHS) { out[*n].opt = p->opt; out[*n].member = p->kind != CLI_FILE; \
        snprintf(out[*n].path, sizeof out[*n].path, __VA_ARGS__); (*n)++; } } while (0)
    switch (p->kind) {
    case CLI_FILE: ADD("%s", p->path); break;
    case CLI_DIR_MODEL:
        for (int k = 0; k < FFR_MAX_LAYERS; k++)
            for (int i = 0; i < 4; i++) ADD("%s/%s%d.npy", p->path, model_files[i], k);
        ADD("%s/model-set.manifest", p->path);
        break;
    case CLI_DIR_RELAX:
        for (int k = 0; k < FFR_MAX_LAYERS; k++) ADD("%s/state%d.npy", p->path, k);
        for (int i = 0; i < 7; i++) ADD("%s/%s.npy", p->path, relax_files[i]);
        ADD("%s/relax-set.manifest", p->path);
        break;
    case CLI_DIR_OTHER: break;
    }
#undef ADD
}

/* The path a new file would get: its folder's real path plus its name. */
static void canonical(const char *p, char *out, size_t cap) {
    char dir[4096], real[PATH_MAX];
    const char *slash = strrchr(p, '/');
    const char *base = slash ? slash + 1 : p;
    if (slash) snprintf(dir, sizeof dir, "%.*s", slash == p ? 1 : (int)(slash - p), p);
    else snprintf(dir, sizeof dir, ".");
    if (realpath(dir, real)) snprintf(out, cap, "%s/%s", real, base);
    else snprintf(out, cap, "%s", p);
}

static int same_target(const char *a, const char *b) {
    if (ffr_file_same(a, b)) return 1;
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea && eb) return 0; /* both exist, different files */
    char ca[8192], cb[8192];
    canonical(a, ca, sizeof ca);
    canonical(b, cb, sizeof cb);
    return !strcmp(ca, cb) && strcmp(a, "-") && strcmp(a, "/dev/null");
}

int cli_mkdirs(const char *cmd, const char *dir) {
    char tmp[4096];
    if (!*dir) return cli_fail(cmd, "output folder: the path is empty");
    if (strlen(dir) >= sizeof tmp) return cli_fail(cmd, "%s: path too long", dir);
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') { *p = 0; (void)mkdir(tmp, 0777); *p = '/'; }
    struct stat sb;
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return cli_fail(cmd, "%s: cannot create the output folder: %s", dir, strerror(errno));
    if (stat(tmp, &sb) != 0) return cli_fail(cmd, "%s: cannot create the output folder: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return cli_fail(cmd, "%s: not a folder: expected a folder for the outputs", dir);
    if (access(tmp, W_OK | X_OK) != 0) return cli_fail(cmd, "%s: the output folder is not writable: %s", dir, strerror(errno));
    return 0;
}

int cli_check_paths(const char *cmd, const cli_path *in, int nin, const cli_path *out, int nout) {
    concrete *I = malloc(sizeof *I * MAX_PATHS), *O = malloc(sizeof *O * MAX_PATHS);
    int ni = 0, no = 0, rc = 1;
    if (!I || !O) { free(I); free(O); return cli_fail(cmd, "out of memory"); }
    for (int i = 0; i < nin + nout; i++) {
        const cli_path *p = i < nin ? &in[i] : &out[i - nin];
        if (p->path && !*p->path) {
            cli_fail(cmd, "--%s: expected a path, found ''", p->opt);
            goto done;
        }
    }
    for (int i = 0; i < nin; i++) expand(&in[i], I, &ni);
    for (int i = 0; i < nout; i++) expand(&out[i], O, &no);
    /* class 2: an output that is an input, or two outputs on one file */
    for (int o = 0; o < no; o++) {
        for (int i = 0; i < ni; i++)
            if (ffr_file_same(O[o].path, I[i].path)) {
                cli_fail(cmd, "--%s %s is the same file as --%s %s: refusing to overwrite an input (choose another "
                         "output path)", O[o].opt, O[o].path, I[i].opt, I[i].path);
                goto done;
            }
        for (int p = 0; p < o; p++)
            if (same_target(O[o].path, O[p].path)) {
                cli_fail(cmd, "--%s %s and --%s %s name the same file: give each output its own path", O[p].opt,
                         O[p].path, O[o].opt, O[o].path);
                goto done;
            }
    }
    /* class 3: every output writable now, not after the work */
    ffr_err err;
    for (int i = 0; i < nout; i++) {
        if (!out[i].path) continue;
        if (out[i].kind == CLI_FILE) {
            if (ffr_out_check(out[i].path, &err)) { cli_fail(cmd, "%s", err.msg); goto done; }
        } else if (cli_mkdirs(cmd, out[i].path)) goto done;
    }
    for (int o = 0; o < no; o++) { /* the members of an output set that exist already */
        struct stat sb;
        if (O[o].member && lstat(O[o].path, &sb) == 0 && ffr_out_check(O[o].path, &err)) {
            cli_fail(cmd, "%s", err.msg);
            goto done;
        }
    }
    rc = 0;
done:
    free(I);
    free(O);
    return rc;
}

int cli_lock_beside(const char *cmd, const char *opt, const char *path, int *lock) {
    *lock = -1;
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) return 0; /* a device or FIFO: nothing to guard */
    char p[4200];
    snprintf(p, sizeof p, "%s.lock", path);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return cli_fail(cmd, "--%s %s: cannot create the lock file %s: %s", opt, path, p, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return cli_fail(cmd, "--%s %s: another process is using it (it holds %s); wait for it to finish or "
                            "choose another path", opt, path, p);
        return cli_fail(cmd, "--%s %s: cannot lock %s: %s", opt, path, p, strerror(e));
    }
    *lock = fd; /* released when the process ends */
    return 0;
}
