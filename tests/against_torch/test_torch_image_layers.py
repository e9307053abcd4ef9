"""Image layers against torch.nn: Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, Upsample (float64).

hypothesis draws channels, kernel sizes, strides, paddings, output paddings, scales and modes (npae has no
dilation); each example compares the output, the input gradient and the parameter gradients of
``sum(dy * y)`` with a random ``dy``.
"""

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from support import import_framework

torch = import_framework("torch")

from npae.core.layers import AvgPool2D, Conv2D, Conv2DTranspose, MaxPool2D, ReLU, Sequential, UpSampling2D
from npae.gradcheck.torch_bridge import compare_with_torch

seeds = st.integers(0, 2**16)
sides = st.integers(1, 4)
strides = st.integers(1, 3)


def images(rng, n, channels, h, w):
    return rng.standard_normal((n, channels, h, w))


@given(n=st.integers(1, 3), c_in=st.integers(1, 3), c_out=st.integers(1, 3), kh=sides, kw=sides, sh=strides,
       sw=strides, ph=st.integers(0, 2), pw=st.integers(0, 2), extra_h=st.integers(0, 4), extra_w=st.integers(0, 4),
       seed=seeds)
def test_conv2d(matches_torch, n, c_in, c_out, kh, kw, sh, sw, ph, pw, extra_h, extra_w, seed):
    rng = np.random.default_rng(seed)
    h, w = max(1, kh - 2 * ph) + extra_h, max(1, kw - 2 * pw) + extra_w
    layer = Conv2D(c_in, c_out, (kh, kw), stride=(sh, sw), padding=(ph, pw), init="torch_default", rng=rng,
                   dtype=np.float64)
    matches_torch(compare_with_torch(layer, images(rng, n, c_in, h, w), seed=seed), layer.describe())


@given(n=st.integers(1, 3), c_in=st.integers(1, 3), c_out=st.integers(1, 3), kh=sides, kw=sides, sh=strides,
       sw=strides, ph=st.integers(0, 2), pw=st.integers(0, 2), data=st.data(), h=st.integers(1, 5),
       w=st.integers(1, 5), seed=seeds)
def test_conv2d_transpose(matches_torch, n, c_in, c_out, kh, kw, sh, sw, ph, pw, data, h, w, seed):
    oph, opw = data.draw(st.integers(0, sh - 1)), data.draw(st.integers(0, sw - 1))
    assume((h - 1) * sh - 2 * ph + kh + oph >= 1 and (w - 1) * sw - 2 * pw + kw + opw >= 1)
    rng = np.random.default_rng(seed)
    layer = Conv2DTranspose(c_in, c_out, (kh, kw), stride=(sh, sw), padding=(ph, pw), output_padding=(oph, opw),
                            init="torch_default", rng=rng, dtype=np.float64)
    matches_torch(compare_with_torch(layer, images(rng, n, c_in, h, w), seed=seed), layer.describe())


@st.composite
def pools(draw):
    cls = draw(st.sampled_from([MaxPool2D, AvgPool2D]))
    kh, kw = draw(sides), draw(sides)
    stride = draw(st.one_of(st.none(), st.tuples(strides, strides)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    return cls((kh, kw), stride=stride, padding=padding)


@given(pool=pools(), n=st.integers(1, 3), channels=st.integers(1, 3), extra_h=st.integers(0, 5),
       extra_w=st.integers(0, 5), ties=st.booleans(), seed=seeds)
def test_pooling(matches_torch, pool, n, channels, extra_h, extra_w, ties, seed):
    """With ``ties`` the pixels take only the values 0, 1 and 2, as the flat background of a digit does, so max
    pooling must route each gradient to the first maximum of its window, as PyTorch."""
    rng = np.random.default_rng(seed)
    (kh, kw), (ph, pw) = pool.kernel_size, pool.padding
    shape = (n, channels, max(1, kh - 2 * ph) + extra_h, max(1, kw - 2 * pw) + extra_w)
    x = rng.integers(0, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    matches_torch(compare_with_torch(pool, x, seed=seed), pool.describe())


@given(scale=st.tuples(st.integers(1, 3), st.integers(1, 3)), mode=st.sampled_from(["nearest", "bilinear"]),
       n=st.integers(1, 2), channels=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(1, 5), seed=seeds)
def test_upsampling(matches_torch, scale, mode, n, channels, h, w, seed):
    layer = UpSampling2D(scale, mode=mode)
    rng = np.random.default_rng(seed)
    matches_torch(compare_with_torch(layer, images(rng, n, channels, h, w), seed=seed), layer.describe())


@pytest.mark.parametrize("mode, seed", [("nearest", 0), ("bilinear", 1)])
def test_small_conv_stack(matches_torch, mode, seed):
    rng = np.random.default_rng(seed)
    net = Sequential([
        Conv2D(1, 3, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2), Conv2D(3, 2, 2, stride=2, rng=rng),
        UpSampling2D(2, mode=mode), Conv2DTranspose(2, 1, 3, stride=2, padding=1, output_padding=1, rng=rng),
        AvgPool2D(3, stride=1, padding=1),
    ]).astype(np.float64)
    matches_torch(compare_with_torch(net, images(rng, 2, 1, 8, 8), seed=seed), "conv stack")
