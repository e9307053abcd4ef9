"""Charts: training curves, code histograms, 2-D maps of codes, line plots."""

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
