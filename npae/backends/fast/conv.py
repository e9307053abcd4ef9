"""2-D convolution, its input gradient, its weight gradient and its bias gradient: the fast implementations.

The maps and their derivation are in ``npae.backends.reference.conv`` (read that first); the notation is the same:
``x`` (N, C, H, W), ``W`` (O, C, KH, KW), stride ``(sh, sw)``, padding ``(ph, pw)``, ``xp`` the padded input.

Three ways to compute each map, chosen per call by ``choose_path`` from the shapes:

- ``"gemm"``: gather every receptive field into a column (``im2col``), giving ``cols`` (C KH KW, N Ho Wo);
  the convolution is then one matrix product ``W (O, C KH KW) @ cols`` done by BLAS, ``dW = dy @ cols^T``
  and ``dcols = W^T @ dy`` scattered back with ``col2im``. Best with many channels and any stride.
- ``"direct"`` (stride 1): on an image padded to width ``Fw`` and flattened row-major, the shift by kernel
  offset ``(a, e)`` is the shift of the flat index by ``a Fw + e``. Each kernel tap is then one long
  contiguous multiply-add ``acc[t] += W[o, c, a, e] xp_flat[c, t + a Fw + e]`` over
  ``t < (Ho - 1) Fw + Wo`` (rounded up to whole vectors, see below); the ``Fw - Wo`` positions of each row
  that fall outside the output are computed and dropped. There is no ``cols`` copy (9 times the input for
  3x3), so this path wins up to a few dozen channels. With stride 1 the input gradient is a forward
  convolution too: of ``dy`` padded by ``K - 1 - p``, with the weights flipped in space and their channel
  axes swapped.

  Two things keep the dropped positions few and the passes long. Neighbouring rows share their padding: a
  tap reaching past the right end of a row reads the start of the next row, so ``Fw = W + max(pw_left,
  pw_right)`` columns suffice (``W + 1`` for a 3x3 'same' convolution, not ``W + 2``) as long as the extra
  columns hold zeros. And each thread pads ``images_per_stack`` images one below the other into its own
  buffer, which stays in cache, sharing their padding rows the same way (each image takes a frame of ``Fh Fw``
  positions, ``Fh = H + max(ph_top, ph_bottom)``): a pass over a row then covers two 14x14 images, not one.
  A negative padding (a crop, in some input gradients) shares nothing: the frame is then the whole padded
  image.

- ``"winograd"`` (3x3 kernels, stride 1, padding 1, enough channels and images): the forward pass and the input
  gradient by Winograd's F(2x2, 3x3), 16 multiplications per 2x2 outputs instead of 36
  (``npae.backends.fast.winograd``); the weight gradient of such a layer takes the direct or gemm path.

Scratch arrays (padded images, ``cols``, channel-major copies, partial weight gradients) come from a
per-thread ``Workspace``, so a training loop at a fixed batch size allocates them once; every array returned
is new.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import prange

from ...core.functions import conv_output_size as output_size
from .jit import inline_kernel, kernel, parallel_fast_kernel, parallel_kernel
from .rows import copy, fill
from .winograd import conv2d_forward_winograd
from .workspace import Workspace

PATHS = ("gemm", "direct", "winograd")


# dW is summed in this many partial sums (one per group of images), a fixed number so that the summation
# order, and so the last bits of trained weights, do not depend on the thread count (8 divides the work
# evenly over 1, 2, 4 or 8 threads).
WEIGHT_GRAD_GROUPS = 8



# ----------------------------------------------------------------------------------------------
# Numba kernels: data movement (padding, im2col/col2im, channel-major layout)
# ----------------------------------------------------------------------------------------------


@kernel
def pad_plane(x, ph, pw, hp, wp, out):
    """``out[(i + ph) Wp + j + pw] = x[i, j]`` wherever that lands inside the (Hp, Wp) plane, stored flat in
    ``out``; every other entry of ``out`` (including any tail past ``Hp Wp``) is 0. Negative ``ph``/``pw``
    crop instead of padding."""
    h, w = x.shape
    i0, i1 = max(0, -ph), min(h, hp - ph)  # the rows (columns) of x that land inside the plane
    j0, j1 = max(0, -pw), min(w, wp - pw)
    fill(out, 0)
    for i in range(i0, i1):
        start = (i + ph) * wp + pw
        copy(out[start + j0 : start + j1], x[i, j0:j1])


@kernel
def pad_stack(x, first, count, ph, pw, fh, fw, out):
    """``pad_plane`` for channel ``c`` of images ``first + s``, ``s < count``, of ``x`` (N, C, H, W), into frame ``s``
    of row ``c`` of ``out`` (C, count Fh Fw + tail): the images padded one below the other,
    ``out[c, s Fh Fw + (i + ph) Fw + j + pw] = x[first + s, c, i, j]``, 0 elsewhere."""
    frame = fh * fw
    for c in range(x.shape[1]):
        for s in range(count):
            pad_plane(x[first + s, c], ph, pw, fh, fw, out[c, s * frame : (s + 1) * frame])
        fill(out[c, count * frame :], 0)


@parallel_kernel
def pad_images(x, ph, pw, out):
    """``out[n, c, i + ph, j + pw] = x[n, c, i, j]``, zeros elsewhere, for every image of the batch."""
    n_ch, hp, wp = out.shape[1], out.shape[2], out.shape[3]
    for n in prange(x.shape[0]):
        pad_stack(x, n, 1, ph, pw, hp, wp, out[n].reshape(n_ch, hp * wp))  # a stack of one image


@parallel_kernel
def im2col(xp, kh, kw, sh, sw, ho, wo, cols):
    """``cols[(c KH + a) KW + e, n Ho Wo + i Wo + j] = xp[n, c, i sh + a, j sw + e]``."""
    n_img, n_ch = xp.shape[0], xp.shape[1]
    hw = ho * wo
    for n in prange(n_img):
        for c in range(n_ch):
            for a in range(kh):
                for e in range(kw):
                    dst = cols[(c * kh + a) * kw + e, n * hw : (n + 1) * hw]
                    for i in range(ho):
                        src = xp[n, c, i * sh + a]
                        for j in range(wo):
                            dst[i * wo + j] = src[j * sw + e]


@parallel_kernel
def col2im(cols, kh, kw, sh, sw, ph, pw, ho, wo, dx):
    """Adjoint of ``im2col``: ``dxp[n, c, i sh + a, j sw + e] += cols[(c KH + a) KW + e, n Ho Wo + i Wo + j]``,
    then ``dx = dxp`` without its padding. Each sample owns its padded scratch image, so threads never collide."""
    n_img, n_ch, h, w = dx.shape
    hw = ho * wo
    for n in prange(n_img):
        dxp = np.empty((n_ch, h + 2 * ph, w + 2 * pw), dtype=dx.dtype)
        fill(dxp.reshape(dxp.size), 0)
        for c in range(n_ch):
            for a in range(kh):
                for e in range(kw):
                    src = cols[(c * kh + a) * kw + e, n * hw : (n + 1) * hw]
                    for i in range(ho):
                        row = dxp[c, i * sh + a]
                        for j in range(wo):
                            row[j * sw + e] += src[i * wo + j]
            for i in range(h):
                copy(dx[n, c, i], dxp[c, ph + i, pw : pw + w])


@parallel_kernel
def to_channel_major(y, out):
    """``out[o, n H W + t] = y[n, o].flat[t]``: (N, O, H, W) -> (O, N H W), the layout of a matrix product."""
    n_img, n_ch = y.shape[0], y.shape[1]
    hw = y.shape[2] * y.shape[3]
    for n in prange(n_img):
        for o in range(n_ch):
            copy(out[o, n * hw : (n + 1) * hw], y[n, o].reshape(hw))


@parallel_kernel
def from_channel_major(src, bias, out):
    """``out[n, o].flat[t] = src[o, n H W + t] + bias[o]``: (O, N H W) -> (N, O, H, W), adding the bias."""
    n_img, n_ch = out.shape[0], out.shape[1]
    hw = out.shape[2] * out.shape[3]
    for n in prange(n_img):
        for o in range(n_ch):
            dst = out[n, o].reshape(hw)
            part = src[o, n * hw : (n + 1) * hw]
            for t in range(hw):
                dst[t] = part[t] + bias[o]


# ----------------------------------------------------------------------------------------------
# Numba kernels: direct convolution, stride 1, on the flattened padded image (see the module docstring)
#
# LLVM turns each loop over ``t`` into a vector loop of 16 float32 lanes (AVX-512; two 8-lane steps with
# AVX2) followed by a scalar loop for the last ``span % 16`` positions, which costs as much per position as
# the vector loop does per 16: on the small images of an autoencoder that tail is a large share. So the loops run to
# ``vector_span(span)``, the next multiple of ``LANES``: each padded channel gets that many extra zeros after
# its plane, the extra outputs are computed and dropped (forward), and the extra ``dy`` entries are zeros
# (weight gradient), so they add nothing.
#
# A multiply-add streaming through memory is limited by loads and stores, not arithmetic: one tap on one
# output channel costs two loads and a store per multiply-add. So the forward pass applies three adjacent kernel
# columns (``row[t]``, ``row[t + 1]``, ``row[t + 2]`` share cache lines) to a block of ``CHANNEL_BLOCK`` = 4
# output channels at once: twelve multiply-adds per seven loads and four stores, the twelve weights held in
# registers. The weight gradient sums twelve dot products at once (three columns, four output channels), its
# partial sums in registers (pairs of channels, six sums, were slower: benchmarks/README.md). Channels left
# over after the blocks go one at a time, so a convolution with one output channel (the last layer of an image
# decoder) does its arithmetic once. The helpers are inlined into the kernels so that LLVM sees the accumulators
# are separate arrays and vectorises the loops over ``t``.
# ----------------------------------------------------------------------------------------------


LANES = 16
CHANNEL_BLOCK = 4


@kernel
def vector_span(span):
    """``span`` rounded up to a multiple of ``LANES``."""
    return (span + LANES - 1) // LANES * LANES


@inline_kernel
def _accumulate_row_block(acc, row, w_rows, span):
    """``acc[m, t] += sum_e w_rows[m, e] row[t + e]`` for the ``CHANNEL_BLOCK`` channels ``m`` and ``t < span``."""
    a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
    w0, w1, w2, w3 = w_rows[0], w_rows[1], w_rows[2], w_rows[3]
    kw = w0.size
    full = kw - kw % 3
    for e in range(0, full, 3):
        src = row[e : e + span + 2]
        u00, u01, u02 = w0[e], w0[e + 1], w0[e + 2]
        u10, u11, u12 = w1[e], w1[e + 1], w1[e + 2]
        u20, u21, u22 = w2[e], w2[e + 1], w2[e + 2]
        u30, u31, u32 = w3[e], w3[e + 1], w3[e + 2]
        for t in range(span):
            s0, s1, s2 = src[t], src[t + 1], src[t + 2]
            a0[t] += u00 * s0 + u01 * s1 + u02 * s2
            a1[t] += u10 * s0 + u11 * s1 + u12 * s2
            a2[t] += u20 * s0 + u21 * s1 + u22 * s2
            a3[t] += u30 * s0 + u31 * s1 + u32 * s2
    for e in range(full, kw):
        src = row[e : e + span]
        v0, v1, v2, v3 = w0[e], w1[e], w2[e], w3[e]
        for t in range(span):
            a0[t] += v0 * src[t]
            a1[t] += v1 * src[t]
            a2[t] += v2 * src[t]
            a3[t] += v3 * src[t]


@inline_kernel
def _accumulate_row_single(acc, row, w_row, span):
    """``acc[t] += sum_e w_row[e] row[t + e]`` for ``t < span``: one output channel."""
    kw = w_row.size
    full = kw - kw % 3
    for e in range(0, full, 3):
        src = row[e : e + span + 2]
        u0, u1, u2 = w_row[e], w_row[e + 1], w_row[e + 2]
        for t in range(span):
            acc[t] += u0 * src[t] + u1 * src[t + 1] + u2 * src[t + 2]
    for e in range(full, kw):
        src = row[e : e + span]
        v = w_row[e]
        for t in range(span):
            acc[t] += v * src[t]


@inline_kernel
def _accumulate_plane_single_3x3(acc, plane, w_kernel, fw, span):
    """``acc[t] += sum_{a, e < 3} w_kernel[a, e] plane[t + a Fw + e]``: one output channel, a 3x3 kernel, all nine
    taps in one pass (one load and store of ``acc`` per nine multiply-adds, where a pass per kernel row has three)."""
    u0, u1, u2 = w_kernel[0, 0], w_kernel[0, 1], w_kernel[0, 2]
    v0, v1, v2 = w_kernel[1, 0], w_kernel[1, 1], w_kernel[1, 2]
    q0, q1, q2 = w_kernel[2, 0], w_kernel[2, 1], w_kernel[2, 2]
    r0, r1, r2 = plane[: span + 2], plane[fw : fw + span + 2], plane[2 * fw : 2 * fw + span + 2]
    for t in range(span):
        acc[t] += ((u0 * r0[t] + u1 * r0[t + 1] + u2 * r0[t + 2]) + (v0 * r1[t] + v1 * r1[t + 1] + v2 * r1[t + 2])
                   + (q0 * r2[t] + q1 * r2[t + 1] + q2 * r2[t + 2]))


@kernel
def shared_size(size, before, after, out_size):
    """The rows (or columns) an image takes in a stack: ``size`` plus the larger of its two paddings, which it
    shares with its neighbour (see the module docstring); the whole padded size if a padding is negative (a crop),
    and never fewer than the output's ``out_size``."""
    if before < 0 or after < 0:
        return max(before + size + after, out_size)
    return max(size + max(before, after), out_size)


@kernel
def stacked_span(count, frame, ho, fw, wo):
    """The flat positions up to the last output of a stack of ``count`` images in frames of ``frame`` = Fh Fw,
    rounded up to whole vectors."""
    return vector_span((count - 1) * frame + (ho - 1) * fw + wo)


@kernel
def stack_layout(h, w, ho, wo, kh, kw, ph, pw, stack):
    """``(Fh, Fw, longest, width)`` for stacks of up to ``stack`` images: the frame each image takes, the span of a
    full stack, and the length of a channel's flat row (the last tap of the last position reads its last entry)."""
    fh = shared_size(h, ph, ho + kh - 1 - ph - h, ho)
    fw = shared_size(w, pw, wo + kw - 1 - pw - w, wo)
    longest = stacked_span(stack, fh * fw, ho, fw, wo)
    return fh, fw, longest, longest + (kh - 1) * fw + kw - 1


@kernel
def _store_stack(acc, frame, fw, y, first, count, o):
    """``y[first + s, o, i, j] = acc[s Fh Fw + i Fw + j]`` for ``s < count``: the true outputs of a stack of planes
    computed at the padded width ``Fw``, one frame per image."""
    ho, wo = y.shape[2], y.shape[3]
    for s in range(count):
        for i in range(ho):
            copy(y[first + s, o, i], acc[s * frame + i * fw : s * frame + i * fw + wo])


@parallel_fast_kernel
def conv2d_forward_direct(x, w, b, ph, pw, stack, y):
    """``y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] xp[n, c, i + a, j + e]`` (stride 1), where ``xp`` is
    ``x`` padded by ``(ph, pw)`` (cropped if negative). Each thread pads ``stack`` images at a time, one below
    the other, into its own buffer, which stays in cache. Output channels go in blocks of ``CHANNEL_BLOCK``, the
    rest one by one (a 3x3 kernel in one pass per input channel)."""
    n_img, n_in = x.shape[0], x.shape[1]
    n_out, _, kh, kw = w.shape
    ho, wo = y.shape[2], y.shape[3]
    fh, fw, _, width = stack_layout(x.shape[2], x.shape[3], ho, wo, kh, kw, ph, pw, stack)
    frame = fh * fw
    blocked = n_out - n_out % CHANNEL_BLOCK
    for k in prange((n_img + stack - 1) // stack):
        first = k * stack
        count = min(stack, n_img - first)
        span = stacked_span(count, frame, ho, fw, wo)
        flat = np.empty((n_in, width), dtype=y.dtype)
        pad_stack(x, first, count, ph, pw, fh, fw, flat)
        acc = np.empty((CHANNEL_BLOCK, span), dtype=y.dtype)
        for o in range(0, blocked, CHANNEL_BLOCK):
            for m in range(CHANNEL_BLOCK):
                fill(acc[m], b[o + m])
            for c in range(n_in):
                for a in range(kh):
                    _accumulate_row_block(acc, flat[c, a * fw :], w[o : o + CHANNEL_BLOCK, c, a], span)
            for m in range(CHANNEL_BLOCK):
                _store_stack(acc[m], frame, fw, y, first, count, o + m)
        for o in range(blocked, n_out):
            fill(acc[0], b[o])
            for c in range(n_in):
                if kh == 3 and kw == 3:
                    _accumulate_plane_single_3x3(acc[0], flat[c], w[o, c], fw, span)
                else:
                    for a in range(kh):
                        _accumulate_row_single(acc[0], flat[c, a * fw :], w[o, c, a], span)
            _store_stack(acc[0], frame, fw, y, first, count, o)


@kernel
def _spread_stack(dy, first, count, o, frame, fw, out):
    """``out[s Fh Fw + i Fw + j] = dy[first + s, o, i, j]`` for ``s < count`` and ``j < Wo``, and 0 in the gaps
    after each row, between the frames and to the end: output planes laid out as ``_store_stack`` reads them."""
    fill(out, 0)
    ho, wo = dy.shape[2], dy.shape[3]
    for s in range(count):
        for i in range(ho):
            copy(out[s * frame + i * fw : s * frame + i * fw + wo], dy[first + s, o, i])


@inline_kernel
def _correlate_row_block(g, d, row, span, zero):
    """``g[m, e] += sum_{t < span} d[m, t] row[t + e]`` for the ``CHANNEL_BLOCK`` output channels ``m`` and every
    kernel column ``e`` (``zero``: 0 in the dtype): twelve dot products at once, their sums in registers."""
    g0, g1, g2, g3 = g[0], g[1], g[2], g[3]
    d0, d1, d2, d3 = d[0], d[1], d[2], d[3]
    kw = g0.size
    full = kw - kw % 3
    for e in range(0, full, 3):
        src = row[e : e + span + 2]
        p0 = p1 = p2 = q0 = q1 = q2 = r0 = r1 = r2 = u0 = u1 = u2 = zero
        for t in range(span):
            s0, s1, s2 = src[t], src[t + 1], src[t + 2]
            a, b, c, f = d0[t], d1[t], d2[t], d3[t]
            p0 += a * s0
            p1 += a * s1
            p2 += a * s2
            q0 += b * s0
            q1 += b * s1
            q2 += b * s2
            r0 += c * s0
            r1 += c * s1
            r2 += c * s2
            u0 += f * s0
            u1 += f * s1
            u2 += f * s2
        g0[e] += p0
        g0[e + 1] += p1
        g0[e + 2] += p2
        g1[e] += q0
        g1[e + 1] += q1
        g1[e + 2] += q2
        g2[e] += r0
        g2[e + 1] += r1
        g2[e + 2] += r2
        g3[e] += u0
        g3[e + 1] += u1
        g3[e + 2] += u2
    for e in range(full, kw):
        src = row[e : e + span]
        p0 = q0 = r0 = u0 = zero
        for t in range(span):
            p0 += d0[t] * src[t]
            q0 += d1[t] * src[t]
            r0 += d2[t] * src[t]
            u0 += d3[t] * src[t]
        g0[e] += p0
        g1[e] += q0
        g2[e] += r0
        g3[e] += u0


@inline_kernel
def _correlate_row_single(g, d, row, span, zero):
    """``g[e] += sum_{t < span} d[t] row[t + e]`` for every kernel column ``e``: one output channel."""
    kw = g.size
    full = kw - kw % 3
    for e in range(0, full, 3):
        src = row[e : e + span + 2]
        p0 = p1 = p2 = zero
        for t in range(span):
            p0 += d[t] * src[t]
            p1 += d[t] * src[t + 1]
            p2 += d[t] * src[t + 2]
        g[e] += p0
        g[e + 1] += p1
        g[e + 2] += p2
    for e in range(full, kw):
        src = row[e : e + span]
        p0 = zero
        for t in range(span):
            p0 += d[t] * src[t]
        g[e] += p0


@parallel_fast_kernel
def conv2d_weight_grad_direct(x, dy, ph, pw, stack, partial):
    """``dW[o, c, a, e] = sum_{n, t} dy_wide[n, o, t] xp_flat[n, c, t + a Fw + e]`` (stride 1).

    ``xp`` is ``x`` padded by ``(ph, pw)`` and ``dy_wide`` is ``dy`` with its rows spread to the padded width
    ``Fw``, zeros in the gaps, so the shifted dot products count exactly the true outputs; both are built
    ``stack`` images at a time, one below the other, in the thread's own buffers. Output channels go in blocks
    of ``CHANNEL_BLOCK``, the rest one by one. Group ``g`` of ``G = partial.shape[0]`` sums the ``g``-th of ``G``
    equal runs of images into ``partial[g]``; the caller adds the groups, so no two threads write the same
    memory."""
    n_img, n_in = x.shape[0], x.shape[1]
    n_groups, n_out, _, kh, kw = partial.shape
    ho, wo = dy.shape[2], dy.shape[3]
    fh, fw, longest, width = stack_layout(x.shape[2], x.shape[3], ho, wo, kh, kw, ph, pw, stack)
    frame = fh * fw
    blocked = n_out - n_out % CHANNEL_BLOCK
    for g in prange(n_groups):
        part = partial[g]
        fill(part.reshape(part.size), 0)
        zero = part[0, 0, 0, 0]
        flat = np.empty((n_in, width), dtype=partial.dtype)
        d = np.empty((CHANNEL_BLOCK, longest), dtype=partial.dtype)
        start, end = g * n_img // n_groups, (g + 1) * n_img // n_groups  # group g's run of images
        for first in range(start, end, stack):
            last = min(first + stack, end)
            span = stacked_span(last - first, frame, ho, fw, wo)
            pad_stack(x, first, last - first, ph, pw, fh, fw, flat)
            for o in range(0, blocked, CHANNEL_BLOCK):
                for m in range(CHANNEL_BLOCK):
                    _spread_stack(dy, first, last - first, o + m, frame, fw, d[m, :span])
                for c in range(n_in):
                    for a in range(kh):
                        _correlate_row_block(part[o : o + CHANNEL_BLOCK, c, a], d, flat[c, a * fw :], span, zero)
            for o in range(blocked, n_out):
                _spread_stack(dy, first, last - first, o, frame, fw, d[0, :span])
                for c in range(n_in):
                    for a in range(kh):
                        _correlate_row_single(part[o, c, a], d[0], flat[c, a * fw :], span, zero)


@parallel_fast_kernel
def channel_sums(dy, out):
    """``out[o] = sum_{n, i, j} dy[n, o, i, j]``, the channels shared among the threads. Each channel is summed by
    one thread in float64, in an order that does not depend on the thread count."""
    n_img, n_ch = dy.shape[0], dy.shape[1]
    size = dy.shape[2] * dy.shape[3]
    for o in prange(n_ch):
        total = 0.0
        for n in range(n_img):
            plane = dy[n, o].reshape(size)
            for t in range(size):
                total += plane[t]
        out[o] = total


# ----------------------------------------------------------------------------------------------
# The operations
# ----------------------------------------------------------------------------------------------

#: The direct path is faster on all four ConvAE convolutions (1->16 and 16->1 at 28x28, 16->32 and 32->16 at
#: 14x14) and still even at 32->32; BLAS wins from 64->64 on, where each output pixel is a long enough dot
#: product for a blocked matrix product (benchmarks/README.md has the measurements).
DIRECT_MAX_CHANNEL_PRODUCT = 32 * 32

#: The Winograd path (``npae.backends.fast.winograd``) against the direct one on 3x3 'same' convolutions, batch
#: 200, 2 threads, in two runs (benchmarks/README.md): 16->32 at 14x14 1.57 times as fast (both runs), 32->16
#: 1.36-1.45, 32->32 1.27-1.48, 16->32 at 28x28 1.12-1.54; with fewer channels the transforms weigh more
#: against the saved multiplications (16->16 0.94-1.21, 8->32 1.25, 1->16 0.52-0.59). Against the
#: matrix-product path from 64->64 on: 1.9-3.4 times as fast. A thread takes whole groups of eight images, so
#: small batches leave threads idle (16 images: 0.68-0.98, 8: 0.42-0.45; 32: 1.22). Sides up to 32 measured.
WINOGRAD_MIN_CHANNEL_PRODUCT = 512
WINOGRAD_MIN_IMAGES = 32
WINOGRAD_MAX_SIDE = 32

#: positions a direct kernel's pass over a row should cover (see the module docstring): with one 14x14 image
#: per pass the loop setup cost 3-10% of the ConvAE's kernels, with two it stops mattering (benchmarks/README.md)
STACK_POSITIONS = 512

_local = threading.local()


def scratch():
    """This thread's ``Workspace`` (kernels of two Python threads never share scratch memory)."""
    if not hasattr(_local, "workspace"):
        _local.workspace = Workspace()
    return _local.workspace


def images_per_stack(out_hw, kernel_hw):
    """How many images the direct kernels pad one below the other per pass: enough for ``STACK_POSITIONS``
    (counting each image's whole padded plane: an estimate, the same for every thread count)."""
    frame = (out_hw[0] + kernel_hw[0] - 1) * (out_hw[1] + kernel_hw[1] - 1)
    return max(1, STACK_POSITIONS // frame)


def choose_path(n_images, in_channels, out_channels, image_hw, kernel_hw, stride, padding):
    """``"winograd"`` for 3x3 'same' convolutions (stride 1, padding 1) with channels in fours, at least
    ``WINOGRAD_MIN_CHANNEL_PRODUCT`` channel pairs, ``WINOGRAD_MIN_IMAGES`` images and sides up to
    ``WINOGRAD_MAX_SIDE``; otherwise ``direct_or_gemm``. The choice depends on the shapes only (never on the
    thread count), so a run gives the same bits on any number of threads."""
    if (tuple(kernel_hw) == (3, 3) and tuple(stride) == (1, 1) and tuple(padding) == (1, 1)
            and in_channels % 4 == 0 and out_channels % 4 == 0
            and in_channels * out_channels >= WINOGRAD_MIN_CHANNEL_PRODUCT and n_images >= WINOGRAD_MIN_IMAGES
            and max(image_hw) <= WINOGRAD_MAX_SIDE):
        return "winograd"
    return direct_or_gemm(in_channels, out_channels, stride)


def direct_or_gemm(in_channels, out_channels, stride):
    """``"direct"`` for stride-1 convolutions with ``in * out <= 1024`` channels, ``"gemm"`` otherwise."""
    if tuple(stride) != (1, 1) or in_channels * out_channels > DIRECT_MAX_CHANNEL_PRODUCT:
        return "gemm"
    return "direct"


def conv2d_forward(x, w, b, stride, padding):
    """``y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] xp[n, c, i sh + a, j sw + e]``."""
    path = choose_path(x.shape[0], x.shape[1], w.shape[0], x.shape[2:], w.shape[2:], stride, padding)
    return forward_by_path(path, x, w, b, stride, padding)


def conv2d_weight_grad(x, dy, kernel_hw, stride, padding):
    """``dW[o, c, a, e] = sum_{n, i, j} dy[n, o, i, j] xp[n, c, i sh + a, j sw + e]``."""
    path = choose_path(x.shape[0], x.shape[1], dy.shape[1], x.shape[2:], kernel_hw, stride, padding)
    return weight_grad_by_path(path, x, dy, kernel_hw, stride, padding)


def conv2d_input_grad(dy, w, input_hw, stride, padding):
    """``dx`` (N, C, H, W) from ``dxp[n, c, i sh + a, j sw + e] += W[o, c, a, e] dy[n, o, i, j]``, cropped."""
    path = choose_path(dy.shape[0], w.shape[1], w.shape[0], input_hw, w.shape[2:], stride, padding)
    return input_grad_by_path(path, dy, w, input_hw, stride, padding)


def conv2d_bias_grad(dy):
    """``db[o] = sum_{n, i, j} dy[n, o, i, j]`` (NumPy's ``dy.sum(axis=(0, 2, 3))`` runs on one thread)."""
    db = np.empty(dy.shape[1], dtype=dy.dtype)
    channel_sums(np.ascontiguousarray(dy), db)
    return db


def forward_by_path(path, x, w, b, stride, padding):
    """``conv2d_forward`` on the given path (``"direct"`` needs stride 1)."""
    x = np.ascontiguousarray(x)
    (n, _, h, wd), (o, _, kh, kw) = x.shape, w.shape
    (ph, pw), (sh, sw) = padding, stride
    ho, wo = output_size(h, kh, sh, ph), output_size(wd, kw, sw, pw)
    if path == "winograd":
        return conv2d_forward_winograd(x, w, b, scratch())
    y = np.empty((n, o, ho, wo), dtype=x.dtype)
    if path == "direct":
        conv2d_forward_direct(x, np.ascontiguousarray(w), b, ph, pw, images_per_stack(y.shape[2:], (kh, kw)), y)
        return y
    cols = _columns(x, (kh, kw), stride, padding, (ho, wo))
    out = scratch().get("channel_major", (o, n * ho * wo), x.dtype)
    np.matmul(w.reshape(o, -1), cols, out=out)
    from_channel_major(out, b, y)
    return y


def weight_grad_by_path(path, x, dy, kernel_hw, stride, padding):
    """``conv2d_weight_grad`` on the given path."""
    x, dy = np.ascontiguousarray(x), np.ascontiguousarray(dy)
    w_shape = (dy.shape[1], x.shape[1]) + tuple(kernel_hw)
    if path == "winograd":  # Winograd's weight gradient was slower than the others (benchmarks/README.md)
        path = direct_or_gemm(x.shape[1], dy.shape[1], stride)
    if path == "direct":
        groups = min(dy.shape[0], WEIGHT_GRAD_GROUPS)
        partial = scratch().get("partial", (groups,) + w_shape, dy.dtype)
        stack = images_per_stack(dy.shape[2:], kernel_hw)
        conv2d_weight_grad_direct(x, dy, padding[0], padding[1], stack, partial)
        return partial.sum(axis=0)
    cols = _columns(x, kernel_hw, stride, padding, dy.shape[2:])
    return (_channel_major(dy) @ cols.T).reshape(w_shape)


def input_grad_by_path(path, dy, w, input_hw, stride, padding):
    """``conv2d_input_grad`` on the given path."""
    dy = np.ascontiguousarray(dy)
    (n, o, ho, wo), (_, c, kh, kw), (ph, pw) = dy.shape, w.shape, padding
    if path in ("direct", "winograd"):
        # stride 1: dx[n, c, i, j] = sum_{o, a, e} W[o, c, a, e] dy[n, o, i + ph - a, j + pw - e], a forward
        # convolution of dy padded by K - 1 - p (cropped if negative) with the weights flipped in both spatial
        # axes and their channel axes swapped (for a 3x3 'same' convolution: padded by 1 again)
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        if path == "winograd":
            return conv2d_forward_winograd(dy, flipped, np.zeros(c, dtype=dy.dtype), scratch())
    dx = np.empty((n, c) + tuple(input_hw), dtype=dy.dtype)
    if path == "direct":
        stack = images_per_stack(input_hw, (kh, kw))
        conv2d_forward_direct(dy, flipped, np.zeros(c, dtype=dy.dtype), kh - 1 - ph, kw - 1 - pw, stack, dx)
        return dx
    cols = scratch().get("cols", (c * kh * kw, n * ho * wo), dy.dtype)
    np.matmul(w.reshape(o, -1).T, _channel_major(dy), out=cols)
    col2im(cols, kh, kw, stride[0], stride[1], ph, pw, ho, wo, dx)
    return dx


def _columns(x, kernel_hw, stride, padding, out_hw):
    """``cols`` (C KH KW, N Ho Wo) of ``x``'s receptive fields, in scratch memory."""
    (n, c, h, w), (kh, kw), (ph, pw) = x.shape, kernel_hw, padding
    xp = scratch().get("padded", (n, c, h + 2 * ph, w + 2 * pw), x.dtype)
    pad_images(x, ph, pw, xp)
    cols = scratch().get("cols", (c * kh * kw, n * out_hw[0] * out_hw[1]), x.dtype)
    im2col(xp, kh, kw, stride[0], stride[1], out_hw[0], out_hw[1], cols)
    return cols


def _channel_major(dy):
    """``dy`` (N, O, Ho, Wo) as (O, N Ho Wo), in scratch memory."""
    n, o, ho, wo = dy.shape
    dy_cm = scratch().get("dy_channel_major", (o, n * ho * wo), dy.dtype)
    to_channel_major(dy, dy_cm)
    return dy_cm
