"""`train --model policy` end to end on a small database: logs the policy's held-out metrics, draws them,
checkpoints a policy that `logo solve --proposer policy` searches with, resumes as a policy."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import data
from data.db import Database
from data.generate import random_programs
from model import checkpoint
from model.train import main

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
FAST = ["--model", "policy", "--preset", "tiny", "--d-model", "32", "--layers", "1", "--heads", "2",
        "--max-content", "24", "--batch-size", "8", "--eval-pairs", "8", "--threads", "1", "--quiet",
        "--policy-examples", "64", "--warmup", "2", "--lr", "3e-3"]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "db.sqlite"
    db = Database(path, image_size=32)
    db.insert_many([t.program for t in data.dreamcoder_tasks("train")[:40]], source="task")   # solving: test tasks
    db.insert_many(random_programs(80, seed=3, p_call=0, max_tokens=30))
    db.close()
    return path


def test_train_policy_logs_checkpoints_resumes_and_solves(db_path, tmp_path):
    out = tmp_path / "ckpt"
    assert main(["--db", str(db_path), "--out", str(out), "--steps", "8", "--eval-every", "4",
                 "--ckpt-every", "4", "--log-every", "4", *FAST]) == 0
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in recs if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [4, 8]
    for key in ("where_top1", "where_top5", "what_top1", "what_kind", "content_acc", "closer", "stmt_hit"):
        assert 0.0 <= evals[-1][key] <= 1.0, key
    assert {"where_top1", "content_acc"} <= set(recs[1])          # the train records carry the policy's metrics
    assert (out / "training.png").stat().st_size > 0
    state = checkpoint.load_state(checkpoint.latest_path(out))
    assert state["kind"] == "policy" and state["step"] == 8
    with pytest.raises(SystemExit, match="policy model"):
        main(["--db", str(db_path), "--out", str(out), "--steps", "10", "--model", "edit", "--quiet"])
    assert main(["--db", str(db_path), "--out", str(out), "--steps", "10", "--eval-every", "100", *FAST]) == 0
    assert checkpoint.load_state(checkpoint.latest_path(out))["step"] == 10
    r = subprocess.run([sys.executable, "-m", "app.cli", "solve", "--proposer", "policy", "--ckpt", str(out),
                        "--db", str(db_path), "--tasks", "dreamcoder", "--split", "test", "--limit", "1",
                        "--budget", "3", "--policy-k", "16", "--enumerated-starts", "0", "--quiet",
                        "--out", str(tmp_path / "solve")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "solve" / "results.json").read_text())
    assert res["summary"]["proposer"] == "policy" and res["results"][0]["candidates"] > 0


def test_clock_cpu_counts_this_process_cpu_seconds(db_path, tmp_path, monkeypatch):
    """--clock cpu: --max-seconds and the checkpoint's elapsed_s follow time.process_time (here a fake
    CPU clock that advances 10 s a reading), not the wall clock: training stops long before --steps."""
    import model.loop
    readings = iter(range(0, 10_000_000, 10))
    monkeypatch.setattr(model.loop.time, "process_time", lambda: float(next(readings)))
    out = tmp_path / "cpu"
    assert main(["--db", str(db_path), "--out", str(out), "--steps", "50", "--max-seconds", "45", "--clock", "cpu",
                 "--eval-every", "1000", "--ckpt-every", "1000", *FAST]) == 0
    state = checkpoint.load_state(checkpoint.latest_path(out))
    elapsed = state["meta"]["elapsed_s"]
    assert 0 < state["step"] < 50
    assert elapsed >= 10 and elapsed % 10 == 0           # counted on the (fake) CPU clock
