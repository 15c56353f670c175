"""Beam search on the decoder's key/value cache gives what a full re-decode at every step gives."""
import numpy as np
import pytest
import torch

import logo
from model.encoding import decode_script
from model.generate import action_mask, beam_propose, beam_search, encode_programs, split_actions
from model.network import FIN, INS, EditModel, ModelConfig
from model.tokenizer import Tokenizer

_INVALID = -1e30


@torch.no_grad()
def reference_beam(core, tokenizer, images_a, images_b, programs_a, beam, n, action_top=4, pos_top=3):
    """The straightforward beam search: re-runs the whole decoder over the prefix at every step."""
    core.eval()
    cfg = core.config
    max_edits = cfg.max_edits
    B, W, C = len(programs_a), beam, cfg.vocab_capacity
    _, ids, deps, lens, ok = encode_programs(tokenizer, programs_a, cfg.max_tokens)
    ia = torch.as_tensor(np.asarray(images_a), dtype=torch.uint8)
    ib = torch.as_tensor(np.asarray(images_b), dtype=torch.uint8)
    mem, mem_mask, slots, slot_ok = core.encode(torch.stack([ia, ib], 1), ids, lens, deps)
    mem, mem_mask, slots, slot_ok, a_len = (x.repeat_interleave(W, 0) for x in (mem, mem_mask, slots, slot_ok, lens))
    BW = B * W
    types = torch.full((BW, max_edits + 1), -1, dtype=torch.int64)
    toks = torch.zeros_like(types)
    poss = torch.zeros_like(types)
    min_pos = torch.zeros(BW, dtype=torch.int64)
    score = torch.full((BW,), float("-inf"))
    score[::W] = 0.0
    finished = [[] for _ in range(B)]
    slot_idx = torch.arange(slots.shape[1])
    neg = torch.finfo(torch.float32).min
    A = min(action_top, 2 + 2 * C)
    for t in range(max_edits + 1):
        if not bool(torch.isfinite(score).any()):
            break
        x = core.decoder_inputs(slots, torch.cat([types[:, :t], types[:, :1]], 1),
                                torch.cat([toks[:, :t], toks[:, :1]], 1), torch.cat([poss[:, :t], poss[:, :1]], 1))
        h = core.decode(x, mem, mem_mask)[:, -1]
        logits = core.action_logits(h).float()
        lp_a = torch.log_softmax(logits.masked_fill(action_mask(logits, min_pos, a_len, t == max_edits), neg), -1)
        top_lp_a, top_a = lp_a.topk(A, -1)
        a_type, a_tok = split_actions(top_a, C)
        limit = torch.where(a_type == INS, a_len[:, None], a_len[:, None] - 1)
        ok_pos = (slot_ok[:, None, :] & (slot_idx[None, None] >= min_pos[:, None, None])
                  & (slot_idx[None, None] <= limit[..., None]))
        pl = core.pointer_logits(h[:, None].expand(-1, A, -1), slots, slot_ok, a_type, a_tok).float()
        lp_p = torch.log_softmax(pl.masked_fill(~ok_pos, neg), -1)
        P = min(pos_top, lp_p.shape[-1])
        top_lp_p, top_p = lp_p.topk(P, -1)
        is_fin = (a_type == FIN)[..., None]
        first = torch.zeros(P, dtype=torch.bool)
        first[0] = True
        top_lp_p = torch.where(is_fin, torch.where(first, 0.0, float("-inf")), top_lp_p)
        top_p = torch.where(is_fin, 0, top_p)
        bad = (top_lp_a < _INVALID)[..., None] | (top_lp_p < _INVALID)
        cand = (score[:, None, None] + top_lp_a[..., None] + top_lp_p).masked_fill(bad, float("-inf"))
        cand = cand.reshape(B, W * A * P)
        order = cand.argsort(-1, descending=True).numpy()
        new = []
        for b in range(B):
            kept = 0
            for flat in order[b]:
                s = float(cand[b, flat])
                if not np.isfinite(s) or kept >= W:
                    break
                w, rest = divmod(int(flat), A * P)
                ai, pi = divmod(rest, P)
                row = b * W + w
                ty = int(a_type[row, ai])
                if ty == FIN:
                    if len(finished[b]) < n:
                        finished[b].append((s, decode_script(tokenizer, types[row, :t].tolist(),
                                                             toks[row, :t].tolist(), poss[row, :t].tolist())))
                    continue
                new.append((row, ty, int(a_tok[row, ai]), int(top_p[row, ai, pi]), b * W + kept, s))
                kept += 1
        if all(len(f) >= n for f in finished) or not new:
            break
        src = torch.arange(BW)
        dst = torch.tensor([r[4] for r in new])
        src[dst] = torch.tensor([r[0] for r in new])
        types, toks, poss, min_pos = types[src].clone(), toks[src].clone(), poss[src].clone(), min_pos[src].clone()
        score = torch.full((BW,), float("-inf"))
        score[dst] = torch.tensor([r[5] for r in new])
        ty_t, ps_t = torch.tensor([r[1] for r in new]), torch.tensor([r[3] for r in new])
        types[dst, t], toks[dst, t], poss[dst, t] = ty_t, torch.tensor([r[2] for r in new]), ps_t
        min_pos[dst] = torch.where(ty_t == INS, ps_t, ps_t + 1)
    return [sorted(f, key=lambda x: -x[0]) if ok[b] else [] for b, f in enumerate(finished)]


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    tok = Tokenizer()
    cfg = ModelConfig(image_size=16, patch=4, d_model=32, n_heads=2, img_layers=1, prog_layers=1, dec_layers=2,
                      max_tokens=24, max_edits=10, vocab_capacity=len(tok) + 8)
    model = EditModel(cfg, len(tok))
    with torch.no_grad():                   # spread the scores so that no two hypotheses tie
        for p in model.parameters():
            p.normal_(0, 0.4)
    return model.double(), tok


def test_cached_beam_matches_full_recompute(random_model):
    model, tok = random_model
    torch.set_num_threads(1)
    progs = ["(move 1 0)", "", "(loop i 3 (move ul (/ ua 3)))", "(move (* 2 ul) ua) (move 1 0)"]
    rng = np.random.default_rng(0)
    ia = (rng.random((4, 16, 16)) < 0.2).astype(np.uint8) * 255
    ib = (rng.random((4, 16, 16)) < 0.2).astype(np.uint8) * 255
    for beam, n in ((4, 4), (3, 6)):
        got = beam_search(model, tok, ia, ib, progs, beam=beam, n=n)
        want = reference_beam(model, tok, ia, ib, progs, beam, n)
        assert sum(len(w) for w in want) > 4          # the comparison compares something
        assert [[s for _, s in g] for g in got] == [[s for _, s in w] for w in want]
        for g, w in zip(got, want):
            assert [x for x, _ in g] == pytest.approx([x for x, _ in w], rel=1e-5, abs=1e-5)
            assert all(a >= b for (a, _), (b, _) in zip(g, g[1:]))      # best first


def test_beam_propose_gives_distinct_well_formed_scripts(random_model):
    from model.edits import apply_edits
    model, tok = random_model
    progs = ["(move 1 0)", ""]
    img = np.stack([logo.render(p or "(move 0 0)", 16) for p in progs])
    out = beam_propose(model, tok, img, img[::-1], progs, beam=4)
    assert len(out) == 2
    for p, scripts in zip(progs, out):
        assert scripts and len({tuple(s) for s in scripts}) == len(scripts)
        for s in scripts:
            apply_edits(tok.tokens(p) if p else [], s)      # raises EditError when malformed
