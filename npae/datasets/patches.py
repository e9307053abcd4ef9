"""Small patches of photographs, and the preprocessing of UFLDL's sparse-autoencoder exercise.

The sparse autoencoder's best-known result: trained on 8x8 patches of natural images, its hidden units become
localized, oriented edge detectors (walkthrough 11). The pieces:

- ``extract_patches(images, size, n, seed)``: ``n`` patches of ``size`` x ``size`` pixels at random places,
  float ``(n, C, size, size)``; the image of each patch is drawn uniformly, so each photograph weighs the same
  whatever its size (UFLDL's ``sampleIMAGES`` does the same), then the position uniformly inside it;
- ``remove_patch_mean(patches)``: subtract each patch's own mean (its brightness, the "DC component"), so the
  model learns structure rather than lighting;
- ``normalize_patches(patches)``: UFLDL's ``normalizeData``: remove each patch's mean, clip every value to
  +-3 standard deviations (of all values together), and map ``[-3 sd, 3 sd]`` linearly onto ``[0.1, 0.9]``,
  the range a sigmoid output can reach without saturating;
- ``ZCA(epsilon)``: zero-phase whitening. With the data's covariance ``C = U diag(lambda) U^T`` (PCA),

      x_white = W (x - mu),    W = U diag(1 / sqrt(lambda + epsilon)) U^T.

  Photographs have most of their variance in smooth, low-frequency variations; whitening divides each
  principal direction by its standard deviation, so every direction gets the same variance and edges are no
  longer drowned by gradients of brightness. Of all whitening matrices, the symmetric ``W`` changes the data
  the least (it is the one closest to the identity), so a whitened patch still looks like a patch: its
  edges, sharpened. ``epsilon`` (in the units of the data's variance) keeps the directions of tiny variance,
  mostly noise, from being blown up; UFLDL used 0.1 for pixels in [0, 1].
"""

from __future__ import annotations

import numpy as np

from ..core.checks import as_generator, int_pair, positive_int, real_number
from ..models.pca import PCA, flatten_samples


def _check_images(images, size):
    """``images`` as a list of float (C, H, W) arrays with the same C, each at least ``size`` pixels."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
        images = list(images)
    if not isinstance(images, (list, tuple)) or not images:
        raise TypeError(
            "images: expected an (N, C, H, W) float array or a non-empty list of (C, H, W) float arrays, got "
            f"{type(images).__name__}"
        )
    for i, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.dtype.kind != "f":
            what = type(image).__name__
            if isinstance(image, np.ndarray):
                what = f"shape {image.shape} dtype {image.dtype}"
            raise ValueError(f"images[{i}]: expected a float (C, H, W) array, got {what}")
        if image.shape[0] != images[0].shape[0]:
            raise ValueError(f"images[{i}]: expected {images[0].shape[0]} channels like images[0], got {image.shape[0]}")
        if image.shape[1] < size[0] or image.shape[2] < size[1]:
            raise ValueError(f"images[{i}]: {image.shape[1]}x{image.shape[2]} pixels, smaller than a {size} patch")
    return images


def extract_patches(images, size=8, n=10000, seed=0):
    """``n`` random patches of ``size`` (an int or ``(h, w)``) pixels: float ``(n, C, h, w)``, in the images' dtype.

    ``images``: an ``(N, C, H, W)`` array or a list of ``(C, H, W)`` arrays of different sizes (as
    ``load_images(folder, size=None)`` gives). Each patch picks an image uniformly, then a position uniformly
    among the ``(H - h + 1) (W - w + 1)`` where the patch fits; ``seed`` (an int or a Generator) makes it
    reproducible.
    """
    size = int_pair(size, "size", minimum=1)
    n = positive_int(n, "n")
    images = _check_images(images, size)
    rng = as_generator(seed, "seed")
    which = rng.integers(len(images), size=n)
    room = np.array([(image.shape[1] - size[0] + 1, image.shape[2] - size[1] + 1) for image in images])
    tops = rng.integers(room[which, 0])
    lefts = rng.integers(room[which, 1])
    patches = np.empty((n, images[0].shape[0]) + size, dtype=images[0].dtype)
    for k in np.unique(which):
        mine = np.flatnonzero(which == k)
        windows = np.lib.stride_tricks.sliding_window_view(images[k], size, axis=(1, 2))  # (C, H', W', h, w)
        patches[mine] = np.moveaxis(windows[:, tops[mine], lefts[mine]], 0, 1)
    return patches


def remove_patch_mean(patches):
    """Each patch minus its own mean over all its values (pixels and channels), same shape and dtype."""
    flat = flatten_samples(patches)
    return (flat - flat.mean(axis=1, keepdims=True)).reshape(patches.shape)


def normalize_patches(patches, clip_std=3.0, low=0.1, high=0.9):
    """UFLDL's ``normalizeData``: remove each patch's mean, clip at ``+-clip_std`` standard deviations (of all
    values), and map ``[-clip_std sd, clip_std sd]`` linearly onto ``[low, high]``. Same shape and dtype."""
    clip_std = real_number(clip_std, "clip_std", low=0.0, include_low=False)
    low = real_number(low, "low")
    high = real_number(high, "high", low=low, include_low=False)
    centred = remove_patch_mean(patches)
    limit = clip_std * float(centred.std())
    if limit == 0:
        raise ValueError("patches: every patch is flat (constant), so there is no contrast to normalise")
    unit = np.clip(centred, -limit, limit) / limit  # in [-1, 1]
    return (low + (unit + 1) * (0.5 * (high - low))).astype(patches.dtype)


class ZCA:
    """``ZCA(epsilon=0.1)``: zero-phase whitening ``x_white = W (x - mu)`` with the symmetric
    ``W = U diag(1 / sqrt(lambda + epsilon)) U^T`` (see the module docstring).

    After ``fit(X)`` (X: N samples of any shape, flattened to D values; N >= D): ``mean_`` (D,), ``matrix_``
    (D, D) the whitening matrix ``W`` and ``inverse_`` (D, D) its inverse ``U diag(sqrt(lambda + epsilon)) U^T``,
    ``variances_`` (D,) the eigenvalues ``lambda`` of the 1/N covariance, descending.
    """

    def __init__(self, epsilon=0.1):
        self.epsilon = real_number(epsilon, "epsilon", low=0.0, include_low=False)
        self.matrix_ = None

    def fit(self, X):
        """Eigenvectors and eigenvalues of the covariance of ``X`` (by ``PCA``), then ``W`` and its inverse."""
        X = np.asarray(X)
        n_features = int(np.prod(X.shape[1:]))
        if X.ndim < 2 or X.shape[0] < n_features:
            raise ValueError(
                f"X: whitening {n_features} values per sample needs at least {n_features} samples to estimate "
                f"their covariance, got shape {X.shape}"
            )
        pca = PCA(n_features).fit(X)
        U, variances = pca.components_.T, pca.explained_variance_
        self.mean_, self.variances_ = pca.mean_, variances
        self.matrix_ = (U / np.sqrt(variances + self.epsilon)) @ U.T
        self.inverse_ = (U * np.sqrt(variances + self.epsilon)) @ U.T
        self.feature_shape_ = X.shape[1:]
        return self

    def _flat(self, X, method):
        if self.matrix_ is None:
            raise ValueError(f"ZCA.{method}: call fit(X) first")
        X = np.asarray(X)
        if X.shape[1:] != self.feature_shape_:
            raise ValueError(f"X: expected shape (N, {', '.join(map(str, self.feature_shape_))}), got {X.shape}")
        return flatten_samples(X)

    def transform(self, X):
        """``W (x - mu)`` for each sample, in the shape and dtype of ``X``."""
        flat = self._flat(X, "transform")
        return ((flat - self.mean_) @ self.matrix_).astype(X.dtype).reshape(X.shape)  # W is symmetric

    def inverse_transform(self, X):
        """``W^-1 x + mu``: whitened samples back in the original pixel space."""
        flat = self._flat(X, "inverse_transform")
        return (flat @ self.inverse_ + self.mean_).astype(X.dtype).reshape(X.shape)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def __repr__(self):
        return f"ZCA(epsilon={self.epsilon})"
