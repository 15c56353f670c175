"""`ProgramSource`: what the pair sampler and the dream loop read from a program-image store.

Both `data.db.Database` (SQLite, on disk) and `data.memory.MemorySource` (in memory, for tests and
quick runs) satisfy it, so the training code never asks which one it has.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class ProgramSource(Protocol):
    """Entries (id from 1, a head program, its stored equivalents, its image) read in id order."""

    image_size: int

    def __len__(self) -> int:
        """Number of entries."""

    def max_entry_id(self) -> int:
        """The largest entry id (0 when empty); new entries get larger ids."""

    def heads(self, min_id: int = 0, limit: int | None = None) -> list[tuple[int, str]]:
        """(entry id, head program text) of entries with id >= min_id, in id order."""

    def images(self, entry_ids: Sequence[int]) -> np.ndarray:
        """uint8 (n, image_size, image_size) images of the given entries."""

    def get(self, entry_id: int):
        """The entry: has `.head`, `.equivalents` (head first) and `.image`."""

    def library_text(self) -> str:
        """The text of the library's definitions ("" for none)."""
