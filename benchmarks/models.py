"""The three benchmark models in npae and their PyTorch twins, the data, one training step of each library, and
the arithmetic of a step (FLOPs per layer).

- DenseAE: 784-512-128-32 (ReLU, tanh code) and back to 784 (sigmoid), MSE.
- ConvAE: ``npae.models.zoo.conv_autoencoder`` (1->16->32 channels 3x3, max pooling, a 32-unit code), MSE.
- VAE: ``npae.models.zoo.mlp_vae``, 784-512-256-(mu, logvar) 32 and 32-256-512-784 logits, Bernoulli.

The torch twin is built by ``npae.gradcheck.torch_bridge.to_torch`` from the npae model of the same seed, so
both libraries start from the same weights. Both train with Adam(1e-3) on float32 batches of ``BATCH``.
"""

from __future__ import annotations

import numpy as np

BATCH = 200
MODELS = ("dense", "conv", "vae")
NAMES = {"dense": "DenseAE", "conv": "ConvAE", "vae": "VAE"}
POOL = 2000  # images cycled through during timing (the same batches, in the same order, for both libraries)


def build_npae(kind, seed=0):
    """The npae model ``kind`` with the initial weights of ``seed``."""
    from npae import Autoencoder
    from npae.models import zoo

    if kind == "dense":
        rng = np.random.default_rng(seed)
        encoder = zoo.mlp((784, 512, 128, 32), "relu", "tanh", init="torch_default", rng=rng)
        decoder = zoo.mlp((32, 128, 512, 784), "relu", "sigmoid", init="torch_default", rng=rng)
        return Autoencoder(encoder, decoder, loss="mse")
    if kind == "conv":
        return zoo.conv_autoencoder(code_dim=32, seed=seed)
    return zoo.mlp_vae(seed=seed)


def data_for(kind, seed=0, real=True):
    """``POOL`` MNIST test images when ``real`` and ``NPAE_DATA_DIR`` has them (else uniform noise of the same
    shape), binarised for the VAE, flat for the dense models; and a word on where they came from. (The memory
    measurement uses noise: reading MNIST would set the process's peak memory before training starts.)"""
    rng = np.random.default_rng(seed)
    images, source = rng.random((POOL, 1, 28, 28)).astype(np.float32), "uniform noise"
    if real:
        try:
            from npae.datasets import load_mnist

            images, source = load_mnist("test")[0][:POOL], "MNIST test images"
        except Exception:  # noqa: BLE001 - whatever keeps MNIST away, time on noise of the same shape
            source = "uniform noise (MNIST not found)"
    images = images.reshape(POOL, 1, 28, 28).astype(np.float32)
    if kind == "vae":
        images = (rng.random(images.shape) < images).astype(np.float32)
    if kind != "conv":
        images = images.reshape(POOL, -1)
    return np.ascontiguousarray(images), source


class NpaeTrainer:
    """``step(xb)``: npae's ``train_batch`` and Adam's update, as ``npae.training.train_step`` runs them."""

    def __init__(self, kind, seed=0):
        from npae import Adam
        from npae.training import parameter_slots

        self.model, self.opt, self.slots = build_npae(kind, seed), Adam(1e-3), parameter_slots
        self.rng = np.random.default_rng(seed)

    def step(self, xb):
        self.model.train_batch(xb, None, self.rng)
        self.opt.step(self.slots(self.model))


class TorchTrainer:
    """``step(xb)``: the same loss, backward pass and Adam update in PyTorch, from the same initial weights."""

    def __init__(self, kind, seed=0):
        import torch

        from npae.gradcheck.torch_bridge import to_torch

        model = build_npae(kind, seed)
        self.torch, self.kind = torch, kind
        self.encoder, self.decoder = to_torch(model.encoder), to_torch(model.decoder)
        self.opt = torch.optim.Adam(list(self.encoder.parameters()) + list(self.decoder.parameters()), lr=1e-3)
        self.latent = getattr(model, "latent_dim", None)
        self.gen = torch.Generator().manual_seed(seed)

    def loss(self, x):
        functional = self.torch.nn.functional
        if self.kind != "vae":
            return functional.mse_loss(self.decoder(self.encoder(x)), x)
        h = self.encoder(x)
        mu, logvar = h[:, : self.latent], h[:, self.latent :]
        z = mu + self.torch.exp(0.5 * logvar) * self.torch.randn(mu.shape, generator=self.gen)
        recon = functional.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="sum") / x.shape[0]
        kl = -0.5 * self.torch.sum(1 + logvar - mu * mu - self.torch.exp(logvar)) / x.shape[0]
        return recon + kl

    def step(self, xb):
        self.opt.zero_grad(set_to_none=True)
        self.loss(self.torch.from_numpy(xb)).backward()
        self.opt.step()


TRAINERS = {"npae": NpaeTrainer, "torch": TorchTrainer}


# ----------------------------------------------------------------------------------------------
# arithmetic of a training step
# ----------------------------------------------------------------------------------------------


def layer_macs(layer, output_shape):
    """Multiply-adds per sample of one layer's forward pass, given its output shape (per sample); 0 for layers
    without a matrix product or convolution (activations, pooling, reshapes: a few operations per value)."""
    name = type(layer).__name__
    if name == "Dense":
        return layer.in_features * layer.out_features
    if name == "Conv2D":
        kh, kw = layer.kernel_size
        return layer.out_channels * layer.in_channels * kh * kw * output_shape[1] * output_shape[2]
    return 0


def step_flops(kind):
    """FLOPs of one training step of ``BATCH`` samples, per layer: ``[(layer, forward, backward)]``.

    A multiply-add is 2 FLOPs. A Dense or Conv2D layer's forward pass costs ``m`` multiply-adds per sample;
    its backward pass costs ``m`` for the weight gradient and ``m`` for the input gradient, except the
    network's first layer, whose input is the data and needs no gradient (both libraries skip it). The
    VAE's decoder reads ``z``, whose gradient the encoder needs, so only the encoder's first layer is exempt.
    Elementwise work (activations, pooling, the loss, Adam) is not counted.
    """
    model = build_npae(kind)
    x = np.zeros((1,) + model.input_shape, dtype=np.float32)
    rows, first = [], True
    for part in ("encoder", "decoder"):
        net = getattr(model, part)
        if part == "decoder" and kind == "vae":
            x = x[:, : model.latent_dim]  # the encoder gives (mu, logvar); the decoder reads z
        for i, layer in enumerate(net.layers):
            y = layer.forward(x)
            macs = layer_macs(layer, y.shape[1:])
            if macs:
                label = f"{part}.{i} {type(layer).__name__} {x.shape[1:]} -> {y.shape[1:]}"
                backward = macs if first else 2 * macs
                rows.append((label, 2 * BATCH * macs, 2 * BATCH * backward))
                first = False
            x = y
    return rows
