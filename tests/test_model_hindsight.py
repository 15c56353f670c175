"""Dream hindsight pairs (model.edit.hindsight), target noise (model.edit.target_noise), background step pairs and
the proposal length cap."""
import json
import random

import numpy as np
import pytest

import logo
from data.generate import random_programs
from data.memory import MemorySource
from model.edit.edits import apply_edits, edit_script
from model.edit.hindsight import HindsightReader, decode_image, encode_image, parse_record
from model.edit.pairs import PairSampler
from model.edit.steps import far_chains, parses
from model.edit.target_noise import jitter
from model.tokenizer import Tokenizer, program_tokens

PATH = ["", "(move ul 0)", "(move ul 0) (move ul (/ ua 4))", "(move ul 0) (loop i 4 (move ul (/ ua 4)))"]


def record(path, solved, target=None, name="t"):
    rec = {"event": "target", "target": name, "solved": solved, "path": path}
    if target is not None:
        rec["target_image"] = encode_image(target)
    return json.dumps(rec) + "\n"


def test_image_codec_round_trips_and_rejects_garbage():
    img = logo.render(PATH[-1], 32)
    assert np.array_equal(decode_image(encode_image(img)), img)
    with pytest.raises(ValueError, match="target image"):
        decode_image({"size": 32, "data": "not base64!"})
    with pytest.raises(ValueError, match="bytes for size"):
        decode_image(encode_image(img) | {"size": 31})


def test_reader_follows_a_growing_log_and_waits_for_a_half_written_line(tmp_path):
    log = tmp_path / "found.jsonl"
    reader = HindsightReader(log)
    assert reader.read() == []                                  # no log yet: nothing, no error
    log.write_text('{"event": "start"}\n' + record(PATH, False) + "not json\n")
    got = reader.read()
    assert len(got) == 1 and got[0].programs == PATH and reader.bad_lines == 1
    with open(log, "a") as f:
        f.write(record(PATH[:2], True)[:20])                    # half a line: not read yet
    assert reader.read() == []
    with open(log, "a") as f:
        f.write(record(PATH[:2], True)[20:])
    got = reader.read()
    assert len(got) == 1 and got[0].solved and reader.read() == []
    assert parse_record({"event": "target", "path": [""]}) is None     # no step: no path


def test_sampler_turns_logged_paths_into_valid_steps_toward_best_and_solved_target(tmp_path):
    log = tmp_path / "found.jsonl"
    target = logo.render("(move ul 0) (loop i 4 (move ul (/ ua 4))) (move 1 0)", 32)   # differs from best
    log.write_text(record(PATH, False, target, "unsolved") + record(PATH[:3], True, target, "solved"))
    src = MemorySource(random_programs(40, seed=0, p_call=0), image_size=32)
    s = PairSampler(src, Tokenizer(), heldout=0.0, mutations_per_refresh=8, far_chains=4, hindsight=log)
    while s.refresh() > 0:
        pass
    # unsolved: 3 steps toward best's image; solved: 2 steps toward best's and 2 toward the target's
    assert s.counts("train")["hindsight"] == 3 + 2 + 2
    b = s.batch(64, "train", kinds=["hindsight"])
    goals = {bytes(g) for g in b["images"][:, 1].numpy().reshape(len(b["b_entry"]), -1)}
    assert bytes(logo.render(PATH[-1], 32).ravel()) in goals and bytes(target.ravel()) in goals
    for a, script in zip(s.a_tokens(b), s.target_scripts(b)):
        assert parses(a) and parses(apply_edits(a, script))        # valid program -> valid program
    with open(log, "a") as f:                                       # a dreamer appends: the sampler follows
        f.write(record(PATH[1:3], False))
    s.refresh()
    assert s.counts("train")["hindsight"] == 8


def test_target_noise_jitters_training_targets_only():
    rng = np.random.default_rng(0)
    imgs = np.stack([logo.render(p, 32) for p in PATH[1:]] * 10)
    assert np.array_equal(jitter(imgs, rng, 0.0), imgs)
    out = jitter(imgs, rng, 1.0)
    assert out.shape == imgs.shape and out.dtype == np.uint8
    assert all(not np.array_equal(a, b) for a, b in zip(out, imgs))    # every image changed
    src = MemorySource(random_programs(80, seed=1, p_call=0), image_size=32)
    s = PairSampler(src, Tokenizer(), heldout=0.5, mutations_per_refresh=16, far_chains=8, target_noise=1.0)
    while s.refresh() > 0:
        pass
    s.nrng = np.random.default_rng(5)
    noisy = s.batch(32, "train", kinds=["denovo"])
    s.nrng = np.random.default_rng(5)
    clean = s.gather(s.sample_indices(32, "train", kinds=["denovo"]))
    assert not np.array_equal(noisy["images"][:, 1].numpy(), clean["images"][:, 1].numpy())
    assert np.array_equal(noisy["images"][:, 0].numpy(), clean["images"][:, 0].numpy())   # A's image untouched
    s.nrng = np.random.default_rng(6)
    held = s.batch(32, "heldout", kinds=["denovo"])
    s.nrng = np.random.default_rng(6)
    held_clean = s.gather(s.sample_indices(32, "heldout", kinds=["denovo"]))
    assert np.array_equal(held["images"].numpy(), held_clean["images"].numpy())


def test_background_sampler_makes_the_step_kinds_off_the_main_thread():
    src = MemorySource(random_programs(120, seed=2, p_call=0), image_size=32)
    s = PairSampler(src, Tokenizer(), heldout=0.0, mutations_per_refresh=32, far_chains=32)
    s.start_background()
    try:
        while s.refresh() > 0:
            pass
        for _ in range(200):                     # later refreshes commit the worker's finished batches
            s._steps_future.result(timeout=120)
            s.refresh()
            c = s.counts("train")
            if c["far"] and c["prefix"]:
                break
        assert c["far"] > 0 and c["prefix"] > 0
    finally:
        s.close()


def test_far_chain_steps_respect_the_step_cap():
    progs = [logo.to_text(p) for p in random_programs(40, seed=3, p_call=0)]
    for c in far_chains(progs, random.Random(0), max_k=4, max_step_edits=6):
        toks = [program_tokens(t) for t in c.programs]
        assert all(len(edit_script(a, b)) <= 6 for a, b in zip(toks, toks[1:]))


def test_model_proposals_are_capped_at_max_edits():
    import torch
    from dream.search.proposer import ModelProposer
    from model.edit.net import EditModel, preset
    tok = Tokenizer()
    torch.manual_seed(0)
    model = EditModel(preset("tiny", d_model=32, n_heads=2, img_layers=1, prog_layers=1, dec_layers=1), len(tok))
    a = "(move ul 0) (loop i 4 (move ul (/ ua 4)))"
    img = logo.render(a, 32)
    free = ModelProposer(model.eval(), tok, samples=8, max_edits=3, grammatical=False)
    out = free(img[None], img[None], [a])[0]
    assert out
    for text in out:
        assert len(edit_script(program_tokens(a), text.split())) <= 3
    # under the grammar's masks the script is capped the same way; a script the cap cut unfinished is
    # finished by repair, which may add the tokens it needs (and only those programs go past the cap)
    prop = ModelProposer(model.eval(), tok, samples=8, max_edits=3)
    out = prop(img[None], img[None], [a])[0]
    assert out and prop.proposed == len(out)
    far = [t for t in out if len(edit_script(program_tokens(a), t.split())) > 3]
    assert len(far) <= prop.repaired
    for text in out:
        logo.parse(text)
    with pytest.raises(ValueError, match="max_edits"):
        ModelProposer(model, tok, max_edits=0)
