"""The same seed gives bit-identical trained weights: in this process, in a fresh process compiling every
Numba kernel from scratch (an empty NUMBA_CACHE_DIR), and in a fresh process loading them from that cache."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from npae import Adam, SGD
from npae.layers.noise import MaskingNoise
from npae.models.vae import VAE
from npae.models.zoo import dense_autoencoder, mlp

REPO = pathlib.Path(__file__).resolve().parents[1]


def train_models():
    """Train each model briefly with a fixed seed; return ``{model_name.param_name: array}``."""
    X = np.random.default_rng(0).random((48, 16)).astype(np.float32)
    dense = dense_autoencoder(16, (12,), 4, seed=1, corruption=MaskingNoise(0.3))
    dense.fit(X, epochs=2, batch_size=16, optimizer=Adam(1e-2), seed=2, verbose=0, validation_data=X[:8], patience=5)
    vae = VAE(mlp((16, 12, 4), rng=3), mlp((2, 12, 16), rng=4), latent_dim=2, binarize=True)
    vae.fit(X, epochs=2, batch_size=8, optimizer=SGD(0.01, momentum=0.9), seed=5, verbose=0)
    weights = {}
    for name, model in (("dense", dense), ("vae", vae)):
        weights.update({f"{name}.{k}": v for k, v in model.get_weights().items()})
    return weights


def child_main(out_path):
    """Run in a subprocess: train and save the weights."""
    np.savez(out_path, **train_models())


def train_in_subprocess(out_path, numba_cache_dir):
    code = "import sys; sys.path.insert(0, sys.argv[1]); import test_determinism; test_determinism.child_main(sys.argv[2])"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache_dir))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env.pop("NUMBA_DISABLE_JIT", None)
    result = subprocess.run(
        [sys.executable, "-c", code, str(pathlib.Path(__file__).parent), str(out_path)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    with np.load(out_path) as data:
        return {k: data[k] for k in data.files}


def assert_bit_identical(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), f"{k} differs"


@pytest.fixture(scope="module")
def cold_and_warm(tmp_path_factory):
    """Weights from a process with an empty Numba cache, then from one reusing the cache it filled."""
    tmp = tmp_path_factory.mktemp("determinism")
    cache = tmp / "numba-cache"
    cache.mkdir()
    cold = train_in_subprocess(tmp / "cold.npz", cache)
    cached_files = [p for p in cache.rglob("*") if p.is_file()]
    warm = train_in_subprocess(tmp / "warm.npz", cache)
    return cold, warm, cached_files


def test_two_fresh_processes_agree_bit_for_bit(cold_and_warm):
    cold, warm, cached_files = cold_and_warm
    if not os.environ.get("NUMBA_DISABLE_JIT"):
        assert any(p.suffix == ".nbi" for p in cached_files), "the cold run should have filled the Numba cache"
    assert_bit_identical(cold, warm)


def test_this_process_agrees_with_a_fresh_one(cold_and_warm):
    assert_bit_identical(train_models(), cold_and_warm[0])


def test_a_different_seed_gives_different_weights():
    X = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    runs = []
    for seed in (0, 1):
        model = dense_autoencoder(16, (12,), 4, seed=1)
        model.fit(X, epochs=1, batch_size=4, optimizer=SGD(0.1), seed=seed, verbose=0)
        runs.append(model.get_weights())
    assert not np.array_equal(runs[0]["encoder.0.W"], runs[1]["encoder.0.W"])
