"""The database: novelty, equivalents ordering and capacity, provenance, reading, errors."""
import sqlite3

import numpy as np
import pytest

import logo
from data.db import Database, DatabaseError
from data.generate import n_tokens, random_programs

# five programs drawing the same square (checked below), and their lengths in tokens
A = "(loop i 4 (move ul (/ ua 4)))"                        # 14
E = "(loop i 4 (move 1 (/ ua 4)))"                         # 14, sorts before A ('1' < 'u')
C = "(loop i 4 (move ul (- 0 (/ ua 4))))"                  # 18
D = "(loop i 4 (move ul (- ua (/ ua 4))))"                 # 18, sorts after C ('0' < 'u')
B = "(move ul (/ ua 4)) (loop i 3 (move ul (/ ua 4)))"     # 23


def test_the_square_programs_draw_the_same_image():
    imgs = [logo.render(p, size=32) for p in (A, B, C, D, E)]
    for im in imgs[1:]:
        assert np.array_equal(im, imgs[0])
    assert [n_tokens(p) for p in (A, E, C, D, B)] == [14, 14, 18, 18, 23]


def test_novelty_equivalents_and_head_replacement(tmp_path):
    db = Database(tmp_path / "db.sqlite", max_equivalents=3)
    assert db.insert(C).status == "new"
    assert db.insert(D) == ("equivalent", 1, None)             # same length: text order puts it after C
    assert db.insert(B).status == "equivalent"
    assert db.get(1).equivalents == [C, D, B]                  # sorted; head is the shortest
    assert db.get(1).head == C
    assert db.insert(A).status == "head"                       # shorter: new head, old head stays
    e = db.get(1)
    assert e.equivalents == [A, C, D] and e.head == A          # at most 3: the longest (B) dropped
    assert db.insert(B).status == "duplicate"                  # list full of shorter programs
    assert db.insert(C).status == "duplicate"                  # already known
    assert db.insert(E).status == "head"                       # same length as A: text order breaks the tie
    assert db.get(1).equivalents == [E, A, C]
    assert db.heads() == [(1, E)]
    assert db.insert("(move 2 0)") == ("new", 2, None)
    assert db.insert("(move ul 0) (move ul 0)").status == "equivalent"
    assert len(db) == 2 and db.max_entry_id() == 2


def test_near_image_joins_far_image_is_new(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    assert db.insert("(move 2 0)").status == "new"
    # a one-epsilon pen-up gap: not pixel-identical, but within the threshold
    near = "(move ul 0) (penup (move eps_l 0)) (move (- ul eps_l) 0)"
    assert not np.array_equal(logo.render(near, size=32), db.images([1])[0])
    assert db.insert(near) == ("equivalent", 1, None)
    assert db.insert("(move (+ ul (/ ul 2)) 0)").status == "new"  # a shorter line: a different image


def test_rejections_are_counted_by_reason(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    res = db.insert_many(["(move 0 0)", "(move 9 0) (move 9 0)", "(nope 1)", "(move 1", "(move ul 0)",
                          "(loop i 9 (loop j 9 (loop k 9 (loop m 9 (move eps_l eps_a)))))"], source="dream")
    assert [(r.status, r.reason) for r in res] == [
        ("rejected", "empty"), ("rejected", "off_canvas"), ("rejected", "error"), ("rejected", "error"),
        ("new", None), ("rejected", "error")]           # 6561 segments: past the VM's segment limit
    st = db.stats()["dream"]
    assert st["samples"] == 6 and st["new"] == 1
    assert st["rejected:empty"] == 1 and st["rejected:off_canvas"] == 1 and st["rejected:error"] == 3


def test_provenance_and_reading(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    db.insert(B, source="task")
    db.insert(A, source="dream")
    db.insert("(move 2 0)", source="library")
    e = db.get(1)
    assert e.source == "task" and e.head == A
    assert [(p[0], p[1]) for p in e.programs] == [(A, "dream"), (B, "task")]
    assert e.created <= e.programs[0][2]
    assert e.image.shape == (32, 32) and e.image.dtype == np.uint8
    imgs = db.images([2, 1, 2])
    assert np.array_equal(imgs[0], imgs[2]) and np.array_equal(imgs[1], logo.render(A, size=32))
    assert db.heads(min_id=2) == [(2, "(move 2 0)")]
    assert db.heads(limit=1) == [(1, A)]
    with pytest.raises(KeyError):
        db.images([3])
    with pytest.raises(KeyError):
        db.get(99)
    near = db.nearest(logo.render("(move 2 0)", size=32), k=2)
    assert near[0] == (2, 0.0) and near[1][0] == 1 and near[1][1] > 0.01
    ids, lengths = db.lengths()
    assert ids.tolist() == [1, 2] and lengths.tolist() == [14, 5]


def test_given_image_skips_rendering_and_is_checked(tmp_path):
    db = Database(tmp_path / "db.sqlite", image_size=28)
    img = logo.render(A, size=28)
    assert db.insert(A, image=img).status == "new"
    assert db.insert(B, image=np.zeros((28, 28), np.uint8)).reason == "empty"
    with pytest.raises(ValueError):
        db.insert(B, image=np.zeros((32, 32), np.uint8))


def test_batch_insert_equals_one_by_one(tmp_path):
    progs = random_programs(400, seed=3)
    one = Database(tmp_path / "one.sqlite")
    seq = [one.insert(p) for p in progs]
    many = Database(tmp_path / "many.sqlite")
    batch = many.insert_many(progs)
    assert [r.status for r in batch] == [r.status for r in seq]
    assert [r.entry_id for r in batch] == [r.entry_id for r in seq]
    assert sum(r.status == "new" for r in batch) > 50
    assert sum(r.status in ("head", "equivalent") for r in batch) > 5
    for eid, _ in one.heads():
        assert one.get(eid).equivalents == many.get(eid).equivalents


def test_library_calls(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    db.set_library("(define (poly n len) (loop i n (move len (/ ua n))))")
    assert db.library()[0].name == "poly"
    r = db.insert("(poly 4 ul)", source="library")
    assert r.status == "new"
    assert db.insert(A).status == "equivalent"                 # same square, longer than (poly 4 ul)
    assert db.get(r.entry_id).head == "(poly 4 ul)"
    with pytest.raises(ValueError):
        db.set_library("(move 1 0)")


def test_foreign_and_corrupt_files_give_clear_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am not a database\n" * 10)
    with pytest.raises(DatabaseError, match="notes.txt.*not an SQLite file"):
        Database(text)
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    with pytest.raises(DatabaseError, match="other.sqlite.*not a logo-synth database"):
        Database(other)
    with pytest.raises(DatabaseError, match="no such database"):
        Database(tmp_path / "missing.sqlite", create=False)
    good = tmp_path / "good.sqlite"
    Database(good, image_size=32).close()
    with pytest.raises(DatabaseError, match="image_size=32, not 28"):
        Database(good, image_size=28)
    # a garbled file with a valid SQLite header
    bad = tmp_path / "garbled.sqlite"
    bad.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 20)
    with pytest.raises(DatabaseError, match="garbled.sqlite"):
        Database(bad)


def test_reopen_keeps_settings_and_index(tmp_path):
    path = tmp_path / "db.sqlite"
    db = Database(path, image_size=24, max_equivalents=2)
    db.insert(A)
    db.close()
    db = Database(path)
    assert (db.image_size, db.max_equivalents) == (24, 2)
    assert db.insert(C).status == "equivalent"                  # index rebuilt from the file
    assert db.insert(B).status == "duplicate"
    assert db.check() == []


def test_a_program_stays_in_one_list_when_a_nearer_image_arrives(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    x = np.zeros((32, 32), np.uint8)
    x[10, 5:25] = 255
    i = x.copy()
    i[12, 8] = 70                      # d(x, i)^2 = 4900 <= limit 6658: the same image as x
    y = i.copy()
    y[12, 8] = 80
    y[20, 20] = 60                     # d(x, y)^2 = 10000: a new image; d(i, y)^2 = 3700 < d(i, x)^2
    assert db.insert("(move 1 0)", image=x) == ("new", 1, None)
    assert db.insert("(move 2 0)", image=i) == ("equivalent", 1, None)
    assert db.insert("(move 3 0)", image=y) == ("new", 2, None)
    assert db.nearest(i, 1)[0][0] == 2
    assert db.insert("(move 2 0)", image=i) == ("duplicate", 1, None)
    assert db.insert("(move 4 0)", image=i) == ("equivalent", 2, None)    # a new program joins the nearest
    assert db.entry_of("(move 2 0)") == 1 and db.entry_of("(move   4 0)") == 2 and db.entry_of("(move 5 0)") is None
    assert db.check() == []


def test_a_stored_program_with_another_image_stays_in_its_list(tmp_path):
    # `logo db import` gives each program its entry's image, which in this database may be near no stored
    # image: the program was once made the head of a second entry, and the programs table lost count
    db = Database(tmp_path / "db.sqlite")
    x = np.zeros((32, 32), np.uint8)
    x[10, 5:25] = 255
    far = np.zeros((32, 32), np.uint8)
    far[2:30, 16] = 255
    assert db.insert("(move 1 0)", image=x) == ("new", 1, None)
    assert db.insert_many(["(move 1 0)", "(move 2 0)"], "import", [far, far]) == [("duplicate", 1, None),
                                                                                 ("new", 2, None)]
    assert db.insert("(move 1 0)", image=far) == ("duplicate", 1, None)
    assert len(db) == 2 and db.entry_of("(move 1 0)") == 1 and db.check() == []
