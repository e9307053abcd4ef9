"""Data larger than memory: fit, encode, reconstruct and evaluate read a memory-mapped array batch by batch.

Peak memory is measured with tracemalloc (NumPy reports its array buffers to it); pages of the mapped file are
not allocations, so the peak counts only what the code copies. Before the data checks were chunked, checking
the finiteness of X alone allocated a boolean array of N * D bytes, a quarter of the float32 data.
"""

import tracemalloc

import numpy as np
import pytest

from npae.core.checks import check_data, row_chunks, value_range
from npae.models.zoo import dense_autoencoder, mlp_vae
from npae.training.fit import _data_fingerprint

N, D = 65536, 64  # 16.8 MB of float32


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """A read-only memory map of random float32 data in [0, 1], and the same data in memory."""
    path = tmp_path_factory.mktemp("memmap") / "x.npy"
    data = np.random.default_rng(0).random((N, D), dtype=np.float32)
    np.save(path, data)
    return np.load(path, mmap_mode="r"), data


def peak_bytes(fn):
    """``(result, peak bytes allocated while fn ran)``."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def model():
    return dense_autoencoder(input_dim=D, hidden=(16,), code_dim=4, seed=0)


def test_fit_on_a_memmap_matches_fit_in_memory_and_stays_near_one_batch(mapped):
    X, in_memory = mapped
    ae, reference = model(), model()
    assert isinstance(X, np.memmap) and not X.flags.writeable
    history, peak = peak_bytes(lambda: ae.fit(X, epochs=1, batch_size=256, validation_data=X[:4096], verbose=0))
    reference.fit(in_memory, epochs=1, batch_size=256, validation_data=in_memory[:4096], verbose=0)
    for (name, a), (_, b) in zip(ae.named_parameters(), reference.named_parameters()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    model_bytes = 4 * sum(p.nbytes for _, p in ae.named_parameters())  # weights, gradients, Adam's two moments
    assert peak < model_bytes + X.nbytes / 8, f"fit allocated {peak / 1e6:.1f} MB for {X.nbytes / 1e6:.1f} MB of data"
    assert np.isfinite(history["loss"][0])


def test_encode_reconstruct_evaluate_on_a_memmap_allocate_their_output_once(mapped):
    X, in_memory = mapped
    ae = model()
    small = X.nbytes / 8
    loss, peak = peak_bytes(lambda: ae.evaluate(X, batch_size=512))
    assert peak < small and loss["loss"] == pytest.approx(ae.evaluate(in_memory)["loss"], rel=1e-6)
    codes, peak = peak_bytes(lambda: ae.encode(X, batch_size=512))
    assert peak < codes.nbytes + small
    recon, peak = peak_bytes(lambda: ae.reconstruct(X, batch_size=512))
    assert peak < recon.nbytes + small  # one output array, not batches plus their concatenation
    np.testing.assert_array_equal(recon[:512], ae.reconstruct(in_memory[:512]))  # the same first batch


def test_vae_trains_on_a_memmap(mapped):
    X, _ = mapped
    vae = mlp_vae(input_dim=D, hidden=(16,), latent_dim=2, seed=0)
    history, peak = peak_bytes(lambda: vae.fit(X[:8192], epochs=1, batch_size=256, verbose=0))
    assert np.isfinite(history["loss"][0]) and peak < X.nbytes / 8


def test_the_data_checks_read_in_chunks_and_agree_with_whole_array_answers(mapped):
    X, in_memory = mapped
    assert all(r.stop - r.start <= max(1, (1 << 20) // D) for r in row_chunks(X))
    assert value_range(X) == (float(in_memory.min()), float(in_memory.max()))
    assert check_data(X, "X") is X  # checked, not copied
    import zlib

    assert _data_fingerprint(X, None) == zlib.crc32(in_memory.data)  # chunked CRC = CRC of the whole


def test_a_memmap_of_another_dtype_is_refused_rather_than_copied(tmp_path):
    path = tmp_path / "x64.npy"
    np.save(path, np.zeros((10, D), dtype=np.float64))
    X = np.load(path, mmap_mode="r")
    with pytest.raises(TypeError, match=r"X: a memory-mapped float64 array would be copied whole .* float32"):
        model().fit(X, epochs=1, verbose=0)


def test_chunked_checks_find_non_finite_values_and_report_the_range(tmp_path):
    X = np.zeros((3000, 500), np.float32)
    X[2999, 499] = np.nan
    X[5, 5] = np.inf
    with pytest.raises(ValueError, match="X: expected finite values, got 2 NaN or infinite entries"):
        check_data(X, "X")
    X[2999, 499] = X[5, 5] = 0
    X[1234, 0] = 3.5
    with pytest.raises(ValueError, match=r"X: someone needs values in \[0, 1\], got range \[0, 3.5\]"):
        check_data(X, "X", unit_interval_for="someone")
