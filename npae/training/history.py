"""What training records and decides between epochs: the history, early stopping, and the progress bar."""

from __future__ import annotations

import json
import math
import sys
import time


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


def format_duration(seconds):
    """``"0.4 s"``, ``"42 s"``, ``"3 min 05 s"``, ``"1 h 02 min"``: a duration as a reader would say it."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def plural(count, word):
    """``"1 epoch"``, ``"3 epochs"``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


class ProgressBar:
    """A progress bar on stderr: redrawn in place (at most 10 times a second) on a terminal; elsewhere (a log
    file, a pipe) one line when it closes, plus, with ``log_every`` seconds, a line at most that often."""

    def __init__(self, total, prefix, stream=None, width=24, log_every=None):
        self.total, self.prefix, self.width, self.log_every = total, prefix, width, log_every
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = self._last = time.perf_counter()
        self._drawn = False

    def _line(self, done, info, now):
        filled = int(self.width * done / max(self.total, 1))
        bar = "=" * filled + (">" if filled < self.width else "") + " " * max(self.width - filled - 1, 0)
        return f"{self.prefix} [{bar}] {done}/{self.total} {info} {format_duration(now - self.start)}"

    def update(self, done, info, force=False):
        now = time.perf_counter()
        if self.live:
            if force or now - self._last >= 0.1 or done >= self.total:
                self.stream.write(f"\r{self._line(done, info, now)} ")
                self.stream.flush()
                self._last, self._drawn = now, True
        elif self.log_every is not None and now - self._last >= self.log_every:
            self.stream.write(self._line(done, info, now) + "\n")
            self.stream.flush()
            self._last = now

    def close(self, info):
        """The final state, on a line of its own."""
        line = self._line(self.total, info, time.perf_counter())
        self.stream.write(f"\r{line} \n" if self.live else line + "\n")
        self.stream.flush()
        self._drawn = False

    def abandon(self):
        """End a bar cut short (an error, Ctrl-C), so that what is printed next starts on a fresh line."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


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
