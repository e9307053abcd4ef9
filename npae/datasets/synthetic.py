"""Synthetic digits: an offline MNIST stand-in, rendered from vector glyphs with a random hand.

``synthetic_digits(n, seed)`` returns images in MNIST's format (float32 in [0, 1], (N, 1, 28, 28)) and labels;
``npae demo`` and the walkthroughs fall back to them, and say so, when MNIST can be neither found nor
downloaded.
"""

from __future__ import annotations

import functools
import pathlib

import numpy as np

from ..core.checks import as_generator, positive_int, real_number

IMAGE_SIZE = 28


def to_mnist_layout(images, normalize, flatten):
    """uint8 (N, 28, 28) -> float32 in [0, 1] (N, 1, 28, 28), or (N, 784) when ``flatten``."""
    shape = (len(images), IMAGE_SIZE * IMAGE_SIZE) if flatten else (len(images), 1, IMAGE_SIZE, IMAGE_SIZE)
    if normalize:
        return (images.astype(np.float32) / np.float32(255.0)).reshape(shape)
    return images.reshape(shape).copy()

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
    jitter = real_number(jitter, "jitter", low=0.0, high=2.0)
    rng = as_generator(seed)
    labels = rng.permutation(np.arange(n) % 10)
    linear, offset, pixels_per_unit, stroke = _random_pens(rng, labels, jitter)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        ink = _render(labels[part], linear[part], offset[part], pixels_per_unit[part], stroke[part])
        images[part] = np.rint(ink * 255.0)
    return to_mnist_layout(images, normalize, flatten), labels.astype(np.int64)




def dead_leaves(n, size=(128, 128), channels=1, seed=0, min_radius=1.5, max_radius=None, discs=400):
    """``n`` synthetic "natural" images: float32 ``(n, channels, H, W)`` in [0, 1], drawn offline.

    The dead-leaves model (Matheron 1968; Lee, Mumford & Huang 2001) piles opaque discs of random flat colours
    on top of each other, like leaves falling on the ground: occlusion gives sharp edges of every orientation,
    and radii drawn with density proportional to ``r^-3`` (between ``min_radius`` and ``max_radius``, default a
    quarter of the shorter side) make the picture look alike at every scale, as photographs do. It is the
    stand-in for photographs when none are at hand (walkthrough 11's ``--quick`` run); ``discs`` per image.
    """
    n = positive_int(n, "n")
    channels = positive_int(channels, "channels")
    discs = positive_int(discs, "discs")
    height, width = (size, size) if isinstance(size, int) else size
    max_radius = min(height, width) / 4 if max_radius is None else max_radius
    min_radius = real_number(min_radius, "min_radius", low=0.0, include_low=False)
    max_radius = real_number(max_radius, "max_radius", low=min_radius)
    rng = as_generator(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    images = np.empty((n, channels, height, width), dtype=np.float32)
    for image in images:
        image[:] = rng.random((channels, 1, 1))
        # inverse CDF of the density r^-3 on [min_radius, max_radius]: 1/r^2 is uniform between the ends
        radii = (min_radius**-2 - rng.random(discs) * (min_radius**-2 - max_radius**-2)) ** -0.5
        centres = rng.random((discs, 2)) * (height, width)
        colours = rng.random((discs, channels))
        for (cy, cx), r, colour in zip(centres, radii, colours):
            inside = (rows - cy) ** 2 + (cols - cx) ** 2 <= r * r
            image[:, inside] = colour[:, None]
    return images
