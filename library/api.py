"""Library learning for Logo programs: `compress(programs, iterations, max_arity) -> Result`."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import logo
from logo.ast import Call, Define, Program

from .core import Corpus, Found, SearchConfig, Store
from .loop import Step, compress_loop, task_ids
from .rewrite import match_abstraction, rewrite_roots
from .logo_mode import PARAM_NAMES, LogoDecoder, LogoEncoder, LogoSearchMode, Unsupported, define_of


@dataclass
class Result:
    """New procedures (`defs`, in order; later ones may call earlier ones), the programs rewritten
    with them (aligned with the input; a program the compressor cannot read is returned as it was),
    and a report (abstractions, uses, cost before/after, time)."""
    defs: list[Define]
    rewritten: list[Program]
    report: dict
    library: list[Define] = field(default_factory=list)   # the previous library followed by `defs`

    def library_text(self) -> str:
        return library_text(self.library)


def _as_program(p) -> Program:
    return p if isinstance(p, Program) else logo.parse(p)


def _next_index(names, prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"(\d+)$")
    idx = [int(m.group(1)) for n in names if (m := pat.match(n))]
    return max(idx) + 1 if idx else 0


def compress(programs: Sequence, iterations: int = 10, max_arity: int = 3, tasks: Sequence | None = None,
             library: Sequence[Define] | Mapping[str, Define] | None = None, prefix: str = "fn_",
             allow_single_task: bool = False, apply_library: bool = True,
             progress: Callable[[Step, Define], None] | None = None, reserved: Sequence[str] = ()) -> Result:
    """Learn up to `iterations` procedures from Logo `programs` (texts or `Program`s).

    `tasks` (one label per program) groups programs so that only the cheapest program of each task
    counts (default: every program is its own task). `library` holds procedures the programs may
    already call; with `apply_library` the programs are first rewritten with those procedures wherever
    that pays (so a round never relearns one). New procedures are named `{prefix}N` after the highest
    existing N (names in `reserved` count as existing). Cost is Stitch's (100 per symbol, 1 per application) on the continuation-passing
    encoding (see `logo_mode`).
    """
    if not 0 <= max_arity <= len(PARAM_NAMES):
        raise ValueError(f"max_arity must be in 0..{len(PARAM_NAMES)}")
    t0 = time.perf_counter()
    lib = list(library.values()) if isinstance(library, Mapping) else list(library or ())
    progs = [_as_program(p) for p in programs]
    st = Store()
    enc = LogoEncoder(st)
    roots, kept, labels = [], [], []
    raw_tasks = list(tasks) if tasks is not None else list(range(len(progs)))
    if len(raw_tasks) != len(progs):
        raise ValueError("tasks must have one label per program")
    skipped = 0
    for i, p in enumerate(progs):
        try:
            roots.append(enc.program(p))
        except Unsupported:
            skipped += 1
            continue
        kept.append(i)
        labels.append(raw_tasks[i])
    tids = task_ids(labels, len(labels))
    original_roots = list(roots)
    cost_before = Corpus(st, roots, tids, with_stats=False).total_cost() if roots else 0
    if lib and roots and apply_library:
        roots = _apply_library(st, enc, roots, tids, lib)
    corpus = Corpus(st, roots, tids) if roots else None
    cost_with_library = corpus.total_cost() if corpus else 0
    cfg = SearchConfig(max_arity=max_arity, allow_single_task=allow_single_task, mode=LogoSearchMode(enc))
    called = {n.name for p in progs for n in logo.walk(p) if isinstance(n, Call)}
    start = _next_index([d.name for d in lib] + sorted(called) + list(reserved), prefix)
    size_before = sum(logo.ast_size(progs[i]) for i in kept)
    defs: list[Define] = []
    steps: list[Step] = []
    if corpus is not None:
        def describe(name: str, found: Found, body: int):
            d = define_of(st, name, body, found.arity)
            return logo.to_text(d), found.arity, d

        def rewritten(roots: list[int]) -> None:
            # the rewritten programs are sequences again: register the new call nodes for later steps
            _register(enc, st, roots)
        learned, corpus = compress_loop(corpus, cfg, iterations, prefix, start, describe, rewritten, progress)
        steps = [x.step for x in learned]
        defs = [x.value for x in learned]
    dec = LogoDecoder(st)
    rewritten = list(progs)
    if corpus is not None:
        for i, r, r0 in zip(kept, corpus.roots, original_roots):
            if r != r0:                 # untouched programs keep their own text (loop variable names)
                rewritten[i] = Program((), dec.body(r, 0))
    cost_after = corpus.total_cost() if corpus else 0
    size_after = sum(logo.ast_size(rewritten[i]) for i in kept)
    report = {
        "programs": len(progs), "skipped": skipped, "tasks": len(set(tids)),
        "iterations": iterations, "max_arity": max_arity,
        "cost_before": cost_before, "cost_with_library": cost_with_library, "cost_after": cost_after,
        "ratio": (cost_before / cost_after) if cost_after else 1.0,
        "ast_size_before": size_before, "ast_size_after": size_after,
        "seconds": time.perf_counter() - t0,
        "abstractions": [{"name": s.name, "arity": s.arity, "define": s.body, "utility": s.utility,
                          "uses": s.uses, "body_cost": s.body_cost, "cost_after": s.cost_after, "seconds": round(s.seconds, 4),
                          "search_steps": s.stats.steps} for s in steps],
    }
    return Result(defs, rewritten, report, lib + defs)


def _apply_library(st: Store, enc: LogoEncoder, roots: list[int], tids: list[int], lib) -> list[int]:
    """Rewrite the programs with the existing procedures, in library order, where it saves cost."""
    for d in lib:
        try:
            body = enc.define_pattern(d)
        except Unsupported:
            continue
        corpus = Corpus(st, roots, tids, with_stats=False)
        first = st.spine(st.a[body])[0]            # the head of the body's first statement
        cands = [n for n in corpus.nodes if n in enc.chain and st.spine(st.a[n])[0] == first]
        found = match_abstraction(corpus, body, len(d.params), cands)
        if found is None:
            continue
        new_roots = rewrite_roots(corpus, found, d.name)
        if new_roots != roots:
            _register(enc, st, new_roots)
            roots = new_roots
    return roots


def _register(enc: LogoEncoder, st: Store, roots: list[int]) -> None:
    """Mark sequence and expression nodes of rewritten programs (new call statements) for the Logo typing."""
    seen = set()

    def walk_seq(n):
        while n not in seen:
            seen.add(n)
            enc.seq.add(n)
            if st.kind[n] != 2:      # the end of the list
                return
            enc.chain.add(n)
            f = st.a[n]
            h, args = st.spine(f)
            name = st.symbols[st.a[h]]
            if name == "loop":
                mark_expr(args[0])
                walk_seq(st.a[args[1]])
            elif name in ("embed", "penup"):
                walk_seq(args[0])
            else:
                for a in args:
                    mark_expr(a)
            n = st.b[n]

    def mark_expr(n):
        if enc.param_ok.get(n):
            return
        enc.param_ok[n] = True
        if st.kind[n] == 2:          # (op a b): the operands are expressions, (op a) is not
            for a in st.spine(n)[1]:
                mark_expr(a)

    for r in roots:
        walk_seq(r)


# ---- the database ----------------------------------------------------------------------------------

def database_corpus(db, equivalents: bool = False, limit: int | None = None) -> tuple[list[str], list[str]]:
    """(programs, task labels) from a `data.db.Database`: the entries' heads, or with `equivalents`
    every program of each entry's equivalents list (one task per entry: the cheapest counts)."""
    programs, tasks = [], []
    if equivalents:
        for e in db.entries(limit=limit):
            programs += list(e.equivalents)
            tasks += [f"db:{e.entry_id}"] * len(e.equivalents)
    else:
        for eid, head in db.heads(limit=limit):
            programs.append(head)
            tasks.append(f"db:{eid}")
    return programs, tasks


def write_back(db, result: Result, programs: Sequence) -> list:
    """Store the whole library in the database and insert the rewritten programs that changed
    (source "library"; the database keeps the shorter program of an image as its head)."""
    db.set_library(library_text(result.library))
    changed = [logo.to_text(q) for p, q in zip(programs, result.rewritten) if q != _as_program(p)]
    return db.insert_many(changed, source="library") if changed else []


def compress_database(db_path, iterations: int = 10, max_arity: int = 3, equivalents: bool = False,
                      out_dir=None, update: bool = True, limit: int | None = None, **kw) -> Result:
    """One round of library learning on a database: compress its programs (starting from its library),
    save the next library version in `out_dir` (if given) and, with `update`, write the library and the
    rewritten programs back so that the generator, train and dream use the new procedures."""
    from data.db import Database
    db = Database(db_path, create=False)
    try:
        programs, tasks = database_corpus(db, equivalents, limit)
        res = compress(programs, iterations, max_arity, tasks=tasks, library=db.library(), **kw)
        if out_dir is not None:
            res.report["library_file"] = str(save_library(res.library, out_dir))
        if update:
            res.report["inserted"] = [r.status for r in write_back(db, res, programs)]
    finally:
        db.close()
    return res


# ---- library files -------------------------------------------------------------------------------

HEADER = "; logo-synth library v{version:03d}: {n} procedures\n"


def library_text(defs: Sequence[Define], version: int | None = None, comments: Sequence[str] = (),
                 notes: Mapping[str, str] | None = None) -> str:
    """The library as text: header, `comments`, then each procedure (preceded by `; notes[name]`)."""
    lines = []
    if version is not None:
        lines.append(HEADER.format(version=version, n=len(defs)).rstrip("\n"))
    lines += [f"; {c}" for c in comments]
    for d in defs:
        if notes and d.name in notes:
            lines.append(f"; {notes[d.name]}")
        lines.append(logo.to_text(d))
    return "\n".join(lines) + "\n"


def save_library(defs: Sequence[Define], out_dir, comments: Sequence[str] = (),
                 notes: Mapping[str, str] | None = None) -> Path:
    """Write the next version `out_dir/vNNN.logo` (NNN = highest existing + 1); returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    versions = [int(m.group(1)) for p in out.glob("v*.logo") if (m := re.fullmatch(r"v(\d+)\.logo", p.name))]
    version = max(versions, default=0) + 1
    path = out / f"v{version:03d}.logo"
    tmp = out / f".{path.name}.tmp"
    tmp.write_text(library_text(defs, version, comments, notes))
    tmp.replace(path)
    return path


def load_library(path_or_dir) -> list[Define]:
    """Read a library file (or the newest `vNNN.logo` in a directory)."""
    p = Path(path_or_dir)
    if p.is_dir():
        files = sorted(p.glob("v[0-9]*.logo"))
        if not files:
            return []
        p = files[-1]
    from logo.cli_errors import read_text
    text = read_text(p)                 # not UTF-8: a ValueError naming the file in the user's words
    try:
        return list(logo.parse_library(text))
    except ValueError as e:
        raise ValueError(f"{p}: {e}") from None
