"""Training: ``train_step`` (step.py, the heart), the ``fit`` loop around it (fit.py), the history and early
stopping (history.py), checkpoints with resume (checkpoint.py), and the held-out bound of long runs (monitor.py)."""

from .checkpoint import Checkpoint
from .fit import TrainingInterrupted, batches, fit
from .history import EarlyStopping, History
from .monitor import HeldOutBound
from .step import TrainingDiverged, clip_grad_norm, parameter_slots, train_step

__all__ = [
    "Checkpoint", "EarlyStopping", "HeldOutBound", "History", "TrainingDiverged", "TrainingInterrupted", "batches",
    "clip_grad_norm", "fit", "parameter_slots", "train_step",
]
