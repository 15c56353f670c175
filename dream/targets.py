"""What the dreamer tries to draw: MNIST training digits, DreamCoder *training* tasks, database images.

Every target carries two images of the same drawing: `image` at the model's (database's) size and
`image28` at 28x28, where "solved" is decided. Evaluation data is never a dream target: the MNIST
held-out split and the DreamCoder test split are only read by `logo solve`.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import logo
from logo.library import SOLVE_SIZE

from .score import BadImage, load_target_image, resize

KINDS = ("mnist", "tasks", "db")


@dataclass
class Target:
    name: str
    kind: str                      # "mnist", "tasks", "db" or "png"
    image: np.ndarray              # (S, S) uint8, the model's size
    image28: np.ndarray            # (SOLVE_SIZE, SOLVE_SIZE) uint8
    known_program: str | None = None   # tasks: the reference program; db: the current head
    entry_id: int | None = None
    extra: dict = field(default_factory=dict)


def parse_weights(spec: str | None) -> dict[str, float]:
    """"mnist=1,tasks=1,db=1" -> {"mnist": 1.0, ...}; unknown kinds or negative weights are errors."""
    if not spec:
        return {"mnist": 1.0, "tasks": 1.0, "db": 1.0}
    out = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in KINDS:
            raise ValueError(f"unknown target kind {name!r} in --targets (kinds: {', '.join(KINDS)})")
        try:
            w = float(value) if value else 1.0
        except ValueError:
            raise ValueError(f"bad weight {value!r} for {name} in --targets") from None
        if w < 0:
            raise ValueError(f"weight for {name} must not be negative")
        out[name] = w
    if not any(out.values()):
        raise ValueError("--targets gives every kind weight 0")
    return out


def task_targets(split: str | None, size: int) -> list[Target]:
    from data import dreamcoder_tasks
    t28 = dreamcoder_tasks(split, size=SOLVE_SIZE)
    ts = t28 if size == SOLVE_SIZE else dreamcoder_tasks(split, size=size)
    return [Target(a.name, "tasks", b.image, a.image, logo.to_text(a.program), extra={"split": a.split,
                                                                                     "family": a.family})
            for a, b in zip(t28, ts)]


def mnist_targets(split: str, size: int, root=None, limit: int | None = None) -> list[Target]:
    """MNIST digits of a split; with `limit`, that many digits evenly spaced over the split (the bundled
    digits are sorted by class, so this takes every class)."""
    from data import mnist
    x28 = mnist(root, split, SOLVE_SIZE)
    xs = x28 if size == SOLVE_SIZE else mnist(root, split, size)
    if limit is None or limit >= len(x28):
        idx = range(len(x28))
    else:
        idx = sorted(set(np.linspace(0, len(x28) - 1, max(limit, 1)).round().astype(int).tolist()))
    return [Target(f"mnist-{split}-{i}", "mnist", xs[i], x28[i]) for i in idx]


def png_targets(folder: str | Path, size: int) -> tuple[list[Target], list[tuple[str, str]]]:
    """Every image file in `folder` (sorted by name). Returns (targets, [(file, error), ...])."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a directory of images")
    targets, errors = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            img28 = load_target_image(path, SOLVE_SIZE)
            imgs = img28 if size == SOLVE_SIZE else load_target_image(path, size)
        except BadImage as e:
            errors.append((str(path), str(e)))
            continue
        targets.append(Target(path.name, "png", imgs, img28, extra={"file": str(path)}))
    return targets, errors


class TargetSampler:
    """Draws dream targets by kind with the given weights (kinds with no data drop out)."""

    def __init__(self, weights: dict[str, float], db=None, image_size: int = 32, seed: int | None = None,
                 mnist_root=None, library=None):
        self.rng = random.Random(seed)
        self.db = db
        self.size = image_size
        self.library = library
        self.weights = {k: w for k, w in weights.items() if w > 0}
        self._mnist = None
        self._tasks = None
        if "mnist" in self.weights:
            from data import mnist
            self._mnist = (mnist(mnist_root, "train", SOLVE_SIZE), mnist(mnist_root, "train", image_size))
        if "tasks" in self.weights:
            self._tasks = task_targets("train", image_size)

    def _db_target(self) -> Target | None:
        if self.db is None or len(self.db) == 0:
            return None
        top = self.db.max_entry_id()
        for _ in range(5):
            eid = self.rng.randint(1, max(1, top))
            try:
                e = self.db.get(eid)
            except (KeyError, LookupError, IndexError):
                continue
            if e is None:
                continue
            try:
                img28 = logo.render(e.head, SOLVE_SIZE, library=self.library)
            except logo.LogoError:
                continue
            image = np.asarray(e.image, np.uint8)
            if image.shape != (self.size, self.size):
                image = resize(image, self.size)
            return Target(f"db-{e.entry_id}", "db", image, img28, e.head, e.entry_id)
        return None

    def next(self) -> Target | None:
        kinds = [k for k in self.weights if not (k == "db" and (self.db is None or len(self.db) == 0))]
        if not kinds:
            return None
        kind = self.rng.choices(kinds, [self.weights[k] for k in kinds])[0]
        if kind == "mnist":
            x28, xs = self._mnist
            i = self.rng.randrange(len(x28))
            return Target(f"mnist-train-{i}", "mnist", xs[i], x28[i])
        if kind == "tasks":
            return self.rng.choice(self._tasks)
        return self._db_target() or (self.next() if len(kinds) > 1 else None)
