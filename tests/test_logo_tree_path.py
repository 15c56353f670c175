"""Tree paths (`logo.tree_path`): the first steps from a program toward another are grammatical edits
that each fix one node, and taking them reaches the target."""
import random

import pytest

import data
from data.generate import random_programs
from logo.canonical import canonical
from logo.mutate import Sites, mutate
from logo.syntax import to_text
from logo.tree_path import first_step, first_steps, fixing_steps, path


def step(a, c):
    a, c = canonical(a), canonical(c)
    m = first_step(a, c)
    return m, (to_text(canonical(Sites.of(a, is_canonical=True).apply(m))) if m else None)


@pytest.mark.parametrize("a, c, kind, after", [
    ("", "(move ul 0)", "insert", "(move ul 0)"),
    ("(move ul 0)", "(move ul 0) (loop i 4 (move ul (/ ua 4)))", "insert",
     "(move ul 0) (loop i 4 (move ul (/ ua 4)))"),
    ("(move ul 0) (move 1 0)", "(move ul 0)", "delete", "(move ul 0)"),
    ("(move ul 0)", "(move ul (/ ua 4))", "replace_expr", "(move ul (/ ua 4))"),
    ("(move ul 0)", "(move eps_l eps_a)", "replace_stmt", "(move eps_l eps_a)"),
    ("(loop i 3 (move ul (/ ua 4)))", "(loop i 4 (move ul (/ ua 4)))", "loop_count", "(loop i 4 (move ul (/ ua 4)))"),
    ("(move ul (/ ua 4))", "(loop i 4 (move ul (/ ua 4)))", "wrap", "(loop i 4 (move ul (/ ua 4)))"),
    ("(embed (move ul 0))", "(move ul 0)", "unwrap", "(move ul 0)"),
    ("(move ul 0)", "(embed (move ul 0)) (move ul 0)", "insert", "(embed (move ul 0)) (move ul 0)"),
    ("(loop i 3 (move ul 0))", "(loop i 3 (move ul 0) (move 0 (/ ua 3)))", "insert",
     "(loop i 3 (move ul 0) (move 0 (/ ua 3)))"),
])
def test_first_step_fixes_the_node_nearest_the_root(a, c, kind, after):
    m, text = step(a, c)
    assert m.kind == kind
    assert text == to_text(canonical(after))


def test_equal_programs_have_no_step_and_steps_are_ordered_by_depth():
    p = canonical("(loop i 3 (move ul 0)) (move ul 0)")
    assert first_steps(p, p) == [] and path(p, p) == []
    a = canonical("(loop i 3 (move ul 0)) (move 1 0)")
    c = canonical("(loop i 3 (move eps_l 0)) (move ul 0)")
    steps = fixing_steps(a, c)
    assert [s.depth for s in steps] == sorted(s.depth for s in steps)
    assert len(steps) == 2                       # one fix in the loop's body, one at the top


def test_paths_reach_the_target_from_mutated_random_and_task_programs():
    rng = random.Random(0)
    progs = [canonical(p) for p in random_programs(80, seed=5)] + [canonical(t.program)
                                                                   for t in data.dreamcoder_tasks()[::4]]
    for i in range(300):
        c = rng.choice(progs)
        a = rng.choice(progs) if i % 3 == 0 else c
        for _ in range(rng.randint(1, 4)):
            t = mutate(a, rng)
            a = canonical(t) if t else a
        steps = path(a, c)
        assert (steps[-1] if steps else canonical(a)).body == c.body, (to_text(a), to_text(c))
        for m in first_steps(canonical(a), c):     # every labelled step applies to A
            Sites.of(canonical(a), is_canonical=True).apply(m)
