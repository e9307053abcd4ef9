"""``npae exercises list | start NAME [--dir DIR] [--solution] [--force] | check FILE``."""

from __future__ import annotations

import argparse
import pathlib
import sys
import textwrap

from .catalogue import EXERCISES, find
from .checker import main_check


def listing():
    """The exercises in the reading guide's order, each with what it teaches."""
    width = max(len(exercise.name) for exercise in EXERCISES)
    lines = ["Derive a backward pass yourself, then let npae check it (in the order of docs/reading-guide.md):", ""]
    for number, exercise in enumerate(EXERCISES, 1):
        lines.append(f"{number:3d}  {exercise.name.ljust(width)}  {exercise.title}")
        lines += textwrap.wrap(f"teaches {exercise.teaches}", 110, initial_indent=" " * (width + 7),
                               subsequent_indent=" " * (width + 7))
    lines += ["", "Start one with `npae exercises start NAME`, check it with `npae exercises check FILE`."]
    return "\n".join(lines)


def start(name, directory=".", solution=False, force=False):
    """Write the learner's file of exercise ``name`` (npae's solution with ``solution``) into ``directory``;
    returns its path. An existing file is kept unless ``force``: it may hold a learner's work."""
    exercise = find(name)
    filename = exercise.filename[:-3] + "_solution.py" if solution else exercise.filename
    path = pathlib.Path(directory) / filename
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists (your work?): check it with `npae exercises check {path}`, or pass "
                              "--force to overwrite it, or --dir to write elsewhere")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(exercise.file_text(solution), encoding="utf-8")
    return path


def main(argv=None, out=None):
    """The ``npae exercises`` command; returns the exit status (``check``: 0 only when the file is right).

    Prints to ``out`` (default: ``sys.stdout`` at the time of the call).
    """
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="npae exercises",
                                     description="Derive backward passes yourself; npae checks them and names "
                                                 "what is wrong.")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="the exercises, in the reading guide's order, with what each teaches")
    begin = sub.add_parser("start", help="write an exercise's file: npae's forward pass, the backward to derive")
    begin.add_argument("name", metavar="NAME", help="the exercise (npae exercises list)")
    begin.add_argument("--dir", default=".", help="the folder to write it in (default: the current one)")
    begin.add_argument("--solution", action="store_true",
                       help="write npae's own solution instead, as NAME_solution.py (after your attempt)")
    begin.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    test = sub.add_parser("check", help="check your file: finite differences (and PyTorch, JAX where installed)")
    test.add_argument("file", metavar="FILE")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.action == "list":
        print(listing(), file=out)
        return 0
    if args.action == "check":
        return main_check(args.file, out)
    try:
        path = start(args.name, args.dir, args.solution, args.force)
    except ValueError as exc:
        parser.error(str(exc))
    except FileExistsError as exc:
        print(f"npae exercises start: {exc}", file=out)
        return 1
    what = "npae's solution" if args.solution else "the exercise: derive the parts its docstrings name"
    print(f"wrote {path}, {what}. Run it with `python {path}`; check it with `npae exercises check {path}`.",
          file=out)
    return 0
