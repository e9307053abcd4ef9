"""Figures of images: grids, reconstructions beside their originals, best and worst, filters, feature maps."""

from __future__ import annotations

import math

import numpy as np

from .canvas import cell_grid, pyplot

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


def image_grid(images, nrows=None, titles=None, row_labels=None, title=None):
    """Images in a grid of ``nrows`` rows (row-major); optional per-image ``titles`` and ``row_labels``."""
    images = list(images)
    if not images:
        raise ValueError("images: expected at least one image, got none")
    nrows = nrows or max(1, math.isqrt(len(images)))
    ncols = math.ceil(len(images) / nrows)
    fig, axes = cell_grid(nrows, ncols, title=title)
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


def _separate_rows(fig, axes, above):
    """A gray rule across the figure between image row ``above`` and the row below it (call after the layout)."""
    from matplotlib.lines import Line2D

    y = (axes[above, 0].get_position().y0 + axes[above + 1, 0].get_position().y1) / 2
    fig.add_artist(Line2D([0.01, 0.99], [y, y], transform=fig.transFigure, color="0.5", linewidth=1.2))


def reconstruction_rows(originals, reconstructions, digit_labels=None, column_titles=None, title=None):
    """Originals on the first row, then one row per ``{label: reconstructions}``, columns aligned.

    A rule and a gap separate the originals from the reconstructions below them, so that the two are never
    read as one image. ``digit_labels`` titles each column with its digit; ``column_titles`` (e.g. errors)
    overrides them.
    """
    rows = {"original": originals, **_as_rows(reconstructions)}
    n = len(originals)
    for label, imgs in rows.items():
        if len(imgs) != n:
            raise ValueError(f"reconstructions[{label!r}]: expected {n} images like originals, got {len(imgs)}")
    if column_titles is None and digit_labels is not None:
        column_titles = [f"digit {int(d)}" for d in digit_labels]
    fig, axes = cell_grid(len(rows), n, title=title or "original (top) vs reconstructions (rows below)",
                          extra_height=0.7)
    for r, (label, imgs) in enumerate(rows.items()):
        for c in range(n):
            show_image(axes[r, c], imgs[c], title=column_titles[c] if (r == 0 and column_titles) else None)
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.tight_layout(h_pad=1.2)
    _separate_rows(fig, axes, above=0)
    return fig


def best_worst(originals, reconstructions, errors, n=8, error_name="MSE/pixel", title=None):
    """The ``n`` best and ``n`` worst reconstructions by ``errors`` (one per sample), each under its original."""
    errors = np.asarray(errors)
    if errors.shape != (len(originals),):
        raise ValueError(f"errors: expected one error per image, shape ({len(originals)},), got {errors.shape}")
    n = min(n, len(errors))
    order = np.argsort(errors, kind="stable")
    picks = {"best": order[:n], "worst": order[::-1][:n]}
    fig, axes = cell_grid(4, n, title=title or f"best and worst reconstructions of the test set ({error_name})",
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
    fig, axes = cell_grid(nrows, ncols, title=title or f"first {n} filters (weights into each unit)")
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
