"""The one batch path (`logo.render_checked`): verdicts, images, and the batch compiler's code."""
import numpy as np
import pytest

import logo
from logo import Verdict
from logo.bytecode import compile_batch, compile_program
from data.generate import random_programs


def test_verdicts_match_their_meanings_and_rejected_images_are_blank():
    texts = ["(loop i 4 (move ul (/ ua 4)))", "(move 0 0)", "(move 9 0) (move 1 0)", "(foo 3)",
             "(loop i 9 (loop j 9 (loop k 9 (loop m 9 (move eps_l 0)))))", "(penup (move ul 0))",
             "(move ul", "(loop i (* inf 3) (move eps_l eps_a))"]
    images, verdicts = logo.render_checked(texts, size=28)
    assert images.shape == (8, 28, 28) and images.dtype == np.uint8
    assert verdicts.tolist() == [Verdict.OK, Verdict.EMPTY, Verdict.OFF_CANVAS, Verdict.ERROR, Verdict.ERROR,
                                 Verdict.EMPTY, Verdict.ERROR, Verdict.OK]
    assert np.array_equal(images[0], logo.render(texts[0]))
    assert not images[1:7].any()
    _, capped = logo.render_checked(texts[-1:], max_segments=40)
    assert capped.tolist() == [Verdict.TOO_BIG]


def test_texts_and_asts_give_the_same_result_and_library_is_used():
    lib = logo.parse("(define (sq n) (loop i 4 (move n (/ ua 4))))").defs
    texts = ["(sq 1)", "(sq 2) (move ul 0)", "(sq)"]
    a = logo.render_checked(texts, size=32, library=lib)
    b = logo.render_checked([logo.parse(t) for t in texts], size=32, library=lib)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[1].tolist() == [Verdict.OK, Verdict.OK, Verdict.ERROR]
    assert logo.render_checked([], size=16)[0].shape == (0, 16, 16)


def test_render_batch_is_render_checked_with_drawn_off_canvas_images():
    texts = ["(move 9 0) (move 1 0)", "(move 0 0)", "(move ul 0)", "(move (/ ul 0) 0)"]
    images, ok = logo.render_batch(texts, errors="blank")
    assert ok.tolist() == [True, True, True, False]
    assert np.array_equal(images[0], logo.render(texts[0])) and images[0].any()


def test_batch_compiler_emits_exactly_the_single_program_code():
    lib = logo.parse("(define (poly n len) (loop i n (move len (/ ua n)))) (define (gap d) (penup (move d 0)))").defs
    progs = random_programs(800, seed=11, max_depth=3, max_statements=6, max_tokens=200)
    progs += random_programs(300, seed=12, library=lib, p_call=0.5)
    progs += [logo.parse(t) for t in ["(embed)", "", "(loop i 3 (loop j 2 (move (* i j) (/ ua 4))) "
                                      "(embed (move 1 0)) (penup (move 1 1)))", "(move i 0)",
                                      "(define (f) (move 1 0)) (f) (poly 3 ul)"]]
    batch = compile_batch(progs, lib)
    assert len(batch) == len(progs)
    for k, p in enumerate(progs):
        try:
            code = compile_program(p, lib)
        except logo.LogoError as e:
            assert type(batch.errors[k]) is type(e)
            assert batch.ops[batch.op_start[k]:batch.op_start[k + 1]].tolist() == [[0, 0, 0]]
            continue
        assert batch.errors[k] is None
        assert np.array_equal(batch.ops[batch.op_start[k]:batch.op_start[k + 1]], code.ops)
        assert np.array_equal(batch.consts[batch.const_start[k]:batch.const_start[k + 1]], code.consts)
        assert batch.n_slots[k] == code.n_slots
    assert isinstance(batch.errors[-2], logo.UnboundNameError)


def test_render_checked_never_raises_on_bad_text():
    images, verdicts = logo.render_checked(["(((", "(move " + "1" * 5000 + " 0)", "(move 1 0) (define (f) (f)) (f)", ""], size=8)
    assert verdicts.tolist() == [Verdict.ERROR] * 3 + [Verdict.EMPTY]
    with pytest.raises(TypeError):
        logo.render_checked([3])


def test_several_sizes_from_one_run_are_each_sizes_own_drawing():
    texts = ["(loop i 4 (move ul (/ ua 4)))", "(move 0 0)", "(move 9 0) (move 1 0)", "(foo 3)", "(move ul"]
    programs = texts + random_programs(200, seed=4)
    for draw_off_canvas in (False, True):
        (a32, a28), verdicts, reached = logo.render_checked_sizes(programs, (32, 28), draw_off_canvas=draw_off_canvas)
        b32, v32 = logo.render_checked(programs, 32, draw_off_canvas=draw_off_canvas)
        b28, _ = logo.render_checked(programs, 28, draw_off_canvas=draw_off_canvas)
        assert np.array_equal(a32, b32) and np.array_equal(a28, b28) and np.array_equal(verdicts, v32)
        # without a box, every drawing is drawn at both sizes (an empty one too); the failures at neither
        assert reached[verdicts == Verdict.OK].all() and not reached[verdicts == Verdict.ERROR].any()
        assert reached[verdicts == Verdict.OFF_CANVAS].all() == draw_off_canvas
    with pytest.raises(ValueError, match="reach"):
        logo.render_checked_sizes(texts, (32, 28), reach=(1.0, 2.0))


def test_a_reach_box_skips_only_drawings_whose_ink_cannot_pass_it():
    from logo.raster import CANVAS
    programs = random_programs(300, seed=5)
    (full32, full28), verdicts, _ = logo.render_checked_sizes(programs, (32, 28), draw_off_canvas=True)
    for box in [(3.0, 6.0, 3.0, 6.0), (4.4, 4.6, 1.0, 8.0), (0.5, 8.5, 0.5, 8.5)]:
        (a32, a28), v, reached = logo.render_checked_sizes(programs, (32, 28), draw_off_canvas=True, reach=box)
        assert np.array_equal(a32, full32) and np.array_equal(v, verdicts)       # the first size is never skipped
        assert np.array_equal(a28[reached], full28[reached]) and not a28[~reached].any()
        px = CANVAS / 28
        for k in np.flatnonzero(~reached & (verdicts != Verdict.ERROR)):
            # the real drawing leaves blank every pixel wholly beyond the box on some side
            ys, xs = np.nonzero(full28[k])
            if not len(xs):
                continue
            assert ((xs.min() + 1) * px > box[0] or xs.max() * px < box[1]
                    or CANVAS - ys.max() * px > box[2] or CANVAS - (ys.min() + 1) * px < box[3]), k
        assert reached.sum() > 0 and (~reached & (verdicts == Verdict.OK)).sum() > 0
