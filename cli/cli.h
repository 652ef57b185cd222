/* cli.h - shared helpers of the ffrelax command-line tool. Each subcommand
 * lives in its own cli/cmd_*.c and is listed in cli/main.c. */
#ifndef FFR_CLI_H
#define FFR_CLI_H
#include "ffrelax.h"

/* Print "ffrelax CMD: message" to stderr and return 1 (the exit status). */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse helpers: return 0 on success, print an error naming the option otherwise. */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
/* "784,500,500" -> n[], returns L (number of weight layers) or -1 */
int cli_sizes(const char *cmd, const char *s, int *n);

/* --alpha-up / --alpha-down: one gain for every layer, or one per layer (L+1 values). */
int cli_gains(const char *cmd, const char *opt, const char *s, float *g, int *have);
/* Put parsed gains into net (dendritic only); prints the error and returns 1 on a bad count or rule. */
int cli_apply_gains(const char *cmd, ffr_net *net, const float *up, int nup, const float *down, int ndown);

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
