"""The CI script cannot pass while skipping what it is meant to run: every step must succeed, every framework it
installs is required by the tests (a missing one is an error, not a skip), and the opt-in tests it owes run."""

import re
import shlex

import pytest

from support import REPO, import_framework

CI_SCRIPT = (REPO / ".ci" / "run").read_text()
COMMANDS = [line.split("#")[0].strip() for line in CI_SCRIPT.splitlines() if line.split("#")[0].strip()]


def exported(name):
    values = [line.split("=", 1)[1] for line in COMMANDS if line.startswith(f"export {name}=")]
    assert values, f".ci/run does not export {name}"
    return shlex.split(values[-1])[0]


def test_every_step_must_succeed():
    assert "set -euo pipefail" in COMMANDS
    for line in COMMANDS:
        assert "||" not in line, f"a failure would be ignored: {line}"


def test_every_framework_installed_is_required_by_the_tests():
    installed = {m.group(1) for line in COMMANDS for m in re.finditer(r"pip install .*?\b(torch|jax)\b", line)}
    assert "torch" in installed
    required = set(exported("NPAE_REQUIRE").split(","))
    assert installed <= required, f"installed {installed}, but NPAE_REQUIRE={required}"


def test_ci_runs_the_cold_cache_determinism_test():
    assert exported("NPAE_COLD_NUMBA_TESTS") == "1"
    determinism = (REPO / "tests" / "test_determinism.py").read_text()
    assert 'os.environ.get("NPAE_COLD_NUMBA_TESTS") == "1"' in determinism


def test_a_required_framework_that_is_missing_is_an_error_not_a_skip(monkeypatch):
    monkeypatch.setenv("NPAE_REQUIRE", "torch,npae_no_such_framework")
    with pytest.raises(ImportError, match="NPAE_REQUIRE lists 'npae_no_such_framework', but it cannot be imported"):
        import_framework("npae_no_such_framework")
    monkeypatch.delenv("NPAE_REQUIRE")
    with pytest.raises(pytest.skip.Exception, match="compares with npae_no_such_framework, which is not installed"):
        import_framework("npae_no_such_framework")
