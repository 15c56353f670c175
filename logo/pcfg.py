"""A probabilistic grammar over Logo programs: the prior that top-down enumeration spends.

Every program is one derivation; each choice is a production drawn in a *context* (DreamCoder conditions
on the parent production and the argument slot; so do we):

- a statement, in context (block kind, previous statement kind): `stop` (end of the block), `move`,
  `loop`, `embed`, `penup`, or `call:NAME` for each library procedure (one production per procedure);
  block kinds are top, loop, embed, penup; the previous kind is start, move, loop, embed, penup or call
  (in DreamCoder's continuation-passing LOGO the next command is the previous one's argument);
- an expression, in context (slot, parent): the slot is a move's length or angle or a loop's count, in
  a block of a given kind (`length.top`, `angle.loop`, `count.embed`, ...: a move at the top turns the
  figure, one in a loop draws a side), or `call:NAME:I` (argument I of a procedure); nested under an
  operator the slot becomes its role (length, angle, count, arg); the parent is the operator and side it
  hangs under (`*0`, `/1`, ...) or none; productions: a constant (ul ua eps_l eps_a inf), a digit 0..9,
  `var`, or an operator + - * /;
- which variable, by de Bruijn index (0 = the innermost loop's), per slot role, among those in scope.

`var` is only possible with a variable in scope: in a context without one it is left out and the others
are renormalised, so every context's probabilities sum to one. `Grammar.fit` counts productions in a
corpus with a Dirichlet prior (pseudocounts spread like the coarser context's counts: a slot backs off to
its role over all block kinds, a nested expression context to its role, a statement context to its block
kind), as DreamCoder's
grammar fit counts uses. The description length of a program is -log2 P(program).

    >>> g = Grammar.fit(["(loop i 4 (move ul (/ ua 4)))"] * 5)
    >>> g.description_length("(loop i 4 (move ul (/ ua 4)))") < Grammar.uniform().description_length(
    ...     "(loop i 4 (move ul (/ ua 4)))")
    True
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .ast import FORM_OF, BinOp, Call, Const, Define, Embed, Loop, Move, Num, PenUp, Program, Var
from .errors import LogoError
from .files import write_json
from .interp import as_program
from .forms import BLOCK_FORMS, CALL, CONSTANTS, DIGITS, OPERATORS, ROLES, STATEMENT_FORMS, STATEMENT_ROLES

FORMAT = "logo-synth-grammar"
VERSION = 1

# the contexts and productions, from the DSL's forms (`logo.forms`)
BLOCKS = ("top",) + BLOCK_FORMS                                  # top, loop, embed, penup
PREVS = ("start",) + tuple(STATEMENT_FORMS) + (CALL,)            # start, move, loop, embed, penup, call
BASE_STATEMENTS = ("stop",) + tuple(STATEMENT_FORMS)             # stop, move, loop, embed, penup
PARENTS = ("",) + tuple(f"{op}{side}" for op in OPERATORS for side in (0, 1))
EXPRESSIONS = (tuple(f"const:{c}" for c in CONSTANTS) + tuple(f"num:{d}" for d in DIGITS) + ("var",)
               + tuple(f"op:{o}" for o in OPERATORS))
MAX_VAR_INDEX = 6          # de Bruijn indices >= this share the last weight


class GrammarError(ValueError):
    """A grammar that cannot be built, read or used; the message says what is wrong (and the file)."""


def stmt_context(block: str, prev: str) -> str:
    return f"{block}|{prev}"


def expr_context(slot: str, parent: str = "") -> str:
    return f"{slot}|{parent}"


def slot_role(slot: str) -> str:
    """The variable-index role of an expression slot: length, angle, count or arg."""
    base = slot.split(".")[0]
    return base if base in ROLES else "arg"


def _logsumexp(xs: Iterable[float]) -> float:
    xs = [x for x in xs if x != -math.inf]
    if not xs:
        return -math.inf
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def _procedures(library) -> tuple[tuple[str, int], ...]:
    """(name, arity) pairs from Defines, a dict name -> Define, or (name, arity) pairs."""
    if library is None:
        return ()
    if isinstance(library, dict):
        library = list(library.values())
    out = []
    for d in library:
        if isinstance(d, Define):
            out.append((d.name, len(d.params)))
        else:
            name, arity = d
            out.append((str(name), int(arity)))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise GrammarError("the library names a procedure twice")
    return tuple(out)


@dataclass
class Grammar:
    """Log-weights of every production in every context (unnormalised; `*_logp` normalise).

    `statements[ctx][prod]`, `expressions[ctx][prod]`, `variables[role][index]`; `procedures` are the
    library's (name, arity) pairs, one statement production `call:NAME` each. Build with `uniform` or
    `fit`, read with `load` / `from_json`.
    """
    procedures: tuple[tuple[str, int], ...] = ()
    statements: dict[str, dict[str, float]] = field(default_factory=dict)
    expressions: dict[str, dict[str, float]] = field(default_factory=dict)
    variables: dict[str, list[float]] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.procedures = _procedures(self.procedures)
        self._check()
        self._stmt_cache: dict = {}
        self._expr_cache: dict = {}

    # ---- the shape every grammar has ----------------------------------------------------------------

    @property
    def arity(self) -> dict[str, int]:
        return dict(self.procedures)

    def statement_productions(self) -> tuple[str, ...]:
        return BASE_STATEMENTS + tuple(f"call:{n}" for n, _ in self.procedures)

    def statement_contexts(self) -> list[str]:
        return [stmt_context(b, p) for b in BLOCKS for p in PREVS]

    def slots(self) -> list[str]:
        return ([f"{r}.{b}" for r in STATEMENT_ROLES for b in BLOCKS]
                + [f"call:{n}:{i}" for n, a in self.procedures for i in range(a)])

    def expression_contexts(self) -> list[str]:
        top = [expr_context(s) for s in self.slots()]
        nested = [expr_context(r, p) for r in ROLES for p in PARENTS[1:]]
        return top + nested

    def _check(self) -> None:
        prods = set(self.statement_productions())
        for ctx in self.statement_contexts():
            got = self.statements.get(ctx)
            if got is None or set(got) != prods:
                raise GrammarError(f"statement context {ctx!r} must weigh exactly the productions "
                                   f"{', '.join(sorted(prods))}")
        for ctx in self.expression_contexts():
            got = self.expressions.get(ctx)
            if got is None or set(got) != set(EXPRESSIONS):
                raise GrammarError(f"expression context {ctx!r} must weigh exactly the productions "
                                   f"{', '.join(EXPRESSIONS)}")
        for role in ROLES:
            v = self.variables.get(role)
            if not isinstance(v, list) or len(v) != MAX_VAR_INDEX:
                raise GrammarError(f"variable weights of role {role!r} must be a list of {MAX_VAR_INDEX} numbers")
        extra = (set(self.statements) - set(self.statement_contexts())) | \
                (set(self.expressions) - set(self.expression_contexts())) | (set(self.variables) - set(ROLES))
        if extra:
            raise GrammarError(f"unknown context(s) {', '.join(sorted(extra))}")
        for table in (*self.statements.values(), *self.expressions.values()):
            for k, w in table.items():
                if not isinstance(w, (int, float)) or isinstance(w, bool) or math.isnan(w) or w == math.inf:
                    raise GrammarError(f"production {k!r} has weight {w!r}; weights are finite log-weights "
                                       "or -inf")
        for role, v in self.variables.items():
            if any(not isinstance(w, (int, float)) or isinstance(w, bool) or math.isnan(w) or w == math.inf
                   for w in v):
                raise GrammarError(f"variable weights of role {role!r} must be finite log-weights or -inf")

    # ---- normalised log-probabilities ----------------------------------------------------------------

    def stmt_logp(self, block: str, prev: str) -> dict[str, float]:
        """log P(production | block kind, previous statement kind); sums to one over the productions."""
        key = (block, prev)
        got = self._stmt_cache.get(key)
        if got is None:
            w = self.statements[stmt_context(block, prev)]
            z = _logsumexp(w.values())
            got = {k: v - z for k, v in w.items()}
            self._stmt_cache[key] = got
        return got

    def expr_logp(self, slot: str, parent: str = "", has_vars: bool = True) -> dict[str, float]:
        """log P(production | slot, parent); without variables in scope `var` is left out."""
        key = (slot, parent, has_vars)
        got = self._expr_cache.get(key)
        if got is None:
            w = dict(self.expressions[expr_context(slot if not parent else slot_role(slot), parent)])
            if not has_vars:
                del w["var"]
            z = _logsumexp(w.values())
            got = {k: v - z for k, v in w.items()}
            self._expr_cache[key] = got
        return got

    def var_logp(self, role: str, index: int, n_in_scope: int) -> float:
        """log P(de Bruijn index | role, number of variables in scope)."""
        if not 0 <= index < n_in_scope:
            raise GrammarError(f"variable index {index} with {n_in_scope} in scope")
        w = self.variables[slot_role(role)]
        ws = [w[min(i, MAX_VAR_INDEX - 1)] for i in range(n_in_scope)]
        return ws[index] - _logsumexp(ws)

    # ---- programs -------------------------------------------------------------------------------------

    def logp(self, program) -> float:
        """log P(program) (natural log); -inf when a production has weight -inf.

        Raises `GrammarError` for a program the grammar cannot derive: a call of a procedure that is not
        in its library (or with the wrong number of arguments), or a variable that no loop binds."""
        prog = as_program(program)
        total = 0.0
        for ctx, prod in derivation(prog, self.arity):
            total += self._choice_logp(ctx, prod)
        return total

    def description_length(self, program) -> float:
        """-log2 P(program), in bits."""
        return -self.logp(program) / math.log(2)

    def _choice_logp(self, ctx: tuple, prod) -> float:
        kind = ctx[0]
        if kind == "stmt":
            return self.stmt_logp(ctx[1], ctx[2])[prod]
        if kind == "expr":
            return self.expr_logp(ctx[1], ctx[2], ctx[3] > 0)[prod]
        return self.var_logp(ctx[1], prod, ctx[2])

    # ---- building ------------------------------------------------------------------------------------

    @classmethod
    def uniform(cls, library=()) -> "Grammar":
        """Every production equally likely in every context (the baseline prior)."""
        return cls.fit([], library, allow_empty=True, source="uniform")

    @classmethod
    def fit(cls, programs: Sequence, library=(), pseudocount: float = 0.3, *, allow_empty: bool = False,
            source: str = "") -> "Grammar":
        """Count the productions of `programs` (texts or `Program`s) under a Dirichlet prior.

        Each context gets `pseudocount` per production, spread like its coarser context's counts (a slot
        backs off to its role in every kind of block, a nested expression context to its role, a statement
        context to its block kind; those back off to uniform), so rare contexts borrow from common ones.
        (0.3 from leave-one-out likelihood of the DreamCoder train programs: 0.1-0.3 best, 1.0 +5 % bits.) Programs the grammar cannot derive
        (calls of procedures outside `library`, unbound variables, text that does not parse) are skipped
        and counted in `meta["skipped"]`. An empty corpus (or one where every program is skipped) is a
        `GrammarError` unless `allow_empty`.
        """
        if not (pseudocount > 0 and math.isfinite(pseudocount)):
            raise GrammarError(f"the pseudocount must be a positive number, not {pseudocount!r}")
        procs = _procedures(library)
        shell = cls.__new__(cls)
        shell.procedures = procs
        arity = dict(procs)
        stmt_counts: dict[str, dict[str, float]] = {c: {p: 0.0 for p in shell.statement_productions()}
                                                    for c in shell.statement_contexts()}
        expr_counts: dict[str, dict[str, float]] = {c: {p: 0.0 for p in EXPRESSIONS}
                                                    for c in shell.expression_contexts()}
        var_counts = {r: [0.0] * MAX_VAR_INDEX for r in ROLES}
        used = skipped = 0
        for p in programs:
            try:
                choices = list(derivation(as_program(p), arity))
            except (GrammarError, LogoError):
                skipped += 1
                continue
            used += 1
            for ctx, prod in choices:
                if ctx[0] == "stmt":
                    stmt_counts[stmt_context(ctx[1], ctx[2])][prod] += 1
                elif ctx[0] == "expr":
                    slot = ctx[1] if not ctx[2] else slot_role(ctx[1])
                    expr_counts[expr_context(slot, ctx[2])][prod] += 1
                else:
                    var_counts[slot_role(ctx[1])][min(prod, MAX_VAR_INDEX - 1)] += 1
        if used == 0 and not allow_empty:
            raise GrammarError("cannot fit a grammar to an empty corpus" if skipped == 0 else
                               f"cannot fit a grammar: none of the {skipped} corpus programs could be derived "
                               "(unknown procedures or programs that do not parse)")

        def smoothed(counts: dict[str, float], prior: dict[str, float]) -> dict[str, float]:
            k = len(counts)
            return {p: math.log(c + pseudocount * k * prior[p]) for p, c in counts.items()}

        def backoff(tables: list[dict[str, float]]) -> dict[str, float]:
            keys = list(tables[0])
            tot = {p: sum(t[p] for t in tables) for p in keys}
            n = sum(tot.values())
            k = len(keys)
            return {p: (tot[p] + pseudocount) / (n + pseudocount * k) for p in keys}

        statements = {}
        for b in BLOCKS:
            ctxs = [stmt_context(b, p) for p in PREVS]
            prior = backoff([stmt_counts[c] for c in ctxs])
            for c in ctxs:
                statements[c] = smoothed(stmt_counts[c], prior)
        expressions = {}
        for r in STATEMENT_ROLES:
            ctxs = [expr_context(f"{r}.{b}") for b in BLOCKS]
            prior = backoff([expr_counts[c] for c in ctxs])
            for c in ctxs:
                expressions[c] = smoothed(expr_counts[c], prior)
        for slot in shell.slots()[3 * len(BLOCKS):]:
            c = expr_context(slot)
            expressions[c] = smoothed(expr_counts[c], backoff([expr_counts[c]]))
        for r in ROLES:
            ctxs = [expr_context(r, p) for p in PARENTS[1:]]
            prior = backoff([expr_counts[c] for c in ctxs])
            for c in ctxs:
                expressions[c] = smoothed(expr_counts[c], prior)
        variables = {r: [math.log(c + pseudocount) for c in var_counts[r]] for r in ROLES}
        meta = {"source": source, "programs": used, "skipped": skipped, "pseudocount": pseudocount}
        return cls(procs, statements, expressions, variables, meta)

    # ---- files ----------------------------------------------------------------------------------------

    def to_json(self) -> dict:
        def num(w: float):
            return None if w == -math.inf else round(w, 6)
        return {"format": FORMAT, "version": VERSION,
                "procedures": [[n, a] for n, a in self.procedures],
                "statements": {c: {p: num(w) for p, w in t.items()} for c, t in self.statements.items()},
                "expressions": {c: {p: num(w) for p, w in t.items()} for c, t in self.expressions.items()},
                "variables": {r: [num(w) for w in v] for r, v in self.variables.items()},
                "meta": self.meta}

    @classmethod
    def from_json(cls, obj) -> "Grammar":
        """A grammar from `to_json`'s object; anything else is a `GrammarError` saying what is wrong."""
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise GrammarError(f"not a logo-synth grammar (expected \"format\": \"{FORMAT}\")")
        if obj.get("version") != VERSION:
            raise GrammarError(f"grammar format version {obj.get('version')!r} is not supported (this is {VERSION})")

        def num(w):
            if w is None:
                return -math.inf
            if isinstance(w, bool) or not isinstance(w, (int, float)):
                raise GrammarError(f"weight {w!r} is not a number")
            return float(w)

        try:
            procs = tuple((str(n), int(a)) for n, a in obj["procedures"])
            if any(a < 0 for _, a in procs):
                raise GrammarError("a procedure has a negative arity")
            statements = {str(c): {str(p): num(w) for p, w in t.items()} for c, t in obj["statements"].items()}
            expressions = {str(c): {str(p): num(w) for p, w in t.items()} for c, t in obj["expressions"].items()}
            variables = {str(r): [num(w) for w in v] for r, v in obj["variables"].items()}
            meta = obj.get("meta", {})
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            if isinstance(e, GrammarError):
                raise
            raise GrammarError(f"malformed grammar ({type(e).__name__}: {e})") from None
        return cls(procs, statements, expressions, variables, meta if isinstance(meta, dict) else {})

    def save(self, path) -> Path:
        """Write the grammar as JSON (atomically: a reader never sees half a file)."""
        return write_json(self.to_json(), path)

    @classmethod
    def load(cls, path) -> "Grammar":
        """Read a grammar file; a missing, unreadable or malformed file is a `GrammarError` naming it."""
        path = Path(path)
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GrammarError(f"{path}: grammar file does not exist") from None
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise GrammarError(f"{path}: cannot read grammar: {e}") from None
        try:
            return cls.from_json(obj)
        except GrammarError as e:
            raise GrammarError(f"{path}: {e}") from None

    def summary(self, top: int = 4) -> str:
        """The most probable productions of the main contexts, for people."""
        lines = [f"grammar fitted on {self.meta.get('programs', 0)} programs ({self.meta.get('source') or '?'}), "
                 f"{len(self.procedures)} library procedures"]
        for block, prev in (("top", "start"), ("loop", "start")):
            lp = sorted(self.stmt_logp(block, prev).items(), key=lambda kv: -kv[1])[:top]
            lines.append(f"  stmt {block}|{prev}: " + ", ".join(f"{k} {math.exp(v):.2f}" for k, v in lp))
        for slot in ("length.top", "angle.top", "count.top", "length.loop", "angle.loop"):
            lp = sorted(self.expr_logp(slot).items(), key=lambda kv: -kv[1])[:top]
            lines.append(f"  expr {slot}: " + ", ".join(f"{k} {math.exp(v):.2f}" for k, v in lp))
        return "\n".join(lines)


# ---- derivations -------------------------------------------------------------------------------------

def derivation(program: Program, arity: dict[str, int]):
    """The choices that derive `program`'s body, in order: (context, production) pairs.

    Contexts: ("stmt", block, prev), ("expr", slot, parent, n_vars_in_scope), ("var", role, n_in_scope) whose
    production is the de Bruijn index. Definitions inside the program are not part of the grammar (its
    library procedures are); raises `GrammarError` for what the grammar cannot derive."""
    out: list = []

    def expr(e, slot: str, parent: str, scope: tuple[str, ...]) -> None:
        t = type(e)
        n = len(scope)
        if t is Num:
            out.append((("expr", slot, parent, n), f"num:{e.value}"))
        elif t is Const:
            out.append((("expr", slot, parent, n), f"const:{e.name}"))
        elif t is Var:
            if e.name not in scope:
                raise GrammarError(f"variable {e.name!r} is not bound by a loop")
            out.append((("expr", slot, parent, n), "var"))
            out.append((("var", slot_role(slot), n), n - 1 - max(i for i, v in enumerate(scope) if v == e.name)))
        elif t is BinOp:
            out.append((("expr", slot, parent, n), f"op:{e.op}"))
            expr(e.left, slot, f"{e.op}0", scope)
            expr(e.right, slot, f"{e.op}1", scope)
        else:
            raise GrammarError(f"not an expression: {e!r}")

    def block(body, kind: str, scope: tuple[str, ...]) -> None:
        prev = "start"
        for s in body:
            t = type(s)
            if t is Call:
                if arity.get(s.name) != len(s.args):
                    raise GrammarError(f"procedure {s.name!r} with {len(s.args)} argument(s) is not in the "
                                       "grammar's library")
                prod = f"call:{s.name}"
            else:
                prod = FORM_OF[t]
            out.append((("stmt", kind, prev), prod))
            if t is Move:
                expr(s.length, f"length.{kind}", "", scope)
                expr(s.angle, f"angle.{kind}", "", scope)
            elif t is Loop:
                expr(s.count, f"count.{kind}", "", scope)
                block(s.body, "loop", scope + (s.var,))
            elif t is Embed:
                block(s.body, "embed", scope)
            elif t is PenUp:
                block(s.body, "penup", scope)
            else:
                for i, a in enumerate(s.args):
                    expr(a, f"call:{s.name}:{i}", "", scope)
            prev = FORM_OF[t]
        out.append((("stmt", kind, prev), "stop"))

    block(program.body, "top", ())
    return out
