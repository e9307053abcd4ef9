"""Figures of images, grey or colour, of any size: grids, reconstructions beside their originals, best and worst,
filters, feature maps."""

from __future__ import annotations

import math

import numpy as np

from .canvas import cell_grid, pyplot

def as_image(x, shape=None):
    """One image ready to draw: grey as (H, W), colour as (H, W, 3).

    Accepts (H, W); (C, H, W) with C = 1 or 3 (the layout of npae's image arrays); a flat square grey image
    ((784,) -> (28, 28)); or any flat or shaped array with ``shape`` given, e.g. ``shape=(3, 32, 32)``.
    """
    x = np.asarray(x)
    if shape is not None:
        if x.size != math.prod(shape):
            raise ValueError(f"image: expected {math.prod(shape)} values for shape {tuple(shape)}, got shape {x.shape}")
        x = x.reshape(shape)
    if x.ndim == 3 and x.shape[0] in (1, 3):
        return x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        side = math.isqrt(x.size)
        if side * side == x.size:
            return x.reshape(side, side)
    raise ValueError(
        f"image: expected (H, W), (C, H, W) with 1 or 3 channels, or a flat square grey image, got shape {x.shape}; "
        "pass shape=(C, H, W) for flat images"
    )


def show_image(ax, image, title=None, vmin=0.0, vmax=1.0, cmap="gray", shape=None):
    """Draw one upright image without ticks (the axis label slot stays free for row labels).

    Grey images use ``cmap`` over ``[vmin, vmax]``; colour images are mapped from ``[vmin, vmax]`` onto the
    [0, 1] of each RGB channel (and clipped there), so the two kinds share one convention.
    """
    picture = as_image(image, shape)
    if picture.ndim == 3:
        rgb = np.clip((picture - vmin) / (vmax - vmin), 0.0, 1.0)
        ax.imshow(rgb, origin="upper", interpolation="nearest")
    else:
        ax.imshow(picture, cmap=cmap, vmin=vmin, vmax=vmax, origin="upper", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)


def image_grid(images, nrows=None, titles=None, row_labels=None, title=None, shape=None):
    """Images in a grid of ``nrows`` rows (row-major); optional per-image ``titles`` and ``row_labels``.

    Each image is grey or colour, as ``as_image`` reads it (``shape`` for flat images)."""
    images = list(images)
    if not images:
        raise ValueError("images: expected at least one image, got none")
    nrows = nrows or max(1, math.isqrt(len(images)))
    ncols = math.ceil(len(images) / nrows)
    fig, axes = cell_grid(nrows, ncols, title=title)
    for i, ax in enumerate(axes.ravel()):
        if i < len(images):
            show_image(ax, images[i], title=None if titles is None else titles[i], shape=shape)
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


def reconstruction_rows(originals, reconstructions, digit_labels=None, column_titles=None, title=None, shape=None):
    """Originals on the first row, then one row per ``{label: reconstructions}``, columns aligned.

    A rule and a gap separate the originals from the reconstructions below them, so that the two are never
    read as one image. ``digit_labels`` titles each column with its digit; ``column_titles`` (e.g. errors)
    overrides them. Grey or colour images, as ``as_image`` reads them (``shape`` for flat images).
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
            show_image(axes[r, c], imgs[c], title=column_titles[c] if (r == 0 and column_titles) else None,
                       shape=shape)
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.tight_layout(h_pad=1.2)
    _separate_rows(fig, axes, above=0)
    return fig


def best_worst(originals, reconstructions, errors, n=8, error_name="MSE/pixel", title=None, names=None, shape=None):
    """The ``n`` best and ``n`` worst reconstructions by ``errors`` (one per sample), each under its original.

    Each original is titled with its error, and with its name from ``names`` (e.g. file names) when given.
    With fewer than ``2 n`` images, each half shows half of them, so that no image is both best and worst.
    """
    errors = np.asarray(errors)
    if errors.shape != (len(originals),):
        raise ValueError(f"errors: expected one error per image, shape ({len(originals)},), got {errors.shape}")
    if names is not None and len(names) != len(originals):
        raise ValueError(f"names: expected one name per image ({len(originals)}), got {len(names)}")
    n = min(n, max(1, len(errors) // 2))
    order = np.argsort(errors, kind="stable")
    picks = {"best": order[:n], "worst": order[::-1][:n]}
    fig, axes = cell_grid(4, n, title=title or f"best and worst reconstructions of the test set ({error_name})",
                          extra_height=0.8 if names is None else 1.4)
    for k, (name, idx) in enumerate(picks.items()):
        for c, i in enumerate(idx):
            caption = f"{errors[i]:.4f}" if names is None else f"{shorten(names[i])}\n{errors[i]:.4f}"
            show_image(axes[2 * k, c], originals[i], title=caption, shape=shape)
            show_image(axes[2 * k + 1, c], reconstructions[i], shape=shape)
        axes[2 * k, 0].set_ylabel(f"{name}:\noriginal", fontsize=8)
        axes[2 * k + 1, 0].set_ylabel(f"{name}:\nreconstruction", fontsize=8)
    fig.tight_layout()
    return fig


def shorten(name, width=16):
    """A caption that fits above a thumbnail: each line's end (where file names differ), with an ellipsis."""
    return "\n".join(line if len(line) <= width else "..." + line[-(width - 3):] for line in str(name).split("\n"))


def filters_grid(W, shape=(28, 28), n=None, title=None):
    """Columns of a weight matrix ``W`` (in, out) as images of ``shape``: what each unit responds to.

    ``shape`` is ``(H, W)`` for grey filters or ``(3, H, W)`` for colour ones (``in`` must be its product).
    Each filter is scaled to its own symmetric range: grey = 0; for grey filters white = positive and black =
    negative, for colour ones each channel's positive weights brighten it (a filter that wants red looks red).
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


def filter_mosaic(W, shape, n=None, columns=None):
    """The first ``n`` columns of ``W`` (in, units) as one image: tiles of ``shape`` ((H, W) or (3, H, W)) in
    rows of ``columns`` (default: a square), each scaled to its own symmetric range and mapped onto [0, 1]
    (0.5 = a zero weight), separated by 1-pixel white lines. Returns (rows, cols) or (rows, cols, 3)."""
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != math.prod(shape):
        raise ValueError(f"W: expected shape ({math.prod(shape)}, units) for filters of {shape}, got {W.shape}")
    n = min(n or W.shape[1], W.shape[1])
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    tiles = [as_image(W[:, i], shape) for i in range(n)]
    height, width = tiles[0].shape[:2]
    mosaic = np.ones((rows * (height + 1) + 1, columns * (width + 1) + 1) + tiles[0].shape[2:])
    for i, tile in enumerate(tiles):
        scale = float(np.abs(tile).max()) or 1.0
        top, left = 1 + (i // columns) * (height + 1), 1 + (i % columns) * (width + 1)
        mosaic[top : top + height, left : left + width] = 0.5 + 0.5 * tile / scale
    return mosaic


def filter_mosaics(filters, shape, n=None, title=None):
    """Filter sets side by side, one mosaic each (``{name: W (in, units)}``, see ``filter_mosaic``): e.g. the
    weights a sparse autoencoder learnt beside PCA's components of the same data."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(filters), figsize=(4.6 * len(filters), 5.0), squeeze=False)
    for ax, (name, W) in zip(axes[0], filters.items()):
        mosaic = filter_mosaic(W, shape, n)
        ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, origin="upper", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
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
