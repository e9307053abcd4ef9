"""Numba kernels for the hot loops, each beside a plain-NumPy reference that the tests compare it with.

- ``conv``: convolution forward, input gradient (= transposed convolution forward) and weight gradient,
  by im2col + BLAS or by a direct loop, and the ``Convolution`` object the layers call;
- ``pooling``: max pooling (first-maximum routing) and average pooling, forward and backward;
- ``upsampling``: nearest and bilinear upsampling, forward and backward (the adjoint);
- ``elementwise``: ReLU's backward and the sigmoid in one pass each;
- ``adam``: the fused Adam update;
- ``blas``: NumPy's BLAS threads kept out of the way of the Numba kernels (``products_on_calling_thread``).

Kernels are plain functions over arrays that write into an output argument; they compile on first use
and are cached on disk. Set ``NUMBA_DISABLE_JIT=1`` to run (and debug) them as ordinary Python.
"""

from .conv import Convolution, choose_path, output_size
from .workspace import Workspace

__all__ = ["Convolution", "Workspace", "choose_path", "output_size"]
