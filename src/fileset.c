/* fileset.c - sets of files written together into one folder (export:
 * kind "model", W1.npy b1.npy V1.npy c0.npy ...; relax --npy-dir: kind
 * "relax", state0.npy .. step.npy ...; convert-mnist: kind "mnist", the four
 * IDX files) and the manifest that keeps a reader
 * from ever mixing two runs (issue 14, class 10; doc/formats.md "Sets of
 * .npy files").
 *
 * Writing a set: ffr_set_begin locks the folder (one writer; readers hold the
 * lock shared). The first member written replaces DIR/KIND-set.manifest by a
 * "writing" manifest (atomically), so from then on, until the last step, the
 * folder reads as an incomplete set. Each member is written atomically and its
 * size and crc32 are read back from the file. ffr_set_commit removes the
 * members of this kind the new set does not have (a deeper run's state3.npy),
 * (not for "mnist": IDX files of the user's stay, and its readers refuse
 * them), then writes the complete manifest (file names, sizes, crc32, a run id)
 * atomically, last. A kill anywhere in between leaves the "writing" manifest:
 * refused by every reader.
 *
 * Reading a set: ffr_set_verify takes the folder's lock shared and, when the
 * manifest exists, checks it: status complete, every listed member that is
 * present with its size and crc32 (one removed by hand leaves the rest one
 * run's: the reader sees it absent, as in a set without manifest), no member
 * of this kind that it does not list. A
 * folder without a manifest is a set made by the user (numpy's np.save):
 * accepted as it is. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define SET_MAX 96           /* members: 16 layers x 4 arrays (model), 16 states + 7 (relax) */
#define SET_NAME 32          /* a member's name, "state15.npy" */
#define MANIFEST_MAX 65536   /* bytes: a manifest is a few lines per member */

typedef struct { char name[SET_NAME]; uint64_t size; uint32_t crc; } member;

struct ffr_set {
    char dir[4096], kind[8]; /* "model", "relax", "mnist" */
    int lock, marked, n;
    uint64_t run;
    member m[SET_MAX];
};

/* Is name a member of a set of this kind? model: [WVbc]<k>.npy; relax:
 * state<k>.npy and the per-example arrays of relax --npy-dir. */
static int is_member(const char *kind, const char *name) {
    static const char *relax_names[] = {"step.npy", "sweeps.npy", "converged.npy", "dist.npy", "residual.npy",
                                        "rate.npy", "norm.npy"};
    static const char *mnist_names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    const char *p = name;
    if (!strcmp(kind, "mnist")) { /* the four IDX files, plain or gzip (ffr_mnist_load takes either) */
        for (size_t i = 0; i < 4; i++) {
            size_t l = strlen(mnist_names[i]);
            if (!strncmp(name, mnist_names[i], l) && (!name[l] || !strcmp(name + l, ".gz"))) return 1;
        }
        return 0;
    }
    if (!strcmp(kind, "model")) {
        if (!strchr("WVbc", *p) || !*p) return 0;
        p++;
    } else {
        for (size_t i = 0; i < sizeof relax_names / sizeof *relax_names; i++)
            if (!strcmp(name, relax_names[i])) return 1;
        if (strncmp(p, "state", 5)) return 0;
        p += 5;
    }
    int digits = 0;
    while (*p >= '0' && *p <= '9') { p++; digits++; }
    return digits >= 1 && digits <= 2 && !strcmp(p, ".npy");
}

static ffr_status check_kind(const char *kind, ffr_err *err) {
    if (!kind || (strcmp(kind, "model") && strcmp(kind, "relax") && strcmp(kind, "mnist")))
        return ffr_fail(err, FFR_ERR_ARG, "set kind: expected \"model\", \"relax\" or \"mnist\", found %s%s%s",
                        kind ? "\"" : "",
                        kind ? kind : "NULL", kind ? "\"" : "");
    return FFR_OK;
}

static ffr_status path_of(char *out, size_t cap, const char *dir, const char *name, ffr_err *err) {
    int w = snprintf(out, cap, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= cap) return ffr_fail(err, FFR_ERR_ARG, "%s: path too long", dir);
    return FFR_OK;
}

static ffr_status manifest_path(char *out, size_t cap, const char *dir, const char *kind, ffr_err *err) {
    char name[32];
    snprintf(name, sizeof name, "%s-set.manifest", kind);
    return path_of(out, cap, dir, name, err);
}

/* Size and crc32 of a regular file, read in blocks (no allocation). */
static ffr_status file_crc(const char *path, uint64_t *size, uint32_t *crc, ffr_err *err) {
    FILE *f;
    ffr_status st = ffr_open_read(path, &f, size, err);
    if (st) return st;
    unsigned char buf[16384];
    uint32_t c = 0;
    uint64_t got = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) { c = ffr_crc32(c, buf, n); got += n; }
    int bad = ferror(f);
    fclose(f);
    if (bad || got != *size)
        return ffr_fail(err, FFR_ERR_IO, "%s: read failed (%llu of %llu bytes)", path, (unsigned long long)got,
                        (unsigned long long)*size);
    *crc = c;
    return FFR_OK;
}

/* ----------------------------------------------------------------- writing */
static ffr_status write_manifest(const ffr_set *s, int complete, ffr_err *err) {
    char p[4200];
    ffr_status st = manifest_path(p, sizeof p, s->dir, s->kind, err);
    if (st) return st;
    ffr_out *o;
    if ((st = ffr_out_open(&o, p, err))) return st;
    ffr_out_printf(o, NULL, "ffrelax set manifest 1\nkind %s\nrun %016llx\nstatus %s\n", s->kind,
                   (unsigned long long)s->run, complete ? "complete" : "writing");
    for (int i = 0; complete && i < s->n; i++)
        ffr_out_printf(o, NULL, "member %s %llu %08x\n", s->m[i].name, (unsigned long long)s->m[i].size,
                       (unsigned)s->m[i].crc);
    ffr_out_printf(o, NULL, "end\n");
    return ffr_out_commit(o, err);
}

ffr_status ffr_set_begin(ffr_set **set, const char *dir, const char *kind, ffr_err *err) {
    FFR_NEED(set, err);
    *set = NULL;
    FFR_NEED(dir, err);
    ffr_status st = check_kind(kind, err);
    if (st) return st;
    if (strlen(dir) + 40 >= sizeof((ffr_set *)0)->dir) return ffr_fail(err, FFR_ERR_ARG, "%s: path too long", dir);
    ffr_set *s = ffr_calloc(1, sizeof *s);
    if (!s) return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", dir);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    if ((st = ffr_dir_lock(dir, &s->lock, err))) { free(s); return st; }
    /* a run id: time, process and address mixed by the library's generator */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ffr_rng r;
    ffr_rng_seed(&r, ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 40) ^
                         (uintptr_t)s);
    s->run = ffr_rng_u64(&r);
    *set = s;
    return FFR_OK;
}

ffr_status ffr_set_prepare(ffr_set *s, const char *name, char *path, size_t cap, ffr_err *err) {
    FFR_NEED(s, err);
    FFR_NEED(name, err);
    if (!is_member(s->kind, name))
        return ffr_fail(err, FFR_ERR_ARG, "%s: not a member name of a %s set", name, s->kind);
    if (s->n == SET_MAX) return ffr_fail(err, FFR_ERR_ARG, "%s: more than %d members in one set", s->dir, SET_MAX);
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->m[i].name, name)) return ffr_fail(err, FFR_ERR_ARG, "%s: written twice in one set", name);
    ffr_status st;
    if (!s->marked) { /* from now on the folder reads as an incomplete set until the commit */
        if ((st = write_manifest(s, 0, err))) return st;
        s->marked = 1;
    }
    return path_of(path, cap, s->dir, name, err);
}

ffr_status ffr_set_record(ffr_set *s, const char *name, ffr_err *err) {
    char p[4200];
    ffr_status st = path_of(p, sizeof p, s->dir, name, err);
    if (st) return st;
    member *m = &s->m[s->n];
    if ((st = file_crc(p, &m->size, &m->crc, err))) return st;
    snprintf(m->name, sizeof m->name, "%s", name);
    s->n++;
    return FFR_OK;
}

ffr_status ffr_set_npy(ffr_set *s, const char *name, const void *data, char dtype, int ndim, const size_t *shape,
                       ffr_err *err) {
    char p[4200];
    ffr_status st = ffr_set_prepare(s, name, p, sizeof p, err);
    if (st || (st = ffr_npy_write(p, data, dtype, ndim, shape, err))) return st;
    return ffr_set_record(s, name, err);
}

/* Remove the members of this kind in dir that the new set does not have. */
static ffr_status remove_stale(const ffr_set *s, ffr_err *err) {
    DIR *d = opendir(s->dir);
    if (!d) return ffr_fail(err, FFR_ERR_IO, "%s: cannot read the folder: %s", s->dir, strerror(errno));
    struct dirent *de;
    ffr_status st = FFR_OK;
    while (!st && (de = readdir(d))) {
        if (!is_member(s->kind, de->d_name)) continue;
        int mine = 0;
        for (int i = 0; i < s->n && !mine; i++) mine = !strcmp(s->m[i].name, de->d_name);
        char p[4200];
        if (mine || (st = path_of(p, sizeof p, s->dir, de->d_name, err))) continue;
        if (unlink(p) != 0 && errno != ENOENT)
            st = ffr_fail(err, FFR_ERR_IO, "%s: cannot remove a stale member of the set: %s", p, strerror(errno));
    }
    closedir(d);
    return st;
}

ffr_status ffr_set_commit(ffr_set *s, ffr_err *err) {
    FFR_NEED(s, err);
    ffr_status st = FFR_OK;
    if (!s->marked) st = write_manifest(s, 0, err); /* an empty set: still replaces the old one */
    if (!st && strcmp(s->kind, "mnist")) st = remove_stale(s, err); /* IDX files of the user's stay: readers refuse them */
    if (!st) st = write_manifest(s, 1, err);
    ffr_dir_unlock(s->lock);
    free(s);
    return st;
}

void ffr_set_abort(ffr_set *s) {
    if (!s) return;
    ffr_dir_unlock(s->lock);
    free(s);
}

/* ----------------------------------------------------------------- reading */
typedef struct { const char *p; int line; } cursor;

/* The next line of the manifest into buf (without the newline); 0 at the end. */
static int next_line(cursor *c, char *buf, size_t cap) {
    if (!*c->p) return 0;
    const char *e = strchr(c->p, '\n');
    size_t n = e ? (size_t)(e - c->p) : strlen(c->p);
    snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), c->p);
    c->p += n + (e != NULL);
    c->line++;
    return 1;
}

static ffr_status parse_manifest(const char *mp, const char *text, const char *kind, uint64_t *run, int *complete,
                                 member *m, int *n, ffr_err *err) {
    cursor c = {text, 0};
    char line[256], k[16], status[16], eb[1024];
    unsigned long long r;
    *n = 0;
#define BAD(what) return ffr_fail(err, FFR_ERR_FORMAT, "%s: line %d: expected %s, found '%s' (a damaged manifest: " \
                                  "re-run the command that wrote the set, or delete the manifest to use the files as " \
                                  "they are)", mp, c.line, what, ffr_esc(line, eb, sizeof eb))
    line[0] = 0;
    if (!next_line(&c, line, sizeof line) || strcmp(line, "ffrelax set manifest 1")) BAD("'ffrelax set manifest 1'");
    if (!next_line(&c, line, sizeof line) || sscanf(line, "kind %15s", k) != 1 || strcmp(k, kind)) BAD("'kind model' or 'kind relax' for this set");
    if (!next_line(&c, line, sizeof line) || sscanf(line, "run %16llx", &r) != 1) BAD("'run' and 16 hex digits");
    if (!next_line(&c, line, sizeof line) || sscanf(line, "status %15s", status) != 1 ||
        (strcmp(status, "complete") && strcmp(status, "writing")))
        BAD("'status complete' or 'status writing'");
    *run = r;
    *complete = !strcmp(status, "complete");
    for (;;) {
        if (!next_line(&c, line, sizeof line)) BAD("'end'");
        if (!strcmp(line, "end")) break;
        char name[40];
        unsigned long long size;
        unsigned crc;
        int used = 0;
        if (*n == SET_MAX || sscanf(line, "member %39s %llu %8x%n", name, &size, &crc, &used) != 3 ||
            line[used] || !is_member(kind, name))
            BAD("'member NAME SIZE CRC32' naming a member of this kind");
        memcpy(m[*n].name, name, sizeof m[*n].name); /* is_member: at most 13 characters */
        m[*n].name[SET_NAME - 1] = 0;
        m[*n].size = size;
        m[*n].crc = crc;
        (*n)++;
    }
    if (*c.p) { line[0] = 0; next_line(&c, line, sizeof line); BAD("the end of the file after 'end'"); }
#undef BAD
    return FFR_OK;
}

static ffr_status verify(const char *dir, const char *kind, ffr_err *err) {
    char mp[4200];
    ffr_status st = manifest_path(mp, sizeof mp, dir, kind, err);
    if (st) return st;
    struct stat sb;
    if (lstat(mp, &sb) != 0 && errno == ENOENT) return FFR_OK; /* the user's own set */
    char *text;
    size_t len;
    if ((st = ffr_read_file(mp, MANIFEST_MAX, &text, &len, err))) return st;
    member *m = ffr_malloc(sizeof *m * SET_MAX);
    if (!m) { free(text); return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", mp); }
    uint64_t run = 0;
    int complete = 0, n = 0;
    if (memchr(text, 0, len)) st = ffr_fail(err, FFR_ERR_FORMAT, "%s: a NUL byte: not a manifest", mp);
    else st = parse_manifest(mp, text, kind, &run, &complete, m, &n, err);
    free(text);
    const char *how = "re-run the command that wrote the set (export, or relax --npy-dir), or delete the manifest to "
                      "use the files as they are";
    if (!st && !complete)
        st = ffr_fail(err, FFR_ERR_FORMAT, "%s: incomplete set: run %016llx did not finish writing it (%s says "
                      "'status writing': the writer was killed or failed); %s", dir, (unsigned long long)run, mp, how);
    char p[4200];
    for (int i = 0; !st && i < n; i++) {
        uint64_t size;
        uint32_t crc;
        if ((st = path_of(p, sizeof p, dir, m[i].name, err))) break;
        if (lstat(p, &sb) != 0 && errno == ENOENT) continue; /* removed by hand: the rest is still one run */
        if ((st = file_crc(p, &size, &crc, err))) break;
        if (size != m[i].size)
            st = ffr_fail(err, FFR_ERR_FORMAT, "%s: not the file of run %016llx (%s): size: expected %llu bytes, "
                          "found %llu: the folder mixes two runs, or the file was replaced; %s", p,
                          (unsigned long long)run, mp, (unsigned long long)m[i].size, (unsigned long long)size, how);
        else if (crc != m[i].crc)
            st = ffr_fail(err, FFR_ERR_FORMAT, "%s: not the file of run %016llx (%s): crc32: expected %08x, found "
                          "%08x: the folder mixes two runs, or the file was replaced; %s", p, (unsigned long long)run,
                          mp, (unsigned)m[i].crc, (unsigned)crc, how);
    }
    if (!st) { /* a member of this kind that the manifest does not list: from another run */
        DIR *d = opendir(dir);
        if (!d) st = ffr_fail(err, FFR_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
        struct dirent *de;
        while (!st && d && (de = readdir(d))) {
            if (!is_member(kind, de->d_name)) continue;
            int listed = 0;
            for (int i = 0; i < n && !listed; i++) listed = !strcmp(m[i].name, de->d_name);
            char eb[1024];
            if (!listed)
                st = ffr_fail(err, FFR_ERR_FORMAT, "%s/%s: not part of the set of run %016llx (%s lists %d files): "
                              "a file of another run; remove it, or %s", dir, ffr_esc(de->d_name, eb, sizeof eb),
                              (unsigned long long)run, mp, n, how);
        }
        if (d) closedir(d);
    }
    free(m);
    return st;
}

ffr_status ffr_set_verify(const char *dir, const char *kind, int *lock, ffr_err *err) {
    FFR_NEED(lock, err);
    *lock = -1;
    FFR_NEED(dir, err);
    ffr_status st = check_kind(kind, err);
    if (st || (st = ffr_dir_flock(dir, 1, 1, lock, err))) return st;
    if ((st = verify(dir, kind, err))) {
        ffr_dir_unlock(*lock);
        *lock = -1;
    }
    return st;
}
