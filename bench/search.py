"""Benchmark: the search's candidates per second per core next to the renderer's own rate on the same
candidate programs, and the start-up per target; the old code and the new interleaved in one run.

    .venv/bin/python bench/search.py --db /tmp/db20k.sqlite --large /tmp/db200k.sqlite
    .venv/bin/python bench/search.py --db /tmp/db20k.sqlite --arms grammar --budget 3    # solved at 3 s
    .venv/bin/python bench/search.py --db /tmp/db20k.sqlite --arms none,enum --same-rounds 20 --only-same
    .venv/bin/python bench/search.py                   # builds a 20,000-entry database first (make bench)

Two worker processes, one per version of the code: "new" is this checkout, "old" is `--old REV` (default
605b330, main before issue 20's items 2-5: every candidate printed, parsed, canonicalised and drawn twice),
extracted with `git archive` into a temporary folder (`--old none`: new only). The driver sends them one
search at a time, target by target, alternating which goes first, so load on a shared machine drifts
equally over both; each worker runs on one core at a time and every time is that process's CPU time.

For each arm (default none, random, enum, grammar) on the 80 DreamCoder test tasks (`--limit` spreads
fewer), every task is searched as `logo solve` does (`dream.search.solver`: start programs, fresh proposer seeded
by the task's index, `--budget` seconds, stop at the first solution). Reported per arm and version:
  * candidates/s and valid/s per core: candidates proposed / distinct programs that ran, per CPU second of
    the searches;
  * renderer/s: the renderer's own rate on the same candidates (up to `--sample` per search, parsed
    beforehand, drawn by `logo.render_checked` at the model's size: compile, run, rasterise), per CPU
    second; the ratio candidates/s / renderer/s is the figure (issue 20 aims at >= 0.15 for grammar);
  * solved tasks (at `--budget` seconds each);
  * "vs db": candidates/s over the renderer's rate on the database's own programs (the issue's first yardstick:
    those are lighter than the candidates a search draws).
Start-up per target, at `--db` and at `--large`: `dream.search.solver.start_programs` (the k nearest entries'
heads) plus building the `Search` (drawing and scoring the start programs), median and p90 CPU ms.
`--same-rounds N` first searches the deterministic arms (none, enum) for N rounds per target (a count, not
seconds: a faster search must not reach further) with both versions and counts the targets where they
find the same program with the same numbers of candidates and valid programs (`--only-same`: only that).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARMS = ("none", "random", "enum", "grammar")
OLD = "605b330"


# ---- the worker: one version of the code -----------------------------------------------------------

class Recording:
    """A proposer that remembers what the one it wraps proposed (for the renderer's rate)."""

    def __init__(self, inner):
        self.inner, self.max_tokens, self.got = inner, inner.max_tokens, []

    def reset(self) -> None:
        self.inner.reset()

    def __call__(self, images_a, images_b, programs_a):
        out = self.inner(images_a, images_b, programs_a)
        for cands in out:
            self.got.extend(cands)
        return out


def renderer_cpu(candidates, size: int, library, sample: int, seed: int) -> tuple[int, float]:
    """(programs drawn, CPU seconds): `logo.render_checked` on up to `sample` of the candidates as trees."""
    import logo
    if len(candidates) > sample:
        candidates = random.Random(seed).sample(candidates, sample)
    trees = []
    for c in candidates:
        try:
            trees.append(logo.parse(c) if isinstance(c, str) else c)
        except (logo.LogoError, RecursionError):
            continue
    if not trees:
        return 0, 0.0
    c0 = time.process_time()
    logo.render_checked(trees, size, library)
    return len(trees), time.process_time() - c0


def worker() -> None:
    """Answer the driver's JSON requests, one per line, until stdin closes."""
    import numba
    numba.set_num_threads(1)
    from dream.search.baselines import NoneProposer
    from dream.search.solver import Solver, build_search, run_search, start_programs
    from dream.search.targets import load_targets
    solver, targets = None, None
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req["cmd"]
        if cmd == "open":
            if solver is not None:
                solver.close()
            c0, w0 = time.process_time(), time.perf_counter()
            solver = Solver.open(list(ARMS), db=req["db"])
            _, targets, _ = load_targets("dreamcoder", "test", solver.image_size, limit=req["limit"])
            reply = {"open_s": time.perf_counter() - w0, "open_cpu_s": time.process_time() - c0,
                     "entries": len(solver.db), "targets": len(targets)}
        elif cmd == "solve":
            i, target = req["index"], targets[req["index"]]
            expand = Recording(solver.proposer(req["arm"], seed=solver.seed * 100_003 + i))
            c0, w0 = time.process_time(), time.perf_counter()
            r = run_search(expand, target, solver.db, solver.settings, library=solver.library, stop_on_solve=True,
                           image_size=solver.image_size, starts=solver.starts, budget_s=req["budget"])
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            drawn, render_cpu = renderer_cpu(expand.got, solver.image_size, solver.library, req["sample"], i)
            reply = {"name": target.name, "solved": bool(r.solved), "program": r.program,
                     "candidates": r.n_candidates, "valid": r.n_valid, "cpu_s": cpu, "wall_s": wall,
                     "drawn": drawn, "render_cpu_s": render_cpu}
        elif cmd == "rounds":                       # deterministic: a number of rounds, not of seconds
            i, target = req["index"], targets[req["index"]]
            expand = solver.proposer(req["arm"], seed=solver.seed * 100_003 + i)
            s = build_search(expand, target, solver.settings, solver.starts(solver.db, target.image, solver.settings.k),
                             library=solver.library, image_size=solver.image_size)
            r = s.run(budget_s=1e9, stop_on_solve=True, max_rounds=req["rounds"])
            reply = {"name": target.name, "solved": bool(r.solved), "program": r.program,
                     "candidates": r.n_candidates, "valid": r.n_valid, "expanded": r.n_expanded}
        elif cmd == "db_render":                    # the renderer on the database's own programs
            import logo
            heads = [logo.parse(text) for _, text in solver.db.heads(limit=req["n"])]
            c0 = time.process_time()
            logo.render_checked(heads, solver.image_size, solver.library)
            reply = {"drawn": len(heads), "cpu_s": time.process_time() - c0}
        elif cmd == "startup":
            target = targets[req["index"]]
            c0 = time.process_time()
            starts = start_programs(solver.db, target.image, solver.settings.k)
            c1 = time.process_time()
            build_search(NoneProposer(), target, solver.settings, starts, library=solver.library,
                         image_size=solver.image_size)
            c2 = time.process_time()
            reply = {"nearest_cpu_s": c1 - c0, "search_cpu_s": c2 - c1, "cpu_s": c2 - c0}
        else:
            reply = {"error": f"unknown command {cmd!r}"}
        print(json.dumps(reply), flush=True)


# ---- the driver ---------------------------------------------------------------------------------------

class Worker:
    """A worker process running the code found under `root`."""

    def __init__(self, label: str, root: Path):
        env = dict(os.environ, PYTHONPATH=str(root), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self.label = label
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker"], cwd=root, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.label} worker stopped (exit {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def old_tree(rev: str, dest: Path) -> Path:
    """The code at commit `rev`, extracted into `dest`."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _ms(xs) -> str:
    xs = sorted(xs)
    return f"median {1e3 * statistics.median(xs):6.1f} ms, p90 {1e3 * xs[int(0.9 * (len(xs) - 1))]:6.1f} ms"


def throughput(workers, db: str, arms, budget: float, limit: int | None, sample: int) -> dict:
    """Every arm on every target by every worker, interleaved; totals per (worker, arm)."""
    for w in workers:
        info = w.ask(cmd="open", db=db, limit=limit)
        print(f"[{w.label}] opened {db}: {info['entries']:,} entries in {info['open_s']:.1f} s; "
              f"{info['targets']} targets", flush=True)
        n_targets = info["targets"]
    for w in workers:                                          # compile and warm up (not counted)
        for arm in arms:
            w.ask(cmd="solve", arm=arm, index=0, budget=0.3, sample=50)
    rates = {w.label: [] for w in workers}
    for rep in range(3):                                       # median of three, interleaved
        for w in (workers if rep % 2 == 0 else workers[::-1]):
            r = w.ask(cmd="db_render", n=20_000)
            rates[w.label].append(r["drawn"] / r["cpu_s"])
    db_rates = {label: statistics.median(v) for label, v in rates.items()}
    for w in workers:
        print(f"[{w.label}] the renderer on the database's first {r['drawn']:,} programs: "
              f"{db_rates[w.label]:,.0f} programs/s per core (median of 3; the issue's yardstick)", flush=True)
    rows = {(w.label, arm): [] for w in workers for arm in arms}
    t0 = time.time()
    for i in range(n_targets):
        for arm in arms:
            order = workers if i % 2 == 0 else workers[::-1]
            for w in order:
                rows[w.label, arm].append(w.ask(cmd="solve", arm=arm, index=i, budget=budget, sample=sample))
        if (i + 1) % 10 == 0 or i + 1 == n_targets:
            print(f"  {i + 1}/{n_targets} targets, {time.time() - t0:.0f} s, load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
    return rows, db_rates


def report_throughput(rows, db_rates, workers, arms) -> dict:
    out = {}
    print(f"\n{'arm':8} {'code':4} {'solved':>6} {'cand/s':>8} {'valid/s':>8} {'renderer/s':>10} {'ratio':>6} "
          f"{'vs db':>6}   (per core: CPU seconds; vs db = cand/s / the renderer's rate on the database)")
    for arm in arms:
        for w in workers:
            rs = rows[w.label, arm]
            cpu = sum(r["cpu_s"] for r in rs) or 1e-9
            cand = sum(r["candidates"] for r in rs) / cpu
            valid = sum(r["valid"] for r in rs) / cpu
            rcpu = sum(r["render_cpu_s"] for r in rs)
            renderer = sum(r["drawn"] for r in rs) / rcpu if rcpu else float("nan")
            ratio = cand / renderer if rcpu else float("nan")
            solved = sum(r["solved"] for r in rs)
            out[f"{arm}/{w.label}"] = {"solved": solved, "targets": len(rs), "candidates_per_s": cand,
                                       "valid_per_s": valid, "renderer_per_s": renderer, "ratio": ratio,
                                       "cpu_s": cpu, "wall_s": sum(r["wall_s"] for r in rs),
                                       "programs": [r["program"] for r in rs], "solved_names":
                                       [r["name"] for r in rs if r["solved"]]}
            out[f"{arm}/{w.label}"]["ratio_db"] = cand / db_rates[w.label]
            print(f"{arm:8} {w.label:4} {solved:>3}/{len(rs):<2} {cand:8.0f} {valid:8.0f} {renderer:10.0f} "
                  f"{ratio:6.3f} {cand / db_rates[w.label]:6.3f}")
        if len(workers) == 2:
            old, new = out[f"{arm}/old"], out[f"{arm}/new"]
            if old["candidates_per_s"]:
                print(f"{'':8} new/old: candidates/s x{new['candidates_per_s'] / old['candidates_per_s']:.2f}, "
                      f"valid/s x{new['valid_per_s'] / max(old['valid_per_s'], 1e-9):.2f}; solved by old only "
                      f"{sorted(set(old['solved_names']) - set(new['solved_names']))}, by new only "
                      f"{sorted(set(new['solved_names']) - set(old['solved_names']))}")
    return out


def same_results(workers, db: str, arms, rounds: int, limit: int | None) -> dict:
    """The deterministic arms searched for `rounds` rounds (not seconds) by both versions: the programs
    found, candidates and valid programs must be the same."""
    for w in workers:
        n_targets = w.ask(cmd="open", db=db, limit=limit)["targets"]
    out = {}
    for arm in arms:
        rows = {w.label: [w.ask(cmd="rounds", arm=arm, index=i, rounds=rounds) for i in range(n_targets)]
                for w in workers}
        old, new = rows["old"], rows["new"]
        same = [a["program"] == b["program"] for a, b in zip(old, new)]
        counts = [(a["candidates"], a["valid"]) == (b["candidates"], b["valid"]) for a, b in zip(old, new)]
        out[arm] = {"targets": n_targets, "same_program": sum(same), "same_counts": sum(counts),
                    "solved_old": sum(r["solved"] for r in old), "solved_new": sum(r["solved"] for r in new),
                    "differ": [a["name"] for a, ok in zip(old, same) if not ok]}
        print(f"  {arm:8} {rounds} rounds: same best program on {sum(same)}/{n_targets} targets, same "
              f"candidates and valid counts on {sum(counts)}/{n_targets}; solved old {out[arm]['solved_old']}, "
              f"new {out[arm]['solved_new']}" + (f"; differ: {out[arm]['differ']}" if out[arm]["differ"] else ""),
              flush=True)
    return out


def startup(workers, db: str, limit: int | None, repeats: int) -> dict:
    """Start-up CPU time per target with this database, interleaved over the workers."""
    for w in workers:
        info = w.ask(cmd="open", db=db, limit=limit)
        n_targets = info["targets"]
        print(f"[{w.label}] opened {db}: {info['entries']:,} entries in {info['open_s']:.1f} s "
              f"(CPU {info['open_cpu_s']:.1f} s, once per process)", flush=True)
        w.ask(cmd="startup", index=0)                              # builds the nearest index
    times = {w.label: {"nearest": [], "search": [], "total": []} for w in workers}
    for rep in range(repeats):
        for i in range(n_targets):
            for w in (workers if (i + rep) % 2 == 0 else workers[::-1]):
                r = w.ask(cmd="startup", index=i)
                times[w.label]["nearest"].append(r["nearest_cpu_s"])
                times[w.label]["search"].append(r["search_cpu_s"])
                times[w.label]["total"].append(r["cpu_s"])
    for w in workers:
        t = times[w.label]
        print(f"  start-up per target [{w.label}]: {_ms(t['total'])} (nearest heads {_ms(t['nearest'])}; "
              f"drawing and scoring the starts {_ms(t['search'])})")
    return {w.label: {k: statistics.median(v) for k, v in times[w.label].items()} for w in workers}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--db", help="database for the searches and the first start-up figure (default: build "
                   "one of --build entries)")
    p.add_argument("--large", help="a larger database for the second start-up figure (e.g. 200,000 entries)")
    p.add_argument("--build", type=int, default=20_000, help="entries of the database built when --db is not "
                   "given (default %(default)s)")
    p.add_argument("--arms", default=",".join(ARMS), help="comma-separated arms (default %(default)s)")
    p.add_argument("--budget", type=float, default=1.0, help="seconds per task (default %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="DreamCoder test tasks (default all 80)")
    p.add_argument("--sample", type=int, default=400, help="candidates per search drawn for the renderer's "
                   "rate (default %(default)s)")
    p.add_argument("--startup-repeats", type=int, default=2)
    p.add_argument("--same-rounds", type=int, default=0, help="also search the deterministic arms (none, enum) "
                   "for this many rounds with both versions and compare the programs found (default off)")
    p.add_argument("--only-same", action="store_true", help="only the --same-rounds comparison")
    p.add_argument("--old", default=OLD, help="commit of the old code (default %(default)s; 'none': new only)")
    p.add_argument("--json", help="write every figure here")
    a = p.parse_args(argv)
    if a.worker:
        return worker()
    arms = [x.strip() for x in a.arms.split(",") if x.strip()]
    bad = [x for x in arms if x not in ARMS]
    if bad:
        p.error(f"unknown arm(s) {bad}; choose from {', '.join(ARMS)}")
    with tempfile.TemporaryDirectory() as tmp:
        db = a.db
        if db is None:
            from data.build import build
            db = str(Path(tmp) / f"db{a.build}.sqlite")
            print(f"building a {a.build:,}-entry database ...", flush=True)
            build(db, a.build, seed=0, progress=False)
        workers = [Worker("new", ROOT)]
        if a.old != "none":
            workers.insert(0, Worker("old", old_tree(a.old, Path(tmp) / "old")))
        print(f"workers: {', '.join(w.label for w in workers)} (old = {a.old}); {os.cpu_count()} cores, load "
              f"average {os.getloadavg()[0]:.1f}", flush=True)
        try:
            results = {"budget_s": a.budget, "db": db, "old": a.old}
            if a.same_rounds and len(workers) == 2:
                print(f"\nthe deterministic arms, {a.same_rounds} rounds per target, old and new:")
                results["same_results"] = same_results(workers, db, [x for x in arms if x in ("none", "enum")],
                                                       a.same_rounds, a.limit)
            if not a.only_same:
                rows, db_rates = throughput(workers, db, arms, a.budget, a.limit, a.sample)
                results.update(renderer_on_db_per_s=db_rates, arms=report_throughput(rows, db_rates, workers, arms))
                print("\nstart-up per target (CPU):")
                results["startup"] = {db: startup(workers, db, a.limit, a.startup_repeats)}
                if a.large:
                    results["startup"][a.large] = startup(workers, a.large, a.limit, a.startup_repeats)
        finally:
            for w in workers:
                w.close()
        print(f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if a.json:
            Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
