"""Does the learned library make solving easier? The same search with the library off and on.

Both arms search the same targets with the same proposer (a checkpoint's model, or a model-free arm of
`dream.search.arms`), budget, search settings and database, through the same `dream.search.solver.Solver`
(`Solver.variant`). What differs:

- **off**: no procedures. The proposer gets no library; start programs are the nearest database
  entries' shortest programs that call no procedure (an entry with only library programs gives none).
- **on**: the library's procedures. The proposer gets them (the grammar proposer inserts calls to them;
  the model proposes them when its vocabulary has them); start programs are the entries' heads (which may
  call procedures) plus the off arm's starts rewritten with the library; candidates are drawn with it.

Lengths are tokens of the program as written, calls included and procedure bodies not (the library is
shared by every program, as in DreamCoder's description length).
"""
from __future__ import annotations

import time
from functools import partial

import numpy as np

import logo
from dream.search.solver import Solver, calls_procedure, public, summarize

ARMS = ("off", "on")


def arm_starts(db, image: np.ndarray, k: int, library, arm: str) -> list[str]:
    """The start programs of one arm for one target (the empty program first)."""
    starts = [""]
    if db is None or k <= 0 or len(db) == 0:
        return starts
    names = {d.name for d in library or ()}
    plain = []
    for entry_id, _ in db.nearest(np.asarray(image, np.uint8), k):
        try:
            e = db.get(entry_id)
        except (KeyError, LookupError):
            continue
        free = [p for p in e.equivalents if not calls_procedure(p, names)]
        if free:
            plain.append(min(free, key=lambda p: (logo.n_tokens(p), p)))
        if arm == "on":
            starts.append(e.head)
    if arm == "off" or not library:
        return starts + plain
    from library import compress
    rewritten = [logo.to_text(p) for p in compress(plain, iterations=0, library=list(library)).rewritten] if plain else []
    seen, out = set(), []
    for p in starts + rewritten + plain:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def arm_solver(solver: Solver, arm: str) -> Solver:
    """The solver of one arm: its database's library (`solver.library`) on or off, and the arm's starts.
    It shares the database and model with `solver` (close that one)."""
    library = tuple(solver.library or ())
    return solver.variant(library=library if arm == "on" and library else None,
                          starts=partial(arm_starts, library=library, arm=arm))


def run_arm(solver: Solver, arm: str, proposer: str, targets, echo=None) -> list[dict]:
    """Search every target in one arm with `proposer` (an arm of `dream.search.arms`); one row per target."""
    one = arm_solver(solver, arm)
    return [_solve(one, arm, proposer, t, i, echo) for i, t in enumerate(targets)]


def _solve(solver: Solver, arm: str, proposer: str, target, index: int, echo) -> dict:
    row = public(solver.solve_one(proposer, target, index))
    if echo:
        what = ("error" if "error" in row else "solved" if row["solved"] else "iou %.2f" % row["iou"])
        echo(f"  [{arm}] {target.name[:32]:32s} {what:10s} {row.get('tokens', 0):3d} tokens  "
             f"{row.get('program', row.get('error', ''))[:70]}")
    return row


def compare(target_sets: dict, solver: Solver, proposer: str, echo=None) -> dict:
    """{set name: {"off": summary, "on": summary, "rows": {"off": [...], "on": [...]}}} for each set
    (`dream.search.solver.summarize`: solved, mean IoU, mean tokens, of the solutions, calls to the library, ...).

    The arms alternate target by target (off, on, off, on, ...) so that a shared machine's changing load
    falls on both alike; both search a target with the same seed and `solver.settings.budget_s`."""
    arms = {arm: arm_solver(solver, arm) for arm in ARMS}
    out = {}
    for name, targets in target_sets.items():
        t0 = time.monotonic()
        res = {"rows": {arm: [] for arm in ARMS}}
        for i, t in enumerate(targets):
            for arm in ARMS:
                res["rows"][arm].append(_solve(arms[arm], arm, proposer, t, i, echo))
        for arm in ARMS:
            res[arm] = summarize(res["rows"][arm])
        res["seconds"] = round(time.monotonic() - t0, 1)
        out[name] = res
    return out


def open_solver(db, proposer: str, ckpt=None, device: str = "cpu", settings=None, seed: int = 0) -> Solver:
    """A `dream.search.solver.Solver` for the arms. The checkpoint need not know the library's newest names: `logo
    run` compares right after the library grew, before the model trained on it (it reads them as unknown)."""
    return Solver.open([proposer], ckpt=ckpt, db=db, device=device, settings=settings, seed=seed,
                       check_names=False)


def build_parser():
    """The flags of `python -m app.library_arms` (the search flags are `logo solve`'s)."""
    import argparse
    from dream.search.arms import ARMS, AUTO
    from dream.search.settings import SearchSettings
    ap = argparse.ArgumentParser(prog="python -m app.library_arms", description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--ckpt", default=None, help="checkpoint directory (the model proposes; else --proposer)")
    ap.add_argument("--proposer", default=AUTO, choices=(AUTO,) + ARMS,
                    help="an arm of dream.search.arms (default auto: the checkpoint's family with --ckpt, else grammar)")
    ap.add_argument("--tasks", type=int, default=16, help="DreamCoder test tasks (spread over the split)")
    ap.add_argument("--mnist", type=int, default=0, help="held-out MNIST digits")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--mnist-root", default=None)
    ap.add_argument("--out", required=True, help="JSON file to write")
    SearchSettings.add_arguments(ap, "solve")       # --budget too
    return ap


def main(argv=None) -> int:
    """`python -m app.library_arms`: one comparison, written as JSON (used by `logo run` each round)."""
    import json
    import sys
    from pathlib import Path
    from dream.search.proposer import resolve_device
    from dream.search.settings import SearchSettings
    from dream.search.solver import SolveError
    args = build_parser().parse_args(argv)
    from .solve import load_targets
    try:
        solver = open_solver(args.db, args.proposer, args.ckpt, resolve_device(args.device),
                             SearchSettings.from_args(args))
    except SolveError as e:
        print(f"library arms: {e}", file=sys.stderr)
        return 1
    proposer = solver.resolve(args.proposer)
    try:
        library, size = list(solver.library or ()), solver.image_size
        sets = {}
        if args.tasks:
            sets["dreamcoder-test"] = load_targets("dreamcoder", "test", size, args.tasks)[1]
        if args.mnist:
            sets["mnist-heldout"] = load_targets("mnist-heldout", "test", size, args.mnist, args.mnist_root)[1]
        res = compare(sets, solver, proposer, echo=lambda s: print(s, flush=True))
    finally:
        solver.close()
    summary = {"proposer": proposer, "checkpoint": args.ckpt, "budget_s": solver.settings.budget_s, "library_size": len(library),
               "search": solver.settings.to_dict(), "results": res}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1, default=str))
    for name, r in res.items():
        print(f"{name}: off {r['off']['solved']}/{r['off']['targets']} solved, IoU {r['off']['mean_iou']}, "
              f"{r['off']['mean_tokens']} tokens | on {r['on']['solved']}/{r['on']['targets']} solved, "
              f"IoU {r['on']['mean_iou']}, {r['on']['mean_tokens']} tokens")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
