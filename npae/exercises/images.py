"""Exercises on the image operations, from npae's reference backend: convolution, max pooling, upsampling."""

from __future__ import annotations

import numpy as np

from ..backends.reference import conv, pooling, upsampling
from ..core.layers import Conv2D, MaxPool2D, UpSampling2D
from ..gradcheck.suite import spread
from .exercise import Clue, Exercise, Problem, attempt, border, border_clue, central_differences
from .template import Derive, Keep, Template

# ----------------------------------------------------------------------------------------------
# Conv2D
# ----------------------------------------------------------------------------------------------

CONV = Template(
    doc='''
    Conv2D backward: derive the input and weight gradients of a 2-D convolution, from its reference loops.

    Below is npae's reference convolution (npae/backends/reference/conv.py): the forward pass as npae's reference
    backend runs it, and its two derivatives removed. x is (N, C, H, W), W (O, C, KH, KW), b (O,), the stride
    (sh, sw), the zero padding (ph, pw), xp is x padded, and

        y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] xp[n, c, i sh + a, j sw + e]      (N, O, Ho, Wo)

    conv2d_forward computes it one kernel offset (a, e) at a time: _tap(xp, a, e, ...) is the strided view of xp
    that offset reads at every output position (i, j). Given dy = dL/dy (N, O, Ho, Wo), derive

        conv2d_input_grad(dy, w, input_hw, stride, padding)   -> dx = dL/dx   (N, C, H, W)
        conv2d_weight_grad(x, dy, kernel_hw, stride, padding) -> dW = dL/dW   (O, C, KH, KW)

    (db[o], the sum of dy[:, o], is the layer's and not asked here). The loop of conv2d_forward makes a good
    skeleton for both.
    ''',
    imports=("import numpy as np", "", "import npae", "from npae.core.functions import conv_output_size"),
    pieces=(
        Keep(conv._tap),
        Keep(conv._pad),
        Keep(conv.conv2d_forward),
        Derive(conv.conv2d_input_grad, '''
            ``dx = dL/dx`` (N, C, H, W), with ``input_hw = (H, W)``, for ``dy = dL/dy`` (N, O, Ho, Wo) and the
            weights ``w`` (O, C, KH, KW) of the forward pass, with its ``stride`` and ``padding`` (pairs).
            '''),
        Derive(conv.conv2d_weight_grad, '''
            ``dW = dL/dW`` (O, C, KH, KW), with ``kernel_hw = (KH, KW)``, for the input ``x`` (N, C, H, W) and
            ``dy = dL/dy`` (N, O, Ho, Wo), with the forward pass's ``stride`` and ``padding`` (pairs).
            '''),
    ),
    demo='''
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 1, 5, 5)), rng.standard_normal((3, 1, 3, 3)), np.zeros(3)
    y = conv2d_forward(x, w, b, (1, 1), (1, 1))
    dy = rng.standard_normal(y.shape)
    print("dx", conv2d_input_grad(dy, w, (5, 5), (1, 1), (1, 1)).shape)
    print("dW", conv2d_weight_grad(x, dy, (3, 3), (1, 1), (1, 1)).shape)
    ''',
)


def _conv_problems(rng):
    configurations = (((3, 1, 5, 5), (2, 1, 3, 3), (1, 1), (1, 1)),
                      ((3, 2, 5, 6), (3, 2, 2, 3), (2, 1), (1, 0)),
                      ((4, 2, 5, 5), (2, 2, 3, 3), (2, 2), (1, 1)))
    problems = []
    for x_shape, w_shape, stride, padding in configurations:
        x = spread(rng, x_shape)
        w = rng.standard_normal(w_shape)
        y_shape = conv.conv2d_forward(x, w, np.zeros(w_shape[0]), stride, padding).shape
        problems.append(Problem(f"x {x_shape}, W {w_shape}, stride {stride}, padding {padding}", batch=x_shape[0],
                                x=x, W=w, b=rng.standard_normal(w_shape[0]), dy=rng.standard_normal(y_shape),
                                stride=stride, padding=padding))
    return problems


def _conv_answers(module, p, path):
    return {"dx": attempt(module.conv2d_input_grad, p.dy, p.W, p.x.shape[2:], p.stride, p.padding, path=path),
            "dW": attempt(module.conv2d_weight_grad, p.x, p.dy, p.W.shape[2:], p.stride, p.padding, path=path)}


def _conv_forward(module, p, x=None, w=None):
    return module.conv2d_forward(p.x if x is None else x, p.W if w is None else w, p.b, p.stride, p.padding)


def _conv_truth(module, p):
    x, w = p.x.copy(), p.W.copy()
    return central_differences(lambda: float(np.sum(p.dy * _conv_forward(module, p, x, w))), {"dx": x, "dW": w})


def _conv_layer(p):
    layer = Conv2D(p.W.shape[1], p.W.shape[0], p.W.shape[2:], p.stride, p.padding, dtype=np.float64)
    layer.params["W"], layer.params["b"] = p.W.copy(), p.b.copy()
    return layer


def _conv_oracle(bridge, p):
    theirs = bridge.layer_gradients(_conv_layer(p), p.x, p.dy)
    return {"dx": theirs["x"], "dW": theirs["W"]}


def _conv_clues(module, p):
    (h, w), (ph, pw) = p.x.shape[2:], p.padding
    mistakes = [("the kernel is flipped: y is a cross-correlation, W[o, c, a, e] meets xp[i sh + a, j sw + e], so "
                 "dy goes back through the same offset (a, e) of the same W, not a rotated one",
                 module.conv2d_input_grad(p.dy, p.W[..., ::-1, ::-1], (h, w), p.stride, p.padding))]
    if ph or pw:
        padded = module.conv2d_input_grad(p.dy, p.W, (h + 2 * ph, w + 2 * pw), p.stride, (0, 0))  # dL/dxp
        shifted = ("shifted by the padding: the gradient of the padded xp is right, but dx is xp's gradient "
                   "without ph rows and pw columns on each side (crop both ends)")
        mistakes += [(shifted, padded[:, :, :h, :w]), (shifted, padded[:, :, 2 * ph:, 2 * pw:])]
    return {"dx": border_clue(p.x.shape, mistakes=tuple(mistakes))}


CONV2D_BACKWARD = Exercise(
    name="conv2d-backward",
    title="Conv2D backward (input and weight gradients)",
    teaches="a convolution's input gradient is the transposed convolution of dy, its weight gradient a "
            "correlation of x with dy; stride and padding in both",
    template=CONV,
    problems=_conv_problems,
    answers=_conv_answers,
    truth=_conv_truth,
    forward=_conv_forward,
    oracle=_conv_oracle,
    clues=_conv_clues,
)

# ----------------------------------------------------------------------------------------------
# MaxPool2D
# ----------------------------------------------------------------------------------------------

MAXPOOL = Template(
    doc='''
    MaxPool2D backward: derive the gradient of max pooling.

    Below is npae's reference max pooling (npae/backends/reference/pooling.py): the forward pass as npae's
    reference backend runs it, and the backward pass removed. Window (i, j) of an (H, W) plane covers rows
    i sh - ph + a and columns j sw - pw + e (a < KH, e < KW); the padding is -inf, so it never wins, and

        y[n, c, i, j] = the maximum of x[n, c] over window (i, j)                     (N, C, Ho, Wo)

    max_pool2d_forward also returns argmax (N, C, Ho, Wo): for each window, the flat index r W + q in its (H, W)
    plane of the pixel that is its maximum (the first in row-major window order when several tie: the maximum
    is not differentiable at a tie, and PyTorch and npae both pick that one). Given dy = dL/dy (N, C, Ho, Wo),
    derive

        max_pool2d_backward(dy, argmax, input_shape) -> dx = dL/dx   (N, C, H, W), input_shape = (N, C, H, W)
    ''',
    imports=("import numpy as np", "", "import npae", "from npae.core.functions import conv_output_size"),
    pieces=(
        Keep(pooling._windows),
        Keep(pooling.max_pool2d_forward),
        Derive(pooling.max_pool2d_backward, '''
            ``dx = dL/dx`` of shape ``input_shape`` (N, C, H, W), for ``dy = dL/dy`` (N, C, Ho, Wo) and the
            ``argmax`` (N, C, Ho, Wo) that ``max_pool2d_forward`` returned.
            '''),
    ),
    demo='''
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 4))
    y, argmax = max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    print("argmax", argmax)
    print("dx", max_pool2d_backward(np.ones_like(y), argmax, x.shape))
    ''',
)


def _pool_problems(rng):
    configurations = (((3, 2, 4, 4), (2, 2), (2, 2), (0, 0)),
                      ((3, 1, 5, 5), (3, 3), (2, 2), (1, 1)),
                      ((3, 2, 6, 6), (3, 3), (1, 1), (0, 0)))
    problems = []
    for shape, kernel, stride, padding in configurations:
        x = spread(rng, shape)
        y, _ = pooling.max_pool2d_forward(x, kernel, stride, padding)
        problems.append(Problem(f"x {shape}, kernel {kernel}, stride {stride}, padding {padding}", batch=shape[0],
                                x=x, dy=rng.standard_normal(y.shape), kernel=kernel, stride=stride,
                                padding=padding))
    return problems


def _pool_forward(module, p, x=None):
    return module.max_pool2d_forward(p.x if x is None else x, p.kernel, p.stride, p.padding)


def _pool_answers(module, p, path):
    _, argmax = _pool_forward(module, p)
    return {"dx": attempt(module.max_pool2d_backward, p.dy, argmax, p.x.shape, path=path)}


def _pool_truth(module, p):
    x = p.x.copy()
    return central_differences(lambda: float(np.sum(p.dy * _pool_forward(module, p, x)[0])), {"dx": x})


def _pool_oracle(bridge, p):
    return {"dx": bridge.layer_gradients(MaxPool2D(p.kernel, p.stride, p.padding), p.x, p.dy)["x"]}


def _pool_clues(module, p):
    n, c, h, w = p.x.shape
    _, argmax = _pool_forward(module, p)
    wins = np.array([np.bincount(plane, minlength=h * w) for plane in argmax.reshape(n * c, -1)])
    shared = (wins >= 2).reshape(p.x.shape)
    masks = (("the pixels that are the maximum of two or more overlapping windows", shared,
              "There the gradients of all the windows the pixel wins must add up: an assignment, or += on an "
              "index array with repeated indices, keeps only one of them (np.add.at adds them all)"),)
    return {"dx": Clue(masks=masks, factors={1 / (p.kernel[0] * p.kernel[1]): (
        "divided by the window size: the maximum passes dy on whole to one pixel (average pooling would share "
        "it among the window)")})}


MAXPOOL2D_BACKWARD = Exercise(
    name="maxpool2d-backward",
    title="MaxPool2D backward",
    teaches="the gradient of a maximum goes to the one pixel that won, and overlapping windows add up there",
    template=MAXPOOL,
    problems=_pool_problems,
    answers=_pool_answers,
    truth=_pool_truth,
    forward=_pool_forward,
    oracle=_pool_oracle,
    clues=_pool_clues,
)

# ----------------------------------------------------------------------------------------------
# UpSampling2D
# ----------------------------------------------------------------------------------------------

UPSAMPLING = Template(
    doc='''
    UpSampling2D backward: derive the gradients of nearest and bilinear upsampling.

    Below is npae's reference upsampling (npae/backends/reference/upsampling.py): both forward passes as npae's
    reference backend runs them, and their backward passes removed. x is (N, C, H, W), the integer scale
    (sh, sw), and y (N, C, H sh, W sw):

    - nearest: y[n, c, i, j] = x[n, c, i // sh, j // sw];
    - bilinear (align_corners=False, as PyTorch): y = A_h x A_w^T for each plane, where row i of A_h
      (interpolation_matrix) holds the weights of the two input rows that output row i reads (bilinear_taps).

    Given dy = dL/dy (N, C, H sh, W sw), derive for each

        upsample_nearest_backward(dy, scale)  -> dx = dL/dx   (N, C, H, W)
        upsample_bilinear_backward(dy, scale) -> dx = dL/dx   (N, C, H, W)
    ''',
    imports=("import numpy as np", "", "import npae"),
    pieces=(
        Keep(upsampling.upsample_nearest),
        Derive(upsampling.upsample_nearest_backward, '''
            ``dx = dL/dx`` (N, C, H, W) of nearest upsampling by ``scale = (sh, sw)``, for ``dy = dL/dy``
            (N, C, H sh, W sw).
            '''),
        Keep(upsampling.bilinear_taps),
        Keep(upsampling.interpolation_matrix),
        Keep(upsampling.upsample_bilinear),
        Derive(upsampling.upsample_bilinear_backward, '''
            ``dx = dL/dx`` (N, C, H, W) of bilinear upsampling by ``scale = (sh, sw)``, for ``dy = dL/dy``
            (N, C, H sh, W sw).
            '''),
    ),
    demo='''
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    dy = np.ones((1, 1, 4, 6))
    print("nearest  dx", upsample_nearest_backward(dy, (2, 2)))
    print("bilinear dx", upsample_bilinear_backward(dy, (2, 2)))
    ''',
)

MODES = {"dx (nearest)": "upsample_nearest", "dx (bilinear)": "upsample_bilinear"}


def _upsampling_problems(rng):
    problems = []
    for shape, scale in (((3, 2, 3, 3), (2, 2)), ((3, 1, 2, 3), (2, 3)), ((3, 2, 3, 4), (3, 2))):
        out = shape[:2] + (shape[2] * scale[0], shape[3] * scale[1])
        problems.append(Problem(f"x {shape}, scale {scale}", batch=shape[0], x=spread(rng, shape),
                                dy=rng.standard_normal(out), scale=scale))
    return problems


def _upsampling_answers(module, p, path):
    return {tensor: attempt(getattr(module, f"{name}_backward"), p.dy, p.scale, path=path)
            for tensor, name in MODES.items()}


def _upsampling_truth(module, p):
    truth = {}
    for tensor, name in MODES.items():
        x = p.x.copy()
        upsample = getattr(module, name)
        truth.update(central_differences(lambda: float(np.sum(p.dy * upsample(x, p.scale))), {tensor: x}))
    return truth


def _upsampling_oracle(bridge, p):
    return {tensor: bridge.layer_gradients(UpSampling2D(p.scale, mode=name.split("_")[1]), p.x, p.dy)["x"]
            for tensor, name in MODES.items()}


def _upsampling_clues(module, p):
    (sh, sw), block = p.scale, 1 / (p.scale[0] * p.scale[1])
    copies = ("averaged each sh x sw block: x[r, q] was copied to every entry of its block, and each copy passes "
              "its dy on whole, so they add up")
    weights = ("divided by the block size: the adjoint sends each dy entry back with the weights it was read with, "
               "and nothing else")
    edge = ("At the edges the source coordinate is clamped: an output row beyond the centre of the first (last) "
            "input row reads that row alone, with weight 1")
    one_entry = ("took one entry of each sh x sw block: every entry of the block is a copy of x[r, q], so every "
                 "one of them passes its dy back to it")
    return {"dx (nearest)": Clue(factors={block: copies}, mistakes=((one_entry, p.dy[:, :, ::sh, ::sw]),)),
            "dx (bilinear)": Clue(masks=(("the border of the image (first and last rows and columns)",
                                          border(p.x.shape), edge),), factors={block: weights})}


UPSAMPLING2D_BACKWARD = Exercise(
    name="upsampling2d-backward",
    title="UpSampling2D backward (nearest and bilinear)",
    teaches="the backward pass of a linear map is its adjoint: copies add up, interpolation weights go back",
    template=UPSAMPLING,
    problems=_upsampling_problems,
    answers=_upsampling_answers,
    truth=_upsampling_truth,
    forward=lambda module, p: tuple(getattr(module, name)(p.x, p.scale) for name in MODES.values()),
    oracle=_upsampling_oracle,
    clues=_upsampling_clues,
)
