"""Elementwise maps that NumPy computes in several passes (or slowly), as one-pass Numba kernels, and the
matrix product (BLAS, on the threads the policy of ``blas`` leaves it).

- ReLU's backward ``dx = dy [x > 0]``: ``np.where(x > 0, dy, 0)`` mispredicts its per-element branch on signs
  that look random; the kernel makes one branch-free pass.
- The logistic sigmoid in its overflow-free form (``npae.backends.reference.elementwise.sigmoid``): NumPy needs
  five passes and three temporaries, the kernel one.

Each kernel works on flat C-contiguous views; the operations accept any array and return a new one of the
input's shape and dtype. ``zero`` and ``one`` arrive in the arrays' dtype, so that a float32 kernel never
converts to float64.
"""

from __future__ import annotations

import numpy as np

from .jit import kernel


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
    """``dx = dy`` where ``x > 0``, else 0."""
    dx = np.empty(dy.shape, dtype=dy.dtype)
    if dx.size:
        _relu_backward(_flat(x), _flat(dy), dx.reshape(-1), dy.dtype.type(0))
    return dx


def sigmoid(x):
    """``1 / (1 + e^{-x})``, stable for any ``|x|``, in ``x``'s dtype."""
    x = np.asarray(x)
    out = np.empty(x.shape, dtype=x.dtype)
    if out.size:
        _sigmoid(_flat(x), out.reshape(-1), x.dtype.type(1))
    return out


def matmul(a, b):
    """``a @ b`` by BLAS."""
    return a @ b
