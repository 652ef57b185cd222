"""ffrelax - fast relaxation of layered recurrent networks with dendritic
branches (Bengio, Scellier, Bilaniuk, Sacramento & Senn 2016), on the C
library libffrelax through ctypes and numpy.

    import numpy as np, ffrelax
    net = ffrelax.Net.init([784, 500, 500, 500], rule="dendritic", seed=42)
    x = np.random.default_rng(0).random((10, 784), dtype=np.float32)
    r = ffrelax.relax(net, x, max_sweeps=100, tol=1e-6)
    r.states[3].shape, r.step_mean[-1], r.sweeps

The library is found through FFRELAX_LIB (a path), the source tree's
build/libffrelax.so (`make shared`), or the installed one (`make install`).
"""
from ._lib import (ArgError, DivergedError, Error, FileError, FormatError, NoMemoryError,  # noqa: F401
                   UnsupportedError, lib as _clib, lib_path as _lib_path)
from ._data import load_mnist  # noqa: F401
from ._net import Net  # noqa: F401
from ._relax import Relaxer, RelaxResult, relax  # noqa: F401
from ._train import train_dendritic, train_ep, train_rbm, train_sae  # noqa: F401

__version__ = "0.1.0"


def version():
    """The version of the library that runs, "MAJOR.MINOR.PATCH" (ffr_version())."""
    v = _clib.ffr_version()
    return f"{v // 10000}.{v // 100 % 100}.{v % 100}"


def lib_path():
    """The path of the libffrelax shared library in use."""
    return _lib_path


def blas_info():
    """The matrix products in use and their threads, e.g. "OpenBLAS 0.3.21 ..., 2 threads"."""
    return _clib.ffr_blas_info().decode()


def set_threads(n):
    """Library-wide matrix-product threads (as the CLI's --threads)."""
    _clib.ffr_set_threads(int(n))


def get_threads():
    return _clib.ffr_get_threads()


__all__ = ["Net", "relax", "Relaxer", "RelaxResult", "train_sae", "train_rbm", "train_dendritic", "train_ep", "Error",
           "ArgError", "load_mnist", "FormatError", "FileError", "NoMemoryError", "DivergedError", "UnsupportedError", "version",
           "lib_path", "blas_info", "set_threads", "get_threads"]
