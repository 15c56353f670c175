"""Imports only point down: logo (the DSL) < data < model, library < dream < app; the grammar mutator
lives in logo/ only; no package uses another package's private names.

Checked from the source with `ast`, so an import hidden inside a function counts as much as one at
the top of a module. The last two checks read bench/ too (it uses the packages as the app does) but not
tests/, which may test a module's private helpers directly.
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

    `module_path` is the module's dotted name (e.g. "dream.search.frontier"; "dream" for dream/__init__.py),
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
    ("dream", "dream.search.frontier", "from .score import iou\nfrom logo import parse\nimport numpy\n", {"logo"}, False),
    ("app", "app.cli", "import data.cli\nimport library.cli\nfrom . import run\n", {"data", "library"}, False),
])
def test_the_checker_flags_upward_imports(package, module, source, expected, flagged):
    imports = imported_packages(source, package, module)
    assert imports == expected
    assert bool(violations(package, imports)) == flagged


def test_a_relative_import_above_the_top_level_package_is_an_error():
    with pytest.raises(ValueError):
        imported_packages("from .. import x\n", "dream", "dream.dreamer")


def test_relative_imports_resolve_to_their_package():
    assert imported_packages("from .api import x\n", "library", "library") == set()  # library/__init__.py
    assert imported_packages("from . import core\n", "library", "library.cli") == set()


# ---- the grammar mutator lives in logo/ -----------------------------------------------------------

# Attributes whose use draws random numbers (random.Random's and numpy Generator's methods, np.random).
RANDOM_DRAWS = frozenset({"random", "choice", "choices", "randint", "randrange", "uniform", "integers", "shuffle",
                          "sample", "gauss", "normal", "permutation", "binomial", "getrandbits", "triangular"})
# "path: unit" -> why it may build random programs outside logo/ (none today)
ALLOWED_MUTATORS: dict[str, str] = {}


def logo_node_classes() -> frozenset[str]:
    """The Logo AST's node classes (Move, Loop, Embed, PenUp, BinOp, ...), read from logo/ast.py."""
    tree = ast.parse((ROOT / "logo" / "ast.py").read_text(encoding="utf-8"))
    return frozenset(n.name for n in tree.body if isinstance(n, ast.ClassDef))


def _root_name(e) -> str | None:
    while isinstance(e, ast.Attribute):
        e = e.value
    return e.id if isinstance(e, ast.Name) else None


def mutation_units(source: str, classes: frozenset[str]) -> list[str]:
    """Top-level functions and classes of a module (and "<module>" for its other statements) that both
    build Logo AST nodes and draw random numbers: they write random programs or mutate them, which is the
    grammar mutator's job (logo/). A node is built by calling a class of `classes` imported from `logo` or
    `logo.ast` (under any alias) or reached as an attribute of those modules (`logo.Loop(...)`)."""
    tree = ast.parse(source)
    constructors, modules = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and not n.level and n.module in ("logo", "logo.ast"):
            for a in n.names:
                if a.name in classes:
                    constructors.add(a.asname or a.name)
                elif n.module == "logo" and a.name == "ast":
                    modules.add(a.asname or a.name)
        elif isinstance(n, ast.Import):
            for a in n.names:
                if a.asname is None and a.name.split(".")[0] == "logo":      # `import logo.x` binds `logo`
                    modules.add("logo")
                elif a.name in ("logo", "logo.ast"):
                    modules.add(a.asname)
    units = [u for u in tree.body if isinstance(u, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    rest = ast.Module([u for u in tree.body if u not in units], [])
    found = []
    for name, unit in [(u.name, u) for u in units] + [("<module>", rest)]:
        builds = draws = False
        for n in ast.walk(unit):
            if isinstance(n, ast.Call):
                f = n.func
                builds |= (isinstance(f, ast.Name) and f.id in constructors) or \
                    (isinstance(f, ast.Attribute) and f.attr in classes and _root_name(f.value) in modules)
            elif isinstance(n, ast.Attribute) and n.attr in RANDOM_DRAWS:
                draws = True
        if builds and draws:
            found.append(name)
    return found


def checked_modules():
    """(package, path) of every module the mutator and privacy checks read: the layers and bench/."""
    for package in (*RANK, "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


def test_no_grammar_mutations_outside_logo():
    classes = logo_node_classes()
    assert {"Move", "Loop", "Embed", "PenUp", "BinOp", "Program"} <= classes
    problems = []
    for package, path in checked_modules():
        if package == "logo":
            continue
        for unit in mutation_units(path.read_text(encoding="utf-8"), classes):
            where = f"{path.relative_to(ROOT)}: {unit}"
            if where not in ALLOWED_MUTATORS:
                problems.append(where)
    assert not problems, ("random programs or mutations built outside logo/ (use the grammar mutator in logo/):\n"
                          + "\n".join(problems))


_CLASSES = frozenset({"Move", "Loop", "Num", "Program"})


@pytest.mark.parametrize("source,expected", [
    # a function that draws and builds, however the node class was imported
    ("from logo.ast import Loop\ndef f(rng):\n    return Loop('i', rng.randint(2, 9), ())\n", ["f"]),
    ("from logo.ast import Move as M\ndef f(r):\n    x = r.choice([1, 2])\n    return M(x, 0)\n", ["f"]),
    ("import logo\ndef f(rng):\n    return logo.Move(logo.Num(rng.integers(9)), 0)\n", ["f"]),
    ("import logo.ast as la\nimport random\ndef f():\n    return la.Num(random.random())\n", ["f"]),
    ("import logo.mutate\nimport random\ndef f():\n    return logo.Num(random.random())\n", ["f"]),
    # a class whose methods split the drawing and the building is one unit
    ("from logo import Move\nclass G:\n    def __init__(self, rng):\n        self.u = rng.random\n"
     "    def stmt(self):\n        return Move(self.u(), 0)\n", ["G"]),
    ("from logo.ast import Num\nimport random\nr = random.Random(0)\nX = [Num(r.randint(1, 3))]\n", ["<module>"]),
    # building without drawing (a decoder, a canonical form) or drawing without building is not a mutator
    ("from logo.ast import Loop, Program\ndef decode(x):\n    return Program((), (Loop('i', x, ()),))\n", []),
    ("import logo.mutate\ndef f(rng, p):\n    return logo.mutate.mutate(p, rng.random())\n", []),
    ("from other import Move\ndef f(rng):\n    return Move(rng.random())\n", []),
])
def test_the_checker_finds_mutations(source, expected):
    assert mutation_units(source, _CLASSES) == expected


# ---- no package uses another package's private names ----------------------------------------------

# "path: use" -> why the use is all right (none today); `use` as `private_uses` words it
ALLOWED_PRIVATE: dict[str, str] = {}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def defined_private_names(source: str) -> set[str]:
    """Private names a module defines: functions, classes, variables, attributes it assigns
    (`self._x = ...`), parameters and import aliases."""
    names = set()
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
            names.add(n.attr)
        elif isinstance(n, ast.alias):
            names.add(n.asname or n.name.split(".")[0])
        elif isinstance(n, ast.arg):
            names.add(n.arg)
    return {x for x in names if is_private(x)}


def private_uses(source: str, package: str, defined: dict[str, set[str]]) -> list[str]:
    """Where a module of `package` uses a private name of another project package (`defined`: package ->
    the private names its modules define): `from pkg.mod import _name`, `import pkg._mod`, and
    `x._name` / `getattr(x, "_name")` where `_name` is defined in another package and not in this one
    (an object's private attribute reached from outside the package that owns its class)."""
    own = defined.get(package, set())
    uses = []
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.ImportFrom):
            if not n.level and n.module and n.module.split(".")[0] in defined and n.module.split(".")[0] != package:
                uses += [f"from {n.module} import {p}" for p in n.module.split(".") + [a.name for a in n.names]
                         if is_private(p)]
            continue
        if isinstance(n, ast.Import):
            uses += [f"import {a.name}" for a in n.names if a.name.split(".")[0] in defined
                     and a.name.split(".")[0] != package and any(is_private(p) for p in a.name.split("."))]
            continue
        name = None
        if isinstance(n, ast.Attribute):
            name = n.attr
        elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and len(n.args) >= 2
              and n.func.id in ("getattr", "hasattr", "setattr", "delattr")
              and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, str)):
            name = n.args[1].value
        if name and is_private(name) and name not in own:
            owners = sorted(p for p, names in defined.items() if p != package and name in names)
            if owners:
                uses.append(f".{name} (private in {', '.join(owners)})")
    return uses


def test_no_package_uses_another_packages_private_names():
    modules = list(checked_modules())
    defined: dict[str, set[str]] = {}
    for package, path in modules:
        defined.setdefault(package, set()).update(defined_private_names(path.read_text(encoding="utf-8")))
    assert all(defined.get(package) for package in RANK)         # the index read every layer's code
    problems = []
    for package, path in modules:
        for use in private_uses(path.read_text(encoding="utf-8"), package, defined):
            where = f"{path.relative_to(ROOT)}: {use}"
            if where not in ALLOWED_PRIVATE:
                problems.append(where)
    assert not problems, "private names used across packages (make them public or move the code):\n" + \
        "\n".join(problems)


_DEFINED = {"model": {"_Parts", "_mutate_once"}, "dream": {"_beamed", "_seed"}, "bench": set(), "data": {"_seed"}}


@pytest.mark.parametrize("package,source,expected", [
    ("dream", "from model.edit.steps import _Parts\n", ["from model.edit.steps import _Parts"]),
    ("dream", "def f():\n    from model.edit.steps import Chain, _mutate_once\n", ["from model.edit.steps import _mutate_once"]),
    ("dream", "import model._hidden.x\n", ["import model._hidden.x"]),
    ("bench", "def reset(p):\n    p._beamed.clear()\n", ["._beamed (private in dream)"]),
    ("bench", "x = getattr(p, '_beamed', None)\n", ["._beamed (private in dream)"]),
    # the package's own privates, dunders, names no project package defines, one defined here too
    ("model", "from .steps import _Parts\nfrom model.edit.steps import _mutate_once\n", []),
    ("dream", "def f(p):\n    return p._beamed, p.__class__, p._orig_mod, p._seed\n", []),
    ("bench", "from logo import parse\nimport numpy._core\n", []),
])
def test_the_checker_finds_private_uses(package, source, expected):
    assert private_uses(source, package, _DEFINED) == expected
