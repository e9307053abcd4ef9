"""The shared numerical functions of npae.core.functions: stable forms, and exactly one definition each."""

import math

import numpy as np
import pytest

from npae.core.functions import binarize, conv_output_size, log_softmax, logsumexp, one_hot, softplus, squared_distances


def test_softplus_is_stable_and_exact():
    x = np.array([-1e4, -30.0, -1.0, 0.0, 1.0, 30.0, 1e4])
    with np.errstate(over="ignore"):
        naive = np.log1p(np.exp(x[1:-1]))
    np.testing.assert_allclose(softplus(x)[1:-1], naive, rtol=1e-12)
    assert softplus(x)[0] == pytest.approx(0.0, abs=1e-300) and softplus(x)[-1] == 1e4
    assert softplus(x.astype(np.float32)).dtype == np.float32


def test_logsumexp_is_stable():
    a = np.array([[1000.0, 1000.0], [-1000.0, -1001.0], [0.1, 0.2]])
    expected = [1000 + math.log(2), -1000 + math.log1p(math.exp(-1)), math.log(math.exp(0.1) + math.exp(0.2))]
    np.testing.assert_allclose(logsumexp(a, axis=1), expected, rtol=1e-14)


def test_logsumexp_of_nothing_is_minus_infinity_not_nan():
    a = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    with np.errstate(invalid="raise"):
        np.testing.assert_array_equal(logsumexp(a, axis=1), [-np.inf, 0.0])


def test_log_softmax_rows_are_normalised_and_shift_invariant():
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0]])
    out = log_softmax(z)
    np.testing.assert_allclose(np.exp(out).sum(axis=1), 1.0)
    np.testing.assert_allclose(log_softmax(z[:1] + 50), out[:1], rtol=1e-12)


def test_one_hot_checks_its_labels():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="0..2"):
        one_hot(np.array([3]), 3)
    with pytest.raises(TypeError, match="integer"):
        one_hot(np.array([0.5]), 3)


def test_squared_distances():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(squared_distances(A, B), ((A[:, None] - B[None]) ** 2).sum(-1), atol=1e-12)
    assert np.all(np.diag(squared_distances(A)) == 0)


def test_conv_output_size():
    assert conv_output_size(28, 3, 1, 1) == 28 and conv_output_size(7, 2, 3, 0) == 2


def test_binarize_keeps_dtype_and_follows_the_pixel_probability():
    images = np.full((2000, 10), 0.3, np.float32)
    drawn = binarize(images, 0)
    assert drawn.dtype == np.float32 and set(np.unique(drawn)) <= {0.0, 1.0}
    assert abs(drawn.mean() - 0.3) < 0.01
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        binarize(images * 255, 0)


def test_each_formula_has_one_definition():
    """softplus, log-sum-exp and one-hot are written once, in npae.core.functions (the fast backend's kernels
    are separate implementations of operations, tested against these)."""
    import pathlib

    import npae

    root = pathlib.Path(npae.__file__).parent
    for name in ("def softplus", "def logsumexp", "def log_softmax", "def one_hot", "def squared_distances",
                 "def binarize"):
        places = [p for p in root.rglob("*.py") if name + "(" in p.read_text(encoding="utf-8")]
        assert [p.name for p in places] == ["functions.py"], (name, places)
