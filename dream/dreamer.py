"""The dreaming process: pick a target, search (`dream.search.solver.run_search`, the one search entry point), put
what was found into the database, log it.

Insert rule (the seed's, enforced by `data.db.Database.insert`): a program whose image is new enters as a
new entry; one that draws a stored image with fewer tokens becomes the head of its equivalents. The
dreamer offers the database every program on the search path from the start program to the best
program found (the intermediate programs included, so `train` learns from what actually happened),
in path order, in one transaction, with source="dream". Start programs (the empty program and the
database neighbours) are not offered again. `train --hindsight LOG/found.jsonl` turns the logged paths
(start -> ... -> best) into training pairs (`model.hindsight`).

Durability: a JSONL record is written (and fsync'ed) only after the insert transaction committed, so a
dreamer killed at any moment loses nothing it has reported as inserted. Log (LOG/found.jsonl), one JSON object a line, by "event": "start" (pid, database size, checkpoint),
"checkpoint" (a newer checkpoint was loaded: step, path), "target" (target name and kind, solved,
program, distance, tokens, time_to_solve, elapsed, expanded, candidates, path, known_program,
checkpoint, target_image (zlib+base64, `model.hindsight.encode_image`) and "inserted": [{program, status,
entry_id}]), "stop" (counts; signal = stopped by a
signal). SIGINT/SIGTERM set a flag:
the current search stops at its next round, its results are inserted and logged, and `run` returns.

Workers (`dream --workers N`, `--ray`; `dream.search.executor`): the searches run in N worker processes
(`DreamJob`: each follows the checkpoint directory itself), the dreamer keeps `workers` targets in flight
and stays the one writer: it picks the targets, computes their start programs from the database, and
inserts what comes back in batches (everything that finished together, one transaction), then logs each
record. Inserting is idempotent (a program the database holds is a "duplicate", nothing changes), and a
target is committed once (`task`: its sequence number), so a search Ray ran twice is never inserted twice;
a worker killed mid-search loses only that target, which is searched again or logged as an "error" event.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import logo

from .search.executor import Executor, Inline, Outcome, stop_requested
from .search.frontier import SearchResult
from .search.arms import AUTO, MODEL_ARMS, resolve_auto
from .search.settings import SearchSettings
from .search.solver import Solver, grammar_fits_library, run_search
from .search.targets import Target
from .search.workers import given_starts, start_texts


def programs_to_insert(result: SearchResult) -> list[str]:
    """The path from (not including) the start program to the best program."""
    return [n.text for n in result.path if n.parent is not None]


class JsonlLog:
    """Append-only JSON-lines log; every record is flushed and fsync'ed before `write` returns."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._f.write(json.dumps(record, default=_json_default) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


def _encode_image(image):
    from model.edit.hindsight import encode_image
    return encode_image(image)


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    return str(x)


@dataclass(frozen=True)
class DreamItem:
    """One target for a searcher, with the library and (from a driver with the database) its start programs;
    `starts` None: the searcher takes them from its own database (`--workers 1`)."""
    seq: int
    target: Target
    library: tuple | None = None
    starts: tuple[str, ...] | None = None


@dataclass
class Found:
    """What a searcher returns for one target: the programs to insert and what to log."""
    texts: list[str]            # the search path after the start program (`programs_to_insert`)
    summary: dict               # `SearchResult.summary()`
    best_image28: np.ndarray
    checkpoint: dict            # the checkpoint that searched (its step, path)
    attempts: int = 1           # searches it took (more than 1: a worker died searching it)


class DreamSearch:
    """Searches one target with the newest checkpoint: the dreamer's own (`--workers 1`, sharing its watcher
    and database) or a worker's (`DreamJob`: it follows the checkpoint directory itself).

    `arm`: "model" (the checkpoint's edit proposer alone, from the database neighbours: the search before
    issue 30), "auto" (`dream.search.arms.resolve_auto` of the loaded checkpoint's kind: the enumerator
    without one, the edit arm refining enumerated starts with one) or any other arm of
    `dream.search.arms.ARMS` (run by a `dream.search.solver.Solver`). `grammar`: the enumerator's
    grammar (`logo run` passes the round's), used while the library is the one it was fitted with; else
    one is fitted on the database's solutions (`Solver.grammar`)."""

    def __init__(self, watcher, settings: SearchSettings, image_size: int, db=None,
                 follow: bool = False, should_stop=None, arm: str = "model", grammar=None):
        self.watcher = watcher
        self.settings = settings
        self.image_size = image_size
        self.db = db
        self.follow = follow
        self.should_stop = should_stop
        self.arm = arm
        self.grammar = grammar
        self._grammars: dict = {}           # the enumerator's grammars by library, fitted once (`Solver.grammars`)

    def resolved_arm(self, library=(), target_kind: str | None = None) -> str:
        """The arm this search uses now: `auto` resolves by the loaded checkpoint's kind, and falls back to the
        enumerator while a checkpoint cannot search with `library` (a recognition model trained with another
        library: `logo run`'s train catches up with a new library during the wake)."""
        if self.arm != AUTO:
            return self.arm
        loaded = self.watcher is not None and self.watcher.loaded
        if loaded and hasattr(self.watcher.model, "check_library"):
            try:
                self.watcher.model.check_library(tuple(library or ()))
            except ValueError:
                return resolve_auto(None, target_kind)
        return resolve_auto(self.watcher.kind if loaded else None, target_kind)

    def solver(self, library, arm: str) -> Solver:
        """A `Solver` over this searcher's database, checkpoint and grammar for `arm`, for one target's `library`."""
        lib = tuple(library or ())
        loaded = self.watcher is not None and self.watcher.loaded
        solver = Solver(settings=self.settings, db=self.db, library=lib, watcher=self.watcher if loaded else None,
                        model_proposer=self.settings.model_proposer(self.watcher, lib)
                        if loaded and arm in MODEL_ARMS else None,
                        image_size=self.image_size, grammars=self._grammars)
        if loaded and self.watcher.kind == "recognition":
            solver.recognizer = self.watcher.model          # (a recognition checkpoint loads as its Recognizer)
        if self.grammar is not None and grammar_fits_library(self.grammar, lib):
            solver.use_grammar(self.grammar, lib)
        return solver

    def __call__(self, item: DreamItem) -> Found:
        if self.follow and self.watcher is not None:
            self.watcher.poll()                 # at most every poll interval
        st = self.settings
        arm = self.resolved_arm(item.library, item.target.kind)
        kw = {} if item.starts is None else {"starts": given_starts(item.starts)}
        if arm in MODEL_ARMS:
            if arm == "model" and self.arm != AUTO:             # the model alone, as before
                result, spent = run_search(st.model_proposer(self.watcher, item.library), item.target, self.db, st,
                                           library=item.library, should_stop=self.should_stop,
                                           image_size=self.image_size, **kw), 0.0
            else:                                # the edit arm refining enumerated start programs
                solver = self.solver(item.library, arm)
                solver.starts = kw.get("starts", solver.starts)
                result, spent = solver.search(arm, item.target, stop_on_solve=None, should_stop=self.should_stop)
            summary = result.summary()
            if spent:
                summary["elapsed"] = round(summary["elapsed"] + spent, 3)
                summary["enumerated_s"] = round(spent, 3)
            return Found(programs_to_insert(result), dict(summary, arm=arm), result.best.image28,
                         self.watcher.describe())
        return self._solve_with(arm, item)

    def _solve_with(self, arm: str, item: DreamItem) -> Found:
        """A model-free or enumerating arm (`topdown`, `recognition`, `grammar`, ...) through `Solver.solve_one`:
        what it found is one program (no search path), inserted when it differs from the start program."""
        solver = self.solver(item.library, arm)
        row = solver.solve_one(arm, item.target)
        if "error" in row:
            raise RuntimeError(f"{arm} search of {item.target.name} failed: {row['error']}")
        program = row["program"] or ""
        summary = {"program": program, "solved": bool(row["solved"]), "distance": row["distance"],
                   "tokens": row["tokens"], "time_to_solve": row["time_to_solve"], "elapsed": row["elapsed"],
                   "expanded": row["expanded"], "candidates": row["candidates"], "valid": row["valid"],
                   "path": [row.get("start_program", ""), program], "arm": arm}
        texts = [program] if program and program != row.get("start_program") else []
        return Found(texts, summary, row["_image28"], self.watcher.describe() if self.watcher is not None else {})


@dataclass(frozen=True)
class DreamJob:
    """What a dream worker builds once: its own watcher over the checkpoint directory (picklable; `ckpt`
    None: a model-free dream), the arm and the enumerator's grammar (JSON text, or None)."""
    ckpt: str | None
    device: str
    settings: SearchSettings
    image_size: int
    poll_every_s: float = 5.0
    threads: int = 1
    arm: str = "model"
    grammar_json: str | None = None

    def key(self) -> str:
        return repr(self)

    def build(self) -> DreamSearch:
        import torch
        from .search.proposer import CheckpointWatcher
        torch.set_num_threads(self.threads)
        watcher = None
        if self.ckpt is not None:
            watcher = CheckpointWatcher(self.ckpt, self.device, min_interval_s=self.poll_every_s)
            if self.arm == AUTO:
                watcher.poll(force=True)        # none yet: the enumerator searches until one appears
            else:
                watcher.require()
        grammar = None
        if self.grammar_json is not None:
            from logo.pcfg import Grammar
            grammar = Grammar.from_json(json.loads(self.grammar_json))
        return DreamSearch(watcher, self.settings, self.image_size, follow=True,
                           should_stop=stop_requested, arm=self.arm, grammar=grammar)


class Dreamer:
    def __init__(self, db, watcher, sampler, log_dir: str | Path, *,
                 settings: SearchSettings | None = None, grid_every: int = 20, poll_every_s: float = 5.0, echo=print,
                 executor: Executor | None = None, threads: int = 1, arm: str = "model", grammar=None):
        self.db = db
        self.watcher = watcher
        self.sampler = sampler
        self.log_dir = Path(log_dir)
        self.log = JsonlLog(self.log_dir / "found.jsonl")
        self.settings = settings or SearchSettings()
        self.grid_every = grid_every
        self.poll_every_s = poll_every_s
        self.echo = echo
        self.executor = executor if executor is not None else Inline()
        self.threads = threads
        self.stop_requested = False
        self.n_targets = 0
        self.n_solved = 0
        self.n_inserted = 0
        self.n_failed = 0
        self.n_submitted = 0
        self._committed: set[int] = set()
        self._started = False
        self._grid: list[tuple[np.ndarray, np.ndarray, str]] = []
        self._grids_written = 0
        self._library_text = None
        self.library = None
        # this process's searcher: `--workers 1`, and `dream_one`
        self.searcher = DreamSearch(watcher, self.settings, db.image_size, db=db,
                                    should_stop=lambda: self.stop_requested, arm=arm, grammar=grammar)

    def request_stop(self, *_args) -> None:
        self.stop_requested = True

    def _refresh_library(self) -> None:
        try:
            text = self.db.library_text()
        except AttributeError:
            text = None
        if text != self._library_text:
            self._library_text = text
            self.library = logo.parse_library(text)
            self.sampler.library = self.library

    def _poll_checkpoint(self) -> None:
        if self.watcher is not None and self.watcher.poll():
            info = self.watcher.describe()
            self.log.write({"event": "checkpoint", "time": time.time(), **info})
            self.echo(f"dream: loaded checkpoint {info or ''}")

    def item(self, target: Target, seq: int | None = None) -> DreamItem:
        """The target as a searcher's item; a worker without the database gets its start programs."""
        seq = self.n_submitted if seq is None else seq
        if isinstance(self.executor, Inline):
            return DreamItem(seq, target, self.library)
        return DreamItem(seq, target, self.library, start_texts(self.db, target, self.settings.k))

    def dream_one(self, target: Target) -> dict:
        """Search one target in this process, insert and log what was found; its "target" record."""
        item = self.item(target)
        self.n_submitted += 1
        return self.commit([(item, self.searcher(item))])[0]

    def commit(self, batch: list[tuple[DreamItem, Found]]) -> list[dict]:
        """Insert what these searches found, in one transaction, then log one record per target (in order).
        A target already committed (the same `seq`) is skipped: a search that came back twice is logged once."""
        batch = [(item, found) for item, found in batch if item.seq not in self._committed]
        texts = [t for _, found in batch for t in found.texts]
        inserted = self.db.insert_many(texts, source="dream") if texts else []   # one committed transaction
        # committed: now (and only now) report it
        records, at = [], 0
        for item, found in batch:
            statuses = [(r.status, r.entry_id) for r in inserted[at:at + len(found.texts)]]
            at += len(found.texts)
            self._committed.add(item.seq)
            records.append(self._record(item, found, statuses))
        return records

    def _record(self, item: DreamItem, found: Found, statuses) -> dict:
        target, summary = item.target, found.summary
        self.n_targets += 1
        self.n_solved += int(summary["solved"])
        self.n_inserted += sum(1 for s, _ in statuses if s in ("new", "head", "equivalent"))
        record = {"event": "target", "time": time.time(), "n": self.n_targets, "task": item.seq,
                  "target": target.name, "kind": target.kind, "checkpoint": found.checkpoint, **summary,
                  "known_program": target.known_program, "target_image": _encode_image(target.image),
                  "inserted": [{"program": t, "status": s, "entry_id": e} for t, (s, e) in zip(found.texts, statuses)]}
        if found.attempts > 1:
            record["attempts"] = found.attempts
        self.log.write(record)
        self._grid.append((target.image28, found.best_image28, f"{'OK ' if summary['solved'] else ''}{target.name}"))
        if self.grid_every and len(self._grid) >= self.grid_every:
            self.write_grid()
        return record

    def _failed(self, item: DreamItem, outcome: Outcome) -> None:
        """A target whose search never came back (its worker died every time): logged, nothing inserted."""
        self.n_failed += 1
        self._committed.add(item.seq)
        self.log.write({"event": "error", "time": time.time(), "task": item.seq, "target": item.target.name,
                        "kind": item.target.kind, "error": outcome.error, "attempts": outcome.attempts})
        self.echo(f"dream: {item.target.name}: search failed: {outcome.error}")

    def write_grid(self) -> Path | None:
        if not self._grid:
            return None
        from logo.pictures import save_sheet
        images, labels = [], []
        for tgt, best, name in self._grid:
            images += [tgt, best]
            labels += [name, "found"]
        self._grids_written += 1
        path = save_sheet(images, self.log_dir / f"grid_{self._grids_written:05d}.png", labels, columns=10, scale=3)
        save_sheet(images, self.log_dir / "grid_latest.png", labels, columns=10, scale=3)
        self._grid = []
        return path

    def _job(self) -> DreamJob:
        grammar = self.searcher.grammar
        return DreamJob(None if self.watcher is None else str(Path(self.watcher.directory).resolve()),
                        "cpu" if self.watcher is None else self.watcher.device, self.settings,
                        self.db.image_size, self.poll_every_s, self.threads, self.searcher.arm,
                        None if grammar is None else json.dumps(grammar.to_json(), sort_keys=True))

    def start_workers(self) -> None:
        """Start the executor's workers (once; `run` does it when nobody did)."""
        if not self._started:
            self.executor.start(self._job(), local=self.searcher)
            self._started = True

    def run(self, max_targets: int | None = None, max_seconds: float | None = None) -> dict:
        """Dream until `max_targets` targets were searched, `max_seconds` passed or a stop was requested,
        with `executor`'s workers (this process by default); every search that started is committed."""
        self.start_workers()
        t0 = time.monotonic()
        last_poll = -1e9
        self._refresh_library()
        self.log.write({"event": "start", "time": time.time(), "pid": os.getpid(), "db_entries": len(self.db),
                        "checkpoint": {} if self.watcher is None else self.watcher.describe(),
                        "arm": self.searcher.arm, "workers": self.executor.describe()})
        ex = self.executor
        items: dict[int, DreamItem] = {}
        submitting, interrupted = True, False
        while True:
            if self.stop_requested and not interrupted:
                ex.interrupt()                      # searches in flight end at their next round
                interrupted = True
            submitting = submitting and not self.stop_requested and \
                (max_seconds is None or time.monotonic() - t0 < max_seconds)
            while submitting and ex.free and (max_targets is None or
                                              self.n_targets + self.n_failed + ex.pending < max_targets):
                if time.monotonic() - last_poll >= self.poll_every_s:
                    self._poll_checkpoint()
                    self._refresh_library()
                    last_poll = time.monotonic()
                target = self.sampler.next()
                if target is None:
                    self.echo("dream: no targets to draw (all target kinds empty)")
                    submitting = False
                    break
                item = self.item(target)
                items[item.seq] = item
                ex.submit(item.seq, item)
                self.n_submitted += 1
            if not ex.pending:
                break
            outcomes = ex.wait(timeout=0.5)
            good = []
            for o in outcomes:
                if o.ok:
                    o.value.attempts = o.attempts
                    good.append((items[o.key], o.value))
            for o in outcomes:
                if not o.ok:
                    self._failed(items[o.key], o)
            for rec in self.commit(good):
                self.echo(f"dream: {rec['n']:5d} {rec['kind']:5s} {rec['target'][:28]:28s} "
                          f"{'SOLVED' if rec['solved'] else 'd=%.3f' % rec['distance']:9s} tokens={rec['tokens']:3d} "
                          f"inserted={sum(1 for i in rec['inserted'] if i['status'] in ('new', 'head', 'equivalent'))}")
            for o in outcomes:
                items.pop(o.key, None)
        if self._grid:
            self.write_grid()
        summary = {"event": "stop", "time": time.time(), "targets": self.n_targets, "solved": self.n_solved,
                   "inserted": self.n_inserted, "failed": self.n_failed, "signal": self.stop_requested}
        self.log.write(summary)
        return summary
