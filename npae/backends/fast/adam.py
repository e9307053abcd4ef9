"""The Adam update as one fused pass over a parameter tensor (the rule is in ``npae.backends.reference.adam``).

The NumPy version makes about a dozen passes over memory (one per temporary); the Numba kernel makes one,
which matters because the update of a ~1M-parameter model is memory-bound. The kernel is serial: vectorised,
one pass is shorter than waking a thread pool on a busy machine, and it runs just after the matrix products,
whose BLAS threads may still be polling.
"""

from __future__ import annotations

import numpy as np

from ..reference.adam import adam_update as reference_adam_update
from .jit import kernel


@kernel
def _adam_update_loop(param, grad, m, v, lr_t, beta1, one_minus_b1, beta2, one_minus_b2, eps, s2):
    # every scalar arrives in the parameter's dtype, so a float32 model is updated in float32 arithmetic
    # (8 lanes per AVX2 instruction, and the rounding of the NumPy reference and of torch.optim)
    for i in range(param.size):
        g = grad[i]
        mi = beta1 * m[i] + one_minus_b1 * g
        vi = beta2 * v[i] + one_minus_b2 * (g * g)
        m[i] = mi
        v[i] = vi
        param[i] -= lr_t * (mi / (np.sqrt(vi) / s2 + eps))


def adam_update(param, grad, m, v, lr_t, beta1, beta2, eps, s2):
    """One Adam step on ``param``, ``m``, ``v`` in place, in one pass over flat views (arrays that are not
    C-contiguous, whose flat view would be a copy, take the reference's NumPy expressions)."""
    arrays = (param, grad, m, v)
    flat = [a.reshape(-1) for a in arrays]
    if not all(np.shares_memory(f, a) for f, a in zip(flat, arrays)):
        reference_adam_update(param, grad, m, v, lr_t, beta1, beta2, eps, s2)
        return
    scalar = param.dtype.type
    constants = (lr_t, beta1, 1 - beta1, beta2, 1 - beta2, eps, s2)
    _adam_update_loop(*flat, *(scalar(c) for c in constants))
