/* relax_setup.c - the relaxer's life (ffr_relaxer_create, _set_opts,
 * _update, _free): the network checked, the workspaces and the room for the
 * packed weights allocated once (each pack filled when a run first needs
 * it: ffr_relax_packs_fill); and what the driver needs from the network: the rule's
 * coefficients, the products of the branches (Eq. 12, 13, 15), the branches
 * themselves, and the feedforward start (Eq. 17). */
#include <math.h>
#include <string.h>
#include "relax_internal.h"

const char *ffr_precision_name(ffr_precision p) { return p == FFR_PREC_BF16 ? "bf16" : p == FFR_PREC_FP32 ? "fp32" : "?"; }
int ffr_precision_parse(const char *s, ffr_precision *p) {
    if (s && !strcmp(s, "fp32")) { *p = FFR_PREC_FP32; return 0; }
    if (s && !strcmp(s, "bf16")) { *p = FFR_PREC_BF16; return 0; }
    return -1;
}
int ffr_bf16_available(void) { return ffr_gemm_uses_fast() && ffr_gemm_bf16_available(); }

/* Eq. 16's coefficients (relax_internal.h) from the rule's gains (rule.h). */
void ffr_coefs_fill(const ffr_net *net, ffr_coefs *c) {
    int L = net->L;
    for (int k = 0; k <= L; k++) {
        float au = k >= 1 ? net->alpha_up[k] : 0.f, ad = k < L ? net->alpha_down[k] : 0.f;
        if (net->rule != FFR_RULE_DENDRITIC) { au = k >= 1; ad = k < L; }
        float kap = net->rule == FFR_RULE_DENDRITIC ? au + ad : 1.f;
        c->cu[k] = au / kap;
        c->cd[k] = ad / kap;
        for (int j = 0; j < net->n[k]; j++) {
            float v = 0;
            if (k >= 1) v += c->cu[k] * net->b[k][j];
            if (k < L) v += c->cd[k] * net->c[k][j];
            c->bias[k][j] = v;
        }
    }
}

/* ---- products. nt: threads of the kernel (0 = the default); pk: the weights
 * packed for the kernel, or NULL: ffr_gemm (fp32 packs: the same arithmetic
 * either way). */

/* Eq. 13 (the apical branch's product): Y[M, n_{k-1}] (+)= alpha * R_k[M, n_k] * V_k^T. Tied: V_k^T = W_k. */
void ffr_relax_gemm_down(const ffr_net *net, const ffr_packs *pk, int nt, int k, int M, float alpha, const float *Rk,
                         float beta, float *Y) {
    int lo = net->n[k - 1], hi = net->n[k];
    if (pk && pk->dn16[k]) ffr_gemm_packed_bf16(nt, M, lo, hi, alpha, Rk, hi, pk->dn16[k], beta, Y, lo);
    else if (pk && pk->dn[k]) ffr_gemm_packed(nt, 0, M, lo, hi, alpha, Rk, hi, pk->dn[k], beta, Y, lo);
    else if (net->tied) ffr_gemm(0, 0, M, lo, hi, alpha, Rk, hi, net->W[k], lo, beta, Y, lo);
    else ffr_gemm(0, 1, M, lo, hi, alpha, Rk, hi, net->V[k], hi, beta, Y, lo);
}
/* Eq. 12 (the basal branch's product): Y[M, n_k] (+)= alpha * R_{k-1}[M, n_{k-1}] * W_k^T. */
void ffr_relax_gemm_up(const ffr_net *net, const ffr_packs *pk, int nt, int k, int M, float alpha, const float *Rkm1,
                       float beta, float *Y) {
    int lo = net->n[k - 1], hi = net->n[k];
    if (pk && pk->up16[k]) ffr_gemm_packed_bf16(nt, M, hi, lo, alpha, Rkm1, lo, pk->up16[k], beta, Y, hi);
    else if (pk && pk->up[k]) ffr_gemm_packed(nt, 0, M, hi, lo, alpha, Rkm1, lo, pk->up[k], beta, Y, hi);
    else ffr_gemm(0, 1, M, hi, lo, alpha, Rkm1, lo, net->W[k], lo, beta, Y, hi);
}

/* Evaluate the branches for rows [0, M): f[k] = b_k + W_k r_{k-1} (Eq. 12, k >= 1),
 * g[k] = c_k + V_{k+1} r_{k+1} (Eq. 13, k < L), F[k] = F_k(cu f + cd g) with the
 * rule's coefficients (Eq. 16, 7, 8). R[k] are the rates. Outputs may be NULL per array. */
void ffr_relax_eval_branches(const ffr_net *net, const ffr_packs *pk, int nt, const ffr_coefs *cf, float *const *R, int M,
                             float **f, float **g, float **F) {
    int L = net->L;
    for (int k = 0; k <= L; k++) {
        int n = net->n[k];
        if (f && k >= 1) {
            ffr_relax_gemm_up(net, pk, nt, k, M, 1.f, R[k - 1], 0.f, f[k]);
            for (int r = 0; r < M; r++)
                for (int j = 0; j < n; j++) f[k][(size_t)r * n + j] += net->b[k][j];
        }
        if (g && k < L) {
            ffr_relax_gemm_down(net, pk, nt, k + 1, M, 1.f, R[k + 1], 0.f, g[k]);
            for (int r = 0; r < M; r++)
                for (int j = 0; j < n; j++) g[k][(size_t)r * n + j] += net->c[k][j];
        }
    }
    if (!F) return;
    for (int k = 0; k <= L; k++) {
        int n = net->n[k];
        for (size_t i = 0; i < (size_t)M * n; i++) {
            /* f and g already hold their offsets: u = cu f + cd g equals the bias form */
            float u = 0;
            if (k >= 1) u += cf->cu[k] * f[k][i];
            if (k < L) u += cf->cd[k] * g[k][i];
            F[k][i] = ffr_rule_F(net->rule, net->rho, u);
        }
    }
}

/* (B, n_k) per layer in one block; zero = 0 leaves it unset (and, for large
 * blocks, not resident until written: the relaxation's buffers are written
 * before they are read, and a clamped layer's target rows never are). */
float *ffr_layers_alloc(const ffr_net *net, int B, float **v, int zero) {
    size_t tot = 0;
    for (int k = 0; k <= net->L; k++) tot += (size_t)B * net->n[k];
    float *p = ffr_big_alloc(tot, sizeof(float), zero);
    if (!p) return NULL;
    float *q = p;
    for (int k = 0; k <= net->L; k++) { v[k] = q; q += (size_t)B * net->n[k]; }
    return p;
}

ffr_status ffr_branches(const ffr_net *net, const ffr_state *st, float **f, float **g, float **F) {
    if (ffr_net_valid(net, __func__, NULL) || ffr_state_fits(net, st, 1, __func__, NULL)) return FFR_ERR_ARG;
    float *R[FFR_MAX_LAYERS], *ff[FFR_MAX_LAYERS], *gg[FFR_MAX_LAYERS];
    ffr_coefs cf;
    float *rb = ffr_layers_alloc(net, st->B, R, 1);
    float *fb = ffr_layers_alloc(net, st->B, ff, 1), *gb = ffr_layers_alloc(net, st->B, gg, 1);
    float *bb = ffr_layers_alloc(net, 1, cf.bias, 1);
    if (!rb || !fb || !gb || !bb) { free(rb); free(fb); free(gb); free(bb); return FFR_ERR_NOMEM; }
    ffr_coefs_fill(net, &cf);
    for (int k = 0; k <= net->L; k++)
        for (size_t i = 0; i < (size_t)st->B * net->n[k]; i++) R[k][i] = ffr_rule_rate(net->rule, net->rho, st->s[k][i]);
    ffr_relax_eval_branches(net, NULL, 0, &cf, R, st->B, ff, gg, F);
    for (int k = 0; k <= net->L; k++) {
        size_t sz = (size_t)st->B * net->n[k] * sizeof(float);
        if (f && k >= 1 && f[k]) memcpy(f[k], ff[k], sz);
        if (g && k < net->L && g[k]) memcpy(g[k], gg[k], sz);
    }
    free(rb); free(fb); free(gb); free(bb);
    return FFR_OK;
}

/* Eq. 17: s_k = F_k(f_k(s_{k-1})) with only the basal branch, k = 1..L; the
 * rates of layer k-1 go to R[k-1] (B rows). Products in fp32 (the fp32 packs,
 * or ffr_gemm: the same arithmetic). */
void ffr_relax_feedforward(const ffr_net *net, const ffr_packs *pk, int nt, const float *x, int B, ffr_state *st,
                           float *const *R) {
    ffr_packs p32;
    memset(&p32, 0, sizeof p32);
    if (pk) memcpy(p32.up, pk->up, sizeof p32.up);
    memcpy(st->s[0], x, (size_t)B * net->n[0] * sizeof(float));
    for (int k = 1; k <= net->L; k++) {
        int lo = net->n[k - 1], hi = net->n[k];
        float *rp = st->s[k], *tmp = R[k - 1];
        for (size_t i = 0; i < (size_t)B * lo; i++) tmp[i] = ffr_rule_rate(net->rule, net->rho, st->s[k - 1][i]);
        ffr_relax_gemm_up(net, &p32, nt, k, B, 1.f, tmp, 0.f, rp);
        for (int r = 0; r < B; r++)
            for (int j = 0; j < hi; j++) {
                float *v = &rp[(size_t)r * hi + j];
                *v = ffr_rule_F(net->rule, net->rho, *v + net->b[k][j]);
            }
    }
}

ffr_status ffr_feedforward(const ffr_net *net, const float *x, int B, ffr_state *st) {
    if (!x || ffr_net_valid(net, __func__, NULL) || ffr_state_fits(net, st, B, __func__, NULL)) return FFR_ERR_ARG;
    float *R[FFR_MAX_LAYERS];
    float *rb = ffr_layers_alloc(net, B, R, 0);
    if (!rb) return FFR_ERR_NOMEM;
    ffr_relax_feedforward(net, NULL, 0, x, B, st, R);
    free(rb);
    return FFR_OK;
}

/* ---- the relaxer's workspaces */

static void swap_rows(float *a, int n, int r1, int r2, float *tmp) {
    size_t sz = (size_t)n * sizeof(float);
    memcpy(tmp, a + (size_t)r1 * n, sz);
    memcpy(a + (size_t)r1 * n, a + (size_t)r2 * n, sz);
    memcpy(a + (size_t)r2 * n, tmp, sz);
}

/* Swap rows r1 and r2 of everything that is kept per row (the active set). */
void ffr_ws_swap(ffr_ws *w, ffr_state *st, int r1, int r2) {
    if (r1 == r2) return;
    for (int k = 0; k <= w->L; k++) {
        swap_rows(st->s[k], w->net->n[k], r1, r2, w->rowtmp);
        swap_rows(w->R[k], w->net->n[k], r1, r2, w->rowtmp);
    }
    if (w->use_cup) swap_rows(w->cup, w->net->n[1], r1, r2, w->rowtmp);
    if (w->use_cdown) swap_rows(w->cdown, w->net->n[w->L - 1], r1, r2, w->rowtmp);
    int p = w->perm[r1]; w->perm[r1] = w->perm[r2]; w->perm[r2] = p;
    ffr_rng g = w->rng[r1]; w->rng[r1] = w->rng[r2]; w->rng[r2] = g;
    double d;
    d = w->step2[r1]; w->step2[r1] = w->step2[r2]; w->step2[r2] = d;
    d = w->rstep2[r1]; w->rstep2[r1] = w->rstep2[r2]; w->rstep2[r2] = d;
    d = w->norm2[r1]; w->norm2[r1] = w->norm2[r2]; w->norm2[r2] = d;
}

/* Room for every pack the kernel may use (when ffr_gemm uses it): W_k as
 * op(B) of the up product (N = n_k, K = n_{k-1}) and V_k (tied: W_k) of the
 * down product (N = n_{k-1}, K = n_k); with bf16, bf16 pairs of both and W_k
 * in fp32 for the feedforward start (Eq. 17 runs in fp32). Only the room:
 * ffr_relax_packs_fill fills what a run needs, so a pack never needed (the
 * down product of W_1 when the input is clamped and nothing is measured) costs
 * neither time nor resident memory (its pages, last in the block, are never
 * touched). Once per precision; 0 if out of memory. */
static int ws_pack_alloc(ffr_ws *w, int bf16) {
    const ffr_net *net = w->net;
    size_t tot = 0;
    for (int k = 1; k <= w->L; k++) {
        int lo = net->n[k - 1], hi = net->n[k];
        tot += bf16 ? ffr_gemm_pack_bf16_words(hi, lo) + ffr_gemm_pack_bf16_words(lo, hi) + ffr_gemm_pack_floats(hi, lo)
                    : ffr_gemm_pack_floats(hi, lo) + ffr_gemm_pack_floats(lo, hi);
    }
    void *nb = ffr_big_alloc(tot, 4, 0);
    if (!nb) return 0;
    free(w->packbuf);
    w->packbuf = nb;
    w->packed_bf16 = bf16;
    memset(&w->pk, 0, sizeof w->pk);
    memset(&w->pkall, 0, sizeof w->pkall);
    float *q = nb;
    for (int k = 1; k <= w->L; k++) { /* the up products (and the start's fp32 W_k) */
        int lo = net->n[k - 1], hi = net->n[k];
        w->pkall.up[k] = q;
        q += ffr_gemm_pack_floats(hi, lo);
        if (bf16) { w->pkall.up16[k] = (uint32_t *)q; q += ffr_gemm_pack_bf16_words(hi, lo); }
    }
    for (int i = 2; i <= w->L + 1; i++) { /* the down products, W_1's last */
        int k = i <= w->L ? i : 1, lo = net->n[k - 1], hi = net->n[k];
        if (bf16) { w->pkall.dn16[k] = (uint32_t *)q; q += ffr_gemm_pack_bf16_words(lo, hi); }
        else { w->pkall.dn[k] = q; q += ffr_gemm_pack_floats(lo, hi); }
    }
    return 1;
}

void ffr_relax_packs_fill(ffr_ws *w) {
    const ffr_net *net = w->net;
    if (!w->packbuf) return;
    int meas = w->o.measure_every >= 0, ff = w->o.init == FFR_INIT_FF, L = w->L;
    for (int k = 1; k <= L; k++) {
        int lo = net->n[k - 1], hi = net->n[k];
        const float *V = net->tied ? net->W[k] : net->V[k];
        int vt = !net->tied, ldv = net->tied ? lo : hi;
        /* up: layer k's basal product (k = 1 with the input clamped: once, at the start); down: layer k-1's apical one */
        int up = meas || w->free_layer[k] || (k == 1 && w->use_cup);
        int dn = meas || w->free_layer[k - 1] || (k == L && w->use_cdown);
        int up32 = w->packed_bf16 ? ff : up || ff;
        if (up32 && !w->pk.up[k]) ffr_gemm_pack(w->pk.up[k] = w->pkall.up[k], 1, hi, lo, net->W[k], lo);
        if (w->packed_bf16 && up && !w->pk.up16[k]) ffr_gemm_pack_bf16(w->pk.up16[k] = w->pkall.up16[k], 1, hi, lo, net->W[k], lo);
        if (w->packed_bf16 && dn && !w->pk.dn16[k]) ffr_gemm_pack_bf16(w->pk.dn16[k] = w->pkall.dn16[k], vt, lo, hi, V, ldv);
        if (!w->packed_bf16 && dn && !w->pk.dn[k]) ffr_gemm_pack(w->pk.dn[k] = w->pkall.dn[k], vt, lo, hi, V, ldv);
    }
}

void ffr_relaxer_free(ffr_relaxer *rx) {
    if (!rx) return;
    for (int i = 0; i < 5; i++) free(rx->blocks[i]);
    free(rx->s0buf);
    free(rx->cup); free(rx->cdown); free(rx->perm); free(rx->rng); free(rx->step2); free(rx->rstep2);
    free(rx->norm2); free(rx->scratch); free(rx->meas); free(rx->rowtmp); free(rx->packbuf);
    ffr_aa_free(rx);
    ffr_trace_free(rx->tr);
    free(rx);
}

/* The trace's per-sweep rows made before a run: max_sweeps + 1 up to 1,024
 * sweeps (and 16M per-example floats); more only when a run needs them. */
static long trace_rows_wanted(int max_sweeps, int maxB) {
    long rows = (long)(max_sweeps < 1024 ? max_sweeps : 1024) + 1, cap = (16L << 20) / maxB;
    return rows > cap ? (cap > 2 ? cap : 2) : rows;
}

/* The options o in force: which layers and units move, the caches of the
 * clamped layers' products, the packs' precision, Anderson's history; each
 * buffer allocated only when these options need one the relaxer lacks. */
static ffr_status apply_opts(ffr_relaxer *rx, const ffr_relax_opts *o, ffr_err *err) {
    const ffr_net *net = rx->net;
    int L = rx->L;
    ffr_status rc = ffr_relax_check_opts(net, o, rx->maxB, err);
    if (rc) return rc;
    int mask_free = 0;
    if (o->visible_mask)
        for (int j = 0; j < net->n[0]; j++) mask_free += !o->visible_mask[j];
    int fl[FFR_MAX_LAYERS], nfree = 0;
    for (int k = 0; k <= L; k++) {
        fl[k] = k == 0 ? mask_free > 0 : (k == L ? !o->top_target : 1);
        nfree += fl[k];
    }
    if (!nfree) return ffr_fail(err, FFR_ERR_ARG, "nothing to relax: every layer is clamped");
    int use_cup = !fl[0] && fl[1], use_cdown = fl[L] == 0 && L >= 1 && fl[L - 1];
    if (use_cup && !rx->cup && !(rx->cup = ffr_big_alloc((size_t)rx->maxB * net->n[1], sizeof(float), 1)))
        return ffr_fail(err, FFR_ERR_NOMEM, "out of memory for %d examples", rx->maxB);
    if (use_cdown && !rx->cdown && !(rx->cdown = ffr_big_alloc((size_t)rx->maxB * net->n[L - 1], sizeof(float), 1)))
        return ffr_fail(err, FFR_ERR_NOMEM, "out of memory for %d examples", rx->maxB);
    long rows = trace_rows_wanted(o->max_sweeps, rx->maxB), most = trace_rows_wanted(1024, rx->maxB);
    if (rows > rx->tr_rows && 2L * rx->tr_rows > rows) rows = 2L * rx->tr_rows < most ? 2L * rx->tr_rows : most; /* geometric */
    if (rx->tr_rows < rows && ffr_trace_reserve_rows(rx, (int)rows))
        return ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the trace of %d sweeps (%d examples)", o->max_sweeps, rx->maxB);
    int bf16 = o->precision == FFR_PREC_BF16 && ffr_bf16_available();
    if (o->init == FFR_INIT_GIVEN && !rx->s0buf && !(rx->s0buf = ffr_layers_alloc(net, rx->maxB, rx->S0, 0)))
        return ffr_fail(err, FFR_ERR_NOMEM, "out of memory for %d examples", rx->maxB);
    int prec_changed = rx->packed_bf16 != bf16; /* (read before the packs change precision) */
    if (ffr_gemm_uses_fast() && (!rx->packbuf || prec_changed) && !ws_pack_alloc(rx, bf16))
        return ffr_fail(err, FFR_ERR_NOMEM, "out of memory for the packed weights");
    if (!use_cup || prec_changed || (mask_free ? o->visible_mask : NULL) != rx->mask)
        rx->cup_rows = 0; /* the cached input product no longer matches */
    /* commit (a failure for Anderson's buffers below leaves the relaxer refusing runs) */
    rx->opts_ok = 0;
    memcpy(rx->free_layer, fl, sizeof fl);
    rx->mask = mask_free ? o->visible_mask : NULL;
    rx->use_cup = use_cup; rx->use_cdown = use_cdown;
    rx->o = *o;
    rx->beta = o->beta; rx->ytop = o->beta != 0 ? o->nudge_target : NULL;
    rx->aa_m = 0;
    if (o->anderson > 0 && (rc = ffr_aa_reserve(rx, o->anderson, ffr_threads_resolve(o->threads), err))) return rc;
    rx->opts_ok = 1;
    return FFR_OK;
}

ffr_status ffr_relaxer_create(ffr_relaxer **out, const ffr_net *net, const ffr_relax_opts *o, int max_batch, ffr_err *err) {
    FFR_NEED(out, err);
    *out = NULL;
    ffr_status rc = ffr_relax_check_opts(net, o, max_batch, err);
    if (rc) return rc;
    if ((rc = ffr_net_check(net, err))) return rc;
    ffr_relaxer *w = ffr_calloc(1, sizeof *w);
    if (!w) return ffr_fail(err, FFR_ERR_NOMEM, "out of memory for a relaxer");
    int B = max_batch, L = net->L, maxn = 0;
    w->net = net; w->maxB = B; w->L = L;
    for (int k = 0; k <= L; k++) maxn = net->n[k] > maxn ? net->n[k] : maxn;
    int mrows = B < FFR_MEASURE_ROWS ? B : FFR_MEASURE_ROWS;
    w->blocks[0] = ffr_layers_alloc(net, B, w->R, 0); /* every layer's rates set at the start */
    w->blocks[1] = ffr_layers_alloc(net, B, w->T, 0); /* written by the products before each update */
    w->blocks[2] = ffr_layers_alloc(net, mrows, w->mf, 1);
    w->blocks[3] = ffr_layers_alloc(net, mrows, w->mg, 1);
    w->blocks[4] = ffr_layers_alloc(net, 1, w->cf.bias, 1);
    w->perm = ffr_calloc(B, sizeof(int));
    w->rng = ffr_calloc(B, sizeof(ffr_rng));
    w->step2 = ffr_calloc(B, sizeof(double)); w->rstep2 = ffr_calloc(B, sizeof(double));
    w->norm2 = ffr_calloc(B, sizeof(double)); w->scratch = ffr_calloc(B, sizeof(double));
    w->meas = ffr_calloc(B, sizeof(double)); w->rowtmp = ffr_calloc(maxn, sizeof(float));
    int ok = w->perm && w->rng && w->step2 && w->rstep2 && w->norm2 && w->scratch && w->meas && w->rowtmp;
    for (int i = 0; i < 5; i++) ok = ok && w->blocks[i];
    ok = ok && ffr_trace_make(w, (int)trace_rows_wanted(o->max_sweeps, B)) == FFR_OK;
    if (!ok) { ffr_relaxer_free(w); return ffr_fail(err, FFR_ERR_NOMEM, "out of memory for %d examples", B); }
    ffr_coefs_fill(net, &w->cf);
    if ((rc = apply_opts(w, o, err))) { ffr_relaxer_free(w); return rc; }
    *out = w;
    return FFR_OK;
}

ffr_status ffr_relaxer_set_opts(ffr_relaxer *rx, const ffr_relax_opts *o, ffr_err *err) {
    FFR_NEED(rx, err);
    FFR_NEED(o, err);
    return apply_opts(rx, o, err);
}

ffr_status ffr_relaxer_update(ffr_relaxer *rx, ffr_err *err) {
    FFR_NEED(rx, err);
    ffr_status rc = ffr_net_check(rx->net, err);
    if (rc) return rc;
    ffr_coefs_fill(rx->net, &rx->cf);
    memset(&rx->pk, 0, sizeof rx->pk); /* every pack stale: the next run fills what it needs */
    rx->cup_rows = 0; /* W_1 changed: the cached input product is stale */
    return FFR_OK;
}

void ffr_relaxer_same_input(ffr_relaxer *rx) { if (rx) rx->same_input = 1; }
