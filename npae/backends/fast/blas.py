"""One thread pool at a time: NumPy's BLAS threads and the Numba kernels of the image layers on the same cores.

A training step of a convolutional model runs two kinds of parallel code: the Numba kernels of its
convolution, pooling and upsampling operations (on ``NUMBA_NUM_THREADS`` threads), and the matrix products of
its Dense layers, which NumPy hands to OpenBLAS and its own thread pool. After each product OpenBLAS's idle
threads keep polling for new work for about a tenth of a second, longer than the rest of the step, so with
two cores one of them is always partly taken while the Numba kernels run (benchmarks/README.md has the
measured cost).

The policy, kept entirely inside the fast backend: the first image operation (``conv2d_*``, pooling,
upsampling) of the process puts OpenBLAS on one thread, and it stays there: from then on the products run on
the calling thread and never wake BLAS's pool. A process that trains only Dense models never runs an image
operation and keeps BLAS's threads, which are what makes its products fast.

The rule depends only on what the process has run, never on timing: OpenBLAS's float32 products round
differently on one thread and on two, so a rule that switched with time would make float32 results depend on
the machine's load. ``restore_blas_threads()`` undoes it (benchmarks running several models in one process
use it). Nothing changes when Numba runs on one thread (then the two pools do not compete), where NumPy's
BLAS is not OpenBLAS (MKL, Accelerate) or cannot be found, or when ``ENABLED`` is False.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import threading

import numba
import numpy as np

ENABLED = True

# the names under which OpenBLAS builds export the setter and getter (NumPy's wheels use the scipy_ prefix)
_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
            "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_",
            "openblas_get_num_threads")


def _candidate_libraries():
    """Paths of OpenBLAS libraries loaded in this process (Linux), else those shipped inside NumPy."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            paths = [line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line]
    except OSError:
        pass
    numpy_dir = os.path.dirname(np.__file__)
    for pattern in ("../numpy.libs/*openblas*", ".dylibs/*openblas*", "../numpy.libs/*openblas*.dll"):
        paths += glob.glob(os.path.join(numpy_dir, pattern))
    return list(dict.fromkeys(paths))


def _find_controls():
    """``(set_num_threads, get_num_threads)`` of NumPy's OpenBLAS, or None."""
    for path in _candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
        getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
        if setter is not None and getter is not None:
            setter.restype, getter.restype = None, ctypes.c_int
            setter.argtypes = [ctypes.c_int]
            return setter, getter
    return None


_controls = _find_controls()
_lock = threading.Lock()
_saved_threads = None  # BLAS's thread count before the policy set it to 1 (None: untouched)


def blas_threads():
    """OpenBLAS's current thread count, or None where it cannot be controlled."""
    return None if _controls is None else int(_controls[1]())


def set_blas_threads(count):
    """Set OpenBLAS's thread count (where it can be controlled)."""
    if _controls is not None:
        _controls[0](int(count))


def numba_kernels_running():
    """An image operation is about to run its parallel Numba kernels: BLAS goes to one thread, for good."""
    global _saved_threads
    if _saved_threads is not None or not ENABLED or _controls is None or numba.get_num_threads() < 2:
        return
    with _lock:
        if _saved_threads is None:
            _saved_threads = blas_threads()
            set_blas_threads(1)


def restore_blas_threads():
    """Give BLAS back the thread count it had before ``numba_kernels_running`` took it to one."""
    global _saved_threads
    with _lock:
        if _saved_threads is not None:
            set_blas_threads(_saved_threads)
            _saved_threads = None


def uses_numba_threads(operation):
    """Decorator for an image operation: ``numba_kernels_running()`` before each call."""

    @functools.wraps(operation)
    def run(*args):
        numba_kernels_running()
        return operation(*args)

    return run
