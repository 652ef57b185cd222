"""Relaxations from several Python threads at once (ctypes releases the GIL)
give the results of the same calls one after another; the Relaxer gives
relax()'s results; training reports every epoch."""
import threading

import numpy as np

import ffrelax


def _in_threads(fn, n):
    """Run fn(0) .. fn(n-1) in n threads at once; re-raise the first failure."""
    errors = []

    def work(i):
        try:
            fn(i)
        except BaseException as e:  # noqa: B902
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


def test_concurrent_relax():
    nets = [ffrelax.Net.init([50, 40, 30, 20], seed=s, scale=1.5) for s in range(4)]
    xs = [np.random.default_rng(s).random((64, 50), dtype=np.float32) for s in range(4)]
    want = [ffrelax.relax(n, x, max_sweeps=30, tol=1e-6).states for n, x in zip(nets, xs)]
    got = [None] * 8

    def work(i):
        got[i] = ffrelax.relax(nets[i % 4], xs[i % 4], max_sweeps=30, tol=1e-6).states

    _in_threads(work, 8)
    for i in range(8):
        for a, b in zip(want[i % 4], got[i]):
            np.testing.assert_array_equal(a, b)


def test_thread_count_invariance():
    net = ffrelax.Net.init([60, 50, 40], seed=2)
    x = np.random.default_rng(3).random((33, 60), dtype=np.float32)
    one = ffrelax.relax(net, x, max_sweeps=15, threads=1)
    two = ffrelax.relax(net, x, max_sweeps=15, threads=2)
    for a, b in zip(one.states, two.states):
        np.testing.assert_array_equal(a, b)


def test_relaxer_equals_relax():
    net = ffrelax.Net.init([30, 20, 10], seed=5)
    x = np.random.default_rng(4).random((6, 30), dtype=np.float32)
    rx = ffrelax.Relaxer(net, max_batch=6, max_sweeps=40, tol=1e-5)
    for b in range(6):
        r = rx.run(x[b:b + 1])
        want = ffrelax.relax(net, x[b:b + 1], max_sweeps=40, tol=1e-5)
        np.testing.assert_array_equal(r.states[2], want.states[2])
    rx.set_opts(max_sweeps=3)
    assert rx.run(x).T == 3
    try:
        rx.run(np.zeros((7, 30), np.float32))
        raise AssertionError("a batch over max_batch was accepted")
    except ValueError as e:
        assert "max_batch = 6" in str(e)


def test_train_progress_and_stop():
    net = ffrelax.Net.init([16, 12, 6], seed=1)
    x = np.random.default_rng(0).random((50, 16), dtype=np.float32)
    rows = []
    m = ffrelax.train_sae(net, x, epochs=3, batch=10, holdout=x[:10], progress=rows.append)
    assert len(rows) == 6 and list(m["layer"]) == [1, 1, 1, 2, 2, 2] and list(m["epoch"]) == [1, 2, 3] * 2
    assert m["recon_abs"].shape == (6, 2) and not m["stopped"]
    assert np.isfinite(m["recon_abs"][:, 0]).all() and np.isfinite(m["recon_abs"][3:, 1]).all()
    m = ffrelax.train_sae(net, x, epochs=3, batch=10, progress=lambda row: row["epoch"] == 2)
    assert m["stopped"] and len(m["epoch"]) == 2
    d = ffrelax.Net.init([16, 12, 6], seed=1)
    m = ffrelax.train_dendritic(d, x, epochs=2, batch=25, holdout=x[:10], relax_max_sweeps=20)
    assert (m["mean_sweeps"] > 0).all() and np.isfinite(m["sweeps_median"]).all()


def test_relaxer_results_survive_next_run():
    """A result read after the relaxer's next run still holds its own run's trace."""
    net = ffrelax.Net.init([30, 20, 10], seed=6)
    x = np.random.default_rng(7).random((8, 30), dtype=np.float32)
    rx = ffrelax.Relaxer(net, max_batch=8, max_sweeps=12)
    first = rx.run(x[:3])
    rx.run(x[3:])  # reuses the relaxer's trace
    want = ffrelax.relax(net, x[:3], max_sweeps=12)
    for name in ffrelax.RelaxResult._ARRAYS:
        np.testing.assert_array_equal(getattr(first, name), getattr(want, name), err_msg=name)
    assert first.step.shape == (13, 3)


def test_relaxer_update_after_training():
    net = ffrelax.Net.init([16, 12, 6], seed=1)
    x = np.random.default_rng(0).random((20, 16), dtype=np.float32)
    rx = ffrelax.Relaxer(net, max_batch=20, max_sweeps=10)
    before = rx.run(x).states[2]
    ffrelax.train_sae(net, x, epochs=1, batch=10)
    rx.update()
    after = rx.run(x).states[2]
    np.testing.assert_array_equal(after, ffrelax.relax(net, x, max_sweeps=10).states[2])
    assert not np.array_equal(before, after)


def test_concurrent_relaxers():
    net = ffrelax.Net.init([40, 30, 20], seed=3, scale=1.5)
    xs = [np.random.default_rng(s).random((5, 40), dtype=np.float32) for s in range(6)]
    want = [ffrelax.relax(net, x, max_sweeps=25).states[2] for x in xs]
    got = [None] * 6

    def work(i):
        rx = ffrelax.Relaxer(net, max_batch=5, max_sweeps=25, threads=1 + i % 2)
        for _ in range(3):
            got[i] = rx.run(xs[i]).states[2]

    _in_threads(work, 6)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(w, g)
