"""npae: autoencoders from scratch in NumPy, every backward pass derived and tested.

The package, from the bottom up (docs/reading-guide.md gives the order in which to read it):

- ``npae.core``: the math core: layers with hand-written backward passes, losses, penalties, optimizers;
- ``npae.backends``: the heavy operations those layers call, in a readable reference backend (plain NumPy) and
  a fast one (Numba), behind one switch (``npae.set_backend``, ``with npae.backend(...)``, ``NPAE_BACKEND``);
- ``npae.models``: the autoencoder family, the VAE, PCA and kernel PCA, and ready-made architectures;
- ``npae.training``: ``train_step`` and the ``fit`` loop, history, early stopping, checkpoints;
- ``npae.io``: saving and loading models (JSON architecture and ``.npz`` weights, no pickle);
- tooling: ``npae.datasets``, ``npae.plots``, ``npae.manifold`` (t-SNE), ``npae.gradcheck`` (finite differences,
  the gradient table, the PyTorch bridge) and ``npae.apps`` (the ``npae`` command, the demo, walkthrough helpers).
"""

from .backends import backend, get_backend, set_backend
from .core.layers import (
    ELU, AvgPool2D, Conv2D, Conv2DTranspose, Dense, Flatten, GaussianNoise, Identity, Layer, LeakyReLU, MaskingNoise,
    MaxPool2D, ReLU, Reshape, SaltAndPepperNoise, Sequential, Sigmoid, Softplus, Tanh, UpSampling2D,
)
from .core.losses import MSE, BinaryCrossEntropy, SoftmaxCrossEntropy
from .core.optim import SGD, Adam, CosineDecay, ExponentialDecay, StagedDecay, StepDecay
from .core.penalties import Contractive, KLSparsity, L1Activity, L1Weights, WeightDecay
from .core.registry import register
from .io import load, save
from .models import (
    PCA, VAE, Autoencoder, ConditionalVAE, KernelPCA, conv_autoencoder, dense_autoencoder, mlp, mlp_vae,
)
from .training import HeldOutBound, History, TrainingDiverged, TrainingInterrupted

__version__ = "0.1.0"

__all__ = [
    "backend", "get_backend", "set_backend",
    "ELU", "AvgPool2D", "Conv2D", "Conv2DTranspose", "Dense", "Flatten", "GaussianNoise", "Identity", "Layer",
    "LeakyReLU", "MaskingNoise", "MaxPool2D", "ReLU", "Reshape", "SaltAndPepperNoise", "Sequential", "Sigmoid",
    "Softplus", "Tanh", "UpSampling2D",
    "MSE", "BinaryCrossEntropy", "SoftmaxCrossEntropy",
    "SGD", "Adam", "CosineDecay", "ExponentialDecay", "StagedDecay", "StepDecay",
    "Contractive", "KLSparsity", "L1Activity", "L1Weights", "WeightDecay",
    "register", "load", "save",
    "PCA", "VAE", "Autoencoder", "ConditionalVAE", "KernelPCA",
    "conv_autoencoder", "dense_autoencoder", "mlp", "mlp_vae",
    "HeldOutBound", "History", "TrainingDiverged", "TrainingInterrupted",
]
