"""The sampler's step pair kinds: far-target steps and prefix steps (see `model.steps`).

- "far":    A = A_j of a chain of drawing mutations from a stored program C, B = A_{j-1} (one step
            back), shown image A_j and the image of **C** (the far target), held out with C.
- "prefix": A = the first j top-level statements of a stored program, B = the first j+1, shown the
            image of the whole program.

Both are called from `PairSampler.refresh` and write through its `_add_images` / `_add_pair`, so the
encoded pairs sit in the sampler's main pool like the other kinds.
"""
from __future__ import annotations

import random

import numpy as np

from .steps import draws, far_chains, far_pairs, prefixes, prefix_steps
from .tokenizer import join

STEP_KINDS = ("far", "prefix")


def add_far_pairs(sampler, n_chains: int, max_k: int = 8) -> int:
    """Build `n_chains` chains from random stored programs and add every step back as a "far" pair."""
    ids = sampler.entry_ids
    if n_chains <= 0 or not ids:
        return 0
    rng = random.Random(sampler.rng.random())
    picked = [ids[rng.randrange(len(ids))] for _ in range(n_chains)]
    texts = [join(sampler.entry_tokens[e]) for e in picked]
    images = sampler.images[[sampler.entry_row[e] for e in picked]]
    chains = far_chains(texts, rng, max_k, sampler.size, sampler.library, sampler.max_tokens, images=images)
    added = 0
    for c in chains:
        eid = picked[c.origin]
        rows = sampler._add_images(np.stack(c.images[1:]))
        c_row = sampler.entry_row[eid]
        for a, b, j in far_pairs(c):
            added += sampler._add_pair("far", a, b, int(rows[j - 1]), c_row, eid)
    return added


def add_prefix_pairs(sampler, entry_ids, limit: int = 1000) -> int:
    """Prefix pairs for up to `limit` of `entry_ids` that have at least two top-level statements."""
    rng = random.Random(sampler.rng.random())
    ids = list(entry_ids)
    if len(ids) > limit:
        ids = rng.sample(ids, limit)
    steps, texts = [], []
    for eid in ids:
        st = prefix_steps(join(sampler.entry_tokens[eid]))
        if len(st) < 2:
            continue
        pre = prefixes(join(sampler.entry_tokens[eid]))
        for (a, b, j) in st[1:]:                 # j = 0 (empty -> first statement) needs no image
            steps.append((eid, a, b))
            texts.append(pre[j])
    if not steps:
        return 0
    imgs, ok = draws(texts, sampler.size, sampler.library)
    good = np.flatnonzero(ok)
    rows = sampler._add_images(imgs[good]) if good.size else []
    added = 0
    for r, i in zip(rows, good):
        eid, a, b = steps[i]
        added += sampler._add_pair("prefix", a, b, int(r), sampler.entry_row[eid], eid)
    for eid in ids:                               # the first statement, from the empty program
        st = prefix_steps(join(sampler.entry_tokens[eid]))
        if len(st) >= 2:
            added += sampler._add_pair("prefix", st[0][0], st[0][1], 0, sampler.entry_row[eid], eid)
    return added


def step_closer(images_a, images_new, ok, targets) -> int:
    """How many proposed programs (that ran: `ok`) draw closer to their target than A does
    (blurred L2, `dream.score`'s graded distance): the search's own measure of a useful step."""
    from dream.score import blur
    ta = blur(np.asarray(targets))
    da = ((blur(np.asarray(images_a)) - ta) ** 2).reshape(len(ta), -1).sum(1)
    dn = ((blur(np.asarray(images_new)) - ta) ** 2).reshape(len(ta), -1).sum(1)
    return int(((dn < da) & np.asarray(ok, bool)).sum())
