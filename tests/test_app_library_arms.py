"""`app.library_arms`: the library off and on are searched by `dream.search.solver.Solver` (one search, one row
format, one summary), from each arm's own start programs, and a shared model proposer is reset per target."""
import json

import logo
import pytest

from app import library_arms
from data.db import Database
from dream.search.solver import SearchSettings, Solver, SolveError
from dream.search.targets import Target

LIB = "(define (sq n) (loop i 4 (move n (/ ua 4))))"
CALL = "(sq ul)"
PLAIN = "(loop i 4 (move ul (/ ua 4)))"          # what CALL draws, without the procedure


def _db(path):
    db = Database(path, image_size=32)
    db.set_library(LIB)
    db.insert_many([PLAIN, CALL, "(move ul 0)"], source="random")
    db.close()
    return str(path)


def _target():
    lib = logo.parse_library(LIB)
    return Target("square", "tasks", logo.render(CALL, 32, library=lib), logo.render(CALL, 28, library=lib))


def test_the_arms_search_through_the_solver_from_their_own_starts(tmp_path, monkeypatch):
    solver = library_arms.open_solver(_db(tmp_path / "db.sqlite"), "none", settings=SearchSettings(budget_s=2.0))
    calls = []
    real = Solver.solve_one

    def spy(self, arm, target, index=0):
        calls.append((arm, None if self.library is None else [d.name for d in self.library],
                      self.starts(self.db, target.image, self.settings.k)))
        assert self.settings.budget_s == 2.0
        return real(self, arm, target, index)
    monkeypatch.setattr(Solver, "solve_one", spy)
    try:
        res = library_arms.compare({"set": [_target(), _target()]}, solver, "none")
    finally:
        solver.close()
    assert [(arm, lib) for arm, lib, _ in calls] == [("none", None), ("none", ["sq"])] * 2     # off, on, off, on
    off_starts, on_starts = calls[0][2], calls[1][2]
    assert off_starts[0] == on_starts[0] == ""
    assert not any("sq" in s for s in off_starts) and PLAIN in off_starts
    assert CALL in on_starts
    r = res["set"]
    off, on = r["rows"]["off"][0], r["rows"]["on"][0]
    assert off["start_program"] == off["program"] == PLAIN and not off["calls_library"]   # Solver rows
    assert on["start_program"] == on["program"] == CALL and on["calls_library"]
    assert on["edit_steps"] == off["edit_steps"] == 0 and on["candidates"] == 0
    # the summary is dream.search.solver.summarize's, with the library arms' figures
    assert r["on"]["solved"] == r["off"]["solved"] == 2
    assert r["on"]["calls_library"] == 2 and r["off"]["calls_library"] == 0
    assert r["on"]["mean_tokens_solved"] < r["off"]["mean_tokens_solved"]
    assert r["on"]["solved_by_start"] == 2
    json.dumps(r)


def test_a_model_is_reset_for_every_arm_and_target_and_need_not_know_the_new_names(tmp_path, monkeypatch):
    """`logo run` compares right after the library grew: the checkpoint does not know `sq` yet."""
    import model.edit.generate as generate
    from model import checkpoint
    from model.edit.net import EditModel, preset
    from model.tokenizer import Tokenizer
    tok = Tokenizer()
    config = preset("tiny", image_size=32, max_tokens=48, max_edits=24, d_model=32, n_heads=2, img_layers=1,
                    prog_layers=1, dec_layers=1, ffn_mult=2)
    ckpt = str(tmp_path / "ckpt")
    checkpoint.save(ckpt, EditModel(config, len(tok)), tok, step=0)
    db = _db(tmp_path / "db.sqlite")
    with pytest.raises(SolveError, match="does not know the library procedure"):
        Solver.open(["model"], ckpt=ckpt, db=db)
    beamed, real = [], generate.beam_propose

    def counting(model, tokenizer, images_a, images_b, programs_a, beam, **kw):
        beamed.append(list(programs_a))
        return real(model, tokenizer, images_a, images_b, programs_a, beam, **kw)
    monkeypatch.setattr(generate, "beam_propose", counting)
    target = Target("line", "tasks", logo.render("(move (* 3 ul) 0)", 32), logo.render("(move (* 3 ul) 0)", 28))
    # the database's start programs alone (no enumerated start that could solve it before the model runs)
    solver = library_arms.open_solver(db, "model", ckpt, settings=SearchSettings(enumerated_starts=0, budget_s=3.0))
    try:
        res = library_arms.compare({"set": [target]}, solver, "model")
    finally:
        solver.close()
    assert all("error" not in row for rows in res["set"]["rows"].values() for row in rows)
    # the empty program starts both arms: each arm's search beams it (no memo carried over from the other)
    assert sum("" in programs for programs in beamed) >= 2
