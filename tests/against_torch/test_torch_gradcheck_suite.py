"""`npae gradcheck --against torch`: every torch row passes, and a component the bridge cannot mirror fails."""

import math

import numpy as np
import pytest

from support import import_framework

torch = import_framework("torch")

from npae.gradcheck import suite
from npae.core.losses import Loss


def test_against_torch_every_row_passes(matches_torch):
    rows = suite.run(against="torch")
    failed = [row for row in rows if not row.passed]
    assert not failed, suite.format_table(failed)
    torch_rows = [row for row in rows if row.component.endswith(" vs torch")]
    with_reference = {case.component for case in suite.cases() if case.torch is not None}
    assert {row.component[: -len(" vs torch")] for row in torch_rows} == with_reference
    assert {"Conv2DTranspose", "Contractive", "KLSparsity", "VAE"} <= {
        case.covers for case in suite.cases() if case.torch is not None}
    matches_torch({f"{row.component}: {row.tensor}": row.max_rel_error for row in torch_rows}, "gradcheck table")


def test_a_component_without_torch_reference_is_a_failing_row(monkeypatch):
    class AbsoluteError(Loss):
        def _elementwise(self, pred, target):
            return np.abs(pred - target)

        def _elementwise_grad(self, pred, target):
            return np.sign(pred - target)

    found = suite.components()
    monkeypatch.setattr(suite, "components", lambda: {**found, "AbsoluteError": AbsoluteError})
    rows = suite.run(against="torch", only=["AbsoluteError"])
    assert [row.passed for row in rows if "vs torch" not in row.component] == [True, True]
    torch_rows = [row for row in rows if "vs torch" in row.component]
    assert len(torch_rows) == 2 and not any(row.passed for row in torch_rows)
    assert all(math.isnan(row.max_rel_error) and "no PyTorch reference" in row.tensor for row in torch_rows)
