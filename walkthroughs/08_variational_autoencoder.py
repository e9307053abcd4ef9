"""08 - The variational autoencoder: a generative model of MNIST, scored in nats.

Walkthrough 02 ended with a problem: an autoencoder's codes fill no known region, so decoding a random code
gives a blob. The variational autoencoder (Kingma & Welling 2014) fixes that by making the code random and
asking its distribution to stay close to a standard normal, from which we can then sample.

The model
---------
The encoder reads an image x and outputs two vectors of 32 numbers, ``mu`` and ``logvar``: the mean and log
variance of a Gaussian ``q(z | x)`` over codes. Training draws a code from it with the reparameterisation
``z = mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)`` (so gradients flow to mu and logvar), and the decoder turns
z into 784 logits: pixel d is 1 with probability ``sigmoid(l_d)``. The loss per image is the negative ELBO

    -ELBO = -log p(x | z)                         reconstruction: binary cross-entropy summed over pixels
            + KL(q(z | x) || N(0, I))             = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))

in nats per image. The ELBO is a lower bound on ``log p(x)``, the log-likelihood of the image under the
model; the KL term pulls every posterior towards the prior N(0, I), which is what makes ``z ~ N(0, I)``
decode to a digit. Architecture (the benchmark VAE, ``npae.mlp_vae``): 784-512-256-(mu, logvar) 32 and 32-256-512-784,
ReLU, Adam lr 1e-3, batch 100.

Data: each pixel is a probability, and every epoch draws a fresh binary image from it (dynamic
binarisation: x_d = 1 with probability equal to the grey level); the test set is binarised once, with a
fixed seed, so every score below is on the same binary test images.

The story
---------
1. **Training curves.** The negative ELBO on the training and test sets, split into reconstruction and KL.
2. **Sampling.** 100 digits from ``z ~ N(0, I)`` (drawn as pixel probabilities): the prior now decodes to
   digits, unlike walkthrough 02's random codes. Reconstructions and latent interpolations between test
   digits (straight lines between their posterior means) show the codes form a continuous space.
3. **How good, in nats.** The ELBO is only a bound. The importance-weighted estimate (Burda et al. 2016)

       L_k = log (1/k) sum_i p(x, z_i) / q(z_i | x),     z_i ~ q(z | x)

   is a tighter bound for larger k (L_1 is the ELBO) and approaches log p(x). We report L_1000 averaged over
   the 10,000 test images (the standard MNIST figure; higher is better) beside the ELBO, after 10, 20 and 30
   epochs, next to a PyTorch run of the same model and recipe, and show L_k growing with k.
4. **A 2-D latent space.** The same model with ``latent_dim = 2`` can be looked at directly: decoding a grid
   of codes (placed at the quantiles of N(0, 1), so each cell holds equal prior mass) shows the digits
   morphing into each other, and the map of test posterior means coloured by digit shows the classes
   arranged around the origin (labels are never used in training).

Full run: 60000 training images, 30 epochs for the 32-D model and 10 for the 2-D one; IW estimates with
k = 1000 on all 10,000 test images (a few minutes each).
"""

import statistics
import time

import numpy as np

import npae
from npae import Adam, plots
from npae.datasets import binarize
from npae.models.zoo import mlp_vae
from npae.apps.walkthrough import load_data, one_per_class, parse_args, pick, resume_options, save_figure, save_results

TEST_BINARIZATION_SEED = 2014
#: the same model and recipe in PyTorch (mean over the 10,000 binarised test images, nats per image)
PYTORCH_REFERENCE = {"epochs": [10, 20, 30], "iw_ll_k1000": [-95.4, -92.5, -91.2], "elbo": [-100.8, -97.6, -96.3]}
INTERPOLATION_PAIRS = [(1, 7), (3, 8), (4, 9), (0, 6), (2, 5)]


def save_at_epochs(paths):
    """A fit callback saving the model after each epoch in ``paths`` ({epoch: file}); scored after training."""
    def callback(model, epoch, logs):
        if epoch + 1 in paths:
            model.save(paths[epoch + 1])
    return callback


def scores(model, x_test, k, seed, name):
    """Mean test ELBO (one z per image) and IW estimate L_k, in nats per image, and the minutes they took."""
    print(f"{name}: importance-weighted estimate with k = {k} on {len(x_test)} test images ...", flush=True)
    start = time.perf_counter()
    elbo = float(model.elbo(x_test, seed=seed).mean())
    iw = float(model.log_likelihood(x_test, k=k, seed=seed).mean())
    minutes = (time.perf_counter() - start) / 60
    print(f"{name}: test ELBO {elbo:.2f}, L_{k} {iw:.2f} nats per image ({minutes:.1f} min)", flush=True)
    return {"elbo": elbo, "iw_ll": iw, "k": k, "minutes": minutes}


def active_units(model, x_test, threshold=0.01):
    """Latent dimensions whose posterior mean varies across images (variance > 0.01): those carrying information."""
    mu, _ = model.encode(x_test)
    return int((mu.var(axis=0) > threshold).sum())


def interpolation_rows(model, images, labels):
    """Ten steps between the posterior means of the first test digits of each pair in INTERPOLATION_PAIRS."""
    first = {int(d): images[np.flatnonzero(labels == d)[0]] for d in np.unique(labels)}
    pairs = [(a, b) for a, b in INTERPOLATION_PAIRS if a in first and b in first]
    rows = [model.interpolate(first[a], first[b], steps=10) for a, b in pairs]
    return rows, [f"{a} -> {b}" for a, b in pairs]


def latent_grid_figure(model, n=15):
    """Decode an n x n grid of 2-D codes at the quantiles of N(0, 1); z_2 grows upwards, as on a plot."""
    plt = plots.pyplot()
    values = np.array([statistics.NormalDist().inv_cdf(p) for p in np.linspace(0.03, 0.97, n)])
    z1, z2 = np.meshgrid(values, values[::-1])
    images = model.decode(np.stack([z1.ravel(), z2.ravel()], axis=1).astype(model.dtype)).reshape(n, n, 28, 28)
    mosaic = images.transpose(0, 2, 1, 3).reshape(n * 28, n * 28)
    fig, ax = plt.subplots(figsize=(7.5, 7.5))
    extent = (values[0], values[-1], values[0], values[-1])
    half_cell = (values[1] - values[0]) / 2
    extent = (extent[0] - half_cell, extent[1] + half_cell, extent[2] - half_cell, extent[3] + half_cell)
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, origin="upper", extent=extent, interpolation="nearest")
    ax.set_xlabel("z_1 (latent coordinate 1)")
    ax.set_ylabel("z_2 (latent coordinate 2)")
    ax.set_title(f"2-D VAE: decoded pixel probabilities on a {n} x {n} grid of codes\n"
                 "(codes at the 3%...97% quantiles of N(0, 1): equal prior mass per cell)", fontsize=10)
    fig.tight_layout()
    return fig


def bounds_figure(by_epoch, k, reference):
    """Test ELBO and IW estimate L_k by epoch, npae (solid) beside the PyTorch reference (dashed, k = 1000)."""
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    epochs = sorted(by_epoch)
    ax.plot(epochs, [by_epoch[e]["iw_ll"] for e in epochs], "o-", color="C0", label=f"npae: IW estimate L_{k}")
    ax.plot(epochs, [by_epoch[e]["elbo"] for e in epochs], "o-", color="C1", label="npae: ELBO (one z)")
    ax.plot(reference["epochs"], reference["iw_ll_k1000"], "s--", color="C0", alpha=0.6, label="PyTorch: L_1000")
    ax.plot(reference["epochs"], reference["elbo"], "s--", color="C1", alpha=0.6, label="PyTorch: ELBO")
    ax.set_xticks(sorted(set(epochs) | set(reference["epochs"])))
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean over the test images (nats per image)")
    ax.set_title("test log-likelihood bounds (higher is better): npae vs the same model in PyTorch", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main():
    args = parse_args(__doc__)
    data = load_data(args)
    x_test = binarize(data.x_test, np.random.default_rng(TEST_BINARIZATION_SEED))
    epochs = pick(args, full=30, quick=2)
    score_epochs = pick(args, full=(10, 20, 30), quick=(1, 2))
    k = pick(args, full=1000, quick=20)

    # 1. train the 32-D model, saving it at the epochs we score
    model = mlp_vae(latent_dim=32, binarize=True, seed=args.seed)
    saved = {e: args.out / f"vae_epoch{e}.npz" for e in score_epochs}
    history = model.fit(data.x_train, epochs=epochs, batch_size=100, validation_data=x_test, optimizer=Adam(1e-3),
                        seed=args.seed, callbacks=[save_at_epochs(saved)], **resume_options(args, "checkpoint"))
    train_minutes = sum(history["epoch_time"]) / 60
    save_figure(plots.training_curves(
        history, ["VAE 784-512-256-32"], ylabel="negative ELBO (nats per image)", val_name="test",
        title="negative ELBO by epoch: train (solid, fresh binarisation) vs binarised test set (dashed)",
    ), args.out, "training_curves")
    steps = np.arange(1, history.epochs + 1)
    save_figure(plots.line_plot(
        steps, {"train: reconstruction -log p(x|z)": history["recon"], "test: reconstruction": history["val_recon"],
                "train: KL(q(z|x) || p(z))": history["kl"], "test: KL": history["val_kl"]},
        xlabel="epoch", ylabel="nats per image",
        title="the two terms of the negative ELBO: reconstruction falls, KL (code information) grows",
    ), args.out, "recon_and_kl")

    # 2. sampling, reconstructions, interpolations
    save_figure(plots.image_grid(
        model.sample(100, seed=args.seed), nrows=10,
        title="100 samples from the prior: pixel probabilities sigmoid(g(z)), z ~ N(0, I) in 32-D",
    ), args.out, "samples")
    picks = one_per_class(data.y_test)
    save_figure(plots.reconstruction_rows(
        x_test[picks], {"VAE: decode(mu)": model.reconstruct(x_test[picks])}, digit_labels=data.y_test[picks],
        title="binarised test digits (top) and the pixel probabilities decoded from their posterior mean",
    ), args.out, "reconstructions")
    rows, row_labels = interpolation_rows(model, x_test, data.y_test)
    save_figure(plots.image_grid(
        [img for row in rows for img in row], nrows=len(rows), row_labels=row_labels,
        title="straight lines in the 32-D code space between the posterior means of two test digits",
    ), args.out, "interpolations")

    # 3. the bounds on log p(x): by epoch (saved models), and L_k against k
    by_epoch = {e: scores(npae.load(path), x_test, k, args.seed, f"after epoch {e}") for e, path in saved.items()}
    final = by_epoch[max(by_epoch)]
    save_figure(bounds_figure(by_epoch, k, PYTORCH_REFERENCE), args.out, "bounds_by_epoch")
    subset = x_test[: pick(args, full=1000, quick=100)]
    ks = pick(args, full=[1, 10, 100, 1000], quick=[1, 5, 20])
    l_k = [float(model.log_likelihood(subset, k=kk, seed=args.seed).mean()) for kk in ks]
    save_figure(plots.line_plot(
        ks, {"importance-weighted bound L_k": l_k}, xlabel="k (importance samples per image)", logx=True,
        ylabel="mean over test images (nats per image)",
        title=f"L_k on {len(subset)} test images: the bound tightens as k grows (L_1 = ELBO)",
    ), args.out, "bound_vs_k")

    # 4. a 2-D latent space
    model_2d = mlp_vae(latent_dim=2, binarize=True, seed=args.seed)
    history_2d = model_2d.fit(data.x_train, epochs=pick(args, full=10, quick=1), batch_size=100,
                              optimizer=Adam(1e-3), seed=args.seed, **resume_options(args, "checkpoint_2d"))
    save_figure(latent_grid_figure(model_2d), args.out, "latent_grid_2d")
    mu_2d, _ = model_2d.encode(x_test)
    save_figure(plots.scatter_2d(
        mu_2d, data.y_test, xlabel="mu_1 (posterior mean, latent 1)", ylabel="mu_2 (posterior mean, latent 2)",
        title=f"2-D VAE: posterior means of {len(x_test)} test digits, coloured by digit (labels unused)",
    ), args.out, "code_space_2d")

    save_results(args.out, {
        "data": str(data),
        "units": "nats per image (summed over the 784 pixels), mean over the binarised test images",
        "epochs": history.epochs,
        "train_minutes": train_minutes,
        f"test_iw_ll_k{k}": final["iw_ll"],
        "test_elbo": final["elbo"],
        "iw_minutes": final["minutes"],
        "by_epoch": by_epoch,
        "pytorch_reference": PYTORCH_REFERENCE,
        "bound_vs_k": dict(zip(map(str, ks), l_k)),
        "test_neg_elbo_by_epoch": history["val_loss"],
        "active_units_of_32": active_units(model, x_test),
        "latent_2d": {"epochs": history_2d.epochs, "test_elbo": float(model_2d.elbo(x_test, seed=args.seed).mean()),
                      "train_minutes": sum(history_2d["epoch_time"]) / 60},
    })


if __name__ == "__main__":
    main()
