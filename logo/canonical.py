"""The canonical form of a program: same drawing, one spelling.

`canonical(p)` makes equal programs print (and so tokenize) equally:
- loop variables are renamed by nesting depth (`i`, `j`, `k`, ...; see `LOOP_VARS`),
- procedure parameters (in `define` forms) are renamed `p0`, `p1`, ... in order,
- the operands of commutative operators (`+`, `*`) are ordered by (length, text) of their canonical text.

    >>> from logo.syntax import to_text
    >>> to_text(canonical("(loop x 3 (move (* ul 2) (/ ua 3)))"))
    '(loop i 3 (move (* 2 ul) (/ ua 3)))'

It lives with the DSL because the mutator (`logo.mutate`) and the search compare programs by it; the
model's tokens (`model.tokenizer`) are the canonical text split.
"""
from __future__ import annotations

from .ast import COMMUTATIVE, BinOp, Call, Define, Embed, Loop, Move, PenUp, Program, Var
from .syntax import parse, to_text

#: canonical loop variable names, by nesting depth
LOOP_VARS = ("i", "j", "k", "l", "m", "n") + tuple(f"v{d}" for d in range(6, 16))
#: canonical procedure parameter names, by position
PARAMS = tuple(f"p{d}" for d in range(8))


def loop_var(depth: int) -> str:
    """The canonical name of a loop variable bound at nesting `depth`."""
    return LOOP_VARS[depth] if depth < len(LOOP_VARS) else f"v{depth}"


def _expr(e, env: dict[str, str]):
    if isinstance(e, Var):
        return Var(env.get(e.name, e.name))
    if isinstance(e, BinOp):
        left, right = _expr(e.left, env), _expr(e.right, env)
        if e.op in COMMUTATIVE:
            lt, rt = to_text(left), to_text(right)
            if (len(lt), lt) > (len(rt), rt):
                left, right = right, left
        return BinOp(e.op, left, right)
    return e


def _body(body, env: dict[str, str], depth: int) -> tuple:
    return tuple(_stmt(s, env, depth) for s in body)


def _stmt(s, env: dict[str, str], depth: int):
    if isinstance(s, Move):
        return Move(_expr(s.length, env), _expr(s.angle, env))
    if isinstance(s, Loop):
        name = loop_var(depth)
        count = _expr(s.count, env)
        return Loop(name, count, _body(s.body, {**env, s.var: name}, depth + 1))
    if isinstance(s, Embed):
        return Embed(_body(s.body, env, depth))
    if isinstance(s, PenUp):
        return PenUp(_body(s.body, env, depth))
    if isinstance(s, Call):
        return Call(s.name, tuple(_expr(a, env) for a in s.args))
    raise TypeError(f"not a statement: {s!r}")


def canonical(program) -> Program:
    """The canonical form of a program (or program text): same drawing, one spelling."""
    p = parse(program) if isinstance(program, str) else program
    defs = []
    for d in p.defs:
        env = {old: PARAMS[i] if i < len(PARAMS) else f"p{i}" for i, old in enumerate(d.params)}
        defs.append(Define(d.name, tuple(env[x] for x in d.params), _body(d.body, env, 0)))
    return Program(tuple(defs), _body(p.body, {}, 0))
