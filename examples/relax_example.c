/* relax_example.c - the smallest program on the installed library: create a
 * 784-200-100 dendritic network with Glorot weights, relax four random
 * inputs from the feedforward start (Eq. 17) by the odd-even sweeps of
 * Eq. 9, and print the step per sweep and each example's result. It only
 * relaxes (no model files, data files or plots), so it links with
 * `-lffrelax -lm -lpthread` once the core needs nothing else.
 *
 *   cc relax_example.c $(pkg-config --cflags --libs ffrelax) -o relax_example
 *   cc relax_example.c $(pkg-config --cflags ffrelax) $(pkg-config --static --libs ffrelax) ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <ffrelax.h>

int main(void) {
    enum { B = 4 };
    int n[] = {784, 200, 100};
    ffr_err err;
    ffr_net *net = NULL;
    ffr_state *st = NULL;
    ffr_trace *tr = NULL;
    float *x = malloc(sizeof(float) * B * n[0]);
    int rc = 1;
    if (!x) { fprintf(stderr, "relax_example: out of memory\n"); return 1; }
    if (ffr_version() / 10000 != FFR_VERSION_MAJOR) {
        fprintf(stderr, "relax_example: built with ffrelax %s, running %d\n", FFR_VERSION, ffr_version());
        goto done;
    }
    if (ffr_net_create(&net, 2, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 1, &err)) goto fail;
    ffr_net_init_glorot(net, 42, 1.0f);
    ffr_rng rng;
    ffr_rng_seed(&rng, 7);
    for (int i = 0; i < B * n[0]; i++) x[i] = (float)ffr_rng_uniform(&rng); /* x is (B, n_0) */
    ffr_relax_opts o;
    ffr_relax_opts_default(&o);
    o.max_sweeps = 50;
    o.tol = 1e-5;
    if (ffr_state_create(&st, net, B, &err)) goto fail;
    if (ffr_relax(net, x, B, &o, st, &tr, &err)) goto fail;
    printf("ffrelax %s (library %d), %s\n", FFR_VERSION, ffr_version(), ffr_blas_info());
    printf("sweeps run %d; mean step after sweep 1: %.4g, after the last: %.4g\n", tr->T,
           tr->step_mean[1], tr->step_mean[tr->T]);
    for (int b = 0; b < B; b++)
        printf("example %d: %s after %d sweeps, ||s* - s_ff|| = %.4g, s_2[0] = %.6f\n", b,
               tr->converged[b] ? "converged" : "not converged", tr->sweeps[b], tr->dist[b],
               st->s[2][(size_t)b * n[2]]);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "relax_example: %s\n", err.msg);
done:
    ffr_trace_free(tr);
    ffr_state_free(st);
    ffr_net_free(net);
    free(x);
    return rc;
}
