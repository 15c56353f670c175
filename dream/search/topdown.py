"""Build from the root: enumerate programs in decreasing probability and score them against a target.

The edit arms start from database neighbours and change them; here programs are enumerated from the root
under a grammar fitted to what has been solved (`logo.pcfg`, `logo.enumeration`: DreamCoder's search), so
short programs come first and the exact one cannot be missed once its band is reached. Two uses:

- `enumerate_for_target(target28, grammar, budget_s)`: the first (most probable) program that solves the
  target, else the nearest one found (an arm of its own, `topdown`), and the `k` nearest programs (the
  enumerated starts of every edit arm, `dream.search.solver.Solver.enumerated_starts`);
- `grammar_corpus` / `fit_grammar`: which corpus the grammar is fitted on: the solutions corpus
  (`library.corpus`: dream's and `logo solve`'s solved targets, task programs inserted on purpose) when
  there is one, else the database's heads, else the bundled DreamCoder *training* programs. Evaluation
  targets (DreamCoder test, held-out MNIST) never enter: `library.corpus.solution_corpus` drops them, and
  programs that draw a DreamCoder test task exactly.

Solved and distance are `dream.search.score`'s definitions at 28x28 (`solved_batch`, `Scorer`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

import logo
from logo.enumeration import Bounds, Budget, distinct_drawings
from logo.library import SOLVE_SIZE
from logo.pcfg import Grammar, GrammarError

from .score import Scorer, solved_batch


@dataclass
class Found:
    """One enumerated program and how it compares with the target."""
    program: str
    distance: float
    bits: float                 # description length under the grammar
    tokens: int
    image28: np.ndarray = field(repr=False)


@dataclass
class EnumResult:
    """What enumerating for one target found (see `enumerate_for_target`)."""
    solved: bool
    best: Found | None              # the first solving program, else the nearest drawing found
    nearest: list[Found]            # the k nearest distinct drawings, nearest first
    time_to_solve: float | None
    enumerated: int                 # programs enumerated (every one is rendered)
    distinct: int                   # of them, distinct usable drawings (scored)
    elapsed: float

    @property
    def program(self) -> str | None:
        return None if self.best is None else self.best.program


class _Nearest:
    """The k nearest drawings seen so far (by graded distance; ties: the more probable first)."""

    def __init__(self, k: int):
        self.k = k
        self.items: list[tuple[float, float, int, object, np.ndarray]] = []   # (distance, bits, order, prog, img)
        self.order = 0

    def add(self, dist: np.ndarray, bits: np.ndarray, programs, images: np.ndarray) -> None:
        if self.k <= 0 or not len(dist):
            return
        take = np.argsort(dist, kind="stable")[:self.k]
        worst = self.items[-1][0] if len(self.items) >= self.k else np.inf
        for i in take:
            if dist[i] >= worst:
                break
            self.items.append((float(dist[i]), float(bits[i]), self.order, programs[i], images[i]))
            self.order += 1
        self.items.sort(key=lambda t: (t[0], t[2]))
        del self.items[self.k:]

    def found(self) -> list[Found]:
        out = []
        for d, b, _, p, img in self.items:
            text = logo.to_text(p)
            out.append(Found(text, d, b, logo.n_tokens(text), img))
        return out


def enumerate_for_target(target28: np.ndarray, grammar: Grammar, budget_s: float, *, library=None,
                         k: int = 8, bounds: Bounds | None = None, stop_on_solve: bool = True,
                         max_programs: int | None = None, batch: int = 1024) -> EnumResult:
    """Enumerate programs under `grammar` for `budget_s` seconds (or `max_programs`), render each at 28x28,
    and compare the distinct drawings with `target28` (uint8, 28x28).

    Returns the first program that solves the target (the most probable such one; enumeration stops there
    with `stop_on_solve`), else the nearest drawing found, and the `k` nearest drawings (start programs)."""
    target28 = np.asarray(target28, np.uint8)
    if target28.shape != (SOLVE_SIZE, SOLVE_SIZE):
        raise ValueError(f"the target must be a {SOLVE_SIZE}x{SOLVE_SIZE} image, not {target28.shape}")
    if not budget_s > 0:
        raise ValueError(f"the budget must be positive, not {budget_s!r} s")
    t0 = time.monotonic()
    scorer = Scorer(target28)
    near = _Nearest(k)
    solution: Found | None = None
    solved_at = None
    enumerated = distinct = 0
    for d in distinct_drawings(grammar, Budget(seconds=budget_s, programs=max_programs), size=SOLVE_SIZE,
                               library=library, bounds=bounds, batch=batch):
        enumerated = d.enumerated
        if not d.programs:
            continue
        distinct += len(d.programs)
        bits = -d.logps / np.log(2)
        if solution is None:
            hits = np.flatnonzero(solved_batch(d.images, target28))
            if len(hits):
                i = int(hits[0])
                text = logo.to_text(d.programs[i])
                solution = Found(text, float(scorer.distance(d.images[i:i + 1])[0]), float(bits[i]),
                                 logo.n_tokens(text), d.images[i])
                solved_at = time.monotonic() - t0
        near.add(scorer.distance(d.images), bits, d.programs, d.images)
        if solution is not None and stop_on_solve:
            break
    nearest = near.found()
    best = solution if solution is not None else (nearest[0] if nearest else None)
    return EnumResult(solution is not None, best, nearest, solved_at, enumerated, distinct,
                      time.monotonic() - t0)


# ---- the corpus a grammar is fitted on ----------------------------------------------------------------

def dreamcoder_train_programs() -> list[str]:
    """The bundled DreamCoder *training* tasks' programs (the test split is held out)."""
    from data import dreamcoder_tasks
    return [logo.to_text(t.program) for t in dreamcoder_tasks("train")]


def grammar_corpus(db=None, logs: Sequence = (), results: Sequence = (), library=(), *,
                   heads_first: bool = False) -> tuple[list[str], str]:
    """(programs, where they came from): the solutions corpus (`library.corpus.solution_corpus` over the
    database's task programs and dream-shortened heads, dream logs and `logo solve` results) when it holds
    any program; else the DreamCoder training programs; else the database's heads (those that draw a
    DreamCoder test task exactly left out; with `heads_first`, before the training programs). `db` is an
    open `data.Database` or None.

    The training programs come before random heads because they enumerate better: on 20 DreamCoder
    training tasks (2 s each, leave-one-out) the grammar fitted on them solved 11, one fitted on a
    20,000-entry random database's heads 7 (`bench/topdown.py`, arms enum-dc and enum-db)."""
    from library.corpus import (database_solutions, dream_log_solutions, solution_corpus,
                                solve_result_solutions)
    sols = []
    if db is not None:
        sols += database_solutions(db)
    for p in logs:
        sols += dream_log_solutions(p)
    for p in results:
        sols += solve_result_solutions(p)
    programs = solution_corpus(sols, library)[0] if sols else []
    if programs:
        return programs, "solutions"
    if heads_first and db is not None:
        heads = database_solutions(db, include_random=True)
        programs = solution_corpus(heads, library)[0] if heads else []
        if programs:
            return programs, "database heads"
    programs = dreamcoder_train_programs()
    if programs or db is None:
        return programs, "DreamCoder train programs"
    heads = database_solutions(db, include_random=True)
    return (solution_corpus(heads, library)[0] if heads else []), "database heads"


def fit_grammar_on(db=None, library=(), pseudocount: float = 0.3) -> Grammar:
    """A grammar fitted on `grammar_corpus(db, library=library)` (`db` open or None), with `library`'s
    procedures as productions."""
    programs, source = grammar_corpus(db, library=library)
    if not programs:
        raise GrammarError("the corpus is empty: nothing to fit a grammar on")
    return Grammar.fit(programs, tuple(library), pseudocount, source=source)


def fit_grammar(db_path=None, *, logs: Sequence = (), results: Sequence = (), pseudocount: float = 0.3,
                out=None, heads_first: bool = False) -> tuple[Grammar, tuple]:
    """Fit a grammar on `grammar_corpus` (with the database's library as its procedures); save it to `out`
    (JSON) when given. Returns (grammar, library Defines)."""
    db = None
    library: tuple = ()
    if db_path is not None:
        from data.db import open_readonly
        if not Path(db_path).exists():
            raise GrammarError(f"{db_path}: database does not exist")
        db = open_readonly(db_path)
        try:
            library = logo.parse_library(db.library_text())
        except (logo.LogoError, ValueError) as e:
            db.close()
            raise GrammarError(f"{db_path}: the database's library does not parse: {e}") from None
    try:
        programs, source = grammar_corpus(db, logs, results, library, heads_first=heads_first)
    finally:
        if db is not None:
            db.close()
    if not programs:
        raise GrammarError("the corpus is empty: nothing to fit a grammar on")
    g = Grammar.fit(programs, library, pseudocount, source=source)
    if out is not None:
        g.save(Path(out))
    return g, tuple(library)


__all__ = ["EnumResult", "Found", "dreamcoder_train_programs", "enumerate_for_target", "fit_grammar",
           "fit_grammar_on", "grammar_corpus"]
