"""Datasets: IDX reading and its errors, the search order, downloads (with a fake network), synthetic digits."""

import gzip
import hashlib
import os
import re
import urllib.error

import numpy as np
import pytest

from support import mnist_dir, requires_mnist
from npae.datasets import mnist as datasets
from npae.datasets import (
    DatasetNotFoundError, binarize, load_dataset, load_fashion_mnist, load_mnist, synthetic_digits,
)

REAL_MNIST_ROOT = mnist_dir()  # read before the fixture below clears NPAE_DATA_DIR
REAL_FETCH = datasets._fetch
PUBLISHED_MD5 = dict(datasets.MNIST_MD5)
TRAIN_IMAGES, TRAIN_LABELS = datasets.IDX_FILES["train"]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test touches the network, the home folder or the developer's NPAE_DATA_DIR."""
    monkeypatch.setenv("NPAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NPAE_DATA_DIR", raising=False)

    def no_network(url, dest):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(datasets, "_fetch", no_network)
    for stem in PUBLISHED_MD5:  # the small fake files of these tests have no published checksum
        monkeypatch.setitem(datasets.MNIST_MD5, stem, None)
    monkeypatch.setattr(datasets, "_UNREACHABLE", {})


def publish_checksums(monkeypatch, *paths):
    """Make the MD5 of each fake file's content the published one, as if it were the real MNIST file."""
    for path in paths:
        stem = path.name.removesuffix(".gz")
        monkeypatch.setitem(datasets.MNIST_MD5, stem, hashlib.md5(datasets._read_bytes(path)).hexdigest())


# ----------------------------------------------------------------------------------------------
# Small IDX files of our own
# ----------------------------------------------------------------------------------------------


def idx_bytes(array, magic=None):
    """The IDX encoding of a uint8 array: magic 0x08NN (unsigned bytes, NN dims), sizes, values."""
    magic = 0x0800 | array.ndim if magic is None else magic
    sizes = b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return magic.to_bytes(4, "big") + sizes + array.astype(np.uint8).tobytes()


def write(path, raw, gz=True):
    """Write ``raw`` to ``path`` (+ ``.gz``, gzipped, when ``gz``); return the path written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


def fake_split(n=5, seed=0, label=None):
    """Random images (n, 28, 28) uint8 and labels (n,) in 0..9 (all ``label`` when given)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.full(n, label) if label is not None else rng.integers(0, 10, size=n)
    return images, labels.astype(np.uint8)


def write_split(root, split="train", folder="mnist", gz=True, n=5, seed=0, label=None):
    """Write one split's two IDX files under ``root/folder``; return (images, labels, images_path, labels_path)."""
    images, labels = fake_split(n, seed, label)
    stem_images, stem_labels = datasets.IDX_FILES[split]
    images_path = write(root / folder / stem_images, idx_bytes(images), gz)
    labels_path = write(root / folder / stem_labels, idx_bytes(labels), gz)
    return images, labels, images_path, labels_path


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_reads_idx_files_in_the_documented_format(tmp_path, gz, split):
    images, labels, _, _ = write_split(tmp_path, split, gz=gz, seed=1)
    x, y = load_mnist(split, data_dir=tmp_path)
    assert x.dtype == np.float32 and x.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(x[:, 0], images / 255.0, rtol=1e-6)
    assert y.dtype == np.int64 and np.array_equal(y, labels)
    flat, _ = load_mnist(split, data_dir=tmp_path, flatten=True)
    assert flat.shape == (5, 784) and np.array_equal(flat, x.reshape(5, 784))
    raw, _ = load_mnist(split, data_dir=tmp_path, normalize=False)
    assert raw.dtype == np.uint8 and np.array_equal(raw[:, 0], images)
    raw[0, 0, 0, 0] = 7  # the uint8 array is the caller's own, writable copy


def test_fashion_mnist_reads_its_own_folder(tmp_path):
    write_split(tmp_path, folder="mnist", seed=1)
    images, labels, _, _ = write_split(tmp_path, folder="fashion-mnist", seed=2)
    x, y = load_fashion_mnist("train", data_dir=tmp_path)
    assert np.array_equal(np.rint(x[:, 0] * 255), images) and np.array_equal(y, labels)


def corrupt_magic(images, labels):
    return idx_bytes(images, magic=2049), idx_bytes(labels)


def truncate_payload(images, labels):
    return idx_bytes(images)[:-10], idx_bytes(labels)


def fewer_labels(images, labels):
    return idx_bytes(images), idx_bytes(labels[:-1])


def wrong_image_size(images, labels):
    return idx_bytes(images[:, :27, :]), idx_bytes(labels)


def label_out_of_range(images, labels):
    return idx_bytes(images), idx_bytes(np.full_like(labels, 10))


def header_only(images, labels):
    return idx_bytes(images)[:10], idx_bytes(labels)


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
@pytest.mark.parametrize(
    "damage, message, culprit",
    [
        (corrupt_magic, "expected IDX magic number 2051, got 2049", "images"),
        (truncate_payload, r"payload has 3910 bytes", "images"),
        (header_only, "IDX header truncated", "images"),
        (fewer_labels, "has 5 images but .* has 4 labels", "images"),
        (wrong_image_size, "expected images of 28x28 pixels, got shape \\(5, 27, 28\\)", "images"),
        (label_out_of_range, "expected labels in 0..9, got a maximum of 10", "labels"),
    ],
)
def test_damaged_files_raise_a_value_error_naming_the_path(tmp_path, gz, damage, message, culprit):
    images_raw, labels_raw = damage(*fake_split())
    images_path = write(tmp_path / "mnist" / TRAIN_IMAGES, images_raw, gz)
    labels_path = write(tmp_path / "mnist" / TRAIN_LABELS, labels_raw, gz)
    path = images_path if culprit == "images" else labels_path
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + message):
        load_mnist("train", data_dir=tmp_path)


def test_truncated_gzip_says_to_delete_and_redownload(tmp_path):
    _, _, images_path, _ = write_split(tmp_path)
    content = images_path.read_bytes()
    images_path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match=re.escape(str(images_path)) + ": not a complete gzip file.*delete it"):
        load_mnist("train", data_dir=tmp_path)


def test_verify_true_checks_the_md5_of_local_files_at_every_load(tmp_path, monkeypatch):
    _, _, images_path, labels_path = write_split(tmp_path)
    publish_checksums(monkeypatch, images_path, labels_path)
    load_mnist("train", data_dir=tmp_path, verify=True)
    monkeypatch.setitem(datasets.MNIST_MD5, TRAIN_IMAGES, PUBLISHED_MD5[TRAIN_IMAGES])
    with pytest.raises(ValueError, match=re.escape(str(images_path)) + f": MD5 .* expected {PUBLISHED_MD5[TRAIN_IMAGES]}"):
        load_mnist("train", data_dir=tmp_path, verify=True)
    load_mnist("train", data_dir=tmp_path, verify=False)  # never checked


def damage_payload(path):
    """Flip one pixel of a gzipped IDX file: the structure stays valid, only the checksum can tell."""
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[-1] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(raw)))


def test_a_damaged_copy_is_caught_by_default_and_each_file_is_hashed_once(tmp_path, monkeypatch):
    _, _, images_path, labels_path = write_split(tmp_path)
    publish_checksums(monkeypatch, images_path, labels_path)
    hashed = []
    real_md5 = hashlib.md5
    monkeypatch.setattr(datasets.hashlib, "md5", lambda data: hashed.append(len(data)) or real_md5(data))
    load_mnist("train", data_dir=tmp_path)
    assert len(hashed) == 2
    load_mnist("train", data_dir=tmp_path)
    load_mnist("train", data_dir=tmp_path, flatten=True)
    assert len(hashed) == 2, "a verified file that did not change is not hashed again"
    damage_payload(images_path)  # a new size or modification time: verified again, and refused
    with pytest.raises(ValueError, match=re.escape(str(images_path)) + ": MD5 of the uncompressed content is"):
        load_mnist("train", data_dir=tmp_path)
    with pytest.raises(ValueError, match=": MD5 of the uncompressed content is"):
        load_mnist("train", data_dir=tmp_path)  # and refused again: a failed check is not remembered
    assert len(hashed) == 4


def test_a_damaged_stamp_file_only_costs_a_new_check(tmp_path, monkeypatch):
    _, _, images_path, labels_path = write_split(tmp_path)
    publish_checksums(monkeypatch, images_path, labels_path)
    load_mnist("train", data_dir=tmp_path)
    (datasets.cache_dir() / datasets.STAMPS_FILE).write_text("{not json")
    load_mnist("train", data_dir=tmp_path)
    assert datasets.is_verified(images_path, datasets.MNIST_MD5[TRAIN_IMAGES])


def test_verify_must_be_true_false_or_once(tmp_path):
    write_split(tmp_path)
    with pytest.raises(ValueError, match=r"verify: expected True, False or 'once', got 'always'"):
        load_mnist("train", data_dir=tmp_path, verify="always")


@pytest.mark.parametrize("split", ["validation", "TRAIN", None])
def test_unknown_split_is_refused(tmp_path, split):
    with pytest.raises(ValueError, match="split: expected 'train' or 'test', got"):
        load_mnist(split, data_dir=tmp_path)


# ----------------------------------------------------------------------------------------------
# Where the files are looked for
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def three_roots(tmp_path, monkeypatch):
    """Data in an explicit folder (labels 1), in NPAE_DATA_DIR (labels 2) and in the cache (labels 3)."""
    roots = {name: tmp_path / name for name in ("explicit", "env", "cache")}
    for label, root in enumerate(roots.values(), start=1):
        write_split(root, label=label)
    monkeypatch.setenv("NPAE_DATA_DIR", str(roots["env"]))
    return roots


def test_search_order_is_data_dir_then_environment_then_cache(three_roots, monkeypatch):
    assert datasets.search_roots(three_roots["explicit"]) == list(three_roots.values())
    assert set(load_mnist("train", data_dir=three_roots["explicit"])[1]) == {1}
    assert set(load_mnist("train")[1]) == {2}
    monkeypatch.delenv("NPAE_DATA_DIR")
    assert set(load_mnist("train")[1]) == {3}


def test_a_data_dir_without_the_files_falls_through_to_the_next_root(three_roots, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert set(load_mnist("train", data_dir=empty)[1]) == {2}


@pytest.mark.parametrize("loader", [
    lambda folder: load_mnist("train", data_dir=folder),
    lambda folder: datasets.load_dataset("mnist", "train", data_dir=folder, allow_synthetic_fallback=True),
])
def test_a_data_dir_that_does_not_exist_is_an_error_not_skipped(three_roots, tmp_path, loader):
    # a mistyped folder used to fall through silently to NPAE_DATA_DIR's copy (or to the synthetic digits)
    with pytest.raises(FileNotFoundError, match=r"data_dir: there is no folder '.*explicitt'; expected the folder "
                                                r"holding mnist/"):
        loader(tmp_path / "explicitt")
    with pytest.raises(NotADirectoryError, match=r"data_dir: '.*train-images-idx3-ubyte.gz' is a file"):
        loader(three_roots["explicit"] / "mnist" / "train-images-idx3-ubyte.gz")


def test_gzipped_file_is_preferred_to_raw_in_the_same_folder(tmp_path):
    images, labels = fake_split(seed=1)
    write(tmp_path / "mnist" / TRAIN_IMAGES, idx_bytes(images), gz=True)
    write(tmp_path / "mnist" / TRAIN_IMAGES, idx_bytes(255 - images), gz=False)
    write(tmp_path / "mnist" / TRAIN_LABELS, idx_bytes(labels), gz=False)
    x, _ = load_mnist("train", data_dir=tmp_path, normalize=False)
    assert np.array_equal(x[:, 0], images)


# ----------------------------------------------------------------------------------------------
# Downloading (the network is a fake that serves chosen bytes)
# ----------------------------------------------------------------------------------------------


def cache_folder():
    return datasets.cache_dir() / "mnist"


class FakeMirrors:
    """A stand-in for ``_fetch``: serves ``content[stem]`` gzipped, or misbehaves for chosen mirrors."""

    def __init__(self, content, behaviour=None):
        self.content = content
        self.behaviour = behaviour or {}
        self.calls = []

    def __call__(self, url, dest):
        mirror, name = url.rsplit("/", 1)
        self.calls.append(url)
        assert dest.parent == cache_folder() and dest.name.endswith(".part")
        assert not (dest.parent / name).exists(), "the final file must only appear once verified"
        raw = gzip.compress(self.content[name.removesuffix(".gz")])
        action = self.behaviour.get(mirror + "/", "serve")
        if action == "corrupt":
            raw = gzip.compress(b"\x00" * 100)
        if action == "cut":
            dest.write_bytes(raw[: len(raw) // 2])
            raise ConnectionResetError("connection reset by peer")
        dest.write_bytes(raw)


@pytest.fixture
def served(monkeypatch):
    """Fake MNIST content for the train split, with the published MD5s replaced by the fake ones."""
    images, labels = fake_split(seed=4)
    content = {TRAIN_IMAGES: idx_bytes(images), TRAIN_LABELS: idx_bytes(labels)}
    for stem, raw in content.items():
        monkeypatch.setitem(datasets.MNIST_MD5, stem, hashlib.md5(raw).hexdigest())
    return images, labels, content


def leftovers():
    return sorted(p.name for p in cache_folder().iterdir()) if cache_folder().exists() else []


def test_download_lands_verified_files_in_the_cache_once(served, monkeypatch):
    images, labels, content = served
    fetch = FakeMirrors(content)
    monkeypatch.setattr(datasets, "_fetch", fetch)
    x, y = load_mnist("train", normalize=False)
    assert np.array_equal(x[:, 0], images) and np.array_equal(y, labels)
    assert leftovers() == [TRAIN_IMAGES + ".gz", TRAIN_LABELS + ".gz"]
    assert len(fetch.calls) == 2
    load_mnist("train")
    assert len(fetch.calls) == 2, "a cached file is not downloaded again"


def test_a_bad_mirror_is_skipped_for_the_next_one(served, monkeypatch):
    images, _, content = served
    first, second = datasets.MNIST_MIRRORS[:2]
    fetch = FakeMirrors(content, {first: "corrupt"})
    monkeypatch.setattr(datasets, "_fetch", fetch)
    x, _ = load_mnist("train", normalize=False)
    assert np.array_equal(x[:, 0], images)
    assert fetch.calls[:2] == [first + TRAIN_IMAGES + ".gz", second + TRAIN_IMAGES + ".gz"]
    assert leftovers() == [TRAIN_IMAGES + ".gz", TRAIN_LABELS + ".gz"]


@pytest.mark.parametrize(
    "action, message",
    [("corrupt", "checksum mismatch: MD5 of the uncompressed content is"), ("cut", "connection reset by peer")],
)
def test_a_failed_download_leaves_no_file_behind(served, monkeypatch, action, message):
    _, _, content = served
    fetch = FakeMirrors(content, {mirror: action for mirror in datasets.MNIST_MIRRORS})
    monkeypatch.setattr(datasets, "_fetch", fetch)
    with pytest.raises(DatasetNotFoundError, match=message):
        load_mnist("train")
    assert len(fetch.calls) == len(datasets.MNIST_MIRRORS)
    assert leftovers() == []


def test_no_files_and_no_network_names_the_searched_paths_and_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("NPAE_DATA_DIR", str(tmp_path / "env"))
    (tmp_path / "explicit").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path / "explicit")
    message = str(info.value)
    for root in (tmp_path / "explicit", tmp_path / "env", datasets.cache_dir()):
        assert str(root / "mnist") in message
    for mirror in datasets.MNIST_MIRRORS:
        assert mirror + TRAIN_IMAGES + ".gz: <urlopen error network disabled in tests>" in message
    assert "NPAE_DATA_DIR" in message and "synthetic_digits" in message
    assert leftovers() == []


def test_download_false_never_touches_the_network(monkeypatch):
    fetch = FakeMirrors({})
    monkeypatch.setattr(datasets, "_fetch", fetch)
    with pytest.raises(DatasetNotFoundError, match="download disabled"):
        load_mnist("train", download=False)
    assert fetch.calls == []


def test_fashion_downloads_are_checked_for_idx_structure(monkeypatch):
    images, labels = fake_split(seed=5)
    served = {TRAIN_IMAGES: idx_bytes(labels), TRAIN_LABELS: idx_bytes(labels)}  # labels served as images

    def fetch(url, dest):
        dest.write_bytes(gzip.compress(served[url.rsplit("/", 1)[1].removesuffix(".gz")]))

    monkeypatch.setattr(datasets, "_fetch", fetch)
    with pytest.raises(DatasetNotFoundError, match="expected IDX magic number 2051, got 2049"):
        load_fashion_mnist("train")
    served[TRAIN_IMAGES] = idx_bytes(images)
    x, y = load_fashion_mnist("train", normalize=False)
    assert np.array_equal(x[:, 0], images) and np.array_equal(y, labels)


def test_real_fetch_copies_a_url_to_a_file(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"npae" * 1000)
    REAL_FETCH(source.as_uri(), tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == b"npae" * 1000


# ----------------------------------------------------------------------------------------------
# Synthetic digits
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return synthetic_digits(300, seed=7)


def test_synthetic_digits_have_the_mnist_format(digits):
    images, labels = digits
    assert images.shape == (300, 1, 28, 28) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.dtype == np.int64 and np.array_equal(np.bincount(labels), np.full(10, 30))
    flat, _ = synthetic_digits(12, seed=7, flatten=True)
    raw, _ = synthetic_digits(12, seed=7, normalize=False)
    assert flat.shape == (12, 784) and raw.dtype == np.uint8
    np.testing.assert_allclose(flat, raw.reshape(12, 784) / 255.0, rtol=1e-6)


def test_synthetic_digits_are_deterministic_per_seed():
    a, b, c = (synthetic_digits(23, seed=s) for s in (3, 3, 4))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert np.array_equal(np.bincount(a[1], minlength=10), [3, 3, 3, 2, 2, 2, 2, 2, 2, 2])


def centre_of_mass(images):
    ink = images[:, 0]
    grid = np.arange(28)
    mass = ink.sum(axis=(1, 2))
    return np.stack([(ink.sum(axis=2) * grid).sum(1) / mass, (ink.sum(axis=1) * grid).sum(1) / mass], axis=1)


def test_synthetic_digits_are_centred_and_fit_the_mnist_box(digits):
    images, _ = digits
    assert np.all(np.abs(centre_of_mass(images) - 14.0) < 1.6)  # the 1-pixel shift jitter, plus rounding
    ink = images[:, 0] > 0.5
    for hits in (ink.any(axis=2), ink.any(axis=1)):  # rows, then columns, holding ink
        first, last = hits.argmax(axis=1), 27 - hits[:, ::-1].argmax(axis=1)
        assert np.all(hits.any(axis=1)) and np.all(last - first + 1 <= 21)
    assert 0.08 < images.mean() < 0.2  # MNIST's mean pixel is 0.13


def test_synthetic_digits_look_like_their_labels(digits):
    """Nearest clean template (jitter=0) recognises most jittered digits: labels match the glyphs."""
    templates, template_labels = synthetic_digits(10, seed=0, jitter=0)
    templates = templates[np.argsort(template_labels)].reshape(10, -1)
    images, labels = digits
    distances = ((images.reshape(len(images), 1, -1) - templates[None]) ** 2).sum(axis=2)
    assert np.mean(distances.argmin(axis=1) == labels) > 0.8


def test_without_jitter_every_copy_of_a_digit_is_identical():
    images, labels = synthetic_digits(30, seed=1, jitter=0)
    for digit in range(10):
        same = images[labels == digit]
        assert np.array_equal(same, np.broadcast_to(same[0], same.shape))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n": 0}, ValueError, "n: expected an int >= 1, got 0"),
        ({"n": 2.5}, TypeError, "n: expected an int >= 1, got 2.5"),
        ({"n": 5, "jitter": -1}, ValueError, "jitter: expected a finite number in \\[0, 2\\], got -1"),
        ({"n": 5, "seed": "x"}, TypeError, "rng: expected an int seed"),
    ],
)
def test_synthetic_digits_refuse_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        synthetic_digits(**kwargs)


# ----------------------------------------------------------------------------------------------
# load_dataset and binarize
# ----------------------------------------------------------------------------------------------


def test_load_dataset_describes_the_real_source(tmp_path):
    write_split(tmp_path)
    images, labels, description = load_dataset("mnist", "train", data_dir=tmp_path)
    assert images.shape == (5, 1, 28, 28) and labels.shape == (5,)
    assert description == f"MNIST train (5 images from {tmp_path / 'mnist'})"


def test_load_dataset_falls_back_to_synthetic_digits_only_when_allowed():
    with pytest.raises(DatasetNotFoundError):
        load_dataset("mnist", "train")
    images, labels, description = load_dataset("mnist", "test", allow_synthetic_fallback=True, n_synthetic=20,
                                               flatten=True)
    assert images.shape == (20, 784) and labels.shape == (20,)
    assert description.startswith("synthetic digits (test, 20 images; MNIST not found: t10k-images-idx3-ubyte")


def test_load_dataset_synthetic_splits_differ():
    train, _, description = load_dataset("synthetic", "train", n_synthetic=10)
    test, _, _ = load_dataset("synthetic", "test", n_synthetic=10)
    assert description == "synthetic digits (train, 10 images, seed 0)"
    assert not np.array_equal(train, test)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"name": "cifar"}, ValueError, "name: expected one of 'mnist', 'fashion', 'synthetic', got 'cifar'"),
        ({"name": "synthetic", "n_synthetic": 0}, ValueError, "n_synthetic: expected an int >= 1, got 0"),
        ({"data_dir": 3}, TypeError, "data_dir: expected a folder path .* got 3"),
        ({"split": "val"}, ValueError, "split: expected 'train' or 'test', got 'val'"),
    ],
)
def test_load_dataset_refuses_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_dataset(**kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binarize_draws_bernoulli_pixels_with_p_equal_to_the_value(dtype):
    p = np.array([0.0, 0.3, 1.0], dtype=dtype)
    images = np.broadcast_to(p, (20000, 3)).copy()
    binary = binarize(images, np.random.default_rng(0))
    assert binary.dtype == dtype and binary.shape == images.shape
    assert set(np.unique(binary)) == {0.0, 1.0}
    np.testing.assert_allclose(binary.mean(axis=0), p, atol=0.01)  # sd of the mean at p=0.3 is 0.003
    assert np.array_equal(binary, binarize(images, np.random.default_rng(0)))
    assert not np.array_equal(binary, binarize(images, np.random.default_rng(1)))


@pytest.mark.parametrize(
    "images, error, message",
    [
        (np.zeros((2, 3), dtype=np.uint8), TypeError, "images: expected float32 or float64, got uint8"),
        (np.full((2, 3), 1.5), ValueError, "images: expected values in \\[0, 1\\], got range \\[1.5, 1.5\\]"),
        (np.full((2, 3), np.nan), ValueError, "images: expected values in \\[0, 1\\]"),
        ([[0.5]], TypeError, "images: expected a numpy array, got list"),
    ],
)
def test_binarize_refuses_bad_images(images, error, message):
    with pytest.raises(error, match=message):
        binarize(images, 0)


# ----------------------------------------------------------------------------------------------
# The real files
# ----------------------------------------------------------------------------------------------


@requires_mnist
@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_real_mnist_files_have_the_published_checksums(split, n, monkeypatch):
    for stem, md5 in PUBLISHED_MD5.items():
        monkeypatch.setitem(datasets.MNIST_MD5, stem, md5)
    images, labels = load_mnist(split, data_dir=REAL_MNIST_ROOT, verify=True, download=False)
    assert images.shape == (n, 1, 28, 28) and images.dtype == np.float32
    assert 0.12 < images.mean() < 0.14
    assert labels.shape == (n,) and set(np.unique(labels)) == set(range(10))


def test_downloaded_files_get_the_users_umask(served, monkeypatch):
    monkeypatch.setattr(datasets, "_fetch", FakeMirrors(served[2]))
    previous = os.umask(0o022)
    try:
        load_mnist("train")
    finally:
        os.umask(previous)
    for name in leftovers():
        assert (cache_folder() / name).stat().st_mode & 0o777 == 0o644, name


def test_each_download_line_is_followed_by_its_outcome(served, monkeypatch, capsys):
    _, _, content = served
    first = datasets.MNIST_MIRRORS[0]
    monkeypatch.setattr(datasets, "_fetch", FakeMirrors(content, {first: "corrupt"}))
    load_mnist("train")
    lines = capsys.readouterr().err.splitlines()
    downloads = [i for i, line in enumerate(lines) if line.startswith("npae: downloading ")]
    assert len(downloads) == 4  # each file: the first mirror (corrupt), then the second
    outcomes = [lines[i + 1] for i in downloads]
    assert [o.startswith("npae:   failed: checksum mismatch") for o in outcomes] == [True, False, True, False]
    assert all(re.match(r"npae:   done: \d+\.\d MB, MD5 verified", o) for o in outcomes[1::2])


def test_the_synthetic_fallback_explains_itself_once_and_does_not_retry_the_network(monkeypatch, capsys):
    calls = []

    def offline(url, dest):
        calls.append(url)
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(datasets, "_fetch", offline)
    _, _, train_source = load_dataset("mnist", "train", allow_synthetic_fallback=True, n_synthetic=10)
    tried = len(calls)
    _, _, test_source = load_dataset("mnist", "test", allow_synthetic_fallback=True, n_synthetic=10)
    assert tried == len(datasets.MNIST_MIRRORS) and len(calls) == tried, "the second split does not retry"
    err = capsys.readouterr().err
    assert err.count("synthetic digits stand in for MNIST") == 1
    for mirror in datasets.MNIST_MIRRORS:
        assert f"{mirror}{TRAIN_IMAGES}.gz: <urlopen error no route to host>" in err
    assert "NPAE_DATA_DIR" in err and "--data-dir" in err
    assert "synthetic digits (train" in train_source and "synthetic digits (test" in test_source
    assert "no mirror served a verified copy" in test_source
