"""Multi-step compression of generic λ-calculus programs (Stitch's format), for benchmarking side by side."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from . import sexpr
from .core import APP, LAM, Corpus, Found, SearchConfig, SearchStats, Store, best_abstraction
from .rewrite import pattern_body, rewrite_roots


@dataclass
class Step:
    name: str
    body: str            # Stitch format, parameters #0 #1 ...
    arity: int
    utility: int
    uses: int            # rewritten occurrences in the corpus (all programs)
    cost_after: int
    seconds: float
    stats: SearchStats = field(default_factory=SearchStats)
    body_cost: int = 0   # the body's size (parameters not counted): utility = saving - body_cost


@dataclass
class GenericResult:
    abstractions: list[Step]
    rewritten: list[str]
    cost_before: int
    cost_after: int
    seconds: float

    @property
    def ratio(self) -> float:
        return self.cost_before / self.cost_after if self.cost_after else float("inf")


def count_uses(st: Store, roots: list[int], fn_prim: int) -> int:
    """Occurrences of a primitive in the programs (with multiplicity)."""
    total = 0
    memo: dict[int, int] = {}

    def cnt(n):
        r = memo.get(n)
        if r is not None:
            return r
        k = st.kind[n]
        if k == APP:
            r = cnt(st.a[n]) + cnt(st.b[n])
        elif k == LAM:
            r = cnt(st.a[n])
        else:
            r = int(n == fn_prim)
        memo[n] = r
        return r
    for r in roots:
        total += cnt(r)
    return total


def task_ids(tasks: Sequence | None, n: int) -> list[int]:
    if tasks is None:
        return list(range(n))
    ids: dict = {}
    return [ids.setdefault(t, len(ids)) for t in tasks]


def compress_terms(st: Store, roots: list[int], tasks: list[int], iterations: int, cfg: SearchConfig,
                   prefix: str = "fn_", start_index: int = 0,
                   progress: Callable[[Step], None] | None = None):
    """Run `iterations` steps on store terms; returns (steps, found list, body nodes, final roots, costs)."""
    steps: list[Step] = []
    founds: list[Found] = []
    bodies: list[int] = []
    corpus = Corpus(st, roots, tasks)
    cost_before = corpus.total_cost()
    for it in range(iterations):
        t0 = time.perf_counter()
        stats = SearchStats()
        found = best_abstraction(corpus, cfg, stats)
        if found is None:
            break
        name = f"{prefix}{start_index + it}"
        body = pattern_body(st, found)
        roots = rewrite_roots(corpus, found, name)
        corpus = corpus.updated(roots)
        step = Step(name, "", found.arity + int(found.has_tail), found.utility,
                    count_uses(st, roots, st.prim(name)), corpus.total_cost(), time.perf_counter() - t0, stats,
                    found.body_cost)
        steps.append(step)
        founds.append(found)
        bodies.append(body)
        if progress:
            progress(step)
    return steps, founds, bodies, roots, cost_before, corpus.total_cost()


def compress_programs(programs: Sequence[str], iterations: int = 10, max_arity: int = 3,
                      tasks: Sequence | None = None, allow_single_task: bool = False,
                      prefix: str = "fn_", progress: Callable[[Step], None] | None = None) -> GenericResult:
    """Compress Stitch-format programs; the generic λ-calculus mode."""
    t0 = time.perf_counter()
    st = Store()
    roots = [sexpr.parse(st, p) for p in programs]
    cfg = SearchConfig(max_arity=max_arity, allow_single_task=allow_single_task)
    steps, founds, bodies, roots, before, after = compress_terms(
        st, roots, task_ids(tasks, len(roots)), iterations, cfg, prefix, 0, progress)
    for s, b in zip(steps, bodies):
        s.body = sexpr.show(st, b)
    return GenericResult(steps, [sexpr.show(st, r) for r in roots], before, after, time.perf_counter() - t0)
