"""`logo solve`: run the search on a set of targets with a per-target time budget and report.

    logo solve --ckpt DIR --tasks dreamcoder --split test --budget 600 [--db PATH] [--out DIR]
    logo solve --ckpt DIR --tasks mnist-heldout --budget 30
    logo solve --ckpt DIR --tasks PNGDIR --budget 30
    logo solve --proposer random --tasks mytasks.json --db DB --budget 10

Targets: `dreamcoder` (the 160 DreamCoder LOGO tasks drawn by our renderer, --split train/test/all),
`mnist-heldout` (the held-out MNIST split, never seen by train or dream; --limit to take the first N),
a folder of image files (converted as `dream.search.score.load_target_image` states), or a JSON task list
`[{"name": ..., "program": ...}, ...]` with programs in our syntax or DreamCoder's (detected per
program), to bring your own benchmark. --proposer: model (the checkpoint; an edit model's scripts are
decoded under the grammar, so every program parses), model-unmasked (the same edit model decoding freely, its
baseline), random (token mutations, as
many per expansion as the model proposes), none (start programs only), enum (single numeric/operator
substitutions), grammar (random grammatical mutations), model+enum, model+grammar (`dream.search.baselines`), and topdown:
no edits, programs enumerated from the root in decreasing probability under a grammar fitted on the solved
programs (else the DreamCoder training programs; `dream.search.topdown`). Search starts from the empty program and,
with --db, the k database entries nearest to the target; with --enumerated-starts N also the N enumerated
programs nearest the target (enumerated for --enumerate-share of the budget). Solved = exact match at
28x28 (see `dream.search.score`). Writes OUT/results.json (atomically) and OUT/sheet.png (target | found),
and prints a table and a summary (solved counts; mean IoU and program length for images).
An unreadable or empty image, or a task-list entry that does not parse or draw, is reported with its
file name (and entry) and the other targets are still solved (exit code 1). A missing checkpoint, a
missing or empty database, and a checkpoint that lacks a procedure name of the database's library are
errors naming the problem. The search itself is `dream.search.solver` (also the Python API, `dream.solve`).

Workers: --workers N searches N targets at once, each in its own process (default: every core; 1: in
this process); --ray auto|ADDRESS runs them as Ray tasks on a cluster (`dream.search.executor`). Each target is
searched with the seed of its place in the list, so the results do not depend on the workers; results.json
and the sheet are written once, at the end, in the input order. A target whose worker died is searched
again, then reported as failed (exit code 1).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from logo.cli_errors import check_output_dir, float_range, int_range
from logo.files import write_json

from dream.search.baselines import ARMS, TOPDOWN_ARMS
from dream.search.executor import Workers
from dream.search.solver import SearchSettings


def register(sub) -> None:
    p = sub.add_parser("solve", help="search for programs that draw given targets",
                       description=__doc__.split("\n")[0],
                       epilog="\n".join(__doc__.split("\n")[1:]))
    p.add_argument("--ckpt", help="checkpoint directory (the newest checkpoint is used; needed by the model proposers)")
    p.add_argument("--proposer", default="model", choices=ARMS,
                   help="what proposes the search's steps (dream.search.baselines; default model)")
    p.add_argument("--tasks", default="dreamcoder",
                   help="dreamcoder, mnist-heldout, a folder of images, or a JSON list of {name, program} "
                   "(default dreamcoder)")
    p.add_argument("--split", choices=["train", "test", "all"], default="test",
                   help="DreamCoder split (default test)")
    p.add_argument("--budget", type=float_range(0, lo_open=True), default=60.0, help="search seconds per target (default 60)")
    p.add_argument("--db", default=None, help="database to take start programs from (nearest entries)")
    p.add_argument("--limit", type=int_range(0), default=None,
                   help="only N targets: for dreamcoder and mnist-heldout N evenly spaced over the split "
                   "(every family / class), for a folder or task list the first N (0: an error, no targets)")
    p.add_argument("--grammar", default=None,
                   help="the enumerator's grammar (topdown arm, enumerated starts): a grammar file such as `logo run`'s "
                        "ROUND/grammar.json, used with the database's library (default: fitted on the database's "
                        "solutions, else on the DreamCoder training programs)")
    p.add_argument("--allow-new-procedures", action="store_true",
                   help="accept a checkpoint trained before the database's library had some of its procedures (it "
                        "reads their names as unknown tokens): `logo run` evaluates a round's new library with the "
                        "checkpoint trained beside the wake")
    p.add_argument("--out", default="solve_out", help="output directory (default solve_out)")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda (default auto)")
    SearchSettings.add_arguments(p)
    p.add_argument("--threads", type=int_range(1, 4096), default=None,
                   help="torch CPU threads (default: torch's choice; with workers, 1 per worker)")
    Workers.add_arguments(p)
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
    """Returns (label, targets, errors): see `dream.search.targets.load_targets`."""
    from dream.search.targets import load_targets as load
    return load(spec, split, size, limit, mnist_root)


def solve_command(args) -> int:
    from dream.search.executor import open_executor
    from dream.search.proposer import resolve_device
    from dream.search.solver import Solver, SolveError
    from dream.search.targets import check_not_empty

    check_not_empty(args.tasks, args.limit)      # an empty target set fails here, before a model or database loads
    out = Path(args.out)
    device = resolve_device(args.device)
    executor = open_executor(Workers.from_args(args), device=device)   # a bad --ray: one line, exit 2, now
    settings = SearchSettings.from_args(args)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    check_output_dir(out)                    # an unusable --out fails here, before the searches
    try:
        solver = Solver.open([args.proposer], ckpt=args.ckpt, db=args.db, device=device, settings=settings,
                             check_names=not getattr(args, "allow_new_procedures", False))
        if getattr(args, "grammar", None):
            use_grammar_file(solver, args.grammar)
    except SolveError as e:
        print(f"logo solve: {e}", file=sys.stderr)
        executor.close()
        return 1
    try:
        return _solve_and_report(args, solver, out, device, executor)
    finally:
        executor.close()
        solver.close()


def use_grammar_file(solver, path) -> None:
    """Enumerate with the grammar in `path` (with the solver's library); a grammar whose procedures are not the
    library's cannot enumerate its programs: a SolveError naming both."""
    from dream.search.solver import SolveError, grammar_fits_library
    from logo.pcfg import Grammar, GrammarError
    try:
        grammar = Grammar.load(path)
    except GrammarError as e:
        solver.close()
        raise SolveError(str(e)) from None
    if not grammar_fits_library(grammar, solver.library):
        solver.close()
        raise SolveError(f"{path}: the grammar's procedures ({', '.join(n for n, _ in grammar.procedures) or 'none'}) "
                         f"are not the database's library's ({', '.join(d.name for d in solver.library or ()) or 'none'})")
    solver.use_grammar(grammar, solver.library)


def _solve_and_report(args, solver, out: Path, device: str, executor) -> int:
    """Load the targets, search each with the solver on the executor's workers, write OUT/results.json and
    OUT/sheet.png (in the input order), print."""
    from dream.search.solver import public, summarize
    from dream.search.workers import solve_on
    try:
        label, targets, errors = load_targets(args.tasks, args.split, solver.image_size, args.limit,
                                              args.mnist_root)
    except (OSError, ValueError) as e:
        print(f"logo solve: {e}", file=sys.stderr)
        return 1
    for _, msg in errors:
        print(f"logo solve: skipped {msg}", file=sys.stderr)
    executor = executor.fit(len(targets))         # no more local workers than targets

    done = [0]

    def on_row(i: int, row: dict) -> None:
        target = targets[i]
        done[0] += 1
        if row.get("attempts", 1) > 1:
            print(f"logo solve: {target.name}: its worker died; searched {row['attempts']} times", file=sys.stderr)
        if "error" in row:
            print(f"logo solve: {target.name}: search failed: {row['error']}", file=sys.stderr)
            return
        if not args.quiet:
            status = f"solved in {row['time_to_solve']:.1f}s" if row["solved"] else f"unsolved iou={row['iou']:.2f}"
            print(f"[{done[0]}/{len(targets)}] {target.name[:34]:34s} {status:22s} {row['program'][:80]}", flush=True)

    t_all = time.monotonic()

    def on_start() -> None:
        if executor.workers > 1 or args.ray:
            print(f"logo solve: {len(targets)} targets, {executor.describe()}", flush=True)

    found = solve_on(executor, solver, targets, args.proposer, args.budget, on_row, device=device,
                     threads=args.threads or 1, on_start=on_start)
    sheet, sheet_labels = [], []
    for target, row in zip(targets, found):          # the input order, whatever order the workers finished in
        if "error" not in row:
            sheet.extend([target.image28, row["_image28"]])
            sheet_labels.extend([target.name, ("SOLVED " if row["solved"] else "") + f"iou {row['iou']:.2f}"])
    rows = [public(r) for r in found]
    summary = {
        "tasks": label, "proposer": args.proposer, "checkpoint": str(args.ckpt) if solver.watcher is not None else None,
        "checkpoint_meta": solver.checkpoint_meta(),
        "db": args.db, "budget_s": args.budget, "device": device,
        **summarize(rows),
        "unreadable": [{"file": f, "error": m} for f, m in errors],
        "wall_s": round(time.monotonic() - t_all, 1),
        "search": solver.settings.to_dict(),
        "workers": executor.describe(),
        "retried": [r["name"] for r in rows if r.get("attempts", 1) > 1],
    }
    write_json({"summary": summary, "results": rows}, out / "results.json")
    if sheet:
        from logo.pictures import save_sheet
        save_sheet(sheet, out / "sheet.png", sheet_labels, columns=10, scale=3)
    print_table(rows)
    how = (f"{summary['solved_by_enumeration']} by enumeration" if args.proposer in TOPDOWN_ARMS else
           f"{summary['solved_by_start']} by a start program as it was, {summary['solved_by_edits']} after edits")
    print(f"\n{label}: solved {summary['solved']}/{len(targets)} with {args.budget:g}s per target ({how})"
          f"; mean IoU {summary['mean_iou']}; mean program length {summary['mean_tokens']} tokens"
          + (f"; {len(errors)} unreadable" if errors else ""))
    print(f"wrote {out / 'results.json'}" + (f" and {out / 'sheet.png'}" if sheet else ""))
    return 0 if not errors and not summary["failed"] else 1
