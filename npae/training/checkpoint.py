"""Checkpoints: the whole state of a ``fit`` call in one file, written atomically after every epoch.

``checkpoint_dir/checkpoint.npz`` holds the model in ``npae.io.save``'s format (``npae.load`` reads it), the
optimizer's ``state_dict``, the best weights for early stopping, and the loop's state as JSON (epochs done, the
``bit_generator.state`` of the loop's Generator and of any noise layer's own Generator, history, early-stopping
counters, and the run's settings). ``resume=True`` continues from it, so that a run interrupted at any point
(Ctrl-C, SIGKILL, power loss) and resumed gives bit-identical weights to an uninterrupted run with the same seed.
"""

from __future__ import annotations

import glob
import json
import os

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
            "model": (arch["model"], _json_roundtrip(serialize(loop.model))),
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
