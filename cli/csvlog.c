/* csvlog.c - the per-epoch metrics CSV of `train` (every method, ep
 * included): the rows so far are kept in memory and the whole file is
 * rewritten atomically (ffr_out) after every epoch, so a kill leaves the old
 * or the new file, never a torn row. The trainers report an epoch (the row)
 * before they write its checkpoint; on --resume the rows from the first epoch
 * the resumed run reports are dropped, so every epoch's row appears exactly
 * once (doc/reliability.md, issue 14 class 7). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

void cli_csv_num(FILE *f, double v) {
    if (v != v) fputs(",", f); /* NaN: an empty cell */
    else fprintf(f, ",%.6g", v);
}

int cli_csv_commit(cli_csv *c) {
    ffr_out *o;
    if (fflush(c->mem) != 0) return ffr_fail(&c->err, FFR_ERR_NOMEM, "%s: out of memory", c->path), -1;
    if (ffr_out_open(&o, c->path, &c->err)) return -1;
    ffr_out_nosync(o); /* every epoch: the checkpoint's fsync that follows makes it durable */
    if (ffr_out_write(o, c->buf, c->len, &c->err)) { ffr_out_abort(o); return -1; }
    return ffr_out_commit(o, &c->err) ? -1 : 0;
}

int cli_csv_open(cli_csv *c, const char *cmd, const char *path, const char *header, int resume, int layer_col,
                 int epoch_col) {
    memset(c, 0, sizeof *c);
    c->path = path;
    c->layer_col = layer_col;
    c->epoch_col = epoch_col;
    char *old = NULL;
    size_t oldlen = 0;
    int exists = resume && access(path, F_OK) == 0;
    if (exists && ffr_read_file(path, (size_t)1 << 30, &old, &oldlen, &c->err)) return cli_fail(cmd, "%s", c->err.msg);
    c->mem = open_memstream(&c->buf, &c->len);
    if (!c->mem) { free(old); return cli_fail(cmd, "%s: out of memory", path); }
    if (exists) { /* resume: keep the rows of the epochs already done */
        fwrite(old, 1, oldlen, c->mem);
        c->trim = 1;
    } else {
        fputs(header, c->mem);
    }
    free(old);
    if (cli_csv_commit(c)) return cli_fail(cmd, "%s", c->err.msg); /* fail before training, not after */
    return 0;
}

/* Field col (0-based) of a CSV line as an integer; 0 when absent or col < 0. */
static int field(const char *line, const char *end, int col) {
    if (col < 0) return 0;
    for (int i = 0; i < col; i++) {
        const char *comma = memchr(line, ',', (size_t)(end - line));
        if (!comma) return 0;
        line = comma + 1;
    }
    return atoi(line);
}

/* Drop the rows of (layer, epoch) and later ones (lines after the header). */
static int drop_from(cli_csv *c, int layer, int epoch) {
    if (fflush(c->mem) != 0) return -1;
    const char *b = c->buf, *end = b + c->len;
    const char *line = memchr(b, '\n', c->len);
    line = line ? line + 1 : end;
    size_t keep = (size_t)(line - b);
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        int l = field(line, le, c->layer_col), e = field(line, le, c->epoch_col);
        if (l > layer || (l == layer && e >= epoch)) break;
        line = nl ? nl + 1 : end;
        keep = (size_t)(line - b);
    }
    if (keep == c->len) return 0;
    char *prefix = malloc(keep + 1);
    if (!prefix) return -1;
    memcpy(prefix, b, keep);
    fclose(c->mem);
    free(c->buf);
    c->buf = NULL;
    c->mem = open_memstream(&c->buf, &c->len);
    int bad = !c->mem || fwrite(prefix, 1, keep, c->mem) != keep;
    free(prefix);
    return bad ? -1 : 0;
}

FILE *cli_csv_row(cli_csv *c, int layer, int epoch) {
    if (c->trim) {
        c->trim = 0;
        if (drop_from(c, layer, epoch)) {
            ffr_fail(&c->err, FFR_ERR_NOMEM, "%s: out of memory", c->path);
            c->fail = 1;
            return NULL;
        }
    }
    return c->mem;
}

void cli_csv_close(cli_csv *c) {
    if (c->mem) fclose(c->mem);
    free(c->buf);
    memset(c, 0, sizeof *c);
}
