"""Token edit scripts and canonical tokens: round trips, minimality, well-formedness."""
import pytest
from hypothesis import given, settings, strategies as st

import data
import logo
from model.edit.edits import (DELETE, INSERT, SUBSTITUTE, Edit, EditError, apply_edits, check_script, distance,
                              edit_script)
from model.tokenizer import BASE_TOKENS, Tokenizer, canonical, program_tokens

alphabet = st.sampled_from(list("abcde") + ["(", ")"])
seqs = st.lists(alphabet, max_size=14)


@settings(max_examples=400, deadline=None)
@given(seqs, seqs)
def test_apply_edit_script_gives_b(a, b):
    s = edit_script(a, b)
    check_script(len(a), s)
    assert apply_edits(a, s) == b


@settings(max_examples=300, deadline=None)
@given(seqs, seqs)
def test_edit_script_is_minimal(a, b):
    assert len(edit_script(a, b)) == distance(a, b)


@settings(max_examples=200, deadline=None)
@given(seqs, st.data())
def test_small_random_edits_are_recovered_by_a_script_no_longer(a, d):
    b = list(a)
    for _ in range(d.draw(st.integers(1, 4))):
        op = d.draw(st.sampled_from(["ins", "del", "sub"]))
        if op == "ins" or not b:
            b.insert(d.draw(st.integers(0, len(b))), d.draw(alphabet))
        elif op == "del":
            del b[d.draw(st.integers(0, len(b) - 1))]
        else:
            b[d.draw(st.integers(0, len(b) - 1))] = d.draw(alphabet)
    s = edit_script(a, b)
    assert len(s) <= 4 and apply_edits(a, s) == b


def test_positions_refer_to_original_a():
    a = list("abcd")
    s = [Edit(INSERT, 0, "x"), Edit(SUBSTITUTE, 1, "y"), Edit(DELETE, 2), Edit(INSERT, 4, "z")]
    assert apply_edits(a, s) == list("xaydz")
    # inserts at one position come before the delete/substitute there, in order
    assert apply_edits(a, [Edit(INSERT, 1, "p"), Edit(INSERT, 1, "q"), Edit(DELETE, 1)]) == list("apqcd")


@pytest.mark.parametrize("bad", [
    [Edit(DELETE, 2), Edit(INSERT, 1, "x")],          # out of order
    [Edit(DELETE, 1), Edit(SUBSTITUTE, 1, "x")],      # two changes of one token
    [Edit(DELETE, 1), Edit(INSERT, 1, "x")],          # insert after the delete at the same position
    [Edit(DELETE, 4)],                                # past the last token
    [Edit(INSERT, 5, "x")],                           # past the end
    [Edit("swap", 0, "x")],
])
def test_malformed_scripts_are_rejected(bad):
    with pytest.raises(EditError):
        apply_edits(list("abcd"), bad)


def test_tie_break_is_deterministic():
    a, b = "( move 1 2 )".split(), "( move 1 1 2 )".split()
    assert edit_script(a, b) == edit_script(list(a), list(b)) == [Edit(INSERT, 3, "1")]


# ---- canonical tokens ---------------------------------------------------------------------------

def test_tokens_join_parses_back_to_the_canonical_program():
    tok = Tokenizer()
    for t in data.dreamcoder_tasks():
        toks = tok.tokens(t.program)
        assert logo.parse(" ".join(toks)) == canonical(t.program)
        assert tok.decode(tok.encode(toks)) == toks
        assert tok.unk_id not in tok.encode(toks)


def test_canonical_renames_loop_variables_by_depth_and_orders_commutative_operands():
    a = "(loop x 3 (loop y 2 (move (* y x) (+ ua 1))))"
    b = "(loop k 3 (loop z 2 (move (* k z) (+ 1 ua))))"
    assert program_tokens(a) == program_tokens(b)
    assert logo.to_text(canonical(a)) == "(loop i 3 (loop j 2 (move (* i j) (+ 1 ua))))"
    assert program_tokens("(move (- 1 ul) 0)") != program_tokens("(move (- ul 1) 0)")  # not commutative


def test_canonical_keeps_the_drawing():
    for t in data.dreamcoder_tasks()[::7]:
        assert (logo.render(canonical(t.program), 32) == logo.render(t.program, 32)).all()


def test_shadowed_loop_variables_and_define_params():
    p = "(define (poly n len) (loop a n (move len (/ ua n)))) (loop a 2 (loop a 3 (move a 0)))"
    c = canonical(p)
    assert logo.to_text(c) == ("(define (poly p0 p1) (loop i p0 (move p1 (/ ua p0)))) "
                               "(loop i 2 (loop j 3 (move j 0)))")


def test_tokenizer_grows_with_library_names_and_round_trips():
    tok = Tokenizer()
    n = len(tok)
    assert tok.add_library("(define (zigzag a) (move a 0)) (define (arc r) (move r 0))") == ["arc", "zigzag"]
    assert len(tok) == n + 2 and tok.add(["arc"]) == []
    toks = tok.tokens("(zigzag 3) (arc ul)")
    assert tok.unk_id not in tok.encode(toks)
    again = Tokenizer.from_dict(tok.to_dict())
    assert again.vocab == tok.vocab and again.encode(toks) == tok.encode(toks)
    assert Tokenizer().encode(toks).count(Tokenizer.unk_id) == 2
    assert tuple(Tokenizer().vocab) == BASE_TOKENS
