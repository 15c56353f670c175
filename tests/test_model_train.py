"""The `train` CLI end to end on a small database: logs, plot, checkpoints, resuming, following inserts."""
import json
import shutil

import numpy as np
import pytest
import torch

import data
import logo
from data.db import Database
from data.generate import random_programs
from model import checkpoint
from data.memory import MemorySource
from model.edit.pairs import PairSampler
from model.tokenizer import Tokenizer
from model.schedule import lr_factor
from model.train import main

torch.set_num_threads(1)
FAST = ["--preset", "tiny", "--d-model", "48", "--layers", "1", "--heads", "4", "--max-edits", "40",
        "--batch-size", "16", "--eval-pairs", "8", "--threads", "1", "--quiet", "--mutations", "64",
        "--warmup", "5", "--lr", "3e-3"]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "db.sqlite"
    db = Database(path, image_size=32)
    db.insert_many([t.program for t in data.dreamcoder_tasks()[:60]], source="task")
    db.insert_many(random_programs(150, seed=3, p_call=0, max_tokens=30))
    db.close()
    return path


def records(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_train_logs_plots_checkpoints_and_resumes(db_path, tmp_path):
    out = tmp_path / "ckpt"
    assert main(["--db", str(db_path), "--out", str(out), "--steps", "24", "--eval-every", "12",
                 "--ckpt-every", "12", "--log-every", "6", *FAST]) == 0
    recs = records(out)
    train = [r for r in recs if r["kind"] == "train"]
    evals = [r for r in recs if r["kind"] == "eval"]
    assert [r["step"] for r in train] == [6, 12, 18, 24]
    assert [r["step"] for r in evals] == [12, 24]
    for r in evals:
        assert 0 < r["loss"] < float("inf")
        fractions = ["token_acc", "exact", "reproduces", "parses", "a_draws_b"]
        fractions += [k for k in r if k.startswith(("reproduces_", "exact_"))]
        for key in fractions:
            assert 0 <= r[key] <= 1, (key, r[key])
    for r in train:
        assert 0 <= r["token_acc"] <= 1 and 0 <= r["exact_tf"] <= 1
    assert evals[-1]["n_eval"] > 0
    assert train[-1]["loss"] < train[0]["loss"]
    assert (out / "training.png").stat().st_size > 1000
    state = torch.load(checkpoint.latest_path(out), weights_only=True)
    assert state["step"] == 24 and state["optimizer"]["state"]
    # another process inserts; a second run resumes from step 24 and reads the new entries
    db = Database(db_path)
    n_before = len(db)
    db.insert_many(random_programs(60, seed=99, p_call=0, max_tokens=30))
    assert len(db) > n_before
    db.close()
    assert main(["--db", str(db_path), "--out", str(out), "--steps", "30", "--eval-every", "100",
                 "--log-every", "6", *FAST]) == 0
    starts = [r for r in records(out) if r["kind"] == "start"]
    assert [s["step"] for s in starts] == [0, 24] and starts[1]["entries"] > starts[0]["entries"]
    model, tok, meta = checkpoint.load_latest(out)
    assert meta["step"] == 30 and meta["eval"]["n_eval"] > 0


def test_sampler_follows_a_growing_database(db_path, tmp_path):
    path = tmp_path / "grow.sqlite"
    db = Database(path, image_size=32)
    db.insert_many([t.program for t in data.dreamcoder_tasks()[:40]], source="task")
    s = PairSampler(Database(path, create=False), Tokenizer(), max_dist=6, mutations_per_refresh=0)
    first = s.refresh()
    assert first == len(db) and s.refresh() == 0
    pairs = sum(s.counts().values())
    db.insert_many(random_programs(80, seed=5, p_call=0, max_tokens=30))
    assert s.refresh() == len(db) - first
    assert sum(s.counts().values()) > pairs
    assert set(s.entry_tokens) == {eid for eid, _ in db.heads()}


def test_library_names_grow_the_vocabulary():
    lib = "(define (square s) (loop i 4 (move s (/ ua 4))))"
    src = MemorySource(["(square 2)", "(square 1) (move 1 0)", "(loop i 3 (move 1 (/ ua 3)))"], 32,
                       library_text=lib)
    tok = Tokenizer()
    s = PairSampler(src, tok, mutations_per_refresh=16)
    assert s.refresh() == 3 and "square" in tok
    b = s.batch(8, kinds=["denovo"])
    assert all(tok.unk_id not in row for row in b["a_ids"].tolist())


def lrs(out, since: int = 0) -> list[float]:
    return [r["lr"] for r in records(out) if r["kind"] == "train" and r["step"] > since]


def test_a_resumed_run_continues_the_learning_rate_cosine_and_warm_restart_starts_a_new_one(db_path, tmp_path):
    """Stopped at step 6 of a 12-step cosine and resumed, the learning rate follows the uninterrupted
    run's curve step for step; with --warm-restart the second half is a new 6-step cosine instead."""
    flags = ["--db", str(db_path), "--log-every", "1", "--eval-every", "1000", *FAST]   # warm-up 5, lr 3e-3
    whole, parts, restart = tmp_path / "whole", tmp_path / "parts", tmp_path / "restart"
    assert main(["--out", str(whole), "--steps", "12", *flags]) == 0
    assert main(["--out", str(parts), "--steps", "6", "--schedule-steps", "12", *flags]) == 0
    shutil.copytree(parts, restart)
    assert main(["--out", str(parts), "--steps", "12", *flags]) == 0          # no horizon flag: the checkpoint's
    assert main(["--out", str(restart), "--steps", "12", "--warm-restart", *flags]) == 0
    want = lrs(whole)
    assert len(want) == 12 and want[6] < want[5] < 3e-3                       # decaying after the warm-up
    assert lrs(parts) == pytest.approx(want, rel=1e-9)
    # the warm restart: steps 6..11 run a new cosine over this run's 6 steps, from the peak again
    assert lrs(restart, since=6) == pytest.approx([3e-3 * lr_factor(6 + k, k / 6, 5, 0.05) for k in range(6)])
    assert lrs(restart, since=6)[0] == pytest.approx(3e-3) and want[6] < 0.9 * 3e-3
    assert records(restart)[-1]["kind"] == "eval"
    starts = [r for r in records(restart) if r["kind"] == "start"]
    assert [s["schedule"]["start_step"] for s in starts] == [0, 6]
