"""2-D convolution and transposed convolution on (N, C, H, W) images, with PyTorch's layouts and sizes.

The loops live in ``npae.kernels.conv`` (whose docstring derives the three maps); these layers hold the
parameters, check arguments and shapes, and call the kernels.
"""

from __future__ import annotations

import numpy as np

from ..kernels.conv import Convolution, output_size
from .base import DEFAULT_DTYPE, Layer, as_generator, check_float_dtype, init_bias, init_weight, positive_int
from .spatial import bounded_pair, check_fits, check_gradient, check_images


def _init_params(init, shape, bias_size, rng, dtype):
    """``{"W": shape, "b": (bias_size,)}`` from the scheme ``init``.

    Fans follow PyTorch, read from the weight layout: ``fan_in = shape[1] KH KW``, ``fan_out = shape[0] KH KW``."""
    receptive = shape[2] * shape[3]
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    rng = as_generator(rng)
    dtype = check_float_dtype(dtype)
    return {
        "W": init_weight(init, shape, fan_in, fan_out, rng, dtype),
        "b": init_bias(init, (bias_size,), fan_in, rng, dtype),
    }


class _Convolutional(Layer):
    """What Conv2D and Conv2DTranspose share: channel counts, int-or-pair ``kernel_size``, ``stride`` and
    ``padding``, the parameters (``W`` laid out as ``weight_axes``, bias of ``out_channels``) and the
    ``Convolution`` holding stride, padding and scratch."""

    input_ndim = 3
    uses_numba_threads = True

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, init, rng, dtype, name, transposed):
        super().__init__(name=name)
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = bounded_pair(kernel_size, "kernel_size", 1)
        self.stride = bounded_pair(stride, "stride", 1)
        self.padding = bounded_pair(padding, "padding", 0)
        self.init = init
        self._transposed = transposed
        self._conv = Convolution(self.stride, self.padding)
        self._output = None

    def _make_params(self, rng, dtype):
        """``W`` is (out, in, KH, KW) for Conv2D and (in, out, KH, KW) for Conv2DTranspose, as PyTorch."""
        channels = (self.in_channels, self.out_channels)
        shape = (channels if self._transposed else channels[::-1]) + self.kernel_size
        self.params = _init_params(self.init, shape, self.out_channels, rng, dtype)
        self.zero_grads()

    def get_config(self):
        return {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
            "init": self.init,
        }


class Conv2D(_Convolutional):
    """``y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] xp[n, c, i sh + a, j sw + e]``.

    ``x`` is (N, in_channels, H, W), ``xp`` is ``x`` with ``padding`` rows/columns of zeros on each side,
    ``W`` is (out_channels, in_channels, KH, KW) and ``b`` (out_channels,), as ``torch.nn.Conv2d``. The output
    is (N, out_channels, Ho, Wo) with ``Ho = (H + 2 ph - KH) // sh + 1`` (likewise ``Wo``).
    ``kernel_size``, ``stride`` and ``padding`` take an int or a pair; ``init`` names the weight scheme
    (``glorot_uniform`` default, ``he_uniform`` for ReLU networks, ``torch_default``, ...).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, init="glorot_uniform",
                 rng=None, dtype=DEFAULT_DTYPE, name=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, init, rng, dtype, name,
                         transposed=False)
        self._make_params(rng, dtype)

    def output_shape(self, input_shape):
        """``(out_channels, Ho, Wo)`` for a per-sample input shape ``(in_channels, H, W)``."""
        return (self.out_channels,) + tuple(
            output_size(s, k, st, p) for s, k, st, p in zip(input_shape[1:], self.kernel_size, self.stride, self.padding)
        )

    def forward(self, x, training=False):
        """``y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] xp[n, c, i sh + a, j sw + e]``."""
        x = check_images(self, x, self.in_channels)
        check_fits(self, x, self.kernel_size, self.padding)
        self._input_hw = x.shape[2:]
        y = self._conv.forward(x, self.params["W"], self.params["b"])
        self._output = (y.shape, y.dtype)
        return y

    def backward(self, dy):
        """``dW[o, c, a, e] = sum_{n, i, j} dy[n, o, i, j] xp[n, c, i sh + a, j sw + e]``,
        ``db[o] = sum_{n, i, j} dy[n, o, i, j]``, and ``dx = dxp`` without its padding, where
        ``dxp[n, c, i sh + a, j sw + e] = sum`` over ``o`` and the ``(i, j, a, e)`` that reach it of
        ``W[o, c, a, e] dy[n, o, i, j]`` (the transposed convolution of ``dy``)."""
        dy = check_gradient(self, dy, self._output)
        dx, dw = self._conv.backward(dy, self.params["W"], self._input_hw)
        self.grads["W"] = dw
        self.grads["b"] = dy.sum(axis=(0, 2, 3))
        return dx

    def backward_params(self, dy):
        """``dW`` and ``db`` as in ``backward``, without ``dx`` (a first layer, whose input is data)."""
        dy = check_gradient(self, dy, self._output)
        self.grads["W"] = self._conv.weight_grad(dy)
        self.grads["b"] = dy.sum(axis=(0, 2, 3))


class Conv2DTranspose(_Convolutional):
    """``y[n, o, i sh + a - ph, j sw + e - pw] += W[c, o, a, e] x[n, c, i, j]``, plus ``b[o]``.

    Every input pixel stamps its weighted kernel onto the output, ``stride`` apart; ``padding`` crops the
    border of the result and ``output_padding`` adds rows/columns at the bottom/right. This is the adjoint
    (the input gradient) of ``Conv2D`` with the same ``kernel_size``, ``stride`` and ``padding``, and
    mirrors ``torch.nn.ConvTranspose2d``: ``W`` is (in_channels, out_channels, KH, KW), ``b``
    (out_channels,), and ``Ho = (H - 1) sh - 2 ph + KH + oph``. ``output_padding`` must be smaller than the
    stride (it picks among the input sizes that a strided ``Conv2D`` maps to the same output size).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 init="glorot_uniform", rng=None, dtype=DEFAULT_DTYPE, name=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, init, rng, dtype, name,
                         transposed=True)
        self.output_padding = bounded_pair(output_padding, "output_padding", 0)
        if any(op >= s for op, s in zip(self.output_padding, self.stride)):
            raise ValueError(
                f"output_padding: expected values smaller than the stride {self.stride} (as PyTorch), "
                f"got {self.output_padding}"
            )
        self._make_params(rng, dtype)

    def output_shape(self, input_shape):
        """``(out_channels, Ho, Wo)`` with ``Ho = (H - 1) sh - 2 ph + KH + oph``."""
        return (self.out_channels,) + tuple(
            (s - 1) * st - 2 * p + k + op
            for s, k, st, p, op in zip(input_shape[1:], self.kernel_size, self.stride, self.padding, self.output_padding)
        )

    def forward(self, x, training=False):
        """``y[n, o, i sh + a - ph, j sw + e - pw] += W[c, o, a, e] x[n, c, i, j]``, then ``y += b[o]``."""
        x = check_images(self, x, self.in_channels)
        out_shape = self.output_shape(x.shape[1:])
        if min(out_shape[1:]) < 1:
            raise ValueError(
                f"{type(self).__name__}.forward: x of shape {x.shape} gives an empty output {out_shape} "
                f"with kernel {self.kernel_size}, stride {self.stride}, padding {self.padding}"
            )
        self._x = x
        y = self._conv.input_grad(x, self.params["W"], out_shape[1:])
        y += self.params["b"][None, :, None, None]
        self._output = (y.shape, y.dtype)
        return y

    def backward(self, dy):
        """``dx[n, c, i, j] = sum_{o, a, e} W[c, o, a, e] dyp[n, o, i sh + a, j sw + e]`` (a ``Conv2D`` of the
        zero-padded ``dy`` with the same weights), ``dW[c, o, a, e] = sum_{n, i, j} x[n, c, i, j]
        dyp[n, o, i sh + a, j sw + e]`` and ``db[o] = sum_{n, i, j} dy[n, o, i, j]``."""
        dy = check_gradient(self, dy, self._output)
        w = self.params["W"]
        dx = self._conv.forward(dy, w, np.zeros(self.in_channels, dtype=dy.dtype))
        self.grads["W"] = self._conv.weight_grad(self._x)
        self.grads["b"] = dy.sum(axis=(0, 2, 3))
        return dx

    def get_config(self):
        return {**super().get_config(), "output_padding": list(self.output_padding)}
