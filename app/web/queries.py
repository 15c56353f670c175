"""The SQL behind the pages: browse (filtered, sorted, keyset-paged), the overview's counts and growth.

Everything here takes a plain `sqlite3.Connection` to a database file (the server's read-only one, or
the benchmark's own), builds parameterised SQL only (values are never pasted into the text) and reads
no more rows than a page needs where an index allows it:

- sort orders walk an index: newest = the rowid (descending), shortest = `entries_length` (length, id),
  most equivalents = `entries_n_programs` (n_programs, id); pages continue from the last row's key
  (`(length, id) > (?, ?)`), never with OFFSET, so page 1,000 costs what page 1 costs;
- "added after T" becomes a rowid bound: ids are handed out in insertion order and `created` is the
  insertion time, so the first id created at or after T is found by bisection on the primary key (the
  `created >= T` test stays in the query, so a clock that stepped back can hide rows but never add one);
- with several filters, SQLite without statistics (a read-only file cannot be ANALYZEd) may pick an index
  that makes it sort 200,000 rows; `plan` estimates the rows each way would read from the cached counts
  per source and per length and names the index with `INDEXED BY` / `NOT INDEXED`.
Files made before the source and n_programs indexes existed (they are added when a writer opens the
file) still work: plans that need a missing index are not offered, and that sort reads every row.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

SORTS = ("newest", "shortest", "equivalents")
#: the key columns of each sort order, and whether it runs from high to low
SORT_KEYS = {"newest": (("id",), True), "shortest": (("length", "id"), False),
             "equivalents": (("n_programs", "id"), True)}
#: the index that walks each sort order (None: the table's own rowid order)
SORT_INDEX = {"newest": None, "shortest": "entries_length", "equivalents": "entries_n_programs"}
#: a guess of the share of heads that contain a searched string (it costs every plan alike, so it only
#: tilts the choice toward plans that read a bounded set of rows)
CONTAINS_SELECTIVITY = 0.1
MAX_PAGE = 200
COLUMNS = "id, head, length, n_programs, source, created"


class BadQuery(ValueError):
    """A browse request that cannot be answered (bad cursor, empty range); the message says why."""


@dataclass(frozen=True)
class Filters:
    source: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    contains: str | None = None      # a substring of the head program (case-sensitive, as Logo is)
    after: float | None = None       # unix time: only entries created at or after it

    def active(self) -> bool:
        return any(v is not None for v in (self.source, self.min_length, self.max_length, self.contains, self.after))


@dataclass(frozen=True)
class PageRequest:
    filters: Filters = field(default_factory=Filters)
    sort: str = "newest"
    cursor: tuple[int, ...] | None = None   # the key of the row the page continues from
    backward: bool = False                  # True: the page before the cursor
    limit: int = 60


@dataclass
class Page:
    rows: list[tuple]                       # (id, head, length, n_programs, source, created)
    next_cursor: tuple[int, ...] | None
    prev_cursor: tuple[int, ...] | None
    plan: str                               # which way the rows were read (for the benchmark and tests)


def key_of(row: tuple, sort: str) -> tuple[int, ...]:
    """The sort key of a result row (id, head, length, n_programs, ...)."""
    return {"newest": (row[0],), "shortest": (row[2], row[0]), "equivalents": (row[3], row[0])}[sort]


def parse_cursor(text: str, sort: str) -> tuple[int, ...]:
    """'12,345' -> (12, 345); as many integers as the sort's key has, or `BadQuery`."""
    parts = text.split(",")
    want = len(SORT_KEYS[sort][0])
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise BadQuery(f"bad page cursor {text!r}: expected {want} integer(s) separated by commas") from None
    if len(values) != want or any(abs(v) > 2 ** 62 for v in values):
        raise BadQuery(f"bad page cursor {text!r}: expected {want} integer(s) for sort {sort}")
    return values


def format_cursor(key: tuple[int, ...] | None) -> str | None:
    return None if key is None else ",".join(str(int(k)) for k in key)


# ---- what the planner knows ----------------------------------------------------------------------

@dataclass
class Counts:
    """Counts the planner and the overview use; cheap to compute from indexes, refreshed every few seconds."""
    entries: int
    min_id: int
    max_id: int
    by_source: dict[str, int]
    by_length: dict[int, int]
    by_programs: dict[int, int]
    indexes: frozenset[str]
    taken: float = field(default_factory=time.monotonic)


def indexes(conn) -> frozenset[str]:
    return frozenset(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                "AND tbl_name = 'entries'"))


def counts(conn) -> Counts:
    """Entries per source, per head length and per number of programs (each one pass over an index where
    the file has it), and the id range."""
    idx = indexes(conn)
    lo, hi, n = conn.execute("SELECT coalesce(min(id), 0), coalesce(max(id), 0), count(*) FROM entries").fetchone()

    def group(column: str, index: str) -> dict:
        hint = f"INDEXED BY {index}" if index in idx else ""
        return dict(conn.execute(f"SELECT {column}, count(*) FROM entries {hint} GROUP BY {column}").fetchall())
    return Counts(n, lo, hi, group("source", "entries_source"), group("length", "entries_length"),
                  group("n_programs", "entries_n_programs"), idx)


def first_id_at_or_after(conn, t: float, c: Counts) -> int:
    """The smallest id whose entry was created at or after unix time `t` (max_id + 1 if none), by
    bisection on the primary key (ids grow with `created`; see the module docstring)."""
    lo, hi = c.min_id, c.max_id + 1                  # the bound is in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute("SELECT id, created FROM entries WHERE id >= ? ORDER BY id LIMIT 1", (mid,)).fetchone()
        if row is None or row[1] >= t:
            hi = mid                                 # no id in [mid, row id) exists: mid bounds as well
        else:
            lo = row[0] + 1
    return lo


# ---- planning ----------------------------------------------------------------------------------

def _share(part: float, whole: int) -> float:
    return 1.0 if whole <= 0 else max(part, 0.0) / whole


def plan(req: PageRequest, c: Counts, id_bound: int | None) -> str:
    """Which way to read the rows: 'order' (walk the sort order's index, filter as it goes), 'source',
    'length' or 'rowid' (read the rows one filter selects through its index, then sort them). The
    cheapest by the estimated rows read; see the module docstring."""
    f, n, limit = req.filters, max(c.entries, 1), req.limit + 1
    in_len = None
    if f.min_length is not None or f.max_length is not None:
        lo = -10 ** 9 if f.min_length is None else f.min_length
        hi = 10 ** 9 if f.max_length is None else f.max_length
        in_len = sum(v for k, v in c.by_length.items() if lo <= k <= hi)
    in_src = None if f.source is None else c.by_source.get(f.source, 0)
    in_after = None if id_bound is None else max(0, c.max_id - id_bound + 1)
    share = {"source": 1.0 if in_src is None else _share(in_src, n),
             "length": 1.0 if in_len is None else _share(in_len, n),
             "rowid": 1.0 if in_after is None else _share(in_after, n),
             "contains": CONTAINS_SELECTIVITY if f.contains else 1.0}
    sort_range = {"newest": "rowid", "shortest": "length", "equivalents": None}[req.sort]
    options: dict[str, float] = {}
    if SORT_INDEX[req.sort] is None or SORT_INDEX[req.sort] in c.indexes:
        # walking the sort order: its own range filter costs nothing, every other filter thins the rows
        others = 1.0
        for name, s in share.items():
            if name != sort_range:
                others *= s
        bound = {"rowid": in_after, "length": in_len, None: None}[sort_range]
        span = n if bound is None else bound
        options["order"] = min(span, limit / max(others, 1e-9))
    else:
        options["order"] = 1.5 * n                   # no index for this order: every row, then a sort
    if in_src is not None and "entries_source" in c.indexes:
        # (source, rowid) is the newest order already; the other orders sort the source's rows
        options["source"] = min(in_src, limit / max(share["length"] * share["contains"], 1e-9)) \
            if req.sort == "newest" else 1.2 * in_src
    if in_len is not None and sort_range != "length" and "entries_length" in c.indexes:
        options["length"] = 1.2 * in_len
    if in_after is not None and sort_range != "rowid":
        options["rowid"] = 1.2 * in_after
    return min(options, key=lambda k: (options[k], k != "order"))


def _hint(way: str, sort: str) -> str:
    if way == "order":
        index = SORT_INDEX[sort]
        return "NOT INDEXED" if index is None else f"INDEXED BY {index}"
    return {"source": "INDEXED BY entries_source", "length": "INDEXED BY entries_length",
            "rowid": "NOT INDEXED"}[way]


def page_sql(req: PageRequest, way: str, id_bound: int | None, c: Counts) -> tuple[str, list]:
    """(SQL, parameters) of one page read `way` (see `plan`); it fetches `limit + 1` rows."""
    f = req.filters
    where, params = [], []
    if f.source is not None:
        where.append("source = ?")
        params.append(f.source)
    if f.min_length is not None:
        where.append("length >= ?")
        params.append(int(f.min_length))
    if f.max_length is not None:
        where.append("length <= ?")
        params.append(int(f.max_length))
    if f.contains:
        where.append("instr(head, ?) > 0")
        params.append(f.contains)
    if f.after is not None:
        where.append("id >= ?")
        params.append(int(id_bound))
        where.append("created >= ?")
        params.append(float(f.after))
    columns, desc = SORT_KEYS[req.sort]
    forward_desc = desc != req.backward              # the direction this query reads in
    if req.cursor is not None:
        op = "<" if forward_desc else ">"
        lhs = columns[0] if len(columns) == 1 else f"({', '.join(columns)})"
        rhs = "?" if len(columns) == 1 else f"({', '.join('?' * len(columns))})"
        where.append(f"{lhs} {op} {rhs}")
        params.extend(int(v) for v in req.cursor)
    hint = _hint(way, req.sort)
    if "entries_" in hint and hint.split()[-1] not in c.indexes:
        hint = ""
    order = ", ".join(f"{col} {'DESC' if forward_desc else 'ASC'}" for col in columns)
    sql = (f"SELECT {COLUMNS} FROM entries {hint} " + (f"WHERE {' AND '.join(where)} " if where else "")
           + f"ORDER BY {order} LIMIT ?")
    params.append(int(req.limit) + 1)
    return sql, params


def browse(conn, req: PageRequest, c: Counts) -> Page:
    """One page of entries; see the module docstring for how it stays fast."""
    f = req.filters
    if req.sort not in SORTS:
        raise BadQuery(f"unknown sort {req.sort!r} (choose from {', '.join(SORTS)})")
    if not 1 <= req.limit <= MAX_PAGE:
        raise BadQuery(f"page size must be 1 to {MAX_PAGE}, not {req.limit}")
    id_bound = None if f.after is None else first_id_at_or_after(conn, f.after, c)
    way = plan(req, c, id_bound)
    sql, params = page_sql(req, way, id_bound, c)
    rows = conn.execute(sql, params).fetchall()
    more = len(rows) > req.limit
    rows = rows[:req.limit]
    if req.backward:
        rows.reverse()
    first = key_of(rows[0], req.sort) if rows else None
    last = key_of(rows[-1], req.sort) if rows else None
    if req.backward:
        prev_cursor, next_cursor = (first if more else None), (last if rows else req.cursor)
    else:
        prev_cursor, next_cursor = (first if req.cursor is not None and rows else None), (last if more else None)
    return Page(rows, next_cursor, prev_cursor, way)


# ---- the overview ------------------------------------------------------------------------------

def growth(conn, c: Counts, points: int = 120) -> list[tuple[float, int]]:
    """(unix time, entries by then) at `points` ids spread over the id range: one primary-key look-up
    each (ids are dense and grow with time, so the entries by an id's time are id - min_id + 1)."""
    if c.entries == 0:
        return []
    out = []
    step = max(1, (c.max_id - c.min_id) // max(points - 1, 1))
    targets = list(range(c.min_id, c.max_id + 1, step))
    if targets[-1] != c.max_id:
        targets.append(c.max_id)
    for t in targets:
        row = conn.execute("SELECT id, created FROM entries WHERE id >= ? ORDER BY id LIMIT 1", (t,)).fetchone()
        if row is not None:
            out.append((float(row[1]), int(row[0]) - c.min_id + 1))
    return out


def data_version(conn) -> int:
    """Changes whenever another connection commits to the file (SQLite's `PRAGMA data_version`)."""
    return conn.execute("PRAGMA data_version").fetchone()[0]
