"""``npae explore FOLDER``: an autoencoder as a tool for looking at your own pictures.

The recipe of the classic autoencoder tutorials, on any folder of images: shrink every picture to a few
hundred pixels, train an undercomplete autoencoder to squeeze each into a code of 32 numbers, then ask what
it found. Pictures it cannot rebuild are those unlike the rest (or too busy for 32 numbers): the worst
reconstructions are the folder's outliers. The best ones are its most typical pictures. Codes that lie close
together belong to pictures that look alike, which a 2-D map of the codes and their nearest neighbours show.

``run(folder, out_dir="npae-explore", ...)`` (the command's options in brackets) writes to ``out_dir``:

- ``reconstructions.png``: a few pictures, their autoencoder reconstructions and PCA's at the same code size;
- ``best_worst.png``: the best and the worst reconstructions, with their file names;
- ``training_curves.png``: MSE per pixel by epoch, on the training pictures and on the held-out tenth;
- ``code_histograms.png``: the distribution of the first code coordinates;
- ``code_map.png``: the codes mapped to 2-D (t-SNE; PCA above ``TSNE_LIMIT`` pictures), drawn with
  thumbnails of the pictures at their places;
- ``neighbours.png``: a few pictures and their nearest neighbours in code space;
- with ``vae=True`` [``--vae``]: ``vae_samples.png``, pictures decoded from random codes of a VAE, and
  ``vae_interpolation.png``, the path between two of the folder's pictures in the VAE's and the autoencoder's
  code spaces beside a pixel cross-fade;
- ``report.md``, which embeds the figures and lists the 20 worst pictures by path; ``errors.csv``, every
  picture's reconstruction error, worst first; ``results.json``, the numbers.

Options: ``size`` [``--size 32x32``, height x width], ``mode`` [``--mode RGB`` or ``L``], ``model``
[``--model conv`` or ``dense``], ``code_dim`` [``--code-dim 32``], ``epochs`` [``--epochs``; default: enough
for the model to see about 50,000 pictures, between 10 and 200 epochs], ``tile`` [``--tile 64``: cut large
photographs into tiles of 64x64 pixels, each explored as a picture of its own], ``seed`` [``--seed 0``],
``quick`` [``--quick``: at most ``QUICK_IMAGES`` pictures and 2 epochs, which checks that everything works;
its figures are stamped so]. Pictures are loaded by ``npae.datasets.load_images`` (any size, mode and
format; unreadable files are skipped with a warning) and cached, so a second run starts at once.
"""

from __future__ import annotations

import csv
import math
import pathlib
import re
import time

import numpy as np

from .. import plots
from ..core.checks import int_pair, positive_int
from ..core.functions import squared_distances
from ..core.optim import Adam
from ..datasets import load_images
from ..io import make_folder
from ..manifold import TSNE
from ..models import PCA, conv_autoencoder, dense_autoencoder, mlp_vae
from ..plots.images import shorten
from .demo import Stages
from .walkthrough import save_figure, save_results

MODELS = ("conv", "dense")
QUICK_IMAGES = 200
QUICK_EPOCHS = 2
#: up to this many pictures the code map is a t-SNE (exact, O(N^2) time and memory); beyond it, PCA
TSNE_LIMIT = 3000
N_OUTLIERS = 20
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
MIN_IMAGES = 4


def parse_size(text):
    """``"32x48"`` (height x width) or ``"32"`` (a square) as ``(32, 48)``."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", str(text))
    if not match:
        raise ValueError(f"size: expected HEIGHTxWIDTH such as 32x32 (or one number for a square), got {text!r}")
    height = int(match.group(1))
    return int_pair((height, int(match.group(2) or height)), "size", minimum=1)


def default_epochs(n_train):
    """Enough epochs for the model to see about 50,000 pictures: few pictures, many epochs (10 to 200)."""
    return int(np.clip(math.ceil(50_000 / n_train), 10, 200))


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


def _names(loaded, root, tiled):
    """``(names, captions)`` per picture: its path under ``root`` (and the tile's rows and columns when
    ``tiled``) for the report, and a short two-line form for the figures."""
    names, captions = [], []
    for path, (top, left, height, width) in zip(loaded.paths, loaded.regions):
        name = path.relative_to(root).as_posix()
        names.append(f"{name} [rows {top}-{top + height}, cols {left}-{left + width}]" if tiled else name)
        captions.append(f"{shorten(name, 16)}\nat ({top}, {left})" if tiled else shorten(name, 16))
    return names, captions


def _load(folder, size, mode, tile, quick, seed):
    """``(images, names, captions)``: every picture under ``folder`` (a seeded subset in a quick run)."""
    root = pathlib.Path(folder).expanduser()
    loaded = load_images(root, size=size, mode=mode, tile=tile, cache=True)
    names, captions = _names(loaded, root, tile is not None)
    images = loaded.images
    if len(images) < MIN_IMAGES:
        raise ValueError(
            f"folder: explore compares pictures with each other and needs at least {MIN_IMAGES}, found {len(images)} "
            f"in {root}; add pictures, or cut large ones into many with --tile"
        )
    if quick and len(images) > QUICK_IMAGES:
        keep = np.sort(np.random.default_rng(seed).choice(len(images), QUICK_IMAGES, replace=False))
        images, names, captions = images[keep], [names[i] for i in keep], [captions[i] for i in keep]
    return images, names, captions


def _split(n, seed):
    """Indices of the training pictures and of a held-out tenth (none below 20 pictures), both sorted."""
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_val = n // 10 if n >= 20 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------


def build_autoencoder(kind, shape, code_dim, seed):
    """The conv model of the zoo for ``shape`` (C, H, W), or the dense one reading the image as it is."""
    if kind == "conv":
        return conv_autoencoder(code_dim=code_dim, in_channels=shape[0], image_size=shape[1:], seed=seed)
    return dense_autoencoder(input_shape=shape, code_dim=code_dim, seed=seed)


def _train(model, x_train, x_val, epochs, seed):
    start = time.perf_counter()
    history = model.fit(x_train, epochs=epochs, batch_size=BATCH_SIZE, validation_data=x_val if len(x_val) else None,
                        optimizer=Adam(LEARNING_RATE), seed=seed)
    return history, time.perf_counter() - start


def _train_vae(images, train, val, code_dim, epochs, seed):
    """A dense Bernoulli VAE on the flattened pictures, grey levels read as pixel probabilities."""
    flat = images.reshape(len(images), -1)
    vae = mlp_vae(input_dim=flat.shape[1], latent_dim=code_dim, seed=seed)
    history, seconds = _train(vae, flat[train], flat[val], epochs, seed)
    return vae, history, seconds


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def _neighbours_figure(codes, images, captions, queries, k=6):
    """Each query picture, then its ``k`` nearest pictures in code space (Euclidean), with the distances."""
    distances = np.sqrt(np.maximum(squared_distances(codes[queries], codes), 0))
    distances[np.arange(len(queries)), queries] = np.inf  # not its own neighbour
    grid, titles = [], []
    for row, q in enumerate(queries):
        nearest = np.argsort(distances[row], kind="stable")[:k]
        grid += [images[q]] + [images[i] for i in nearest]
        titles += [f"query: {captions[q]}"] + [f"{captions[i]}\nd = {distances[row, i]:.2f}" for i in nearest]
    fig = plots.image_grid(grid, nrows=len(queries), titles=titles,
                           title=f"{len(queries)} pictures (left) and their {k} nearest neighbours in code space "
                                 "(d: Euclidean distance between codes)")
    for ax in fig.axes:
        ax.title.set_fontsize(6)
    return fig


def thumbnail_size(n):
    """The side of a thumbnail on the code map, as a share of the map's width: 5% for many pictures, up to
    15% for a few (13 pictures: 14%), so that a small folder's map shows its pictures at a size one can see."""
    return float(np.clip(0.5 / math.sqrt(n), 0.05, 0.15))


def _code_map(codes, images, seed, quick):
    """``(figure, method)``: the codes in 2-D by t-SNE (PCA for many pictures) with thumbnails."""
    n = len(codes)
    if n <= TSNE_LIMIT and n > 4:
        tsne = TSNE(2, perplexity=min(30.0, (n - 1) / 3), n_iter=300 if quick else 1000, seed=seed)
        points, method, axis = tsne.fit_transform(codes.astype(np.float64)), "t-SNE", "t-SNE"
    else:
        points, method, axis = PCA(2).fit_transform(codes.astype(np.float64)), "PCA", "principal component"
    fig = plots.thumbnail_map(points, images, xlabel=f"{axis} 1", ylabel=f"{axis} 2", seed=seed,
                              thumbnail_size=thumbnail_size(n),
                              title=f"the codes of all {n} pictures mapped to 2-D by {method}: nearby pictures have "
                                    "nearby codes")
    return fig, method


def _vae_figures(out, vae, ae, images, pair, seed, quick, steps=10):
    shape = images.shape[1:]
    samples = vae.sample(24, seed=seed).reshape((-1,) + shape)
    save_figure(plots.image_grid(samples, nrows=3, title="VAE: new pictures decoded from random codes z ~ N(0, I)"),
                out, "vae_samples", synthetic=False, quick=quick)
    x1, x2 = images[pair[0]], images[pair[1]]
    t = np.linspace(0, 1, steps, dtype=images.dtype)
    codes = ae.encode(np.stack([x1, x2]))
    rows = {
        "VAE latent path": vae.interpolate(x1.reshape(-1), x2.reshape(-1), steps=steps).reshape((-1,) + shape),
        "AE code path": ae.decode(((1 - t[:, None]) * codes[0] + t[:, None] * codes[1]).astype(images.dtype)),
        "pixel cross-fade": (1 - t[:, None, None, None]) * x1 + t[:, None, None, None] * x2,
    }
    grid = [image for row in rows.values() for image in row]
    save_figure(plots.image_grid(
        grid, nrows=len(rows), row_labels=list(rows), titles=[f"t={v:.2f}" for v in t] + [None] * (2 * steps),
        title="from one of your pictures (left) to another (right): straight lines in code space vs in pixels",
    ), out, "vae_interpolation", synthetic=False, quick=quick)


def _figures(out, images, captions, errors, ae, history, pca, codes, train, seed, quick):
    """Every figure of the autoencoder; returns the name of the 2-D map's method."""
    rng = np.random.default_rng([seed, 2])
    held_out = np.setdiff1d(np.arange(len(images)), train)
    pool, which = (held_out, "held-out") if len(held_out) >= 5 else (np.arange(len(images)), "training")
    shown = np.sort(rng.choice(pool, size=min(10, len(pool)), replace=False))
    originals = images[shown]
    save_figure(plots.reconstruction_rows(
        originals, {"autoencoder": ae.reconstruct(originals), f"PCA-{pca.n_components}": pca.inverse_transform(
            pca.transform(originals))},
        column_titles=[captions[i] for i in shown],
        title=f"{len(shown)} of your {which} pictures (top) and their reconstructions from {codes.shape[1]} numbers"
              + ("" if which == "held-out" else "\n(no picture was held out: both models were fitted on these)"),
    ), out, "reconstructions", synthetic=False, quick=quick)
    best_worst = plots.best_worst(
        images, ae.reconstruct(images), errors, n=8, names=captions,
        title="the best (typical) and the worst (unusual) reconstructions of all pictures, MSE per pixel",
    )
    for ax in best_worst.axes:
        ax.title.set_fontsize(6)
    save_figure(best_worst, out, "best_worst", synthetic=False, quick=quick)
    save_figure(plots.training_curves(
        history, ["autoencoder"], ylabel="MSE per pixel", val_name="held-out pictures", logy=True,
        title=f"MSE per pixel by epoch on the {len(train)} training pictures"
              + (" (solid) and the held-out ones (dashed)" if len(train) < len(images) else ""),
    ), out, "training_curves", synthetic=False, quick=quick)
    save_figure(plots.code_histograms(codes, title=f"distribution over all {len(codes)} pictures"),
                out, "code_histograms", synthetic=False, quick=quick)
    fig, method = _code_map(codes, images, seed, quick)
    save_figure(fig, out, "code_map", synthetic=False, quick=quick)
    queries = np.sort(rng.choice(len(images), size=min(4, len(images)), replace=False))
    save_figure(_neighbours_figure(codes, images, captions, queries, k=min(6, len(images) - 1)), out, "neighbours",
                synthetic=False, quick=quick)
    return method


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def _write_errors(out, names, errors, held_out):
    """``errors.csv``: every picture, worst reconstruction first."""
    with open(out / "errors.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "picture", "mse_per_pixel", "held_out"])
        for rank, i in enumerate(np.argsort(-errors, kind="stable"), start=1):
            writer.writerow([rank, names[i], f"{errors[i]:.6g}", "yes" if held_out[i] else "no"])


def _outlier_table(names, errors, held_out, n):
    lines = ["| rank | picture | MSE per pixel | held out |", "| --- | --- | --- | --- |"]
    for rank, i in enumerate(np.argsort(-errors, kind="stable")[:n], start=1):
        lines.append(f"| {rank} | `{names[i]}` | {errors[i]:.5f} | {'yes' if held_out[i] else 'no'} |")
    return "\n".join(lines)


def _report(out, r, names, errors, held_out):
    tiles = f", cut into tiles of {r['tile'][0]}x{r['tile'][1]} pixels" if r["tile"] else ""
    val_mse = f"{r['val_mse']:.5f}" if r["n_val"] else "none held out (fewer than 20 pictures)"
    pca_val_mse = f"{r['pca_val_mse']:.5f}" if r["n_val"] else "none held out"
    pca_size = (" (the same code size)" if r["pca_components"] == r["code_dim"] else
                f" (at most one per training picture; the code has {r['code_dim']} numbers)")
    behind_pca = ""
    if r["n_val"] and r["pca_val_mse"] < r["val_mse"]:
        behind_pca = (f"\nPCA rebuilds the held-out pictures better than the autoencoder after {r['epochs']} epochs: "
                      "the autoencoder may need more (`--epochs`), and its ranking of the pictures is rougher than "
                      "it could be.\n")
    typical = ", ".join(f"`{names[i]}`" for i in np.argsort(errors, kind="stable")[:5])
    vae_part = ""
    if r["vae"]:
        vae_part = f"""
## Generating (VAE)

A VAE with the same code size ({r['code_dim']} numbers) trained on the same pictures ({r['vae_epochs']} epochs,
{r['vae_seconds']:.0f} s; negative ELBO {r['vae_neg_elbo']:.1f} nats per picture on the training pictures).

![VAE samples](vae_samples.png)

New pictures decoded from codes drawn from the VAE's prior N(0, I).

![VAE interpolation](vae_interpolation.png)

From `{r['interpolation_from']}` to `{r['interpolation_to']}`: straight lines between their codes, decoded, beside a
pixel cross-fade (which only overlays the two pictures).
"""
    quick_note = ("\n> **Quick run**: a subset and two epochs, to check that everything works; the figures are "
                  "stamped so and the findings below are not to be trusted.\n" if r["quick"] else "")
    text = f"""# npae explore: {r['folder']}
{quick_note}
**{r['n_images']} pictures** from `{r['folder']}`{tiles}, resized to {r['height']}x{r['width']} pixels
({r['mode']}, {r['channels']} channel{'s' if r['channels'] > 1 else ''}).
A {r['model']} autoencoder ({r['parameters']:,} parameters) squeezed each into **{r['code_dim']} numbers**; it
trained {r['epochs']} epochs on {r['n_train']} pictures (batch {BATCH_SIZE}, Adam lr {LEARNING_RATE:g}) in
{r['train_seconds']:.0f} s; {r['n_val']} pictures were held out to watch for overfitting.

| | MSE per pixel |
| --- | --- |
| autoencoder, training pictures | {r['train_mse']:.5f} |
| autoencoder, held-out pictures | {val_mse} |
| PCA with {r['pca_components']} components{pca_size}, held-out pictures | {pca_val_mse} |
{behind_pca}
## The most unusual pictures: the worst reconstructions

![best and worst reconstructions](best_worst.png)

The top rows are the best reconstructions (the most typical pictures), the bottom rows the worst: what the
autoencoder finds unusual, because it is unlike most of the folder or too detailed for {r['code_dim']} numbers.
The {min(N_OUTLIERS, r['n_images'])} worst, which are the first to look at when checking a collection
(`errors.csv` ranks all {r['n_images']}):

{_outlier_table(names, errors, held_out, N_OUTLIERS)}

The five most typical: {typical}.

## Reconstructions

![reconstructions](reconstructions.png)

## Training

![training curves](training_curves.png)

## Codes

![code histograms](code_histograms.png)

![code map](code_map.png)

The codes of all pictures mapped to 2-D by {r['map_method']}, with as many thumbnails as fit without overlapping:
pictures that look alike to the autoencoder lie close together.

![nearest neighbours](neighbours.png)

A few pictures and their nearest neighbours in code space.
{vae_part}
Time: {r['seconds']:.0f} s in all.
"""
    (out / "report.md").write_text(text)


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------


def run(folder, out_dir="npae-explore", size=(32, 32), mode="RGB", model="conv", code_dim=32, epochs=None,
        vae=False, tile=None, quick=False, seed=0):
    """Load the pictures under ``folder``, train, and write the figures, ``report.md``, ``errors.csv`` and
    ``results.json`` to ``out_dir``; returns the results dict. See the module docstring."""
    if model not in MODELS:
        raise ValueError(f"model: expected one of {MODELS}, got {model!r}")
    code_dim = positive_int(code_dim, "code_dim")
    size = int_pair(size, "size", minimum=1)
    tile = None if tile is None else int_pair(tile, "tile", minimum=1)
    out = make_folder(out_dir, "out_dir")
    stages = Stages(6 if vae else 5)

    stages.next(f"loading the pictures under {folder}")
    images, names, captions = _load(folder, size, mode, tile, quick, seed)
    train, val = _split(len(images), seed)
    held_out = np.isin(np.arange(len(images)), val)
    if quick:
        epochs = QUICK_EPOCHS
    else:
        epochs = default_epochs(len(train)) if epochs is None else positive_int(epochs, "epochs")
    print(f"{len(images)} pictures of {images.shape[1:]} (C, H, W): {len(train)} to train on, {len(val)} held out")

    stages.next(f"training the {model} autoencoder ({epochs} epochs)")
    ae = build_autoencoder(model, images.shape[1:], code_dim, seed)
    history, train_seconds = _train(ae, images[train], images[val], epochs, seed)

    stages.next("measuring: reconstruction errors, codes, the PCA baseline")
    errors = ae.per_sample_loss(images)
    codes = ae.encode(images)
    pca = PCA(min(code_dim, len(train), math.prod(images.shape[1:]))).fit(images[train])

    stages.next("drawing the figures (t-SNE map, neighbours)")
    map_method = _figures(out, images, captions, errors, ae, history, pca, codes, train, seed, quick)
    _write_errors(out, names, errors, held_out)

    results = {
        "folder": str(folder), "n_images": len(images), "n_train": len(train), "n_val": len(val),
        "height": size[0], "width": size[1], "mode": mode, "channels": images.shape[1], "model": model,
        "code_dim": code_dim, "epochs": epochs, "parameters": ae.num_parameters(), "train_seconds": train_seconds,
        "train_mse": float(errors[train].mean()), "pca_components": pca.n_components, "map_method": map_method,
        "quick": quick, "vae": vae, "seed": seed,
        "tile": list(tile) if tile is not None else None,
        "worst": [names[i] for i in np.argsort(-errors, kind="stable")[:N_OUTLIERS]],
    }
    if len(val):
        results["val_mse"] = float(errors[val].mean())
        results["pca_val_mse"] = pca.reconstruction_error(images[val])

    if vae:
        stages.next(f"training the VAE ({epochs} epochs), samples and an interpolation")
        model_vae, vae_history, vae_seconds = _train_vae(images, train, val, code_dim, epochs, seed)
        pair = np.random.default_rng([seed, 3]).choice(len(images), size=2, replace=False)
        _vae_figures(out, model_vae, ae, images, pair, seed, quick)
        results.update(vae_epochs=epochs, vae_seconds=vae_seconds, vae_neg_elbo=vae_history["neg_elbo"][-1],
                       interpolation_from=names[pair[0]], interpolation_to=names[pair[1]])

    stages.next("writing report.md")
    results["seconds"] = stages.finish()
    _report(out, results, names, errors, held_out)
    save_results(out, results)
    print(f"wrote {out / 'report.md'}; the worst reconstruction: {results['worst'][0]}")
    return results
