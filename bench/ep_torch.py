#!/usr/bin/env python3
"""ep_torch.py - equilibrium propagation in PyTorch with the anchors' schedule
(zero start, exactly F free and N nudged sweeps), on the same weights as
ffrelax: verify, then time.

1. verify: ffrelax makes an initial model (fan-in init, seed S), trains it for
   one full-batch step on the first --check-count examples with the anchors'
   schedule (train --method ep --init zero --fixed-sweeps F,N --batch = count
   --epochs 1: one SGD step, so the shuffle does not matter); this script does
   the same step from the same weights (odd/even sweeps, odd layers first, as
   ffrelax's engine; hopfield rule, hard sigmoid, centered nudge) and compares
   the updates: ||dW_torch - dW_ffrelax|| / ||dW_ffrelax|| per layer must be
   < 1e-3, else it stops before timing.
2. time: one epoch of --count examples, batch 100, in PyTorch (anchors'
   schedule) and in ffrelax with the anchors' schedule and with its own
   (feedforward start, relative tol 1e-3); prints seconds per epoch and the
   ratios. Same threads (--threads, default 2) for both.

    python3 bench/ep_torch.py --ffrelax build/ffrelax --data /usr/share/datasets/fashion-mnist \
        --sizes 784,1024,1024,10 --fixed 50,20 --count 6000
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from bp_baseline import load  # noqa: E402  (the IDX reader)


def run(cmd, env):
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r


def load_npy(d, L):
    W = [None] + [np.load(os.path.join(d, f"W{k}.npy")) for k in range(1, L + 1)]
    b = [None] + [np.load(os.path.join(d, f"b{k}.npy")) if os.path.exists(os.path.join(d, f"b{k}.npy"))
                  else np.zeros(W[k].shape[0], np.float32) for k in range(1, L + 1)]
    c = [np.load(os.path.join(d, f"c{k}.npy")) if os.path.exists(os.path.join(d, f"c{k}.npy"))
         else np.zeros(W[k + 1].shape[1], np.float32) for k in range(L)]
    return W, b, c


class EP:
    """Hopfield EP (tied, hard sigmoid): states s[1..L] are rates in [0,1]."""

    def __init__(self, torch, W, b, c, beta, lrs, momentum):
        t = torch
        self.t = t
        self.L = len(W) - 1
        self.W = [None] + [t.tensor(w) for w in W[1:]]
        self.b = [None] + [t.tensor(v) for v in b[1:]]
        # the bias of layer k: b_k + c_k (c_k: the top-down branch's offset, k < L)
        self.c = [t.tensor(v) for v in c]
        self.beta, self.lrs, self.mu = beta, lrs, momentum
        self.vW = [None] + [t.zeros_like(w) for w in self.W[1:]]
        self.vb = [None] + [t.zeros_like(v) for v in self.b[1:]]

    def relax(self, x, s, up1, T, beta=0.0, y=None):
        t, L = self.t, self.L
        for _ in range(T):
            for par in (1, 0):
                for k in range(1, L + 1):
                    if k % 2 != par:
                        continue
                    u = (up1 if k == 1 else s[k - 1] @ self.W[k].T) + self.b[k]
                    if k < L:
                        u = u + s[k + 1] @ self.W[k + 1] + self.c[k]
                    if k == L and beta != 0.0:
                        u = u + beta * (y - s[L])
                    s[k] = t.clamp(u, 0.0, 1.0)
        return s

    def step(self, x, y, F, N):
        t, L = self.t, self.L
        B = x.shape[0]
        up1 = x @ self.W[1].T  # the clamped input's product, once per phase (as ffrelax)
        s = [x] + [t.zeros(B, self.W[k].shape[0]) for k in range(1, L + 1)]
        s = self.relax(x, s, up1, F)
        sp = self.relax(x, list(s), up1, N, self.beta, y)
        sm = self.relax(x, list(s), up1, N, -self.beta, y)
        cf = 1.0 / (2 * self.beta * B)
        for k in range(1, L + 1):
            gW = -cf * (sp[k].T @ sp[k - 1] - sm[k].T @ sm[k - 1])
            gb = -cf * (sp[k] - sm[k]).sum(0)
            lr = self.lrs[min(k, len(self.lrs)) - 1]
            self.vW[k].mul_(self.mu).add_(gW, alpha=-lr)
            self.vb[k].mul_(self.mu).add_(gb, alpha=-lr)
            self.W[k].add_(self.vW[k])
            self.b[k].add_(self.vb[k])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ffrelax", default="build/ffrelax")
    ap.add_argument("--data", required=True)
    ap.add_argument("--sizes", default="784,1024,1024,10")
    ap.add_argument("--fixed", default="50,20", help="anchors' free,nudged sweeps")
    ap.add_argument("--count", type=int, default=6000, help="examples timed (seconds are scaled to 60,000)")
    ap.add_argument("--check-count", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    F, N = (int(v) for v in a.fixed.split(","))
    sizes = [int(v) for v in a.sizes.split(",")]
    L = len(sizes) - 1
    lrs = [0.02] + [0.01 * 256 / sizes[k - 1] for k in range(2, L + 1)]  # ffr_ep_default_lr
    ff = os.path.abspath(a.ffrelax)
    tr_img = os.path.join(a.data, "train-images-idx3-ubyte.gz")
    tr_lab = os.path.join(a.data, "train-labels-idx1-ubyte.gz")
    x, y = load(a.data, "train")
    tmp = tempfile.mkdtemp(prefix="ep_torch.")
    init, one = os.path.join(tmp, "init.ffr"), os.path.join(tmp, "one.ffr")
    base = [ff, "train", "--method", "ep", "--images", tr_img, "--labels", tr_lab, "--quiet", "--seed", str(a.seed)]
    run(base + ["--sizes", a.sizes, "--epochs", "0", "--out", init], env)
    # 1. one full-batch step, both sides
    n = a.check_count
    run(base + ["--init-model", init, "--count", str(n), "--batch", str(n), "--epochs", "1", "--init", "zero",
                "--fixed-sweeps", a.fixed, "--out", one], env)
    for m, d in ((init, "init"), (one, "one")):
        run([ff, "export", "--model", m, "--npy-dir", os.path.join(tmp, d)], env)
    W0, b0, c0 = load_npy(os.path.join(tmp, "init"), L)
    W1, b1, _ = load_npy(os.path.join(tmp, "one"), L)
    ep = EP(torch, W0, b0, c0, 0.2, lrs, 0.9)
    xt = torch.from_numpy(x[:n])
    yt = torch.nn.functional.one_hot(torch.from_numpy(y[:n]), sizes[-1]).float()
    ep.step(xt, yt, F, N)
    worst = 0.0
    for k in range(1, L + 1):
        d_ff = W1[k] - W0[k]
        d_t = ep.W[k].numpy() - W0[k]
        rel = np.linalg.norm(d_t - d_ff) / max(np.linalg.norm(d_ff), 1e-30)
        worst = max(worst, rel)
        print(f"check layer {k}: |dW| ffrelax {np.linalg.norm(d_ff):.4g}, torch {np.linalg.norm(d_t):.4g}, "
              f"relative difference {rel:.2e}")
    if not worst < 1e-3:
        sys.exit(f"the PyTorch update differs from ffrelax's (relative {worst:.2e} >= 1e-3): not timing")
    # 2. time one epoch of a.count examples
    ep = EP(torch, W0, b0, c0, 0.2, lrs, 0.9)
    xt, yt = torch.from_numpy(x[:a.count]), torch.nn.functional.one_hot(torch.from_numpy(y[:a.count]), sizes[-1]).float()
    g = torch.Generator().manual_seed(a.seed)
    perm = torch.randperm(a.count, generator=g)
    t0 = time.time()
    for i in range(0, a.count, 100):
        idx = perm[i:i + 100]
        ep.step(xt[idx], yt[idx], F, N)
    t_torch = (time.time() - t0) * 60000 / a.count
    res = {}
    for name, extra in (("anchors", ["--init", "zero", "--fixed-sweeps", a.fixed]), ("ffrelax", [])):
        m = os.path.join(tmp, f"{name}.csv")
        run(base + ["--init-model", init, "--count", str(a.count), "--epochs", "1", "--metrics", m,
                    "--out", os.path.join(tmp, f"{name}.ffr")] + extra, env)
        with open(m) as f:
            row = list(csv.DictReader(f))[-1]
        res[name] = (float(row["seconds"]) * 60000 / a.count, float(row["free_sweeps_mean"]), float(row["nudged_sweeps_mean"]))
    print(f"{a.sizes}, {a.count} examples timed, {a.threads} threads, seconds per 60,000-example epoch:")
    print(f"  PyTorch EP, anchors {F}/{N} (zero start): {t_torch:.1f} s")
    print(f"  ffrelax,    anchors {F}/{N} (zero start): {res['anchors'][0]:.1f} s")
    print(f"  ffrelax,    ff start, tol 1e-3:          {res['ffrelax'][0]:.1f} s "
          f"(sweeps free {res['ffrelax'][1]:.2f}, nudged {res['ffrelax'][2]:.2f})")
    print(f"  ratios: ffrelax own vs ffrelax anchors {res['anchors'][0] / res['ffrelax'][0]:.1f}x, "
          f"vs PyTorch anchors {t_torch / res['ffrelax'][0]:.1f}x; ffrelax anchors vs PyTorch anchors "
          f"{t_torch / res['anchors'][0]:.1f}x")


if __name__ == "__main__":
    main()
