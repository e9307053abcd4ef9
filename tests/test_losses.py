"""Losses: the gradient returned is the derivative of the value reported, for every reduction."""

import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from npae import MSE, BinaryCrossEntropy
from npae.gradcheck import check_loss
from npae.core.losses import get_loss

from support import GRAD_TOL


@given(cls=st.sampled_from([MSE, BinaryCrossEntropy]), reduction=st.sampled_from(["mean", "sum"]),
       n=st.integers(1, 4), d=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_gradient_is_derivative_of_value(cls, reduction, n, d, seed):
    rng = np.random.default_rng(seed)
    pred = rng.normal(0, 3, size=(n, d))
    target = rng.random((n, d))
    assert check_loss(cls(reduction), pred, target)["pred"] < GRAD_TOL


def test_reductions_mean_over_batch():
    pred = np.array([[0.0, 1.0], [1.0, 1.0]])
    target = np.zeros((2, 2))
    assert MSE("mean").value(pred, target) == pytest.approx(3 / 4)  # mean over all values
    assert MSE("sum").value(pred, target) == pytest.approx(3 / 2)  # sum over values, mean over batch
    np.testing.assert_allclose(MSE("sum").per_sample(pred, target), [1.0, 2.0])


def test_bce_matches_definition_and_is_stable():
    z = np.array([[-2.0, 0.0, 3.0]])
    t = np.array([[0.0, 0.5, 1.0]])
    s = 1 / (1 + np.exp(-z))
    expected = -(t * np.log(s) + (1 - t) * np.log(1 - s)).sum()
    assert BinaryCrossEntropy("sum").value(z, t) == pytest.approx(expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = BinaryCrossEntropy("sum").value_and_grad(np.array([[-1e4, 1e4]]), np.array([[1.0, 0.0]]))
    assert value == pytest.approx(2e4) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("cls", [MSE, BinaryCrossEntropy])
def test_float32_preserved(cls):
    pred = np.zeros((2, 3), np.float32)
    _, grad = cls().value_and_grad(pred, np.full((2, 3), 0.5, np.float32))
    assert grad.dtype == np.float32


def test_loss_errors():
    with pytest.raises(ValueError, match="same shape"):
        MSE().value(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"target values must lie in \[0, 1\]"):
        BinaryCrossEntropy().value(np.zeros((1, 2)), np.array([[0.0, 255.0]]))
    with pytest.raises(ValueError, match="reduction: expected one of"):
        MSE("avg")
    with pytest.raises(ValueError, match="loss: expected one of"):
        get_loss("hinge")
