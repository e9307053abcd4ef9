"""npae.gradcheck.suite: the `npae gradcheck` table (finite differences; the torch and JAX rows are checked in
tests/against_torch and tests/against_jax)."""

import math
import sys

import numpy as np
import pytest

from npae import Layer, Tanh
from npae.backends import BACKENDS
from npae.core.layers import Activation
from npae.core.losses import Loss
from npae.gradcheck import suite


@pytest.fixture(scope="module", params=BACKENDS)
def float64_rows(request):
    """The whole table, on each backend."""
    return suite.run(backend=request.param)


def test_every_gradient_of_the_library_passes_in_float64(float64_rows):
    failed = [row for row in float64_rows if not row.passed]
    assert not failed, suite.format_table(failed)


def test_every_component_has_rows(float64_rows):
    checked = {row.component.split("(")[0] for row in float64_rows if row.passed}
    missing = set(suite.components()) - checked
    assert not missing, f"components without a passing gradient row: {sorted(missing)}"
    assert {"Dense", "ReLU", "MSE", "BinaryCrossEntropy", "Flatten", "Sequential"} <= checked


def test_rows_name_parameters_and_inputs(float64_rows):
    dense = {row.tensor for row in float64_rows if row.component == "Dense(5, 4)"}
    assert dense == {"x", "W", "b"}
    sequential = {row.tensor for row in float64_rows if row.component.startswith("Sequential")}
    assert sequential == {"x", "0.W", "0.b", "2.W", "2.b"}
    dense_errors = [row.max_rel_error for row in float64_rows if row.component == "Dense(5, 4)"]
    assert all(0 < err < suite.FD_TOL[np.float64] for err in dense_errors)


def test_float32_passes_with_its_looser_tolerance():
    rows = suite.run(dtype="float32", seed=1)
    assert rows and all(row.passed for row in rows), suite.format_table(rows)
    assert max(row.max_rel_error for row in rows) > suite.FD_TOL[np.float64]  # float32 really was used


def test_a_wrong_backward_fails(monkeypatch):
    monkeypatch.setattr(Tanh, "_local_grad", lambda self: 1 - self._y)  # forgot to square
    failed = [row for row in suite.run(only=["Tanh", "Sequential"]) if not row.passed]
    assert {row.component for row in failed} == {"Tanh()", "Sequential(Dense(4, 3), Tanh(), Dense(3, 2))"}
    assert all(row.max_rel_error > 1e-2 for row in failed if row.component == "Tanh()")


def test_only_checks_the_named_components():
    rows = suite.run(only=["MaxPool2D", "KLSparsity"])
    assert {row.component.split("(")[0] for row in rows} == {"MaxPool2D", "KLSparsity"}
    assert all(row.passed for row in rows)
    with pytest.raises(ValueError, match=r"only: unknown components \['Conv3D'\]; known ones are \[.*'Conv2D'"):
        suite.run(only=["Conv3D"])
    with pytest.raises(TypeError, match="only: expected a list of component names, got 'Dense'"):
        suite.run(only="Dense")


class Unchecked(Layer):
    pass


class Scaled(Activation):
    """An activation with a required argument: no automatic case can build it."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor


@pytest.mark.parametrize("cls", [Unchecked, Scaled])
def test_a_component_without_a_case_is_a_failing_row(monkeypatch, cls):
    found = suite.components()
    monkeypatch.setattr(suite, "components", lambda: {**found, cls.__name__: cls})
    assert any(row.component == cls.__name__ for row in suite.run(only=[cls.__name__, "Identity"]))
    (row,) = suite.run(only=[cls.__name__])
    assert row.component == cls.__name__ and not row.passed and math.isnan(row.max_rel_error)
    assert row.tensor == "(no gradient case registered)"


def test_spread_inputs_are_distinct_separated_and_away_from_zero():
    x = suite.spread(np.random.default_rng(0), (4, 25))
    gaps = np.diff(np.sort(x.ravel()))
    assert x.shape == (4, 25) and np.all(gaps > 0.039) and np.abs(x).min() > 0.019 and np.abs(x).max() < 2


def test_format_table_aligns_and_counts():
    rows = [suite.Row("Dense(5,4)", "W", 1.5e-10, True), suite.Row("Conv", "x", 0.5, False)]
    lines = suite.format_table(rows).splitlines()
    assert lines[0].split() == ["component", "tensor", "max", "rel", "error"]
    assert lines[2].split() == ["Dense(5,4)", "W", "1.50e-10", "ok"]
    assert lines[3].split() == ["Conv", "x", "5.00e-01", "FAIL"]
    assert lines[-1] == "2 gradients checked, 1 failed"
    assert lines[2].index("W") == lines[3].index("x") == lines[0].index("tensor")


def test_main_prints_the_table_and_exits_zero(capsys, float64_rows, monkeypatch):
    passing = [row for row in float64_rows if row.passed]
    monkeypatch.setattr(suite, "run", lambda against, dtype, seed, only, backend, progress=None: passing)
    assert suite.main([]) == 0
    out = capsys.readouterr().out
    assert "Dense(5, 4)" in out and out.strip().endswith(f"{len(passing)} gradients checked, 0 failed")


def test_main_exits_one_on_a_failure(capsys, monkeypatch):
    monkeypatch.setattr(suite, "run", lambda against, dtype, seed, only, backend, progress=None: [suite.Row("Broken", "x", 1.0, False)])
    assert suite.main(["--dtype", "float32"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_against_torch_without_torch_says_so(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    assert suite.main(["--against", "torch"]) == 2
    assert "needs PyTorch, which is not installed" in capsys.readouterr().err
    with pytest.raises(ImportError, match="pip install torch"):
        suite.run(against="torch")


@pytest.mark.parametrize("module, name", [("torch", "PyTorch"), ("jax", "JAX")])
def test_against_a_framework_that_is_not_installed_says_so(capsys, monkeypatch, module, name):
    monkeypatch.setitem(sys.modules, module, None)
    assert suite.main(["--against", "torch,jax"]) == 2
    assert f"against='{module}' needs {name}, which is not installed (pip install {module})" in capsys.readouterr().err


def test_every_missing_framework_is_named_at_once(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "jax", None)
    assert suite.main(["--against", "torch,jax"]) == 2
    err = capsys.readouterr().err
    assert "against='torch' needs PyTorch" in err and "against='jax' needs JAX" in err


def test_against_names_one_or_both_frameworks():
    assert suite.oracles(None) == ()
    assert suite.oracles("jax") == ("jax",)
    assert suite.oracles("torch, jax") == suite.oracles(["torch", "jax"]) == ("torch", "jax")
    for bad in ("tensorflow", "torch,torch", "", ["torch", 3], "torch,"):
        with pytest.raises(ValueError, match=r"against: expected None, or one or more of \['jax', 'torch'\]"):
            suite.oracles(bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="against: expected None, or one or more of .* got 'tensorflow'"):
        suite.run(against="tensorflow")
    with pytest.raises(SystemExit):
        suite.main(["--against", "tensorflow"])
    with pytest.raises(TypeError, match="dtype: expected float32 or float64, got int32"):
        suite.run(dtype="int32")
    with pytest.raises(SystemExit):
        suite.main(["--dtype", "float16"])
    with pytest.raises(SystemExit):
        suite.main(["--only", "Conv3D"])


@pytest.mark.parametrize("oracle, name", [("torch", "PyTorch"), ("jax", "JAX")])
def test_a_component_without_an_autograd_reference_is_a_failing_row(monkeypatch, oracle, name):
    pytest.importorskip(oracle, reason=f"compares with {name}, which is not installed")

    class AbsoluteError(Loss):
        def _elementwise(self, pred, target):
            return np.abs(pred - target)

        def _elementwise_grad(self, pred, target):
            return np.sign(pred - target)

    found = suite.components()
    monkeypatch.setattr(suite, "components", lambda: {**found, "AbsoluteError": AbsoluteError})
    rows = suite.run(against=oracle, only=["AbsoluteError"])
    assert [row.passed for row in rows if " vs " not in row.component] == [True, True]
    oracle_rows = [row for row in rows if row.component.endswith(f" vs {oracle}")]
    assert len(oracle_rows) == 2 and not any(row.passed for row in oracle_rows)
    assert all(math.isnan(row.max_rel_error) and f"no {name} reference" in row.tensor for row in oracle_rows)
