"""`MemorySource`: the read side of `data.db.Database` over programs held in memory.

For tests, quick runs (`train --random-programs`) and callers that have no database file. It
satisfies `data.source.ProgramSource`. Programs that draw exactly the same image share an entry;
the head is the shortest (by canonical tokens).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import logo
from .generate import sort_key


@dataclass
class MemoryEntry:
    """One entry: like `data.db.Entry`, with only the fields the readers use."""
    entry_id: int
    head: str
    equivalents: list
    image: np.ndarray
    source: str = "memory"
    created: float = 0.0


class MemorySource:
    """Programs in memory with the read API of `data.db.Database` (see `data.source.ProgramSource`)."""

    def __init__(self, programs=(), image_size: int = 32, library_text: str = ""):
        self.image_size = image_size
        self._library_text = library_text
        self.entries: list[MemoryEntry] = []
        self._by_image: dict[bytes, int] = {}
        self.add(programs)

    def add(self, programs) -> int:
        texts = [p if isinstance(p, str) else logo.to_text(p) for p in programs]
        lib = logo.parse_library(self._library_text)
        if not texts:
            return 0
        images, ok = logo.render_batch(texts, size=self.image_size, library=lib, errors="blank")
        added = 0
        for t, img, good in zip(texts, images, ok):
            if not good or not img.any():
                continue
            key = img.tobytes()
            if key in self._by_image:
                e = self.entries[self._by_image[key] - 1]
                if t in e.equivalents:
                    continue
                e.equivalents.append(t)
                e.equivalents.sort(key=sort_key)
                e.head = e.equivalents[0]
            else:
                eid = len(self.entries) + 1
                self.entries.append(MemoryEntry(eid, t, [t], img))
                self._by_image[key] = eid
                added += 1
        return added

    def __len__(self) -> int:
        return len(self.entries)

    def max_entry_id(self) -> int:
        return len(self.entries)

    def heads(self, min_id: int = 0, limit: int | None = None):
        out = [(e.entry_id, e.head) for e in self.entries[max(min_id - 1, 0):] if e.entry_id >= min_id]
        return out if limit is None else out[:limit]

    def images(self, entry_ids) -> np.ndarray:
        if len(entry_ids) == 0:
            return np.zeros((0, self.image_size, self.image_size), np.uint8)
        return np.stack([self.entries[i - 1].image for i in entry_ids])

    def get(self, entry_id: int) -> MemoryEntry:
        return self.entries[entry_id - 1]

    def library_text(self) -> str:
        return self._library_text
