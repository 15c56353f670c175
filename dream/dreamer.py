"""The dreaming process: pick a target, search (`dream.solver.run_search`, the one search entry point), put
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
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

import logo

from .search import SearchResult
from .solver import SearchSettings, run_search
from .targets import Target


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
    from model.hindsight import encode_image
    return encode_image(image)


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    return str(x)


class Dreamer:
    def __init__(self, db, watcher, sampler, log_dir: str | Path, *, budget_s: float = 10.0,
                 settings: SearchSettings | None = None, grid_every: int = 20, poll_every_s: float = 5.0, echo=print):
        self.db = db
        self.watcher = watcher
        self.sampler = sampler
        self.log_dir = Path(log_dir)
        self.log = JsonlLog(self.log_dir / "found.jsonl")
        self.budget_s = budget_s
        self.settings = settings or SearchSettings()
        self.grid_every = grid_every
        self.poll_every_s = poll_every_s
        self.echo = echo
        self.stop_requested = False
        self.n_targets = 0
        self.n_solved = 0
        self.n_inserted = 0
        self._grid: list[tuple[np.ndarray, np.ndarray, str]] = []
        self._grids_written = 0
        self._library_text = None
        self.library = None

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
        if self.watcher.poll():
            info = self.watcher.describe()
            self.log.write({"event": "checkpoint", "time": time.time(), **info})
            self.echo(f"dream: loaded checkpoint {info or ''}")

    def dream_one(self, target: Target) -> dict:
        st = self.settings
        expand = self.watcher.proposer(st.samples, st.temperatures, st.beam)
        result = run_search(expand, target, self.db, k=st.k, budget_s=self.budget_s, batch=st.batch,
                            library=self.library, should_stop=lambda: self.stop_requested,
                            image_size=self.db.image_size, length_weight=st.length_weight)
        texts = programs_to_insert(result)
        statuses = []
        if texts:
            inserted = self.db.insert_many(texts, source="dream")  # one committed transaction
            statuses = [(r.status, r.entry_id) for r in inserted]
        # committed: now (and only now) report it
        self.n_targets += 1
        self.n_solved += int(result.solved)
        self.n_inserted += sum(1 for s, _ in statuses if s in ("new", "head", "equivalent"))
        record = {"event": "target", "time": time.time(), "n": self.n_targets, "target": target.name,
                  "kind": target.kind, "checkpoint": self.watcher.describe(), **result.summary(),
                  "known_program": target.known_program, "target_image": _encode_image(target.image),
                  "inserted": [{"program": t, "status": s, "entry_id": e} for t, (s, e) in zip(texts, statuses)]}
        self.log.write(record)
        self._grid.append((target.image28, result.best.image28,
                           f"{'OK ' if result.solved else ''}{target.name}"))
        if self.grid_every and len(self._grid) >= self.grid_every:
            self.write_grid()
        return record

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

    def run(self, max_targets: int | None = None, max_seconds: float | None = None) -> dict:
        t0 = time.monotonic()
        last_poll = -1e9
        self._refresh_library()
        self.log.write({"event": "start", "time": time.time(), "pid": os.getpid(), "db_entries": len(self.db),
                        "checkpoint": self.watcher.describe()})
        while not self.stop_requested:
            if max_targets is not None and self.n_targets >= max_targets:
                break
            if max_seconds is not None and time.monotonic() - t0 >= max_seconds:
                break
            if time.monotonic() - last_poll >= self.poll_every_s:
                self._poll_checkpoint()
                self._refresh_library()
                last_poll = time.monotonic()
            target = self.sampler.next()
            if target is None:
                self.echo("dream: no targets to draw (all target kinds empty)")
                break
            rec = self.dream_one(target)
            self.echo(f"dream: {rec['n']:5d} {target.kind:5s} {target.name[:28]:28s} "
                      f"{'SOLVED' if rec['solved'] else 'd=%.3f' % rec['distance']:9s} tokens={rec['tokens']:3d} "
                      f"inserted={sum(1 for i in rec['inserted'] if i['status'] in ('new', 'head', 'equivalent'))}")
        if self._grid:
            self.write_grid()
        summary = {"event": "stop", "time": time.time(), "targets": self.n_targets, "solved": self.n_solved,
                   "inserted": self.n_inserted, "signal": self.stop_requested}
        self.log.write(summary)
        return summary
