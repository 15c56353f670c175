"""`logo run` end to end: a one-round smoke run is stopped during a phase, resumed, and finishes."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from logo.files import read_jsonl

ROOT = Path(__file__).resolve().parent.parent


def _start(out: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "app.cli", "run", "--config", "smoke", "--out", str(out),
                             "--device", "cpu"], stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env,
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
        while "build" not in _done(state_path):            # the database is built: train + dream start now
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
    assert state["round"] == 0 and state["done"] == ["build"], state   # train was stopped, not recorded done
    assert not (out / "report" / "index.html").exists()

    second = _start(out, tmp_path / "second.txt")
    assert second.wait(timeout=300) == 0, (tmp_path / "second.txt").read_text()
    said = (tmp_path / "second.txt").read_text()
    assert "resuming at round 1" in said and "building the database" not in said, said
    for phase in ("train + dream", "evaluating", "growing the library", "extending the database", "report"):
        assert phase in said, (phase, said)
    state = json.loads(state_path.read_text())
    assert state["round"] == 1 and state["done"] == [] and [h["round"] for h in state["history"]] == [1]
    # the database was built once (seed 0) and extended once, not rebuilt on resume
    builds = (out / "logs" / "db-build.log").read_text()
    assert builds.count("--seed 0") == 1 and builds.count("--seed 1000") == 1, builds
    page = (out / "report" / "index.html").read_text()
    assert "Round 1" in page and "Numbers per round" in page
    assert (out / "report" / "round1" / "tasks" / "results.json").exists()
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
