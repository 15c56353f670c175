"""Solve requests from the query page: searches run one at a time on a worker thread, bounded in time.

A client (one remote address) may have one job queued or running; further requests get a 429 until it
ends. Jobs run in order on one thread because the model proposer is shared (one loaded checkpoint) and
the machine has few cores. The page polls `SolveJob.progress()` as JSON: elapsed time, the phase (enumerating,
constructing, searching), the construction the search started from, the best program so far, its distance and
whether it solves the target.

`search_with_progress` is the one place that speaks to `dream`'s search API.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import numpy as np

MAX_FINISHED = 64            # finished jobs kept for their pages to read


class SolveBusy(Exception):
    """The client already has a job, or the queue is full; the message says which."""


def open_solver(ckpt, device: str = "cpu"):
    """A `dream.search.solver.Solver` for the proposers this server offers (the checkpoint's with one); raises
    `dream.search.solver.SolveError` naming a bad checkpoint."""
    from dream.search.arms import AUTO
    from dream.search.solver import Solver
    return Solver.open([AUTO], ckpt=ckpt, db=None, device=device)


def offered_arms(solver) -> list[str]:
    """The proposers a user may pick, `auto` first: the users' arms the page can show round by round (the
    enumerator, `topdown`, has no rounds; `auto`'s search starts from enumerated programs and, where they do not
    solve the target, a construction: `search_with_progress`) whose checkpoint, if they need one, is loaded."""
    from dream.search.arms import AUTO, SEARCH_ARMS, USER_ARMS, checkpoint_problem
    kind = None if solver is None else solver.checkpoint_kind
    return [a for a in USER_ARMS if a == AUTO or (a in SEARCH_ARMS and not checkpoint_problem(a, kind))]


def search_with_progress(solver, arm: str, target, starts: list[str], library, image_size: int, budget_s: float,
                         on_progress, should_stop, on_phase=None):
    """Search for `target` (a `dream.search.targets.Target`) from `starts` with proposer `arm` for at most `budget_s`
    seconds, calling `on_progress(search)` before every round (and before a construction, so the page shows the
    best start while it runs); returns the `SearchResult`. `on_phase(phase, construction)` hears "enumerating",
    "constructing" and "searching" as each begins (the construction, a `dream.search.construct.Construction`, with
    "searching" when there is one).

    The page shows the search round by round, so an arm that enumerates or constructs instead of searching
    (what `auto` resolves to without a checkpoint, or for MNIST digits) searches with `grammar`'s edits, and
    `auto` starts it from the best digit search where enumeration is no good:

    * an MNIST digit (`auto` resolves to `construct`): `dream.search.construct.construct` builds a program stroke
      by stroke for `CONSTRUCT_SHARE` of the budget, and the search starts from it and `starts`;
    * any other target (an uploaded image or drawing): the enumerated programs nearest the target join `starts`
      (every arm, as `logo solve`); with `auto`, when none of them solves the target, the construction (for
      `CONSTRUCT_SHARE` of what is left) joins them too. A line figure the enumerator solves is searched as
      before.

    A cancel ends the construction too (`should_stop`). It runs the `Search` that
    `dream.search.solver.build_search` builds itself (not through `run_search`) to report the best program
    before every round; a newer checkpoint in the directory is loaded first, the library is the database's
    current one."""
    from dataclasses import replace
    from dream.search.arms import AUTO, CONSTRUCT_ARMS, SEARCH_ARMS
    from dream.search.solver import build_search
    from dream.search.workers import given_starts
    t0 = time.monotonic()
    phase = on_phase or (lambda name, construction=None: None)
    watcher = solver.watcher
    if watcher is not None and watcher.poll():       # train wrote a newer checkpoint
        solver.model_proposer = solver.settings.model_proposer(watcher, library)
    one = solver.variant(library=library, starts=given_starts(starts),
                         settings=replace(solver.settings, budget_s=budget_s))
    resolved = one.resolve(arm, target.kind)
    expand = one.proposer(resolved if resolved in SEARCH_ARMS else "grammar", seed=0)

    def build(programs):
        return build_search(expand, target, one.settings, programs, library=library, image_size=image_size)

    digit = resolved in CONSTRUCT_ARMS             # enumeration from the root cannot reach a digit's 40-80 tokens
    if digit:
        programs = one.starts(None, target.image, 0)
    else:
        phase("enumerating")
        source, _ = one.enumerated_starts(target)
        programs = source(None, target.image, 0)
    search = build(programs)
    construction = None
    if (digit or (arm == AUTO and not search.best.solved)) and not should_stop():
        on_progress(search)                        # the best start while the construction runs
        phase("constructing")
        construction = construct_for(target, budget_s - (time.monotonic() - t0), should_stop)
        if construction.program:
            search = build(programs + [construction.program])
    phase("searching", construction)

    def stop() -> bool:
        on_progress(search)
        return should_stop()
    result = search.run(max(budget_s - (search.t0 - t0), 1e-3), stop_on_solve=True, should_stop=stop)
    on_progress(search)
    return result


def construct_for(target, left_s: float, should_stop=None):
    """`dream.search.construct.construct` of `target` for `CONSTRUCT_SHARE` of the `left_s` seconds left (its
    statement banks, built once per process, inside them), ended early by `should_stop()` (a cancel)."""
    from dream.search import construct as C
    t = time.monotonic()
    C.banks()
    left_s -= time.monotonic() - t
    return C.construct(target.image28, max(left_s * C.CONSTRUCT_SHARE, 0.05), should_stop=should_stop)


@dataclass
class SolveJob:
    id: str
    client: str
    arm: str
    budget_s: float
    target: object                      # dream.search.targets.Target
    starts: list[str]
    library: tuple
    image_size: int
    status: str = "queued"              # queued, running, done, failed, cancelled
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    program: str | None = None
    tokens: int | None = None
    distance: float | None = None
    solved: bool = False
    expanded: int = 0
    candidates: int = 0
    best_image: np.ndarray | None = None
    error: str | None = None
    phase: str | None = None            # enumerating, constructing, searching (`search_with_progress`)
    constructed: dict | None = None     # the construction the search started from: its tokens and IoU
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def record(self, search) -> None:
        best = search.best
        with self.lock:
            self.program, self.tokens, self.distance = best.text, best.tokens, float(best.distance)
            self.solved, self.best_image = bool(best.solved), best.image
            self.expanded, self.candidates = search.n_expanded, search.n_candidates

    def record_phase(self, phase: str, construction=None) -> None:
        with self.lock:
            self.phase = phase
            if construction is not None and construction.program:
                self.constructed = {"tokens": int(construction.tokens), "iou": round(float(construction.iou), 3)}

    def progress(self) -> dict:
        with self.lock:
            now = time.monotonic()
            elapsed = 0.0 if self.started is None else (self.finished or now) - self.started
            return {"id": self.id, "status": self.status, "proposer": self.arm, "budget_s": self.budget_s,
                    "elapsed_s": round(elapsed, 2), "program": self.program, "tokens": self.tokens,
                    "distance": None if self.distance is None else round(self.distance, 5),
                    "solved": self.solved, "expanded": self.expanded, "candidates": self.candidates,
                    "error": self.error, "has_image": self.best_image is not None, "phase": self.phase,
                    "constructed": self.constructed}


class SolveQueue:
    """Jobs in order on one worker thread; at most one active job per client and `max_queued` in all."""

    def __init__(self, solver, max_queued: int = 8):
        self.solver = solver
        self.max_queued = max_queued
        self.jobs: OrderedDict[str, SolveJob] = OrderedDict()
        self._pending: deque[SolveJob] = deque()
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="logo-solve", daemon=True)
        self._thread.start()

    def submit(self, client: str, arm: str, budget_s: float, target, starts, library, image_size) -> SolveJob:
        with self._cv:
            mine = [j for j in self.jobs.values() if j.client == client and j.active]
            if mine:
                raise SolveBusy(f"a solve is already {mine[0].status} for this client (job {mine[0].id}); "
                                "wait for it to end or cancel it")
            if len(self._pending) >= self.max_queued:
                raise SolveBusy(f"{len(self._pending)} solves are waiting; try again when one has ended")
            job = SolveJob(secrets.token_hex(8), client, arm, float(budget_s), target, list(starts), library,
                           image_size)
            self.jobs[job.id] = job
            self._pending.append(job)
            self._forget_old()
            self._cv.notify()
            return job

    def get(self, job_id: str) -> SolveJob | None:
        with self._cv:
            return self.jobs.get(job_id)

    def cancel(self, job: SolveJob) -> None:
        job.stop.set()
        with self._cv:
            if job.status == "queued":
                self._pending.remove(job)
                job.status = "cancelled"

    def close(self) -> None:
        with self._cv:
            self._closed = True
            for job in self.jobs.values():
                job.stop.set()
            self._cv.notify_all()
        self._thread.join(timeout=10)

    def _forget_old(self) -> None:
        done = [k for k, j in self.jobs.items() if not j.active]
        for k in done[:max(0, len(done) - MAX_FINISHED)]:
            del self.jobs[k]

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                job = self._pending.popleft()
                job.status, job.started = "running", time.monotonic()
            try:
                search_with_progress(self.solver, job.arm, job.target, job.starts, job.library, job.image_size,
                                     job.budget_s, job.record, job.stop.is_set, job.record_phase)
                status = "cancelled" if job.stop.is_set() else "done"
                error = None
            except Exception as e:  # noqa: BLE001 - one failing search must not stop the queue
                status, error = "failed", f"{type(e).__name__}: {e}"
            with job.lock:
                job.status, job.error, job.finished = status, error, time.monotonic()
