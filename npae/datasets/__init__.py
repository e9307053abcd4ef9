"""Data: MNIST and Fashion-MNIST from the standard IDX files (found, or downloaded and verified), folders of
your own images, patches of photographs, and offline synthetic images.

``load_mnist(split)`` and ``load_fashion_mnist(split)`` return ``(images, labels)``; ``load_dataset`` is the
one entry point of the command line and the walkthroughs (with the synthetic fallback); ``binarize`` draws
binary images for a Bernoulli VAE. ``load_images(folder, size, mode)`` reads every picture under a folder
(images.py); ``extract_patches`` samples small patches from images, with UFLDL's normalisation and ZCA
whitening beside it (patches.py); ``dead_leaves`` draws synthetic stand-ins for photographs (synthetic.py).
"""

from ..core.functions import binarize
from .mnist import (
    DatasetNotFoundError, cache_dir, load_dataset, load_fashion_mnist, load_mnist, parse_idx, read_idx,
)
from .images import IMAGE_SUFFIXES, LoadedImages, UnreadableImage, load_images
from .patches import ZCA, extract_patches, normalize_patches, remove_patch_mean
from .synthetic import dead_leaves, synthetic_digits

__all__ = [
    "DatasetNotFoundError", "binarize", "cache_dir", "load_dataset", "load_fashion_mnist", "load_mnist",
    "parse_idx", "read_idx", "synthetic_digits",
    "IMAGE_SUFFIXES", "LoadedImages", "UnreadableImage", "load_images",
    "ZCA", "extract_patches", "normalize_patches", "remove_patch_mean", "dead_leaves",
]
