/* fuzz_util.h - helpers shared by the libFuzzer targets in fuzz/.
 *
 * The library reads files by path, so each target writes the fuzz input to a
 * memfd (no disk traffic) and hands the library "/proc/self/fd/N", or, where a
 * directory layout is needed, to files in a private temporary directory under
 * /dev/shm (or $TMPDIR). Build and run: `make fuzz` (doc/reliability.md). */
#ifndef FFR_FUZZ_UTIL_H
#define FFR_FUZZ_UTIL_H
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Die loudly: a harness failure (not a finding) must not pass silently. */
#define FZ_DIE(...) do { fprintf(stderr, "fuzz harness: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

/* A memfd holding n bytes of d; *path gets its /proc/self/fd name. Close the
 * returned fd when done. */
static inline int fz_memfd(const uint8_t *d, size_t n, char *path, size_t cap) {
    int fd = memfd_create("ffrfuzz", 0);
    if (fd < 0) FZ_DIE("memfd_create failed");
    size_t o = 0;
    while (o < n) {
        ssize_t w = write(fd, d + o, n - o);
        if (w <= 0) FZ_DIE("write to memfd failed");
        o += (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

/* fn(input), then fn(input with its last four bytes replaced by the crc32 of
 * the rest), so that mutations of a checksummed file reach the field checks. */
static inline void fz_try_crc_fixed(const uint8_t *d, size_t n, void (*fn)(const uint8_t *, size_t)) {
    fn(d, n);
    if (n < 4) return;
    uint8_t *c = malloc(n);
    if (!c) FZ_DIE("out of memory");
    memcpy(c, d, n);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), c, (uInt)(n - 4));
    for (int i = 0; i < 4; i++) c[n - 4 + i] = (uint8_t)(crc >> (8 * i));
    fn(c, n);
    free(c);
}

static inline void fz_write_file(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) FZ_DIE("cannot create %s", path);
    if (n && fwrite(d, 1, n, f) != n) FZ_DIE("cannot write %s", path);
    if (fclose(f) != 0) FZ_DIE("cannot close %s", path);
}

static inline void fz_clear_dir(const char *dir);
static char fz_dir_[512];
static void fz_cleanup_(void) {
    if (fz_dir_[0]) { fz_clear_dir(fz_dir_); rmdir(fz_dir_); }
}

/* A fresh private directory (made once per process, removed at exit). */
static inline const char *fz_tmpdir(void) {
    char *dir = fz_dir_;
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(dir, sizeof fz_dir_, "%s/ffrfuzz.XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(dir)) FZ_DIE("mkdtemp failed");
        atexit(fz_cleanup_);
    }
    return dir;
}

/* Remove everything below dir (not dir itself). Paths come from readdir only. */
static inline void fz_clear_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            fz_clear_dir(p);
            rmdir(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
}
#endif
