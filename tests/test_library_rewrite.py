"""Rewriting with learned procedures draws exactly the same images (Logo mode)."""
import json
from pathlib import Path

import numpy as np
import pytest

import logo
import library
from logo.ast import Call, Loop, walk

ROOT = Path(__file__).resolve().parents[1]


def dreamcoder_programs():
    tasks = json.loads((ROOT / "data" / "dreamcoder_logo_tasks.json").read_text())
    return [logo.from_dreamcoder(t["source"]) for t in tasks]


@pytest.fixture(scope="module")
def dc_result():
    progs = dreamcoder_programs()
    return progs, library.compress(progs, iterations=10, max_arity=3)


def test_rewritten_dreamcoder_tasks_render_identically(dc_result):
    progs, res = dc_result
    assert len(progs) == 160 and len(res.rewritten) == 160
    assert len(res.defs) == 10
    before = logo.render_batch(progs, size=28)
    after = logo.render_batch(res.rewritten, size=28, library=res.library)
    assert before.shape == after.shape
    diff = [i for i in range(len(progs)) if not np.array_equal(before[i], after[i])]
    assert diff == [], [logo.to_text(res.rewritten[i]) for i in diff[:3]]
    # segments too, not only pixels
    for p, q in zip(progs[:40], res.rewritten[:40]):
        assert np.allclose(logo.run(p), logo.run(q, library=res.library))


def test_compression_really_happened(dc_result):
    progs, res = dc_result
    rep = res.report
    assert rep["cost_after"] < rep["cost_before"] / 1.5
    assert rep["ast_size_after"] < rep["ast_size_before"]
    n_calls = sum(isinstance(n, Call) for q in res.rewritten for n in walk(q))
    assert n_calls >= 100
    # the utilities reported are what the costs say
    costs = [rep["cost_before"]] + [a["cost_after"] for a in rep["abstractions"]]
    assert all(a > b for a, b in zip(costs, costs[1:]))
    for a, (c0, c1) in zip(rep["abstractions"], zip(costs, costs[1:])):
        assert c0 - c1 == a["utility"] + a["body_cost"]   # utility = saving minus the body's own size
        assert logo.parse(a["define"]).defs[0].name == a["name"]


def test_library_file_roundtrip_and_second_round(tmp_path, dc_result):
    progs, res = dc_result
    path = library.save_library(res.library, tmp_path)
    assert path.name == "v001.logo" and path.read_text().startswith("; logo-synth library v001")
    assert library.save_library(res.library, tmp_path).name == "v002.logo"
    loaded = library.load_library(tmp_path)
    assert loaded == res.library
    # a second round on the rewritten corpus builds on the first library
    res2 = library.compress(res.rewritten, iterations=3, max_arity=3, library=loaded)
    assert [d.name for d in res2.defs] == [f"fn_{i}" for i in range(10, 10 + len(res2.defs))]
    assert res2.report["cost_after"] <= res2.report["cost_before"]
    imgs = logo.render_batch(progs[:60], size=28)
    imgs2 = logo.render_batch(res2.rewritten[:60], size=28, library=res2.library)
    assert np.array_equal(imgs, imgs2)


def test_random_variations_render_identically():
    rng = np.random.default_rng(0)
    base = dreamcoder_programs()
    progs = []
    for _ in range(120):
        p = base[rng.integers(len(base))]
        q = base[rng.integers(len(base))]
        progs.append(logo.Program((), p.body + q.body[: 1 + rng.integers(2)]))
    res = library.compress(progs, iterations=6, max_arity=2, tasks=[i // 2 for i in range(len(progs))])
    assert res.defs
    a = logo.render_batch(progs, size=28)
    b = logo.render_batch(res.rewritten, size=28, library=res.library)
    assert np.array_equal(a, b)


def test_programs_with_local_definitions_are_left_alone():
    local = logo.parse("(define (sq s) (loop i 4 (move s (/ ua 4)))) (sq 2) (sq 3)")
    plain = ["(loop i 4 (move (* ul 2) (/ ua 4))) (move ul 0)"] * 2 + ["(loop i 4 (move (* ul 3) (/ ua 4)))"] * 2
    res = library.compress([local, *plain], iterations=2)
    assert res.rewritten[0] == local and res.report["skipped"] == 1


def test_existing_library_is_applied_before_learning():
    # programs written without the library get rewritten with it; nothing is learned twice
    lib = logo.parse("(define (fn_0 a b) (loop i b (move a (/ ua b))))").defs
    progs = [f"(loop i {n} (move (* ul {k}) (/ ua {n}))) (move ul (/ ua 4))" for n in (3, 5, 7) for k in (2, 3)]
    res = library.compress(progs, iterations=2, max_arity=3, library=lib)
    rep = res.report
    assert rep["cost_with_library"] < rep["cost_before"]
    # the new procedures build on fn_0 instead of learning the loop again
    assert any(isinstance(n, Call) and n.name == "fn_0" for d in res.defs for n in walk(d))
    assert not any(isinstance(n, Loop) for d in res.defs for n in walk(d))
    a = logo.render_batch(progs, size=28)
    b = logo.render_batch(res.rewritten, size=28, library=res.library)
    assert np.array_equal(a, b)
    # and without applying it, the same procedure is learned again under a new name
    res2 = library.compress(progs, iterations=1, max_arity=3, library=lib, apply_library=False)
    assert res2.defs[0].name == "fn_1" and res2.report["cost_with_library"] == rep["cost_before"]
    assert any(isinstance(n, Loop) for n in walk(res2.defs[0]))
