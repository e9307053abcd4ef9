"""Dense, Flatten, Reshape and Sequential: finite-difference property tests and the layer contract."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from npae import Dense, Flatten, Reshape, Sequential, Sigmoid, Tanh
from npae.gradcheck import check_layer
from npae.core.layers.init import init_weight

from support import GRAD_TOL


@given(n=st.integers(1, 5), d_in=st.integers(1, 8), d_out=st.integers(1, 8), seed=st.integers(0, 2**16),
       init=st.sampled_from(["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "torch_default"]))
def test_dense_gradients(n, d_in, d_out, seed, init):
    layer = Dense(d_in, d_out, init=init, rng=seed).astype(np.float64)
    layer.params["b"] = np.random.default_rng(seed).normal(size=d_out)  # nonzero bias
    x = np.random.default_rng(seed + 1).normal(size=(n, d_in))
    errors = check_layer(layer, x, seed=seed + 2)
    assert max(errors.values()) < GRAD_TOL, errors


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), n=st.integers(1, 3), seed=st.integers(0, 99))
def test_flatten_and_reshape_gradients(shape, n, seed):
    x = np.random.default_rng(seed).normal(size=(n, *shape))
    assert check_layer(Flatten(), x, seed=seed)["x"] < GRAD_TOL
    flat = x.reshape(n, -1)
    assert check_layer(Reshape(tuple(shape)), flat, seed=seed)["x"] < GRAD_TOL


def test_sequential_chain_rule():
    rng = np.random.default_rng(3)
    net = Sequential([Flatten(), Dense(12, 5, rng=rng), Tanh(), Dense(5, 6, rng=rng), Sigmoid(), Reshape((2, 3))])
    net.astype(np.float64)
    x = rng.normal(size=(4, 3, 4))
    errors = check_layer(net, x, seed=4)
    assert errors["x"] < GRAD_TOL


def test_sequential_parameter_gradients():
    rng = np.random.default_rng(5)
    net = Sequential([Dense(4, 3, rng=rng), Tanh(), Dense(3, 2, rng=rng)]).astype(np.float64)
    x = rng.normal(size=(5, 4))
    dy = rng.normal(size=(5, 2))
    from npae.gradcheck import numerical_gradient, relative_error

    net.forward(x)
    net.backward(dy)
    grads = dict(net.named_gradients())
    for name, param in net.named_parameters():
        numeric = numerical_gradient(lambda: float(np.sum(dy * net.forward(x))), param)
        assert relative_error(grads[name], numeric) < GRAD_TOL


def test_dense_shapes_dtype_and_contract():
    layer = Dense(4, 3, rng=0)
    assert layer.params["W"].shape == (4, 3) and layer.params["b"].shape == (3,)
    x = np.ones((2, 4), dtype=np.float32)
    y = layer.forward(x)
    dy = np.random.default_rng(0).normal(size=y.shape).astype(np.float32)
    dy_before, W_before = dy.copy(), layer.params["W"].copy()
    dx = layer.backward(dy)
    assert y.dtype == dx.dtype == layer.grads["W"].dtype == np.float32
    np.testing.assert_array_equal(dy, dy_before)  # backward never changes its incoming gradient
    np.testing.assert_array_equal(layer.params["W"], W_before)  # nor the parameters


def test_dense_is_seeded():
    np.testing.assert_array_equal(Dense(5, 3, rng=7).params["W"], Dense(5, 3, rng=7).params["W"])
    assert not np.array_equal(Dense(5, 3, rng=7).params["W"], Dense(5, 3, rng=8).params["W"])


@pytest.mark.parametrize("scheme,expected_var", [
    ("glorot_uniform", 2 / (300 + 200)), ("glorot_normal", 2 / (300 + 200)),
    ("he_uniform", 2 / 300), ("he_normal", 2 / 300), ("torch_default", 1 / (3 * 300)),
])
def test_init_variances(scheme, expected_var):
    w = init_weight(scheme, (300, 200), 300, 200, rng=0, dtype=np.float64)
    assert abs(w.var() / expected_var - 1) < 0.03


def test_dense_errors():
    with pytest.raises(ValueError, match=r"x must have shape \(N, 4\), got \(2, 5\)"):
        Dense(4, 3, rng=0).forward(np.ones((2, 5), np.float32))
    with pytest.raises(TypeError, match="dtype float64 but the layer's parameters are float32"):
        Dense(4, 3, rng=0).forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="must have 2 axes"):
        Dense(4, 3, rng=0).forward(np.ones((2, 4, 1), np.float32))
    with pytest.raises(ValueError, match="out_features: expected an int >= 1, got 0"):
        Dense(4, 0)
    with pytest.raises(ValueError, match="init: expected one of"):
        Dense(4, 3, init="lecun")
    with pytest.raises(ValueError, match="cannot reshape"):
        Reshape((2, 2)).forward(np.ones((1, 5), np.float32))


def test_backward_without_input_grad_gives_same_parameter_gradients():
    rng = np.random.default_rng(9)
    net = Sequential([Dense(6, 4, rng=rng), Tanh(), Dense(4, 3, rng=rng)]).astype(np.float64)
    x, dy = rng.normal(size=(5, 6)), rng.normal(size=(5, 3))
    net.forward(x)
    net.backward(dy)
    full = {name: grad.copy() for name, grad in net.named_gradients()}
    net.forward(x)
    assert net.backward(dy, need_input_grad=False) is None
    for name, grad in net.named_gradients():
        np.testing.assert_array_equal(grad, full[name])


@pytest.mark.parametrize("layer", [Dense(3, 2, rng=0), Tanh(), Sigmoid(), Flatten(), Reshape((3,))])
def test_backward_before_forward_says_so(layer):
    with pytest.raises(RuntimeError, match="backward: call forward first"):
        layer.backward(np.zeros((1, 2), np.float32))
