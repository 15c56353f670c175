"""Soak: `train`, `dream`, `logo db build` and `logo db stats` / `nearest` readers on one database for N
minutes, then count what was lost.

    python bench/soak.py                      # 10 minutes, in a fresh temporary folder
    python bench/soak.py --minutes 2 --out runs/soak

Everything runs at once on one database, as in `logo run` (and more at once than it does). `train` (tiny
model, a checkpoint every --ckpt-every steps) starts first; the N minutes start with its first checkpoint
and then run: `dream` (reloading each new checkpoint, inserting what its searches find: little, from a
model this young), a writer process that inserts random programs as dream does (a batch of 20 every
0.5 s, logged after each commit), a `logo db build` that grows the database by --build-step entries every
--build-every seconds, a loop of `logo db stats` and `logo db nearest` readers, and a thread of this
process that loads the newest checkpoint every few seconds while train writes and rotates them.
At the end it counts:
  * inserts, for dream and the writer: the programs attempted (their logs, written after each commit)
    against the database's own count of their samples, and every program they were told was stored:
    present, or pushed out of its entry's full list by shorter ones (the novelty rule), else lost;
  * lock errors ("database is locked" / "busy") in every process's output, and failed commands;
  * `logo db check` on the database;
  * checkpoint loads: this process's (ok / failed) and dream's reloads.
Prints the figures and writes OUT/soak.json; exit status 1 if anything was lost or failed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LOCK = re.compile(r"database is locked|database table is locked|SQLITE_BUSY", re.I)
STORED = ("new", "head", "equivalent")
WRITER_SOURCE = "import"        # the writer's programs are counted apart from dream's ("dream") and build's


def command(module: str, *args) -> list[str]:
    """`python -m MODULE ARGS` with this interpreter (so this checkout's code runs, whatever is installed)."""
    return [sys.executable, "-m", module, *map(str, args)]


class Readers(threading.Thread):
    """`logo db stats` and `logo db nearest` in turn, as separate processes, until stopped."""

    def __init__(self, db: Path, query: Path, log: Path):
        super().__init__(daemon=True)
        self.db, self.query, self.log = db, query, log
        self.stop = threading.Event()
        self.runs: Counter = Counter()
        self.failures: list[str] = []

    def run(self) -> None:
        kinds = [("stats", ["db", "stats", self.db]), ("nearest", ["db", "nearest", self.db, self.query, "-k", 5])]
        i = 0
        with open(self.log, "a") as log:
            while not self.stop.is_set():
                kind, args = kinds[i % 2]
                i += 1
                r = subprocess.run(command("app.cli", *args), cwd=ROOT, capture_output=True, text=True)
                self.runs[kind] += 1
                log.write(r.stderr)
                if r.returncode != 0:
                    self.failures.append(f"logo db {kind} exit {r.returncode}: {r.stderr.strip()[-300:]}")
                self.stop.wait(0.5)


class CheckpointLoader(threading.Thread):
    """Loads the newest checkpoint every `every` seconds while train writes and rotates them."""

    def __init__(self, ckpt: Path, every: float = 3.0):
        super().__init__(daemon=True)
        self.ckpt, self.every = ckpt, every
        self.stop = threading.Event()
        self.ok = 0
        self.steps: set[int] = set()
        self.failures: list[str] = []

    def run(self) -> None:
        from model import checkpoint
        while not self.stop.wait(self.every):
            path = checkpoint.latest_path(self.ckpt)
            if path is None:
                continue
            try:
                _, _, meta = checkpoint.load(path)
            except FileNotFoundError:
                continue              # rotated away between the look-up and the load (keep=3): not a failure
            except Exception as e:    # noqa: BLE001 - any other failure is what this counts
                self.failures.append(f"{path.name}: {type(e).__name__}: {str(e)[:200]}")
                continue
            self.ok += 1
            self.steps.add(int(meta["step"]))


def writer(db_path: str, log_path: str, seconds: float, batch: int = 20, pause: float = 0.5) -> None:
    """A second inserting process, as dream inserts: random programs in batches of `batch`, one committed
    transaction each, and a log record (fsync'ed) of every program's status only after the commit; an
    error is logged and the writer goes on. (dream itself inserts little until its model has learned.)"""
    import logo
    from data.db import Database
    from data.generate import random_programs
    t0, k = time.monotonic(), 0
    with Database(db_path, create=False) as db, open(log_path, "a") as log:
        while time.monotonic() - t0 < seconds:
            texts = [logo.to_text(p) for p in random_programs(batch, seed=10_000 + k, max_tokens=30)]
            k += 1
            try:
                results = db.insert_many(texts, source=WRITER_SOURCE)
                record = {"event": "target", "inserted": [{"program": t, "status": r.status, "entry_id": r.entry_id}
                                                          for t, r in zip(texts, results)]}
            except Exception as e:    # noqa: BLE001 - counted: a lock error here is what the soak looks for
                record = {"event": "error", "error": f"{type(e).__name__}: {e}"}
            log.write(json.dumps(record) + "\n")
            log.flush()
            os.fsync(log.fileno())
            time.sleep(pause)


def start(cmd: list[str], log: Path) -> subprocess.Popen:
    """Start a command with its output in `log`; SIGINT stops it even where this script was started in
    the background (a shell's `&` ignores SIGINT, and Python then never installs its handler)."""
    f = open(log, "w")
    return subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def count_entries(db: Path) -> int:
    from data.db import open_readonly
    with open_readonly(db) as d:
        return len(d)


def check_inserts(db_path: Path, log_path: Path, source: str) -> dict:
    """Every program a writer (dream, or `writer`) reported stored is in the database, or was pushed out of
    its entry's full list by shorter ones (the novelty rule keeps the `max_equivalents` shortest); and the
    database counted every program the writer attempted (its `source`'s samples)."""
    from data.db import open_readonly
    from logo.tokens import n_tokens
    attempted, stored, present, pushed_out, lost = 0, 0, 0, 0, []
    records = []
    if log_path.exists():
        for line in log_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                pass
    with open_readonly(db_path) as db:
        for rec in records:
            if rec.get("event") != "target":
                continue
            for ins in rec.get("inserted", []):
                attempted += 1
                if ins["status"] not in STORED:
                    continue
                stored += 1
                text = ins["program"]
                if db.entry_of(text) is not None:
                    present += 1
                    continue
                entry = db.get(ins["entry_id"])
                key = (n_tokens(text), text)
                if len(entry.equivalents) >= db.max_equivalents and \
                        all((n_tokens(t), t) < key for t in entry.equivalents):
                    pushed_out += 1
                else:
                    lost.append(text)
        counted = db.stats().get(source, {}).get("samples", 0)
    return {"attempted": attempted, "counted_by_database": counted, "stored": stored, "present": present,
            "pushed_out_by_shorter": pushed_out, "lost": len(lost), "lost_examples": lost[:5],
            "batches": sum(1 for r in records if r.get("event") == "target"),
            "errors": [r["error"] for r in records if r.get("event") == "error"][:5],
            "failed_batches": sum(1 for r in records if r.get("event") == "error"),
            "checkpoint_reloads": sum(1 for r in records if r.get("event") == "checkpoint")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="how long everything runs (default 10)")
    ap.add_argument("--out", default=None, help="folder for the database, checkpoints and logs (default: a new "
                    "temporary folder)")
    ap.add_argument("--db-size", type=int, default=2000, help="entries built before the soak starts (default 2000)")
    ap.add_argument("--build-every", type=float, default=30.0, help="seconds between database growth runs")
    ap.add_argument("--build-step", type=int, default=300, help="entries each growth run adds")
    ap.add_argument("--ckpt-every", type=int, default=10, help="train's checkpoint interval in steps (default 10)")
    ap.add_argument("--warmup-limit", type=float, default=1800.0,
                    help="seconds to wait for train's first checkpoint before the soak starts (default 1800)")
    args = ap.parse_args(argv)

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="soak-"))
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    db, ckpt, dream_log = out / "db.sqlite", out / "ckpt", out / "dream"
    seconds = 60.0 * args.minutes
    print(f"soak: {args.minutes:g} minutes in {out}", flush=True)

    build0 = subprocess.run(command("app.cli", "db", "build", db, "--size", args.db_size, "--workers", 1, "--quiet"),
                            cwd=ROOT, capture_output=True, text=True)
    if build0.returncode != 0:
        print(f"soak: the first build failed: {build0.stderr.strip()}", file=sys.stderr)
        return 1
    from data.db import open_readonly
    from logo.pictures import save_png
    with open_readonly(db) as d:
        save_png(d.get(1).image, out / "query.png", scale=1)
        random_samples_before = d.stats().get("random", {}).get("samples", 0)

    # train first: the soak's minutes start once it trains (its first checkpoint), so that checkpoints are
    # written, rotated and loaded while everything else runs
    backstop = seconds + 3600             # both are stopped with SIGINT at the end; this only bounds a stray one
    train = start(command("model.train", "--db", db, "--out", ckpt, "--preset", "tiny", "--batch-size", 16,
                          "--threads", 1, "--quiet", "--ckpt-every", args.ckpt_every, "--eval-every", 200,
                          "--keep", 3, "--max-seconds", backstop), logs / "train.log")
    from model import checkpoint
    t_warm = time.monotonic()
    while checkpoint.latest_path(ckpt) is None:
        if train.poll() is not None or time.monotonic() - t_warm > args.warmup_limit:
            print(f"soak: train wrote no checkpoint ({'exit ' + str(train.returncode) if train.returncode is not None else 'timed out'}; "
                  f"see {logs / 'train.log'})", file=sys.stderr)
            train.kill()
            return 1
        time.sleep(1.0)
    print(f"soak: train's first checkpoint after {time.monotonic() - t_warm:.0f} s; starting the others", flush=True)
    t0 = time.monotonic()
    # --k 0: every search starts from the empty program, so what it finds is new to the database (inserts)
    dream = start(command("dream.cli", "--db", db, "--ckpt", ckpt, "--log", dream_log, "--budget", 2,
                          "--k", 0, "--threads", 1, "--poll-every", 5, "--wait", 600, "--max-seconds", backstop,
                          "--targets", "tasks=1,mnist=1,db=1", "--grid-every", 1000), logs / "dream.log")
    import multiprocessing as mp
    writer_proc = mp.get_context("spawn").Process(target=writer, args=(str(db), str(logs / "writer.jsonl"), seconds))
    writer_proc.start()
    readers = Readers(db, out / "query.png", logs / "readers.log")
    loader = CheckpointLoader(ckpt)
    readers.start()
    loader.start()
    builds, build_failures, build_samples = 0, [], 0
    next_build = t0 + args.build_every
    while time.monotonic() - t0 < seconds:
        if time.monotonic() >= next_build:
            target = count_entries(db) + args.build_step
            r = subprocess.run(command("app.cli", "db", "build", db, "--size", target, "--workers", 1, "--quiet",
                                       "--seed", 1), cwd=ROOT, capture_output=True, text=True)
            builds += 1
            with open(logs / "build.log", "a") as f:
                f.write(r.stdout + r.stderr)
            if r.returncode != 0:
                build_failures.append(f"exit {r.returncode}: {r.stderr.strip()[-300:]}")
            else:
                m = re.search(r"; (\d+) programs in", r.stdout)
                build_samples += int(m.group(1)) if m else 0
            next_build = time.monotonic() + args.build_every
        time.sleep(1.0)
    readers.stop.set()
    loader.stop.set()
    exits = {}
    for p in (train, dream):
        p.send_signal(signal.SIGINT)      # train saves a last checkpoint; dream ends its search and logs it
    for name, p in (("train", train), ("dream", dream)):
        try:
            exits[name] = p.wait(timeout=300)
        except subprocess.TimeoutExpired:
            p.kill()
            exits[name] = f"killed: no exit {300} s after SIGINT"
    writer_proc.join(timeout=300)
    exits["writer"] = writer_proc.exitcode
    readers.join(timeout=60)
    loader.join(timeout=60)
    wall = time.monotonic() - t0

    check = subprocess.run(command("app.cli", "db", "check", db), cwd=ROOT, capture_output=True, text=True)
    inserts = check_inserts(db, dream_log / "found.jsonl", "dream")
    written = check_inserts(db, logs / "writer.jsonl", WRITER_SOURCE)
    written.pop("checkpoint_reloads")
    with open_readonly(db) as d:
        random_samples = d.stats().get("random", {}).get("samples", 0) - random_samples_before
        entries = len(d)
    lock_errors = {}
    for f in sorted(logs.iterdir()):
        n = len(LOCK.findall(f.read_text(errors="replace")))
        if n:
            lock_errors[f.name] = n
    latest = checkpoint.latest_path(ckpt)
    report = {
        "minutes": round(wall / 60, 1), "warmup_s": round(t0 - t_warm), "entries_at_end": entries,
        "dream": inserts, "writer": written,
        "build": {"runs": builds, "failures": build_failures, "samples_reported": build_samples,
                  "samples_counted_by_database": random_samples},
        "readers": {"runs": dict(readers.runs), "failures": readers.failures[:5], "failed": len(readers.failures)},
        "lock_errors": sum(lock_errors.values()), "lock_errors_by_log": lock_errors,
        "check": {"exit": check.returncode, "output": (check.stdout + check.stderr).strip()[-300:]},
        "checkpoints": {"loads_ok": loader.ok, "load_failures": len(loader.failures),
                        "failures": loader.failures[:5], "distinct_steps_loaded": len(loader.steps),
                        "dream_reloads": inserts.pop("checkpoint_reloads"),
                        "train_last_step": int(latest.name[5:13]) if latest else None},
        "exits": exits,
    }
    (out / "soak.json").write_text(json.dumps(report, indent=1))
    print(f"soak: {report['minutes']} min, {entries} entries at the end")
    for name, what in (("dream", "targets"), ("writer", "batches")):
        d = report[name]
        print(f"  {name}: {d['batches']} {what} ({d['failed_batches']} failed); {d['attempted']} inserts attempted, "
              f"{d['counted_by_database']} counted by the database; {d['stored']} stored: {d['present']} present, "
              f"{d['pushed_out_by_shorter']} pushed out by shorter programs, {d['lost']} lost")
    b = report["build"]
    print(f"  build: {b['runs']} growth runs ({len(b['failures'])} failed); {b['samples_reported']} samples reported, "
          f"{b['samples_counted_by_database']} counted by the database")
    print(f"  readers: {dict(readers.runs)} runs, {len(readers.failures)} failed")
    c = report["checkpoints"]
    print(f"  checkpoints: {c['loads_ok']} loads ok, {c['load_failures']} failed ({c['distinct_steps_loaded']} "
          f"different steps; train reached step {c['train_last_step']}); dream reloaded {c['dream_reloads']}")
    print(f"  lock errors: {report['lock_errors']}; logo db check: {report['check']['output']}")
    print(f"  exits: {exits}; report {out / 'soak.json'}")
    bad = (any(report[n]["lost"] or report[n]["failed_batches"] or report[n]["attempted"] != report[n]["counted_by_database"]
               for n in ("dream", "writer")) or b["failures"]
           or b["samples_reported"] != b["samples_counted_by_database"] or readers.failures or report["lock_errors"]
           or check.returncode or loader.failures or any(exits.values()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
