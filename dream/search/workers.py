"""`logo solve` on workers: every target searched by `Solver.solve_one` in a worker process (`dream.search.executor`),
the rows put back in the input order.

The driver keeps the database: it computes each target's start programs (`Solver.starts`, the nearest
entries) and sends them with the target, so a worker needs no database, only the search settings, the
library and the checkpoint. A worker builds its `Solver` once (`SolveJob.build`: the checkpoint file the
driver loaded, from a path every worker sees) and then searches one target per item with the seed of the
target's index, so a target's row does not depend on which worker searched it or when: with the
deterministic arms (`none`, `enum`) the programs are those of `--workers 1`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from .arms import MODEL_ARMS, TOPDOWN_ARMS
from .executor import Executor, Outcome
from .settings import SearchSettings
from .solver import Solver, StartSource, error_row
from .targets import Target


def given_starts(texts: Sequence[str]) -> StartSource:
    """A `StartSource` that returns these start programs (computed by the driver, which has the database)."""
    texts = list(texts)
    return lambda db, image, k: list(texts)


def starts_for(solver: Solver, target: Target) -> list[str]:
    """The start programs `solver` would search `target` from (the driver's database)."""
    return list(solver.starts(solver.db, target.image, solver.settings.k))


def start_texts(db, target: Target, k: int) -> tuple[str, ...]:
    """The start programs of `target` in `db` (`dream.search.solver.start_programs`), for a worker without it."""
    from .solver import start_programs
    return tuple(start_programs(db, target.image, k))


@dataclass(frozen=True)
class SolveItem:
    """One target for a worker: which arm, its index (its seed) and its start programs (the budget and the other
    settings travel once, in the `SolveJob`)."""
    arm: str
    target: Target
    index: int
    starts: tuple[str, ...]


def load_pinned(ckpt: str, ckpt_file: str | None, device: str):
    """A `CheckpointWatcher` over `ckpt` holding `ckpt_file` (the checkpoint the driver loaded, so every worker
    searches with the same model), or the newest checkpoint if that file is gone."""
    from model.checkpoint import load
    from .proposer import CheckpointWatcher
    watcher = CheckpointWatcher(ckpt, device)
    if ckpt_file and Path(ckpt_file).is_file():
        try:
            watcher.model, watcher.tokenizer, watcher.meta = load(ckpt_file, device)
        except Exception:  # noqa: BLE001 - rotated away while we read it: take the newest below
            watcher.model = None
    watcher.require()
    return watcher


@dataclass(frozen=True)
class SolveJob:
    """What a worker needs to search targets like the driver's `Solver` (picklable; travels once)."""
    arms: tuple[str, ...]
    settings: SearchSettings
    seed: int
    library: tuple | None
    image_size: int
    ckpt: str | None = None           # checkpoint directory (absolute), for the model arms
    ckpt_file: str | None = None      # the checkpoint file the driver loaded
    device: str = "cpu"
    threads: int = 1                  # torch CPU threads per worker
    #: the enumerator's grammar (topdown arm, enumerated starts) as the driver fitted it on its database
    grammar_digest: str | None = None
    grammar_json: str | None = field(default=None, repr=False)
    #: the recognition checkpoint file the driver loaded (`dream.search.recognition.Recognizer`), if any
    recognition_file: str | None = None

    @classmethod
    def of(cls, solver: Solver, arms: Sequence[str], device: str = "cpu", threads: int = 1) -> "SolveJob":
        watcher = solver.watcher
        grammar = digest = None
        if any(a in TOPDOWN_ARMS for a in arms) or solver.settings.enumerated_starts > 0:
            grammar = json.dumps(solver.grammar().to_json(), sort_keys=True)
            digest = hashlib.blake2b(grammar.encode(), digest_size=12).hexdigest()
        return cls(tuple(arms), solver.settings, solver.seed, solver.library, solver.image_size,
                   None if watcher is None else str(Path(watcher.directory).resolve()),
                   None if watcher is None else (watcher.meta or {}).get("path"), device, threads, digest, grammar,
                   None if solver.recognizer is None else solver.recognizer.meta.get("path"))

    def key(self) -> str:
        return repr(self)

    def build(self) -> "SolveWorker":
        solver = Solver(settings=self.settings, library=self.library, image_size=self.image_size, seed=self.seed)
        if self.grammar_json is not None:
            from logo.pcfg import Grammar
            solver.use_grammar(Grammar.from_json(json.loads(self.grammar_json)), self.library)
        if any(a in MODEL_ARMS for a in self.arms) and self.ckpt:
            import torch
            torch.set_num_threads(self.threads)
            solver.watcher = load_pinned(self.ckpt, self.ckpt_file, self.device)
            solver.model_proposer = self.settings.model_proposer(solver.watcher, self.library)
        if self.recognition_file:
            import torch
            torch.set_num_threads(self.threads)
            from .recognition import Recognizer
            solver.recognizer = Recognizer.load(self.recognition_file, self.device)
        return SolveWorker(solver)


class SolveWorker:
    """Searches one `SolveItem` with a `Solver` (the worker's own, or the driver's for `--workers 1`)."""

    def __init__(self, solver: Solver):
        self.solver = solver

    def __call__(self, item: SolveItem) -> dict:
        s = self.solver.variant(library=self.solver.library, starts=given_starts(item.starts))
        return s.solve_one(item.arm, item.target, item.index)


def warm_up(solver: Solver, arm: str) -> None:
    """Compile the enumerator, the renderer and the scorer in this process before any target's budget starts (a
    first search pays seconds of JIT compilation otherwise; forked workers inherit the compiled code): `arm`'s
    path on a one-line target, bounded by counts."""
    import logo
    from logo.library import SOLVE_SIZE
    line = "(move ul 0)"
    target = Target("warm-up", "png", logo.render(line, solver.image_size), logo.render(line, SOLVE_SIZE))
    counted = replace(solver.settings, budget_s=600.0, max_programs=64, max_rounds=1)
    solver.variant(library=solver.library, starts=solver.starts, settings=counted).solve_one(
        "topdown" if arm in TOPDOWN_ARMS else "none", target)


def solve_on(executor: Executor, solver: Solver, targets: Sequence[Target], arm: str,
             on_row: Callable[[int, dict], None] | None = None, device: str = "cpu",
             threads: int = 1, on_outcome: Callable[[Outcome], None] | None = None,
             on_start: Callable[[], None] | None = None) -> list[dict]:
    """Every target with one arm (`auto` resolved by `solver.resolve`; `solver.settings.budget_s` each) on
    `executor`'s workers; the rows in the order of `targets`. `on_row(index, row)` as each finishes (in completion
    order); `on_outcome` sees the executor's timing of each. A target whose worker died is searched again
    (`dream.search.executor.RETRIES` times), then has an "error" row; a row of a target that took more than one try
    says how many ("attempts"). `threads`: torch threads per worker."""
    arm = solver.resolve(arm)
    warm_up(solver, arm)
    executor.start(SolveJob.of(solver, [arm], device, threads), local=SolveWorker(solver))
    if on_start is not None:
        on_start()
    items = ((i, SolveItem(arm, t, i, tuple(starts_for(solver, t)))) for i, t in enumerate(targets))
    rows: list[dict | None] = [None] * len(targets)
    for outcome in executor.map(items):
        i = outcome.key
        row = outcome.value if outcome.ok else error_row(targets[i], arm, outcome.error)
        if outcome.attempts > 1:
            row["attempts"] = outcome.attempts
        rows[i] = row
        if on_outcome is not None:
            on_outcome(outcome)
        if on_row is not None:
            on_row(i, row)
    return rows
