"""The surface syntax: parse/print round trips, error messages, DreamCoder reader."""
import pytest
from hypothesis import given, settings, strategies as st

import logo
from logo.ast import CONSTANTS, BinOp, Call, Const, Define, Embed, Loop, Move, Num, PenUp, Program, Var
from logo.errors import ProgramSizeError
from logo.syntax import parse, to_text

names = st.sampled_from(["i", "j", "k", "n", "x", "side", "a_1"])
exprs = st.recursive(
    st.one_of(st.integers(0, 9).map(Num), st.sampled_from(sorted(CONSTANTS)).map(Const), names.map(Var)),
    lambda inner: st.builds(BinOp, st.sampled_from(["+", "-", "*", "/"]), inner, inner),
    max_leaves=6)
stmts = st.recursive(
    st.builds(Move, exprs, exprs) | st.builds(Call, st.sampled_from(["poly", "arc"]), st.lists(exprs, max_size=3).map(tuple)),
    lambda inner: st.one_of(
        st.builds(Loop, names, exprs, st.lists(inner, max_size=3).map(tuple)),
        st.builds(Embed, st.lists(inner, max_size=3).map(tuple)),
        st.builds(PenUp, st.lists(inner, max_size=3).map(tuple))),
    max_leaves=8)
defines = st.builds(Define, st.sampled_from(["poly", "arc"]), st.lists(names, max_size=3, unique=True).map(tuple),
                    st.lists(stmts, max_size=3).map(tuple))
programs = st.builds(Program, st.lists(defines, max_size=2).map(tuple), st.lists(stmts, max_size=4).map(tuple))


@settings(max_examples=300, deadline=None)
@given(programs)
def test_print_then_parse_is_identity(p):
    assert logo.parse(logo.to_text(p)) == p


def test_canonical_text_of_a_square():
    p = logo.parse("""
        ; a square, spread over lines
        (loop i 4
           (move ul (/ ua 4)))""")
    assert p == Program((), (Loop("i", Num(4), (Move(Const("ul"), BinOp("/", Const("ua"), Num(4))),)),))
    assert logo.to_text(p) == "(loop i 4 (move ul (/ ua 4)))"


@pytest.mark.parametrize("text, line, column, fragment", [
    ("(move ul", None, None, "end of input"),
    ("(loop i 4\n  (move ul (/ ua 4))\n  (move ul ua ua))", 3, 15, "expected"),
    ("(move ul (% ua 4))", 1, 11, "unexpected character"),
    ("(move 12 ua)", 1, 7, "out of range"),
    ("(loop move 3)", 1, 7, "keyword"),
])
def test_parse_errors_name_line_column_and_expectation(text, line, column, fragment):
    with pytest.raises(logo.LogoSyntaxError) as err:
        logo.parse(text)
    assert fragment in str(err.value)
    if line is not None:
        assert (err.value.line, err.value.column) == (line, column)
        assert f"line {line}, column {column}" in str(err.value)


def test_keywords_cannot_be_names():
    with pytest.raises(logo.LogoSyntaxError, match="keyword"):
        logo.parse("(loop ul 3 (move ul ua))")


def test_pathological_text_is_refused_quickly():
    with pytest.raises(logo.ProgramSizeError):
        logo.parse("(" * 100_000)
    with pytest.raises(logo.ProgramSizeError):
        logo.parse("(move ul ua) " * 100_000)
    with pytest.raises(TypeError):
        logo.parse(b"(move ul ua)")


def test_dreamcoder_reader_maps_every_construct():
    p = logo.from_dreamcoder("((move 0d (/a 1a 8)) (for i 3 (embed (p (move (*l 1l i) (-a epsilonAngle 0a))))))")
    assert logo.to_text(p) == "(move 0 (/ ua 8)) (loop i 3 (embed (penup (move (* ul i) (- eps_a 0)))))"
    # a lone command is one command, not a block
    assert logo.from_dreamcoder("(move 1d 0a)").body == (Move(Const("ul"), Num(0)),)
    with pytest.raises(logo.LogoSyntaxError, match="unknown atom"):
        logo.from_dreamcoder("((move 1d zz))")
    with pytest.raises(logo.LogoSyntaxError, match="unbalanced"):
        logo.from_dreamcoder("((move 1d 0a)")


def test_all_dreamcoder_tasks_read_and_round_trip():
    from data import dreamcoder_tasks
    tasks = dreamcoder_tasks()
    assert len(tasks) == 160
    assert sum(t.split == "train" for t in tasks) == 80
    for t in tasks:
        assert logo.parse(logo.to_text(t.program)) == t.program
        assert t.image.shape == (28, 28) and t.image.dtype.name == "uint8"
        assert t.image.max() > 0, t.name


@settings(max_examples=300, deadline=None)
@given(programs, st.data())
def test_fast_parser_agrees_with_lark_on_programs_and_their_mutations(p, data):
    from logo.syntax import _fast_parse, parse_with_lark
    text = logo.to_text(p)
    assert _fast_parse(text) == parse_with_lark(text) == p
    # mutate the token sequence: the fast path must accept exactly what lark accepts, with equal results
    toks = text.replace("(", " ( ").replace(")", " ) ").split()
    i = data.draw(st.integers(0, max(0, len(toks) - 1)))
    op = data.draw(st.sampled_from(["delete", "insert", "replace"]))
    tok = data.draw(st.sampled_from(["(", ")", "move", "loop", "embed", "define", "i", "ul", "3", "12", "+", "poly"]))
    if op == "delete" and toks:
        del toks[i]
    elif op == "insert":
        toks.insert(i, tok)
    elif toks:
        toks[i] = tok
    mutated = " ".join(toks)
    try:
        expected = parse_with_lark(mutated)
    except logo.LogoError:
        expected = None
    fast = _fast_parse(mutated)
    assert fast is None or fast == expected


def test_count_tokens_counts_the_text_without_printing_it():
    import random as _random
    from data.generate import random_programs
    from logo.canonical import canonical
    from logo.mutate import RandomContent, Sites
    from logo.syntax import MAX_NESTING, count_tokens
    from logo.tokens import n_tokens
    programs = random_programs(300, seed=7) + [parse("(define (f a b) (move a b)) (f 1 (+ 2 ul))"),
                                               parse("(embed (penup (move 1 0)) (loop i 2 (f i)))")]
    rng = _random.Random(0)
    content = RandomContent(rng)
    programs += [q for p in programs[:100] for q in (Sites.of(p).mutate(rng, content=content) for _ in range(4))
                 if q is not None]
    for p in programs:
        assert count_tokens(p) == n_tokens(to_text(p)) == count_tokens(canonical(p))
    assert count_tokens(parse("(move ul 0)").body[0]) == 5 and count_tokens(parse("(move (+ 1 2) 0)").body[0].length) == 5
    deep = "1"
    for _ in range(MAX_NESTING - 1):
        deep = f"(+ 1 {deep})"
    ok = parse(f"(move {deep} 0)")                             # parentheses nest exactly MAX_NESTING deep
    assert count_tokens(ok) == n_tokens(to_text(ok))
    too_deep = Program((), (Move(BinOp("+", Num(1), ok.body[0].length), Num(0)),))
    with pytest.raises(ProgramSizeError):
        parse(to_text(too_deep))
    with pytest.raises(ProgramSizeError):
        count_tokens(too_deep)                                # what parse refuses, the count refuses


def test_canonical_keeps_a_canonical_tree_and_is_the_same_as_reprinting():
    from data.generate import random_programs
    from logo.canonical import canonical
    for p in random_programs(200, seed=8) + [parse("(loop x 3 (loop y 2 (move (+ y x) (* 2 ul))))")]:
        c = canonical(p)
        assert canonical(c) is c                              # nothing rebuilt when nothing changes
        assert to_text(c) == to_text(canonical(to_text(p))) and canonical(parse(to_text(c))) == c
    assert to_text(canonical("(loop x 3 (loop y 2 (move (+ y x) (* 2 ul))))")) == \
        "(loop i 3 (loop j 2 (move (+ i j) (* 2 ul))))"
