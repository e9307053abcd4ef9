"""The fit loop's guards: divergence stops before any update, gradient clipping, early stopping, history."""

import math

import numpy as np
import pytest

from npae import SGD, Dense, Sequential, Sigmoid, Tanh
from npae.models import Autoencoder
from npae.models.zoo import dense_autoencoder
from npae.training import History, TrainingDiverged, clip_grad_norm


class RecordingSGD(SGD):
    """SGD that keeps a copy of the weights after every step and of the gradients it was given."""

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.after_step = [model.get_weights()]
        self.seen_grads = []

    def step(self, slots):
        self.seen_grads.append({name: grad.copy() for name, _, grad in slots})
        super().step(slots)
        self.after_step.append(self.model.get_weights())


def linear_output_ae(seed=0):
    """A small MSE autoencoder with an unbounded output, so a huge learning rate really diverges."""
    return dense_autoencoder(8, (6,), 3, output_activation=None, seed=seed)


@pytest.fixture
def data():
    return np.random.default_rng(0).random((32, 8)).astype(np.float32)


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_divergence_stops_before_the_bad_update(data):
    model = linear_output_ae()
    opt = RecordingSGD(model, lr=1e6)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+: the loss is not finite") as info:
        model.fit(data, epochs=5, batch_size=8, optimizer=opt, verbose=0)
    assert info.value.epoch == 1 and info.value.step == len(opt.after_step)
    assert_same_weights(model.get_weights(), opt.after_step[-1])
    assert all(np.all(np.isfinite(w)) for w in model.get_weights().values())
    assert opt.steps == info.value.step - 1


def test_divergence_names_the_first_nonfinite_gradient(data, monkeypatch):
    model = dense_autoencoder(8, (6,), 3, seed=0)
    dense = model.decoder[0]
    real_backward = dense.backward
    calls = []

    def backward_with_nan_at_third_step(dy, *args, **kwargs):
        dx = real_backward(dy, *args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            dense.grads["b"] = np.full_like(dense.grads["b"], np.nan)
        return dx

    monkeypatch.setattr(dense, "backward", backward_with_nan_at_third_step)
    opt = RecordingSGD(model, lr=0.1, momentum=0.9)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 3: the gradient of decoder\.0\.b is not finite.*"
                       r"decoder\.0\.b \(Dense\)") as info:
        model.fit(data, epochs=2, batch_size=8, optimizer=opt, verbose=0)
    assert info.value.parameter == "decoder.0.b"
    assert_same_weights(model.get_weights(), opt.after_step[2])
    assert opt.steps == 2 and all(np.all(np.isfinite(s["v"])) for s in opt.state.values())


def test_an_update_that_overflows_the_weights_is_reported_as_such(data):
    model = linear_output_ae()
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 1: the update made \w+\.\d\.[Wb] \(Dense\) non-finite "
                       r"although every gradient was finite \(learning rate 1e\+37 too large\)"):
        model.fit(data * 1e3, epochs=1, batch_size=8, optimizer=SGD(lr=1e37), verbose=0)


def test_nonfinite_validation_loss_is_divergence_too(data):
    model = linear_output_ae()
    huge = np.full((4, 8), 1e30, dtype=np.float32)  # finite, but its squared error overflows float32
    with pytest.raises(TrainingDiverged, match="epoch 1: the validation loss is inf"):
        model.fit(data, epochs=2, batch_size=8, validation_data=huge, optimizer=SGD(0.01), verbose=0)


def test_clip_grad_norm_scales_to_the_global_norm():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    slots = [(f"g{i}", None, g.copy()) for i, g in enumerate(grads)]
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    assert clip_grad_norm(slots, norm / 4) == pytest.approx(norm)
    for (_, _, clipped), g in zip(slots, grads):
        np.testing.assert_allclose(clipped, g / 4, rtol=1e-9)
    assert clip_grad_norm(slots, norm) == pytest.approx(norm / 4)  # below the threshold: unchanged
    for (_, _, clipped), g in zip(slots, grads):
        np.testing.assert_allclose(clipped, g / 4, rtol=1e-9)


def test_clip_grad_norm_does_not_overflow_in_float32():
    g = np.full(10, 1e20, dtype=np.float32)  # sum of squares overflows float32, not float64
    total = clip_grad_norm([("g", None, g)], 1.0)
    assert total == pytest.approx(math.sqrt(10) * 1e20, rel=1e-6)
    assert np.all(np.isfinite(g)) and np.sqrt(np.sum(g.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-5)


def test_fit_clips_before_the_step(data):
    plain, clipped = linear_output_ae(), linear_output_ae()
    opt_plain, opt_clip = RecordingSGD(plain, lr=0.01), RecordingSGD(clipped, lr=0.01)
    plain.fit(data, epochs=1, batch_size=32, optimizer=opt_plain, verbose=0)
    clipped.fit(data, epochs=1, batch_size=32, optimizer=opt_clip, verbose=0, clip_norm=1e-3)
    g, c = opt_plain.seen_grads[0], opt_clip.seen_grads[0]
    norm = math.sqrt(sum(float(np.sum(v.astype(np.float64) ** 2)) for v in g.values()))
    assert norm > 1e-3
    for k in g:
        np.testing.assert_allclose(c[k], g[k] * (1e-3 / norm), rtol=1e-5, atol=1e-12)
        assert c[k].dtype == np.float32


def test_clip_norm_keeps_a_large_learning_rate_finite(data):
    model = linear_output_ae()
    history = model.fit(data, epochs=3, batch_size=8, optimizer=SGD(lr=1.0), clip_norm=0.1, verbose=0)
    assert all(math.isfinite(v) for v in history["loss"])


def test_early_stopping_restores_the_best_epoch(data):
    model = linear_output_ae()
    snapshots = []
    history = model.fit(
        data, epochs=30, batch_size=8, optimizer=SGD(lr=0.5), validation_data=data[:8], patience=2,
        callbacks=[lambda m, epoch, logs: snapshots.append(m.get_weights())], verbose=0,
    )
    best = int(np.argmin(history["val_loss"]))
    assert history.stopped_early and history.best_epoch == best and history.epochs == best + 3
    assert_same_weights(model.get_weights(), snapshots[best])


def test_history_records_and_roundtrips(data, tmp_path):
    model = dense_autoencoder(8, (6,), 3, seed=0)
    history = model.fit(data, epochs=2, batch_size=8, optimizer=SGD(0.1), validation_data=data[:4], verbose=0)
    assert {"loss", "val_loss", "epoch_time"} <= set(history.keys()) and history.epochs == 2
    again = History.from_dict(history.to_dict())
    assert again.history == history.history and again.best_epoch == history.best_epoch
    history.save(tmp_path / "h.json")
    assert (tmp_path / "h.json").read_text().startswith("{")


def test_training_keeps_float64_end_to_end(data):
    model = Autoencoder(Sequential([Dense(8, 3, rng=0), Tanh()]), Sequential([Dense(3, 8, rng=1), Sigmoid()]))
    model.astype(np.float64)
    model.fit(data.astype(np.float64), epochs=1, batch_size=8, optimizer=SGD(0.1), verbose=0)
    assert all(w.dtype == np.float64 for w in model.get_weights().values())


def test_progress_output_goes_to_stderr(data, capsys):
    model = dense_autoencoder(8, (6,), 3, seed=0)
    model.fit(data, epochs=1, batch_size=8, optimizer=SGD(0.1), verbose=1)
    captured = capsys.readouterr()
    assert captured.out == "" and "epoch 1/1" in captured.err
