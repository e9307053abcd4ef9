"""Penalties against PyTorch autograd of their definitions (float64).

Activity penalties run inside a Dense stack in training mode: ``L = sum(dy * y) + P`` with a random ``dy``;
the contractive reference is double backprop of ``||dh/dx||_F^2`` (checked itself against
``torch.autograd.functional.jacobian``), the KL-sparsity reference is autograd of the KL term.
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from support import import_framework

torch = import_framework("torch")

from npae.core.layers import ELU, Dense, LeakyReLU, ReLU, Sequential, Sigmoid, Softplus, Tanh
from npae.core.penalties import Contractive, KLSparsity, L1Activity, L1Weights, WeightDecay
from npae.gradcheck.torch_bridge import (
    compare_parameter_penalty_with_torch, compare_with_torch, to_torch, torch_activity_penalty,
)
from npae.gradcheck import relative_error

ACTIVATIONS = [Sigmoid, Tanh, Softplus, ELU, ReLU, LeakyReLU]
seeds = st.integers(0, 2**16)


def stack(rng, sizes, activations):
    """Dense-activation pairs with random biases: with zero biases a dead ReLU puts the next pre-activation
    exactly on ELU's kink at 0, where the second derivative (which the contractive gradient needs) jumps."""
    layers = []
    for n_in, n_out, activation in zip(sizes[:-1], sizes[1:], activations):
        layers += [Dense(n_in, n_out, init="torch_default", rng=rng, dtype=np.float64), activation()]
    return Sequential(layers)


def penalised(rng, sizes, activations, penalty, index):
    net = stack(rng, sizes, activations)
    net.add_penalty(penalty, index)
    return net


@given(sizes=st.lists(st.integers(1, 5), min_size=3, max_size=3), first=st.sampled_from(ACTIVATIONS),
       second=st.sampled_from(ACTIVATIONS), on_last=st.booleans(), lam=st.floats(0.01, 3.0), n=st.integers(1, 6),
       seed=seeds)
def test_contractive(matches_torch, sizes, first, second, on_last, lam, n, seed):
    rng = np.random.default_rng(seed)
    index = 3 if on_last else 1
    net = penalised(rng, sizes, (first, second), Contractive(lam, layer=index), index)
    matches_torch(compare_with_torch(net, rng.standard_normal((n, sizes[0])), seed=seed), "Contractive")


@given(sizes=st.lists(st.integers(1, 5), min_size=3, max_size=3), first=st.sampled_from(ACTIVATIONS),
       rho=st.floats(0.01, 0.5), beta=st.floats(0.1, 5.0), n=st.integers(1, 6), seed=seeds)
def test_kl_sparsity(matches_torch, sizes, first, rho, beta, n, seed):
    rng = np.random.default_rng(seed)
    net = penalised(rng, sizes, (first, Sigmoid), KLSparsity(rho, beta, layer=3), 3)
    matches_torch(compare_with_torch(net, rng.standard_normal((n, sizes[0])), seed=seed), "KLSparsity")


@given(sizes=st.lists(st.integers(1, 5), min_size=3, max_size=3), first=st.sampled_from(ACTIVATIONS),
       second=st.sampled_from([Sigmoid, Tanh, Softplus, ELU]), index=st.sampled_from([1, 3]),
       lam=st.floats(0.01, 3.0), seed=seeds)
def test_l1_activity(matches_torch, sizes, first, second, index, lam, seed):
    rng = np.random.default_rng(seed)
    net = penalised(rng, sizes, (first, second), L1Activity(lam, layer=index), index)
    matches_torch(compare_with_torch(net, rng.standard_normal((4, sizes[0])), seed=seed), "L1Activity")


@given(cls=st.sampled_from([WeightDecay, L1Weights]), lam=st.floats(1e-3, 2.0),
       sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4), seed=seeds)
def test_parameter_penalties(matches_torch, cls, lam, sizes, seed):
    net = stack(np.random.default_rng(seed), sizes, [Tanh] * (len(sizes) - 1))
    errors = compare_parameter_penalty_with_torch(cls(lam), net)
    assert len(errors) == len(sizes)  # the value and one W per Dense (biases are not penalised)
    matches_torch(errors, cls.__name__)


@pytest.mark.parametrize("activation", [Sigmoid, Tanh, Softplus, ELU])
def test_contractive_reference_equals_the_jacobian_computed_directly(matches_torch, activation):
    """The double-backprop reference against ``torch.autograd.functional.jacobian``, sample by sample."""
    rng = np.random.default_rng(7)
    net = stack(rng, (4, 3), (activation,))
    penalty = Contractive(0.9, layer=1)
    net.add_penalty(penalty, 1)
    twin = to_torch(net)
    x = torch.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    hidden = twin[0](x)
    reference = torch_activity_penalty(penalty, [x, hidden, twin[1](hidden)], 1)
    jacobians = [torch.autograd.functional.jacobian(twin, x[i : i + 1]).reshape(3, 4) for i in range(5)]
    direct = 0.9 * sum((j * j).sum() for j in jacobians) / 5
    matches_torch({"||J||_F^2": relative_error(reference.item(), direct.item())}, "contractive reference")
