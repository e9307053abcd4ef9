"""The benchmark's fairness rules that can be checked without timing anything."""

import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]

WORKER_ENVIRONMENT = textwrap.dedent(
    """
    import os
    from benchmarks import train_speed
    from benchmarks.models import step_flops

    step_flops("conv")  # the parent counts FLOPs with npae's fast backend, which sets its OpenMP variable
    assert os.environ["GOMP_SPINCOUNT"]
    for library in ("torch", "npae"):
        env = train_speed.worker_environment(2, library)
        assert "GOMP_SPINCOUNT" not in env and "OMP_WAIT_POLICY" not in env, library
        assert env["OMP_NUM_THREADS"] == env["NUMBA_NUM_THREADS"] == "2"
    assert train_speed.worker_environment(2, "torch")["NPAE_BACKEND"] == "reference"
    print("environment ok")
    """
)


def test_workers_start_from_the_users_environment_not_npaes():
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "NPAE_BACKEND")}
    result = subprocess.run([sys.executable, "-c", WORKER_ENVIRONMENT], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "environment ok" in result.stdout
