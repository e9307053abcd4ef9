"""`npae gradcheck --against jax`: every JAX row of the table passes, for the same components as PyTorch's."""

import pytest
from support import import_framework

jax = import_framework("jax")

from npae.core.checks import as_generator
from npae.gradcheck import suite


def test_every_jax_comparison_of_the_table_passes(matches_jax):
    """Each case's JAX comparison on its own (the finite-difference rows are tests/test_gradcheck_suite.py's)."""
    with_jax = [case for case in suite.cases() if case.jax is not None]
    assert {case.component for case in with_jax} == {case.component for case in suite.cases() if case.torch}
    assert {"Conv2D", "Conv2DTranspose", "MaxPool2D", "UpSampling2D", "BinaryCrossEntropy", "Contractive",
            "KLSparsity", "WeightDecay", "VAE"} <= {case.covers for case in with_jax}
    for case in with_jax:
        matches_jax(case.jax(as_generator(0)), case.component)


def test_the_command_prints_finite_difference_and_jax_rows(capsys):
    assert suite.main(["--against", "jax", "--only", "Dense", "KLSparsity"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("Dense(5, 4) vs jax") for line in lines)
    assert any(line.startswith("KLSparsity(0.2, 3.0, layer=3) on Dense-Tanh-Dense-Sigmoid vs jax") for line in lines)
    assert lines[-1].endswith(" gradients checked, 0 failed")


def test_against_torch_and_jax_gives_both_rows():
    import_framework("torch")
    rows = suite.run(against="torch,jax", only=["Dense"])
    assert all(row.passed for row in rows), suite.format_table(rows)
    assert [row.tensor for row in rows if row.component == "Dense(1, 1) vs torch"] == ["y", "x", "W", "b"]
    assert [row.tensor for row in rows if row.component == "Dense(1, 1) vs jax"] == ["y", "x", "W", "b"]

