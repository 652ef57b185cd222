#!/usr/bin/python3
"""sae_ref.py - the training contract's greedy stacked auto-encoder in float64 NumPy.

An independent implementation of what `ffrelax train --method sae` does
(src/train_sae.c, doc/training.md), to tell the recipe from its float32 C
arithmetic: layer k's auto-encoder reads rho(h_{k-1}) (the image for k = 1),
encodes h_k = b_k + W_k rho(h_{k-1}), decodes g = c_{k-1} + V_k rho(h_k)
(untied decoder), target h_{k-1} (voltage); loss (1/2B) sum ||g - t||^2;
backprop through the hard sigmoid (derivative 1 on (0, 1)); Adam (beta
0.9/0.999, eps 1e-8, bias-corrected, moments reset for each layer); batch
100; the shuffle of every epoch (Fisher-Yates with the library's
xoshiro256** generator seeded with --seed, one generator across the layers),
so the same minibatches as the C trainer. Held-out metric (each pair after
its training, as the trainer's metrics CSV): sqrt(sum (h - g)^2 / sum h^2)
over the held-out examples, h the voltage of layer k-1 from the trained
encoders.

    ffrelax init --sizes 784,500,500,500 --seed 1 --out init.ffr   # the same start for both
    ffrelax export --model init.ffr --npy-dir init
    ffrelax train --method sae --init-model init.ffr --images $D/train-images-idx3-ubyte.gz \\
        --holdout-images $D/t10k-images-idx3-ubyte.gz --epochs E --batch 100 --lr 1e-3 \\
        --optimizer adam --decoder untied --target voltage --seed 1 --out c.ffr --metrics c.csv
    /usr/bin/python3 scripts/sae_ref.py --init init --data $D --epochs E [--seed 1] [--dtype float64]

Options to find what matters: --dtype float32 (the C trainer's precision in
NumPy's order of sums), --shuffle numpy (another shuffle), --v-init
glorot-indep (a fresh Glorot V instead of V = W^T), --trained-pairs N (take
pairs 1..N from --init as trained), --save DIR (the trained pairs as .npy).

What it showed (doc/training.md, "The SAE contract against a float64
reference"): the same init and minibatches give the same training up to
rounding; the last epoch's held-out error swings by up to 40% from epoch to
epoch in both (Adam at a constant rate does not settle), and the means of the
last six epochs agree to 1%.
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np

M64 = (1 << 64) - 1


class Xoshiro:
    """The library's ffr_rng (src/util.c): xoshiro256** seeded by splitmix64."""

    def __init__(self, seed):
        x, s = seed & M64, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            s.append(z ^ (z >> 31))
        self.s = s

    def u64(self):
        s0, s1, s2, s3 = self.s
        r = ((((s1 * 5) & M64) << 7 | ((s1 * 5) & M64) >> 57) & M64) * 9 & M64
        t = (s1 << 17) & M64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & M64
        self.s = [s0, s1, s2, s3]
        return r

    def shuffle(self, n):
        """ffr_train_shuffle: perm = 0..n-1, then for i = n..2: swap perm[i-1], perm[u64 % i]."""
        p = list(range(n))
        for i in range(n, 1, -1):
            j = self.u64() % i
            p[i - 1], p[j] = p[j], p[i - 1]
        return np.array(p)


def idx_images(path):
    with gzip.open(path) as f:
        raw = f.read()
    n, r, c = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, r * c) / 255.0


def rho(a):
    return np.clip(a, 0.0, 1.0)


def heldout(Hh, P):
    """sqrt(sum (h - g)^2 / sum h^2) of the pair P = (W, b, V, c) on the held-out voltages Hh."""
    Gh = rho(rho(Hh) @ P[0].T + P[1]) @ P[2].T + P[3]
    return np.sqrt(((Hh - Gh) ** 2).sum() / (Hh ** 2).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--init", required=True, help="folder of the initial model's npy export (W1.npy, V1.npy, b1.npy, c0.npy, ..)")
    ap.add_argument("--data", required=True, help="MNIST folder (train-images-idx3-ubyte.gz, t10k-images-idx3-ubyte.gz)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=0, help="train on the first N digits (default all)")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--shuffle", default="ffr", choices=["ffr", "numpy"])
    ap.add_argument("--v-init", default="transpose", choices=["transpose", "glorot-indep"])
    ap.add_argument("--trained-pairs", type=int, default=0, metavar="N",
                    help="pairs 1..N of --init are trained already: measure them, train from pair N+1 (its start from --init too)")
    ap.add_argument("--save", metavar="DIR", help="write the trained W{k}, b{k}, V{k}, c{k-1} there as .npy (float32)")
    a = ap.parse_args()
    dt = np.float64 if a.dtype == "float64" else np.float32
    ld = lambda n: np.load(os.path.join(a.init, n)).astype(dt)
    L = 1
    while os.path.exists(os.path.join(a.init, f"W{L + 1}.npy")):
        L += 1
    W = [None] + [ld(f"W{k}.npy") for k in range(1, L + 1)]
    b = [None] + [ld(f"b{k}.npy") for k in range(1, L + 1)]
    c = [ld(f"c{k}.npy") for k in range(L)]
    if os.path.exists(os.path.join(a.init, "V1.npy")):
        V = [None] + [ld(f"V{k}.npy") for k in range(1, L + 1)]
    else:
        V = [None] + [w.T.copy() for w in W[1:]]
    npr = np.random.RandomState(a.seed)
    if a.v_init == "glorot-indep":
        for k in range(1, L + 1):
            nh, nv = W[k].shape
            V[k] = (npr.uniform(-1, 1, (nv, nh)) * np.sqrt(6.0 / (nv + nh))).astype(dt)
    x = idx_images(os.path.join(a.data, "train-images-idx3-ubyte.gz")).astype(dt)
    if a.count:
        x = x[:a.count]
    xh = idx_images(os.path.join(a.data, "t10k-images-idx3-ubyte.gz")).astype(dt)
    rng = Xoshiro(a.seed)
    H, Hh = x, xh  # the layer's inputs h_{k-1} (voltages; the images for k = 1)
    n = H.shape[0]
    print(f"# sae_ref: {a.dtype}, {L} pairs, {n} digits, {xh.shape[0]} held out, {a.epochs} epochs, batch {a.batch}, "
          f"Adam lr {a.lr} eps {a.eps}, shuffle {a.shuffle}, V init {a.v_init}", flush=True)
    rel = []
    for k in range(1, L + 1):
        P = [W[k], b[k], V[k], c[k - 1]]
        Mo = [np.zeros_like(p) for p in P]
        Vo = [np.zeros_like(p) for p in P]
        t = 0
        X = rho(H)
        t0 = time.time()
        for ep in range(a.epochs if k > a.trained_pairs else 0):
            perm = rng.shuffle(n) if a.shuffle == "ffr" else npr.permutation(n)
            sse = 0.0
            for b0 in range(0, n, a.batch):
                idx = perm[b0:b0 + a.batch]
                B = len(idx)
                Xb, Tb = X[idx], H[idx]
                A = Xb @ P[0].T + P[1]
                R = rho(A)
                E = R @ P[2].T + P[3] - Tb
                sse += float((E * E).sum())
                dY = E / B
                D = (dY @ P[2]) * ((A > 0) & (A < 1))
                G = [D.T @ Xb, D.sum(0), dY.T @ R, dY.sum(0)]
                t += 1
                c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
                for i in range(4):
                    Mo[i] = 0.9 * Mo[i] + 0.1 * G[i]
                    Vo[i] = 0.999 * Vo[i] + 0.001 * G[i] * G[i]
                    P[i] -= a.lr * (Mo[i] / c1) / (np.sqrt(Vo[i] / c2) + a.eps)
            r = heldout(Hh, P)
            print(f"pair {k} epoch {ep + 1}/{a.epochs}: train mse {sse / (n * H.shape[1]):.6f}, held-out relative "
                  f"reconstruction error {r:.5f} ({time.time() - t0:.0f} s)", flush=True)
        if k <= a.trained_pairs:
            r = heldout(Hh, P)
            print(f"pair {k} (trained, from --init): held-out relative reconstruction error {r:.5f}", flush=True)
        rel.append(r)
        if a.save:
            os.makedirs(a.save, exist_ok=True)
            for nm, p in zip((f"W{k}", f"b{k}", f"V{k}", f"c{k - 1}"), P):
                np.save(os.path.join(a.save, nm + ".npy"), p.astype(np.float32))
        H, Hh = rho(H) @ P[0].T + P[1], rho(Hh) @ P[0].T + P[1]  # the next pair trains on these codes
    print("held-out relative reconstruction errors: " + " / ".join(f"{r:.4f}" for r in rel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
