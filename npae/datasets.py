"""Datasets: MNIST and Fashion-MNIST from the standard IDX files, and offline synthetic digits.

Where the files are looked for
------------------------------
Each dataset lives in a folder of its own (``mnist/`` or ``fashion-mnist/``) holding the four standard IDX
files, gzipped (``train-images-idx3-ubyte.gz``, ...) or not. The folder is searched under, in order:

1. the ``data_dir`` argument,
2. the environment variable ``NPAE_DATA_DIR``,
3. the cache, ``~/.cache/npae`` (or the environment variable ``NPAE_CACHE_DIR``).

Loading
-------
``load_mnist(split="train", data_dir=None, normalize=True, flatten=False)`` returns ``(images, labels)``:
images float32 in [0, 1] shaped ``(N, 1, 28, 28)`` (``(N, 784)`` with ``flatten=True``; uint8 in 0..255 with
``normalize=False``) and labels int64 ``(N,)``. ``load_fashion_mnist`` works the same way.
Every file is checked: magic number, dimensions, payload size, matching image and label counts.
``verify=True`` also checks the MD5 of the uncompressed content against the published one.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pathlib
import zlib

import numpy as np

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)
IMAGE_SIZE = 28
SPLITS = ("train", "test")

#: file stems (without ``.gz``) of each split: (images, labels)
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: MD5 of the uncompressed MNIST files, so any faithful copy (gzipped or not, any mirror) passes
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


class DatasetNotFoundError(FileNotFoundError):
    """The dataset files are neither on disk nor downloadable."""


# ----------------------------------------------------------------------------------------------
# IDX files
# ----------------------------------------------------------------------------------------------


def _read_bytes(path):
    """The uncompressed content of ``path`` (gunzipped when it ends in ``.gz``)."""
    path = pathlib.Path(path)
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(
            f"{path}: not a complete gzip file ({exc}); it is probably a truncated download: "
            "delete it and load again to re-download it, or check NPAE_DATA_DIR"
        ) from exc


def parse_idx(raw, expected_magic, path="<bytes>"):
    """Decode the IDX bytes ``raw`` into a uint8 array, checking the header against the payload.

    An IDX file is a big-endian header (magic number ``0x0000TTDD``: type ``TT`` = 0x08 for unsigned
    bytes, ``DD`` dimensions), then one 4-byte size per dimension, then the values in C order.
    """
    corrupt = "delete it and load again to re-download it, or check NPAE_DATA_DIR"
    if len(raw) < 4:
        raise ValueError(f"{path}: expected an IDX file, got only {len(raw)} bytes; {corrupt}")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise ValueError(f"{path}: expected IDX magic number {expected_magic}, got {magic}; {corrupt}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: IDX header truncated ({len(raw)} bytes, expected {header}); {corrupt}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    payload = len(raw) - header
    expected = int(np.prod(shape))
    if payload != expected:
        raise ValueError(
            f"{path}: the header announces shape {shape} ({expected} bytes) but the payload has {payload} bytes; "
            f"{corrupt}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path, expected_magic, md5=None):
    """Read an IDX file (gzipped or not) as a uint8 array; with ``md5``, check the uncompressed content."""
    raw = _read_bytes(path)
    if md5 is not None:
        actual = hashlib.md5(raw).hexdigest()
        if actual != md5:
            raise ValueError(
                f"{path}: MD5 of the uncompressed content is {actual}, expected {md5}; "
                "the file is corrupt: delete it and load again to re-download it"
            )
    return parse_idx(raw, expected_magic, path)


def _check_pair(images, labels, images_path, labels_path):
    """Images must be (N, 28, 28), labels (N,) in 0..9 with the same N."""
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"{images_path}: expected images of 28x28 pixels, got shape {images.shape}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels; "
            "one of them is from another split or corrupt: delete it and load again"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: expected labels in 0..9, got a maximum of {labels.max()}")


# ----------------------------------------------------------------------------------------------
# Locating the files
# ----------------------------------------------------------------------------------------------


def cache_dir():
    """The download cache: ``$NPAE_CACHE_DIR`` or ``~/.cache/npae``."""
    env = os.environ.get("NPAE_CACHE_DIR")
    return pathlib.Path(env) if env else pathlib.Path.home() / ".cache" / "npae"


def search_roots(data_dir=None):
    """The folders searched, in order: ``data_dir``, ``$NPAE_DATA_DIR``, the cache (duplicates dropped)."""
    candidates = [data_dir, os.environ.get("NPAE_DATA_DIR"), cache_dir()]
    roots = []
    for c in candidates:
        if c is None or c == "":
            continue
        root = pathlib.Path(c).expanduser()
        if root not in roots:
            roots.append(root)
    return roots


def find_file(folder, stem, data_dir=None):
    """The first existing ``<root>/<folder>/<stem>.gz`` or ``<stem>`` over ``search_roots``, else None."""
    for root in search_roots(data_dir):
        for name in (stem + ".gz", stem):
            path = root / folder / name
            if path.is_file():
                return path
    return None


# ----------------------------------------------------------------------------------------------
# Public loaders
# ----------------------------------------------------------------------------------------------


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")


def _format(images, normalize, flatten):
    """uint8 (N, 28, 28) -> float32 in [0, 1] (N, 1, 28, 28), or (N, 784) when ``flatten``."""
    shape = (len(images), IMAGE_SIZE * IMAGE_SIZE) if flatten else (len(images), 1, IMAGE_SIZE, IMAGE_SIZE)
    if normalize:
        return (images.astype(np.float32) / np.float32(255.0)).reshape(shape)
    return images.reshape(shape).copy()


def _load_idx_dataset(title, folder, checksums, split, data_dir, normalize, flatten, verify):
    _check_split(split)
    paths = []
    for stem in IDX_FILES[split]:
        path = find_file(folder, stem, data_dir)
        if path is None:
            roots = "\n".join(f"  {root / folder}" for root in search_roots(data_dir))
            raise DatasetNotFoundError(
                f"{title} {split} split: {stem}(.gz) not found in\n{roots}\n"
                f"To fix it, set NPAE_DATA_DIR (or pass data_dir=) to a folder holding {folder}/ with the four "
                "IDX files, or use npae.datasets.synthetic_digits(n) for an offline stand-in."
            )
        paths.append(path)
    images_path, labels_path = paths
    md5s = [checksums.get(stem) if verify else None for stem in IDX_FILES[split]]
    images = read_idx(images_path, IMAGES_MAGIC, md5s[0])
    labels = read_idx(labels_path, LABELS_MAGIC, md5s[1])
    _check_pair(images, labels, images_path, labels_path)
    return _format(images, normalize, flatten), labels.astype(np.int64)


def load_mnist(split="train", data_dir=None, normalize=True, flatten=False, verify=False):
    """MNIST handwritten digits: ``(images, labels)`` for ``split`` ``"train"`` (60000) or ``"test"`` (10000).

    images: float32 in [0, 1], shape (N, 1, 28, 28), or (N, 784) with ``flatten``; uint8 with
    ``normalize=False``. labels: int64 (N,) in 0..9. ``verify=True`` checks the published MD5s.
    """
    return _load_idx_dataset("MNIST", "mnist", MNIST_MD5, split, data_dir, normalize, flatten, verify)


def load_fashion_mnist(split="train", data_dir=None, normalize=True, flatten=False):
    """Fashion-MNIST (Zalando's clothing images), same format and file names as ``load_mnist``."""
    return _load_idx_dataset("Fashion-MNIST", "fashion-mnist", {}, split, data_dir, normalize, flatten, False)
