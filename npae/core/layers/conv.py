"""2-D convolution and transposed convolution on (N, C, H, W) images, with PyTorch's layouts and sizes.

The three maps (forward, input gradient, weight gradient) are operations of ``npae.backends``: read their
derivation, and a loop-by-loop version, in ``npae/backends/reference/conv.py``. These layers hold the
parameters, check arguments and shapes, and call the operations.
"""

from __future__ import annotations

import numpy as np

from ...backends import ops
from ..checks import as_generator, check_float_dtype, int_pair, positive_int
from ..functions import conv_output_size
from ..registry import serializable
from .base import Layer
from .images import check_fits, check_gradient, check_images
from .init import DEFAULT_DTYPE, init_bias, init_weight


class _Convolutional(Layer):
    """What Conv2D and Conv2DTranspose share: channel counts, int-or-pair ``kernel_size``, ``stride`` and
    ``padding``, and the parameters (``W`` laid out as PyTorch's, a bias per output channel)."""

    input_ndim = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, init, rng, dtype, name, transposed):
        super().__init__(name=name)
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = int_pair(kernel_size, "kernel_size", 1)
        self.stride = int_pair(stride, "stride", 1)
        self.padding = int_pair(padding, "padding", 0)
        self.init = init
        self._output = None
        # W is (out, in, KH, KW) for Conv2D and (in, out, KH, KW) for Conv2DTranspose, as in PyTorch;
        # fans follow PyTorch too, read from that layout: fan_in = shape[1] KH KW, fan_out = shape[0] KH KW
        channels = (self.in_channels, self.out_channels)
        shape = (channels if transposed else channels[::-1]) + self.kernel_size
        receptive = self.kernel_size[0] * self.kernel_size[1]
        rng, dtype = as_generator(rng), check_float_dtype(dtype)
        self.params = {
            "W": init_weight(init, shape, shape[1] * receptive, shape[0] * receptive, rng, dtype),
            "b": init_bias(init, (self.out_channels,), shape[1] * receptive, rng, dtype),
        }
        self.zero_grads()

    def get_config(self):
        return {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
            "init": self.init,
        }


@serializable
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

    def output_shape(self, input_shape):
        """``(out_channels, Ho, Wo)`` for a per-sample input shape ``(in_channels, H, W)``."""
        return (self.out_channels,) + tuple(
            conv_output_size(s, k, st, p)
            for s, k, st, p in zip(input_shape[1:], self.kernel_size, self.stride, self.padding)
        )

    def forward(self, x, training=False):
        """``y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] xp[n, c, i sh + a, j sw + e]``; saves ``x``."""
        x = check_images(self, x, self.in_channels)
        check_fits(self, x, self.kernel_size, self.padding)
        self._x = x
        y = ops.conv2d_forward(x, self.params["W"], self.params["b"], self.stride, self.padding)
        self._output = (y.shape, y.dtype)
        return y

    def backward(self, dy):
        """``dW[o, c, a, e] = sum_{n, i, j} dy[n, o, i, j] xp[n, c, i sh + a, j sw + e]``,
        ``db[o] = sum_{n, i, j} dy[n, o, i, j]``, and ``dx = dxp`` without its padding, where
        ``dxp[n, c, i sh + a, j sw + e] = sum`` over ``o`` and the ``(i, j, a, e)`` that reach it of
        ``W[o, c, a, e] dy[n, o, i, j]`` (the transposed convolution of ``dy``)."""
        self.backward_params(dy)
        x = self._x
        return ops.conv2d_input_grad(dy, self.params["W"], x.shape[2:], self.stride, self.padding)

    def backward_params(self, dy):
        """``dW`` and ``db`` as in ``backward``, without ``dx`` (a first layer, whose input is data)."""
        dy = check_gradient(self, dy, self._output)
        self.grads["W"] = ops.conv2d_weight_grad(self._x, dy, self.kernel_size, self.stride, self.padding)
        self.grads["b"] = ops.conv2d_bias_grad(dy)


@serializable
class Conv2DTranspose(_Convolutional):
    """``y[n, o, i sh + a - ph, j sw + e - pw] += W[c, o, a, e] x[n, c, i, j]``, plus ``b[o]``.

    Every input pixel stamps its weighted kernel onto the output, ``stride`` apart; ``padding`` crops the
    border of the result and ``output_padding`` adds rows/columns at the bottom/right. This is the adjoint
    (the input gradient) of ``Conv2D`` with the same ``kernel_size``, ``stride`` and ``padding``: in the
    notation of ``ops.conv2d_input_grad``, ``y = conv2d_input_grad(x, W) + b`` where ``W`` (C_x, C_y, KH, KW)
    plays a ``Conv2D`` weight from C_y to C_x channels. It mirrors ``torch.nn.ConvTranspose2d``: ``W`` is
    (in_channels, out_channels, KH, KW), ``b`` (out_channels,), and ``Ho = (H - 1) sh - 2 ph + KH + oph``.
    ``output_padding`` must be smaller than the stride (it picks among the input sizes that a strided
    ``Conv2D`` maps to the same output size).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 init="glorot_uniform", rng=None, dtype=DEFAULT_DTYPE, name=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, init, rng, dtype, name,
                         transposed=True)
        self.output_padding = int_pair(output_padding, "output_padding", 0)
        if any(op >= s for op, s in zip(self.output_padding, self.stride)):
            raise ValueError(
                f"output_padding: expected values smaller than the stride {self.stride} (as PyTorch), "
                f"got {self.output_padding}"
            )

    def output_shape(self, input_shape):
        """``(out_channels, Ho, Wo)`` with ``Ho = (H - 1) sh - 2 ph + KH + oph``."""
        return (self.out_channels,) + tuple(
            (s - 1) * st - 2 * p + k + op
            for s, k, st, p, op in zip(input_shape[1:], self.kernel_size, self.stride, self.padding, self.output_padding)
        )

    def forward(self, x, training=False):
        """``y[n, o, i sh + a - ph, j sw + e - pw] += W[c, o, a, e] x[n, c, i, j]``, then ``y += b[o]``; saves ``x``."""
        x = check_images(self, x, self.in_channels)
        out_shape = self.output_shape(x.shape[1:])
        if min(out_shape[1:]) < 1:
            raise ValueError(
                f"{type(self).__name__}.forward: x of shape {x.shape} gives an empty output {out_shape} "
                f"with kernel {self.kernel_size}, stride {self.stride}, padding {self.padding}"
            )
        self._x = x
        y = ops.conv2d_input_grad(x, self.params["W"], out_shape[1:], self.stride, self.padding)
        y += self.params["b"][None, :, None, None]
        self._output = (y.shape, y.dtype)
        return y

    def backward(self, dy):
        """``dx[n, c, i, j] = sum_{o, a, e} W[c, o, a, e] dyp[n, o, i sh + a, j sw + e]`` (a ``Conv2D`` of the
        zero-padded ``dy`` with the same weights), ``dW[c, o, a, e] = sum_{n, i, j} x[n, c, i, j]
        dyp[n, o, i sh + a, j sw + e]`` (a ``Conv2D`` weight gradient with the roles of input and output
        swapped) and ``db[o] = sum_{n, i, j} dy[n, o, i, j]``."""
        self.backward_params(dy)
        no_bias = np.zeros(self.in_channels, dtype=dy.dtype)
        return ops.conv2d_forward(dy, self.params["W"], no_bias, self.stride, self.padding)

    def backward_params(self, dy):
        """``dW`` and ``db`` as in ``backward``, without ``dx``."""
        dy = check_gradient(self, dy, self._output)
        self.grads["W"] = ops.conv2d_weight_grad(dy, self._x, self.kernel_size, self.stride, self.padding)
        self.grads["b"] = ops.conv2d_bias_grad(dy)

    def get_config(self):
        return {**super().get_config(), "output_padding": list(self.output_padding)}
