"""Types of command-line options, shared by the ``npae`` command and the walkthrough scripts.

Each checks its text with the library's own validators (``npae.core.checks``), so that a bad option is refused
by argparse before anything runs, with the usage line of its command and a message naming the option, what
was expected and what was given (``npae train: error: argument --epochs: expected an int >= 1, got -1``),
instead of a traceback from deep inside the run.
"""

from __future__ import annotations

import argparse

from ..core.checks import existing_folder, output_folder, positive_int, real_number


def _checked(check, value, *args, **kwargs):
    """``check(value, "value", ...)`` with its error as an ``ArgumentTypeError`` (argparse adds the option's name)."""
    try:
        return check(value, "value", *args, **kwargs)
    except (TypeError, ValueError, OSError) as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None


def _integer(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def count(text):
    """A number of things (epochs, images, code units): an int >= 1."""
    return _checked(positive_int, _integer(text))


def seed(text):
    """A seed of random choices: an int >= 0."""
    return _checked(positive_int, _integer(text), minimum=0)


def positive_number(text):
    """A finite number > 0 (a learning rate)."""
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.001, got {text!r}") from None
    return _checked(real_number, number, low=0.0, include_low=False)


def folder(holding):
    """The type of an option naming a folder that must exist, one holding ``holding`` (what to read)."""
    def existing(text):
        return _checked(existing_folder, text, holding=holding)

    return existing


def out_folder(text):
    """A folder to write into: an existing folder, or a path where one can be created (not a file)."""
    return _checked(output_folder, text)
