"""The Adam update as one fused pass over a parameter tensor, beside its plain-NumPy reference.

With gradient ``g``, moments ``m``, ``v``, step size ``lr_t = lr / (1 - b1^t)`` and ``s2 = sqrt(1 - b2^t)``:

    m <- b1 m + (1 - b1) g
    v <- b2 v + (1 - b2) g^2
    p <- p - lr_t * m / (sqrt(v) / s2 + eps)

The NumPy version makes about a dozen passes over memory (one per temporary); the Numba kernel makes one,
which matters because the update of a ~1M-parameter model is memory-bound.
"""

from __future__ import annotations

import numba
import numpy as np

from .jit import kernel, parallel_kernel


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


def _adam_update_loop(param, grad, m, v, lr_t, beta1, beta2, eps, s2):
    for i in numba.prange(param.size):
        g = grad[i]
        mi = beta1 * m[i] + (1 - beta1) * g
        vi = beta2 * v[i] + (1 - beta2) * g * g
        m[i] = mi
        v[i] = vi
        param[i] -= lr_t * mi / (np.sqrt(vi) / s2 + eps)


# Waking a thread pool costs more than it saves on small tensors (biases, the code layer), and far more
# when the machine is busy: the parallel loop is kept for tensors of PARALLEL_MIN elements or more.
PARALLEL_MIN = 1 << 17
_adam_serial = kernel(_adam_update_loop)
_adam_parallel = parallel_kernel(_adam_update_loop)


def adam_update(param, grad, m, v, lr_t, beta1, beta2, eps, s2):
    """Numba kernel: the same update in one pass (flat views of C-contiguous arrays)."""
    arrays = (param, grad, m, v)
    flat = [a.reshape(-1) for a in arrays]
    if numba.config.DISABLE_JIT or not all(np.shares_memory(f, a) for f, a in zip(flat, arrays)):
        adam_update_reference(param, grad, m, v, lr_t, beta1, beta2, eps, s2)  # the readable version
        return
    loop = _adam_parallel if param.size >= PARALLEL_MIN else _adam_serial
    loop(*flat, float(lr_t), float(beta1), float(beta2), float(eps), float(s2))
