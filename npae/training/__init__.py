"""Training: ``train_step`` (step.py, the heart), the ``fit`` loop around it (fit.py), the history and early
stopping (history.py), and checkpoints with resume (checkpoint.py)."""

from .checkpoint import Checkpoint
from .fit import TrainingInterrupted, batches, fit
from .history import EarlyStopping, History
from .step import TrainingDiverged, clip_grad_norm, parameter_slots, train_step

__all__ = [
    "Checkpoint", "EarlyStopping", "History", "TrainingDiverged", "TrainingInterrupted", "batches",
    "clip_grad_norm", "fit", "parameter_slots", "train_step",
]
