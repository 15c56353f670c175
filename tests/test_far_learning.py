"""The issue's learning test: a tiny edit model trained on a handful of far-target chains beats `none`
(and an untrained copy of itself) on held-out chains of the same kind.

Chains: 12 random programs C, 10 chains each of k <= 3 grammatical drawing mutations C = A0 -> ... -> Ak
(`model.edit.steps.far_chains`, every step at most 12 token edits). Training pairs: (A_j, image A_j, image
**C**) -> the script A_j -> A_{j-1}, as the sampler's "far" kind, 400 full-batch steps.
Held out: new chains (another seed; any chain also in the training set removed) from the same programs
C: the model has to undo mutations it has not seen, steered by the target image. (Chains from unseen
programs C need far more data than a test can train on: with 43 training chains, 300 steps, the model
reached C on 7 of 24 unseen-program chains against 5 for `none` and the untrained network.)
Each held-out chain is searched from A_k toward image C for a fixed number of rounds (not a time budget,
so a loaded machine gives the same result; torch runs on one thread, seeded), with the model proposer,
the same network untrained, and the `none` arm (start program only; it "reaches" C only where A_k draws
C at the 28x28 solve size already).
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import logo
from data.generate import random_programs
from dream.search.baselines import NoneProposer
from dream.search.proposer import ModelProposer
from dream.search.frontier import Search
from model.edit.edits import edit_script
from model.edit.encoding import encode_program, encode_script
from model.edit.net import EditModel, loss_and_metrics, preset
from model.step import train_step
from model.edit.steps import far_chains, far_pairs
from model.tokenizer import Tokenizer

SIZE = 32
MARGIN = 3      # held-out chains more on which the trained model must draw closer than `none` / untrained
CONFIG = dict(image_size=SIZE, max_tokens=40, max_edits=20, d_model=48, n_heads=4, img_layers=1,
              prog_layers=1, dec_layers=1, ffn_mult=2, vocab_capacity=64)


def targets(n: int, seed: int = 1) -> list[str]:
    return [logo.to_text(p) for p in random_programs(n, seed=seed, p_call=0, max_tokens=20, max_statements=2,
                                                     max_depth=1)]


def chains(programs, seed: int, repeats: int = 1, kinds=None):
    return far_chains(list(programs) * repeats, random.Random(seed), max_k=3, size=SIZE, max_tokens=30,
                      max_step_edits=12, kinds=kinds)


def far_batch(train_chains, tokenizer, config) -> dict:
    """Every step back of every chain, shown image A_j and image C (the far target)."""
    rows = {k: [] for k in ("a_ids", "depth", "a_len", "e_type", "e_tok", "e_pos")}
    images = []
    for c in train_chains:
        for a, b, j in far_pairs(c):
            enc = encode_program(tokenizer, a, config.max_tokens)
            script = encode_script(tokenizer, edit_script(a, b), config.max_edits)
            if enc is None or script is None:
                continue
            for key, v in zip(("a_ids", "depth", "a_len", "e_type", "e_tok", "e_pos"), (*enc, *script)):
                rows[key].append(v)
            images.append(np.stack([c.images[j], c.images[0]]))
    L = max(rows["a_len"]) + 1
    T = int(max((np.asarray(t) >= 0).sum() for t in rows["e_type"]))
    cut = {"a_ids": L, "depth": L, "e_type": T, "e_tok": T, "e_pos": T}
    out = {k: torch.from_numpy(np.stack(v)[:, :cut[k]].astype(np.int64)) if k in cut
           else torch.tensor(v, dtype=torch.int64) for k, v in rows.items()}
    out["images"] = torch.from_numpy(np.stack(images))
    return out


def train(batch, tokenizer, steps: int, seed: int = 0):
    torch.manual_seed(seed)
    model = EditModel(preset("tiny", **CONFIG), len(tokenizer))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        loss = train_step(model, opt, batch, loss_fn=loss_and_metrics)["loss"]
    return model.eval(), float(loss)


def search_all(expand, held, rounds: int = 3, seed: int = 0):
    """(reached C, drew closer to C than A_k) counts over the held-out chains."""
    reached = closer = 0
    for i, c in enumerate(held):
        torch.manual_seed(seed + i)
        s = Search(expand, c.images[0], image_size=SIZE, starts=[c.programs[-1]], batch=4, max_tokens=30)
        start = s.best.distance
        r = s.run(budget_s=1e9, stop_on_solve=True, max_rounds=rounds)
        reached += r.solved
        closer += r.solved or r.best.distance < start - 1e-9
    return reached, closer


@pytest.mark.slow
def test_tiny_model_trained_on_far_chains_beats_none_on_held_out_chains():
    """About 2 minutes on an idle core (400 steps on 150 pairs); 10 minutes on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        progs = targets(12)
        train_chains = chains(progs, seed=1, repeats=10)
        seen = {tuple(c.programs) for c in train_chains}
        held = [c for c in chains(progs, seed=2, repeats=2) if tuple(c.programs) not in seen]
        assert len(held) >= 12
        tok = Tokenizer()
        batch = far_batch(train_chains, tok, preset("tiny", **CONFIG))
        model, loss = train(batch, tok, steps=400)
        assert loss < 0.1
        untrained, _ = train(batch, tok, steps=0)
        # the model's own scripts, decoded freely: under the grammar's masks (the default) even the untrained
        # network's random scripts become grammatical mutations (measured: both reach 11 of 18 chains), which
        # would hide what training taught it
        got = {name: search_all(ModelProposer(m, tok, samples=16, max_edits=12, grammatical=False), held, rounds=5)
               for name, m in (("model", model), ("untrained", untrained))}
        got["none"] = search_all(NoneProposer(), held, rounds=5)
        # measured (this seed, one thread): reached C 3 / 2 / 2, drew closer 7 / 2 / 2 of 18 chains
        # (model / untrained / none)
        assert got["model"][0] > max(got["none"][0], got["untrained"][0]), got
        assert got["model"][1] >= got["none"][1] + MARGIN, got
        assert got["model"][1] >= got["untrained"][1] + MARGIN, got
    finally:
        torch.set_num_threads(threads)
