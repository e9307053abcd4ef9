"""Models: the autoencoder family, the VAE, and the closed-form PCA baselines."""

from .autoencoder import Autoencoder
from .pca import PCA, KernelPCA
from .vae import VAE, ConditionalVAE

__all__ = ["Autoencoder"]
__all__ += ["PCA", "KernelPCA"]
__all__ += ["VAE", "ConditionalVAE"]
