"""How fast top-down enumeration runs on one core, next to the renderer's own rate on the same programs.

    .venv/bin/python bench/enumerate.py [--programs 50000] [--db DB] [--repeats 3]

For each grammar (fitted on the DreamCoder train programs; uniform; fitted on a database's heads with
--db), the --programs most probable programs are enumerated, and measured in the same process:

- enumerate: `logo.enumeration.enumerate_programs` alone (programs/s);
- enumerate+render: `distinct_drawings` at 28x28: enumerate, assemble the precompiled fragments, run and
  rasterise every program, keep each drawing once (programs/s, and distinct drawings/s);
- renderer: `logo.render_checked` on the same programs (compile from the AST + run + rasterise), and
  `run_compiled` alone on their assembled code (run + rasterise): the rates the enumerator is held against.

CPU seconds of this process (`time.process_time`) are the clock, so other jobs on the machine do not skew
the figures; the wall seconds are printed too. Medians over --repeats, runs interleaved.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba  # noqa: E402

import logo  # noqa: E402
from logo.batch import run_compiled  # noqa: E402
from logo.enumeration import Budget, enumerate_items, distinct_drawings, enumerate_programs  # noqa: E402
from logo.fragments import assemble  # noqa: E402
from logo.pcfg import Grammar  # noqa: E402


def cpu(fn):
    """(result, CPU seconds, wall seconds) of fn()."""
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def measure(g: Grammar, n: int, library) -> dict:
    budget = Budget(programs=n)
    progs, t_enum, w_enum = cpu(lambda: [p for p, _ in enumerate_programs(g, budget, library=library)])

    def pipeline():
        last, kept = None, 0
        for d in distinct_drawings(g, budget, library=library):
            last, kept = d, kept + len(d.programs)
        return last.enumerated, kept
    (n_enum, n_distinct), t_pipe, w_pipe = cpu(pipeline)
    items = list(enumerate_items(g, budget, None, {d.name: d for d in library}, 1.5))
    _, t_render, _ = cpu(lambda: [logo.render_checked(progs[i:i + 2048], 28, library=library)
                                  for i in range(0, len(progs), 2048)])
    batches = [assemble([it[3] for it in items[i:i + 2048]])[0] for i in range(0, len(items), 2048)]
    _, t_run, _ = cpu(lambda: [run_compiled(b, 28) for b in batches])
    return {"programs": len(progs), "distinct": n_distinct, "bits": -g.logp(progs[-1]) / 0.6931471805599453, "enumerate": len(progs) / t_enum,
            "pipeline": n_enum / t_pipe, "distinct_per_s": n_distinct / t_pipe,
            "render_checked": len(progs) / t_render, "run_render": len(progs) / t_run,
            "wall_over_cpu": (w_enum + w_pipe) / (t_enum + t_pipe)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--programs", type=int, default=50_000, help="enumerate this many programs")
    ap.add_argument("--db", default=None, help="also a grammar fitted on this database's heads")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    numba.set_num_threads(1)
    from data import dreamcoder_tasks
    grammars = {"dc-train": (Grammar.fit([t.program for t in dreamcoder_tasks("train")], source="dc-train"), ()),
                "uniform": (Grammar.uniform(), ())}
    if args.db:
        from dream.search.topdown import fit_grammar
        g, lib = fit_grammar(args.db)
        grammars[f"db ({g.meta['source']})"] = (g, lib)
    for g, lib in grammars.values():                  # compile numba, warm caches
        list(distinct_drawings(g, 2000, library=lib))
    runs: dict = {name: [] for name in grammars}
    for _ in range(args.repeats):
        for name, (g, lib) in grammars.items():
            runs[name].append(measure(g, args.programs, lib))
    print(f"one core, CPU seconds, the {args.programs:,} most probable programs, median of {args.repeats} "
          "(rates in programs/s)")
    print(f"{'grammar':24} {'bits':>5} {'distinct':>9} {'enumerate':>10} {'enum+render':>12} {'distinct/s':>11} "
          f"{'render_checked':>15} {'run+raster':>11} {'ratio':>6}")
    for name, rs in runs.items():
        m = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"{name:24} {m['bits']:>5.1f} {m['distinct']:>9,.0f} {m['enumerate']:>10,.0f} {m['pipeline']:>12,.0f} "
              f"{m['distinct_per_s']:>11,.0f} {m['render_checked']:>15,.0f} {m['run_render']:>11,.0f} "
              f"{m['pipeline'] / m['render_checked']:>6.2f}")
    print("ratio = enumerate+render / render_checked (the renderer alone on the same programs); "
          f"wall/CPU on this machine: {statistics.median(r['wall_over_cpu'] for rs in runs.values() for r in rs):.1f}")


if __name__ == "__main__":
    main()
