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
Every file is checked: magic number, dimensions, payload size, matching image and label counts; a damaged
file raises a ValueError naming its path. ``verify=True`` also checks the MD5 of the uncompressed content
against the published one (slow-ish, so only when asked).

Downloading
-----------
Missing files are downloaded into the cache from a list of mirrors (``download=False`` to forbid it), into
a temporary file that is verified (MNIST: the published MD5 of the uncompressed content; Fashion-MNIST:
the IDX structure) and only then renamed atomically, so an interrupted download never leaves a file that
passes for complete. With no files and no network, ``DatasetNotFoundError`` (a ``FileNotFoundError``) lists
the folders searched and how to fix it.

Offline and helpers
-------------------
``synthetic_digits(n, seed=0)`` renders an MNIST-like set from matplotlib's bundled font, in the same format.
``load_dataset(name, split, data_dir=None, allow_synthetic_fallback=False, n_synthetic=10000)`` returns
``(images, labels, description)`` for ``"mnist"``, ``"fashion"`` or ``"synthetic"``; with the fallback, a
dataset that cannot be found or downloaded is replaced by synthetic digits and the description says so.
``binarize(images, rng)`` draws binary pixels with p = pixel value (dynamic binarization, for Bernoulli VAEs).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import os
import pathlib
import shutil
import sys
import tempfile
import urllib.request
import zlib
from typing import NamedTuple

import numpy as np

from .layers.base import as_generator, check_float_dtype, positive_int

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

CORRUPT_ADVICE = "delete it and load again to re-download it, or check NPAE_DATA_DIR"


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
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
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
        print(f"npae: downloading {url} to {dest}", file=sys.stderr)
        try:
            _download_once(url, dest, md5, magic)
            return dest
        except (OSError, http.client.HTTPException, ValueError) as exc:
            failures.append(f"  {url}: {exc}")
    raise RuntimeError("no mirror served a verified copy:\n" + "\n".join(failures))


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
        f"To fix it, set NPAE_DATA_DIR (or pass data_dir=) to a folder holding {folder}/ with the four IDX "
        "files, check the network, or use npae.datasets.synthetic_digits(n) for an offline stand-in.",
        summary=f"{stem} not in {', '.join(searched)}; " + reason.splitlines()[0].rstrip(":"),
    )


def _load_idx_dataset(dataset, split, data_dir, normalize, flatten, verify, download_missing):
    """``(images, labels, images_path)`` of one split of an IDX dataset."""
    _check_split(split)
    checksums = dataset.checksums
    images_stem, labels_stem = IDX_FILES[split]
    images_path = _locate_or_download(dataset, split, images_stem, IMAGES_MAGIC, data_dir, download_missing)
    labels_path = _locate_or_download(dataset, split, labels_stem, LABELS_MAGIC, data_dir, download_missing)
    images = read_idx(images_path, IMAGES_MAGIC, checksums.get(images_stem) if verify else None)
    labels = read_idx(labels_path, LABELS_MAGIC, checksums.get(labels_stem) if verify else None)
    _check_pair(images, labels, images_path, labels_path)
    return _format(images, normalize, flatten), labels.astype(np.int64), images_path


MNIST = IdxDataset("MNIST", "mnist", MNIST_MD5, MNIST_MIRRORS)
FASHION_MNIST = IdxDataset("Fashion-MNIST", "fashion-mnist", {}, FASHION_MIRRORS)


def load_mnist(split="train", data_dir=None, normalize=True, flatten=False, verify=False, download=True):
    """MNIST handwritten digits: ``(images, labels)`` for ``split`` ``"train"`` (60000) or ``"test"`` (10000).

    images: float32 in [0, 1], shape (N, 1, 28, 28), or (N, 784) with ``flatten``; uint8 with
    ``normalize=False``. labels: int64 (N,) in 0..9. Missing files are downloaded into the cache (and
    checked against the published MD5s) unless ``download=False``; ``verify=True`` checks local files too.
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
# Synthetic digits: an offline MNIST stand-in
# ----------------------------------------------------------------------------------------------

GLYPH_SIZE = 100.0  # glyph coordinates (u right, v up) are in hundredths of an em
FIELD_MARGIN = 20.0  # empty border, in glyph units, around the digits in their distance fields
BOX = 20.0  # as in MNIST, the digit's longest side fits a 20-pixel box ...
CENTER = IMAGE_SIZE / 2  # ... and its centre of mass sits at pixel (14, 14), as measured on MNIST
EDGE_WIDTH = 1.5  # pixels over which the ink fades from 1 to 0 (soft, anti-aliased edges like MNIST)

# the random jitter at jitter=1: each is drawn uniformly in [-value, value]
MAX_ROTATION = np.deg2rad(12.0)
MAX_SLANT = 0.3  # horizontal shear per unit of height (a slanted hand)
MAX_LOG_ASPECT = 0.15  # the width is stretched by exp(+-0.15)
MAX_SHRINK = 0.15  # the longest side is 20 * (1 - U(0, 0.15)) pixels
MAX_SHIFT = 1.0  # pixels, after centring by centre of mass
STROKE_MEAN, STROKE_SPREAD = 0.3, 0.5  # pen dilation in pixels: thicker (> 0) or thinner (< 0) strokes


def _inside(polygons, points):
    """Even-odd rule: a point is ink when it lies inside an odd number of the glyph's contours."""
    from matplotlib.path import Path

    inside = np.zeros(len(points), dtype=bool)
    for polygon in polygons:
        inside ^= Path(polygon).contains_points(points)
    return inside


def _distance_to_outline(polygons, points):
    """Distance from each point ``p`` to the nearest edge ``a + s e`` (``e = b - a``, ``s`` in [0, 1]).

    The closest point of an edge has ``s = clip((p - a).e / |e|^2, 0, 1)``; x and y are kept apart so the
    (points, edges) temporaries stay two-dimensional.
    """
    a = np.concatenate(polygons)
    e = np.concatenate([np.roll(polygon, -1, axis=0) for polygon in polygons]) - a
    length2 = np.maximum(e[:, 0] ** 2 + e[:, 1] ** 2, 1e-12)
    dx = points[:, 0:1] - a[:, 0]
    dy = points[:, 1:2] - a[:, 1]
    s = np.clip((dx * e[:, 0] + dy * e[:, 1]) / length2, 0.0, 1.0)
    dx -= s * e[:, 0]
    dy -= s * e[:, 1]
    return np.sqrt(np.min(dx * dx + dy * dy, axis=1))


@functools.lru_cache(maxsize=1)
def _digit_glyphs():
    """The digits 0-9 of matplotlib's bundled DejaVu Sans, computed once.

    Returns ``(fields, origin, centroids, outlines)``: ``fields[d]`` is the signed distance to the outline
    of digit ``d`` (negative inside) on a grid of one glyph unit whose cell ``[i, j]`` sits at
    ``origin + (j, i)``; ``centroids[d]`` is the centre of its ink; ``outlines[d]`` its contour vertices.
    """
    import matplotlib  # imported here: reading MNIST does not need it
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    font_file = pathlib.Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    font = FontProperties(fname=font_file)
    polygons = [TextPath((0, 0), str(d), size=GLYPH_SIZE, prop=font).to_polygons() for d in range(10)]
    outlines = [np.concatenate(p) for p in polygons]
    everything = np.concatenate(outlines)
    origin = np.floor(everything.min(axis=0) - FIELD_MARGIN)
    top = np.ceil(everything.max(axis=0) + FIELD_MARGIN)
    us, vs = np.arange(origin[0], top[0] + 1), np.arange(origin[1], top[1] + 1)
    grid = np.stack(np.meshgrid(us, vs), axis=-1).reshape(-1, 2)
    fields, centroids = [], []
    for polys in polygons:
        inside = _inside(polys, grid)
        distance = _distance_to_outline(polys, grid)
        fields.append(np.where(inside, -distance, distance).reshape(len(vs), len(us)))
        centroids.append(grid[inside].mean(axis=0))
    fields = np.stack(fields)
    fields.flags.writeable = False
    return fields, origin, np.array(centroids), outlines


def _matrices(a, b, c, d):
    """A stack of 2x2 matrices ``[[a, b], [c, d]]`` from arrays of shape (n,)."""
    return np.moveaxis(np.array([[a, b], [c, d]]), -1, 0)


def _random_pens(rng, labels, jitter):
    """Per image: the affine map ``pixel = L glyph + t``, pixels per glyph unit, and the stroke dilation."""
    n = len(labels)
    angle = rng.uniform(-1, 1, n) * MAX_ROTATION * jitter
    slant = rng.uniform(-1, 1, n) * MAX_SLANT * jitter
    aspect = np.exp(rng.uniform(-1, 1, n) * MAX_LOG_ASPECT * jitter)
    size = BOX * (1.0 - rng.uniform(0, 1, n) * MAX_SHRINK * jitter)
    shift = rng.uniform(-1, 1, (n, 2)) * MAX_SHIFT * jitter
    stroke = STROKE_MEAN + rng.uniform(-1, 1, n) * STROKE_SPREAD * jitter
    zero, one = np.zeros(n), np.ones(n)
    slant_map = _matrices(one, slant, zero, one)
    stretch = _matrices(aspect, zero, zero, one)
    flip = _matrices(one, zero, zero, -one)  # glyph v points up, image rows point down
    rotation = _matrices(np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle))
    shape_map = rotation @ flip @ stretch @ slant_map
    fields, _, centroids, outlines = _digit_glyphs()
    scale = np.empty(n)
    for digit in range(10):
        mine = labels == digit
        projected = outlines[digit] @ np.swapaxes(shape_map[mine], 1, 2)  # (m, K, 2)
        extent = np.max(projected.max(axis=1) - projected.min(axis=1), axis=1)
        scale[mine] = (size[mine] - 2 * stroke[mine]) / extent  # the dilated digit fits its box
    linear = scale[:, None, None] * shape_map
    offset = CENTER + shift - np.einsum("nij,nj->ni", linear, centroids[labels])
    return linear, offset, scale * np.sqrt(aspect), stroke


def _bilinear(fields, labels, u, v):
    """Sample ``fields[labels]`` at fractional grid positions ``(u, v)``, clamped to the grid."""
    height, width = fields.shape[1:]
    u = np.clip(u, 0, width - 1.000001)
    v = np.clip(v, 0, height - 1.000001)
    j, i = u.astype(np.intp), v.astype(np.intp)
    fu, fv = u - j, v - i
    corner = (labels[:, None] * height + i) * width + j  # flat index of the cell's lower-left corner
    flat = fields.ravel()
    below = flat[corner] * (1 - fu) + flat[corner + 1] * fu
    above = flat[corner + width] * (1 - fu) + flat[corner + width + 1] * fu
    return below * (1 - fv) + above * fv


def _render(labels, linear, offset, pixels_per_unit, stroke):
    """Ink in [0, 1], shape (n, 28, 28): each pixel centre is mapped back into its digit's distance field."""
    fields, origin, _, _ = _digit_glyphs()
    rows, cols = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    x = cols.ravel() - offset[:, 0:1]  # (n, 784): pixel centres relative to the translation
    y = rows.ravel() - offset[:, 1:2]
    inverse = np.linalg.inv(linear)
    u = inverse[:, 0, 0:1] * x + inverse[:, 0, 1:2] * y
    v = inverse[:, 1, 0:1] * x + inverse[:, 1, 1:2] * y
    distance = _bilinear(fields, labels, u - origin[0], v - origin[1])
    ink = np.clip((stroke[:, None] - distance * pixels_per_unit[:, None]) / EDGE_WIDTH + 0.5, 0.0, 1.0)
    return ink.reshape(len(labels), IMAGE_SIZE, IMAGE_SIZE)


def synthetic_digits(n, seed=0, normalize=True, flatten=False, jitter=1.0, chunk=2048):
    """``n`` MNIST-like digit images, drawn offline: ``(images, labels)`` in the format of ``load_mnist``.

    Each digit 0-9 of the DejaVu Sans font is turned once into a signed distance field; every image then
    warps it by a random affine map (rotation, slant, width stretch, size, shift; ``jitter`` scales them,
    0 gives clean upright glyphs), varies the stroke width by offsetting the distance, fits the digit in a
    20x20 box centred by centre of mass in the 28x28 field, as MNIST does, and quantises to 8 bits.
    Labels are balanced (counts differ by at most one). ``seed``: int or ``numpy.random.Generator``.
    """
    n = positive_int(n, "n")
    if not isinstance(jitter, (int, float, np.floating)) or isinstance(jitter, bool) or not 0 <= jitter <= 2:
        raise ValueError(f"jitter: expected a number in [0, 2], got {jitter!r}")
    rng = as_generator(seed)
    labels = rng.permutation(np.arange(n) % 10)
    linear, offset, pixels_per_unit, stroke = _random_pens(rng, labels, float(jitter))
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        ink = _render(labels[part], linear[part], offset[part], pixels_per_unit[part], stroke[part])
        images[part] = np.rint(ink * 255.0)
    return _format(images, normalize, flatten), labels.astype(np.int64)


# ----------------------------------------------------------------------------------------------
# One entry point for the CLI and walkthroughs, and dynamic binarization
# ----------------------------------------------------------------------------------------------

DATASETS = {"mnist": MNIST, "fashion": FASHION_MNIST}


def _synthetic_split(split, n, seed, flatten):
    """Synthetic digits for ``split``; train and test come from different streams of the same ``seed``."""
    return synthetic_digits(n, seed=np.random.default_rng([seed, SPLITS.index(split)]), flatten=flatten)


def load_dataset(name="mnist", split="train", data_dir=None, allow_synthetic_fallback=False, n_synthetic=10000,
                 flatten=False, seed=0):
    """``(images, labels, description)`` for ``name`` in ``"mnist"``, ``"fashion"``, ``"synthetic"``.

    ``description`` says where the data came from, for logs and figure captions. With
    ``allow_synthetic_fallback``, a dataset that can be neither found nor downloaded is replaced by
    ``n_synthetic`` synthetic digits, and the description says so.
    """
    _check_split(split)
    n_synthetic = positive_int(n_synthetic, "n_synthetic")
    if name == "synthetic":
        images, labels = _synthetic_split(split, n_synthetic, seed, flatten)
        return images, labels, f"synthetic digits ({split}, {len(images)} images, seed {seed})"
    if name not in DATASETS:
        raise ValueError(f"name: expected one of 'mnist', 'fashion', 'synthetic', got {name!r}")
    dataset = DATASETS[name]
    try:
        images, labels, path = _load_idx_dataset(dataset, split, data_dir, True, flatten, False, True)
    except DatasetNotFoundError as exc:
        if not allow_synthetic_fallback:
            raise
        images, labels = _synthetic_split(split, n_synthetic, seed, flatten)
        description = f"synthetic digits ({split}, {len(images)} images; {dataset.title} not found: {exc.summary})"
        return images, labels, description
    return images, labels, f"{dataset.title} {split} ({len(images)} images from {path.parent})"


def binarize(images, rng):
    """Dynamic binarization: each pixel becomes 1 with probability equal to its value, else 0.

    Drawing a fresh binary image at every pass (rather than thresholding once) is the standard way to train a
    Bernoulli VAE on MNIST without overfitting the grey levels. Keeps the dtype and shape of ``images``.
    """
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images: expected a numpy array, got {type(images).__name__}")
    dtype = check_float_dtype(images.dtype, "images")
    if images.size and not (images.min() >= 0.0 and images.max() <= 1.0):
        raise ValueError(f"images: expected values in [0, 1], got range [{images.min()}, {images.max()}]")
    uniform = as_generator(rng).random(images.shape, dtype=dtype)
    return (uniform < images).astype(dtype)
