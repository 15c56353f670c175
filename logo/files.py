"""Atomic file writes (another process, train reading what dream writes or a browser reading the report,
never sees a half-written file) and the one JSONL reader for logs other processes append to."""
from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


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


def read_jsonl(path, tail_bytes: int | None = None) -> list[dict]:
    """The JSON records of a JSONL file, one a line; unreadable lines (a record being appended by another
    process) are skipped and a missing file gives []. With `tail_bytes`, only the file's last bytes
    are read (the newest records of a long log)."""
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
    lines = data.decode("utf-8", "replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the read began inside a line
    rows = []
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows
