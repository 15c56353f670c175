"""Creating a database is safe under many concurrent openers, also with the CPU cores busy.

Two processes creating the same file at once is what `train` and `dream` do on a first run: the schema
and the WAL switch must happen once, and every other opener must wait for them and then read the file."""
import multiprocessing as mp
import os
import time

import numpy as np

from data.db import Database
from data.generate import run_batch
import logo

PROCESSES = 6
ROUNDS = 25
SHARED = "(move 2 0)"          # every process inserts it: one "new", the others "duplicate"


def _mine(k: int) -> str:
    return f"(loop i {k + 3} (move 1 (/ ua {k + 3})))"       # a different polygon per process


def _hog(stop) -> None:
    while not stop.is_set():        # burn a core, so the openers are descheduled at awkward moments
        sum(i * i for i in range(10_000))


def _opener(root, k, rounds, images, start, errors) -> None:
    for r in range(rounds):
        try:
            start.wait(timeout=120)
        except Exception:            # a broken barrier: another process failed to arrive; stop
            errors.put(f"process {k}: round {r}: the others never arrived")
            return
        try:
            with Database(os.path.join(root, f"r{r:02d}", "db.sqlite")) as db:
                db.insert_many([_mine(k), SHARED], "dream", images)
        except Exception as e:       # noqa: BLE001 - every failure is reported by the test
            errors.put(f"process {k}: round {r}: {type(e).__name__}: {e}")


def race(root, processes: int = PROCESSES, rounds: int = ROUNDS, hogs: int = 2, empty_file: bool = False) -> list[str]:
    """Run `rounds` rounds in which `processes` processes create and insert into one new file at once
    (while `hogs` processes burn CPU); return the problems found (empty when every round is right).
    `empty_file`: each round's file exists already, empty (made by `touch`)."""
    for r in range(rounds):
        os.makedirs(os.path.join(root, f"r{r:02d}"))
        if empty_file:
            open(os.path.join(root, f"r{r:02d}", "db.sqlite"), "wb").close()
    ctx = mp.get_context("fork")
    progs = [_mine(k) for k in range(processes)] + [SHARED]
    imgs, verdict = run_batch([logo.parse(p) for p in progs], 32)
    assert not verdict.any()
    stop, start, errors = ctx.Event(), ctx.Barrier(processes), ctx.Queue()
    hog_procs = [ctx.Process(target=_hog, args=(stop,), daemon=True) for _ in range(hogs)]
    for p in hog_procs:
        p.start()
    workers = [ctx.Process(target=_opener, args=(root, k, rounds, [imgs[k], imgs[-1]], start, errors))
               for k in range(processes)]
    try:
        for p in workers:
            p.start()
        for p in workers:
            p.join(timeout=600)
    finally:
        stop.set()
        for p in workers + hog_procs:
            if p.is_alive():
                p.kill()
            p.join()
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    problems += [f"an opener exited with {p.exitcode}" for p in workers if p.exitcode != 0]
    for r in range(rounds):
        folder = os.path.join(root, f"r{r:02d}")
        files = sorted(os.listdir(folder))      # (the WAL side files stay when two closed at once)
        if [f for f in files if f not in ("db.sqlite-wal", "db.sqlite-shm")] != ["db.sqlite"]:
            problems.append(f"round {r}: files left: {files}")
        if "db.sqlite" not in files:
            continue
        with Database(os.path.join(folder, "db.sqlite"), create=False) as db:
            missing = [p for p in progs if db.entry_of(p) is None]
            samples = db.stats().get("dream", {}).get("samples", 0)
            if missing or len(db) != processes + 1 or samples != 2 * processes or db.check():
                problems.append(f"round {r}: {len(db)} entries, {samples} samples, missing {missing}, "
                                f"check {db.check()}")
    return problems


def test_many_processes_create_the_same_file_under_load(tmp_path):
    t = time.monotonic()
    problems = race(str(tmp_path))
    assert problems == [], "\n".join(problems[:10])
    assert time.monotonic() - t < 300


def test_many_processes_fill_the_same_empty_file(tmp_path):
    problems = race(str(tmp_path), rounds=5, hogs=1, empty_file=True)
    assert problems == [], "\n".join(problems[:10])


def test_a_file_system_without_hard_links_still_creates_once(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "db.sqlite"
    with Database(path, image_size=16) as a, Database(path) as b:
        a.insert("(move 2 0)", "dream")
        assert b.image_size == 16 and len(b) == 1
    assert sorted(os.listdir(tmp_path)) == ["db.sqlite"]


def test_a_folder_that_cannot_be_written_is_named(tmp_path):
    import pytest
    missing = tmp_path / "no" / "such" / "db.sqlite"
    with pytest.raises(FileNotFoundError) as e:
        Database(missing)
    assert e.value.filename == str(missing) and "cannot create the database" in str(e.value)
    assert not (tmp_path / "no").exists()


def test_a_creation_left_by_a_killed_process_is_removed_later(tmp_path):
    stale, fresh = tmp_path / ".db.sqlite.0123456789ab.creating", tmp_path / ".db.sqlite.ba9876543210.creating"
    for p in (stale, fresh):
        p.write_bytes(b"half a database")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    Database(tmp_path / "db.sqlite").close()
    assert not stale.exists() and fresh.exists()       # (a fresh one may be another process's, in progress)
