"""A linear autoencoder trained with MSE finds the principal subspace (Baldi & Hornik 1989).

Encoder ``z = x W_e + b_e``, decoder ``x_hat = z W_d + b_d``, no activations, on centred data. Every local
minimum of the MSE is global, and at the minimum the decoder's row space (``W_d`` is (k, D), its rows are
the directions a code is decoded along) is the span of the top-k principal components, provided the k-th
and (k+1)-th eigenvalues differ. The rows themselves are not the components: any invertible k x k mixing
``W_d -> A W_d``, ``W_e -> W_e A^-1`` reconstructs the same, so we compare subspaces by principal angles.
No rank-k linear map beats PCA on its own training data (Eckart & Young 1936), which the tests check too.
"""

import numpy as np
import pytest

from support import mnist_dir, requires_mnist
from npae import PCA, Adam, Autoencoder, CosineDecay, Dense, Sequential
from npae.models.pca import principal_angles


def linear_autoencoder(n_features, code_dim, dtype=np.float64, seed=0):
    encoder = Sequential([Dense(n_features, code_dim, rng=seed, dtype=dtype)])
    decoder = Sequential([Dense(code_dim, n_features, rng=seed + 1, dtype=dtype)])
    return Autoencoder(encoder, decoder, loss="mse")


def train(model, X, epochs, lr, batch_size):
    """Adam with a cosine decay of the rate to 0: the late small steps settle the slow directions."""
    optimizer = Adam(lr, schedule=CosineDecay(epochs))
    return model.fit(X, epochs=epochs, batch_size=batch_size, optimizer=optimizer, seed=0, verbose=0)


def decoder_angles(model, pca):
    return principal_angles(model.decoder.layers[0].params["W"], pca.components_)


def test_principal_angles_see_an_untrained_decoder_as_far_from_pca(rng):
    """The comparison can fail: random decoder rows in 20-D are tens of degrees away from the subspace."""
    X = rng.standard_normal((100, 20)) * np.linspace(3, 0.1, 20)
    assert decoder_angles(linear_autoencoder(20, 3), PCA(3).fit(X)).max() > 20


def test_linear_autoencoder_spans_the_principal_subspace_on_low_rank_data(rng):
    """3 directions with variances 25, 9, 4 in 20-D plus noise of variance 0.01: a clear eigengap.
    After training, every principal angle between the decoder's row space and PCA's is under 2 degrees."""
    n, d, k = 500, 20, 3
    basis, _ = np.linalg.qr(rng.standard_normal((d, k)))
    X = (rng.standard_normal((n, k)) * [5.0, 3.0, 2.0]) @ basis.T + 0.1 * rng.standard_normal((n, d)) + 1.0
    X -= X.mean(axis=0)
    pca = PCA(k).fit(X)
    model = linear_autoencoder(d, k)
    train(model, X, epochs=30, lr=3e-2, batch_size=100)
    assert decoder_angles(model, pca).max() < 2.0
    assert model.evaluate(X)["loss"] >= pca.reconstruction_error(X) * (1 - 1e-9)  # Eckart-Young


@requires_mnist
def test_linear_autoencoder_matches_pca_on_mnist():
    """5000 MNIST training digits, k = 16, float64, 30 epochs: the test MSE is within 1% of PCA's and the
    MEDIAN principal angle is under 2 degrees. The last angles close slowly where eigenvalues are close:
    the error mixing a kept direction i with a discarded one j shrinks at a rate proportional to
    lambda_i - lambda_j, and here the 16th and 17th eigenvalues (0.82 and 0.68 per image) differ by a few
    percent of the first (5.2), so the largest angle lags behind the median. (Measured, median / largest:
    3.2 / 51 degrees after 5 epochs, 2.5 / 4.4 after 10, 0.15 / 0.29 after 30; test MSE then within 0.02%
    of PCA's.)"""
    datasets = pytest.importorskip("npae.datasets", reason="npae.datasets (load_mnist) is not available")
    train_images, _ = datasets.load_mnist("train", data_dir=mnist_dir(), flatten=True)
    test_images, _ = datasets.load_mnist("test", data_dir=mnist_dir(), flatten=True)
    X_train = train_images[:5000].astype(np.float64)
    mean = X_train.mean(axis=0)
    X_train -= mean
    X_test = test_images[:1000].astype(np.float64) - mean
    k = 16
    pca = PCA(k).fit(X_train)
    model = linear_autoencoder(784, k)
    train(model, X_train, epochs=30, lr=1e-2, batch_size=250)
    assert abs(model.evaluate(X_test)["loss"] / pca.reconstruction_error(X_test) - 1) < 0.01
    assert np.median(decoder_angles(model, pca)) < 2.0
    assert model.evaluate(X_train)["loss"] >= pca.reconstruction_error(X_train) * (1 - 1e-9)  # Eckart-Young
