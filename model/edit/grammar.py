"""Grammatical edit scripts: the edit decoder keeps a parser state per row and decoding step.

The edit model writes a token edit script (`model.edit.edits`) left to right: every edit copies A's tokens up
to its position, then writes its token (insert, substitute) or skips one (delete). So the program it
makes is written left to right too, and a parser can follow it. `ScriptGrammar` is that parser: the
push-down automaton of `model.grammar` (statements, expressions by role, loop variables in scope,
library arities) run over a whole program. For one row it answers, before each decoding step,

- at which positions p >= the copy point the script may still act (copying A's tokens up to p leaves a
  prefix the grammar accepts), and which tokens each such position allows: the masks of insert t at p and
  substitute t at p;
- whether FIN is allowed (copying the rest of A finishes the program).

`decode`/`beam_search` (`model.edit.generate`) mask the model's actions and pointer with these, so a script
the model writes is grammatical when it ends. Two cases end otherwise: the last allowed step arrives with
FIN not allowed, or A itself does not parse under this grammar; `repair` then finishes the program (it
skips the tokens the grammar refuses and closes what is open by the shortest way), and the proposer
counts how often (`ModelProposer.repaired`). Every program the decoder proposes parses.

The automaton's states are interned (`State.signature` -> a small int) and its transitions memoised, so
following A's tokens is a dictionary lookup per token rather than a parser step.

    >>> from model.tokenizer import Tokenizer
    >>> g = ScriptGrammar(Tokenizer())
    >>> a = g.ids("( move ul 0 )".split())
    >>> row = g.row(a)
    >>> mids, fin = row.options()
    >>> fin, mids[4] >= 0, bool(g.masks[mids[3]][g.tok.index["ua"]])   # ")" can be replaced; "ua" is an angle
    (True, True, True)
    >>> row.apply("insert", g.tok.index["("], 0)     # an insert that opens a statement before A's
    >>> row.options()[1]                           # now A's "(" cannot follow: not finished
    False
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..grammar import STMT, Grammar, State

_FAIL = -1                # a token the grammar refuses here
_TOP = 0                  # state id: between statements at the top level (a finished program)
#: budget of a statement parse: never reached (a program's length is limited by the model's context)
_NO_LIMIT = 1 << 30
#: parser states interned before the tables are cleared (bounded memory under untrusted programs)
MAX_STATES = 200_000


class ScriptGrammar:
    """The whole-program automaton for one tokenizer and library. Its states are interned as small ints
    (`State.signature` -> id) with memoised transitions, so following a program is a lookup per token."""

    def __init__(self, tokenizer, library: Sequence = (), grammar: Grammar | None = None):
        self.tok = tokenizer
        self.g = grammar or Grammar(tokenizer, library, max_block_depth=8, max_expr_depth=6)
        self._table = np.zeros((0, 0), bool)
        self._clear()

    def _clear(self) -> None:
        self._sigs: list = [None]                          # state id -> signature (None: the top level)
        self._ids: dict = {}
        self._mask: list[int] = [self.g.start(STMT, (), 0, _NO_LIMIT).mask_id]   # top level: a statement's "("
        self._next: list[dict[int, int]] = [{}]

    @property
    def masks(self) -> list[np.ndarray]:
        return self.g.masks

    def ids(self, tokens: Sequence[str]) -> list[int]:
        return [self.tok.index.get(t, -1) for t in tokens]

    def row(self, a_ids: Sequence[int]) -> "RowScript":
        return RowScript(self, list(a_ids))

    # -- the automaton ---------------------------------------------------------------------------------
    def step(self, state: int, t: int) -> int:
        """The state after token id `t` (`_TOP` once a statement closes), or `_FAIL`."""
        nxt = self._next[state].get(t)
        if nxt is not None:
            return nxt
        g = self.g
        if t < 0 or not g.masks[self._mask[state]][t]:
            nxt = _FAIL
        else:
            sig = self._sigs[state]
            st = g.start(STMT, (), 0, _NO_LIMIT) if sig is None else State.from_signature(g, sig, _NO_LIMIT)
            st.advance(t)
            nxt = _TOP if st.done else self._intern(st)
        self._next[state][t] = nxt
        return nxt

    def _intern(self, st: State) -> int:
        sig = st.signature()
        i = self._ids.get(sig)
        if i is None:
            i = self._ids[sig] = len(self._sigs)
            self._sigs.append(sig)
            self._mask.append(st.mask_id)
            self._next.append({})
        return i

    def trim(self) -> None:
        """Forget the interned states when there are too many (call between decodes, never during one)."""
        if len(self._sigs) > MAX_STATES:
            self._clear()

    def table(self, width: int) -> np.ndarray:
        """The masks as (n_masks + 1, width) bool rows; the last row (index -1) allows nothing."""
        if self._table.shape != (len(self.g.masks) + 1, width):
            self._table = np.zeros((len(self.g.masks) + 1, width), bool)
            self._table[:-1] = self.g.mask_table(width)
        return self._table

    # -- repair ----------------------------------------------------------------------------------------
    def repair(self, ids: Sequence[int]) -> tuple[list[int], bool]:
        """(ids of a program the grammar accepts, whether anything changed): `ids` with the tokens the
        grammar refuses skipped, then closed by the shortest way."""
        out, state, changed = [], _TOP, False
        for t in ids:
            nxt = self.step(state, t)
            if nxt == _FAIL:
                changed = True
                continue
            out.append(t)
            state = nxt
        if state != _TOP:
            changed = True
            st = State.from_signature(self.g, self._sigs[state], _NO_LIMIT)
            while not st.done:
                t = st.closing_token()
                st.advance(t)
                out.append(t)
        return out, changed


class RowScript:
    """One decoding row: where the script has copied A to, and the parser state of what it wrote."""
    __slots__ = ("sg", "a", "i", "state")

    def __init__(self, sg: ScriptGrammar, a: list[int], i: int = 0, state: int = _TOP):
        self.sg, self.a, self.i, self.state = sg, a, i, state

    def copy(self) -> "RowScript":
        return RowScript(self.sg, self.a, self.i, self.state)

    def options(self) -> tuple[list[int], bool]:
        """(mask id per position 0..len(A), -1 where the script cannot act; whether FIN is allowed)."""
        sg, a, n = self.sg, self.a, len(self.a)
        masks, nexts = sg._mask, sg._next
        mids = [-1] * (n + 1)
        state = self.state
        for p in range(self.i, n):
            mids[p] = masks[state]
            t = a[p]
            nxt = nexts[state].get(t)
            state = sg.step(state, t) if nxt is None else nxt
            if state == _FAIL:
                return mids, False
        mids[n] = masks[state]
        return mids, state == _TOP

    def apply(self, op: str, tok: int, pos: int) -> None:
        """Follow one edit (op "insert", "delete" or "substitute" at A's position `pos`)."""
        sg, state = self.sg, self.state
        for p in range(self.i, pos):
            state = sg.step(state, self.a[p])
        if op != "delete":
            state = sg.step(state, tok)
        if state == _FAIL:
            raise ValueError(f"edit {op} {tok} at {pos} is not grammatical here")
        self.state = state
        self.i = pos if op == "insert" else pos + 1


def step_mask_ids(rows: Sequence[RowScript], length: int) -> tuple[np.ndarray, np.ndarray]:
    """For a batch of rows: (mask id per position (B, length), -1 where the script cannot act; whether FIN
    is allowed (B,)). `length` >= every len(A) + 1; index `ScriptGrammar.table` with the ids."""
    mids = np.full((len(rows), length), -1, np.int64)
    fin = np.zeros(len(rows), bool)
    for b, r in enumerate(rows):
        m, f = r.options()
        mids[b, :len(m)] = m
        fin[b] = f
    return mids, fin
