"""The JAX comparison group (not named ``tests/jax``: with ``tests/`` on sys.path, a folder called ``jax`` would be
imported as a namespace package where JAX is not installed, and nothing would skip): every module here is skipped,
with the reason, when JAX is not installed.

Each test module starts with ``jax = import_framework("jax")`` (``tests/support.py``): a skip where JAX is not
installed, an error where ``NPAE_REQUIRE`` lists it. As in ``tests/against_torch``, the
skip cannot live in this conftest (pytest crashes on a skip raised by a conftest it loads at start-up, and a skip
from a collection hook makes ``pytest tests/against_jax/test_x.py`` fail with "found no collectors"). This
conftest imports nothing from JAX.

Every comparison goes through the ``matches_jax`` fixture, which asserts the max relative error of each tensor is
below ``JAX_TOL`` and counts the tensors; the count is printed at the end of the run.

XLA compiles every differentiated function once, and on these tiny problems compiling is most of the time: its
optimisation passes (fusion, layout) are switched off for the test run unless ``XLA_FLAGS`` is already set, which
halves the compile time. The arithmetic is the same float64 arithmetic; only how XLA schedules it changes.
"""

import os
import sys

import pytest
from support import oracle_fixtures

from npae.gradcheck.suite import ORACLE_TOL, one_numba_thread

if "jax" not in sys.modules:
    os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

JAX_TOL = ORACLE_TOL

matches_jax, pytest_terminal_summary = oracle_fixtures("JAX", JAX_TOL)


@pytest.fixture(autouse=True)
def _one_numba_thread():
    """The problems here are tiny: Numba's thread pool would only add wake-ups."""
    with one_numba_thread():
        yield
