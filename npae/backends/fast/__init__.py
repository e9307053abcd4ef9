"""The fast backend: the operations of ``npae.backends`` with Numba kernels, scratch memory and a BLAS policy.

- ``conv``: convolution forward, input gradient, weight and bias gradients, by a direct loop, by Winograd's
  F(2x2, 3x3) (``winograd``, on explicit vectors from ``lanes``) or by im2col + BLAS;
- ``pooling``: max pooling (first-maximum routing) and average pooling, forward and backward;
- ``upsampling``: nearest and bilinear upsampling, forward and backward;
- ``elementwise``: ReLU's backward and the sigmoid in one pass each, and ``matmul``;
- ``adam``: the fused Adam update; ``likelihood``: the VAE's fused Bernoulli likelihood; ``tsne``: t-SNE's gradient;
- ``blas``: NumPy's BLAS threads kept out of the way of the image operations' Numba kernels;
- ``memory``: freed memory kept in the process (glibc's malloc thresholds), so steps do not fault pages in again;
- ``jit``: the compile options every kernel uses; ``rows``: loops that replace slice assignments in kernels;
  ``workspace``: reusable scratch arrays.

Kernels compile on first use and are cached on disk. With ``NUMBA_DISABLE_JIT=1`` they run as ordinary Python;
to read and step through the math, use the reference backend instead (``npae.set_backend("reference")``).
"""

from . import jit  # noqa: F401  (chooses Numba's thread pool before any kernel compiles)
from . import memory  # noqa: F401  (keeps freed memory in the process; see memory)
from .adam import adam_update
from .blas import uses_numba_threads
from .conv import conv2d_bias_grad, conv2d_forward, conv2d_input_grad, conv2d_weight_grad
from .elementwise import matmul, relu, relu_backward, sigmoid
from .likelihood import bernoulli_nll_of_samples
from .pooling import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from .tsne import tsne_gradient
from .upsampling import upsample_bilinear, upsample_bilinear_backward, upsample_nearest, upsample_nearest_backward

# the image operations hand the cores to their Numba kernels (see blas)
conv2d_forward, conv2d_input_grad, conv2d_weight_grad, conv2d_bias_grad = map(
    uses_numba_threads, (conv2d_forward, conv2d_input_grad, conv2d_weight_grad, conv2d_bias_grad)
)
max_pool2d_forward, max_pool2d_backward, avg_pool2d_forward, avg_pool2d_backward = map(
    uses_numba_threads, (max_pool2d_forward, max_pool2d_backward, avg_pool2d_forward, avg_pool2d_backward)
)
upsample_nearest, upsample_nearest_backward, upsample_bilinear, upsample_bilinear_backward = map(
    uses_numba_threads, (upsample_nearest, upsample_nearest_backward, upsample_bilinear, upsample_bilinear_backward)
)

__all__ = [
    "adam_update", "conv2d_bias_grad", "conv2d_forward", "conv2d_input_grad", "conv2d_weight_grad", "matmul", "relu", "relu_backward", "sigmoid",
    "bernoulli_nll_of_samples", "avg_pool2d_backward", "avg_pool2d_forward", "max_pool2d_backward",
    "max_pool2d_forward", "tsne_gradient", "upsample_bilinear", "upsample_bilinear_backward", "upsample_nearest",
    "upsample_nearest_backward",
]
