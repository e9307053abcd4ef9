"""The benchmark models (npae.models.zoo) against PyTorch twins with the same weights (float64, small batches).

For each autoencoder: the output, the loss value, and the gradient of the loss with respect to the input and
to every parameter. For VAEs: the loss ``recon + beta * KL`` with the reparameterisation noise held fixed,
and the gradient of every parameter (the input is data; the VAE computes no gradient for it).
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from support import import_framework

torch = import_framework("torch")

from npae import Sequential
from npae.gradcheck import relative_error
from npae.datasets import DatasetNotFoundError, load_mnist, synthetic_digits
from npae.models import zoo
from npae.gradcheck.torch_bridge import compare_vae_with_torch, to_torch, torch_gradients, torch_loss
from npae.gradcheck.twins import npae_gradients


def compare_autoencoder(model, x):
    """Max relative errors of output, loss, input gradient and parameter gradients of ``loss(g(f(x)), x)``."""
    net = Sequential([model.encoder, model.decoder])
    twin = to_torch(net)
    out = net.forward(x)
    value, dout = model.loss.value_and_grad(out, x)
    dx = net.backward(dout)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = twin(x_t)
    value_t = torch_loss(model.loss)(out_t, torch.tensor(x))
    value_t.backward()
    errors = {"output": relative_error(out, out_t.detach().numpy()), "loss": relative_error(value, value_t.item()),
              "x": relative_error(dx, x_t.grad.numpy())}
    theirs = torch_gradients(net, twin)
    errors.update({name: relative_error(grad, theirs[name]) for name, grad in npae_gradients(net).items()})
    return errors


def test_dense_autoencoder(matches_torch):
    model = zoo.dense_autoencoder(hidden=(512, 128), code_dim=32, code_activation="tanh",
                                  output_activation="sigmoid", loss="mse", seed=0).astype(np.float64)
    x = np.random.default_rng(1).random((6, 784))
    errors = compare_autoencoder(model, x)
    assert len(errors) == 3 + 12  # output, loss, x and W, b of six Dense layers
    matches_torch(errors, "DenseAE")


def test_benchmark_vae_with_fixed_noise(matches_torch):
    model = zoo.mlp_vae(seed=0).astype(np.float64)
    assert [layer.params["W"].shape for layer in model.encoder.layers if layer.params] == [
        (784, 512), (512, 256), (256, 64)]
    rng = np.random.default_rng(2)
    errors = compare_vae_with_torch(model, rng.random((4, 784)), rng.standard_normal((4, 32)))
    assert len(errors) == 1 + 12  # the loss and W, b of six Dense layers
    matches_torch(errors, "benchmark VAE")


@given(likelihood_and_variance=st.sampled_from([("bernoulli", 1.0), ("gaussian", 1.0), ("gaussian", 0.2),
                                                ("gaussian", "scalar"), ("gaussian", "pixel")]),
       beta=st.floats(0.0, 4.0), free_bits=st.sampled_from([0.0, 0.05, 0.5]), n_classes=st.sampled_from([None, 3]),
       activation=st.sampled_from(["tanh", "relu", "elu"]), n=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_vae_options(matches_torch, likelihood_and_variance, beta, free_bits, n_classes, activation, n, seed):
    likelihood, variance = likelihood_and_variance
    rng = np.random.default_rng(seed)
    model = zoo.mlp_vae(input_dim=7, hidden=(5, 4), latent_dim=3, activation=activation, n_classes=n_classes,
                        likelihood=likelihood, variance=variance, beta=beta, free_bits=free_bits, seed=seed)
    model.astype(np.float64)
    if model.output_logvar is not None:  # move the learned log-variance away from its start at 0
        model.output_logvar.params["logvar"] = rng.normal(0, 0.5, model.output_logvar.params["logvar"].shape)
    labels = rng.integers(0, n_classes, n) if n_classes else None
    errors = compare_vae_with_torch(model, rng.random((n, 7)), rng.standard_normal((n, 3)), labels)
    matches_torch(errors, f"VAE({likelihood}, variance={variance}, classes={n_classes})")


@given(likelihood_and_variance=st.sampled_from([("bernoulli", 1.0), ("gaussian", 0.2), ("gaussian", "scalar"),
                                                ("gaussian", "pixel")]),
       k=st.integers(1, 6), beta=st.floats(0.0, 4.0), n_classes=st.sampled_from([None, 3]),
       activation=st.sampled_from(["tanh", "relu", "elu"]), n=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_iwae_options(matches_torch, likelihood_and_variance, k, beta, n_classes, activation, n, seed):
    """The IWAE loss -L_k (torch: log-sum-exp of log w with the densities of torch.distributions) and every
    parameter gradient; k = 1 is the VAE's closed-form-KL loss on both sides."""
    likelihood, variance = likelihood_and_variance
    rng = np.random.default_rng(seed)
    model = zoo.mlp_vae(input_dim=7, hidden=(5, 4), latent_dim=3, activation=activation, n_classes=n_classes,
                        likelihood=likelihood, variance=variance, beta=beta, objective="iwae", k=k, seed=seed)
    model.astype(np.float64)
    if model.output_logvar is not None:
        model.output_logvar.params["logvar"] = rng.normal(0, 0.5, model.output_logvar.params["logvar"].shape)
    labels = rng.integers(0, n_classes, n) if n_classes else None
    errors = compare_vae_with_torch(model, rng.random((n, 7)), rng.standard_normal(model.noise_shape(n)), labels)
    matches_torch(errors, f"IWAE(k={k}, {likelihood}, variance={variance}, classes={n_classes})")


def test_benchmark_iwae_with_fixed_noise(matches_torch):
    model = zoo.mlp_vae(seed=0, objective="iwae", k=5).astype(np.float64)
    rng = np.random.default_rng(2)
    errors = compare_vae_with_torch(model, rng.random((3, 784)), rng.standard_normal((3, 5, 32)))
    assert len(errors) == 1 + 12
    matches_torch(errors, "benchmark IWAE (k = 5)")


def conv_autoencoder_images():
    """Two offline synthetic digits (flat zero background: ReLU kinks at exactly 0 and tied max-pool windows),
    then two real MNIST test digits when ``NPAE_DATA_DIR`` holds them."""
    digits = [synthetic_digits(2, seed=0)[0]]
    try:
        digits.append(load_mnist("test", download=False)[0][:2])
    except DatasetNotFoundError:
        pass
    return np.concatenate(digits).reshape(-1, 1, 28, 28).astype(np.float64)


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_conv_autoencoder_on_digits(matches_torch, loss):
    model = zoo.conv_autoencoder(code_dim=32, seed=0, loss=loss).astype(np.float64)
    x = conv_autoencoder_images()
    assert (x == 0).mean() > 0.5  # mostly background
    errors = compare_autoencoder(model, x)
    assert len(errors) == 3 + 12  # output, loss, x and W, b of four Conv2D and two Dense layers
    matches_torch(errors, f"ConvAE ({loss})")
