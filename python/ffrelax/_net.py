"""_net.py - ffrelax.Net: a network of libffrelax (ffr_net) owned by Python.

Parameters follow the npy import/export convention of the CLI (doc/formats.md):
W[k-1] is W_k (n_k, n_{k-1}), b[k-1] is b_k (n_k), V[k-1] is V_k (n_{k-1}, n_k)
(None when tied: V_k = W_k^T), c[k] is c_k (n_k) for k = 0..L-1.
"""
import ctypes

import numpy as np

from . import _lib
from ._lib import lib

RULES = "dendritic, hopfield or boltzmann"
RHOS = "hardsigmoid, sigmoid or identity"


def as_f32(a, what, shape=None):
    """a as a float32 C-contiguous array: no copy when it already is one, else
    one converting copy (np.ascontiguousarray). Real numbers only, all finite;
    the shape is checked against shape (None entries match anything)."""
    kind = np.asarray(a).dtype.kind
    if kind not in "fiub":
        raise ValueError(f"{what}: expected real numbers (float32 best), found dtype {np.asarray(a).dtype}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if shape is not None:
        if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise ValueError(f"{what}: expected shape {want}, found {a.shape}")
    if kind == "f" and not np.isfinite(a).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{what}: expected finite values, found {a[bad]} at index {bad}")
    return a


def f32p(a):
    return a.ctypes.data_as(_lib.c_float_p)


def _gains(v, L, what):
    g = np.broadcast_to(np.asarray(v, dtype=np.float32), (L + 1,)) if np.ndim(v) == 0 else np.asarray(v, np.float32)
    if g.shape != (L + 1,):
        raise ValueError(f"{what}: expected one value or {L + 1} (one per layer 0..{L}), found {g.shape[0]}")
    return g


def _gain_property(name, doc):
    def get(self):
        return np.array(getattr(self._p.contents, name)[:self.L + 1], dtype=np.float32)

    def put(self, v):
        getattr(self._p.contents, name)[:self.L + 1] = [float(g) for g in _gains(v, self.L, name)]
    return property(get, put, doc=doc)


class Net:
    """A layered network (ffr_net). Make one with Net.init, Net.load or
    Net.from_arrays; the library's memory is freed with the object."""

    def __init__(self, ptr):
        if not isinstance(ptr, ctypes.POINTER(_lib.ffr_net)) or not ptr:
            raise TypeError("Net(): use Net.init, Net.load or Net.from_arrays")
        self._p = ptr

    def __del__(self):
        p = getattr(self, "_p", None)
        if p:
            lib.ffr_net_free(p)
            self._p = None

    # --------------------------------------------------------- constructors
    @classmethod
    def _create(cls, sizes, rule, rho, tied):
        sizes = [int(s) for s in sizes]
        if not 2 <= len(sizes) <= _lib.MAX_LAYERS:
            raise ValueError(f"sizes: expected 2..{_lib.MAX_LAYERS} layer sizes, found {len(sizes)}")
        n = (ctypes.c_int * len(sizes))(*sizes)
        p = ctypes.POINTER(_lib.ffr_net)()
        err = _lib.ffr_err()
        _lib.check(lib.ffr_net_create(ctypes.byref(p), len(sizes) - 1, n, _lib.parse("ffr_rule_parse", "rule", rule, RULES),
                                      _lib.parse("ffr_rho_parse", "rho", rho, RHOS), int(bool(tied)), ctypes.byref(err)), err)
        return cls(p)

    @classmethod
    def init(cls, sizes, rule="dendritic", tied=False, seed=1, rho="hardsigmoid", scale=1.0, alpha_up=1.0,
             alpha_down=1.0, init="glorot"):
        """Glorot-uniform weights U(+-scale*sqrt(6/(n_in+n_out))), V = W^T (a copy
        when untied), zero offsets: the CLI's `ffrelax init`. sizes = [n_0, .., n_L].
        init="fanin": W_k, b_k ~ U(+-scale/sqrt(n_{k-1})) as `train --method ep` makes them."""
        if init not in ("glorot", "fanin"):
            raise ValueError(f"init: expected glorot or fanin, found {init!r}")
        net = cls._create(sizes, rule, rho, tied)
        fn = lib.ffr_net_init_glorot if init == "glorot" else lib.ffr_net_init_fanin
        fn(net._p, int(seed), float(scale))
        net.alpha_up, net.alpha_down = alpha_up, alpha_down
        return net

    @classmethod
    def load(cls, path):
        """Read a model file (doc/formats.md)."""
        p = ctypes.POINTER(_lib.ffr_net)()
        err = _lib.ffr_err()
        _lib.check(lib.ffr_net_load(ctypes.byref(p), str(path).encode(), ctypes.byref(err)), err)
        return cls(p)

    @classmethod
    def from_arrays(cls, W, b=None, V=None, c=None, rule="dendritic", rho="hardsigmoid", alpha_up=1.0,
                    alpha_down=1.0):
        """A network from arrays (copied): W = [W_1 .. W_L] with W_k (n_k, n_{k-1}),
        b = [b_1 .. b_L], V = [V_1 .. V_L] with V_k (n_{k-1}, n_k) or None (tied),
        c = [c_0 .. c_{L-1}]; b or c None means zero offsets. The inverse of arrays()."""
        W = [np.asarray(w) for w in W]
        if not W or any(w.ndim != 2 for w in W):
            raise ValueError("W: expected a list of 2-d arrays W_1 .. W_L")
        sizes = [W[0].shape[1]] + [w.shape[0] for w in W]
        L = len(W)
        net = cls._create(sizes, rule, rho, V is None)
        for name, arrs, count, shape in (("W", W, L, lambda k: (sizes[k], sizes[k - 1])),
                                         ("b", b, L, lambda k: (sizes[k],)),
                                         ("V", V, L, lambda k: (sizes[k - 1], sizes[k])),
                                         ("c", c, L, lambda k: (sizes[k],))):
            if arrs is None:
                continue
            if len(arrs) != count:
                raise ValueError(f"{name}: expected {count} arrays, found {len(arrs)}")
            for i, a in enumerate(arrs):
                k = i if name == "c" else i + 1
                a = as_f32(a, f"{name}{k}", shape(k))
                ctypes.memmove(getattr(net._p.contents, name)[k], a.ctypes.data, a.nbytes)
        net.alpha_up, net.alpha_down = alpha_up, alpha_down
        net.check()
        return net

    def copy(self):
        p = ctypes.POINTER(_lib.ffr_net)()
        err = _lib.ffr_err()
        _lib.check(lib.ffr_net_clone(ctypes.byref(p), self._p, ctypes.byref(err)), err)
        return Net(p)

    # ---------------------------------------------------------------- files
    def save(self, path):
        """Write a model file atomically (temporary file, fsync, rename)."""
        err = _lib.ffr_err()
        _lib.check(lib.ffr_net_save(self._p, str(path).encode(), ctypes.byref(err)), err)

    def check(self):
        """Sizes, gains (> 0, finite) and finite parameters, or ffrelax.Error."""
        err = _lib.ffr_err()
        _lib.check(lib.ffr_net_check(self._p, ctypes.byref(err)), err)

    # ------------------------------------------------------------ accessors
    @property
    def L(self):
        return self._p.contents.L

    @property
    def sizes(self):
        s = self._p.contents
        return [s.n[k] for k in range(s.L + 1)]

    @property
    def rule(self):
        return lib.ffr_rule_name(self._p.contents.rule).decode()

    @property
    def rho(self):
        return lib.ffr_rho_name(self._p.contents.rho).decode()

    @property
    def tied(self):
        return bool(self._p.contents.tied)

    alpha_up = _gain_property("alpha_up", "basal gains (L+1,) (dendritic rule, Eq. 16)")
    alpha_down = _gain_property("alpha_down", "apical gains (L+1,) (dendritic rule, Eq. 16)")

    def _view(self, name, k, shape):
        ptr = getattr(self._p.contents, name)[k]
        return np.ctypeslib.as_array(ptr, shape=shape)

    def arrays(self):
        """Copies of the parameters: {"W": [W_1..W_L], "b": [b_1..b_L], "V": [V_1..V_L]
        or None when tied, "c": [c_0..c_{L-1}]} (the npy export convention), so that
        Net.from_arrays(**net.arrays(), rule=net.rule, rho=net.rho) rebuilds the net."""
        n, L = self.sizes, self.L
        return {"W": [self._view("W", k, (n[k], n[k - 1])).copy() for k in range(1, L + 1)],
                "b": [self._view("b", k, (n[k],)).copy() for k in range(1, L + 1)],
                "V": None if self.tied else [self._view("V", k, (n[k - 1], n[k])).copy() for k in range(1, L + 1)],
                "c": [self._view("c", k, (n[k],)).copy() for k in range(L)]}

    def __repr__(self):
        return (f"ffrelax.Net({'-'.join(map(str, self.sizes))}, {self.rule}, {self.rho}, "
                f"{'tied' if self.tied else 'untied'})")
