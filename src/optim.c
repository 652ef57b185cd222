/* optim.c - minibatch optimizers over a flat parameter vector: SGD with
 * momentum and Adam. Moments sit at the parameters' own offsets, so a
 * trainer steps any segment (one layer's W, b, V, c) without copies.
 * Updates are elementwise and sequential: bit-identical across runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static const char *opt_names[] = {"sgd", "adam"};

const char *ffr_optimizer_name(ffr_optimizer o) { return (unsigned)o < 2 ? opt_names[o] : "?"; }

int ffr_optimizer_parse(const char *s, ffr_optimizer *o) {
    for (int i = 0; i < 2; i++)
        if (s && !strcmp(s, opt_names[i])) { *o = (ffr_optimizer)i; return 0; }
    return -1;
}

ffr_status ffr_optim_init(ffr_optim *o, ffr_optimizer kind, size_t n, ffr_err *err) {
    memset(o, 0, sizeof *o);
    if ((unsigned)kind > FFR_OPT_ADAM)
        return ffr_fail(err, FFR_ERR_ARG, "optimizer: expected sgd or adam, found %d", (int)kind);
    o->kind = kind;
    o->n = n;
    o->lr = 1e-3; o->momentum = 0.9; o->beta1 = 0.9; o->beta2 = 0.999; o->eps = 1e-8;
    o->m = ffr_calloc(n, sizeof(float));
    if (kind == FFR_OPT_ADAM) o->v = ffr_calloc(n, sizeof(float));
    if (!o->m || (kind == FFR_OPT_ADAM && !o->v)) {
        ffr_optim_free(o);
        return ffr_fail(err, FFR_ERR_NOMEM, "optimizer: cannot allocate moments for %zu parameters", n);
    }
    return FFR_OK;
}

void ffr_optim_free(ffr_optim *o) {
    if (!o) return;
    free(o->m); free(o->v);
    o->m = o->v = NULL;
}

void ffr_optim_reset(ffr_optim *o) {
    o->t = 0;
    if (o->m) memset(o->m, 0, o->n * sizeof(float));
    if (o->v) memset(o->v, 0, o->n * sizeof(float));
}

void ffr_optim_tick(ffr_optim *o) { o->t++; }

void ffr_optim_step(ffr_optim *o, float *p, const float *g, size_t off, size_t len, int decay) {
    FFR_ASSERT(off + len <= o->n && off + len >= off);
    float *P = p + off, *M = o->m + off;
    const float *G = g + off;
    float lr = (float)o->lr, wd = decay ? (float)o->weight_decay : 0.f;
    if (o->kind == FFR_OPT_SGD) {
        float mu = (float)o->momentum;
        for (size_t i = 0; i < len; i++) {
            float gi = G[i] + wd * P[i];
            M[i] = mu * M[i] - lr * gi;
            P[i] += M[i];
        }
        return;
    }
    FFR_ASSERT(o->t >= 1);
    float b1 = (float)o->beta1, b2 = (float)o->beta2;
    /* bias corrections folded into the step size (Kingma & Ba, Sec. 2) */
    double c1 = 1.0 - pow(o->beta1, (double)o->t), c2 = 1.0 - pow(o->beta2, (double)o->t);
    float a = (float)(o->lr * sqrt(c2) / c1), e = (float)(o->eps * sqrt(c2));
    float *Vv = o->v + off;
    for (size_t i = 0; i < len; i++) {
        float gi = G[i] + wd * P[i];
        M[i] = b1 * M[i] + (1.f - b1) * gi;
        Vv[i] = b2 * Vv[i] + (1.f - b2) * gi * gi;
        P[i] -= a * M[i] / (sqrtf(Vv[i]) + e);
    }
}
