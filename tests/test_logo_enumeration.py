"""logo.enumeration: programs in decreasing probability, pruned by observational equivalence; fragments."""
import hashlib

import numpy as np
import pytest

import logo
from data import dreamcoder_tasks
from logo.ast import CONSTANTS
from logo.batch import run_compiled
from logo.effects import statement_effects
from logo.enumeration import Bounds, Budget, Enumerator, distinct_drawings, enumerate_programs
from logo.fragments import assemble, statement_frag
from logo.pcfg import Grammar, GrammarError

POLYGONS = ["(loop i 3 (move ul (/ ua 3)))", "(loop i 6 (move (* ul 2) (/ ua 6)))", "(move ul (/ ua 8))",
            "(loop i inf (move eps_l eps_a))", "(loop i 5 (embed (move ul 0)) (move 0 (/ ua 5)))"]
LIBRARY = logo.parse_library("(define (poly n l) (loop i n (move l (/ ua n))))")


@pytest.fixture(scope="module")
def grammar():
    return Grammar.fit(POLYGONS)


@pytest.fixture(scope="module")
def first(grammar):
    return list(enumerate_programs(grammar, 3000))


def test_order_uniqueness_and_consistency(grammar, first):
    assert len(first) == 3000
    logps = [lp for _, lp in first]
    assert all(a >= b - 1e-9 for a, b in zip(logps, logps[1:]))        # non-increasing probability
    texts = [logo.to_text(p) for p, _ in first]
    assert len(set(texts)) == len(texts)                               # no duplicates
    for (p, lp), text in zip(first[::7], texts[::7]):
        assert logo.parse(text) == p                                   # every program parses back
        assert abs(grammar.logp(p) - lp) < 1e-9                        # its log-probability is the grammar's
    images, verdicts = logo.render_checked(texts, 28)                   # and renders (never raises)
    assert (verdicts == logo.Verdict.OK).mean() > 0.6


def test_no_probable_drawing_is_missed():
    """Every task program within the bits enumerated draws like an enumerated program at most as long."""
    train = dreamcoder_tasks("train")
    g = Grammar.fit([t.program for t in train])
    cheap = [t for t in train if g.description_length(t.program) < 16.5]
    assert len(cheap) >= 5
    seen = {}
    for d in distinct_drawings(g, Budget(bits=16.5)):
        for img, lp in zip(d.images, d.logps):
            seen.setdefault(img.tobytes(), lp)
    for t in cheap:
        img = logo.render(t.program, 28)
        assert img.tobytes() in seen, logo.to_text(t.program)
        assert seen[img.tobytes()] >= g.logp(t.program) - 1e-9


def test_a_square_is_found_within_a_small_budget(grammar):
    square = logo.render("(loop i 4 (move ul (/ ua 4)))", 28).tobytes()
    n = 0
    for d in distinct_drawings(grammar, 20_000):
        n = d.enumerated
        if any(img.tobytes() == square for img in d.images):
            break
    else:
        pytest.fail("the square was not enumerated")
    assert n <= 20_000


def test_observationally_equivalent_programs_are_one(grammar):
    hashes = []
    total = 0
    for d in distinct_drawings(grammar, 5000):
        hashes += [hashlib.sha1(img.tobytes()).digest() for img in d.images]
        total = d.enumerated
    assert len(set(hashes)) == len(hashes) < total         # each drawing once; duplicates were dropped
    # expressions with equal values: one spelling survives, the likelier
    en = Enumerator(grammar)
    plus = -(grammar.expr_logp("length.top")["op:+"] + grammar.expr_logp("length.top", "+0", False)["const:ul"]
             + grammar.expr_logp("length.top", "+1", False)["const:ul"])
    listed = en.exprs("length.top", "", 0, 3, plus + 0.01).items
    values = [round(value(it[2]), 9) for it in listed]
    assert len(set(values)) == len(values) and 2.0 in values
    assert "(+ ul ul)" not in {logo.to_text(it[2]) for it in listed}
    # statements with the same effect inside a loop (a square traced 4, 8 or 20 (inf) times): one stays
    en = Enumerator(grammar)
    inner = {logo.to_text(it[2]) for it in en.stmts("loop", "loop", 1, 1, False, 12.0).items}
    squares = {f"(loop j {n} (move ul (/ ua 4)))" for n in ("4", "8", "inf")}
    assert len(squares & inner) == 1
    assert "(loop j 3 (move ul eps_a))" in inner and "(loop j 5 (move ul eps_a))" in inner
    assert not {"(loop j 3 (penup (move 0 0)))", "(loop j inf (embed (move ul 0)) (move 0 0))"} & inner


def value(e) -> float:
    if isinstance(e, logo.Num):
        return float(e.value)
    if isinstance(e, logo.Const):
        return CONSTANTS[e.name]
    a, b = value(e.left), value(e.right)
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else float("nan")}[e.op]


def test_statement_effects_identify_equal_drawings():
    s4, s8, s3 = (logo.parse(t).body[0] for t in ("(loop i 4 (move ul (/ ua 4)))", "(loop i 8 (move ul (/ ua 4)))",
                                                   "(loop i 3 (move ul (/ ua 3)))"))
    frags = [statement_frag(s, ()) for s in (s4, s8, s3)]
    status, hashes, spans = statement_effects(frags, pen_up=False)
    assert (status == 0).all() and hashes[0] == hashes[1] != hashes[2]
    assert np.allclose(spans[0], [1, 1])
    # with the pen up only where the turtle ends matters: a square and a triangle both come back
    _, up, _ = statement_effects(frags, pen_up=True)
    assert up[0] == up[2]


def test_fragments_draw_what_the_compiler_draws():
    lib = {d.name: d for d in LIBRARY}
    progs = [t.program for t in dreamcoder_tasks()] + [logo.parse(t) for t in (
        "(loop i 3 (poly (+ 3 i) (* ul i)) (move ul (/ ua 3)))", "(loop j 2 (embed (poly 5 (/ ul j))))")]
    batch, ok = assemble([[statement_frag(s, (), lib) for s in p.body] for p in progs])
    images, verdicts, _ = run_compiled(batch, 28)
    ref, ref_verdicts = logo.render_checked(progs, 28, library=LIBRARY)
    assert ok.all()
    assert np.array_equal(verdicts, ref_verdicts) and np.array_equal(images, ref)
    assert verdicts[-1] == logo.Verdict.ERROR                         # division by the index 0


def test_library_calls_are_enumerated():
    g = Grammar.fit(["(poly 5 ul)", "(poly 3 (* ul 2))"] * 3 + POLYGONS, LIBRARY)
    texts = [logo.to_text(p) for d in distinct_drawings(g, 2000, library=LIBRARY) for p in d.programs]
    assert any(t.startswith("(poly ") for t in texts)
    with pytest.raises(GrammarError, match="poly"):
        next(enumerate_programs(g, 10))                                  # its procedures must be given


def test_bounds_and_budgets(grammar):
    small = Bounds(max_depth=1, max_tokens=20)
    for p, _ in enumerate_programs(grammar, 2000, bounds=small):
        assert logo.n_tokens(logo.to_text(p)) <= 20
        assert not any(isinstance(s, logo.Loop) for top in p.body if isinstance(top, logo.Loop) for s in top.body)
    out = list(enumerate_programs(grammar, Budget(bits=12)))
    assert out and all(-lp / np.log(2) <= 12 + 1e-9 for _, lp in out)
    assert list(enumerate_programs(grammar, Budget(programs=0))) == []
    with pytest.raises(TypeError):
        list(enumerate_programs(grammar, 2.5))
    with pytest.raises(ValueError):
        Bounds(max_depth=-1)


def test_memory_is_bounded(grammar):
    """Enumeration stops (as at the end of its budget) when it would keep more derivations than allowed."""
    small = list(enumerate_programs(grammar, Budget(bits=40), bounds=Bounds(max_items=3000)))
    assert 0 < len(small) < 3000
