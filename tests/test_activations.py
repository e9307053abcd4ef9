"""Activations: value, first and second derivative against finite differences; stability at |x| = 1e4."""

import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from npae import ELU, Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from npae.gradcheck import check_layer, relative_error
from npae.core.layers.activations import get_activation

from support import GRAD_TOL

SMOOTH = [Sigmoid, Tanh, Softplus, Identity]
ALL = [ReLU, LeakyReLU, Sigmoid, Tanh, Softplus, ELU, Identity]


def away_from_kinks(x):
    """ReLU-type activations have a kink at 0: keep drawn points at least 1e-3 away from it."""
    return np.where(np.abs(x) < 1e-3, 1e-3 + np.abs(x), x)


@given(cls=st.sampled_from(ALL), seed=st.integers(0, 2**16), n=st.integers(1, 4), d=st.integers(1, 7))
def test_backward_matches_finite_differences(cls, seed, n, d):
    rng = np.random.default_rng(seed)
    x = away_from_kinks(rng.normal(0, 2, size=(n, d)))
    errors = check_layer(cls(), x, seed=seed + 1)
    assert errors["x"] < GRAD_TOL


def central_difference(fn, x, h=1e-6):
    """``(fn(x + h) - fn(x - h)) / 2h``, elementwise."""
    return (fn(x + h) - fn(x - h)) / (2 * h)


@given(cls=st.sampled_from(ALL), seed=st.integers(0, 2**16))
def test_second_derivative_matches_finite_differences_of_first(cls, seed):
    act = cls()
    x = away_from_kinks(np.random.default_rng(seed).normal(0, 2, size=50))
    assert relative_error(act.d2f(x), central_difference(act.df, x)) < GRAD_TOL


@given(cls=st.sampled_from(ALL), seed=st.integers(0, 2**16))
def test_first_derivative_matches_finite_differences_of_value(cls, seed):
    act = cls()
    x = away_from_kinks(np.random.default_rng(seed).normal(0, 2, size=50))
    assert relative_error(act.df(x), central_difference(act.f, x)) < GRAD_TOL


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_are_finite_without_warnings(cls, dtype):
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dtype)
    act = cls()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (act.f, act.df, act.d2f):
            out = fn(x)
            assert out.dtype == dtype
            assert np.all(np.isfinite(out))


def test_known_values():
    x = np.array([-1e4, 0.0, 1e4])
    np.testing.assert_allclose(Sigmoid.f(x), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(Softplus.f(x), [0.0, np.log(2), 1e4])
    np.testing.assert_allclose(ReLU.df(np.array([-1.0, 0.0, 2.0])), [0, 0, 1])  # 0 at the kink, as PyTorch
    np.testing.assert_allclose(ELU(alpha=2.0).f(np.array([-1e4])), [-2.0])


@pytest.mark.parametrize("cls", ALL)
def test_forward_and_backward_preserve_float32(cls):
    act = cls()
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    y = act.forward(x)
    dx = act.backward(np.ones_like(y))
    assert y.dtype == np.float32 and dx.dtype == np.float32


def test_backward_does_not_modify_incoming_gradient():
    act = Tanh()
    x = np.random.default_rng(0).normal(size=(3, 4))
    act.forward(x)
    dy = np.random.default_rng(1).normal(size=(3, 4))
    before = dy.copy()
    act.backward(dy)
    np.testing.assert_array_equal(dy, before)


def test_get_activation_by_name_and_errors():
    assert isinstance(get_activation("relu"), ReLU)
    assert isinstance(get_activation("Sigmoid"), Sigmoid)
    with pytest.raises(ValueError, match="activation: expected one of"):
        get_activation("swish")
    with pytest.raises(ValueError, match="alpha"):
        LeakyReLU(alpha=2)


@pytest.mark.parametrize("activation", [Identity(), ReLU(), LeakyReLU(0.2), Sigmoid(), Tanh(), Softplus(), ELU(1.5)],
                         ids=lambda a: type(a).__name__)
def test_every_output_lies_in_the_declared_image(activation):
    """A model refuses targets outside its output layer's image: the image must hold every value f takes."""
    x = np.concatenate([np.linspace(-60, 60, 2001), [-1e4, 1e4]]).reshape(1, -1)
    low, high = activation.output_range()
    y = activation.f(x)
    assert np.all((low <= y) & (y <= high))
