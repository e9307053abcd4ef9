"""`npae exercises`: every exercise's file runs, npae's solution is accepted, and typical wrong answers, written
into the file the way a learner would, are rejected with the hint their mistake deserves.

The wrong answers are checked against finite differences alone (the hint comes from them); npae's solutions are
also checked against PyTorch and JAX where installed.
"""

import re
import subprocess
import sys

import numpy as np
import pytest
from support import one_numba_thread  # noqa: F401 (tiny problems: one Numba thread)

import npae
from npae.apps.cli import main as npae_main
from npae.exercises import EXERCISES, check, find, start
from npae.exercises.checker import installed_oracles
from npae.exercises.diagnosis import diagnose, shape_hint
from npae.exercises.exercise import Clue

NAMES = [exercise.name for exercise in EXERCISES]

#: {exercise: [(what the learner wrote wrong, [(npae's line, the learner's line)], a phrase of the expected hint)]}
WRONG_ANSWERS = {
    "dense-backward": [
        ("dW transposed", [('ops.matmul(self._saved("_x").T, dy)', 'ops.matmul(dy.T, self._saved("_x"))')],
         "transposed"),
        ("db averaged over the batch", [("dy.sum(axis=0)", "dy.mean(axis=0)")], "averaged over the batch"),
        ("db not summed over the batch", [('self.grads["b"] = dy.sum(axis=0)', 'self.grads["b"] = dy')],
         "the sum over the batch is missing"),
        ("dx with W untransposed", [('ops.matmul(dy, self.params["W"].T)', 'ops.matmul(dy, self.params["W"])')],
         "W is used untransposed"),
        ("dx with the wrong sign", [('return ops.matmul(dy, self.params["W"].T)',
                                     'return -ops.matmul(dy, self.params["W"].T)')], "wrong sign"),
    ],
    "sigmoid-derivatives": [
        ("f' with the wrong sign", [("return s * (1 - s)\n", "return s * (s - 1)\n")], "wrong sign"),
        ("f'' twice too large", [("return s * (1 - s) * (1 - 2 * s)", "return 2 * s * (1 - s) * (1 - 2 * s)")],
         "twice the right answer"),
        ("f'' without the chain rule's f'", [("return s * (1 - s) * (1 - 2 * s)", "return 1 - 2 * s")],
         "the chain rule's factor f'(x) is missing"),
        ("f' from x, not s", [("return s * (1 - s)\n", "return x * (1 - x)\n")], "the input x where"),
    ],
    "tanh-derivatives": [
        ("f' from x, not tanh x", [("return 1 - t * t\n", "return 1 - x * x\n")], "the input x where"),
        ("f'' with the wrong sign", [("return -2 * t * (1 - t * t)", "return 2 * t * (1 - t * t)")], "wrong sign"),
        ("f'' without its factor 2", [("return -2 * t * (1 - t * t)", "return -t * (1 - t * t)")],
         "a factor 2 is missing"),
        ("f'' without the chain rule's f'", [("return -2 * t * (1 - t * t)", "return -2 * t")],
         "the chain rule's factor f'(x) is missing"),
    ],
    "bce-with-logits-gradient": [
        ("the wrong sign", [("return ops.sigmoid(logits) - target", "return target - ops.sigmoid(logits)")],
         "wrong sign"),
        ("the -t z term forgotten", [("return ops.sigmoid(logits) - target", "return ops.sigmoid(logits)")],
         "a term is missing"),
        ("MSE's factor 2", [("return ops.sigmoid(logits) - target", "return 2 * (ops.sigmoid(logits) - target)")],
         "twice the right answer"),
    ],
    "conv2d-backward": [
        ("dW with its channel axes swapped", [
            ("dw = np.empty((dy.shape[1], x.shape[1])", "dw = np.empty((x.shape[1], dy.shape[1])"),
            ('np.einsum("nohw,nchw->oc"', 'np.einsum("nohw,nchw->co"')], "axes 0 and 1 swapped"),
        ("dW averaged over the batch", [("    return dw\n", "    return dw / dy.shape[0]\n")],
         "averaged over the batch"),
        ("dx through a flipped kernel", [("dy, w[:, :, a, e])", "dy, w[:, :, -1 - a, -1 - e])")],
         "the kernel is flipped"),
        ("dx cropped from one side", [("dxp[:, :, ph : ph + h, pw : pw + wd]", "dxp[:, :, :h, :wd]")],
         "shifted by the padding"),
        ("dx with the wrong sign", [("+= np.einsum(\"nohw,oc->nchw\"", "-= np.einsum(\"nohw,oc->nchw\"")],
         "wrong sign"),
    ],
    "maxpool2d-backward": [
        ("an assignment where windows overlap", [
            ("np.add.at(dx, (planes, argmax.reshape(n * c, -1)), dy.reshape(n * c, -1))",
             "dx[planes, argmax.reshape(n * c, -1)] = dy.reshape(n * c, -1)")],
         "right except at the pixels that are the maximum of two or more overlapping windows"),
        ("the flat index read column-major (transposed)", [
            ("return dx.reshape(input_shape)", "return dx.reshape(n, c, w, h).transpose(0, 1, 3, 2)")],
         "axes 2 and 3 swapped"),
        ("the wrong sign", [("dy.reshape(n * c, -1))", "-dy.reshape(n * c, -1))")], "wrong sign"),
    ],
    "upsampling2d-backward": [
        ("nearest: each block averaged", [(".sum(axis=(3, 5))", ".mean(axis=(3, 5))")], "averaged each sh x sw block"),
        ("nearest: one entry of each block", [
            ("return dy.reshape(n, c, ho // scale[0], scale[0], wo // scale[1], scale[1]).sum(axis=(3, 5))",
             "return dy[:, :, :: scale[0], :: scale[1]]")], "took one entry of each sh x sw block"),
        ("bilinear: normalised by the block size", [
            ('return np.einsum("ir,ncij,jq->ncrq", a_h, dy, a_w)',
             'return np.einsum("ir,ncij,jq->ncrq", a_h, dy, a_w) / (scale[0] * scale[1])')],
         "divided by the block size"),
        ("bilinear: the edge rows' two taps assigned, not added", [
            ('return np.einsum("ir,ncij,jq->ncrq", a_h, dy, a_w)',
             'return np.einsum("ir,ncij,jq->ncrq", assigned(a_h, dy.shape[2] // scale[0], scale[0]), dy, '
             'assigned(a_w, dy.shape[3] // scale[1], scale[1]))\n\n\n'
             'def assigned(a, size, scale):\n'
             '    lo, hi, w_lo, w_hi = bilinear_taps(size, scale, a.dtype)\n'
             '    a = np.zeros_like(a)\n'
             '    a[np.arange(len(lo)), lo] = w_lo\n'
             '    a[np.arange(len(hi)), hi] = w_hi\n'
             '    return a')],
         "right except at the border of the image"),
    ],
    "kl-sparsity-gradient": [
        ("the slope with the wrong sign", [("slope = -rho / q + (1 - rho) / (1 - q)",
                                            "slope = rho / q - (1 - rho) / (1 - q)")], "wrong sign"),
        ("the slope missing a term", [("slope = -rho / q + (1 - rho) / (1 - q)", "slope = -rho / q")],
         "a term is missing"),
        ("dP/dh without the 1/N", [("(self.beta * slope / n)", "(self.beta * slope)")], "a 1/N is missing"),
        ("dP/dh without beta", [("(self.beta * slope / n)", "(slope / n)")], "beta is missing"),
    ],
    "contractive-gradient": [
        ("the factor 2 of the squares", [("W.dtype.type(2 * self.lam / a.shape[0])",
                                          "W.dtype.type(self.lam / a.shape[0])")],
         "a published derivation of the contractive autoencoder's gradient misses it too"),
        ("without the 1/N", [("W.dtype.type(2 * self.lam / a.shape[0])", "W.dtype.type(2 * self.lam)")],
         "a 1/N is missing"),
        ("dP/dW transposed", [("grad_W = scale * W * (ds * ds).sum(axis=0)",
                               "grad_W = (scale * W * (ds * ds).sum(axis=0)).T")], "transposed"),
        ("dP/da without s''", [("grad_a = scale * ds * self._activation.d2f(a) * (W * W).sum(axis=0)",
                                "grad_a = scale * ds * (W * W).sum(axis=0)")], "the factor s''(a) is missing"),
    ],
    "vae-gradient": [
        ("dlogvar through z without the 1/2", [("dz * eps * (0.5 * np.exp(0.5 * logvar))",
                                                "dz * eps * np.exp(0.5 * logvar)")], "twice the right answer"),
        ("dmu through z with the wrong sign", [("return dz.copy(), dz", "return -dz, dz")], "wrong sign"),
        ("dlogvar through z with the variance", [("dz * eps * (0.5 * np.exp(0.5 * logvar))",
                                                  "dz * eps * 0.5 * np.exp(logvar)")], "used e^{logvar}"),
        ("the KL gradient without the 1/N", [("scale = above_floor.astype(mu.dtype) / mu.shape[0]",
                                              "scale = above_floor.astype(mu.dtype)")], "a 1/N is missing"),
        ("free bits ignored", [("above_floor = per_dim > free_bits if free_bits > 0 else "
                                "np.ones(per_dim.shape, dtype=bool)", "above_floor = np.ones(per_dim.shape, "
                                                                       "dtype=bool)")],
         "right except at the latent dimensions below the free-bits floor"),
    ],
}


@pytest.fixture(scope="module")
def solutions(tmp_path_factory):
    """npae's solution file of every exercise, written once: ``{name: path}``."""
    folder = tmp_path_factory.mktemp("solutions")
    return {name: start(name, folder, solution=True) for name in NAMES}


def test_every_exercise_has_wrong_answers_to_reject():
    assert set(WRONG_ANSWERS) == set(NAMES)
    assert all(len(answers) >= 3 for answers in WRONG_ANSWERS.values())


@pytest.mark.parametrize("name", NAMES)
def test_npae_s_solution_is_right(solutions, name):
    """Against finite differences and every installed framework (PyTorch, JAX)."""
    report = check(solutions[name])
    assert report.right, report.text()
    assert {oracle for row in report.rows for oracle in row.oracle_errors} == {n for n, _ in installed_oracles()}
    assert f"Right: all {len(report.rows)} gradients of the {len(report.problems)} problems match" in report.text()


@pytest.mark.parametrize("name, what, edits, hint", [
    (name, what, edits, hint) for name, answers in WRONG_ANSWERS.items() for what, edits, hint in answers])
def test_a_typical_wrong_answer_is_rejected_with_its_hint(solutions, tmp_path, name, what, edits, hint):
    text = solutions[name].read_text()
    for ours, theirs in edits:
        assert text.count(ours) == 1, f"{name}: {ours!r} should occur once in npae's solution"
        text = text.replace(ours, theirs)
    path = tmp_path / find(name).filename
    path.write_text(text)
    report = check(path, oracles=())
    assert not report.right
    wrong = [row for row in report.rows if not row.right]
    assert any(hint in row.verdict.hint for row in wrong), f"{what}: expected {hint!r} in\n{report.text()}"
    assert report.text().splitlines()[-1].startswith("Not right yet")


@pytest.mark.parametrize("name", NAMES)
def test_the_fresh_file_runs_and_says_what_is_left_to_derive(tmp_path, name):
    backend = npae.get_backend()
    report = check(start(name, tmp_path), oracles=())
    assert not report.right and all("not derived yet: derive" in row.verdict.hint for row in report.rows)
    assert npae.get_backend() == backend  # the file switches to the reference backend only while it is checked


def test_the_learner_s_file_keeps_npae_s_forward_and_not_the_answer(tmp_path):
    text = start("conv2d-backward", tmp_path).read_text()
    assert "def conv2d_forward(x, w, b, stride, padding):" in text and "einsum(\"nchw,oc->nohw\"" in text
    assert "dxp[:, :, ph : ph + h" not in text and 'einsum("nohw,nchw->oc"' not in text
    assert 'EXERCISE = "conv2d-backward"' in text and 'npae.set_backend("reference")' in text
    vae_text = start("vae-gradient", tmp_path).read_text()
    assert "(e^{logvar} - 1) / 2" not in vae_text and "np.expm1(logvar) * scale" not in vae_text
    assert "per_dim = kl_divergence(mu, logvar).mean(axis=0)" in vae_text


def test_running_the_file_shows_the_demo(tmp_path):
    path = start("upsampling2d-backward", tmp_path, solution=True)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "nearest  dx" in done.stdout and "bilinear dx" in done.stdout


def test_a_changed_forward_pass_is_named(solutions, tmp_path):
    path = tmp_path / "dense_backward.py"
    path.write_text(solutions["dense-backward"].read_text().replace('y += self.params["b"]', 'y -= self.params["b"]'))
    report = check(path, oracles=())
    assert not report.right and report.forward_changes
    assert "The forward pass in" in report.text() and "is not npae's any more" in report.text()


def test_the_command(tmp_path, capsys):
    assert npae_main(["exercises", "list"]) == 0
    listing = capsys.readouterr().out
    assert [line.split()[1] for line in listing.splitlines() if re.match(r"\s+\d+\s", line)] == NAMES
    assert npae_main(["exercises", "start", "sigmoid-derivatives", "--dir", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert npae_main(["exercises", "start", "sigmoid-derivatives", "--dir", str(tmp_path)]) == 1
    assert "exists (your work?)" in capsys.readouterr().out
    assert npae_main(["exercises", "check", str(tmp_path / "sigmoid_derivatives.py")]) == 1
    assert "Not right yet: 4 of the 4 gradients are wrong" in capsys.readouterr().out
    assert npae_main(["exercises", "start", "sigmoid-derivatives", "--dir", str(tmp_path), "--solution"]) == 0
    capsys.readouterr()
    assert npae_main(["exercises", "check", str(tmp_path / "sigmoid_derivatives_solution.py")]) == 0
    assert "Right: all 4 gradients of the 2 problems match" in capsys.readouterr().out


def test_files_that_cannot_be_checked_say_why(tmp_path, capsys):
    assert npae_main(["exercises", "check", str(tmp_path / "missing.py")]) == 1
    assert "does not exist" in capsys.readouterr().out
    (tmp_path / "broken.py").write_text("def f(:\n")
    assert npae_main(["exercises", "check", str(tmp_path / "broken.py")]) == 1
    assert "syntax error at line 1" in capsys.readouterr().out
    (tmp_path / "other.py").write_text("x = 1\n")
    assert npae_main(["exercises", "check", str(tmp_path / "other.py")]) == 1
    assert "does not say which exercise it is" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        npae_main(["exercises", "start", "dense-forward"])
    assert "no exercise called 'dense-forward'" in capsys.readouterr().err


def test_diagnose_reads_shapes_factors_and_entries():
    right = np.arange(1.0, 7.0).reshape(2, 3)
    assert diagnose(right.copy(), right, 1e-6).right
    assert "transposed" in diagnose(right.T, right, 1e-6).hint
    assert "one gradient per sample" in shape_hint((5, 2, 3), (2, 3), batch=5)
    assert "5 times too small" in diagnose(right / 5, right, 1e-6, batch=5).hint
    assert "7/3 times the right answer" in diagnose(right * 7 / 3, right, 1e-6).hint
    assert "zero everywhere" in diagnose(np.zeros((2, 3)), right, 1e-6).hint
    assert "NaN or infinite" in diagnose(right * np.nan, right, 1e-6).hint
    corner = np.zeros((2, 3), dtype=bool)
    corner[0, 0] = True
    almost = right.copy()
    almost[0, 0] = 0.0
    clue = Clue(masks=(("the corner", corner, "Look there."),))
    assert diagnose(almost, right, 1e-6, clue).hint.startswith("right except at the corner")
    assert diagnose(np.ones(3), right, 1e-6, Clue(broadcast_rows=True)).hint.startswith("wrong almost everywhere")
