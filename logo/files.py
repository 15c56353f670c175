"""Atomic file writes (another process, train reading what dream writes or a browser reading the report,
never sees a half-written file) and the one JSONL reader (`jsonl_records`; `read_jsonl` for a whole log
or its tail, `JsonlFollower` for a log another process is appending to)."""
from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator


@contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None):
    """Yield a file to write; on success it is flushed, fsynced and renamed onto `path`.

    On an exception the temporary file is removed and `path` is left as it was. A write that finds no
    room (ENOSPC, EFBIG, EDQUOT: the OSError names no file) is raised again naming `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if e.filename is None and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(obj, path, indent: int = 1) -> Path:
    """Write `obj` as JSON to `path` atomically (readers never see half a file); returns the path."""
    path = Path(path)
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent)
    return path


class BadJsonLine(ValueError):
    """A line of a JSONL file that is not UTF-8 JSON; the message is `FILE:LINE: what is wrong`."""

    def __init__(self, source: str, line: int, what: str):
        super().__init__(f"{source}:{line}: {what}")
        self.source, self.line, self.what = source, line, what


def jsonl_records(lines: Iterable[bytes | str], source: str = "", strict: bool = False,
                  first_line: int = 1, on_bad: Callable[[BadJsonLine], None] | None = None
                  ) -> Iterator[tuple[int, Any]]:
    """(line number, record) for each non-blank line of `lines` (a binary file, a list of lines), in order.

    The one JSONL reader: a line that is not UTF-8 JSON raises `BadJsonLine` (naming `source` and the
    line) when `strict`; otherwise it is skipped (a record another process is still appending) and
    passed to `on_bad`. Lines are numbered from `first_line`.
    """
    for n, raw in enumerate(lines, first_line):
        try:
            text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        except UnicodeDecodeError as e:
            bad = BadJsonLine(source, n, f"not UTF-8 text (byte {e.start} of the line: {e.reason})")
        else:
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except ValueError as e:
                bad = BadJsonLine(source, n, f"not JSON ({e})")
            else:
                yield n, record
                continue
        if strict:
            raise bad
        if on_bad is not None:
            on_bad(bad)


def read_jsonl(path, tail_bytes: int | None = None) -> list[dict]:
    """The JSON objects of a JSONL file, one a line; other lines (a record being appended by another
    process, a value that is not an object) are skipped and a missing file gives []. With `tail_bytes`,
    only the file's last bytes are read (the newest records of a long log)."""
    try:
        with open(path, "rb") as f:
            start = 0
            if tail_bytes is not None:
                f.seek(0, 2)
                start = max(0, f.tell() - tail_bytes)
                f.seek(start)
            data = f.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the read began inside a line
    return [r for _, r in jsonl_records(lines, os.fspath(path)) if isinstance(r, dict)]


class JsonlFollower:
    """Follows a JSONL log another process appends to: each `read()` returns the records of the complete
    lines added since the last call (a line still being written waits for the next one); `records` and
    `bad_lines` count what was read and skipped."""

    def __init__(self, path):
        self.path = Path(path)
        self.offset = 0          # bytes consumed
        self.lines = 0           # complete lines consumed
        self.records = 0
        self.bad_lines = 0

    def read(self) -> list:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        lines = data[:end].split(b"\n")
        self.offset += end + 1
        first, self.lines = self.lines + 1, self.lines + len(lines)
        out = [r for _, r in jsonl_records(lines, str(self.path), first_line=first, on_bad=self._skipped)]
        self.records += len(out)
        return out

    def _skipped(self, bad: BadJsonLine) -> None:
        self.bad_lines += 1
