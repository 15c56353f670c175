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

from .ast import COMMUTATIVE, BinOp, Call, Const, Define, Embed, Loop, Move, Num, PenUp, Program, Var
from .syntax import parse, to_text

#: canonical loop variable names, by nesting depth
LOOP_VARS = ("i", "j", "k", "l", "m", "n") + tuple(f"v{d}" for d in range(6, 16))
#: canonical procedure parameter names, by position
PARAMS = tuple(f"p{d}" for d in range(8))


def loop_var(depth: int) -> str:
    """The canonical name of a loop variable bound at nesting `depth`."""
    return LOOP_VARS[depth] if depth < len(LOOP_VARS) else f"v{depth}"


def _order_key(e) -> tuple[int, str]:
    """(length, text) of an operand: the order of the operands of `+` and `*`."""
    t = type(e)
    text = str(e.value) if t is Num else e.name if t is Const or t is Var else to_text(e)
    return len(text), text


def _expr(e, env: dict[str, str]):
    t = type(e)
    if t is Var:
        name = env.get(e.name, e.name)
        return e if name == e.name else Var(name)
    if t is BinOp:
        left, right = _expr(e.left, env), _expr(e.right, env)
        if e.op in COMMUTATIVE and _order_key(left) > _order_key(right):
            return BinOp(e.op, right, left)
        return e if left is e.left and right is e.right else BinOp(e.op, left, right)
    return e


def _body(body, env: dict[str, str], depth: int) -> tuple:
    out = None                      # a new tuple only from the first statement that changes
    for i, s in enumerate(body):
        c = _stmt(s, env, depth)
        if out is None and c is not s:
            out = list(body[:i])
        if out is not None:
            out.append(c)
    return body if out is None else tuple(out)


def _stmt(s, env: dict[str, str], depth: int):
    """The canonical statement; `s` itself when it is canonical already (nothing is rebuilt, so
    canonicalising a mutation of a canonical program costs little beyond the walk)."""
    t = type(s)
    if t is Move:
        length, angle = _expr(s.length, env), _expr(s.angle, env)
        return s if length is s.length and angle is s.angle else Move(length, angle)
    if t is Loop:
        name = loop_var(depth)
        count = _expr(s.count, env)
        inner = env if env.get(s.var, s.var) == name and s.var == name else {**env, s.var: name}
        body = _body(s.body, inner, depth + 1)
        return s if name == s.var and count is s.count and body is s.body else Loop(name, count, body)
    if t is Embed or t is PenUp:
        body = _body(s.body, env, depth)
        return s if body is s.body else t(body)
    if t is Call:
        args = tuple(_expr(a, env) for a in s.args)
        return s if all(a is b for a, b in zip(args, s.args)) else Call(s.name, args)
    raise TypeError(f"not a statement: {s!r}")


def canonical(program) -> Program:
    """The canonical form of a program (or program text): same drawing, one spelling. A tree that is
    canonical already comes back as itself (the same object)."""
    p = parse(program) if isinstance(program, str) else program
    defs = []
    for d in p.defs:
        env = {old: PARAMS[i] if i < len(PARAMS) else f"p{i}" for i, old in enumerate(d.params)}
        params = tuple(env[x] for x in d.params)
        body = _body(d.body, env, 0)
        defs.append(d if params == d.params and body is d.body else Define(d.name, params, body))
    body = _body(p.body, {}, 0)
    if body is p.body and all(a is b for a, b in zip(defs, p.defs)):
        return p
    return Program(tuple(defs), body)


def rename_vars(node, names: dict):
    """`node` with loop variables (bound and used) renamed by `names`."""
    if isinstance(node, Var):
        return Var(names.get(node.name, node.name))
    if isinstance(node, BinOp):
        return BinOp(node.op, rename_vars(node.left, names), rename_vars(node.right, names))
    if isinstance(node, Move):
        return Move(rename_vars(node.length, names), rename_vars(node.angle, names))
    if isinstance(node, Loop):
        return Loop(names.get(node.var, node.var), rename_vars(node.count, names),
                    tuple(rename_vars(x, names) for x in node.body))
    if isinstance(node, Embed):
        return Embed(tuple(rename_vars(x, names) for x in node.body))
    if isinstance(node, PenUp):
        return PenUp(tuple(rename_vars(x, names) for x in node.body))
    if isinstance(node, Call):
        return Call(node.name, tuple(rename_vars(a, names) for a in node.args))
    return node
