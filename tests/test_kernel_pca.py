"""Kernel PCA: the linear kernel reproduces PCA, new points are centred with the training statistics,
and an RBF kernel unrolls two concentric circles that no linear projection separates."""

import numpy as np
import pytest

from npae import PCA, KernelPCA
from npae.models.pca import kernel_matrix


def concentric_circles(rng, n_per_circle=100, radii=(1.0, 3.0), noise=0.1):
    angles = rng.uniform(0, 2 * np.pi, 2 * n_per_circle)
    radius = np.repeat(radii, n_per_circle)
    X = np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)
    return X + noise * rng.standard_normal(X.shape), np.repeat([0, 1], n_per_circle)


def best_threshold_accuracy(values, labels):
    """Accuracy of the best rule "class a below t, class b above t" on a 1-D feature, over all t and both
    orientations: how well one coordinate separates two classes."""
    ordered = labels[np.argsort(values)]
    ones_below = np.concatenate([[0], np.cumsum(ordered == 1)])
    zeros_below = np.arange(ordered.size + 1) - ones_below
    n_ones, n_zeros = ones_below[-1], zeros_below[-1]
    zeros_first = zeros_below + (n_ones - ones_below)
    ones_first = ones_below + (n_zeros - zeros_below)
    return max(zeros_first.max(), ones_first.max()) / ordered.size


def assert_equal_up_to_column_signs(a, b, atol):
    signs = np.sign(np.sum(a * b, axis=0))
    np.testing.assert_allclose(a, b * signs, atol=atol)


def test_best_threshold_accuracy_on_known_cases():
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert best_threshold_accuracy(np.arange(6.0), labels) == 1.0
    assert best_threshold_accuracy(-np.arange(6.0), labels) == 1.0
    # sorted labels 0 0 1 1 1 0: the best cut leaves one point on the wrong side
    assert best_threshold_accuracy(np.array([0.0, 1, 5, 2, 3, 4]), labels) == pytest.approx(5 / 6)
    # sorted labels 0 1 0 1 0 1: a cut at either end or after the first pair gets 4 of 6
    assert best_threshold_accuracy(np.arange(6.0), np.array([0, 1, 0, 1, 0, 1])) == pytest.approx(4 / 6)


def test_linear_kernel_reproduces_pca_projections(rng):
    X = rng.standard_normal((60, 7)) @ rng.standard_normal((7, 7))
    pca = PCA(4).fit(X)
    kpca = KernelPCA(4, kernel="linear")
    assert_equal_up_to_column_signs(kpca.fit_transform(X), pca.transform(X), atol=1e-8)
    np.testing.assert_allclose(kpca.eigenvalues_, X.shape[0] * pca.explained_variance_, rtol=1e-10)
    new = rng.standard_normal((15, 7)) * 3 + 2  # far from the training mean: the centring must be right
    assert_equal_up_to_column_signs(kpca.transform(new), pca.transform(new), atol=1e-8)


@pytest.mark.parametrize("kernel, options", [("rbf", {}), ("rbf", {"gamma": 0.3}), ("poly", {}),
                                             ("poly", {"degree": 2, "coef0": 0.5}), ("linear", {})])
def test_transform_of_training_data_equals_fit_transform(rng, kernel, options):
    X = rng.standard_normal((40, 5))
    kpca = KernelPCA(3, kernel=kernel, **options)
    training_projections = kpca.fit_transform(X)
    np.testing.assert_allclose(kpca.transform(X), training_projections, atol=1e-8)


def test_eigenvectors_are_orthonormal_and_signs_deterministic(rng):
    X = rng.standard_normal((30, 3))
    kpca = KernelPCA(5).fit(X)
    np.testing.assert_allclose(kpca.eigenvectors_.T @ kpca.eigenvectors_, np.eye(5), atol=1e-10)
    largest = kpca.eigenvectors_[np.argmax(np.abs(kpca.eigenvectors_), axis=0), np.arange(5)]
    assert np.all(largest > 0)
    assert np.all(np.diff(kpca.eigenvalues_) <= 0)


def test_kernel_matrix_matches_the_definitions(rng):
    A, B = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    gamma, degree, coef0 = 0.7, 3, 1.5
    for i in range(3):
        for j in range(2):
            rbf = np.exp(-gamma * np.sum((A[i] - B[j]) ** 2))
            poly = (gamma * A[i] @ B[j] + coef0) ** degree
            assert kernel_matrix(A, B, "rbf", gamma, degree, coef0)[i, j] == pytest.approx(rbf, rel=1e-12)
            assert kernel_matrix(A, B, "poly", gamma, degree, coef0)[i, j] == pytest.approx(poly, rel=1e-12)
            assert kernel_matrix(A, B, "linear", gamma, degree, coef0)[i, j] == pytest.approx(A[i] @ B[j])


def test_rbf_kernel_separates_concentric_circles_where_pca_cannot(rng):
    """Criterion: the best single threshold on the first component. No direction in the plane separates
    a circle from a ring around it (PCA stays near 0.7); the first RBF component (default gamma = 1/D = 0.5)
    orders the points by radius, so a threshold on it classifies nearly all of them."""
    X, labels = concentric_circles(rng)
    pca_accuracy = best_threshold_accuracy(PCA(1).fit_transform(X)[:, 0], labels)
    rbf_accuracy = best_threshold_accuracy(KernelPCA(1, kernel="rbf").fit_transform(X)[:, 0], labels)
    assert pca_accuracy < 0.8
    assert rbf_accuracy > 0.95


def test_float32_is_preserved(rng):
    X = rng.standard_normal((25, 4)).astype(np.float32)
    kpca = KernelPCA(2, kernel="poly")
    train = kpca.fit_transform(X)
    assert train.dtype == np.float32
    assert kpca.transform(X).dtype == np.float32
    assert kpca.eigenvalues_.dtype == np.float32 and kpca.dual_coef_.dtype == np.float32


def test_images_are_flattened(rng):
    X = rng.random((20, 1, 3, 3))
    kpca = KernelPCA(2).fit(X)
    assert kpca.X_fit_.shape == (20, 9)
    assert kpca.gamma_ == pytest.approx(1 / 9)
    with pytest.raises(ValueError, match=r"X: expected shape \(N, 1, 3, 3\), got \(4, 9\)"):
        kpca.transform(rng.random((4, 9)))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_components": 0}, ValueError, "n_components"),
    ({"n_components": 2, "kernel": "sigmoid"}, ValueError, r"kernel: expected one of .*got 'sigmoid'"),
    ({"n_components": 2, "gamma": 0}, ValueError, "gamma: expected a finite number > 0"),
    ({"n_components": 2, "gamma": -1.0}, ValueError, "gamma"),
    ({"n_components": 2, "degree": 0}, ValueError, "degree"),
    ({"n_components": 2, "coef0": float("nan")}, ValueError, "coef0"),
])
def test_bad_arguments_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        KernelPCA(**kwargs)


def test_bad_fits_and_use_before_fit_are_refused(rng):
    with pytest.raises(ValueError, match=r"KernelPCA.transform: call fit"):
        KernelPCA(2).transform(rng.random((3, 4)))
    with pytest.raises(ValueError, match=r"n_components: expected at most N = 5.*got 6"):
        KernelPCA(6).fit(rng.random((5, 4)))
    with pytest.raises(ValueError, match=r"n_components: the centred linear kernel matrix has only 2 eigenvalues"):
        KernelPCA(3, kernel="linear").fit(rng.random((10, 2)))
    kpca = KernelPCA(2).fit(rng.random((10, 4)))
    with pytest.raises(ValueError, match=r"X: expected shape \(N, 4\), got \(3, 5\)"):
        kpca.transform(rng.random((3, 5)))
