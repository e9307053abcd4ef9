"""Shape-only layers: ``Flatten`` (N, ...) -> (N, prod(...)) and ``Reshape`` (N, D) -> (N, *shape)."""

from __future__ import annotations

import math

import numpy as np

from .base import FLOAT_DTYPES, Layer


def _check_array(layer, x):
    if not isinstance(x, np.ndarray) or x.dtype.type not in FLOAT_DTYPES:
        raise TypeError(
            f"{type(layer).__name__}.forward: x must be a float32 or float64 numpy array, "
            f"got {getattr(x, 'dtype', type(x).__name__)}"
        )
    if x.ndim < 2:
        raise ValueError(f"{type(layer).__name__}.forward: x must have a batch axis and at least one more, got shape {x.shape}")


class Flatten(Layer):
    """``y = x.reshape(N, -1)``; backward reshapes ``dy`` back to the input shape."""

    def forward(self, x, training=False):
        """``y[n] = vec(x[n])`` (row-major, as PyTorch's flatten)."""
        _check_array(self, x)
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        """``dx = dy.reshape(x.shape)`` (a reshape is a permutation-free identity map)."""
        return dy.reshape(self._saved("_shape"))


class Reshape(Layer):
    """``y = x.reshape(N, *shape)``; ``shape`` excludes the batch axis."""

    def __init__(self, shape, name=None):
        super().__init__(name=name)
        if isinstance(shape, int):
            shape = (shape,)
        shape = tuple(shape)
        if not shape or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in shape):
            raise ValueError(f"shape: expected a tuple of positive ints (without the batch axis), got {shape!r}")
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x, training=False):
        """``y = x.reshape(N, *shape)``."""
        _check_array(self, x)
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

    def get_config(self):
        return {"shape": list(self.shape)}
