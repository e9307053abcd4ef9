"""The two decorators every kernel uses, so compile options live in one place.

- ``kernel``: ``numba.njit(cache=True)``, a serial compiled loop.
- ``parallel_kernel``: the same with ``parallel=True``; its ``prange`` loops (over the batch, or over
  image planes) run on ``NUMBA_NUM_THREADS`` threads.
- ``inline_kernel``: a helper that Numba pastes into the kernel calling it, so LLVM optimises the two as one
  (it then knows, for instance, that two freshly allocated accumulators never overlap).

``cache=True`` stores the machine code beside the source (``__pycache__``), so only the first import on a
machine pays the compile time. ``FASTMATH`` lets LLVM reorder and fuse multiply-adds, which is what turns
the long inner sums of the convolutions into vector instructions; it never assumes away NaN or infinity.
With ``NUMBA_DISABLE_JIT=1`` both decorators return the plain Python function (``prange`` is ``range``),
so every kernel can be stepped through in a debugger.
"""

from __future__ import annotations

import numba

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

kernel = numba.njit(cache=True, nogil=True)
parallel_kernel = numba.njit(cache=True, nogil=True, parallel=True)
inline_kernel = numba.njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
parallel_fast_kernel = numba.njit(cache=True, nogil=True, parallel=True, fastmath=FASTMATH)
