"""Corruptions for denoising: their statistics, determinism, inference behaviour, backward, and use in training."""

import numpy as np
import pytest

import npae
from npae.gradcheck import check_function
from npae.core.layers import Dense, GaussianNoise, MaskingNoise, SaltAndPepperNoise, Sequential, Sigmoid
from npae.core.losses import MSE
from npae.models import Autoencoder

from support import GRAD_TOL

NOISES = {
    "gaussian": lambda rng=None: GaussianNoise(0.5, rng=rng),
    "gaussian_unclipped": lambda rng=None: GaussianNoise(0.5, clip=None, rng=rng),
    "masking": lambda rng=None: MaskingNoise(0.3, rng=rng),
    "salt_and_pepper": lambda rng=None: SaltAndPepperNoise(0.2, rng=rng),
}


def mid_gray(shape, seed=0):
    """Values in [0.2, 0.8]: never 0 or 1, so a changed element is always visible."""
    return 0.2 + 0.6 * np.random.default_rng(seed).random(shape)


def within_sigmas(observed, p, n, k=5):
    """|observed - p| within k binomial standard deviations."""
    return abs(observed - p) < k * np.sqrt(p * (1 - p) / n)


# ----------------------------------------------------------------------------------------------
# Statistics
# ----------------------------------------------------------------------------------------------


def test_masking_zeroes_the_stated_fraction_and_does_not_rescale():
    x = mid_gray((200, 300))
    y = MaskingNoise(0.3).corrupt(x, np.random.default_rng(1))
    zeroed = y == 0
    assert within_sigmas(zeroed.mean(), 0.3, x.size)
    np.testing.assert_array_equal(y[~zeroed], x[~zeroed])  # survivors unchanged: not dropout


def test_salt_and_pepper_hits_the_stated_fraction_half_salt_half_pepper():
    x = mid_gray((200, 300))
    y = SaltAndPepperNoise(0.2).corrupt(x, np.random.default_rng(2))
    salt, pepper = y == 1, y == 0
    hits = salt | pepper
    assert within_sigmas(hits.mean(), 0.2, x.size)
    assert within_sigmas(salt.sum() / hits.sum(), 0.5, hits.sum())
    np.testing.assert_array_equal(y[~hits], x[~hits])


def test_gaussian_noise_has_the_stated_std_and_clips_to_the_range():
    x = mid_gray((200, 300))
    unclipped = GaussianNoise(0.25, clip=None).corrupt(x, np.random.default_rng(3))
    noise = unclipped - x
    assert abs(noise.mean()) < 5 * 0.25 / np.sqrt(x.size)
    assert noise.std() == pytest.approx(0.25, rel=0.02)
    clipped = GaussianNoise(0.25).corrupt(x, np.random.default_rng(3))
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    np.testing.assert_array_equal(clipped, np.clip(unclipped, 0, 1))


# ----------------------------------------------------------------------------------------------
# Purity, dtype, determinism, inference
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(NOISES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_corrupt_is_pure_keeps_dtype_and_is_deterministic_by_seed(kind, dtype):
    noise = NOISES[kind]()
    x = mid_gray((6, 50)).astype(dtype)
    before = x.copy()
    a = noise.corrupt(x, np.random.default_rng(4))
    b = noise.corrupt(x, np.random.default_rng(4))
    c = noise.corrupt(x, np.random.default_rng(5))
    np.testing.assert_array_equal(x, before)
    assert a.dtype == dtype and a is not x
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", sorted(NOISES))
def test_same_seed_gives_the_same_corruption_in_float32_and_float64(kind):
    x = mid_gray((6, 50))
    single = NOISES[kind]().corrupt(x.astype(np.float32), np.random.default_rng(6))
    double = NOISES[kind]().corrupt(x, np.random.default_rng(6))
    np.testing.assert_allclose(single, double, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(NOISES))
def test_layer_corrupts_only_in_training_and_its_seed_fixes_the_draws(kind):
    x = mid_gray((4, 30))
    layer = NOISES[kind](rng=7)
    assert layer.forward(x, training=False) is x
    dy = np.random.default_rng(0).standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dy), dy)
    first = layer.forward(x, training=True)
    assert not np.array_equal(first, x)
    np.testing.assert_array_equal(first, NOISES[kind](rng=7).forward(x, training=True))
    assert not np.array_equal(first, layer.forward(x, training=True)), "each training pass draws anew"


@pytest.mark.parametrize("kind", sorted(NOISES))
def test_layer_backward_is_the_derivative_of_its_training_forward(kind):
    """With the draw fixed by the seed, y = c(x) is piecewise linear in x; dx must be its exact derivative."""
    x = mid_gray((3, 8), seed=1)
    upstream = np.random.default_rng(1).standard_normal(x.shape)

    def value_and_grads():
        layer = NOISES[kind](rng=8)  # the same draw on every call
        y = layer.forward(x, training=True)
        return float(np.sum(upstream * y)), {"x": layer.backward(upstream)}

    assert check_function(value_and_grads, {"x": x})["x"] < GRAD_TOL


@pytest.mark.parametrize("make, match", [
    (lambda: GaussianNoise(0.0), "sigma"),
    (lambda: GaussianNoise(-1), "sigma"),
    (lambda: GaussianNoise(0.1, clip=(1, 0)), "clip"),
    (lambda: GaussianNoise(0.1, clip=0.5), "clip"),
    (lambda: MaskingNoise(1.0), "fraction"),
    (lambda: MaskingNoise(-0.1), "fraction"),
    (lambda: SaltAndPepperNoise("half"), "fraction"),
    (lambda: MaskingNoise(0.1, rng="seed"), "rng"),
])
def test_bad_arguments_are_refused_by_name(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_backward_before_forward_is_refused():
    with pytest.raises(RuntimeError, match="call forward first"):
        MaskingNoise(0.1).backward(np.zeros((2, 3)))


def test_corrupt_refuses_integer_pixels():
    with pytest.raises(TypeError, match="float32 or float64"):
        MaskingNoise(0.1).corrupt(np.zeros((2, 3), dtype=np.uint8), 0)


# ----------------------------------------------------------------------------------------------
# Denoising autoencoder
# ----------------------------------------------------------------------------------------------


def small_autoencoder(corruption=None, seed=0):
    rng = np.random.default_rng(seed)
    encoder = Sequential([Dense(12, 5, rng=rng), Sigmoid()])
    decoder = Sequential([Dense(5, 12, rng=rng), Sigmoid()])
    return Autoencoder(encoder, decoder, corruption=corruption)


def structured_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 3)) @ rng.random((3, 12)) / 3).astype(np.float32)


def test_training_loss_compares_the_reconstruction_of_the_corrupted_input_with_the_clean_one():
    ae = small_autoencoder(MaskingNoise(0.4))
    x = structured_data(10)
    logs = ae.train_batch(x, None, np.random.default_rng(9))
    corrupted = MaskingNoise(0.4).corrupt(x, np.random.default_rng(9))
    reconstruction = ae.decoder.forward(ae.encoder.forward(corrupted))
    assert logs["recon"] == pytest.approx(MSE().value(reconstruction, x), rel=1e-6)
    assert logs["recon"] != pytest.approx(MSE().value(reconstruction, corrupted), rel=1e-5)
    assert logs["recon"] != pytest.approx(MSE().value(ae.decoder.forward(ae.encoder.forward(x)), x), rel=1e-5)


def test_corruption_is_off_at_inference():
    x = structured_data(10)
    noisy, clean = small_autoencoder(SaltAndPepperNoise(0.3)), small_autoencoder()
    np.testing.assert_array_equal(noisy.reconstruct(x), clean.reconstruct(x))
    assert noisy.evaluate(x) == clean.evaluate(x)


def test_denoising_autoencoder_learns_to_restore_clean_inputs():
    X = structured_data()
    ae = small_autoencoder(MaskingNoise(0.25))
    corrupted = MaskingNoise(0.25).corrupt(X, np.random.default_rng(1))
    before = MSE().value(ae.reconstruct(corrupted), X)
    history = ae.fit(X, epochs=30, batch_size=20, verbose=0, optimizer=npae.Adam(2e-2))
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert MSE().value(ae.reconstruct(corrupted), X) < 0.5 * before


def test_noise_layer_and_corruption_round_trip_through_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    encoder = Sequential([GaussianNoise(0.2, clip=None, rng=3), Dense(12, 5, rng=rng), Sigmoid()])
    ae = Autoencoder(encoder, [Dense(5, 12, rng=rng)], corruption=SaltAndPepperNoise(0.15, rng=4))
    ae.save(tmp_path / "dae.npz")
    loaded = npae.load(tmp_path / "dae.npz")
    assert loaded.encoder[0].get_config() == {"sigma": 0.2, "clip": None, "rng": 3}
    assert loaded.corruption.get_config() == {"fraction": 0.15, "rng": 4}
    x = structured_data(6)
    np.testing.assert_array_equal(loaded.reconstruct(x), ae.reconstruct(x))
    assert loaded.train_batch(x, None, np.random.default_rng(5)) == ae.train_batch(x, None, np.random.default_rng(5))
