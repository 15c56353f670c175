"""Format versions (migration of older files, refusal of newer ones) and truly read-only opening.

Tests run as root, where file permissions do not stop writes: read-only opening is checked through
SQLite's own refusal (mode=ro) and unchanged file bytes, and the "file is read-only" paths through a
monkeypatched permission check (`data.db.writable`)."""
import hashlib
import json
import os
import sqlite3

import pytest

import data.db
from data.db import (FORMAT_VERSION, Database, DatabaseError, NeedsMigrationError, ReadOnlyError,
                     open_readonly)
from app.cli import main

SQUARE, SQUARE2 = "(loop i 4 (move ul (/ ua 4)))", "(move ul (/ ua 4)) (loop i 3 (move ul (/ ua 4)))"  # same image
PROGRAMS = [SQUARE, SQUARE2, "(move 2 0)", "(move 3 ua)"]


def _make(path):
    with Database(path) as db:
        db.insert_many(PROGRAMS, source="dream")
    return path


def _sql(path, *statements):
    con = sqlite3.connect(path)
    for s in statements:
        con.execute(s)
    con.commit()
    con.close()


def _meta_version(path):
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0])
    finally:
        con.close()


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_files_have_the_current_version(tmp_path):
    path = _make(tmp_path / "db.sqlite")
    assert FORMAT_VERSION == 2 and _meta_version(path) == 2


def test_version_1_file_without_programs_table_is_migrated_on_opening(tmp_path):
    path = _make(tmp_path / "old.sqlite")
    _sql(path, "DROP TABLE programs", "UPDATE meta SET value = '1' WHERE key = 'version'")
    with pytest.raises(NeedsMigrationError, match="version 1"):
        open_readonly(path)                              # reading it needs the table: refused, unchanged
    assert _meta_version(path) == 1
    with Database(path) as db:
        assert db.version == 2 and db.check() == []
        assert db.entry_of(SQUARE2) == db.entry_of(SQUARE) == 1 and db.get(1).equivalents == [SQUARE, SQUARE2]
        assert db.insert(SQUARE2).status == "duplicate"
    assert _meta_version(path) == 2                      # recorded: the next opening does not migrate again


def test_version_1_file_made_by_the_previous_code_opens(tmp_path):
    # version 1 files written since the programs table existed differ only in the version number
    path = _make(tmp_path / "v1.sqlite")
    _sql(path, "UPDATE meta SET value = '1' WHERE key = 'version'")
    with open_readonly(path) as db:                      # readable as is; read-only opening changes nothing
        assert db.version == 1 and len(db) == 3 and db.check() == []
    assert _meta_version(path) == 1
    with Database(path) as db:
        assert db.version == 2 and db.check() == [] and len(db) == 3
    assert _meta_version(path) == 2


def test_newer_or_missing_version_is_refused_clearly(tmp_path):
    path = _make(tmp_path / "new.sqlite")
    _sql(path, f"UPDATE meta SET value = '{FORMAT_VERSION + 1}' WHERE key = 'version'")
    for opener in (Database, open_readonly):
        with pytest.raises(DatabaseError, match=f"version {FORMAT_VERSION + 1}, newer than this code"):
            opener(path)
    assert _meta_version(path) == FORMAT_VERSION + 1     # left alone
    _sql(path, "UPDATE meta SET value = 'x' WHERE key = 'version'")
    with pytest.raises(DatabaseError, match="no valid database format version"):
        Database(path)


def test_open_readonly_cannot_write_and_changes_nothing(tmp_path):
    path = _make(tmp_path / "db.sqlite")
    before = _digest(path)
    with open_readonly(path) as db:
        assert db.readonly and len(db) == 3
        assert db.nearest(db.images([1])[0], 1)[0] == (1, 0.0) and db.check() == []
        with pytest.raises(ReadOnlyError, match="opened read-only"):
            db.insert("(move 2 0)")
        with pytest.raises(ReadOnlyError):
            db.set_library("(define (l) (move ul 0))")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):   # SQLite itself refuses
            db.conn.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")
    assert _digest(path) == before
    with pytest.raises(DatabaseError, match="no such database"):
        open_readonly(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()


def test_open_readonly_on_a_file_without_write_permission(tmp_path, monkeypatch):
    path = _make(tmp_path / "db.sqlite")
    os.chmod(path, 0o444)
    monkeypatch.setattr(data.db, "writable", lambda p: False)    # as a non-root user would see it
    before = _digest(path)
    with open_readonly(path) as db:
        assert [h for _, h in db.heads()] == [db.get(i).head for i in (1, 2, 3)]
    assert _digest(path) == before
    assert sorted(os.listdir(tmp_path)) == ["db.sqlite"]        # no -wal / -shm side files created
    with pytest.raises(ReadOnlyError, match="the file is read-only"):
        Database(path)                                           # opening for writing says why


def test_cli_reads_a_read_only_database_and_refuses_to_change_it(tmp_path, monkeypatch, capsys):
    path = _make(tmp_path / "db.sqlite")
    os.chmod(path, 0o444)
    monkeypatch.setattr(data.db, "writable", lambda p: False)
    before = _digest(path)
    p = str(path)
    assert main(["db", "stats", p, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 3
    assert main(["db", "show", p, "1"]) == 0
    assert main(["db", "check", p]) == 0
    out = tmp_path / "out.jsonl"
    assert main(["db", "export", p, str(out)]) == 0 and len(out.read_text().splitlines()) == 3
    assert main(["db", "sheet", p, "--out", str(tmp_path / "s.png")]) == 0
    from logo.pictures import save_png
    with open_readonly(path) as db:
        save_png(db.images([2])[0], tmp_path / "q.png")
    assert main(["db", "nearest", p, str(tmp_path / "q.png"), "-k", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("2\t")
    err = capsys.readouterr().err
    assert "not a readable" not in err
    assert main(["db", "import", p, str(out)]) == 1        # the error boundary returns the status
    err = capsys.readouterr().err
    assert "read-only" in err and "not a readable" not in err
    assert main(["db", "build", p, "--size", "10", "--workers", "1", "--quiet"]) == 1
    assert "read-only" in capsys.readouterr().err
    assert _digest(path) == before


def test_sqlite_refusing_a_write_is_reported_as_read_only(tmp_path):
    # the mapping from SQLite's SQLITE_READONLY to ReadOnlyError, whatever made the file read-only
    path = _make(tmp_path / "db.sqlite")
    with Database(path) as db:
        db.conn.close()
        db.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        with pytest.raises(ReadOnlyError, match="the file is read-only"):
            db.insert("(move 2 0)")
