"""_data.py - ffrelax.load_mnist: the MNIST digits in IDX files (plain or
gzip), through the library's checked reader (ffr_mnist_load)."""
import ctypes

import numpy as np

from . import _lib
from ._lib import lib

_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]
_libc.free.restype = None


def load_mnist(dir="data/mnist", train=True):
    """(x, y): x float32 (N, 784) in [0, 1], y uint8 (N,) from DIR/train-* (train)
    or DIR/t10k-* (held out), as `scripts/get-data.sh` writes them."""
    x = _lib.c_float_p()
    y = _lib.c_uchar_p()
    n = ctypes.c_size_t()
    err = _lib.ffr_err()
    _lib.check(lib.ffr_mnist_load(str(dir).encode(), int(bool(train)), ctypes.byref(x), ctypes.byref(y),
                                  ctypes.byref(n), ctypes.byref(err)), err)
    try:
        xs = np.empty((n.value, 784), np.float32)
        ys = np.empty(n.value, np.uint8)
        ctypes.memmove(xs.__array_interface__["data"][0], x, xs.nbytes)
        ctypes.memmove(ys.__array_interface__["data"][0], y, ys.nbytes)
    finally:
        _libc.free(ctypes.cast(x, ctypes.c_void_p))
        _libc.free(ctypes.cast(y, ctypes.c_void_p))
    return xs, ys
