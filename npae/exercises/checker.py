"""``npae exercises check FILE``: run a learner's file on every problem of its exercise and say what is wrong.

For each problem the checker computes the learner's gradients and the right ones: by central finite differences
of the forward pass (always) and by PyTorch and JAX autograd (each where it is installed). Each tensor is right
when it is within ``FD_TOL`` of finite differences and ``ORACLE_TOL`` of each framework; when it is not, the
hint comes from the signature of the mistake (``diagnosis.py``). The file is right when every tensor of every
problem is.

Before the gradients, the forward pass in the file is compared with npae's: the exercise is the backward pass
of npae's forward, and finite differences read the forward pass.
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import sys
import types
from dataclasses import dataclass, field

import numpy as np

from .. import backends
from ..gradcheck.finite_differences import relative_error
from ..gradcheck.suite import ORACLES
from .diagnosis import Verdict, diagnose
from .exercise import FD_TOL, ORACLE_TOL, Failure, attempt, line_in

class ExerciseFileError(ValueError):
    """The file cannot be checked: it does not exist, does not run, or does not say which exercise it is."""


def installed_oracles():
    """``[(name, bridge)]`` for the autograd frameworks of ``npae gradcheck`` (``suite.ORACLES``) that are installed:
    ``[("PyTorch", npae.gradcheck.torch_bridge), ("JAX", npae.gradcheck.jax_bridge)]`` with both."""
    found = []
    for module, (name, _) in ORACLES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        found.append((name, importlib.import_module(f"..gradcheck.{module}_bridge", __package__)))
    return found


def _execute(module, run):
    """Run ``run(module)`` (which executes a file's code) without letting the file switch the backend for good."""
    with backends.backend(backends.get_backend()):
        run(module)
    return module


def load_file(path):
    """The learner's file, imported as a module (its ``__main__`` demo does not run)."""
    path = pathlib.Path(path).resolve()
    if not path.is_file():
        raise ExerciseFileError(f"FILE: {path} does not exist (write one with `npae exercises start NAME`)")
    spec = importlib.util.spec_from_file_location(f"npae_exercise_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        return _execute(module, spec.loader.exec_module)
    except SyntaxError as exc:
        raise ExerciseFileError(f"{path.name} has a syntax error at line {exc.lineno}: {exc.msg}") from exc
    except Exception as exc:  # noqa: BLE001 (whatever the file raises on import is the learner's to see)
        raise ExerciseFileError(f"{path.name} raised {type(exc).__name__} when imported: {exc}"
                                f"{line_in(path, exc)}") from exc


_SOLUTIONS = {}


def solution_module(exercise):
    """npae's solution of ``exercise``: its file written with npae's own code, executed as a module (once)."""
    if exercise.name not in _SOLUTIONS:
        module = types.ModuleType(f"npae_exercise_solution_{exercise.filename[:-3]}")
        code = compile(exercise.file_text(solution=True), f"<npae's {exercise.filename}>", "exec")
        _SOLUTIONS[exercise.name] = _execute(module, lambda m: exec(code, m.__dict__))
    return _SOLUTIONS[exercise.name]


def _exercise_of(module, path):
    from .catalogue import find

    name = getattr(module, "EXERCISE", None)
    if not isinstance(name, str):
        raise ExerciseFileError(
            f"{path} does not say which exercise it is (a line EXERCISE = 'NAME' at its top, as "
            "`npae exercises start NAME` writes)"
        )
    return find(name)


# ----------------------------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------------------------


@dataclass
class Row:
    """The verdict on one tensor of one problem, with its errors against each autograd framework."""

    problem: int
    tensor: str
    verdict: Verdict
    oracle_errors: dict = field(default_factory=dict)

    @property
    def right(self):
        return self.verdict.right and all(err < ORACLE_TOL for err in self.oracle_errors.values())


@dataclass
class Report:
    """Everything a check found; ``right`` is True only when every tensor of every problem is right."""

    path: str
    exercise: object
    oracles: list
    problems: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    forward_changes: list = field(default_factory=list)

    @property
    def right(self):
        return bool(self.rows) and not self.forward_changes and all(row.right for row in self.rows)

    def text(self):
        exercise = self.exercise
        compared = ", ".join(["finite differences"] + [name for name, _ in self.oracles])
        lines = [f"{self.path}: exercise {exercise.name} ({exercise.title}), compared with {compared}"]
        if self.forward_changes:
            return "\n".join(lines + [""] + self.forward_changes + ["", _forward_advice(exercise, self.path)])
        for index, label in enumerate(self.problems):
            lines += ["", f"problem {index + 1}: {label}"]
            rows = [row for row in self.rows if row.problem == index]
            width = max(len(row.tensor) for row in rows)
            lines += [_row_line(row, width) for row in rows]
        return "\n".join(lines + ["", self._verdict()])

    def _verdict(self):
        wrong = [row for row in self.rows if not row.right]
        if not wrong:
            where = "".join(f"\n    {place}" for place in self.exercise.solution_locations())
            return (f"Right: all {len(self.rows)} gradients of the {len(self.problems)} problems match. Compare "
                    f"with npae's own solution (`npae exercises start {self.exercise.name} --solution` writes it):"
                    f"{where}")
        tensors = ", ".join(dict.fromkeys(row.tensor for row in wrong))
        return (f"Not right yet: {len(wrong)} of the {len(self.rows)} gradients are wrong ({tensors}). Fix them and "
                f"check again: npae exercises check {self.path}")


def _row_line(row, width):
    name = row.tensor.ljust(width)
    if row.verdict.right and row.right:
        against = "".join(f"; {oracle} {err:.1e}" for oracle, err in row.oracle_errors.items())
        return f"  {name}  right  (max relative error {row.verdict.error:.1e} against finite differences{against})"
    if row.verdict.right:  # finite differences agree, an autograd framework does not: report the numbers
        against = ", ".join(f"{oracle} {err:.1e}" for oracle, err in row.oracle_errors.items())
        return f"  {name}  WRONG  agrees with finite differences but not with autograd: {against}"
    error = "" if np.isnan(row.verdict.error) else f" (max relative error {row.verdict.error:.2g})"
    return f"  {name}  WRONG  {row.verdict.hint}{error}"


def _forward_advice(exercise, path):
    return (f"The forward pass in {path} is not npae's any more: the exercise is its backward pass, and finite "
            f"differences read it. Put it back (`npae exercises start {exercise.name} --dir OTHER_DIR` writes a "
            "fresh copy to take it from).")


# ----------------------------------------------------------------------------------------------
# checking
# ----------------------------------------------------------------------------------------------


def _forward_change(exercise, learner, solution, problem, path):
    """None when the learner's forward pass gives npae's outputs on ``problem``, else what differs."""
    theirs = attempt(exercise.forward, learner, problem, path=path)
    if isinstance(theirs, Failure):
        if isinstance(theirs.error, NotImplementedError):  # the forward shares a function with a part to derive
            return None
        return f"problem {problem.label}: the forward pass raised {type(theirs.error).__name__}: {theirs.error}"
    ours = exercise.forward(solution, problem)
    for index, (a, b) in enumerate(zip(_as_tuple(theirs), _as_tuple(ours))):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape or relative_error(a, b) > 1e-12:
            return f"problem {problem.label}: output {index} of the forward pass differs from npae's"
    return None


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _verdict(answer, right, tol, clue, batch):
    if isinstance(answer, Failure):
        return Verdict(False, float("nan"), answer.describe())
    return diagnose(answer, right, tol, clue, batch)


def _oracle_error(answer, theirs, clue):
    if isinstance(answer, Failure):
        return float("nan")
    mine = np.asarray(answer, dtype=np.float64)
    if clue is not None and clue.broadcast_rows and mine.shape == theirs.shape[1:]:
        mine = np.broadcast_to(mine, theirs.shape)
    return relative_error(mine, theirs) if mine.shape == theirs.shape else float("nan")


def check_module(module, exercise, path, oracles, seed=0):
    """The ``Report`` on a loaded learner module (``oracles``: ``[(name, bridge)]``)."""
    solution = solution_module(exercise)
    report = Report(str(path), exercise, oracles)
    path = pathlib.Path(path).resolve()
    problems = exercise.problems(np.random.default_rng(seed))
    with backends.backend("reference"):
        report.forward_changes = [change for problem in problems
                                  if (change := _forward_change(exercise, module, solution, problem, path))]
        if report.forward_changes:
            return report
        for index, problem in enumerate(problems):
            report.problems.append(problem.label)
            answers = exercise.answers(module, problem, path)
            truth = exercise.truth(solution, problem)
            clues = exercise.clues(solution, problem) if exercise.clues else {}
            theirs = {name: exercise.oracle(bridge, problem) for name, bridge in oracles if exercise.oracle}
            for tensor, right in truth.items():
                clue = clues.get(tensor)
                tol = exercise.tolerances.get(tensor, FD_TOL)
                row = Row(index, tensor, _verdict(answers[tensor], right, tol, clue, problem.batch))
                row.oracle_errors = {name: _oracle_error(answers[tensor], gradients[tensor], clue)
                                     for name, gradients in theirs.items() if tensor in gradients}
                report.rows.append(row)
    return report


def check(path, oracles=None, seed=0):
    """Check the learner's file at ``path``; returns a ``Report`` (``report.right``, ``report.text()``).

    ``oracles``: ``[(name, bridge)]`` to compare with besides finite differences; None: every framework of
    ``ORACLES`` that is installed; ``()``: finite differences only.
    """
    module = load_file(path)
    exercise = _exercise_of(module, path)
    return check_module(module, exercise, pathlib.Path(path), installed_oracles() if oracles is None else
                        list(oracles), seed)


def main_check(path, out=None):
    """Print the report on ``path`` to ``out`` (default: ``sys.stdout``); 0 when right, 1 when not (or when the file
    cannot be checked)."""
    out = out or sys.stdout
    try:
        report = check(path)
    except ExerciseFileError as exc:
        print(f"npae exercises check: {exc}", file=out)
        return 1
    print(report.text(), file=out)
    return 0 if report.right else 1
