"""Max and average pooling over (N, C, H, W) images, with PyTorch's semantics (``ceil_mode=False``).

The exact rules for padding, ties and NaN, and a plain-NumPy version to step through, are in
``npae/backends/reference/pooling.py``; the layers call the operations of ``npae.backends``.
"""

from __future__ import annotations

from ...backends import ops
from ..checks import int_pair
from ..functions import conv_output_size
from ..registry import serializable
from .base import ANY_VALUE, Layer
from .images import check_fits, check_gradient, check_images


class _Pool2D(Layer):
    """Shared arguments: ``kernel_size``, ``stride`` (default: ``kernel_size``) and ``padding``, each an int or a
    pair. As in PyTorch, ``padding`` may be at most half the kernel, so every window holds a real pixel."""

    input_ndim = 3

    def __init__(self, kernel_size, stride=None, padding=0, name=None):
        super().__init__(name=name)
        self.kernel_size = int_pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else int_pair(stride, "stride", 1)
        self.padding = int_pair(padding, "padding", 0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(
                f"padding: expected at most half the kernel size {self.kernel_size} (as PyTorch), got {self.padding}"
            )
        self._output = None

    def output_shape(self, input_shape):
        """``(C, Ho, Wo)`` with ``Ho = (H + 2 ph - KH) // sh + 1``."""
        return (input_shape[0],) + tuple(
            conv_output_size(s, k, st, p) for s, k, st, p in zip(input_shape[1:], self.kernel_size, self.stride, self.padding)
        )

    def _check(self, x):
        x = check_images(self, x)
        check_fits(self, x, self.kernel_size, self.padding)
        self._input_shape = x.shape
        return x

    def _windows(self):
        return self.kernel_size, self.stride, self.padding

    def get_config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding)}


@serializable
class MaxPool2D(_Pool2D):
    """``y[n, c, i, j] = max_{a, e} xp[n, c, i sh + a, j sw + e]``, ``xp`` padded with ``-inf``.

    Backward routes each ``dy[n, c, i, j]`` to the first maximum of its window in row-major order (as
    PyTorch), never to every tied pixel: on MNIST whole windows of background tie at 0.
    """

    def forward(self, x, training=False):
        """``y = max`` over each window; saves the flat input index of each window's first maximum (``argmax``)."""
        x = self._check(x)
        y, self._argmax = ops.max_pool2d_forward(x, *self._windows())
        self._output = (y.shape, y.dtype)
        return y

    def backward(self, dy):
        """``dx[n, c, r, q] = sum`` of ``dy[n, c, i, j]`` over the windows ``(i, j)`` whose first maximum is
        the pixel ``(r, q)``; 0 for pixels that are no window's first maximum."""
        dy = check_gradient(self, dy, self._output)
        return ops.max_pool2d_backward(dy, self._argmax, self._input_shape)

    def output_range(self, input_range=ANY_VALUE):
        """The input's range: each output is one of the inputs (the padding, -inf, is never a window's maximum)."""
        return input_range


@serializable
class AvgPool2D(_Pool2D):
    """``y[n, c, i, j] = 1/(KH KW) sum_{a, e} xp[n, c, i sh + a, j sw + e]``, ``xp`` padded with zeros.

    The divisor is always ``KH KW``: padded zeros count, as PyTorch's default ``count_include_pad=True``.
    """

    def forward(self, x, training=False):
        """``y = sum(window) / (KH KW)``; saves the input's shape."""
        x = self._check(x)
        y = ops.avg_pool2d_forward(x, *self._windows())
        self._output = (y.shape, y.dtype)
        return y

    def backward(self, dy):
        """``dx[n, c, r, q] = sum`` of ``dy[n, c, i, j] / (KH KW)`` over the windows ``(i, j)`` containing
        pixel ``(r, q)``."""
        dy = check_gradient(self, dy, self._output)
        return ops.avg_pool2d_backward(dy, self._input_shape, *self._windows())
