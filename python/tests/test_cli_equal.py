"""The Python API gives the CLI's results bit for bit: the same model file,
inputs, seed and threads through `ffrelax relax --npy-dir --trace` and through
ffrelax.relax; `ffrelax init` and Net.init write identical model files;
`ffrelax train` and train_sae/train_rbm produce identical models."""
import csv

import numpy as np
import pytest

import ffrelax

CASES = {
    "ff-tol": dict(cli=["--tol", "1e-4"], py=dict(tol=1e-4)),
    "zero-sync": dict(cli=["--init", "zero", "--schedule", "sync", "--tau", "2"],
                      py=dict(init="zero", schedule="sync", tau=2)),
    "random-noise": dict(cli=["--init", "random", "--temperature", "0.01", "--seed", "9"],
                         py=dict(init="random", temperature=0.01, seed=9)),
    "rel-anderson": dict(cli=["--tol", "1e-5", "--tol-mode", "rel", "--anderson", "3", "--measure-every", "4"],
                         py=dict(tol=1e-5, tol_mode="rel", anderson=3, measure_every=4)),
    "mask-target": dict(cli=["--mask", "{mask}", "--target", "{target}"], py=dict(mask="mask", target="target")),
}


def _csv(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.mark.parametrize("rule,tied", [("dendritic", False), ("hopfield", True), ("boltzmann", True)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_relax_equals_cli(cli, data, tmp_path, case, rule, tied):
    net = ffrelax.Net.init([30, 17, 9, 5], rule=rule, tied=tied, seed=3, scale=1.5)
    model, xs = tmp_path / "m.ffr", tmp_path / "x.npy"
    net.save(model)
    np.save(xs, data)
    mask = (np.arange(30) % 3 != 0).astype(np.float32)
    target = np.random.default_rng(1).random((40, 5), dtype=np.float32)
    np.save(tmp_path / "mask.npy", mask)
    np.save(tmp_path / "target.npy", target)
    c = CASES[case]
    args = [a.format(mask=tmp_path / "mask.npy", target=tmp_path / "target.npy") for a in c["cli"]]
    cli("relax", "--model", model, "--images", xs, "--max-sweeps", 25, "--threads", 1, "--quiet",
        "--npy-dir", tmp_path / "out", "--trace", tmp_path / "t.csv", *args)
    kw = {k: {"mask": mask, "target": target}.get(v, v) if isinstance(v, str) else v for k, v in c["py"].items()}
    r = ffrelax.relax(ffrelax.Net.load(model), data, max_sweeps=25, threads=1, **kw)
    for k, s in enumerate(r.states):
        assert s.dtype == np.float32 and s.shape == (40, net.sizes[k])
        np.testing.assert_array_equal(s, np.load(tmp_path / "out" / f"state{k}.npy"), err_msg=f"state{k}")
    for name in ("step", "sweeps", "dist", "residual", "rate", "norm"):
        np.testing.assert_array_equal(getattr(r, name), np.load(tmp_path / "out" / f"{name}.npy"), err_msg=name)
    np.testing.assert_array_equal(r.converged, np.load(tmp_path / "out" / "converged.npy") != 0)
    head, rows = _csv(tmp_path / "t.csv")
    assert len(rows) == r.T and r.T > 0
    L = net.L
    cols = {"step_mean": r.step_mean, "step_median": r.step_median, "step_max": r.step_max,
            "rstep_mean": r.rstep_mean, "relstep_median": r.relstep_median, "energy": r.energy,
            "residual": r.residual_mean}
    cols.update({f"disagree_{k}": r.disagree[:, k] for k in range(1, L)})
    cols.update({f"mpe_up_{k}": r.mpe_up[:, k] for k in range(1, L + 1)})
    cols.update({f"mpe_down_{k}": r.mpe_down[:, k] for k in range(L)})
    for name, arr in cols.items():  # the CSV prints %.9g: the same text is the same double to 9 digits
        j = head.index(name)
        assert [row[j] for row in rows] == ["%.9g" % v for v in arr[1:]], name
    assert [int(row[head.index("n_active")]) for row in rows] == list(r.n_active[1:])
    assert np.isfinite(r.step_mean[1:]).all() and r.step_mean[1] > 0  # not a vacuous comparison


def test_init_equals_cli(cli, tmp_path):
    cli("init", "--sizes", "30,20,10", "--seed", 7, "--scale", 0.5, "--out", tmp_path / "cli.ffr")
    ffrelax.Net.init([30, 20, 10], seed=7, scale=0.5).save(tmp_path / "py.ffr")
    assert (tmp_path / "cli.ffr").read_bytes() == (tmp_path / "py.ffr").read_bytes()


def test_export_equals_arrays(cli, tmp_path):
    net = ffrelax.Net.init([12, 8, 4], seed=2)
    net.save(tmp_path / "m.ffr")
    cli("export", "--model", tmp_path / "m.ffr", "--npy-dir", tmp_path / "npy")
    a = net.arrays()
    for key, first in (("W", 1), ("b", 1), ("V", 1), ("c", 0)):
        for i, arr in enumerate(a[key]):
            np.testing.assert_array_equal(arr, np.load(tmp_path / "npy" / f"{key}{i + first}.npy"))


@pytest.mark.parametrize("method", ["sae", "rbm", "dendritic"])
def test_train_equals_cli(cli, tmp_path, method):
    x = np.random.default_rng(8).random((60, 16), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    common = ["--epochs", 2, "--batch", 10, "--seed", 4, "--threads", 1, "--holdout", 0, "--quiet"]
    if method == "dendritic":
        ffrelax.Net.init([16, 12, 6], seed=4).save(tmp_path / "init.ffr")
        cli("train", "--method", method, "--images", tmp_path / "x.npy", "--init-model", tmp_path / "init.ffr",
            "--out", tmp_path / "cli.ffr", *common)
        net = ffrelax.Net.load(tmp_path / "init.ffr")
        m = ffrelax.train_dendritic(net, x, epochs=2, batch=10, seed=4, threads=1)
    elif method == "sae":
        cli("train", "--method", method, "--images", tmp_path / "x.npy", "--sizes", "16,12,6",
            "--out", tmp_path / "cli.ffr", *common)
        net = ffrelax.Net.init([16, 12, 6], seed=4)
        m = ffrelax.train_sae(net, x, epochs=2, batch=10, seed=4, threads=1)
    else:
        cli("train", "--method", method, "--images", tmp_path / "x.npy", "--sizes", "16,12,6",
            "--out", tmp_path / "cli.ffr", *common)
        net = ffrelax.Net.init([16, 12, 6], rule="boltzmann", rho="sigmoid", tied=True, seed=4)
        m = ffrelax.train_rbm(net, x, epochs=2, batch=10, seed=4, threads=1)
    net.save(tmp_path / "py.ffr")
    assert (tmp_path / "cli.ffr").read_bytes() == (tmp_path / "py.ffr").read_bytes()
    epochs = 2 if method == "dendritic" else 4  # greedy methods: 2 epochs per layer pair
    assert m["epoch"].shape == (epochs,) and np.isfinite(m["loss"]).all()


def _idx_labels(path, y):
    with open(path, "wb") as f:
        f.write(np.array([2049, len(y)], dtype=">u4").tobytes() + np.asarray(y, np.uint8).tobytes())


@pytest.mark.parametrize("rule,extra_cli,extra_py", [
    ("hopfield", [], {}),
    ("dendritic", ["--nudge", "positive", "--lr", "0.05,0.02", "--fixed-sweeps", "8,4"],
     dict(nudge="positive", lr=[0.05, 0.02], fixed_sweeps=(8, 4))),
])
def test_train_ep_equals_cli(cli, tmp_path, rule, extra_cli, extra_py):
    rng = np.random.default_rng(3)
    x = rng.random((50, 12), dtype=np.float32)
    y = rng.integers(0, 4, 50)
    np.save(tmp_path / "x.npy", x)
    _idx_labels(tmp_path / "y.idx", y)
    np.save(tmp_path / "tx.npy", x[:10])
    _idx_labels(tmp_path / "ty.idx", y[:10])
    cli("train", "--method", "ep", "--images", tmp_path / "x.npy", "--labels", tmp_path / "y.idx",
        "--test-images", tmp_path / "tx.npy", "--test-labels", tmp_path / "ty.idx", "--sizes", "12,9,4",
        "--rule", rule, "--epochs", 2, "--batch", 10, "--seed", 5, "--threads", 1, "--quiet",
        "--out", tmp_path / "cli.ffr", *extra_cli)
    net = ffrelax.Net.init([12, 9, 4], rule=rule, tied=True, seed=5, init="fanin")
    rows = []
    m = ffrelax.train_ep(net, x, y, epochs=2, batch=10, seed=5, threads=1, test_x=x[:10], test_y=y[:10],
                         progress=rows.append, **extra_py)
    net.save(tmp_path / "py.ffr")
    assert (tmp_path / "cli.ffr").read_bytes() == (tmp_path / "py.ffr").read_bytes()
    assert list(m["epoch"]) == [1, 2] and len(rows) == 2 and np.isfinite(m["test_err_relaxed"]).all()
    with pytest.raises(ValueError, match="labels 0..3"):
        ffrelax.train_ep(net, x, np.full(50, 4))
