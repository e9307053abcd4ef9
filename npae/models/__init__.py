"""Models: the autoencoder family, the VAE, and the closed-form PCA baselines."""

from .autoencoder import Autoencoder

__all__ = ["Autoencoder"]
