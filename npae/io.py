"""Saving and loading models without pickle.

A model file is one ``.npz`` archive holding

- ``__architecture__``: the model's architecture as UTF-8 JSON bytes (a uint8 array), and
- one float array per parameter, under its qualified name (``encoder.0.W``);
- optionally more records whose names start with ``__`` (a training checkpoint adds its loop state and
  the optimizer's state there; ``load`` ignores them).

Loading never trusts the file: it reads the archive with its own reader (no ``allow_pickle``, no object
arrays), verifies every member's CRC-32 before parsing it, checks that each array header agrees with the
number of bytes stored, rebuilds the architecture from registered classes only (``npae.core.registry``:
npae's own concrete classes and those a user registers with ``npae.register``), and checks every weight's
name, shape and finiteness against the rebuilt model. Whatever is wrong, the error is a ``ValueError``
naming the file and what was expected (a missing file is a ``FileNotFoundError``).
"""

from __future__ import annotations

import io as _bytes_io
import json
import math
import os
import secrets
import shutil
import struct
import zipfile
import zlib

import numpy as np

from .core.checks import output_folder
from .core.registry import deserialize, serialize

FORMAT_VERSION = 1
ARCH_KEY = "__architecture__"

#: what ``zipfile`` raises on damaged bytes (a flipped flag bit reads as "encrypted", RuntimeError, or as an
#: unknown compression method, NotImplementedError); caught around the zip calls only, so that a bug in the
#: code around them surfaces as itself instead of passing for a damaged file
DAMAGED_ZIP_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError,
    zlib.error, struct.error, UnicodeDecodeError, OverflowError,
)


def encode_json(obj):
    """``obj`` as UTF-8 JSON bytes in a uint8 array, so it can sit in an ``.npz`` beside the weights."""
    return np.frombuffer(json.dumps(obj).encode("utf-8"), dtype=np.uint8)


def decode_json(array, what, path):
    """Parse a record written by ``encode_json``; a ValueError naming ``what`` and ``path`` if it is not."""
    if array.dtype != np.uint8 or array.ndim != 1:
        raise ValueError(f"{path}: {what} must be a 1-D uint8 array of JSON bytes, got {array.dtype} {array.shape}")
    try:
        return json.loads(array.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: {what} is not valid JSON ({exc})") from exc


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------


def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike file name, got {type(path).__name__}")
    return os.fspath(path)


def atomic_write(path, write):
    """Write a file atomically: ``write(file)`` into a temporary file beside ``path``, fsync, rename.

    Readers see either the old file or the complete new one, never a partial write, even if the process is
    killed mid-write (a stray ``.tmp-*`` file may then remain beside ``path``). The file gets the permissions
    ``open(path, "wb")`` would give it: those of the file it replaces, else 0666 less the user's umask.
    """
    path = _check_path(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"path: {path!r} is a folder, expected a file name (for example {os.path.join(path, 'model.npz')!r})"
        )
    directory = os.fspath(make_folder(os.path.dirname(os.path.abspath(path)), "path"))
    fd, tmp = create_file_beside(path, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if os.path.isfile(path):
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def make_folder(path, name):
    """Create the folder ``path`` (and its parents) unless it exists; an error names the argument ``name``: a
    file where a folder should be, or a folder that may not be written."""
    folder = output_folder(path, name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise type(exc)(exc.errno, f"{name}: cannot create the folder {str(folder)!r} ({exc.strerror})") from exc
    return folder


def create_file_beside(path, prefix, suffix=""):
    """A new empty file with a random name in the folder of ``path``, open for writing: ``(fd, its path)``.

    Unlike ``tempfile.mkstemp``, which makes files only their owner can read (mode 0600), the file gets the
    mode any new file gets (0666 less the umask), so that what is renamed from it is as readable as any file
    the user writes. An error names ``path``, not the temporary name.
    """
    directory = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        candidate = os.path.join(directory, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(candidate, flags, 0o666), candidate
        except FileExistsError:
            continue  # another writer drew the same name: draw again
        except OSError as exc:
            raise type(exc)(exc.errno, f"cannot write {path!r} (a file is written beside it first)", directory) from exc


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(model, path, extra_arrays=None):
    """Save ``model`` to ``path`` (``.npz``): JSON architecture plus one array per parameter.

    ``extra_arrays`` (names starting with ``__``) are stored beside them; checkpoints use this.
    """
    path = _check_path(path)
    arch = {"format": FORMAT_VERSION, "model": serialize(model), "dtype": np.dtype(model.dtype).name}
    arrays = {ARCH_KEY: encode_json(arch)}
    arrays.update(model.get_weights())
    for key in extra_arrays or {}:
        if not key.startswith("__"):
            raise ValueError(f"extra_arrays: names must start with '__' (weights own the others), got {key!r}")
    arrays.update(extra_arrays or {})
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _read_member(archive, info, path):
    """One ``.npy`` member as an array, refusing object arrays and headers that disagree with the data size.

    ``archive.read`` returns only after the whole member was read and its CRC-32 matched (else BadZipFile),
    so the bytes parsed below are the bytes that were written.
    """
    try:
        raw = archive.read(info)
    except DAMAGED_ZIP_ERRORS as exc:
        raise _damaged(path, exc) from exc
    stream = _bytes_io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    except ValueError as exc:
        raise ValueError(f"{path}: member {info.filename!r} is not a valid .npy array ({exc})") from exc
    if dtype.hasobject:
        raise ValueError(
            f"{path}: member {info.filename!r} holds an object array (dtype {dtype}), which npae refuses to "
            "load: it would need pickle"
        )
    expected = stream.tell() + math.prod(shape) * dtype.itemsize
    if expected != len(raw):
        raise ValueError(
            f"{path}: member {info.filename!r} declares shape {shape} of {dtype} ({expected} bytes with its "
            f"header), but holds {len(raw)} bytes"
        )
    return np.lib.format.read_array(_bytes_io.BytesIO(raw), allow_pickle=False)


def _member_key(info, path, seen):
    if not info.filename.endswith(".npy"):
        raise ValueError(f"{path}: unexpected member {info.filename!r} (an npae file holds only .npy arrays)")
    key = info.filename[: -len(".npy")]
    if key in seen:
        raise ValueError(f"{path}: member {info.filename!r} appears twice")
    return key


def read_archive(path):
    """Every array of an ``.npz``, read without pickle, each member's CRC-32 checked before it is parsed."""
    path = _check_path(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path: no model file at {path!r}")
    with open(path, "rb") as file:  # a file that cannot be opened (permissions) is not a damaged one
        try:
            archive = zipfile.ZipFile(file)
        except DAMAGED_ZIP_ERRORS as exc:
            raise _damaged(path, exc) from exc
        with archive:
            arrays = {}
            for info in archive.infolist():
                key = _member_key(info, path, arrays)
                arrays[key] = _read_member(archive, info, path)
            return arrays


def _damaged(path, exc):
    return ValueError(f"{path}: truncated or corrupted model file ({type(exc).__name__}: {exc})")


def split_archive(arrays, path):
    """``(architecture record, weights, extras)`` from ``read_archive``'s output, the record validated."""
    if ARCH_KEY not in arrays:
        raise ValueError(f"{path}: no architecture record; not an npae model file")
    arch = decode_json(arrays[ARCH_KEY], "the architecture record", path)
    if not isinstance(arch, dict) or arch.get("format") != FORMAT_VERSION or "model" not in arch:
        found = arch.get("format") if isinstance(arch, dict) else type(arch).__name__
        raise ValueError(f"{path}: unsupported architecture record: expected format {FORMAT_VERSION}, got {found!r}")
    dtype = arch.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"{path}: dtype must be float32 or float64, got {dtype!r}")
    weights = {k: v for k, v in arrays.items() if not k.startswith("__")}
    extras = {k: v for k, v in arrays.items() if k.startswith("__") and k != ARCH_KEY}
    return arch, weights, extras


def restore_weights(model, weights, path):
    """``model.set_weights(weights)``, any mismatch reported as a ValueError naming ``path``."""
    try:
        model.set_weights(weights)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: weights do not match the architecture: {exc}") from exc


def load(path):
    """Load a model saved with ``model.save(path)``; no pickle is ever used."""
    arch, weights, _ = split_archive(read_archive(path), path)
    try:
        model = deserialize(arch["model"])
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    model.astype(arch.get("dtype", "float32"))
    restore_weights(model, weights, path)
    return model
