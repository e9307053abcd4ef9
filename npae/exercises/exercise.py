"""What an exercise is: its file (a ``Template``), small problems, and how to read answers and the truth from them.

An ``Exercise`` runs on a *module*: the learner's file, imported, or npae's solution (the same file written with
npae's own code). Its functions take such a module and a ``Problem``:

- ``answers(module, problem, path)``: the learner's gradients, ``{tensor: array}`` (a ``Failure`` where their code
  raised; ``path`` is the file, to name the line);
- ``truth(module, problem)``: the same gradients by central finite differences of the forward pass;
- ``oracle(bridge, problem)``: the same by autograd, ``bridge`` being ``npae.gradcheck.torch_bridge`` or
  ``jax_bridge`` (None: no autograd counterpart);
- ``forward(module, problem)``: the forward pass's outputs, to check that the learner's file still has npae's;
- ``clues(module, problem)``: ``{tensor: Clue}``, what the diagnosis should know about each tensor of this
  problem (entries where a mistake hides, factors with a meaning, known wrong answers).
"""

from __future__ import annotations

import textwrap
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..gradcheck.finite_differences import numerical_gradient
from .template import Derive, Subclass, Template, location, render

#: central-difference step and the max relative error below which a gradient counts as right (float64)
FD_STEP = 1e-6
FD_TOL = 1e-6
#: the same against PyTorch and JAX, exact up to rounding
ORACLE_TOL = 1e-8


class Problem:
    """One small problem: a ``label`` for the report, the batch size ``batch`` (None: no batch) and named data
    (arrays and settings), read as attributes: ``problem.x``, ``problem.stride``."""

    def __init__(self, label, batch=None, **data):
        self.label = label
        self.batch = batch
        self.data = data

    def __getattr__(self, name):
        data = self.__dict__.get("data", {})
        if name in data:
            return data[name]
        raise AttributeError(f"problem {self.__dict__.get('label')!r} has no {name!r}")


@dataclass(frozen=True)
class Failure:
    """The learner's code raised ``error`` (``where``: the line of their file, when it is in the traceback)."""

    error: BaseException
    where: str = ""

    def describe(self):
        kind = type(self.error).__name__
        if isinstance(self.error, NotImplementedError):
            return f"not derived yet: {self.error}{self.where}"
        return f"your code raised {kind}: {self.error}{self.where}"


def line_in(path, error):
    """`` (line 12: the code)``: the last line of the file ``path`` that ``error`` passed through (not counting the
    ``derive`` helper, which stands for the learner's expression), or ``""``; the line number alone for a part not
    derived yet."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if frame.filename == str(path) and frame.name != "derive"]
    if not frames:
        return ""
    if isinstance(error, NotImplementedError):
        return f" (line {frames[-1].lineno})"
    return f" (line {frames[-1].lineno}: {frames[-1].line})"


def attempt(fn, *args, path=None):
    """``fn(*args)``, or a ``Failure`` holding what it raised (and the last line of ``path`` it passed through)."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 (anything a learner's code raises is reported, not re-raised)
        return Failure(exc, line_in(path, exc) if path is not None else "")


def part(outcome, index, path):
    """``outcome[index]``, or the ``Failure`` that ``outcome`` is (or that indexing it raised)."""
    return outcome if isinstance(outcome, Failure) else attempt(lambda: outcome[index], path=path)


def unless_failed(outcome, value):
    """``value``, or ``outcome`` itself when it is a ``Failure`` (then every answer it gives is that failure)."""
    return outcome if isinstance(outcome, Failure) else value


@dataclass(frozen=True)
class Clue:
    """What the diagnosis of one tensor should know beyond the right answer.

    - ``masks``: ``[(description, mask, advice)]``, sets of entries where a typical mistake hides (the padding
      border, pixels shared by overlapping windows, latent dimensions below a floor);
    - ``factors``: ``{factor: meaning}``, constant factors that mean something in this problem (``1/(KH KW)``);
    - ``terms``: ``{name: array}``, terms a wrong answer may lack or have too many of;
    - ``mistakes``: ``[(hint, wrong answer)]``, known wrong answers computed with npae's code;
    - ``broadcast_rows``: an answer of one row, shared by every sample, stands for the whole (N, ...) array.
    """

    masks: tuple = ()
    factors: dict = field(default_factory=dict)
    terms: dict = field(default_factory=dict)
    mistakes: tuple = ()
    broadcast_rows: bool = False


@dataclass(frozen=True)
class Exercise:
    """One exercise: its name, what it teaches, the learner's file and how to check it (see the module docstring).

    ``tolerances``: ``{tensor: max relative error}`` where finite differences are less accurate than ``FD_TOL``
    (a second derivative).
    """

    name: str
    title: str
    teaches: str
    template: Template
    problems: Callable
    answers: Callable
    truth: Callable
    forward: Callable
    oracle: Callable | None = None
    clues: Callable | None = None
    tolerances: dict = field(default_factory=dict)

    @property
    def filename(self):
        """The learner's file: ``dense_backward.py``."""
        return self.name.replace("-", "_") + ".py"

    def solution_locations(self):
        """Where npae defines each piece the learner derives: ``["npae/core/layers/dense.py:47 Dense.backward"]``."""
        return [location(piece.obj) for piece in _derived_pieces(self.template.pieces)]

    def file_text(self, solution=False):
        """The learner's file (``solution``: the same file holding npae's own code where the learner derives)."""
        where = "\n".join(f"    {place}" for place in self.solution_locations())
        if solution:
            paragraphs = ["This is npae's own solution, the code of", where,
                          f"Check it like yours: npae exercises check {self.filename[:-3]}_solution.py"]
        else:
            paragraphs = [
                "Edit the parts to derive (each docstring says what to compute, and its shapes), run "
                f"`python {self.filename}` to try them, and check them with",
                f"    npae exercises check {self.filename}",
                "which compares your gradients with finite differences of the forward pass (and with PyTorch and "
                "JAX autograd where they are installed) and names what is wrong. After your attempt, npae's own "
                "solution is in",
                where,
                f"(`npae exercises start {self.name} --solution` writes it beside this file).",
            ]
        footer = "\n\n".join(p if p.startswith("    ") else textwrap.fill(p, 112) for p in paragraphs)
        return render(self.template, self.name, solution, footer)


def _derived_pieces(pieces):
    for piece in pieces:
        if isinstance(piece, Subclass):
            yield from _derived_pieces(piece.pieces)
        elif isinstance(piece, Derive):
            yield piece


def central_differences(objective, tensors, h=FD_STEP):
    """``{name: d objective() / d tensor}`` by central differences; each array in ``tensors`` is perturbed in place
    (so ``objective`` must read them) and restored."""
    return {name: numerical_gradient(objective, array, h) for name, array in tensors.items()}


def elementwise_derivatives(f, x, h1=FD_STEP, h2=1e-4):
    """``(f'(x), f''(x))`` of an elementwise ``f`` by central differences: ``(f(x+h) - f(x-h)) / 2h`` and
    ``(f(x+h) - 2 f(x) + f(x-h)) / h^2``. The second uses a larger step: its rounding error grows as ``1/h^2``."""
    first = (f(x + h1) - f(x - h1)) / (2 * h1)
    second = (f(x + h2) - 2 * f(x) + f(x - h2)) / (h2 * h2)
    return first, second


def border(shape):
    """The entries of an (N, C, H, W) array on the first or last row or column of each image."""
    mask = np.zeros(shape, dtype=bool)
    mask[..., [0, -1], :] = True
    mask[..., :, [0, -1]] = True
    return mask


BORDER_ADVICE = ("look at the edges: the padding (its rows and columns are cropped off, and they shift every "
                 "index by the padding), or rows and columns clamped at the border")


def border_clue(shape, **kwargs):
    """A ``Clue`` whose mask is the border of each image (entries where a padding or edge mistake shows)."""
    return Clue(masks=(("the border of the image (first and last rows and columns)", border(shape),
                        BORDER_ADVICE),), **kwargs)
