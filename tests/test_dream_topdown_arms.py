"""The enumerator in the solver: the `topdown` arm, enumerated start programs for the edit arms, and the
frontier's length weight."""
from dataclasses import replace

import numpy as np
import pytest

import logo
from dream.search.baselines import NoneProposer
from dream.search.score import solved
from dream.search.frontier import Search
from dream.search.solver import SearchSettings, Solver, summarize
from dream.search.targets import Target
from logo.library import SOLVE_SIZE

SQUARE = "(loop i 4 (move ul (/ ua 4)))"


def _target(program: str, name: str = "t") -> Target:
    return Target(name, "json", logo.render(program, 32), logo.render(program, SOLVE_SIZE), known_program=program)


@pytest.fixture(scope="module")
def solver():
    # no database: the grammar is fitted on DreamCoder train; no enumerated starts unless a test asks
    s = Solver.open(["topdown", "none"], settings=SearchSettings(enumerated_starts=0))
    yield s
    s.close()


def _budget(solver: Solver, seconds: float, **settings) -> Solver:
    """`solver` with another budget (and settings)."""
    return replace(solver, settings=replace(solver.settings, budget_s=seconds, **settings))


def test_the_topdown_arm_solves_a_square_from_nothing(solver):
    assert solver.grammar().meta["source"] == "DreamCoder train programs"
    target = _target(SQUARE)
    row = _budget(solver, 30).solve_one("topdown", target)
    assert "error" not in row and row["solved"] and row["enumerated"], row
    assert solved(logo.render(row["program"], SOLVE_SIZE), target.image28)
    assert row["tokens"] <= logo.n_tokens(SQUARE) and row["iou"] == 1.0
    assert row["start_program"] == "" and row["candidates"] >= row["valid"] >= 1
    s = summarize([row])
    assert s["solved_by_enumeration"] == 1 and s["solved_by_start"] == 0 and s["solved_by_edits"] == 0
    none = _budget(solver, 1).solve_one("none", target)       # the start programs alone (the empty one) do not
    assert not none["solved"]


def test_enumerated_starts_join_the_start_programs(solver):
    target = _target(SQUARE)
    with_starts = _budget(solver, 40, enumerated_starts=3, enumerate_share=0.5)
    row = with_starts.solve_one("none", target)  # `none` cannot edit: a start program solves it
    assert row["solved"] and row["edit_steps"] == 0 and row["start_program"], row
    assert solved(logo.render(row["program"], SOLVE_SIZE), target.image28)

    odd = _target("(move ul 0) (move 0 (/ ua 7)) (move (* 3 eps_l) 0) (move 0 (/ ua 5)) (move ul 0)")
    starts, spent = _budget(with_starts, 2).enumerated_starts(odd)
    got = starts(None, odd.image, 8)
    assert got[0] == "" and len(got) == len(set(got)) and 0 < spent < 5   # the empty program, then enumerated:
    assert 3 <= len(got) - 1 <= 4 and all(logo.parse(t) for t in got[1:])  # the 3 nearest (and a solution)
    base, spent0 = _budget(solver, 2).enumerated_starts(odd)     # off (0): the solver's own source
    assert base is solver.starts and spent0 == 0


def test_the_count_budget_bounds_the_enumerator_and_the_search_by_what_they_did(solver):
    """`max_programs` / `max_rounds`: the same rows whatever the clock (bench/same_programs.py compares commits)."""
    odd = _target("(move ul 0) (move 0 (/ ua 7)) (move (* 3 eps_l) 0) (move 0 (/ ua 5)) (move ul 0)")
    counted = _budget(solver, 1e6, max_programs=2000, max_rounds=3, enumerated_starts=4, enumerate_share=0.5)
    top = counted.solve_one("topdown", odd)
    assert not top["solved"] and top["candidates"] == 2000          # every one of the 2000 programs enumerated
    rows = [counted.solve_one("enum", odd, 7) for _ in range(2)]
    assert rows[0]["program"] == rows[1]["program"] and rows[0]["candidates"] == rows[1]["candidates"]
    assert rows[0]["expanded"] <= 3 * counted.settings.batch        # three rounds of at most `batch` nodes


def test_the_length_weight_orders_the_frontier_by_distance_plus_tokens():
    target = "(loop i 4 (move (* 2 ul) (/ ua 4)))"
    short = "(move (* 2 ul) 0)"                                                   # one side: far, 5 tokens
    long = "(move (* 2 ul) (/ ua 4)) (move (* 2 ul) (/ ua 4)) (move (* 2 ul) 0)"  # three sides: near, longer
    image = logo.render(target, 32)

    def first(weight: float) -> str:
        s = Search(NoneProposer(), image, starts=[short, long], length_weight=weight)
        by_text = {n.text: n for n in s.nodes()}
        assert by_text[long].distance < by_text[short].distance and by_text[long].tokens > by_text[short].tokens
        return min(s.frontier)[2].text

    assert first(0.0) == long                          # distance alone: the longer, nearer program first
    assert first(0.05) == short                        # 0.05 per token outweighs the distance it covers
    with pytest.raises(ValueError):
        Search(NoneProposer(), image, length_weight=-1)


def test_the_search_settings_carry_the_new_knobs():
    s = SearchSettings(length_weight=0.004, enumerated_starts=5, enumerate_share=0.25)
    d = s.to_dict()
    assert d["length_weight"] == 0.004 and d["enumerated_starts"] == 5 and d["enumerate_share"] == 0.25
    assert np.isclose(SearchSettings().enumerate_share, 0.4)
    assert SearchSettings().enumerated_starts == 8             # on by default: it measured better (docs/results)


def test_the_topdown_arm_returns_a_row_when_its_budget_ends_before_any_program(solver):
    # a cold first run can spend the whole budget compiling: the row is the empty program's, not an error
    row = _budget(solver, 1e-9).solve_one("topdown", _target(SQUARE))
    assert "error" not in row, row.get("error")
    assert row["_image28"].shape == (SOLVE_SIZE, SOLVE_SIZE)
    if row["solved"]:                    # (a warm enumerator may finish its first band before it reads the clock)
        assert solved(logo.render(row["program"], SOLVE_SIZE), _target(SQUARE).image28)
