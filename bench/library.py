"""Does the learned library pay? The same search with the library off and on, side by side.

    python bench/library.py --db runs/db.sqlite --learn --tasks 20 --mnist 10 --budget 3 --out runs/bench_library

1. (--learn) Solve: the DreamCoder *training* tasks (and --learn-mnist MNIST training digits) are searched
   with the proposer, library off, --learn-budget seconds each. Their solutions go into a copy of the
   database (source "dream", as `dream` would insert them) and the library is learned from them
   (`library.solutions.learn_from_solutions`: one program per solved target; test tasks and held-out
   digits never enter), which also inserts the rewritten solutions (source "library").
   Without --learn the database's own library is used as it is.
2. Compare (`app.library_arms`): DreamCoder *test* tasks (--tasks, spread over the split) and held-out
   MNIST digits (--mnist), each searched in both arms with the same proposer, budget, search settings
   (the flags of `logo solve`: --k, --batch, --samples, --beam, ...) and database, by `dream.search.solver.Solver`.
   The proposer is the checkpoint's model with --ckpt, else a model-free arm of `dream.search.baselines`
   (default `grammar`, which can insert calls to the library's procedures; as many candidates per
   expansion as the model proposes: --samples plus --beam). With --learn, the enumerator (`topdown`, and
   --enumerated-starts) uses a grammar fitted on the solutions (off) and one fitted on their library
   rewrites, each procedure one production (on): DreamCoder's generative model.

Prints solved, mean IoU and mean solution length (tokens, calls included, procedure bodies not) per arm
and writes OUT/library_bench.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# run as a script, this file's folder comes first on the path and its name would hide the `library` package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def open_solver(args, proposer: str, db_path: Path):
    from app.library_arms import open_solver
    from dream.search.settings import SearchSettings
    from dream.search.solver import SolveError
    try:
        return open_solver(db_path, proposer, args.ckpt, args.device, SearchSettings.from_args(args), args.seed)
    except SolveError as e:
        raise SystemExit(f"bench/library.py: {e}") from None


def learn(args, db_path: Path, proposer: str, echo) -> dict:
    """Solve the training targets (library off), insert the solutions, learn the library from them."""
    from app.library_arms import run_arm
    from data.db import Database
    from dream.search.targets import mnist_targets
    from library.corpus import Solution
    from library.solutions import learn_from_solutions
    from app.solve import load_targets
    solver = open_solver(args, proposer, db_path)
    try:
        size = solver.image_size
        _, train, _ = load_targets("dreamcoder", "train", size, args.learn_tasks)
        targets = list(train)
        if args.learn_mnist:
            targets += mnist_targets("train", size, args.mnist_root, args.learn_mnist)
        t0 = time.monotonic()
        learning = solver.variant(library=solver.library, starts=solver.starts,
                                  settings=replace(solver.settings, budget_s=args.learn_budget))
        rows = run_arm(learning, "off", proposer, targets, echo)
    finally:
        solver.close()
    db = Database(db_path)
    try:
        sols = [Solution(r["name"], r["program"], "dream", r["solved"], r["distance"], t.kind,
                         "train" if t.kind == "tasks" else "")
                for r, t in zip(rows, targets) if "error" not in r]
        solved = [s.program for s in sols if s.solved]
        if solved:
            db.insert_many(solved, source="dream")
        rnd = learn_from_solutions(sols, db.library(), args.iterations, args.max_arity,
                                   out_dir=db_path.parent / "library", db=db, mnist_max_distance=args.mnist_max_distance)
    finally:
        db.close()
    rep = rnd.report
    return {"targets": len(targets), "solved": sum(r["solved"] for r in rows),
            "corpus_targets": rep["corpus_targets"], "new": rep["new"], "active": rep["active"],
            "retired": rep["retired"], "tokens_before": rep["tokens_before"], "tokens_after": rep["tokens_after"],
            "library_file": rep.get("library_file"), "inserted": rep.get("inserted"),
            "seconds": round(time.monotonic() - t0, 1), "library": [logo_text(d) for d in rnd.active],
            "uses": rep["uses"], "programs": list(rnd.originals), "rewritten": list(rnd.rewritten)}


def logo_text(d) -> str:
    import logo
    return logo.to_text(d)


def build_parser() -> argparse.ArgumentParser:
    from dream.search.settings import SearchSettings
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="\n".join(__doc__.split("\n")[1:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="database: start programs and (without --learn) the library")
    ap.add_argument("--ckpt", default=None, help="checkpoint directory: the model proposes (default: --proposer)")
    ap.add_argument("--proposer", default="auto",
                    help="an arm of dream.search.arms (default auto: the checkpoint's family with --ckpt, else grammar)")
    ap.add_argument("--learn", action="store_true", help="first learn the library from solved training targets")
    ap.add_argument("--learn-tasks", type=int, default=None, help="training tasks to solve for --learn (default all 80)")
    ap.add_argument("--learn-mnist", type=int, default=0, help="MNIST training digits to search for --learn")
    ap.add_argument("--learn-budget", type=float, default=None, help="seconds per training target (default --budget)")
    ap.add_argument("--mnist-max-distance", type=float, default=0.5)
    ap.add_argument("--iterations", type=int, default=8, help="procedures to learn at most (default 8)")
    ap.add_argument("--max-arity", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=20, help="DreamCoder test tasks (default 20)")
    ap.add_argument("--mnist", type=int, default=10, help="held-out MNIST digits (default 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--mnist-root", default=None)
    ap.add_argument("--out", default="runs/bench_library")
    ap.add_argument("--quiet", action="store_true")
    SearchSettings.add_arguments(ap, "bench")         # --budget too
    return ap


def main(argv=None) -> int:
    from dream.search.settings import SearchSettings
    args = build_parser().parse_args(argv)
    args.learn_budget = args.learn_budget or args.budget_s
    echo = None if args.quiet else (lambda s: print(s, flush=True))

    from app.library_arms import compare
    from app.solve import load_targets
    from data.db import Database

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    proposer = args.proposer
    db_path = Path(args.db)
    learned = None
    if args.learn:                     # work on a copy: the given database is not changed
        copy = out / "db.sqlite"
        src = Database(db_path, create=False)      # checkpoint the WAL so the copy is whole
        src.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        src.close()
        for p in (copy, Path(str(copy) + "-wal"), Path(str(copy) + "-shm")):
            p.unlink(missing_ok=True)
        shutil.rmtree(out / "library", ignore_errors=True)
        shutil.copyfile(db_path, copy)
        db_path = copy
        print(f"learning: solving training targets with {proposer}, {args.learn_budget:g} s each", flush=True)
        learned = learn(args, db_path, proposer, echo)
        print(f"learned from {learned['corpus_targets']} solved training targets "
              f"({learned['solved']}/{learned['targets']} solved): {len(learned['active'])} procedures; "
              f"their tokens {learned['tokens_before']} -> {learned['tokens_after']}", flush=True)
        for d in learned["library"]:
            print(f"  {d}")
    solver = open_solver(args, proposer, db_path)
    try:
        library = list(solver.library or ())
        if learned and learned["programs"]:      # the enumerator's grammars: DreamCoder's generative model
            from logo.pcfg import Grammar       # fitted on the solutions (off) and their rewrites (on)
            solver.use_grammar(Grammar.fit(learned["programs"], source="solutions"), None)
            solver.use_grammar(Grammar.fit(learned["rewritten"], tuple(library), source="rewritten solutions"),
                               library)
        size = solver.image_size
        sets = {}
        if args.tasks:
            sets["dreamcoder-test"] = load_targets("dreamcoder", "test", size, args.tasks)[1]
        if args.mnist:
            sets["mnist-heldout"] = load_targets("mnist-heldout", "test", size, args.mnist, args.mnist_root)[1]
        t0 = time.monotonic()
        proposer = solver.resolve(proposer)
        res = compare(sets, solver, proposer, echo)
    finally:
        solver.close()
    summary = {"proposer": proposer, "checkpoint": args.ckpt, "budget_s": args.budget_s, "db": str(db_path),
               "search": SearchSettings.from_args(args).to_dict(),
               "library_size": len(library), "learned": learned, "seconds": round(time.monotonic() - t0, 1),
               "results": res}
    (out / "library_bench.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"\nlibrary off vs on: proposer {proposer}{' (' + args.ckpt + ')' if args.ckpt else ''}, "
          f"{args.budget_s:g} s per target, library of {len(library)} procedures")
    print(f"{'targets':18s} {'arm':4s} {'solved':>8s} {'mean IoU':>9s} {'mean tokens':>12s} {'calls lib':>10s}")
    for name, r in res.items():
        for arm in ("off", "on"):
            s = r[arm]
            print(f"{name:18s} {arm:4s} {s['solved']:4d}/{s['targets']:<3d} {s['mean_iou']:9.3f} "
                  f"{s['mean_tokens']:12.2f} {s['calls_library']:10d}")
    print(f"wrote {out / 'library_bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
