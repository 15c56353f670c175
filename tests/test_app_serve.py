"""`logo db serve` at the HTTP level (Flask's test client): every page and endpoint, and bad input."""
from __future__ import annotations

import hashlib
import html
import io
import itertools
import re
import shutil
import sqlite3
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

import logo
from app.web import queries
from logo.canonical import canonical
from app.web.server import close_app, create_app

from serve_fixtures import DREAM, LIBRARY, SQUARE, TASKS, build_db, loaded, tiny_checkpoint

SCRIPT = "<script>alert(1)</script>"
SQL = "'; DROP TABLE entries; --"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "db.sqlite"
    info = build_db(path)
    app = loaded(create_app(path))
    yield app, path, info
    close_app(app)


@pytest.fixture()
def client(served):
    return served[0].test_client()


def all_entries(path) -> list[tuple]:
    """(id, head, length, n_programs, source, created) of every entry: the truth browse is checked against."""
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT {queries.COLUMNS} FROM entries ORDER BY id").fetchall()


def one_line_error(r, code: int) -> str:
    """The text of a one-line error response (plain text that a browser does not sniff as HTML)."""
    assert r.status_code == code, r.data[:300]
    assert r.mimetype == "text/plain" and r.headers["X-Content-Type-Options"] == "nosniff"
    text = r.get_data(as_text=True)
    assert text.count("\n") == 1 and text.startswith(f"{code} ") and "Traceback" not in text
    return text


def png_of(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(255 - image).save(out, format="PNG")
    return out.getvalue()


def huge_png(width: int, height: int) -> bytes:
    """A real, valid 1-bit PNG of width x height white pixels (a few hundred KB compressed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    z = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    body = b"".join(z.compress(row * 1000) for _ in range(height // 1000)) + z.compress(row * (height % 1000))
    body += z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


# ---- overview -------------------------------------------------------------------------------------

def test_overview_counts_sources_plot_and_library(client, served):
    _, path, info = served
    r = client.get("/")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert f'<span id="n-entries">{info["entries"]}</span>' in page
    for source in ("random", "dream", "task", "library", "import"):      # every source, zero ones too
        assert f'id="n-source-{source}"' in page
    assert 'id="n-source-import">0<' in page and f'id="n-source-dream">{len(DREAM)}<' in page
    assert "(define (sq s)" in page
    n = client.get("/api/overview").get_json()
    assert n["entries"] == info["entries"]
    assert n["programs"] == sum(r[3] for r in all_entries(path))
    assert n["by_source"]["task"] == len(TASKS)
    plot = client.get("/overview/growth.png")
    assert plot.mimetype == "image/png" and Image.open(io.BytesIO(plot.data)).size[0] > 300
    drawing = Image.open(io.BytesIO(client.get("/procedure/0.png").data))
    assert np.asarray(drawing).min() < 128                               # the procedure drew something
    one_line_error(client.get("/procedure/7.png"), 404)


# ---- browse ----------------------------------------------------------------------------------------

def truth(rows, f: queries.Filters, sort: str) -> list[int]:
    keep = [r for r in rows if (f.source is None or r[4] == f.source)
            and (f.min_length is None or r[2] >= f.min_length) and (f.max_length is None or r[2] <= f.max_length)
            and (f.contains is None or f.contains in r[1]) and (f.after is None or r[5] >= f.after)]
    key = {"newest": lambda r: -r[0], "shortest": lambda r: (r[2], r[0]), "equivalents": lambda r: (-r[3], -r[0])}
    return [r[0] for r in sorted(keep, key=key[sort])]


def every_page(conn, req: queries.PageRequest, c: queries.Counts) -> list[int]:
    ids, seen_cursors = [], set()
    while True:
        page = queries.browse(conn, req, c)
        ids += [r[0] for r in page.rows]
        if page.next_cursor is None:
            return ids
        assert page.next_cursor not in seen_cursors
        seen_cursors.add(page.next_cursor)
        req = queries.PageRequest(req.filters, req.sort, page.next_cursor, False, req.limit)


def filter_cases(info):
    return [queries.Filters(), queries.Filters(source="task"), queries.Filters(source="random", min_length=10),
            queries.Filters(min_length=8, max_length=14), queries.Filters(contains="loop"),
            queries.Filters(after=info["middle"]), queries.Filters(source="dream", after=info["middle"], contains="ua"),
            queries.Filters(source="import"), queries.Filters(contains=SQL), queries.Filters(max_length=3)]


def test_browse_pages_through_exactly_the_matching_entries_in_order(served):
    """Keyset paging (4 per page) over every filter and sort gives the brute-force answer, whichever
    way the planner reads the rows; the forced plans agree too."""
    _, path, info = served
    rows = all_entries(path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    c = queries.counts(conn)
    for f, sort in itertools.product(filter_cases(info), queries.SORTS):
        want = truth(rows, f, sort)
        assert every_page(conn, queries.PageRequest(f, sort, limit=4), c) == want, (f, sort)
        bound = None if f.after is None else queries.first_id_at_or_after(conn, f.after, c)
        for way in ("order", "source", "length", "rowid"):
            sql, params = queries.page_sql(queries.PageRequest(f, sort, limit=10_000), way, bound, c)
            assert [r[0] for r in conn.execute(sql, params)] == want, (f, sort, way)


def test_browse_goes_back_a_page(served):
    _, path, info = served
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    c = queries.counts(conn)
    first = queries.browse(conn, queries.PageRequest(sort="shortest", limit=5), c)
    second = queries.browse(conn, queries.PageRequest(sort="shortest", cursor=first.next_cursor, limit=5), c)
    back = queries.browse(conn, queries.PageRequest(sort="shortest", cursor=second.prev_cursor, backward=True,
                                                    limit=5), c)
    assert back.rows == first.rows and back.prev_cursor is None and back.next_cursor == first.next_cursor


def vm_steps(conn, sql: str, params) -> int:
    """SQLite virtual-machine instructions to run a query (a measure of the rows it visits)."""
    steps = [0]

    def count():
        steps[0] += 1
        return 0
    conn.set_progress_handler(count, 1)
    try:
        conn.execute(sql, params).fetchall()
    finally:
        conn.set_progress_handler(None, 0)
    return steps[0]


def test_a_page_visits_a_few_rows_not_all_of_them(served):
    """A page of 5 that an index can answer costs a fraction of reading every row (SQLite's own
    instruction count), also for sorts and filters that SQLite alone would answer by sorting every row."""
    _, path, info = served
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    c = queries.counts(conn)
    cases = [queries.Filters(), queries.Filters(source="task"), queries.Filters(after=info["middle"]),
             queries.Filters(source="dream", max_length=40), queries.Filters(min_length=20)]
    every_row = vm_steps(conn, f"SELECT {queries.COLUMNS} FROM entries NOT INDEXED", ())
    for f, sort in itertools.product(cases, queries.SORTS):
        req = queries.PageRequest(f, sort, limit=5)
        bound = None if f.after is None else queries.first_id_at_or_after(conn, f.after, c)
        sql, params = queries.page_sql(req, queries.plan(req, c, bound), bound, c)
        assert vm_steps(conn, sql, params) * 3 < every_row, (f, sort, sql)


def test_browse_works_on_a_file_without_the_browse_indexes(served, tmp_path):
    """Files from before the source/n_programs indexes: same answers (a writer adds the indexes)."""
    _, path, info = served
    old = tmp_path / "old.sqlite"
    shutil.copy(path, old)
    with sqlite3.connect(old) as conn:
        conn.execute("DROP INDEX entries_source")
        conn.execute("DROP INDEX entries_n_programs")
    rows = all_entries(old)
    conn = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
    c = queries.counts(conn)
    assert "entries_source" not in c.indexes
    for f, sort in itertools.product(filter_cases(info), queries.SORTS):
        assert every_page(conn, queries.PageRequest(f, sort, limit=7), c) == truth(rows, f, sort), (f, sort)
    conn.close()
    from data.db import Database
    Database(old).close()                                      # opened for writing: the indexes come back
    with sqlite3.connect(old) as conn:
        assert {"entries_source", "entries_n_programs"} <= queries.indexes(conn)


def test_browse_page_shows_the_filtered_entries_with_links(client, served):
    _, path, info = served
    r = client.get("/browse", query_string={"source": "task", "sort": "shortest"})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    for eid in info["tasks"].values():
        assert f'href="/entry/{eid}"' in page
    assert page.count('class="cell"') == len(set(info["tasks"].values()))
    r = client.get("/browse", query_string={"n": 5})
    page = r.get_data(as_text=True)
    ids = [int(x) for x in re.findall(r'href="/entry/(\d+)"', page)]
    assert ids == truth(all_entries(path), queries.Filters(), "newest")[:5]
    nxt = re.search(r'id="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    ids2 = [int(x) for x in re.findall(r'href="/entry/(\d+)"', client.get(nxt).get_data(as_text=True))]
    assert ids2 == truth(all_entries(path), queries.Filters(), "newest")[5:10]
    after = client.get("/browse", query_string={"after": time.strftime("%Y-%m-%dT%H:%M:%S",
                                                                        time.gmtime(info["middle"]))})
    assert after.status_code == 200


@pytest.mark.parametrize("args, says", [
    ({"source": "nope"}, "unknown source"), ({"sort": "random()"}, "unknown sort"),
    ({"min_length": "1; DROP TABLE entries"}, "min_length must be a whole number"),
    ({"max_length": "-5"}, "max_length must be between"), ({"after": "yesterday"}, "after must be a date"),
    ({"after": "nan"}, "after must be a date"), ({"after": "99999-01-01"}, "after must be a date"),
    ({"after_key": "1,2,3"}, "bad page cursor"), ({"after_key": "x"}, "bad page cursor"),
    ({"n": "100000"}, "n must be between"), ({"contains": "x" * 201}, "at most 200"),
])
def test_bad_browse_arguments_are_one_line_400s(client, args, says):
    assert says in one_line_error(client.get("/browse", query_string=args), 400)


# ---- entries ---------------------------------------------------------------------------------------

def test_entry_page_lists_programs_nearest_and_the_task(client, served):
    _, path, info = served
    eid = info["square"]
    page = client.get(f"/entry/{eid}").get_data(as_text=True)
    assert "(sq ul)" in page and SQUARE in page               # both programs, with their sources
    assert ">library<" in page and ">random<" in page
    near = [int(x) for x in re.findall(r'href="/entry/(\d+)"', page)]
    assert len(near) == 12 and eid not in near
    task_id = info["tasks"]["5-gon 1l"]
    assert "<b>5-gon 1l</b>" in client.get(f"/entry/{task_id}").get_data(as_text=True)
    assert "Matches no DreamCoder task" in client.get(f"/entry/{info['dream'][0]}").get_data(as_text=True)
    img = np.asarray(Image.open(io.BytesIO(client.get(f"/entry/{eid}.png?scale=4").data)))
    from data.db import open_readonly
    with open_readonly(path) as db:
        assert np.array_equal(255 - img[::4, ::4], db.images([eid])[0])       # the entry's image, ink dark


@pytest.mark.parametrize("url, code", [
    ("/entry/999999", 404), ("/entry/abc", 404), ("/entry/-1", 404), ("/entry/1%27%20OR%201=1", 404),
    ("/entry/999999.png", 404), ("/entry/99999999999999999999999", 404), ("/entry/99999999999999999999999.png", 404), ("/entry/1.png?scale=99", 400), ("/entry/1?k=0", 400), ("/nothing", 404),
])
def test_unknown_entries_and_pages_are_one_line_errors(client, url, code):
    one_line_error(client.get(url), code)


# ---- query by image --------------------------------------------------------------------------------

def task_png(name: str, size: int = 64) -> bytes:
    from data import dreamcoder_tasks
    task = next(t for t in dreamcoder_tasks("train", size=size) if t.name == name)
    return png_of(task.image)


def nearest_ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'href="/entry/(\d+)"', page.split('id="nearest"', 1)[1])]


def test_uploading_a_task_png_finds_its_entry_first(client, served):
    _, _, info = served
    r = client.post("/query", data={"image": (io.BytesIO(task_png("7-gon 1l")), "7gon.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 200
    assert nearest_ids(r.get_data(as_text=True))[0] == info["tasks"]["7-gon 1l"]


def test_a_canvas_drawing_is_a_query(client):
    canvas = np.zeros((256, 256), np.uint8)
    canvas[100:110, 30:220] = 255                         # one horizontal stroke
    url = "data:image/png;base64," + __import__("base64").b64encode(png_of(canvas)).decode()
    r = client.post("/query", data={"drawing": url})
    assert r.status_code == 200 and len(nearest_ids(r.get_data(as_text=True))) == 24


def test_a_program_is_a_query(client, served):
    r = client.get("/query", query_string={"program": SQUARE})
    assert nearest_ids(r.get_data(as_text=True))[0] == served[2]["square"]


@pytest.mark.parametrize("data, says", [
    ({"image": (io.BytesIO(b"this is not an image"), "notes.txt")}, "notes.txt: not an image file"),
    ({"image": (io.BytesIO(b""), "empty.png")}, "empty.png: the file is empty"),
    ({"image": (io.BytesIO(png_of(np.zeros((40, 40), np.uint8))), "blank.png")}, "image is empty"),
    ({"drawing": "javascript:alert(1)"}, "not a PNG data URL"),
    ({"drawing": "data:image/png;base64,@@@"}, "not valid base64"),
    ({}, "choose an image file"),
])
def test_bad_uploads_are_400s_with_one_line(client, data, says):
    r = client.post("/query", data=data, content_type="multipart/form-data")
    assert r.status_code == 400
    error = html.unescape(re.search(r'<p class="error" id="error">([^<]*)</p>', r.get_data(as_text=True)).group(1))
    assert says in error and "\n" not in error


def test_a_30000_by_30000_png_is_refused_before_decoding(client):
    data = huge_png(30000, 30000)
    assert len(data) < 1_000_000                           # small on the wire, 900 million pixels inside
    t = time.monotonic()
    r = client.post("/query", data={"image": (io.BytesIO(data), "bomb.png")}, content_type="multipart/form-data")
    assert r.status_code == 400 and "bomb.png: image too large" in r.get_data(as_text=True)
    assert time.monotonic() - t < 5
    r = client.post("/query", data={"image": (io.BytesIO(huge_png(5000, 5000)), "big.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "5000x5000 pixels, more than" in r.get_data(as_text=True)


def test_a_body_over_the_size_limit_is_a_413(client):
    r = client.post("/query", data={"image": (io.BytesIO(b"\0" * (9 * 1024 * 1024)), "x.png")},
                    content_type="multipart/form-data")
    one_line_error(r, 413)


# ---- playground ----------------------------------------------------------------------------------

def test_playground_draws_a_program(client):
    r = client.get("/playground", query_string={"program": "(sq (* ul 2))"})    # a library call
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="drawing"' in page and 'id="nearest-link"' in page
    img = client.get("/render.png", query_string={"program": "(sq (* ul 2))", "size": 64})
    want = logo.render("(loop i 4 (move (* ul 2) (/ ua 4)))", size=64)      # what the procedure call draws
    assert img.mimetype == "image/png" and np.array_equal(255 - np.asarray(Image.open(io.BytesIO(img.data))), want)


@pytest.mark.parametrize("program, says", [
    ("(move ul", "line 1"),                                             # does not parse
    ("(loop i (* 9 (* 9 9)) (loop j (* 9 (* 9 9)) (penup (move ul 0))))", "ran more than 200000 steps"),  # runs away
    ("(define (f) (f)) (f)", "does 'f' call itself"),                    # recursion
    ("(nope 1 2)", "nope"),
    ("x" * 5001, "at most 5000"),
])
def test_playground_reports_bad_programs_in_one_line(client, program, says):
    r = client.get("/playground", query_string={"program": program})
    assert r.status_code == 400
    if "at most" in says:
        assert says in one_line_error(r, 400)
        return
    error = html.unescape(re.search(r'<p class="error" id="error">([^<]*)</p>', r.get_data(as_text=True)).group(1))
    assert says in error and "\n" not in error
    assert "does not draw" in one_line_error(client.get("/render.png", query_string={"program": program}), 400)
    assert client.get("/query", query_string={"program": program}).status_code == 400


# ---- solve ---------------------------------------------------------------------------------------

def query_token(client, program: str = "(loop i 3 (move ul (/ ua 3)))") -> str:
    page = client.get("/query", query_string={"program": program}).get_data(as_text=True)
    return re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)


def wait(client, job: dict, limit_s: float = 30) -> dict:
    t = time.monotonic()
    while time.monotonic() - t < limit_s:
        p = client.get(job["progress"]).get_json()
        if p["status"] not in ("queued", "running"):
            return p
        time.sleep(0.1)
    raise AssertionError(f"solve did not end: {p}")


HARD = "(loop i 9 (move (/ ul 3) (/ ua 9))) (move (* ul 3) (/ ua 7)) (loop i 5 (move ul (/ ua 5)))"


def test_solve_runs_in_the_background_one_at_a_time_within_its_budget(client):
    token = query_token(client, HARD)
    r = client.post("/solve", data={"token": token, "proposer": "grammar", "seconds": "2"})
    assert r.status_code == 202
    job = r.get_json()
    busy = client.post("/solve", data={"token": token, "proposer": "grammar", "seconds": "2"})
    assert "already" in one_line_error(busy, 429)            # one at a time per client
    p = wait(client, job)
    assert p["status"] == "done" and p["program"] is not None and p["elapsed_s"] <= 2 + 1.5
    assert p["expanded"] > 0 and p["candidates"] > 0
    assert logo.render(p["program"], size=32, library=logo.parse_library(LIBRARY)).any()
    best = client.get(job["progress"] + "/best.png")
    assert best.mimetype == "image/png"
    again = client.post("/solve", data={"token": token, "proposer": "grammar", "seconds": "1"})
    assert again.status_code == 202 and wait(client, again.get_json())["status"] == "done"   # free again


def test_the_page_offers_the_users_arms_auto_first(client):
    page = client.get("/query", query_string={"program": SQUARE}).get_data(as_text=True)
    offered = re.findall(r'<option value="([^"]+)"', page.split('name="proposer"')[1].split("</select>")[0])
    assert offered == ["auto", "grammar", "none"]                 # no checkpoint: no model arms, no ablations
    assert '<option value="auto" selected>' in page


def test_auto_searches_from_enumerated_starts_and_solves(client):
    token = query_token(client, "(loop i 3 (move ul (/ ua 3)))")
    p = wait(client, client.post("/solve", data={"token": token, "proposer": "auto", "seconds": "10"}).get_json())
    assert p["status"] == "done" and p["solved"] and p["proposer"] == "auto"


def _page_search(target, arm: str = "auto", budget_s: float = 3.0):
    """`search_with_progress` as the page's worker runs it (no checkpoint, no database starts): (result, the phases
    it announced with their constructions, the searches it reported, seconds)."""
    from app.web.solving import open_solver, search_with_progress
    solver = open_solver(None)
    phases, searches = [], []
    t = time.monotonic()
    result = search_with_progress(solver, arm, target, [""], (), 32, budget_s, searches.append, lambda: False,
                                  lambda name, construction=None: phases.append((name, construction)))
    return result, phases, searches, time.monotonic() - t


def _canonical(text: str) -> str:
    return logo.to_text(canonical(logo.parse(text)))


def test_the_page_search_of_a_digit_starts_from_its_construction():
    """`auto` on an MNIST digit constructs a program stroke by stroke, reports the best start while it does, and
    searches from it: the construction is a start program and the result is at least as close."""
    from dream.search.score import iou
    from dream.search.targets import mnist_targets
    target = mnist_targets("heldout", 32, limit=1)[0]
    result, phases, searches, took = _page_search(target)
    assert [name for name, _ in phases] == ["constructing", "searching"]          # no enumeration for a digit
    construction = phases[-1][1]
    assert construction is not None and construction.program and construction.iou > 0.5
    assert _canonical(construction.program) in result.start_texts
    assert _canonical(construction.program) not in searches[0].start_texts      # reported before it was built
    start = searches[-1].seen[canonical(logo.parse(construction.program))]
    assert result.best.key() <= start.key() and result.best.distance <= start.distance
    assert iou(result.best.image28, target.image28) > 0.5 > iou(logo.render("", 28), target.image28)
    assert took < 3.0 + 2.0                                                      # within the budget (and slack)


def test_an_uploaded_image_is_constructed_only_when_the_enumerated_starts_do_not_solve_it():
    from dream.search.targets import Target, mnist_targets
    digit = mnist_targets("heldout", 32, limit=1)[0]
    upload = Target("query", "png", digit.image, digit.image28)                  # a digit uploaded as an image
    result, phases, _, _ = _page_search(upload)
    assert [name for name, _ in phases] == ["enumerating", "constructing", "searching"]
    assert _canonical(phases[-1][1].program) in result.start_texts
    figure = Target("query", "png", logo.render(SQUARE, 32), logo.render(SQUARE, 28))   # the enumerator solves it
    result, phases, _, _ = _page_search(figure)
    assert [name for name, _ in phases] == ["enumerating", "searching"] and phases[-1][1] is None and result.solved
    _, phases, _, _ = _page_search(upload, arm="grammar", budget_s=1.0)          # a named arm searches as it did
    assert [name for name, _ in phases] == ["enumerating", "searching"]


def test_solve_finds_a_program_that_draws_the_target(client):
    token = query_token(client, "(loop i 3 (move ul (/ ua 3)))")
    job = client.post("/solve", data={"token": token, "proposer": "grammar", "seconds": "10"}).get_json()
    p = wait(client, job)
    assert p["status"] == "done" and p["solved"]
    assert logo.render(p["program"], size=28, library=logo.parse_library(LIBRARY)).tobytes() == \
        logo.render("(loop i 3 (move ul (/ ua 3)))", size=28).tobytes() or p["distance"] < 0.05


def test_a_solve_can_be_cancelled(client):
    token = query_token(client, HARD)
    job = client.post("/solve", data={"token": token, "proposer": "grammar", "seconds": "20"}).get_json()
    time.sleep(0.3)
    client.post(job["progress"] + "/cancel")
    t = time.monotonic()
    assert wait(client, job)["status"] == "cancelled" and time.monotonic() - t < 10


@pytest.mark.parametrize("form, code, says", [
    ({"token": "feed", "proposer": "grammar", "seconds": "1"}, 404, "unknown or expired query"),
    ({"proposer": "model", "seconds": "1"}, 400, "need --ckpt"),
    ({"proposer": SCRIPT, "seconds": "1"}, 400, "unknown proposer"),
    ({"proposer": "random", "seconds": "1"}, 400, "unknown proposer"),         # an ablation: bench/ only
    ({"proposer": "grammar", "seconds": "1e9"}, 400, "at most 60"),
    ({"proposer": "grammar", "seconds": "-1"}, 400, "more than 0"),
    ({"proposer": "grammar", "seconds": "nan"}, 400, "more than 0"),
    ({"proposer": "grammar", "seconds": SQL}, 400, "seconds must be a number"),
])
def test_bad_solve_requests_are_one_line_errors(client, form, code, says):
    form = {"token": query_token(client), **form}
    assert says in one_line_error(client.post("/solve", data=form), code)


def test_unknown_solve_jobs_are_404s(client):
    for url in ("/solve/123abc", "/solve/123abc/best.png"):
        one_line_error(client.get(url), 404)
    one_line_error(client.post("/solve/123abc/cancel"), 404)


def test_with_a_checkpoint_the_model_proposer_solves(tmp_path, served):
    _, path, _ = served
    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    app = loaded(create_app(path, ckpt=ckpt))
    try:
        client = app.test_client()
        page = client.get("/query", query_string={"program": SQUARE}).get_data(as_text=True)
        assert '<option value="auto" selected>' in page and '<option value="model" >' in page
        token = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)
        job = client.post("/solve", data={"token": token, "proposer": "model", "seconds": "2"}).get_json()
        p = wait(client, job)
        assert p["status"] == "done" and p["solved"], p                  # the square is a start program
    finally:
        close_app(app)


# ---- safety --------------------------------------------------------------------------------------

def test_sql_and_html_in_every_text_field_neither_run_nor_leak(client, served):
    _, path, info = served
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    responses = [
        client.get("/browse", query_string={"contains": SCRIPT}), client.get("/browse", query_string={"contains": SQL}),
        client.get("/browse", query_string={"source": SCRIPT}), client.get("/browse", query_string={"sort": SCRIPT}),
        client.get("/browse", query_string={"after": SCRIPT}), client.get("/browse", query_string={"after_key": SQL}),
        client.get("/browse", query_string={"min_length": SCRIPT}),
        client.get("/playground", query_string={"program": SCRIPT}),
        client.get("/playground", query_string={"program": f"(move ul 0) ; {SCRIPT}"}),
        client.get("/query", query_string={"program": SCRIPT}),
        client.get("/render.png", query_string={"program": SQL}),
        client.post("/query", data={"image": (io.BytesIO(b"<html>" + SCRIPT.encode()), f"{SCRIPT}.png")},
                    content_type="multipart/form-data"),
        client.post("/query", data={"drawing": SCRIPT}),
        client.post("/solve", data={"token": SCRIPT, "proposer": "grammar", "seconds": "1"}),
        client.get(f"/solve/{SCRIPT}"),
    ]
    for r in responses:
        text = r.get_data(as_text=True)
        assert r.status_code < 500 and "Traceback" not in text
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]     # no inline script would run
        if r.mimetype == "text/html":
            assert "<script>alert" not in text, text[:400]
        else:                                   # a one-line error may quote the input, as plain text
            one_line_error(r, r.status_code)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in responses[0].get_data(as_text=True)    # echoed, escaped
    assert "No entries match" in responses[1].get_data(as_text=True)
    assert len(all_entries(path)) == info["entries"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before                          # read-only


def test_text_from_a_hostile_database_file_is_escaped(tmp_path, served):
    _, path, _ = served
    bad = tmp_path / "hostile.sqlite"
    shutil.copy(path, bad)
    with sqlite3.connect(bad) as conn:
        eid = conn.execute("SELECT max(id) FROM entries").fetchone()[0]
        conn.execute("UPDATE entries SET head = ?, source = ?, programs = ? WHERE id = ?",
                     (SCRIPT, "<b>src</b>", f'[["{SCRIPT}", "<i>x</i>", 0]]', eid))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'library'", (f"(define (f {SCRIPT}",))
    app = loaded(create_app(bad))
    try:
        client = app.test_client()
        overview = client.get("/").get_data(as_text=True)          # a library that does not parse: said, not run
        assert 'id="library-error"' in overview and "<script>alert" not in overview
        assert client.get("/playground", query_string={"program": SQUARE}).status_code == 200
        for url in ("/browse", f"/entry/{eid}", "/browse?contains=%3Cscript"):
            text = client.get(url).get_data(as_text=True)
            assert "<script>alert" not in text and "<b>src" not in text and "<i>x" not in text
            assert "&lt;script&gt;" in text
    finally:
        close_app(app)


def test_a_server_fault_is_one_line_without_a_traceback(client, served, monkeypatch):
    from app.web import server
    monkeypatch.setattr(server, "matching_tasks", lambda *a: 1 / 0)
    text = one_line_error(client.get(f"/entry/{served[2]['square']}"), 500)
    assert "ZeroDivisionError" in text


def test_while_the_index_loads_pages_say_so_instead_of_waiting(client, served, monkeypatch):
    from concurrent.futures import Future
    state = served[0].extensions["logo_serve"]
    monkeypatch.setattr(state.near, "_warm", Future())          # a warm-up that has not finished
    assert "still loading" in one_line_error(client.get("/query", query_string={"program": SQUARE}), 503)
    page = client.get(f"/entry/{served[2]['square']}").get_data(as_text=True)
    assert 'id="nearest-loading"' in page and "(sq ul)" in page
    monkeypatch.undo()
    r = client.get("/query", query_string={"program": SQUARE})
    assert r.status_code == 200 and r.headers["Server-Timing"].startswith("nearest;dur=")


# ---- live ----------------------------------------------------------------------------------------

def test_the_pages_follow_a_writer(tmp_path, served, monkeypatch):
    """`dream` writes while the server reads (WAL): counts, browse and nearest see the new entries."""
    from app.web import server
    from data.db import Database
    monkeypatch.setattr(server, "COUNTS_MIN_AGE_S", 0.0)
    _, path, info = served
    live = tmp_path / "live.sqlite"
    shutil.copy(path, live)
    app = loaded(create_app(live))
    try:
        client = app.test_client()
        assert client.get("/api/overview").get_json()["entries"] == info["entries"]
        client.get("/query", query_string={"program": SQUARE})              # the novelty index is loaded
        with Database(live) as writer:
            new = writer.insert("(loop i 5 (move (* ul 3) (/ ua 5))) (move ul 0)", source="dream").entry_id
        n = client.get("/api/overview").get_json()
        assert n["entries"] == info["entries"] + 1 and n["by_source"]["dream"] == len(DREAM) + 1
        assert f'href="/entry/{new}"' in client.get("/browse?n=1").get_data(as_text=True)
        page = client.get("/query", query_string={"program": "(loop i 5 (move (* ul 3) (/ ua 5))) (move ul 0)"})
        assert nearest_ids(page.get_data(as_text=True))[0] == new
    finally:
        close_app(app)


# ---- the command ---------------------------------------------------------------------------------

def test_the_command_is_registered_and_names_a_missing_database(tmp_path, capsys):
    from app.cli import main
    with pytest.raises(SystemExit) as e:
        main(["db", "serve", "--help"])
    assert e.value.code == 0 and "--ckpt" in capsys.readouterr().out
    assert main(["db", "serve", str(tmp_path / "missing.sqlite")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("logo db serve: ") and "missing.sqlite" in err and "\n" not in err


def test_the_command_refuses_a_port_in_use(served, capsys):
    import socket
    from app.cli import main
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["db", "serve", str(served[1]), "--port", str(port)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"logo db serve: cannot listen on 127.0.0.1:{port}: the port is in use (choose another with --port)"


def test_loopback_hosts():
    from app.serve import is_loopback
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


def test_the_command_serves_until_interrupted_and_warns_about_an_open_host(served):
    """`logo db serve DB --host 0.0.0.0 --port 0` as a process: the start-up lines, a page, Ctrl-C."""
    import os
    import signal
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "db", "serve", str(served[1]), "--port", "0",
                             "--host", "0.0.0.0", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=root)
    try:
        first = proc.stdout.readline()
        port = int(re.search(r"http://0\.0\.0\.0:(\d+)/", first).group(1))
        assert f"{served[2]['entries']} entries, read-only" in first
        assert "not only on this machine" in proc.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/overview", timeout=30) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGINT)
        try:                                   # communicate drains both pipes, so a chatty server cannot block
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the server did not stop within 60 s of Ctrl-C; its stderr ends: {err[-3000:]}")
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdout, proc.stderr):
            if not pipe.closed:
                pipe.close()
