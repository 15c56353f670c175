"""logo.files: the one JSONL reader (whole log, tail, follower, strict import) and atomic writes."""
import json

import pytest

from logo.files import BadJsonLine, JsonlFollower, atomic_write, jsonl_records, read_jsonl


def test_records_number_lines_and_skip_or_raise_on_bad_ones():
    lines = [b'{"a": 1}\n', b"\n", b"not json\n", b'[1, 2]\n', b'{"b": "\xff"}\n', b'{"c": 3}']
    skipped = []
    got = list(jsonl_records(lines, "log.jsonl", on_bad=skipped.append))
    assert got == [(1, {"a": 1}), (4, [1, 2]), (6, {"c": 3})]         # blank line 2 is not an error
    assert [(b.line, b.what.split(" (")[0]) for b in skipped] == [(3, "not JSON"), (5, "not UTF-8 text")]
    assert str(skipped[1]).startswith("log.jsonl:5: not UTF-8 text (byte 7 of the line")
    strict = jsonl_records(lines, "log.jsonl", strict=True)
    assert next(strict) == (1, {"a": 1})
    with pytest.raises(BadJsonLine, match=r"^log\.jsonl:3: not JSON"):
        next(strict)
    assert list(jsonl_records(['{"x": 1}'], first_line=10)) == [(10, {"x": 1})]


def test_read_jsonl_whole_file_and_tail(tmp_path):
    log = tmp_path / "m.jsonl"
    assert read_jsonl(log) == []                                       # no file yet
    rows = [{"step": i, "pad": "x" * 50} for i in range(100)]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows) + '"a string"\n{"half": ')
    assert read_jsonl(log) == rows                                     # objects only; the half line skipped
    tail = read_jsonl(log, tail_bytes=1000)
    assert 5 < len(tail) < 20 and tail == rows[-len(tail):]            # the cut first line is dropped


def test_follower_reads_only_complete_new_lines(tmp_path):
    log = tmp_path / "found.jsonl"
    f = JsonlFollower(log)
    assert f.read() == []
    log.write_text('{"a": 1}\nbad\n{"b": ')
    assert f.read() == [{"a": 1}] and f.bad_lines == 1 and f.records == 1
    assert f.read() == []                                              # the half line waits
    with open(log, "a") as out:
        out.write('2}\n{"c": 3}\n')
    assert f.read() == [{"b": 2}, {"c": 3}] and f.records == 3 and f.lines == 4


def test_atomic_write_leaves_the_old_file_on_error(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(path, "w") as f:
            f.write("new")
            raise RuntimeError("stop")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]
