"""One round of library learning from solutions: corpus -> compress -> uses -> retire -> file and database.

    res = learn_from_solutions(solutions, library=db.library(), iterations=5, out_dir="runs/x/library", db=db)

The corpus is `corpus.solution_corpus` (evaluation targets never enter). The rewritten solutions are
checked to draw exactly what they drew before (28x28 render, old vs new library) before they go into
the database with source "library"; one that does not is left out and counted (`report["mismatched"]`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

import logo
from logo.ast import Define

from .api import Result, compress, library_text, save_library
from .corpus import Solution, is_evaluation_target, solution_corpus
from .uses import Uses, called_names, procedure_notes, procedure_uses, retire, retired_note, used_closure


@dataclass
class RoundResult:
    result: Result                      # the compressor's result (result.library = old + new)
    active: list[Define]                # the library after retirement
    retired: list[Define]
    uses: dict[str, Uses]
    solutions: list[Solution]           # the corpus, one per target
    excluded: list[Solution]
    originals: list[str] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def same_drawing(before: str, after: str, old_library, new_library, size: int = logo.SOLVE_SIZE) -> bool:
    """Does `after` (with `new_library`) draw exactly the image `before` draws (with `old_library`)?"""
    try:
        a = logo.render(before, size=size, library=old_library)
        b = logo.render(after, size=size, library=new_library)
    except logo.LogoError:
        return False
    return bool(np.array_equal(a, b))


def learn_from_solutions(solutions: Iterable[Solution], library: Sequence[Define] = (), iterations: int = 5,
                         max_arity: int = 3, out_dir=None, db=None, mnist_max_distance: float = 0.5,
                         progress=None, allow_single_task: bool = False, on_corpus=None) -> RoundResult:
    """Learn up to `iterations` procedures from the solutions (after the existing `library`), retire the
    unused, save the next library version in `out_dir` (with a note per procedure) and, with `db`, store
    the library there and insert the rewritten solutions (source "library")."""
    lib = list(library)
    programs, tasks, kept, excluded = solution_corpus(solutions, lib, mnist_max_distance)
    if on_corpus:
        on_corpus(kept, excluded)
    # procedures the database still defines (retired ones its programs call) keep their names
    db_lib = list(db.library()) if db is not None else []
    res = compress(programs, iterations, max_arity, tasks=tasks, library=lib, progress=progress,
                   allow_single_task=allow_single_task, reserved=[d.name for d in db_lib])
    rewritten = [logo.to_text(p) for p in res.rewritten]
    uses = procedure_uses(res.library, rewritten, tasks)
    # with no solutions there is nothing to judge a procedure by: none retires
    active, retired = retire(res.library, uses) if programs else (list(res.library), [])
    ok = [same_drawing(a, b, lib, active) for a, b in zip(programs, rewritten)]
    rep = dict(res.report)
    rep.update({"corpus_targets": len(kept), "excluded": len(excluded),
                "excluded_evaluation": sorted({s.target for s in excluded if is_evaluation_target(s)}),
                "corpus_origins": _count(s.origin for s in kept), "corpus_kinds": _count(s.kind for s in kept),
                "new": [d.name for d in res.defs], "active": [d.name for d in active],
                "retired": [d.name for d in retired], "mismatched": ok.count(False),
                "tokens_before": sum(logo.n_tokens(p) for p in programs),
                "tokens_after": sum(logo.n_tokens(p) for p in rewritten),
                "uses": {n: {"calls": u.calls, "tokens_saved": u.tokens_saved, "targets": u.targets,
                             "typical_args": u.typical_args}
                         for n, u in uses.items() if n in {d.name for d in active}}})
    if out_dir is not None:
        note = [f"{len(res.defs)} new: {', '.join(d.name for d in res.defs) or '-'}; corpus {len(kept)} solved "
                f"targets, tokens {rep['tokens_before']} -> {rep['tokens_after']}"]
        if retired:
            note.append(retired_note(retired))
        rep["library_file"] = str(save_library(active, out_dir, comments=note, notes=procedure_notes(active, uses)))
    if db is not None:
        stored = [t for e in db.entries() for t in e.equivalents]
        known = {d.name for d in res.library}
        every = list(res.library) + [d for d in db_lib if d.name not in known]
        referenced = used_closure(every, called_names(stored) | {d.name for d in active})
        db_defs = [d for d in every if d.name in referenced]   # retired ones still called stay defined
        db.set_library(library_text(db_defs))
        changed = [b for a, b, good in zip(programs, rewritten, ok) if good and a != b]
        rep["inserted"] = _count(r.status for r in db.insert_many(changed, source="library")) if changed else {}
        rep["database_library"] = [d.name for d in db_defs]
    return RoundResult(res, active, retired, uses, kept, excluded, programs, rewritten, rep)


def _count(xs) -> dict:
    out: dict = {}
    for x in xs:
        out[x] = out.get(x, 0) + 1
    return out
