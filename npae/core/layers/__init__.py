"""Layers with hand-written forward and backward passes (read ``base.py`` first, then ``dense.py``)."""

from .activations import ELU, Activation, Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh, get_activation
from .base import Layer, Sequential
from .conv import Conv2D, Conv2DTranspose
from .dense import Dense
from .init import init_bias, init_weight
from .noise import Corruption, GaussianNoise, MaskingNoise, SaltAndPepperNoise
from .pooling import AvgPool2D, MaxPool2D
from .shape import Flatten, Reshape
from .upsampling import UpSampling2D

__all__ = [
    "Activation", "ELU", "Identity", "LeakyReLU", "ReLU", "Sigmoid", "Softplus", "Tanh", "get_activation",
    "Layer", "Sequential", "Conv2D", "Conv2DTranspose", "Dense", "init_bias", "init_weight",
    "Corruption", "GaussianNoise", "MaskingNoise", "SaltAndPepperNoise", "AvgPool2D", "MaxPool2D",
    "Flatten", "Reshape", "UpSampling2D",
]
