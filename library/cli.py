"""`logo compress`: learn a library of procedures from a corpus of programs and rewrite the corpus.

    logo compress --db runs/db.sqlite --dream-log runs/dream --solutions runs/solve/results.json --out runs/library
    logo compress --dreamcoder --iterations 10 --max-arity 3 --out lib_out
    logo compress --programs corpus.txt --library lib_out --out lib_out

Corpus: what the system solved (library/corpus.py), one program per target (the shortest solution):
`dream` logs (--dream-log: DreamCoder training tasks and database targets solved, MNIST training
digits drawn within --mnist-max-distance), `logo solve` result files (--solutions), the database's
programs of source "task" and heads that dream made shorter (--db), a text file with one program per
line (--programs) and the DreamCoder training tasks' own programs (--dreamcoder). Random database heads
only with --include-random. DreamCoder test tasks (by name or by drawing) and held-out MNIST digits
never enter. The starting library is the database's (with --db) or --library (a file or a directory of
versions); new procedures are added after it, and procedures no solution uses any more retire.
Writes OUT/vNNN.logo (the library, next version, a comment per procedure with its uses),
OUT/rewritten.txt, OUT/report.json, and prints progress and the report. --update-db stores the library
in the database and inserts the rewritten solutions (source "library") so later rounds of train and
dream use the procedures.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from logo.cli_errors import BadInputFile, int_range, read_text


def register(sub) -> None:
    p = sub.add_parser("compress", help="learn library procedures by compressing a corpus of programs",
                       description=__doc__.split("\n")[0], epilog="\n".join(__doc__.split("\n")[1:]))
    p.add_argument("--db", default=None, help="database whose programs form the corpus")
    p.add_argument("--equivalents", action="store_true",
                   help="with --include-random: every equivalent program of an entry (the shortest counts)")
    p.add_argument("--include-random", action="store_true",
                   help="also the database's random programs (by default only solutions enter the corpus)")
    p.add_argument("--solutions", action="append", default=[], help="a `logo solve` results.json (repeatable)")
    p.add_argument("--dream-log", action="append", default=[],
                   help="a dream log directory or found.jsonl (repeatable)")
    p.add_argument("--mnist-max-distance", type=float, default=0.5,
                   help="MNIST training digits enter when dream came this close (graded distance; default 0.5)")
    p.add_argument("--programs", action="append", default=[], help="text file, one program per line (repeatable)")
    p.add_argument("--dreamcoder", action="store_true", help="add the 160 DreamCoder task programs")
    p.add_argument("--library", default=None, help="starting library: a .logo file or a directory of versions")
    p.add_argument("--iterations", type=int_range(0, 10_000), default=10,
                   help="procedures to learn at most (default 10)")
    p.add_argument("--max-arity", type=int_range(0, 16), default=3, help="parameters per procedure at most (default 3)")
    p.add_argument("--allow-single-task", action="store_true",
                   help="also allow procedures used by one task only (Stitch's default forbids them)")
    p.add_argument("--limit", type=int_range(1), default=None, help="take at most N database entries")
    p.add_argument("--out", default="library_out", help="output directory (default library_out)")
    p.add_argument("--update-db", action="store_true", help="write the library and rewritten programs to --db")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=compress_command)


def load_corpus(args) -> tuple[list, list]:
    """(solutions from every source given, starting library); the corpus function filters them."""
    import logo
    from .corpus import Solution, database_solutions, dream_log_solutions, solve_result_solutions
    sols, lib = [], []
    if args.db:
        from data.db import open_readonly
        db = open_readonly(args.db)         # only read here (--update-db opens it for writing at the end)
        try:
            lib = list(db.library())
            sols += database_solutions(db, args.include_random, args.limit, args.equivalents)
        finally:
            db.close()
    for path in args.solutions:
        if not Path(path).exists():
            print(f"logo compress: no solutions file {path}; going on without it", file=sys.stderr)
            continue
        try:
            sols += solve_result_solutions(path)
        except json.JSONDecodeError as e:
            raise BadInputFile(f"{path}: not a results file: not valid JSON (line {e.lineno}: {e.msg})") from None
        except AttributeError:
            raise BadInputFile(f"{path}: not a results file of `logo solve`") from None
    for path in args.dream_log:
        sols += dream_log_solutions(path)
    for path in args.programs:
        for i, line in enumerate(read_text(path).splitlines()):
            line = line.split(";", 1)[0].strip()
            if line:
                sols.append(Solution(f"{path}:{i}", line, "programs"))
    if args.dreamcoder:
        from data import dreamcoder_tasks
        sols += [Solution(t.name, logo.to_text(t.program), "dreamcoder", kind="tasks", split=t.split)
                 for t in dreamcoder_tasks()]
    if args.library:
        from .api import load_library
        if Path(args.library).exists():
            try:
                lib = load_library(args.library) or lib    # an empty directory: keep the database's
            except (ValueError, logo.LogoError) as e:       # not UTF-8, or not a library
                raise BadInputFile(str(e) if args.library in str(e) else f"{args.library}: {e}") from None
        elif not args.quiet:
            print(f"(no library at {args.library} yet: starting from "
                  f"{'the database' if args.db else 'an empty'} library)")
    return sols, lib


def compress_command(args) -> int:
    import logo
    from .solutions import learn_from_solutions
    t0 = time.perf_counter()
    if not (args.db or args.solutions or args.dream_log or args.programs or args.dreamcoder):
        print("logo compress: the corpus is empty (give --db, --dream-log, --solutions, --programs or "
              "--dreamcoder)", file=sys.stderr)
        return 2
    sols, lib = load_corpus(args)

    def progress(step, d):
        if not args.quiet:
            print(f"  {step.name}: utility {step.utility}, {step.uses} uses, cost -> {step.cost_after}, "
                  f"{step.seconds:.2f}s  {logo.to_text(d)}", flush=True)

    def on_corpus(kept, excluded):
        if not args.quiet:
            print(f"corpus: {len(kept)} programs, one per solved target ({len(excluded)} excluded: evaluation "
                  f"targets, unsolved or unreadable); starting library: {len(lib)} procedures", flush=True)

    db = None
    if args.update_db and args.db:
        from data.db import Database
        db = Database(args.db)
    try:
        rnd = learn_from_solutions(sols, lib, args.iterations, args.max_arity, out_dir=args.out, db=db,
                                   mnist_max_distance=args.mnist_max_distance, progress=progress,
                                   allow_single_task=args.allow_single_task, on_corpus=on_corpus)
    finally:
        if db is not None:
            db.close()
    rep = rnd.report
    out = Path(args.out)
    if not rnd.solutions:
        print(f"logo compress: no solved targets to learn from yet ({len(rnd.excluded)} programs excluded); "
              "the library stays as it was", file=sys.stderr)

    (out / "rewritten.txt").write_text("".join(p + "\n" for p in rnd.rewritten))
    rep = dict(rep, total_seconds=time.perf_counter() - t0)
    tmp = out / ".report.json.tmp"
    tmp.write_text(json.dumps(rep, indent=1, default=str))
    tmp.replace(out / "report.json")
    if db is not None and not args.quiet:
        print(f"database: library set ({len(rep['database_library'])} procedures); rewritten solutions "
              f"inserted: {rep['inserted'] or 'none'}")
    if rep.get("cost_with_library") not in (None, rep["cost_before"]):
        print(f"existing procedures applied: cost {rep['cost_before']} -> {rep['cost_with_library']}")
    if rnd.retired:
        print(f"retired (no solution uses them): {', '.join(d.name for d in rnd.retired)}")
    print(f"learned {len(rnd.result.defs)} procedures; cost {rep['cost_before']} -> {rep['cost_after']} "
          f"(ratio {rep['ratio']:.3f}); tokens {rep['tokens_before']} -> {rep['tokens_after']}; "
          f"{rep['seconds']:.2f}s")
    print(f"wrote {rep['library_file']}, {out / 'rewritten.txt'}, {out / 'report.json'}")
    return 0
