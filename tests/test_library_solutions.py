"""Library learning from solutions: evaluation data never enters the corpus, rewritten solutions draw
exactly their targets, procedures carry their uses, unused ones retire."""
import json

import numpy as np

import logo
from data import dreamcoder_tasks
from data.db import Database
from library import load_library
from library.corpus import (Solution, database_solutions, dream_log_solutions, solution_corpus,
                            solve_result_solutions)
from library.solutions import learn_from_solutions
from library.uses import call_saving, procedure_uses, retire

SQUARES = [f"(loop i 4 (move (* ul {k}) (/ ua 4)))" for k in range(1, 4)]   # (sides 4 and 5 draw test tasks)


def _train_and_test():
    return dreamcoder_tasks("train"), dreamcoder_tasks("test")


def test_test_split_tasks_and_heldout_digits_never_enter_the_corpus():
    train, test = _train_and_test()
    sols = [Solution(t.name, logo.to_text(t.program), "dream", kind="tasks", split="train") for t in train[:10]]
    # the same test tasks arriving every way a solution can arrive
    sols += [Solution(t.name, logo.to_text(t.program), "solve", kind="tasks") for t in test[:4]]
    sols += [Solution(f"dc:{test[4].name}", logo.to_text(test[4].program), "db")]
    sols += [Solution(test[5].name, logo.to_text(test[5].program), "solve", kind="tasks", split="test")]
    # a test task's drawing under another name (e.g. a database entry) is caught by its image
    sols += [Solution("db-77", logo.to_text(test[6].program), "db", kind="db")]
    sols += [Solution(f"mnist-heldout-{i}", "(move ul 0)", "solve", solved=False, distance=0.1, kind="mnist")
             for i in range(3)]
    sols += [Solution("digit-7", "(move ul (/ ua 4))", "solve", solved=True, kind="mnist", split="heldout")]
    sols += [Solution("mnist-train-5", "(move (* ul 2) 0)", "dream", solved=False, distance=0.2, kind="mnist")]
    programs, tasks, kept, excluded = solution_corpus(sols)
    test_names = {t.name for t in test}
    test_images = np.stack([t.image for t in test])
    assert not test_names & set(tasks)
    assert not any("heldout" in t or t == "digit-7" for t in tasks)
    for p in programs:                                  # no kept program draws a test task
        img = logo.render(p, size=28).astype(int)
        assert (np.abs(test_images.astype(int) - img).reshape(len(test), -1).max(axis=1) > 40).all()
    assert "db-77" in {s.target for s in excluded}
    assert "mnist-train-5" in tasks                     # training digits do enter (close enough)
    assert len(programs) == len(set(tasks)) >= 9


def test_one_program_per_target_the_shortest_solution():
    sols = [Solution("t", "(move ul 0) (move ul 0)", "dream", kind="tasks"),
            Solution("t", "(move (* ul 2) 0)", "dream", kind="tasks"),
            Solution("t", "(move ul 0)", "dream", solved=False, distance=0.4, kind="tasks")]
    programs, tasks, _, _ = solution_corpus(sols, check_images=False)
    assert tasks == ["t"] and programs == ["(move (* ul 2) 0)"]


def test_solutions_are_read_from_the_dream_log_solve_results_and_the_database(tmp_path):
    log = tmp_path / "found.jsonl"
    rows = [{"event": "start"},
            {"event": "target", "target": "a", "kind": "tasks", "solved": True, "program": SQUARES[0], "distance": 0},
            {"event": "target", "target": "db-3", "kind": "db", "solved": True, "program": "(move ul 0)",
             "known_program": "(move ul 0) (move ul 0)", "distance": 0},
            {"event": "target", "target": "db-4", "kind": "db", "solved": True, "program": "(move ul 0)",
             "known_program": "(move ul 0)", "distance": 0}]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"event": "tar')
    got = {s.target: s for s in dream_log_solutions(tmp_path)}
    assert got["a"].solved and got["db-3"].solved and not got["db-4"].solved   # db: only when made shorter
    res = tmp_path / "results.json"
    res.write_text(json.dumps({"summary": {"tasks": "mnist-heldout"},
                               "results": [{"name": "mnist-heldout-1", "kind": "mnist", "solved": True,
                                            "program": "(move ul 0)"}]}))
    assert solution_corpus(solve_result_solutions(res), check_images=False)[1] == []
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.insert_many(SQUARES[:2], source="task")
    db.insert("(move ul (/ ua 3))", source="random")
    assert [s.origin for s in database_solutions(db)] == ["db", "db"]
    assert len(database_solutions(db, include_random=True)) == 3
    db.close()


def test_call_saving_counts_the_body_written_out():
    d = logo.parse_library("(define (sq n) (loop i 4 (move n (/ ua 4))))")[0]
    call = logo.parse("(sq (* ul 2))").body[0]
    inline = "(loop i 4 (move (* ul 2) (/ ua 4)))"
    assert call_saving(d, call) == logo.n_tokens(inline) - logo.n_tokens("(sq (* ul 2))")


def test_a_rewritten_solution_draws_exactly_its_target_and_notes_name_its_uses(tmp_path):
    train, _ = _train_and_test()
    sols = [Solution(t.name, logo.to_text(t.program), "dream", kind="tasks", split="train") for t in train]
    r = learn_from_solutions(sols, iterations=4, out_dir=tmp_path / "lib")
    assert r.result.defs and r.report["tokens_after"] < r.report["tokens_before"]
    changed = 0
    for before, after, s in zip(r.originals, r.rewritten, r.solutions):
        target = next(t for t in train if t.name == s.target)
        a = logo.render(before, size=28)
        b = logo.render(after, size=28, library=r.active)
        assert np.array_equal(a, b), (before, after)
        assert np.array_equal(b, target.image)          # the task's target image, exactly
        changed += before != after
    assert changed > 0 and r.report["mismatched"] == 0
    text = (tmp_path / "lib" / "v001.logo").read_text()
    for d in r.active:
        note = next(line for line in text.splitlines() if line.startswith(f"; {d.name}:"))
        assert "tokens saved" in note
        assert any(t in note for t in r.uses[d.name].targets) or "inside other procedures" in note
    assert [d.name for d in load_library(tmp_path / "lib")] == [d.name for d in r.active]


def test_unused_procedures_retire_with_a_version_note(tmp_path):
    lib = list(logo.parse_library("(define (unused a) (move a (/ ua 7)))\n"
                                  "(define (sq n) (loop i 4 (move n (/ ua 4))))"))
    sols = [Solution(f"t{k}", s, "dream", kind="tasks") for k, s in enumerate(SQUARES)]
    r = learn_from_solutions(sols, library=lib, iterations=0, out_dir=tmp_path / "lib")
    assert [d.name for d in r.retired] == ["unused"] and [d.name for d in r.active] == ["sq"]
    assert r.uses["sq"].calls == len(SQUARES)
    text = (tmp_path / "lib" / "v001.logo").read_text()
    assert "retired (no solution uses them): unused" in text and "(define (unused" not in text
    uses = procedure_uses(lib, ["(sq ul)"], ["x"])
    assert [d.name for d in retire(lib, uses)[0]] == ["sq"]


def test_the_database_keeps_retired_procedures_its_programs_still_call(tmp_path):
    lib_text = "(define (tri a) (loop i 3 (move a (/ ua 3))))\n(define (sq n) (loop i 4 (move n (/ ua 4))))"
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.set_library(lib_text)
    db.insert("(tri (* ul 2))", source="random")
    sols = [Solution(f"t{k}", s, "dream", kind="tasks") for k, s in enumerate(SQUARES)]
    r = learn_from_solutions(sols, library=db.library(), iterations=0, db=db)
    assert [d.name for d in r.retired] == ["tri"]
    assert {d.name for d in db.library()} == {"tri", "sq"}            # (tri ...) in the database still draws
    assert r.report["inserted"]                                       # the rewritten squares went in
    sources = {src for e in db.entries() for _, src, _ in e.programs}
    assert "library" in sources
    db.close()


def test_logo_compress_takes_solutions_not_random_heads_unless_asked(tmp_path, capsys):
    from app.cli import main
    train, test = _train_and_test()
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.insert_many(["(move ul (/ ua 3)) (move ul 0)", "(loop i 7 (move ul (/ ua 7)))"], source="random")
    db.close()
    log = tmp_path / "dream" / "found.jsonl"
    log.parent.mkdir()
    log.write_text("".join(json.dumps({"event": "target", "target": t.name, "kind": "tasks", "solved": True,
                                       "program": logo.to_text(t.program), "distance": 0}) + "\n" for t in train))
    res = tmp_path / "results.json"
    res.write_text(json.dumps({"summary": {"tasks": "dreamcoder-test"}, "results": [
        {"name": t.name, "kind": "tasks", "split": "test", "solved": True, "program": logo.to_text(t.program)}
        for t in test]}))
    out = tmp_path / "lib"
    args = ["compress", "--db", str(tmp_path / "db.sqlite"), "--dream-log", str(log.parent), "--solutions", str(res),
            "--iterations", "2", "--out", str(out), "--quiet"]
    assert main(args) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["corpus_origins"] == {"dream": rep["corpus_targets"]}          # no random head, no test task
    assert set(rep["excluded_evaluation"]) >= {t.name for t in test}
    assert main(args + ["--include-random"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["corpus_origins"].get("random") == 2


def test_a_new_procedure_never_takes_the_name_of_one_the_database_still_defines(tmp_path):
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.set_library("(define (fn_0 a) (loop i 3 (move a (/ ua 3))))")
    db.insert("(fn_0 (* ul 2))", source="random")
    before = db.images([db.entry_of("(fn_0 (* ul 2))")])
    sols = [Solution(f"t{k}", s, "dream", kind="tasks") for k, s in enumerate(SQUARES)]
    r = learn_from_solutions(sols, library=[], iterations=1, db=db)      # the library file had retired fn_0
    assert r.result.defs and "fn_0" not in {d.name for d in r.result.defs}
    lib = db.library()
    assert "fn_0" in {d.name for d in lib}
    assert np.array_equal(logo.render("(fn_0 (* ul 2))", size=32, library=lib), before[0])
    db.close()
