"""Weight initialisation: the named schemes every layer with weights draws from."""

from __future__ import annotations

import math

import numpy as np

from ..checks import as_generator

DEFAULT_DTYPE = np.float32

INIT_SCHEMES = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "torch_default", "zeros")


def init_weight(scheme, shape, fan_in, fan_out, rng, dtype=DEFAULT_DTYPE):
    """Draw a weight tensor of ``shape`` from a named scheme.

    - Glorot/Xavier (tanh/sigmoid nets): Var(W) = 2 / (fan_in + fan_out);
      uniform on [-a, a] with a = sqrt(6 / (fan_in + fan_out)).
    - He/Kaiming (ReLU nets): Var(W) = 2 / fan_in; uniform with a = sqrt(6 / fan_in).
    - ``torch_default``: PyTorch's default for Linear/Conv, uniform with a = 1 / sqrt(fan_in).
    """
    rng = as_generator(rng)
    if scheme == "glorot_uniform":
        a = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-a, a, size=shape)
    elif scheme == "glorot_normal":
        w = rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)
    elif scheme == "he_uniform":
        a = math.sqrt(6.0 / fan_in)
        w = rng.uniform(-a, a, size=shape)
    elif scheme == "he_normal":
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    elif scheme == "torch_default":
        a = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-a, a, size=shape)
    elif scheme == "zeros":
        w = np.zeros(shape)
    else:
        raise ValueError(f"init: expected one of {', '.join(INIT_SCHEMES)}, got {scheme!r}")
    return w.astype(dtype)


def init_bias(scheme, shape, fan_in, rng, dtype=DEFAULT_DTYPE):
    """Biases start at zero, except for ``torch_default`` (uniform on +-1/sqrt(fan_in), as PyTorch)."""
    if scheme == "torch_default":
        a = 1.0 / math.sqrt(fan_in)
        return as_generator(rng).uniform(-a, a, size=shape).astype(dtype)
    return np.zeros(shape, dtype=dtype)
