"""npae: autoencoders from scratch in NumPy, every backward pass derived and tested."""

from .layers import (
    ELU, Dense, Flatten, Identity, Layer, LeakyReLU, ReLU, Reshape, Sequential, Sigmoid, Softplus, Tanh,
)
from .layers import AvgPool2D, Conv2D, Conv2DTranspose, MaxPool2D, UpSampling2D
from .losses import MSE, BinaryCrossEntropy
from .optim import SGD, Adam, CosineDecay, ExponentialDecay, StepDecay
from .models import Autoencoder
from .models.pca import PCA, KernelPCA
from .models.vae import VAE, ConditionalVAE
from .io import load
from .training import History, TrainingDiverged, TrainingInterrupted

__version__ = "0.1.0"

__all__ = [
    "ELU", "Dense", "Flatten", "Identity", "Layer", "LeakyReLU", "ReLU", "Reshape", "Sequential", "Sigmoid",
    "Softplus", "Tanh", "MSE", "BinaryCrossEntropy", "SGD", "Adam", "CosineDecay", "ExponentialDecay",
    "StepDecay", "Autoencoder", "load", "History", "TrainingDiverged", "TrainingInterrupted",
]
__all__ += ["PCA", "KernelPCA"]
__all__ += ["VAE", "ConditionalVAE"]
__all__ += ["Conv2D", "Conv2DTranspose", "AvgPool2D", "MaxPool2D", "UpSampling2D"]
