"""The 160 DreamCoder LOGO tasks (80 train / 80 test), bundled as `dreamcoder_logo_tasks.json`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

import logo


@dataclass(frozen=True)
class Task:
    name: str
    split: str            # "train" or "test"
    family: str
    program: logo.Program
    image: np.ndarray     # 28x28 uint8, drawn by our renderer


@lru_cache(maxsize=4)
def all_tasks(size: int = 28) -> tuple[Task, ...]:
    """All 160 tasks in file order, drawn at `size` pixels (cached: the tuple is shared, do not mutate)."""
    raw = json.loads(resources.files("data").joinpath("dreamcoder_logo_tasks.json").read_text())
    programs = [logo.from_dreamcoder(t["source"]) for t in raw]
    images = logo.render_batch(programs, size=size)
    return tuple(Task(t["name"], t["split"], t.get("family", ""), p, img)
                 for t, p, img in zip(raw, programs, images))


def dreamcoder_tasks(split: str | None = None, size: int = 28) -> list[Task]:
    """All 160 tasks (or one split: "train"/"test"), each with its program and target image."""
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be 'train', 'test' or None, not {split!r}")
    return [t for t in all_tasks(size) if split is None or t.split == split]


@lru_cache(maxsize=4)
def laps_tasks(size: int = 28) -> tuple[Task, ...]:
    """The 200 training tasks of the LAPS LOGO set (`logo_unlimited_200`, Wong et al., ICML 2021: the set LILO,
    ReGAL and Stitch use), bundled as `laps_logo_train.json` (name and DreamCoder-syntax program). Only the
    train split is bundled: its 111 test tasks are held out. Cached: the tuple is shared, do not mutate."""
    raw = json.loads(resources.files("data").joinpath("laps_logo_train.json").read_text())
    programs = [logo.from_dreamcoder(t["program"]) for t in raw]
    images = logo.render_batch(programs, size=size)
    return tuple(Task(t["name"], "train", "laps", p, img) for t, p, img in zip(raw, programs, images))
