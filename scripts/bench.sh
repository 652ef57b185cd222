#!/bin/sh
# bench.sh - the performance comparison of issue 6 in one go (doc/performance.md):
#   1. bench/bench_sweep: verify, then time the ffrelax sweep and sgemm alone
#      (784-500x3, 784-1000x3; B = 1, 32, 256, 1000, 10000; 1 and 2 threads);
#   2. scripts/bench_torch.py: the same sweep in PyTorch fp32/bf16 on the same
#      network and inputs (Debian's /usr/bin/python3 with python3-torch);
#   3. the ratios ffrelax / PyTorch per shape;
#   4. with E2E=1: bench/bench_e2e (SAE-trained 784-1000x3 network on MNIST,
#      relax 1,000 held-out digits) and PyTorch's 60 sweeps from zero;
#   5. with SAE=1: one SAE training epoch (784-1000, 1000-1000), ffrelax train
#      against the same training in PyTorch (autograd, torch.optim.Adam).
# usage: sh scripts/bench.sh [--quick]     (OUT=dir keeps the outputs; default /tmp/ffrelax-bench)
set -e
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/ffrelax-bench}
PY=${PY:-/usr/bin/python3}
mkdir -p "$OUT"
make -s bench >/dev/null
B_LIST="1,32,256,1000,10000"
[ "$1" = "--quick" ] && B_LIST="1,32,256,1000"
echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
./build/bench/bench_sweep --batches "$B_LIST" --csv "$OUT/sweep.csv" | tee "$OUT/sweep.txt"
: > "$OUT/torch.txt"
for H in 500 1000; do
    mkdir -p "$OUT/net$H"
    ./build/bench/bench_sweep --export "$OUT/net$H" "$H" 10000
    $PY scripts/bench_torch.py "$OUT/net$H" --batches "$B_LIST" | tee -a "$OUT/torch.txt"
done
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ratios (same run): PyTorch ms / ffrelax ms per sweep; best = fastest PyTorch fp32 over variants and 1-2 threads"
$PY - "$OUT/sweep.csv" "$OUT/torch.txt" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
tor = {}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) < 10 or line.startswith("#") or f[0] == "shape":
        continue
    tor.setdefault((f[0], int(f[1])), []).append((int(f[2]), f[3], f[4], float(f[5])))
print(f"{'shape':12s} {'B':>6s} {'ffr_best_ms':>11s} {'thr':>3s} {'pt_fp32_best':>12s} {'x_fp32':>7s} {'pt_plain':>9s} {'x_plain':>7s} {'pt_bf16':>8s} {'x_bf16':>7s} {'frac_sgemm':>10s}")
keys = sorted({(r["shape"], int(r["B"])) for r in rows}, key=lambda k: (k[0], k[1]))
for k in keys:
    best = min((r for r in rows if (r["shape"], int(r["B"])) == k), key=lambda r: float(r["ms_med"]))
    ms = float(best["ms_med"])
    t = tor.get(k, [])
    f32 = [v[3] for v in t if v[1] == "fp32"]
    pl = [v[3] for v in t if v[1] == "fp32" and v[2] == "plain"]
    bf = [v[3] for v in t if v[1] == "bf16"]
    fm = lambda v: f"{min(v):.3f}" if v else "-"
    rt = lambda v: f"{min(v)/ms:.2f}" if v else "-"
    print(f"{k[0]:12s} {k[1]:6d} {ms:11.3f} {best['threads']:>3s} {fm(f32):>12s} {rt(f32):>7s} {fm(pl):>9s} {rt(pl):>7s} {fm(bf):>8s} {rt(bf):>7s} {float(best['frac_sgemm']):10.3f}")
PYEOF
if [ "${E2E:-0}" = 1 ]; then
    [ -f "$OUT/sae.mdl" ] || ./build/bench/bench_e2e train data/mnist "$OUT/sae.mdl" 5
    mkdir -p "$OUT/e2e"
    ./build/bench/bench_e2e relax "$OUT/sae.mdl" data/mnist "$OUT/e2e" 2 | tee "$OUT/e2e.txt"
    $PY scripts/bench_torch.py "$OUT/e2e" --e2e | tee -a "$OUT/e2e.txt"
fi
if [ "${SAE:-0}" = 1 ]; then
    # one epoch of SAE layer training (784-1000, then 1000-1000; 9,000 digits, batch 100, Adam):
    # ffrelax train against the same training in PyTorch (autograd + torch.optim.Adam)
    for th in 1 2; do
        ./build/ffrelax train --method sae --images data/mnist/train-images-idx3-ubyte.gz \
            --holdout-images data/mnist/t10k-images-idx3-ubyte.gz --sizes 784,1000,1000 --epochs 3 --batch 100 \
            --lr 1e-3 --optimizer adam --decoder untied --target voltage --seed 1 --threads $th \
            --out "$OUT/sae-bench.model" 2>&1 | tr '\r' '\n' |
        awk -v th=$th '/^sae layer .* epoch [23]\/3/ { split($3, l, "/"); for (i = 1; i <= NF; i++) if ($i == "ex/s") r = $(i-1);
                       t[l[1]] += 9000 / r / 2 } END { printf "ffrelax sae epoch 784-1000 %d thr: %.3f s\nffrelax sae epoch 1000-1000 %d thr: %.3f s\n", th, t[1], th, t[2] }'
    done | tee "$OUT/sae.txt"
    $PY scripts/bench_torch.py - --sae data/mnist/train-images-idx3-ubyte.gz | tee -a "$OUT/sae.txt"
fi
