"""The figures of the walkthroughs and of ``npae demo`` (matplotlib).

Every function returns a ``matplotlib.figure.Figure`` (save it with ``npae.walkthrough.save_figure`` or
``fig.savefig``). Conventions: images are drawn upright (``(28, 28)``, origin upper, gray colour map,
0 = black, 1 = white, no ticks); every axis is labelled with its unit; titles say what is compared.
matplotlib is imported inside the functions, so ``import npae`` stays fast, and the non-interactive Agg
backend is chosen when there is no display.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np

DIGIT_COLORS = "tab10"


def pyplot():
    """``matplotlib.pyplot``, with the Agg backend when headless (no DISPLAY and pyplot not yet loaded)."""
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("DISPLAY"):
        import matplotlib

        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ----------------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------------


def as_image(x, shape=None):
    """One image as a 2-D array: (784,) -> (28, 28), (1, H, W) -> (H, W); ``shape`` overrides."""
    x = np.asarray(x)
    if shape is not None:
        return x.reshape(shape)
    if x.ndim == 3 and x.shape[0] == 1:
        return x[0]
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        side = math.isqrt(x.size)
        if side * side == x.size:
            return x.reshape(side, side)
    raise ValueError(f"image: expected (H, W), (1, H, W) or a flat square image, got shape {x.shape}")


def show_image(ax, image, title=None, vmin=0.0, vmax=1.0, cmap="gray"):
    """Draw one upright image without ticks (the axis label slot stays free for row labels)."""
    ax.imshow(as_image(image), cmap=cmap, vmin=vmin, vmax=vmax, origin="upper", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)


def _grid(n_rows, n_cols, cell=1.1, title=None, extra_height=0.4):
    plt = pyplot()
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols + 0.8, cell * n_rows + extra_height),
                             squeeze=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig, axes


def image_grid(images, nrows=None, titles=None, row_labels=None, title=None):
    """Images in a grid of ``nrows`` rows (row-major); optional per-image ``titles`` and ``row_labels``."""
    images = list(images)
    if not images:
        raise ValueError("images: expected at least one image, got none")
    nrows = nrows or max(1, math.isqrt(len(images)))
    ncols = math.ceil(len(images) / nrows)
    fig, axes = _grid(nrows, ncols, title=title)
    for i, ax in enumerate(axes.ravel()):
        if i < len(images):
            show_image(ax, images[i], title=None if titles is None else titles[i])
        else:
            ax.axis("off")
    for r, label in enumerate(row_labels or []):
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return fig


def _as_rows(reconstructions):
    """``{label: images}`` from a dict, a single array (labelled "reconstruction"), or a list of pairs."""
    if isinstance(reconstructions, dict):
        return dict(reconstructions)
    if isinstance(reconstructions, np.ndarray):
        return {"reconstruction": reconstructions}
    return dict(reconstructions)


def reconstruction_rows(originals, reconstructions, digit_labels=None, column_titles=None, title=None):
    """Originals on the first row, then one row per ``{label: reconstructions}``, columns aligned.

    ``digit_labels`` titles each column with its digit; ``column_titles`` (e.g. errors) overrides them.
    """
    rows = {"original": originals, **_as_rows(reconstructions)}
    n = len(originals)
    for label, imgs in rows.items():
        if len(imgs) != n:
            raise ValueError(f"reconstructions[{label!r}]: expected {n} images like originals, got {len(imgs)}")
    if column_titles is None and digit_labels is not None:
        column_titles = [f"digit {int(d)}" for d in digit_labels]
    fig, axes = _grid(len(rows), n, title=title or "original (top) vs reconstructions (rows below)")
    for r, (label, imgs) in enumerate(rows.items()):
        for c in range(n):
            show_image(axes[r, c], imgs[c], title=column_titles[c] if (r == 0 and column_titles) else None)
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return fig


def best_worst(originals, reconstructions, errors, n=8, error_name="MSE/pixel", title=None):
    """The ``n`` best and ``n`` worst reconstructions by ``errors`` (one per sample), each under its original."""
    errors = np.asarray(errors)
    if errors.shape != (len(originals),):
        raise ValueError(f"errors: expected one error per image, shape ({len(originals)},), got {errors.shape}")
    n = min(n, len(errors))
    order = np.argsort(errors, kind="stable")
    picks = {"best": order[:n], "worst": order[::-1][:n]}
    fig, axes = _grid(4, n, title=title or f"best and worst reconstructions of the test set ({error_name})",
                      extra_height=0.8)
    for k, (name, idx) in enumerate(picks.items()):
        for c, i in enumerate(idx):
            show_image(axes[2 * k, c], originals[i], title=f"{errors[i]:.4f}")
            show_image(axes[2 * k + 1, c], reconstructions[i])
        axes[2 * k, 0].set_ylabel(f"{name}:\noriginal", fontsize=8)
        axes[2 * k + 1, 0].set_ylabel(f"{name}:\nreconstruction", fontsize=8)
    fig.tight_layout()
    return fig


def filters_grid(W, shape=(28, 28), n=None, title=None):
    """Columns of a weight matrix ``W`` (in, out) as images of ``shape``: what each unit responds to.

    Each filter is scaled to its own symmetric range (gray = 0, white = positive, black = negative).
    """
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != math.prod(shape):
        raise ValueError(f"W: expected shape ({math.prod(shape)}, units) for filters of {shape}, got {W.shape}")
    n = min(n or W.shape[1], W.shape[1])
    ncols = min(n, 8)
    nrows = math.ceil(n / ncols)
    fig, axes = _grid(nrows, ncols, title=title or f"first {n} filters (weights into each unit)")
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            ax.axis("off")
            continue
        w = W[:, i].reshape(shape)
        scale = float(np.abs(w).max()) or 1.0
        show_image(ax, w, title=f"unit {i}", vmin=-scale, vmax=scale)
    fig.tight_layout()
    return fig


def channel_maps(maps, titles=None, title=None, cmap="RdBu_r", symmetric=True, colorbar_label="value",
                 ncols=8):
    """Small 2-D arrays ``(C, H, W)`` (conv kernels, feature maps) on ONE shared colour scale, with a colorbar.

    ``symmetric``: the scale is ``[-m, m]`` with ``m = max |value|``, so a diverging ``cmap`` shows 0 as its
    centre colour (white for ``RdBu_r``: red positive, blue negative); otherwise ``[min, max]``. A shared
    scale lets the panels be compared with each other. Pixels are drawn as enlarged squares (no smoothing).
    """
    plt = pyplot()
    maps = np.asarray(maps)
    if maps.ndim != 3 or maps.shape[0] < 1:
        raise ValueError(f"maps: expected shape (C, H, W) with C >= 1, got {maps.shape}")
    if titles is not None and len(titles) != len(maps):
        raise ValueError(f"titles: expected {len(maps)} titles (one per map), got {len(titles)}")
    largest = float(np.abs(maps).max()) or 1.0
    vmin, vmax = (-largest, largest) if symmetric else (float(maps.min()), float(maps.max()))
    ncols = min(ncols, len(maps))
    nrows = math.ceil(len(maps) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.1 * ncols + 1.2, 1.1 * nrows + 0.6), squeeze=False,
                             layout="constrained")
    for i, ax in enumerate(axes.ravel()):
        if i >= len(maps):
            ax.axis("off")
            continue
        image = ax.imshow(maps[i], cmap=cmap, vmin=vmin, vmax=vmax, origin="upper", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.9, label=colorbar_label)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# ----------------------------------------------------------------------------------------------
# Curves and distributions
# ----------------------------------------------------------------------------------------------


def log_y_axis(ax):
    """A logarithmic y axis ticked at 1, 2 and 5 times the powers of ten (every multiple on a short axis),
    labelled as plain numbers (0.02, not 2 x 10^-2); call it after plotting, it reads the data limits."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    low, high = ax.get_ylim()
    subs = (1.0, 2.0, 5.0)
    if sum(low <= m * 10.0**e <= high for m in subs for e in range(-12, 13)) < 3:
        subs = tuple(float(m) for m in range(1, 10))  # a short axis: label every integer multiple
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _history_dict(h):
    return h.history if hasattr(h, "history") else dict(h)


def training_curves(histories, labels=None, keys=("loss", "val_loss"), ylabel="loss (MSE per pixel)",
                    title=None, logy=False, val_name="validation"):
    """Loss against epoch for one or more runs: training solid, validation dashed, one colour per run.

    ``histories``: a ``History``/dict ``{"loss": [...], "val_loss": [...]}`` or a list of them;
    ``val_name`` names the held-out set in the legend (``"test"`` when the test set serves as validation).
    """
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    if isinstance(histories, dict) or hasattr(histories, "history"):
        histories = [histories]
    labels = labels or [f"run {i + 1}" for i in range(len(histories))]
    fig, ax = plt.subplots(figsize=(6, 4))
    # the training loss is averaged over the epoch's batches while the weights change, so early on it lies
    # above the held-out loss, which is measured once at the epoch's end
    styles = {"loss": ("-", "train, epoch mean"), "val_loss": ("--", f"{val_name}, end of epoch")}
    for i, (h, label) in enumerate(zip(histories, labels)):
        h = _history_dict(h)
        for key in keys:
            if key not in h:
                continue
            style, kind = styles.get(key, (":", key))
            values = h[key]
            ax.plot(np.arange(1, len(values) + 1), values, style, color=f"C{i}", marker="o", markersize=3,
                    label=f"{label} ({kind})")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    if logy:
        log_y_axis(ax)
    ax.set_title(title or f"training curves: train (solid) vs {val_name} (dashed)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def code_histograms(codes, dims=None, bins=40, title=None):
    """Histograms of a few code coordinates (default: the first 8), each with its mean and std."""
    plt = pyplot()
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes: expected shape (N, code_dim), got {codes.shape}")
    dims = list(range(min(8, codes.shape[1]))) if dims is None else list(dims)
    ncols = min(4, len(dims))
    nrows = math.ceil(len(dims) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 2.4 * nrows), squeeze=False)
    for ax, d in zip(axes.ravel(), dims):
        values = codes[:, d]
        ax.hist(values, bins=bins, color="C0", alpha=0.8)
        ax.set_title(f"code[{d}]: mean {values.mean():.2f}, std {values.std():.2f}", fontsize=8)
        ax.set_xlabel("code value", fontsize=8)
        ax.set_ylabel("count (images)", fontsize=8)
    for ax in axes.ravel()[len(dims):]:
        ax.axis("off")
    fig.suptitle(title or f"distribution of code coordinates over {len(codes)} images", fontsize=10)
    fig.tight_layout()
    return fig


def scatter_2d(points, labels=None, title="2-D map", xlabel="component 1", ylabel="component 2", ax=None):
    """Points (N, 2), coloured by digit label with a legend; draws into ``ax`` when given."""
    plt = pyplot()
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points: expected shape (N, 2), got {points.shape}")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 5))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6)
    else:
        labels = np.asarray(labels)
        cmap = plt.get_cmap(DIGIT_COLORS)
        for k in np.unique(labels):
            sel = labels == k
            ax.scatter(points[sel, 0], points[sel, 1], s=4, alpha=0.6, color=cmap(int(k) % 10), label=str(k))
        ax.legend(title="digit", markerscale=3, fontsize=7, title_fontsize=8, loc="best")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if fig is not None:
        fig.tight_layout()
    return fig if fig is not None else ax.figure


def scatter_panels(maps, labels=None, title=None, xlabel="component 1", ylabel="component 2"):
    """Several 2-D maps of the same points side by side (``{panel title: points (N, 2)}``), coloured alike."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(maps), figsize=(5 * len(maps), 4.6), squeeze=False)
    for ax, (name, points) in zip(axes[0], maps.items()):
        scatter_2d(points, labels, title=name, xlabel=xlabel, ylabel=ylabel, ax=ax)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def line_plot(x, ys, labels=None, xlabel="x", ylabel="y", title=None, logy=False, logx=False):
    """One line (with markers) per series in ``ys`` (a dict ``{label: values}`` or a list with ``labels``)."""
    plt = pyplot()
    if isinstance(ys, dict):
        labels, ys = list(ys.keys()), list(ys.values())
    ys = [np.asarray(y) for y in ys]
    labels = labels or [None] * len(ys)
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (y, label) in enumerate(zip(ys, labels)):
        ax.plot(x, y, marker="o", markersize=4, color=f"C{i}", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        log_y_axis(ax)
    if logx:
        ax.set_xscale("log")
        ax.set_xticks(list(x))
        ax.set_xticklabels([f"{v:g}" for v in x])
        ax.minorticks_off()
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if any(label is not None for label in labels):
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
