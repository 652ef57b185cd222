#!/bin/sh
# A full disk, simulated with a file-size limit (RLIMIT_FSIZE through
# `ulimit -f`; SIGXFSZ is ignored so that write() fails with EFBIG): every
# writer must fail with a clear message, exit non-zero, and leave the previous
# file intact and no temporary file behind. Covers the model (init, import,
# train --out), npy export, the relax trace CSV and --npy-dir, the gzip IDX
# writer (convert-mnist) and training checkpoints.
set -u
F=${FFRELAX:-build/ffrelax}
case "$F" in /*) ;; *) F="$(pwd)/$F" ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fail() { echo "cli_fullfile: FAIL: $*" >&2; exit 1; }

# limited CMD...: run ffrelax with files capped at 4 blocks (2 KiB in dash,
# 4 KiB in bash), stderr to err.txt; returns ffrelax's exit status
limited() {
    ( trap '' XFSZ; ulimit -f 4 && exec "$F" "$@" ) > /dev/null 2> err.txt
}

# expect_kept FILE COPY WHAT: FILE still equals COPY, no FILE.tmp.* remains
expect_kept() {
    cmp -s "$1" "$2" || fail "$3: the previous $1 was changed"
    for t in "$1".tmp.*; do [ -e "$t" ] && fail "$3: temporary file $t left behind"; done
    return 0
}

# expect_err WHAT PATTERN: err.txt matches PATTERN (grep -E)
expect_err() {
    grep -Eq "$2" err.txt || fail "$1: expected a message matching '$2', found: $(cat err.txt)"
}

"$F" init --sizes 20,13,11 --tied --seed 3 --out m > /dev/null || fail "init"
cp m m.orig
# a 100-100-100 model is ~80 KB: far over the limit
limited init --sizes 100,100,100 --out m && fail "init past the size limit exited 0"
expect_err "init" "^ffrelax init: m: write failed: File too large( \(previous file left intact\))?$"
expect_kept m m.orig "init"

"$F" export --model m --npy-dir w > /dev/null || fail "export"
cp w/W1.npy W1.orig
"$F" init --sizes 100,100,100 --tied --out big > /dev/null || fail "init big"
limited export --model big --npy-dir w && fail "export past the size limit exited 0"
expect_err "export" "^ffrelax export: w/W1.npy: write failed: File too large( \(previous file left intact\))?$"
expect_kept w/W1.npy W1.orig "export"

"$F" export --model big --npy-dir wbig > /dev/null || fail "export big"
limited import --npy-dir wbig --tied --out m && fail "import past the size limit exited 0"
expect_err "import" "^ffrelax import: m: write failed: File too large"
expect_kept m m.orig "import"

# relax: a short trace first, then a long one (200 sweeps, ~60 KB) that cannot be written
"$F" relax --model m --images w/W1.npy --max-sweeps 3 --trace tr.csv --npy-dir o --quiet || fail "relax"
cp tr.csv tr.orig
limited relax --model m --images w/W1.npy --max-sweeps 200 --trace tr.csv --quiet && fail "relax trace past the limit exited 0"
expect_err "relax --trace" "^ffrelax relax: tr.csv: write failed: File too large( \(previous file left intact\))?$"
expect_kept tr.csv tr.orig "relax --trace"
cp o/step.npy step.orig
limited relax --model m --images w/W1.npy --max-sweeps 200 --npy-dir o --quiet && fail "relax --npy-dir past the limit exited 0"
expect_err "relax --npy-dir" "^ffrelax relax: o/step.npy: write failed: File too large( \(previous file left intact\))?$"
expect_kept o/step.npy step.orig "relax --npy-dir"

# convert-mnist: gzip IDX output (10 digits of random-looking pixels do not compress under 2 KiB)
mkdir -p pkg/src/digits
for c in 0 1 2 3 4 5 6 7 8 9; do
    awk -v c=$c 'BEGIN { srand(c + 1); printf "{\"data\": ["; for (i = 0; i < 784; i++) printf "%s%.3f", (i ? "," : ""), rand(); printf "]}" }' \
        > pkg/src/digits/$c.json
done
"$F" convert-mnist --package pkg --out mn > /dev/null || fail "convert-mnist"
cp mn/train-images-idx3-ubyte.gz ti.orig
for c in 0 1 2 3 4 5 6 7 8 9; do cat pkg/src/digits/$c.json > x.json; sed 's/\]}$//' x.json > pkg/src/digits/$c.json
    awk 'BEGIN { srand(7); for (i = 0; i < 784; i++) printf ",%.3f", rand(); printf "]}" }' >> pkg/src/digits/$c.json; done
limited convert-mnist --package pkg --out mn && fail "convert-mnist past the limit exited 0"
expect_err "convert-mnist" "^ffrelax convert-mnist: mn/train-images-idx3-ubyte.gz: write failed: "
expect_kept mn/train-images-idx3-ubyte.gz ti.orig "convert-mnist"

# train: the final model and the checkpoint (when the command exists)
if "$F" train --help > /dev/null 2>&1; then
    "$F" train --images w/W1.npy --sizes 20,100 --epochs 1 --batch 5 --out tm --checkpoint ck --quiet || fail "train"
    cp tm tm.orig
    cp ck ck.orig
    limited train --images w/W1.npy --sizes 20,100 --epochs 1 --batch 5 --seed 2 --out tm --checkpoint ck --quiet &&
        fail "train past the limit exited 0"
    expect_err "train" "^ffrelax train: ck: write failed: File too large( \(previous file left intact\))?$"
    expect_kept ck ck.orig "train checkpoint"
    expect_kept tm tm.orig "train --out"
    limited train --images w/W1.npy --sizes 20,100 --epochs 1 --batch 5 --seed 2 --out tm --quiet &&
        fail "train --out past the limit exited 0"
    expect_err "train --out" "^ffrelax train: tm: write failed: File too large( \(previous file left intact\))?$"
    expect_kept tm tm.orig "train --out"
fi
exit 0
