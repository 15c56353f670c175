"""Throughput of parse + run + render for the 160 DreamCoder tasks at 28x28, next to a plain
Python/numpy implementation of the same work (logo.reference), measured in the same run.

    python bench/render.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numba

import logo
from data.tasks import all_tasks
from logo.batch import run_compiled
from logo.bytecode import compile_batch
from logo.reference import rasterize_reference, run_reference


def rate(fn, n_items: int, repeats: int) -> float:
    """Median items/s over `repeats` timed calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n_items / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--size", type=int, default=28)
    args = ap.parse_args()
    numba.set_num_threads(1)
    tasks = all_tasks(args.size)
    texts = [logo.to_text(t.program) for t in tasks]
    programs = [logo.parse(t) for t in texts]
    n = len(programs)
    batch = compile_batch(programs)

    parse = rate(lambda: [logo.parse(t) for t in texts], n, args.repeats)
    compile_run_render = rate(lambda: logo.render_batch(programs, size=args.size), n, args.repeats)
    run_render = rate(lambda: run_compiled(batch, args.size, draw_off_canvas=True), n, args.repeats)
    end_to_end = rate(lambda: logo.render_batch([logo.parse(t) for t in texts], size=args.size), n, args.repeats)
    subset = programs[::8]
    reference = rate(lambda: [rasterize_reference(run_reference(p), args.size) for p in subset], len(subset), 1)

    print(f"{n} DreamCoder tasks at {args.size}x{args.size}, one core, median of {args.repeats} runs")
    print(f"  parse (lark)                         {parse:>10,.0f} programs/s")
    print(f"  run + render (compiled, numba)       {run_render:>10,.0f} programs/s")
    print(f"  compile + run + render (from AST)    {compile_run_render:>10,.0f} programs/s")
    print(f"  parse + compile + run + render       {end_to_end:>10,.0f} programs/s")
    print(f"  reference: Python run + numpy raster {reference:>10,.1f} programs/s (same sample grid)")
    print(f"  ratio run+render / reference         {run_render / reference:>10,.0f}x")
    print(f"  ratio from-AST / reference           {compile_run_render / reference:>10,.0f}x")


if __name__ == "__main__":
    main()
