"""`logo run` end to end: a one-round smoke run (training the edit model beside a model-free-then-model dream)
is stopped during a phase, resumed, and finishes; its state.json holds the held-out numbers of the full
system and of the round-0 system, and its report the learning curve."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from data import dreamcoder_tasks
from library import load_library
from logo.files import read_jsonl
from logo.pcfg import Grammar

ROOT = Path(__file__).resolve().parent.parent


def _start(out: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "app.cli", "run", "--config", "smoke", "--out", str(out),
                             "--device", "cpu", "--model", "edit"], stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env,
                            cwd=out.parent)


def _done(state_path: Path) -> list[str]:
    try:
        return json.loads(state_path.read_text())["done"]
    except (OSError, ValueError, KeyError):
        return []


def test_logo_run_stops_on_sigterm_and_resumes_where_it_stopped(tmp_path):
    out = tmp_path / "run"
    state_path = out / "state.json"
    first = _start(out, tmp_path / "first.txt")
    try:
        deadline = time.monotonic() + 240
        while "build" not in _done(state_path):            # the database is built: the wake starts now
            assert first.poll() is None, (tmp_path / "first.txt").read_text()
            assert time.monotonic() < deadline, "the database build did not finish"
            time.sleep(0.2)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 130
    finally:
        if first.poll() is None:
            first.kill()
    said = (tmp_path / "first.txt").read_text()
    assert "stopped; finished phases are kept" in said, said
    state = json.loads(state_path.read_text())
    assert state["round"] == 0 and state["done"] == ["build"], state   # the wake was stopped, not recorded done
    assert not (out / "report" / "index.html").exists()

    second = _start(out, tmp_path / "second.txt")
    assert second.wait(timeout=300) == 0, (tmp_path / "second.txt").read_text()
    said = (tmp_path / "second.txt").read_text()
    assert "resuming at round 1" in said and "building the database" not in said, said
    for phase in ("wake: dream + train edit", "abstraction", "dreams", "held-out evaluation", "report"):
        assert phase in said, (phase, said)
    state = json.loads(state_path.read_text())
    assert state["round"] == 1 and state["done"] == [] and [h["round"] for h in state["history"]] == [1]
    # the database was built once (seed 0), not rebuilt on resume, and grown by the round's dreams
    builds = (out / "logs" / "db-build.log").read_text()
    assert builds.count("--seed 0") == 1, builds
    assert "grow_db:" in (out / "logs" / "grow-db.log").read_text()
    # the held-out numbers of both systems, for a script to read
    heldout = state["history"][0]["heldout"]
    for system in ("full", "baseline"):
        numbers = heldout[system]
        assert numbers["targets"] == 2 and 0 <= numbers["solved"] <= 2 and 0 <= numbers["mean_iou"] <= 1, heldout
        assert numbers["mnist_targets"] == 1 and 0 <= numbers["mnist_mean_iou"] <= 1, heldout
    assert heldout["baseline"]["arm"] == "topdown"
    assert heldout["checkpoint_kind"] == "edit" and heldout["full"]["arm"] == "model"   # round_arm of an edit model
    rdir = out / "report" / "round1"
    full = json.loads((rdir / "heldout" / "full" / "tasks" / "results.json").read_text())
    assert {r["name"] for r in full["results"]} <= {t.name for t in dreamcoder_tasks("test")}   # held out only
    # the grammar of the round: refitted on the library-rewritten solutions, its procedures the library's
    grammar = Grammar.load(rdir / "grammar.json")
    assert sorted(n for n, _ in grammar.procedures) == sorted(d.name for d in load_library(out / "library"))
    page = (out / "report" / "index.html").read_text()
    assert "Round 1" in page and "Numbers per round" in page and "round-0 system" in page
    assert "<img src='curve.png'" in page and (out / "report" / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "report" / "history.json").read_text()) == state["history"]
    # train's learning rate decays over the whole run's training (rounds x train seconds), not per round
    starts = [r for r in read_jsonl(out / "ckpt" / "metrics.jsonl") if r["kind"] == "start"]
    assert starts and starts[-1]["schedule"]["seconds"] == 1 * 3.0, starts   # smoke: 1 round of 3 s


def test_the_status_line_reads_the_newest_complete_record(tmp_path):
    from app.run import _last_record
    log = tmp_path / "metrics.jsonl"
    assert _last_record(log) == {}                                   # not written yet
    lines = [json.dumps({"step": i, "pad": "x" * 100}) for i in range(2000)]   # longer than the tail read
    log.write_text("\n".join(lines) + '\n{"step": 2000, "lo')        # the newest record half written
    assert _last_record(log)["step"] == 1999
