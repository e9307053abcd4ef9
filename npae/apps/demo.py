"""``npae demo``: train a dense autoencoder and a VAE on MNIST in about a minute, and show what they learnt.

``run(out_dir="npae-demo", data_dir=None, quick=False, seed=0)`` writes to ``out_dir``:

- ``reconstructions.png``: test digits through PCA, the dense autoencoder and the VAE, all with 32 numbers;
- ``best_worst.png``: the autoencoder's best and worst test reconstructions;
- ``training_curves_ae.png``, ``training_curves_vae.png``: losses by epoch, with units;
- ``code_histograms_ae.png``, ``code_histograms_vae.png``: code coordinates 0-3 (the VAE's are pulled
  towards N(0, 1) by its KL term, the autoencoder's are not);
- ``code_map.png``: the autoencoder's test codes in 2-D (t-SNE), coloured by digit;
- ``vae_samples.png``: new digits decoded from the VAE's prior ``z ~ N(0, I)``;
- ``interpolation.png``: from one test digit to another through the VAE's and the autoencoder's code
  spaces, beside a plain pixel cross-fade;
- ``report.md``: the figures with their numbers, and ``results.json``.

Without the MNIST files and without network it uses the offline synthetic digits and says so everywhere.
``quick=True`` runs in seconds on a small subset (for tests).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .. import plots
from ..core.functions import binarize
from ..core.optim import Adam
from ..io import make_folder
from ..manifold import TSNE, knn_accuracy
from ..models import PCA, dense_autoencoder, mlp_vae
from .walkthrough import load_data, one_per_class, save_figure, save_results

CODE_DIM = 32

#: sizes chosen so that the full demo takes about a minute on two cores (the VAE's epoch costs about twice the
#: autoencoder's); README.md quotes the measured time
FULL_PLAN = {"n_train": None, "n_test": None, "ae_epochs": 10, "vae_epochs": 8, "n_pca": 10000,
             "n_map": 1000, "tsne_iterations": 500, "n_loglik": 1000, "k_loglik": 100}
QUICK_PLAN = {"n_train": 1000, "n_test": 300, "ae_epochs": 1, "vae_epochs": 1, "n_pca": 1000,
              "n_map": 150, "tsne_iterations": 260, "n_loglik": 50, "k_loglik": 10}


class Stages:
    """Numbered progress lines with the elapsed time, and the seconds each stage took."""

    def __init__(self, total):
        self.total, self.done, self.seconds = total, 0, {}
        self.start = time.perf_counter()
        self._current = None

    def next(self, name):
        self._close()
        self.done += 1
        self._current = (name, time.perf_counter())
        print(f"[{self.done}/{self.total}] {name} (elapsed {time.perf_counter() - self.start:.0f}s)", flush=True)

    def _close(self):
        if self._current is not None:
            name, began = self._current
            self.seconds[name] = time.perf_counter() - began
            self._current = None

    def finish(self):
        self._close()
        return time.perf_counter() - self.start


def _first_digits(labels, a, b):
    """Indices of the first test image of digit ``a`` and of digit ``b`` (any two images if absent)."""
    found = [np.flatnonzero(labels == d) for d in (a, b)]
    if all(len(f) for f in found):
        return int(found[0][0]), int(found[1][0])
    return 0, 1


def _train_autoencoder(data, plan, seed):
    model = dense_autoencoder(code_dim=CODE_DIM, seed=seed)
    history = model.fit(data.x_train, epochs=plan["ae_epochs"], batch_size=200, validation_data=data.x_test,
                        optimizer=Adam(1e-3), seed=seed)
    return model, history


def _train_vae(data, x_test_binary, plan, seed):
    """Bernoulli VAE on dynamically binarised digits; the test set is binarised once, with a fixed seed."""
    model = mlp_vae(latent_dim=CODE_DIM, seed=seed, binarize=True)
    history = model.fit(data.x_train, epochs=plan["vae_epochs"], batch_size=200, validation_data=x_test_binary,
                        optimizer=Adam(1e-3), seed=seed)
    return model, history


def _interpolation_figure(ae, vae, x1, x2, label1, label2, steps=10):
    t = np.linspace(0, 1, steps, dtype=x1.dtype)[:, None]
    codes = ae.encode(np.stack([x1, x2]))
    rows = {
        "VAE latent path": vae.interpolate(x1, x2, steps=steps),
        "AE code path": ae.decode(((1 - t) * codes[0] + t * codes[1]).astype(x1.dtype)),
        "pixel cross-fade": (1 - t) * x1 + t * x2,
    }
    grid = [img for imgs in rows.values() for img in imgs]
    return plots.image_grid(
        grid, nrows=len(rows), row_labels=list(rows), titles=[f"t={v:.2f}" for v in t[:, 0]] + [None] * steps * 2,
        title=f"from a test {label1} (left) to a test {label2} (right): straight lines in code space vs in pixels",
    )


def _figures(out, data, ae, ae_history, vae, vae_history, pca, plan, seed):
    """Write every figure; return the numbers the report quotes about them."""
    picks = one_per_class(data.y_test)
    originals = data.x_test[picks]
    save_figure(plots.reconstruction_rows(
        originals, {f"PCA-{CODE_DIM}": pca.inverse_transform(pca.transform(originals)),
                    "dense AE": ae.reconstruct(originals), "VAE": vae.reconstruct(originals)},
        digit_labels=data.y_test[picks],
        title=f"test digits (top) and their reconstructions from {CODE_DIM} numbers",
    ), out, "reconstructions")

    errors = ae.per_sample_loss(data.x_test)
    worst = float(errors.max())
    save_figure(plots.best_worst(
        data.x_test, ae.reconstruct(data.x_test), errors, n=8,
        title="dense AE: best (top) and worst (bottom) test reconstructions, MSE per pixel above each",
    ), out, "best_worst")

    save_figure(plots.training_curves(
        ae_history, ["dense AE"], ylabel="MSE per pixel", val_name="test", logy=True,
        title="dense autoencoder: MSE per pixel by epoch, train (solid) vs test (dashed)",
    ), out, "training_curves_ae")
    save_figure(plots.training_curves(
        {"loss": vae_history["neg_elbo"], "val_loss": vae_history["val_loss"]}, ["VAE"],
        ylabel="negative ELBO (nats per image)", val_name="test",
        title="VAE: negative ELBO by epoch, train (solid) vs binarised test (dashed)",
    ), out, "training_curves_vae")

    ae_codes = ae.encode(data.x_test)
    vae_means, _ = vae.encode(data.x_test)
    dims = list(range(4))  # the report's text names them
    save_figure(plots.code_histograms(
        ae_codes, dims, title="dense AE: code coordinates over the test set (nothing shapes their distribution)",
    ), out, "code_histograms_ae")
    save_figure(plots.code_histograms(
        vae_means, dims, name="mu",
        title="VAE: posterior means over the test set (the KL term pulls them towards N(0, 1))",
    ), out, "code_histograms_vae")

    rng = np.random.default_rng(seed)
    subset = np.sort(rng.choice(len(ae_codes), size=min(plan["n_map"], len(ae_codes)), replace=False))
    perplexity = min(30.0, (len(subset) - 2) / 3)
    points = TSNE(2, perplexity=perplexity, n_iter=plan["tsne_iterations"], seed=seed).fit_transform(ae_codes[subset])
    map_score = knn_accuracy(points, data.y_test[subset], k=5)
    save_figure(plots.scatter_2d(
        points, data.y_test[subset], xlabel="t-SNE 1", ylabel="t-SNE 2",
        title=f"dense AE codes of {len(subset)} test digits (t-SNE), coloured by digit; 5-NN accuracy {map_score:.2f}",
    ), out, "code_map")

    save_figure(plots.image_grid(
        vae.sample(32, seed=seed), nrows=4, title="VAE: new digits decoded from z ~ N(0, I) (the prior)",
    ), out, "vae_samples")
    i1, i2 = _first_digits(data.y_test, 1, 7)
    save_figure(_interpolation_figure(ae, vae, data.x_test[i1], data.x_test[i2], data.y_test[i1], data.y_test[i2]),
                out, "interpolation")
    return {"map_5nn_accuracy": map_score, "ae_worst": worst, "ae_code_std": float(ae_codes.std(axis=0).mean()),
            "vae_mean_std": float(vae_means.std(axis=0).mean())}


REPORT = """# npae demo

{data_note}

Trained on **{n_train}** training images, tested on **{n_test}** test images, in {total:.0f} s
({ae_epochs} epochs of the dense autoencoder, {vae_epochs} of the VAE; batch 200, Adam lr 1e-3, float32).

| model | code size | test reconstruction error |
| --- | --- | --- |
| PCA (fitted on {n_pca} training images) | {code} | {pca_mse:.5f} MSE per pixel |
| dense autoencoder 784-256-128-{code} | {code} | {ae_mse:.5f} MSE per pixel |
| VAE 784-512-256-{code} (Bernoulli, binarised digits) | {code} | {vae_mse:.5f} MSE per pixel (pixel probabilities vs grey levels) |

VAE on the binarised test set: negative ELBO **{vae_nelbo:.1f} nats per image** (reconstruction {vae_recon:.1f} + KL
{vae_kl:.1f}). On the first {n_loglik} of those images, the importance-weighted estimate of -log p(x) with
k = {k_loglik} samples is **{vae_nll:.1f} nats per image**, against a negative ELBO of {vae_nelbo_subset:.1f} on
the same images: the tighter bound.

## Reconstructions

![reconstructions](reconstructions.png)

Test digits (top row) and their reconstructions from {code} numbers each: PCA {pca_mse:.5f}, dense autoencoder
{ae_mse:.5f}, VAE {vae_mse:.5f} MSE per pixel over the test set.

![best and worst](best_worst.png)

The dense autoencoder's best and worst test reconstructions (MSE per pixel above each original; test mean
{ae_mse:.5f}, worst {ae_worst:.4f}).

## Training

![autoencoder training curves](training_curves_ae.png)

![VAE training curves](training_curves_vae.png)

Time: autoencoder {ae_seconds:.0f} s, VAE {vae_seconds:.0f} s, everything {total:.0f} s.

## Codes

![AE code histograms](code_histograms_ae.png)

![VAE code histograms](code_histograms_vae.png)

Coordinates 0-3 of the {code} of each test code (the dense autoencoder's code, the VAE's posterior mean mu).
Average standard deviation of a code coordinate over the test set: dense autoencoder {ae_code_std:.2f},
VAE posterior means {vae_mean_std:.2f} (the VAE's KL term pulls them towards the N(0, 1) prior).

![code map](code_map.png)

The autoencoder's test codes mapped to 2-D by t-SNE, coloured by digit (labels were never used in
training). Leave-one-out 5-nearest-neighbour accuracy of the digits in this map: {map_5nn_accuracy:.2f}.

## Generating

![VAE samples](vae_samples.png)

New digits from the VAE: codes drawn from its prior N(0, I), decoded.

![interpolation](interpolation.png)

Straight lines between the codes of two test digits, decoded, beside a pixel cross-fade (which only
overlays the two images).
"""


def _data_note(data):
    if data.synthetic:
        return ("> **Offline synthetic digits, not MNIST.** The MNIST files were neither found nor downloadable, "
                f"so this demo ran on rendered stand-in digits: {data.source}. The numbers below are not comparable "
                "with published MNIST results.")
    return f"Data: {data.source}."


def run(out_dir="npae-demo", data_dir=None, quick=False, seed=0):
    """Train, evaluate, and write the figures, ``results.json`` and ``report.md`` to ``out_dir``.

    Returns the results dict (the numbers of the report). ``quick=True``: a small subset and one epoch each.
    """
    out = make_folder(out_dir, "out_dir")
    plan = QUICK_PLAN if quick else FULL_PLAN
    stages = Stages(6)

    stages.next("loading data")
    args = argparse.Namespace(quick=quick, seed=seed, data_dir=data_dir)
    data = load_data(args, n_train=plan["n_train"], n_test=plan["n_test"])
    x_test_binary = binarize(data.x_test, np.random.default_rng([seed, 1]))

    stages.next(f"PCA-{CODE_DIM} baseline")
    n_pca = min(plan["n_pca"], len(data.x_train))
    pca = PCA(CODE_DIM).fit(data.x_train[:n_pca])

    stages.next(f"training the dense autoencoder ({plan['ae_epochs']} epochs)")
    ae, ae_history = _train_autoencoder(data, plan, seed)

    stages.next(f"training the VAE ({plan['vae_epochs']} epochs)")
    vae, vae_history = _train_vae(data, x_test_binary, plan, seed)

    stages.next("evaluating")
    vae_terms = vae.evaluate(x_test_binary, seed=seed)
    n_ll = min(plan["n_loglik"], len(data.x_test))
    results = {
        "data": data.source,
        "synthetic_data": data.synthetic,
        "n_train": len(data.x_train),
        "n_test": len(data.x_test),
        "n_pca": n_pca,
        "code": CODE_DIM,
        "ae_epochs": plan["ae_epochs"],
        "vae_epochs": plan["vae_epochs"],
        "pca_mse": pca.reconstruction_error(data.x_test),
        "ae_mse": ae.evaluate(data.x_test)["loss"],
        "vae_mse": float(np.mean((vae.reconstruct(data.x_test) - data.x_test) ** 2)),
        "vae_nelbo": vae_terms["loss"],
        "vae_recon": vae_terms["recon"],
        "vae_kl": vae_terms["kl"],
        "k_loglik": plan["k_loglik"],
        "n_loglik": n_ll,
        "vae_nll": -float(vae.log_likelihood(x_test_binary[:n_ll], k=plan["k_loglik"], seed=seed).mean()),
        "vae_nelbo_subset": vae.evaluate(x_test_binary[:n_ll], seed=seed)["loss"],
        "ae_history": ae_history.history,
        "vae_history": vae_history.history,
    }

    stages.next("figures")
    results.update(_figures(out, data, ae, ae_history, vae, vae_history, pca, plan, seed))
    results["total"] = stages.finish()
    results["stage_seconds"] = stages.seconds
    results["ae_seconds"] = float(sum(ae_history["epoch_time"]))
    results["vae_seconds"] = float(sum(vae_history["epoch_time"]))
    _write_report(out, results, data)
    return results


def _write_report(out, results, data):
    """``results.json`` (refused if any number is not finite), then ``report.md`` quoting it."""
    save_results(out, results)
    scalars = {k: v for k, v in results.items() if not isinstance(v, (dict, list))}
    (out / "report.md").write_text(REPORT.format(data_note=_data_note(data), **scalars))
    print(f"report: {out / 'report.md'} ({results['total']:.0f} s in all)")
