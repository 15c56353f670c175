"""`Database.nearest` / `data.nearest`: the exact k nearest stored images, as a brute force finds them."""
import numpy as np
import pytest

import logo
from data.build import build
from data.db import Database
from data.nearest import NearestIndex
from data.novelty import NoveltyIndex, image_distance
from data.tasks import dreamcoder_tasks


def sq_dists(stored: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Integer sums of squared pixel differences between one image and each stored one."""
    return ((stored.reshape(len(stored), -1).astype(np.int64) - image.reshape(-1).astype(np.int64)) ** 2).sum(1)


def brute_force(stored: np.ndarray, image: np.ndarray, k: int, d: np.ndarray | None = None):
    """Rows and integer sums of squared differences of the k nearest, ties to the lowest row."""
    d = sq_dists(stored, image) if d is None else d
    order = np.lexsort((np.arange(len(d)), d))[:k]
    return order.tolist(), d[order].tolist()


def _drawings(rng, n, s=32, ink=0.06):
    """Sparse grey-level images with many exact duplicates and near-ties (so the tie order is tested)."""
    x = ((rng.random((n, s, s)) < ink) * rng.integers(1, 256, (n, s, s))).astype(np.uint8)
    x[rng.integers(0, n, n // 5)] = x[rng.integers(0, n, n // 5)]       # duplicates at other rows
    x[rng.integers(0, n, 3)] = 0                                          # blank images
    return x


@pytest.mark.parametrize("tail_rows, chunk_rows", [(1, 40), (7, 50), (64, 100), (10 ** 6, None), (30, None)])
def test_sparse_index_is_exact_while_rows_arrive(tail_rows, chunk_rows):
    rng = np.random.default_rng(tail_rows)
    stored = _drawings(rng, 600)
    idx = NearestIndex(32, tail_rows=tail_rows, chunk_rows=chunk_rows)
    queries = np.concatenate([_drawings(rng, 12), stored[rng.integers(0, 600, 6)],
                              np.full((1, 32, 32), 255, np.uint8), np.zeros((1, 32, 32), np.uint8)])
    dists = [sq_dists(stored, q) for q in queries]
    n = 0
    for step in (1, 2, 5, 40, 3, 100, 200, 249):          # batches of every size: chunks filled, re-encoded
        n += step
        buf = np.zeros((n + 17, 32, 32), np.uint8)       # a fresh array each time, like a reallocating owner
        buf[:n] = stored[:n]
        idx.sync(buf, n)
        assert len(idx) == n and idx.sparse_rows <= n and n - idx.sparse_rows < tail_rows
        for q, dq in zip(queries, dists):
            for k in (1, 8, 70, n + 5):                   # 70 > SCAN_K: the partition path
                rows, d = idx.nearest(buf, q, k)
                assert (rows.tolist(), d.tolist()) == brute_force(stored[:n], q, k, dq[:n])
    chunks = [hi - lo for lo, hi, *_ in idx.chunks]
    assert sum(chunks) == idx.sparse_rows and all(c == idx.chunk_rows for c in chunks[:-1])
    assert (len(chunks) > 1) == (chunk_rows is not None) and (chunks == []) == (tail_rows > 600)


def test_sparse_index_keeps_large_images_exact():
    rng = np.random.default_rng(0)
    stored = np.full((5, 200, 200), 255, np.uint8)       # 200^2 * 255^2 > 2^31: sums in int64
    stored[1:, :50] = 0
    stored[3] = stored[1]
    idx = NearestIndex(200, tail_rows=2)
    with pytest.raises(ValueError):
        NearestIndex(32, chunk_rows=65537)
    idx.sync(stored, 5)
    q = rng.integers(0, 256, (200, 200)).astype(np.uint8)
    rows, d = idx.nearest(stored, q, 5)
    assert (rows.tolist(), d.tolist()) == brute_force(stored, q, 5)


def test_novelty_index_nearest_gives_entry_ids_and_distances():
    rng = np.random.default_rng(3)
    stored = _drawings(rng, 300)
    idx = NoveltyIndex(32)
    idx.add(np.arange(101, 251), stored[:150])
    q = stored[40]
    got = idx.nearest(q, 4)
    rows, _ = brute_force(stored[:150], q, 4)
    assert [e for e, _ in got] == [r + 101 for r in rows]
    assert [d for _, d in got] == pytest.approx([image_distance(q, stored[r]) for r in rows], abs=1e-6)
    idx.add(np.arange(251, 401), stored[150:])          # rows added after a look-up are found too
    rows, _ = brute_force(stored, q, 10)
    assert [e for e, _ in idx.nearest(q, 10)] == [r + 101 for r in rows]
    assert idx.nearest(q, 0) == [] and NoveltyIndex(32).nearest(q, 3) == []


@pytest.fixture(scope="module")
def task_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("nearest") / "db.sqlite"
    build(path, 3000, workers=1, seed=5, progress=False)
    return path


def test_start_programs_of_the_160_tasks_are_the_brute_force_nearest(task_db):
    """The search's start programs (k = 8 nearest entries) for every DreamCoder task, through
    `Database.nearest`, are exactly a brute force's (same entries, same order, same distances)."""
    db = Database(task_db, readonly=True)
    assert len(db) >= 2900
    ids = np.array(db.entry_ids())
    stored = db.images(ids)
    flat = stored.reshape(len(stored), -1).astype(np.int32)
    tasks = dreamcoder_tasks(size=32)
    assert len(tasks) == 160
    for t in tasks:
        got = db.nearest(t.image, 8)
        diff = flat - t.image.reshape(-1).astype(np.int32)
        rows, _ = brute_force(stored, t.image, 8, np.einsum("ij,ij->i", diff, diff))
        assert [e for e, _ in got] == ids[rows].tolist(), t.name
        assert [d for _, d in got] == pytest.approx([image_distance(t.image, stored[r]) for r in rows], abs=1e-6)


def test_a_reader_sees_entries_a_writer_inserts_after_its_first_look_up(tmp_path):
    path = tmp_path / "db.sqlite"
    writer = Database(path)
    writer.insert_many([f"(move {i} 0)" for i in range(1, 6)], source="random")
    reader = Database(path, readonly=True)
    q = logo.render("(loop i 4 (move ul (/ ua 4)))", size=32)
    before = reader.nearest(q, 3)
    assert len(before) == 3
    res = writer.insert("(loop i 4 (move ul (/ ua 4)))")
    assert res.status == "new"
    assert reader.nearest(q, 1) == [(res.entry_id, 0.0)]                       # refreshed with the new row
    assert writer.nearest(q, 4)[1:] == reader.nearest(q, 4)[1:] == before      # writer's own index too
