"""Every layer and activation against its PyTorch twin: output, input gradient and parameter gradients.

Shapes and configurations are drawn by hypothesis; the upstream gradient is random (standard normal).
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from support import import_framework

torch = import_framework("torch")

from npae import ELU, Dense, Flatten, Identity, LeakyReLU, ReLU, Reshape, Sequential, Sigmoid, Softplus, Tanh
from npae.gradcheck.torch_bridge import compare_with_torch

seeds = st.integers(0, 2**16)

activations = st.one_of(
    st.sampled_from([Identity, ReLU, Sigmoid, Tanh, Softplus]).map(lambda cls: cls()),
    st.floats(0.0, 0.9).map(LeakyReLU),
    st.floats(0.1, 3.0).map(ELU),
)


@given(n=st.integers(1, 5), d_in=st.integers(1, 9), d_out=st.integers(1, 9),
       init=st.sampled_from(["glorot_uniform", "he_normal", "torch_default"]), seed=seeds)
def test_dense(matches_torch, n, d_in, d_out, init, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(d_in, d_out, init=init, rng=rng, dtype=np.float64)
    matches_torch(compare_with_torch(layer, rng.standard_normal((n, d_in)), seed=seed), f"Dense({d_in}, {d_out})")


@given(activation=activations, shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       scale=st.sampled_from([0.1, 1.0, 10.0]), seed=seeds)
def test_activation(matches_torch, activation, shape, scale, seed):
    x = scale * np.random.default_rng(seed).standard_normal((2, *shape))
    matches_torch(compare_with_torch(activation, x, seed=seed), activation.describe())


@given(widths=st.lists(st.integers(1, 6), min_size=2, max_size=5), data=st.data(), seed=seeds)
def test_dense_stack_with_activations(matches_torch, widths, data, seed):
    rng = np.random.default_rng(seed)
    layers = []
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        layers += [Dense(d_in, d_out, rng=rng, dtype=np.float64), data.draw(activations)]
    net = Sequential(layers)
    matches_torch(compare_with_torch(net, rng.standard_normal((3, widths[0])), seed=seed), net.describe())


@given(rows=st.integers(1, 4), cols=st.integers(1, 4), seed=seeds)
def test_reshape_then_flatten(matches_torch, rows, cols, seed):
    rng = np.random.default_rng(seed)
    net = Sequential([Dense(3, rows * cols, rng=rng, dtype=np.float64), Reshape((rows, cols)), Tanh(), Flatten(),
                      Dense(rows * cols, 2, rng=rng, dtype=np.float64)])
    matches_torch(compare_with_torch(net, rng.standard_normal((2, 3)), seed=seed), net.describe())
