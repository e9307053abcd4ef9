"""Training every zoo model for a few steps gives the same weights on the reference and the fast backend.

float64: relative error below 1e-10 (the two backends differ only in summation order).

float32: relative error below 1e-5, with plain SGD. Each backend rounds its sums in its own order and computes
exponentials with its own library (float32 keeps about 7 digits), so the weights differ by rounding: 1e-7 to 3e-7
of their scale after these steps. Adam is left out of this comparison on purpose: it divides each gradient by
its own running scale, so a weight whose gradient is rounding noise (a pixel that is almost never on) takes a
full step of either sign, and two correct backends then differ by up to 2 lr per step in a few percent of the
weights, which would hide a real difference. Adam itself is compared by the float64 runs above and, operation
by operation, in test_operations.py.
"""

import numpy as np
import pytest

import npae
from npae import Autoencoder, Contractive, KLSparsity, MaskingNoise, WeightDecay

STEPS, BATCH, LR = 4, 16, 1e-3


def zoo():
    """``{name: (build, data, labels, SGD learning rate)}``: every kind of model in the zoo, on 64 random samples.

    The rates move every model visibly in 4 steps without diverging (a VAE's loss is in nats per image, three
    orders of magnitude above an MSE per pixel)."""
    rng = np.random.default_rng(0)
    images = rng.random((STEPS * BATCH, 1, 28, 28)).astype(np.float32)
    flat = images.reshape(len(images), -1)
    binary = (flat > 0.5).astype(np.float32)
    labels = rng.integers(0, 10, len(images))

    def sparse():
        encoder = npae.mlp((784, 64), final_activation="sigmoid", rng=0)
        decoder = npae.mlp((64, 784), final_activation="sigmoid", rng=1)
        return Autoencoder(encoder, decoder, penalties=[KLSparsity(0.1, 3.0), WeightDecay(1e-3)])

    return {
        "dense": (lambda: npae.dense_autoencoder(seed=0), flat, None, 1.0),
        "conv": (lambda: npae.conv_autoencoder(seed=0), images, None, 1.0),
        "vae": (lambda: npae.mlp_vae(seed=0, binarize=True), flat, None, 1e-3),
        "conditional vae": (lambda: npae.mlp_vae(seed=0, n_classes=10), binary, labels, 1e-3),
        "sparse": (sparse, flat, None, 1.0),
        "denoising": (lambda: npae.dense_autoencoder(seed=0, corruption=MaskingNoise(0.3)), flat, None, 1.0),
        "contractive": (lambda: npae.dense_autoencoder(hidden=(), code_dim=50, code_activation="sigmoid",
                                                       penalties=[Contractive(0.1)], seed=0), flat, None, 1.0),
    }


MODELS = zoo()


def trained_weights(name, backend, dtype, optimizer):
    build, data, labels, _ = MODELS[name]
    with npae.backend(backend):
        model = build().astype(dtype)
        model.fit(data.astype(dtype), y=labels, epochs=1, batch_size=BATCH, optimizer=optimizer, seed=3, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_float64_training_gives_the_same_weights(name):
    reference, fast = (trained_weights(name, b, np.float64, npae.Adam(LR)) for b in ("reference", "fast"))
    for key, want in reference.items():
        error = np.abs(fast[key] - want).max() / max(np.abs(want).max(), 1e-300)
        assert error < 1e-10, (key, error)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_float32_training_gives_the_same_weights_to_rounding(name):
    lr = MODELS[name][3]
    reference, fast = (trained_weights(name, b, np.float32, npae.SGD(lr)) for b in ("reference", "fast"))
    initial = MODELS[name][0]().get_weights()
    moved = 0.0
    for key, want in reference.items():
        scale = np.abs(want).max()
        assert fast[key].dtype == want.dtype == np.float32
        assert np.abs(fast[key] - want).max() < 1e-5 * scale, key
        moved = max(moved, np.abs(want - initial[key]).max() / scale)
    assert moved > 1e-2, "the weights hardly moved: the comparison would be empty"
