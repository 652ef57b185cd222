#!/bin/sh
# cli_mpi.sh - data-parallel training over MPI ranks (doc/scaling.md): the MPI
# CLI (make MPI=1: build-mpi/ffrelax, FFRELAX_MPI) under `mpirun -np 2` and
# `-np 3 --oversubscribe` on this machine (loopback, shared memory) must write
# the bytes of one process (FFRELAX, the plain build) with the same global
# batch, seed and thread count: the model, the checkpoint, and the metrics CSV
# bar its timing columns (examples_per_s, seconds), for train --method sae and
# --method dendritic; a checkpoint written over 2 ranks resumes over 3 to the
# bytes of an uninterrupted run; relax over 2 and 3 ranks writes the trace CSV
# and every npy of one process; a rank given a truncated data file (train) or
# model (relax) stops every rank with a non-zero status and that file's
# message, within a time limit (never a hang), and no output is written;
# methods without the split (rbm) and other commands (eval) are refused with
# a message. Skipped with a message when mpirun or the
# MPI build is missing (scripts/deps.sh installs openmpi-bin, make test builds it).
set -u
F=${FFRELAX:-build/ffrelax}
M=${FFRELAX_MPI:-build-mpi/ffrelax}
case "$F" in /*) ;; *) F="$(pwd)/$F" ;; esac
case "$M" in /*) ;; *) M="$(pwd)/$M" ;; esac
command -v mpirun > /dev/null 2>&1 || { echo "cli_mpi.sh: skipped: mpirun not installed (sh scripts/deps.sh installs openmpi-bin)"; exit 0; }
[ -x "$M" ] || { echo "cli_mpi.sh: skipped: no MPI build at $M (make MPI=1, needs mpicc from libopenmpi-dev)"; exit 0; }
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

# strip the timing columns (examples_per_s, seconds) of a metrics CSV
notime() { cut -d, -f1-10,12-14 "$1"; }

# train METHOD EXTRA...: one process, then 2 and 3 ranks; every output the same
train_cmp() {
    meth=$1; shift
    args="train --method $meth --images $X --sizes 30,20,10 --epochs 2 --batch 70 --holdout 30 --threads 1 --seed 3 --quiet $*"
    "$F" $args --out one.ffr --checkpoint one.ck --metrics one.csv > /dev/null || fail "$meth: one process"
    for np in 2 3; do
        mpi $np "$M" $args --out mpi.ffr --checkpoint mpi.ck --metrics mpi.csv > out.txt 2>&1 || { cat out.txt; fail "$meth: -np $np"; }
        cmp one.ffr mpi.ffr > /dev/null || fail "$meth: the model over $np ranks differs from one process"
        cmp one.ck mpi.ck > /dev/null || fail "$meth: the checkpoint over $np ranks differs from one process"
        [ "$(notime one.csv)" = "$(notime mpi.csv)" ] || fail "$meth: the metrics over $np ranks differ from one process"
        rm -f mpi.ffr mpi.ck mpi.csv
    done
    echo "  $meth: 2 and 3 ranks = one process ($(sha256sum < one.ffr | cut -c1-16))"
}
train_cmp sae
train_cmp sae --decoder tied --target rate
train_cmp sae --threads 2
train_cmp dendritic --relax-max-sweeps 15
# OpenBLAS for every product (its rows depend on the other rows of a product: the 32-example blocks)
export FFRELAX_GEMM=blas
train_cmp sae
train_cmp dendritic --relax-max-sweeps 15
unset FFRELAX_GEMM

# resume over another number of ranks (one layer: the checkpoint after epoch 1 is
# the uninterrupted run's): epoch 1 over 2 ranks, then epochs 2..3 over 3 = 3 epochs in one
base="train --method sae --images $X --sizes 30,20 --batch 70 --holdout 30 --threads 1 --seed 4 --quiet"
"$F" $base --epochs 3 --out one.ffr > /dev/null || fail "resume: one process"
mpi 2 "$M" $base --epochs 1 --checkpoint r.ck --out r1.ffr > /dev/null 2>&1 || fail "resume: first part"
mpi 3 "$M" $base --epochs 3 --checkpoint r.ck --resume --out r.ffr > /dev/null 2>&1 || fail "resume: second part"
cmp one.ffr r.ffr > /dev/null || fail "resume: 2 ranks then 3 differ from one process"
echo "  resume: 1 epoch over 2 ranks + 2 over 3 = 3 epochs in one process"

# fault: rank 1 reads a truncated copy of the data; every rank stops, non-zero, with its message
head -c 2000 $X > cut.npy
args="train --method sae --sizes 30,20,10 --epochs 2 --batch 70 --holdout 30 --threads 1 --quiet --out bad.ffr"
mpi 1 "$M" $args --images $X : -np 1 "$M" $args --images cut.npy > out.txt 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat out.txt; fail "fault: exit status $rc (expected non-zero, not the time limit)"; }
grep -q "cut.npy" out.txt || { cat out.txt; fail "fault: no message naming the truncated file"; }
[ ! -e bad.ffr ] || fail "fault: a model was written"
echo "  fault: a truncated file on rank 1 stops both ranks (status $rc): $(grep -m1 cut.npy out.txt | cut -c1-100)"

# rbm has no per-example split yet: refused with a message, non-zero
mpi 2 "$M" train --method rbm --images $X --sizes 30,20 --epochs 1 --quiet --out rbm.ffr > out.txt 2>&1 && fail "rbm over 2 ranks was not refused"
grep -q "no data-parallel training" out.txt || { cat out.txt; fail "rbm: no message"; }
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

# the other commands run in one process: refused over 2 ranks, no file written
mpi 2 "$M" eval --model dm --images $X > out.txt 2>&1 && fail "eval over 2 ranks was not refused"
grep -q "runs in one process" out.txt || { cat out.txt; fail "eval: no message"; }
echo "cli_mpi.sh: ok"
