"""The `logo run` report shows the model and its random baseline side by side each round."""
import json

import numpy as np

from app.report import arm_dir, arms_record, round_record, write_report
from app.run import CONFIGS, heldout_commands
from data.db import Database
from logo.pictures import save_sheet


def _solve_output(rdir, set_name, arm, solved, total, iou, by_edits=0):
    d = arm_dir(rdir, set_name, arm)
    d.mkdir(parents=True)
    summary = {"solved": solved, "targets": total, "mean_iou": iou, "mean_tokens": 10.0, "budget_s": 1.0,
               "solved_by_edits": by_edits, "proposer": arm}
    (d / "results.json").write_text(json.dumps({"summary": summary, "results": []}))
    save_sheet([np.zeros((28, 28), np.uint8)] * 2, d / "sheet.png")


def _paths(tmp_path):
    paths = {k: tmp_path / k for k in ("ckpt", "library", "dream", "logs", "report")}
    paths["db"] = tmp_path / "db.sqlite"
    db = Database(paths["db"], image_size=32)
    db.insert("(move ul 0)", source="random")
    db.close()
    for k in ("ckpt", "dream"):
        paths[k].mkdir()
    return paths


def test_the_model_and_random_arms_each_get_a_row_and_their_sheets(tmp_path):
    paths = _paths(tmp_path)
    rdir = paths["report"] / "round1"
    _solve_output(rdir, "tasks", "model", 7, 16, 0.812, by_edits=3)
    _solve_output(rdir, "mnist", "model", 0, 8, 0.611)
    _solve_output(rdir, "tasks", "random", 5, 16, 0.733, by_edits=1)
    _solve_output(rdir, "mnist", "random", 0, 8, 0.522)
    assert arm_dir(rdir, "tasks", "model") == rdir / "tasks" and arm_dir(rdir, "mnist", "random") == rdir / "mnist-random"
    arms = arms_record(rdir)
    assert list(arms) == ["model", "random"]
    assert (arms["random"]["tasks_solved"], arms["random"]["tasks_solved_by_edits"], arms["random"]["mnist_mean_iou"]) \
        == (5, 1, 0.522)
    rec = round_record(1, paths, rdir)
    assert rec["arms"] == arms and rec["tasks_solved"] == 7 and rec["mnist_mean_iou"] == 0.611   # the model's, as before
    page = write_report(paths, [rec], "demo").read_text()
    assert "<th>proposer</th>" in page and "<th>tasks solved</th>" in page and "<th>after edits</th>" in page
    # two rows for the round: the round's own cells span both, each arm has its numbers
    assert "<td rowspan='2'>1</td>" in page
    model_row = "<td>model</td><td>7</td><td>16</td><td>3</td><td>0.812</td><td>0.611</td>"
    random_row = "<tr><td>random</td><td>5</td><td>16</td><td>1</td><td>0.733</td><td>0.522</td><td>10.000</td></tr>"
    assert model_row in page and random_row in page and page.index(model_row) < page.index(random_row)
    for src in ("round1/tasks/sheet.png", "round1/tasks-random/sheet.png", "round1/mnist-random/sheet.png"):
        assert f"src='{src}'" in page, src
    assert "DreamCoder training tasks, random proposer" in page


def test_a_round_recorded_before_the_baselines_still_shows(tmp_path):
    paths = _paths(tmp_path)
    old = {"round": 1, "db_entries": 1, "tasks_solved": 4, "tasks_total": 16, "tasks_mean_iou": 0.5}
    page = write_report(paths, [old], "demo").read_text()
    assert "<tr><td>1</td><td>1</td><td>–</td><td>–</td><td>model</td><td>4</td><td>16</td>" in page


def test_logo_run_evaluates_the_full_system_and_round_0_on_the_same_held_out_targets_and_budget(tmp_path):
    cfg = CONFIGS["demo"]
    commands = heldout_commands(cfg, tmp_path / "round1", "db.sqlite", "ckpt", "model", tmp_path / "round1/g.json",
                                ["--device", "cpu"], [], mnist_arm="construct")
    assert len(commands) == 4

    def flags(cmd):
        cmd = cmd[cmd.index("solve") + 1:]
        return {a: b for a, b in zip(cmd, cmd[1:]) if a.startswith("--")}

    got = [flags(c) for c in commands]
    assert [g["--proposer"] for g in got] == ["model", "construct", "topdown", "topdown"]   # digits: their arm
    assert [g["--out"] for g in got] == [str(tmp_path / "round1" / "heldout" / d) for d in
                                         ("full/tasks", "full/mnist", "baseline/tasks", "baseline/mnist")]
    # held out only: DreamCoder test (never a training target) and held-out MNIST
    assert [(g["--tasks"], g.get("--split")) for g in got] == [("dreamcoder", "test"), ("mnist-heldout", None)] * 2
    for full, base in ((got[0], got[2]), (got[1], got[3])):
        same = ("--tasks", "--limit", "--budget", "--split")
        assert [full.get(k) for k in same] == [base.get(k) for k in same]
    # the full system: the round's database, grammar and checkpoint; round 0: none of them
    for full in got[:2]:
        assert (full["--db"], full["--ckpt"], full["--grammar"]) == ("db.sqlite", "ckpt", str(tmp_path / "round1/g.json"))
    assert not {"--db", "--ckpt", "--grammar"} & set(got[2]) and not {"--db", "--ckpt", "--grammar"} & set(got[3])
    assert got[0]["--budget"] == str(cfg.solve_budget) and got[0]["--limit"] == str(cfg.solve_tasks)
