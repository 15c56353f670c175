"""Grammatical steps (model.edit.steps) and the step pair kinds (model.edit.step_pairs)."""
import random

import numpy as np
import pytest

import logo
from model.edit.edits import apply_edits, edit_script
from model.edit.steps import (MUTATIONS, draws, far_chains, far_pairs, grammatical_steps, grammatical_window, mutate,
                              parses, prefix_steps, prefixes, undo_chain)
from model.tokenizer import join, program_tokens

PROGRAMS = [
    "(move ul 0)",
    "(loop i 4 (move ul (/ ua 4)))",
    "(move 0 (/ ua 8)) (loop i 3 (move ul (/ ua 3)))",
    "(embed (loop i 5 (move (* 2 ul) (/ ua 5)))) (penup (move ul 0)) (move ul (/ ua 4))",
    "(loop i 3 (loop j 4 (move (* i eps_l) (/ ua 4))) (move ul (/ ua 3)))",
]


@pytest.mark.parametrize("kind", MUTATIONS)
def test_each_mutation_gives_a_parseable_different_program(kind):
    rng = random.Random(0)
    made = 0
    for p in PROGRAMS:
        for _ in range(5):
            t = mutate(p, rng, kind=kind)
            if t is None:
                continue
            made += 1
            assert t == logo.to_text(logo.parse(t))               # canonical text that parses
            assert program_tokens(t) == t.replace("(", " ( ").replace(")", " ) ").split()
            assert program_tokens(t) != program_tokens(p)
    assert made >= 10, f"{kind} applied only {made} of 25 times"


def test_unwrap_of_a_loop_that_uses_its_variable_substitutes_zero():
    rng = random.Random(1)
    t = mutate("(loop i 4 (move (* i ul) (/ ua 4)))", rng, kind="unwrap")
    assert t is not None and "i" not in program_tokens(t)
    logo.render(t, 32)   # runs


def test_mutate_respects_max_tokens():
    rng = random.Random(2)
    n = len(program_tokens(PROGRAMS[3]))                  # 38 tokens; an insert may add at most 5
    got = [mutate(PROGRAMS[3], rng, kind="insert", max_tokens=n + 5) for _ in range(40)]
    made = [t for t in got if t is not None]
    assert len(made) >= 10                                # short statements fit (a move is 5 tokens)
    assert all(n < len(program_tokens(t)) <= n + 5 for t in made)
    assert len(made) < len(got)                           # and longer ones were refused, not truncated
    assert all(mutate(PROGRAMS[3], rng, kind="insert", max_tokens=n) is None for _ in range(20))


def test_far_chains_draw_and_undo_to_the_start():
    rng = random.Random(3)
    chains = far_chains(PROGRAMS, rng, max_k=5)
    assert chains and all(1 <= c.k <= 5 for c in chains)
    for c in chains:
        _, ok = draws(c.programs, 32)
        assert ok.all()
        for a, b in zip(c.images, c.images[1:]):
            assert not np.array_equal(a, b)          # every step changes the drawing
        visited = undo_chain(c)
        assert visited[-1] == join(program_tokens(c.programs[0]))
        assert all(parses(v.split()) for v in visited)   # every step back is between valid programs
        pairs = far_pairs(c)
        assert [j for _, _, j in pairs] == list(range(c.k, 0, -1))


def test_prefix_steps_parse_and_end_at_the_program():
    p = PROGRAMS[3]
    steps = prefix_steps(p)
    assert len(steps) == 3 and steps[0][0] == []
    for a, b, _ in steps:
        assert parses(a) and parses(b)
        assert apply_edits(a, edit_script(a, b)) == b
    assert steps[-1][1] == program_tokens(p)
    assert len(prefixes(p)) == 4


def test_grammatical_window_is_the_shortest_parseable_prefix():
    a = program_tokens("(move ul 0)")
    b = program_tokens("(move ul 0) (loop i 4 (move ul (/ ua 4)))")
    script = edit_script(a, b)
    w = grammatical_window(a, script)
    assert w is not None and parses(apply_edits(a, w))
    for k in range(1, len(w)):
        assert not parses(apply_edits(a, script[:k]))


def test_grammatical_steps_walk_valid_programs_to_b():
    a = program_tokens(PROGRAMS[2])
    b = program_tokens(PROGRAMS[4])
    walk = list(grammatical_steps(a, b))
    assert walk and walk[-1][1] == b
    assert all(parses(x) and parses(y) for x, y in walk)


def test_sampler_makes_far_and_prefix_pairs_with_their_own_held_out_split():
    from data.memory import MemorySource
    from model.edit.pairs import PairSampler
    from model.tokenizer import Tokenizer
    from data.generate import random_programs
    src = MemorySource(random_programs(300, seed=0, p_call=0), image_size=32)
    s = PairSampler(src, Tokenizer(), heldout=0.3, mutations_per_refresh=64, far_chains=64)
    while s.refresh() > 0:
        pass
    train, held = s.counts("train"), s.counts("heldout")
    assert train["far"] > 0 and train["prefix"] > 0 and held["far"] > 0
    b = s.batch(16, "train", kinds=["far"])
    a_toks = s.a_tokens(b)
    for a, script in zip(a_toks, s.target_scripts(b)):
        assert parses(apply_edits(a, script))     # one step back is a valid program


def test_train_evaluates_the_step_kinds_on_their_own(tmp_path):
    import json
    from model.train import main
    rc = main(["--random-programs", "60", "--out", str(tmp_path), "--preset", "tiny", "--d-model", "32",
               "--layers", "1", "--heads", "2", "--batch-size", "8", "--steps", "2", "--eval-every", "2",
               "--eval-pairs", "4", "--threads", "1", "--quiet", "--mutations", "32", "--far-chains", "16",
               "--warmup", "2", "--device", "cpu", "--ckpt-every", "100"])
    assert rc == 0
    evals = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()
             if json.loads(x).get("kind") == "eval"]
    assert evals
    for key in ("reproduces_far", "closer_far", "reproduces_prefix", "closer_prefix"):
        assert key in evals[-1] and 0.0 <= evals[-1][key] <= 1.0


@pytest.mark.parametrize("spec,msg", [("far=x", "bad weight"), ("nope=1", "unknown pair kind"),
                                      ("far=0,edit=0", "every kind weight 0")])
def test_pair_weights_flag_errors_name_the_problem(spec, msg):
    from model.train import parse_pair_weights
    with pytest.raises(SystemExit, match=msg):
        parse_pair_weights(spec)
    assert parse_pair_weights("far=0.5,edit=0.5") == {"far": 0.5, "edit": 0.5}


def test_mutations_inside_deep_loops_use_the_programs_own_variable_names():
    # canonical loop names run i, j, k, l; the generator's run i, j, k, m (a KeyError before the fix)
    p = "(loop i 2 (loop j 2 (loop k 2 (loop l 2 (move (* l eps_l) (* i eps_a))))))"
    rng = random.Random(0)
    made = 0
    for kind in ("insert", "replace_stmt", "replace_expr"):
        for _ in range(30):
            t = mutate(p, rng, kind=kind)
            if t is not None:
                made += 1
                assert parses(program_tokens(t))
    assert made > 20
