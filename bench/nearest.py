"""Benchmark: the start programs' look-up, `Database.nearest`, per target, old brute force vs the sparse index.

    .venv/bin/python bench/nearest.py /tmp/db20k.sqlite /tmp/db200k.sqlite
    .venv/bin/python bench/nearest.py --build 20000          # builds a temporary database first
    .venv/bin/python bench/nearest.py                        # the same (`make bench`; ~2 minutes on 2 cores)

Databases: `logo db build PATH --size N` (200,000 entries take ~5 minutes on 2 cores).  For each database,
in one process, interleaved target by target over the 160 DreamCoder task images (at the database's
image size), `--repeats` times:
  * old: the brute force `NoveltyIndex.nearest` used to be (every stored image to float32, every call);
  * new: `Database.nearest` (the exact sparse index of `data.nearest`).
Prints the median, 90th percentile and maximum wall milliseconds per target and the median CPU
milliseconds (the machine may be shared), the one-off cost of building the index (per database and
process) and its memory, and the agreement with an exact integer brute force:
the same k entries in the same order for how many of the 160 tasks (and with the old code, whose float32
sums can reorder near-ties).
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.db import Database  # noqa: E402
from data.novelty import sum_sq_dist  # noqa: E402
from data.tasks import dreamcoder_tasks  # noqa: E402


def old_nearest(idx, image: np.ndarray, k: int) -> list[tuple[int, float]]:
    """`NoveltyIndex.nearest` before the sparse index: exact brute force in float32, in chunks."""
    best_d, best_r = [], []
    for lo in range(0, idx.n, 65536):
        hi = min(idx.n, lo + 65536)
        d = sum_sq_dist(image, idx.images[lo:hi])
        kk = min(k, hi - lo)
        part = np.argpartition(d, kk - 1)[:kk]
        best_d.append(d[part])
        best_r.append(part + lo)
    d = np.concatenate(best_d)
    r = np.concatenate(best_r)
    order = np.lexsort((r, d))[:k]
    return [(int(idx.ids[r[o]]), float(math.sqrt(max(d[o], 0.0)) / idx.size)) for o in order]


def exact_nearest(idx, image: np.ndarray, k: int) -> list[int]:
    """Entry ids of the k nearest by exact integer sums of squared differences (ties: oldest)."""
    q = image.reshape(1, -1).astype(np.int32)
    parts = []
    for lo in range(0, idx.n, 16384):
        x = idx.images[lo:min(idx.n, lo + 16384)].reshape(-1, q.shape[1]).astype(np.int32) - q
        parts.append(np.einsum("ij,ij->i", x, x))
    d = np.concatenate(parts)
    order = np.lexsort((np.arange(idx.n), d))[:k]
    return [int(idx.ids[o]) for o in order]


def _ms(xs):
    xs = sorted(xs)
    return (f"median {1e3 * statistics.median(xs):7.2f} ms, p90 {1e3 * xs[int(0.9 * (len(xs) - 1))]:7.2f} ms, "
            f"max {1e3 * xs[-1]:7.2f} ms")


def bench(path: str, k: int, repeats: int) -> None:
    db = Database(path, readonly=True)
    t = time.perf_counter()
    idx = db.novelty_index()
    load = time.perf_counter() - t
    s = db.image_size
    images = [t.image for t in dreamcoder_tasks(size=s)]
    t = time.perf_counter()
    db.nearest(images[0], k)                                   # builds the sparse index
    build = time.perf_counter() - t
    mem = idx.nearest_memory_bytes()
    print(f"{path}: {len(db):,} entries at {s}x{s}; reading them into the novelty index {load:.1f} s (its faiss "
          f"part waits for an insert), then building the sparse nearest index {build:.2f} s, {mem / 2 ** 20:.0f} MiB ({mem / max(len(db), 1):.0f} bytes/entry)",
          flush=True)
    old_t, new_t, old_cpu, new_cpu = [], [], [], []
    old_res, new_res = {}, {}
    for _ in range(repeats):
        for i, img in enumerate(images):
            t0, c0 = time.perf_counter(), time.process_time()
            old_res[i] = old_nearest(idx, img, k)
            t1, c1 = time.perf_counter(), time.process_time()
            new_res[i] = db.nearest(img, k)
            t2, c2 = time.perf_counter(), time.process_time()
            old_t.append(t1 - t0)
            new_t.append(t2 - t1)
            old_cpu.append(c1 - c0)
            new_cpu.append(c2 - c1)
    print(f"  old brute force : wall {_ms(old_t)}; CPU median {1e3 * statistics.median(old_cpu):7.2f} ms")
    print(f"  new sparse index: wall {_ms(new_t)}; CPU median {1e3 * statistics.median(new_cpu):7.2f} ms")
    print(f"  new is {statistics.median(old_t) / statistics.median(new_t):.0f}x faster by wall medians, "
          f"{statistics.median(old_cpu) / statistics.median(new_cpu):.0f}x by CPU medians "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", flush=True)
    same_exact = same_old = 0
    for i, img in enumerate(images):
        new, old = new_res[i], old_res[i]
        same_exact += [e for e, _ in new] == exact_nearest(idx, img, k)
        same_old += [e for e, _ in new] == [e for e, _ in old]
        assert all(abs(a[1] - b[1]) < 1e-5 for a, b in zip(new, old)), (i, new, old)
    print(f"  agreement, the same {k} entries in the same order: with an exact integer brute force "
          f"{same_exact}/{len(images)}, with the old code {same_old}/{len(images)}", flush=True)
    db.close()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dbs", nargs="*", help="databases (built by `logo db build`)")
    p.add_argument("--build", type=int, action="append", default=[],
                   help="build a temporary database of this many entries first (repeatable; default 20000 "
                   "when no database is given)")
    p.add_argument("--k", type=int, default=8, help="neighbours per target (default 8, the search's)")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        paths = list(a.dbs)
        for size in a.build or ([] if paths else [20_000]):
            from data.build import build
            path = Path(tmp) / f"db{size}.sqlite"
            build(path, size, seed=0, progress=False)
            paths.append(str(path))
        for path in paths:
            bench(path, a.k, a.repeats)


if __name__ == "__main__":
    main()
