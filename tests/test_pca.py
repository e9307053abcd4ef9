"""PCA in closed form: the reconstruction identity, orthonormality, agreement with the covariance's
eigendecomposition, shapes, dtypes, errors; and the principal-angles helper on known angles."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae import PCA
from npae.models.pca import principal_angles


def low_rank_data(rng, n, d, scales, noise=0.05):
    """N samples near a subspace: latent coordinates with the given scales, a random rotation, noise."""
    basis, _ = np.linalg.qr(rng.standard_normal((d, len(scales))))
    latent = rng.standard_normal((n, len(scales))) * np.asarray(scales)
    return latent @ basis.T + 3.0 + noise * rng.standard_normal((n, d))


def covariance_eigh(X):
    """Eigenvalues (descending) and eigenvectors (rows) of the 1/N covariance, for comparison."""
    centred = X - X.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred / X.shape[0])
    return values[::-1], vectors[:, ::-1].T


@given(n=st.integers(2, 30), d=st.integers(1, 12), data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_reconstruction_error_is_the_sum_of_discarded_eigenvalues(n, d, data, seed):
    """``1/N sum_n |x_n - x_hat_n|^2 = sum_{i > k} lambda_i`` with the 1/N covariance, exactly (float64)."""
    k = data.draw(st.integers(1, min(n, d)), label="k")
    X = np.random.default_rng(seed).standard_normal((n, d)) * 2.0 + 1.0
    pca = PCA(k).fit(X)
    residual = X - pca.inverse_transform(pca.transform(X))
    eigenvalues, _ = covariance_eigh(X)
    discarded = eigenvalues[k:].clip(min=0).sum()
    scale = eigenvalues.clip(min=0).sum() + 1.0
    assert abs(np.sum(residual**2) / n - discarded) <= 1e-10 * scale
    assert abs(pca.reconstruction_error(X) * d - discarded) <= 1e-10 * scale


@given(n=st.integers(2, 30), d=st.integers(1, 12), seed=st.integers(0, 2**31 - 1))
def test_components_are_orthonormal(n, d, seed):
    X = np.random.default_rng(seed).standard_normal((n, d))
    k = min(n - 1, d) or 1
    pca = PCA(k).fit(X)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(k), atol=1e-12)


def test_matches_eigendecomposition_of_the_covariance(rng):
    X = low_rank_data(rng, 200, 10, scales=[6.0, 4.0, 2.0, 1.0])
    pca = PCA(4).fit(X)
    eigenvalues, eigenvectors = covariance_eigh(X)
    np.testing.assert_allclose(pca.explained_variance_, eigenvalues[:4], rtol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(pca.components_ * eigenvectors[:4], axis=1)), 1.0, atol=1e-10)
    np.testing.assert_allclose(pca.mean_, X.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(pca.explained_variance_ratio_, eigenvalues[:4] / eigenvalues.sum(), rtol=1e-10)
    np.testing.assert_allclose(pca.singular_values_**2 / X.shape[0], pca.explained_variance_, rtol=1e-12)


def test_all_components_explain_all_variance_and_reconstruct_exactly(rng):
    X = rng.standard_normal((20, 6))
    pca = PCA(6).fit(X)
    assert pca.explained_variance_ratio_.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X, atol=1e-12)
    assert np.all(np.diff(pca.explained_variance_) <= 0)


def test_sign_convention_makes_components_independent_of_sample_order(rng):
    X = low_rank_data(rng, 100, 8, scales=[5.0, 3.0, 1.0])
    a = PCA(3).fit(X)
    b = PCA(3).fit(X[rng.permutation(100)])
    np.testing.assert_allclose(a.components_, b.components_, atol=1e-10)
    largest = a.components_[np.arange(3), np.argmax(np.abs(a.components_), axis=1)]
    assert np.all(largest > 0)


def test_images_are_flattened_and_restored(rng):
    X = rng.random((30, 1, 4, 5))
    pca = PCA(7).fit(X)
    codes = pca.transform(X)
    assert pca.components_.shape == (7, 20) and pca.mean_.shape == (20,)
    assert codes.shape == (30, 7)
    assert pca.inverse_transform(codes).shape == (30, 1, 4, 5)
    np.testing.assert_allclose(pca.fit_transform(X), codes, atol=1e-12)


def test_float32_is_preserved_end_to_end(rng):
    X = rng.standard_normal((40, 6)).astype(np.float32)
    pca = PCA(3).fit(X)
    for array in (pca.components_, pca.mean_, pca.explained_variance_, pca.explained_variance_ratio_):
        assert array.dtype == np.float32
    codes = pca.transform(X.astype(np.float64))  # later inputs are cast to the fitted dtype
    assert codes.dtype == np.float32
    assert pca.inverse_transform(codes).dtype == np.float32
    reference = PCA(3).fit(X.astype(np.float64))
    np.testing.assert_allclose(pca.reconstruction_error(X), reference.reconstruction_error(X), rtol=1e-4)


@pytest.mark.parametrize("value, error", [(0, ValueError), (-2, ValueError), (2.5, TypeError), ("3", TypeError)])
def test_bad_n_components_is_refused(value, error):
    with pytest.raises(error, match="n_components"):
        PCA(value)


def test_too_many_components_for_the_data_is_refused(rng):
    with pytest.raises(ValueError, match=r"n_components: expected at most min\(N, D\) = 4.*got 5"):
        PCA(5).fit(rng.standard_normal((4, 10)))
    with pytest.raises(ValueError, match=r"n_components: expected at most min\(N, D\) = 3.*got 4"):
        PCA(4).fit(rng.standard_normal((10, 3)))


def test_use_before_fit_is_refused(rng):
    pca = PCA(2)
    for method, arg in (("transform", rng.random((3, 4))), ("inverse_transform", rng.random((3, 2))),
                        ("reconstruction_error", rng.random((3, 4)))):
        with pytest.raises(ValueError, match=f"PCA.{method}: call fit"):
            getattr(pca, method)(arg)


def test_wrong_feature_count_and_bad_data_are_refused(rng):
    pca = PCA(2).fit(rng.random((10, 4)))
    with pytest.raises(ValueError, match=r"X: expected shape \(N, 4\), got \(3, 5\)"):
        pca.transform(rng.random((3, 5)))
    with pytest.raises(ValueError, match=r"Z: expected shape \(N, 2\), got \(3, 3\)"):
        pca.inverse_transform(rng.random((3, 3)))
    with pytest.raises(TypeError, match="X: expected a float array, got dtype uint8"):
        PCA(2).fit(np.zeros((5, 4), dtype=np.uint8))
    with pytest.raises(TypeError, match="X: expected float32 or float64, got float16"):
        PCA(2).fit(np.zeros((5, 4), dtype=np.float16))
    with pytest.raises(ValueError, match="X: expected finite values"):
        PCA(2).fit(np.full((5, 4), np.nan))


# ----------------------------------------------------------------------------------------------
# principal_angles
# ----------------------------------------------------------------------------------------------


def test_principal_angles_on_known_angles():
    """Rows e1, e2 against rows cos(a) e1 + sin(a) e3, cos(b) e2 + sin(b) e4: the angles are a and b."""
    a, b = np.radians(10.0), np.radians(35.0)
    e = np.eye(5)
    A = e[:2]
    B = np.stack([np.cos(a) * e[0] + np.sin(a) * e[2], np.cos(b) * e[1] + np.sin(b) * e[3]])
    np.testing.assert_allclose(principal_angles(A, B), [10.0, 35.0], atol=1e-10)
    np.testing.assert_allclose(principal_angles(B, A), [10.0, 35.0], atol=1e-10)


def test_principal_angles_depend_only_on_the_spans(rng):
    A = rng.standard_normal((3, 8))
    B = rng.standard_normal((3, 8))
    mixed = rng.standard_normal((3, 3)) @ B  # another basis of the same row space
    np.testing.assert_allclose(principal_angles(A, B), principal_angles(A, mixed), atol=1e-8)
    np.testing.assert_allclose(principal_angles(A, rng.standard_normal((3, 3)) @ A), 0.0, atol=1e-5)
    orthogonal = np.eye(8)
    np.testing.assert_allclose(principal_angles(orthogonal[:2], orthogonal[2:5]), [90.0, 90.0], atol=1e-10)


def test_principal_angles_of_subspaces_of_different_dimensions(rng):
    e = np.eye(4)
    angles = principal_angles(e[:1], e[:3])  # a line inside a 3-D subspace
    np.testing.assert_allclose(angles, [0.0], atol=1e-6)
    assert principal_angles(e[:3], rng.standard_normal((2, 4))).shape == (2,)


def test_principal_angles_refuse_bad_input(rng):
    with pytest.raises(ValueError, match="A: expected 2 linearly independent rows"):
        principal_angles(np.ones((2, 4)), rng.standard_normal((2, 4)))
    with pytest.raises(ValueError, match="B: expected rows of length 4"):
        principal_angles(rng.standard_normal((2, 4)), rng.standard_normal((2, 5)))
    with pytest.raises(ValueError, match="A: expected a finite 2-D float array"):
        principal_angles(np.ones(4), rng.standard_normal((2, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constant_data_is_refused_with_a_clear_error(dtype):
    X = np.full((10, 5), 0.3, dtype=dtype)
    with pytest.raises(ValueError, match=r"X: all 10 samples are identical \(the total variance is 0\), so PCA has "
                                         r"no direction to find"):
        PCA(2).fit(X)


def test_data_of_lower_rank_than_asked_still_gives_defined_ratios():
    X = np.outer(np.arange(6.0), [1.0, 2.0, 0.0])  # every sample on one line: one direction carries everything
    pca = PCA(2).fit(X)
    assert np.all(np.isfinite(pca.explained_variance_ratio_))
    np.testing.assert_allclose(pca.explained_variance_ratio_, [1.0, 0.0], atol=1e-12)
