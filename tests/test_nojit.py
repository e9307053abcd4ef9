"""With ``NUMBA_DISABLE_JIT=1`` every kernel runs as plain Python (to step through in a debugger) and still
gives the references' answers. Runs in a subprocess: the flag must be set before numba is imported."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import numba, numpy as np
    assert numba.config.DISABLE_JIT
    from npae import AvgPool2D, Conv2D, Conv2DTranspose, MaxPool2D, UpSampling2D
    from npae.kernels import conv, pooling, upsampling
    from npae.kernels.conv import Convolution

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4))
    w, b = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    for stride, padding, path in [((1, 1), (1, 0), "direct"), ((1, 1), (1, 0), "gemm"), ((2, 1), (0, 1), "gemm")]:
        op = Convolution(stride, padding, path=path)
        y = op.forward(x, w, b)
        dy = rng.standard_normal(y.shape)
        dx, dw = op.backward(dy, w, (5, 4))
        np.testing.assert_allclose(y, conv.conv2d_forward_reference(x, w, b, stride, padding), atol=1e-12)
        np.testing.assert_allclose(dx, conv.conv2d_input_grad_reference(dy, w, (5, 4), stride, padding), atol=1e-12)
        np.testing.assert_allclose(dw, conv.conv2d_weight_grad_reference(x, dy, (3, 2), stride, padding)[0], atol=1e-12)

    layers = [Conv2D(3, 2, 3, padding=1, rng=0), Conv2DTranspose(3, 2, 3, stride=2, output_padding=1, rng=0),
              MaxPool2D(2), AvgPool2D(3, 1, 1), UpSampling2D(2), UpSampling2D((2, 1), "bilinear")]
    for layer in layers:
        y = layer.forward(x.astype(np.float32))
        dx = layer.backward(np.ones_like(y))
        assert y.dtype == dx.dtype == np.float32 and dx.shape == x.shape, type(layer).__name__

    y, argmax = pooling.max_pool2d_forward_reference(x, (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(MaxPool2D(2).forward(x), y)
    np.testing.assert_allclose(UpSampling2D(3, "bilinear").forward(x), upsampling.bilinear_upsample_reference(x, (3, 3)))
    print("no-jit ok")
    """
)


def test_kernels_run_without_numba_compilation():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no-jit ok" in result.stdout
