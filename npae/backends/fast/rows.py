"""Two row helpers the parallel kernels call instead of slice assignments.

Inside a ``parallel=True`` kernel, Numba turns every array expression (``row[:] = 0``, ``dst[a:b] = src``)
into a nested parallel loop of its own, which costs seconds of compile time each and buys nothing inside an
already parallel loop. These plain loops compile once per dtype and are as fast.
"""

from __future__ import annotations

from .jit import kernel


@kernel
def fill(row, value):
    """``row[i] = value`` for every ``i`` of a 1-D array."""
    for i in range(row.size):
        row[i] = value


@kernel
def copy(dst, src):
    """``dst[i] = src[i]`` for ``i < len(src)``."""
    for i in range(src.size):
        dst[i] = src[i]
