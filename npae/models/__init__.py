"""Models: the autoencoder family, the VAE, the closed-form PCA baselines, and ready-made architectures (zoo)."""

from .autoencoder import Autoencoder
from .pca import PCA, KernelPCA, principal_angles
from .vae import VAE, ConditionalVAE
from .zoo import conv_autoencoder, dense_autoencoder, mlp, mlp_vae

__all__ = [
    "Autoencoder", "PCA", "KernelPCA", "principal_angles", "VAE", "ConditionalVAE",
    "conv_autoencoder", "dense_autoencoder", "mlp", "mlp_vae",
]
