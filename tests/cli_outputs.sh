#!/bin/sh
# The CLI rows of doc/reliability.md's tables for outputs and special inputs
# (issue 14's classes 1, 2, 3, 5, 10, 12): every writer's target kinds
# (devices, standard output, symbolic and hard links, read-only files, kept
# permissions), outputs that name an input or each other, outputs checked
# before any work, FIFOs and devices as inputs (never a hang), leftovers of
# killed writers and stale members of an npy set, and messages.
# Two kinds of rows: `refuse` (non-zero exit, exact stderr, {*} = any text,
# and the CHECK after it must hold: nothing overwritten, nothing done) and
# `accept` (exit 0 and the CHECK holds). Every command runs under a 20 s
# timeout so that a hang fails the row instead of the suite.
# `sh tests/cli_outputs.sh --markdown` prints the table rows instead.
set -u
. "$(dirname "$0")/lib.sh"
LOCKPID=
LOCKPID2=

md_row() { # CLASS WHAT WANT CHECK ARGS...
    printf '| O%d | %s | %s | `ffrelax %s` | %s |\n' $n "$1" "$2" "$(echo "$5" | sed 's/|/\\|/g')" "$3"
}

# refuse CLASS WHAT EXPECTED_STDERR CHECK ARGS...
refuse() {
    cls=$1; what=$2; want=$3; chk=$4; shift 4
    n=$((n + 1))
    if [ $MD = 1 ]; then
        c=""; [ "$chk" = true ] || c="; then \`$(echo "$chk" | sed 's/|/\\|/g')\`"
        md_row "$cls" "$what" "exit 1: \`$(echo "$want" | sed 's/|/\\|/g')\`$c" "$chk" "$*"; return
    fi
    timeout 20 "$F" "$@" > out.txt 2> err.txt < /dev/null
    rc=$?
    got=$(cat err.txt)
    if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
        echo "cli_outputs: FAIL row O$n ($what): exit status $rc for: ffrelax $*" >&2; nfail=$((nfail + 1))
    elif ! match "$want" "$got"; then
        echo "cli_outputs: FAIL row O$n ($what): ffrelax $*" >&2
        echo "  expected: $want" >&2
        echo "  found:    $got" >&2
        nfail=$((nfail + 1))
    elif ! sh -c "$chk"; then
        echo "cli_outputs: FAIL row O$n ($what): check failed: $chk" >&2; nfail=$((nfail + 1))
    fi
}

# accept CLASS WHAT CHECK ARGS...: exit 0, then CHECK holds (stdout in out.txt)
accept() {
    cls=$1; what=$2; chk=$3; shift 3
    n=$((n + 1))
    if [ $MD = 1 ]; then md_row "$cls" "$what" "exit 0; \`$(echo "$chk" | sed 's/|/\\|/g')\`" "$chk" "$*"; return; fi
    timeout 20 "$F" "$@" > out.txt 2> err.txt < /dev/null
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "cli_outputs: FAIL row O$n ($what): exit status $rc for: ffrelax $*: $(cat err.txt)" >&2; nfail=$((nfail + 1))
    elif ! sh -c "$chk"; then
        echo "cli_outputs: FAIL row O$n ($what): check failed: $chk" >&2; nfail=$((nfail + 1))
    fi
}

# fixtures: a tied 20-13-11 model m (and a copy m.orig), its arrays w/, a
# FIFO, a read-only model, a model with a second hard link, a symlink to a model
EP="train --method ep --images mn/train-images-idx3-ubyte.gz --labels mn/train-labels-idx1-ubyte.gz --sizes 784,8,10 --batch 6 --seed 3 --quiet"
if [ $MD = 0 ]; then
    "$F" init --sizes 20,13,11 --tied --seed 3 --out m > /dev/null || { echo "cli_outputs: init failed" >&2; exit 1; }
    cp m m.orig
    "$F" export --model m --npy-dir w > /dev/null || exit 1
    cp w/W1.npy x.npy && cp x.npy x.orig
    mkfifo fifo
    cp m ro && chmod 444 ro
    cp m hl && ln hl hl2
    cp m target.model && ln -s target.model link.model
    cp m priv && chmod 600 priv
    echo x > afile
    mkdir adir
    ln -s x.npy xlink
    "$F" relax --model m --images w/W1.npy --quiet --npy-dir s > /dev/null && cp s/state1.npy s1.orig || exit 1
    mkdir mdir && cp m mdir/W1.npy
    "$F" init --sizes 20,10 --out m10 > /dev/null || exit 1
    mkdir ew && cp w/W1.npy ew/W1.npy && chmod 444 ew/W1.npy
    mkdir deep && cp x.npy deep/state3.npy
    "$F" init --sizes 20,13,11,5 --tied --out m4 > /dev/null && "$F" export --model m4 --npy-dir deepw > /dev/null || exit 1
    # temporaries: a dead writer's (two hours old) and a live one's (fresh)
    cp m m.tmp.999999 && cp m m.tmp.1.x && touch -d '2 hours ago' m.tmp.999999 m.tmp.1.x && cp m m.tmp.888888
    # an npy with an escape sequence as its dtype
    h="{'descr': '$(printf '\033')[2J', 'fortran_order': False, 'shape': (1, 20), }"
    { printf '\223NUMPY\001\000'; printf "\\$(printf %o $((${#h} + 1)))\000"; printf '%s\n' "$h"; head -c 80 m; } > esc.npy
    # the same 13 digits of 4 x 5 pixels as uint8 .npy and as IDX (scaled to [0, 1])
    h="{'descr': '|u1', 'fortran_order': False, 'shape': (13, 20), }"
    { printf '\223NUMPY\001\000'; printf "\\$(printf %o $((${#h} + 1)))\000"; printf '%s\n' "$h"; tail -c 260 m; } > u8.npy
    { printf '\000\000\010\003\000\000\000\015\000\000\000\004\000\000\000\005'; tail -c 260 m; } > u8.idx
    "$F" relax --model m --images u8.idx --quiet --max-sweeps 3 --trace f01.csv || exit 1
    # class 9: a gzip IDX of 3000 images 28 x 36 (3 MB inflated, a few KB on disk)
    { printf '\000\000\010\003\000\000\013\270\000\000\000\034\000\000\000\044'; head -c 3024000 /dev/zero; } | gzip -c > wide.gz
    # class 7: a run of 2 epochs whose metrics also hold a row of epoch 3 (committed
    # before a kill prevented epoch 3's checkpoint), and the uninterrupted 3 epochs
    "$F" train --images x.npy --sizes 20,5 --epochs 3 --quiet --out ref.m --metrics ref.csv || exit 1
    "$F" train --images x.npy --sizes 20,5 --epochs 2 --quiet --out k.m --metrics k.csv --checkpoint k.ck || exit 1
    tail -1 k.csv | sed 's/^sae,1,2,/sae,1,3,/; s/,[^,]*$/,999/' >> k.csv
    mkdir -p pkg/src/digits
    for c in 0 1 2 3 4 5 6 7 8 9; do
        awk -v c=$c 'BEGIN { srand(c + 7); printf "{\"data\": [";
            for (j = 0; j < 2; j++) for (i = 0; i < 784; i++) printf "%s%.2f", (i + j ? "," : ""), (int(i / 78) == c) ? rand() : 0
            printf "]}" }' > pkg/src/digits/$c.json
    done
    "$F" convert-mnist --package pkg --out mn > /dev/null || exit 1
    "$F" $EP --epochs 3 --out epref.m --metrics epref.csv || exit 1
    "$F" $EP --epochs 2 --out ep.m --metrics ep.csv --checkpoint ep.ck || exit 1
    tail -1 ep.csv | sed 's/^2,/3,/' >> ep.csv
    mkdir mro && echo x > mro/t10k-images-idx3-ubyte.gz && chmod 444 mro/t10k-images-idx3-ubyte.gz
    mkdir lockw
    # class 10, sets: another run's W2 of the same shape in an export (mix), an extra
    # W3.npy that chains (unl), a set whose writer was killed (inc), a damaged
    # manifest (badm), numpy's set without manifest (user), a relax set with
    # another run's state1.npy (smix)
    "$F" init --sizes 20,13,11 --tied --seed 4 --out m4s > /dev/null && "$F" export --model m4s --npy-dir w4 > /dev/null || exit 1
    cp -r w mix && cp w4/W2.npy mix/W2.npy
    cp -r w unl && cp deepw/W3.npy unl/W3.npy
    cp -r w inc && sed -i '/^member/d; s/^status complete/status writing/' inc/model-set.manifest
    cp -r w badm && printf 'junk\n' > badm/model-set.manifest
    mkdir user && cp w/*.npy user/
    "$F" relax --model m --images w/W1.npy --quiet --max-sweeps 1 --npy-dir s1x > /dev/null || exit 1
    cp -r s smix && cp s1x/state1.npy smix/state1.npy
    # ep-study: --bp-csv inside its output folder under an output's name; a read-only plot
    mkdir st2 && echo "arch,seed,epochs,test_err" > st2/summary.csv && cp st2/summary.csv bp.orig
    mkdir st3 && echo x > st3/time.png && chmod 444 st3/time.png
    # class 9 for ep and eval: the wide gzip IDX with a wrong crc32 (its header inflates, the whole does not)
    { head -c $(($(wc -c < wide.gz) - 8)) wide.gz; printf '\000\000\000\000\000\000\000\000'; } > wcut.gz
    # another writer of lockw: a process holding flock on it (the sleep itself holds fd 9)
    if command -v flock > /dev/null; then
        ( exec 9< lockw; flock 9; exec sleep 60 ) & LOCKPID=$!
        ( exec 8> busy.ck.lock; flock 8; exec sleep 60 ) & LOCKPID2=$!
        sleep 0.3
    fi
    trap '[ -n "$LOCKPID" ] && kill $LOCKPID $LOCKPID2 2> /dev/null; rm -rf "$T"' EXIT
fi
R="relax --model m --images w/W1.npy --quiet"
TR="train --images x.npy --sizes 20,5 --epochs 2 --quiet"
same_m='cmp -s m m.orig'
same_x='cmp -s x.npy x.orig'

# ---- class 2: an output that is an input (or another output): refused before any work
refuse 2 "train: --metrics is the training data" "ffrelax train: --metrics x.npy is the same file as --images x.npy: refusing to overwrite an input (choose another output path)" "$same_x" $TR --out t1 --metrics x.npy
refuse 2 "train: --out is the training data" "ffrelax train: --out x.npy is the same file as --images x.npy: refusing to overwrite an input (choose another output path)" "$same_x" $TR --out x.npy
refuse 2 "train: --checkpoint is --init-model" "ffrelax train: --checkpoint m is the same file as --init-model m: refusing to overwrite an input (choose another output path)" "$same_m" train --images x.npy --init-model m --epochs 1 --quiet --out t1 --checkpoint m
refuse 2 "train: --out and --checkpoint one new file" "ffrelax train: --out t2 and --checkpoint t2 name the same file: give each output its own path" "test ! -e t2" $TR --out t2 --checkpoint t2
refuse 2 "train: --metrics through a symlink to the data" "ffrelax train: --metrics xlink is the same file as --images x.npy: refusing to overwrite an input (choose another output path)" "$same_x" $TR --out t1 --metrics xlink
refuse 2 "relax: --trace is the model" "ffrelax relax: --trace m is the same file as --model m: refusing to overwrite an input (choose another output path)" "$same_m" $R --trace m
refuse 2 "relax: --npy-dir is --start-dir" "ffrelax relax: --npy-dir s/state0.npy is the same file as --start-dir s/state0.npy: refusing to overwrite an input (choose another output path)" "cmp -s s/state1.npy s1.orig" $R --init given --start-dir s --npy-dir s
refuse 2 "relax: --trace is a member of --npy-dir" "ffrelax relax: --trace o/step.npy and --npy-dir o/step.npy name the same file: give each output its own path" "test ! -e o/step.npy" $R --trace o/step.npy --npy-dir o
refuse 2 "import: --out is one of the arrays read" "ffrelax import: --out w/W1.npy is the same file as --npy-dir w/W1.npy: refusing to overwrite an input (choose another output path)" "cmp -s w/W1.npy x.orig" import --npy-dir w --tied --out w/W1.npy
refuse 2 "export: into the folder of the model" "ffrelax export: --npy-dir mdir/W1.npy is the same file as --model mdir/W1.npy: refusing to overwrite an input (choose another output path)" "cmp -s mdir/W1.npy m.orig" export --model mdir/W1.npy --npy-dir mdir
# ---- class 3: outputs checked before any work
refuse 3 "train: --out an existing folder" "ffrelax train: adir: is a directory: expected a regular file to replace (or a new path)" "test ! -e mt.csv" $TR --out adir --metrics mt.csv
refuse 3 "train: --checkpoint in a missing folder" "ffrelax train: nodir/ck: cannot create temporary file nodir/ck.tmp.{*}: No such file or directory" "test ! -e mt.csv" $TR --out t1 --metrics mt.csv --checkpoint nodir/ck
refuse 3 "train: --metrics in a missing folder" "ffrelax train: nodir/mt.csv: cannot create temporary file nodir/mt.csv.tmp.{*}: No such file or directory" "test ! -e t1" $TR --out t1 --metrics nodir/mt.csv
refuse 3 "relax: --npy-dir below a regular file" "ffrelax relax: afile/o: cannot create the output folder: Not a directory" "test ! -e t.csv" $R --trace t.csv --npy-dir afile/o
refuse 3 "relax: --npy-dir a regular file" "ffrelax relax: afile: not a folder: expected a folder for the outputs" "test ! -e t.csv" $R --trace t.csv --npy-dir afile
refuse 3 "convert-mnist: a read-only output, before reading the package" "ffrelax convert-mnist: mro/t10k-images-idx3-ubyte.gz: the file is read-only (mode 0444): not replaced; make it writable (chmod u+w) or remove it first" "test ! -e mro/train-images-idx3-ubyte.gz" convert-mnist --package nopkg --out mro
refuse 3 "figure1: --out below a regular file, before the data" "ffrelax figure1: afile/f: cannot create the output folder: Not a directory" "true" figure1 --quick --data nodata --out afile/f
# ---- class 1: what each kind of target gets
accept 1 "model to /dev/null: written through, the device stays" "test -c /dev/null" init --sizes 20,10 --out /dev/null
refuse 1 "model to /dev/full: the write error, exit 1" "ffrelax init: /dev/full: write failed: No space left on device" "test -c /dev/full" init --sizes 20,10 --out /dev/full
accept 1 "model to - (standard output)" "test \$(wc -c < out.txt) -eq \$(wc -c < m10)" init --sizes 20,10 --out -
accept 1 "trace to /dev/stdout" "head -1 out.txt | grep -q ^sweep,step_mean" $R --trace /dev/stdout
accept 1 "a symlink is followed: its target replaced, the link kept" "test -L link.model && ! cmp -s target.model m.orig" init --sizes 20,10 --out link.model
accept 1 "a 0600 model stays 0600" "test \$(stat -c %a priv) = 600 && ! cmp -s priv m.orig" init --sizes 20,10 --out priv
refuse 1 "a read-only file is not replaced" "ffrelax init: ro: the file is read-only (mode 0444): not replaced; make it writable (chmod u+w) or remove it first" "cmp -s ro m.orig" init --sizes 20,10 --out ro
refuse 1 "a file with two hard links is not split" "ffrelax init: hl: the file has 2 hard links: replacing it would split them; remove the other links or write elsewhere" "cmp -s hl m.orig" init --sizes 20,10 --out hl
refuse 1 "a FIFO without a reader: refused, no hang" "ffrelax init: fifo: cannot open a FIFO for writing: No such device or address (no reader on the FIFO)" "test -p fifo" init --sizes 20,10 --out fifo
refuse 1 "a read-only file as --metrics, before training" "ffrelax train: ro: the file is read-only (mode 0444): not replaced; make it writable (chmod u+w) or remove it first" "test ! -e t1" $TR --out t1 --metrics ro
refuse 1 "a read-only member of an export set" "ffrelax export: ew/W1.npy: the file is read-only (mode 0444): not replaced; make it writable (chmod u+w) or remove it first" "test ! -e ew/b1.npy" export --model m --npy-dir ew
# ---- class 5: special files as inputs: refused at once, never read
refuse 5 "a FIFO as the model (no hang)" "ffrelax relax: fifo: not a readable regular file: found a FIFO" "true" relax --model fifo --images w/W1.npy
refuse 5 "a FIFO as the data (no hang)" "ffrelax relax: fifo: not a readable regular file: found a FIFO" "true" relax --model m --images fifo
refuse 5 "/dev/zero as the data" "ffrelax relax: /dev/zero: not a readable regular file: found a character device" "true" relax --model m --images /dev/zero
refuse 5 "/dev/zero as a checkpoint to resume" "ffrelax train: /dev/zero: not a readable regular file: found a character device" "true" $TR --out t1 --checkpoint /dev/zero --resume
refuse 5 "a FIFO as a checkpoint to resume (no hang)" "ffrelax train: fifo: not a readable regular file: found a FIFO" "true" $TR --out t1 --checkpoint fifo --resume
refuse 5 "a directory as a checkpoint" "ffrelax train: adir: is a directory: expected a regular file to replace (or a new path)" "true" $TR --out t1 --checkpoint adir --resume
refuse 5 "a FIFO as the mask" "ffrelax relax: fifo: not a readable regular file: found a FIFO" "true" $R --mask fifo
refuse 5 "a directory as the data" "ffrelax relax: adir: not a readable regular file: found a directory" "true" relax --model m --images adir
# ---- class 7: every epoch's metrics row exactly once after a resume
accept 7 "train: the row of an epoch without a checkpoint is written once" "[ \"\$(cut -d, -f1-10,12-14 k.csv)\" = \"\$(cut -d, -f1-10,12-14 ref.csv)\" ]" train --images x.npy --sizes 20,5 --epochs 3 --quiet --out k.m --metrics k.csv --checkpoint k.ck --resume
accept 7 "train --method ep: the same" "[ \"\$(cut -d, -f1-14 ep.csv)\" = \"\$(cut -d, -f1-14 epref.csv)\" ]" $EP --epochs 3 --out ep.m --metrics ep.csv --checkpoint ep.ck --resume
# ---- class 9: the header's width checked against the model before inflating
refuse 9 "gzip IDX of width 1008 for a 20-unit model" "ffrelax relax: wide.gz: example size: expected 20 (the model's visible layer), found 1008" "true" relax --model m --images wide.gz
refuse 9 "the same for training from a model" "ffrelax train: wide.gz: example size: expected 20 (the visible layer), found 1008" "true" train --images wide.gz --init-model m --out t1 --quiet
# ---- class 10: leftovers and stale members
accept 10 "a dead writer's temporary files are removed, a fresh one kept" "test ! -e m.tmp.999999 && test ! -e m.tmp.1.x && test -e m.tmp.888888" init --sizes 20,13,11 --tied --seed 3 --out m
accept 10 "relax --npy-dir: stale state3.npy of a deeper run removed" "test ! -e deep/state3.npy && test -e deep/state2.npy" $R --npy-dir deep
accept 10 "export: stale W3.npy of a deeper model removed" "test ! -e deepw/W3.npy && test ! -e deepw/b3.npy && test -e deepw/W2.npy" export --model m --npy-dir deepw
if [ $MD = 1 ] || [ -n "$LOCKPID" ]; then
refuse 10 "two writers of one folder (flock held): the second refused" "ffrelax export: lockw: another process is writing this folder (it holds an advisory lock on it); wait for it to finish or choose another folder" "test ! -e lockw/W1.npy" export --model m --npy-dir lockw
refuse 10 "train: a checkpoint another run uses (it holds CKPT.lock)" "ffrelax train: --checkpoint busy.ck: another process is using it (it holds busy.ck.lock); wait for it to finish or choose another path" "test ! -e t1" $TR --out t1 --checkpoint busy.ck
refuse 10 "relax --npy-dir into a folder another process writes" "ffrelax relax: lockw: another process is writing this folder (it holds an advisory lock on it); wait for it to finish or choose another folder" "test ! -e lockw/state0.npy" $R --npy-dir lockw
fi
# ---- class 12: messages
accept 12 "--tol 1e-310 (subnormal) is in range" "true" $R --tol 1e-310
refuse 12 "--model ''" "ffrelax relax: --model: expected a path, found ''" "true" relax --model '' --images w/W1.npy
refuse 12 "--target of the wrong shape says the shape found" "ffrelax relax: w/W2.npy: target shape: expected (>= 13, 11) (examples, top-layer units), found (11, 13)" "true" $R --target w/W2.npy
refuse 12 "control characters in a file name are escaped" "ffrelax relax: a\\x1b[31mb: cannot open: No such file or directory" "true" relax --model "$(printf 'a\033[31mb')" --images w/W1.npy
refuse 12 "an escape byte in an npy dtype is escaped" "ffrelax relax: esc.npy: dtype: expected '<f4' or '<f8' (also '>f4', '>f8', '|u1', '|i1', '<i4', '>i4'), found '\\x1b[2J'" "true" relax --model m --images esc.npy
refuse 12 "--decoder with --init-model" "ffrelax train: --decoder: the network comes from --init-model m, which fixes it; drop --decoder (or start a new network with --sizes)" "true" train --images x.npy --init-model m --out t1 --decoder tied
refuse 12 "--rho with --init-model" "ffrelax train: --rho: the network comes from --init-model m, which fixes it; drop --rho (or start a new network with --sizes)" "true" train --images x.npy --init-model m --out t1 --rho sigmoid
accept 12 "uint8 .npy data is scaled to [0, 1] like IDX" "cmp -s u8.csv f01.csv" relax --model m --images u8.npy --quiet --max-sweeps 3 --trace u8.csv

# ---- class 10, sets of files (round 2): the manifest (doc/formats.md "Sets of files")
HOW="re-run the command that wrote the set (export, or relax --npy-dir), or delete the manifest to use the files as they are"
refuse 10 "import: a member of another run (same shape) in an export" "ffrelax import: mix/W2.npy: not the file of run {*} (mix/model-set.manifest): crc32: expected {*}, found {*}: the folder mixes two runs, or the file was replaced; $HOW" "test ! -e t3" import --npy-dir mix --tied --out t3
refuse 10 "import: a member the manifest does not list (a W3.npy that chains)" "ffrelax import: unl/W3.npy: not part of the set of run {*} (unl/model-set.manifest lists 6 files): a file of another run; remove it, or $HOW" "test ! -e t3" import --npy-dir unl --tied --out t3
refuse 10 "import: a set whose writer was killed" "ffrelax import: inc: incomplete set: run {*} did not finish writing it (inc/model-set.manifest says 'status writing': the writer was killed or failed); $HOW" "test ! -e t3" import --npy-dir inc --tied --out t3
refuse 10 "import: a damaged manifest" "ffrelax import: badm/model-set.manifest: line 1: expected 'ffrelax set manifest 1', found 'junk' (a damaged manifest: re-run the command that wrote the set, or delete the manifest to use the files as they are)" "test ! -e t3" import --npy-dir badm --tied --out t3
accept 10 "import: a set without manifest (numpy's) is the user's: read as it is" "test -e t3 && rm t3" import --npy-dir user --tied --out t3
refuse 10 "relax --start-dir: a state of another run" "ffrelax relax: smix/state1.npy: not the file of run {*} (smix/relax-set.manifest): crc32: expected {*}, found {*}: the folder mixes two runs, or the file was replaced; $HOW" "test ! -e t.csv" $R --init given --start-dir smix --trace t.csv
accept 10 "export: the manifest lists every member and is written last" "grep -q '^status complete' w4/model-set.manifest && [ \$(grep -c '^member' w4/model-set.manifest) = 6 ]" export --model m4s --npy-dir w4
# ---- classes 2 and 3 for ep-study (round 2)
refuse 2 "ep-study: --bp-csv is an output (summary.csv)" "ffrelax ep-study: --out st2/summary.csv is the same file as --bp-csv st2/summary.csv: refusing to overwrite an input (choose another output path)" "cmp -s st2/summary.csv bp.orig" ep-study --data mn --out st2 --bp-csv st2/summary.csv --archs 784-8-10 --epochs 1 --quiet
refuse 3 "ep-study: a read-only plot, before the work" "ffrelax ep-study: st3/time.png: the file is read-only (mode 0444): not replaced; make it writable (chmod u+w) or remove it first" "test ! -e st3/summary.csv" ep-study --data mn --out st3 --archs 784-8-10 --epochs 1 --quiet
# ---- class 9 for train --method ep and eval (round 2)
refuse 9 "train --method ep: the width before inflating" "ffrelax train --method ep: wcut.gz: example size: expected 784 (the visible layer), found 1008" "test ! -e t1" train --method ep --images wcut.gz --labels mn/train-labels-idx1-ubyte.gz --sizes 784,8,10 --epochs 1 --out t1 --quiet
refuse 9 "eval: the width before inflating" "ffrelax eval: wcut.gz: example size: expected 784 (the visible layer), found 1008" "true" eval --model epref.m --images wcut.gz --labels mn/t10k-labels-idx1-ubyte.gz
if [ $MD = 1 ] || [ -n "$LOCKPID" ]; then
refuse 10 "import from a folder another process writes" "ffrelax import: lockw: another process is writing this set now (it holds the folder's lock); wait for it to finish" "test ! -e t3" import --npy-dir lockw --tied --out t3
fi
[ $MD = 1 ] && exit 0
[ $nfail -eq 0 ] || { echo "cli_outputs: $nfail of $n rows failed" >&2; exit 1; }
exit 0
