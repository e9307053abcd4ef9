"""Optimizers and learning-rate schedules.

An optimizer updates parameters in place from their gradients: ``step(slots)`` where ``slots`` is a list of
``(name, param, grad)``. Its per-parameter state is keyed by name, so it can be saved and restored
(``state_dict``/``load_state_dict``) for checkpoints. The update rules follow ``torch.optim`` exactly,
so that a float64 run matches PyTorch step for step.
"""

from __future__ import annotations

import math

import numpy as np

from ..backends import ops
from .checks import positive_int, real_number


class Optimizer:
    """Base class: ``step(slots)`` updates each ``(name, param, grad)`` in place; per-parameter state by name."""

    def __init__(self, lr, schedule=None):
        self.base_lr = real_number(lr, "lr", low=0.0, include_low=False)
        self.lr = self.base_lr
        if schedule is not None and not callable(schedule):
            raise TypeError(f"schedule: expected a callable epoch -> learning rate factor, got {schedule!r}")
        self.schedule = schedule
        self.state = {}
        self.steps = 0

    def start_epoch(self, epoch):
        """Set this epoch's learning rate: ``lr = base_lr * schedule(epoch)`` (epochs count from 0)."""
        if self.schedule is not None:
            self.lr = self.base_lr * float(self.schedule(epoch))

    def step(self, slots):
        self.steps += 1
        for name, param, grad in slots:
            self._update(name, param, grad)

    def _update(self, name, param, grad):
        raise NotImplementedError(f"{type(self).__name__} must define _update(name, param, grad)")

    def max_change(self, grad_norms):
        """An upper bound on every ``|change|`` of a weight, and on the rates, of the next ``step``.

        ``grad_norms`` maps each parameter's name to ``||g||``, which bounds every ``|g|``. The training guard
        applies a step in place when this bound is small, and tries it on a copy otherwise; ``inf`` (this
        default, for optimizers that cannot bound their step) means always on a copy.
        """
        return math.inf

    def state_dict(self):
        """Arrays and scalars that restore the optimizer exactly (for ``.npz`` checkpoints)."""
        out = {"__steps": np.array(self.steps), "__lr": np.array(self.lr)}
        for name, slots in self.state.items():
            for key, value in slots.items():
                out[f"{name}::{key}"] = np.asarray(value)
        return out

    def load_state_dict(self, state):
        self.steps = int(state["__steps"])
        self.lr = float(state["__lr"])
        self.state = {}
        for key, value in state.items():
            if key.startswith("__"):
                continue
            name, slot = key.split("::")
            self.state.setdefault(name, {})[slot] = value.copy() if value.ndim else value.item()

    def config(self):
        """The settings a checkpoint must agree with to be resumed (the schedule's too, when there is one)."""
        config = {"type": type(self).__name__, "lr": self.base_lr}
        if isinstance(self.schedule, Schedule):
            config["schedule"] = repr(self.schedule)
        elif self.schedule is not None:  # a plain function: its name is all that is stable across processes
            config["schedule"] = getattr(self.schedule, "__qualname__", type(self.schedule).__name__)
        return config


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``.

    Without momentum: ``p <- p - lr g``. With momentum ``mu``: ``v <- mu v + g`` (``v = g`` on the first
    step), then ``p <- p - lr v``; Nesterov uses ``p <- p - lr (g + mu v)``.
    """

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, schedule=None):
        super().__init__(lr, schedule)
        self.momentum = real_number(momentum, "momentum", low=0.0, high=1.0, include_high=False)
        if nesterov and self.momentum == 0:
            raise ValueError(f"nesterov: Nesterov momentum needs momentum > 0, got momentum={momentum!r}")
        self.nesterov = bool(nesterov)

    def _update(self, name, param, grad):
        if self.momentum == 0:
            param -= self.lr * grad
            return
        slot = self.state.setdefault(name, {})
        if "v" not in slot:
            slot["v"] = grad.copy()
        else:
            v = slot["v"]
            v *= self.momentum
            v += grad
        v = slot["v"]
        direction = grad + self.momentum * v if self.nesterov else v
        param -= self.lr * direction

    def max_change(self, grad_norms):
        """``lr |d|`` with the direction ``d = g``, or ``v' = mu v + g`` so ``|v'| <= mu ||v|| + ||g||``, or
        ``g + mu v'`` (Nesterov); ``lr`` itself when larger."""
        largest = 1.0
        for name, g in grad_norms.items():
            direction = g
            if self.momentum:
                v = self.state.get(name, {}).get("v")
                direction = self.momentum * (0.0 if v is None else math.sqrt(float(np.vdot(v, v)))) + g
                direction = g + self.momentum * direction if self.nesterov else direction
            largest = max(largest, direction)
        return self.lr * largest

    def config(self):
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), as ``torch.optim.Adam``.

    ``m <- b1 m + (1-b1) g``, ``v <- b2 v + (1-b2) g^2``, then with bias corrections
    ``c1 = 1 - b1^t``, ``c2 = 1 - b2^t``: ``p <- p - (lr / c1) m / (sqrt(v) / sqrt(c2) + eps)``.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, schedule=None):
        super().__init__(lr, schedule)
        self.beta1 = real_number(beta1, "beta1", low=0.0, high=1.0, include_high=False)
        self.beta2 = real_number(beta2, "beta2", low=0.0, high=1.0, include_high=False)
        self.eps = real_number(eps, "eps", low=0.0, include_low=False)

    def _update(self, name, param, grad):
        slot = self.state.setdefault(name, {})
        if "m" not in slot:
            slot["m"] = np.zeros_like(param)
            slot["v"] = np.zeros_like(param)
        t = self.steps
        lr_t = self.lr / (1 - self.beta1**t)
        s2 = math.sqrt(1 - self.beta2**t)
        ops.adam_update(param, grad, slot["m"], slot["v"], lr_t, self.beta1, self.beta2, self.eps, s2)

    def max_change(self, grad_norms):
        """``lr_t s2 C``, whatever the gradients (``lr_t`` itself when larger), where ``C`` bounds ``|m| / sqrt(v)``.

        ``m = (1-b1) sum_k b1^k g_{t-k}`` and ``v >= (1-b2) b2^k g_{t-k}^2`` for every k, so
        ``|m| / sqrt(v) <= (1-b1) / sqrt(1-b2) * sum_k (b1 / sqrt(b2))^k``, which is at most
        ``C = (1-b1) / (sqrt(1-b2) (1 - b1/sqrt(b2)))`` when ``b1 < sqrt(b2)`` (about 32 for the defaults); and
        ``|m| / (sqrt(v)/s2 + eps) <= s2 C``. ``m`` and ``v`` stay finite as long as every ``g^2`` does in the
        parameter's dtype, which a finite ``||g||`` (computed in that dtype) guarantees.
        """
        if self.beta1 >= math.sqrt(self.beta2) or not all(math.isfinite(g) for g in grad_norms.values()):
            return math.inf
        t = self.steps + 1
        lr_t = self.lr / (1 - self.beta1**t)
        s2 = math.sqrt(1 - self.beta2**t)
        bound = (1 - self.beta1) / (math.sqrt(1 - self.beta2) * (1 - self.beta1 / math.sqrt(self.beta2)))
        return lr_t * max(1.0, s2 * bound)

    def config(self):
        return {**super().config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get_optimizer(spec):
    """An optimizer from a name (``"adam"``: Adam(1e-3)), an instance, or None (Adam(1e-3))."""
    if spec is None:
        return Adam(1e-3)
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec.lower() in OPTIMIZERS:
        return OPTIMIZERS[spec.lower()]()
    raise ValueError(f"optimizer: expected one of {sorted(OPTIMIZERS)} or an Optimizer, got {spec!r}")


# ----------------------------------------------------------------------------------------------
# Learning-rate schedules: callables epoch -> factor applied to the base learning rate
# ----------------------------------------------------------------------------------------------


class Schedule:
    """Base class: ``schedule(epoch)`` is the factor on the base rate in that epoch (epochs count from 0).

    Its ``repr`` names every setting, and goes into the optimizer's config, so that a checkpoint cannot be
    resumed under a different schedule.
    """

    def __call__(self, epoch):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(epoch)")

    def __repr__(self):
        settings = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({settings})"


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, step_size, gamma=0.1):
        self.step_size = positive_int(step_size, "step_size")
        self.gamma = real_number(gamma, "gamma", low=0.0, include_low=False)

    def __call__(self, epoch):
        return self.gamma ** (epoch // self.step_size)


class ExponentialDecay(Schedule):
    """Multiply the rate by ``gamma`` every epoch."""

    def __init__(self, gamma):
        self.gamma = real_number(gamma, "gamma", low=0.0, high=1.0, include_low=False)

    def __call__(self, epoch):
        return self.gamma**epoch


class CosineDecay(Schedule):
    """Cosine annealing from the base rate to ``min_factor`` times it over ``epochs`` epochs."""

    def __init__(self, epochs, min_factor=0.0):
        self.epochs = positive_int(epochs, "epochs")
        self.min_factor = real_number(min_factor, "min_factor", low=0.0, high=1.0)

    def __call__(self, epoch):
        t = min(epoch, self.epochs) / self.epochs
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * t))


class StagedDecay(Schedule):
    """The IWAE paper's schedule (Burda et al. 2016), fitted into ``epochs``: ``stages`` stages of geometrically
    growing length, the rate dropping by ``decay`` from one to the next.

    In the paper stage ``i = 0..7`` lasts ``3^i`` epochs at ``10^{-i/7}`` times the base rate (3280 epochs from
    1e-3 down to 1e-4): long stages at low rates, where a VAE keeps improving slowly. Here stage ``i`` ends after
    ``epochs * (growth^{i+1} - 1) / (growth^stages - 1)`` epochs (rounded, and at least one epoch per stage), so
    ``StagedDecay(3280)`` is the paper's schedule and ``StagedDecay(600)`` the same shape in 600 epochs. Epochs
    past the end keep the last rate.
    """

    def __init__(self, epochs, stages=8, growth=3.0, decay=10 ** (-1 / 7)):
        self.epochs = positive_int(epochs, "epochs")
        self.stages = positive_int(stages, "stages")
        if self.stages > self.epochs:
            raise ValueError(f"stages: at most one stage per epoch, got stages={stages} for epochs={epochs}")
        self.growth = real_number(growth, "growth", low=1.0, include_low=False)
        self.decay = real_number(decay, "decay", low=0.0, high=1.0, include_low=False)

    def stage_ends(self):
        """The epoch at which each stage ends (the next one starts), the last being ``epochs``."""
        total = self.growth**self.stages - 1
        return [max(i + 1, round(self.epochs * (self.growth ** (i + 1) - 1) / total)) for i in range(self.stages)]

    def __call__(self, epoch):
        stage = sum(end <= epoch for end in self.stage_ends())
        return self.decay ** min(stage, self.stages - 1)
