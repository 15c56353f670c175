"""The policy's action space: (slot, action) pairs over a program's tokens, and the mutations they are.

A *slot* is a token position of the program's canonical tokens (`logo.mutate.Sites.block_tokens` /
`expr_tokens`; the position after the last token is the program's end): the "(" of a statement, the
place a statement appended to a block would start, or the first token of an expression. Each slot has
the actions that apply there (`ACTIONS`): insert (before the statement, or appended at a block's end),
delete, replace_stmt, wrap one or two statements in a loop / embed / penup, unwrap, replace_expr,
loop_count. Different sites never share a slot, so (slot, action) names one `logo.mutate.Mutation` up
to its content; `SiteTable` holds that correspondence for one program, and which actions need content
from the subtree decoder (`CONTENT_NT`: a statement, or an expression of a role).

    >>> from logo.canonical import canonical
    >>> t = SiteTable.of(canonical("(loop i 4 (move ul (/ ua 4)))"))
    >>> sorted((s, ACTIONS[a]) for s, a in t.pairs if ACTIONS[a] in ("insert", "loop_count"))
    [(0, 'insert'), (3, 'loop_count'), (4, 'insert'), (13, 'insert'), (14, 'insert')]
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from logo.ast import Embed, Loop, Num, PenUp, Program
from logo.mutate import Mutation, Sites

from ..grammar import COUNT, ROLE_NT, STMT

ACTIONS = ("insert", "delete", "replace_stmt", "wrap_loop1", "wrap_embed1", "wrap_penup1", "wrap_loop2",
           "wrap_embed2", "wrap_penup2", "unwrap", "replace_expr", "loop_count")
N_ACTIONS = len(ACTIONS)
A = {name: i for i, name in enumerate(ACTIONS)}
#: the grammatical mutation kind (`logo.mutate.MUTATIONS`) of each action
ACTION_KIND = tuple("wrap" if a.startswith("wrap") else a for a in ACTIONS)
#: which actions get content from the subtree decoder (the nonterminal is the site's; see `SiteTable`)
HAS_CONTENT = np.array([a in ("insert", "replace_stmt", "wrap_loop1", "wrap_loop2", "replace_expr", "loop_count")
                        for a in ACTIONS])
#: deepest block a wrap may add (`Sites.apply` allows any; deeper programs are rare and slow to draw)
MAX_WRAP_DEPTH = 3


class Slot(NamedTuple):
    """What (slot, action) edits: the mutation without content, and where content would be decoded."""
    mutation: Mutation
    nt: int              # nonterminal of the content (-1: none)
    scope: tuple         # loop variables in scope at the site
    depth: int           # block nesting of the site


class SiteTable:
    """Every valid (slot, action) of one program; `valid` is (n_tokens + 1, N_ACTIONS) bool."""

    def __init__(self, sites: Sites, n_slots: int):
        self.sites = sites
        self.n_slots = n_slots
        self.valid = np.zeros((n_slots, N_ACTIONS), bool)
        self.slot: dict[tuple[int, int], Slot] = {}
        self.pairs: list[tuple[int, int]] = []

    @classmethod
    def of(cls, program: Program, sites: Sites | None = None, n_tokens: int | None = None) -> "SiteTable":
        """The table of a canonical program (`sites`: its `Sites`, if at hand; `n_tokens`: its length)."""
        sites = sites or Sites.of(program, is_canonical=True)
        if n_tokens is None:
            n_tokens = sites.block_tokens[0][-1]
        t = cls(sites, n_tokens + 1)
        add = t._add
        for k, b in enumerate(sites.blocks):
            toks = sites.block_tokens[k]
            n = len(b.body)
            for at in range(n + 1):
                add(toks[at], A["insert"], Mutation("insert", k, at), STMT, b)
            for at in range(n):
                slot = toks[at]
                if n >= (1 if b.top else 2):
                    add(slot, A["delete"], Mutation("delete", k, at), -1, b)
                add(slot, A["replace_stmt"], Mutation("replace_stmt", k, at), STMT, b)
                if b.depth < MAX_WRAP_DEPTH:
                    for w in (1, 2):
                        if at + w <= n:
                            add(slot, A[f"wrap_loop{w}"], Mutation("wrap", k, at, at + w), COUNT, b)
                            add(slot, A[f"wrap_embed{w}"], Mutation("wrap", k, at, at + w, Embed(())), -1, b)
                            add(slot, A[f"wrap_penup{w}"], Mutation("wrap", k, at, at + w, PenUp(())), -1, b)
                if isinstance(b.body[at], (Loop, Embed, PenUp)):
                    add(slot, A["unwrap"], Mutation("unwrap", k, at), -1, b)
        for e, site in enumerate(sites.exprs):
            slot = sites.expr_tokens[e]
            t._add_expr(slot, A["replace_expr"], Mutation("replace_expr", e), ROLE_NT[site.role], site.scope)
            if site.role == "count":
                t._add_expr(slot, A["loop_count"], Mutation("loop_count", e), COUNT, site.scope)
        return t

    def _add(self, slot: int, action: int, m: Mutation, nt: int, block) -> None:
        self.valid[slot, action] = True
        self.slot[(slot, action)] = Slot(m, nt, block.scope, block.depth)
        self.pairs.append((slot, action))

    def _add_expr(self, slot: int, action: int, m: Mutation, nt: int, scope: tuple) -> None:
        self.valid[slot, action] = True
        self.slot[(slot, action)] = Slot(m, nt, scope, 0)
        self.pairs.append((slot, action))

    def locate(self, m: Mutation) -> tuple[int, int] | None:
        """(slot, action) of a mutation of this program (a tree-path label), or None if it has none."""
        s = self.sites
        if m.kind in ("replace_expr", "loop_count"):
            pair = (s.expr_tokens[m.site], A[m.kind])
        elif m.kind == "wrap":
            w = m.end - m.at
            name = "loop" if isinstance(m.content, Loop) else "embed" if isinstance(m.content, Embed) else "penup"
            if w not in (1, 2):
                return None
            pair = (s.block_tokens[m.site][m.at], A[f"wrap_{name}{w}"])
        else:
            pair = (s.block_tokens[m.site][m.at], A[m.kind])
        return pair if pair in self.slot else None

    def content_of(self, m: Mutation):
        """The subtree the decoder writes for label `m` (a wrapped loop: its count), or None."""
        if m.kind == "wrap":
            return m.content.count if isinstance(m.content, Loop) else None
        return m.content

    def mutation(self, slot: int, action: int, content=None) -> Mutation:
        """The mutation of (slot, action) with `content` (a statement or expression from the decoder; a
        wrapped loop's count)."""
        s = self.slot[(slot, action)]
        m = s.mutation
        if ACTIONS[action].startswith("wrap_loop"):
            count = content if content is not None else Num(4)
            return Mutation(m.kind, m.site, m.at, m.end, Loop(self.sites.wrap_var(m.site, m.at, m.end), count, ()))
        if HAS_CONTENT[action]:
            return Mutation(m.kind, m.site, m.at, m.end, content)
        return m
