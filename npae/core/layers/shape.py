"""Shape-only layers: ``Flatten`` (N, ...) -> (N, prod(...)) and ``Reshape`` (N, D) -> (N, *shape)."""

from __future__ import annotations

import math

from ..checks import check_float_array, check_shape
from ..registry import serializable
from .base import ANY_VALUE, Layer


@serializable
class Flatten(Layer):
    """``y = x.reshape(N, -1)``; backward reshapes ``dy`` back to the input shape."""

    def forward(self, x, training=False):
        """``y[n] = vec(x[n])`` (row-major, as PyTorch's flatten)."""
        check_float_array(x, "Flatten.forward", min_ndim=2)
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        """``dx = dy.reshape(x.shape)`` (a reshape is a permutation-free identity map)."""
        return dy.reshape(self._saved("_shape"))

    def output_range(self, input_range=ANY_VALUE):
        """The input's range: a reshape moves values without changing them."""
        return input_range


@serializable
class Reshape(Layer):
    """``y = x.reshape(N, *shape)``; ``shape`` excludes the batch axis."""

    def __init__(self, shape, name=None):
        super().__init__(name=name)
        self.shape = check_shape(shape, "shape")

    def forward(self, x, training=False):
        """``y = x.reshape(N, *shape)``."""
        check_float_array(x, "Reshape.forward", min_ndim=2)
        per_sample = math.prod(x.shape[1:])
        if per_sample != math.prod(self.shape):
            raise ValueError(
                f"Reshape.forward: cannot reshape x of shape {x.shape} to (N, {', '.join(map(str, self.shape))}): "
                f"{per_sample} values per sample, expected {math.prod(self.shape)}"
            )
        self._shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, dy):
        """``dx = dy.reshape(x.shape)``."""
        return dy.reshape(self._saved("_shape"))

    def output_range(self, input_range=ANY_VALUE):
        """The input's range: a reshape moves values without changing them."""
        return input_range

    def get_config(self):
        return {"shape": list(self.shape)}
