"""The recognition model (issue 29): the grammar layout's log-probability equals `Grammar.logp`, a tiny
training run lowers the held-out loss, the `recognition` arm solves a square through `solve`, and a bad
checkpoint is a clear error."""
from __future__ import annotations

import json
import math

import numpy as np

from dream.search.settings import SearchSettings
import pytest
import torch

import logo
from data import dreamcoder_tasks, laps_tasks
from dream.search.solver import SolveError, solve
from dream.search.targets import Target
from logo.grammar_table import GrammarLayout
from logo.pcfg import Grammar, GrammarError
from model.recognition.net import derivation_logp

LIB = logo.parse_library("(define (sq a) (loop i 4 (move a ua))) (define (poly n s) (loop i n (move s (/ ua n))))")
PROGRAMS = [
    "(move ul 0)",                                                     # no variable in scope: var left out
    "(loop i 4 (move ul (/ ua 4)))",
    "(loop i 3 (loop j 5 (move (* i j) (+ ua j))))",                   # two variables: index choice
    "(loop a 2 (loop b 2 (loop c 2 (loop d 2 (loop e 2 (loop f 2 (loop g 2 (move g a))))))))",  # index past 5
    "(sq 3) (embed (poly 5 (- ul eps_l))) (penup (move 2 ua))",        # library calls, embed, penup
]


def _random_vector(layout, seed):
    v = np.random.default_rng(seed).normal(0, 2, layout.size)
    v[::17] = -np.inf                                                   # some productions impossible
    return v


def test_layout_logp_equals_grammar_logp_numpy_and_torch():
    layout = GrammarLayout(LIB)
    programs = PROGRAMS + [logo.to_text(t.program) for t in list(dreamcoder_tasks()) + list(laps_tasks())[:60]]
    for seed in range(3):
        v = _random_vector(layout, seed)
        g = layout.to_grammar(v)
        assert np.array_equal(layout.to_vector(g), v)
        ders = [layout.derive(p) for p in programs]
        want = np.array([g.logp(p) for p in programs])
        got = np.array([layout.logp(v, d) for d in ders])
        finite = np.isfinite(want)
        assert finite.sum() > 20 and (~finite).sum() > 0
        assert np.array_equal(np.isfinite(got), finite)
        assert np.allclose(got[finite], want[finite], atol=1e-9)
        # torch: one batch of every program, each row its own grammar (here the same one)
        logits = torch.as_tensor(np.repeat(v[None], len(programs), 0))
        ex = torch.as_tensor(np.repeat(np.arange(len(ders)), [len(d) for d in ders]))
        lp = derivation_logp(logits, torch.as_tensor(layout.sets), torch.as_tensor(layout.set_mask),
                             torch.as_tensor(np.concatenate([d.chosen for d in ders])),
                             torch.as_tensor(np.concatenate([d.choice_set for d in ders])), ex, len(ders)).numpy()
        assert np.allclose(lp[finite], want[finite], atol=1e-6)
        assert np.all(np.isneginf(lp[~finite]))


def test_layout_refuses_what_its_library_cannot_derive():
    layout = GrammarLayout(())
    with pytest.raises(GrammarError, match="sq"):
        layout.derive("(sq 3)")
    with pytest.raises(GrammarError, match="weights"):
        layout.to_grammar(np.zeros(layout.size + 1))
    with pytest.raises(GrammarError, match="library"):
        layout.to_vector(Grammar.uniform(LIB))


def _train(out, *extra):
    from model.train import main
    assert main(["--model", "recognition", "--out", str(out), "--dream-seconds", "1", "--max-dreams", "3000",
                 "--batch-size", "32", "--log-every", "10", "--eval-every", "1000", "--lr", "3e-3",
                 "--threads", "1", "--quiet", *extra]) == 0
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_tiny_training_lowers_heldout_loss_and_resumes(tmp_path):
    torch.manual_seed(0)
    recs = _train(tmp_path / "r", "--steps", "150")
    evals = [r for r in recs if r.get("eval")]
    first, last = evals[0], evals[-1]
    assert first["step"] == 0 and last["step"] == 150
    # step 0 is the prior grammar itself (the head starts at zero)
    assert first["dreams"]["bits"] == pytest.approx(first["dreams"]["prior_bits"], abs=1e-3)
    assert last["dreams"]["bits"] < first["dreams"]["bits"] - 0.5
    assert any("examples_per_s" in r for r in recs)
    recs = _train(tmp_path / "r", "--steps", "10")                   # resumes at 150
    assert [r for r in recs if r.get("eval")][-1]["step"] == 160


SQUARE = "(loop i 4 (move (* 2 ul) (/ ua 4)))"


def test_recognition_arm_solves_a_square_and_bad_checkpoints_are_clear_errors(tmp_path):
    out = tmp_path / "r"
    _train(out, "--steps", "5")
    target = Target("square", "json", logo.render(SQUARE, 32), logo.render(SQUARE, 28), known_program=SQUARE)
    rows, summary = solve([target], proposer="recognition", ckpt=str(out), settings=SearchSettings(budget_s=5))
    assert rows[0]["solved"] and rows[0]["arm"] == "recognition", rows
    assert summary["solved_by_enumeration"] == 1
    from dream.search.solver import Solver
    s = Solver.open(["auto"], ckpt=str(out))           # with a recognition checkpoint, auto is recognition
    try:
        assert s.checkpoint_kind == "recognition" and s.resolve("auto") == "recognition"
        assert s.resolve("auto", "mnist") == "construct"                  # digits are still constructed
        starts, spent = s.enumerated_starts(target)                         # and starts come from its grammar
        from dream.search.score import solved
        assert any(p and solved(logo.render(p, 28), target.image28) for p in starts(None, target.image, 0))
    finally:
        s.close()
    with pytest.raises(SolveError, match="needs --ckpt"):
        solve([target], proposer="recognition", settings=SearchSettings(budget_s=1))
    with pytest.raises(SolveError, match="does not exist"):
        solve([target], proposer="recognition", ckpt=str(tmp_path / "nowhere"), settings=SearchSettings(budget_s=1))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ckpt_00000001.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SolveError, match="ckpt_00000001.pt: cannot read checkpoint"):
        solve([target], proposer="recognition", ckpt=str(bad), settings=SearchSettings(budget_s=1))
    with pytest.raises(SolveError, match="recognition model"):       # an edit arm given a recognition checkpoint
        solve([target], proposer="model", ckpt=str(out), settings=SearchSettings(budget_s=1))
