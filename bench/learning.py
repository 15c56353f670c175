"""The learning curve: does the search get better as the model trains, and does it beat the arms
without a model at every point?

    .venv/bin/python bench/learning.py --out bench_out/learning [--db DB | --db-size 20000]
        [--minutes 0,10,30,60] [--train-args "--preset tiny --batch-size 64"]
        [--sets dc-test,dc-train,mnist] [--arms model,random,none,enum] [--limit N] [--budget 10]

Builds a database (`logo db build`, or uses --db), then trains one model cumulatively: train until the
checkpoint has trained --minutes[0] minutes, snapshot the checkpoint, continue to --minutes[1], ...
(`train` resumes from its directory; "minutes" are the training loop's seconds as the checkpoint
records them, `elapsed_s`, so reading the database at each start does not count). The learning rate
follows one cosine over the last mark (`train --schedule-seconds`, which each call resumes), so the
snapshots are points on one run's curve, not ends of warm restarts.
After each snapshot, `bench/solve.py`'s arms run on the chosen sets (same targets, budget and start
programs for every arm; `run_arms`). Prints one table (minutes, steps, solved and mean IoU per arm and
set) and writes OUT/learning.json and OUT/learning.png (solved and mean IoU against minutes, one line
per arm, one panel per set), after every snapshot.

Resumable: the database build resumes, training resumes from OUT/ckpt, a snapshot in
OUT/snapshots/mM/ is not retrained, and a snapshot with OUT/results/mM.json is not evaluated again.

Two cores, two jobs: `--only train` trains and snapshots without evaluating, `--only eval` evaluates
the snapshots (waiting for each one the train job has not written yet); run both at once with the same
--out and --minutes, each with one thread. Either way the table and plot hold every evaluated snapshot.
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.solve import SETS, add_search_args, checked_args, machine, run_arms  # noqa: E402
from dream.search.arms import MODEL_ARMS  # noqa: E402

DEFAULT_TRAIN_ARGS = "--preset tiny --batch-size 64 --eval-every 250 --ckpt-every 250"


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="bench_out/learning", help="working and output directory")
    p.add_argument("--db", help="use this database (default: build OUT/db.sqlite with --db-size entries)")
    p.add_argument("--db-size", type=int, default=20_000, help="entries of the database built when --db is not given")
    p.add_argument("--minutes", default="0,10,30,60", help="cumulative training minutes at which to snapshot")
    p.add_argument("--train-args", default=DEFAULT_TRAIN_ARGS, help="extra `train` flags (one string)")
    p.add_argument("--train-threads", type=int, default=0, help="train's CPU threads (0: train's default)")
    p.add_argument("--baselines-once", action="store_true",
                   help="run the arms without a model at the first snapshot only and repeat their numbers "
                        "(they do not depend on the checkpoint; saves time, loses the same-run comparison)")
    p.add_argument("--only", choices=("train", "eval"), default=None,
                   help="train and snapshot only, or evaluate only (waiting for snapshots not written yet)")
    p.add_argument("--wait-poll", type=float, default=10.0, help="--only eval: seconds between looks for a snapshot")
    add_search_args(p)
    return p


def parse_minutes(value: str) -> list[float]:
    """"0,10,30,60" -> [0.0, 10.0, 30.0, 60.0]: non-negative, strictly increasing."""
    try:
        minutes = [float(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"bench/learning.py: --minutes must be numbers separated by commas, not {value!r}") from None
    if not minutes or any(m < 0 for m in minutes) or any(b <= a for a, b in zip(minutes, minutes[1:])):
        raise SystemExit(f"bench/learning.py: --minutes must be non-negative and increasing, not {value!r}")
    return minutes


def label(minutes: float) -> str:
    """A snapshot's name: m0, m10, m0.5."""
    return f"m{minutes:g}"


# ---- the database and the training -------------------------------------------------------------------

def _python(module: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", module, *args]


def ensure_database(out: Path, db: str | None, size: int) -> Path:
    """The database to train and search on: --db as given, or OUT/db.sqlite built (or resumed) to `size`."""
    from data.db import Database
    if db:
        return Path(db)
    path = out / "db.sqlite"
    if path.exists():
        d = Database(path, create=False)
        try:
            have = len(d)
        finally:
            d.close()
        if have >= size:
            return path
    print(f"building the database {path} ({size} entries)", flush=True)
    code = subprocess.call(_python("app.cli", ["db", "build", str(path), "--size", str(size), "--seed", "0",
                                               "--image-size", "32", "--quiet"]))
    if code != 0:
        raise SystemExit(f"bench/learning.py: building {path} failed (exit {code})")
    return path


def checkpoint_state(ckpt_dir: Path) -> dict:
    """{"path", "step", "elapsed_s", "eval"} of the newest checkpoint ({} if there is none)."""
    from model import checkpoint
    path = checkpoint.latest_path(ckpt_dir)
    if path is None:
        return {}
    state = checkpoint.load_state(path)
    meta = state.get("meta", {})
    return {"path": str(path), "step": int(state["step"]), "elapsed_s": float(meta.get("elapsed_s", 0.0)),
            "eval": meta.get("eval", {})}


def train_until(ckpt_dir: Path, db: Path, minutes: float, train_args: list[str], threads: int,
                tries: int = 3, memo: dict | None = None) -> dict:
    """Run `train` (resuming from `ckpt_dir`) until the checkpoint has trained `minutes` minutes.

    `--max-seconds` counts reading the database too, so each call adds what the previous call spent
    outside the training loop; a call that falls short is followed by another (at most `tries`).
    With `minutes` 0 and no checkpoint yet, one call writes the untrained model at step 0. `memo` keeps
    the measured overhead from one call to the next."""
    goal = minutes * 60.0
    memo = {} if memo is None else memo
    tolerance = max(0.02 * goal, min(5.0, 0.25 * goal))
    for _ in range(tries):
        before = checkpoint_state(ckpt_dir)
        done = before.get("elapsed_s", 0.0)
        if before and done >= goal - tolerance:
            return before
        overhead = memo.get("overhead_s", 0.0)
        seconds = max(goal - done + overhead, 1e-3)
        args = ["--db", str(db), "--out", str(ckpt_dir), "--max-seconds", f"{seconds:.3f}", "--quiet", *train_args]
        if threads:
            args += ["--threads", str(threads)]
        print(f"training to {minutes:g} min (done {done / 60:.2f} min): train --max-seconds {seconds:.0f}", flush=True)
        t = time.monotonic()
        code = subprocess.call(_python("model.train", args))
        if code != 0:
            raise SystemExit(f"bench/learning.py: train failed (exit {code})")
        after = checkpoint_state(ckpt_dir)
        if not after:
            raise SystemExit(f"bench/learning.py: train wrote no checkpoint into {ckpt_dir}")
        trained = after["elapsed_s"] - done
        if goal == 0 or trained <= 0:   # an upper bound: the call's wall time outside the loop (imports included)
            memo.setdefault("overhead_s", max(0.0, (time.monotonic() - t) - max(trained, 0.0)))
        else:                           # exact: what --max-seconds spent outside the training loop
            memo["overhead_s"] = max(0.0, seconds - trained)
        if goal == 0:
            return after
    return checkpoint_state(ckpt_dir)


def snapshot(ckpt_dir: Path, dest: Path) -> dict:
    """Copy the newest checkpoint into `dest` (with its `latest` pointer); returns its state."""
    state = checkpoint_state(ckpt_dir)
    src = Path(state["path"])
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(src, tmp / src.name)
    (tmp / "latest").write_text(src.name + "\n")
    (tmp / "state.json").write_text(json.dumps({k: v for k, v in state.items() if k != "path"}))
    tmp.rename(dest)                       # a snapshot directory is complete or absent
    return state


def train_and_snapshot(ckpt_dir: Path, db: Path, minutes: float, train_args: list[str], threads: int,
                       memo: dict, dest: Path) -> dict:
    """`train_until` the minute mark, then `snapshot` into `dest` and say so; returns the snapshot's state."""
    train_until(ckpt_dir, db, minutes, train_args, threads, memo=memo)
    state = snapshot(ckpt_dir, dest)
    print(f"{dest.name}: snapshot at step {state['step']}, {state['elapsed_s'] / 60:.2f} min trained", flush=True)
    return state


# ---- evaluation, the table, the plot -------------------------------------------------------------------

def evaluate(solver, snap_dir: Path, args, sets: list[str], arms: list[str], reuse: dict | None) -> dict:
    """The arms on the sets with the snapshot's model; with `reuse`, the model-free arms' numbers are
    taken from an earlier snapshot's results instead of being searched again."""
    if any(a in MODEL_ARMS for a in arms):
        solver.load_model(str(snap_dir), args.device)
    run = [a for a in arms if reuse is None or a in MODEL_ARMS]
    res = run_arms(solver, sets, run, args.limit, args.quiet)
    if reuse is not None:
        for set_name in sets:
            for a in arms:
                if a not in run:
                    res[set_name]["summary"][a] = reuse[set_name]["summary"][a]
                    res[set_name]["results"][a] = reuse[set_name]["results"][a]
            res[set_name]["summary"] = {a: res[set_name]["summary"][a] for a in arms}
    return res


def table(points: list[dict], sets: list[str], arms: list[str]) -> str:
    """minutes | steps | per set and arm: solved/targets and mean IoU."""
    cols = [(s, a) for s in sets for a in arms]
    width = max(14, *(len(f"{s} {a}") for s, a in cols))
    lines = [f"{'minutes':>7s} {'steps':>7s} {'train s':>8s}  " + " ".join(f"{s + ' ' + a:>{width}s}" for s, a in cols)]
    for p in points:
        cells = []
        for s, a in cols:
            summ = p["sets"].get(s, {}).get("summary", {}).get(a)
            if summ is None:
                cells.append(f"{'–':>{width}s}")
                continue
            iou = "–" if summ["mean_iou"] is None else f"{summ['mean_iou']:.2f}"
            cells.append(f"{str(summ['solved']) + '/' + str(summ['targets']) + ' ' + iou:>{width}s}")
        lines.append(f"{p['minutes']:7g} {p['step']:7d} {p['elapsed_s']:8.0f}  " + " ".join(cells))
    return "\n".join(lines)


def plot(points: list[dict], sets: list[str], arms: list[str], png: Path) -> None:
    """Solved (top) and mean IoU (bottom) against training minutes, one line per arm, a column per set."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from logo.files import atomic_write
    fig, axes = plt.subplots(2, len(sets), figsize=(4.5 * len(sets), 6.5), squeeze=False)
    for j, s in enumerate(sets):
        for arm in arms:
            xs, solved, iou = [], [], []
            for p in points:
                summ = p["sets"].get(s, {}).get("summary", {}).get(arm)
                if summ is not None:
                    xs.append(p["elapsed_s"] / 60)
                    solved.append(summ["solved"])
                    iou.append(summ["mean_iou"] if summ["mean_iou"] is not None else float("nan"))
            style = "o-" if arm in MODEL_ARMS else "s--"
            axes[0][j].plot(xs, solved, style, label=arm, ms=4)
            axes[1][j].plot(xs, iou, style, label=arm, ms=4)
        total = next((p["sets"][s]["targets"] for p in points if s in p["sets"]), None)
        axes[0][j].set_title(f"{s}" + (f" ({total} targets)" if total else ""))
        axes[0][j].set_ylabel("solved"), axes[1][j].set_ylabel("mean IoU")
        axes[1][j].set_xlabel("training minutes")
        axes[1][j].set_ylim(0, 1)
        for ax in (axes[0][j], axes[1][j]):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(png) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


def write_outputs(out: Path, report: dict, sets, arms) -> None:
    from logo.files import write_json
    write_json(report, out / "learning.json")
    plot(report["points"], sets, arms, out / "learning.png")


# ---- the whole curve -------------------------------------------------------------------------------

def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    arms, sets = checked_args(args, "bench/learning.py")
    minutes = parse_minutes(args.minutes)
    # one learning-rate cosine over the whole curve, continued by every `train` call (model.schedule)
    train_args = ["--schedule-seconds", f"{minutes[-1] * 60:g}", *shlex.split(args.train_args)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import torch
    torch.set_num_threads(max(1, args.threads))
    from dream.search.settings import SearchSettings
    from dream.search.solver import Solver, SolveError
    from logo.files import write_json

    db = ensure_database(out, args.db, args.db_size)
    ckpt_dir, snaps, results = out / "ckpt", out / "snapshots", out / "results"
    memo: dict = {}
    if args.only == "train":
        for m in minutes:
            if (snaps / label(m)).exists():
                print(f"{label(m)}: snapshot taken before; skipping", flush=True)
                continue
            train_and_snapshot(ckpt_dir, db, m, train_args, args.train_threads, memo, snaps / label(m))
        return 0
    try:
        solver = Solver.open([a for a in arms if a not in MODEL_ARMS] or ["none"], db=db,
                             device=args.device, settings=SearchSettings.from_args(args), seed=args.seed)
    except SolveError as e:
        raise SystemExit(f"bench/learning.py: {e}") from None
    report = {"machine": machine(args), "args": vars(args), "db": str(db), "db_entries": len(solver.db),
              "sets": {s: SETS[s][0] + (f"-{SETS[s][1]}" if SETS[s][1] else "") for s in sets}, "points": []}
    t_all = time.monotonic()
    try:
        for m in minutes:
            name = label(m)
            res_path = results / f"{name}.json"
            if res_path.exists():
                point = json.loads(res_path.read_text())
                print(f"{name}: done before (step {point['step']}); skipping", flush=True)
            else:
                snap = snaps / name
                if not snap.exists() and args.only == "eval":
                    print(f"{name}: waiting for the train job's snapshot {snap}", flush=True)
                    while not snap.exists():
                        time.sleep(args.wait_poll)
                if snap.exists():
                    state = json.loads((snap / "state.json").read_text())
                    print(f"{name}: snapshot taken before (step {state['step']}); evaluating it", flush=True)
                else:
                    state = train_and_snapshot(ckpt_dir, db, m, train_args, args.train_threads, memo, snap)
                first = report["points"][0]["sets"] if report["points"] else None
                reuse = first if args.baselines_once and first is not None else None
                try:
                    got = evaluate(solver, snap, args, sets, arms, reuse)
                except SolveError as e:
                    raise SystemExit(f"bench/learning.py: {e}") from None
                point = {"minutes": m, "step": state["step"], "elapsed_s": round(state["elapsed_s"], 1),
                         "train_eval": state.get("eval", {}), "checkpoint": str(snap),
                         "baselines_reused": reuse is not None, "sets": got}
                write_json(point, res_path)
            report["points"].append(point)
            report["wall_s"] = round(time.monotonic() - t_all, 1)
            write_outputs(out, report, sets, arms)
    finally:
        solver.close()
    print(f"\nlearning curve ({args.budget_s:g} s per target and arm"
          + (f", {args.limit} targets per set" if args.limit else "") + f"; database {db}, "
          f"{report['db_entries']} entries):")
    print(table(report["points"], sets, arms))
    print(f"wrote {out / 'learning.json'} and {out / 'learning.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
