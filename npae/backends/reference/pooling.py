"""2-D max and average pooling in NCHW, in plain NumPy (PyTorch's semantics, ``ceil_mode=False``).

Window ``(i, j)`` of an (H, W) plane covers rows ``i sh - ph + a`` and columns ``j sw - pw + e`` for ``a < KH``,
``e < KW``; there are ``Ho = (H + 2 ph - KH) // sh + 1`` by ``Wo`` windows.

- Max pooling pads with ``-inf``, so padding never wins: ``y[i, j] = max`` of the window's real pixels.
  Backward sends ``dy[i, j]`` to **one** pixel, the first maximum in row-major window order (smallest ``a``,
  then smallest ``e``), as PyTorch does; windows that overlap add their gradients. Ties are common (the flat
  black background of MNIST), and an equality mask would wrongly copy the gradient to every tied pixel. A NaN
  counts as the maximum, so NaN propagates (the first NaN of a window wins, as in ``np.argmax``).
- Average pooling pads with zeros and always divides by ``KH KW``, padding included (PyTorch's default
  ``count_include_pad=True``): ``y[i, j] = sum(window) / (KH KW)``, ``dx[window] += dy[i, j] / (KH KW)``.

How to read the code: ``_windows`` stacks, for every output position, the ``KH KW`` pixels of its window along
a last axis; pooling forward is then a ``max`` or ``mean`` over that axis.
"""

from __future__ import annotations

import numpy as np

from ...core.functions import conv_output_size


def _windows(x, kernel, stride, padding, fill):
    """All windows as an (N, C, Ho, Wo, KH KW) array (``fill`` in the padding), entries in row-major order."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    ho, wo = conv_output_size(x.shape[2], kh, sh, ph), conv_output_size(x.shape[3], kw, sw, pw)
    taps = [xp[:, :, a : a + sh * (ho - 1) + 1 : sh, e : e + sw * (wo - 1) + 1 : sw] for a in range(kh) for e in range(kw)]
    return np.stack(taps, axis=-1)


def max_pool2d_forward(x, kernel, stride, padding):
    """``(y, argmax)``: the window maxima and, for each, the flat index ``r W + q`` in its input plane of the
    first maximum in row-major window order (``np.argmax`` returns the first)."""
    kw, (sh, sw), (ph, pw) = kernel[1], stride, padding
    win = _windows(x, kernel, stride, padding, -np.inf)
    pos = np.argmax(win, axis=-1)
    y = np.take_along_axis(win, pos[..., None], axis=-1)[..., 0]
    i = np.arange(win.shape[2])[:, None]
    j = np.arange(win.shape[3])[None, :]
    rows = i * sh - ph + pos // kw
    cols = j * sw - pw + pos % kw
    return y, rows * x.shape[3] + cols


def max_pool2d_backward(dy, argmax, input_shape):
    """``dx.flat[argmax] += dy`` plane by plane (``np.add.at`` adds repeated indices)."""
    n, c, h, w = input_shape
    dx = np.zeros((n * c, h * w), dtype=dy.dtype)
    planes = np.arange(n * c)[:, None]
    np.add.at(dx, (planes, argmax.reshape(n * c, -1)), dy.reshape(n * c, -1))
    return dx.reshape(input_shape)


def avg_pool2d_forward(x, kernel, stride, padding):
    """``y[i, j] = sum(zero-padded window) / (KH KW)``."""
    return _windows(x, kernel, stride, padding, 0).mean(axis=-1).astype(x.dtype)


def avg_pool2d_backward(dy, input_shape, kernel, stride, padding):
    """``dxp[window(i, j)] += dy[i, j] / (KH KW)``, then crop the padding."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = input_shape
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dy.dtype)
    ho, wo = dy.shape[2:]
    share = dy / dy.dtype.type(kh * kw)
    for a in range(kh):
        for e in range(kw):
            dxp[:, :, a : a + sh * (ho - 1) + 1 : sh, e : e + sw * (wo - 1) + 1 : sw] += share
    return dxp[:, :, ph : ph + h, pw : pw + w].copy()
