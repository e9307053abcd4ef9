"""05 - Denoising autoencoder: trained to undo a corruption, it restores noisy digits a plain autoencoder cannot.

A plain autoencoder learns ``x -> x``; with enough units it can come close to copying pixels. A denoising
autoencoder (Vincent et al. 2008) is shown a *corrupted* copy ``x~ = c(x)`` and must output the *clean* ``x``:

    L = loss(g(f(c(x))), x)        (the corruption is drawn afresh for every image at every step)

To fill in the missing pixels it has to know what digits look like, so it learns the structure of the data
rather than the identity. Three corruptions, each at a level where a digit is still readable:

- masking noise: each pixel independently set to 0 with probability 30% (the survivors are *not* rescaled);
- Gaussian noise: ``x + 0.5 e`` with ``e ~ N(0, 1)`` per pixel, clipped back to [0, 1];
- salt-and-pepper noise: each pixel, with probability 20%, set to 0 or 1 with equal chance.

For each we train a denoising autoencoder (784 -> 256 sigmoid -> 784, Bernoulli cross-entropy on the clean
pixels), and one plain autoencoder with no corruption. Then we corrupt the test images at several levels and
feed *the same noisy images* to both: the figures show what each returns, and the mean squared error per pixel
between its output and the clean test image, against the noise level. The corruption is only applied during
training; at test time the models see exactly the images we give them.

What to look for:

- the plain autoencoder passes the noise on: holes in masked strokes, dark blotches and haze for
  salt-and-pepper, a gray veil for Gaussian noise. Each denoising model returns a clean digit, and at its training level its error against the clean
  image is a half (masking, salt-and-pepper) to a fifth (Gaussian) of the plain model's;
- its error grows slowly past the training level: it learnt the digits, not one noise pattern;
- on clean or barely corrupted inputs the plain model wins. It was trained for exactly that, while a
  denoising model has only ever seen noisy inputs. Most visibly for Gaussian noise: clipping keeps only the
  positive noise on the black background, which brightens it by 0.2 on average in training, so a clean
  digit is unlike anything the model saw, and comes back with a faint gray haze (its mean intensity was
  0.18 instead of 0.13 in our run).

Full run: 20000 training images, 6 epochs of Adam (batch 100, rate 5e-3 decaying along a cosine) per model;
the sweeps use 2000 test images, the same noisy copies for both models. ``--short``: 10000 training images.

Run ``python walkthroughs/05_denoising_autoencoder.py`` (``--short`` for a run of about a minute, ``--quick`` for
a seconds-long check).
"""

import time
from dataclasses import dataclass

import numpy as np

from npae import (
    MSE, Adam, Autoencoder, CosineDecay, Dense, GaussianNoise, MaskingNoise, SaltAndPepperNoise, Sequential, Sigmoid,
    plots,
)
from npae.apps.walkthrough import Findings, load_data, parse_args, pick, save_figure, save_results

HIDDEN = 256
N_EXAMPLES = 8


@dataclass
class Noise:
    """A corruption family, the level the denoising model trains at, and the levels of the test sweep."""

    title: str
    example_title: str
    level_label: str
    make: type
    train_level: float
    sweep: tuple

    def corrupt(self, x, level, seed):
        """``x`` corrupted at ``level`` (0: the clean images), reproducibly from ``seed``."""
        return x.copy() if level == 0 else self.make(level).corrupt(x, np.random.default_rng(seed))


NOISES = {
    "masking": Noise("masking noise", "masking noise, 30% of pixels set to 0", "fraction of pixels set to 0",
                     MaskingNoise, 0.3,
                     (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7)),
    "gaussian": Noise("Gaussian noise, clipped to [0, 1]", "Gaussian noise, sigma 0.5, clipped to [0, 1]",
                      "noise standard deviation sigma", GaussianNoise, 0.5, (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)),
    "salt_and_pepper": Noise("salt-and-pepper noise", "salt-and-pepper noise, 20% of pixels set to 0 or 1",
                             "fraction of pixels set to 0 or 1", SaltAndPepperNoise, 0.2,
                             (0.0, 0.05, 0.1, 0.2, 0.3, 0.4)),
}


def build(corruption, seed):
    """784-256-784 with sigmoid hidden units and BCE on logits; the same seed gives the same initial weights."""
    rng = np.random.default_rng(seed)
    encoder = Sequential([Dense(784, HIDDEN, rng=rng), Sigmoid()])
    decoder = Sequential([Dense(HIDDEN, 784, rng=rng)])
    return Autoencoder(encoder, decoder, loss="bce", corruption=corruption)


def train(model, data, epochs, seed):
    start = time.perf_counter()
    optimizer = Adam(5e-3, schedule=CosineDecay(epochs, min_factor=0.05))
    model.fit(data.x_train, epochs=epochs, batch_size=100, optimizer=optimizer, seed=seed)
    return time.perf_counter() - start


def example_grid(noise, noisy, denoised, plain, clean, title):
    """Rows: noisy input, denoising AE output, plain AE output, clean target (same test digits in columns)."""
    rows = [noisy, denoised, plain, clean]
    images = [image for row in rows for image in row[:N_EXAMPLES]]
    labels = ["noisy input", "denoising AE", "plain AE", "clean target"]
    return plots.image_grid(images, nrows=len(rows), row_labels=labels, title=title)


def check_findings(findings, kind, noise, sweep):
    """The walkthrough's claims for one noise, each computed from this run's numbers."""
    levels, denoising, plain = noise.sweep, sweep["denoising_mse"], sweep["plain_mse"]
    at = levels.index(noise.train_level)
    findings.check(
        f"{kind}_denoising_wins_at_training_level", denoising[at] < plain[at],
        f"{noise.title} at its training level {noise.train_level:g}: the denoising AE's error against the clean "
        f"digits is {denoising[at]:.4f}, the plain AE's {plain[at]:.4f}",
    )
    findings.check(
        f"{kind}_denoising_wins_beyond_training_level", all(d < p for d, p in zip(denoising[at:], plain[at:])),
        f"{noise.title}: the denoising AE stays ahead at every stronger level up to {levels[-1]:g}",
    )
    findings.check(
        f"{kind}_plain_wins_on_clean_digits", plain[0] < denoising[0],
        f"{noise.title}: on clean digits the plain AE wins ({plain[0]:.4f} vs {denoising[0]:.4f})",
    )


def mse_figure(sweeps, title):
    """One panel per noise: test MSE against the clean images vs noise level, denoising vs plain AE."""
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, len(sweeps), figsize=(5 * len(sweeps), 3.8))
    for ax, (kind, sweep) in zip(axes, sweeps.items()):
        noise = NOISES[kind]
        ax.plot(noise.sweep, sweep["denoising_mse"], "o-", color="C0", label="denoising AE")
        ax.plot(noise.sweep, sweep["plain_mse"], "s-", color="C1", label="plain AE")
        ax.axvline(noise.train_level, color="gray", linestyle=":", label=f"training level {noise.train_level:g}")
        ax.set_xlabel(noise.level_label)
        ax.set_title(noise.title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("test MSE per pixel vs the clean image")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def sweep_errors(noise, denoising, plain, x_test, seed):
    """Test MSE vs clean images at every level of the sweep, both models fed the same noisy images."""
    out = {"levels": list(noise.sweep), "denoising_mse": [], "plain_mse": []}
    for i, level in enumerate(noise.sweep):
        noisy = noise.corrupt(x_test, level, seed + i)
        out["denoising_mse"].append(MSE().value(denoising.reconstruct(noisy), x_test))
        out["plain_mse"].append(MSE().value(plain.reconstruct(noisy), x_test))
    return out


def main():
    args = parse_args(__doc__)
    data = load_data(args, n_train=pick(args, full=20000, short=10000, quick=1000), n_test=2000)
    epochs = pick(args, full=6, short=6, quick=1)
    results = {"data": data.source, "epochs": epochs, "hidden_units": HIDDEN}
    plain = build(None, args.seed)
    results["plain_train_seconds"] = train(plain, data, epochs, args.seed)
    sweeps, findings = {}, Findings()
    for kind, noise in NOISES.items():
        denoising = build(noise.make(noise.train_level), args.seed)
        results[f"{kind}_train_seconds"] = train(denoising, data, epochs, args.seed)
        sweeps[kind] = sweep_errors(noise, denoising, plain, data.x_test, args.seed)
        at_train_level = noise.sweep.index(noise.train_level)
        results[f"{kind}_denoising_mse_at_training_level"] = sweeps[kind]["denoising_mse"][at_train_level]
        results[f"{kind}_plain_mse_at_training_level"] = sweeps[kind]["plain_mse"][at_train_level]
        check_findings(findings, kind, noise, sweeps[kind])
        noisy = noise.corrupt(data.x_test[:N_EXAMPLES], noise.train_level, args.seed)
        title = findings.title(f"{noise.example_title}: what each model returns for the same noisy test digits",
                               f"{kind}_denoising_wins_at_training_level")
        grid = example_grid(noise, noisy, denoising.reconstruct(noisy), plain.reconstruct(noisy), data.x_test, title)
        save_figure(grid, args.out, f"examples_{kind}")
    save_figure(mse_figure(sweeps, "Reconstructing clean digits from noisy ones: denoising vs plain autoencoder, "
                                   "same noisy inputs"), args.out, "mse_vs_noise_level")
    results["sweeps"] = sweeps
    save_results(args.out, results, findings)


if __name__ == "__main__":
    main()
