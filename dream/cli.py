"""`dream`: the dreaming process. Runs next to `train` on the same database and checkpoint directory.

    dream --db runs/x/db.sqlite [--ckpt runs/x/ckpt] [--proposer auto] [--grammar G.json]
          [--targets mnist=1,tasks=1,laps=1,db=1] [--budget 10]
          [--max-targets N] [--max-seconds S] [--device auto] [--log DIR]

Loop: reload the newest checkpoint when one appears, pick a target (weighted mix of MNIST training
digits, DreamCoder training tasks, LAPS LOGO training tasks and database images), search for it with the
per-target time budget and the best search the checkpoint allows (--proposer auto, `dream.search.arms.resolve_auto`:
the enumerator under the grammar without a checkpoint, the edit arm refining enumerated starts with an edit
model; --proposer model: the edit model alone, the search before issue 30),
insert the path to the best program into the database (source="dream"), append a JSONL record to
LOG/found.jsonl, and every --grid-every targets write LOG/grid_NNNNN.png (target | found).
SIGINT/SIGTERM: finish the current target's insert, log, exit 0. Waits up to --wait seconds for the
database and, with --ckpt, the first checkpoint to appear (train creates both). Without --ckpt dream is
model-free (--proposer auto: the enumerator, `topdown`).

--workers N runs N searchers (processes; --ray: Ray tasks on a cluster) that each follow the checkpoint
directory; this process stays the database's one writer (it picks the targets and inserts what they find).
On a cluster, the checkpoint directory must be a path every node sees; the database stays with this process.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from logo.cli_errors import add_debug_flag, debug_requested, float_range, int_range, run_guarded

from .search.arms import AUTO, USER_ARMS, needs_checkpoint
from .search.executor import Workers
from .search.settings import SearchSettings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dream", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[2:]))
    p.add_argument("--db", required=True, help="the program-image database (SQLite) that train uses")
    p.add_argument("--ckpt", default=None,
                   help="checkpoint directory that train writes (none: a model-free dream; the model arms need it)")
    p.add_argument("--proposer", default=AUTO, choices=USER_ARMS,
                   help="the search: auto (default: the best the checkpoint allows, dream.search.arms.resolve_auto) or "
                        "one arm of `logo solve --proposer` (model: the edit model alone)")
    p.add_argument("--start-without-checkpoint", action="store_true",
                   help="with --proposer auto and --ckpt: search with the enumerator until train's first checkpoint "
                        "appears, rather than wait for it (`logo run`'s wake)")
    p.add_argument("--grammar", default=None,
                   help="the enumerator's grammar (a `logo grammar`/`logo run` grammar.json; default: fitted on "
                        "the database's solutions, else the DreamCoder training programs)")
    p.add_argument("--targets", default="mnist=1,tasks=1,db=1",
                   help="target mix as kind=weight, kinds mnist, tasks, laps, db (default mnist=1,tasks=1,db=1)")
    p.add_argument("--max-targets", type=int_range(1), default=None, help="stop after this many targets")
    p.add_argument("--max-seconds", type=float_range(0, lo_open=True), default=None, help="stop after this many seconds")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda (default auto)")
    p.add_argument("--log", default=None, help="log directory (default: dream/ beside the database)")
    SearchSettings.add_arguments(p, "dream")     # the search flags of `logo solve` (--budget, ...)
    p.add_argument("--grid-every", type=int_range(1), default=20, help="write a PNG grid every N targets (default 20)")
    p.add_argument("--mnist-root", default=None, help="MNIST in torchvision's layout (default: bundled digits)")
    p.add_argument("--seed", type=int, default=None, help="random seed for target choice")
    p.add_argument("--poll-every", type=float_range(0, lo_open=True), default=5.0,
                   help="seconds between looks for a newer checkpoint (default 5)")
    p.add_argument("--wait", type=float_range(0), default=600.0,
                   help="seconds to wait for the database and a first checkpoint (default 600)")
    p.add_argument("--threads", type=int_range(0, 4096), default=1,
                   help="torch CPU threads (default 1: the model is small and train needs the other cores); "
                   "per worker with --workers")
    Workers.add_arguments(p, local_default=1, what="searchers")   # 1 here: dream runs beside train
    add_debug_flag(p)
    return p


def _open_db(path: Path):
    from data.db import Database
    return Database(str(path), create=False)


def main(argv: list[str] | None = None) -> int:
    """`dream`: errors in the input end in one line on stderr (`logo.cli_errors`); --debug: traceback."""
    argv, debug = debug_requested(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(argv)
    from data.db import DatabaseError
    from .search.executor import WorkerError
    from .search.proposer import CheckpointMissing
    from logo.images import BadImage
    return run_guarded("dream", lambda: dream(args), debug=debug,
                       extra=(DatabaseError, CheckpointMissing, BadImage, WorkerError), path=args.db)


def dream(args) -> int:
    from .search.executor import open_executor
    from .search.proposer import resolve_device
    from .search.targets import parse_weights

    try:
        weights = parse_weights(args.targets)
    except ValueError as e:
        print(f"dream: {e}", file=sys.stderr)
        return 2
    if args.start_without_checkpoint and args.proposer != AUTO:
        print("dream: --start-without-checkpoint needs --proposer auto (the enumerator searches until the checkpoint "
              "appears)", file=sys.stderr)
        return 2
    if args.ckpt is None and needs_checkpoint(args.proposer):
        print(f"dream: --proposer {args.proposer} searches with a network: give --ckpt (a checkpoint directory)",
              file=sys.stderr)
        return 2
    grammar = None
    if args.grammar is not None:
        from logo.pcfg import Grammar, GrammarError
        try:
            grammar = Grammar.load(args.grammar)
        except GrammarError as e:
            print(f"dream: {e}", file=sys.stderr)
            return 2
    stop = {"flag": False}
    dreamer_ref: list = []

    def on_signal(signum, _frame):
        stop["flag"] = True
        for d in dreamer_ref:
            d.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    executor = open_executor(Workers.from_args(args, local_default=1), device=device)   # a bad --ray: exit 2, now
    try:
        return _dream(args, weights, stop, dreamer_ref, device, executor, on_signal, grammar)
    finally:
        executor.close()


def _dream(args, weights, stop, dreamer_ref, device, executor, on_signal, grammar=None) -> int:
    from .dreamer import Dreamer
    from .search.proposer import CheckpointWatcher
    from .search.targets import TargetSampler
    db_path = Path(args.db)
    ckpt = Path(args.ckpt) if args.ckpt is not None else None
    watcher = CheckpointWatcher(ckpt, device) if ckpt is not None else None
    deadline = time.monotonic() + args.wait
    waited = False
    while not stop["flag"]:
        if db_path.exists() and (watcher is None or watcher.poll(force=True) or watcher.loaded
                                 or args.start_without_checkpoint):
            break
        if time.monotonic() >= deadline:
            what = f"{db_path}: database does not exist" if not db_path.exists() else \
                (f"cannot load checkpoint {watcher.last_error}" if watcher.last_error else f"{ckpt}: no checkpoint found")
            print(f"dream: {what} (waited {args.wait:g} s)", file=sys.stderr)
            return 1
        if not waited:
            print(f"dream: waiting for {db_path if not db_path.exists() else ckpt} ...", flush=True)
            waited = True
        time.sleep(1.0)
    if stop["flag"]:
        return 0
    try:
        db = _open_db(db_path)
    except Exception as e:  # noqa: BLE001 - report any failure to open, naming the file
        print(f"dream: {e}" if str(db_path) in str(e) else f"dream: {db_path}: cannot open database: {e}",
              file=sys.stderr)
        return 1
    log_dir = Path(args.log) if args.log else db_path.parent / "dream"
    try:
        sampler = TargetSampler(weights, db, db.image_size, args.seed, args.mnist_root)
    except (OSError, ValueError) as e:
        print(f"dream: {e}", file=sys.stderr)
        return 1
    dreamer = Dreamer(db, watcher, sampler, log_dir,
                      settings=SearchSettings.from_args(args), grid_every=args.grid_every,
                      poll_every_s=args.poll_every, echo=lambda s: print(s, flush=True), executor=executor,
                      threads=args.threads or 1, arm=args.proposer, grammar=grammar)
    dreamer_ref.append(dreamer)
    if stop["flag"]:
        dreamer.request_stop()
    dreamer.start_workers()
    signal.signal(signal.SIGINT, on_signal)      # (again: starting Ray may have set its own)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"dream: db={db_path} ({len(db)} entries, {db.image_size}px) ckpt={ckpt} proposer={args.proposer} device={device} "
          f"targets={weights} budget={dreamer.settings.budget_s:g}s log={log_dir} searching: {executor.describe()}", flush=True)
    summary = dreamer.run(args.max_targets, args.max_seconds)
    print(f"dream: stopped after {summary['targets']} targets, {summary['solved']} solved, "
          f"{summary['inserted']} programs inserted", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
