"""The one error boundary of every command (`logo ...`, `train`, `dream`): a mistake in the input ends in
one line `COMMAND: PATH: what is wrong` on stderr and exit status 1 (2 for usage errors, as argparse
does), never a traceback; `--debug` or LOGO_DEBUG=1 shows the traceback instead.

It lives in the lowest layer so that `model.train` and `dream.cli` share it with `app`; each command
passes the project's own error types of its layers (`extra`), this module knows the OS, SQLite, PIL,
JSON and Unicode ones. A write that finds no room (a full disk or quota, or a file past the size limit)
reads `PATH: disk full / file too large (...)` wherever it happens (`disk_full`). Also here: argparse
types that reject out-of-range numbers.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import sqlite3
import sys

from .errors import LogoError

DEBUG_FLAG = "--debug"
DISK_FULL = "disk full / file too large"
_NO_ROOM = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
_SQLITE_IOERR_WRITE = getattr(sqlite3, "SQLITE_IOERR_WRITE", 778)


class UsageError(Exception):
    """A bad combination of arguments found after parsing: exit status 2, like argparse's own errors."""


class BadInputFile(ValueError):
    """An input file that exists but cannot be used (for example not UTF-8 text); the message names it."""


def read_text(path) -> str:
    """The text of a UTF-8 file; `BadInputFile` naming the file if it is not UTF-8 (OSErrors name it)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadInputFile(f"{os.fspath(path)}: not UTF-8 text (byte {e.start}: {data[e.start:e.start + 1]!r})") from None


def debug_requested(argv: list[str]) -> tuple[list[str], bool]:
    """(argv without `--debug`, whether a traceback was asked for by the flag or LOGO_DEBUG=1).

    The flag is taken out wherever it stands, so `logo db stats X --debug` works as well as
    `logo --debug db stats X`."""
    rest = [a for a in argv if a != DEBUG_FLAG]
    return rest, len(rest) != len(argv) or os.environ.get("LOGO_DEBUG", "") not in ("", "0")


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Show `--debug` in the help (main() takes it out of argv before parsing)."""
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help="show the Python traceback of an error (also LOGO_DEBUG=1)")


def _pil_errors() -> tuple[type, ...]:
    image = sys.modules.get("PIL.Image")      # loaded only if the command read an image
    return (image.DecompressionBombError,) if image is not None else ()


def disk_full(e: BaseException) -> bool:
    """Whether `e` is a write that found no room: a full disk or quota (ENOSPC, EDQUOT), or a file that
    would pass the largest size allowed (EFBIG: the file system's, or `ulimit -f`).

    SQLite reports ENOSPC as SQLITE_FULL, but EFBIG and EDQUOT only as a failed write (SQLITE_IOERR_WRITE),
    which is taken for "too large" where this process has a file size limit (else it stays a disk I/O error)."""
    if isinstance(e, OSError):
        return e.errno in _NO_ROOM
    if isinstance(e, sqlite3.Error):
        code = getattr(e, "sqlite_errorcode", None)
        if code is None:
            return False
        return code & 0xFF == sqlite3.SQLITE_FULL or (code == _SQLITE_IOERR_WRITE and _file_size_limited())
    return False


def _file_size_limited() -> bool:
    try:
        import resource
    except ImportError:          # (not on this OS)
        return False
    return resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY


def describe(e: BaseException, path: str | None = None) -> str:
    """`PATH: what is wrong` for an expected error; `path` (the command's main file, its database) names
    the file of an SQLite, JSON, Unicode or image error, which do not name one themselves."""
    if isinstance(e, OSError) and disk_full(e):          # (no file named: `path` may be another file)
        where = f"{os.fspath(e.filename)}: " if e.filename is not None else ""
        return f"{where}{DISK_FULL} ({e.strerror or e})"
    if isinstance(e, sqlite3.Error) and disk_full(e):
        return f"{path + ': ' if path else ''}{DISK_FULL} (SQLite: {e})"
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        where = os.fspath(e.filename)
        what = e.strerror
        if isinstance(e, IsADirectoryError) or (os.path.isdir(where) and isinstance(e, PermissionError)):
            what = "is a directory, not a file"
        elif isinstance(e, NotADirectoryError):
            what = "a part of the path is a file, not a directory"
        return f"{where}: {what}"
    if isinstance(e, UnicodeDecodeError):
        return f"{path + ': ' if path else ''}not UTF-8 text (byte {e.start}: {e.object[e.start:e.start + 1]!r})"
    if isinstance(e, json.JSONDecodeError):
        return f"{path + ': ' if path else ''}not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
    if isinstance(e, sqlite3.Error):
        return f"{path + ': ' if path else ''}database error: {e}"
    if type(e).__name__ == "DecompressionBombError":
        return f"{path + ': ' if path else ''}image too large: {e}"
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    return str(e) or type(e).__name__        # the project's own errors name their file themselves


def expected_errors(extra: tuple[type, ...] = ()) -> tuple[type, ...]:
    """The error types a command reports in one line: its layers' own (`extra`) and OS / SQLite / PIL /
    JSON / Unicode errors."""
    return (LogoError, UsageError, BadInputFile, OSError, sqlite3.Error, json.JSONDecodeError, UnicodeError,
            *_pil_errors(), *extra)


def run_guarded(command: str, fn, *, debug: bool, extra: tuple[type, ...] = (), path: str | None = None) -> int:
    """Run `fn()` (returns an exit status) inside the boundary.

    Expected errors print `command: what is wrong` and give 1 (UsageError: 2); a closed stdout pipe
    (`logo db stats DB | head -1`) ends quietly; Ctrl-C gives 130. With `debug`, errors propagate."""
    try:
        return int(fn() or 0)
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"\n{command}: interrupted", file=sys.stderr)
        return 130
    except BaseException as e:        # noqa: BLE001 - filtered just below
        if debug or not isinstance(e, expected_errors(extra)) or isinstance(e, BrokenPipeError):
            raise
        print(f"{command}: {describe(e, path)}", file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1


def _silence_stdout() -> None:
    """After the reader of stdout went away: point stdout at /dev/null so Python's exit flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):   # stdout is no real file (tests): nothing to silence
        pass


def check_output_dir(path) -> None:
    """Raise the OSError that making directory `path` would raise, without making anything: so a command
    can refuse an unusable output folder (a file in the way, a file named like it) before its work."""
    path = os.path.normpath(os.fspath(path))
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise NotADirectoryError(20, "exists and is not a directory", path)
        probe = path
    else:
        probe = os.path.dirname(path) or "."
        while not os.path.exists(probe):
            probe = os.path.dirname(probe) or "."
        if not os.path.isdir(probe):
            raise NotADirectoryError(20, "a part of the path is a file, not a directory", probe)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(13, "no permission to write there", probe)


# ---- argparse types: reject out-of-range numbers at parse time (exit status 2) --------------------

def int_range(lo: int | None = None, hi: int | None = None):
    """An argparse type: an integer in [lo, hi] (either bound may be None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{value} is out of range ({_range_text(lo, hi)})")
        return value
    parse.__name__ = "integer"
    return parse


def float_range(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    """An argparse type: a finite number in [lo, hi] ((lo, hi] with `lo_open`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
        if value != value or value in (float("inf"), float("-inf")) or bad_lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{text} is out of range ({_range_text(lo, hi, lo_open)})")
        return value
    parse.__name__ = "number"
    return parse


def float_list(lo: float | None = None, lo_open: bool = False):
    """An argparse type: comma-separated numbers ("0.5,1.0"), each checked as `float_range(lo)`; at least one."""
    one = float_range(lo, None, lo_open)

    def parse(text: str) -> tuple[float, ...]:
        values = tuple(one(t.strip()) for t in text.split(",") if t.strip())
        if not values:
            raise argparse.ArgumentTypeError(f"no numbers in {text!r}")
        return values
    parse.__name__ = "list of numbers"
    return parse


def _range_text(lo, hi, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"{lo} to {hi}" if not lo_open else f"more than {lo}, at most {hi}"
    if lo is not None:
        return f"at least {lo}" if not lo_open else f"more than {lo}"
    return f"at most {hi}"
