"""Every Numba kernel against its plain-NumPy reference, on hypothesis-drawn awkward geometries.

Shapes include batch 1, one channel, odd and non-square sizes, non-square kernels, kernels as large as the
(padded) input, strides larger than the kernel and padding with max pooling. Values from a few integers make
ties common, so the first-maximum rule of max pooling is exercised too.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.kernels import conv, pooling, upsampling
from npae.kernels.conv import Convolution, choose_path, output_size
from npae.kernels.workspace import Workspace

EXACT = 1e-12  # float64 kernels and references differ only by summation order


def close(a, b, tol=EXACT):
    scale = max(np.abs(b).max(initial=0.0), 1.0)
    return a.shape == b.shape and np.abs(a - b).max(initial=0.0) <= tol * scale


@st.composite
def geometries(draw, max_pad=2, pad_at_most_half_kernel=False):
    """``(n, c, h, w, kernel, stride, padding)`` with at least one output position."""
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    limits = [k // 2 if pad_at_most_half_kernel else max_pad for k in kernel]
    padding = (draw(st.integers(0, min(limits[0], max_pad))), draw(st.integers(0, min(limits[1], max_pad))))
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), kernel[0] + 6))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), kernel[1] + 6))
    return draw(st.integers(1, 3)), draw(st.integers(1, 4)), h, w, kernel, stride, padding


def conv_arrays(seed, n, c, o, h, w, kernel, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((o, c) + kernel).astype(dtype)
    return x, weight, rng.standard_normal(o).astype(dtype), rng


def paths_for(stride):
    return ("gemm", "direct") if stride == (1, 1) else ("gemm",)


# ----------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------


#: (n, c, h, w, kernel, stride, padding) that every run covers, whatever hypothesis draws
AWKWARD = [
    (1, 1, 5, 5, (5, 5), (1, 1), (0, 0)),  # kernel as large as the input, batch 1, one channel
    (2, 3, 3, 4, (5, 6), (1, 1), (1, 1)),  # kernel as large as the padded input
    (2, 2, 7, 9, (2, 2), (3, 3), (0, 0)),  # stride larger than the kernel, odd sizes
    (1, 2, 9, 7, (3, 2), (2, 3), (1, 1)),  # non-square kernel, stride and padding
    (3, 1, 6, 5, (1, 1), (2, 1), (0, 0)),  # 1x1 kernel
]


def check_convolution(geometry, out_channels, seed):
    n, c, h, w, kernel, stride, padding = geometry
    x, weight, bias, rng = conv_arrays(seed, n, c, out_channels, h, w, kernel)
    y_ref = conv.conv2d_forward_reference(x, weight, bias, stride, padding)
    dy = rng.standard_normal(y_ref.shape)
    dx_ref = conv.conv2d_input_grad_reference(dy, weight, (h, w), stride, padding)
    dw_ref, _ = conv.conv2d_weight_grad_reference(x, dy, kernel, stride, padding)
    for path in paths_for(stride):
        op = Convolution(stride, padding, path=path)
        assert close(op.forward(x, weight, bias), y_ref), path
        dx, dw = op.backward(dy, weight, (h, w))
        assert close(dx, dx_ref), path
        assert close(dw, dw_ref), path


@given(geometries(), st.integers(1, 4), st.integers(0, 2**16))
def test_convolution_matches_reference(geometry, out_channels, seed):
    check_convolution(geometry, out_channels, seed)


@pytest.mark.parametrize("geometry", AWKWARD)
def test_convolution_matches_reference_on_awkward_geometries(geometry):
    check_convolution(geometry, 3, seed=1)


@given(geometries(), st.integers(1, 4), st.integers(0, 2**16))
def test_transposed_convolution_is_the_input_gradient(geometry, out_channels, seed):
    """Conv2DTranspose's forward (``input_grad`` alone) and backward (``forward`` then ``weight_grad``)."""
    n, c, h, w, kernel, stride, padding = geometry
    x, weight, _, rng = conv_arrays(seed, n, c, out_channels, h, w, kernel)
    y_shape = (n, out_channels, output_size(h, kernel[0], stride[0], padding[0]), output_size(w, kernel[1], stride[1], padding[1]))
    z = rng.standard_normal(y_shape)  # the transposed convolution's input
    for path in paths_for(stride):
        op = Convolution(stride, padding, path=path)
        assert close(op.input_grad(z, weight, (h, w)), conv.conv2d_input_grad_reference(z, weight, (h, w), stride, padding))
        op.forward(x, weight, np.zeros(out_channels))
        assert close(op.weight_grad(z), conv.conv2d_weight_grad_reference(x, z, kernel, stride, padding)[0])


def test_references_agree_with_a_loop_over_every_output():
    """The einsum references against the textbook six-fold loop, on one awkward case."""
    x, weight, bias, _ = conv_arrays(3, 2, 2, 3, 5, 4, (3, 2))
    stride, padding = (2, 1), (1, 2)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)))
    y = conv.conv2d_forward_reference(x, weight, bias, stride, padding)
    for n, o, i, j in np.ndindex(*y.shape):
        window = xp[n, :, i * 2 : i * 2 + 3, j : j + 2]
        assert y[n, o, i, j] == pytest.approx(bias[o] + np.sum(weight[o] * window), abs=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [(1, 16), (16, 32), (32, 16), (16, 1)])
def test_convolution_keeps_float32_on_the_convae_shapes(dtype, channels):
    c, o = channels
    x, weight, bias, rng = conv_arrays(0, 2, c, o, 6, 6, (3, 3), dtype)
    op = Convolution((1, 1), (1, 1))
    y = op.forward(x, weight, bias)
    dx, dw = op.backward(rng.standard_normal(y.shape).astype(dtype), weight, (6, 6))
    assert y.dtype == dx.dtype == dw.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else EXACT
    assert close(y, conv.conv2d_forward_reference(x.astype(np.float64), weight.astype(np.float64), bias.astype(np.float64), (1, 1), (1, 1)), tol)


def test_choose_path_goes_direct_for_the_convae_and_gemm_for_wide_or_strided_convolutions():
    for channels in [(1, 16), (16, 32), (32, 16), (16, 1), (32, 32)]:
        assert choose_path(*channels, (1, 1)) == "direct"
    assert choose_path(64, 64, (1, 1)) == "gemm"
    assert choose_path(1, 1, (2, 1)) == "gemm"


def test_convolution_refuses_a_direct_path_with_stride_and_unknown_paths():
    with pytest.raises(ValueError, match="stride"):
        Convolution((2, 1), (0, 0), path="direct")
    with pytest.raises(ValueError, match="path"):
        Convolution((1, 1), (0, 0), path="fft")


def test_weight_grad_needs_the_forward_patches():
    x, weight, bias, _ = conv_arrays(0, 1, 16, 8, 5, 5, (3, 3))
    op = Convolution((1, 1), (1, 1), path="gemm")
    with pytest.raises(RuntimeError, match="forward"):
        op.weight_grad(np.ones((1, 8, 5, 5)))
    y = op.forward(x, weight, bias)
    op.input_grad(y, weight, (5, 5))  # overwrites the patches with gradients
    with pytest.raises(RuntimeError, match="before input_grad"):
        op.weight_grad(y)


def test_returned_arrays_are_fresh_while_scratch_is_reused():
    x, weight, bias, _ = conv_arrays(0, 2, 16, 8, 6, 6, (3, 3))
    op = Convolution((1, 1), (1, 1))
    first = op.forward(x, weight, bias)
    kept = first.copy()
    held = op.workspace.nbytes()
    second = op.forward(2 * x, weight, bias)
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, kept)
    assert op.workspace.nbytes() == held


def test_workspace_grows_and_hands_out_views():
    ws = Workspace()
    a = ws.get("buf", (2, 3), np.float32)
    b = ws.get("buf", (3,), np.float32)
    assert np.shares_memory(a, b) and b.flags.c_contiguous
    c = ws.get("buf", (4, 4), np.float32)
    assert c.shape == (4, 4) and not np.shares_memory(a, c)
    assert ws.get("buf", (2,), np.float64).dtype == np.float64
    ws.clear()
    assert ws.nbytes() == 0


# ----------------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------------


def tied_images(seed, shape):
    """Values from {0, 1, 2}: most windows hold ties."""
    return np.random.default_rng(seed).integers(0, 3, size=shape).astype(np.float64)


def check_max_pool(geometry, seed):
    n, c, h, w, kernel, stride, padding = geometry
    x = tied_images(seed, (n, c, h, w))
    y_ref, argmax_ref = pooling.max_pool2d_forward_reference(x, kernel, stride, padding)
    y = np.empty_like(y_ref)
    argmax = np.empty(y_ref.shape, np.int32)
    pooling.max_pool2d_forward(x, *kernel, *stride, *padding, y, argmax)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dx = np.empty_like(x)
    pooling.max_pool2d_backward(dy, argmax, dx)
    assert close(dx, pooling.max_pool2d_backward_reference(dy, argmax_ref, x.shape))


def check_avg_pool(geometry, seed):
    n, c, h, w, kernel, stride, padding = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    y_ref = pooling.avg_pool2d_forward_reference(x, kernel, stride, padding)
    y = np.empty_like(y_ref)
    pooling.avg_pool2d_forward(x, *kernel, *stride, *padding, y)
    assert close(y, y_ref)
    dy = rng.standard_normal(y.shape)
    dx = np.empty_like(x)
    pooling.avg_pool2d_backward(dy, *kernel, *stride, *padding, dx)
    assert close(dx, pooling.avg_pool2d_backward_reference(dy, x.shape, kernel, stride, padding))


@given(geometries(pad_at_most_half_kernel=True), st.integers(0, 2**16))
def test_pooling_matches_reference_with_ties(geometry, seed):
    check_max_pool(geometry, seed)
    check_avg_pool(geometry, seed)


#: pooling corners: padding with max pooling, window as large as the padded input, stride beyond the window
AWKWARD_POOLS = [
    (1, 1, 4, 4, (3, 3), (1, 1), (1, 1)),
    (2, 3, 3, 5, (5, 5), (2, 2), (1, 2)),
    (2, 2, 7, 8, (2, 1), (3, 3), (1, 0)),
    (1, 1, 1, 1, (1, 1), (2, 2), (0, 0)),
]


@pytest.mark.parametrize("geometry", AWKWARD_POOLS)
def test_pooling_matches_reference_on_awkward_geometries(geometry):
    check_max_pool(geometry, seed=1)
    check_avg_pool(geometry, seed=1)


def test_max_pool_reference_routes_ties_to_the_first_maximum():
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]]]])
    y, argmax = pooling.max_pool2d_forward_reference(x, (2, 3), (1, 1), (0, 0))
    assert y[0, 0, 0, 0] == 3.0 and argmax[0, 0, 0, 0] == 1  # (0, 1) comes first in row-major order


def test_max_pool_nan_wins_as_in_pytorch():
    """``v > best or v != v``: a NaN replaces the running maximum (PyTorch's CPU rule)."""
    x = np.array([[[[1.0, np.nan, 5.0, 0.5]]]])
    y = np.empty((1, 1, 1, 1))
    argmax = np.empty((1, 1, 1, 1), np.int32)
    pooling.max_pool2d_forward(x, 1, 4, 1, 1, 0, 0, y, argmax)
    assert np.isnan(y[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 1


# ----------------------------------------------------------------------------------------------
# upsampling
# ----------------------------------------------------------------------------------------------


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(1, 4),
       st.integers(1, 4), st.integers(0, 2**16))
def test_upsampling_matches_reference(n, c, h, w, sh, sw, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    dy = rng.standard_normal((n, c, h * sh, w * sw))
    y = np.empty_like(dy)
    dx = np.empty_like(x)
    upsampling.nearest_upsample(x, sh, sw, y)
    np.testing.assert_array_equal(y, upsampling.nearest_upsample_reference(x, (sh, sw)))
    upsampling.nearest_upsample_backward(dy, sh, sw, dx)
    assert close(dx, upsampling.nearest_upsample_backward_reference(dy, (sh, sw)))
    taps = upsampling.bilinear_taps(h, sh, x.dtype) + upsampling.bilinear_taps(w, sw, x.dtype)
    upsampling.bilinear_upsample(x, *taps, y)
    assert close(y, upsampling.bilinear_upsample_reference(x, (sh, sw)))
    upsampling.bilinear_upsample_backward(dy, *taps, dx)
    assert close(dx, upsampling.bilinear_upsample_backward_reference(dy, (sh, sw)))


def test_bilinear_taps_by_hand():
    """Doubling [0, 1]: outputs at source positions -1/4 (clamped to 0), 1/4, 3/4, 5/4 (clamped row)."""
    lo, hi, w_lo, w_hi = upsampling.bilinear_taps(2, 2, np.float64)
    np.testing.assert_array_equal(lo, [0, 0, 0, 1])
    np.testing.assert_array_equal(hi, [1, 1, 1, 1])
    values = w_lo * np.array([0.0, 1.0])[lo] + w_hi * np.array([0.0, 1.0])[hi]
    np.testing.assert_allclose(values, [0.0, 0.25, 0.75, 1.0])


def test_each_compiled_kernel_wraps_its_own_python_function():
    """Numba's on-disk cache files a compiled function under its Python function's name and line, not under
    the compile options: two dispatchers made from one function (one serial, one ``parallel=True``) load
    each other's machine code, so the "serial" one silently wakes the thread pool (or the reverse). That
    once cost 0.1 ms on each of the 12 Adam updates of a ConvAE step."""
    import importlib
    import pkgutil

    import numba.core.registry

    import npae

    owners = {}
    for info in pkgutil.walk_packages(npae.__path__, "npae."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, numba.core.registry.CPUDispatcher) and value.__module__ == module.__name__:
                owners.setdefault(value.py_func, set()).add(f"{module.__name__}.{name}")
    assert owners, "no Numba kernels found"
    shared = {func.__qualname__: names for func, names in owners.items() if len(names) > 1}
    assert not shared, f"dispatchers sharing one Python function (and so one cache entry): {shared}"


SPECIAL = [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 1e4, -1e4, np.inf, -np.inf, np.nan]


@given(st.lists(st.integers(1, 7), min_size=1, max_size=4), st.integers(0, 2**16),
       st.sampled_from([np.float32, np.float64]))
def test_elementwise_kernels_match_numpy(shape, seed, dtype):
    from npae.kernels import elementwise

    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    x.reshape(-1)[: len(SPECIAL)] = SPECIAL[: x.size]
    dy = rng.standard_normal(shape).astype(dtype)
    dy.reshape(-1)[-2:] = [np.inf, np.nan][-x.size:]
    got, want = elementwise.relu_backward(x, dy), elementwise.relu_backward_reference(x, dy)
    assert got.dtype == dtype and np.array_equal(got, want, equal_nan=True)
    got, want = elementwise.sigmoid(x), elementwise.sigmoid_reference(x)
    assert got.dtype == dtype and got.shape == x.shape
    # libm's exp and NumPy's vectorised exp may differ in the last bits
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)
    transposed = x.T  # not contiguous
    np.testing.assert_array_equal(elementwise.sigmoid(transposed), elementwise.sigmoid(np.ascontiguousarray(transposed)))


@given(st.integers(1, 3), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9), st.integers(0, 2**16),
       st.sampled_from([np.float32, np.float64]))
def test_unrolled_2x2_max_pool_matches_reference_with_ties_nan_and_infinities(n, c, h, w, seed, dtype):
    """The 2x2/stride-2 kernel takes a fast path for windows without NaN; it must keep the first maximum,
    let the first NaN win, and treat a window holding both infinities (whose sum is NaN) correctly."""
    rng = np.random.default_rng(seed)
    values = np.array([0.0, 1.0, 2.0, np.nan, np.inf, -np.inf], dtype)
    x = rng.choice(values, size=(n, c, h, w), p=[0.3, 0.25, 0.2, 0.05, 0.1, 0.1])
    y_ref, argmax_ref = pooling.max_pool2d_forward_reference(x, (2, 2), (2, 2), (0, 0))
    y, argmax = np.empty_like(y_ref), np.empty(y_ref.shape, np.int32)
    pooling._max_pool2d_forward_2x2(x, y, argmax)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
