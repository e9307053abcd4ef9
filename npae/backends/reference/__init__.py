"""The reference backend: every operation in plain NumPy, written to be read and stepped through.

Each function mirrors the formula in its docstring (loops over kernel offsets, ``einsum``, ``np.add.at``), with
no concern for speed beyond what NumPy gives for free. ``npae.set_backend("reference")`` makes every layer use
these; the fast backend's tests compare against them. See ``npae.backends`` for the list of operations.
"""

from .adam import adam_update
from .conv import conv2d_bias_grad, conv2d_forward, conv2d_input_grad, conv2d_weight_grad
from .elementwise import matmul, relu, relu_backward, sigmoid
from .likelihood import bernoulli_nll_of_samples
from .pooling import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from .tsne import tsne_gradient
from .upsampling import upsample_bilinear, upsample_bilinear_backward, upsample_nearest, upsample_nearest_backward

__all__ = [
    "adam_update", "conv2d_bias_grad", "conv2d_forward", "conv2d_input_grad", "conv2d_weight_grad", "matmul", "relu", "relu_backward", "sigmoid",
    "bernoulli_nll_of_samples", "avg_pool2d_backward", "avg_pool2d_forward", "max_pool2d_backward",
    "max_pool2d_forward", "tsne_gradient", "upsample_bilinear", "upsample_bilinear_backward", "upsample_nearest",
    "upsample_nearest_backward",
]
