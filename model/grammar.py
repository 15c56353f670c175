"""The token grammar the decoders write under: every decoded statement or expression parses.

Its facts (statement forms and their slots, roles and their constants, operators, loop variable names)
are the DSL's (`logo.forms`); the policy's subtree decoder (`model.policy.sample`) runs it on a subtree, the
edit model's decoder on a whole program (`model.edit.grammar`).

A decoded subtree is a statement (the content of an insert or replace-statement edit) or an expression
(replace-expression, loop count, a wrapped loop's count), in canonical tokens. `Grammar.start(nt, scope,
depth, budget)` opens a decoding state for one row; at each step `state.mask_id` names the set of tokens
the grammar allows next (masks are cached and shared, `Grammar.masks`: a table of bool rows over the
tokenizer's ids, so a batch carries small indices) and `state.advance(token_id)` consumes one. It is a
push-down automaton over symbols (statement, statement head, block body, expression, operator, loop
variable, closing parenthesis) that also keeps

- the loop variables in scope (a new loop binds the canonical name for its depth; expressions use only
  variables in scope, and a loop's count is read before its variable is bound),
- the nesting of blocks and expressions under limits, and the procedures' arities (library calls),
- the roles of expressions: a length uses the length constants (ul, eps_l), an angle the angle
  constants (ua, eps_a), a count `inf`, all of them digits and loop variables, and so do their
  sub-expressions (every DreamCoder task and every generated program keeps to this; a call's
  arguments may use any constant),
- the token budget: a token is allowed only if the subtree can still be closed within the budget, so
  every row finishes, grammatically, within `budget` tokens.

`build(tokens, nt)` turns a finished row's tokens into the AST node (no parser needed).

    >>> from model.tokenizer import Tokenizer
    >>> tok = Tokenizer(); g = Grammar(tok)
    >>> st = g.start(STMT, scope=("i",), depth=1, budget=12)
    >>> for t in "( move ( * i ul ) 0 )".split():
    ...     assert g.masks[st.mask_id][tok.index[t]]; st.advance(tok.index[t])
    >>> st.done, build("( move ( * i ul ) 0 )".split(), STMT)
    (True, Move(length=BinOp(op='*', left=Var(name='i'), right=Const(name='ul')), angle=Num(value=0)))
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from logo import forms
from logo.ast import STATEMENT_CLASSES, BinOp, Call, Const, Num, Var
from logo.forms import BODY, CONSTANTS, LOOP_VARS, OPERATORS, ROLES, STATEMENT_FORMS, VAR
from logo.tokens import DIGIT_TOKENS

# nonterminals a decode starts from (the decoder's start embedding, so their order is the checkpoints'):
# a statement, an expression by role (`logo.forms.ROLES`), or a statement of the node's pool (written for
# no site in particular: no loop variables in scope)
NONTERMINALS = ("stmt",) + ROLES + ("pool",)
STMT, LENGTH, ANGLE, COUNT, ARG, POOL = range(len(NONTERMINALS))
ROLE_NT = {role: NONTERMINALS.index(role) for role in ROLES}
#: the constants an expression of each role (nonterminal) may use
ROLE_CONSTANTS = {ROLE_NT[role]: names for role, names in forms.ROLE_CONSTANTS.items()}

#: deepest block nesting (loops, embeds, penups) a decoded statement may reach, counting the site's own depth, and deepest
#: expression nesting (the DreamCoder tasks need 5 and 3)
MAX_BLOCK_DEPTH = 5
MAX_EXPR_DEPTH = 3

# symbols on the automaton's stack; their minimal completion cost in tokens
_S, _H, _B, _E, _O, _V, _CLOSE, _IN, _OUT, _PUSH, _POP = range(11)
_COST = {_S: 5, _H: 4, _B: 1, _E: 1, _O: 1, _V: 1, _CLOSE: 1, _IN: 0, _OUT: 0, _PUSH: 0, _POP: 0}


def _form_symbols(slots: tuple[str, ...]) -> list[tuple]:
    """What reading a statement form's keyword pushes: a symbol per slot (`logo.forms.STATEMENT_FORMS`),
    the next slot on top. An expression slot is an expression of its role; a loop variable is `_V`, bound
    (`_PUSH`) when the body starts and unbound (`_POP`) when it ends, so the count before it cannot use it;
    a body is one statement or more, one block deeper (`_IN`, `_OUT`), whose end closes the statement; a
    form without a body ends with ")"."""
    binds = VAR in slots
    seq: list[tuple] = []
    for slot in slots:
        if slot == VAR:
            seq.append((_V, 0))
        elif slot == BODY:
            seq += [(_PUSH, 0)] * binds + [(_IN, 0), (_S, 0), (_B, 0), (_OUT, 0)] + [(_POP, 0)] * binds
        else:
            seq.append(_e(ROLE_NT[slot]))
    if BODY not in slots:
        seq.append((_CLOSE, 0))
    return seq[::-1]


class Grammar:
    """Masks and states for one tokenizer (and library: procedure names and arities)."""

    def __init__(self, tokenizer, library: Sequence = (), max_block_depth: int = MAX_BLOCK_DEPTH,
                 max_expr_depth: int = MAX_EXPR_DEPTH):
        self.tok = tokenizer
        self.max_block_depth, self.max_expr_depth = max_block_depth, max_expr_depth
        ix = tokenizer.index
        self.id = ix
        self.open, self.close = ix["("], ix[")"]
        self.kw = {k: ix[k] for k in STATEMENT_FORMS}
        # keyword id -> (symbols it pushes, whether it binds a loop variable, whether it opens a block, by how
        # much it raises the minimal cost to finish: a move lowers it by 1, a loop raises it by 4, an embed by 2)
        self.forms: dict[int, tuple[list, bool, bool, int]] = {}
        for name, slots in STATEMENT_FORMS.items():
            push = _form_symbols(slots)
            self.forms[ix[name]] = (push, VAR in slots, BODY in slots, sum(_COST[sym] for sym, _ in push) - _COST[_H])
        self.shortest_head = min(self.forms, key=lambda t: self.forms[t][3])    # the move
        self.digit_ids = [ix[t] for t in DIGIT_TOKENS]
        self.const_ids = {nt: [ix[c] for c in names] for nt, names in ROLE_CONSTANTS.items()}
        self.op_ids = [ix[o] for o in OPERATORS]
        self.var_ids = [ix[v] for v in LOOP_VARS if v in ix]
        self.calls: dict[int, int] = {}          # token id -> arity
        for d in library or ():
            if d.name in ix:
                self.calls[ix[d.name]] = len(d.params)
        self.vocab = len(tokenizer)
        self.masks: list[np.ndarray] = []        # mask id -> bool (vocab,)
        self._mask_ids: dict[tuple, int] = {}

    # -- masks ----------------------------------------------------------------------------------------
    def _mask(self, key: tuple, ids) -> int:
        m = self._mask_ids.get(key)
        if m is None:
            row = np.zeros(self.vocab, bool)
            row[list(ids)] = True
            m = self._mask_ids[key] = len(self.masks)
            self.masks.append(row)
        return m

    def mask_table(self, width: int) -> np.ndarray:
        """The masks as one (n_masks, width) bool array (width >= the vocabulary; extra columns False)."""
        out = np.zeros((len(self.masks), width), bool)
        for i, m in enumerate(self.masks):
            out[i, :len(m)] = m
        return out

    def start(self, nt: int, scope: Sequence[str] = (), depth: int = 0, budget: int = 48) -> "State":
        """A decoding state for a subtree of nonterminal `nt` at a site whose loop variables in scope are
        `scope` and whose block nesting is `depth`, to be finished within `budget` tokens."""
        return State(self, nt, tuple(scope), depth, budget)


def _e(role: int, depth: int = 0) -> tuple:
    """An expression symbol of `role` (a nonterminal id) nested `depth` deep."""
    return (_E, depth * 8 + role)


class State:
    """One row's decoding state (see `Grammar`)."""
    __slots__ = ("g", "stack", "scope", "pending", "depth", "left", "cost", "done", "mask_id", "tokens")

    def __init__(self, g: Grammar, nt: int, scope: tuple, depth: int, budget: int):
        self.g = g
        self.stack = [(_S, 0)] if nt in (STMT, POOL) else [_e(nt)]
        self.scope = list(scope)
        self.pending: list[str] = []            # loop variables named, bound once their count is read
        self.depth = depth
        self.left = int(budget)
        self.cost = _COST[self.stack[0][0]]
        self.done = False
        self.tokens: list[int] = []
        if budget < self.cost:
            raise ValueError(f"a budget of {budget} tokens cannot hold a {NONTERMINALS[nt]}")
        self.mask_id = self._mask()

    def _settle(self):
        """Pop the bookkeeping symbols on top (they consume no token)."""
        st = self.stack
        while st and st[-1][0] in (_IN, _OUT, _PUSH, _POP):
            sym = st.pop()[0]
            if sym == _IN:
                self.depth += 1
            elif sym == _OUT:
                self.depth -= 1
            elif sym == _PUSH:
                self.scope.append(self.pending.pop())
            else:
                self.scope.pop()
        if not st:
            self.done = True

    def _mask(self) -> int:
        if self.done:
            return -1
        g = self.g
        sym, d = self.stack[-1]
        # a token may raise the minimal cost to finish by at most `room` (left after it >= cost after it):
        # opening a loop raises it by 4, an embed or penup by 2, a block's next statement by 4, an
        # expression's "(" by 3, a call of n arguments by n - 3
        room = self.left - 1 - self.cost
        if sym == _S:
            return g._mask(("S",), [g.open])
        if sym == _H:
            blocks = self.depth < g.max_block_depth
            free_var = len(self.scope) + len(self.pending) < len(g.var_ids)
            heads = tuple(t for t, (_, binds, opens, rise) in g.forms.items()
                          if room >= rise and (blocks or not opens) and (free_var or not binds))
            max_args = room + 3
            calls = tuple(sorted(i for i, n in g.calls.items() if n + 1 <= max_args))
            return g._mask(("H", heads, calls), list(heads) + list(calls))
        if sym == _B:
            can_open = room >= 4
            return g._mask(("B", can_open), [g.close] + [g.open] * can_open)
        if sym == _E:
            depth, role = divmod(d, 8)
            can_open = depth < g.max_expr_depth and room >= 3
            n = len(self.scope)
            return g._mask(("E", role, n, can_open),
                           g.digit_ids + g.const_ids[role] + g.var_ids[:n] + [g.open] * can_open)
        if sym == _O:
            return g._mask(("O",), g.op_ids)
        if sym == _V:
            v = len(self.scope) + len(self.pending) - 1
            return g._mask(("V", v), [g.var_ids[v]])
        return g._mask((")",), [g.close])

    # -- whole-program parsing (`model.edit.grammar`) --------------------------------------------------
    def signature(self) -> tuple:
        """What the masks and transitions depend on, hashable (the budget aside: a whole-program parse
        starts with one it never reaches)."""
        return (tuple(self.stack), tuple(self.scope), tuple(self.pending), self.depth)

    @classmethod
    def from_signature(cls, g: Grammar, sig: tuple, budget: int) -> "State":
        """A live state with signature `sig` and `budget` tokens left."""
        st = cls.__new__(cls)
        st.g, st.stack, st.scope, st.pending, st.depth = g, list(sig[0]), list(sig[1]), list(sig[2]), sig[3]
        st.left, st.cost, st.done, st.tokens = int(budget), sum(_COST[s] for s, _ in st.stack), False, []
        st.mask_id = st._mask()
        return st

    def closing_token(self) -> int:
        """A token on a shortest way to finish this subtree (a move for a statement's head, "0" for an
        expression, the first operator, the bound variable, ")"); it is always allowed."""
        g = self.g
        sym = self.stack[-1][0]
        if sym == _S:
            return g.open
        if sym == _H:
            return g.shortest_head
        if sym == _E:
            return g.digit_ids[0]
        if sym == _O:
            return g.op_ids[0]
        if sym == _V:
            return g.var_ids[len(self.scope) + len(self.pending) - 1]
        return g.close                                # a block's end or a closing parenthesis

    def advance(self, t: int) -> None:
        """Consume token id `t` (it must be allowed: `Grammar.masks[self.mask_id][t]`)."""
        g = self.g
        st = self.stack
        sym, d = st.pop()
        self.cost -= _COST[sym]
        push: list = []
        if sym == _S:
            push = [(_H, 0)]
        elif sym == _H:
            form = g.forms.get(t)
            if form is None:                           # a library call: its arguments, then ")"
                push = [(_CLOSE, 0)] + [_e(ARG)] * g.calls[t]
            else:
                push = form[0]
                if form[1]:
                    self.pending.append(LOOP_VARS[len(self.scope) + len(self.pending)])
        elif sym == _B:
            if t == g.open:
                push = [(_B, 0), (_H, 0)]
        elif sym == _E:
            if t == g.open:
                push = [(_CLOSE, 0), (_E, d + 8), (_E, d + 8), (_O, 0)]
        st.extend(push)
        self.cost += sum(_COST[s] for s, _ in push)
        self.left -= 1
        self.tokens.append(t)
        self._settle()
        self.mask_id = self._mask()


def walk_masks(g: Grammar, nt: int, scope, depth: int, budget: int, ids: Sequence[int]) -> list[int] | None:
    """The mask id before each token of `ids` (teacher forcing), or None if `ids` is not a complete
    subtree this grammar allows (too deep, too long, a variable out of scope...)."""
    try:
        st = g.start(nt, scope, depth, budget)
    except ValueError:
        return None
    out = []
    for t in ids:
        if st.done or not g.masks[st.mask_id][t]:
            return None
        out.append(st.mask_id)
        st.advance(t)
    return out if st.done else None


# ---- tokens to trees ----------------------------------------------------------------------------------

def build(tokens: Sequence[str], nt: int):
    """The AST node (statement for STMT, else expression) of a finished row's tokens."""
    pos = 0

    def expr():
        nonlocal pos
        t = tokens[pos]
        pos += 1
        if t == "(":
            op = tokens[pos]
            pos += 1
            left = expr()
            right = expr()
            pos += 1                                  # ")"
            return BinOp(op, left, right)
        if t.isdigit():
            return Num(int(t))
        if t in CONSTANTS:
            return Const(t)
        return Var(t)

    def stmt():
        nonlocal pos
        pos += 1                                      # "("
        head = tokens[pos]
        pos += 1
        slots = STATEMENT_FORMS.get(head)
        if slots is not None:                         # the form's slots are its AST class's fields, in order
            values = []
            for slot in slots:
                if slot == VAR:
                    values.append(tokens[pos])
                    pos += 1
                elif slot == BODY:
                    values.append(body())             # (reads the closing ")")
                else:
                    values.append(expr())
            if BODY not in slots:
                pos += 1                              # ")"
            return STATEMENT_CLASSES[head](*values)
        args = []
        while tokens[pos] != ")":
            args.append(expr())
        pos += 1
        return Call(head, tuple(args))

    def body():
        nonlocal pos
        out = []
        while tokens[pos] != ")":
            out.append(stmt())
        pos += 1
        return tuple(out)

    return stmt() if nt in (STMT, POOL) else expr()
