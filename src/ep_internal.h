/* ep_internal.h - what src/ep.c shares with the EP trainer (src/train_ep.c);
 * not installed. */
#ifndef FFR_EP_INTERNAL_H
#define FFR_EP_INTERNAL_H
#include "train_internal.h"

/* T (B, n) = one-hot of y[idx[b]] (idx NULL: y[b]). */
void ffr_ep_onehot(float *T, const unsigned char *y, const size_t *idx, int B, int n);
/* Index of the largest of v[0..n-1] (the first on ties). */
int ffr_ep_argmax(const float *v, int n);

/* Sweeps per example: a histogram for the mean and percentiles. */
typedef struct {
    int max;        /* sweeps >= max share the last bin */
    long *count;    /* (max + 1) */
    long n, sum, at_max;
    int hi;         /* largest seen */
} ffr_ep_hist;
ffr_status ffr_ep_hist_init(ffr_ep_hist *h, int max, ffr_err *err);
void ffr_ep_hist_clear(ffr_ep_hist *h);
void ffr_ep_hist_free(ffr_ep_hist *h);
void ffr_ep_hist_add(ffr_ep_hist *h, const ffr_trace *tr, int max_sweeps);
/* One example's sweeps s (converged: it reached the tolerance). */
void ffr_ep_hist_add1(ffr_ep_hist *h, int s, int converged, int max_sweeps);
double ffr_ep_hist_mean(const ffr_ep_hist *h);
double ffr_ep_hist_pct(const ffr_ep_hist *h, double q); /* q in (0, 1]: smallest s with >= q of the counts */
#endif
