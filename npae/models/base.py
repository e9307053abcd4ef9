"""What every trainable model shares: parameter bookkeeping, weights get/set, dtype, save."""

from __future__ import annotations

import numpy as np

from .. import io
from ..core.checks import FLOAT_DTYPES, check_float_dtype


def _check_weight(name, value, shape):
    """One incoming weight array, checked for shape, float dtype and finite values (all or nothing)."""
    value = np.asarray(value)
    if value.shape != shape:
        raise ValueError(f"weights[{name!r}]: expected shape {shape}, got {value.shape}")
    if value.dtype.type not in FLOAT_DTYPES:
        raise TypeError(f"weights[{name!r}]: expected a float array, got dtype {value.dtype}")
    if not np.all(np.isfinite(value)):
        bad = int(value.size - np.count_nonzero(np.isfinite(value)))
        raise ValueError(f"weights[{name!r}]: expected finite values, got {bad} NaN or infinite entries")
    return value


class Model:
    """Mixin: ``modules()`` lists the named top-level ``Sequential``/layers that hold the parameters."""

    def modules(self):
        """``[(prefix, Sequential or Layer)]``: the named parts that hold the parameters."""
        raise NotImplementedError(f"{type(self).__name__} must define modules()")

    @property
    def dtype(self):
        for _, module in self.modules():
            if module.dtype is not None:
                return module.dtype
        return np.float32

    def astype(self, dtype):
        """Convert every parameter to ``dtype`` (float32 for speed, float64 for gradient checks)."""
        dtype = check_float_dtype(dtype)
        for _, module in self.modules():
            module.astype(dtype)
        return self

    def named_parameters(self):
        """``(qualified_name, array)`` for every parameter, e.g. ``("encoder.0.W", W)``."""
        for prefix, module in self.modules():
            yield from module.named_parameters(prefix=f"{prefix}.")

    def named_gradients(self):
        """``(qualified_name, dL/dparameter)`` after a backward pass, in the order of ``named_parameters``."""
        for prefix, module in self.modules():
            yield from module.named_gradients(prefix=f"{prefix}.")

    def get_weights(self):
        """A copy of every parameter, by qualified name."""
        return {name: param.copy() for name, param in self.named_parameters()}

    def set_weights(self, weights):
        """Set parameters from ``{qualified_name: array}``; names, shapes and finiteness must match exactly."""
        if not isinstance(weights, dict):
            raise TypeError(f"weights: expected a dict {{qualified_name: array}}, got {type(weights).__name__}")
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(weights))
        extra = sorted(set(weights) - set(own))
        if missing or extra:
            raise ValueError(f"weights: names do not match the model (missing {missing}, unexpected {extra})")
        checked = {name: _check_weight(name, weights[name], param.shape) for name, param in own.items()}
        for name, param in own.items():
            param[...] = checked[name]  # in place: the optimizer's state stays attached to the same arrays

    def num_parameters(self):
        return sum(param.size for _, param in self.named_parameters())

    def zero_grads(self):
        for _, module in self.modules():
            module.zero_grads()

    def start_epoch(self, epoch, epochs):
        """Hook run before each training epoch (KL warm-up uses it)."""

    def save(self, path):
        """Save architecture (JSON) and weights to one ``.npz`` file; load with ``npae.load``."""
        io.save(self, path)
