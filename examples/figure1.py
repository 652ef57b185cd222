#!/usr/bin/env python3
"""figure1.py - the paper's Figure 1 from the Python API: the mean step size
||s(t) - s(t-1)|| after each odd/even sweep (Eq. 16) from the feedforward start
(Eq. 17), for 784-H-H-H networks with random Glorot weights (feedback = W^T)
and with a greedily trained stack of auto-encoders (untied, voltage target,
Adam), on held-out MNIST digits (`sh scripts/get-data.sh` fetches them).
    PYTHONPATH=python python3 examples/figure1.py [--quick] [--out figure1.png]
"""
import argparse

import matplotlib
import numpy as np

import ffrelax

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--data", default="data/mnist")
ap.add_argument("--hidden", default="500,1000", help="hidden sizes H (quick: 200)")
ap.add_argument("--quick", action="store_true", help="H=200, 15 epochs, 5000 + 200 digits, 100 sweeps")
ap.add_argument("--out", default="figure1.png")
a = ap.parse_args()
Hs = [200] if a.quick else [int(h) for h in a.hidden.split(",")]
epochs, n_train, n_test, sweeps = (15, 5000, 200, 100) if a.quick else (30, 9000, 1000, 300)
xtr, xte = ffrelax.load_mnist(a.data, train=True)[0][:n_train], ffrelax.load_mnist(a.data, train=False)[0][:n_test]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for i, H in enumerate(Hs):
    for trained in (False, True):
        net = ffrelax.Net.init([784, H, H, H], tied=not trained, seed=1 + 1000 * i + trained)
        if trained:
            ffrelax.train_sae(net, xtr, epochs=epochs, batch=100, lr=1e-3, optimizer="adam", seed=1,
                              progress=lambda r: print(f"  H={H} layer {r['layer']} epoch {r['epoch']}: "
                                                       f"loss {r['loss']:.4g}", flush=True))
        r = ffrelax.relax(net, xte, init="ff", max_sweeps=sweeps, tol=1e-7, measure_every=10)
        step = np.nan_to_num(r.step[1:], nan=0.0).mean(axis=1)  # stopped examples count as 0
        label = f"{'auto-encoder' if trained else 'random'}, H={H}"
        print(f"{label}: mean step after sweep 1, 20, {r.T}: {step[0]:.3g}, {step[min(19, r.T - 1)]:.3g}, {step[-1]:.3g}")
        for ax in axes:
            ax.plot(np.arange(1, r.T + 1), step, ("--" if i % 2 else "-"), color="C1" if trained else "C0", label=label)
for ax, scale in zip(axes, ("linear", "log")):
    ax.set(yscale=scale, title=f"{scale} scale", xlabel="sweep (odd/even update)", ylabel="step size ||s(t) - s(t-1)||")
    ax.legend()
fig.suptitle("Convergence from the feedforward start: random vs auto-encoder weights (MNIST)")
fig.savefig(a.out, dpi=100, bbox_inches="tight")
print("wrote", a.out)
