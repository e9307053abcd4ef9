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

The PyTorch curves are recorded values, read from ``walkthroughs/recorded/pytorch_vae.json`` (torch version,
recipe and data inside); ``python -m benchmarks.vae_pytorch_reference`` regenerates them.

Full run: 60000 training images, 30 epochs for the 32-D model and 10 for the 2-D one; IW estimates with
k = 1000 on all 10,000 test images (a few minutes each). ``--short``: 20000 training images, 3 epochs for the
32-D model and 2 for the 2-D one, IW estimates with k = 100 on 1000 test images.
"""

import json
import pathlib
import statistics
import time
from dataclasses import dataclass

import numpy as np

import npae
from npae import Adam, mlp_vae, plots
from npae.apps.walkthrough import (
    Findings, load_data, nearest_references, one_per_class, parse_args, pick, resume_options, save_figure,
    save_results,
)
from npae.datasets import binarize
from npae.manifold import knn_accuracy

TEST_BINARIZATION_SEED = 2014
#: the same model, initial weights and recipe trained in PyTorch by benchmarks/vae_pytorch_reference.py
RECORDED_PYTORCH = pathlib.Path(__file__).resolve().parent / "recorded" / "pytorch_vae.json"
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


def recorded_pytorch():
    """The recorded PyTorch run: its bounds by epoch and the torch version, recipe and data it was made with."""
    return json.loads(RECORDED_PYTORCH.read_text())


def bounds_figure(by_epoch, k, n_scored, reference, title):
    """Test ELBO and IW estimate L_k by epoch, npae (solid) beside the recorded PyTorch run (dashed)."""
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.8))
    epochs = sorted(by_epoch)
    ref_k = reference["k"]
    torch = f"PyTorch {reference['torch_version']}, recorded"
    ax.plot(epochs, [by_epoch[e]["iw_ll"] for e in epochs], "o-", color="C0", label=f"npae: IW estimate L_{k}")
    ax.plot(epochs, [by_epoch[e]["elbo"] for e in epochs], "o-", color="C1", label="npae: ELBO (one z)")
    ax.plot(reference["epochs"], reference[f"iw_ll_k{ref_k}"], "s--", color="C0", alpha=0.6,
            label=f"{torch}: L_{ref_k}")
    ax.plot(reference["epochs"], reference["elbo"], "s--", color="C1", alpha=0.6, label=f"{torch}: ELBO")
    ax.set_xticks(sorted(set(epochs) | set(reference["epochs"])))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"mean over {n_scored} test images (nats per image)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.text(0.01, 0.0, f"dashed: values recorded {reference['date']} by benchmarks/vae_pytorch_reference.py "
             f"(torch {reference['torch_version']}): the same model, initial weights and recipe (Adam 1e-3, batch "
             f"100, dynamic binarisation);\n{reference['data']}", fontsize=6.5, va="top", wrap=True)
    fig.tight_layout()
    return fig


def digit_likeness(samples, digits):
    """How far samples lie from real digits: the MSE per pixel to the nearest of ``digits`` and to their mean
    image, and the share of samples nearer to some digit than to the mean. A blurry average digit lies close to
    many digits, but closest to the mean image; a sample that looks like one digit lies nearer that digit."""
    to_digit = nearest_references(samples, digits)[1]
    to_mean = np.mean((samples - digits.mean(axis=0)) ** 2, axis=1)
    return {"to_nearest_digit": float(to_digit.mean()), "to_mean_digit": float(to_mean.mean()),
            "share_nearer_a_digit": float(np.mean(to_digit < to_mean))}


def check_findings(findings, m, reference, full_run):
    """The walkthrough's claims, each computed from this run's numbers (``m``: a ``Measured``)."""
    recon, kl = m.history["val_recon"], m.history["val_kl"]
    findings.check(
        "reconstruction_falls", recon[-1] < recon[0],
        f"the test reconstruction term falls from {recon[0]:.1f} to {recon[-1]:.1f} nats",
    )
    findings.check(
        "kl_grows", kl[-1] > kl[0],
        f"the test KL (what the code tells about the image) grows from {kl[0]:.1f} to {kl[-1]:.1f} nats",
    )
    share = m.likeness["share_nearer_a_digit"]
    findings.check(
        "prior_decodes_to_digits", share >= 0.8,
        f"samples from the prior look like digits: {100 * share:.0f}% lie nearer to a real test digit than to the "
        f"average digit",
    )
    final = m.by_epoch[max(m.by_epoch)]
    findings.check(
        "iw_estimate_is_tighter", final["iw_ll"] > final["elbo"],
        f"the importance-weighted estimate L_{final['k']} = {final['iw_ll']:.2f} lies above the ELBO "
        f"{final['elbo']:.2f} nats",
    )
    findings.check(
        "bound_tightens_with_k", bool(np.all(np.diff(m.l_k) > 0)),
        f"L_k grows with k, from {m.l_k[0]:.2f} (k = {m.ks[0]}) to {m.l_k[-1]:.2f} (k = {m.ks[-1]}) nats",
    )
    findings.check(
        "latent_2d_keeps_digits_apart", m.map_score > 0.5,
        f"the 2-D posterior means keep the digits apart (5-NN accuracy {m.map_score:.2f}; chance 0.1)",
    )
    if full_run:
        ref_k, shared = reference["k"], [e for e in reference["epochs"] if e in m.by_epoch]
        gaps = [abs(m.by_epoch[e]["iw_ll"] - reference[f"iw_ll_k{ref_k}"][reference["epochs"].index(e)])
                for e in shared]
        findings.check(
            "matches_pytorch", bool(shared) and max(gaps) < 1.0,
            f"npae's L_{ref_k} is within {max(gaps, default=0):.2f} nats of the recorded PyTorch run at epochs "
            f"{shared}",
        )


@dataclass
class Measured:
    """What the 32-D and 2-D models gave: the figures and the findings read from here."""

    model: object
    history: object
    by_epoch: dict
    k: int
    n_scored: int
    ks: list
    l_k: list
    n_l_k: int
    samples: np.ndarray
    likeness: dict
    model_2d: object
    history_2d: object
    mu_2d: np.ndarray
    map_score: float


def measure(args, data, x_test):
    """Train the 32-D model (scoring it at some epochs) and the 2-D one, and take every measurement."""
    epochs = pick(args, full=30, short=5, quick=2)
    score_epochs = pick(args, full=(10, 20, 30), short=(1, 3, 5), quick=(1, 2))
    k = pick(args, full=1000, short=100, quick=20)
    x_scored = x_test[:pick(args, full=None, short=1000, quick=None)]

    model = mlp_vae(latent_dim=32, binarize=True, seed=args.seed)
    saved = {e: args.out / f"vae_epoch{e}.npz" for e in score_epochs}
    history = model.fit(data.x_train, epochs=epochs, batch_size=100, validation_data=x_test, optimizer=Adam(1e-3),
                        seed=args.seed, callbacks=[save_at_epochs(saved)], **resume_options(args, "checkpoint"))
    by_epoch = {e: scores(npae.load(path), x_scored, k, args.seed, f"after epoch {e}") for e, path in saved.items()}
    subset = x_test[: pick(args, full=1000, short=500, quick=100)]
    ks = pick(args, full=[1, 10, 100, 1000], short=[1, 10, 100], quick=[1, 5, 20])
    l_k = [float(model.log_likelihood(subset, k=kk, seed=args.seed).mean()) for kk in ks]

    samples = model.sample(100, seed=args.seed)
    likeness = digit_likeness(samples, data.x_test)

    model_2d = mlp_vae(latent_dim=2, binarize=True, seed=args.seed)
    history_2d = model_2d.fit(data.x_train, epochs=pick(args, full=10, short=2, quick=1), batch_size=100,
                              optimizer=Adam(1e-3), seed=args.seed, **resume_options(args, "checkpoint_2d"))
    mu_2d, _ = model_2d.encode(x_test)
    on_map = np.random.default_rng(args.seed).choice(len(mu_2d), size=min(2000, len(mu_2d)), replace=False)
    map_score = knn_accuracy(mu_2d[on_map], data.y_test[on_map], k=5)
    return Measured(model, history, by_epoch, k, len(x_scored), ks, l_k, len(subset), samples, likeness, model_2d,
                    history_2d, mu_2d, map_score)


def figures(args, data, x_test, m, reference, findings, bounds_findings):
    """Every figure of the walkthrough, titled with what it shows and the findings that hold."""
    save_figure(plots.training_curves(
        m.history, ["VAE 784-512-256-32"], ylabel="negative ELBO (nats per image)", val_name="test",
        title="negative ELBO by epoch: train (solid, fresh binarisation) vs binarised test set (dashed)",
    ), args.out, "training_curves")
    h = m.history
    save_figure(plots.line_plot(
        np.arange(1, h.epochs + 1), {"train: reconstruction -log p(x|z)": h["recon"], "test: reconstruction":
                                     h["val_recon"], "train: KL(q(z|x) || p(z))": h["kl"], "test: KL": h["val_kl"]},
        xlabel="epoch", ylabel="nats per image",
        title=findings.title("the two terms of the negative ELBO by epoch", "reconstruction_falls", "kl_grows"),
    ), args.out, "recon_and_kl")
    save_figure(plots.image_grid(
        m.samples, nrows=10,
        title=findings.title("100 samples from the prior: pixel probabilities sigmoid(g(z)), z ~ N(0, I) in 32-D",
                             "prior_decodes_to_digits"),
    ), args.out, "samples")
    picks = one_per_class(data.y_test)
    save_figure(plots.reconstruction_rows(
        x_test[picks], {"VAE: decode(mu)": m.model.reconstruct(x_test[picks])}, digit_labels=data.y_test[picks],
        title="binarised test digits (top) and the pixel probabilities decoded from their posterior mean",
    ), args.out, "reconstructions")
    rows, row_labels = interpolation_rows(m.model, x_test, data.y_test)
    save_figure(plots.image_grid(
        [img for row in rows for img in row], nrows=len(rows), row_labels=row_labels,
        title="straight lines in the 32-D code space between the posterior means of two test digits",
    ), args.out, "interpolations")
    save_figure(bounds_figure(m.by_epoch, m.k, m.n_scored, reference, findings.title(
        "test log-likelihood bounds by epoch (higher is better): npae vs the same model in PyTorch",
        *bounds_findings)), args.out, "bounds_by_epoch")
    save_figure(plots.line_plot(
        m.ks, {"importance-weighted bound L_k": m.l_k}, xlabel="k (importance samples per image)", logx=True,
        ylabel="mean over test images (nats per image)",
        title=findings.title(f"L_k against k on {m.n_l_k} test images (L_1 = ELBO)", "bound_tightens_with_k"),
    ), args.out, "bound_vs_k")
    save_figure(latent_grid_figure(m.model_2d), args.out, "latent_grid_2d")
    save_figure(plots.scatter_2d(
        m.mu_2d, data.y_test, xlabel="mu_1 (posterior mean, latent 1)", ylabel="mu_2 (posterior mean, latent 2)",
        title=findings.title(f"2-D VAE: posterior means of {len(x_test)} test digits, coloured by digit (labels "
                             "unused)", "latent_2d_keeps_digits_apart"),
    ), args.out, "code_space_2d")


def main():
    args = parse_args(__doc__)
    data = load_data(args, n_train=pick(args, full=None, short=None, quick=None))
    x_test = binarize(data.x_test, np.random.default_rng(TEST_BINARIZATION_SEED))
    reference = recorded_pytorch()
    m = measure(args, data, x_test)

    findings = Findings()
    full_run = args.size == "full"
    check_findings(findings, m, reference, full_run)
    figures(args, data, x_test, m, reference, findings,
            ["iw_estimate_is_tighter"] + ["matches_pytorch"] * full_run)

    final = m.by_epoch[max(m.by_epoch)]
    save_results(args.out, {
        "data": str(data),
        "units": "nats per image (summed over the 784 pixels), mean over the binarised test images",
        "epochs": m.history.epochs,
        "train_minutes": sum(m.history["epoch_time"]) / 60,
        f"test_iw_ll_k{m.k}": final["iw_ll"],
        "test_elbo": final["elbo"],
        "n_scored": m.n_scored,
        "iw_minutes": final["minutes"],
        "by_epoch": m.by_epoch,
        "pytorch_reference": reference,
        "bound_vs_k": dict(zip(map(str, m.ks), m.l_k)),
        "test_neg_elbo_by_epoch": m.history["val_loss"],
        "prior_samples_vs_test_digits": m.likeness,
        "active_units_of_32": active_units(m.model, x_test),
        "latent_2d": {"epochs": m.history_2d.epochs, "map_5nn_accuracy": m.map_score,
                      "test_elbo": float(m.model_2d.elbo(x_test, seed=args.seed).mean()),
                      "train_minutes": sum(m.history_2d["epoch_time"]) / 60},
    }, findings)


if __name__ == "__main__":
    main()
