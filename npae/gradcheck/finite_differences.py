"""Finite-difference gradient checks (central differences, float64).

For a layer ``y = f(x; theta)`` we check the gradients of the scalar ``L = sum(dy * y)`` where ``dy`` is a
*random* upstream gradient (never all ones: with all ones, many wrong gradients of ``sum(y)`` still pass).
For each tensor ``T`` (the input and each parameter) the numerical derivative is

    dL/dT_i ~= (L(T + h e_i) - L(T - h e_i)) / (2 h)

and the reported error is the max-norm relative error ``max_i |a_i - n_i| / max(max|a|, max|n|, tiny)``
between the analytic gradient ``a`` and the numerical one ``n``.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import as_generator

TINY = 1e-30


def relative_error(analytic, numeric):
    """``max|a - n| / max(max|a|, max|n|)`` (0 when both are zero)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"relative_error: shapes differ: {analytic.shape} and {numeric.shape}")
    if analytic.size == 0:
        return 0.0
    scale = max(np.abs(analytic).max(), np.abs(numeric).max())
    if scale < TINY:
        return 0.0
    return float(np.abs(analytic - numeric).max() / scale)


def numerical_gradient(fn, tensor, h=1e-6):
    """Central-difference gradient of the scalar ``fn()`` with respect to ``tensor`` (perturbed in place)."""
    grad = np.zeros(tensor.shape, dtype=np.float64)
    flat = tensor.reshape(-1)
    if not np.shares_memory(flat, tensor):
        raise ValueError("numerical_gradient: tensor must be contiguous so it can be perturbed in place")
    g = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = fn()
        flat[i] = old - h
        minus = fn()
        flat[i] = old
        g[i] = (plus - minus) / (2 * h)
    return grad


def check_layer(layer, x, dy=None, seed=0, h=1e-6, training=False, forward_kwargs=None):
    """Check a layer's ``dx`` and every parameter gradient; returns ``{"x": err, "W": err, ...}``.

    The layer and ``x`` should be float64 (``layer.astype(np.float64)``). ``training`` is passed to forward
    (keep False for noise layers, whose draws would differ between evaluations).
    """
    kwargs = dict(forward_kwargs or {})
    x = np.array(x, dtype=np.float64)
    y = layer.forward(x, training=training, **kwargs)
    if dy is None:
        dy = as_generator(seed).standard_normal(y.shape)
    dy = np.asarray(dy, dtype=np.float64)

    def objective():
        return float(np.sum(dy * layer.forward(x, training=training, **kwargs)))

    layer.forward(x, training=training, **kwargs)
    dx = layer.backward(dy.copy())
    analytic = {"x": np.array(dx, dtype=np.float64)}
    analytic.update({k: np.array(v, dtype=np.float64) for k, v in layer.grads.items()})
    errors = {"x": relative_error(analytic["x"], numerical_gradient(objective, x, h))}
    for key, param in layer.params.items():
        errors[key] = relative_error(analytic[key], numerical_gradient(objective, param, h))
    return errors


def check_loss(loss, pred, target, h=1e-6):
    """Check that ``loss.value_and_grad`` returns the derivative of the value it reports."""
    pred = np.array(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    _, grad = loss.value_and_grad(pred, target)
    numeric = numerical_gradient(lambda: loss.value_and_grad(pred, target)[0], pred, h)
    return {"pred": relative_error(grad, numeric)}


def check_function(value_and_grads, tensors, h=1e-6):
    """Generic check: ``value_and_grads()`` returns ``(value, {name: grad})`` for ``tensors`` ``{name: array}``.

    The arrays in ``tensors`` are perturbed in place; the function must read them on each call.
    """
    _, grads = value_and_grads()
    grads = {k: np.array(v, dtype=np.float64) for k, v in grads.items()}
    errors = {}
    for name, tensor in tensors.items():
        numeric = numerical_gradient(lambda: value_and_grads()[0], tensor, h)
        errors[name] = relative_error(grads[name], numeric)
    return errors
