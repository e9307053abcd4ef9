"""t-SNE (van der Maaten & Hinton 2008), exact O(N^2), for 2-D maps of codes; and a kNN score for maps.

Notation: inputs ``x_i`` (N points), embedding ``y_i`` (N, d), squared distances ``D_ij = |x_i - x_j|^2``.

1. **Conditional affinities.** ``p_{j|i} = exp(-beta_i D_ij) / sum_{k != i} exp(-beta_i D_ik)`` with
   ``beta_i = 1 / (2 sigma_i^2)`` found by bisection so that the perplexity of row i,
   ``Perp(P_i) = exp(H(P_i))`` with the entropy ``H(P_i) = -sum_j p_{j|i} ln p_{j|i}`` **in nats**
   (the same number as ``2^H`` with H in bits), equals the target perplexity: the effective number of
   neighbours. H decreases with beta, so bisection on beta converges.
2. **Joint affinities.** ``p_ij = (p_{j|i} + p_{i|j}) / (2N)``: symmetric, summing to 1.
3. **Embedding similarities.** A Student-t with one degree of freedom:
   ``w_ij = 1 / (1 + |y_i - y_j|^2)``, ``q_ij = w_ij / Z`` with ``Z = sum_{k != l} w_kl``.
4. **Objective and gradient.** ``KL(P || Q) = sum_{i != j} p_ij ln(p_ij / q_ij)`` and

       dKL/dy_i = 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j).

   The gradient is the O(N^2) hot loop: a Numba kernel (parallel over i) beside a plain NumPy reference
   (``kl_gradient_reference``); the tests compare them and check both against finite differences of KL.
5. **Optimisation.** Gradient descent with momentum (0.5 for the first 250 iterations, then 0.8),
   per-coordinate adaptive gains (+0.2 where the gradient changes sign against the running update, x0.8
   otherwise, floored at 0.01), and early exaggeration (P multiplied by ``early_exaggeration`` during the
   first 250 iterations, which pulls clusters together into tight, well-separated groups).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .kernels.jit import FASTMATH, OPTIONS, kernel, parallel_kernel
from .layers.base import as_generator, positive_int
from .models.pca import check_samples, flatten_samples, is_finite_number, squared_distances

#: iterations with early exaggeration and the low momentum, as in the paper
EXAGGERATION_ITERATIONS = 250
MOMENTUM_EARLY, MOMENTUM_LATE = 0.5, 0.8
GAIN_STEP, GAIN_DECAY, MIN_GAIN = 0.2, 0.8, 0.01
INITIAL_SCALE = 1e-4
#: bisection stops when |H(P_i) - ln(perplexity)| is below this (so Perp is within ~1e-6 relative)
ENTROPY_TOLERANCE = 1e-6
MAX_BISECTION_STEPS = 200
#: the KL objective (an extra O(N^2) pass) is recorded every this many iterations
KL_RECORD_EVERY = 100
#: from this many points on the gradient's rows are shared among threads; below, thread start-up and
#: synchronisation (every iteration) cost more than they save, badly so on a busy machine
PARALLEL_MIN_POINTS = 1000


# ----------------------------------------------------------------------------------------------
# Affinities
# ----------------------------------------------------------------------------------------------


def _row_entropy_and_probabilities(shifted_distances, beta, rows):
    """For each row i: ``p_j = exp(-beta_i d_ij) / S_i`` over ``j != i`` and ``H_i = ln S_i + beta_i sum_j p_j d_ij``.

    ``shifted_distances`` (len(rows), N) has each row's smallest off-diagonal distance subtracted, so exp
    never underflows to an all-zero row; ``rows`` gives each row's own column, whose weight is set to 0.
    """
    probabilities = np.exp(-beta[:, None] * shifted_distances)
    probabilities[np.arange(rows.size), rows] = 0
    total = probabilities.sum(axis=1)
    probabilities /= total[:, None]
    mean_distance = np.einsum("ij,ij->i", probabilities, shifted_distances)
    return np.log(total) + beta * mean_distance, probabilities


def conditional_affinities(distances, perplexity):
    """``(P_cond, beta)``: rows ``p_{j|i}`` (N, N) with ``exp(H(P_i)) = perplexity``, and each row's beta.

    ``distances`` are squared distances (N, N). Bisection on ``beta_i`` for all rows at once: while the
    upper bound is unknown beta doubles, afterwards the bracket halves; a row stops moving once its entropy
    is within ``ENTROPY_TOLERANCE`` nats of ``ln(perplexity)``.
    """
    n = distances.shape[0]
    target = math.log(perplexity)
    shifted = distances.astype(np.float64, copy=True)
    np.fill_diagonal(shifted, np.inf)
    shifted -= shifted.min(axis=1, keepdims=True)
    np.fill_diagonal(shifted, 0)
    beta = 1.0 / np.maximum(shifted.mean(axis=1), np.finfo(np.float64).tiny)
    low, high = np.zeros(n), np.full(n, np.inf)
    active = np.arange(n)
    for _ in range(MAX_BISECTION_STEPS):
        rows = shifted if active.size == n else shifted[active]
        entropy, _ = _row_entropy_and_probabilities(rows, beta[active], active)
        too_flat = entropy > target  # too many effective neighbours: sharpen (raise beta)
        moving = np.abs(entropy - target) > ENTROPY_TOLERANCE
        low[active] = np.where(too_flat, beta[active], low[active])
        high[active] = np.where(too_flat, high[active], beta[active])
        bracketed = np.isfinite(high[active])
        stepped = np.where(bracketed, (low[active] + high[active]) / 2, beta[active] * 2)
        beta[active] = np.where(moving, stepped, beta[active])
        active = active[moving]
        if active.size == 0:
            break
    _, probabilities = _row_entropy_and_probabilities(shifted, beta, np.arange(n))
    return probabilities, beta


def joint_affinities(X, perplexity):
    """The symmetric ``P`` (N, N), float64, summing to 1: ``p_ij = (p_{j|i} + p_{i|j}) / (2N)``."""
    flat = flatten_samples(X).astype(np.float64)
    conditional, _ = conditional_affinities(squared_distances(flat), perplexity)
    return (conditional + conditional.T) / (2 * flat.shape[0])


# ----------------------------------------------------------------------------------------------
# Objective and gradient
# ----------------------------------------------------------------------------------------------


def student_t_weights(Y):
    """``w_ij = 1 / (1 + |y_i - y_j|^2)`` with ``w_ii = 0``."""
    weights = 1.0 / (1.0 + squared_distances(Y))
    np.fill_diagonal(weights, 0)
    return weights


def sum_p_log_p(P):
    """``sum_{ij} p_ij ln p_ij`` (terms with ``p_ij = 0`` count 0): the part of KL that Y does not change."""
    return float(np.sum(P * np.log(np.where(P > 0, P, 1.0))))


def cross_entropy(P, Y):
    """``-sum_{i != j} p_ij ln q_ij = sum_{ij} p_ij ln(1 + |y_i - y_j|^2) + ln Z`` (using ``sum p = 1``).

    The diagonal needs no mask: ``p_ii = 0``, and ``w_ii = 1`` is taken out of Z by subtracting N.
    """
    distances = squared_distances(Y)
    z = np.sum(1.0 / (1.0 + distances)) - Y.shape[0]
    return float(np.vdot(P, np.log1p(distances))) + math.log(z)


def kl_divergence(P, Y):
    """``KL(P || Q) = sum_{i != j} p_ij ln(p_ij / q_ij)``, as ``sum p ln p`` plus the cross-entropy."""
    return sum_p_log_p(P) + cross_entropy(P, Y)


def kl_gradient_reference(P, Y, exaggeration=1.0):
    """Plain NumPy: ``dKL/dy_i = 4 sum_j (a p_ij - q_ij) w_ij (y_i - y_j)`` with exaggeration ``a``.

    Writing ``M_ij = (a p_ij - q_ij) w_ij``, the sum is ``4 (diag(M 1) - M) Y``.
    """
    weights = student_t_weights(Y)
    M = (exaggeration * P - weights / weights.sum()) * weights
    return 4 * (M.sum(axis=1)[:, None] * Y - M @ Y)


#: the row function divides: with NumPy's error model (jit.OPTIONS) a zero divisor gives inf instead of a
#: Python check in the loop, which lets LLVM vectorise the reciprocals (1.6x faster at N = 2000)
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


def kl_gradient(P, Y, exaggeration=1.0):
    """Numba kernel for ``dKL/dy_i = 4 (a sum_j p_ij w_ij (y_i - y_j) - (1/Z) sum_j w_ij^2 (y_i - y_j))``.

    This is the reference formula with ``q_ij = w_ij / Z`` split so that one sweep over the rows suffices
    (Z is only known once every row has been visited). Rows run in parallel from ``PARALLEL_MIN_POINTS``
    points on.
    """
    attraction = np.empty_like(Y)
    repulsion = np.empty_like(Y)
    row_sums = np.empty(Y.shape[0], dtype=Y.dtype)
    rows = _kl_gradient_rows_parallel if Y.shape[0] >= PARALLEL_MIN_POINTS else _kl_gradient_rows_serial
    rows(P, np.ascontiguousarray(Y.T), Y.dtype.type(exaggeration), attraction, repulsion, row_sums)
    return 4 * (attraction - repulsion / row_sums.sum())


# ----------------------------------------------------------------------------------------------
# TSNE
# ----------------------------------------------------------------------------------------------


def _check_positive_number(value, name, minimum=0.0, inclusive=False, or_else=""):
    if not is_finite_number(value) or value < minimum or (value == minimum and not inclusive):
        bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
        raise ValueError(f"{name}: expected a finite number {bound}{or_else}, got {value!r}")
    return float(value)


class TSNE:
    """``TSNE(n_components=2, perplexity=30, learning_rate=200, n_iter=1000, early_exaggeration=12, seed=0)``.

    ``learning_rate="auto"`` uses ``max(N / early_exaggeration / 4, 50)`` (Belkina et al. 2019).
    ``fit_transform(X)`` returns the embedding (N, n_components) in the dtype of ``X``; the optimisation
    itself runs in float64. After fitting: ``embedding_``, ``kl_divergence_`` (final KL, without
    exaggeration), ``kl_history_`` (``(iteration, KL)`` every 100 iterations), ``learning_rate_``.
    The start ``y_i ~ N(0, 1e-4^2)`` is drawn from ``seed`` (an int or a Generator): same seed, same map.
    """

    def __init__(self, n_components=2, perplexity=30, learning_rate=200, n_iter=1000, early_exaggeration=12,
                 seed=0):
        self.n_components = positive_int(n_components, "n_components")
        self.perplexity = _check_positive_number(perplexity, "perplexity", 1.0, inclusive=True)
        if not (isinstance(learning_rate, str) and learning_rate == "auto"):
            learning_rate = _check_positive_number(learning_rate, "learning_rate", or_else=' or "auto"')
        self.learning_rate = learning_rate
        self.n_iter = positive_int(n_iter, "n_iter")
        self.early_exaggeration = _check_positive_number(early_exaggeration, "early_exaggeration", 1.0, True)
        if not isinstance(seed, np.random.Generator) and (
            not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)
        ):
            raise TypeError(f"seed: expected an int or a numpy.random.Generator, got {seed!r}")
        self.seed = seed

    def _check_perplexity(self, n):
        if not self.perplexity < n - 1:
            raise ValueError(
                f"perplexity: expected a number below N - 1 = {n - 1} (the neighbours each point has), "
                f"got {self.perplexity:g}"
            )

    def fit_transform(self, X):
        """Affinities, then ``n_iter`` steps of gradient descent on ``KL(P || Q)``; returns the embedding."""
        X = check_samples(X, "X")
        n = X.shape[0]
        self._check_perplexity(n)
        P = joint_affinities(X, self.perplexity)
        rng = as_generator(self.seed)
        Y = INITIAL_SCALE * rng.standard_normal((n, self.n_components))
        self.learning_rate_ = (
            max(n / self.early_exaggeration / 4, 50.0) if self.learning_rate == "auto" else self.learning_rate
        )
        self.kl_history_ = []
        self._descend(P, Y, sum_p_log_p(P))
        self.kl_divergence_ = kl_divergence(P, Y)
        self.embedding_ = Y.astype(X.dtype)
        return self.embedding_

    def _descend(self, P, Y, p_log_p):
        """Momentum gradient descent with adaptive gains, updating ``Y`` in place; ``p_log_p`` is the
        constant part of KL, so recording KL costs one cross-entropy."""
        update = np.zeros_like(Y)
        gains = np.ones_like(Y)
        for iteration in range(self.n_iter):
            early = iteration < EXAGGERATION_ITERATIONS
            gradient = kl_gradient(P, Y, self.early_exaggeration if early else 1.0)
            against = np.sign(gradient) != np.sign(update)
            gains = np.where(against, gains + GAIN_STEP, gains * GAIN_DECAY)
            np.maximum(gains, MIN_GAIN, out=gains)
            momentum = MOMENTUM_EARLY if early else MOMENTUM_LATE
            update = momentum * update - self.learning_rate_ * gains * gradient
            Y += update
            if (iteration + 1) % KL_RECORD_EVERY == 0:
                self.kl_history_.append((iteration + 1, p_log_p + cross_entropy(P, Y)))

    def __repr__(self):
        return (
            f"TSNE(n_components={self.n_components}, perplexity={self.perplexity:g}, "
            f"learning_rate={self.learning_rate!r}, n_iter={self.n_iter}, "
            f"early_exaggeration={self.early_exaggeration:g}, seed={self.seed!r})"
        )


# ----------------------------------------------------------------------------------------------
# Scoring a map
# ----------------------------------------------------------------------------------------------


def knn_accuracy(points, labels, k=5):
    """Leave-one-out k-nearest-neighbour accuracy: the share of points whose label is the majority label
    of their k nearest other points (ties go to the smallest label). A map that keeps classes apart scores
    near 1."""
    points = check_samples(points, "points")
    labels = np.asarray(labels)
    if labels.shape != (points.shape[0],):
        raise ValueError(f"labels: expected shape ({points.shape[0]},), got {labels.shape}")
    k = positive_int(k, "k")
    if k >= points.shape[0]:
        raise ValueError(f"k: expected at most N - 1 = {points.shape[0] - 1}, got {k}")
    distances = squared_distances(flatten_samples(points).astype(np.float64))
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argpartition(distances, k - 1, axis=1)[:, :k]
    classes, codes = np.unique(labels, return_inverse=True)
    votes = np.zeros((points.shape[0], classes.size), dtype=np.int64)
    np.add.at(votes, (np.arange(points.shape[0])[:, None], codes[neighbours]), 1)
    return float(np.mean(np.argmax(votes, axis=1) == codes))
