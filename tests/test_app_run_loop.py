"""The parts of `logo run`'s wake-and-sleep round, each on its own (fast): which arm a round searches with, which
model it trains, the round's grammar, and the dreams that grow the database."""
import numpy as np
import pytest

import logo
from app.grow_db import grow
from app.run import CONFIGS, fit_round_grammar, round_arm, trainable_model
from data.db import Database
from dream.search.topdown import dreamcoder_train_programs
from logo.pcfg import Grammar


def test_a_round_searches_with_the_best_arm_its_checkpoint_allows():
    assert round_arm(None) == "topdown"                  # no network: the enumerator under the grammar
    assert round_arm("edit") == "model" and round_arm("policy") == "policy"   # (refining enumerated starts)
    assert round_arm("recognition") == "recognition"     # the enumerator under the predicted grammar
    for kind in (None, "edit", "recognition"):           # MNIST digits: the execution-guided construct arm
        assert round_arm(kind, "mnist") == "construct"
        assert round_arm(kind, "tasks") == round_arm(kind)


def test_the_trained_model_is_one_this_builds_train_offers():
    assert trainable_model("edit") == "edit" and trainable_model("policy") == "policy"
    assert trainable_model("none") is None                       # a model-free loop on purpose
    assert trainable_model("no-such-network") is None            # a model kind train lacks: model-free, no error
    assert all(cfg.train_model == "recognition" for cfg in CONFIGS.values())


def test_every_configuration_evaluates_held_out_tasks_with_a_budget():
    for name, cfg in CONFIGS.items():
        assert 1 <= cfg.solve_tasks <= 80 and cfg.solve_mnist >= 1 and cfg.solve_budget > 0, name
        assert any("laps=" in a for a in cfg.dream_args), name      # the wake searches the LAPS tasks too


def _db_with_library(path, library_text=""):
    db = Database(path, image_size=32)
    db.insert_many(["(move ul 0)", "(move (* ul 2) (/ ua 4))"])
    if library_text:
        db.set_library(library_text)
    return db


def test_the_round_grammar_is_fitted_on_the_library_rewrites_with_the_library_as_productions(tmp_path):
    lib_text = "(define (sq x) (loop i 4 (move x (/ ua 4))))"
    _db_with_library(tmp_path / "db.sqlite", lib_text).close()
    lib_dir = tmp_path / "library"
    lib_dir.mkdir()
    (lib_dir / "rewritten.txt").write_text("(sq ul)\n(sq (* ul 2))\n(sq ul) (move ul 0)\n")
    fitted = fit_round_grammar(tmp_path / "db.sqlite", lib_dir, tmp_path / "grammar.json")
    assert fitted["source"] == "library-rewritten solutions" and fitted["programs"] == 3
    assert fitted["procedures"] == ["sq"]
    g = Grammar.load(tmp_path / "grammar.json")
    assert g.procedures == (("sq", 1),)
    # the procedure its solutions call is the likeliest first statement, far above the prior's share
    prior = Grammar.fit(dreamcoder_train_programs(), logo.parse_library(lib_text))
    assert g.logp(logo.parse("(sq ul)")) > prior.logp(logo.parse("(sq ul)")) + 2


def test_without_solutions_the_round_grammar_is_the_prior(tmp_path):
    _db_with_library(tmp_path / "db.sqlite").close()
    fitted = fit_round_grammar(tmp_path / "db.sqlite", tmp_path / "no-library-yet", tmp_path / "grammar.json")
    assert fitted["source"] == "DreamCoder train programs" and fitted["programs"] == len(dreamcoder_train_programs())
    assert Grammar.load(tmp_path / "grammar.json").procedures == ()


def test_dreams_grow_the_database_by_new_drawings_of_the_grammar(tmp_path):
    db = _db_with_library(tmp_path / "db.sqlite")
    try:
        before = len(db)
        got = grow(db, Grammar.fit(dreamcoder_train_programs()), (), count=30, seconds=20)
        assert got["new"] == 30 and len(db) == before + 30             # exactly the asked-for count of new entries
        sources = [e.source for e in db.entries()]
        assert sources.count("library") == 30
        images = [np.asarray(e.image) for e in db.entries()]
        assert len({im.tobytes() for im in images}) == len(images)     # one program per drawing
        again = grow(db, Grammar.fit(dreamcoder_train_programs()), (), count=5, seconds=20)
        assert again["new"] == 5 and len(db) == before + 35            # the same grammar again: only new drawings
        assert grow(db, Grammar.fit(dreamcoder_train_programs()), (), count=0, seconds=20)["new"] == 0
        assert len(db) == before + 35                                  # --db-growth 0: nothing
    finally:
        db.close()


def test_the_recognition_model_starts_afresh_each_round_the_others_resume(tmp_path):
    from app.run import round_checkpoints
    assert round_checkpoints(tmp_path, 1, "edit") == round_checkpoints(tmp_path, 2, "edit") == tmp_path
    assert round_checkpoints(tmp_path, 2, None) == tmp_path
    assert round_checkpoints(tmp_path, 1, "recognition") != round_checkpoints(tmp_path, 2, "recognition")
    assert round_checkpoints(tmp_path, 2, "recognition").parent == tmp_path


def test_the_held_out_line_names_both_systems(tmp_path):
    import json
    from app.run import heldout_line
    for system, solved, iou in (("full", 3, 0.75), ("baseline", 2, 0.5)):
        for kind in ("tasks", "mnist"):
            where = tmp_path / "heldout" / system / kind
            where.mkdir(parents=True)
            summary = {"proposer": "topdown", "solved": solved if kind == "tasks" else 0, "targets": 4,
                       "mean_iou": iou}
            (where / "results.json").write_text(json.dumps({"summary": summary, "results": []}))
    assert heldout_line(tmp_path) == ("held-out: DreamCoder test solved 3/4 (topdown) vs round 0 2/4; mean IoU 0.750 "
                                      "vs 0.500; MNIST mean IoU 0.750 vs 0.500")
    for system, read in (("full", 0.75), ("baseline", 0.25)):         # `logo solve` since issue 31: digits read
        path = tmp_path / "heldout" / system / "mnist" / "results.json"
        res = json.loads(path.read_text())
        res["summary"].update(classified_as_label=read, classifier_on_targets=1.0)
        path.write_text(json.dumps(res))
    assert heldout_line(tmp_path).endswith("; MNIST mean IoU 0.750 vs 0.500; MNIST read as digit 0.750 vs 0.250 "
                                           "(the classifier reads 1.000 of the digits)")
