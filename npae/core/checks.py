"""Argument and data checks shared by the whole library: one definition of each.

Every check raises a ``TypeError`` (wrong kind of value) or a ``ValueError`` (right kind, wrong value) whose
message names the argument, says what was expected and what was given, so that a mistake is fixed from the
message alone. Numbers may be Python or NumPy scalars (``np.float32(1e-3)`` is a number like ``1e-3``);
``True``/``False`` are never numbers here.
"""

from __future__ import annotations

import math
import numbers
import os
import pathlib

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def is_real_number(value):
    """True for a Python or NumPy int or float (a bool is not a number here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _bounds(low, high, include_low, include_high):
    """``> 0``, ``<= 1`` or ``in [0, 1)``: the allowed range in words."""
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>=' if include_low else '>'} {low:g}"
    if low is None:
        return f" {'<=' if include_high else '<'} {high:g}"
    return f" in {'[' if include_low else '('}{low:g}, {high:g}{']' if include_high else ')'}"


def real_number(value, name, low=None, high=None, include_low=True, include_high=True):
    """``value`` as a float after checking it is a finite real number in ``[low, high]`` (ends open as told).

    ``None`` leaves that end unbounded. A TypeError for a non-number, a ValueError naming the interval otherwise.
    """
    bounds = _bounds(low, high, include_low, include_high)
    if not is_real_number(value):
        raise TypeError(f"{name}: expected a finite number{bounds}, got {value!r}")
    number = float(value)
    too_low = low is not None and (number < low or (number == low and not include_low))
    too_high = high is not None and (number > high or (number == high and not include_high))
    if not math.isfinite(number) or too_low or too_high:
        raise ValueError(f"{name}: expected a finite number{bounds}, got {value!r}")
    return number


def positive_int(value, name, minimum=1):
    """``value`` as an int after checking it is a (Python or NumPy) integer >= ``minimum``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def int_pair(value, name, minimum=0):
    """An int-or-pair argument (``kernel_size=3`` or ``(3, 2)``) as a pair of ints, each at least ``minimum``."""
    items = (value, value) if isinstance(value, numbers.Integral) else value
    if (
        not isinstance(items, (tuple, list))
        or len(items) != 2
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in items)
    ):
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    if min(items) < minimum:
        raise ValueError(f"{name}: expected ints >= {minimum}, got {value!r}")
    return (int(items[0]), int(items[1]))


def as_generator(rng, name="rng"):
    """A ``numpy.random.Generator`` from an int seed >= 0, a Generator (returned as is), or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"{name}: expected an int seed >= 0, a numpy.random.Generator or None, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name}: expected an int seed, a numpy.random.Generator or None, got {type(rng).__name__}")


def _as_path(path, name):
    if not isinstance(path, (str, os.PathLike)) or os.fspath(path) == "":
        raise TypeError(f"{name}: expected a folder path (a non-empty str or os.PathLike), got {path!r}")
    return pathlib.Path(path).expanduser()


def existing_folder(path, name, holding="files"):
    """``path`` as a ``pathlib.Path`` after checking it is a folder that exists (a mistyped folder is an error,
    never skipped); ``holding`` says what the folder should hold, for the message."""
    folder = _as_path(path, name)
    if folder.is_dir():
        return folder
    if folder.exists():
        raise NotADirectoryError(f"{name}: {str(folder)!r} is a file, expected the folder holding {holding}; "
                                 f"pass its folder ({str(folder.parent)!r}?)")
    raise FileNotFoundError(f"{name}: there is no folder {str(folder)!r}; expected the folder holding {holding} "
                            "(check the spelling, or create it)")


def output_folder(path, name):
    """``path`` as a ``pathlib.Path`` after checking that it is a folder or can be created as one: neither it nor
    any parent is an existing file. Nothing is created here (``npae.io.make_folder`` creates it)."""
    folder = _as_path(path, name)
    for candidate in (folder, *folder.parents):
        if candidate.exists() and not candidate.is_dir():
            raise NotADirectoryError(
                f"{name}: {str(candidate)!r} is a file, expected a folder to write into; give a new or existing folder"
                if candidate == folder else
                f"{name}: {str(folder)!r} cannot be created as a folder, because {str(candidate)!r} is a file; "
                "give a new or existing folder"
            )
    return folder


def check_float_dtype(dtype, name="dtype"):
    """``dtype`` as ``np.float32`` or ``np.float64``, or a TypeError naming ``name``."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name}: expected float32 or float64, got {dtype!r}") from exc
    if dt.type not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {dt}")
    return dt.type


def check_float_array(x, where, min_ndim=1):
    """Raise unless ``x`` is a float32 or float64 ndarray with at least ``min_ndim`` axes (``where`` names the caller)."""
    if not isinstance(x, np.ndarray) or x.dtype.type not in FLOAT_DTYPES:
        got = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        hint = " (convert pixels with x.astype(np.float32) / 255)" if isinstance(x, np.ndarray) and x.dtype.kind in "iub" else ""
        raise TypeError(f"{where}: x must be a float32 or float64 numpy array, got {got}{hint}")
    if x.ndim < min_ndim:
        raise ValueError(f"{where}: x must have a batch axis and at least {min_ndim - 1} more, got shape {x.shape}")
    return x


def check_shape(shape, name):
    """A per-sample shape (without the batch axis) as a tuple of positive ints."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not shape:
        raise TypeError(f"{name}: expected a non-empty tuple of positive ints (without the batch axis), got {shape!r}")
    for size in shape:
        if not isinstance(size, numbers.Integral) or isinstance(size, (bool, np.bool_)) or size < 1:
            raise ValueError(f"{name}: expected a tuple of positive ints (without the batch axis), got {tuple(shape)!r}")
    return tuple(int(size) for size in shape)


#: values read at a time by the data scans below (4 MB of float32): a check on a memory-mapped array larger than
#: memory never allocates a temporary the size of the array
CHUNK_VALUES = 1 << 20


def row_chunks(X, values=CHUNK_VALUES):
    """Slices of consecutive rows of ``X`` (N, ...) holding about ``values`` numbers each (at least one row)."""
    rows = max(1, values // max(1, math.prod(X.shape[1:])))
    return [slice(start, start + rows) for start in range(0, X.shape[0], rows)]


def value_range(X):
    """``(min, max)`` of ``X`` as floats, read chunk by chunk; a NaN anywhere makes both NaN."""
    low, high = math.inf, -math.inf
    for rows in row_chunks(X):
        chunk = X[rows]
        low, high = min(low, float(chunk.min())), max(high, float(chunk.max()))
        if math.isnan(low) or math.isnan(high):
            return math.nan, math.nan
    return low, high


def count_nonfinite(X):
    """The number of NaN and infinite entries of ``X``, counted chunk by chunk."""
    return sum(int(np.size(X[rows]) - np.count_nonzero(np.isfinite(X[rows]))) for rows in row_chunks(X))


def check_data(X, name, dtype=None, feature_shape=None, unit_interval_for=None):
    """A data array (N, ...) checked and returned in ``dtype`` (None: its own float dtype, float32 or float64).

    ``X`` must be a float numpy array with N >= 1 samples, finite values, and per-sample shape ``feature_shape``
    when given. Integers are refused rather than silently scaled: pixels in 0..255 must be converted by the
    caller (``X.astype(np.float32) / 255``). ``unit_interval_for`` (e.g. ``"a BCE (Bernoulli) autoencoder"``)
    also requires values in [0, 1] and names who needs them in the error.

    The values are scanned in chunks of rows, so a memory-mapped array (``np.load(path, mmap_mode="r")``) is
    checked without being copied; it is returned as it is, and must therefore already have the wanted dtype
    (converting it would copy it whole into memory).
    """
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(X).__name__}")
    if X.dtype.kind != "f":
        hint = " (convert pixels with X.astype(np.float32) / 255)" if X.dtype.kind in "iub" else ""
        raise TypeError(f"{name}: expected a float array, got dtype {X.dtype}{hint}")
    if X.ndim < 2 or X.shape[0] < 1:
        raise ValueError(f"{name}: expected shape (N, ...) with N >= 1 samples, got {X.shape}")
    if feature_shape is not None and tuple(X.shape[1:]) != tuple(feature_shape):
        raise ValueError(f"{name}: expected shape (N, {', '.join(map(str, feature_shape))}), got {X.shape}")
    dtype = check_float_dtype(X.dtype if dtype is None else dtype, name)
    if isinstance(X, np.memmap) and X.dtype.type is not dtype:
        raise TypeError(
            f"{name}: a memory-mapped {X.dtype} array would be copied whole into memory to convert it to the "
            f"model's {np.dtype(dtype)}; store the data as {np.dtype(dtype)} (X.astype(np.{np.dtype(dtype)}) once, "
            "saved with np.save) or convert the model (model.astype(...))"
        )
    low, high = value_range(X)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name}: expected finite values, got {count_nonfinite(X)} NaN or infinite entries")
    if unit_interval_for is not None and (low < 0 or high > 1):
        raise ValueError(
            f"{name}: {unit_interval_for} needs values in [0, 1], got range [{low:.4g}, {high:.4g}]; "
            "scale pixels with X / 255"
        )
    return X.astype(dtype, copy=False)
