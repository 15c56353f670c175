"""The `logo db serve` web application (Flask): overview, browse, entry, query by image, solve, playground.

`create_app(db_path, ckpt=...)` returns the WSGI application; `app.serve` runs it. The database is opened
read-only (SQLite's read-only mode: `train` and `dream` may write it meanwhile, WAL shows their commits)
twice, each connection used from its own thread (`DatabaseThread`: an SQLite connection belongs to the
thread that opened it): one for the pages, one for "nearest entries", whose novelty index is loaded once
(in the background at start-up, which takes a while for a large database) and shared by every request,
and whose look-ups never hold up browsing.

Safety: templates escape every value (Jinja autoescape), SQL takes values only as parameters, uploads are
bounded in bytes and pixels (`app.web.images`), programs run under the interpreter's limits, a solve is
bounded in time and one at a time per client (`app.web.solving`), and every error is a one-line text
response with a 4xx status (5xx for a fault of the server), never a traceback page.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from flask import Flask, Response, abort, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException

import logo
from logo.library import SOLVE_SIZE
from logo.tokens import n_tokens

from . import queries
from .images import BadUpload, decode_data_url, png_bytes, png_data_url, read_target

MAX_PROGRAM_CHARS = 5_000          # playground and query-by-program text
MAX_CONTAINS_CHARS = 200           # browse's "program contains"
MAX_K = 100                        # nearest entries per page
MAX_SCALE = 16
MAX_ENTRY_ID = 2 ** 63 - 1         # SQLite's largest integer
BROWSE_ARGS = ("source", "min_length", "max_length", "contains", "after", "sort", "n")   # kept by the pager
COUNTS_MIN_AGE_S = 2.0             # the planner's counts are recomputed at most this often while writers write
CSP = ("default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
QUERY_CACHE = 64                   # converted query images kept for their Solve button


class DatabaseThread:
    """Every use of the database on one thread (see the module docstring): `call(fn, *args)` runs
    `fn(db, *args)` there and returns its result (or raises its exception) in the caller's thread."""

    def __init__(self, path):
        from data.db import open_readonly
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="logo-db")
        self.db = self._executor.submit(open_readonly, path).result()
        self.path = self.db.path
        self.image_size = self.db.image_size
        self.threshold = self.db.threshold
        self.created = self.db.created

    def call(self, fn, *args):
        return self._executor.submit(fn, self.db, *args).result()

    def warm_up(self) -> None:
        """Load the novelty index in the background, so that the first query by image is quick."""
        self._warm = self._executor.submit(lambda: self.db.novelty_index())

    def ready(self) -> bool:
        """False while `warm_up` is still loading (a call now would wait for it)."""
        warm = getattr(self, "_warm", None)
        return warm is None or warm.done()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until `warm_up` has loaded the index (tests and benchmarks that must not see a 503)."""
        warm = getattr(self, "_warm", None)
        if warm is not None:
            warm.result(timeout)

    def close(self) -> None:
        self._executor.submit(self.db.close).result()
        self._executor.shutdown()


def library_of(db) -> tuple:
    try:
        return db.library()
    except (logo.LogoError, ValueError):
        return ()


class State:
    """What the pages share: the database thread, cached counts and pictures, queries, solve jobs."""

    def __init__(self, db: DatabaseThread, near: DatabaseThread, solver, solve_queue, max_solve_s: float):
        self.db = db
        self.near = near
        self.solver = solver
        self.solves = solve_queue
        self.max_solve_s = max_solve_s
        self.lock = threading.Lock()
        self._counts: queries.Counts | None = None
        self._counts_version = None
        self._pictures: dict = {}
        self._tasks = None
        self.queries: OrderedDict[str, object] = OrderedDict()
        self.token = hashlib.sha1(f"{db.path}:{db.created}".encode()).hexdigest()[:10]   # image cache buster

    def library(self) -> tuple:
        """The database's procedures (none if its library text does not parse: see `library_error`)."""
        return self.db.call(library_of)

    def library_error(self) -> str | None:
        def check(db):
            try:
                db.library()
            except (logo.LogoError, ValueError) as e:
                return f"the database's library does not parse, so pages use none: {e}"
            return None
        return self.db.call(check)

    # -- counts for the planner and the overview ------------------------------------------------
    def counts(self) -> queries.Counts:
        """The counts, recomputed when another process committed and the last ones are a few seconds old."""
        def read(db):
            version = queries.data_version(db.conn)
            c = self._counts
            if c is not None and (version == self._counts_version or time.monotonic() - c.taken < COUNTS_MIN_AGE_S):
                return c
            self._counts, self._counts_version = queries.counts(db.conn), version
            return self._counts
        return self.db.call(read)

    def picture(self, key, make) -> bytes:
        """A cached PNG (the overview plot, procedure drawings), made again when `key` changes."""
        with self.lock:
            hit = self._pictures.get(key)
        if hit is None:
            hit = make()
            with self.lock:
                if len(self._pictures) > 256:
                    self._pictures.clear()
                self._pictures[key] = hit
        return hit

    def tasks(self):
        """The 160 DreamCoder tasks drawn at the database's image size (for "the task it matches")."""
        if self._tasks is None:
            from data import dreamcoder_tasks
            tasks = dreamcoder_tasks(None, size=self.db.image_size)
            self._tasks = (tasks, {logo.to_text(t.program): t for t in tasks})
        return self._tasks

    def remember_query(self, target) -> str:
        token = secrets.token_hex(8)
        with self.lock:
            self.queries[token] = target
            while len(self.queries) > QUERY_CACHE:
                self.queries.popitem(last=False)
        return token

    def query(self, token: str):
        with self.lock:
            return self.queries.get(token)


# ---- request arguments ---------------------------------------------------------------------------

def bad(message: str, code: int = 400):
    """End the request with a one-line error (see `error_response`)."""
    abort(code, description=" ".join(str(message).split()))


def found(value, message: str):
    """`value`, or the end of the request with a 404 saying `message` (what is not there)."""
    if value is None:
        bad(message, 404)
    return value


def int_arg(name: str, default=None, lo: int | None = None, hi: int | None = None):
    text = request.args.get(name, "").strip()
    if text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        bad(f"{name} must be a whole number, not {text[:40]!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bad(f"{name} must be between {lo} and {hi}, not {value}")
    return value


def time_arg(name: str) -> float | None:
    """An ISO date or date-time (UTC unless it names a zone), or unix seconds."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
        if math.isfinite(value):
            return value
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(text)
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.timezone.utc)
        return t.timestamp()
    except (ValueError, OverflowError, OSError):
        bad(f"{name} must be a date and time such as 2025-01-31T12:00 (UTC) or unix seconds, not {text[:40]!r}")


def utc(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def browse_request() -> queries.PageRequest:
    from data.db import SOURCES
    source = request.args.get("source", "").strip() or None
    if source is not None and source not in SOURCES:
        bad(f"unknown source {source[:40]!r} (choose from {', '.join(SOURCES)})")
    contains = request.args.get("contains", "")
    if len(contains) > MAX_CONTAINS_CHARS:
        bad(f"contains is {len(contains)} characters; at most {MAX_CONTAINS_CHARS}")
    sort = request.args.get("sort", "newest") or "newest"
    if sort not in queries.SORTS:
        bad(f"unknown sort {sort[:40]!r} (choose from {', '.join(queries.SORTS)})")
    filters = queries.Filters(source, int_arg("min_length", lo=0, hi=1_000_000),
                              int_arg("max_length", lo=0, hi=1_000_000), contains or None, time_arg("after"))
    cursor, backward = None, False
    for name, back in (("after_key", False), ("before_key", True)):
        text = request.args.get(name, "").strip()
        if text:
            try:
                cursor, backward = queries.parse_cursor(text, sort), back
            except queries.BadQuery as e:
                bad(str(e))
    return queries.PageRequest(filters, sort, cursor, backward, int_arg("n", 60, 1, queries.MAX_PAGE))


def program_arg(text: str) -> str:
    if len(text) > MAX_PROGRAM_CHARS:
        bad(f"the program is {len(text)} characters; at most {MAX_PROGRAM_CHARS}")
    return text


def error_response(code: int, message: str) -> Response:
    """A one-line plain-text error: `400 Bad Request: what is wrong`."""
    from werkzeug.http import HTTP_STATUS_CODES
    line = " ".join(str(message).split())
    return Response(f"{code} {HTTP_STATUS_CODES.get(code, 'Error')}: {line}\n", status=code,
                    mimetype="text/plain")


def png_response(data: bytes, cache: bool = False) -> Response:
    r = Response(data, mimetype="image/png")
    r.headers["Cache-Control"] = "private, max-age=86400" if cache else "no-store"
    return r


# ---- the application -------------------------------------------------------------------------------

def create_app(db_path, ckpt=None, device: str = "cpu", max_solve_s: float = 60.0) -> Flask:
    """The web application over the database at `db_path` (opened read-only). With `ckpt`, the Solve
    button offers the model proposers too. Raises `data.db.DatabaseError` / `dream.search.solver.SolveError`
    naming a bad file."""
    from .solving import SolveQueue, open_solver
    db = DatabaseThread(db_path)
    try:
        near = DatabaseThread(db_path)
    except BaseException:
        db.close()
        raise
    try:
        solver = open_solver(ckpt, device)
        if solver.watcher is not None:
            check_checkpoint(solver, db, ckpt)
    except BaseException:
        db.close()
        near.close()
        raise
    near.warm_up()
    state = State(db, near, solver, SolveQueue(solver), max_solve_s)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=8 * 1024 * 1024, MAX_FORM_MEMORY_SIZE=8 * 1024 * 1024)
    app.extensions["logo_serve"] = state
    _routes(app, state)
    return app


def check_checkpoint(solver, db: DatabaseThread, ckpt) -> None:
    """The checkpoint must draw at the database's size and know its library's names (as `logo solve`)."""
    from dream.search.solver import SolveError, check_vocabulary
    size = solver.watcher.model.config.image_size
    if size != db.image_size:
        raise SolveError(f"checkpoint {ckpt} was trained on {size}px images, but database {db.path} holds "
                         f"{db.image_size}px images")
    check_vocabulary(solver.watcher.tokenizer, db.call(library_of), ckpt, db.path)


def close_app(app: Flask) -> None:
    state: State = app.extensions["logo_serve"]
    state.solves.close()
    state.db.close()
    state.near.close()


def _routes(app: Flask, state: State) -> None:
    from data.db import SOURCES
    from .solving import SolveBusy, offered_arms
    size = state.db.image_size

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        return error_response(e.code or 500, e.description or e.name)

    @app.errorhandler(Exception)
    def server_error(e: Exception):
        app.logger.exception("request failed")          # the traceback goes to the server's console
        return error_response(500, f"{type(e).__name__}: {e}")

    @app.after_request
    def headers(r: Response) -> Response:
        # a defence behind the escaping: no inline script runs, and nothing is read as another type
        r.headers["Content-Security-Policy"] = CSP
        r.headers["X-Content-Type-Options"] = "nosniff"
        r.headers["Referrer-Policy"] = "no-referrer"
        return r

    @app.context_processor
    def common():
        return {"db_path": state.db.path, "image_size": size, "token": state.token, "utc": utc}

    # -- overview ------------------------------------------------------------------------------
    def overview_numbers() -> dict:
        c = state.counts()
        by_source = {s: c.by_source.get(s, 0) for s in SOURCES}
        by_source.update({s: n for s, n in c.by_source.items() if s not in by_source})   # a foreign file's own
        return {"entries": c.entries, "programs": sum(k * v for k, v in c.by_programs.items()),
                "by_source": by_source, "max_id": c.max_id,
                "plot_key": f"{c.entries}-{c.max_id}-{hash(tuple(sorted(c.by_length.items()))) & 0xffffffff:x}"}

    @app.get("/")
    def overview():
        numbers = overview_numbers()
        library = state.library()
        outcomes = {source: {**o, "rejected": sum(v for k, v in o.items() if k.startswith("rejected:"))}
                    for source, o in state.db.call(lambda d: d.stats()).items()}
        return render_template("overview.html", n=numbers, library=[logo.to_text(p) for p in library],
                               library_error=state.library_error(),
                               outcomes=outcomes, threshold=state.db.threshold,
                               lib_key=hashlib.sha1("".join(logo.to_text(p) for p in library).encode()).hexdigest()[:10])

    @app.get("/api/overview")
    def overview_json():
        return jsonify(overview_numbers())

    @app.get("/overview/growth.png")
    def growth_png():
        c = state.counts()
        key = ("growth", c.entries, c.max_id, tuple(sorted(c.by_length.items())))
        points = state.db.call(lambda d: queries.growth(d.conn, c))
        return png_response(state.picture(key, lambda: growth_plot(points, c.by_length)))

    @app.get("/procedure/<int:index>.png")
    def procedure_png(index: int):
        library = state.library()
        if index >= len(library):
            bad(f"no procedure {index} in the library ({len(library)} procedures)", 404)
        key = ("procedure", index, logo.to_text(library[index]))
        return png_response(state.picture(key, lambda: png_bytes(procedure_drawing(state, library, index), 2)))

    # -- browse ---------------------------------------------------------------------------------
    @app.get("/browse")
    def browse():
        req = browse_request()
        c = state.counts()
        page = state.db.call(lambda d: queries.browse(d.conn, req, c))
        args = {k: v for k, v in request.args.items() if k in BROWSE_ARGS and v != ""}
        return render_template("browse.html", page=page, req=req, sources=SOURCES, sorts=queries.SORTS,
                               args=args, fmt=queries.format_cursor)

    # -- entries --------------------------------------------------------------------------------
    def get_entry(entry_id: int):
        if entry_id > MAX_ENTRY_ID:
            bad(f"no entry {entry_id} in {state.db.path}", 404)

        def read(d):
            try:
                return d.get(entry_id)
            except KeyError:
                return None
        return found(state.db.call(read), f"no entry {entry_id} in {state.db.path}")

    @app.get("/entry/<int:entry_id>")
    def entry(entry_id: int):
        e = get_entry(entry_id)
        k = int_arg("k", 12, 1, MAX_K)
        near, heads = state.near.call(nearest_with_heads, e.image, k + 1) if state.near.ready() else (None, {})
        near = None if near is None else [(i, dist) for i, dist in near if i != e.entry_id][:k]
        programs = [(text, source, created, n_tokens(text)) for text, source, created in e.programs]
        return render_template("entry.html", e=e, programs=programs, near=near, heads=heads,
                               tasks=matching_tasks(state, e))

    @app.get("/entry/<int:entry_id>.png")
    def entry_png(entry_id: int):
        scale = int_arg("scale", 1, 1, MAX_SCALE)
        image = _entry_image(state, entry_id)
        return png_response(png_bytes(image, scale), cache=True)

    # -- query by image / program -------------------------------------------------------------
    def require_index():
        if not state.near.ready():
            bad(f"the nearest-entries index of {state.counts().entries} entries is still loading (it is read once "
                "at start-up); try again in a few seconds", 503)

    @app.get("/query")
    def query_form():
        text = request.args.get("program")
        if text is None:
            return render_template("query.html", result=None, error=None)
        text = program_arg(text)
        try:
            library = state.library()
            images = [logo.render(text, size=s, library=library) for s in (size, SOLVE_SIZE)]
        except (logo.LogoError, RecursionError) as e:
            return render_template("query.html", result=None, error=f"the program does not draw: {e}"), 400
        return query_result(images, f"the program {text}")

    @app.post("/query")
    def query_upload():
        try:
            if "image" in request.files and request.files["image"].filename:
                f = request.files["image"]
                data = f.stream.read(8 * 1024 * 1024 + 1)
                images = read_target(data, f.filename, (size, SOLVE_SIZE))
                label = f.filename
            elif request.form.get("drawing"):
                images = read_target(decode_data_url(request.form["drawing"]), "drawing", (size, SOLVE_SIZE))
                label = "your drawing"
            else:
                raise BadUpload("choose an image file to upload or draw on the canvas")
        except BadUpload as e:
            return render_template("query.html", result=None, error=str(e)), 400
        return query_result(images, label)

    def query_result(images, label: str):
        from dream.search.targets import Target
        require_index()
        k = int_arg("k", 24, 1, MAX_K)
        target = Target("query", "png", images[0], images[1])
        token = state.remember_query(target)
        t0 = time.perf_counter()
        near, heads = state.near.call(nearest_with_heads, images[0], k)
        ms = 1000 * (time.perf_counter() - t0)
        r = Response(render_template("query.html", error=None, result={
            "label": label, "image": png_data_url(images[0], 4), "token": token, "near": near, "heads": heads,
            "ms": ms, "arms": offered_arms(state.solver), "max_solve_s": state.max_solve_s,
            "default_arm": "auto"}))
        r.headers["Server-Timing"] = f"nearest;dur={ms:.1f}"
        return r

    # -- solve ----------------------------------------------------------------------------------
    @app.post("/solve")
    def solve():
        from dream.search.solver import start_programs
        target = state.query(request.form.get("token", ""))
        if target is None:
            bad("unknown or expired query: run the query again, then press Solve", 404)
        require_index()
        arm = request.form.get("proposer", "")
        arms = offered_arms(state.solver)
        if arm not in arms:
            bad(f"unknown proposer {arm[:40]!r} (choose from {', '.join(arms)}; the checkpoint's need --ckpt)")
        try:
            seconds = float(request.form.get("seconds", "10"))
        except ValueError:
            bad("seconds must be a number")
        if not (0 < seconds <= state.max_solve_s):
            bad(f"seconds must be more than 0 and at most {state.max_solve_s:g}")
        starts = state.near.call(start_programs, target.image, state.solver.settings.k)
        library = state.library()
        try:
            job = state.solves.submit(request.remote_addr or "?", arm, seconds, target, starts, library, size)
        except SolveBusy as e:
            bad(str(e), 429)
        return jsonify({"id": job.id, "progress": url_for("solve_progress", job_id=job.id)}), 202

    def get_job(job_id: str):
        return found(state.solves.get(job_id),
                     f"no solve job {job_id[:40]!r} (finished jobs are kept a while, then forgotten)")

    @app.get("/solve/<job_id>")
    def solve_progress(job_id: str):
        return jsonify(get_job(job_id).progress())

    @app.get("/solve/<job_id>/best.png")
    def solve_best_png(job_id: str):
        job = get_job(job_id)
        with job.lock:
            image = job.best_image
        return png_response(png_bytes(found(image, "no program found yet"), 4))

    @app.post("/solve/<job_id>/cancel")
    def solve_cancel(job_id: str):
        job = get_job(job_id)
        if job.client != (request.remote_addr or "?"):
            bad("this solve belongs to another client", 403)
        state.solves.cancel(job)
        return jsonify(job.progress())

    # -- playground -----------------------------------------------------------------------------
    @app.get("/playground")
    def playground():
        text = program_arg(request.args.get("program", ""))
        if not text.strip():
            return render_template("playground.html", program="", error=None, canonical=None, tokens=None)
        library = state.library()
        try:
            p = logo.parse(text)
            logo.render(p, size=size, library=library)
        except (logo.LogoError, RecursionError) as e:
            return render_template("playground.html", program=text, error=str(e), canonical=None, tokens=None), 400
        canonical = logo.to_text(p)
        return render_template("playground.html", program=text, error=None, canonical=canonical,
                               tokens=n_tokens(canonical))

    @app.get("/render.png")
    def render_png():
        text = program_arg(request.args.get("program", ""))
        px = int_arg("size", 256, 4, 1024)
        library = state.library()
        try:
            image = logo.render(text, size=px, library=library)
        except (logo.LogoError, RecursionError) as e:
            bad(f"the program does not draw: {e}")
        return png_response(png_bytes(image))


def nearest_with_heads(db, image: np.ndarray, k: int):
    """([(entry id, distance)], {entry id: head}) of the k entries nearest to `image`."""
    near = db.nearest(image, k)
    heads = {}
    for i, _ in near:
        try:
            heads[i] = db.get(i).head
        except KeyError:
            pass
    return near, heads


def _entry_image(state: State, entry_id: int) -> np.ndarray:
    if entry_id > MAX_ENTRY_ID:
        bad(f"no entry {entry_id} in {state.db.path}", 404)

    def read(d):
        try:
            return d.images([entry_id])[0]
        except KeyError:
            return None
    image = state.db.call(read)
    if image is None:
        bad(f"no entry {entry_id} in {state.db.path}", 404)
    return image


def matching_tasks(state: State, e) -> list:
    """The DreamCoder tasks this entry draws: one of its programs is a task's program, or its image is the
    task's drawing under the database's same-image rule."""
    from data.novelty import same_image
    tasks, by_program = state.tasks()
    found = {by_program[t].name: by_program[t] for t in e.equivalents if t in by_program}
    for t in tasks:
        if t.name not in found and same_image(t.image, e.image, state.db.threshold):
            found[t.name] = t
    return sorted(found.values(), key=lambda t: t.name)


def procedure_drawing(state: State, library, index: int) -> np.ndarray:
    """A procedure drawn by the shortest database head that calls it (among the 5,000 shortest heads),
    else called with every argument 2, else 1 (as the `logo run` report draws them)."""
    d = library[index]
    call = f"({d.name}"
    heads = state.db.call(lambda db: [h for (h,) in db.conn.execute(
        "SELECT head FROM (SELECT head FROM entries INDEXED BY entries_length ORDER BY length LIMIT 5000) "
        "WHERE instr(head, ?) > 0 LIMIT 20", (call,))] if "entries_length" in queries.indexes(db.conn) else [])
    users = [h for h in heads if f"{call} " in h or f"{call})" in h][:1]
    for n in (2, 1):
        users.append(f"({d.name}{''.join(f' {n}' for _ in d.params)})")
    for program in users:
        try:
            return logo.render(program, size=64, library=library)
        except logo.LogoError:
            continue
    return np.zeros((64, 64), np.uint8)


def growth_plot(points: list[tuple[float, int]], by_length: dict[int, int]) -> bytes:
    """Entries over time (UTC) and the head-length histogram, side by side, as PNG bytes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    fig = Figure(figsize=(9, 2.8), dpi=100)
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    if points:
        ts = [dt.datetime.fromtimestamp(t, dt.timezone.utc) for t, _ in points]
        ax.plot(ts, [n for _, n in points], color="#1f4e9c")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=dt.timezone.utc))
        ax.tick_params(axis="x", labelsize=7, rotation=20)
    ax.set_title("entries over time (UTC)", fontsize=9)
    ax.grid(alpha=0.3)
    if by_length:
        ls = sorted(by_length)
        bx.bar(ls, [by_length[k] for k in ls], width=1.0, color="#888")
    bx.set_title("head length (tokens)", fontsize=9)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
