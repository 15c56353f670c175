"""The edit decoder under the grammar (`model.edit.grammar`, issue 19 item 5): the masks are exact (a script
that keeps to them and ends where FIN is allowed gives a program that parses; every script whose program
parses keeps to them), `repair` always finishes a program, and the model proposer's programs all parse
while the free decoder's (`model-unmasked`) need not."""
import random

import numpy as np
import pytest

import data
import logo
from data.generate import random_programs
from dream.search.arms import Parts, make_proposer
from dream.search.proposer import ModelProposer
from logo.canonical import canonical
from model.edit.grammar import ScriptGrammar
from model.edit.edits import DELETE, INSERT, SUBSTITUTE, Edit, apply_edits, edit_script
from model.tokenizer import Tokenizer, canonical_text

def _parts(model) -> Parts:
    """What the solver makes an arm of, around `model` (the checkpoint's proposer)."""
    from logo.tokens import CONTEXT_TOKENS
    return Parts(model, 16, 64, 0, None, CONTEXT_TOKENS)


PROGRAMS = [logo.to_text(canonical(p)) for p in random_programs(120, seed=5)] + \
    [logo.to_text(canonical(t.program)) for t in data.dreamcoder_tasks()]


@pytest.fixture(scope="module")
def sg():
    tok = Tokenizer()
    return tok, ScriptGrammar(tok)


def _parses(tokens) -> bool:
    try:
        canonical_text(" ".join(tokens))
        return True
    except (logo.LogoError, ValueError):
        return False


def test_every_task_and_generated_program_is_accepted_whole(sg):
    tok, g = sg
    for text in PROGRAMS:
        mids, fin = g.row(g.ids(tok.tokens(text))).options()
        assert fin and min(mids) >= 0, text
    for bad in ["( move ul", "( move ua 0 )", "( move i 0 )", ") ( move 1 0 )", "( loop i 3 )"]:
        assert not g.row(g.ids(bad.split())).options()[1], bad     # unfinished, an angle for a length, ...


def test_a_script_whose_program_parses_keeps_to_the_masks_at_every_step(sg):
    """Completeness: the masks never forbid an edit on the way to a grammatical program."""
    tok, g = sg
    rng = random.Random(0)
    for _ in range(300):
        a, b = (tok.tokens(rng.choice(PROGRAMS)) for _ in range(2))
        row = g.row(g.ids(a))
        for e in edit_script(a, b):
            mids, _ = row.options()
            assert mids[e.pos] >= 0
            if e.op != DELETE:
                assert g.masks[mids[e.pos]][tok.index[e.token]], (a, b, e)
            row.apply(e.op, tok.index.get(e.token, 0), e.pos)
        assert row.options()[1]                              # FIN allowed: the rest of A finishes B


def test_random_scripts_that_keep_to_the_masks_give_programs_that_parse(sg):
    """Soundness: any walk through allowed (action, position) pairs that ends where FIN is allowed parses."""
    tok, g = sg
    rng = np.random.default_rng(1)
    finished = 0
    for trial in range(400):
        a = tok.tokens(PROGRAMS[trial % len(PROGRAMS)])
        row, script = g.row(g.ids(a)), []
        for _ in range(12):
            mids, fin = row.options()
            if fin and rng.random() < 0.3:
                break
            choices = []
            for p, m in enumerate(mids):
                if m < 0:
                    continue
                allowed = np.flatnonzero(g.masks[m])
                for t in rng.choice(allowed, min(3, len(allowed)), replace=False):
                    choices.append((INSERT, p, int(t)))
                    if p < len(a):
                        choices.append((SUBSTITUTE, p, int(t)))
                if p < len(a):
                    choices.append((DELETE, p, None))
            op, p, t = choices[int(rng.integers(len(choices)))]
            row.apply(op, t, p)
            script.append(Edit(op, p, None if t is None else tok.vocab[t]))
        if not row.options()[1]:
            continue
        finished += 1
        out = apply_edits(a, script)
        assert _parses(out), (" ".join(a), script, " ".join(out))
    assert finished > 100


def test_repair_finishes_any_token_sequence(sg):
    tok, g = sg
    rng = np.random.default_rng(2)
    words = [t for t in tok.vocab if not t.startswith("<")]
    for n in range(300):
        garbage = [words[i] for i in rng.integers(0, len(words), int(rng.integers(0, 40)))]
        ids, changed = g.repair(g.ids(garbage))
        assert _parses(tok.decode(ids)), garbage
        assert changed == (ids != g.ids(garbage)) or not _parses(garbage)
    good = tok.tokens(PROGRAMS[0])
    assert g.repair(g.ids(good)) == (g.ids(good), False)


def _tiny_edit_model():
    from model.edit.net import EditModel, preset
    tok = Tokenizer()
    config = preset("tiny", image_size=32, max_tokens=64, max_edits=24, d_model=32, n_heads=2, img_layers=1,
                    prog_layers=1, dec_layers=1, ffn_mult=2)
    return EditModel(config, len(tok)).eval(), tok


def test_the_model_proposer_writes_only_programs_that_parse_and_the_free_one_does_not():
    import torch
    torch.manual_seed(0)
    model, tok = _tiny_edit_model()                          # untrained: the hardest case for the masks
    grammatical = ModelProposer(model, tok, "cpu", samples=8, temperatures=(1.0,), beam=4, max_edits=12)
    free = make_proposer("model-unmasked", _parts(grammatical))
    starts = PROGRAMS[:6]
    imgs = np.zeros((len(starts), 32, 32), np.uint8)
    got = {"model": grammatical(imgs, imgs, starts), "model-unmasked": free(imgs, imgs, starts)}
    share = {arm: np.mean([_parses(c.split()) for cs in out for c in cs]) for arm, out in got.items()}
    assert sum(map(len, got["model"])) >= 6 * 8
    assert share["model"] == 1.0
    assert share["model-unmasked"] < 0.5              # an untrained free decoder rarely writes a program
    assert free.grammar is None and grammatical.proposed >= 6 * 8
    assert grammatical.repaired < grammatical.proposed      # the masks, not repair, finish some of them


def test_model_free_needs_an_edit_model():
    from dream.search.policy import PolicyArms
    from model.policy.net import PolicyModel, preset
    tok = Tokenizer()
    config = preset("tiny", image_size=32, max_tokens=48, max_content=16, d_model=32, n_heads=2, img_layers=1,
                    prog_layers=1, dec_layers=1, ffn_mult=2)
    with pytest.raises(ValueError, match="edit model"):
        make_proposer("model-unmasked", _parts(PolicyArms(PolicyModel(config, len(tok)).eval(), tok, k=4)))
