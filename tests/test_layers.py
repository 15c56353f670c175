"""Imports only point down: logo (the DSL) < data < model, library < dream < app.

Checked from the source with `ast`, so an import hidden inside a function counts as much as one at
the top of a module.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RANK = {"logo": 0, "data": 1, "model": 2, "library": 2, "dream": 3, "app": 4}
# same rank, still independent of each other
APART = {frozenset(("model", "library"))}


def imported_packages(source: str, package: str, module_path: str) -> set[str]:
    """Top-level project packages that `source` (a module of `package`) imports, absolute or relative.

    `module_path` is the module's dotted name (e.g. "dream.search"; "dream" for dream/__init__.py),
    used to resolve relative imports."""
    found: set[str] = set()
    parts = module_path.split(".")
    is_package_init = module_path == package or module_path.endswith(".__init__")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts if is_package_init else parts[:-1]
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                if not base:
                    raise ValueError(f"{module_path}: relative import beyond the top-level package")
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module]
        else:
            continue
        found.update(n.split(".")[0] for n in names if n and n.split(".")[0] in RANK)
    return found - {package}


def violations(package: str, imports: set[str]) -> list[str]:
    """Why `package` may not import these packages (empty if the imports are fine)."""
    bad = []
    for other in sorted(imports):
        if RANK[other] > RANK[package]:
            bad.append(f"{package} (rank {RANK[package]}) imports {other} (rank {RANK[other]})")
        elif frozenset((package, other)) in APART:
            bad.append(f"{package} imports {other}; they are kept apart")
    return bad


def project_modules():
    for package in RANK:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            dotted = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            yield package, dotted, path


def test_every_layer_exists():
    for package in RANK:
        assert (ROOT / package / "__init__.py").is_file(), package


def test_imports_only_point_down():
    problems = []
    n_modules = 0
    for package, dotted, path in project_modules():
        n_modules += 1
        imports = imported_packages(path.read_text(encoding="utf-8"), package, dotted)
        problems += [f"{path.relative_to(ROOT)}: {v}" for v in violations(package, imports)]
    assert n_modules > 30  # the walk found the project
    assert not problems, "imports that point up or sideways:\n" + "\n".join(problems)


def test_the_app_uses_the_layers_below():
    """The checker sees real imports: app's modules do import the lower packages."""
    seen = set()
    for package, dotted, path in project_modules():
        if package == "app":
            seen |= imported_packages(path.read_text(encoding="utf-8"), package, dotted)
    assert {"logo", "data", "dream", "library"} <= seen


@pytest.mark.parametrize("package,module,source,expected,flagged", [
    ("logo", "logo.syntax", "import dream.search\n", {"dream"}, True),
    ("logo", "logo.syntax", "def f():\n    from data.db import Database\n", {"data"}, True),
    ("data", "data.db", "from app import cli\n", {"app"}, True),
    ("model", "model.train", "from library.api import x\n", {"library"}, True),
    ("dream", "dream.search", "from .score import iou\nfrom logo import parse\nimport numpy\n", {"logo"}, False),
    ("app", "app.cli", "import data.cli\nimport library.cli\nfrom . import run\n", {"data", "library"}, False),
])
def test_the_checker_flags_upward_imports(package, module, source, expected, flagged):
    imports = imported_packages(source, package, module)
    assert imports == expected
    assert bool(violations(package, imports)) == flagged


def test_a_relative_import_above_the_top_level_package_is_an_error():
    with pytest.raises(ValueError):
        imported_packages("from .. import x\n", "dream", "dream.search")


def test_relative_imports_resolve_to_their_package():
    assert imported_packages("from .api import x\n", "library", "library") == set()  # library/__init__.py
    assert imported_packages("from . import core\n", "library", "library.cli") == set()
