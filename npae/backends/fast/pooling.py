"""2-D max and average pooling: the fast implementations (Numba kernels, parallel over the N C planes).

The maps, and the exact rules for padding, ties and NaN, are in ``npae.backends.reference.pooling``; these
kernels follow them exactly (the tests compare). Parallel over planes, no two threads touch the same gradient
entry.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ...core.functions import conv_output_size
from .jit import inline_kernel, parallel_kernel
from .rows import fill

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
    """The same for 2x2 windows, stride 2, no padding (the usual pooling), unrolled: four loads per output,
    from the two input rows under each output row. A window whose sum is a number holds no NaN, and then a
    chain of strict ``>`` keeps the first maximum; other windows (a NaN, or both infinities) take the NaN-aware
    rule. 4x faster than the general loop."""
    n_img, n_ch, h, w = x.shape
    ho, wo = y.shape[2], y.shape[3]
    for p in prange(n_img * n_ch):
        n, c = p // n_ch, p % n_ch
        for i in range(ho):
            top, bottom = x[n, c, 2 * i], x[n, c, 2 * i + 1]
            out, arg = y[n, c, i], argmax[n, c, i]
            for j in range(wo):
                a, b, c2, d = top[2 * j], top[2 * j + 1], bottom[2 * j], bottom[2 * j + 1]
                k = 2 * i * w + 2 * j  # the flat plane index of the window's top left pixel
                total = a + b + c2 + d
                if total == total:
                    best, where = (b, k + 1) if b > a else (a, k)
                    best, where = (c2, k + w) if c2 > best else (best, where)
                    best, where = (d, k + w + 1) if d > best else (best, where)
                else:
                    best, where = _first_max(a, k, b, k + 1)
                    best, where = _first_max(best, where, c2, k + w)
                    best, where = _first_max(best, where, d, k + w + 1)
                out[j] = best
                arg[j] = where


@parallel_kernel
def _max_pool2d_backward(dy, argmax, dx):
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
def _avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, y):
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
def _avg_pool2d_backward(dy, kh, kw, sh, sw, ph, pw, dx):
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


# ----------------------------------------------------------------------------------------------
# The operations
# ----------------------------------------------------------------------------------------------


def _pooled(x, kernel, stride, padding):
    """An empty (N, C, Ho, Wo) output for these windows."""
    ho = conv_output_size(x.shape[2], kernel[0], stride[0], padding[0])
    wo = conv_output_size(x.shape[3], kernel[1], stride[1], padding[1])
    return np.empty(x.shape[:2] + (ho, wo), dtype=x.dtype)


def max_pool2d_forward(x, kernel, stride, padding):
    """``(y, argmax)``: window maxima and the flat plane index of each window's first maximum; 2x2 windows
    with stride 2 and no padding take the unrolled kernel."""
    x = np.ascontiguousarray(x)
    y = _pooled(x, kernel, stride, padding)
    argmax = np.empty(y.shape, dtype=np.int32)
    if tuple(kernel) + tuple(stride) + tuple(padding) == (2, 2, 2, 2, 0, 0):
        _max_pool2d_forward_2x2(x, y, argmax)
    else:
        _max_pool2d_forward_general(x, *kernel, *stride, *padding, y, argmax)
    return y, argmax


def max_pool2d_backward(dy, argmax, input_shape):
    """``dx[n, c].flat[argmax[n, c, i, j]] += dy[n, c, i, j]``; every other entry of ``dx`` is 0."""
    dx = np.empty(input_shape, dtype=dy.dtype)
    _max_pool2d_backward(np.ascontiguousarray(dy), np.ascontiguousarray(argmax), dx)
    return dx


def avg_pool2d_forward(x, kernel, stride, padding):
    """``y = sum(zero-padded window) / (KH KW)``."""
    y = _pooled(x, kernel, stride, padding)
    _avg_pool2d_forward(np.ascontiguousarray(x), *kernel, *stride, *padding, y)
    return y


def avg_pool2d_backward(dy, input_shape, kernel, stride, padding):
    """``dx[n, c, r, q] += dy[n, c, i, j] / (KH KW)`` for every real pixel ``(r, q)`` of window ``(i, j)``."""
    dx = np.empty(input_shape, dtype=dy.dtype)
    _avg_pool2d_backward(np.ascontiguousarray(dy), *kernel, *stride, *padding, dx)
    return dx
