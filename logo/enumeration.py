"""Top-down enumeration: every program in decreasing probability under a `logo.pcfg.Grammar`.

DreamCoder enumerates in description-length bands (iterative deepening on -log P): all programs whose
cost lies in (lo, hi], then the next band. We do the same, with what makes it fast in Python:

1. **Sorted lists per context, memoised and extended.** For each nonterminal in each context (an
   expression slot with the variables in scope; a statement kind in a kind of block; the rest of a block
   after its n-th statement) we keep its derivations sorted by cost, complete up to a bound. A larger
   derivation is a product of smaller sorted lists, entered by bisection and cut off at the bound; a list
   asked for more is *extended* by the band between its old and new bound, so every derivation is built
   (and compiled to a bytecode fragment, `logo.fragments`) once.
2. **Observational equivalence of expressions.** Expressions have no effects: two expressions in the same
   context that compute the same number (or, with loop variables, the same numbers at fixed sample values
   of the variables) are interchangeable, so only the most probable one is kept. At a statement's slot the
   value is compared as the statement uses it: angles modulo one turn, loop counts as the integer the
   loop runs (counts below 1, which make the loop a no-op, and above `Bounds.max_count` are dropped).
3. **Observational equivalence of statements** inside loops (`logo.effects`): of the statements that draw
   the same segments and end in the same pose, the most probable is kept; those that always fail, draw
   beyond the canvas or do nothing are dropped.
4. **Sound structural pruning.** No empty blocks; no `embed`/`penup` as the last statement of the program
   or of an `embed` (its effect cannot be seen); no `penup` or `embed` inside a `penup`.

Every pruned program draws what a more probable enumerated one draws (up to floating-point rounding), so
what is left is a subsequence of the grammar's order: each yielded program is a distinct AST, in
non-increasing probability (exactly sorted within a band, bands in order). Drawings are deduplicated
afterwards by `distinct_drawings` (two programs that draw the same image are one; the first, most
probable, is kept).

    >>> from logo.pcfg import Grammar
    >>> g = Grammar.fit(["(loop i 4 (move ul (/ ua 4)))"] * 3)
    >>> [logo.to_text(p) for p, _ in enumerate_programs(g, Budget(programs=2))]     # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import math
import time
from bisect import bisect_right
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .ast import CONSTANTS, BinOp, Call, Const, Embed, Loop, Move, Num, PenUp, Program, Var
from .batch import run_compiled
from .bytecode import BINOPS
from .effects import identity_hash, statement_effects, too_wide
from .errors import LogoError
from .forms import LOOP_VARS
from .fragments import NO_VAR, assemble, loop_frag, move_frag, named_code, num_code, statement_frag, var_code, wrap_frag
from .pcfg import Grammar, GrammarError, slot_role
from .vm import MAX_ABS, MAX_SEGMENTS

LN2 = math.log(2)

# Sample values of loop variables (by de Bruijn index) at which expressions are compared; sample 0 binds
# every variable to 0, the first index of every loop (an expression that fails there fails in every run,
# except where an inner loop's count keeps it from running while an outer index is 0: a corner case we
# accept).
_N_SAMPLES = 8
_SAMPLE_TABLE = ((0, 1, 2, 3, 5, 7, 11, 19), (0, 3, 1, 6, 2, 9, 4, 13), (0, 2, 5, 1, 4, 3, 8, 6),
                 (0, 4, 3, 2, 1, 6, 5, 9), (0, 1, 3, 2, 6, 4, 7, 5), (0, 5, 2, 4, 3, 1, 9, 7))


@dataclass(frozen=True)
class Bounds:
    """Hard limits on what is enumerated (the grammar's probabilities decide the order within them)."""
    max_depth: int = 3            # nested loop / embed / penup blocks
    max_expr_depth: int = 3       # nested binary operators in one expression
    max_statements: int = 6       # statements per block
    max_tokens: int = 64          # program length (tokens, parentheses included)
    max_count: int = 40           # largest loop count (the VM allows 1000; the canvas allows far less)
    max_bits: float = 60.0        # largest description length enumerated
    max_items: int = 3_000_000    # derivations kept in memory (all lists together): memory stays bounded

    def __post_init__(self):
        if min(self.max_depth, self.max_expr_depth, self.max_statements, self.max_tokens, self.max_count, self.max_items) < 0:
            raise ValueError("enumeration bounds must be non-negative")
        if self.max_depth >= len(LOOP_VARS):
            raise ValueError(f"max_depth must be below {len(LOOP_VARS)}")


@dataclass(frozen=True)
class Budget:
    """When enumeration stops: after `seconds`, after `programs` programs, or past `bits` of description
    length (whichever comes first; None = no limit of that kind; `Bounds.max_bits` always applies)."""
    seconds: float | None = None
    programs: int | None = None
    bits: float | None = None


def as_budget(budget) -> Budget:
    """A `Budget` from a Budget, an int (programs) or None (only `Bounds.max_bits`)."""
    if budget is None:
        return Budget()
    if isinstance(budget, Budget):
        return budget
    if isinstance(budget, int) and not isinstance(budget, bool):
        return Budget(programs=budget)
    raise TypeError(f"a budget is a Budget or an int (programs), not {type(budget).__name__}")


# ---- expression values -----------------------------------------------------------------------------

def _apply(op: str, x: float | None, y: float | None) -> float | None:
    if x is None or y is None:
        return None
    if op == "+":
        r = x + y
    elif op == "-":
        r = x - y
    elif op == "*":
        r = x * y
    else:
        if -1e-12 < y < 1e-12:
            return None
        r = x / y
    return r if -MAX_ABS <= r <= MAX_ABS else None


def _binop(op: str, a, b):
    """Values of (op a b): a float (or None, an error) for closed expressions, else a tuple per sample."""
    ta, tb = type(a) is tuple, type(b) is tuple
    if not ta and not tb:
        return _apply(op, a, b)
    if not ta:
        a = (a,) * _N_SAMPLES
    if not tb:
        b = (b,) * _N_SAMPLES
    return tuple([_apply(op, x, y) for x, y in zip(a, b)])


def _round(v):
    return None if v is None else round(v, 9)


def _value_key(fp):
    """Values compared by 9 decimals; None for an expression that fails at every sample (or when all loop
    variables are 0, a point every loop reaches)."""
    if type(fp) is tuple:
        return None if fp[0] is None else tuple([_round(v) for v in fp])
    return None if fp is None else round(fp, 9)


def _angle(v):
    return None if v is None else round(round(v, 9) % 1.0, 9) % 1.0


def _count(v):
    return None if v is None else max(0, math.floor(v + 1e-9))


def _key(fp, slot: str, max_count: int):
    """What a statement's slot sees of an expression's values; None for one to drop (fails when every
    loop variable is 0; a fixed loop count below 1 or above `max_count`)."""
    if type(fp) is not tuple:
        if fp is None:
            return None
        if slot == "angle":
            return _angle(fp)
        if slot == "count":
            c = _count(fp)
            return c if 1 <= c <= max_count else None
        return round(fp, 9)
    if fp[0] is None:
        return None
    if slot == "angle":
        return tuple([_angle(v) for v in fp])
    if slot == "count":
        return tuple([_count(v) for v in fp])
    return tuple([_round(v) for v in fp])


def _first(item):
    return item[0]


class OutOfTime(Exception):
    """The enumerator's deadline passed in the middle of building a band (or its memory bound was hit)."""


# ---- the enumerator --------------------------------------------------------------------------------

class _List:
    """One memoised derivation list: its items sorted by cost, complete up to `bound`; `seen` holds the keys
    (values, effects) of what it kept, so an extension keeps only what is new."""
    __slots__ = ("bound", "items", "costs", "seen")

    def __init__(self, seen=()):
        self.bound = -1.0
        self.items: list = []
        self.costs: list = []
        self.seen = set(seen)


class Enumerator:
    """Sorted, memoised derivation lists of one grammar under one set of bounds (see the module doc).

    Costs are -log P in nats. A list is extended, never rebuilt: asked for a larger bound, it builds only
    the derivations between its old bound and the new one (sorted products of sorted lists, entered by
    bisection), so every derivation is built once. Items carry their compiled fragments (`logo.fragments`),
    so a program's code is assembled from its statements' without compiling it again. `items(lo, hi)`
    returns the programs with cost in (lo, hi] as (cost, ntok, statements, fragments), cheapest first.
    """

    def __init__(self, grammar: Grammar, bounds: Bounds | None = None, deadline: float | None = None,
                 library=None):
        self.g = grammar
        self.b = bounds or Bounds()
        self.library = library or {}
        self.deadline = deadline            # time.monotonic() after which a build raises OutOfTime
        self.effects_from = 1               # statements at this loop depth or deeper are deduplicated by effect
        self.arity = grammar.arity
        self._identity = identity_hash()
        self._memo: dict = {}
        self._stored = 0
        self._low: dict = {}
        n_names = len(LOOP_VARS) + 1
        self._names = [tuple(Var(LOOP_VARS[n - 1 - k]) for k in range(n)) for n in range(n_names)]
        self._samples = [tuple(_SAMPLE_TABLE[min(k, len(_SAMPLE_TABLE) - 1)] for k in range(n))
                         for n in range(n_names)]

    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise OutOfTime

    def _get(self, key, bound: float, build, seen=()) -> _List:
        """The list `key`, extended to `bound` by `build(entry, lo, hi)` (which returns the new items, sorted,
        with cost in (lo, hi], and records what it keeps in entry.seen)."""
        entry = self._memo.get(key)
        if entry is None:
            entry = self._memo[key] = _List(seen)
        if entry.bound < bound:
            new = build(entry, entry.bound, bound)
            self._stored += len(new)
            if self._stored > self.b.max_items:
                raise OutOfTime
            entry.items += new
            entry.costs += [it[0] for it in new]
            entry.bound = bound
        return entry

    def _min_expr_cost(self, slot: str, parent: str, nvars: int) -> float:
        key = ("e", slot_role(slot) if parent else slot, parent, nvars > 0)
        got = self._low.get(key)
        if got is None:
            got = self._low[key] = min(-v for v in self.g.expr_logp(slot, parent, nvars > 0).values())
        return got

    def _min_block_cost(self, kind: str, prev: str) -> float:
        key = ("b", kind, prev)
        got = self._low.get(key)
        if got is None:
            got = self._low[key] = min(-v for v in self.g.stmt_logp(kind, prev).values())
        return got

    # -- expressions: (cost, ntok, expr, values, code, lowest slot read) --
    def exprs(self, slot: str, parent: str, nvars: int, depth: int, bound: float) -> _List:
        ctx = slot if parent == "" else slot_role(slot)
        key = ("e", ctx, parent, nvars, depth)
        return self._get(key, bound, lambda e, lo, hi: self._build_exprs(e, ctx, parent, nvars, depth, lo, hi))

    def _build_exprs(self, entry: _List, slot: str, parent: str, nvars: int, depth: int, lo: float,
                     hi: float) -> list:
        lp = self.g.expr_logp(slot, parent, nvars > 0)
        items = []
        append = items.append
        for prod, l in lp.items():
            c = -l
            if c > hi:
                continue
            kind, _, arg = prod.partition(":")
            if kind == "const":
                if c > lo:
                    e = Const(arg)
                    append((c, 1, e, CONSTANTS[arg], named_code(e), NO_VAR))
            elif kind == "num":
                if c > lo:
                    e = Num(int(arg))
                    append((c, 1, e, float(arg), num_code(e), NO_VAR))
            elif kind == "var":
                for k in range(nvars):
                    cv = c - self.g.var_logp(slot, k, nvars)
                    if lo < cv <= hi:
                        append((cv, 1, self._names[nvars][k], self._samples[nvars][k], var_code(nvars - 1 - k),
                                nvars - 1 - k))
            elif kind == "op" and depth > 0:
                lo_l = self._min_expr_cost(slot, f"{arg}0", nvars)
                lo_r = self._min_expr_cost(slot, f"{arg}1", nvars)
                if c + lo_l + lo_r > hi:
                    continue
                lefts = self.exprs(slot, f"{arg}0", nvars, depth - 1, hi - c - lo_r)
                right = self.exprs(slot, f"{arg}1", nvars, depth - 1, hi - c - lo_l)
                rights, rcosts = right.items, right.costs
                tail = (BINOPS[arg], 0, 0)
                for cl, nl, el, fl, kl, ll in lefts.items:
                    head = c + cl
                    if head + lo_r > hi:
                        break
                    self._check_time()
                    for j in range(bisect_right(rcosts, lo - head), len(rights)):
                        cr, nr, er, fr, kr, lr = rights[j]
                        t = head + cr
                        if t > hi:
                            break
                        append((t, 3 + nl + nr, BinOp(arg, el, er), _binop(arg, fl, fr), kl + kr + tail,
                                ll if ll < lr else lr))
        items.sort(key=_first)
        if parent == "":
            role = slot_role(slot)
            role = role if role in ("angle", "count") else "length"
            keys = [_key(it[3], role, self.b.max_count) for it in items]
        else:
            keys = [_value_key(it[3]) for it in items]
        seen = entry.seen
        out = []
        for k, it in zip(keys, items):
            if k is None or k in seen:
                continue
            seen.add(k)
            out.append(it)
        return out

    # -- statements: (cost without the statement's own production, ntok, stmt, fragment) --
    def stmts(self, prod: str, kind: str, nvars: int, depth: int, pen_up: bool, bound: float) -> _List:
        """Statements of production `prod` in a block of `kind` (moves' and loops' expression slots depend
        on it), with `nvars` loop variables in scope, at block nesting `depth`."""
        if prod not in ("move", "loop"):
            kind = ""
        key = ("s", prod, kind, nvars, depth, pen_up)
        return self._get(key, bound, lambda e, lo, hi: self._build_stmts(e, prod, kind, nvars, depth, pen_up, lo, hi),
                         (self._identity,))

    def _pairs(self, first: _List, second: _List, lo: float, hi: float, lo_second: float, make) -> list:
        """make(a, b, cost) for every a in `first`, b in `second` with cost(a) + cost(b) in (lo, hi]."""
        out = []
        items, costs = second.items, second.costs
        for a in first.items:
            ca = a[0]
            if ca + lo_second > hi:
                break
            self._check_time()
            for j in range(bisect_right(costs, lo - ca), len(items)):
                b = items[j]
                t = ca + b[0]
                if t > hi:
                    break
                out.append(make(a, b, t))
        return out

    def _build_stmts(self, entry: _List, prod: str, kind: str, nvars: int, depth: int, pen_up: bool, lo: float,
                     hi: float) -> list:
        D = self.b.max_expr_depth
        if prod == "move":
            ls, as_ = f"length.{kind}", f"angle.{kind}"
            lo_a = self._min_expr_cost(as_, "", nvars)
            lo_l = self._min_expr_cost(ls, "", nvars)
            lens = self.exprs(ls, "", nvars, D, hi - lo_a)
            angs = self.exprs(as_, "", nvars, D, hi - lo_l)
            out = self._pairs(lens, angs, lo, hi, lo_a, lambda l, a, t: (
                t, 3 + l[1] + a[1], Move(l[2], a[2]), move_frag(l[4], a[4], l[5] if l[5] < a[5] else a[5])))
            out.sort(key=_first)
            return out                   # moves are distinct by their values already
        if prod == "loop":
            lo_b = self._min_block_cost("loop", "start")
            cs = f"count.{kind}"
            lo_c = self._min_expr_cost(cs, "", nvars)
            counts = self.exprs(cs, "", nvars, D, hi - lo_b)
            bodies = self.block("loop", "start", nvars + 1, depth + 1, pen_up, 0, hi - lo_c)
            var = LOOP_VARS[nvars]
            out = self._pairs(counts, bodies, lo, hi, lo_b, lambda c, b, t: (
                t, 4 + c[1] + b[1], Loop(var, c[2], b[2]), loop_frag(nvars, c[4], c[5], b[3])))
        elif prod in ("embed", "penup"):
            cls = Embed if prod == "embed" else PenUp
            body = self.block(prod, "start", nvars, depth + 1, pen_up or prod == "penup", 0, hi)
            out = [(cb, 3 + nb, cls(sb), wrap_frag(prod, fb))
                   for cb, nb, sb, fb in body.items[bisect_right(body.costs, lo):bisect_right(body.costs, hi)]]
        else:
            name = prod[5:]
            partial = [(0.0, 0, ())]
            for i in range(self.arity[name]):
                args = self.exprs(f"call:{name}:{i}", "", nvars, D, hi)
                nxt = []
                for cp, np_, ap in partial:
                    for ca, na, ea, *_ in args.items:
                        t = cp + ca
                        if t > hi:
                            break
                        nxt.append((t, np_ + na, ap + (ea,)))
                partial = nxt
            names = LOOP_VARS[:nvars]
            out = []
            for c, n, a in partial:
                if c <= lo:
                    continue
                call = Call(name, a)
                try:
                    frag = statement_frag(call, names, self.library)
                except LogoError:
                    continue
                out.append((c, 3 + n, call, frag))
        out.sort(key=_first)
        # inside loops, where statements are small and pruning one multiplies: outside, a statement's effect
        # costs as much as drawing the programs made of it (measured: bench/enumerate.py)
        return self._distinct_effects(entry, out, nvars, pen_up) if out and nvars >= self.effects_from else out

    def _distinct_effects(self, entry: _List, items: list, nvars: int, pen_up: bool) -> list:
        """Keep the most probable statement of each effect (`logo.effects`); drop those that always fail,
        draw beyond the canvas, or do nothing. Statements with free loop variables are all kept."""
        frags = [it[3] for it in items]
        closed = [i for i, f in enumerate(frags) if f[3] >= nvars]
        if not closed:
            return items
        status, hashes, spans = statement_effects([frags[i] for i in closed], pen_up)
        wide = too_wide(spans) if not pen_up else np.zeros(len(closed), bool)
        drop = set()
        seen = entry.seen
        for j, i in enumerate(closed):
            h = int(hashes[j])
            if status[j] != 0 or wide[j] or h in seen:
                drop.add(i)
            else:
                seen.add(h)
        return [it for i, it in enumerate(items) if i not in drop]

    # -- blocks: (cost, ntok, stmts, fragments) --
    def block(self, kind: str, prev: str, nvars: int, depth: int, pen_up: bool, n: int, bound: float) -> _List:
        """The rest of a block of `kind` after `n` statements, the last of kind `prev`."""
        key = ("b", kind, prev, nvars, depth, pen_up, n)
        return self._get(key, bound,
                         lambda e, lo, hi: self._build_block(kind, prev, nvars, depth, pen_up, n, lo, hi))

    def _build_block(self, kind, prev, nvars, depth, pen_up, n, lo, hi) -> list:
        lp = self.g.stmt_logp(kind, prev)
        b = self.b
        out = []
        append = out.append
        if n > 0 and not (kind in ("top", "embed") and prev in ("embed", "penup")):
            c = -lp["stop"]
            if lo < c <= hi:
                append((c, 0, (), ()))
        if n >= b.max_statements:
            return out
        for prod, l in lp.items():
            if prod == "stop":
                continue
            if (pen_up and prod in ("penup", "embed")) or (depth >= b.max_depth and prod in ("loop", "embed", "penup")):
                continue
            c = -l
            nxt = "call" if prod.startswith("call:") else prod
            lo_rest = self._min_block_cost(kind, nxt)
            if c + lo_rest > hi:
                continue
            stmts = self.stmts(prod, kind, nvars, depth, pen_up, hi - c - lo_rest)
            if not stmts.items or c + stmts.costs[0] + lo_rest > hi:
                continue
            rest = self.block(kind, nxt, nvars, depth, pen_up, n + 1, hi - c - stmts.costs[0])
            items, costs = rest.items, rest.costs
            for c1, n1, s, f in stmts.items:
                head = c + c1
                if head + lo_rest > hi:
                    break
                self._check_time()
                if len(out) > b.max_items:
                    raise OutOfTime
                limit = b.max_tokens - n1
                for j in range(bisect_right(costs, lo - head), len(items)):
                    c2, n2, tail, ftail = items[j]
                    t = head + c2
                    if t > hi:
                        break
                    if n2 <= limit:
                        append((t, n1 + n2, (s,) + tail, (f,) + ftail))
        out.sort(key=_first)
        return out

    def items(self, lo: float, hi: float) -> list:
        """Programs with cost in (lo, hi] (nats), cheapest first: (cost, ntok, statements, fragments)."""
        return self._build_block("top", "start", 0, 0, False, 0, lo, hi)

    def cheapest(self) -> float:
        """A lower bound on every program's cost (where the first band starts)."""
        return self._min_block_cost("top", "start") + self._min_block_cost("top", "move")


def enumerate_items(grammar: Grammar, budget, bounds: Bounds | None, library, band_bits: float):
    """(cost, ntok, statements, fragments) of every program in order, band by band, within the budget:
    the raw items `enumerate_programs` and `distinct_drawings` are made from (cost in nats; the
    statements' compiled fragments for `logo.fragments.assemble`)."""
    budget = as_budget(budget)
    bounds = bounds or Bounds()
    if not band_bits > 0:
        raise ValueError("band_bits must be positive")
    deadline = None if budget.seconds is None else time.monotonic() + budget.seconds
    en = Enumerator(grammar, bounds, deadline, check_library(grammar, library))
    max_bits = bounds.max_bits if budget.bits is None else min(bounds.max_bits, budget.bits)
    max_cost = max_bits * LN2
    left = budget.programs
    if left is not None and left <= 0:
        return
    lo = -1.0
    hi = max(en.cheapest(), 0.0) + band_bits * LN2
    while lo < max_cost:
        if deadline is not None and time.monotonic() > deadline:
            return
        hi = min(hi, max_cost)
        try:
            band = en.items(lo, hi)
        except OutOfTime:
            return
        for item in band:
            yield item
            if left is not None:
                left -= 1
                if left <= 0:
                    return
            if deadline is not None and time.monotonic() > deadline:
                return
        lo, hi = hi, hi + band_bits * LN2


def enumerate_programs(grammar: Grammar, budget=None, *, bounds: Bounds | None = None, library=None,
                       band_bits: float = 1.5) -> Iterator[tuple[Program, float]]:
    """Programs in non-increasing probability under `grammar`: (program, log P in nats) pairs.

    `budget` is a `Budget` (seconds, programs, bits) or an int (programs); `bounds` limits size and
    nesting; `library` defines the grammar's procedures (needed when it has any). Bands of `band_bits`
    bits of description length are enumerated in turn (each exactly sorted), as DreamCoder's
    `enumerateForTasks`. Every program is a distinct AST that parses back from its text.
    """
    for cost, _, stmts, _ in enumerate_items(grammar, budget, bounds, library, band_bits):
        yield Program((), stmts), -cost


def check_library(grammar: Grammar, library) -> dict:
    """The library as a dict name -> Define, checked to define every procedure of the grammar (with its
    arity): the enumerator runs statements that call them."""
    lib = {d.name: d for d in (library.values() if isinstance(library, dict) else (library or ()))}
    for name, arity in grammar.procedures:
        if name not in lib:
            raise GrammarError(f"the grammar calls procedure {name!r}, which the library given does not define")
        if len(lib[name].params) != arity:
            raise GrammarError(f"the grammar calls procedure {name!r} with {arity} argument(s); the library's "
                               f"takes {len(lib[name].params)}")
    return lib


# ---- drawings --------------------------------------------------------------------------------------

@dataclass
class Drawn:
    """A batch of enumerated programs with distinct, usable drawings (most probable first)."""
    programs: list[Program]
    logps: np.ndarray          # (n,) float64, natural log
    images: np.ndarray         # (n, size, size) uint8
    enumerated: int            # programs enumerated up to the end of this batch (all, not only these)
    rendered: int              # of them rendered (all enumerated programs are)


def distinct_drawings(grammar: Grammar, budget=None, *, size: int = 28, library=None,
                      bounds: Bounds | None = None, batch: int = 2048, band_bits: float = 1.5,
                      seen: set | None = None) -> Iterator[Drawn]:
    """Enumerate, render in batches (the numba VM and rasterizer of `logo.render_checked`, from the
    statements' precompiled fragments), and keep each drawing once.

    Programs that fail, draw nothing, leave the canvas or exceed the segment limit are dropped; of the
    programs that draw the same image (exact bytes at `size`), only the first, most probable, is kept
    (pass `seen`, a set of image hashes, to share that across calls). `library` holds the Defines of the
    grammar's procedures."""
    seen = set() if seen is None else seen
    pending: list = []
    n_enum = 0
    n_rend = 0

    def flush():
        nonlocal n_rend
        code, ok = assemble([it[3] for it in pending])
        imgs, verdicts, _ = run_compiled(code, size, MAX_SEGMENTS, False)
        n_rend += len(pending)
        keep = []
        for i in np.flatnonzero((verdicts == 0) & ok):
            h = hashlib.blake2b(imgs[i].tobytes(), digest_size=16).digest()
            if h not in seen:
                seen.add(h)
                keep.append(i)
        out = Drawn([Program((), pending[i][2]) for i in keep],
                    np.asarray([-pending[i][0] for i in keep], np.float64), imgs[keep], n_enum, n_rend)
        pending.clear()
        return out

    for item in enumerate_items(grammar, budget, bounds, library, band_bits):
        pending.append(item)
        n_enum += 1
        if len(pending) >= batch:
            yield flush()
    if pending:
        yield flush()


def bits(logp: float) -> float:
    """Description length in bits of a log-probability in nats."""
    return -logp / LN2


__all__ = ["Bounds", "Budget", "Drawn", "Enumerator", "distinct_drawings", "enumerate_items", "enumerate_programs", "bits"]
