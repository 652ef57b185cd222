#!/usr/bin/env python3
"""bp_baseline.py - the accuracy ceiling beside ffrelax's EP study: the same
architecture (e.g. 784-1024-10) trained by backpropagation on the same data,
epochs and batch. Hidden units are hard sigmoids (the EP network's rho), the
output is trained with cross-entropy, Adam lr 1e-3 (the prototype's baseline),
PyTorch's nn.Linear init (U(+-1/sqrt(fan_in)), ffrelax's fan-in init).

Needs Debian's python3-torch and python3-numpy. Data: a directory with
{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (Fashion-MNIST:
/usr/share/datasets/fashion-mnist).

    python3 scripts/bp_baseline.py --data /usr/share/datasets/fashion-mnist \
        --archs 784-1024-10,784-1024-1024-10 --epochs 2 --seeds 1 --csv bp.csv

Prints and writes (--csv) one row per arch and seed: arch,seed,epochs,test_err
(a fraction), train_err, seconds; `ffrelax ep-study --bp-csv bp.csv` shows it.
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np


def idx_read(path):
    """Read an IDX file (plain or gzip): uint8 array with its dimensions."""
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            path = p
            break
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic = int.from_bytes(raw[0:4], "big")
    if magic not in (2049, 2051):
        sys.exit(f"{path}: magic: expected 2049 or 2051, found {magic}")
    nd = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd)
    if data.size != int(np.prod(dims)):
        sys.exit(f"{path}: expected {int(np.prod(dims))} values, found {data.size}")
    return data.reshape(dims)


def load(data_dir, split, count=0):
    x = idx_read(os.path.join(data_dir, f"{split}-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255.0
    y = idx_read(os.path.join(data_dir, f"{split}-labels-idx1-ubyte")).astype(np.int64)
    if len(x) != len(y):
        sys.exit(f"{data_dir}: {split}: {len(x)} images but {len(y)} labels")
    if count:
        x, y = x[:count], y[:count]
    return x, y


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--archs", default="784-1024-10,784-1024-1024-10")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--count", type=int, default=0, help="training examples (default all)")
    ap.add_argument("--test-count", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--csv", default=None)
    a = ap.parse_args()
    import torch
    if a.threads:
        torch.set_num_threads(a.threads)
    xtr, ytr = load(a.data, "train", a.count)
    xte, yte = load(a.data, "t10k", a.test_count)
    xtr_t, ytr_t = torch.from_numpy(xtr), torch.from_numpy(ytr)
    xte_t, yte_t = torch.from_numpy(xte), torch.from_numpy(yte)
    rows = []
    for arch in a.archs.split(","):
        sizes = [int(v) for v in arch.split("-")]
        for seed in [int(s) for s in a.seeds.split(",")]:
            torch.manual_seed(seed)
            layers = []
            for i in range(len(sizes) - 1):
                layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
                if i < len(sizes) - 2:
                    layers.append(torch.nn.Hardtanh(0.0, 1.0))  # the hard sigmoid max(0, min(1, s))
            net = torch.nn.Sequential(*layers)
            opt = torch.optim.Adam(net.parameters(), lr=a.lr)
            g = torch.Generator().manual_seed(seed)
            t0 = time.time()
            for _ in range(a.epochs):
                perm = torch.randperm(len(xtr_t), generator=g)
                for i in range(0, len(perm), a.batch):
                    idx = perm[i:i + a.batch]
                    loss = torch.nn.functional.cross_entropy(net(xtr_t[idx]), ytr_t[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            dt = time.time() - t0
            with torch.no_grad():
                te = (net(xte_t).argmax(1) != yte_t).float().mean().item()
                tr = (net(xtr_t).argmax(1) != ytr_t).float().mean().item()
            rows.append((arch, seed, a.epochs, te, tr, dt))
            print(f"{arch} seed {seed}: {a.epochs} epochs, test error {100 * te:.2f}%, train error {100 * tr:.2f}%, "
                  f"{dt:.1f} s", flush=True)
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("arch,seed,epochs,test_err,train_err,seconds\n")
            for r in rows:
                f.write(f"{r[0]},{r[1]},{r[2]},{r[3]:.6g},{r[4]:.6g},{r[5]:.3f}\n")


if __name__ == "__main__":
    main()
