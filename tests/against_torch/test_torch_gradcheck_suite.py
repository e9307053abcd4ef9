"""`npae gradcheck --against torch`: every torch row passes (a component the bridge cannot mirror fails:
tests/test_gradcheck_suite.py)."""
import pytest

from support import import_framework

torch = import_framework("torch")

from npae.gradcheck import suite


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

