"""Long fuzz run of the DSL's error contract: parse / run / render many thousands of adversarial inputs.

    python bench/fuzz.py [--seconds 120] [--seed 0] [--time-bound 2]

Prints the inputs run (per kind), the non-LogoError exceptions (should be 0) and the hangs, inputs
that took longer than the time bound (should be 0), with a few examples of each.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logo.fuzzing import check, exercise, fuzz_input  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-bound", type=float, default=2.0)
    args = ap.parse_args(argv)
    exercise("(loop i 4 (move ul (/ ua 4)))")  # load the numba functions before timing
    r = random.Random(args.seed)
    kinds, errors, hangs = Counter(), [], []
    slowest = 0.0
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.seconds:
        kind, text = fuzz_input(r)
        kinds[kind] += 1
        err, seconds = check(text, args.time_bound)
        slowest = max(slowest, seconds)
        if err is not None:
            errors.append((kind, f"{type(err).__name__}: {err}"[:160], text[:120]))
        if seconds > args.time_bound:
            hangs.append((kind, round(seconds, 2), text[:120]))
    n = sum(kinds.values())
    print(f"inputs run: {n} in {time.monotonic() - t0:.0f} s ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})")
    print(f"non-LogoError exceptions: {len(errors)}")
    for e in errors[:10]:
        print("   ", e)
    print(f"hangs (> {args.time_bound:g} s): {len(hangs)}; slowest input {slowest:.2f} s")
    for h in hangs[:10]:
        print("   ", h)
    return 1 if errors or hangs else 0


if __name__ == "__main__":
    sys.exit(main())
