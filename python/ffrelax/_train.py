"""_train.py - ffrelax.train_sae, train_rbm, train_dendritic: the trainers of
doc/training.md (ffr_train_*) on a Net in place, with the CLI's `ffrelax
train` options as keyword arguments, a per-epoch progress callback, and the
per-epoch metrics returned as arrays.
"""
import ctypes

import numpy as np

from . import _lib
from ._lib import lib
from ._net import Net, as_f32, f32p

SAE, RBM, DENDRITIC = 0, 1, 2
_FN = {SAE: "ffr_train_sae", RBM: "ffr_train_rbm", DENDRITIC: "ffr_train_dendritic"}
_SCALARS = ("layer", "epoch", "loss", "examples_per_s", "seconds", "mean_sweeps")
_PAIRS = ("recon_abs", "recon_rel", "recon_rel_ex", "recon_rel_rate", "disagree")
_RELAXED = ("sweeps_median", "sweeps_mean", "frac_converged", "dist_rel_median")


def _epoch_row(p, L):
    """One end-of-epoch report as a dict of numbers / (L,) arrays (pair k = 1..L
    at column k-1; disagree of layer k = 1..L-1 at column k-1, NaN in the last)."""
    row = {k: getattr(p, k) for k in _SCALARS}
    m = p.metrics.contents if p.metrics else None
    for k in _PAIRS:
        row[k] = np.array([getattr(m, k)[j] for j in range(1, L + 1)]) if m else np.full(L, np.nan)
    for k in _RELAXED:
        row[k] = getattr(m, k) if m and m.relaxed else np.nan
    return row


def _train_opts(o, net, threads, opts, keep):
    """Set the ffr_train_opts fields named in opts (None: the default) in o;
    keep holds what o points to."""
    enums = {"optimizer": ("ffr_optimizer_parse", "sgd or adam"), "target": ("ffr_target_parse", "voltage or rate")}
    for k, v in opts.items():
        if v is None:
            continue
        if k in enums:
            v = _lib.parse(enums[k][0], k, v, enums[k][1])
        elif k == "checkpoint":
            v = str(v).encode()
            keep.append(v)
        elif k in ("persistent", "basal", "resume", "holdout_relax"):
            v = int(bool(v))
        setattr(o, k, v)
    if threads is not None:
        if not (isinstance(threads, (int, np.integer)) and 1 <= threads <= 1024):
            raise ValueError(f"threads: expected None or 1..1024, found {threads!r}")
        o.threads = int(threads)


def _examples(net, x):
    if not isinstance(net, Net):
        raise TypeError(f"net: expected an ffrelax.Net, found {type(net).__name__}")
    x = as_f32(x, "x", (None, net.sizes[0]))
    if x.shape[0] < 1:
        raise ValueError("x: expected at least one example")
    return x


def _reporter(fn_type, to_row, progress):
    """A C progress callback that keeps the end-of-epoch rows (to_row(report))
    and calls progress(row); returns (callback, rows, failures)."""
    rows, failure = [], []

    def cb(_ctx, pp):
        try:
            p = pp.contents
            if not p.end_of_epoch:
                return 0
            row = to_row(p)
            rows.append(row)
            return 1 if progress is not None and progress(dict(row)) else 0
        except BaseException as e:  # noqa: B902 - re-raised after the C call
            failure.append(e)
            return 1
    return fn_type(cb), rows, failure


def _train(method, net, x, holdout, progress, progress_every, threads, opts):
    x = _examples(net, x)
    o = _lib.ffr_train_opts()
    lib.ffr_train_opts_default(ctypes.byref(o), method)
    relax_tol = opts.pop("relax_tol", None)
    relax_max_sweeps = opts.pop("relax_max_sweeps", None)
    if relax_tol is not None:
        o.relax.tol = float(relax_tol)
    if relax_max_sweeps is not None:
        o.relax.max_sweeps = int(relax_max_sweeps)
    keep = []
    _train_opts(o, net, threads, opts, keep)
    if holdout is not None:
        holdout = as_f32(holdout, "holdout", (None, net.sizes[0]))
        o.holdout, o.n_holdout = f32p(holdout), holdout.shape[0]
    c_cb, rows, failure = _reporter(_lib.TRAIN_PROGRESS_FN, lambda p: _epoch_row(p, net.L), progress)
    o.progress, o.progress_every = c_cb, int(progress_every)
    stopped = ctypes.c_int(0)
    err = _lib.ffr_err()
    status = getattr(lib, _FN[method])(net._p, f32p(x), x.shape[0], ctypes.byref(o), ctypes.byref(stopped),
                                       ctypes.byref(err))
    if failure:
        raise failure[0]
    _lib.check(status, err)
    out = {k: np.array([r[k] for r in rows]) for k in _SCALARS + _RELAXED}
    for k in _PAIRS:
        out[k] = np.array([r[k] for r in rows]).reshape(len(rows), net.L)
    out["layer"] = out["layer"].astype(np.int32)
    out["epoch"] = out["epoch"].astype(np.int32)
    out["stopped"] = bool(stopped.value)
    return out


def _labels(y, n, n_class, what):
    y = np.asarray(y)
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ValueError(f"{what}: expected {n} integer labels, found shape {y.shape} dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= n_class):
        raise ValueError(f"{what}: expected labels 0..{n_class - 1}, found {y.min()}..{y.max()}")
    return np.ascontiguousarray(y, dtype=np.uint8)


_EP_FIELDS = [f for f, _ in _lib.ffr_ep_report._fields_ if f not in ("epochs", "end_of_epoch", "done", "total")]


def train_ep(net, x, y, *, epochs=None, batch=None, beta=None, nudge=None, lr=None, optimizer=None, momentum=None,
             weight_decay=None, init=None, tol=None, tol_mode=None, max_sweeps=None, fixed_sweeps=None,
             anderson=None, precision=None, seed=None, test_x=None, test_y=None, checkpoint=None, resume=None,
             progress=None, progress_every=0, threads=None):
    """Supervised equilibrium propagation (`ffrelax train --method ep`, doc/training.md)
    on net in place (hopfield tied, or dendritic): x (N, n_0), y (N,) labels
    0..n_L-1. Keyword arguments are that command's options: epochs, batch, beta,
    nudge ("positive"|"centered"|"random-sign"), lr (one rate or one per weight
    layer), optimizer, momentum, weight_decay, init (free phase start "ff"|"zero"|
    "persistent"), tol, tol_mode, max_sweeps, fixed_sweeps=(free, nudged), anderson,
    precision, seed, test_x/test_y (the per-epoch test error), checkpoint, resume.
    Make a new net with Net.init(sizes, rule="hopfield", tied=True, init="fanin").
    progress(row) at the end of every epoch (a true return stops). Returns a dict
    of per-epoch arrays: epoch, loss, train/test error rates (ff and relaxed),
    sweeps per phase, dist_rel, seconds, ..., and stopped."""
    x = _examples(net, x)
    y = _labels(y, x.shape[0], net.sizes[-1], "y")
    e, t = _lib.ffr_ep_opts(), _lib.ffr_train_opts()
    lib.ffr_ep_opts_default(ctypes.byref(e), ctypes.byref(t))
    keep = [x, y]
    _train_opts(t, net, threads, dict(epochs=epochs, batch=batch, optimizer=optimizer, momentum=momentum,
                                      weight_decay=weight_decay, seed=seed, checkpoint=checkpoint, resume=resume), keep)
    if beta is not None:
        e.beta = float(beta)
    if nudge is not None:
        e.nudge = _lib.parse("ffr_nudge_parse", "nudge", nudge, "positive, centered or random-sign")
    if init is not None:
        e.start = _lib.parse("ffr_ep_start_parse", "init", init, "ff, zero or persistent")
    rates = None if lr is None else np.atleast_1d(np.asarray(lr, dtype=np.float64))
    if rates is None and t.optimizer == 1:  # Adam's usual step, as the CLI
        rates = np.array([1e-3])
    if rates is not None:
        if rates.size not in (1, net.L):
            raise ValueError(f"lr: expected 1 or {net.L} values (one per weight layer), found {rates.size}")
        for k in range(1, _lib.MAX_LAYERS if rates.size == 1 else net.L + 1):  # as the CLI's --lr
            e.lr[k] = float(rates[0] if rates.size == 1 else rates[k - 1])
    if fixed_sweeps is not None:
        e.fixed_free, e.fixed_nudged = (int(v) for v in fixed_sweeps)
    for k, v in (("tol", tol), ("max_sweeps", max_sweeps), ("anderson", anderson)):
        if v is not None:
            setattr(e.relax, k, v)
    if tol_mode is not None:
        if tol_mode not in ("abs", "rel"):
            raise ValueError(f"tol_mode: expected abs or rel, found {tol_mode!r}")
        e.relax.tol_mode = 0 if tol_mode == "abs" else 1
    if precision is not None:
        e.relax.precision = _lib.parse("ffr_precision_parse", "precision", precision, "fp32 or bf16")
    if (test_x is None) != (test_y is None):
        raise ValueError("test_x and test_y go together")
    if test_x is not None:
        tx = as_f32(test_x, "test_x", (None, net.sizes[0]))
        ty = _labels(test_y, tx.shape[0], net.sizes[-1], "test_y")
        keep += [tx, ty]
        e.test_x, e.test_y, e.n_test = f32p(tx), ty.ctypes.data_as(_lib.c_uchar_p), tx.shape[0]
    c_cb, rows, failure = _reporter(_lib.EP_PROGRESS_FN, lambda p: {f: getattr(p, f) for f in _EP_FIELDS}, progress)
    e.progress, e.progress_every = c_cb, int(progress_every)
    stopped = ctypes.c_int(0)
    err = _lib.ffr_err()
    status = lib.ffr_train_ep(net._p, f32p(x), y.ctypes.data_as(_lib.c_uchar_p), x.shape[0], ctypes.byref(e),
                              ctypes.byref(t), ctypes.byref(stopped), ctypes.byref(err))
    if failure:
        raise failure[0]
    _lib.check(status, err)
    out = {f: np.array([r[f] for r in rows]) for f in _EP_FIELDS}
    out["epoch"] = out["epoch"].astype(np.int32)
    out["stopped"] = bool(stopped.value)
    return out


_DOC = """Train net in place on x (N, n_0) (float32 C-contiguous, or converted once)
with the method's defaults of `ffrelax train --method {m}`; keyword arguments
are its options: epochs, batch, lr, optimizer ("sgd"|"adam"), momentum, beta1,
beta2, adam_eps, weight_decay, seed, holdout (an (n, n_0) array for the
end-of-epoch metrics), holdout_relax, checkpoint (a path), resume{extra}.
progress(row) is called at the end of every epoch with that epoch's row (a
dict); a true return stops training. threads: this run's threads (None: the
library's count). Returns a dict of arrays, one row per epoch (of every
layer for greedy methods): layer, epoch, loss, examples_per_s, seconds,
mean_sweeps, recon_abs/recon_rel/recon_rel_ex/recon_rel_rate (E, L) (column
k-1 = layer pair k; NaN without holdout), disagree (E, L) (column k-1 = layer
k), sweeps_median, sweeps_mean, frac_converged, dist_rel_median (NaN unless the
holdout was relaxed), and stopped (bool)."""


def train_sae(net, x, *, epochs=None, batch=None, lr=None, optimizer=None, momentum=None, beta1=None, beta2=None,
              adam_eps=None, weight_decay=None, target=None, seed=None, holdout=None, holdout_relax=None,
              checkpoint=None, resume=None, progress=None, progress_every=0, threads=None):
    return _train(SAE, net, x, holdout, progress, progress_every, threads,
                  dict(epochs=epochs, batch=batch, lr=lr, optimizer=optimizer, momentum=momentum, beta1=beta1,
                       beta2=beta2, adam_eps=adam_eps, weight_decay=weight_decay, target=target, seed=seed,
                       holdout_relax=holdout_relax, checkpoint=checkpoint, resume=resume))


def train_rbm(net, x, *, epochs=None, batch=None, lr=None, optimizer=None, momentum=None, beta1=None, beta2=None,
              adam_eps=None, weight_decay=None, seed=None, cd_k=None, persistent=None, holdout=None,
              holdout_relax=None, checkpoint=None, resume=None, progress=None, progress_every=0, threads=None):
    return _train(RBM, net, x, holdout, progress, progress_every, threads,
                  dict(epochs=epochs, batch=batch, lr=lr, optimizer=optimizer, momentum=momentum, beta1=beta1,
                       beta2=beta2, adam_eps=adam_eps, weight_decay=weight_decay, seed=seed, cd_k=cd_k,
                       persistent=persistent, holdout_relax=holdout_relax, checkpoint=checkpoint, resume=resume))


def train_dendritic(net, x, *, epochs=None, batch=None, lr=None, optimizer=None, momentum=None, beta1=None,
                    beta2=None, adam_eps=None, weight_decay=None, seed=None, basal=None, relax_tol=None,
                    relax_max_sweeps=None, holdout=None, holdout_relax=None, checkpoint=None, resume=None,
                    progress=None, progress_every=0, threads=None):
    return _train(DENDRITIC, net, x, holdout, progress, progress_every, threads,
                  dict(epochs=epochs, batch=batch, lr=lr, optimizer=optimizer, momentum=momentum, beta1=beta1,
                       beta2=beta2, adam_eps=adam_eps, weight_decay=weight_decay, seed=seed, basal=basal,
                       relax_tol=relax_tol, relax_max_sweeps=relax_max_sweeps, holdout_relax=holdout_relax,
                       checkpoint=checkpoint, resume=resume))


train_sae.__doc__ = _DOC.format(m="sae", extra=", target (\"voltage\"|\"rate\")")
train_rbm.__doc__ = _DOC.format(m="rbm", extra=", cd_k, persistent (the net must be boltzmann and tied)")
train_dendritic.__doc__ = _DOC.format(m="dendritic", extra=", basal, relax_tol, relax_max_sweeps (the net must be "
                                      "dendritic)")
