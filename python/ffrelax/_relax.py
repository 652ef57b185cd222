"""_relax.py - ffrelax.relax and ffrelax.Relaxer: Eq. 9 relaxation of a Net on
a batch of inputs through ffr_relax, the results as numpy arrays.

The states are numpy arrays handed to the library as the ffr_state's layers
(no copy in or out); the per-sweep and per-example measurements are copied
out of the ffr_trace when first read, and the trace is freed with the result.
Every array of a result owns its memory (torch.from_numpy works on it without
a copy).
"""
import ctypes
import math
import threading
import weakref

import numpy as np

from . import _lib
from ._lib import lib
from ._net import Net, as_f32, f32p

INITS = "ff, zero, random or given"
SCHEDULES = "odd-even, sync or up"


def _copy(ptr, shape, dtype):
    """A numpy array that owns a copy of the C array at ptr (its C type is dtype's)."""
    a = np.empty(shape, dtype)
    if a.nbytes:
        ctypes.memmove(a.__array_interface__["data"][0], ptr, a.nbytes)
    return a


_PER_SWEEP = {"step_mean": "step_mean", "step_median": "step_median", "step_max": "step_max",
              "rstep_mean": "rstep_mean", "relstep_median": "relstep_median", "frac_converged": "frac_converged",
              "energy": "energy_mean", "residual_mean": "residual_mean"}


class RelaxResult:
    """What one relaxation returns.

    states: list of L+1 float32 arrays (B, n_k), the state after the last sweep.
    Per sweep, index t = 0..T (row 0: the start, row t: after sweep t; the CLI's
    --trace CSV holds rows 1..T under the same names): step_mean, step_median,
    step_max, rstep_mean, relstep_median, n_active, frac_converged, measured,
    energy, residual_mean (NaN where not measured), disagree (T+1, L+1),
    mpe_up (T+1, L+1), mpe_down (T+1, L+1) (columns as in the C ffr_trace),
    step (T+1, B) per example.
    Per example (B): sweeps, converged (bool), dist, norm, residual, rate.
    Scalars: T, rate_median, total_updates, flops, precision ("fp32"|"bf16"), diag.
    The arrays are copied out of the library's trace when first read (each
    owns its memory); the trace is freed with the result (a Relaxer's: the
    arrays are copied before its next run).
    """

    _ARRAYS = ("step_mean", "step_median", "step_max", "rstep_mean", "relstep_median", "frac_converged", "energy",
               "residual_mean", "n_active", "measured", "disagree", "mpe_up", "mpe_down", "step", "sweeps",
               "converged", "dist", "norm", "residual", "rate")

    def __init__(self, tr, states, owned):
        t = tr.contents
        self.states, self.T, self._B, self._Lp = states, t.T, t.B, t.L + 1
        self.rate_median, self.total_updates, self.flops = t.rate_median, t.total_updates, t.flops
        self.precision = lib.ffr_precision_name(t.precision).decode()
        self.diag = t.diag.decode("utf-8", "replace")
        self._tr = tr
        if owned:  # from ffr_relax: freed with the result; else the relaxer's, see _detach
            weakref.finalize(self, lib.ffr_trace_free, tr)

    def _detach(self):
        """Copy every array not read yet and drop the trace (before a relaxer reuses it)."""
        for name in RelaxResult._ARRAYS:
            getattr(self, name)
        self.__dict__.pop("_tr", None)

    def __getattr__(self, name):
        if name not in RelaxResult._ARRAYS or "_tr" not in self.__dict__:
            raise AttributeError(name)
        t, T1, B, Lp = self._tr.contents, self.T + 1, self._B, self._Lp
        if name in _PER_SWEEP:
            v = _copy(getattr(t, _PER_SWEEP[name]), (T1,), np.float64)
        elif name in ("n_active", "measured"):
            v = _copy(getattr(t, name), (T1,), np.intc)
            v = v.astype(bool) if name == "measured" else v
        elif name in ("disagree", "mpe_up", "mpe_down"):
            v = _copy(getattr(t, name), (T1, Lp), np.float64)
        elif name == "step":
            v = _copy(t.step, (T1, B), np.float32)
        elif name == "sweeps":
            v = _copy(t.sweeps, (B,), np.intc)
        elif name == "converged":
            v = _copy(t.converged, (B,), np.uint8).astype(bool)
        else:
            v = _copy(getattr(t, name), (B,), np.float32)
        setattr(self, name, v)
        return v

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(RelaxResult._ARRAYS))

    def __repr__(self):
        B = self.states[0].shape[0]
        return (f"RelaxResult(B={B}, T={self.T}, converged={int(self.converged.sum())}/{B}, "
                f"step_mean[T]={self.step_mean[-1]:.4g})")


class _Options:
    """An ffr_relax_opts filled from keyword arguments (validated here), with
    the arrays it points to kept alive."""

    def __init__(self, net, init="ff", schedule="odd-even", max_sweeps=100, tol=0.0, tol_mode="abs", tau=1.0,
                 temperature=0.0, gibbs=False, anderson=0, precision="fp32", mask=None, target=None, seed=1,
                 threads=None, measure_every=0, diverge_factor=None, beta=0.0, nudge_target=None, progress=None):
        o = _lib.ffr_relax_opts()
        lib.ffr_relax_opts_default(ctypes.byref(o))
        o.init = _lib.parse("ffr_init_parse", "init", init, INITS)
        o.schedule = _lib.parse("ffr_schedule_parse", "schedule", schedule, SCHEDULES)
        o.precision = _lib.parse("ffr_precision_parse", "precision", precision, "fp32 or bf16")
        if tol_mode not in ("abs", "rel"):
            raise ValueError(f"tol_mode: expected abs or rel, found {tol_mode!r}")
        o.tol_mode = 0 if tol_mode == "abs" else 1
        if not (isinstance(max_sweeps, (int, np.integer)) and max_sweeps >= 0):
            raise ValueError(f"max_sweeps: expected an integer >= 0, found {max_sweeps!r}")
        if not (tol >= 0 and math.isfinite(tol) or tol == math.inf):
            raise ValueError(f"tol: expected >= 0, found {tol!r}")
        if not (1 <= tau <= 1e12):
            raise ValueError(f"tau: expected 1 <= tau <= 1e12, found {tau!r}")
        if not (0 <= temperature <= 1e12):
            raise ValueError(f"temperature: expected 0 <= T <= 1e12, found {temperature!r}")
        if not (isinstance(anderson, (int, np.integer)) and 0 <= anderson <= 8):
            raise ValueError(f"anderson: expected an integer 0..8, found {anderson!r}")
        if not (isinstance(measure_every, (int, np.integer)) and measure_every >= -1):
            raise ValueError(f"measure_every: expected an integer >= -1, found {measure_every!r}")
        if threads is not None and not (isinstance(threads, (int, np.integer)) and 1 <= threads <= 1024):
            raise ValueError(f"threads: expected None or 1..1024, found {threads!r}")
        o.max_sweeps, o.tol, o.eps, o.temperature = int(max_sweeps), float(tol), 1.0 / float(tau), float(temperature)
        o.gibbs, o.anderson, o.seed, o.measure_every = int(bool(gibbs)), int(anderson), int(seed), int(measure_every)
        if diverge_factor is not None:
            o.diverge_factor = float(diverge_factor)
        if not math.isfinite(beta):
            raise ValueError(f"beta: expected a finite number, found {beta!r}")
        o.threads, o.beta = int(threads or 0), float(beta)
        self.net = net
        self.mask = None
        if mask is not None:
            m = np.asarray(mask)
            if m.shape != (net.sizes[0],):
                raise ValueError(f"mask: expected shape ({net.sizes[0]},) (1 = clamped visible unit), found {m.shape}")
            self.mask = np.ascontiguousarray(m != 0, dtype=np.uint8)
            o.visible_mask = self.mask.ctypes.data_as(_lib.c_uchar_p)
        self.target = None if target is None else as_f32(target, "target", (None, net.sizes[-1]))
        if self.target is not None:
            o.top_target = f32p(self.target)
        self.nudge = None if nudge_target is None else as_f32(nudge_target, "nudge_target", (None, net.sizes[-1]))
        if self.nudge is not None:
            o.nudge_target = f32p(self.nudge)
        self.progress_error = None
        if progress is not None:
            def cb(_ctx, sweep, n_active, step_mean):
                try:
                    return 1 if progress(sweep, n_active, step_mean) else 0
                except BaseException as e:  # noqa: B902 - re-raised after the C call
                    self.progress_error = e
                    return 1
            self._cb = _lib.RELAX_PROGRESS_FN(cb)
            o.progress = self._cb
        self.o = o


def _state(net, B, start):
    """The state as numpy arrays (B, n_k) and an ffr_state pointing at them."""
    sizes = net.sizes
    if start is not None:
        if len(start) != len(sizes):
            raise ValueError(f"start: expected {len(sizes)} arrays (layers 0..{len(sizes) - 1}), found {len(start)}")
        states = [np.array(as_f32(s, f"start[{k}]", (B, sizes[k])), copy=True) for k, s in enumerate(start)]
    else:
        states = [np.empty((B, n), dtype=np.float32) for n in sizes]
    st = _lib.ffr_state()
    st.L, st.B = len(sizes) - 1, B
    for k, n in enumerate(sizes):
        st.n[k] = n
        st.s[k] = f32p(states[k])
    return states, st


def _prepare(net, x, opts, start, exact):
    """Validate the call; returns x (float32, C order), B, the state arrays and the ffr_state."""
    if not isinstance(net, Net):
        raise TypeError(f"net: expected an ffrelax.Net, found {type(net).__name__}")
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    x = as_f32(x, "x", (None, net.sizes[0]))
    B = x.shape[0]
    if B < 1 or B > 2**31 - 1:
        raise ValueError(f"x: expected 1 .. 2^31-1 examples, found {B}")
    for what, a in (("target", opts.target), ("nudge_target", opts.nudge)):
        if a is not None and (a.shape[0] != B if exact else a.shape[0] < B):
            raise ValueError(f"{what}: expected shape ({B}, {net.sizes[-1]}), found {a.shape}")
    if start is not None and opts.o.init != 3:
        raise ValueError("start: needs init='given'")
    if start is None and opts.o.init == 3:
        raise ValueError("init='given' needs start=[s_0, .., s_L]")
    states, st = _state(net, B, start)
    return x, B, states, st


def _finish(status, err, res, opts):
    if opts.progress_error is not None:
        e, opts.progress_error = opts.progress_error, None
        raise e
    if status == _lib.ERR_DIVERGED:
        e = _lib.DivergedError(err.msg.decode("utf-8", "replace"), status)
        e.result = res
        raise e
    _lib.check(status, err)
    return res


def relax(net, x, init="ff", schedule="odd-even", max_sweeps=100, tol=0.0, tol_mode="abs", tau=1.0,
          temperature=0.0, anderson=0, precision="fp32", mask=None, target=None, start=None, seed=1, threads=None,
          measure_every=0, gibbs=False, diverge_factor=None, beta=0.0, nudge_target=None, progress=None):
    """Relax net on the inputs x (B, n_0) (or one input (n_0,)) with the visible
    layer clamped (Eq. 9 under the net's rule), as `ffrelax relax` does with
    the same options; returns a RelaxResult.

    x, target (B, n_L) and start ([s_0 .. s_L], each (B, n_k), with init="given")
    are used in place when they are float32 and C-contiguous, else converted
    once (one copy). mask (n_0,): nonzero = clamped visible unit. tau >= 1
    (eps = 1/tau). threads: this relaxation's threads (None: the library's
    count, ffrelax.set_threads; results do not depend on it). beta and
    nudge_target (B, n_L): equilibrium-propagation nudging of the top layer
    (doc/math.md, "Nudging"). measure_every: energy,
    residual and disagreement every k sweeps (0, the CLI's default: start and
    end; -1: never). progress(sweep, n_active, step_mean) is called after each
    sweep; a true return stops the relaxation. Raises ValueError for bad
    arguments, ffrelax.Error (DivergedError with .result) for the library's
    errors. The GIL is released during the call.
    """
    opts = _Options(net, init=init, schedule=schedule, max_sweeps=max_sweeps, tol=tol, tol_mode=tol_mode, tau=tau,
                    temperature=temperature, gibbs=gibbs, anderson=anderson, precision=precision, mask=mask,
                    target=target, seed=seed, threads=threads, measure_every=measure_every,
                    diverge_factor=diverge_factor, beta=beta, nudge_target=nudge_target, progress=progress)
    x, B, states, st = _prepare(net, x, opts, start, True)
    tr = ctypes.POINTER(_lib.ffr_trace)()
    err = _lib.ffr_err()
    status = lib.ffr_relax(net._p, f32p(x), B, ctypes.byref(opts.o), ctypes.byref(st), ctypes.byref(tr),
                           ctypes.byref(err))
    res = RelaxResult(tr, states, owned=True) if tr else None  # frees the trace with the result
    return _finish(status, err, res, opts)


class Relaxer:
    """A reusable relaxer (ffr_relaxer): one Net and one set of options (the
    keyword arguments of relax()), run many times on up to max_batch examples;
    the weights are packed and the workspaces allocated once. After changing
    the net's parameters in place call update(). One thread at a time per
    Relaxer (calls are serialized by a lock); several Relaxers may run at once.
    """

    def __init__(self, net, max_batch=1, **opts):
        if not isinstance(net, Net):
            raise TypeError(f"net: expected an ffrelax.Net, found {type(net).__name__}")
        if not (isinstance(max_batch, (int, np.integer)) and 1 <= max_batch <= 2**31 - 1):
            raise ValueError(f"max_batch: expected an integer >= 1, found {max_batch!r}")
        if "start" in opts:
            raise ValueError("start: pass it to run()")
        self.net, self.max_batch, self._kw = net, int(max_batch), dict(opts)
        self._opts = _Options(net, **self._kw)
        self._lock = threading.Lock()
        self._last = None
        self._rx = ctypes.c_void_p()
        err = _lib.ffr_err()
        _lib.check(lib.ffr_relaxer_create(ctypes.byref(self._rx), net._p, ctypes.byref(self._opts.o),
                                          self.max_batch, ctypes.byref(err)), err)

    def __del__(self):
        rx = getattr(self, "_rx", None)
        if rx:
            self._detach()
            lib.ffr_relaxer_free(rx)
            self._rx = None

    def _detach(self):
        """The last result copies what it still reads from the relaxer's trace."""
        last = self._last() if self._last is not None else None
        if last is not None:
            last._detach()
        self._last = None

    def set_opts(self, **opts):
        """Change some options (the others keep their values)."""
        kw = dict(self._kw, **opts)
        new = _Options(self.net, **kw)
        err = _lib.ffr_err()
        with self._lock:
            self._detach()
            _lib.check(lib.ffr_relaxer_set_opts(self._rx, ctypes.byref(new.o), ctypes.byref(err)), err)
            self._opts, self._kw = new, kw

    def update(self):
        """Re-pack the weights after the net's parameters changed in place."""
        err = _lib.ffr_err()
        with self._lock:
            _lib.check(lib.ffr_relaxer_update(self._rx, ctypes.byref(err)), err)

    def run(self, x, start=None):
        """Relax x (B, n_0) (or one input (n_0,)), B <= max_batch; returns a RelaxResult.
        target / nudge_target given to the Relaxer need at least B rows."""
        x, B, states, st = _prepare(self.net, x, self._opts, start, False)
        if B > self.max_batch:
            raise ValueError(f"x: expected at most max_batch = {self.max_batch} examples, found {B}")
        tr = ctypes.POINTER(_lib.ffr_trace)()
        err = _lib.ffr_err()
        with self._lock:
            self._detach()
            status = lib.ffr_relaxer_run(self._rx, f32p(x), B, ctypes.byref(st), ctypes.byref(tr), ctypes.byref(err))
            res = RelaxResult(tr, states, owned=False) if tr else None
            if res is not None:
                self._last = weakref.ref(res)
            return _finish(status, err, res, self._opts)
