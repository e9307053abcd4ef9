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
measurements on 2000 test images (the spectrum on the first 50). ``--short``: 10000 training images, 8 epochs.

Run ``python walkthroughs/06_contractive_autoencoder.py`` (``--short`` for a run of about a minute, ``--quick``
for a seconds-long check).
"""

import time

import numpy as np

from npae import (
    MSE, Adam, Autoencoder, BinaryCrossEntropy, Contractive, CosineDecay, Dense, GaussianNoise, Sequential, Sigmoid,
    plots,
)
from npae.apps.walkthrough import Findings, load_data, parse_args, pick, save_figure, save_results
from npae.core.penalties import jacobian_frobenius_sq

HIDDEN = 500
LAMBDA = 0.1
PERTURBATIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3)
N_SPECTRUM = 50
CLIFF_RANK = 100  # the spectra are compared at this rank, relative to their largest singular value
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


def check_findings(findings, results, spectra):
    """The walkthrough's claims, each computed from this run's numbers."""
    cae, plain = (results[f"{key}_mean_jacobian_norm"] for key in ("contractive", "plain"))
    findings.check(
        "contractive_jacobian_is_smaller", cae < plain / 2,
        f"the contractive encoder's Jacobian norm is {plain / cae:.1f} times smaller ({cae:.2f} vs {plain:.2f})",
    )
    moves = {key: results[f"{key}_perturbations"]["code_displacement_ratio"][1:] for key in ("contractive", "plain")}
    findings.check(
        "contractive_code_moves_less", all(c < p for c, p in zip(moves["contractive"], moves["plain"])),
        f"a random perturbation moves the contractive code less at every size (at sigma {PERTURBATIONS[1]}: "
        f"{moves['contractive'][0]:.3f} vs {moves['plain'][0]:.3f} per unit of input displacement)",
    )
    falloff = {name: values[CLIFF_RANK - 1] / values[0] for name, values in spectra.items()}
    findings.check(
        "contractive_spectrum_falls_off", falloff["contractive AE"] < falloff["plain AE"] / 3,
        f"the contractive spectrum falls off: singular value {CLIFF_RANK} is {falloff['contractive AE']:.3f} of "
        f"the largest, against {falloff['plain AE']:.3f} for the plain encoder",
    )
    errors = {key: results[f"{key}_perturbations"]["test_mse"] for key in ("contractive", "plain")}
    findings.check(
        "contractive_error_starts_higher", errors["contractive"][0] > errors["plain"][0],
        f"the penalty costs accuracy on clean digits ({errors['contractive'][0]:.4f} vs {errors['plain'][0]:.4f})",
    )
    growth = {key: e[-1] - e[0] for key, e in errors.items()}
    findings.check(
        "contractive_error_grows_slower", growth["contractive"] < growth["plain"]
        and errors["contractive"][-1] < errors["plain"][-1],
        f"the contractive model's error grows more slowly with the perturbation and ends below the plain model's "
        f"({errors['contractive'][-1]:.4f} vs {errors['plain'][-1]:.4f} at sigma {PERTURBATIONS[-1]})",
    )


def norm_histogram(norms, title):
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    bins = np.linspace(0, max(n.max() for n in norms.values()), 50)
    for name, values in norms.items():
        ax.hist(values, bins=bins, alpha=0.7, color=COLORS[name], label=f"{name} (mean {values.mean():.2f})")
    ax.set_xlabel("Jacobian Frobenius norm ||dh/dx||_F of the encoder at a test digit")
    ax.set_ylabel("number of test digits")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def perturbation_figure(effects, titles):
    """Code displacement and reconstruction error against the perturbation size. Both axes start at 0, so the
    gap between the two models reads against the size of the values, not against a cropped range."""
    plt = plots.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    for name, e in effects.items():
        left.plot(PERTURBATIONS[1:], e["code_displacement_ratio"][1:], "o-", color=COLORS[name], label=name)
        right.plot(PERTURBATIONS, e["test_mse"], "o-", color=COLORS[name], label=name)
    left.set_ylabel("mean ||f(x + sigma e) - f(x)|| / ||sigma e||")
    left.set_title(titles[0], fontsize=9)
    right.set_ylabel("test MSE per pixel vs the clean digit")
    right.set_title(titles[1], fontsize=9)
    for ax in (left, right):
        ax.set_xlim(0, PERTURBATIONS[-1] * 1.05)
        ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.05)
        ax.set_xlabel("perturbation std sigma (Gaussian, per pixel, not clipped)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Small random input perturbations: contractive vs plain autoencoder", fontsize=11)
    fig.tight_layout()
    return fig


def spectrum_figure(spectra, n_images, title):
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, values in spectra.items():
        ax.plot(np.arange(1, len(values) + 1), values, color=COLORS[name], label=name)
    ax.set_yscale("log")
    ax.set_xlabel("rank of the singular value")
    ax.set_ylabel("singular value of dh/dx (mean over digits)")
    ax.axvline(CLIFF_RANK, color="gray", linestyle=":", linewidth=1)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main():
    args = parse_args(__doc__)
    data = load_data(args, n_train=pick(args, full=20000, short=20000, quick=1000), n_test=2000)
    epochs = pick(args, full=10, short=10, quick=1)
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
    findings = Findings()
    check_findings(findings, results, spectra)
    save_figure(norm_histogram(norms, findings.title(
        "How sensitive the code is to the input: contractive vs plain autoencoder",
        "contractive_jacobian_is_smaller")), args.out, "jacobian_norms")
    save_figure(perturbation_figure(effects, [
        findings.title("code displacement per unit of input displacement", "contractive_code_moves_less"),
        findings.title("reconstruction error of perturbed test digits", "contractive_error_starts_higher",
                       "contractive_error_grows_slower"),
    ]), args.out, "perturbations")
    save_figure(spectrum_figure(spectra, N_SPECTRUM, findings.title(
        f"Singular values of the encoder's Jacobian at {N_SPECTRUM} test digits",
        "contractive_spectrum_falls_off")), args.out, "jacobian_spectrum")
    save_results(args.out, results, findings)


if __name__ == "__main__":
    main()
