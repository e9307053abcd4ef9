"""The gradient of t-SNE's objective as a Numba kernel (the formula is in ``npae.backends.reference.tsne``)."""

from __future__ import annotations

import numba
import numpy as np

from .jit import FASTMATH, OPTIONS, kernel, parallel_kernel

#: from this many points on the gradient's rows are shared among threads; below, thread start-up and
#: synchronisation (every iteration) cost more than they save, badly so on a busy machine
PARALLEL_MIN_POINTS = 1000


#: the row function divides: with NumPy's error model (jit.OPTIONS) a zero divisor gives inf instead of a
#: Python check in the loop, which lets LLVM vectorise the reciprocals
@numba.njit(fastmath=FASTMATH, **OPTIONS)
def _kl_gradient_row(i, P, Yt, exaggeration, attraction, repulsion, row_sums):
    """Row i: ``attraction_i = a sum_j p_ij w_ij (y_i - y_j)``, ``repulsion_i = sum_j w_ij^2 (y_i - y_j)``
    and ``row_sums_i = sum_{j != i} w_ij``. ``Yt`` is the embedding transposed (d, N), so every inner loop
    runs over contiguous memory (and vectorises). The j = i terms need no branch: ``w_ii`` is set to 0
    once (and ``y_i - y_i = 0`` would cancel them in both sums anyway)."""
    dim, n = Yt.shape
    w = np.zeros(n, dtype=Yt.dtype)
    for d in range(dim):
        y_id = Yt[d, i]
        for j in range(n):
            diff = y_id - Yt[d, j]
            w[j] += diff * diff
    for j in range(n):
        w[j] = 1.0 / (1.0 + w[j])
    w[i] = 0.0
    total = 0.0
    for j in range(n):
        total += w[j]
    row_sums[i] = total
    for d in range(dim):
        y_id = Yt[d, i]
        pull = 0.0
        push = 0.0
        for j in range(n):
            diff = y_id - Yt[d, j]
            pull += P[i, j] * w[j] * diff
            push += w[j] * w[j] * diff
        attraction[i, d] = exaggeration * pull
        repulsion[i, d] = push


@parallel_kernel
def _kl_gradient_rows_parallel(P, Yt, exaggeration, attraction, repulsion, row_sums):
    """Every row, the rows shared among threads (rows are independent: the result is the same)."""
    for i in numba.prange(Yt.shape[1]):
        _kl_gradient_row(i, P, Yt, exaggeration, attraction, repulsion, row_sums)


@kernel
def _kl_gradient_rows_serial(P, Yt, exaggeration, attraction, repulsion, row_sums):
    """Every row on one thread: for small N, waking the threads costs more than the rows."""
    for i in range(Yt.shape[1]):
        _kl_gradient_row(i, P, Yt, exaggeration, attraction, repulsion, row_sums)


def tsne_gradient(P, Y, exaggeration):
    """``dKL/dy_i = 4 (a sum_j p_ij w_ij (y_i - y_j) - (1/Z) sum_j w_ij^2 (y_i - y_j))``.

    This is the reference formula with ``q_ij = w_ij / Z`` split so that one sweep over the rows suffices
    (Z is only known once every row has been visited). Rows run in parallel from ``PARALLEL_MIN_POINTS``
    points on.
    """
    attraction = np.empty_like(Y)
    repulsion = np.empty_like(Y)
    row_sums = np.empty(Y.shape[0], dtype=Y.dtype)
    rows = _kl_gradient_rows_parallel if Y.shape[0] >= PARALLEL_MIN_POINTS else _kl_gradient_rows_serial
    rows(np.ascontiguousarray(P), np.ascontiguousarray(Y.T), Y.dtype.type(exaggeration), attraction, repulsion,
         row_sums)
    return 4 * (attraction - repulsion / row_sums.sum())
