"""From a learner's gradient and the right one, what is wrong: the signature of the mistake, and a hint.

Typical mistakes leave recognisable traces in the numbers. ``diagnose`` looks for them in this order, and the
first that fits gives the hint:

1. the shape: reversed (transposed), a batch axis too many (the sum over the batch is missing) or too few;
2. NaN or infinity; zero everywhere (nothing computed, or not stored where it is read);
3. a known wrong answer of the exercise (``Clue.mistakes``, computed with npae's code: a flipped kernel, ...);
4. a constant factor ``c``, the answer being ``c`` times the right one: -1 (the sign), N or 1/N (the batch
   mean), 2 or 1/2 (the derivative of a square), or a factor that means something in this problem
   (``Clue.factors``: ``1/(KH KW)`` for a window average);
5. the right answer with two axes swapped, or flipped (rotated 180 degrees) in its last two axes;
6. a term too many or too few: ``answer - right = c * term`` for a term of the problem (``Clue.terms``);
7. right except at a set of entries where mistakes hide (``Clue.masks``: the image border, the pixels that are
   the maximum of two overlapping windows, the latent dimensions below a floor), or right at most entries;
8. otherwise: wrong with no simple pattern.

Two arrays agree when the max relative error (``npae.gradcheck.relative_error``) is below the tolerance.
"""

from __future__ import annotations

import fractions
import itertools
from dataclasses import dataclass

import numpy as np

from ..gradcheck.finite_differences import relative_error
from .exercise import Clue


@dataclass(frozen=True)
class Verdict:
    """``right``: within tolerance; ``error``: the max relative error (NaN when it could not be compared)."""

    right: bool
    error: float
    hint: str = ""


def _agree(a, b, tol):
    return a.shape == b.shape and relative_error(a, b) < tol


def _as_array(answer):
    try:
        array = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def diagnose(answer, right, tol, clue=None, batch=None):
    """The ``Verdict`` on ``answer`` against the ``right`` gradient (``tol``: max relative error counted right)."""
    clue = clue or Clue()
    mine = _as_array(answer)
    if mine is None:
        return Verdict(False, float("nan"), f"returned {type(answer).__name__}, expected an array of shape "
                                            f"{right.shape}")
    if clue.broadcast_rows and right.ndim >= 2 and mine.shape == right.shape[1:]:
        mine = np.broadcast_to(mine, right.shape)
    if mine.shape != right.shape:
        return Verdict(False, float("nan"), shape_hint(mine.shape, right.shape, batch))
    if not np.all(np.isfinite(mine)):
        bad = int((~np.isfinite(mine)).sum())
        return Verdict(False, float("nan"), f"{bad} of {mine.size} entries are NaN or infinite (an overflow, a "
                                            "log or a division by zero?)")
    error = relative_error(mine, right)
    if error < tol:
        return Verdict(True, error)
    return Verdict(False, error, _value_hint(mine, right, tol, clue, batch))


def _value_hint(mine, right, tol, clue, batch):
    if not mine.any():
        return "zero everywhere: nothing was computed, or it was not stored where it is read (self.grads[...]?)"
    for hint, wrong in clue.mistakes:
        if _agree(mine, np.asarray(wrong, dtype=np.float64), tol):
            return hint
    for find in (_factor_hint, _rearranged_hint, _term_hint, _entries_hint):
        hint = find(mine, right, tol, clue, batch)
        if hint:
            return hint
    return ("wrong almost everywhere, with no simple pattern (not a sign, a constant factor, a transpose or a few "
            "entries): derive it again from the forward pass, one entry at a time")


# ----------------------------------------------------------------------------------------------
# shapes
# ----------------------------------------------------------------------------------------------


def shape_hint(mine, expected, batch=None):
    """What a wrong shape says: transposed, axes in another order, a batch axis too many or too few."""
    head = f"shape {mine}, expected {expected}"
    if len(mine) == 2 and mine == expected[::-1]:
        return f"{head}: transposed (a gradient has the shape of the tensor it differentiates)"
    if batch and mine == (batch,) + tuple(expected):
        return (f"{head}: one gradient per sample, the sum over the batch is missing (all {batch} samples use the "
                "same parameters, so their contributions add up)")
    if batch and expected == (batch,) + tuple(mine):
        return (f"{head}: one value for the whole batch, where each of the {batch} samples needs its own "
                "gradient (do not sum or average over axis 0)")
    if sorted(mine) == sorted(expected):
        return f"{head}: the right sizes in another order, axes swapped (a gradient has the shape of its tensor)"
    return f"{head} (a gradient has the shape of the tensor it differentiates)"


# ----------------------------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------------------------


def _fitted_factor(mine, right, tol):
    """``c`` such that ``mine = c * right`` within ``tol`` (relative to ``max |right|``), or None."""
    norm = float(np.vdot(right, right))
    if norm == 0:
        return None
    c = float(np.vdot(mine, right)) / norm
    residual = np.abs(mine - c * right).max() / np.abs(right).max()
    return c if residual < tol and abs(c) > tol else None


def _close(a, b):
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b))


def _named_factor(c, batch):
    """The generic meaning of a factor, or None: the sign, the batch size, 2."""
    meanings = {
        -1.0: "wrong sign: exactly minus the right answer (check the sign of every term)",
        2.0: "twice the right answer: a factor 2 too many (a 1/2 dropped, or a square differentiated that is "
             "not there)",
        0.5: "half the right answer: a factor 2 is missing (the 2 from differentiating a square, or a 1/2 "
             "counted twice)",
        -2.0: "minus twice the right answer: the sign and a factor 2 are both wrong",
        -0.5: "minus half the right answer: the sign is wrong and a factor 2 is missing",
    }
    if batch and batch > 2:
        meanings[float(batch)] = (f"{batch} times too large, {batch} being the batch size N: a 1/N is missing (a "
                                  "mean over the batch passes 1/N to every sample's gradient)")
        meanings[1.0 / batch] = (f"{batch} times too small, 1/N with N = {batch} the batch size: averaged over the "
                                 "batch where the samples' contributions add up, or divided by N twice")
    for factor, meaning in meanings.items():
        if _close(c, factor):
            return meaning
    return None


def _factor_hint(mine, right, tol, clue, batch):
    c = _fitted_factor(mine, right, tol)
    if c is None:
        return None
    for factor, meaning in clue.factors.items():
        if _close(c, factor):
            return f"{_fraction(c)} times the right answer: {meaning}"
    return _named_factor(c, batch) or (
        f"{_fraction(c)} times the right answer: right up to a constant factor (a scale, a count, a strength "
        "such as beta or lambda, applied wrongly or twice)")


def _fraction(c):
    """``c`` as a short fraction when it is one (``1/9``, ``-3/2``), else with four significant digits."""
    near = fractions.Fraction(c).limit_denominator(64)
    if _close(float(near), c):
        return str(near)
    return f"{c:.4g}"


def _rearranged_hint(mine, right, tol, clue, batch):
    """The right answer with two axes swapped (same shape), or flipped in its last two axes."""
    for i, j in itertools.combinations(range(right.ndim), 2):
        if right.shape[i] == right.shape[j] and _agree(mine, np.swapaxes(right, i, j), tol):
            what = "transposed" if right.ndim == 2 else f"axes {i} and {j} swapped"
            return f"{what}: the right numbers at each other's places (which index is summed, which is kept?)"
    if right.ndim >= 2 and _agree(mine, right[..., ::-1, ::-1], tol):
        return ("flipped: the right answer rotated by 180 degrees in its last two axes (the kernel offsets run "
                "the other way)")
    return None


def _term_hint(mine, right, tol, clue, batch):
    difference = mine - right
    for name, term in clue.terms.items():
        term = np.asarray(term, dtype=np.float64)
        if term.shape != right.shape:
            continue
        c = _fitted_factor(difference, term, tol * np.abs(right).max() / max(np.abs(term).max(), 1e-300))
        if c is not None:
            return (f"your answer minus the right one is {_fraction(c)} x {name}: a term is missing, extra or of "
                    "the wrong sign (differentiate every term of the forward pass)")
    return None


def _entries_hint(mine, right, tol, clue, batch):
    """Right except at the entries of one of the clue's masks, or right at most entries."""
    wrong = np.abs(mine - right) > tol * np.abs(right).max()
    for description, mask, advice in clue.masks:
        mask = np.broadcast_to(mask, wrong.shape)
        if wrong.any() and not (wrong & ~mask).any():
            return (f"right except at {description}: wrong at {int(wrong.sum())} of the {int(mask.sum())} entries "
                    f"there, right everywhere else. {advice}")
    relevant = (mine != 0) | (right != 0)
    right_count = int((~wrong & relevant).sum())
    if right_count and right_count >= 0.5 * relevant.sum():
        first = [tuple(int(i) for i in index) for index in np.argwhere(wrong)[:4]]
        return (f"right at {right_count} of the {int(relevant.sum())} nonzero entries, wrong at {int(wrong.sum())}, "
                f"first at {', '.join(map(str, first))}: look for what those entries share (an edge, an overlap, a "
                "tie)")
    return None
