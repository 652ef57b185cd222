#!/usr/bin/env python3
"""scaling_model.py - the scaling model of doc/scaling.md: predicted efficiency of
data-parallel training (ffrelax built with make MPI=1) on P ranks of a 100 Gb/s
cluster, as built (the reduction on every rank, the default), with the
row-partitioned reduction (built for sae and rbm, FFRELAX_MPI_REDUCE=rows), and
with a gradient all-reduce, for the shapes we train. Prints the
markdown table of doc/scaling.md. No dependencies."""
R = 30e9      # FLOP/s of one rank (one core, OpenBLAS sgemm on row blocks), measured here
BW = 12.5e9   # 100 Gb/s
A = 2e-6      # latency per message
T = 20        # relaxation sweeps per example
G = 128       # FFR_TRAIN_GRAD_BLOCK: the row-partitioned reduction's blocks of output rows
shapes = {"784-1024-10": [784, 1024, 10], "784-1024x2-10": [784, 1024, 1024, 10], "784-1000x3": [784, 1000, 1000, 1000]}
def wsum(n): return sum(n[k] * n[k-1] for k in range(1, len(n)))
def model(n, B, P, kind, tied=True):
    W = wsum(n)
    params = W * (1 if tied else 2)
    if kind == "sae":       # the SAE's first layer (untied decoder): forward, error, deltas / gV, gW; row E, R, D
        W, params = n[0] * n[1], 2 * n[0] * n[1] + n[0] + n[1]
        loc, red, row = 6 * W, 4 * W, n[0] + 2 * n[1]
    elif kind == "eq23":    # dendritic Eq. 23: relax (FF + T sweeps), then branches + gradient; row s_1..s_L
        loc, red, row = (2 + 4 * T) * W, 6 * W, sum(n[1:])
    else:                   # EP, centered (the default): free + two nudged phases, gradient from both;
                            # row: the three states of layers 1..L and 8 measurements
        loc, red, row = 3 * (2 + 4 * T) * W, 4 * W, 3 * sum(n[1:]) + 8
    t1 = B * (loc + red) / R
    ag = (P - 1) * A + (P - 1) / P * B * row * 4 / BW + 2 * A * max(1, (P - 1).bit_length())
    built = B * loc / P / R + B * red / R + ag                        # as built: reduce on every rank
    nb = -(-max(n[1:]) // G)  # blocks of G output rows of the largest gradient product: at most nb ranks share it
    part = B * loc / P / R + B * red * (-(-nb // P)) / nb / R + ag + (P - 1) * A + (P - 1) / P * params * 4 / BW  # row-partitioned reduce
    allred = B * (loc + red) / P / R + 2 * (P - 1) * A + 2 * (P - 1) / P * params * 4 / BW  # gradient all-reduce
    return dict(t1=t1, built=t1 / (P * built), part=t1 / (P * part), allred=t1 / (P * allred),
                ag_MB=B * row * 4 / 1e6, ar_MB=2 * params * 4 / 1e6, step_s=part)
print("| shape | trainer | P | global batch B | B/P | all-gather MB/step | all-reduce MB/step | step (1 rank) s | E as built (default) | E row-partitioned reduce (built for sae, rbm: FFRELAX_MPI_REDUCE=rows) | E all-reduce (not bit-identical) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name, n in shapes.items():
    for kind in ("sae", "eq23", "ep"):
        if kind == "sae" and name != "784-1024-10": continue  # one SAE layer: 784-1024
        for P in (2, 8, 64, 512):
            B = max(256, 32 * P * (2 if P >= 64 else 1))
            m = model(n, B, P, kind)
            label = "784-1024 (SAE layer 1)" if kind == "sae" else name
            print(f"| {label} | {kind} | {P} | {B} | {B//P} | {m['ag_MB']:.2f} | {m['ar_MB']:.1f} | {m['t1']:.2f} | {m['built']:.2f} | {m['part']:.2f} | {m['allred']:.2f} |")
