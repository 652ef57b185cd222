#!/bin/sh
# CLI contract checks: init / info / export / import / relax, --help, errors.
# Uses $FFRELAX (default build/ffrelax). Exits non-zero on the first failure.
set -u
F=${FFRELAX:-build/ffrelax}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "cli_core: FAIL: $*" >&2; exit 1; }

for c in init import export info relax figure1 convert-mnist; do
    "$F" $c --help > "$T/help" 2>&1 || fail "$c --help exits non-zero"
    grep -q "default" "$T/help" || [ $c = info ] || [ $c = export ] || fail "$c --help lists no defaults"
done
"$F" --help | grep -q relax || fail "ffrelax --help lists no commands"

"$F" init --sizes 20,13,11,7 --rule dendritic --tied --seed 3 --out "$T/m" || fail "init"
"$F" info "$T/m" | grep -q "20-13-11-7" || fail "info does not show the sizes"
"$F" export --model "$T/m" --npy-dir "$T/w" || fail "export"
[ -f "$T/w/W1.npy" ] && [ -f "$T/w/W3.npy" ] && [ -f "$T/w/c0.npy" ] || fail "export wrote no W1/W3/c0"
[ ! -f "$T/w/V1.npy" ] || fail "tied export wrote V1.npy"
"$F" import --npy-dir "$T/w" --rule dendritic --tied --out "$T/m2" || fail "import"
cmp -s "$T/m" "$T/m2" || fail "export+import is not bit-exact"

# W1.npy is a (13, 20) float32 array: 13 examples of 20 visible units
"$F" relax --model "$T/m" --images "$T/w/W1.npy" --init ff --schedule odd-even --max-sweeps 25 --tol 0 \
    --trace "$T/tr.csv" --npy-dir "$T/o" > "$T/out" || fail "relax"
head -1 "$T/tr.csv" | grep -q '^sweep,step_mean,step_median,step_max' || fail "trace header"
[ "$(sed -n 2p "$T/tr.csv" | cut -d, -f1)" = 1 ] || fail "first trace row is not sweep 1"
[ "$(wc -l < "$T/tr.csv")" -eq 26 ] || fail "trace rows: expected 25 sweeps + header"
for f in state0 state3 step sweeps converged dist residual rate; do
    [ -f "$T/o/$f.npy" ] || fail "relax --npy-dir wrote no $f.npy"
done
grep -q "converged" "$T/out" || fail "no summary"
for s in sync up; do
    for i in zero random; do
        "$F" relax --model "$T/m" --images "$T/w/W1.npy" --init $i --schedule $s --max-sweeps 5 --quiet || fail "relax $i $s"
    done
done
"$F" relax --model "$T/m" --images "$T/w/W1.npy" --init given --start-dir "$T/o" --max-sweeps 3 --quiet || fail "relax --init given"
"$F" relax --model "$T/m" --images "$T/w/W1.npy" --tol 1e-3 --tol-mode rel --max-sweeps 500 --tau 2 --temperature 0 --quiet || fail "relax tol"
"$F" relax --model "$T/m" --images "$T/w/W1.npy" --tol 1e-3 --tol-mode rel --max-sweeps 500 --precision bf16 --quiet 2>/dev/null || fail "relax bf16"
"$F" relax --model "$T/m" --images "$T/w/W1.npy" --alpha-up 2 --alpha-down 1,1,0.5,1 --max-sweeps 5 --quiet || fail "relax --alpha-up/--alpha-down"
"$F" relax --model "$T/m" --images "$T/w/W1.npy" --alpha-up 1,2 --quiet 2> /dev/null && fail "wrong number of gains accepted"

# errors: non-zero exit and a message naming the problem
"$F" relax --model "$T/m" --images "$T/w/W1.npy" --tau 0.5 2> "$T/e" && fail "tau < 1 accepted"
grep -q "tau" "$T/e" || fail "tau error does not say tau"
"$F" relax --model "$T/m" --images "$T/w/W1.npy" --tol -1 2> "$T/e" && fail "negative tol accepted"
"$F" relax --model "$T/nope" --images "$T/w/W1.npy" 2> "$T/e" && fail "missing model accepted"
grep -q "nope" "$T/e" || fail "missing-model error does not name the file"
"$F" relax --model "$T/m" --images "$T/w/W2.npy" 2> "$T/e" && fail "wrong data width accepted"
grep -q "expected 20" "$T/e" || fail "size mismatch error: $(cat $T/e)"
head -c 100 "$T/m" > "$T/trunc"
"$F" info "$T/trunc" 2> "$T/e" && fail "truncated model accepted"
"$F" init --sizes 20 --out "$T/x" 2> /dev/null && fail "one-layer sizes accepted"
"$F" init --sizes 20,10 --rule nope --out "$T/x" 2> /dev/null && fail "unknown rule accepted"
"$F" bogus 2> /dev/null && fail "unknown command accepted"
# training that blows up stops with the hint and never writes NaN weights into a checkpoint
"$F" train --images "$T/w/W1.npy" --sizes 20,16 --epochs 5 --lr 1e6 --optimizer sgd --rho identity \
    --checkpoint "$T/ck" --out "$T/nan.model" --holdout 0 --quiet 2> "$T/e" && fail "exploding training accepted"
grep -q "lower --lr" "$T/e" || fail "exploding training: no hint: $(cat $T/e)"
[ ! -f "$T/nan.model" ] || fail "a NaN model was written"
[ ! -f "$T/ck" ] || "$F" train --images "$T/w/W1.npy" --sizes 20,16 --epochs 5 --lr 1e6 --optimizer sgd --rho identity \
    --checkpoint "$T/ck" --resume --out "$T/nan.model" --holdout 0 --quiet 2>&1 | grep -q "expected a finite" && fail "checkpoint holds NaN"
exit 0
