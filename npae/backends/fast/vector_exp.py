"""``exp(-|v|)`` for float32 arrays in a loop LLVM turns into vector instructions (eight values at a time).

Numba calls ``exp`` one value at a time (it has no vector math library), and on a million values per training
step, or tens of millions per importance-weighted evaluation, those calls cost more than the arithmetic around
them. So the sigmoid and the Bernoulli likelihood take ``exp`` of a non-positive ``y = -|v|`` from its series:

- write ``y = n ln 2 + f`` with ``n`` the nearest integer to ``y / ln 2``, so that ``|f| <= ln(2) / 2``; then
  ``exp(y) = 2^n exp(f)``;
- ``exp(f)`` from its Taylor series up to ``f^7 / 7!`` (relative error below 1.2e-7; float32's rounding is 6e-8);
- ``n ln 2`` is subtracted in two parts, a ``ln 2`` rounded to 15 bits (so that ``n * LN2_HIGH`` is exact) and
  the remainder, so that ``f`` keeps its precision (Cody and Waite's reduction);
- ``2^n`` is built as a float32's bits: exponent field ``n + 127``, mantissa 0. Numba has no scalar bit cast,
  so the bits go into an int32 array that the caller reads through ``powers.view(np.float32)``. Below
  ``2^-126`` (float32's smallest normal number) that field cannot hold ``n``: there the power is ``2^(n + 64)``
  and the mantissa carries the ``2^-64``, so that their product rounds to the subnormal result as ``exp`` would.

Below ``y = -104`` the result rounds to 0 in float32 and is 0. NaN gives mantissa 0 too: callers that must
propagate NaN test for it themselves.
"""

from __future__ import annotations

import numpy as np

from .jit import fast_kernel

_F = np.float32
LOG2_E = _F(1.4426950408889634)
LN2_HIGH = _F(0.693145751953125)  # ln 2 to 15 bits: n * LN2_HIGH is exact for |n| < 2^9
LN2_LOW = _F(1.4286068203094172e-06)  # ln 2 - LN2_HIGH
LOWEST_EXPONENT = _F(-104.0)  # exp(-104) = 6.8e-46, below half the smallest subnormal float32
SMALLEST_NORMAL_POWER = -126
SUBNORMAL_SHIFT = 64  # 2^(n + 64) is normal for every n >= -150
EXPONENT_BIAS = np.int32(127)
MANTISSA_BITS = np.int32(23)


@fast_kernel
def exp_of_minus_abs(values, mantissas, powers):
    """``exp(-|v_d|) = mantissas[d] * 2^n_d`` for every ``d`` of the 1-d float32 ``values``; ``powers[d]`` receives
    the bits of the float32 ``2^n_d``. Compiled on its own, not inlined: inlined into a kernel beside other
    loops, LLVM left those loops scalar (benchmarks/README.md)."""
    for d in range(values.shape[0]):
        y = -abs(values[d])
        keep = y >= LOWEST_EXPONENT
        y = max(y, LOWEST_EXPONENT)
        n = np.floor(y * LOG2_E + _F(0.5))
        f = (y - n * LN2_HIGH) - n * LN2_LOW
        exp_f = _F(1) + f * (_F(1) + f * (_F(1 / 2) + f * (_F(1 / 6) + f * (_F(1 / 24) + f * (
            _F(1 / 120) + f * (_F(1 / 720) + f * _F(1 / 5040)))))))
        power = np.int32(n)
        subnormal = power < SMALLEST_NORMAL_POWER
        mantissas[d] = (exp_f * _F(2.0**-SUBNORMAL_SHIFT) if subnormal else exp_f) if keep else _F(0)
        power = power + SUBNORMAL_SHIFT if subnormal else power
        powers[d] = (power + EXPONENT_BIAS) << MANTISSA_BITS
