#!/bin/sh
# The CLI rows of the bad-input table (doc/reliability.md): each row runs one
# ffrelax command on a bad input or option and checks that it exits non-zero
# and that its stderr is exactly the expected message. In an expected message
# {*} stands for any text (the process id in temporary names, the engine's
# diagnosis). Runs in a temporary directory so messages carry short names.
# `sh tests/cli_badinput.sh --markdown` prints the table rows instead.
set -u
. "$(dirname "$0")/lib.sh"

# row DESCRIPTION EXPECTED_STDERR ARGS...
row() {
    what=$1; want=$2; shift 2
    n=$((n + 1))
    if [ $MD = 1 ]; then
        printf '| C%d | %s | `ffrelax %s` | `%s` |\n' $n "$what" "$(echo "$*" | sed 's/|/\\|/g')" "$(echo "$want" | sed 's/|/\\|/g')"
        return
    fi
    "$F" "$@" > out.txt 2> err.txt
    rc=$?
    got=$(cat err.txt)
    if [ $rc -eq 0 ]; then
        echo "cli_badinput: FAIL row C$n ($what): exit status 0 for: ffrelax $*" >&2; nfail=$((nfail + 1))
    elif ! match "$want" "$got"; then
        echo "cli_badinput: FAIL row C$n ($what): ffrelax $*" >&2
        echo "  expected: $want" >&2
        echo "  found:    $got" >&2
        nfail=$((nfail + 1))
    fi
}

# fixtures: a tied 20-13-11 model m, its arrays w/ (W1.npy is 13 examples of 20
# values, W2.npy 11 of 13), a data file with a NaN, a regular file afile
if [ $MD = 0 ]; then
    "$F" init --sizes 20,13,11 --tied --seed 3 --out m > /dev/null || { echo "cli_badinput: init failed" >&2; exit 1; }
    "$F" export --model m --npy-dir w > /dev/null || exit 1
    "$F" init --sizes 20,13,11 --rho identity --scale 50 --out big > /dev/null || exit 1
    echo x > afile
    # W1.npy's data start at byte 128: put a NaN in element (0, 0)
    cp w/W1.npy nan.npy
    printf '\000\000\300\177' | dd of=nan.npy bs=1 seek=128 conv=notrunc 2> /dev/null
    mkdir -p wn && cp nan.npy wn/W1.npy
    head -c 100 m > trunc.model
fi
R="relax --model m --images w/W1.npy --quiet"

# ---- options
row "tau < 1" "ffrelax relax: --tau: expected a number in [1, 1e+12], found '0.5'" $R --tau 0.5
row "tau NaN" "ffrelax relax: --tau: expected a number in [1, 1e+12], found 'nan'" $R --tau nan
row "negative tolerance" "ffrelax relax: --tol: expected a number in [0, inf], found '-1'" $R --tol -1
row "tolerance not a number" "ffrelax relax: --tol: expected a number in [0, inf], found '1e-3x'" $R --tol 1e-3x
row "negative max sweeps" "ffrelax relax: --max-sweeps: expected an integer in [0, 100000000], found '-1'" $R --max-sweeps -1
row "max sweeps overflows int" "ffrelax relax: --max-sweeps: expected an integer in [0, 100000000], found '99999999999999999999'" $R --max-sweeps 99999999999999999999
row "zero count (batch)" "ffrelax relax: --count: expected an integer in [1, 1073741824], found '0'" $R --count 0
row "offset past the data" "ffrelax relax: --offset 13: the data has only 13 examples" $R --offset 13
row "negative temperature" "ffrelax relax: --temperature: expected a number in [0, 1e+12], found '-0.1'" $R --temperature -0.1
row "measure-every below -1" "ffrelax relax: --measure-every: expected an integer in [-1, 1073741824], found '-2'" $R --measure-every -2
row "2000 threads" "ffrelax relax: --threads: expected an integer in [0, 1024], found '2000'" $R --threads 2000
row "unknown --init" "ffrelax relax: --init: expected ff, zero, random or given, found 'bogus'" $R --init bogus
row "unknown --schedule" "ffrelax relax: --schedule: expected odd-even, sync or up, found 'jacobi'" $R --schedule jacobi
row "unknown --tol-mode" "ffrelax relax: --tol-mode: expected abs or rel, found 'x'" $R --tol-mode x
row "unknown --precision" "ffrelax relax: --precision: expected fp32 or bf16, found 'fp16'" $R --precision fp16
row "--anderson out of range" "ffrelax relax: --anderson: expected an integer in [0, 8], found '9'" $R --anderson 9
row "--anderson with noise" "ffrelax relax: anderson acceleration needs a deterministic map: no noise (temperature 0), no Gibbs sampling" $R --anderson 3 --temperature 0.1
row "--gibbs on a dendritic model" "ffrelax relax: gibbs sampling: only for the boltzmann rule (this network is dendritic)" $R --gibbs
row "--init given without --start-dir" "ffrelax relax: --init given needs --start-dir DIR" $R --init given
row "unknown option" "relax: unrecognized option '--bogus'" $R --bogus
row "stray argument" "ffrelax relax: unexpected argument 'extra'" $R extra
row "no --model" "ffrelax relax: --model is required" relax --images w/W1.npy
row "unknown command" "ffrelax: unknown command 'bogus'{*}" bogus
row "one layer" "ffrelax init: --sizes: expected at least 2 layers, found '20'" init --sizes 20 --out x
row "empty size" "ffrelax init: --sizes: layer 1: expected an integer in [1, 16777216], found '' (in '20,,3'; give comma-separated sizes like 784,500,500)" init --sizes 20,,3 --out x
row "size 0" "ffrelax init: --sizes: layer 1: expected an integer in [1, 16777216], found '0' (in '20,0'; give comma-separated sizes like 784,500,500)" init --sizes 20,0 --out x
row "negative size" "ffrelax init: --sizes: layer 1: expected an integer in [1, 16777216], found '-5' (in '20,-5'; give comma-separated sizes like 784,500,500)" init --sizes 20,-5 --out x
row "size 2^24+1" "ffrelax init: --sizes: layer 1: expected an integer in [1, 16777216], found '16777217' (in '20,16777217'; give comma-separated sizes like 784,500,500)" init --sizes 20,16777217 --out x
row "17 layers" "ffrelax init: --sizes: at most 16 layers, found more in '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17'" init --sizes 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 --out x
row "trailing comma" "ffrelax init: --sizes: trailing comma in '20,10,'" init --sizes 20,10, --out x
row "unknown --rule" "ffrelax init: --rule: expected dendritic, hopfield or boltzmann, found 'ising'" init --sizes 20,10 --rule ising --out x
row "unknown --rho" "ffrelax init: --rho: expected hardsigmoid, sigmoid or identity, found 'relu'" init --sizes 20,10 --rho relu --out x
row "negative --scale" "ffrelax init: --scale: expected a number in [0, 1e+06], found '-1'" init --sizes 20,10 --scale -1 --out x
row "gain 0" "ffrelax init: --alpha-up: expected positive gains (one value, or one per layer), found '0'" init --sizes 20,10 --alpha-up 0 --out x
row "gain inf" "ffrelax init: --alpha-down: expected positive gains (one value, or one per layer), found 'inf'" init --sizes 20,10 --alpha-down inf --out x
row "3 gains for 2 layers" "ffrelax init: gains: expected 1 or 2 values (one per layer 0..1)" init --sizes 20,10 --alpha-up 1,2,3 --out x
row "negative seed" "ffrelax init: --seed: expected a non-negative integer, found '-1'" init --sizes 20,10 --seed -1 --out x
row "seed ' -1' (strtoull would wrap it)" "ffrelax init: --seed: expected a non-negative integer, found ' -1'" init --sizes 20,10 --seed " -1" --out x
row "hopfield untied" "ffrelax init: rule hopfield: the energy model of Eq. 3 needs tied weights (use --tied)" init --sizes 20,10 --rule hopfield --out x
row "no --out" "ffrelax init: --out is required" init --sizes 20,10
# ---- files
row "missing model" "ffrelax relax: nope.model: cannot open: No such file or directory" relax --model nope.model --images w/W1.npy
row "missing images" "ffrelax relax: nope.npy: cannot open: No such file or directory" relax --model m --images nope.npy
row "truncated model" "ffrelax info: trunc.model: truncated in params (parameter 7 of 460): expected 1916 bytes (72 of header, 460 parameters, 4 of crc32), found 100" info trunc.model
row "an .npy as the model" "ffrelax relax: w/W1.npy: magic: expected \"FFRLXMDL\", found \"?NUMPY??\": not an ffrelax model" relax --model w/W1.npy --images w/W1.npy
row "a model as the data" "ffrelax relax: m: not a data file: expected IDX images (magic 2051) or an .npy array, found first bytes 46 46 52 4c" relax --model m --images m
row "data width 13, model 20" "ffrelax relax: w/W2.npy: example size: expected 20 (the model's visible layer), found 13" relax --model m --images w/W2.npy
row "NaN in the data" "ffrelax relax: nan.npy: element (0, 0): expected a finite value, found NaN" relax --model m --images nan.npy
row "NaN weight in an import" "ffrelax import: wn: parameter W1[0]: expected a finite value, found nan" import --npy-dir wn --tied --out x
row "mask of the wrong size" "ffrelax relax: w/b1.npy: mask size: expected 20 values, found 13" $R --mask w/b1.npy
row "missing start state" "ffrelax relax: nodir/state0.npy: cannot open: No such file or directory" $R --init given --start-dir nodir
row "missing package" "ffrelax convert-mnist: nopkg/src/digits/0.json: cannot open: No such file or directory" convert-mnist --package nopkg --out o
# ---- outputs
row "model into a missing directory" "ffrelax init: nodir/x: cannot create temporary file nodir/x.tmp.{*}: No such file or directory" init --sizes 20,10 --out nodir/x
row "model below a regular file" "ffrelax init: afile/x: cannot create temporary file afile/x.tmp.{*}: Not a directory" init --sizes 20,10 --out afile/x
row "model over a directory" "ffrelax init: w: is a directory: expected a regular file to replace (or a new path)" init --sizes 20,10 --out w
row "trace into a missing directory" "ffrelax relax: nodir/t.csv: cannot create temporary file nodir/t.csv.tmp.{*}: No such file or directory" $R --trace nodir/t.csv
row "npy-dir below a regular file" "ffrelax relax: afile/o: cannot create the output folder: Not a directory" $R --npy-dir afile/o
row "export below a regular file" "ffrelax export: afile/w: cannot create the output folder: Not a directory" export --model m --npy-dir afile/w
# ---- numerical faults
row "identity rho, weights x50: diverges" "ffrelax relax: relaxation diverged: non-finite state in layer {*} at sweep {*}" relax --model big --images w/W1.npy --max-sweeps 500 --quiet

# ---- train (when the command exists)
if [ $MD = 1 ] || "$F" train --help > /dev/null 2>&1; then
    TR="train --images w/W1.npy --sizes 20,5 --out t --quiet"
    row "train: zero batch" "ffrelax train: --batch: expected an integer in [1, 1048576], found '0'" $TR --batch 0
    row "train: negative epochs" "ffrelax train: --epochs: expected an integer in [0, 1000000], found '-1'" $TR --epochs -1
    row "train: negative learning rate" "ffrelax train: --lr: expected a number in [0, 1e+06], found '-1'" $TR --lr -1
    row "train: unknown optimizer" "ffrelax train: --optimizer: expected sgd or adam, found 'rmsprop'" $TR --optimizer rmsprop
    row "train: unknown method" "ffrelax train: --method: expected sae, rbm or dendritic, found 'bp'" $TR --method bp
    row "train: unknown decoder" "ffrelax train: --decoder: expected tied or untied, found 'x'" $TR --decoder x
    row "train: --resume without --checkpoint" "ffrelax train: --resume needs --checkpoint PATH" $TR --resume
    row "train: data width 20, sizes 21" "ffrelax train: w/W1.npy: example size: expected 21 (the visible layer), found 20" train --images w/W1.npy --sizes 21,5 --out t
    row "train: holdout takes everything" "ffrelax train: --holdout 13: leaves no training examples of 13" $TR --holdout 13
    row "train: checkpoint into a missing directory" "ffrelax train: nodir/ck: cannot create temporary file nodir/ck.tmp.{*}: No such file or directory" $TR --epochs 1 --checkpoint nodir/ck
    row "train: learning rate that blows up" "ffrelax train: {*}not finite{*}--lr{*}" $TR --epochs 3 --lr 1e6 --optimizer sgd --rho identity
fi
# ---- resource limits (issue 14, class 4): under `ulimit -v KB`, within a
# `timeout` (a hang fails the row instead of hanging CI), the command exits
# with the expected status (1 and the message, or 0 when it fits) and never
# aborts (134) or hangs (124: OpenBLAS's workers spun forever on their 128 MB
# buffer under a limit). Skipped where a limit cannot apply: sanitizer builds
# (ASan reserves terabytes of shadow) and wrapper scripts (valgrind).
# limrow DESCRIPTION KB WANT_STATUS EXPECTED_STDERR ARGS...
limrow() {
    what=$1; kb=$2; want_rc=$3; want=$4; shift 4
    n=$((n + 1))
    if [ $MD = 1 ]; then
        printf '| C%d | %s | `ulimit -v %s; %sffrelax %s` | exit %s `%s` |\n' $n "$what" $kb "${LIMENV:+$LIMENV }" "$(echo "$*" | sed 's/|/\\|/g')" $want_rc "$(echo "$want" | sed 's/|/\\|/g')"
        return
    fi
    [ "$LIMITS" = 1 ] || return 0
    timeout 120 env $LIMENV sh -c 'ulimit -v "$1" && shift && exec "$@"' sh $kb "$F" "$@" > out.txt 2> err.txt
    rc=$?
    got=$(grep -v '^ffrelax [a-z -]*: note: ' err.txt) # fewer OpenBLAS threads under the limit: a note, not the error
    if [ $rc -ne $want_rc ]; then
        echo "cli_badinput: FAIL row C$n ($what): exit status $rc (expected $want_rc) under ulimit -v $kb: ffrelax $*" >&2
        echo "  stderr: $got" >&2; nfail=$((nfail + 1))
    elif [ $want_rc -ne 0 ] && ! match "$want" "$got"; then
        echo "cli_badinput: FAIL row C$n ($what): ffrelax $*" >&2
        echo "  expected: $want" >&2
        echo "  found:    $got" >&2
        nfail=$((nfail + 1))
    fi
}
LIMITS=0
if [ $MD = 0 ] && command -v timeout > /dev/null && [ "$(head -c 2 "$F")" != "#!" ] && ! grep -q __asan_init "$F" 2> /dev/null; then
    LIMITS=1
    "$F" init --sizes 784,2000,2000 --seed 1 --out huge > /dev/null || exit 1
    # 13 examples of 20 uint8 values (scaled to [0, 1]) for rbm
    h="{'descr': '|u1', 'fortran_order': False, 'shape': (13, 20), }"
    { printf '\223NUMPY\001\000'; printf "\\$(printf %o $((${#h} + 1)))\000"; printf '%s\n' "$h"; tail -c 260 m; } > u8.npy
fi
R8="relax --model m --images w/W1.npy --quiet --threads 8"
# twice: ffrelax's own kernel doing the products, then OpenBLAS (FFRELAX_GEMM=blas,
# as on a CPU without AVX2: its workers get only as many threads as their
# buffers fit, cli/main.c and ffr_set_threads), and then every command
for LIMENV in "" FFRELAX_GEMM=blas; do
    limrow "8 threads under a 150 MB limit (hung at exit)" 150000 0 "" $R8 --max-sweeps 50
    limrow "10^7 sweeps allowed, 13 examples converge at once: the trace grows only as run" 150000 0 "" $R8 --max-sweeps 10000000 --tol 1e-4
    limrow "10^7 sweeps run: the trace outgrows the limit" 150000 1 "ffrelax relax: out of memory for the trace of sweep {*} (13 examples)" $R8 --max-sweeps 10000000
    limrow "init: parameters beyond the limit" 80000 1 "ffrelax init: cannot allocate 22713784 parameters" init --sizes 784,3000,3000 --out x
    limrow "relax: a model beyond the limit" 80000 1 "ffrelax relax: {*}cannot allocate {*}" relax --model huge --images w/W1.npy
    limrow "info: a model beyond the limit" 80000 1 "ffrelax info: {*}cannot allocate {*}" info huge
    limrow "export: a model beyond the limit" 80000 1 "ffrelax export: {*}cannot allocate {*}" export --model huge --npy-dir hx
    limrow "train: parameters beyond the limit" 80000 1 "ffrelax train: cannot allocate 123000020 parameters" train --images w/W1.npy --sizes 20,3000000 --out t --quiet
    limrow "train sae: workspaces beyond the limit" 150000 1 "ffrelax train: sae: out of memory" train --images w/W1.npy --sizes 20,200000 --out t --quiet --threads 8
    limrow "train dendritic: workspaces beyond the limit" 150000 1 "ffrelax train: dendritic: out of memory" train --method dendritic --images w/W1.npy --sizes 20,400000 --out t --quiet --threads 8
done
LIMENV=FFRELAX_GEMM=blas
limrow "import under a 150 MB limit" 150000 0 "" import --npy-dir w --tied --out t
limrow "export under a 150 MB limit" 150000 0 "" export --model m --npy-dir t2
limrow "info under a 150 MB limit" 150000 0 "" info m
limrow "init under a 150 MB limit" 150000 0 "" init --sizes 20,10 --out t
limrow "train rbm, 8 threads, under a 150 MB limit" 150000 0 "" train --method rbm --images u8.npy --sizes 20,50 --epochs 2 --out t --quiet --threads 8
limrow "train sae, 8 threads, under a 150 MB limit" 150000 0 "" train --images w/W1.npy --sizes 20,50 --epochs 2 --out t --quiet --threads 8
limrow "train dendritic, 8 threads, under a 150 MB limit" 150000 0 "" train --method dendritic --images w/W1.npy --init-model m --epochs 2 --out t --quiet --threads 8
LIMENV=
# out of address space for the packed weights: the kernel packs them in chunks
# (the same bits, not the reference loop's hours): the model equals the
# unlimited run's. 20 examples of 784 uint8 values (the bytes of huge).
if [ "$LIMITS" = 1 ]; then
    h="{'descr': '|u1', 'fortran_order': False, 'shape': (20, 784), }"
    { printf '\223NUMPY\001\000'; printf "\\$(printf %o $((${#h} + 1)))\000"; printf '%s\n' "$h"; tail -c 15680 huge; } > u784.npy
    "$F" train --method rbm --images u784.npy --sizes 784,3000 --epochs 1 --batch 20 --out rbref --quiet || exit 1
fi
limrow "train rbm 784-3000 (products in chunks)" 150000 0 "" train --method rbm --images u784.npy --sizes 784,3000 --epochs 1 --batch 20 --out rb --quiet
if [ "$LIMITS" = 1 ] && ! cmp -s rb rbref; then
    echo "cli_badinput: FAIL row C$n: the model trained under the limit differs from the unlimited run's" >&2; nfail=$((nfail + 1))
fi
# threads that cannot be created (stacks of 300 MB under a 250 MB limit; as
# root RLIMIT_NPROC does not apply): the pool runs on fewer and says so;
# OpenBLAS (re-executed with one thread before it loads, cli/main.c) starts none
n=$((n + 1))
THR="relax --model pm --images pw/W1.npy --quiet --threads 4 --max-sweeps 20"
THRWANT="ffrelax relax: note: only 1 of 4 threads could be started (Resource temporarily unavailable); the run used 1"
if [ $MD = 1 ]; then
    printf '| C%d | %s | `ulimit -s 300000 -v 250000; ffrelax %s` | exit 0 `%s` |\n' $n "threads that cannot be created: fewer, said" "$THR" "$THRWANT"
elif [ "$LIMITS" = 1 ]; then
    "$F" init --sizes 300,200,200 --seed 2 --out pm > /dev/null && "$F" export --model pm --npy-dir pw > /dev/null || exit 1
    timeout 120 sh -c 'ulimit -s 300000 && ulimit -v 250000 && exec "$@"' sh "$F" $THR > out.txt 2> err.txt
    rc=$?
    got=$(cat err.txt)
    if [ $rc -ne 0 ]; then
        echo "cli_badinput: FAIL row C$n (threads that cannot be created): exit status $rc: $got" >&2; nfail=$((nfail + 1))
    elif grep -q avx2 /proc/cpuinfo && grep -q fma /proc/cpuinfo && ! match "$THRWANT" "$got"; then
        echo "cli_badinput: FAIL row C$n (threads that cannot be created): expected: $THRWANT" >&2
        echo "  found:    $got" >&2; nfail=$((nfail + 1))
    fi
fi
# the user's own OPENBLAS_NUM_THREADS (hung at load: OpenBLAS started its
# workers before main): re-executed with 1 all the same, the user's count kept
# as the default thread count (cli/main.c)
for LIMENV in OPENBLAS_NUM_THREADS=8 "OPENBLAS_NUM_THREADS=8 FFRELAX_GEMM=blas" "OPENBLAS_NUM_THREADS=2 FFRELAX_GEMM=blas"; do
    limrow "the user's OPENBLAS_NUM_THREADS under a 150 MB limit (hung at load)" 150000 0 "" $R8 --max-sweeps 50
done
LIMENV=
[ $MD = 1 ] && exit 0
[ $nfail -eq 0 ] || { echo "cli_badinput: $nfail of $n rows failed" >&2; exit 1; }
exit 0
