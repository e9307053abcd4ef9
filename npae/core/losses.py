"""Reconstruction losses: value and gradient with respect to the prediction.

Notation: prediction ``p`` (or logits ``z``) and target ``t``, both (N, ...) with ``D`` values per sample.
Reductions: the loss is always **averaged over the batch** (N). Within a sample, ``reduction="mean"``
averages over the D values (per-pixel loss, PyTorch's default) and ``reduction="sum"`` sums them (the
per-image loss in nats that a likelihood bound needs). ``value_and_grad`` returns exactly the derivative
of the value it reports.
"""

from __future__ import annotations

import math

import numpy as np

from ..backends import ops
from .functions import log_softmax, softplus
from .registry import serializable

REDUCTIONS = ("mean", "sum")


def _check_pair(name, pred, target):
    for arg, a in (("pred", pred), ("target", target)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name}: {arg} must be a numpy array, got {type(a).__name__}")
        if a.dtype.kind != "f":
            raise TypeError(f"{name}: {arg} must be a float array, got dtype {a.dtype}")
    if pred.shape != target.shape:
        raise ValueError(f"{name}: pred and target must have the same shape, got {pred.shape} and {target.shape}")
    if pred.ndim < 2:
        raise ValueError(f"{name}: expected a batch axis and at least one more, got shape {pred.shape}")


class Loss:
    """Base class: ``per_sample(p, t)`` (N,), ``value(p, t)`` float, ``value_and_grad(p, t)``."""

    #: applied by a model to the decoder's output to get a reconstruction (identity by default)
    output_activation = None

    def __init__(self, reduction="mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def _scale(self, pred):
        """``1/N`` for the batch mean, times ``1/D`` for a per-value mean."""
        n = pred.shape[0]
        d = math.prod(pred.shape[1:])
        return 1.0 / (n * d) if self.reduction == "mean" else 1.0 / n

    def per_sample(self, pred, target):
        """Loss of each sample (N,), reduced over its values as ``reduction`` says."""
        _check_pair(type(self).__name__, pred, target)
        elementwise = self._elementwise(pred, target).reshape(pred.shape[0], -1)
        out = elementwise.sum(axis=1)
        if self.reduction == "mean":
            out /= elementwise.shape[1]
        return out

    def value(self, pred, target):
        return float(self.per_sample(pred, target).mean())

    def value_and_grad(self, pred, target):
        """Return ``(L, dL/dpred)``."""
        _check_pair(type(self).__name__, pred, target)
        value = float(self._elementwise(pred, target).sum(dtype=np.float64) * self._scale(pred))
        grad = self._elementwise_grad(pred, target)
        grad *= pred.dtype.type(self._scale(pred))
        return value, grad

    def get_config(self):
        return {"reduction": self.reduction}

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r})"


@serializable
class MSE(Loss):
    """Squared error ``l = (p - t)^2`` per value; ``dL/dp = 2 (p - t) * scale``.

    With ``reduction="mean"``: ``L = 1/(N D) sum (p - t)^2`` (PyTorch's ``MSELoss()``), the
    "MSE per pixel" quoted throughout. With ``"sum"``: ``L = 1/N sum_n ||p_n - t_n||^2``.
    """

    def _elementwise(self, pred, target):
        d = pred - target
        return d * d

    def _elementwise_grad(self, pred, target):
        return 2 * (pred - target)


@serializable
class BinaryCrossEntropy(Loss):
    """Bernoulli negative log-likelihood from logits ``z``: ``l = softplus(z) - t z``.

    This is ``-[t log s(z) + (1-t) log(1 - s(z))]`` with ``s`` the sigmoid, written as
    ``softplus(z) - t z`` with the stable softplus, so that no exponential overflows. Gradient:
    ``dl/dz = s(z) - t``. Targets must lie in [0, 1]. The model's reconstruction is ``s(z)``.
    """

    output_activation = "sigmoid"

    def _elementwise(self, logits, target):
        return softplus(logits) - target * logits

    def _elementwise_grad(self, logits, target):
        return ops.sigmoid(logits) - target

    def per_sample(self, pred, target):
        _check_unit_interval(target)
        return super().per_sample(pred, target)

    def value_and_grad(self, pred, target):
        _check_unit_interval(target)
        return super().value_and_grad(pred, target)


def _check_unit_interval(target):
    if isinstance(target, np.ndarray) and target.size and (target.min() < 0 or target.max() > 1):
        raise ValueError(
            "BinaryCrossEntropy: target values must lie in [0, 1] (Bernoulli probabilities), got range "
            f"[{target.min():.4g}, {target.max():.4g}]; scale pixels with x / 255"
        )


@serializable
class SoftmaxCrossEntropy(Loss):
    """Categorical cross-entropy from logits ``z`` (N, K) and target probabilities ``t`` (N, K), e.g. one-hot.

    ``l_n = -sum_k t_nk log softmax(z_n)_k`` with ``softmax(z)_k = e^{z_k} / sum_j e^{z_j}`` (through the
    stable ``log_softmax``). Gradient: ``dl_n/dz_nk = softmax(z_n)_k sum_j t_nj - t_nk``, which is
    ``softmax(z_n) - t_n`` for one-hot rows. The default ``reduction="sum"`` sums over the K classes and
    averages over the batch: the usual cross-entropy in nats per sample (``"mean"`` also divides by K).
    """

    def __init__(self, reduction="sum"):
        super().__init__(reduction)

    def _elementwise(self, logits, target):
        return -target * log_softmax(logits)

    def _elementwise_grad(self, logits, target):
        return np.exp(log_softmax(logits)) * target.sum(axis=1, keepdims=True) - target

    def per_sample(self, pred, target):
        _check_class_targets(pred, target)
        return super().per_sample(pred, target)

    def value_and_grad(self, pred, target):
        _check_class_targets(pred, target)
        return super().value_and_grad(pred, target)


def _check_class_targets(logits, target):
    if isinstance(logits, np.ndarray) and logits.ndim != 2:
        raise ValueError(f"SoftmaxCrossEntropy: expected logits of shape (N, K), got {logits.shape}")
    if isinstance(target, np.ndarray) and target.size and target.min() < 0:
        raise ValueError(
            f"SoftmaxCrossEntropy: target values must be probabilities >= 0 (one-hot labels), got a minimum of "
            f"{target.min():.4g}; convert integer labels with npae.core.functions.one_hot(labels, n_classes)"
        )


LOSSES = {"mse": MSE, "bce": BinaryCrossEntropy, "binary_cross_entropy": BinaryCrossEntropy}


def get_loss(spec):
    """A loss from a name (``"mse"``, ``"bce"``) or an instance."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str) and spec.lower() in LOSSES:
        return LOSSES[spec.lower()]()
    raise ValueError(f"loss: expected one of {sorted(LOSSES)} or a Loss instance, got {spec!r}")
