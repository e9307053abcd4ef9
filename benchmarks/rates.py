"""Rates against the machine: its measured float32 peak, and the multiply-adds per second of each convolution.

- ``machine_peak(threads)``: the best GFLOP/s of a float32 matrix product (NumPy's BLAS, square matrices of
  1024) on ``threads`` threads. A tuned GEMM is the fastest float32 arithmetic this machine does from Python,
  so it is the peak the models' rates are compared with (one FMA counts as 2 FLOPs).
- ``conv_kernel_rates()``: GMAC/s (multiply-adds per second) of the fast backend's three convolution
  kernels on the four convolutions of the ConvAE at batch 200, on Numba's current thread count, and the path
  each took. The multiply-adds counted are the direct sum's, whatever the path: Winograd's does 16 of every
  36 of them, so its rate can pass the machine's peak.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

#: (name, input shape at batch 200, weight shape, padding): the ConvAE's convolutions, in the order they run
CONVAE_CONVS = (
    ("enc 1->16 28x28", (200, 1, 28, 28), (16, 1, 3, 3), (1, 1)),
    ("enc 16->32 14x14", (200, 16, 14, 14), (32, 16, 3, 3), (1, 1)),
    ("dec 32->16 14x14", (200, 32, 14, 14), (16, 32, 3, 3), (1, 1)),
    ("dec 16->1 28x28", (200, 16, 28, 28), (1, 16, 3, 3), (1, 1)),
)
KERNELS = ("forward", "input grad", "weight grad")


def best_seconds(fn, repeats, min_seconds=0.0):
    """Shortest wall time of ``fn()`` over ``repeats`` calls (after one untimed call), and their median."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def machine_peak(threads, size=1024, repeats=10):
    """``{"gflops": best, "median_gflops": ...}`` of ``a @ b`` (float32, ``size`` square) on ``threads`` threads."""
    from npae.backends.fast import blas

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    before = blas.blas_threads()
    blas.set_blas_threads(threads)
    try:
        best, median = best_seconds(lambda: a @ b, repeats)
    finally:
        if before is not None:
            blas.set_blas_threads(before)
    flops = 2.0 * size**3
    return {"gflops": flops / best / 1e9, "median_gflops": flops / median / 1e9}


def conv_macs(x_shape, w_shape):
    """Multiply-adds of one convolution (stride 1, 'same' padding): ``N O C KH KW Ho Wo``; its input gradient
    and its weight gradient do the same number."""
    n, c, h, w = x_shape
    o, _, kh, kw = w_shape
    return n * o * c * kh * kw * h * w


def conv_kernel_rates(repeats=15):
    """``{conv name: {kernel: {"gmacs": best, "median_gmacs": ..., "ms": median, "path": ...}}}`` on the fast
    backend."""
    from npae.backends import fast
    from npae.backends.fast.conv import choose_path, direct_or_gemm

    rng = np.random.default_rng(0)
    out = {}
    for name, x_shape, w_shape, padding in CONVAE_CONVS:
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32)
        b = rng.standard_normal(w_shape[0], dtype=np.float32)
        dy = rng.standard_normal((x_shape[0], w_shape[0]) + x_shape[2:], dtype=np.float32)
        calls = {
            "forward": lambda: fast.conv2d_forward(x, w, b, (1, 1), padding),
            "input grad": lambda: fast.conv2d_input_grad(dy, w, x_shape[2:], (1, 1), padding),
            "weight grad": lambda: fast.conv2d_weight_grad(x, dy, w_shape[2:], (1, 1), padding),
        }
        macs = conv_macs(x_shape, w_shape)
        path = choose_path(x_shape[0], x_shape[1], w_shape[0], x_shape[2:], w_shape[2:], (1, 1), padding)
        paths = {"forward": path, "input grad": path,  # the weight gradient has no Winograd form (conv.py)
                 "weight grad": direct_or_gemm(x_shape[1], w_shape[0], (1, 1)) if path == "winograd" else path}
        out[name] = {}
        for kernel, call in calls.items():
            best, median = best_seconds(call, repeats)
            out[name][kernel] = {"gmacs": macs / best / 1e9, "median_gmacs": macs / median / 1e9,
                                 "ms": 1000 * median, "mmacs": macs / 1e6, "path": paths[kernel]}
    return out
