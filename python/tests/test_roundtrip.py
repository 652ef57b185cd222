"""save/load and arrays/from_arrays round trips; outputs own their memory."""
import numpy as np
import pytest

import ffrelax


@pytest.mark.parametrize("tied", [False, True])
def test_save_load(tmp_path, tied):
    net = ffrelax.Net.init([20, 11, 7], rule="dendritic", tied=tied, seed=3, alpha_up=[1, 2, 0.5],
                           alpha_down=0.25)
    net.save(tmp_path / "m.ffr")
    back = ffrelax.Net.load(tmp_path / "m.ffr")
    assert back.sizes == [20, 11, 7] and back.rule == "dendritic" and back.tied == tied
    np.testing.assert_array_equal(back.alpha_up, [1, 2, 0.5])
    np.testing.assert_array_equal(back.alpha_down, [0.25] * 3)
    a, b = net.arrays(), back.arrays()
    for key in ("W", "b", "c") + (() if tied else ("V",)):
        for u, v in zip(a[key], b[key]):
            np.testing.assert_array_equal(u, v)
    assert (b["V"] is None) == tied
    assert not list(tmp_path.glob("*.tmp.*"))  # atomic: no temporary file left


@pytest.mark.parametrize("tied", [False, True])
def test_arrays_from_arrays(tmp_path, tied):
    rng = np.random.default_rng(2)
    sizes = [9, 6, 4, 3]
    W = [rng.standard_normal((sizes[k], sizes[k - 1])).astype(np.float32) for k in (1, 2, 3)]
    b = [rng.standard_normal(sizes[k]) for k in (1, 2, 3)]  # float64: converted
    V = None if tied else [rng.standard_normal((sizes[k - 1], sizes[k])).astype(np.float32) for k in (1, 2, 3)]
    c = [rng.standard_normal(sizes[k]).astype(np.float32) for k in (0, 1, 2)]
    net = ffrelax.Net.from_arrays(W=W, b=b, V=V, c=c, rule="hopfield" if tied else "dendritic")
    a = net.arrays()
    for key, src in (("W", W), ("b", b), ("V", V), ("c", c)):
        if src is None:
            assert a[key] is None
            continue
        for u, v in zip(a[key], src):
            np.testing.assert_array_equal(u, np.asarray(v, np.float32))
            assert u.flags.owndata and u.flags.c_contiguous
    again = ffrelax.Net.from_arrays(**a, rule=net.rule, rho=net.rho)
    net.save(tmp_path / "1.ffr")
    again.save(tmp_path / "2.ffr")
    assert (tmp_path / "1.ffr").read_bytes() == (tmp_path / "2.ffr").read_bytes()
    x = rng.random((5, 9), dtype=np.float32)
    np.testing.assert_array_equal(ffrelax.relax(net, x).states[3], ffrelax.relax(again, x).states[3])


def test_outputs_own_memory(data):
    net = ffrelax.Net.init([30, 10, 4], seed=1)
    r = ffrelax.relax(net, data, max_sweeps=4)
    arrays = r.states + [r.step, r.step_mean, r.sweeps, r.dist, r.disagree]
    del net
    for a in arrays:
        assert a.flags.owndata and a.flags.c_contiguous and a.flags.writeable
    assert np.isfinite(r.states[2]).all()
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(r.states[1])
    t[0, 0] = 123.0  # shares the memory: no copy
    assert r.states[1][0, 0] == 123.0


def test_given_start_continues(data):
    """Relaxing 10 sweeps, then 10 more from that state (init="given") equals
    20 sweeps in one go (deterministic sweeps)."""
    net = ffrelax.Net.init([30, 10, 4], seed=1, scale=2)
    full = ffrelax.relax(net, data, max_sweeps=20)
    half = ffrelax.relax(net, data, max_sweeps=10)
    rest = ffrelax.relax(net, data, max_sweeps=10, init="given", start=half.states)
    for a, b in zip(full.states, rest.states):
        np.testing.assert_array_equal(a, b)


def test_load_mnist(tmp_path):
    with pytest.raises(ffrelax.FileError, match="nodata"):
        ffrelax.load_mnist(tmp_path / "nodata")
    from conftest import ROOT
    d = ROOT / "data" / "mnist"
    if not (d / "t10k-images-idx3-ubyte.gz").exists() and not (d / "t10k-images-idx3-ubyte").exists():
        pytest.skip("no MNIST in data/mnist (sh scripts/get-data.sh)")
    x, y = ffrelax.load_mnist(d, train=False)
    assert x.shape == (len(y), 784) and x.dtype == np.float32 and x.flags.owndata
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.9 and y.max() <= 9 and len(set(y)) == 10
