/* train_internal.h - what the trainers share beyond the public header
 * (train_common.c); not installed. */
#ifndef FFR_TRAIN_INTERNAL_H
#define FFR_TRAIN_INTERNAL_H
#include "internal.h"

/* ffr_gemm (C = alpha op(A) op(B) + beta C) on nt threads where the product
 * runs in ffrelax's kernel (the same bits for any nt; nt = 0: the library's
 * count); BLAS and the reference keep their own count. The trainers' products. */
void ffr_train_gemm(int nt, int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc);
/* ffr_train_metrics_compute with nt threads for its products and relaxations. */
ffr_status ffr_train_metrics_nt(const ffr_net *net, const float *x, size_t n, int relax, int nt,
                                ffr_train_metrics *m, ffr_err *err);
struct ffr_comm;
/* ffr_train_metrics_nt with the holdout's relaxations shared out over comm
 * (ffr_relax_comm: the same states and trace as one process; NULL: one
 * process). Every rank passes the same arguments and gets the same m. */
ffr_status ffr_train_metrics_comm(const ffr_net *net, const float *x, size_t n, int relax, int nt,
                                  const struct ffr_comm *comm, ffr_train_metrics *m, ffr_err *err);
/* Set every measurement to NaN (L and n filled). */
void ffr_train_metrics_clear(ffr_train_metrics *m, const ffr_net *net, size_t n);
/* Measure layer pairs k0..k1 only (doc/training.md), leaving the others as
 * they are: from the data x (n, n_0) when k0 = 1, else from F0 (n, n_{k0-1}),
 * the held-out examples' raw basal input of layer k0-1 as an earlier call
 * returned it in Fout. Fout (n, n_{k1}) may be NULL. Gives the same numbers
 * as ffr_train_metrics_compute (same chunks, same products); nt: ffr_train_gemm. */
ffr_status ffr_train_metrics_pairs(const ffr_net *net, const float *x, size_t n, int k0, int k1,
                                   const float *F0, float *Fout, int nt, ffr_train_metrics *m, ffr_err *err);
/* FNV-1a over n bytes, continuing from h: the options fingerprint of a checkpoint. */
uint64_t ffr_train_fnv(uint64_t h, const void *p, size_t n);
/* perm = a uniformly random permutation of 0..n-1 (Fisher-Yates with rng). */
void ffr_train_shuffle(size_t *perm, size_t n, ffr_rng *rng);
/* FFR_ERR_DIVERGED with a message naming `what`, the first bad parameter and
 * the hyper-parameter to lower, when any parameter of net is NaN or Inf. */
ffr_status ffr_train_check_finite(const ffr_net *net, const char *what, ffr_err *err);
/* Monotonic wall clock in seconds. */
double ffr_train_now(void);
#endif
