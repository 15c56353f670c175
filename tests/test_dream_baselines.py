"""The search's model-free arms (dream.search.baselines) run in the search with the proposer interface; the
registry of arms (dream.search.arms) makes them by name and tells users' arms from ablations."""
import numpy as np
import pytest

import logo
from dream.search.arms import (ARMS, AUTO, CONSTRUCT_ARMS, MODEL_ARMS, REGISTRY, SEARCH_ARMS, TOPDOWN_ARMS, USER_ARMS, Parts,
                               make_proposer, resolve_auto)
from dream.search.baselines import (CombinedProposer, EnumProposer, GrammarProposer, NoneProposer, RandomProposer,
                                    neighbourhood)
from logo.tokens import CONTEXT_TOKENS
from dream.search.frontier import Search

TARGET_TEXT = "(loop i 4 (move ul (/ ua 4)))"
START = "(loop i 4 (move ul (/ ua 5)))"          # one numeric substitution away from the target


def target():
    return logo.render(TARGET_TEXT, 32)


def run(expand, starts=("", START), rounds=30):
    s = Search(expand, target(), logo.render(TARGET_TEXT, 28), image_size=32, starts=list(starts), batch=4)
    return s.run(budget_s=30, max_rounds=rounds)


def test_none_returns_only_start_programs():
    r = run(NoneProposer(), starts=("", "(move ul 0)"))
    assert r.n_candidates == 0
    assert r.best.step == 0 and r.best.text in r.start_texts
    assert r.n_valid == len(r.start_texts)


def test_enum_solves_a_one_substitution_target():
    r = run(EnumProposer(cap=64))
    assert r.solved and r.best.step == 1


def test_enum_walks_the_whole_neighbourhood_over_re_expansions():
    tokens = "( move ul ( / ua 4 ) )".split()
    hood = neighbourhood(tokens)
    assert len(hood) == len(set(hood)) == 3 * 14 + 3    # ul, ua, 4: 14 other leaves each; /: 3 operators
    e = EnumProposer(cap=10)
    got = []
    for _ in range(5):
        got += e(None, None, [" ".join(tokens)])[0]
    assert sorted(got) == sorted(hood)


def test_random_gives_n_candidates_and_runs_in_the_search():
    p = RandomProposer(n=5, seed=1)
    out = p(None, None, [START, ""])
    assert [len(c) for c in out] == [5, 5]
    r = run(RandomProposer(n=16, seed=0), rounds=5)
    assert r.n_candidates > 0 and r.n_valid > len(r.start_texts)


def test_grammar_candidates_parse_and_run_in_the_search():
    p = GrammarProposer(n=6, seed=0)
    out = p(None, None, [START, ""])
    assert [len(c) for c in out] == [6, 6]
    for c in out[0] + out[1]:                                    # trees whose text parses back to them
        assert isinstance(c, logo.Program) and logo.parse(logo.to_text(c)) == c
    r = run(GrammarProposer(n=16, seed=0), rounds=5)
    assert r.n_valid > len(r.start_texts)


def parts(model=None, n=16, seed=0) -> Parts:
    return Parts(model, n, 64, seed, None, CONTEXT_TOKENS)


def test_combined_and_factory():
    c = CombinedProposer(NoneProposer(), EnumProposer(cap=3))
    assert [len(x) for x in c(None, None, [START])] == [3]
    assert set(SEARCH_ARMS) | set(TOPDOWN_ARMS) | set(CONSTRUCT_ARMS) == set(ARMS) and "topdown" in TOPDOWN_ARMS
    assert not set(SEARCH_ARMS) & set(CONSTRUCT_ARMS)
    for arm in ARMS:
        if arm in MODEL_ARMS:
            with pytest.raises(ValueError, match="checkpoint"):
                make_proposer(arm, parts())
        elif arm in TOPDOWN_ARMS:                       # the enumerator is not an edit proposer: the Solver runs it
            with pytest.raises(ValueError, match="enumerates"):
                make_proposer(arm, parts())
        elif arm in CONSTRUCT_ARMS:                     # nor is construction: the Solver runs it
            with pytest.raises(ValueError, match="constructs"):
                make_proposer(arm, parts())
        else:
            assert callable(make_proposer(arm, parts()))
    with pytest.raises(ValueError, match="unknown proposer"):
        make_proposer("oracle", parts())


def test_users_see_at_most_eight_arms_and_the_ablations_stay_reachable():
    assert USER_ARMS[0] == AUTO and len(USER_ARMS) <= 8
    assert {"topdown", "grammar", "none", "model", "policy"} <= set(USER_ARMS)
    ablations = {"policy-where", "policy-what", "model-unmasked", "model+enum", "model+grammar", "policy+grammar",
                 "retrieval", "random", "enum"}
    assert not ablations & set(USER_ARMS) and ablations <= set(ARMS)     # bench/solve.py --arms reaches them
    assert len({a.name for a in REGISTRY}) == len(REGISTRY) == len(ARMS)
    assert resolve_auto(None) == "topdown" and resolve_auto("recognition") == "recognition"
    assert resolve_auto("edit") == "model" and resolve_auto("policy") == "policy"


def test_model_plus_grammar_adds_grammatical_mutations_to_the_model_scripts():
    def fake_model(images_a, images_b, programs_a):
        return [["(move ul 0)"] for _ in programs_a]
    fake_model.max_tokens = 64
    arm = make_proposer("model+grammar", parts(fake_model, n=5, seed=3))
    (cands,) = arm(None, None, [START])
    assert cands[0] == "(move ul 0)" and len(cands) == 6          # the model's, then 5 grammatical ones
    for tree in cands[1:]:                                        # every grammatical mutation is a tree
        assert isinstance(tree, logo.Program) and logo.parse(logo.to_text(tree)) == tree
    assert arm.max_tokens == 64


@pytest.mark.parametrize("proposer", ["none", "random"])
def test_logo_solve_runs_the_model_free_proposers_without_a_checkpoint(tmp_path, proposer):
    import json
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "app.cli", "solve", "--proposer", proposer, "--limit", "1",
                        "--budget", "0.5", "--enumerated-starts", "0", "--quiet", "--out", str(tmp_path)], cwd=root, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["summary"]["proposer"] == proposer
    row = res["results"][0]
    assert row["candidates"] == 0 if proposer == "none" else row["candidates"] > 0
    if proposer == "none":
        assert row["edit_steps"] == 0


def test_logo_solve_model_proposer_without_checkpoint_is_an_error(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "app.cli", "solve", "--proposer", "model", "--limit", "1",
                        "--out", str(tmp_path)], cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "needs --ckpt" in r.stderr
