"""The `dream` process: next to a writer standing in for `train` on one database, stopped by SIGTERM or
killed with SIGKILL; and `logo solve` on folders with bad images."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import logo
from data.db import Database
from tinymodel import train_tiny
from model import checkpoint

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    pairs = [("(loop i 4 (move (* ul 3) (/ ua 4)))", "(loop i 4 (move (* ul 2) (/ ua 4)))"),
             ("", "(move ul 0)"), ("(move ul 0)", "(move ul (/ ua 4)) (move ul 0)"),
             ("", "(loop i 4 (move ul (/ ua 4)))")]
    model, tok, _ = train_tiny(pairs, seed=1)
    checkpoint.save(d, model, tok, step=1)
    return d


# A second writer (like `logo db build` growing the database) inserting random programs in batches.
WRITER = textwrap.dedent("""
    import sys, time
    from data.db import Database
    from data.generate import random_programs
    db_path, rounds = sys.argv[1], int(sys.argv[2])
    db = Database(db_path)
    total = 0
    for r in range(rounds):
        res = db.insert_many(random_programs(40, seed=100 + r, max_tokens=30), source="random")
        total += sum(x.status in ("new", "head", "equivalent") for x in res)
        time.sleep(0.2)
    print("WRITER", total, flush=True)
""")


def _start_dream(db, ckpt, log, *extra):
    cmd = [sys.executable, "-m", "dream.cli", "--db", str(db), "--ckpt", str(ckpt), "--log", str(log),
           "--targets", "tasks=1,db=1", "--budget", "1.5", "--k", "4", "--grid-every", "2",
           "--wait", "60", "--seed", "0", "--poll-every", "1", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _records(log):
    path = Path(log) / "found.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _reported_inserts(log):
    return [(i["program"], i["status"], i["entry_id"]) for r in _records(log) if r.get("event") == "target"
            for i in r["inserted"] if i["status"] in ("new", "head", "equivalent")]


def _wait_for(pred, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.2)
    return False


def _assert_inserts_present(db, inserts):
    texts = {}
    for program, status, entry_id in inserts:
        e = db.get(entry_id)                       # KeyError if the entry were lost
        texts.setdefault(entry_id, e)
        # kept in the entry's list, unless a shorter program pushed it out of a full list
        assert program in [logo.to_text(logo.parse(t)) for t in e.equivalents] or \
            len(e.equivalents) == db.max_equivalents, (program, e.equivalents)


def test_train_and_dream_on_one_database_then_sigterm(tmp_path, tiny_ckpt):
    """The real `train` (resuming from the tiny checkpoint, saving every 10 steps), `dream` and a second
    writer, all on one database and checkpoint directory at once."""
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    for f in tiny_ckpt.iterdir():
        (ckpt / f.name).write_bytes(f.read_bytes())
    db_path = tmp_path / "db.sqlite"
    db = Database(db_path, image_size=32)
    from data.generate import random_programs
    db.insert_many(["(move ul 0)", "(loop i 4 (move ul (/ ua 4)))", "(loop i 3 (move (* ul 2) (/ ua 3)))"]
                   + random_programs(150, seed=7, max_tokens=30))
    n_start = len(db)
    log = tmp_path / "log"
    dream = _start_dream(db_path, ckpt, log)
    assert _wait_for(lambda: any(r.get("event") == "start" for r in _records(log)), 60)
    train = subprocess.Popen([sys.executable, "-m", "model.train", "--db", str(db_path), "--out", str(ckpt),
                              "--batch-size", "8", "--ckpt-every", "10", "--eval-every", "100000", "--threads", "1",
                              "--steps", "20", "--refresh-every", "10", "--quiet"],
                             cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), "9"], cwd=ROOT, env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    w_out, _ = writer.communicate(timeout=120)
    assert writer.returncode == 0, w_out
    t_out, _ = train.communicate(timeout=120)
    assert train.returncode == 0, t_out
    # let dream finish a few targets after the writer's last checkpoint, then stop it like `logo run` does
    assert _wait_for(lambda: any(r.get("event") == "checkpoint" and r["step"] == 20 for r in _records(log)), 60)
    dream.send_signal(signal.SIGTERM)
    out, _ = dream.communicate(timeout=60)
    assert dream.returncode == 0, out
    recs = _records(log)
    assert recs[-1]["event"] == "stop" and recs[-1]["signal"] is True
    # dream reloaded train's newer checkpoints
    assert recs[0]["event"] == "start" and recs[0]["checkpoint"]["step"] == 1
    steps = [r["step"] for r in recs if r.get("event") == "checkpoint"]
    assert steps and min(steps) >= 10 and steps == sorted(steps), steps
    # nothing either process reported is missing; the file is consistent
    db2 = Database(db_path)
    assert db2.check() == []
    _assert_inserts_present(db2, _reported_inserts(log))
    writer_total = int(w_out.split("WRITER")[1].split()[0])
    assert writer_total > 0
    assert db2.stats()["random"]["new"] >= 1
    n_dream = len([1 for _, s, _ in _reported_inserts(log) if s == "new"])
    assert len(db2) >= n_start + n_dream
    assert sorted(log.glob("grid_*.png"))


def test_dream_killed_loses_nothing_reported(tmp_path, tiny_ckpt):
    db_path = tmp_path / "db.sqlite"
    Database(db_path, image_size=32)     # empty: the first target's path is new
    log = tmp_path / "log"
    dream = _start_dream(db_path, tiny_ckpt, log, "--budget", "0.5")
    try:
        assert _wait_for(lambda: len(_reported_inserts(log)) >= 1, 90), _records(log)
    finally:
        dream.kill()
        dream.communicate(timeout=30)
    reported = _reported_inserts(log)
    db2 = Database(db_path)
    assert db2.check() == []
    _assert_inserts_present(db2, reported)


def test_dream_without_checkpoint_names_the_directory(tmp_path):
    db_path = tmp_path / "db.sqlite"
    Database(db_path, image_size=32).insert("(move ul 0)")
    r = subprocess.run([sys.executable, "-m", "dream.cli", "--db", str(db_path), "--ckpt", str(tmp_path / "nockpt"),
                        "--wait", "0"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "nockpt" in r.stderr and "no checkpoint" in r.stderr


def test_dream_without_a_checkpoint_enumerates_the_training_tasks_and_inserts_what_it_finds(tmp_path):
    """The model-free wake of `logo run` (issue 30): no --ckpt, --proposer auto resolves to the enumerator."""
    db_path = tmp_path / "db.sqlite"
    Database(db_path, image_size=32).insert("(move ul 0)")
    log = tmp_path / "log"
    r = subprocess.run([sys.executable, "-m", "dream.cli", "--db", str(db_path), "--log", str(log),
                        "--targets", "tasks=1,laps=1", "--budget", "1", "--max-targets", "4", "--seed", "1",
                        "--grid-every", "100"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    targets = [x for x in _records(log) if x.get("event") == "target"]
    assert len(targets) == 4 and {x["arm"] for x in targets} == {"topdown"}
    db = Database(db_path, create=False)
    try:
        inserted = [i for x in targets for i in x["inserted"] if i["status"] in ("new", "head", "equivalent")]
        assert inserted                    # what the enumerator found is in the database (KeyError if not)
        for i in inserted:
            assert logo.to_text(logo.parse(i["program"])) in [logo.to_text(logo.parse(t))
                                                             for t in db.get(i["entry_id"]).equivalents]
    finally:
        db.close()
    # `logo run`'s wake: train has written no checkpoint yet; dream enumerates meanwhile instead of waiting
    log2 = tmp_path / "log2"
    r = subprocess.run([sys.executable, "-m", "dream.cli", "--db", str(db_path), "--ckpt", str(tmp_path / "empty"),
                        "--start-without-checkpoint", "--log", str(log2), "--targets", "tasks=1", "--budget", "0.5",
                        "--max-targets", "2", "--wait", "0"], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [x["arm"] for x in _records(log2) if x.get("event") == "target"] == ["topdown", "topdown"]
    # the model's own search still needs a checkpoint, and says so before it starts
    r = subprocess.run([sys.executable, "-m", "dream.cli", "--db", str(db_path), "--proposer", "model"], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--ckpt" in r.stderr


def test_logo_solve_png_folder_with_bad_files(tmp_path, tiny_ckpt):
    folder = tmp_path / "pngs"
    folder.mkdir()
    from logo.pictures import save_png
    save_png(logo.render("(loop i 4 (move (* ul 2) (/ ua 4)))", 28), folder / "a_square.png")
    # another size and colour mode: RGB at 100x100
    big = 255 - logo.render("(move ul 0)", 100)
    Image.fromarray(np.stack([big] * 3, -1), "RGB").save(folder / "b_line_rgb.png")
    (folder / "c_broken.png").write_bytes(b"\x89PNG not really")
    Image.new("L", (28, 28), 255).save(folder / "d_empty.png")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "app.cli", "solve", "--ckpt", str(tiny_ckpt), "--tasks", str(folder),
                        "--budget", "2", "--out", str(out)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr          # some files were unreadable
    assert "c_broken.png" in r.stderr and "d_empty.png" in r.stderr
    res = json.loads((out / "results.json").read_text())
    assert [x["name"] for x in res["results"]] == ["a_square.png", "b_line_rgb.png"]
    assert {Path(u["file"]).name for u in res["summary"]["unreadable"]} == {"c_broken.png", "d_empty.png"}
    for row in res["results"]:
        assert set(row) >= {"solved", "program", "tokens", "iou", "time_to_solve"}
        logo.parse(row["program"])
    assert (out / "sheet.png").exists()
    # a missing checkpoint is an error naming the directory
    r = subprocess.run([sys.executable, "-m", "app.cli", "solve", "--ckpt", str(tmp_path / "missing_ckpt"),
                        "--tasks", str(folder), "--out", str(out)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "missing_ckpt" in r.stderr
