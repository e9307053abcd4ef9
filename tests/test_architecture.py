"""The package's structure: no import cycle anywhere, and the math core reads as math (no Numba, no ctypes, no
fast-backend internals in the core, the models, training or the reference backend)."""

import ast
import pathlib

import npae

ROOT = pathlib.Path(npae.__file__).parent


def module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imported_modules(name, path):
    """The npae modules ``name`` imports anywhere in its file (module level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from pkg import submodule` imports the submodule; any other name, pkg
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def find_cycle(graph):
    """One import cycle as a list of module names, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_import_graph_has_no_cycle():
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    assert sum(map(len, graph.values())) > 50, "the graph looks empty: the parser missed the imports"
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_math_core_models_and_training_do_not_reach_for_speed_machinery():
    offenders = []
    for name, path in MODULES.items():
        if name.startswith(("npae.core", "npae.models", "npae.training", "npae.backends.reference")):
            modules = imported_modules(name, path)
            text = path.read_text(encoding="utf-8")
            if any(m.startswith("npae.backends.fast") for m in modules) or "numba" in text or "ctypes" in text:
                offenders.append(name)
    assert not offenders
