"""Every loss against PyTorch: the value and its gradient with respect to the prediction (or logits)."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from support import import_framework

torch = import_framework("torch")

from npae import MSE, BinaryCrossEntropy
from npae.core.losses import SoftmaxCrossEntropy
from npae.gradcheck.torch_bridge import compare_loss_with_torch


@given(cls=st.sampled_from([MSE, BinaryCrossEntropy]), reduction=st.sampled_from(["mean", "sum"]),
       shape=st.lists(st.integers(1, 5), min_size=2, max_size=4), scale=st.sampled_from([0.5, 3.0, 30.0]),
       seed=st.integers(0, 2**16))
def test_loss_value_and_gradient(matches_torch, cls, reduction, shape, scale, seed):
    rng = np.random.default_rng(seed)
    pred = scale * rng.standard_normal(shape)
    target = rng.random(shape)
    matches_torch(compare_loss_with_torch(cls(reduction), pred, target), f"{cls.__name__}({reduction})")


@given(reduction=st.sampled_from(["mean", "sum"]), n=st.integers(1, 5), classes=st.integers(1, 6),
       one_hot=st.booleans(), scale=st.sampled_from([0.5, 3.0, 30.0]), seed=st.integers(0, 2**16))
def test_softmax_cross_entropy(matches_torch, reduction, n, classes, one_hot, scale, seed):
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((n, classes))
    target = np.eye(classes)[rng.integers(0, classes, n)] if one_hot else rng.random((n, classes))
    matches_torch(compare_loss_with_torch(SoftmaxCrossEntropy(reduction), logits, target), "SoftmaxCrossEntropy")
