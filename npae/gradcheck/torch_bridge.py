"""The PyTorch twin of an npae network: build it, copy weights both ways, compare outputs and gradients.

PyTorch serves as the reference implementation: the same network with the same weights must give the same
output and the same gradients (to about 1e-12 in float64). npae's parameter layouts follow PyTorch's, so
only ``Dense`` needs a transpose: npae keeps ``W`` as (in, out) for ``y = x W + b``, while
``torch.nn.Linear.weight`` is (out, in) for ``y = x W^T + b``.

Usage::

    import numpy as np, torch
    from npae import Dense, ReLU, Sequential
    from npae.gradcheck.torch_bridge import compare_with_torch, copy_weights, to_torch

    net = Sequential([Dense(784, 32, rng=0), ReLU()]).astype(np.float64)
    twin = to_torch(net)            # torch Sequential(Linear(784, 32), ReLU()), float64, same weights
    x = np.random.default_rng(0).random((5, 784))
    y = twin(torch.from_numpy(x)).detach().numpy()     # equals net.forward(x)
    # ... train the twin with torch.optim ...
    copy_weights(net, twin, direction="from_torch")    # bring the trained weights back into npae
    compare_with_torch(net, x)      # {"y": 0.0, "x": 1e-16, "0.W": 2e-16, "0.b": 0.0}: max relative errors

The other comparisons, each returning ``{tensor: max relative error}``: ``compare_loss_with_torch`` (a loss's
value and gradient), ``compare_parameter_penalty_with_torch`` (weight decay, L1 weights),
``compare_vae_with_torch`` (the VAE's or the IWAE's objective with its noise held fixed); penalties attached to a Sequential
(L1 activity, KL sparsity, contractive) are included by ``compare_with_torch``, which then compares
``sum(dy * y) + P`` in training mode. The gradient functions under them (``layer_gradients``,
``activation_derivatives``, ``loss_gradient``, ``activity_penalty_gradient``, ``contractive_gradients``,
``reparameterize_gradients``, ``kl_gradients``) return torch's gradients as NumPy arrays; ``npae exercises
check`` compares a learner's answers with them, and ``jax_bridge.py`` has the same functions in JAX.
Supported layers: Dense, the activations, Conv2D, Conv2DTranspose, MaxPool2D, AvgPool2D, UpSampling2D, Flatten,
Reshape (``nn.Unflatten``) and the corruptions (``nn.Identity``, their inference behaviour).

``torch`` is imported inside the functions, so ``import npae`` works without it.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.layers import Layer, Sequential
from .finite_differences import relative_error
from .twins import attached_penalties, compare_network, import_framework

DIRECTIONS = ("to_torch", "from_torch")

#: npae parameter name -> torch attribute name (layouts agree except where ``_TRANSPOSED`` says otherwise)
_TORCH_PARAM = {"W": "weight", "b": "bias"}
#: layers whose matrix is stored transposed in torch
_TRANSPOSED = {"Dense": ("W",)}


class NoTorchEquivalent(TypeError):
    """The bridge has no PyTorch counterpart (module, loss or penalty reference) for this npae component."""


def _import_torch():
    return import_framework("torch", "PyTorch", "torch_bridge")


# ----------------------------------------------------------------------------------------------
# npae layer -> torch module
# ----------------------------------------------------------------------------------------------


def _module_builders(nn):
    """``{npae class name: (torch class name, build(layer) -> module)}``."""
    return {
        "Dense": ("Linear", lambda layer: nn.Linear(layer.in_features, layer.out_features)),
        "Identity": ("Identity", lambda layer: nn.Identity()),
        "ReLU": ("ReLU", lambda layer: nn.ReLU()),
        "LeakyReLU": ("LeakyReLU", lambda layer: nn.LeakyReLU(negative_slope=layer.alpha)),
        "Sigmoid": ("Sigmoid", lambda layer: nn.Sigmoid()),
        "Tanh": ("Tanh", lambda layer: nn.Tanh()),
        # torch's Softplus returns x itself above x = 20, where log(1 + e^x) - x < 2.1e-9 (relative 1e-10)
        "Softplus": ("Softplus", lambda layer: nn.Softplus()),
        "ELU": ("ELU", lambda layer: nn.ELU(alpha=layer.alpha)),
        "Conv2D": ("Conv2d", lambda layer: nn.Conv2d(
            layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding)),
        "Conv2DTranspose": ("ConvTranspose2d", lambda layer: nn.ConvTranspose2d(
            layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
            layer.output_padding)),
        "MaxPool2D": ("MaxPool2d", lambda layer: nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding)),
        "AvgPool2D": ("AvgPool2d", lambda layer: nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding)),
        "UpSampling2D": ("Upsample", lambda layer: nn.Upsample(
            scale_factor=tuple(float(s) for s in layer.scale), mode=layer.mode,
            align_corners=False if layer.mode == "bilinear" else None)),
        "Flatten": ("Flatten", lambda layer: nn.Flatten()),
        "Reshape": ("Unflatten", lambda layer: nn.Unflatten(1, layer.shape)),
        # corruptions are the identity at inference, which is all a twin is used for
        **{name: ("Identity", lambda layer: nn.Identity())
           for name in ("GaussianNoise", "MaskingNoise", "SaltAndPepperNoise")},
    }


def _builder(layer, nn):
    builders = _module_builders(nn)
    kind = type(layer).__name__
    if kind not in builders:
        raise NoTorchEquivalent(
            f"layer: no PyTorch equivalent for npae {kind}; supported layers are {', '.join(sorted(builders))}"
        )
    return builders[kind]


def _torch_dtype(net, torch):
    return torch.float32 if net.dtype is np.float32 else torch.float64


def to_torch(net):
    """An equivalent ``torch.nn`` module with copied weights: ``nn.Sequential`` for a ``Sequential``.

    The twin has the dtype of ``net``'s parameters: float32 for a float32 net, float64 otherwise.
    """
    torch = _import_torch()
    if not isinstance(net, Layer):
        raise TypeError(f"net: expected an npae Sequential or Layer, got {type(net).__name__}")
    twin = _build_module(net, torch.nn).to(_torch_dtype(net, torch))
    copy_weights(net, twin, direction="to_torch")
    return twin


def _build_module(layer, nn):
    if isinstance(layer, Sequential):
        return nn.Sequential(*(_build_module(child, nn) for child in layer.layers))
    return _builder(layer, nn)[1](layer)


# ----------------------------------------------------------------------------------------------
# weights and gradients, both ways
# ----------------------------------------------------------------------------------------------


def _where(prefix):
    """``torch_seq`` or ``torch_seq at 1.0`` (the position of a nested module) for error messages."""
    return f"torch_seq at {prefix.rstrip('.')}" if prefix else "torch_seq"


def _leaf_pairs(net, module, nn, prefix=""):
    """Yield ``(qualified_prefix, npae_layer, torch_module)`` for matching leaves of the two networks."""
    if isinstance(net, Sequential):
        if not isinstance(module, nn.Sequential) or len(module) != len(net.layers):
            size = len(module) if isinstance(module, nn.Sequential) else "not a Sequential"
            raise ValueError(
                f"{_where(prefix)}: expected an nn.Sequential of {len(net.layers)} modules, "
                f"got {type(module).__name__} ({size})"
            )
        for i, (child, child_module) in enumerate(zip(net.layers, module)):
            yield from _leaf_pairs(child, child_module, nn, f"{prefix}{i}.")
        return
    expected = _builder(net, nn)[0]
    if type(module).__name__ != expected:
        raise ValueError(
            f"{_where(prefix)}: npae {type(net).__name__} needs a torch {expected}, got {type(module).__name__}"
        )
    yield prefix, net, module


def _param_pairs(net, module, nn):
    """Yield ``(qualified_name, npae_layer, key, torch_parameter, transposed)`` for every parameter."""
    for prefix, layer, leaf in _leaf_pairs(net, module, nn):
        for key in layer.params:
            transposed = key in _TRANSPOSED.get(type(layer).__name__, ())
            yield prefix + key, layer, key, getattr(leaf, _TORCH_PARAM[key]), transposed


def _to_numpy(tensor, transposed, dtype):
    array = tensor.detach().cpu().numpy()
    return np.ascontiguousarray(array.T if transposed else array, dtype=dtype)


def copy_weights(npae_seq, torch_seq, direction="to_torch"):
    """Copy every parameter from npae to torch (``"to_torch"``) or back (``"from_torch"``).

    The two networks must match layer for layer (as ``to_torch`` builds them); shapes are checked. npae
    parameters keep their dtype when copied back; torch parameters keep theirs.
    """
    torch = _import_torch()
    if direction not in DIRECTIONS:
        raise ValueError(f"direction: expected one of {DIRECTIONS}, got {direction!r}")
    pairs = list(_param_pairs(npae_seq, torch_seq, torch.nn))
    for name, layer, key, tensor, transposed in pairs:
        expected = tensor.shape[::-1] if transposed else tensor.shape
        if tuple(expected) != layer.params[key].shape:
            raise ValueError(
                f"{name}: npae shape {layer.params[key].shape} does not match torch shape {tuple(tensor.shape)}"
                + (" (transposed)" if transposed else "")
            )
    with torch.no_grad():
        for name, layer, key, tensor, transposed in pairs:
            if direction == "to_torch":
                value = layer.params[key].T if transposed else layer.params[key]
                tensor.copy_(torch.from_numpy(np.ascontiguousarray(value)))
            else:
                layer.params[key] = _to_numpy(tensor, transposed, layer.params[key].dtype)
    return torch_seq


def torch_gradients(npae_seq, torch_seq):
    """The ``.grad`` of every torch parameter in npae layout, by npae's qualified name (``"0.W"``)."""
    torch = _import_torch()
    grads = {}
    for name, layer, key, tensor, transposed in _param_pairs(npae_seq, torch_seq, torch.nn):
        if tensor.grad is None:
            raise ValueError(f"{name}: the torch parameter has no gradient; run backward on the twin first")
        grads[name] = _to_numpy(tensor.grad, transposed, np.float64)
    return grads


def layer_gradients(net, x, dy):
    """torch's ``{"y", ["penalty",] "x", "<param name>"...}`` for ``L = sum(dy * y) + P``, as NumPy arrays.

    ``P`` is the sum of the penalties attached to a Sequential (0 without; see ``torch_activity_penalty``). The
    twin has ``net``'s dtype: pass a float64 net for a meaningful comparison.
    """
    torch = _import_torch()
    twin = to_torch(net)
    penalties = attached_penalties(net)
    x_t = torch.tensor(np.asarray(x, dtype=net.dtype or np.float64), requires_grad=True)
    outputs = _run_layer_by_layer(twin, x_t) if penalties else [x_t, twin(x_t)]
    penalty_t = sum(torch_activity_penalty(p, outputs, i) for i, p in penalties)
    ((outputs[-1] * torch.as_tensor(dy, dtype=x_t.dtype)).sum() + penalty_t).backward()
    result = {"y": outputs[-1].detach().numpy()}
    if penalties:
        result["penalty"] = penalty_t.item()
    result["x"] = x_t.grad.numpy()
    return {**result, **torch_gradients(net, twin)}


def compare_with_torch(net, x, dy=None, seed=0):
    """Run ``net`` and its torch twin on ``x``; max relative errors of output and every gradient.

    The gradients are those of ``L = sum(dy * y) + P`` with a random upstream ``dy`` (standard normal from
    ``seed``) unless ``dy`` is given, and ``P`` the penalties attached to the layers of a Sequential (then
    both run in training mode and ``"penalty"`` compares the values; see ``torch_activity_penalty``).
    Returns ``{"y": ..., ["penalty": ...,] "x": ..., "<qualified param name>": ...}``.
    Use a float64 net for a meaningful comparison; corruption layers are compared at inference only.
    """
    _import_torch()
    return compare_network(net, x, dy, seed, layer_gradients)


def activation_derivatives(activation, x):
    """``(f'(x), f''(x))`` of an npae activation layer by torch autograd (double backprop), as NumPy arrays."""
    torch = _import_torch()
    f = _builder(activation, torch.nn)[1](activation)
    x_t = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    (first,) = torch.autograd.grad(f(x_t).sum(), x_t, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), x_t)
    return first.detach().numpy(), second.numpy()


def _run_layer_by_layer(twin, x_t):
    """``[x, out_0, out_1, ...]``: the input of module ``i`` is entry ``i``, its output entry ``i + 1``."""
    outputs = [x_t]
    for module in twin:
        outputs.append(module(outputs[-1]))
    return outputs


# ----------------------------------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------------------------------


def _batch_reduce(elementwise, loss_reduction):
    """npae's reduction: mean over the batch of each sample's sum (``"sum"``) or mean (``"mean"``)."""
    per_sample = elementwise.reshape(elementwise.shape[0], -1)
    per_sample = per_sample.mean(dim=1) if loss_reduction == "mean" else per_sample.sum(dim=1)
    return per_sample.mean()


def torch_loss(loss):
    """The torch function ``(pred, target) -> scalar`` computing the same value as the npae ``loss``."""
    torch = _import_torch()
    functional = torch.nn.functional
    elementwise = {
        "MSE": lambda p, t: functional.mse_loss(p, t, reduction="none"),
        "BinaryCrossEntropy": lambda z, t: functional.binary_cross_entropy_with_logits(z, t, reduction="none"),
        "SoftmaxCrossEntropy": lambda z, t: -t * functional.log_softmax(z, dim=1),
    }
    kind = type(loss).__name__
    if kind not in elementwise:
        raise NoTorchEquivalent(
            f"loss: no PyTorch equivalent for npae {kind}; supported losses are {sorted(elementwise)}"
        )
    return lambda pred, target: _batch_reduce(elementwise[kind](pred, target), loss.reduction)


def loss_gradient(loss, pred, target):
    """``(value, dvalue/dpred)`` of the npae ``loss`` by torch autograd (float, NumPy array)."""
    torch = _import_torch()
    pred_t = torch.tensor(np.asarray(pred, dtype=np.float64), requires_grad=True)
    value_t = torch_loss(loss)(pred_t, torch.tensor(np.asarray(target, dtype=np.float64)))
    value_t.backward()
    return value_t.item(), pred_t.grad.numpy()


def compare_loss_with_torch(loss, pred, target):
    """Max relative errors of an npae loss's value and gradient against torch: ``{"value", "pred"}``."""
    value, grad = loss.value_and_grad(pred, target)
    value_t, grad_t = loss_gradient(loss, pred, target)
    return {"value": relative_error(value, value_t), "pred": relative_error(grad, grad_t)}


# ----------------------------------------------------------------------------------------------
# penalties, written from their definitions with torch autograd (no closed forms)
# ----------------------------------------------------------------------------------------------


def _kl_sparsity(penalty, h):
    rho, rho_hat = penalty.rho, h.mean(dim=0)
    kl = rho * (rho / rho_hat).log() + (1 - rho) * ((1 - rho) / (1 - rho_hat)).log()
    return penalty.beta * kl.sum()


def _contractive(penalty, x_in, h, torch):
    """``lam / N sum_n ||dh_n/dx_n||_F^2`` by double backprop: row ``j`` of every ``J_n`` is ``d(sum_n h_nj)/dx``.

    Only sample ``n``'s input moves ``h_n``, so one gradient per output unit gives every sample's row at once.
    """
    total = 0
    for j in range(h.shape[1]):
        (row,) = torch.autograd.grad(h[:, j].sum(), x_in, create_graph=True)
        total = total + (row * row).sum()
    return penalty.lam * total / h.shape[0]


def torch_activity_penalty(penalty, outputs, index):
    """The torch value of an activity penalty attached to layer ``index``, from ``_run_layer_by_layer``'s list.

    ``Contractive`` differentiates the output of layer ``index`` (the activation) with respect to the input of
    layer ``index - 1`` (its Dense), as the npae penalty defines it.
    """
    torch = _import_torch()
    h = outputs[index + 1]
    kind = type(penalty).__name__
    if kind == "L1Activity":
        return penalty.lam * h.abs().sum() / h.shape[0]
    if kind == "KLSparsity":
        return _kl_sparsity(penalty, h)
    if kind == "Contractive":
        return _contractive(penalty, outputs[index - 1], h, torch)
    raise NoTorchEquivalent(f"penalty: no PyTorch reference for npae {kind} (L1Activity, KLSparsity, Contractive)")


def activity_penalty_gradient(penalty, h):
    """``(P, dP/dh)`` of an L1-activity or KL-sparsity penalty on the activations ``h`` (N, units), by torch."""
    torch = _import_torch()
    h_t = torch.tensor(np.asarray(h, dtype=np.float64), requires_grad=True)
    kind = type(penalty).__name__
    if kind == "L1Activity":
        value = penalty.lam * h_t.abs().sum() / h_t.shape[0]
    elif kind == "KLSparsity":
        value = _kl_sparsity(penalty, h_t)
    else:
        raise NoTorchEquivalent(f"penalty: no PyTorch reference for {kind} on activations (L1Activity, KLSparsity)")
    value.backward()
    return value.item(), h_t.grad.numpy()


def contractive_gradients(penalty, activation, a, W):
    """``(P, dP/da, dP/dW)`` of ``Contractive``'s ``P = lam / N sum_n ||J_n||_F^2`` with ``a`` and ``W`` independent.

    ``J_n`` is the Jacobian of ``u -> s(a_n + u W)`` at ``u = 0`` (the layer ``h = s(x W + b)`` moved by ``u``
    away from the input that gave ``a_n``), by double backprop: ``dP/da`` holds ``W`` fixed and ``dP/dW`` holds
    ``a`` fixed, the two paths ``Contractive.gradients`` returns.
    """
    torch = _import_torch()
    f = _builder(activation, torch.nn)[1](activation)
    a_t = torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
    W_t = torch.tensor(np.asarray(W, dtype=np.float64), requires_grad=True)
    u = torch.zeros((a_t.shape[0], W_t.shape[0]), dtype=torch.float64, requires_grad=True)
    value = _contractive(penalty, u, f(a_t + u @ W_t), torch)
    value.backward()
    return value.item(), a_t.grad.numpy(), W_t.grad.numpy()


def torch_parameter_penalty(penalty, weights):
    """The torch value of a parameter penalty over a list of weight tensors."""
    kind = type(penalty).__name__
    if kind == "WeightDecay":
        return sum(0.5 * penalty.lam * (w * w).sum() for w in weights)
    if kind == "L1Weights":
        return sum(penalty.lam * w.abs().sum() for w in weights)
    raise NoTorchEquivalent(f"penalty: no PyTorch reference for npae {kind} (WeightDecay, L1Weights)")


def compare_parameter_penalty_with_torch(penalty, net):
    """``penalty.apply_to_parameters(net)`` against torch autograd: ``{"penalty": ..., "<name>.W": ...}``.

    The net's gradients are zeroed first, so they hold the penalty's gradient alone afterwards.
    """
    torch = _import_torch()
    twin = to_torch(net)
    net.zero_grads()
    value = penalty.apply_to_parameters(net)
    weights = [pair for pair in _param_pairs(net, twin, torch.nn) if pair[2] == "W"]
    value_t = torch_parameter_penalty(penalty, [tensor for _, _, _, tensor, _ in weights])
    value_t.backward()
    errors = {"penalty": relative_error(value, value_t.item())}
    for name, layer, key, tensor, transposed in weights:
        errors[name] = relative_error(layer.grads[key], _to_numpy(tensor.grad, transposed, np.float64))
    return errors


# ----------------------------------------------------------------------------------------------
# the VAE objective with the noise held fixed
# ----------------------------------------------------------------------------------------------


def _torch_output_logvar(model, out, torch):
    """The Gaussian decoder's log-variance ``s`` in torch, and the learned leaf tensor (None when fixed)."""
    if model.output_logvar is None:
        return torch.tensor(math.log(model.variance), dtype=out.dtype), None
    learned = torch.tensor(model.output_logvar.params["logvar"], requires_grad=True)
    per_sample = tuple(out.shape[1:]) if learned.numel() > 1 else (1,) * (out.dim() - 1)
    return learned.reshape((1,) + per_sample), learned


def _reparameterize(mu, logvar, eps):
    return mu + (0.5 * logvar).exp() * eps


def _kl(mu, logvar, free_bits, torch):
    """``sum_j max(free_bits, 1/N sum_n KL_nj)`` with ``KL_nj = -1/2 (1 + logvar - mu^2 - e^logvar)``."""
    per_dim = (-0.5 * (1 + logvar - mu * mu - logvar.exp())).mean(dim=0)
    return torch.clamp(per_dim, min=free_bits).sum() if free_bits > 0 else per_dim.sum()


def reparameterize_gradients(mu, logvar, eps, dz):
    """``(dL/dmu, dL/dlogvar)`` by torch for ``L = sum(dz * z)``, ``z = mu + e^{logvar/2} eps`` (``eps`` fixed)."""
    torch = _import_torch()
    mu_t, logvar_t = (torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in (mu, logvar))
    z = _reparameterize(mu_t, logvar_t, torch.tensor(np.asarray(eps, dtype=np.float64)))
    (z * torch.tensor(np.asarray(dz, dtype=np.float64))).sum().backward()
    return mu_t.grad.numpy(), logvar_t.grad.numpy()


def kl_gradients(mu, logvar, free_bits=0.0):
    """``(KL, dKL/dmu, dKL/dlogvar)`` by torch for the VAE's batch-averaged KL term (``npae.models.vae.kl_term``)."""
    torch = _import_torch()
    mu_t, logvar_t = (torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in (mu, logvar))
    value = _kl(mu_t, logvar_t, free_bits, torch)
    value.backward()
    return value.item(), mu_t.grad.numpy(), logvar_t.grad.numpy()


def _with_conditions(a, conditions, torch):
    return torch.cat([a, conditions], dim=1) if conditions is not None else a


def _torch_nll_per_row(model, out, x_t, torch):
    """``-log p(x | out)`` summed over each row's pixels, and the learned output log-variance (None when fixed)."""
    if model.likelihood == "bernoulli":
        elementwise = torch.nn.functional.binary_cross_entropy_with_logits(out, x_t, reduction="none")
        return elementwise.reshape(out.shape[0], -1).sum(dim=1), None
    s, learned = _torch_output_logvar(model, out, torch)
    elementwise = 0.5 * (math.log(2 * math.pi) + s + (x_t - out) ** 2 * (-s).exp())
    return elementwise.reshape(out.shape[0], -1).sum(dim=1), learned


def _torch_vae_loss(model, encoder, decoder, x_t, eps_t, conditions, torch):
    """The training loss in torch, from the definitions in ``npae.models.vae`` (nats per image, mean over N):
    ``recon + beta * KL`` for the ELBO, ``-L_k`` for the IWAE (``eps_t`` of shape (N, k, K)).

    Returns ``(loss, learned output log-variance or None)``.
    """
    n, k = x_t.shape[0], model.latent_dim
    h = encoder(_with_conditions(x_t.reshape(n, -1), conditions, torch))
    mu, logvar = h[:, :k], h[:, k:]
    if eps_t.dim() == 3:
        return _torch_iwae_loss(model, decoder, x_t, mu, logvar, eps_t, conditions, torch)
    z = _reparameterize(mu, logvar, eps_t)
    nll, learned = _torch_nll_per_row(model, decoder(_with_conditions(z, conditions, torch)), x_t, torch)
    return nll.sum() / n + model.current_beta * _kl(mu, logvar, model.free_bits, torch), learned


def _torch_iwae_loss(model, decoder, x_t, mu, logvar, eps_t, conditions, torch):
    """``-1/N sum_n [logsumexp_i log w_ni - log k]`` with ``log w = log p(x|z) + beta (log p(z) - log q(z|x))``.

    The densities of z come from ``torch.distributions.Normal``, written independently of npae's formulas.
    """
    n, samples, latent = eps_t.shape
    std = (0.5 * logvar).exp()
    z = mu[:, None, :] + std[:, None, :] * eps_t
    repeated = None if conditions is None else conditions.repeat_interleave(samples, dim=0)
    out = decoder(_with_conditions(z.reshape(n * samples, latent), repeated, torch))
    nll, learned = _torch_nll_per_row(model, out, x_t.repeat_interleave(samples, dim=0), torch)
    normal = torch.distributions.Normal
    log_prior = normal(torch.zeros_like(z), torch.ones_like(z)).log_prob(z).sum(dim=2)
    log_posterior = normal(mu[:, None, :], std[:, None, :]).log_prob(z).sum(dim=2)
    log_w = -nll.reshape(n, samples) + model.current_beta * (log_prior - log_posterior)
    return -(torch.logsumexp(log_w, dim=1) - math.log(samples)).mean(), learned


def compare_vae_with_torch(model, x, eps, y=None):
    """``model.forward_backward(x, eps)`` against torch autograd: ``{"loss": ..., "<param name>": ...}``.

    ``eps`` (``model.noise_shape(N)``: (N, latent_dim), or (N, k, latent_dim) for an IWAE) is the
    reparameterisation noise, held fixed on both sides; ``y`` the labels of a ConditionalVAE. Parameter names
    are those of ``model.named_parameters()`` (``"encoder.0.W"``).
    """
    torch = _import_torch()
    encoder, decoder = to_torch(model.encoder), to_torch(model.decoder)
    model.zero_grads()
    logs = model.forward_backward(x, eps, y)
    conditions = None
    if y is not None:
        conditions = torch.nn.functional.one_hot(torch.as_tensor(y), model.n_classes).to(torch.float64)
    loss_t, learned = _torch_vae_loss(model, encoder, decoder, torch.tensor(x), torch.tensor(eps), conditions, torch)
    loss_t.backward()
    theirs = {f"encoder.{k}": v for k, v in torch_gradients(model.encoder, encoder).items()}
    theirs.update({f"decoder.{k}": v for k, v in torch_gradients(model.decoder, decoder).items()})
    if learned is not None:
        theirs["likelihood.logvar"] = learned.grad.numpy()
    errors = {"loss": relative_error(logs["loss"], loss_t.item())}
    for name, grad in model.named_gradients():
        errors[name] = relative_error(grad, theirs[name])
    return errors
