"""An empty target set is a clear error, exit status 1, before any model or database is loaded: a folder
with no images, an empty JSON task list, `--limit 0` (`logo solve`), `--solve-tasks 0` (`logo run`), and
database-only dream targets on an empty database (`dream`)."""
import json

import pytest

from app.cli import main as logo_main
from data.db import Database
from dream.search.targets import NoTargets, TargetSampler, load_targets


@pytest.fixture
def nothing_loads(monkeypatch):
    """Loading a model or a database fails the test: the empty set must be found first."""
    import dream.search.solver

    def refuse(*args, **kwargs):
        raise AssertionError("a model or database was loaded for an empty target set")
    monkeypatch.setattr(dream.search.solver.Solver, "open", classmethod(refuse))
    monkeypatch.setattr(Database, "__init__", refuse)


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize("kind", ["empty folder", "hidden files only", "empty task list", "limit 0"])
def test_logo_solve_refuses_an_empty_target_set(kind, tmp_path, capsys, nothing_loads):
    folder = tmp_path / "pngs"
    folder.mkdir()
    tasks, limit = str(folder), []
    if kind == "hidden files only":
        (folder / ".DS_Store").write_bytes(b"\0")
    elif kind == "empty task list":
        tasks = str(tmp_path / "tasks.json")
        (tmp_path / "tasks.json").write_text("[]")
    elif kind == "limit 0":
        tasks, limit = "dreamcoder", ["--limit", "0"]
    out = tmp_path / "out"
    code = logo_main(["solve", "--tasks", tasks, *limit, "--ckpt", str(tmp_path / "ckpt"),
                      "--db", str(tmp_path / "db.sqlite"), "--out", str(out)])
    assert code == 1
    line = _one_error_line(capsys)
    assert line.startswith(f"logo solve: {tasks}: no targets"), line
    assert not out.exists() and not (tmp_path / "db.sqlite").exists()


def test_a_folder_of_unreadable_files_is_no_targets(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(NoTargets, match="none of its 1 file is a readable image") as e:
        load_targets(str(tmp_path), size=32)
    assert "notes.txt" in str(e.value)
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps([{"name": "nothing", "program": "(move 0 0)"}]))
    with pytest.raises(NoTargets, match="none of its 1 entry can be drawn"):
        load_targets(str(tasks), size=32)


def test_logo_run_refuses_zero_evaluation_targets(tmp_path, capsys):
    for flag in ("--solve-tasks", "--solve-mnist"):
        with pytest.raises(SystemExit) as e:
            logo_main(["run", "--config", "smoke", flag, "0", "--out", str(tmp_path / "run")])
        assert "no targets" in str(e.value.code) and flag in str(e.value.code)
        assert not (tmp_path / "run").exists()


def test_dream_with_only_database_targets_on_an_empty_database(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    with pytest.raises(NoTargets, match="no targets") as e:
        TargetSampler({"db": 1.0, "tasks": 0.0}, db, 32)
    assert str(tmp_path / "db.sqlite") in str(e.value)
    db.insert("(move 2 0)", "random")
    assert TargetSampler({"db": 1.0}, db, 32, seed=0).next().kind == "db"     # with an entry: a target
