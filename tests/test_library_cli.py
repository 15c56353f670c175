"""`logo compress` end to end on a small programs file."""
import json

import numpy as np

import logo
from app.cli import main


def test_compress_cli_writes_library_rewritten_and_report(tmp_path, capsys):
    progs = [f"(loop i 4 (move (* ul {k}) (/ ua 4))) (move ul 0)" for k in range(2, 7)] + \
            [f"(loop i 3 (move (* ul {k}) (/ ua 3)))" for k in range(2, 6)]
    src = tmp_path / "corpus.txt"
    src.write_text("\n".join(progs) + "\n; a comment line\n")
    out = tmp_path / "lib"
    assert main(["compress", "--programs", str(src), "--iterations", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "corpus: 9 programs" in text and "fn_0" in text
    lib_text = (out / "v001.logo").read_text()
    assert lib_text.startswith("; logo-synth library v001")
    defs = logo.parse(lib_text).defs
    assert len(defs) >= 1 and logo.parse(lib_text).body == ()
    rewritten = (out / "rewritten.txt").read_text().splitlines()
    assert len(rewritten) == 9
    assert np.array_equal(logo.render_batch(progs), logo.render_batch(rewritten, library=defs))
    rep = json.loads((out / "report.json").read_text())
    assert rep["cost_after"] < rep["cost_before"] and len(rep["abstractions"]) == len(defs)
    # a second round continues from the saved library and writes the next version
    assert main(["compress", "--programs", str(out / "rewritten.txt"), "--library", str(out),
                 "--iterations", "1", "--allow-single-task", "--out", str(out), "--quiet"]) == 0
    assert (out / "v002.logo").exists()


def test_compress_cli_empty_corpus_is_an_error(tmp_path, capsys):
    assert main(["compress", "--out", str(tmp_path / "x")]) == 2
    assert "corpus is empty" in capsys.readouterr().err


def test_compress_database_round_trip(tmp_path, capsys):
    db_mod = __import__("pytest").importorskip("data.db")
    progs = [f"(loop i 4 (move (* ul {k}) (/ ua 4))) (move ul (/ ua {m}))" for k in range(2, 6) for m in (3, 5)]
    path = tmp_path / "db.sqlite"
    db = db_mod.Database(path)
    db.insert_many(progs, source="task")
    n = len(db)
    db.close()
    assert main(["compress", "--db", str(path), "--equivalents", "--iterations", "2", "--update-db",
                 "--out", str(tmp_path / "lib")]) == 0
    assert "database: library set" in capsys.readouterr().out
    db = db_mod.Database(path, create=False)
    try:
        lib = db.library()
        assert [d.name for d in lib] == ["fn_0", "fn_1"][:len(lib)] and lib
        assert len(db) == n                      # same images: no new entries
        heads = [h for _, h in db.heads()]
        assert any("fn_" in h for h in heads)    # the shorter rewritten programs became heads
        import numpy as np
        imgs = db.images([e for e, _ in db.heads()])
        again = logo.render_batch(heads, size=db.image_size, library=lib)
        assert np.array_equal(imgs, again)
    finally:
        db.close()


def test_first_round_of_the_loop_has_no_library_dir_and_no_solutions_yet(tmp_path, capsys):
    src = tmp_path / "corpus.txt"
    src.write_text("\n".join(f"(loop i 5 (move (* ul {k}) (/ ua 5)))" for k in range(2, 8)) + "\n")
    out = tmp_path / "library"
    assert main(["compress", "--programs", str(src), "--library", str(out), "--solutions",
                 str(tmp_path / "missing.json"), "--out", str(out), "--iterations", "2"]) == 0
    captured = capsys.readouterr()
    assert "no solutions file" in captured.err and (out / "v001.logo").exists()
    assert main(["compress", "--programs", str(src), "--library", str(out), "--out", str(out),
                 "--iterations", "1", "--quiet"]) == 0
    assert (out / "v002.logo").exists()
