"""Targets per second with 1, 2, ... local workers and on a local Ray cluster: the same targets, arm and
budget for each, in one run (`dream.search.executor`, the code behind `logo solve --workers N` / `--ray`).

    .venv/bin/python bench/scale.py [--db DB] [--arm enum] [--budget 2] [--limit 16] [--workers 1,2]
                                    [--ray-cpus 2] [--rounds 1] [--json OUT.json]

Targets: --limit DreamCoder training tasks spread over the split; start programs from --db (default: a
2,000-program database built once in runs/bench/scale_db.sqlite). Modes: `--workers` local pools (1 is the
search in this process, as `logo solve --workers 1`; up to the core count) and, if Ray is installed, a new
local Ray cluster of --ray-cpus CPUs (0: none). --rounds repeats every mode in turn (medians reported), so
machine load drifts over all of them alike.

Figures per mode:
  targets/s     targets searched per second of wall time, workers already started (the steady rate;
                a search stops at its budget, or earlier when it solves its target)
  cand/s        candidate programs the searches evaluated per second of wall time (the work done: on a
                busy machine targets/s can scale while the work per target shrinks)
  x1            targets/s relative to 1 worker
  start s       seconds to start the workers (fork or Ray's processes) and warm them (one tiny search each)
  overhead ms   per target: the wall time from handing the target to a worker until its row is back,
                minus the time the search itself took inside the worker (median over the targets)
Then the Ray path's per-target overhead by itself: --overhead-targets tiny searches (budget 0.02 s), one at
a time, on Ray and in this process, alternating; the difference of their median wall times per target.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream.search.executor import Inline, LocalPool, RayPool  # noqa: E402
from dream.search.settings import SearchSettings  # noqa: E402
from dream.search.solver import Solver  # noqa: E402
from dream.search.workers import SolveItem, SolveJob, SolveWorker, starts_for  # noqa: E402

DEFAULT_DB = Path(__file__).resolve().parents[1] / "runs" / "bench" / "scale_db.sqlite"


def build_db(path: Path) -> None:
    from data.db import Database
    from data.generate import random_programs
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.sqlite")
    for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)
    db = Database(tmp, image_size=32)
    db.insert_many(random_programs(2000, seed=1, max_tokens=30))
    db.close()
    os.replace(tmp, path)


def parse_workers(text: str) -> list[int]:
    cores = os.cpu_count() or 1
    try:
        ns = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"bench/scale.py: --workers {text!r}: comma-separated numbers") from None
    bad = [n for n in ns if not 1 <= n <= cores]
    if bad or not ns:
        raise SystemExit(f"bench/scale.py: --workers {text!r}: each from 1 to the {cores} cores of this machine")
    return ns


def items(solver: Solver, targets, arm: str, offset: int = 0):
    return [(i, SolveItem(arm, t, offset + i, tuple(starts_for(solver, t)))) for i, t in enumerate(targets)]


def run_mode(executor, solver: Solver, targets, arm: str) -> dict:
    """Start the executor, warm every worker with one search (of the first target), then time the targets
    (`solver.settings.budget_s` each)."""
    t0 = time.perf_counter()
    executor.start(SolveJob.of(solver, [arm]), local=SolveWorker(solver))
    warm = items(solver, targets[:1] * executor.workers, arm, offset=10_000)
    list(executor.map(warm))
    start_s = time.perf_counter() - t0
    t = time.perf_counter()
    outcomes = list(executor.map(items(solver, targets, arm)))
    wall = time.perf_counter() - t
    rows = [o.value for o in outcomes if o.ok]
    return {"targets": len(outcomes), "failed": len(outcomes) - len(rows), "wall_s": round(wall, 3),
            "targets_per_s": round(len(outcomes) / wall, 3),
            "candidates_per_s": round(sum(r["candidates"] for r in rows) / wall, 1),
            "solved": sum(bool(r["solved"]) for r in rows), "start_s": round(start_s, 2),
            "overhead_ms": round(1000 * statistics.median(o.wall_s - o.run_s for o in outcomes), 2),
            "workers": executor.describe()}


def ray_overhead(solver: Solver, targets, arm: str, n: int) -> dict:
    """Median wall time per tiny target, one at a time, on Ray (1 task at once) and in this process, the
    two paths alternating target by target (so load drifts over both alike)."""
    tiny = items(solver, (targets * (n // len(targets) + 1))[:n], arm, 0.02)
    paths = {"ray": RayPool("auto", 1), "in-process": Inline()}
    times: dict[str, list[float]] = {name: [] for name in paths}
    try:
        for ex in paths.values():
            ex.start(SolveJob.of(solver, [arm]), local=SolveWorker(solver))
            list(ex.map(tiny[:2]))                                     # warm
        for item in tiny:
            for name, ex in paths.items():
                t = time.perf_counter()
                list(ex.map([item]))
                times[name].append(time.perf_counter() - t)
    finally:
        for ex in paths.values():
            ex.close()
    ray_ms, local_ms = (1000 * statistics.median(times[k]) for k in ("ray", "in-process"))
    return {"ray_ms": round(ray_ms, 2), "in_process_ms": round(local_ms, 2), "overhead_ms": round(ray_ms - local_ms, 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    p.add_argument("--db", default=None, help=f"start programs (default: {DEFAULT_DB}, built when missing)")
    p.add_argument("--arm", default="enum", help="the search's proposer (default enum)")
    p.add_argument("--budget", type=float, default=2.0, help="search seconds per target (default 2)")
    p.add_argument("--limit", type=int, default=16, help="DreamCoder training tasks (default 16)")
    p.add_argument("--workers", default="1,2", help="local worker counts, comma-separated (default 1,2)")
    p.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray cluster (default 2; 0: no Ray)")
    p.add_argument("--overhead-targets", type=int, default=40, help="tiny targets for Ray's overhead (default 40)")
    p.add_argument("--rounds", type=int, default=1, help="times every mode runs, in turn (default 1)")
    p.add_argument("--json", dest="json_out", help="write the figures here")
    args = p.parse_args(argv)
    workers = parse_workers(args.workers)
    db = Path(args.db) if args.db else DEFAULT_DB
    if not args.db and not db.exists():
        print(f"bench/scale.py: building {db} (2,000 random programs) ...", flush=True)
        build_db(db)

    from dream.search.targets import load_targets
    # the edit search from the database's start programs (as measured in the README); enumerated starts off
    solver = Solver.open([args.arm], db=db, settings=SearchSettings(enumerated_starts=0, budget_s=args.budget))
    _, targets, _ = load_targets("dreamcoder", "train", solver.image_size, limit=args.limit)
    ray = None
    if args.ray_cpus:
        try:
            import logging
            import ray
            ray.init(address="local", num_cpus=args.ray_cpus, include_dashboard=False, logging_level=logging.ERROR)
        except ImportError:
            print("bench/scale.py: Ray is not installed (pip install -e '.[cluster]'): the Ray mode is skipped")
            ray = None
    modes = [(f"{n} local" if n > 1 else "1 (in process)", n) for n in workers]
    if ray is not None:
        modes.append((f"Ray, {args.ray_cpus} CPUs", "ray"))
    print(f"bench/scale.py: {len(targets)} DreamCoder training tasks, arm {args.arm}, budget {args.budget:g} s, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, modes: {', '.join(m for m, _ in modes)}",
          flush=True)
    results: dict[str, list[dict]] = {m: [] for m, _ in modes}
    try:
        for r in range(args.rounds):
            for name, n in modes:
                ex = RayPool("auto", None) if n == "ray" else (Inline() if n == 1 else LocalPool(n))
                try:
                    got = run_mode(ex, solver, targets, args.arm)
                finally:
                    ex.close()
                results[name].append(got)
                print(f"  round {r + 1} {name:16s} {got['targets_per_s']:7.3f} targets/s "
                      f"{got['candidates_per_s']:9.1f} cand/s  solved {got['solved']:2d}  start {got['start_s']:5.2f} s"
                      f"  overhead {got['overhead_ms']:6.2f} ms", flush=True)
        overhead = ray_overhead(solver, targets, args.arm, args.overhead_targets) if ray is not None else None
    finally:
        solver.close()
        if ray is not None:
            ray.shutdown()

    def med(name, key):
        return statistics.median(x[key] for x in results[name])

    base = med(modes[0][0], "targets_per_s")
    print(f"\n{'mode':18s} {'targets/s':>9s} {'x1':>6s} {'cand/s':>9s} {'start s':>8s} {'overhead ms':>12s}")
    summary = {}
    for name, _ in modes:
        row = {k: med(name, k) for k in ("targets_per_s", "candidates_per_s", "start_s", "overhead_ms", "solved")}
        row["x1"] = round(row["targets_per_s"] / base, 2)
        summary[name] = row
        print(f"{name:18s} {row['targets_per_s']:9.3f} {row['x1']:6.2f} {row['candidates_per_s']:9.1f} "
              f"{row['start_s']:8.2f} {row['overhead_ms']:12.2f}")
    if overhead:
        print(f"\nRay per-target overhead ({args.overhead_targets} tiny targets one at a time): "
              f"{overhead['ray_ms']:.1f} ms per target on Ray vs {overhead['in_process_ms']:.1f} ms in this process "
              f"= {overhead['overhead_ms']:.1f} ms")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
            "arm": args.arm, "budget_s": args.budget, "targets": len(targets), "summary": summary,
            "rounds": results, "ray_overhead": overhead}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
