"""`logo run`: the whole learning loop as wake and sleep, supervised, resumable.

    logo run --config demo --out runs/demo

Round 0 builds the database. Every round then runs the DreamCoder cycle, starting at abstraction so that every
part the round evaluates was made for the same library:

1. **abstraction**: `logo compress` learns the library from the solutions so far (the wakes' and the DreamCoder
   *training* programs'); the enumerator's grammar is refitted on the library-rewritten solutions (each
   procedure a production) and saved as ROUND/grammar.json.
2. **dreams**: the database grows by programs enumerated from that grammar and library, one per drawing
   (`app.grow_db`).
3. **wake**: `dream` searches the training targets (DreamCoder train, LAPS LOGO train, MNIST training digits,
   database images) with the best search the round has (`round_arm`: the enumerator under the round's grammar
   without a checkpoint, the network's arm with one), inserting and logging every solution; `train` trains the
   configured model (`train_model`, default `recognition`) beside it on the database (the dreams and the
   solutions, its replays), following the checkpoint directory as before. When this build's `train` has no
   such model (`trainable_model`), the round is model-free: dream alone, on every worker.
4. **held-out evaluation**: DreamCoder test tasks and held-out MNIST digits, searched by the round's full system
   (its arm, grammar, library, database and checkpoint) and by the round-0 system (the enumerator under a grammar
   fitted on the DreamCoder train programs: no library, no network, no database), same targets and budget.
   `state.json` keeps both per round under `history[i].heldout.full` and `.baseline` (`solved`, `targets`,
   `mean_iou`, `mnist_mean_iou`, ...); the report draws them per round.
5. the HTML report.

The search flags (--k, --beam, ...) go to every search. The workers (--workers, default the configuration's;
--ray for a Ray cluster) build the database, dream (one fewer while train runs beside it) and evaluate.
Progress is kept in OUT/state.json (written atomically) after every finished phase, so a stopped run resumes
where it stopped. Ctrl-C stops the child processes cleanly (they checkpoint and close the database) and keeps
what is done.
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

from dream.search.arms import resolve_auto
from dream.search.settings import SearchSettings


@dataclass(frozen=True)
class Config:
    rounds: int
    db_size: int                 # entries built in round 0
    db_growth: int               # dreams added after each round (programs enumerated from its grammar and library)
    train_seconds: float         # the wake (dream, and train beside it) runs this long each round
    train_args: tuple[str, ...]  # extra `train` flags (model size, batch)
    dream_args: tuple[str, ...]  # extra `dream` flags (target mix)
    dream_budget: float          # search seconds per dream target
    solve_budget: float          # search seconds per held-out target
    solve_tasks: int             # DreamCoder *test* tasks evaluated each round (spread over the split; 80: all)
    solve_mnist: int             # held-out MNIST digits evaluated each round
    compress_iterations: int
    workers: int = 2             # processes of the build, dream and evaluation (0: every core)
    image_size: int = 32
    train_model: str = "recognition"   # what `train --model` trains in the wake ("none": a model-free loop)
    grow_seconds: float = 60.0   # at most this long enumerating the dreams


CONFIGS = {
    # the README's main job: <= 15 minutes on a 2-core CPU, and already the curve (3 rounds)
    "demo": Config(rounds=3, db_size=2000, db_growth=1000, train_seconds=90,
                   train_args=("--preset", "tiny", "--batch-size", "64", "--eval-every", "100", "--ckpt-every", "50", "--dream-seconds", "10",
                               "--warmup", "100"),
                   dream_args=("--targets", "tasks=2,laps=2,mnist=1,db=1"), dream_budget=2,
                   solve_budget=2.0, solve_tasks=40, solve_mnist=8, compress_iterations=5, grow_seconds=20),
    # about an hour on a 2-core CPU
    "cpu": Config(rounds=4, db_size=10_000, db_growth=3000, train_seconds=360,
                  train_args=("--preset", "tiny", "--batch-size", "64", "--eval-every", "200", "--ckpt-every", "100",
                              "--warmup", "100"),
                  dream_args=("--targets", "tasks=2,laps=3,mnist=1,db=1"), dream_budget=5,
                  solve_budget=5.0, solve_tasks=80, solve_mnist=20, compress_iterations=10, grow_seconds=60),
    # the smallest run that still goes through every phase, for tests: about a minute on a 2-core CPU
    "smoke": Config(rounds=1, db_size=60, db_growth=20, train_seconds=3,
                    train_args=("--preset", "tiny", "--batch-size", "16", "--eval-every", "10", "--eval-pairs", "8",
                                "--ckpt-every", "5", "--warmup", "5", "--threads", "1"),
                    dream_args=("--targets", "tasks=1,laps=1,db=1", "--grid-every", "1000"), dream_budget=0.5,
                    solve_budget=0.2, solve_tasks=2, solve_mnist=1, compress_iterations=1, workers=1,
                    grow_seconds=5),
    # hours on a GPU box (or a Ray cluster: --ray)
    "full": Config(rounds=10, db_size=200_000, db_growth=50_000, train_seconds=3600,
                   train_args=("--batch-size", "512", "--eval-every", "1000"),
                   dream_args=("--targets", "tasks=2,laps=3,mnist=1,db=1"), dream_budget=30,
                   solve_budget=60, solve_tasks=80, solve_mnist=100, compress_iterations=10, workers=0,
                   grow_seconds=600),
}


def trainable_model(wanted: str) -> str | None:
    """`wanted` if this build's `train --model` offers it (read from its parser at run time, so `logo run`
    works before and after a model kind is merged), else None: the round is then model-free."""
    if wanted in ("none", ""):
        return None
    from model.train import build_parser
    for action in build_parser()._actions:
        if "--model" in action.option_strings:
            return wanted if wanted in (action.choices or ()) else None
    return None


def checkpoint_kind(ckpt_dir: Path, db_path: Path | None = None) -> str | None:
    """The network the newest checkpoint of `ckpt_dir` holds ("edit", "policy", "recognition"); None if there is
    none, or if it cannot search with the library of `db_path` (a recognition model trained with another one)."""
    from dream.search.proposer import CheckpointWatcher
    watcher = CheckpointWatcher(ckpt_dir, "cpu")
    if not watcher.poll(force=True):
        return None
    if db_path is not None and hasattr(watcher.model, "check_library"):
        import logo
        from data.db import open_readonly
        db = open_readonly(db_path)
        try:
            library = tuple(logo.parse_library(db.library_text()))
        finally:
            db.close()
        try:
            watcher.model.check_library(library)
        except ValueError:
            return None
    return watcher.kind


def round_checkpoints(ckpt_root: Path, round_no: int, model: str | None) -> Path:
    """Where a round's `train` writes and its dream and evaluation read: one directory for the whole run, which
    each round's `train` resumes (the edit model and the policy learn a new library's names as they go), but a
    fresh one per round for the recognition model, which is built for one library (its checkpoint keeps it)
    and which DreamCoder retrains every iteration too."""
    return ckpt_root / f"round{round_no}" if model == "recognition" else ckpt_root


def round_arm(kind: str | None, target_kind: str | None = None) -> str:
    """The arm of a round whose checkpoint holds `kind` (None: no checkpoint) for targets of `target_kind`:
    `dream.search.arms.resolve_auto`, the one choice `dream --proposer auto` makes too."""
    return resolve_auto(kind, target_kind)


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
                   help="override the search seconds per held-out target")
    p.add_argument("--solve-tasks", type=int_range(0, 80), default=None,
                   help="override the DreamCoder test tasks evaluated")
    p.add_argument("--solve-mnist", type=int_range(0, 100_000), default=None, help="override the MNIST digits evaluated")
    p.add_argument("--device", default="auto", help="torch device for train, dream and solve (default auto)")
    p.add_argument("--model", choices=["recognition", "edit", "policy", "none"], default=None,
                   help="what train trains in the wake (default: the configuration's, recognition): dream and the "
                        "evaluation then search with it (`round_arm`); none, or a model this build's train lacks: "
                        "a model-free loop (the enumerator)")
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


# ---- evaluation: the round's full system and the round-0 system on held-out targets ---------------------

#: the two systems evaluated every round (ROUND/heldout/SYSTEM/{tasks,mnist})
SYSTEMS = ("full", "baseline")


def heldout_commands(cfg: "Config", rdir: Path, db: str, ckpt: str | None, arm: str, grammar: Path,
                     device: list[str], mnist: list[str], search: list[str] = (),
                     mnist_arm: str | None = None) -> list[list[str]]:
    """The `logo solve` commands of a round's held-out evaluation: DreamCoder test tasks and held-out MNIST
    digits, each by the full system (`arm` with the round's database, library, grammar and checkpoint) and by
    the round-0 system (`topdown` under the grammar fitted on the DreamCoder train programs: no database,
    library or checkpoint), same targets, budget and search flags (`search`: the settings' `logo solve` flags but
    the budget, which is the configuration's). `mnist_arm`: the full system's arm on the digits
    (`round_arm(kind, "mnist")`; default `arm`)."""
    common = ["--budget", str(cfg.solve_budget), "--quiet", *device, *search]
    full = ["--db", db, "--grammar", str(grammar), *(["--ckpt", ckpt, "--allow-new-procedures"] if ckpt else [])]
    systems = {"full": (["--proposer", arm, *full], ["--proposer", mnist_arm or arm, *full]),
               "baseline": (["--proposer", "topdown"], ["--proposer", "topdown"])}
    out = []
    for system in SYSTEMS:
        where = rdir / "heldout" / system
        tasks, digits = systems[system]
        out.append(_logo(["solve", *tasks, *common, "--tasks", "dreamcoder", "--split", "test",
                          "--limit", str(cfg.solve_tasks), "--out", str(where / "tasks")]))
        out.append(_logo(["solve", *digits, *common, "--tasks", "mnist-heldout", *mnist,
                          "--limit", str(cfg.solve_mnist), "--out", str(where / "mnist")]))
    return out


def heldout_line(rdir: Path) -> str:
    """One line of a round's held-out numbers, the full system against the round-0 system."""
    from .report import heldout_record
    ho = heldout_record(rdir)
    full, base = ho.get("full") or {}, ho.get("baseline") or {}

    def num(d, k):
        v = d.get(k)
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)
    return (f"held-out: DreamCoder test solved {num(full, 'solved')}/{num(full, 'targets')} ({num(full, 'arm')}) "
            f"vs round 0 {num(base, 'solved')}/{num(base, 'targets')}; mean IoU {num(full, 'mean_iou')} vs "
            f"{num(base, 'mean_iou')}; MNIST mean IoU {num(full, 'mnist_mean_iou')} vs {num(base, 'mnist_mean_iou')}"
            + (f"; MNIST read as digit {num(full, 'mnist_classified')} vs {num(base, 'mnist_classified')} (the "
               f"classifier reads {num(full, 'mnist_classifier_ceiling')} of the digits)"
               if full.get("mnist_classified") is not None else ""))


def round_workers(cfg: "Config", args, training: bool = True) -> dict[str, list[str]]:
    """The worker flags of dream and of the evaluation's `logo solve`: --workers or the configuration's
    (0: every core); dream gets one fewer (at least one) while train runs beside it; --ray goes to both."""
    n = getattr(args, "workers", None) or cfg.workers or os.cpu_count() or 1
    ray = ["--ray", args.ray] if getattr(args, "ray", None) else []
    if ray and not getattr(args, "workers", None):
        return {"dream": ray, "solve": ray}          # as many at once as the cluster has CPUs
    return {"dream": ["--workers", str(max(1, n - 1) if training else n), *ray], "solve": ["--workers", str(n), *ray]}


def fit_round_grammar(db_path: Path, library_dir: Path, out: Path) -> dict:
    """The enumerator's grammar of a round: fitted on the compressor's library-rewritten solutions
    (LIBRARY/rewritten.txt) with the database's library (which `logo compress --update-db` just set) as
    productions, saved to `out`; without solutions yet, on the DreamCoder train programs (the prior).
    Returns what it was fitted on."""
    import logo
    from data.db import open_readonly
    from dream.search.topdown import dreamcoder_train_programs
    from logo.pcfg import Grammar
    db = open_readonly(db_path)
    try:
        library = tuple(logo.parse_library(db.library_text()))
    finally:
        db.close()
    rewritten = library_dir / "rewritten.txt"
    programs = [line for line in rewritten.read_text().splitlines() if line.strip()] if rewritten.exists() else []
    source = "library-rewritten solutions"
    if not programs:
        programs, source = dreamcoder_train_programs(), "DreamCoder train programs"
    grammar = Grammar.fit(programs, library, source=source)
    grammar.save(out)
    return {"programs": len(programs), "source": source, "procedures": [d.name for d in library],
            "skipped": (grammar.meta or {}).get("skipped", 0)}


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
    model = trainable_model(getattr(args, "model", None) or cfg.train_model)
    ckpt_dir = round_checkpoints(paths["ckpt"], r + 1, model)
    db, ckpt = str(paths["db"]), str(ckpt_dir)
    device = ["--device", args.device]
    mnist = ["--mnist-root", args.mnist_root] if args.mnist_root else []
    settings = SearchSettings.from_args(args)       # every search of the round: dream and the evaluation
    search_workers = round_workers(cfg, args, training=model is not None)
    grammar = rdir / "grammar.json"

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

    def wake() -> None:
        seconds = str(cfg.train_seconds)
        procs = []
        if model is not None:
            # one learning-rate cosine over every round's training, which each round's `train` resumes
            # (model.schedule), rather than a new decay (a warm restart) each round
            horizon = str((cfg.rounds if ckpt_dir == paths["ckpt"] else 1) * cfg.train_seconds)
            procs.append(sup.start("train", _python("model.train", [
                "--db", db, "--out", ckpt, "--max-seconds", seconds, "--schedule-seconds", horizon, *device,
                "--model", model, *cfg.train_args])))
        # dream (--proposer auto: `round_arm` of the newest checkpoint) searches with the enumerator under the round's
        # grammar until train's first checkpoint appears, then with the checkpoint's arm
        procs.append(sup.start("dream", _python("dream.cli", [
            "--db", db, *(["--ckpt", ckpt, "--start-without-checkpoint"] if model is not None else []), "--proposer", "auto", "--grammar", str(grammar),
            "--max-seconds", seconds, "--log", str(paths["dream"]), "--seed", str(r), *device, *mnist,
            *replace(settings, budget_s=cfg.dream_budget).to_argv("dream"), *search_workers["dream"],
            *cfg.dream_args])))
        metrics = ckpt_dir / "metrics.jsonl"
        found = paths["dream"] / "found.jsonl"

        def status() -> str:
            bits = []
            if model is not None:
                m = _last_record(metrics)
                bits.append(f"train step {m.get('step', '?')}")
                if "loss" in m:
                    bits.append(f"loss {m['loss']:.3f}")
            bits.append(f"dream records {_count_lines(found)}")
            return ", ".join(bits)

        codes = sup.wait(procs, status)
        for proc, code in zip(procs, codes):
            check(proc.name, code)

    def abstraction() -> None:
        # the corpus is what the wakes so far solved (dream's log: training tasks, LAPS tasks, training digits,
        # database targets made shorter) and the DreamCoder *training* programs (the prior's corpus; all of it
        # in round 1); evaluation targets never enter (library.corpus.solution_corpus)
        check("compress", sup.run("compress", _logo([
            "compress", "--db", db, "--library", str(paths["library"]), "--dream-log", str(paths["dream"]),
            "--dreamcoder", "--iterations", str(cfg.compress_iterations), "--out", str(paths["library"]),
            "--update-db", "--quiet"])))
        (rdir / "library").mkdir(parents=True, exist_ok=True)
        if (paths["library"] / "report.json").exists():
            shutil.copyfile(paths["library"] / "report.json", rdir / "library" / "compress.json")
        fitted = fit_round_grammar(paths["db"], paths["library"], grammar)
        write_json(fitted, rdir / "grammar_fit.json")
        print(f"    grammar: {fitted['programs']} {fitted['source']}, {len(fitted['procedures'])} procedures",
              flush=True)

    def dreams() -> None:
        check("grow-db", sup.run("grow-db", _python("app.grow_db", [
            "--db", db, "--grammar", str(grammar), "--count", str(cfg.db_growth),
            "--seconds", str(cfg.grow_seconds)])))

    def evaluate() -> None:
        kind = checkpoint_kind(ckpt_dir, paths["db"]) if model is not None else None
        arm = round_arm(kind)
        write_json({"arm": arm, "checkpoint_kind": kind, "budget_s": cfg.solve_budget},
                   rdir / "heldout" / "systems.json")
        for cmd in heldout_commands(cfg, rdir, db, ckpt if kind else None, arm, grammar, device, mnist,
                                    settings.to_argv("solve", skip=("budget_s",)) + search_workers["solve"],
                                    round_arm(kind, "mnist")):
            check("solve", sup.run("solve", cmd))
        print(f"    {heldout_line(rdir)}", flush=True)

    def report() -> None:
        from .report import round_record, write_report
        state.history = [h for h in state.history if h.get("round") != r + 1]
        state.history.append(round_record(r + 1, {**paths, "ckpt": ckpt_dir}, rdir))
        write_report(paths, state.history, args.config)

    if r == 0:
        phase("build", f"building the database ({cfg.db_size} entries)", build)
    phase("abstraction", "abstraction: the library from the solutions so far, the grammar refitted on their rewrites",
          abstraction)
    phase("dreams", f"dreams: up to {cfg.db_growth} programs from the round's grammar and library into the database",
          dreams)
    phase("wake", f"wake: dream{' + train ' + model if model else ' (model-free)'} for {cfg.train_seconds:g} s",
          wake)
    phase("evaluate", f"held-out evaluation, full system vs round 0: {cfg.solve_tasks} DreamCoder test tasks, "
          f"{cfg.solve_mnist} held-out MNIST digits, {cfg.solve_budget:g} s each", evaluate)
    phase("report", "writing the report", report)
