/* comm.h - the abstract communicator of data-parallel training (doc/scaling.md);
 * internal, not installed.
 *
 * The library never links MPI: a caller that runs several processes (the
 * CLI built with `make MPI=1`, cli/mpi.c) fills an ffr_comm with its own
 * collectives and passes it to ffr_train_comm (below). Every rank calls the
 * same collectives in the same order. Each function returns 0, or non-zero
 * when the communication itself failed (the caller's implementation may
 * abort all ranks instead: MPI's default error handler does).
 *
 * What the training loop does with it (train_loop.h, "With a communicator"):
 * each minibatch's per-example work runs on a contiguous shard of the
 * examples per rank, the per-example rows are all-gathered into the
 * single-process order, and the reduction over examples runs on the
 * gathered rows exactly as in one process: the trained bytes do not depend
 * on the number of ranks. */
#ifndef FFR_COMM_H
#define FFR_COMM_H
#include <stddef.h>
#include "ffrelax.h"

typedef struct ffr_comm {
    int rank, size;   /* this process, 0..size-1; size >= 1 */
    void *ctx;        /* the implementation's state */
    /* recv (size * bytes) = every rank's send (bytes each), in rank order */
    int (*allgather)(void *ctx, const void *send, size_t bytes, void *recv);
    /* recv = rank r's counts[r] bytes at displs[r], r = 0..size-1; send holds
       this rank's counts[rank] bytes and may be recv + displs[rank] (in place) */
    int (*allgatherv)(void *ctx, const void *send, void *recv, const size_t *counts, const size_t *displs);
    /* buf (bytes) of rank root onto every rank */
    int (*bcast)(void *ctx, void *buf, size_t bytes, int root);
    /* *v = the minimum of every rank's *v (the all-reduce of an error flag) */
    int (*allmin)(void *ctx, int *v);
    /* 1: the row-partitioned reduction (doc/scaling.md: each rank computes its
       blocks of output rows of the gradient products that have them, and the
       rows are all-gathered); 0: every rank computes the whole gradient. The
       same bits either way. */
    int reduce_rows;
} ffr_comm;

/* The shard of rank `rank` of `size` over n items in blocks of `block`
 * items (the last block short): [*r0, *r1), contiguous, whole blocks, the
 * first (blocks % size) ranks one block more. */
void ffr_comm_shard(size_t n, size_t block, int rank, int size, size_t *r0, size_t *r1);

/* The agreement step after work that may fail on some ranks: every rank
 * passes its status rc (err filled when rc != FFR_OK); all ranks return the
 * status of the lowest failing rank with its message, prefixed "rank R: "
 * (FFR_OK when none failed). comm NULL: returns rc. A failing collective
 * returns FFR_ERR_IO. */
ffr_status ffr_comm_agree(const ffr_comm *comm, ffr_status rc, ffr_err *err);

/* ffr_train (sae, rbm, dendritic) data-parallel over comm (NULL: ffr_train).
 * Every rank passes the whole data set and the same options; every rank
 * ends with the same net, bit for bit the single-process result. Only
 * rank 0 writes o->checkpoint (all ranks read it on resume) and calls
 * o->progress. Every trainer has the per-example split (sae, rbm,
 * dendritic; ep: ffr_train_ep_comm). */
ffr_status ffr_train_comm(ffr_train_method m, ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                          const ffr_comm *comm, int *stopped, ffr_err *err);

/* ffr_train_ep data-parallel over comm (NULL: ffr_train_ep), as
 * ffr_train_comm: the free and nudged relaxations of each rank's shard,
 * the states all-gathered, the EP update on every rank; the test set
 * (e->test_x) evaluated by every rank with ffr_ep_evaluate_comm at each
 * epoch's end. Only rank 0 calls e->progress. */
ffr_status ffr_train_ep_comm(ffr_net *net, const float *x, const unsigned char *y, size_t n, const ffr_ep_opts *e,
                             const ffr_train_opts *t, const ffr_comm *comm, int *stopped, ffr_err *err);

/* ffr_ep_evaluate over comm (NULL: one process): its chunks of examples
 * dealt out to the ranks, the per-example results all-gathered and summed in
 * example order on every rank: every rank returns the one-process r (bar
 * r->seconds, each rank's own wall time). */
ffr_status ffr_ep_evaluate_comm(const ffr_net *net, const float *x, const unsigned char *y, size_t n,
                                const ffr_relax_opts *o, ffr_ep_eval *r, const ffr_comm *comm, ffr_err *err);

/* ffr_relax over comm (NULL or size 1: ffr_relax): ffr_relax's chunks of
 * rows dealt out to the ranks, their states and traces all-gathered and the
 * traces merged in chunk order (src/relax_comm.c). Every rank passes the
 * same arguments; st and *trace_out hold the bytes of one process on rank 0
 * (and on every rank unless a chunk failed: then the later chunks' rows of
 * other ranks' st may hold their relaxation). */
ffr_status ffr_relax_comm(const ffr_net *net, const float *x, int B, const ffr_relax_opts *o, ffr_state *st,
                          ffr_trace **trace_out, const ffr_comm *comm, ffr_err *err);

#endif
