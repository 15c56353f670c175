"""A library for digits, learned from constructions of *training* digits only (issue 31: compress what
construction found).

    .venv/bin/python bench/digit_library.py [--per-class 30] [--budget 2] [--workers 2]
                                            [--iterations 12] [--max-arity 2] [--out runs/digit_library]
                                            [--write data/digit_library.logo]

1. Construct (`dream.search.construct.construct`, no polish) `--per-class` digits of each class of the
   bundled MNIST *train* split, `--budget` s each; one JSON line per digit in OUT/corpus.jsonl (program,
   tokens, IoU, label and the statements, which `model.construct` learns its statement source from).
   Resumable: digits already in the file are skipped, and every digit in it is in the corpus.
2. Compress the programs (`library.api.compress`, Stitch's objective) into up to `--iterations` procedures
   of at most `--max-arity` parameters; print the median tokens before and after the rewrite, the
   procedures and their uses; write OUT/library.lisp (and `--write`, the library `bench/digits.py
   --library` and `logo solve --library` read).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def training_picks(per_class: int) -> list[int]:
    """`per_class` digits of each class of the training split, spread over the class."""
    import numpy as np
    from data.mnist import labels
    y = labels("train")
    out = []
    for d in range(10):
        idx = np.nonzero(y == d)[0]
        out.extend(idx[np.linspace(0, len(idx) - 1, min(per_class, len(idx))).round().astype(int)].tolist())
    return out


def _construct(args) -> dict:
    index, budget = args
    from data.mnist import labels, mnist
    from dream.search import construct as C
    x = mnist(None, "train", 28)[index]
    c = C.construct(x, budget)
    return {"index": index, "label": int(labels("train")[index]), "program": c.program, "tokens": c.tokens,
            "iou": round(c.iou, 4), "start": list(c.start),
            "prims": [[p.kind, p.heading, str(p.a), p.n, p.turn] for p in c.prims]}


def build_corpus(path: Path, picks: list[int], budget: float, workers: int) -> list[dict]:
    """The constructions of `picks`, appended to `path` as they finish (resumable)."""
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["index"]] = row
    todo = [i for i in picks if i not in done]
    if todo:
        from tqdm import tqdm
        from dream.search.construct import banks
        banks()
        with mp.get_context("fork").Pool(workers) as pool, path.open("a") as f:
            for row in tqdm(pool.imap_unordered(_construct, [(i, budget) for i in todo]), total=len(todo),
                            desc="constructing training digits"):
                f.write(json.dumps(row) + "\n")
                f.flush()
                done[row["index"]] = row
    return [done[i] for i in sorted(done)]          # every digit constructed so far (an earlier, smaller run's too)


def write_examples(rows: list[dict], path) -> None:
    """The states of every construction (`dream.search.construct.statement_examples`) as the statement
    net's examples (`model.statement.train.save_examples`)."""
    import numpy as np
    from data.mnist import mnist
    from dream.search.construct import prims_from_rows, statement_examples
    from model.statement.train import save_examples
    x = mnist(None, "train", 28)
    cols = {k: [] for k in ("target", "drawn", "next", "rest", "pos", "heading", "digit")}
    for r in rows:
        for e in statement_examples(prims_from_rows(r["prims"]), tuple(r["start"]), x[r["index"]]):
            for k in ("target", "drawn", "next", "rest", "heading"):
                cols[k].append(e[k])
            cols["pos"].append(e["pos"] if e["pos"] is not None else (np.nan, np.nan))
            cols["digit"].append(r["index"])
    save_examples(path, cols)
    print(f"wrote {len(cols['digit'])} states of {len(rows)} constructions to {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-class", type=int, default=30)
    ap.add_argument("--budget", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--max-arity", type=int, default=2)
    ap.add_argument("--out", default="runs/digit_library")
    ap.add_argument("--write", default=None, help="also write the library here (e.g. data/digit_library.logo)")
    ap.add_argument("--write-examples", default=None,
                    help="write the constructions' states for the statement net here (data/digit_statements.npz)")
    ap.add_argument("--no-compress", action="store_true", help="build the corpus (and examples) only")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = build_corpus(out / "corpus.jsonl", training_picks(args.per_class), args.budget, args.workers)
    rows = [r for r in rows if r["program"]]
    print(f"{len(rows)} training digits constructed: mean IoU {statistics.fmean(r['iou'] for r in rows):.3f}, "
          f"median tokens {statistics.median(r['tokens'] for r in rows)}")

    if args.write_examples:
        write_examples(rows, args.write_examples)
    if args.no_compress:
        return 0
    from library.api import compress, save_library
    from logo.tokens import n_tokens
    import logo
    t0 = time.perf_counter()
    result = compress([r["program"] for r in rows], iterations=args.iterations, max_arity=args.max_arity,
                      prefix="digit_")
    after = [n_tokens(logo.to_text(p)) for p in result.rewritten]
    print(f"compressed in {time.perf_counter() - t0:.1f} s: median tokens "
          f"{statistics.median(r['tokens'] for r in rows)} -> {statistics.median(after)} "
          f"with {len(result.defs)} procedures")
    for d in result.defs:
        print("  ", logo.to_text(d))
    save_library(result.library, out, comments=[
        f"learned by bench/digit_library.py from {len(rows)} constructions of MNIST training digits "
        f"(--per-class {args.per_class}, --budget {args.budget})"])
    if args.write:
        from library.api import library_text
        Path(args.write).write_text(library_text(result.library, comments=[
            f"learned by bench/digit_library.py from {len(rows)} constructions of MNIST training digits"]))
        print("wrote", args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
