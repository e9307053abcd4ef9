"""The fit loop shared by every model: batching, shuffling, validation, history, progress, early stopping.

A model that can be fitted provides:

- ``dtype`` and ``named_parameters()`` yielding ``(name, layer, key)`` for every trainable tensor;
- ``prepare(X, y, name)`` returning validated arrays in the model's dtype;
- ``start_epoch(epoch, epochs)`` (e.g. KL warm-up) and ``train_batch(xb, yb, rng)`` which runs forward and
  backward and returns a dict of floats with at least ``"loss"``;
- ``evaluate(X, y=None)`` returning a dict of floats with at least ``"loss"``.

All randomness (shuffling, corruption noise, VAE draws) comes from one Generator made from ``seed``.
"""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np

from .layers.base import positive_int
from .optim import get_optimizer


class TrainingDiverged(FloatingPointError):
    """Raised when a loss or gradient becomes non-finite; the weights are those after the last finite step."""


class History:
    """Per-epoch records: ``history["loss"]``, ``history["val_loss"]``, ... and ``epoch_time`` (seconds)."""

    def __init__(self):
        self.history = {}
        self.stopped_early = False
        self.best_epoch = None

    def record(self, name, value):
        self.history.setdefault(name, []).append(float(value))

    def __getitem__(self, name):
        return self.history[name]

    def __contains__(self, name):
        return name in self.history

    def keys(self):
        return self.history.keys()

    @property
    def epochs(self):
        return len(self.history.get("loss", []))

    def to_dict(self):
        return {"history": self.history, "stopped_early": self.stopped_early, "best_epoch": self.best_epoch}

    def save(self, path):
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)

    def __repr__(self):
        last = {k: v[-1] for k, v in self.history.items() if v}
        return f"History(epochs={self.epochs}, last={last})"


class ProgressBar:
    """A one-line text progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, total, prefix, stream=None, width=24):
        self.total, self.prefix, self.width = total, prefix, width
        self.stream = stream or sys.stderr
        self._last = 0.0
        self.start = time.perf_counter()

    def update(self, done, info, force=False):
        now = time.perf_counter()
        if not force and now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        filled = int(self.width * done / max(self.total, 1))
        bar = "=" * filled + (">" if filled < self.width else "") + " " * max(self.width - filled - 1, 0)
        self.stream.write(f"\r{self.prefix} [{bar}] {done}/{self.total} {info} {now - self.start:.1f}s ")
        self.stream.flush()

    def close(self, info):
        self.update(self.total, info, force=True)
        self.stream.write("\n")
        self.stream.flush()


def batches(n, batch_size, rng=None):
    """Index arrays covering ``range(n)`` in batches (shuffled when ``rng`` is given); the last may be short."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def clip_grad_norm(slots, max_norm):
    """Scale all gradients by ``min(1, max_norm / ||g||)`` where ``||g||`` is the global L2 norm; returns it."""
    total = math.sqrt(sum(float(np.vdot(g, g)) for _, _, g in slots))
    if total > max_norm:
        scale = max_norm / (total + 1e-12)
        for _, _, g in slots:
            g *= g.dtype.type(scale)
    return total


def gradient_slots(model):
    """``(name, param, grad)`` for every trainable tensor, read after a backward pass."""
    return [(name, layer.params[key], layer.grads[key]) for name, layer, key in model.named_parameters()]


def _first_nonfinite(slots):
    for name, _, grad in slots:
        if not np.all(np.isfinite(grad)):
            return name
    return None


def fit(
    model,
    X,
    y=None,
    *,
    epochs=10,
    batch_size=200,
    validation_data=None,
    optimizer=None,
    seed=0,
    shuffle=True,
    verbose=1,
    patience=None,
    min_delta=0.0,
    restore_best=True,
    clip_norm=None,
    callbacks=(),
):
    """Train ``model`` on ``X`` (and labels ``y`` for conditional models); return a ``History``.

    - ``validation_data``: ``X_val`` or ``(X_val, y_val)``; its loss is recorded as ``val_loss``.
    - ``optimizer``: an ``Optimizer`` or a name; default ``Adam(lr=1e-3)``.
    - ``patience``: stop when ``val_loss`` has not improved by ``min_delta`` for this many epochs, and
      (``restore_best``) put back the weights of the best epoch.
    - ``clip_norm``: clip gradients to this global L2 norm before each step.
    - ``callbacks``: callables ``cb(model, epoch, logs)`` run after each epoch.
    """
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    if patience is not None:
        patience = positive_int(patience, "patience")
        if validation_data is None:
            raise ValueError("patience: early stopping needs validation_data")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm: expected a number > 0, got {clip_norm!r}")
    X, y = model.prepare(X, y, name="X")
    X_val = y_val = None
    if validation_data is not None:
        if isinstance(validation_data, tuple):
            if len(validation_data) != 2:
                raise ValueError("validation_data: expected X_val or a pair (X_val, y_val)")
            X_val, y_val = validation_data
        else:
            X_val = validation_data
        X_val, y_val = model.prepare(X_val, y_val, name="validation_data")
    optimizer = get_optimizer(optimizer)
    model.optimizer = optimizer
    rng = np.random.default_rng(seed)
    history = History()
    best = (math.inf, None)
    waited = 0
    n = X.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)

    for epoch in range(epochs):
        model.start_epoch(epoch, epochs)
        optimizer.start_epoch(epoch)
        t0 = time.perf_counter()
        sums, seen = {}, 0
        bar = ProgressBar(steps_per_epoch, f"epoch {epoch + 1}/{epochs}") if verbose else None
        for step, idx in enumerate(batches(n, batch_size, rng if shuffle else None)):
            xb = X[idx]
            yb = None if y is None else y[idx]
            logs = model.train_batch(xb, yb, rng)
            slots = gradient_slots(model)
            bad = None if math.isfinite(logs["loss"]) else "the loss"
            bad = bad or _first_nonfinite(slots)
            if bad is not None:
                if bar:
                    bar.stream.write("\n")
                raise TrainingDiverged(
                    f"training diverged at epoch {epoch + 1}, step {step + 1}: {bad} is not finite "
                    f"(first non-finite gradient: {_first_nonfinite(slots) or 'none'}). The weights are those "
                    "after the last finite step; try a lower learning rate or clip_norm=..."
                )
            if clip_norm is not None:
                clip_grad_norm(slots, clip_norm)
            optimizer.step(slots)
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v * len(idx)
            seen += len(idx)
            if bar:
                bar.update(step + 1, f"loss {sums['loss'] / seen:.5g}")
        for k, v in sums.items():
            history.record(k, v / seen)
        if X_val is not None:
            for k, v in model.evaluate(X_val, y_val).items():
                history.record(f"val_{k}", v)
        history.record("epoch_time", time.perf_counter() - t0)
        if bar:
            info = f"loss {history['loss'][-1]:.5g}"
            if X_val is not None:
                info += f" val_loss {history['val_loss'][-1]:.5g}"
            bar.close(info)
        for cb in callbacks:
            cb(model, epoch, {k: v[-1] for k, v in history.history.items()})
        if patience is not None:
            current = history["val_loss"][-1]
            if current < best[0] - min_delta:
                best = (current, model.get_weights() if restore_best else None)
                history.best_epoch = epoch
                waited = 0
            else:
                waited += 1
                if waited >= patience:
                    history.stopped_early = True
                    break
    if patience is not None and restore_best and best[1] is not None:
        model.set_weights(best[1])
    return history
