"""Shared plumbing for the scripts in ``walkthroughs/``: arguments, data, findings, results, figures.

Every walkthrough has the same shape, so that a reader sees only the experiment::

    from npae import plots
    from npae.apps.walkthrough import Findings, load_data, parse_args, pick, save_figure, save_results

    args = parse_args(__doc__)                   # --quick / --short, --out, --seed, --data-dir
    data = load_data(args)                       # MNIST (or the offline synthetic digits, said so)
    epochs = pick(args, full=10, short=3, quick=1)
    ...train and measure...
    findings = Findings()
    wins = findings.check("dense_beats_pca", ae_mse < pca_mse,
                          f"the dense autoencoder beats PCA ({ae_mse:.4f} vs {pca_mse:.4f} MSE per pixel)")
    save_figure(plots.line_plot(..., title=findings.title("test error vs code size", "dense_beats_pca")),
                args.out, "error_vs_code_size")
    save_results(args.out, {"test_mse": mse, "data": data.source}, findings)   # results.json + printed summary

Three run sizes: the full run (the numbers quoted in the docstrings); ``--short``, at most three minutes on two
cores, in which the script's finding already shows; ``--quick``, seconds on ``QUICK_TRAIN`` training and
``QUICK_TEST`` test images, which checks that the script works, not what it shows (its figures say so in red).
Give ``pick`` all three sizes (``short`` falls back to ``full``, which is rarely short enough).

Findings: a sentence about what the numbers show (the denoising model beats the plain one, larger beta
switches dimensions off) is never written into a title or a print by hand. ``Findings.check(name, holds,
sentence)`` records ``holds``, a comparison computed from this run's numbers, and returns the sentence only
when it holds (else ``""``); ``Findings.title(base, *names)`` appends the sentences of the named findings that
hold to a title that says what is plotted. ``save_results(out, results, findings)`` writes them to
``results.json`` (``"findings"``: name -> true/false; ``"finding_sentences"``: the sentences that hold) and
prints them. ``benchmarks/walkthrough_findings.py`` runs every ``--short`` run and checks that each finding holds;
``tests/test_walkthroughs.py`` runs every ``--quick`` run and checks that findings are recorded (a quick run is too
short to show them).

Figures and ``results.json`` go to ``--out`` (default ``walkthroughs/out/<script name>``, with ``_short`` or
``_quick`` appended for the smaller runs, so that they never overwrite a full run's figures or resume from its
checkpoints).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import textwrap
from dataclasses import dataclass

import numpy as np

from ..io import make_folder
from . import options

QUICK_TRAIN = 1000
QUICK_TEST = 300
SIZES = ("full", "short", "quick")
#: the longest line of a finding's sentence in a figure title (a panel of a two-panel figure holds about 70)
TITLE_WIDTH = 70
QUICK_STAMP = "quick run: checks the script, not the finding"
SYNTHETIC_STAMP = "made from the offline synthetic digits, not MNIST"

#: the size of this process's run, set by ``parse_args``: ``save_figure`` marks the figures of a quick run
run_size = "full"
#: whether the last ``load_data`` fell back to the synthetic digits: ``save_figure`` then says so on every figure
synthetic_data = False


def parse_args(description, argv=None, add_arguments=None):
    """The command line every walkthrough accepts: ``--quick`` or ``--short``, ``--out DIR``, ``--seed``,
    ``--data-dir``. ``args.size`` is ``"full"``, ``"short"`` or ``"quick"``. ``add_arguments(parser)``, when
    given, adds a script's own options (walkthrough 11's ``--images``, 12's ``--recipe``)."""
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
    parser.add_argument("--out", type=options.out_folder, default=None,
                        help="folder for the figures and results.json (default: walkthroughs/out/<script name>, "
                             "with _short or _quick appended for those runs)")
    parser.add_argument("--seed", type=options.seed, default=0, help="seed of every random choice (default: 0)")
    parser.add_argument("--data-dir", type=options.folder("mnist/ with the IDX files"), default=None,
                        help="folder holding mnist/ with the IDX files (default: $NPAE_DATA_DIR, then the cache)")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    args.size = "quick" if args.quick else "short" if args.short else "full"
    run_size = args.size
    if args.out is None:
        suffix = "" if args.size == "full" else f"_{args.size}"
        args.out = script.parent / "out" / f"{script.stem}{suffix}"
    args.out = make_folder(args.out, "--out")
    return args


def pick(args, full, quick, short=None):
    """The value for this run's size (epochs, subset sizes, sweep lists): ``short`` defaults to ``full``.

    Give ``short`` explicitly unless the full value already fits the short run's three minutes.
    """
    return {"full": full, "short": full if short is None else short, "quick": quick}[args.size]


def resume_options(args, name):
    """``fit`` keyword arguments for a long run: a checkpoint in ``out/name``, resumed from when present.

    A full run that was killed, or repeated to redraw its figures, continues from its last completed epoch
    instead of training again; ``--short`` and ``--quick`` runs last minutes at most and keep no checkpoint.
    """
    return {"checkpoint_dir": args.out / name, "resume": True} if args.size == "full" else {}


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

    global synthetic_data
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
    synthetic_data = data.synthetic
    print(f"data: {data}")
    return data


def nearest_references(images, references):
    """For each of ``images`` (N, D), the index of its nearest image in ``references`` (M, D) by Euclidean
    distance, and the mean squared error per pixel to it: how far generated images lie from real ones."""
    from ..core.functions import squared_distances

    images, references = np.asarray(images), np.asarray(references)
    if images.ndim != 2 or references.ndim != 2 or images.shape[1] != references.shape[1]:
        raise ValueError(f"images, references: expected (N, D) and (M, D) with the same D, got {images.shape} and "
                         f"{references.shape}")
    d2 = squared_distances(images.astype(np.float64), references.astype(np.float64))
    nearest = d2.argmin(axis=1)
    return nearest, d2[np.arange(len(images)), nearest] / images.shape[1]


def one_per_class(labels, per_class=1):
    """Indices of the first ``per_class`` examples of each label, ordered by label (for figure rows)."""
    labels = np.asarray(labels)
    return np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in np.unique(labels)])


class Findings:
    """What this run's numbers show: each finding a named comparison, told in words only when it holds.

    ``check`` takes the comparison's outcome (``holds``, a bool computed from the numbers) and the sentence
    that states it; the sentence comes back only when the finding holds, so a title or a print cannot claim
    what the run did not show. ``save_results(out, results, findings)`` records every outcome in
    ``results.json``, where ``benchmarks/walkthrough_findings.py`` checks them.
    """

    def __init__(self):
        self.outcomes = {}
        self.sentences = {}

    def check(self, name, holds, sentence):
        """Record whether the finding ``name`` holds in this run; return ``sentence`` if it does, else ``""``."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"name: expected a Python identifier such as 'dense_beats_pca', got {name!r}")
        if name in self.outcomes:
            raise ValueError(f"name: the finding {name!r} was already checked in this run; give each its own name")
        if not isinstance(holds, (bool, np.bool_)):
            raise TypeError(f"holds: expected True or False (a comparison of this run's numbers), got "
                            f"{type(holds).__name__} {holds!r}")
        if not isinstance(sentence, str) or not sentence.strip():
            raise ValueError(f"sentence: expected the finding in words, got {sentence!r}")
        self.outcomes[name] = bool(holds)
        if holds:
            self.sentences[name] = sentence
        return sentence if holds else ""

    def checked(self, *names):
        """The ``names`` whose finding was checked in this run (a run that leaves some comparisons out, such as
        walkthrough 12's ``--trained-only``, checks only the findings it has the numbers for)."""
        return [name for name in names if name in self.outcomes]

    def title(self, base, *names, width=TITLE_WIDTH):
        """``base`` (what is plotted), followed on new lines by the sentences of the ``names`` that hold, each
        wrapped at ``width`` characters: a finding's sentence is long, and unwrapped it ran into the title of
        the panel beside it."""
        unknown = [name for name in names if name not in self.outcomes]
        if unknown:
            raise ValueError(f"names: no finding {unknown[0]!r} was checked yet (checked: {sorted(self.outcomes)})")
        shown = [textwrap.fill(self.sentences[name], width) for name in names if self.outcomes[name]]
        return "\n".join([base] + shown)

    def as_results(self):
        """The ``results.json`` entries: every outcome, and the sentences of the findings that hold."""
        return {"findings": dict(self.outcomes), "finding_sentences": dict(self.sentences)}

    def report(self):
        """Lines for the console: the sentences that hold, and the names of the findings this run did not show."""
        lines = [f"findings of this {run_size} run (computed from its numbers):"]
        lines += [f"  shown: {self.sentences[name]}" for name in self.outcomes if self.outcomes[name]]
        lines += [f"  not shown: {name}" for name in self.outcomes if not self.outcomes[name]]
        if run_size == "quick":
            lines.append("  (a quick run checks the script, not the finding: run --short to see them)")
        return lines


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


def save_results(out, results, findings=None):
    """Write ``results`` to ``out/results.json`` (every number must be finite) and print its scalars.

    ``findings`` (a ``Findings``) adds ``"findings"`` and ``"finding_sentences"`` to the file and to the print.
    """
    if not isinstance(results, dict):
        raise TypeError(f"results: expected a dict, got {type(results).__name__}")
    if findings is not None:
        if not isinstance(findings, Findings):
            raise TypeError(f"findings: expected a Findings, got {type(findings).__name__}")
        clash = sorted(set(results) & {"findings", "finding_sentences"})
        if clash:
            raise ValueError(f"results: the key {clash[0]!r} is reserved for the findings; rename it")
        results = {**results, **findings.as_results()}
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
    if findings is not None:
        print("\n".join(findings.report()))
    print(f"wrote {path}")
    return path


def save_figure(fig, out, name, synthetic=None, quick=None):
    """Save a matplotlib figure as ``out/name.png`` and close it; returns the path.

    Stamped in red across its top: in a ``--quick`` run, ``QUICK_STAMP`` (a seconds-long run checks that the
    script works, and its figures must not be read as the finding); when made from the offline synthetic
    digits, ``SYNTHETIC_STAMP``. ``synthetic`` says which data the figure shows (default: whether the last
    ``load_data`` fell back to the synthetic digits); ``quick`` whether the run is a quick one (default: the
    size ``parse_args`` read; programs without ``parse_args`` pass it).
    """
    from ..plots import pyplot

    synthetic = synthetic_data if synthetic is None else synthetic
    quick = run_size == "quick" if quick is None else quick
    stamps = [QUICK_STAMP] * bool(quick) + [SYNTHETIC_STAMP] * bool(synthetic)
    if stamps:
        fig.text(0.5, 1.0, "\n".join(stamps), ha="center", va="bottom", color="red", fontsize=11,
                 fontweight="bold")
    path = pathlib.Path(out) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    pyplot().close(fig)
    print(f"figure: {path}")
    return path
