"""2-D convolution (cross-correlation, as PyTorch) in NCHW, in plain NumPy.

Notation. Input ``x`` (N, C, H, W), weights ``W`` (O, C, KH, KW), bias ``b`` (O,), stride ``(sh, sw)``,
zero padding ``(ph, pw)``; ``xp`` is ``x`` padded with zeros. The output ``y`` is (N, O, Ho, Wo) with
``Ho = (H + 2 ph - KH) // sh + 1`` (same for ``Wo``) and

    y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] xp[n, c, i sh + a, j sw + e]

Its derivatives, given the upstream gradient ``dy = dL/dy``:

    dW[o, c, a, e] = sum_{n, i, j} dy[n, o, i, j] xp[n, c, i sh + a, j sw + e]     (weight gradient)
    db[o]          = sum_{n, i, j} dy[n, o, i, j]                                   (the layer computes it)
    dxp[n, c, i sh + a, j sw + e] += W[o, c, a, e] dy[n, o, i, j]  for all o, i, j, a, e
                                                                  (input gradient; dx = dxp cropped)

The input gradient is itself a convolution: the *transposed* convolution, whose forward pass it is
(``npae.Conv2DTranspose``).

How to read the code: fix a kernel offset ``(a, e)``. The pixels ``xp[n, c, i sh + a, j sw + e]`` for all
output positions ``(i, j)`` form a strided view of ``xp`` with the output's shape (``_tap``). For that offset the
sum over ``c`` is a matrix product of the view with ``W[:, :, a, e]``, one ``einsum``. The convolution is the
sum of these products over all ``KH KW`` offsets, and each derivative is the same loop with the roles swapped.
"""

from __future__ import annotations

import numpy as np

from ...core.functions import conv_output_size


def _tap(xp, a, e, stride, out_hw):
    """The (N, C, Ho, Wo) strided view ``xp[:, :, i sh + a, j sw + e]`` seen by kernel offset ``(a, e)``."""
    (sh, sw), (ho, wo) = stride, out_hw
    return xp[:, :, a : a + sh * (ho - 1) + 1 : sh, e : e + sw * (wo - 1) + 1 : sw]


def _pad(x, padding):
    """``xp``: ``x`` with ``ph`` rows and ``pw`` columns of zeros on each side."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d_forward(x, w, b, stride, padding):
    """``y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] xp[n, c, i sh + a, j sw + e]``."""
    xp = _pad(x, padding)
    out_hw = tuple(conv_output_size(s, k, st, p) for s, k, st, p in zip(x.shape[2:], w.shape[2:], stride, padding))
    y = np.zeros((x.shape[0], w.shape[0]) + out_hw, dtype=x.dtype)
    for a in range(w.shape[2]):
        for e in range(w.shape[3]):
            y += np.einsum("nchw,oc->nohw", _tap(xp, a, e, stride, out_hw), w[:, :, a, e])
    return y + b[None, :, None, None]


def conv2d_input_grad(dy, w, input_hw, stride, padding):
    """``dxp[n, c, i sh + a, j sw + e] += W[o, c, a, e] dy[n, o, i, j]``, then crop the padding: ``dx``."""
    (ph, pw), (h, wd) = padding, input_hw
    dxp = np.zeros((dy.shape[0], w.shape[1], h + 2 * ph, wd + 2 * pw), dtype=dy.dtype)
    for a in range(w.shape[2]):
        for e in range(w.shape[3]):
            _tap(dxp, a, e, stride, dy.shape[2:])[...] += np.einsum("nohw,oc->nchw", dy, w[:, :, a, e])
    return dxp[:, :, ph : ph + h, pw : pw + wd].copy()


def conv2d_bias_grad(dy):
    """``db[o] = sum_{n, i, j} dy[n, o, i, j]``: channel ``o``'s bias is added at every output position."""
    return dy.sum(axis=(0, 2, 3))


def conv2d_weight_grad(x, dy, kernel_hw, stride, padding):
    """``dW[o, c, a, e] = sum_{n, i, j} dy[n, o, i, j] xp[n, c, i sh + a, j sw + e]``."""
    xp = _pad(x, padding)
    dw = np.empty((dy.shape[1], x.shape[1]) + tuple(kernel_hw), dtype=x.dtype)
    for a in range(kernel_hw[0]):
        for e in range(kernel_hw[1]):
            dw[:, :, a, e] = np.einsum("nohw,nchw->oc", dy, _tap(xp, a, e, stride, dy.shape[2:]))
    return dw
