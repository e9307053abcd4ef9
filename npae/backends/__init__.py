"""The heavy operations behind the layers, and the switch between their two implementations.

Layers, losses, optimizers and models call the operations below through one object, ``ops``
(``ops.conv2d_forward(x, w, b, stride, padding)``). Two backends implement every operation:

- ``"reference"`` (``npae/backends/reference/``): plain NumPy, written to be read first. Each function mirrors
  the formula of its docstring with loops over kernel offsets or an ``einsum``; step into it with a debugger.
- ``"fast"`` (``npae/backends/fast/``, the default): the same maps with Numba kernels, reusable scratch memory,
  a choice between direct, Winograd and matrix-product convolutions, and a policy for BLAS's threads. Everything in
  npae that exists only for speed lives there.

Both give the same results (to rounding; the tests compare them operation by operation and by training every
model of the zoo on each). Choose with::

    npae.set_backend("reference")          # for the rest of the process
    with npae.backend("reference"):        # for a block
        model.fit(X, epochs=1)
    NPAE_BACKEND=reference python script.py

``ops.<name>`` *is* the chosen backend's function (the switch replaces the attributes of ``ops``), so stepping
into a call lands directly in that function. The switch is process-wide: do not flip it while another thread
is computing.

The operations (``x`` images (N, C, H, W), ``W`` (O, C, KH, KW), ``stride``/``padding`` pairs):

======================================================  ==========================================================
``conv2d_forward(x, w, b, stride, padding)``            ``y[n,o,i,j] = b[o] + sum_{c,a,e} W[o,c,a,e] xp[n,c,i sh+a,j sw+e]``
``conv2d_input_grad(dy, w, input_hw, stride, padding)`` ``dx``: ``dxp[n,c,i sh+a,j sw+e] += W[o,c,a,e] dy[n,o,i,j]``, cropped
``conv2d_weight_grad(x, dy, kernel_hw, stride, padding)`` ``dW[o,c,a,e] = sum_{n,i,j} dy[n,o,i,j] xp[n,c,i sh+a,j sw+e]``
``conv2d_bias_grad(dy)``                                ``db[o] = sum_{n,i,j} dy[n,o,i,j]``
``max_pool2d_forward(x, kernel, stride, padding)``      ``(y, argmax)``: window maxima, flat index of each first maximum
``max_pool2d_backward(dy, argmax, input_shape)``        ``dx.flat[argmax] += dy``, plane by plane
``avg_pool2d_forward(x, kernel, stride, padding)``      ``y = sum(zero-padded window) / (KH KW)``
``avg_pool2d_backward(dy, input_shape, kernel, stride, padding)`` ``dxp[window] += dy / (KH KW)``, cropped
``upsample_nearest(x, scale)``, ``..._backward(dy, scale)``  ``y[i, j] = x[i // sh, j // sw]`` and its adjoint
``upsample_bilinear(x, scale)``, ``..._backward(dy, scale)`` ``y = A_h x A_w^T`` and ``dx = A_h^T dy A_w``
``matmul(a, b)``                                        ``a @ b`` (the fast backend decides which threads run it)
``sigmoid(x)``                                          ``1 / (1 + e^{-x})`` without overflow
``relu(x)``                                             ``max(x, 0)``
``relu_backward(x, dy)``                                ``dy * [x > 0]``
``adam_update(param, grad, m, v, lr_t, b1, b2, eps, s2)`` one Adam step, in place (see ``npae.core.optim.Adam``)
``bernoulli_nll_of_samples(logits, x, k)``              ``sum_d softplus(l_rd) - x_{r//k,d} l_rd`` per row ``r``
``tsne_gradient(P, Y, exaggeration)``                   ``dKL/dy_i = 4 sum_j (e P_ij - q_ij) w_ij (y_i - y_j)``
======================================================  ==========================================================

Every operation returns new arrays (never one that aliases its inputs or its scratch memory), except
``adam_update``, which updates ``param``, ``m`` and ``v`` in place.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os

BACKENDS = ("reference", "fast")

OPERATIONS = (
    "conv2d_forward", "conv2d_input_grad", "conv2d_weight_grad", "conv2d_bias_grad",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "upsample_nearest", "upsample_nearest_backward", "upsample_bilinear", "upsample_bilinear_backward",
    "matmul", "sigmoid", "relu", "relu_backward", "adam_update", "bernoulli_nll_of_samples", "tsne_gradient",
)


class Operations:
    """The operations of the chosen backend as attributes: ``ops.conv2d_forward`` is that backend's function."""

    def __repr__(self):
        return f"<npae operations: {_active!r} backend>"


ops = Operations()
_active = None


def _implementation(name):
    """The module holding backend ``name``'s operations (imported on first use: the fast one loads Numba)."""
    if name not in BACKENDS:
        raise ValueError(
            f"backend: expected one of {BACKENDS}, got {name!r} (set it with npae.set_backend(...) or the "
            "environment variable NPAE_BACKEND)"
        )
    return importlib.import_module(f"{__name__}.{name}")


def set_backend(name):
    """Use backend ``name`` (``"reference"`` or ``"fast"``) for every operation from now on."""
    global _active
    module = _implementation(name)
    for op in OPERATIONS:
        setattr(ops, op, getattr(module, op))
    _active = name


def get_backend():
    """The name of the backend in use."""
    return _active


@contextlib.contextmanager
def backend(name):
    """Use backend ``name`` inside the ``with`` block, then go back to the previous one."""
    previous = _active
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def signatures(name):
    """``{operation: inspect.Signature}`` of backend ``name`` (the tests check both backends agree)."""
    module = _implementation(name)
    return {op: inspect.signature(getattr(module, op)) for op in OPERATIONS}


set_backend(os.environ.get("NPAE_BACKEND", "fast"))
