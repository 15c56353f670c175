"""The edit network: it overfits a few dozen pairs, decodes well-formed scripts, saves and loads."""
import numpy as np
import pytest
import torch

import data
import logo
from model import checkpoint
from data.memory import MemorySource
from model.edit.pairs import PairSampler
from model.edit.edits import apply_edits, check_script
from model.edit.generate import propose, propose_programs
from model.edit.net import EditModel, loss_and_metrics, preset
from model.step import train_step
from model.tokenizer import Tokenizer

torch.set_num_threads(1)
MICRO = dict(d_model=64, n_heads=4, img_layers=1, prog_layers=1, dec_layers=2, ffn_mult=2, max_edits=40)


@pytest.fixture(scope="module")
def sampler():
    progs = [t.program for t in data.dreamcoder_tasks()]
    src = MemorySource(progs, image_size=32)
    s = PairSampler(src, Tokenizer(), max_tokens=96, max_edits=40, max_dist=6, seed=0, mutations_per_refresh=400)
    s.refresh()
    return s


def test_sampler_builds_all_kinds_of_pairs_whose_targets_turn_a_into_b(sampler):
    counts = sampler.counts("train")
    assert all(counts[k] > 0 for k in ("edit", "denovo", "mutation")), counts
    assert sum(sampler.counts("heldout").values()) > 0
    for kind in ("edit", "denovo", "mutation"):
        b = sampler.batch(16, kinds=[kind])
        for a, s, eid, img_b in zip(sampler.a_tokens(b), sampler.target_scripts(b), b["b_entry"], b["images"][:, 1]):
            out = apply_edits(a, s)
            assert out == sampler.entry_tokens[int(eid)]
            assert (logo.render(" ".join(out), 32) == img_b.numpy()).all()
            if kind == "denovo":
                assert a == []
            else:
                assert 1 <= len(s) <= 6


def test_model_overfits_a_few_dozen_pairs(sampler):
    torch.manual_seed(0)
    tok = sampler.tok
    model = EditModel(preset("tiny", **MICRO), len(tok))
    batch = sampler.batch(32, kinds=["edit", "mutation"])
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3)
    first = None
    for step in range(220):
        loss = train_step(model, opt, batch, clip=1.0, loss_fn=loss_and_metrics)["loss"]
        first = float(loss) if first is None else first
    assert float(loss) < 0.2 * first
    got = propose(model, tok, batch["images"][:, 0].numpy(), batch["images"][:, 1].numpy(),
                  sampler.a_tokens(batch), n=1, temperature=0)
    want = sampler.target_scripts(batch)
    exact = np.mean([g[0] == w for g, w in zip(got, want)])
    assert exact >= 0.8, exact


def test_propose_gives_well_formed_scripts_even_untrained():
    tok = Tokenizer()
    torch.manual_seed(1)
    model = EditModel(preset("tiny", **MICRO), len(tok)).eval()
    tasks = data.dreamcoder_tasks()[:6]
    imgs = np.stack([t.image for t in tasks])
    progs = [t.program for t in tasks[::-1]]
    out = propose(model, tok, imgs[::-1], imgs, progs, n=5, temperature=1.5, seed=0, max_edits=12)
    assert len(out) == 6 and all(len(x) == 5 for x in out)
    for p, scripts in zip(progs, out):
        a = tok.tokens(p)
        for s in scripts:
            check_script(len(a), s)          # raises if malformed
            assert all(e.token is None or e.token in tok for e in s)
    empty = propose(model, tok, imgs[:2] * 0, imgs[:2], ["", None], n=2, temperature=1.0, seed=0, max_edits=8)
    assert all(e.op == "insert" and e.pos == 0 for ss in empty for s in ss for e in s)
    texts = propose_programs(model, tok, imgs[:2], imgs[:2], progs[:2], n=1, temperature=0)
    assert len(texts) == 2 and all(isinstance(t[0], str) for t in texts)


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    tok = Tokenizer()
    tok.add(["myproc"])
    model = EditModel(preset("tiny", **MICRO), len(tok))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = sum(p.sum() for p in model.parameters())
    loss.backward()
    opt.step()
    assert checkpoint.load_latest(tmp_path) is None
    checkpoint.save(tmp_path, model, tok, step=7, optimizer=opt, meta={"note": "x"})
    path = checkpoint.save(tmp_path, model, tok, step=12, optimizer=opt)
    state = torch.load(path, weights_only=True)
    assert state["step"] == 12 and state["vocab"][-1] == "myproc" and state["optimizer"] is not None
    m2, tok2, meta = checkpoint.load_latest(tmp_path)
    assert meta["step"] == 12 and tok2.vocab == tok.vocab and m2.vocab_size == len(tok)
    for (k, v), (k2, v2) in zip(model.state_dict().items(), m2.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert not list(tmp_path.glob("*.tmp"))


def test_default_preset_is_about_ten_million_parameters():
    n = EditModel(preset("default"), len(Tokenizer())).n_params()
    assert 8e6 <= n <= 13e6
    assert 2e5 <= EditModel(preset("tiny"), len(Tokenizer())).n_params() <= 1.2e6


def test_incremental_decoding_matches_the_full_decoder():
    torch.manual_seed(0)
    m = EditModel(preset("tiny", **MICRO), len(Tokenizer())).eval()
    B, L, T = 3, 20, 6
    images = torch.randint(0, 255, (B, 2, 32, 32), dtype=torch.uint8)
    ids, lens = torch.randint(4, 40, (B, L)), torch.tensor([19, 10, 5])
    depth = torch.zeros(B, L, dtype=torch.long)
    ty, tk, ps = torch.randint(0, 4, (B, T)), torch.randint(4, 40, (B, T)), torch.randint(0, 5, (B, T))
    with torch.no_grad():
        mem, mem_mask, slots, _ = m.encode(images, ids, lens, depth)
        full = m.decode(m.decoder_inputs(slots, ty, tk, ps), mem, mem_mask)
        caches, steps = m.start_cache(mem), []
        for t in range(T):
            x = m.step_input(slots, t, ty[:, t - 1], tk[:, t - 1], ps[:, t - 1]) if t else m.step_input(slots, 0)
            steps.append(m.decode_step(x, caches, mem_mask))
    assert torch.allclose(full, torch.cat(steps, 1), atol=1e-4)
