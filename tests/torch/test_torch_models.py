"""DESIGN.md's benchmark models against PyTorch twins with the same weights (float64, small batches).

For each model: the output, the loss value, and the gradient of the loss with respect to the input and to
every parameter.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="compares with PyTorch, which is not installed")

from npae import Sequential
from npae.gradcheck import relative_error
from npae.models import zoo
from npae.torch_bridge import npae_gradients, to_torch, torch_gradients, torch_loss


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
