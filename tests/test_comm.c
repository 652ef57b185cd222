/* test_comm.c - what data-parallel training (src/comm.h, doc/scaling.md)
 * rests on, without MPI:
 *   - shards are whole blocks of FFR_TRAIN_ROW_BLOCK examples, contiguous,
 *     covering the minibatch;
 *   - ffr_train_comm over 2 and 3 ranks (forked processes with a
 *     shared-memory communicator) trains the bytes of one process (sae and
 *     dendritic, tied and untied, minibatches of several blocks with a short
 *     last one);
 *   - rbm (CD-k and persistent chains) and ep (ffr_train_ep_comm: the
 *     feedforward, zero and persistent starts, centered and random signs,
 *     hopfield and Eq. 23 feedback) the same;
 *   - ffr_ep_evaluate_comm over 2 and 3 ranks gives the result of
 *     ffr_ep_evaluate (1 and 3 chunks);
 *   - ffr_relax_comm over 2 and 3 ranks gives the states and trace of
 *     ffr_relax (1 and 3 chunks, with a tolerance, noise, a random start);
 *   - a failure on any one rank reaches every rank with its message;
 *   - the naive reference gemm is row-independent (a block of rows alone has
 *     the bits of the same rows of the whole product); the gemm in use is only
 *     reported: OpenBLAS is not, which is why the loop shards whole blocks. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ffrelax.h"
#include "train_loop.h"
#include "comm.h"
#include "minitest.h"

static int rowdep; /* shapes where the gemm in use is not row-independent */
static int reduce_rows; /* the ranks' ffr_comm.reduce_rows */

static void fill(float *a, size_t n, ffr_rng *r) {
    for (size_t i = 0; i < n; i++) a[i] = (float)(ffr_rng_uniform(r) * 2 - 1);
}

/* rows [r0, r1) of C = X op(W) alone == the same rows of the whole product:
 * asserted for the naive reference; for the gemm in use only reported (OpenBLAS
 * is not row-independent, which is why train_loop.h shards whole blocks) */
static void test_rowwise(int ref, int tB, int M, int N, int K, int nt) {
    ffr_rng r;
    ffr_rng_seed(&r, (uint64_t)(M * 131 + N * 7 + K));
    int lda = K + 3, ldc = N + 5; /* strided rows, as the gathered rows are */
    float *X = malloc(sizeof(float) * (size_t)M * lda), *W = malloc(sizeof(float) * (size_t)N * K);
    float *C = calloc((size_t)M * ldc, sizeof(float)), *D = calloc((size_t)M * ldc, sizeof(float));
    fill(X, (size_t)M * lda, &r); fill(W, (size_t)N * K, &r);
    int ldb = tB ? K : N;
#define GEMM(m, a, c) (ref ? ffr_gemm_ref(0, tB, m, N, K, 1.f, a, lda, W, ldb, 0.f, c, ldc) \
                           : ffr_train_gemm(nt, 0, tB, m, N, K, 1.f, a, lda, W, ldb, 0.f, c, ldc))
    GEMM(M, X, C);
    int cuts[] = {0, 1, M / 3, M / 2, M - 1, M};
    for (int i = 0; i + 1 < 6; i++) {
        int r0 = cuts[i], r1 = cuts[i + 1];
        if (r1 > r0) GEMM(r1 - r0, X + (size_t)r0 * lda, D + (size_t)r0 * ldc);
    }
#undef GEMM
    size_t bad = 0, nz = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            bad += memcmp(&C[(size_t)i * ldc + j], &D[(size_t)i * ldc + j], sizeof(float)) != 0;
            nz += C[(size_t)i * ldc + j] != 0;
        }
    if (ref) CHECKF(bad == 0 && nz > 0, "%s tB=%d M=%d N=%d K=%d nt=%d: %zu of %d elements differ (%zu nonzero)",
           ref ? "reference" : "gemm", tB, M, N, K, nt, bad, M * N, nz);
    else if (bad) rowdep++;
    free(X); free(W); free(C); free(D);
}

static void test_shards(void) {
    for (size_t n = 0; n < 140; n += 13)
        for (size_t blk = 1; blk <= 32; blk *= 4)
            for (int P = 1; P <= 5; P++) {
                size_t next = 0;
                for (int p = 0; p < P; p++) {
                    size_t a, b;
                    ffr_comm_shard(n, blk, p, P, &a, &b);
                    CHECK(a == next && b >= a && (a % blk == 0 || a == n) && (b % blk == 0 || b == n));
                    next = b;
                }
                CHECK(next == n);
            }
}

/* ------------------------------------------------ ranks as processes */
/* Each rank a forked process (own address space, as under MPI: in-process
 * threads would share OpenBLAS's and the thread pool's state); the
 * collectives go through a shared mapping and a process-shared barrier. */
typedef struct {
    int P;
    pthread_barrier_t bar;
    size_t slot;        /* bytes of each rank's slot in buf */
    char buf[];         /* P slots */
} hub;
typedef struct { hub *h; int rank; } rank_ctx;

static int t_allgather(void *ctx, const void *send, size_t bytes, void *recv) {
    rank_ctx *c = ctx;
    hub *h = c->h;
    if (bytes > h->slot) return -1;
    memcpy(h->buf + c->rank * h->slot, send, bytes);
    pthread_barrier_wait(&h->bar);
    for (int p = 0; p < h->P; p++) memcpy((char *)recv + p * bytes, h->buf + p * h->slot, bytes);
    pthread_barrier_wait(&h->bar);
    return 0;
}
static int t_allgatherv(void *ctx, const void *send, void *recv, const size_t *counts, const size_t *displs) {
    rank_ctx *c = ctx;
    hub *h = c->h;
    if (counts[c->rank] > h->slot) return -1;
    if (counts[c->rank]) memcpy(h->buf + c->rank * h->slot, send, counts[c->rank]); /* send may be NULL when empty */
    pthread_barrier_wait(&h->bar);
    for (int p = 0; p < h->P; p++)
        if (counts[p]) memcpy((char *)recv + displs[p], h->buf + p * h->slot, counts[p]);
    pthread_barrier_wait(&h->bar);
    return 0;
}
static int t_bcast(void *ctx, void *b, size_t bytes, int root) {
    rank_ctx *c = ctx;
    hub *h = c->h;
    if (bytes > h->slot) return -1;
    if (c->rank == root) memcpy(h->buf, b, bytes);
    pthread_barrier_wait(&h->bar);
    if (c->rank != root) memcpy(b, h->buf, bytes);
    pthread_barrier_wait(&h->bar);
    return 0;
}
static int t_allmin(void *ctx, int *v) {
    int all[16];
    if (t_allgather(ctx, v, sizeof *v, all)) return -1;
    for (int p = 0; p < ((rank_ctx *)ctx)->h->P; p++) *v = all[p] < *v ? all[p] : *v;
    return 0;
}

/* What a rank does: fn(comm, arg, out) with out its own result area (outsz bytes). */
typedef void (*rank_fn)(const ffr_comm *comm, void *arg, char *out);

/* Run fn on P forked ranks; out: P result areas of outsz bytes (shared). 0: all exited 0. */
static int run_ranks(int P, size_t slot, rank_fn fn, void *arg, char **out, size_t outsz) {
    size_t hsz = sizeof(hub) + (size_t)P * slot + (size_t)P * outsz;
    hub *h = mmap(NULL, hsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (h == MAP_FAILED) return -1;
    h->P = P; h->slot = slot;
    pthread_barrierattr_t at;
    pthread_barrierattr_init(&at);
    pthread_barrierattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&h->bar, &at, (unsigned)P);
    char *res = h->buf + (size_t)P * slot;
    pid_t pid[16];
    fflush(NULL);
    for (int p = 0; p < P; p++) {
        if ((pid[p] = fork()) == 0) {
            alarm(120); /* a rank that dies leaves the others at the barrier: never hang the test */
            rank_ctx c = {h, p};
            ffr_comm comm = {p, P, &c, t_allgather, t_allgatherv, t_bcast, t_allmin, reduce_rows};
            fn(&comm, arg, res + (size_t)p * outsz);
            _exit(0);
        }
    }
    int bad = 0;
    for (int p = 0; p < P; p++) {
        int st = 0;
        bad |= pid[p] < 0 || waitpid(pid[p], &st, 0) != pid[p] || !WIFEXITED(st) || WEXITSTATUS(st);
    }
    *out = malloc((size_t)P * outsz);
    memcpy(*out, res, (size_t)P * outsz);
    pthread_barrier_destroy(&h->bar);
    munmap(h, hsz);
    return bad;
}

static float *synth(size_t n, int d) {
    ffr_rng r;
    ffr_rng_seed(&r, 11);
    float *x = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < n * (size_t)d; i++) x[i] = (float)ffr_rng_uniform(&r);
    return x;
}

/* ep: labels y, EP options e (ffr_train_ep_comm); rule: the network's */
typedef struct {
    ffr_train_method m; int tied, batch, noisy; ffr_rule rule; const float *x; size_t n; ffr_train_opts o;
    const unsigned char *y; ffr_ep_opts e; const int *sizes;
} train_arg;
static const int tsizes[] = {37, 23, 11};
static const int wsizes[] = {300, 140, 11}; /* several blocks of 128 output rows in the SAE's gradient products */

static ffr_net *train_net(const train_arg *a) {
    ffr_err err;
    ffr_net *net = NULL;
    ffr_net_create(&net, 2, a->sizes, a->rule, FFR_RHO_HARDSIGMOID, a->tied, &err);
    ffr_net_init_glorot(net, 5, 1.f);
    return net;
}

static ffr_status train_any(const train_arg *a, ffr_net *net, const ffr_comm *comm, ffr_err *err) {
    if (a->m == FFR_TRAIN_EP) return ffr_train_ep_comm(net, a->x, a->y, a->n, &a->e, &a->o, comm, NULL, err);
    return ffr_train_comm(a->m, net, a->x, a->n, &a->o, comm, NULL, err);
}

/* a rank's result: its status, message, then the parameters */
typedef struct { ffr_status st; ffr_err err; float params[]; } train_out;

static void train_rank(const ffr_comm *comm, void *arg, char *out) {
    train_arg *a = arg;
    train_out *r = (train_out *)out;
    ffr_net *net = train_net(a);
    r->st = train_any(a, net, comm, &r->err);
    memcpy(r->params, net->params, net->nparams * sizeof(float));
    ffr_net_free(net);
}

/* ffr_train_comm (ffr_train_ep_comm) over P ranks == one process, bit for bit.
 * noisy: sae: 300-140-11 (the row-partitioned reduction over several blocks
 * of rows); dendritic: a random start and noise; rbm: persistent chains (CD-2);
 * ep: 1 the zero start, 2 the persistent start, 3 random signs (positive otherwise centered) */
static void test_train_ranks(ffr_train_method m, int tied, int batch, int noisy) {
    train_arg a;
    memset(&a, 0, sizeof a);
    a.m = m; a.tied = tied; a.batch = batch; a.n = 211;
    a.rule = m == FFR_TRAIN_RBM ? FFR_RULE_BOLTZMANN : m == FFR_TRAIN_EP && tied ? FFR_RULE_HOPFIELD : FFR_RULE_DENDRITIC;
    a.sizes = (m == FFR_TRAIN_SAE && noisy) || (m == FFR_TRAIN_RBM && reduce_rows) ? wsizes : tsizes;
    float *x = synth(a.n, a.sizes[0]);
    unsigned char *y = malloc(a.n);
    for (size_t i = 0; i < a.n; i++) y[i] = (unsigned char)((i * 7 + (x[i * a.sizes[0]] > 0.5f)) % a.sizes[2]);
    a.x = x; a.y = y;
    if (m == FFR_TRAIN_EP) {
        ffr_ep_opts_default(&a.e, &a.o);
        a.e.relax.max_sweeps = 30;
        a.e.start = noisy == 1 ? FFR_EP_START_ZERO : noisy == 2 ? FFR_EP_START_PERSISTENT : FFR_EP_START_FF;
        if (noisy == 3) a.e.nudge = FFR_NUDGE_RANDOM_SIGN;
        a.e.beta = 0.1;
        a.o.epochs = 3;
    } else {
        ffr_train_opts_default(&a.o, m);
        a.o.epochs = 2;
    }
    a.o.batch = batch; a.o.threads = 1; a.o.seed = 9;
    a.o.relax.max_sweeps = 20; a.o.relax.tol = 1e-4;
    if (noisy && m == FFR_TRAIN_DENDRITIC) { a.o.relax.init = FFR_INIT_RANDOM; a.o.relax.temperature = 1e-3; a.o.relax.seed = 17; }
    if (noisy && m == FFR_TRAIN_RBM) { a.o.persistent = 1; a.o.cd_k = 2; }
    ffr_err err;
    ffr_net *one = train_net(&a);
    ffr_status s1 = train_any(&a, one, NULL, &err);
    CHECKF(s1 == FFR_OK, "%s", err.msg);
    ffr_net *init = train_net(&a); /* training moved the parameters: the comparison is not vacuous */
    CHECKF(memcmp(init->params, one->params, one->nparams * sizeof(float)), "%s: training left the network unchanged",
           ffr_train_method_name(m));
    ffr_net_free(init);
    size_t outsz = sizeof(train_out) + one->nparams * sizeof(float);
    for (int P = 2; P <= 3; P++) {
        char *out = NULL;
        size_t slot = ((size_t)batch * 1000 > 45000 ? (size_t)batch * 1000 : 45000) * sizeof(float) + sizeof(ffr_err);
        int bad = run_ranks(P, (slot + 63) / 64 * 64, train_rank, &a, &out, outsz);
        CHECK(bad == 0);
        for (int p = 0; p < P && out; p++) {
            train_out *r = (train_out *)(out + (size_t)p * outsz);
            CHECKF(r->st == FFR_OK, "%s", r->err.msg);
            CHECKF(!memcmp(r->params, one->params, one->nparams * sizeof(float)),
                   "%s tied=%d batch=%d noisy=%d over %d ranks: rank %d differs from one process",
                   ffr_train_method_name(m), tied, batch, noisy, P, p);
        }
        free(out);
    }
    ffr_net_free(one);
    free(x); free(y);
}

/* ffr_ep_evaluate_comm over P ranks == ffr_ep_evaluate (bar the seconds) */
typedef struct { const ffr_net *net; const float *x; const unsigned char *y; size_t n; ffr_relax_opts o; } eval_arg;
typedef struct { ffr_status st; ffr_err err; ffr_ep_eval r; } eval_out;
static void eval_rank(const ffr_comm *comm, void *arg, char *out) {
    eval_arg *a = arg;
    eval_out *r = (eval_out *)out;
    r->st = ffr_ep_evaluate_comm(a->net, a->x, a->y, a->n, &a->o, &r->r, comm, &r->err);
    r->r.seconds = 0;
}

static void test_eval_ranks(size_t n, int zero) {
    ffr_err err;
    ffr_net *net = NULL;
    ffr_net_create(&net, 2, tsizes, FFR_RULE_HOPFIELD, FFR_RHO_HARDSIGMOID, 1, &err);
    ffr_net_init_glorot(net, 6, 1.f);
    float *x = synth(n, tsizes[0]);
    unsigned char *y = malloc(n);
    for (size_t i = 0; i < n; i++) y[i] = (unsigned char)(i % tsizes[2]);
    eval_arg a = {net, x, y, n, {0}};
    ffr_relax_opts_default(&a.o);
    a.o.tol = 1e-3; a.o.tol_mode = FFR_TOL_REL; a.o.max_sweeps = 40; a.o.measure_every = -1; a.o.threads = 1;
    if (zero) a.o.init = FFR_INIT_ZERO;
    ffr_ep_eval one;
    CHECKF(ffr_ep_evaluate(net, x, y, n, &a.o, &one, &err) == FFR_OK, "%s", err.msg);
    one.seconds = 0;
    CHECKF(one.sweeps_mean > 1 && one.sweeps_max > one.sweeps_mean, "eval: sweeps mean %g max %g (a vacuous comparison)",
           one.sweeps_mean, one.sweeps_max);
    for (int P = 2; P <= 3; P++) {
        char *out = NULL;
        CHECK(run_ranks(P, (n * 5 * sizeof(float) + sizeof(ffr_err) + 63) / 64 * 64, eval_rank, &a, &out, sizeof(eval_out)) == 0);
        for (int p = 0; p < P && out; p++) {
            eval_out *r = (eval_out *)(out + p * sizeof(eval_out));
            CHECKF(r->st == FFR_OK, "rank %d: %s", p, r->err.msg);
            CHECKF(!memcmp(&r->r, &one, sizeof one), "eval n=%zu zero=%d over %d ranks: rank %d differs from one process",
                   n, zero, P, p);
        }
        free(out);
    }
    ffr_net_free(net);
    free(x); free(y);
}

/* a failure on one rank reaches every rank with its message */
typedef struct { ffr_status st; ffr_err err; } agree_out;
static void agree_rank(const ffr_comm *comm, void *arg, char *out) {
    int bad = *(int *)arg;
    agree_out *r = (agree_out *)out;
    ffr_status s = comm->rank == bad ? ffr_fail(&r->err, FFR_ERR_FORMAT, "shard of rank %d: truncated", bad) : FFR_OK;
    r->st = ffr_comm_agree(comm, s, &r->err);
}

static void test_agree(void) {
    for (int bad = -1; bad < 3; bad++) {
        char *out = NULL;
        CHECK(run_ranks(3, sizeof(ffr_err), agree_rank, &bad, &out, sizeof(agree_out)) == 0);
        char want[64];
        snprintf(want, sizeof want, "rank %d: shard of rank %d: truncated", bad, bad);
        for (int p = 0; p < 3 && out; p++) {
            agree_out *r = (agree_out *)(out + p * sizeof(agree_out));
            if (bad < 0) CHECKF(r->st == FFR_OK, "rank %d: %d", p, (int)r->st);
            else CHECKF(r->st == FFR_ERR_FORMAT && !strcmp(r->err.msg, want), "rank %d: %d '%s'", p, (int)r->st, r->err.msg);
        }
        free(out);
    }
}

/* ffr_relax_comm over P ranks == ffr_relax in one process: states and trace, bit for bit
 * (the CLI's files: tests/cli_mpi.sh) */
typedef struct { const ffr_net *net; const float *x; int B; ffr_relax_opts o; } relax_arg;

static uint64_t relax_hash(const ffr_net *net, const ffr_state *st, const ffr_trace *tr) {
    uint64_t h = FFR_TRAIN_FNV0;
    for (int k = 0; k <= net->L; k++) h = ffr_train_fnv(h, st->s[k], (size_t)st->B * net->n[k] * sizeof(float));
    size_t R = (size_t)tr->T + 1, Lp = (size_t)tr->L + 1, B = (size_t)tr->B;
    const double *rd[] = {tr->step_mean, tr->step_median, tr->step_max, tr->rstep_mean, tr->relstep_median,
                          tr->frac_converged, tr->energy_mean, tr->residual_mean};
    for (size_t i = 0; i < sizeof rd / sizeof *rd; i++) h = ffr_train_fnv(h, rd[i], R * sizeof(double));
    h = ffr_train_fnv(h, tr->n_active, R * sizeof(int));
    h = ffr_train_fnv(h, tr->measured, R * sizeof(int));
    h = ffr_train_fnv(h, tr->disagree, R * Lp * sizeof(double));
    h = ffr_train_fnv(h, tr->mpe_up, R * Lp * sizeof(double));
    h = ffr_train_fnv(h, tr->step, R * B * sizeof(float));
    h = ffr_train_fnv(h, tr->sweeps, B * sizeof(int));
    h = ffr_train_fnv(h, tr->rate, B * sizeof(float));
    h = ffr_train_fnv(h, &tr->rate_median, sizeof tr->rate_median);
    return ffr_train_fnv(h, &tr->total_updates, sizeof tr->total_updates);
}

typedef struct { ffr_status st; ffr_err err; uint64_t hash; } relax_out;
static void relax_rank(const ffr_comm *comm, void *arg, char *out) {
    relax_arg *a = arg;
    relax_out *r = (relax_out *)out;
    ffr_state *st = NULL;
    ffr_trace *tr = NULL;
    r->st = ffr_state_create(&st, a->net, a->B, &r->err);
    if (!r->st) r->st = ffr_relax_comm(a->net, a->x, a->B, &a->o, st, &tr, comm, &r->err);
    if (!r->st && comm->rank == 0) r->hash = relax_hash(a->net, st, tr);
    ffr_trace_free(tr);
    ffr_state_free(st);
}

static void test_relax_ranks(int B, int noisy) {
    int sizes[] = {37, 23, 11};
    ffr_err err;
    ffr_net *net = NULL;
    ffr_net_create(&net, 2, sizes, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, &err);
    ffr_net_init_glorot(net, 8, 1.f);
    float *x = synth((size_t)B, sizes[0]);
    relax_arg a = {net, x, B, {0}};
    ffr_relax_opts_default(&a.o);
    a.o.max_sweeps = 30; a.o.tol = 1e-4; a.o.measure_every = 2; a.o.threads = 1;
    if (noisy) { a.o.init = FFR_INIT_RANDOM; a.o.temperature = 1e-3; a.o.seed = 3; }
    ffr_state *st = NULL;
    ffr_trace *tr = NULL;
    ffr_state_create(&st, net, B, &err);
    ffr_status s1 = ffr_relax(net, x, B, &a.o, st, &tr, &err);
    CHECKF(s1 == FFR_OK, "%s", err.msg);
    uint64_t want = s1 ? 0 : relax_hash(net, st, tr);
    for (int P = 2; P <= 3; P++) {
        char *out = NULL;
        CHECK(run_ranks(P, (size_t)B * 4000 + 65536, relax_rank, &a, &out, sizeof(relax_out)) == 0);
        for (int p = 0; p < P && out; p++) {
            relax_out *r = (relax_out *)(out + p * sizeof(relax_out));
            CHECKF(r->st == FFR_OK, "rank %d: %s", p, r->err.msg);
        }
        if (out) CHECKF(((relax_out *)out)->hash == want, "relax B=%d noisy=%d over %d ranks differs from one process", B, noisy, P);
        free(out);
    }
    ffr_trace_free(tr);
    ffr_state_free(st);
    ffr_net_free(net);
    free(x);
}

int main(void) {
    int shapes[][3] = {{32, 50, 784}, {37, 13, 29}, {100, 784, 50}, {7, 200, 1}, {64, 1000, 784}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int tB = 0; tB <= 1; tB++) {
            test_rowwise(1, tB, shapes[s][0], shapes[s][1], shapes[s][2], 1);
            test_rowwise(0, tB, shapes[s][0], shapes[s][1], shapes[s][2], 1);
            test_rowwise(0, tB, shapes[s][0], shapes[s][1], shapes[s][2], 2);
        }
    test_shards();
    test_agree();
    test_train_ranks(FFR_TRAIN_SAE, 0, 100, 0);
    test_train_ranks(FFR_TRAIN_SAE, 1, 70, 0);
    for (reduce_rows = 0; reduce_rows <= 1; reduce_rows++) { /* the whole gradient on every rank, or by output rows */
        test_train_ranks(FFR_TRAIN_SAE, 0, 100, 1);
        test_train_ranks(FFR_TRAIN_SAE, 1, 70, 1);
        test_train_ranks(FFR_TRAIN_RBM, 1, 70, 0);
    }
    reduce_rows = 1;
    test_train_ranks(FFR_TRAIN_DENDRITIC, 0, 100, 0);
    test_train_ranks(FFR_TRAIN_DENDRITIC, 1, 45, 0);
    test_train_ranks(FFR_TRAIN_DENDRITIC, 0, 100, 1); /* random start and noise, seeded per example */
    test_train_ranks(FFR_TRAIN_RBM, 1, 70, 0);  /* CD-1 */
    test_train_ranks(FFR_TRAIN_RBM, 1, 100, 1); /* persistent chains, CD-2 */
    test_train_ranks(FFR_TRAIN_EP, 1, 70, 0);   /* hopfield, feedforward start, centered */
    test_train_ranks(FFR_TRAIN_EP, 1, 45, 1);   /* zero start */
    test_train_ranks(FFR_TRAIN_EP, 0, 100, 2);  /* dendritic (Eq. 23 feedback), persistent start */
    test_train_ranks(FFR_TRAIN_EP, 1, 64, 3);   /* random signs */
    test_eval_ranks(200, 0); /* one chunk */
    test_eval_ranks(600, 1); /* three chunks */
    test_relax_ranks(200, 0); /* one chunk */
    test_relax_ranks(700, 0); /* three chunks, the last one ragged */
    test_relax_ranks(600, 1);
    printf("test_comm: the gemm in use (%s) is row-independent on %d of 20 products (10 shapes x 2 thread counts)\n",
           ffr_blas_info(), 20 - rowdep);
    MT_DONE("test_comm");
}
