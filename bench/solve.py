"""The search's arms side by side: the model against proposers without a model, same targets, budget
and start programs, in one run.

    .venv/bin/python bench/solve.py --ckpt DIR --db DB [--budget 10] [--limit N] [--arms model,random,none,enum]
                                    [--sets dc-test,dc-train,mnist] [--json OUT.json]

Arms (`dream.baselines`): model (the checkpoint's `ModelProposer`: --samples per temperature plus a
--beam), random (token mutations, as many per expansion as the model proposes), none (start programs
only), enum (every single numeric/operator substitution, --enum-cap per expansion), grammar (random
grammatical mutations, `model.steps`), model+enum. Sets: dc-test (DreamCoder test, 80), dc-train
(DreamCoder train, 80), mnist (held-out MNIST, 100 digits); --limit takes N spread over each set.

Every target is searched by every arm before the next target, so machine load drifts equally over
the arms. Reports per set and arm: solved, solved after edits (not by a start program as it was),
mean IoU at 28x28, median program tokens, candidates proposed and evaluated per second, and which
targets one arm solved that another did not. Prints a table; --json writes everything.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream.baselines import ARMS, candidates_per_expansion, make_proposer  # noqa: E402

SETS = {"dc-test": ("dreamcoder", "test", 80), "dc-train": ("dreamcoder", "train", 80),
        "mnist": ("mnist-heldout", None, 100)}


def _load_targets(spec, split, size, limit):
    from app.solve import load_targets
    return load_targets(spec, split or "test", size, limit)


def parse_list(value: str, known, what: str) -> list[str]:
    items = [x.strip() for x in value.split(",") if x.strip()]
    bad = [x for x in items if x not in known]
    if bad or not items:
        raise SystemExit(f"bench/solve.py: unknown {what} {', '.join(bad) or '(none given)'}; "
                         f"choose from {', '.join(known)}")
    return items


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--ckpt", help="checkpoint directory (needed by the model arms)")
    p.add_argument("--db", help="database for start programs (the k nearest entries) and the library")
    p.add_argument("--budget", type=float, default=10.0, help="search seconds per target and arm")
    p.add_argument("--limit", type=int, default=None, help="targets per set, spread over the set")
    p.add_argument("--arms", default="model,random,none,enum", help=f"comma-separated: {', '.join(ARMS)}")
    p.add_argument("--sets", default="dc-test,dc-train,mnist", help=f"comma-separated: {', '.join(SETS)}")
    p.add_argument("--k", type=int, default=8, help="database neighbours to start from")
    p.add_argument("--batch", type=int, default=8, help="nodes expanded per proposer call")
    p.add_argument("--samples", type=int, default=8, help="model: scripts per node and temperature")
    p.add_argument("--temperatures", default="1.0")
    p.add_argument("--beam", type=int, default=8, help="model: beam width (0 = off)")
    p.add_argument("--enum-cap", type=int, default=64, help="enum: candidates per expansion")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", dest="json_out", help="write all results here")
    p.add_argument("--quiet", action="store_true", help="no per-target lines")
    return p


def summarize(rows: list[dict]) -> dict:
    ok = [r for r in rows if "error" not in r]
    el = sum(r["elapsed"] for r in ok) or 1e-9
    return {"targets": len(rows), "solved": sum(r["solved"] for r in ok),
            "solved_by_edits": sum(1 for r in ok if r["solved"] and r["edit_steps"] > 0),
            "mean_iou": round(statistics.fmean(r["iou"] for r in ok), 4) if ok else None,
            "median_tokens": statistics.median(r["tokens"] for r in ok) if ok else None,
            "candidates_per_s": round(sum(r["candidates"] for r in ok) / el, 1),
            "valid_per_s": round(sum(r["valid"] for r in ok) / el, 1),
            "improved_start": sum(1 for r in ok if r["edit_steps"] > 0),
            "errors": len(rows) - len(ok)}


def print_table(label: str, summaries: dict[str, dict]) -> None:
    print(f"\n{label}")
    print(f"{'arm':12s} {'solved':>7s} {'by edits':>8s} {'mean IoU':>8s} {'med tok':>7s} "
          f"{'cand/s':>8s} {'valid/s':>8s} {'improved':>8s}")
    for arm, s in summaries.items():
        print(f"{arm:12s} {s['solved']:>3d}/{s['targets']:<3d} {s['solved_by_edits']:8d} {s['mean_iou']:8.3f} "
              f"{s['median_tokens']:7} {s['candidates_per_s']:8.0f} {s['valid_per_s']:8.0f} {s['improved_start']:8d}")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    arms = parse_list(args.arms, ARMS, "arm(s)")
    sets = parse_list(args.sets, tuple(SETS), "set(s)")
    if args.budget <= 0:
        raise SystemExit("bench/solve.py: --budget must be positive")
    import torch
    torch.set_num_threads(max(1, args.threads))
    from dream.dreamer import run_search
    from logo import parse_library
    from dream.score import iou

    temperatures = tuple(float(t) for t in args.temperatures.split(",") if t.strip())
    model_proposer, meta, size, max_tokens = None, {}, 32, 96
    if any(a.startswith("model") for a in arms):
        if not args.ckpt:
            raise SystemExit("bench/solve.py: the model arms need --ckpt")
        from dream.proposer import CheckpointMissing, CheckpointWatcher
        watcher = CheckpointWatcher(args.ckpt, args.device)
        try:
            watcher.require()
        except CheckpointMissing as e:
            raise SystemExit(f"bench/solve.py: {e}") from None
        model_proposer = watcher.proposer(args.samples, temperatures, args.beam)
        meta = watcher.describe()
        size = watcher.model.config.image_size
        max_tokens = watcher.model.config.max_tokens
    db, library = None, None
    if args.db:
        if not Path(args.db).exists():
            raise SystemExit(f"bench/solve.py: {args.db}: database does not exist")
        from data.db import Database
        db = Database(args.db, create=False)
        if len(db) == 0:
            raise SystemExit(f"bench/solve.py: {args.db}: the database is empty")
        size = db.image_size
        library = parse_library(db.library_text())
    n_per = candidates_per_expansion(args.samples, temperatures, args.beam)

    report = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "threads": args.threads, "device": args.device},
              "args": vars(args), "checkpoint": meta, "candidates_per_expansion": n_per, "sets": {}}
    t_all = time.monotonic()
    for set_name in sets:
        spec, split, _ = SETS[set_name]
        label, targets, _errors = _load_targets(spec, split, size, args.limit)
        rows = {a: [] for a in arms}
        for n, target in enumerate(targets, 1):
            line = []
            for arm in arms:
                # a fresh proposer per target: no state (beam memo, enum offsets) leaks between targets
                expand = make_proposer(arm, model_proposer, n=n_per, cap=args.enum_cap,
                                       seed=args.seed * 100_003 + n, library=library, max_tokens=max_tokens)
                if arm.startswith("model"):
                    model_proposer._beamed.clear()
                try:
                    r = run_search(expand, target, db, k=args.k, budget_s=args.budget, batch=args.batch,
                                   library=library, stop_on_solve=True, image_size=size)
                except Exception as e:  # noqa: BLE001 - one failing search must not end the benchmark
                    rows[arm].append({"name": target.name, "error": f"{type(e).__name__}: {e}", "solved": False})
                    line.append(f"{arm}=ERR")
                    continue
                row = {"name": target.name, "solved": r.solved, "iou": round(float(iou(r.best.image28, target.image28)), 4),
                       "tokens": r.best.tokens, "edit_steps": r.best.step, "elapsed": round(r.elapsed, 3),
                       "time_to_solve": r.time_to_solve, "expanded": r.n_expanded, "candidates": r.n_candidates,
                       "valid": r.n_valid, "program": r.program, "start_program": r.path[0].text}
                rows[arm].append(row)
                line.append(f"{arm}={'S' if r.solved else '-'}{row['iou']:.2f}")
            if not args.quiet:
                print(f"[{set_name} {n}/{len(targets)}] {target.name[:30]:30s} " + " ".join(line), flush=True)
        summaries = {a: summarize(rows[a]) for a in arms}
        solved_sets = {a: {r["name"] for r in rows[a] if r.get("solved")} for a in arms}
        only = {f"{a}-not-{b}": sorted(solved_sets[a] - solved_sets[b]) for a in arms for b in arms if a != b}
        report["sets"][set_name] = {"label": label, "summary": summaries, "only": only, "results": rows}
        print_table(f"{label}: {len(targets)} targets, {args.budget:g} s per target and arm", summaries)
        for key, names in only.items():
            if names and ("model" in key.split("-not-")[0]):
                print(f"  {key}: {', '.join(names)}")
    report["wall_s"] = round(time.monotonic() - t_all, 1)
    if args.json_out:
        from logo.files import atomic_write
        with atomic_write(Path(args.json_out), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
