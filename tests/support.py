"""Shared test constants and markers (a module of its own: ``conftest`` is a name pytest gives to every
conftest.py it loads, so importing from it breaks when tests/against_torch/conftest.py was loaded first)."""

import importlib
import os
import pathlib
import re

import pytest

GRAD_TOL = 1e-6
REPO = pathlib.Path(__file__).resolve().parents[1]


def npae_command():
    """The function the installed ``npae`` script calls, resolved from pyproject.toml's ``[project.scripts]``."""
    pyproject = (REPO / "pyproject.toml").read_text()  # read by pattern: tomllib needs Python 3.11
    target = re.search(r'^\[project\.scripts\][^\[]*?^npae\s*=\s*"([^"]+)"', pyproject, re.M | re.S).group(1)
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def import_framework(name):
    """``import name`` for a comparison test (torch, jax): skipped where the framework is not installed, unless
    the environment variable ``NPAE_REQUIRE`` lists it (``NPAE_REQUIRE=torch,jax``, as ``.ci/run`` sets): then
    a missing framework is an error, so that a failed install cannot pass as a group of skipped tests."""
    required = {item.strip() for item in os.environ.get("NPAE_REQUIRE", "").split(",")}
    if name in required:
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(f"NPAE_REQUIRE lists {name!r}, but it cannot be imported: {exc}") from exc
    return pytest.importorskip(name, reason=f"compares with {name}, which is not installed")


def mnist_dir():
    """The folder holding ``mnist/`` with the real IDX files, or None."""
    root = os.environ.get("NPAE_DATA_DIR")
    if root and (pathlib.Path(root) / "mnist" / "train-images-idx3-ubyte.gz").exists():
        return root
    return None


requires_mnist = pytest.mark.skipif(
    mnist_dir() is None, reason="NPAE_DATA_DIR does not point at a folder with mnist/ IDX files"
)


@pytest.fixture(autouse=True)
def one_numba_thread():
    """Run the importing module's tests with one Numba thread (restored after each test).

    Finite-difference checks run thousands of tiny forward passes, and waking a thread pool for each kernel
    costs more than the kernel (tens of milliseconds per call on a busy machine). Import it into a test
    module to apply it there (``from support import one_numba_thread``); test_kernels.py keeps all threads."""
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(threads)


def oracle_fixtures(framework, tolerance):
    """``(fixture, terminal_summary)`` for a group comparing npae with the autograd ``framework`` (``"PyTorch"``).

    The fixture, ``matches(errors, what)``, asserts every max relative error in ``{tensor: error}`` is below
    ``tolerance`` and counts the tensors; ``terminal_summary`` (a ``pytest_terminal_summary`` hook) prints the
    count and the worst error at the end of the run. A conftest binds them to its own names::

        matches_torch, pytest_terminal_summary = oracle_fixtures("PyTorch", 1e-8)
    """
    tally_key = pytest.StashKey[dict]()

    def tally(config):
        return config.stash.setdefault(tally_key, {"tensors": 0, "worst": 0.0})

    @pytest.fixture(scope="session")
    def matches(request):
        counts = tally(request.config)

        def check(errors, what=""):
            assert errors, f"{what}: nothing was compared"
            counts["tensors"] += len(errors)
            counts["worst"] = max(counts["worst"], *errors.values())
            bad = {name: err for name, err in errors.items() if not err < tolerance}
            assert not bad, f"{what}: relative error vs {framework} above {tolerance:g}: {bad}"

        return check

    def terminal_summary(terminalreporter, config):
        counts = config.stash.get(tally_key, None)
        if counts and counts["tensors"]:
            terminalreporter.write_line(
                f"npae vs {framework}: {counts['tensors']} tensors compared, worst max relative error "
                f"{counts['worst']:.2e} (tolerance {tolerance:g})"
            )

    return matches, terminal_summary
