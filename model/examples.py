"""What both models' training examples share: which database entries are held out (`is_heldout`, one
hash, so the edit model's pairs and the policy's examples split alike), the source's library as it grows
(`follow_library`), and the search's measure of a useful step (`step_closer`), by which both evaluations
score sampled edits."""
from __future__ import annotations

import numpy as np

import logo
from logo.images import blur


def is_heldout(entry_id: int, frac: float) -> bool:
    """Whether an entry is in the held-out split: a fixed hash of its id, so every run agrees."""
    return ((int(entry_id) * 2654435761) % 1_000_003) / 1_000_003 < frac


def step_closer(images_a, images_new, ok, targets) -> int:
    """How many proposed programs (that ran: `ok`) draw closer to their target than A does
    (blurred L2 as `dream.search.score`'s graded distance, sigma 1; the blur is `logo.images.blur`):
    the search's own measure of a useful step."""
    ta = blur(np.asarray(targets))
    da = ((blur(np.asarray(images_a)) - ta) ** 2).reshape(len(ta), -1).sum(1)
    dn = ((blur(np.asarray(images_new)) - ta) ** 2).reshape(len(ta), -1).sum(1)
    return int(((dn < da) & np.asarray(ok, bool)).sum())


def follow_library(source, tokenizer, known_text: str | None):
    """(text, procedures) of the source's library when its text is not `known_text` (its procedure names
    are added to `tokenizer`), else None: what the example makers do when a library is learned."""
    text = source.library_text()
    if text == known_text:
        return None
    library = logo.parse_library(text)
    if library:
        tokenizer.add_library(library)
    return text, library
