"""The policy's subtree grammar (`model.grammar`) and action space (`model.policy.actions`): every
decoded subtree parses within its budget and scope, every program's statements and expressions are
allowed, and every tree-path label is a (slot, action) of the program that makes the same edit."""
import random

import numpy as np
import pytest

import data
import logo
from data.generate import random_programs
from logo.ast import Define, Move, Num
from logo.canonical import canonical
from logo.mutate import Sites, mutate
from logo.syntax import to_text
from logo.tokens import n_tokens, tokenize
from logo.tree_path import fixing_steps
from model.policy.actions import ACTIONS, SiteTable
from model.grammar import ANGLE, COUNT, LENGTH, POOL, ROLE_NT, STMT, Grammar, build, walk_masks
from model.tokenizer import Tokenizer

PROGRAMS = [canonical(p) for p in random_programs(150, seed=2)] + [canonical(t.program) for t in data.dreamcoder_tasks()]


@pytest.fixture(scope="module")
def grammar():
    tok = Tokenizer()
    tok.add(["f2"])
    return tok, Grammar(tok, [Define("f2", ("a", "b"), (Move(Num(1), Num(0)),))])


def test_every_statement_and_expression_of_the_tasks_and_random_programs_is_allowed(grammar):
    tok, g = grammar
    for p in PROGRAMS:
        s = Sites.of(p, is_canonical=True)
        for b in s.blocks:
            for st in b.body:
                toks = tokenize(to_text(st))
                assert walk_masks(g, STMT, b.scope, b.depth, 64, tok.encode(toks)) is not None, to_text(st)
                assert build(toks, STMT) == st
        for e in s.exprs:
            toks = tokenize(to_text(e.expr))
            assert walk_masks(g, ROLE_NT[e.role], e.scope, 0, 24, tok.encode(toks)) is not None
            assert build(toks, LENGTH) == e.expr
    assert walk_masks(g, LENGTH, (), 0, 8, tok.encode(["ua"])) is None        # an angle constant in a length
    assert walk_masks(g, STMT, (), 0, 8, tok.encode(tokenize("(move i 0)"))) is None   # i is not in scope


def test_random_decoding_under_the_masks_always_builds_a_subtree_within_budget(grammar):
    tok, g = grammar
    rng = np.random.default_rng(0)
    for i in range(2000):
        nt = (STMT, POOL, LENGTH, ANGLE, COUNT)[i % 5]
        scope = ("i", "j")[:i % 3] if nt != POOL else ()
        budget = int(rng.integers(5, 40)) if nt in (STMT, POOL) else int(rng.integers(1, 12))
        st = g.start(nt, scope, depth=len(scope), budget=budget)
        while not st.done:
            allowed = np.flatnonzero(g.masks[st.mask_id])
            assert len(allowed)
            st.advance(int(rng.choice(allowed)))
        assert len(st.tokens) <= budget
        node = build(tok.decode(st.tokens), nt)
        text = to_text(node) if nt in (STMT, POOL) else f"(move {to_text(node)} 0)"
        for v in reversed(scope):
            text = f"(loop {v} 2 {text})"
        logo.parse(text)                              # parses, loop variables in scope


def test_tree_path_labels_are_slot_actions_that_make_the_same_edit():
    rng = random.Random(1)
    for _ in range(300):
        c = rng.choice(PROGRAMS)
        a = c
        for _ in range(rng.randint(1, 3)):
            t = mutate(a, rng)
            a = canonical(t) if t else a
        table = SiteTable.of(a)
        assert table.n_slots == n_tokens(to_text(a)) + 1
        for s in fixing_steps(a, c, table.sites):
            slot, action = table.locate(s.mutation)
            assert table.valid[slot, action]
            m = table.mutation(slot, action, table.content_of(s.mutation))
            assert canonical(table.sites.apply(m)) == canonical(table.sites.apply(s.mutation)), ACTIONS[action]


def test_the_valid_pairs_are_the_mutators_positions():
    for p in PROGRAMS[:60]:
        table = SiteTable.of(p)
        sites = table.sites
        n = table.valid.sum(0)
        assert n[ACTIONS.index("insert")] == len(sites.positions("insert"))
        assert n[ACTIONS.index("delete")] == len(sites.positions("delete"))
        assert n[ACTIONS.index("unwrap")] == len(sites.positions("unwrap"))
        assert n[ACTIONS.index("replace_expr")] == len(sites.exprs)
        assert n[ACTIONS.index("loop_count")] == len(sites.positions("loop_count"))
