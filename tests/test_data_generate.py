"""The random program generator and the batch filter (empty / off canvas / error / too big)."""
import numpy as np

import logo
from logo.ast import Call, Embed, Loop, PenUp, Var, walk
from data.generate import (EMPTY, ERROR, OFF_CANVAS, OK, TOO_BIG, Constraints, n_tokens, random_programs,
                           run_batch)


def _texts(progs):
    return [logo.to_text(p) for p in progs]


def test_reproducible_and_round_trips():
    a = random_programs(200, seed=7)
    assert _texts(a) == _texts(random_programs(200, seed=7))
    assert _texts(a) != _texts(random_programs(200, seed=8))
    for p in a:
        assert logo.parse(logo.to_text(p)) == p


def test_dreamcoder_like_constructs_appear():
    progs = random_programs(1000, seed=0)
    nodes = [n for p in progs for n in walk(p)]
    kinds = {type(n).__name__ for n in nodes}
    assert {"Loop", "Embed", "PenUp", "Move", "BinOp", "Var"} <= kinds
    texts = _texts(progs)
    assert any("(move eps_l eps_a)" in t for t in texts)                  # arcs / circles
    assert any("(/ ua" in t for t in texts)                               # polygon turns
    # the loop index appears in lengths/angles
    uses_index = sum(any(isinstance(n, Var) for n in walk(lp)) for p in progs for lp in walk(p)
                     if isinstance(lp, Loop))
    assert uses_index > 20


def test_constraints_are_honoured():
    progs = random_programs(300, seed=1, max_tokens=20, loops=False, penup=False, embed=True, max_depth=1)
    assert all(n_tokens(t) <= 20 for t in _texts(progs))
    nodes = [n for p in progs for n in walk(p)]
    assert not any(isinstance(n, (Loop, PenUp)) for n in nodes)
    assert any(isinstance(n, Embed) for n in nodes)
    flat = random_programs(200, seed=1, max_depth=0)
    assert not any(isinstance(n, (Loop, PenUp, Embed)) for p in flat for n in walk(p))
    assert all(len(p.body) <= 4 for p in flat)
    try:
        Constraints.make(bogus=1)
    except TypeError as e:
        assert "bogus" in str(e)
    else:
        raise AssertionError("unknown constraint accepted")


def test_library_calls_are_generated_and_run():
    lib = logo.parse("(define (poly n len) (loop i n (move len (/ ua n)))) (define (gap d) (penup (move d 0)))").defs
    progs = random_programs(300, seed=2, library=lib, p_call=0.5)
    calls = [n for p in progs for n in walk(p) if isinstance(n, Call)]
    assert len(calls) > 50 and {c.name for c in calls} == {"poly", "gap"}
    assert all(len(c.args) == (2 if c.name == "poly" else 1) for c in calls)
    _, verdict = run_batch(progs, 32, library=lib)
    assert (verdict == OK).mean() > 0.3
    assert not any(isinstance(n, Call) for p in random_programs(100, seed=2) for n in walk(p))


def test_run_batch_verdicts_and_images():
    progs = [logo.parse(t) for t in ["(loop i 4 (move ul (/ ua 4)))", "(move 0 0)", "(move 9 0) (move 1 0)",
                                     "(foo 3)", "(loop i 9 (loop j 9 (loop k 9 (loop m 9 (move eps_l 0)))))",
                                     "(loop i (* inf 3) (move eps_l eps_a))", "(penup (move ul 0))"]]
    images, verdict = run_batch(progs, 32, max_segments=40)
    assert verdict.tolist() == [OK, EMPTY, OFF_CANVAS, ERROR, ERROR, TOO_BIG, EMPTY]
    assert np.array_equal(images[0], logo.render(progs[0], size=32))
    assert not images[1:].any()


def test_most_random_programs_are_drawable():
    progs = random_programs(2000, seed=5)
    images, verdict = run_batch(progs, 32)
    assert (verdict == OK).mean() > 0.75
    ok = np.flatnonzero(verdict == OK)
    ref = logo.render_batch([progs[i] for i in ok[:50]], size=32)
    assert np.array_equal(images[ok[:50]], ref)
