"""Our compressor (library/) and Stitch (stitch_core), side by side on the same corpora.

    .venv/bin/python bench/compress.py [--iterations 10] [--max-arity 3] [--db PATH] [--repeat 1]

Corpora:
  1. Stitch's own LOGO benchmark input `bench/corpora/logo_iteration_1.json` (DreamCoder λ-calculus
     programs, 80 tasks / 380 programs; copied from mlb2251/stitch data/dc/), read in the generic
     s-expression mode by both tools.
  2. The Stitch paper's DreamCoder LOGO inputs (bench/corpora/compression_benchmark, 10 files; totals).
  3. "ours": programs exported from our database (entries' equivalents lists grouped by entry, so the
     cheapest program per entry counts): --db PATH, or else a fresh database filled with random programs
     (data.generate) and the 160 DreamCoder tasks.  Both tools get the same continuation-passing λ-terms
     (library/logo_mode.py); ours runs twice: in generic mode (same search space as Stitch) and in Logo
     mode (only numeric parameters, procedure bodies are statement runs: what `logo compress` learns).

Cost is Stitch's default (100 per symbol/variable, 1 per application/lambda), summed over tasks of the
cheapest program; ratio = cost before / cost after. Time is wall-clock of the compression call.
Install the bench extra first: `.venv/bin/pip install stitch-core==0.1.29`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import logo  # noqa: E402
import library  # noqa: E402
from library import sexpr  # noqa: E402
from library.core import Store  # noqa: E402
from library.logo_mode import LogoEncoder, Unsupported  # noqa: E402


def best_of(repeat: int, compress):
    """(the last result of `compress()`, its fastest time in seconds) over `repeat` runs."""
    best = r = None
    for _ in range(repeat):
        t = time.perf_counter()
        r = compress()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return r, best


def run_stitch(programs, tasks, iterations, max_arity, repeat):
    try:
        import stitch_core
    except ImportError:
        return None
    r, best = best_of(repeat, lambda: stitch_core.compress(programs, iterations=iterations, max_arity=max_arity,
                                                           tasks=tasks))
    j = r.json
    return {"before": j["original_cost"], "after": j["final_cost"], "ratio": j["compression_ratio"],
            "seconds": best, "n": len(j["abstractions"])}


def run_ours(programs, tasks, iterations, max_arity, repeat):
    r, best = best_of(repeat, lambda: library.compress_programs(programs, iterations=iterations,
                                                                max_arity=max_arity, tasks=tasks))
    return {"before": r.cost_before, "after": r.cost_after, "ratio": r.ratio, "seconds": best,
            "n": len(r.abstractions)}


def run_ours_logo(progs, tasks, iterations, max_arity, repeat):
    r, best = best_of(repeat, lambda: library.compress(progs, iterations=iterations, max_arity=max_arity,
                                                       tasks=tasks))
    rep = r.report
    return {"before": rep["cost_before"], "after": rep["cost_after"], "ratio": rep["ratio"], "seconds": best,
            "n": len(r.defs)}


def our_corpus(db_path: str | None, n_random: int, seed: int):
    """(Logo programs, task labels, description)."""
    from data.db import Database
    from data.generate import random_programs
    if db_path is None:
        tmpdir = tempfile.TemporaryDirectory(prefix="bench_compress_")
        db = Database(Path(tmpdir.name) / "db.sqlite")
        from data import dreamcoder_tasks
        db.insert_many([t.program for t in dreamcoder_tasks()], source="task")
        db.insert_many(random_programs(n_random, seed=seed), source="random")
        desc = f"fresh database: 160 DreamCoder tasks + {n_random} random programs (seed {seed})"
    else:
        db = Database(db_path, create=False)
        desc = f"database {db_path}"
    progs, tasks = [], []
    for e in db.entries():
        for text in e.equivalents:
            progs.append(logo.parse(text))
            tasks.append(e.entry_id)
    db.close()
    if db_path is None:
        tmpdir.cleanup()
    return progs, tasks, desc + f" -> {len(set(tasks))} entries, {len(progs)} programs"


def to_sexprs(progs, tasks):
    st = Store()
    enc = LogoEncoder(st)
    out, out_tasks, kept = [], [], []
    for p, t in zip(progs, tasks):
        try:
            out.append(sexpr.show(st, enc.program(p)))
        except Unsupported:
            continue
        out_tasks.append(str(t))
        kept.append(p)
    return out, out_tasks, kept


def row(corpus, tool, r, ref=None):
    if r is None:
        print(f"{corpus:<26} {tool:<22} {'(stitch_core not installed: pip install stitch-core==0.1.29)'}")
        return
    rel = ""
    if ref is not None:
        rel = f"  time x{r['seconds'] / ref['seconds']:.1f}, ratio {r['ratio'] / ref['ratio']:.3f} of stitch's"
    print(f"{corpus:<26} {tool:<22} {r['before']:>9,} {r['after']:>9,} {r['ratio']:>7.3f} {r['seconds']:>8.2f}s"
          f" {r['n']:>4}{rel}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--max-arity", type=int, default=3)
    ap.add_argument("--db", default=None, help="database to export 'our' corpus from")
    ap.add_argument("--random", type=int, default=800, help="random programs in the fresh database")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="best of N timings")
    ap.add_argument("--no-suite", action="store_true", help="skip the compression_benchmark files")
    args = ap.parse_args(argv)
    it, ar = args.iterations, args.max_arity
    print(f"iterations {it}, max arity {ar}; cost = Stitch's default, summed over tasks' cheapest programs")
    print(f"{'corpus':<26} {'tool':<22} {'before':>9} {'after':>9} {'ratio':>7} {'time':>9} {'abs':>4}")

    data = json.loads((ROOT / "bench/corpora/logo_iteration_1.json").read_text())
    programs, tasks, _ = sexpr.from_dreamcoder_json(data)
    st = run_stitch(programs, tasks, it, ar, args.repeat)
    row("stitch logo_iteration_1", "stitch_core 0.1.29", st)
    row("stitch logo_iteration_1", "ours (generic)", run_ours(programs, tasks, it, ar, args.repeat), st)

    if not args.no_suite:
        # the Stitch paper's DreamCoder LOGO inputs (bench/corpora/compression_benchmark): totals over all files
        tot = {"stitch": [0, 0, 0.0], "ours": [0, 0, 0.0]}
        files = sorted((ROOT / "bench/corpora/compression_benchmark").glob("*/bench*.json"))
        have_stitch = True
        for f in files:
            p, t, _ = sexpr.from_dreamcoder_json(json.loads(f.read_text()))
            a = run_stitch(p, t, it, ar, args.repeat)
            b = run_ours(p, t, it, ar, args.repeat)
            if a is None:
                have_stitch = False
            else:
                tot["stitch"] = [x + y for x, y in zip(tot["stitch"], (a["before"], a["after"], a["seconds"]))]
            tot["ours"] = [x + y for x, y in zip(tot["ours"], (b["before"], b["after"], b["seconds"]))]
        ref = None
        label = f"paper suite ({len(files)} files)"
        for tool, key in (("stitch_core 0.1.29", "stitch"), ("ours (generic)", "ours")):
            if key == "stitch" and not have_stitch:
                row(label, tool, None)
                continue
            before, after, secs = tot[key]
            r = {"before": before, "after": after, "ratio": before / after, "seconds": secs, "n": it * len(files)}
            row(label, tool, r, ref)
            ref = r if key == "stitch" else ref

    progs, ptasks, desc = our_corpus(args.db, args.random, args.seed)
    sx, sx_tasks, kept = to_sexprs(progs, ptasks)
    print(f"ours: {desc}")
    st2 = run_stitch(sx, sx_tasks, it, ar, args.repeat)
    row("ours (CPS λ-terms)", "stitch_core 0.1.29", st2)
    row("ours (CPS λ-terms)", "ours (generic)", run_ours(sx, sx_tasks, it, ar, args.repeat), st2)
    row("ours (Logo AST)", "ours (Logo mode)", run_ours_logo(kept, sx_tasks, it, ar, args.repeat), st2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
