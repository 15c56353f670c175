"""The digit benches run end to end on a few digits: every arm on the same digits (`bench/digits.py`), and a
digit library and statement examples learned from constructions of training digits (`bench/digit_library.py`)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import digit_library  # noqa: E402
import digits  # noqa: E402


def test_digits_bench_compares_arms_on_the_same_digits(tmp_path):
    out = tmp_path / "bd"
    assert digits.main(["--split", "train", "--per-class", "1", "--arms", "construct,none", "--budget", "0.4",
                        "--workers", "2", "--quiet", "--out", str(out)]) == 0
    got = json.loads((out / "digits.json").read_text())
    s = got["summary"]
    assert s["targets"] == 10 and set(s["arms"]) == {"construct", "none"}
    assert [r["name"] for r in got["rows"]["construct"]] == [r["name"] for r in got["rows"]["none"]]
    assert s["arms"]["construct"]["mean_iou"] > s["arms"]["none"]["mean_iou"]
    assert s["arms"]["construct"]["median_constructed_tokens"] and s["arms"]["none"]["median_constructed_tokens"] is None
    assert 0 <= s["classifier_on_targets"] <= 1 and (out / "digits.png").is_file()


def test_digit_library_bench_learns_procedures_and_examples(tmp_path):
    out, lib, ex = tmp_path / "dl", tmp_path / "lib.logo", tmp_path / "ex.npz"
    args = ["--per-class", "1", "--budget", "0.5", "--workers", "1", "--iterations", "3", "--out", str(out),
            "--write", str(lib), "--write-examples", str(ex)]
    assert digit_library.main(args) == 0
    rows = [json.loads(line) for line in (out / "corpus.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and all(r["prims"] for r in rows if r["program"])
    import logo
    assert logo.parse_library(lib.read_text())                 # at least one procedure, and it parses
    from model.statement.train import load_examples
    x, y, digit = load_examples(ex)
    assert len(x) >= 10 and set(digit.tolist()) == {r["index"] for r in rows if r["program"]}
    assert digit_library.main(args + ["--no-compress"]) == 0   # resumed: nothing constructed again
    assert len((out / "corpus.jsonl").read_text().splitlines()) == 10
