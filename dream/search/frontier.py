"""Best-first search over programs whose steps are proposed edits (a model's, or a model-free arm's).

The search is separate from the model: it takes an `expand` callable

    expand(images_a uint8 (B, S, S), images_b uint8 (B, S, S), programs_a list[str]) -> list[list[Program | str]]

that returns, for each (current image, target image, current program text), candidate programs: program
texts (the model's edit scripts applied; `dream.search.proposer.ModelProposer` builds one from a checkpoint) or
`logo.ast.Program` trees (the `grammar` arm's mutations; no print -> parse round trip). Every arm of the
search (`dream.search.baselines.ARMS`) is a `Proposer`: such a callable with a `max_tokens` (nodes longer than
that are scored but not expanded) and `reset()` (forget what it kept about the last target). A plain
callable works too (tests); the search then expands nodes up to its own `max_tokens`.

Algorithm. The frontier starts with the given start programs (the empty program and the database
entries nearest to the target). Each round pops the `batch` best nodes (lowest graded distance plus
`length_weight` per token, then fewest tokens, with a small penalty per earlier expansion so a node that
keeps producing nothing new sinks; `length_weight` > 0 makes a short program outrank a longer one that
covers the target a little better, so the search does not prefer piling strokes on), asks `expand` for candidates, canonicalises them (`logo.canonical`; a text is parsed first, a
text seen before is skipped unparsed), de-duplicates them by their canonical tree (hashed), runs every
new candidate once under the interpreter's limits and draws it at both sizes from that one run
(`logo.render_checked_sizes`: programs that fail or exceed a limit are dropped; empty and off-canvas
drawings are kept), scores the whole round in one call and pushes the new nodes (a heap). It stops
when the time budget or the node limit is spent, or at the first exact solution when `stop_on_solve`;
otherwise it keeps looking for a shorter solution. Scores are in `dream.search.score`: solved = exact match at
28x28, graded distance = blurred L2 at the model's image size, length = number of tokens (counted on
the tree). A node's text is printed only when something asks for it (expansion, results).
"""
from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

import logo
from logo.ast import Program
from logo.canonical import canonical
from logo.errors import LogoError
from logo.images import resize
from logo.library import SOLVE_SIZE
from logo.syntax import count_tokens, to_text
from logo.tokens import n_tokens  # noqa: F401  (re-exported: callers and tests import it from here)

from .score import Scorer, reach_box

Expand = Callable[[np.ndarray, np.ndarray, list], list]


@runtime_checkable
class Proposer(Protocol):
    """What every arm of the search implements (`dream.search.baselines`, `dream.search.proposer.ModelProposer`)."""

    #: programs longer than this (tokens) are scored but not expanded: a model cannot read them
    max_tokens: int

    def __call__(self, images_a: np.ndarray, images_b: np.ndarray,
                 programs_a: Sequence[str]) -> list[list[Program | str]]:
        """Candidates for each (current image, target image, current program's canonical text): program
        texts or `logo.ast.Program` trees (well-formed ASTs, as `logo.parse` returns; need not be
        canonical). Trees save the search a parse per candidate."""
        ...

    def reset(self) -> None:
        """Forget per-target state (a memo of what was proposed), before searching another target."""
        ...


@dataclass(eq=False, slots=True)
class Node:
    program: Program          # canonical tree
    tokens: int
    distance: float = 0.0     # graded distance at the model's size
    solved: bool = False      # exact match at 28x28
    image: np.ndarray = None          # (S, S) uint8
    image28: np.ndarray = None        # (28, 28) uint8; None until drawn if it cannot solve (`Search.reach`)
    parent: "Node | None" = None
    step: int = 0             # number of expansions from a start program
    expansions: int = 0
    found_at: float = 0.0     # seconds after the search started
    valid: bool = False       # ran within the limits (a candidate that did not is remembered, not searched)
    _text: str | None = None

    @property
    def text(self) -> str:
        """The canonical program text, printed on first use (most candidates are never printed)."""
        if self._text is None:
            self._text = to_text(self.program)
        return self._text

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
    n_valid: int                  # distinct programs that ran within the limits (start programs too)
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
                 max_tokens: int = 1000, length_weight: float = 0.0):
        if not length_weight >= 0:
            raise ValueError(f"length_weight must be >= 0, not {length_weight!r}")
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
        self.length_weight = float(length_weight)     # frontier priority per token (0: distance alone)
        self.max_nodes = max_nodes
        self.max_tokens = max_tokens
        #: the model reads programs up to this length: longer candidates are scored but not expanded
        self.max_expand_tokens = expand.max_tokens if isinstance(expand, Proposer) else max_tokens
        self.sizes = (self.size,) if self.size == SOLVE_SIZE else (self.size, SOLVE_SIZE)
        #: candidates whose ink cannot reach the target's outer pixels cannot solve it: not drawn at 28x28
        self.reach = reach_box(self.target28) if len(self.sizes) > 1 else None
        self.scorer = Scorer(self.target, self.target28)
        #: every candidate tried, by canonical tree (valid or not): one hash per candidate dedupes it
        self.seen: dict[Program, Node] = {}
        self._texts: set[str] = set()       # candidate texts already read (a repeat is skipped unparsed)
        self.frontier: list = []
        self._tie = itertools.count()
        self.best: Node | None = None
        self.first_solve: float | None = None
        self.n_candidates = 0
        self.n_expanded = 0
        self.n_valid = 0
        self.t0 = time.monotonic()
        self.start_texts: list[str] = []
        self._add(list(starts), None)
        if self.best is None:  # every start failed: fall back to the empty program
            self._add([""], None)

    # -- candidates --------------------------------------------------------------------------------
    def _read(self, candidate) -> tuple[Program, int] | None:
        """(canonical tree, tokens) of a proposed text or tree; None when it is not a program, within
        the limits, that the search has not seen."""
        try:
            if type(candidate) is str:
                if candidate in self._texts:
                    return None               # read before: its canonical tree is in `seen` or was refused
                self._texts.add(candidate)
                candidate = logo.parse(candidate)
            tree = canonical(candidate)
            tokens = count_tokens(tree)
        except (LogoError, RecursionError, TypeError, ValueError, AttributeError):
            return None
        return None if tokens > self.max_tokens else (tree, tokens)

    def _add(self, candidates: list, parents: list[Node | None] | None) -> list[Node]:
        parents = parents if parents is not None else [None] * len(candidates)
        seen, read = self.seen, self._read
        fresh: list[Node] = []
        for cand, parent in zip(candidates, parents):
            got = read(cand)
            if got is None:
                continue
            node = Node(got[0], got[1], parent=parent)
            if seen.setdefault(node.program, node) is node:      # not seen before (one hash)
                fresh.append(node)
        if not fresh:
            return []
        images, verdicts, reached = logo.render_checked_sizes(
            [n.program for n in fresh], self.sizes, self.library, draw_off_canvas=True, reach=self.reach)
        ok = np.flatnonzero(verdicts != logo.Verdict.ERROR)
        if not len(ok):
            return []
        images28 = images[-1]
        images = images[0]
        dist, solved = self.scorer.score(images[ok], images28[ok])       # the whole round in one call
        dist, solved, reached = dist.tolist(), solved.tolist(), reached.tolist()
        now = time.monotonic() - self.t0
        added = []
        for j, k in enumerate(ok.tolist()):
            node = fresh[k]
            parent = node.parent
            node.distance, node.solved, node.image = dist[j], solved[j], images[k]
            node.image28 = images28[k] if reached[k] else None
            node.valid, node.found_at = True, now
            if parent is not None:
                node.step = parent.step + 1
            else:
                self.start_texts.append(node.text)
            if node.tokens <= self.max_expand_tokens:
                heapq.heappush(self.frontier, (self._priority(node), next(self._tie), node))
            if self.best is None or node.key() < self.best.key():
                self.best = node
            if node.solved and self.first_solve is None:
                self.first_solve = now
            added.append(node)
        self.n_valid += len(added)
        return added

    def draw28(self, nodes: Sequence[Node]) -> None:
        """Draw at 28x28 the nodes that were not (they could not solve the target), for results and sheets."""
        todo = [n for n in nodes if n.image28 is None]
        if todo:
            images28, _ = logo.render_checked([n.program for n in todo], SOLVE_SIZE, self.library,
                                              draw_off_canvas=True)
            for n, im in zip(todo, images28):
                n.image28 = im

    def nodes(self) -> list[Node]:
        """The programs found so far that ran within the limits, in the order they were found."""
        return [n for n in self.seen.values() if n.valid]

    def _priority(self, node: Node) -> tuple:
        """Frontier order, lower first: graded distance + length_weight x tokens + the expansion penalty,
        then tokens."""
        return (node.distance + self.length_weight * node.tokens + self.penalty * node.expansions, node.tokens)

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
        candidates, parents = [], []
        for node, cands in zip(picked, proposals):
            candidates += cands
            parents += [node] * len(cands)
        self.n_candidates += len(candidates)
        added = self._add(candidates, parents)
        for node in picked:  # re-queue: sampling may give something new next time
            node.expansions += 1
            heapq.heappush(self.frontier, (self._priority(node), next(self._tie), node))
        return len(added)

    def run(self, budget_s: float, stop_on_solve: bool = True, max_rounds: int | None = None,
            should_stop: Callable[[], bool] | None = None) -> SearchResult:
        rounds = 0
        while True:
            if should_stop is not None and should_stop():
                break
            if stop_on_solve and self.first_solve is not None:
                break
            if time.monotonic() - self.t0 >= budget_s or self.n_valid >= self.max_nodes:
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
        self.draw28(best.path())
        return SearchResult(best, best.solved, self.first_solve, time.monotonic() - self.t0, self.n_expanded,
                            self.n_candidates, self.n_valid, best.path(), list(self.start_texts))
