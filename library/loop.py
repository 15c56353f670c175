"""The multi-step compression loop both modes share (Logo, `library.api`; generic λ-terms, `library.generic`).

Each step finds the best abstraction of the corpus (`core.best_abstraction`), names it, rewrites every
program with it and goes on with the rewritten corpus; a mode only says how a learned body reads in its
own form (`describe`) and what it must know about the rewritten programs (`rewritten`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .core import APP, LAM, Corpus, Found, SearchConfig, SearchStats, Store, best_abstraction
from .rewrite import pattern_body, rewrite_roots


@dataclass
class Step:
    name: str
    body: str            # the mode's text of the body (Stitch format with #0 #1 ..., or a Logo define)
    arity: int
    utility: int
    uses: int            # rewritten occurrences in the corpus (all programs)
    cost_after: int
    seconds: float
    stats: SearchStats = field(default_factory=SearchStats)
    body_cost: int = 0   # the body's size (parameters not counted): utility = saving - body_cost


@dataclass
class Learned:
    """One step of the loop: the report line, the search's find, its body node, and the mode's own form."""
    step: Step
    found: Found
    body: int
    value: Any = None


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
    """Task labels -> dense ids in order of first appearance (None: every program its own task)."""
    if tasks is None:
        return list(range(n))
    ids: dict = {}
    return [ids.setdefault(t, len(ids)) for t in tasks]


def compress_loop(corpus: Corpus, cfg: SearchConfig, iterations: int, prefix: str, start_index: int,
                  describe: Callable[[str, Found, int], tuple[str, int, Any]],
                  rewritten: Callable[[list[int]], None] | None = None,
                  progress: Callable[[Step, Any], None] | None = None) -> tuple[list[Learned], Corpus]:
    """Run up to `iterations` steps on `corpus`; returns what each step learned and the final corpus.

    The abstraction of step i is named `{prefix}{start_index + i}`. `describe(name, found, body)` gives the
    step's (text, arity, the mode's own form) before the corpus is rewritten; `rewritten(roots)` sees the
    rewritten programs before the next step; `progress(step, value)` reports each step as it ends. The
    loop stops early when no abstraction saves cost.
    """
    st = corpus.store
    learned: list[Learned] = []
    for it in range(iterations):
        t0 = time.perf_counter()
        stats = SearchStats()
        found = best_abstraction(corpus, cfg, stats)
        if found is None:
            break
        name = f"{prefix}{start_index + it}"
        body = pattern_body(st, found)
        text, arity, value = describe(name, found, body)
        roots = rewrite_roots(corpus, found, name)
        if rewritten is not None:
            rewritten(roots)
        corpus = corpus.updated(roots)
        step = Step(name, text, arity, found.utility, count_uses(st, roots, st.prim(name)), corpus.total_cost(),
                    time.perf_counter() - t0, stats, found.body_cost)
        learned.append(Learned(step, found, body, value))
        if progress is not None:
            progress(step, value)
    return learned, corpus
