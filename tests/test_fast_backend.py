"""The fast backend's own machinery: its two convolution paths, scratch memory, compiled kernels, the BLAS
thread policy, and running without compilation. (Its operations are tested against their definitions, beside
the reference backend's, in test_operations.py.)"""

import importlib
import os
import pkgutil
import platform
import subprocess
import sys
import textwrap

import numba
import numba.core.registry
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npae
from npae.backends import fast, reference
from npae.backends.fast import blas, conv, jit, winograd
from npae.backends.fast.conv import choose_path, forward_by_path, input_grad_by_path, weight_grad_by_path
from npae.backends.fast.workspace import Workspace
from test_operations import AWKWARD, close, geometries


def check_paths(geometry, out_channels, seed):
    n, c, h, w, kernel, stride, padding = geometry
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal((n, c, h, w)), rng.standard_normal((out_channels, c) + kernel)
    bias = rng.standard_normal(out_channels)
    y_ref = reference.conv2d_forward(x, weight, bias, stride, padding)
    dy = rng.standard_normal(y_ref.shape)
    dx_ref = reference.conv2d_input_grad(dy, weight, (h, w), stride, padding)
    dw_ref = reference.conv2d_weight_grad(x, dy, kernel, stride, padding)
    for path in ("gemm", "direct") if stride == (1, 1) else ("gemm",):
        assert close(forward_by_path(path, x, weight, bias, stride, padding), y_ref), path
        assert close(input_grad_by_path(path, dy, weight, (h, w), stride, padding), dx_ref), path
        assert close(weight_grad_by_path(path, x, dy, kernel, stride, padding), dw_ref), path


@given(geometries(), st.integers(1, 4), st.integers(0, 2**16))
def test_both_convolution_paths_match_the_reference(geometry, out_channels, seed):
    check_paths(geometry, out_channels, seed)


@pytest.mark.parametrize("geometry", AWKWARD)
def test_both_convolution_paths_match_the_reference_on_awkward_geometries(geometry):
    check_paths(geometry, 3, seed=1)


#: direct-path geometries with 3x3 kernels (the single-channel path fuses all nine taps) and with others
DIRECT = [
    (2, 3, 6, 5, (3, 3), (1, 1), (1, 1)),  # 'same' 3x3, odd width
    (1, 2, 3, 3, (3, 3), (1, 1), (2, 2)),  # padding larger than the kernel's half
    (2, 1, 4, 7, (3, 3), (1, 1), (0, 0)),  # no padding, one input channel
    (1, 2, 5, 4, (2, 5), (1, 1), (1, 2)),  # kernel columns not a multiple of three
    (2, 2, 7, 5, (4, 3), (1, 1), (0, 1)),
    (3, 2, 5, 6, (1, 3), (1, 1), (1, 2)),  # padding beyond the kernel: the input gradient crops its rows
]


@pytest.mark.parametrize("out_channels", [1, 4, 6, 9])
@pytest.mark.parametrize("geometry", DIRECT)
def test_direct_path_channel_blocks_and_single_channels(geometry, out_channels):
    """Output channels go through the kernels in blocks of four, the rest one at a time (a lone channel is not
    paired with itself): 1, 4, 6 and 9 channels cover a lone channel, a whole block, and blocks with 2 or 1 left."""
    check_paths(geometry, out_channels, seed=out_channels)


@pytest.mark.parametrize("stack", [1, 2, 3])
def test_direct_path_stacks_images_without_mixing_them(monkeypatch, stack):
    """The direct kernels pad several images one below the other per pass (``images_per_stack``): seven images
    in stacks of 1, 2 or 3 (the last stack short) give the reference's results, the forward pass bit for bit the
    same for every stack size, and a NaN in one image reaches no other image's output or input gradient."""
    n, c, h, w, kernel, padding = 7, 2, 5, 4, (3, 3), (1, 1)
    monkeypatch.setattr(conv, "images_per_stack", lambda out_hw, kernel_hw: stack)
    check_paths((n, c, h, w, kernel, (1, 1), padding), 5, seed=stack)
    rng = np.random.default_rng(0)
    x, weight, bias = rng.standard_normal((n, c, h, w)), rng.standard_normal((5, c) + kernel), np.zeros(5)
    alone = np.stack([forward_by_path("direct", x[i : i + 1], weight, bias, (1, 1), padding)[0] for i in range(n)])
    np.testing.assert_array_equal(forward_by_path("direct", x, weight, bias, (1, 1), padding), alone)
    x[3, 1, 2, 2] = np.nan
    y = forward_by_path("direct", x, weight, bias, (1, 1), padding)
    dx = input_grad_by_path("direct", y, weight, (h, w), (1, 1), padding)
    others = np.arange(n) != 3
    assert np.isnan(y[3]).any() and np.isfinite(y[others]).all() and np.isfinite(dx[others]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_kernels_on_threads_agree_with_the_reference(dtype):
    """Arrays of ``PARALLEL_SIZE`` values or more take the threaded kernels (the small ones of
    test_operations.py stay on the calling thread)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(fast.elementwise.PARALLEL_SIZE + 3) * 20).astype(dtype)
    dy = rng.standard_normal(x.size).astype(dtype)
    np.testing.assert_array_equal(fast.relu_backward(x, dy), reference.relu_backward(x, dy))
    x[:3] = np.nan, -0.0, np.inf
    np.testing.assert_array_equal(fast.relu(x), reference.relu(x))
    np.testing.assert_allclose(fast.sigmoid(x), reference.sigmoid(x), rtol=4 * np.finfo(dtype).eps)


def test_likelihood_of_a_large_batch_on_threads_agrees_with_small_batches_on_one():
    """From ``PARALLEL_SIZE`` logits on the float32 likelihood is shared among the threads (an IW evaluation);
    below it (a training batch, test_operations.py) it runs on the calling thread. Each row is scored by the
    same loops either way, so the bits agree."""
    rng = np.random.default_rng(0)
    rows = 2 * (fast.elementwise.PARALLEL_SIZE // (2 * 784) + 10)
    logits = (rng.standard_normal((rows, 784)) * 3).astype(np.float32)
    x = (rng.random((rows // 2, 784)) < 0.5).astype(np.float32)
    threaded = fast.bernoulli_nll_of_samples(logits, x, 2)
    serial = np.concatenate([fast.bernoulli_nll_of_samples(logits[r : r + 40], x[r // 2 : (r + 40) // 2], 2)
                             for r in range(0, rows, 40)])
    np.testing.assert_array_equal(threaded, serial)
    np.testing.assert_allclose(threaded, reference.bernoulli_nll_of_samples(logits, x, 2), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nearest_upsampling_by_two_has_its_own_kernels_which_agree_with_the_general_ones(dtype):
    """Scale (2, 2) takes unrolled kernels; they must give what the general ones and the reference give
    (odd sizes, a non-contiguous input, and NaN and infinities passing through)."""
    from npae.backends.fast import upsampling

    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 7, 5)).astype(dtype).transpose(0, 1, 3, 2)  # (3, 2, 5, 7), not contiguous
    x[0, 0, 0, :3] = np.nan, np.inf, -np.inf
    y = fast.upsample_nearest(x, (2, 2))
    general = np.empty_like(y)
    upsampling._nearest_upsample(np.ascontiguousarray(x), 2, 2, general)
    np.testing.assert_array_equal(y, general)
    np.testing.assert_array_equal(y, reference.upsample_nearest(x, (2, 2)))
    assert y.dtype == dtype
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = fast.upsample_nearest_backward(dy, (2, 2))
    general_dx = np.empty_like(dx)
    upsampling._nearest_upsample_backward(dy, 2, 2, general_dx)
    np.testing.assert_allclose(dx, general_dx, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)
    np.testing.assert_allclose(dx, reference.upsample_nearest_backward(dy, (2, 2)), rtol=4 * np.finfo(dtype).eps,
                               atol=4 * np.finfo(dtype).eps)


def test_choose_path_takes_winograd_for_wide_3x3_same_convolutions_direct_for_narrow_and_gemm_for_the_rest():
    def path(n, c, o, hw=(14, 14), kernel=(3, 3), stride=(1, 1), padding=(1, 1)):
        return choose_path(n, c, o, hw, kernel, stride, padding)

    # the ConvAE at batch 200: its 14x14 layers take Winograd, its 28x28 ones (one channel in or out) stay direct
    assert path(200, 16, 32) == path(200, 32, 16) == "winograd"
    assert path(200, 1, 16, (28, 28)) == path(200, 16, 1, (28, 28)) == "direct"
    assert path(200, 16, 16) == path(200, 6, 96) == "direct"  # too few channel pairs; channels not in fours
    assert path(16, 16, 32) == "direct"  # too few images to keep the threads busy
    assert path(200, 16, 32, (48, 48)) == "direct"  # larger than measured
    assert path(200, 64, 64) == "winograd"
    assert path(200, 64, 64, kernel=(5, 5), padding=(2, 2)) == path(200, 64, 64, padding=(0, 0)) == "gemm"
    assert path(200, 1, 1, stride=(2, 1)) == "gemm"


#: (N, C, O, H, W) for the Winograd path: N short of a group of eight, below and above it; odd and one-pixel sides;
#: rows of eight pixels and more (a full group goes through 8x8 transposes, the last one overlapping: 9 and 14)
WINOGRAD = [(9, 4, 4, 5, 7), (17, 8, 12, 6, 6), (3, 4, 8, 1, 3), (8, 12, 4, 2, 1), (16, 4, 4, 3, 8), (8, 4, 8, 2, 9),
            (33, 16, 32, 14, 14)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", WINOGRAD)
def test_winograd_path_matches_the_reference(geometry, dtype):
    """The forward pass and the input gradient by Winograd's F(2x2, 3x3) (the weight gradient on this path is the
    direct one), in the input's dtype."""
    n, c, o, h, w = geometry
    rng = np.random.default_rng(n)
    x, weight = rng.standard_normal((n, c, h, w)).astype(dtype), rng.standard_normal((o, c, 3, 3)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    dy = rng.standard_normal((n, o, h, w)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    got = {"y": forward_by_path("winograd", x, weight, bias, (1, 1), (1, 1)),
           "dx": input_grad_by_path("winograd", dy, weight, (h, w), (1, 1), (1, 1)),
           "dW": weight_grad_by_path("winograd", x, dy, (3, 3), (1, 1), (1, 1))}
    want = {"y": reference.conv2d_forward(x, weight, bias, (1, 1), (1, 1)),
            "dx": reference.conv2d_input_grad(dy, weight, (h, w), (1, 1), (1, 1)),
            "dW": reference.conv2d_weight_grad(x, dy, (3, 3), (1, 1), (1, 1))}
    for key in got:
        assert got[key].dtype == dtype and close(got[key], want[key], tol), key
    u = np.einsum("ia,ocab,jb->ijoc", winograd.G, weight.astype(np.float64), winograd.G).reshape(16, o // 4, 4, c)
    np.testing.assert_allclose(winograd.transformed_weights(weight), u.transpose(0, 1, 3, 2).reshape(-1), rtol=tol)


def test_winograd_path_keeps_images_apart_and_gives_the_same_bits_on_any_number_of_threads():
    """The vector lanes hold eight images side by side: a NaN in one must reach no other image's outputs; and
    each group of eight images is computed whole by one thread, so one thread and two give the same bits."""
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((19, 8, 6, 5)).astype(np.float32), rng.standard_normal((8, 8, 3, 3))
    weight, bias = weight.astype(np.float32), np.zeros(8, np.float32)
    x[10, 3, 2, 2] = np.nan
    y = forward_by_path("winograd", x, weight, bias, (1, 1), (1, 1))
    others = np.arange(19) != 10
    assert np.isnan(y[10]).any() and np.isfinite(y[others]).all()
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        alone = forward_by_path("winograd", x, weight, bias, (1, 1), (1, 1))
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(alone, y)


def test_convolutional_layers_of_the_convae_agree_on_both_backends_through_the_winograd_path():
    """At 40 images the ConvAE's 14x14 convolutions take the Winograd path (the model tests train on smaller
    batches): a Conv2D layer's forward and backward passes on the fast backend agree with the reference."""
    from npae.core.layers.conv import Conv2D

    layer = Conv2D(16, 32, 3, padding=1, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((40, 16, 14, 14)).astype(np.float32)
    dy = np.random.default_rng(2).standard_normal((40, 32, 14, 14)).astype(np.float32)
    assert choose_path(40, 16, 32, (14, 14), (3, 3), (1, 1), (1, 1)) == "winograd"
    results = {}
    for name in ("reference", "fast"):
        with npae.backend(name):
            y = layer.forward(x)
            dx = layer.backward(dy)
            results[name] = (y, dx, layer.grads["W"].copy(), layer.grads["b"].copy())
    for got, want in zip(results["fast"], results["reference"]):
        assert got.dtype == np.float32 and close(got, want, 1e-5)


def test_lanes_are_single_vector_operations_on_eight_values():
    """``npae.backends.fast.lanes``: load, store, broadcast, multiply-add, add, subtract and the 8x8 transpose, as
    NumPy computes them."""
    from npae.backends.fast import lanes

    @numba.njit
    def combine(a, b, out):
        x, y = lanes.load(a, 1), lanes.load(b, 0)
        lanes.store(out, 0, lanes.muladd(lanes.splat(a, 0), x, y))
        lanes.store(out, 8, lanes.sub(lanes.add(x, y), lanes.zeros(a)))

    @numba.njit
    def transposed(block, out):
        columns = lanes.transpose(lanes.load(block, 0), lanes.load(block, 8), lanes.load(block, 16),
                                  lanes.load(block, 24), lanes.load(block, 32), lanes.load(block, 40),
                                  lanes.load(block, 48), lanes.load(block, 56))
        for j in range(8):
            lanes.store(out, 8 * j, columns[j])

    a, b = np.arange(1.0, 10.0, dtype=np.float32), np.linspace(-1, 1, 8, dtype=np.float32)
    out = np.empty(16, np.float32)
    combine(a, b, out)
    np.testing.assert_array_equal(out[:8], a[0] * a[1:9] + b)
    np.testing.assert_array_equal(out[8:], a[1:9] + b)
    for dtype in (np.float32, np.float64):
        block, out = np.arange(64, dtype=dtype), np.empty(64, dtype)
        transposed(block, out)
        np.testing.assert_array_equal(out.reshape(8, 8), block.reshape(8, 8).T)


def test_scratch_is_reused_across_calls():
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((2, 16, 6, 6)), rng.standard_normal((64, 16, 3, 3))
    fast.conv2d_forward(x, weight, np.zeros(64), (1, 1), (1, 1))  # 16 * 64 channels: the gemm path
    held = fast.conv.scratch().nbytes()
    fast.conv2d_forward(2 * x, weight, np.zeros(64), (1, 1), (1, 1))
    assert fast.conv.scratch().nbytes() == held > 0


def test_workspace_grows_and_hands_out_views():
    ws = Workspace()
    a = ws.get("buf", (2, 3), np.float32)
    b = ws.get("buf", (3,), np.float32)
    assert np.shares_memory(a, b) and b.flags.c_contiguous
    c = ws.get("buf", (4, 4), np.float32)
    assert c.shape == (4, 4) and not np.shares_memory(a, c)
    assert ws.get("buf", (2,), np.float64).dtype == np.float64
    ws.clear()
    assert ws.nbytes() == 0


def test_each_compiled_kernel_wraps_its_own_python_function():
    """Numba's on-disk cache files a compiled function under its Python function's name and line, not under
    the compile options: two dispatchers made from one function (one serial, one ``parallel=True``) load
    each other's machine code, so the "serial" one silently wakes the thread pool (or the reverse)."""
    owners = {}
    for info in pkgutil.walk_packages(npae.__path__, "npae."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, numba.core.registry.CPUDispatcher) and value.__module__ == module.__name__:
                owners.setdefault(value.py_func, set()).add(f"{module.__name__}.{name}")
    assert owners, "no Numba kernels found"
    shared = {func.__qualname__: names for func, names in owners.items() if len(names) > 1}
    assert not shared, f"dispatchers sharing one Python function (and so one cache entry): {shared}"


# ----------------------------------------------------------------------------------------------
# BLAS threads
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def two_blas_threads(monkeypatch):
    """OpenBLAS on 2 threads (so that 1 is a visible change) and Numba on 2 (the case where the pools compete);
    the policy's memory cleared, and everything put back afterwards."""
    if blas.blas_threads() is None:
        pytest.skip("NumPy's BLAS is not a controllable OpenBLAS")
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs at least 2 Numba threads (NUMBA_NUM_THREADS)")
    before, numba_before, saved = blas.blas_threads(), numba.get_num_threads(), blas._saved_threads
    monkeypatch.setattr(blas, "_saved_threads", None)
    blas.set_blas_threads(2)
    numba.set_num_threads(2)
    yield
    blas.set_blas_threads(before)
    numba.set_num_threads(numba_before)
    blas._saved_threads = saved


def test_dense_only_models_keep_blas_threads(two_blas_threads):
    with npae.backend("fast"):
        net = npae.Sequential([npae.Dense(4, 3, rng=0), npae.ReLU()])
        y = net.forward(np.ones((2, 4), np.float32), training=True)
        net.backward(np.ones_like(y))
    assert blas.blas_threads() == 2


def test_an_image_operation_puts_blas_on_one_thread_until_restored(two_blas_threads):
    with npae.backend("fast"):
        npae.backends.ops.upsample_nearest(np.ones((1, 1, 2, 2)), (2, 2))
        assert blas.blas_threads() == 1
        npae.backends.ops.matmul(np.ones((2, 2)), np.ones((2, 2)))
        assert blas.blas_threads() == 1  # products stay on the calling thread: no timing involved
    blas.restore_blas_threads()
    assert blas.blas_threads() == 2


def test_disabled_policy_leaves_blas_alone(two_blas_threads, monkeypatch):
    monkeypatch.setattr(blas, "ENABLED", False)
    blas.numba_kernels_running()
    assert blas.blas_threads() == 2


def test_one_numba_thread_leaves_blas_alone(two_blas_threads):
    numba.set_num_threads(1)
    blas.numba_kernels_running()
    assert blas.blas_threads() == 2


# ----------------------------------------------------------------------------------------------
# without compilation
# ----------------------------------------------------------------------------------------------

NO_JIT = textwrap.dedent(
    """
    import numba, numpy as np
    assert numba.config.DISABLE_JIT
    import npae
    from npae.backends import fast, reference

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4))
    w, b = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    for stride, padding in [((1, 1), (1, 0)), ((2, 1), (0, 1))]:
        y = fast.conv2d_forward(x, w, b, stride, padding)
        np.testing.assert_allclose(y, reference.conv2d_forward(x, w, b, stride, padding), atol=1e-12)
        dy = rng.standard_normal(y.shape)
        np.testing.assert_allclose(fast.conv2d_input_grad(dy, w, (5, 4), stride, padding),
                                   reference.conv2d_input_grad(dy, w, (5, 4), stride, padding), atol=1e-12)
        np.testing.assert_allclose(fast.conv2d_weight_grad(x, dy, (3, 2), stride, padding),
                                   reference.conv2d_weight_grad(x, dy, (3, 2), stride, padding), atol=1e-12)
    np.testing.assert_array_equal(fast.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))[0],
                                  reference.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))[0])
    np.testing.assert_allclose(fast.upsample_bilinear(x, (3, 3)), reference.upsample_bilinear(x, (3, 3)))
    net = npae.Sequential([npae.Conv2D(3, 2, 3, padding=1, rng=0), npae.ReLU(), npae.MaxPool2D(2),
                           npae.UpSampling2D(2, "bilinear")]).astype(np.float64)
    y = net.forward(x[:, :, :4, :4], training=True)
    assert net.backward(np.ones_like(y)).shape == (2, 3, 4, 4)
    print("no-jit ok")
    """
)


def test_the_fast_backend_runs_without_numba_compilation():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", NPAE_BACKEND="fast")
    result = subprocess.run([sys.executable, "-c", NO_JIT], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no-jit ok" in result.stdout


SPIN_SETTING = "import os, npae.backends.fast; print(os.getenv('GOMP_SPINCOUNT'), os.getenv('OMP_WAIT_POLICY'))"


@pytest.mark.parametrize("given, expected", [
    ({}, f"{jit.SPIN_COUNT} None"),  # nothing set: a short spin
    ({"OMP_WAIT_POLICY": "passive"}, "None passive"),  # the user's choices stand
    ({"GOMP_SPINCOUNT": "0"}, "0 None"),
    ({"NUMBA_THREADING_LAYER": "workqueue"}, "None None"),  # no OpenMP pool: nothing to set
])
def test_openmp_threads_spin_briefly_between_loops_unless_the_user_chose(given, expected):
    chosen = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "NUMBA_THREADING_LAYER")
    env = {k: v for k, v in os.environ.items() if k not in chosen}
    result = subprocess.run([sys.executable, "-c", SPIN_SETTING], env=dict(env, **given), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == expected.split()


PAGE_FAULTS = textwrap.dedent(
    """
    import resource
    import numpy as np
    import npae.backends.fast as fast

    def step():  # a training step's pattern: large arrays written, then all freed
        arrays = [np.ones(10 << 18, np.float32) for _ in range(3)]  # 10 MiB each
        del arrays

    step(); step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    print(fast.memory.TUNED, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
    """
)


def faults_per_step(**env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    result = subprocess.run([sys.executable, "-c", PAGE_FAULTS], env=dict(environ, **env), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    tuned, faults = result.stdout.split()
    return tuned == "True", float(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the malloc thresholds are glibc's")
def test_freed_memory_stays_in_the_process_so_steps_do_not_fault_pages_in_again():
    """glibc on its own gives the 30 MiB back after every step (2,560 pages; 1,000 faults measured here);
    with the fast backend loaded the step reuses its memory. NPAE_MALLOC_TUNING=0, or thresholds of the
    user's own, leave malloc alone."""
    assert faults_per_step() == (True, pytest.approx(0, abs=50))
    tuned, faults = faults_per_step(NPAE_MALLOC_TUNING="0")
    assert not tuned and faults > 500
    assert faults_per_step(MALLOC_TRIM_THRESHOLD_="1000000")[0] is False
