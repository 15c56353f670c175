"""Benchmark: building the image-program database, the novelty check, and reading batches for training.

    .venv/bin/python bench/db.py            # 20k entries, 3 repeats (about 2-3 minutes on 2 cores)
    .venv/bin/python bench/db.py --size 5000 --repeats 1

Prints, each as the median over the repeats, side by side in one process:
  1. `logo db build` from scratch to SIZE entries with all workers vs one worker: samples/s (programs
     generated, rendered and checked for novelty) and accepted new entries/s, with the outcome and
     rejection breakdown.  Reference: the seed's ec3 did ~3.6k samples/s (Python) and ~1.45k (OCaml).
  2. The novelty check against the SIZE stored images: our index (hash + faiss + numba verification)
     vs a naive numpy brute force over all stored images (queries/s, and whether they agree).
  3. Reading for training: images of random entries per second (`Database.images`), and `heads()`.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.build import build, sample_chunk  # noqa: E402
from data.db import Database  # noqa: E402
from data.generate import Constraints  # noqa: E402
from data import novelty  # noqa: E402


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the build's worker processes)."""
    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def bench_build(size: int, workers: int, repeats: int, tmp: Path):
    multi, single, last = [], [], None
    for r in range(repeats):
        for w, out in ((workers, multi), (1, single)):
            path = tmp / f"build_w{w}_{r}.sqlite"
            cpu = _cpu_seconds()
            rep = build(path, size, workers=w, seed=0, progress=False)
            rep.cpu = _cpu_seconds() - cpu
            out.append(rep)
            if w == workers:
                last = path
            print(f"  run {r + 1}/{repeats} workers={w}: {rep.entries} entries from {rep.samples} programs in "
                  f"{rep.seconds:.1f} s = {rep.samples_per_s:,.0f} samples/s, {rep.new_per_s:,.0f} new/s; "
                  f"{rep.cpu:.1f} CPU s = {rep.samples / rep.cpu:,.0f} samples per CPU-second "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    return multi, single, last


def naive_match(stored: np.ndarray, queries: np.ndarray, threshold: float):
    """Brute force: for each query, exact squared distances to every stored image; nearest within threshold."""
    s = stored.shape[1]
    limit = novelty.int_limit(novelty.sq_radius(threshold, s))
    flat = stored.reshape(len(stored), -1).astype(np.int32)
    rows = np.full(len(queries), -1, np.int64)
    for i, q in enumerate(queries):
        d = flat - q.reshape(-1).astype(np.int32)
        d2 = np.einsum("ij,ij->i", d, d)
        j = int(np.argmin(d2))
        if d2[j] <= limit:
            rows[i] = j
    return rows


def bench_novelty(path: Path, n_queries: int, repeats: int):
    db = Database(path)
    idx = db.novelty_index()
    stored = idx.images[:idx.n]
    # queries: drawable programs from a chunk the build never made (same generator, other seed)
    _, _, imgs, _, _, _ = sample_chunk((12345, 0, 4 * n_queries, Constraints().as_dict(), db.image_size, ""))
    queries = np.ascontiguousarray(imgs[:n_queries])
    ours_t, naive_t, naive_q = [], [], min(n_queries, 200)
    for _ in range(repeats):
        t = time.perf_counter()
        hashes = novelty.image_hashes(queries).tolist()
        exact = np.array([idx.exact_row(q, h) for q, h in zip(queries, hashes)])
        miss = np.flatnonzero(exact < 0)
        rows = exact.copy()
        rows[miss] = idx.match(queries[miss])[0]
        ours_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        naive = naive_match(stored, queries[:naive_q], db.threshold)
        naive_t.append(time.perf_counter() - t)
    # the index returns the nearest stored image within the threshold: compare the answers
    agree = float(np.mean((rows[:naive_q] >= 0) == (naive >= 0)))
    found = int((naive >= 0).sum())
    db.close()
    return (n_queries / _median(ours_t), naive_q / _median(naive_t), agree, found, naive_q, idx.hnsw, len(stored))


def bench_read(path: Path, batch: int, repeats: int):
    db = Database(path, create=False)
    n = db.max_entry_id()
    rng = np.random.default_rng(0)
    img_t, head_t = [], []
    for _ in range(repeats):
        ids = rng.integers(1, n + 1, batch)
        t = time.perf_counter()
        db.images(ids)
        img_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        db.heads()
        head_t.append(time.perf_counter() - t)
    db.close()
    return batch / _median(img_t), n / _median(head_t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=20_000, help="entries to build (default 20000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args(argv)
    print(f"bench/db.py: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"size {args.size}, {args.repeats} repeats (medians)")
    with tempfile.TemporaryDirectory(prefix="bench_db_") as d:
        tmp = Path(d)
        print(f"1. build from scratch to {args.size} entries:")
        multi, single, path = bench_build(args.size, args.workers, args.repeats, tmp)
        for name, reps in ((f"{args.workers} workers", multi), ("1 worker ", single)):
            print(f"   {name}: {_median([r.samples_per_s for r in reps]):8,.0f} samples/s  "
                  f"{_median([r.new_per_s for r in reps]):7,.0f} accepted new entries/s  "
                  f"({_median([r.seconds for r in reps]):.1f} s; "
                  f"{_median([r.samples / r.cpu for r in reps]):,.0f} samples per CPU-second)")
        out: Counter = multi[-1].outcomes
        samples = out["samples"]
        print(f"   outcomes of {samples} programs: " + ", ".join(
            f"{k} {out[k]} ({100 * out[k] / samples:.1f}%)" for k in ("new", "head", "equivalent", "duplicate")))
        print("   rejected: " + ", ".join(f"{k.split(':')[1]} {v} ({100 * v / samples:.1f}%)"
                                          for k, v in sorted(out.items()) if k.startswith("rejected:")))
        print("   reference: ec3 (the seed) ~3,600 samples/s in Python, ~1,450 in OCaml; target 36,000 on 2 cores")
        print("   (other processes share these cores: wall-clock rates fall with the load average; samples per "
              "CPU-second do not)")
        ours, naive, agree, found, nq, hnsw, n_stored = bench_novelty(path, args.queries, args.repeats)
        print(f"2. novelty check of {args.queries} new drawings against {n_stored} stored images "
              f"({'faiss HNSW' if hnsw else 'faiss flat'}):")
        print(f"   ours {ours:10,.0f} queries/s   naive numpy brute force {naive:8,.0f} queries/s   "
              f"speed-up {ours / naive:,.0f}x; same answer on {100 * agree:.1f}% of {nq} queries "
              f"({found} of them match a stored image)")
        img_rate, head_rate = bench_read(path, 4096, max(args.repeats, 3))
        print(f"3. reading: images of random entries {img_rate:,.0f}/s (batches of 4096); heads() {head_rate:,.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
