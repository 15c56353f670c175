"""The report's library section: procedures drawn with their typical argument, their uses, the retired
ones, and the per-round library-off vs library-on table."""
import json

from app.report import round_record, write_report
from data.db import Database
from library import save_library
import logo

LIB = "(define (sq n) (loop i 4 (move n (/ ua 4))))\n(define (tri a) (loop i 3 (move a (/ ua 3))))"


def test_library_section_shows_uses_typical_drawings_and_both_arms(tmp_path):
    paths = {k: tmp_path / k for k in ("ckpt", "library", "dream", "logs", "report")}
    paths["db"] = tmp_path / "db.sqlite"
    db = Database(paths["db"], image_size=32)
    db.set_library(LIB)
    db.insert("(tri ul)", source="random")
    db.close()
    save_library(logo.parse_library(LIB)[:1], paths["library"])          # tri retired: the file has sq only
    rdir = paths["report"] / "round1"
    (rdir / "library").mkdir(parents=True)
    (rdir / "library" / "compress.json").write_text(json.dumps({
        "uses": {"sq": {"calls": 3, "tokens_saved": 30, "targets": {"task A": 20, "task B": 10},
                        "typical_args": ["(* ul 3)"]}},
        "retired": ["tri"], "corpus_targets": 2, "corpus_kinds": {"tasks": 2}, "tokens_before": 60,
        "tokens_after": 30}))
    (rdir / "library" / "arms.json").write_text(json.dumps({
        "proposer": "grammar", "budget_s": 1.5, "library_size": 1,
        "results": {"dreamcoder-test": {"off": {"targets": 4, "solved": 1, "mean_iou": 0.5, "mean_tokens": 20.0,
                                                "calls_library": 0},
                                        "on": {"targets": 4, "solved": 2, "mean_iou": 0.6, "mean_tokens": 12.5,
                                               "calls_library": 2}}}}))
    rec = round_record(1, paths, rdir)
    assert rec["library"] == ["(define (sq n) (loop i 4 (move n (/ ua 4))))"]
    assert rec["library_examples"] == ["(sq (* ul 3))"]                 # the typical argument
    assert rec["library_uses"]["sq"]["targets"] == {"task A": 20, "task B": 10}
    assert rec["library_retired"] == ["tri"]
    assert rec["library_arms"]["sets"]["dreamcoder-test"]["on"]["solved"] == 2
    assert (rdir / "library.png").exists()
    page = write_report(paths, [rec], "smoke").read_text()
    assert "Library off vs on" in page and "12.500" in page and "20.000" in page
    assert "task A −20" in page and "30 tokens saved" in page
    assert "Retired this round" in page and "tri" in page
    assert "drawn as (sq (* ul 3))" in page
