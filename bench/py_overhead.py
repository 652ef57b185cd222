#!/usr/bin/env python3
"""py_overhead.py - what the Python layer costs over C: the same relaxation
(same net, inputs, options, threads) timed through ffrelax.Relaxer /
ffrelax.relax and through a small C program calling ffr_relax on the same
shared library (compiled here with cc; an ffr_relaxer for the Relaxer rows). One line per shape: the fastest and the median
seconds per call of each and the overhead in percent (the minimum is the
robust figure on a shared machine). Not a test; run it on a quiet
machine:

    make shared && PYTHONPATH=python python3 bench/py_overhead.py [--reps N] [--threads N]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import ffrelax

ROOT = Path(__file__).resolve().parents[1]
C_SRC = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "ffrelax.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
/* usage: prog MODE L n0 .. nL B sweeps reps threads x.bin; MODE relaxer: one ffr_relaxer
 * created once, then ffr_relaxer_run per call; MODE relax: ffr_relax per call. Each call
 * includes its state (as the Python calls return fresh arrays). Prints each call's seconds. */
int main(int argc, char **argv) {
    int relaxer = argv[1][5] == 'e', L = atoi(argv[2]), n[FFR_MAX_LAYERS];
    for (int k = 0; k <= L; k++) n[k] = atoi(argv[3 + k]);
    int B = atoi(argv[4 + L]), sweeps = atoi(argv[5 + L]), reps = atoi(argv[6 + L]), threads = atoi(argv[7 + L]);
    FILE *f = fopen(argv[8 + L], "rb");
    float *x = malloc(sizeof(float) * B * n[0]);
    if (!f || fread(x, sizeof(float), (size_t)B * n[0], f) != (size_t)B * n[0]) return 1;
    fclose(f);
    ffr_err err; ffr_net *net; ffr_state *st; ffr_relaxer *rx = NULL;
    if (ffr_net_create(&net, L, n, FFR_RULE_DENDRITIC, FFR_RHO_HARDSIGMOID, 0, &err)) return 1;
    ffr_net_init_glorot(net, 1, 1.0f);
    ffr_relax_opts o; ffr_relax_opts_default(&o);
    o.max_sweeps = sweeps; o.measure_every = 1; o.threads = threads;
    if (relaxer && ffr_relaxer_create(&rx, net, &o, B, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (ffr_state_create(&st, net, B, &err)) return 1;
        ffr_status s;
        if (relaxer) { const ffr_trace *tr; s = ffr_relaxer_run(rx, x, B, st, &tr, &err); }
        else { ffr_trace *tr; s = ffr_relax(net, x, B, &o, st, &tr, &err); ffr_trace_free(tr); }
        ffr_state_free(st);
        if (s) { fprintf(stderr, "%s\n", err.msg); return 1; }
        printf("%.9g\n", now() - t0);
    }
    ffr_relaxer_free(rx);
    ffr_net_free(net);
    free(x);
    return 0;
}
"""


def c_time(exe, mode, sizes, x, sweeps, reps, threads, tmp):
    xb = Path(tmp) / "x.bin"
    x.tofile(xb)
    out = subprocess.run([exe, mode, str(len(sizes) - 1), *map(str, sizes), str(x.shape[0]), str(sweeps), str(reps),
                          str(threads), str(xb)], capture_output=True, text=True, check=True).stdout
    return [float(v) for v in out.split()]


def py_time(fn, reps):
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-large", action="store_true", help="skip relax at B = 1000")
    a = ap.parse_args()
    lib = Path(ffrelax.lib_path())
    with tempfile.TemporaryDirectory() as tmp:
        exe = str(Path(tmp) / "relax_c")
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-x", "c", "-", "-x", "none", f"-I{ROOT / 'include'}", str(lib),
                        f"-Wl,-rpath,{lib.parent}", "-o", exe], input=C_SRC, text=True, check=True)
        print(f"# {ffrelax.blas_info()}; threads {a.threads}; {a.rounds} interleaved rounds of {a.reps} calls "
              f"(B = 1000: {max(2, a.reps // 10)}); seconds per call; {lib}")
        print(f"{'what':<10} {'sizes':<18} {'B':>5} {'sweeps':>6} {'C min':>10} {'Py min':>10} {'over':>8} "
              f"{'C median':>10} {'Py median':>10} {'over':>8}")
        for what, sizes, B, sweeps in (("Relaxer", [8, 4, 2], 1, 1),  # the fixed cost of a call
                                       ("Relaxer", [784, 500, 500, 500], 1, 100),
                                       ("Relaxer", [784, 200, 100], 1, 20),
                                       ("Relaxer", [784, 500, 500, 500], 1, 5),
                                       ("relax", [784, 500, 500, 500], 1000, 20)):
            if B > 1 and a.no_large:
                continue
            net = ffrelax.Net.init(sizes, tied=False, seed=1)
            x = np.random.default_rng(0).random((B, sizes[0]), dtype=np.float32)
            reps = a.reps if B == 1 else max(2, a.reps // 10)
            if what == "Relaxer":
                rx = ffrelax.Relaxer(net, max_batch=B, max_sweeps=sweeps, threads=a.threads)
                fn = lambda: rx.run(x)  # noqa: E731
            else:
                fn = lambda: ffrelax.relax(net, x, max_sweeps=sweeps, threads=a.threads)  # noqa: E731
            fn()  # warm up
            tc, tp = [], []
            for _ in range(a.rounds):  # interleaved, so that load from elsewhere hits both alike
                tc += c_time(exe, what.lower(), sizes, x, sweeps, reps, a.threads, tmp)
                tp += py_time(fn, reps)
            print(f"{what:<10} {'-'.join(map(str, sizes)):<18} {B:>5} {sweeps:>6} {min(tc):>10.6f} {min(tp):>10.6f} "
                  f"{100 * (min(tp) - min(tc)) / min(tc):>7.1f}% {np.median(tc):>10.6f} {np.median(tp):>10.6f} "
                  f"{100 * (np.median(tp) - np.median(tc)) / np.median(tc):>7.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
