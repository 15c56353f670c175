"""Generic λ-calculus s-expressions (Stitch's program format) and DreamCoder compression inputs.

Stitch format: `(f a b)` is curried application, `(lam body)` a lambda, `$i` a de Bruijn variable,
`#i` an abstraction parameter, any other atom a primitive.  DreamCoder writes `lambda` and inlines
earlier inventions as `#(...)`; `from_dreamcoder_json` names those `dreamcoder_abstraction_i`
(shortest first, as stitch_core's `from_dreamcoder` does) so both tools see the same programs.
"""
from __future__ import annotations

from logo.errors import LogoError
from logo.tokens import read_sexpr

from .core import LAM, PRIM, VAR, Store


def parse(st: Store, text: str) -> int:
    """Parse one program into the store; returns its node id. ValueError names the program."""
    try:
        return read_sexpr(text, atom=lambda tok: _atom(st, tok), node=lambda items: _build(st, items))
    except LogoError as e:
        raise ValueError(f"{e} in {text[:80]!r}") from None


_LAM_TOKENS = ("lam", "lambda")


def _atom(st: Store, tok: str):
    if tok in _LAM_TOKENS:
        return ("lam",)
    if tok.startswith("$") and tok[1:].isdigit():
        return st.var(int(tok[1:]))
    return st.prim(tok)


def _build(st: Store, items: list) -> int:
    if not items:
        raise ValueError("empty application ()")
    if items[0] == ("lam",):
        if len(items) != 2:
            raise ValueError("lam takes exactly one body")
        return st.lam(items[1])
    if any(isinstance(x, tuple) for x in items):
        raise ValueError("misplaced lam")
    f = items[0]
    for x in items[1:]:
        f = st.app(f, x)
    return f


def show(st: Store, n: int) -> str:
    """Print a term in Stitch format."""
    k = st.kind[n]
    if k == PRIM:
        return st.symbols[st.a[n]]
    if k == VAR:
        return f"${st.a[n]}"
    if k == LAM:
        return f"(lam {show(st, st.a[n])})"
    h, args = st.spine(n)
    return "(" + " ".join([show(st, h), *(show(st, x) for x in args)]) + ")"


def cost(text: str) -> int:
    """Stitch's default cost of one program text."""
    st = Store()
    return st.cost[parse(st, text)]


def from_dreamcoder_json(data: dict) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(programs, tasks, name_mapping) from a DreamCoder compression input (the `frontiers` json)."""
    anonymous = [p["expression"] for p in data.get("DSL", {}).get("productions", [])
                 if p["expression"].startswith("#")]
    anonymous.sort(key=len)
    mapping = [(f"dreamcoder_abstraction_{i}", a) for i, a in enumerate(anonymous)]
    programs, tasks = [], []
    for i, frontier in enumerate(data["frontiers"]):
        for prog in frontier["programs"]:
            text = prog["program"]
            for name, anon in reversed(mapping):
                text = text.replace(anon, name)
            if "#" in text:
                raise ValueError(f"unknown invention in {text[:80]!r}")
            programs.append(text.replace("(lambda ", "(lam "))
            tasks.append(frontier.get("task", str(i)))
    return programs, tasks, mapping
