/* train_loop.c - the one training loop of every trainer: option checks,
 * fingerprint and resume (every checkpoint field range-checked), stages,
 * shuffle, minibatches, optimizer, divergence checks, progress, held-out
 * metrics and the atomic checkpoint. train_loop.h states the contract and
 * the order of calls; the trainers (train_sae.c, train_rbm.c,
 * train_dendritic.c) supply the gradient of a minibatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "train_loop.h"
#include "comm.h"

ffr_status ffr_train_check_common(const ffr_net *net, const float *x, size_t n, const ffr_train_opts *o,
                                  ffr_err *err) {
    FFR_NEED(o, err);
    ffr_status vs = ffr_net_valid(net, "training", err);
    if (vs) return vs;
    if (o->n_holdout && !o->holdout) return ffr_fail(err, FFR_ERR_ARG, "holdout: %zu examples but no data (NULL)", o->n_holdout);
    if (!x || n < 1) return ffr_fail(err, FFR_ERR_ARG, "training data: expected at least 1 example, found %zu", n);
    if (n > (size_t)1 << 31) return ffr_fail(err, FFR_ERR_ARG, "training data: at most 2^31 examples");
    if (o->epochs < 0) return ffr_fail(err, FFR_ERR_ARG, "epochs: expected >= 0, found %d", o->epochs);
    if (o->batch < 1) return ffr_fail(err, FFR_ERR_ARG, "batch: expected >= 1, found %d", o->batch);
    if (!(o->lr >= 0) || !isfinite(o->lr)) return ffr_fail(err, FFR_ERR_ARG, "lr: expected a finite value >= 0, found %g", o->lr);
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
        return ffr_fail(err, FFR_ERR_ARG, "weight decay: expected a finite value >= 0, found %g", o->weight_decay);
    if ((unsigned)o->optimizer > FFR_OPT_ADAM)
        return ffr_fail(err, FFR_ERR_ARG, "optimizer: expected sgd or adam, found %d", (int)o->optimizer);
    if (!(o->momentum >= 0 && o->momentum < 1)) return ffr_fail(err, FFR_ERR_ARG, "momentum: expected [0, 1), found %g", o->momentum);
    if (!(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1 && o->adam_eps > 0 && isfinite(o->adam_eps)))
        return ffr_fail(err, FFR_ERR_ARG, "adam: expected betas in [0, 1) and a finite eps > 0, found %g, %g, %g",
                        o->beta1, o->beta2, o->adam_eps);
    if (o->threads < 0 || o->threads > 1024) return ffr_fail(err, FFR_ERR_ARG, "threads: expected 0..1024, found %d", o->threads);
    if (o->holdout && o->n_holdout && o->n_holdout > (size_t)1 << 24)
        return ffr_fail(err, FFR_ERR_ARG, "holdout: too many examples (%zu)", o->n_holdout);
    return ffr_net_check(net, err);
}

/* The training data's content (class 8 of doc/reliability.md): FNV-1a over
 * 64-bit words (8x faster than over bytes; MNIST in ~0.1 s), then the tail. */
static uint64_t data_hash(const float *x, size_t n, int dim) {
    size_t bytes = n * (size_t)dim * sizeof(float), nw = bytes / 8;
    const unsigned char *p = (const unsigned char *)x;
    uint64_t h = FFR_TRAIN_FNV0;
    for (size_t i = 0; i < nw; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8);
        h ^= w;
        h *= 0x100000001b3ULL;
    }
    h = ffr_train_fnv(h, p + 8 * nw, bytes - 8 * nw);
    return ffr_train_fnv(h, &n, sizeof n);
}

/* ------------------------------------------------------------- resume */
/* Is ck (just loaded) a checkpoint of this run, inside this run's ranges?
 * Every field the loop uses is checked here; the message names the first
 * that is not, with the checkpoint's value and this run's. */
static ffr_status check_ckpt(const ffr_trainer *t, const ffr_train_opts *o, const ffr_train_ckpt *ck,
                             uint64_t dh, size_t nbatches, ffr_err *err) {
    const char *p = o->checkpoint;
    const char *fix = "use the same options and data, or delete the checkpoint to start over";
    if (ck->method != t->method)
        return ffr_fail(err, FFR_ERR_ARG, "%s: checkpoint of method %s, this run trains %s; %s", p,
                        ffr_train_method_name(ck->method), t->name, fix);
    /* position: stage and epoch within this run */
    if (t->greedy ? ck->layer < 1 || ck->layer > t->nstages : ck->layer != 0)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: checkpoint layer %d out of range (%s trains %s)", p, ck->layer,
                        t->name, t->greedy ? "layers 1..L" : "the whole network: layer 0");
    if (ck->epoch < 0 || ck->epoch > o->epochs)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: checkpoint epoch %d out of range (expected 0..%d, the --epochs of this run)",
                        p, ck->epoch, o->epochs);
    if (!(ck->rng.s[0] | ck->rng.s[1] | ck->rng.s[2] | ck->rng.s[3]))
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: checkpoint rng state is all zero (not a state the generator reaches)", p);
    /* identity: the same run (options, optimizer, data) */
#define SAME(what, fmt, a, b) \
    if ((a) != (b)) return ffr_fail(err, FFR_ERR_ARG, "%s: checkpoint " what " " fmt ", this run " fmt "; %s", p, a, b, fix)
    SAME("examples per epoch", "%llu", (unsigned long long)ck->n, (unsigned long long)t->n);
    SAME("batch", "%d", ck->batch, o->batch);
    SAME("seed", "%llu", (unsigned long long)ck->seed, (unsigned long long)o->seed);
    if (ck->opt.kind != o->optimizer)
        return ffr_fail(err, FFR_ERR_ARG, "%s: checkpoint optimizer %s, this run %s; %s", p,
                        ffr_optimizer_name(ck->opt.kind), ffr_optimizer_name(o->optimizer), fix);
    SAME("lr", "%.15g", ck->opt.lr, o->lr);
    SAME("weight decay", "%.15g", ck->opt.weight_decay, o->weight_decay);
    if (o->optimizer == FFR_OPT_SGD) {
        SAME("momentum", "%.15g", ck->opt.momentum, o->momentum);
    } else {
        SAME("adam beta1", "%.15g", ck->opt.beta1, o->beta1);
        SAME("adam beta2", "%.15g", ck->opt.beta2, o->beta2);
        SAME("adam eps", "%.15g", ck->opt.eps, o->adam_eps);
    }
#undef SAME
    if (ck->data_hash != dh)
        return ffr_fail(err, FFR_ERR_ARG, "%s: the training data differ from the checkpoint's (same size, other content); %s", p, fix);
    if (ck->fingerprint != t->fp)
        return ffr_fail(err, FFR_ERR_ARG, "%s: checkpoint of other %s options (%s); %s", p, t->name,
                        t->fp_what ? t->fp_what : "the method's own options", fix);
    /* consistency of the position with this (same) run */
    if (ck->opt.t != (uint64_t)ck->epoch * nbatches)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: checkpoint optimizer step count %llu, expected %llu (%d epochs of %zu minibatches)",
                        p, (unsigned long long)ck->opt.t, (unsigned long long)ck->epoch * nbatches, ck->epoch, nbatches);
    int stage = t->greedy ? ck->layer : 1;
    size_t nx = t->extra_floats ? t->extra_floats(t->self, stage) : 0;
    if (ck->nextra != nx)
        return ffr_fail(err, FFR_ERR_FORMAT, "%s: checkpoint extra state: expected %zu floats for layer %d, found %zu",
                        p, nx, ck->layer, ck->nextra);
    return FFR_OK;
}

/* With o->resume and an existing o->checkpoint: load it into net and ck,
 * check it (check_ckpt), restore the trainer's extra state; *resumed = 1. */
static ffr_status resume(const ffr_trainer *t, const ffr_train_opts *o, ffr_net *net, ffr_train_ckpt *ck,
                         uint64_t dh, size_t nbatches, int *resumed, ffr_err *err) {
    *resumed = 0;
    if (!o->resume || !o->checkpoint) return FFR_OK;
    struct stat sb;
    if (stat(o->checkpoint, &sb) != 0) return FFR_OK; /* nothing to resume from: a fresh start (never opens a FIFO) */
    ffr_train_ckpt_free(ck);
    ffr_status rc = ffr_train_ckpt_load(o->checkpoint, net, ck, err);
    if (!rc) rc = check_ckpt(t, o, ck, dh, nbatches, err);
    if (!rc && ck->nextra) rc = t->extra_load(t->self, t->greedy ? ck->layer : 1, ck->extra, ck->nextra, err);
    free(ck->extra);
    ck->extra = NULL; ck->nextra = 0;
    *resumed = !rc;
    return rc;
}

/* ------------------------------------------------------------ progress */
typedef struct { double t0, te, lsum, sweeps; size_t done; } epoch_acc;

/* dt: the seconds the epoch's minibatches took so far (examples per second) */
static int report(const ffr_trainer *t, const ffr_train_opts *o, int stage, int epoch, const epoch_acc *a,
                  double dt, int end, const ffr_train_metrics *m) {
    double now = ffr_train_now();
    ffr_train_progress pr = {t->method, t->greedy ? stage : 0, epoch, o->epochs, a->done, t->n,
                             a->lsum / a->done, dt > 0 ? a->done / dt : 0, now - a->t0,
                             t->has_sweeps ? a->sweeps / a->done : NAN, end, m};
    return o->progress(o->progress_ctx, &pr);
}

static void what_name(char *buf, size_t sz, const ffr_trainer *t, int stage, int epoch) {
    if (t->greedy) snprintf(buf, sz, "%s layer %d epoch %d", t->name, stage, epoch);
    else snprintf(buf, sz, "%s epoch %d", t->name, epoch);
}

/* The end of an epoch: parameters finite, metrics, report, checkpoint. */
/* Rank 0's progress report, its stop broadcast to every rank (comm NULL: one process). */
static ffr_status report_all(const ffr_trainer *t, const ffr_train_opts *o, const ffr_comm *comm, int stage,
                             int epoch, const epoch_acc *a, double dt, int end, const ffr_train_metrics *m,
                             int *stop, ffr_err *err) {
    *stop = 0;
    if (!o->progress) return FFR_OK;
    if (!comm || comm->rank == 0) *stop = report(t, o, stage, epoch, a, dt, end, m);
    if (comm && comm->size > 1 && comm->bcast(comm->ctx, stop, sizeof *stop, 0))
        return ffr_fail(err, FFR_ERR_IO, "%s: rank %d: a collective failed", t->name, comm->rank);
    return FFR_OK;
}

static ffr_status epoch_end(const ffr_trainer *t, ffr_net *net, const ffr_train_opts *o, const ffr_comm *comm,
                            ffr_train_ckpt *ck, int stage, int epoch, const epoch_acc *a, ffr_train_metrics *m,
                            int *stop, ffr_err *err) {
    double dt = ffr_train_now() - a->te;
    char what[96];
    what_name(what, sizeof what, t, stage, epoch);
    ck->layer = t->greedy ? stage : 0;
    ck->epoch = epoch;
    ffr_status rc = ffr_train_check_finite(net, what, err);
    if (rc) return rc;
    ffr_train_metrics *mp = NULL;
    if (o->holdout && o->n_holdout) {
        rc = t->metrics ? t->metrics(t->self, stage, net, o, m, err)
                        : ffr_train_metrics_comm(net, o->holdout, o->n_holdout, o->holdout_relax, o->threads, comm, m, err);
        if ((rc = ffr_comm_agree(comm, rc, err))) return rc;
        mp = m;
    }
    if ((rc = report_all(t, o, comm, stage, epoch, a, dt, 1, mp, stop, err))) return rc;
    /* the checkpoint after the epoch's report (the caller's metrics row): a kill
       between the two repeats the epoch, and the caller drops rows past the
       checkpoint's epoch on resume, so every epoch's row is written once */
    if (o->checkpoint && (!comm || comm->rank == 0)) { /* one writer: rank 0 */
        size_t nx = t->extra_floats ? t->extra_floats(t->self, stage) : 0;
        if (nx) {
            if (!(ck->extra = ffr_malloc(nx * sizeof(float))))
                return ffr_fail(err, FFR_ERR_NOMEM, "%s: checkpoint: out of memory", what);
            t->extra_save(t->self, stage, ck->extra);
            ck->nextra = nx;
        }
        rc = ffr_train_ckpt_save(o->checkpoint, net, ck, err);
        free(ck->extra);
        ck->extra = NULL; ck->nextra = 0;
    }
    return o->checkpoint ? ffr_comm_agree(comm, rc, err) : rc;
}

/* ---------------------------------------------------------- minibatch */
/* Buffers of the split minibatch (trainers with local and reduce). */
typedef struct {
    float *rows;       /* (Bmax, rowf) the per-example rows of the stage */
    size_t rowf, cap;  /* floats per row; rows' capacity in floats */
    size_t *counts, *displs; /* (P) bytes of each rank's shard, and offsets */
    double *sw;        /* (P) each rank's relaxation updates */
} split_buf;

/* One minibatch's gradient into grad, *l its loss, *sweeps += its updates:
 * t->batch, or t->local on this rank's shard (the whole minibatch without a
 * communicator), the all-gather of the rows, and t->reduce on all of them. */
static ffr_status minibatch(const ffr_trainer *t, const ffr_comm *comm, split_buf *sb, int stage, const size_t *idx,
                            int B, const ffr_train_seg *seg, int nseg, ffr_net *grad, double *l, double *sweeps,
                            ffr_rng *rng, ffr_err *err) {
    if (!t->local) return t->batch(t->self, stage, idx, B, grad, l, sweeps, rng, err);
    int P = comm ? comm->size : 1;
    size_t r0 = 0, r1 = (size_t)B, rowf = sb->rowf;
    if (P > 1) ffr_comm_shard((size_t)B, FFR_TRAIN_ROW_BLOCK, comm->rank, P, &r0, &r1);
    double sw = 0;
    /* also on an empty shard (r0 == r1): the trainer may keep per-minibatch state that reduce reads */
    ffr_status rc = t->local(t->self, stage, idx, B, (int)r0, (int)r1, sb->rows + r0 * rowf, &sw, rng, err);
    if (P > 1) { /* every rank learns of a failure before the collectives */
        if ((rc = ffr_comm_agree(comm, rc, err))) return rc;
        for (int p = 0; p < P; p++) {
            size_t a, b;
            ffr_comm_shard((size_t)B, FFR_TRAIN_ROW_BLOCK, p, P, &a, &b);
            sb->counts[p] = (b - a) * rowf * sizeof(float);
            sb->displs[p] = a * rowf * sizeof(float);
        }
        if (comm->allgatherv(comm->ctx, sb->rows + r0 * rowf, sb->rows, sb->counts, sb->displs) ||
            comm->allgather(comm->ctx, &sw, sizeof sw, sb->sw))
            return ffr_fail(err, FFR_ERR_IO, "%s: rank %d: a collective failed", t->name, comm->rank);
        sw = 0; /* integer counts: the sum is exact in any order */
        for (int p = 0; p < P; p++) sw += sb->sw[p];
    }
    if (rc) return rc;
    *sweeps += sw;
    int parts = P > 1 && comm->reduce_rows ? P : 1, me = parts > 1 ? comm->rank : 0;
    if ((rc = t->reduce(t->self, stage, idx, B, sb->rows, me, parts, grad, l, err)) || parts == 1) return rc;
    /* the row-partitioned reduction: every rank's output rows of each such segment, in place */
    for (int i = 0; i < nseg; i++) {
        if (!seg[i].rowlen) continue;
        size_t rl = seg[i].rowlen * sizeof(float);
        for (int p = 0; p < P; p++) {
            size_t a, b;
            ffr_comm_shard(seg[i].len / seg[i].rowlen, FFR_TRAIN_GRAD_BLOCK, p, P, &a, &b);
            sb->counts[p] = (b - a) * rl;
            sb->displs[p] = a * rl;
        }
        char *g = (char *)(grad->params + seg[i].off);
        if (comm->allgatherv(comm->ctx, g + sb->displs[me], g, sb->counts, sb->displs))
            return ffr_fail(err, FFR_ERR_IO, "%s: rank %d: a collective failed", t->name, comm->rank);
    }
    return FFR_OK;
}

/* --------------------------------------------------------------- loop */
ffr_status ffr_train_run(const ffr_trainer *t, ffr_net *net, const ffr_train_opts *o, int *stopped,
                         ffr_err *err) {
    return ffr_train_run_comm(t, net, o, NULL, stopped, err);
}

ffr_status ffr_train_run_comm(const ffr_trainer *t, ffr_net *net, const ffr_train_opts *o, const ffr_comm *comm,
                              int *stopped, ffr_err *err) {
    if (stopped) *stopped = 0;
    ffr_status rc = ffr_train_check_common(net, t->x, t->n, o, err);
    if (rc) return rc;
    FFR_ASSERT((t->batch || (t->local && t->reduce && t->row_floats)) && t->segments && t->nstages >= 1 &&
               (!t->extra_floats || (t->extra_save && t->extra_load)));
    int P = comm ? comm->size : 1;
    if (P > 1 && !t->local)
        return ffr_fail(err, FFR_ERR_UNSUPPORTED, "%s: no data-parallel training over %d processes yet (doc/scaling.md); run it in one process",
                        t->name, P);
    size_t n = t->n, Bmax = (size_t)o->batch < n ? (size_t)o->batch : n, nbatches = (n + Bmax - 1) / Bmax;
    ffr_net *grad = NULL;
    ffr_train_ckpt ck;
    memset(&ck, 0, sizeof ck);
    split_buf sb;
    memset(&sb, 0, sizeof sb);
    size_t *perm = ffr_malloc(n * sizeof *perm);
    if (P > 1) {
        sb.counts = ffr_malloc(2 * (size_t)P * sizeof(size_t));
        sb.sw = ffr_malloc((size_t)P * sizeof(double));
        if (sb.counts) sb.displs = sb.counts + P;
    }
    if (!perm || (P > 1 && (!sb.counts || !sb.sw))) rc = ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", t->name);
    if ((rc = ffr_comm_agree(comm, rc, err))) goto done;
    if ((rc = ffr_net_clone(&grad, net, err))) goto done;
    if ((rc = ffr_optim_init(&ck.opt, o->optimizer, net->nparams, err))) goto done;
    ffr_rng_seed(&ck.rng, o->seed);
    uint64_t dh = o->checkpoint ? data_hash(t->x, n, t->dim) : 0; /* once per run, only where it is stored */
    int resumed = 0, s0 = 1, e0 = 0;
    /* every rank reads the checkpoint (rank 0 wrote it); the trained bytes do
       not depend on the number of ranks, so a restart may change it */
    rc = resume(t, o, net, &ck, dh, nbatches, &resumed, err);
    if ((rc = ffr_comm_agree(comm, rc, err))) goto done;
    if (resumed) { s0 = t->greedy ? ck.layer : 1; e0 = ck.epoch; }
    ck.method = t->method; ck.fingerprint = t->fp; ck.data_hash = dh;
    ck.n = n; ck.batch = o->batch; ck.seed = o->seed;
    ck.opt.lr = o->lr; ck.opt.momentum = o->momentum; ck.opt.beta1 = o->beta1; ck.opt.beta2 = o->beta2;
    ck.opt.eps = o->adam_eps; ck.opt.weight_decay = o->weight_decay;
    ck.opt.threads = o->threads;

    ffr_train_metrics m;
    if (o->holdout && o->n_holdout) ffr_train_metrics_clear(&m, net, o->n_holdout);
    double t0 = ffr_train_now();
    for (int stage = 1; stage <= t->nstages; stage++) {
        int first = stage == s0 ? e0 : 0, skipped = stage < s0, fresh = !skipped && first == 0;
        if (t->stage_begin) rc = t->stage_begin(t->self, stage, fresh, skipped, err);
        if ((rc = ffr_comm_agree(comm, rc, err))) goto done;
        if (skipped) continue;
        if (t->local && (sb.rowf = t->row_floats(t->self, stage)) * Bmax > sb.cap) {
            float *r = ffr_realloc(sb.rows, sb.rowf * Bmax * sizeof(float));
            if (r) { sb.rows = r; sb.cap = sb.rowf * Bmax; }
            else rc = ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory (%zu x %zu rows)", t->name, Bmax, sb.rowf);
            if ((rc = ffr_comm_agree(comm, rc, err))) goto done;
        }
        if (fresh) ffr_optim_reset(&ck.opt);
        ffr_train_seg seg[FFR_TRAIN_MAX_SEGS];
        int nseg = t->segments(t->self, stage, seg, FFR_TRAIN_MAX_SEGS);
        FFR_ASSERT(nseg >= 0 && nseg <= FFR_TRAIN_MAX_SEGS);
        for (int i = 0; i < nseg; i++) FFR_ASSERT(!seg[i].rowlen || seg[i].len % seg[i].rowlen == 0);
        for (int e = first; e < o->epochs; e++) {
            epoch_acc a = {t0, ffr_train_now(), 0, 0, 0};
            ffr_train_shuffle(perm, n, &ck.rng);
            for (size_t b0 = 0, nb = 0; b0 < n; b0 += Bmax, nb++) {
                int B = (int)(n - b0 < Bmax ? n - b0 : Bmax);
                double l = 0;
                if ((rc = minibatch(t, comm, &sb, stage, perm + b0, B, seg, nseg, grad, &l, &a.sweeps, &ck.rng, err))) goto done;
                a.lsum += l * B; a.done += (size_t)B;
                ffr_optim_tick(&ck.opt);
                for (int i = 0; i < nseg; i++)
                    ffr_optim_step(&ck.opt, net->params, grad->params, seg[i].off, seg[i].len, seg[i].decay);
                if (!isfinite(l)) {
                    char what[96];
                    what_name(what, sizeof what, t, stage, e + 1);
                    rc = ffr_fail(err, FFR_ERR_DIVERGED, "%s: loss is not finite (lower --lr)", what);
                    goto done;
                }
                if (o->progress && o->progress_every > 0 && (nb + 1) % (size_t)o->progress_every == 0 && b0 + B < n) {
                    int stop;
                    if ((rc = report_all(t, o, comm, stage, e + 1, &a, ffr_train_now() - a.te, 0, NULL, &stop, err)))
                        goto done;
                    if (stop) {
                        if (stopped) *stopped = 1;
                        goto done;
                    }
                }
            }
            int stop = 0;
            if ((rc = epoch_end(t, net, o, comm, &ck, stage, e + 1, &a, &m, &stop, err))) goto done;
            if (stop) { if (stopped) *stopped = 1; goto done; }
        }
    }
done:
    ffr_train_ckpt_free(&ck);
    ffr_net_free(grad);
    free(perm);
    free(sb.rows); free(sb.counts); free(sb.sw);
    return rc;
}
