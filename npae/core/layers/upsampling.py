"""Upsampling of (N, C, H, W) images by integer factors, nearest or bilinear (as ``torch.nn.Upsample``).

Both maps and their adjoints are operations of ``npae.backends``; ``npae/backends/reference/upsampling.py``
derives them and has a plain-NumPy version to step through.
"""

from __future__ import annotations

from ...backends import ops
from ..checks import int_pair
from ..registry import serializable
from .base import ANY_VALUE, Layer
from .images import check_gradient, check_images

MODES = ("nearest", "bilinear")


@serializable
class UpSampling2D(Layer):
    """``UpSampling2D(scale=2, mode="nearest")``: (N, C, H, W) -> (N, C, H sh, W sw); ``scale`` an int or a pair.

    - ``"nearest"``: ``y[i, j] = x[i // sh, j // sw]``.
    - ``"bilinear"`` (``align_corners=False``): ``y = A_h x A_w^T``, where row ``i`` of ``A_h`` puts weights
      ``1 - f`` and ``f`` on input rows ``floor(s)`` and ``min(floor(s) + 1, H - 1)``, with
      ``s = max((i + 1/2) / sh - 1/2, 0)`` and ``f = s - floor(s)`` (columns alike).
    """

    input_ndim = 3

    def __init__(self, scale=2, mode="nearest", name=None):
        super().__init__(name=name)
        self.scale = int_pair(scale, "scale", 1)
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        self.mode = mode
        self._output = None

    def output_shape(self, input_shape):
        """``(C, H sh, W sw)``."""
        c, h, w = input_shape
        return (c, h * self.scale[0], w * self.scale[1])

    def forward(self, x, training=False):
        """Nearest: ``y[i, j] = x[i // sh, j // sw]``; bilinear: ``y = A_h x A_w^T`` per plane."""
        x = check_images(self, x)
        upsample = ops.upsample_nearest if self.mode == "nearest" else ops.upsample_bilinear
        y = upsample(x, self.scale)
        self._output = (y.shape, y.dtype)
        return y

    def backward(self, dy):
        """The adjoint. Nearest: ``dx[r, q] = sum_{a < sh, e < sw} dy[r sh + a, q sw + e]``;
        bilinear: ``dx = A_h^T dy A_w``."""
        dy = check_gradient(self, dy, self._output)
        adjoint = ops.upsample_nearest_backward if self.mode == "nearest" else ops.upsample_bilinear_backward
        return adjoint(dy, self.scale)

    def output_range(self, input_range=ANY_VALUE):
        """The input's range: each output is an input (nearest) or a weighted mean of inputs (bilinear)."""
        return input_range

    def get_config(self):
        return {"scale": list(self.scale), "mode": self.mode}
