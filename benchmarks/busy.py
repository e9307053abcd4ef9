"""A busy machine on demand: one CPU-bound Python process per core, started and stopped by the benchmark."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

SPIN = "while True: pass"


@contextlib.contextmanager
def competitors(count=None):
    """Run ``count`` (default: one per core) processes that spin at normal priority for the ``with`` block;
    they are stopped when it ends, whatever happens inside."""
    count = (os.cpu_count() or 1) if count is None else count
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(count)]
    try:
        yield [p.pid for p in spinners]
    finally:
        for p in spinners:
            p.terminate()
        for p in spinners:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
