"""`logo solve`: run the search on a set of targets with a per-target time budget and report.

    logo solve --ckpt DIR --tasks dreamcoder --split test --budget 600 [--db PATH] [--out DIR]
    logo solve --ckpt DIR --tasks mnist-heldout --budget 30
    logo solve --ckpt DIR --tasks PNGDIR --budget 30

Targets: `dreamcoder` (the 160 DreamCoder LOGO tasks drawn by our renderer, --split train/test/all),
`mnist-heldout` (the held-out MNIST split, never seen by train or dream; --limit to take the first N),
or a folder of image files (converted as `dream.score.load_target_image` states). Search starts from the
empty program and, with --db, the k database entries nearest to the target. Solved = exact match at
28x28 (see `dream.score`). Writes OUT/results.json (atomically) and OUT/sheet.png (target | found),
and prints a table and a summary (solved counts; mean IoU and program length for images).
An unreadable or empty image is reported with its file name and the other targets are still solved;
a missing checkpoint is an error naming the directory.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from logo.cli_errors import check_output_dir, float_list, float_range, int_range
from logo.files import write_json

from dream.baselines import ARMS, candidates_per_expansion, make_proposer


def register(sub) -> None:
    p = sub.add_parser("solve", help="search for programs that draw given targets",
                       description=__doc__.split("\n")[0],
                       epilog="\n".join(__doc__.split("\n")[1:]))
    p.add_argument("--ckpt", help="checkpoint directory (the newest checkpoint is used; needed by the model proposers)")
    p.add_argument("--proposer", default="model", choices=ARMS,
                   help="what proposes the search's steps (dream.baselines; default model)")
    p.add_argument("--tasks", default="dreamcoder",
                   help="dreamcoder, mnist-heldout, or a folder of images (default dreamcoder)")
    p.add_argument("--split", choices=["train", "test", "all"], default="test",
                   help="DreamCoder split (default test)")
    p.add_argument("--budget", type=float_range(0, lo_open=True), default=60.0, help="search seconds per target (default 60)")
    p.add_argument("--db", default=None, help="database to take start programs from (nearest entries)")
    p.add_argument("--k", type=int_range(0, 10_000), default=8, help="database neighbours to start from (default 8)")
    p.add_argument("--limit", type=int_range(1), default=None,
                   help="only N targets: for dreamcoder and mnist-heldout N evenly spaced over the split "
                   "(every family / class), for a folder the first N files")
    p.add_argument("--out", default="solve_out", help="output directory (default solve_out)")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda (default auto)")
    p.add_argument("--batch", type=int_range(1, 100_000), default=8, help="nodes expanded per model call (default 8)")
    p.add_argument("--samples", type=int_range(1, 100_000), default=8, help="edit scripts per node and temperature (default 8)")
    p.add_argument("--temperatures", type=float_list(0, lo_open=True), default="1.0", help="comma-separated sampling temperatures (default 1.0)")
    p.add_argument("--beam", type=int_range(0, 100_000), default=8, help="also take the N best scripts of a beam search (default 8; 0 = off)")
    p.add_argument("--threads", type=int_range(1, 4096), default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--mnist-root", default=None, help="MNIST in torchvision's layout (default: bundled)")
    p.add_argument("--quiet", action="store_true", help="no per-target lines")
    p.set_defaults(func=solve_command)


def print_table(rows: list[dict]) -> None:
    print(f"\n{'target':34s} {'solved':>6s} {'time s':>7s} {'tokens':>6s} {'IoU':>5s}  program")
    for r in rows:
        if "error" in r:
            print(f"{r['name'][:34]:34s} {'error':>6s}  {r['error'][:60]}")
            continue
        t = "" if r["time_to_solve"] is None else f"{r['time_to_solve']:.1f}"
        print(f"{r['name'][:34]:34s} {'yes' if r['solved'] else 'no':>6s} {t:>7s} {r['tokens']:6d} {r['iou']:5.2f}  "
              f"{r['program'][:70]}")


def load_targets(spec: str, split: str, size: int, limit: int | None, mnist_root=None):
    """Returns (label, targets, errors): errors are (file, message) for targets that could not be read."""
    from dream.targets import mnist_targets, png_targets, task_targets
    if spec == "dreamcoder":
        ts = task_targets(None if split == "all" else split, size)
        if limit is not None and limit < len(ts):   # spread over the split (tasks are grouped by family)
            idx = sorted(set(np.linspace(0, len(ts) - 1, max(limit, 1)).round().astype(int).tolist()))
            ts = [ts[i] for i in idx]
        label, errors = f"dreamcoder-{split}", []
    elif spec == "mnist-heldout":
        ts = mnist_targets("heldout", size, mnist_root, limit)
        label, errors = "mnist-heldout", []
    else:
        ts, errors = png_targets(spec, size)
        label = f"png:{Path(spec).name}"
    if limit is not None:
        ts = ts[:limit]
    return label, ts, errors


def solve_command(args) -> int:
    from dream.dreamer import run_search
    from logo import parse_library
    from dream.proposer import CheckpointMissing, CheckpointWatcher, resolve_device
    from dream.score import iou

    out = Path(args.out)
    device = resolve_device(args.device)
    temperatures = args.temperatures             # a tuple of positive numbers (argparse type float_list)
    watcher, model_proposer = None, None
    if args.proposer.startswith("model"):
        if not args.ckpt:
            print(f"logo solve: --proposer {args.proposer} needs --ckpt", file=sys.stderr)
            return 1
        watcher = CheckpointWatcher(args.ckpt, device)
        try:
            watcher.require()
        except CheckpointMissing as e:
            print(f"logo solve: {e}", file=sys.stderr)
            return 1
        if args.threads:
            import torch
            torch.set_num_threads(args.threads)
        model_proposer = watcher.proposer(args.samples, temperatures, args.beam)
    db, library = None, None
    size = getattr(getattr(getattr(watcher, "model", None), "config", None), "image_size", 32)
    if args.db:
        if not Path(args.db).exists():
            print(f"logo solve: {args.db}: database does not exist", file=sys.stderr)
            return 1
        from data.db import open_readonly
        db = open_readonly(args.db)          # solve only reads it
        size = db.image_size
        library = parse_library(db.library_text())
        db.novelty_index()                   # read every image now: a damaged file is one error, not one per target
    check_output_dir(out)                    # an unusable --out fails here, before the searches
    # the model-free arms get as many candidates per expansion as the model proposes
    expand = make_proposer(args.proposer, model_proposer, n=candidates_per_expansion(args.samples, temperatures, args.beam),
                           library=library,
                           max_tokens=getattr(model_proposer, "max_tokens", 96))
    try:
        label, targets, errors = load_targets(args.tasks, args.split, size, args.limit, args.mnist_root)
    except (OSError, ValueError) as e:
        print(f"logo solve: {e}", file=sys.stderr)
        return 1
    for file, msg in errors:
        print(f"logo solve: skipped {msg}", file=sys.stderr)

    rows, sheet, sheet_labels = [], [], []
    t_all = time.monotonic()
    for n, target in enumerate(targets, 1):
        try:
            r = run_search(expand, target, db, k=args.k, budget_s=args.budget, batch=args.batch,
                           library=library, stop_on_solve=True, image_size=size)
        except Exception as e:  # noqa: BLE001 - one bad target must not stop the others
            print(f"logo solve: {target.name}: search failed: {type(e).__name__}: {e}", file=sys.stderr)
            rows.append({"name": target.name, "kind": target.kind, "error": f"{type(e).__name__}: {e}",
                         "solved": False})
            continue
        row = {"name": target.name, "kind": target.kind, "solved": r.solved, "program": r.program,
               "tokens": r.best.tokens, "time_to_solve": None if r.time_to_solve is None else round(r.time_to_solve, 3),
               "elapsed": round(r.elapsed, 3), "distance": round(r.best.distance, 5),
               "iou": round(iou(r.best.image28, target.image28), 4), "expanded": r.n_expanded,
               "edit_steps": r.best.step, "start_program": r.path[0].text,
               "candidates": r.n_candidates, **target.extra}
        if target.known_program:
            row["reference_program"] = target.known_program
        rows.append(row)
        sheet += [target.image28, r.best.image28]
        sheet_labels += [target.name, ("SOLVED " if r.solved else "") + f"iou {row['iou']:.2f}"]
        if not args.quiet:
            status = f"solved in {row['time_to_solve']:.1f}s" if r.solved else f"unsolved iou={row['iou']:.2f}"
            print(f"[{n}/{len(targets)}] {target.name[:34]:34s} {status:22s} {r.program[:80]}", flush=True)
    ok_rows = [r for r in rows if "error" not in r]
    n_solved = sum(r["solved"] for r in ok_rows)
    summary = {
        "tasks": label, "proposer": args.proposer, "checkpoint": args.ckpt and str(args.ckpt),
        "checkpoint_meta": watcher.describe() if watcher else {},
        "db": args.db, "budget_s": args.budget, "device": device, "targets": len(targets),
        "solved": n_solved, "unreadable": [{"file": f, "error": m} for f, m in errors],
        "failed": [r["name"] for r in rows if "error" in r],
        "mean_iou": round(sum(r["iou"] for r in ok_rows) / len(ok_rows), 4) if ok_rows else None,
        "mean_tokens": round(sum(r["tokens"] for r in ok_rows) / len(ok_rows), 2) if ok_rows else None,
        # solved by a start program itself (the empty program or a database neighbour, no model edit)
        "solved_by_start": sum(1 for r in ok_rows if r["solved"] and r["edit_steps"] == 0),
        "solved_by_edits": sum(1 for r in ok_rows if r["solved"] and r["edit_steps"] > 0),
        "mean_time_to_solve": (round(sum(r["time_to_solve"] for r in ok_rows if r["solved"]) / n_solved, 3)
                               if n_solved else None),
        "wall_s": round(time.monotonic() - t_all, 1),
        "search": {"k": args.k, "batch": args.batch, "samples": args.samples, "temperatures": list(temperatures),
                   "beam": args.beam},
    }
    write_json({"summary": summary, "results": rows}, out / "results.json")
    if sheet:
        from logo.pictures import save_sheet
        save_sheet(sheet, out / "sheet.png", sheet_labels, columns=10, scale=3)
    print_table(rows)
    print(f"\n{label}: solved {n_solved}/{len(targets)} with {args.budget:g}s per target"
          f" ({summary['solved_by_start']} by a start program as it was, {summary['solved_by_edits']} "
          "after edits)"
          f"; mean IoU {summary['mean_iou']}; mean program length {summary['mean_tokens']} tokens"
          + (f"; {len(errors)} unreadable" if errors else ""))
    print(f"wrote {out / 'results.json'}" + (f" and {out / 'sheet.png'}" if sheet else ""))
    return 0 if not errors and not summary["failed"] else 1
