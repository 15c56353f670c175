"""The `logo run` report (app.report) from a synthetic run folder: numbers, sections and pictures."""
import json

import numpy as np

from app.report import round_record, write_report
from data.db import Database
from logo.pictures import save_png, save_sheet

LIB = "(define (sq n) (loop i 4 (move n (/ ua 4))))"


def _run_folder(tmp_path):
    """What a finished round leaves behind: database, metrics, plots, solve results, dream log."""
    paths = {k: tmp_path / k for k in ("ckpt", "library", "dream", "logs", "report")}
    paths["db"] = tmp_path / "db.sqlite"
    db = Database(paths["db"], image_size=32)
    db.set_library(LIB)
    for p in ("(move ul 0)", "(loop i 3 (move ul (/ ua 3)))", "(move (* ul 2) (/ ua 4)) (move ul 0)"):
        db.insert(p, source="random")
    db.insert("(sq (* ul 2))", source="dream")
    db.close()
    paths["ckpt"].mkdir()
    (paths["ckpt"] / "metrics.jsonl").write_text(
        json.dumps({"kind": "train", "step": 10, "loss": 2.0}) + "\n"
        + json.dumps({"kind": "eval", "step": 20, "loss": 1.5, "token_acc": 0.25, "ignored": 7}) + "\n"
        + '{"kind": "train", "step": 3')          # a record still being appended
    save_png(np.zeros((8, 8), np.uint8), paths["ckpt"] / "curves.png")
    rdir = paths["report"] / "round1"
    for kind, solved, total in (("tasks", 1, 2), ("mnist", 0, 1)):
        (rdir / kind).mkdir(parents=True)
        summary = {"solved": solved, "targets": total, "mean_iou": 0.5, "mean_tokens": 12.0, "budget_s": 0.2}
        (rdir / kind / "results.json").write_text(json.dumps({"summary": summary, "results": []}))
        save_sheet([np.zeros((28, 28), np.uint8)] * 2, rdir / kind / "sheet.png")
    paths["dream"].mkdir()
    (paths["dream"] / "found.jsonl").write_text('{"event": "target"}\n{"event": "target"}\n')
    return paths, rdir


def test_round_record_collects_the_rounds_numbers_and_pictures(tmp_path):
    paths, rdir = _run_folder(tmp_path)
    rec = round_record(1, paths, rdir)
    assert rec["round"] == 1 and rec["db_entries"] == 4
    assert rec["db_sources"] == {"random": 3, "dream": 1}
    assert rec["train_steps"] == 20                               # the half-written last line is skipped
    assert rec["train_eval"] == {"loss": 1.5, "token_acc": 0.25}  # only the report's eval keys
    assert rec["train_plots"] == ["curves.png"] and (rdir / "curves.png").exists()
    assert (rec["tasks_solved"], rec["tasks_total"], rec["mnist_mean_iou"]) == (1, 2, 0.5)
    assert rec["dream_records"] == 2
    assert rec["library"] == [LIB] and rec["library_examples"] == ["(sq (* ul 2))"]  # drawn by its shortest user
    for png in ("db_newest.png", "db_dreamed.png", "library.png"):
        assert (rdir / png).exists(), png


def test_report_page_has_every_section_and_only_existing_images(tmp_path):
    paths, rdir = _run_folder(tmp_path)
    history = [round_record(1, paths, rdir)]
    (rdir / "db_newest.png").unlink()                             # a picture that is missing is left out
    index = write_report(paths, history, "smoke")
    page = index.read_text()
    assert index == paths["report"] / "index.html"
    assert "<title>logo-synth: smoke run</title>" in page and "1 round(s) finished" in page
    for section in ("Numbers per round", "Round 1", "Training: loss and accuracy",
                    "DreamCoder training tasks: target | best program found",
                    "Held-out MNIST digits: target | best program found", "Library procedures",
                    "Database entries found by dreaming"):
        assert section in page, section
    for src in ("round1/curves.png", "round1/tasks/sheet.png", "round1/mnist/sheet.png", "round1/library.png",
                "round1/db_dreamed.png"):
        assert f"src='{src}'" in page, src
    assert "db_newest.png" not in page
    # the numbers table: a header per column and the round's row
    assert "<th>tasks solved</th>" in page and "<th>token_acc</th>" in page and "<td>0.250</td>" in page
    assert json.loads((paths["report"] / "history.json").read_text()) == history


def _heldout(rdir, system, solved_names, targets, iou, mnist_iou, arm, digits=None):
    """What `app.run.heldout_commands` leaves behind for one system: its two `logo solve` results (`digits`: the
    digit classifier's numbers `logo solve` adds to the MNIST summary since issue 31; None: a run from before)."""
    for kind, rows, s in (("tasks", [{"name": f"t{i}", "solved": f"t{i}" in solved_names} for i in range(targets)],
                           {"solved": len(solved_names), "targets": targets, "mean_iou": iou}),
                          ("mnist", [], {"solved": 0, "targets": 2, "mean_iou": mnist_iou, **(digits or {})})):
        where = rdir / "heldout" / system / kind
        where.mkdir(parents=True, exist_ok=True)
        summary = {"proposer": arm, "budget_s": 2.0, "mean_tokens": 10.0, **s}
        (where / "results.json").write_text(json.dumps({"summary": summary, "results": rows}))


def test_held_out_numbers_of_both_systems_per_round_the_curve_and_the_tasks_gained_and_lost(tmp_path):
    from app.report import gained_and_lost
    paths, rdir = _run_folder(tmp_path)
    history = []
    for r, full in ((1, {"t0", "t1"}), (2, {"t1", "t2", "t3"})):
        rd = paths["report"] / f"round{r}"
        rd.mkdir(parents=True, exist_ok=True)
        _heldout(rd, "full", full, 5, [0.7, 0.8][r - 1], [0.5, 0.6][r - 1], "topdown")
        _heldout(rd, "baseline", {"t0"}, 5, 0.55, 0.45, "topdown")
        history.append(round_record(r, paths, rd))
    # the keys a script reads from state.json's history
    assert [h["heldout"]["full"]["solved"] for h in history] == [2, 3]
    assert [h["heldout"]["baseline"]["solved"] for h in history] == [1, 1]
    assert history[1]["heldout"]["full"]["mean_iou"] == 0.8 and history[1]["heldout"]["full"]["mnist_mean_iou"] == 0.6
    assert history[0]["heldout"]["baseline"]["targets"] == 5 and history[0]["heldout"]["full"]["arm"] == "topdown"
    # round 1 against the round-0 system, round 2 against round 1
    assert gained_and_lost(history) == [(1, ["t1"], []), (2, ["t2", "t3"], ["t0"])]
    page = write_report(paths, history, "demo").read_text()
    assert "<img src='curve.png'" in page and (paths["report"] / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "round 2: gained 2: t2, t3; lost 1: t0" in page
    assert "<td>2</td><td>topdown</td><td>3/5</td><td>0.800</td><td>0.600</td><td>topdown</td><td>1/5</td>" in page
    assert "read as digit" not in page and "read as their digit" not in page    # results from before the classifier
    # tables scroll inside the page rather than widen it
    assert ".wide{max-width:100%;overflow-x:auto}" in page and page.count("<div class='wide'><table>") >= 2


def test_held_out_digits_read_by_the_classifier_get_their_columns_and_old_rounds_a_dash(tmp_path):
    paths, _ = _run_folder(tmp_path)
    history = []
    for r in (1, 2):
        rd = paths["report"] / f"round{r}"
        rd.mkdir(parents=True, exist_ok=True)
        new = r == 2                     # round 1 was evaluated before `logo solve` read the digits
        _heldout(rd, "full", {"t0"}, 5, 0.7, 0.8, "topdown",
                 {"classified_as_label": 0.7, "classifier_on_targets": 0.9, "median_tokens": 41} if new else None)
        _heldout(rd, "baseline", {"t0"}, 5, 0.6, 0.5, "topdown",
                 {"classified_as_label": 0.2, "classifier_on_targets": 0.9, "median_tokens": 12} if new else None)
        save_sheet([np.zeros((28, 28), np.uint8)] * 2, rd / "heldout" / "full" / "mnist" / "sheet.png")
        history.append(round_record(r, paths, rd))
    full = history[1]["heldout"]["full"]
    assert (full["mnist_classified"], full["mnist_classifier_ceiling"], full["mnist_median_tokens"]) == (0.7, 0.9, 41)
    assert history[0]["heldout"]["full"]["mnist_classified"] is None
    page = write_report(paths, history, "demo").read_text()
    assert "<th>MNIST read as digit</th><th>MNIST tokens</th>" in page and "colspan='6'" in page
    assert ("<td>2</td><td>topdown</td><td>1/5</td><td>0.700</td><td>0.800</td><td>0.700</td><td>41</td>"
            "<td>topdown</td><td>1/5</td><td>0.600</td><td>0.500</td><td>0.200</td><td>12</td>") in page
    assert ("<td>1</td><td>topdown</td><td>1/5</td><td>0.700</td><td>0.800</td><td>–</td><td>–</td>"
            "<td>topdown</td>") in page                                      # the old round: dashes
    assert "it reads 0.900 of the held-out digits themselves (its ceiling)" in page
    assert "Held-out MNIST digits, the round&#x27;s full system: target | best program found; 70% read as their digit" \
        in page
