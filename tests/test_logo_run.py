"""Turtle semantics (DreamCoder's), procedures, and the execution limits."""
import math

import numpy as np
import pytest

import logo
from logo.reference import run_reference


def test_square_segments_are_centred_and_counter_clockwise():
    segs = logo.run("(loop i 4 (move ul (/ ua 4)))")
    # starts heading +x, turns left: (0,0)->(1,0)->(1,1)->(0,1)->(0,0), centred on (4.5, 4.5)
    expected = np.array([[4, 4, 5, 4], [5, 4, 5, 5], [5, 5, 4, 5], [4, 5, 4, 4]], float)
    np.testing.assert_allclose(segs, expected, atol=1e-9)


def test_loop_index_counts_from_zero_and_turn_comes_after_step():
    segs = logo.run("(loop i 3 (move (* ul i) (/ ua 4)))", centered=False)
    lengths = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])
    np.testing.assert_allclose(lengths, [0, 1, 2], atol=1e-12)
    # the first non-zero step goes up (+y) because the quarter turn came after the zero-length step
    np.testing.assert_allclose(segs[1], [4.5, 4.5, 4.5, 5.5], atol=1e-12)


def test_embed_restores_state_and_penup_draws_nothing():
    segs = logo.run("(embed (move ul (/ ua 4)) (move ul 0)) (penup (move ul 0)) (move ul 0)", centered=False)
    np.testing.assert_allclose(segs, [[4.5, 4.5, 5.5, 4.5], [5.5, 4.5, 5.5, 5.5], [5.5, 4.5, 6.5, 4.5]],
                               atol=1e-12)


def test_zero_length_pen_down_move_counts_for_centring_but_draws_nothing():
    a = logo.run("(move ul 0) (penup (move ul 0)) (move 0 0)")
    assert a.shape == (2, 4)
    assert a[:, [0, 2]].min() + a[:, [0, 2]].max() == pytest.approx(9.0)
    assert logo.render("(move 0 0)").max() == 0


def test_procedures_with_parameters_and_scoping():
    text = "(define (poly n len) (loop i n (move len (/ ua n)))) (poly 4 ul) (poly 3 (* ul 2))"
    p = logo.parse(text)
    inlined = "(loop i 4 (move ul (/ ua 4))) (loop i 3 (move (* ul 2) (/ ua 3)))"
    np.testing.assert_allclose(logo.run(p), logo.run(inlined))
    lib = p.defs
    np.testing.assert_allclose(logo.run("(poly 5 ul)", library=lib), logo.run("(loop i 5 (move ul (/ ua 5)))"))
    with pytest.raises(logo.UnboundNameError, match="variable 'i'"):
        logo.run("(define (f) (move i 0)) (loop i 3 (f))")  # procedures do not see the caller's loops
    with pytest.raises(logo.UnboundNameError, match="procedure 'g'"):
        logo.run("(g 1)")
    with pytest.raises(logo.ArityError):
        logo.run("(poly 1)", library=lib)
    with pytest.raises(logo.CallDepthError):
        logo.run("(define (f) (f)) (f)")


@pytest.mark.parametrize("text, error", [
    ("(loop i 9 (loop j 9 (loop k 9 (loop l 9 (move 0 0)))))", logo.LimitError),
    ("(loop i (* 9 (* 9 (* 9 9))) (move ul 0))", logo.LoopLimitError),
    ("(loop i 9 (loop j 9 (loop k 9 (loop l 9 (move ul 0)))))", logo.SegmentLimitError),
    ("(move (/ ul 0) 0)", logo.NumericRangeError),
    ("(move (* (* (* 9 9) (* 9 9)) (* (* 9 9) (* 9 9))) 0)", logo.NumericRangeError),
    ("(move i 0)", logo.UnboundNameError),
])
def test_limits_raise_logo_errors(text, error):
    with pytest.raises(error):
        logo.run(text)


def test_exponential_inlining_is_refused():
    defs = "(define (f0) (move ul 0))" + "".join(f"(define (f{k}) (f{k-1}) (f{k-1}))" for k in range(1, 16))
    with pytest.raises(logo.ProgramSizeError):
        logo.run(defs + "(f15)")


def test_step_limit_stops_long_loops():
    with pytest.raises(logo.StepLimitError):
        logo.run("(loop i (* 9 99) (loop j (* 9 99) (penup (move 0 0))))".replace("99", "(* 9 9)"))


def test_negative_and_fractional_counts():
    assert logo.run("(loop i (- 0 3) (move ul 0))").shape == (0, 4)
    assert logo.run("(loop i (/ 7 2) (move ul 0))").shape == (3, 4)


def test_vm_matches_reference_interpreter_on_all_tasks():
    from data import dreamcoder_tasks
    for t in dreamcoder_tasks():
        np.testing.assert_allclose(logo.run(t.program), run_reference(t.program), atol=1e-9, err_msg=t.name)


def test_star_angles():
    # (-a (/a 1a 2) (/a (/a 1a 2) 5)) = 0.4 turn: a 5-pointed star closes after 5 strokes
    segs = logo.run("(loop i 5 (move ul (- (/ ua 2) (/ (/ ua 2) 5))))")
    np.testing.assert_allclose(segs[0, :2], segs[-1, 2:], atol=1e-9)
    assert math.isclose(np.hypot(*(segs[1, 2:] - segs[1, :2])), 1.0)
