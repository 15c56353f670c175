"""`logo solve` and the Python API behind it (`dream.search.solver`): a user's JSON task list in either syntax,
and a clear one-line error for a bad proposer, a checkpoint that lacks a library name, an empty database."""
import json

import numpy as np
import pytest

import logo
from app.cli import main as logo_main
from data.db import Database
from dream import SearchSettings, SolveError, Solver, load_targets, solve
from dream.search.targets import json_targets

LIB = "(define (sq n) (loop i 4 (move n (/ ua 4))))"
SQUARE = "(loop i 4 (move ul (/ ua 4)))"
DC_TRIANGLE = "((loop i 3 (move 1l (/a 1a 3))))"       # DreamCoder's syntax


def _tasks(tmp_path, entries) -> str:
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(entries))
    return str(path)


def _db(path, programs=("(move ul 0)", SQUARE), library=None) -> str:
    db = Database(path, image_size=32)
    if library:
        db.set_library(library)
    for p in programs:
        db.insert(p, source="random")
    db.close()
    return str(path)


def _checkpoint(directory, library=None) -> str:
    """A tiny untrained model saved as a checkpoint; with `library`, its tokenizer knows the names."""
    from model import checkpoint
    from model.edit.net import EditModel, preset
    from model.tokenizer import Tokenizer
    tok = Tokenizer()
    if library:
        tok.add_library(library)
    config = preset("tiny", image_size=32, max_tokens=48, max_edits=24, d_model=32, n_heads=2, img_layers=1,
                    prog_layers=1, dec_layers=1, ffn_mult=2)
    checkpoint.save(directory, EditModel(config, len(tok)), tok, step=0)
    return str(directory)


def _err_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


# ---- a user's own benchmark: a JSON task list ------------------------------------------------------

def test_json_task_list_takes_our_syntax_and_dreamcoders(tmp_path):
    path = _tasks(tmp_path, [{"name": "square", "program": SQUARE}, {"name": "tri", "program": DC_TRIANGLE},
                             {"name": "dc-key", "source": "((move 1l 0a))"}])
    targets, errors = json_targets(path, 32)
    assert errors == []
    assert [(t.name, t.kind, t.extra["syntax"]) for t in targets] == [
        ("square", "json", "ours"), ("tri", "json", "dreamcoder"), ("dc-key", "json", "dreamcoder")]
    assert np.array_equal(targets[0].image28, logo.render(SQUARE, 28))
    assert np.array_equal(targets[1].image, logo.render(logo.from_dreamcoder(DC_TRIANGLE), 32))
    assert targets[1].known_program == logo.to_text(logo.from_dreamcoder(DC_TRIANGLE))
    label, got, _ = load_targets(path, size=32, limit=2)
    assert label == "json:tasks.json" and [t.name for t in got] == ["square", "tri"]


def test_bad_entries_are_named_by_file_and_entry_and_the_rest_are_targets(tmp_path):
    path = _tasks(tmp_path, [{"name": "ok", "program": SQUARE}, {"name": "unbalanced", "program": "(move ul"},
                             {"program": SQUARE}, "(move ul 0)", {"name": "ok", "program": "(move ul 0)"},
                             {"name": "blank", "program": "(penup (move ul 0))"},
                             {"name": "no-program", "program": 7}])
    targets, errors = json_targets(path, 32)
    assert [t.name for t in targets] == ["ok"]
    msgs = dict(errors)
    assert list(msgs) == [f"{path} entry {i}" for i in (1, 2, 3, 4, 5, 6)]
    for where, msg in errors:
        assert msg.startswith(where), msg
    assert "'unbalanced'" in msgs[f"{path} entry 1"] and "neither our syntax" in msgs[f"{path} entry 1"] \
        and "nor DreamCoder's" in msgs[f"{path} entry 1"]
    assert 'no "name"' in msgs[f"{path} entry 2"]
    assert "not a {" in msgs[f"{path} entry 3"]
    assert "earlier entry" in msgs[f"{path} entry 4"]
    assert "draws nothing" in msgs[f"{path} entry 5"]
    assert 'no "program"' in msgs[f"{path} entry 6"]


@pytest.mark.parametrize("content, says", [("{\"name\": \"x\"}", "JSON list"), ("[]", "empty"),
                                          ("[{\"name\": ", "not a JSON task list")])
def test_a_file_that_is_not_a_task_list_is_an_error_naming_it(tmp_path, content, says):
    path = tmp_path / "tasks.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=says) as e:
        json_targets(path, 32)
    assert str(path) in str(e.value)
    with pytest.raises(FileNotFoundError, match="no such folder or file"):
        load_targets(str(tmp_path / "missing.json.d"), size=32)


def test_logo_solve_runs_a_json_task_list_and_reports_bad_entries(tmp_path, capsys):
    path = _tasks(tmp_path, [{"name": "square", "program": SQUARE}, {"name": "bad", "program": "(move ul"}])
    db = _db(tmp_path / "db.sqlite")          # the square is a database entry: solved by a start program
    code = logo_main(["solve", "--proposer", "none", "--tasks", path, "--db", db, "--budget", "0.5", "--quiet",
                      "--out", str(tmp_path / "out")])
    assert code == 1                           # a skipped entry is reported by the exit code
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith(f"logo solve: skipped {path} entry 1 ('bad'): "), err
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["summary"]["tasks"] == "json:tasks.json" and res["summary"]["targets"] == 1
    assert res["summary"]["solved"] == 1 and res["summary"]["solved_by_start"] == 1
    assert res["summary"]["unreadable"][0]["file"] == f"{path} entry 1"
    row = res["results"][0]
    assert row["name"] == "square" and row["solved"] and row["syntax"] == "ours"
    assert row["reference_program"] == logo.to_text(logo.parse(SQUARE))
    assert "classified_as" not in row and "classified_as_label" not in res["summary"]   # not digits: not read


def test_held_out_digits_are_read_by_the_digit_classifier(tmp_path, capsys):
    """Each MNIST row says its label and what the classifier reads in the drawing found; the summary the share
    read as their digit next to the classifier's share on the targets themselves."""
    from data.mnist import labels
    from model.digit_classifier import classify
    code = logo_main(["solve", "--tasks", "mnist-heldout", "--limit", "2", "--budget", "1", "--workers", "1",
                      "--quiet", "--out", str(tmp_path / "out")])
    assert code == 0
    out = capsys.readouterr().out
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    rows, summary = res["results"], res["summary"]
    _, targets, _ = load_targets("mnist-heldout", size=32, limit=2)
    truth = labels("heldout")
    assert [r["label"] for r in rows] == [int(truth[int(t.name.rsplit("-", 1)[1])]) for t in targets]
    drawn = classify(np.stack([logo.render(r["program"], 28) for r in rows]))     # what the programs draw, read now
    assert [r["classified_as"] for r in rows] == drawn.tolist()
    on_targets = classify(np.stack([t.image28 for t in targets]))
    assert [r["target_classified_as"] for r in rows] == on_targets.tolist()
    assert summary["digits"] == 2
    assert summary["classified_as_label"] == np.mean([r["classified_as"] == r["label"] for r in rows])
    assert summary["classifier_on_targets"] == np.mean(on_targets == [r["label"] for r in rows])
    assert summary["median_tokens"] == np.median([r["tokens"] for r in rows])
    assert "read as their digit by the digit classifier" in out
    assert (tmp_path / "out" / "sheet.png").stat().st_size > 0


def test_a_digit_drawing_is_labelled_with_iou_tokens_and_what_it_reads_as_within_the_sheet_cell():
    from app.digit_reading import SHEET_CHARS, drawing_label, target_label
    assert drawing_label({"iou": 0.8312, "tokens": 41, "classified_as": 7}) == "iou 0.83 41t >7"
    long = drawing_label({"iou": 0.8312, "tokens": 141, "classified_as": 7})
    assert long.endswith("141t >7") and len(long) <= SHEET_CHARS        # what it reads as is never cut off
    assert target_label({"label": 7, "target_classified_as": 1}, "mnist-heldout-123") == "7 >1 #123"


# ---- clear errors ------------------------------------------------------------------------------------

def test_a_bad_proposer_is_an_error_naming_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        logo_main(["solve", "--proposer", "oracle", "--out", str(tmp_path)])
    assert e.value.code == 2
    err = _err_lines(capsys)
    assert "--proposer" in err[-1] and "'oracle'" in err[-1] and "auto, topdown, grammar" in err[-1], err
    assert "random" not in err[-1]                             # ablations are not offered to users
    with pytest.raises(SolveError, match="unknown proposer 'oracle'"):
        solve([], proposer="oracle")


def test_an_empty_database_is_an_error_naming_the_file(tmp_path, capsys):
    empty = tmp_path / "empty.sqlite"
    Database(empty, image_size=32).close()
    code = logo_main(["solve", "--proposer", "none", "--db", str(empty), "--limit", "1", "--out", str(tmp_path / "o")])
    err = _err_lines(capsys)
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith(f"logo solve: {empty}: the database has no entries"), err
    assert not (tmp_path / "o" / "results.json").exists()
    code = logo_main(["solve", "--proposer", "none", "--db", str(tmp_path / "nope.sqlite"), "--out", str(tmp_path)])
    assert code == 1 and _err_lines(capsys) == [f"logo solve: {tmp_path / 'nope.sqlite'}: database does not exist"]


def test_a_checkpoint_without_a_library_name_is_an_error_naming_the_names(tmp_path, capsys):
    lib = LIB + " (define (tri n) (loop i 3 (move n (/ ua 3))))"
    db = _db(tmp_path / "db.sqlite", library=lib)
    old = _checkpoint(tmp_path / "old")                 # trained before the library existed
    code = logo_main(["solve", "--ckpt", old, "--db", db, "--limit", "1", "--out", str(tmp_path / "o")])
    err = _err_lines(capsys)
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith(f"logo solve: checkpoint {old} does not know the library procedure(s) sq, tri of "
                             f"database {db}"), err
    # the same checkpoint with the names learnt is accepted, and a model-free arm does not need one
    new = _checkpoint(tmp_path / "new", library=lib)
    s = Solver.open(["model", "random"], ckpt=new, db=db, settings=SearchSettings(samples=2, beam=0))
    try:
        assert s.model_proposer is not None and [d.name for d in s.library] == ["sq", "tri"]
    finally:
        s.close()
    Solver.open(["random"], db=db).close()


def test_the_model_proposer_needs_a_checkpoint(tmp_path):
    with pytest.raises(SolveError, match="needs --ckpt"):
        Solver.open(["model+enum"])
    with pytest.raises(SolveError, match="does not exist"):
        Solver.open(["model"], ckpt=str(tmp_path / "nothing"))


# ---- the Python API ------------------------------------------------------------------------------------

def test_dream_solve_searches_targets_with_a_proposer(tmp_path):
    _, targets, _ = load_targets(_tasks(tmp_path, [{"name": "square", "program": SQUARE},
                                                   {"name": "line", "program": "(move (* 2 ul) 0)"}]), size=32)
    db = _db(tmp_path / "db.sqlite", programs=("(move ul 0)",))
    seen = []
    rows, summary = solve(targets, proposer="none", db=db, settings=SearchSettings(budget_s=0.3),
                          on_row=lambda i, r: seen.append(i))
    assert seen == [0, 1] and [r["name"] for r in rows] == ["square", "line"]
    assert summary["proposer"] == "none" and summary["targets"] == 2 and summary["candidates_per_s"] == 0
    assert all(r["edit_steps"] == 0 and r["candidates"] == 0 for r in rows)
    assert all(not k.startswith("_") for r in rows for k in r)          # rows are JSON-ready
    json.dumps(rows)
    rows, summary = solve(targets[1:], proposer="enum", db=db,
                          settings=SearchSettings(enumerated_starts=0, budget_s=5))   # the edit arm alone
    assert rows[0]["solved"] and rows[0]["edit_steps"] == 1             # one substitution from (move ul 0)
    assert summary["solved_by_edits"] == 1
    with pytest.raises(ValueError, match="budget"):
        solve(targets, proposer="none", settings=SearchSettings(budget_s=0))


# ---- defaults a newcomer meets -------------------------------------------------------------------------

def test_logo_solve_needs_no_flag_but_the_targets_and_says_what_auto_searches_with(tmp_path, capsys):
    """No checkpoint, no database: `auto` is the enumerator (topdown)."""
    code = logo_main(["solve", "--tasks", _tasks(tmp_path, [{"name": "square", "program": SQUARE}]),
                      "--budget", "2", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "proposer auto -> topdown (no checkpoint): programs enumerated from the root" in out
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["summary"]["proposer"] == "topdown" and res["summary"]["budget_s"] == 2.0
    assert res["summary"]["search"]["budget_s"] == 2.0 and res["results"][0]["arm"] == "topdown"
    assert "square" in out and "solved" in out                    # the table and its summary line


def test_one_image_file_is_a_target(tmp_path, capsys):
    from PIL import Image
    path = tmp_path / "drawing.png"
    Image.fromarray(255 - logo.render(SQUARE, 64)).save(path)     # black ink on white, as a user draws
    label, targets, errors = load_targets(str(path), size=32)
    assert label == "png:drawing.png" and [t.name for t in targets] == ["drawing.png"] and not errors
    code = logo_main(["solve", "--tasks", str(path), "--proposer", "none", "--budget", "1", "--quiet",
                      "--out", str(tmp_path / "out")])
    assert code == 0
    assert json.loads((tmp_path / "out" / "results.json").read_text())["summary"]["targets"] == 1
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="broken.png"):
        load_targets(str(tmp_path / "broken.png"), size=32)
    (tmp_path / "drawing.bin").write_bytes(b"\x89PNG\r\n")       # binary, not an image by its name
    with pytest.raises(ValueError, match="neither an image file .* nor a JSON task list"):
        load_targets(str(tmp_path / "drawing.bin"), size=32)


def test_the_help_shows_one_example_a_line_and_the_users_arms(capsys):
    with pytest.raises(SystemExit):
        logo_main(["solve", "--help"])
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines()]
    assert "logo solve --tasks dreamcoder --budget 5" in " ".join(lines)
    examples = [line for line in lines if line.startswith("logo solve --")]
    assert len(examples) >= 4                                     # each example on its own line
    assert "  auto: the default" in out and "  topdown: " in out
    for ablation in ("policy-where", "model-unmasked", "model+enum", "retrieval", "random", "enum"):
        assert f"  {ablation}:" not in out and f",{ablation}," not in out, ablation
