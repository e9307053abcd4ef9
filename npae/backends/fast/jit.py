"""The decorators every kernel uses, so compile options (and the thread pool) are chosen in one place.

- ``kernel``: ``numba.njit(cache=True)``, a serial compiled loop.
- ``parallel_kernel``: the same with ``parallel=True``; its ``prange`` loops (over the batch, or over
  image planes) run on ``NUMBA_NUM_THREADS`` threads.
- ``inline_kernel``: a helper that Numba pastes into the kernel calling it, so LLVM optimises the two as one
  (it then knows, for instance, that two freshly allocated accumulators never overlap).
- ``parallel_fast_kernel``: parallel and with ``FASTMATH``.

All of them use NumPy's error model for division (see ``OPTIONS``).

``cache=True`` stores the machine code beside the source (``__pycache__``), so only the first import on a
machine pays the compile time. Numba keys that cache on each kernel's own source file and function, not on
the options below: after changing ``OPTIONS`` or ``FASTMATH``, delete the ``*.nbi``/``*.nbc`` files under
``npae/`` or stale machine code is loaded. For the same reason every kernel wraps its own Python function
(a test checks it). ``FASTMATH`` lets LLVM reorder and fuse multiply-adds, which is what turns
the long inner sums of the convolutions into vector instructions; it never assumes away NaN or infinity.

Thread pool. Unless ``NUMBA_THREADING_LAYER`` is set, npae asks Numba for its ``workqueue`` layer rather than
OpenMP. An OpenMP team waits for every thread at the end of each parallel loop, spinning; when another
process holds one of the cores, that wait lasts a scheduler time slice, and on a busy machine every parallel
loop then costs milliseconds (benchmarks/README.md has the measurement). The workqueue pool does not nest
parallel loops and must not be entered from two Python threads at once; npae's kernels never nest. Set
``NUMBA_THREADING_LAYER=omp`` to choose OpenMP anyway.
"""

from __future__ import annotations

import os

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# NumPy's error model: a float division by zero gives inf or nan, as in NumPy, instead of Python's
# ZeroDivisionError. Python's model puts a test and a branch in front of every division, and that branch
# stops LLVM from vectorising the loop (the Adam update runs several times slower with it). Non-finite
# values are still caught, by the training loop's guards.
OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}

kernel = numba.njit(**OPTIONS)
parallel_kernel = numba.njit(parallel=True, **OPTIONS)
inline_kernel = numba.njit(fastmath=FASTMATH, inline="always", **OPTIONS)
parallel_fast_kernel = numba.njit(parallel=True, fastmath=FASTMATH, **OPTIONS)
