"""Shared plumbing for the scripts in ``walkthroughs/``: arguments, data, results, figures.

Every walkthrough has the same shape, so that a reader sees only the experiment::

    from npae import plots
    from npae.apps.walkthrough import load_data, parse_args, pick, save_figure, save_results

    args = parse_args(__doc__)                   # --quick / --short, --out, --seed, --data-dir
    data = load_data(args)                       # MNIST (or the offline synthetic digits, said so)
    epochs = pick(args, full=10, short=3, quick=1)
    ...train and measure...
    save_figure(plots.line_plot(...), args.out, "error_vs_code_size")
    save_results(args.out, {"test_mse": mse, "data": data.source})   # results.json + printed summary

Three run sizes: the full run (the numbers quoted in the docstrings); ``--short``, a few minutes on two cores in
which the script's finding already shows; ``--quick``, seconds on ``QUICK_TRAIN`` training and ``QUICK_TEST``
test images, which checks that the script works, not what it shows (its figures say so in red). Figures and
``results.json`` go to ``--out`` (default ``walkthroughs/out/<script name>``).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
from dataclasses import dataclass

import numpy as np

QUICK_TRAIN = 1000
QUICK_TEST = 300
SIZES = ("full", "short", "quick")
QUICK_STAMP = "quick run: checks the script, not the finding"

#: the size of this process's run, set by ``parse_args``: ``save_figure`` marks the figures of a quick run
run_size = "full"


def parse_args(description, argv=None):
    """The command line every walkthrough accepts: ``--quick`` or ``--short``, ``--out DIR``, ``--seed``,
    ``--data-dir``. ``args.size`` is ``"full"``, ``"short"`` or ``"quick"``."""
    global run_size
    script = pathlib.Path(sys.argv[0]).resolve()
    parser = argparse.ArgumentParser(
        description=(description or "").strip().split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help=f"seconds-long run on {QUICK_TRAIN} training / {QUICK_TEST} test images: checks that the "
                           "script works, not what it shows (the tests use it)")
    size.add_argument("--short", action="store_true",
                      help="a run of a few minutes on two cores in which the finding already shows")
    parser.add_argument("--out", type=pathlib.Path, default=script.parent / "out" / script.stem,
                        help="folder for the figures and results.json (default: walkthroughs/out/<script name>)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding mnist/ with the IDX files (default: $NPAE_DATA_DIR, then the cache)")
    args = parser.parse_args(argv)
    args.size = "quick" if args.quick else "short" if args.short else "full"
    run_size = args.size
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def pick(args, full, quick, short=None):
    """The value for this run's size (epochs, subset sizes, sweep lists): ``short`` defaults to ``full``."""
    return {"full": full, "short": full if short is None else short, "quick": quick}[args.size]


def resume_options(args, name):
    """``fit`` keyword arguments for a long run: a checkpoint in ``out/name``, resumed from when present.

    A full run that was killed, or repeated to redraw its figures, continues from its last completed epoch
    instead of training again; ``--quick`` runs keep no checkpoint.
    """
    return {} if args.quick else {"checkpoint_dir": args.out / name, "resume": True}


@dataclass
class Data:
    """Train and test images with their digit labels, and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def synthetic(self):
        """True when the offline synthetic digits stand in for the real dataset."""
        return "synthetic" in self.source

    def __str__(self):
        return f"{len(self.x_train)} training and {len(self.x_test)} test images from {self.source}"


def _subset(images, labels, n, rng):
    """``n`` samples drawn without replacement (in their original order), or all of them."""
    if n is None or n >= len(images):
        return images, labels
    keep = np.sort(rng.choice(len(images), size=n, replace=False))
    return images[keep], labels[keep]


def load_data(args, n_train=None, n_test=None, flatten=True, dataset="mnist"):
    """MNIST as float32 in [0, 1]: (N, 784) when ``flatten``, else (N, 1, 28, 28); labels int64.

    ``n_train``/``n_test`` take random subsets (from ``args.seed``); ``--quick`` caps them at
    ``QUICK_TRAIN``/``QUICK_TEST``. Without the MNIST files and without network, the offline synthetic
    digits stand in, and ``Data.source`` (printed here) says so.
    """
    from ..datasets import load_dataset

    if args.quick:
        n_train = min(n_train or QUICK_TRAIN, QUICK_TRAIN)
        n_test = min(n_test or QUICK_TEST, QUICK_TEST)
    rng = np.random.default_rng(args.seed)
    splits, sources = [], []
    for split, n in (("train", n_train), ("test", n_test)):
        extra = {"n_synthetic": n} if n is not None else {}
        images, labels, source = load_dataset(
            dataset, split, data_dir=args.data_dir, allow_synthetic_fallback=True, flatten=flatten,
            seed=args.seed, **extra
        )
        splits.append(_subset(images, labels, n, rng))
        sources.append(source)
    (x_train, y_train), (x_test, y_test) = splits
    data = Data(x_train, y_train, x_test, y_test, "; ".join(sources))
    print(f"data: {data}")
    return data


def one_per_class(labels, per_class=1):
    """Indices of the first ``per_class`` examples of each label, ordered by label (for figure rows)."""
    labels = np.asarray(labels)
    return np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in np.unique(labels)])


def _check_finite(value, where):
    """Raise a ValueError naming the first non-finite number inside ``value`` (dicts, lists, arrays)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple, np.ndarray)):
        for i, v in enumerate(np.asarray(value, dtype=object).ravel() if isinstance(value, np.ndarray) else value):
            _check_finite(v, f"{where}[{i}]")
    elif isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
        if not math.isfinite(float(value)):
            raise ValueError(f"results: expected finite numbers, got {value} at {where}")


def _jsonable(value):
    """Numpy scalars and arrays as plain Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_results(out, results):
    """Write ``results`` to ``out/results.json`` (every number must be finite) and print its scalars."""
    if not isinstance(results, dict):
        raise TypeError(f"results: expected a dict, got {type(results).__name__}")
    _check_finite(results, "results")
    path = pathlib.Path(out) / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(results), indent=1) + "\n")
    print("results:")
    for key, value in results.items():
        if isinstance(value, (float, np.floating)):
            print(f"  {key}: {float(value):.5g}")
        elif isinstance(value, (int, str, np.integer)):
            print(f"  {key}: {value}")
    print(f"wrote {path}")
    return path


def save_figure(fig, out, name):
    """Save a matplotlib figure as ``out/name.png`` and close it; returns the path.

    In a ``--quick`` run (``parse_args``) the figure is stamped, in red across its top, with ``QUICK_STAMP``: a
    seconds-long run checks that the script works, and its figures must not be read as the finding.
    """
    from ..plots import pyplot

    if run_size == "quick":
        fig.text(0.5, 1.0, QUICK_STAMP, ha="center", va="bottom", color="red", fontsize=11, fontweight="bold")
    path = pathlib.Path(out) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    pyplot().close(fig)
    print(f"figure: {path}")
    return path
