"""MNIST and Fashion-MNIST from the standard IDX files, and ``load_dataset`` with its offline fallback.

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
Every file is checked: magic number, dimensions, payload size, matching image and label counts; a damaged
file raises a ValueError naming its path. The MD5 of each MNIST file's uncompressed content is checked against
the published one once (``verify="once"``, the default): a stamp of the verified file (its size, modification
time and checksum) is remembered in the cache (``verified-files.json``), and the checksum is computed again
only when the file changes. ``verify=True`` checks it on every load, ``verify=False`` never.

Downloading
-----------
Missing files are downloaded into the cache from a list of mirrors (``download=False`` to forbid it), into
a temporary file that is verified (MNIST: the published MD5 of the uncompressed content; Fashion-MNIST:
the IDX structure) and only then renamed atomically, so an interrupted download never leaves a file that
passes for complete. With no files and no network, ``DatasetNotFoundError`` (a ``FileNotFoundError``) lists
the folders searched and how to fix it.

Offline and helpers
-------------------
``synthetic_digits(n, seed=0)`` (``synthetic.py``) renders an MNIST-like set in the same format.
``load_dataset(name, split, data_dir=None, allow_synthetic_fallback=False, n_synthetic=10000)`` returns
``(images, labels, description)`` for ``"mnist"``, ``"fashion"`` or ``"synthetic"``; with the fallback, a
dataset that cannot be found or downloaded is replaced by synthetic digits and the description says so.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import pathlib
import shutil
import sys
import urllib.request
import zlib
from typing import NamedTuple

import numpy as np

from ..core.checks import existing_folder, positive_int
from ..io import atomic_write, create_file_beside
from .synthetic import IMAGE_SIZE, synthetic_digits, to_mnist_layout

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)
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

CORRUPT_ADVICE = "delete it and load again to re-download it, or check NPAE_DATA_DIR"
STAMPS_FILE = "verified-files.json"


class DatasetNotFoundError(FileNotFoundError):
    """The dataset files are neither on disk nor downloadable; ``summary`` is a one-line reason."""

    def __init__(self, message, summary):
        super().__init__(message)
        self.summary = summary


# ----------------------------------------------------------------------------------------------
# IDX files
# ----------------------------------------------------------------------------------------------


def _read_bytes(path):
    """The uncompressed content of ``path``: gunzipped when it starts with the gzip magic bytes 1f 8b."""
    content = pathlib.Path(path).read_bytes()
    if not content.startswith(b"\x1f\x8b"):
        return content
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(
            f"{path}: not a complete gzip file ({exc}), probably a truncated download; {CORRUPT_ADVICE}"
        ) from exc


def parse_idx(raw, expected_magic, path="<bytes>", advice=CORRUPT_ADVICE):
    """Decode the IDX bytes ``raw`` into a uint8 array, checking the header against the payload.

    An IDX file is a big-endian header (magic number ``0x0000TTDD``: type ``TT`` = 0x08 for unsigned
    bytes, ``DD`` dimensions), then one 4-byte size per dimension, then the values in C order.
    """
    if len(raw) < 4:
        raise ValueError(f"{path}: expected an IDX file, got only {len(raw)} bytes; {advice}")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise ValueError(f"{path}: expected IDX magic number {expected_magic}, got {magic}; {advice}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: IDX header truncated ({len(raw)} bytes, expected {header}); {advice}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    payload = len(raw) - header
    expected = int(np.prod(shape))
    if payload != expected:
        raise ValueError(
            f"{path}: the header announces shape {shape} ({expected} bytes) but the payload has {payload} bytes; "
            f"{advice}"
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
                f"the file is corrupt: {CORRUPT_ADVICE}"
            )
    return parse_idx(raw, expected_magic, path)


def _check_pair(images, labels, images_path, labels_path):
    """Images must be (N, 28, 28), labels (N,) in 0..9 with the same N."""
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"{images_path}: expected images of 28x28 pixels, got shape {images.shape}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels; "
            f"one of them is from another split or corrupt: {CORRUPT_ADVICE}"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: expected labels in 0..9, got a maximum of {labels.max()}")


# ----------------------------------------------------------------------------------------------
# Verifying each file once
# ----------------------------------------------------------------------------------------------


def _stamps():
    """``{absolute path: stamp}`` of the files verified so far (empty when there is no readable stamp file)."""
    try:
        stamps = json.loads((cache_dir() / STAMPS_FILE).read_text())
    except (OSError, ValueError):  # none yet, or damaged: the files are simply verified again
        return {}
    return stamps if isinstance(stamps, dict) else {}


def _stamp(path, md5):
    """What identifies a verified copy: its size and modification time, and the checksum it matched."""
    status = os.stat(path)
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "md5": md5}


def is_verified(path, md5):
    """True when ``path`` matched ``md5`` before and has not changed since (same size and modification time)."""
    return _stamps().get(str(pathlib.Path(path).resolve())) == _stamp(path, md5)


def remember_verified(path, md5):
    """Record that ``path`` matched ``md5``, so that later loads skip the checksum until the file changes."""
    stamps = _stamps()
    stamps[str(pathlib.Path(path).resolve())] = _stamp(path, md5)
    try:
        atomic_write(cache_dir() / STAMPS_FILE, lambda f: f.write(json.dumps(stamps, indent=1).encode("utf-8")))
    except OSError:  # a cache that cannot be written costs a checksum at the next load, nothing else
        pass


def _read_verified(path, magic, md5, verify):
    """``read_idx(path)``, checking ``md5`` on every load (``verify=True``), never, or once per file version."""
    check = md5 is not None and (verify is True or (verify == "once" and not is_verified(path, md5)))
    array = read_idx(path, magic, md5 if check else None)
    if check:
        remember_verified(path, md5)
    return array


# ----------------------------------------------------------------------------------------------
# Locating the files
# ----------------------------------------------------------------------------------------------


def cache_dir():
    """The download cache: ``$NPAE_CACHE_DIR`` or ``~/.cache/npae``."""
    env = os.environ.get("NPAE_CACHE_DIR")
    return pathlib.Path(env) if env else pathlib.Path.home() / ".cache" / "npae"


def search_roots(data_dir=None):
    """The folders searched, in order: ``data_dir``, ``$NPAE_DATA_DIR``, the cache (duplicates dropped)."""
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir: expected a folder path (str or os.PathLike) or None, got {data_dir!r}")
    if data_dir is not None:  # a folder given by name must exist: a typo would silently read another copy
        existing_folder(data_dir, "data_dir", holding="mnist/ (or fashion_mnist/) with the IDX files")
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


class IdxDataset(NamedTuple):
    """What differs between MNIST and Fashion-MNIST: a title, a folder, checksums (by stem) and mirrors."""

    title: str
    folder: str
    checksums: dict
    mirrors: tuple


# ----------------------------------------------------------------------------------------------
# Downloading into the cache
# ----------------------------------------------------------------------------------------------

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FASHION_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
DOWNLOAD_TIMEOUT = 30  # seconds without data before a mirror is given up


def _fetch(url, dest):
    """Write the body served at ``url`` into the file ``dest``. The only function touching the network."""
    request = urllib.request.Request(url, headers={"User-Agent": "npae"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)


def _verify_download(path, md5, magic):
    """Raise a ValueError unless ``path`` is a complete IDX file, gzipped or not (with ``md5`` when given)."""
    try:
        raw = _read_bytes(path)
    except ValueError:
        raise ValueError("the download is not a complete gzip file") from None
    if md5 is not None:
        actual = hashlib.md5(raw).hexdigest()
        if actual != md5:
            raise ValueError(f"checksum mismatch: MD5 of the uncompressed content is {actual}, expected {md5}")
    parse_idx(raw, magic, "the download", advice="the mirror serves a different file")


def _download_once(url, dest, md5, magic):
    """Fetch ``url`` into a temporary file beside ``dest``, verify it, then rename it to ``dest`` atomically.

    The temporary file is removed whatever happens, so an interrupted or corrupt download never leaves a
    file that a later run would take for a complete one.
    """
    fd, tmp = create_file_beside(dest, prefix=dest.name + ".", suffix=".part")
    os.close(fd)
    tmp = pathlib.Path(tmp)
    try:
        _fetch(url, tmp)
        _verify_download(tmp, md5, magic)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download_file(folder, stem, mirrors, md5=None, magic=IMAGES_MAGIC):
    """Download ``<stem>.gz`` into ``<cache>/<folder>/`` from the first mirror serving a verified copy.

    Returns the path; raises a ``RuntimeError`` listing each mirror's failure when none succeeded.
    """
    dest = cache_dir() / folder / (stem + ".gz")
    failures = []
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeError(f"cannot create the cache folder {dest.parent}: {exc}") from exc
    for mirror in mirrors:
        url = mirror + stem + ".gz"
        print(f"npae: downloading {url} to {dest}", file=sys.stderr, flush=True)
        try:
            _download_once(url, dest, md5, magic)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            print(f"npae:   failed: {exc}", file=sys.stderr, flush=True)
            failures.append(f"  {url}: {exc}")
            continue
        if md5 is not None:
            remember_verified(dest, md5)
        checked = "MD5 verified" if md5 is not None else "IDX structure checked"
        print(f"npae:   done: {dest.stat().st_size / 1e6:.1f} MB, {checked}", file=sys.stderr, flush=True)
        return dest
    raise RuntimeError("no mirror served a verified copy:\n" + "\n".join(failures))


# ----------------------------------------------------------------------------------------------
# Public loaders
# ----------------------------------------------------------------------------------------------


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")


def _locate_or_download(dataset, split, stem, magic, data_dir, download_missing):
    """The path of one IDX file: found under ``search_roots``, else downloaded into the cache."""
    title, folder, checksums, mirrors = dataset
    path = find_file(folder, stem, data_dir)
    if path is not None:
        return path
    searched = [str(root / folder) for root in search_roots(data_dir)]
    reason = "download disabled (download=False)"
    if download_missing:
        try:
            return download_file(folder, stem, mirrors, checksums.get(stem), magic)
        except RuntimeError as exc:
            reason = str(exc)
    raise DatasetNotFoundError(
        f"{title} {split} split: {stem}(.gz) not found in\n"
        + "\n".join(f"  {s}" for s in searched)
        + f"\nand {reason}\n"
        f"To fix it, set NPAE_DATA_DIR (or pass data_dir=, or --data-dir to the npae command and the "
        f"walkthroughs) to a folder holding {folder}/ with the four IDX files, check the network, or use "
        "npae.datasets.synthetic_digits(n) for an offline stand-in.",
        summary=f"{stem} not in {', '.join(searched)}; " + reason.splitlines()[0].rstrip(":"),
    )


def _load_idx_dataset(dataset, split, data_dir, normalize, flatten, verify, download_missing):
    """``(images, labels, images_path)`` of one split of an IDX dataset."""
    _check_split(split)
    if verify is not True and verify is not False and verify != "once":
        raise ValueError(f"verify: expected True, False or 'once', got {verify!r}")
    checksums = dataset.checksums
    images_stem, labels_stem = IDX_FILES[split]
    images_path = _locate_or_download(dataset, split, images_stem, IMAGES_MAGIC, data_dir, download_missing)
    labels_path = _locate_or_download(dataset, split, labels_stem, LABELS_MAGIC, data_dir, download_missing)
    images = _read_verified(images_path, IMAGES_MAGIC, checksums.get(images_stem), verify)
    labels = _read_verified(labels_path, LABELS_MAGIC, checksums.get(labels_stem), verify)
    _check_pair(images, labels, images_path, labels_path)
    return to_mnist_layout(images, normalize, flatten), labels.astype(np.int64), images_path


MNIST = IdxDataset("MNIST", "mnist", MNIST_MD5, MNIST_MIRRORS)
FASHION_MNIST = IdxDataset("Fashion-MNIST", "fashion-mnist", {}, FASHION_MIRRORS)


def load_mnist(split="train", data_dir=None, normalize=True, flatten=False, verify="once", download=True):
    """MNIST handwritten digits: ``(images, labels)`` for ``split`` ``"train"`` (60000) or ``"test"`` (10000).

    images: float32 in [0, 1], shape (N, 1, 28, 28), or (N, 784) with ``flatten``; uint8 with
    ``normalize=False``. labels: int64 (N,) in 0..9. Missing files are downloaded into the cache (and
    checked against the published MD5s) unless ``download=False``. Local files are checked against them once
    per file version (``verify="once"``; ``True``: at every load; ``False``: never).
    """
    images, labels, _ = _load_idx_dataset(MNIST, split, data_dir, normalize, flatten, verify, download)
    return images, labels


def load_fashion_mnist(split="train", data_dir=None, normalize=True, flatten=False, download=True):
    """Fashion-MNIST (Zalando's clothing images, folder ``fashion-mnist/``), same format as ``load_mnist``.

    There is no fixed checksum: downloads and local files are checked for their IDX structure only.
    """
    images, labels, _ = _load_idx_dataset(FASHION_MNIST, split, data_dir, normalize, flatten, False, download)
    return images, labels


# ----------------------------------------------------------------------------------------------
# One entry point for the CLI and walkthroughs
# ----------------------------------------------------------------------------------------------

DATASETS = {"mnist": MNIST, "fashion": FASHION_MNIST}

#: title -> why, for the datasets this process could neither find nor download: ``load_dataset``'s fallback
#: then tries the network once per process, not once per split and file, and says so once
_UNREACHABLE = {}


def _synthetic_split(split, n, seed, flatten):
    """Synthetic digits for ``split``; train and test come from different streams of the same ``seed``."""
    return synthetic_digits(n, seed=np.random.default_rng([seed, SPLITS.index(split)]), flatten=flatten)


def load_dataset(name="mnist", split="train", data_dir=None, allow_synthetic_fallback=False, n_synthetic=10000,
                 flatten=False, seed=0):
    """``(images, labels, description)`` for ``name`` in ``"mnist"``, ``"fashion"``, ``"synthetic"``.

    ``description`` says where the data came from, for logs and figure captions. With
    ``allow_synthetic_fallback``, a dataset that can be neither found nor downloaded is replaced by
    ``n_synthetic`` synthetic digits, and the description says so. The first fallback of a process prints
    why (the folders searched, each mirror's failure) and the fix, once; later calls do not retry the network.
    """
    _check_split(split)
    n_synthetic = positive_int(n_synthetic, "n_synthetic")
    if name == "synthetic":
        images, labels = _synthetic_split(split, n_synthetic, seed, flatten)
        return images, labels, f"synthetic digits ({split}, {len(images)} images, seed {seed})"
    if name not in DATASETS:
        raise ValueError(f"name: expected one of 'mnist', 'fashion', 'synthetic', got {name!r}")
    dataset = DATASETS[name]
    known_unreachable = allow_synthetic_fallback and dataset.title in _UNREACHABLE
    try:
        images, labels, path = _load_idx_dataset(dataset, split, data_dir, True, flatten, "once", not known_unreachable)
    except DatasetNotFoundError as exc:
        if not allow_synthetic_fallback:
            raise
        if not known_unreachable:
            _UNREACHABLE[dataset.title] = exc.summary
            print(f"npae: {exc}\nnpae: synthetic digits stand in for {dataset.title}; every description, figure and "
                  "report of this run says so", file=sys.stderr, flush=True)
        images, labels = _synthetic_split(split, n_synthetic, seed, flatten)
        why = _UNREACHABLE[dataset.title]
        description = f"synthetic digits ({split}, {len(images)} images; {dataset.title} not found: {why})"
        return images, labels, description
    return images, labels, f"{dataset.title} {split} ({len(images)} images from {path.parent})"
