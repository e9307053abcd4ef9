"""The exercises, in the order of docs/reading-guide.md, and how to find one by name."""

from __future__ import annotations

from .images import CONV2D_BACKWARD, MAXPOOL2D_BACKWARD, UPSAMPLING2D_BACKWARD
from .layers import BCE_WITH_LOGITS, DENSE_BACKWARD, SIGMOID_DERIVATIVES, TANH_DERIVATIVES
from .penalties import CONTRACTIVE_GRADIENT, KL_SPARSITY_GRADIENT
from .vae import VAE_GRADIENT

#: every exercise, in the reading guide's order (Dense, activations, losses, convolution, pooling and upsampling,
#: penalties, the VAE)
EXERCISES = (
    DENSE_BACKWARD, SIGMOID_DERIVATIVES, TANH_DERIVATIVES, BCE_WITH_LOGITS, CONV2D_BACKWARD, MAXPOOL2D_BACKWARD,
    UPSAMPLING2D_BACKWARD, KL_SPARSITY_GRADIENT, CONTRACTIVE_GRADIENT, VAE_GRADIENT,
)


def find(name):
    """The exercise called ``name`` (``"dense-backward"``), or a ValueError listing the names."""
    for exercise in EXERCISES:
        if exercise.name == name:
            return exercise
    raise ValueError(f"NAME: no exercise called {name!r}; the exercises are {', '.join(e.name for e in EXERCISES)} "
                     "(npae exercises list)")
