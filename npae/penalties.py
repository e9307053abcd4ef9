"""Regularisers of the autoencoder family: weight decay, L1, KL sparsity, contractive.

Notation: a batch of ``N`` samples; ``x`` the input of a layer, ``a = x W + b`` a Dense layer's pre-activation,
``h = s(a)`` the activation that follows it (``s'``, ``s''`` its derivatives). Every penalty adds a term ``P``
to the training loss and adds exactly ``dP/dtheta`` to the gradients; its tests check that the gradient is
the derivative of the value it reports.

Two kinds, two hooks:

- **Parameter penalties** (``WeightDecay``, ``L1Weights``) depend only on weights. ``Autoencoder.train_batch``
  calls ``apply_to_parameters(model)`` after backward: it returns ``P`` and adds ``dP/dW`` to each ``grads["W"]``.
  They act on every tensor named ``W`` (never on biases).
- **Activity penalties** (``L1Activity``, ``KLSparsity``, ``Contractive``) depend on a layer's output. ``bind``
  attaches them to a layer of the encoder (default: its last layer, the code; ``layer=`` takes a name or an
  index within the encoder). Then ``Sequential`` calls, in a training pass, ``forward(x_in, y)`` (the layer's
  input and output; returns ``P``), and in backward ``backward_output(dy)`` before the layer's backward
  (adds ``dP/dy``) and ``backward_input(dx)`` after it (adds ``dP/dx`` where ``P`` depends on the input
  directly). The layer's own backward is reused, never re-derived.

Batch reduction: activity penalties are **means over the batch** (a sum over units per sample, averaged over
the N samples), so their strength does not change with the batch size; the reconstruction loss is a batch
mean too. KL sparsity is a function of batch means by definition.
"""

from __future__ import annotations

import numpy as np

from .layers.activations import Activation, Sigmoid
from .layers.base import Sequential, real_in_range
from .layers.dense import Dense


class Penalty:
    """Base class. ``get_config()`` returns the constructor arguments (``npae.io`` rebuilds from them)."""

    def bind(self, model):
        """Called once by ``Autoencoder.__init__``; parameter penalties need nothing from the model."""

    def get_config(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_strength(lam, name="lam"):
    return real_in_range(lam, name, low=0.0)


# ----------------------------------------------------------------------------------------------
# Parameter penalties
# ----------------------------------------------------------------------------------------------


def weight_tensors(model):
    """``(layer, "W")`` for every weight tensor named ``W`` of a model (``named_parameters``) or a Sequential."""
    if hasattr(model, "named_parameters"):
        entries = ((layer, key) for _, layer, key in model.named_parameters())
    elif isinstance(model, Sequential):
        entries = ((layer, key) for _, _, layer, key in model.parameters())
    else:
        raise TypeError(f"model: expected an npae model or a Sequential, got {type(model).__name__}")
    return [(layer, key) for layer, key in entries if key == "W"]


class ParameterPenalty(Penalty):
    """A penalty ``P = sum over weight tensors of p(W)``, applied after backward by ``apply_to_parameters``."""

    def __init__(self, lam):
        self.lam = _check_strength(lam)

    def attach(self, seq, index):
        raise TypeError(
            f"{type(self).__name__} acts on weights, not on a layer's output: pass it to "
            "Autoencoder(penalties=[...]) instead of Sequential.add_penalty"
        )

    def value_and_grad(self, W):  # pragma: no cover - abstract
        """``(p(W), dp/dW)`` for one weight tensor."""
        raise NotImplementedError

    def apply_to_parameters(self, model):
        """Add ``dP/dW`` to every ``grads["W"]`` (after backward); return ``P``."""
        total = 0.0
        for layer, key in weight_tensors(model):
            value, grad = self.value_and_grad(layer.params[key])
            layer.grads[key] = layer.grads[key] + grad
            total += value
        return total

    def get_config(self):
        return {"lam": self.lam}


class WeightDecay(ParameterPenalty):
    """``P = lam/2 * sum W^2`` over every weight tensor (UFLDL's convention); ``dP/dW = lam W``.

    With the 1/2, ``lam`` is the factor in the gradient: plain SGD then shrinks each weight by ``lr * lam``
    per step, which is what PyTorch's ``weight_decay=lam`` does.
    """

    def value_and_grad(self, W):
        return 0.5 * self.lam * float(np.vdot(W, W)), self.lam * W


class L1Weights(ParameterPenalty):
    """``P = lam * sum |W|`` over every weight tensor; ``dP/dW = lam sign(W)`` (0 at W = 0)."""

    def value_and_grad(self, W):
        return self.lam * float(np.abs(W).sum(dtype=np.float64)), self.lam * np.sign(W)


# ----------------------------------------------------------------------------------------------
# Activity penalties
# ----------------------------------------------------------------------------------------------


def _check_layer_ref(layer):
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer, str)):
        raise TypeError(f"layer: expected a layer name or an index within the encoder, got {layer!r}")
    return int(layer) if isinstance(layer, (int, np.integer)) else layer


class ActivityPenalty(Penalty):
    """A penalty on the output of one layer, hooked into a ``Sequential`` (see the module docstring).

    Subclasses implement ``_check_structure(seq, index)`` and ``_compute(x_in, y) -> (P, dP/dy, dP/dx)``
    (either gradient may be None). ``forward`` keeps the gradients for the next backward, which uses them
    once: a backward after an inference pass (where no penalty was added to the loss) adds nothing.
    """

    def __init__(self, layer=-1):
        self.layer = _check_layer_ref(layer)
        self._owner = None
        self._pending = (None, None)

    def bind(self, model):
        """Attach to ``layer`` of the model's encoder."""
        encoder = getattr(model, "encoder", None)
        if not isinstance(encoder, Sequential):
            raise TypeError(
                f"{type(self).__name__}: the model needs an `encoder` Sequential to attach to, "
                f"got {type(encoder).__name__}"
            )
        encoder.add_penalty(self, self.layer)

    def attach(self, seq, index):
        """Called by ``Sequential.add_penalty``: check the layer suits this penalty, remember where it sits."""
        if self._owner is not None:
            raise ValueError(
                f"{type(self).__name__}: this penalty is already attached to a network; "
                "create one penalty object per model"
            )
        self._check_structure(seq, index)
        self._owner = (seq, index)

    @property
    def attached_layer(self):
        """The layer whose output is penalised (None before ``attach``)."""
        return None if self._owner is None else self._owner[0].layers[self._owner[1]]

    def _check_structure(self, seq, index):
        """Raise if ``seq.layers[index]`` cannot carry this penalty (default: any layer can)."""

    def forward(self, x_in, y):
        """The penalty value on this training batch; keeps its gradients for backward."""
        value, grad_output, grad_input = self._compute(x_in, y)
        self._pending = (grad_output, grad_input)
        return value

    def backward_output(self, dy):
        """``dy + dP/dy`` (before the layer's backward)."""
        grad_output = self._pending[0]
        self._pending = (None, self._pending[1])
        return dy if grad_output is None else dy + grad_output

    def backward_input(self, dx):
        """``dx + dP/dx`` for the part of ``P`` that depends on the layer's input directly."""
        grad_input = self._pending[1]
        self._pending = (self._pending[0], None)
        return dx if grad_input is None else dx + grad_input

    def _compute(self, x_in, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {"layer": self.layer}


class L1Activity(ActivityPenalty):
    """``P = lam * mean_n sum_j |h_nj|`` on the output ``h`` of ``layer``; ``dP/dh = lam sign(h) / N``.

    Pushes most code units to exactly zero for each input (a sparse code), a simpler alternative to KL sparsity.
    """

    def __init__(self, lam, layer=-1):
        super().__init__(layer)
        self.lam = _check_strength(lam)

    def value_and_grad(self, h):
        """``(P, dP/dh)`` for a batch of activations ``h`` (N, ...)."""
        n = h.shape[0]
        value = self.lam * float(np.abs(h).sum(dtype=np.float64)) / n
        return value, (self.lam / n) * np.sign(h)

    def _compute(self, x_in, y):
        value, grad = self.value_and_grad(y)
        return value, grad, None

    def get_config(self):
        return {"lam": self.lam, **super().get_config()}


class KLSparsity(ActivityPenalty):
    """Sparsity of sigmoid units (UFLDL): ``P = beta * sum_j KL(rho || rho_hat_j)``.

    ``rho_hat_j = mean_n h_nj`` is unit j's mean activation over the batch, ``rho`` the target (e.g. 0.1), and
    ``KL(rho || q) = rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q))``, zero only at ``q = rho``.
    Gradient per sample: ``dP/dh_nj = beta * (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)) / N``.

    ``layer`` must be a ``Sigmoid`` (outputs in (0, 1), so that ``rho_hat`` is a firing rate).

    Stability: ``KL`` blows up as ``rho_hat`` reaches 0 or 1 (a dead or saturated unit, frequent in float32).
    Outside ``[eps, 1 - eps]`` we continue ``KL`` by its tangent line at the nearest end:
    ``KL(q) = KL(q_c) + KL'(q_c) (q - q_c)`` with ``q_c = clip(q, eps, 1 - eps)``. Value and gradient stay finite,
    remain each other's derivative (the continuation is smooth to first order), and the slope keeps pushing the
    unit back towards ``rho``; inside ``[eps, 1 - eps]`` they are the exact KL and its derivative.
    """

    def __init__(self, rho=0.1, beta=3.0, layer=-1, eps=1e-6):
        super().__init__(layer)
        self.rho = real_in_range(rho, "rho", low=0.0, high=1.0, include_low=False, include_high=False)
        self.beta = _check_strength(beta, "beta")
        self.eps = real_in_range(eps, "eps", low=0.0, high=min(self.rho, 1 - self.rho), include_low=False,
                                 include_high=False)

    def _check_structure(self, seq, index):
        layer = seq.layers[index]
        if not isinstance(layer, Sigmoid):
            raise ValueError(
                f"KLSparsity: layer {index} ({type(layer).__name__}) does not output values in (0, 1); KL sparsity "
                "treats outputs as firing rates and needs a Sigmoid layer (name or index it with layer=...)"
            )

    def divergence(self, rho_hat):
        """``(KL(rho || rho_hat), dKL/drho_hat)`` per unit, with the tangent continuation outside [eps, 1-eps]."""
        rho = self.rho
        q = np.clip(rho_hat, self.eps, 1 - self.eps)
        kl = rho * np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q))
        slope = -rho / q + (1 - rho) / (1 - q)
        return kl + slope * (rho_hat - q), slope

    def value_and_grad(self, h):
        """``(P, dP/dh)`` for sigmoid outputs ``h`` (N, ...); the gradient is one row, broadcast over the batch."""
        n = h.shape[0]
        rho_hat = h.mean(axis=0, dtype=np.float64)
        kl, slope = self.divergence(rho_hat)
        return self.beta * float(kl.sum()), (self.beta * slope / n).astype(h.dtype)

    def _compute(self, x_in, y):
        value, grad = self.value_and_grad(y)
        return value, grad, None

    def get_config(self):
        return {"rho": self.rho, "beta": self.beta, "layer": self.layer, "eps": self.eps}


class Contractive(ActivityPenalty):
    """Contractive autoencoder (Rifai et al. 2011): ``P = lam * mean_n ||J_n||_F^2``, ``J_n = dh_n / dx_n``.

    For ``h = s(a)``, ``a = x W + b``: ``J_n[j, i] = s'(a_nj) W_ij``, so in closed form (w_j = sum_i W_ij^2)

        P = lam / N * sum_n sum_j s'(a_nj)^2 w_j.

    Gradients (all exact):

    - through the pre-activation: ``dP/da_nj = 2 lam / N * s'(a_nj) s''(a_nj) w_j``; added to the upstream
      gradient of the Dense, whose own backward turns it into ``dW += x^T dP/da``, ``db += sum_n dP/da_n`` and
      ``dx += dP/da W^T`` (so the penalty reaches earlier layers too);
    - directly through ``w``: ``dP/dW_ij = 2 lam / N * W_ij sum_n s'(a_nj)^2``, added to the Dense's ``grads["W"]``
      right after its backward.

    ``layer`` names the activation ``s`` (default: the encoder's last layer); the layer just before it must be
    the ``Dense`` that computes ``a``. In a multi-layer encoder the penalty is the Jacobian of that one layer
    with respect to its own input (not of the whole encoder with respect to the image).
    """

    def __init__(self, lam, layer=-1):
        super().__init__(layer)
        self.lam = _check_strength(lam)
        self._dense = None
        self._direct_grad_W = None

    def _check_structure(self, seq, index):
        activation = seq.layers[index]
        before = seq.layers[index - 1] if index > 0 else None
        if not isinstance(activation, Activation) or not isinstance(before, Dense):
            raise ValueError(
                f"Contractive: needs a Dense layer followed by an activation at layer {index}, got "
                f"{type(before).__name__ if before is not None else 'nothing'} then {type(activation).__name__}; "
                "name the activation that follows the Dense with layer=..."
            )

    def attach(self, seq, index):
        """Attach to the activation at ``index`` and hook the Dense before it for the direct ``dP/dW``."""
        super().attach(seq, index)
        self._dense = seq.layers[index - 1]
        self._dense.penalties.append(_DirectWeightGradient(self, self._dense))

    def value_and_grads(self, a, W, activation):
        """``(P, dP/da, direct dP/dW)`` for pre-activations ``a`` (N, J), weights ``W`` (I, J) and ``s``."""
        n = a.shape[0]
        ds = activation.df(a)
        w = (W * W).sum(axis=0)
        ds2 = ds * ds
        value = self.lam * float((ds2 * w).sum(dtype=np.float64)) / n
        grad_a = (2 * self.lam / n) * ds * activation.d2f(a) * w
        grad_W = (2 * self.lam / n) * W * ds2.sum(axis=0)
        return value, grad_a, grad_W

    def _compute(self, x_in, y):
        activation = self._owner[0].layers[self._owner[1]]
        value, grad_a, self._direct_grad_W = self.value_and_grads(x_in, self._dense.params["W"], activation)
        return value, None, grad_a

    def take_direct_weight_gradient(self):
        """The direct ``dP/dW`` of the last training pass, once (None afterwards)."""
        grad, self._direct_grad_W = self._direct_grad_W, None
        return grad

    def get_config(self):
        return {"lam": self.lam, **super().get_config()}


class _DirectWeightGradient:
    """The Dense-side hook of ``Contractive``: after the Dense's backward, add the direct ``dP/dW``.

    It contributes no value of its own (``Contractive.forward`` reports the whole penalty).
    """

    def __init__(self, contractive, dense):
        self.contractive = contractive
        self.dense = dense

    def forward(self, x_in, y):
        return 0.0

    def backward_output(self, dy):
        return dy

    def backward_input(self, dx):
        grad = self.contractive.take_direct_weight_gradient()
        if grad is not None:
            self.dense.grads["W"] = self.dense.grads["W"] + grad
        return dx


def jacobian_frobenius_sq(dense, activation, x):
    """``||J_n||_F^2 = sum_j s'(a_nj)^2 sum_i W_ij^2`` per sample for ``h = s(x W + b)`` (N,), without training.

    Use it to measure how much a layer contracts its input space, with or without a ``Contractive`` penalty.
    """
    a = x @ dense.params["W"] + dense.params["b"]
    ds = activation.df(a)
    return (ds * ds) @ (dense.params["W"] ** 2).sum(axis=0)

