#!/bin/sh
# Install the Debian packages ffrelax needs to build and run, if missing.
# Uses sudo when not root. Safe to run again.
set -eu
need=""
# libopenmpi-dev, openmpi-bin: the optional MPI CLI (make MPI=1) and tests/cli_mpi.sh
for p in build-essential pkg-config libopenblas-dev zlib1g-dev libcairo2-dev libopenmpi-dev openmpi-bin; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
[ -n "$need" ] || exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $need >/dev/null
