"""UpSampling2D: finite differences, the adjoint identity, PyTorch's nearest and bilinear, errors and dtype."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae import UpSampling2D
from npae.gradcheck import check_layer

from support import GRAD_TOL, import_framework, one_numba_thread  # noqa: F401 (autouse fixture)


sizes = st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5))
scales = st.tuples(st.integers(1, 3), st.integers(1, 3))


@given(sizes, scales, st.sampled_from(["nearest", "bilinear"]), st.integers(0, 2**16))
def test_gradient_by_finite_differences(shape, scale, mode, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    errors = check_layer(UpSampling2D(scale, mode), x, seed=seed)
    assert errors["x"] < GRAD_TOL, errors


@given(sizes, scales, st.sampled_from(["nearest", "bilinear"]), st.integers(0, 2**16))
def test_backward_is_the_adjoint(shape, scale, mode, seed):
    """<up(x), z> = <x, up^T(z)> for any x and z: the backward pass is the transposed linear map."""
    rng = np.random.default_rng(seed)
    layer = UpSampling2D(scale, mode)
    x = rng.standard_normal(shape)
    y = layer.forward(x)
    z = rng.standard_normal(y.shape)
    assert np.vdot(y, z) == pytest.approx(np.vdot(x, layer.backward(z)), rel=1e-12, abs=1e-12)


def test_nearest_repeats_each_pixel():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    np.testing.assert_array_equal(UpSampling2D((2, 1)).forward(x)[0, 0], [[1, 2], [1, 2], [3, 4], [3, 4]])


def test_bilinear_by_hand():
    """Doubling [0, 1] along the width: sources -1/4 (clamped), 1/4, 3/4 and 5/4 (clamped to the edge)."""
    y = UpSampling2D((1, 2), mode="bilinear").forward(np.array([[[[0.0, 1.0]]]]))
    np.testing.assert_allclose(y[0, 0, 0], [0.0, 0.25, 0.75, 1.0])


def test_bilinear_keeps_constants_and_its_weights_sum_to_one():
    layer = UpSampling2D(3, mode="bilinear")
    np.testing.assert_allclose(layer.forward(np.full((1, 1, 4, 5), 0.7)), 0.7)
    dx = layer.backward(np.ones((1, 1, 12, 15)))
    assert dx.sum() == pytest.approx(12 * 15)  # each output's weights sum to 1


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("scale", [2, 3, (1, 4)])
def test_matches_torch_upsample(mode, scale):
    torch = import_framework("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    xt = torch.from_numpy(x).requires_grad_(True)
    factor = scale if isinstance(scale, int) else tuple(float(s) for s in scale)
    yt = torch.nn.Upsample(scale_factor=factor, mode=mode)(xt)
    dy = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    yt.backward(torch.from_numpy(dy))
    layer = UpSampling2D(scale, mode)
    np.testing.assert_allclose(layer.forward(x), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_float32_in_float32_out(mode):
    layer = UpSampling2D(2, mode)
    y = layer.forward(np.random.default_rng(0).random((2, 3, 4, 4)).astype(np.float32))
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="mode"):
        UpSampling2D(2, mode="bicubic")
    with pytest.raises(ValueError, match="scale"):
        UpSampling2D(0)
    with pytest.raises(ValueError, match="scale"):
        UpSampling2D(1.5)
    with pytest.raises(ValueError, match="4 axes"):
        UpSampling2D().forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="shape of the last output"):
        layer = UpSampling2D()
        layer.forward(np.zeros((1, 1, 2, 2), np.float32))
        layer.backward(np.zeros((1, 1, 2, 2), np.float32))
