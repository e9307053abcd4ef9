"""Conv2D and Conv2DTranspose: finite differences, PyTorch layouts and sizes, errors, dtype, save/load,
and the ConvAE built on them training for a few steps."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import npae
from npae import Adam, Conv2D, Conv2DTranspose, MaxPool2D, AvgPool2D, UpSampling2D, Sequential
from npae.datasets import synthetic_digits
from npae.gradcheck import check_layer
from npae.models import zoo
from npae.training import parameter_slots

from support import GRAD_TOL, import_framework, one_numba_thread  # noqa: F401 (autouse fixture)


def assert_gradients_ok(errors):
    assert errors and max(errors.values()) < GRAD_TOL, errors


@st.composite
def conv_cases(draw):
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), kernel[0] + 4))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), kernel[1] + 4))
    channels = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return channels, kernel, stride, padding, (draw(st.integers(1, 2)), h, w), draw(st.integers(0, 2**16))


@given(conv_cases())
def test_conv2d_gradients_by_finite_differences(case):
    (c, o), kernel, stride, padding, (n, h, w), seed = case
    layer = Conv2D(c, o, kernel, stride, padding, rng=seed, dtype=np.float64)
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    assert_gradients_ok(check_layer(layer, x, seed=seed))


@given(conv_cases(), st.data())
def test_conv2d_transpose_gradients_by_finite_differences(case, data):
    (c, o), kernel, stride, padding, (n, _, _), seed = case
    output_padding = (data.draw(st.integers(0, stride[0] - 1)), data.draw(st.integers(0, stride[1] - 1)))
    layer = Conv2DTranspose(c, o, kernel, stride, padding, output_padding, rng=seed, dtype=np.float64)
    h, w = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    assume(min(layer.output_shape((c, h, w))[1:]) >= 1)
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    assert_gradients_ok(check_layer(layer, x, seed=seed))


def test_output_sizes_follow_pytorch_formulas():
    conv = Conv2D(3, 5, (3, 2), stride=(2, 3), padding=(1, 0))
    assert conv.params["W"].shape == (5, 3, 3, 2) and conv.params["b"].shape == (5,)
    assert conv.output_shape((3, 9, 8)) == (5, 5, 3)  # (9 + 2 - 3)//2 + 1, (8 - 2)//3 + 1
    assert conv.forward(np.zeros((2, 3, 9, 8), np.float32)).shape == (2, 5, 5, 3)
    up = Conv2DTranspose(5, 3, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2))
    assert up.params["W"].shape == (5, 3, 3, 2) and up.params["b"].shape == (3,)
    assert up.output_shape((5, 5, 3)) == (3, 10, 10)  # (5-1)*2 - 2 + 3 + 1, (3-1)*3 + 2 + 2
    assert up.forward(np.zeros((2, 5, 5, 3), np.float32)).shape == (2, 3, 10, 10)


def test_transpose_is_the_adjoint_of_conv2d():
    """<conv(x), z> = <x, conv_transpose(z)> with shared weights and no bias."""
    rng = np.random.default_rng(0)
    conv = Conv2D(3, 4, 3, stride=2, padding=1, rng=1, dtype=np.float64)
    up = Conv2DTranspose(4, 3, 3, stride=2, padding=1, output_padding=1, dtype=np.float64)
    up.params["W"] = conv.params["W"].copy()
    up.params["b"][:] = 0
    conv.params["b"][:] = 0
    x = rng.standard_normal((2, 3, 8, 8))
    z = rng.standard_normal((2, 4, 4, 4))
    assert up.forward(z).shape == x.shape
    assert np.vdot(conv.forward(x), z) == pytest.approx(np.vdot(x, up.forward(z)), rel=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("transposed", [False, True])
def test_matches_pytorch_with_copied_weights(transposed):
    torch = import_framework("torch")
    rng = np.random.default_rng(0)
    if transposed:
        layer = Conv2DTranspose(3, 2, (3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0), rng=0, dtype=np.float64)
        twin = torch.nn.ConvTranspose2d(3, 2, (3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0)).double()
    else:
        layer = Conv2D(3, 2, (3, 2), stride=(2, 1), padding=(1, 0), rng=0, dtype=np.float64)
        twin = torch.nn.Conv2d(3, 2, (3, 2), stride=(2, 1), padding=(1, 0)).double()
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.params["W"]))
        twin.bias.copy_(torch.from_numpy(layer.params["b"]))
    x = rng.standard_normal((2, 3, 7, 5))
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = twin(xt)
    dy = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(layer.forward(x), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], twin.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], twin.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [Conv2D, Conv2DTranspose])
def test_float32_in_float32_out(cls):
    layer = cls(2, 3, 3, stride=2, padding=1, rng=0)
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == layer.grads["W"].dtype == layer.grads["b"].dtype == np.float32


def test_backward_neither_changes_dy_nor_the_parameters():
    layer = Conv2D(2, 3, 3, padding=1, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 4))
    dy = np.random.default_rng(2).standard_normal((2, 3, 4, 4))
    before = (dy.copy(), layer.params["W"].copy(), layer.params["b"].copy())
    layer.forward(x)
    layer.backward(dy)
    for a, b in zip(before, (dy, layer.params["W"], layer.params["b"])):
        np.testing.assert_array_equal(a, b)


def test_non_contiguous_input_is_accepted():
    layer = Conv2D(2, 3, 3, rng=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 2)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(layer.forward(x), layer.forward(np.ascontiguousarray(x)))


@pytest.mark.parametrize("make, x_shape, message", [
    (lambda: Conv2D(3, 4, 3), (2, 2, 8, 8), "3 channels"),
    (lambda: Conv2D(1, 4, 5, padding=1), (2, 1, 2, 8), "too small"),
    (lambda: Conv2D(1, 4, 3), (2, 8, 8), "4 axes"),
    (lambda: Conv2DTranspose(3, 4, 3), (2, 4, 8, 8), "3 channels"),
    (lambda: Conv2DTranspose(1, 1, 1, padding=1), (1, 1, 1, 1), "empty output"),
])
def test_bad_inputs_are_refused_by_name(make, x_shape, message):
    with pytest.raises(ValueError, match=message):
        make().forward(np.zeros(x_shape, np.float32))


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="output_padding.*stride"):
        Conv2DTranspose(1, 1, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        Conv2DTranspose(1, 1, 3, output_padding=1)
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(1, 1, 0)
    with pytest.raises(ValueError, match="stride"):
        Conv2D(1, 1, 3, stride=(1, 0))
    with pytest.raises(ValueError, match="padding"):
        Conv2D(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(1, 1, (3, 3, 3))
    with pytest.raises(TypeError, match="in_channels"):
        Conv2D(1.5, 1, 3)
    with pytest.raises(TypeError, match="dtype"):
        Conv2D(1, 1, 3).forward(np.zeros((1, 1, 3, 3), np.float64))


def test_backward_checks_dy_against_the_last_output():
    layer = Conv2D(1, 2, 3, rng=0)
    with pytest.raises(RuntimeError, match="forward first"):
        layer.backward(np.zeros((1, 2, 1, 1), np.float32))
    layer.forward(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(1, 2, 1, 1\)"):
        layer.backward(np.zeros((1, 2, 2, 2), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        layer.backward(np.zeros((1, 2, 1, 1), np.float64))


def test_save_and_load_round_trip(tmp_path):
    encoder = Sequential([Conv2D(1, 4, 3, stride=2, padding=1, rng=0), MaxPool2D(2), AvgPool2D(3, 1, 1)], name="encoder")
    decoder = Sequential([
        UpSampling2D(2, mode="bilinear"), Conv2DTranspose(4, 2, 3, stride=2, padding=1, output_padding=1, rng=1),
        UpSampling2D((1, 1)), Conv2D(2, 1, 1, rng=2),
    ], name="decoder")
    model = npae.Autoencoder(encoder, decoder, input_shape=(1, 8, 8))
    model.save(tmp_path / "conv.npz")
    loaded = npae.load(tmp_path / "conv.npz")
    assert [layer.get_config() for layer in loaded.decoder.layers] == [layer.get_config() for layer in decoder.layers]
    assert [type(layer) for layer in loaded.encoder.layers] == [Conv2D, MaxPool2D, AvgPool2D]
    x = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))


def test_conv_autoencoder_trains_a_few_steps_in_float32():
    model = zoo.conv_autoencoder(code_dim=8, seed=0)
    x, _ = synthetic_digits(16, seed=0)  # offline MNIST-like digits: structure to learn, unlike noise
    optimizer, rng = Adam(3e-3), np.random.default_rng(0)
    losses = []
    for _ in range(6):
        losses.append(model.train_batch(x, None, rng)["loss"])
        slots = parameter_slots(model)
        assert all(p.dtype == g.dtype == np.float32 for _, p, g in slots)
        optimizer.step(slots)
    assert losses[-1] < 0.9 * losses[0], losses
    assert model.reconstruct(x).dtype == np.float32


def test_conv_autoencoder_matches_design():
    model = zoo.conv_autoencoder()
    names = [type(layer).__name__ for layer in model.encoder.layers + model.decoder.layers]
    assert names == ["Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense",
                     "Dense", "ReLU", "Reshape", "UpSampling2D", "Conv2D", "ReLU", "UpSampling2D", "Conv2D", "Sigmoid"]
    assert model.input_shape == (1, 28, 28) and model.encode(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 32)
    assert type(zoo.conv_autoencoder(loss="bce").decoder.layers[-1]).__name__ == "Conv2D"  # logits for BCE


def test_conv_autoencoder_for_colour_images_of_any_size_divisible_by_4(tmp_path):
    model = zoo.conv_autoencoder(code_dim=5, in_channels=3, image_size=(12, 20), seed=0)
    x = np.random.default_rng(0).random((4, 3, 12, 20)).astype(np.float32)
    assert model.input_shape == (3, 12, 20) and model.reconstruct(x).shape == x.shape
    assert model.encode(x).shape == (4, 5) and model.encoder.layers[0].params["W"].shape == (16, 3, 3, 3)
    model.save(tmp_path / "colour.npz")
    np.testing.assert_array_equal(npae.load(tmp_path / "colour.npz").reconstruct(x), model.reconstruct(x))
    with pytest.raises(ValueError, match=r"image_size: expected a height and width divisible by 4 .* got \(30, 30\); "
                                         r"resize the images to e.g. \(32, 32\)"):
        zoo.conv_autoencoder(image_size=(30, 30))
    with pytest.raises(ValueError, match=r"in_channels: expected an int >= 1, got 0"):
        zoo.conv_autoencoder(in_channels=0)


@pytest.mark.parametrize("make", [
    lambda: Conv2D(2, 3, 3, padding=1, rng=0, dtype=np.float64),            # direct path
    lambda: Conv2D(2, 3, 3, stride=2, padding=1, rng=0, dtype=np.float64),  # gemm path
    lambda: Conv2DTranspose(2, 3, 3, stride=2, padding=1, rng=0, dtype=np.float64),
    lambda: npae.Dense(5, 4, rng=0, dtype=np.float64),
])
def test_backward_params_gives_the_parameter_gradients_of_backward(make):
    """A first layer skips its dx with ``backward_params``; its dW and db must be those of ``backward``."""
    layer = make()
    shape = (3, 5) if isinstance(layer, npae.Dense) else (3, 2, 7, 6)
    x = np.random.default_rng(1).standard_normal(shape)
    dy = np.random.default_rng(2).standard_normal(layer.forward(x, training=True).shape)
    layer.backward(dy)
    full = {k: g.copy() for k, g in layer.grads.items()}
    layer.zero_grads()
    layer.forward(x, training=True)
    layer.backward_params(dy)
    for key, grad in full.items():
        np.testing.assert_allclose(layer.grads[key], grad, rtol=1e-12, atol=1e-12)
