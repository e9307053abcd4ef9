"""The VAE's Bernoulli likelihood of many decoded samples in one fused pass (the formula is in
``npae.backends.reference.likelihood``).

The importance-weighted estimate of ``log p(x)`` decodes k = 1000 samples per test image; scoring them with
NumPy would first repeat every image k times and build three temporaries of that size. The kernel reads each
image once per sample row, keeps no temporaries and sums in float64.
"""

from __future__ import annotations

import numba
import numpy as np

from .jit import parallel_fast_kernel


@parallel_fast_kernel
def _bernoulli_nll_of_samples(logits, x, k, out):
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
    _bernoulli_nll_of_samples(np.ascontiguousarray(logits), np.ascontiguousarray(x), k, out)
    return out
