"""One training step, the heart of training: forward, loss, backward, update.

``train_step`` below is all of it; the rest of this module are the two helpers it calls (the finite-value guard
and gradient clipping). The epoch loop around it is in ``fit.py``; history and early stopping in
``history.py``; checkpoints in ``checkpoint.py``.
"""

from __future__ import annotations

import math

import numpy as np


def train_step(model, optimizer, xb, yb, rng, clip_norm=None):
    """One step of minibatch gradient descent on the batch ``xb`` (labels ``yb`` for conditional models).

    1. ``model.train_batch`` runs the forward pass, the loss and the backward pass (for an autoencoder:
       encoder, decoder, loss, then backward through both); it returns the batch's logs (``"loss"`` and its
       parts) and leaves ``dL/dtheta`` in every layer's ``grads``. ``rng`` supplies its random draws.
    2. A non-finite loss or gradient stops training before anything is changed (``TrainingDiverged``).
    3. ``clip_norm`` rescales all gradients together so that their global norm is at most that value.
    4. The optimizer moves every parameter against its gradient (``p <- p - lr g`` for plain SGD).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are reported by the guard below
        logs = model.train_batch(xb, yb, rng)
    slots = parameter_slots(model)
    check_finite(model, logs["loss"], slots)
    if clip_norm is not None:
        clip_grad_norm(slots, clip_norm)
    with np.errstate(over="ignore", invalid="ignore"):
        optimizer.step(slots)
    check_update(model, slots, optimizer)
    return logs


def parameter_slots(model):
    """``(name, param, grad)`` for every trainable tensor, read after a backward pass."""
    return [
        (name, param, grad)
        for (name, param), (_, grad) in zip(model.named_parameters(), model.named_gradients())
    ]


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


# ----------------------------------------------------------------------------------------------
# Guards
# ----------------------------------------------------------------------------------------------


class TrainingDiverged(FloatingPointError):
    """Raised when a loss or gradient becomes non-finite; the weights are those after the last finite step.

    ``epoch`` and ``step`` count from 1; ``parameter`` is the qualified name of the first parameter at fault
    (None when only the loss is).
    """

    def __init__(self, message, epoch=None, step=None, parameter=None):
        super().__init__(message)
        self.epoch, self.step, self.parameter = epoch, step, parameter

    def at(self, epoch, step=None):
        """The same error, its message prefixed with where training stopped."""
        where = f"epoch {epoch}" + (f", step {step}" if step is not None else "")
        return TrainingDiverged(f"training diverged at {where}: {self}", epoch, step, self.parameter)


def _first_nonfinite(named_arrays):
    for name, array in named_arrays:
        if not np.all(np.isfinite(array)):
            return name
    return None


def describe_parameter(model, name):
    """``decoder.2.W (Dense)``: a parameter's qualified name and the type of the layer holding it."""
    prefix, *path, _ = name.split(".")
    owner = dict(model.modules()).get(prefix)
    for index in path:
        owner = owner.layers[int(index)] if hasattr(owner, "layers") else None
    return name if owner is None else f"{name} ({type(owner).__name__})"


def check_finite(model, loss, slots):
    """Raise ``TrainingDiverged`` if the loss or a gradient is not finite (nothing has been updated yet)."""
    parameter = _first_nonfinite((name, grad) for name, _, grad in slots)
    if math.isfinite(loss) and parameter is None:
        return
    what = "the loss" if not math.isfinite(loss) else f"the gradient of {parameter}"
    first = describe_parameter(model, parameter) if parameter else "none"
    raise TrainingDiverged(
        f"{what} is not finite (loss {loss}; first non-finite gradient: {first}). The weights and "
        "optimizer state are those after the last finite step; try a lower learning rate or clip_norm=...",
        parameter=parameter,
    )


def check_update(model, slots, optimizer):
    """A finite gradient times a huge learning rate can still overflow a weight: say so, honestly."""
    parameter = _first_nonfinite((name, param) for name, param, _ in slots)
    if parameter is None:
        return
    raise TrainingDiverged(
        f"the update made {describe_parameter(model, parameter)} non-finite although every gradient was finite (learning rate "
        f"{optimizer.lr:g} too large). The weights now hold non-finite values: reload a checkpoint or rebuild "
        "the model, then use a lower learning rate or clip_norm=...",
        parameter=parameter,
    )
