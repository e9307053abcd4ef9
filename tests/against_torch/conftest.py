"""The PyTorch comparison group (not named ``tests/torch``: with ``tests/`` on sys.path, a folder called
``torch`` would be imported as a namespace package where torch is not installed, and nothing would skip): every module here is skipped, with the reason, when torch is not installed.

Each test module starts with ``torch = import_framework("torch")`` (``tests/support.py``): a skip where torch
is not installed, an error where ``NPAE_REQUIRE`` lists it (CI: a failed install must fail). The skip cannot live in
this conftest: pytest 9 crashes on a skip raised by a conftest it loads at start-up (``pytest tests/against_torch``),
and a skip from a collection hook makes ``pytest tests/against_torch/test_x.py`` fail with "found no collectors".
This conftest imports nothing from torch.

Every comparison goes through the ``matches_torch`` fixture, which asserts the max relative error of each
tensor is below ``TORCH_TOL`` and counts the tensors; the count is printed at the end of the run.
"""

import pytest
from support import oracle_fixtures

from npae.gradcheck.suite import one_numba_thread

TORCH_TOL = 1e-8

matches_torch, pytest_terminal_summary = oracle_fixtures("PyTorch", TORCH_TOL)


@pytest.fixture(autouse=True)
def _one_numba_thread():
    """The problems here are tiny: Numba's thread pool would only add wake-ups (2.3x the CPU time of this group)."""
    with one_numba_thread():
        yield
