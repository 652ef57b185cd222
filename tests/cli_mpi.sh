#!/bin/sh
# cli_mpi.sh - data-parallel training and sharded relaxation over MPI ranks
# (doc/scaling.md): the MPI CLI (make MPI=1: build-mpi/ffrelax, FFRELAX_MPI)
# under `mpirun -np 2` and `-np 3 --oversubscribe` on this machine (loopback,
# shared memory) must write the bytes of one process (FFRELAX, the plain
# build) with the same global batch, seed and thread count: the model, the
# checkpoint, and the metrics CSV bar its timing columns, for train --method
# sae, rbm (CD-k and persistent chains), dendritic and ep (feedforward, zero
# and persistent starts, the three nudges, Eq. 23 feedback), also with
# FFRELAX_GEMM=blas; a checkpoint written over 2 ranks resumes over 3 to the
# bytes of an uninterrupted run (sae, rbm --persistent, ep --init persistent);
# the held-out relaxations of the metrics are shared out (dendritic --holdout 300);
# relax over 2 and 3 ranks writes the trace CSV and every npy of one process;
# eval over 2 and 3 ranks prints the line of one process (bar its seconds);
# FFRELAX_MPI_REDUCE=rows (the row-partitioned reduction: sae, rbm) gives the
# same bytes, and an unknown value is refused;
# a rank given a truncated data file (train), labels file (train --method ep)
# or model (relax, eval) stops
# every rank with a non-zero status and that file's message, within a time
# limit (never a hang), and no output is written; the other commands
# (ep-study) are refused with a message. Skipped with a message when mpirun or the
# MPI build is missing (scripts/deps.sh installs openmpi-bin, make test builds it).
set -u
F=${FFRELAX:-build/ffrelax}
M=${FFRELAX_MPI:-build-mpi/ffrelax}
case "$F" in /*) ;; *) F="$(pwd)/$F" ;; esac
case "$M" in /*) ;; *) M="$(pwd)/$M" ;; esac
command -v mpirun > /dev/null 2>&1 || { echo "cli_mpi.sh: skipped: mpirun not installed (sh scripts/deps.sh installs openmpi-bin)"; exit 0; }
[ -x "$M" ] || { echo "cli_mpi.sh: skipped: no MPI build at $M (make MPI=1, needs mpicc from libopenmpi-dev)"; exit 0; }
. "$(dirname "$0")/digits.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fail() { echo "cli_mpi.sh: FAIL: $*" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# root in containers; shared memory without CMA (no ptrace capability); loopback only
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_oob_tcp_if_include=lo
mpi() { np=$1; shift; timeout 120 mpirun -np "$np" --oversubscribe "$@"; }

# data: 230 examples of 30 values (W1 of a 30-230 model)
"$F" init --sizes 30,230 --seed 5 --out dm > /dev/null || fail "init"
"$F" export --model dm --npy-dir dw > /dev/null || fail "export"
X=dw/W1.npy
# labeled MNIST-shaped images in [0, 1] (rbm, ep, eval): 60 per digit; digit c lights
# mostly pixels 78c..78c+77; convert-mnist keeps 540 for training and 60 for the test
digits "$F" 60 7 || fail "convert-mnist"
TR="--images mn/train-images-idx3-ubyte.gz --labels mn/train-labels-idx1-ubyte.gz"
TE="--test-images mn/t10k-images-idx3-ubyte.gz --test-labels mn/t10k-labels-idx1-ubyte.gz"

# strip the timing columns (examples_per_s, seconds) of a metrics CSV (ep: seconds, seconds_total)
notime() { cut -d, -f1-10,12-14 "$1"; }
notime_ep() { cut -d, -f1-14 "$1"; }

# cmp_runs WHAT NOTIME ARGS...: one process, then 2 and 3 ranks; model, checkpoint and metrics the same
cmp_runs() {
    what=$1; nt=$2; shift 2
    "$F" "$@" --out one.ffr --checkpoint one.ck --metrics one.csv > /dev/null || fail "$what: one process"
    for np in 2 3; do
        mpi $np "$M" "$@" --out mpi.ffr --checkpoint mpi.ck --metrics mpi.csv > out.txt 2>&1 || { cat out.txt; fail "$what: -np $np"; }
        cmp one.ffr mpi.ffr > /dev/null || fail "$what: the model over $np ranks differs from one process"
        cmp one.ck mpi.ck > /dev/null || fail "$what: the checkpoint over $np ranks differs from one process"
        [ "$($nt one.csv)" = "$($nt mpi.csv)" ] || fail "$what: the metrics over $np ranks differ from one process"
        rm -f mpi.ffr mpi.ck mpi.csv
    done
    echo "  $what: 2 and 3 ranks = one process ($(sha256sum < one.ffr | cut -c1-16))"
}
# train METHOD EXTRA...: on the 30-value data (rbm: the images, in [0, 1])
train_cmp() {
    meth=$1; shift
    data="--images $X --sizes 30,20,10"
    [ "$meth" = rbm ] && data="--images mn/train-images-idx3-ubyte.gz --sizes 784,20,10"
    cmp_runs "$meth $*" notime train --method $meth $data --epochs 2 --batch 70 --holdout 30 --threads 1 --seed 3 --quiet "$@"
}
# ep EXTRA...: 540 examples in minibatches of 70 (blocks of 32 and a short last one), test set each epoch
ep_cmp() {
    cmp_runs "ep $*" notime_ep train --method ep $TR $TE --sizes 784,20,10 --epochs 2 --batch 70 --threads 1 --seed 3 --quiet "$@"
}
train_cmp sae
train_cmp sae --decoder tied --target rate
train_cmp sae --threads 2
train_cmp dendritic --relax-max-sweeps 15
# the held-out relaxations of the metrics (300 examples: two chunks of the relaxation) shared out
cmp_runs "dendritic --holdout 300" notime train --method dendritic --images mn/train-images-idx3-ubyte.gz --sizes 784,20,10 \
    --epochs 2 --batch 70 --holdout 300 --threads 1 --seed 3 --quiet --relax-max-sweeps 15
train_cmp rbm
train_cmp rbm --persistent --cd-k 3
# the SAE's gradient products by blocks of 128 output rows (784: 7 blocks), the whole gradient on
# every rank (FFRELAX_MPI_REDUCE=all, the default) or shared out (rows: the row-partitioned reduction)
sae_wide() {
    for red in all rows; do
        export FFRELAX_MPI_REDUCE=$red
        cmp_runs "sae 784-70-40 $* (reduce $red)" notime train --method sae \
            --images mn/train-images-idx3-ubyte.gz --sizes 784,70,40 --epochs 2 --batch 70 --holdout 30 --threads 1 --seed 3 --quiet "$@"
    done
    unset FFRELAX_MPI_REDUCE
}
sae_wide
export FFRELAX_MPI_REDUCE=rows # the RBM's gW by rows (140: two blocks)
cmp_runs "rbm 784-140 --persistent (reduce rows)" notime train --method rbm --persistent --images mn/train-images-idx3-ubyte.gz \
    --sizes 784,140 --epochs 2 --batch 70 --holdout 30 --threads 1 --seed 3 --quiet
unset FFRELAX_MPI_REDUCE
FFRELAX_MPI_REDUCE=cols mpi 2 "$M" train --method sae --images $X --sizes 30,20 --quiet --out x.ffr > out.txt 2>&1 &&
    fail "FFRELAX_MPI_REDUCE=cols was accepted"
grep -q "FFRELAX_MPI_REDUCE: expected rows or all, found 'cols'" out.txt || { cat out.txt; fail "FFRELAX_MPI_REDUCE: no message"; }
ep_cmp
ep_cmp --init zero --nudge positive --fixed-sweeps 6,4
ep_cmp --init persistent --sizes 784,20,15,10
ep_cmp --rule dendritic --feedback eq23 --nudge random-sign
# OpenBLAS for every product (its rows depend on the other rows of a product: the 32-example blocks)
export FFRELAX_GEMM=blas
train_cmp sae
train_cmp dendritic --relax-max-sweeps 15
train_cmp rbm --persistent
ep_cmp
sae_wide --decoder tied
sae_wide --threads 2
unset FFRELAX_GEMM

# resume over another number of ranks (one layer: the checkpoint after epoch 1 is
# the uninterrupted run's): epoch 1 over 2 ranks, then epochs 2..3 over 3 = 3 epochs in one
base="train --method sae --images $X --sizes 30,20 --batch 70 --holdout 30 --threads 1 --seed 4 --quiet"
"$F" $base --epochs 3 --out one.ffr > /dev/null || fail "resume: one process"
mpi 2 "$M" $base --epochs 1 --checkpoint r.ck --out r1.ffr > /dev/null 2>&1 || fail "resume: first part"
mpi 3 "$M" $base --epochs 3 --checkpoint r.ck --resume --out r.ffr > /dev/null 2>&1 || fail "resume: second part"
cmp one.ffr r.ffr > /dev/null || fail "resume: 2 ranks then 3 differ from one process"
echo "  resume: 1 epoch over 2 ranks + 2 over 3 = 3 epochs in one process"
# the same for rbm with persistent chains (in the checkpoint) and ep from the persistent free states
resume_cmp() {
    what=$1; shift
    "$F" "$@" --epochs 3 --out one.ffr > /dev/null || fail "resume $what: one process"
    rm -f r.ck
    mpi 2 "$M" "$@" --epochs 1 --checkpoint r.ck --out r1.ffr > /dev/null 2>&1 || fail "resume $what: first part"
    mpi 3 "$M" "$@" --epochs 3 --checkpoint r.ck --resume --out r.ffr > /dev/null 2>&1 || fail "resume $what: second part"
    cmp one.ffr r.ffr > /dev/null || fail "resume $what: 2 ranks then 3 differ from one process"
    echo "  resume $what: 1 epoch over 2 ranks + 2 over 3 = 3 epochs in one process"
}
resume_cmp "rbm --persistent" train --method rbm --persistent --images mn/train-images-idx3-ubyte.gz --sizes 784,20 \
    --batch 70 --holdout 30 --threads 1 --seed 4 --quiet
resume_cmp "ep --init persistent" train --method ep --init persistent $TR --sizes 784,20,10 --batch 70 --threads 1 --seed 4 --quiet

# fault: rank 1 reads a truncated copy of the data; every rank stops, non-zero, with its message
head -c 2000 $X > cut.npy
args="train --method sae --sizes 30,20,10 --epochs 2 --batch 70 --holdout 30 --threads 1 --quiet --out bad.ffr"
mpi 1 "$M" $args --images $X : -np 1 "$M" $args --images cut.npy > out.txt 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat out.txt; fail "fault: exit status $rc (expected non-zero, not the time limit)"; }
grep -q "cut.npy" out.txt || { cat out.txt; fail "fault: no message naming the truncated file"; }
[ ! -e bad.ffr ] || fail "fault: a model was written"
echo "  fault: a truncated file on rank 1 stops both ranks (status $rc): $(grep -m1 cut.npy out.txt | cut -c1-100)"
# the same for ep: rank 1 reads truncated labels
head -c 60 mn/train-labels-idx1-ubyte.gz > lcut.gz
args="train --method ep --images mn/train-images-idx3-ubyte.gz --sizes 784,20,10 --epochs 1 --batch 70 --threads 1 --quiet --out bad.ffr"
mpi 1 "$M" $args --labels mn/train-labels-idx1-ubyte.gz : -np 1 "$M" $args --labels lcut.gz > out.txt 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat out.txt; fail "ep fault: exit status $rc (expected non-zero, not the time limit)"; }
grep -q "lcut.gz" out.txt || { cat out.txt; fail "ep fault: no message naming the truncated labels"; }
[ ! -e bad.ffr ] || fail "ep fault: a model was written"
echo "  ep fault: truncated labels on rank 1 stop both ranks (status $rc)"

# relax: the examples' chunks shared out; the trace CSV and every npy as one process writes them,
# for one chunk (200 examples) and several (700: chunks of 256 rows, ragged last one), with a
# tolerance (examples stop apart), noise and a random start (seeded per example), Anderson
"$F" init --sizes 30,700 --seed 6 --out dm7 > /dev/null && "$F" export --model dm7 --npy-dir dw7 > /dev/null || fail "init 700"
"$F" init --sizes 30,20,10 --rule dendritic --seed 7 --out rm > /dev/null || fail "init relax model"
relax_cmp() {
    rm -rf one mpi; mkdir one
    "$F" relax --model rm --images dw7/W1.npy --threads 1 --quiet --npy-dir one --trace one/trace.csv "$@" || fail "relax $*: one process"
    for np in 2 3; do
        rm -rf mpi; mkdir mpi
        mpi $np "$M" relax --model rm --images dw7/W1.npy --threads 1 --quiet --npy-dir mpi --trace mpi/trace.csv "$@" > out.txt 2>&1 ||
            { cat out.txt; fail "relax $*: -np $np"; }
        for f in one/*.npy one/trace.csv; do cmp "$f" "mpi/${f#one/}" > /dev/null || fail "relax $*: ${f#one/} over $np ranks differs from one process"; done
        # the set's manifest: the same members, sizes and crc32 (each run has its own run id)
        [ "$(grep -v '^run ' one/relax-set.manifest)" = "$(grep -v '^run ' mpi/relax-set.manifest)" ] ||
            fail "relax $*: relax-set.manifest over $np ranks lists other files than one process's"
    done
    echo "  relax $*: $(ls one | wc -l) files, 2 and 3 ranks = one process"
}
relax_cmp --count 200 --tol 1e-4 --measure-every 1
relax_cmp --tol 1e-4 --measure-every 3
relax_cmp --init random --temperature 0.01 --max-sweeps 25 --seed 5
relax_cmp --tau 3 --anderson 3 --tol 1e-5 --measure-every 1

# relax fault: rank 1 reads a truncated model; both stop, non-zero, with its message, no file
head -c 1000 rm > rcut
mpi 1 "$M" relax --model rm --images dw7/W1.npy --quiet --trace bad.csv : -np 1 "$M" relax --model rcut --images dw7/W1.npy --quiet --trace bad.csv > out.txt 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat out.txt; fail "relax fault: exit status $rc"; }
grep -q "rcut" out.txt || { cat out.txt; fail "relax fault: no message naming the truncated model"; }
[ ! -e bad.csv ] || fail "relax fault: a trace was written"
echo "  relax fault: a truncated model on rank 1 stops both ranks (status $rc)"

# eval: the chunks of 256 examples shared out (540: three chunks); rank 0 prints the line of one
# process (bar the seconds), with the feedforward and the zero start, a tolerance or fixed sweeps
"$F" train --method ep $TR --sizes 784,20,10 --epochs 1 --batch 70 --threads 1 --seed 3 --quiet --out ev.ffr || fail "eval model"
eval_cmp() {
    "$F" eval --model ev.ffr $TR --threads 1 "$@" | sed 's/[0-9.e+-]* s$//' > one.txt || fail "eval $*: one process"
    for np in 2 3; do
        mpi $np "$M" eval --model ev.ffr $TR --threads 1 "$@" > out.txt 2> err.txt || { cat err.txt; fail "eval $*: -np $np"; }
        sed 's/[0-9.e+-]* s$//' out.txt | cmp - one.txt > /dev/null || { cat out.txt one.txt; fail "eval $*: the output over $np ranks differs from one process"; }
    done
    echo "  eval $*: 2 and 3 ranks = one process ($(cut -c1-60 one.txt))"
}
eval_cmp
eval_cmp --init zero --tol 1e-4 --anderson 2
eval_cmp --fixed-sweeps 7 --count 300
"$F" eval --model ev.ffr $TR --threads 1 --csv | cut -d, -f1-9 > one.txt || fail "eval --csv: one process"
mpi 3 "$M" eval --model ev.ffr $TR --threads 1 --csv > out.txt 2> err.txt || { cat err.txt; fail "eval --csv: -np 3"; }
[ "$(cut -d, -f1-9 out.txt)" = "$(cat one.txt)" ] || fail "eval --csv: the row over 3 ranks differs from one process"
# eval fault: rank 1 reads a truncated model; both stop, non-zero, with its message, nothing printed
head -c 1000 ev.ffr > evcut
mpi 1 "$M" eval --model ev.ffr $TR : -np 1 "$M" eval --model evcut $TR > out.txt 2> err.txt
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat out.txt err.txt; fail "eval fault: exit status $rc"; }
grep -q "evcut" err.txt || { cat err.txt; fail "eval fault: no message naming the truncated model"; }
[ ! -s out.txt ] || { cat out.txt; fail "eval fault: a result was printed"; }
echo "  eval fault: a truncated model on rank 1 stops both ranks (status $rc)"

# the other commands run in one process: refused over 2 ranks, no file written
mpi 2 "$M" ep-study --data mn --out st --quick > out.txt 2>&1 && fail "ep-study over 2 ranks was not refused"
grep -q "runs in one process" out.txt || { cat out.txt; fail "ep-study: no message"; }
[ ! -e st ] || fail "ep-study: a file was written"
echo "cli_mpi.sh: ok"
