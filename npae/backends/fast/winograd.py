"""The 3x3 'same' convolution by Winograd's minimal filtering F(2x2, 3x3): 16 multiplications for each 2x2 block of
outputs where the direct sum takes 36.

The map is ``y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] xp[n, c, i + a, j + e]`` (stride 1, ``xp`` the input
padded by one pixel), as in ``npae.backends.reference.conv``. Cut the output into 2x2 blocks ("tiles"); the tile
at ``(2 ti, 2 tj)`` reads the 4x4 patch ``d = xp[n, c, 2 ti : 2 ti + 4, 2 tj : 2 tj + 4]``. Lavin and Gray (2016)
write its four outputs as

    Y = A^T [ sum_c (G g_oc G^T) * (B^T d_c B) ] A        (* elementwise on 4x4 arrays)

with ``g_oc = W[o, c]`` and the constant matrices

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

(multiply them out for one row: it is the 1-D F(2, 3) applied to rows, then to columns). So the work splits in
four stages, each over every image, channel and tile:

1. input transform ``V[xi, c, tile] = (B^T d B)[xi]`` for the 16 positions ``xi`` of the 4x4 array (additions only);
2. weight transform ``U[xi, o, c] = (G g G^T)[xi]`` (once per call, a small kernel: the weights are few);
3. 16 matrix products ``M[xi, o, tile] = sum_c U[xi, o, c] V[xi, c, tile]``: here are the multiplications,
   ``16 O C`` per tile against ``36 O C`` for the direct sum;
4. output transform ``Y = A^T M A`` (additions only), plus the bias, cropped to the image.

Layout. The vector lanes run over images: eight images (a "group") are interleaved, by 8x8 transposes, so that
one ``Lanes`` vector holds the same pixel of eight images (``npae.backends.fast.lanes``), and every stage is
then a plain sequence of vector additions or multiply-adds with no shuffles and no edge cases. A group's images are interleaved into a
zero-padded buffer, transformed, multiplied and transformed back into an interleaved output, which is then
written out image by image. The products keep eight vector accumulators in registers (four output channels by
two tiles) over the whole sum over ``c``: two loads and four broadcasts per eight multiply-adds.

Rounding: the transforms add and subtract inputs before the products, so float32 results differ from the direct
sum by a few units in the last place (the tests compare the two within float32 tolerance). A non-finite input
reaches every output of the tiles whose 4x4 patches hold it (up to 4x4 outputs, where the direct sum reaches
3x3), and an infinity can come out as NaN (``inf - inf`` in a transform); never another image's outputs.

Each thread takes every ``P``-th group (``P`` = the thread count) with its own scratch buffers; groups never
share an output, so the result does not depend on the thread count.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from .jit import inline_kernel, kernel, parallel_kernel
from .lanes import WIDTH, add, load, muladd, splat, store, sub, transpose, zeros
from .rows import fill

CHANNEL_BLOCK = 4  # output channels per block of accumulators in the products (the kernels are written for 4)

G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])  # B^T and A^T are spelt out in the kernels


@kernel
def _transform_weights(w, out):
    """``out[((xi (O / 4) + o // 4) C + c) 4 + o % 4] = (G W[o, c] G^T)[xi]``, in float64 arithmetic: ``G g`` row by
    row (``g0``, ``(g0 + g1 + g2) / 2``, ``(g0 - g1 + g2) / 2``, ``g2`` for the rows ``g0, g1, g2`` of ``g``),
    then the same on the columns of the result."""
    n_out, n_in = w.shape[0], w.shape[1]
    blocks = n_out // CHANNEL_BLOCK
    rows = np.empty((4, 3))
    for o in range(n_out):
        for c in range(n_in):
            for e in range(3):
                g0, g1, g2 = np.float64(w[o, c, 0, e]), np.float64(w[o, c, 1, e]), np.float64(w[o, c, 2, e])
                rows[0, e], rows[1, e], rows[2, e], rows[3, e] = g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2
            for i in range(4):
                r0, r1, r2 = rows[i, 0], rows[i, 1], rows[i, 2]
                at = ((4 * i * blocks + o // CHANNEL_BLOCK) * n_in + c) * CHANNEL_BLOCK + o % CHANNEL_BLOCK
                step = blocks * n_in * CHANNEL_BLOCK  # from position xi to xi + 1
                out[at] = r0
                out[at + step] = (r0 + r1 + r2) / 2
                out[at + 2 * step] = (r0 - r1 + r2) / 2
                out[at + 3 * step] = r2


def transformed_weights(w):
    """``U[xi, o, c] = (G W[o, c] G^T)[xi]``, laid out as ``[xi, o // 4, c, o % 4]`` so that the products
    broadcast four consecutive values, in ``w``'s dtype (a kernel: the same in NumPy took 0.2 ms a call)."""
    out = np.empty(16 * w.shape[0] * w.shape[1], dtype=w.dtype)
    _transform_weights(np.ascontiguousarray(w), out)
    return out


# ----------------------------------------------------------------------------------------------
# stage by stage, for one group of images
# ----------------------------------------------------------------------------------------------


@kernel
def _interleave(x, first, count, border, rows, cols, out):
    """``out[((c rows + i + border) cols + j + border) WIDTH + s] = x[first + s, c, i, j]`` for ``s < count``, 0
    elsewhere: the group's images in planes of ``rows x cols`` (padded by ``border`` pixels and up to whole
    tiles), lane ``s`` holding image ``first + s``. A full group, in rows of at least ``WIDTH`` pixels, goes
    through 8x8 transposes (the last block of a row overlapping the one before it), and only the border is
    zeroed."""
    n_ch, h, w = x.shape[1], x.shape[2], x.shape[3]
    transposed = count == WIDTH and w >= WIDTH
    if transposed:
        _zero_border(out, n_ch, h, w, border, rows, cols)
    else:
        fill(out, 0)
    for c in range(n_ch):
        for i in range(h):
            row = ((c * rows + i + border) * cols + border) * WIDTH
            if transposed:
                x0, x1, x2, x3 = x[first, c, i], x[first + 1, c, i], x[first + 2, c, i], x[first + 3, c, i]
                x4, x5, x6, x7 = x[first + 4, c, i], x[first + 5, c, i], x[first + 6, c, i], x[first + 7, c, i]
                for j in range(0, w, WIDTH):
                    j = min(j, w - WIDTH)
                    pixels = transpose(load(x0, j), load(x1, j), load(x2, j), load(x3, j), load(x4, j), load(x5, j),
                                       load(x6, j), load(x7, j))
                    _store_eight(out, row + j * WIDTH, WIDTH, pixels)
                continue
            for s in range(count):
                src = x[first + s, c, i]
                for j in range(w):
                    out[row + j * WIDTH + s] = src[j]


@kernel
def _zero_border(out, n_ch, h, w, border, rows, cols):
    """Zeros in every entry of the ``rows x cols`` planes of ``out`` outside the ``h x w`` image at ``(border,
    border)``: the rows above and below it, and the columns left and right of each of its rows."""
    for c in range(n_ch):
        plane = out[c * rows * cols * WIDTH : (c + 1) * rows * cols * WIDTH]
        fill(plane[: border * cols * WIDTH], 0)
        fill(plane[(border + h) * cols * WIDTH :], 0)
        for i in range(border, border + h):
            fill(plane[i * cols * WIDTH : (i * cols + border) * WIDTH], 0)
            fill(plane[(i * cols + border + w) * WIDTH : (i + 1) * cols * WIDTH], 0)


@inline_kernel
def _store_eight(array, at, step, vectors):
    """``array[at + k step : ... + WIDTH] = vectors[k]`` for k < 8."""
    for k in range(8):
        store(array, at + k * step, vectors[k])


@inline_kernel
def _store_four(array, at, step, vectors):
    """``array[at + k step : ... + WIDTH] = vectors[k]`` for k < 4."""
    store(array, at, vectors[0])
    store(array, at + step, vectors[1])
    store(array, at + 2 * step, vectors[2])
    store(array, at + 3 * step, vectors[3])


@inline_kernel
def _rows_of_b(d0, d1, d2, d3):
    """``B^T d`` for one column of four vectors (or ``d B`` for one row)."""
    return sub(d0, d2), add(d1, d2), sub(d2, d1), sub(d1, d3)


@inline_kernel
def _rows_of_a(m0, m1, m2, m3):
    """``A^T m`` for one column of four vectors (or ``m A`` for one row)."""
    return add(add(m0, m1), m2), sub(sub(m1, m2), m3)


@kernel
def _offsets(n_ch):
    """``(pair_step, xi_step)``: where pair ``p`` of a block's tiles and position ``xi`` start in the transformed
    inputs of ``n_ch`` channels, ``p pair_step + xi xi_step`` (all 16 positions of a pair together, the order in
    which the products read them); from there channel ``c`` of tile ``k`` of the pair is at ``(2 c + k) WIDTH``.
    Runs are ``C + 1`` channels long: the spare channel is never written, it only keeps the 16 stores of a tile
    off a power-of-two stride, where they would evict each other from the first-level cache (with 32 channels,
    1.5-2 times slower)."""
    run = 2 * (n_ch + 1) * WIDTH
    return 16 * run, run


@kernel
def _input_transform(padded, n_ch, rows, cols, tiles_w, n_tiles, first_tile, block, v):
    """``v[(t // 2) pair_step + xi xi_step + (2 c + t % 2) WIDTH ...] = (B^T d B)[xi]`` for every channel and the
    tiles ``first_tile + t``, ``t < block`` (tiles past the last, ``n_tiles``, get zeros): the two tiles of a pair
    side by side for each channel, in runs of ``C + 1`` channels (see ``_offsets``)."""
    step = cols * WIDTH  # from one row of the padded image to the next
    pair_step, xi_step = _offsets(n_ch)
    for c in range(n_ch):  # channel by channel: one padded plane at a time stays in the first-level cache
        for t in range(block):
            tile = first_tile + t
            at = (t // 2) * pair_step + (2 * c + t % 2) * WIDTH
            if tile >= n_tiles:
                for xi in range(16):
                    store(v, at + xi * xi_step, zeros(v))
                continue
            ti, tj = tile // tiles_w, tile % tiles_w
            base = ((c * rows + 2 * ti) * cols + 2 * tj) * WIDTH
            # B^T d, one column of d at a time
            u0 = _rows_of_b(load(padded, base), load(padded, base + step), load(padded, base + 2 * step),
                            load(padded, base + 3 * step))
            base += WIDTH
            u1 = _rows_of_b(load(padded, base), load(padded, base + step), load(padded, base + 2 * step),
                            load(padded, base + 3 * step))
            base += WIDTH
            u2 = _rows_of_b(load(padded, base), load(padded, base + step), load(padded, base + 2 * step),
                            load(padded, base + 3 * step))
            base += WIDTH
            u3 = _rows_of_b(load(padded, base), load(padded, base + step), load(padded, base + 2 * step),
                            load(padded, base + 3 * step))
            # then each row i of B^T d, times B, to positions xi = 4 i + j
            _store_four(v, at, xi_step, _rows_of_b(u0[0], u1[0], u2[0], u3[0]))
            _store_four(v, at + 4 * xi_step, xi_step, _rows_of_b(u0[1], u1[1], u2[1], u3[1]))
            _store_four(v, at + 8 * xi_step, xi_step, _rows_of_b(u0[2], u1[2], u2[2], u3[2]))
            _store_four(v, at + 12 * xi_step, xi_step, _rows_of_b(u0[3], u1[3], u2[3], u3[3]))


@inline_kernel
def _output_tile(m, at, step, bias, out, at_out, row):
    """``out[at_out + (i row + j) WIDTH ...] = bias + (A^T M A)[i, j]`` for one tile and output channel, its
    ``M[xi]`` at ``m[at + xi step ...]``."""
    # A^T M, one column of M at a time
    s0 = _rows_of_a(load(m, at), load(m, at + 4 * step), load(m, at + 8 * step), load(m, at + 12 * step))
    at += step
    s1 = _rows_of_a(load(m, at), load(m, at + 4 * step), load(m, at + 8 * step), load(m, at + 12 * step))
    at += step
    s2 = _rows_of_a(load(m, at), load(m, at + 4 * step), load(m, at + 8 * step), load(m, at + 12 * step))
    at += step
    s3 = _rows_of_a(load(m, at), load(m, at + 4 * step), load(m, at + 8 * step), load(m, at + 12 * step))
    # then each row i of A^T M, times A
    y0, y1 = _rows_of_a(s0[0], s1[0], s2[0], s3[0])
    store(out, at_out, add(y0, bias))
    store(out, at_out + WIDTH, add(y1, bias))
    y0, y1 = _rows_of_a(s0[1], s1[1], s2[1], s3[1])
    store(out, at_out + row * WIDTH, add(y0, bias))
    store(out, at_out + (row + 1) * WIDTH, add(y1, bias))


@kernel
def _products_and_outputs(v, u, b, n_in, n_out, tiles_h, tiles_w, n_tiles, first_tile, block, m, out):
    """For four output channels and two tiles at a time: the 16 products ``M[xi, o, t] = sum_c u[xi, o, c]
    v[xi, c, t]`` (eight accumulators in registers over the whole sum, then into the small ``m``, which stays in
    the first-level cache), then their output transforms ``out[...] = b[o] + (A^T M A)[i, j]`` for the tiles
    ``first_tile + t < n_tiles``: the group's outputs, interleaved."""
    blocks = n_out // 4
    width = 2 * tiles_w
    pair_step, xi_step = _offsets(n_in)
    for ob in range(blocks):
        for t in range(0, min(block, n_tiles - first_tile), 2):
            for xi in range(16):
                a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = zeros(v)
                at = (t // 2) * pair_step + xi * xi_step
                weights = (xi * blocks + ob) * n_in * 4
                for c in range(n_in):
                    s0 = load(v, at)
                    s1 = load(v, at + WIDTH)
                    at += 2 * WIDTH
                    k = weights + 4 * c
                    g = splat(u, k)
                    a0 = muladd(g, s0, a0)
                    a1 = muladd(g, s1, a1)
                    g = splat(u, k + 1)
                    a2 = muladd(g, s0, a2)
                    a3 = muladd(g, s1, a3)
                    g = splat(u, k + 2)
                    a4 = muladd(g, s0, a4)
                    a5 = muladd(g, s1, a5)
                    g = splat(u, k + 3)
                    a6 = muladd(g, s0, a6)
                    a7 = muladd(g, s1, a7)
                at = 8 * xi * WIDTH  # m[((xi 4 + channel) 2 + tile) WIDTH ...]
                store(m, at, a0)
                store(m, at + WIDTH, a1)
                store(m, at + 2 * WIDTH, a2)
                store(m, at + 3 * WIDTH, a3)
                store(m, at + 4 * WIDTH, a4)
                store(m, at + 5 * WIDTH, a5)
                store(m, at + 6 * WIDTH, a6)
                store(m, at + 7 * WIDTH, a7)
            for k in range(min(2, n_tiles - first_tile - t)):
                tile = first_tile + t + k
                ti, tj = tile // tiles_w, tile % tiles_w
                for channel in range(4):
                    o = 4 * ob + channel
                    at_out = ((o * 2 * tiles_h + 2 * ti) * width + 2 * tj) * WIDTH
                    _output_tile(m, (2 * channel + k) * WIDTH, 8 * WIDTH, splat(b, o), out, at_out, width)


@kernel
def _deinterleave(out, first, count, tiles_h, tiles_w, y):
    """``y[first + s, o, i, j] = out[((o 2 th + i) 2 tw + j) WIDTH + s]``, cropped to the image; by 8x8
    transposes, as ``_interleave``."""
    n_out, h, w = y.shape[1], y.shape[2], y.shape[3]
    for o in range(n_out):
        for i in range(h):
            row = ((o * 2 * tiles_h + i) * 2 * tiles_w) * WIDTH
            if count == WIDTH and w >= WIDTH:
                y0, y1, y2, y3 = y[first, o, i], y[first + 1, o, i], y[first + 2, o, i], y[first + 3, o, i]
                y4, y5, y6, y7 = y[first + 4, o, i], y[first + 5, o, i], y[first + 6, o, i], y[first + 7, o, i]
                for j in range(0, w, WIDTH):
                    j = min(j, w - WIDTH)
                    at = row + j * WIDTH
                    images = transpose(load(out, at), load(out, at + WIDTH), load(out, at + 2 * WIDTH),
                                       load(out, at + 3 * WIDTH), load(out, at + 4 * WIDTH), load(out, at + 5 * WIDTH),
                                       load(out, at + 6 * WIDTH), load(out, at + 7 * WIDTH))
                    store(y0, j, images[0])
                    store(y1, j, images[1])
                    store(y2, j, images[2])
                    store(y3, j, images[3])
                    store(y4, j, images[4])
                    store(y5, j, images[5])
                    store(y6, j, images[6])
                    store(y7, j, images[7])
                continue
            for s in range(count):
                dst = y[first + s, o, i]
                for j in range(w):
                    dst[j] = out[row + j * WIDTH + s]


# ----------------------------------------------------------------------------------------------
# the whole maps
# ----------------------------------------------------------------------------------------------


@kernel
def _layout(h, w):
    """``(tiles_h, tiles_w, n_tiles, rows, cols)``: 2x2 output tiles covering an ``h x w`` image and the padded
    input plane they read (one pixel of padding, up to whole tiles)."""
    tiles_h, tiles_w = (h + 1) // 2, (w + 1) // 2
    return tiles_h, tiles_w, tiles_h * tiles_w, 2 * tiles_h + 2, 2 * tiles_w + 2


@parallel_kernel
def conv3x3_same_winograd(x, u, b, block, padded, v, m, out, y):
    """``y = conv(x, W) + b`` for 3x3 kernels, stride 1, padding 1, given ``u = transformed_weights(W)``.

    Part ``p`` of ``P = padded.shape[0]`` takes groups ``p, p + P, ...`` of ``WIDTH`` images, with row ``p`` of
    each scratch array; the tiles of a group go through stages 1, 3 and 4 ``block`` (even) at a time, so that
    their transforms stay in the second-level cache (the products, four channels and two tiles at a time, in the
    first). Every output is computed by one part, so the result does not depend on ``P``."""
    n_img, n_in, h, w = x.shape
    n_out = y.shape[1]
    tiles_h, tiles_w, n_tiles, rows, cols = _layout(h, w)
    n_parts = padded.shape[0]
    for part in prange(n_parts):
        for g in range(part, (n_img + WIDTH - 1) // WIDTH, n_parts):
            first = g * WIDTH
            count = min(WIDTH, n_img - first)
            _interleave(x, first, count, 1, rows, cols, padded[part])
            for first_tile in range(0, n_tiles, block):
                _input_transform(padded[part], n_in, rows, cols, tiles_w, n_tiles, first_tile, block, v[part])
                _products_and_outputs(v[part], u, b, n_in, n_out, tiles_h, tiles_w, n_tiles, first_tile, block,
                                      m[part], out[part])
            _deinterleave(out[part], first, count, tiles_h, tiles_w, y)


#: bytes of one block's transformed inputs (half the second-level cache of a current core)
BLOCK_BYTES = 1 << 18


def tiles_per_block(n_in, itemsize):
    """An even number of tiles whose transformed inputs (16 positions x (C + 1) channels x WIDTH lanes, see
    ``_offsets``) fit in ``BLOCK_BYTES``, at least 2."""
    per_tile = 16 * (n_in + 1) * WIDTH * itemsize
    return max(2, BLOCK_BYTES // per_tile // 2 * 2)


def _scratch(workspace, parts, x_shape, n_out, block, dtype):
    """Per part: the padded interleaved inputs, their transforms, the products and the interleaved outputs."""
    n_in, h, w = x_shape[1:]
    tiles_h, tiles_w, _, rows, cols = _layout(h, w)
    return (workspace.get("winograd_padded", (parts, n_in * rows * cols * WIDTH), dtype),
            workspace.get("winograd_inputs", (parts, 16 * (n_in + 1) * block * WIDTH), dtype),
            workspace.get("winograd_products", (parts, 16 * 4 * 2 * WIDTH), dtype),
            workspace.get("winograd_outputs", (parts, n_out * 4 * tiles_h * tiles_w * WIDTH), dtype))


def conv2d_forward_winograd(x, w, b, workspace):
    """``conv2d_forward(x, w, b, (1, 1), (1, 1))`` for 3x3 kernels whose output channels come in fours, with
    scratch arrays from ``workspace``."""
    if tuple(w.shape[2:]) != (3, 3) or w.shape[0] % 4:
        raise ValueError(f"w: the Winograd path needs 3x3 kernels and output channels in fours, got {w.shape}")
    x = np.ascontiguousarray(x)
    n_out = w.shape[0]
    y = np.empty((x.shape[0], n_out) + x.shape[2:], dtype=x.dtype)
    parts = max(1, min(numba.get_num_threads(), (x.shape[0] + WIDTH - 1) // WIDTH))
    block = tiles_per_block(x.shape[1], x.dtype.itemsize)
    padded, v, m, out = _scratch(workspace, parts, x.shape, n_out, block, x.dtype)
    conv3x3_same_winograd(x, transformed_weights(w), np.ascontiguousarray(b, dtype=x.dtype), block, padded, v, m,
                          out, y)
    return y

