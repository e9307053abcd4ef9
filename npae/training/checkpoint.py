"""Checkpoints: the whole state of a ``fit`` call in one file, written atomically after every epoch.

``checkpoint_dir/checkpoint.npz`` holds the model in ``npae.io.save``'s format (``npae.load`` reads it), the
optimizer's ``state_dict``, the best weights for early stopping, and the loop's state as JSON (epochs done, the
``bit_generator.state`` of the loop's Generator and of any noise layer's own Generator, history, early-stopping
counters, the run's first loss and its settings). ``resume=True`` continues from it, so that a run interrupted at
any point (Ctrl-C, SIGKILL, power loss) and resumed gives bit-identical weights to an uninterrupted run with the
same seed.

The checkpoint of the epoch before is kept beside it as ``previous-checkpoint.npz``: should the newest be
damaged (a disk error, a copy cut short), resuming falls back to the previous one and says so.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import warnings

import numpy as np

from .. import io
from ..core.registry import serialize


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


STATE_KEY = "__fit_state__"
OPTIMIZER_PREFIX = "__optimizer__."
BEST_PREFIX = "__best__."
CHECKPOINT_FORMAT = 1
START_OVER = "pass resume=False to start over (the checkpoints are then overwritten)"

#: the loop state's records and the types they must have (``first_loss`` is absent from older checkpoints)
STATE_RECORDS = {
    "epoch": int, "rng": dict, "layer_rngs": dict, "history": dict, "early_stopping": (dict, type(None)),
    "optimizer": dict, "run": dict,
}
HISTORY_RECORDS = {"history": dict, "stopped_early": bool, "best_epoch": (int, type(None))}
STOPPER_RECORDS = {"best_value": (float, int, type(None)), "best_epoch": (int, type(None)), "waited": int}


def _json_roundtrip(obj):
    return json.loads(json.dumps(obj))


class Checkpoint:
    """``directory/checkpoint.npz`` (the model in ``npae.io`` format plus optimizer and fit-loop state) and the
    checkpoint before it, ``directory/previous-checkpoint.npz``."""

    FILENAME = "checkpoint.npz"
    PREVIOUS = "previous-checkpoint.npz"

    def __init__(self, directory):
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"checkpoint_dir: expected a str or os.PathLike folder, got {type(directory).__name__}")
        self.directory = os.fspath(directory)
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            raise ValueError(f"checkpoint_dir: expected a folder, got the file {self.directory!r}")
        self.path = os.path.join(self.directory, self.FILENAME)
        self.previous = os.path.join(self.directory, self.PREVIOUS)

    def exists(self):
        return os.path.isfile(self.path) or os.path.isfile(self.previous)

    def remove_stale_temporaries(self):
        """Delete partial files left by a writer killed mid-write (the checkpoint itself is never partial)."""
        for tmp in glob.glob(os.path.join(glob.escape(self.directory), ".tmp-*" + self.FILENAME)):
            os.unlink(tmp)

    def write(self, loop):
        """Save the loop's complete state atomically, keeping the checkpoint it replaces as the previous one."""
        extras = {STATE_KEY: io.encode_json(loop.state())}
        extras.update({OPTIMIZER_PREFIX + k: v for k, v in loop.optimizer.state_dict().items()})
        if loop.stopper is not None and loop.stopper.best_weights is not None:
            extras.update({BEST_PREFIX + k: v for k, v in loop.stopper.best_weights.items()})
        self._keep_as_previous()
        io.save(loop.model, self.path, extra_arrays=extras)

    def _keep_as_previous(self):
        """Give the current checkpoint the second name ``previous-checkpoint.npz`` before it is replaced.

        A hard link (a copy where links are not supported) under a temporary name, renamed atomically: at every
        moment both names hold a complete checkpoint.
        """
        if not os.path.isfile(self.path):
            return
        tmp = os.path.join(self.directory, ".tmp-" + self.PREVIOUS)
        if os.path.exists(tmp):
            os.unlink(tmp)
        try:
            os.link(self.path, tmp)
        except OSError:
            shutil.copyfile(self.path, tmp)
        os.replace(tmp, self.previous)

    def read(self, path):
        """``(architecture, weights, optimizer state, best weights, loop state)`` from ``path``, validated."""
        arch, weights, extras = io.split_archive(io.read_archive(path), path)
        if STATE_KEY not in extras:
            raise ValueError(f"{path}: no fit state record; a model file, not a checkpoint")
        state = io.decode_json(extras[STATE_KEY], "the fit state record", path)
        _check_state_record(state, path)
        optimizer = {k[len(OPTIMIZER_PREFIX) :]: v for k, v in extras.items() if k.startswith(OPTIMIZER_PREFIX)}
        best = {k[len(BEST_PREFIX) :]: v for k, v in extras.items() if k.startswith(BEST_PREFIX)}
        if "__steps" not in optimizer or "__lr" not in optimizer:
            raise ValueError(f"{path}: the optimizer state lacks its step count or learning rate")
        return arch, weights, optimizer, best, state

    def newest(self):
        """``(path, contents)`` of the newest readable checkpoint, warning when the newest file was unreadable.

        Raises a ValueError naming every file's fault when none can be read.
        """
        faults = []
        for path in (self.path, self.previous):
            if not os.path.isfile(path):
                continue
            try:
                contents = self.read(path)
            except (OSError, ValueError) as exc:
                faults.append(str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}")
                continue
            if faults:
                warnings.warn(
                    f"resume: the newest checkpoint cannot be read ({'; '.join(faults)}); resuming from the previous "
                    f"one, {path}, after epoch {contents[-1]['epoch']}",
                    RuntimeWarning, stacklevel=4,
                )
            return path, contents
        if not faults:
            raise FileNotFoundError(f"resume: no checkpoint in {self.directory!r}")
        raise ValueError(f"resume: no checkpoint in {self.directory!r} can be read ({'; '.join(faults)}); {START_OVER}")

    def epochs_done(self):
        """The number of completed epochs in the newest readable checkpoint (None if there is none)."""
        try:
            return self.newest()[1][-1]["epoch"]
        except (OSError, ValueError):
            return None

    def restore(self, loop, epochs=None):
        """Put the newest readable checkpoint into ``loop`` (model, optimizer, RNG, history, early stopping).

        With ``epochs`` (the number this call trains to), a checkpoint that has done more is refused before
        anything changes. Returns the path restored from.
        """
        path, (arch, weights, optimizer_state, best, state) = self.newest()
        self._check_matches(loop, arch, state, path)
        if epochs is not None and state["epoch"] > epochs:
            raise ValueError(
                f"epochs: the checkpoint {path} has already done {state['epoch']} epochs, more than epochs={epochs}: "
                f"resuming would return a model trained longer than asked; pass epochs >= {state['epoch']} to "
                f"continue it, or {START_OVER}"
            )
        io.restore_weights(loop.model, weights, path)
        try:
            loop.optimizer.load_state_dict(optimizer_state)
            loop.load_state(state, best)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: the fit state record is damaged ({exc}); {START_OVER}") from exc
        return path

    def _check_matches(self, loop, arch, state, path):
        """The checkpoint must come from the same model, optimizer, data and settings as this call."""
        expected = {
            "model": (arch["model"], _json_roundtrip(serialize(loop.model))),
            "dtype": (arch.get("dtype"), np.dtype(loop.model.dtype).name),
            "optimizer": (state.get("optimizer"), _json_roundtrip(loop.optimizer.config())),
        }
        expected.update({k: (state["run"].get(k), v) for k, v in loop.run.items()})
        for name, (stored, given) in expected.items():
            if stored != given:
                where, stored, given = first_difference(stored, given)
                raise ValueError(
                    f"resume: the checkpoint {path} was written with {name}{where}={stored!r:.200}, but this call "
                    f"has {name}{where}={given!r:.200}; resume with the same settings, or {START_OVER}"
                )


def first_difference(a, b, where=""):
    """``(path, value in a, value in b)`` at the first place where the JSON-like values ``a`` and ``b`` differ
    (``.config.encoder.config.layers[0].config.out_features``), so that a message shows the setting that differs
    instead of the start of two long configs."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for key in a:
            if a[key] != b[key]:
                return first_difference(a[key], b[key], f"{where}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{where}[{i}]")
    return where, a, b


def _check_state_record(state, path):
    """The loop state's records must all be there with the right types (a ValueError naming the first that is not)."""
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: unsupported fit state record (expected format {CHECKPOINT_FORMAT})")
    parts = [(STATE_RECORDS, state), (HISTORY_RECORDS, state.get("history"))]
    if state.get("early_stopping") is not None:
        parts.append((STOPPER_RECORDS, state["early_stopping"]))
    if not _has_type(state.get("first_loss"), (float, int, type(None))):
        raise ValueError(f"{path}: the fit state record's 'first_loss' is not a number")
    for records, where in parts:
        for key, kind in records.items():
            if not isinstance(where, dict) or not _has_type(where.get(key), kind):
                raise ValueError(f"{path}: the fit state record's {key!r} is missing or of the wrong type")


def _has_type(value, kind):
    """``isinstance``, except that a bool is not an int here."""
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
