#!/bin/sh
# Kill and resume: a training run is killed with SIGKILL at random moments
# (seeded, so a failure reproduces), each time restarted with --resume from
# its checkpoint, and must end with a model byte-identical to an
# uninterrupted run. After every kill the checkpoint and the model are either
# absent or whole: the next --resume would reject a torn checkpoint (crc32),
# and `ffrelax info` must read the model. The metrics CSV must hold every
# epoch's row exactly once, equal to the uninterrupted run's (bar the timing
# columns examples_per_s and seconds). Methods: sae (10 kills), rbm with
# persistent chains (5), dendritic (5). One BLAS thread (bit-identical resume
# needs the same thread count).
set -u
F=${FFRELAX:-build/ffrelax}
case "$F" in /*) ;; *) F="$(pwd)/$F" ;; esac
"$F" train --help > /dev/null 2>&1 || { echo "cli_resume: no train command, skipped"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fail() { echo "cli_resume: FAIL: $*" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

# data: 300 examples of 24 values (W1 of a 24-300 model), and 27 MNIST-shaped images in [0,1]
"$F" init --sizes 24,300 --seed 5 --out dm > /dev/null || fail "init"
"$F" export --model dm --npy-dir dw > /dev/null || fail "export"
mkdir -p pkg/src/digits
for c in 0 1 2 3 4 5 6 7 8 9; do
    awk -v c=$c 'BEGIN { srand(c + 1); printf "{\"data\": [";
        for (j = 0; j < 3; j++) for (i = 0; i < 784; i++) printf "%s%.3f", (i + j ? "," : ""), (rand() < 0.3 ? rand() : 0);
        printf "]}" }' > pkg/src/digits/$c.json
done
"$F" convert-mnist --package pkg --out mn > /dev/null || fail "convert-mnist"

# rand_ms SEED LO HI: a pseudo-random integer in [LO, HI]
rand_ms() { awk -v s=$1 -v lo=$2 -v hi=$3 'BEGIN { srand(s); print int(lo + rand() * (hi - lo + 1)) }'; }
ncase=0

# run_case NAME KILLS MAXDELAY_MS TRAIN-ARGS... (MAXDELAY_MS: when date has no %N)
run_case() {
    name=$1; kills=$2; maxd=$3; shift 3
    t0=$(date +%s%N)
    "$F" train "$@" --out "$name.ref" --checkpoint "$name.refck" --metrics "$name.ref.csv" --quiet ||
        fail "$name: uninterrupted run failed"
    t1=$(date +%s%N)
    # the first kill within half the uninterrupted run's time (on any machine; else
    # MAXDELAY_MS), kill k within 2/(k+2) of that, as less work is left each time
    case "$t0$t1" in *N*) ;; *) maxd=$(( (t1 - t0) / 2000000 )); [ $maxd -ge 20 ] || maxd=20 ;; esac
    ncase=$((ncase + 1))
    done_=0; k=0; hits=0
    while [ $done_ = 0 ]; do
        if [ $k -ge $kills ]; then
            "$F" train "$@" --out "$name.out" --checkpoint "$name.ck" --metrics "$name.csv" --resume --quiet 2> err.txt ||
                fail "$name: final resume failed: $(cat err.txt)"
            done_=1; break
        fi
        "$F" train "$@" --out "$name.out" --checkpoint "$name.ck" --metrics "$name.csv" --resume --quiet 2> err.txt &
        pid=$!
        d=$(rand_ms $((100 * ncase + k)) 5 $((maxd * 2 / (k + 2))))
        sleep "$(awk -v d=$d 'BEGIN { printf "%.3f", d / 1000 }')"
        kill -KILL $pid 2> /dev/null
        wait $pid 2> /dev/null
        st=$?
        [ $st -eq 0 ] && done_=1    # it finished before the kill
        [ $st -eq 137 ] && hits=$((hits + 1))
        [ $done_ = 1 ] || [ $st -eq 137 ] || fail "$name: run $k failed (status $st): $(cat err.txt)"
        k=$((k + 1))
        if [ -e "$name.out" ]; then "$F" info "$name.out" > /dev/null 2>&1 || fail "$name: torn model after kill $k"; fi
    done
    cmp -s "$name.out" "$name.ref" || fail "$name: resumed model differs from the uninterrupted run (after $k kills)"
    cut -d, -f1-10,12-14 "$name.ref.csv" > ref-rows.csv
    cut -d, -f1-10,12-14 "$name.csv" > rows.csv
    cmp -s ref-rows.csv rows.csv || fail "$name: metrics rows after resume differ from the uninterrupted run's: $(diff ref-rows.csv rows.csv | head -5)"
    [ $hits -ge 1 ] || fail "$name: no kill landed during training (runs too short?)"
    echo "cli_resume: $name: $hits runs killed mid-training (delays up to $maxd ms), resumed to a byte-identical model and metrics"
}

run_case sae 10 400 --method sae --images dw/W1.npy --sizes 24,16,12 --epochs 1500 --batch 10 --holdout 0 --seed 3
run_case rbm 5 250 --method rbm --persistent --images mn/train-images-idx3-ubyte.gz --sizes 784,20 --epochs 1500 --batch 10 --holdout 0
run_case dendritic 5 250 --method dendritic --images dw/W1.npy --sizes 24,16,12 --epochs 600 --batch 10 --holdout 0
exit 0
