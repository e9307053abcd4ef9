"""06 - Contractive autoencoder: penalising the encoder's Jacobian makes the code insensitive to small input changes.

An encoder ``h = f(x)`` is *contractive* at ``x`` if small moves of the input move the code even less. The
contractive autoencoder (Rifai et al. 2011) adds to the reconstruction loss the squared Frobenius norm of the
encoder's Jacobian ``J(x) = dh/dx``, the sum of the squares of all partial derivatives ``dh_j / dx_i``:

    L = mean_n [ BCE(g(f(x_n)), x_n)  +  lambda ||J(x_n)||_F^2 ]

For one sigmoid layer ``h = s(x W + b)`` the Jacobian is ``J[j, i] = s'(a_j) W_ij``, so the penalty has a closed
form, no derivatives of the network needed:

    ||J(x)||_F^2 = sum_j s'(a_j)^2 sum_i W_ij^2.

The two terms pull against each other: the reconstruction needs the code to change when the digit changes,
the penalty wants it to change as little as possible everywhere. The compromise is a code that stays sensitive
along the few directions in which digits actually vary and flattens every other direction, including most
of the noise directions.

We train a 784 -> 500 sigmoid -> 784 autoencoder with lambda = 0.1 (BCE summed over the pixels, in nats per
image, as in the paper) and the same model without the penalty, from the same initial weights. On test
digits we measure

- the Jacobian norm ``||J(x)||_F`` (closed form above): the contractive model's is much smaller;
- what a small random perturbation ``x + sigma e`` (``e ~ N(0, I)``, not clipped) does: how far the code
  moves relative to the input (``||f(x + sigma e) - f(x)|| / ||sigma e||``), and the reconstruction error
  against the clean digit;
- the singular values of ``J(x)``: a contractive encoder keeps a few large ones (the directions along which
  digits vary) and crushes the rest.

What to look for: the contractive encoder's Jacobian norm is several times smaller on every test digit, and
a random perturbation moves its code correspondingly less. Its spectrum stays flat for the first few dozen
directions and then falls off a cliff, while the plain encoder's decays slowly: it responds to almost any
change of the pixels. The penalty costs some accuracy on clean digits (the contractive model's error starts
higher), but its error grows more slowly with the perturbation and ends below the plain model's.

Full run: 20000 training images, 10 epochs of Adam (batch 100, rate 3e-3 decaying along a cosine) per model;
measurements on 2000 test images (the spectrum on the first 50).

Run ``python walkthroughs/06_contractive_autoencoder.py`` (``--quick`` for a seconds-long check).
"""

import time

import numpy as np

from npae import plots
from npae.core.layers import Dense, GaussianNoise, Sequential, Sigmoid
from npae.core.losses import MSE, BinaryCrossEntropy
from npae.models import Autoencoder
from npae.core.optim import Adam, CosineDecay
from npae.core.penalties import Contractive, jacobian_frobenius_sq
from npae.apps.walkthrough import load_data, parse_args, pick, save_figure, save_results

HIDDEN = 500
LAMBDA = 0.1
PERTURBATIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3)
N_SPECTRUM = 50
COLORS = {"contractive AE": "C0", "plain AE": "C1"}


def build(contractive, seed):
    """784-500-784, sigmoid code, BCE on logits summed over pixels; same seed, same initial weights."""
    rng = np.random.default_rng(seed)
    encoder = Sequential([Dense(784, HIDDEN, rng=rng), Sigmoid()])
    decoder = Sequential([Dense(HIDDEN, 784, rng=rng)])
    penalties = [Contractive(LAMBDA)] if contractive else []
    return Autoencoder(encoder, decoder, loss=BinaryCrossEntropy(reduction="sum"), penalties=penalties)


def jacobian_norms(model, x):
    """``||J(x_n)||_F`` for every test image (the encoder is one Dense + Sigmoid)."""
    return np.sqrt(jacobian_frobenius_sq(model.encoder[0], model.encoder[1], x))


def jacobian_spectrum(model, x):
    """Mean over the images of the sorted singular values of ``J(x_n) = diag(s'(a_n)) W^T`` (500 x 784).

    They are the square roots of the eigenvalues of ``J J^T = diag(s') (W^T W) diag(s')`` (500 x 500), which
    shares ``W^T W`` between all images (float64, so the small ones keep their digits).
    """
    dense, activation = model.encoder[0], model.encoder[1]
    W = dense.params["W"].astype(np.float64)
    gram = W.T @ W
    slopes = activation.df(x @ dense.params["W"] + dense.params["b"]).astype(np.float64)
    eigenvalues = [np.linalg.eigvalsh(s[:, None] * gram * s[None, :])[::-1] for s in slopes]
    return np.mean(np.sqrt(np.clip(eigenvalues, 0, None)), axis=0)


def perturbation_effects(model, x, seed):
    """For each sigma: mean code displacement per unit of input displacement, and MSE to the clean image."""
    clean_codes = model.encode(x)
    code_ratio, mse = [], []
    for i, sigma in enumerate(PERTURBATIONS):
        moved = x if sigma == 0 else GaussianNoise(sigma, clip=None).corrupt(x, np.random.default_rng(seed + i))
        mse.append(MSE().value(model.reconstruct(moved), x))
        if sigma == 0:
            code_ratio.append(0.0)
            continue
        ratio = np.linalg.norm(model.encode(moved) - clean_codes, axis=1) / np.linalg.norm(moved - x, axis=1)
        code_ratio.append(float(ratio.mean()))
    return {"code_displacement_ratio": code_ratio, "test_mse": mse}


def norm_histogram(norms):
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    bins = np.linspace(0, max(n.max() for n in norms.values()), 50)
    for name, values in norms.items():
        ax.hist(values, bins=bins, alpha=0.7, color=COLORS[name], label=f"{name} (mean {values.mean():.2f})")
    ax.set_xlabel("Jacobian Frobenius norm ||dh/dx||_F of the encoder at a test digit")
    ax.set_ylabel("number of test digits")
    ax.set_title("How sensitive the code is to the input: contractive vs plain autoencoder", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def perturbation_figure(effects):
    plt = plots.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, e in effects.items():
        left.plot(PERTURBATIONS[1:], e["code_displacement_ratio"][1:], "o-", color=COLORS[name], label=name)
        right.plot(PERTURBATIONS, e["test_mse"], "o-", color=COLORS[name], label=name)
    left.set_ylim(bottom=0)
    left.set_ylabel("mean ||f(x + sigma e) - f(x)|| / ||sigma e||")
    left.set_title("code displacement per unit of input displacement", fontsize=10)
    right.set_ylabel("test MSE per pixel vs the clean digit")
    right.set_title("reconstruction error of perturbed test digits", fontsize=10)
    for ax in (left, right):
        ax.set_xlabel("perturbation std sigma (Gaussian, per pixel, not clipped)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Small random input perturbations: contractive vs plain autoencoder", fontsize=11)
    fig.tight_layout()
    return fig


def spectrum_figure(spectra, n_images):
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, values in spectra.items():
        ax.plot(np.arange(1, len(values) + 1), values, color=COLORS[name], label=name)
    ax.set_yscale("log")
    ax.set_xlabel("rank of the singular value")
    ax.set_ylabel("singular value of dh/dx (mean over digits)")
    ax.set_title(f"Jacobian spectrum at {n_images} test digits: few sensitive directions vs many", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main():
    args = parse_args(__doc__)
    data = load_data(args, n_train=pick(args, full=20000, quick=1000), n_test=2000)
    epochs = pick(args, full=10, quick=1)
    results = {"data": data.source, "lambda": LAMBDA, "hidden_units": HIDDEN, "epochs": epochs}
    norms, effects, spectra = {}, {}, {}
    for key, name, contractive in (("contractive", "contractive AE", True), ("plain", "plain AE", False)):
        model = build(contractive, args.seed)
        start = time.perf_counter()
        optimizer = Adam(3e-3, schedule=CosineDecay(epochs, min_factor=0.05))
        model.fit(data.x_train, epochs=epochs, batch_size=100, optimizer=optimizer, seed=args.seed)
        results[f"{key}_train_seconds"] = time.perf_counter() - start
        norms[name] = jacobian_norms(model, data.x_test)
        effects[name] = perturbation_effects(model, data.x_test, args.seed)
        spectra[name] = jacobian_spectrum(model, data.x_test[:N_SPECTRUM])
        results[f"{key}_mean_jacobian_norm"] = float(norms[name].mean())
        results[f"{key}_test_mse_per_pixel"] = effects[name]["test_mse"][0]
        results[f"{key}_perturbations"] = {"sigma": list(PERTURBATIONS), **effects[name]}
    results["contractive_has_smaller_jacobian"] = bool(
        results["contractive_mean_jacobian_norm"] < results["plain_mean_jacobian_norm"]
    )
    save_figure(norm_histogram(norms), args.out, "jacobian_norms")
    save_figure(perturbation_figure(effects), args.out, "perturbations")
    save_figure(spectrum_figure(spectra, N_SPECTRUM), args.out, "jacobian_spectrum")
    save_results(args.out, results)


if __name__ == "__main__":
    main()
