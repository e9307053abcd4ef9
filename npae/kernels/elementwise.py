"""Elementwise maps that NumPy computes in several passes (or slowly), as one-pass Numba kernels.

- ReLU's backward ``dx = dy [x > 0]``: ``np.where(x > 0, dy, 0)`` takes 10 ms on a 2.5M-element ConvAE
  activation (its per-element branch mispredicts on signs that look random), the kernel 0.4-1 ms.
- The logistic sigmoid ``1 / (1 + e^{-x})``, in its overflow-free form ``e = e^{-|x|}``,
  ``s = 1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` otherwise: NumPy needs five passes and three
  temporaries, the kernel one pass (0.76 -> 0.39 ms on a 200 x 784 batch).

Each kernel works on flat C-contiguous views; the wrappers accept any array and return a new one of the
input's shape and dtype. The references are the NumPy expressions, which the tests compare against.
"""

from __future__ import annotations

import numpy as np

from .jit import kernel


def relu_backward_reference(x, dy):
    """``dx = dy`` where ``x > 0``, else 0."""
    return np.where(x > 0, dy, 0).astype(dy.dtype, copy=False)


def sigmoid_reference(x):
    """``1 / (1 + e^{-x})`` without overflow: ``e^{-|x|}`` never exceeds 1."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


# ``zero`` and ``one`` arrive in the arrays' dtype, so that a float32 kernel never converts to float64

@kernel
def _relu_backward(x, dy, dx, zero):
    for i in range(x.size):
        dx[i] = dy[i] if x[i] > 0 else zero


@kernel
def _sigmoid(x, out, one):
    for i in range(x.size):
        v = x[i]
        e = np.exp(-abs(v))
        out[i] = one / (one + e) if v >= 0 else e / (one + e)


def _flat(a):
    return np.ascontiguousarray(a).reshape(-1)


def relu_backward(x, dy):
    """Kernel: ``dx = dy`` where ``x > 0``, else 0 (shapes must match)."""
    dx = np.empty(dy.shape, dtype=dy.dtype)
    if dx.size:
        _relu_backward(_flat(x), _flat(dy), dx.reshape(-1), dy.dtype.type(0))
    return dx


def sigmoid(x):
    """Kernel: ``1 / (1 + e^{-x})``, stable for any ``|x|``, in ``x``'s dtype."""
    x = np.asarray(x)
    out = np.empty(x.shape, dtype=x.dtype)
    if out.size:
        _sigmoid(_flat(x), out.reshape(-1), x.dtype.type(1))
    return out
