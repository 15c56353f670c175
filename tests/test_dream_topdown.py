"""dream.search.topdown: enumeration scored against a target, the nearest programs, and the grammar's corpus."""
import numpy as np
import pytest

import logo
from data import dreamcoder_tasks
from data.db import Database
from dream.search.score import solved
from dream.search.topdown import enumerate_for_target, fit_grammar, grammar_corpus
from logo.pcfg import Grammar, GrammarError

POLYGONS = ["(loop i 3 (move ul (/ ua 3)))", "(loop i 6 (move (* ul 2) (/ ua 6)))", "(move ul (/ ua 8))",
            "(loop i inf (move eps_l eps_a))", "(loop i 5 (embed (move ul 0)) (move 0 (/ ua 5)))"]
SQUARE = "(loop i 4 (move ul (/ ua 4)))"


@pytest.fixture(scope="module")
def grammar():
    return Grammar.fit(POLYGONS)


def test_a_square_is_solved_by_its_shortest_program(grammar):
    target = logo.render(SQUARE, 28)
    r = enumerate_for_target(target, grammar, budget_s=60, max_programs=20_000, k=5)
    assert r.solved and r.time_to_solve is not None
    assert solved(logo.render(r.program, 28), target)
    assert r.best.tokens <= logo.n_tokens(SQUARE)
    assert r.best.bits <= grammar.description_length(SQUARE) + 1e-6     # nothing less probable came first
    dists = [f.distance for f in r.nearest]
    assert dists == sorted(dists) and dists[0] <= 1e-6 and len(r.nearest) == 5
    assert r.distinct <= r.enumerated


def test_an_unreachable_target_gives_the_nearest_drawings(grammar):
    target = logo.render("(loop i 7 (move (* ul i) (/ ua 7))) (move 0 eps_a) (loop i 3 (move ul eps_a))", 28)
    r = enumerate_for_target(target, grammar, budget_s=60, max_programs=3000, k=4)
    assert not r.solved and r.best is r.nearest[0] if r.nearest else False
    dists = [f.distance for f in r.nearest]
    assert len(r.nearest) == 4 and dists == sorted(dists) and all(logo.parse(f.program) for f in r.nearest)
    with pytest.raises(ValueError):
        enumerate_for_target(np.zeros((32, 32), np.uint8), grammar, 1.0)


def test_the_corpus_is_solutions_then_dreamcoder_train_then_heads(tmp_path):
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.insert("(loop i 5 (move ul (/ ua 5)))", source="random")
    db.insert("(move ul 0) (move 0 (/ ua 3)) (move ul 0)", source="random")
    programs, source = grammar_corpus(db, heads_first=True)
    assert source == "database heads" and len(programs) == 2
    programs, source = grammar_corpus(db)
    assert source == "DreamCoder train programs" and len(programs) == 80
    test_task = next(t for t in dreamcoder_tasks("test") if t.name.startswith("star"))
    db.insert(logo.to_text(test_task.program), source="task")          # evaluation data never enters
    db.insert("(loop i 7 (move ul (/ ua 7)))", source="task")
    programs, source = grammar_corpus(db)
    assert source == "solutions" and programs == ["(loop i 7 (move ul (/ ua 7)))"]
    db.close()
    programs, source = grammar_corpus(None)
    assert source == "DreamCoder train programs" and len(programs) == 80
    test_texts = {logo.to_text(t.program) for t in dreamcoder_tasks("test")}
    assert not test_texts & set(programs)
    g, lib = fit_grammar(tmp_path / "db.sqlite", out=tmp_path / "g.json")
    assert g.meta["source"] == "solutions" and Grammar.load(tmp_path / "g.json").meta["programs"] == 1
    with pytest.raises(GrammarError, match="does not exist"):
        fit_grammar(tmp_path / "missing.sqlite")
