"""`logo solve`: run the search on a set of targets with a per-target time budget and report.

examples:
  logo solve --tasks dreamcoder --budget 5                    the 80 DreamCoder test tasks, no checkpoint
  logo solve --tasks drawing.png                              one image file
  logo solve --tasks PNGDIR --db runs/x/db.sqlite             a folder of images, starts from a database
  logo solve --ckpt runs/x/ckpt --tasks mnist-heldout --limit 20
  logo solve --proposer topdown --tasks mytasks.json          a JSON task list, the enumerator alone

Targets (--tasks): `dreamcoder` (the 160 DreamCoder LOGO tasks drawn by our renderer, --split train/test/all),
`mnist-heldout` (the held-out MNIST split, never seen by train or dream; --limit to take the first N), an image
file or a folder of them (converted as `logo.images.load_target_image` states), or a JSON task list
`[{"name": ..., "program": ...}, ...]` with programs in our syntax or DreamCoder's (detected per program).

Proposers (--proposer):
{arms}
The search starts from the empty program, with --db also the k database entries nearest the target, and the
--enumerated-starts N programs enumerated nearest the target (for --enumerate-share of the budget). Solved =
exact match at 28x28. Writes OUT/results.json and OUT/sheet.png (target | found) and prints a table and a
summary. Held-out MNIST digits are also read by a digit classifier (`model.digit_classifier`, trained on the
training digits only): each row gets `label` and `classified_as` (what the classifier reads in the drawing
found), the summary the share of drawings read as their digit (`classified_as_label`) next to the share of
the targets themselves (`classifier_on_targets`, its ceiling), and the sheet labels a target `7 >7 #123`
(its digit, what the classifier reads, its index) and a drawing `iou 0.83 41t >7` (IoU, tokens, read as).
An unreadable image or a task-list entry that does not parse or draw is reported with its file name
and the other targets are still solved (exit code 1). --workers N searches N targets at once (default: every
core; 1: in this process); --ray auto|ADDRESS runs them on a Ray cluster. Each target is searched with the
seed of its place in the list, so the results do not depend on the workers.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from logo.cli_errors import check_output_dir, int_range
from logo.files import write_json

from dream.search.arms import ARMS, AUTO, CONSTRUCT_ARMS, TOPDOWN_ARMS, USER_ARMS, describe
from dream.search.executor import Workers
from dream.search.settings import SearchSettings

HELP = __doc__.replace("{arms}", describe(USER_ARMS))


def register(sub) -> None:
    p = sub.add_parser("solve", help="search for programs that draw given targets",
                       description=HELP.split("\n")[0], epilog="\n".join(HELP.split("\n")[2:]),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", help="checkpoint directory (the newest checkpoint is used; needed by the model proposers)")
    p.add_argument("--proposer", default=AUTO, type=proposer_name, metavar="{" + ",".join(USER_ARMS) + "}",
                   help="what proposes the search's steps (see below; default auto)")
    p.add_argument("--tasks", default="dreamcoder",
                   help="dreamcoder, mnist-heldout, an image file, a folder of images, or a JSON list of "
                   "{name, program} (default dreamcoder)")
    p.add_argument("--split", choices=["train", "test", "all"], default="test",
                   help="DreamCoder split (default test)")
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
    SearchSettings.add_arguments(p, "solve")
    p.add_argument("--threads", type=int_range(1, 4096), default=None,
                   help="torch CPU threads (default: torch's choice; with workers, 1 per worker)")
    Workers.add_arguments(p)
    p.add_argument("--mnist-root", default=None, help="MNIST in torchvision's layout (default: bundled)")
    p.add_argument("--quiet", action="store_true", help="no per-target lines")
    p.set_defaults(func=solve_command)


def proposer_name(name: str) -> str:
    """An arm's name (`auto`, a user's arm, or an ablation `logo run` and the benches ask for by name)."""
    if name != AUTO and name not in ARMS:
        raise argparse.ArgumentTypeError(f"unknown proposer {name!r} (choose from {', '.join(USER_ARMS)})")
    return name


def search_line(asked: str, arm: str, solver, settings: SearchSettings) -> str:
    """What the search will be, in one line: the proposer (what `auto` resolved to and why), the start programs
    and the budget."""
    why = f" ({'a ' + solver.checkpoint_kind + ' checkpoint' if solver.checkpoint_kind else 'no checkpoint'})"
    if arm in CONSTRUCT_ARMS:
        why = " (digits)"
    line = f"proposer {asked} -> {arm}{why}" if asked != arm else f"proposer {arm}"
    if arm in CONSTRUCT_ARMS:
        return f"{line}: built stroke by stroke from the missing ink, then shortened; {settings.budget_s:g} s per target"
    if arm in TOPDOWN_ARMS:
        return f"{line}: programs enumerated from the root; {settings.budget_s:g} s per target"
    starts = ["the empty program"]
    if solver.db is not None and settings.k:
        starts.append(f"the {settings.k} nearest database entries")
    if settings.enumerated_starts:
        starts.append(f"the {settings.enumerated_starts} enumerated programs nearest the target")
    return f"{line}; starts: {', '.join(starts)}; {settings.budget_s:g} s per target"


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
    kind = "mnist" if args.tasks == "mnist-heldout" else None      # auto constructs digits
    asked, args.proposer = args.proposer, solver.resolve(args.proposer, kind)
    print(f"logo solve: {search_line(asked, args.proposer, solver, settings)}", flush=True)
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
    from .digit_reading import drawing_label, read_digits, target_label
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

    found = solve_on(executor, solver, targets, args.proposer, on_row, device=device,
                     threads=args.threads or 1, on_start=on_start)
    digits = read_digits(targets, found)            # {} unless the targets are labelled MNIST digits
    sheet, sheet_labels = [], []
    for target, row in zip(targets, found):          # the input order, whatever order the workers finished in
        if "error" not in row:
            sheet.extend([target.image28, row["_image28"]])
            if "classified_as" in row:
                sheet_labels.extend([target_label(row, target.name), drawing_label(row)])
            else:
                sheet_labels.extend([target.name, ("SOLVED " if row["solved"] else "") + f"iou {row['iou']:.2f}"])
    rows = [public(r) for r in found]
    summary = {
        "tasks": label, "proposer": args.proposer, "checkpoint": str(args.ckpt) if solver.watcher is not None else None,
        "checkpoint_meta": solver.checkpoint_meta(),
        "db": args.db, "budget_s": solver.settings.budget_s, "device": device,
        **summarize(rows), **digits,
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
    print(f"\n{label}: solved {summary['solved']}/{len(targets)} with {solver.settings.budget_s:g}s per target ({how})"
          f"; mean IoU {summary['mean_iou']}; mean program length {summary['mean_tokens']} tokens"
          + (f"; {len(errors)} unreadable" if errors else ""))
    if digits:
        print(f"digits: {digits['classified_as_label']:.0%} of the {digits['digits']} drawings read as their digit by "
              f"the digit classifier (it reads {digits['classifier_on_targets']:.0%} of the targets themselves); "
              f"median program length {summary['median_tokens']} tokens")
    print(f"wrote {out / 'results.json'}" + (f" and {out / 'sheet.png'}" if sheet else ""))
    return 0 if not errors and not summary["failed"] else 1
