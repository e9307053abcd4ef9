"""01 - PCA, a linear autoencoder and a nonlinear autoencoder: who compresses MNIST best?

The story
---------
An autoencoder squeezes each image ``x`` (784 pixels in [0, 1]) through a short code ``z = f(x)`` of k numbers
and rebuilds it as ``x_hat = g(z)``. Training minimises the reconstruction error, here the mean squared error
per pixel, ``MSE = 1/(N D) sum_n |x_n - x_hat_n|^2`` (D = 784). We compare three ways to do it with k = 32.

1. **PCA** needs no training. Centre the data (``mu`` = mean image), find the k directions of largest
   variance (the top eigenvectors ``V_k`` of the covariance), and keep the coordinates along them:
   ``z = (x - mu) V_k``, ``x_hat = z V_k^T + mu``. No linear map of rank k reconstructs the training set
   better (Eckart-Young); the error left is the variance of the discarded directions.

2. A **linear autoencoder**, ``f(x) = x W1 + b1`` and ``g(z) = z W2 + b2``, trained by gradient descent on the
   same MSE. It can do no better than PCA, and at its optimum the rows of ``W2`` span the *same* subspace
   (Baldi & Hornik 1989). Its code directions are not PCA's directions, though: for any invertible k x k
   matrix A, the pair ``(W1 A, A^-1 W2)`` reconstructs exactly as well, so gradient descent lands on some
   mixture of the principal directions, neither orthogonal nor ordered by variance. Subspaces are compared by
   their **principal angles**: 0 degrees for a shared direction, 90 for orthogonal ones.

3. The **dense autoencoder** 784-256-128-32-128-256-784 (ReLU hidden layers, linear code, sigmoid output,
   Adam lr 1e-3, batch 200). Its code is still 32 numbers, but ``f`` and ``g`` are nonlinear: the images
   live on a curved surface rather than a flat subspace, and a curved decoder follows it more closely.

What to look at
---------------
- ``error_vs_code_size.png``: test MSE against k for PCA and for the dense autoencoder; the gap is what
  nonlinearity buys at each code size.
- ``principal_angles.png``: the 32 angles between the linear autoencoder's decoder span and PCA's; all
  small means "same subspace" (they shrink further with longer training).
- ``directions.png``: PCA's orthonormal, variance-ordered directions beside the linear autoencoder's
  decoder rows (mixtures of them).
- ``reconstructions.png``: one test digit of each class, reconstructed by the three models.
- ``training_curves.png``: train and test MSE per epoch of both autoencoders.

What we found (full run, seed 0)
--------------------------------
Test MSE per pixel at k = 32: PCA 0.0168, linear autoencoder 0.0169 (PCA's floor, reached within 1%), dense
autoencoder 0.0076 after 10 epochs, less than half of PCA's. The 32 principal angles between the linear
autoencoder's decoder span and PCA's subspace have a median of 2 degrees and a maximum of 7 (the last
directions, whose variances are nearly tied, converge slowest). The dense autoencoder beats PCA at every
code size, by the widest margin at small codes (k = 2: 0.039 vs 0.056).

Full run: 60000 training images, 10 epochs per autoencoder, code sizes 2-64 for the sweep. ``--short``: 4
epochs, code sizes 2, 8 and 32.
"""

import time

import numpy as np

from npae import PCA, Adam, Autoencoder, Dense, dense_autoencoder, plots
from npae.apps.walkthrough import Findings, load_data, one_per_class, parse_args, pick, save_figure, save_results
from npae.models.pca import principal_angles

CODE_DIM = 32


def pca_reconstruct(pca, X, k):
    """``x_hat = (x - mu) V_k^T V_k + mu`` with the first k of a fitted PCA's directions.

    PCA directions are nested (PCA-k keeps the first k directions of PCA-K), so one fit serves every k.
    """
    V = pca.components_[:k]
    return (X - pca.mean_) @ V.T @ V + pca.mean_


def pca_test_mse(pca, X, k):
    """Test MSE per pixel of PCA with k directions."""
    return float(np.mean((X - pca_reconstruct(pca, X, k)) ** 2))


def linear_autoencoder(code_dim, seed):
    """``x -> x W1 + b1 -> z W2 + b2``: no activation anywhere."""
    rng = np.random.default_rng(seed)
    return Autoencoder([Dense(784, code_dim, rng=rng)], [Dense(code_dim, 784, rng=rng)], loss="mse")


def train(model, data, epochs, seed):
    """Fit with Adam lr 1e-3, batch 200, the test set as validation; returns (history, seconds)."""
    start = time.perf_counter()
    history = model.fit(data.x_train, epochs=epochs, batch_size=200, validation_data=data.x_test,
                        optimizer=Adam(1e-3), seed=seed)
    return history, time.perf_counter() - start


def code_size_sweep(data, pca, sizes, epochs, seed):
    """Test MSE of PCA and of a dense autoencoder for each code size; returns the two lists and the models."""
    pca_mse, ae_mse, models = [], [], {}
    for k in sizes:
        pca_mse.append(pca_test_mse(pca, data.x_test, k))
        print(f"code size {k}: PCA test MSE {pca_mse[-1]:.5f}; training the dense autoencoder")
        model = dense_autoencoder(code_dim=k, seed=seed)
        history, seconds = train(model, data, epochs, seed)
        ae_mse.append(model.evaluate(data.x_test)["loss"])
        models[k] = (model, history, seconds)
    return pca_mse, ae_mse, models


def direction_figure(pca, decoder_W, title, n=8):
    """PCA's first n directions (top) and the linear decoder's first n rows (bottom), each on its own scale."""
    rows = np.concatenate([pca.components_[:n], decoder_W[:n]])
    scaled = [0.5 + 0.5 * r / np.abs(r).max() for r in rows]
    return plots.image_grid(
        scaled, nrows=2, row_labels=["PCA direction", "linear AE\ndecoder row"],
        title=f"{title}\ngray = 0, white = positive, black = negative",
    )


def best_direction_match(pca, decoder_W):
    """For each decoder row, the largest |cosine| with any PCA direction of the same subspace: 1 when the row
    is a principal direction itself, smaller when it mixes several."""
    rows = decoder_W / np.linalg.norm(decoder_W, axis=1, keepdims=True)
    return np.abs(rows @ pca.components_[:len(decoder_W)].T.astype(np.float64)).max(axis=1)


def check_findings(findings, sizes, pca_mse, ae_mse, linear_mse, angles, match):
    """The walkthrough's claims, each computed from this run's numbers."""
    k = sizes.index(CODE_DIM)
    findings.check(
        "dense_beats_pca_at_every_code_size", all(a < p for a, p in zip(ae_mse, pca_mse)),
        f"the dense autoencoder beats PCA at every code size (k = {CODE_DIM}: {ae_mse[k]:.4f} vs {pca_mse[k]:.4f})",
    )
    findings.check(
        "linear_ae_reaches_pca", linear_mse <= 1.05 * pca_mse[k],
        f"the linear autoencoder comes within 5% of PCA's error ({linear_mse:.4f} vs {pca_mse[k]:.4f})",
    )
    findings.check(
        "linear_ae_finds_pca_subspace", float(np.median(angles)) < 10.0,
        f"the linear autoencoder's decoder spans PCA's subspace (median principal angle "
        f"{np.median(angles):.1f} degrees, max {angles.max():.1f})",
    )
    findings.check(
        "linear_ae_directions_are_mixtures", findings.outcomes["linear_ae_finds_pca_subspace"]
        and float(np.median(match)) < 0.9,
        f"the linear autoencoder's decoder rows are mixtures of PCA's directions, not the directions themselves "
        f"(median best |cosine| with a PCA direction {np.median(match):.2f})",
    )


def main():
    args = parse_args(__doc__)
    data = load_data(args)
    epochs = pick(args, full=10, short=4, quick=1)
    sizes = pick(args, full=[2, 4, 8, 16, 32, 64], short=[2, 8, CODE_DIM], quick=[2, CODE_DIM])

    pca = PCA(max(sizes)).fit(data.x_train)
    pca_mse, ae_mse, models = code_size_sweep(data, pca, sizes, epochs, args.seed)
    dense, dense_history, dense_seconds = models[CODE_DIM]

    print(f"training the linear autoencoder (code size {CODE_DIM})")
    linear = linear_autoencoder(CODE_DIM, args.seed)
    linear_history, linear_seconds = train(linear, data, epochs, args.seed)
    decoder_W = linear.decoder[0].params["W"].astype(np.float64)
    angles = principal_angles(pca.components_[:CODE_DIM].astype(np.float64), decoder_W)
    match = best_direction_match(pca, decoder_W)
    linear_mse = linear.evaluate(data.x_test)["loss"]
    findings = Findings()
    check_findings(findings, sizes, pca_mse, ae_mse, linear_mse, angles, match)

    save_figure(plots.line_plot(
        sizes, {"PCA": pca_mse, "dense autoencoder (784-256-128-k)": ae_mse},
        xlabel="code size k (numbers per image)", ylabel="test MSE per pixel", logx=True,
        title=findings.title(f"test reconstruction error vs code size: PCA vs dense autoencoder ({epochs} epochs)",
                             "dense_beats_pca_at_every_code_size"),
    ), args.out, "error_vs_code_size")
    save_figure(plots.line_plot(
        np.arange(1, len(angles) + 1), {"principal angle": angles},
        xlabel="angle index (ascending)", ylabel="angle (degrees)",
        title=findings.title(f"principal angles: linear AE decoder span vs PCA-{CODE_DIM} subspace (0 = same "
                             "direction)", "linear_ae_finds_pca_subspace"),
    ), args.out, "principal_angles")
    save_figure(direction_figure(pca, decoder_W, findings.title(
        "first 8 PCA directions (orthonormal, by variance) vs the linear AE's first 8 decoder rows",
        "linear_ae_directions_are_mixtures")), args.out, "directions")

    picks = one_per_class(data.y_test)
    originals = data.x_test[picks]
    save_figure(plots.reconstruction_rows(
        originals,
        {f"PCA-{CODE_DIM}": pca_reconstruct(pca, originals, CODE_DIM),
         "linear AE": linear.reconstruct(originals), "dense AE": dense.reconstruct(originals)},
        digit_labels=data.y_test[picks],
        title=f"test digits (top) and their reconstructions from {CODE_DIM} numbers",
    ), args.out, "reconstructions")
    save_figure(plots.training_curves(
        [dense_history, linear_history], ["dense AE", "linear AE"], ylabel="MSE per pixel",
        title="MSE per pixel by epoch: train (solid) vs test (dashed)", logy=True, val_name="test",
    ), args.out, "training_curves")

    save_results(args.out, {
        "data": str(data),
        "epochs": epochs,
        "code_dim": CODE_DIM,
        f"pca{CODE_DIM}_test_mse": pca_mse[sizes.index(CODE_DIM)],
        f"linear_ae{CODE_DIM}_test_mse": linear_mse,
        f"dense_ae{CODE_DIM}_test_mse": dense.evaluate(data.x_test)["loss"],
        "dense_ae_train_seconds": dense_seconds,
        "linear_ae_train_seconds": linear_seconds,
        "max_principal_angle_deg": float(angles.max()),
        "median_principal_angle_deg": float(np.median(angles)),
        "principal_angles_deg": angles,
        "median_best_cosine_decoder_row_vs_pca": float(np.median(match)),
        "code_sizes": sizes,
        "pca_test_mse_by_code_size": pca_mse,
        "dense_ae_test_mse_by_code_size": ae_mse,
        "dense_ae_history": dense_history.history,
    }, findings)


if __name__ == "__main__":
    main()
