"""The package's modules form layers: no two iapix modules import each other, directly or around a circle.

Every ``import`` statement of an ``iapix/*.py`` file counts, wherever it stands: at the top of the module, inside a
function, or under ``if TYPE_CHECKING:``. Imports inside functions are how the circles were hidden before (the
decoder imported its fast path inside ``forward`` because that path imported the decoder's constants), and a
``TYPE_CHECKING`` import still says that one module is written in terms of the other. The modules are parsed with
``ast``, never imported, so a circle is found even where the import order happens to work.

What does not count: ``iapix.cli`` reaches each command's module through ``importlib.import_module`` and the names
in ``cli.COMMANDS`` (a table of strings, not an import statement), and those modules import ``iapix.cli`` for its
option types and error handling. That is the dispatcher's one deliberate two-way link; it stays visible here as a
check that ``iapix.cli`` itself imports no iapix module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "iapix"


def module_name(path: Path, package_root: Path) -> str:
    """``iapix/checkpoint.py`` -> ``iapix.checkpoint``; ``iapix/__init__.py`` -> ``iapix``."""
    parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, name: str, known: set[str], is_package: bool = False) -> list[tuple[str, int]]:
    """``(module, line)`` of every import of a module in ``known`` by the module ``name`` whose text is ``source``.

    Every import statement of the file counts (module level, inside functions and classes, under ``if``);
    ``from iapix.x import y`` counts as an import of ``iapix.x.y`` where that is a module, else of ``iapix.x``;
    relative imports are resolved against ``name``."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in known:  # import iapix.a.b -> the deepest known module
                    target = target.rpartition(".")[0]
                if target:
                    found.append((target, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                sub = f"{origin}.{alias.name}"
                if sub in known:  # from iapix import data
                    found.append((sub, node.lineno))
                elif origin in known:  # from iapix.data import prepare
                    found.append((origin, node.lineno))
    return [(t, line) for t, line in found if t != name]


def import_graph(package_root: Path) -> dict[str, dict[str, int]]:
    """``{module: {imported module: line of its first import}}`` for every module of the package."""
    files = {module_name(p, package_root): p for p in sorted(package_root.rglob("*.py"))}
    known = set(files)
    graph: dict[str, dict[str, int]] = {}
    for name, path in files.items():
        edges: dict[str, int] = {}
        for target, line in imported_modules(path.read_text(encoding="utf-8"), name, known,
                                             is_package=path.name == "__init__.py"):
            edges.setdefault(target, line)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def describe(component: list[str], graph: dict[str, dict[str, int]]) -> str:
    """The imports inside one circle, as ``a.py:12 imports b``."""
    members = set(component)
    return "; ".join(f"{a.replace('.', '/')}.py:{line} imports {b}" for a in component
                     for b, line in sorted(graph[a].items()) if b in members)


# ----------------------------------------------------------------------------------------------
# the package


def test_no_two_iapix_modules_import_each_other():
    graph = import_graph(PACKAGE)
    assert len(graph) >= 15 and sum(map(len, graph.values())) >= 30, "the scan found too little: is iapix/ there?"
    found = cycles(graph)
    assert not found, "iapix modules that import each other (move what both need into a module below them):\n" + \
        "\n".join(describe(c, graph) for c in found)


def test_the_dispatcher_imports_no_command_module():
    """``iapix.cli`` reaches the command modules by name only (see the module docstring)."""
    assert import_graph(PACKAGE)["iapix.cli"] == {}


def test_function_level_imports_count_for_the_check(tmp_path):
    """The check itself: a circle closed by an import inside a function, or under TYPE_CHECKING, is found."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import B\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a\n    return a\n\nB = 1\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import d\n")
    (pkg / "d.py").write_text("import pkg.c\n")
    (pkg / "e.py").write_text("from pkg.a import *\n")  # imports a, is imported by nobody: no circle
    graph = import_graph(pkg)
    assert graph["pkg.b"] == {"pkg.a": 2} and graph["pkg.c"] == {"pkg.d": 3}
    assert sorted(cycles(graph)) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"]]
    assert describe(["pkg.a", "pkg.b"], graph) == "pkg/a.py:1 imports pkg.b; pkg/b.py:2 imports pkg.a"


@pytest.mark.parametrize("source, expected", [
    ("import iapix.data", ["iapix.data"]),
    ("import iapix.data.sub", ["iapix.data"]),  # the deepest module that exists
    ("from iapix import data as D", ["iapix.data"]),
    ("from iapix.data import prepare, Prepared", ["iapix.data", "iapix.data"]),
    ("from .data import prepare", ["iapix.data"]),
    ("from . import data", ["iapix.data"]),
    ("import numpy\nfrom torch import nn", []),
    ("import iapix.model", []),  # a module's import of itself is no edge
])
def test_imports_are_resolved(source, expected):
    known = {"iapix", "iapix.data", "iapix.model"}
    assert [t for t, _ in imported_modules(source, "iapix.model", known)] == expected
