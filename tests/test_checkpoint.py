"""Checkpoints: an interrupted run (Ctrl-C, SIGKILL, a failed write) resumed with ``resume=True`` ends with
bit-identical weights and the same history as an uninterrupted run with the same seed.

The model draws randomness in three places (shuffling, the autoencoder's masking corruption from the loop's
Generator, and a Gaussian-noise layer with its own Generator) and uses SGD with momentum (optimizer state)
and early-stopping bookkeeping, so every piece of state a checkpoint must carry is exercised.
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import npae
from npae import SGD, Adam, Dense, HeldOutBound, ReLU, Sequential, Sigmoid, StagedDecay, StepDecay
from npae import GaussianNoise, MaskingNoise
from npae.models import Autoencoder
from npae.models.vae import VAE
from npae.models.zoo import mlp
from npae.io import encode_json, read_archive
from npae.training import Checkpoint, TrainingInterrupted
from npae.training.checkpoint import STATE_KEY

EPOCHS = 6
STEPS_PER_EPOCH = 4
REPO = pathlib.Path(__file__).resolve().parents[1]


def build(in_features=8):
    encoder = Sequential([GaussianNoise(0.1, rng=5), Dense(in_features, 6, rng=1), ReLU(), Dense(6, 3, rng=2)])
    decoder = Sequential([Dense(3, 6, rng=3), ReLU(), Dense(6, in_features, rng=4), Sigmoid()])
    return Autoencoder(encoder, decoder, corruption=MaskingNoise(0.25))


def deeper_difference():
    """``build()`` with its decoder's hidden width changed: past the first 300 characters of the config."""
    encoder = Sequential([GaussianNoise(0.1, rng=5), Dense(8, 6, rng=1), ReLU(), Dense(6, 3, rng=2)])
    decoder = Sequential([Dense(3, 5, rng=3), ReLU(), Dense(5, 8, rng=4), Sigmoid()])
    return Autoencoder(encoder, decoder, corruption=MaskingNoise(0.25))


def data():
    X = np.random.default_rng(0).random((40, 8)).astype(np.float32)
    return X[:32], X[32:]


def train(model, checkpoint_dir=None, resume=False, X=None, **overrides):
    X_train, X_val = data()
    settings = dict(
        epochs=EPOCHS, batch_size=32 // STEPS_PER_EPOCH, validation_data=X_val, patience=50, seed=3, verbose=0,
        optimizer=SGD(0.1, momentum=0.9),
    )
    settings.update(overrides)
    X = X_train if X is None else X
    return model.fit(X, checkpoint_dir=checkpoint_dir, resume=resume, **settings)


@pytest.fixture(scope="module")
def reference():
    """Weights and history of the uninterrupted run (no checkpoints)."""
    model = build()
    history = train(model)
    return model.get_weights(), history


def assert_same_run(model, history, reference):
    weights, ref_history = reference
    got = model.get_weights()
    assert got.keys() == weights.keys()
    for k in weights:
        assert np.array_equal(got[k], weights[k]), k
    for k in ref_history.keys():
        if k != "epoch_time":
            assert history[k] == ref_history[k], k
    assert (history.best_epoch, history.stopped_early) == (ref_history.best_epoch, ref_history.stopped_early)


def interrupt_at_call(model, monkeypatch, call):
    """Make the ``call``-th ``train_batch`` (counting from 1) raise KeyboardInterrupt, as Ctrl-C would."""
    real = model.train_batch
    calls = []

    def train_batch(*args):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(model, "train_batch", train_batch)


def checkpoint_path(directory):
    return os.path.join(directory, Checkpoint.FILENAME)


# ----------------------------------------------------------------------------------------------
# In-process interruptions
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [2, 7, 12, 21])
def test_ctrl_c_mid_epoch_then_resume(tmp_path, monkeypatch, reference, call):
    model = build()
    interrupt_at_call(model, monkeypatch, call)
    with pytest.raises(TrainingInterrupted) as info:
        train(model, tmp_path)
    done = (call - 1) // STEPS_PER_EPOCH
    step = (call - 1) % STEPS_PER_EPOCH
    assert f"interrupted by Ctrl-C during epoch {done + 1}, after step {step}" in str(info.value)
    if done == 0:
        assert "No checkpoint was written yet" in str(info.value) and not os.path.exists(checkpoint_path(tmp_path))
    else:
        assert f"after epoch {done}) is intact and the model now holds its weights" in str(info.value)
        saved = npae.load(checkpoint_path(tmp_path)).get_weights()
        assert all(np.array_equal(w, saved[k]) for k, w in model.get_weights().items())
    resumed = build()
    assert_same_run(resumed, train(resumed, tmp_path, resume=True), reference)


def test_ctrl_c_in_a_callback_before_the_epochs_checkpoint(tmp_path, reference):
    def interrupt_after_epoch_3(model, epoch, logs):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match=r"after epoch 2\) is intact"):
        train(build(), tmp_path, callbacks=[interrupt_after_epoch_3])
    resumed = build()
    assert_same_run(resumed, train(resumed, tmp_path, resume=True), reference)


def test_interrupted_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch, reference):
    real_savez = np.savez
    writes = []

    def savez_interrupted_on_third_write(f, **arrays):
        writes.append(1)
        if len(writes) == 3:
            f.write(b"PK\x03\x04 half a checkpoint")
            raise KeyboardInterrupt
        real_savez(f, **arrays)

    monkeypatch.setattr(np, "savez", savez_interrupted_on_third_write)
    with pytest.raises(TrainingInterrupted, match=r"after epoch 2\) is intact"):
        train(build(), tmp_path)
    monkeypatch.setattr(np, "savez", real_savez)
    assert sorted(os.listdir(tmp_path)) == [Checkpoint.FILENAME, Checkpoint.PREVIOUS]
    resumed = build()
    assert_same_run(resumed, train(resumed, tmp_path, resume=True), reference)


def test_stale_temporary_from_a_killed_writer_is_removed(tmp_path, reference):
    train(build(), tmp_path, epochs=2)
    stale = tmp_path / (".tmp-abc123" + Checkpoint.FILENAME)
    stale.write_bytes(b"PK\x03\x04 killed mid-write")
    resumed = build()
    assert_same_run(resumed, train(resumed, tmp_path, resume=True), reference)
    assert not stale.exists()


def test_resume_extends_a_finished_run_and_a_finished_run_stays_put(tmp_path, reference):
    train(build(), tmp_path, epochs=3)
    extended = build()
    assert_same_run(extended, train(extended, tmp_path, resume=True), reference)
    again = build()
    assert_same_run(again, train(again, tmp_path, resume=True), reference)


def test_resume_without_a_checkpoint_starts_afresh(tmp_path, reference, capsys):
    model = build()
    history = train(model, tmp_path / "new", resume=True, verbose=1)
    assert "resume: no checkpoint in" in capsys.readouterr().err
    assert_same_run(model, history, reference)


def test_checkpoint_is_a_loadable_model_of_the_last_epoch(tmp_path):
    last = {}
    train(build(), tmp_path, callbacks=[lambda m, epoch, logs: last.update(m.get_weights())])
    loaded = npae.load(checkpoint_path(tmp_path)).get_weights()
    assert loaded.keys() == last.keys() and all(np.array_equal(loaded[k], last[k]) for k in last)


def test_early_stopping_state_survives_resume(tmp_path, monkeypatch):
    settings = dict(epochs=40, patience=2, optimizer=SGD(0.5))
    straight = build()
    history = train(straight, **settings)
    assert history.stopped_early and history.best_epoch < history.epochs - 1
    interrupted = build()
    interrupt_at_call(interrupted, monkeypatch, STEPS_PER_EPOCH * (history.epochs - 1) - 1)
    with pytest.raises(TrainingInterrupted):
        train(interrupted, tmp_path, **dict(settings, optimizer=SGD(0.5)))
    resumed = build()
    resumed_history = train(resumed, tmp_path, resume=True, **dict(settings, optimizer=SGD(0.5)))
    assert_same_run(resumed, resumed_history, (straight.get_weights(), history))


def test_vae_with_warmup_and_binarisation_resumes_bit_identically(tmp_path, monkeypatch):
    """The VAE draws eps and binarised images from the loop's Generator and its beta depends on the epoch."""

    def build_vae():
        return VAE(mlp((8, 6, 4), rng=1), mlp((2, 6, 8), rng=2), latent_dim=2, binarize=True, warmup_epochs=3)

    X = data()[0]
    settings = dict(epochs=5, batch_size=8, verbose=0, seed=4)
    straight = build_vae()
    history = straight.fit(X, optimizer=SGD(0.01, momentum=0.9), **settings)
    interrupted = build_vae()
    interrupt_at_call(interrupted, monkeypatch, 11)
    with pytest.raises(TrainingInterrupted, match=r"after epoch 2\) is intact"):
        interrupted.fit(X, optimizer=SGD(0.01, momentum=0.9), checkpoint_dir=tmp_path, **settings)
    resumed = build_vae()
    resumed_history = resumed.fit(
        X, optimizer=SGD(0.01, momentum=0.9), checkpoint_dir=tmp_path, resume=True, **settings
    )
    assert_same_run(resumed, resumed_history, (straight.get_weights(), history))


def test_iwae_with_a_schedule_and_a_held_out_monitor_resumes_bit_identically(tmp_path, monkeypatch):
    """The IWAE draws (N, k, K) noise from the loop's Generator, the rate follows StagedDecay, and the monitor's
    records (its JSON file) continue across the interruption; a stale record of a later epoch is replaced."""

    def build_iwae():
        return VAE(mlp((8, 6, 4), rng=1), mlp((2, 6, 8), rng=2), latent_dim=2, binarize=True, warmup_epochs=2,
                   objective="iwae", k=3)

    X_train, X_val = data()
    X_val = (X_val > 0.5).astype(np.float32)
    settings = dict(epochs=6, batch_size=8, verbose=0, seed=4)

    def optimizer():
        return Adam(0.01, schedule=StagedDecay(6, stages=3))

    straight = build_iwae()
    monitor = HeldOutBound(X_val, every=2, k=4, n=5, seed=1)
    history = straight.fit(X_train, optimizer=optimizer(), callbacks=[monitor], **settings)
    interrupted = build_iwae()
    interrupt_at_call(interrupted, monkeypatch, 19)  # during epoch 5, after the monitor's epoch-4 record
    path = tmp_path / "held_out.json"
    with pytest.raises(TrainingInterrupted, match=r"after epoch 4\) is intact"):
        interrupted.fit(X_train, optimizer=optimizer(), checkpoint_dir=tmp_path, callbacks=[
            HeldOutBound(X_val, every=2, k=4, n=5, seed=1, path=path)], **settings)
    stale = json.loads(path.read_text()) + [{"epoch": 6, "iw_bound": 0.0, "elbo": 0.0, "gap": 0.0, "seconds": 0.0}]
    path.write_text(json.dumps(stale))  # as if a killed run had scored epoch 6 without checkpointing it
    resumed = build_iwae()
    resumed_monitor = HeldOutBound(X_val, every=2, k=4, n=5, seed=1, path=path)
    assert [r["epoch"] for r in resumed_monitor.records] == [2, 4, 6]
    resumed_history = resumed.fit(X_train, optimizer=optimizer(), checkpoint_dir=tmp_path, resume=True,
                                  callbacks=[resumed_monitor], **settings)
    assert_same_run(resumed, resumed_history, (straight.get_weights(), history))
    assert [r["epoch"] for r in resumed_monitor.records] == [2, 4, 6]
    for got, expected in zip(resumed_monitor.records, monitor.records):
        assert (got["iw_bound"], got["elbo"]) == (expected["iw_bound"], expected["elbo"])


MISMATCHES = [
    ("batch_size", dict(batch_size=4), r"batch_size=8, but this call has batch_size=4"),
    ("optimizer", dict(optimizer=SGD(0.2, momentum=0.9)), r"optimizer\.lr=0\.1, but this call has optimizer\.lr=0\.2;"),
    ("schedule", dict(optimizer=SGD(0.1, momentum=0.9, schedule=StepDecay(2))),
     r"optimizer=\{'type': 'SGD', 'lr': 0\.1, .*'schedule': 'StepDecay\(step_size=2, gamma=0\.1\)'"),
    ("data", dict(X=data()[0][::-1].copy()), r"data_crc32=\d+, but this call has data_crc32=\d+"),
    ("shuffle", dict(shuffle=False), r"shuffle=True, but this call has shuffle=False"),
    ("patience", dict(patience=3), r"patience=50, but this call has patience=3"),
]


@pytest.mark.parametrize("override, message", [m[1:] for m in MISMATCHES], ids=[m[0] for m in MISMATCHES])
def test_resume_refuses_different_settings(tmp_path, override, message):
    train(build(), tmp_path, epochs=1)
    with pytest.raises(ValueError, match=r"resume: the checkpoint .*checkpoint\.npz was written with " + message):
        train(build(), tmp_path, resume=True, **override)


def test_resume_refuses_a_different_model(tmp_path):
    train(build(), tmp_path, epochs=1)
    other = Autoencoder(Sequential([Dense(8, 2, rng=0)]), Sequential([Dense(2, 8, rng=0)]))
    with pytest.raises(ValueError, match=r"was written with model\.config\.encoder\.config\.layers=\[\{'type': "
                                         r"'GaussianNoise'.*but this call has .*layers=\[\{'type': 'Dense'"):
        train(other, tmp_path, resume=True)
    # a difference deep in a long config is shown where it is, not cut off with the start of both configs
    with pytest.raises(ValueError, match=r"with model\.config\.decoder\.config\.layers\[0\]\.config\.out_features=6, but "
                                         r"this call has model\.config\.decoder\.config\.layers\[0\]\.config\."
                                         r"out_features=5;"):
        train(deeper_difference(), tmp_path, resume=True)
    with pytest.raises(ValueError, match=r"was written with dtype='float32', but this call has dtype='float64'"):
        train(build().astype(np.float64), tmp_path, resume=True, X=data()[0].astype(np.float64))


def flip_a_bit(path):
    """Damage ``path``: one bit flipped in the weights of its first layer (the CRC-32 check finds it)."""
    raw = bytearray(pathlib.Path(path).read_bytes())
    start = raw.index(b"encoder.1.W.npy")
    raw[start + 200] ^= 0x04
    pathlib.Path(path).write_bytes(bytes(raw))


def test_corrupted_checkpoint_is_refused(tmp_path):
    train(build(), tmp_path, epochs=1)
    flip_a_bit(checkpoint_path(tmp_path))
    with pytest.raises(ValueError, match=r"resume: no checkpoint in .* can be read \(.*checkpoint\.npz: .*truncated or "
                                         r"corrupted model file.*\); pass resume=False to start over"):
        train(build(), tmp_path, resume=True)


def test_a_corrupted_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, reference, capsys):
    train(build(), tmp_path, epochs=3)
    assert Checkpoint(tmp_path).epochs_done() == 3
    flip_a_bit(checkpoint_path(tmp_path))
    resumed = build()
    with pytest.warns(RuntimeWarning, match=r"resume: the newest checkpoint cannot be read \(.*checkpoint\.npz: .*"
                      r"corrupted.*\); resuming from the previous one, .*previous-checkpoint\.npz, after epoch 2"):
        history = train(resumed, tmp_path, resume=True, verbose=1)
    assert re.search(r"resuming from .*previous-checkpoint\.npz after epoch 2", capsys.readouterr().err)
    assert_same_run(resumed, history, reference)


def test_both_checkpoints_corrupted_names_both_and_the_way_out(tmp_path):
    train(build(), tmp_path, epochs=2)
    flip_a_bit(checkpoint_path(tmp_path))
    flip_a_bit(tmp_path / Checkpoint.PREVIOUS)
    with pytest.raises(ValueError, match=r"can be read \(.*checkpoint\.npz: .*; .*previous-checkpoint\.npz: .*\); "
                                         r"pass resume=False to start over"):
        train(build(), tmp_path, resume=True)
    model = build()
    before = model.get_weights()
    history = train(model, tmp_path, resume=False, epochs=1)  # the way out works
    assert history.epochs == 1 and any(not np.array_equal(before[k], v) for k, v in model.get_weights().items())


def test_the_previous_checkpoint_is_the_epoch_before(tmp_path):
    epochs = []
    train(build(), tmp_path, epochs=3, callbacks=[lambda m, epoch, logs: epochs.append(m.get_weights())])
    previous = npae.load(tmp_path / Checkpoint.PREVIOUS).get_weights()
    assert all(np.array_equal(previous[k], v) for k, v in epochs[1].items())


def test_resuming_with_fewer_epochs_than_done_is_refused_before_anything_changes(tmp_path):
    train(build(), tmp_path, epochs=4)
    model = build()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"epochs: the checkpoint .*checkpoint\.npz has already done 4 epochs, more "
                                         r"than epochs=2: .*pass epochs >= 4 to continue it, or pass resume=False"):
        train(model, tmp_path, resume=True, epochs=2)
    assert all(np.array_equal(before[k], v) for k, v in model.get_weights().items())


def test_checkpoint_files_get_the_users_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        train(build(), tmp_path, epochs=2)
    finally:
        os.umask(previous)
    for name in (Checkpoint.FILENAME, Checkpoint.PREVIOUS):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def test_the_runs_first_loss_is_kept_for_the_divergence_guard(tmp_path):
    history = train(build(), tmp_path, epochs=1, batch_size=32)
    state = json.loads(read_archive(checkpoint_path(tmp_path))[STATE_KEY].tobytes())
    assert state["first_loss"] == pytest.approx(history["loss"][0])


STATE_EDITS = {
    "run not an object": lambda state: state.update(run=5),
    "rng not a state": lambda state: state.update(rng="x"),
    "rng state of the wrong type": lambda state: state["rng"].update(state={"state": "x", "inc": 1}),
    "history missing": lambda state: state.pop("history"),
    "epoch not a number": lambda state: state.update(epoch="a"),
    "noise generators missing": lambda state: state.update(layer_rngs={}),
    "unknown format": lambda state: state.update(format=9),
    "first loss not a number": lambda state: state.update(first_loss="big"),
    "early stopping counters missing": lambda state: state["early_stopping"].pop("waited"),
    "history records missing": lambda state: state["history"].pop("stopped_early"),
    "epoch a bool": lambda state: state.update(epoch=True),
}


@pytest.mark.parametrize("edit", STATE_EDITS.values(), ids=STATE_EDITS.keys())
def test_hand_edited_fit_state_is_refused(tmp_path, edit):
    train(build(), tmp_path, epochs=1)
    arrays = read_archive(checkpoint_path(tmp_path))
    state = json.loads(arrays[STATE_KEY].tobytes())
    edit(state)
    arrays[STATE_KEY] = encode_json(state)
    with open(checkpoint_path(tmp_path), "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ValueError, match=r"checkpoint\.npz.*pass resume=False to start over"):
        train(build(), tmp_path, resume=True)


def test_a_model_file_is_not_a_checkpoint(tmp_path):
    build().save(checkpoint_path(tmp_path))
    with pytest.raises(ValueError, match=r"no fit state record; a model file, not a checkpoint"):
        train(build(), tmp_path, resume=True)


# ----------------------------------------------------------------------------------------------
# A real process, really killed
# ----------------------------------------------------------------------------------------------


def child_main(checkpoint_dir):
    """Run in a subprocess: the same training, slowed down by a callback so it can be killed mid-run."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the parent ignores SIGINT
    train(build(), checkpoint_dir, resume=True, callbacks=[lambda *args: time.sleep(0.1)])


def run_child_until_first_checkpoint(checkpoint_dir):
    code = "import sys; sys.path.insert(0, sys.argv[1]); import test_checkpoint as t; t.child_main(sys.argv[2])"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(pathlib.Path(__file__).parent), str(checkpoint_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )
    deadline = time.monotonic() + 60
    while not os.path.exists(checkpoint_path(checkpoint_dir)):
        assert child.poll() is None, child.communicate()[1]
        assert time.monotonic() < deadline, "no checkpoint after 60 s"
        time.sleep(0.01)
    return child


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_process_resumes_bit_identically(tmp_path, reference, sig):
    child = run_child_until_first_checkpoint(tmp_path)
    child.send_signal(sig)
    _, err = child.communicate(timeout=60)
    assert child.returncode != 0, "the child finished before it was interrupted"
    if sig == signal.SIGINT:
        assert "TrainingInterrupted: training interrupted by Ctrl-C during epoch" in err
        assert "resume=True" in err
    epochs_done = Checkpoint(tmp_path).epochs_done()
    assert 1 <= epochs_done < EPOCHS
    resumed = build()
    assert_same_run(resumed, train(resumed, tmp_path, resume=True), reference)
