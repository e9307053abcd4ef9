"""load_images on folders written here: formats, modes, transparency, crops, tiles, labels, bad files, the cache."""

import json
import warnings

import numpy as np
import pytest
from PIL import Image

from npae.datasets import images as images_module
from npae.datasets import load_images


@pytest.fixture(autouse=True)
def own_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("NPAE_CACHE_DIR", str(tmp_path / "cache"))


def save(path, image, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def rgb(width, height, colour):
    return Image.new("RGB", (width, height), colour)


@pytest.fixture
def mixed(tmp_path):
    """Class folders with PNG, JPEG, BMP, GIF and TIFF files; grey, RGB, RGBA, palette, bilevel, CMYK and 16-bit
    images; a corrupt file, a text file, a nested folder and hidden files."""
    root = tmp_path / "pictures"
    save(root / "cats" / "a.png", rgb(40, 30, (255, 0, 0)))
    save(root / "cats" / "b.jpg", Image.new("L", (20, 50), 128), quality=95)
    save(root / "cats" / "f.bmp", Image.new("1", (9, 9), 1))
    save(root / "cats" / "g.tiff", Image.new("CMYK", (9, 9), (0, 255, 255, 0)))  # red in ink
    rgba = Image.new("RGBA", (16, 16), (0, 0, 255, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 8, 16))  # left half transparent
    save(root / "dogs" / "c.png", rgba)
    palette = Image.new("P", (16, 16), 1)
    palette.putpalette([0, 0, 0, 255, 255, 0] + [0] * 762)
    palette.paste(0, (0, 0, 16, 8))  # top half: colour 0, declared transparent
    save(root / "dogs" / "deep" / "d.gif", palette, transparency=0)
    save(root / "dogs" / "e.png", Image.fromarray(np.full((12, 12), 32768, np.uint16)))
    (root / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a picture")
    (root / "notes.txt").write_text("not an image")
    save(root / ".hidden" / "x.png", rgb(8, 8, (0, 0, 0)))
    (root / "cats" / "._a.png").write_bytes(b"resource fork")
    return root


def load_quietly(root, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_images(root, **options)


def test_mixed_folder_sorted_labelled_in_range_with_one_warning(mixed):
    with pytest.warns(UserWarning, match=r"skipped 1 of 8 image files .*broken\.png \(UnidentifiedImageError"):
        loaded = load_images(mixed, size=(8, 8), labels="folders")
    images, paths, labels, class_names, regions = loaded
    assert images.shape == (7, 3, 8, 8) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert [p.relative_to(mixed).as_posix() for p in paths] == [
        "cats/a.png", "cats/b.jpg", "cats/f.bmp", "cats/g.tiff", "dogs/c.png", "dogs/deep/d.gif", "dogs/e.png"]
    assert class_names == ["cats", "dogs"] and labels.tolist() == [0, 0, 0, 0, 1, 1, 1] and labels.dtype == np.int64
    assert regions.tolist()[0] == [0, 5, 30, 30]  # the centred square of the 40x30 picture


def test_colours_transparency_and_16_bits(mixed):
    images = load_quietly(mixed, size=(8, 8), background=(0.0, 1.0, 0.0)).images
    red, grey, white, ink_red, half_blue, palette, sixteen = images
    np.testing.assert_array_equal(red[:, 4, 4], [1, 0, 0])
    np.testing.assert_array_equal(white, 1.0)  # bilevel
    np.testing.assert_array_equal(ink_red[:, 4, 4], [1, 0, 0])  # CMYK
    assert np.allclose(grey, grey[0]) and abs(grey[0, 4, 4] - 128 / 255) < 2 / 255  # grey copied to 3 channels
    np.testing.assert_array_equal(half_blue[:, 4, 0], [0, 1, 0])  # transparent: the green background
    np.testing.assert_array_equal(half_blue[:, 4, 7], [0, 0, 1])
    np.testing.assert_array_equal(palette[:, 0, 4], [0, 1, 0])  # the palette's transparent colour, too
    np.testing.assert_array_equal(palette[:, 7, 4], [1, 1, 0])
    np.testing.assert_allclose(sixteen, 32768 / 65535, rtol=1e-6)  # 16 bits kept, not clipped to 8


def test_grey_mode_uses_luma(mixed):
    images = load_quietly(mixed, size=(4, 4), mode="L").images
    assert images.shape == (7, 1, 4, 4)
    assert images[0, 0, 0, 0] == pytest.approx(round(0.299 * 255) / 255, abs=1 / 255)  # pure red


def test_crop_keeps_the_centre_and_stretch_keeps_everything(tmp_path):
    stripes = Image.new("RGB", (60, 20))
    for k, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        stripes.paste(colour, (20 * k, 0, 20 * k + 20, 20))
    save(tmp_path / "wide" / "s.png", stripes)
    cropped = load_images(tmp_path / "wide", size=(6, 6))
    np.testing.assert_allclose(cropped.images[0], np.array([0, 1, 0])[:, None, None] * np.ones((3, 6, 6)), atol=0.02)
    assert cropped.regions.tolist() == [[0, 20, 20, 20]]
    stretched = load_images(tmp_path / "wide", size=(6, 6), crop=False)
    np.testing.assert_allclose(stretched.images[0][:, 3, 0], [1, 0, 0], atol=0.02)
    np.testing.assert_allclose(stretched.images[0][:, 3, 5], [0, 0, 1], atol=0.02)
    assert stretched.regions.tolist() == [[0, 0, 20, 60]]


def test_tiles_cover_the_picture_row_by_row(tmp_path):
    ramp = np.add.outer(np.arange(24), np.arange(40)).astype(np.uint8)
    save(tmp_path / "t" / "ramp.png", Image.fromarray(ramp))
    loaded = load_images(tmp_path / "t", size=None, mode="L", tile=(8, 16))
    assert loaded.images.shape == (6, 1, 8, 16)  # 3 rows of 2 whole tiles (the last 8 columns are dropped)
    assert loaded.regions.tolist()[:3] == [[0, 0, 8, 16], [0, 16, 8, 16], [8, 0, 8, 16]]
    np.testing.assert_array_equal(loaded.images[3, 0] * 255, ramp[8:16, 16:32])
    assert [p.name for p in loaded.paths] == ["ramp.png"] * 6


def test_native_sizes_and_exif_orientation(tmp_path):
    tall = rgb(30, 20, (10, 20, 30))
    exif = tall.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    save(tmp_path / "photos" / "phone.jpg", tall, exif=exif)
    save(tmp_path / "photos" / "small.png", rgb(5, 7, (0, 0, 0)))
    loaded = load_images(tmp_path / "photos", size=None)
    assert [image.shape for image in loaded.images] == [(3, 30, 20), (3, 7, 5)]  # upright, as a viewer shows it


def test_strict_raises_naming_the_file(mixed):
    with pytest.raises(ValueError, match=r"broken\.png: cannot read this image \(UnidentifiedImageError"):
        load_images(mixed, size=(8, 8), strict=True)


@pytest.mark.parametrize("content, message", [
    ({}, r"no image files .* under .*: it is empty"),
    ({"readme.txt": b"hello", "data.csv": b"1,2"}, r"no image files .* under .*: it holds 2 other files"),
    ({"bad.png": b"garbage", "worse.jpg": b""}, r"none of the 2 image files under .* could be read: bad\.png"),
])
def test_folders_without_readable_images_raise(tmp_path, content, message):
    folder = tmp_path / "f"
    folder.mkdir()
    for name, data in content.items():
        (folder / name).write_bytes(data)
    with pytest.raises(ValueError, match=message):
        load_quietly(folder)


@pytest.mark.parametrize("call, error, message", [
    (lambda root: load_images(root / "missing"), FileNotFoundError, r"path: there is no folder .*missing'; expected the folder holding your pictures"),
    (lambda root: load_images(root / "cats" / "a.png"), NotADirectoryError, r"path: .*a.png' is a file, expected the folder holding your pictures; pass its folder"),
    (lambda root: load_images(root, mode="CMYK"), ValueError, r"mode: expected 'L' \(grey\) or 'RGB'"),
    (lambda root: load_images(root, size=0), ValueError, r"size: expected ints >= 1, got 0"),
    (lambda root: load_images(root, labels="names"), ValueError, r"labels: expected None or 'folders'"),
    (lambda root: load_images(root, background=2.0), ValueError, r"background: expected a finite number in \[0, 1\]"),
    (lambda root: load_images(root, mmap=True), ValueError, r"mmap: .* needs cache=True"),
    (lambda root: load_images(root, labels="folders"), ValueError,
     r"labels: with labels='folders' every image must sit in a class sub-folder .*first: loose\.png"),
])
def test_bad_arguments_name_themselves(mixed, call, error, message):
    save(mixed / "loose.png", rgb(4, 4, (0, 0, 0)))
    with pytest.raises(error, match=message):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call(mixed)


def test_cache_reuses_the_result_and_notices_changes(mixed, tmp_path, monkeypatch):
    first = load_quietly(mixed, size=(8, 8), labels="folders", cache=True)
    stored = {p.suffix for p in (tmp_path / "cache" / "images").rglob("*") if p.is_file()}
    assert stored == {".npy", ".json"}  # arrays and JSON, nothing pickled

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(images_module, "read_image", no_decoding)
    with pytest.warns(UserWarning, match=r"skipped 1 of 8 .*broken\.png"):  # the warning is not lost on a cache hit
        second = load_images(mixed, size=(8, 8), labels="folders", cache=True)
    np.testing.assert_array_equal(first.images, second.images)
    assert first.paths == second.paths and first.labels.tolist() == second.labels.tolist()
    mapped = load_quietly(mixed, size=(8, 8), labels="folders", cache=True, mmap=True)
    assert isinstance(mapped.images, np.memmap) and not mapped.images.flags.writeable
    np.testing.assert_array_equal(mapped.images, first.images)
    with pytest.raises(ValueError, match="broken.png: cannot read"):  # strict is honoured from the cache too
        load_images(mixed, size=(8, 8), labels="folders", cache=True, strict=True)
    monkeypatch.undo()
    monkeypatch.setenv("NPAE_CACHE_DIR", str(tmp_path / "cache"))
    save(mixed / "cats" / "a.png", rgb(40, 30, (0, 255, 0)))  # a changed file is decoded again
    third = load_quietly(mixed, size=(8, 8), labels="folders", cache=True)
    np.testing.assert_array_equal(third.images[0, :, 4, 4], [0, 1, 0])
    entries = [p for p in (tmp_path / "cache" / "images").iterdir()]
    assert len(entries) == 2 and all(json.loads((e / "meta.json").read_text())["skipped"] for e in entries)


def test_cache_of_native_sizes_round_trips(mixed):
    first = load_quietly(mixed, size=None, cache=True)
    second = load_quietly(mixed, size=None, cache=True)
    assert [a.shape for a in first.images] == [a.shape for a in second.images] == [
        (3, 30, 40), (3, 50, 20), (3, 9, 9), (3, 9, 9), (3, 16, 16), (3, 16, 16), (3, 12, 12)]
    for a, b in zip(first.images, second.images):
        np.testing.assert_array_equal(a, b)


def test_the_warning_names_five_files_and_counts_the_rest(tmp_path):
    folder = tmp_path / "many"
    save(folder / "good.png", rgb(4, 4, (0, 0, 0)))
    for k in range(7):
        (folder / f"bad{k}.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.warns(UserWarning) as caught:
        loaded = load_images(folder, size=(4, 4))
    assert len(caught) == 1 and len(loaded.images) == 1
    message = str(caught[0].message)
    assert "skipped 7 of 8" in message and "bad4.jpg" in message and "bad5.jpg" not in message
    assert "and 2 more" in message and caught[0].filename == __file__  # points at the caller's line
