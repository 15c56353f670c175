"""Top-down enumeration alone against the edit search's arms: same targets, same budget, one run.

    .venv/bin/python bench/topdown.py --db DB [--sets dc-train] [--budget 5] [--limit N]
                                      [--arms enum-db,enum-dc,enum-uniform,grammar,none] [--json OUT.json]

Arms:
- enum-db: `dream.search.topdown.enumerate_for_target` with the grammar fitted on DB (`fit_grammar(heads_first=True)`:
  its solutions corpus, else its heads; DreamCoder test programs never);
- enum-dc: the grammar fitted on the DreamCoder *train* programs; on dc-train leave-one-out (the task's own
  program is left out of the fit), on dc-test all 80 (the test split is never fitted on);
- enum-uniform: every production equally likely (the grammar's baseline);
- grammar, none, topdown: `dream.search.solver.Solver` arms on the same database (random grammatical mutations of the
  database neighbours; the start programs alone; the enumerator as `logo solve --proposer topdown` runs it,
  its grammar fitted on the DreamCoder training programs as `Solver.grammar` fits it on a random database);
- ARM+starts (ARM grammar or none): with `--enumerated-starts --starts` (default 8): the programs enumerated
  for --share of the budget nearest the target join the start programs; ARM+len:W: with
  `--length-weight W` (the frontier counts W per token); both: ARM+starts+len:W;
- grammar+pool, none+pool: the same arms on a copy of the database into which the --pool most probable
  distinct drawings of the enumerator were inserted (source "enum"): enumerated programs join the
  database neighbours as start programs (the start-program source, measured with today's solver). The
  pool's grammar is enum-db's on dc-train (no task program leaks in), enum-dc's (all 80 train programs) on
  dc-test.

Every target is tried by every arm before the next target, so machine load drifts equally over the arms;
each arm's CPU seconds are reported next to its wall seconds. Reports solved counts, which tasks one arm
solves that another does not, and the median tokens of solved programs next to the reference programs'.
Tune on dc-train only; dc-test is held out (run it once, for the figure).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba  # noqa: E402

import logo  # noqa: E402
from dream import load_targets  # noqa: E402
from dream.search.topdown import enumerate_for_target, fit_grammar  # noqa: E402
from logo.pcfg import Grammar  # noqa: E402

ENUM_ARMS = ("enum-db", "enum-dc", "enum-uniform")
SOLVER_ARMS = ("grammar", "none", "topdown")
POOL_ARMS = ("grammar+pool", "none+pool")
SETS = {"dc-train": "train", "dc-test": "test"}


def pool_database(db: str, grammar: Grammar, library, n: int, out: Path) -> Path:
    """A copy of `db` with the `n` most probable distinct drawings of `grammar` inserted (source "enum")."""
    import shutil
    from data.db import Database
    from logo.enumeration import Budget, distinct_drawings
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    shutil.copyfile(db, out)
    programs = []
    for d in distinct_drawings(grammar, Budget(seconds=600), library=library):
        programs += d.programs[:n - len(programs)]
        if len(programs) >= n:
            break
    with Database(out) as pdb:
        status: dict = {}
        for i in range(0, len(programs), 5000):
            for r in pdb.insert_many(programs[i:i + 5000], source="enum"):
                status[r.status] = status.get(r.status, 0) + 1
    print(f"pool: {len(programs)} enumerated programs into {out}: {status}", flush=True)
    return out


def parse_arm(arm: str):
    """(base arm, modifiers) of a solver arm name ARM[+starts][+len:W]; None if it is not one."""
    base, *mods = arm.split("+")
    if base not in SOLVER_ARMS:
        return None
    for m in mods:
        if m != "starts":
            try:
                if not (m.startswith("len:") and float(m[4:]) >= 0):
                    return None
            except ValueError:
                return None
    return base, mods


def solver_arm(arm: str, solver, starts: int, share: float):
    """(base arm, Solver) for an arm name ARM[+starts][+len:W]: `solver` with those settings."""
    from dataclasses import replace
    base, mods = parse_arm(arm)
    st = solver.settings
    for m in mods:
        st = (replace(st, enumerated_starts=starts, enumerate_share=share) if m == "starts"
              else replace(st, length_weight=float(m[4:])))
    return base, replace(solver, settings=st)


def run_set(split: str, arms, db: str, budget: float, limit, grammars, library, solver, pool_solver=None,
            solvers=None) -> list[dict]:
    from data import dreamcoder_tasks
    _, targets, _ = load_targets("dreamcoder", split, 32, limit=limit)
    train = {t.name: logo.to_text(t.program) for t in dreamcoder_tasks("train")}
    rows = []
    for i, target in enumerate(targets):
        ref = target.known_program
        for arm in arms:
            c0, w0 = time.process_time(), time.monotonic()
            if arm in solvers or arm in POOL_ARMS:
                if arm in POOL_ARMS:
                    r = pool_solver.solve_one(arm.split("+")[0], target, i)
                else:
                    base, s = solvers[arm]
                    r = s.solve_one(base, target, i)
                if "error" in r:
                    print(f"  {arm}: {r['error']}", flush=True)
                row = {"solved": bool(r["solved"]), "program": r.get("program"), "tokens": r.get("tokens"),
                       "distance": r.get("distance"), "candidates": r.get("candidates"),
                       "start_program": r.get("start_program"), "edit_steps": r.get("edit_steps"),
                       "time_to_solve": r.get("time_to_solve")}
            else:
                if arm == "enum-dc" and split == "train":
                    g = Grammar.fit([p for name, p in train.items() if name != target.name], source="dc-train loo")
                else:
                    g = grammars[arm]
                lib = library if arm == "enum-db" else ()
                r = enumerate_for_target(target.image28, g, budget, library=lib, k=1)
                row = {"solved": r.solved, "program": r.program, "tokens": r.best.tokens if r.best else None,
                       "distance": r.best.distance if r.best else None, "bits": r.best.bits if r.best else None,
                       "enumerated": r.enumerated, "distinct": r.distinct,
                       "time_to_solve": r.time_to_solve}
            row.update({"set": split, "name": target.name, "arm": arm, "cpu_s": round(time.process_time() - c0, 3),
                        "wall_s": round(time.monotonic() - w0, 3), "reference": ref,
                        "reference_tokens": logo.n_tokens(ref) if ref else None})
            rows.append(row)
        done = [r for r in rows if r["name"] == target.name]
        print(f"[{split} {i + 1}/{len(targets)}] {target.name}: "
              + ", ".join(f"{r['arm']} {'Y' if r['solved'] else '-'}" for r in done), flush=True)
    return rows


def report(rows: list[dict], arms) -> dict:
    out = {}
    for split in sorted({r["set"] for r in rows}):
        rs = [r for r in rows if r["set"] == split]
        names = sorted({r["name"] for r in rs})
        solved = {a: {r["name"] for r in rs if r["arm"] == a and r["solved"]} for a in arms}
        print(f"\n{split}: {len(names)} tasks")
        print(f"  {'arm':14} {'solved':>6} {'median tokens (solved)':>23} {'reference (same tasks)':>23} "
              f"{'cpu s/task':>10} {'wall s/task':>11}")
        summary = {}
        for a in arms:
            mine = [r for r in rs if r["arm"] == a]
            ok = [r for r in mine if r["solved"]]
            tok = statistics.median(r["tokens"] for r in ok) if ok else None
            ref = statistics.median(r["reference_tokens"] for r in ok) if ok else None
            cpu = statistics.fmean(r["cpu_s"] for r in mine)
            wall = statistics.fmean(r["wall_s"] for r in mine)
            summary[a] = {"solved": len(ok), "median_tokens": tok, "reference_median_tokens": ref,
                          "cpu_s_per_task": round(cpu, 2), "wall_s_per_task": round(wall, 2)}
            print(f"  {a:14} {len(ok):>6} {tok if tok is not None else '-':>23} {ref if ref is not None else '-':>23} "
                  f"{cpu:>10.2f} {wall:>11.2f}")
        for a in arms:
            for b in arms:
                if a < b:
                    only_a, only_b = solved[a] - solved[b], solved[b] - solved[a]
                    if only_a or only_b:
                        print(f"  {a} not {b}: {len(only_a)}; {b} not {a}: {len(only_b)}")
        union = set().union(*(solved[a] for a in arms if a.startswith("enum"))) | solved.get("grammar", set())
        print(f"  solved by an enum arm or grammar: {len(union)}")
        summary["_solved_sets"] = {a: sorted(s) for a, s in solved.items()}
        out[split] = summary
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="database: start programs of the solver arms; enum-db's corpus")
    ap.add_argument("--sets", default="dc-train", help="comma-separated: dc-train, dc-test")
    ap.add_argument("--arms", default=",".join(ENUM_ARMS + SOLVER_ARMS))
    ap.add_argument("--budget", type=float, default=5.0, help="seconds per target and arm")
    ap.add_argument("--limit", type=int, default=None, help="targets per set, spread over the set")
    ap.add_argument("--json", default=None, help="write every row and the summary here")
    ap.add_argument("--pool", type=int, default=50_000, help="enumerated programs inserted for the +pool arms")
    ap.add_argument("--pool-dir", default="/tmp/topdown-pool", help="where the pooled database copies go")
    ap.add_argument("--starts", type=int, default=8, help="+starts arms: enumerated start programs")
    ap.add_argument("--share", type=float, default=0.4, help="+starts arms: share of the budget enumerating")
    args = ap.parse_args()
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    bad = [a for a in arms if a not in ENUM_ARMS + POOL_ARMS and parse_arm(a) is None]
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    if bad or not arms or any(s not in SETS for s in sets):
        raise SystemExit(f"bench/topdown.py: arms are {', '.join(ENUM_ARMS + SOLVER_ARMS + POOL_ARMS)}; "
                         f"sets are {', '.join(SETS)}")
    load0 = os.getloadavg()
    numba.set_num_threads(1)
    import torch
    torch.set_num_threads(1)
    from data import dreamcoder_tasks
    from dream.search.settings import SearchSettings
    from dream.search.solver import Solver
    g_db, library = fit_grammar(args.db, heads_first=True)
    grammars = {"enum-db": g_db, "enum-uniform": Grammar.uniform(),
                "enum-dc": Grammar.fit([t.program for t in dreamcoder_tasks("train")], source="dc-train")}
    print(f"enum-db grammar: {g_db.meta}")
    settings = SearchSettings(budget_s=args.budget)
    solver = Solver.open(["none"], db=args.db, settings=settings)
    solvers = {a: solver_arm(a, solver, args.starts, args.share) for a in arms
               if a not in ENUM_ARMS + POOL_ARMS}
    if any(a.startswith("topdown") or "+starts" in a for a in arms):
        print(f"Solver grammar (topdown, +starts): {solver.grammar().meta}")
    for g in grammars.values():                     # numba compiled and cached before the clock runs
        enumerate_for_target(dreamcoder_tasks("train")[0].image, g, 1.0, library=library if g is g_db else (),
                             max_programs=500)
    rows = []
    try:
        for s in sets:
            pool_solver = None
            if any(a in POOL_ARMS for a in arms):
                g = grammars["enum-db"] if s == "dc-train" else grammars["enum-dc"]
                path = pool_database(args.db, g, library if s == "dc-train" else (), args.pool,
                                     Path(args.pool_dir) / f"{s}-{args.pool}.sqlite")
                pool_solver = Solver.open(["grammar", "none"], db=path, settings=settings)
            try:
                rows += run_set(SETS[s], arms, args.db, args.budget, args.limit, grammars, library, solver,
                                pool_solver, solvers)
            finally:
                if pool_solver is not None:
                    pool_solver.close()
    finally:
        solver.close()
    summary = report(rows, arms)
    load = [load0, os.getloadavg()]
    print(f"load average (1, 5, 15 min) at the start {load0}, at the end {load[1]}")
    if args.json:
        Path(args.json).write_text(json.dumps({"budget_s": args.budget, "db": args.db, "summary": summary,
                                               "load": load, "starts": args.starts, "share": args.share,
                                               "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
