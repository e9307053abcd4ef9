"""2-D max and average pooling in NCHW: plain-NumPy references and Numba kernels.

Window ``(i, j)`` of an (H, W) plane covers rows ``i sh - ph + a`` and columns ``j sw - pw + e`` for
``a < KH``, ``e < KW``; there are ``Ho = (H + 2 ph - KH) // sh + 1`` by ``Wo`` windows (PyTorch's
``ceil_mode=False``).

- Max pooling pads with ``-inf``, so padding never wins: ``y[i, j] = max`` of the window's real pixels.
  Backward sends ``dy[i, j]`` to **one** pixel, the first maximum in row-major window order (smallest
  ``a``, then smallest ``e``), as PyTorch does; windows that overlap add their gradients. Ties are common
  (the flat black background of MNIST), and an equality mask would wrongly copy the gradient to every
  tied pixel. A NaN counts as the maximum, so NaN propagates as in PyTorch (the first NaN of a window
  wins, as in ``np.argmax``; PyTorch's CPU kernel keeps the last, which only moves the gradient of an
  output that is NaN anyway).
- Average pooling pads with zeros and always divides by ``KH KW``, padding included (PyTorch's default
  ``count_include_pad=True``): ``y[i, j] = sum(window) / (KH KW)``, ``dx[window] += dy[i, j] / (KH KW)``.

Kernels loop in parallel over the N C planes, so no two threads touch the same gradient entry.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .conv import output_size
from .jit import inline_kernel, parallel_kernel
from .rows import fill

# ----------------------------------------------------------------------------------------------
# References (plain NumPy, for reading and for the tests)
# ----------------------------------------------------------------------------------------------


def _windows(x, kernel, stride, padding, fill):
    """All windows as an (N, C, Ho, Wo, KH KW) array (``fill`` in the padding), entries in row-major order."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    ho, wo = output_size(x.shape[2], kh, sh, ph), output_size(x.shape[3], kw, sw, pw)
    taps = [xp[:, :, a : a + sh * (ho - 1) + 1 : sh, e : e + sw * (wo - 1) + 1 : sw] for a in range(kh) for e in range(kw)]
    return np.stack(taps, axis=-1)


def max_pool2d_forward_reference(x, kernel, stride, padding):
    """``(y, argmax)``: the window maxima and, for each, the flat index ``r W + q`` in its input plane of the
    first maximum in row-major window order (``np.argmax`` returns the first)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    win = _windows(x, kernel, stride, padding, -np.inf)
    pos = np.argmax(win, axis=-1)
    y = np.take_along_axis(win, pos[..., None], axis=-1)[..., 0]
    i = np.arange(win.shape[2])[:, None]
    j = np.arange(win.shape[3])[None, :]
    rows = i * sh - ph + pos // kw
    cols = j * sw - pw + pos % kw
    return y, rows * x.shape[3] + cols


def max_pool2d_backward_reference(dy, argmax, input_shape):
    """``dx.flat[argmax] += dy`` plane by plane (``np.add.at`` adds repeated indices)."""
    n, c, h, w = input_shape
    dx = np.zeros((n * c, h * w), dtype=dy.dtype)
    planes = np.arange(n * c)[:, None]
    np.add.at(dx, (planes, argmax.reshape(n * c, -1)), dy.reshape(n * c, -1))
    return dx.reshape(input_shape)


def avg_pool2d_forward_reference(x, kernel, stride, padding):
    """``y[i, j] = sum(zero-padded window) / (KH KW)``."""
    return _windows(x, kernel, stride, padding, 0).mean(axis=-1).astype(x.dtype)


def avg_pool2d_backward_reference(dy, input_shape, kernel, stride, padding):
    """``dxp[window(i, j)] += dy[i, j] / (KH KW)``, then crop the padding."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = input_shape
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dy.dtype)
    ho, wo = dy.shape[2:]
    for a in range(kh):
        for e in range(kw):
            dxp[:, :, a : a + sh * (ho - 1) + 1 : sh, e : e + sw * (wo - 1) + 1 : sw] += dy / (kh * kw)
    return dxp[:, :, ph : ph + h, pw : pw + w]


# ----------------------------------------------------------------------------------------------
# Numba kernels
# ----------------------------------------------------------------------------------------------


@inline_kernel
def _first_max(best, where, v, k):
    """The window's running maximum after visiting value ``v`` at flat index ``k`` (row-major order): ``v``
    takes over when strictly greater (so the first of tied maxima stays) or when it is the window's first
    NaN (NaN propagates; once the maximum is NaN nothing replaces it)."""
    take = (v > best) | ((v != v) & (best == best))
    return (v if take else best), (k if take else where)


@parallel_kernel
def _max_pool2d_forward_general(x, kh, kw, sh, sw, ph, pw, y, argmax):
    """``y[n, c, i, j] = max`` of the window's real pixels; ``argmax`` gets the flat plane index of the
    first maximum in row-major window order (the first NaN, if any)."""
    n_img, n_ch, h, w = x.shape
    ho, wo = y.shape[2], y.shape[3]
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        plane = x[n, c]
        for i in range(ho):
            r0 = i * sh - ph
            for j in range(wo):
                q0 = j * sw - pw
                best = plane[max(r0, 0), max(q0, 0)]  # the first real pixel of the window
                where = max(r0, 0) * w + max(q0, 0)
                for r in range(max(r0, 0), min(r0 + kh, h)):
                    for q in range(max(q0, 0), min(q0 + kw, w)):
                        best, where = _first_max(best, where, plane[r, q], r * w + q)
                y[n, c, i, j] = best
                argmax[n, c, i, j] = where


@parallel_kernel
def _max_pool2d_forward_2x2(x, y, argmax):
    """The same for 2x2 windows, stride 2, no padding (the usual pooling), unrolled: four loads per output.
    A window whose sum is a number holds no NaN, and then a chain of strict ``>`` keeps the first maximum;
    other windows (a NaN, or both infinities) take the NaN-aware rule. 4x faster than the general loop."""
    n_img, n_ch, h, w = x.shape
    ho, wo = y.shape[2], y.shape[3]
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        plane = x[n, c].reshape(h * w)
        out, arg = y[n, c], argmax[n, c]
        for i in range(ho):
            for j in range(wo):
                k = 2 * i * w + 2 * j
                a, b, c2, d = plane[k], plane[k + 1], plane[k + w], plane[k + w + 1]
                total = a + b + c2 + d
                if total == total:
                    best, where = (b, k + 1) if b > a else (a, k)
                    best, where = (c2, k + w) if c2 > best else (best, where)
                    best, where = (d, k + w + 1) if d > best else (best, where)
                else:
                    best, where = _first_max(a, k, b, k + 1)
                    best, where = _first_max(best, where, c2, k + w)
                    best, where = _first_max(best, where, d, k + w + 1)
                out[i, j] = best
                arg[i, j] = where


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, y, argmax):
    """Kernel: window maxima into ``y`` and first-maximum plane indices into ``argmax`` (see the module
    docstring); 2x2 windows with stride 2 and no padding take the unrolled kernel."""
    if (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0) and x.flags.c_contiguous:
        _max_pool2d_forward_2x2(x, y, argmax)
    else:
        _max_pool2d_forward_general(x, kh, kw, sh, sw, ph, pw, y, argmax)


@parallel_kernel
def max_pool2d_backward(dy, argmax, dx):
    """``dx[n, c].flat[argmax[n, c, i, j]] += dy[n, c, i, j]``; every other entry of ``dx`` is 0."""
    n_img, n_ch, h, w = dx.shape
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        plane = dx[n, c].reshape(h * w)
        fill(plane, 0)
        grad = dy[n, c].reshape(dy.shape[2] * dy.shape[3])
        where = argmax[n, c].reshape(grad.size)
        for t in range(grad.size):
            plane[where[t]] += grad[t]


@parallel_kernel
def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, y):
    """``y[n, c, i, j] = sum of the window's real pixels / (KH KW)`` (the zero padding adds nothing)."""
    n_img, n_ch, h, w = x.shape
    ho, wo = y.shape[2], y.shape[3]
    scale = 1.0 / (kh * kw)
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        plane = x[n, c]
        for i in range(ho):
            r0 = i * sh - ph
            for j in range(wo):
                q0 = j * sw - pw
                total = 0.0  # a float64 scalar: the sum of at most KH KW terms, rounded once on store
                for r in range(max(r0, 0), min(r0 + kh, h)):
                    for q in range(max(q0, 0), min(q0 + kw, w)):
                        total += plane[r, q]
                y[n, c, i, j] = total * scale


@parallel_kernel
def avg_pool2d_backward(dy, kh, kw, sh, sw, ph, pw, dx):
    """``dx[n, c, r, q] += dy[n, c, i, j] / (KH KW)`` for every real pixel ``(r, q)`` of window ``(i, j)``."""
    n_img, n_ch, h, w = dx.shape
    ho, wo = dy.shape[2], dy.shape[3]
    scale = 1.0 / (kh * kw)
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        plane = dx[n, c]
        fill(plane.reshape(plane.size), 0)
        for i in range(ho):
            r0 = i * sh - ph
            for j in range(wo):
                q0 = j * sw - pw
                share = dy[n, c, i, j] * scale
                for r in range(max(r0, 0), min(r0 + kh, h)):
                    for q in range(max(q0, 0), min(q0 + kw, w)):
                        plane[r, q] += share
