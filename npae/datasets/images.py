"""Your own pictures: ``load_images`` reads every image under a folder into one float array.

``load_images(path, size=(32, 32), mode="RGB")`` returns a ``LoadedImages`` tuple:

- ``images``: float32 ``(N, C, H, W)`` in [0, 1] (C = 1 for ``mode="L"``, 3 for ``"RGB"``);
- ``paths``: the file of each row (``pathlib.Path``), in sorted order, so that the order is reproducible;
- ``labels``, ``class_names``: with ``labels="folders"``, an int64 label per row from the first sub-folder
  under ``path`` (``cats/a.png`` -> class ``"cats"``) and the sorted names of the sub-folders holding image
  files (a class keeps its number even if all its files fail to decode); otherwise None;
- ``regions``: int64 ``(N, 4)``, the ``(top, left, height, width)`` of the part of the source image each row
  shows (the whole image, its centred crop, or a tile), in the image's pixels after its EXIF orientation.

What happens to each file
-------------------------
Files are found recursively and sorted by their path relative to ``path``; only the suffixes in
``IMAGE_SUFFIXES`` are read (any case), and names starting with a dot (``.DS_Store``, ``._photo.jpg``,
``.git/``) are ignored. Each image is

1. decoded by Pillow (PNG, JPEG, BMP, GIF, TIFF, WebP; the first frame of an animation or a multi-page file)
   and turned upright by its EXIF orientation tag, as a photo viewer shows it;
2. converted: palette and bilevel images are expanded; transparency (RGBA, grey + alpha, a palette's
   transparent colour) is composited on ``background`` (default white, 1.0, as a browser shows a PNG);
   colour becomes grey by ITU-R 601 luma ``L = 0.299 R + 0.587 G + 0.114 B`` (Pillow's ``convert("L")``),
   grey becomes colour by copying it into the three channels; 16-bit grey images keep their 16 bits
   (scaled by 1/65535);
3. with ``tile=(th, tw)``, cut into non-overlapping tiles from the top-left corner (the strips left over at
   the right and bottom edges are dropped), each tile becoming one row;
4. with ``crop=True`` (the default), cropped to the centred largest part with the aspect ratio of ``size``,
   so that nothing is stretched (``crop=False`` stretches the whole image instead); then resized to ``size``.

The resize filter is Lanczos (``Image.Resampling.LANCZOS``, a windowed sinc three lobes wide). When Pillow
shrinks an image it widens the filter by the reduction factor, so every output pixel averages all the input
pixels it covers: a 1000-pixel photo reduced to 32 pixels does not alias (no moire on fine textures), and of
Pillow's filters Lanczos keeps edges the sharpest. Its small overshoot at hard edges is clipped to the 8-bit
range, so values stay in [0, 1].

A file that cannot be decoded (truncated, corrupt, not really an image, 32-bit float pixels) is skipped, and
one warning counts the skipped files and names the first few; ``strict=True`` raises instead, naming the
file. A folder without any image file, or whose image files all fail, raises a ``ValueError``.

Cache
-----
``cache=True`` stores the result under ``<cache dir>/images/`` (``$NPAE_CACHE_DIR``, else ``~/.cache/npae``),
keyed by the folder, its image files' names, sizes and modification times, the options, and the Pillow
version: any change reloads the folder, and the second load of an unchanged one only reads one ``.npy`` file.
Nothing is pickled (``.npy`` files and JSON, read with ``allow_pickle=False``). With ``mmap=True`` (needs
``cache=True``) the images are returned as a read-only memory map of the cached file, so a folder larger than
memory can be loaded and trained on (``fit``, ``encode``, ``reconstruct`` and ``evaluate`` read it batch by
batch); the first load writes the rows to disk one by one and never holds them all in memory either.

``size=None`` keeps every image's own size: ``images`` is then a list of ``(C, H_i, W_i)`` arrays (one
array when ``tile`` makes them all the same size); this is how ``extract_patches`` gets photographs at
their native resolution.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import pathlib
import shutil
import tempfile
import warnings
from typing import NamedTuple

import numpy as np

from ..core.checks import existing_folder, int_pair, real_number
from .mnist import cache_dir

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpe", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
CHANNELS = {"L": 1, "RGB": 3}
#: files named in the warning about skipped files (the rest are counted)
NAMED_SKIPS = 5
#: bump when the cached content changes meaning, so that old cache entries are not reused
CACHE_FORMAT = 1
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
WITH_TRANSPARENCY = ("RGBA", "RGBa", "LA", "La", "PA")


class LoadedImages(NamedTuple):
    """What ``load_images`` returns (see the module docstring); unpack it or use the names."""

    images: np.ndarray
    paths: list
    labels: np.ndarray | None
    class_names: list | None
    regions: np.ndarray


class UnreadableImage(ValueError):
    """One image file that could not be decoded; ``path`` and ``reason`` say which and why."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: cannot read this image ({reason}); fix or remove the file, or pass "
                         "strict=False to skip unreadable files with a warning")
        self.path, self.reason = path, reason


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------


def _check_background(background):
    """``background`` as an (r, g, b) tuple of 8-bit ints, from a grey level or a triple in [0, 1]."""
    values = (background,) * 3 if isinstance(background, numbers.Real) else background
    if not isinstance(values, (tuple, list)) or len(values) != 3:
        raise TypeError(
            f"background: expected a grey level in [0, 1] or an (r, g, b) triple in [0, 1], got {background!r}"
        )
    return tuple(round(255 * real_number(v, "background", low=0.0, high=1.0)) for v in values)


def _check_options(size, mode, labels, tile, mmap, cache):
    size = None if size is None else int_pair(size, "size", minimum=1)
    if mode not in CHANNELS:
        raise ValueError(f"mode: expected 'L' (grey) or 'RGB' (colour), got {mode!r}")
    if labels not in (None, "folders"):
        raise ValueError(f"labels: expected None or 'folders' (one class per sub-folder), got {labels!r}")
    tile = None if tile is None else int_pair(tile, "tile", minimum=1)
    if mmap and not cache:
        raise ValueError("mmap: a memory map reads the cached file, so mmap=True needs cache=True")
    if mmap and size is None and tile is None:
        raise ValueError("mmap: images of different sizes cannot share one array; give size=(H, W) or tile=...")
    return size, tile


# ----------------------------------------------------------------------------------------------
# Finding the files
# ----------------------------------------------------------------------------------------------


def image_files(root):
    """The image files under ``root``, recursively, sorted by relative path; hidden names are skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                found.append(pathlib.Path(dirpath, name).relative_to(root))
    return sorted(found, key=lambda rel: rel.parts)


def _no_images_error(root):
    others = sum(len(files) for _, _, files in os.walk(root))
    what = f"it holds {others} other files" if others else "it is empty"
    return ValueError(
        f"path: no image files ({', '.join(IMAGE_SUFFIXES)}) under {root}: {what}; point it at a folder of "
        "pictures (sub-folders are searched too)"
    )


def _folder_classes(files, root):
    """``(class index per file, class names)`` from each file's first sub-folder under ``root``."""
    loose = [rel for rel in files if len(rel.parts) < 2]
    if loose:
        raise ValueError(
            f"labels: with labels='folders' every image must sit in a class sub-folder of {root}, but "
            f"{len(loose)} are directly in it (first: {loose[0]}); move them into a sub-folder or pass labels=None"
        )
    class_names = sorted({rel.parts[0] for rel in files})
    index = {name: k for k, name in enumerate(class_names)}
    return [index[rel.parts[0]] for rel in files], class_names


# ----------------------------------------------------------------------------------------------
# Decoding one file
# ----------------------------------------------------------------------------------------------


def _open_upright(path):
    """The first frame of ``path``, decoded and turned by its EXIF orientation; raises on any decoding failure."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.load()  # decode now: a truncated file fails here, not later
        return ImageOps.exif_transpose(image)


def _as_grey_or_rgb(image, background):
    """A Pillow image in mode "L", "RGB" or (16-bit grey, scaled to [0, 1]) "F", transparency composited."""
    from PIL import Image

    if image.mode == "F":
        raise ValueError("32-bit float pixels have no fixed range; save the image with 8 or 16 bits")
    if image.mode in SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float32) / np.float32(65535)
        return Image.fromarray(np.clip(grey, 0, 1), mode="F")
    if image.mode == "P" or image.mode in WITH_TRANSPARENCY:
        image = image.convert("RGBA")  # a palette's transparent colour becomes alpha 0
        backdrop = Image.new("RGBA", image.size, background + (255,))
        return Image.alpha_composite(backdrop, image).convert("RGB")
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("L" if image.mode == "1" else "RGB")  # bilevel; CMYK, YCbCr, LAB, HSV


def _tiles(height, width, tile):
    """``(top, left, height, width)`` of the whole tiles of ``tile`` pixels, row by row, from the top-left."""
    th, tw = tile
    return [(top, left, th, tw) for top in range(0, height - th + 1, th) for left in range(0, width - tw + 1, tw)]


def centre_crop(region, size):
    """The centred largest part of ``region`` (top, left, height, width) with the aspect ratio of ``size``."""
    top, left, height, width = region
    aspect = size[1] / size[0]
    if width > height * aspect:
        crop = max(1, round(height * aspect))
        return (top, left + (width - crop) // 2, height, crop)
    crop = max(1, round(width / aspect))
    return (top + (height - crop) // 2, left, crop, width)


def _pixels(image, region, size, channels):
    """The ``region`` of ``image`` resized to ``size`` (None: as it is), as float32 (C, H, W) in [0, 1]."""
    from PIL import Image

    top, left, height, width = region
    part = image.crop((left, top, left + width, top + height))  # cropped first: no pixel from outside leaks in
    if size is not None:
        part = part.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    values = np.asarray(part, dtype=np.float32)
    if part.mode == "F":
        values = np.clip(values, 0, 1)  # Lanczos overshoots a little at hard edges (8-bit modes clip it)
    else:
        values = values / np.float32(255)
    values = values[None] if values.ndim == 2 else np.moveaxis(values, -1, 0)
    return np.repeat(values, channels, axis=0) if values.shape[0] != channels else values


def read_image(path, size, mode, crop=True, background=(255, 255, 255), tile=None):
    """``(rows, regions)`` from one file: float32 ``(C, H, W)`` arrays in [0, 1] and their source regions.

    Raises ``UnreadableImage`` when the file cannot be decoded (or is smaller than one ``tile``).
    """
    try:
        image = _open_upright(path)
        image = _as_grey_or_rgb(image, background)
        if mode == "L" and image.mode == "RGB":
            image = image.convert("L")
    except Exception as exc:  # Pillow's decoders raise many types (OSError, SyntaxError, struct.error, ...)
        raise UnreadableImage(path, f"{type(exc).__name__}: {exc}") from exc
    whole = (0, 0, image.height, image.width)
    regions = [whole] if tile is None else _tiles(image.height, image.width, tile)
    if not regions:
        raise UnreadableImage(path, f"{image.width}x{image.height} pixels, smaller than one {tile[1]}x{tile[0]} tile")
    if crop and size is not None:
        regions = [centre_crop(r, size) for r in regions]
    return [_pixels(image, r, size, CHANNELS[mode]) for r in regions], regions


# ----------------------------------------------------------------------------------------------
# The folder
# ----------------------------------------------------------------------------------------------


def _warn_skipped(skipped, total):
    """One warning for all unreadable files: how many, and the first ``NAMED_SKIPS`` with their reasons."""
    named = "; ".join(f"{path} ({reason})" for path, reason in skipped[:NAMED_SKIPS])
    more = f"; and {len(skipped) - NAMED_SKIPS} more" if len(skipped) > NAMED_SKIPS else ""
    warnings.warn(
        f"load_images: skipped {len(skipped)} of {total} image files that could not be read: {named}{more} "
        "(strict=True raises instead)",
        stacklevel=3,
    )


class _Rows:
    """Collects the rows of ``load_images``: in memory, or appended to a raw file (for the cache)."""

    def __init__(self, raw_path=None):
        self.arrays, self.raw, self.count = [], None, 0
        if raw_path is not None:
            self.raw = open(raw_path, "wb")

    def add(self, row):
        if self.raw is None:
            self.arrays.append(row)
        else:
            self.raw.write(np.ascontiguousarray(row, dtype=np.float32).tobytes())
            self.shape = row.shape
        self.count += 1


def _decode_folder(root, files, size, mode, crop, background, tile, strict, rows):
    """Decode every file into ``rows``; returns ``(file index per row, regions, skipped [(rel, reason)])``."""
    owners, regions, skipped = [], [], []
    for k, rel in enumerate(files):
        try:
            arrays, parts = read_image(root / rel, size, mode, crop, background, tile)
        except UnreadableImage as exc:
            if strict:
                raise
            skipped.append((rel.as_posix(), exc.reason))
            continue
        for array in arrays:
            rows.add(array)
        owners += [k] * len(arrays)
        regions += parts
    if not owners:
        reasons = "; ".join(f"{p} ({r})" for p, r in skipped[:NAMED_SKIPS])
        raise ValueError(f"path: none of the {len(files)} image files under {root} could be read: {reasons}")
    return owners, regions, skipped


def _result(root, files, owners, images, regions, classes, class_names):
    labels = None if classes is None else np.array([classes[k] for k in owners], dtype=np.int64)
    return LoadedImages(
        images, [root / files[k] for k in owners], labels, class_names, np.array(regions, dtype=np.int64).reshape(-1, 4)
    )


def _stack(arrays, size, tile):
    """One (N, C, H, W) array when the rows share a size, else the list (``size=None`` without ``tile``)."""
    return np.stack(arrays) if size is not None or tile is not None else arrays


def load_images(path, size=(32, 32), mode="RGB", *, crop=True, background=1.0, labels=None, tile=None,
                strict=False, cache=False, mmap=False):
    """Every image under the folder ``path`` as float32 ``(N, C, H, W)`` in [0, 1]; see the module docstring.

    - ``size``: ``(H, W)`` (or one int for a square) every image is resized to; None keeps each image's size;
    - ``mode``: ``"RGB"`` (3 channels) or ``"L"`` (grey, 1 channel), whatever the files hold;
    - ``crop``: centre-crop to the aspect ratio of ``size`` before resizing (False: stretch);
    - ``background``: the colour transparent pixels are composited on, a grey level or ``(r, g, b)`` in [0, 1];
    - ``labels="folders"``: an integer label per image from its class sub-folder;
    - ``tile``: cut each image into tiles of ``(th, tw)`` pixels (or one int), one row per tile;
    - ``strict``: raise on the first unreadable file instead of skipping it with a warning;
    - ``cache``: keep the result in the npae cache folder, so the next load of the same folder is instant;
    - ``mmap``: return the cached images as a read-only memory map (for data larger than memory).
    """
    root = existing_folder(path, "path", holding="your pictures")
    size, tile = _check_options(size, mode, labels, tile, mmap, cache)
    background = _check_background(background)
    files = image_files(root)
    if not files:
        raise _no_images_error(root)
    classes, class_names = _folder_classes(files, root) if labels == "folders" else (None, None)
    options = {"size": size, "mode": mode, "crop": bool(crop), "background": background, "tile": tile}
    if not cache:
        rows = _Rows()
        owners, regions, skipped = _decode_folder(root, files, size, mode, crop, background, tile, strict, rows)
        if skipped:
            _warn_skipped(skipped, len(files))
        return _result(root, files, owners, _stack(rows.arrays, size, tile), regions, classes, class_names)
    entry = _cache_entry(root, files, options)
    if not entry.exists():
        _fill_cache(entry, root, files, options, strict)
    owners, images, regions, skipped = _read_cache(entry, mmap)
    if skipped and strict:
        raise UnreadableImage(root / skipped[0][0], skipped[0][1])
    if skipped:
        _warn_skipped(skipped, len(files))
    return _result(root, files, owners, images, regions, classes, class_names)


# ----------------------------------------------------------------------------------------------
# The cache: one folder per key, holding images.npy (or images.npz of arrays of different sizes) and meta.json
# ----------------------------------------------------------------------------------------------


def _cache_entry(root, files, options):
    """The cache folder of this load: a hash of the folder, each file's name, size and mtime, and the options."""
    import PIL

    listing = []
    for rel in files:
        stat = (root / rel).stat()
        listing.append([rel.as_posix(), stat.st_size, stat.st_mtime_ns])
    key = {"format": CACHE_FORMAT, "pillow": PIL.__version__, "root": str(root.resolve()), "files": listing,
           "options": options}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return cache_dir() / "images" / digest[:32]


def _fill_cache(entry, root, files, options, strict):
    """Decode the folder into a temporary folder beside ``entry``, then rename it into place atomically."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(dir=entry.parent, prefix=entry.name + ".", suffix=".part"))
    try:
        same_size = options["size"] is not None or options["tile"] is not None
        rows = _Rows(staging / "rows.raw" if same_size else None)
        try:
            owners, regions, skipped = _decode_folder(
                root, files, options["size"], options["mode"], options["crop"], tuple(options["background"]),
                options["tile"], strict, rows,
            )
        finally:
            if rows.raw is not None:
                rows.raw.close()
        if same_size:
            _raw_to_npy(staging / "rows.raw", staging / "images.npy", (rows.count,) + rows.shape)
        else:
            np.savez(staging / "images.npz", *rows.arrays)
        np.save(staging / "regions.npy", np.array(regions, dtype=np.int64))
        meta = {"owners": owners, "skipped": skipped}
        (staging / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(staging, entry)
        except OSError:
            if not entry.exists():  # another process filling the same entry first is fine; anything else is not
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _raw_to_npy(raw_path, npy_path, shape):
    """Prefix the float32 rows of ``raw_path`` with a .npy header, streaming (never all in memory)."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": shape}
    with open(npy_path, "wb") as out, open(raw_path, "rb") as raw:
        np.lib.format.write_array_header_1_0(out, header)
        shutil.copyfileobj(raw, out)
    raw_path.unlink()


def _read_cache(entry, mmap):
    meta = json.loads((entry / "meta.json").read_text())
    regions = np.load(entry / "regions.npy", allow_pickle=False)
    if (entry / "images.npy").exists():
        images = np.load(entry / "images.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
    else:
        with np.load(entry / "images.npz", allow_pickle=False) as stored:
            images = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    skipped = [tuple(pair) for pair in meta["skipped"]]
    return meta["owners"], images, regions, skipped
