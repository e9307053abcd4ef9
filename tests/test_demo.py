"""``npae demo`` in quick mode: every figure written, the report embeds them with finite numbers and says
which data it used (MNIST, or the offline synthetic digits when MNIST can be neither found nor downloaded)."""

import json
import math
import re

import pytest

from npae.datasets import mnist as datasets
from npae.apps import demo

from support import mnist_dir, npae_command, requires_mnist

FIGURES = ("reconstructions", "best_worst", "training_curves_ae", "training_curves_vae", "code_histograms_ae",
           "code_histograms_vae", "code_map", "vae_samples", "interpolation")


def check_outputs(out, results):
    for name in FIGURES:
        png = out / f"{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG", name
    report = (out / "report.md").read_text()
    embedded = set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report))
    assert embedded == {f"{name}.png" for name in FIGURES}
    assert f"{results['pca_mse']:.5f} MSE per pixel" in report
    assert f"{results['ae_mse']:.5f} MSE per pixel" in report
    assert f"{results['vae_nelbo']:.1f} nats per image" in report
    saved = json.loads((out / "results.json").read_text())
    for key in ("pca_mse", "ae_mse", "vae_mse", "vae_nelbo", "vae_nll", "total"):
        assert math.isfinite(saved[key]) and saved[key] > 0, key
    # on the same images the importance-weighted bound is tighter (up to the noise of one sampled z per image)
    assert saved["vae_nll"] <= saved["vae_nelbo_subset"] + 2.0
    return report


@requires_mnist
def test_demo_quick_on_mnist(tmp_path):
    out = tmp_path / "demo"
    results = demo.run(out_dir=out, data_dir=mnist_dir(), quick=True, seed=0)
    report = check_outputs(out, results)
    assert not results["synthetic_data"] and "MNIST" in report and "synthetic" not in report.lower()
    assert results["n_train"] == demo.QUICK_PLAN["n_train"]


def test_demo_offline_falls_back_to_synthetic_digits_and_says_so(tmp_path, monkeypatch):
    empty = tmp_path / "nothing"
    empty.mkdir()
    monkeypatch.setenv("NPAE_DATA_DIR", str(empty))
    monkeypatch.setenv("NPAE_CACHE_DIR", str(empty))

    def offline(url, dest):
        raise OSError("no network in this test")

    monkeypatch.setattr(datasets, "_fetch", offline)
    monkeypatch.setattr(datasets, "_UNREACHABLE", {})
    out = tmp_path / "demo"
    code = npae_command()(["demo", "--quick", "--out", str(out), "--data-dir", str(empty), "--seed", "1"])
    assert code == 0  # `npae demo --quick`, through the entry point the installed script calls
    results = json.loads((out / "results.json").read_text())
    report = check_outputs(out, results)
    assert results["synthetic_data"]
    assert "**Offline synthetic digits, not MNIST.**" in report


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_is_described_in_the_module_docstring(name):
    assert f"``{name}.png``" in demo.__doc__
