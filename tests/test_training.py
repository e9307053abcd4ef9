"""The fit loop's guards: divergence stops before any update, gradient clipping, early stopping, history."""

import io
import math

import numpy as np
import pytest

from npae import SGD, Adam, Dense, Sequential, Sigmoid, Tanh
from npae.models import Autoencoder
from npae.models.zoo import dense_autoencoder
from npae.training import History, TrainingDiverged, clip_grad_norm, parameter_slots, train_step
from npae.training.history import ProgressBar, format_duration, plural
from npae.training.step import StepGuard
import npae.training.history


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


class RecordingAdam(Adam):
    """Adam that keeps a copy of the weights after every step."""

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.after_step = [model.get_weights()]

    def step(self, slots):
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


def test_an_update_that_would_overflow_the_weights_is_undone(data):
    model = linear_output_ae()
    before = model.get_weights()
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 1: the update would have made \w+\.\d\.[Wb] \(Dense\) "
                       r"non-finite although every gradient was finite \(learning rate 1e\+37 too large\)\. The "
                       r"update was undone"):
        model.fit(data * 1e3, epochs=1, batch_size=8, optimizer=SGD(lr=1e37), verbose=0)
    assert_same_weights(model.get_weights(), before)


@pytest.mark.parametrize("make_optimizer", [
    lambda: SGD(lr=1e40), lambda: SGD(lr=1e40, momentum=0.9), lambda: Adam(lr=1e40), lambda: Adam(lr=1e39),
], ids=["sgd", "momentum", "adam 1e40", "adam 1e39"])
def test_a_huge_learning_rate_leaves_the_weights_of_the_last_finite_step(data, make_optimizer):
    model = linear_output_ae()
    opt = make_optimizer()
    model.fit(data, epochs=1, batch_size=8, optimizer=opt.__class__(lr=1e-3), verbose=0)  # some history first
    opt.load_state_dict({k: v.copy() for k, v in model.optimizer.state_dict().items()} | {"__lr": np.array(opt.lr)})
    before, state_before = model.get_weights(), {k: v.copy() for k, v in opt.state_dict().items()}
    with pytest.raises(TrainingDiverged, match=r"The update was undone: the weights and optimizer state are those "
                                               r"after the last finite step"):
        model.fit(data, epochs=1, batch_size=8, optimizer=opt, verbose=0)
    assert_same_weights(model.get_weights(), before)
    assert opt.steps == int(state_before["__steps"])
    for key, value in opt.state_dict().items():
        assert np.array_equal(value, state_before[key]), key


def test_a_gradient_whose_square_overflows_cannot_poison_adams_state(data):
    model = linear_output_ae()
    opt = Adam(1e-3)
    guard = StepGuard()
    model.train_batch(data, None, np.random.default_rng(0))
    slots = parameter_slots(model)
    slots[0][2][...] = 1e20  # finite in float32, but its square is not: v would become inf
    guard.check_loss_and_gradients(model, 1.0, slots, data)
    before = model.get_weights()
    with pytest.raises(TrainingDiverged, match=r"would have made the optimizer state of encoder\.0\.W non-finite"):
        guard.apply_update(model, opt, slots)
    assert_same_weights(model.get_weights(), before)
    assert opt.state == {} and opt.steps == 0


def test_a_guarded_step_is_bit_identical_to_the_optimizers_own(data):
    """The guard only watches: the weights after guarded steps are those of plain optimizer steps."""
    guarded, plain = linear_output_ae(), linear_output_ae()
    opt_guarded, opt_plain = Adam(1e-2), Adam(1e-2)
    rng_guarded, rng_plain = np.random.default_rng(0), np.random.default_rng(0)
    guard = StepGuard()
    for _ in range(5):
        train_step(guarded, opt_guarded, data, None, rng_guarded, guard=guard)
        plain.train_batch(data, None, rng_plain)
        opt_plain.step(parameter_slots(plain))
    assert_same_weights(guarded.get_weights(), plain.get_weights())


@pytest.mark.parametrize("make_optimizer", [
    lambda: SGD(0.3), lambda: SGD(0.3, momentum=0.9), lambda: SGD(0.3, momentum=0.9, nesterov=True),
    lambda: Adam(0.3), lambda: Adam(0.3, beta1=0.5, beta2=0.6), lambda: Adam(0.3, eps=1e-3),
], ids=["sgd", "momentum", "nesterov", "adam", "adam betas", "adam eps"])
def test_max_change_bounds_every_change_of_a_step(make_optimizer):
    """The guard applies a step in place only when ``max_change`` is small: it must bound the real change."""
    rng = np.random.default_rng(3)
    opt = make_optimizer()
    params = {"a": rng.standard_normal((4, 5)), "b": rng.standard_normal(7)}
    for step in range(60):
        scale = 10.0 ** rng.integers(-6, 6)  # gradients that jump across scales, the hard case for Adam
        grads = {k: scale * rng.standard_normal(p.shape) for k, p in params.items()}
        bound = opt.max_change({k: float(np.linalg.norm(g)) for k, g in grads.items()})
        before = {k: p.copy() for k, p in params.items()}
        opt.step([(k, params[k], grads[k]) for k in params])
        largest = max(float(np.max(np.abs(params[k] - before[k]))) for k in params)
        assert largest <= bound * (1 + 1e-9), (step, largest, bound)


def test_a_loss_that_explodes_without_overflowing_stops_training(data):
    model = linear_output_ae()
    opt = RecordingAdam(model, lr=100.0)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+: the loss \S+ is more than max_loss_growth=10000 "
                       r"times the run's first loss \(0\.\d+\): training is diverging\. Nothing was updated by this "
                       r"step .* pass max_loss_growth=None to fit to turn this check off") as info:
        model.fit(data, epochs=5, batch_size=8, optimizer=opt, verbose=0)
    assert info.value.step == len(opt.after_step) and opt.steps == info.value.step - 1
    assert_same_weights(model.get_weights(), opt.after_step[-1])


def test_the_loss_growth_limit_can_be_set_or_turned_off(data):
    with pytest.warns(RuntimeWarning):  # what it does instead: it stops learning (its ReLUs die)
        history = linear_output_ae().fit(data, epochs=5, batch_size=8, optimizer=Adam(100.0), verbose=0,
                                         max_loss_growth=None)
    assert max(history["loss"]) > 1e10 and all(math.isfinite(v) for v in history["loss"])
    with pytest.raises(TrainingDiverged, match="max_loss_growth=2 times"):
        linear_output_ae().fit(data, epochs=3, batch_size=8, optimizer=SGD(3.0), verbose=0, max_loss_growth=2)
    with pytest.raises(ValueError, match=r"max_loss_growth: expected a finite number > 1, got 0\.5"):
        linear_output_ae().fit(data, epochs=1, optimizer=SGD(0.1), verbose=0, max_loss_growth=0.5)


def test_a_healthy_run_is_not_stopped_by_the_growth_limit(data):
    history = linear_output_ae().fit(data, epochs=20, batch_size=8, optimizer=Adam(1e-2), verbose=0)
    assert history.epochs == 20


def test_a_non_finite_first_loss_blames_the_data_and_shows_its_range(data):
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 1: the loss is not finite .* before any update, so "
                       r"neither the learning rate nor training is the cause: the data or the model as given is\. "
                       r"This batch's values range over \[\S+e\+18, \S+e\+19\]; scale the data"):
        linear_output_ae().fit(data * 1e20, epochs=1, batch_size=8, optimizer=Adam(1e-3), verbose=0)


def test_a_non_finite_loss_after_updates_blames_the_learning_rate(data):
    with pytest.raises(TrainingDiverged, match=r"the loss is not finite .*\. The weights and optimizer state are "
                                               r"those after the last finite step; try a lower learning rate"):
        linear_output_ae().fit(data, epochs=5, batch_size=8, optimizer=SGD(lr=1e6), verbose=0)


def test_a_network_whose_gradients_all_vanish_gets_a_warning():
    """The issue's case: Adam(lr=10) kills every ReLU and saturates the sigmoid output; the loss freezes."""
    X = np.random.default_rng(0).random((200, 784)).astype(np.float32)
    model = dense_autoencoder(code_dim=8, seed=0)
    with pytest.warns(RuntimeWarning, match=r"epoch 2: every gradient has been zero for 4 steps in a row \(a whole "
                      r"epoch\): that part of the network has stopped learning\. .*ReLUs that output 0 .* lr=10"):
        model.fit(X, epochs=3, batch_size=50, optimizer=Adam(10.0), verbose=0)


def test_a_dead_encoder_is_named(data):
    model = linear_output_ae()
    for name, param in model.named_parameters():
        if name == "encoder.0.b":
            param[...] = -100.0  # every hidden ReLU of the encoder outputs 0: no gradient reaches the encoder
    with pytest.warns(RuntimeWarning, match=r"epoch 1: every gradient of the encoder has been zero for 4 steps"):
        model.fit(data, epochs=1, batch_size=8, optimizer=SGD(0.01), verbose=0)


def test_a_healthy_network_gets_no_warning(data, recwarn):
    linear_output_ae().fit(data, epochs=5, batch_size=8, optimizer=Adam(1e-2), verbose=0)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_nonfinite_validation_loss_is_divergence_too(data):
    model = linear_output_ae()
    huge = np.full((4, 8), 1e30, dtype=np.float32)  # finite, but its squared error overflows float32
    with pytest.raises(TrainingDiverged, match=r"epoch 1: the validation loss is inf although the training loss was "
                       r"finite\. Either the validation data \(values in \[1e\+30, 1e\+30\]\) are not scaled like "
                       r"the training data, or training diverged"):
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


def test_progress_is_one_line_per_epoch_when_not_a_terminal(data, capsys):
    dense_autoencoder(8, (6,), 3, seed=0).fit(data, epochs=3, batch_size=4, optimizer=SGD(0.1), verbose=1)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"epoch {i}/3 [") for i, line in enumerate(lines, start=1))
    assert all(" 8/8 loss " in line for line in lines)


def test_progress_redraws_in_place_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = ProgressBar(4, "epoch 1/1", stream=stream)
    for step in range(1, 5):
        bar.update(step, f"loss {step}", force=True)
    bar.close("loss 4 val_loss 3")
    text = stream.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1


def test_a_log_gets_a_line_at_most_every_log_every_seconds(monkeypatch):
    clock = iter([0.0, 1.0, 6.0, 7.0, 12.5, 13.0])
    monkeypatch.setattr(npae.training.history.time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    bar = ProgressBar(10, "npae gradcheck", stream=stream, log_every=5.0)
    for done in range(1, 5):
        bar.update(done, "components checked")
    bar.close("components checked")
    assert [line.split("] ")[1] for line in stream.getvalue().splitlines()] == [
        "2/10 components checked 6.0 s", "4/10 components checked 12 s", "10/10 components checked 13 s",
    ]


@pytest.mark.parametrize("seconds, text", [
    (0.04, "0.0 s"), (4.26, "4.3 s"), (42.4, "42 s"), (185, "3 min 05 s"), (3725, "1 h 02 min"),
])
def test_durations_read_as_a_person_would_say_them(seconds, text):
    assert format_duration(seconds) == text
    assert plural(1, "epoch") == "1 epoch" and plural(3, "epoch") == "3 epochs"
