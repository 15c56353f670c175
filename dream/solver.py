"""Solve a set of targets with one proposer: the one implementation behind `logo solve`, `bench/solve.py`
and `bench/learning.py`, so the arms they compare are searched the same way.

    >>> from dream import load_targets, solve                                     # doctest: +SKIP
    >>> _, targets, _ = load_targets("dreamcoder", "test", 32, limit=10)          # doctest: +SKIP
    >>> rows, summary = solve(targets, proposer="random", db="runs/db.sqlite", budget_s=5)   # doctest: +SKIP

`Solver` holds what every arm shares: the database (start programs: the empty program and the k entries
nearest to the target; the library), the checkpoint's model, and the search settings. Each
`solve_one(arm, target)` gets a fresh proposer (seeded by the target's index), so no state leaks between
targets or arms, and every arm starts from the same programs with the same budget. The model-free arms
propose as many candidates per expansion as the model does (`dream.baselines`).

Everything a user can get wrong is a `SolveError` whose message names the problem: an unknown proposer,
a model arm without a checkpoint, a missing or empty database, a checkpoint whose vocabulary lacks a
procedure name of the database's library.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .baselines import ARMS, candidates_per_expansion, make_proposer
from .targets import Target


class SolveError(ValueError):
    """Something given to the solver cannot be used; the message names it (and the file)."""


@dataclass(frozen=True)
class SearchSettings:
    """How each target is searched (the same for every arm)."""
    k: int = 8                               # database neighbours to start from
    batch: int = 8                           # nodes expanded per proposer call
    samples: int = 8                         # model: scripts per node and temperature
    temperatures: tuple[float, ...] = (1.0,)
    beam: int = 8                            # model: beam width (0 = off)
    enum_cap: int = 64                       # enum: candidates per expansion

    @property
    def candidates_per_expansion(self) -> int:
        """What the model proposes per node; the random arms get as many."""
        return candidates_per_expansion(self.samples, self.temperatures, self.beam)

    def to_dict(self) -> dict:
        return {"k": self.k, "batch": self.batch, "samples": self.samples, "temperatures": list(self.temperatures),
                "beam": self.beam, "enum_cap": self.enum_cap}


def check_arms(arms: Sequence[str]) -> list[str]:
    """The arm names, checked against `dream.baselines.ARMS`."""
    arms = list(arms)
    bad = [a for a in arms if a not in ARMS]
    if bad or not arms:
        raise SolveError(f"unknown proposer {', '.join(map(repr, bad)) or '(none given)'} "
                         f"(choose from {', '.join(ARMS)})")
    return arms


def open_database(path):
    """(database, library) for start programs; a missing, unreadable or empty database is a SolveError."""
    import sqlite3
    from data.db import DatabaseError, open_readonly
    from logo import LogoError, parse_library
    path = Path(path)
    if not path.exists():
        raise SolveError(f"{path}: database does not exist")
    try:
        db = open_readonly(path)          # solving only reads it
    except DatabaseError as e:
        raise SolveError(str(e)) from None
    if len(db) == 0:
        db.close()
        raise SolveError(f"{path}: the database has no entries (build it with `logo db build {path} --size N`)")
    try:
        library = parse_library(db.library_text())
    except LogoError as e:
        db.close()
        raise SolveError(f"{path}: the database's library does not parse: {e}") from None
    try:
        db.novelty_index()                # read every image now: a damaged file is one error, not one per target
    except (DatabaseError, sqlite3.DatabaseError) as e:
        db.close()
        raise SolveError(f"{path}: not a readable logo-synth database ({e})") from None
    return db, library


def missing_library_names(tokenizer, library) -> list[str]:
    """The library's procedure names the tokenizer does not know (sorted)."""
    return sorted({d.name for d in library} - set(tokenizer.vocab))


def check_vocabulary(tokenizer, library, ckpt, db_path) -> None:
    """A model that never saw a library procedure's name cannot read or write programs that call it."""
    missing = missing_library_names(tokenizer, library)
    if missing:
        raise SolveError(f"checkpoint {ckpt} does not know the library procedure(s) {', '.join(missing)} of "
                         f"database {db_path}: it was trained before the library had them. Train it on this "
                         "database (train resumes and learns the new names) or use the database it was trained on")


def load_checkpoint(ckpt, device: str = "cpu"):
    """A `dream.proposer.CheckpointWatcher` holding the newest checkpoint of `ckpt` (SolveError if none)."""
    from .proposer import CheckpointMissing, CheckpointWatcher
    watcher = CheckpointWatcher(ckpt, device)
    try:
        watcher.require()
    except CheckpointMissing as e:
        raise SolveError(str(e)) from None
    return watcher


def _reset(proposer) -> None:
    """Forget per-target state of a shared model proposer (its beam memo), so each arm starts clean."""
    reset = getattr(proposer, "reset", None)
    if callable(reset):
        reset()
    elif isinstance(getattr(proposer, "_beamed", None), set):
        proposer._beamed.clear()


@dataclass
class Solver:
    """What every arm shares; build it with `Solver.open(...)`."""
    settings: SearchSettings = field(default_factory=SearchSettings)
    db: object = None
    library: tuple | None = None          # the database's procedures
    db_path: str | None = None
    watcher: object = None                  # CheckpointWatcher, when a model arm is used
    model_proposer: object = None
    image_size: int = 32
    seed: int = 0

    @classmethod
    def open(cls, arms: Sequence[str] = ("model",), *, ckpt=None, db=None, device: str = "cpu",
             settings: SearchSettings | None = None, seed: int = 0) -> "Solver":
        """Check the arms, open the database (a path) and load the checkpoint (needed by the model arms);
        raises SolveError naming what is wrong."""
        arms = check_arms(arms)
        settings = settings or SearchSettings()
        s = cls(settings=settings, seed=seed)
        if db is not None:
            s.db_path = str(db)
            s.db, s.library = open_database(db)
            s.image_size = s.db.image_size
        if any(a.startswith("model") for a in arms):
            if not ckpt:
                s.close()
                raise SolveError(f"the proposer {', '.join(a for a in arms if a.startswith('model'))} needs --ckpt "
                                 "(a checkpoint directory)")
            try:
                s.load_model(ckpt, device)
            except SolveError:
                s.close()
                raise
        return s

    def load_model(self, ckpt, device: str = "cpu") -> None:
        """(Re)load the newest checkpoint of `ckpt` as the model arm's proposer."""
        watcher = load_checkpoint(ckpt, device)
        if self.db is not None:
            check_vocabulary(watcher.tokenizer, self.library, ckpt, self.db_path)
        self.watcher = watcher
        st = self.settings
        self.model_proposer = watcher.proposer(st.samples, st.temperatures, st.beam)
        if self.db is None:
            self.image_size = watcher.model.config.image_size
        elif watcher.model.config.image_size != self.image_size:
            raise SolveError(f"checkpoint {ckpt} was trained on {watcher.model.config.image_size}px images, "
                             f"but database {self.db_path} holds {self.image_size}px images")

    @property
    def max_tokens(self) -> int:
        return getattr(self.model_proposer, "max_tokens", 96)

    def checkpoint_meta(self) -> dict:
        return self.watcher.describe() if self.watcher is not None else {}

    def proposer(self, arm: str, seed: int = 0):
        """A fresh proposer for one target (the shared model proposer with its memo cleared)."""
        check_arms([arm])
        if arm.startswith("model"):
            if self.model_proposer is None:
                raise SolveError(f"the proposer {arm} needs --ckpt (a checkpoint directory)")
            _reset(self.model_proposer)
        st = self.settings
        return make_proposer(arm, self.model_proposer, n=st.candidates_per_expansion, cap=st.enum_cap, seed=seed,
                             library=self.library, max_tokens=self.max_tokens)

    def solve_one(self, arm: str, target: Target, budget_s: float, index: int = 0) -> dict:
        """Search one target with one arm; returns its result row (an "error" row if the search failed)."""
        from dream.dreamer import run_search
        from dream.score import iou
        expand = self.proposer(arm, seed=self.seed * 100_003 + index)
        try:
            r = run_search(expand, target, self.db, k=self.settings.k, budget_s=budget_s, batch=self.settings.batch,
                           library=self.library, stop_on_solve=True, image_size=self.image_size)
        except Exception as e:  # noqa: BLE001 - one failing search must not end the others
            return {"name": target.name, "kind": target.kind, "arm": arm, "error": f"{type(e).__name__}: {e}",
                    "solved": False}
        row = {"name": target.name, "kind": target.kind, "arm": arm, "solved": r.solved, "program": r.program,
               "tokens": r.best.tokens,
               "time_to_solve": None if r.time_to_solve is None else round(r.time_to_solve, 3),
               "elapsed": round(r.elapsed, 3), "distance": round(r.best.distance, 5),
               "iou": round(float(iou(r.best.image28, target.image28)), 4), "expanded": r.n_expanded,
               "candidates": r.n_candidates, "valid": r.n_valid, "edit_steps": r.best.step,
               "start_program": r.path[0].text, **target.extra}
        if target.known_program:
            row["reference_program"] = target.known_program
        row["_image28"] = r.best.image28           # for contact sheets; `public` drops it
        return row

    def solve(self, targets: Sequence[Target], arm: str, budget_s: float,
              on_row: Callable[[int, dict], None] | None = None) -> list[dict]:
        """Every target with one arm, in order; `on_row(index, row)` after each."""
        rows = []
        for i, target in enumerate(targets):
            row = self.solve_one(arm, target, budget_s, i)
            rows.append(row)
            if on_row is not None:
                on_row(i, row)
        return rows

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


def public(row: dict) -> dict:
    """A result row without its image (what goes into JSON)."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def summarize(rows: Sequence[dict]) -> dict:
    """Numbers of one arm on one set of targets: solved (by a start program as it was / after edits),
    mean IoU, program tokens, candidates proposed and evaluated per second."""
    ok = [r for r in rows if "error" not in r]
    n_solved = sum(bool(r["solved"]) for r in ok)
    el = sum(r["elapsed"] for r in ok) or 1e-9
    return {
        "targets": len(rows), "solved": n_solved,
        "solved_by_start": sum(1 for r in ok if r["solved"] and r["edit_steps"] == 0),
        "solved_by_edits": sum(1 for r in ok if r["solved"] and r["edit_steps"] > 0),
        "mean_iou": round(statistics.fmean(r["iou"] for r in ok), 4) if ok else None,
        "mean_tokens": round(statistics.fmean(r["tokens"] for r in ok), 2) if ok else None,
        "median_tokens": statistics.median(r["tokens"] for r in ok) if ok else None,
        "mean_time_to_solve": (round(sum(r["time_to_solve"] for r in ok if r["solved"]) / n_solved, 3)
                               if n_solved else None),
        "candidates_per_s": round(sum(r["candidates"] for r in ok) / el, 1),
        "valid_per_s": round(sum(r["valid"] for r in ok) / el, 1),
        "improved_start": sum(1 for r in ok if r["edit_steps"] > 0),
        "errors": len(rows) - len(ok),
        "failed": [r["name"] for r in rows if "error" in r],
    }


def solve(targets: Sequence[Target], proposer: str = "model", *, ckpt=None, db=None, budget_s: float = 10.0,
          device: str = "cpu", settings: SearchSettings | None = None, seed: int = 0,
          on_row: Callable[[int, dict], None] | None = None) -> tuple[list[dict], dict]:
    """Search every target with one proposer (one of `dream.baselines.ARMS`: "model", "random", "none",
    "enum", "grammar", "model+enum", "model+grammar").

    `db` is a database path (start programs and library), `ckpt` a checkpoint directory (the model
    arms). Returns (result rows, summary); raises SolveError naming a bad proposer, checkpoint or database.
    """
    if budget_s <= 0:
        raise SolveError(f"the budget must be positive, not {budget_s:g} s")
    s = Solver.open([proposer], ckpt=ckpt, db=db, device=device, settings=settings, seed=seed)
    t = time.monotonic()
    try:
        rows = s.solve(targets, proposer, budget_s, on_row)
    finally:
        s.close()
    summary = {"proposer": proposer, "budget_s": budget_s, **summarize(rows),
               "wall_s": round(time.monotonic() - t, 1)}
    return [public(r) for r in rows], summary
