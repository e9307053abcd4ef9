"""The operations interface (``npae.backends``), tested the same way on both backends.

Each operation is compared with an oracle written here from its definition, output position by output position
(the textbook loop), on hypothesis-drawn awkward geometries: batch 1, one channel, odd and non-square sizes,
non-square kernels, kernels as large as the (padded) input, strides larger than the kernel, padding with max
pooling. Integer-valued images make ties common, so max pooling's first-maximum rule is exercised too.
"""

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npae
from npae.backends import BACKENDS, OPERATIONS, ops, signatures
from npae.core.functions import conv_output_size

EXACT = 1e-12  # float64 implementations and oracles differ only by summation order


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


#: geometries every run covers, whatever hypothesis draws
AWKWARD = [
    (1, 1, 5, 5, (5, 5), (1, 1), (0, 0)),  # kernel as large as the input, batch 1, one channel
    (2, 3, 3, 4, (5, 6), (1, 1), (1, 1)),  # kernel as large as the padded input
    (2, 2, 7, 9, (2, 2), (3, 3), (0, 0)),  # stride larger than the kernel, odd sizes
    (1, 2, 9, 7, (3, 2), (2, 3), (1, 1)),  # non-square kernel, stride and padding
    (3, 1, 6, 5, (1, 1), (2, 1), (0, 0)),  # 1x1 kernel
]
AWKWARD_POOLS = [  # padding with max pooling, window as large as the padded input, stride beyond the window
    (1, 1, 4, 4, (3, 3), (1, 1), (1, 1)),
    (2, 3, 3, 5, (5, 5), (2, 2), (1, 2)),
    (2, 2, 7, 8, (2, 1), (3, 3), (1, 0)),
    (1, 1, 1, 1, (1, 1), (2, 2), (0, 0)),
]


@pytest.fixture(params=BACKENDS)
def backend_name(request):
    with npae.backend(request.param):
        yield request.param


# ----------------------------------------------------------------------------------------------
# oracles: the definitions, one output position at a time
# ----------------------------------------------------------------------------------------------


def padded(x, padding, fill=0.0):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)


def output_positions(h, w, kernel, stride, padding):
    ho, wo = (conv_output_size(s, k, st_, p) for s, k, st_, p in zip((h, w), kernel, stride, padding))
    for i in range(ho):
        for j in range(wo):
            yield i, j, (slice(i * stride[0], i * stride[0] + kernel[0]), slice(j * stride[1], j * stride[1] + kernel[1]))


def conv_oracle(x, w, b, stride, padding):
    """``y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] xp[n, c, i sh + a, j sw + e]``."""
    xp = padded(x, padding)
    positions = list(output_positions(*x.shape[2:], w.shape[2:], stride, padding))
    ho, wo = positions[-1][0] + 1, positions[-1][1] + 1
    y = np.empty((x.shape[0], w.shape[0], ho, wo))
    for i, j, (rows, cols) in positions:
        y[:, :, i, j] = np.einsum("ncae,ocae->no", xp[:, :, rows, cols], w) + b
    return y


def conv_input_grad_oracle(dy, w, input_hw, stride, padding):
    """``dxp[n, c, window(i, j)] += sum_o dy[n, o, i, j] W[o, c]``, then crop."""
    (ph, pw), (h, wd) = padding, input_hw
    dxp = np.zeros((dy.shape[0], w.shape[1], h + 2 * ph, wd + 2 * pw))
    for i, j, (rows, cols) in output_positions(h, wd, w.shape[2:], stride, padding):
        dxp[:, :, rows, cols] += np.einsum("no,ocae->ncae", dy[:, :, i, j], w)
    return dxp[:, :, ph : ph + h, pw : pw + wd]


def conv_weight_grad_oracle(x, dy, kernel, stride, padding):
    """``dW[o, c, a, e] = sum_{n, i, j} dy[n, o, i, j] xp[n, c, i sh + a, j sw + e]``."""
    xp = padded(x, padding)
    dw = np.zeros((dy.shape[1], x.shape[1]) + tuple(kernel))
    for i, j, (rows, cols) in output_positions(*x.shape[2:], kernel, stride, padding):
        dw += np.einsum("no,ncae->ocae", dy[:, :, i, j], xp[:, :, rows, cols])
    return dw


def max_pool_oracle(x, kernel, stride, padding):
    """Window maxima and the flat plane index of each window's first maximum (row-major window order)."""
    n, c, h, w = x.shape
    xp = padded(x, padding, -np.inf)
    positions = list(output_positions(h, w, kernel, stride, padding))
    ho, wo = positions[-1][0] + 1, positions[-1][1] + 1
    y, argmax = np.empty((n, c, ho, wo)), np.empty((n, c, ho, wo), dtype=np.int64)
    for i, j, (rows, cols) in positions:
        for a, e in np.ndindex(n, c):
            window = xp[a, e, rows, cols]
            k = int(np.argmax(window))  # the first maximum; NaN counts as the maximum
            r, q = divmod(k, kernel[1])
            y[a, e, i, j] = window.flat[k]
            argmax[a, e, i, j] = (rows.start + r - padding[0]) * w + (cols.start + q - padding[1])
    return y, argmax


def avg_pool_oracle(x, kernel, stride, padding):
    xp = padded(x, padding)
    positions = list(output_positions(*x.shape[2:], kernel, stride, padding))
    y = np.empty(x.shape[:2] + (positions[-1][0] + 1, positions[-1][1] + 1))
    for i, j, (rows, cols) in positions:
        y[:, :, i, j] = xp[:, :, rows, cols].sum(axis=(2, 3)) / (kernel[0] * kernel[1])
    return y


def avg_pool_backward_oracle(dy, input_shape, kernel, stride, padding):
    (ph, pw), (n, c, h, w) = padding, input_shape
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for i, j, (rows, cols) in output_positions(h, w, kernel, stride, padding):
        dxp[:, :, rows, cols] += dy[:, :, i, j][:, :, None, None] / (kernel[0] * kernel[1])
    return dxp[:, :, ph : ph + h, pw : pw + w]


def bilinear_source(i, size, scale):
    """PyTorch's ``align_corners=False``: output ``i`` reads the input between ``r0`` and ``r1``, weight ``f`` on ``r1``."""
    s = max((i + 0.5) / scale - 0.5, 0.0)
    r0 = int(np.floor(s))
    return r0, min(r0 + 1, size - 1), s - r0


def bilinear_matrix(size, scale):
    a = np.zeros((size * scale, size))
    for i in range(size * scale):
        r0, r1, f = bilinear_source(i, size, scale)
        a[i, r0] += 1 - f
        a[i, r1] += f
    return a


# ----------------------------------------------------------------------------------------------
# the switch
# ----------------------------------------------------------------------------------------------


def test_both_backends_implement_every_operation_with_the_same_signature():
    reference, fast = signatures("reference"), signatures("fast")
    assert set(reference) == set(fast) == set(OPERATIONS)
    for name in OPERATIONS:
        assert reference[name] == fast[name], name


def test_ops_attributes_are_the_chosen_backends_functions():
    from npae.backends import reference

    with npae.backend("reference"):
        assert ops.conv2d_forward is reference.conv2d_forward
        assert npae.get_backend() == "reference"
        assert inspect.getmodule(ops.max_pool2d_forward).__name__ == "npae.backends.reference.pooling"


def test_context_manager_restores_the_previous_backend_even_after_an_error():
    before = npae.get_backend()
    with pytest.raises(RuntimeError):
        with npae.backend("reference"):
            raise RuntimeError("boom")
    assert npae.get_backend() == before


def test_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'reference', 'fast'"):
        npae.set_backend("gpu")


def test_environment_variable_chooses_the_backend_and_reference_needs_no_numba():
    code = "import sys, npae; print(npae.get_backend(), 'numba' in sys.modules)"
    env = dict(os.environ, NPAE_BACKEND="reference")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["reference", "False"]


# ----------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------


def check_convolution(geometry, out_channels, seed):
    n, c, h, w, kernel, stride, padding = geometry
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal((n, c, h, w)), rng.standard_normal((out_channels, c) + kernel)
    bias = rng.standard_normal(out_channels)
    y = ops.conv2d_forward(x, weight, bias, stride, padding)
    assert close(y, conv_oracle(x, weight, bias, stride, padding))
    dy = rng.standard_normal(y.shape)
    assert close(ops.conv2d_input_grad(dy, weight, (h, w), stride, padding),
                 conv_input_grad_oracle(dy, weight, (h, w), stride, padding))
    assert close(ops.conv2d_weight_grad(x, dy, kernel, stride, padding),
                 conv_weight_grad_oracle(x, dy, kernel, stride, padding))
    assert close(ops.conv2d_bias_grad(dy), np.einsum("nohw->o", dy))


@pytest.mark.parametrize("name", BACKENDS)
@given(geometry=geometries(), out_channels=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_convolution_matches_its_definition(name, geometry, out_channels, seed):
    with npae.backend(name):
        check_convolution(geometry, out_channels, seed)


@pytest.mark.parametrize("geometry", AWKWARD)
def test_convolution_matches_its_definition_on_awkward_geometries(backend_name, geometry):
    check_convolution(geometry, 3, seed=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [(1, 16), (16, 32), (32, 16), (16, 1), (64, 64)])
def test_convolution_keeps_the_dtype(backend_name, dtype, channels):
    c, o = channels
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((2, c, 6, 6)).astype(dtype), rng.standard_normal((o, c, 3, 3)).astype(dtype)
    y = ops.conv2d_forward(x, weight, np.zeros(o, dtype), (1, 1), (1, 1))
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = ops.conv2d_input_grad(dy, weight, (6, 6), (1, 1), (1, 1))
    dw = ops.conv2d_weight_grad(x, dy, (3, 3), (1, 1), (1, 1))
    assert y.dtype == dx.dtype == dw.dtype == ops.conv2d_bias_grad(dy).dtype == dtype
    tol = 1e-5 if dtype == np.float32 else EXACT
    assert close(y, conv_oracle(x.astype(np.float64), weight.astype(np.float64), np.zeros(o), (1, 1), (1, 1)), tol)


def test_operations_return_fresh_arrays(backend_name):
    rng = np.random.default_rng(0)
    x, weight, bias = rng.standard_normal((2, 16, 6, 6)), rng.standard_normal((8, 16, 3, 3)), np.zeros(8)
    first = ops.conv2d_forward(x, weight, bias, (1, 1), (1, 1))
    kept = first.copy()
    second = ops.conv2d_forward(2 * x, weight, bias, (1, 1), (1, 1))
    assert not np.shares_memory(first, second) and not np.shares_memory(first, x)
    np.testing.assert_array_equal(first, kept)
    y, argmax = ops.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    y2, argmax2 = ops.max_pool2d_forward(x + 1, (2, 2), (2, 2), (0, 0))
    assert not np.shares_memory(argmax, argmax2) and not np.shares_memory(y, y2)


def test_operations_accept_non_contiguous_inputs(backend_name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 7, 5)).transpose(0, 1, 3, 2)  # (4, 2, 5, 7), not C-contiguous
    weight = rng.standard_normal((3, 2, 3, 3))
    assert close(ops.conv2d_forward(x, weight, np.zeros(3), (1, 1), (1, 1)),
                 conv_oracle(x, weight, np.zeros(3), (1, 1), (1, 1)))
    assert close(ops.upsample_nearest(x, (2, 3)), x.repeat(2, axis=2).repeat(3, axis=3))


# ----------------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------------


def check_pooling(geometry, seed):
    n, c, h, w, kernel, stride, padding = geometry
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(n, c, h, w)).astype(np.float64)  # values in {0, 1, 2}: ties everywhere
    y, argmax = ops.max_pool2d_forward(x, kernel, stride, padding)
    y_want, argmax_want = max_pool_oracle(x, kernel, stride, padding)
    np.testing.assert_array_equal(y, y_want)
    np.testing.assert_array_equal(argmax, argmax_want)
    dy = rng.standard_normal(y.shape)
    dx_want = np.zeros(x.shape)
    for index in np.ndindex(*y.shape):
        plane = dx_want[index[0], index[1]].reshape(-1)
        plane[argmax_want[index]] += dy[index]
    assert close(ops.max_pool2d_backward(dy, argmax, x.shape), dx_want)
    assert close(ops.avg_pool2d_forward(x, kernel, stride, padding), avg_pool_oracle(x, kernel, stride, padding))
    assert close(ops.avg_pool2d_backward(dy, x.shape, kernel, stride, padding),
                 avg_pool_backward_oracle(dy, x.shape, kernel, stride, padding))


@pytest.mark.parametrize("name", BACKENDS)
@given(geometry=geometries(pad_at_most_half_kernel=True), seed=st.integers(0, 2**16))
def test_pooling_matches_its_definition_with_ties(name, geometry, seed):
    with npae.backend(name):
        check_pooling(geometry, seed)


@pytest.mark.parametrize("geometry", AWKWARD_POOLS)
def test_pooling_matches_its_definition_on_awkward_geometries(backend_name, geometry):
    check_pooling(geometry, seed=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_routes_ties_to_the_first_maximum_and_lets_nan_win(backend_name, dtype):
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]]]], dtype)
    y, argmax = ops.max_pool2d_forward(x, (2, 3), (1, 1), (0, 0))
    assert y[0, 0, 0, 0] == 3.0 and argmax[0, 0, 0, 0] == 1  # (0, 1) comes first in row-major order
    x = np.array([[[[1.0, np.nan, 5.0, 0.5]]]], dtype)
    y, argmax = ops.max_pool2d_forward(x, (1, 4), (1, 1), (0, 0))
    assert np.isnan(y[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 1


@pytest.mark.parametrize("name", BACKENDS)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(1, 5), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_2x2_max_pool_handles_ties_nan_and_both_infinities(name, n, c, h, w, seed, dtype):
    """The usual pooling (2x2, stride 2, no padding) on windows holding ties, NaN, and +inf beside -inf."""
    rng = np.random.default_rng(seed)
    values = np.array([0.0, 1.0, 2.0, np.nan, np.inf, -np.inf], dtype)
    x = rng.choice(values, size=(n, c, 2 * h, 2 * w), p=[0.3, 0.25, 0.2, 0.05, 0.1, 0.1])
    with npae.backend(name):
        y, argmax = ops.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    y_want, argmax_want = max_pool_oracle(x.astype(np.float64), (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(y, y_want.astype(dtype))
    np.testing.assert_array_equal(argmax, argmax_want)


# ----------------------------------------------------------------------------------------------
# upsampling
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BACKENDS)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6), sh=st.integers(1, 4),
       sw=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_upsampling_matches_its_definition(name, n, c, h, w, sh, sw, seed):
    rng = np.random.default_rng(seed)
    x, dy = rng.standard_normal((n, c, h, w)), rng.standard_normal((n, c, h * sh, w * sw))
    nearest = np.empty(dy.shape)
    for i, j in np.ndindex(h * sh, w * sw):
        nearest[:, :, i, j] = x[:, :, i // sh, j // sw]
    a_h, a_w = bilinear_matrix(h, sh), bilinear_matrix(w, sw)
    with npae.backend(name):
        np.testing.assert_array_equal(ops.upsample_nearest(x, (sh, sw)), nearest)
        # the adjoint: <dy, up(x)> = <up^T(dy), x> for every x, so up^T(dy) = sum over each block
        block_sums = dy.reshape(n, c, h, sh, w, sw).sum(axis=(3, 5))
        assert close(ops.upsample_nearest_backward(dy, (sh, sw)), block_sums)
        assert close(ops.upsample_bilinear(x, (sh, sw)), np.einsum("ir,ncrq,jq->ncij", a_h, x, a_w))
        assert close(ops.upsample_bilinear_backward(dy, (sh, sw)), np.einsum("ir,ncij,jq->ncrq", a_h, dy, a_w))


def test_bilinear_doubling_by_hand(backend_name):
    """Doubling [0, 1]: outputs at source positions -1/4 (clamped to 0), 1/4, 3/4, 5/4 (clamped row)."""
    y = ops.upsample_bilinear(np.array([[[[0.0, 1.0]]]]), (1, 2))
    np.testing.assert_allclose(y[0, 0, 0], [0.0, 0.25, 0.75, 1.0])


# ----------------------------------------------------------------------------------------------
# elementwise, matmul, Adam, the VAE's likelihood, t-SNE's gradient
# ----------------------------------------------------------------------------------------------

SPECIAL = [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 1e4, -1e4, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("name", BACKENDS)
@given(shape=st.lists(st.integers(1, 7), min_size=1, max_size=4), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_elementwise_operations_match_their_definitions(name, shape, seed, dtype):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    x.reshape(-1)[: len(SPECIAL)] = SPECIAL[: x.size]
    dy = rng.standard_normal(shape).astype(dtype)
    with npae.backend(name):
        got = ops.relu_backward(x, dy)
        assert got.dtype == dtype and np.array_equal(got, np.where(x > 0, dy, 0).astype(dtype), equal_nan=True)
        got = ops.relu(x)
        assert got.dtype == dtype and np.array_equal(got, np.maximum(x, 0), equal_nan=True)
        got = ops.sigmoid(x)
        transposed = ops.sigmoid(x.T)
    with np.errstate(over="ignore"):
        want = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(dtype)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)
    np.testing.assert_array_equal(transposed, got.T)


def test_matmul(backend_name):
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(ops.matmul(a, b), a @ b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_update_follows_its_formula_over_several_steps(backend_name, dtype):
    """Five steps from zero moments, against the rule written out with bias corrections ``1 - b^t``: a wrong
    correction (``1 - b2`` for ``1 - b2^t``) agrees at t = 1 only."""
    rng = np.random.default_rng(0)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    p = rng.standard_normal((7, 5)).astype(dtype)
    m, v = np.zeros_like(p), np.zeros_like(p)
    want, m_want, v_want = p.astype(np.float64), np.zeros((7, 5)), np.zeros((7, 5))
    for t in range(1, 6):
        g = rng.standard_normal(p.shape).astype(dtype)
        ops.adam_update(p, g, m, v, lr / (1 - b1**t), b1, b2, eps, np.sqrt(1 - b2**t))
        m_want = b1 * m_want + (1 - b1) * g
        v_want = b2 * v_want + (1 - b2) * g.astype(np.float64) ** 2
        want -= lr * (m_want / (1 - b1**t)) / (np.sqrt(v_want / (1 - b2**t)) + eps)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert p.dtype == m.dtype == v.dtype == dtype
    np.testing.assert_allclose(p, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(m, m_want, rtol=tol, atol=tol)


def test_adam_update_of_a_non_contiguous_parameter_happens_in_place(backend_name):
    base = np.ones((4, 6))
    p = base[:, ::2]  # a view: its flat reshape would be a copy
    ops.adam_update(p, np.ones_like(p), np.zeros_like(p), np.zeros_like(p), 0.1, 0.9, 0.999, 1e-8, 0.03)
    assert np.all(base[:, ::2] < 1) and np.all(base[:, 1::2] == 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bernoulli_nll_of_samples(backend_name, dtype):
    rng = np.random.default_rng(0)
    k, x = 3, (rng.random((4, 6)) < 0.5).astype(dtype)
    logits = (rng.standard_normal((12, 6)) * 30).astype(dtype)
    want = [np.sum(np.logaddexp(0, logits[r].astype(np.float64)) - x[r // k] * logits[r]) for r in range(12)]
    got = ops.bernoulli_nll_of_samples(logits, x, k)
    assert got.dtype == dtype and got.shape == (12,)
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("certain", [False, True])
def test_bernoulli_nll_of_long_rows_and_of_nearly_certain_pixels(backend_name, certain):
    """Rows of 1500 pixels (the fast float32 kernel multiplies the terms of ``log1p`` in chunks, which must not
    overflow); with ``certain``, black images scored against logits near -40 (each term about ``e^-40``, the
    row's total about 1e-14, which must keep its relative precision)."""
    rng = np.random.default_rng(1)
    noise = rng.uniform(-0.5, 0.5, (4, 1500)).astype(np.float32)
    if certain:
        x, logits = np.zeros((2, 1500), np.float32), noise - 40
    else:
        x, logits = (rng.random((2, 1500)) < 0.5).astype(np.float32), 3 * noise
    want = [np.sum(np.logaddexp(0, logits[r].astype(np.float64)) - x[r // 2] * logits[r]) for r in range(4)]
    np.testing.assert_allclose(ops.bernoulli_nll_of_samples(logits, x, 2), want, rtol=1e-6)


def test_bernoulli_nll_of_samples_below_floats_normal_range(backend_name):
    """A row of 784 logits near -95 scores about 784 e^-95 = 4e-39, a subnormal float32 (the fast kernel builds
    its exponentials from their bits, and must not flush these to 0); one such pixel beside ordinary ones."""
    rng = np.random.default_rng(2)
    logits = np.stack([-95 + rng.uniform(-1, 1, 784), np.r_[-95.0, rng.standard_normal(783)]]).astype(np.float32)
    x = np.zeros((1, 784), np.float32)
    want = [np.sum(np.logaddexp(0, row.astype(np.float64))) for row in logits]
    np.testing.assert_allclose(ops.bernoulli_nll_of_samples(logits, x, 2), want, rtol=1e-5)


@pytest.mark.parametrize("n", [7, 1100])  # the fast backend shares the rows among threads from 1000 points on
def test_tsne_gradient_matches_its_definition(backend_name, n):
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((n, 2))
    P = rng.random((n, n))
    P = (P + P.T) / 2
    np.fill_diagonal(P, 0)
    P /= P.sum()
    d2 = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(axis=-1)
    weights = 1 / (1 + d2)
    np.fill_diagonal(weights, 0)
    q = weights / weights.sum()
    want = 4 * np.einsum("ij,ijd->id", (3.0 * P - q) * weights, Y[:, None, :] - Y[None, :, :])
    assert close(ops.tsne_gradient(P, Y, 3.0), want, 1e-10)
