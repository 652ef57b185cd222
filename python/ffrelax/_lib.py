"""_lib.py - libffrelax through ctypes: finding and loading the shared
library, the C structs of include/ffrelax.h mirrored field by field (their
sizes and offsets are checked against the C compiler by
tests/test_structs.py), the function signatures, and the mapping from an
ffr_status to a Python exception that carries the library's message.
"""
import ctypes
import ctypes.util
import os
from pathlib import Path

MAX_LAYERS = 16  # FFR_MAX_LAYERS
ABI_MAJOR = 0    # the FFR_VERSION_MAJOR these structs mirror

# ----------------------------------------------------------------- errors
OK, ERR_ARG, ERR_IO, ERR_FORMAT, ERR_NOMEM, ERR_DIVERGED, ERR_UNSUPPORTED = range(7)


class Error(Exception):
    """An error reported by libffrelax; .code is the ffr_status, str() its message."""

    def __init__(self, msg, code=None):
        super().__init__(msg)
        self.code = code


class ArgError(Error, ValueError):
    """FFR_ERR_ARG: a bad argument or option."""


class FormatError(Error, ValueError):
    """FFR_ERR_FORMAT: a file that is not what it claims."""


class FileError(Error, OSError):
    """FFR_ERR_IO: an OS error (open, read, write, rename)."""


class NoMemoryError(Error, MemoryError):
    """FFR_ERR_NOMEM: allocation failed or sizes overflow."""


class DivergedError(Error):
    """FFR_ERR_DIVERGED: NaN/Inf or a growing step; .result holds the trace up to the failure."""

    result = None


class UnsupportedError(Error):
    """FFR_ERR_UNSUPPORTED."""


_BY_CODE = {ERR_ARG: ArgError, ERR_IO: FileError, ERR_FORMAT: FormatError, ERR_NOMEM: NoMemoryError,
            ERR_DIVERGED: DivergedError, ERR_UNSUPPORTED: UnsupportedError}


# ------------------------------------------------------------- the structs
c_float_p = ctypes.POINTER(ctypes.c_float)
c_double_p = ctypes.POINTER(ctypes.c_double)
c_int_p = ctypes.POINTER(ctypes.c_int)
c_uchar_p = ctypes.POINTER(ctypes.c_ubyte)
c_enum = ctypes.c_int  # every ffr_ enum has values 0..6: int-sized on the SysV ABI


class ffr_err(ctypes.Structure):
    _fields_ = [("code", c_enum), ("msg", ctypes.c_char * 1024)]


class ffr_rng(ctypes.Structure):
    _fields_ = [("s", ctypes.c_uint64 * 4)]


class ffr_net(ctypes.Structure):
    _fields_ = [("L", ctypes.c_int), ("n", ctypes.c_int * MAX_LAYERS), ("rule", c_enum), ("rho", c_enum),
                ("tied", ctypes.c_int), ("alpha_up", ctypes.c_float * MAX_LAYERS),
                ("alpha_down", ctypes.c_float * MAX_LAYERS), ("nparams", ctypes.c_size_t),
                ("params", c_float_p), ("W", c_float_p * MAX_LAYERS), ("b", c_float_p * MAX_LAYERS),
                ("V", c_float_p * MAX_LAYERS), ("c", c_float_p * MAX_LAYERS)]


class ffr_state(ctypes.Structure):
    _fields_ = [("L", ctypes.c_int), ("B", ctypes.c_int), ("n", ctypes.c_int * MAX_LAYERS),
                ("s", c_float_p * MAX_LAYERS), ("data", c_float_p)]


RELAX_PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_double)


class ffr_relax_opts(ctypes.Structure):
    _fields_ = [("init", c_enum), ("schedule", c_enum), ("max_sweeps", ctypes.c_int), ("tol", ctypes.c_double),
                ("tol_mode", c_enum), ("eps", ctypes.c_double), ("temperature", ctypes.c_double),
                ("gibbs", ctypes.c_int), ("seed", ctypes.c_uint64), ("visible_mask", c_uchar_p),
                ("top_target", c_float_p), ("measure_every", ctypes.c_int), ("diverge_factor", ctypes.c_double),
                ("precision", c_enum), ("anderson", ctypes.c_int), ("progress", RELAX_PROGRESS_FN),
                ("progress_ctx", ctypes.c_void_p), ("beta", ctypes.c_double), ("nudge_target", c_float_p),
                ("threads", ctypes.c_int)]


class ffr_trace(ctypes.Structure):
    _fields_ = [("B", ctypes.c_int), ("L", ctypes.c_int), ("T", ctypes.c_int), ("max_sweeps", ctypes.c_int),
                ("step_mean", c_double_p), ("step_median", c_double_p), ("step_max", c_double_p),
                ("rstep_mean", c_double_p), ("relstep_median", c_double_p), ("n_active", c_int_p),
                ("frac_converged", c_double_p), ("measured", c_int_p), ("energy_mean", c_double_p),
                ("residual_mean", c_double_p), ("disagree", c_double_p), ("mpe_up", c_double_p),
                ("mpe_down", c_double_p), ("step", c_float_p), ("sweeps", c_int_p), ("converged", c_uchar_p),
                ("dist", c_float_p), ("norm", c_float_p), ("residual", c_float_p), ("rate", c_float_p),
                ("rate_median", ctypes.c_double), ("total_updates", ctypes.c_long), ("flops", ctypes.c_double),
                ("precision", c_enum), ("status", c_enum), ("diag", ctypes.c_char * 256)]


class ffr_train_metrics(ctypes.Structure):
    _fields_ = [("L", ctypes.c_int), ("n", ctypes.c_size_t), ("recon_abs", ctypes.c_double * MAX_LAYERS),
                ("recon_rel", ctypes.c_double * MAX_LAYERS), ("recon_rel_ex", ctypes.c_double * MAX_LAYERS),
                ("recon_rel_rate", ctypes.c_double * MAX_LAYERS), ("disagree", ctypes.c_double * MAX_LAYERS),
                ("relaxed", ctypes.c_int), ("sweeps_median", ctypes.c_double), ("sweeps_mean", ctypes.c_double),
                ("frac_converged", ctypes.c_double), ("dist_rel_median", ctypes.c_double)]


class ffr_train_progress(ctypes.Structure):
    _fields_ = [("method", c_enum), ("layer", ctypes.c_int), ("epoch", ctypes.c_int), ("epochs", ctypes.c_int),
                ("done", ctypes.c_size_t), ("total", ctypes.c_size_t), ("loss", ctypes.c_double),
                ("examples_per_s", ctypes.c_double), ("seconds", ctypes.c_double),
                ("mean_sweeps", ctypes.c_double), ("end_of_epoch", ctypes.c_int),
                ("metrics", ctypes.POINTER(ffr_train_metrics))]


TRAIN_PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ffr_train_progress))


class ffr_train_opts(ctypes.Structure):
    _fields_ = [("epochs", ctypes.c_int), ("batch", ctypes.c_int), ("lr", ctypes.c_double), ("optimizer", c_enum),
                ("momentum", ctypes.c_double), ("beta1", ctypes.c_double), ("beta2", ctypes.c_double),
                ("adam_eps", ctypes.c_double), ("weight_decay", ctypes.c_double), ("target", c_enum),
                ("seed", ctypes.c_uint64), ("cd_k", ctypes.c_int), ("persistent", ctypes.c_int),
                ("basal", ctypes.c_int), ("relax", ffr_relax_opts), ("holdout", c_float_p),
                ("n_holdout", ctypes.c_size_t), ("holdout_relax", ctypes.c_int), ("checkpoint", ctypes.c_char_p),
                ("resume", ctypes.c_int), ("progress", TRAIN_PROGRESS_FN), ("progress_ctx", ctypes.c_void_p),
                ("progress_every", ctypes.c_int), ("threads", ctypes.c_int)]


class ffr_ep_report(ctypes.Structure):
    _fields_ = [("epoch", ctypes.c_int), ("epochs", ctypes.c_int), ("end_of_epoch", ctypes.c_int),
                ("done", ctypes.c_size_t), ("total", ctypes.c_size_t)] + [
        (name, ctypes.c_double) for name in (
            "loss", "train_err_ff", "train_err_relaxed", "test_err_ff", "test_err_relaxed", "free_mean", "free_p95",
            "nudged_mean", "nudged_p95", "free_frac_max", "nudged_frac_max", "dist_rel", "test_sweeps_mean",
            "seconds", "seconds_total")]


EP_PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ffr_ep_report))


class ffr_ep_opts(ctypes.Structure):
    _fields_ = [("beta", ctypes.c_double), ("nudge", c_enum), ("start", c_enum),
                ("lr", ctypes.c_double * MAX_LAYERS), ("fixed_free", ctypes.c_int), ("fixed_nudged", ctypes.c_int),
                ("relax", ffr_relax_opts), ("test_x", c_float_p), ("test_y", c_uchar_p), ("n_test", ctypes.c_size_t),
                ("progress", EP_PROGRESS_FN), ("progress_ctx", ctypes.c_void_p), ("progress_every", ctypes.c_int)]


# The structs the tests compare with the header (C name -> ctypes class).
STRUCTS = {"ffr_ep_report": ffr_ep_report, "ffr_ep_opts": ffr_ep_opts, "ffr_err": ffr_err, "ffr_rng": ffr_rng, "ffr_net": ffr_net, "ffr_state": ffr_state,
           "ffr_relax_opts": ffr_relax_opts, "ffr_trace": ffr_trace, "ffr_train_metrics": ffr_train_metrics,
           "ffr_train_progress": ffr_train_progress, "ffr_train_opts": ffr_train_opts}

# ----------------------------------------------------------- the library
P = ctypes.POINTER
_status = c_enum
_SIGNATURES = {
    # name: (restype, argtypes)
    "ffr_version": (ctypes.c_int, []),
    "ffr_status_str": (ctypes.c_char_p, [c_enum]),
    "ffr_blas_info": (ctypes.c_char_p, []),
    "ffr_set_threads": (None, [ctypes.c_int]),
    "ffr_get_threads": (ctypes.c_int, []),
    "ffr_bf16_available": (ctypes.c_int, []),
    "ffr_net_create": (_status, [P(P(ffr_net)), ctypes.c_int, c_int_p, c_enum, c_enum, ctypes.c_int, P(ffr_err)]),
    "ffr_net_free": (None, [P(ffr_net)]),
    "ffr_net_clone": (_status, [P(P(ffr_net)), P(ffr_net), P(ffr_err)]),
    "ffr_net_init_glorot": (None, [P(ffr_net), ctypes.c_uint64, ctypes.c_float]),
    "ffr_net_check": (_status, [P(ffr_net), P(ffr_err)]),
    "ffr_net_save": (_status, [P(ffr_net), ctypes.c_char_p, P(ffr_err)]),
    "ffr_net_load": (_status, [P(P(ffr_net)), ctypes.c_char_p, P(ffr_err)]),
    "ffr_rule_parse": (ctypes.c_int, [ctypes.c_char_p, c_int_p]),
    "ffr_rho_parse": (ctypes.c_int, [ctypes.c_char_p, c_int_p]),
    "ffr_init_parse": (ctypes.c_int, [ctypes.c_char_p, c_int_p]),
    "ffr_schedule_parse": (ctypes.c_int, [ctypes.c_char_p, c_int_p]),
    "ffr_precision_parse": (ctypes.c_int, [ctypes.c_char_p, c_int_p]),
    "ffr_optimizer_parse": (ctypes.c_int, [ctypes.c_char_p, c_int_p]),
    "ffr_target_parse": (ctypes.c_int, [ctypes.c_char_p, c_int_p]),
    "ffr_rule_name": (ctypes.c_char_p, [c_enum]),
    "ffr_rho_name": (ctypes.c_char_p, [c_enum]),
    "ffr_precision_name": (ctypes.c_char_p, [c_enum]),
    "ffr_relax_opts_default": (None, [P(ffr_relax_opts)]),
    "ffr_relax": (_status, [P(ffr_net), c_float_p, ctypes.c_int, P(ffr_relax_opts), P(ffr_state),
                            P(P(ffr_trace)), P(ffr_err)]),
    "ffr_trace_free": (None, [P(ffr_trace)]),
    "ffr_relaxer_create": (_status, [P(ctypes.c_void_p), P(ffr_net), P(ffr_relax_opts), ctypes.c_int, P(ffr_err)]),
    "ffr_relaxer_run": (_status, [ctypes.c_void_p, c_float_p, ctypes.c_int, P(ffr_state), P(P(ffr_trace)),
                                  P(ffr_err)]),
    "ffr_relaxer_set_opts": (_status, [ctypes.c_void_p, P(ffr_relax_opts), P(ffr_err)]),
    "ffr_relaxer_update": (_status, [ctypes.c_void_p, P(ffr_err)]),
    "ffr_relaxer_free": (None, [ctypes.c_void_p]),
    "ffr_mnist_load": (_status, [ctypes.c_char_p, ctypes.c_int, P(c_float_p), P(c_uchar_p), P(ctypes.c_size_t),
                                 P(ffr_err)]),
    "ffr_train_opts_default": (None, [P(ffr_train_opts), c_enum]),
    "ffr_train_sae": (_status, [P(ffr_net), c_float_p, ctypes.c_size_t, P(ffr_train_opts), c_int_p, P(ffr_err)]),
    "ffr_train_rbm": (_status, [P(ffr_net), c_float_p, ctypes.c_size_t, P(ffr_train_opts), c_int_p, P(ffr_err)]),
    "ffr_net_init_fanin": (None, [P(ffr_net), ctypes.c_uint64, ctypes.c_float]),
    "ffr_nudge_parse": (ctypes.c_int, [ctypes.c_char_p, c_int_p]),
    "ffr_ep_start_parse": (ctypes.c_int, [ctypes.c_char_p, c_int_p]),
    "ffr_ep_opts_default": (None, [P(ffr_ep_opts), P(ffr_train_opts)]),
    "ffr_train_ep": (_status, [P(ffr_net), c_float_p, c_uchar_p, ctypes.c_size_t, P(ffr_ep_opts), P(ffr_train_opts),
                               c_int_p, P(ffr_err)]),
    "ffr_train_dendritic": (_status, [P(ffr_net), c_float_p, ctypes.c_size_t, P(ffr_train_opts), c_int_p,
                                      P(ffr_err)]),
}


def _candidates():
    env = os.environ.get("FFRELAX_LIB")
    if env:
        return [env]
    out = []
    tree = Path(__file__).resolve().parent.parent.parent / "build" / "libffrelax.so"
    if tree.exists():  # running from the source tree (PYTHONPATH=python)
        out.append(str(tree))
    found = ctypes.util.find_library("ffrelax")
    if found:
        out.append(found)
    for d in ("/usr/local/lib", "/usr/local/lib64", "/usr/lib", "/usr/lib64"):
        p = Path(d) / f"libffrelax.so.{ABI_MAJOR}"
        if p.exists():
            out.append(str(p))
    return out


def _resolved(path):
    """The file the loader mapped for a bare name like libffrelax.so.0."""
    if os.path.isabs(path):
        return path
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if line.rstrip().endswith("/" + path) or f"/{path}." in line:
                    return line.split(None, 5)[-1].strip()
    except OSError:
        pass
    return path


def _load():
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
            continue
        if not hasattr(lib, "ffr_version"):
            tried.append(f"{path}: no ffr_version (a library older than 0.1.0)")
            continue
        major = lib.ffr_version() // 10000
        if major != ABI_MAJOR:
            tried.append(f"{path}: ABI {major}, this package mirrors ABI {ABI_MAJOR}")
            continue
        for name, (res, args) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        return lib, _resolved(path)
    raise ImportError("ffrelax: cannot load libffrelax.so (set FFRELAX_LIB=/path/to/libffrelax.so, "
                      "`make shared` in the source tree, or `make install`); tried: "
                      + ("; ".join(tried) if tried else "nothing found"))


lib, lib_path = _load()


def check(status, err):
    """Raise the exception of an ffr_status with the library's message."""
    if status == OK:
        return
    msg = err.msg.decode("utf-8", "replace") or lib.ffr_status_str(status).decode()
    raise _BY_CODE.get(status, Error)(msg, status)


def parse(fn, what, s, choices):
    """An enum from its name through the library's own parser (ffr_*_parse)."""
    if isinstance(s, int) and not isinstance(s, bool):
        return s
    v = ctypes.c_int()
    if not isinstance(s, str) or getattr(lib, fn)(s.encode(), ctypes.byref(v)) != 0:
        raise ValueError(f"{what}: expected {choices}, found {s!r}")
    return v.value
