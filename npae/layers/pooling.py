"""Max and average pooling over (N, C, H, W) images, with PyTorch's semantics (``ceil_mode=False``).

The loops, and the exact rules for padding and ties, are in ``npae.kernels.pooling``.
"""

from __future__ import annotations

import numpy as np

from ..kernels import pooling as kernels
from ..kernels.conv import output_size
from ..kernels.workspace import Workspace
from .base import Layer
from .spatial import bounded_pair, check_fits, check_gradient, check_images


class _Pool2D(Layer):
    """Shared arguments: ``kernel_size``, ``stride`` (default: ``kernel_size``) and ``padding``, each an int or a
    pair. As in PyTorch, ``padding`` may be at most half the kernel, so every window holds a real pixel."""

    input_ndim = 3
    uses_numba_threads = True

    def __init__(self, kernel_size, stride=None, padding=0, name=None):
        super().__init__(name=name)
        self.kernel_size = bounded_pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else bounded_pair(stride, "stride", 1)
        self.padding = bounded_pair(padding, "padding", 0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(
                f"padding: expected at most half the kernel size {self.kernel_size} (as PyTorch), got {self.padding}"
            )
        self._output = None

    def output_shape(self, input_shape):
        """``(C, Ho, Wo)`` with ``Ho = (H + 2 ph - KH) // sh + 1``."""
        return (input_shape[0],) + tuple(
            output_size(s, k, st, p) for s, k, st, p in zip(input_shape[1:], self.kernel_size, self.stride, self.padding)
        )

    def _prepare(self, x):
        x = check_images(self, x)
        check_fits(self, x, self.kernel_size, self.padding)
        self._input_shape = x.shape
        y = np.empty((x.shape[0],) + self.output_shape(x.shape[1:]), dtype=x.dtype)
        self._output = (y.shape, y.dtype)
        return x, y

    def _geometry(self):
        return self.kernel_size + self.stride + self.padding

    def get_config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding)}


class MaxPool2D(_Pool2D):
    """``y[n, c, i, j] = max_{a, e} xp[n, c, i sh + a, j sw + e]``, ``xp`` padded with ``-inf``.

    Backward routes each ``dy[n, c, i, j]`` to the first maximum of its window in row-major order (as
    PyTorch), never to every tied pixel: on MNIST whole windows of background tie at 0.
    """

    def __init__(self, kernel_size, stride=None, padding=0, name=None):
        super().__init__(kernel_size, stride, padding, name=name)
        self._workspace = Workspace()

    def forward(self, x, training=False):
        """``y = max`` over each window; remembers the flat input index of the first maximum (``argmax``)."""
        x, y = self._prepare(x)
        self._argmax = self._workspace.get("argmax", y.shape, np.int32)
        kernels.max_pool2d_forward(x, *self._geometry(), y, self._argmax)
        return y

    def backward(self, dy):
        """``dx[n, c, r, q] = sum`` of ``dy[n, c, i, j]`` over the windows ``(i, j)`` whose first maximum is
        the pixel ``(r, q)``; 0 for pixels that are no window's first maximum."""
        dy = check_gradient(self, dy, self._output)
        dx = np.empty(self._input_shape, dtype=dy.dtype)
        kernels.max_pool2d_backward(dy, self._argmax, dx)
        return dx


class AvgPool2D(_Pool2D):
    """``y[n, c, i, j] = 1/(KH KW) sum_{a, e} xp[n, c, i sh + a, j sw + e]``, ``xp`` padded with zeros.

    The divisor is always ``KH KW``: padded zeros count, as PyTorch's default ``count_include_pad=True``.
    """

    def forward(self, x, training=False):
        """``y = sum(window) / (KH KW)``."""
        x, y = self._prepare(x)
        kernels.avg_pool2d_forward(x, *self._geometry(), y)
        return y

    def backward(self, dy):
        """``dx[n, c, r, q] = sum`` of ``dy[n, c, i, j] / (KH KW)`` over the windows ``(i, j)`` containing
        pixel ``(r, q)``."""
        dy = check_gradient(self, dy, self._output)
        dx = np.empty(self._input_shape, dtype=dy.dtype)
        kernels.avg_pool2d_backward(dy, *self._geometry(), dx)
        return dx
