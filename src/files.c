/* files.c - every file the library writes or reads goes through here: atomic
 * output files (ffr_out), the checks before work (ffr_out_check,
 * ffr_file_same), checked input opening (regular files only, never blocking),
 * whole-file reads, and crc32. The rules for each kind of output target are in
 * doc/reliability.md ("Output targets"); in short:
 *   - a new path or a regular file: written to PATH.tmp.PID (exclusive create;
 *     PATH.tmp.PID.N on a collision), flushed, fsynced, renamed over PATH; the
 *     old file's permission bits (and owner, where allowed) are kept;
 *   - a symbolic link: followed, its final target is replaced, the link stays;
 *   - "-", /dev/stdout, /dev/fd/1: standard output; a character device or a
 *     FIFO: written through in place (no temporary file, no rename);
 *   - refused before anything is written: a directory, a block device, a
 *     socket, a read-only file, a file with other hard links.
 * A writer holds an advisory lock (flock) on its temporary file; temporaries
 * of the same target left by dead writers (unlocked, over a minute old) are
 * removed when the next writer opens that target. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define STALE_TMP_SECONDS 60

/* ---------------------------------------------------------------- crc32 */
/* The zlib / PNG / gzip crc32 (reflected polynomial 0xEDB88320), by table. */
static uint32_t crc_table[256];
static int crc_ready;

uint32_t ffr_crc32(uint32_t crc, const void *buf, size_t n) {
    if (!crc_ready) { /* idempotent: racing threads write the same values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            crc_table[i] = c;
        }
        crc_ready = 1;
    }
    const unsigned char *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 255] ^ (crc >> 8);
    return ~crc;
}

/* ------------------------------------------------------------ file kinds */
static const char *kind_name(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "a special file";
}

/* Standard output named as a path: "-", /dev/stdout, /dev/fd/1, /proc/self/fd/1. */
static int is_stdout_name(const char *p) {
    return !strcmp(p, "-") || !strcmp(p, "/dev/stdout") || !strcmp(p, "/dev/fd/1") ||
           !strcmp(p, "/proc/self/fd/1");
}

/* Follow symbolic links from path to the final target (which may not exist
 * yet): out gets the target's path. Fails on a loop or an over-long path. */
static ffr_status resolve_links(const char *path, char *out, size_t cap, ffr_err *err) {
    if (strlen(path) >= cap) return ffr_fail(err, FFR_ERR_ARG, "%s: path too long", path);
    snprintf(out, cap, "%s", path);
    for (int hops = 0;; hops++) {
        struct stat sb;
        if (lstat(out, &sb) != 0 || !S_ISLNK(sb.st_mode)) return FFR_OK;
        if (hops == 40) return ffr_fail(err, FFR_ERR_IO, "%s: too many levels of symbolic links", path);
        char link[4096];
        ssize_t n = readlink(out, link, sizeof link - 1);
        if (n < 0) return ffr_fail(err, FFR_ERR_IO, "%s: cannot read the symbolic link %s: %s", path, out, strerror(errno));
        link[n] = 0;
        char next[4096];
        const char *slash = strrchr(out, '/');
        int w = link[0] == '/' || !slash ? snprintf(next, sizeof next, "%s", link)
                                         : snprintf(next, sizeof next, "%.*s/%s", (int)(slash - out), out, link);
        if (w < 0 || (size_t)w >= cap || (size_t)w >= sizeof next)
            return ffr_fail(err, FFR_ERR_ARG, "%s: path too long after following links", path);
        memcpy(out, next, (size_t)w + 1);
    }
}

/* Decide how to write path (see the top of the file). *mode: 0 = replace
 * atomically (target in tgt, old stat in *old when *exists), 1 = write
 * through (character device or FIFO), 2 = standard output. */
static ffr_status classify_target(const char *path, char *tgt, size_t cap, int *mode, int *exists,
                                  struct stat *old, ffr_err *err) {
    *mode = 0;
    *exists = 0;
    if (!path || !*path) return ffr_fail(err, FFR_ERR_ARG, "output path is empty");
    if (is_stdout_name(path)) { *mode = 2; return FFR_OK; }
    ffr_status st = resolve_links(path, tgt, cap, err);
    if (st) return st;
    if (lstat(tgt, old) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return FFR_OK; /* new: its folder is checked at create */
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    *exists = 1;
    if (S_ISCHR(old->st_mode) || S_ISFIFO(old->st_mode)) { *mode = 1; return FFR_OK; }
    if (!S_ISREG(old->st_mode))
        return ffr_fail(err, FFR_ERR_IO, "%s: is %s: expected a regular file to replace (or a new path)", path,
                        kind_name(old->st_mode));
    if ((old->st_mode & 0222) == 0 || access(tgt, W_OK) != 0)
        return ffr_fail(err, FFR_ERR_IO, "%s: the file is read-only (mode %04o): not replaced; make it writable "
                        "(chmod u+w) or remove it first", path, (unsigned)(old->st_mode & 07777));
    if (old->st_nlink > 1)
        return ffr_fail(err, FFR_ERR_IO, "%s: the file has %lu hard links: replacing it would split them; "
                        "remove the other links or write elsewhere", path, (unsigned long)old->st_nlink);
    return FFR_OK;
}

/* Remove temporaries of target left by dead writers: TARGET.tmp.* that no
 * one holds locked and that were last written over a minute ago. */
static void remove_stale_temps(const char *target) {
    char dir[4096];
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    if (slash) snprintf(dir, sizeof dir, "%.*s", slash == target ? 1 : (int)(slash - target), target);
    else snprintf(dir, sizeof dir, ".");
    char prefix[4096];
    int pl = snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    if (pl < 0 || (size_t)pl >= sizeof prefix) return;
    DIR *d = opendir(dir);
    if (!d) return;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, (size_t)pl)) continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        int fd = open(p, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat sb;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && now - sb.st_mtime > STALE_TMP_SECONDS &&
            flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlink(p);
        close(fd);
    }
    closedir(d);
}

ffr_status ffr_atomic_open(ffr_afile *a, const char *path, ffr_err *err) {
    memset(a, 0, sizeof *a);
    a->fd = -1;
    int mode, exists;
    struct stat old;
    char tgt[4096];
    ffr_status st = classify_target(path, tgt, sizeof tgt, &mode, &exists, &old, err);
    if (st) return st;
    snprintf(a->path, sizeof a->path, "%s", path);
    if (mode == 2) {
        a->direct = 1;
        a->fd = dup(1);
        a->f = a->fd >= 0 ? fdopen(a->fd, "wb") : NULL;
        if (!a->f) {
            if (a->fd >= 0) close(a->fd);
            return ffr_fail(err, FFR_ERR_IO, "%s: cannot write to standard output: %s", path, strerror(errno));
        }
        return FFR_OK;
    }
    if (mode == 1) { /* device or FIFO: write through; a FIFO without a reader fails (never blocks) */
        a->direct = 1;
        a->fd = open(tgt, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (a->fd < 0)
            return ffr_fail(err, FFR_ERR_IO, "%s: cannot open %s for writing: %s%s", path, kind_name(old.st_mode),
                            strerror(errno), errno == ENXIO ? " (no reader on the FIFO)" : "");
        fcntl(a->fd, F_SETFL, fcntl(a->fd, F_GETFL) & ~O_NONBLOCK);
        a->f = fdopen(a->fd, "wb");
        if (!a->f) { close(a->fd); return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path); }
        return FFR_OK;
    }
    if (strlen(tgt) + 48 >= sizeof a->tmp) return ffr_fail(err, FFR_ERR_ARG, "%s: path too long", path);
    snprintf(a->target, sizeof a->target, "%s", tgt);
    remove_stale_temps(tgt);
    /* exclusive create: PATH.tmp.PID, then PATH.tmp.PID.N (another PID namespace, a leftover) */
    static unsigned counter;
    for (int i = 0;; i++) {
        if (i == 0) snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", tgt, (long)getpid());
        else
            snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld.%x%x", tgt, (long)getpid(), ++counter,
                     (unsigned)(time(NULL) ^ (uintptr_t)a) & 0xffffu);
        a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (a->fd >= 0) break;
        if (errno != EEXIST || i == 100) {
            int e = errno;
            a->tmp[0] = 0;
            return ffr_fail(err, FFR_ERR_IO, "%s: cannot create temporary file %s.tmp.%ld: %s", path, tgt,
                            (long)getpid(), strerror(e));
        }
    }
    (void)flock(a->fd, LOCK_EX | LOCK_NB); /* marks it live for remove_stale_temps */
    if (exists) { /* keep the old file's permissions (and owner, where we may) */
        (void)fchmod(a->fd, old.st_mode & 07777);
        if (old.st_uid != geteuid() || old.st_gid != getegid())
            if (fchown(a->fd, old.st_uid, old.st_gid) != 0) { /* not permitted: ours it is */ }
    }
    a->f = fdopen(a->fd, "wb");
    if (!a->f) {
        int e = errno;
        close(a->fd);
        unlink(a->tmp);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: cannot open a stream: %s", path, strerror(e));
    }
    return FFR_OK;
}

ffr_status ffr_write(ffr_afile *a, const void *p, size_t n, ffr_err *err) {
    if (n && fwrite(p, 1, n, a->f) != n) {
        if (!a->werr) a->werr = errno ? errno : EIO;
        return ffr_fail(err, FFR_ERR_IO, "%s: write failed: %s", a->path, strerror(a->werr));
    }
    return FFR_OK;
}

ffr_status ffr_atomic_commit(ffr_afile *a, ffr_err *err) {
    int bad = a->werr != 0, e = a->werr;
    if (!bad && fflush(a->f) != 0) { bad = 1; e = errno; }
    if (!bad && !a->nosync && fsync(fileno(a->f)) != 0 && errno != EINVAL && errno != EROFS) { bad = 1; e = errno; }
    if (ferror(a->f) && !bad) { bad = 1; e = EIO; }
    if (fclose(a->f) != 0 && !bad) { bad = 1; e = errno; }
    a->f = NULL;
    if (a->direct) {
        if (bad) return ffr_fail(err, FFR_ERR_IO, "%s: write failed: %s", a->path, strerror(e));
        return FFR_OK;
    }
    if (bad) {
        unlink(a->tmp);
        return ffr_fail(err, FFR_ERR_IO, "%s: write failed: %s (previous file left intact)", a->path, strerror(e));
    }
    if (rename(a->tmp, a->target) != 0) {
        e = errno;
        unlink(a->tmp);
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot rename %s into place: %s", a->path, a->tmp, strerror(e));
    }
    /* make the rename itself durable: fsync the folder (best effort) */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", a->target);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = a->nosync ? -1 : open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) { fsync(fd); close(fd); }
    return FFR_OK;
}

void ffr_atomic_abort(ffr_afile *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (!a->direct && a->tmp[0]) unlink(a->tmp);
}

/* ------------------------------------------------------ the public handle */
ffr_status ffr_out_open(ffr_out **out, const char *path, ffr_err *err) {
    if (!out) return ffr_fail(err, FFR_ERR_ARG, "ffr_out_open: out is NULL");
    *out = NULL;
    FFR_NEED(path, err);
    *out = ffr_malloc(sizeof **out);
    if (!*out) return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path ? path : "output");
    ffr_status st = ffr_atomic_open(*out, path, err);
    if (st) { free(*out); *out = NULL; }
    return st;
}

ffr_status ffr_out_write(ffr_out *o, const void *p, size_t n, ffr_err *err) {
    if (!o || (n && !p)) return ffr_fail(err, FFR_ERR_ARG, "ffr_out_write: NULL argument");
    return ffr_write(o, p, n, err);
}

ffr_status ffr_out_printf(ffr_out *o, ffr_err *err, const char *fmt, ...) {
    if (!o || !fmt) return ffr_fail(err, FFR_ERR_ARG, "ffr_out_printf: NULL argument");
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(o->f, fmt, ap);
    va_end(ap);
    if (r < 0) {
        if (!o->werr) o->werr = errno ? errno : EIO;
        return ffr_fail(err, FFR_ERR_IO, "%s: write failed: %s", o->path, strerror(o->werr));
    }
    return FFR_OK;
}

ffr_status ffr_out_commit(ffr_out *o, ffr_err *err) {
    if (!o) return ffr_fail(err, FFR_ERR_ARG, "ffr_out_commit: NULL handle");
    ffr_status st = ffr_atomic_commit(o, err);
    free(o);
    return st;
}

void ffr_out_abort(ffr_out *o) {
    if (!o) return;
    ffr_atomic_abort(o);
    free(o);
}

const char *ffr_out_path(const ffr_out *o) { return o ? o->path : ""; }

void ffr_out_nosync(ffr_out *o) { if (o) o->nosync = 1; }

ffr_status ffr_out_check(const char *path, ffr_err *err) {
    FFR_NEED(path, err);
    int mode, exists;
    struct stat old;
    char tgt[4096];
    ffr_status st = classify_target(path, tgt, sizeof tgt, &mode, &exists, &old, err);
    if (st || mode) return st;
    /* the folder must exist and take a new file: create and remove a probe */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s.tmp.%ld.probe", tgt, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST)
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot create temporary file %s.tmp.%ld: %s", path, tgt,
                        (long)getpid(), strerror(errno));
    if (fd >= 0) { close(fd); unlink(probe); }
    return FFR_OK;
}

int ffr_file_same(const char *a, const char *b) {
    struct stat sa, sb;
    if (!a || !b || !*a || !*b) return 0;
    if (is_stdout_name(a) || is_stdout_name(b)) return 0;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    if (S_ISCHR(sa.st_mode) || S_ISFIFO(sa.st_mode)) return 0; /* /dev/null twice is fine */
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* ------------------------------------------------------------ folder lock */
/* flock dir: exclusive (a writer of a set) or shared (its readers). A
 * missing folder, or one that cannot be opened, is not locked when
 * missing_ok (a reader's own open then says why). */
ffr_status ffr_dir_flock(const char *dir, int shared, int missing_ok, int *lock, ffr_err *err) {
    *lock = -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (missing_ok) return FFR_OK;
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    }
    if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
        int e = errno, readers = !shared && e == EWOULDBLOCK && flock(fd, LOCK_SH | LOCK_NB) == 0;
        close(fd);
        if (readers)
            return ffr_fail(err, FFR_ERR_IO, "%s: another process is reading this folder (it holds a shared lock "
                            "on it); wait for it to finish or choose another folder", dir);
        if (e == EWOULDBLOCK && shared)
            return ffr_fail(err, FFR_ERR_IO, "%s: another process is writing this set now (it holds the folder's "
                            "lock); wait for it to finish", dir);
        if (e == EWOULDBLOCK)
            return ffr_fail(err, FFR_ERR_IO, "%s: another process is writing this folder (it holds an advisory "
                            "lock on it); wait for it to finish or choose another folder", dir);
        return ffr_fail(err, FFR_ERR_IO, "%s: cannot lock the folder: %s", dir, strerror(e));
    }
    *lock = fd;
    return FFR_OK;
}

ffr_status ffr_dir_lock(const char *dir, int *lock, ffr_err *err) {
    FFR_NEED(lock, err);
    *lock = -1;
    FFR_NEED(dir, err);
    return ffr_dir_flock(dir, 0, 0, lock, err);
}

void ffr_dir_unlock(int lock) {
    if (lock >= 0) close(lock); /* closing releases the flock */
}

/* ---------------------------------------------------------------- reading */
ffr_status ffr_open_read(const char *path, FILE **f, uint64_t *size, ffr_err *err) {
    *f = NULL;
    if (!path || !*path) return ffr_fail(err, FFR_ERR_ARG, "input path is empty");
    /* O_NONBLOCK: a FIFO without a writer must not block the open */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return ffr_fail(err, FFR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ffr_fail(err, FFR_ERR_IO, "%s: stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ffr_fail(err, FFR_ERR_IO, "%s: not a readable regular file: found %s", path, kind_name(sb.st_mode));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    *f = fdopen(fd, "rb");
    if (!*f) {
        close(fd);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path);
    }
    if (size) *size = (uint64_t)sb.st_size;
    return FFR_OK;
}

ffr_status ffr_read_file(const char *path, size_t max, char **buf, size_t *len, ffr_err *err) {
    if (!path || !buf || !len) return ffr_fail(err, FFR_ERR_ARG, "ffr_read_file: NULL argument");
    *buf = NULL;
    *len = 0;
    FILE *f;
    uint64_t sz;
    ffr_status st = ffr_open_read(path, &f, &sz, err);
    if (st) return st;
    if (sz > max) {
        fclose(f);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: file too large (%llu bytes, at most %zu)", path,
                        (unsigned long long)sz, max);
    }
    size_t n = (size_t)sz;
    char *b = ffr_malloc(n + 1);
    if (!b) {
        fclose(f);
        return ffr_fail(err, FFR_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n);
    }
    size_t got = fread(b, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(b);
        return ffr_fail(err, FFR_ERR_IO, "%s: read failed (%zu of %zu bytes)", path, got, n);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return FFR_OK;
}
