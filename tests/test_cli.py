"""The ``npae`` command, called through the entry point pyproject.toml declares: each subcommand runs and writes
what it says; every option explains itself with its default; bad options fail clearly; progress output suits a
log file."""

import json

import numpy as np
import pytest

import npae
from npae.apps import cli
from npae.gradcheck import suite

from support import npae_command


def test_the_npae_script_runs_the_cli():
    assert npae_command() is cli.main


def test_train_dense_writes_model_history_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    code = npae_command()(["train", "--model", "dense", "--epochs", "1", "--code-dim", "8", "--n-train", "400",
                           "--n-test", "100", "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "history.json").read_text())
    assert summary["epochs"] == 1 and np.isfinite(summary["test_mse_per_pixel"])
    assert "train" in summary["train_data"] and "test" in summary["test_data"]
    assert (out / "reconstructions.png").stat().st_size > 0
    model = npae.load(out / "model.npz")
    assert model.encode(np.zeros((2, 784), np.float32)).shape == (2, 8)
    printed = capsys.readouterr().out
    assert "training data: 400 images of " in printed and "test data: 100 images of " in printed
    assert "test MSE per pixel" in printed and " after 1 epoch in " in printed and " min;" not in printed


def test_train_conv_through_the_entry_point(tmp_path):
    out = tmp_path / "conv"
    code = npae_command()(["train", "--model", "conv", "--epochs", "1", "--code-dim", "4", "--n-train", "200",
                           "--n-test", "50", "--batch-size", "50", "--out", str(out)])
    assert code == 0
    model = npae.load(out / "model.npz")
    assert model.encode(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 4)
    assert json.loads((out / "history.json").read_text())["model"] == "conv"


def test_gradcheck_only_through_the_entry_point(capsys):
    code = npae_command()(["gradcheck", "--only", "Sigmoid", "MSE"])
    captured = capsys.readouterr()
    assert code == 0
    rows = [line.split()[0] for line in captured.out.splitlines()[2:-1]]
    assert set(rows) == {"Sigmoid()", "MSE(reduction='mean')", "MSE(reduction='sum')"}
    assert "npae gradcheck [" in captured.err and "3/3 components checked" in captured.err


A_FILE = __file__  # a path that exists and is not a folder


@pytest.mark.parametrize("argv, message", [
    (["train", "--epochs", "0"], "npae train: error: argument --epochs: expected an int >= 1, got 0"),
    (["train", "--epochs", "two"], "argument --epochs: expected a whole number, got 'two'"),
    (["train", "--batch-size", "-5"], "argument --batch-size: expected an int >= 1, got -5"),
    (["train", "--n-train", "-5"], "argument --n-train: expected an int >= 1, got -5"),
    (["train", "--n-test", "0"], "argument --n-test: expected an int >= 1, got 0"),  # was: all 10,000
    (["train", "--lr", "-1"], "argument --lr: expected a finite number > 0, got -1.0"),
    (["train", "--lr", "nan"], "argument --lr: expected a finite number > 0, got nan"),
    (["train", "--model", "rnn"], "argument --model: invalid choice: 'rnn'"),
    (["train", "--data-dir", "no-such-folder"], "argument --data-dir: there is no folder 'no-such-folder'; expected "
                                                "the folder holding mnist/"),
    (["train", "--data-dir", A_FILE], "is a file, expected the folder holding mnist/"),
    (["train", "--out", A_FILE], "argument --out: '" + A_FILE + "' is a file, expected a folder to write into"),
    (["demo", "--out", A_FILE + "/run"], "cannot be created as a folder, because '" + A_FILE + "' is a file"),
    (["demo", "--seed", "-1"], "npae demo: error: argument --seed: expected an int >= 0, got -1"),
    (["explore", "no-such-folder"], "argument folder: there is no folder 'no-such-folder'"),
    (["explore", ".", "--code-dim", "0"], "argument --code-dim: expected an int >= 1, got 0"),
    (["gradcheck", "--seed", "-1"], "argument --seed: expected an int >= 0, got -1"),
    (["gradcheck", "--only", "Conv3D"], "argument --only: unknown components ['Conv3D']"),
])
def test_bad_options_are_refused_before_anything_runs_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        npae_command()(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_mistake_found_while_running_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    (tmp_path / "a.png").write_bytes(b"not a picture")
    monkeypatch.delenv("NPAE_TRACEBACK", raising=False)
    code = npae_command()(["explore", str(tmp_path), "--quick", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "npae explore: error: " in err and "NPAE_TRACEBACK=1" in err and "Traceback" not in err
    monkeypatch.setenv("NPAE_TRACEBACK", "1")
    with pytest.raises(ValueError):
        npae_command()(["explore", str(tmp_path), "--quick", "--out", str(tmp_path / "out")])


def _parsers():
    """``{name: parser}`` of every subcommand, the gradcheck parser included (it is built by its own module)."""
    subcommands = next(a for a in cli.make_parser()._actions if a.dest == "command").choices
    parsers = {name: p for name, p in subcommands.items() if name != "gradcheck"}
    captured = {}
    real = suite.argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):
        captured["gradcheck"] = self
        raise SystemExit(0)

    suite.argparse.ArgumentParser.parse_args = capture
    try:
        with pytest.raises(SystemExit):
            suite.main([])
    finally:
        suite.argparse.ArgumentParser.parse_args = real
    return {**parsers, **captured}


@pytest.mark.parametrize("name", ["demo", "train", "explore", "gradcheck"])
def test_every_option_has_a_description_and_its_default(name):
    parser = _parsers()[name]
    assert parser.description and len(parser.description) > 40
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help and len(action.help) > 15, action.dest
        if action.required:
            continue  # a positional argument has no default
        assert "default" in action.help, f"{name} {action.option_strings}: no default in {action.help!r}"
