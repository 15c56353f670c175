"""Multi-step compression of generic λ-calculus programs (Stitch's format), for benchmarking side by side."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from . import sexpr
from .core import Corpus, Found, SearchConfig, Store
from .loop import Step, compress_loop, task_ids


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


def compress_programs(programs: Sequence[str], iterations: int = 10, max_arity: int = 3,
                      tasks: Sequence | None = None, allow_single_task: bool = False,
                      prefix: str = "fn_", progress: Callable[[Step], None] | None = None) -> GenericResult:
    """Compress Stitch-format programs; the generic λ-calculus mode."""
    t0 = time.perf_counter()
    st = Store()
    roots = [sexpr.parse(st, p) for p in programs]
    cfg = SearchConfig(max_arity=max_arity, allow_single_task=allow_single_task)
    corpus = Corpus(st, roots, task_ids(tasks, len(roots)))
    before = corpus.total_cost()

    def describe(name: str, found: Found, body: int):       # a tail parameter counts as one more argument
        return sexpr.show(st, body), found.arity + int(found.has_tail), None
    learned, corpus = compress_loop(corpus, cfg, iterations, prefix, 0, describe,
                                    progress=(lambda step, _: progress(step)) if progress else None)
    return GenericResult([x.step for x in learned], [sexpr.show(st, r) for r in corpus.roots], before,
                         corpus.total_cost(), time.perf_counter() - t0)
