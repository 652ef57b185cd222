/* net.c - the layered network: sizes, rule, rho, tying, gains, and all
 * parameters in one block (W, b, V, c are views into net->params). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static ffr_status layout(ffr_net *net, ffr_err *err) {
    size_t off = 0, t;
    for (int k = 1; k <= net->L; k++) {
        size_t w;
        if (!ffr_mul_ok((size_t)net->n[k], (size_t)net->n[k - 1], &w))
            return ffr_fail(err, FFR_ERR_NOMEM, "layer %d: weight matrix size overflows", k);
        t = off + w + (size_t)net->n[k] + (net->tied ? 0 : w);
        if (t < off) return ffr_fail(err, FFR_ERR_NOMEM, "parameter count overflows");
        off = t;
    }
    for (int k = 0; k < net->L; k++) off += (size_t)net->n[k];
    net->nparams = off;
    return FFR_OK;
}

static void point(ffr_net *net) {
    float *p = net->params;
    for (int k = 1; k <= net->L; k++) {
        size_t w = (size_t)net->n[k] * net->n[k - 1];
        net->W[k] = p; p += w;
        net->b[k] = p; p += net->n[k];
        net->V[k] = net->tied ? NULL : p;
        if (!net->tied) p += w;
    }
    for (int k = 0; k < net->L; k++) { net->c[k] = p; p += net->n[k]; }
}

ffr_status ffr_net_create(ffr_net **out, int L, const int *n, ffr_rule rule,
                          ffr_rho rho, int tied, ffr_err *err) {
    FFR_NEED(out, err);
    *out = NULL;
    FFR_NEED(n, err);
    if (L < 1 || L >= FFR_MAX_LAYERS)
        return ffr_fail(err, FFR_ERR_ARG, "number of weight layers: expected 1..%d, found %d",
                        FFR_MAX_LAYERS - 1, L);
    for (int k = 0; k <= L; k++)
        if (n[k] < 1 || n[k] > (1 << 24))
            return ffr_fail(err, FFR_ERR_ARG, "size of layer %d: expected 1..%d, found %d", k,
                            1 << 24, n[k]);
    if ((unsigned)rule > FFR_RULE_BOLTZMANN)
        return ffr_fail(err, FFR_ERR_ARG, "rule: expected 0..2, found %d", (int)rule);
    if ((unsigned)rho > FFR_RHO_IDENTITY)
        return ffr_fail(err, FFR_ERR_ARG, "rho: expected 0..2, found %d", (int)rho);
    if (rule == FFR_RULE_HOPFIELD && !tied)
        return ffr_fail(err, FFR_ERR_ARG,
                        "rule hopfield: the energy model of Eq. 3 needs tied weights (use --tied)");
    ffr_net *net = ffr_calloc(1, sizeof *net);
    if (!net) return ffr_fail(err, FFR_ERR_NOMEM, "out of memory");
    net->L = L; net->rule = rule; net->rho = rho; net->tied = tied ? 1 : 0;
    for (int k = 0; k <= L; k++) { net->n[k] = n[k]; net->alpha_up[k] = 1.f; net->alpha_down[k] = 1.f; }
    ffr_status s = layout(net, err);
    if (s) { free(net); return s; }
    net->params = ffr_calloc(net->nparams, sizeof(float));
    if (!net->params) {
        size_t np = net->nparams;
        free(net);
        return ffr_fail(err, FFR_ERR_NOMEM, "cannot allocate %zu parameters", np);
    }
    point(net);
    *out = net;
    return FFR_OK;
}

void ffr_net_free(ffr_net *net) {
    if (!net) return;
    free(net->params);
    free(net);
}

ffr_status ffr_net_valid(const ffr_net *net, const char *fn, ffr_err *err) {
    if (!net) return ffr_fail(err, FFR_ERR_ARG, "%s: the network is NULL", fn);
    if (net->L < 1 || net->L >= FFR_MAX_LAYERS)
        return ffr_fail(err, FFR_ERR_ARG, "%s: network: expected 1..%d weight layers, found %d", fn, FFR_MAX_LAYERS - 1, net->L);
    for (int k = 0; k <= net->L; k++)
        if (net->n[k] < 1 || net->n[k] > (1 << 24))
            return ffr_fail(err, FFR_ERR_ARG, "%s: network layer %d: expected 1..%d units, found %d", fn, k, 1 << 24, net->n[k]);
    if ((unsigned)net->rule > FFR_RULE_BOLTZMANN || (unsigned)net->rho > FFR_RHO_IDENTITY)
        return ffr_fail(err, FFR_ERR_ARG, "%s: network: unknown rule %d or rho %d", fn, (int)net->rule, (int)net->rho);
    if (!net->params) return ffr_fail(err, FFR_ERR_ARG, "%s: network: no parameters (params is NULL)", fn);
    for (int k = 1; k <= net->L; k++)
        if (!net->W[k] || !net->b[k] || !net->c[k - 1] || (!net->tied && !net->V[k]))
            return ffr_fail(err, FFR_ERR_ARG, "%s: network: the parameter views of layer %d are NULL", fn, k);
    return FFR_OK;
}

ffr_status ffr_state_fits(const ffr_net *net, const ffr_state *st, int B, const char *fn, ffr_err *err) {
    if (!st) return ffr_fail(err, FFR_ERR_ARG, "%s: the state is NULL", fn);
    if (B < 1 || st->B < B || st->L != net->L)
        return ffr_fail(err, FFR_ERR_ARG, "%s: state: expected %d layers and room for %d examples, found %d and %d", fn,
                        net->L, B, st->L, st->B);
    for (int k = 0; k <= net->L; k++)
        if (st->n[k] != net->n[k] || !st->s[k])
            return ffr_fail(err, FFR_ERR_ARG, "%s: state layer %d: expected %d units, found %d", fn, k, net->n[k], st->n[k]);
    return FFR_OK;
}

ffr_status ffr_net_clone(ffr_net **out, const ffr_net *src, ffr_err *err) {
    FFR_NEED(out, err);
    *out = NULL;
    ffr_status s = ffr_net_valid(src, __func__, err);
    if (s) return s;
    s = ffr_net_create(out, src->L, src->n, src->rule, src->rho, src->tied, err);
    if (s) return s;
    memcpy((*out)->alpha_up, src->alpha_up, sizeof src->alpha_up);
    memcpy((*out)->alpha_down, src->alpha_down, sizeof src->alpha_down);
    memcpy((*out)->params, src->params, src->nparams * sizeof(float));
    return FFR_OK;
}

/* Untied: feedback = transpose of the feedforward weights, V_k = W_k^T. */
static void feedback_transpose(ffr_net *net, int k) {
    int no = net->n[k], ni = net->n[k - 1];
    if (!net->tied)
        for (int i = 0; i < no; i++)
            for (int j = 0; j < ni; j++) net->V[k][(size_t)j * no + i] = net->W[k][(size_t)i * ni + j];
}

/* Uniform init: W_k ~ U(+-a_k) (and b_k too for fan-in), drawn layer by layer
 * (W_k then b_k) from one rng; other offsets 0; untied V_k = W_k^T. */
static void init_uniform(ffr_net *net, uint64_t seed, float scale, int fanin) {
    ffr_rng r;
    ffr_rng_seed(&r, seed);
    memset(net->params, 0, net->nparams * sizeof(float));
    for (int k = 1; k <= net->L; k++) {
        int no = net->n[k], ni = net->n[k - 1];
        double a = fanin ? scale / sqrt((double)ni) : scale * sqrt(6.0 / (ni + no));
        for (size_t i = 0; i < (size_t)no * ni; i++) net->W[k][i] = (float)(a * (2.0 * ffr_rng_uniform(&r) - 1.0));
        if (fanin)
            for (int i = 0; i < no; i++) net->b[k][i] = (float)(a * (2.0 * ffr_rng_uniform(&r) - 1.0));
        feedback_transpose(net, k);
    }
}

/* Glorot uniform: W_k ~ U(+-scale sqrt(6/(n_{k-1}+n_k))), offsets 0. */
void ffr_net_init_glorot(ffr_net *net, uint64_t seed, float scale) {
    if (ffr_net_valid(net, __func__, NULL)) return;
    init_uniform(net, seed, scale, 0);
}

/* Fan-in uniform (PyTorch nn.Linear): W_k, b_k ~ U(+-scale/sqrt(n_{k-1})), c = 0. */
void ffr_net_init_fanin(ffr_net *net, uint64_t seed, float scale) {
    if (ffr_net_valid(net, __func__, NULL)) return;
    init_uniform(net, seed, scale, 1);
}

float ffr_net_V_at(const ffr_net *net, int k, int i, int j) {
    if (ffr_net_valid(net, __func__, NULL) || k < 1 || k > net->L || i < 0 || i >= net->n[k - 1] || j < 0 || j >= net->n[k])
        return NAN;
    if (net->tied) return net->W[k][(size_t)j * net->n[k - 1] + i];
    return net->V[k][(size_t)i * net->n[k] + j];
}

ffr_status ffr_net_check(const ffr_net *net, ffr_err *err) {
    ffr_status st = ffr_net_valid(net, __func__, err);
    if (st) return st;
    for (int k = 0; k <= net->L; k++) {
        if (k >= 1 && (!isfinite(net->alpha_up[k]) || net->alpha_up[k] <= 0))
            return ffr_fail(err, FFR_ERR_ARG, "alpha_up of layer %d: expected a finite gain > 0, found %g",
                            k, net->alpha_up[k]);
        if (k < net->L && (!isfinite(net->alpha_down[k]) || net->alpha_down[k] <= 0))
            return ffr_fail(err, FFR_ERR_ARG,
                            "alpha_down of layer %d: expected a finite gain > 0, found %g", k,
                            net->alpha_down[k]);
    }
    for (int k = 1; k <= net->L; k++) {
        const char *names[3] = {"W", "b", "V"};
        const float *arr[3] = {net->W[k], net->b[k], net->V[k]};
        size_t len[3] = {(size_t)net->n[k] * net->n[k - 1], (size_t)net->n[k],
                         (size_t)net->n[k] * net->n[k - 1]};
        for (int a = 0; a < 3; a++) {
            if (!arr[a]) continue;
            for (size_t i = 0; i < len[a]; i++)
                if (!isfinite(arr[a][i]))
                    return ffr_fail(err, FFR_ERR_FORMAT, "parameter %s%d[%zu]: expected a finite value, found %g",
                                    names[a], k, i, arr[a][i]);
        }
    }
    for (int k = 0; k < net->L; k++)
        for (int i = 0; i < net->n[k]; i++)
            if (!isfinite(net->c[k][i]))
                return ffr_fail(err, FFR_ERR_FORMAT, "parameter c%d[%d]: expected a finite value, found %g",
                                k, i, net->c[k][i]);
    return FFR_OK;
}

static const char *rule_names[] = {"dendritic", "hopfield", "boltzmann"};
static const char *rho_names[] = {"hardsigmoid", "sigmoid", "identity"};
static const char *init_names[] = {"ff", "zero", "random", "given"};
static const char *sched_names[] = {"odd-even", "sync", "up"};

static int parse(const char *s, const char **names, int n) {
    for (int i = 0; i < n; i++)
        if (s && strcmp(s, names[i]) == 0) return i;
    return -1;
}

const char *ffr_rule_name(ffr_rule r) { return (unsigned)r < 3 ? rule_names[r] : "?"; }
const char *ffr_rho_name(ffr_rho r) { return (unsigned)r < 3 ? rho_names[r] : "?"; }
const char *ffr_init_name(ffr_init i) { return (unsigned)i < 4 ? init_names[i] : "?"; }
const char *ffr_schedule_name(ffr_schedule s) { return (unsigned)s < 3 ? sched_names[s] : "?"; }
int ffr_rule_parse(const char *s, ffr_rule *r) { int i = parse(s, rule_names, 3); if (i < 0 || !r) return -1; *r = (ffr_rule)i; return 0; }
int ffr_rho_parse(const char *s, ffr_rho *r) { int i = parse(s, rho_names, 3); if (i < 0 || !r) return -1; *r = (ffr_rho)i; return 0; }
int ffr_init_parse(const char *s, ffr_init *r) { int i = parse(s, init_names, 4); if (i < 0 || !r) return -1; *r = (ffr_init)i; return 0; }
int ffr_schedule_parse(const char *s, ffr_schedule *r) { int i = parse(s, sched_names, 3); if (i < 0 || !r) return -1; *r = (ffr_schedule)i; return 0; }

ffr_status ffr_state_create(ffr_state **out, const ffr_net *net, int B, ffr_err *err) {
    FFR_NEED(out, err);
    *out = NULL;
    ffr_status vs = ffr_net_valid(net, __func__, err);
    if (vs) return vs;
    if (B < 1) return ffr_fail(err, FFR_ERR_ARG, "batch size: expected >= 1, found %d", B);
    size_t tot = 0, t;
    for (int k = 0; k <= net->L; k++) {
        if (!ffr_mul_ok((size_t)B, (size_t)net->n[k], &t) || tot + t < tot)
            return ffr_fail(err, FFR_ERR_NOMEM, "state size overflows");
        tot += t;
    }
    ffr_state *st = ffr_calloc(1, sizeof *st);
    if (!st) return ffr_fail(err, FFR_ERR_NOMEM, "out of memory");
    st->data = ffr_calloc(tot, sizeof(float));
    if (!st->data) { free(st); return ffr_fail(err, FFR_ERR_NOMEM, "cannot allocate a state of %zu floats", tot); }
    st->L = net->L; st->B = B;
    float *p = st->data;
    for (int k = 0; k <= net->L; k++) { st->n[k] = net->n[k]; st->s[k] = p; p += (size_t)B * net->n[k]; }
    *out = st;
    return FFR_OK;
}

void ffr_state_free(ffr_state *st) {
    if (!st) return;
    free(st->data);
    free(st);
}
