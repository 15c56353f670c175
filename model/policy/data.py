"""Training examples for the edit policy: (program A, image A, target image C) -> the first steps of the
tree path from A toward C's program (`logo.tree_path`), as (slot, action) labels and one subtree.

Where A comes from (`KINDS`, mixture `DEFAULT_WEIGHTS`; C is always a stored program, its image the target):

- "far":       1..4 random grammatical mutations of C (`logo.mutate`), that still draw something else;
- "walk":      a far or random A moved 1.. steps along its tree path toward C (Tree Diffusion trains on a
               random point of the path);
- "prefix":    C's first j top-level statements (j = 0: the empty program, the search's first start);
- "neighbour": a stored program whose image is among the nearest to C's (the search's other starts);
- "random":    a fresh random program (the generator's), Tree Diffusion's 20 % of far-away starts.

An example's labels: every fixing step of `logo.tree_path.fixing_steps(A, C)` is a positive (slot,
action) (`model.policy.actions`); one of them with content (a statement, an expression, a wrapped
loop's count) is the decoder's target, walked through the grammar (`model.grammar`) for its mask
ids. A second decoder target is a *pool* statement: one of C's statements at any depth that uses no
loop variable from outside it (`closed_statements`), written on its own, decoded from the program's end
slot with the `POOL` nonterminal: what the sampler inserts anywhere (the issue's oracle inserted the
target program's own statements). `PolicyData` keeps a ring of encoded examples made from the database (follows a growing
database like `model.edit.pairs.PairSampler`, held out by the same hash of C's entry id) and batches it.
"""
from __future__ import annotations

import random
from typing import NamedTuple, Sequence

import numpy as np
import torch

import logo
from logo.canonical import canonical
from logo.mutate import RandomContent, Sites, mutate, random_prefix
from logo.syntax import to_text
from logo.tokens import tokenize
from logo.tree_path import closed_statements, fixing_steps, path, statement_keys  # noqa: F401

from ..tokenizer import paren_depth
from ..examples import follow_library, is_heldout
from .actions import N_ACTIONS, SiteTable
from ..grammar import POOL, Grammar, walk_masks
from ..tokenizer import Tokenizer

KINDS = ("far", "walk", "prefix", "neighbour", "random")
DEFAULT_WEIGHTS = {"far": 0.3, "walk": 0.15, "prefix": 0.15, "neighbour": 0.25, "random": 0.15}
SPLITS = ("train", "heldout")


class Example(NamedTuple):
    a_ids: np.ndarray       # (n,) token ids of A
    valid: np.ndarray       # (n + 1, N_ACTIONS) bool
    target: np.ndarray      # (n + 1, N_ACTIONS) bool: the labelled first steps
    c_slot: int             # slot of the content label (-1: none)
    c_nt: int
    c_ids: np.ndarray       # (t,) content token ids
    c_mask: np.ndarray      # (t,) grammar mask ids
    depth: np.ndarray       # (n,) parenthesis depth of A's tokens
    p_ids: np.ndarray       # (u,) a pool statement of C (empty: none)
    p_mask: np.ndarray      # (u,) its grammar mask ids


def encode_example(tok: Tokenizer, grammar: Grammar, a, c, max_tokens: int, max_content: int,
                   rng: random.Random) -> Example | None:
    """The labels of (A, C) (canonical Programs), or None: A equals C, is too long, or has no label."""
    text = to_text(a)
    toks = tokenize(text) if text else []
    if len(toks) > max_tokens:
        return None
    ids = tok.encode(toks)
    if tok.unk_id in ids:
        return None
    sites = Sites.of(a, is_canonical=True)
    table = SiteTable.of(a, sites, len(toks))
    steps = fixing_steps(a, c, sites)
    target = np.zeros_like(table.valid)
    content = []
    for s in steps:
        pair = table.locate(s.mutation)
        if pair is None:
            continue
        target[pair] = True
        sub = table.content_of(s.mutation)
        if sub is not None:
            content.append((pair, sub))
    if not target.any():
        return None
    c_slot, c_nt, c_ids, c_mask = -1, 0, np.zeros(0, np.int32), np.zeros(0, np.int32)
    if content:
        # the first content label half the time (nearest the root), else any: the decoder sees them all
        (slot, action), sub = content[0] if rng.random() < 0.5 else rng.choice(content)
        info = table.slot[(slot, action)]
        sub_ids = tok.encode(tokenize(to_text(sub)))
        masks = walk_masks(grammar, info.nt, info.scope, info.depth, max_content, sub_ids)
        if masks is not None:
            c_slot, c_nt = slot, info.nt
            c_ids, c_mask = np.asarray(sub_ids, np.int32), np.asarray(masks, np.int32)
    p_ids = p_mask = np.zeros(0, np.int32)
    pool = closed_statements(c)
    if pool:
        sub_ids = tok.encode(tokenize(rng.choice(pool)))
        masks = walk_masks(grammar, POOL, (), 0, max_content, sub_ids)
        if masks is not None:
            p_ids, p_mask = np.asarray(sub_ids, np.int32), np.asarray(masks, np.int32)
    return Example(np.asarray(ids, np.int32), table.valid, target, c_slot, c_nt, c_ids, c_mask,
                   np.asarray(paren_depth(toks), np.int8), p_ids, p_mask)


class Ring:
    """A fixed-size ring of encoded examples (newest replace oldest) with their images and split."""

    def __init__(self, capacity: int, max_tokens: int, max_content: int, size: int):
        L, T = max_tokens + 1, max_content
        self.cap, self.n, self.next = capacity, 0, 0
        self.a_ids = np.zeros((capacity, L), np.int32)
        self.depth = np.zeros((capacity, L), np.int8)
        self.a_len = np.zeros(capacity, np.int32)
        self.valid = np.zeros((capacity, L, N_ACTIONS), bool)
        self.target = np.zeros((capacity, L, N_ACTIONS), bool)
        self.c_slot = np.full(capacity, -1, np.int32)
        self.c_nt = np.zeros(capacity, np.int32)
        self.c_ids = np.full((capacity, T), -1, np.int32)
        self.c_mask = np.full((capacity, T), -1, np.int32)
        self.p_ids = np.full((capacity, T), -1, np.int32)
        self.p_mask = np.full((capacity, T), -1, np.int32)
        self.img_a = np.zeros((capacity, size, size), np.uint8)
        self.img_c = np.zeros((capacity, size, size), np.uint8)
        self.kind = np.zeros(capacity, np.int8)

    def add(self, ex: Example, img_a, img_c, kind: int, end_id: int) -> int:
        i = self.next
        n = len(ex.a_ids)
        self.a_ids[i] = 0
        self.a_ids[i, :n] = ex.a_ids
        self.a_ids[i, n] = end_id
        self.depth[i] = 0
        self.depth[i, :n] = ex.depth
        self.a_len[i] = n
        self.valid[i] = False
        self.valid[i, :n + 1] = ex.valid
        self.target[i] = False
        self.target[i, :n + 1] = ex.target
        self.c_slot[i], self.c_nt[i] = ex.c_slot, ex.c_nt
        self.c_ids[i] = -1
        self.c_mask[i] = -1
        t = len(ex.c_ids)
        self.c_ids[i, :t] = ex.c_ids
        self.c_mask[i, :t] = ex.c_mask
        self.p_ids[i] = -1
        self.p_mask[i] = -1
        u = len(ex.p_ids)
        self.p_ids[i, :u] = ex.p_ids
        self.p_mask[i, :u] = ex.p_mask
        self.img_a[i], self.img_c[i] = img_a, img_c
        self.kind[i] = kind
        self.next = (i + 1) % self.cap
        self.n = min(self.n + 1, self.cap)
        return i

    def batch(self, idx: np.ndarray, masks: torch.Tensor, device) -> dict:
        """Tensors of rows `idx` (lengths cut to the longest program and subtree in the batch). The
        decoder's rows: the examples' content labels, then their pool statements (from the end slot)."""
        L = int(self.a_len[idx].max()) + 1
        rows = np.flatnonzero(self.c_slot[idx] >= 0)
        prow = np.flatnonzero(self.p_ids[idx, 0] >= 0)
        ids = np.concatenate([self.c_ids[idx[rows]], self.p_ids[idx[prow]]])
        mask = np.concatenate([self.c_mask[idx[rows]], self.p_mask[idx[prow]]])
        T = max(1, int((ids >= 0).sum(1).max())) if len(ids) else 1
        t = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(device)   # noqa: E731
        return {
            "images": t(np.stack([self.img_a[idx], self.img_c[idx]], 1)),
            "a_ids": t(self.a_ids[idx, :L].astype(np.int64)), "a_len": t(self.a_len[idx].astype(np.int64)),
            "depth": t(self.depth[idx, :L].astype(np.int64)),
            "valid": t(self.valid[idx, :L]), "target": t(self.target[idx, :L]),
            "c_row": t(np.concatenate([rows, prow]).astype(np.int64)),
            "c_slot": t(np.concatenate([self.c_slot[idx[rows]], self.a_len[idx[prow]]]).astype(np.int64)),
            "c_nt": t(np.concatenate([self.c_nt[idx[rows]], np.full(len(prow), POOL)]).astype(np.int64)),
            "c_ids": t(ids[:, :T].astype(np.int64)), "c_mask": t(mask[:, :T].astype(np.int64)),
            "masks": masks.to(device),
        }


def _render(programs, size: int, library) -> tuple[np.ndarray, np.ndarray]:
    """(images, ok): ok when the program runs within the limits, on the canvas, drawing something."""
    if not programs:
        return np.zeros((0, size, size), np.uint8), np.zeros(0, bool)
    imgs, verdicts = logo.render_checked(list(programs), size=size, library=library)
    return np.asarray(imgs), verdicts == logo.Verdict.OK


class PolicyData:
    """Policy examples from a `data.source.ProgramSource` (the database), ready to batch.

    The interface `model.loop` drives: `refresh()` (read new entries, make a round of examples; returns
    the number of new entries), `counts(split)`, `entry_ids`, `last_id`, `batch(n, split, device)`,
    `close()`, `start_background()` (examples are made in the training thread; a no-op)."""

    def __init__(self, source, tokenizer: Tokenizer, max_tokens: int = 96, max_content: int = 48,
                 heldout: float = 0.1, seed: int = 0, per_refresh: int = 1024, capacity: int = 16384,
                 heldout_capacity: int = 1024, weights: dict | None = None, refresh_limit: int = 5000,
                 max_far: int = 4):
        self.source, self.tok = source, tokenizer
        self.max_tokens, self.max_content = max_tokens, max_content
        self.heldout = heldout
        self.rng = random.Random(seed)
        self.nrng = np.random.default_rng(seed)
        self.per_refresh, self.refresh_limit, self.max_far = per_refresh, refresh_limit, max_far
        self.weights = {k: float(v) for k, v in (weights or DEFAULT_WEIGHTS).items() if k in KINDS}
        self.size = source.image_size
        self.rings = {"train": Ring(capacity, max_tokens, max_content, self.size),
                      "heldout": Ring(heldout_capacity, max_tokens, max_content, self.size)}
        self.entry_ids: list[int] = []
        self.entry_prog: dict[int, object] = {}
        self.split_ids: dict[str, list[int]] = {"train": [], "heldout": []}
        self._images: list[np.ndarray] = []
        self._row: dict[int, int] = {}
        self._small = np.zeros((0, 64), np.float32)         # 8x8 area-averaged images: nearest neighbours
        self.last_id = 0
        self._library_text = None
        self.library = None
        self.grammar = Grammar(tokenizer)
        self._masks = None
        self.stats = {k: 0 for k in KINDS}
        #: (A program, C entry id) of each held-out ring row (the held-out ring is filled once, not cycled)
        self.heldout_meta: list[tuple[object, int]] = []

    # ---- the database -------------------------------------------------------------------------------
    def _refresh_library(self) -> None:
        got = follow_library(self.source, self.tok, self._library_text)
        if got is not None:
            self._library_text, self.library = got
            self.grammar = Grammar(self.tok, self.library)   # new names: new masks (old rows are dropped)
            self._masks = None
            for r in self.rings.values():
                r.n = r.next = 0
            self.heldout_meta = []

    def refresh(self) -> int:
        """Read new entries, then make `per_refresh` training examples (and held-out ones until the
        held-out ring is full). Returns the number of new entries."""
        self._refresh_library()
        rows = []
        while True:                             # every new entry, then one round of examples
            got = self.source.heads(min_id=self.last_id + 1, limit=self.refresh_limit)
            if not got:
                break
            rows += got
            self.last_id = max(self.last_id, got[-1][0])
        new = []
        if rows:
            for eid, text in rows:
                try:
                    p = canonical(logo.parse(text))
                except (logo.LogoError, RecursionError):
                    continue
                if len(tokenize(to_text(p))) > self.max_tokens:
                    continue
                new.append((eid, p))
        if new:
            imgs = np.asarray(self.source.images([e for e, _ in new]))
            for (eid, p), img in zip(new, imgs):
                self._row[eid] = len(self._images)
                self._images.append(img)
                self.entry_prog[eid] = p
                self.entry_ids.append(eid)
                self.split_ids["heldout" if is_heldout(eid, self.heldout) else "train"].append(eid)
            small = imgs.reshape(len(imgs), 8, self.size // 8, 8, self.size // 8).mean((2, 4)).reshape(len(imgs), 64)
            self._small = np.concatenate([self._small, small.astype(np.float32) / 255.0])
        self.make("train", self.per_refresh)
        h = self.rings["heldout"]
        if h.n < h.cap:
            self.make("heldout", min(self.per_refresh, h.cap - h.n))
        return len(new)

    def counts(self, split: str = "train") -> dict[str, int]:
        r = self.rings[split]
        kinds = np.bincount(r.kind[:r.n], minlength=len(KINDS))
        return {k: int(kinds[i]) for i, k in enumerate(KINDS)}

    def image(self, eid: int) -> np.ndarray:
        return self._images[self._row[eid]]

    # ---- making examples ----------------------------------------------------------------------------
    def make(self, split: str, n: int) -> int:
        """Make about `n` examples into the split's ring; returns how many were added."""
        ids = self.split_ids[split]
        if not ids or n <= 0:
            return 0
        kinds = [k for k in KINDS if self.weights.get(k, 0) > 0]
        w = [self.weights[k] for k in kinds]
        per = dict.fromkeys(kinds, 0)
        for k in self.rng.choices(kinds, w, k=n):
            per[k] += 1
        pairs: list[tuple[object, int, str]] = []      # (A program, C entry, kind)
        rng = self.rng
        for kind, m in per.items():
            if m:
                cs = [ids[rng.randrange(len(ids))] for _ in range(m)]
                pairs += getattr(self, f"_{kind}")(cs, split)
        return self._encode(pairs, split)

    def _far(self, cs, split, rng=None):
        rng = rng or self.rng
        content = RandomContent(rng, self.library)
        out = []
        for c in cs:
            a = self.entry_prog[c]
            for _ in range(rng.randint(1, self.max_far)):
                t = mutate(a, rng, library=self.library, max_tokens=self.max_tokens, content=content,
                           canonical_input=True)
                if t is not None:
                    a = canonical(logo.parse(t))
            out.append((a, c, "far"))
        return out

    def _walk(self, cs, split):
        rng = self.rng
        half = len(cs) // 2
        starts = self._far(cs[:half], split) + self._random(cs[half:], split)
        out = []
        for a, c, _ in starts:
            steps = path(a, self.entry_prog[c], max_steps=16)
            if len(steps) >= 2:
                out.append((steps[rng.randrange(len(steps) - 1)], c, "walk"))
        return out

    def _prefix(self, cs, split):
        out = []
        for c in cs:
            out.append((random_prefix(self.entry_prog[c], self.rng), c, "prefix"))
        return out

    def _neighbour(self, cs, split):
        """A among the 8 stored images nearest to C's (8x8 area averages; the split's own entries)."""
        pool = self.split_ids[split]
        if len(pool) < 2:
            return []
        rows = np.array([self._row[e] for e in pool])
        small = self._small[rows]
        q = self._small[[self._row[c] for c in cs]]
        d = (q ** 2).sum(1)[:, None] + (small ** 2).sum(1)[None] - 2 * q @ small.T
        k = min(9, len(pool))
        near = np.argpartition(d, k - 1, axis=1)[:, :k]
        out = []
        for c, cand in zip(cs, near):
            cand = [pool[i] for i in cand if pool[i] != c]
            if cand:
                out.append((self.entry_prog[cand[self.rng.randrange(len(cand))]], c, "neighbour"))
        return out

    def _random(self, cs, split):
        from logo.generate import Generator, GeneratorSettings
        g = Generator(self.rng, GeneratorSettings(p_call=0.3 if self.library else 0.0), self.library or [])
        return [(canonical(g.program()), c, "random") for c in cs]

    def _encode(self, pairs, split: str) -> int:
        """Render the A programs, encode the examples, add them to the ring."""
        nonempty = [i for i, (a, _, _) in enumerate(pairs) if a.body]
        imgs, ok = _render([pairs[i][0] for i in nonempty], self.size, self.library)
        img_of = {i: (img, good) for i, img, good in zip(nonempty, imgs, ok)}
        blank = np.zeros((self.size, self.size), np.uint8)
        ring = self.rings[split]
        added = 0
        for i, (a, c, kind) in enumerate(pairs):
            img, good = img_of.get(i, (blank, True))
            if not good:
                continue
            ex = encode_example(self.tok, self.grammar, a, self.entry_prog[c], self.max_tokens, self.max_content,
                                self.rng)
            if ex is None:
                continue
            if split == "heldout" and ring.n == ring.cap:
                break
            row = ring.add(ex, img, self.image(c), KINDS.index(kind), self.tok.end_id)
            if split == "heldout":
                self.heldout_meta[row:row + 1] = [(a, c)]
            self.stats[kind] += 1
            added += 1
        return added

    # ---- batches ------------------------------------------------------------------------------------
    def masks(self) -> torch.Tensor:
        """The grammar's mask table as a bool tensor (rows grow as new masks appear)."""
        if self._masks is None or self._masks.shape[0] != len(self.grammar.masks):
            self._masks = torch.from_numpy(self.grammar.mask_table(max(len(self.tok), 1)))
        return self._masks

    def batch(self, n: int, split: str = "train", device="cpu", idx: np.ndarray | None = None) -> dict:
        ring = self.rings[split]
        if ring.n == 0:
            raise RuntimeError(f"no {split} examples yet")
        if idx is None:
            idx = self.nrng.integers(0, ring.n, n)
        return ring.batch(np.asarray(idx), self.masks(), device)

    def start_background(self) -> None:
        """Examples are made in the training thread (a refresh takes a small share of a step's time)."""

    def close(self) -> None:
        pass


__all__: Sequence[str] = ("KINDS", "DEFAULT_WEIGHTS", "Example", "encode_example", "PolicyData", "statement_keys",
                          "closed_statements")
