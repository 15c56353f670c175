"""Searches on local worker processes (`dream.search.executor`): the pool keeps going when a worker dies (its item
is run again, or reported), `logo solve --workers 2` gives the rows of `--workers 1` in the input order,
`dream --workers 2` stays the one writer when a worker is SIGKILLed, and a bad `--ray` is one line, exit 2."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import logo
from app.cli import main as logo_main
from data.db import Database
from dream.search.executor import Inline, LocalPool, WorkerError, Workers, open_executor

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


# ---- the executor itself ---------------------------------------------------------------------------

@dataclass(frozen=True)
class EchoJob:
    """Doubles each item; `die_on`: the item whose worker kills itself (every time, or with `once`, only the
    first time: a marker file remembers)."""
    die_on: int | None = None
    once: str | None = None
    fail_build: bool = False

    def build(self):
        if self.fail_build:
            raise FileNotFoundError("ckpt/: no checkpoint found")
        return self.run

    def run(self, item):
        if item == self.die_on and not (self.once and os.path.exists(self.once)):
            if self.once:
                Path(self.once).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        if item == -1:
            raise ValueError("no negative items")
        time.sleep(0.02)
        return item * 2, os.getpid()


def _run_all(executor, items):
    return {o.key: o for o in executor.map((i, i) for i in items)}


def test_a_local_pool_runs_every_item_and_reports_one_that_keeps_killing_its_worker():
    with LocalPool(2, retries=2).start(EchoJob(die_on=3)) as pool:
        first = pool.pids()
        got = _run_all(pool, range(8))
        assert sorted(got) == list(range(8))
        for i in set(range(8)) - {3}:
            assert got[i].ok and got[i].value[0] == 2 * i and got[i].attempts == 1
        assert not got[3].ok and got[3].attempts == 3 and "died 3 times" in got[3].error
        assert "SIGKILL" in got[3].error
        assert pool.deaths == 3
        # the pool replaced the dead workers and is still whole: the next items run
        assert len(pool.pids()) == 2 and set(pool.pids()) != set(first)
        assert [o.value[0] for o in pool.map([(10, 5)])] == [10]


def test_a_killed_worker_costs_only_its_own_item_which_runs_again(tmp_path):
    with LocalPool(2).start(EchoJob(die_on=2, once=str(tmp_path / "died"))) as pool:
        got = _run_all(pool, range(6))
    assert all(o.ok for o in got.values())
    assert [got[i].value[0] for i in range(6)] == [0, 2, 4, 6, 8, 10]
    assert got[2].attempts == 2 and all(got[i].attempts == 1 for i in (0, 1, 3, 4, 5))


def test_an_item_that_raises_is_an_error_outcome_and_the_worker_goes_on():
    for executor in (Inline(), LocalPool(2)):
        with executor.start(EchoJob()) as ex:
            got = _run_all(ex, [1, -1, 2])
        assert got[-1].error == "ValueError: no negative items" and got[-1].attempts == 1
        assert got[1].value[0] == 2 and got[2].value[0] == 4


def test_a_worker_that_cannot_start_stops_the_run_with_its_reason():
    with pytest.raises(WorkerError, match="no checkpoint found"):
        with LocalPool(2).start(EchoJob(fail_build=True)) as pool:
            list(pool.map((i, i) for i in range(4)))


def test_the_flags_choose_the_executor():
    assert isinstance(open_executor(Workers(1)), Inline)
    pool = open_executor(Workers(3))
    assert isinstance(pool, LocalPool) and pool.workers == 3
    assert Workers(None).resolved() == (os.cpu_count() or 1)
    assert Workers(2, "auto").to_argv() == ["--workers", "2", "--ray", "auto"]
    # dream's default is 1 on this machine, every CPU of a Ray cluster
    from dream.cli import build_parser
    args = build_parser().parse_args(["--db", "d", "--ckpt", "c"])
    assert Workers.from_args(args, local_default=1) == Workers(1, None)
    args = build_parser().parse_args(["--db", "d", "--ckpt", "c", "--ray", "auto"])
    assert Workers.from_args(args, local_default=1) == Workers(None, "auto")
    args = build_parser().parse_args(["--db", "d", "--ckpt", "c", "--workers", "3"])
    assert Workers.from_args(args, local_default=1) == Workers(3, None)


# ---- logo solve --workers ---------------------------------------------------------------------------

#: DreamCoder training tasks the `enum` arm solves in well under a second from a program one digit away
NEAR_TASKS = ("square slanted by 2pi/3", "semicircle slanted by 2pi/5", "right angle", "star 5", "flower 3",
              "Greek spiral slanted by 2pi/6", "leaf iteration 1.2", "circle of size 3")


def _near(program: str) -> str:
    """The program with one digit changed (so that the `enum` arm finds the program back in one step)."""
    toks = logo.tokenize(program)
    for i, t in enumerate(toks):
        for d in "0123456789" if t.isdigit() else ():
            text = " ".join(toks[:i] + [d] + toks[i + 1:])
            try:
                drawn = logo.render(text, 28)
            except logo.LogoError:
                continue
            if d != t and drawn.any() and not np.array_equal(drawn, logo.render(program, 28)):
                return text
    raise ValueError(program)


def near_tasks(directory: Path) -> tuple[str, str]:
    """(task list, database): DreamCoder training tasks as a JSON task list, and a database holding, for
    each, a program one digit away from it (start programs from which `enum` solves every one at once)."""
    from data import dreamcoder_tasks
    by_name = {t.name: t for t in dreamcoder_tasks("train")}
    programs = [logo.to_text(by_name[name].program) for name in NEAR_TASKS]
    tasks = directory / "tasks.json"
    tasks.write_text(json.dumps([{"name": n, "program": p} for n, p in zip(NEAR_TASKS, programs)]))
    db = Database(directory / "db.sqlite", image_size=32)
    assert all(r.status == "new" for r in db.insert_many([_near(p) for p in programs]))
    db.close()
    return str(tasks), str(directory / "db.sqlite")


@pytest.fixture(scope="module")
def near(tmp_path_factory):
    return near_tasks(tmp_path_factory.mktemp("near"))


def _solve(near, out, arm, *extra):
    tasks, db = near
    code = logo_main(["solve", "--proposer", arm, "--tasks", tasks, "--db", db, "--quiet", "--out", str(out),
                      "--budget", "0.3" if arm == "none" else "30", "--enumerated-starts", "0", *extra])
    assert code == 0
    return json.loads((out / "results.json").read_text())


def test_solve_with_two_workers_gives_the_programs_of_one_in_the_input_order(tmp_path, near):
    for arm in ("enum", "none"):
        one = _solve(near, tmp_path / f"{arm}1", arm, "--workers", "1")
        two = _solve(near, tmp_path / f"{arm}2", arm, "--workers", "2")
        assert [r["name"] for r in one["results"]] == list(NEAR_TASKS)
        assert [r["name"] for r in two["results"]] == list(NEAR_TASKS)
        assert [r["program"] for r in two["results"]] == [r["program"] for r in one["results"]]
        assert [r["start_program"] for r in two["results"]] == [r["start_program"] for r in one["results"]]
        assert two["summary"]["workers"] == "2 local workers" and one["summary"]["workers"] == "in this process"
        assert (tmp_path / f"{arm}2" / "sheet.png").exists()
        if arm == "enum":
            assert one["summary"]["solved"] == two["summary"]["solved"] == len(NEAR_TASKS)


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _wait_for(pred, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_solve_survives_a_worker_killed_mid_search(tmp_path, near):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "solve", "--proposer", "none", "--tasks", near[0],
                             "--limit", "6", "--db", near[1], "--budget", "2", "--workers", "2", "--enumerated-starts", "0",
                             "--out", str(out)], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert _wait_for(lambda: len(_children(proc.pid)) == 2, 60)
        time.sleep(3.0)                         # every search takes its 2 s budget: both workers are searching
        victim = _children(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, stdout + stderr
    res = json.loads((out / "results.json").read_text())
    rows = res["results"]
    assert len(rows) == 6 and all("error" not in r for r in rows)
    retried = [r["name"] for r in rows if r.get("attempts") == 2]
    assert len(retried) == 1 and res["summary"]["retried"] == retried
    assert f"{retried[0]}: its worker died; searched 2 times" in stderr
    assert [r["name"] for r in rows] == list(NEAR_TASKS[:6])


# ---- dream --workers ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from model import checkpoint
    from tinymodel import train_tiny
    d = tmp_path_factory.mktemp("ckpt")
    model, tok, _ = train_tiny([("", "(move ul 0)"), ("(move ul 0)", "(move ul (/ ua 4)) (move ul 0)"),
                                ("", "(loop i 4 (move ul (/ ua 4)))")], seed=1)
    checkpoint.save(d, model, tok, step=1)
    return d


def check_one_writer(db_path, log) -> dict:
    """Every search the dreamer started was committed once or reported, and every insert it tried is logged
    once: the database's counts of dream insertions are the log's; the file is consistent."""
    recs = [json.loads(x) for x in (Path(log) / "found.jsonl").read_text().splitlines() if x.strip()]
    targets = [r for r in recs if r["event"] == "target"]
    errors = [r for r in recs if r["event"] == "error"]
    tasks = [r["task"] for r in targets + errors]
    assert sorted(tasks) == list(range(len(tasks))), tasks       # each submitted target once, none lost
    db = Database(db_path)
    try:
        assert db.check() == []
        logged: dict[str, int] = {}
        for r in targets:
            for ins in r["inserted"]:
                logged[ins["status"]] = logged.get(ins["status"], 0) + 1
                if ins["status"] in ("new", "head", "equivalent"):
                    e = db.get(ins["entry_id"])
                    assert ins["program"] in e.equivalents or len(e.equivalents) == db.max_equivalents
        counted: dict[str, int] = {}
        for outcome, n in db.stats().get("dream", {}).items():
            if outcome != "samples":
                key = outcome.split(":")[0]
                counted[key] = counted.get(key, 0) + n
        assert counted == logged, (counted, logged)
        n_new = db.conn.execute("SELECT count(*) FROM entries WHERE source = 'dream'").fetchone()[0]
        assert n_new == logged.get("new", 0)
    finally:
        db.close()
    return {"targets": len(targets), "errors": len(errors), "inserted": logged}


def test_dream_with_two_workers_survives_a_killed_worker(tmp_path, tiny_ckpt):
    db_path = tmp_path / "db.sqlite"
    db = Database(db_path, image_size=32)
    from data.generate import random_programs
    db.insert_many(random_programs(60, seed=5, max_tokens=24))
    db.close()
    log = tmp_path / "log"
    proc = subprocess.Popen([sys.executable, "-m", "dream.cli", "--db", str(db_path), "--ckpt", str(tiny_ckpt),
                             "--log", str(log), "--targets", "tasks=1,db=1", "--budget", "1.5", "--k", "4",
                             "--max-seconds", "12", "--seed", "0", "--workers", "2", "--grid-every", "1000"],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        found = log / "found.jsonl"
        assert _wait_for(lambda: found.exists() and '"event": "target"' in found.read_text(), 90)
        time.sleep(0.5)
        victims = [p for p in _children(proc.pid)
                   if Path(f"/proc/{p}/cmdline").read_bytes() == Path(f"/proc/{proc.pid}/cmdline").read_bytes()]
        assert len(victims) == 2
        os.kill(victims[0], signal.SIGKILL)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "2 local workers" in out
    got = check_one_writer(db_path, log)
    assert got["targets"] >= 4, got
    recs = [json.loads(x) for x in (log / "found.jsonl").read_text().splitlines()]
    assert recs[-1]["event"] == "stop" and recs[-1]["failed"] == got["errors"]
    # the killed worker's target was searched again (or, out of tries, reported)
    assert any(r.get("attempts", 1) > 1 for r in recs if r["event"] in ("target", "error")), out


def test_the_dreamer_commits_a_target_once_and_inserts_are_idempotent(tmp_path):
    from dream.dreamer import DreamItem, Dreamer, Found
    from dream.search.targets import Target
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.insert("(move ul 0)")
    d = Dreamer(db, None, None, tmp_path / "log", grid_every=0)
    square = "(loop i 4 (move ul (/ ua 4)))"
    item = DreamItem(0, Target("t", "tasks", logo.render(square, 32), logo.render(square, 28)))
    found = Found(["(move ul (/ ua 4)) (move ul 0)", square],
                  {"program": square, "solved": True, "distance": 0.0, "tokens": 12}, logo.render(square, 28), {})
    first = d.commit([(item, found)])
    assert [i["status"] for i in first[0]["inserted"]] == ["new", "new"]
    assert d.commit([(item, found)]) == []                      # the same search back again: not committed twice
    again = d.commit([(DreamItem(1, item.target), found)])      # the same programs from another search
    assert [i["status"] for i in again[0]["inserted"]] == ["duplicate", "duplicate"]
    assert len(db) == 3 and db.check() == []
    lines = (tmp_path / "log" / "found.jsonl").read_text().splitlines()
    assert [json.loads(x)["task"] for x in lines] == [0, 1]


# ---- --ray problems are one line, exit 2 -----------------------------------------------------------

def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("command", ["solve", "dream"])
def test_ray_at_an_address_where_nothing_answers_is_one_line_exit_2(tmp_path, command):
    addr = f"127.0.0.1:{_closed_port()}"
    db = tmp_path / "db.sqlite"
    Database(db, image_size=32).insert("(move ul 0)")
    argv = (["-m", "app.cli", "solve", "--proposer", "none", "--db", str(db), "--limit", "1", "--out",
             str(tmp_path / "o")] if command == "solve" else
            ["-m", "dream.cli", "--db", str(db), "--ckpt", str(tmp_path / "ck"), "--wait", "0"])
    t = time.monotonic()
    r = subprocess.run([sys.executable, *argv, "--ray", addr], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--ray {addr}" in lines[0], r.stderr
    assert ("no Ray cluster answers there" in lines[0]) or ("Ray is not installed" in lines[0])
    assert time.monotonic() - t < 60
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["solve", "dream"])
def test_ray_without_ray_installed_is_one_line_exit_2(tmp_path, command):
    db = tmp_path / "db.sqlite"
    Database(db, image_size=32).insert("(move ul 0)")
    argv = (["solve", "--proposer", "none", "--db", str(db), "--limit", "1", "--out", str(tmp_path / "o")]
            if command == "solve" else ["--db", str(db), "--ckpt", str(tmp_path / "ck"), "--wait", "0"])
    main = "from app.cli import main" if command == "solve" else "from dream.cli import main"
    code = f"import sys; sys.modules['ray'] = None; {main}; sys.exit(main({argv + ['--ray', 'auto']!r}))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Ray is not installed" in lines[0] and "pip install" in lines[0], r.stderr
    prog = "logo solve" if command == "solve" else "dream"
    assert lines[0].startswith(f"{prog}: --ray")


def test_logo_run_gives_dream_one_worker_fewer_than_the_evaluation():
    from argparse import Namespace
    from app.run import CONFIGS, round_workers
    plain = Namespace(workers=None, ray=None)
    assert round_workers(CONFIGS["smoke"], plain) == {"dream": ["--workers", "1"], "solve": ["--workers", "1"]}
    assert round_workers(CONFIGS["demo"], plain) == {"dream": ["--workers", "1"], "solve": ["--workers", "2"]}
    assert round_workers(CONFIGS["demo"], Namespace(workers=8, ray=None)) == \
        {"dream": ["--workers", "7"], "solve": ["--workers", "8"]}
    assert round_workers(CONFIGS["full"], Namespace(workers=None, ray="10.0.0.1:6379")) == \
        {"dream": ["--ray", "10.0.0.1:6379"], "solve": ["--ray", "10.0.0.1:6379"]}
