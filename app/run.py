"""`logo run`: the whole learning loop, supervised, resumable.

    logo run --config demo --out runs/demo

Round 0 builds the database.  Every round then runs `train` and `dream` side by side on it (two
processes), evaluates the newest checkpoint (`logo solve` on DreamCoder training tasks and held-out
MNIST digits, with the model and, as its baseline, random token mutations: same targets, budget and
start programs), grows the library (`logo compress`), extends the database with programs that use the
library, and writes the HTML report.  The search flags (--k, --beam, ...) go to every search: dream,
the evaluation and the library arms.  The workers (--workers, default the configuration's; --ray for a
Ray cluster) build the database, dream (one fewer: train keeps a core) and evaluate.  Progress is kept in OUT/state.json (written atomically) after
every finished phase, so a stopped run resumes where it stopped.  Ctrl-C stops both child processes
cleanly (they checkpoint and close the database) and keeps what is done.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from logo.cli_errors import float_range, int_range
from logo.files import read_jsonl, write_json

from dream.search.settings import SearchSettings


@dataclass(frozen=True)
class Config:
    rounds: int
    db_size: int                 # entries built in round 0
    db_growth: int               # entries added (using the library) after each round
    train_seconds: float         # train and dream run this long each round
    train_args: tuple[str, ...]  # extra `train` flags (model size, batch)
    dream_args: tuple[str, ...]  # extra `dream` flags
    dream_budget: float          # search seconds per dream target
    solve_budget: float          # search seconds per evaluation target
    solve_tasks: int             # DreamCoder training tasks evaluated each round (spread over the split)
    solve_mnist: int             # held-out MNIST digits evaluated each round
    compress_iterations: int
    compress_limit: int          # (unused: the compressor's corpus is the solutions, not database heads)
    workers: int = 2             # processes of the build, dream (one fewer) and evaluation (0: every core)
    image_size: int = 32


CONFIGS = {
    # about 10 minutes on a 2-core CPU (evaluation runs the model and the random arm: 1 s per target and arm,
    # down from 1.5 s for the model alone, so the two arms cost about 50 s a round instead of 36 s)
    "demo": Config(rounds=3, db_size=4000, db_growth=1000, train_seconds=75,
                   train_args=("--preset", "tiny", "--batch-size", "64", "--eval-every", "100", "--ckpt-every", "50",
                               "--warmup", "100"),
                   dream_args=("--targets", "tasks=2,mnist=1,db=1"), dream_budget=3,
                   solve_budget=1.0, solve_tasks=16, solve_mnist=8, compress_iterations=5,
                   compress_limit=1500),
    # the smallest run that still goes through every phase, for tests: about a minute on a 2-core CPU
    "smoke": Config(rounds=1, db_size=60, db_growth=20, train_seconds=3,
                    train_args=("--preset", "tiny", "--batch-size", "16", "--eval-every", "10", "--eval-pairs", "8",
                                "--ckpt-every", "5", "--warmup", "5", "--threads", "1"),
                    dream_args=("--targets", "tasks=1,db=1", "--grid-every", "1000"), dream_budget=0.5,
                    solve_budget=0.2, solve_tasks=1, solve_mnist=1, compress_iterations=1, compress_limit=60,
                    workers=1),
    # hours on one GPU
    "full": Config(rounds=10, db_size=200_000, db_growth=50_000, train_seconds=3600,
                   train_args=("--batch-size", "512", "--eval-every", "1000"),
                   dream_args=("--targets", "tasks=2,mnist=1,db=1"), dream_budget=30,
                   solve_budget=60, solve_tasks=80, solve_mnist=100, compress_iterations=10,
                   compress_limit=50_000, workers=0),
}


def register(sub) -> None:
    p = sub.add_parser("run", help="run the whole learning loop for N rounds (resumable)",
                       description=__doc__.split("\n")[0], epilog="\n".join(__doc__.split("\n")[1:]))
    p.add_argument("--config", choices=sorted(CONFIGS), default="demo", help="named configuration (default demo)")
    p.add_argument("--out", default=None, help="run directory (default runs/CONFIG)")
    p.add_argument("--rounds", type=int_range(1, 10_000), default=None, help="override the number of rounds")
    p.add_argument("--train-seconds", type=float_range(0, lo_open=True), default=None,
                   help="override train/dream seconds per round")
    # shorter versions of a configuration (e.g. ten minutes of --config full on one GPU: bench/gpu_check.sh)
    p.add_argument("--db-size", type=int_range(1, 100_000_000), default=None,
                   help="override the entries built in round 0")
    p.add_argument("--db-growth", type=int_range(0, 100_000_000), default=None,
                   help="override the entries added after each round")
    p.add_argument("--solve-budget", type=float_range(0, lo_open=True), default=None,
                   help="override the search seconds per target")
    p.add_argument("--solve-tasks", type=int_range(0, 160), default=None, help="override the DreamCoder tasks evaluated")
    p.add_argument("--solve-mnist", type=int_range(0, 100_000), default=None, help="override the MNIST digits evaluated")
    p.add_argument("--device", default="auto", help="torch device for train, dream and solve (default auto)")
    p.add_argument("--model", choices=["edit", "policy"], default=None,
                   help="what train trains: the edit model (default) or the edit policy (train --model policy); "
                        "dream and the model arm then search with it")
    p.add_argument("--mnist-root", default=None, help="MNIST in torchvision's layout (default: bundled digits)")
    SearchSettings.add_arguments(p, "run")       # the budgets are the configuration's (--solve-budget)
    p.add_argument("--workers", type=int_range(1, 4096), default=None,
                   help="worker processes of the build, dream and the evaluation (default: the configuration's; "
                   "dream gets one fewer, at least one, as train runs beside it)")
    p.add_argument("--ray", metavar="auto|ADDRESS", default=None,
                   help="dream and evaluate on a Ray cluster (see `logo solve --help`); the build stays local")
    p.set_defaults(func=run_command)


# ---- child processes ---------------------------------------------------------------------------

class Stopped(Exception):
    """Ctrl-C or SIGTERM reached the supervisor."""


def _python(module: str, args: list[str]) -> list[str]:
    """`python -m MODULE ARGS`: the same interpreter and import path as this process, no entry-point script."""
    return [sys.executable, "-m", module, *args]


def _logo(args: list[str]) -> list[str]:
    return _python("app.cli", args)


class Supervisor:
    """Starts child processes, streams their output to log files, stops them all on Ctrl-C."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.children: list[subprocess.Popen] = []
        self.stopping = False

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "a", encoding="utf-8")
        log.write(f"\n$ {' '.join(cmd[2:]) if cmd[1] == '-m' else ' '.join(cmd)}\n")
        log.flush()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # Ctrl-C reaches the supervisor only
        proc.name = name  # type: ignore[attr-defined]
        proc.logfile = log  # type: ignore[attr-defined]
        self.children.append(proc)
        return proc

    def run(self, name: str, cmd: list[str], status=None) -> int:
        """Run one child to completion (or until stopped); returns its exit code."""
        return self.wait([self.start(name, cmd)], status)[0]

    def wait(self, procs: list[subprocess.Popen], status=None, every: float = 15.0) -> list[int]:
        last = time.monotonic()
        try:
            while any(p.poll() is None for p in procs):
                if self.stopping:
                    raise Stopped()
                time.sleep(0.5)
                if status and time.monotonic() - last >= every:
                    last = time.monotonic()
                    print(f"    {status()}", flush=True)
        except (KeyboardInterrupt, Stopped):
            self.stop_all()
            raise Stopped() from None
        for p in procs:
            p.logfile.close()
            self.children.remove(p)
        return [p.returncode for p in procs]

    def stop_all(self, grace: float = 60.0) -> None:
        live = [p for p in self.children if p.poll() is None]
        for p in live:
            print(f"  stopping {p.name} …", flush=True)
            try:
                os.killpg(p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        for p in live:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# ---- evaluation: the model and its baseline on the same targets -----------------------------------

#: the proposers evaluated each round: the model, and random token mutations as its baseline (same targets,
#: budget and start programs; the random arm proposes as many candidates per expansion as the model)
EVAL_ARMS = ("model", "random")


def evaluate_arm(cfg: "Config", arm: str, rdir: Path, db: str, ckpt: str, device: list[str], mnist: list[str],
                 run_child, settings: SearchSettings = SearchSettings(), workers: list[str] = ()) -> None:
    """`logo solve --proposer ARM` on the round's DreamCoder training tasks and held-out MNIST digits,
    into `app.report.arm_dir(rdir, SET, ARM)`; `run_child(name, cmd)` runs it (and raises if it fails);
    `settings`: the search's, with the configuration's budget (`Config.solve_budget`); `workers`: their flags."""
    from .report import arm_dir
    search = replace(settings, budget_s=cfg.solve_budget).to_argv()
    common = ["--proposer", arm, "--ckpt", ckpt, "--db", db, "--quiet", *device, *search, *workers]
    run_child("solve", _logo(["solve", *common, "--tasks", "dreamcoder", "--split", "train",
                              "--limit", str(cfg.solve_tasks), "--out", str(arm_dir(rdir, "tasks", arm))]))
    run_child("solve", _logo(["solve", *common, "--tasks", "mnist-heldout", *mnist,
                              "--limit", str(cfg.solve_mnist), "--out", str(arm_dir(rdir, "mnist", arm))]))


def round_workers(cfg: "Config", args) -> dict[str, list[str]]:
    """The worker flags of dream and of the evaluation's `logo solve`: --workers or the configuration's
    (0: every core); dream gets one fewer (at least one), since train runs beside it; --ray goes to both."""
    n = getattr(args, "workers", None) or cfg.workers or os.cpu_count() or 1
    ray = ["--ray", args.ray] if getattr(args, "ray", None) else []
    if ray and not getattr(args, "workers", None):
        return {"dream": ray, "solve": ray}          # as many at once as the cluster has CPUs
    return {"dream": ["--workers", str(max(1, n - 1)), *ray], "solve": ["--workers", str(n), *ray]}


# ---- the loop ----------------------------------------------------------------------------------

@dataclass
class State:
    """What is finished; saved after every phase."""
    config: str
    round: int = 0
    done: list[str] = field(default_factory=list)   # phases finished in the current round
    history: list[dict] = field(default_factory=list)  # one record of numbers per finished round


def _load_state(path: Path, config: str) -> State:
    if not path.exists():
        return State(config)
    try:
        raw = json.loads(path.read_text())
        state = State(**raw)
    except (ValueError, TypeError) as e:
        raise SystemExit(f"logo run: {path} is not a run state file ({e}); move it away to start afresh")
    if state.config != config:
        raise SystemExit(f"logo run: {path.parent} holds a '{state.config}' run, not '{config}'")
    return state


def _last_record(path: Path) -> dict:
    """The newest record of a JSONL log ({} if none yet)."""
    rows = read_jsonl(path, tail_bytes=65536)
    return rows[-1] if rows else {}


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


OVERRIDES = ("train_seconds", "db_size", "db_growth", "solve_budget", "solve_tasks", "solve_mnist")


def _overridden(cfg: Config, args) -> Config:
    """The configuration with every override flag that was given (`--train-seconds`, `--db-size`, ...)."""
    given = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k, None) is not None}
    for k, v in given.items():
        if v < 0 or (v == 0 and k in ("train_seconds", "solve_budget")):
            need = "positive" if k in ("train_seconds", "solve_budget") else "0 or more"
            raise SystemExit(f"logo run: --{k.replace('_', '-')} must be {need}, not {v}")
        if v == 0 and k in ("solve_tasks", "solve_mnist"):     # exit 1 now, not after the build and training
            raise SystemExit(f"logo run: --{k.replace('_', '-')} 0: no targets to evaluate each round (at least 1)")
    return replace(cfg, **given)


def run_command(args) -> int:
    cfg = CONFIGS[args.config]
    if args.rounds is not None:
        cfg = replace(cfg, rounds=args.rounds)
    cfg = _overridden(cfg, args)
    out = Path(args.out or f"runs/{args.config}")
    out.mkdir(parents=True, exist_ok=True)
    paths = {"db": out / "db.sqlite", "ckpt": out / "ckpt", "library": out / "library",
             "dream": out / "dream", "logs": out / "logs", "report": out / "report"}
    state_path = out / "state.json"
    state = _load_state(state_path, args.config)
    sup = Supervisor(paths["logs"])
    previous = signal.signal(signal.SIGTERM, lambda *_: setattr(sup, "stopping", True))
    t_start = time.monotonic()
    print(f"logo run --config {args.config}: {cfg.rounds} rounds in {out}/ "
          f"(resuming at round {state.round + 1})" if state.round or state.done else
          f"logo run --config {args.config}: {cfg.rounds} rounds in {out}/", flush=True)
    try:
        while state.round < cfg.rounds:
            _round(cfg, args, state, paths, sup, lambda: write_json(asdict(state), state_path))
            state.round += 1
            state.done = []
            write_json(asdict(state), state_path)
    except Stopped:
        print(f"logo run: stopped; finished phases are kept in {state_path}. Run the same command to resume.",
              flush=True)
        return 130
    except RuntimeError as e:
        print(f"logo run: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"logo run: done in {time.monotonic() - t_start:.0f} s. Report: {paths['report'] / 'index.html'}",
          flush=True)
    return 0


def _round(cfg: Config, args, state: State, paths: dict, sup: Supervisor, save) -> None:
    r = state.round
    rdir = paths["report"] / f"round{r + 1}"
    db, ckpt = str(paths["db"]), str(paths["ckpt"])
    device = ["--device", args.device]
    mnist = ["--mnist-root", args.mnist_root] if args.mnist_root else []
    settings = SearchSettings.from_args(args)       # every search of the round: dream, evaluation, library arms
    solve_settings = replace(settings, budget_s=cfg.solve_budget)
    search_workers = round_workers(cfg, args)

    def phase(name: str, title: str, fn) -> None:
        if name in state.done:
            return
        t = time.monotonic()
        print(f"[round {r + 1}/{cfg.rounds}] {title}", flush=True)
        fn()
        state.done.append(name)
        save()
        print(f"    done in {time.monotonic() - t:.0f} s", flush=True)

    def check(name: str, code: int) -> None:
        if code != 0:
            raise RuntimeError(f"{name} failed (exit {code}); see {paths['logs'] / (name + '.log')}")

    def build() -> None:
        build_workers = args.workers or cfg.workers
        workers = ["--workers", str(build_workers)] if build_workers else []
        check("db-build", sup.run("db-build", _logo(["db", "build", db, "--size", str(cfg.db_size), "--seed", "0",
                                                     "--image-size", str(cfg.image_size), "--quiet", *workers])))

    def train_and_dream() -> None:
        seconds = str(cfg.train_seconds)
        # one learning-rate cosine over every round's training, which each round's `train` resumes
        # (model.schedule), rather than a new decay (a warm restart) each round
        horizon = str(cfg.rounds * cfg.train_seconds)
        train = sup.start("train", _python("model.train", [
            "--db", db, "--out", ckpt, "--max-seconds", seconds, "--schedule-seconds", horizon, *device,
            *cfg.train_args, *(["--model", args.model] if getattr(args, "model", None) else [])]))
        # dream waits for train's first checkpoint, then dreams for the same wall time
        dream = sup.start("dream", _python("dream.cli", [
            "--db", db, "--ckpt", ckpt, "--max-seconds", seconds, "--log", str(paths["dream"]),
            "--seed", str(r), *device, *mnist, *replace(settings, budget_s=cfg.dream_budget).to_argv("dream"),
            *search_workers["dream"],
            *cfg.dream_args]))
        metrics = paths["ckpt"] / "metrics.jsonl"
        found = paths["dream"] / "found.jsonl"

        def status() -> str:
            m = _last_record(metrics)
            bits = [f"train step {m.get('step', '?')}"]
            if "loss" in m:
                bits.append(f"loss {m['loss']:.3f}")
            bits.append(f"dream records {_count_lines(found)}")
            return ", ".join(bits)

        codes = sup.wait([train, dream], status)
        check("train", codes[0])
        check("dream", codes[1])

    def evaluate() -> None:
        for arm in EVAL_ARMS:
            evaluate_arm(cfg, arm, rdir, db, ckpt, device, mnist, lambda name, cmd: check(name, sup.run(name, cmd)),
                         settings, search_workers["solve"])

    def compress() -> None:
        # the corpus is what was solved: dream's log (training tasks, training digits, database targets
        # made shorter), this round's evaluation on DreamCoder *training* tasks, and the database's task
        # programs; held-out digits and test tasks never enter (library.corpus.solution_corpus)
        check("compress", sup.run("compress", _logo([
            "compress", "--db", db, "--library", str(paths["library"]), "--dream-log", str(paths["dream"]),
            "--solutions", str(rdir / "tasks" / "results.json"),
            "--iterations", str(cfg.compress_iterations), "--out", str(paths["library"]), "--update-db",
            "--quiet"])))
        (rdir / "library").mkdir(parents=True, exist_ok=True)
        if (paths["library"] / "report.json").exists():
            shutil.copyfile(paths["library"] / "report.json", rdir / "library" / "compress.json")
        # the library earns its keep: the same search with it off and on (app.library_arms)
        ckpt_args = ["--ckpt", ckpt] if any(paths["ckpt"].glob("*.pt")) else ["--proposer", "grammar"]
        check("library-arms", sup.run("library-arms", _python("app.library_arms", [
            "--db", db, *ckpt_args, "--tasks", str(cfg.solve_tasks), "--mnist", str(cfg.solve_mnist),
            *device, *mnist, *solve_settings.to_argv(),
            "--out", str(rdir / "library" / "arms.json")])))

    def extend() -> None:
        from data.db import Database
        with_lib = Database(paths["db"], create=False)
        try:
            target = len(with_lib) + cfg.db_growth
        finally:
            close = getattr(with_lib, "close", None)
            if close:
                close()
        build_workers = args.workers or cfg.workers
        workers = ["--workers", str(build_workers)] if build_workers else []
        check("db-build", sup.run("db-build", _logo(["db", "build", db, "--size", str(target),
                                                     "--seed", str(1000 + r), "--quiet", *workers])))

    def report() -> None:
        from .report import round_record, write_report
        state.history = [h for h in state.history if h.get("round") != r + 1]
        state.history.append(round_record(r + 1, paths, rdir))
        write_report(paths, state.history, args.config)

    if r == 0:
        phase("build", f"building the database ({cfg.db_size} entries)", build)
    phase("train", f"train + dream for {cfg.train_seconds:g} s", train_and_dream)
    phase("evaluate", f"evaluating ({' and '.join(EVAL_ARMS)} proposers): {cfg.solve_tasks} DreamCoder training "
          f"tasks, {cfg.solve_mnist} held-out MNIST digits, {cfg.solve_budget:g} s each", evaluate)
    phase("compress", "growing the library from the solutions; library off vs on", compress)
    phase("extend", f"extending the database by {cfg.db_growth} entries using the library", extend)
    phase("report", "writing the report", report)
