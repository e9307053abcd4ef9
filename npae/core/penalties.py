"""Regularisers of the autoencoder family: weight decay, L1, KL sparsity, contractive.

Notation: a batch of ``N`` samples; ``x`` the input of a layer, ``a = x W + b`` a Dense layer's pre-activation,
``h = s(a)`` the activation that follows it (``s'``, ``s''`` its derivatives). Every penalty adds a term ``P``
to the training loss and adds exactly ``dP/dtheta`` to the gradients; its tests check that the gradient is
the derivative of the value it reports.

Two kinds:

- **Parameter penalties** (``WeightDecay``, ``L1Weights``) depend only on weights. ``Autoencoder.train_batch``
  calls ``apply_to_parameters(model)`` after backward: it returns ``P`` and adds ``dP/dW`` to the gradient of
  every tensor named ``W`` (never to biases).
- **Activity penalties** (``L1Activity``, ``KLSparsity``, ``Contractive``) depend on what one layer computes.
  ``bind`` attaches them to a layer of the encoder (default: its last layer, the code; ``layer=`` takes a name
  or an index within the encoder). Each reads the output ``h`` of the layer it hooks (``attach`` says which)
  and has two methods: ``value(h, layer)``, the penalty on a training batch, and ``gradients(h, layer)``,
  ``dP/dh`` together with any direct gradient on that layer's own parameters. ``Sequential`` calls the first
  in its training forward pass; in backward it adds ``dP/dh`` to the gradient arriving at ``h`` (so the
  layer's own backward carries it further) and the direct part to the layer's ``grads`` after its backward.
  Nothing is kept between the two calls: both are computed from the saved output and the layer's weights.

Batch reduction: activity penalties are **means over the batch** (a sum over units per sample, averaged over
the N samples), so their strength does not change with the batch size; the reconstruction loss is a batch
mean too. KL sparsity is a function of batch means by definition.
"""

from __future__ import annotations

import numbers

import numpy as np

from .checks import real_number
from .layers.activations import Activation, Sigmoid
from .layers.base import Sequential
from .layers.dense import Dense
from .registry import serializable


class Penalty:
    """Base class. ``get_config()`` returns the constructor arguments (``npae.io`` rebuilds from them)."""

    def bind(self, model):
        """Called once by ``Autoencoder.__init__``; parameter penalties need nothing from the model."""

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must define get_config()")

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_strength(lam, name="lam"):
    return real_number(lam, name, low=0.0)


# ----------------------------------------------------------------------------------------------
# Parameter penalties
# ----------------------------------------------------------------------------------------------


def weight_gradients(model):
    """``(W, dL/dW)`` for every weight tensor (a parameter named ``W``) of a model or a Sequential."""
    if not callable(getattr(model, "named_gradients", None)):
        raise TypeError(f"model: expected an npae model or a Sequential, got {type(model).__name__}")
    pairs = zip(model.named_parameters(), model.named_gradients())
    return [(param, grad) for (name, param), (_, grad) in pairs if name.rsplit(".", 1)[-1] == "W"]


class ParameterPenalty(Penalty):
    """A penalty ``P = sum over weight tensors of p(W)``, applied after backward by ``apply_to_parameters``."""

    def __init__(self, lam):
        self.lam = _check_strength(lam)

    def attach(self, seq, index):
        raise TypeError(
            f"{type(self).__name__} acts on weights, not on a layer's output: pass it to "
            "Autoencoder(penalties=[...]) instead of Sequential.add_penalty"
        )

    def value_and_grad(self, W):
        """``(p(W), dp/dW)`` for one weight tensor."""
        raise NotImplementedError(f"{type(self).__name__} must define value_and_grad(W)")

    def apply_to_parameters(self, model):
        """Add ``dP/dW`` to the gradient of every weight tensor (after backward); return ``P``."""
        total = 0.0
        for W, grad in weight_gradients(model):
            value, dW = self.value_and_grad(W)
            grad += dW
            total += value
        return total

    def get_config(self):
        return {"lam": self.lam}


@serializable
class WeightDecay(ParameterPenalty):
    """``P = lam/2 * sum W^2`` over every weight tensor (UFLDL's convention); ``dP/dW = lam W``.

    With the 1/2, ``lam`` is the factor in the gradient: plain SGD then shrinks each weight by ``lr * lam``
    per step, which is what PyTorch's ``weight_decay=lam`` does.
    """

    def value_and_grad(self, W):
        return 0.5 * self.lam * float(np.vdot(W, W)), self.lam * W


@serializable
class L1Weights(ParameterPenalty):
    """``P = lam * sum |W|`` over every weight tensor; ``dP/dW = lam sign(W)`` (0 at W = 0)."""

    def value_and_grad(self, W):
        return self.lam * float(np.abs(W).sum(dtype=np.float64)), self.lam * np.sign(W)


# ----------------------------------------------------------------------------------------------
# Activity penalties
# ----------------------------------------------------------------------------------------------


def _check_layer_ref(layer):
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (numbers.Integral, str)):
        raise TypeError(f"layer: expected a layer name or an index within the encoder, got {layer!r}")
    return int(layer) if isinstance(layer, numbers.Integral) else layer


class ActivityPenalty(Penalty):
    """A penalty on what one layer of a ``Sequential`` computes (see the module docstring).

    Subclasses implement ``value(h, layer)`` and ``gradients(h, layer) -> (dP/dh, {key: direct dP/dparam})``,
    where ``h`` is the output of the hooked layer, and may check the structure around it in
    ``_check_structure``.
    """

    def __init__(self, layer=-1):
        self.layer = _check_layer_ref(layer)
        self.attached_index = None  # the index of ``layer`` once attached to a Sequential

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
        """Called by ``Sequential.add_penalty``: check the layer suits this penalty; return the index of the
        layer whose output it reads (the layer itself, by default)."""
        if self.attached_index is not None:
            raise ValueError(
                f"{type(self).__name__}: this penalty is already attached to a network; "
                "create one penalty object per model"
            )
        self._check_structure(seq, index)
        self.attached_index = index
        return index

    def _check_structure(self, seq, index):
        """Raise if ``seq.layers[index]`` cannot carry this penalty (default: any layer can)."""

    def value(self, h, layer):
        raise NotImplementedError(f"{type(self).__name__} must define value(h, layer)")

    def gradients(self, h, layer):
        raise NotImplementedError(f"{type(self).__name__} must define gradients(h, layer)")

    def get_config(self):
        return {"layer": self.layer}


@serializable
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

    def value(self, h, layer):
        return self.value_and_grad(h)[0]

    def gradients(self, h, layer):
        return self.value_and_grad(h)[1], {}

    def get_config(self):
        return {"lam": self.lam, **super().get_config()}


@serializable
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
        self.rho = real_number(rho, "rho", low=0.0, high=1.0, include_low=False, include_high=False)
        self.beta = _check_strength(beta, "beta")
        self.eps = real_number(eps, "eps", low=0.0, high=min(self.rho, 1 - self.rho), include_low=False,
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

    def value(self, h, layer):
        return self.value_and_grad(h)[0]

    def gradients(self, h, layer):
        return self.value_and_grad(h)[1], {}

    def get_config(self):
        return {"rho": self.rho, "beta": self.beta, "layer": self.layer, "eps": self.eps}


@serializable
class Contractive(ActivityPenalty):
    """Contractive autoencoder (Rifai et al. 2011): ``P = lam * mean_n ||J_n||_F^2``, ``J_n = dh_n / dx_n``.

    For ``h = s(a)``, ``a = x W + b``: ``J_n[j, i] = s'(a_nj) W_ij``, so in closed form, with
    ``w_j = sum_i W_ij^2`` the squared norm of the weights into unit j,

        P(a, W) = lam / N * sum_n sum_j s'(a_nj)^2 w_j.

    P depends on the Dense's output ``a`` and, directly, on its weights ``W``. Its gradient, computed together
    in ``gradients``:

    - ``dP/da_nj = 2 lam / N * s'(a_nj) s''(a_nj) w_j`` is added to the gradient arriving at ``a``, so the
      Dense's own backward carries it on: ``dW += x^T dP/da``, ``db += sum_n dP/da_n``, ``dx += dP/da W^T``
      (and so the penalty reaches earlier layers too);
    - the direct part ``dP/dW_ij = 2 lam / N * W_ij sum_n s'(a_nj)^2`` (from ``w_j``) is added to the Dense's
      ``grads["W"]`` after its backward.

    The factor 2 comes from differentiating the squares ``s'^2`` and ``W^2``.

    ``layer`` names the activation ``s`` (default: the encoder's last layer); the layer just before it must be
    the ``Dense`` that computes ``a``, and the penalty hooks that Dense's output. In a multi-layer encoder the
    penalty is the Jacobian of that one layer with respect to its own input (not of the whole encoder with
    respect to the image).
    """

    def __init__(self, lam, layer=-1):
        super().__init__(layer)
        self.lam = _check_strength(lam)
        self._activation = None

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
        """Check the structure, remember the activation ``s``, and hook the Dense's output ``a`` (index - 1)."""
        super().attach(seq, index)
        self._activation = seq.layers[index]
        return index - 1

    def value(self, a, dense):
        """``P = lam / N * sum_{n, j} s'(a_nj)^2 w_j``."""
        ds = self._activation.df(a)
        w = (dense.params["W"] ** 2).sum(axis=0)
        return self.lam * float((ds * ds * w).sum(dtype=np.float64)) / a.shape[0]

    def gradients(self, a, dense):
        """``(dP/da, {"W": direct dP/dW})``: ``2 lam / N s'(a) s''(a) w`` and ``2 lam / N W sum_n s'(a_n)^2``."""
        W = dense.params["W"]
        ds = self._activation.df(a)
        scale = W.dtype.type(2 * self.lam / a.shape[0])
        grad_a = scale * ds * self._activation.d2f(a) * (W * W).sum(axis=0)
        grad_W = scale * W * (ds * ds).sum(axis=0)
        return grad_a, {"W": grad_W}

    def get_config(self):
        return {"lam": self.lam, **super().get_config()}


def jacobian_frobenius_sq(dense, activation, x):
    """``||J_n||_F^2 = sum_j s'(a_nj)^2 sum_i W_ij^2`` per sample for ``h = s(x W + b)`` (N,), without training.

    Use it to measure how much a layer contracts its input space, with or without a ``Contractive`` penalty.
    """
    a = x @ dense.params["W"] + dense.params["b"]
    ds = activation.df(a)
    return (ds * ds) @ (dense.params["W"] ** 2).sum(axis=0)

