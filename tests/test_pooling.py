"""MaxPool2D and AvgPool2D: finite differences, tie handling on flat-background images, PyTorch semantics,
errors and dtype."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae import AvgPool2D, MaxPool2D
from npae.gradcheck import check_layer

from support import GRAD_TOL, import_framework, mnist_dir, one_numba_thread, requires_mnist  # noqa: F401 (autouse fixture)


@st.composite
def pool_cases(draw):
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, min(2, kernel[0] // 2))), draw(st.integers(0, min(2, kernel[1] // 2))))
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), kernel[0] + 5))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), kernel[1] + 5))
    return kernel, stride, padding, (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w), draw(st.integers(0, 2**16))


def distinct_values(shape, seed):
    """A shuffled grid of values 0.01 apart: no ties and no maximum within reach of a finite-difference step."""
    values = 0.01 * np.random.default_rng(seed).permutation(int(np.prod(shape))).astype(np.float64)
    return values.reshape(shape)


@given(pool_cases())
def test_max_pool_gradient_by_finite_differences(case):
    kernel, stride, padding, shape, seed = case
    errors = check_layer(MaxPool2D(kernel, stride, padding), distinct_values(shape, seed), seed=seed)
    assert errors["x"] < GRAD_TOL, errors


@given(pool_cases())
def test_avg_pool_gradient_by_finite_differences(case):
    kernel, stride, padding, shape, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    errors = check_layer(AvgPool2D(kernel, stride, padding), x, seed=seed)
    assert errors["x"] < GRAD_TOL, errors


# ----------------------------------------------------------------------------------------------
# ties: the gradient goes to the first maximum of each window, never to every tied pixel
# ----------------------------------------------------------------------------------------------


def first_maximum_gradient(x, dy, k):
    """The gradient a k x k, stride-k max pool must return, by a plain loop over the windows."""
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dy.shape):
        window = x[n, c, i * k : i * k + k, j * k : j * k + k]
        a, e = np.unravel_index(np.argmax(window), window.shape)  # argmax: the first maximum, row-major
        dx[n, c, i * k + a, j * k + e] += dy[n, c, i, j]
    return dx


def check_routing(x, k=2):
    pool = MaxPool2D(k)
    y = pool.forward(x)
    dy = np.random.default_rng(0).standard_normal(y.shape).astype(x.dtype)
    dx = pool.backward(dy)
    np.testing.assert_array_equal(dx, first_maximum_gradient(x, dy, k))
    assert np.count_nonzero(dx) == y.size  # one pixel per window (an equality mask would light every tie)
    assert dx.sum() == pytest.approx(float(dy.sum()), rel=1e-5)


def synthetic_digit():
    """A ring-shaped stroke on a flat black 28 x 28 background, grey levels in 1/255 steps like MNIST."""
    r, q = np.mgrid[:28, :28]
    distance = np.hypot(r - 13.5, q - 14.0)
    stroke = np.clip(1.0 - np.abs(distance - 8.0) / 2.5, 0.0, 1.0)
    return (np.round(stroke * 255) / 255).astype(np.float32)[None, None]


def test_constant_image_routes_to_the_top_left_of_each_window():
    x = np.full((1, 2, 6, 6), 0.5, np.float32)
    pool = MaxPool2D(2)
    pool.forward(x)
    dx = pool.backward(np.ones((1, 2, 3, 3), np.float32) * np.arange(1, 10, dtype=np.float32).reshape(3, 3))
    expected = np.zeros((6, 6), np.float32)
    expected[::2, ::2] = np.arange(1, 10).reshape(3, 3)
    np.testing.assert_array_equal(dx[0, 0], expected)
    check_routing(x)


def test_flat_background_digit_routes_one_pixel_per_window():
    x = synthetic_digit()
    assert np.mean(x == 0) > 0.5  # mostly tied background
    check_routing(x)
    check_routing(x, k=4)


@requires_mnist
def test_real_mnist_digits_route_one_pixel_per_window():
    from npae.datasets import load_mnist

    images, _ = load_mnist("test", data_dir=mnist_dir(), download=False)
    check_routing(np.ascontiguousarray(images[:8]))


def test_overlapping_windows_add_their_gradients():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0  # the maximum of all four 2x2 windows (stride 1)
    pool = MaxPool2D(2, stride=1)
    pool.forward(x)
    dx = pool.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    assert dx[0, 0, 1, 1] == 10.0 and np.count_nonzero(dx) == 1


@pytest.mark.torch
def test_matches_pytorch_on_ties_and_padding():
    torch = import_framework("torch")
    x = np.concatenate([synthetic_digit()] * 2, axis=1).astype(np.float64)
    x[0, 1] = np.round(x[0, 1] * 3)  # coarse levels: ties inside the stroke as well
    for kernel, stride, padding in [(2, None, 0), (3, 2, 1), ((3, 2), (1, 3), (1, 0))]:
        for ours, theirs in [(MaxPool2D(kernel, stride, padding), torch.nn.MaxPool2d(kernel, stride, padding)),
                             (AvgPool2D(kernel, stride, padding), torch.nn.AvgPool2d(kernel, stride, padding))]:
            xt = torch.from_numpy(x).requires_grad_(True)
            yt = theirs(xt)
            dy = np.random.default_rng(0).standard_normal(tuple(yt.shape))
            yt.backward(torch.from_numpy(dy))
            np.testing.assert_allclose(ours.forward(x), yt.detach().numpy(), rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(ours.backward(dy), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------------------------
# semantics, dtype and errors
# ----------------------------------------------------------------------------------------------


def test_stride_defaults_to_the_kernel_and_sizes_follow_pytorch():
    pool = MaxPool2D((3, 2))
    assert pool.stride == (3, 2)
    assert pool.output_shape((4, 10, 7)) == (4, 3, 3)
    assert AvgPool2D(3, stride=2, padding=1).output_shape((1, 7, 8)) == (1, 4, 4)


def test_max_pool_padding_never_wins():
    x = -np.ones((1, 1, 2, 2))  # all real pixels below the zero an average pool would pad with
    assert np.all(MaxPool2D(2, stride=1, padding=1).forward(x) == -1.0)


def test_avg_pool_counts_the_padding_in_the_divisor():
    y = AvgPool2D(3, stride=1, padding=1).forward(np.ones((1, 1, 3, 3)))
    assert y[0, 0, 0, 0] == pytest.approx(4 / 9) and y[0, 0, 1, 1] == pytest.approx(1.0)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_float32_in_float32_out(cls):
    pool = cls(2)
    y = pool.forward(np.random.default_rng(0).random((2, 3, 6, 6)).astype(np.float32))
    assert y.dtype == np.float32 and pool.backward(np.ones_like(y)).dtype == np.float32


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_bad_arguments_and_inputs_are_refused_by_name(cls):
    with pytest.raises(ValueError, match="padding.*half"):
        cls(2, padding=2)
    with pytest.raises(ValueError, match="stride"):
        cls(2, stride=0)
    with pytest.raises(ValueError, match="kernel_size"):
        cls((2, 2, 2))
    with pytest.raises(ValueError, match="too small"):
        cls(3).forward(np.zeros((1, 1, 2, 5), np.float32))
    with pytest.raises(ValueError, match="4 axes"):
        cls(2).forward(np.zeros((4, 4), np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        cls(2).forward(np.zeros((1, 1, 4, 4), np.int64))
