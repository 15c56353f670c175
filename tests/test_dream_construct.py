"""Execution-guided construction (`dream.search.construct`, the `construct` arm) and its digit judge."""
import math
from fractions import Fraction

import numpy as np

import logo
from dream.search.settings import SearchSettings
from dream.search import construct as C
from dream.search.score import iou
from dream.search.solver import solve
from dream.search.targets import Target


def _target(text: str, name: str = "figure", kind: str = "png", shift: tuple[int, int] = (0, 0)) -> Target:
    img28, img32 = logo.render(text, size=28), logo.render(text, size=32)
    if shift != (0, 0):                     # a figure that is not centred on the canvas (as MNIST digits are not)
        img28 = np.roll(img28, shift, axis=(0, 1))
        img32 = np.roll(img32, shift, axis=(0, 1))
    return Target(name, kind, img32, img28)


SEVEN = "(move 4 (* 5 (/ ua 8))) (move 5 0)"       # a bar, then a long stroke down and to the left


def test_construct_reconstructs_a_two_stroke_seven_better_than_none():
    target = _target(SEVEN, "seven")
    rows, summary = solve([target], proposer="construct", settings=SearchSettings(budget_s=1.0))
    base, _ = solve([target], proposer="none", settings=SearchSettings(budget_s=1.0))
    row = rows[0]
    assert row["arm"] == "construct" and "error" not in row
    assert row["iou"] >= 0.85 > base[0]["iou"]
    assert row["tokens"] <= 40                       # a few strokes, not unit steps
    assert round(float(iou(logo.render(row["program"]), target.image28)), 4) == row["iou"]   # its program draws it


def test_an_off_centre_target_is_drawn_where_it_is():
    """The renderer centres every drawing; construction builds in the target's frame and anchors the
    bounding box, so a figure two pixels off centre is still matched in place."""
    target = _target("(move 4 (/ ua 4)) (move 4 0)", "ell", shift=(2, -2))
    got = C.construct(target.image28, budget_s=1.0)
    assert got.iou >= 0.85
    assert iou(logo.render(got.program), target.image28) == got.iou


def test_number_expressions_have_the_values_they_stand_for():
    for v in C.stroke_lengths()[::7]:
        segs = logo.run(f"(move {C.number_expr(v)} 0)")
        assert math.isclose(segs[0, 2] - segs[0, 0], float(v), abs_tol=1e-9)
    for k in (1, 3, 10, 20, 39, 79):
        text = C.angle_expr(k)
        segs = logo.run(f"(move 0 {text}) (move 1 0)")
        heading = math.atan2(segs[-1, 3] - segs[-1, 1], segs[-1, 2] - segs[-1, 0])
        assert math.isclose(math.cos(heading), math.cos(2 * math.pi * k / C.TURN), abs_tol=1e-9)
        assert math.isclose(math.sin(heading), math.sin(2 * math.pi * k / C.TURN), abs_tol=1e-9)
    assert C.number_expr(Fraction(7, 2)) == "(/ 7 2)" and C.number_expr(3) == "3"


def test_emitted_statements_go_where_the_construction_says():
    """The text `emit` writes (turns folded into the previous move) draws exactly the construction's
    vertices: the scoring frame and the program agree."""
    prims = (C.Prim("stroke", 10, Fraction(3)), C.Prim("arc", 30, Fraction(1, 5), 20, 2),
             C.Prim("jump", 60, Fraction(2)), C.Prim("stroke", 0, Fraction(5, 2)))
    segs = logo.run(C.emit(prims), centered=False)           # the turtle starts at (4.5, 4.5)
    drawn = C.drawn_points(prims, (4.5, 4.5))
    ends = np.concatenate([segs[:, :2], segs[:, 2:]])
    gap = np.abs(ends[:, None, :] - drawn[None, :, :]).max(axis=2)
    assert gap.min(axis=1).max() < 1e-6 and gap.min(axis=0).max() < 1e-6


def test_auto_constructs_digits_and_leaves_line_figures_to_the_other_arms():
    from dream.search.arms import resolve_auto
    from dream.search.solver import Solver
    assert resolve_auto(None, "mnist") == "construct" and resolve_auto("policy", "mnist") == "construct"
    assert resolve_auto(None, "tasks") == "topdown" and resolve_auto("edit", "tasks") == "model"
    s = Solver.open(["auto"])
    try:
        assert s.resolve("auto", "mnist") == "construct" and s.resolve("auto", "tasks") == "topdown"
        assert s.resolve("topdown", "mnist") == "topdown"          # a named arm is itself
    finally:
        s.close()


def test_digit_classifier_trains_quickly_and_beats_chance():
    import torch
    from model.digit_classifier import accuracy, train, training_digits
    torch.set_num_threads(1)
    images, labels = training_digits(limit=450)
    train_idx = np.arange(len(images)) % 3 != 0
    net = train(images[train_idx], labels[train_idx], epochs=4)
    assert accuracy(images[~train_idx], labels[~train_idx], net) > 0.3     # chance is 0.1


def test_logo_solve_constructs_held_out_digits_by_default(tmp_path):
    import json
    from app.cli import main as logo_main
    code = logo_main(["solve", "--tasks", "mnist-heldout", "--limit", "1", "--budget", "0.5", "--workers", "1",
                      "--quiet", "--out", str(tmp_path / "out")])
    assert code == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["summary"]["proposer"] == "construct"
    assert res["results"][0]["arm"] == "construct" and res["results"][0]["iou"] > 0.3


def test_a_construction_stops_when_asked():
    """A cancelled web search ends its construction at once instead of spending the budget."""
    import time
    target = _target(SEVEN, "seven")
    C.banks()
    t = time.monotonic()
    got = C.construct(target.image28, budget_s=30.0, should_stop=lambda: time.monotonic() - t > 0.3)
    assert time.monotonic() - t < 5.0
    assert got.program == "" or got.iou > 0
