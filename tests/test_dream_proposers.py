"""The `dream.search.frontier.Proposer` protocol: every arm implements it, `max_tokens` is the model's context (the
checkpoint's config, else `logo.tokens.CONTEXT_TOKENS`), and `reset()` forgets per-target state."""
import numpy as np
import pytest

import logo
from dream import Proposer, SearchSettings, Solver
from dream.search.arms import MODEL_ARMS, POLICY_ARMS, SEARCH_ARMS, Parts, make_proposer
from dream.search.baselines import CombinedProposer, EnumProposer, NoneProposer
from dream.search.policy import PolicyArms
from dream.search.proposer import ModelProposer
from dream.search.frontier import Search
from logo.tokens import CONTEXT_TOKENS

START = "(loop i 4 (move ul (/ ua 5)))"
CONTEXT = 48                                   # the tiny model's context: not the default, so it is read


def _model():
    from model.edit.net import EditModel, preset
    from model.tokenizer import Tokenizer
    tok = Tokenizer()
    config = preset("tiny", image_size=32, max_tokens=CONTEXT, max_edits=24, d_model=32, n_heads=2, img_layers=1,
                    prog_layers=1, dec_layers=1, ffn_mult=2)
    return EditModel(config, len(tok)).eval(), tok


def _policy():
    from model.policy.net import PolicyModel, preset
    from model.tokenizer import Tokenizer
    tok = Tokenizer()
    config = preset("tiny", image_size=32, max_tokens=CONTEXT, max_content=16, d_model=32, n_heads=2, img_layers=1,
                    prog_layers=1, dec_layers=1, ffn_mult=2)
    return PolicyModel(config, len(tok)).eval(), tok


@pytest.fixture(scope="module")
def policy_arms():
    model, tok = _policy()
    return PolicyArms(model, tok, k=6)


@pytest.fixture(scope="module")
def model_proposer():
    model, tok = _model()
    return ModelProposer(model, tok, "cpu", samples=1, temperatures=(), beam=2)


@pytest.fixture
def beam_calls(monkeypatch):
    """The programs of every `model.edit.generate.beam_propose` call (the real one still runs)."""
    import model.edit.generate as generate
    calls, real = [], generate.beam_propose

    def counting(model, tokenizer, images_a, images_b, programs_a, beam, **kw):
        calls.append(list(programs_a))
        return real(model, tokenizer, images_a, images_b, programs_a, beam, **kw)
    monkeypatch.setattr(generate, "beam_propose", counting)
    return calls


def _parts(model) -> Parts:
    return Parts(model, 16, 64, 0, None, CONTEXT_TOKENS)


def _images(n=1):
    return np.zeros((n, 32, 32), np.uint8), np.repeat(logo.render(START, 32)[None], n, 0)


def test_every_arm_is_a_proposer_with_the_models_context(model_proposer, policy_arms):
    assert set(MODEL_ARMS) < set(SEARCH_ARMS) and set(POLICY_ARMS) < set(MODEL_ARMS)
    for arm in SEARCH_ARMS:
        model = policy_arms if arm in POLICY_ARMS else model_proposer if arm in MODEL_ARMS else None
        p = make_proposer(arm, _parts(model))
        assert isinstance(p, Proposer), arm
        if arm in MODEL_ARMS:
            assert p.max_tokens == CONTEXT, arm                    # the checkpoint's config, not a default
        else:
            assert p.max_tokens == CONTEXT_TOKENS, arm
        got = p(*_images(2), [START, ""])
        assert len(got) == 2 and all(isinstance(c, list) for c in got), arm
        p.reset()
    assert not isinstance(lambda a, b, c: [[]], Proposer)          # a plain callable is not one
    assert CombinedProposer(NoneProposer(max_tokens=70), EnumProposer(max_tokens=60)).max_tokens == 60


def test_the_search_does_not_expand_programs_longer_than_the_proposers_context():
    long = " ".join(["(move ul 0)"] * 8)                          # 40 tokens
    seen = []

    class Recording(NoneProposer):
        def __call__(self, images_a, images_b, programs_a):
            seen.extend(programs_a)
            return super().__call__(images_a, images_b, programs_a)
    target = logo.render(START, 32)
    Search(Recording(max_tokens=30), target, starts=["", long], batch=8).run(budget_s=5, max_rounds=1)
    assert seen == [""]                                            # scored, but not expanded
    seen.clear()
    Search(Recording(max_tokens=CONTEXT_TOKENS), target, starts=["", long], batch=8).run(budget_s=5, max_rounds=1)
    assert len(seen) == 2 and "" in seen


def test_a_model_proposer_beams_a_program_again_after_reset(model_proposer, beam_calls):
    model_proposer.reset()
    model_proposer(*_images(), [START])
    model_proposer(*_images(), [START])
    assert beam_calls == [[START]]                  # beam search is deterministic: once per (program, target)
    model_proposer.reset()
    model_proposer(*_images(), [START])
    assert beam_calls == [[START], [START]]         # forgotten: a new search beams it again
    combined = make_proposer("model+enum", _parts(model_proposer))
    combined(*_images(), [START])
    assert len(beam_calls) == 2
    combined.reset()                                # resets its parts, the model among them
    combined(*_images(), [START])
    assert len(beam_calls) == 3


def test_enum_starts_each_neighbourhood_again_after_reset():
    e = EnumProposer(cap=3)
    first = e(None, None, [START])[0]
    assert e(None, None, [START])[0] != first       # a re-expansion continues where it stopped
    e.reset()
    assert e(None, None, [START])[0] == first


def test_the_solver_resets_the_shared_model_proposer_for_every_target(tmp_path, beam_calls):
    from model import checkpoint
    model, tok = _model()
    checkpoint.save(tmp_path / "ckpt", model, tok, step=0)
    s = Solver.open(["model", "model+grammar", "random"], ckpt=str(tmp_path / "ckpt"),
                    settings=SearchSettings(samples=1, beam=2))
    assert s.max_tokens == CONTEXT
    for arm in SEARCH_ARMS:                         # every arm searches within the model's context
        if arm not in POLICY_ARMS:                  # (those need a policy checkpoint: below)
            assert s.proposer(arm).max_tokens == CONTEXT, arm
    for arm in ("model", "model+grammar"):
        for _ in range(2):
            before = len(beam_calls)
            s.proposer(arm)(*_images(), [START])
            assert len(beam_calls) == before + 1, arm
    assert Solver.open(["none"]).proposer("enum").max_tokens == CONTEXT_TOKENS


def test_a_policy_checkpoint_serves_the_policy_arms_and_the_model_arms(tmp_path):
    from dream.search.solver import SolveError
    from model import checkpoint
    model, tok = _policy()
    checkpoint.save(tmp_path / "policy", model, tok, step=0)
    s = Solver.open(["policy", "model", "policy-where"], ckpt=str(tmp_path / "policy"),
                    settings=SearchSettings(policy_k=5, policy_eps=0.2))
    assert s.watcher.kind == "policy" and s.max_tokens == CONTEXT
    for arm in POLICY_ARMS + ("model", "model+grammar", "model+enum"):
        p = s.proposer(arm, seed=1)
        assert p.max_tokens == CONTEXT, arm
        cands = p(*_images(2), [START, ""])
        assert all(len(c) >= 5 for c in cands), arm
        for c in cands[0] + cands[1]:
            logo.parse(c if isinstance(c, str) else logo.to_text(c))
    assert len(s.proposer("policy+grammar")(*_images(), [START])[0]) == 10       # K policy edits + K grammatical
    edit_model, edit_tok = _model()
    checkpoint.save(tmp_path / "edit", edit_model, edit_tok, step=0)
    with pytest.raises(SolveError, match="needs a policy checkpoint"):
        Solver.open(["policy"], ckpt=str(tmp_path / "edit"))
