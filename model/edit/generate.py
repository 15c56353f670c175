"""Decoding edit scripts from the model: batched greedy decoding, temperature sampling, beam search.

Decoding is constrained so every script is well formed for its A (see `model.edit.edits`): positions
never decrease, nothing follows a delete/substitute at the same position, deletes/substitutes point
at a token of A and inserts at a token or the end.

    scripts = propose(model, tokenizer, images_a, images_b, programs_a, n=8, temperature=1.0)
    a = tokenizer.tokens(programs_a[0])            # the edits index these tokens
    texts = [" ".join(apply_edits(a, s)) for s in scripts[0]]
    best = beam_propose(model, tokenizer, images_a, images_b, programs_a, beam=8)   # most likely first

All three encode A and the images once and then run the decoder one step at a time on cached keys
and values (`EditModel.start_cache` / `decode_step`), sharing the set-up below (`Decoding`,
`action_mask`, `position_ok`, `split_actions`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .edits import Edit, apply_edits
from .encoding import decode_script, encode_program
from .grammar import RowScript, ScriptGrammar, step_mask_ids
from .net import DEL, FIN, INS, SUB, EditModel
from ..transformer import unwrap
from ..tokenizer import Tokenizer, join


def _core_and_device(model, device) -> tuple[EditModel, torch.device]:
    core = unwrap(model)
    dev = torch.device(device) if device is not None else next(core.parameters()).device
    return core, dev


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


class Decoding:
    """Per-row decoder state shared by sampling and beam search: A's slots and masks, the memory mask
    and the decoder's key/value cache (rows are inputs, each repeated `repeat` times)."""

    def __init__(self, core: EditModel, images, a_ids, a_len, depth, repeat: int = 1):
        mem, mem_mask, slots, slot_ok = core.encode(images, a_ids, a_len, depth)
        keys = core.ptr_k(slots)    # the pointer's keys, once per input rather than once per step and row
        if repeat > 1:      # the memory is not repeated: the decoder's rows of one input share it
            slots, slot_ok, a_len, keys = (x.repeat_interleave(repeat, 0) for x in (slots, slot_ok, a_len, keys))
        self.core, self.mem_mask, self.slots, self.slot_ok, self.a_len = core, mem_mask, slots, slot_ok, a_len
        self.ptr_keys = keys
        self.caches = core.start_cache(mem)

    def step(self, t: int, types, toks, poss) -> torch.Tensor:
        """Decoder output (rows, d) at step t, given the edits already in columns 0..t-1."""
        core = self.core
        if t:
            x = core.step_input(self.slots, t, types[:, t - 1], toks[:, t - 1], poss[:, t - 1])
        else:
            x = core.step_input(self.slots, 0)
        return core.decode_step(x, self.caches, self.mem_mask)[:, -1]

    def reorder(self, rows: torch.Tensor) -> None:
        """Row i of the self-attention cache becomes old row rows[i] (beam search); the memory,
        slots and masks stay, since beams only move between rows of the same input."""
        for cache in self.caches:
            cache["k"], cache["v"] = cache["k"][rows], cache["v"][rows]


def position_ok(d: Decoding, min_pos: torch.Tensor, a_type: torch.Tensor) -> torch.Tensor:
    """Slots the chosen action may point at: a token (or the end, for INS) of A at or after min_pos.
    a_type is (rows,) or (rows, k); the mask is a_type's shape plus the slot axis."""
    extra = (1,) * (a_type.ndim - 1)
    a_len = d.a_len.view(-1, *extra)
    limit = torch.where(a_type == INS, a_len, a_len - 1)
    slot_idx = torch.arange(d.slots.shape[1], device=a_type.device)
    return (d.slot_ok.view(d.slot_ok.shape[0], *extra, -1) & (slot_idx >= min_pos.view(-1, *extra, 1))
            & (slot_idx <= limit[..., None]))


def next_min_pos(a_type: torch.Tensor, pos: torch.Tensor, min_pos: torch.Tensor) -> torch.Tensor:
    """The smallest position the next edit may use: an insert keeps its slot open, a delete or
    substitute consumes it, FIN / padding changes nothing."""
    return torch.where(a_type == INS, pos, torch.where(a_type > 0, pos + 1, min_pos))


class GrammarMasks:
    """The grammar's side of the masks (`model.edit.grammar`): one `RowScript` per decoding row, asked
    before each step which actions and positions keep the program grammatical. A step's masks are the mask
    id at each position (`RowScript.options`); which tokens an insert may write anywhere is then one small
    product (rows x masks present) @ (masks x tokens), never a (rows, positions, tokens) array."""

    _OPS = {INS: "insert", DEL: "delete", SUB: "substitute"}

    def __init__(self, grammar: ScriptGrammar, a_ids: torch.Tensor, a_len: torch.Tensor, repeat: int = 1):
        ids, lens = a_ids.cpu().numpy(), a_len.cpu().tolist()
        grammar.trim()
        base = [grammar.row(ids[b, :lens[b]].tolist()) for b in range(len(lens))]
        self.grammar = grammar
        self.rows: list[RowScript] = [r.copy() for r in base for _ in range(repeat)]
        self.length = ids.shape[1]
        self.before_end = np.arange(self.length)[None, :] < np.repeat(np.asarray(lens), repeat)[:, None]

    def step(self, C: int, dev) -> torch.Tensor:
        """The actions (rows, 2 + 2C) that would leave no grammatical way on; keeps this step's mask ids
        for `positions`."""
        mids, fin = step_mask_ids(self.rows, self.length)
        table = self.grammar.table(C)                     # (masks + 1, C); row -1 allows nothing
        B, M = len(self.rows), table.shape[0]
        sub_mids = np.where(self.before_end, mids, -1)
        r = np.arange(B)[:, None]
        present = np.zeros((B, M), np.float32)
        present[r, mids] = 1.0
        present_sub = np.zeros((B, M), np.float32)
        present_sub[r, sub_mids] = 1.0
        t = table.astype(np.float32)
        ins_ok, sub_ok = (present @ t) > 0, (present_sub @ t) > 0
        del_ok = (sub_mids >= 0).any(1)
        self._mids, self._sub_mids, self._table = mids, sub_mids, table
        allowed = np.concatenate([fin[:, None], del_ok[:, None], ins_ok, sub_ok], 1)
        return torch.from_numpy(~allowed).to(dev)

    def positions(self, a_type: torch.Tensor, a_tok: torch.Tensor) -> torch.Tensor:
        """Positions the chosen actions keep grammatical: a_type/a_tok (rows,) or (rows, k); FIN any."""
        ty, tk = a_type.cpu().numpy(), a_tok.cpu().numpy()
        squeeze = ty.ndim == 1
        if squeeze:
            ty, tk = ty[:, None], tk[:, None]
        mids, sub_mids, table = self._mids[:, None, :], self._sub_mids[:, None, :], self._table
        ins = table[mids, tk[..., None]]                 # (rows, k, slots)
        sub = table[sub_mids, tk[..., None]]
        dele = np.broadcast_to(sub_mids >= 0, ins.shape)
        out = np.where((ty == INS)[..., None], ins, np.where((ty == SUB)[..., None], sub,
                       np.where((ty == DEL)[..., None], dele, True)))
        out = torch.from_numpy(out).to(a_type.device)
        return out[:, 0] if squeeze else out

    def follow(self, rows: Sequence[int], types: Sequence[int], toks: Sequence[int], poss: Sequence[int]) -> None:
        """Row rows[j] took edit (types[j], toks[j], poss[j]); FIN and padding change nothing."""
        for r, ty, tk, ps in zip(rows, types, toks, poss):
            if ty in self._OPS:
                self.rows[r].apply(self._OPS[ty], tk, ps)

    def reorder(self, src: Sequence[int]) -> None:
        """Row i becomes a copy of old row src[i] (beam search)."""
        self.rows = [self.rows[s].copy() for s in src]
        self.before_end = self.before_end[np.asarray(src)]


def _forbid(mask: torch.Tensor, grammar_forbids: torch.Tensor) -> torch.Tensor:
    """The well-formedness mask and the grammar's together; a row left with nothing may only end (FIN: its
    program is finished by `ScriptGrammar.repair`)."""
    mask = mask | grammar_forbids
    stuck = mask.all(-1)
    mask[stuck, 0] = False
    return mask


@torch.no_grad()
def decode(model: EditModel, images: torch.Tensor, a_ids, a_len, depth, n: int = 1, temperature: float = 0.0,
           max_edits: int | None = None, generator: torch.Generator | None = None,
           grammar: ScriptGrammar | None = None):
    """Decode `n` scripts per input. Returns (type, tok, pos) int64 tensors (B*n, T), rows in input order
    (input i's scripts are rows i*n .. i*n+n-1); type FIN / -1 marks the end. With `grammar`, every step
    keeps the program grammatical (`GrammarMasks`)."""
    core = unwrap(model)
    core.eval()
    cfg = core.config
    max_edits = min(max_edits or cfg.max_edits, cfg.max_edits)
    d = Decoding(core, images, a_ids, a_len, depth, repeat=n)
    B, dev = d.slots.shape[0], d.slots.device
    C = cfg.vocab_capacity
    types = torch.full((B, max_edits + 1), -1, dtype=torch.int64, device=dev)
    toks = torch.zeros_like(types)
    poss = torch.zeros_like(types)
    min_pos = torch.zeros(B, dtype=torch.int64, device=dev)
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    neg = torch.finfo(torch.float32).min
    gm = GrammarMasks(grammar, a_ids, a_len, n) if grammar is not None else None
    for t in range(max_edits + 1):
        h = d.step(t, types, toks, poss)
        logits = core.action_logits(h).float()
        mask = action_mask(logits, min_pos, d.a_len, t == max_edits)
        if gm is not None:
            mask = _forbid(mask, gm.step(C, dev))
        act = _choose(logits.masked_fill(mask, neg), temperature, generator)
        a_type, a_tok = split_actions(act, C)
        pl = core.pointer_logits(h[:, None], d.slots, d.slot_ok, a_type[:, None], a_tok[:, None],
                                 d.ptr_keys)[:, 0].float()
        pos_ok = position_ok(d, min_pos, a_type)
        if gm is not None:
            pos_ok = pos_ok & gm.positions(a_type, a_tok)
        pos = _choose(pl.masked_fill(~pos_ok, neg), temperature, generator)
        pos = torch.where(a_type == FIN, 0, pos)
        a_type = torch.where(done, -1, a_type)
        types[:, t], toks[:, t], poss[:, t] = a_type, torch.where(done, 0, a_tok), torch.where(done, 0, pos)
        if gm is not None:
            gm.follow(range(B), types[:, t].tolist(), toks[:, t].tolist(), poss[:, t].tolist())
        min_pos = next_min_pos(a_type, pos, min_pos)
        done = done | (a_type == FIN)
        if bool(done.all()):
            break
    return types, toks, poss


def _choose(logits, temperature, generator):
    """Greedy, or a sample at `temperature` by the Gumbel-max trick (exact, and on CPU several times
    faster than softmax + multinomial, which dominated a decoding step)."""
    if temperature <= 0:
        return logits.argmax(-1)
    u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(min=1e-20)
    return (logits / temperature - torch.log(-torch.log(u))).argmax(-1)


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
            batch_size: int = 256, grammar: ScriptGrammar | None = None) -> list[list[list[Edit]]]:
    """For each input, `n` edit scripts turning program A into one that draws image B.

    images_a, images_b: uint8 (B, S, S) (any S; resized to the model's image size).
    programs_a: program text, `logo.Program`, a token list, or "" / None for the empty program.
    The edits index `tokenizer.tokens(program_a)` (the canonical tokens). temperature <= 0 decodes
    greedily (then the `n` scripts are identical; ask for n=1). Scripts may repeat when sampling. With
    `grammar` (`model.edit.grammar.ScriptGrammar`) every step is masked to keep the program grammatical.
    """
    core, dev = _core_and_device(model, device)
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
                            max_edits=max_edits, generator=gen, grammar=grammar)
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


# ---- beam search -----------------------------------------------------------------------------------

_INVALID = -1e30


@torch.no_grad()
def beam_search(model, tokenizer: Tokenizer, images_a, images_b, programs_a: Sequence, beam: int = 8,
                n: int | None = None, device=None, max_edits: int | None = None, action_top: int = 4,
                pos_top: int = 3, grammar: ScriptGrammar | None = None) -> list[list[tuple[float, list[Edit]]]]:
    """For each input, up to `n` (default `beam`) finished (log-probability, script), best first.

    Each decoder step emits an action then a position. A hypothesis is extended by its `action_top`
    most likely actions, each with its `pos_top` most likely positions, scored by summed
    log-probabilities; the `beam` best unfinished hypotheses per input go on, and one that emits FIN
    is finished. The constraints are those of `decode` (with `grammar`, grammatical ones too), so every
    script is well formed. Inputs whose
    A is too long or has unknown tokens get no scripts. Finished scripts may repeat.
    """
    core, dev = _core_and_device(model, device)
    core.eval()
    cfg = core.config
    n = n or beam
    max_edits = min(max_edits or cfg.max_edits, cfg.max_edits)
    programs_a = list(programs_a)
    B, W, C = len(programs_a), beam, cfg.vocab_capacity
    _, ids, deps, lens, ok = encode_programs(tokenizer, programs_a, cfg.max_tokens)
    images = torch.stack([_images_tensor(images_a, dev), _images_tensor(images_b, dev)], 1)
    d = Decoding(core, images, ids.to(dev), lens.to(dev), deps.to(dev), repeat=W)
    BW = B * W
    types = torch.full((BW, max_edits + 1), -1, dtype=torch.int64, device=dev)
    toks = torch.zeros_like(types)
    poss = torch.zeros_like(types)
    min_pos = torch.zeros(BW, dtype=torch.int64, device=dev)
    score = torch.full((BW,), float("-inf"), device=dev)
    score[::W] = 0.0                                   # one live hypothesis per input to start
    finished: list[list[tuple[float, list[Edit]]]] = [[] for _ in range(B)]
    neg = torch.finfo(torch.float32).min
    A = min(action_top, 2 + 2 * C)
    gm = GrammarMasks(grammar, ids, lens, W) if grammar is not None else None
    for t in range(max_edits + 1):
        if not bool(torch.isfinite(score).any()):
            break
        h = d.step(t, types, toks, poss)
        logits = core.action_logits(h).float()
        mask = action_mask(logits, min_pos, d.a_len, t == max_edits)
        if gm is not None:
            mask = _forbid(mask, gm.step(C, dev))
        lp_a = torch.log_softmax(logits.masked_fill(mask, neg), -1)
        top_lp_a, top_a = lp_a.topk(A, -1)                                          # (BW, A)
        a_type, a_tok = split_actions(top_a, C)
        pl = core.pointer_logits(h[:, None].expand(-1, A, -1), d.slots, d.slot_ok, a_type, a_tok, d.ptr_keys).float()
        pos_ok = position_ok(d, min_pos, a_type)
        if gm is not None:
            pos_ok = pos_ok & gm.positions(a_type, a_tok)
        lp_p = torch.log_softmax(pl.masked_fill(~pos_ok, neg), -1)
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
        new_rows, new_type, new_tok, new_pos, new_dst, new_score = [], [], [], [], [], []
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
                new_dst.append(b * W + kept)
                new_score.append(s)
                kept += 1
        if all(len(f) >= n for f in finished) or not new_rows:
            break
        src = torch.arange(BW, device=dev)
        dst = torch.tensor(new_dst, device=dev)
        src[dst] = torch.tensor(new_rows, device=dev)
        types, toks, poss, min_pos = types[src].clone(), toks[src].clone(), poss[src].clone(), min_pos[src].clone()
        d.reorder(src)
        if gm is not None:
            gm.reorder(src.tolist())
            gm.follow(new_dst, new_type, new_tok, new_pos)
        score = torch.full((BW,), float("-inf"), device=dev)
        score[dst] = torch.tensor(new_score, device=dev)
        ty_t = torch.tensor(new_type, device=dev)
        ps_t = torch.tensor(new_pos, device=dev)
        types[dst, t] = ty_t
        toks[dst, t] = torch.tensor(new_tok, device=dev)
        poss[dst, t] = ps_t
        min_pos[dst] = next_min_pos(ty_t, ps_t, min_pos[dst])
    return [sorted(f, key=lambda x: -x[0]) if ok[b] else [] for b, f in enumerate(finished)]


def beam_propose(model, tokenizer: Tokenizer, images_a, images_b, programs_a: Sequence, beam: int = 8,
                 n: int | None = None, device=None, max_edits: int | None = None, action_top: int = 4,
                 pos_top: int = 3, grammar: ScriptGrammar | None = None) -> list[list[list[Edit]]]:
    """For each input, up to `n` (default `beam`) distinct edit scripts by beam search, most likely first."""
    out = []
    for scored in beam_search(model, tokenizer, images_a, images_b, programs_a, beam, n, device, max_edits,
                              action_top, pos_top, grammar):
        seen, scripts = set(), []
        for _, script in scored:
            key = tuple(script)
            if key not in seen:
                seen.add(key)
                scripts.append(script)
        out.append(scripts)
    return out
