"""``npae explore FOLDER`` on folders written here: every figure, a report that names the outliers, clear errors."""

import csv
import json
import math
import re

import numpy as np
import pytest
from PIL import Image

from npae.apps import explore
from npae.apps.cli import main

FIGURES = {"reconstructions", "best_worst", "training_curves", "code_histograms", "code_map", "neighbours"}


@pytest.fixture(autouse=True)
def own_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("NPAE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def folder(tmp_path):
    """23 smooth mid-grey pictures in mixed sizes, modes and formats, one colour noise picture (the outlier), and a
    corrupt file."""
    root = tmp_path / "pictures"
    (root / "more").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(23):
        height, width = 12 + k % 5, 14 + k % 3
        ramp = np.add.outer(np.arange(height), np.arange(width)) * (20 / (height + width)) + 118 + k % 3
        grey = Image.fromarray(ramp.astype(np.uint8))
        image = [grey, grey.convert("RGB"), grey.convert("RGBA"), grey.convert("P")][k % 4]
        name = f"more/smooth{k:02d}.jpg" if k % 4 == 1 else f"smooth{k:02d}.png"
        image.save(root / name)
    noise = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "odd_one.png")
    (root / "damaged.jpg").write_bytes(b"\xff\xd8\xff not really")
    return root


def test_explore_quick_writes_every_figure_and_names_the_outliers(folder, tmp_path):
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match=r"skipped 1 of 25 image files .*damaged\.jpg"):
        code = main(["explore", str(folder), "--quick", "--size", "8x8", "--code-dim", "4", "--out", str(out)])
    assert code == 0
    for name in FIGURES:
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000, name
    report = (out / "report.md").read_text()
    assert set(re.findall(r"!\[[^\]]*\]\(([^)]+)\.png\)", report)) == FIGURES
    with open(out / "errors.csv") as f:
        ranked = list(csv.DictReader(f))
    assert len(ranked) == 24 and ranked[0]["picture"] == "odd_one.png"
    errors = [float(row["mse_per_pixel"]) for row in ranked]
    assert errors == sorted(errors, reverse=True)
    table = [line for line in report.splitlines() if re.match(r"\| \d+ \| `", line)]
    assert len(table) == 20 and table[0].startswith("| 1 | `odd_one.png` |")
    assert "`more/smooth01.jpg`" in report or "more/smooth01.jpg" in (out / "errors.csv").read_text()
    results = json.loads((out / "results.json").read_text())
    assert results["n_images"] == 24 and results["worst"][0] == "odd_one.png" and results["quick"]
    assert all(math.isfinite(results[k]) for k in ("train_mse", "val_mse", "pca_val_mse", "seconds"))


def test_explore_dense_grey_with_a_vae_on_tiles_of_a_large_picture(tmp_path):
    root = tmp_path / "big"
    root.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, size=(24, 40, 3), dtype=np.uint8)).save(root / "large.png")
    out = tmp_path / "tiles"
    results = explore.run(root, out_dir=out, size=(4, 8), tile=8, mode="L", model="dense", code_dim=2, vae=True,
                          quick=True, seed=1)
    assert results["n_images"] == 15  # 3 rows x 5 columns of 8x8 tiles
    assert results["worst"][0].startswith("large.png [rows ") and results["channels"] == 1
    assert {p.stem for p in out.glob("*.png")} == FIGURES | {"vae_samples", "vae_interpolation"}
    report = (out / "report.md").read_text()
    assert "vae_samples.png" in report and f"`{results['interpolation_from']}`" in report
    assert "cut into tiles of 8x8 pixels, resized to 4x8 pixels" in report


@pytest.mark.parametrize("argv, message", [
    (["--size", "3x"], "argument --size: expected HEIGHTxWIDTH such as 32x32"),
    (["--epochs", "0"], "--epochs: expected an int >= 1, got 0"),
    (["--model", "rnn"], "invalid choice"),
])
def test_bad_options_exit_with_a_message(folder, argv, message, capsys):
    with pytest.raises(SystemExit):
        main(["explore", str(folder), *argv])
    assert message in capsys.readouterr().err


def test_too_few_pictures_say_what_to_do(tmp_path):
    root = tmp_path / "few"
    root.mkdir()
    for k in range(3):
        Image.new("L", (8, 8), 40 * k).save(root / f"{k}.png")
    with pytest.raises(ValueError, match=r"folder: explore .* needs at least 4, found 3 .*--tile"):
        explore.run(root, out_dir=tmp_path / "o", quick=True)


def test_parse_size():
    assert explore.parse_size("32x48") == (32, 48) and explore.parse_size("16") == (16, 16)
    with pytest.raises(ValueError, match="size: expected HEIGHTxWIDTH"):
        explore.parse_size("wide")
