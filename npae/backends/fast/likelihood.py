"""The VAE's Bernoulli likelihood of many decoded samples in one fused pass (the formula is in
``npae.backends.reference.likelihood``).

The importance-weighted estimate of ``log p(x)`` decodes k = 1000 samples per test image; scoring them with
NumPy would first repeat every image k times and build three temporaries of that size. The kernels read each
image once per sample row and keep no temporaries. Per row ``r`` (image ``x = x_{r // k}``)::

    nll_r = sum_d [max(l_d, 0) - x_d l_d] + sum_d log1p(e_d),    e_d = exp(-|l_d|) in (0, 1]

(softplus(l) = max(l, 0) + log1p(exp(-|l|))). Numba calls ``exp`` and ``log1p`` one value at a time (it has
no vector math library), and at tens of millions of pixels per batch those calls cost more than the decoder's
last matrix product. So the float32 kernel computes both from their series, in loops LLVM turns into vector
instructions (eight pixels at a time):

- ``exp(-|l|)`` as ``npae.backends.fast.vector_exp`` explains;
- ``log1p(e)`` for ``e in (0, 1]``: with ``s = e / (2 + e)`` in ``(0, 1/3]``, ``1 + e = (1 + s) / (1 - s)``, so
  ``log1p(e) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...)``; seven terms leave a relative error below 1.4e-7,
  and a tiny ``e`` keeps its full precision (no ``1 + e`` is ever rounded).

The three loops (``exp_of_minus_abs``, the linear part, the log1p part) are compiled as separate kernels: inlined
into one, LLVM left them scalar (3 times slower). A batch of ``PARALLEL_SIZE`` values or more (an IW evaluation)
is shared among the threads; a smaller one (a training batch) is scored on the calling thread, where waking a
thread, which OpenBLAS's idle pool may be holding, would cost more than the pass.

Each row's sums are float32 with eight or more partial sums (each term is non-negative for pixels in [0, 1],
so nothing cancels); relative error about 2e-7 per row. float64 rows (gradient checks) take the library's
``log1p`` and ``exp`` per pixel and sum in float64, exact to float64 rounding.
"""

from __future__ import annotations

import numba
import numpy as np

from .elementwise import PARALLEL_SIZE
from .jit import fast_kernel, inline_kernel, parallel_fast_kernel
from .vector_exp import exp_of_minus_abs

ROWS_PER_TASK = 16  # rows one thread scores with one pair of scratch arrays
_F = np.float32


@fast_kernel
def _sum_log1p(mantissas, scales):
    """``sum_d log1p(e_d)`` with ``e_d = mantissas[d] * scales[d]``, through ``log1p(e) = 2 atanh(e / (2 + e))``."""
    total = _F(0)
    for d in range(mantissas.shape[0]):
        e = mantissas[d] * scales[d]
        s = e / (_F(2) + e)
        s2 = s * s
        total += _F(2) * s * (_F(1) + s2 * (_F(1 / 3) + s2 * (_F(1 / 5) + s2 * (_F(1 / 7) + s2 * (
            _F(1 / 9) + s2 * (_F(1 / 11) + s2 * _F(1 / 13)))))))
    return total


@fast_kernel
def _sum_linear_part(logits, x):
    """``sum_d max(l_d, 0) - x_d l_d``."""
    total = _F(0)
    for d in range(logits.shape[0]):
        total += max(logits[d], _F(0)) - x[d] * logits[d]
    return total


@inline_kernel
def _score_rows(logits, x, k, first, stop, out):
    """``out[r] = nll_r`` for rows ``first <= r < stop``, with one pair of scratch arrays."""
    n_pixels = logits.shape[1]
    mantissas = np.empty(n_pixels, np.float32)
    powers = np.empty(n_pixels, np.int32)
    scales = powers.view(np.float32)
    for row in range(first, stop):
        exp_of_minus_abs(logits[row], mantissas, powers)
        out[row] = _sum_linear_part(logits[row], x[row // k]) + _sum_log1p(mantissas, scales)


@parallel_fast_kernel
def _bernoulli_nll_of_samples_vectorised(logits, x, k, out):
    n_rows = logits.shape[0]
    for task in numba.prange((n_rows + ROWS_PER_TASK - 1) // ROWS_PER_TASK):
        _score_rows(logits, x, k, task * ROWS_PER_TASK, min(n_rows, (task + 1) * ROWS_PER_TASK), out)


@fast_kernel
def _bernoulli_nll_of_samples_vectorised_serial(logits, x, k, out):
    _score_rows(logits, x, k, 0, logits.shape[0], out)


@parallel_fast_kernel
def _bernoulli_nll_of_samples_exact(logits, x, k, out):
    for row in numba.prange(logits.shape[0]):
        image = row // k
        total = 0.0
        for d in range(logits.shape[1]):
            l = logits[row, d]
            total += max(l, 0.0) + np.log1p(np.exp(-abs(l))) - x[image, d] * l
        out[row] = total


def bernoulli_nll_of_samples(logits, x, k):
    """``sum_d softplus(l_rd) - x_{r // k, d} l_rd`` for every row ``r`` of ``logits`` (B k, D); ``x`` is (B, D)."""
    out = np.empty(logits.shape[0], dtype=logits.dtype)
    if logits.dtype != np.float32:
        kernel = _bernoulli_nll_of_samples_exact
    elif logits.size >= PARALLEL_SIZE:
        kernel = _bernoulli_nll_of_samples_vectorised
    else:  # a training batch: waking the threads (which BLAS's may be holding) costs more than the pass
        kernel = _bernoulli_nll_of_samples_vectorised_serial
    kernel(np.ascontiguousarray(logits), np.ascontiguousarray(x, dtype=logits.dtype), k, out)
    return out
