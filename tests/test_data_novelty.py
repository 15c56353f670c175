"""Image distance, the novelty threshold and the faiss-backed index (exact in flat mode)."""
import numpy as np
import pytest

from data import novelty
from data.novelty import NoveltyIndex, image_distance, same_image


def _blank(s=32):
    return np.zeros((s, s), np.uint8)


def test_distance_values_and_threshold():
    a = _blank()
    b = a.copy()
    b[3, 4] = 255
    assert image_distance(a, a) == 0.0
    assert image_distance(a, b) == pytest.approx(1 / 32)
    assert image_distance(a, b) == image_distance(b, a)
    c = a.copy()
    c[3, 4] = 60                                  # 60/255/32 = 0.0074 <= 0.01
    assert same_image(a, c) and not same_image(a, b)
    with pytest.raises(ValueError):
        image_distance(a, np.zeros((28, 28), np.uint8))


def test_grid_vectors_are_a_lower_bound_of_the_pixel_distance():
    rng = np.random.default_rng(0)
    positive = 0
    for s in (32, 28, 20):
        x = (rng.random((40, s, s)) < 0.1) * rng.integers(0, 256, (40, s, s))
        x = x.astype(np.uint8)
        v = novelty.grid_vectors(x)
        for i in range(0, 40, 2):
            lb = float(((v[i] - v[i + 1]) ** 2).sum())
            exact = float(novelty.sum_sq_dist(x[i], x[i + 1:i + 2])[0])
            assert lb <= exact * (1 + 1e-5) + 1e-6
            positive += lb > 0.05 * exact          # a bound that is not trivially 0
    assert positive >= 50                          # (of 60 pairs): vectors of zeros would pass the bound alone


def _near_dupes(rng, n, s=32):
    """n random sparse images (far apart: the tests perturb copies of them themselves)."""
    base = ((rng.random((n, s, s)) < 0.05) * 255).astype(np.uint8)
    return base


@pytest.mark.parametrize("hnsw_from", [10 ** 9, 50])
def test_index_match_agrees_with_brute_force(hnsw_from):
    rng = np.random.default_rng(1)
    stored = _near_dupes(rng, 200)
    idx = NoveltyIndex(32, hnsw_from=hnsw_from)
    idx.add(np.arange(1, 201), stored)
    assert idx.hnsw == (hnsw_from <= 200)
    queries = stored[rng.integers(0, 200, 60)].copy()
    queries[:20, 0, 0] = np.where(queries[:20, 0, 0] == 0, 70, 185)   # tiny change: still the same image
    queries[20:40, 0, :8] = 255 - queries[20:40, 0, :8]                # a clearly different image
    rows, dist = idx.match(queries)
    radius = novelty.sq_radius(idx.threshold, 32)
    for q, r, d in zip(queries, rows, dist):
        exact = novelty.sum_sq_dist(q, stored)
        within = np.flatnonzero(exact <= radius + 1e-9)
        if len(within) == 0:
            assert r == -1
        else:
            best = within[np.argmin(exact[within])]
            assert r == best
            assert d == pytest.approx(image_distance(q, stored[best]), abs=1e-6)
    assert (rows[:20] >= 0).all() and (rows[20:40] == -1).all()


def test_exact_row_and_nearest():
    rng = np.random.default_rng(2)
    stored = _near_dupes(rng, 100)
    idx = NoveltyIndex(32)
    idx.add(np.arange(11, 111), stored)
    h = novelty.image_hashes(stored[5:6])[0]
    assert idx.exact_row(stored[5], int(h)) == 5
    other = stored[5].copy()
    other[0, 0] ^= 1
    assert idx.exact_row(other, int(h)) == -1     # hash reused, pixels differ: not a match
    q = stored[7].copy()
    q[1, 1] = 255 - q[1, 1]
    got = idx.nearest(q, 5)
    d = np.array([image_distance(q, s) for s in stored])
    order = np.lexsort((np.arange(100), d))[:5]
    assert [g[0] for g in got] == [int(o) + 11 for o in order]
    assert [g[1] for g in got] == pytest.approx(d[order].tolist(), abs=1e-6)


def test_within_batch_groups_links_only_earlier_near_images():
    a = _blank()
    a[10, 5:20] = 255
    b = a.copy()
    b[10, 20] = 50                     # near a
    c = _blank()
    c[20, 5:20] = 255                  # far from both
    groups = novelty.within_batch_groups(np.stack([a, c, b, a]), novelty.THRESHOLD, 32)
    assert [[j for j, _ in g] for g in groups] == [[], [], [0], [0, 2]]
    assert groups[3][0][1] == 0


def test_faiss_part_waits_for_match_and_replays_to_the_same_index():
    """A reader that only asks `nearest` never builds faiss; a writer that matches after every batch and one
    that matches only at the end get the same faiss index (the same search answers)."""
    rng = np.random.default_rng(4)
    stored = _near_dupes(rng, 300)
    batches = [(0, 30), (30, 45), (45, 160), (160, 161), (161, 300)]       # crosses hnsw_from=50 mid-batch
    eager, lazy = NoveltyIndex(32, hnsw_from=50), NoveltyIndex(32, hnsw_from=50)
    for lo, hi in batches:
        for idx in (eager, lazy):
            idx.add(np.arange(lo + 1, hi + 1), stored[lo:hi])
        eager.match(stored[lo:lo + 3])
        assert lazy.nearest(stored[lo], 1) == [(lo + 1, 0.0)]
    assert lazy._faiss.ntotal == 0 and len(lazy._faiss_pending) == len(batches)
    queries = stored[rng.integers(0, 300, 40)].copy()
    queries[:, 0, :4] = 255 - queries[:, 0, :4]
    vec = novelty.grid_vectors(queries)
    a = eager.index.search(vec, 10)
    b = lazy.index.search(vec, 10)
    assert lazy.hnsw and eager.hnsw and lazy._faiss_pending == []
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])
    assert all(np.array_equal(x, y) for x, y in zip(eager.match(queries), lazy.match(queries)))
