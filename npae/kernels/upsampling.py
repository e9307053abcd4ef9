"""2-D upsampling by integer factors ``(sh, sw)`` in NCHW: plain-NumPy references and Numba kernels.

- Nearest: ``y[i, j] = x[i // sh, j // sw]``; its adjoint sums each ``sh`` by ``sw`` block:
  ``dx[r, q] = sum_{a < sh, e < sw} dy[r sh + a, q sw + e]``.
- Bilinear with ``align_corners=False`` (``torch.nn.Upsample(mode="bilinear")``): output row ``i`` reads the
  input at ``s = max((i + 1/2) / sh - 1/2, 0)``, between rows ``r0 = floor(s)`` and
  ``r1 = min(r0 + 1, H - 1)`` with weights ``1 - (s - r0)`` and ``s - r0`` (columns alike). The map is
  linear and separable, ``y = A_h x A_w^T`` with ``A_h`` (Ho, H) holding two weights per row, so the
  backward pass is its adjoint ``dx = A_h^T dy A_w``: each ``dy[i, j]`` goes back to the four input
  pixels it was read from, with the same weights.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .jit import parallel_kernel
from .rows import copy, fill


def bilinear_taps(in_size, scale, dtype):
    """For each of the ``in_size * scale`` outputs along one axis: ``(lo, hi, w_lo, w_hi)``, the two input
    indices it reads and their weights (PyTorch's ``align_corners=False`` source coordinates)."""
    out = np.arange(in_size * scale)
    src = np.maximum((out + 0.5) / scale - 0.5, 0.0)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    w_hi = src - lo
    return lo, hi, (1.0 - w_hi).astype(dtype), w_hi.astype(dtype)


# ----------------------------------------------------------------------------------------------
# References (plain NumPy, for reading and for the tests)
# ----------------------------------------------------------------------------------------------


def nearest_upsample_reference(x, scale):
    """``y[i, j] = x[i // sh, j // sw]``: repeat every row ``sh`` times and every column ``sw`` times."""
    return x.repeat(scale[0], axis=2).repeat(scale[1], axis=3)


def nearest_upsample_backward_reference(dy, scale):
    """``dx[r, q] = sum`` of the ``sh`` by ``sw`` block of ``dy`` that ``x[r, q]`` was copied to."""
    n, c, ho, wo = dy.shape
    return dy.reshape(n, c, ho // scale[0], scale[0], wo // scale[1], scale[1]).sum(axis=(3, 5))


def interpolation_matrix(in_size, scale, dtype):
    """``A`` (in_size scale, in_size) with ``A[i, lo_i] += w_lo_i`` and ``A[i, hi_i] += w_hi_i``."""
    lo, hi, w_lo, w_hi = bilinear_taps(in_size, scale, dtype)
    a = np.zeros((in_size * scale, in_size), dtype=dtype)
    rows = np.arange(in_size * scale)
    np.add.at(a, (rows, lo), w_lo)
    np.add.at(a, (rows, hi), w_hi)
    return a


def bilinear_upsample_reference(x, scale):
    """``y = A_h x A_w^T`` for each plane."""
    a_h = interpolation_matrix(x.shape[2], scale[0], x.dtype)
    a_w = interpolation_matrix(x.shape[3], scale[1], x.dtype)
    return np.einsum("ir,ncrq,jq->ncij", a_h, x, a_w)


def bilinear_upsample_backward_reference(dy, scale):
    """``dx = A_h^T dy A_w``, the adjoint of the forward map."""
    a_h = interpolation_matrix(dy.shape[2] // scale[0], scale[0], dy.dtype)
    a_w = interpolation_matrix(dy.shape[3] // scale[1], scale[1], dy.dtype)
    return np.einsum("ir,ncij,jq->ncrq", a_h, dy, a_w)


# ----------------------------------------------------------------------------------------------
# Numba kernels (parallel over the N C planes)
# ----------------------------------------------------------------------------------------------


@parallel_kernel
def nearest_upsample(x, sh, sw, y):
    """``y[n, c, r sh + a, q sw + e] = x[n, c, r, q]``."""
    n_img, n_ch, h, w = x.shape
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        for r in range(h):
            src = x[n, c, r]
            out = y[n, c, r * sh]
            for q in range(w):
                v = src[q]
                for e in range(sw):
                    out[q * sw + e] = v
            for a in range(1, sh):
                copy(y[n, c, r * sh + a], out)


@parallel_kernel
def nearest_upsample_backward(dy, sh, sw, dx):
    """``dx[n, c, r, q] = sum_{a < sh, e < sw} dy[n, c, r sh + a, q sw + e]``."""
    n_img, n_ch, h, w = dx.shape
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        for r in range(h):
            out = dx[n, c, r]
            fill(out, 0)
            for a in range(sh):
                src = dy[n, c, r * sh + a]
                for q in range(w):
                    for e in range(sw):
                        out[q] += src[q * sw + e]


@parallel_kernel
def bilinear_upsample(x, row_lo, row_hi, row_wlo, row_whi, col_lo, col_hi, col_wlo, col_whi, y):
    """``y[i, j] = wr_lo (wc_lo x[r_lo, c_lo] + wc_hi x[r_lo, c_hi]) + wr_hi (wc_lo x[r_hi, c_lo] + wc_hi x[r_hi, c_hi])``."""
    n_img, n_ch, ho, wo = y.shape
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        plane = x[n, c]
        for i in range(ho):
            top = plane[row_lo[i]]
            bottom = plane[row_hi[i]]
            out = y[n, c, i]
            for j in range(wo):
                lo, hi = col_lo[j], col_hi[j]
                upper = col_wlo[j] * top[lo] + col_whi[j] * top[hi]
                lower = col_wlo[j] * bottom[lo] + col_whi[j] * bottom[hi]
                out[j] = row_wlo[i] * upper + row_whi[i] * lower


@parallel_kernel
def bilinear_upsample_backward(dy, row_lo, row_hi, row_wlo, row_whi, col_lo, col_hi, col_wlo, col_whi, dx):
    """Adjoint of ``bilinear_upsample``: each ``dy[i, j]`` adds ``w_row w_col dy[i, j]`` to the four input
    pixels ``(r, q)`` it was read from."""
    n_img, n_ch, ho, wo = dy.shape
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        plane = dx[n, c]
        fill(plane.reshape(plane.size), 0)
        for i in range(ho):
            top = plane[row_lo[i]]
            bottom = plane[row_hi[i]]
            grad = dy[n, c, i]
            for j in range(wo):
                lo, hi = col_lo[j], col_hi[j]
                g_top = row_wlo[i] * grad[j]
                g_bottom = row_whi[i] * grad[j]
                top[lo] += col_wlo[j] * g_top
                top[hi] += col_whi[j] * g_top
                bottom[lo] += col_wlo[j] * g_bottom
                bottom[hi] += col_whi[j] * g_bottom
