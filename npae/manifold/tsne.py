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

   The gradient is the O(N^2) hot loop: the operation ``ops.tsne_gradient`` (read it in
   ``npae/backends/reference/tsne.py``; the fast backend's kernel is parallel over i), checked against finite
   differences of KL.
5. **Optimisation.** Gradient descent with momentum (0.5 for the first 250 iterations, then 0.8),
   per-coordinate adaptive gains (+0.2 where the gradient changes sign against the running update, x0.8
   otherwise, floored at 0.01), and early exaggeration (P multiplied by ``early_exaggeration`` during the
   first 250 iterations, which pulls clusters together into tight, well-separated groups).
"""

from __future__ import annotations

import math

import numpy as np

from ..backends import ops
from ..core.checks import as_generator, check_data, positive_int, real_number
from ..core.functions import squared_distances

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
    is within ``ENTROPY_TOLERANCE`` nats of ``ln(perplexity)``. A row whose other points are all at the same
    distance has the uniform ``p_{j|i} = 1 / (N - 1)`` whatever beta: its entropy cannot reach the target, and
    it keeps that uniform row.
    """
    n = distances.shape[0]
    target = math.log(perplexity)
    shifted = distances.astype(np.float64, copy=True)
    np.fill_diagonal(shifted, np.inf)
    shifted -= shifted.min(axis=1, keepdims=True)
    np.fill_diagonal(shifted, 0)
    mean_distance = shifted.mean(axis=1)
    beta = 1.0 / np.where(mean_distance > 0, mean_distance, 1.0)  # a row of equal distances: any beta will do
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
    flat = X.reshape(X.shape[0], -1).astype(np.float64)
    conditional, _ = conditional_affinities(squared_distances(flat), perplexity)
    return (conditional + conditional.T) / (2 * flat.shape[0])


# ----------------------------------------------------------------------------------------------
# Objective and gradient
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# TSNE
# ----------------------------------------------------------------------------------------------


class TSNE:
    """``TSNE(n_components=2, perplexity=30, learning_rate=200, n_iter=1000, early_exaggeration=12, seed=0)``.

    ``learning_rate="auto"`` uses ``max(N / early_exaggeration / 4, 50)`` (Belkina et al. 2019).
    ``fit_transform(X)`` returns the embedding (N, n_components) in the dtype of ``X``; the optimisation
    itself runs in float64. After fitting: ``embedding_``, ``kl_divergence_`` (final KL, without
    exaggeration), ``kl_history_`` (``(iteration, KL)`` every 100 iterations), ``learning_rate_``.
    The start ``y_i ~ N(0, 1e-4^2)`` is drawn from ``seed`` (an int or a Generator): same seed, same map.
    Points that are all identical have no neighbourhoods to map: ``fit_transform`` refuses them.
    """

    def __init__(self, n_components=2, perplexity=30, learning_rate=200, n_iter=1000, early_exaggeration=12,
                 seed=0):
        self.n_components = positive_int(n_components, "n_components")
        self.perplexity = real_number(perplexity, "perplexity", low=1.0)
        if isinstance(learning_rate, str) and learning_rate != "auto":
            raise ValueError(f'learning_rate: expected a finite number > 0 or "auto", got {learning_rate!r}')
        if learning_rate != "auto":
            learning_rate = real_number(learning_rate, "learning_rate", low=0.0, include_low=False)
        self.learning_rate = learning_rate
        self.n_iter = positive_int(n_iter, "n_iter")
        self.early_exaggeration = real_number(early_exaggeration, "early_exaggeration", low=1.0)
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
        X = check_data(X, "X")
        n = X.shape[0]
        self._check_perplexity(n)
        if np.all(X == X[:1]):
            raise ValueError(
                f"X: all {n} points are identical, so there are no neighbourhoods to map (every affinity is the "
                "same); check the data (e.g. codes of a model whose code units are all dead)"
            )
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
            gradient = ops.tsne_gradient(P, Y, self.early_exaggeration if early else 1.0)
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
    points = check_data(points, "points")
    labels = np.asarray(labels)
    if labels.shape != (points.shape[0],):
        raise ValueError(f"labels: expected shape ({points.shape[0]},), got {labels.shape}")
    k = positive_int(k, "k")
    if k >= points.shape[0]:
        raise ValueError(f"k: expected at most N - 1 = {points.shape[0] - 1}, got {k}")
    distances = squared_distances(points.reshape(points.shape[0], -1).astype(np.float64))
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argpartition(distances, k - 1, axis=1)[:, :k]
    classes, codes = np.unique(labels, return_inverse=True)
    votes = np.zeros((points.shape[0], classes.size), dtype=np.int64)
    np.add.at(votes, (np.arange(points.shape[0])[:, None], codes[neighbours]), 1)
    return float(np.mean(np.argmax(votes, axis=1) == codes))
