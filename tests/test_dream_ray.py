"""`logo solve` and `dream` on a Ray cluster (`--ray ADDRESS`): one local cluster of 2 CPUs for the module,
started in its own process (as `ray start --head` would be) so this process never holds Ray's threads.
The same programs as `--workers 1` with the deterministic arms; `dream` on it, one of its worker processes
SIGKILLed mid-search, leaves every insert in the database exactly once and the file clean."""
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("ray")

from app.cli import main as logo_main                                          # noqa: E402
from data.db import Database                                                   # noqa: E402
from test_dream_workers import NEAR_TASKS, check_one_writer, near_tasks, _wait_for   # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Ray clusters take a token (as `ray start --head` does); this one's, so nothing is written to ~/.ray
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "RAY_AUTH_MODE": "token",
       "RAY_AUTH_TOKEN": secrets.token_hex(32)}

# a Ray head with 2 CPUs that lives until its standard input closes; prints its address
CLUSTER = """
import sys, logging, ray
ray.init(address="local", num_cpus=2, include_dashboard=False, _temp_dir=sys.argv[1], logging_level=logging.ERROR)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""


@pytest.fixture(scope="module")
def cluster():
    temp = tempfile.mkdtemp(prefix="ray-logo-", dir="/tmp")     # Ray's sockets need a short path
    proc = subprocess.Popen([sys.executable, "-c", CLUSTER, temp], cwd=ROOT, env=ENV, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address, "the Ray head did not start"
        yield address, proc.pid
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def near(tmp_path_factory):
    return near_tasks(tmp_path_factory.mktemp("near"))


def _logo(*argv, timeout=300):
    r = subprocess.run([sys.executable, "-m", "app.cli", *argv], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_ray_solves_the_tasks_with_the_programs_of_one_worker(tmp_path, cluster, near):
    address, _ = cluster
    tasks, db = near
    # (the second arm's run also shows that a `logo solve` that connected leaves the cluster running)
    for arm, budget in (("enum", "30"), ("none", "0.3")):
        common = ["solve", "--proposer", arm, "--tasks", tasks, "--db", db, "--budget", budget, "--quiet",
                  "--enumerated-starts", "0"]                   # a time-bounded enumeration is not reproducible
        assert logo_main([*common, "--workers", "1", "--out", str(tmp_path / f"{arm}1")]) == 0
        r = _logo(*common, "--ray", address, "--out", str(tmp_path / f"{arm}ray"))
        assert f"2 Ray tasks at once on the Ray cluster at {address} (2 CPUs)" in r.stdout
        one, ray = (json.loads((tmp_path / f"{arm}{w}" / "results.json").read_text())["results"] for w in ("1", "ray"))
        assert [x["name"] for x in ray] == list(NEAR_TASKS)
        assert [x["program"] for x in ray] == [x["program"] for x in one]
        assert [x["start_program"] for x in ray] == [x["start_program"] for x in one]
        if arm == "enum":
            assert all(x["solved"] for x in ray)


def _descendants(pid: int) -> list[int]:
    parent = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                parent[int(p.name)] = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [pid]
    while todo:
        here = todo.pop()
        kids = [c for c, pp in parent.items() if pp == here]
        out += kids
        todo += kids
    return out


def _searching(cluster_pid: int) -> list[int]:
    """The cluster's Ray worker processes running a search now (Ray titles them by the task they run)."""
    found = []
    for p in _descendants(cluster_pid):
        try:
            if Path(f"/proc/{p}/cmdline").read_bytes().startswith(b"ray::worker_task"):
                found.append(p)
        except OSError:
            continue
    return found


def test_dream_on_ray_keeps_every_insert_once_when_a_worker_is_killed(tmp_path, cluster):
    from model import checkpoint
    from tinymodel import train_tiny
    address, cluster_pid = cluster
    ckpt = tmp_path / "ckpt"
    model, tok, _ = train_tiny([("", "(move ul 0)"), ("(move ul 0)", "(move ul (/ ua 4)) (move ul 0)"),
                                ("", "(loop i 4 (move ul (/ ua 4)))")], seed=1)
    checkpoint.save(ckpt, model, tok, step=1)
    db_path = tmp_path / "db.sqlite"
    db = Database(db_path, image_size=32)
    from data.generate import random_programs
    db.insert_many(random_programs(60, seed=5, max_tokens=24))
    db.close()
    log = tmp_path / "log"
    # (the 60 s of dreaming, shortened for the suite: the property is the same)
    proc = subprocess.Popen([sys.executable, "-m", "dream.cli", "--db", str(db_path), "--ckpt", str(ckpt),
                             "--log", str(log), "--targets", "tasks=1,db=1", "--budget", "1.5", "--k", "4",
                             "--max-seconds", "25", "--seed", "0", "--ray", address, "--workers", "2",
                             "--grid-every", "1000"],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = []
    try:
        found = log / "found.jsonl"
        assert _wait_for(lambda: found.exists() and '"event": "target"' in found.read_text(), 120)
        assert _wait_for(lambda: _searching(cluster_pid), 30)
        killed = _searching(cluster_pid)[:1]
        os.kill(killed[0], signal.SIGKILL)
        before_kill = found.read_text().count('"event": "target"')
        out, _ = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert f"2 Ray tasks at once on the Ray cluster at {address}" in out
    got = check_one_writer(db_path, log)                 # every search committed once or reported, none lost
    assert got["targets"] > before_kill, (got, before_kill)      # searching went on after the kill
    assert logo_main(["db", "check", str(db_path)]) == 0
