"""The random generator of Logo statements and expressions, shaped like DreamCoder's LOGO programs.

Statements come from the templates DreamCoder's LOGO tasks use: single moves, regular polygons
`(loop i n (move l (/ ua n)))`, spirals that use the loop index in a length, arcs and circles made of
epsilon steps `(loop i inf (move eps_l eps_a))`, `embed` (save/restore the turtle), pen-up gaps, and
calls to library procedures.  Expressions are drawn by role: a length, an angle or a loop count.

One generator serves the database (`data.generate.random_programs` adds the token limits and the
filtering) and the mutator (`logo.mutate.RandomContent`, which draws new statements and expressions
for the program being edited).  It consumes random numbers in a fixed order, so a seeded
`random.Random` always gives the same programs (the database builds depend on it).

    >>> import random
    >>> from logo.syntax import to_text
    >>> g = Generator(random.Random(1))
    >>> to_text(g.stmt(depth=0, idx=()))
    '(move (* eps_l 8) (/ ua 5))'
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from .ast import BinOp, Call, Const, Define, Embed, Loop, Move, Num, PenUp, Program, Var


@dataclass(frozen=True)
class GeneratorSettings:
    """Which constructs the generator writes and how deep.

    max_statements: top-level statements of a program (1..max_statements, biased towards few).
    max_depth: nesting of loop / embed / penup blocks.
    loops, loop_index, embed, penup, arithmetic: which constructs may appear.
    p_call: probability that a statement slot becomes a call to a library procedure (needs a library).
    """
    max_statements: int = 4
    max_depth: int = 2
    loops: bool = True
    loop_index: bool = True
    embed: bool = True
    penup: bool = True
    arithmetic: bool = True
    p_call: float = 0.3


UL, UA, EPS_L, EPS_A, INF = Const("ul"), Const("ua"), Const("eps_l"), Const("eps_a"), Const("inf")
NUMS = tuple(Num(k) for k in range(10))
#: the generator's loop variable names, by nesting depth (`logo.canonical.LOOP_VARS` differ from the 4th on)
GEN_VARS = ("i", "j", "k", "m")

# Shared nodes: the generator builds every expression from these, so identical sub-expressions are one
# object (less memory in large batches, cheaper equality).  Keys hold ids of nodes kept alive here.
_VARS: dict[str, Var] = {v: Var(v) for v in GEN_VARS}
_BINOPS: dict = {}


def _var(name: str) -> Var:
    """The shared `Var` of a loop variable in scope (kept, so its id stays a valid `_BINOPS` key)."""
    v = _VARS.get(name)
    if v is None:
        v = _VARS[name] = Var(name)
    return v


def _b(op, a, b):
    """BinOp(op, a, b), shared: operands are themselves shared nodes, so their ids identify them."""
    key = (op, id(a), id(b))
    node = _BINOPS.get(key)
    if node is None:
        node = _BINOPS[key] = BinOp(op, a, b)
    return node


class Generator:
    """Random statements, blocks, programs and role-typed expressions.

    `idx` / `scope` arguments are the loop variables in scope, outermost first, named as the generator
    names them (`GEN_VARS` by depth); a statement that opens a loop binds `GEN_VARS[len(scope)]`.
    """

    def __init__(self, rng: random.Random, settings: GeneratorSettings | None = None,
                 library: Sequence[Define] = ()):
        self.r = rng
        self.u = rng.random
        self.c = settings or GeneratorSettings()
        self.lib = [d for d in library]
        self.var_names = GEN_VARS

    # -- expressions --
    def small(self, lo=2, hi=9):
        return NUMS[lo + int(self.u() * (hi - lo + 1))]

    def pick(self, seq):
        return seq[int(self.u() * len(seq))]

    def length(self, idx):
        r = self.u()
        c = self.c
        if not c.arithmetic:
            return UL if r < 0.6 else self.small(1, 4)
        if idx and c.loop_index and r < 0.25:
            v = _var(self.pick(idx))
            r2 = self.u()
            if r2 < 0.4:
                w = self.u()
                return _b("*", v, UL if w < 1 / 3 else EPS_L if w < 2 / 3 else _b("/", UL, self.small(2, 4)))
            if r2 < 0.7:
                return _b("/", v, self.small(2, 9))
            return _b("*", EPS_L, v) if r2 < 0.85 else v
        if r < 0.45:
            return UL
        if r < 0.6:
            return _b("*", UL, self.small(2, 4))
        if r < 0.75:
            return _b("/", UL, self.small(2, 4))
        if r < 0.82:
            return self.small(1, 3)
        if r < 0.9:
            return _b("*", EPS_L, self.small(2, 9))
        if r < 0.95:
            return EPS_L
        return _b("+", UL, _b("/", UL, self.small(2, 4)))

    def angle(self, idx):
        r = self.u()
        c = self.c
        if r < 0.2:
            return NUMS[0]
        if not c.arithmetic:
            return EPS_A if r < 0.6 else UA
        if idx and c.loop_index and r < 0.3:
            v = _var(self.pick(idx))
            return _b("*", v, EPS_A if self.u() < 0.5 else _b("/", UA, self.small(4, 9)))
        if r < 0.65:
            return _b("/", UA, self.small(2, 8))
        if r < 0.78:
            return _b("-", UA, _b("/", UA, self.small(2, 8)))
        if r < 0.88:
            return _b("*", EPS_A, self.small(2, 9))
        if r < 0.93:
            return EPS_A
        return _b("*", _b("/", UA, self.small(3, 8)), self.small(2, 3))

    def count(self, idx):
        r = self.u()
        if idx and self.c.loop_index and self.c.arithmetic and r < 0.1:
            return _b("+", _var(self.pick(idx)), self.small(1, 2))
        if r < 0.8 or not self.c.arithmetic:
            return self.small(2, 9)
        if r < 0.9:
            return INF
        return _b("*", self.small(2, 3), self.small(2, 5))

    def arg(self, idx):
        """An argument of a library call: a count, a length or an angle."""
        x = self.u()
        return self.count(idx) if x < 0.4 else self.length(idx) if x < 0.7 else self.angle(idx)

    # -- statements --
    def new_var(self, idx):
        return self.var_names[len(idx)] if len(idx) < len(self.var_names) else None

    def stmt(self, depth, idx):
        c = self.c
        if self.lib and c.p_call > 0 and self.u() < c.p_call:
            d = self.pick(self.lib)
            return Call(d.name, tuple(self.arg(idx) for _ in d.params))
        can_nest = depth < c.max_depth
        x = self.u()
        if not can_nest or x < 0.3:
            return Move(self.length(idx), self.angle(idx))
        v = self.new_var(idx)
        if c.loops and v is not None and x < 0.5:                       # regular polygon / spiral
            n = self.small(3, 8)
            ang = _b("/", UA, n) if self.u() < 0.8 or not c.arithmetic else self.angle(idx)
            if not c.arithmetic:
                ang = self.angle(idx)
            return Loop(v, n, (Move(self.length(idx + (v,)), ang),))
        if c.loops and v is not None and x < 0.62:                      # arc or circle of epsilon steps
            if c.arithmetic:
                w = self.u()
                cnt = (INF if w < 0.4 else _b("*", INF, self.small(2, 4)) if w < 0.6 else
                       _b("/", INF, NUMS[2]) if w < 0.8 else self.small(5, 9))
                w = self.u()
                step = EPS_L if w < 2 / 3 else _b("*", EPS_L, self.small(2, 5))
                w = self.u()
                turn = (EPS_A if w < 0.5 else _b("*", EPS_A, self.small(2, 4)) if w < 0.75 else
                        _b("-", NUMS[0], EPS_A))
            else:
                cnt, step, turn = INF, EPS_L, EPS_A
            return Loop(v, cnt, (Move(step, turn),))
        if c.loops and v is not None and x < 0.8:                       # generic loop
            return Loop(v, self.count(idx), self.block(depth + 1, idx + (v,)))
        if c.embed and x < 0.9:
            return Embed(self.block(depth + 1, idx))
        if c.penup:
            if self.u() < 0.7:
                return PenUp((Move(self.length(idx), self.angle(idx)),))
            return PenUp(self.block(depth + 1, idx))
        return Move(self.length(idx), self.angle(idx))

    def block(self, depth, idx, max_n=3):
        n = 1 + int(self.u() ** 2 * max_n)
        return tuple(self.stmt(depth, idx) for _ in range(min(n, max_n)))

    def program(self):
        return Program((), self.block(0, (), self.c.max_statements))


def compose(statements: Sequence, weights: Sequence[float], rng: random.Random) -> Program:
    """A canonical program of 1-3 of `statements` (whole statements written on their own, drawn by
    `weights`) with a pen-up move or a turn between them, a quarter of them repeated in a loop that
    steps or turns after each pass: the shape of DreamCoder's LOGO tasks, built from given parts
    (`bench/statements.py` trains a statement classifier on such programs)."""
    from .canonical import LOOP_VARS, canonical, rename_vars

    def between():
        r = rng.random()
        if r < 0.4:
            return [PenUp((Move(Num(rng.randint(1, 3)) if rng.random() < 0.5 else Const("ul"), Num(0)),))]
        if r < 0.7:
            return [Move(Num(0), BinOp("/", Const("ua"), Num(rng.randint(2, 8))))]
        return []

    body: list = []
    for j in range(rng.randint(1, 3)):
        body += between() if j else []
        body.append(rng.choices(statements, weights)[0])
    if rng.random() < 0.25:
        k = rng.randint(2, 8)
        inner = tuple(rename_vars(s, dict(zip(LOOP_VARS, LOOP_VARS[1:]))) for s in body)
        step = (PenUp((Move(Const("ul"), Num(0)),)) if rng.random() < 0.5
                else Move(Num(0), BinOp("/", Const("ua"), Num(k))))
        body = [Loop(LOOP_VARS[0], Num(k), inner + (step,))]
    return canonical(Program((), tuple(body)))
