"""Beam-search decoding of edit scripts (the model package decodes greedily or by sampling).

Each decoder step of `model.network.EditModel` emits an action (FIN, DELETE, INSERT t, SUBSTITUTE t)
and then a position. A beam hypothesis is extended by the `action_top` most likely actions, each with
its `pos_top` most likely positions, scored by the summed log-probabilities; the `beam` best
unfinished hypotheses per input go on, and a hypothesis that emits FIN is finished. Decoding obeys the
same constraints as `model.generate.decode` (positions never decrease, nothing follows a delete or
substitute at one position, deletes/substitutes point at a token of A), so every script is well formed.
Returns, for each input, up to `n` distinct scripts, most likely first.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

_INVALID = -1e30


@torch.no_grad()
def beam_propose(model, tokenizer, images_a, images_b, programs_a: Sequence, beam: int = 8, n: int | None = None,
                 device=None, max_edits: int | None = None, action_top: int = 4, pos_top: int = 3):
    """For each input, up to `n` (default `beam`) edit scripts by beam search, most likely first."""
    from model.data import decode_script
    from model.generate import action_mask, encode_programs, split_actions
    from model.network import FIN, INS
    core = getattr(model, "_orig_mod", model)
    core.eval()
    cfg = core.config
    n = n or beam
    dev = torch.device(device) if device is not None else next(core.parameters()).device
    max_edits = min(max_edits or cfg.max_edits, cfg.max_edits)
    programs_a = list(programs_a)
    B, W, C = len(programs_a), beam, cfg.vocab_capacity
    _, ids, deps, lens, ok = encode_programs(tokenizer, programs_a, cfg.max_tokens)
    ia = torch.as_tensor(np.asarray(images_a), dtype=torch.uint8).to(dev)
    ib = torch.as_tensor(np.asarray(images_b), dtype=torch.uint8).to(dev)
    mem, mem_mask, slots, slot_ok = core.encode(torch.stack([ia, ib], 1), ids.to(dev), lens.to(dev), deps.to(dev))
    rep = lambda x: x.repeat_interleave(W, 0)  # noqa: E731
    mem, mem_mask, slots, slot_ok, a_len = (rep(x) for x in (mem, mem_mask, slots, slot_ok, lens.to(dev)))
    BW = B * W
    types = torch.full((BW, max_edits + 1), -1, dtype=torch.int64, device=dev)
    toks = torch.zeros_like(types)
    poss = torch.zeros_like(types)
    min_pos = torch.zeros(BW, dtype=torch.int64, device=dev)
    score = torch.full((BW,), float("-inf"), device=dev)
    score[::W] = 0.0                                   # one live hypothesis per input to start
    finished: list[list[tuple[float, tuple]]] = [[] for _ in range(B)]
    slot_idx = torch.arange(slots.shape[1], device=dev)
    neg = torch.finfo(torch.float32).min
    A = min(action_top, 2 + 2 * C)
    for t in range(max_edits + 1):
        live = torch.isfinite(score)
        if not bool(live.any()):
            break
        x = core.decoder_inputs(slots, torch.cat([types[:, :t], types[:, :1]], 1),
                                torch.cat([toks[:, :t], toks[:, :1]], 1), torch.cat([poss[:, :t], poss[:, :1]], 1))
        h = core.decode(x, mem, mem_mask)[:, -1]
        logits = core.action_logits(h).float()
        lp_a = torch.log_softmax(logits.masked_fill(action_mask(logits, min_pos, a_len, t == max_edits), neg), -1)
        top_lp_a, top_a = lp_a.topk(A, -1)                                          # (BW, A)
        a_type, a_tok = split_actions(top_a, C)
        limit = torch.where(a_type == INS, a_len[:, None], a_len[:, None] - 1)      # (BW, A)
        ok_pos = (slot_ok[:, None, :] & (slot_idx[None, None] >= min_pos[:, None, None])
                  & (slot_idx[None, None] <= limit[..., None]))                     # (BW, A, L+1)
        pl = core.pointer_logits(h[:, None].expand(-1, A, -1), slots, slot_ok, a_type, a_tok).float()
        lp_p = torch.log_softmax(pl.masked_fill(~ok_pos, neg), -1)
        P = min(pos_top, lp_p.shape[-1])
        top_lp_p, top_p = lp_p.topk(P, -1)                                          # (BW, A, P)
        # FIN has no position: count it once, with log-probability 0 for the position
        is_fin = (a_type == FIN)[..., None]
        first = torch.zeros(P, dtype=torch.bool, device=dev)
        first[0] = True
        top_lp_p = torch.where(is_fin, torch.where(first, 0.0, float("-inf")), top_lp_p)
        top_p = torch.where(is_fin, 0, top_p)
        bad = (top_lp_a < _INVALID)[..., None] | (top_lp_p < _INVALID)
        cand = score[:, None, None] + top_lp_a[..., None] + top_lp_p
        cand = cand.masked_fill(bad, float("-inf")).reshape(B, W * A * P)
        order = cand.argsort(-1, descending=True).cpu().numpy()
        cand_np = cand.cpu().numpy()
        at_np, ak_np, ap_np = a_type.cpu().numpy(), a_tok.cpu().numpy(), top_p.cpu().numpy()
        new_rows, new_type, new_tok, new_pos, new_score = [], [], [], [], []
        for b in range(B):
            kept = 0
            for flat in order[b]:
                s = float(cand_np[b, flat])
                if not np.isfinite(s) or kept >= W:
                    break
                w, rest = divmod(int(flat), A * P)
                ai, pi = divmod(rest, P)
                row = b * W + w
                ty = int(at_np[row, ai])
                if ty == FIN:
                    if len(finished[b]) < n:
                        finished[b].append((s, decode_script(tokenizer, types[row, :t].tolist(),
                                                             toks[row, :t].tolist(), poss[row, :t].tolist())))
                    continue
                new_rows.append(row)
                new_type.append(ty)
                new_tok.append(int(ak_np[row, ai]))
                new_pos.append(int(ap_np[row, ai, pi]))
                new_score.append((b * W + kept, s))
                kept += 1
        if all(len(f) >= n for f in finished) or not new_rows:
            break
        src = torch.arange(BW, device=dev)
        dst = torch.tensor([d for d, _ in new_score], device=dev)
        src[dst] = torch.tensor(new_rows, device=dev)
        types, toks, poss, min_pos = types[src].clone(), toks[src].clone(), poss[src].clone(), min_pos[src].clone()
        score = torch.full((BW,), float("-inf"), device=dev)
        score[dst] = torch.tensor([s for _, s in new_score], device=dev)
        ty_t = torch.tensor(new_type, device=dev)
        ps_t = torch.tensor(new_pos, device=dev)
        types[dst, t] = ty_t
        toks[dst, t] = torch.tensor(new_tok, device=dev)
        poss[dst, t] = ps_t
        min_pos[dst] = torch.where(ty_t == INS, ps_t, ps_t + 1)
    out = []
    for b in range(B):
        if not ok[b]:
            out.append([])
            continue
        seen, scripts = set(), []
        for s, script in sorted(finished[b], key=lambda x: -x[0]):
            key = tuple(script)
            if key not in seen:
                seen.add(key)
                scripts.append(script)
        out.append(scripts)
    return out

