"""Does the learned library make solving easier? The same search with the library off and on.

Both arms search the same targets with the same proposer (a checkpoint's model, or a model-free arm of
`dream.baselines`), budget, batch and database. What differs:

- **off**: no procedures. The proposer gets no library; start programs are the nearest database
  entries' shortest programs that call no procedure (an entry with only library programs gives none).
- **on**: the library's procedures. The proposer gets them (the grammar proposer inserts calls to them;
  the model proposes them when its vocabulary has them); start programs are the entries' heads (which may
  call procedures) plus the off arm's starts rewritten with the library; candidates are drawn with it.

Lengths are tokens of the program as written, calls included and procedure bodies not (the library is
shared by every program, as in DreamCoder's description length).
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

import logo

ARMS = ("off", "on")


def _calls_library(text: str, names: set[str]) -> bool:
    toks = text.replace("(", " ( ").split()
    return any(a == "(" and b in names for a, b in zip(toks, toks[1:]))


def arm_starts(db, image: np.ndarray, k: int, library, arm: str) -> list[str]:
    """The start programs of one arm for one target (the empty program first)."""
    starts = [""]
    if db is None or k <= 0 or len(db) == 0:
        return starts
    names = {d.name for d in library or ()}
    plain = []
    for entry_id, _ in db.nearest(np.asarray(image, np.uint8), k):
        try:
            e = db.get(entry_id)
        except (KeyError, LookupError):
            continue
        free = [p for p in e.equivalents if not _calls_library(p, names)]
        if free:
            plain.append(min(free, key=lambda p: (logo.n_tokens(p), p)))
        if arm == "on":
            starts.append(e.head)
    if arm == "off" or not library:
        return starts + plain
    from library import compress
    rewritten = [logo.to_text(p) for p in compress(plain, iterations=0, library=list(library)).rewritten] if plain else []
    seen, out = set(), []
    for p in starts + rewritten + plain:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def run_arm(arm: str, targets, expand_for, db, library, budget_s: float, k: int = 8, batch: int = 8,
            image_size: int = 32, echo=None) -> list[dict]:
    """Search every target in one arm; one row per target."""
    from dream.score import iou
    from dream.search import Search
    lib = list(library) if arm == "on" and library else None
    expand = expand_for(lib)
    rows = []
    for t in targets:
        starts = arm_starts(db, t.image, k, library, arm)
        s = Search(expand, t.image, t.image28, image_size=image_size, library=lib, starts=starts, batch=batch)
        r = s.run(budget_s, stop_on_solve=True)
        rows.append({"name": t.name, "kind": t.kind, "solved": bool(r.solved), "program": r.program,
                     "tokens": r.best.tokens, "iou": round(float(iou(r.best.image28, t.image28)), 4),
                     "distance": round(float(r.best.distance), 5),
                     "calls_library": bool(lib) and _calls_library(r.program, {d.name for d in lib}),
                     "time_to_solve": r.time_to_solve, "expanded": r.n_expanded, "starts": len(starts)})
        if echo:
            echo(f"  [{arm}] {t.name[:32]:32s} {'solved' if r.solved else 'iou %.2f' % rows[-1]['iou']:10s} "
                 f"{r.best.tokens:3d} tokens  {r.program[:70]}")
    return rows


def summarize(rows: Sequence[dict]) -> dict:
    n = len(rows)
    return {"targets": n, "solved": sum(r["solved"] for r in rows),
            "mean_iou": round(sum(r["iou"] for r in rows) / n, 4) if n else None,
            "mean_tokens": round(sum(r["tokens"] for r in rows) / n, 2) if n else None,
            "mean_tokens_solved": (round(sum(r["tokens"] for r in rows if r["solved"]) /
                                         max(1, sum(r["solved"] for r in rows)), 2)
                                   if any(r["solved"] for r in rows) else None),
            "calls_library": sum(r.get("calls_library", False) for r in rows)}


def compare(target_sets: dict, expand_for, db, library, budget_s: float, k: int = 8, batch: int = 8,
            image_size: int = 32, echo=None) -> dict:
    """{set name: {"off": summary, "on": summary, "rows": {"off": [...], "on": [...]}}} for each set.

    The arms alternate target by target (off, on, off, on, ...) so that a shared machine's changing load
    falls on both alike."""
    out = {}
    for name, targets in target_sets.items():
        t0 = time.monotonic()
        res = {"rows": {arm: [] for arm in ARMS}}
        for t in targets:
            for arm in ARMS:
                res["rows"][arm] += run_arm(arm, [t], expand_for, db, library, budget_s, k, batch, image_size, echo)
        for arm in ARMS:
            res[arm] = summarize(res["rows"][arm])
        res["seconds"] = round(time.monotonic() - t0, 1)
        out[name] = res
    return out


def proposer_factory(name: str, model_proposer=None, n: int = 16, seed: int = 0, max_tokens: int = 96):
    """`library -> expand` for a `dream.baselines` arm (a fresh proposer per arm, same seed)."""
    from dream.baselines import make_proposer

    def make(library):
        return make_proposer(name, model_proposer, n=n, seed=seed, library=library, max_tokens=max_tokens)
    return make


def main(argv=None) -> int:
    """`python -m app.library_arms`: one comparison, written as JSON (used by `logo run` each round)."""
    import argparse
    import json
    from pathlib import Path
    ap = argparse.ArgumentParser(prog="python -m app.library_arms", description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--ckpt", default=None, help="checkpoint directory (the model proposes; else --proposer)")
    ap.add_argument("--proposer", default=None, help="dream.baselines arm (default model with --ckpt, else grammar)")
    ap.add_argument("--tasks", type=int, default=16, help="DreamCoder test tasks (spread over the split)")
    ap.add_argument("--mnist", type=int, default=0, help="held-out MNIST digits")
    ap.add_argument("--budget", type=float, default=1.5)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--mnist-root", default=None)
    ap.add_argument("--out", required=True, help="JSON file to write")
    args = ap.parse_args(argv)
    from data.db import Database
    from .solve import load_targets
    proposer, model_proposer = args.proposer or ("model" if args.ckpt else "grammar"), None
    if proposer.startswith("model"):
        from dream.proposer import CheckpointWatcher, resolve_device
        w = CheckpointWatcher(args.ckpt, resolve_device(args.device))
        w.require()
        model_proposer = w.proposer(8, (1.0,), 8)
    expand_for = proposer_factory(proposer, model_proposer, max_tokens=getattr(model_proposer, "max_tokens", 96))
    with Database(args.db, create=False, readonly=True) as db:
        library, size = list(db.library()), db.image_size
        sets = {}
        if args.tasks:
            sets["dreamcoder-test"] = load_targets("dreamcoder", "test", size, args.tasks)[1]
        if args.mnist:
            sets["mnist-heldout"] = load_targets("mnist-heldout", "test", size, args.mnist, args.mnist_root)[1]
        res = compare(sets, expand_for, db, library, args.budget, image_size=size,
                      echo=lambda s: print(s, flush=True))
    summary = {"proposer": proposer, "checkpoint": args.ckpt, "budget_s": args.budget, "library_size": len(library),
               "results": res}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1, default=str))
    for name, r in res.items():
        print(f"{name}: off {r['off']['solved']}/{r['off']['targets']} solved, IoU {r['off']['mean_iou']}, "
              f"{r['off']['mean_tokens']} tokens | on {r['on']['solved']}/{r['on']['targets']} solved, "
              f"IoU {r['on']['mean_iou']}, {r['on']['mean_tokens']} tokens")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
