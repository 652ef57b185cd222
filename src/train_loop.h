/* train_loop.h - the one training loop every trainer runs on (train_loop.c);
 * internal, not installed.
 *
 * The loop owns everything that is the same for every trainer: option
 * checks common to all, the checkpoint fingerprint, resume (with a range
 * check of every checkpoint field), stages, the shuffle (Fisher-Yates with
 * the run's rng, one permutation per epoch), the minibatch index ranges, the
 * optimizer (tick once per minibatch, one step per parameter segment,
 * reset at each fresh stage), the loss and parameter divergence checks, the
 * mid-epoch and end-of-epoch progress reports, the held-out metrics and the
 * atomic checkpoint after every epoch.
 *
 * A trainer is one file: it checks its own options, allocates its scratch,
 * fills an ffr_trainer and calls ffr_train_run. It supplies only
 *   - batch:    the gradient (or the negative update) of one minibatch, given
 *               the minibatch's example indices into the training data;
 *   - segments: which parts of net->params a stage moves (and which decay);
 *   - fp:       the hash of its own options (ffr_train_fnv);
 * and optionally
 *   - stage_begin: per-stage setup (greedy stacks: the inputs of layer k);
 *   - extra_*:  extra state saved in the checkpoint (RBM persistent chains);
 *   - metrics:  its own held-out measurements (default
 *               ffr_train_metrics_compute on o->holdout).
 * Trainers run their products through ffr_train_gemm(o->threads, ...) and
 * their relaxations with o->threads, so the run's thread count is its own.
 *
 * Order of calls (this order and the rng draws are what the bit-identical
 * results rest on):
 *   rng = seed(o->seed); opt = init(o->optimizer)
 *   if resuming: load checkpoint -> params, rng, opt, stage s0, epoch e0;
 *                range-check it; extra_load(s0, ...)
 *   for stage = 1..nstages:
 *     skipped = stage < s0; fresh = !skipped && (stage > s0 || e0 == 0)
 *     stage_begin(stage, fresh, skipped)  [if set]
 *     if skipped: continue
 *     if fresh: ffr_optim_reset(opt)
 *     for epoch = e0 (stage s0) or 0 .. o->epochs-1:
 *       perm = shuffle(n, rng)
 *       for each minibatch [b0, b0+B) of perm (B = o->batch, the last one short):
 *         loss = 0; batch(stage, perm + b0, B, grad, &loss, &sweeps, rng)  (sweeps accumulates)
 *         tick(opt); for each segment: step(opt, params, grad, seg)
 *         loss not finite -> FFR_ERR_DIVERGED
 *         mid-epoch progress every o->progress_every minibatches (may stop)
 *       parameters not finite -> FFR_ERR_DIVERGED
 *       metrics (when o->holdout) -> end-of-epoch progress (may stop)
 *       checkpoint (with extra_save(stage)) when o->checkpoint: after the
 *       report, so that a kill between the two repeats the epoch and the
 *       caller's per-epoch rows are each written once)
 *
 * Greedy trainers have one stage per layer (stage = layer, 1..L, reported
 * and checkpointed as the layer); whole-network trainers have one stage,
 * reported and checkpointed as layer 0. */
#ifndef FFR_TRAIN_LOOP_H
#define FFR_TRAIN_LOOP_H
#include "train_internal.h"

/* One contiguous part of net->params that the optimizer steps (offsets in
 * floats from net->params); decay: weight decay applies (weights, never offsets).
 * rowlen: the reduction computes this segment's gradient by output rows of
 * rowlen floats (len / rowlen rows), partitioned over the ranks (reduce
 * below); 0: every rank computes all of it. */
typedef struct { size_t off, len; int decay; size_t rowlen; } ffr_train_seg;

#define FFR_TRAIN_MAX_SEGS (4 * FFR_MAX_LAYERS)

typedef struct ffr_trainer {
    ffr_train_method method;
    const char *name;        /* in messages: "sae", "rbm", "dendritic", ... */
    int nstages;             /* greedy: net->L; whole network: 1 */
    int greedy;              /* 1: stage k trains layer k (checkpoint layer = k); 0: layer 0 */
    const float *x;          /* (n, dim) the training data: hashed into the fingerprint */
    size_t n;                /* examples per epoch */
    int dim;
    uint64_t fp;             /* the trainer's own options (ffr_train_fnv from FFR_TRAIN_FNV0);
                                the loop adds n, batch, seed, optimizer and its
                                hyper-parameters and the data's hash itself */
    const char *fp_what;     /* what fp covers, for the resume message: "--cd-k, --persistent" */
    int has_sweeps;          /* 1: batch reports relaxation sweeps (progress mean_sweeps) */
    void *self;              /* the trainer's state, passed back to every callback */

    /* Optional. Called for every stage in order before its epochs (also for
     * the stages a resumed run skips, skipped = 1, so that a greedy trainer
     * can compute the next stage's inputs). fresh: the stage starts at epoch 0
     * (the optimizer is reset; 0 for the resumed stage and skipped ones). */
    ffr_status (*stage_begin)(void *self, int stage, int fresh, int skipped, ffr_err *err);
    /* Required. The gradient of the minibatch of B examples idx[0..B-1] (indices
     * into x) into grad (same layout as net; only the stage's segments are read),
     * the minibatch's mean loss per unit into *loss; trainers that relax add the
     * updates (sweeps x examples) to *sweeps. rng: the run's generator (sampling). */
    ffr_status (*batch)(void *self, int stage, const size_t *idx, int B, ffr_net *grad, double *loss,
                        double *sweeps, ffr_rng *rng, ffr_err *err);
    /* The minibatch split in two (optional, all three together; then batch may
     * be NULL): the per-example work and the reduction over examples. With
     * them the loop calls local on the whole minibatch [0, B) and then reduce;
     * with a communicator (comm.h) each rank calls local on its contiguous
     * shard [r0, r1) of the minibatch (possibly empty: r0 == r1), the loop all-gathers the rows and every
     * rank calls reduce on all B rows, so the result has the same bits for any
     * number of ranks. local writes row_floats(stage) floats per example
     * r0..r1-1 at rows (already offset: rows[0] is example r0's row) and adds its
     * relaxation updates to *sweeps; it may use every example's idx (a trainer
     * that draws random numbers draws those of all B examples, in the
     * single-process order, and uses its shard's). reduce: the gradient and
     * *loss (as batch) from the B rows; of the segments with a rowlen (the
     * row-partitioned reduction, doc/scaling.md) it computes only the output
     * rows of part nparts (ffr_comm_shard(rows, FFR_TRAIN_GRAD_BLOCK, part,
     * nparts)), each block of FFR_TRAIN_GRAD_BLOCK rows by the same calls as
     * in one process (part 0 of 1), and the loop all-gathers the rows; the
     * other segments and *loss it computes whole. It must fail (or not) alike
     * on every rank. */
    size_t (*row_floats)(void *self, int stage);
    /* With local: the rows of a shard are whole blocks of FFR_TRAIN_ROW_BLOCK
     * examples from the minibatch's start (the last one short), and local runs
     * its products (and relaxations) block by block, so that every block is the
     * same call in one process and over any number of ranks: bit-identical by
     * construction for any deterministic gemm, whether or not its rows depend on
     * the other rows of a product (OpenBLAS's do; tests/test_comm.c). */
    ffr_status (*local)(void *self, int stage, const size_t *idx, int B, int r0, int r1, float *rows,
                        double *sweeps, ffr_rng *rng, ffr_err *err);
    ffr_status (*reduce)(void *self, int stage, const size_t *idx, int B, const float *rows, int part, int nparts,
                         ffr_net *grad, double *loss, ffr_err *err);
    /* Required. Fill seg[0..return) (at most max) with the segments stage moves. */
    int (*segments)(void *self, int stage, ffr_train_seg *seg, int max);
    /* Optional. Extra checkpoint state of a stage: its size in floats (0: none),
     * written into dst, read back from src (n = extra_floats(stage), checked by the loop). */
    size_t (*extra_floats)(void *self, int stage);
    void (*extra_save)(void *self, int stage, float *dst);
    ffr_status (*extra_load)(void *self, int stage, const float *src, size_t n, ffr_err *err);
    /* Optional. The end-of-epoch held-out measurements (called only with
     * o->holdout and o->n_holdout); default ffr_train_metrics_compute. m keeps
     * its contents between calls. */
    ffr_status (*metrics)(void *self, int stage, const ffr_net *net, const ffr_train_opts *o,
                          ffr_train_metrics *m, ffr_err *err);
} ffr_trainer;

#define FFR_TRAIN_FNV0 0xcbf29ce484222325ULL
/* The block of rows of the per-example half (local above): its products run
 * on at most this many examples at a time. */
#define FFR_TRAIN_ROW_BLOCK 32
/* The block of output rows of a gradient product in the row-partitioned
 * reduction (ffr_train_seg.rowlen): 128, since smaller blocks cost the
 * products speed in one process (ffrelax's AVX2 kernel, 256 x 1024 x 784:
 * 30 GFLOP/s in one call, 23 in blocks of 128, 14 in blocks of 32). */
#define FFR_TRAIN_GRAD_BLOCK 128

/* The option checks every trainer shares (data size, epochs, batch, lr,
 * weight decay, optimizer and its hyper-parameters, threads, holdout size,
 * the network): a trainer calls it after its own checks and before it
 * allocates; ffr_train_run calls it again. */
ffr_status ffr_train_check_common(const ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                                  ffr_err *err);

struct ffr_comm;
/* Run the training loop above on net (in place). comm (comm.h; NULL or size
 * 1: one process): data-parallel over its ranks (the trainer needs local and
 * reduce): every rank runs the same loop on the same data, rank 0 alone
 * writes the checkpoint and calls o->progress (its stop is broadcast), and
 * every failure is agreed on so that all ranks return it (ffr_comm_agree). Returns FFR_OK (also when
 * the progress callback stopped the run: *stopped = 1 when stopped is not
 * NULL), or an error with err filled. */
ffr_status ffr_train_run_comm(const ffr_trainer *t, ffr_net *net, const ffr_train_opts *o,
                              const struct ffr_comm *comm, int *stopped, ffr_err *err);
/* ffr_train_run_comm with no communicator: one process. */
ffr_status ffr_train_run(const ffr_trainer *t, ffr_net *net, const ffr_train_opts *o, int *stopped,
                         ffr_err *err);

/* The trainers with a communicator (comm.h; NULL: the public ffr_train_*). */
ffr_status ffr_train_sae_comm(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                              const struct ffr_comm *comm, int *stopped, ffr_err *err);
ffr_status ffr_train_rbm_comm(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                              const struct ffr_comm *comm, int *stopped, ffr_err *err);
ffr_status ffr_train_dendritic_comm(ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                                    const struct ffr_comm *comm, int *stopped, ffr_err *err);

#endif
