"""The compressor's corpus is what the system solved, never what it is evaluated on.

Solutions come from three places:

- `dream`'s log (`LOG/found.jsonl`, event "target"): DreamCoder training tasks and database targets solved
  exactly (a database target only when the program is shorter than the entry's head: dream made it
  shorter), and MNIST training digits whose best program came within `mnist_max_distance` (graded
  distance, 1.0 = the empty program; MNIST digits are almost never drawn exactly);
- `logo solve` result files (`results.json`, rows with `solved` and a `program`);
- the database: programs of source "task" (reference programs inserted on purpose), and entries whose
  head came from "dream" while a longer program of another source draws the same image (a target dream
  made shorter). Random database heads only with `include_random`.

`solution_corpus` keeps one program per target (solved before unsolved, then the closest, then the
shortest), labels it with the target's name, and is the one place that keeps evaluation data out: the
DreamCoder *test* tasks (by name, and any program that draws a test task's image exactly, except in a
program file given explicitly with `logo compress --programs`) and the held-out
MNIST digits (`mnist-heldout-*`, or a row whose kind is mnist and split heldout). Each target is then
one Stitch task of one program, so every target weighs the same.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

import logo
from logo.files import read_jsonl
from logo.tokens import n_tokens

SOLVE_TOLERANCE = 40     # the same pixel tolerance as dream.search.score (library does not import dream)


@dataclass(frozen=True)
class Solution:
    target: str               # the target's name: a DreamCoder task, mnist-train-17, db-42, ...
    program: str
    origin: str               # "dream", "solve", "db" or "random"
    solved: bool = True
    distance: float = 0.0
    kind: str = ""            # "tasks", "mnist", "db", "png", "random"
    split: str = ""           # a DreamCoder task's split, when known

    @property
    def tokens(self) -> int:
        return n_tokens(self.program)


@functools.lru_cache(maxsize=1)
def _test_task_names() -> frozenset[str]:
    from data import dreamcoder_tasks
    return frozenset(t.name for t in dreamcoder_tasks("test"))


def is_evaluation_target(sol: Solution, test_names: frozenset[str] | None = None) -> bool:
    """True for a DreamCoder test task or a held-out MNIST digit (by name, kind or split)."""
    names = _test_task_names() if test_names is None else test_names
    name = sol.target
    if name in names or name.startswith("dc:") and name[3:] in names or name.startswith("solve:") and name[6:] in names:
        return True
    if sol.split == "test":
        return True
    if "mnist-heldout" in name or (sol.kind == "mnist" and sol.split == "heldout"):
        return True
    return False


def _draws_a_test_task(programs: Sequence[str], library) -> list[bool]:
    """Per program: does it draw one of the DreamCoder test tasks exactly (at 28x28)?"""
    from data import dreamcoder_tasks
    tests = np.stack([t.image for t in dreamcoder_tasks("test", size=logo.SOLVE_SIZE)]).astype(np.int16)
    out = []
    for text in programs:
        try:
            img = logo.render(text, size=logo.SOLVE_SIZE, library=library).astype(np.int16)
        except logo.LogoError:
            out.append(False)
            continue
        d = np.abs(tests - img[None]).reshape(len(tests), -1).max(axis=1)
        out.append(bool((d <= SOLVE_TOLERANCE).any()))
    return out


def solution_corpus(solutions: Iterable[Solution], library=(), mnist_max_distance: float = 0.5,
                    check_images: bool = True) -> tuple[list[str], list[str], list[Solution], list[Solution]]:
    """(programs, task labels, kept solutions, excluded solutions): one program per target.

    Excluded: evaluation targets (`is_evaluation_target`), programs that draw a DreamCoder test task
    exactly (with `check_images`; not for origin "programs", a program file the user gives as the
    corpus), unsolved non-MNIST rows, MNIST rows farther than `mnist_max_distance`,
    and unreadable programs.
    """
    test_names = _test_task_names()
    excluded: list[Solution] = []
    best: dict[str, Solution] = {}
    for s in solutions:
        if not s.program or not s.program.strip() or is_evaluation_target(s, test_names):
            excluded.append(s)
            continue
        if not s.solved and not (s.kind == "mnist" and s.distance <= mnist_max_distance) and s.origin != "random":
            excluded.append(s)
            continue
        try:
            text = logo.to_text(logo.parse(s.program))
        except logo.LogoError:
            excluded.append(s)
            continue
        s = Solution(s.target, text, s.origin, s.solved, s.distance, s.kind, s.split)
        old = best.get(s.target)
        if old is None or (not s.solved, s.distance, s.tokens, s.program) < (not old.solved, old.distance,
                                                                              old.tokens, old.program):
            best[s.target] = s
    kept = list(best.values())            # in order of first appearance
    if check_images and kept:
        hits = [s.origin != "programs" and h for s, h in
                zip(kept, _draws_a_test_task([s.program for s in kept], library))]
        excluded += [s for s, h in zip(kept, hits) if h]
        kept = [s for s, h in zip(kept, hits) if not h]
    return [s.program for s in kept], [s.target for s in kept], kept, excluded


# ---- where solutions live --------------------------------------------------------------------------

def dream_log_solutions(path) -> list[Solution]:
    """Solutions from `dream`'s LOG/found.jsonl (or a directory holding it); missing file: none."""
    p = Path(path)
    if p.is_dir():
        p = p / "found.jsonl"
    if not p.exists():
        return []
    out = []
    for r in read_jsonl(p):          # a line still being written is skipped
        if r.get("event") != "target" or not r.get("program"):
            continue
        kind, name, program = r.get("kind", ""), str(r.get("target", "")), r["program"]
        solved = bool(r.get("solved"))
        if kind == "db":
            known = r.get("known_program") or ""
            solved = solved and known != "" and n_tokens(program) < n_tokens(known)
        out.append(Solution(name, program, "dream", solved, float(r.get("distance", 1.0) or 0.0), kind,
                            "train" if kind == "tasks" else ""))
    return out


def solve_result_solutions(path) -> list[Solution]:
    """Solved rows of a `logo solve` results.json (every row: the corpus function decides)."""
    p = Path(path)
    if not p.exists():
        return []
    data = json.loads(p.read_text())
    label = str(data.get("summary", {}).get("tasks", ""))
    out = []
    for r in data.get("results", []):
        if "error" in r or not r.get("program"):
            continue
        split = r.get("split") or ("heldout" if "heldout" in label else "test" if label.endswith("-test") else "")
        out.append(Solution(str(r.get("name")), r["program"], "solve", bool(r.get("solved")),
                            float(r.get("distance", 0.0) or 0.0), r.get("kind", ""), split))
    return out


def database_solutions(db, include_random: bool = False, limit: int | None = None,
                       equivalents: bool = False) -> list[Solution]:
    """Programs of source "task"; heads dream made shorter; with `include_random`, every other head
    (with `equivalents`, every program of the entry: the shortest is kept)."""
    out = []
    for e in db.entries(limit=limit):
        sources = {text: src for text, src, _ in e.programs}
        tasks = [t for t, src in sources.items() if src == "task"]
        if tasks:
            out += [Solution(f"db-{e.entry_id}", t, "db", kind="db") for t in tasks]
        elif sources.get(e.head) == "dream" and any(src != "dream" for src in sources.values()):
            out.append(Solution(f"db-{e.entry_id}", e.head, "db", kind="db"))
        elif include_random:
            out += [Solution(f"db-{e.entry_id}", t, "random", kind="random")
                    for t in (e.equivalents if equivalents else [e.head])]
    return out
