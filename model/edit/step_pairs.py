"""The sampler's step pair kinds: far-target steps, prefix steps and dream hindsight (see `model.edit.steps`,
`model.edit.hindsight`).

- "far":       A = A_j of a chain of drawing mutations from a stored program C, B = A_{j-1} (one step
               back), shown image A_j and the image of **C** (the far target), held out with C.
- "prefix":    A = the first j top-level statements of a stored program, B = the first j+1, shown the
               image of the whole program.
- "hindsight": A = p_i, B = p_{i+1} on a search path that `dream` logged, shown the image of the path's
               best program (and, for solved targets, the target image), held out by the best program.

Making pairs has two halves: `prepare_*` does the slow part (mutating, rendering) from plain inputs and
touches no sampler state, so it can run in the sampler's background thread; `commit_*` writes the
images and encoded pairs into the sampler's main pool (main thread only). `add_*` does both at once.
"""
from __future__ import annotations

import random
import zlib

import numpy as np


from .steps import Chain, draws, far_chains, far_pairs, prefixes, prefix_steps
from ..tokenizer import join

STEP_KINDS = ("far", "prefix", "hindsight")


# ---- far-target steps ----------------------------------------------------------------------------------

def far_inputs(sampler, n_chains: int, rng: random.Random):
    """(entry ids, texts, images) of `n_chains` random stored programs: read in the main thread."""
    ids = sampler.entry_ids
    if n_chains <= 0 or not ids:
        return [], [], None
    picked = [ids[rng.randrange(len(ids))] for _ in range(n_chains)]
    texts = [join(sampler.entry_tokens[e]) for e in picked]
    images = sampler.images[[sampler.entry_row[e] for e in picked]].copy()
    return picked, texts, images


def prepare_far(picked, texts, images, rng: random.Random, max_k: int, size: int, library,
                max_tokens: int) -> tuple[list, list[Chain]]:
    """The chains (slow: mutations and their renders, batched per chain step); no sampler state."""
    if not picked:
        return picked, []
    return picked, far_chains(texts, rng, max_k, size, library, max_tokens, images=images)


def commit_far(sampler, prepared) -> int:
    picked, chains = prepared
    added = 0
    for c in chains:
        eid = picked[c.origin]
        if eid not in sampler.entry_row:
            continue
        rows = sampler.add_images(np.stack(c.images[1:]))
        c_row = sampler.entry_row[eid]
        for a, b, j in far_pairs(c):
            added += sampler.add_pair("far", a, b, int(rows[j - 1]), c_row, eid)
    return added


def add_far_pairs(sampler, n_chains: int, max_k: int = 8) -> int:
    """Build `n_chains` chains from random stored programs and add every step back as a "far" pair."""
    rng = random.Random(sampler.rng.random())
    picked, texts, images = far_inputs(sampler, n_chains, rng)
    return commit_far(sampler, prepare_far(picked, texts, images, rng, max_k, sampler.size, sampler.library,
                                           sampler.max_tokens))


# ---- prefix steps ---------------------------------------------------------------------------------------

def prefix_inputs(sampler, entry_ids, rng: random.Random, limit: int = 1000):
    ids = list(entry_ids)
    if len(ids) > limit:
        ids = rng.sample(ids, limit)
    return [(eid, join(sampler.entry_tokens[eid])) for eid in ids]


def prepare_prefix(items, size: int, library):
    """[(entry id, A tokens, B tokens, image of A or None for the empty program)]; no sampler state."""
    steps, texts, firsts = [], [], []
    for eid, text in items:
        st = prefix_steps(text)
        if len(st) < 2:
            continue
        pre = prefixes(text)
        firsts.append((eid, st[0][0], st[0][1], None))     # from the empty program: the blank image
        for (a, b, j) in st[1:]:
            steps.append((eid, a, b))
            texts.append(pre[j])
    out = list(firsts)
    if steps:
        imgs, ok = draws(texts, size, library)
        out += [(eid, a, b, imgs[i]) for i, (eid, a, b) in enumerate(steps) if ok[i]]
    return out


def commit_prefix(sampler, prepared) -> int:
    added = 0
    drawn = [p for p in prepared if p[3] is not None and p[0] in sampler.entry_row]
    rows = sampler.add_images(np.stack([p[3] for p in drawn])) if drawn else []
    row_of = {id(p): int(r) for p, r in zip(drawn, rows)}
    for p in prepared:
        eid, a, b, img = p
        if eid not in sampler.entry_row:
            continue
        img_a = 0 if img is None else row_of[id(p)]
        added += sampler.add_pair("prefix", a, b, img_a, sampler.entry_row[eid], eid)
    return added


def add_prefix_pairs(sampler, entry_ids, limit: int = 1000) -> int:
    """Prefix pairs for up to `limit` of `entry_ids` that have at least two top-level statements."""
    rng = random.Random(sampler.rng.random())
    return commit_prefix(sampler, prepare_prefix(prefix_inputs(sampler, entry_ids, rng, limit), sampler.size,
                                                 sampler.library))


# ---- dream hindsight ------------------------------------------------------------------------------------

def hindsight_entry(best_text: str) -> int:
    """A stand-in entry id for a path (for the held-out split only): a hash of its best program."""
    return zlib.crc32(best_text.encode()) | (1 << 40)


def prepare_hindsight(paths, size: int, library):
    """[(split id, A tokens, B tokens, image A, target image)] for the logged paths; no sampler state."""
    texts, index = [], {}
    for p in paths:
        for t in p.programs:
            if t not in index:
                index[t] = len(texts)
                texts.append(t)
    if not texts:
        return []
    imgs, ok = draws(texts, size, library)
    blank = np.zeros((size, size), np.uint8)
    out = []
    for p in paths:
        best = p.programs[-1]
        if best not in index or not ok[index[best]]:
            continue
        goals = [imgs[index[best]]]
        if p.solved and p.target_image is not None:
            tgt = _resize_nearest(p.target_image, size)
            if not np.array_equal(tgt, goals[0]):
                goals.append(tgt)
        split_id = hindsight_entry(best)
        for i, a, b in p.steps():
            if a and not ok[index[p.programs[i]]]:
                continue
            img_a = imgs[index[p.programs[i]]] if a else blank
            for g in goals:
                out.append((split_id, a, b, img_a, g))
    return out


def _resize_nearest(img: np.ndarray, size: int) -> np.ndarray:
    """A logged target image at the sampler's size (nearest neighbour; the same size passes through)."""
    img = np.asarray(img, np.uint8)
    if img.shape[0] == size:
        return img
    idx = (np.arange(size) * img.shape[0]) // size
    return img[idx][:, idx]


def commit_hindsight(sampler, prepared) -> int:
    if not prepared:
        return 0
    rows_a = sampler.add_images(np.stack([p[3] for p in prepared]))
    rows_g = sampler.add_images(np.stack([p[4] for p in prepared]))
    added = 0
    for p, ra, rg in zip(prepared, rows_a, rows_g):
        added += sampler.add_pair("hindsight", p[1], p[2], int(ra), int(rg), p[0])
    return added


