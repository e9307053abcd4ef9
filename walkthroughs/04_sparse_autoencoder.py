"""04 - Sparse autoencoder: a KL penalty makes every hidden unit fire rarely, and its filters become pen strokes.

The setting of Andrew Ng's UFLDL exercise on MNIST: 784 pixels -> 196 sigmoid units -> 784 sigmoid outputs.
With 196 units an autoencoder has plenty of room; nothing forces its hidden units to mean anything. The sparse
autoencoder asks each hidden unit j to be *rarely* active: its mean activation over the data,

    rho_hat_j = mean over images of h_j(x)          (a sigmoid, so a firing rate in (0, 1)),

should be close to a small target rho = 0.1. The penalty is the Kullback-Leibler divergence between a coin
that comes up 1 with probability rho and one with probability rho_hat_j,

    KL(rho || rho_hat_j) = rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j)),

zero when rho_hat_j = rho and growing fast as the unit fires more (or never). UFLDL's cost is

    J = 1/N sum_n 1/2 ||x_hat_n - x_n||^2  +  lambda/2 sum W^2  +  beta sum_j KL(rho || rho_hat_j)

with rho = 0.1, beta = 3, lambda = 3e-3 (weight decay on both weight matrices, not on biases). npae's
``MSE(reduction="sum")`` is the per-image squared error *without* the 1/2, so we train 2J: ``WeightDecay(2 lambda)``
and ``KLSparsity(rho, 2 beta)``. Adam is unchanged by a constant factor on the loss, so this is UFLDL's
optimisation (UFLDL used L-BFGS on the full batch; here rho_hat is the mean over each minibatch of 100, and Adam's
rate decays from 1e-2 along a cosine so that the weights settle, as L-BFGS's would).

We train the sparse model and an unregularised one from the same initial weights and compare:

- how often each hidden unit fires on the test images (histogram of rho_hat_j): near rho for the sparse model,
  around one half for the plain one;
- the filters: the weights into each hidden unit, shown as a 28 x 28 image (a column of W). The sparse model's
  units become smooth stroke- and digit-part detectors on a quiet background; the plain model's are blotchy
  high-frequency patterns spread over the whole square (each unit is busy half the time, none specialises),
  even over the border pixels, which are 0 in every MNIST image: nothing ever changes their weights, so
  without weight decay they keep their random initial values.

Sparsity is not free: the sparse model reconstructs worse than the unconstrained one (``results.json`` has
both test errors). What it buys is a code in which each unit means something.

Full run: UFLDL's 10000 training images, 20 epochs of Adam (batch 100); all 10000 test images. ``--short``: 10
epochs.

Run ``python walkthroughs/04_sparse_autoencoder.py`` (``--short`` for a run of about a minute, ``--quick`` for a
seconds-long check).
"""

import math
import time

import numpy as np

from npae import MSE, Adam, Autoencoder, CosineDecay, Dense, KLSparsity, Sequential, Sigmoid, WeightDecay, plots
from npae.apps.walkthrough import Findings, load_data, parse_args, pick, save_figure, save_results

RHO, BETA, LAMBDA = 0.1, 3.0, 3e-3
HIDDEN = 196
N_FILTERS = 49


def build(sparse, seed):
    """784-196-784 sigmoid autoencoder; the same seed gives both models the same initial weights."""
    rng = np.random.default_rng(seed)
    encoder = Sequential([Dense(784, HIDDEN, rng=rng), Sigmoid()])
    decoder = Sequential([Dense(HIDDEN, 784, rng=rng), Sigmoid()])
    penalties = [WeightDecay(2 * LAMBDA), KLSparsity(RHO, 2 * BETA)] if sparse else []
    return Autoencoder(encoder, decoder, loss=MSE(reduction="sum"), penalties=penalties)


def filter_mosaic(W, n):
    """The first ``n`` columns of W as 28 x 28 tiles in one square mosaic, each scaled to its own [-max, max]."""
    side = math.isqrt(n)
    tiles = W[:, : side * side].T.reshape(side, side, 28, 28)
    tiles = tiles / np.abs(tiles).max(axis=(2, 3), keepdims=True)
    padded = np.pad(tiles, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=np.nan)
    return padded.transpose(0, 2, 1, 3).reshape(side * 30, side * 30)


def dead_pixel_weight(W, x_train):
    """Mean |weight| from the pixels that are 0 in every training image: only weight decay ever changes them."""
    dead = x_train.max(axis=0) == 0
    return float(np.abs(W[dead]).mean())


def check_findings(findings, results):
    """The walkthrough's claims, each computed from this run's numbers."""
    sparse, plain = results["sparse_mean_hidden_activation"], results["plain_mean_hidden_activation"]
    findings.check(
        "sparse_units_fire_at_rho", abs(sparse - RHO) < 0.25 * RHO,
        f"the sparse model's hidden units fire at a mean rate of {sparse:.3f}, close to the target rho = {RHO}",
    )
    findings.check(
        "plain_units_fire_far_more", plain > 3 * sparse,
        f"the unregularised model's units fire {plain / sparse:.1f} times as often ({plain:.3f})",
    )
    sparse_mse, plain_mse = results["sparse_test_mse_per_pixel"], results["plain_test_mse_per_pixel"]
    findings.check(
        "sparsity_costs_reconstruction", sparse_mse > plain_mse,
        f"sparsity costs reconstruction: test MSE per pixel {sparse_mse:.4f} against {plain_mse:.4f} unregularised",
    )
    sparse_dead, plain_dead = results["sparse_dead_pixel_weight"], results["plain_dead_pixel_weight"]
    findings.check(
        "decay_clears_the_border", sparse_dead < 0.1 * plain_dead,
        f"weight decay clears the weights from pixels that are 0 in every image (mean |W| {sparse_dead:.4f}), "
        f"which keep their random start without it ({plain_dead:.4f})",
    )


def activation_histograms(mean_activations, title):
    """Side by side: per model, the histogram of the hidden units' mean activations, with rho marked."""
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, len(mean_activations), figsize=(5 * len(mean_activations), 3.6), sharey=True)
    bins = np.linspace(0, 1, 41)
    for i, (ax, (name, rho_hat)) in enumerate(zip(axes, mean_activations.items())):
        ax.hist(rho_hat, bins=bins, color=f"C{i}", alpha=0.85)
        ax.axvline(RHO, color="k", linestyle="--", label=f"target rho = {RHO}")
        ax.set_title(f"{name}: mean over units {rho_hat.mean():.3f}", fontsize=10)
        ax.set_xlabel("mean activation of a hidden unit over the test images")
        ax.legend(fontsize=8)
    axes[0].set_ylabel(f"number of hidden units (of {HIDDEN})")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def filter_figure(weights, title):
    """The first filters of each model side by side (gray = 0, white = positive, black = negative weight)."""
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, len(weights), figsize=(5.2 * len(weights), 5.6))
    for ax, (name, W) in zip(axes, weights.items()):
        cmap = plt.get_cmap("gray").copy()
        cmap.set_bad("white")
        ax.imshow(filter_mosaic(W, N_FILTERS), cmap=cmap, vmin=-1, vmax=1, origin="upper", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}: filters of units 0-{N_FILTERS - 1}", fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def main():
    args = parse_args(__doc__)
    data = load_data(args, n_train=10000)
    epochs = pick(args, full=20, short=10, quick=1)
    results = {"data": data.source, "rho": RHO, "beta": BETA, "lambda": LAMBDA, "epochs": epochs}
    mean_activations, weights = {}, {}
    for key, name, sparse in (("sparse", "sparse AE", True), ("plain", "unregularised AE", False)):
        model = build(sparse, args.seed)
        start = time.perf_counter()
        optimizer = Adam(1e-2, schedule=CosineDecay(epochs, min_factor=0.05))
        model.fit(data.x_train, epochs=epochs, batch_size=100, optimizer=optimizer, seed=args.seed)
        results[f"{key}_train_seconds"] = time.perf_counter() - start
        codes = model.encode(data.x_test)
        mean_activations[name] = codes.mean(axis=0)
        weights[name] = model.encoder[0].params["W"]
        results[f"{key}_mean_hidden_activation"] = float(codes.mean())
        results[f"{key}_units_within_2x_of_rho"] = int(np.sum(np.abs(np.log(codes.mean(axis=0) / RHO)) < math.log(2)))
        results[f"{key}_test_mse_per_pixel"] = MSE().value(model.reconstruct(data.x_test), data.x_test)
        results[f"{key}_dead_pixel_weight"] = dead_pixel_weight(weights[name], data.x_train)
    findings = Findings()
    check_findings(findings, results)
    save_figure(activation_histograms(mean_activations, findings.title(
        "How often each hidden unit fires: sparse (KL penalty) vs unregularised autoencoder",
        "sparse_units_fire_at_rho", "plain_units_fire_far_more")), args.out, "mean_activation_histogram")
    save_figure(filter_figure(weights, findings.title(
        "Weights into each hidden unit, as 28x28 images: sparse vs unregularised", "decay_clears_the_border")),
        args.out, "filters_sparse_vs_plain")
    save_results(args.out, results, findings)


if __name__ == "__main__":
    main()
