"""Penalties: each value is the formula it states, each gradient is the derivative of that value (float64).

Layer-level checks run a Sequential in training mode with a penalty attached and differentiate
``L = sum(dy * y) + penalty`` (random ``dy``) with respect to the input and every parameter; model-level
checks differentiate the whole training loss that ``Autoencoder.train_batch`` reports (same noise draw).
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import npae
from npae.gradcheck import check_function
from npae.core.layers import Dense, GaussianNoise, MaskingNoise, ReLU, Sequential, Sigmoid, Softplus, Tanh
from npae.models import Autoencoder
from npae.core.penalties import (
    Contractive, KLSparsity, L1Activity, L1Weights, WeightDecay, jacobian_frobenius_sq,
)

from support import GRAD_TOL

SMOOTH_ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus}


def dense_stack(sizes, activations, seed, dtype=np.float64):
    """Dense(sizes[0] -> sizes[1]), activations[0], Dense(...), activations[1], ..."""
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations):
        layers += [Dense(n_in, n_out, rng=rng, dtype=dtype), act()]
    return Sequential(layers)


def layer_objective(seq, x, upstream):
    """``value_and_grads`` for check_function: ``sum(upstream * seq(x)) + penalty`` and its gradients."""

    def value_and_grads():
        y = seq.forward(x, training=True)
        value = float(np.sum(upstream * y)) + seq.penalty_value
        dx = seq.backward(upstream)
        grads = {"x": dx}
        grads.update(seq.named_gradients())
        return value, grads

    return value_and_grads


def all_tensors(seq, x):
    tensors = {"x": x}
    tensors.update(seq.named_parameters())
    return tensors


def assert_exact_gradients(seq, x, seed):
    upstream = np.random.default_rng(seed + 1).standard_normal(seq.forward(x).shape)
    errors = check_function(layer_objective(seq, x, upstream), all_tensors(seq, x))
    assert max(errors.values()) < GRAD_TOL, errors


def penalty_value(seq, x):
    seq.forward(x, training=True)
    return seq.penalty_value


# ----------------------------------------------------------------------------------------------
# Parameter penalties
# ----------------------------------------------------------------------------------------------


@given(cls=st.sampled_from([WeightDecay, L1Weights]), lam=st.floats(1e-3, 2.0), seed=st.integers(0, 999),
       sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4))
def test_parameter_penalties_value_and_gradient(cls, lam, seed, sizes):
    seq = dense_stack(sizes, [Tanh] * (len(sizes) - 1), seed)
    weights = [layer.params["W"] for layer in seq.layers if "W" in layer.params]
    expected = (lam / 2 * sum(float((W**2).sum()) for W in weights) if cls is WeightDecay
                else lam * sum(float(np.abs(W).sum()) for W in weights))
    penalty = cls(lam)

    def value_and_grads():
        seq.zero_grads()
        value = penalty.apply_to_parameters(seq)
        return value, dict(seq.named_gradients())

    value, grads = value_and_grads()
    assert value == pytest.approx(expected, rel=1e-12)
    biases = [name for name in grads if name.endswith(".b")]
    assert all(not grads[name].any() for name in biases), "weight penalties must leave biases alone"
    tensors = {name: param for name, param in seq.named_parameters() if name.endswith(".W")}
    errors = check_function(value_and_grads, tensors)
    assert max(errors.values()) < GRAD_TOL, errors


def test_parameter_penalty_refuses_to_hook_a_layer():
    seq = dense_stack([3, 2], [Tanh], 0)
    with pytest.raises(TypeError, match="Autoencoder\\(penalties"):
        seq.add_penalty(WeightDecay(0.1), 0)


# ----------------------------------------------------------------------------------------------
# L1 activity and KL sparsity
# ----------------------------------------------------------------------------------------------


@given(lam=st.floats(1e-3, 2.0), seed=st.integers(0, 999), n=st.integers(1, 4), d_in=st.integers(1, 4),
       d_out=st.integers(1, 4))
def test_l1_activity_value_and_gradient(lam, seed, n, d_in, d_out):
    seq = dense_stack([d_in, d_out], [Tanh], seed)
    seq.add_penalty(L1Activity(lam))
    x = np.random.default_rng(seed).standard_normal((n, d_in))
    h = seq.forward(x)
    assert penalty_value(seq, x) == pytest.approx(lam * np.abs(h).sum(axis=1).mean(), rel=1e-12)
    assert_exact_gradients(seq, x, seed)


def kl_reference(rho, rho_hat):
    return rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))


@given(rho=st.floats(0.02, 0.5), beta=st.floats(0.1, 5.0), seed=st.integers(0, 999), n=st.integers(1, 4),
       d_in=st.integers(1, 4), d_out=st.integers(1, 4))
def test_kl_sparsity_value_and_gradient(rho, beta, seed, n, d_in, d_out):
    seq = dense_stack([d_in, d_out], [Sigmoid], seed)
    seq.add_penalty(KLSparsity(rho, beta))
    x = np.random.default_rng(seed).standard_normal((n, d_in))
    rho_hat = seq.forward(x).mean(axis=0)
    assert penalty_value(seq, x) == pytest.approx(beta * kl_reference(rho, rho_hat).sum(), rel=1e-10)
    assert_exact_gradients(seq, x, seed)


def sigmoid_inputs_with_mean(target, shape, seed):
    """Pre-activations whose sigmoids average about ``target`` per unit."""
    logit = np.log(target / (1 - target))
    return logit + 0.05 * np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("target", [0.001, 0.999])
def test_kl_sparsity_exact_at_extreme_mean_activations(target):
    seq = Sequential([Sigmoid()])
    seq.add_penalty(KLSparsity(rho=0.1, beta=3.0))
    a = sigmoid_inputs_with_mean(target, (5, 3), seed=1)
    rho_hat = seq.forward(a).mean(axis=0)
    np.testing.assert_allclose(rho_hat, target, rtol=0.2)
    assert penalty_value(seq, a) == pytest.approx(3.0 * kl_reference(0.1, rho_hat).sum(), rel=1e-10)
    assert_exact_gradients(seq, a, seed=1)


@pytest.mark.parametrize("target", [1e-9, 1 - 1e-9])
def test_kl_sparsity_stays_finite_beyond_eps_and_pushes_back_to_rho(target):
    seq = Sequential([Sigmoid()])
    seq.add_penalty(KLSparsity(rho=0.1, beta=3.0, eps=1e-6))
    a = sigmoid_inputs_with_mean(target, (4, 2), seed=2)
    value = penalty_value(seq, a)
    da = seq.backward(np.zeros_like(a))
    assert np.isfinite(value) and np.all(np.isfinite(da))
    # a gradient step moves the mean activation towards rho: down where it is ~1, up where it is ~0
    assert np.all(np.sign(da) == (1 if target > 0.5 else -1))


def test_kl_continuation_beyond_eps_is_differentiated_exactly():
    """In rho_hat space (well conditioned even next to 1), the slope is the derivative of the divergence."""
    kl = KLSparsity(rho=0.1, eps=1e-3)
    rho_hat = np.array([1e-9, 2e-4, 0.3, 0.9995, 1 - 1e-9])

    def value_and_grads():
        divergence, slope = kl.divergence(rho_hat)
        return float(divergence.sum()), {"rho_hat": slope}

    assert check_function(value_and_grads, {"rho_hat": rho_hat}, h=1e-10)["rho_hat"] < GRAD_TOL


def test_kl_continuation_is_continuous_at_eps():
    kl = KLSparsity(rho=0.1, eps=1e-4)
    inside, slope_inside = kl.divergence(np.array([1e-4 + 1e-12]))
    outside, slope_outside = kl.divergence(np.array([1e-4 - 1e-12]))
    assert inside[0] == pytest.approx(outside[0], abs=1e-8)  # they differ by slope * 2e-12 ~ 2e-9
    assert slope_inside[0] == pytest.approx(slope_outside[0], rel=1e-6)  # plain clipping would give 0 outside


@pytest.mark.parametrize("activation", [Tanh, ReLU, Softplus])
def test_kl_sparsity_refuses_outputs_outside_unit_interval(activation):
    seq = dense_stack([3, 2], [activation], 0)
    with pytest.raises(ValueError, match="needs a Sigmoid"):
        seq.add_penalty(KLSparsity())
    with pytest.raises(ValueError, match="needs a Sigmoid"):
        Autoencoder(dense_stack([3, 2], [activation], 0), dense_stack([2, 3], [Sigmoid], 1), penalties=[KLSparsity()])


# ----------------------------------------------------------------------------------------------
# Contractive
# ----------------------------------------------------------------------------------------------


@given(act=st.sampled_from(sorted(SMOOTH_ACTIVATIONS)), lam=st.floats(1e-2, 2.0), seed=st.integers(0, 999),
       n=st.integers(1, 3), d0=st.integers(1, 3), d1=st.integers(1, 4), d2=st.integers(1, 3))
def test_contractive_gradient_wrt_weights_bias_and_earlier_layers(act, lam, seed, n, d0, d1, d2):
    """The penalty on the second layer also reaches the first layer's W, b and the input x."""
    seq = dense_stack([d0, d1, d2], [Tanh, SMOOTH_ACTIVATIONS[act]], seed)
    seq.add_penalty(Contractive(lam), layer=3)
    x = np.random.default_rng(seed).standard_normal((n, d0))
    assert_exact_gradients(seq, x, seed)


def finite_difference_jacobians(layer_map, x, h=1e-6):
    """``J[n, j, i] = d layer_map(x)[n, j] / d x[n, i]`` by central differences, one sample at a time."""
    n, d = x.shape
    columns = []
    for i in range(d):
        step = np.zeros_like(x)
        step[:, i] = h
        columns.append((layer_map(x + step) - layer_map(x - step)) / (2 * h))
    return np.stack(columns, axis=2)


@pytest.mark.parametrize("act", sorted(SMOOTH_ACTIVATIONS))
def test_contractive_closed_form_is_the_jacobian_frobenius_norm(act):
    seq = dense_stack([6, 4], [SMOOTH_ACTIVATIONS[act]], seed=3)
    seq.add_penalty(Contractive(0.7))
    x = np.random.default_rng(3).standard_normal((5, 6))
    J = finite_difference_jacobians(seq.forward, x)
    frobenius_sq = (J**2).sum(axis=(1, 2))
    assert penalty_value(seq, x) == pytest.approx(0.7 * frobenius_sq.mean(), rel=1e-8)
    np.testing.assert_allclose(jacobian_frobenius_sq(seq[0], seq[1], x), frobenius_sq, rtol=1e-8)


def test_contractive_refuses_a_layer_that_is_not_dense_then_activation():
    seq = dense_stack([3, 2, 2], [Tanh, Sigmoid], 0)
    with pytest.raises(ValueError, match="Dense layer followed by an activation"):
        seq.add_penalty(Contractive(0.1), layer=2)  # a Dense, not an activation
    with pytest.raises(ValueError, match="Dense layer followed by an activation"):
        Sequential([Sigmoid()]).add_penalty(Contractive(0.1), layer=0)


# ----------------------------------------------------------------------------------------------
# Attaching: layer names, defaults, misuse
# ----------------------------------------------------------------------------------------------


def test_activity_penalty_finds_a_named_encoder_layer_and_defaults_to_the_code():
    encoder = Sequential([Dense(4, 3, rng=0), Sigmoid(name="hidden"), Dense(3, 2, rng=1), Tanh()])
    named, default = KLSparsity(layer="hidden"), L1Activity(0.1)
    Autoencoder(encoder, [Dense(2, 4, rng=2)], penalties=[named, default])
    assert named.attached_index == 1
    assert default.attached_index == 3
    with pytest.raises(ValueError, match="no layer named 'code'"):
        Autoencoder(dense_stack([4, 2], [Tanh], 0), [Dense(2, 4, rng=2)], penalties=[L1Activity(0.1, layer="code")])


def test_a_penalty_object_attaches_once():
    penalty = L1Activity(0.1)
    dense_stack([3, 2], [Tanh], 0).add_penalty(penalty)
    with pytest.raises(ValueError, match="already attached"):
        dense_stack([3, 2], [Tanh], 1).add_penalty(penalty)


@pytest.mark.parametrize("make, match", [
    (lambda: WeightDecay(-1.0), "lam"),
    (lambda: L1Activity("big"), "lam"),
    (lambda: KLSparsity(rho=1.0), "rho"),
    (lambda: KLSparsity(rho=0.1, beta=-3), "beta"),
    (lambda: KLSparsity(rho=0.1, eps=0.2), "eps"),
    (lambda: Contractive(float("nan")), "lam"),
    (lambda: Contractive(0.1, layer=True), "layer"),
])
def test_bad_arguments_are_refused_by_name(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_backward_after_an_inference_pass_adds_no_penalty_gradient():
    """At inference the penalty is not in the loss, so backward must not add its gradient either."""
    plain, penalised = dense_stack([3, 2], [Sigmoid], 4), dense_stack([3, 2], [Sigmoid], 4)
    penalised.add_penalty(KLSparsity(beta=5.0))
    x = np.random.default_rng(0).standard_normal((4, 3))
    upstream = np.random.default_rng(1).standard_normal((4, 2))
    penalised.forward(x, training=True)
    penalised.backward(upstream)  # uses the training pass's gradient once
    for net in (plain, penalised):
        net.forward(x, training=False)
    np.testing.assert_array_equal(plain.backward(upstream), penalised.backward(upstream))
    np.testing.assert_array_equal(plain[0].grads["W"], penalised[0].grads["W"])


# ----------------------------------------------------------------------------------------------
# Whole autoencoders: the training loss with penalties (and noise) against finite differences
# ----------------------------------------------------------------------------------------------


def sigmoid_autoencoder(penalties, corruption=None, dtype=np.float64, loss="mse"):
    encoder = dense_stack([6, 4], [Sigmoid], seed=5, dtype=dtype)
    decoder = dense_stack([4, 6], [Sigmoid], seed=6, dtype=dtype)
    return Autoencoder(encoder, decoder, loss=loss, penalties=penalties, corruption=corruption)


MODEL_CASES = {
    "sparse": lambda: ([WeightDecay(0.3), KLSparsity(0.1, 3.0)], MaskingNoise(0.3)),
    "contractive": lambda: ([Contractive(0.5), L1Weights(0.01)], GaussianNoise(0.3)),
    "l1_code": lambda: ([L1Activity(0.2), WeightDecay(0.05)], None),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_autoencoder_training_loss_gradient_is_exact(case):
    penalties, corruption = MODEL_CASES[case]()
    ae = sigmoid_autoencoder(penalties, corruption)
    x = np.random.default_rng(7).random((5, 6))

    def value_and_grads():
        logs = ae.train_batch(x, None, np.random.default_rng(11))  # the same noise draw every call
        return logs["loss"], dict(ae.named_gradients())

    loss, _ = value_and_grads()
    assert loss > ae.train_batch(x, None, np.random.default_rng(11))["recon"], "the penalties must count"
    errors = check_function(value_and_grads, dict(ae.named_parameters()))
    assert max(errors.values()) < GRAD_TOL, errors


def test_reported_penalty_is_the_sum_of_the_stated_formulas():
    ae = sigmoid_autoencoder([WeightDecay(0.2), KLSparsity(0.1, 3.0)])
    x = np.random.default_rng(8).random((5, 6))
    logs = ae.train_batch(x, None, np.random.default_rng(0))
    weights = [ae.encoder[0].params["W"], ae.decoder[0].params["W"]]
    rho_hat = ae.encoder.forward(x).mean(axis=0)
    expected = 0.1 * sum(float((W**2).sum()) for W in weights) + 3.0 * kl_reference(0.1, rho_hat).sum()
    assert logs["penalty"] == pytest.approx(expected, rel=1e-10)
    assert logs["loss"] == pytest.approx(logs["recon"] + expected, rel=1e-12)


def test_float32_model_keeps_float32_gradients_with_every_penalty():
    ae = sigmoid_autoencoder([WeightDecay(0.1), L1Weights(0.1), KLSparsity(), Contractive(0.1)],
                             MaskingNoise(0.2), dtype=np.float32, loss="bce")
    x = np.random.default_rng(9).random((8, 6)).astype(np.float32)
    ae.train_batch(x, None, np.random.default_rng(0))
    for name, grad in ae.named_gradients():
        assert grad.dtype == np.float32, name


def test_penalised_denoising_model_round_trips_through_save_and_load(tmp_path):
    ae = sigmoid_autoencoder([WeightDecay(0.1), KLSparsity(0.05, 2.0, layer=1), Contractive(0.3)],
                             MaskingNoise(0.25))
    ae.fit(np.random.default_rng(1).random((40, 6)), epochs=1, batch_size=10, verbose=0)
    path = tmp_path / "model.npz"
    ae.save(path)
    loaded = npae.load(path)
    assert [repr(p) for p in loaded.penalties] == [repr(p) for p in ae.penalties]
    assert loaded.corruption.get_config() == ae.corruption.get_config()
    x = np.random.default_rng(2).random((5, 6))
    original = ae.train_batch(x, None, np.random.default_rng(3))
    again = loaded.train_batch(x, None, np.random.default_rng(3))
    assert again == pytest.approx(original, rel=1e-12)
