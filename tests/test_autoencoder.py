"""The Autoencoder model: training reduces the loss, the whole objective's gradient is exact, round trips."""

import numpy as np
import pytest

import npae
from npae import Autoencoder, Dense, Sequential, Sigmoid, Tanh
from npae.gradcheck import numerical_gradient, relative_error
from npae.models.zoo import dense_autoencoder

from support import GRAD_TOL


def tiny_data(n=300, d=12, seed=0):
    rng = np.random.default_rng(seed)
    basis = rng.random((3, d))
    return (rng.random((n, 3)) @ basis / 3).astype(np.float32)


def tiny_model(loss="mse", seed=0):
    return dense_autoencoder(input_dim=12, hidden=(8,), code_dim=3, loss=loss, seed=seed)


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_training_step_gradient_is_exact(loss):
    """The gradient left by train_batch is the derivative of the loss it reports (float64)."""
    ae = tiny_model(loss).astype(np.float64)
    x = tiny_data(5).astype(np.float64)
    rng = np.random.default_rng(0)
    for name, param in ae.named_parameters():
        numeric = numerical_gradient(lambda: ae.train_batch(x, None, rng)["loss"], param)
        ae.train_batch(x, None, rng)
        assert relative_error(dict(ae.named_gradients())[name], numeric) < GRAD_TOL, name


def test_fit_reduces_loss_and_records_history():
    X = tiny_data()
    ae = tiny_model()
    history = ae.fit(X, epochs=8, batch_size=50, validation_data=X[:100], verbose=0, optimizer=npae.Adam(1e-2))
    assert history.epochs == 8
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert len(history["val_loss"]) == 8
    assert ae.evaluate(X[:100])["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-5)


def test_fit_is_reproducible_with_seed():
    X = tiny_data()
    a, b = tiny_model(seed=1), tiny_model(seed=1)
    a.fit(X, epochs=2, batch_size=32, seed=3, verbose=0)
    b.fit(X, epochs=2, batch_size=32, seed=3, verbose=0)
    for (k, va), (_, vb) in zip(a.get_weights().items(), b.get_weights().items()):
        np.testing.assert_array_equal(va, vb, err_msg=k)


def test_early_stopping_restores_best_weights():
    X = tiny_data()
    ae = tiny_model()
    history = ae.fit(X[:20], epochs=200, batch_size=20, validation_data=X[200:], patience=3, verbose=0,
                     optimizer=npae.Adam(5e-2))
    assert history.stopped_early and history.epochs < 200
    best = min(history["val_loss"])
    assert ae.evaluate(X[200:])["loss"] == pytest.approx(best, rel=1e-5)


def test_encode_decode_reconstruct_consistent():
    X = tiny_data(40)
    ae = tiny_model("bce")
    codes = ae.encode(X)
    assert codes.shape == (40, 3) and codes.dtype == np.float32
    np.testing.assert_allclose(ae.decode(codes), ae.reconstruct(X), rtol=1e-6)
    recon = ae.reconstruct(X)
    assert recon.min() >= 0 and recon.max() <= 1  # BCE model: reconstructions are sigmoid(logits)


def test_save_load_round_trip(tmp_path):
    X = tiny_data(30)
    ae = tiny_model()
    ae.fit(X, epochs=1, batch_size=10, verbose=0)
    path = tmp_path / "ae.npz"
    ae.save(path)
    loaded = npae.load(path)
    np.testing.assert_array_equal(loaded.reconstruct(X), ae.reconstruct(X))
    with np.load(path, allow_pickle=False) as f:  # a plain npz: JSON bytes plus float arrays
        assert "__architecture__" in f.files


def test_float64_model_stays_float64():
    ae = tiny_model().astype(np.float64)
    X = tiny_data(20).astype(np.float64)
    ae.fit(X, epochs=1, batch_size=10, verbose=0)
    assert all(param.dtype == np.float64 for _, param in ae.named_parameters())
    assert ae.reconstruct(X).dtype == np.float64


def test_mismatched_encoder_decoder_caught_at_build():
    enc = Sequential([Dense(10, 3), Tanh()])
    dec = Sequential([Dense(3, 9), Sigmoid()])
    with pytest.raises(ValueError, match=r"decoder: output shape per sample \(9,\) does not match the input shape \(10,\)"):
        Autoencoder(enc, dec)
    with pytest.raises(ValueError, match="dry forward pass"):
        Autoencoder(enc, Sequential([Dense(4, 10)]))


def test_dense_autoencoder_takes_any_flattened_size_or_the_image_shape():
    flat = dense_autoencoder(input_dim=1200, hidden=(16,), code_dim=4)  # a 40x30 grey image, flattened
    assert flat.input_shape == (1200,) and flat.reconstruct(np.zeros((2, 1200), np.float32)).shape == (2, 1200)
    images = dense_autoencoder(input_shape=(3, 8, 6), hidden=(16,), code_dim=4, seed=0)
    x = np.random.default_rng(0).random((5, 3, 8, 6)).astype(np.float32)
    assert images.input_shape == (3, 8, 6) and images.reconstruct(x).shape == x.shape
    same = dense_autoencoder(input_dim=144, hidden=(16,), code_dim=4, seed=0)  # the same weights, flat input
    np.testing.assert_array_equal(images.encode(x), same.encode(x.reshape(5, -1)))


def test_data_errors():
    ae = tiny_model("bce")
    with pytest.raises(TypeError, match=r"X: expected a float array, got dtype uint8 \(convert pixels"):
        ae.fit(np.zeros((4, 12), np.uint8), verbose=0)
    with pytest.raises(ValueError, match=r"X: expected shape \(N, 12\)"):
        ae.fit(np.zeros((4, 13), np.float32), verbose=0)
    with pytest.raises(ValueError, match=r"needs values in \[0, 1\]"):
        ae.fit(np.full((4, 12), 3.0, np.float32), verbose=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        ae.reconstruct(np.full((2, 12), np.nan, np.float32))
    with pytest.raises(ValueError, match="batch_size: expected an int >= 1, got 0"):
        ae.fit(np.zeros((4, 12), np.float32), batch_size=0, verbose=0)


# --- targets the output cannot reach ---------------------------------------------------------------------


@pytest.mark.parametrize("make, data, message", [
    (lambda: dense_autoencoder(12, (8,), 3, seed=0), lambda X: X * 255,
     r"X: the decoder ends in Sigmoid, so its output lies in \[0, 1\], but X ranges over \[\S+, \S+\]: the model "
     r"cannot reconstruct it\. Scale pixels with X / 255, or end the decoder with no activation"),
    (lambda: dense_autoencoder(12, (8,), 3, output_activation="tanh", seed=0), lambda X: X * 255,
     r"X: the decoder ends in Tanh, so its output lies in \[-1, 1\].*Scale pixels with X / 127\.5 - 1"),
    (lambda: dense_autoencoder(12, (8,), 3, output_activation="relu", seed=0), lambda X: X - 0.5,
     r"X: the decoder ends in ReLU, so its output lies in \[0, inf\].*Scale or shift the data into \[0, inf\]"),
    (lambda: dense_autoencoder(12, (8,), 3, output_activation="tanh", seed=0), lambda X: X * 2 - 1.5,
     r"the decoder ends in Tanh, so its output lies in \[-1, 1\], but X ranges over \[-1\.\d+, \S+\]"),
], ids=["sigmoid 0-255", "tanh 0-255", "relu negative", "tanh below -1"])
def test_targets_the_output_cannot_reach_are_refused(make, data, message):
    with pytest.raises(ValueError, match=message):
        make().fit(data(tiny_data()), epochs=1, verbose=0)


def test_the_reachable_range_follows_the_decoders_last_bounding_layer():
    from npae import Flatten, MaxPool2D, ReLU, Reshape, UpSampling2D

    sigmoid_then_reshape = Sequential([Dense(3, 16), Sigmoid(), Reshape((1, 4, 4)), UpSampling2D(2), MaxPool2D(2), Flatten()])
    assert sigmoid_then_reshape.output_range() == (0.0, 1.0)
    assert Sequential([Dense(3, 4), Sigmoid(), Dense(4, 4)]).output_range() == (-np.inf, np.inf)
    assert Sequential([Dense(3, 4), Tanh(), ReLU()]).output_range() == (0.0, np.inf)  # a bound, not the tightest
    model = Autoencoder(Sequential([Dense(16, 3)]), sigmoid_then_reshape, input_shape=(16,))
    with pytest.raises(ValueError, match=r"X: the decoder ends in Sigmoid, so its output lies in \[0, 1\]"):
        model.prepare(tiny_data(d=16) * 255)
    with pytest.raises(ValueError, match=r"validation_data: the decoder ends in Sigmoid"):
        dense_autoencoder(12, (8,), 3, seed=0).fit(tiny_data(), validation_data=tiny_data() * 255, epochs=1, verbose=0)


def test_data_the_output_can_reach_are_accepted_and_a_linear_output_reaches_anything():
    X = tiny_data()
    dense_autoencoder(12, (8,), 3, seed=0).fit(X, epochs=1, verbose=0)  # [0, 1] into a sigmoid: fine
    dense_autoencoder(12, (8,), 3, output_activation=None, seed=0).fit(X * 255 - 100, epochs=1, verbose=0)
    dense_autoencoder(12, (8,), 3, output_activation="tanh", seed=0).fit(X * 2 - 1, epochs=1, verbose=0)


def test_a_gaussian_vae_checks_its_decoders_range_too():
    from npae.models import VAE
    from npae.models.zoo import mlp

    vae = VAE(mlp((12, 8, 4)), mlp((2, 8, 12), final_activation="sigmoid"), latent_dim=2, likelihood="gaussian")
    with pytest.raises(ValueError, match=r"X: the decoder ends in Sigmoid, so its output lies in \[0, 1\]"):
        vae.fit(tiny_data() * 255, epochs=1, verbose=0)
    VAE(mlp((12, 8, 4)), mlp((2, 8, 12)), latent_dim=2, likelihood="gaussian").prepare(tiny_data() * 255)
