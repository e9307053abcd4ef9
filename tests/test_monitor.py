"""HeldOutBound: the held-out importance-weighted bound every few epochs, cheap, reproducible, resumable."""

import json

import numpy as np
import pytest

import npae
from npae import HeldOutBound
from npae.models.zoo import mlp_vae


def toy_data(n=90, d=12, seed=0):
    """Binary images: one of three random patterns with 5% of pixels flipped."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((3, d)) < 0.5
    X = patterns[rng.integers(0, 3, n)] ^ (rng.random((n, d)) < 0.05)
    return X.astype(np.float32)


def small_vae(**kwargs):
    return mlp_vae(input_dim=12, hidden=(8,), latent_dim=2, seed=0, **kwargs)


def test_scores_a_fixed_subset_every_few_epochs_with_fixed_draws():
    X = toy_data()
    monitor = HeldOutBound(X[60:], every=2, k=7, n=20, seed=3)
    vae = small_vae()
    vae.fit(X[:60], epochs=5, batch_size=20, optimizer=npae.Adam(1e-2), verbose=0, callbacks=[monitor])
    assert [r["epoch"] for r in monitor.records] == [2, 4]
    assert monitor.X.shape == (20, 12) and monitor.X_all.shape == (30, 12)
    first = monitor.evaluate(vae, 5)
    again = monitor.evaluate(vae, 5)  # the same model, the same subset and draws: the same numbers
    assert (again["iw_bound"], again["elbo"]) == (first["iw_bound"], first["elbo"])
    assert again["iw_bound"] == pytest.approx(float(vae.log_likelihood(monitor.X, k=7, seed=3).mean()), rel=1e-6)
    assert again["gap"] == pytest.approx(again["iw_bound"] - again["elbo"])
    assert [r["epoch"] for r in monitor.records] == [2, 4, 5] and monitor.seconds > 0
    epochs, bounds = monitor.series("iw_bound")
    assert epochs == [2, 4, 5] and bounds[-1] == again["iw_bound"]
    full = monitor.full_bound(vae, k=7)
    assert full == pytest.approx(float(vae.log_likelihood(X[60:], k=7, seed=3).mean()), rel=1e-6)


def test_watching_does_not_change_training():
    """The monitor draws from its own seed, never from the fit loop's Generator."""
    X = toy_data()
    weights = []
    for callbacks in ([], [HeldOutBound(X[60:], every=1, k=5, n=None)]):
        vae = small_vae(binarize=True)
        vae.fit(X[:60], epochs=3, batch_size=20, optimizer=npae.Adam(1e-2), verbose=0, callbacks=callbacks)
        weights.append(vae.get_weights())
    for name, value in weights[0].items():
        np.testing.assert_array_equal(weights[1][name], value)


def test_records_persist_and_a_re_evaluated_epoch_replaces_the_later_ones(tmp_path):
    X = toy_data()
    path = tmp_path / "runs" / "held_out.json"
    vae = small_vae()
    first = HeldOutBound(X, every=1, k=3, n=10, path=path)
    for epoch in (1, 2, 3):
        first.evaluate(vae, epoch)
    assert [r["epoch"] for r in json.loads(path.read_text())] == [1, 2, 3]
    resumed = HeldOutBound(X, every=1, k=3, n=10, path=path)
    assert resumed.records == first.records
    resumed.evaluate(vae, 2)
    assert [r["epoch"] for r in resumed.records] == [1, 2]
    assert [r["epoch"] for r in json.loads(path.read_text())] == [1, 2]


def test_bad_arguments_are_named(tmp_path):
    X = toy_data(n=10)
    with pytest.raises(ValueError, match=r"n: expected at most the 10 held-out images, got n=11; pass n=None"):
        HeldOutBound(X, n=11)
    with pytest.raises(ValueError, match=r"every: expected"):
        HeldOutBound(X, every=0)
    with pytest.raises(ValueError, match=r"X: expected held-out images of shape \(N, \.\.\.\)"):
        HeldOutBound(np.zeros(5))
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "records"}')
    with pytest.raises(ValueError, match="does not hold HeldOutBound records"):
        HeldOutBound(X, n=5, path=bad)
