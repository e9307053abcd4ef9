"""The decorators every kernel uses, so compile options (and the thread pool) are chosen in one place.

- ``kernel``: ``numba.njit(cache=True)``, a serial compiled loop.
- ``parallel_kernel``: the same with ``parallel=True``; its ``prange`` loops (over the batch, or over
  image planes) run on ``NUMBA_NUM_THREADS`` threads.
- ``inline_kernel``: a helper that Numba pastes into the kernel calling it, so LLVM optimises the two as one
  (it then knows, for instance, that two freshly allocated accumulators never overlap).
- ``fast_kernel``, ``parallel_fast_kernel``: serial or parallel, with ``FASTMATH``.

All of them use NumPy's error model for division (see ``OPTIONS``).

``cache=True`` stores the machine code beside the source (``__pycache__``), so only the first import on a
machine pays the compile time. Numba keys that cache on each kernel's own source file and function, not on
the options below: after changing ``OPTIONS`` or ``FASTMATH``, delete the ``*.nbi``/``*.nbc`` files under
``npae/`` or stale machine code is loaded. For the same reason every kernel wraps its own Python function
(a test checks it). Numba does not follow the kernels a kernel calls into other files either: after changing
``vector_exp.py``, delete the caches of the kernels that call it (``elementwise``, ``likelihood``).
``FASTMATH`` lets LLVM reorder and fuse multiply-adds, which is what turns the long inner sums of the
convolutions into vector instructions; it never assumes away NaN or infinity.

Thread pool. Unless ``NUMBA_THREADING_LAYER`` is set, npae asks Numba for its OpenMP layer, and for the
``workqueue`` layer where OpenMP is missing. A training step enters a parallel loop a few dozen times, with a
little serial work in between (Python, the next layer's set-up), so what matters is how the pool's threads wait
between loops:

- The ``workqueue`` pool sleeps at once, but the calling thread hands all the work to the pool's own threads and
  waits: each loop wakes every worker, and on a machine with other (even low-priority) work a woken thread can
  wait a time slice for its core.
- OpenMP's calling thread works as one of the team, so a loop on two threads wakes only one. How long a
  finished thread spins before it sleeps is ``GOMP_SPINCOUNT`` (roughly 100,000 spins per millisecond). GNU
  OpenMP's default, 3 ms, lets spinning threads take the time slices a competing process needs, and then every
  loop waits a time slice; with ``OMP_WAIT_POLICY=passive`` (no spinning) every loop pays for a wake-up instead,
  which on a virtual machine takes 100-150 microseconds, as long as many of the loops themselves.
- So npae sets ``GOMP_SPINCOUNT`` to ``SPIN_COUNT`` (about 0.1 ms: longer than the serial gaps between the loops
  of a step, far shorter than a time slice) unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set already.
  benchmarks/README.md has the measurements.

npae's kernels never nest parallel loops. GNU OpenMP does not survive ``fork()`` in a process that has used it
(Numba stops such a child with an error): start worker processes with ``spawn``, or set
``NUMBA_THREADING_LAYER=workqueue``.
"""

from __future__ import annotations

import os

import numba

SPIN_COUNT = 10_000

if "NUMBA_THREADING_LAYER" not in os.environ:
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)  # read by libgomp when Numba's OpenMP layer loads
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
    numba.config.THREADING_LAYER = "default"

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# NumPy's error model: a float division by zero gives inf or nan, as in NumPy, instead of Python's
# ZeroDivisionError. Python's model puts a test and a branch in front of every division, and that branch
# stops LLVM from vectorising the loop (the Adam update runs several times slower with it). Non-finite
# values are still caught, by the training loop's guards.
OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}

kernel = numba.njit(**OPTIONS)
parallel_kernel = numba.njit(parallel=True, **OPTIONS)
inline_kernel = numba.njit(fastmath=FASTMATH, inline="always", **OPTIONS)
fast_kernel = numba.njit(fastmath=FASTMATH, **OPTIONS)
parallel_fast_kernel = numba.njit(parallel=True, fastmath=FASTMATH, **OPTIONS)
