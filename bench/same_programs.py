"""Do the deterministic arms still find the same programs? Each target searched with a fixed *count*
(programs enumerated, search rounds), not wall time, so two commits can be compared program by program.

    .venv/bin/python bench/same_programs.py --out after.json [--arms none,enum,topdown] [--programs 20000]
                                            [--rounds 20] [--limit N]
    .venv/bin/python bench/same_programs.py --compare before.json after.json

Targets: the 80 DreamCoder test tasks, no database, no checkpoint (start programs: the empty program and the
enumerated starts, `SearchSettings.enumerated_starts`). `topdown` enumerates `--programs` programs per target;
the edit arms (`none`, `enum`) enumerate `enumerate_share` of them for their starts, then search `--rounds`
rounds (`SearchSettings.max_programs`, `max_rounds`: the count budget). Writes {arm: {task: program}} as JSON;
`--compare` prints, per arm, how many tasks got the same program in both files.

At a commit before the count budget existed, the same counts are imposed by wrapping the enumerator driver and
the search loop (`_legacy_counts`), exactly as the count budget bounds them.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: a wall-time budget no count-bounded run reaches
NO_TIME_LIMIT = 1e6


def _legacy_counts(programs: int, rounds: int, share: float) -> None:
    """Bound a solver without the count budget by counts: enumerate `programs` programs for the topdown arm
    (its call asks for one nearest program) and `share` x `programs` for enumerated starts; search `rounds`."""
    from dream.search import frontier, topdown
    enumerate_for_target, run = topdown.enumerate_for_target, frontier.Search.run

    def counted_enumeration(target28, grammar, budget_s=5.0, *, k=8, **kw):
        kw["max_programs"] = programs if k == 1 else max(1, int(programs * share))
        return enumerate_for_target(target28, grammar, NO_TIME_LIMIT, k=k, **kw)

    def counted_run(self, budget_s=10.0, stop_on_solve=True, max_rounds=None, should_stop=None):
        return run(self, NO_TIME_LIMIT, stop_on_solve, rounds, should_stop)
    topdown.enumerate_for_target = counted_enumeration
    frontier.Search.run = counted_run


def run_arms(arms: list[str], programs: int, rounds: int, limit: int | None) -> dict:
    from dream.search.solver import SearchSettings, Solver
    from dream.search.targets import load_targets
    counted = {"max_programs", "max_rounds"} <= set(SearchSettings.__dataclass_fields__)
    if counted:
        settings = SearchSettings(max_programs=programs, max_rounds=rounds, budget_s=NO_TIME_LIMIT)
    else:
        settings = SearchSettings()
        _legacy_counts(programs, rounds, settings.enumerate_share)
    solver = Solver.open(arms, settings=settings)
    _, targets, _ = load_targets("dreamcoder", "test", solver.image_size, limit)
    out: dict[str, dict[str, str]] = {}
    for arm in arms:
        t0 = time.monotonic()
        rows = solver.solve(targets, arm) if counted else solver.solve(targets, arm, NO_TIME_LIMIT)
        out[arm] = {r["name"]: r.get("program", "ERROR " + r.get("error", "")) for r in rows}
        print(f"{arm}: {len(rows)} targets, {sum(bool(r.get('solved')) for r in rows)} solved, "
              f"{time.monotonic() - t0:.0f} s", flush=True)
    solver.close()
    return out


def compare(a: dict, b: dict) -> int:
    same_all = True
    for arm in sorted(set(a) | set(b)):
        x, y = a.get(arm, {}), b.get(arm, {})
        names = sorted(set(x) | set(y))
        same = [n for n in names if n in x and n in y and x[n] == y[n]]
        print(f"{arm}: {len(same)}/{len(names)} identical")
        for n in names:
            if n not in same:
                print(f"  {n}: {x.get(n)!r} != {y.get(n)!r}")
        same_all &= len(same) == len(names)
    return 0 if same_all else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="JSON file to write {arm: {task: program}}")
    p.add_argument("--arms", default="none,enum,topdown")
    p.add_argument("--programs", type=int, default=20_000, help="programs enumerated per target (topdown)")
    p.add_argument("--rounds", type=int, default=20, help="search rounds per target (edit arms)")
    p.add_argument("--limit", type=int, default=None, help="only N tasks spread over the split")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = p.parse_args(argv)
    if args.compare:
        return compare(*(json.loads(Path(f).read_text()) for f in args.compare))
    if not args.out:
        p.error("--out or --compare")
    got = run_arms([a.strip() for a in args.arms.split(",") if a.strip()], args.programs, args.rounds, args.limit)
    Path(args.out).write_text(json.dumps(got, indent=1, sort_keys=True))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
