"""Layers with hand-written forward and backward passes."""

from .base import Layer, Sequential, as_generator, init_weight, init_bias
from .activations import ELU, Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh, get_activation
from .dense import Dense
from .shape import Flatten, Reshape
from .conv import Conv2D, Conv2DTranspose
from .pooling import AvgPool2D, MaxPool2D
from .upsampling import UpSampling2D
from .noise import GaussianNoise, MaskingNoise, SaltAndPepperNoise

__all__ = [
    "Layer", "Sequential", "as_generator", "init_weight", "init_bias",
    "ELU", "Identity", "LeakyReLU", "ReLU", "Sigmoid", "Softplus", "Tanh", "get_activation",
    "Dense", "Flatten", "Reshape",
    "GaussianNoise", "MaskingNoise", "SaltAndPepperNoise",
]
__all__ += ["Conv2D", "Conv2DTranspose", "AvgPool2D", "MaxPool2D", "UpSampling2D"]
