"""The VAE's likelihood of many decoded samples at once, in plain NumPy."""

from __future__ import annotations

import numpy as np

from ...core.functions import softplus


def bernoulli_nll_of_samples(logits, x, k):
    """``-log p(x_{r // k} | l_r)`` for every row ``r`` of ``logits`` (B k, D), each image ``x`` (B, D) scored
    against its k decoded samples (rows grouped by image)::

        nll_r = sum_d softplus(l_rd) - x_{r // k, d} l_rd

    which is ``-sum_d [x log s(l) + (1 - x) log(1 - s(l))]`` with ``s`` the sigmoid. Sums in float64.
    """
    targets = np.repeat(x, k, axis=0)
    return (softplus(logits) - targets * logits).sum(axis=1, dtype=np.float64).astype(logits.dtype)
