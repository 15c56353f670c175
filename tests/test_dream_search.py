"""dream.search.frontier with the real (tiny, overfit) edit model and a real database; the insert rule."""
import numpy as np
import pytest
import torch

import logo
from data.db import Database
from dream.dreamer import Dreamer, programs_to_insert
from dream.search.solver import SearchSettings, run_search, start_programs
from dream.search.proposer import CheckpointWatcher, ModelProposer
from dream.search.frontier import Search, n_tokens
from dream.search.targets import Target
from tinymodel import train_tiny
from model import checkpoint
from model.tokenizer import SPECIALS, canonical_text

P = "(loop i 4 (move (* ul 3) (/ ua 4)))"
Q = "(loop i 4 (move (* ul 2) (/ ua 4)))"          # P with one token changed: a smaller square
OTHERS = ["(loop i 3 (move (* ul 2) (/ ua 3)))", "(move ul 0)", "(loop i 6 (move ul (/ ua 6)))",
          "(move (* ul 4) (/ ua 4)) (move ul 0)"]
LONG = "(move ul 0) (move ul 0) (move ul 0)"       # a line three units long
SHORT = "(move 3 0)"                               # the same line, fewer tokens


@pytest.fixture(scope="module")
def tiny():
    """A tiny edit model overfit on a few pairs, among them P -> Q and LONG -> SHORT."""
    pairs = [(P, Q), (LONG, SHORT), ("(loop i 5 (move (* ul 3) (/ ua 5)))", "(loop i 5 (move (* ul 2) (/ ua 5)))"),
             ("", "(move ul 0)")]
    model, tok, info = train_tiny(pairs, seed=0)
    assert info["loss"] < 0.05, info
    return model, tok


def target_of(program, size=32, kind="png", name="t"):
    return Target(name, kind, logo.render(program, size), logo.render(program, 28))


def test_one_edit_away_is_found_from_the_database(tmp_path, tiny):
    model, tok = tiny
    db = Database(tmp_path / "db.sqlite", image_size=32)
    assert db.insert(P, source="random").status == "new"
    for p in OTHERS:
        db.insert(p, source="random")
    target = target_of(Q)
    starts = start_programs(db, target.image, k=5)
    assert starts[0] == "" and set(starts[1:]) == {P, *OTHERS}   # nearest first, by pixel distance
    assert start_programs(db, target.image, k=2)[1:] == starts[1:3]
    expand = ModelProposer(model, tok, "cpu", samples=8)
    torch.set_num_threads(1)
    r = run_search(expand, target, db, SearchSettings(k=5, budget_s=20.0))
    assert r.solved, r.summary()
    assert r.best.text == canonical_text(Q)
    assert [n.text for n in r.path] == [canonical_text(P), canonical_text(Q)]   # one model edit from P
    assert r.time_to_solve is not None and r.time_to_solve < 20.0
    assert programs_to_insert(r) == [canonical_text(Q)]


NEAR_Q = ["(loop i 3 (move (* ul 2) (/ ua 4)))",    # three sides of Q
          "(loop i 4 (move (* ul 2) (/ ua 3)))",    # Q's sides at the wrong angle
          "(loop i 4 (move ul (/ ua 4)))"]          # a smaller square than Q


def test_without_the_right_edit_the_target_is_not_reached(tmp_path):
    """Control: the same starts, and proposals that draw near misses of Q (never Q itself), do not solve Q,
    while the same proposals plus Q do: solving takes the right edit, not a lenient criterion."""
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.insert(P)
    target = target_of(Q)
    for near in NEAR_Q:   # each near miss really draws something else
        assert not np.array_equal(logo.render(near, 28), target.image28), near

    def proposer(extra):
        table = {t: [*NEAR_Q, *extra] for t in ("", canonical_text(P))}
        return _Scripted({canonical_text(k) if k else k: v for k, v in table.items()})

    control = proposer([])
    r = run_search(control, target, db, SearchSettings(k=5, budget_s=1.0, batch=1))
    assert control.calls, "the control search never asked its proposer"
    assert r.n_candidates >= len(NEAR_Q)
    assert not r.solved, r.summary()
    assert r.best.text in {"", canonical_text(P), *map(canonical_text, NEAR_Q)}
    assert r.best.distance > 0

    r = run_search(proposer([Q]), target, db, SearchSettings(k=5, budget_s=5.0, batch=1))
    assert r.solved and r.best.text == canonical_text(Q), r.summary()


class _Scripted:
    """A deterministic expander for testing the search bookkeeping (the model tests are above)."""

    def __init__(self, table):
        self.table = table
        self.calls = []

    def __call__(self, images_a, images_b, programs):
        self.calls.append(list(programs))
        return [list(self.table.get(p, [])) for p in programs]


def test_search_drops_bad_candidates_and_duplicates():
    table = {"": ["(move ul", "(loop i 9 (loop j 9 (loop k 9 (loop l 9 (move ul 0)))))", "(undefined_proc 1)",
                  "(move ul 0)", "(move   ul 0)", "(move 2 0)"],
             "(move ul 0)": ["(move 2 0)", "(move 3 0)"]}
    exp = _Scripted(table)
    s = Search(exp, logo.render("(move 3 0)", 32), logo.render("(move 3 0)", 28), batch=1)
    res = s.run(budget_s=5.0, max_rounds=10)
    assert res.solved and res.best.text == "(move 3 0)"
    # the unparsable, over-limit and unbound programs were dropped; the respelled duplicate was merged
    assert sorted(n.text for n in s.nodes()) == sorted(["", "(move ul 0)", "(move 2 0)", "(move 3 0)"])
    assert res.n_valid == 4
    assert res.n_candidates >= 6


def test_shorter_solutions_win_when_searching_on():
    target = logo.render(LONG, 32)
    table = {LONG: ["(move 1 0) (move 2 0)"], "(move 1 0) (move 2 0)": [SHORT]}
    res = Search(_Scripted(table), target, logo.render(LONG, 28), starts=[LONG], batch=1).run(
        5.0, stop_on_solve=False, max_rounds=6)
    assert res.solved and res.best.text == SHORT
    assert n_tokens(SHORT) < n_tokens(LONG)
    assert [n.text for n in res.path] == [LONG, "(move 1 0) (move 2 0)", SHORT]
    # stopping at the first solution keeps the start program itself (it already solves the target)
    res1 = Search(_Scripted(table), target, logo.render(LONG, 28), starts=[LONG]).run(5.0)
    assert res1.solved and res1.best.text == LONG and res1.n_expanded == 0


def test_budget_is_respected():
    res = Search(lambda a, b, p: [[f"(move {k % 9} 0)" for k in range(3)] for _ in p], logo.render(P, 32)).run(0.3)
    assert not res.solved and res.elapsed < 2.0


@pytest.fixture
def ckpt_dir(tmp_path, tiny):
    model, tok = tiny
    d = tmp_path / "ckpt"
    checkpoint.save(d, model, tok, step=7)
    return d


def test_insert_rule_new_entry_and_new_head(tmp_path, tiny, ckpt_dir):
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.insert(P)
    long_id = db.insert(LONG).entry_id
    n0 = len(db)
    watcher = CheckpointWatcher(ckpt_dir, "cpu", min_interval_s=0)
    watcher.require()
    sampler = _FixedTargets([target_of(Q, kind="tasks", name="Q"),
                             Target(f"db-{long_id}", "db", db.get(long_id).image, logo.render(LONG, 28), LONG,
                                    long_id)])
    d = Dreamer(db, watcher, sampler, tmp_path / "log", settings=SearchSettings(k=5, beam=0, budget_s=10.0),
                grid_every=2)
    rec_q = d.dream_one(sampler.next())
    # a program whose image is new enters as a new entry
    assert rec_q["solved"]
    assert [(i["program"], i["status"]) for i in rec_q["inserted"]] == [(canonical_text(Q), "new")]
    assert len(db) == n0 + 1
    new_id = rec_q["inserted"][0]["entry_id"]
    assert db.get(new_id).source == "dream"
    # a program that draws a stored image with fewer tokens becomes the head of its equivalents
    rec_l = d.dream_one(sampler.next())
    assert rec_l["solved"] and rec_l["program"] == SHORT
    statuses = {i["program"]: i["status"] for i in rec_l["inserted"]}
    assert statuses[SHORT] == "head"
    e = db.get(long_id)
    assert e.head == SHORT and LONG in e.equivalents and len(db) == n0 + 1
    # the JSONL log holds both records, and a PNG grid was written
    lines = (tmp_path / "log" / "found.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert (tmp_path / "log" / "grid_00001.png").exists()


def test_dream_searches_with_the_proposer_it_is_given(tmp_path, ckpt_dir):
    """`dream --proposer none`: the start programs only (the model is not asked); `auto` is the checkpoint's."""
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.insert(P)
    watcher = CheckpointWatcher(ckpt_dir, "cpu", min_interval_s=0)
    watcher.require()
    sampler = _FixedTargets([target_of(Q, kind="tasks", name="Q")] * 2)
    settings = SearchSettings(k=5, beam=0, budget_s=3.0, enumerated_starts=0)     # the database's starts alone
    none = Dreamer(db, watcher, sampler, tmp_path / "none", settings=settings, grid_every=0, arm="none")
    rec = none.dream_one(sampler.next())
    assert not rec["solved"] and rec["candidates"] == 0 and rec["inserted"] == []
    auto = Dreamer(db, watcher, sampler, tmp_path / "auto", settings=settings, grid_every=0)
    rec = auto.dream_one(sampler.next())
    assert rec["solved"] and rec["candidates"] > 0                # the model's edit from P


class _FixedTargets:
    def __init__(self, targets):
        self.targets = list(targets)
        self.library = None

    def next(self):
        return self.targets.pop(0) if self.targets else None


def test_checkpoint_reloading(tmp_path, tiny):
    model, tok = tiny
    d = tmp_path / "ckpt"
    w = CheckpointWatcher(d, "cpu", min_interval_s=0)
    assert not w.poll() and not w.loaded                  # directory missing: nothing yet
    with pytest.raises(FileNotFoundError, match="ckpt"):
        w.require()
    checkpoint.save(d, model, tok, step=1)
    assert w.poll() and w.meta["step"] == 1
    assert not w.poll()                                   # unchanged: no reload
    checkpoint.save(d, model, tok, step=2)
    assert w.poll() and w.meta["step"] == 2 and w.loads == 2
    # the dreamer picks up a new checkpoint between targets and logs it
    db = Database(tmp_path / "db.sqlite", image_size=32)
    db.insert(P)
    targets = _FixedTargets([target_of(Q, name="a"), target_of(Q, name="b")])
    dreamer = Dreamer(db, w, targets, tmp_path / "log", settings=SearchSettings(k=2, beam=0, budget_s=2.0),
                      poll_every_s=0.0, grid_every=0)
    dreamer.run(max_targets=1)
    checkpoint.save(d, model, tok, step=3)
    dreamer.run(max_targets=2)
    import json
    events = [json.loads(x) for x in (tmp_path / "log" / "found.jsonl").read_text().splitlines()]
    ckpt_events = [e["step"] for e in events if e["event"] == "checkpoint"]
    assert ckpt_events == [3]
    tgt = [e for e in events if e["event"] == "target"]
    assert [e["checkpoint"]["step"] for e in tgt] == [2, 3]


def test_beam_search_decoding(tiny):
    from model.edit.generate import beam_propose
    from model.edit.edits import apply_edits
    model, tok = tiny
    torch.set_num_threads(1)
    progs = [P, "", LONG]
    ia = np.stack([logo.render(P, 32), np.zeros((32, 32), np.uint8), logo.render(LONG, 32)])
    ib = np.stack([logo.render(Q, 32), logo.render("(move ul 0)", 32), logo.render(SHORT, 32)])
    out = beam_propose(model, tok, ia, ib, progs, beam=4)
    assert len(out) == 3
    for p, scripts in zip(progs, out):
        a = tok.tokens(p) if p else []
        assert 1 <= len(scripts) <= 4
        assert len({tuple(s) for s in scripts}) == len(scripts)          # distinct
        texts = [" ".join(apply_edits(a, s)) for s in scripts]           # well formed: no EditError
        for script, text in zip(scripts, texts):
            ops = [e.op for e in script]
            # each result is A with the script's inserts and deletes, in real program tokens (no specials)
            assert len(text.split()) == len(a) + ops.count("insert") - ops.count("delete"), (p, script)
            assert all(t in tok.index and t not in SPECIALS for t in text.split()), (p, text)
    # the most likely script is the trained edit
    assert logo.parse(" ".join(apply_edits(tok.tokens(P), out[0][0]))) == logo.parse(canonical_text(Q))
    assert " ".join(apply_edits([], out[1][0])) == "( move ul 0 )"
    # a beam-only proposer (no sampling) solves the one-edit target too
    expand = ModelProposer(model, tok, "cpu", samples=0, temperatures=(), beam=4)
    r = Search(expand, logo.render(Q, 32), logo.render(Q, 28), starts=["", P]).run(10.0)
    assert r.solved and r.best.text == canonical_text(Q)


def test_corrupt_checkpoint_is_named(tmp_path):
    d = tmp_path / "ck"
    d.mkdir()
    (d / "ckpt_00000001.pt").write_bytes(b"not a checkpoint")
    (d / "latest").write_text("ckpt_00000001.pt\n")
    w = CheckpointWatcher(d, "cpu", min_interval_s=0)
    assert not w.poll()
    with pytest.raises(FileNotFoundError, match="ckpt_00000001.pt"):
        w.require()


def test_one_search_entry_point_below_the_online_loop():
    """`dream.search.solver` holds `start_programs` + `run_search`; the online loop (`dream.dreamer`) uses them and
    the search room does not import the loop."""
    import ast
    from pathlib import Path
    import dream.dreamer
    import dream.search.solver
    room = Path(__file__).resolve().parents[1] / "dream" / "search"
    for path in room.glob("*.py"):          # the search room never imports the dreaming process
        imported = {n.module for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom)}
        assert not {"dreamer", "dream.dreamer", "cli", "dream.cli"} & imported, path.name
    assert dream.dreamer.run_search is dream.search.solver.run_search
    assert not hasattr(dream.dreamer, "start_programs")


class _AsTexts:
    """The grammar arm's candidates printed: the search reads them through the text path."""

    def __init__(self, inner):
        self.inner, self.max_tokens = inner, inner.max_tokens

    def reset(self):
        self.inner.reset()

    def __call__(self, images_a, images_b, programs_a):
        return [[logo.to_text(c) for c in cands] for cands in self.inner(images_a, images_b, programs_a)]


def test_trees_and_their_texts_give_the_same_search():
    """A proposer may return trees (no print -> parse round trip); the search must be the one its texts give:
    same nodes in the same order, same distances, same solved verdicts, same counts."""
    from dream.search.baselines import GrammarProposer
    target = target_of("(loop i 5 (move (* ul 2) (/ ua 5)))")
    starts = ["", "(loop i 4 (move (* ul 2) (/ ua 4)))", "(move ul 0)"]
    runs = []
    for wrap in (lambda p: p, _AsTexts):
        s = Search(wrap(GrammarProposer(n=12, seed=3)), target.image, target.image28, starts=starts, batch=4)
        r = s.run(budget_s=1e9, stop_on_solve=False, max_rounds=12)
        runs.append((r, [(n.text, n.tokens, n.distance, n.solved, n.step) for n in s.nodes()]))
    (a, nodes_a), (b, nodes_b) = runs
    assert len(nodes_a) > 100 and nodes_a == nodes_b
    assert (a.program, a.n_candidates, a.n_valid, a.n_expanded) == (b.program, b.n_candidates, b.n_valid, b.n_expanded)
