"""Checks shared by the image layers (convolution, pooling, upsampling): input images and upstream gradients."""

from __future__ import annotations

import numpy as np


def check_images(layer, x, channels=None):
    """Validate an (N, C, H, W) float input for ``layer``; ``channels``: the count it expects (None: any)."""
    layer._check_input(x)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{type(layer).__name__}.forward: x must have {channels} channels (shape (N, {channels}, H, W)), "
            f"got shape {x.shape}"
        )
    return x


def check_fits(layer, x, kernel, padding):
    """Raise a ValueError unless every window of ``kernel`` fits the padded input: ``H + 2 ph >= KH``."""
    h, w = x.shape[2:]
    if h + 2 * padding[0] < kernel[0] or w + 2 * padding[1] < kernel[1]:
        raise ValueError(
            f"{type(layer).__name__}.forward: x is {h}x{w}, too small for a {kernel[0]}x{kernel[1]} kernel "
            f"with padding {padding}: it needs H + 2*{padding[0]} >= {kernel[0]} and W + 2*{padding[1]} >= {kernel[1]}"
        )


def check_gradient(layer, dy, output):
    """Check that ``dy`` matches ``output = (shape, dtype)`` of the last forward; returns ``dy``."""
    if output is None:
        raise RuntimeError(f"{type(layer).__name__}.backward: call forward first")
    shape, dtype = output
    if not isinstance(dy, np.ndarray) or dy.shape != shape:
        raise ValueError(
            f"{type(layer).__name__}.backward: dy must have the shape of the last output {shape}, "
            f"got {getattr(dy, 'shape', type(dy).__name__)}"
        )
    if dy.dtype != dtype:
        raise TypeError(f"{type(layer).__name__}.backward: dy must have the output's dtype {dtype}, got {dy.dtype}")
    return dy
