"""What the two autograd bridges (``torch_bridge.py``, ``jax_bridge.py``) share: reading an npae network's attached
penalties and gradients, and comparing the network with its twin in either framework."""

from __future__ import annotations

import importlib

import numpy as np

from ..core.checks import as_generator
from ..core.layers import Sequential
from .finite_differences import relative_error


def import_framework(module, name, bridge):
    """``import module`` for a bridge, or an ImportError naming the bridge, the framework and how to install it.
    Imported only when a comparison runs, so ``import npae`` works without either framework."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"npae.gradcheck.{bridge} needs {name} (pip install {module}); it is not installed") from exc


def attached_penalties(net):
    """``[(index, penalty)]`` for the penalties attached to a Sequential, by the index of the layer they name."""
    if not isinstance(net, Sequential):
        return []
    return [(p.attached_index, p) for hooked in net.penalties.values() for p in hooked]


def npae_gradients(net):
    """The gradient of every parameter of a layer, Sequential or model by qualified name (``"0.W"``, or ``"W"``)."""
    return dict(net.named_gradients())


def compare_network(net, x, dy, seed, twin_gradients):
    """Max relative errors between ``net`` and a twin's ``twin_gradients(net, x, dy)`` (a bridge's
    ``layer_gradients``): ``{"y", ["penalty",] "x", "<qualified param name>"...}``.

    The gradients are those of ``L = sum(dy * y) + P`` with ``dy`` standard normal from ``seed`` unless given, and
    ``P`` the penalties attached to the layers of a Sequential (then both run in training mode and ``"penalty"``
    compares the values).
    """
    penalties = attached_penalties(net)
    x = np.asarray(x, dtype=net.dtype or np.float64)
    y = net.forward(x, training=bool(penalties))
    dy = as_generator(seed).standard_normal(y.shape) if dy is None else dy
    dy = np.asarray(dy, dtype=y.dtype)
    penalty = net.penalty_value if penalties else None
    dx = net.backward(dy.copy())
    theirs = twin_gradients(net, x, dy)
    errors = {"y": relative_error(y, theirs["y"])}
    if penalties:
        errors["penalty"] = relative_error(penalty, theirs["penalty"])
    errors["x"] = relative_error(dx, theirs["x"])
    errors.update({name: relative_error(grad, theirs[name]) for name, grad in npae_gradients(net).items()})
    return errors
