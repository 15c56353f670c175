"""The search's arms side by side: the model against proposers without a model, same targets, budget
and start programs, in one run.

    .venv/bin/python bench/solve.py --ckpt DIR --db DB [--budget 10] [--limit N] [--arms model,random,none,enum]
                                    [--sets dc-test,dc-train,mnist] [--json OUT.json]

Arms (`dream.search.arms`: the users' arms and the ablations; `auto` too): model (the checkpoint's `ModelProposer`: --samples per temperature plus a
--beam), random (token mutations, as many per expansion as the model proposes), none (start programs
only), enum (every single numeric/operator substitution, --enum-cap per expansion), grammar (random
grammatical mutations, `model.edit.steps`), model+enum, model+grammar, and topdown (no edits: programs enumerated
from the root under the fitted grammar, `dream.search.topdown`). --enumerated-starts N adds the N enumerated programs
nearest each target to every edit arm's start programs (within its budget: --enumerate-share of it is spent
enumerating); --length-weight W makes the frontier count W per token. Sets: dc-test (DreamCoder test, 80), dc-train
(DreamCoder train, 80), mnist (held-out MNIST, 100 digits); --limit takes N spread over each set.

Every target is searched by every arm before the next target, so machine load drifts equally over
the arms. Reports per set and arm: solved, solved after edits (not by a start program as it was),
mean IoU at 28x28, median program tokens, candidates proposed and evaluated per second, and which
targets one arm solved that another did not. Prints a table; --json writes everything. The search is
`dream.search.solver` (the same code as `logo solve`); `run_arms` is what `bench/learning.py` calls per snapshot.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream.search.arms import ARMS, AUTO  # noqa: E402
from dream.search.settings import SearchSettings  # noqa: E402
from dream.search.solver import Solver, SolveError, public, summarize  # noqa: E402

SETS = {"dc-test": ("dreamcoder", "test", 80), "dc-train": ("dreamcoder", "train", 80),
        "mnist": ("mnist-heldout", None, 100)}


def parse_list(value: str, known, what: str) -> list[str]:
    items = [x.strip() for x in value.split(",") if x.strip()]
    bad = [x for x in items if x not in known]
    if bad or not items:
        raise SystemExit(f"bench/solve.py: unknown {what} {', '.join(bad) or '(none given)'}; "
                         f"choose from {', '.join(known)}")
    return items


def add_search_args(p) -> None:
    """The flags bench/solve.py and bench/learning.py share (arms, sets, search settings)."""
    p.add_argument("--limit", type=int, default=None, help="targets per set, spread over the set")
    p.add_argument("--arms", default="model,random,none,enum", help=f"comma-separated: {', '.join((AUTO,) + ARMS)}")
    p.add_argument("--sets", default="dc-test,dc-train,mnist", help=f"comma-separated: {', '.join(SETS)}")
    SearchSettings.add_arguments(p, "bench")      # --budget, --k, --batch, ..., the count budget
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no per-target lines")


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--ckpt", help="checkpoint directory (needed by the model arms)")
    p.add_argument("--db", help="database for start programs (the k nearest entries) and the library")
    add_search_args(p)
    p.add_argument("--json", dest="json_out", help="write all results here")
    return p


def checked_args(args, prog: str = "bench/solve.py") -> tuple[list[str], list[str]]:
    """(arms, sets) from the flags; bad values end the program with a message naming them."""
    arms = parse_list(args.arms, (AUTO,) + ARMS, "arm(s)")
    sets = parse_list(args.sets, tuple(SETS), "set(s)")
    if args.limit is not None and args.limit < 1:
        raise SystemExit(f"{prog}: --limit must be at least 1")
    return arms, sets


def print_table(label: str, summaries: dict[str, dict]) -> None:
    print(f"\n{label}")
    print(f"{'arm':12s} {'solved':>7s} {'by edits':>8s} {'mean IoU':>8s} {'med tok':>7s} "
          f"{'cand/s':>8s} {'valid/s':>8s} {'improved':>8s}")
    for arm, s in summaries.items():
        iou = "–" if s["mean_iou"] is None else f"{s['mean_iou']:.3f}"
        print(f"{arm:12s} {s['solved']:>3d}/{s['targets']:<3d} {s['solved_by_edits']:8d} {iou:>8s} "
              f"{str(s['median_tokens']):>7s} {s['candidates_per_s']:8.0f} {s['valid_per_s']:8.0f} "
              f"{s['improved_start']:8d}")


def run_set(solver: Solver, set_name: str, arms: list[str], limit: int | None, quiet: bool = False) -> dict:
    """One set, every arm: each target is searched by every arm before the next target, so machine load
    drifts equally over the arms. Returns {label, summary: {arm: ...}, only, results: {arm: rows}}."""
    from dream.search.targets import load_targets
    spec, split, _ = SETS[set_name]
    label, targets, _errors = load_targets(spec, split or "test", solver.image_size, limit)
    rows = {a: [] for a in arms}
    for n, target in enumerate(targets):
        line = []
        for arm in arms:
            row = public(solver.solve_one(arm, target, n + 1))
            rows[arm].append(row)
            line.append(f"{arm}=ERR" if "error" in row else f"{arm}={'S' if row['solved'] else '-'}{row['iou']:.2f}")
        if not quiet:
            print(f"[{set_name} {n + 1}/{len(targets)}] {target.name[:30]:30s} " + " ".join(line), flush=True)
    summaries = {a: summarize(rows[a]) for a in arms}
    solved_sets = {a: {r["name"] for r in rows[a] if r.get("solved")} for a in arms}
    only = {f"{a}-not-{b}": sorted(solved_sets[a] - solved_sets[b]) for a in arms for b in arms if a != b}
    return {"label": label, "targets": len(targets), "summary": summaries, "only": only, "results": rows}


def run_arms(solver: Solver, sets: list[str], arms: list[str], limit: int | None, quiet: bool = False) -> dict:
    """Every set with every arm; prints a table per set. Returns {set: run_set(...)}."""
    out = {}
    for set_name in sets:
        res = run_set(solver, set_name, arms, limit, quiet)
        out[set_name] = res
        print_table(f"{res['label']}: {res['targets']} targets, {solver.settings.budget_s:g} s per target and arm",
                    res["summary"])
        for key, names in res["only"].items():
            if names and ("model" in key.split("-not-")[0]):
                print(f"  {key}: {', '.join(names)}")
    return out


def machine(args) -> dict:
    return {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
            "threads": args.threads, "device": args.device}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    arms, sets = checked_args(args)
    import torch
    torch.set_num_threads(max(1, args.threads))
    settings = SearchSettings.from_args(args)
    try:
        solver = Solver.open(arms, ckpt=args.ckpt, db=args.db, device=args.device, settings=settings, seed=args.seed)
    except SolveError as e:
        raise SystemExit(f"bench/solve.py: {e}") from None
    report = {"machine": machine(args), "args": vars(args), "checkpoint": solver.checkpoint_meta(),
              "candidates_per_expansion": settings.candidates_per_expansion, "sets": {}}
    t_all = time.monotonic()
    try:
        report["sets"] = run_arms(solver, sets, arms, args.limit, args.quiet)
    finally:
        solver.close()
    report["wall_s"] = round(time.monotonic() - t_all, 1)
    if args.json_out:
        from logo.files import atomic_write
        with atomic_write(Path(args.json_out), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
