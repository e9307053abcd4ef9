"""The closed-form baselines: PCA and kernel PCA, and principal angles between subspaces.

Notation: data ``X`` of N samples with D values each (images are flattened to D = C*H*W), mean
``mu = 1/N sum_n x_n``, centred data ``Xc = X - mu``.

**PCA.** The thin SVD ``Xc = U S V^T`` gives the principal directions as the rows of ``V^T``. The
covariance ``C = Xc^T Xc / N`` (we divide by **N**, not N - 1) has eigenvalues ``lambda_i = s_i^2 / N``.
Keeping the top k directions ``V_k`` (D, k):

    z = (x - mu) V_k              (transform, the code)
    x_hat = z V_k^T + mu          (inverse_transform, the reconstruction)

and the reconstruction identity is exact: ``1/N sum_n |x_n - x_hat_n|^2 = sum_{i > k} lambda_i``, the sum
of the discarded eigenvalues. A linear autoencoder trained with MSE finds the same subspace
(Baldi & Hornik 1989; see ``tests/test_linear_ae_pca.py``).

**Kernel PCA** (Schoelkopf, Smola & Mueller 1998) runs the same analysis in the feature space of a kernel
``k(x, x')``, using only the N x N kernel matrix. Centring in feature space is the double centring

    Kc = K - 1_N K - K 1_N + 1_N K 1_N        (1_N: the N x N matrix with every entry 1/N)

and with the eigenpairs ``Kc a_j = lambda_j a_j`` (``|a_j| = 1``) the projection of training point n on
component j is ``sqrt(lambda_j) a_nj``. A new point x is projected through its centred cross-kernel row
``kc(x)`` (centred with the training statistics): ``z_j = kc(x) . a_j / sqrt(lambda_j)``. There is no
pre-image (no inverse_transform).
"""

from __future__ import annotations

import numpy as np

from ..core.checks import check_data, positive_int, real_number
from ..core.functions import squared_distances

KERNELS = ("rbf", "poly", "linear")


# ----------------------------------------------------------------------------------------------
# Shared helpers
# ----------------------------------------------------------------------------------------------


def flatten_samples(X):
    """(N, ...) -> (N, D) without copying when possible."""
    return X.reshape(X.shape[0], -1)


def sign_flip_rows(vectors):
    """Flip the sign of each row so that its largest-|.| entry is positive (a deterministic convention)."""
    largest = vectors[np.arange(vectors.shape[0]), np.argmax(np.abs(vectors), axis=1)]
    return vectors * np.where(largest < 0, -1, 1).astype(vectors.dtype)[:, None]


def principal_angles(A, B):
    """Principal angles in degrees (ascending) between the spans of the **rows** of ``A`` and of ``B``.

    ``A`` is (p, D) and ``B`` is (q, D), e.g. PCA's ``components_`` and a linear decoder's weight ``W``
    (k, D). With orthonormal bases ``Qa`` (D, p) and ``Qb`` (D, q) of the two row spaces, the singular
    values of ``Qa^T Qb`` are the cosines of the min(p, q) principal angles (Bjoerck & Golub 1973).
    The arccos loses accuracy for tiny angles (about 1e-6 degrees in float64), which is far below any
    threshold we test.
    """
    Qa = _row_space_basis(A, "A")
    Qb = _row_space_basis(B, "B")
    if Qa.shape[0] != Qb.shape[0]:
        raise ValueError(f"B: expected rows of length {Qa.shape[0]} like A, got shape {np.shape(B)}")
    cosines = np.linalg.svd(Qa.T @ Qb, compute_uv=False)
    return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))


def _row_space_basis(M, name):
    """An orthonormal basis (D, r) of the row space of a full-rank (r, D) float matrix."""
    M = np.asarray(M)
    if M.ndim != 2 or M.size == 0 or M.dtype.kind != "f" or not np.all(np.isfinite(M)):
        raise ValueError(f"{name}: expected a finite 2-D float array (vectors as rows), got {M.dtype} shape {M.shape}")
    U, s, _ = np.linalg.svd(M.T.astype(np.float64), full_matrices=False)
    if M.shape[0] > M.shape[1] or s[-1] <= s[0] * M.shape[1] * np.finfo(np.float64).eps:
        raise ValueError(f"{name}: expected {M.shape[0]} linearly independent rows, got a rank-deficient {M.shape}")
    return U


class _Fitted:
    """Shared bookkeeping: the per-sample shape and dtype seen by ``fit``, checked by ``transform``."""

    def _check_no_labels(self, y):
        if y is not None:
            raise ValueError(
                f"y: {type(self).__name__} is fitted without labels, got labels of shape {np.shape(y)} (the argument "
                "exists so that every model's fit has the same shape)"
            )

    def _require_fitted(self, method):
        if getattr(self, "feature_shape_", None) is None:
            raise ValueError(f"{type(self).__name__}.{method}: call fit(X) first")

    def _check_transform_input(self, X, method):
        self._require_fitted(method)
        X = check_data(X, "X", self.dtype_, self.feature_shape_)
        return flatten_samples(X)

    def _check_n_components(self, n_samples, n_features, limit_name):
        limit = min(n_samples, n_features) if n_features is not None else n_samples
        if self.n_components > limit:
            raise ValueError(
                f"n_components: expected at most {limit_name} = {limit} for X of this shape, got {self.n_components}"
            )

    def fit_transform(self, X, *, y=None):
        """``fit(X)``, then the codes of the same samples."""
        return self.fit(X, y=y).transform(X)


# ----------------------------------------------------------------------------------------------
# PCA
# ----------------------------------------------------------------------------------------------


class PCA(_Fitted):
    """``PCA(n_components)``: principal component analysis by SVD of the centred data.

    After ``fit(X)``:

    - ``mean_`` (D,) and ``components_`` (k, D): orthonormal rows, largest-|.| entry of each positive;
    - ``explained_variance_`` (k,): eigenvalues ``s_i^2 / N`` of the 1/N covariance, descending;
    - ``explained_variance_ratio_`` (k,): their share of ``total_variance_`` (the trace of the covariance);
    - ``singular_values_`` (k,).

    Data whose samples are all identical have no principal direction: ``fit`` refuses them. Arrays keep the dtype of the training data; later inputs are cast to it.
    """

    def __init__(self, n_components):
        self.n_components = positive_int(n_components, "n_components")
        self.feature_shape_ = None

    def fit(self, X, *, y=None):
        """``Xc = X - mu = U S V^T``; keep the first k rows of ``V^T`` and ``lambda_i = s_i^2 / N``."""
        self._check_no_labels(y)
        X = check_data(X, "X")
        n = X.shape[0]
        flat = flatten_samples(X)
        self._check_n_components(n, flat.shape[1], "min(N, D)")
        if np.all(flat == flat[:1]):
            raise ValueError(
                f"X: all {n} samples are identical (the total variance is 0), so PCA has no direction to find and "
                "no share of variance to explain; check the data (a repeated sample, or a constant array)"
            )
        self.mean_ = flat.mean(axis=0)
        centred = flat - self.mean_
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        k = self.n_components
        self.components_ = sign_flip_rows(vt[:k])
        self.singular_values_ = s[:k]
        all_variances = s**2 / n
        self.total_variance_ = all_variances.sum()
        self.explained_variance_ = all_variances[:k]
        self.explained_variance_ratio_ = self.explained_variance_ / self.total_variance_
        self.feature_shape_ = X.shape[1:]
        self.dtype_ = X.dtype.type
        return self

    def transform(self, X):
        """The codes ``z = (x - mu) V_k`` (N, k)."""
        flat = self._check_transform_input(X, "transform")
        return (flat - self.mean_) @ self.components_.T

    def inverse_transform(self, Z):
        """Reconstructions ``x_hat = z V_k^T + mu``, in the shape of the training samples."""
        self._require_fitted("inverse_transform")
        Z = check_data(Z, "Z", self.dtype_, (self.n_components,))
        return (Z @ self.components_ + self.mean_).reshape((Z.shape[0],) + tuple(self.feature_shape_))

    def reconstruction_error(self, X):
        """Mean squared error per value, ``1/(N D) sum_n |x_n - x_hat_n|^2``.

        On the training data this is ``sum_{i > k} lambda_i / D``: the discarded variance per value.
        """
        self._require_fitted("reconstruction_error")
        X = check_data(X, "X", self.dtype_, self.feature_shape_)
        residual = self.inverse_transform(self.transform(X)) - X
        return float(np.mean(residual * residual))

    def __repr__(self):
        return f"PCA(n_components={self.n_components})"


# ----------------------------------------------------------------------------------------------
# Kernel PCA
# ----------------------------------------------------------------------------------------------


def kernel_matrix(A, B, kernel, gamma, degree, coef0):
    """``K_ij = k(a_i, b_j)``: rbf ``exp(-gamma |a - b|^2)``, poly ``(gamma a.b + coef0)^degree``, linear ``a.b``."""
    if kernel == "linear":
        return A @ B.T
    if kernel == "poly":
        return (gamma * (A @ B.T) + coef0) ** degree
    return np.exp(-gamma * squared_distances(A, B))


class KernelPCA(_Fitted):
    """``KernelPCA(n_components, kernel="rbf"|"poly"|"linear", gamma=None, degree=3, coef0=1)``.

    ``gamma`` defaults to ``1 / D``. After ``fit(X)``:

    - ``eigenvalues_`` (k,): the top eigenvalues of the centred kernel matrix ``Kc``, descending (with the
      linear kernel they are ``s_i^2``, N times PCA's ``explained_variance_``);
    - ``eigenvectors_`` (N, k): the unit eigenvectors ``a_j`` as columns, largest-|.| entry positive;
    - ``dual_coef_`` (N, k): ``a_j / sqrt(lambda_j)``, so that ``z = kc(x) @ dual_coef_``.

    The training data are kept (``X_fit_``): projecting a new point needs its kernel with all of them.
    """

    def __init__(self, n_components, kernel="rbf", gamma=None, degree=3, coef0=1):
        self.n_components = positive_int(n_components, "n_components")
        if kernel not in KERNELS:
            raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
        self.kernel = kernel
        self.gamma = None if gamma is None else real_number(gamma, "gamma", low=0.0, include_low=False)
        self.degree = positive_int(degree, "degree")
        self.coef0 = real_number(coef0, "coef0")
        self.feature_shape_ = None

    def _kernel(self, A, B):
        return kernel_matrix(A, B, self.kernel, self.gamma_, self.degree, self.coef0)

    def fit(self, X, *, y=None):
        """Eigendecomposition of the double-centred kernel matrix ``Kc``; keeps the top k eigenpairs."""
        self._check_no_labels(y)
        X = check_data(X, "X")
        flat = flatten_samples(X)
        self._check_n_components(flat.shape[0], None, "N")
        self.gamma_ = X.dtype.type(self.gamma if self.gamma is not None else 1.0 / flat.shape[1])
        K = self._kernel(flat, flat)
        self.K_column_means_ = K.mean(axis=0)
        self.K_mean_ = self.K_column_means_.mean()
        centred = K - self.K_column_means_[None, :] - self.K_column_means_[:, None] + self.K_mean_
        eigenvalues, eigenvectors = np.linalg.eigh(centred)
        top = np.argsort(eigenvalues)[::-1][: self.n_components]
        self.eigenvalues_ = eigenvalues[top]
        self._check_positive_eigenvalues(eigenvalues)
        self.eigenvectors_ = sign_flip_rows(eigenvectors[:, top].T).T
        self.dual_coef_ = self.eigenvectors_ / np.sqrt(self.eigenvalues_)
        self.X_fit_ = flat
        self.feature_shape_ = X.shape[1:]
        self.dtype_ = X.dtype.type
        return self

    def _check_positive_eigenvalues(self, all_eigenvalues):
        """Refuse components whose eigenvalue is zero up to rounding: they have no direction to project on."""
        tolerance = np.abs(all_eigenvalues).max() * all_eigenvalues.size * np.finfo(all_eigenvalues.dtype).eps
        usable = int(np.count_nonzero(all_eigenvalues > tolerance))
        if usable < self.n_components:
            raise ValueError(
                f"n_components: the centred {self.kernel} kernel matrix has only {usable} eigenvalues above "
                f"rounding level ({tolerance:.3g}), got n_components={self.n_components}"
            )

    def transform(self, X):
        """``z = kc(x) @ dual_coef_``, with ``kc(x)_n = k(x, x_n) - mean_m k(x, x_m) - mean_m K_mn + mean K``."""
        flat = self._check_transform_input(X, "transform")
        cross = self._kernel(flat, self.X_fit_)
        centred = cross - cross.mean(axis=1, keepdims=True) - self.K_column_means_[None, :] + self.K_mean_
        return centred @ self.dual_coef_

    def fit_transform(self, X, *, y=None):
        """The training projections ``sqrt(lambda_j) a_nj`` (equal to ``transform`` of the training data)."""
        self.fit(X, y=y)
        return self.eigenvectors_ * np.sqrt(self.eigenvalues_)

    def __repr__(self):
        return (
            f"KernelPCA(n_components={self.n_components}, kernel={self.kernel!r}, gamma={self.gamma}, "
            f"degree={self.degree}, coef0={self.coef0})"
        )
