"""The Adam update, in plain NumPy."""

from __future__ import annotations

import numpy as np


def adam_update(param, grad, m, v, lr_t, beta1, beta2, eps, s2):
    """One Adam step on ``param``, ``m`` and ``v``, in place (any shape).

    With the bias-corrected step ``lr_t = lr / (1 - b1^t)`` and ``s2 = sqrt(1 - b2^t)``::

        m <- b1 m + (1 - b1) g
        v <- b2 v + (1 - b2) g^2
        p <- p - lr_t m / (sqrt(v) / s2 + eps)

    Scalars are cast to the parameter's dtype, so a float32 model is updated in float32 arithmetic.
    """
    scalar = param.dtype.type
    m *= scalar(beta1)
    m += scalar(1 - beta1) * grad
    v *= scalar(beta2)
    v += scalar(1 - beta2) * (grad * grad)
    param -= scalar(lr_t) * (m / (np.sqrt(v) / scalar(s2) + scalar(eps)))
