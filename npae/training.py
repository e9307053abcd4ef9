"""The fit loop shared by every model: batching, shuffling, validation, history, progress, early stopping,
divergence guards and checkpoints.

A model that can be fitted provides:

- ``dtype`` and ``named_parameters()`` yielding ``(name, layer, key)`` for every trainable tensor;
- ``prepare(X, y, name)`` returning validated arrays in the model's dtype;
- ``start_epoch(epoch, epochs)`` (e.g. KL warm-up) and ``train_batch(xb, yb, rng)`` which runs forward and
  backward and returns a dict of floats with at least ``"loss"``;
- ``evaluate(X, y=None)`` returning a dict of floats with at least ``"loss"``;
- for checkpoints, what ``npae.io.save`` needs: ``get_config()``, ``get_weights()``, ``set_weights()``.

All randomness (shuffling, corruption noise, VAE draws) comes from one Generator made from ``seed``.

Guards. Before every optimizer step the loss and every gradient are checked: a non-finite value raises
``TrainingDiverged`` (naming epoch, step and the first non-finite gradient) before anything is updated, so
the weights and the optimizer state are those after the last finite step. After the step the weights are
checked too, since a finite gradient times an absurd learning rate can overflow them (that error says so).

Checkpoints. With ``checkpoint_dir``, the end of every epoch writes ``checkpoint_dir/checkpoint.npz``
atomically (temporary file, fsync, rename): the model in ``npae.io.save``'s format (``npae.load`` reads it),
the optimizer's ``state_dict``, the best weights for early stopping, and the loop's state as JSON (epochs
done, the ``bit_generator.state`` of the loop's Generator and of any noise layer's own Generator, history,
early-stopping counters, and the run's settings).
``resume=True`` continues from it, so that a run interrupted at any point (Ctrl-C, SIGKILL, power loss)
and resumed gives bit-identical weights to an uninterrupted run with the same seed.
"""

from __future__ import annotations

import glob
import json
import math
import os
import sys
import time
import zlib

import numpy as np

from . import io
from .layers.base import positive_int, real_in_range
from .optim import get_optimizer


class TrainingDiverged(FloatingPointError):
    """Raised when a loss or gradient becomes non-finite; the weights are those after the last finite step.

    ``epoch`` and ``step`` count from 1; ``parameter`` is the qualified name of the first parameter whose
    gradient is not finite (None when only the loss is).
    """

    def __init__(self, message, epoch=None, step=None, parameter=None):
        super().__init__(message)
        self.epoch, self.step, self.parameter = epoch, step, parameter


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``. With a checkpoint, the model and optimizer hold the last checkpoint's state.

    It is a ``KeyboardInterrupt``, so code that already catches Ctrl-C keeps working.
    """


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

    @classmethod
    def from_dict(cls, record):
        """The inverse of ``to_dict`` (used to resume from a checkpoint)."""
        history = cls()
        history.history = {str(k): [float(v) for v in values] for k, values in record["history"].items()}
        history.stopped_early = bool(record["stopped_early"])
        history.best_epoch = record["best_epoch"]
        return history

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
    """Scale all gradients by ``min(1, max_norm / ||g||)`` where ``||g||`` is the global L2 norm; returns it.

    The squares are summed in float64, so a float32 gradient near 1e20 does not overflow the norm.
    """
    total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for _, _, g in slots))
    if total > max_norm:
        scale = max_norm / (total + 1e-12)
        for _, _, g in slots:
            g *= g.dtype.type(scale)
    return total


def gradient_slots(model):
    """``(name, param, grad)`` for every trainable tensor, read after a backward pass."""
    return [(name, layer.params[key], layer.grads[key]) for name, layer, key in model.named_parameters()]


def layer_generators(model):
    """``{path: Generator}`` for every layer drawing from its own Generator (noise layers inside a network).

    A checkpoint saves their states beside the loop's, so that a resumed run draws the same noise.
    """
    found = {}

    def visit(layer, path):
        if isinstance(getattr(layer, "rng", None), np.random.Generator):
            found[path] = layer.rng
        for i, child in enumerate(getattr(layer, "layers", ())):
            visit(child, f"{path}.{i}")

    for prefix, module in model.modules():
        visit(module, prefix)
    return found


def _first_nonfinite(slots):
    for name, _, grad in slots:
        if not np.all(np.isfinite(grad)):
            return name
    return None


# ----------------------------------------------------------------------------------------------
# Early stopping
# ----------------------------------------------------------------------------------------------


class EarlyStopping:
    """Stop when ``val_loss`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best`` it keeps a copy of the best epoch's weights, put back when training ends.
    """

    def __init__(self, patience, min_delta=0.0, restore_best=True):
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.best_value = math.inf
        self.best_epoch = None
        self.best_weights = None
        self.waited = 0

    def update(self, value, epoch, model):
        """Record this epoch's ``value``; return True when training should stop."""
        if value < self.best_value - self.min_delta:
            self.best_value, self.best_epoch, self.waited = value, epoch, 0
            self.best_weights = model.get_weights() if self.restore_best else None
            return False
        self.waited += 1
        return self.waited >= self.patience

    def state(self):
        best = None if math.isinf(self.best_value) else self.best_value
        return {"best_value": best, "best_epoch": self.best_epoch, "waited": self.waited}

    def load_state(self, state, best_weights):
        self.best_value = math.inf if state["best_value"] is None else float(state["best_value"])
        self.best_epoch, self.waited = state["best_epoch"], int(state["waited"])
        self.best_weights = best_weights or None


# ----------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------

STATE_KEY = "__fit_state__"
OPTIMIZER_PREFIX = "__optimizer__."
BEST_PREFIX = "__best__."
CHECKPOINT_FORMAT = 1


def _json_roundtrip(obj):
    return json.loads(json.dumps(obj))


class Checkpoint:
    """``directory/checkpoint.npz``: the model (``npae.io`` format) plus optimizer and fit-loop state."""

    FILENAME = "checkpoint.npz"

    def __init__(self, directory):
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"checkpoint_dir: expected a str or os.PathLike folder, got {type(directory).__name__}")
        self.directory = os.fspath(directory)
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            raise ValueError(f"checkpoint_dir: expected a folder, got the file {self.directory!r}")
        self.path = os.path.join(self.directory, self.FILENAME)

    def exists(self):
        return os.path.isfile(self.path)

    def remove_stale_temporaries(self):
        """Delete partial files left by a writer killed mid-write (the checkpoint itself is never partial)."""
        for tmp in glob.glob(os.path.join(glob.escape(self.directory), ".tmp-*" + self.FILENAME)):
            os.unlink(tmp)

    def write(self, loop):
        """Save the loop's complete state atomically."""
        extras = {STATE_KEY: io.encode_json(loop.state())}
        extras.update({OPTIMIZER_PREFIX + k: v for k, v in loop.optimizer.state_dict().items()})
        if loop.stopper is not None and loop.stopper.best_weights is not None:
            extras.update({BEST_PREFIX + k: v for k, v in loop.stopper.best_weights.items()})
        io.save(loop.model, self.path, extra_arrays=extras)

    def read(self):
        """``(architecture, weights, optimizer state, best weights, loop state)`` from the file, validated."""
        arch, weights, extras = io.split_archive(io.read_archive(self.path), self.path)
        if STATE_KEY not in extras:
            raise ValueError(f"{self.path}: no fit state record; a model file, not a checkpoint")
        state = io.decode_json(extras[STATE_KEY], "the fit state record", self.path)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{self.path}: unsupported fit state record (expected format {CHECKPOINT_FORMAT})")
        optimizer = {k[len(OPTIMIZER_PREFIX) :]: v for k, v in extras.items() if k.startswith(OPTIMIZER_PREFIX)}
        best = {k[len(BEST_PREFIX) :]: v for k, v in extras.items() if k.startswith(BEST_PREFIX)}
        return arch, weights, optimizer, best, state

    def epochs_done(self):
        """The number of completed epochs recorded in the checkpoint (None if there is none or it is unreadable)."""
        try:
            return self.read()[-1]["epoch"]
        except (OSError, ValueError, KeyError):
            return None

    def restore(self, loop):
        """Put the checkpoint's state into ``loop`` (model, optimizer, RNG, history, early stopping)."""
        arch, weights, optimizer_state, best, state = self.read()
        self._check_matches(loop, arch, state)
        io.restore_weights(loop.model, weights, self.path)
        try:
            loop.optimizer.load_state_dict(optimizer_state)
            loop.load_state(state, best)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{self.path}: the fit state record is damaged ({type(exc).__name__}: {exc})") from exc

    def _check_matches(self, loop, arch, state):
        """The checkpoint must come from the same model, optimizer, data and settings as this call."""
        expected = {
            "model": (arch["model"], _json_roundtrip(io.serialize(loop.model))),
            "dtype": (arch.get("dtype"), np.dtype(loop.model.dtype).name),
            "optimizer": (state.get("optimizer"), _json_roundtrip(loop.optimizer.config())),
        }
        stored_run = state.get("run") if isinstance(state.get("run"), dict) else {}
        expected.update({k: (stored_run.get(k), v) for k, v in loop.run.items()})
        for name, (stored, given) in expected.items():
            if stored != given:
                raise ValueError(
                    f"resume: the checkpoint {self.path} was written with {name}={stored!r:.300}, but this call has "
                    f"{name}={given!r:.300}; resume with the same settings, or pass resume=False to start over"
                )


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------


class FitLoop:
    """The state of one ``fit`` call that a checkpoint must capture, and the steps that change it."""

    def __init__(self, model, optimizer, rng, stopper, run):
        self.model, self.optimizer, self.rng, self.stopper, self.run = model, optimizer, rng, stopper, run
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
        if self.stopper is not None:
            self.stopper.load_state(state["early_stopping"], best_weights)

    def train_step(self, xb, yb, clip_norm):
        """Forward, backward, guard, clip, update. Returns the batch's logs."""
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite result is reported just below
            logs = self.model.train_batch(xb, yb, self.rng)
        slots = gradient_slots(self.model)
        self._check_finite(logs["loss"], slots)
        if clip_norm is not None:
            clip_grad_norm(slots, clip_norm)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing update is reported just below
            self.optimizer.step(slots)
        self._check_update(slots)
        return logs

    def _check_update(self, slots):
        """A finite gradient times a huge learning rate can still overflow a weight: say so, honestly."""
        parameter = _first_nonfinite([(name, None, param) for name, param, _ in slots])
        if parameter is None:
            return
        raise TrainingDiverged(
            f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: the update made "
            f"{self._describe(parameter)} non-finite although every gradient was finite (learning rate "
            f"{self.optimizer.lr:g} too large). The weights now hold non-finite values: reload a checkpoint "
            "or rebuild the model, then use a lower learning rate or clip_norm=...",
            epoch=self.epoch + 1, step=self.step + 1, parameter=parameter,
        )

    def _check_finite(self, loss, slots):
        parameter = _first_nonfinite(slots)
        if math.isfinite(loss) and parameter is None:
            return
        what = "the loss" if not math.isfinite(loss) else f"the gradient of {parameter}"
        raise TrainingDiverged(
            f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: {what} is not finite "
            f"(loss {loss}; first non-finite gradient: {self._describe(parameter)}). The weights and optimizer "
            "state are those after the last finite step; try a lower learning rate or clip_norm=...",
            epoch=self.epoch + 1, step=self.step + 1, parameter=parameter,
        )

    def _describe(self, parameter):
        """``decoder.2.W (Dense)``: the parameter and the type of the layer holding it."""
        for name, layer, _ in self.model.named_parameters():
            if name == parameter:
                return f"{name} ({type(layer).__name__})"
        return "none"

    def run_epoch(self, X, y, batch_size, shuffle, clip_norm, bar):
        """One pass over the data; returns the sample-weighted mean of each logged value."""
        sums, seen = {}, 0
        self.step = 0
        for idx in batches(X.shape[0], batch_size, self.rng if shuffle else None):
            logs = self.train_step(X[idx], None if y is None else y[idx], clip_norm)
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
                f"training diverged at epoch {self.epoch + 1}: the validation loss is {logs['loss']} "
                "(the training loss was finite); try a lower learning rate or clip_norm=...",
                epoch=self.epoch + 1,
            )
        for k, v in logs.items():
            self.history.record(f"val_{k}", v)

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
    """CRC-32 of the training data, so a resumed run can tell it is fed the same data."""
    crc = zlib.crc32(np.ascontiguousarray(X).data)
    if y is not None:
        crc = zlib.crc32(np.ascontiguousarray(y).data, crc)
    return crc


# ----------------------------------------------------------------------------------------------
# fit
# ----------------------------------------------------------------------------------------------


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
    checkpoint_dir=None,
    resume=False,
):
    """Train ``model`` on ``X`` (and labels ``y`` for conditional models); return a ``History``.

    - ``validation_data``: ``X_val`` or ``(X_val, y_val)``; its loss is recorded as ``val_loss``.
    - ``optimizer``: an ``Optimizer`` or a name; default ``Adam(lr=1e-3)``.
    - ``patience``: stop when ``val_loss`` has not improved by ``min_delta`` for this many epochs, and
      (``restore_best``) put back the weights of the best epoch.
    - ``clip_norm``: clip gradients to this global L2 norm before each step.
    - ``callbacks``: callables ``cb(model, epoch, logs)`` run after each epoch.
    - ``checkpoint_dir``: write ``checkpoint.npz`` there atomically after every epoch.
    - ``resume``: continue from the checkpoint in ``checkpoint_dir`` if there is one (start afresh if not).
      The model, optimizer, data and settings must be those of the interrupted run; ``epochs`` may be larger.

    Raises ``TrainingDiverged`` at a non-finite loss or gradient (nothing is updated by that step), and
    ``TrainingInterrupted`` on Ctrl-C (with a checkpoint, the model then holds the last checkpoint's state).
    """
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    if patience is not None:
        patience = positive_int(patience, "patience")
        if validation_data is None:
            raise ValueError("patience: early stopping needs validation_data, got validation_data=None")
    min_delta = real_in_range(min_delta, "min_delta", low=0.0)
    if clip_norm is not None:
        clip_norm = real_in_range(clip_norm, "clip_norm", low=0.0, include_low=False)
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
    loop = FitLoop(model, optimizer, rng, stopper, run)
    if checkpoint is not None:
        _start_from_checkpoint(loop, checkpoint, resume, verbose)
    try:
        _train(loop, X, y, X_val, y_val, epochs, batch_size, shuffle, clip_norm, callbacks, checkpoint, verbose)
    except KeyboardInterrupt:
        raise _interrupted(loop, checkpoint) from None
    if restore_best:
        loop.restore_best()
    return loop.history


def _start_from_checkpoint(loop, checkpoint, resume, verbose):
    checkpoint.remove_stale_temporaries()
    if not resume or not checkpoint.exists():
        if resume and verbose:
            print(f"resume: no checkpoint in {checkpoint.directory!r} yet, starting from epoch 1", file=sys.stderr)
        return
    checkpoint.restore(loop)
    if verbose:
        print(f"resuming from {checkpoint.path} after epoch {loop.epoch}", file=sys.stderr)


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
                bar.stream.write("\n")
            raise
        for k, v in means.items():
            loop.history.record(k, v)
        if X_val is not None:
            loop.validate(X_val, y_val)
        loop.history.record("epoch_time", time.perf_counter() - t0)
        if bar:
            bar.close(_epoch_summary(loop.history, X_val is not None))
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
    done = checkpoint.epochs_done()
    if done is None:
        return TrainingInterrupted(
            f"{where}. No checkpoint was written yet (the first is written at the end of epoch 1); "
            f"fit(..., checkpoint_dir={checkpoint.directory!r}, resume=True) will start from epoch 1."
        )
    checkpoint.restore(loop)
    return TrainingInterrupted(
        f"{where}. The last checkpoint ({checkpoint.path}, after epoch {done}) is intact and the model now holds "
        f"its weights; continue with fit(..., checkpoint_dir={checkpoint.directory!r}, resume=True)."
    )
