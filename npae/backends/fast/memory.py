"""Keep freed memory in the process, so that a training step does not pay the operating system for new pages.

Every training step allocates and frees the same large arrays: activations and their gradients, 10 MiB each
for the ConvAE's 28x28 feature maps at batch 200. glibc's ``malloc`` serves arrays above its mmap threshold
(128 KiB at first, raised to the largest such array freed so far) from fresh ``mmap`` memory and unmaps them
when freed, and gives the free top of its heap back to the kernel once it exceeds the trim threshold (twice
the mmap threshold). Memory handed back has to be faulted in again, page by page, on its next first write.
How often that happens depends on the process's history: a ConvAE trained in a fresh process faulted in
about 4 MiB per step, and its steps were measurably slower for it; a process that had freed a larger array
first (loading MNIST does) had already raised both thresholds far enough (benchmarks/README.md has the
measurements).

``tune_malloc()`` fixes both thresholds, as the environment variables ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` would at start-up: arrays up to 32 MiB (glibc's largest threshold) come from the
heap, and up to 64 MiB of freed heap stay in the process, whatever ran before. The price is memory: a process
keeps up to 64 MiB more than it uses, until it exits.

It runs once, when the fast backend is first imported, and only on glibc. It leaves ``malloc`` alone when
``NPAE_MALLOC_TUNING=0`` is set, or when the process was started with thresholds of its own (those variables,
or ``GLIBC_TUNABLES``).
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")  # and GLIBC_TUNABLES's names for them


def tune_malloc(environ=os.environ):
    """Set glibc's mmap and trim thresholds (see the module docstring); True if they were set."""
    tunables = environ.get("GLIBC_TUNABLES", "")
    if environ.get("NPAE_MALLOC_TUNING", "1") == "0" or any(name in environ for name in USER_SETTINGS) or (
        "mmap_threshold" in tunables or "trim_threshold" in tunables
    ):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the C library the process runs on
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


TUNED = tune_malloc()
