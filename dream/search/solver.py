"""Search targets: the one entry point behind `logo solve`, `dream`, `logo run`'s arms (the model and its
baseline, the library off and on) and every bench script, so the arms they compare are searched the same way.

    >>> from dream import load_targets, solve                                     # doctest: +SKIP
    >>> _, targets, _ = load_targets("dreamcoder", "test", 32, limit=10)          # doctest: +SKIP
    >>> rows, summary = solve(targets, "grammar", db="runs/db.sqlite", settings=SearchSettings(budget_s=5))  # doctest: +SKIP

`run_search(expand, target, db, settings, ...)` searches one target with one `dream.search.frontier.Proposer` from
its start programs (`start_programs`: the empty program and the heads of the k database entries nearest to the
target, or another `StartSource`); `build_search` is the one place a `Search` is built. `SearchSettings`
(`dream.search.settings`) are the search's knobs, the budget among them, and own their command-line flags, so
every command has the same flags with the same defaults. `result_row` and `error_row` make the rows.

`Solver` holds what every arm shares: the database (start programs; the library), the checkpoint's model,
the search settings, the start-program source and the grammar of the enumerator (`dream.search.topdown`: fitted
on first use on the solutions corpus, else the DreamCoder training programs, else the database's heads).
The `topdown` arm enumerates programs from the root under that grammar for the whole budget instead of
searching; with `SearchSettings.enumerated_starts` N > 0, every other arm first enumerates for
`enumerate_share` of its budget and the N enumerated programs nearest the target (a solving one first)
join the database neighbours as start programs; the search gets the rest of the budget. Each `solve_one(arm, target)` gets a fresh proposer
(seeded by the target's index; the shared model proposer is `reset()`), so no state leaks between targets
or arms, and every arm starts from the same programs with the same budget. The model-free arms propose as
many candidates per expansion as the model does (`dream.search.baselines`). `Solver.variant(library=, starts=)`
shares all that with another library and start programs (`app.library_arms`: the library off and on).

Everything a user can get wrong is a `SolveError` whose message names the problem: an unknown proposer,
a model arm without a checkpoint, a missing or empty database, a checkpoint whose vocabulary lacks a
procedure name of the database's library.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from logo.tokens import CONTEXT_TOKENS

from .arms import (AUTO, ARMS, CONSTRUCT_ARMS, MODEL_ARMS, RECOGNITION_ARMS, TOPDOWN_ARMS, Parts, checkpoint_problem,
                   make_proposer, resolve_auto, unknown)
from .frontier import Proposer, Search, SearchResult
from .settings import SearchSettings
from .targets import Target


class SolveError(ValueError):
    """Something given to the solver cannot be used; the message names it (and the file)."""


#: where a search starts: (database or None, target image, k) -> program texts, the empty program first
StartSource = Callable[[object, np.ndarray, int], list[str]]


def start_programs(db, image: np.ndarray, k: int) -> list[str]:
    """The empty program and the heads of the k database entries nearest to `image` (nearest first)."""
    starts = [""]
    if db is None or k <= 0 or len(db) == 0:
        return starts
    for entry_id, _ in db.nearest(np.asarray(image, np.uint8), k):
        try:
            starts.append(db.get(entry_id).head)
        except (KeyError, LookupError):
            continue
    return starts


def build_search(expand: Proposer, target: Target, settings: SearchSettings, starts: Sequence[str], *,
                 library=None, image_size: int | None = None) -> Search:
    """The search of one target from `starts` under `settings`: the one place a `Search` is built (`logo solve`,
    `dream`, the bench scripts through `run_search`; the web page's Solve, which drives it round by round)."""
    return Search(expand, target.image, target.image28, image_size=image_size or target.image.shape[0],
                  library=library, starts=starts, batch=settings.batch, length_weight=settings.length_weight)


def run_search(expand: Proposer, target: Target, db=None, settings: SearchSettings = SearchSettings(), *,
               library=None, stop_on_solve: bool | None = None, should_stop=None, image_size=None,
               starts: StartSource = start_programs, budget_s: float | None = None) -> SearchResult:
    """Search for one target from `starts(db, target.image, settings.k)` (by default the empty program and the k
    nearest database entries) for `budget_s` (default `settings.budget_s`; `settings.max_rounds` rounds at most):
    the one search entry point (`Solver.solve_one` and `dream`'s loop).

    Database targets are re-solved looking for a shorter program, so they do not stop at the first
    solution (their own head is among the starts); other targets stop at the first exact solution.
    """
    if stop_on_solve is None:
        stop_on_solve = target.kind != "db"
    s = build_search(expand, target, settings, starts(db, target.image, settings.k), library=library,
                     image_size=image_size)
    return s.run(settings.budget_s if budget_s is None else budget_s, stop_on_solve=stop_on_solve,
                 max_rounds=settings.max_rounds, should_stop=should_stop)


def calls_procedure(text: str, names) -> bool:
    """Whether a program's text calls one of the procedures `names`."""
    toks = text.replace("(", " ( ").split()
    return any(a == "(" and b in names for a, b in zip(toks, toks[1:]))


def check_arms(arms: Sequence[str]) -> list[str]:
    """The arm names (`auto` or one of `dream.search.arms.ARMS`), checked."""
    arms = list(arms)
    bad = unknown(arms)
    if bad or not arms:
        raise SolveError(f"unknown proposer {', '.join(map(repr, bad)) or '(none given)'} "
                         f"(choose from {', '.join((AUTO,) + ARMS)})")
    return arms


def result_row(target: Target, arm: str, library, *, program: str, spent: float = 0.0, time_to_solve, elapsed,
               distance: float, image28, best_image28, **numbers) -> dict:
    """The row of one searched target (what `logo solve` writes and prints): `numbers` are solved, tokens,
    expanded, candidates, valid, edit_steps, start_program (and `enumerated`); times count the `spent` seconds
    of the enumerated starts; `_image28` (the best drawing, for contact sheets) is dropped by `public`."""
    from .score import iou
    names = {d.name for d in library or ()}
    row = {"name": target.name, "kind": target.kind, "arm": arm, "solved": numbers.pop("solved"),
           "program": program, "tokens": numbers.pop("tokens"),
           "calls_library": bool(names) and calls_procedure(program, names),
           "time_to_solve": None if time_to_solve is None else round(spent + time_to_solve, 3),
           "elapsed": round(spent + elapsed, 3), "distance": round(distance, 5),
           "iou": round(float(iou(image28, target.image28)), 4), **numbers, **target.extra}
    if target.known_program:
        row["reference_program"] = target.known_program
    row["_image28"] = best_image28
    return row


def error_row(target: Target, arm: str, error: str) -> dict:
    """The row of a target whose search failed or never came back (`error` says why)."""
    return {"name": target.name, "kind": target.kind, "arm": arm, "error": error, "solved": False}


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
    """A `dream.search.proposer.CheckpointWatcher` holding the newest checkpoint of `ckpt` (SolveError if none)."""
    from .proposer import CheckpointMissing, CheckpointWatcher
    watcher = CheckpointWatcher(ckpt, device)
    try:
        watcher.require()
    except CheckpointMissing as e:
        raise SolveError(str(e)) from None
    return watcher


def grammar_fits_library(grammar, library) -> bool:
    """Whether `grammar`'s procedures are exactly `library`'s (names and arities): only then can it enumerate
    programs that call them (`Solver.use_grammar`)."""
    return tuple(sorted(grammar.procedures)) == Solver._grammar_key(library)


@dataclass
class Solver:
    """What every arm shares; build it with `Solver.open(...)`."""
    settings: SearchSettings = field(default_factory=SearchSettings)
    db: object = None
    library: tuple | None = None          # the database's procedures
    db_path: str | None = None
    watcher: object = None                  # CheckpointWatcher, when a model arm is used
    model_proposer: Proposer | None = None
    image_size: int = 32
    seed: int = 0
    starts: StartSource = start_programs    # where each target's search starts
    #: the enumerator's grammars, by library (fitted on first use; shared with `variant`s)
    grammars: dict = field(default_factory=dict)
    #: a recognition checkpoint (`dream.search.recognition.Recognizer`): the `recognition` arm's grammars, and
    #: the grammar the edit arms' start programs are enumerated under
    recognizer: object = None

    @classmethod
    def open(cls, arms: Sequence[str] = (AUTO,), *, ckpt=None, db=None, device: str = "cpu",
             settings: SearchSettings | None = None, seed: int = 0, check_names: bool = True,
             recognition=None) -> "Solver":
        """Check the arms, open the database (a path) and load the checkpoint (needed by the model arms; `auto`
        loads it when given: a recognition checkpoint as the recognizer); raises SolveError naming what is
        wrong. `check_names=False` accepts a checkpoint that does not know every procedure of the database's
        library (it reads their names as unknown tokens). `recognition` is a recognition checkpoint directory
        (the `recognition` arm's, and the grammar of every arm's enumerated starts; by default `ckpt` when it
        holds one)."""
        arms = check_arms(arms)
        s = cls(settings=settings or SearchSettings(), seed=seed)
        if db is not None:
            s.db_path = str(db)
            s.db, s.library = open_database(db)
            s.image_size = s.db.image_size
        try:
            from model.checkpoint import latest_kind
            holds_recognition = bool(ckpt) and latest_kind(ckpt) == "recognition"
            if recognition or any(a in RECOGNITION_ARMS for a in arms) or (holds_recognition and AUTO in arms):
                s.load_recognizer(recognition or ckpt, device)
            if holds_recognition and any(a in MODEL_ARMS for a in arms):
                raise SolveError(f"{ckpt} holds a recognition model (train --model recognition): it writes grammars, "
                                 "not edits; use it with the arm 'recognition' or 'auto', or give an edit or policy "
                                 "checkpoint")
            if ckpt and not holds_recognition and any(a == AUTO or a in MODEL_ARMS for a in arms):
                s.load_model(ckpt, device, check_names)
            for arm in arms:
                problem = arm != AUTO and checkpoint_problem(arm, s.checkpoint_kind)
                if problem:
                    raise SolveError(problem)
        except SolveError:
            s.close()
            raise
        return s

    def load_recognizer(self, ckpt, device: str = "cpu") -> None:
        """Load the newest recognition checkpoint of `ckpt` (`dream.search.recognition.Recognizer`): the
        `recognition` arm's grammars and the enumerated start programs'; SolveError naming a missing or
        damaged checkpoint."""
        from model.recognition.checkpoint import RecognitionCheckpointError
        from .recognition import Recognizer
        if not ckpt:
            raise SolveError("the proposer recognition needs --ckpt (a recognition checkpoint directory: "
                             "train --model recognition)")
        try:
            self.recognizer = Recognizer.load(ckpt, device)
        except RecognitionCheckpointError as e:
            raise SolveError(str(e)) from None

    def load_model(self, ckpt, device: str = "cpu", check_names: bool = True) -> None:
        """(Re)load the newest checkpoint of `ckpt` as the model arm's proposer."""
        watcher = load_checkpoint(ckpt, device)
        if watcher.kind == "recognition":
            raise SolveError(f"{ckpt} holds a recognition model (train --model recognition): it writes grammars, "
                             "not edits; use it with the arm 'recognition', or give an edit or policy checkpoint")
        if self.db is not None and check_names:
            check_vocabulary(watcher.tokenizer, self.library, ckpt, self.db_path)
        self.watcher = watcher
        self.model_proposer = self.settings.model_proposer(watcher, self.library)
        if self.db is None:
            self.image_size = watcher.model.config.image_size
        elif watcher.model.config.image_size != self.image_size:
            raise SolveError(f"checkpoint {ckpt} was trained on {watcher.model.config.image_size}px images, "
                             f"but database {self.db_path} holds {self.image_size}px images")

    @property
    def checkpoint_kind(self) -> str | None:
        """"edit" or "policy": the loaded checkpoint's network; "recognition" with a recognizer alone; None
        without a checkpoint."""
        if self.watcher is not None:
            return self.watcher.kind
        return None if self.recognizer is None else "recognition"

    def resolve(self, arm: str, target_kind: str | None = None) -> str:
        """The arm `arm` searches with: `auto` is `construct` for MNIST digits (`target_kind` "mnist"), else the
        checkpoint's family arm, else `grammar` (`dream.search.arms.resolve_auto`); every other arm is itself."""
        return resolve_auto(self.checkpoint_kind, target_kind) if arm == AUTO else arm

    @property
    def max_tokens(self) -> int:
        """The model's context (from its checkpoint), or `CONTEXT_TOKENS` without a model: every arm's limit."""
        return self.model_proposer.max_tokens if self.model_proposer is not None else CONTEXT_TOKENS

    def checkpoint_meta(self) -> dict:
        return self.watcher.describe() if self.watcher is not None else {}

    def variant(self, *, library=None, starts: StartSource = start_programs,
                settings: SearchSettings | None = None) -> "Solver":
        """This solver with another library (for the proposer and the search), start-program source and (given)
        settings, sharing the database, model and seed: close the original, not the variant."""
        return replace(self, library=library, starts=starts, settings=settings or self.settings)

    def proposer(self, arm: str, seed: int = 0) -> Proposer:
        """A proposer for one target: a fresh one, or the shared model proposer `reset()`."""
        arm = self.resolve(check_arms([arm])[0])
        st = self.settings
        try:
            proposer = make_proposer(arm, Parts(self.model_proposer, st.candidates_per_expansion, st.enum_cap, seed,
                                                self.library, self.max_tokens))
        except ValueError as e:
            raise SolveError(str(e)) from None
        if hasattr(proposer, "attach"):       # arms that borrow from the database (dream.search.retrieval)
            proposer.attach(self.db)
        proposer.reset()
        return proposer

    @staticmethod
    def _grammar_key(library) -> tuple:
        return tuple(sorted((d.name, len(d.params)) for d in library or ()))

    def grammar(self):
        """The enumerator's grammar for this solver's library (`dream.search.topdown.fit_grammar_on`: the solutions
        corpus of the database, else the DreamCoder training programs, else its heads), fitted once."""
        from .topdown import fit_grammar_on
        key = self._grammar_key(self.library)
        if key not in self.grammars:
            self.grammars[key] = fit_grammar_on(self.db, self.library or ())
        return self.grammars[key]

    def target_grammar(self, target: Target):
        """The grammar the recognizer writes for `target` (SolveError without one, or when it was trained
        with another library)."""
        if self.recognizer is None:
            raise SolveError("the arm 'recognition' needs a recognition checkpoint (train --model recognition)")
        try:
            self.recognizer.check_library(self.library or ())
        except ValueError as e:
            raise SolveError(str(e)) from None
        return self.recognizer.grammar_for(target.image28)

    def use_grammar(self, grammar, library=None) -> None:
        """Enumerate with `grammar` whenever the library is `library` (this solver and its variants):
        `bench/library.py` fits one on the solutions and one on their library rewrites."""
        self.grammars[self._grammar_key(library)] = grammar

    def enumerate(self, target: Target, share: float = 1.0, k: int = 1, recognition: bool = False):
        """`dream.search.topdown.enumerate_for_target` under `grammar()` (with `recognition`, under the grammar
        the recognizer writes for the target, its forward pass counted in the budget) for `share` of the budget
        (the seconds and, with the count budget, the programs), keeping the `k` nearest programs."""
        from .topdown import enumerate_for_target
        st = self.settings
        t = time.monotonic()
        grammar = self.target_grammar(target) if recognition else self.grammar()
        count = None if st.max_programs is None else max(1, int(st.max_programs * share))
        return enumerate_for_target(target.image28, grammar, max(st.budget_s * share - (time.monotonic() - t), 1e-3),
                                    library=self.library or (), k=k, max_programs=count)

    def enumerated_starts(self, target: Target) -> tuple[StartSource, float]:
        """(start-program source, seconds spent): `self.starts` plus the `enumerated_starts` programs,
        enumerated for `enumerate_share` of the budget under `grammar()`, nearest the target (a solving
        program first); `self.starts` itself when `enumerated_starts` is 0."""
        st = self.settings
        if st.enumerated_starts <= 0:
            return self.starts, 0.0
        r = self.enumerate(target, st.enumerate_share, st.enumerated_starts, self.recognizer is not None)
        extra = list(dict.fromkeys(([r.best.program] if r.solved else []) + [f.program for f in r.nearest]))
        base = self.starts

        def starts(db, image, k):
            return base(db, image, k) + extra
        return starts, r.elapsed

    def solve_one(self, arm: str, target: Target, index: int = 0) -> dict:
        """Search one target with one arm for `settings.budget_s`; returns its result row (an "error" row if the
        search failed). `auto` searches with what it resolves to (`resolve`)."""
        arm = self.resolve(arm, target.kind)
        if arm in TOPDOWN_ARMS:
            return self.enumerate_one(arm, target)
        if arm in CONSTRUCT_ARMS:                  # dream.search.construct: built statement by statement
            return self.construct_one(arm, target, index)
        try:
            r, spent = self.search(arm, target, index)
        except Exception as e:  # noqa: BLE001 - one failing search must not end the others
            return error_row(target, arm, f"{type(e).__name__}: {e}")
        return result_row(target, arm, self.library, program=r.program, spent=spent, time_to_solve=r.time_to_solve,
                          elapsed=r.elapsed, distance=r.best.distance, image28=r.best.image28,
                          best_image28=r.best.image28, solved=r.solved, tokens=r.best.tokens,
                          expanded=r.n_expanded, candidates=r.n_candidates, valid=r.n_valid,
                          edit_steps=r.best.step, start_program=r.path[0].text)

    def search(self, arm: str, target: Target, index: int = 0, *, stop_on_solve: bool | None = True,
               should_stop=None) -> tuple[SearchResult, float]:
        """(search result, seconds spent enumerating starts): one edit arm's search of `target` from `self.starts`
        plus the enumerated starts, for what is left of the budget (`solve_one`'s, and `dream`'s, which keeps
        the path and re-solves database targets: `stop_on_solve=None`)."""
        expand = self.proposer(arm, seed=self.seed * 100_003 + index)
        st = self.settings
        starts, spent = self.enumerated_starts(target)
        r = run_search(expand, target, self.db, st, library=self.library, stop_on_solve=stop_on_solve,
                       should_stop=should_stop, image_size=self.image_size, starts=starts,
                       budget_s=max(st.budget_s - spent, 1e-3))
        return r, spent

    def enumerate_one(self, arm: str, target: Target) -> dict:
        """The `topdown` arm: enumerate under `grammar()` for the budget (`enumerate`); the row of `solve_one`
        for the first solving program, else the nearest one (its canonical form, scored as the search scores
        its nodes)."""
        import logo
        from logo.canonical import canonical
        from logo.images import resize
        from logo.library import SOLVE_SIZE
        from logo.syntax import count_tokens
        from .score import Scorer
        try:
            r = self.enumerate(target, recognition=arm in RECOGNITION_ARMS)
            tree = canonical(logo.parse(r.program or ""))
            sizes = (self.image_size,) if self.image_size == SOLVE_SIZE else (self.image_size, SOLVE_SIZE)
            images = logo.render_checked_sizes([tree], sizes, self.library, draw_off_canvas=True)[0]
            image, image28 = images[0][0], images[-1][0]
        except Exception as e:  # noqa: BLE001 - one failing search must not end the others
            return error_row(target, arm, f"{type(e).__name__}: {e}")
        distance = float(Scorer(resize(target.image, self.image_size)).distance(image[None])[0])
        return result_row(target, arm, self.library, program=logo.to_text(tree), time_to_solve=r.time_to_solve,
                          elapsed=r.elapsed, distance=distance, image28=image28, best_image28=image28,
                          solved=r.solved, tokens=count_tokens(tree), expanded=0, candidates=r.enumerated,
                          valid=r.distinct, edit_steps=0, start_program="", enumerated=True)

    def construct_one(self, arm: str, target: Target, index: int = 0) -> dict:
        """The `construct` arm: `dream.search.construct.construct` for `CONSTRUCT_SHARE` of the budget, then the
        `grammar` arm's search from the constructed program alone for the rest (its deletions and replacements
        shorten it; the frontier prefers shorter programs); the better of the two by IoU less a token cost
        (`construct.judge`) is the row's program."""
        from dataclasses import replace as with_
        import logo
        from logo.images import resize
        from logo.library import SOLVE_SIZE
        from . import construct as C
        from .baselines import GrammarProposer
        from .score import Scorer, solved
        st = self.settings
        t0 = time.monotonic()
        try:
            net = C.statement_net() if arm == "construct-net" else None
            c = C.construct(target.image28, st.budget_s * C.CONSTRUCT_SHARE, net=net)
            shorter = C.with_library(c.program, self.library)     # calls of the library's procedures
            texts, expanded, candidates, valid = [c.program, shorter], 0, c.candidates, c.states
            start = shorter or c.program
            rest = st.budget_s - (time.monotonic() - t0)
            if start and rest > 0.05:              # the grammar arm's edits (no model: its context does not bind)
                expand = GrammarProposer(st.candidates_per_expansion, seed=self.seed * 100_003 + index,
                                         library=self.library, max_tokens=max(self.max_tokens, C.POLISH_MAX_TOKENS))
                polish = with_(st, k=0, length_weight=max(st.length_weight, C.POLISH_LENGTH_WEIGHT))
                r = run_search(expand, target, None, polish, budget_s=rest, library=self.library,
                               stop_on_solve=True, image_size=self.image_size,
                               starts=lambda db, image, k: [start])
                texts += [r.program, C.with_library(r.program, self.library)]
                expanded, candidates, valid = r.n_expanded, candidates + r.n_candidates, valid + r.n_valid
            got = C.judge([t for t in texts if t], target.image28, C.Settings().choose_tokens, self.library)
            text = got[1] if got else ""
            image28 = got[3] if got else np.zeros((SOLVE_SIZE, SOLVE_SIZE), np.uint8)
            image = logo.render(text, size=self.image_size, library=self.library) if text else \
                np.zeros((self.image_size, self.image_size), np.uint8)
        except Exception as e:  # noqa: BLE001 - one failing search must not end the others
            return error_row(target, arm, f"{type(e).__name__}: {e}")
        elapsed = time.monotonic() - t0
        ok = bool(text) and solved(image28, target.image28)
        distance = float(Scorer(resize(target.image, self.image_size)).distance(image[None])[0])
        return result_row(target, arm, self.library, program=text, time_to_solve=elapsed if ok else None,
                          elapsed=elapsed, distance=distance, image28=image28, best_image28=image28, solved=ok,
                          tokens=got[2] if got else 0, expanded=expanded, candidates=candidates, valid=valid,
                          edit_steps=0, start_program="", constructed=c.program)

    def solve(self, targets: Sequence[Target], arm: str,
              on_row: Callable[[int, dict], None] | None = None) -> list[dict]:
        """Every target with one arm, in order; `on_row(index, row)` after each."""
        rows = []
        for i, target in enumerate(targets):
            row = self.solve_one(arm, target, i)
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
    mean IoU, program tokens (of all best programs, of the solutions), candidates proposed and evaluated
    per second, best programs that call a library procedure."""
    ok = [r for r in rows if "error" not in r]
    n_solved = sum(bool(r["solved"]) for r in ok)
    el = sum(r["elapsed"] for r in ok) or 1e-9
    return {
        "targets": len(rows), "solved": n_solved,
        "solved_by_start": sum(1 for r in ok if r["solved"] and r["edit_steps"] == 0 and not r.get("enumerated")),
        "solved_by_enumeration": sum(1 for r in ok if r["solved"] and r.get("enumerated")),
        "solved_by_edits": sum(1 for r in ok if r["solved"] and r["edit_steps"] > 0),
        "mean_iou": round(statistics.fmean(r["iou"] for r in ok), 4) if ok else None,
        "mean_tokens": round(statistics.fmean(r["tokens"] for r in ok), 2) if ok else None,
        "median_tokens": statistics.median(r["tokens"] for r in ok) if ok else None,
        "mean_tokens_solved": (round(statistics.fmean(r["tokens"] for r in ok if r["solved"]), 2)
                               if n_solved else None),
        "calls_library": sum(1 for r in ok if r.get("calls_library")),
        "mean_time_to_solve": (round(sum(r["time_to_solve"] for r in ok if r["solved"]) / n_solved, 3)
                               if n_solved else None),
        "candidates_per_s": round(sum(r["candidates"] for r in ok) / el, 1),
        "valid_per_s": round(sum(r["valid"] for r in ok) / el, 1),
        "improved_start": sum(1 for r in ok if r["edit_steps"] > 0),
        "errors": len(rows) - len(ok),
        "failed": [r["name"] for r in rows if "error" in r],
    }


def solve(targets: Sequence[Target], proposer: str = AUTO, *, ckpt=None, db=None, device: str = "cpu",
          settings: SearchSettings | None = None, seed: int = 0,
          on_row: Callable[[int, dict], None] | None = None) -> tuple[list[dict], dict]:
    """Search every target with one proposer (`auto`, or an arm of `dream.search.arms.ARMS`) for
    `settings.budget_s` each.

    `db` is a database path (start programs and library), `ckpt` a checkpoint directory (the model
    arms). Returns (result rows, summary); raises SolveError naming a bad proposer, checkpoint or database.
    """
    s = Solver.open([proposer], ckpt=ckpt, db=db, device=device, settings=settings, seed=seed)
    arm = s.resolve(proposer)
    t = time.monotonic()
    try:
        rows = s.solve(targets, arm, on_row)
    finally:
        s.close()
    summary = {"proposer": arm, "budget_s": s.settings.budget_s, **summarize(rows),
               "wall_s": round(time.monotonic() - t, 1)}
    return [public(r) for r in rows], summary
