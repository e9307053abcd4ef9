"""t-SNE: perplexity calibration, the KL gradient (Numba kernel = NumPy reference = finite differences),
cluster recovery on separated Gaussians, determinism, dtype, errors; and the kNN score for maps."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support import GRAD_TOL
from npae.gradcheck import check_function, relative_error
import npae
from npae.backends import BACKENDS, ops
from npae.backends.reference.tsne import student_t_weights
from npae.manifold import TSNE, knn_accuracy
from npae.manifold.tsne import conditional_affinities, joint_affinities, kl_divergence
from npae.core.functions import squared_distances


def gaussian_clusters(rng, n_clusters=5, per_cluster=40, dim=10, separation=10.0):
    centres = separation * rng.standard_normal((n_clusters, dim))
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    return centres[labels] + rng.standard_normal((labels.size, dim)), labels


def random_affinities(rng, n, perplexity=3.0):
    return joint_affinities(rng.standard_normal((n, 4)), perplexity)


def row_perplexities(P_cond):
    """``exp(H_i)`` with ``H_i = -sum_j p_{j|i} ln p_{j|i}`` in nats, computed independently of the module."""
    logs = np.log(np.where(P_cond > 0, P_cond, 1.0))
    return np.exp(-np.sum(P_cond * logs, axis=1))


# ----------------------------------------------------------------------------------------------
# Affinities
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("perplexity", [2.0, 5.0, 17.5, 40.0])
def test_perplexity_search_hits_the_target(rng, perplexity):
    X = np.concatenate([rng.standard_normal((60, 6)), 5 + 0.1 * rng.standard_normal((40, 6))])
    P_cond, beta = conditional_affinities(squared_distances(X), perplexity)
    np.testing.assert_allclose(row_perplexities(P_cond), perplexity, rtol=1e-4)
    np.testing.assert_allclose(P_cond.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(np.diag(P_cond) == 0)
    assert np.all(beta > 0)


def test_joint_affinities_are_symmetric_and_sum_to_one(rng):
    P = random_affinities(rng, 30, perplexity=8.0)
    np.testing.assert_allclose(P, P.T, atol=0)
    assert P.sum() == pytest.approx(1.0, abs=1e-12)
    assert P.dtype == np.float64 and np.all(np.diag(P) == 0)


# ----------------------------------------------------------------------------------------------
# Gradient
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BACKENDS)
@given(n=st.integers(3, 40), dim=st.integers(1, 3), exaggeration=st.sampled_from([1.0, 4.0, 12.0]),
       scale=st.sampled_from([1e-4, 1.0, 30.0]), seed=st.integers(0, 2**31 - 1))
def test_backends_agree_on_the_gradient(name, n, dim, exaggeration, scale, seed):
    """From n = 3 up: with two points p = q = 1/2 and the true gradient is exactly 0 (only rounding left)."""
    rng = np.random.default_rng(seed)
    P = random_affinities(rng, n, perplexity=min(3.0, n - 1.5))
    Y = scale * rng.standard_normal((n, dim))
    with npae.backend("reference"):
        reference = ops.tsne_gradient(P, Y, exaggeration)
    with npae.backend(name):
        assert relative_error(ops.tsne_gradient(P, Y, exaggeration), reference) < 1e-10


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_is_the_derivative_of_kl(name, seed):
    rng = np.random.default_rng(seed)
    P = random_affinities(rng, 12)
    Y = rng.standard_normal((12, 2))
    with npae.backend(name):
        errors = check_function(lambda: (kl_divergence(P, Y), {"Y": ops.tsne_gradient(P, Y, 1.0)}), {"Y": Y})
    assert errors["Y"] < GRAD_TOL


def test_exaggerated_gradient_is_the_derivative_of_the_exaggerated_objective(rng):
    """With exaggeration a, the step follows ``a sum_ij p_ij ln(1 + |y_i - y_j|^2) + ln Z``: KL with the
    attraction term scaled by a (the normalisation of Q is not)."""
    a = 12.0
    P = random_affinities(rng, 10)
    Y = rng.standard_normal((10, 3))

    def objective():
        weights = student_t_weights(Y)
        return a * np.sum(P * np.log1p(squared_distances(Y))) + math.log(weights.sum())

    errors = check_function(lambda: (objective(), {"Y": ops.tsne_gradient(P, Y, a)}), {"Y": Y})
    assert errors["Y"] < GRAD_TOL


def test_kl_divergence_is_zero_when_q_equals_p(rng):
    Y = rng.standard_normal((8, 2))
    weights = student_t_weights(Y)
    assert kl_divergence(weights / weights.sum(), Y) == pytest.approx(0.0, abs=1e-14)
    assert kl_divergence(random_affinities(rng, 8), Y) > 0


# ----------------------------------------------------------------------------------------------
# TSNE
# ----------------------------------------------------------------------------------------------


def test_separated_clusters_stay_separated(rng):
    """5 Gaussian clusters x 40 points in 10-D: leave-one-out 5-NN accuracy on the 2-D map above 0.95."""
    X, labels = gaussian_clusters(rng)
    tsne = TSNE(perplexity=20, seed=0)
    embedding = tsne.fit_transform(X)
    assert embedding.shape == (200, 2)
    assert knn_accuracy(embedding, labels, k=5) > 0.95
    assert tsne.kl_divergence_ < tsne.kl_history_[2][1]  # KL keeps falling after early exaggeration


def test_same_seed_same_map_and_other_seed_other_map(rng):
    X, _ = gaussian_clusters(rng, n_clusters=3, per_cluster=15, dim=4)
    first = TSNE(perplexity=5, n_iter=300, seed=7).fit_transform(X)
    again = TSNE(perplexity=5, n_iter=300, seed=7).fit_transform(X)
    other = TSNE(perplexity=5, n_iter=300, seed=8).fit_transform(X)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_dtype_shapes_and_learning_rate_auto(rng):
    X = rng.standard_normal((30, 1, 2, 3)).astype(np.float32)
    tsne = TSNE(n_components=3, perplexity=5, learning_rate="auto", n_iter=260, seed=0)
    embedding = tsne.fit_transform(X)
    assert embedding.dtype == np.float32 and embedding.shape == (30, 3)
    assert tsne.learning_rate_ == 50.0  # max(30 / 12 / 4, 50)
    assert np.all(np.isfinite(embedding))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"perplexity": 0.5}, ValueError, "perplexity: expected a finite number >= 1"),
    ({"learning_rate": "fast"}, ValueError, 'learning_rate: expected a finite number > 0 or "auto", got \'fast\''),
    ({"seed": 1.5}, TypeError, "seed: expected an int or a numpy.random.Generator"),
    ({"learning_rate": -1}, ValueError, "learning_rate"),
    ({"n_iter": 0}, ValueError, "n_iter"),
    ({"n_components": 0}, ValueError, "n_components"),
    ({"early_exaggeration": 0.5}, ValueError, "early_exaggeration"),
])
def test_bad_arguments_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        TSNE(**kwargs)


def test_bad_data_is_refused(rng):
    with pytest.raises(ValueError, match=r"perplexity: expected a number below N - 1 = 9.*got 30"):
        TSNE().fit_transform(rng.standard_normal((10, 3)))
    with pytest.raises(TypeError, match="X: expected a float array"):
        TSNE(perplexity=2).fit_transform(np.zeros((10, 3), dtype=np.int64))


# ----------------------------------------------------------------------------------------------
# kNN score
# ----------------------------------------------------------------------------------------------


def test_knn_accuracy_on_a_known_case():
    """On a line at 0, 1, 2.5 | 10, 11, 12.5 labelled 0 0 1 | 1 1 1. With k = 1 only the point at 2.5
    (nearest: 1, label 0) is wrong. With k = 3 each of the first three points has two of the other two
    and the point at 10 as neighbours: 0 and 1 see labels (0, 1, 1), 2.5 sees (0, 0, 1); all three are
    wrong, while the far cluster is right."""
    points = np.array([[0.0], [1.0], [2.5], [10.0], [11.0], [12.5]])
    labels = np.array([0, 0, 1, 1, 1, 1])
    assert knn_accuracy(points, labels, k=1) == pytest.approx(5 / 6)
    assert knn_accuracy(points, labels, k=3) == pytest.approx(3 / 6)


def test_knn_accuracy_refuses_bad_input(rng):
    points = rng.standard_normal((5, 2))
    with pytest.raises(ValueError, match=r"labels: expected shape \(5,\)"):
        knn_accuracy(points, np.zeros(4))
    with pytest.raises(ValueError, match="k: expected at most N - 1 = 4, got 5"):
        knn_accuracy(points, np.zeros(5), k=5)


def test_identical_points_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match=r"X: all 20 points are identical, so there are no neighbourhoods to map"):
        TSNE(perplexity=3, n_iter=10).fit_transform(np.ones((20, 5)))


def test_points_at_equal_distances_get_uniform_affinities_not_nan():
    """Rows whose other points are all equally far have entropy ln(N-1) whatever beta: the row stays uniform."""
    X = np.eye(6)  # the corners of a simplex: every pair at distance sqrt(2)
    P = joint_affinities(X, perplexity=2.0)
    np.testing.assert_allclose(P[~np.eye(6, dtype=bool)], 1 / 30, rtol=1e-12)
    with_duplicates = np.vstack([np.eye(6), np.eye(6)[:2]])  # some points twice: defined, finite
    assert np.all(np.isfinite(TSNE(perplexity=2, n_iter=300).fit_transform(with_duplicates)))
