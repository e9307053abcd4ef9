"""npae.kernels.blas: models with Numba-threaded layers run their matrix products on the calling thread,
and OpenBLAS's thread count is back where it was afterwards."""

import threading

import numba
import numpy as np
import pytest

from npae import Conv2D, Dense, Flatten, Sequential
from npae.kernels import blas
from npae.layers.base import Layer

pytestmark = pytest.mark.skipif(blas.blas_threads() is None, reason="NumPy's BLAS is not a controllable OpenBLAS")


@pytest.fixture
def two_blas_threads():
    """OpenBLAS on 2 threads for the test (so that 1 is a visible change) and Numba on 2 threads (the case
    where the two pools compete), both restored afterwards."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs at least 2 Numba threads (NUMBA_NUM_THREADS)")
    set_threads = blas._controls[0]
    before, numba_before = blas.blas_threads(), numba.get_num_threads()
    set_threads(2)
    numba.set_num_threads(2)
    yield
    set_threads(before)
    numba.set_num_threads(numba_before)


class Probe(Layer):
    """Records OpenBLAS's thread count when its forward and backward run."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x, training=False):
        self.seen.append(blas.blas_threads())
        return x

    def backward(self, dy):
        self.seen.append(blas.blas_threads())
        return dy


def test_context_sets_one_thread_and_restores(two_blas_threads):
    with blas.products_on_calling_thread():
        assert blas.blas_threads() == 1
        with blas.products_on_calling_thread():
            assert blas.blas_threads() == 1
        assert blas.blas_threads() == 1  # the inner exit does not restore early
    assert blas.blas_threads() == 2
    with pytest.raises(RuntimeError):
        with blas.products_on_calling_thread():
            raise RuntimeError("boom")
    assert blas.blas_threads() == 2
    with blas.products_on_calling_thread(active=False):
        assert blas.blas_threads() == 2


def test_disabled_leaves_blas_alone(two_blas_threads, monkeypatch):
    monkeypatch.setattr(blas, "ENABLED", False)
    with blas.products_on_calling_thread():
        assert blas.blas_threads() == 2


def test_overlapping_entries_from_two_threads_restore_once(two_blas_threads):
    inside, release = threading.Event(), threading.Event()

    def other():
        with blas.products_on_calling_thread():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other)
    worker.start()
    inside.wait(5)
    with blas.products_on_calling_thread():
        assert blas.blas_threads() == 1
    assert blas.blas_threads() == 1  # the other thread is still inside
    release.set()
    worker.join()
    assert blas.blas_threads() == 2


def test_sequential_with_numba_threaded_layers_runs_products_on_one_thread(two_blas_threads):
    conv_net = Sequential([Conv2D(1, 2, 3, padding=1, rng=0), Probe(), Flatten(), Dense(2 * 5 * 5, 3, rng=0)])
    dense_net = Sequential([Dense(4, 3, rng=0), Probe()])
    x = np.ones((2, 1, 5, 5), np.float32)
    conv_net.backward(np.ones_like(conv_net.forward(x, training=True)))
    dense_net.backward(np.ones_like(dense_net.forward(np.ones((2, 4), np.float32), training=True)))
    assert conv_net.uses_numba_threads and not dense_net.uses_numba_threads
    assert conv_net.layers[1].seen == [1, 1]
    assert dense_net.layers[1].seen == [2, 2]
    assert blas.blas_threads() == 2


def test_one_numba_thread_leaves_blas_alone(two_blas_threads):
    numba.set_num_threads(1)
    with blas.products_on_calling_thread():
        assert blas.blas_threads() == 2
