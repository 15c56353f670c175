"""A `logo.pcfg.Grammar` as one flat vector: the fixed layout a recognition network writes.

A grammar for a library is a set of tables (statement contexts x statement productions, expression
contexts x expressions, variable roles x de Bruijn indices). `GrammarLayout(procedures)` gives every
(table, context, production) one index of a flat vector, so a network can output a grammar as one row of
logits, and turns a program's derivation (`logo.pcfg.derivation`) into index arrays:

- `chosen[i]`: the flat index of the i-th choice's production;
- `choice_set[i]`: which *normaliser set* it was chosen from (the flat indices its context can take: a
  statement context's productions; an expression context's with or without `var`, by whether a variable is
  in scope; for a variable, the indices 0..n-1 of its role, the indices past `MAX_VAR_INDEX` - 1 sharing the
  last weight, as `Grammar.var_logp` counts them).

So log P(program) = sum_i [w[chosen_i] - logsumexp(w[set(choice_set_i)])], a gather and a logsumexp (torch
or numpy), equal to `Grammar.logp` for the grammar whose log-weights are w (`to_grammar`).

    >>> from logo.pcfg import Grammar
    >>> g = Grammar.fit(["(loop i 4 (move ul (/ ua 4)))"])
    >>> lay = GrammarLayout(())
    >>> d = lay.derive("(loop i 4 (move ul (/ ua 4)))")
    >>> abs(lay.logp(lay.to_vector(g), d) - g.logp("(loop i 4 (move ul (/ ua 4)))")) < 1e-9
    True
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .interp import as_program
from .pcfg import EXPRESSIONS, MAX_VAR_INDEX, ROLES, Grammar, GrammarError, _procedures, derivation, expr_context, \
    slot_role, stmt_context

#: most variables in scope a derivation may have (loops nested this deep); deeper is a GrammarError
MAX_SCOPE = 16


@dataclass(frozen=True)
class Derivation:
    """One program's choices as layout indices (see the module doc)."""
    chosen: np.ndarray        # int64 (n,)
    choice_set: np.ndarray    # int64 (n,)

    def __len__(self) -> int:
        return len(self.chosen)


class GrammarLayout:
    """Where each production of each context of a grammar with `procedures` lives in a flat vector."""

    def __init__(self, procedures=()):
        self.procedures = _procedures(procedures)
        shell = Grammar.__new__(Grammar)
        shell.procedures = self.procedures
        self.stmt_contexts = shell.statement_contexts()
        self.stmt_productions = shell.statement_productions()
        self.expr_contexts = shell.expression_contexts()
        names: list[tuple[str, str, object]] = []
        self.stmt_index: dict[tuple[str, str], int] = {}
        for c in self.stmt_contexts:
            for p in self.stmt_productions:
                self.stmt_index[(c, p)] = len(names)
                names.append(("stmt", c, p))
        self.expr_index: dict[tuple[str, str], int] = {}
        for c in self.expr_contexts:
            for p in EXPRESSIONS:
                self.expr_index[(c, p)] = len(names)
                names.append(("expr", c, p))
        self.var_index: dict[tuple[str, int], int] = {}
        for r in ROLES:
            for i in range(MAX_VAR_INDEX):
                self.var_index[(r, i)] = len(names)
                names.append(("var", r, i))
        #: (table, context, production) of every index
        self.names = tuple(names)
        sets: list[list[int]] = []
        self._set_id: dict[tuple, int] = {}
        for c in self.stmt_contexts:
            self._set_id[("stmt", c)] = len(sets)
            sets.append([self.stmt_index[(c, p)] for p in self.stmt_productions])
        for c in self.expr_contexts:
            for has_vars in (True, False):
                self._set_id[("expr", c, has_vars)] = len(sets)
                sets.append([self.expr_index[(c, p)] for p in EXPRESSIONS if has_vars or p != "var"])
        for r in ROLES:
            for n in range(1, MAX_SCOPE + 1):
                self._set_id[("var", r, n)] = len(sets)
                sets.append([self.var_index[(r, min(i, MAX_VAR_INDEX - 1))] for i in range(n)])
        width = max(len(s) for s in sets)
        #: int64 (S, width): each normaliser set's flat indices, padded with 0; `set_mask` marks the real ones
        self.sets = np.zeros((len(sets), width), np.int64)
        self.set_mask = np.zeros((len(sets), width), bool)
        for k, s in enumerate(sets):
            self.sets[k, :len(s)] = s
            self.set_mask[k, :len(s)] = True

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def key(self) -> tuple:
        """What makes two layouts the same: the procedures (names and arities, in order)."""
        return self.procedures

    # ---- grammar <-> vector ---------------------------------------------------------------------------

    def to_vector(self, grammar: Grammar) -> np.ndarray:
        """The grammar's log-weights at the layout's indices (float64; -inf kept)."""
        if grammar.procedures != self.procedures:
            raise GrammarError("the grammar's library differs from the layout's "
                               f"({len(grammar.procedures)} against {len(self.procedures)} procedures)")
        v = np.empty(self.size, np.float64)
        for k, (table, c, p) in enumerate(self.names):
            v[k] = (grammar.statements[c][p] if table == "stmt" else
                    grammar.expressions[c][p] if table == "expr" else grammar.variables[c][p])
        return v

    def to_grammar(self, vector, meta: dict | None = None) -> Grammar:
        """The grammar whose log-weights are `vector` (length `size`; finite numbers or -inf)."""
        v = np.asarray(vector, np.float64).reshape(-1)
        if len(v) != self.size:
            raise GrammarError(f"a grammar vector of this layout has {self.size} weights, not {len(v)}")
        w = v.tolist()
        statements: dict = {c: {} for c in self.stmt_contexts}
        expressions: dict = {c: {} for c in self.expr_contexts}
        variables: dict = {r: [0.0] * MAX_VAR_INDEX for r in ROLES}
        for k, (table, c, p) in enumerate(self.names):
            if table == "stmt":
                statements[c][p] = w[k]
            elif table == "expr":
                expressions[c][p] = w[k]
            else:
                variables[c][p] = w[k]
        return Grammar(self.procedures, statements, expressions, variables, dict(meta or {}))

    # ---- derivations ----------------------------------------------------------------------------------

    def derive(self, program) -> Derivation:
        """`program`'s derivation as index arrays; `GrammarError` for what this library cannot derive
        (a call outside it, an unbound variable, loops nested deeper than `MAX_SCOPE`)."""
        prog = as_program(program)
        chosen, sets = [], []
        for ctx, prod in derivation(prog, dict(self.procedures)):
            kind = ctx[0]
            if kind == "stmt":
                c = stmt_context(ctx[1], ctx[2])
                chosen.append(self.stmt_index[(c, prod)])
                sets.append(self._set_id[("stmt", c)])
            elif kind == "expr":
                c = expr_context(ctx[1] if not ctx[2] else slot_role(ctx[1]), ctx[2])
                chosen.append(self.expr_index[(c, prod)])
                sets.append(self._set_id[("expr", c, ctx[3] > 0)])
            else:
                role, n = slot_role(ctx[1]), ctx[2]
                if n > MAX_SCOPE:
                    raise GrammarError(f"{n} variables in scope (at most {MAX_SCOPE})")
                chosen.append(self.var_index[(role, min(prod, MAX_VAR_INDEX - 1))])
                sets.append(self._set_id[("var", role, n)])
        return Derivation(np.asarray(chosen, np.int64), np.asarray(sets, np.int64))

    def set_logz(self, vector) -> np.ndarray:
        """logsumexp of `vector` over each normaliser set: float64 (S,)."""
        v = np.asarray(vector, np.float64)
        x = np.where(self.set_mask, v[self.sets], -np.inf)
        m = x.max(axis=1)
        mf = np.where(np.isfinite(m), m, 0.0)
        with np.errstate(divide="ignore"):
            return mf + np.log(np.exp(x - mf[:, None]).sum(axis=1))

    def logp(self, vector, d: Derivation) -> float:
        """log P(program) under the grammar `vector` (natural log), from its derivation `d`."""
        v = np.asarray(vector, np.float64)
        z = self.set_logz(v)
        total = float((v[d.chosen] - z[d.choice_set]).sum())
        return total if not math.isnan(total) else -math.inf


__all__ = ["Derivation", "GrammarLayout", "MAX_SCOPE"]
