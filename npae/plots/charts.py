"""Charts: training curves, code histograms, 2-D maps of codes (dots, or thumbnails of the images), line plots."""

from __future__ import annotations

import math

import numpy as np

from .canvas import pyplot

DIGIT_COLORS = "tab10"


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


def code_histograms(codes, dims=None, bins=40, title=None, name="code"):
    """Histograms of a few code coordinates (default: the first 8), each with its mean and std.

    ``name`` names the coordinates (``"code"``, ``"mu"`` for a VAE's posterior means); the figure's title ends
    by saying which of the coordinates are shown, since a histogram of four out of 32 is easily read as all.
    """
    plt = pyplot()
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes: expected shape (N, code_dim), got {codes.shape}")
    dims = list(range(min(8, codes.shape[1]))) if dims is None else list(dims)
    outside = [d for d in dims if not 0 <= d < codes.shape[1]]
    if outside:
        raise ValueError(f"dims: expected coordinates in 0..{codes.shape[1] - 1}, got {outside[0]}")
    ncols = min(4, len(dims))
    nrows = math.ceil(len(dims) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 2.4 * nrows + 0.3), squeeze=False)
    for ax, d in zip(axes.ravel(), dims):
        values = codes[:, d]
        ax.hist(values, bins=bins, color="C0", alpha=0.8)
        ax.set_title(f"{name}[{d}]: mean {values.mean():.2f}, std {values.std():.2f}", fontsize=8)
        ax.set_xlabel(f"{name} value", fontsize=8)
        ax.set_ylabel("count (images)", fontsize=8)
    for ax in axes.ravel()[len(dims):]:
        ax.axis("off")
    shown = f"{name} coordinates {_ranges(dims)} of {codes.shape[1]}"
    fig.suptitle(f"{title}\n{shown}" if title else f"distribution of {shown} over {len(codes)} images", fontsize=10)
    fig.tight_layout()
    return fig


def _ranges(values):
    """``[0, 1, 2, 3, 7]`` -> ``"0-3, 7"``: a list of integers as runs."""
    runs, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            runs.append(f"{start}" if start == v else f"{start}-{v}")
            start = None
    return ", ".join(runs)


def _digit_legend(owner, handles, **placement):
    """A legend of the digit colours, with markers large enough to read."""
    return owner.legend(handles=handles, title="digit", markerscale=3, fontsize=7, title_fontsize=8, **placement)


def scatter_2d(points, labels=None, title="2-D map", xlabel="component 1", ylabel="component 2", ax=None,
               legend=True):
    """Points (N, 2), coloured by digit label; draws into ``ax`` when given.

    The digit legend sits outside the axes, on the right, so that it covers no point (``legend=False`` leaves
    it to the caller, as ``scatter_panels`` does for several maps).
    """
    plt = pyplot()
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points: expected shape (N, 2), got {points.shape}")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.6, 5))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6)
    else:
        labels = np.asarray(labels)
        cmap = plt.get_cmap(DIGIT_COLORS)
        for k in np.unique(labels):
            sel = labels == k
            ax.scatter(points[sel, 0], points[sel, 1], s=4, alpha=0.6, color=cmap(int(k) % 10), label=str(k))
        if legend:
            _digit_legend(ax, ax.collections, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if fig is not None:
        fig.tight_layout()
    return fig if fig is not None else ax.figure


def thumbnail_map(points, images, title="2-D map of the codes, with the images at their places",
                  xlabel="component 1", ylabel="component 2", thumbnail_size=0.05, seed=0, shape=None):
    """A 2-D map of N points (e.g. t-SNE of the codes) with the images themselves drawn at their positions.

    Every point is a small grey dot; on top, thumbnails (grey or colour, as ``plots.as_image`` reads them) of
    as many points as fit without overlapping: points are visited in a random order (from ``seed``) and one is
    drawn when its square, ``thumbnail_size`` times the map's wider extent, touches no square drawn before.
    The map keeps equal scales on both axes, so distances look like the distances the map computed.
    """
    from .images import as_image

    plt = pyplot()
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points: expected shape (N, 2), got {points.shape}")
    if len(images) != len(points):
        raise ValueError(f"images: expected one image per point ({len(points)}), got {len(images)}")
    low, high = points.min(axis=0), points.max(axis=0)
    side = thumbnail_size * float(max(high - low)) or 1.0
    fig, ax = plt.subplots(figsize=(9, 8.5))
    ax.scatter(points[:, 0], points[:, 1], s=3, color="0.6", zorder=1, label=f"all {len(points)} images")
    shown = 0
    for i in _non_overlapping(points, side, seed):
        x, y = points[i]
        shown += 1
        picture = as_image(images[i], shape)
        extent = (x - side / 2, x + side / 2, y - side / 2, y + side / 2)
        kwargs = {} if picture.ndim == 3 else {"cmap": "gray", "vmin": 0.0, "vmax": 1.0}
        ax.imshow(np.clip(picture, 0, 1), extent=extent, origin="upper", interpolation="nearest", zorder=2, **kwargs)
    ax.set_xlim(low[0] - side, high[0] + side)
    ax.set_ylim(low[1] - side, high[1] + side)
    ax.set_aspect("equal")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n({shown} of {len(points)} images drawn, chosen so that none overlap)", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def _non_overlapping(points, side, seed):
    """Indices of points, in a random order from ``seed``, whose ``side`` x ``side`` squares do not overlap.

    A square can only overlap those whose centres lie in the 3x3 cells of a grid of ``side`` around its own,
    so each point is checked against a few neighbours instead of every square kept so far."""
    cells = {}
    for i in np.random.default_rng(seed).permutation(len(points)):
        x, y = points[i]
        cx, cy = int(np.floor(x / side)), int(np.floor(y / side))
        near = (cells.get((cx + dx, cy + dy), ()) for dx in (-1, 0, 1) for dy in (-1, 0, 1))
        if all(abs(x - a) >= side or abs(y - b) >= side for cell in near for a, b in cell):
            cells.setdefault((cx, cy), []).append((x, y))
            yield i


def scatter_panels(maps, labels=None, title=None, xlabel="component 1", ylabel="component 2"):
    """Several 2-D maps of the same points side by side (``{panel title: points (N, 2)}``), coloured alike,
    with one digit legend on the right, outside the panels."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(maps), figsize=(5 * len(maps) + 0.8, 4.6), squeeze=False)
    for ax, (name, points) in zip(axes[0], maps.items()):
        scatter_2d(points, labels, title=name, xlabel=xlabel, ylabel=ylabel, ax=ax, legend=False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1 - 0.8 / fig.get_figwidth(), 1))
    if labels is not None:
        _digit_legend(fig, axes[0, -1].collections, loc="center right")
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
    elif np.issubdtype(np.asarray(x).dtype, np.integer):  # epochs, counts: no tick at 1.5
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if any(label is not None for label in labels):
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
