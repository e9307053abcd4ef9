"""One thread pool at a time: NumPy's BLAS threads and npae's Numba kernels on the same cores.

A training step of a convolutional model runs two kinds of parallel code: the Numba kernels of its
convolution, pooling and upsampling layers (on ``NUMBA_NUM_THREADS`` threads), and the matrix products of
its Dense layers, which NumPy hands to OpenBLAS and its own thread pool. After each product OpenBLAS's idle
threads keep polling for new work for about a tenth of a second, longer than the rest of the step, so with
two cores one of them is always partly taken while the Numba kernels run. Measured on the 2-core machine,
ConvAE step on 2 threads: 83 ms with the products on the calling thread, 100 ms without (the products
themselves take 2 ms either way: the Dense layers of a convolutional model are small).

So a ``Sequential`` that contains such layers runs its forward and backward inside
``products_on_calling_thread()``: OpenBLAS is set to one thread on entry and back to its previous count on
exit. Models made only of Dense layers are left alone; there BLAS is the only parallel code and its
threads are what make the products fast.

This is process-wide OpenBLAS state, changed only while npae's own forward or backward runs; entries from
several Python threads are counted, and the first sets and the last restores. Where NumPy's BLAS is not
OpenBLAS (MKL, Accelerate) or its library cannot be found, nothing changes. Set ``ENABLED = False`` to
keep BLAS's thread count untouched.
"""

from __future__ import annotations

import contextlib
import ctypes
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
_depth = 0
_saved = None


def blas_threads():
    """OpenBLAS's current thread count, or None where it cannot be controlled."""
    return None if _controls is None else int(_controls[1]())


@contextlib.contextmanager
def products_on_calling_thread(active=True):
    """Run the block with OpenBLAS on one thread (if ``active``, ``ENABLED``, OpenBLAS was found and Numba
    runs more than one thread: a single Numba thread leaves the other cores to BLAS anyway)."""
    global _depth, _saved
    if not (active and ENABLED and _controls is not None and numba.get_num_threads() > 1):
        yield
        return
    set_threads, get_threads = _controls
    with _lock:
        if _depth == 0:
            _saved = get_threads()
            if _saved != 1:
                set_threads(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved != 1:
                set_threads(_saved)
