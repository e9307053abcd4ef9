"""The JAX twin of an npae network: the same maps as pure functions of their parameters, differentiated by JAX.

A second autograd oracle beside PyTorch (``torch_bridge.py``), reached by different routes: layers are written
with ``jax.lax`` (``conv_general_dilated``, ``reduce_window``), ``jax.image.resize`` and ``jax.numpy``, a network
is a function ``f(params, x)`` of a dict of arrays under npae's own names (``"0.W"``; Dense's ``W`` stays
(in, out), no transpose), gradients come from ``jax.grad``, and the contractive penalty is the Frobenius norm of
a Jacobian that ``jax.jacfwd`` computes sample by sample (where torch uses double backprop). Everything runs
in float64 inside ``jax.enable_x64(True)``, a context that leaves the process's JAX settings as they were.

Usage::

    import numpy as np
    from npae import Dense, ReLU, Sequential
    from npae.gradcheck.jax_bridge import compare_with_jax, jax_function

    net = Sequential([Dense(784, 32, rng=0), ReLU()]).astype(np.float64)
    x = np.random.default_rng(0).random((5, 784))
    compare_with_jax(net, x)       # {"y": 0.0, "x": 1e-16, "0.W": 2e-16, "0.b": 0.0}: max relative errors
    f, params = jax_function(net)  # y = f(params, x), params = {"0.W": ..., "0.b": ...}

The comparisons, each returning ``{tensor: max relative error}`` as their torch counterparts do:
``compare_with_jax`` (a layer or Sequential, with the penalties attached to it), ``compare_loss_with_jax``,
``compare_parameter_penalty_with_jax`` and ``compare_vae_with_jax`` (the VAE objective with its noise held
fixed). The gradient functions below them (``layer_gradients``, ``activation_derivatives``, ``loss_gradient``,
``activity_penalty_gradient``, ``contractive_gradients``, ``reparameterize_gradients``, ``kl_gradients``) return
JAX's arrays themselves; ``npae exercises check`` compares a learner's answers with them. Each differentiated
function is compiled once with ``jax.jit``: on problems this small that is about twice as fast as running it
operation by operation, each of which JAX would compile on its own.

``jax`` is imported inside the functions, so ``import npae`` works without it.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ..core.layers import Layer, Sequential
from .finite_differences import relative_error
from .twins import attached_penalties, compare_network, import_framework


class NoJaxEquivalent(TypeError):
    """The bridge has no JAX counterpart (layer map, loss or penalty reference) for this npae component."""


def _import_jax():
    return import_framework("jax", "JAX", "jax_bridge")


@contextlib.contextmanager
def float64_jax():
    """``jax`` with 64-bit floats enabled inside the block (``jax.enable_x64``), the previous setting after it."""
    jax = _import_jax()
    with jax.enable_x64(True):
        yield jax


def _numpy(array):
    return np.asarray(array, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# npae layer -> pure function of (its parameters, x)
# ----------------------------------------------------------------------------------------------


def _conv(layer, lax):
    """``y = b + sum W xp``: the cross-correlation of ``conv_general_dilated`` in NCHW / OIHW, as npae's."""
    padding = [(p, p) for p in layer.padding]

    def apply(p, x):
        y = lax.conv_general_dilated(x, p["W"], layer.stride, padding, dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + p["b"][None, :, None, None]

    return apply


def _conv_transpose(layer, lax, jnp):
    """The transposed convolution as a convolution of the input dilated by the stride (``lhs_dilation``) with the
    flipped kernel, its channel axes swapped, over a border of ``K - 1 - padding`` (plus ``output_padding``)."""
    padding = [(k - 1 - p, k - 1 - p + extra)
               for k, p, extra in zip(layer.kernel_size, layer.padding, layer.output_padding)]

    def apply(p, x):
        kernel = jnp.flip(p["W"], axis=(2, 3)).transpose(1, 0, 2, 3)
        y = lax.conv_general_dilated(x, kernel, (1, 1), padding, lhs_dilation=layer.stride,
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + p["b"][None, :, None, None]

    return apply


def _pool(layer, lax, jnp, kind):
    """Max pooling (``-inf`` padding) or average pooling (zero padding, divided by ``KH KW``) by ``reduce_window``."""
    window, strides = (1, 1) + layer.kernel_size, (1, 1) + layer.stride
    padding = ((0, 0), (0, 0)) + tuple((p, p) for p in layer.padding)
    if kind == "max":
        return lambda p, x: lax.reduce_window(x, -jnp.inf, lax.max, window, strides, padding)
    size = layer.kernel_size[0] * layer.kernel_size[1]
    return lambda p, x: lax.reduce_window(x, 0.0, lax.add, window, strides, padding) / size


def _upsample(layer, jax, jnp):
    """Nearest: every pixel repeated; bilinear: ``jax.image.resize`` (half-pixel centres, as torch's
    ``align_corners=False``; at the edges its weights renormalise, which equals npae's clamped source rows)."""
    sh, sw = layer.scale
    if layer.mode == "nearest":
        return lambda p, x: jnp.repeat(jnp.repeat(x, sh, axis=2), sw, axis=3)
    return lambda p, x: jax.image.resize(x, x.shape[:2] + (x.shape[2] * sh, x.shape[3] * sw), method="bilinear")


def _elementwise(fn):
    return lambda layer: (lambda p, x: fn(x))


def _layer_maps(jax):
    """``{npae class name: make(layer) -> f(p, x)}``, ``p`` the layer's own parameters by key (``"W"``)."""
    jnp, lax, nn = jax.numpy, jax.lax, jax.nn
    identity = _elementwise(lambda x: x)
    return {
        "Dense": lambda layer: (lambda p, x: x @ p["W"] + p["b"]),
        "Identity": identity,
        "ReLU": _elementwise(nn.relu),
        "LeakyReLU": lambda layer: (lambda p, x: nn.leaky_relu(x, negative_slope=layer.alpha)),
        "Sigmoid": _elementwise(nn.sigmoid),
        "Tanh": _elementwise(jnp.tanh),
        "Softplus": _elementwise(nn.softplus),
        "ELU": lambda layer: (lambda p, x: nn.elu(x, alpha=layer.alpha)),
        "Conv2D": lambda layer: _conv(layer, lax),
        "Conv2DTranspose": lambda layer: _conv_transpose(layer, lax, jnp),
        "MaxPool2D": lambda layer: _pool(layer, lax, jnp, "max"),
        "AvgPool2D": lambda layer: _pool(layer, lax, jnp, "avg"),
        "UpSampling2D": lambda layer: _upsample(layer, jax, jnp),
        "Flatten": lambda layer: (lambda p, x: x.reshape(x.shape[0], -1)),
        "Reshape": lambda layer: (lambda p, x: x.reshape((x.shape[0],) + layer.shape)),
        # corruptions are the identity at inference, which is all a twin is used for
        **{name: identity for name in ("GaussianNoise", "MaskingNoise", "SaltAndPepperNoise")},
    }


def _leaf_function(layer, prefix, maps):
    kind = type(layer).__name__
    if kind not in maps:
        raise NoJaxEquivalent(
            f"layer: no JAX equivalent for npae {kind}; supported layers are {', '.join(sorted(maps))}"
        )
    apply, keys = maps[kind](layer), list(layer.params)
    return lambda params, x: apply({key: params[prefix + key] for key in keys}, x)


def _children(net, prefix, maps):
    """The functions ``f_i(params, x)`` of the top-level layers of ``net`` (one for a single layer)."""
    if not isinstance(net, Sequential):
        return [_leaf_function(net, prefix, maps)]
    return [_function(child, f"{prefix}{i}.", maps) for i, child in enumerate(net.layers)]


def _function(net, prefix, maps):
    children = _children(net, prefix, maps)

    def apply(params, x):
        for child in children:
            x = child(params, x)
        return x

    return apply


def jax_function(net, prefix=""):
    """``(f, params)``: ``f(params, x)`` computes ``net.forward(x)`` in JAX, ``params`` holds ``net``'s parameters
    as JAX arrays under npae's qualified names (``prefix + "0.W"``). Call it inside ``float64_jax()``."""
    jax = _import_jax()
    if not isinstance(net, Layer):
        raise TypeError(f"net: expected an npae Sequential or Layer, got {type(net).__name__}")
    params = {name: jax.numpy.asarray(value) for name, value in net.named_parameters(prefix)}
    return _function(net, prefix, _layer_maps(jax)), params


# ----------------------------------------------------------------------------------------------
# penalties, written from their definitions
# ----------------------------------------------------------------------------------------------


def _kl_sparsity(penalty, h, jnp):
    rho, rho_hat = penalty.rho, h.mean(axis=0)
    kl = rho * jnp.log(rho / rho_hat) + (1 - rho) * jnp.log((1 - rho) / (1 - rho_hat))
    return penalty.beta * kl.sum()


def _jacobian_norm_sq(jax, layer_map, u, *per_sample):
    """``sum_n ||J_n||_F^2`` with ``J_n`` the Jacobian of ``u -> layer_map(u, *args_n)`` at ``u_n`` (``jacfwd``)."""
    jacobians = jax.vmap(jax.jacfwd(layer_map))(u, *per_sample)
    return (jacobians * jacobians).sum()


def _activity_penalty(jax, penalty, children, params, outputs, index):
    """The JAX value of an activity penalty attached to layer ``index``; ``outputs[i]`` is layer i's input.

    ``Contractive``: ``lam / N sum_n ||dh_n/dx_n||_F^2`` where ``h = s(x W + b)`` is the map of the Dense at
    ``index - 1`` and the activation at ``index``, differentiated sample by sample by ``jax.jacfwd``.
    """
    h = outputs[index + 1]
    kind = type(penalty).__name__
    if kind == "L1Activity":
        return penalty.lam * jax.numpy.abs(h).sum() / h.shape[0]
    if kind == "KLSparsity":
        return _kl_sparsity(penalty, h, jax.numpy)
    if kind == "Contractive":
        dense, activation = children[index - 1], children[index]

        def one_sample(u):
            return activation(params, dense(params, u[None]))[0]

        return penalty.lam * _jacobian_norm_sq(jax, one_sample, outputs[index - 1]) / h.shape[0]
    raise NoJaxEquivalent(f"penalty: no JAX reference for npae {kind} (L1Activity, KLSparsity, Contractive)")


def _parameter_penalty(penalty, weights, jnp):
    kind = type(penalty).__name__
    if kind == "WeightDecay":
        return sum(0.5 * penalty.lam * (w * w).sum() for w in weights)
    if kind == "L1Weights":
        return sum(penalty.lam * jnp.abs(w).sum() for w in weights)
    raise NoJaxEquivalent(f"penalty: no JAX reference for npae {kind} (WeightDecay, L1Weights)")


# ----------------------------------------------------------------------------------------------
# layers and networks
# ----------------------------------------------------------------------------------------------


def layer_gradients(net, x, dy):
    """JAX's ``{"y", ["penalty",] "x", "<param name>"...}`` for ``L = sum(dy * y) + P``, as NumPy float64 arrays.

    ``P`` is the sum of the penalties attached to a Sequential (``attached_penalties``; 0 without), evaluated on
    the twin's own layer outputs.
    """
    penalties = attached_penalties(net)
    with float64_jax() as jax:
        maps = _layer_maps(jax)
        children = _children(net, "", maps)
        params = {name: jax.numpy.asarray(value, dtype=np.float64) for name, value in net.named_parameters()}
        upstream = jax.numpy.asarray(dy, dtype=np.float64)

        def objective(params, x):
            outputs = [x]
            for child in children:
                outputs.append(child(params, outputs[-1]))
            penalty = sum(_activity_penalty(jax, p, children, params, outputs, i) for i, p in penalties)
            return (upstream * outputs[-1]).sum() + penalty, (outputs[-1], penalty)

        grad = jax.jit(jax.grad(objective, argnums=(0, 1), has_aux=True))
        (grad_params, grad_x), (y, penalty) = grad(params, jax.numpy.asarray(x, dtype=np.float64))
        result = {"y": _numpy(y)}
        if penalties:
            result["penalty"] = float(penalty)
        result["x"] = _numpy(grad_x)
        result.update({name: _numpy(grad) for name, grad in grad_params.items()})
    return result


def compare_with_jax(net, x, dy=None, seed=0):
    """Run ``net`` and its JAX twin on ``x``; max relative errors of output and every gradient.

    As ``compare_with_torch``: the gradients of ``L = sum(dy * y) + P`` with a standard normal ``dy`` from
    ``seed`` unless given, ``P`` the penalties attached to a Sequential (both sides then run in training mode
    and ``"penalty"`` compares the values). Returns ``{"y", ["penalty",] "x", "<param name>"...}``.
    """
    _import_jax()
    return compare_network(net, x, dy, seed, layer_gradients)


def activation_derivatives(activation, x):
    """``(f'(x), f''(x))`` of an npae activation layer by ``jax.grad`` (twice), elementwise, as NumPy arrays."""
    with float64_jax() as jax:
        f = _leaf_function(activation, "", _layer_maps(jax))

        def first(x):
            return jax.grad(lambda x: f({}, x).sum())(x)

        both = jax.jit(lambda x: (first(x), jax.grad(lambda x: first(x).sum())(x)))
        return tuple(_numpy(d) for d in both(jax.numpy.asarray(x, dtype=np.float64)))


# ----------------------------------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------------------------------


def _batch_reduce(elementwise, loss_reduction):
    """npae's reduction: mean over the batch of each sample's sum (``"sum"``) or mean (``"mean"``)."""
    per_sample = elementwise.reshape(elementwise.shape[0], -1)
    per_sample = per_sample.mean(axis=1) if loss_reduction == "mean" else per_sample.sum(axis=1)
    return per_sample.mean()


def jax_loss(loss):
    """The JAX function ``(pred, target) -> scalar`` computing the same value as the npae ``loss``.

    The Bernoulli loss is written as ``-[t log s(z) + (1 - t) log s(-z)]`` with ``jax.nn.log_sigmoid``, its
    definition, rather than npae's softplus form.
    """
    jax = _import_jax()
    nn = jax.nn
    elementwise = {
        "MSE": lambda p, t: (p - t) ** 2,
        "BinaryCrossEntropy": lambda z, t: -(t * nn.log_sigmoid(z) + (1 - t) * nn.log_sigmoid(-z)),
        "SoftmaxCrossEntropy": lambda z, t: -t * nn.log_softmax(z, axis=1),
    }
    kind = type(loss).__name__
    if kind not in elementwise:
        raise NoJaxEquivalent(f"loss: no JAX equivalent for npae {kind}; supported losses are {sorted(elementwise)}")
    return lambda pred, target: _batch_reduce(elementwise[kind](pred, target), loss.reduction)


def loss_gradient(loss, pred, target):
    """``(value, dvalue/dpred)`` of the npae ``loss`` by JAX (float, NumPy array)."""
    with float64_jax() as jax:
        fn = jax_loss(loss)
        target = jax.numpy.asarray(target, dtype=np.float64)
        value, grad = jax.jit(jax.value_and_grad(lambda p: fn(p, target)))(jax.numpy.asarray(pred, dtype=np.float64))
        return float(value), _numpy(grad)


def compare_loss_with_jax(loss, pred, target):
    """Max relative errors of an npae loss's value and gradient against JAX: ``{"value", "pred"}``."""
    value, grad = loss.value_and_grad(pred, target)
    value_j, grad_j = loss_gradient(loss, pred, target)
    return {"value": relative_error(value, value_j), "pred": relative_error(grad, grad_j)}


# ----------------------------------------------------------------------------------------------
# penalties on their own
# ----------------------------------------------------------------------------------------------


def activity_penalty_gradient(penalty, h):
    """``(P, dP/dh)`` of an L1-activity or KL-sparsity penalty on the activations ``h`` (N, units), by JAX."""
    with float64_jax() as jax:
        jnp = jax.numpy
        kind = type(penalty).__name__
        values = {
            "L1Activity": lambda h: penalty.lam * jnp.abs(h).sum() / h.shape[0],
            "KLSparsity": lambda h: _kl_sparsity(penalty, h, jnp),
        }
        if kind not in values:
            raise NoJaxEquivalent(f"penalty: no JAX reference for {kind} on activations (L1Activity, KLSparsity)")
        value, grad = jax.jit(jax.value_and_grad(values[kind]))(jnp.asarray(h, dtype=np.float64))
        return float(value), _numpy(grad)


def contractive_gradients(penalty, activation, a, W):
    """``(P, dP/da, dP/dW)`` of ``Contractive``'s ``P = lam / N sum_n ||J_n||_F^2`` with ``a`` and ``W`` independent.

    ``J_n`` is the Jacobian of ``u -> s(a_n + u W)`` at ``u = 0``: the layer ``h = s(x W + b)`` moved by ``u``
    away from the input that gave the pre-activation ``a_n``, so ``J_n = dh_n/dx_n``. Written that way, ``a`` and
    ``W`` are separate leaves: ``dP/da`` holds ``W`` fixed and ``dP/dW`` holds ``a`` fixed, the two paths
    ``Contractive.gradients`` returns.
    """
    with float64_jax() as jax:
        jnp = jax.numpy
        f = _leaf_function(activation, "", _layer_maps(jax))
        a, W = jnp.asarray(a, dtype=np.float64), jnp.asarray(W, dtype=np.float64)
        moved_from_zero = jnp.zeros((a.shape[0], W.shape[0]))

        def value(a, W):
            layer_map = lambda u, a_n: f({}, a_n + u @ W)  # noqa: E731 (one sample: u (D,), a_n (H,))
            return penalty.lam * _jacobian_norm_sq(jax, layer_map, moved_from_zero, a) / a.shape[0]

        P, (grad_a, grad_W) = jax.jit(jax.value_and_grad(value, argnums=(0, 1)))(a, W)
        return float(P), _numpy(grad_a), _numpy(grad_W)


def compare_parameter_penalty_with_jax(penalty, net):
    """``penalty.apply_to_parameters(net)`` against JAX: ``{"penalty": ..., "<name>.W": ...}``.

    The net's gradients are zeroed first, so they hold the penalty's gradient alone afterwards.
    """
    net.zero_grads()
    value = penalty.apply_to_parameters(net)
    grads = dict(net.named_gradients())
    weights = {name: w for name, w in net.named_parameters() if name.rsplit(".", 1)[-1] == "W"}
    with float64_jax() as jax:
        jnp = jax.numpy
        value_j, grads_j = jax.jit(jax.value_and_grad(lambda ws: _parameter_penalty(penalty, list(ws.values()), jnp)))(
            {name: jnp.asarray(w, dtype=np.float64) for name, w in weights.items()})
        errors = {"penalty": relative_error(value, float(value_j))}
        errors.update({name: relative_error(grads[name], _numpy(grads_j[name])) for name in weights})
    return errors


# ----------------------------------------------------------------------------------------------
# the VAE objective with the noise held fixed
# ----------------------------------------------------------------------------------------------


def _reparameterize(mu, logvar, eps, jnp):
    return mu + jnp.exp(0.5 * logvar) * eps


def _kl(mu, logvar, free_bits, jnp):
    """``sum_j max(free_bits, 1/N sum_n KL_nj)`` with ``KL_nj = -1/2 (1 + logvar - mu^2 - e^logvar)``."""
    per_dim = (-0.5 * (1 + logvar - mu * mu - jnp.exp(logvar))).mean(axis=0)
    return jnp.maximum(per_dim, free_bits).sum() if free_bits > 0 else per_dim.sum()


def reparameterize_gradients(mu, logvar, eps, dz):
    """``(dL/dmu, dL/dlogvar)`` by JAX for ``L = sum(dz * z)``, ``z = mu + e^{logvar/2} eps`` (``eps`` fixed)."""
    with float64_jax() as jax:
        jnp = jax.numpy
        eps, dz = jnp.asarray(eps, dtype=np.float64), jnp.asarray(dz, dtype=np.float64)
        objective = lambda mu, logvar: (dz * _reparameterize(mu, logvar, eps, jnp)).sum()  # noqa: E731
        grads = jax.jit(jax.grad(objective, argnums=(0, 1)))(
            jnp.asarray(mu, dtype=np.float64), jnp.asarray(logvar, dtype=np.float64))
        return tuple(_numpy(g) for g in grads)


def kl_gradients(mu, logvar, free_bits=0.0):
    """``(KL, dKL/dmu, dKL/dlogvar)`` by JAX for the VAE's batch-averaged KL term (``npae.models.vae.kl_term``)."""
    with float64_jax() as jax:
        jnp = jax.numpy
        value, grads = jax.jit(jax.value_and_grad(lambda mu, logvar: _kl(mu, logvar, free_bits, jnp), argnums=(0, 1)))(
            jnp.asarray(mu, dtype=np.float64), jnp.asarray(logvar, dtype=np.float64))
        return float(value), _numpy(grads[0]), _numpy(grads[1])


def _with_conditions(a, conditions, jnp):
    return jnp.concatenate([a, conditions], axis=1) if conditions is not None else a


def _nll_per_row(model, params, out, x, jax):
    """``-log p(x | out)`` summed over each row's pixels, from the likelihood's definition in ``npae.models.vae``."""
    jnp = jax.numpy
    if model.likelihood == "bernoulli":
        elementwise = -(x * jax.nn.log_sigmoid(out) + (1 - x) * jax.nn.log_sigmoid(-out))
    else:
        if model.output_logvar is None:
            s = math.log(model.variance)
        else:
            learned = params["likelihood.logvar"]
            s = learned.reshape((1,) + (out.shape[1:] if learned.size > 1 else (1,) * (out.ndim - 1)))
        elementwise = 0.5 * (math.log(2 * math.pi) + s + (x - out) ** 2 * jnp.exp(-s))
    return elementwise.reshape(out.shape[0], -1).sum(axis=1)


def _vae_loss(model, jax, params, x, eps, conditions):
    """``recon + beta * KL`` in JAX from the definitions in ``npae.models.vae`` (nats per image, mean over N);
    with ``eps`` of shape (N, k, latent), the IWAE's ``-L_k`` (``_iwae_loss``)."""
    jnp = jax.numpy
    maps = _layer_maps(jax)
    encoder, decoder = _function(model.encoder, "encoder.", maps), _function(model.decoder, "decoder.", maps)
    n, k = x.shape[0], model.latent_dim
    h = encoder(params, _with_conditions(x.reshape(n, -1), conditions, jnp))
    mu, logvar = h[:, :k], h[:, k:]
    if eps.ndim == 3:
        return _iwae_loss(model, jax, params, decoder, x, mu, logvar, eps, conditions)
    z = _reparameterize(mu, logvar, eps, jnp)
    nll = _nll_per_row(model, params, decoder(params, _with_conditions(z, conditions, jnp)), x, jax)
    return nll.sum() / n + model.current_beta * _kl(mu, logvar, model.free_bits, jnp)


def _iwae_loss(model, jax, params, decoder, x, mu, logvar, eps, conditions):
    """``-1/N sum_n [logsumexp_i log w_ni - log k]``, ``log w = log p(x|z) + beta (log p(z) - log q(z|x))``.

    The densities of z come from ``jax.scipy.stats.norm`` and the sum from ``jax.scipy.special.logsumexp``,
    written independently of npae's formulas (and of the PyTorch bridge's).
    """
    jnp = jax.numpy
    norm = jax.scipy.stats.norm
    n, samples, latent = eps.shape
    std = jnp.exp(0.5 * logvar)
    z = mu[:, None, :] + std[:, None, :] * eps
    repeated = None if conditions is None else jnp.repeat(conditions, samples, axis=0)
    out = decoder(params, _with_conditions(z.reshape(n * samples, latent), repeated, jnp))
    nll = _nll_per_row(model, params, out, jnp.repeat(x, samples, axis=0), jax).reshape(n, samples)
    log_prior = norm.logpdf(z).sum(axis=2)
    log_posterior = norm.logpdf(z, mu[:, None, :], std[:, None, :]).sum(axis=2)
    log_w = -nll + model.current_beta * (log_prior - log_posterior)
    return -(jax.scipy.special.logsumexp(log_w, axis=1) - math.log(samples)).mean()


def compare_vae_with_jax(model, x, eps, y=None):
    """``model.forward_backward(x, eps)`` against JAX: ``{"loss": ..., "<param name>": ...}``.

    ``eps`` (N, latent_dim) is the reparameterisation noise, held fixed on both sides ((N, k, latent_dim) for
    the IWAE objective: k draws per image); ``y`` the labels of a
    ConditionalVAE. Parameter names are those of ``model.named_parameters()`` (``"encoder.0.W"``).
    """
    model.zero_grads()
    logs = model.forward_backward(x, eps, y)
    with float64_jax() as jax:
        jnp = jax.numpy
        params = {name: jnp.asarray(value, dtype=np.float64) for name, value in model.named_parameters()}
        conditions = None if y is None else jax.nn.one_hot(jnp.asarray(y), model.n_classes, dtype=np.float64)
        x_j, eps_j = jnp.asarray(x, dtype=np.float64), jnp.asarray(eps, dtype=np.float64)
        loss, grads = jax.jit(jax.value_and_grad(lambda p: _vae_loss(model, jax, p, x_j, eps_j, conditions)))(params)
        errors = {"loss": relative_error(logs["loss"], float(loss))}
        errors.update({name: relative_error(grad, _numpy(grads[name])) for name, grad in model.named_gradients()})
    return errors
