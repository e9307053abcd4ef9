"""One training step, the heart of training: forward, loss, backward, update.

``train_step`` below is all of it; the rest of this module is what it calls: gradient clipping and the guard
that stops a diverging run with a message saying what went wrong (``StepGuard``, ``TrainingDiverged``). The
epoch loop around it is in ``fit.py``; history and early stopping in ``history.py``; checkpoints in
``checkpoint.py``.
"""

from __future__ import annotations

import copy
import math

import numpy as np


def train_step(model, optimizer, xb, yb, rng, clip_norm=None, guard=None):
    """One step of minibatch gradient descent on the batch ``xb`` (labels ``yb`` for conditional models).

    1. ``model.train_batch`` runs the forward pass, the loss and the backward pass (for an autoencoder:
       encoder, decoder, loss, then backward through both); it returns the batch's logs (``"loss"`` and its
       parts) and leaves ``dL/dtheta`` in every layer's ``grads``. ``rng`` supplies its random draws.
    2. The guard stops training before anything is changed (``TrainingDiverged``) when the loss or a gradient
       is not finite, or the loss has grown far beyond the first one (``StepGuard``).
    3. ``clip_norm`` rescales all gradients together so that their global norm is at most that value.
    4. The optimizer moves every parameter against its gradient (``p <- p - lr g`` for plain SGD); the guard
       keeps the step only if every weight and optimizer value stays finite.
    """
    guard = StepGuard() if guard is None else guard
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are reported by the guard
        logs = model.train_batch(xb, yb, rng)
    slots = parameter_slots(model)
    guard.check_loss_and_gradients(model, logs["loss"], slots, xb)
    if clip_norm is not None:
        clip_grad_norm(slots, clip_norm)
    guard.apply_update(model, optimizer, slots)
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
# The guard
# ----------------------------------------------------------------------------------------------

#: the default ``max_loss_growth``: a loss 10,000 times its first value is divergence, not a bad stretch
MAX_LOSS_GROWTH = 1e4


class TrainingDiverged(FloatingPointError):
    """Raised when training diverges; the weights are those after the last step that was kept.

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


class StepGuard:
    """What ``train_step`` checks before it changes anything, and what it remembers between the steps of a run.

    - A loss or gradient that is not finite stops training. At the first step, before any update, the data
      or the model as given is at fault, not the learning rate, and the message says so with the data's range.
    - A loss above ``max_loss_growth`` times the size of the run's first loss stops training too: a run can
      diverge without ever overflowing (the loss climbing from 0.7 to 1e29). ``max_loss_growth=None`` turns
      this check off.
    - An update that would leave a weight or an optimizer value non-finite is undone (``apply_update``).
    - ``silent_steps`` counts, for every parameter, the steps in a row in which its gradient was zero, so that
      the fit loop can warn about a network that has stopped learning (dead ReLUs, saturated sigmoids).
    """

    def __init__(self, max_loss_growth=MAX_LOSS_GROWTH, first_loss=None):
        self.max_loss_growth = max_loss_growth
        self.first_loss = first_loss
        self.steps_kept = 0
        self.silent_steps = {}
        self.grad_norms = {}
        self.weights_bounded = None  # every ||p||^2 finite after the last step (None: not measured yet)

    def check_loss_and_gradients(self, model, loss, slots, xb):
        """Raise ``TrainingDiverged`` if the loss or a gradient is not finite or the loss has exploded."""
        squares = {name: squared_norm(grad) for name, _, grad in slots}
        check_finite(model, loss, slots, squares, xb if self.steps_kept == 0 else None)
        if self.first_loss is None:
            self.first_loss = loss
        check_growth(loss, self.first_loss, self.max_loss_growth)
        for name, square in squares.items():
            self.silent_steps[name] = self.silent_steps.get(name, 0) + 1 if square == 0 else 0
        self.grad_norms = {name: math.sqrt(square) for name, square in squares.items()}

    def apply_update(self, model, optimizer, slots):
        """``optimizer.step(slots)``, never leaving a weight or an optimizer value non-finite.

        Every weight satisfies ``|p| <= ||p|| < sqrt(MAX)`` (``MAX``: the dtype's largest number) after every kept
        step, so a step whose changes are bounded by ``sqrt(MAX)`` (``optimizer.max_change``, from the gradient
        norms) cannot overflow, and is applied in place. Any other step is tried on a copy and undone if it
        leaves a non-finite value.
        """
        limit = math.sqrt(float(np.finfo(model.dtype).max))
        if self.weights_bounded is None:
            self.weights_bounded = _weights_bounded(slots)
        if self.weights_bounded and optimizer.max_change(self.grad_norms) < limit:
            optimizer.step(slots)
        else:
            _step_or_undo(model, optimizer, slots)
        self.weights_bounded = _weights_bounded(slots)
        self.steps_kept += 1

    def silent_parameters(self, min_steps):
        """The parameters whose gradient has been zero for at least the last ``min_steps`` steps."""
        return [name for name, count in self.silent_steps.items() if count >= min_steps]


def squared_norm(array):
    """``||a||^2`` in one BLAS pass: not finite if any entry is NaN or infinite (or so large that it overflows),
    zero only if every entry is zero (or below about 1e-22 in float32, whose square underflows)."""
    return float(np.vdot(array, array))


def _weights_bounded(slots):
    return all(math.isfinite(squared_norm(param)) for _, param, _ in slots)


def _step_or_undo(model, optimizer, slots):
    """``optimizer.step(slots)`` on trial: undone, and ``TrainingDiverged`` raised, if it leaves a non-finite value."""
    params, state, steps = [param.copy() for _, param, _ in slots], copy.deepcopy(optimizer.state), optimizer.steps
    with np.errstate(over="ignore", invalid="ignore"):
        optimizer.step(slots)
    fault = _first_nonfinite((name, param) for name, param, _ in slots) or _nonfinite_state(optimizer)
    if fault is None:
        return
    optimizer.state, optimizer.steps = state, steps
    for (_, param, _), saved in zip(slots, params):
        param[...] = saved
    raise overflow_error(model, optimizer, fault)


def _first_nonfinite(named_arrays):
    for name, array in named_arrays:
        if not np.all(np.isfinite(array)):
            return name
    return None


def _nonfinite_state(optimizer):
    """``"the optimizer state of <name>"`` for the first parameter whose optimizer values are not all finite."""
    for name, values in optimizer.state.items():
        if _first_nonfinite(values.items()) is not None:
            return f"the optimizer state of {name}"
    return None


def describe_parameter(model, name):
    """``decoder.2.W (Dense)``: a parameter's qualified name and the type of the layer holding it."""
    prefix, *path, _ = name.split(".")
    owner = dict(model.modules()).get(prefix)
    for index in path:
        owner = owner.layers[int(index)] if hasattr(owner, "layers") else None
    return name if owner is None else f"{name} ({type(owner).__name__})"


def check_finite(model, loss, slots, squares, first_batch=None):
    """Raise ``TrainingDiverged`` if the loss or a gradient is not finite (nothing has been updated yet).

    ``squares``: ``||g||^2`` of each gradient by name; only where it is not finite are the entries looked at.
    ``first_batch``: the batch of a step before which no update was made; the error then blames the data or
    the initial model, with the batch's range, instead of the learning rate.
    """
    suspects = [(name, grad) for name, _, grad in slots if not math.isfinite(squares[name])]
    parameter = _first_nonfinite(suspects)
    if math.isfinite(loss) and parameter is None:
        return
    what = "the loss" if not math.isfinite(loss) else f"the gradient of {parameter}"
    first = describe_parameter(model, parameter) if parameter else "none"
    found = f"{what} is not finite (loss {loss}; first non-finite gradient: {first})"
    if first_batch is not None:
        raise TrainingDiverged(
            f"{found} before any update, so neither the learning rate nor training is the cause: the data or the "
            f"model as given is. This batch's values range over [{np.min(first_batch):.4g}, "
            f"{np.max(first_batch):.4g}]; scale the data (pixels: X / 255; other data: standardise it) or check "
            "the model's initial weights",
            parameter=parameter,
        )
    raise TrainingDiverged(
        f"{found}. The weights and optimizer state are those after the last finite step; try a lower learning "
        "rate or clip_norm=...",
        parameter=parameter,
    )


def check_growth(loss, first_loss, max_growth):
    """Raise ``TrainingDiverged`` if ``loss > max_growth * |first_loss|`` (no check when ``max_growth`` is None)."""
    if max_growth is None or first_loss == 0 or loss <= max_growth * abs(first_loss):
        return
    raise TrainingDiverged(
        f"the loss {loss:.4g} is more than max_loss_growth={max_growth:g} times the run's first loss "
        f"({first_loss:.4g}): training is diverging. Nothing was updated by this step (the weights are those "
        "after the last step, which gave this loss); try a lower learning rate or clip_norm=..., or pass "
        "max_loss_growth=None to fit to turn this check off"
    )


def overflow_error(model, optimizer, fault):
    """The ``TrainingDiverged`` of an update that made ``fault`` (a parameter or optimizer state) non-finite."""
    what = describe_parameter(model, fault) if not fault.startswith("the optimizer") else fault
    return TrainingDiverged(
        f"the update would have made {what} non-finite although every gradient was finite (learning rate "
        f"{optimizer.lr:g} too large). The update was undone: the weights and optimizer state are those after "
        "the last finite step; use a lower learning rate or clip_norm=...",
        parameter=fault if not fault.startswith("the optimizer") else None,
    )


def silence_warning(model, silent, steps, optimizer):
    """The warning for the parameters ``silent`` whose gradient was zero at the last ``steps`` steps (None if none)."""
    if not silent:
        return None
    names = [name for name, _ in model.named_parameters()]
    owned = {prefix: [n for n in names if n.startswith(prefix + ".")] for prefix, _ in model.modules()}
    modules = [prefix for prefix, own in owned.items() if own and all(n in silent for n in own)]
    if len(silent) == len(names):
        what = "every gradient has been zero"
    elif modules:
        what = f"every gradient of the {' and the '.join(modules)} has been zero"
    else:
        what = f"the gradients of {', '.join(silent[:6])}{' ...' if len(silent) > 6 else ''} have been zero"
    return (
        f"{what} for {steps} step{'s' if steps > 1 else ''} in a row (a whole epoch): that part of the network "
        "has stopped learning. The usual cause is units stuck where their derivative is zero (ReLUs that output "
        f"0 for every input, sigmoids saturated at 0 or 1) after steps too large for the learning rate "
        f"lr={optimizer.lr:g}; they do not recover: rebuild the model and train with a lower learning rate"
    )
