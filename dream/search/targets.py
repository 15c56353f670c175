"""What the search tries to draw: dream targets (MNIST training digits, DreamCoder *training* tasks, the
LAPS LOGO training tasks, database images) and evaluation targets (`load_targets`: DreamCoder tasks, held-out MNIST digits, a
folder of images, or a JSON list of programs a user brings as a benchmark).

Every target carries two images of the same drawing: `image` at the model's (database's) size and
`image28` at 28x28, where "solved" is decided. Evaluation data is never a dream target: the MNIST
held-out split and the DreamCoder test split are only read by `logo solve` and the benchmarks.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import logo
from logo.images import BadImage, load_target_image, resize
from logo.library import SOLVE_SIZE

KINDS = ("mnist", "tasks", "laps", "db")
NAMED_SETS = ("dreamcoder", "mnist-heldout")
#: a target file with one of these endings is one image (any other file is read as a JSON task list)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")


class NoTargets(ValueError):
    """A target set with nothing to solve in it (an empty folder or task list, a limit of 0, every file
    unreadable): a clear error rather than a run that reports "solved 0/0"."""


@dataclass
class Target:
    name: str
    kind: str                      # "mnist", "tasks", "db", "png" or "json"
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


def laps_targets(size: int) -> list[Target]:
    """The 200 LAPS LOGO training tasks (`data.laps_tasks`) as targets of kind "tasks" (solved = exact, like
    DreamCoder's), named `laps-NAME` so that no name collides with a DreamCoder task's."""
    from data import laps_tasks
    t28 = laps_tasks(SOLVE_SIZE)
    ts = t28 if size == SOLVE_SIZE else laps_tasks(size)
    return [Target(f"laps-{a.name}", "tasks", b.image, a.image, logo.to_text(a.program),
                   extra={"split": "train", "family": "laps"}) for a, b in zip(t28, ts)]


def mnist_targets(split: str, size: int, root=None, limit: int | None = None) -> list[Target]:
    """MNIST digits of a split; with `limit`, that many digits evenly spaced over the split (the bundled
    digits are sorted by class, so this takes every class). The bundled digits carry their digit as
    `extra["label"]` (`logo solve` reports whether the digit classifier reads the drawing found as it); digits
    from a torchvision folder (`root`) come without one."""
    from data import mnist
    x28 = mnist(root, split, SOLVE_SIZE)
    xs = x28 if size == SOLVE_SIZE else mnist(root, split, size)
    idx = _spread(len(x28), limit)
    labels = None
    if root is None:
        from data.mnist import labels as digit_labels
        labels = digit_labels(split)
    return [Target(f"mnist-{split}-{i}", "mnist", xs[i], x28[i],
                   extra={} if labels is None else {"label": int(labels[i])}) for i in idx]


def png_targets(folder: str | Path, size: int) -> tuple[list[Target], list[tuple[str, str]]]:
    """Every image file in `folder` (sorted by name), or the one image file `folder`. Returns (targets,
    [(file, error), ...])."""
    folder = Path(folder)
    if not folder.is_dir() and not is_image_file(folder):
        raise FileNotFoundError(f"{folder}: not a directory of images")
    targets, errors = [], []
    for path in (_image_files(folder) if folder.is_dir() else [folder]):
        try:
            img28 = load_target_image(path, SOLVE_SIZE)
            imgs = img28 if size == SOLVE_SIZE else load_target_image(path, size)
        except BadImage as e:
            errors.append((str(path), str(e)))
            continue
        targets.append(Target(path.name, "png", imgs, img28, extra={"file": str(path)}))
    return targets, errors


def _parse_either(text: str) -> tuple[logo.Program, str]:
    """A program in our syntax or DreamCoder's (ours first): (program, "ours" | "dreamcoder")."""
    try:
        return logo.parse(text), "ours"
    except logo.LogoError as ours:
        try:
            return logo.from_dreamcoder(text), "dreamcoder"
        except logo.LogoError as theirs:
            raise ValueError(f"the program is neither our syntax ({ours}) nor DreamCoder's ({theirs})") from None


def json_targets(path: str | Path, size: int) -> tuple[list[Target], list[tuple[str, str]]]:
    """The programs of a JSON task list, drawn: `[{"name": ..., "program": ...}, ...]`.

    A program is in our syntax or DreamCoder's (detected per program; "source", the key of DreamCoder's
    and our bundled task lists, is read as "program"), so a user can bring their own benchmark. A file
    that is not such a list raises ValueError naming it; an entry that cannot be used (no name, a
    repeated name, a program that does not parse, fails to run or draws nothing) is returned in the
    errors as ("FILE entry N", "FILE entry N ('name'): what is wrong") and the other entries are still targets.
    Returns (targets, [(where, error), ...]).
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise FileNotFoundError(f"{path}: cannot read the task list: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: neither an image file (they end in {', '.join(IMAGE_SUFFIXES)}) nor a JSON task "
                         "list (it is not text)") from None
    except ValueError as e:
        raise ValueError(f"{path}: not a JSON task list: {e}") from None
    if not isinstance(raw, list):
        raise ValueError(f'{path}: a task list is a JSON list of {{"name": ..., "program": ...}} objects, '
                         f"not a {type(raw).__name__}")
    if not raw:
        raise NoTargets(f"{path}: no targets: the task list is empty")
    targets, errors, seen = [], [], set()
    for i, entry in enumerate(raw):
        entry_at = where = f"{path} entry {i}"
        try:
            if not isinstance(entry, dict):
                raise ValueError(f'not a {{"name": ..., "program": ...}} object but a {type(entry).__name__}')
            name, text = entry.get("name"), entry.get("program", entry.get("source"))
            if not isinstance(name, str) or not name.strip():
                raise ValueError('no "name" (a non-empty string)')
            where = f"{entry_at} ({name!r})"
            if name in seen:
                raise ValueError("the name is used by an earlier entry")
            if not isinstance(text, str) or not text.strip():
                raise ValueError('no "program" (a non-empty string)')
            program, syntax = _parse_either(text)
            try:
                img28 = logo.render(program, SOLVE_SIZE)
                imgs = img28 if size == SOLVE_SIZE else logo.render(program, size)
            except logo.LogoError as e:
                raise ValueError(f"the program does not run: {e}") from None
            if not img28.any():
                raise ValueError("the program draws nothing")
        except ValueError as e:
            errors.append((entry_at, f"{where}: {e}"))
            continue
        seen.add(name)
        targets.append(Target(name, "json", imgs, img28, logo.to_text(program),
                              extra={"file": str(path), "syntax": syntax}))
    return targets, errors


def _spread(n: int, limit: int | None) -> list[int]:
    """`limit` indices evenly spaced over range(n) (all of them without a limit)."""
    if limit is None or limit >= n:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, max(limit, 1)).round().astype(int).tolist()))


def _image_files(folder: Path) -> list[Path]:
    """The files of a target folder, sorted by name (hidden files are left out)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def is_image_file(path: Path) -> bool:
    """Whether a target file is an image (by its ending), not a JSON task list."""
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def check_not_empty(spec: str, limit: int | None = None) -> None:
    """Raise `NoTargets` naming the set if it plainly holds no targets: a limit of 0, a folder with no
    files, a JSON task list with no entries. Cheap (decodes no image, draws no program), so a command
    calls it before it loads a model or a database; every other problem is `load_targets`'s to report."""
    if limit is not None and limit < 1:
        raise NoTargets(f"{spec}: no targets: a limit of {limit} takes none")
    if spec in NAMED_SETS:
        return
    path = Path(spec)
    if path.is_dir():
        if not _image_files(path):
            raise NoTargets(f"{path}: no targets: the folder holds no image files")
    elif path.is_file() and not is_image_file(path):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return                                  # (load_targets says what is wrong with the file)
        if isinstance(raw, list) and not raw:
            raise NoTargets(f"{path}: no targets: the task list is empty")


def load_targets(spec: str, split: str = "test", size: int = 32, limit: int | None = None, mnist_root=None):
    """Evaluation targets by name: "dreamcoder" (a --split of the 160 tasks: train, test or all),
    "mnist-heldout", an image file or a folder of them, or a JSON task list (`json_targets`).

    With `limit`, N targets spread over the DreamCoder split or the MNIST digits (every family / class),
    or the first N of a folder or task list. Returns (label, targets, errors): errors are (file or entry,
    message) for targets that could not be read; the others are still targets. Raises ValueError or
    OSError (naming the file) when there is nothing to read at all, `NoTargets` when no target is left.
    """
    check_not_empty(spec, limit)
    errors: list[tuple[str, str]] = []
    if spec == "dreamcoder":
        if split not in ("train", "test", "all"):
            raise ValueError(f"unknown DreamCoder split {split!r} (train, test or all)")
        ts = task_targets(None if split == "all" else split, size)
        ts = [ts[i] for i in _spread(len(ts), limit)]      # tasks are grouped by family
        return f"dreamcoder-{split}", ts, errors
    if spec == "mnist-heldout":
        return "mnist-heldout", mnist_targets("heldout", size, mnist_root, limit), errors
    path = Path(spec)
    if path.is_dir() or is_image_file(path):
        ts, errors = png_targets(path, size)
        label = f"png:{path.name}"
    elif path.is_file() or path.suffix.lower() == ".json":
        ts, errors = json_targets(path, size)
        label = f"json:{path.name}"
    else:
        raise FileNotFoundError(f"{spec}: no such folder or file (targets are dreamcoder, mnist-heldout, a folder "
                                "of images or a JSON task list)")
    if not ts and errors and is_image_file(path):
        raise NoTargets(f"{errors[0][1]}")
    if not ts:
        n = len(errors)
        what = (f"{n} file{'s' * (n != 1)} is a readable image" if path.is_dir() or is_image_file(path) else
                f"{n} entr{'ies' if n != 1 else 'y'} can be drawn")
        first = f" (first: {errors[0][1]})" if errors else ""
        raise NoTargets(f"{spec}: no targets: none of its {what}{first}")
    return label, (ts if limit is None else ts[:limit]), errors


class TargetSampler:
    """Draws dream targets by kind with the given weights (kinds with no data drop out). The task sets
    (DreamCoder train, LAPS) are dealt from a shuffled deck, so a wake covers every task once before it
    draws one again."""

    def __init__(self, weights: dict[str, float], db=None, image_size: int = 32, seed: int | None = None,
                 mnist_root=None, library=None):
        self.rng = random.Random(seed)
        self.db = db
        self.size = image_size
        self.library = library
        self.weights = {k: w for k, w in weights.items() if w > 0}
        if set(self.weights) == {"db"} and (db is None or len(db) == 0):
            raise NoTargets(f"{getattr(db, 'path', 'the database')}: no targets: only database entries are asked "
                            "for (--targets db=...) and the database has none")
        self._mnist = None
        self._tasks = None
        self._laps = None
        self._decks: dict[str, list[Target]] = {}
        if "mnist" in self.weights:
            from data import mnist
            self._mnist = (mnist(mnist_root, "train", SOLVE_SIZE), mnist(mnist_root, "train", image_size))
        if "tasks" in self.weights:
            self._tasks = task_targets("train", image_size)
        if "laps" in self.weights:
            self._laps = laps_targets(image_size)

    def _deal(self, kind: str, targets: list[Target]) -> Target:
        """The next target of a shuffled deck of `targets` (reshuffled when it runs out)."""
        deck = self._decks.get(kind)
        if not deck:
            deck = self._decks[kind] = list(targets)
            self.rng.shuffle(deck)
        return deck.pop()

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
            return self._deal(kind, self._tasks)
        if kind == "laps":
            return self._deal(kind, self._laps)
        return self._db_target() or (self.next() if len(kinds) > 1 else None)
