"""Digits drawn as digits (issue 31): every arm on the same MNIST digits, budget and start programs, in one run.

    .venv/bin/python bench/digits.py [--budget 10] [--per-class 10] [--arms construct,grammar,topdown,none]
                                     [--db DB] [--library data/digit_library.logo] [--workers 2]
                                     [--split heldout] [--out runs/bench_digits]

Targets: `--per-class` digits of each class from the bundled MNIST `--split` (held-out by default: 500
digits, 50 a class, never trained on; tune on `--split train`), in their line-drawing form. Every target
is searched by every arm before the next target, so machine load drifts equally over the arms (with
`--workers N`, N processes each take whole targets).

Reports per arm: mean IoU at 28x28, median program tokens, solved (exact), and the share of its drawings
that the digit classifier (`model.digit_classifier`, trained on the training split only) names as the
target's label, next to the classifier's accuracy on the targets themselves (its ceiling); per class too.
Writes OUT/digits.json (rows and summary) and OUT/digits.png: one row per target, the target then each
arm's drawing labelled "IoU tokens >class".
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from dream.search.arms import ARMS  # noqa: E402
from dream.search.solver import SearchSettings, Solver, SolveError, public  # noqa: E402
from dream.search.targets import Target  # noqa: E402


def digit_targets(split: str, per_class: int, size: int) -> tuple[list[Target], np.ndarray]:
    """`per_class` digits of each class of the bundled `split`, spread over the class; (targets, labels)."""
    from data.mnist import labels as digit_labels
    from data.mnist import mnist
    from logo.library import SOLVE_SIZE
    x28 = mnist(None, split, SOLVE_SIZE)
    xs = x28 if size == SOLVE_SIZE else mnist(None, split, size)
    labels = digit_labels(split)
    picks = []
    for d in range(10):
        idx = np.nonzero(labels == d)[0]
        picks.extend(idx[np.linspace(0, len(idx) - 1, min(per_class, len(idx))).round().astype(int)].tolist())
    targets = [Target(f"mnist-{split}-{i}", "mnist", xs[i], x28[i], extra={"label": int(labels[i])})
               for i in picks]
    return targets, labels[picks]


def n_tokens(text: str) -> int:
    from logo.tokens import n_tokens as count
    return count(text)


def arm_summary(rows: list[dict], labels: np.ndarray, predicted: np.ndarray) -> dict:
    ok = [r for r in rows if "error" not in r]
    return {
        "targets": len(rows), "errors": len(rows) - len(ok),
        "mean_iou": round(statistics.fmean(r["iou"] for r in ok), 4) if ok else None,
        "median_tokens": statistics.median(r["tokens"] for r in ok) if ok else None,
        "solved": sum(bool(r["solved"]) for r in ok),
        # a construction before the library's rewrite and the polish (construct arms only)
        "median_constructed_tokens": statistics.median(n_tokens(r["constructed"]) for r in ok)
        if ok and all(r.get("constructed") for r in ok) else None,
        "classified_as_label": round(float((predicted == labels).mean()), 4),
        "mean_elapsed": round(statistics.fmean(r["elapsed"] for r in ok), 2) if ok else None,
        "iou_by_class": {str(d): round(statistics.fmean([r["iou"] for r, l in zip(rows, labels)
                                                         if l == d and "error" not in r] or [0.0]), 3)
                         for d in sorted(set(labels.tolist()))},
    }


def open_solver(args, arms):
    """The `Solver` every arm searches with (the database, the `--library`), its banks built."""
    try:
        solver = Solver.open(arms, ckpt=args.ckpt, db=args.db, settings=SearchSettings.from_args(args),
                             seed=args.seed)
    except SolveError as e:
        raise SystemExit(f"bench/digits.py: {e}")
    if args.library:
        from library.api import load_library
        solver = solver.variant(library=tuple(load_library(args.library)))     # shares (and closes) the database
    from dream.search.construct import banks, statement_net
    banks()                                     # the construction's statement banks: once per process
    if "construct-net" in arms:
        statement_net()
    return solver


_WORKER: dict = {}


def _init_worker(args, arms) -> None:
    import torch
    torch.set_num_threads(1)
    _WORKER.update(solver=open_solver(args, arms), arms=arms)


def _solve_target(job):
    """Every arm on one target, in order (a worker's job)."""
    i, target = job
    return i, [_WORKER["solver"].solve_one(arm, target, i) for arm in _WORKER["arms"]]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--per-class", type=int, default=10, help="digits per class (default 10: 100 digits)")
    p.add_argument("--split", choices=["heldout", "train"], default="heldout")
    p.add_argument("--arms", default="construct,grammar,topdown,none", help=f"comma-separated: {', '.join(ARMS)}")
    p.add_argument("--db", default=None, help="database for start programs (the edit arms' neighbours)")
    p.add_argument("--ckpt", default=None, help="checkpoint, for model arms")
    p.add_argument("--library", default=None,
                   help="a library file every arm searches with (e.g. data/digit_library.logo, learned from training "
                        "digits by bench/digit_library.py); default the database's")
    p.add_argument("--out", default="runs/bench_digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--workers", type=int, default=1,
                   help="processes, each searching whole targets with every arm in turn (default 1)")
    SearchSettings.add_arguments(p, "bench")      # --budget (default 10 s per target and arm), --k, ...
    args = p.parse_args(argv)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    import torch
    torch.set_num_threads(1)
    from model.digit_classifier import classify, load_or_train
    t_cls = time.monotonic()
    net = load_or_train(verbose=True)
    t_cls = time.monotonic() - t_cls
    solver = open_solver(args, arms)
    targets, labels = digit_targets(args.split, args.per_class, solver.image_size)
    rows: dict[str, list[dict]] = {a: [None] * len(targets) for a in arms}
    t0 = time.monotonic()

    def record(i, got):
        for arm, row in zip(arms, got):
            rows[arm][i] = row
            if not args.quiet:
                print(f"[{i + 1}/{len(targets)}] {targets[i].name:22s} {arm:13s} iou {row.get('iou', 0):.3f} "
                      f"tokens {row.get('tokens', 0):4d}  {row.get('program', row.get('error', ''))[:70]}", flush=True)
    try:
        if args.workers <= 1:
            _WORKER.update(solver=solver, arms=arms)
            for i, target in enumerate(targets):
                record(*_solve_target((i, target)))
        else:
            import multiprocessing as mp
            with mp.get_context("fork").Pool(args.workers, _init_worker, (args, arms)) as pool:
                for i, got in pool.imap_unordered(_solve_target, list(enumerate(targets))):
                    record(i, got)
    finally:
        solver.close()
    target_pred = classify(np.stack([t.image28 for t in targets]), net)
    summary = {"split": args.split, "targets": len(targets), "budget_s": solver.settings.budget_s, "db": args.db,
               "library": args.library, "classifier_on_targets": round(float((target_pred == labels).mean()), 4),
               "classifier_train_s": round(t_cls, 1), "arms": {}, "wall_s": round(time.monotonic() - t0, 1),
               "machine": platform.node(), "search": solver.settings.to_dict()}
    predicted = {}
    for arm in arms:
        images = np.stack([r.get("_image28", np.zeros((28, 28), np.uint8)) for r in rows[arm]])
        predicted[arm] = classify(images, net)
        summary["arms"][arm] = arm_summary(rows[arm], labels, predicted[arm])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sheet, names = [], []
    for i, target in enumerate(targets):
        sheet.append(target.image28)
        names.append(f"{labels[i]} >{target_pred[i]}")
        for arm in arms:
            r = rows[arm][i]
            sheet.append(r.get("_image28", np.zeros((28, 28), np.uint8)))
            names.append(f"{r.get('iou', 0):.2f} {r.get('tokens', 0)}t >{predicted[arm][i]}")
    from logo.files import write_json
    from logo.pictures import save_sheet
    save_sheet(sheet, out / "digits.png", names, columns=1 + len(arms), scale=3)
    write_json({"summary": summary, "arms": arms,
                "rows": {a: [dict(public(r), classified_as=int(predicted[a][i])) for i, r in enumerate(rows[a])]
                         for a in arms}}, out / "digits.json")
    print(f"\n{len(targets)} {args.split} digits, {solver.settings.budget_s:g} s per digit and arm; classifier names "
          f"{summary['classifier_on_targets']:.0%} of the targets (its ceiling)")
    print(f"{'arm':14s} {'mean IoU':>8s} {'median tok':>10s} {'classified':>10s} {'solved':>6s} {'s/digit':>7s}")
    for arm in arms:
        s = summary["arms"][arm]
        built = s["median_constructed_tokens"]
        print(f"{arm:14s} {s['mean_iou']:8.3f} {s['median_tokens']:10.1f} {s['classified_as_label']:10.0%} "
              f"{s['solved']:6d} {s['mean_elapsed']:7.2f}" + (f"  (constructed: median {built} tokens before "
                                                              f"the library and the polish)" if built else ""))
    print(f"wrote {out / 'digits.json'} and {out / 'digits.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
