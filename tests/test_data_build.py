"""Building: reproducible across worker counts, resumable, safe against kills and concurrent access."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from data.build import build
from data.db import Database
from data.novelty import image_hashes

ROOT = Path(__file__).resolve().parents[1]


def _dump(path):
    with Database(path, create=False) as db:
        return [(e.entry_id, e.source, [(p[0], p[1]) for p in e.programs], e.image.tobytes()) for e in db.entries()]


def _writer(path, size, chunk=100, extra=""):
    code = (f"from data.build import build; "
            f"build({str(path)!r}, {size}, workers=1, seed=3, chunk_size={chunk}, progress=False{extra})")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_entries(path, n, proc, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        assert proc.poll() is None, proc.stderr.read().decode()
        if path.exists():
            try:
                with Database(path, create=False) as db:
                    if len(db) >= n:
                        return
            except Exception:
                pass
        time.sleep(0.05)
    raise AssertionError("the writer made no progress")


def test_resume_and_worker_count_give_the_same_database(tmp_path):
    r1 = build(tmp_path / "a.sqlite", 300, workers=1, seed=3, chunk_size=200, progress=False)
    assert r1.entries >= 300 and r1.outcomes["new"] == r1.entries
    r2 = build(tmp_path / "a.sqlite", 600, workers=1, seed=3, chunk_size=200, progress=False)
    assert r2.entries >= 600 and r2.new == r2.entries - r1.entries
    r3 = build(tmp_path / "b.sqlite", 600, workers=2, seed=3, chunk_size=200, progress=False)
    assert r3.entries == r2.entries
    assert _dump(tmp_path / "a.sqlite") == _dump(tmp_path / "b.sqlite")
    again = build(tmp_path / "b.sqlite", 600, workers=2, seed=3, chunk_size=200, progress=False)
    assert again.samples == 0                                  # already big enough: nothing to do
    other = build(tmp_path / "c.sqlite", 300, workers=1, seed=4, chunk_size=200, progress=False)
    assert _dump(tmp_path / "c.sqlite")[:50] != _dump(tmp_path / "a.sqlite")[:50]
    with Database(tmp_path / "a.sqlite") as db:
        st = db.stats()["random"]
        assert st["samples"] == r1.samples + r2.samples
        assert st["new"] == len(db)
        rejected = sum(v for k, v in st.items() if k.startswith("rejected:"))
        assert st["new"] + st["head"] + st["equivalent"] + st["duplicate"] + rejected == st["samples"]
        assert st["rejected:empty"] > 0 and st["rejected:off_canvas"] > 0
    assert other.entries >= 300


def test_killed_writer_leaves_a_consistent_database_that_resumes(tmp_path):
    path = tmp_path / "killed.sqlite"
    proc = _writer(path, 10 ** 6)
    _wait_for_entries(path, 200, proc)
    time.sleep(0.137)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Database(path, create=False) as db:
        assert db.check() == []
        n = len(db)
        assert n >= 200 and db.max_entry_id() == n
        # a chunk's entries, stats and progress are committed together (or not at all)
        stream_chunks = list(db.progress_streams().values())
        assert len(stream_chunks) == 1
        assert db.stats()["random"]["samples"] == stream_chunks[0] * 100
        for e in db.entries():
            keys = [(len(t.replace("(", " ( ").replace(")", " ) ").split()), t) for t in e.equivalents]
            assert keys == sorted(keys) and e.head == e.equivalents[0] and e.image.any()
    # resuming after the kill gives the same database as one uninterrupted run
    target = n + 150
    build(path, target, workers=1, seed=3, chunk_size=100, progress=False)
    build(tmp_path / "straight.sqlite", target, workers=1, seed=3, chunk_size=100, progress=False)
    assert _dump(path) == _dump(tmp_path / "straight.sqlite")


def test_reader_and_second_writer_run_alongside_a_building_process(tmp_path):
    path = tmp_path / "shared.sqlite"
    Database(path).close()
    proc = _writer(path, 1500, chunk=100)
    reader = Database(path, create=False)
    writer = Database(path)
    from data.generate import random_programs
    extra = random_programs(600, seed=99)
    seen, reads, inserted = 0, 0, 0
    while proc.poll() is None or reads < 5:
        n = len(reader)
        assert n >= seen                                        # never goes backwards
        heads = reader.heads(min_id=max(1, n - 200))            # (the writer may have added more since)
        ids = [h[0] for h in heads]
        assert ids == list(range(max(1, n - 200), max(1, n - 200) + len(ids))) and len(ids) >= min(n, 201)
        if heads:
            imgs = reader.images([h[0] for h in heads])
            assert imgs.reshape(len(heads), -1).any(axis=1).all()
        seen = n
        reads += 1
        if inserted < len(extra):                              # a second writer ("dream") at the same time
            writer.insert_many(extra[inserted:inserted + 100], source="dream")
            inserted += 100
        time.sleep(0.01)
    assert proc.returncode == 0, proc.stderr.read().decode()
    assert reads > 5
    writer.close()
    with Database(path, create=False) as db:
        assert db.check() == []
        n = len(db)
        assert n >= 1500 and db.max_entry_id() == n
        stats = db.stats()
        assert stats["dream"]["samples"] == 600 and stats["random"]["samples"] > 0
        imgs = db.images(range(1, n + 1))
        # novelty held across both writers: no two entries share an image
        assert len(set(image_hashes(imgs).tolist())) == n
        assert len(set(h for _, h in db.heads())) == n
    reader.close()


def test_build_uses_the_database_library(tmp_path):
    path = tmp_path / "lib.sqlite"
    with Database(path) as db:
        db.set_library("(define (poly n len) (loop i n (move len (/ ua n))))")
    build(path, 150, workers=1, seed=0, chunk_size=100, progress=False, p_call=0.5)
    with Database(path) as db:
        heads = [h for _, h in db.heads()]
        assert sum("(poly " in h for h in heads) > 20
        assert db.check() == []


def _open_and_insert(args):
    path, k = args
    with Database(path) as db:
        return db.insert(f"(move {k} 0)", source="dream").status


def test_processes_creating_the_same_file_at_once(tmp_path):
    import multiprocessing as mp
    path = str(tmp_path / "race.sqlite")
    pool = mp.get_context("fork").Pool(4)
    statuses = pool.map(_open_and_insert, [(path, k) for k in (1, 2, 3, 4)] * 2)
    pool.close()
    pool.join()
    assert sorted(statuses) == ["duplicate"] * 4 + ["new"] * 4
    with Database(path, create=False) as db:
        assert len(db) == 4 and db.check() == [] and db.stats()["dream"]["samples"] == 8


def test_near_pairs_from_the_workers_give_the_same_decisions(tmp_path):
    from data.build import sample_chunk
    from data.generate import Constraints
    chunks = [sample_chunk(("s", k, 400, Constraints().as_dict(), 32, "", 0.01)) for k in range(4)]
    a, b = Database(tmp_path / "a.sqlite"), Database(tmp_path / "b.sqlite")
    for _, texts, imgs, _, lengths, near in chunks:
        ra = a.insert_rendered(texts, imgs, [None] * len(texts), ["random"] * len(texts), lengths=lengths, near=near)
        rb = b.insert_rendered(texts, imgs, [None] * len(texts), ["random"] * len(texts))
        assert ra == rb
    assert sum(len(n) for c in chunks for n in c[5]) > 0             # the chunks do hold near pairs
    a.close(), b.close()
    assert _dump(tmp_path / "a.sqlite") == _dump(tmp_path / "b.sqlite")


def test_multi_worker_builds_in_a_fresh_process_finish(tmp_path):
    # regressions: faiss used in the parent before forking left an OpenMP pool that hung the workers;
    # Pool.terminate() with chunks still in flight hung now and then (so: many short builds)
    path = tmp_path / "fresh.sqlite"
    code = (f"from data.build import build\n"
            f"for i in range(12): r = build({str(path)!r} + str(i), 300, workers=2, chunk_size=100, progress=False)\n"
            f"print(r.entries)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) >= 300


def test_kill_workers_stops_every_worker_of_a_pool(tmp_path):
    # In a fresh process with a timeout: a pool left behind in pytest's own process (its handler thread
    # respawns killed workers) could hang the suite; a hang here is a failure, not a stuck CI.
    code = textwrap.dedent("""
        import multiprocessing as mp, os, time
        from data.build import _kill_workers

        def dead(pid):   # reaped (by us or the pool's handler thread), or a zombie
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except FileNotFoundError:
                return True

        pool = mp.get_context("fork").Pool(2)
        pids = [p.pid for p in pool._pool]   # (the test may look inside; the code does it in one place)
        assert len(pids) == 2 and not any(dead(p) for p in pids)
        _kill_workers(pool)
        t = time.monotonic()
        while not all(dead(p) for p in pids) and time.monotonic() - t < 10:
            time.sleep(0.05)
        print(all(dead(p) for p in pids), flush=True)
        os._exit(0)    # (the pool's handler has respawned workers; the test kills the whole group)
    """)
    log = tmp_path / "out.txt"
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=120)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    out = log.read_text()
    assert rc == 0, out
    assert out.split()[-1] == "True"


def test_all_tasks_is_the_public_task_list():
    from data.tasks import all_tasks, dreamcoder_tasks
    tasks = all_tasks(28)
    assert len(tasks) == 160 and tasks[0].image.shape == (28, 28)
    assert [t.name for t in dreamcoder_tasks()] == [t.name for t in tasks]
