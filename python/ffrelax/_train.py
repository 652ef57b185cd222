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


def _train(method, net, x, holdout, progress, progress_every, threads, opts):
    if not isinstance(net, Net):
        raise TypeError(f"net: expected an ffrelax.Net, found {type(net).__name__}")
    x = as_f32(x, "x", (None, net.sizes[0]))
    if x.shape[0] < 1:
        raise ValueError("x: expected at least one example")
    o = _lib.ffr_train_opts()
    lib.ffr_train_opts_default(ctypes.byref(o), method)
    relax_tol = opts.pop("relax_tol", None)
    relax_max_sweeps = opts.pop("relax_max_sweeps", None)
    if relax_tol is not None:
        o.relax.tol = float(relax_tol)
    if relax_max_sweeps is not None:
        o.relax.max_sweeps = int(relax_max_sweeps)
    enums = {"optimizer": ("ffr_optimizer_parse", "sgd or adam"), "target": ("ffr_target_parse", "voltage or rate")}
    keep = []
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
    if holdout is not None:
        holdout = as_f32(holdout, "holdout", (None, net.sizes[0]))
        o.holdout, o.n_holdout = f32p(holdout), holdout.shape[0]
    if threads is not None:
        if not (isinstance(threads, (int, np.integer)) and 1 <= threads <= 1024):
            raise ValueError(f"threads: expected None or 1..1024, found {threads!r}")
        o.threads = int(threads)
    rows, failure = [], []

    def cb(_ctx, pp):
        try:
            p = pp.contents
            if not p.end_of_epoch:
                return 0
            row = _epoch_row(p, net.L)
            rows.append(row)
            return 1 if progress is not None and progress(dict(row)) else 0
        except BaseException as e:  # noqa: B902 - re-raised after the C call
            failure.append(e)
            return 1

    c_cb = _lib.TRAIN_PROGRESS_FN(cb)
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
