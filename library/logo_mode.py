"""Logo AST mode: programs as continuation-passing terms, abstractions as `logo.Define`s.

A statement list `s1 s2 ... sn` becomes `(s1' (s2' ... (sn' .nil)))`: every statement is applied to the
rest of its list, so an abstraction over a run of consecutive statements is a pattern rooted at a
sequence node whose last continuation is left open (the "tail"): `(define (fn_0 a b) s1 s2)` called as
`(fn_0 x y)` followed by whatever came after.  Statements encode as

    (move L A)          -> (move L A rest)
    (loop v N body...)  -> (loop N (lam body') rest)        v is de Bruijn $i inside
    (embed body...)     -> (embed body' rest)
    (penup body...)     -> (penup body' rest)
    (name args...)      -> (name args... rest)
    (+ a b), 0..9, ul   -> (+ a b), 0..9, ul

Only expression positions may become parameters (procedures take numbers), and a loop variable bound
outside an abstraction must be passed in as a parameter (the core's binding rule).  `LogoSearchMode` is
how the generic search (`core.SearchMode`) learns these rules.
"""
from __future__ import annotations

from logo.ast import CONSTANTS, OPERATORS, BinOp, Call, Const, Define, Embed, Loop, Move, Num, PenUp, Var

from .core import PRIM, VAR, Corpus, SearchMode, Store

NIL = ".nil"
TAIL = "#tail"
STMT_KEYWORDS = ("move", "loop", "embed", "penup")
PARAM_NAMES = ("a", "b", "c", "d", "e", "f", "g", "h")
LOOP_NAMES = ("i", "j", "k", "m", "n", "p", "q", "r", "s", "t")


class Unsupported(ValueError):
    """A program the Logo mode leaves alone (unbound variables, program-local procedures)."""


class LogoEncoder:
    def __init__(self, st: Store):
        self.st = st
        self.param_ok: dict[int, bool] = {}   # expression nodes
        self.chain: set[int] = set()           # non-empty statement sequences
        self.seq: set[int] = set()             # all statement sequences
        self.nil = st.prim(NIL)
        self.seq.add(self.nil)
        self.params: dict[str, int] = {}

    def expr(self, e, env: list[str]) -> int:
        st = self.st
        if isinstance(e, Num):
            n = st.prim(str(e.value))
        elif isinstance(e, Const):
            n = st.prim(e.name)
        elif isinstance(e, Var):
            if e.name in env:
                n = st.var(_index(env, e.name))
            elif e.name in self.params:
                n = st.prim(f"#{self.params[e.name]}")
            else:
                raise Unsupported(f"variable {e.name!r} is not a loop variable here")
        elif isinstance(e, BinOp):
            n = st.app(st.app(st.prim(e.op), self.expr(e.left, env)), self.expr(e.right, env))
        else:
            raise TypeError(f"not an expression: {e!r}")
        self.param_ok[n] = True
        return n

    def body(self, stmts, env: list[str], end: int | None = None) -> int:
        st = self.st
        rest = self.nil if end is None else end
        for s in reversed(stmts):
            if isinstance(s, Move):
                f = st.apps(st.prim("move"), self.expr(s.length, env), self.expr(s.angle, env))
            elif isinstance(s, Loop):
                inner = self.body(s.body, env + [s.var])
                f = st.apps(st.prim("loop"), self.expr(s.count, env), st.lam(inner))
            elif isinstance(s, Embed):
                f = st.app(st.prim("embed"), self.body(s.body, env))
            elif isinstance(s, PenUp):
                f = st.app(st.prim("penup"), self.body(s.body, env))
            elif isinstance(s, Call):
                f = st.apps(st.prim(s.name), *(self.expr(a, env) for a in s.args))
            else:
                raise TypeError(f"not a statement: {s!r}")
            rest = st.app(f, rest)
            self.chain.add(rest)
            self.seq.add(rest)
        return rest

    def define_pattern(self, d: Define) -> int:
        """A procedure as a pattern: parameters are `#i`, the body ends in the caller's `#tail`."""
        self.params = {p: i for i, p in enumerate(d.params)}
        try:
            return self.body(d.body, [], end=self.st.prim(TAIL))
        finally:
            self.params = {}

    def program(self, prog) -> int:
        if prog.defs:
            raise Unsupported("programs with their own procedure definitions are left as they are")
        return self.body(prog.body, [])


class LogoSearchMode(SearchMode):
    """The search over continuation-passing Logo: a procedure is a run of statements rooted at a
    non-empty statement list, whose last continuation is the tail (the caller's rest of the list); only
    expressions become parameters.  It reads the encoder's node sets live, so nodes registered after a
    rewrite count in later steps."""

    arity_zero = False       # a body is a statement run ending in the tail, never a closed subtree
    require_tail = True

    def __init__(self, enc: LogoEncoder):
        self.enc = enc

    def root_locations(self, corpus: Corpus) -> tuple[list[int], bool]:
        chain = self.enc.chain
        return [n for n in corpus.nodes if n in chain], True

    def tail_end_heads(self, corpus: Corpus) -> set[int]:
        """The ends of statement lists (`.nil`, a procedure's own tail): the tail stands for them."""
        head, chain = corpus.store.head, self.enc.chain
        return {head[n] for n in self.enc.seq if n not in chain}

    def parameter_values(self, st: Store, nodes: list[int], depth: int) -> list[int] | None:
        # the hole's locations may still disagree on being an expression while the statement around
        # it is not fixed yet
        param_ok, fv = self.enc.param_ok, st.fv
        mask = (1 << depth) - 1
        values = [-1 if not param_ok.get(n, False) or fv[n] & mask else st.shift(n, -depth) for n in nodes]
        return None if values.count(-1) == len(values) else values


def _index(env: list[str], name: str) -> int:
    for i in range(len(env) - 1, -1, -1):
        if env[i] == name:
            return len(env) - 1 - i
    raise Unsupported(name)


class LogoDecoder:
    """Store terms back to Logo statements. Parameters `#i` become PARAM_NAMES[i]."""

    def __init__(self, st: Store):
        self.st = st

    def expr(self, n: int, depth: int):
        st = self.st
        k = st.kind[n]
        if k == VAR:
            return Var(_loop_name(depth - 1 - st.a[n]))
        if k == PRIM:
            name = st.symbols[st.a[n]]
            if name.isdigit():
                return Num(int(name))
            if name in CONSTANTS:
                return Const(name)
            if name.startswith("#") and name[1:].isdigit():
                return Var(PARAM_NAMES[int(name[1:])])
            raise ValueError(f"not an expression primitive: {name}")
        h, args = st.spine(n)
        op = st.symbols[st.a[h]]
        if op not in OPERATORS or len(args) != 2:
            raise ValueError(f"not an expression: {op}")
        return BinOp(op, self.expr(args[0], depth), self.expr(args[1], depth))

    def body(self, n: int, depth: int) -> tuple:
        st = self.st
        out = []
        while True:
            if st.kind[n] == PRIM:
                name = st.symbols[st.a[n]]
                if name in (NIL, TAIL):
                    return tuple(out)
                raise ValueError(f"bad statement list end: {name}")
            f, rest = st.a[n], st.b[n]
            h, args = st.spine(f)
            name = st.symbols[st.a[h]]
            if name == "move":
                out.append(Move(self.expr(args[0], depth), self.expr(args[1], depth)))
            elif name == "loop":
                lam = args[1]
                out.append(Loop(_loop_name(depth), self.expr(args[0], depth), self.body(st.a[lam], depth + 1)))
            elif name == "embed":
                out.append(Embed(self.body(args[0], depth)))
            elif name == "penup":
                out.append(PenUp(self.body(args[0], depth)))
            else:
                out.append(Call(name, tuple(self.expr(a, depth) for a in args)))
            n = rest


def _loop_name(d: int) -> str:
    return LOOP_NAMES[d] if d < len(LOOP_NAMES) else f"v{d}"


def define_of(st: Store, name: str, body: int, arity: int) -> Define:
    return Define(name, PARAM_NAMES[:arity], LogoDecoder(st).body(body, 0))
