"""Random well-formed Logo programs that look like DreamCoder's LOGO programs.

Programs are built from templates that DreamCoder's LOGO tasks use: single moves, regular polygons
`(loop i n (move l (/ ua n)))`, spirals that use the loop index in a length, arcs and circles made of
epsilon steps `(loop i inf (move eps_l eps_a))`, `embed` (save/restore the turtle), pen-up gaps, and
calls to library procedures.  Every program parses back from its canonical text; programs that draw
nothing, leave the canvas or hit an execution limit are filtered later (by `run_batch` verdicts).

    >>> import logo
    >>> progs = random_programs(3, seed=0)
    >>> [logo.parse(logo.to_text(p)) == p for p in progs]
    [True, True, True]

Reproducible: the same `(n, seed, constraints)` always gives the same programs (Python's `random`
seeded with an integer), whatever the process.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Sequence

import logo
from logo import vm
from logo.ast import BinOp, Call, Const, Define, Embed, Loop, Move, Num, PenUp, Program, Var
from logo.batch import Verdict, render_checked
from logo.tokens import n_tokens  # re-exported: callers and tests import it from here

# ---- constraints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraints:
    """Controls for size and for which constructs appear.

    min_tokens / max_tokens: length of the canonical text in tokens (programs outside are resampled).
    max_statements: top-level statements (1..max_statements, biased towards few).
    max_depth: nesting of loop / embed / penup blocks.
    max_segments: programs drawing more segments are rejected ("too_big") by `run_batch`.
    loops, loop_index, embed, penup, arithmetic: which constructs may appear.
    p_call: probability that a statement slot becomes a call to a library procedure (needs a library).
    """
    min_tokens: int = 1
    max_tokens: int = 60
    max_statements: int = 4
    max_depth: int = 2
    max_segments: int = 400
    loops: bool = True
    loop_index: bool = True
    embed: bool = True
    penup: bool = True
    arithmetic: bool = True
    p_call: float = 0.3

    @classmethod
    def make(cls, **kw) -> "Constraints":
        names = {f.name for f in fields(cls)}
        bad = sorted(set(kw) - names)
        if bad:
            raise TypeError(f"unknown generator constraint(s) {bad}; known: {sorted(names)}")
        c = cls(**kw)
        if c.min_tokens > c.max_tokens:
            raise ValueError("min_tokens must be <= max_tokens")
        if c.max_statements < 1 or c.max_depth < 0:
            raise ValueError("max_statements must be >= 1 and max_depth >= 0")
        return c

    def as_dict(self) -> dict:
        return asdict(self)


def sort_key(text: str) -> tuple[int, str]:
    """Shorter programs first; ties broken by the canonical text."""
    return (n_tokens(text), text)


# ---- the generator -----------------------------------------------------------------------------

UL, UA, EPS_L, EPS_A, INF = Const("ul"), Const("ua"), Const("eps_l"), Const("eps_a"), Const("inf")
NUMS = tuple(Num(k) for k in range(10))


VARS = {v: Var(v) for v in ("i", "j", "k", "m")}


def _var(name: str) -> Var:
    """A loop variable in scope (a mutated program may bind names other than the generator's own)."""
    return VARS.get(name) or Var(name)
_BINOPS: dict = {}


def _b(op, a, b):
    """BinOp(op, a, b), shared: operands are themselves shared nodes, so their ids identify them."""
    key = (op, id(a), id(b))
    node = _BINOPS.get(key)
    if node is None:
        node = _BINOPS[key] = BinOp(op, a, b)
    return node


class _Gen:
    def __init__(self, rng: random.Random, c: Constraints, library: Sequence[Define]):
        self.r = rng
        self.u = rng.random
        self.c = c
        self.lib = [d for d in library]
        self.var_names = ("i", "j", "k", "m")

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

    # -- statements --
    def new_var(self, idx):
        return self.var_names[len(idx)] if len(idx) < len(self.var_names) else None

    def stmt(self, depth, idx):
        c, r = self.c, self.r
        if self.lib and c.p_call > 0 and self.u() < c.p_call:
            d = self.pick(self.lib)
            args = []
            for p in d.params:
                x = self.u()
                args.append(self.count(idx) if x < 0.4 else self.length(idx) if x < 0.7 else self.angle(idx))
            return Call(d.name, tuple(args))
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


def random_programs(n: int, seed: int = 0, library: Sequence[Define] | None = None, **constraints) -> list[Program]:
    """`n` random well-formed programs (not yet filtered by what they draw), reproducible from `seed`.

    `constraints` are `Constraints` fields (max_tokens, max_depth, loops, embed, penup, p_call, ...).
    With a `library` (sequence of `logo.Define`), statements call its procedures with probability p_call.
    """
    return random_programs_and_texts(n, seed, library, **constraints)[0]


def random_programs_and_texts(n: int, seed: int = 0, library: Sequence[Define] | None = None,
                              **constraints) -> tuple[list[Program], list[str]]:
    """`random_programs` and the canonical text of each."""
    c = constraints.pop("_constraints", None) or Constraints.make(**constraints)
    g = _Gen(random.Random(int(seed)), c, library or ())
    out, texts = [], []
    tries = 0
    to_text = logo.to_text
    while len(out) < n:
        p = g.program()
        t = to_text(p)
        tries += 1
        k = n_tokens(t)
        if (k < c.min_tokens or k > c.max_tokens) and tries < 50 * (n + 10):
            continue
        out.append(p)
        texts.append(t)
    return out, texts


# ---- running a batch: images plus the reason each program is rejected ----------------------------

OK, ERROR, EMPTY, OFF_CANVAS, TOO_BIG = (Verdict.OK, Verdict.ERROR, Verdict.EMPTY, Verdict.OFF_CANVAS,
                                         Verdict.TOO_BIG)
REASONS = {ERROR: "error", EMPTY: "empty", OFF_CANVAS: "off_canvas", TOO_BIG: "too_big"}


def run_batch(programs: Sequence[Program], size: int = 32, library=None, max_segments: int = vm.MAX_SEGMENTS):
    """Run and draw programs; returns (images (n, size, size) uint8, verdict (n,) int8 of `logo.Verdict`).

    The generator's name for `logo.render_checked`: OK, ERROR (LogoError: bad call, execution limit),
    EMPTY (no ink), OFF_CANVAS (the centred drawing does not fit the 9x9 canvas, `logo.contained`),
    TOO_BIG (more than max_segments); rejected programs get blank images.
    """
    return render_checked(programs, size, library, max_segments=max_segments)
