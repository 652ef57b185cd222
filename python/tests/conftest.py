"""Shared fixtures: the CLI binary (FFRELAX, else the tree's build/ffrelax) and
small random data."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli():
    exe = os.environ.get("FFRELAX") or str(ROOT / "build" / "ffrelax")
    if not os.access(exe, os.X_OK):
        pytest.skip(f"no ffrelax binary at {exe} (set FFRELAX or run `make`)")

    def run(*args):
        p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError(f"ffrelax {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}")
        return p.stdout
    return run


@pytest.fixture
def data():
    """(40, 30) inputs in [0, 1], float32."""
    return np.random.default_rng(5).random((40, 30), dtype=np.float32)
