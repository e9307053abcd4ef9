"""Small numerical functions used in several places, each defined once and written to be stable.

- ``softplus(x) = log(1 + e^x)``: the activation, the Bernoulli (binary cross-entropy) loss and the VAE's
  likelihood all use it;
- ``logsumexp`` and ``log_softmax``: the max-shifted forms that never overflow;
- ``one_hot``: integer labels as rows of the identity;
- ``squared_distances``: all pairwise ``|a_i - b_j|^2`` by one matrix product (kernel PCA, t-SNE);
- ``conv_output_size``: the output length of a convolution or pooling window along one axis;
- ``binarize``: dynamic binarisation of images in [0, 1] (a Bernoulli VAE's training data).
"""

from __future__ import annotations

import numpy as np

from .checks import as_generator, check_float_dtype


def softplus(x):
    """``log(1 + e^x) = max(x, 0) + log(1 + e^{-|x|})``: the second form never overflows, for any ``|x|``."""
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


def logsumexp(a, axis=-1):
    """``log sum_i e^{a_i} = m + log sum_i e^{a_i - m}`` with ``m = max_i a_i``.

    Subtracting the maximum changes nothing mathematically but keeps every ``e^{a_i - m} <= 1`` (no overflow)
    with at least one term equal to 1 (the log never sees 0). A slice that is all ``-inf`` (every term zero)
    gives ``-inf``, not NaN: its shift is taken as 0.
    """
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for an all -inf slice
        return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def log_softmax(z):
    """``log softmax(z)_k = z_k - log sum_j e^{z_j}`` over the last axis.

    Computed as ``s_k - logsumexp(s)`` with ``s = z - max_j z_j``: the same number, but the subtraction of two
    large values (``z_k`` and the log-sum-exp of z) is done exactly, once, before anything is rounded.
    """
    m = np.max(z, axis=-1, keepdims=True)
    shifted = z - np.where(np.isfinite(m), m, 0)
    return shifted - logsumexp(shifted, axis=-1)[..., None]


def one_hot(labels, n_classes, dtype=np.float32):
    """Integer labels (N,) in ``0..n_classes-1`` as rows of the identity: ``one_hot([2], 4) = [[0, 0, 1, 0]]``."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise TypeError(f"labels: expected a 1-D integer array, got dtype {labels.dtype} shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels: expected values in 0..{n_classes - 1}, got range [{labels.min()}, {labels.max()}]")
    return np.eye(n_classes, dtype=dtype)[labels]


def squared_distances(A, B=None):
    """Pairwise squared Euclidean distances ``|a_i - b_j|^2`` (N_A, N_B), clipped at 0 (rounding).

    Uses ``|a|^2 + |b|^2 - 2 a.b`` so the work is one matrix product; with ``B`` None, ``B = A`` and the
    diagonal is exactly 0.
    """
    same = B is None
    B = A if same else B
    a2 = np.einsum("ij,ij->i", A, A)
    b2 = a2 if same else np.einsum("ij,ij->i", B, B)
    d2 = a2[:, None] + b2[None, :] - 2 * (A @ B.T)
    np.maximum(d2, 0, out=d2)
    if same:
        np.fill_diagonal(d2, 0)
    return d2


def conv_output_size(size, kernel, stride, padding):
    """``(size + 2 padding - kernel) // stride + 1``: how many windows fit along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


def binarize(images, rng):
    """Dynamic binarisation: each pixel becomes 1 with probability equal to its value, else 0.

    Drawing a fresh binary image at every pass (rather than thresholding once) is the standard way to train a
    Bernoulli VAE on MNIST without overfitting the grey levels. Keeps the dtype and shape of ``images``;
    ``rng`` is a Generator or an int seed.
    """
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images: expected a numpy array, got {type(images).__name__}")
    dtype = check_float_dtype(images.dtype, "images")
    if images.size and not (images.min() >= 0.0 and images.max() <= 1.0):
        raise ValueError(f"images: expected values in [0, 1], got range [{images.min()}, {images.max()}]")
    uniform = as_generator(rng).random(images.shape, dtype=dtype)
    return (uniform < images).astype(dtype)
