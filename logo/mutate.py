"""Grammatical mutations: where a program can be edited, and the edits that keep it a program.

The search moves from program to program; a useful step is a *grammatical* one (a whole statement or
sub-expression inserted, deleted or replaced), because token-sized steps mostly leave programs that
do not parse (issue 11).  This module is that step, at the level of the DSL:

- **Sites** (`Sites.of(program)`, computed once per program): every statement list (the program body
  and each loop / embed / penup body, with its statement slots and the insertion gaps around them) as
  a `BlockSite`, and every expression, sub-expressions included, as an `ExprSite` with its role (a
  move's `length` or `angle`, a loop's `count`, a call's `arg`).  Both lists are in print order, so a
  site's index is stable for a given program; `Sites.block_tokens` and `Sites.expr_tokens` give each
  site's tokens in `to_text(program)` (pointer targets for a learned policy).
- **Mutations** (`Mutation(kind, site, at, end, content)`: which edit, where, and what it writes) of
  the kinds `MUTATIONS`: insert, delete or replace a statement, replace an expression, change a loop
  count, wrap statements in a loop / embed / penup, unwrap a block.  `Sites.positions(kind)` lists where a kind applies;
  `Sites.apply(mutation)` returns the edited `Program` (a tree: printing and canonicalising is the
  caller's choice).
- **Random mutations**: `Sites.draw(rng, kind, content)` chooses the position and the content at random
  (new statements and expressions from `RandomContent`, i.e. the database generator
  `logo.generate.Generator`, renamed into the program's loop variables); `Sites.mutate(rng)` draws a
  kind by `MUTATION_WEIGHTS` and applies one; `Sites.mutate_text` retries until it gets a canonical
  text different from the program's, within a token limit.  `mutate(program, rng)` is that for one
  program (the pair sampler's and the `grammar` arm's step).

Draws from `Sites` consume random numbers exactly as the per-call `mutate` does, so computing the
sites once and drawing many mutations gives the same mutations as recomputing them for every draw.

    >>> from logo.syntax import parse, to_text
    >>> sites = Sites.of(parse("(loop i 4 (move ul (/ ua 4)))"))
    >>> [(b.depth, len(b.body)) for b in sites.blocks], [e.role for e in sites.exprs][:3]
    ([(0, 1), (1, 1)], ['count', 'length', 'angle'])
    >>> sites.block_tokens, sites.expr_tokens[:3]
    ([(0, 14), (4, 13)], [3, 6, 7])
    >>> to_text(sites.apply(Mutation("replace_expr", site=0, content=Num(5))))
    '(loop i 5 (move ul (/ ua 4)))'
    >>> to_text(sites.apply(Mutation("wrap", site=1, at=0, end=1, content=Embed(()))))
    '(loop i 4 (embed (move ul (/ ua 4))))'
"""
from __future__ import annotations

import random
from functools import cached_property
from itertools import accumulate
from typing import Callable, NamedTuple, Sequence

from .ast import CONSTANTS, OPERATORS, BinOp, Call, Const, Embed, Loop, Move, Num, PenUp, Program, Var, walk
from .canonical import LOOP_VARS, canonical, rename_vars  # noqa: F401  (rename_vars: re-exported)
from .errors import LogoError
from .generate import Generator, GeneratorSettings
from .syntax import define_text, parse, to_text
from .tokens import CONTEXT_TOKENS, n_tokens

#: the grammatical mutations, in the order `Sites.mutate` draws them (weights in `MUTATION_WEIGHTS`)
MUTATIONS = ("insert", "delete", "replace_stmt", "replace_expr", "loop_count", "wrap", "unwrap")
MUTATION_WEIGHTS = (0.2, 0.15, 0.15, 0.25, 0.1, 0.1, 0.05)
#: kinds whose site indexes `Sites.blocks` (the others index `Sites.exprs`)
BLOCK_KINDS = frozenset(("insert", "delete", "replace_stmt", "wrap", "unwrap"))
#: nesting of blocks the random content creates, and below which `wrap` may add one (the generator's default)
MAX_DEPTH = GeneratorSettings().max_depth
#: expression roles (`ExprSite.role`)
ROLES = ("length", "angle", "count", "arg")

_CUM_WEIGHTS = tuple(accumulate(MUTATION_WEIGHTS))


# ---- sites ----------------------------------------------------------------------------------------

class BlockSite(NamedTuple):
    """A statement list: the program body or a loop / embed / penup body.

    Statement slots are `body[at]`; insertion gaps are `at = 0..len(body)` (before statement `at`)."""
    body: tuple
    scope: tuple            # loop variables bound here, outermost first
    depth: int              # nesting depth (0: the program body)
    top: bool               # the program body (may become empty; inner blocks may not)
    rebuild: Callable[[tuple], Program]     # the program with this block's statements replaced


class ExprSite(NamedTuple):
    """An expression (sub-expressions are sites of their own) and where it sits."""
    expr: object
    scope: tuple            # loop variables bound here
    role: str               # "length", "angle", "count" or "arg"
    rebuild: Callable[[object], Program]    # the program with this expression replaced


class Mutation(NamedTuple):
    """One grammatical edit of a program, relative to its `Sites` (not `model.edits.Edit`, a token edit).

    kind: one of `MUTATIONS`.
    site: index into `Sites.blocks` for insert / delete / replace_stmt / wrap / unwrap, into
          `Sites.exprs` for replace_expr / loop_count.
    at:   statement position in the block (insert: the gap before statement `at`; `len(body)` appends).
    end:  wrap only: the statements `body[at:end]` go into the wrapper.
    content: insert / replace_stmt: the new statement; replace_expr / loop_count: the new expression
          (both in the program's own loop variable names, as `RandomContent` makes them); wrap: the
          wrapper with an empty body (`Loop(var, count, ())`, `Embed(())` or `PenUp(())`).
    """
    kind: str
    site: int
    at: int = 0
    end: int = 0
    content: object = None


class Sites:
    """The sites of one program, computed once; many edits are drawn or applied from them."""

    def __init__(self, program: Program, blocks: list[BlockSite], exprs: list[ExprSite], is_canonical: bool = False):
        self.program = program
        self.blocks = blocks
        self.exprs = exprs
        self.is_canonical = is_canonical
        self._cands: dict = {}

    @classmethod
    def of(cls, program: Program, is_canonical: bool = False) -> "Sites":
        """Every block and expression site of `program`, in print order.  `is_canonical`: the program is
        in canonical form already (`logo.canonical`), so `mutate_text` need not canonicalise it."""
        blocks: list[BlockSite] = []
        exprs: list[ExprSite] = []
        add_block, add_expr, make = blocks.append, exprs.append, tuple.__new__   # make(Site, fields): faster

        def expr(e, scope, role, set_e):
            add_expr(make(ExprSite, (e, scope, role, set_e)))
            if isinstance(e, BinOp):
                expr(e.left, scope, role, lambda x, e=e, set_e=set_e: set_e(BinOp(e.op, x, e.right)))
                expr(e.right, scope, role, lambda x, e=e, set_e=set_e: set_e(BinOp(e.op, e.left, x)))

        def body(b, scope, depth, set_b, top=False):
            add_block(make(BlockSite, (b, scope, depth, top, set_b)))
            for i, s in enumerate(b):
                def set_s(new, i=i, b=b, set_b=set_b):
                    return set_b(b[:i] + (new,) + b[i + 1:])
                if isinstance(s, Move):
                    expr(s.length, scope, "length", lambda x, s=s, set_s=set_s: set_s(Move(x, s.angle)))
                    expr(s.angle, scope, "angle", lambda x, s=s, set_s=set_s: set_s(Move(s.length, x)))
                elif isinstance(s, Loop):
                    expr(s.count, scope, "count", lambda x, s=s, set_s=set_s: set_s(Loop(s.var, x, s.body)))
                    body(s.body, scope + (s.var,), depth + 1,
                         lambda nb, s=s, set_s=set_s: set_s(Loop(s.var, s.count, nb)))
                elif isinstance(s, Embed):
                    body(s.body, scope, depth + 1, lambda nb, set_s=set_s: set_s(Embed(nb)))
                elif isinstance(s, PenUp):
                    body(s.body, scope, depth + 1, lambda nb, set_s=set_s: set_s(PenUp(nb)))
                elif isinstance(s, Call):
                    for j, a in enumerate(s.args):
                        expr(a, scope, "arg", lambda x, s=s, j=j, set_s=set_s:
                             set_s(Call(s.name, s.args[:j] + (x,) + s.args[j + 1:])))
                else:
                    raise TypeError(f"not a statement: {s!r}")

        body(program.body, (), 0, lambda nb: Program(program.defs, nb), top=True)
        expr = body = None      # noqa: F841  (they refer to themselves: free them without the garbage collector)
        return cls(program, blocks, exprs, is_canonical)

    @cached_property
    def block_tokens(self) -> list[tuple[int, ...]]:
        """For each block site, the token index in `to_text(program)` of each statement's "(" and, last,
        where a statement appended to the block would start (len(body) + 1 entries): pointer targets
        for the block kinds' `at` (computed on first use)."""
        return self._tokens[0]

    @cached_property
    def expr_tokens(self) -> list[int]:
        """For each expression site, the index of its first token in `to_text(program)`."""
        return self._tokens[1]

    @cached_property
    def _tokens(self) -> tuple[list, list]:
        blocks: list = []
        exprs: list[int] = []

        def expr(e, pos) -> int:                       # "(" op left right ")" or one token
            exprs.append(pos)
            return expr(e.right, expr(e.left, pos + 2)) + 1 if isinstance(e, BinOp) else pos + 1

        def body(b, pos) -> int:                       # the same walk as `of`: blocks before their insides
            k = len(blocks)
            blocks.append(None)
            starts = []
            for s in b:
                starts.append(pos)
                if isinstance(s, Move):                # "(" move length angle ")"
                    pos = expr(s.angle, expr(s.length, pos + 2))
                elif isinstance(s, Loop):              # "(" loop var count body ")"
                    pos = body(s.body, expr(s.count, pos + 3))
                elif isinstance(s, (Embed, PenUp)):    # "(" embed body ")"
                    pos = body(s.body, pos + 2)
                else:                                  # "(" name args ")"
                    pos += 2
                    for a in s.args:
                        pos = expr(a, pos)
                pos += 1
            starts.append(pos)
            blocks[k] = tuple(starts)
            return pos

        body(self.program.body, sum(n_tokens(define_text(d)) for d in self.program.defs))
        expr = body = None      # noqa: F841  (free the self-referring functions without the garbage collector)
        return blocks, exprs

    # -- where each kind applies ------------------------------------------------------------------

    def _candidates(self, kind: str) -> list:
        """The sites a random `kind` edit chooses among (in the order the random draw indexes them)."""
        got = self._cands.get(kind)
        if got is None:
            blocks = self.blocks
            if kind == "delete":
                got = [k for k, b in enumerate(blocks) if len(b.body) >= (1 if b.top else 2)]
            elif kind == "replace_stmt":
                got = [k for k, b in enumerate(blocks) if b.body]
            elif kind == "loop_count":
                got = [k for k, e in enumerate(self.exprs) if e.role == "count"]
            elif kind == "wrap":
                got = [k for k, b in enumerate(blocks) if b.body and b.depth < MAX_DEPTH]
            elif kind == "unwrap":
                got = [(k, i) for k, b in enumerate(blocks) for i, s in enumerate(b.body)
                       if isinstance(s, (Loop, Embed, PenUp))]
            else:
                raise ValueError(f"unknown mutation {kind!r} (known: {', '.join(MUTATIONS)})")
            self._cands[kind] = got
        return got

    def positions(self, kind: str) -> list[Mutation]:
        """Every place a `kind` edit applies here, as Mutations without content (fill it with
        `m._replace(content=...)` for insert, replace_stmt, replace_expr, loop_count and wrap)."""
        if kind == "insert":
            return [Mutation(kind, k, i) for k, b in enumerate(self.blocks) for i in range(len(b.body) + 1)]
        if kind == "replace_expr":
            return [Mutation(kind, k) for k in range(len(self.exprs))]
        if kind == "loop_count":
            return [Mutation(kind, k) for k in self._candidates(kind)]
        if kind == "unwrap":
            return [Mutation(kind, k, i) for k, i in self._candidates(kind)]
        if kind == "wrap":
            return [Mutation(kind, k, i, i + w) for k in self._candidates(kind)
                    for i in range(len(self.blocks[k].body)) for w in (1, 2) if i + w <= len(self.blocks[k].body)]
        return [Mutation(kind, k, i) for k in self._candidates(kind) for i in range(len(self.blocks[k].body))]

    def wrap_var(self, site: int, at: int, end: int) -> str:
        """A loop variable for a loop wrapped around `blocks[site].body[at:end]`: free in its scope and
        not rebound inside."""
        b = self.blocks[site]
        inner = b.body[at:end]
        return fresh_var(b.scope + tuple(n.var for s in inner for n in walk(s) if isinstance(n, Loop)))

    # -- applying an edit ---------------------------------------------------------------------------

    def apply(self, m: Mutation) -> Program:
        """The program with mutation `m` made (those from `positions` or `draw` always apply)."""
        kind, site, at = m.kind, m.site, m.at
        if kind in ("replace_expr", "loop_count"):
            return self.exprs[site].rebuild(m.content)
        b = self.blocks[site]
        body = b.body
        if kind == "insert":
            return b.rebuild(body[:at] + (m.content,) + body[at:])
        if kind == "delete":
            return b.rebuild(body[:at] + body[at + 1:])
        if kind == "replace_stmt":
            return b.rebuild(body[:at] + (m.content,) + body[at + 1:])
        if kind == "wrap":
            inner, w = body[at:m.end], m.content
            if isinstance(w, Loop):
                new = Loop(w.var, w.count, inner)
            elif isinstance(w, (Embed, PenUp)):
                new = type(w)(inner)
            else:
                raise ValueError(f"a wrap's content is Loop, Embed or PenUp, not {w!r}")
            return b.rebuild(body[:at] + (new,) + body[m.end:])
        if kind == "unwrap":
            s = body[at]
            inner = s.body
            if isinstance(s, Loop) and _uses(inner, s.var):
                inner = tuple(substitute(x, s.var, Num(0)) for x in inner)
            return b.rebuild(body[:at] + inner + body[at + 1:])
        raise ValueError(f"unknown mutation {kind!r} (known: {', '.join(MUTATIONS)})")

    # -- random edits -------------------------------------------------------------------------------

    def draw(self, rng: random.Random, kind: str, content: "RandomContent") -> Mutation | None:
        """A random `kind` edit (position and content drawn), or None where `kind` does not apply."""
        if kind == "insert":
            k = rng.randrange(len(self.blocks))                 # = rng.choice(blocks)
            b = self.blocks[k]
            i = rng.randint(0, len(b.body))
            return Mutation(kind, k, i, 0, content.stmt(b.depth, b.scope))
        if kind in ("delete", "replace_stmt"):
            cand = self._candidates(kind)
            if not cand:
                return None
            k = rng.choice(cand)
            b = self.blocks[k]
            i = rng.randrange(len(b.body))
            return Mutation(kind, k, i) if kind == "delete" else Mutation(kind, k, i, 0, content.stmt(b.depth, b.scope))
        if kind == "replace_expr":
            if not self.exprs:
                return None
            k = rng.randrange(len(self.exprs))
            e = self.exprs[k]
            new = random_expr(rng, e.expr, e.role, e.scope, content)
            return Mutation(kind, k, content=new) if new != e.expr else None
        if kind == "loop_count":
            cand = self._candidates(kind)
            if not cand:
                return None
            k = rng.choice(cand)
            e = self.exprs[k]
            new = random_count(rng, e.expr, e.scope, content)
            return None if new is None else Mutation(kind, k, content=new)
        if kind == "wrap":
            cand = self._candidates(kind)
            if not cand:
                return None
            k = rng.choice(cand)
            b = self.blocks[k]
            i = rng.randrange(len(b.body))
            j = min(len(b.body), i + rng.choice((1, 1, 2)))
            r = rng.random()
            if r < 0.5:
                wrapper = Loop(self.wrap_var(k, i, j), random_wrap_count(rng), ())
            else:
                wrapper = Embed(()) if r < 0.75 else PenUp(())
            return Mutation(kind, k, i, j, wrapper)
        if kind == "unwrap":
            cand = self._candidates(kind)
            if not cand:
                return None
            k, i = rng.choice(cand)
            return Mutation(kind, k, i)
        raise ValueError(f"unknown mutation {kind!r} (known: {', '.join(MUTATIONS)})")

    def mutate(self, rng: random.Random, kind: str | None = None, content: "RandomContent | None" = None,
               kinds: Sequence[str] | None = None) -> Program | None:
        """One random edit applied: a Program tree (not canonicalised, possibly equal to this one after
        canonicalisation), or None where the drawn kind does not apply.  `kind` fixes the kind, else it
        is drawn from `kinds` (default all) by `MUTATION_WEIGHTS`; `content` supplies new statements
        and expressions (default: `RandomContent(rng)`, no library)."""
        if kind is None:
            names, cum = kind_weights(kinds)
            kind = rng.choices(names, cum_weights=cum)[0]
        m = self.draw(rng, kind, content or RandomContent(rng))
        return None if m is None else self.apply(m)

    @cached_property
    def canonical_text(self) -> str:
        """`to_text(canonical(program))`: what `mutate_text` must differ from."""
        return to_text(self.program if self.is_canonical else canonical(self.program))

    def mutate_text(self, rng: random.Random, kind: str | None = None, content: "RandomContent | None" = None,
                    kinds: Sequence[str] | None = None, tries: int = 8,
                    max_tokens: int = CONTEXT_TOKENS) -> str | None:
        """Up to `tries` random edits until one gives a program whose canonical text differs from this
        program's and has at most `max_tokens` tokens: that text; None if none did."""
        names, cum = kind_weights(kinds)
        content = content or RandomContent(rng)
        before = self.canonical_text
        for _ in range(tries):
            k = kind or rng.choices(names, cum_weights=cum)[0]
            try:
                m = self.draw(rng, k, content)
                q = None if m is None else self.apply(m)
            except IndexError:
                q = None
            if q is None:
                continue
            try:
                text = to_text(canonical(parse(to_text(q))))
            except (LogoError, RecursionError, TypeError, ValueError):
                continue
            if text != before and n_tokens(text) <= max_tokens:    # canonical text: its tokens are the model's
                return text
        return None


def kind_weights(kinds: Sequence[str] | None = None) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """(kinds, cumulative weights) to draw a kind among `kinds` (default: all) by `MUTATION_WEIGHTS`."""
    if not kinds:
        return MUTATIONS, _CUM_WEIGHTS
    bad = [k for k in kinds if k not in MUTATIONS]
    if bad:
        raise ValueError(f"unknown mutation(s) {bad} (known: {', '.join(MUTATIONS)})")
    return tuple(kinds), tuple(accumulate(MUTATION_WEIGHTS[MUTATIONS.index(k)] for k in kinds))


def mutate(program, rng: random.Random, kind: str | None = None, library=None, max_tokens: int = CONTEXT_TOKENS,
           tries: int = 8, content: "RandomContent | None" = None, canonical_input: bool = False,
           kinds: Sequence[str] | None = None) -> str | None:
    """One random grammatical mutation of `program` (text or Program), as canonical text; None if no try
    gave a parseable program of at most `max_tokens` tokens different from the input.  Not rendered.
    `kind` fixes the mutation; `kinds` draws among those (by `MUTATION_WEIGHTS`).  To draw many
    mutations of one program, compute `Sites.of(canonical(program), is_canonical=True)` once and call its
    `mutate_text` (the same mutations, drawn in the same order)."""
    p = program if isinstance(program, Program) and canonical_input else canonical(program)
    return Sites.of(p, is_canonical=True).mutate_text(rng, kind, content or RandomContent(rng, library), kinds,
                                                      tries, max_tokens)


# ---- random content ---------------------------------------------------------------------------------

def random_expr(rng: random.Random, x, role: str, scope: tuple, content: "RandomContent"):
    """What a random `replace_expr` writes in place of expression `x` (may equal `x`): a different leaf of
    the same kind, another operator, a scaling, or a new expression of the site's `role` from `content`."""
    r = rng.random()
    if r < 0.35 and isinstance(x, (Num, Const)):              # a different leaf of the same kind
        if isinstance(x, Num):
            return Num(rng.choice([d for d in range(10) if d != x.value]))
        return Const(rng.choice([c for c in CONSTANTS if c != x.name]))
    if r < 0.5 and isinstance(x, BinOp):                       # change the operator
        return BinOp(rng.choice([o for o in OPERATORS if o != x.op]), x.left, x.right)
    if r < 0.6:                                                 # scale: x -> (op x d)
        return BinOp(rng.choice(("*", "/")), x, Num(rng.randint(2, 4)))
    return content.expr(role, scope)


def random_count(rng: random.Random, x, scope: tuple, content: "RandomContent"):
    """What a random `loop_count` writes in place of loop count `x`: a digit one up or down (None where
    that leaves 1..9), or a new count expression from `content`."""
    if isinstance(x, Num):
        v = x.value + rng.choice((-1, 1))
        return Num(v) if 1 <= v <= 9 else None
    return content.expr("count", scope)


def random_prefix(program: Program, rng: random.Random) -> Program:
    """The program cut after a random number of its top-level statements (fewer than all; the empty
    program stays empty): a partial program on the way to `program`."""
    j = rng.randrange(len(program.body)) if program.body else 0
    return Program(program.defs, program.body[:j])


def random_wrap_count(rng: random.Random) -> Num:
    """The count of a loop a random `wrap` adds."""
    return Num(rng.randint(2, 8))


class RandomContent:
    """New statements and expressions for edits, drawn as the database generator draws them
    (`logo.generate.Generator`) and named with the edited program's loop variables."""

    def __init__(self, rng: random.Random, library=None):
        self.gen = Generator(rng, GeneratorSettings(max_depth=MAX_DEPTH, p_call=0.3 if library else 0.0),
                             library or [])
        self.rng = rng

    def _names(self, scope: tuple) -> tuple[tuple, dict]:
        """The generator names loop variables i, j, k, m by how many are in scope; the program's may
        differ (canonical names run i, j, k, l, ...). (generator scope, generator name -> program name)."""
        gen_names = self.gen.var_names
        n = min(len(scope), len(gen_names))
        back = {gen_names[p]: scope[p] for p in range(n)}
        if n < len(gen_names):                    # a loop the generator opens gets a fresh program name
            back[gen_names[n]] = fresh_var(tuple(scope))
        return tuple(gen_names[:n]), back

    def stmt(self, depth: int, scope: tuple):
        """A statement for a block at nesting `depth` whose loop variables in scope are `scope`."""
        gen_scope, back = self._names(tuple(scope))
        return rename_vars(self.gen.stmt(min(depth, MAX_DEPTH), gen_scope), back)

    def expr(self, role: str, scope: tuple):
        """An expression for a site of `role` ("length", "angle", "count" or "arg")."""
        gen_scope, back = self._names(tuple(scope))
        g = self.gen
        if role == "length":
            e = g.length(gen_scope)
        elif role == "angle":
            e = g.angle(gen_scope)
        elif role == "count":
            e = g.count(gen_scope)
        else:
            e = g.arg(gen_scope)
        return rename_vars(e, back)


# ---- tree helpers -------------------------------------------------------------------------------------

def fresh_var(scope: tuple) -> str:
    """The first canonical loop variable name not in `scope`."""
    for v in LOOP_VARS:
        if v not in scope:
            return v
    return f"v{len(scope) + 20}"


def substitute(node, name: str, value):
    """`node` with variable `name` replaced by `value` (not under a loop that rebinds it)."""
    if isinstance(node, Var):
        return value if node.name == name else node
    if isinstance(node, BinOp):
        return BinOp(node.op, substitute(node.left, name, value), substitute(node.right, name, value))
    if isinstance(node, Move):
        return Move(substitute(node.length, name, value), substitute(node.angle, name, value))
    if isinstance(node, Loop):
        body = node.body if node.var == name else tuple(substitute(s, name, value) for s in node.body)
        return Loop(node.var, substitute(node.count, name, value), body)
    if isinstance(node, Embed):
        return Embed(tuple(substitute(s, name, value) for s in node.body))
    if isinstance(node, PenUp):
        return PenUp(tuple(substitute(s, name, value) for s in node.body))
    if isinstance(node, Call):
        return Call(node.name, tuple(substitute(a, name, value) for a in node.args))
    return node


def _uses(stmts, name: str) -> bool:
    return any(isinstance(n, Var) and n.name == name for s in stmts for n in walk(s))
