"""Upsampling of (N, C, H, W) images by integer factors, nearest or bilinear (as ``torch.nn.Upsample``)."""

from __future__ import annotations

import numpy as np

from ..kernels import upsampling as kernels
from .base import Layer
from .spatial import bounded_pair, check_gradient, check_images

MODES = ("nearest", "bilinear")


class UpSampling2D(Layer):
    """``UpSampling2D(scale=2, mode="nearest")``: (N, C, H, W) -> (N, C, H sh, W sw); ``scale`` an int or a pair.

    - ``"nearest"``: ``y[i, j] = x[i // sh, j // sw]``.
    - ``"bilinear"`` (``align_corners=False``): ``y = A_h x A_w^T``, where row ``i`` of ``A_h`` puts weights
      ``1 - f`` and ``f`` on input rows ``floor(s)`` and ``min(floor(s) + 1, H - 1)``, with
      ``s = max((i + 1/2) / sh - 1/2, 0)`` and ``f = s - floor(s)`` (columns alike).
    """

    input_ndim = 3
    uses_numba_threads = True

    def __init__(self, scale=2, mode="nearest", name=None):
        super().__init__(name=name)
        self.scale = bounded_pair(scale, "scale", 1)
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        self.mode = mode
        self._taps = {}
        self._output = None

    def output_shape(self, input_shape):
        """``(C, H sh, W sw)``."""
        c, h, w = input_shape
        return (c, h * self.scale[0], w * self.scale[1])

    def _bilinear_taps(self, h, w, dtype):
        """Row and column ``(lo, hi, w_lo, w_hi)`` arrays for this input size (cached)."""
        key = (h, w, np.dtype(dtype))
        if key not in self._taps:
            self._taps[key] = kernels.bilinear_taps(h, self.scale[0], dtype) + kernels.bilinear_taps(w, self.scale[1], dtype)
        return self._taps[key]

    def forward(self, x, training=False):
        """Nearest: ``y[i, j] = x[i // sh, j // sw]``; bilinear: ``y = A_h x A_w^T`` per plane."""
        x = check_images(self, x)
        self._input_shape = x.shape
        y = np.empty((x.shape[0],) + self.output_shape(x.shape[1:]), dtype=x.dtype)
        if self.mode == "nearest":
            kernels.nearest_upsample(x, self.scale[0], self.scale[1], y)
        else:
            kernels.bilinear_upsample(x, *self._bilinear_taps(x.shape[2], x.shape[3], x.dtype), y)
        self._output = (y.shape, y.dtype)
        return y

    def backward(self, dy):
        """The adjoint. Nearest: ``dx[r, q] = sum_{a < sh, e < sw} dy[r sh + a, q sw + e]``;
        bilinear: ``dx = A_h^T dy A_w``."""
        dy = check_gradient(self, dy, self._output)
        n, c, h, w = self._input_shape
        dx = np.empty(self._input_shape, dtype=dy.dtype)
        if self.mode == "nearest":
            kernels.nearest_upsample_backward(dy, self.scale[0], self.scale[1], dx)
        else:
            kernels.bilinear_upsample_backward(dy, *self._bilinear_taps(h, w, dy.dtype), dx)
        return dx

    def get_config(self):
        return {"scale": list(self.scale), "mode": self.mode}
