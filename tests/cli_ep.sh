#!/bin/sh
# Equilibrium propagation on the command line (cli/cmd_ep.c): train --method
# ep learns a small separable problem; the same seed gives a byte-identical
# model; --resume from a checkpoint gives the model of the uninterrupted run
# (ff and persistent starts); fixed sweeps run exactly F and N sweeps; bad
# labels (count, magic, range) are rejected with a message naming the file;
# eval --csv; ep-study on a tiny set writes its summary and plots.
set -u
F=${FFRELAX:-build/ffrelax}
case "$F" in /*) ;; *) F="$(pwd)/$F" ;; esac
"$F" eval --help > /dev/null 2>&1 || { echo "cli_ep: no eval command, skipped"; exit 0; }
. "$(dirname "$0")/digits.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fail() { echo "cli_ep: FAIL: $*" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

# data: 20 MNIST-shaped images per digit; digit c lights mostly pixels 78c..78c+77
digits "$F" 20 7 || fail "convert-mnist"
TR="--images mn/train-images-idx3-ubyte.gz --labels mn/train-labels-idx1-ubyte.gz"
TE="--test-images mn/t10k-images-idx3-ubyte.gz --test-labels mn/t10k-labels-idx1-ubyte.gz"
COMMON="$TR $TE --sizes 784,32,10 --batch 20 --seed 3 --quiet"

# learns, and the metrics have one row per epoch
"$F" train --method ep $COMMON --epochs 10 --out a.ffr --metrics a.csv || fail "train"
[ "$(wc -l < a.csv)" -eq 11 ] || fail "metrics: expected a header and 10 rows, found $(wc -l < a.csv) lines"
awk -F, 'NR == 11 && !($3 < 0.3 && $4 < 0.3 && $7 >= 1 && $9 >= 1) { exit 1 }' a.csv ||
    fail "expected train error < 30% and >= 1 sweep per phase after 10 epochs: $(tail -1 a.csv)"

# deterministic
"$F" train --method ep $COMMON --epochs 10 --out b.ffr || fail "train again"
cmp -s a.ffr b.ffr || fail "the same seed gave different models"

# resume: 1 epoch, then --resume to 3 = 3 epochs straight (ff start and persistent start)
for init in ff persistent; do
    "$F" train --method ep $COMMON --init $init --epochs 3 --out r3.ffr --checkpoint r3.ck || fail "$init: straight run"
    "$F" train --method ep $COMMON --init $init --epochs 1 --out r1.ffr --checkpoint r.ck || fail "$init: first epoch"
    "$F" train --method ep $COMMON --init $init --epochs 3 --out r13.ffr --checkpoint r.ck --resume || fail "$init: resume"
    cmp -s r3.ffr r13.ffr || fail "$init: the resumed run differs from the uninterrupted one"
    rm -f r.ck
done
# resume with other options is refused
"$F" train --method ep $COMMON --epochs 1 --out r1.ffr --checkpoint r.ck || fail "checkpoint run"
"$F" train --method ep $COMMON --epochs 2 --beta 0.3 --out r2.ffr --checkpoint r.ck --resume 2> err.txt &&
    fail "resume with another --beta was accepted"
grep -q "beta" err.txt || fail "resume with another beta: message does not name it: $(cat err.txt)"

# the anchors' schedule: exactly F free and N nudged sweeps
"$F" train --method ep $COMMON --epochs 1 --init zero --fixed-sweeps 7,4 --out z.ffr --metrics z.csv || fail "fixed sweeps"
awk -F, 'NR == 2 && !($7 == 7 && $9 == 4 && $11 == 1 && $3 == "") { exit 1 }' z.csv ||
    fail "fixed sweeps 7,4 from zero: $(tail -1 z.csv)"

# the dendritic variant runs (tied and Eq. 23 feedback)
"$F" train --method ep $COMMON --epochs 1 --rule dendritic --out d.ffr || fail "dendritic tied"
"$F" train --method ep $COMMON --epochs 1 --rule dendritic --feedback eq23 --sizes 784,16,16,10 --out d2.ffr || fail "dendritic eq23"

# bad labels
"$F" train --method ep --images mn/train-images-idx3-ubyte.gz --labels mn/t10k-labels-idx1-ubyte.gz \
    --sizes 784,32,10 --out x.ffr --quiet 2> err.txt && fail "label count mismatch accepted"
grep -q "label count: expected 180" err.txt || fail "count mismatch message: $(cat err.txt)"
"$F" train --method ep --images mn/train-images-idx3-ubyte.gz --labels mn/train-images-idx3-ubyte.gz \
    --sizes 784,32,10 --out x.ffr --quiet 2> err.txt && fail "images as labels accepted"
grep -q "magic: expected 2049" err.txt || fail "wrong magic message: $(cat err.txt)"
"$F" train --method ep $TR --sizes 784,32,5 --out x.ffr --quiet 2> err.txt && fail "labels >= n_L accepted"
grep -q "expected 0..4" err.txt || fail "label range message: $(cat err.txt)"
[ ! -e x.ffr ] || fail "a failed run left a model file"

# eval
"$F" eval --model a.ffr --images mn/t10k-images-idx3-ubyte.gz --labels mn/t10k-labels-idx1-ubyte.gz --csv > ev.csv ||
    fail "eval"
head -1 ev.csv | grep -q "^n,err_ff,err_relaxed,sweeps_mean" || fail "eval --csv header: $(head -1 ev.csv)"
awk -F, 'NR == 2 && !($1 == 20 && $2 >= 0 && $2 <= 1 && $3 >= 0 && $3 <= 1 && $4 >= 1) { exit 1 }' ev.csv ||
    fail "eval --csv row: $(tail -1 ev.csv)"

# the study, tiny
printf 'arch,seed,epochs,test_err,train_err,seconds\n784-16-10,2,1,0.5,0.5,1\n784-16-10,1,1,0.1234,0.1,1\n' > bp.csv
"$F" ep-study --data mn --out st --archs 784-16-10,784-16-16-10 --epochs 1 --bp-csv bp.csv --quiet > st.txt || fail "ep-study"
[ "$(wc -l < st/summary.csv)" -eq 5 ] || fail "summary.csv: expected 5 lines, found $(wc -l < st/summary.csv)"
[ "$(grep -c '^mn,784-16-10,.*,0.1234$' st/summary.csv)" -eq 2 ] || fail "summary.csv: the backprop row of seed 1: $(cat st/summary.csv)"
for p in test_error sweeps time ff_vs_relaxed; do [ -s st/$p.png ] || fail "ep-study: no $p.png"; done
grep -q "784-16-16-10 *ffrelax" st.txt || fail "ep-study table: $(cat st.txt)"
exit 0
