"""Patches of images and UFLDL's preprocessing: sampling, per-patch mean removal, [0.1, 0.9], ZCA whitening."""

import numpy as np
import pytest

from npae.datasets import ZCA, dead_leaves, extract_patches, normalize_patches, remove_patch_mean


def test_patches_are_windows_of_the_images_reproducible_by_seed():
    rng = np.random.default_rng(0)
    images = [rng.random((2, 20, 30)).astype(np.float32), rng.random((2, 9, 8)).astype(np.float32)]
    patches = extract_patches(images, size=(8, 5), n=300, seed=3)
    assert patches.shape == (300, 2, 8, 5) and patches.dtype == np.float32
    np.testing.assert_array_equal(patches, extract_patches(images, size=(8, 5), n=300, seed=3))
    assert not np.array_equal(patches, extract_patches(images, size=(8, 5), n=300, seed=4))
    windows = [np.lib.stride_tricks.sliding_window_view(image, (8, 5), axis=(1, 2)) for image in images]
    found_in = []
    for patch in patches[:40]:
        for k, view in enumerate(windows):
            hits = np.all(view == patch[:, None, None], axis=(0, 3, 4))
            if hits.any():
                found_in.append(k)
                break
        else:
            raise AssertionError("a patch that is no window of any image")
    assert set(found_in) == {0, 1}  # both images are drawn from, whatever their sizes


def test_each_image_weighs_the_same_whatever_its_size():
    images = [np.zeros((1, 100, 100), np.float32), np.ones((1, 10, 10), np.float32)]
    share = extract_patches(images, size=8, n=4000, seed=0).mean()
    assert 0.45 < share < 0.55


@pytest.mark.parametrize("images, size, message", [
    ([np.zeros((1, 5, 5), np.float32)], 8, r"images\[0\]: 5x5 pixels, smaller than a \(8, 8\) patch"),
    ([np.zeros((5, 5), np.float32)], 2, r"images\[0\]: expected a float \(C, H, W\) array, got shape \(5, 5\)"),
    ([np.zeros((1, 9, 9), np.float32), np.zeros((3, 9, 9), np.float32)], 2, r"images\[1\]: expected 1 channels"),
    ([], 2, r"images: expected an \(N, C, H, W\) float array or a non-empty list"),
])
def test_bad_images_are_named(images, size, message):
    with pytest.raises((TypeError, ValueError), match=message):
        extract_patches(images, size=size, n=3)


def test_normalize_patches_is_ufldls_normalize_data():
    rng = np.random.default_rng(1)
    patches = (rng.normal(size=(500, 1, 4, 4)) * 2 + rng.normal(size=(500, 1, 1, 1)) * 5).astype(np.float32)
    out = normalize_patches(patches)
    assert out.dtype == np.float32 and out.min() >= 0.1 - 1e-6 and out.max() <= 0.9 + 1e-6
    centred = patches - patches.mean(axis=(1, 2, 3), keepdims=True)
    limit = 3 * centred.std()
    expected = (np.clip(centred, -limit, limit) / limit + 1) * 0.4 + 0.1
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(remove_patch_mean(patches).mean(axis=(1, 2, 3)), 0, atol=1e-5)
    with pytest.raises(ValueError, match="every patch is flat"):
        normalize_patches(np.ones((3, 1, 2, 2), np.float32))


def test_zca_whitens_symmetrically_and_inverts():
    rng = np.random.default_rng(2)
    mixing = rng.normal(size=(6, 6))
    X = (rng.normal(size=(4000, 6)) @ mixing).astype(np.float64)
    zca = ZCA(epsilon=1e-9).fit(X)
    white = zca.transform(X)
    np.testing.assert_allclose(np.cov(white.T, bias=True), np.eye(6), atol=1e-6)
    np.testing.assert_allclose(zca.matrix_, zca.matrix_.T, atol=1e-10)  # zero-phase: the symmetric whitening
    np.testing.assert_allclose(zca.inverse_transform(white), X, atol=1e-8)
    damped = ZCA(epsilon=zca.variances_[0]).fit(X).transform(X)  # epsilon shrinks the weak directions the most
    assert np.var(damped) < 1
    images = X[:, :4].reshape(-1, 1, 2, 2)
    assert ZCA(0.1).fit(images).transform(images).shape == images.shape
    with pytest.raises(ValueError, match=r"X: whitening 6 values per sample needs at least 6 samples"):
        ZCA().fit(X[:5])
    with pytest.raises(ValueError, match=r"ZCA.transform: call fit\(X\) first"):
        ZCA().transform(X)


def test_dead_leaves_are_piecewise_flat_images_in_range():
    images = dead_leaves(2, size=(40, 50), channels=3, seed=0)
    assert images.shape == (2, 3, 40, 50) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1
    np.testing.assert_array_equal(images, dead_leaves(2, size=(40, 50), channels=3, seed=0))
    flat = np.mean(np.all(images[:, :, :, 1:] == images[:, :, :, :-1], axis=1))
    assert 0.5 < flat < 1.0  # mostly flat leaves, with edges between them
