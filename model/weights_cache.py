"""Small networks trained on first use and kept in the user's cache (the digit classifier, the statement net).

Why: a few seconds to minutes of CPU training is cheaper to ship than weights for every change of data,
and cheaper to keep than to repeat. Files go under `$XDG_CACHE_HOME/logo-synth/` (else
`~/.cache/logo-synth/`), written atomically; an unwritable cache only costs the next run the training.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch


def cache_path(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "logo-synth" / name


def train_on_one_thread(make: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """`make()` with torch on one thread (training beside searches), the thread count restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return make()
    finally:
        torch.set_num_threads(threads)


def save_weights(net: torch.nn.Module, path: Path, what: str, verbose: bool = False) -> None:
    """Write `net`'s weights to `path` atomically; say so (when `verbose`) if it cannot."""
    try:
        from logo.files import atomic_write
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as f:
            torch.save(net.state_dict(), f)
    except OSError as e:
        if verbose:
            print(f"{what}: cannot cache it at {path}: {e}")
