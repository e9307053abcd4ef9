"""``fit``: the epoch loop around ``train_step`` (``step.py``) shared by every model.

A model that can be fitted provides:

- ``dtype``, ``named_parameters()`` and ``named_gradients()`` (matching ``(name, array)`` pairs), ``modules()``;
- ``prepare(X, y, name)`` returning validated arrays in the model's dtype;
- ``start_epoch(epoch, epochs)`` (e.g. KL warm-up) and ``train_batch(xb, yb, rng)`` which runs forward and
  backward and returns a dict of floats with at least ``"loss"``;
- ``evaluate(X, y=None)`` returning a dict of floats with at least ``"loss"``;
- for checkpoints, what ``npae.io.save`` needs: ``get_config()``, ``get_weights()``, ``set_weights()``.

All randomness (shuffling, corruption noise, VAE draws) comes from one Generator made from ``seed``. Each epoch:
shuffle, one ``train_step`` per batch, validation, history, callbacks, early stopping, checkpoint.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
import zlib

import numpy as np

from ..core.checks import positive_int, real_number, row_chunks
from ..core.optim import get_optimizer
from .checkpoint import CHECKPOINT_FORMAT, Checkpoint, layer_generators
from .history import EarlyStopping, History, ProgressBar
from .step import MAX_LOSS_GROWTH, StepGuard, TrainingDiverged, silence_warning, train_step


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``. With a checkpoint, the model and optimizer hold the last checkpoint's state.

    It is a ``KeyboardInterrupt``, so code that already catches Ctrl-C keeps working.
    """


def batches(n, batch_size, rng=None):
    """Index arrays covering ``range(n)`` in batches (shuffled when ``rng`` is given); the last may be short."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------


class FitLoop:
    """The state of one ``fit`` call that a checkpoint must capture, and the steps that change it."""

    def __init__(self, model, optimizer, rng, stopper, run, guard):
        self.model, self.optimizer, self.rng, self.stopper, self.run = model, optimizer, rng, stopper, run
        self.guard = guard
        self.warned_silent = False
        self.history = History()
        self.epoch = 0  # epochs completed
        self.step = 0  # steps completed in the current epoch

    @property
    def finished_early(self):
        return self.history.stopped_early

    def state(self):
        """The loop's state as JSON-able values (the RNG's exact bit-generator state included)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "rng": self.rng.bit_generator.state,
            "layer_rngs": {path: g.bit_generator.state for path, g in layer_generators(self.model).items()},
            "history": self.history.to_dict(),
            "early_stopping": self.stopper.state() if self.stopper is not None else None,
            "optimizer": self.optimizer.config(),
            "run": self.run,
            "first_loss": self.guard.first_loss,
        }

    def load_state(self, state, best_weights):
        self.epoch = int(state["epoch"])
        self.rng.bit_generator.state = state["rng"]
        generators = layer_generators(self.model)
        if set(generators) != set(state["layer_rngs"]):
            raise ValueError(f"layer generators {sorted(state['layer_rngs'])}, expected {sorted(generators)}")
        for path, generator in generators.items():
            generator.bit_generator.state = state["layer_rngs"][path]
        self.history = History.from_dict(state["history"])
        self.guard.first_loss = state.get("first_loss")
        if self.stopper is not None:
            self.stopper.load_state(state["early_stopping"], best_weights)

    def run_epoch(self, X, y, batch_size, shuffle, clip_norm, bar):
        """One pass over the data; returns the sample-weighted mean of each logged value."""
        sums, seen = {}, 0
        self.step = 0
        for idx in batches(X.shape[0], batch_size, self.rng if shuffle else None):
            try:
                yb = None if y is None else y[idx]
                logs = train_step(self.model, self.optimizer, X[idx], yb, self.rng, clip_norm, self.guard)
            except TrainingDiverged as exc:
                raise exc.at(self.epoch + 1, self.step + 1) from None
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v * len(idx)
            seen += len(idx)
            self.step += 1
            if bar:
                bar.update(self.step, f"loss {sums['loss'] / seen:.5g}")
        return {k: v / seen for k, v in sums.items()}

    def validate(self, X_val, y_val):
        """Record the validation metrics as ``val_*``; a non-finite validation loss is divergence too."""
        with np.errstate(over="ignore", invalid="ignore"):
            logs = self.model.evaluate(X_val, y_val)
        if not math.isfinite(logs["loss"]):
            raise TrainingDiverged(
                f"the validation loss is {logs['loss']} although the training loss was finite. Either the "
                f"validation data (values in [{np.min(X_val):.4g}, {np.max(X_val):.4g}]) are not scaled like the "
                "training data, or training diverged: then try a lower learning rate or clip_norm=..."
            ).at(self.epoch + 1)
        for k, v in logs.items():
            self.history.record(f"val_{k}", v)

    def warn_if_silent(self, steps_per_epoch):
        """Warn once per run when some parameters have received no gradient for a whole epoch's steps."""
        message = silence_warning(
            self.model, self.guard.silent_parameters(steps_per_epoch), steps_per_epoch, self.optimizer
        )
        if message is not None and not self.warned_silent:
            warnings.warn(f"epoch {self.epoch + 1}: {message}", RuntimeWarning, stacklevel=5)
            self.warned_silent = True

    def end_epoch(self, callbacks):
        """Callbacks and early stopping after an epoch; returns True when training should stop."""
        for cb in callbacks:
            cb(self.model, self.epoch, {k: v[-1] for k, v in self.history.history.items()})
        self.epoch += 1
        if self.stopper is None:
            return False
        stop = self.stopper.update(self.history["val_loss"][-1], self.epoch - 1, self.model)
        self.history.best_epoch = self.stopper.best_epoch
        self.history.stopped_early = stop
        return stop

    def restore_best(self):
        if self.stopper is not None and self.stopper.best_weights is not None:
            self.model.set_weights(self.stopper.best_weights)


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------


def _generator(seed):
    """The loop's Generator from an int seed >= 0, a Generator (used as is), or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator) or seed is None:
        return np.random.default_rng(seed)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int >= 0, a numpy.random.Generator or None, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed: expected an int >= 0, a numpy.random.Generator or None, got {seed}")
    return np.random.default_rng(int(seed))


def _check_callbacks(callbacks):
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise TypeError(f"callbacks[{i}]: expected a callable cb(model, epoch, logs), got {cb!r}")
    return callbacks


def _split_validation(model, validation_data):
    """``(X_val, y_val)`` prepared by the model, from ``X_val`` or a pair ``(X_val, y_val)``."""
    if validation_data is None:
        return None, None
    if isinstance(validation_data, tuple):
        if len(validation_data) != 2:
            raise ValueError(
                f"validation_data: expected X_val or a pair (X_val, y_val), got a tuple of {len(validation_data)}"
            )
        X_val, y_val = validation_data
    else:
        X_val, y_val = validation_data, None
    return model.prepare(X_val, y_val, name="validation_data")


def _data_fingerprint(X, y):
    """CRC-32 of the training data, so a resumed run can tell it is fed the same data.

    Read in chunks of rows (a CRC continued over consecutive pieces equals the CRC of the whole), so that a
    memory-mapped ``X`` is never copied whole."""
    crc = 0
    for rows in row_chunks(X):
        crc = zlib.crc32(np.ascontiguousarray(X[rows]).data, crc)
    if y is not None:
        crc = zlib.crc32(np.ascontiguousarray(y).data, crc)
    return crc


# ----------------------------------------------------------------------------------------------
# fit
# ----------------------------------------------------------------------------------------------


def fit(
    model,
    X,
    *,
    y=None,
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
    max_loss_growth=MAX_LOSS_GROWTH,
    callbacks=(),
    checkpoint_dir=None,
    resume=False,
):
    """Train ``model`` on ``X`` (and labels ``y`` for conditional models); return a ``History``.

    - ``validation_data``: ``X_val`` or ``(X_val, y_val)``; its loss is recorded as ``val_loss``.
    - ``optimizer``: an ``Optimizer`` or a name; default ``Adam(lr=1e-3)``.
    - ``patience``: stop when ``val_loss`` has not improved by ``min_delta`` for this many epochs, and
      (``restore_best``) put back the weights of the best epoch.
    - ``clip_norm``: clip gradients to this global L2 norm before each step.
    - ``max_loss_growth``: stop with ``TrainingDiverged`` when a batch's loss exceeds this many times the size of
      the run's first batch loss (default 1e4; None turns the check off).
    - ``callbacks``: callables ``cb(model, epoch, logs)`` run after each epoch.
    - ``checkpoint_dir``: write ``checkpoint.npz`` there atomically after every epoch (the one before is kept
      as ``previous-checkpoint.npz``).
    - ``resume``: continue from the newest readable checkpoint in ``checkpoint_dir`` if there is one (start
      afresh if not). The model, optimizer, data and settings must be those of the interrupted run; ``epochs``
      may be larger, not smaller, than the epochs the checkpoint has done.

    Raises ``TrainingDiverged`` at a non-finite loss or gradient, at a loss beyond ``max_loss_growth``, and at
    an update that would make a weight non-finite (nothing is changed by that step), and
    ``TrainingInterrupted`` on Ctrl-C (with a checkpoint, the model then holds the last checkpoint's state).
    Warns (``RuntimeWarning``) when part of the network has received only zero gradients for a whole epoch.
    """
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    if patience is not None:
        patience = positive_int(patience, "patience")
        if validation_data is None:
            raise ValueError("patience: early stopping needs validation_data, got validation_data=None")
    min_delta = real_number(min_delta, "min_delta", low=0.0)
    if clip_norm is not None:
        clip_norm = real_number(clip_norm, "clip_norm", low=0.0, include_low=False)
    if max_loss_growth is not None:
        max_loss_growth = real_number(max_loss_growth, "max_loss_growth", low=1.0, include_low=False)
    callbacks = _check_callbacks(callbacks)
    checkpoint = Checkpoint(checkpoint_dir) if checkpoint_dir is not None else None
    if resume and checkpoint is None:
        raise ValueError(
            "resume: resuming needs checkpoint_dir (the folder of the checkpoint), got checkpoint_dir=None"
        )
    rng = _generator(seed)
    X, y = model.prepare(X, y, name="X")
    X_val, y_val = _split_validation(model, validation_data)
    optimizer = get_optimizer(optimizer)
    model.optimizer = optimizer
    run = {
        "samples": list(X.shape), "data_crc32": _data_fingerprint(X, y), "batch_size": batch_size,
        "shuffle": bool(shuffle), "patience": patience, "min_delta": min_delta, "restore_best": bool(restore_best),
        "clip_norm": clip_norm, "validation": X_val is not None,
    }
    stopper = EarlyStopping(patience, min_delta, restore_best) if patience is not None else None
    loop = FitLoop(model, optimizer, rng, stopper, run, StepGuard(max_loss_growth))
    if checkpoint is not None:
        _start_from_checkpoint(loop, checkpoint, resume, verbose, epochs)
    try:
        _train(loop, X, y, X_val, y_val, epochs, batch_size, shuffle, clip_norm, callbacks, checkpoint, verbose)
    except KeyboardInterrupt:
        raise _interrupted(loop, checkpoint) from None
    if restore_best:
        loop.restore_best()
    return loop.history


def _start_from_checkpoint(loop, checkpoint, resume, verbose, epochs):
    checkpoint.remove_stale_temporaries()
    if not resume or not checkpoint.exists():
        if resume and verbose:
            print(f"resume: no checkpoint in {checkpoint.directory!r} yet, starting from epoch 1", file=sys.stderr)
        return
    path = checkpoint.restore(loop, epochs)
    if verbose:
        print(f"resuming from {path} after epoch {loop.epoch}", file=sys.stderr)


def _train(loop, X, y, X_val, y_val, epochs, batch_size, shuffle, clip_norm, callbacks, checkpoint, verbose):
    """Epochs ``loop.epoch + 1 .. epochs``, each ending with validation, callbacks, early stopping, checkpoint."""
    steps_per_epoch = math.ceil(X.shape[0] / batch_size)
    while loop.epoch < epochs and not loop.finished_early:
        loop.model.start_epoch(loop.epoch, epochs)
        loop.optimizer.start_epoch(loop.epoch)
        t0 = time.perf_counter()
        bar = ProgressBar(steps_per_epoch, f"epoch {loop.epoch + 1}/{epochs}") if verbose else None
        try:
            means = loop.run_epoch(X, y, batch_size, shuffle, clip_norm, bar)
        except (TrainingDiverged, KeyboardInterrupt):
            if bar:
                bar.abandon()
            raise
        for k, v in means.items():
            loop.history.record(k, v)
        if X_val is not None:
            loop.validate(X_val, y_val)
        loop.history.record("epoch_time", time.perf_counter() - t0)
        if bar:
            bar.close(_epoch_summary(loop.history, X_val is not None))
        loop.warn_if_silent(steps_per_epoch)
        loop.end_epoch(callbacks)
        if checkpoint is not None:
            checkpoint.write(loop)


def _epoch_summary(history, with_validation):
    info = f"loss {history['loss'][-1]:.5g}"
    if with_validation:
        info += f" val_loss {history['val_loss'][-1]:.5g}"
    return info


def _interrupted(loop, checkpoint):
    """A ``TrainingInterrupted`` saying where training stopped; with a checkpoint, restore its state first."""
    where = f"training interrupted by Ctrl-C during epoch {loop.epoch + 1}, after step {loop.step}"
    if checkpoint is None:
        return TrainingInterrupted(
            f"{where}. No checkpoint_dir was given, so the model holds the weights of the interrupted step "
            "(possibly mid-update); pass checkpoint_dir=... to be able to resume."
        )
    if checkpoint.epochs_done() is None:
        return TrainingInterrupted(
            f"{where}. No checkpoint was written yet (the first is written at the end of epoch 1); "
            f"fit(..., checkpoint_dir={checkpoint.directory!r}, resume=True) will start from epoch 1."
        )
    path = checkpoint.restore(loop)
    return TrainingInterrupted(
        f"{where}. The last checkpoint ({path}, after epoch {loop.epoch}) is intact and the model now holds "
        f"its weights; continue with fit(..., checkpoint_dir={checkpoint.directory!r}, resume=True)."
    )
