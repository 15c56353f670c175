"""The `logo` command (app.cli): `logo render` and `logo tasks` as a user runs them, and the dispatcher."""
import numpy as np
from PIL import Image

from app.cli import main


def test_render_writes_a_png_of_the_program(tmp_path, capsys):
    out = tmp_path / "sq.png"
    assert main(["render", "(loop i 4 (move ul (/ ua 4)))", "--size", "64", "--out", str(out)]) == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (64, 64)
    assert img.min() < 64 and img.max() == 255  # dark ink on white
    ys, xs = np.nonzero(img < 200)
    # a unit square is 64/9 = 7.1 px a side, centred
    assert 6 <= xs.max() - xs.min() <= 9 and 6 <= ys.max() - ys.min() <= 9
    assert abs((xs.max() + xs.min()) / 2 - 31.5) <= 1


def test_render_reports_bad_programs_clearly(tmp_path, capsys):
    out = tmp_path / "bad.png"
    assert main(["render", "(move ul", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "logo render:" in err and "expected" in err
    assert not out.exists()
    assert main(["render", "(loop i (* 9 (* 9 (* 9 9))) (move ul 0))", "--out", str(out)]) == 1
    assert "loop count" in capsys.readouterr().err


def test_render_reads_dreamcoder_syntax_and_libraries(tmp_path):
    lib = tmp_path / "lib.logo"
    lib.write_text("(define (poly n) (loop i n (move ul (/ ua n))))")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["render", "(poly 5)", "--library", str(lib), "--out", str(a)]) == 0
    assert main(["render", "((loop i 5 (move 1l (/a 1a 5))))", "--dreamcoder", "--out", str(b)]) == 0
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


def test_tasks_sheet(tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert main(["tasks", "--split", "test", "--size", "32", "--out", str(out), "--list"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("test ") == 80 and "(loop" in printed
    sheet = np.asarray(Image.open(out))
    assert sheet.shape[1] >= 16 * 32 and (sheet < 128).any()


def test_python_dash_m_app_cli_lists_every_subcommand():
    """`python -m app.cli` is the `logo` command (the supervisor and tests start it this way), and every
    area's subcommands are there: the imports are static, nothing is skipped silently."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    r = subprocess.run([sys.executable, "-m", "app.cli", "--help"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    for command in ("render", "tasks", "db", "solve", "compress", "run"):
        assert f"\n    {command} " in r.stdout, (command, r.stdout)
    r = subprocess.run([sys.executable, "-m", "app.cli"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "usage: logo" in r.stdout
