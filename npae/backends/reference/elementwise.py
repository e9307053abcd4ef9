"""Elementwise maps and the matrix product, in plain NumPy."""

from __future__ import annotations

import numpy as np


def matmul(a, b):
    """``a @ b``."""
    return a @ b


def sigmoid(x):
    """``1 / (1 + e^{-x})`` without overflow: with ``e = e^{-|x|} <= 1``, it is ``1 / (1 + e)`` for ``x >= 0``
    and ``e / (1 + e)`` otherwise (the same number, written so that no exponential exceeds 1)."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def relu(x):
    """``max(x, 0)`` elementwise."""
    return np.maximum(x, 0)


def relu_backward(x, dy):
    """``dx = dy`` where ``x > 0``, else 0: ReLU's derivative is ``[x > 0]`` (0 at the kink, as PyTorch)."""
    return np.where(x > 0, dy, 0).astype(dy.dtype, copy=False)
