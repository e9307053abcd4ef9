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

from npae.gradcheck.suite import one_numba_thread

TORCH_TOL = 1e-8

_tally_key = pytest.StashKey[dict]()


def _tally(config):
    return config.stash.setdefault(_tally_key, {"tensors": 0, "worst": 0.0})


@pytest.fixture(autouse=True)
def _one_numba_thread():
    """The problems here are tiny: Numba's thread pool would only add wake-ups (2.3x the CPU time of this group)."""
    with one_numba_thread():
        yield


@pytest.fixture(scope="session")
def matches_torch(request):
    """``matches_torch(errors, what)``: assert every error in ``{tensor: max rel error}`` is below 1e-8."""
    tally = _tally(request.config)

    def check(errors, what=""):
        assert errors, f"{what}: nothing was compared"
        tally["tensors"] += len(errors)
        tally["worst"] = max(tally["worst"], *errors.values())
        bad = {name: err for name, err in errors.items() if not err < TORCH_TOL}
        assert not bad, f"{what}: relative error vs PyTorch above {TORCH_TOL:g}: {bad}"

    return check


def pytest_terminal_summary(terminalreporter, config):
    tally = config.stash.get(_tally_key, None)
    if tally and tally["tensors"]:
        terminalreporter.write_line(
            f"npae vs PyTorch: {tally['tensors']} tensors compared, worst max relative error {tally['worst']:.2e} "
            f"(tolerance {TORCH_TOL:g})"
        )
