"""Watching a generative model's held-out log-likelihood during a long run, at a small fraction of its cost.

The importance-weighted bound ``L_k`` on ``log p(x)`` (``VAE.log_likelihood``) is the number a VAE is judged by,
but with k = 1000 on 10,000 images it costs about as much as a dozen training epochs. ``HeldOutBound`` watches
it cheaply: every few epochs it scores a fixed subset of held-out images with a small k, with the same draws
each time (one seed), so that its curve moves only when the model does. The full bound (all held-out images,
large k) is ``full_bound``, for the end of training.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from ..core.checks import as_generator, positive_int


class HeldOutBound:
    """A ``fit`` callback: every ``every`` epochs, ``L_k`` and the ELBO of ``n`` held-out images (mean, nats).

    ``HeldOutBound(X, every=5, k=50, n=1000, seed=0, y=None, path=None)``

    - ``X`` (and labels ``y`` for a conditional model): held-out images, never trained on; for a Bernoulli VAE
      binarise them once with a fixed seed. ``n``: the size of the subset scored every time (drawn once from
      ``seed``; None scores all of ``X``).
    - ``k``: importance samples per image; the IW bound and the ELBO use the same ``seed`` at every evaluation.
    - ``path``: a JSON file the records are written to after each evaluation and read back from when it
      exists, so that a run resumed from a checkpoint continues the curve (a re-evaluated epoch replaces the
      old record, and so do the later ones: they belonged to the interrupted run).

    ``full_bound(model, k=1000)`` scores every held-out image, for the end of training.

    ``records`` holds one dict per evaluation: ``epoch`` (epochs completed), ``iw_bound``, ``elbo``, ``gap``
    (``iw_bound - elbo``, how much the bound gains over the ELBO) and ``seconds`` (the evaluation's duration,
    which ``fit`` does not count in ``epoch_time``).
    """

    def __init__(self, X, every=5, k=50, n=1000, seed=0, y=None, path=None):
        self.every = positive_int(every, "every")
        self.k = positive_int(k, "k")
        self.seed = positive_int(seed, "seed", minimum=0)
        X = np.asarray(X)
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"X: expected held-out images of shape (N, ...) with N >= 1, got shape {X.shape}")
        if n is not None and positive_int(n, "n") > X.shape[0]:
            raise ValueError(f"n: expected at most the {X.shape[0]} held-out images, got n={n}; pass n=None for all")
        self.X_all, self.y_all = X, None if y is None else np.asarray(y)
        keep = np.arange(X.shape[0]) if n is None else np.sort(as_generator(self.seed).permutation(X.shape[0])[:n])
        self.X = X[keep]
        self.y = None if y is None else self.y_all[keep]
        self.path = None if path is None else os.fspath(path)
        self.records = self._read() if self.path is not None and os.path.exists(self.path) else []

    def __call__(self, model, epoch, logs):
        if (epoch + 1) % self.every == 0:
            self.evaluate(model, epoch + 1)

    def evaluate(self, model, epoch):
        """Score the subset now and record it as after ``epoch`` completed epochs; returns the record."""
        start = time.perf_counter()
        iw_bound = float(model.log_likelihood(self.X, self.y, k=self.k, seed=self.seed).mean(dtype=np.float64))
        elbo = float(model.elbo(self.X, self.y, seed=self.seed).mean(dtype=np.float64))
        record = {"epoch": int(epoch), "iw_bound": iw_bound, "elbo": elbo, "gap": iw_bound - elbo,
                  "seconds": time.perf_counter() - start}
        self.records = [r for r in self.records if r["epoch"] < record["epoch"]] + [record]
        if self.path is not None:
            self._write()
        return record

    def full_bound(self, model, k=1000):
        """``L_k`` averaged over every held-out image with a large k: the end-of-run number (nats per image)."""
        return float(model.log_likelihood(self.X_all, self.y_all, k=k, seed=self.seed).mean(dtype=np.float64))

    @property
    def seconds(self):
        """Time spent evaluating, in total."""
        return sum(r["seconds"] for r in self.records)

    def series(self, key):
        """``(epochs, values)`` of one recorded quantity (``"iw_bound"``, ``"elbo"``, ``"gap"``), for plots."""
        return [r["epoch"] for r in self.records], [r[key] for r in self.records]

    def _read(self):
        with open(self.path) as f:
            records = json.load(f)
        if not isinstance(records, list) or not all(isinstance(r, dict) and "epoch" in r for r in records):
            raise ValueError(f"path: {self.path!r} does not hold HeldOutBound records; delete it or pass another path")
        return records

    def _write(self):
        """Atomically: a run killed mid-write leaves the previous records intact."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.records, f, indent=1)
        os.replace(tmp, self.path)
