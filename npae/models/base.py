"""What every trainable model shares: parameter bookkeeping, weights get/set, dtype, input checks, save."""

from __future__ import annotations

import numpy as np

from ..layers.base import FLOAT_DTYPES, check_float_dtype


def check_data(X, name, dtype, feature_shape=None):
    """Validate a data array and return it in ``dtype``.

    ``X`` must be a numeric numpy array (N, ...) with N >= 1, finite values, and per-sample shape
    ``feature_shape`` when given. Integers are refused rather than silently scaled: pixels in 0..255
    must be converted by the caller (``X.astype(np.float32) / 255``).
    """
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(X).__name__}")
    if X.dtype.kind not in "f":
        hint = " (convert pixels with X.astype(np.float32) / 255)" if X.dtype.kind in "iub" else ""
        raise TypeError(f"{name}: expected a float array, got dtype {X.dtype}{hint}")
    if X.ndim < 2 or X.shape[0] < 1:
        raise ValueError(f"{name}: expected shape (N, ...) with N >= 1 samples, got {X.shape}")
    if feature_shape is not None and tuple(X.shape[1:]) != tuple(feature_shape):
        raise ValueError(
            f"{name}: expected shape (N, {', '.join(map(str, feature_shape))}), got {X.shape}"
        )
    if not np.all(np.isfinite(X)):
        bad = int(np.size(X) - np.count_nonzero(np.isfinite(X)))
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite entries")
    return X.astype(dtype, copy=False)


def check_shape(shape, name):
    """A per-sample shape (without the batch axis) as a tuple of positive ints, or a ValueError/TypeError."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not shape:
        raise TypeError(f"{name}: expected a non-empty tuple of positive ints (without the batch axis), got {shape!r}")
    for size in shape:
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
            raise ValueError(
                f"{name}: expected a tuple of positive ints (without the batch axis), got {tuple(shape)!r}"
            )
    return tuple(int(size) for size in shape)


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

    def modules(self):  # pragma: no cover - abstract
        raise NotImplementedError

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
        """``(qualified_name, layer, key)`` for every parameter, e.g. ``("encoder.0.W", dense, "W")``."""
        for prefix, module in self.modules():
            for name, _, layer, key in module.parameters(prefix=f"{prefix}."):
                yield name, layer, key

    def get_weights(self):
        """A copy of every parameter, by qualified name."""
        return {name: layer.params[key].copy() for name, layer, key in self.named_parameters()}

    def set_weights(self, weights):
        """Set parameters from ``{qualified_name: array}``; names, shapes and finiteness must match exactly."""
        if not isinstance(weights, dict):
            raise TypeError(f"weights: expected a dict {{qualified_name: array}}, got {type(weights).__name__}")
        own = {name: (layer, key) for name, layer, key in self.named_parameters()}
        missing = sorted(set(own) - set(weights))
        extra = sorted(set(weights) - set(own))
        if missing or extra:
            raise ValueError(f"weights: names do not match the model (missing {missing}, unexpected {extra})")
        checked = {
            name: _check_weight(name, weights[name], layer.params[key].shape) for name, (layer, key) in own.items()
        }
        for name, (layer, key) in own.items():
            layer.params[key] = checked[name].astype(layer.params[key].dtype, copy=True)

    def num_parameters(self):
        return sum(layer.params[key].size for _, layer, key in self.named_parameters())

    def zero_grads(self):
        for _, module in self.modules():
            module.zero_grads()

    def start_epoch(self, epoch, epochs):
        """Hook run before each training epoch (KL warm-up uses it)."""

    def save(self, path):
        """Save architecture (JSON) and weights to one ``.npz`` file; load with ``npae.load``."""
        from ..io import save

        save(self, path)
