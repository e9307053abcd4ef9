"""Reusable scratch arrays, so a layer does not allocate (and the OS re-fault) large temporaries every step.

A ``Workspace`` hands out C-contiguous arrays by name. Each name owns one flat buffer that only grows:
asking again for a shape that fits returns a view of the same memory, so a training loop at a fixed batch
size allocates its temporaries once. The contents are whatever the last user left there; callers that
need zeros must write them.
"""

from __future__ import annotations

import math

import numpy as np


class Workspace:
    """``get(name, shape, dtype)``: a C-contiguous ``shape`` view of the buffer called ``name``."""

    def __init__(self):
        self._buffers = {}

    def get(self, name, shape, dtype):
        dtype = np.dtype(dtype)
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.dtype != dtype or buffer.size < size:
            buffer = np.empty(size, dtype=dtype)
            self._buffers[name] = buffer
        return buffer[:size].reshape(shape)

    def nbytes(self):
        """Bytes held by all buffers (for memory reports)."""
        return sum(b.nbytes for b in self._buffers.values())

    def clear(self):
        """Drop every buffer (the next ``get`` allocates again)."""
        self._buffers.clear()
