"""`logo db ...` end to end on a small database."""
import json

import numpy as np
import pytest
from PIL import Image

import logo
from app.cli import main
from logo.pictures import save_png
from data.db import Database


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "db.sqlite"
    assert main(["db", "build", str(path), "--size", "200", "--workers", "1", "--chunk-size", "200",
                 "--seed", "1", "--quiet"]) == 0
    return path


def test_build_stats_show(small_db, tmp_path, capsys):
    capsys.readouterr()
    assert main(["db", "stats", str(small_db)]) == 0
    out = capsys.readouterr().out
    assert "entries" in out and "rejected" in out and "off_canvas" in out and "programs per image" in out
    assert main(["db", "stats", str(small_db), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["entries"] >= 200 and sum(st["head_length_histogram"].values()) == st["entries"]
    assert st["outcomes"]["random"]["new"] == st["entries"]
    png = tmp_path / "e1.png"
    assert main(["db", "show", str(small_db), "1", "--png", str(png), "--scale", "2"]) == 0
    out = capsys.readouterr().out
    with Database(small_db) as db:
        assert db.get(1).head in out
    assert Image.open(png).size == (64, 64)
    assert main(["db", "show", str(small_db), "99999"]) == 1


def test_sheet_and_nearest(small_db, tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    assert main(["db", "sheet", str(small_db), "--out", str(sheet), "-n", "12", "--max-length", "15",
                 "--random"]) == 0
    assert sheet.exists()
    assert main(["db", "sheet", str(small_db), "--out", str(sheet), "--source", "dream"]) == 1
    with Database(small_db) as db:
        eid, head = db.heads()[5]
        img = db.images([eid])[0]
    query = tmp_path / "q.png"
    save_png(img, query, scale=4)                      # dark ink on white, 4x larger
    capsys.readouterr()
    assert main(["db", "nearest", str(small_db), str(query), "-k", "3", "--sheet", str(tmp_path / "n.png")]) == 0
    first = capsys.readouterr().out.splitlines()[0].split("\t")
    assert int(first[0]) == eid and float(first[1]) < 0.01


def test_export_import_round_trip(small_db, tmp_path, capsys):
    out = tmp_path / "db.jsonl"
    assert main(["db", "export", str(small_db), str(out)]) == 0
    lines = out.read_text().splitlines()
    with Database(small_db) as db:
        assert len(lines) == len(db)
        rec = json.loads(lines[0])
        assert rec["head"] == db.get(1).head and rec["equivalents"][0] == rec["head"]
    copy = tmp_path / "copy.sqlite"
    assert main(["db", "import", str(copy), str(out)]) == 0
    with Database(small_db) as a, Database(copy) as b:
        assert len(a) == len(b)
        for ea, eb in zip(a.entries(), b.entries()):          # same entries, lists and images
            assert ea.equivalents == eb.equivalents and np.array_equal(ea.image, eb.image)
        assert b.get(1).source == "random"
    # into a database of another image size: programs are re-rendered
    small = tmp_path / "small.sqlite"
    Database(small, image_size=16).close()
    assert main(["db", "import", str(small), str(out)]) == 0
    with Database(small) as c:
        assert 0 < len(c) <= len(lines)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert main(["db", "import", str(copy), str(bad)]) == 1


def test_check_and_clear_errors(small_db, tmp_path, capsys):
    assert main(["db", "check", str(small_db)]) == 0
    assert "ok" in capsys.readouterr().out
    broken = tmp_path / "broken.sqlite"                 # a copy whose programs table lost a row
    broken.write_bytes(small_db.read_bytes())
    import sqlite3
    con = sqlite3.connect(broken)
    assert con.execute("DELETE FROM programs WHERE text = (SELECT head FROM entries WHERE id = 1)").rowcount == 1
    con.commit()
    con.close()
    assert main(["db", "check", str(broken)]) == 1
    assert "programs table" in capsys.readouterr().out
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x89PNG not a database at all")
    assert main(["db", "stats", str(junk)]) == 1           # the error boundary returns the status
    assert "junk.sqlite" in capsys.readouterr().err


def test_build_creates_missing_folders(tmp_path):
    from app.cli import main
    path = tmp_path / "new" / "folder" / "db.sqlite"
    assert main(["db", "build", str(path), "--size", "50", "--workers", "1", "--quiet"]) == 0
    from data.db import Database
    with Database(path, create=False) as db:
        assert len(db) >= 50
