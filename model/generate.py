"""Decoding edit scripts from the model: batched greedy decoding and temperature sampling.

Decoding is constrained so every script is well formed for its A (see `model.edits`): positions
never decrease, nothing follows a delete/substitute at the same position, deletes/substitutes point
at a token of A and inserts at a token or the end.

    scripts = propose(model, tokenizer, images_a, images_b, programs_a, n=8, temperature=1.0)
    a = tokenizer.tokens(programs_a[0])            # the edits index these tokens
    texts = [" ".join(apply_edits(a, s)) for s in scripts[0]]
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .encoding import decode_script, encode_program
from .edits import Edit, apply_edits
from .network import DEL, FIN, INS, SUB, EditModel
from .tokenizer import Tokenizer, join


def _device_of(model) -> torch.device:
    return next(model.parameters()).device


def encode_programs(tokenizer: Tokenizer, programs, max_tokens: int):
    """Programs (text, token lists, or None/"" for empty) -> (tokens, ids, depths, lengths, ok) tensors."""
    toks, ids, deps, lens, ok = [], [], [], [], []
    for p in programs:
        if isinstance(p, (list, tuple)):
            t = list(p)
        elif p is None or (isinstance(p, str) and not p.strip()):
            t = []
        else:
            t = tokenizer.tokens(p)
        enc = encode_program(tokenizer, t, max_tokens)
        ok.append(enc is not None)
        if enc is None:                     # too long or unknown tokens: decode from the empty program
            enc = encode_program(tokenizer, [], max_tokens)
        toks.append(t)
        ids.append(enc[0])
        deps.append(enc[1])
        lens.append(enc[2])
    L = max(lens) + 1
    return (toks, torch.from_numpy(np.stack(ids)[:, :L].astype(np.int64)),
            torch.from_numpy(np.stack(deps)[:, :L].astype(np.int64)), torch.tensor(lens, dtype=torch.int64), ok)


@torch.no_grad()
def decode(model: EditModel, images: torch.Tensor, a_ids, a_len, depth, n: int = 1, temperature: float = 0.0,
           max_edits: int | None = None, generator: torch.Generator | None = None):
    """Decode `n` scripts per input. Returns (type, tok, pos) int64 tensors (B*n, T), rows in input order
    (input i's scripts are rows i*n .. i*n+n-1); type FIN / -1 marks the end."""
    model.eval()
    core = getattr(model, "_orig_mod", model)
    cfg = core.config
    max_edits = min(max_edits or cfg.max_edits, cfg.max_edits)
    mem, mem_mask, slots, slot_ok = core.encode(images, a_ids, a_len, depth)
    if n > 1:
        mem, mem_mask, slots, slot_ok, a_len = (x.repeat_interleave(n, 0) for x in (mem, mem_mask, slots, slot_ok, a_len))
    B, dev = slots.shape[0], slots.device
    C = cfg.vocab_capacity
    types = torch.full((B, max_edits + 1), -1, dtype=torch.int64, device=dev)
    toks = torch.zeros_like(types)
    poss = torch.zeros_like(types)
    min_pos = torch.zeros(B, dtype=torch.int64, device=dev)
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    slot_idx = torch.arange(slots.shape[1], device=dev)
    neg = torch.finfo(torch.float32).min
    caches = core.start_cache(mem)
    for t in range(max_edits + 1):
        x = core.step_input(slots, t, types[:, t - 1], toks[:, t - 1], poss[:, t - 1]) if t else core.step_input(slots, 0)
        h = core.decode_step(x, caches, mem_mask)[:, -1]
        logits = core.action_logits(h).float()
        logits = logits.masked_fill(action_mask(logits, min_pos, a_len, t == max_edits), neg)
        act = _choose(logits, temperature, generator)
        a_type, a_tok = split_actions(act, C)
        limit = torch.where(a_type == INS, a_len, a_len - 1)
        ok_pos = slot_ok & (slot_idx[None] >= min_pos[:, None]) & (slot_idx[None] <= limit[:, None])
        pl = core.pointer_logits(h[:, None], slots, slot_ok, a_type[:, None], a_tok[:, None])[:, 0].float()
        pl = pl.masked_fill(~ok_pos, neg)
        pos = _choose(pl, temperature, generator)
        pos = torch.where(a_type == FIN, 0, pos)
        a_type = torch.where(done, -1, a_type)
        types[:, t], toks[:, t], poss[:, t] = a_type, torch.where(done, 0, a_tok), torch.where(done, 0, pos)
        min_pos = torch.where(a_type == INS, pos, torch.where(a_type > 0, pos + 1, min_pos))
        done = done | (a_type == FIN)
        if bool(done.all()):
            break
    return types, toks, poss


def _choose(logits, temperature, generator):
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, -1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def scripts_from(tokenizer: Tokenizer, types, toks, poss) -> list[list[Edit]]:
    return [decode_script(tokenizer, ty, tk, ps) for ty, tk, ps in zip(types.tolist(), toks.tolist(), poss.tolist())]


def action_mask(logits: torch.Tensor, min_pos: torch.Tensor, a_len: torch.Tensor, last: bool) -> torch.Tensor:
    """Actions that would make the script malformed: DEL / SUB need a token of A at or after min_pos;
    at the last step only FIN is left.  Action layout: FIN, DEL, INS t (C), SUB t (C)."""
    C = (logits.shape[-1] - 2) // 2
    no_tok = min_pos >= a_len
    mask = torch.zeros_like(logits, dtype=torch.bool)
    mask[:, 1] = no_tok
    mask[:, 2 + C:] = no_tok[:, None]
    if last:
        mask[:, 1:] = True
    return mask


def split_actions(act: torch.Tensor, C: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Action indices -> (edit type FIN/DEL/INS/SUB, token id; 0 where none)."""
    a_type = torch.where(act == 0, FIN, torch.where(act == 1, DEL, torch.where(act < 2 + C, INS, SUB)))
    a_tok = torch.where(act >= 2 + C, act - 2 - C, torch.where(act >= 2, act - 2, 0))
    return a_type, a_tok


def _images_tensor(images, dev) -> torch.Tensor:
    t = torch.as_tensor(np.ascontiguousarray(images), dtype=torch.uint8)
    if t.ndim == 2:
        t = t[None]
    return t.to(dev)


@torch.no_grad()
def propose(model: EditModel, tokenizer: Tokenizer, images_a, images_b, programs_a: Sequence, n: int = 1,
            temperature: float = 1.0, device=None, max_edits: int | None = None, seed: int | None = None,
            batch_size: int = 256) -> list[list[list[Edit]]]:
    """For each input, `n` edit scripts turning program A into one that draws image B.

    images_a, images_b: uint8 (B, S, S) (any S; resized to the model's image size).
    programs_a: program text, `logo.Program`, a token list, or "" / None for the empty program.
    The edits index `tokenizer.tokens(program_a)` (the canonical tokens). temperature <= 0 decodes
    greedily (then the `n` scripts are identical; ask for n=1). Scripts may repeat when sampling.
    """
    dev = torch.device(device) if device is not None else _device_of(model)
    core = getattr(model, "_orig_mod", model)
    cfg = core.config
    gen = None
    if seed is not None and temperature > 0:
        gen = torch.Generator(device=dev)
        gen.manual_seed(seed)
    ia, ib = _images_tensor(images_a, dev), _images_tensor(images_b, dev)
    out: list[list[list[Edit]]] = []
    programs_a = list(programs_a)
    per = max(1, batch_size // max(n, 1))
    for s in range(0, len(programs_a), per):
        toks, ids, deps, lens, ok = encode_programs(tokenizer, programs_a[s:s + per], cfg.max_tokens)
        images = torch.stack([ia[s:s + per], ib[s:s + per]], 1)
        ty, tk, ps = decode(core, images, ids.to(dev), lens.to(dev), deps.to(dev), n=n, temperature=temperature,
                            max_edits=max_edits, generator=gen)
        scripts = scripts_from(tokenizer, ty, tk, ps)
        for i in range(len(toks)):
            out.append(scripts[i * n:(i + 1) * n] if ok[i] else [[] for _ in range(n)])
    return out


def propose_programs(model, tokenizer, images_a, images_b, programs_a, n=1, temperature=1.0, device=None,
                     **kw) -> list[list[str]]:
    """Like `propose`, but returns the edited programs' texts (scripts applied; may not parse)."""
    scripts = propose(model, tokenizer, images_a, images_b, programs_a, n, temperature, device, **kw)
    out = []
    for p, ss in zip(programs_a, scripts):
        a = list(p) if isinstance(p, (list, tuple)) else ([] if not p else tokenizer.tokens(p))
        out.append([join(apply_edits(a, s)) for s in ss])
    return out
