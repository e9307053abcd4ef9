"""2-D upsampling by integer factors ``(sh, sw)`` in NCHW, in plain NumPy.

- Nearest: ``y[i, j] = x[i // sh, j // sw]``; its adjoint sums each ``sh`` by ``sw`` block:
  ``dx[r, q] = sum_{a < sh, e < sw} dy[r sh + a, q sw + e]``.
- Bilinear with ``align_corners=False`` (``torch.nn.Upsample(mode="bilinear")``): output row ``i`` reads the
  input at ``s = max((i + 1/2) / sh - 1/2, 0)``, between rows ``r0 = floor(s)`` and ``r1 = min(r0 + 1, H - 1)``
  with weights ``1 - (s - r0)`` and ``s - r0`` (columns alike). The map is linear and separable,
  ``y = A_h x A_w^T`` with ``A_h`` (Ho, H) holding two weights per row, so the backward pass is its adjoint
  ``dx = A_h^T dy A_w``: each ``dy[i, j]`` goes back to the four input pixels it was read from, with the
  same weights.
"""

from __future__ import annotations

import numpy as np


def bilinear_taps(in_size, scale, dtype):
    """For each of the ``in_size * scale`` outputs along one axis: ``(lo, hi, w_lo, w_hi)``, the two input
    indices it reads and their weights (PyTorch's ``align_corners=False`` source coordinates)."""
    out = np.arange(in_size * scale)
    src = np.maximum((out + 0.5) / scale - 0.5, 0.0)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    w_hi = src - lo
    return lo, hi, (1.0 - w_hi).astype(dtype), w_hi.astype(dtype)


def interpolation_matrix(in_size, scale, dtype):
    """``A`` (in_size scale, in_size) with ``A[i, lo_i] += w_lo_i`` and ``A[i, hi_i] += w_hi_i``."""
    lo, hi, w_lo, w_hi = bilinear_taps(in_size, scale, dtype)
    a = np.zeros((in_size * scale, in_size), dtype=dtype)
    rows = np.arange(in_size * scale)
    np.add.at(a, (rows, lo), w_lo)
    np.add.at(a, (rows, hi), w_hi)
    return a


def upsample_nearest(x, scale):
    """``y[i, j] = x[i // sh, j // sw]``: repeat every row ``sh`` times and every column ``sw`` times."""
    return x.repeat(scale[0], axis=2).repeat(scale[1], axis=3)


def upsample_nearest_backward(dy, scale):
    """``dx[r, q] = sum`` of the ``sh`` by ``sw`` block of ``dy`` that ``x[r, q]`` was copied to."""
    n, c, ho, wo = dy.shape
    return dy.reshape(n, c, ho // scale[0], scale[0], wo // scale[1], scale[1]).sum(axis=(3, 5))


def upsample_bilinear(x, scale):
    """``y = A_h x A_w^T`` for each plane."""
    a_h = interpolation_matrix(x.shape[2], scale[0], x.dtype)
    a_w = interpolation_matrix(x.shape[3], scale[1], x.dtype)
    return np.einsum("ir,ncrq,jq->ncij", a_h, x, a_w)


def upsample_bilinear_backward(dy, scale):
    """``dx = A_h^T dy A_w``, the adjoint of the forward map."""
    a_h = interpolation_matrix(dy.shape[2] // scale[0], scale[0], dy.dtype)
    a_w = interpolation_matrix(dy.shape[3] // scale[1], scale[1], dy.dtype)
    return np.einsum("ir,ncij,jq->ncrq", a_h, dy, a_w)
