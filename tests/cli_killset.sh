#!/bin/sh
# Sets of .npy files killed mid-write never read as a mix of two runs (issue
# 14, class 10; doc/formats.md "Sets of .npy files"). Two models A and B of
# the same sizes are exported in turn into one folder, and each export is
# killed with SIGKILL after a seeded random delay (within the time of an
# uninterrupted export); after every kill `ffrelax import` either refuses the
# folder with a message (an incomplete or mixed set) or imports a network
# whose every array is A's or every array is B's, never some of each. The
# same for `relax --npy-dir` (two runs of different sweep counts) read back
# by `relax --init given --start-dir`. Each run is a few seconds; the
# command count is KILLS per kind (up to 3 x KILLS, all polled, when none of
# the first KILLS landed mid-write). Half the kills come at a seeded random point of the
# run, half as soon as the writer has marked the folder's manifest "writing"
# (a shell loop polls it), so kills land inside the write phase however fast
# the machine is and however small that phase is next to the compute (it
# once was not: a relax under ASan on a fast machine, 20 random kills, none
# in the few ms of writing). Exits 1 on a mixed set read, or when no kill at
# all landed mid-write (the test would prove nothing).
set -u
F=${FFRELAX:-build/ffrelax}
case "$F" in /*) ;; *) F="$(pwd)/$F" ;; esac
KILLS=${KILLS:-20}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fail() { echo "cli_killset: FAIL: $*" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1

# two untied models of the same sizes (16 arrays each), their exports as references
"$F" init --sizes 300,200,150,100,50 --seed 1 --out A > /dev/null || fail "init A"
"$F" init --sizes 300,200,150,100,50 --seed 2 --out B > /dev/null || fail "init B"
"$F" export --model A --npy-dir Ax > /dev/null && "$F" export --model B --npy-dir Bx > /dev/null || fail "export"
# data for relax: 200 examples of 300 values (W1 of A); runs X (1 sweep) and Y (3 sweeps)
RX="relax --model A --images Ax/W1.npy --quiet"
"$F" $RX --max-sweeps 1 --npy-dir Xr > /dev/null && "$F" $RX --max-sweeps 3 --npy-dir Yr > /dev/null || fail "relax"

rand_ms() { awk -v s=$1 -v lo=$2 -v hi=$3 'BEGIN { srand(s); print int(lo + rand() * (hi - lo + 1)) }'; }
ms() { date +%s%3N; }

# same_set DIR REF PATTERN: every file of REF matching PATTERN is in DIR, byte for byte
same_set() {
    for f in "$2"/$3; do cmp -s "$f" "$1/$(basename "$f")" || return 1; done
    return 0
}

# kill_loop NAME WRITE_A WRITE_B READ CHECK: WRITE_x writes into k/, READ reads k/
# (exit 0 or a refusal), CHECK (after a successful read) must succeed
kill_loop() {
    name=$1; wa=$2; wb=$3; rd=$4; chk=$5
    rm -rf k && mkdir k
    t0=$(ms); eval "$wa" > /dev/null 2>&1 || fail "$name: uninterrupted write failed"; t1=$(ms)
    maxd=$(( (t1 - t0) * 6 / 5 )); [ $maxd -ge 10 ] || maxd=10
    i=0; refused=0; read_ok=0
    # KILLS kills; if none of them landed mid-write (a machine so fast that the
    # write phase passes between two polls), up to 2 x KILLS more, all polled
    while [ $i -lt $KILLS ] || { [ $refused -eq 0 ] && [ $i -lt $((3 * KILLS)) ]; }; do
        if [ $((i % 2)) = 0 ]; then w=$wb; else w=$wa; fi
        before=$(cat k/*-set.manifest 2> /dev/null | cksum)
        sh -c "exec $w" > /dev/null 2>&1 &
        pid=$!
        if [ $i -lt $KILLS ] && [ $((i % 4)) -lt 2 ]; then # a seeded random point of the run
            sleep "$(awk -v d=$(rand_ms $((7 * i + ${#name})) 0 $maxd) 'BEGIN { printf "%.3f", d / 1000 }')"
        else # as soon as the writer has marked the set "writing": a kill inside the write phase on any machine speed
            while kill -0 $pid 2> /dev/null; do # this writer's "writing" manifest, not one a killed run left
                grep -qs '^status writing' k/*-set.manifest && [ "$(cat k/*-set.manifest 2> /dev/null | cksum)" != "$before" ] && break
            done
        fi
        kill -KILL $pid 2> /dev/null
        wait $pid 2> /dev/null
        if eval "$rd" > out.txt 2> err.txt; then
            eval "$chk" || fail "$name: kill $i: the reader took a mix of two runs"
            read_ok=$((read_ok + 1))
        else
            grep -q "incomplete set\|not the file of run\|not part of the set\|another process" err.txt ||
                fail "$name: kill $i: unexpected refusal: $(cat err.txt)"
            refused=$((refused + 1))
        fi
        i=$((i + 1))
    done
    [ $refused -gt 0 ] || fail "$name: no kill landed mid-write in $i (the uninterrupted write takes ${maxd} ms)"
    echo "cli_killset: $name: $i kills, $refused sets refused (killed mid-write), $read_ok read whole (one run's)"
}

kill_loop export "'$F' export --model A --npy-dir k" "'$F' export --model B --npy-dir k" \
    "rm -rf imx imp.m && '$F' import --npy-dir k --out imp.m && '$F' export --model imp.m --npy-dir imx" \
    "same_set imx Ax '*.npy' || same_set imx Bx '*.npy'"
kill_loop relax "'$F' $RX --max-sweeps 1 --npy-dir k" "'$F' $RX --max-sweeps 3 --npy-dir k" \
    "'$F' $RX --init given --start-dir k --max-sweeps 0" \
    "same_set k Xr 'state*.npy' || same_set k Yr 'state*.npy'"
exit 0
