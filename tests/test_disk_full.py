"""A full disk loses nothing: each writer ends with one line naming its file and "disk full / file too
large", exit status 1, no hang, and the previous database / checkpoint / results / export is intact
(and a run started again continues from it).

The disk is "filled" without root or mounts: the child process gets a file size limit (RLIMIT_FSIZE,
what `ulimit -f` sets) with SIGXFSZ ignored, so a write past the limit fails with EFBIG."""
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from data.build import build
from data.db import Database
from logo.cli_errors import DISK_FULL

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 240          # a hang is a failure, not a stuck suite


def run_limited(args, limit: int, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Run `python ARGS` in ROOT with files limited to `limit` bytes; kill its whole group on a timeout."""
    def limit_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=limit_files, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{args} still ran after {timeout} s with a full disk (a hang)")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def assert_one_line(r, command: str, path) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1, r.stderr
    assert len(lines) == 1 and lines[0].startswith(f"{command}: {path}: {DISK_FULL}"), r.stderr


def logo(*args) -> list[str]:
    return ["-m", "app.cli", *map(str, args)]


def dump(path):
    with Database(path, create=False) as db:
        assert db.check() == []
        return [(e.entry_id, [p[0] for p in e.programs], e.image.tobytes()) for e in db.entries()]


def test_db_build_stops_cleanly_and_resumes(tmp_path):
    db = tmp_path / "db.sqlite"
    build(db, 300, workers=1, seed=5, chunk_size=100, progress=False)
    before = dump(db)
    r = run_limited(logo("db", "build", db, "--size", 100_000, "--workers", 2, "--seed", 5,
                         "--chunk-size", 100, "--quiet"), limit=os.path.getsize(db) // 2)
    assert_one_line(r, "logo db build", db)
    after = dump(db)                  # readable, whole, and every entry that was there is still there
    assert [(i, im) for i, _, im in after[:len(before)]] == [(i, im) for i, _, im in before]
    assert len(before) <= len(after) < 100_000
    target = len(after) + 200                         # a run started again continues from it
    build(db, target, workers=1, seed=5, chunk_size=100, progress=False)
    build(tmp_path / "straight.sqlite", target, workers=1, seed=5, chunk_size=100, progress=False)
    assert dump(db) == dump(tmp_path / "straight.sqlite")


def test_db_import_keeps_the_database_and_can_be_repeated(tmp_path):
    source, db = tmp_path / "source.sqlite", tmp_path / "db.sqlite"
    build(source, 1000, workers=1, seed=1, chunk_size=500, progress=False)
    build(db, 200, workers=1, seed=2, chunk_size=100, progress=False)
    subprocess.run([sys.executable, *logo("db", "export", source, tmp_path / "all.jsonl")], cwd=ROOT, check=True,
                   capture_output=True)
    before = dump(db)
    straight = tmp_path / "straight.sqlite"
    straight.write_bytes(db.read_bytes())
    r = run_limited(logo("db", "import", db, tmp_path / "all.jsonl", "--batch", 200), limit=os.path.getsize(db) // 2)
    assert_one_line(r, "logo db import", db)
    after = dump(db)
    assert [(i, im) for i, _, im in after[:len(before)]] == [(i, im) for i, _, im in before]
    assert len(after) < 1000              # stopped part of the way
    for target in (db, straight):         # the same import again: as if the disk had never been full
        again = subprocess.run([sys.executable, *logo("db", "import", target, tmp_path / "all.jsonl", "--batch", 200)],
                               cwd=ROOT, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
    assert dump(db) == dump(straight)


def test_db_export_keeps_the_previous_export(tmp_path):
    db, out = tmp_path / "db.sqlite", tmp_path / "db.jsonl"
    build(db, 300, workers=1, seed=3, chunk_size=100, progress=False)
    out.write_text('{"an": "earlier export"}\n')
    r = run_limited(logo("db", "export", db, out), limit=4096)
    assert_one_line(r, "logo db export", out)
    assert out.read_text() == '{"an": "earlier export"}\n'
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []      # no temporary file left


def test_solve_keeps_the_previous_results(tmp_path):
    tasks, out = tmp_path / "tasks.json", tmp_path / "solve"
    tasks.write_text(json.dumps([{"name": "square", "program": "(loop i 4 (move 1 (/ ua 4)))"},
                                 {"name": "line", "program": "(move 2 0)"}]))
    out.mkdir()
    earlier = {"summary": {"an": "earlier run"}, "results": []}
    (out / "results.json").write_text(json.dumps(earlier))
    r = run_limited(logo("solve", "--proposer", "none", "--tasks", tasks, "--budget", 0.1, "--out", out, "--quiet"),
                    limit=256)
    assert_one_line(r, "logo solve", out / "results.json")
    assert json.loads((out / "results.json").read_text()) == earlier


def test_train_checkpoint_keeps_the_previous_one_and_resumes(tmp_path):
    import torch
    from model import checkpoint
    from model.train import main as train
    from data.generate import random_programs
    torch.set_num_threads(1)
    db, out = tmp_path / "db.sqlite", tmp_path / "ckpt"
    with Database(db) as d:
        d.insert_many(random_programs(200, seed=3, p_call=0, max_tokens=30))
    fast = list(map(str, ["--db", db, "--out", out, "--preset", "tiny", "--d-model", "32", "--layers", "1",
                          "--heads", "2", "--batch-size", "8", "--eval-every", "1000", "--threads", "1", "--quiet",
                          "--mutations", "16", "--far-chains", "0", "--warmup", "2"]))
    assert train([*fast, "--steps", "4"]) == 0
    good = checkpoint.latest_path(out)
    assert good.name == "ckpt_00000004.pt"
    r = run_limited(["-m", "model.train", *fast, "--steps", "8", "--ckpt-every", "6"], limit=good.stat().st_size // 2)
    assert_one_line(r, "train", out / "ckpt_00000006.pt")
    assert checkpoint.latest_path(out) == good and not (out / "ckpt_00000006.pt").exists()
    assert torch.load(good, weights_only=True)["step"] == 4
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []     # no temporary file left
    assert train([*fast, "--steps", "8"]) == 0                                      # resumes from step 4
    starts = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [s["step"] for s in starts if s["kind"] == "start"] == [0, 4, 4]
    assert checkpoint.load_latest(out)[2]["step"] == 8


def test_the_message_names_the_file_or_none():
    import errno
    import sqlite3
    from logo.cli_errors import describe, disk_full
    e = OSError(errno.ENOSPC, "No space left on device", "/data/out.json")
    assert describe(e, "db.sqlite") == f"/data/out.json: {DISK_FULL} (No space left on device)"
    bare = OSError(errno.EFBIG, "File too large")          # a write that names no file: no wrong name either
    assert describe(bare, "db.sqlite") == f"{DISK_FULL} (File too large)"
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL
    assert disk_full(full) and describe(full, "db.sqlite") == f"db.sqlite: {DISK_FULL} (SQLite: database or disk is full)"
    assert not disk_full(OSError(errno.EACCES, "Permission denied", "x"))
    assert not disk_full(sqlite3.OperationalError("database is locked"))
