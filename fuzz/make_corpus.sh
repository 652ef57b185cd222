#!/bin/sh
# Regenerate the seed corpora fuzz/corpus/<target>/ from the CLI and python3
# (no numpy). Small valid files plus a few near-misses. Usage:
#   sh fuzz/make_corpus.sh [path/to/ffrelax]
set -eu
F=${1:-build/ffrelax}
C=fuzz/corpus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
rm -rf $C && mkdir -p $C/model $C/idx $C/npy $C/mnist_json $C/cli $C/ckpt $C/manifest
# checkpoints: written by the target itself (its own data and options; needs `make fuzz-build`)
FFR_FUZZ_CKPT_SEEDS=$C/ckpt build/fuzz/fuzz_ckpt || echo "make_corpus: build/fuzz/fuzz_ckpt not built: no ckpt seeds" >&2
# set manifests: the target writes the manifest of its own set (needs `make fuzz-build`)
FFR_FUZZ_MANIFEST_SEEDS=$C/manifest build/fuzz/fuzz_manifest || echo "make_corpus: build/fuzz/fuzz_manifest not built: no manifest seeds" >&2
# models: rules, rho, tying, depths
"$F" init --sizes 3,2 --tied --out $C/model/tied-3-2
"$F" init --sizes 4,3,2 --out $C/model/untied-4-3-2
"$F" init --sizes 5,3,2,2 --rule hopfield --tied --rho sigmoid --out $C/model/hopfield-5-3-2-2
"$F" init --sizes 3,3 --rule boltzmann --rho identity --alpha-up 0.5 --alpha-down 2 --out $C/model/boltzmann-3-3 2>/dev/null ||
"$F" init --sizes 3,3 --rule boltzmann --rho identity --out $C/model/boltzmann-3-3
"$F" init --sizes 6,4,3 --alpha-up 1,2,3 --alpha-down 0.5 --scale 3 --out $C/model/gains-6-4-3
"$F" export --model $C/model/untied-4-3-2 --npy-dir $T/w
python3 - "$T" <<'PY'
import struct, gzip, sys, os
T = sys.argv[1]
C = "fuzz/corpus"
def w(path, b):
    open(path, "wb").write(b)
def npy(descr, shape, data, major=1):
    sh = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, sh)
    pre = 10 if major == 1 else 12
    pad = (64 - (pre + len(h) + 1) % 64) % 64
    h = h + " " * pad + "\n"
    hl = struct.pack("<H", len(h)) if major == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([major, 0]) + hl + h.encode() + data
# npy seeds
w(C + "/npy/f4-2x3", npy("<f4", (2, 3), struct.pack("<6f", 0, .5, 1, .25, .75, 1)))
w(C + "/npy/f8-3", npy("<f8", (3,), struct.pack("<3d", 1, 2, 3)))
w(C + "/npy/be-f4-2x2", npy(">f4", (2, 2), struct.pack(">4f", 1, 2, 3, 4)))
w(C + "/npy/u1-2x2x2", npy("|u1", (2, 2, 2), bytes(range(8))))
w(C + "/npy/i4-v2-1x2", npy("<i4", (1, 2), struct.pack("<2i", -1, 7), major=2))
w(C + "/npy/scalar-v3", npy("<f4", (), struct.pack("<f", 3.5), major=3))
w(C + "/npy/empty-0x4", npy("<f4", (0, 4), b""))
w(C + "/npy/W1-export", open(T + "/w/W1.npy", "rb").read())
# idx seeds: first byte = mode (0 images, 1 labels, 2 data_load) + 3*harness_gzip + 6*write_gzip
img = struct.pack(">IIII", 2051, 2, 3, 2) + bytes([0, 17, 255, 128, 3, 9, 200, 1, 2, 3, 4, 5])
lab = struct.pack(">II", 2049, 4) + bytes([0, 9, 3, 7])
w(C + "/idx/images", b"\x00" + img)
w(C + "/idx/images-harness-gz", b"\x03" + img)
w(C + "/idx/images-write-gz", b"\x06" + img)
w(C + "/idx/images-gzfile", b"\x00" + gzip.compress(img, mtime=0))
w(C + "/idx/labels", b"\x01" + lab)
w(C + "/idx/labels-harness-gz", b"\x04" + lab)
w(C + "/idx/labels-gzfile", b"\x01" + gzip.compress(lab, mtime=0))
w(C + "/idx/dataload-images", b"\x02" + img)
w(C + "/idx/dataload-images-gz", b"\x05" + img)
w(C + "/idx/dataload-npy", b"\x02" + npy("<f4", (2, 2), struct.pack("<4f", 0, 1, .5, .5)))
# mnist json seeds: one digit, two digits with decimals and spacing, empty
one = '{"data":[' + ",".join("0" for _ in range(784)) + "]}"
w(C + "/mnist_json/one-digit.json", one.encode())
vals = [("%.3f" % ((i * 37 % 1000) / 1000.0)) for i in range(2 * 784)]
two = '{ "data": [ ' + ", ".join(vals) + " ] }\n"
w(C + "/mnist_json/two-digits.json", two.encode())
w(C + "/mnist_json/empty.json", b'{"data": []}')
w(C + "/mnist_json/exponents.json", ('{"data":[' + ",".join(["1e-3", "-0.0", "2.5E+0", "0"] * 196) + "]}").encode())
# cli seeds: first byte = command (0 init 1 import 2 export 3 info 4 relax 5 convert-mnist 6 train,
# 7..10 the helpers cli_int cli_double cli_u64 cli_sizes), then one argument per line
cli = {
 "init": (0, ["--sizes", "8,5,3", "--rule", "dendritic", "--tied", "--seed", "3", "--scale", "2", "--alpha-up", "1,2,3", "--out", "o"]),
 "import": (1, ["--npy-dir", "w", "--rule", "hopfield", "--tied", "--out", "o"]),
 "export": (2, ["--model", "mu", "--npy-dir", "e"]),
 "info": (3, ["m"]),
 "relax": (4, ["--model", "m", "--images", "d.npy", "--init", "random", "--schedule", "sync", "--max-sweeps", "7",
              "--tol", "1e-3", "--tol-mode", "rel", "--tau", "2", "--temperature", "0.1", "--trace", "t.csv", "--npy-dir", "o"]),
 "relax-given": (4, ["--model", "mu", "--images", "d.npy", "--count", "3", "--offset", "2", "--init", "given", "--start-dir", "o", "--mask", "w/c0.npy"]),
 "convert": (5, ["--package", "pkg", "--out", "mn"]),
 "train-sae": (6, ["--method", "sae", "--images", "d.npy", "--sizes", "8,4", "--epochs", "2", "--batch", "5", "--out", "o", "--checkpoint", "ck", "--metrics", "mt.csv", "--quiet"]),
 "train-rbm": (6, ["--method=rbm", "--images", "d.npy", "--sizes", "8,3", "--epochs", "1", "--cd-k", "2", "--persistent", "--out", "o", "--quiet"]),
 "train-dendritic": (6, ["--method", "dendritic", "--images", "d.npy", "--init-model", "m", "--epochs", "1", "--relax-max-sweeps", "5", "--out", "o", "--quiet"]),
 "int": (7, ["-12"]), "double": (8, ["1.5e3"]), "u64": (9, ["18446744073709551615"]), "sizes": (10, ["784,50,10"]),
}
for name, (b, args) in cli.items():
    w(C + "/cli/" + name, bytes([b]) + "\n".join(args).encode())
PY
echo "corpus: $(find $C -type f | wc -l) files"
