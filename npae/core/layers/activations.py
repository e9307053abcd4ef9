"""Elementwise activations ``y = f(x)`` with their first and second derivatives.

Each activation is a parameter-free layer and also carries ``f``, ``df`` and ``d2f`` as plain functions
of the pre-activation ``x``: ``df`` serves backward (``dx = dy * f'(x)``) and ``d2f`` serves the
contractive penalty's gradient. All are written to be stable for ``|x|`` up to 1e4 (no overflow).
"""

from __future__ import annotations

import math

import numpy as np

from ...backends import ops
from ..checks import real_number
from ..functions import softplus
from ..registry import serializable
from .base import ANY_VALUE, Layer


class Activation(Layer):
    """``y = f(x)`` elementwise; backward ``dx = dy * f'(x)``.

    A subclass writes ``f``, ``df`` and ``d2f`` as plain functions of the pre-activation ``x``.
    """

    def forward(self, x, training=False):
        """``y = f(x)``, elementwise; saves the input ``x`` and the output ``y``."""
        self._check_input(x)
        self._x = x
        self._y = self.f(x)
        return self._y

    def backward(self, dy):
        """``dx = dy * f'(x)`` (the Jacobian of an elementwise map is diagonal)."""
        return dy * self._local_grad()

    def _local_grad(self):
        """``f'(x)`` at the cached input; subclasses may reuse the cached output instead."""
        return self.df(self._saved("_x"))

    #: the image of f, the values it can take at all (a sigmoid's outputs lie in [0, 1])
    image = ANY_VALUE

    def output_range(self, input_range=ANY_VALUE):
        """``image``: whatever the inputs, the outputs lie in it (a narrower input range may narrow them further,
        which this bound does not claim)."""
        return self.image

    def get_config(self):
        return {}

    # the math, as plain functions of the pre-activation x
    def f(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define f(x)")

    def df(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define df(x), the derivative f'(x)")

    def d2f(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define d2f(x), the second derivative f''(x)")


@serializable
class Identity(Activation):
    """``f(x) = x``, ``f' = 1``, ``f'' = 0``."""

    def output_range(self, input_range=ANY_VALUE):
        """The input's range: f changes nothing."""
        return input_range

    @staticmethod
    def f(x):
        return x.copy()

    @staticmethod
    def df(x):
        return np.ones_like(x)

    @staticmethod
    def d2f(x):
        return np.zeros_like(x)

    def backward(self, dy):
        """``dx = dy``."""
        return dy.copy()


@serializable
class ReLU(Activation):
    """``f(x) = max(x, 0)``, ``f' = [x > 0]`` (0 at the kink, as PyTorch), ``f'' = 0``."""

    image = (0.0, math.inf)

    @staticmethod
    def f(x):
        return ops.relu(x)

    @staticmethod
    def df(x):
        return (x > 0).astype(x.dtype)

    @staticmethod
    def d2f(x):
        return np.zeros_like(x)

    def backward(self, dy):
        """``dx = dy * [x > 0]`` (``ops.relu_backward``: one pass in the fast backend)."""
        return ops.relu_backward(self._saved("_x"), dy)


@serializable
class LeakyReLU(Activation):
    """``f(x) = x if x > 0 else alpha x``; ``f' = 1 or alpha``; ``f'' = 0``."""

    def __init__(self, alpha=0.01, name=None):
        super().__init__(name=name)
        self.alpha = real_number(alpha, "alpha", low=0.0, high=1.0, include_high=False)

    def f(self, x):
        return np.where(x > 0, x, self.alpha * x).astype(x.dtype, copy=False)

    def df(self, x):
        return np.where(x > 0, 1.0, self.alpha).astype(x.dtype)

    def d2f(self, x):
        return np.zeros_like(x)

    def get_config(self):
        return {"alpha": self.alpha}


@serializable
class Sigmoid(Activation):
    """``f(x) = 1/(1+e^{-x})``, ``f' = f(1-f)``, ``f'' = f(1-f)(1-2f)``."""

    image = (0.0, 1.0)

    @staticmethod
    def f(x):
        return ops.sigmoid(x)

    @staticmethod
    def df(x):
        s = ops.sigmoid(x)
        return s * (1 - s)

    @staticmethod
    def d2f(x):
        s = ops.sigmoid(x)
        return s * (1 - s) * (1 - 2 * s)

    def _local_grad(self):
        y = self._saved("_y")
        return y * (1 - y)


@serializable
class Tanh(Activation):
    """``f(x) = tanh x``, ``f' = 1 - f^2``, ``f'' = -2 f (1 - f^2)``."""

    image = (-1.0, 1.0)

    @staticmethod
    def f(x):
        return np.tanh(x)

    @staticmethod
    def df(x):
        t = np.tanh(x)
        return 1 - t * t

    @staticmethod
    def d2f(x):
        t = np.tanh(x)
        return -2 * t * (1 - t * t)

    def _local_grad(self):
        y = self._saved("_y")
        return 1 - y * y


@serializable
class Softplus(Activation):
    """``f(x) = log(1 + e^x)``, ``f' = sigmoid(x)``, ``f'' = sigmoid(x)(1 - sigmoid(x))``."""

    image = (0.0, math.inf)

    @staticmethod
    def f(x):
        return softplus(x)

    @staticmethod
    def df(x):
        return ops.sigmoid(x)

    @staticmethod
    def d2f(x):
        s = ops.sigmoid(x)
        return s * (1 - s)


@serializable
class ELU(Activation):
    """``f(x) = x if x > 0 else alpha (e^x - 1)``; ``f' = 1 or alpha e^x``; ``f'' = 0 or alpha e^x``."""

    def __init__(self, alpha=1.0, name=None):
        super().__init__(name=name)
        self.alpha = real_number(alpha, "alpha", low=0.0, include_low=False)

    @property
    def image(self):
        """``(-alpha, inf)``: ``alpha (e^x - 1)`` tends to ``-alpha`` as x falls."""
        return (-self.alpha, math.inf)

    def _neg_exp(self, x):
        # e^x only where x <= 0, so large positive x never overflows
        return np.exp(np.minimum(x, 0))

    def f(self, x):
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)

    def df(self, x):
        return np.where(x > 0, 1.0, self.alpha * self._neg_exp(x)).astype(x.dtype, copy=False)

    def d2f(self, x):
        return np.where(x > 0, 0.0, self.alpha * self._neg_exp(x)).astype(x.dtype, copy=False)

    def get_config(self):
        return {"alpha": self.alpha}


ACTIVATIONS = {
    "identity": Identity,
    "linear": Identity,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "softplus": Softplus,
    "elu": ELU,
}


def get_activation(spec):
    """An activation layer from a name (``"relu"``) or an instance (returned as is)."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str) and spec.lower() in ACTIVATIONS:
        return ACTIVATIONS[spec.lower()]()
    raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)} or an Activation, got {spec!r}")
