"""Best-first search over programs whose steps are model-proposed edit sequences.

The search is separate from the model: it takes an `expand` callable

    expand(images_a uint8 (B, S, S), images_b uint8 (B, S, S), programs_a list[str]) -> list[list[str]]

that returns, for each (current image, target image, current program), candidate program texts (the
model's edit scripts already applied; `dream.proposer.ModelProposer` builds one from a checkpoint).
Every arm of the search (`dream.baselines.ARMS`) is a `Proposer`: such a callable with a `max_tokens`
(nodes longer than that are scored but not expanded) and `reset()` (forget what it kept about the last
target). A plain callable works too (tests); the search then expands nodes up to its own `max_tokens`.

Algorithm. The frontier starts with the given start programs (the empty program and the database
entries nearest to the target). Each round pops the `batch` best nodes (lowest graded distance, then
fewest tokens, with a small penalty per earlier expansion so a node that keeps producing nothing new
sinks), asks `expand` for candidates, parses, de-duplicates (canonical text), runs every new candidate
under the interpreter's limits (`logo.render_checked`: programs that fail or exceed a limit are
dropped; empty and off-canvas drawings are kept), scores it against the target and pushes it. It stops when the time budget or the
node limit is spent, or at the first exact solution when `stop_on_solve`; otherwise it keeps looking for
a shorter solution. Scores are in `dream.score`: solved = exact match at 28x28, graded distance =
blurred L2 at the model's image size, length = number of tokens.
"""
from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

import logo
from logo.errors import LogoError
from logo.images import resize
from logo.library import SOLVE_SIZE
from logo.tokens import n_tokens  # re-exported: callers and tests import it from here

from .score import Scorer, solved_batch

Expand = Callable[[np.ndarray, np.ndarray, list], list]


@runtime_checkable
class Proposer(Protocol):
    """What every arm of the search implements (`dream.baselines`, `dream.proposer.ModelProposer`)."""

    #: programs longer than this (tokens) are scored but not expanded: a model cannot read them
    max_tokens: int

    def __call__(self, images_a: np.ndarray, images_b: np.ndarray, programs_a: Sequence[str]) -> list[list[str]]:
        """Candidate program texts for each (current image, target image, current program)."""
        ...

    def reset(self) -> None:
        """Forget per-target state (a memo of what was proposed), before searching another target."""
        ...


def _canonicalizer():
    """Programs are compared in canonical form (`logo.canonical`: loop variables renamed, commutative
    operands ordered), the form the model reads and writes."""
    from logo.canonical import canonical
    return lambda p: logo.to_text(canonical(p))


@dataclass
class Node:
    text: str                 # canonical program text
    tokens: int
    distance: float           # graded distance at the model's size
    solved: bool              # exact match at 28x28
    image: np.ndarray         # (S, S) uint8
    image28: np.ndarray       # (28, 28) uint8
    parent: "Node | None" = None
    step: int = 0             # number of expansions from a start program
    expansions: int = 0
    found_at: float = 0.0     # seconds after the search started

    def key(self) -> tuple:
        """Lower is better: solved first (then shortest), otherwise closest then shortest."""
        return (0, 0.0, self.tokens) if self.solved else (1, self.distance, self.tokens)

    def path(self) -> list["Node"]:
        out, n = [], self
        while n is not None:
            out.append(n)
            n = n.parent
        return out[::-1]


@dataclass
class SearchResult:
    best: Node
    solved: bool
    time_to_solve: float | None   # seconds until the first exact solution, None if unsolved
    elapsed: float
    n_expanded: int               # nodes expanded
    n_candidates: int             # candidate programs proposed
    n_valid: int                  # distinct candidates that ran within the limits
    path: list[Node] = field(default_factory=list)   # start program -> ... -> best
    start_texts: list[str] = field(default_factory=list)

    @property
    def program(self) -> str:
        return self.best.text

    def summary(self) -> dict:
        return {"program": self.best.text, "solved": self.solved, "distance": round(self.best.distance, 5),
                "tokens": self.best.tokens, "time_to_solve": self.time_to_solve,
                "elapsed": round(self.elapsed, 3), "expanded": self.n_expanded,
                "candidates": self.n_candidates, "valid": self.n_valid,
                "path": [n.text for n in self.path]}


class Search:
    """One search for one target. `run()` returns a `SearchResult`."""

    def __init__(self, expand: Expand, target: np.ndarray, target28: np.ndarray | None = None, *,
                 image_size: int | None = None, library=None, starts: Sequence[str] = ("",),
                 batch: int = 8, expansion_penalty: float = 0.05, max_nodes: int = 100_000,
                 max_tokens: int = 1000):
        target = np.asarray(target, np.uint8)
        self.size = int(image_size or target.shape[0])
        self.target = resize(target, self.size)
        if target28 is None:
            target28 = resize(target, SOLVE_SIZE)
        self.target28 = np.asarray(target28, np.uint8)
        self.expand = expand
        self.library = library
        self.batch = batch
        self.penalty = expansion_penalty
        self.max_nodes = max_nodes
        self.max_tokens = max_tokens
        #: the model reads programs up to this length: longer candidates are scored but not expanded
        self.max_expand_tokens = expand.max_tokens if isinstance(expand, Proposer) else max_tokens
        self.scorer = Scorer(self.target)
        self.canonical = _canonicalizer()
        self.seen: dict[str, Node] = {}
        self.frontier: list = []
        self._tie = itertools.count()
        self.best: Node | None = None
        self.first_solve: float | None = None
        self.n_candidates = 0
        self.n_expanded = 0
        self.t0 = time.monotonic()
        self.start_texts: list[str] = []
        self._add(list(starts), None)
        if self.best is None:  # every start failed: fall back to the empty program
            self._add([""], None)

    # -- candidates --------------------------------------------------------------------------------
    def _add(self, texts: list[str], parents: list[Node | None] | None) -> list[Node]:
        parents = parents if parents is not None else [None] * len(texts)
        programs, canon, owners = [], [], []
        batch_seen = set()
        for text, parent in zip(texts, parents):
            try:
                p = logo.parse(text) if isinstance(text, str) else text
                c = self.canonical(p)
            except (LogoError, RecursionError, TypeError, ValueError):
                continue
            if c in self.seen or c in batch_seen or n_tokens(c) > self.max_tokens:
                continue
            batch_seen.add(c)
            programs.append(p)
            canon.append(c)
            owners.append(parent)
        if not programs:
            return []
        images, verdicts = logo.render_checked(programs, self.size, self.library, draw_off_canvas=True)
        ok = verdicts != logo.Verdict.ERROR
        if self.size == SOLVE_SIZE:
            images28 = images
        else:
            images28, verdicts28 = logo.render_checked(programs, SOLVE_SIZE, self.library, draw_off_canvas=True)
            ok &= verdicts28 != logo.Verdict.ERROR
        dist = self.scorer.distance(images)
        solved = solved_batch(images28, self.target28)
        now = time.monotonic() - self.t0
        added = []
        for k in np.flatnonzero(ok):
            parent = owners[k]
            node = Node(canon[k], n_tokens(canon[k]), float(dist[k]), bool(solved[k]), images[k], images28[k],
                        parent, 0 if parent is None else parent.step + 1, 0, now)
            self.seen[node.text] = node
            if parent is None:
                self.start_texts.append(node.text)
            if node.tokens <= self.max_expand_tokens:
                heapq.heappush(self.frontier, (self._priority(node), next(self._tie), node))
            if self.best is None or node.key() < self.best.key():
                self.best = node
            if node.solved and self.first_solve is None:
                self.first_solve = now
            added.append(node)
        return added

    def _priority(self, node: Node) -> tuple:
        return (node.distance + self.penalty * node.expansions, node.tokens)

    # -- the loop ----------------------------------------------------------------------------------
    def step(self) -> int:
        """Expand the `batch` best frontier nodes once; returns how many new nodes were added."""
        picked = []
        while self.frontier and len(picked) < self.batch:
            picked.append(heapq.heappop(self.frontier)[2])
        if not picked:
            return 0
        images_a = np.stack([n.image for n in picked])
        images_b = np.repeat(self.target[None], len(picked), axis=0)
        proposals = self.expand(images_a, images_b, [n.text for n in picked])
        self.n_expanded += len(picked)
        texts, parents = [], []
        for node, cands in zip(picked, proposals):
            for c in cands:
                texts.append(c)
                parents.append(node)
        self.n_candidates += len(texts)
        added = self._add(texts, parents)
        for node in picked:  # re-queue: sampling may give something new next time
            node.expansions += 1
            heapq.heappush(self.frontier, (self._priority(node), next(self._tie), node))
        return len(added)

    def run(self, budget_s: float = 10.0, stop_on_solve: bool = True, max_rounds: int | None = None,
            should_stop: Callable[[], bool] | None = None) -> SearchResult:
        rounds = 0
        while True:
            if should_stop is not None and should_stop():
                break
            if stop_on_solve and self.first_solve is not None:
                break
            if time.monotonic() - self.t0 >= budget_s or len(self.seen) >= self.max_nodes:
                break
            if max_rounds is not None and rounds >= max_rounds:
                break
            if not self.frontier:
                break
            self.step()
            rounds += 1
        return self.result()

    def result(self) -> SearchResult:
        best = self.best
        return SearchResult(best, best.solved, self.first_solve, time.monotonic() - self.t0, self.n_expanded,
                            self.n_candidates, len(self.seen), best.path(), list(self.start_texts))


def search(expand: Expand, target: np.ndarray, target28: np.ndarray | None = None, *, budget_s: float = 10.0,
           stop_on_solve: bool = True, max_rounds: int | None = None, should_stop=None, **kw) -> SearchResult:
    """Convenience: `Search(expand, target, target28, **kw).run(budget_s, stop_on_solve, max_rounds)`."""
    return Search(expand, target, target28, **kw).run(budget_s, stop_on_solve, max_rounds, should_stop)
