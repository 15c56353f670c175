"""No import circles between the project's modules: a module never needs, directly or through others, a module
that needs it. Read from the source with `ast` (as `tests/test_layers.py` does), so an import inside a function
counts as much as one at the top: a circle hidden in a function still ties two modules into one.

`from package import name` is an edge to `package.name` when that is a module, else to the package itself
(its `__init__`).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("logo", "data", "model", "library", "dream", "app")


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """dotted name -> file of every module of the project's packages ("dream.search" for its __init__)."""
    mods = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            mods[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = path
    return mods


def imported_modules(source: str, module: str, is_package: bool, known) -> set[str]:
    """The project modules `source` (module `module`) imports, anywhere in it: each import resolved to the
    longest dotted prefix that is a module of `known`."""
    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    parts = module.split(".")
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = parts if is_package else parts[:-1]
                up = up[:len(up) - (node.level - 1)]
                base = ".".join([*up, *([node.module] if node.module else [])])
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found.update(r for r in map(resolve, names) if r and r != module)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    mods = project_modules(root)
    return {m: imported_modules(p.read_text(encoding="utf-8"), m, p.name == "__init__.py", mods)
            for m, p in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (each a circle of imports), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]       # iterative Tarjan: no recursion limit
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, edges = work[-1]
            for w in edges:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return sorted(found)


def test_no_import_circles():
    graph = import_graph()
    assert len(graph) > 100 and graph["dream.search.solver"]         # the walk found the project and its imports
    assert not cycles(graph), "modules that import each other (directly or through others):\n" + \
        "\n".join(" <-> ".join(c) for c in cycles(graph))


KNOWN = {"a", "a.x", "a.y", "a.z", "b"}


@pytest.mark.parametrize("module,source,expected", [
    ("a.x", "from . import y\n", {"a.y"}),                                # a module, not the package
    ("a.x", "from . import helper\n", {"a"}),                            # a name of the package's __init__
    ("a.x", "def f():\n    from .y import g\n", {"a.y"}),                # inside a function too
    ("a.x", "import a.z.deep\nimport numpy\n", {"a.z"}),                  # outside the project: not an edge
    ("a", "from .x import f\n", {"a.x"}),                                 # the package's __init__
    ("a.x", "from b import q\nfrom a.x import r\n", {"b"}),               # itself: not an edge
])
def test_the_checker_resolves_imports(module, source, expected):
    assert imported_modules(source, module, module == "a", KNOWN) == expected


def test_the_checker_finds_circles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}, "e": set()}) == [["a", "b"], ["c", "d"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
