"""The image-program database: one SQLite file (WAL mode), many reader processes and a writer.

Each *entry* is one image (stored as a raw (S, S) uint8 blob, S = `image_size`, fixed at creation) with
its list of equivalent programs: the programs found so far that draw it (within the novelty threshold,
`data.novelty`).  The list is sorted by (length in tokens, canonical text); its first program is the
*head*.  At most `max_equivalents` programs are kept per image (the shortest ones).

    >>> db = Database("runs/db.sqlite")                       # doctest: +SKIP
    >>> db.insert("(loop i 4 (move ul (/ ua 4)))").status     # doctest: +SKIP
    'new'

Writers take SQLite's write lock for each batch (`BEGIN IMMEDIATE`), first catching up with entries other
processes added, so several writers stay correct; readers never block.  A process killed at any moment
leaves a consistent file (SQLite's WAL journal): a batch is either fully in or not at all.  Any number of
processes may create the same new file at once (`train` and `dream` on a first run): it is made complete
beside the target and linked into place once (`_create_file`); the others open the finished file.

Opened with `open_readonly` (or `Database(path, readonly=True)`) the file is opened through SQLite's
read-only mode: nothing is written, migrated or created, so it works on files without write permission.

Schema (version 2): `meta(key, value)` holds the magic marker, format version, image size, threshold,
max_equivalents, creation time and the procedure library; `entries(id, head, length, image, source,
created, n_programs, max_length, programs)` with `programs` a JSON list of [text, source, created];
`stats(source, outcome, n)` counts every outcome of every insertion (new, head, equivalent, duplicate,
rejected:<reason>, samples); `progress(stream, next_chunk, config, updated)` lets `build` resume;
`programs(text, entry_id)` says which entry holds a program (a program is in at most one list).
Indexes on entries' length, source and n_programs let readers page through entries by those without
reading every row (`logo db serve`); a file made before an index existed gets it when opened for writing.
Version 1 files (from before the `programs` table was guaranteed) are migrated when opened for writing.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import sqlite3
import stat
from pathlib import Path
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple, Sequence

import numpy as np

import logo
from logo.cli_errors import disk_full
from logo.errors import LogoError

from . import novelty
from logo.tokens import n_tokens

from .generate import REASONS, run_batch

MAGIC = "logo-synth image-program database"
FORMAT_VERSION = 2            # 2: the `programs` table (version 1 files are migrated on opening)
OLDEST_VERSION = 1
DEFAULT_IMAGE_SIZE = 32
DEFAULT_MAX_EQUIVALENTS = 8
SOURCES = ("random", "dream", "task", "library", "import")
STATUSES = ("new", "head", "equivalent", "duplicate", "rejected")
_SQLITE_HEADER = b"SQLite format 3\x00"
_CHUNK = 5000   # ids per IN (...) query

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries(
    id INTEGER PRIMARY KEY,
    head TEXT NOT NULL,
    length INTEGER NOT NULL,
    image BLOB NOT NULL,
    source TEXT NOT NULL,
    created REAL NOT NULL,
    n_programs INTEGER NOT NULL,
    max_length INTEGER NOT NULL,
    programs TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS entries_length ON entries(length);
CREATE INDEX IF NOT EXISTS entries_source ON entries(source);
CREATE INDEX IF NOT EXISTS entries_n_programs ON entries(n_programs);
CREATE TABLE IF NOT EXISTS stats(source TEXT NOT NULL, outcome TEXT NOT NULL, n INTEGER NOT NULL,
                                 PRIMARY KEY(source, outcome));
CREATE TABLE IF NOT EXISTS progress(stream TEXT PRIMARY KEY, next_chunk INTEGER NOT NULL,
                                    config TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS programs(text TEXT PRIMARY KEY, entry_id INTEGER NOT NULL) WITHOUT ROWID;
"""

#: (name, statement) of every index of `entries`: browse queries (`logo db serve`) filter by source and sort by
#: the number of programs without reading every row
_INDEXES = [(stmt.split()[5], stmt.strip()) for stmt in _SCHEMA.split(";") if "CREATE INDEX" in stmt]


class DatabaseError(Exception):
    """The file is not a (readable) logo-synth database, or it was opened with conflicting settings."""


class ReadOnlyError(DatabaseError):
    """A change was asked of a database that can only be read (file permissions, or opened read-only)."""


class NeedsMigrationError(DatabaseError):
    """An older-format file opened read-only that cannot be read before it is migrated (which writes)."""


def _is_readonly_error(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF == sqlite3.SQLITE_READONLY) or "readonly database" in str(e)


class InsertResult(NamedTuple):
    status: str                  # new | head | equivalent | duplicate | rejected
    entry_id: int | None         # the entry the program belongs to (None when rejected)
    reason: str | None = None    # for rejected: error | empty | off_canvas | too_big


@dataclass(frozen=True)
class Entry:
    entry_id: int
    head: str
    equivalents: list[str]       # head first, then by (length, text)
    image: np.ndarray            # (S, S) uint8
    source: str
    created: float               # unix time
    programs: list[tuple[str, str, float]] = field(default_factory=list)  # (text, source, created)


class Database:
    """An image-program database file; see the module docstring.

    `image_size` (default 32), `threshold` (novelty.THRESHOLD) and `max_equivalents` (8) are fixed when
    the file is created; passing a different value for an existing file raises `DatabaseError`.
    `create=False` refuses to create a missing file. `readonly=True` opens an existing file through SQLite's
    read-only mode (no writes, no migration; writing methods raise `ReadOnlyError`). Opening a file without
    write permission for writing raises `ReadOnlyError`.
    """

    def __init__(self, path, image_size: int | None = None, create: bool = True,
                 threshold: float | None = None, max_equivalents: int | None = None, timeout: float = 60.0,
                 readonly: bool = False):
        self.path = os.fspath(path)
        self.readonly = bool(readonly)
        create = create and not self.readonly
        if create:
            _create_file(self.path, image_size, threshold, max_equivalents)
        exists = os.path.exists(self.path) and os.path.getsize(self.path) > 0
        if not exists and not create:
            raise DatabaseError(f"{self.path}: no such database")
        if exists:
            try:
                with open(self.path, "rb") as f:
                    head = f.read(len(_SQLITE_HEADER))
            except OSError as e:
                raise DatabaseError(f"{self.path}: cannot read the file: {e.strerror}") from None
            if head != _SQLITE_HEADER:
                raise DatabaseError(f"{self.path} is not a logo-synth database: not an SQLite file")
            if not self.readonly and not writable(self.path):
                raise ReadOnlyError(self._readonly_message())
        self.conn = None
        try:
            self.conn = self._connect(timeout)
            self._read_meta()
            if not self.readonly:
                self.conn.execute("PRAGMA synchronous=NORMAL")     # WAL: a killed process loses nothing committed
                self.conn.execute("PRAGMA wal_autocheckpoint=10000")  # fewer, larger checkpoints (40 MB of WAL)
                if self.version < FORMAT_VERSION:
                    self._migrate()
                self._add_missing_indexes()
            elif self.version < FORMAT_VERSION and not self._has_programs_table():
                raise NeedsMigrationError(f"{self.path} has the older database format version {self.version}, which "
                                    "must be migrated before it can be read: open it once with a command that "
                                    "writes (it is then migrated), which needs write permission")
        except BaseException as e:
            if self.conn is not None:
                self.conn.close()
            if isinstance(e, sqlite3.DatabaseError) and not disk_full(e):   # (a full disk: not the file's fault)
                if _is_readonly_error(e):
                    raise ReadOnlyError(self._readonly_message()) from None
                raise DatabaseError(f"{self.path} is not a readable logo-synth database: {e}") from None
            raise
        for name, given, stored in (("image_size", image_size, self.image_size),
                                    ("threshold", threshold, self.threshold),
                                    ("max_equivalents", max_equivalents, self.max_equivalents)):
            if given is not None and given != stored:
                raise DatabaseError(f"{self.path} was created with {name}={stored}, not {given}")
        self._index: novelty.NoveltyIndex | None = None
        self._n_prog: list[int] = []      # per index row: programs in the list
        self._maxlen: list[int] = []      # per index row: the longest program's length
        self._lib_text: str | None = None
        self._lib_defs: tuple = ()

    # ---- opening ---------------------------------------------------------------------------------

    def _readonly_message(self) -> str:
        why = "it was opened read-only" if self.readonly else "the file is read-only (no write permission)"
        return (f"{self.path}: cannot change the database: {why}; commands that only read it (stats, show, "
                "sheet, nearest, export, check) work")

    def _connect(self, timeout: float) -> sqlite3.Connection:
        if not self.readonly:
            conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        else:
            # mode=ro: SQLite itself refuses every write. Reading a WAL file safely beside a writer needs
            # the -wal/-shm side files, which SQLite creates if missing (the main file is never changed).
            # Where no writer has the file open (no -wal file) and this process may not write it, or where
            # the side files cannot be created (so no writer has it open either), immutable=1 reads the
            # main file alone and creates nothing.
            uri = Path(self.path).resolve().as_uri()
            alone = not os.path.exists(self.path + "-wal") and not writable(self.path)
            conn = sqlite3.connect(uri + ("?mode=ro&immutable=1" if alone else "?mode=ro"), uri=True,
                                   timeout=timeout, isolation_level=None)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                if alone:
                    raise
                conn.close()
                conn = sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, timeout=timeout,
                                       isolation_level=None)
            conn.execute("PRAGMA query_only=ON")
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        return conn

    def _has_programs_table(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'programs'").fetchone() is not None

    def _read_meta(self) -> None:
        try:
            rows = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError:
            raise DatabaseError(f"{self.path} is an SQLite file but not a logo-synth database "
                                "(no meta table)") from None
        if rows.get("magic") != MAGIC:
            raise DatabaseError(f"{self.path} is an SQLite file but not a logo-synth database "
                                "(wrong magic marker)")
        try:
            version = int(rows.get("version", ""))
        except ValueError:
            raise DatabaseError(f"{self.path} has no valid database format version "
                                f"({rows.get('version')!r})") from None
        if version > FORMAT_VERSION:
            raise DatabaseError(f"{self.path} has database format version {version}, newer than this code "
                                f"knows (it reads versions {OLDEST_VERSION} to {FORMAT_VERSION}): update "
                                "logo-synth to use it")
        if version < OLDEST_VERSION:
            raise DatabaseError(f"{self.path} has database format version {version}; this code reads "
                                f"versions {OLDEST_VERSION} to {FORMAT_VERSION}")
        self.version = version
        self.image_size = int(rows["image_size"])
        self.threshold = float(rows["threshold"])
        self.max_equivalents = int(rows["max_equivalents"])
        self.created = float(rows["created"])

    def _migrate(self) -> None:
        """Bring an older file up to FORMAT_VERSION in one write transaction, and record the new version.

        1 -> 2: files made before the `programs` table existed get it, filled from the entries' lists.
        (Another process may be migrating at the same time: the version is read again inside the lock.)"""
        with self._write() as conn:
            version = int(conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0])
            if version < 2 and not self._has_programs_table():
                conn.execute("CREATE TABLE programs(text TEXT PRIMARY KEY, entry_id INTEGER NOT NULL) WITHOUT ROWID")
                for eid, programs in conn.execute("SELECT id, programs FROM entries").fetchall():
                    conn.executemany("INSERT OR IGNORE INTO programs(text, entry_id) VALUES (?, ?)",
                                     [(p[0], eid) for p in json.loads(programs)])
            if version < FORMAT_VERSION:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(FORMAT_VERSION),))
        self.version = FORMAT_VERSION

    def _add_missing_indexes(self) -> None:
        """Files made before an index of `_SCHEMA` existed get it when opened for writing (indexes change
        no format: older code reads such files and keeps the indexes up to date when it writes)."""
        wanted = {name: stmt for name, stmt in _INDEXES}
        have = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        if set(wanted) - have:
            with self._write() as conn:
                for name in sorted(set(wanted) - have):
                    conn.execute(wanted[name])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.path!r}, image_size={self.image_size})"

    def check(self) -> list[str]:
        """Integrity problems (empty list if none): SQLite's integrity_check plus image blob sizes."""
        problems = [r[0] for r in self.conn.execute("PRAGMA integrity_check").fetchall() if r[0] != "ok"]
        nbytes = self.image_size * self.image_size
        bad = self.conn.execute("SELECT count(*) FROM entries WHERE length(image) != ?", (nbytes,)).fetchone()[0]
        if bad:
            problems.append(f"{bad} entries have an image blob of the wrong size")
        listed = self.conn.execute("SELECT coalesce(sum(n_programs), 0) FROM entries").fetchone()[0]
        indexed = self.conn.execute("SELECT count(*) FROM programs").fetchone()[0]
        if listed != indexed:
            problems.append(f"the entries list {listed} programs but the programs table holds {indexed}")
        return problems

    # ---- reading ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.conn.execute("SELECT count(*) FROM entries").fetchone()[0]

    def max_entry_id(self) -> int:
        return self.conn.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()[0]

    def _image(self, blob: bytes) -> np.ndarray:
        return np.frombuffer(blob, np.uint8).reshape(self.image_size, self.image_size).copy()

    def entry_of(self, program) -> int | None:
        """The entry whose list holds this program (text or `logo.Program`; compared canonically), or None."""
        text = program if isinstance(program, str) else logo.to_text(program)
        row = self.conn.execute("SELECT entry_id FROM programs WHERE text = ?", (text,)).fetchone()
        if row is None and isinstance(program, str):
            try:
                canon = logo.to_text(logo.parse(program))
            except LogoError:
                return None
            if canon != text:
                row = self.conn.execute("SELECT entry_id FROM programs WHERE text = ?", (canon,)).fetchone()
        return None if row is None else row[0]

    def get(self, entry_id: int) -> Entry:
        row = self.conn.execute("SELECT id, head, image, source, created, programs FROM entries WHERE id = ?",
                                (int(entry_id),)).fetchone()
        if row is None:
            raise KeyError(f"no entry {entry_id} in {self.path}")
        return self._entry(row)

    def _entry(self, row) -> Entry:
        eid, head, image, source, created, programs = row
        progs = [tuple(p) for p in json.loads(programs)]
        return Entry(eid, head, [p[0] for p in progs], self._image(image), source, created, progs)

    def entries(self, min_id: int = 0, limit: int | None = None, where: str = "", params=()) -> Iterator[Entry]:
        """Entries with id >= min_id in id order (optionally filtered by an SQL `where` on entries)."""
        sql = "SELECT id, head, image, source, created, programs FROM entries WHERE id >= ?"
        if where:
            sql += f" AND ({where})"
        sql += " ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for row in self.conn.execute(sql, (int(min_id), *params)):
            yield self._entry(row)

    def heads(self, min_id: int = 0, limit: int | None = None) -> list[tuple[int, str]]:
        """(entry id, head program text) for entries with id >= min_id, ascending ids."""
        sql = "SELECT id, head FROM entries WHERE id >= ? ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self.conn.execute(sql, (int(min_id),)).fetchall()

    def lengths(self, min_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(entry ids, head lengths in tokens) as int64 arrays, ascending ids."""
        rows = self.conn.execute("SELECT id, length FROM entries WHERE id >= ? ORDER BY id", (int(min_id),)).fetchall()
        a = np.asarray(rows, np.int64).reshape(-1, 2)
        return a[:, 0].copy(), a[:, 1].copy()

    def images(self, entry_ids) -> np.ndarray:
        """Images of the given entries, in the given order: (n, S, S) uint8. KeyError for unknown ids."""
        ids = np.asarray(entry_ids, np.int64).reshape(-1)
        s = self.image_size
        out = np.empty((len(ids), s, s), np.uint8)
        if len(ids) == 0:
            return out
        uniq = np.unique(ids)
        found: dict[int, bytes] = {}
        if len(uniq) > 64 and uniq[-1] - uniq[0] + 1 <= 2 * len(uniq):   # dense: one range scan
            for eid, blob in self.conn.execute("SELECT id, image FROM entries WHERE id BETWEEN ? AND ?",
                                               (int(uniq[0]), int(uniq[-1]))):
                found[eid] = blob
        else:
            for lo in range(0, len(uniq), _CHUNK):
                part = uniq[lo:lo + _CHUNK].tolist()
                q = f"SELECT id, image FROM entries WHERE id IN ({','.join('?' * len(part))})"
                found.update(self.conn.execute(q, part).fetchall())
        flat = out.reshape(len(ids), s * s)
        for i, eid in enumerate(ids.tolist()):
            blob = found.get(eid)
            if blob is None:
                raise KeyError(f"no entry {eid} in {self.path}")
            flat[i] = np.frombuffer(blob, np.uint8)
        return out

    def nearest(self, image: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
        """The k entries whose images are nearest to `image` ((S, S) uint8): (entry id, distance)."""
        image = self._check_image(image)
        self._refresh()
        return self._index.nearest(image, k)

    def entry_summaries(self) -> Iterator[tuple[int, int, str]]:
        """(head length in tokens, programs in the list, source) of every entry, in no set order."""
        yield from self.conn.execute("SELECT length, n_programs, source FROM entries")

    def entry_ids(self, min_id: int = 0, source: str | None = None, min_length: int | None = None,
                  max_length: int | None = None) -> list[int]:
        """Ids (ascending) of the entries with id >= min_id, of this source and head length in range."""
        where, params = ["id >= ?"], [int(min_id)]
        for cond, value in (("source = ?", source), ("length >= ?", min_length), ("length <= ?", max_length)):
            if value is not None:
                where.append(cond)
                params.append(value)
        sql = f"SELECT id FROM entries WHERE {' AND '.join(where)} ORDER BY id"
        return [r[0] for r in self.conn.execute(sql, params)]

    def progress_streams(self) -> dict[str, int]:
        """{build stream: next chunk to generate} for every stream `build` has recorded."""
        return dict(self.conn.execute("SELECT stream, next_chunk FROM progress").fetchall())

    def novelty_index(self) -> novelty.NoveltyIndex:
        """The in-memory novelty index of this process, brought up to date with the file (for benchmarks
        and diagnostics; treat it as read-only)."""
        self._refresh()
        return self._index

    def stats(self) -> dict[str, dict[str, int]]:
        """{source: {outcome: count}} for every insertion ever tried (outcome "samples" = programs tried)."""
        out: dict[str, dict[str, int]] = {}
        for source, outcome, n in self.conn.execute("SELECT source, outcome, n FROM stats ORDER BY source, outcome"):
            out.setdefault(source, {})[outcome] = n
        return out

    def library_text(self) -> str:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'library'").fetchone()
        return row[0] if row else ""

    def library(self) -> tuple:
        """The library as a tuple of `logo.Define`."""
        text = self.library_text()
        if text != self._lib_text:
            self._lib_defs = logo.parse_library(text)
            self._lib_text = text
        return self._lib_defs

    def set_library(self, text: str) -> None:
        """Replace the procedure library (Logo text holding only `(define ...)` forms)."""
        logo.parse_library(text)     # raises LogoSyntaxError / ValueError for anything but definitions
        with self._write():
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('library', ?)", (text,))

    def get_progress(self, stream: str) -> tuple[int, dict] | None:
        row = self.conn.execute("SELECT next_chunk, config FROM progress WHERE stream = ?", (stream,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    # ---- writing ---------------------------------------------------------------------------------

    class _Txn:
        def __init__(self, db):
            self.db = db
            self.conn = db.conn

        def __enter__(self):
            if self.db.readonly:
                raise ReadOnlyError(self.db._readonly_message())
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if _is_readonly_error(e):
                    raise ReadOnlyError(self.db._readonly_message()) from None
                raise
            return self.conn

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                self.conn.execute("COMMIT")
                return False
            self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _is_readonly_error(exc):
                raise ReadOnlyError(self.db._readonly_message()) from None   # SQLite opened the file read-only
            return False

    def _write(self):
        return Database._Txn(self)

    def _check_image(self, image) -> np.ndarray:
        image = np.asarray(image)
        s = self.image_size
        if image.shape != (s, s) or image.dtype != np.uint8:
            raise ValueError(f"images must be ({s}, {s}) uint8 for this database, got {image.shape} {image.dtype}")
        return image

    def _refresh(self) -> None:
        """Load into the novelty index the entries this process has not seen (all, the first time)."""
        if self._index is None:
            self._index = novelty.NoveltyIndex(self.image_size, self.threshold)
            self._n_prog, self._maxlen = [], []
        start = self._index.max_id()
        s2 = self.image_size * self.image_size
        cur = self.conn.execute("SELECT id, image, n_programs, max_length FROM entries WHERE id > ? ORDER BY id",
                                (start,))
        while True:
            rows = cur.fetchmany(50_000)
            if not rows:
                break
            ids = [r[0] for r in rows]
            imgs = np.frombuffer(b"".join(r[1] for r in rows), np.uint8).reshape(len(rows), self.image_size,
                                                                                  self.image_size)
            assert imgs.size == len(rows) * s2
            self._index.add(ids, imgs)
            self._n_prog.extend(r[2] for r in rows)
            self._maxlen.extend(r[3] for r in rows)

    def insert(self, program, source: str = "random", image: np.ndarray | None = None) -> InsertResult:
        """Insert one program (text or `logo.Program`); `image` skips rendering (must be (S, S) uint8)."""
        return self.insert_many([program], source, None if image is None else [image])[0]

    def insert_many(self, programs: Sequence, source: str | Sequence[str] = "random",
                    images: Sequence[np.ndarray] | np.ndarray | None = None) -> list[InsertResult]:
        """Insert many programs in one transaction, in order (a later program sees the earlier ones).

        `source` is one string or one per program ("random", "dream", "task", "library", "import").
        `images`, if given, holds one (S, S) uint8 image per program (or None: render that one)."""
        n = len(programs)
        sources = [source] * n if isinstance(source, str) else list(source)
        if len(sources) != n:
            raise ValueError("need one source per program")
        texts: list[str | None] = [None] * n
        parsed: list = [None] * n
        reasons: list[str | None] = [None] * n
        for i, p in enumerate(programs):
            try:
                prog = p if isinstance(p, logo.Program) else logo.parse(p)
                parsed[i] = prog
                texts[i] = logo.to_text(prog)
            except LogoError:
                reasons[i] = "error"
                texts[i] = p if isinstance(p, str) else None
        s = self.image_size
        imgs = np.zeros((n, s, s), np.uint8)
        if images is not None and len(images) != n:
            raise ValueError("need one image per program")
        todo = []
        for i in range(n):
            im = None if images is None else images[i]
            if im is None:
                if reasons[i] is None:
                    todo.append(i)
                continue
            imgs[i] = self._check_image(im)
            if reasons[i] is None and not imgs[i].any():
                reasons[i] = "empty"
        if todo:
            out, verdict = run_batch([parsed[i] for i in todo], s, library=self.library())
            for j, i in enumerate(todo):
                if verdict[j]:
                    reasons[i] = REASONS[int(verdict[j])]
                else:
                    imgs[i] = out[j]
        return self.insert_rendered(texts, imgs, reasons, sources)

    def image_mismatches(self, programs: Sequence[str], images: Sequence[np.ndarray | None]) -> list[int]:
        """Indices of the programs whose given image is not what the program draws (under the database's
        same-image rule, `novelty.same_image` with its threshold), so that an imported image is verified,
        never trusted. Programs that do not parse or run are not listed: inserting them rejects them."""
        todo, parsed = [], []
        for i, (p, im) in enumerate(zip(programs, images)):
            if im is None:
                continue
            try:
                parsed.append(logo.parse(p))
                todo.append(i)
            except LogoError:
                pass
        if not todo:
            return []
        out, verdict = run_batch(parsed, self.image_size, library=self.library())
        return [i for j, i in enumerate(todo) if not verdict[j]
                and not novelty.same_image(out[j], self._check_image(images[i]), self.threshold)]

    def insert_rendered(self, texts: Sequence[str | None], imgs: np.ndarray, reasons: Sequence[str | None],
                        sources: Sequence[str], extra_stats: Counter | None = None,
                        progress: tuple[str, int, str] | None = None,
                        lengths: Sequence[int] | None = None, near: list | None = None) -> list[InsertResult]:
        """Insert programs that are already parsed and rendered, in one write transaction (in order).

        For writers that render elsewhere (the build workers): `texts` are canonical program texts,
        `imgs` their (n, S, S) uint8 images, `reasons[i]` None for a drawable program or the rejection
        reason (error | empty | off_canvas | too_big; counted, never stored), `sources[i]` each program's
        source. `extra_stats` ({(source, outcome): n}) is added to the outcome counters and `progress`
        ((stream, next_chunk, config) for `get_progress`) is recorded in the same transaction, so a
        resumed build neither loses nor repeats a chunk. `lengths` (optional) are the programs' lengths
        in tokens, if the caller knows them; `near` (optional) is `novelty.within_batch_groups` of all
        the images, if the caller computed it. The decisions are those of `insert_many`."""
        tok: dict[str, int] = {} if lengths is None else dict(zip(texts, lengths))

        def length(t: str) -> int:
            k = tok.get(t)
            if k is None:
                k = tok[t] = n_tokens(t)
            return k
        with self._write() as conn:
            self._refresh()
            results, new_rows, touched, stats, prog_ops, new_vectors = self._decide(texts, imgs, reasons, sources,
                                                                                    tok, length, near)
            if new_rows:
                conn.executemany("INSERT INTO entries(id, head, length, image, source, created, n_programs, "
                                 "max_length, programs) VALUES (?,?,?,?,?,?,?,?,?)", new_rows)
            if touched:
                conn.executemany("UPDATE entries SET head=?, length=?, n_programs=?, max_length=?, programs=? "
                                 "WHERE id=?", [(lst[0][0], length(lst[0][0]), len(lst), length(lst[-1][0]),
                                                 json.dumps(lst), eid) for eid, lst in touched.items()])
            adds = [(t, e) for t, e in prog_ops.items() if e is not None]
            drops = [(t,) for t, e in prog_ops.items() if e is None]
            if drops:
                conn.executemany("DELETE FROM programs WHERE text = ?", drops)
            if adds:
                conn.executemany("INSERT OR REPLACE INTO programs(text, entry_id) VALUES (?, ?)", adds)
            if extra_stats:
                stats.update(extra_stats)
            conn.executemany("INSERT INTO stats(source, outcome, n) VALUES (?,?,?) ON CONFLICT(source, outcome) "
                             "DO UPDATE SET n = n + excluded.n", [(s, o, c) for (s, o), c in stats.items() if c])
            if progress is not None:
                conn.execute("INSERT OR REPLACE INTO progress(stream, next_chunk, config, updated) VALUES (?,?,?,?)",
                             (progress[0], progress[1], progress[2], time.time()))
        # committed: now the in-memory index may learn the new entries
        for eid, lst in touched.items():
            r = self._index.row_of[eid]
            self._n_prog[r] = len(lst)
            self._maxlen[r] = length(lst[-1][0])
        if new_rows:
            self._index.add([r[0] for r in new_rows],
                            np.frombuffer(b"".join(r[3] for r in new_rows), np.uint8).reshape(
                                len(new_rows), self.image_size, self.image_size), new_vectors)
            self._n_prog.extend(r[6] for r in new_rows)
            self._maxlen.extend(r[7] for r in new_rows)
        return results

    def _decide(self, texts, imgs, reasons, sources, tok: dict[str, int], length, near=None):
        n = len(texts)
        idx = self._index
        K = self.max_equivalents
        now = time.time()
        results: list[InsertResult | None] = [None] * n
        stats: Counter = Counter()
        first_of_text: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        cand: list[int] = []                       # first occurrences of OK texts
        for i in range(n):
            stats[(sources[i], "samples")] += 1
            if reasons[i] is not None:
                results[i] = InsertResult("rejected", None, reasons[i])
                stats[(sources[i], "rejected:" + reasons[i])] += 1
                continue
            j = first_of_text.setdefault(texts[i], i)
            if j != i:
                repeats.append((i, j))
            else:
                cand.append(i)
        # 0. a program already in some entry's list stays there, whatever image it comes with (nearest-image
        #    matching is not transitive, and an imported image is the entry's, not the program's own)
        known: dict[str, int] = {}
        ask = [texts[i] for i in cand]
        for lo in range(0, len(ask), _CHUNK):
            part = ask[lo:lo + _CHUNK]
            known.update(self.conn.execute(f"SELECT text, entry_id FROM programs WHERE text IN "
                                           f"({','.join('?' * len(part))})", part).fetchall())
        if known:
            for i in cand:
                if texts[i] in known:
                    results[i] = InsertResult("duplicate", known[texts[i]])
                    stats[(sources[i], "duplicate")] += 1
            cand = [i for i in cand if texts[i] not in known]

        # 1. target of each candidate: an existing row (>= 0), or -1 (no stored image within threshold)
        target_row = {}
        hashes = novelty.image_hashes(imgs[cand]).tolist() if cand else []
        pending: list[int] = []
        same_as: dict[int, int] = {}               # candidate -> earlier pending candidate with identical pixels
        first_by_hash: dict[int, int] = {}
        for i, h in zip(cand, hashes):
            r = idx.exact_row(imgs[i], h)
            if r >= 0:
                target_row[i] = r
                continue
            j = first_by_hash.get(h)
            if j is not None and np.array_equal(imgs[j], imgs[i]):
                same_as[i] = j
                continue
            first_by_hash.setdefault(h, i)
            pending.append(i)
        # 2. images without an identical stored one: the nearest stored image within the threshold, or the
        #    nearest earlier new image of this batch if that one is nearer (exactly as if inserted one by one)
        pimgs = imgs[pending]
        pvec = novelty.grid_vectors(pimgs)
        if pending:
            rows, dist = idx.match(pimgs, pvec, integer=True)
        else:
            rows, dist = np.zeros(0, np.int64), np.zeros(0, np.int64)
        vec_of = {i: u for u, i in enumerate(pending)}
        if near is not None:                       # pairs over the whole batch: keep those within `pending`
            near_earlier = [[(vec_of[j], d) for j, d in near[i] if j in vec_of] for i in pending]
        elif len(pending) > 1:
            near_earlier = novelty.within_batch_groups(pimgs, self.threshold, self.image_size, pvec)
        else:
            near_earlier = [[] for _ in pending]
        new_of: dict[int, int] = {}                # candidate -> position in `new_entries`
        joins_new: dict[int, int] = {}             # candidate -> position in `new_entries` it joins
        new_entries: list[int] = []                # candidate index of each new entry's first program
        for u, i in enumerate(pending):
            options = [(dj, pending[j]) for j, dj in near_earlier[u] if pending[j] in new_of]
            r = int(rows[u])
            if options:
                dj, j = min(options)                # nearest; ties: the earliest
                if r < 0 or dj < dist[u]:           # ties with a stored entry: the stored one (lower id)
                    joins_new[i] = new_of[j]
                    continue
            if r >= 0:
                target_row[i] = r
            else:
                new_of[i] = len(new_entries)
                new_entries.append(i)
        for i, j in same_as.items():
            if j in new_of:
                joins_new[i] = new_of[j]
            elif j in joins_new:
                joins_new[i] = joins_new[j]
            else:
                target_row[i] = target_row[j]

        # 3. load the lists of the existing entries that may change (fast path: full list, longer program)
        lengths = {i: length(texts[i]) for i in cand if i not in new_of}
        need = set()
        for i, r in target_row.items():
            if not (self._n_prog[r] >= K and lengths[i] > self._maxlen[r]):
                need.add(int(idx.ids[r]))
        lists: dict[int, list] = {}
        need_l = sorted(need)
        for lo in range(0, len(need_l), _CHUNK):
            part = need_l[lo:lo + _CHUNK]
            q = f"SELECT id, programs FROM entries WHERE id IN ({','.join('?' * len(part))})"
            for eid, programs in self.conn.execute(q, part):
                lists[eid] = [list(p) for p in json.loads(programs)]
        prog_ops: dict[str, int | None] = {}       # text -> entry id (added) or None (dropped), net
        # 4. apply in order
        next_id = self.max_entry_id() + 1
        new_ids = [next_id + k for k in range(len(new_entries))]
        new_lists: list[list] = [None] * len(new_entries)
        touched: dict[int, list] = {}
        for i in cand:
            src = sources[i]
            if i in new_of:
                k = new_of[i]
                new_lists[k] = [[texts[i], src, now]]
                prog_ops[texts[i]] = new_ids[k]
                results[i] = InsertResult("new", new_ids[k])
                stats[(src, "new")] += 1
                continue
            if i in joins_new:
                k = joins_new[i]
                eid, lst = new_ids[k], new_lists[k]
            else:
                r = target_row[i]
                eid = int(idx.ids[r])
                lst = touched.get(eid) or lists.get(eid)
                if lst is None:                    # fast path: the full list only holds shorter programs
                    results[i] = InsertResult("duplicate", eid)
                    stats[(src, "duplicate")] += 1
                    continue
            status, dropped = _join(lst, texts[i], lengths[i], src, now, K, tok)
            if status != "duplicate":
                prog_ops[texts[i]] = eid
                if dropped is not None:
                    prog_ops[dropped] = None
                if i not in joins_new:
                    touched[eid] = lst
            results[i] = InsertResult(status, eid)
            stats[(src, status)] += 1
        for i, j in repeats:
            results[i] = InsertResult("duplicate", results[j].entry_id)
            stats[(sources[i], "duplicate")] += 1
        new_vectors = pvec[[vec_of[i] for i in new_entries]]
        new_rows = []
        for k, i in enumerate(new_entries):
            lst = new_lists[k]
            new_rows.append((new_ids[k], lst[0][0], length(lst[0][0]), imgs[i].tobytes(), sources[i], now,
                             len(lst), length(lst[-1][0]), json.dumps(lst)))
        return results, new_rows, touched, stats, prog_ops, new_vectors


def _join(lst: list, text: str, length: int, source: str, now: float, K: int,
          tok: dict[str, int]) -> tuple[str, str | None]:
    """Add `text` to an entry's sorted program list (in place).

    Returns (head | equivalent | duplicate, the program dropped to keep at most K, or None)."""
    key = (length, text)
    if any(p[0] == text for p in lst):
        return "duplicate", None
    keys = []
    for p in lst:
        t = p[0]
        k = tok.get(t)
        if k is None:
            k = tok[t] = n_tokens(t)
        keys.append((k, t))
    if len(lst) >= K and key > keys[-1]:
        return "duplicate", None
    pos = 0
    while pos < len(keys) and keys[pos] < key:
        pos += 1
    lst.insert(pos, [text, source, now])
    dropped = lst.pop()[0] if len(lst) > K else None
    return ("head" if pos == 0 else "equivalent"), dropped


# ---- creating a file: once, however many processes open it at the same moment -------------------------

def _create_file(path: str, image_size, threshold, max_equivalents) -> None:
    """Make `path` a new database with the given settings, unless it is already a file that is not empty.

    Many processes may do this at once (`train` and `dream` on a first run). The new file is made complete
    (schema, settings, WAL mode) under a temporary name beside `path`, where no other process has it open,
    and hard-linked into place, which fails if `path` exists meanwhile: so the schema and the WAL switch
    happen once, and every other opener finds either no file (and tries the same) or a finished one.
    An empty file at `path` (`touch`, or an older version of this code interrupted) is replaced by the
    new one under an exclusive lock, so that only one of the processes doing this at once replaces it."""
    tmp = None
    try:
        while True:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_size > 0 or not stat.S_ISREG(st.st_mode)):
                return                                  # a database (or something opening will report)
            if tmp is None:
                _remove_stale_creations(path)
                tmp = _new_file_beside(path, image_size, threshold, max_equivalents)
            if st is None:
                try:
                    os.link(tmp, path)
                    return
                except FileExistsError:
                    continue                            # another process was first: open its file
                except OSError as e:
                    if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                        raise type(e)(e.errno, f"cannot create the database: {e.strerror}", path) from None
                    try:                                # no hard links here: an empty file, replaced below
                        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                    except FileExistsError:
                        pass
                    continue
            if _replace_if_empty(path, tmp):
                return
    finally:
        if tmp is not None:
            _remove_with_side_files(tmp)


def _new_file_beside(path: str, image_size, threshold, max_equivalents) -> str:
    """A complete new database file in `path`'s folder under a hidden temporary name; returns its path."""
    size = int(image_size or DEFAULT_IMAGE_SIZE)
    thr = float(novelty.THRESHOLD if threshold is None else threshold)
    k = int(max_equivalents or DEFAULT_MAX_EQUIVALENTS)
    if not 4 <= size <= 512:
        raise ValueError(f"image_size must be in 4..512, not {size}")
    if k < 1:
        raise ValueError("max_equivalents must be >= 1")
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.creating")
    try:               # 0o644 less the umask: the permissions SQLite gives the files it creates
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except OSError as e:
        raise type(e)(e.errno, f"cannot create the database: {e.strerror}", path) from None
    conn = None
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        meta = {"magic": MAGIC, "version": str(FORMAT_VERSION), "image_size": str(size),
                "threshold": repr(thr), "max_equivalents": str(k), "created": repr(time.time()),
                "library": ""}
        conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
        conn.execute("COMMIT")
        conn.close()          # the last connection: the WAL is checkpointed into the file and removed
    except BaseException:
        if conn is not None:
            conn.close()
        _remove_with_side_files(tmp)
        raise
    return tmp


def _replace_if_empty(path: str, tmp: str) -> bool:
    """Rename `tmp` onto `path` if `path` is still the same empty file; False if it changed or went away.

    The exclusive lock (flock, apart from SQLite's own locks) lets one of the processes doing this at
    once replace the file; the others then hold a lock on a file no longer at `path`, and look again."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            now = os.stat(path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino) or now.st_size > 0:
            return False
        os.replace(tmp, path)
        return True
    finally:
        os.close(fd)          # (releases the lock)


_STALE_S = 600.0       # a file being created is finished within seconds: one this old was left by a crash


def _remove_stale_creations(path: str) -> None:
    """Remove the temporary files of creations of `path` that a killed process left (older than _STALE_S)."""
    folder, name = os.path.split(os.path.abspath(path))
    prefix = f".{name}."
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for n in names:
        if n.startswith(prefix) and n.endswith(".creating"):
            full = os.path.join(folder, n)
            try:
                if time.time() - os.stat(full).st_mtime > _STALE_S:
                    _remove_with_side_files(full)
            except OSError:
                pass


def _remove_with_side_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass


def writable(path) -> bool:
    """Whether this process may write the file (its permissions; root may write any)."""
    return os.access(path, os.W_OK)


def open_readonly(path) -> Database:
    """Open an existing database for reading only, through SQLite's read-only mode: nothing is written,
    migrated or created (raises DatabaseError if missing, foreign or corrupt; writing methods raise
    ReadOnlyError). Works on files without write permission."""
    return Database(path, readonly=True)
