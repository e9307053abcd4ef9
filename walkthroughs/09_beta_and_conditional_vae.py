"""09 - The beta-VAE and the conditional VAE: how much the code says, and asking for a given digit.

Walkthrough 08 trained a VAE on the negative ELBO, ``reconstruction + KL``. Two variations change what the
code z is asked to carry.

The beta-VAE (Higgins et al. 2017)
----------------------------------
Weight the KL term by beta:

    L_beta = -log p(x | z) + beta * KL(q(z | x) || N(0, I))          (nats per image)

The KL term is the price, in nats, of the information the code carries about the image: a dimension whose
posterior equals the prior costs nothing and tells the decoder nothing. With beta < 1 information is cheap:
reconstructions are sharper and the KL larger, but the codes spread away from N(0, I), so samples from the
prior get worse. With beta > 1 information is dear: the model shuts down latent dimensions (their KL drops
to 0), keeps only the few that explain the most (stroke thickness, slant, the digit's broad shape), and
reconstructs blurrier digits. Each model is trained on its own L_beta; all are scored on the plain negative
ELBO (beta = 1), the only one of the three objectives that bounds log p(x). We train beta in {0.5, 1, 4} and
show the trade-off: reconstruction against KL, with the lines of equal negative ELBO.

The conditional VAE (Sohn et al. 2015)
--------------------------------------
Give the label y (one-hot) to both networks: the encoder models ``q(z | x, y)`` and the decoder
``p(x | z, y)``. Since the decoder is told which digit to draw, z no longer needs to say it and keeps the
style: thickness, slant, width. We give it only 2 latent dimensions: with 20 the code has room to carry the
digit's identity as well (it costs only about log 10 = 2.3 nats of KL), and the decoder then partly
ignores the label. Sampling ``z ~ N(0, I)`` once and decoding it with each of the ten labels draws the same
handwriting as ten different digits: each column of the grid shares one z.

Model for all runs: Kingma & Welling's MNIST VAE, 784-400-(mu, logvar) 20 and 20-400-784 with ReLU (2 latent
dimensions for the conditional VAE), Bernoulli likelihood on dynamically binarised training images, the test
set binarised once with a fixed seed; Adam lr 1e-3, batch 100. Full run: 60000 training images, 10 epochs
per model (four models). ``--short``: 20000 training images, 3 epochs per model.
"""

import numpy as np

from npae import Adam, mlp_vae, plots
from npae.apps.walkthrough import (
    Findings, load_data, nearest_references, one_per_class, parse_args, pick, resume_options, save_figure,
    save_results,
)
from npae.datasets import binarize
from npae.models.vae import kl_divergence

TEST_BINARIZATION_SEED = 2014
BETAS = (0.5, 1.0, 4.0)
HIDDEN, LATENT = (400,), 20
CONDITIONAL_LATENT = 2


def train(model, args, name, x_train, validation, labels=None):
    """Fit on the training images (and labels for a conditional model), validating on ``validation``."""
    return model.fit(x_train, y=labels, epochs=pick(args, full=10, short=5, quick=1), batch_size=100,
                     validation_data=validation, optimizer=Adam(1e-3), seed=args.seed, **resume_options(args, name))


def code_statistics(model, x):
    """KL of each latent dimension averaged over images (nats), largest first, and the number of active units."""
    mu, logvar = model.encode(x)
    per_dim = np.sort(kl_divergence(mu, logvar).mean(axis=0))[::-1]
    return per_dim, int((mu.var(axis=0) > 0.01).sum())


def check_findings(findings, results, asked_digit_share):
    """The walkthrough's claims, each computed from this run's numbers."""
    betas = sorted(results)
    kl, recon = [results[b]["kl"] for b in betas], [results[b]["recon"] for b in betas]
    active = [results[b]["active_units"] for b in betas]
    listed = ", ".join(f"{b:g}" for b in betas)
    findings.check(
        "larger_beta_less_information", bool(np.all(np.diff(kl) < 0)),
        "the larger beta, the less the code carries: KL " + ", ".join(f"{v:.1f}" for v in kl)
        + f" nats for beta = {listed}",
    )
    findings.check(
        "larger_beta_worse_reconstruction", bool(np.all(np.diff(recon) > 0)),
        "the larger beta, the worse the reconstruction: " + ", ".join(f"{v:.1f}" for v in recon)
        + f" nats for beta = {listed}",
    )
    findings.check(
        "larger_beta_switches_dimensions_off", active[-1] < active[0],
        f"larger beta switches latent dimensions off: {active[0]} of {LATENT} active for beta = {betas[0]:g}, "
        f"{active[-1]} for beta = {betas[-1]:g}",
    )
    findings.check(
        "conditional_vae_draws_the_asked_digit", asked_digit_share >= 0.8,
        f"the conditional VAE draws the digit it is asked for: the nearest real test digit of "
        f"{100 * asked_digit_share:.0f}% of its samples has the label given to the decoder",
    )


def asked_digit_share(images, asked, digits, labels):
    """The share of generated ``images`` whose nearest real image in ``digits`` has the ``asked`` label."""
    nearest = nearest_references(np.asarray(images), digits)[0]
    return float(np.mean(labels[nearest] == asked))


def tradeoff_figure(results, title):
    """Reconstruction against KL for each beta, with the line of equal negative ELBO through each point."""
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    kls = np.array([r["kl"] for r in results.values()])
    span = np.linspace(0, kls.max() * 1.15, 50)
    for i, (beta, r) in enumerate(results.items()):
        ax.plot(span, r["neg_elbo"] - span, ":", color=f"C{i}", alpha=0.6)
        ax.plot(r["kl"], r["recon"], "o", color=f"C{i}", markersize=8,
                label=f"beta = {beta:g}: -ELBO {r['neg_elbo']:.1f}, active units {r['active_units']}/{LATENT}")
    recons = [r["recon"] for r in results.values()]
    ax.set_ylim(min(recons) - 8, max(recons) + 8)
    ax.set_xlabel("KL(q(z|x) || N(0, I)): information in the code (nats per image)")
    ax.set_ylabel("reconstruction -log p(x|z) (nats per image)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def conditional_grid(model, n, seed):
    """Row c: digit c decoded from the same n codes z ~ N(0, I) (column j shares z_j across the ten rows)."""
    z = np.random.default_rng(seed).standard_normal((n, model.latent_dim)).astype(model.dtype)
    return [image for digit in range(model.n_classes) for image in model.decode(z, np.full(n, digit))]


def main():
    args = parse_args(__doc__)
    data = load_data(args, n_train=pick(args, full=None, short=None, quick=None))
    x_test = binarize(data.x_test, np.random.default_rng(TEST_BINARIZATION_SEED))
    picks = one_per_class(data.y_test)

    # 1. the beta-VAE: one model per beta, all scored on the plain negative ELBO
    results, reconstructions, samples, kl_per_dim = {}, {}, [], {}
    for beta in BETAS:
        model = mlp_vae(hidden=HIDDEN, latent_dim=LATENT, beta=beta, binarize=True, seed=args.seed)
        history = train(model, args, f"checkpoint_beta{beta:g}", data.x_train, x_test)
        per_dim, active = code_statistics(model, x_test)
        scores = model.evaluate(x_test, seed=args.seed)
        results[beta] = {"neg_elbo": scores["loss"], "recon": scores["recon"], "kl": scores["kl"],
                         "active_units": active, "train_minutes": sum(history["epoch_time"]) / 60}
        kl_per_dim[f"beta = {beta:g}"] = per_dim
        reconstructions[f"beta = {beta:g}"] = model.reconstruct(x_test[picks])
        samples.extend(model.sample(12, seed=args.seed))

    # 2. the conditional VAE: the label given, z keeps the style
    cvae = mlp_vae(hidden=HIDDEN, latent_dim=CONDITIONAL_LATENT, n_classes=10, binarize=True, seed=args.seed)
    history = train(cvae, args, "checkpoint_conditional_2d", data.x_train, (x_test, data.y_test), data.y_train)
    n = pick(args, full=12, short=12, quick=6)
    drawn = conditional_grid(cvae, n, args.seed)
    asked = np.repeat(np.arange(10), n)
    asked_share = asked_digit_share(drawn, asked, data.x_test, data.y_test)
    conditional = cvae.evaluate(x_test, data.y_test, seed=args.seed)

    findings = Findings()
    check_findings(findings, results, asked_share)
    save_figure(tradeoff_figure(results, findings.title(
        "beta-VAE trade-off on the binarised test set; dotted: equal negative ELBO (recon + KL)",
        "larger_beta_less_information")), args.out, "beta_tradeoff")
    save_figure(plots.reconstruction_rows(
        x_test[picks], reconstructions, digit_labels=data.y_test[picks],
        title=findings.title("binarised test digits (top) and decode(mu) for beta = 0.5, 1, 4",
                             "larger_beta_worse_reconstruction"),
    ), args.out, "beta_reconstructions")
    save_figure(plots.image_grid(
        samples, nrows=len(BETAS), row_labels=[f"beta = {b:g}" for b in BETAS],
        title="12 samples from the prior z ~ N(0, I) of each beta-VAE (pixel probabilities)",
    ), args.out, "beta_samples")
    kl_figure = plots.line_plot(
        np.arange(1, LATENT + 1), kl_per_dim, xlabel="latent dimension (sorted by its KL)",
        ylabel="KL of the dimension (nats per image)",
        title=findings.title("information per latent dimension (KL = 0: the dimension is switched off)",
                             "larger_beta_switches_dimensions_off"),
    )
    kl_figure.axes[0].set_xticks(np.arange(1, LATENT + 1))
    save_figure(kl_figure, args.out, "kl_per_dimension")
    save_figure(plots.image_grid(
        drawn, nrows=10, row_labels=[f"digit {d}" for d in range(10)],
        title=findings.title("conditional VAE (2-D z): row = label given to the decoder, column = one shared "
                             "z ~ N(0, I)", "conditional_vae_draws_the_asked_digit"),
    ), args.out, "conditional_samples")

    save_results(args.out, {
        "data": str(data),
        "units": "nats per image (summed over the 784 pixels), mean over the binarised test images",
        "epochs": history.epochs,
        "beta_vae": {f"beta={b:g}": r for b, r in results.items()},
        "kl_per_dimension": kl_per_dim,
        "conditional_vae": {"latent_dim": CONDITIONAL_LATENT, "neg_elbo_given_label": conditional["loss"],
                            "recon": conditional["recon"], "kl": conditional["kl"],
                            "share_of_samples_nearest_the_asked_digit": asked_share,
                            "train_minutes": sum(history["epoch_time"]) / 60},
    }, findings)


if __name__ == "__main__":
    main()
