"""`logo compress`: learn a library of procedures from a corpus of programs and rewrite the corpus.

    logo compress --db runs/db.sqlite --solutions runs/solve/results.json --out runs/library
    logo compress --dreamcoder --iterations 10 --max-arity 3 --out lib_out
    logo compress --programs corpus.txt --library lib_out --out lib_out

Corpus: the heads of the database's entries (with --equivalents, every program of an entry's
equivalents list, grouped so that only the cheapest program of an entry counts), the solved programs of
`logo solve` result files (--solutions, one task per target), a text file with one program per line
(--programs) and/or the 160 DreamCoder tasks (--dreamcoder). The starting library is the database's
(with --db) or --library (a file or a directory of versions); new procedures are added after it.
Writes OUT/vNNN.logo (the whole library, next version), OUT/rewritten.txt, OUT/report.json, and prints
progress and the report. --update-db stores the library in the database and inserts the rewritten
programs (source "library") so later rounds of train and dream use the procedures.
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
                   help="take every equivalent program of an entry, not only its head")
    p.add_argument("--solutions", action="append", default=[], help="a `logo solve` results.json (repeatable)")
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


def load_corpus(args) -> tuple[list[str], list[str], list]:
    """(programs, task labels, starting library)"""
    import logo
    programs, tasks, lib = [], [], []
    if args.db:
        from data.db import open_readonly
        from .api import database_corpus
        db = open_readonly(args.db)         # only read here (--update-db opens it for writing at the end)
        try:
            lib = list(db.library())
            programs, tasks = database_corpus(db, args.equivalents, args.limit)
        finally:
            db.close()
    for path in args.solutions:
        if not Path(path).exists():
            print(f"logo compress: no solutions file {path}; going on without it", file=sys.stderr)
            continue
        try:
            data = json.loads(read_text(path))
        except json.JSONDecodeError as e:
            raise BadInputFile(f"{path}: not a results file: not valid JSON (line {e.lineno}: {e.msg})") from None
        if not isinstance(data, dict):
            raise BadInputFile(f"{path}: not a results file of `logo solve`")
        for row in data.get("results", []):
            if row.get("solved") and row.get("program"):
                programs.append(row["program"])
                tasks.append(f"solve:{row.get('name')}")
    for path in args.programs:
        for i, line in enumerate(read_text(path).splitlines()):
            line = line.split(";", 1)[0].strip()
            if line:
                programs.append(line)
                tasks.append(f"{path}:{i}")
    if args.dreamcoder:
        tasks_json = Path(__file__).resolve().parents[1] / "data" / "dreamcoder_logo_tasks.json"
        try:
            from data import dreamcoder_tasks
            for t in dreamcoder_tasks():
                programs.append(logo.to_text(t.program))
                tasks.append(f"dc:{t.name}")
        except ImportError:
            for t in json.loads(tasks_json.read_text()):
                programs.append(logo.to_text(logo.from_dreamcoder(t["source"])))
                tasks.append(f"dc:{t['name']}")
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
    return programs, tasks, lib


def compress_command(args) -> int:
    import logo
    from .api import compress, save_library
    t0 = time.perf_counter()
    programs, tasks, lib = load_corpus(args)
    if not programs:
        print("logo compress: the corpus is empty (give --db, --solutions, --programs or --dreamcoder)",
              file=sys.stderr)
        return 2
    parsed, ptasks, bad = [], [], 0
    for text, t in zip(programs, tasks):
        try:
            parsed.append(logo.parse(text))
            ptasks.append(t)
        except logo.LogoError:
            bad += 1
    if not args.quiet:
        print(f"corpus: {len(parsed)} programs in {len(set(ptasks))} tasks"
              + (f" ({bad} unreadable skipped)" if bad else "") + f"; starting library: {len(lib)} procedures",
              flush=True)

    def progress(step, d):
        if not args.quiet:
            print(f"  {step.name}: utility {step.utility}, {step.uses} uses, cost -> {step.cost_after}, "
                  f"{step.seconds:.2f}s  {logo.to_text(d)}", flush=True)

    res = compress(parsed, iterations=args.iterations, max_arity=args.max_arity, tasks=ptasks, library=lib,
                   allow_single_task=args.allow_single_task, progress=progress)
    out = Path(args.out)
    rep = res.report
    path = save_library(res.library, out, comments=[
        f"{len(res.defs)} new: {', '.join(d.name for d in res.defs) or '-'}; corpus {rep['programs']} programs, "
        f"cost {rep['cost_before']} -> {rep['cost_after']}"])
    (out / "rewritten.txt").write_text("".join(logo.to_text(p) + "\n" for p in res.rewritten))
    rep = dict(rep, library_file=str(path), total_seconds=time.perf_counter() - t0)
    tmp = out / ".report.json.tmp"
    tmp.write_text(json.dumps(rep, indent=1))
    tmp.replace(out / "report.json")
    if args.update_db and args.db:
        from data.db import Database
        from .api import write_back
        db = Database(args.db)
        try:
            statuses = write_back(db, res, parsed)
        finally:
            db.close()
        if not args.quiet:
            counts = {}
            for r in statuses:
                counts[r.status] = counts.get(r.status, 0) + 1
            print(f"database: library set ({len(res.library)} procedures); rewritten programs inserted: "
                  f"{counts or 'none'}")
    if rep.get("cost_with_library") not in (None, rep["cost_before"]):
        print(f"existing procedures applied: cost {rep['cost_before']} -> {rep['cost_with_library']}")
    print(f"learned {len(res.defs)} procedures; cost {rep['cost_before']} -> {rep['cost_after']} "
          f"(ratio {rep['ratio']:.3f}); AST nodes {rep['ast_size_before']} -> {rep['ast_size_after']}; "
          f"{rep['seconds']:.2f}s")
    print(f"wrote {path}, {out / 'rewritten.txt'}, {out / 'report.json'}")
    return 0
