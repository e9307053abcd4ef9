"""The gradient of t-SNE's objective, in plain NumPy (see ``npae.manifold.tsne`` for the method)."""

from __future__ import annotations

import numpy as np

from ...core.functions import squared_distances


def student_t_weights(Y):
    """``w_ij = 1 / (1 + |y_i - y_j|^2)`` with ``w_ii = 0``."""
    weights = 1.0 / (1.0 + squared_distances(Y))
    np.fill_diagonal(weights, 0)
    return weights


def tsne_gradient(P, Y, exaggeration):
    """``dKL/dy_i = 4 sum_j (a p_ij - q_ij) w_ij (y_i - y_j)``, with exaggeration ``a`` and ``q_ij = w_ij / Z``,
    ``Z = sum_{k != l} w_kl``.

    Writing ``M_ij = (a p_ij - q_ij) w_ij``, the sum is ``4 (diag(M 1) - M) Y``.
    """
    weights = student_t_weights(Y)
    M = (exaggeration * P - weights / weights.sum()) * weights
    return 4 * (M.sum(axis=1)[:, None] * Y - M @ Y)
