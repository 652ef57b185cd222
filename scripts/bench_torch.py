#!/usr/bin/python3
"""bench_torch.py - the ffrelax sweep in PyTorch (fp32 and bf16), for comparison.

The same network and inputs as bench/bench_sweep (written by
`bench_sweep --export DIR H B`): dendritic rule (Eq. 16) with gains 1, hard
sigmoid, tied weights (V_k = W_k^T), layer 0 clamped to x, direct updates
(eps = 1), odd/even schedule (doc/math.md):

    odd:  s1 = ((x W1^T + b1) + (r2 W2 + c1)) / 2,   s3 = r2 W3^T + b3
    even: s2 = ((r1 W2^T + b2) + (r3 W3 + c2)) / 2,  r_k = clamp(s_k, 0, 1)

Two ways of writing it, both timed, the faster is "best":
  plain:   as published energy-based-learning code does it: every product every
           sweep (x W1^T included), fresh tensors for every intermediate;
  careful: x W1^T + b1 + c1 computed once, addmm into preallocated buffers with
           alpha/beta, in-place clamp (no allocation in the loop).
bf16 runs the careful sweep with weights and states in torch.bfloat16
(oneDNN/MKL-DNN matmul inside PyTorch).

It first verifies: 5 fp32 sweeps from the feedforward start (Eq. 17) of the
first 7 inputs match the C engine's states (DIR/ref_state*.npy) to 1e-4.
One line per (dtype, variant, B, threads): ms per sweep median/min/max over
>= 5 repeats, GFLOP/s on the products ffrelax does (4 per sweep) and on the
naive count. Run with Debian's python3 (python3-torch 1.13):

    /usr/bin/python3 scripts/bench_torch.py DIR [--batches 1,32,256,1000] [--threads 1,2]
        [--reps 5 (--e2e: repeats of the 60 sweeps)] [--e2e]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch


def set_threads(th):
    """torch.set_num_threads does not reach the OpenBLAS that Debian's torch uses
    for fp32 matmul (it stays at its own default, all cores): set both."""
    import ctypes
    torch.set_num_threads(th)
    for p in sorted({l.split()[-1] for l in open("/proc/self/maps") if "openblas" in l and l.rstrip().endswith(".so")}):
        try:
            ctypes.CDLL(p).openblas_set_num_threads(th)
        except (OSError, AttributeError):
            pass


class Net:
    """The exported network: W[k] (n_k, n_{k-1}), b[k], c[k]; D[k] maps r_k to
    layer k-1's apical input (r_k @ D[k]): W[k] when tied, V[k]^T when the
    export has V{k}.npy (n_{k-1}, n_k); the Eq. 16 weights cu[k], cd[k] from
    gains.npy (alpha_up; alpha_down rows), 1/2 each when absent."""

    def __init__(self, d):
        ld = lambda n: torch.from_numpy(np.load(os.path.join(d, n)).astype(np.float32))
        self.W = [None] + [ld(f"W{k}.npy") for k in (1, 2, 3)]
        self.b = [None] + [ld(f"b{k}.npy") for k in (1, 2, 3)]
        self.c = []
        for k in (0, 1, 2):
            p = os.path.join(d, f"c{k}.npy")
            self.c.append(ld(f"c{k}.npy") if os.path.exists(p) else torch.zeros(self.W[k + 1].shape[1]))
        self.tied = not os.path.exists(os.path.join(d, "V1.npy"))
        self.D = [None] + [self.W[k] if self.tied else ld(f"V{k}.npy").t() for k in (1, 2, 3)]
        g = np.load(os.path.join(d, "gains.npy")).astype(np.float64) if os.path.exists(os.path.join(d, "gains.npy")) else None
        self.cu, self.cd = [0.0] * 4, [0.0] * 4
        for k in (1, 2, 3):
            au = g[0, k] if g is not None else 1.0
            ad = (g[1, k] if g is not None else 1.0) if k < 3 else 0.0
            self.cu[k], self.cd[k] = au / (au + ad), ad / (au + ad)


def load_net(d):
    n = Net(d)
    return n, n.b, n.c


def ff_start(W, b, x):
    """Eq. 17: s_k = f_k(s_{k-1}) = b_k + W_k rho(s_{k-1})."""
    s = [x]
    for k in (1, 2, 3):
        s.append(torch.clamp(s[-1], 0, 1) @ W.W[k].t() + b[k])
    return s


def sweep_plain(N, b, c, x, s):
    """One odd/even sweep (Eq. 16), every product recomputed, new tensors each time."""
    W, D, cu, cd = N.W, N.D, N.cu, N.cd
    r2 = torch.clamp(s[2], 0, 1)
    s1 = cu[1] * (torch.clamp(x, 0, 1) @ W[1].t() + b[1]) + cd[1] * (r2 @ D[2] + c[1])
    s3 = r2 @ W[3].t() + b[3]
    r1, r3 = torch.clamp(s1, 0, 1), torch.clamp(s3, 0, 1)
    s2 = cu[2] * (r1 @ W[2].t() + b[2]) + cd[2] * (r3 @ D[3] + c[2])
    return [x, s1, s2, s3]


class Careful:
    """Preallocated buffers, the clamped product once, addmm with alpha/beta."""

    def __init__(self, N, b, c, x, s, dtype):
        cv = lambda t: t.to(dtype).contiguous()
        self.cu, self.cd = N.cu, N.cd
        self.W2t = cv(N.W[2]).t()
        self.W3t = cv(N.W[3]).t()
        self.D2, self.D3 = cv(N.D[2]), cv(N.D[3])
        self.bias2 = cv(N.cu[2] * b[2] + N.cd[2] * c[2])
        self.b3 = cv(b[3])
        self.up1 = cv(N.cu[1] * (torch.clamp(x, 0, 1) @ N.W[1].t() + b[1]) + N.cd[1] * c[1])  # once per relaxation
        self.s = [None] + [cv(t) for t in s[1:]]
        self.r = [None] + [torch.clamp(t, 0, 1) for t in self.s[1:]]

    def sweep(self):
        s, r = self.s, self.r
        torch.addmm(self.up1, r[2], self.D2, beta=1, alpha=self.cd[1], out=s[1])
        torch.addmm(self.b3, r[2], self.W3t, out=s[3])
        torch.clamp(s[1], 0, 1, out=r[1])
        torch.clamp(s[3], 0, 1, out=r[3])
        torch.addmm(self.bias2, r[1], self.W2t, beta=1, alpha=self.cu[2], out=s[2])
        s[2].addmm_(r[3], self.D3, beta=1, alpha=self.cd[2])
        torch.clamp(s[2], 0, 1, out=r[2])


def timed(fn, sweeps, reps):
    v = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(sweeps):
            fn()
        v.append((time.perf_counter() - t0) / sweeps)
    v.sort()
    return np.median(v), v[0], v[-1]


def e2e(a, W, b, c):
    """The published-code inference setting: 60 odd/even sweeps from zero, fp32."""
    x = torch.from_numpy(np.load(os.path.join(a.dir, "x.npy")).astype(np.float32))
    sstar = [torch.from_numpy(np.load(os.path.join(a.dir, f"sstar{k}.npy"))) for k in (1, 2, 3)]
    B = x.shape[0]
    best = None
    for th in [int(t) for t in a.threads.split(",")]:
        set_threads(th)
        for var in ("plain", "careful"):
            ts = []
            for _ in range(max(1, a.reps)):
                with torch.no_grad():
                    t0 = time.perf_counter()
                    s0 = [x] + [torch.zeros(B, W.W[k].shape[0]) for k in (1, 2, 3)]
                    if var == "plain":
                        s = s0
                        for _ in range(60):
                            s = sweep_plain(W, b, c, x, s)
                        fin = s[1:]
                    else:
                        cf = Careful(W, b, c, x, s0, torch.float32)
                        for _ in range(60):
                            cf.sweep()
                        fin = cf.s[1:]
                    ts.append(time.perf_counter() - t0)
            ts.sort()
            num = sum(((fin[i] - sstar[i]) ** 2).sum(1) for i in range(3))
            den = sum((sstar[i] ** 2).sum(1) for i in range(3))
            d = torch.sqrt(num / den).double()
            print(f"pytorch zero-start 60 sweeps fp32 {var:7s} {th} thr: {ts[len(ts) // 2]:.4f} s (median of {len(ts)}); "
                  f"||s - s*|| / ||s*|| median {d.median().item():.3e} mean {d.mean().item():.3e} max {d.max().item():.3e}", flush=True)
            if best is None or ts[len(ts) // 2] < best[0]:
                best = (ts[len(ts) // 2], var, th)
    print(f"pytorch best: {best[0]:.4f} s ({best[1]}, {best[2]} thr)")
    # the distance along the way (the best setting, one more run): what PyTorch reaches in
    # the time ffrelax takes, at best[0] / 60 s per sweep
    set_threads(best[2])
    with torch.no_grad():
        cf = Careful(W, b, c, x, [x] + [torch.zeros(B, W.W[k].shape[0]) for k in (1, 2, 3)], torch.float32)
        marks = (1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 60)
        for t in range(1, 61):
            cf.sweep()
            if t in marks:
                num = sum(((cf.s[i + 1] - sstar[i]) ** 2).sum(1) for i in range(3))
                den = sum((sstar[i] ** 2).sum(1) for i in range(3))
                d = torch.sqrt(num / den).double()
                print(f"pytorch zero-start after {t} sweeps ({t * best[0] / 60:.4f} s at its best rate): "
                      f"distance median {d.median().item():.3e}")
    return 0


def sae(a):
    """One epoch of the greedy stacked auto-encoder's layer training in PyTorch,
    the same as `ffrelax train --method sae` (untied decoder, voltage target,
    hard sigmoid, MSE, Adam lr 1e-3, batch 100): h = x W^T + b, y = rho(h) V^T + c,
    loss = mean((y - t)^2), autograd, torch.optim.Adam. Pairs 784-H and H-H on
    9,000 examples (the digits for 784-H, their codes for H-H)."""
    import gzip
    with gzip.open(a.sae) as f:
        raw = f.read()
    x0 = torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255.0)[:9000]
    H = a.sae_hidden
    g = torch.Generator().manual_seed(1)
    print(f"# torch {torch.__version__}: SAE layer training, batch 100, Adam 1e-3, {x0.shape[0]} examples, epoch time (median of {a.sae_epochs})")
    for th in [int(t) for t in a.threads.split(",")]:
        set_threads(th)
        x = x0
        for nv, nh in ((784, H), (H, H)):
            lim = (6.0 / (nv + nh)) ** 0.5
            W = ((torch.rand(nh, nv, generator=g) * 2 - 1) * lim).requires_grad_()
            V = ((torch.rand(nv, nh, generator=g) * 2 - 1) * lim).requires_grad_()
            b = torch.zeros(nh, requires_grad=True)
            c = torch.zeros(nv, requires_grad=True)
            opt = torch.optim.Adam([W, b, V, c], lr=1e-3)
            X = torch.clamp(x, 0, 1)  # the encoder's input rho(h) (the image itself for layer 1)
            ts = []
            for ep in range(a.sae_epochs):
                perm = torch.randperm(x.shape[0], generator=g)
                t0 = time.perf_counter()
                for i in range(0, x.shape[0], 100):
                    idx = perm[i:i + 100]
                    xb, tb = X[idx], x[idx]
                    h = torch.addmm(b, xb, W.t())
                    y = torch.addmm(c, torch.clamp(h, 0, 1), V.t())
                    loss = ((y - tb) ** 2).mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                ts.append(time.perf_counter() - t0)
            ts.sort()
            print(f"pytorch sae epoch {nv}-{nh} {th} thr: {ts[len(ts) // 2]:.3f} s (min {ts[0]:.3f}), loss {loss.item():.5f}", flush=True)
            with torch.no_grad():
                x = torch.addmm(b, X, W.t())  # the next pair trains on this pair's codes
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--batches", default="1,32,256,1000")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--e2e", action="store_true", help="DIR from bench_e2e relax: 60 sweeps from zero, distance to s*")
    ap.add_argument("--sae", metavar="IMAGES_IDX_GZ", help="time PyTorch SAE training epochs instead (DIR is ignored)")
    ap.add_argument("--sae-hidden", type=int, default=1000)
    ap.add_argument("--sae-epochs", type=int, default=3)
    a = ap.parse_args()
    if a.sae:
        return sae(a)
    W, b, c = load_net(a.dir)
    if a.e2e:
        return e2e(a, W, b, c)
    X = torch.from_numpy(np.load(os.path.join(a.dir, "x.npy")).astype(np.float32))
    n = [W.W[1].shape[1]] + [W.W[k].shape[0] for k in (1, 2, 3)]
    shape = f"{n[0]}-{n[1]}x3"
    done = 2.0 * (2 * n[1] * n[2] + 2 * n[2] * n[3])
    naive = done + 2.0 * n[0] * n[1]

    # verify against the C engine (5 sweeps from the ff start, first 7 inputs)
    torch.set_num_threads(1)
    xv = X[:7]
    ref = [np.load(os.path.join(a.dir, f"ref_state{k}.npy")) for k in (1, 2, 3)]
    s = ff_start(W, b, xv)
    for _ in range(5):
        s = sweep_plain(W, b, c, xv, s)
    cf = Careful(W, b, c, xv, ff_start(W, b, xv), torch.float32)
    for _ in range(5):
        cf.sweep()
    ok = True
    for name, st in (("plain", s[1:]), ("careful", cf.s[1:])):
        md = max(float(np.max(np.abs(st[i].numpy() - ref[i]) / (1 + np.abs(ref[i])))) for i in range(3))
        good = md < 1e-4 and max(float(np.abs(r).max()) for r in ref) > 0.1
        print(f"# verify torch {name} fp32 vs ffrelax engine, 5 sweeps, B=7: max rel diff {md:.2e} {'PASS' if good else 'FAIL'}")
        ok &= good
    if not ok:
        print("bench_torch: verification FAILED; no timing")
        return 1

    print(f"# torch {torch.__version__}, {torch.__config__.parallel_info().splitlines()[0] if hasattr(torch.__config__, 'parallel_info') else ''}")
    print(f"{'shape':18s} {'B':>6s} {'thr':>3s} {'dtype':>5s} {'variant':>8s} {'ms_med':>9s} {'ms_min':>9s} {'ms_max':>9s} {'GF/s':>8s} {'GF/s_nv':>8s}")
    for B in [int(t) for t in a.batches.split(",")]:
        x = X[:B] if B <= X.shape[0] else X.repeat((B + X.shape[0] - 1) // X.shape[0], 1)[:B].contiguous()
        sweeps = 40 if B <= 32 else 8 if B <= 1000 else 4
        for th in [int(t) for t in a.threads.split(",")]:
            set_threads(th)
            for dt in a.dtypes.split(","):
                variants = ["plain", "careful"] if dt == "fp32" else ["careful"]
                for var in variants:
                    with torch.no_grad():
                        s0 = ff_start(W, b, x)
                        if var == "plain":
                            state = [s0]
                            fn = lambda: state.__setitem__(0, sweep_plain(W, b, c, x, state[0]))
                        else:
                            cfb = Careful(W, b, c, x, s0, torch.float32 if dt == "fp32" else torch.bfloat16)
                            fn = cfb.sweep
                        fn()  # warm up
                        med, mn, mx = timed(fn, sweeps, max(a.reps, 5))
                    print(f"{shape:18s} {B:6d} {th:3d} {dt:>5s} {var:>8s} {med*1e3:9.3f} {mn*1e3:9.3f} {mx*1e3:9.3f} "
                          f"{done*B/med*1e-9:8.1f} {naive*B/med*1e-9:8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
