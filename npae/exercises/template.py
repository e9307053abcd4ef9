"""The learner's file, written from npae's own source: the forward pass as it is, the part to derive removed.

An exercise's file is built from pieces of npae's code, read with ``inspect.getsource`` when the file is written,
so the forward pass a learner reads is the one npae runs and the solution is npae's own code, never a copy that
could drift:

- ``Keep(obj)``: the source of ``obj`` (a function or method) as it is, its docstring optionally replaced (a
  forward docstring that states the derivative would give the answer away);
- ``Derive(obj, doc)``: ``obj``'s signature with ``doc`` (what to derive, and the shapes) in place of its
  docstring and ``raise NotImplementedError`` in place of its body; with ``blanks``, only the listed lines of
  its body are replaced (by a call to ``derive(...)``, which raises), the rest (the forward part) kept;
- ``Subclass(name, base, doc, pieces)``: a subclass of the npae class ``base`` holding those pieces as methods.

``render(template, name, solution=False)`` writes the learner's version; ``solution=True`` writes every
``Derive`` piece as npae's source, unchanged.
"""

from __future__ import annotations

import ast
import inspect
import pathlib
import textwrap
from dataclasses import dataclass, field

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[2]

#: defined in a learner's file that has lines to fill in (``Derive`` with ``blanks``)
DERIVE_HELPER = '''def derive(what):
    """Stands for an expression you derive: replace the call ``derive(...)`` with it."""
    raise NotImplementedError(f"derive {what}")
'''


@dataclass(frozen=True)
class Keep:
    """A piece of npae's source kept as it is; ``doc`` replaces its docstring when given."""

    obj: object
    doc: str | None = None


@dataclass(frozen=True)
class Derive:
    """A piece of npae's source whose body (or, with ``blanks``, some lines of it) the learner derives.

    ``doc`` replaces the docstring: what to derive and the shapes, not the answer. ``blanks`` maps lines of the
    body (stripped of indentation) to the line written in their place (``""``: the line is dropped).
    """

    obj: object
    doc: str
    blanks: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Subclass:
    """``class name(base):`` with docstring ``doc`` and the ``pieces`` as its methods."""

    name: str
    base: str
    doc: str
    pieces: tuple


@dataclass(frozen=True)
class Template:
    """What the learner's file holds: a docstring (the exercise), ``imports``, the ``pieces`` and a ``demo`` run by
    ``python FILE`` (statements at the top level of ``if __name__ == "__main__":``)."""

    doc: str
    imports: tuple
    pieces: tuple
    demo: str


def source_of(obj):
    """The source of a function or method, dedented, and the ``ast.FunctionDef`` parsed from it."""
    text = textwrap.dedent(inspect.getsource(obj))
    (node,) = ast.parse(text).body
    return text, node


def location(obj):
    """``"npae/core/layers/dense.py:47 Dense.backward"``: where npae defines ``obj`` (path from the repository)."""
    path = pathlib.Path(inspect.getsourcefile(obj)).resolve()
    try:
        path = path.relative_to(PACKAGE_ROOT)
    except ValueError:  # an installed copy: name the path inside the package
        path = pathlib.Path(*path.parts[path.parts.index("npae"):])
    return f"{path.as_posix()}:{inspect.getsourcelines(obj)[1]} {obj.__qualname__}"


def _docstring_lines(doc, indent):
    lines = textwrap.dedent(doc).strip("\n").splitlines()
    body = [f"{indent}{line}" if line.strip() else "" for line in lines]
    body[0] = f'{indent}"""{lines[0]}'
    if len(lines) == 1:
        return [body[0] + '"""']
    return body + [f'{indent}"""']


def _body_indent(lines, node):
    first = lines[node.body[0].lineno - 1]
    return first[: len(first) - len(first.lstrip())]


def _has_docstring(node):
    first = node.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def _replace_docstring(text, node, doc):
    """``text`` with the function's docstring replaced by ``doc`` (added when it has none)."""
    lines = text.splitlines()
    indent = _body_indent(lines, node)
    if _has_docstring(node):
        start, end = node.body[0].lineno - 1, node.body[0].end_lineno
    else:
        start = end = node.body[0].lineno - 1
    return "\n".join(lines[:start] + _docstring_lines(doc, indent) + lines[end:]) + "\n"


def _stub(text, node, doc, name):
    """The signature of the function, ``doc`` as its docstring, and a body that raises."""
    lines = text.splitlines()
    indent = _body_indent(lines, node)
    signature = lines[: node.body[0].lineno - 1]
    todo = f'{indent}raise NotImplementedError("derive {name}: see its docstring, then delete this line")'
    return "\n".join(signature + _docstring_lines(doc, indent) + [todo]) + "\n"


def _blank(text, node, blanks, name):
    """``text`` with each line listed in ``blanks`` replaced (the ones mapped to ``""`` dropped)."""
    out, found = [], set()
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in blanks:
            found.add(stripped)
            if blanks[stripped]:
                out.append(line[: len(line) - len(line.lstrip())] + blanks[stripped])
        else:
            out.append(line)
    missing = set(blanks) - found
    if missing:
        raise ValueError(f"{name}: lines to blank not found in npae's source (did it change?): {sorted(missing)}")
    return "\n".join(out) + "\n"


def render_piece(piece, solution):
    """The source text of one piece (at indentation 0; a Subclass indents its methods)."""
    if isinstance(piece, Subclass):
        methods = [textwrap.indent(render_piece(p, solution), "    ") for p in piece.pieces]
        head = f"class {piece.name}({piece.base}):\n" + "\n".join(_docstring_lines(piece.doc, "    ")) + "\n"
        return head + "\n" + "\n".join(methods)
    text, node = source_of(piece.obj)
    if isinstance(piece, Keep):
        return text if piece.doc is None else _replace_docstring(text, node, piece.doc)
    if solution:
        return text
    name = piece.obj.__qualname__
    if piece.blanks:
        return _blank(_replace_docstring(text, node, piece.doc), node, piece.blanks, name)
    return _stub(text, node, piece.doc, name)


def _needs_derive_helper(pieces):
    for piece in pieces:
        if isinstance(piece, Subclass) and _needs_derive_helper(piece.pieces):
            return True
        if isinstance(piece, Derive) and piece.blanks:
            return True
    return False


def render(template, name, solution=False, footer=""):
    """The text of the learner's file for exercise ``name`` (npae's solution with ``solution=True``); ``footer``
    ends its docstring."""
    header = textwrap.dedent(template.doc).strip("\n") + ("\n\n" + footer.strip("\n") if footer else "")
    parts = [f'"""{header}\n"""\n\n' + "\n".join(template.imports),
             f'EXERCISE = "{name}"  # tells `npae exercises check` which exercise this file is\n\n'
             'npae.set_backend("reference")  # the readable NumPy operations of npae/backends/reference/']
    if not solution and _needs_derive_helper(template.pieces):
        parts.append(DERIVE_HELPER)
    parts += [render_piece(piece, solution) for piece in template.pieces]
    demo = textwrap.indent(textwrap.dedent(template.demo).strip("\n"), "    ")
    parts.append(f'if __name__ == "__main__":\n{demo}')
    return "\n\n\n".join(part.rstrip("\n") for part in parts) + "\n"
