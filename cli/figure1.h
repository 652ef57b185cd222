/* figure1.h - pieces of `ffrelax figure1` beyond the paper (cli/figure1_extras.c). */
#ifndef FFR_FIGURE1_H
#define FFR_FIGURE1_H
#include <stdio.h>
#include "ffrelax.h"
ffr_status fig_images(const char *out, const ffr_net *net, const float *x, int n, ffr_err *err);
ffr_status fig_fillin(const char *out, const ffr_net *net, const float *x, int n, int sweeps, ffr_err *err);
ffr_status fig_stochastic(const char *out, const ffr_net *net, const float *x, int n, int sweeps,
                          double temperature, double tau, FILE *table, ffr_err *err);
ffr_status fig_study(const char *out, int H, const float *xtr, size_t ntr, const float *xte, size_t nte,
                     const int *epochs, int nepochs, int dendritic_epochs, uint64_t seed, FILE *table, ffr_err *err);
#endif
