"""Dreams: grow the database with programs enumerated from the round's grammar and library, one per drawing.

    python -m app.grow_db --db runs/x/db.sqlite --grammar runs/x/report/round1/grammar.json --count 1000

`logo run` calls it after each round's abstraction: the networks trained next round (`train` beside
`dream`) then learn from drawings of the kind the library makes likely, not only from random programs.
Programs come in decreasing probability under the grammar (`logo.enumeration.distinct_drawings`, one
program per distinct drawing); the database drops what it holds already, so a refitted grammar adds its
new programs. They enter with source "library". Stops after `--count` new entries or `--seconds`;
each batch is one transaction, so a stopped run keeps whole batches.
"""
from __future__ import annotations

import argparse
import sys
import time

from logo.cli_errors import float_range, int_range


def grow(db, grammar, library, count: int, seconds: float, batch: int = 256) -> dict:
    """Insert enumerated programs into the open database `db` until `count` are new or `seconds` passed."""
    import logo
    from logo.enumeration import Budget, distinct_drawings
    t0 = time.monotonic()
    new = offered = 0
    pending: list[str] = []
    if count <= 0:
        return {"offered": 0, "new": 0, "seconds": 0.0}

    def flush() -> int:
        results = db.insert_many(pending, source="library")
        pending.clear()
        return sum(1 for r in results if r.status == "new")

    for d in distinct_drawings(grammar, Budget(seconds=seconds), size=db.image_size, library=library):
        for program in d.programs:
            pending.append(logo.to_text(program))
            offered += 1
            if len(pending) >= min(batch, count - new):
                new += flush()
                if new >= count:
                    break
        if new >= count or time.monotonic() - t0 > seconds:
            break
    if pending and new < count:
        new += flush()
    return {"offered": offered, "new": new, "seconds": round(time.monotonic() - t0, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.grow_db", description=__doc__.split("\n")[0])
    p.add_argument("--db", required=True, help="the database to grow")
    p.add_argument("--grammar", required=True, help="grammar file (its procedures: the database's library)")
    p.add_argument("--count", type=int_range(0), required=True, help="new entries to add")
    p.add_argument("--seconds", type=float_range(0, lo_open=True), default=60.0,
                   help="enumerate at most this long (default 60)")
    args = p.parse_args(argv)
    import logo
    from data.db import Database
    from logo.pcfg import Grammar
    grammar = Grammar.load(args.grammar)
    db = Database(args.db, create=False)
    try:
        library = logo.parse_library(db.library_text())
        got = grow(db, grammar, library, args.count, args.seconds)
    finally:
        db.close()
    print(f"grow_db: {got['new']} new entries from {got['offered']} enumerated programs in {got['seconds']} s "
          f"({len(library)} library procedures)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
