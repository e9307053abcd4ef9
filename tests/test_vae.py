"""The VAE: the math functions, the whole loss gradient, the estimators of log p(x), generation, persistence.

Gradient checks run in float64 with central differences and a random upstream gradient; relative error < 1e-6.
Statistical checks compare Monte Carlo averages within 4 standard errors (computed from the same draws), with
fixed seeds, so a correct implementation passes every time and a wrong term (a missing logvar, a wrong factor
1/2) is off by many standard errors.
"""

import math

import numpy as np
import pytest

import npae
from npae.datasets import binarize
from npae.gradcheck import check_function, relative_error
from npae.models.vae import (
    VAE, ConditionalVAE, bernoulli_nll, bernoulli_nll_grad, gaussian_nll, gaussian_nll_grads, importance_weighted_bound,
    kl_divergence, kl_term, log_posterior_from_noise, log_standard_normal, reparameterize, reparameterize_backward,
)
from npae.models.zoo import mlp_vae

from support import GRAD_TOL, import_framework

D, LATENT, N_CLASSES = 6, 2, 3


def tiny_vae(dtype=np.float64, n_classes=None, seed=0, **kwargs):
    """A 6-5-(2+2) / 2-5-6 tanh VAE (tanh: no kinks for finite differences)."""
    vae = mlp_vae(input_dim=D, hidden=(5,), latent_dim=LATENT, activation="tanh", n_classes=n_classes, seed=seed,
                  **kwargs)
    return vae.astype(dtype)


def batch(n=4, seed=1, n_classes=None):
    rng = np.random.default_rng(seed)
    x = rng.random((n, D))
    eps = rng.standard_normal((n, LATENT))
    y = None if n_classes is None else rng.integers(0, n_classes, n)
    return x, eps, y


def prototypes(n_classes, d, seed):
    """One distinct binary pattern per class."""
    return (np.random.default_rng(seed).random((n_classes, d)) < 0.5).astype(np.float32)


def toy_binary_data(n=400, d=16, n_classes=4, flip=0.05, seed=0):
    """Binary images: a class prototype with a few pixels flipped. Returns (X float32, labels)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    X = prototypes(n_classes, d, seed)[labels]
    flips = rng.random(X.shape) < flip
    return np.where(flips, 1 - X, X).astype(np.float32), labels


@pytest.fixture(scope="module")
def trained_toy_vae():
    """A 16-16-2 Bernoulli VAE trained for 30 epochs on 400 binary toy images, and those images."""
    X, _ = toy_binary_data()
    vae = mlp_vae(input_dim=16, hidden=(16,), latent_dim=2, seed=0)
    vae.fit(X, epochs=30, batch_size=50, optimizer=npae.Adam(1e-2), verbose=0)
    return vae, X


def loss_and_parameter_grads(vae, x, eps, y=None):
    """``value_and_grads`` for check_function: the loss of one training pass and every parameter gradient."""
    def value_and_grads():
        logs = vae.forward_backward(x, eps, y)
        return logs["loss"], dict(vae.named_gradients())
    tensors = dict(vae.named_parameters())
    return value_and_grads, tensors


def posterior_gradient_errors(loss, x, mu, logvar, eps):
    """Finite-difference errors of ``(dL/dmu, dL/dlogvar)`` returned by ``loss(x, mu, logvar, eps)``
    (``posterior_loss`` or ``importance_weighted_loss``) with the noise held fixed."""
    def value_and_grads():
        logs, dmu, dlogvar = loss(x, mu, logvar, eps)
        return logs["loss"], {"mu": dmu, "logvar": dlogvar}
    return check_function(value_and_grads, {"mu": mu, "logvar": logvar})


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back to the shape of the tensor that was broadcast."""
    return grad.sum(axis=tuple(i for i, size in enumerate(shape) if size == 1), keepdims=True)


def floor_between_dimensions(mu, logvar):
    """A free-bits floor halfway between the two dimensions' batch-mean KL: one dimension above, one below."""
    per_dim = np.sort(kl_divergence(mu, logvar).mean(axis=0))
    return float(per_dim[:2].mean())


# ----------------------------------------------------------------------------------------------
# The math functions
# ----------------------------------------------------------------------------------------------


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zeros = np.zeros((2, 3))
    np.testing.assert_array_equal(kl_divergence(zeros, zeros), 0)
    rng = np.random.default_rng(0)
    assert np.all(kl_divergence(rng.standard_normal((50, 3)), rng.standard_normal((50, 3))) > 0)


def test_kl_closed_form_matches_monte_carlo():
    """E_q[log q(z) - log p(z)] estimated from 200,000 draws is the closed form within 4 standard errors."""
    mu = np.array([[0.5, -1.2, 0.0]])
    logvar = np.array([[-0.7, 0.4, -2.0]])
    eps = np.random.default_rng(0).standard_normal((200_000, 3))
    z = reparameterize(mu, logvar, eps)
    samples = log_posterior_from_noise(logvar, eps) - log_standard_normal(z)
    standard_error = samples.std() / math.sqrt(samples.size)
    closed_form = kl_divergence(mu, logvar).sum()
    assert abs(samples.mean() - closed_form) < 4 * standard_error
    assert standard_error < 0.01 * closed_form  # the comparison is sharp enough to mean something


def test_kl_term_gradients():
    rng = np.random.default_rng(2)
    mu, logvar = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    def value_and_grads():
        value, dmu, dlogvar = kl_term(mu, logvar)
        return value, {"mu": dmu, "logvar": dlogvar}
    assert value_and_grads()[0] == pytest.approx(kl_divergence(mu, logvar).sum(axis=1).mean())
    errors = check_function(value_and_grads, {"mu": mu, "logvar": logvar})
    assert max(errors.values()) < GRAD_TOL, errors


def test_free_bits_floor_each_dimension_and_stop_its_gradient():
    rng = np.random.default_rng(3)
    mu, logvar = rng.standard_normal((8, 2)) * [0.2, 2.0], rng.standard_normal((8, 2)) * 0.3
    floor = floor_between_dimensions(mu, logvar)
    per_dim = kl_divergence(mu, logvar).mean(axis=0)
    low, high = int(np.argmin(per_dim)), int(np.argmax(per_dim))
    value, dmu, dlogvar = kl_term(mu, logvar, free_bits=floor)
    assert value == pytest.approx(floor + per_dim[high])
    _, dmu_plain, dlogvar_plain = kl_term(mu, logvar)
    np.testing.assert_array_equal(dmu[:, low], 0)
    np.testing.assert_array_equal(dlogvar[:, low], 0)
    np.testing.assert_array_equal(dmu[:, high], dmu_plain[:, high])
    np.testing.assert_array_equal(dlogvar[:, high], dlogvar_plain[:, high])

    def value_and_grads():
        v, gm, gl = kl_term(mu, logvar, free_bits=floor)
        return v, {"mu": gm, "logvar": gl}
    errors = check_function(value_and_grads, {"mu": mu, "logvar": logvar})
    assert max(errors.values()) < GRAD_TOL, errors


def test_reparameterization_backward():
    """dz/dmu = 1 and dz/dlogvar = eps exp(logvar/2) / 2, checked through L = sum(dz * z) with eps fixed."""
    rng = np.random.default_rng(4)
    mu, logvar, eps, dz = (rng.standard_normal((4, 3)) for _ in range(4))
    def value_and_grads():
        dmu, dlogvar = reparameterize_backward(dz, logvar, eps)
        return float(np.sum(dz * reparameterize(mu, logvar, eps))), {"mu": dmu, "logvar": dlogvar}
    errors = check_function(value_and_grads, {"mu": mu, "logvar": logvar})
    assert max(errors.values()) < GRAD_TOL, errors


def test_bernoulli_nll_value_gradient_and_stability():
    rng = np.random.default_rng(5)
    logits, x = rng.standard_normal((3, 2, 4)) * 3, rng.random((3, 2, 4))
    p = 1 / (1 + np.exp(-logits))
    direct = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(bernoulli_nll(logits, x), direct, rtol=1e-12)
    errors = check_function(lambda: (bernoulli_nll(logits, x).sum(), {"l": bernoulli_nll_grad(logits, x)}),
                            {"l": logits})
    assert errors["l"] < GRAD_TOL
    extreme = np.array([[1e4, -1e4, 1e4]])
    np.testing.assert_allclose(bernoulli_nll(extreme, np.array([[1.0, 0.0, 0.0]])), [1e4])


@pytest.mark.parametrize("per_pixel", [False, True])
def test_gaussian_nll_value_and_gradients(per_pixel):
    rng = np.random.default_rng(6)
    mean, x = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    logvar = rng.standard_normal((1, 5)) if per_pixel else np.array([[0.3]])
    direct = -np.sum(-0.5 * np.log(2 * np.pi * np.exp(logvar)) - (x - mean) ** 2 / (2 * np.exp(logvar)), axis=1)
    np.testing.assert_allclose(gaussian_nll(mean, logvar, x), direct, rtol=1e-12)

    def value_and_grads():
        dmean, dlogvar = gaussian_nll_grads(mean, logvar, x)
        return gaussian_nll(mean, logvar, x).sum(), {"mean": dmean, "logvar": sum_to_shape(dlogvar, logvar.shape)}
    errors = check_function(value_and_grads, {"mean": mean, "logvar": logvar})
    assert max(errors.values()) < GRAD_TOL, errors


# ----------------------------------------------------------------------------------------------
# The whole loss: gradients wrt every parameter and wrt mu, logvar (eps injected)
# ----------------------------------------------------------------------------------------------

LIKELIHOOD_CASES = [
    {"likelihood": "bernoulli", "beta": 0.7},
    {"likelihood": "gaussian", "variance": 0.5, "beta": 1.0},
    {"likelihood": "gaussian", "variance": "scalar", "beta": 2.0},
    {"likelihood": "gaussian", "variance": "pixel", "beta": 1.0},
]


@pytest.mark.parametrize("kwargs", LIKELIHOOD_CASES, ids=lambda k: f"{k['likelihood']}-{k.get('variance', '')}")
def test_loss_gradient_wrt_every_parameter(kwargs):
    vae = tiny_vae(**kwargs)
    x, eps, _ = batch()
    errors = check_function(*loss_and_parameter_grads(vae, x, eps))
    assert set(errors) == {name for name, _ in vae.named_parameters()}
    assert max(errors.values()) < GRAD_TOL, errors


def test_conditional_loss_gradient_wrt_every_parameter():
    vae = tiny_vae(n_classes=N_CLASSES, beta=1.5)
    x, eps, y = batch(n_classes=N_CLASSES)
    errors = check_function(*loss_and_parameter_grads(vae, x, eps, y))
    assert max(errors.values()) < GRAD_TOL, errors


@pytest.mark.parametrize("with_free_bits", [False, True])
def test_loss_gradient_wrt_mu_and_logvar(with_free_bits):
    """dL/dmu and dL/dlogvar through the sample (dz/dmu = 1, dz/dlogvar = eps e^{logvar/2}/2) and the KL."""
    x, eps, _ = batch(n=5)
    rng = np.random.default_rng(7)
    mu, logvar = rng.standard_normal((5, LATENT)) * [0.2, 1.5], rng.standard_normal((5, LATENT)) * 0.5
    free_bits = floor_between_dimensions(mu, logvar) if with_free_bits else 0.0
    vae = tiny_vae(beta=1.3, free_bits=free_bits)
    errors = posterior_gradient_errors(vae.posterior_loss, x, mu, logvar, eps)
    assert max(errors.values()) < GRAD_TOL, errors


def test_logs_split_the_loss_into_reconstruction_and_kl():
    vae = tiny_vae(beta=0.25)
    x, eps, _ = batch()
    logs = vae.forward_backward(x, eps)
    mu, logvar = vae.encode(x)
    out = vae.decoder.forward(reparameterize(mu, logvar, eps))
    assert logs["recon"] == pytest.approx(bernoulli_nll(out, x).mean(), rel=1e-12)
    assert logs["kl"] == pytest.approx(kl_divergence(mu, logvar).sum(axis=1).mean(), rel=1e-12)
    assert logs["loss"] == pytest.approx(logs["recon"] + 0.25 * logs["kl"], rel=1e-12)
    assert logs["neg_elbo"] == pytest.approx(logs["recon"] + logs["kl"], rel=1e-12)


def test_train_batch_binarizes_then_draws_eps_from_the_fit_rng():
    vae = tiny_vae(binarize=True)
    x, _, _ = batch(n=6)
    logs = vae.train_batch(x, None, np.random.default_rng(11))
    rng = np.random.default_rng(11)
    binary = binarize(x, rng)
    assert set(np.unique(binary)) <= {0.0, 1.0}
    expected = vae.forward_backward(binary, rng.standard_normal((6, LATENT)))
    assert logs == expected


# ----------------------------------------------------------------------------------------------
# Training: warm-up, history, dtype
# ----------------------------------------------------------------------------------------------


def test_warmup_schedule_and_history():
    assert [tiny_vae(beta=2.0, warmup_epochs=4).beta_at(e) for e in range(6)] == [0, 0.5, 1.0, 1.5, 2.0, 2.0]
    assert tiny_vae(beta=2.0).beta_at(0) == 2.0
    X, _ = toy_binary_data(n=60, d=D)
    vae = tiny_vae(np.float32, beta=2.0, warmup_epochs=2)
    history = vae.fit(X, epochs=4, batch_size=20, validation_data=X[:20], verbose=0)
    assert history["beta"] == [0.0, 1.0, 2.0, 2.0]
    for loss, recon, kl, beta in zip(history["loss"], history["recon"], history["kl"], history["beta"]):
        assert loss == pytest.approx(recon + beta * kl, rel=1e-6)
    for neg_elbo, recon, kl in zip(history["neg_elbo"], history["recon"], history["kl"]):
        assert neg_elbo == pytest.approx(recon + kl, rel=1e-6)
    assert history["val_loss"][-1] == pytest.approx(vae.evaluate(X[:20])["loss"], rel=1e-6)


def test_fit_lowers_the_negative_elbo_and_keeps_float32():
    X, _ = toy_binary_data()
    vae = mlp_vae(input_dim=16, hidden=(16,), latent_dim=2, seed=0)
    history = vae.fit(X, epochs=10, batch_size=50, optimizer=npae.Adam(1e-2), verbose=0)
    assert history["neg_elbo"][-1] < 0.6 * history["neg_elbo"][0]
    for (_, param), (_, grad) in zip(vae.named_parameters(), vae.named_gradients()):
        assert param.dtype == np.float32 and grad.dtype == np.float32
    for out in (vae.elbo(X[:5]), vae.log_likelihood(X[:5], k=3), vae.sample(2), vae.encode(X[:2])[1]):
        assert out.dtype == np.float32


# ----------------------------------------------------------------------------------------------
# The importance-weighted objective (IWAE)
# ----------------------------------------------------------------------------------------------


def test_importance_weighted_bound_value_gradient_and_stability():
    rng = np.random.default_rng(3)
    log_w = rng.standard_normal((3, 5)) * 4

    def value_and_grads():
        bound, weights = importance_weighted_bound(log_w)
        return bound.sum(), {"log_w": weights}
    bound, weights = importance_weighted_bound(log_w)
    np.testing.assert_allclose(bound, np.log(np.exp(log_w).mean(axis=1)), rtol=1e-12)
    np.testing.assert_allclose(weights.sum(axis=1), 1, rtol=1e-12)
    errors = check_function(value_and_grads, {"log_w": log_w})
    assert max(errors.values()) < GRAD_TOL, errors
    far = log_w - 2000  # every e^{log w} underflows to 0, but the bound and the weights only shift
    np.testing.assert_allclose(importance_weighted_bound(far)[0], bound - 2000, rtol=1e-12)
    np.testing.assert_allclose(importance_weighted_bound(far)[1], weights, rtol=1e-12)
    single = rng.standard_normal((4, 1))
    np.testing.assert_array_equal(importance_weighted_bound(single)[0], single[:, 0])


def iwae_batch(vae, n=4, seed=1, n_classes=None):
    """Images, IWAE noise of shape (n, k, K) and labels."""
    rng = np.random.default_rng(seed)
    y = None if n_classes is None else rng.integers(0, n_classes, n)
    return rng.random((n, D)), rng.standard_normal(vae.noise_shape(n)), y


@pytest.mark.parametrize("kwargs", LIKELIHOOD_CASES + [{"n_classes": N_CLASSES, "beta": 1.5}],
                         ids=lambda k: f"{k.get('likelihood', 'conditional')}-{k.get('variance', '')}")
def test_iwae_loss_gradient_wrt_every_parameter(kwargs):
    vae = tiny_vae(objective="iwae", k=4, **kwargs)
    if vae.output_logvar is not None:  # away from its start at 0, where a wrong factor could hide
        vae.output_logvar.params["logvar"] = np.random.default_rng(5).normal(0, 0.5, vae.output_logvar.params["logvar"].shape)
    x, eps, y = iwae_batch(vae, n_classes=kwargs.get("n_classes"))
    assert eps.shape == (4, 4, LATENT)
    errors = check_function(*loss_and_parameter_grads(vae, x, eps, y))
    assert set(errors) == {name for name, _ in vae.named_parameters()}
    assert max(errors.values()) < GRAD_TOL, errors


def test_iwae_loss_gradient_wrt_mu_and_logvar():
    """The weighted draws' gradients through z, and -log q's direct -beta/(2N) on logvar."""
    vae = tiny_vae(objective="iwae", k=5, beta=0.6)
    x, eps, _ = iwae_batch(vae, n=3)
    rng = np.random.default_rng(7)
    mu, logvar = rng.standard_normal((3, LATENT)), rng.standard_normal((3, LATENT)) * 0.5
    errors = posterior_gradient_errors(vae.importance_weighted_loss, x, mu, logvar, eps)
    assert max(errors.values()) < GRAD_TOL, errors


def test_iwae_loss_is_the_negative_bound_from_its_definition():
    """-1/N sum_n log 1/k sum_i p(x_n|z_ni) p(z_ni) / q(z_ni|x_n), from the plain functions; logs are consistent."""
    vae = tiny_vae(objective="iwae", k=6)
    x, eps, _ = iwae_batch(vae, n=5)
    logs = vae.forward_backward(x, eps)
    mu, logvar = vae.encode(x)
    z = reparameterize(mu[:, None], logvar[:, None], eps)
    log_px = -bernoulli_nll(vae.decoder.forward(z.reshape(30, LATENT)), np.repeat(x, 6, axis=0)).reshape(5, 6)
    log_w = log_px + log_standard_normal(z) - log_posterior_from_noise(logvar[:, None], eps)
    bound = np.log(np.exp(log_w).mean(axis=1))
    assert logs["loss"] == pytest.approx(-bound.mean(), rel=1e-12)
    assert logs["neg_iw_bound"] == logs["loss"]
    assert logs["recon"] == pytest.approx(-log_px.mean(), rel=1e-12)
    assert logs["neg_elbo"] == pytest.approx(logs["recon"] + kl_divergence(mu, logvar).sum(axis=1).mean(), rel=1e-12)
    weights = np.exp(log_w) / np.exp(log_w).sum(axis=1, keepdims=True)
    assert logs["ess"] == pytest.approx((1 / (weights**2).sum(axis=1)).mean(), rel=1e-10)
    assert 1 <= logs["ess"] <= 6


def test_iwae_warmup_tempers_the_prior_ratio_and_logs_the_untempered_bound():
    vae = tiny_vae(objective="iwae", k=3, beta=2.0, warmup_epochs=4)
    x, eps, _ = iwae_batch(vae)
    vae.start_epoch(1, 10)
    tempered = vae.forward_backward(x, eps)
    assert tempered["beta"] == 0.5
    vae.current_beta = 1.0
    plain = vae.forward_backward(x, eps)
    assert tempered["neg_iw_bound"] == pytest.approx(plain["loss"], rel=1e-12)
    assert tempered["loss"] != pytest.approx(plain["loss"], rel=1e-3)


def test_iwae_with_k1_trains_bit_for_bit_as_the_vae():
    """L_1 is the ELBO: objective='iwae', k=1 takes the VAE's path (closed-form KL), same draws, same weights."""
    X, _ = toy_binary_data(n=120)
    histories, weights = [], []
    for options in ({}, {"objective": "iwae", "k": 1}):
        vae = mlp_vae(input_dim=16, hidden=(16,), latent_dim=2, seed=0, binarize=True, warmup_epochs=2, **options)
        histories.append(vae.fit(X, epochs=3, batch_size=40, optimizer=npae.Adam(1e-2), verbose=0).history)
        weights.append(vae.get_weights())
    assert histories[0].keys() == histories[1].keys()
    for key in histories[0]:
        if key != "epoch_time":
            assert histories[0][key] == histories[1][key], key
    for name, value in weights[0].items():
        np.testing.assert_array_equal(weights[1][name], value)


def test_iwae_fit_raises_the_bound_and_keeps_float32():
    X, _ = toy_binary_data()
    vae = mlp_vae(input_dim=16, hidden=(16,), latent_dim=2, seed=0, objective="iwae", k=5)
    history = vae.fit(X, epochs=8, batch_size=50, optimizer=npae.Adam(1e-2), verbose=0)
    assert history["neg_iw_bound"][-1] < 0.6 * history["neg_iw_bound"][0]
    assert all(1 <= ess <= 5 for ess in history["ess"])
    for (_, param), (_, grad) in zip(vae.named_parameters(), vae.named_gradients()):
        assert param.dtype == np.float32 and grad.dtype == np.float32


def test_iwae_refuses_noise_of_the_wrong_shape():
    vae = tiny_vae(objective="iwae", k=3)
    x, eps, _ = batch(n=4)
    with pytest.raises(ValueError, match=r"eps: expected shape \(4, 3, 2\) \(noise_shape\(N\)\), got \(4, 2\)"):
        vae.forward_backward(x, eps)


# ----------------------------------------------------------------------------------------------
# Estimators of log p(x)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [LIKELIHOOD_CASES[0], LIKELIHOOD_CASES[3]], ids=["bernoulli", "gaussian-pixel"])
def test_importance_weighted_k1_equals_the_elbo_in_expectation(kwargs):
    """Both average log p(x|z) + log p(z) - log q(z|x) over z ~ q; 4 images x 5000 draws, within 4 SE."""
    vae = tiny_vae(np.float64, **kwargs)
    x = np.repeat(batch(n=4, seed=8)[0], 5000, axis=0)
    if vae.likelihood == "bernoulli":
        x = binarize(x, 0)  # its likelihood is a distribution over binary images
    elbo = vae.elbo(x, seed=1).reshape(4, -1)
    iw = vae.log_likelihood(x, k=1, seed=2).reshape(4, -1)
    standard_error = np.sqrt((elbo.var(axis=1) + iw.var(axis=1)) / 5000)
    assert np.all(np.abs(elbo.mean(axis=1) - iw.mean(axis=1)) < 4 * standard_error)


def test_importance_weighted_bound_tightens_with_k(trained_toy_vae):
    """On a trained model, the mean L_k over 100 images and 3 seeds: L_1 <= L_10 <= L_100, and L_100 > ELBO."""
    vae, X = trained_toy_vae
    X = X[:100]
    means = {k: np.mean([vae.log_likelihood(X, k=k, seed=s).mean() for s in range(3)]) for k in (1, 10, 100)}
    assert means[1] <= means[10] <= means[100]
    elbo = np.mean([vae.elbo(X, seed=s).mean() for s in range(3)])
    assert means[100] > elbo + 0.1


def test_log_likelihood_batching_agrees(trained_toy_vae):
    """Samples split over several decoder passes (k=7 in passes of 3) estimate the same value."""
    vae, X = trained_toy_vae
    split = vae.log_likelihood(X[:100], k=7, batch_size=3, seed=0)
    whole = vae.log_likelihood(X[:100], k=7, batch_size=10_000, seed=1)
    standard_error = math.sqrt((split.var() + whole.var()) / 100)
    assert abs(split.mean() - whole.mean()) < 4 * standard_error


# ----------------------------------------------------------------------------------------------
# Generation and the conditional VAE
# ----------------------------------------------------------------------------------------------


def test_generation_shapes_and_paths():
    vae = tiny_vae(np.float32)
    x = batch(n=2)[0].astype(np.float32)
    assert vae.sample(7, seed=0).shape == (7, D)
    np.testing.assert_array_equal(vae.sample(3, seed=5), vae.sample(3, seed=5))
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (2, LATENT)
    path = vae.interpolate(x[0], x[1], steps=5)
    assert path.shape == (5, D) and np.all((path > 0) & (path < 1))
    np.testing.assert_allclose(path[[0, -1]], vae.decode(mu), rtol=1e-5)
    values = [-2.0, 0.0, 2.0]
    codes = np.repeat(mu[:1], 3, axis=0)
    codes[:, 1] = values
    np.testing.assert_allclose(vae.traverse(x[0], 1, values), vae.decode(codes), rtol=1e-6)


def test_conditional_sampling_follows_the_label():
    """Trained on one pattern per class, sample(labels=c) draws images nearest to pattern c."""
    X, labels = toy_binary_data(n=600, n_classes=4)
    vae = mlp_vae(input_dim=16, hidden=(16,), latent_dim=2, n_classes=4, seed=0)
    vae.fit(X, y=labels, epochs=20, batch_size=50, optimizer=npae.Adam(1e-2), verbose=0)
    patterns = prototypes(4, 16, seed=0)
    for c in range(4):
        images = vae.sample(20, labels=c, seed=c)
        assert images.shape == (20, 16)
        distances = np.abs(images[:, None, :] - patterns[None]).sum(axis=2)
        assert np.all(distances.argmin(axis=1) == c)
    assert vae.sample(4, labels=[0, 1, 2, 3]).shape == (4, 16)


def test_conditional_vae_refuses_bad_labels():
    vae = tiny_vae(np.float32, n_classes=N_CLASSES)
    x = batch(n=3)[0].astype(np.float32)
    with pytest.raises(ValueError, match="needs integer labels"):
        vae.elbo(x)
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        vae.elbo(x, np.array([0, 1, 3]))
    with pytest.raises(TypeError, match="integer labels"):
        vae.elbo(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        vae.elbo(x, np.array([0, 1]))
    with pytest.raises(ValueError, match="samples given labels"):
        vae.sample(2)


# ----------------------------------------------------------------------------------------------
# Persistence and argument checks
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {"beta": 4.0, "warmup_epochs": 3, "free_bits": 0.1, "binarize": True},
    {"likelihood": "gaussian", "variance": "pixel"},
    {"n_classes": N_CLASSES},
    {"objective": "iwae", "k": 5, "beta": 0.5},
], ids=["bernoulli", "gaussian-pixel", "conditional", "iwae"])
def test_save_load_round_trip(tmp_path, kwargs):
    vae = tiny_vae(np.float32, seed=3, **kwargs)
    for _, param in vae.named_parameters():  # move every parameter off its initial value
        param += 0.1
    x, _, y = batch(n=3, n_classes=kwargs.get("n_classes"))
    x = binarize(x, 0).astype(np.float32)  # a Bernoulli VAE's likelihood is defined for binary images
    vae.save(tmp_path / "vae.npz")
    loaded = npae.load(tmp_path / "vae.npz")
    assert type(loaded) is type(vae) and loaded.get_config() == vae.get_config()
    for name, value in vae.get_weights().items():
        np.testing.assert_array_equal(loaded.get_weights()[name], value)
    np.testing.assert_array_equal(loaded.elbo(x, y), vae.elbo(x, y))


def test_active_units_count_the_dimensions_whose_mean_varies_across_images():
    """Zero the encoder's weights into mu_1: that dimension's posterior mean is one constant for every image."""
    vae = tiny_vae()
    last = vae.encoder.layers[-1]
    last.params["W"][:, 1] = 0.0
    X = np.random.default_rng(0).random((50, D))
    mu, _ = vae.encode(X)
    assert mu[:, 1].var() == 0 and mu[:, 0].var() > 0.01
    assert vae.active_units(X) == 1
    assert vae.active_units(X, threshold=10.0) == 0
    with pytest.raises(ValueError, match="threshold"):
        vae.active_units(X, threshold=-1)


def test_mlp_vae_is_the_benchmark_architecture():
    vae = mlp_vae()
    sizes = [(784, 512), (512, 256), (256, 64), (32, 256), (256, 512), (512, 784)]
    assert vae.num_parameters() == sum(i * o + o for i, o in sizes)
    assert vae.latent_dim == 32 and vae.likelihood == "bernoulli" and vae.dtype == np.float32


@pytest.mark.parametrize("kwargs, error, match", [
    ({"latent_dim": 3}, ValueError, r"2 \* latent_dim = 6"),
    ({"likelihood": "poisson"}, ValueError, "likelihood"),
    ({"beta": -1.0}, ValueError, "beta"),
    ({"free_bits": "many"}, TypeError, "free_bits"),
    ({"variance": 2.0}, ValueError, "only used with likelihood='gaussian'"),
    ({"likelihood": "gaussian", "variance": "diagonal"}, ValueError, "variance"),
    ({"likelihood": "gaussian", "variance": 0.0}, ValueError, r"variance: expected a finite number > 0"),
    ({"likelihood": "gaussian", "binarize": True}, ValueError, "binarize"),
    ({"warmup_epochs": -2}, ValueError, "warmup_epochs"),
    ({"objective": "iw"}, ValueError, r"objective: expected one of \('elbo', 'iwae'\), got 'iw'"),
    ({"k": 5}, ValueError, "k: the ELBO objective draws one z per image"),
    ({"objective": "iwae", "k": 0}, ValueError, "k"),
    ({"objective": "iwae", "k": 5, "free_bits": 0.1}, ValueError, "free_bits: the floor applies to the ELBO's KL"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    vae = tiny_vae()
    config = {"latent_dim": LATENT, **kwargs}
    with pytest.raises(error, match=match):
        VAE(vae.encoder, vae.decoder, **config)


def test_bad_data_is_named():
    vae = tiny_vae(np.float32)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        vae.fit(np.full((4, D), 2.0, np.float32), verbose=0)
    with pytest.raises(ValueError, match="unconditional VAE takes no labels"):
        vae.elbo(np.zeros((2, D), np.float32), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"latent dimension in \[0, 2\)"):
        vae.traverse(np.zeros(D, np.float32), 2, [0.0])


# ----------------------------------------------------------------------------------------------
# PyTorch cross-check (skipped without torch)
# ----------------------------------------------------------------------------------------------


def _torch_network(torch, net, prefix, inputs, params):
    """The same Dense/Tanh stack in torch, reading the parameters from ``params`` by qualified name."""
    for i, layer in enumerate(net.layers):
        if isinstance(layer, npae.Dense):
            inputs = inputs @ params[f"{prefix}.{i}.W"] + params[f"{prefix}.{i}.b"]
        else:
            inputs = torch.tanh(inputs)
    return inputs


@pytest.mark.torch
@pytest.mark.parametrize("kwargs", [LIKELIHOOD_CASES[0], LIKELIHOOD_CASES[3]], ids=["bernoulli", "gaussian-pixel"])
def test_loss_and_gradients_match_pytorch_autograd(kwargs):
    torch = import_framework("torch")
    vae = tiny_vae(**kwargs)
    x, eps, _ = batch(n=5)
    logs = vae.forward_backward(x, eps)
    params = {name: torch.tensor(param, requires_grad=True) for name, param in vae.named_parameters()}
    tx = torch.from_numpy(x)
    h = _torch_network(torch, vae.encoder, "encoder", tx, params)
    mu, logvar = h[:, :LATENT], h[:, LATENT:]
    z = mu + torch.exp(0.5 * logvar) * torch.from_numpy(eps)
    out = _torch_network(torch, vae.decoder, "decoder", z, params)
    if vae.likelihood == "bernoulli":
        recon = torch.nn.functional.binary_cross_entropy_with_logits(out, tx, reduction="sum") / 5
    else:
        std = torch.exp(0.5 * params["likelihood.logvar"])
        recon = -torch.distributions.Normal(out, std).log_prob(tx).sum() / 5
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    kl = torch.distributions.kl_divergence(torch.distributions.Normal(mu, torch.exp(0.5 * logvar)), prior).sum() / 5
    loss = recon + vae.beta * kl
    loss.backward()
    assert logs["loss"] == pytest.approx(loss.item(), rel=1e-12)
    assert logs["kl"] == pytest.approx(kl.item(), rel=1e-12)
    for name, grad in vae.named_gradients():
        assert relative_error(grad, params[name].grad.numpy()) < 1e-10, name


# ----------------------------------------------------------------------------------------------
# Grey images given to a Bernoulli likelihood
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["elbo", "log_likelihood"])
def test_a_bernoulli_vae_warns_when_scored_on_grey_images(method, recwarn):
    vae = tiny_vae()
    grey = batch(n=20)[0]
    score = (lambda x: vae.elbo(x)) if method == "elbo" else (lambda x: vae.log_likelihood(x, k=3))
    with pytest.warns(RuntimeWarning, match=rf"{method}: a Bernoulli VAE's likelihood is defined for binary images, "
                      r"but 100\.0% of these pixels lie strictly between 0 and 1.*npae\.datasets\.binarize"):
        score(grey)
    recwarn.clear()
    score(binarize(grey, 0))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_a_gaussian_vae_takes_grey_images_without_a_warning(recwarn):
    vae = tiny_vae(likelihood="gaussian")
    vae.elbo(batch(n=20)[0])
    vae.log_likelihood(batch(n=20)[0], k=3)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
