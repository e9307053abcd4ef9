"""2-D upsampling, nearest and bilinear, and their adjoints: the fast implementations (Numba kernels,
parallel over the N C planes). The maps are derived in ``npae.backends.reference.upsampling``."""

from __future__ import annotations

import functools

import numpy as np
from numba import prange

from ..reference.upsampling import bilinear_taps
from .jit import parallel_kernel
from .rows import copy, fill


# ----------------------------------------------------------------------------------------------
# Numba kernels (parallel over the N C planes)
# ----------------------------------------------------------------------------------------------


@parallel_kernel
def _nearest_upsample(x, sh, sw, y):
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
def _nearest_upsample_backward(dy, sh, sw, dx):
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
def _nearest_upsample_2x2(x, y):
    """``_nearest_upsample`` for the usual scale (2, 2): each input pixel written to its four output pixels in
    one pass, with no loop over the scale."""
    n_img, n_ch, h, w = x.shape
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        for r in range(h):
            src, top, bottom = x[n, c, r], y[n, c, 2 * r], y[n, c, 2 * r + 1]
            for q in range(w):
                v = src[q]
                top[2 * q] = v
                top[2 * q + 1] = v
                bottom[2 * q] = v
                bottom[2 * q + 1] = v


@parallel_kernel
def _nearest_upsample_backward_2x2(dy, dx):
    """``_nearest_upsample_backward`` for scale (2, 2): each 2x2 block summed in one step, as
    ``(top left + top right) + (bottom left + bottom right)``, with no zero fill and no loop over the scale."""
    n_img, n_ch, h, w = dx.shape
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        for r in range(h):
            top, bottom, out = dy[n, c, 2 * r], dy[n, c, 2 * r + 1], dx[n, c, r]
            for q in range(w):
                out[q] = (top[2 * q] + top[2 * q + 1]) + (bottom[2 * q] + bottom[2 * q + 1])


@parallel_kernel
def _bilinear_upsample(x, row_lo, row_hi, row_wlo, row_whi, col_lo, col_hi, col_wlo, col_whi, y):
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
def _bilinear_upsample_backward(dy, row_lo, row_hi, row_wlo, row_whi, col_lo, col_hi, col_wlo, col_whi, dx):
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


# ----------------------------------------------------------------------------------------------
# The operations
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _taps(in_size, scale, dtype):
    """``bilinear_taps`` for one axis, computed once per size, scale and dtype."""
    return bilinear_taps(in_size, scale, dtype)


def _plane_taps(h, w, scale, dtype):
    return _taps(h, scale[0], np.dtype(dtype)) + _taps(w, scale[1], np.dtype(dtype))


def upsample_nearest(x, scale):
    """``y[n, c, r sh + a, q sw + e] = x[n, c, r, q]``."""
    n, c, h, w = x.shape
    y = np.empty((n, c, h * scale[0], w * scale[1]), dtype=x.dtype)
    if tuple(scale) == (2, 2):
        _nearest_upsample_2x2(np.ascontiguousarray(x), y)
    else:
        _nearest_upsample(np.ascontiguousarray(x), scale[0], scale[1], y)
    return y


def upsample_nearest_backward(dy, scale):
    """``dx[n, c, r, q] = sum_{a < sh, e < sw} dy[n, c, r sh + a, q sw + e]``."""
    n, c, ho, wo = dy.shape
    dx = np.empty((n, c, ho // scale[0], wo // scale[1]), dtype=dy.dtype)
    if tuple(scale) == (2, 2):
        _nearest_upsample_backward_2x2(np.ascontiguousarray(dy), dx)
    else:
        _nearest_upsample_backward(np.ascontiguousarray(dy), scale[0], scale[1], dx)
    return dx


def upsample_bilinear(x, scale):
    """``y = A_h x A_w^T`` per plane, two taps per row and per column."""
    n, c, h, w = x.shape
    y = np.empty((n, c, h * scale[0], w * scale[1]), dtype=x.dtype)
    _bilinear_upsample(np.ascontiguousarray(x), *_plane_taps(h, w, scale, x.dtype), y)
    return y


def upsample_bilinear_backward(dy, scale):
    """``dx = A_h^T dy A_w``: each ``dy[i, j]`` goes back to the four pixels it was read from."""
    n, c, ho, wo = dy.shape
    h, w = ho // scale[0], wo // scale[1]
    dx = np.empty((n, c, h, w), dtype=dy.dtype)
    _bilinear_upsample_backward(np.ascontiguousarray(dy), *_plane_taps(h, w, scale, dy.dtype), dx)
    return dx
