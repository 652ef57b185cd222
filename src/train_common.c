/* train_common.c - what the trainers share besides the loop (train_loop.c): option defaults and names,
 * the held-out measurements (reconstruction error per layer pair, branch
 * disagreement, optionally relaxation speed), and the checkpoint file.
 * The trainers themselves live in train_sae.c, train_rbm.c and
 * train_dendritic.c; doc/training.md states the maths. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "comm.h"
#include "train_internal.h"

static const char *method_names[] = {"sae", "rbm", "dendritic", "ep"};
static const char *target_names[] = {"voltage", "rate"};

const char *ffr_train_method_name(ffr_train_method m) { return (unsigned)m < 4 ? method_names[m] : "?"; }
const char *ffr_target_name(ffr_target t) { return (unsigned)t < 2 ? target_names[t] : "?"; }

int ffr_train_method_parse(const char *s, ffr_train_method *m) {
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, method_names[i])) { *m = (ffr_train_method)i; return 0; }
    return -1;
}

int ffr_target_parse(const char *s, ffr_target *t) {
    for (int i = 0; i < 2; i++)
        if (s && !strcmp(s, target_names[i])) { *t = (ffr_target)i; return 0; }
    return -1;
}

void ffr_train_opts_default(ffr_train_opts *o, ffr_train_method m) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->epochs = 30;
    o->batch = 100;
    o->lr = 1e-3;
    o->optimizer = FFR_OPT_ADAM;
    o->momentum = 0.9;
    o->beta1 = 0.9; o->beta2 = 0.999; o->adam_eps = 1e-8;
    o->target = FFR_TARGET_VOLTAGE;
    o->seed = 1;
    o->cd_k = 1;
    ffr_relax_opts_default(&o->relax);
    o->relax.init = FFR_INIT_FF;
    o->relax.tol = 1e-5;
    o->relax.tol_mode = FFR_TOL_REL;
    o->relax.max_sweeps = 50;
    o->holdout_relax = m == FFR_TRAIN_DENDRITIC;
    if (m == FFR_TRAIN_DENDRITIC) {
        /* the measured recipe of doc/training.md (Eq. 23 fine-tuning of an
           auto-encoder stack): both branches, plain SGD with momentum, and a
           loose inner relaxation (the fixed point to 1e-3 is enough to learn from) */
        o->epochs = 10;
        o->optimizer = FFR_OPT_SGD;
        o->lr = 0.02;
        o->basal = 1;
        o->relax.tol = 1e-3;
    }
}

/* ------------------------------------------------------------- metrics */
/* The rule's map of a total input (F_k, Eq. 16/7/8) and the rate a unit passes
 * on: rule.h, shared with the relaxation. */
static inline float out_map(const ffr_net *net, float u) { return ffr_rule_F(net->rule, net->rho, u); }
static inline float rate_of(const ffr_net *net, float s) { return ffr_rule_rate(net->rule, net->rho, s); }

void ffr_train_gemm(int nt, int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc) {
    if (nt > 0 && M > 0 && N > 0 && K > 0 && ffr_gemm_uses_fast() &&
        ffr_gemm_fast(nt, tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == 0)
        return;
    ffr_gemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static ffr_status relax_metrics(const ffr_net *net, const float *x, size_t n, int nt, const ffr_comm *comm,
                                ffr_train_metrics *m, ffr_err *err) {
    ffr_state *st = NULL;
    ffr_trace *tr = NULL;
    double *tmp = ffr_malloc(n * sizeof(double));
    ffr_status rc = tmp ? ffr_state_create(&st, net, (int)n, err) : ffr_fail(err, FFR_ERR_NOMEM, "out of memory");
    if (rc) { free(tmp); return rc; }
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    o.init = FFR_INIT_FF; o.tol_mode = FFR_TOL_REL; o.tol = 1e-3; o.max_sweeps = 200;
    o.diverge_factor = 0;
    o.threads = nt;
    rc = ffr_relax_comm(net, x, (int)n, &o, st, &tr, comm, err); /* one process: ffr_relax */
    if (!rc) {
        double s = 0, c = 0;
        for (size_t b = 0; b < n; b++) { tmp[b] = tr->sweeps[b]; s += tmp[b]; c += tr->converged[b]; }
        m->sweeps_mean = s / n;
        m->frac_converged = c / n;
        m->sweeps_median = ffr_median(tmp, n);
        ffr_trace_free(tr); tr = NULL;
        o.tol = 1e-6; o.max_sweeps = 500;
        rc = ffr_relax_comm(net, x, (int)n, &o, st, &tr, comm, err);
    }
    if (!rc) {
        for (size_t b = 0; b < n; b++) tmp[b] = tr->norm[b] > 0 ? tr->dist[b] / tr->norm[b] : 0;
        m->dist_rel_median = ffr_median(tmp, n);
        m->relaxed = 1;
    }
    ffr_trace_free(tr);
    ffr_state_free(st);
    free(tmp);
    return rc;
}

void ffr_train_metrics_clear(ffr_train_metrics *m, const ffr_net *net, size_t n) {
    memset(m, 0, sizeof *m);
    m->L = net->L; m->n = n;
    for (int k = 0; k < FFR_MAX_LAYERS; k++) {
        m->recon_abs[k] = m->recon_rel[k] = m->recon_rel_ex[k] = m->recon_rel_rate[k] = NAN;
        m->disagree[k] = NAN;
    }
    m->sweeps_median = m->sweeps_mean = m->frac_converged = m->dist_rel_median = NAN;
}

ffr_status ffr_train_metrics_pairs(const ffr_net *net, const float *x, size_t n, int k0, int k1,
                                   const float *F0, float *Fout, int nt, ffr_train_metrics *m, ffr_err *err) {
    FFR_ASSERT(k0 >= 1 && k0 <= k1 && k1 <= net->L && (k0 == 1 || F0));
    if (!n) return FFR_OK;
    const size_t CH = 500;
    size_t tot = 0;
    for (int k = k0 - 1; k <= k1; k++) tot += (size_t)net->n[k];
    /* per chunk: S (state), R (rates), F (raw f_k), G (raw g into layer k) */
    float *buf = ffr_calloc(4 * CH, tot * sizeof(float));
    if (!buf) return ffr_fail(err, FFR_ERR_NOMEM, "metrics: out of memory");
    float *S[FFR_MAX_LAYERS], *R[FFR_MAX_LAYERS], *F[FFR_MAX_LAYERS], *G[FFR_MAX_LAYERS];
    float *p = buf;
    for (int k = k0 - 1; k <= k1; k++) {
        size_t sz = CH * net->n[k];
        S[k] = p; p += sz; R[k] = p; p += sz; F[k] = p; p += sz; G[k] = p; p += sz;
    }
    double e2[FFR_MAX_LAYERS] = {0}, h2[FFR_MAX_LAYERS] = {0}, er2[FFR_MAX_LAYERS] = {0},
           r2[FFR_MAX_LAYERS] = {0}, rex[FFR_MAX_LAYERS] = {0}, dis[FFR_MAX_LAYERS] = {0};
    for (size_t b0 = 0; b0 < n; b0 += CH) {
        int M = (int)(n - b0 < CH ? n - b0 : CH);
        int n0 = net->n[k0 - 1];
        if (k0 == 1) memcpy(S[0], x + b0 * n0, (size_t)M * n0 * sizeof(float));
        else {
            memcpy(F[k0 - 1], F0 + b0 * n0, (size_t)M * n0 * sizeof(float));
            for (size_t i = 0; i < (size_t)M * n0; i++) S[k0 - 1][i] = out_map(net, F[k0 - 1][i]);
        }
        for (int k = k0 - 1; k <= k1; k++) {
            int nk = net->n[k];
            if (k >= k0) { /* F_k = b_k + R_{k-1} W_k^T, S_k = rule map */
                int lo = net->n[k - 1];
                ffr_train_gemm(nt, 0, 1, M, nk, lo, 1.f, R[k - 1], lo, net->W[k], lo, 0.f, F[k], nk);
                for (int r = 0; r < M; r++)
                    for (int j = 0; j < nk; j++) {
                        size_t i = (size_t)r * nk + j;
                        F[k][i] += net->b[k][j];
                        S[k][i] = out_map(net, F[k][i]);
                    }
            }
            for (size_t i = 0; i < (size_t)M * nk; i++) R[k][i] = rate_of(net, S[k][i]);
        }
        if (Fout) memcpy(Fout + b0 * net->n[k1], F[k1], (size_t)M * net->n[k1] * sizeof(float));
        for (int k = k0; k <= k1; k++) { /* G_{k-1} = c_{k-1} + R_k V_k^T */
            int lo = net->n[k - 1], hi = net->n[k];
            if (net->tied) ffr_train_gemm(nt, 0, 0, M, lo, hi, 1.f, R[k], hi, net->W[k], lo, 0.f, G[k - 1], lo);
            else ffr_train_gemm(nt, 0, 1, M, lo, hi, 1.f, R[k], hi, net->V[k], hi, 0.f, G[k - 1], lo);
            for (int r = 0; r < M; r++) {
                double ee = 0, hh = 0, eer = 0, rr = 0, dd = 0;
                for (int j = 0; j < lo; j++) {
                    size_t i = (size_t)r * lo + j;
                    float g = G[k - 1][i] + net->c[k - 1][j];
                    G[k - 1][i] = g;
                    float y = out_map(net, g), h = S[k - 1][i], hr = R[k - 1][i];
                    ee += (double)(h - y) * (h - y);
                    hh += (double)h * h;
                    eer += (double)(hr - y) * (hr - y);
                    rr += (double)hr * hr;
                    if (k - 1 >= 1) dd += (double)(F[k - 1][i] - g) * (F[k - 1][i] - g);
                }
                e2[k] += ee; h2[k] += hh; er2[k] += eer; r2[k] += rr;
                rex[k] += hh > 0 ? sqrt(ee / hh) : 0;
                if (k - 1 >= 1) dis[k - 1] += sqrt(dd);
            }
        }
    }
    for (int k = k0; k <= k1; k++) {
        m->recon_abs[k] = e2[k] / ((double)n * net->n[k - 1]);
        m->recon_rel[k] = h2[k] > 0 ? sqrt(e2[k] / h2[k]) : NAN;
        m->recon_rel_ex[k] = rex[k] / n;
        m->recon_rel_rate[k] = r2[k] > 0 ? sqrt(er2[k] / r2[k]) : NAN;
        if (k - 1 >= 1) m->disagree[k - 1] = dis[k - 1] / n;
    }
    free(buf);
    return FFR_OK;
}

ffr_status ffr_train_metrics_comm(const ffr_net *net, const float *x, size_t n, int relax, int nt,
                                  const ffr_comm *comm, ffr_train_metrics *m, ffr_err *err) {
    ffr_train_metrics_clear(m, net, n);
    if (!n) return FFR_OK;
    ffr_status rc = ffr_train_metrics_pairs(net, x, n, 1, net->L, NULL, NULL, nt, m, err);
    if (!rc && relax && n <= (size_t)1 << 20) return relax_metrics(net, x, n, nt, comm, m, err);
    return rc;
}

ffr_status ffr_train_metrics_nt(const ffr_net *net, const float *x, size_t n, int relax, int nt,
                                ffr_train_metrics *m, ffr_err *err) {
    return ffr_train_metrics_comm(net, x, n, relax, nt, NULL, m, err);
}

ffr_status ffr_train_metrics_compute(const ffr_net *net, const float *x, size_t n, int relax,
                                     ffr_train_metrics *m, ffr_err *err) {
    FFR_NEED(x, err);
    FFR_NEED(m, err);
    ffr_status vs = ffr_net_valid(net, __func__, err);
    if (vs) return vs;
    if (n < 1) return ffr_fail(err, FFR_ERR_ARG, "%s: expected at least 1 example, found 0", __func__);
    return ffr_train_metrics_nt(net, x, n, relax, 0, m, err);
}

/* ---------------------------------------------------------- checkpoint */
#define CKP_MAGIC "FFRLXCKP"
#define CKP_VERSION 2u /* 2: data hash, examples, batch, seed after the fingerprint */

typedef struct { unsigned char *p; size_t n, cap; int bad; } wbuf;
static void put(wbuf *w, const void *src, size_t len) {
    if (w->bad) return;
    if (w->n + len > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->n + len) cap *= 2;
        unsigned char *q = ffr_realloc(w->p, cap);
        if (!q) { w->bad = 1; return; }
        w->p = q; w->cap = cap;
    }
    memcpy(w->p + w->n, src, len);
    w->n += len;
}
static void put_u32(wbuf *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(wbuf *w, uint64_t v) { put(w, &v, 8); }
static void put_f64(wbuf *w, double v) { put(w, &v, 8); }

ffr_status ffr_train_ckpt_save(const char *path, const ffr_net *net, const ffr_train_ckpt *c,
                               ffr_err *err) {
    FFR_NEED(path, err);
    FFR_NEED(c, err);
    ffr_status vs = ffr_net_valid(net, __func__, err);
    if (vs) return vs;
    if (!c->opt.m || (c->opt.kind == FFR_OPT_ADAM && !c->opt.v) || (c->nextra && !c->extra))
        return ffr_fail(err, FFR_ERR_ARG, "checkpoint: the optimizer's moments (or the extra state) are NULL");
    if (c->opt.n != net->nparams)
        return ffr_fail(err, FFR_ERR_ARG, "checkpoint: optimizer covers %zu parameters, the network has %zu",
                        c->opt.n, net->nparams);
    ffr_status bad = ffr_train_check_finite(net, path, err);
    if (bad) return bad; /* never overwrite the last good checkpoint with NaN weights */
    wbuf w = {0};
    put(&w, CKP_MAGIC, 8);
    put_u32(&w, CKP_VERSION);
    put_u32(&w, 0x01020304u); /* byte-order tag */
    put_u32(&w, (uint32_t)c->method);
    put_u32(&w, (uint32_t)c->layer);
    put_u32(&w, (uint32_t)c->epoch);
    put_u64(&w, c->fingerprint);
    put_u64(&w, c->data_hash);
    put_u64(&w, c->n);
    put_u32(&w, (uint32_t)c->batch);
    put_u64(&w, c->seed);
    put_u32(&w, (uint32_t)net->L);
    for (int k = 0; k <= net->L; k++) put_u32(&w, (uint32_t)net->n[k]);
    put_u32(&w, (uint32_t)net->rule); put_u32(&w, (uint32_t)net->rho); put_u32(&w, (uint32_t)net->tied);
    for (int k = 0; k <= net->L; k++) { put(&w, &net->alpha_up[k], 4); put(&w, &net->alpha_down[k], 4); }
    put_u64(&w, net->nparams);
    for (int i = 0; i < 4; i++) put_u64(&w, c->rng.s[i]);
    put_u32(&w, (uint32_t)c->opt.kind);
    put_u64(&w, c->opt.t);
    put_f64(&w, c->opt.lr); put_f64(&w, c->opt.momentum); put_f64(&w, c->opt.beta1);
    put_f64(&w, c->opt.beta2); put_f64(&w, c->opt.eps); put_f64(&w, c->opt.weight_decay);
    put_u64(&w, c->nextra);
    put(&w, net->params, net->nparams * sizeof(float));
    put(&w, c->opt.m, net->nparams * sizeof(float));
    if (c->opt.kind == FFR_OPT_ADAM) put(&w, c->opt.v, net->nparams * sizeof(float));
    if (c->nextra) put(&w, c->extra, c->nextra * sizeof(float));
    put_u32(&w, ffr_crc32(0, w.p, w.n)); /* the zlib polynomial: same values as crc32() */
    if (w.bad) { free(w.p); return ffr_fail(err, FFR_ERR_NOMEM, "checkpoint: out of memory"); }
    ffr_afile a;
    ffr_status rc = ffr_atomic_open(&a, path, err);
    if (!rc) rc = ffr_write(&a, w.p, w.n, err);
    if (!rc) rc = ffr_atomic_commit(&a, err);
    else ffr_atomic_abort(&a);
    free(w.p);
    return rc;
}

typedef struct { const unsigned char *p; size_t n, off; int bad; } rbuf;
static void get(rbuf *r, void *dst, size_t len) {
    if (r->bad || r->n - r->off < len) { r->bad = 1; memset(dst, 0, len); return; }
    memcpy(dst, r->p + r->off, len);
    r->off += len;
}
static uint32_t get_u32(rbuf *r) { uint32_t v; get(r, &v, 4); return v; }
static uint64_t get_u64(rbuf *r) { uint64_t v; get(r, &v, 8); return v; }
static double get_f64(rbuf *r) { double v; get(r, &v, 8); return v; }

void ffr_train_ckpt_free(ffr_train_ckpt *c) {
    if (!c) return;
    ffr_optim_free(&c->opt);
    free(c->extra);
    c->extra = NULL; c->nextra = 0;
}

ffr_status ffr_train_ckpt_load(const char *path, ffr_net *net, ffr_train_ckpt *c, ffr_err *err) {
    FFR_NEED(c, err);
    memset(c, 0, sizeof *c);
    FFR_NEED(path, err);
    ffr_status vs = ffr_net_valid(net, __func__, err);
    if (vs) return vs;
    FILE *f;
    ffr_status ost = ffr_open_read(path, &f, NULL, err); /* regular files only, never blocks */
    if (ost) return ost;
    unsigned char *data = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : (1u << 20);
            unsigned char *q = ffr_realloc(data, cap);
            if (!q) { free(data); fclose(f); return ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path); }
            data = q;
        }
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) { free(data); return ffr_fail(err, FFR_ERR_IO, "%s: read error", path); }
    ffr_status rc = FFR_OK;
#define BAD(...) do { rc = ffr_fail(err, FFR_ERR_FORMAT, __VA_ARGS__); goto out; } while (0)
    if (n < 12 || memcmp(data, CKP_MAGIC, 8)) BAD("%s: not an ffrelax checkpoint (magic %s expected)", path, CKP_MAGIC);
    {
        uint32_t stored;
        memcpy(&stored, data + n - 4, 4);
        if (ffr_crc32(0, data, n - 4) != stored) BAD("%s: checksum mismatch (truncated or corrupt checkpoint); delete it to start over", path);
    }
    rbuf r = {data, n - 4, 8, 0};
    uint32_t ver = get_u32(&r), bo = get_u32(&r);
    if (ver != CKP_VERSION)
        BAD("%s: checkpoint version: expected %u, found %u%s", path, CKP_VERSION, ver,
            ver < CKP_VERSION ? " (written by an older ffrelax; delete it to start over)" : "");
    if (bo != 0x01020304u) BAD("%s: checkpoint written on a machine of the other byte order", path);
    uint32_t method = get_u32(&r), layer = get_u32(&r), epoch = get_u32(&r);
    c->fingerprint = get_u64(&r);
    c->data_hash = get_u64(&r);
    c->n = get_u64(&r);
    uint32_t batch = get_u32(&r);
    c->seed = get_u64(&r);
    int L = (int)get_u32(&r);
    if (r.bad) BAD("%s: checkpoint truncated in its header", path);
    /* every field range-checked before use (a valid crc32 proves no intent) */
    if (ffr_train_method_name((ffr_train_method)method)[0] == '?')
        BAD("%s: checkpoint method: expected a known training method, found %u", path, method);
    if (L != net->L) BAD("%s: checkpoint has %d weight layers, the network %d", path, L, net->L);
    if (layer > (uint32_t)L) BAD("%s: checkpoint layer: expected 0..%d, found %u", path, L, layer);
    if (epoch > INT32_MAX) BAD("%s: checkpoint epoch: expected 0..%d, found %u (negative?)", path, INT32_MAX, epoch);
    if (batch > INT32_MAX) BAD("%s: checkpoint batch: expected 0..%d, found %u", path, INT32_MAX, batch);
    c->method = (ffr_train_method)method;
    c->layer = (int)layer;
    c->epoch = (int)epoch;
    c->batch = (int)batch;
    for (int k = 0; k <= L; k++) {
        int nk = (int)get_u32(&r);
        if (nk != net->n[k]) BAD("%s: layer %d: checkpoint has %d units, the network %d", path, k, nk, net->n[k]);
    }
    uint32_t rule = get_u32(&r), rho = get_u32(&r), tied = get_u32(&r);
    if (rule != (uint32_t)net->rule || rho != (uint32_t)net->rho || tied != (uint32_t)net->tied)
        BAD("%s: checkpoint network is rule %u rho %u tied %u, expected %d %d %d", path, rule, rho, tied,
            (int)net->rule, (int)net->rho, net->tied);
    for (int k = 0; k <= L; k++) { get(&r, &net->alpha_up[k], 4); get(&r, &net->alpha_down[k], 4); }
    uint64_t np = get_u64(&r);
    if (np != net->nparams) BAD("%s: checkpoint has %llu parameters, the network %zu", path, (unsigned long long)np, net->nparams);
    for (int i = 0; i < 4; i++) c->rng.s[i] = get_u64(&r);
    uint32_t kind = get_u32(&r);
    if (kind > FFR_OPT_ADAM) BAD("%s: checkpoint optimizer: expected 0 or 1, found %u", path, kind);
    uint64_t t = get_u64(&r);
    if (t > (uint64_t)1 << 53) BAD("%s: checkpoint optimizer step count: expected 0..2^53, found %llu", path, (unsigned long long)t);
    double hp[6];
    static const char *hp_names[6] = {"lr", "momentum", "beta1", "beta2", "eps", "weight decay"};
    for (int i = 0; i < 6; i++) hp[i] = get_f64(&r);
    for (int i = 0; i < 6; i++)
        if (!(hp[i] >= 0 && isfinite(hp[i]))) BAD("%s: checkpoint %s: expected a finite value >= 0, found %g", path, hp_names[i], hp[i]);
    uint64_t nextra = get_u64(&r);
    size_t need = (size_t)np * 4 * (kind == FFR_OPT_ADAM ? 3 : 2);
    if (r.bad || nextra > (r.n - r.off) / 4 || r.n - r.off != need + nextra * 4)
        BAD("%s: checkpoint size: expected %zu payload bytes, found %zu", path, need + (size_t)nextra * 4, r.n - r.off);
    if ((rc = ffr_optim_init(&c->opt, (ffr_optimizer)kind, net->nparams, err))) goto out;
    c->opt.t = t;
    c->opt.lr = hp[0]; c->opt.momentum = hp[1]; c->opt.beta1 = hp[2];
    c->opt.beta2 = hp[3]; c->opt.eps = hp[4]; c->opt.weight_decay = hp[5];
    get(&r, net->params, np * sizeof(float));
    get(&r, c->opt.m, np * sizeof(float));
    if (kind == FFR_OPT_ADAM) get(&r, c->opt.v, np * sizeof(float));
    c->nextra = nextra;
    if (nextra) {
        c->extra = ffr_malloc(nextra * sizeof(float));
        if (!c->extra) { rc = ffr_fail(err, FFR_ERR_NOMEM, "%s: out of memory", path); goto out; }
        get(&r, c->extra, nextra * sizeof(float));
    }
    if ((rc = ffr_net_check(net, err))) goto out;
#undef BAD
out:
    free(data);
    if (rc) ffr_train_ckpt_free(c);
    return rc;
}

uint64_t ffr_train_fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *q = p;
    for (size_t i = 0; i < n; i++) { h ^= q[i]; h *= 0x100000001b3ULL; }
    return h;
}

void ffr_train_shuffle(size_t *perm, size_t n, ffr_rng *rng) {
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(ffr_rng_u64(rng) % i);
        size_t t = perm[i - 1]; perm[i - 1] = perm[j]; perm[j] = t;
    }
}

ffr_status ffr_train_check_finite(const ffr_net *net, const char *what, ffr_err *err) {
    ffr_err e;
    if (ffr_net_check(net, &e) == FFR_OK) return FFR_OK;
    return ffr_fail(err, FFR_ERR_DIVERGED,
                    "%s: training produced a non-finite parameter (%s); stopped, the last good checkpoint "
                    "(if any) is kept: lower --lr (or use --optimizer adam)", what, e.msg);
}

double ffr_train_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
