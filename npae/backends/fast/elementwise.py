"""Elementwise maps that NumPy computes in several passes (or slowly), as one-pass Numba kernels, and the
matrix product (BLAS, on the threads the policy of ``blas`` leaves it).

- ReLU ``max(x, 0)``: ``np.maximum`` takes several times as long as a plain compare-and-select loop, and runs
  on one thread.
- ReLU's backward ``dx = dy [x > 0]``: ``np.where(x > 0, dy, 0)`` mispredicts its per-element branch on signs
  that look random; the kernel makes one branch-free pass.
- The logistic sigmoid in its overflow-free form (``npae.backends.reference.elementwise.sigmoid``): NumPy needs
  five passes and three temporaries. In float64 the kernel makes one pass with the library's ``exp``; in
  float32 it makes two: ``exp`` from ``npae.backends.fast.vector_exp``, eight values at a time (the library's
  goes one value at a time and cost most of the pass), then the sigmoid from it.

Each kernel works on flat C-contiguous views; the operations accept any array and return a new one of the
input's shape and dtype. ``zero`` and ``one`` arrive in the arrays' dtype, so that a float32 kernel never
converts to float64. Arrays of ``PARALLEL_SIZE`` values or more (a convolutional layer's activations) are shared
among the threads; smaller ones stay on the calling thread, where waking the pool would cost more than the pass.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .jit import fast_kernel, inline_kernel, kernel, parallel_fast_kernel, parallel_kernel
from .vector_exp import exp_of_minus_abs

PARALLEL_SIZE = 1 << 18
EXP_TASK = 1 << 16  # values one thread takes at a time in the threaded float32 sigmoid


@inline_kernel
def _relu_of(v, zero):
    return zero if v <= zero else v  # NaN <= 0 is false: NaN passes, as in np.maximum


@kernel
def _relu(x, y, zero):
    for i in range(x.size):
        y[i] = _relu_of(x[i], zero)


@parallel_kernel
def _relu_threads(x, y, zero):
    for i in prange(x.size):
        y[i] = _relu_of(x[i], zero)


@kernel
def _relu_backward(x, dy, dx, zero):
    for i in range(x.size):
        dx[i] = dy[i] if x[i] > 0 else zero


@parallel_kernel
def _relu_backward_threads(x, dy, dx, zero):
    for i in prange(x.size):
        dx[i] = dy[i] if x[i] > 0 else zero


@inline_kernel
def _sigmoid_of(v, one):
    e = np.exp(-abs(v))
    return one / (one + e) if v >= 0 else e / (one + e)


@kernel
def _sigmoid(x, out, one):
    for i in range(x.size):
        out[i] = _sigmoid_of(x[i], one)


@parallel_kernel
def _sigmoid_threads(x, out, one):
    for i in prange(x.size):
        out[i] = _sigmoid_of(x[i], one)


@fast_kernel
def _sigmoid_from_exp(x, out, mantissas, scales):
    """``out = sigmoid(x)`` given ``e = exp(-|x|) = mantissas * scales``: ``r = 1 / (1 + e)`` is the sigmoid for
    ``x >= 0`` and ``e r`` for ``x < 0``; NaN stays NaN."""
    one = np.float32(1)
    for i in range(x.size):
        v = x[i]
        e = mantissas[i] * scales[i]
        r = one / (one + e)
        s = r if v >= 0 else e * r
        out[i] = s if v == v else v


@inline_kernel
def _sigmoid_float32_part(x, out):
    """The two passes as two separately compiled kernels: inlined into one function, LLVM left the second
    loop scalar (benchmarks/README.md has the measurement)."""
    mantissas, powers = np.empty(x.size, np.float32), np.empty(x.size, np.int32)
    exp_of_minus_abs(x, mantissas, powers)
    _sigmoid_from_exp(x, out, mantissas, powers.view(np.float32))


@fast_kernel
def _sigmoid_float32(x, out):
    _sigmoid_float32_part(x, out)


@parallel_fast_kernel
def _sigmoid_float32_threads(x, out):
    for task in prange((x.size + EXP_TASK - 1) // EXP_TASK):
        start, stop = task * EXP_TASK, min(x.size, (task + 1) * EXP_TASK)
        _sigmoid_float32_part(x[start:stop], out[start:stop])


def _flat(a):
    return np.ascontiguousarray(a).reshape(-1)


def relu(x):
    """``max(x, 0)`` in one pass, shared among the threads for large arrays."""
    x = np.asarray(x)
    y = np.empty(x.shape, dtype=x.dtype)
    if y.size:
        kernel = _relu_threads if y.size >= PARALLEL_SIZE else _relu
        kernel(_flat(x), y.reshape(-1), x.dtype.type(0))
    return y


def relu_backward(x, dy):
    """``dx = dy`` where ``x > 0``, else 0."""
    dx = np.empty(dy.shape, dtype=dy.dtype)
    if dx.size:
        kernel = _relu_backward_threads if dx.size >= PARALLEL_SIZE else _relu_backward
        kernel(_flat(x), _flat(dy), dx.reshape(-1), dy.dtype.type(0))
    return dx


def sigmoid(x):
    """``1 / (1 + e^{-x})``, stable for any ``|x|``, in ``x``'s dtype."""
    x = np.asarray(x)
    out = np.empty(x.shape, dtype=x.dtype)
    if out.size:
        threads = out.size >= PARALLEL_SIZE
        if x.dtype == np.float32:
            (_sigmoid_float32_threads if threads else _sigmoid_float32)(_flat(x), out.reshape(-1))
        else:
            (_sigmoid_threads if threads else _sigmoid)(_flat(x), out.reshape(-1), x.dtype.type(1))
    return out


def matmul(a, b):
    """``a @ b`` by BLAS."""
    return a @ b
