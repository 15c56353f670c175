"""Grammatical steps: program mutations on the AST, and the training examples built from them.

The search moves from program to program; a useful step is a *grammatical* one (a whole statement or
sub-expression inserted, deleted or replaced), because token-sized steps mostly leave programs that do
not parse (see issue 11).  This module makes such steps and the examples that teach them:

- `mutate(program, rng)`: one random grammatical mutation (insert / delete / replace a statement,
  replace a sub-expression, change a loop count, wrap statements in a loop / embed / penup, unwrap a
  block).  The result is a valid program text in canonical form, or None; `mutate_valid` additionally
  renders and keeps only mutations that still draw something new, on the canvas, within limits.
- `far_chains(programs, rng, k)`: from stored programs C apply up to k drawing mutations
  C = A0 -> A1 -> ... -> Ak.  `far_pairs` turns a chain into examples (A_j, image A_j, image **C**) ->
  the minimal token script A_j -> A_{j-1}: one grammatical step back, conditioned on the far target
  (Tree Diffusion's "revert one mutation", ec3's (a, b, c) triples).
- `prefix_steps(program)`: first j top-level statements -> first j+1 statements, to be shown the image
  of the whole program (build a drawing from the empty program one statement at a time).
- `grammatical_window(a_tokens, script)`: the shortest prefix of an edit script whose result parses, so
  every emitted step turns a valid program into a valid program.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

import logo
from logo.tokens import n_tokens
from logo.ast import BinOp, Call, Const, Embed, Loop, Move, Num, PenUp, Program, Var

from .edits import Edit, apply_edits, edit_script
from .tokenizer import LOOP_VARS, canonical, join, program_tokens

#: mutation names, in the order `mutate` draws them (weights in `MUTATION_WEIGHTS`)
MUTATIONS = ("insert", "delete", "replace_stmt", "replace_expr", "loop_count", "wrap", "unwrap")
MUTATION_WEIGHTS = (0.2, 0.15, 0.15, 0.25, 0.1, 0.1, 0.05)
MAX_DEPTH = 2                 # nesting of blocks the generator creates (as `data.generate.Constraints`)


# ---- sites: places in a program where a mutation can act ------------------------------------------

@dataclass
class BlockSite:
    """A statement list (the program body or a block's body) and how to rebuild the program with a new one."""
    body: tuple
    scope: tuple            # loop variables bound here
    depth: int              # nesting depth of the block (0: the program body)
    top: bool               # the program body (may become empty; inner blocks may not)
    rebuild: Callable[[tuple], Program]


@dataclass
class ExprSite:
    expr: object
    scope: tuple
    role: str               # "length", "angle", "count" or "arg"
    rebuild: Callable[[object], Program]


def _sites(p: Program) -> tuple[list[BlockSite], list[ExprSite]]:
    blocks: list[BlockSite] = []
    exprs: list[ExprSite] = []

    def expr(e, scope, role, set_e):
        exprs.append(ExprSite(e, scope, role, set_e))
        if isinstance(e, BinOp):
            expr(e.left, scope, role, lambda x, e=e, set_e=set_e: set_e(BinOp(e.op, x, e.right)))
            expr(e.right, scope, role, lambda x, e=e, set_e=set_e: set_e(BinOp(e.op, e.left, x)))

    def body(b, scope, depth, set_b, top=False):
        blocks.append(BlockSite(b, scope, depth, top, set_b))
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

    body(p.body, (), 0, lambda nb: Program(p.defs, nb), top=True)
    return blocks, exprs


def _uses(stmts, name: str) -> bool:
    return any(isinstance(n, Var) and n.name == name for s in stmts for n in logo.walk(s))


def _subst(node, name: str, value):
    """`node` with variable `name` replaced by `value` (not under a loop that rebinds it)."""
    if isinstance(node, Var):
        return value if node.name == name else node
    if isinstance(node, BinOp):
        return BinOp(node.op, _subst(node.left, name, value), _subst(node.right, name, value))
    if isinstance(node, Move):
        return Move(_subst(node.length, name, value), _subst(node.angle, name, value))
    if isinstance(node, Loop):
        body = node.body if node.var == name else tuple(_subst(s, name, value) for s in node.body)
        return Loop(node.var, _subst(node.count, name, value), body)
    if isinstance(node, Embed):
        return Embed(tuple(_subst(s, name, value) for s in node.body))
    if isinstance(node, PenUp):
        return PenUp(tuple(_subst(s, name, value) for s in node.body))
    if isinstance(node, Call):
        return Call(node.name, tuple(_subst(a, name, value) for a in node.args))
    return node


# ---- random parts ------------------------------------------------------------------------------------

class _Parts:
    """Random statements and expressions, drawn as the database generator draws them."""

    def __init__(self, rng: random.Random, library=None):
        from data.generate import Constraints, _Gen
        self.gen = _Gen(rng, Constraints(max_depth=MAX_DEPTH, p_call=0.3 if library else 0.0), library or [])
        self.rng = rng

    def _names(self, scope: tuple) -> tuple[tuple, dict]:
        """The generator names loop variables i, j, k, m by how many are in scope; the program's may differ
        (canonical names run i, j, k, l, ...). (generator scope, generator name -> program name)."""
        gen_names = self.gen.var_names
        n = min(len(scope), len(gen_names))
        back = {gen_names[p]: scope[p] for p in range(n)}
        if n < len(gen_names):                    # a loop the generator opens gets a fresh program name
            back[gen_names[n]] = _fresh_var(tuple(scope))
        return tuple(gen_names[:n]), back

    def stmt(self, depth: int, scope: tuple):
        gen_scope, back = self._names(tuple(scope))
        return _rename(self.gen.stmt(min(depth, MAX_DEPTH), gen_scope), back)

    def expr(self, role: str, scope: tuple):
        gen_scope, back = self._names(tuple(scope))
        return _rename(self._expr(role, gen_scope), back)

    def _expr(self, role: str, scope: tuple):
        g = self.gen
        if role == "length":
            return g.length(scope)
        if role == "angle":
            return g.angle(scope)
        if role == "count":
            return g.count(scope)
        r = self.rng.random()
        return g.count(scope) if r < 0.4 else g.length(scope) if r < 0.7 else g.angle(scope)


def _rename(node, names: dict):
    """`node` with loop variables (bound and used) renamed by `names`."""
    if isinstance(node, Var):
        return Var(names.get(node.name, node.name))
    if isinstance(node, BinOp):
        return BinOp(node.op, _rename(node.left, names), _rename(node.right, names))
    if isinstance(node, Move):
        return Move(_rename(node.length, names), _rename(node.angle, names))
    if isinstance(node, Loop):
        return Loop(names.get(node.var, node.var), _rename(node.count, names),
                    tuple(_rename(x, names) for x in node.body))
    if isinstance(node, Embed):
        return Embed(tuple(_rename(x, names) for x in node.body))
    if isinstance(node, PenUp):
        return PenUp(tuple(_rename(x, names) for x in node.body))
    if isinstance(node, Call):
        return Call(node.name, tuple(_rename(a, names) for a in node.args))
    return node


def _fresh_var(scope: tuple) -> str:
    for v in LOOP_VARS:
        if v not in scope:
            return v
    return f"v{len(scope) + 20}"


# ---- one mutation -----------------------------------------------------------------------------------

def _mutate_once(p: Program, kind: str, rng: random.Random, parts: _Parts) -> Program | None:
    blocks, exprs = _sites(p)
    if kind == "insert":
        b = rng.choice(blocks)
        i = rng.randint(0, len(b.body))
        return b.rebuild(b.body[:i] + (parts.stmt(b.depth, b.scope),) + b.body[i:])
    if kind == "delete":
        cand = [b for b in blocks if len(b.body) >= (1 if b.top else 2)]
        if not cand:
            return None
        b = rng.choice(cand)
        i = rng.randrange(len(b.body))
        return b.rebuild(b.body[:i] + b.body[i + 1:])
    if kind == "replace_stmt":
        cand = [b for b in blocks if b.body]
        if not cand:
            return None
        b = rng.choice(cand)
        i = rng.randrange(len(b.body))
        return b.rebuild(b.body[:i] + (parts.stmt(b.depth, b.scope),) + b.body[i + 1:])
    if kind == "replace_expr":
        if not exprs:
            return None
        e = rng.choice(exprs)
        r = rng.random()
        if r < 0.35 and isinstance(e.expr, (Num, Const)):          # a different leaf of the same kind
            if isinstance(e.expr, Num):
                new = Num(rng.choice([d for d in range(10) if d != e.expr.value]))
            else:
                new = Const(rng.choice([c for c in logo.ast.CONSTANTS if c != e.expr.name]))
        elif r < 0.5 and isinstance(e.expr, BinOp):                 # change the operator
            new = BinOp(rng.choice([o for o in logo.ast.OPERATORS if o != e.expr.op]), e.expr.left, e.expr.right)
        elif r < 0.6:                                               # scale: x -> (op x d)
            new = BinOp(rng.choice(("*", "/")), e.expr, Num(rng.randint(2, 4)))
        else:
            new = parts.expr(e.role, e.scope)
        return e.rebuild(new) if new != e.expr else None
    if kind == "loop_count":
        loops = [e for e in exprs if e.role == "count"]
        if not loops:
            return None
        e = rng.choice(loops)
        if isinstance(e.expr, Num):
            v = e.expr.value + rng.choice((-1, 1))
            if not 1 <= v <= 9:
                return None
            return e.rebuild(Num(v))
        return e.rebuild(parts.expr("count", e.scope))
    if kind == "wrap":
        cand = [b for b in blocks if b.body and b.depth < MAX_DEPTH]
        if not cand:
            return None
        b = rng.choice(cand)
        i = rng.randrange(len(b.body))
        j = min(len(b.body), i + rng.choice((1, 1, 2)))
        inner = b.body[i:j]
        r = rng.random()
        if r < 0.5:
            v = _fresh_var(b.scope + tuple(n.var for s in inner for n in logo.walk(s) if isinstance(n, Loop)))
            new = Loop(v, Num(rng.randint(2, 8)), inner)
        elif r < 0.75:
            new = Embed(inner)
        else:
            new = PenUp(inner)
        return b.rebuild(b.body[:i] + (new,) + b.body[j:])
    if kind == "unwrap":
        cand = [(b, i) for b in blocks for i, s in enumerate(b.body) if isinstance(s, (Loop, Embed, PenUp))]
        if not cand:
            return None
        b, i = rng.choice(cand)
        s = b.body[i]
        inner = s.body
        if isinstance(s, Loop) and _uses(inner, s.var):
            inner = tuple(_subst(x, s.var, Num(0)) for x in inner)
        return b.rebuild(b.body[:i] + inner + b.body[i + 1:])
    raise ValueError(f"unknown mutation {kind!r} (known: {', '.join(MUTATIONS)})")


def mutate(program, rng: random.Random, kind: str | None = None, library=None, max_tokens: int = 96,
           tries: int = 8, parts: _Parts | None = None, canonical_input: bool = False,
           kinds: Sequence[str] | None = None) -> str | None:
    """One random grammatical mutation of `program` (text or Program), as canonical text; None if no try
    gave a parseable program of at most `max_tokens` tokens different from the input. Not rendered.
    `kind` fixes the mutation; `kinds` draws among those (by `MUTATION_WEIGHTS`)."""
    if isinstance(program, Program) and canonical_input:
        p = program
    else:
        p = canonical(program)
    before = logo.to_text(p)
    parts = parts or _Parts(rng, library)
    names, weights = MUTATIONS, MUTATION_WEIGHTS
    if kinds:
        bad = [k for k in kinds if k not in MUTATIONS]
        if bad:
            raise ValueError(f"unknown mutation(s) {bad} (known: {', '.join(MUTATIONS)})")
        names = tuple(kinds)
        weights = tuple(MUTATION_WEIGHTS[MUTATIONS.index(k)] for k in names)
    for _ in range(tries):
        k = kind or rng.choices(names, weights)[0]
        try:
            q = _mutate_once(p, k, rng, parts)
        except IndexError:
            q = None
        if q is None:
            continue
        try:
            text = logo.to_text(canonical(logo.parse(logo.to_text(q))))
        except (logo.LogoError, RecursionError, TypeError, ValueError):
            continue
        if text != before and n_tokens(text) <= max_tokens:    # canonical text: its tokens are the model's
            return text
    return None


# ---- drawing checks ------------------------------------------------------------------------------------

def draws(texts: Sequence[str], size: int = 32, library=None) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, size, size) uint8, ok (n,) bool): ok when the program runs within the interpreter's
    limits, stays on the canvas and draws something."""
    if not texts:
        return np.zeros((0, size, size), np.uint8), np.zeros(0, bool)
    imgs, verdicts = logo.render_checked(list(texts), size=size, library=library)
    ok = verdicts == logo.Verdict.OK
    return np.asarray(imgs), ok


def mutate_valid(texts: Sequence[str], rng: random.Random, size: int = 32, library=None, max_tokens: int = 96,
                 rounds: int = 3, images: np.ndarray | None = None,
                 max_step_edits: int | None = None, kinds: Sequence[str] | None = None
                 ) -> list[tuple[str, np.ndarray] | None]:
    """One drawing mutation of each program (batched rendering): (new text, its image) or None.
    With `images` (the inputs' images), a mutation must also change the drawing; with `max_step_edits`,
    its minimal token script (either way: the script lengths are equal) must be at most that long."""
    parts = _Parts(rng, library)
    out: list = [None] * len(texts)
    todo = list(range(len(texts)))
    for _ in range(rounds):
        cand = [(i, mutate(texts[i], rng, library=library, max_tokens=max_tokens, parts=parts, kinds=kinds))
                for i in todo]
        cand = [(i, t) for i, t in cand if t is not None]
        if max_step_edits is not None:
            cand = [(i, t) for i, t in cand
                    if len(edit_script(program_tokens(texts[i]), program_tokens(t))) <= max_step_edits]
        if not cand:
            break
        imgs, ok = draws([t for _, t in cand], size, library)
        for (i, t), img, good in zip(cand, imgs, ok):
            if good and (images is None or not np.array_equal(img, images[i])):
                out[i] = (t, img)
        todo = [i for i in todo if out[i] is None]
        if not todo:
            break
    return out


# ---- far-target chains -----------------------------------------------------------------------------

@dataclass
class Chain:
    """C = programs[0] -> programs[1] -> ... -> programs[-1], each a drawing mutation of the one before."""
    programs: list[str]
    images: list[np.ndarray]
    origin: int = -1        # index of C among the programs given to `far_chains`

    @property
    def k(self) -> int:
        return len(self.programs) - 1


#: the longest step a chain takes (token edits): the search's proposals are capped near this
#: (`dream.proposer.ModelProposer.max_edits`), so the model learns steps it will be allowed to emit
MAX_STEP_EDITS = 16


def far_chains(programs: Sequence[str], rng: random.Random, max_k: int = 8, size: int = 32,
               library=None, max_tokens: int = 96, images: Sequence[np.ndarray] | None = None,
               max_step_edits: int | None = MAX_STEP_EDITS, kinds: Sequence[str] | None = None) -> list[Chain]:
    """For each program C a chain of k ~ U{1..max_k} drawing mutations, each at most `max_step_edits`
    token edits (shorter chains where mutations failed; chains that could not take one step are left
    out). `images` are the programs' images if known; `kinds` restricts the mutations (default: all)."""
    texts = [logo.to_text(canonical(p)) for p in programs]
    if images is None:
        imgs, ok = draws(texts, size, library)
    else:
        imgs, ok = np.asarray(images), np.ones(len(texts), bool)
    chains = [Chain([t], [im], i) for i, (t, im, good) in enumerate(zip(texts, imgs, ok)) if good]
    want = [rng.randint(1, max_k) for _ in chains]
    for step in range(max_k):
        live = [c for c, w in zip(chains, want) if c.k == step and w > step]
        if not live:
            break
        got = mutate_valid([c.programs[-1] for c in live], rng, size, library, max_tokens,
                           images=np.stack([c.images[-1] for c in live]), max_step_edits=max_step_edits,
                           kinds=kinds)
        for c, g in zip(live, got):
            if g is not None:
                c.programs.append(g[0])
                c.images.append(g[1])
    return [c for c in chains if c.k >= 1]


def far_pairs(chain: Chain, last_only: bool = False) -> list[tuple[list[str], list[str], int]]:
    """(A_j tokens, A_{j-1} tokens, j) for j = k..1 (or only j = k): a step back toward C = A_0.
    Shown with A_j's image and C's image, the target is `edit_script(A_j, A_{j-1})`."""
    toks = [program_tokens(t) for t in chain.programs]
    js = [chain.k] if last_only else range(chain.k, 0, -1)
    return [(toks[j], toks[j - 1], j) for j in js]


def undo_chain(chain: Chain) -> list[str]:
    """Apply the chain's step-back scripts from A_k down to A_0; returns the token texts visited
    (a check that every step is a well-formed script between valid programs)."""
    cur = program_tokens(chain.programs[-1])
    visited = [join(cur)]
    for a, b, _ in far_pairs(chain):
        assert a == cur
        cur = apply_edits(cur, edit_script(a, b))
        visited.append(join(cur))
    return visited


# ---- prefix steps ----------------------------------------------------------------------------------------

def prefixes(program) -> list[str]:
    """Texts of the first j top-level statements, j = 0..n (definitions kept), canonical."""
    p = canonical(program)
    return [logo.to_text(Program(p.defs, p.body[:j])) for j in range(len(p.body) + 1)]


def prefix_steps(program) -> list[tuple[list[str], list[str], int]]:
    """(tokens of first j statements, tokens of first j+1 statements, j) for j = 0..n-1."""
    texts = prefixes(program)
    toks = [program_tokens(t) if t.strip() else [] for t in texts]
    return [(toks[j], toks[j + 1], j) for j in range(len(toks) - 1)]


# ---- grammatical windows ----------------------------------------------------------------------------------

def parses(tokens: Sequence[str]) -> bool:
    if not tokens:
        return True
    try:
        logo.parse(join(tokens))
        return True
    except (logo.LogoError, RecursionError):
        return False


def grammatical_window(a_tokens: Sequence[str], script: Sequence[Edit], start: int = 0) -> list[Edit] | None:
    """The shortest window script[start:start+w] (w >= 1) whose result applied to A parses; None if none.

    Edits before `start` are not applied (positions refer to A, so any window is well-formed on its own).
    With start=0 this is the smallest grammatical first step along the minimal script A -> B; the whole
    script always qualifies when B parses."""
    for w in range(1, len(script) - start + 1):
        window = list(script[start:start + w])
        if parses(apply_edits(a_tokens, window)):
            return window
    return None


def grammatical_steps(a_tokens: Sequence[str], b_tokens: Sequence[str]) -> Iterator[tuple[list[str], list[str]]]:
    """Walk the minimal script A -> B in smallest parseable prefix windows: yields (current, next) token
    lists, every one of them a parseable program, ending at B."""
    cur = list(a_tokens)
    while cur != list(b_tokens):
        script = edit_script(cur, b_tokens)
        w = grammatical_window(cur, script) or script
        nxt = apply_edits(cur, w)
        yield cur, nxt
        cur = nxt
