"""Every walkthrough runs with --quick and leaves its figures, finite results and findings; the helpers work.

The scripts are discovered by glob (``walkthroughs/[0-9][0-9]_*.py``), so a new walkthrough is tested as
soon as it exists. They use MNIST from ``NPAE_DATA_DIR`` when it is set, else the offline synthetic digits.
A quick run records its findings without having to show them (``benchmarks/walkthrough_findings.py`` checks
that the short runs show every one).
Also here: ``SoftmaxCrossEntropy`` (added to ``npae.losses`` for walkthrough 10), checked by finite
differences.
"""

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.apps import walkthrough
from npae.gradcheck import check_loss
from npae.core.losses import SoftmaxCrossEntropy
from npae.core.functions import log_softmax, one_hot

from support import GRAD_TOL

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "walkthroughs").glob("[0-9][0-9]_*.py"))


def finite_numbers(value, where="results"):
    """Yield ``(path, number)`` for every number in a parsed JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from finite_numbers(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from finite_numbers(v, f"{where}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield where, value


# ----------------------------------------------------------------------------------------------
# The scripts
# ----------------------------------------------------------------------------------------------


def test_the_walkthroughs_are_there():
    names = {p.name for p in SCRIPTS}
    for mine in ("01_pca_vs_autoencoder.py", "02_dense_autoencoder.py", "03_capacity_and_validation.py",
                 "10_semi_supervised.py"):
        assert mine in names


def quick_run(script, out, **environment):
    """Run ``script --quick`` as a user would (the machine's own thread settings) and check what it wrote."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT), **environment)
    run = subprocess.run([sys.executable, str(script), "--quick", "--out", str(out)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{script.name} failed:\n{run.stderr[-3000:]}"
    pngs = sorted(out.glob("*.png"))
    assert pngs, f"{script.name} wrote no figure"
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000, png.name
    results = json.loads((out / "results.json").read_text())
    numbers = list(finite_numbers(results))
    assert numbers, f"{script.name}: results.json holds no numbers"
    bad = [(where, v) for where, v in numbers if not math.isfinite(v)]
    assert not bad, f"{script.name}: non-finite results {bad}"
    findings = results.get("findings")
    assert findings and all(isinstance(held, bool) for held in findings.values()), \
        f"{script.name}: expected its findings in results.json as name: true/false, got {findings!r}"
    assert set(results["finding_sentences"]) == {name for name, held in findings.items() if held}
    assert "findings of this quick run" in run.stdout
    return run


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_walkthrough_quick_run(script, tmp_path):
    quick_run(script, tmp_path)


def test_a_walkthrough_runs_on_the_reference_backend(tmp_path):
    """A learner can run the readable code: walkthrough 02 on plain NumPy (no Numba imported at all)."""
    script = next(p for p in SCRIPTS if p.name.startswith("02_"))
    quick_run(script, tmp_path, NPAE_BACKEND="reference")


# ----------------------------------------------------------------------------------------------
# npae.walkthrough helpers
# ----------------------------------------------------------------------------------------------


def test_parse_args_defaults_to_out_folder_named_after_the_script(monkeypatch, tmp_path):
    script = tmp_path / "walkthroughs" / "42_example.py"
    monkeypatch.setattr(sys, "argv", [str(script)])
    args = walkthrough.parse_args("42 - an example.\n\nMore text.")
    assert args.out == tmp_path / "walkthroughs" / "out" / "42_example"
    assert args.out.is_dir()
    assert (args.quick, args.seed, args.data_dir) == (False, 0, None)


@pytest.fixture(autouse=True)
def restore_run_size():
    """parse_args remembers the run's size for save_figure: each test starts from a full run."""
    yield
    walkthrough.run_size = "full"


@pytest.mark.parametrize("flag, folder", [("--short", "42_example_short"), ("--quick", "42_example_quick")])
def test_smaller_runs_default_to_their_own_folder(monkeypatch, tmp_path, flag, folder):
    # a short or quick run must neither overwrite a full run's figures nor resume from its checkpoints
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "walkthroughs" / "42_example.py")])
    args = walkthrough.parse_args("doc", [flag])
    assert args.out == tmp_path / "walkthroughs" / "out" / folder
    assert walkthrough.resume_options(args, "checkpoint") == {}
    full = walkthrough.parse_args("doc", [])
    assert walkthrough.resume_options(full, "checkpoint") == {"checkpoint_dir": full.out / "checkpoint",
                                                               "resume": True}


def test_parse_args_options(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    args = walkthrough.parse_args("doc", ["--quick", "--out", str(tmp_path / "o"), "--seed", "7",
                                          "--data-dir", str(tmp_path / "data")])
    assert (args.quick, args.out, args.seed, args.data_dir) == (True, tmp_path / "o", 7, tmp_path / "data")
    for bad, message in ((["--data-dir", str(tmp_path / "dta")], "argument --data-dir: there is no folder"),
                         (["--seed", "-1"], "argument --seed: expected an int >= 0, got -1"),
                         (["--out", __file__], "is a file, expected a folder to write into")):
        with pytest.raises(SystemExit):
            walkthrough.parse_args("doc", ["--quick"] + bad)
        assert message in capsys.readouterr().err
    assert args.size == walkthrough.run_size == "quick"
    assert walkthrough.pick(args, full=10, short=3, quick=1) == 1
    short = walkthrough.parse_args("doc", ["--short", "--out", str(tmp_path)])
    assert short.size == "short" and walkthrough.pick(short, full=10, short=3, quick=1) == 3
    assert walkthrough.pick(short, full=10, quick=1) == 10  # no short size given: the full one
    full = walkthrough.parse_args("doc", ["--out", str(tmp_path)])
    assert full.size == "full" and walkthrough.pick(full, full=10, short=3, quick=1) == 10
    with pytest.raises(SystemExit):
        walkthrough.parse_args("doc", ["--quick", "--short"])
    own = walkthrough.parse_args("doc", ["--out", str(tmp_path), "--images", "photos"],
                                 add_arguments=lambda parser: parser.add_argument("--images"))
    assert own.images == "photos"  # a script's own options beside the shared ones


def test_parse_args_takes_a_scripts_own_options(tmp_path):
    def add_recipe(parser):
        parser.add_argument("--recipe", choices=["a", "b"], default=None)
    args = walkthrough.parse_args("doc", ["--recipe", "b", "--out", str(tmp_path)], add_arguments=add_recipe)
    assert (args.recipe, args.size) == ("b", "full")
    with pytest.raises(SystemExit):
        walkthrough.parse_args("doc", ["--recipe", "c", "--out", str(tmp_path)], add_arguments=add_recipe)


def load_script(stem):
    """A walkthrough script as a module, without running its main()."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"walkthrough_{stem[:2]}", ROOT / "walkthroughs" / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_walkthrough_12_budget_scales_the_full_runs_epochs(tmp_path):
    w12 = load_script("12_vae_likelihood_in_an_hour")
    budget = walkthrough.parse_args("doc", ["--minutes", "6", "--out", str(tmp_path)],
                                    add_arguments=w12.add_recipe_argument)
    assert [r.epochs_for(budget) for r in w12.RECIPES] == [48, 48, 22, 3]  # 380, 380, 175, 25 scaled by 6/48
    w12.budget_run(budget)
    assert budget.out == tmp_path  # a folder given with --out is kept
    assert w12.sample_counts(budget) == (50, 100, 1000)
    tiny = walkthrough.parse_args("doc", ["--minutes", "0.01", "--out", str(tmp_path)],
                                  add_arguments=w12.add_recipe_argument)
    assert [r.epochs_for(tiny) for r in w12.RECIPES] == [1, 1, 1, 1]
    for argv in (["--minutes", "6", "--short"], ["--minutes", "0"]):
        with pytest.raises(SystemExit, match="--minutes"):
            w12.budget_run(walkthrough.parse_args("doc", argv + ["--out", str(tmp_path)],
                                                  add_arguments=w12.add_recipe_argument))


def test_walkthrough_12_checks_only_the_findings_its_recipes_can_show():
    w12 = load_script("12_vae_likelihood_in_an_hour")

    def record(bound, gap, minutes=50.0):
        return {"final": {"iw_bound_k5000": bound, "gap": gap}, "train_minutes": minutes}

    only_b = w12.check_findings({"schedule": record(-85.9, 4.5)}, 5000)
    assert only_b.outcomes == {"target_met": True}
    b_and_c = w12.check_findings({"schedule": record(-85.9, 4.5), "iwae5": record(-85.5, 6.0, 61.0)}, 5000)
    assert b_and_c.outcomes == {"target_met": True, "iwae_beats_vae": True, "iwae_widens_gap": True}
    assert "-85.90 >= -86.8 nats (L_5000) in 50 minutes" in b_and_c.sentences["target_met"]  # the IWAE took > 60
    too_long = w12.check_findings({"schedule": record(-85.9, 4.5, 61.0)}, 5000)
    assert too_long.outcomes == {"target_met": False}
    assert "6.00 nats for k = 5, 4.50 for the VAE (b)" in b_and_c.sentences["iwae_widens_gap"]
    assert b_and_c.checked("iwae_beats_vae", "schedule_helps") == ["iwae_beats_vae"]


def test_walkthrough_12_trained_only_draws_the_finished_recipes(tmp_path):
    """``--recipe schedule`` trains one recipe; ``--trained-only`` then evaluates and draws it alone (and says
    so on an empty folder)."""
    script = ROOT / "walkthroughs" / "12_vae_likelihood_in_an_hour.py"
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))

    def run(*argv):
        return subprocess.run([sys.executable, str(script), "--quick", "--out", str(tmp_path), *argv], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=600)

    empty = run("--trained-only")
    assert empty.returncode != 0 and "no recipe has finished" in empty.stderr
    assert run("--recipe", "schedule").returncode == 0
    drawn = run("--trained-only")
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["recipes"]) == ["schedule"] and set(results["findings"]) == {"target_met"}
    assert {p.stem for p in tmp_path.glob("*.png")} == {"bound_vs_minutes", "held_out_curves", "elbo_gap",
                                                          "schedule", "samples"}


def test_walkthrough_12_axis_floor_leaves_out_each_curves_first_point():
    w12 = load_script("12_vae_likelihood_in_an_hour")
    assert w12.axis_floor([[-330.0, -108.0, -95.0], [-112.0, -105.0]], margin=2.0) == -114.0
    assert w12.axis_floor([[-100.0, -99.0, -98.0]], margin=1.0) == -100.0


def test_quick_run_figures_are_stamped(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from npae.plots import pyplot

    walkthrough.parse_args("doc", ["--quick", "--out", str(tmp_path)])
    fig = pyplot().figure()
    walkthrough.save_figure(fig, tmp_path, "stamped", synthetic=False)  # not whatever an earlier test loaded
    assert [t.get_text() for t in fig.texts] == [walkthrough.QUICK_STAMP]
    walkthrough.parse_args("doc", ["--short", "--out", str(tmp_path)])
    fig = pyplot().figure()
    walkthrough.save_figure(fig, tmp_path, "plain", synthetic=False)
    assert not fig.texts
    fig = pyplot().figure()
    walkthrough.save_figure(fig, tmp_path, "synthetic", synthetic=True)
    assert [t.get_text() for t in fig.texts] == [walkthrough.SYNTHETIC_STAMP]


def test_load_data_quick_caps_and_formats(tmp_path):
    args = walkthrough.parse_args("doc", ["--quick", "--out", str(tmp_path)])
    data = walkthrough.load_data(args, n_train=60, n_test=20, dataset="synthetic")
    assert data.x_train.shape == (60, 784) and data.x_test.shape == (20, 784)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert data.synthetic and "synthetic" in str(data) and "60 training" in str(data)
    images = walkthrough.load_data(args, n_train=10, n_test=10, flatten=False, dataset="synthetic")
    assert images.x_train.shape == (10, 1, 28, 28)


def test_load_data_subsets_depend_on_the_seed_only(tmp_path):
    def draw(seed):
        args = walkthrough.parse_args("doc", ["--quick", "--out", str(tmp_path), "--seed", str(seed)])
        return walkthrough.load_data(args, n_train=30, n_test=10, dataset="synthetic")

    a, b, c = draw(0), draw(0), draw(1)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)


def test_one_per_class_orders_by_label():
    labels = np.array([3, 1, 1, 0, 3, 2, 0])
    np.testing.assert_array_equal(walkthrough.one_per_class(labels), [3, 1, 5, 0])
    np.testing.assert_array_equal(walkthrough.one_per_class(labels, per_class=2), [3, 6, 1, 2, 5, 0, 4])


def test_nearest_references_finds_the_closest_image():
    references = np.array([[0.0, 0.0], [1.0, 1.0], [4.0, 0.0]])
    index, mse = walkthrough.nearest_references(np.array([[0.9, 1.2], [3.0, 0.0]]), references)
    np.testing.assert_array_equal(index, [1, 2])
    np.testing.assert_allclose(mse, [(0.01 + 0.04) / 2, 1.0 / 2])
    with pytest.raises(ValueError, match=r"expected \(N, D\) and \(M, D\) with the same D"):
        walkthrough.nearest_references(np.zeros((2, 3)), references)


def test_save_results_writes_plain_json(tmp_path, capsys):
    path = walkthrough.save_results(tmp_path, {"mse": np.float32(0.25), "sizes": np.arange(3),
                                               "nested": {"k": [np.int64(4), 1.5]}, "data": "MNIST"})
    assert json.loads(path.read_text()) == {"mse": 0.25, "sizes": [0, 1, 2], "nested": {"k": [4, 1.5]},
                                            "data": "MNIST"}
    printed = capsys.readouterr().out
    assert "mse: 0.25" in printed and "data: MNIST" in printed


@pytest.mark.parametrize("bad, where", [
    ({"a": float("nan")}, "results.a"),
    ({"a": {"b": [1.0, float("inf")]}}, r"results.a.b\[1\]"),
    ({"a": np.array([0.0, np.nan])}, r"results.a\[1\]"),
])
def test_save_results_refuses_non_finite_numbers(tmp_path, bad, where):
    with pytest.raises(ValueError, match=f"expected finite numbers, got .* at {where}"):
        walkthrough.save_results(tmp_path, bad)
    assert not (tmp_path / "results.json").exists()


def test_a_findings_sentence_is_wrapped_in_a_title_so_it_cannot_run_into_the_next_panel():
    findings = walkthrough.Findings()
    long = "a random perturbation moves the contractive code less at every size (at sigma 0.02: 0.252 vs 0.680)"
    findings.check("long", True, long)
    lines = findings.title("code displacement", "long", width=40).split("\n")
    assert lines[0] == "code displacement" and " ".join(lines[1:]) == long  # wrapped, nothing lost
    assert len(lines) > 2 and all(len(line) <= 40 for line in lines)
    assert all(len(line) <= walkthrough.TITLE_WIDTH for line in findings.title("x", "long").split("\n"))


def test_findings_tell_a_sentence_only_when_it_holds(tmp_path, capsys):
    findings = walkthrough.Findings()
    assert findings.check("dense_beats_pca", np.float32(0.007) < np.float32(0.017), "the AE beats PCA") == "the AE beats PCA"
    assert findings.check("kl_grows", bool(np.diff([3.0, 2.0]).min() > 0), "KL grows") == ""
    assert findings.title("error vs code size", "dense_beats_pca", "kl_grows") == "error vs code size\nthe AE beats PCA"
    assert findings.title("KL by epoch", "kl_grows") == "KL by epoch"
    path = walkthrough.save_results(tmp_path, {"mse": 0.25}, findings)
    saved = json.loads(path.read_text())
    assert saved["findings"] == {"dense_beats_pca": True, "kl_grows": False}
    assert saved["finding_sentences"] == {"dense_beats_pca": "the AE beats PCA"}
    printed = capsys.readouterr().out
    assert "shown: the AE beats PCA" in printed and "not shown: kl_grows" in printed and "KL grows" not in printed


def test_findings_refuse_what_is_not_a_finding(tmp_path):
    findings = walkthrough.Findings()
    with pytest.raises(TypeError, match="holds: expected True or False .* got float 0.5"):
        findings.check("ratio", 0.5, "a ratio")
    with pytest.raises(ValueError, match="name: expected a Python identifier"):
        findings.check("beats PCA", True, "beats PCA")
    with pytest.raises(ValueError, match="sentence: expected the finding in words"):
        findings.check("beats_pca", True, " ")
    findings.check("beats_pca", True, "beats PCA")
    with pytest.raises(ValueError, match="'beats_pca' was already checked"):
        findings.check("beats_pca", False, "beats PCA")
    with pytest.raises(ValueError, match="no finding 'kl_grows' was checked yet"):
        findings.title("KL", "kl_grows")
    with pytest.raises(ValueError, match="the key 'findings' is reserved"):
        walkthrough.save_results(tmp_path, {"findings": 1}, findings)
    with pytest.raises(TypeError, match="findings: expected a Findings, got dict"):
        walkthrough.save_results(tmp_path, {}, {"beats_pca": True})


def test_save_results_needs_a_dict(tmp_path):
    with pytest.raises(TypeError, match="results: expected a dict, got list"):
        walkthrough.save_results(tmp_path, [1, 2])


def test_save_figure_writes_png_and_closes(tmp_path):
    plt = walkthrough_pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = walkthrough.save_figure(fig, tmp_path / "sub", "curve")
    assert path == tmp_path / "sub" / "curve.png" and path.read_bytes()[:4] == b"\x89PNG"
    assert not plt.fignum_exists(fig.number)


@pytest.mark.parametrize("size, synthetic, stamps", [
    ("full", False, []),
    ("quick", False, [walkthrough.QUICK_STAMP]),
    ("short", True, [walkthrough.SYNTHETIC_STAMP]),
    ("quick", True, [walkthrough.QUICK_STAMP, walkthrough.SYNTHETIC_STAMP]),
])
def test_save_figure_stamps_quick_runs_and_synthetic_digits(monkeypatch, tmp_path, size, synthetic, stamps):
    monkeypatch.setattr(walkthrough, "run_size", size)
    monkeypatch.setattr(walkthrough, "synthetic_data", synthetic)
    fig, _ = walkthrough_pyplot().subplots()
    walkthrough.save_figure(fig, tmp_path, "figure")
    texts = [t.get_text() for t in fig.texts]
    assert texts == (["\n".join(stamps)] if stamps else [])


def test_load_data_tells_save_figure_about_synthetic_digits(monkeypatch, tmp_path):
    monkeypatch.setattr(walkthrough, "synthetic_data", False)
    args = walkthrough.parse_args("doc", ["--quick", "--out", str(tmp_path)])
    walkthrough.load_data(args, n_train=10, n_test=10, dataset="synthetic")
    assert walkthrough.synthetic_data
    fig, _ = walkthrough_pyplot().subplots()
    walkthrough.save_figure(fig, tmp_path, "real", synthetic=False)  # the caller knows better
    assert [t.get_text() for t in fig.texts] == [walkthrough.QUICK_STAMP]


def walkthrough_pyplot():
    from npae.plots import pyplot

    return pyplot()


def test_findings_benchmark_fails_a_run_that_does_not_show_a_finding():
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import walkthrough_findings as bench
    finally:
        sys.path.remove(str(ROOT))
    good = {"exit_code": 0, "findings": {"a": True}, "wall_seconds": 100.0, "load_before": 1.0}
    assert bench.problems(good, "short", 180) == []
    assert bench.problems({**good, "findings": {"a": True, "b": False}}, "short", 180) == ["finding not shown: b"]
    assert bench.problems({**good, "findings": {"b": False}}, "quick", None) == []
    assert bench.problems({**good, "findings": {}}, "quick", None) == ["recorded no findings"]
    assert "over the limit of 180 s" in bench.problems({**good, "wall_seconds": 200.0}, "short", 180)[0]
    assert "exited with code 1" in bench.problems({**good, "exit_code": 1}, "short", 180)[0]
    assert [s.stem[:2] for s in bench.select(["05", "01_pca_vs_autoencoder"])] == ["05", "01"]
    with pytest.raises(SystemExit, match="no walkthrough '99'"):
        bench.select(["99"])


# ----------------------------------------------------------------------------------------------
# SoftmaxCrossEntropy (walkthrough 10)
# ----------------------------------------------------------------------------------------------


@given(n=st.integers(1, 6), k=st.integers(2, 7), scale=st.sampled_from([0.1, 1.0, 5.0]),
       one_hot_targets=st.booleans(), reduction=st.sampled_from(["sum", "mean"]), seed=st.integers(0, 2**16))
def test_softmax_cross_entropy_gradient_is_the_derivative_of_its_value(n, k, scale, one_hot_targets, reduction,
                                                                       seed):
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((n, k))
    target = one_hot(rng.integers(0, k, n), k, np.float64) if one_hot_targets else rng.random((n, k))
    errors = check_loss(SoftmaxCrossEntropy(reduction), logits, target)
    assert errors["pred"] < GRAD_TOL


def test_softmax_cross_entropy_value_is_the_mean_negative_log_probability():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = np.array([0, 1])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(2), labels]))
    loss = SoftmaxCrossEntropy()
    assert loss.value(logits, one_hot(labels, 3, np.float64)) == pytest.approx(expected, rel=1e-12)
    value, grad = loss.value_and_grad(logits, one_hot(labels, 3, np.float64))
    np.testing.assert_allclose(grad, (p - one_hot(labels, 3, np.float64)) / 2, rtol=1e-12)
    assert SoftmaxCrossEntropy("mean").value(logits, one_hot(labels, 3, np.float64)) == pytest.approx(expected / 3)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4]], dtype=np.float32)
    value, grad = SoftmaxCrossEntropy().value_and_grad(logits, np.array([[0.0, 1.0, 0.0]], dtype=np.float32))
    assert value == pytest.approx(1e4) and np.all(np.isfinite(grad)) and grad.dtype == np.float32
    np.testing.assert_allclose(grad, [[1.0, -1.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(log_softmax(np.array([1000.0, 1000.0])), np.log([0.5, 0.5]))


def test_softmax_cross_entropy_and_one_hot_refuse_bad_input():
    with pytest.raises(ValueError, match=r"expected logits of shape \(N, K\)"):
        SoftmaxCrossEntropy().value(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="target values must be probabilities >= 0"):
        SoftmaxCrossEntropy().value(np.zeros((2, 3)), -np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"labels: expected values in 0..2, got range \[0, 3\]"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(TypeError, match="labels: expected a 1-D integer array"):
        one_hot(np.array([0.0, 1.0]), 3)


# ----------------------------------------------------------------------------------------------
# Walkthrough 11's L-BFGS (UFLDL's optimiser)
# ----------------------------------------------------------------------------------------------


def walkthrough_module(prefix):
    import importlib.util

    script = next(p for p in SCRIPTS if p.name.startswith(prefix))
    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lbfgs_finds_the_minimum_of_rosenbrocks_valley():
    lbfgs = walkthrough_module("11_").lbfgs

    def rosenbrock(theta):
        x, y = theta
        value = (1 - x) ** 2 + 100 * (y - x**2) ** 2
        return value, np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])

    theta, values = lbfgs(rosenbrock, np.array([-1.2, 1.0]), iterations=200)
    np.testing.assert_allclose(theta, [1.0, 1.0], atol=1e-5)
    assert all(b <= a for a, b in zip(values, values[1:]))  # every accepted step lowers the value


def test_lbfgs_solves_a_quadratic_and_stops_at_a_stationary_point():
    lbfgs = walkthrough_module("11_").lbfgs
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6))
    H, b = A @ A.T + np.eye(6), rng.standard_normal(6)
    theta, values = lbfgs(lambda t: (0.5 * t @ H @ t - b @ t, H @ t - b), np.zeros(6), iterations=30)
    np.testing.assert_allclose(theta, np.linalg.solve(H, b), atol=1e-6)
    theta, values = lbfgs(lambda t: (float(t @ t), 2 * t), np.zeros(3), iterations=5)
    assert values == [0.0] and not np.any(theta)  # already at the minimum: no step, no division by |g| = 0
