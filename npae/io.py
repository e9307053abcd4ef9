"""Saving and loading models without pickle.

A model file is one ``.npz`` archive holding

- ``__architecture__``: the model's architecture as UTF-8 JSON bytes (a uint8 array), and
- one float array per parameter, under its qualified name (``encoder.0.W``).

Loading reads it with ``allow_pickle=False``, rebuilds the architecture from known class names only,
and checks every weight's name and shape against the rebuilt model before setting it.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT_VERSION = 1
ARCH_KEY = "__architecture__"


def _all_subclasses(cls):
    out = {}
    for sub in cls.__subclasses__():
        out[sub.__name__] = sub
        out.update(_all_subclasses(sub))
    return out


def registry():
    """Known serialisable classes by name: layers, losses, penalties, noise, and models."""
    from . import layers, losses, models  # noqa: F401  (import registers the subclasses)
    from .layers.base import Layer
    from .losses import Loss
    from .models.base import Model

    known = {}
    for base in (Layer, Loss, Model):
        known.update(_all_subclasses(base))
    try:
        from .penalties import Penalty

        known.update(_all_subclasses(Penalty))
    except ImportError:  # pragma: no cover - penalties module absent
        pass
    return known


def serialize(obj):
    """``{"type": class name, "config": ..., "name": ...}`` for a layer, loss, penalty or model."""
    from .layers.base import Sequential

    if isinstance(obj, Sequential):
        return {"type": "Sequential", "name": obj.name, "layers": [serialize(layer) for layer in obj.layers]}
    spec = {"type": type(obj).__name__, "config": obj.get_config()}
    if getattr(obj, "name", None) is not None:
        spec["name"] = obj.name
    return spec


def deserialize(spec):
    """Rebuild an object from ``serialize``'s output; only registered class names are accepted."""
    from .layers.base import Sequential

    if not isinstance(spec, dict) or "type" not in spec:
        raise ValueError(f"architecture: expected an object with a 'type', got {spec!r:.200}")
    kind = spec["type"]
    if kind == "Sequential":
        if not isinstance(spec.get("layers"), list):
            raise ValueError("architecture: a Sequential needs a list 'layers'")
        return Sequential([deserialize(s) for s in spec["layers"]], name=spec.get("name"))
    known = registry()
    if kind not in known:
        raise ValueError(f"architecture: unknown type {kind!r}; known types are {sorted(known)}")
    cls = known[kind]
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"architecture: the config of {kind} must be an object, got {config!r:.200}")
    try:
        if hasattr(cls, "from_config"):
            obj = cls.from_config(config)
        else:
            obj = cls(**config)
    except TypeError as exc:
        raise ValueError(f"architecture: cannot build {kind} from config {config}: {exc}") from exc
    if spec.get("name") is not None and hasattr(obj, "name"):
        obj.name = spec["name"]
    return obj


def atomic_write(path, write):
    """Write a file atomically: ``write(file)`` into a temporary file beside ``path``, fsync, rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(model, path, extra_arrays=None):
    """Save ``model`` to ``path`` (``.npz``): JSON architecture plus one array per parameter."""
    arch = {"format": FORMAT_VERSION, "model": serialize(model), "dtype": np.dtype(model.dtype).name}
    arrays = {ARCH_KEY: np.frombuffer(json.dumps(arch).encode("utf-8"), dtype=np.uint8)}
    arrays.update(model.get_weights())
    if extra_arrays:
        arrays.update(extra_arrays)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_archive(path):
    """Read every array of an ``.npz`` without pickle; clear errors for missing or damaged files."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"path: no model file at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise ValueError(f"{path}: holds an object array, which npae refuses to load (no pickle)") from exc
        raise ValueError(f"{path}: not a readable npae model file ({exc})") from exc
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise ValueError(f"{path}: truncated or corrupted model file ({type(exc).__name__}: {exc})") from exc


def load(path):
    """Load a model saved with ``model.save(path)``; no pickle is ever used."""
    arrays = read_archive(path)
    if ARCH_KEY not in arrays:
        raise ValueError(f"{path}: no architecture record; not an npae model file")
    try:
        arch = json.loads(arrays.pop(ARCH_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: the architecture record is not valid JSON ({exc})") from exc
    if not isinstance(arch, dict) or arch.get("format") != FORMAT_VERSION or "model" not in arch:
        raise ValueError(f"{path}: unsupported architecture record (format {arch.get('format') if isinstance(arch, dict) else None!r})")
    model = deserialize(arch["model"])
    dtype = arch.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"{path}: dtype must be float32 or float64, got {dtype!r}")
    model.astype(dtype)
    weights = {k: v for k, v in arrays.items() if not k.startswith("__")}
    try:
        model.set_weights(weights)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: weights do not match the architecture: {exc}") from exc
    for name, value in weights.items():
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{path}: weight {name!r} holds non-finite values")
    return model
