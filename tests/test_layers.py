"""Imports point downstream, and each layer has one home.

A module imports only from the layers before its own: errors and model; manifests; sources; facts; engine; the
plan, the questions (query/), lint, diff and properties/; the facade (api.py); report/, which renders results;
the CLI and the REPL, which ask through the facade and print through report/. Every import that runs counts, a
function-level one too (not those under `if TYPE_CHECKING:`, for annotations only): the graph of the package's
modules is acyclic. The model knows neither pyDatalog nor z3; nothing below report/ renders.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reasoner"
MODEL = PACKAGE / "model"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _nodes(tree: ast.AST):
    """Every node of a module but those under `if TYPE_CHECKING:` (imports for annotations only, never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def imports() -> dict[str, set[str]]:
    """Each module of the package -> the modules of the package it imports, anywhere in its text."""
    mods = modules()

    def known(name: str) -> str:
        while name not in mods and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps: set[str] = set()
        for node in _nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{path}: a relative import (the layering reads absolute ones)")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reasoner"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in mods else known(node.module))
            elif isinstance(node, ast.Import):
                deps |= {known(a.name) for a in node.names if a.name.startswith("reasoner")}
        graph[name] = deps - {name, "reasoner"}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def under(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_model_imports_no_solver():
    for path in MODEL.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(z3|pyDatalog)", text, re.M), path


def test_the_import_graph_is_acyclic():
    assert cycle(imports()) is None


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_model_imports_only_the_model():
    for name, deps in imports().items():
        if under(name, "reasoner.model"):
            assert all(under(d, "reasoner.model", "reasoner.errors") for d in deps), (name, deps)


def test_nothing_below_the_renderers_imports_them():
    """Results are values: only report/, the CLI and the REPL import report/."""
    for name, deps in imports().items():
        if not under(name, "reasoner.report", "reasoner.cli", "reasoner.repl", "reasoner.__main__"):
            assert not any(under(d, "reasoner.report") for d in deps), (name, sorted(deps))


def test_the_cli_and_the_repl_ask_through_the_facade():
    allowed = ("reasoner.api", "reasoner.report", "reasoner.errors", "reasoner.progress", "reasoner.repl",
               "reasoner.cli")
    for name, deps in imports().items():
        if under(name, "reasoner.cli", "reasoner.repl"):
            assert all(under(d, *allowed) for d in deps), (name, sorted(d for d in deps if not under(d, *allowed)))


def test_only_the_entry_points_import_the_cli_and_the_repl():
    for name, deps in imports().items():
        if not under(name, "reasoner.cli", "reasoner.repl", "reasoner.__main__", "reasoner.benchmark"):
            assert not any(under(d, "reasoner.cli", "reasoner.repl") for d in deps), (name, sorted(deps))


def test_nothing_below_the_facade_imports_it():
    for name, deps in imports().items():
        if not under(name, "reasoner.api", "reasoner.cli", "reasoner.repl", "reasoner.__main__", "reasoner.benchmark"):
            assert "reasoner.api" not in deps, name
