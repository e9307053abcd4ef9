"""The VAE's Bernoulli likelihood of many decoded samples in one fused pass (the formula is in
``npae.backends.reference.likelihood``).

The importance-weighted estimate of ``log p(x)`` decodes k = 1000 samples per test image; scoring them with
NumPy would first repeat every image k times and build three temporaries of that size. The kernels read each
image once per sample row and keep no temporaries. Per row ``r`` (image ``x = x_{r // k}``)::

    nll_r = sum_d max(l_d, 0) - x_d l_d + log1p(e_d),    e_d = exp(-|l_d|) in (0, 1]

(softplus(l) = max(l, 0) + log1p(exp(-|l|))). A logarithm per pixel costs more than everything else in the
sum, and without a vector math library Numba calls it one value at a time. So in float32 the logarithms are
summed as the logarithm of a product: ``sum_d log1p(e_d) = log prod_d (1 + e_d)``, one ``log`` per ``CHUNK``
pixels, the product kept in float64, where ``CHUNK`` factors of at most 2 cannot overflow. An ``e_d`` below
``2^-24`` would vanish from ``1 + e_d`` (its share of the row is then below float32's resolution anyway); it is
added as itself, ``log1p(e) = e`` to within ``e / 2`` relative. float64 rows (gradient checks) take the
per-pixel ``log1p``, exact to float64 rounding.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .jit import parallel_fast_kernel

CHUNK = 512  # pixels per product: 2^512 is far inside float64's range
TINY = 2.0**-24  # below this, 1 + e rounds e away in float32 terms; log1p(e) = e to within e / 2


@parallel_fast_kernel
def _bernoulli_nll_of_samples_as_products(logits, x, k, out):
    n_pixels = logits.shape[1]
    zero = logits.dtype.type(0)
    for row in numba.prange(logits.shape[0]):
        image = row // k
        linear = 0.0
        tiny = 0.0
        log_products = 0.0
        for start in range(0, n_pixels, CHUNK):
            product = 1.0
            for d in range(start, min(start + CHUNK, n_pixels)):
                l = logits[row, d]
                linear += max(l, zero) - x[image, d] * l
                e = np.exp(-abs(l))
                above = e > TINY
                product *= (1.0 + e) if above else 1.0
                tiny += 0.0 if above else e
            log_products += math.log(product)
        out[row] = linear + log_products + tiny


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
    kernel = _bernoulli_nll_of_samples_as_products if logits.dtype == np.float32 else _bernoulli_nll_of_samples_exact
    kernel(np.ascontiguousarray(logits), np.ascontiguousarray(x), k, out)
    return out
