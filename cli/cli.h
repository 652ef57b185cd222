/* cli.h - shared helpers of the ffrelax command-line tool. Each subcommand
 * lives in its own cli/cmd_*.c and is listed in cli/main.c. */
#ifndef FFR_CLI_H
#define FFR_CLI_H
#include <stdio.h>
#include "ffrelax.h"

/* Print "ffrelax CMD: message" to stderr and return 1 (the exit status). */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse helpers: return 0 on success, print an error naming the option otherwise. */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
/* "784,500,500" -> n[], returns L (number of weight layers) or -1 */
int cli_sizes(const char *cmd, const char *s, int *n);

/* ffr_set_threads(n) for --threads N (n <= 0: keep the default), with a note on
 * stderr when fewer run (OpenBLAS under a memory limit: cli/main.c). */
void cli_set_threads(const char *cmd, int n);

/* --alpha-up / --alpha-down: one gain for every layer, or one per layer (L+1 values). */
int cli_gains(const char *cmd, const char *opt, const char *s, float *g, int *have);
/* Put parsed gains into net (dendritic only); prints the error and returns 1 on a bad count or rule. */
int cli_apply_gains(const char *cmd, ffr_net *net, const float *up, int nup, const float *down, int ndown);

/* ---- cli/cli_io.c: the checks every command makes on its paths before any work.
 * A list of the files (or sets of files in a folder) a command reads or writes,
 * each with the option that named it. */
typedef enum {
    CLI_FILE,       /* the path itself */
    CLI_DIR_MODEL,  /* DIR/W1.npy .. (the set import reads, export writes) */
    CLI_DIR_RELAX,  /* DIR/state0.npy .., step.npy, ... (relax --npy-dir, --start-dir) */
    CLI_DIR_OTHER   /* a folder of outputs whose names no input can carry (figure1 --out) */
} cli_kind;
typedef struct { const char *opt, *path; cli_kind kind; } cli_path;
/* Refuses (prints "ffrelax CMD: ..." and returns 1) when an output is the same
 * file as an input or as another output (device and inode after following
 * links; two new paths naming one file), or cannot be written (ffr_out_check;
 * a folder: exists as a writable folder, or can be made under a writable
 * one). Entries with a NULL path are skipped. Call before any work. */
int cli_check_paths(const char *cmd, const cli_path *in, int nin, const cli_path *out, int nout);
/* Hold an advisory lock (flock) on PATH.lock for the rest of the run, so that
 * two runs never share one checkpoint; returns 0 or prints and returns 1.
 * Nothing is locked for a device or FIFO. The small PATH.lock stays. */
int cli_lock_beside(const char *cmd, const char *opt, const char *path, int *lock);
/* Make folder dir (and missing parents), as figure1, relax --npy-dir and
 * export do; returns 0 or prints the reason and returns 1. */
int cli_mkdirs(const char *cmd, const char *dir);

/* ---- cli/csvlog.c: a per-epoch metrics CSV, rewritten atomically after every
 * epoch; with resume, its rows are kept and those from the first epoch the
 * resumed run reports are dropped (each epoch's row exactly once). Columns
 * layer_col and epoch_col (0-based; layer_col -1: none) order the rows. */
typedef struct {
    const char *path;
    FILE *mem;           /* the file's content so far (open_memstream) */
    char *buf;
    size_t len;
    int layer_col, epoch_col, trim, fail;
    ffr_err err;
} cli_csv;
/* Load (resume) or start the file with header, and write it now (fails before training). */
int cli_csv_open(cli_csv *c, const char *cmd, const char *path, const char *header, int resume, int layer_col,
                 int epoch_col);
/* The stream to print the rows of epoch (layer, epoch) into; NULL on failure (c->err). */
FILE *cli_csv_row(cli_csv *c, int layer, int epoch);
int cli_csv_commit(cli_csv *c); /* 0, or -1 with c->err */
void cli_csv_close(cli_csv *c);
void cli_csv_num(FILE *f, double v); /* ",%.6g", or "," for NaN */

int cmd_init(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_relax(int argc, char **argv);
int cmd_figure1(int argc, char **argv);
int cmd_convert_mnist(int argc, char **argv); /* cli/cmd_data.c */
int cmd_train(int argc, char **argv);
/* cli/cmd_ep.c: train --method ep, eval, ep-study */
int cmd_train_ep(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_ep_study(int argc, char **argv);
#endif
