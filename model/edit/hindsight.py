"""Dream hindsight: the search paths `dream` logs, turned into training pairs.

Every "target" record of a dreamer's log (`LOG/found.jsonl`, written by `dream.dreamer.Dreamer`) holds
the search path start -> p1 -> ... -> best (`"path"`, canonical program texts, every one of which
parsed and ran in the search) and, since this module exists, the target image (`"target_image"`,
see `encode_image`). Each step p_i -> p_{i+1} of a path becomes a pair:

- (p_i, image p_i, image of **best**) -> the minimal script p_i -> p_{i+1}, for every path (hindsight
  relabelling: whatever the search was looking for, it did walk from p_i toward best);
- (p_i, image p_i, **target image**) -> the same script, when the target was solved and its image
  differs from best's at the model's size (solved means an exact match at 28x28).

Both go in as pair kind "hindsight". Every script turns a valid program into a valid program (both ends
were run by the search). A pair is held out by a hash of the path's best program (one path, one
split). `HindsightReader(path)` follows a log that a running dreamer appends to: each `read()` returns
only the records added since the last one (a half-written last line waits for the next read).
"""
from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from logo.files import JsonlFollower

from ..tokenizer import program_tokens


def encode_image(image: np.ndarray) -> dict:
    """A uint8 (S, S) image as a small JSON-able dict (zlib-compressed, base64)."""
    img = np.ascontiguousarray(np.asarray(image, np.uint8))
    return {"size": int(img.shape[0]), "data": base64.b64encode(zlib.compress(img.tobytes())).decode("ascii")}


def decode_image(obj: dict) -> np.ndarray:
    """The inverse of `encode_image`; ValueError for a malformed record."""
    try:
        size = int(obj["size"])
        raw = zlib.decompress(base64.b64decode(obj["data"]))
    except (KeyError, TypeError, ValueError, zlib.error) as e:
        raise ValueError(f"bad target image in the dream log: {e}") from None
    if size <= 0 or len(raw) != size * size:
        raise ValueError(f"bad target image in the dream log: {len(raw)} bytes for size {size}")
    return np.frombuffer(raw, np.uint8).reshape(size, size).copy()


@dataclass
class HindsightPath:
    """One logged search: its programs start..best, whether it solved the target, the target image."""
    programs: list[str]
    solved: bool
    target_image: np.ndarray | None
    name: str = ""

    def steps(self) -> list[tuple[int, list[str], list[str]]]:
        """(i, tokens p_i, tokens p_{i+1}) for the path's steps (unparseable or no-op steps skipped)."""
        out = []
        toks = []
        for t in self.programs:
            try:
                toks.append(program_tokens(t) if t and t.strip() else [])
            except Exception:   # noqa: BLE001 - a hand-edited log line must not stop training
                toks.append(None)
        for i, (a, b) in enumerate(zip(toks, toks[1:])):
            if a is not None and b is not None and a != b:
                out.append((i, a, b))
        return out


def parse_record(rec: dict) -> HindsightPath | None:
    """A "target" record with at least one step -> HindsightPath; anything else -> None."""
    if not isinstance(rec, dict) or rec.get("event") != "target":
        return None
    path = rec.get("path")
    if not isinstance(path, list) or len(path) < 2 or not all(isinstance(p, str) for p in path):
        return None
    img = None
    if isinstance(rec.get("target_image"), dict):
        try:
            img = decode_image(rec["target_image"])
        except ValueError:
            img = None
    return HindsightPath(list(path), bool(rec.get("solved")), img, str(rec.get("target", "")))


class HindsightReader:
    """Follows a dream log: `read()` returns the paths of the records appended since the last call
    (`logo.files.JsonlFollower`: `records` and `bad_lines` count what it read and skipped)."""

    def __init__(self, path: str | Path):
        self.log = JsonlFollower(path)

    @property
    def path(self) -> Path:
        return self.log.path

    @property
    def records(self) -> int:
        return self.log.records

    @property
    def bad_lines(self) -> int:
        return self.log.bad_lines

    def read(self) -> list[HindsightPath]:
        return [p for p in map(parse_record, self.log.read()) if p is not None]


def check_log(path: str | Path) -> Path:
    """The log path if it is a readable file (or does not exist yet: a dreamer may create it); a clear
    error otherwise."""
    p = Path(path)
    if p.exists() and not p.is_file():
        raise SystemExit(f"train: --hindsight {p}: not a file (give a dream log, LOG/found.jsonl)")
    return p
