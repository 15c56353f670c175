"""bench/learning.py, the learning curve, in pieces: training to cumulative minutes (with `train` faked),
snapshots, evaluating a snapshot with the arms, the table and plot, and resuming without redoing work."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from data.db import Database

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("bench_learning", ROOT / "bench" / "learning.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


learning = _load()


def _save_checkpoint(directory, step: int, elapsed_s: float):
    from model import checkpoint
    from model.edit.net import EditModel, preset
    from model.tokenizer import Tokenizer
    tok = Tokenizer()
    config = preset("tiny", image_size=32, max_tokens=48, max_edits=24, d_model=32, n_heads=2, img_layers=1,
                    prog_layers=1, dec_layers=1, ffn_mult=2)
    return checkpoint.save(directory, EditModel(config, len(tok)), tok, step=step, meta={"elapsed_s": elapsed_s})


def _db(path):
    db = Database(path, image_size=32)
    db.insert_many(["(move ul 0)", "(loop i 4 (move ul (/ ua 4)))", "(loop i 3 (move ul (/ ua 3)))"])
    db.close()
    return path


def test_minutes_are_checked():
    assert learning.parse_minutes("0, 10,30,60") == [0, 10, 30, 60]
    assert learning.label(0.5) == "m0.5" and learning.label(10.0) == "m10"
    for bad in ("", "10,5", "0,0", "-1", "ten"):
        with pytest.raises(SystemExit, match="--minutes"):
            learning.parse_minutes(bad)


def test_train_until_reaches_the_minutes_and_learns_the_start_up_overhead(tmp_path, monkeypatch):
    """A fake `train` that spends 20 of its --max-seconds reading the database, like the real one."""
    ckpt = tmp_path / "ckpt"
    calls = []

    def fake_train(cmd):
        seconds = float(cmd[cmd.index("--max-seconds") + 1])
        calls.append(seconds)
        state = learning.checkpoint_state(ckpt)
        done, step = state.get("elapsed_s", 0.0), state.get("step", 0)
        trained = max(0.0, seconds - 20.0)
        _save_checkpoint(ckpt, step + int(trained), done + trained)
        return 0

    monkeypatch.setattr(learning.subprocess, "call", fake_train)
    memo = {}
    s0 = learning.train_until(ckpt, tmp_path / "db", 0, [], 0, memo=memo)
    assert calls == [0.001] and s0["step"] == 0 and s0["elapsed_s"] == 0
    assert memo["overhead_s"] >= 0                       # an upper bound from the wall time
    memo["overhead_s"] = 0.0                             # as if the first call had no overhead: it falls short
    s1 = learning.train_until(ckpt, tmp_path / "db", 10, [], 0, memo=memo)
    assert calls[1:] == [600.0, 40.0]      # 580 s trained; the second call adds the measured 20 s of reading
    assert s1["elapsed_s"] == pytest.approx(600.0) and memo["overhead_s"] == pytest.approx(20.0)
    learning.train_until(ckpt, tmp_path / "db", 10, [], 0, memo=memo)    # already there: no call
    s2 = learning.train_until(ckpt, tmp_path / "db", 30, [], 0, memo=memo)
    assert calls[3:] == [1220.0] and s2["elapsed_s"] == pytest.approx(1800.0)


def test_a_snapshot_is_evaluated_once_and_the_curve_is_written(tmp_path, capsys):
    out = tmp_path / "curve"
    db = _db(tmp_path / "db.sqlite")
    ckpt = out / "ckpt"
    _save_checkpoint(ckpt, 0, 0.0)
    state = learning.snapshot(ckpt, out / "snapshots" / "m0")     # as if a run stopped after its snapshot
    assert state["step"] == 0 and (out / "snapshots" / "m0" / "latest").exists()
    argv = ["--out", str(out), "--db", str(db), "--minutes", "0", "--arms", "model,none", "--sets", "dc-test",
            "--limit", "1", "--budget", "0.2", "--samples", "2", "--beam", "0", "--quiet"]
    assert learning.main(argv) == 0
    said = capsys.readouterr().out
    assert "m0: snapshot taken before (step 0); evaluating it" in said
    assert "dc-test model" in said and "dc-test none" in said        # the table
    point = json.loads((out / "results" / "m0.json").read_text())
    assert point["step"] == 0 and set(point["sets"]["dc-test"]["summary"]) == {"model", "none"}
    assert point["sets"]["dc-test"]["summary"]["none"]["targets"] == 1
    report = json.loads((out / "learning.json").read_text())
    assert [p["minutes"] for p in report["points"]] == [0] and report["db_entries"] == 3
    assert (out / "learning.png").stat().st_size > 1000
    # again: nothing is searched or trained, the same curve is written
    assert learning.main(argv) == 0
    assert "m0: done before (step 0); skipping" in capsys.readouterr().out
    assert json.loads((out / "learning.json").read_text())["points"] == report["points"]


def test_train_only_and_eval_only_split_the_work_between_two_jobs(tmp_path, monkeypatch, capsys):
    """--only train snapshots every minute mark without searching; --only eval evaluates those snapshots."""
    out = tmp_path / "curve"
    db = _db(tmp_path / "db.sqlite")
    ckpt = out / "ckpt"
    horizons = []

    def fake_train(cmd):
        seconds = float(cmd[cmd.index("--max-seconds") + 1])
        horizons.append(cmd[cmd.index("--schedule-seconds") + 1])
        state = learning.checkpoint_state(ckpt)
        _save_checkpoint(ckpt, state.get("step", 0) + 10, state.get("elapsed_s", 0.0) + seconds)
        return 0

    monkeypatch.setattr(learning.subprocess, "call", fake_train)
    common = ["--out", str(out), "--db", str(db), "--minutes", "0,0.5"]
    assert learning.main(common + ["--only", "train"]) == 0
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["m0", "m0.5"]
    assert not (out / "results").exists() and not (out / "learning.json").exists()
    steps = [json.loads((out / "snapshots" / m / "state.json").read_text())["step"] for m in ("m0", "m0.5")]
    assert steps[0] < steps[1]
    assert horizons and set(horizons) == {"30"}     # every segment continues one cosine over the 0.5 min

    monkeypatch.setattr(learning.subprocess, "call", lambda cmd: pytest.fail("eval-only must not train"))
    capsys.readouterr()
    assert learning.main(common + ["--only", "eval", "--arms", "model,none", "--sets", "dc-test", "--limit", "1",
                                   "--budget", "0.2", "--samples", "2", "--beam", "0", "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "m0.5: snapshot taken before (step 20); evaluating it" in said
    report = json.loads((out / "learning.json").read_text())
    assert [p["step"] for p in report["points"]] == steps


def test_an_empty_database_is_refused_before_any_training(tmp_path):
    empty = tmp_path / "empty.sqlite"
    Database(empty, image_size=32).close()
    with pytest.raises(SystemExit, match="has no entries"):
        learning.main(["--out", str(tmp_path / "o"), "--db", str(empty), "--minutes", "0", "--arms", "none"])
    assert not (tmp_path / "o" / "ckpt").exists()


def test_the_table_shows_every_arm_and_set():
    summ = {"solved": 3, "targets": 10, "mean_iou": 0.5}
    points = [{"minutes": 0, "step": 0, "elapsed_s": 0.0,
               "sets": {"dc-test": {"summary": {"model": summ, "random": {**summ, "solved": 4}}}}},
              {"minutes": 10, "step": 900, "elapsed_s": 601.0,
               "sets": {"dc-test": {"summary": {"model": {**summ, "solved": 6, "mean_iou": None}}}}}]
    lines = learning.table(points, ["dc-test"], ["model", "random"]).splitlines()
    assert lines[0].split() == ["minutes", "steps", "train", "s", "dc-test", "model", "dc-test", "random"]
    assert lines[1].split() == ["0", "0", "0", "3/10", "0.50", "4/10", "0.50"]
    assert lines[2].split() == ["10", "900", "601", "6/10", "–", "–"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
