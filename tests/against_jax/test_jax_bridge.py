"""The JAX bridge itself: its contractive reference, the gradient functions the exercises use, and its errors."""

import numpy as np
import pytest
from support import import_framework

jax = import_framework("jax")

from npae import ConditionalVAE, Dense, Sequential, Sigmoid, Tanh
from npae.core.losses import BinaryCrossEntropy
from npae.core.penalties import Contractive, KLSparsity
from npae.gradcheck import jax_bridge, relative_error
from npae.models.vae import LogVariance, kl_term, reparameterize_backward


def test_the_jacfwd_contractive_penalty_equals_jacrev_of_the_whole_layer(matches_jax):
    """The bridge's penalty (``jacfwd`` per sample) against ``jax.jacrev`` of the layer on the whole batch."""
    rng = np.random.default_rng(3)
    net = Sequential([Dense(4, 3, rng=rng, dtype=np.float64), Tanh()])
    penalty = Contractive(0.9, layer=1)
    net.add_penalty(penalty, 1)
    x = rng.standard_normal((5, 4))
    ours = jax_bridge.layer_gradients(net, x, np.zeros((5, 3)))["penalty"]
    with jax_bridge.float64_jax():
        W, b = net[0].params["W"], net[0].params["b"]
        batch_jacobian = jax.jacrev(lambda x: jax.numpy.tanh(x @ W + b))(x)  # (5, 3, 5, 4), zero across samples
        direct = 0.9 * float((batch_jacobian**2).sum()) / 5
    matches_jax({"||J||_F^2": relative_error(ours, direct)}, "contractive reference")


def test_float64_is_enabled_only_inside_the_bridge():
    before = jax.config.jax_enable_x64
    jax_bridge.compare_with_jax(Sequential([Dense(2, 2, rng=0, dtype=np.float64)]), np.ones((1, 2)))
    assert jax.config.jax_enable_x64 == before


def test_gradient_functions_agree_with_npae(matches_jax):
    rng = np.random.default_rng(5)
    x = rng.uniform(-2, 2, (3, 4))
    first, second = jax_bridge.activation_derivatives(Sigmoid(), x)
    matches_jax({"f'": relative_error(Sigmoid.df(x), first), "f''": relative_error(Sigmoid.d2f(x), second)}, "Sigmoid")

    target = rng.random((3, 4))
    value, grad = BinaryCrossEntropy("sum").value_and_grad(x, target)
    value_j, grad_j = jax_bridge.loss_gradient(BinaryCrossEntropy("sum"), x, target)
    matches_jax({"value": relative_error(value, value_j), "grad": relative_error(grad, grad_j)}, "BCE")

    h = rng.uniform(0.1, 0.9, (5, 3))
    kl = KLSparsity(0.2, 3.0)
    value, grad = kl.value_and_grad(h)
    value_j, grad_j = jax_bridge.activity_penalty_gradient(kl, h)
    matches_jax({"P": relative_error(value, value_j), "dP/dh": relative_error(np.broadcast_to(grad, h.shape), grad_j)},
                "KLSparsity")

    net = Sequential([Dense(4, 3, rng=rng, dtype=np.float64), Sigmoid()])
    contractive = Contractive(0.7, layer=1)
    net.add_penalty(contractive, 1)
    a = x @ net[0].params["W"] + net[0].params["b"]
    grad_a, direct = contractive.gradients(a, net[0])
    value_j, grad_a_j, grad_W_j = jax_bridge.contractive_gradients(contractive, Sigmoid(), a, net[0].params["W"])
    matches_jax({"P": relative_error(contractive.value(a, net[0]), value_j), "dP/da": relative_error(grad_a, grad_a_j),
                 "dP/dW": relative_error(direct["W"], grad_W_j)}, "Contractive")

    mu, logvar, eps, dz = (rng.standard_normal((4, 2)) for _ in range(4))
    dmu, dlogvar = reparameterize_backward(dz, logvar, eps)
    dmu_j, dlogvar_j = jax_bridge.reparameterize_gradients(mu, logvar, eps, dz)
    matches_jax({"dmu": relative_error(dmu, dmu_j), "dlogvar": relative_error(dlogvar, dlogvar_j)}, "reparameterize")
    value, dmu, dlogvar = kl_term(mu, logvar, free_bits=0.3)
    value_j, dmu_j, dlogvar_j = jax_bridge.kl_gradients(mu, logvar, free_bits=0.3)
    matches_jax({"KL": relative_error(value, value_j), "dmu": relative_error(dmu, dmu_j),
                 "dlogvar": relative_error(dlogvar, dlogvar_j)}, "kl_term")


def test_a_conditional_vae_matches(matches_jax):
    rng = np.random.default_rng(2)
    encoder = Sequential([Dense(5 + 3, 4, rng=rng), Tanh(), Dense(4, 4, rng=rng)])
    decoder = Sequential([Dense(2 + 3, 4, rng=rng), Tanh(), Dense(4, 5, rng=rng)])
    model = ConditionalVAE(encoder, decoder, latent_dim=2, n_classes=3, likelihood="gaussian",
                           variance="scalar").astype(np.float64)
    errors = jax_bridge.compare_vae_with_jax(model, rng.random((4, 5)), rng.standard_normal((4, 2)),
                                             y=np.array([0, 2, 1, 2]))
    assert "likelihood.logvar" in errors
    matches_jax(errors, "ConditionalVAE")


def test_what_the_bridge_cannot_mirror_is_named():
    with pytest.raises(jax_bridge.NoJaxEquivalent, match="no JAX equivalent for npae LogVariance"):
        jax_bridge.compare_with_jax(LogVariance(3, dtype=np.float64), np.ones((2, 3)))
    with pytest.raises(jax_bridge.NoJaxEquivalent, match="no JAX reference for Contractive on activations"):
        jax_bridge.activity_penalty_gradient(Contractive(0.1), np.ones((2, 3)))
    with pytest.raises(TypeError, match="net: expected an npae Sequential or Layer, got list"):
        jax_bridge.jax_function([Dense(2, 2)])


@pytest.mark.parametrize("k, likelihood, variance, n_classes", [
    (1, "bernoulli", None, None), (4, "bernoulli", None, 3), (5, "gaussian", "pixel", None),
    (2, "gaussian", "scalar", 3),
])
def test_iwae_loss_and_gradients(matches_jax, k, likelihood, variance, n_classes):
    """The IWAE loss -L_k (JAX: jax.scipy.stats.norm densities and logsumexp) and every parameter gradient;
    k = 1 is the VAE's closed-form-KL loss on the npae side, the importance-weighted form on JAX's."""
    from npae.models import zoo

    rng = np.random.default_rng(k)
    options = {"variance": variance} if variance else {}
    model = zoo.mlp_vae(input_dim=7, hidden=(5,), latent_dim=3, activation="tanh", n_classes=n_classes,
                        likelihood=likelihood, beta=0.7, objective="iwae", k=k, seed=k, **options)
    model.astype(np.float64)
    if model.output_logvar is not None:
        model.output_logvar.params["logvar"] = rng.normal(0, 0.5, model.output_logvar.params["logvar"].shape)
    labels = rng.integers(0, n_classes, 4) if n_classes else None
    eps = rng.standard_normal(model.noise_shape(4))
    errors = jax_bridge.compare_vae_with_jax(model, rng.random((4, 7)), eps, labels)
    matches_jax(errors, f"IWAE(k={k}, {likelihood}, variance={variance}, classes={n_classes})")
