"""Every bad input to a command ends in one clear line, never a traceback, and nothing is created or damaged.

A table of cases, each run in-process (`app.cli.main`, `model.train.main`, `dream.cli.main`) in a folder of
prepared files: a small database, a copy with corrupt pages in the middle, a directory, non-UTF-8 files,
damaged JSONL exports, a 30000x30000 PNG. Each case asserts the exit status (1 for a bad input, 2 for a
usage error, as argparse), that the message line names the file or flag, that no "Traceback" appears, and
that the folder holds the same files with the same bytes afterwards (SQLite's `-wal`/`-shm` side files of a
read-only opening aside), except the files a case says it may write.

Tests run as root, where permissions do not stop writes, so "read-only output" is a path under an existing
*file* (`FILE/sub`): no user can create it, the honest equivalent of a folder one may not write.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from data.db import Database

PROGRAMS = [f"(move {a} 0) (move 0 {b})" for a in range(1, 4) for b in range(1, 4)] + \
    [f"(loop i {n} (move ul (/ ua {n})))" for n in range(3, 8)] + ["(move 1 0)", "(move 2 0) (move 0 1)"]
SIDE_FILES = ("-wal", "-shm")


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares width x height pixels (PIL refuses it as a decompression bomb on opening)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 8)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The folder of prepared inputs (the cases never change it)."""
    d = tmp_path_factory.mktemp("inputs")
    with Database(d / "db.sqlite") as db:
        db.insert_many(PROGRAMS, source="dream")
        # enough entries that the middle pages of the file hold some
        db.insert_many([f"(move {a} (/ ua {b})) (move {c} (/ ua {e}))" for a in (1, 2, 3) for b in range(2, 12)
                        for c in (1, 2, 3) for e in range(2, 7)], source="random")
    data = bytearray((d / "db.sqlite").read_bytes())
    pages = len(data) // 4096
    assert pages >= 20
    rng = np.random.default_rng(0)
    lo, hi = pages // 3, 2 * pages // 3                               # corrupt the middle third
    data[lo * 4096:hi * 4096] = rng.integers(0, 256, (hi - lo) * 4096, dtype=np.uint8).tobytes()
    (d / "corrupt.sqlite").write_bytes(bytes(data))
    (d / "empty.sqlite").write_bytes(b"")
    (d / "junk.sqlite").write_bytes(b"\x89PNG not a database at all")
    Database(d / "zero.sqlite").close()         # a database with no entries
    (d / "adir").mkdir()
    (d / "afile").write_text("a file, in the way of FILE/sub\n")
    (d / "latin1.txt").write_bytes("(move 1 0) ; caf\xe9\n".encode("latin-1"))
    (d / "badsyntax.logo").write_text("(define sq (loop i 4 (move 1 90)\n")
    (d / "bad.json").write_text("{not json\n")
    from app.cli import main
    assert main(["db", "export", str(d / "db.sqlite"), str(d / "exp.jsonl")]) == 0
    lines = (d / "exp.jsonl").read_text().splitlines()
    assert len(lines) >= 8
    rec = json.loads(lines[3])
    rec["image"] = base64.b64encode(bytes([255]) * (32 * 32)).decode()      # an image its programs do not draw
    (d / "badimg.jsonl").write_text("\n".join(lines[:3] + [json.dumps(rec)] + lines[4:]) + "\n")
    rec = json.loads(lines[1])
    rec["programs"][0][1] = "bogus"
    (d / "badsrc.jsonl").write_text("\n".join(lines[:1] + [json.dumps(rec)] + lines[2:]) + "\n")
    (d / "nonutf.jsonl").write_bytes(("\n".join(lines[:2]) + "\n").encode() + b"\xff\xfe{}\n")
    (d / "malformed.jsonl").write_text('{"equivalents": \n')
    from logo.pictures import save_png
    q = np.zeros((32, 32), np.uint8)
    q[4:28, 16] = 255
    (d / "pngs").mkdir()
    save_png(q, d / "pngs" / "a_line.png")
    _png_header_only(d / "pngs" / "bomb.png", 30000, 30000)
    save_png(q, d / "q.png")
    return d


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file (SQLite side files of read-only openings left out)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.endswith(SIDE_FILES):
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir() and not any(p.iterdir()):
            out[str(p.relative_to(folder)) + "/"] = "dir"
    return out


def run_main(main, argv) -> int:
    try:
        return main(argv)
    except SystemExit as e:            # argparse's usage errors
        return e.code if isinstance(e.code, int) else 1


def app_main(argv):
    from app.cli import main
    return main(argv)


def train_main(argv):
    from model.train import main
    return main(["--preset", "tiny", "--quiet", "--threads", "1", "--steps", "1", "--batch-size", "4",
                 "--far-chains", "0", "--mutations", "0", *argv])


def dream_main(argv):
    from dream.cli import main
    return main(argv)


@dataclass
class Case:
    name: str
    main: object
    argv: list[str]                          # "{d}" is the inputs folder, "{o}" an empty output folder
    status: int
    names: tuple[str, ...]                   # the message line names all of these (file, flag)
    may_write: tuple[str, ...] = ()          # files (relative to {o}) the case may leave
    extra_lines: bool = False                # more than one stderr line is right (progress, skipped files)
    stdout_has: tuple[str, ...] = field(default_factory=tuple)


C = Case
CASES = [
    # any `logo db` command on a directory, a missing file, an empty file, a file that is no database
    *[C(f"db {cmd} on a directory", app_main, ["db", cmd, "{d}/adir", *rest], 1, ("adir",))
      for cmd, rest in (("stats", []), ("check", []), ("show", ["1"]), ("sheet", ["--out", "{o}/s.png"]),
                        ("nearest", ["{d}/q.png"]), ("export", ["{o}/e.jsonl"]), ("import", ["{d}/exp.jsonl"]),
                        ("build", ["--size", "5", "--workers", "1", "--quiet"]))],
    C("db stats missing file", app_main, ["db", "stats", "{o}/missing.sqlite"], 1, ("missing.sqlite",)),
    C("db stats empty file", app_main, ["db", "stats", "{d}/empty.sqlite"], 1, ("empty.sqlite",)),
    C("db stats not a database", app_main, ["db", "stats", "{d}/junk.sqlite"], 1, ("junk.sqlite",)),
    # corrupt pages in the middle
    *[C(f"db {cmd} on corrupt pages", app_main, ["db", cmd, "{d}/corrupt.sqlite", *rest], 1, ("corrupt.sqlite",))
      for cmd, rest in (("stats", []), ("show", ["30"]), ("sheet", ["--out", "{o}/s.png"]),
                        ("nearest", ["{d}/q.png"]), ("export", ["{o}/e.jsonl"]))],
    C("db check on corrupt pages reports it", app_main, ["db", "check", "{d}/corrupt.sqlite"], 1,
      ("corrupt.sqlite", "problem"), stdout_has=("malformed",)),
    # db import: inputs that are missing, not UTF-8, malformed, lie about their image, name unknown sources
    C("db import missing jsonl leaves no new db", app_main, ["db", "import", "{o}/new.sqlite", "{d}/missing.jsonl"],
      1, ("missing.jsonl",)),
    C("db import a directory as jsonl", app_main, ["db", "import", "{o}/new.sqlite", "{d}/adir"], 1, ("adir",)),
    C("db import malformed first line leaves no new db", app_main,
      ["db", "import", "{o}/new.sqlite", "{d}/malformed.jsonl"], 1, ("malformed.jsonl:1", "nothing was committed")),
    C("db import non-UTF-8 line", app_main, ["db", "import", "{o}/new.sqlite", "{d}/nonutf.jsonl"], 1,
      ("nonutf.jsonl:3", "not UTF-8", "lines 1-2 were committed"), may_write=("new.sqlite",)),
    C("db import image not drawn by its program (batch 1)", app_main,
      ["db", "import", "{o}/new.sqlite", "{d}/badimg.jsonl", "--batch", "1"], 1,
      ("badimg.jsonl:4", "image", "lines 1-3 were committed"), may_write=("new.sqlite",)),
    C("db import image not drawn by its program (batch 1000)", app_main,
      ["db", "import", "{o}/new.sqlite", "{d}/badimg.jsonl", "--batch", "1000"], 1,
      ("badimg.jsonl:4", "image", "lines 1-3 were committed"), may_write=("new.sqlite",)),
    C("db import unknown source in the file", app_main, ["db", "import", "{o}/new.sqlite", "{d}/badsrc.jsonl"], 1,
      ("badsrc.jsonl:2", "bogus", "random, dream"), may_write=("new.sqlite",)),
    C("db import --source unknown", app_main, ["db", "import", "{o}/new.sqlite", "{d}/exp.jsonl", "--source", "x"],
      2, ("--source",)),
    C("db import --batch 0", app_main, ["db", "import", "{o}/new.sqlite", "{d}/exp.jsonl", "--batch", "0"], 2,
      ("--batch",)),
    C("db import into corrupt db", app_main, ["db", "import", "{d}/corrupt.sqlite", "{d}/exp.jsonl"], 1,
      ("corrupt.sqlite",)),
    # db build: bad numbers, bad library, unusable places
    C("db build --chunk-size 0", app_main, ["db", "build", "{o}/b.sqlite", "--chunk-size", "0"], 2, ("--chunk-size",)),
    C("db build --chunk-size -3", app_main, ["db", "build", "{o}/b.sqlite", "--chunk-size", "-3"], 2,
      ("--chunk-size",)),
    C("db build --size -5", app_main, ["db", "build", "{o}/b.sqlite", "--size", "-5"], 2, ("--size",)),
    C("db build --image-size 2", app_main, ["db", "build", "{o}/b.sqlite", "--image-size", "2"], 2,
      ("--image-size",)),
    C("db build --workers 0", app_main, ["db", "build", "{o}/b.sqlite", "--workers", "0"], 2, ("--workers",)),
    C("db build --p-call 2", app_main, ["db", "build", "{o}/b.sqlite", "--p-call", "2"], 2, ("--p-call",)),
    C("db build missing --library", app_main, ["db", "build", "{o}/b.sqlite", "--library", "{d}/none.logo"], 1,
      ("none.logo",)),
    C("db build non-UTF-8 --library", app_main, ["db", "build", "{o}/b.sqlite", "--library", "{d}/latin1.txt"], 1,
      ("latin1.txt", "UTF-8")),
    C("db build bad --library syntax", app_main, ["db", "build", "{o}/b.sqlite", "--library", "{d}/badsyntax.logo"],
      1, ("badsyntax.logo",)),
    C("db build under a file (read-only parent)", app_main,
      ["db", "build", "{d}/afile/sub/b.sqlite", "--size", "5", "--quiet"], 1, ("afile",)),
    C("db sheet --out under a file", app_main, ["db", "sheet", "{d}/db.sqlite", "--out", "{d}/afile/s.png"], 1,
      ("afile",)),
    C("db sheet -n 0", app_main, ["db", "sheet", "{d}/db.sqlite", "-n", "0"], 2, ("-n",)),
    C("db nearest missing image", app_main, ["db", "nearest", "{d}/db.sqlite", "{d}/none.png"], 1, ("none.png",)),
    C("db nearest a text file as image", app_main, ["db", "nearest", "{d}/db.sqlite", "{d}/latin1.txt"], 1,
      ("latin1.txt",)),
    C("db nearest decompression bomb", app_main, ["db", "nearest", "{d}/db.sqlite", "{d}/pngs/bomb.png"], 1,
      ("bomb.png",)),
    C("db nearest -k 0", app_main, ["db", "nearest", "{d}/db.sqlite", "{d}/q.png", "-k", "0"], 2, ("-k",)),
    C("db export --out under a file", app_main, ["db", "export", "{d}/db.sqlite", "{d}/afile/e.jsonl"], 1,
      ("afile",)),
    C("db show missing entry", app_main, ["db", "show", "{d}/db.sqlite", "99999"], 1, ("99999",)),
    # logo render
    *[C(f"render --size {s}", app_main, ["render", "(move 1 0)", "--size", s, "--out", "{o}/r.png"], 2, ("--size",))
      for s in ("0", "-5", "200000", "x")],
    C("render --file missing", app_main, ["render", "--file", "{d}/none.logo", "--out", "{o}/r.png"], 1,
      ("none.logo",)),
    C("render --file a directory", app_main, ["render", "--file", "{d}/adir", "--out", "{o}/r.png"], 1, ("adir",)),
    C("render --file not UTF-8", app_main, ["render", "--file", "{d}/latin1.txt", "--out", "{o}/r.png"], 1,
      ("latin1.txt", "UTF-8")),
    C("render --out a directory", app_main, ["render", "(move 1 0)", "--out", "{d}/adir"], 1, ("adir",)),
    C("render --out under a file (read-only)", app_main, ["render", "(move 1 0)", "--out", "{d}/afile/r.png"], 1,
      ("afile",)),
    C("render --library missing", app_main, ["render", "(move 1 0)", "--library", "{d}/none.logo",
                                             "--out", "{o}/r.png"], 1, ("none.logo",)),
    C("render bad program", app_main, ["render", "(move 1", "--out", "{o}/r.png"], 1, ("line 1",)),
    C("tasks --size 0", app_main, ["tasks", "--size", "0", "--out", "{o}/t.png"], 2, ("--size",)),
    # logo solve (model-free proposer: no checkpoint needed)
    C("solve --temperatures a,b", app_main, ["solve", "--proposer", "random", "--temperatures", "a,b"], 2,
      ("--temperatures",)),
    C("solve --temperatures 0", app_main, ["solve", "--proposer", "random", "--temperatures", "0"], 2,
      ("--temperatures",)),
    C("solve --budget -1", app_main, ["solve", "--proposer", "random", "--budget", "-1"], 2, ("--budget",)),
    C("solve corrupt --db", app_main, ["solve", "--proposer", "random", "--db", "{d}/corrupt.sqlite",
                                       "--out", "{o}/s"], 1, ("corrupt.sqlite",)),
    C("solve --db a directory", app_main, ["solve", "--proposer", "random", "--db", "{d}/adir", "--out", "{o}/s"], 1,
      ("adir",)),
    C("solve --out under a file (read-only)", app_main,
      ["solve", "--proposer", "random", "--tasks", "{d}/pngs", "--out", "{d}/afile/s"], 1, ("afile",)),
    C("solve --tasks missing folder", app_main, ["solve", "--proposer", "random", "--tasks", "{d}/nope",
                                                 "--out", "{o}/s"], 1, ("nope",)),
    C("solve a 30000x30000 PNG among the targets", app_main,
      ["solve", "--proposer", "random", "--tasks", "{d}/pngs", "--budget", "0.2", "--out", "{o}/s", "--quiet"], 1,
      ("bomb.png", "too large"), may_write=("s/results.json", "s/sheet.png"), extra_lines=True),
    C("solve --ckpt missing", app_main, ["solve", "--ckpt", "{o}/nock", "--out", "{o}/s"], 1, ("nock",)),
    # logo compress
    C("compress --programs not UTF-8", app_main, ["compress", "--programs", "{d}/latin1.txt", "--out", "{o}/c"], 1,
      ("latin1.txt", "UTF-8")),
    C("compress --programs missing", app_main, ["compress", "--programs", "{d}/none.txt", "--out", "{o}/c"], 1,
      ("none.txt",)),
    C("compress --solutions not JSON", app_main, ["compress", "--solutions", "{d}/bad.json", "--out", "{o}/c"], 1,
      ("bad.json", "JSON")),
    C("compress --library not UTF-8", app_main, ["compress", "--dreamcoder", "--library", "{d}/latin1.txt",
                                                 "--out", "{o}/c"], 1, ("latin1.txt",)),
    C("compress --db corrupt", app_main, ["compress", "--db", "{d}/corrupt.sqlite", "--out", "{o}/c"], 1,
      ("corrupt.sqlite",)),
    C("compress --max-arity -1", app_main, ["compress", "--dreamcoder", "--max-arity", "-1"], 2, ("--max-arity",)),
    # logo run
    C("run --rounds 0", app_main, ["run", "--rounds", "0", "--out", "{o}/r"], 2, ("--rounds",)),
    # train
    C("train missing database", train_main, ["--db", "{d}/none.sqlite", "--out", "{o}/t"], 1, ("none.sqlite",)),
    C("train empty database file", train_main, ["--db", "{d}/empty.sqlite", "--out", "{o}/t"], 1, ("empty.sqlite",)),
    C("train corrupt database", train_main, ["--db", "{d}/corrupt.sqlite", "--out", "{o}/t"], 1,
      ("corrupt.sqlite",)),
    C("train database is a directory", train_main, ["--db", "{d}/adir", "--out", "{o}/t"], 1, ("adir",)),
    C("train --out under a file (read-only)", train_main, ["--db", "{d}/db.sqlite", "--out", "{d}/afile/t"], 1,
      ("afile",)),
    C("train database with 0 entries, --wait 0.5", train_main, ["--db", "{d}/zero.sqlite", "--out", "{o}/t",
                                                                "--wait", "0.5"], 1,
      ("zero.sqlite", "no training pairs"), extra_lines=True),
    C("train --batch-size 0", train_main, ["--db", "{d}/db.sqlite", "--out", "{o}/t", "--batch-size", "0"], 2,
      ("--batch-size",)),
    C("train --ckpt-every 0", train_main, ["--db", "{d}/db.sqlite", "--out", "{o}/t", "--ckpt-every", "0"], 2,
      ("--ckpt-every",)),
    C("train --lr nan", train_main, ["--db", "{d}/db.sqlite", "--out", "{o}/t", "--lr", "nan"], 2, ("--lr",)),
    C("train --schedule-seconds -1", train_main, ["--db", "{d}/db.sqlite", "--out", "{o}/t", "--schedule-seconds",
                                                  "-1"], 2, ("--schedule-seconds",)),
    # dream
    C("dream --temperatures a,b", dream_main, ["--db", "{d}/db.sqlite", "--ckpt", "{o}/c", "--temperatures", "a,b"],
      2, ("--temperatures",)),
    C("dream --proposer random", dream_main, ["--db", "{d}/db.sqlite", "--ckpt", "{o}/c", "--proposer", "random"],
      2, ("--proposer",)),
    C("solve --proposer oracle", app_main, ["solve", "--proposer", "oracle"], 2, ("--proposer", "auto")),
    C("solve --tasks a binary file", app_main, ["solve", "--tasks", "{d}/latin1.txt", "--out", "{o}/s"], 1,
      ("latin1.txt",)),
    C("dream --budget 0", dream_main, ["--db", "{d}/db.sqlite", "--ckpt", "{o}/c", "--budget", "0"], 2,
      ("--budget",)),
    C("dream no checkpoint, --wait 0", dream_main, ["--db", "{d}/db.sqlite", "--ckpt", "{o}/c", "--wait", "0"], 1,
      ("c",)),
]


#: words of the code, not of the user, that an error line must not show
INTERNALS = ("create=False", "=True", "=False", "codec can't decode", "Error:", "self.", "<function")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_one_clear_line(case, work, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LOGO_DEBUG", raising=False)
    out = tmp_path / "out"
    out.mkdir()
    argv = [a.replace("{d}", str(work)).replace("{o}", str(out)) for a in case.argv]
    before = snapshot(work)
    status = run_main(case.main, argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert status == case.status, captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert lines, "no message"
    if case.status == 2:
        message = lines[-1]              # argparse: usage lines, then the one error line
    elif case.extra_lines:
        message = next((m for m in lines if all(n in m for n in case.names)), lines[-1])
    else:
        assert len(lines) == 1, captured.err
        message = lines[0]
    for name in case.names:
        assert name in message, message
    for internal in INTERNALS:               # what is wrong, in the user's words: no code's names or arguments
        assert internal not in message, message
    for text in case.stdout_has:
        assert text in captured.out
    assert snapshot(work) == before, "an input file changed"
    left = set(snapshot(out)) - {"/"}
    assert left <= set(case.may_write), f"left behind: {left}"


def test_case_count():
    assert len(CASES) >= 60


def test_solve_still_solves_the_other_targets(work, tmp_path, capsys):
    assert app_main(["solve", "--proposer", "random", "--tasks", str(work / "pngs"), "--budget", "0.2",
                     "--out", str(tmp_path / "s"), "--quiet"]) == 1
    res = json.loads((tmp_path / "s" / "results.json").read_text())
    assert [r["name"] for r in res["results"]] == ["a_line.png"]
    assert [Path(u["file"]).name for u in res["summary"]["unreadable"]] == ["bomb.png"]


def test_import_reports_committed_lines_whatever_the_batch(work, tmp_path, capsys):
    for batch in ("1", "3", "1000"):
        db = tmp_path / f"b{batch}.sqlite"
        assert app_main(["db", "import", str(db), str(work / "badimg.jsonl"), "--batch", batch]) == 1
        with Database(db, create=False) as d:
            heads = sorted(e.head for e in d.entries())
        assert len(heads) == 3
    good = tmp_path / "good.sqlite"
    assert app_main(["db", "import", str(good), str(work / "exp.jsonl")]) == 0
    assert f"imported {len((work / 'exp.jsonl').read_text().splitlines())} lines" in capsys.readouterr().out


def test_debug_shows_the_traceback(work, monkeypatch, capsys):
    from data.db import DatabaseError
    with pytest.raises(DatabaseError):
        app_main(["--debug", "db", "stats", str(work / "adir")])
    with pytest.raises(DatabaseError):
        app_main(["db", "stats", str(work / "adir"), "--debug"])
    monkeypatch.setenv("LOGO_DEBUG", "1")
    with pytest.raises(DatabaseError):
        app_main(["db", "stats", str(work / "adir")])


class _ClosedPipe:
    """A stdout whose reader has gone (`| head -1`)."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_broken_pipe_ends_quietly_in_process(work, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert app_main(["db", "stats", str(work / "db.sqlite")]) == 0
    monkeypatch.undo()
    assert capsys.readouterr().err == ""


def test_broken_pipe_ends_quietly_in_a_pipeline(work):
    """`logo db export DB - | head -c 0`: the reader is gone before the first write."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    p = subprocess.Popen([sys.executable, "-m", "app.cli", "db", "export", str(work / "db.sqlite"), "-"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    p.stdout.close()                      # nobody reads: every write gets EPIPE
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0, err
    assert err == ""


def test_build_library_arguments_are_checked_before_anything_is_created(tmp_path):
    import data.build
    with pytest.raises(ValueError, match="chunk_size"):
        data.build.build(tmp_path / "x.sqlite", 10, chunk_size=0)
    with pytest.raises(ValueError, match="size"):
        data.build.build(tmp_path / "x.sqlite", -5)
    assert not (tmp_path / "x.sqlite").exists()


def test_db_build_with_a_bad_library_creates_nothing(work, tmp_path, capsys):
    target = tmp_path / "new" / "b.sqlite"
    assert app_main(["db", "build", str(target), "--library", str(work / "badsyntax.logo")]) == 1
    assert not (tmp_path / "new").exists()
