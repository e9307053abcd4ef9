"""npae.torch_bridge: the twin's structure, weight round trips both ways, and clear errors."""

import numpy as np
import pytest

from support import import_framework

torch = import_framework("torch")

from npae import Dense, ELU, Flatten, LeakyReLU, ReLU, Reshape, Sequential, Sigmoid, Tanh
from npae.gradcheck.torch_bridge import compare_with_torch, copy_weights, to_torch, torch_gradients


def small_net(dtype=np.float64):
    return Sequential([
        Dense(6, 8, rng=0), LeakyReLU(0.2), Reshape((2, 4)), Flatten(), Dense(8, 3, rng=1), ELU(0.7), Sigmoid(),
    ]).astype(dtype)


def test_twin_has_matching_modules_and_transposed_dense_weights():
    net = small_net()
    twin = to_torch(net)
    assert [type(m).__name__ for m in twin] == [
        "Linear", "LeakyReLU", "Unflatten", "Flatten", "Linear", "ELU", "Sigmoid",
    ]
    assert twin[1].negative_slope == 0.2 and twin[5].alpha == 0.7
    assert tuple(twin[2].unflattened_size) == (2, 4)
    np.testing.assert_array_equal(twin[0].weight.detach().numpy(), net[0].params["W"].T)
    np.testing.assert_array_equal(twin[4].bias.detach().numpy(), net[4].params["b"])
    assert twin[0].weight.dtype == torch.float64


def test_twin_keeps_float32():
    twin = to_torch(small_net(np.float32))
    assert all(p.dtype == torch.float32 for p in twin.parameters())


def test_round_trip_from_torch_brings_back_new_weights_in_npae_layout_and_dtype():
    net = small_net(np.float32)
    twin = to_torch(net)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in twin.parameters():
            p.normal_()
    copy_weights(net, twin, direction="from_torch")
    assert net[0].params["W"].dtype == np.float32 and net[0].params["W"].flags.c_contiguous
    np.testing.assert_array_equal(net[0].params["W"], twin[0].weight.detach().numpy().T)
    np.testing.assert_array_equal(net[4].params["b"], twin[4].bias.detach().numpy())
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(net.forward(x), twin(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_round_trip_to_torch_and_back_is_exact():
    net = small_net()
    before = {name: p.copy() for name, p in net.named_parameters()}
    twin = to_torch(net)
    for layer in net.layers:
        for key in layer.params:
            layer.params[key] = np.zeros_like(layer.params[key])
    copy_weights(net, twin, direction="from_torch")
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p, before[name])
    copy_weights(net, twin, direction="to_torch")
    np.testing.assert_array_equal(twin[0].weight.detach().numpy(), before["0.W"].T)


def test_nested_sequential_and_single_layer(matches_torch):
    rng = np.random.default_rng(3)
    net = Sequential([Sequential([Dense(5, 4, rng=0), Tanh()]), Sequential([Dense(4, 2, rng=1), ReLU()])])
    net.astype(np.float64)
    twin = to_torch(net)
    assert isinstance(twin[0], torch.nn.Sequential) and isinstance(twin[1][0], torch.nn.Linear)
    matches_torch(compare_with_torch(net, rng.standard_normal((3, 5))), "nested Sequential")
    errors = compare_with_torch(Dense(5, 4, rng=2).astype(np.float64), rng.standard_normal((3, 5)))
    assert set(errors) == {"y", "x", "W", "b"}
    matches_torch(errors, "single Dense")


def test_torch_gradients_in_npae_layout():
    net = small_net()
    twin = to_torch(net)
    x = torch.tensor(np.random.default_rng(1).standard_normal((2, 6)))
    twin(x).sum().backward()
    grads = torch_gradients(net, twin)
    assert sorted(grads) == ["0.W", "0.b", "4.W", "4.b"]
    assert grads["0.W"].shape == (6, 8)


def test_torch_gradients_before_backward_is_an_error():
    net = small_net()
    with pytest.raises(ValueError, match="no gradient"):
        torch_gradients(net, to_torch(net))


def test_mismatched_networks_are_refused_with_the_place():
    net = small_net()
    other = to_torch(Sequential([Dense(6, 8), ReLU()]))
    with pytest.raises(ValueError, match="nn.Sequential of 7 modules"):
        copy_weights(net, other)
    twin = to_torch(net)
    twin[1] = torch.nn.ReLU()
    with pytest.raises(ValueError, match="at 1: npae LeakyReLU needs a torch LeakyReLU, got ReLU"):
        copy_weights(net, twin, direction="from_torch")
    wrong_shape = to_torch(Sequential([Dense(6, 8), LeakyReLU(0.2), Reshape((2, 4)), Flatten(), Dense(8, 4),
                                       ELU(0.7), Sigmoid()]))
    with pytest.raises(ValueError, match=r"4.W: npae shape \(8, 3\) does not match torch shape \(4, 8\)"):
        copy_weights(net, wrong_shape)


def test_bad_arguments():
    net = small_net()
    with pytest.raises(ValueError, match="direction: expected one of"):
        copy_weights(net, to_torch(net), direction="sideways")
    with pytest.raises(TypeError, match="net: expected an npae Sequential or Layer, got list"):
        to_torch([Dense(2, 2)])


def test_unsupported_layer_names_the_supported_ones():
    from npae import Layer

    class Doubler(Layer):
        def forward(self, x, training=False):
            return 2 * x

        def backward(self, dy):
            return 2 * dy

    with pytest.raises(TypeError, match="no PyTorch equivalent for npae Doubler; supported layers are .*Dense"):
        to_torch(Sequential([Doubler()]))


def test_corruption_layers_become_identities_compared_at_inference(matches_torch):
    from npae.core.layers import GaussianNoise, MaskingNoise, SaltAndPepperNoise

    rng = np.random.default_rng(5)
    net = Sequential([MaskingNoise(0.5, rng=0), Dense(4, 3, rng=1), GaussianNoise(0.3, rng=2), Tanh(),
                      SaltAndPepperNoise(0.2, rng=3)]).astype(np.float64)
    twin = to_torch(net)
    assert [type(m).__name__ for m in twin] == ["Identity", "Linear", "Identity", "Tanh", "Identity"]
    matches_torch(compare_with_torch(net, rng.random((3, 4))), "noise layers at inference")
