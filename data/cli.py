"""`logo db ...`: build, inspect and move the image-program database.

    logo db build runs/db.sqlite --size 20000 --workers 2 --seed 0
    logo db stats runs/db.sqlite
    logo db show runs/db.sqlite 17 --png entry17.png
    logo db sheet runs/db.sqlite --out sheet.png -n 100 --source random --max-length 20
    logo db nearest runs/db.sqlite drawing.png -k 5
    logo db export runs/db.sqlite db.jsonl      /  logo db import other.sqlite db.jsonl
    logo db check runs/db.sqlite
"""
from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections import Counter

import numpy as np

from logo.cli_errors import BadInputFile, float_range, int_range, read_text
from logo.errors import LogoError

POSITIVE = int_range(1)


def register(sub):
    db = sub.add_parser("db", help="the image-program database (build, stats, show, sheet, nearest, export, import)",
                        description="Build, inspect, export and import the image-program database.")
    dsub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    db.set_defaults(func=lambda a: (db.print_help(), 2)[1])

    b = dsub.add_parser("build", help="add random programs until the database holds SIZE entries (resumable)")
    b.add_argument("db", help="database file (created if missing)")
    b.add_argument("--size", type=int_range(0), default=10_000, help="target number of entries (default 10000)")
    b.add_argument("--workers", type=int_range(1, 1024), default=None, help="worker processes (default: all cores)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--chunk-size", type=int_range(1, 1_000_000), default=1000, help="programs per chunk (the unit of resuming)")
    b.add_argument("--image-size", type=int_range(4, 512), default=None,
                   help="image size for a new database, 4 to 512 (default 32)")
    b.add_argument("--library", help="set the database's procedure library from this file first")
    b.add_argument("--max-samples", type=POSITIVE, default=None, help="stop after this many programs")
    b.add_argument("--min-tokens", type=POSITIVE, default=1)
    b.add_argument("--max-tokens", type=POSITIVE, default=60)
    b.add_argument("--max-statements", type=POSITIVE, default=4)
    b.add_argument("--max-depth", type=int_range(0), default=2, help="nesting of loop/embed/penup blocks")
    b.add_argument("--max-segments", type=POSITIVE, default=400)
    b.add_argument("--p-call", type=float_range(0, 1), default=0.3, help="probability of a library call per statement")
    for flag in ("loops", "loop-index", "embed", "penup", "arithmetic"):
        b.add_argument(f"--no-{flag}", action="store_true", help=f"generate no {flag.replace('-', ' ')}")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_build)

    s = dsub.add_parser("stats", help="counts, length histogram, equivalents per image, outcomes by reason")
    s.add_argument("db")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=_stats)

    sh = dsub.add_parser("show", help="one entry: head, equivalents, provenance, PNG")
    sh.add_argument("db")
    sh.add_argument("id", type=int)
    sh.add_argument("--png", help="write the entry's image to this PNG")
    sh.add_argument("--scale", type=int_range(1, 64), default=8)
    sh.set_defaults(func=_show)

    sc = dsub.add_parser("sheet", help="contact sheet PNG of N entries, by filter")
    sc.add_argument("db")
    sc.add_argument("--out", default="sheet.png")
    sc.add_argument("-n", type=int_range(1, 100_000), default=100)
    sc.add_argument("--source", help="only entries from this source (random, dream, task, library, import)")
    sc.add_argument("--min-length", type=int)
    sc.add_argument("--max-length", type=int)
    sc.add_argument("--min-id", type=int, default=0)
    sc.add_argument("--random", action="store_true", help="a random sample instead of the first N")
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--columns", type=int_range(1, 1000), default=10)
    sc.add_argument("--scale", type=int_range(1, 64), default=3)
    sc.set_defaults(func=_sheet)

    ne = dsub.add_parser("nearest", help="the k entries nearest to an image (PNG)")
    ne.add_argument("db")
    ne.add_argument("image", help="an image file (any colours, transparency or shape), read as `logo solve --tasks "
                                   "DIR` reads it (logo.images.load_target_image)")
    ne.add_argument("-k", type=int_range(1, 10_000), default=5)
    ne.add_argument("--sheet", help="also write the query and its neighbours to this PNG")
    ne.set_defaults(func=_nearest)

    ex = dsub.add_parser("export", help="write JSONL: one entry per line (head, equivalents, provenance)")
    ex.add_argument("db")
    ex.add_argument("out", help="JSONL file, or - for stdout")
    ex.set_defaults(func=_export)

    im = dsub.add_parser("import", help="insert the programs of a JSONL export (novelty rules apply; the "
                         "exported images are used when the image sizes agree and each program draws its "
                         "image, otherwise programs are re-rendered)",
                         description="Insert the programs of a JSONL export. An exported image is verified: "
                         "every program of the line must draw it (the database's same-image rule), or the "
                         "line is an error. The first bad line (malformed, unknown source, image that its "
                         "programs do not draw) stops the import: every line before it is committed, "
                         "whatever --batch is (--batch only sets how many programs go into one transaction), "
                         "and the message says how many lines were committed. Importing the same file "
                         "again is safe (programs already stored are duplicates).")
    im.add_argument("db")
    im.add_argument("jsonl", help="JSONL file (from `logo db export`), or - for stdin")
    from .db import SOURCES
    im.add_argument("--source", choices=SOURCES, help="record this source instead of the exported ones")
    im.add_argument("--batch", type=POSITIVE, default=2000, help="programs per transaction (default 2000)")
    im.set_defaults(func=_import)

    ck = dsub.add_parser("check", help="integrity check (exit status 1 if a problem is found)")
    ck.add_argument("db")
    ck.set_defaults(func=_check)
    return dsub                      # higher layers add their own `logo db` subcommands (app: serve)


def _open(path, create=False):
    """Open for writing (migrating an older file); a `DatabaseError` naming the file if that fails."""
    from .db import Database
    return Database(path, create=create)


def _open_to_read(path):
    """Open for reading only (SQLite read-only mode), so read-only files work and nothing is written.
    An older-format file that must be migrated first is opened for writing when this process may."""
    from .db import NeedsMigrationError, open_readonly, writable
    try:
        return open_readonly(path)
    except NeedsMigrationError:
        if writable(path):
            return _open(path)
        raise


def _build(a) -> int:
    from .build import build
    from .db import Database
    from pathlib import Path
    import logo
    if Path(a.db).is_dir():
        raise IsADirectoryError(21, "is a directory, not a database file", a.db)
    text = None
    if a.library:
        text = read_text(a.library)
        try:
            logo.parse_library(text)       # before anything is created: a bad library leaves no new file
        except logo.LogoError as e:
            raise BadInputFile(f"{a.library}: {e}") from None
    Path(a.db).parent.mkdir(parents=True, exist_ok=True)  # a new database may name a new folder
    if text is not None:
        with Database(a.db, image_size=a.image_size) as db:
            db.set_library(text)
    constraints = dict(min_tokens=a.min_tokens, max_tokens=a.max_tokens, max_statements=a.max_statements,
                       max_depth=a.max_depth, max_segments=a.max_segments, p_call=a.p_call,
                       loops=not a.no_loops, loop_index=not a.no_loop_index, embed=not a.no_embed,
                       penup=not a.no_penup, arithmetic=not a.no_arithmetic)
    try:
        r = build(a.db, a.size, workers=a.workers, seed=a.seed, chunk_size=a.chunk_size, image_size=a.image_size,
                  progress=not a.quiet, max_samples=a.max_samples, **constraints)
    except KeyboardInterrupt:
        print("\nlogo db build: interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    rej = {k.split(":", 1)[1]: v for k, v in r.outcomes.items() if k.startswith("rejected:")}
    print(f"{r.entries} entries (+{r.new}); {r.samples} programs in {r.seconds:.1f} s = "
          f"{r.samples_per_s:,.0f} samples/s, {r.new_per_s:,.0f} new entries/s")
    print("outcomes: " + ", ".join(f"{k} {r.outcomes.get(k, 0)}" for k in ("new", "head", "equivalent", "duplicate"))
          + "; rejected: " + (", ".join(f"{k} {v}" for k, v in sorted(rej.items())) or "none"))
    return 0


def db_stats(db) -> dict:
    """Counts, histograms and outcome counters of a database (what `logo db stats` prints)."""
    lengths = Counter()
    n_programs = Counter()
    sources = Counter()
    for length, n, source in db.entry_summaries():
        lengths[length] += 1
        n_programs[n] += 1
        sources[source] += 1
    total_programs = sum(k * v for k, v in n_programs.items())
    return {"path": db.path, "entries": sum(lengths.values()), "programs": total_programs,
            "image_size": db.image_size, "threshold": db.threshold, "max_equivalents": db.max_equivalents,
            "entries_by_source": dict(sources), "head_length_histogram": dict(sorted(lengths.items())),
            "programs_per_entry_histogram": dict(sorted(n_programs.items())), "outcomes": db.stats(),
            "library_procedures": len(db.library())}


def _stats(a) -> int:
    with _open_to_read(a.db) as db:
        st = db_stats(db)
    if a.json:
        print(json.dumps(st, indent=1))
        return 0
    print(f"{st['path']}: {st['entries']} entries, {st['programs']} programs "
          f"(image {st['image_size']}x{st['image_size']}, threshold {st['threshold']}, "
          f"at most {st['max_equivalents']} programs per image, {st['library_procedures']} library procedures)")
    print("entries by source: " + ", ".join(f"{k} {v}" for k, v in sorted(st["entries_by_source"].items())))
    print("head length (tokens): count")
    hist = st["head_length_histogram"]
    buckets = {lo: sum(v for k, v in hist.items() if lo <= k < lo + 5) for lo in range(0, max(hist, default=0) + 1, 5)}
    peak = max(buckets.values(), default=1)
    for lo, c in buckets.items():
        if c:
            print(f"  {lo:3d}-{lo + 4:<3d} {c:8d} {'#' * max(1, round(40 * c / peak))}")
    print("programs per image: " + ", ".join(f"{k}: {v}" for k, v in st["programs_per_entry_histogram"].items()))
    for source, outcomes in st["outcomes"].items():
        samples = outcomes.get("samples", 0)
        acc = outcomes.get("new", 0) + outcomes.get("head", 0) + outcomes.get("equivalent", 0)
        rej = {k.split(":", 1)[1]: v for k, v in outcomes.items() if k.startswith("rejected:")}
        print(f"{source}: {samples} programs tried; accepted {acc} ({100 * acc / max(samples, 1):.1f}%: "
              f"new {outcomes.get('new', 0)}, head {outcomes.get('head', 0)}, "
              f"equivalent {outcomes.get('equivalent', 0)}); duplicate {outcomes.get('duplicate', 0)}; "
              f"rejected " + (", ".join(f"{k} {v}" for k, v in sorted(rej.items())) or "0"))
    return 0


def _show(a) -> int:
    with _open_to_read(a.db) as db:
        try:
            e = db.get(a.id)
        except KeyError as err:
            print(f"logo db show: {err.args[0]}", file=sys.stderr)
            return 1
    print(f"entry {e.entry_id}  (source {e.source}, {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(e.created))} UTC)")
    print(f"head: {e.head}")
    from logo.tokens import n_tokens
    for text, source, created in e.programs:
        print(f"  {n_tokens(text):3d} tokens  [{source}]  {text}")
    if a.png:
        from logo.pictures import save_png
        save_png(e.image, a.png, scale=a.scale)
        print(f"wrote {a.png}")
    return 0


def _sheet(a) -> int:
    from logo.pictures import save_sheet
    with _open_to_read(a.db) as db:
        ids = db.entry_ids(a.min_id, a.source or None, a.min_length, a.max_length)
        if a.random and len(ids) > a.n:
            rng = np.random.default_rng(a.seed)
            ids = sorted(rng.choice(ids, size=a.n, replace=False).tolist())
        ids = ids[:a.n]
        if not ids:
            print("logo db sheet: no entries match", file=sys.stderr)
            return 1
        images = db.images(ids)
    save_sheet(images, a.out, labels=[str(i) for i in ids], columns=a.columns, scale=a.scale)
    print(f"wrote {a.out} ({len(ids)} entries)")
    return 0


def _nearest(a) -> int:
    from logo.images import load_target_image
    with _open_to_read(a.db) as db:
        q = load_target_image(a.image, db.image_size)      # read as `logo solve --tasks DIR` reads it
        hits = db.nearest(q, a.k)
        for eid, d in hits:
            print(f"{eid}\t{d:.4f}\t{db.get(eid).head}")
        if a.sheet and hits:
            from logo.pictures import save_sheet
            imgs = [q] + list(db.images([h[0] for h in hits]))
            save_sheet(imgs, a.sheet, labels=["query"] + [f"{e} {d:.3f}" for e, d in hits], columns=len(imgs))
    return 0


def _export(a) -> int:
    from contextlib import nullcontext
    from logo.files import atomic_write
    with _open_to_read(a.db) as db:
        n = 0
        with nullcontext(sys.stdout) if a.out == "-" else atomic_write(a.out, "w") as out:
            for e in db.entries():
                out.write(json.dumps({"id": e.entry_id, "head": e.head, "equivalents": e.equivalents,
                                      "source": e.source, "created": e.created,
                                      "programs": [list(p) for p in e.programs],
                                      "image_size": db.image_size,
                                      "image": base64.b64encode(e.image.tobytes()).decode()}) + "\n")
                n += 1
    if a.out != "-":
        print(f"wrote {a.out} ({n} entries)")
    return 0


class _BadLine(ValueError):
    """A line of an import file that cannot be imported; the message names the file and line."""


def _lines(n: int) -> str:
    return f"{n} line" + ("" if n == 1 else "s")


def _import(a) -> int:
    """Import a JSONL export line by line; see the `import` parser's description for what a bad line does."""
    from pathlib import Path
    from logo.files import BadJsonLine, jsonl_records
    from .db import SOURCES
    if a.jsonl != "-" and Path(a.jsonl).is_dir():
        raise IsADirectoryError(21, "is a directory, not a file", a.jsonl)
    # open the input first: a missing input file must not leave a new empty database behind
    f = sys.stdin.buffer if a.jsonl == "-" else open(a.jsonl, "rb")      # lines are decoded one by one
    created = not os.path.exists(a.db)
    try:
        db = _open(a.db, create=True)
    except BaseException:
        if f is not sys.stdin.buffer:
            f.close()
        raise
    counts = Counter()
    progs, sources, images, line_of = [], [], [], []
    committed = {"lines": 0}

    def flush(upto_line: int) -> None:
        """Insert the pending programs (every line before `upto_line`); verify embedded images first."""
        if progs:
            bad = db.image_mismatches(progs, images)
            if bad:
                i = bad[0]
                first = line_of.index(line_of[i])          # the bad line's programs are all left out
                if first:
                    counts.update(r.status for r in db.insert_many(progs[:first], sources[:first], images[:first]))
                    committed["lines"] = line_of[first - 1]
                raise _BadLine(f"{a.jsonl}:{line_of[i]}: the exported image is not what the program "
                               f"{progs[i]!r} draws")
            counts.update(r.status for r in db.insert_many(progs, sources, images))
            progs.clear()
            sources.clear()
            images.clear()
            line_of.clear()
        committed["lines"] = upto_line - 1
    line_no = 0

    def stop(e: _BadLine) -> _BadLine:
        """Commit every good line before the bad one; the error that says what was committed."""
        try:
            flush(line_no)
        except _BadLine as first:    # an earlier pending line's image was wrong: that one is reported
            e = first
        n = committed["lines"]
        done = "nothing was committed" if n == 0 else "line 1 was committed" if n == 1 else \
            f"lines 1-{n} were committed"
        return _BadLine(f"{e}; {done}")
    try:
        try:
            for line_no, rec in jsonl_records(f, a.jsonl, strict=True):
                try:
                    programs = rec.get("programs") or [[t, rec.get("source", "import")] for t in rec["equivalents"]]
                    image = None             # the entry's image: the same novelty decisions as in the source
                    if rec.get("image") and rec.get("image_size") == db.image_size:
                        image = np.frombuffer(base64.b64decode(rec["image"]), np.uint8).reshape(
                            db.image_size, db.image_size)
                    line_progs, line_sources = [], []
                    for p in programs:
                        if not isinstance(p[0], str):
                            raise TypeError(f"a program is {type(p[0]).__name__}, not text")
                        source = a.source or (p[1] if len(p) > 1 else "import")
                        if source not in SOURCES:
                            raise ValueError(f"unknown source {source!r} (known: {', '.join(SOURCES)})")
                        line_progs.append(p[0])
                        line_sources.append(source)
                except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
                    raise _BadLine(f"{a.jsonl}:{line_no}: not an exported entry ({e})") from None
                progs.extend(line_progs)
                sources.extend(line_sources)
                images.extend([image] * len(line_progs))
                line_of.extend([line_no] * len(line_progs))
                if len(progs) >= a.batch:
                    flush(line_no + 1)
            line_no += 1             # the end of the file: every line is "before" it
            flush(line_no)
        except BadJsonLine as e:     # not UTF-8, or not JSON
            line_no = e.line
            raise stop(_BadLine(str(e))) from None
        except _BadLine as e:
            raise stop(e) from None
        except LogoError as e:
            raise stop(_BadLine(f"{a.jsonl}:{line_no}: {e}")) from None
    except _BadLine as e:
        print(f"logo db import: {e}", file=sys.stderr)
        return 1
    finally:
        if f is not sys.stdin.buffer:
            f.close()
        db.close()
        if created and committed["lines"] == 0 and not counts:     # a failed import leaves no new empty file
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(a.db + suffix):
                    os.unlink(a.db + suffix)
    print(f"imported {_lines(committed['lines'])}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


def _check(a) -> int:
    import sqlite3
    with _open_to_read(a.db) as db:
        try:
            problems = db.check()
            n = len(db)
        except sqlite3.DatabaseError as e:     # damage that stops the queries after the integrity check
            problems, n = [f"{a.db}: {e}"], None
    if problems:
        for p in problems:
            print(p)
        print(f"logo db check: {a.db}: {len(problems)} problem{'s' if len(problems) > 1 else ''} found",
              file=sys.stderr)
        return 1
    print(f"{a.db}: ok ({n} entries)")
    return 0
