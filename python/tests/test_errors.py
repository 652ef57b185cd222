"""Bad inputs raise Python exceptions before any C call (ValueError,
TypeError), or the library's error with its message (ffrelax.Error
subclasses); accepted inputs that need a conversion are copied once."""
import numpy as np
import pytest

import ffrelax


@pytest.fixture
def net():
    return ffrelax.Net.init([30, 10, 4], seed=1)


@pytest.mark.parametrize("x,msg", [
    (np.zeros((5, 29), np.float32), r"x: expected shape \(\*, 30\), found \(5, 29\)"),
    (np.zeros((2, 5, 30), np.float32), "x: expected shape"),
    (np.zeros((0, 30), np.float32), "x: expected 1"),
    (np.array([["a"] * 30]), "x: expected real numbers"),
    (np.ones((2, 30), complex), "x: expected real numbers"),
    (np.where(np.arange(60).reshape(2, 30) == 32, np.nan, 0.5), r"x: expected finite values, found nan at index \(1, 2\)"),
    (np.full((1, 30), np.inf), "x: expected finite values, found inf"),
])
def test_bad_x(net, x, msg):
    with pytest.raises(ValueError, match=msg):
        ffrelax.relax(net, x)


def test_converted_once(net, data):
    """float64, Fortran order and strided inputs give the float32 result."""
    want = ffrelax.relax(net, data, max_sweeps=5).states
    for x in (data.astype(np.float64), np.asfortranarray(data), np.repeat(data, 2, axis=1)[:, ::2]):
        got = ffrelax.relax(net, x, max_sweeps=5).states
        for a, b in zip(want, got):
            np.testing.assert_array_equal(a, b)
    one = ffrelax.relax(net, data[3], max_sweeps=5).states  # one example (n_0,) is a batch of 1
    np.testing.assert_array_equal(one[2], ffrelax.relax(net, data[3:4], max_sweeps=5).states[2])


@pytest.mark.parametrize("kw,msg", [
    (dict(init="warm"), "init: expected ff, zero, random or given, found 'warm'"),
    (dict(schedule="odd"), "schedule: expected"),
    (dict(tol_mode="x"), "tol_mode"),
    (dict(tau=0.5), "tau"),
    (dict(tol=-1), "tol"),
    (dict(max_sweeps=-1), "max_sweeps"),
    (dict(anderson=9), "anderson"),
    (dict(precision="fp16"), "precision"),
    (dict(threads=0), "threads"),
    (dict(mask=np.ones(29)), r"mask: expected shape \(30,\)"),
    (dict(target=np.zeros((40, 5), np.float32)), r"target: expected shape \(\*, 4\)"),
    (dict(target=np.zeros((39, 4), np.float32)), r"target: expected shape \(40, 4\)"),
    (dict(init="given"), "needs start"),
    (dict(start=[np.zeros((40, 30))] * 3), "needs init='given'"),
    (dict(init="given", start=[np.zeros((40, 30))] * 2), "start: expected 3 arrays"),
    (dict(init="given", start=[np.zeros((40, 30))] * 3), r"start\[1\]: expected shape \(40, 10\)"),
])
def test_bad_options(net, data, kw, msg):
    with pytest.raises(ValueError, match=msg):
        ffrelax.relax(net, data, **kw)


def test_library_errors(net, data, tmp_path):
    x = data.copy()
    with pytest.raises(ffrelax.Error) as e:  # every layer clamped: the library's check
        ffrelax.relax(ffrelax.Net.init([30, 4], seed=1), x, target=np.zeros((40, 4), np.float32))
    assert "nothing to relax" in str(e.value) and isinstance(e.value, ValueError)
    with pytest.raises(ffrelax.FileError, match="nope.ffr") as e:
        ffrelax.Net.load(tmp_path / "nope.ffr")
    assert isinstance(e.value, OSError)
    (tmp_path / "junk.ffr").write_bytes(b"not a model file at all" * 10)
    with pytest.raises(ffrelax.FormatError, match="junk.ffr"):
        ffrelax.Net.load(tmp_path / "junk.ffr")
    with pytest.raises(ffrelax.FileError):
        net.save(tmp_path / "no" / "such" / "dir" / "m.ffr")
    with pytest.raises(ValueError, match="rule: expected"):
        ffrelax.Net.init([3, 2], rule="ising")
    with pytest.raises(ValueError, match="sizes"):
        ffrelax.Net.init([3])
    with pytest.raises(ffrelax.Error):  # zero-sized layer: ffr_net_create's message
        ffrelax.Net.init([3, 0])
    with pytest.raises(TypeError):
        ffrelax.relax("net", data)


def test_nonfinite_weights(data):
    W = [np.ones((4, 30), np.float32)]
    W[0][1, 2] = np.nan
    with pytest.raises(ValueError, match=r"W1: expected finite values, found nan at index \(1, 2\)"):
        ffrelax.Net.from_arrays(W=W)


def test_bad_arrays_in_from_arrays():
    with pytest.raises(ValueError, match=r"b1: expected shape \(4,\)"):
        ffrelax.Net.from_arrays(W=[np.zeros((4, 3))], b=[np.zeros(5)])
    with pytest.raises(ValueError, match="V: expected 2 arrays"):
        ffrelax.Net.from_arrays(W=[np.zeros((4, 3)), np.zeros((2, 4))], V=[np.zeros((3, 4))])
    with pytest.raises(ValueError, match="W: expected a list of 2-d"):
        ffrelax.Net.from_arrays(W=[np.zeros(3)])
    with pytest.raises(ValueError, match="alpha_up: expected one value or 2"):
        ffrelax.Net.from_arrays(W=[np.zeros((4, 3))], alpha_up=[1, 2, 3])


def test_progress_exception_propagates(net, data):
    def boom(sweep, n_active, step):
        raise KeyError("from the callback")
    with pytest.raises(KeyError, match="from the callback"):
        ffrelax.relax(net, data, progress=boom)
    seen = []
    r = ffrelax.relax(net, data, max_sweeps=50, progress=lambda s, n, st: seen.append(s) or s >= 3)
    assert seen == [1, 2, 3] and r.T == 3


def test_library_checks_the_net(data):
    net = ffrelax.Net.init([30, 10, 4], seed=1)
    net.alpha_up = [1, float("nan"), 1]  # set behind Python's back: the library's ffr_net_check answers
    with pytest.raises(ffrelax.Error, match="gain") as e:
        ffrelax.relax(net, data)
    assert e.value.code == 1 and isinstance(e.value, ValueError)
