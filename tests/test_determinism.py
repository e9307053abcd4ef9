"""The same seed gives bit-identical trained weights: in this process, in a fresh process compiling every
Numba kernel from scratch (an empty NUMBA_CACHE_DIR), and in a fresh process loading them from that cache.

Two model groups: a denoising dense AE (Adam's parallel kernel) with a binarising VAE, and a small conv AE
whose layers run the parallel convolution (direct and im2col paths), pooling and upsampling kernels.
"""

import os
import pathlib
import subprocess
import sys

import numba
import numpy as np
import pytest

from npae import (
    SGD, Adam, AvgPool2D, Conv2D, Conv2DTranspose, Dense, Flatten, MaxPool2D, ReLU, Reshape, Sequential, Sigmoid,
    UpSampling2D,
)
from npae import MaskingNoise
from npae.models import Autoencoder
from npae.models.vae import VAE
from npae.models.zoo import dense_autoencoder, mlp

REPO = pathlib.Path(__file__).resolve().parents[1]
COLD_CONV = os.environ.get("NPAE_COLD_NUMBA_TESTS") == "1"


def train_dense_models():
    """A denoising dense AE (Adam, early stopping) and a binarising VAE, each trained briefly from fixed seeds."""
    X = np.random.default_rng(0).random((48, 16)).astype(np.float32)
    dense = dense_autoencoder(16, (12,), 4, seed=1, corruption=MaskingNoise(0.3))
    dense.fit(X, epochs=2, batch_size=16, optimizer=Adam(1e-2), seed=2, verbose=0, validation_data=X[:8], patience=5)
    vae = VAE(mlp((16, 12, 4), rng=3), mlp((2, 12, 16), rng=4), latent_dim=2, binarize=True)
    vae.fit(X, epochs=2, batch_size=8, optimizer=SGD(0.01, momentum=0.9), seed=5, verbose=0)
    models = {"dense": dense, "vae": vae}
    return {f"{name}.{k}": v for name, model in models.items() for k, v in model.get_weights().items()}


def conv_model():
    """8x8 images; the first and third convolutions take the direct path, the second the im2col (gemm) one."""
    encoder = Sequential([
        Conv2D(1, 4, 3, padding=1, rng=1), ReLU(), MaxPool2D(2),
        Conv2D(4, 8, 3, padding=1, rng=2), ReLU(), AvgPool2D(2), Flatten(), Dense(32, 6, rng=3),
    ])
    decoder = Sequential([
        Dense(6, 32, rng=4), ReLU(), Reshape((8, 2, 2)), UpSampling2D(2),
        Conv2D(8, 4, 3, padding=1, rng=5), ReLU(), Conv2DTranspose(4, 1, 2, stride=2, rng=6), Sigmoid(),
    ])
    return Autoencoder(encoder, decoder, input_shape=(1, 8, 8))


def train_conv_model():
    X = np.random.default_rng(0).random((16, 1, 8, 8)).astype(np.float32)
    model = conv_model()
    model.fit(X, epochs=2, batch_size=8, optimizer=SGD(0.1, momentum=0.9), seed=6, verbose=0)
    return model.get_weights()


TRAINERS = {"dense": train_dense_models, "conv": train_conv_model}


def child_main(which, out_path):
    """Run in a subprocess: train one model group and save its weights."""
    np.savez(out_path, **TRAINERS[which]())


def train_in_subprocess(which, out_path, numba_cache_dir=None):
    code = "import sys; sys.path.insert(0, sys.argv[1]); import test_determinism as t; t.child_main(*sys.argv[2:])"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    if numba_cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache_dir)
    result = subprocess.run(
        [sys.executable, "-c", code, str(pathlib.Path(__file__).parent), which, str(out_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    with np.load(out_path) as data:
        return {k: data[k] for k in data.files}


def assert_bit_identical(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), f"{k} differs"


def cold_then_warm(which, tmp):
    """Weights from a process with an empty Numba cache, then from one reusing the cache it filled."""
    cache = tmp / "numba-cache"
    cache.mkdir()
    cold = train_in_subprocess(which, tmp / "cold.npz", cache)
    if not numba.config.DISABLE_JIT:
        assert any(p.suffix == ".nbi" for p in cache.rglob("*")), "the cold run should have filled the Numba cache"
    warm = train_in_subprocess(which, tmp / "warm.npz", cache)
    return cold, warm


@pytest.fixture(scope="module")
def dense_runs(tmp_path_factory):
    return cold_then_warm("dense", tmp_path_factory.mktemp("dense"))


def test_dense_models_agree_across_cold_and_warm_processes(dense_runs):
    cold, warm = dense_runs
    assert_bit_identical(cold, warm)


def test_dense_models_agree_with_this_process(dense_runs):
    assert_bit_identical(train_dense_models(), dense_runs[0])


@pytest.fixture(scope="module")
def conv_here():
    return train_conv_model()


def test_conv_model_agrees_across_processes(tmp_path, conv_here):
    assert_bit_identical(train_in_subprocess("conv", tmp_path / "conv.npz"), conv_here)


@pytest.mark.skipif(not COLD_CONV, reason="compiling every conv kernel from an empty cache takes 30-100 s on 2 "
                    "loaded cores; set NPAE_COLD_NUMBA_TESTS=1 to run it (.ci/run does)")
def test_conv_model_agrees_across_cold_and_warm_processes(tmp_path, conv_here):
    cold, warm = cold_then_warm("conv", tmp_path)
    assert_bit_identical(cold, warm)
    assert_bit_identical(cold, conv_here)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs at least 2 Numba threads")
def test_conv_weight_gradient_does_not_depend_on_the_thread_count():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3, 12, 12)).astype(np.float32)
    dy = rng.standard_normal((64, 4, 12, 12)).astype(np.float32)
    grads = []
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            layer = Conv2D(3, 4, 3, padding=1, rng=0)
            layer.forward(x)
            layer.backward(dy)
            grads.append(layer.grads["W"])
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(grads[0], grads[1])


def test_a_different_seed_gives_different_weights():
    X = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    runs = []
    for seed in (0, 1):
        model = dense_autoencoder(16, (12,), 4, seed=1)
        model.fit(X, epochs=1, batch_size=4, optimizer=SGD(0.1), seed=seed, verbose=0)
        runs.append(model.get_weights())
    assert not np.array_equal(runs[0]["encoder.0.W"], runs[1]["encoder.0.W"])
