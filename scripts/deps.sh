#!/bin/sh
# Install the Debian packages ffrelax needs to build and run, if missing.
# Uses sudo when not root. Safe to run again.
set -eu
need=""
# the Python package and its tests (python/): numpy, pytest, pip + setuptools for pip install ./python;
# libopenmpi-dev, openmpi-bin: the optional MPI CLI (make MPI=1) and tests/cli_mpi.sh
for p in build-essential pkg-config libopenblas-dev zlib1g-dev libcairo2-dev \
         python3-numpy python3-pytest python3-pip python3-setuptools python3-venv libopenmpi-dev openmpi-bin; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
[ -n "$need" ] || exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $need >/dev/null
