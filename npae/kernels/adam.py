"""The Adam update as one fused pass over a parameter tensor, beside its plain-NumPy reference.

With gradient ``g``, moments ``m``, ``v``, step size ``lr_t = lr / (1 - b1^t)`` and ``s2 = sqrt(1 - b2^t)``:

    m <- b1 m + (1 - b1) g
    v <- b2 v + (1 - b2) g^2
    p <- p - lr_t * m / (sqrt(v) / s2 + eps)

The NumPy version makes about a dozen passes over memory (one per temporary); the Numba kernel makes one,
which matters because the update of a ~1M-parameter model is memory-bound. The kernel is serial: vectorised,
it updates the 940k parameters of the dense benchmark model in about 0.4 ms, less than waking a thread pool
costs on a busy machine, and it runs just after the matrix products, whose BLAS threads are still polling.
"""

from __future__ import annotations

import numba
import numpy as np

from .jit import kernel


def adam_update_reference(param, grad, m, v, lr_t, beta1, beta2, eps, s2):
    """Plain NumPy: update ``param``, ``m``, ``v`` in place (any shape)."""
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * (grad * grad)
    denom = np.sqrt(v)
    denom /= s2
    denom += eps
    param -= lr_t * (m / denom)


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
    """Numba kernel: the same update in one pass (flat views of C-contiguous arrays)."""
    arrays = (param, grad, m, v)
    flat = [a.reshape(-1) for a in arrays]
    if numba.config.DISABLE_JIT or not all(np.shares_memory(f, a) for f, a in zip(flat, arrays)):
        adam_update_reference(param, grad, m, v, lr_t, beta1, beta2, eps, s2)  # the readable version
        return
    scalar = param.dtype.type
    constants = (lr_t, beta1, 1 - beta1, beta2, 1 - beta2, eps, s2)
    _adam_update_loop(*flat, *(scalar(c) for c in constants))
