"""Search targets: the one entry point behind `logo solve`, `dream`, `logo run`'s arms (the model and its
baseline, the library off and on) and every bench script, so the arms they compare are searched the same way.

    >>> from dream import load_targets, solve                                     # doctest: +SKIP
    >>> _, targets, _ = load_targets("dreamcoder", "test", 32, limit=10)          # doctest: +SKIP
    >>> rows, summary = solve(targets, proposer="random", db="runs/db.sqlite", budget_s=5)   # doctest: +SKIP

`run_search(expand, target, db, ...)` searches one target with one `dream.search.frontier.Proposer` from its start
programs (`start_programs`: the empty program and the heads of the k database entries nearest to the
target, or another `StartSource`). `SearchSettings` are the search's knobs and own their command-line
flags (`add_arguments`, `from_args`), so every command has the same flags with the same defaults.

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

import argparse
import statistics
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from logo.cli_errors import float_list, float_range, int_range
from logo.tokens import CONTEXT_TOKENS

from .baselines import ARMS, MODEL_ARMS, POLICY_ARMS, TOPDOWN_ARMS, candidates_per_expansion, make_proposer
from .frontier import Proposer, Search, SearchResult
from .targets import Target


class SolveError(ValueError):
    """Something given to the solver cannot be used; the message names it (and the file)."""


@dataclass(frozen=True)
class SearchSettings:
    """How each target is searched (the same for every arm); the defaults of every command's flags."""
    k: int = 8                               # database neighbours to start from
    batch: int = 8                           # nodes expanded per proposer call
    samples: int = 8                         # model: scripts per node and temperature
    temperatures: tuple[float, ...] = (1.0,)
    beam: int = 8                            # model: beam width (0 = off)
    enum_cap: int = 64                       # enum: candidates per expansion
    length_weight: float = 0.0               # frontier priority per token, next to pixel distance
    enumerated_starts: int = 8               # enumerated programs nearest the target joining the starts (0 = off)
    enumerate_share: float = 0.4             # of the budget spent enumerating them
    policy_k: int = 128                      # policy arms: edits per node (one forward pass)
    policy_eps: float = 0.1                  # policy arms: share of them that are uniform grammatical mutations

    @property
    def candidates_per_expansion(self) -> int:
        """What the model proposes per node; the random arms get as many."""
        return candidates_per_expansion(self.samples, self.temperatures, self.beam)

    def model_proposer(self, watcher, library=()):
        """The checkpoint's proposer under these settings (every command makes it here, so none forgets a
        flag): `dream.search.proposer.CheckpointWatcher.proposer`."""
        return watcher.proposer(self.samples, self.temperatures, self.beam, policy_k=self.policy_k,
                                policy_eps=self.policy_eps, library=library or ())

    def to_dict(self) -> dict:
        return {"k": self.k, "batch": self.batch, "samples": self.samples, "temperatures": list(self.temperatures),
                "beam": self.beam, "enum_cap": self.enum_cap, "length_weight": self.length_weight,
                "enumerated_starts": self.enumerated_starts, "enumerate_share": self.enumerate_share,
                "policy_k": self.policy_k, "policy_eps": self.policy_eps}

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, enum: bool = True) -> None:
        """The search flags (--k, --batch, --samples, --temperatures, --beam, --length-weight and, with
        `enum`, --enum-cap, --enumerated-starts, --enumerate-share), range-checked, with these defaults;
        `from_args` reads them back. `dream` (the model alone) has no enum flags."""
        d = cls()
        parser.add_argument("--k", type=int_range(0, 10_000), default=d.k,
                            help="database neighbours to start from (default %(default)s)")
        parser.add_argument("--batch", type=int_range(1, 100_000), default=d.batch,
                            help="nodes expanded per proposer call (default %(default)s)")
        parser.add_argument("--samples", type=int_range(1, 100_000), default=d.samples,
                            help="model: edit scripts sampled per node and temperature (default %(default)s)")
        parser.add_argument("--temperatures", type=float_list(0, lo_open=True),
                            default=",".join(str(t) for t in d.temperatures),
                            help="model: comma-separated sampling temperatures (default %(default)s)")
        parser.add_argument("--beam", type=int_range(0, 100_000), default=d.beam,
                            help="model: also take the N best scripts of a beam search (default %(default)s; 0 = off)")
        if enum:
            parser.add_argument("--enum-cap", type=int_range(1, 1_000_000), default=d.enum_cap,
                                help="enum arms: candidates per expansion (default %(default)s)")
        parser.add_argument("--length-weight", type=float_range(0), default=d.length_weight,
                            help="frontier priority per program token, added to the pixel distance "
                            "(default %(default)s; 0 = distance alone)")
        if enum:
            parser.add_argument("--enumerated-starts", type=int_range(0, 10_000), default=d.enumerated_starts,
                                help="edit arms: the N programs enumerated under the fitted grammar nearest the "
                                "target join the start programs (default %(default)s; 0 = off)")
            parser.add_argument("--enumerate-share", type=float_range(0, 0.95, lo_open=True),
                                default=d.enumerate_share,
                                help="with --enumerated-starts: the share of each target's budget spent "
                                "enumerating (default %(default)s)")
        parser.add_argument("--policy-k", type=int_range(1, 100_000), default=d.policy_k,
                            help="policy checkpoints: edits per node from one forward pass (default %(default)s)")
        parser.add_argument("--policy-eps", type=float_range(0, 1), default=d.policy_eps,
                            help="policy checkpoints: share of each node's edits that are uniform grammatical "
                                 "mutations (default %(default)s)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "SearchSettings":
        """The settings the flags of `add_arguments` gave (a parser without --enum-cap keeps its default)."""
        given = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        if "temperatures" in given:
            given["temperatures"] = tuple(given["temperatures"])
        return cls(**given)

    def to_argv(self, enum: bool = True) -> list[str]:
        """These settings as the flags of `add_arguments`, for a child command (`logo run` starts them)."""
        argv = ["--k", str(self.k), "--batch", str(self.batch), "--samples", str(self.samples),
                "--temperatures", ",".join(str(t) for t in self.temperatures), "--beam", str(self.beam),
                "--length-weight", repr(self.length_weight), "--policy-k", str(self.policy_k),
                "--policy-eps", str(self.policy_eps)]
        return argv + (["--enum-cap", str(self.enum_cap), "--enumerated-starts", str(self.enumerated_starts),
                        "--enumerate-share", repr(self.enumerate_share)] if enum else [])


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


def run_search(expand: Proposer, target: Target, db=None, *, k: int = SearchSettings.k,
               budget_s: float = 10.0, batch: int = SearchSettings.batch, library=None,
               stop_on_solve: bool | None = None, should_stop=None, image_size=None,
               starts: StartSource = start_programs, length_weight: float = SearchSettings.length_weight
               ) -> SearchResult:
    """Search for one target from `starts(db, target.image, k)` (by default the empty program and the k
    nearest database entries): the one search entry point (`Solver.solve_one` and `dream`'s loop).

    Database targets are re-solved looking for a shorter program, so they do not stop at the first
    solution (their own head is among the starts); other targets stop at the first exact solution.
    """
    if stop_on_solve is None:
        stop_on_solve = target.kind != "db"
    s = Search(expand, target.image, target.image28, image_size=image_size or target.image.shape[0],
               library=library, starts=starts(db, target.image, k), batch=batch, length_weight=length_weight)
    return s.run(budget_s, stop_on_solve=stop_on_solve, should_stop=should_stop)


def calls_procedure(text: str, names) -> bool:
    """Whether a program's text calls one of the procedures `names`."""
    toks = text.replace("(", " ( ").split()
    return any(a == "(" and b in names for a, b in zip(toks, toks[1:]))


def check_arms(arms: Sequence[str]) -> list[str]:
    """The arm names, checked against `dream.search.baselines.ARMS`."""
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

    @classmethod
    def open(cls, arms: Sequence[str] = ("model",), *, ckpt=None, db=None, device: str = "cpu",
             settings: SearchSettings | None = None, seed: int = 0, check_names: bool = True) -> "Solver":
        """Check the arms, open the database (a path) and load the checkpoint (needed by the model arms);
        raises SolveError naming what is wrong. `check_names=False` accepts a checkpoint that does not know
        every procedure of the database's library (it reads their names as unknown tokens)."""
        arms = check_arms(arms)
        settings = settings or SearchSettings()
        s = cls(settings=settings, seed=seed)
        if db is not None:
            s.db_path = str(db)
            s.db, s.library = open_database(db)
            s.image_size = s.db.image_size
        if any(a in MODEL_ARMS for a in arms):
            if not ckpt:
                s.close()
                raise SolveError(f"the proposer {', '.join(a for a in arms if a in MODEL_ARMS)} needs --ckpt "
                                 "(a checkpoint directory)")
            try:
                s.load_model(ckpt, device, check_names)
                policy = [a for a in arms if a in POLICY_ARMS]
                if policy and s.watcher.kind != "policy":
                    raise SolveError(f"the proposer {', '.join(policy)} needs a policy checkpoint "
                                     f"(train --model policy); {ckpt} holds an edit model")
                if "model-unmasked" in arms and s.watcher.kind == "policy":
                    raise SolveError("the proposer model-unmasked needs an edit model's checkpoint "
                                     f"(train --model edit); {ckpt} holds a policy")
            except SolveError:
                s.close()
                raise
        return s

    def load_model(self, ckpt, device: str = "cpu", check_names: bool = True) -> None:
        """(Re)load the newest checkpoint of `ckpt` as the model arm's proposer."""
        watcher = load_checkpoint(ckpt, device)
        if self.db is not None and check_names:
            check_vocabulary(watcher.tokenizer, self.library, ckpt, self.db_path)
        self.watcher = watcher
        st = self.settings
        self.model_proposer = st.model_proposer(watcher, self.library)
        if self.db is None:
            self.image_size = watcher.model.config.image_size
        elif watcher.model.config.image_size != self.image_size:
            raise SolveError(f"checkpoint {ckpt} was trained on {watcher.model.config.image_size}px images, "
                             f"but database {self.db_path} holds {self.image_size}px images")

    @property
    def max_tokens(self) -> int:
        """The model's context (from its checkpoint), or `CONTEXT_TOKENS` without a model: every arm's limit."""
        return self.model_proposer.max_tokens if self.model_proposer is not None else CONTEXT_TOKENS

    def checkpoint_meta(self) -> dict:
        return self.watcher.describe() if self.watcher is not None else {}

    def variant(self, *, library=None, starts: StartSource = start_programs) -> "Solver":
        """This solver with another library (for the proposer and the search) and start-program source,
        sharing the database, model, settings and seed: close the original, not the variant."""
        return replace(self, library=library, starts=starts)

    def proposer(self, arm: str, seed: int = 0) -> Proposer:
        """A proposer for one target: a fresh one, or the shared model proposer `reset()`."""
        check_arms([arm])
        if arm in MODEL_ARMS and self.model_proposer is None:
            raise SolveError(f"the proposer {arm} needs --ckpt (a checkpoint directory)")
        st = self.settings
        proposer = make_proposer(arm, self.model_proposer, n=st.candidates_per_expansion, cap=st.enum_cap, seed=seed,
                                 library=self.library, max_tokens=self.max_tokens)
        if hasattr(proposer, "attach"):       # arms that borrow from the database (dream.search.policy)
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

    def use_grammar(self, grammar, library=None) -> None:
        """Enumerate with `grammar` whenever the library is `library` (this solver and its variants):
        `bench/library.py` fits one on the solutions and one on their library rewrites."""
        self.grammars[self._grammar_key(library)] = grammar

    def enumerated_starts(self, target: Target, budget_s: float) -> tuple[StartSource, float]:
        """(start-program source, seconds spent): `self.starts` plus the `enumerated_starts` programs,
        enumerated for `budget_s` x `enumerate_share` under `grammar()`, nearest the target (a solving
        program first); `self.starts` itself when `enumerated_starts` is 0."""
        st = self.settings
        if st.enumerated_starts <= 0:
            return self.starts, 0.0
        from .topdown import enumerate_for_target
        r = enumerate_for_target(target.image28, self.grammar(), budget_s * st.enumerate_share,
                                 library=self.library or (), k=st.enumerated_starts)
        extra = list(dict.fromkeys(([r.best.program] if r.solved else []) + [f.program for f in r.nearest]))
        base = self.starts

        def starts(db, image, k):
            return base(db, image, k) + extra
        return starts, r.elapsed

    def solve_one(self, arm: str, target: Target, budget_s: float, index: int = 0) -> dict:
        """Search one target with one arm; returns its result row (an "error" row if the search failed)."""
        from dream.search.score import iou
        if arm in TOPDOWN_ARMS:
            return self.enumerate_one(arm, target, budget_s)
        expand = self.proposer(arm, seed=self.seed * 100_003 + index)
        st = self.settings
        try:
            starts, spent = self.enumerated_starts(target, budget_s)
            r = run_search(expand, target, self.db, k=st.k, budget_s=max(budget_s - spent, 1e-3), batch=st.batch,
                           library=self.library, stop_on_solve=True, image_size=self.image_size, starts=starts,
                           length_weight=st.length_weight)
        except Exception as e:  # noqa: BLE001 - one failing search must not end the others
            return {"name": target.name, "kind": target.kind, "arm": arm, "error": f"{type(e).__name__}: {e}",
                    "solved": False}
        names = {d.name for d in self.library or ()}
        row = {"name": target.name, "kind": target.kind, "arm": arm, "solved": r.solved, "program": r.program,
               "tokens": r.best.tokens, "calls_library": bool(names) and calls_procedure(r.program, names),
               "time_to_solve": None if r.time_to_solve is None else round(spent + r.time_to_solve, 3),
               "elapsed": round(spent + r.elapsed, 3), "distance": round(r.best.distance, 5),
               "iou": round(float(iou(r.best.image28, target.image28)), 4), "expanded": r.n_expanded,
               "candidates": r.n_candidates, "valid": r.n_valid, "edit_steps": r.best.step,
               "start_program": r.path[0].text, **target.extra}
        if target.known_program:
            row["reference_program"] = target.known_program
        row["_image28"] = r.best.image28           # for contact sheets; `public` drops it
        return row

    def enumerate_one(self, arm: str, target: Target, budget_s: float) -> dict:
        """The `topdown` arm: enumerate under `grammar()` for the budget (`dream.search.topdown.enumerate_for_target`);
        the row of `solve_one` for the first solving program, else the nearest one (its canonical form,
        scored as the search scores its nodes)."""
        import logo
        from logo.canonical import canonical
        from logo.images import resize
        from logo.library import SOLVE_SIZE
        from logo.syntax import count_tokens
        from dream.search.score import Scorer, iou
        from .topdown import enumerate_for_target
        try:
            r = enumerate_for_target(target.image28, self.grammar(), budget_s, library=self.library or (), k=1)
            tree = canonical(logo.parse(r.program or ""))
            sizes = (self.image_size,) if self.image_size == SOLVE_SIZE else (self.image_size, SOLVE_SIZE)
            images = logo.render_checked_sizes([tree], sizes, self.library, draw_off_canvas=True)[0]
            image, image28 = images[0][0], images[-1][0]
        except Exception as e:  # noqa: BLE001 - one failing search must not end the others
            return {"name": target.name, "kind": target.kind, "arm": arm, "error": f"{type(e).__name__}: {e}",
                    "solved": False}
        text = logo.to_text(tree)
        names = {d.name for d in self.library or ()}
        distance = float(Scorer(resize(target.image, self.image_size)).distance(image[None])[0])
        row = {"name": target.name, "kind": target.kind, "arm": arm, "solved": r.solved, "program": text,
               "tokens": count_tokens(tree), "calls_library": bool(names) and calls_procedure(text, names),
               "time_to_solve": None if r.time_to_solve is None else round(r.time_to_solve, 3),
               "elapsed": round(r.elapsed, 3), "distance": round(distance, 5),
               "iou": round(float(iou(image28, target.image28)), 4), "expanded": 0,
               "candidates": r.enumerated, "valid": r.distinct, "edit_steps": 0, "start_program": "",
               "enumerated": True, **target.extra}
        if target.known_program:
            row["reference_program"] = target.known_program
        row["_image28"] = image28          # for contact sheets; `public` drops it
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


def solve(targets: Sequence[Target], proposer: str = "model", *, ckpt=None, db=None, budget_s: float = 10.0,
          device: str = "cpu", settings: SearchSettings | None = None, seed: int = 0,
          on_row: Callable[[int, dict], None] | None = None) -> tuple[list[dict], dict]:
    """Search every target with one proposer (one of `dream.search.baselines.ARMS`: "model", "random", "none",
    "enum", "grammar", "model+enum", "model+grammar"; or "topdown", the enumerator).

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
