"""Fully connected layer ``y = x W + b``."""

from __future__ import annotations

from ...backends import ops
from ..checks import as_generator, check_float_dtype, positive_int
from ..registry import serializable
from .base import Layer
from .init import DEFAULT_DTYPE, init_bias, init_weight


@serializable
class Dense(Layer):
    """``y = x W + b`` with ``x`` of shape (N, in_features), ``W`` (in, out), ``b`` (out,).

    ``W`` is stored as (in, out), so that ``y = x W``: it is the transpose of ``torch.nn.Linear.weight``
    (out, in), which computes ``y = x W^T + b``. ``init`` names the weight scheme (``glorot_uniform`` default,
    ``he_uniform``, ``he_normal``, ``glorot_normal``, ``torch_default``); ``rng`` is an int seed or a Generator.
    """

    input_ndim = 1

    def __init__(self, in_features, out_features, init="glorot_uniform", rng=None, dtype=DEFAULT_DTYPE, name=None):
        super().__init__(name=name)
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        self.init = init
        dtype = check_float_dtype(dtype)
        rng = as_generator(rng)
        n_in, n_out = self.in_features, self.out_features
        self.params = {
            "W": init_weight(init, (n_in, n_out), n_in, n_out, rng, dtype),
            "b": init_bias(init, (n_out,), n_in, rng, dtype),
        }
        self.zero_grads()

    def forward(self, x, training=False):
        """``y = x W + b``; saves the input ``x`` for backward."""
        self._check_input(x)
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"Dense.forward: x must have shape (N, {self.in_features}), got {x.shape}"
                + (" (add a Flatten layer before Dense for images)" if x.ndim > 2 else "")
            )
        self._x = x
        y = ops.matmul(x, self.params["W"])
        y += self.params["b"]
        return y

    def backward(self, dy):
        """``dW = x^T dy``, ``db = sum_n dy_n``, ``dx = dy W^T``.

        Each entry: ``y_nj = sum_i x_ni W_ij + b_j``, so ``dL/dW_ij = sum_n x_ni dy_nj``,
        ``dL/db_j = sum_n dy_nj`` and ``dL/dx_ni = sum_j dy_nj W_ij``.
        """
        self.backward_params(dy)
        return ops.matmul(dy, self.params["W"].T)

    def backward_params(self, dy):
        """``dW = x^T dy``, ``db = sum_n dy_n`` (no ``dx``)."""
        self.grads["W"] = ops.matmul(self._saved("_x").T, dy)
        self.grads["b"] = dy.sum(axis=0)

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features, "init": self.init}
