"""Training pairs of the recognition model: (image, program) with the program's derivation in the layout.

- *dreams*: programs enumerated under the prior grammar with the library (`logo.enumeration.distinct_drawings`:
  decreasing probability, one program per distinct drawing, the most probable kept), as DreamCoder makes
  them; a database's heads (`--db`: one program per drawing, the shortest) join them;
- *replays*: known solutions of training targets: the DreamCoder *train* tasks' programs and the LAPS LOGO
  train tasks' (`data.laps_tasks`); the test splits never enter.

Evaluation targets never enter: a dream or replay that draws a DreamCoder *test* task (within the solve
tolerance at 28x28, as `library.corpus` drops them from the grammar's corpus) is dropped (`drop_test_drawings`;
some LAPS training tasks draw DreamCoder test tasks exactly).

A program the layout cannot derive (its own `define`s, calls outside the library) is skipped and counted.
Examples are held out by a hash of their program text (`heldout` of them). Batches mix dreams and replays
half and half by default (DreamCoder's Helmholtz ratio).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

import logo
from logo.enumeration import Budget, distinct_drawings
from logo.grammar_table import Derivation, GrammarLayout
from logo.pcfg import Grammar, GrammarError

SIZE = 28
SOLVE_TOLERANCE = 40    # dream.search.score's pixel tolerance (model does not import dream)


def prior_grammar(library=()) -> Grammar:
    """The grammar `topdown` enumerates under without a solutions corpus: fitted on the DreamCoder *train*
    programs (`dream.search.topdown.fit_grammar_on`'s fallback), with `library`'s procedures."""
    from data import dreamcoder_tasks
    return Grammar.fit([logo.to_text(t.program) for t in dreamcoder_tasks("train")], tuple(library),
                       source="DreamCoder train programs")


def dream_pairs(prior: Grammar, library=(), seconds: float = 30.0, max_n: int = 50_000,
                seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """(program text, 28x28 image) of up to `max_n` distinct drawings enumerated under `prior` for
    `seconds` (a random subset when more were found)."""
    texts, images = [], []
    for d in distinct_drawings(prior, Budget(seconds=seconds), size=SIZE, library=tuple(library) or None):
        texts += [logo.to_text(p) for p in d.programs]
        images.append(d.images)
    if not texts:
        return []
    images = np.concatenate(images)
    keep = np.arange(len(texts))
    if len(keep) > max_n:
        keep = np.sort(np.random.default_rng(seed).choice(len(keep), max_n, replace=False))
    return [(texts[i], images[i]) for i in keep]


def database_pairs(db, library=()) -> list[tuple[str, np.ndarray]]:
    """(head, 28x28 image) of every entry of an open `data.Database`, re-rendered at 28 pixels."""
    heads = [h for _, h in db.heads()]
    if not heads:
        return []
    imgs, ok = logo.render_batch(heads, size=SIZE, library=tuple(library) or None, errors="blank")
    return [(h, imgs[i]) for i, h in enumerate(heads) if ok[i] and imgs[i].any()]


def replay_pairs() -> list[tuple[str, np.ndarray]]:
    """(program, image) of the DreamCoder train tasks and the LAPS LOGO train tasks."""
    from data import dreamcoder_tasks, laps_tasks
    tasks = list(dreamcoder_tasks("train", SIZE)) + list(laps_tasks(SIZE))
    return [(logo.to_text(t.program), t.image) for t in tasks]


def drop_test_drawings(pairs) -> tuple[list, int]:
    """(pairs whose image draws no DreamCoder test task within `SOLVE_TOLERANCE`, how many were dropped)."""
    from data import dreamcoder_tasks
    if not pairs:
        return [], 0
    tests = np.stack([t.image for t in dreamcoder_tasks("test", size=SIZE)]).reshape(-1, SIZE * SIZE).astype(np.float32)
    keep, dropped = [], 0
    for i in range(0, len(pairs), 4096):
        chunk = pairs[i:i + 4096]
        imgs = np.stack([img for _, img in chunk]).reshape(len(chunk), -1).astype(np.float32)
        d2 = (imgs ** 2).sum(1)[:, None] + (tests ** 2).sum(1)[None] - 2 * imgs @ tests.T    # squared L2
        near = d2 <= SIZE * SIZE * SOLVE_TOLERANCE ** 2 + 1.0                              # necessary for max-abs
        for k, pair in enumerate(chunk):
            cand = np.flatnonzero(near[k])
            if len(cand) and (np.abs(tests[cand] - imgs[k]).max(axis=1) <= SOLVE_TOLERANCE).any():
                dropped += 1
            else:
                keep.append(pair)
    return keep, dropped


def is_heldout(text: str, share: float) -> bool:
    return zlib.crc32(text.encode()) % 10_000 < share * 10_000


@dataclass
class Pool:
    """Images and derivations of one kind (dreams or replays), training and held-out parts."""
    images: np.ndarray = field(default_factory=lambda: np.zeros((0, SIZE, SIZE), np.uint8))
    derivations: list = field(default_factory=list)
    programs: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.programs)


def make_pools(layout: GrammarLayout, pairs, heldout: float = 0.05) -> tuple[Pool, Pool, int]:
    """(training pool, held-out pool, skipped): each pair's derivation under `layout`; pairs it cannot
    derive are skipped (counted)."""
    parts = {False: ([], [], []), True: ([], [], [])}
    skipped = 0
    for text, img in pairs:
        try:
            d = layout.derive(text)
        except (GrammarError, logo.LogoError):
            skipped += 1
            continue
        imgs, ders, progs = parts[is_heldout(text, heldout)]
        imgs.append(np.asarray(img, np.uint8))
        ders.append(d)
        progs.append(text)

    def pool(p):
        imgs, ders, progs = p
        return Pool(np.stack(imgs) if imgs else np.zeros((0, SIZE, SIZE), np.uint8), ders, progs)
    return pool(parts[False]), pool(parts[True]), skipped


def collate(images: np.ndarray, derivations: list[Derivation]) -> dict:
    """A batch: images (B, 28, 28) and the derivations' choices concatenated with their row."""
    chosen = np.concatenate([d.chosen for d in derivations])
    choice_set = np.concatenate([d.choice_set for d in derivations])
    example = np.repeat(np.arange(len(derivations)), [len(d) for d in derivations])
    return {"images": images, "chosen": chosen, "choice_set": choice_set, "example": example}


def sample_batch(rng: np.random.Generator, dreams: Pool, replays: Pool, batch: int,
                 dream_share: float = 0.5) -> dict:
    """`batch` examples, `dream_share` of them dreams (all from one pool when the other is empty)."""
    if not len(dreams) and not len(replays):
        raise ValueError("no training examples (no dreams and no replays)")
    n_dream = int(round(batch * dream_share)) if len(replays) else batch
    n_dream = n_dream if len(dreams) else 0
    imgs, ders = [], []
    for pool, n in ((dreams, n_dream), (replays, batch - n_dream)):
        if n:
            idx = rng.integers(0, len(pool), n)
            imgs.append(pool.images[idx])
            ders += [pool.derivations[i] for i in idx]
    return collate(np.concatenate(imgs), ders)
