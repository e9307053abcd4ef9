"""The ``npae`` command line: train writes a loadable model, its history and a figure; bad options fail clearly."""

import json

import numpy as np
import pytest

import npae
from npae.apps.cli import main


def test_train_dense_writes_model_history_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--model", "dense", "--epochs", "1", "--code-dim", "8", "--n-train", "400",
                 "--n-test", "100", "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "history.json").read_text())
    assert summary["epochs"] == 1 and np.isfinite(summary["test_mse_per_pixel"])
    assert (out / "reconstructions.png").stat().st_size > 0
    model = npae.load(out / "model.npz")
    assert model.encode(np.zeros((2, 784), np.float32)).shape == (2, 8)
    assert "test MSE per pixel" in capsys.readouterr().out


def test_bad_options_exit_with_a_message(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--epochs", "0"])
    assert "--epochs: expected an int >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--model", "rnn"])
    assert "invalid choice" in capsys.readouterr().err
